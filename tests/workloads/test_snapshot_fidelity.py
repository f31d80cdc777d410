"""Real cluster snapshots: what the scheduler reads of bound pods, namespaces, node images
and labels survives ``kubectl get -o yaml`` -> k8sim.

Each case is a hand-built snapshot (Node, Pod, Namespace objects as the API serves them)
whose answer turns on one field, explained with the default profile. Upstream sources:
plugins/interpodaffinity/filtering.go (``satisfyExistingPodsAntiAffinity``,
``satisfyPodAffinity``), scoring.go (``processExistingPod``), plugins/nodeports
(``fitsPorts``) with framework ``HostPortInfo.CheckConflict``, framework types.go
(``AffinityTerm.Matches``, ``getNamespacesFromPodAffinityTerm``),
plugins/podtopologyspread/common.go (``countPodsMatchSelector``: same namespace only),
plugins/imagelocality/image_locality.go (``sumImageScores``, ``scaledImageScore``,
``calculatePriority``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from k8sim.scheduling.explain import explain_pod
from k8sim.sim.snapshot import build_snapshot
from k8sim.workloads.kube_objects import load_kube_objects

Mi = 2**20
HOST = "kubernetes.io/hostname"


def node(name: str, labels: dict[str, str] | None = None, images: list | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
    if images:
        status["images"] = [{"names": names, "sizeBytes": size} for names, size in images]
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {HOST: name} if labels is None else labels}, "status": status}


def pod(name: str, *, ns: str = "default", node_name: str | None = None, labels: dict[str, str] | None = None,
        affinity: dict | None = None, ports: list | None = None, image: str | None = None,
        init_image: str | None = None, spread: list | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
    if image:
        container["image"] = image
    if ports:
        container["ports"] = ports
    spec: dict[str, Any] = {"containers": [container]}
    if init_image:
        spec["initContainers"] = [{"name": "init", "image": init_image}]
    if node_name:
        spec["nodeName"] = node_name
    if affinity:
        spec["affinity"] = affinity
    if spread:
        spec["topologySpreadConstraints"] = spread
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
            "spec": spec, "status": {"phase": "Running" if node_name else "Pending"}}


def explain(tmp_path: Path, items: list[dict], name: str):
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}), encoding="utf-8")
    objs = load_kube_objects(path)
    cluster = build_snapshot(objs)
    key, shape = cluster.pending_pod(name)
    exp = explain_pod(cluster.state, cluster.simulation.profiles["default-scheduler"], shape, key)
    fate = {n: (exp.rejected_by[i], exp.reasons[i]) for i, n in enumerate(exp.nodes)}
    scores = {ps.name: ({exp.nodes[int(n)]: (int(ps.raw[k]), int(ps.normalized[k]))
                         for k, n in enumerate(exp.feasible)} if not ps.skipped else None)
              for ps in exp.scores}
    return objs, fate, scores


def term(labels: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": HOST, **extra}


def test_bound_pods_required_anti_affinity_rejects_the_node(tmp_path):
    # guard (bound on n1) repels pods labelled app=web from its hostname domain:
    # satisfyExistingPodsAntiAffinity counts (hostname, n1) = 1 for the incoming web pod.
    guard = pod("guard", node_name="n1", labels={"app": "guard"},
                affinity={"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "web"})]}})
    _, fate, _ = explain(tmp_path, [node("n1"), node("n2"), guard, pod("web", labels={"app": "web"})], "web")
    assert fate["n1"] == ("InterPodAffinity", "node(s) didn't satisfy existing pods anti-affinity rules")
    assert fate["n2"] == (None, None)


def test_bound_pods_preferred_anti_affinity_lowers_the_score(tmp_path):
    # shy (bound on n2) has a preferred anti-affinity term of weight 30 selecting app=web:
    # processExistingPod adds -30 to topologyScore[hostname][n2]. Raw: n1 0, n2 -30, n3 0.
    # NormalizeScore: min -30, max 0 -> int(100 * (s + 30) / 30): n1 100, n2 0, n3 100.
    shy = pod("shy", node_name="n2", labels={"app": "shy"},
              affinity={"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                  {"weight": 30, "podAffinityTerm": term({"app": "web"})}]}})
    items = [node("n1"), node("n2"), node("n3"), shy, pod("web", labels={"app": "web"})]
    _, _, scores = explain(tmp_path, items, "web")
    assert scores["InterPodAffinity"] == {"n1": (0, 100), "n2": (-30, 0), "n3": (0, 100)}


def test_bound_pods_required_affinity_attracts_by_symmetry(tmp_path):
    # fan (bound on n2) requires app=web pods in its zone. Upstream's score symmetry
    # (processExistingPod: an existing pod's required affinity term that matches the
    # incoming pod adds hardPodAffinityWeight, default 1) gives zone z2 +1: raw n1 0,
    # n2 1, n3 1 (n3 shares z2). NormalizeScore: min 0, max 1 -> 0, 100, 100.
    zone = "topology.kubernetes.io/zone"
    fan = pod("fan", node_name="n2", labels={"app": "fan"},
              affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                  {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": zone}]}})
    items = [node("n1", labels={HOST: "n1", zone: "z1"}), node("n2", labels={HOST: "n2", zone: "z2"}),
             node("n3", labels={HOST: "n3", zone: "z2"}), fan, pod("web", labels={"app": "web"})]
    _, _, scores = explain(tmp_path, items, "web")
    assert scores["InterPodAffinity"] == {"n1": (0, 0), "n2": (1, 100), "n3": (1, 100)}


def test_bound_host_port_on_one_ip_conflicts_with_any_ip(tmp_path):
    # proxy (bound on n1) uses 443/TCP on 10.0.0.5; dns (bound on n2) 443/UDP. The incoming
    # pod wants 443/TCP on any IP (hostIP empty = 0.0.0.0): CheckConflict with 0.0.0.0
    # checks every IP's (TCP, 443), so n1 conflicts; UDP on n2 does not.
    proxy = pod("proxy", node_name="n1",
                ports=[{"containerPort": 8443, "hostPort": 443, "protocol": "TCP", "hostIP": "10.0.0.5"}])
    dns = pod("dns", node_name="n2", ports=[{"containerPort": 53, "hostPort": 443, "protocol": "UDP"}])
    web = pod("web", ports=[{"containerPort": 443, "hostPort": 443}])
    _, fate, _ = explain(tmp_path, [node("n1"), node("n2"), proxy, dns, web], "web")
    assert fate["n1"] == ("NodePorts", "node(s) didn't have free ports for the requested pod ports")
    assert fate["n2"] == (None, None)


def test_sidecar_host_ports_count(tmp_path):
    # A bound pod's sidecar (init container with restartPolicy Always) holds 9000/TCP for
    # the pod's whole life: upstream's GetHostPorts includes it. A regular init
    # container's 9100 does not count (it has exited).
    agent = pod("agent", node_name="n1")
    agent["spec"]["initContainers"] = [
        {"name": "side", "restartPolicy": "Always", "ports": [{"containerPort": 9000, "hostPort": 9000}]},
        {"name": "setup", "ports": [{"containerPort": 9100, "hostPort": 9100}]},
    ]
    for port, rejected in ((9000, True), (9100, False)):
        web = pod("web", ports=[{"containerPort": port, "hostPort": port}])
        _, fate, _ = explain(tmp_path, [node("n1"), agent, web], "web")
        assert (fate["n1"][0] == "NodePorts") is rejected


def _cache_pods() -> list[dict]:
    # One app=cache pod per namespace: team-a's on n1, team-b's on n2.
    return [pod("cache", ns="team-a", node_name="n1", labels={"app": "cache"}),
            pod("cache", ns="team-b", node_name="n2", labels={"app": "cache"})]


def _affine(**extra: Any) -> dict:
    return {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term({"app": "cache"}, **extra)]}}


def test_affinity_term_matches_only_its_own_namespace(tmp_path):
    # api (team-b) needs an app=cache pod on its node. With neither namespaces nor
    # namespaceSelector the term covers team-b only (getNamespacesFromPodAffinityTerm), so
    # team-a's cache on n1 does not count: n1 fails satisfyPodAffinity, n2 passes.
    items = [node("n1"), node("n2"), *_cache_pods(), pod("api", ns="team-b", affinity=_affine())]
    objs, fate, _ = explain(tmp_path, items, "team-b/api")
    assert fate["n1"] == ("InterPodAffinity", "node(s) didn't match pod affinity rules")
    assert fate["n2"] == (None, None)
    assert objs.warnings == []


def test_affinity_term_with_namespaces_and_namespace_selector(tmp_path):
    # namespaces: [team-a] -> only team-a's cache counts: n1 passes, n2 fails.
    items = [node("n1"), node("n2"), *_cache_pods(), pod("api", ns="team-b", affinity=_affine(namespaces=["team-a"]))]
    _, fate, _ = explain(tmp_path, items, "team-b/api")
    assert fate["n1"] == (None, None) and fate["n2"][0] == "InterPodAffinity"
    # namespaceSelector tier=backend: the Namespace object labels team-a so (team-b has no
    # such label) -> the same answer, from the namespace's labels.
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a", "labels": {"tier": "backend"}}},
                  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-b"}}]
    api = pod("api", ns="team-b", affinity=_affine(namespaceSelector={"matchLabels": {"tier": "backend"}}))
    _, fate, _ = explain(tmp_path, [node("n1"), node("n2"), *namespaces, *_cache_pods(), api], "team-b/api")
    assert fate["n1"] == (None, None) and fate["n2"][0] == "InterPodAffinity"
    # Every namespace carries kubernetes.io/metadata.name: selecting team-b by it.
    api = pod("api", ns="team-a", affinity=_affine(
        namespaceSelector={"matchLabels": {"kubernetes.io/metadata.name": "team-b"}}))
    _, fate, _ = explain(tmp_path, [node("n1"), node("n2"), *_cache_pods(), api], "team-a/api")
    assert fate["n2"] == (None, None) and fate["n1"][0] == "InterPodAffinity"


def test_topology_spread_counts_only_its_namespace(tmp_path):
    # Two app=cache pods of team-a on n1, one of team-b on n2; the incoming team-b pod
    # (app=cache, so selfMatch 1) spreads with maxSkew 1 over hostname. Counted per
    # countPodsMatchSelector (team-b only): n1 0, n2 1, n3 0 -> min 0.
    # n1: 0 + 1 - 0 = 1 <= 1 passes; n2: 1 + 1 - 0 = 2 > 1 fails; n3 passes.
    # (Counting every namespace, n1 would have 2 and fail too.)
    spread = [{"maxSkew": 1, "topologyKey": HOST, "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "cache"}}}]
    items = [node("n1"), node("n2"), node("n3"),
             pod("cache-1", ns="team-a", node_name="n1", labels={"app": "cache"}),
             pod("cache-2", ns="team-a", node_name="n1", labels={"app": "cache"}),
             pod("cache", ns="team-b", node_name="n2", labels={"app": "cache"}),
             pod("new", ns="team-b", labels={"app": "cache"}, spread=spread)]
    _, fate, _ = explain(tmp_path, items, "team-b/new")
    assert fate["n1"] == (None, None) and fate["n3"] == (None, None)
    assert fate["n2"] == ("PodTopologySpread", "node(s) didn't match pod topology spread constraints")


def test_image_locality_from_node_status_images(tmp_path):
    # status.images: app:1.0 (300Mi = 314572800 bytes) on n1 and n2; busybox (4Mi =
    # 4194304 bytes, listed as busybox:latest among its names) on n1 only; n3 has none.
    # The pod: init container "busybox" (normalised busybox:latest), main app:1.0 -> 2
    # containers, maxThreshold 2 * 1000Mi = 2097152000, minThreshold 23Mi = 24117248.
    # scaledImageScore = int(size * numNodes / totalNumNodes), 3 nodes:
    #   app: int(314572800 * 2/3) = 209715200; busybox: int(4194304 * 1/3) = 1398101.
    # n1: 100 * (211113301 - 24117248) // 2073034752 = 9 (9.02)
    # n2: 100 * (209715200 - 24117248) // 2073034752 = 8 (8.95)
    # n3: sum 0 -> clamped to minThreshold -> 0.
    app = (["registry.example/app@sha256:0123", "registry.example/app:1.0"], 314572800)
    busybox = (["docker.io/library/busybox@sha256:4567", "busybox:latest"], 4194304)
    items = [node("n1", images=[app, busybox]), node("n2", images=[app]), node("n3"),
             pod("web", image="registry.example/app:1.0", init_image="busybox")]
    _, _, scores = explain(tmp_path, items, "web")
    assert scores["ImageLocality"] == {"n1": (9, 9), "n2": (8, 8), "n3": (0, 0)}


def test_nodes_keep_exactly_their_labels(tmp_path):
    # n2's object has no kubernetes.io/hostname label, and k8sim adds none: a DoNotSchedule
    # constraint on hostname then fails there with "missing required label", as upstream.
    spread = [{"maxSkew": 1, "topologyKey": HOST, "whenUnsatisfiable": "DoNotSchedule",
               "labelSelector": {"matchLabels": {"app": "web"}}}]
    items = [node("n1"), node("n2", labels={"zone": "z"}), pod("web", labels={"app": "web"}, spread=spread)]
    _, fate, _ = explain(tmp_path, items, "web")
    assert fate["n2"] == ("PodTopologySpread",
                          "node(s) didn't match pod topology spread constraints (missing required label)")
    assert fate["n1"] == (None, None)


def test_unmodelled_fields_are_warned_once_by_name(tmp_path):
    a = pod("a", node_name="n1")
    b = pod("b")
    for p in (a, b):
        p["spec"]["futureField"] = {"x": 1}
        p["spec"]["containers"][0]["futureKnob"] = True
        p["spec"]["dnsPolicy"] = "ClusterFirst"  # read by no scheduling plugin: silent
    objs, _, _ = explain(tmp_path, [node("n1"), a, b], "b")
    text = "\n".join(objs.warnings)
    assert "2 pod field(s) k8sim does not model, ignored: spec.futureField: default/a, default/b" in text
    assert "containers[*].futureKnob" in text
    assert "dnsPolicy" not in text
    assert len(objs.warnings) == 2, text
