"""RuntimeClass objects from manifests (``node.k8s.io/v1``) and the ``runtimeClassName`` of
manifest pod templates, admitted as upstream's RuntimeClass admission plugin does
(``plugin/pkg/admission/runtimeclass/admission.go``: ``setOverhead``, ``setScheduling``,
the rejections of ``prepareObjects`` / ``validateOverhead``), with the handler's sandbox
latency; bad input names the file, the document and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import deployment, write

from k8sim.config.loader import ScenarioError, validate_scenario
from k8sim.sim.simulation import Simulation


def kata(name: str = "kata", handler: str = "kata-qemu", **extra: object) -> dict:
    """kata-deploy's kata-qemu class (overhead 250m / 160Mi), on nodes labelled and
    tainted for Kata."""
    out = {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": name}, "handler": handler,
           "overhead": {"podFixed": {"cpu": "250m", "memory": "160Mi"}},
           "scheduling": {"nodeSelector": {"katacontainers.io/kata-runtime": "true"},
                          "tolerations": [{"key": "kata", "operator": "Exists", "effect": "NoSchedule"}]}}
    out.update(extra)
    return out


def web(replicas: int, runtime_class: str | None = "kata", **spec: object) -> dict:
    d = deployment(name="web", replicas=replicas, cpu="250m")
    if runtime_class is not None:
        d["spec"]["template"]["spec"]["runtimeClassName"] = runtime_class
    d["spec"]["template"]["spec"].update(spec)
    return d


def scenario(tmp: Path, manifest: Path, **more: object):
    # Two nodes of 2 CPUs: "kata-0" labelled katacontainers.io/kata-runtime=true and
    # tainted kata:NoSchedule, "plain-0" without. Pod start latency 2 s.
    data: dict = {
        "name": "rc", "seed": 1, "duration_s": 100,
        "cluster": {"node_pools": [
            {"name": "kata", "count": 1, "allocatable": {"cpu": "2", "memory": "8Gi"},
             "labels": {"katacontainers.io/kata-runtime": "true"},
             "taints": [{"key": "kata", "value": "", "effect": "NoSchedule"}]},
            {"name": "plain", "count": 1, "allocatable": {"cpu": "2", "memory": "8Gi"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 2}},
        "workloads": [{"manifest": str(manifest)}],
        **more,
    }
    return validate_scenario(data, source="test.yaml", base_dir=tmp)


def test_manifest_runtime_class_overhead_scheduling_and_sandbox(tmp_path):
    # Admission: each pod's overhead is the class's 250m, so a 250m pod takes 500m; the
    # class's nodeSelector and toleration send it to the (tainted) Kata node only. That
    # node's 2 CPUs hold 2000 / 500 = 4 pods: of 5 replicas, 4 run there and one stays
    # Pending (the plain node lacks the label). Each pod creates its sandbox first:
    # k8sim.io/sandbox-latency 3 s, then its start latency 2 s: Running at 5.
    rc = kata()
    rc["metadata"]["annotations"] = {"k8sim.io/sandbox-latency": "3"}
    m = write(tmp_path, "web.yaml", rc, web(5))
    r = Simulation(scenario(tmp_path, m)).run()
    pods = r.pods
    bound = pods[pods["node"].notna() & (pods["node"] != "")]
    assert len(bound) == 4 and set(bound["node"]) == {"kata-0"}
    assert (bound["running"] == 5.0).all()
    assert (pods["request_cpu_milli"] == 500).all() and (pods["request_memory_bytes"] == 64 * 2**20 + 160 * 2**20).all()
    assert (pods["phase"] == "Pending").sum() == 1
    sb = r.frames["sandboxes"]
    assert len(sb) == 4 and set(sb["runtime_class"]) == {"kata"} and set(sb["handler"]) == {"kata-qemu"}
    assert (sb["sandbox_s"] == 3.0).all()
    assert r.summary()["sandbox_s_mean_kata"].iloc[0] == 3.0


def test_handler_default_sandbox_latency_and_scenario_class(tmp_path):
    # A manifest pod may name a class of the scenario's runtimeClasses. gVisor's runsc
    # has no overhead here and a default sandbox time uniform on [0.081, 0.280] s
    # (k8sim.runtime.runtimeclass): Running within 2.081 .. 2.280.
    m = write(tmp_path, "web.yaml", web(2, runtime_class="gvisor"))
    sc = scenario(tmp_path, m, runtimeClasses=[{"name": "gvisor", "handler": "runsc"}])
    r = Simulation(sc).run()
    assert r.pods["running"].between(2.081, 2.280).all() and len(r.pods) == 2
    assert (r.pods["request_cpu_milli"] == 250).all()
    assert set(r.frames["sandboxes"]["handler"]) == {"runsc"}


def test_without_runtime_class_name_nothing_changes(tmp_path):
    # A class that no pod names changes nothing: pods Running at 2, requests their own.
    m = write(tmp_path, "web.yaml", kata(), web(2, runtime_class=None))
    r = Simulation(scenario(tmp_path, m)).run()
    assert r.pods["running"].tolist() == [2.0, 2.0] and (r.pods["request_cpu_milli"] == 250).all()


def _problems(tmp_path, *docs, **more) -> list[tuple[str, str]]:
    m = write(tmp_path, "bad.yaml", *docs)
    with pytest.raises(ScenarioError) as e:
        Simulation(scenario(tmp_path, m, **more))
    return e.value.problems


def test_admission_rejections_name_file_document_and_field(tmp_path):
    f = tmp_path / "bad.yaml"
    (path, msg), = _problems(tmp_path, kata(), web(1, runtime_class="nope"))
    assert path == "workloads[0].manifest"
    assert msg == (f"{f}: document[1].spec.template.spec.runtimeClassName: pod rejected: RuntimeClass 'nope' "
                   "not found (runtimeClasses: ['kata'])")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"runtimeClassName": "kata", "overhead": {"cpu": "100m"},
                    "containers": [{"name": "c", "image": "x:1"}]}}
    (_, msg), = _problems(tmp_path, kata(), pod)
    assert msg.startswith(f"{f}: document[1].spec.overhead: pod rejected: Pod's Overhead doesn't match "
                          "RuntimeClass's defined Overhead")
    (_, msg), = _problems(tmp_path, kata(), web(1, nodeSelector={"katacontainers.io/kata-runtime": "false"}))
    assert msg == (f"{f}: document[1].spec.template.spec.nodeSelector.katacontainers.io/kata-runtime: conflict: "
                   "runtimeClass.scheduling.nodeSelector[katacontainers.io/kata-runtime] = true; "
                   "pod.spec.nodeSelector[katacontainers.io/kata-runtime] = false")
    (path, msg), = _problems(tmp_path, kata(), web(1), runtimeClasses=[{"name": "kata", "handler": "runc"}])
    assert path == "workloads[0].manifest"
    assert msg == f"{f}: document[0].metadata.name: RuntimeClass 'kata' is defined twice (also runtimeClasses[0])"


def test_bad_runtime_class_objects(tmp_path):
    bad = kata(handler="Kata_QEMU", overhead={"podFixed": {"cpu": "-1"}})
    bad["metadata"]["annotations"] = {"k8sim.io/sandbox-latency": "-2", "k8sim.io/nope": "1"}
    problems = dict(_problems(tmp_path, bad, web(1)))
    assert "document[0].handler" in problems
    assert "document[0].overhead.podFixed.cpu" in problems
    assert "must be >= 0 seconds" in problems["document[0].metadata.annotations.k8sim.io/sandbox-latency"]
    assert "unknown k8sim annotation" in problems["document[0].metadata.annotations.k8sim.io/nope"]


def test_cli_exit_code_2(tmp_path):
    m = write(tmp_path, "web.yaml", web(1, runtime_class="nope"))
    sc = {"name": "rc", "duration_s": 10,
          "cluster": {"node_pools": [{"name": "p", "count": 1, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
          "workloads": [{"manifest": m.name}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    res = subprocess.run([sys.executable, "-m", "k8sim.cli", "run", str(path), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert "document[0].spec.template.spec.runtimeClassName: pod rejected: RuntimeClass 'nope' not found" in res.stderr
    assert "Traceback" not in res.stderr


def test_runtime_class_fields_read_and_unmodelled_warned(tmp_path):
    from k8sim.workloads.manifests import load_manifests

    ms = load_manifests(write(tmp_path, "rc.yaml", kata()))
    (rc, where), = ms.runtime_classes
    assert (rc.name, rc.handler, str(rc.overhead.pod_fixed["cpu"])) == ("kata", "kata-qemu", "1/4")
    assert rc.scheduling.node_selector == {"katacontainers.io/kata-runtime": "true"} and where.endswith("document[0]")
    assert ms.warnings == []
    ms = load_manifests(write(tmp_path, "rc.yaml", kata(foo={"bar": 1})))
    assert ms.warnings == ["1 RuntimeClass field foo is not modelled by k8sim (ignored) in: document[0]"]
