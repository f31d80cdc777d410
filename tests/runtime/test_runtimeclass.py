"""RuntimeClass: overhead in scheduling and accounting (PodOverhead), the class's
scheduling constraints, the handler filter, sandbox start latency, bad input.

Upstream: ``plugin/pkg/admission/runtimeclass/admission.go`` (``setOverhead``,
``setScheduling``, ``prepareObjects``, ``validateOverhead``) and
``k8s.io/component-helpers/resource/helpers.go`` (``PodRequests`` adds
``spec.overhead``). Every expected number is derived by hand in a comment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from k8sim import Simulation, validate_scenario
from k8sim.cli import app
from k8sim.config.loader import ScenarioError

GIB = 2**30
MIB = 2**20

GVISOR = {"name": "gvisor", "handler": "runsc"}


def data(nodes: list[dict], template: dict, classes: list[dict], times: list[float] | None = None,
         duration: float = 100.0, **top: Any) -> dict[str, Any]:
    return {
        "seed": 1,
        "cluster": {"nodes": nodes},
        "runtimeClasses": classes,
        "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": times or [0.0]},
                       "duration": {"kind": "constant", "value": duration}, "template": template}],
        **top,
    }


def node(name: str, cpu: str, memory: str = "4Gi", **extra: Any) -> dict[str, Any]:
    return {"name": name, "allocatable": {"cpu": cpu, "memory": memory}, **extra}


def run(d: dict) -> Any:
    return Simulation(validate_scenario(d)).run()


KATA = {"name": "kata", "handler": "kata-qemu", "overhead": {"podFixed": {"cpu": "250m", "memory": "160Mi"}}}


# ---------------------------------------------------------------- overhead (PodOverhead)


@pytest.mark.parametrize(("cpu", "memory", "fits"), [
    # requests 1 cpu / 1Gi + overhead 250m / 160Mi = 1250m / 1184Mi.
    ("1250m", "1184Mi", True),    # exactly requests + overhead
    ("1249m", "1184Mi", False),   # 1m short of cpu
    ("1250m", "1183Mi", False),   # 1Mi short of memory
    ("1", "1Gi", False),          # the requests alone would fit: the overhead does not
])
def test_a_pod_with_overhead_fits_exactly_where_requests_plus_overhead_fit(cpu: str, memory: str, fits: bool) -> None:
    r = run(data([node("n", cpu, memory)], {"requests": {"cpu": "1", "memory": "1Gi"}, "runtimeClassName": "kata"},
                 [KATA], duration_s=50))
    pod = r.pods.iloc[0]
    assert (pod["node"] == "n") is fits
    assert bool(pod["unschedulable"]) is not fits
    # The overhead counts in the pod's requests (the pod table) ...
    assert pod["request_cpu_milli"] == 1250
    assert pod["request_memory_bytes"] == GIB + 160 * MIB
    # ... and in the node's requested resources while it runs (accounting).
    if fits:
        assert r.nodes.iloc[0]["requested_at_end_cpu_milli"] == 1250
        assert r.nodes.iloc[0]["requested_at_end_memory_bytes"] == GIB + 160 * MIB


def test_without_the_class_the_same_pod_fits_the_smaller_node() -> None:
    # Control for the case above: 1 cpu / 1Gi on a 1-cpu / 1Gi node fits exactly.
    r = run(data([node("n", "1", "1Gi")], {"requests": {"cpu": "1", "memory": "1Gi"}}, [KATA], duration_s=50))
    assert r.pods.iloc[0]["node"] == "n"
    assert r.pods.iloc[0]["request_cpu_milli"] == 1000


def test_overhead_packs_fewer_pods_per_node() -> None:
    # A 5-cpu node: pods of 1 cpu + 250m overhead take 1250m each, so 4 fit (5000 / 1250)
    # and the 5th waits; without overhead all 5 fit (5 x 1000 = 5000).
    with_rc = run(data([node("n", "5", "64Gi")], {"requests": {"cpu": "1"}, "runtimeClassName": "kata"}, [KATA],
                       times=[0, 0, 0, 0, 0], duration_s=50))
    without = run(data([node("n", "5", "64Gi")], {"requests": {"cpu": "1"}}, [KATA],
                       times=[0, 0, 0, 0, 0], duration_s=50))
    assert (with_rc.pods["node"] == "n").sum() == 4
    assert (without.pods["node"] == "n").sum() == 5


# ---------------------------------------------------------------- scheduling constraints


def test_the_class_node_selector_and_tolerations_are_merged_into_the_pod() -> None:
    # The class selects nodes labelled sandbox=gvisor, which are tainted; its toleration
    # lets the pods on. Pods of the class all land on "sb"; the taint keeps them off
    # nothing else, and the plain node is never chosen although it is emptier.
    rc = {**GVISOR, "scheduling": {
        "nodeSelector": {"sandbox": "gvisor"},
        "tolerations": [{"key": "sandbox", "operator": "Equal", "value": "gvisor", "effect": "NoSchedule"}]}}
    nodes = [node("plain", "64", "64Gi"),
             node("sb", "64", "64Gi", labels={"sandbox": "gvisor"},
                  taints=[{"key": "sandbox", "value": "gvisor", "effect": "NoSchedule"}])]
    r = run(data(nodes, {"requests": {"cpu": "1"}, "runtimeClassName": "gvisor"}, [rc], times=[0, 1, 2, 3]))
    assert (r.pods["node"] == "sb").all()
    # Without the class's toleration the taint keeps them off "sb" and the selector off
    # "plain": every pod stays Pending.
    rc_no_tol = {**GVISOR, "scheduling": {"nodeSelector": {"sandbox": "gvisor"}}}
    r = run(data(nodes, {"requests": {"cpu": "1"}, "runtimeClassName": "gvisor"}, [rc_no_tol], times=[0, 1],
                 duration_s=50))
    assert r.pods["unschedulable"].all()


def test_a_class_whose_handler_no_node_has_is_unschedulable_with_a_reason_naming_it() -> None:
    nodes = [node("a", "8", runtime_handlers=["runc"]), node("b", "8", runtime_handlers=["runc", "runsc"])]
    r = run(data(nodes, {"requests": {"cpu": "1"}, "runtimeClassName": "kata"}, [KATA], duration_s=50))
    assert bool(r.pods.iloc[0]["unschedulable"])
    assert ("runtimeClasses: 'kata': no node has its handler 'kata-qemu' (runtime_handlers); its pods stay Pending "
            "unless such nodes join") in r.provenance["warnings"]
    failed = r.events[r.events["kind"] == "FailedScheduling"]["detail"].iloc[0]
    assert "node(s) didn't have the pod's runtime handler 'kata-qemu'" in failed
    assert "2 node(s)" in failed  # both nodes lack it
    # The gVisor class runs on "b", the only node with runsc.
    r = run(data(nodes, {"requests": {"cpu": "1"}, "runtimeClassName": "gvisor"}, [GVISOR], times=[0, 1, 2]))
    assert (r.pods["node"] == "b").all()


def test_nodes_that_declare_no_handlers_take_any_class() -> None:
    r = run(data([node("a", "8")], {"requests": {"cpu": "1"}, "runtimeClassName": "kata"}, [KATA]))
    assert r.pods.iloc[0]["node"] == "a"


# ---------------------------------------------------------------- sandbox start latency


def test_sandbox_latency_is_added_to_the_start_per_handler() -> None:
    # start_latency 1 s for every pod; the sandbox comes first:
    #   runc default 0.02 s -> running 1.02 s after binding,
    #   kata-qemu default 0.5 s -> 1.5 s, a class's own constant 0.3 s -> 1.3 s,
    #   no class -> 1.0 s (nothing added).
    classes = [{"name": "plain", "handler": "runc"}, KATA,
               {"name": "own", "handler": "runsc", "sandbox_latency": {"kind": "constant", "value": 0.3}}]
    d = {"seed": 1, "cluster": {"nodes": [node("n", "64", "64Gi")]}, "runtimeClasses": classes, "workloads": [
        {"name": name, "arrival": {"kind": "times", "times_s": [0.0]}, "duration": {"kind": "constant", "value": 10},
         "template": {"requests": {"cpu": "1"}, "start_latency": {"kind": "constant", "value": 1.0},
                      **({"runtimeClassName": name} if name != "none" else {})}}
        for name in ("plain", "kata", "own", "none")]}
    r = run(d)
    startup = dict(zip(r.pods["workload"], r.pods["running"] - r.pods["scheduled"], strict=True))
    assert startup == pytest.approx({"plain": 1.02, "kata": 1.5, "own": 1.3, "none": 1.0}, abs=1e-12)
    sandboxes = r.frames["sandboxes"].set_index("runtime_class")["sandbox_s"].to_dict()
    assert sandboxes == pytest.approx({"plain": 0.02, "kata": 0.5, "own": 0.3})
    # The pod table carries it too (NaN for the pod without a class).
    sandbox_col = dict(zip(r.pods["workload"], r.pods["sandbox_s"], strict=True))
    assert sandbox_col["kata"] == pytest.approx(0.5) and np.isnan(sandbox_col["none"])


def test_gvisor_default_is_drawn_from_the_published_range_and_is_reproducible() -> None:
    d = data([node("n", "64", "64Gi")], {"requests": {"cpu": "100m"}, "runtimeClassName": "gvisor"}, [GVISOR],
             times=[float(i) for i in range(40)])
    a, b = run(d), run(d)
    s = a.frames["sandboxes"]["sandbox_s"]
    assert ((s >= 0.081) & (s <= 0.280)).all()  # runsc create + start: 81-280 ms
    assert s.nunique() == 40  # drawn per pod, not one constant
    assert a.frames["sandboxes"].equals(b.frames["sandboxes"])
    assert (a.pods["running"] - a.pods["scheduled"]).to_numpy() == pytest.approx(s.to_numpy(), abs=1e-12)


def test_sandbox_draws_do_not_depend_on_the_scheduling_policy() -> None:
    # Common random numbers: the i-th pod's sandbox time is the same under two profiles.
    base = data([node("a", "8", "64Gi"), node("b", "8", "64Gi")],
                {"requests": {"cpu": "1"}, "runtimeClassName": "gvisor"}, [GVISOR], times=[0, 1, 2, 3, 4, 5])
    spread = run({**base, "scheduler": {"profiles": [{"schedulerName": "default-scheduler", "preset": "spread"}]}})
    pack = run({**base, "scheduler": {"profiles": [{"schedulerName": "default-scheduler", "preset": "binpack"}]}})
    assert spread.frames["sandboxes"]["sandbox_s"].tolist() == pack.frames["sandboxes"]["sandbox_s"].tolist()
    assert spread.pods["node"].tolist() != pack.pods["node"].tolist()


# ---------------------------------------------------------------- bad input


def _problem(d: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        validate_scenario(d, source="s.yaml")
    return str(info.value)


@pytest.mark.parametrize(("template", "classes", "expected"), [
    ({"runtimeClassName": "nope"}, [GVISOR],
     "workloads[0].template.runtimeClassName: pod rejected: RuntimeClass 'nope' not found"),
    ({"runtimeClassName": "kata", "overhead": {"cpu": "100m"}}, [KATA],
     "workloads[0].template.overhead: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead"),
    ({"runtimeClassName": "gvisor", "overhead": {"cpu": "100m"}}, [GVISOR],
     "workloads[0].template.overhead: pod rejected: Pod Overhead set without corresponding RuntimeClass"),
    ({"runtimeClassName": "gvisor", "nodeSelector": {"sandbox": "kata"}},
     [{**GVISOR, "scheduling": {"nodeSelector": {"sandbox": "gvisor"}}}],
     "workloads[0].template.nodeSelector.sandbox: conflict: runtimeClass.scheduling.nodeSelector[sandbox] = gvisor; "
     "pod.spec.nodeSelector[sandbox] = kata"),
    ({}, [GVISOR, GVISOR], "runtimeClasses must have distinct names, repeated: ['gvisor']"),
    ({}, [{"name": "neg", "handler": "runc", "overhead": {"podFixed": {"memory": "-1Mi"}}}],
     "runtimeClasses[0].overhead.podFixed.memory"),
    ({}, [{"name": "bad", "handler": "Not_A_Label"}], "runtimeClasses[0].handler"),
])
def test_bad_runtime_class_input_names_the_field(template: dict, classes: list, expected: str) -> None:
    msg = _problem(data([node("n", "4")], {"requests": {"cpu": "1"}, **template}, classes))
    assert expected in msg
    assert msg.startswith("s.yaml: ")


def test_a_matching_overhead_given_on_the_pod_is_accepted() -> None:
    # setOverhead accepts a pod overhead semantically equal to podFixed (0.25 = 250m).
    sc = validate_scenario(data([node("n", "4")], {"requests": {"cpu": "1"}, "runtimeClassName": "kata",
                                                    "overhead": {"cpu": "0.25", "memory": "160Mi"}}, [KATA]))
    assert sc.workloads[0].template.runtime_class_name == "kata"


def test_cli_exits_2_on_a_missing_runtime_class(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(data([node("n", "4")], {"requests": {"cpu": "1"}, "runtimeClassName": "nope"},
                                     [GVISOR])))
    result = CliRunner().invoke(app, ["validate", str(f)])
    assert result.exit_code == 2
    assert "runtimeClassName: pod rejected: RuntimeClass 'nope' not found" in result.output
    assert "Traceback" not in result.output


def test_template_hash_ignores_the_new_fields_while_unset() -> None:
    # Controllers name pods by a hash of the template: adding runtimeClassName / volumes
    # to the schema must not rename the pods of templates that do not use them.
    from k8sim.config.pods import PodTemplate
    from k8sim.workloads.manifests import dumps_template

    plain = PodTemplate.model_validate({"requests": {"cpu": "1"}})
    text = dumps_template(plain)
    assert "runtimeClassName" not in text and "volumes" not in text
    with_class = PodTemplate.model_validate({"requests": {"cpu": "1"}, "runtimeClassName": "gvisor"})
    assert '"runtimeClassName": "gvisor"' in dumps_template(with_class)
