"""Reading `kubectl get nodes,pods -A -o yaml` output into a k8sim cluster.

tests/data/kube/cluster.yaml is hand-written (not captured from a cluster) following the
Kubernetes core/v1 API: three EKS-like nodes (two m5.xlarge, one tainted g4dn.xlarge),
four bound pods and one pending pod with a nodeSelector and a GPU-taint toleration.
Every expected number below is derived by hand from that file. Pod requests follow
upstream resource.PodRequests (k8s.io/component-helpers/resource/helpers.go).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from k8sim import ScenarioError
from k8sim.cluster import ops
from k8sim.scheduling.explain import ExplainError, explain_pod
from k8sim.sim.snapshot import build_snapshot
from k8sim.workloads.kube_objects import load_kube_objects

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "kube" / "cluster.yaml"
A = "ip-10-0-1-23.eu-west-1.compute.internal"
B = "ip-10-0-2-47.eu-west-1.compute.internal"
C = "ip-10-0-3-88.eu-west-1.compute.internal"
PENDING = "ml/batch-infer-6c9f8d7b4-wx4tz"
Ki, Mi, Gi = 1024, 1024**2, 1024**3


@pytest.fixture(scope="module")
def objs():
    return load_kube_objects(FIXTURE)


@pytest.fixture(scope="module")
def cluster(objs):
    return build_snapshot(objs)


def test_nodes(objs):
    nodes = {n.name: n for n in objs.nodes}
    assert list(nodes) == [A, B, C]
    a, c = nodes[A], nodes[C]
    assert a.allocatable["cpu"] == Fraction(3920, 1000)
    assert a.allocatable["memory"] == 15136380 * Ki
    assert a.allocatable["pods"] == 58 and a.allocatable["hugepages-2Mi"] == 0
    assert c.allocatable["nvidia.com/gpu"] == 1 and c.allocatable["memory"] == 15454208 * Ki
    assert a.labels["topology.kubernetes.io/zone"] == "eu-west-1a"
    assert a.taints == [] and c.taints == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "value": "true"}]
    assert not any(n.unschedulable for n in objs.nodes)
    assert len(a.images) == 5
    assert a.images[1] == (("docker.io/istio/proxyv2@sha256:6a3c4f1e2d5b7a9c0e8f1d2c3b4a5e6f7d8c9b0a1e2f3d4c5b6a7e8f9d0c1b2a",
                            "docker.io/istio/proxyv2:1.22.1"), 98714260)


def test_pod_requests_bound_and_pending(objs):
    pods = {p.key: p for p in objs.pods}
    assert [p.key for p in objs.bound()] == [
        "kube-system/kube-proxy-7xk2p", "kube-system/coredns-5d78c9869d-qx5vb",
        "shop/checkout-6f7d8b9c5-2kq9d", "ml/trainer-0",
    ]
    assert [p.key for p in objs.pending()] == [PENDING]
    # kube-proxy: one container, cpu 100m, no memory request.
    assert pods["kube-system/kube-proxy-7xk2p"].requests == {"cpu": Fraction(1, 10)}
    # checkout: containers app (2, 2Gi) + istio-proxy (100m, 128Mi) = 2100m, 2176Mi;
    # init istio-init (100m, 128Mi) is below that sum, so the max rule changes nothing.
    assert pods["shop/checkout-6f7d8b9c5-2kq9d"].requests == {"cpu": Fraction(21, 10), "memory": 2176 * Mi}
    # trainer: container (1, 6Gi, 1 gpu); init fetch-model (1500m, 10Gi) -> per resource
    # max(1, 1.5) = 1.5 cpu, max(6Gi, 10Gi) = 10Gi, gpu 1 (init asks for none).
    assert pods["ml/trainer-0"].requests == {"cpu": Fraction(3, 2), "memory": 10 * Gi, "nvidia.com/gpu": 1}
    assert pods["ml/trainer-0"].node_name == C
    p = pods[PENDING]
    assert not p.bound and p.requests == {"cpu": 2, "memory": 4 * Gi}
    assert p.node_selector == {"kubernetes.io/arch": "amd64"}
    assert p.tolerations[0] == {"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}
    assert len(p.tolerations) == 3 and p.priority == 0 and p.scheduler_name == "default-scheduler"
    assert p.image == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/ml/batch-infer:2024.06.11"
    assert pods["kube-system/kube-proxy-7xk2p"].priority == 2000001000


def test_warnings(objs):
    # Every field of the fixture's pods is either read or one no scheduling plugin reads
    # (args, probes, env, ...), and the three namespaces are modelled: nothing to warn about.
    assert objs.warnings == []


def test_bound_pods_keep_what_plugins_read(cluster):
    """A bound pod keeps namespace, labels, pod (anti-)affinity terms, priority,
    per-container requests and images (upstream's plugins read them of existing pods)."""
    state = cluster.state
    by_name = {state.pods.names[p]: state.shapes[int(state.pods.shape[p])] for p in range(state.pods.n)}
    coredns = by_name["kube-system/coredns-5d78c9869d-qx5vb"]
    assert coredns.namespace == "kube-system"
    term = coredns.affinity.pod_anti_affinity.preferred[0]
    assert term.weight == 100 and term.pod_affinity_term.topology_key == "kubernetes.io/hostname"
    assert coredns.image_names == ("602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/coredns:v1.11.1-eksbuild.9",)
    assert by_name["kube-system/kube-proxy-7xk2p"].priority == 2000001000
    # checkout: app (2, 2Gi) + istio-proxy (100m, 128Mi) and init istio-init (100m, 128Mi):
    # every container names cpu and memory, so no non-zero default is added anywhere.
    checkout = by_name["shop/checkout-6f7d8b9c5-2kq9d"]
    assert checkout.namespace == "shop" and checkout.nonzero.tolist() == [2100, 2176 * Mi]


def test_built_state(cluster):
    state = cluster.state
    nodes = state.nodes
    r = state.resources.index
    a, b, c = (nodes.name_index[x] for x in (A, B, C))
    # A: kube-proxy 100m + coredns 100m/70Mi + checkout 2100m/2176Mi = 2300m, 2246Mi.
    assert nodes.requested[r["cpu"], a] == 2300 and nodes.requested[r["memory"], a] == 2246 * Mi
    # Scoring's non-zero memory adds 200Mi for kube-proxy, which requests none.
    assert nodes.nonzero_requested[1, a] == 2246 * Mi + 200 * Mi
    assert nodes.requested[r["pods"], a] == 3
    assert nodes.requested[:, b].sum() == 0
    assert nodes.requested[r["cpu"], c] == 1500 and nodes.requested[r["memory"], c] == 10 * Gi
    assert nodes.requested[r["nvidia.com/gpu"], c] == 1
    assert nodes.alloc[r["memory"], a] == 15136380 * Ki and nodes.alloc[r["nvidia.com/gpu"], a] == 0
    assert nodes.label_code("topology.kubernetes.io/zone", "eu-west-1c") == nodes.labels["topology.kubernetes.io/zone"][c]
    assert [t.key for t in nodes.node_taints(c)] == ["nvidia.com/gpu"]
    ops.check_invariants(state)
    assert state.pods.n == 4  # bound pods only; the pending pod is not created (not run)

    key, shape = cluster.pending_pod("batch-infer-6c9f8d7b4-wx4tz")
    assert key == PENDING
    assert shape.requests[r["cpu"]] == 2000 and shape.requests[r["memory"]] == 4 * Gi
    assert shape.node_selector == {"kubernetes.io/arch": "amd64"}
    assert [t.key for t in shape.tolerations] == ["nvidia.com/gpu", "node.kubernetes.io/not-ready",
                                                 "node.kubernetes.io/unreachable"]


def test_explain_the_pending_pod(cluster):
    key, shape = cluster.pending_pod(PENDING)
    exp = explain_pod(cluster.state, cluster.simulation.profiles["default-scheduler"], shape, key)
    # A: free cpu 3920-2300 = 1620m < 2000m -> NodeResourcesFit (memory fits).
    assert exp.rejected_by == ["NodeResourcesFit", None, None]
    assert exp.reasons[0] == "Insufficient cpu"
    assert exp.message == "2/3 nodes are available: 1 Insufficient cpu."
    fit = next(s for s in exp.scores if s.name == "NodeResourcesFit")
    # LeastAllocated (B empty; C holds 1500m / 10Gi), memory in bytes:
    # B: cpu (3920-2000)*100/3920 = 48; mem (15499653120-4294967296)*100/15499653120 = 72 -> (48+72)/2 = 60
    # C: cpu (3920-3500)*100/3920 = 10; mem (15825108992-15032385536)*100/15825108992 = 5 -> (10+5)/2 = 7
    assert fit.raw.tolist() == [60, 7]
    tt = next(s for s in exp.scores if s.name == "TaintToleration")
    assert tt.normalized.tolist() == [100, 100]  # no PreferNoSchedule taint anywhere
    assert exp.chosen == B


def test_pending_pod_lookup_errors(cluster):
    with pytest.raises(ExplainError, match="'ml/trainer-0' is bound to node 'ip-10-0-3-88"):
        cluster.pending_pod("trainer-0")
    with pytest.raises(ExplainError, match="no pod named 'web'"):
        cluster.pending_pod("web")


LIST = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: n1, labels: {kubernetes.io/hostname: n1}}
  spec: {unschedulable: true}
  status: {allocatable: {cpu: "8", memory: 32Gi, pods: "110"}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_init_containers_sidecars_overhead_and_pod_level_resources(tmp_path):
    pod = """\
- apiVersion: v1
  kind: Pod
  metadata: {name: p, namespace: default}
  spec:
    overhead: {cpu: 50m, memory: 32Mi}
    containers:
    - {name: a, resources: {requests: {cpu: 500m, memory: 1Gi}}}
    - {name: b, resources: {requests: {cpu: 250m}}}
    initContainers:
    - {name: side1, restartPolicy: Always, resources: {requests: {cpu: 100m, memory: 64Mi}}}
    - {name: init1, resources: {requests: {cpu: "1", memory: 512Mi}}}
    - {name: side2, restartPolicy: Always, resources: {requests: {cpu: 200m, memory: 128Mi}}}
    - {name: init2, resources: {requests: {cpu: 300m, memory: 3Gi}}}
  status: {phase: Pending}
"""
    objs = load_kube_objects(write(tmp_path, LIST + pod))
    # containers: 750m, 1Gi. side1 adds to them (850m, 1088Mi) and to the sidecar sum (100m, 64Mi).
    # init1 needs its own + sidecars so far: 1100m, 576Mi. side2: sum (1050m, 1216Mi),
    # sidecars (300m, 192Mi). init2 needs 600m, 3264Mi. Max of init needs: 1100m, 3264Mi.
    # Pod: max(1050m, 1100m) = 1100m, max(1216Mi, 3264Mi) = 3264Mi; + overhead -> 1150m, 3296Mi.
    assert objs.pods[0].requests == {"cpu": Fraction(115, 100), "memory": 3296 * Mi}
    # Pod-level requests replace cpu (before the overhead is added): 2 + 50m.
    pod_level = pod.replace("overhead:", "resources: {requests: {cpu: \"2\"}}\n    overhead:")
    objs = load_kube_objects(write(tmp_path, LIST + pod_level))
    assert objs.pods[0].requests == {"cpu": Fraction(205, 100), "memory": 3296 * Mi}


def test_container_requests_are_summed_exactly(tmp_path):
    """Container quantities are summed exactly and rounded up to base units once, as
    upstream PodRequests (Quantity.Add, then MilliValue): 0.5m + 0.5m = 1m, not 2m."""
    pod = """\
- apiVersion: v1
  kind: Pod
  metadata: {name: tiny, namespace: default}
  spec:
    containers:
    - {name: a, resources: {requests: {cpu: 500u}}}
    - {name: b, resources: {requests: {cpu: 500u, memory: "0"}}}
  status: {phase: Pending}
"""
    cluster = build_snapshot(load_kube_objects(write(tmp_path, LIST + pod)))
    _, shape = cluster.pending_pod("tiny")
    # cpu 500u + 500u = 1m exactly. memory: b names 0 (explicit zero), a names none, so the
    # scorer's non-zero memory is a's 200Mi default only: 200Mi + 0.
    assert shape.requests[0] == 1 and shape.requests[1] == 0
    assert shape.nonzero.tolist() == [1, 200 * Mi]


def test_skips_and_cordon(tmp_path):
    extra = """\
- apiVersion: v1
  kind: Pod
  metadata: {name: done, namespace: jobs}
  spec: {nodeName: n1, containers: [{name: c, resources: {requests: {cpu: "4"}}}]}
  status: {phase: Succeeded}
- apiVersion: v1
  kind: Pod
  metadata: {name: orphan, namespace: jobs}
  spec: {nodeName: gone, containers: [{name: c}]}
  status: {phase: Running}
- apiVersion: v1
  kind: Service
  metadata: {name: web}
- apiVersion: v1
  kind: Pod
  metadata: {name: want, namespace: jobs}
  spec:
    containers: [{name: c, resources: {requests: {cpu: "1"}}, ports: [{name: http, containerPort: 80, hostPort: 8080}]}]
    affinity:
      podAntiAffinity:
        requiredDuringSchedulingIgnoredDuringExecution:
        - labelSelector: {matchLabels: {app: want}}
          topologyKey: kubernetes.io/hostname
          namespaces: [jobs]
  status: {phase: Pending}
"""
    objs = load_kube_objects(write(tmp_path, LIST + extra))
    assert [p.key for p in objs.pods] == ["jobs/want"]  # Succeeded and orphaned pods skipped
    text = "\n".join(objs.warnings)
    assert "phase Succeeded/Failed skipped" in text and "jobs/done" in text
    assert "bound pod(s) on nodes not in the file, skipped: jobs/orphan on gone" in text
    assert "1 item(s) of kind Service ignored" in text
    # namespaces is modelled: the term is kept whole.
    want = objs.pods[0]
    assert want.affinity["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0] == {
        "labelSelector": {"matchLabels": {"app": "want"}}, "topologyKey": "kubernetes.io/hostname",
        "namespaces": ["jobs"]}
    assert want.ports == [{"containerPort": 80, "hostPort": 8080}]
    cluster = build_snapshot(objs)
    assert cluster.state.nodes.unschedulable.tolist() == [True]  # spec.unschedulable -> cordoned
    _, shape = cluster.pending_pod("want")
    assert shape.host_ports == (("TCP", "0.0.0.0", 8080),)
    assert shape.affinity.pod_anti_affinity.required[0].topology_key == "kubernetes.io/hostname"


def test_pod_of_another_scheduler_is_left_out(tmp_path):
    pod = """\
- apiVersion: v1
  kind: Pod
  metadata: {name: v, namespace: default}
  spec: {schedulerName: volcano, containers: [{name: c}]}
  status: {phase: Pending}
"""
    cluster = build_snapshot(load_kube_objects(write(tmp_path, LIST + pod)))
    with pytest.raises(ExplainError, match="schedulerName 'volcano', which no scheduler profile has"):
        cluster.pending_pod("v")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("apiVersion: apps/v1\nkind: Deployment\n", "expected apiVersion v1 and kind List"),
        ("items: [\n", "YAML syntax error"),
        (LIST.replace("cpu: \"8\"", "cpu: \"-8\""), "items[0].status.allocatable.cpu: must be >= 0"),
        (LIST.replace("memory: 32Gi, ", ""), "items[0].status.allocatable: missing memory"),
        (LIST + "- {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {tolerations: "
                "[{key: k, operator: Exists, value: v}]}}\n",
         "items[1].spec.tolerations[0]: a toleration with operator Exists must not set a value"),
        (LIST + "- {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: "
                "[{name: c, resources: {requests: {cpu: lots}}}]}}\n",
         "items[1].spec.containers[0].resources.requests.cpu: expected a Kubernetes quantity"),
    ],
)
def test_bad_objects(tmp_path, text, fragment):
    with pytest.raises(ScenarioError) as info:
        load_kube_objects(write(tmp_path, text))
    assert fragment in str(info.value)


def test_build_errors_name_the_item(tmp_path):
    # A pending pod that k8sim's scenario model rejects (two containers of one name) is
    # reported against the file's item, not the converted scenario.
    pod = """\
- apiVersion: v1
  kind: Pod
  metadata: {name: twin, namespace: default}
  spec: {containers: [{name: c}, {name: c}]}
  status: {phase: Pending}
"""
    with pytest.raises(ScenarioError) as info:
        build_snapshot(load_kube_objects(write(tmp_path, LIST + pod)))
    assert "items[1] (Pod default/twin): template: container names must be unique" in str(info.value)


def test_overcommitted_node_is_accepted_with_a_warning(tmp_path):
    """Real clusters have nodes whose bound pods exceed allocatable (static pods admitted
    by the kubelet, a node resized since); kube-scheduler accounts for them as they are
    (NodeInfo.Requested is the plain sum), so explain must too."""
    pod = """\
- apiVersion: v1
  kind: Pod
  metadata: {name: hog, namespace: default}
  spec: {nodeName: n1, containers: [{name: c, resources: {requests: {cpu: "9"}}}]}
  status: {phase: Running}
"""
    objs = load_kube_objects(write(tmp_path, LIST + pod))
    cluster = build_snapshot(objs)
    nodes = cluster.state.nodes
    # 9 cpu on an 8-cpu node: requested 9000m, free -1000m (no pod fits until it leaves).
    assert nodes.requested[0, 0] == 9000 and nodes.free[0, 0] == -1000
    ops.check_invariants(cluster.state)  # overcommit allowed: requested >= 0 only
    assert any("node 'n1': its bound pods exceed its allocatable (cpu)" in w for w in objs.warnings)
