"""NodeResourcesFit args read from a KubeSchedulerConfiguration: defaulted and validated
exactly as upstream.

Upstream: ``SetDefaults_NodeResourcesFitArgs`` (pkg/scheduler/apis/config/v1/defaults.go;
its cases in defaults_test.go ``TestPluginArgsDefaults`` "NodeResourcesFitArgs not set" /
"NodeResourcesFitArgs Resources empty") and ``ValidateNodeResourcesFitArgs`` /
``validateResources`` (pkg/scheduler/apis/config/validation/validation_pluginargs.go).
Defaulting runs before validation, so a weight of 0 in a file is 1, never an error; a
``scoringStrategy`` given without ``type`` is not defaulted and fails validation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim import ScenarioError
from k8sim.rng import Streams
from k8sim.scheduling.kubeconfig import load_kube_scheduler_configuration

HEAD = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"


def fit_plugin(tmp_path: Path, args: str):
    path = tmp_path / "config.yaml"
    path.write_text(HEAD + "profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: " + args + "\n")
    cfg = load_kube_scheduler_configuration(path)
    profile = cfg.build_profiles(Streams(0))["default-scheduler"]
    return next(p for p, _ in profile.scores if p.name == "NodeResourcesFit")


def fit_problems(tmp_path: Path, args: str) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as info:
        fit_plugin(tmp_path, args)
    return info.value.problems


@pytest.mark.parametrize(
    "args, strategy",
    [
        # "NodeResourcesFitArgs not set": no scoringStrategy -> LeastAllocated, cpu:1, memory:1.
        ("{}", "LeastAllocated"),
        # scoringStrategy: null is the same nil pointer.
        ("{scoringStrategy: null}", "LeastAllocated"),
        # "NodeResourcesFitArgs Resources empty": len(Resources) == 0 -> defaultResourceSpec.
        ("{scoringStrategy: {type: MostAllocated, resources: []}}", "MostAllocated"),
        # A null list has length 0 too.
        ("{scoringStrategy: {type: MostAllocated, resources: null}}", "MostAllocated"),
        ("{scoringStrategy: {type: MostAllocated}}", "MostAllocated"),
    ],
)
def test_empty_resources_become_cpu_and_memory(tmp_path, args, strategy):
    plugin = fit_plugin(tmp_path, args)
    assert plugin.strategy == strategy
    assert plugin.resources == (("cpu", 1), ("memory", 1))


def test_empty_resources_score_like_the_default(tmp_path):
    # With resources: [] k8sim used to score every node 0. Defaulted to cpu/memory:
    # node a 4 cpu, 8Gi; node b 8 cpu, 8Gi; pod 2 cpu, 4Gi; MostAllocated
    # a: cpu 2000*100/4000 = 50, mem 4Gi*100/8Gi = 50 -> (50+50)/2 = 50
    # b: cpu 2000*100/8000 = 25, mem 50 -> (25+50)/2 = 37 (truncated)
    plugin = fit_plugin(tmp_path, "{scoringStrategy: {type: MostAllocated, resources: []}}")
    state = make_state([node("a", cpu="4", memory="8Gi"), node("b", cpu="8", memory="8Gi")])
    pod = make_pod(state, {"cpu": "2", "memory": "4Gi"})
    assert plugin.score(state, pod, np.arange(2)).tolist() == [50, 37]


def test_weight_zero_or_missing_is_one(tmp_path):
    # SetDefaults_NodeResourcesFitArgs: "if ... Weight == 0 { Weight = 1 }" (a missing
    # weight is 0 in Go); the other weights are kept.
    plugin = fit_plugin(
        tmp_path,
        "{scoringStrategy: {type: LeastAllocated, resources: [{name: cpu, weight: 0}, {name: memory, weight: 3},"
        " {name: example.com/foo}]}}",
    )
    assert plugin.resources == (("cpu", 1), ("memory", 3), ("example.com/foo", 1))


@pytest.mark.parametrize(
    "args, path, fragment",
    [
        # validateResources: weight <= 0 or > 100 -> "resource weight of <name> not in valid range (0, 100]".
        ("{scoringStrategy: {type: LeastAllocated, resources: [{name: cpu, weight: -1}]}}",
         "scoringStrategy.resources[0].weight", "resource weight of cpu not in valid range (0, 100]"),
        ("{scoringStrategy: {type: LeastAllocated, resources: [{name: memory, weight: 101}]}}",
         "scoringStrategy.resources[0].weight", "resource weight of memory not in valid range (0, 100]"),
        # The type is not defaulted when scoringStrategy is given: "" is NotSupported.
        ("{scoringStrategy: {resources: [{name: cpu, weight: 2}]}}",
         "scoringStrategy.type", 'Unsupported value: ""'),
        # requestedToCapacityRatio with another type: Forbidden.
        ("{scoringStrategy: {type: MostAllocated, requestedToCapacityRatio: {shape: [{utilization: 0, score: 0}]}}}",
         "scoringStrategy", "must be nil when type is not RequestedToCapacityRatio"),
        ("{scoringStrategy: {type: RequestedToCapacityRatio}}",
         "scoringStrategy", "must be specified when type is RequestedToCapacityRatio"),
    ],
)
def test_validation(tmp_path, args, path, fragment):
    problems = fit_problems(tmp_path, args)
    assert any(p == f"profiles[0].pluginConfig[0].args.{path}" and fragment in m for p, m in problems), problems


def test_duplicate_resources_count_twice(tmp_path):
    # ValidateNodeResourcesFitArgs does not reject a resource listed twice, and the
    # scorer (resource_allocation.go resourceAllocationScorer.score) walks the list, so
    # cpu counts twice in the weighted mean.
    # node 4 cpu, 8Gi; pod 2 cpu, 2Gi; MostAllocated cpu 50, memory 25
    # [cpu:1, cpu:1, memory:1] -> (50 + 50 + 25) / 3 = 41 (truncated); once each: (50+25)/2 = 37
    plugin = fit_plugin(
        tmp_path,
        "{scoringStrategy: {type: MostAllocated, resources: [{name: cpu}, {name: cpu}, {name: memory}]}}",
    )
    state = make_state([node("a", cpu="4", memory="8Gi")])
    pod = make_pod(state, {"cpu": "2", "memory": "2Gi"})
    assert plugin.score(state, pod, np.arange(1)).tolist() == [41]
