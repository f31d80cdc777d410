"""Kubernetes manifests as workload input: kinds, Lists, directories, defaults, knobs,
unmodelled-field warnings and bad input (file, document index and field path)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from helpers import deployment, scenario, write

from k8sim.config.loader import ScenarioError
from k8sim.sim.simulation import Simulation
from k8sim.workloads.manifests import load_manifests, register_kind


def test_multi_document_file_kinds_and_defaults(tmp_path):
    pc = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "high"}, "value": 1000}
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    d = deployment(name="web")
    d["metadata"]["namespace"] = "shop"
    d["spec"]["template"]["spec"]["priorityClassName"] = "high"
    # requests default to limits (SetDefaults_Pod): 250m cpu from the limit.
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "250m", "memory": "1Gi"}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "solo"},
           "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": "1"}}}]}}
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "extra", "labels": {"disk": "ssd"}},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi"}}}
    m = write(tmp_path, "all.yaml", pc, ns, d, pod, node)
    ms = load_manifests(m)
    assert [o.kind for o in ms.objects] == ["Deployment", "Pod"]
    web = ms.objects[0]
    assert web.namespace == "shop" and web.template.priority == 1000 and web.priority_class == "high"
    assert str(web.template.containers[0].requests["cpu"]) == "1/4"
    assert web.template.namespace == "shop"
    # Defaults of pkg/apis/apps/v1/defaults.go.
    assert (web.max_surge, web.max_unavailable, web.revision_history_limit, web.progress_deadline_s) == (
        "25%", "25%", 10, 600.0)
    assert ms.namespaces == ["shop"] and [n.name for n in ms.nodes] == ["extra"]
    r = Simulation(scenario(tmp_path, m, duration=30)).run()
    assert set(r.pods["owner"]) == {"", "shop/web-" + r.frames["replicasets"]["template_hash"].iloc[0]}
    assert "extra" in set(r.nodes["node"])
    assert (r.pods["pod"] == "solo").sum() == 1


def test_kubectl_list_and_directory(tmp_path):
    lst = {"apiVersion": "v1", "kind": "List", "items": [deployment(name="a"), deployment(name="b")]}
    d = tmp_path / "dir"
    d.mkdir()
    write(d, "1.yaml", lst)
    write(d, "2.yml", deployment(name="c"))
    (d / "notes.txt").write_text("ignored")
    ms = load_manifests(d)
    assert [o.name for o in ms.objects] == ["a", "b", "c"]


def test_annotations_set_knobs(tmp_path):
    d = deployment(replicas=2)
    d["spec"]["template"]["metadata"]["annotations"] = {
        "k8sim.io/start-latency": "7", "k8sim.io/duration": "{kind: constant, value: 40}"}
    m = write(tmp_path, "web.yaml", d)
    r = Simulation(scenario(tmp_path, m, duration=60)).run()
    first = r.pods.iloc[0]
    assert (first["running"], first["finished"]) == (7.0, 47.0)
    # The ReplicaSet replaced both completed pods at 47 (cause Completed).
    assert r.frames["recreations"]["cause"].tolist() == ["Completed", "Completed"]


def test_runtime_annotations_are_honoured_per_object(tmp_path):
    # Two Deployments in one manifest workload whose entry sets readiness_delay 3 s. The
    # first keeps it: Ready at Running (2) + 3 = 5. The second overrides it with
    # k8sim.io/readiness-delay 7 (Ready at 9) and crashes 10 s after each start
    # (k8sim.io/crash): with restartPolicy Always it crashes at 12 and restarts at once
    # (CrashLoopBackOff's first restart has no back-off; a restart pays the pod's 2 s start
    # latency), crashes again at 14 + 10 = 24, and the next restart waits 10 s (34, after
    # the run's end): exactly 1 restart; the first Deployment's pod has none.
    a = deployment(name="a", replicas=1)
    b = deployment(name="b", replicas=1)
    b["spec"]["template"]["metadata"]["annotations"] = {
        "k8sim.io/readiness-delay": "7", "k8sim.io/crash": "{probability: 1.0, after: 10}"}
    m = write(tmp_path, "two.yaml", a, b)
    r = Simulation(scenario(tmp_path, m, duration=30, workload={
        "template": {"readiness_delay": {"kind": "constant", "value": 3}}})).run()
    pods = r.pods.set_index(r.pods["owner"].str.split("-").str[0])
    assert (pods.loc["a", "running"], pods.loc["a", "ready"]) == (2.0, 5.0)
    assert (pods.loc["b", "running"], pods.loc["b", "ready"]) == (2.0, 9.0)
    assert pods.loc["a", "restarts"] == 0 and pods.loc["b", "restarts"] == 1


def test_runtime_annotations_need_no_runtime_section(tmp_path):
    # No workload entry asks for a runtime model: the object's own annotation is enough
    # (Ready at Running 2 + 4 = 6); a bad crash model is an error naming the field.
    d = deployment(name="a", replicas=1)
    d["spec"]["template"]["metadata"]["annotations"] = {"k8sim.io/readiness-delay": "4"}
    m = write(tmp_path, "a.yaml", d)
    r = Simulation(scenario(tmp_path, m, duration=20)).run()
    assert r.pods["ready"].tolist() == [6.0]
    d["spec"]["template"]["metadata"]["annotations"] = {"k8sim.io/crash": "{probability: 2}",
                                                        "k8sim.io/exit-code": "300"}
    m = write(tmp_path, "a.yaml", d)
    with pytest.raises(ScenarioError) as e:
        Simulation(scenario(tmp_path, m, duration=20))
    text = str(e.value)
    assert "document[0].spec.template.metadata.annotations.k8sim.io/crash: expected a crash model" in text
    assert "k8sim.io/exit-code: expected an exit code in 1..255" in text


def test_unmodelled_fields_warned_once_by_name(tmp_path):
    d = deployment(replicas=1)
    c = d["spec"]["template"]["spec"]["containers"][0]
    c["livenessProbe"] = {"httpGet": {"path": "/", "port": 80}}
    c["env"] = [{"name": "A", "value": "1"}]
    d2 = deployment(name="other", replicas=1)
    d2["spec"]["template"]["spec"]["containers"][0]["livenessProbe"] = {"exec": {"command": ["true"]}}
    ms = load_manifests(write(tmp_path, "web.yaml", d, d2))
    probe = [w for w in ms.warnings if "livenessProbe" in w]
    assert len(probe) == 1 and "2 Deployment field spec.template.spec.containers[*].livenessProbe" in probe[0]
    assert any("containers[*].env" in w for w in ms.warnings)


def _errors(tmp_path, *docs) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as e:
        load_manifests(write(tmp_path, "bad.yaml", *docs))
    assert e.value.source.endswith("bad.yaml")
    return e.value.problems


def test_selector_not_matching_template(tmp_path):
    d = deployment()
    d["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    assert _errors(tmp_path, d)[0][0] == "document[0].spec.selector"


def test_invalid_label_selector(tmp_path):
    d = deployment()
    d["spec"]["selector"] = {"matchExpressions": [{"key": "app", "operator": "In"}]}
    path, msg = _errors(tmp_path, deployment(name="ok"), d)[0]
    assert path == "document[1].spec.selector.matchExpressions[0]" and "needs at least one value" in msg


def test_unsupported_kinds(tmp_path):
    job = {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "q"}}  # not modelled yet
    crd = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}
    problems = _errors(tmp_path, job, svc, crd)
    assert [p for p, _ in problems] == ["document[0].kind", "document[2].kind"]
    assert "not supported yet" in problems[0][1] and "unsupported kind" in problems[1][1]


def test_wrong_api_version_and_bad_values(tmp_path):
    d = deployment()
    d["apiVersion"] = "extensions/v1beta1"
    d2 = deployment(name="b", strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})
    problems = dict(_errors(tmp_path, d, d2))
    assert "read as apiVersion apps/v1" in problems["document[0].apiVersion"]
    assert "may not be 0" in problems["document[1].spec.strategy.rollingUpdate"]


def test_kind_handler_registry_rejects_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        register_kind("apps/v1", "Deployment", lambda doc, out, prio: None)


@pytest.mark.slow
def test_cli_exit_code_2(tmp_path):
    d = deployment()
    d["spec"]["selector"] = {"matchLabels": {"app": "x"}}
    m = write(tmp_path, "bad.yaml", d)
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump({"duration_s": 10, "cluster": {"node_pools": [
        {"name": "n", "count": 1, "allocatable": {"cpu": "1", "memory": "1Gi"}}]}, "workloads": [{"manifest": m.name}]}))
    out = subprocess.run([sys.executable, "-m", "k8sim.cli", "run", str(sc)], capture_output=True, text=True)
    assert out.returncode == 2
    assert "bad.yaml: document[0].spec.selector" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_per_container_requests_namespace_and_preemption_policy(tmp_path):
    # Two containers, one without requests: the pod requests 200m (PodRequests sums what
    # the containers name), and scores as 200m + 100m, upstream's per-container non-zero
    # default for the container that names no cpu (pod_resources). The PriorityClass's
    # preemptionPolicy Never reaches the pods' shape.
    pc = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "batch"},
          "value": 10, "preemptionPolicy": "Never"}
    d = deployment(replicas=1)
    d["metadata"]["namespace"] = "team"
    spec = d["spec"]["template"]["spec"]
    spec["priorityClassName"] = "batch"
    spec["containers"] = [{"name": "a", "image": "a:1", "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}}},
                          {"name": "b", "image": "b:1"}]
    m = write(tmp_path, "web.yaml", pc, d)
    s = Simulation(scenario(tmp_path, m, duration=10))
    s.run()
    info = s.state.shapes[int(s.state.pods.shape[0])]
    cpu = s.state.resources.index["cpu"]
    assert info.requests[cpu] == 200
    assert info.nonzero[0] == 300
    assert info.namespace == "team" and info.priority == 10 and info.preemption_policy == "Never"
