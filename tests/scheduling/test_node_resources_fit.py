"""NodeResourcesFit filter and scores against cases mirrored from upstream.

Upstream: pkg/scheduler/framework/plugins/noderesources/least_allocated_test.go
(TestLeastAllocatedScoringStrategy), most_allocated_test.go
(TestMostAllocatedScoringStrategy), fit_test.go (TestEnoughRequests). Upstream writes
cpu "4000" (cores); the same numbers are used here as milli-CPU ("4000m"): every score
is a ratio of cpu to cpu, so the unit cancels, and every pod here requests both cpu
and memory so upstream's non-zero defaults do not enter (except where a case is about
them).
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit

EXT = "example.com/foo"


def scores(plugin, state, pod):
    return plugin.score(state, pod, np.arange(state.nodes.n)).tolist()


@pytest.mark.parametrize(
    "name, strategy, resources, nodes, existing, pod, expected",
    [
        (
            # least_allocated_test.go "nothing scheduled, resources requested, differently sized nodes"
            # node1: cpu (4000-3000)*100/4000 = 25, mem (10000-5000)*100/10000 = 50 -> (25+50)/2 = 37
            # node2: cpu (6000-3000)*100/6000 = 50, mem 50 -> 50
            "least: differently sized nodes", "LeastAllocated", (("cpu", 1), ("memory", 1)),
            [node("node1", cpu="4000m", memory=10000), node("node2", cpu="6000m", memory=10000)],
            [], {"cpu": "3000m", "memory": 5000}, [37, 50],
        ),
        (
            # least_allocated_test.go "nothing scheduled, resources requested with different weight
            # on CPU and memory, differently sized nodes": memory weight 2, cpu weight 1
            # node1: (25*1 + 50*2) / 3 = 125/3 = 41 (truncated); node2: (50 + 100) / 3 = 50
            "least: weights", "LeastAllocated", (("memory", 2), ("cpu", 1)),
            [node("node1", cpu="4000m", memory=10000), node("node2", cpu="6000m", memory=10000)],
            [], {"cpu": "3000m", "memory": 5000}, [41, 50],
        ),
        (
            # Hand-derived in the style of "resources requested, pods scheduled with resources",
            # with an existing pod that requests both cpu and memory.
            # node1 holds (3000m, 5000): cpu (10000-6000)*100/10000 = 40, mem (20000-10000)*100/20000 = 50 -> 45
            # node2 empty: cpu (10000-3000)*100/10000 = 70, mem (20000-5000)*100/20000 = 75 -> 72 (145/2)
            "least: existing pods", "LeastAllocated", (("cpu", 1), ("memory", 1)),
            [node("node1", cpu="10000m", memory=20000), node("node2", cpu="10000m", memory=20000)],
            [("node1", {"cpu": "3000m", "memory": 5000})], {"cpu": "3000m", "memory": 5000}, [45, 72],
        ),
        (
            # least_allocated_test.go "honor extended resource if the pod requests":
            # cpu and memory 50 on both; ext node1 (4-2)/4 = 50, node2 (10-2)/10 = 80
            # node1 (50+50+50)/3 = 50, node2 (50+50+80)/3 = 60
            "least: extended resource requested", "LeastAllocated", (("cpu", 1), ("memory", 1), (EXT, 1)),
            [node("node1", cpu="6000m", memory=10000, **{EXT: 4}),
             node("node2", cpu="6000m", memory=10000, **{EXT: 10})],
            [], {"cpu": "3000m", "memory": 5000, EXT: 2}, [50, 60],
        ),
        (
            # least_allocated_test.go "bypass extended resource if the pod does not request":
            # the pod asks for no EXT, so EXT is skipped on node2: (50+50)/2 = 50 on both
            "least: extended resource bypassed", "LeastAllocated", (("cpu", 1), ("memory", 1), (EXT, 1)),
            [node("node1", cpu="6000m", memory=10000), node("node2", cpu="6000m", memory=10000, **{EXT: 4})],
            [], {"cpu": "3000m", "memory": 5000}, [50, 50],
        ),
        (
            # most_allocated_test.go "nothing scheduled, resources requested, differently sized nodes"
            # node1: cpu 3000*100/4000 = 75, mem 5000*100/10000 = 50 -> 62; node2: 50, 50 -> 50
            "most: differently sized nodes", "MostAllocated", (("cpu", 1), ("memory", 1)),
            [node("node1", cpu="4000m", memory=10000), node("node2", cpu="6000m", memory=10000)],
            [], {"cpu": "3000m", "memory": 5000}, [62, 50],
        ),
        (
            # most_allocated_test.go "resources requested equal node capacity"
            # node1: cpu 5000/5000 -> 100, mem 9000*100/10000 = 90 -> 95
            # node2: cpu 5000*100/10000 = 50, mem 9000/9000 -> 100 -> 75
            "most: equal to capacity", "MostAllocated", (("cpu", 1), ("memory", 1)),
            [node("node1", cpu="5000m", memory=10000), node("node2", cpu="10000m", memory=9000)],
            [], {"cpu": "5000m", "memory": 9000}, [95, 75],
        ),
        (
            # most_allocated_test.go weights memory 2, cpu 1: node1 (75 + 50*2)/3 = 58, node2 (50+100)/3 = 50
            "most: weights", "MostAllocated", (("memory", 2), ("cpu", 1)),
            [node("node1", cpu="4000m", memory=10000), node("node2", cpu="6000m", memory=10000)],
            [], {"cpu": "3000m", "memory": 5000}, [58, 50],
        ),
        (
            # most_allocated_test.go "no resources requested, pods scheduled, nonzero request for
            # resource": every pod has a container without requests, so upstream's non-zero defaults
            # (100m cpu, 200Mi memory) apply. node1 holds two such pods:
            #   cpu 300m capped at 250m -> 100; memory 600Mi*100/1000Mi = 60 -> (100+60)/2 = 80
            # node2 empty: cpu 100*100/250 = 40; memory 200*100/1000 = 20 -> 30
            "most: non-zero defaults", "MostAllocated", (("cpu", 1), ("memory", 1)),
            [node("node1", cpu="250m", memory="1000Mi"), node("node2", cpu="250m", memory="1000Mi")],
            [("node1", {}), ("node1", {})], {}, [80, 30],
        ),
        (
            # most_allocated_test.go "honor extended resource if the pod request":
            # cpu, mem 50 on both; ext node1 2*100/4 = 50, node2 2*100/10 = 20
            # node1 (50+50+50)/3 = 50, node2 (50+50+20)/3 = 40
            "most: extended resource requested", "MostAllocated", (("cpu", 1), ("memory", 1), (EXT, 1)),
            [node("node1", cpu="6000m", memory=10000, **{EXT: 4}),
             node("node2", cpu="6000m", memory=10000, **{EXT: 10})],
            [], {"cpu": "3000m", "memory": 5000, EXT: 2}, [50, 40],
        ),
    ],
)
def test_scoring_strategies(name, strategy, resources, nodes, existing, pod, expected):
    state = make_state(nodes, existing)
    plugin = NodeResourcesFit.with_strategy(strategy, resources)
    assert scores(plugin, state, make_pod(state, pod)) == expected


def test_least_allocated_zero_when_request_exceeds_capacity():
    # least_allocated.go leastRequestedScore: requested > capacity -> 0.
    # node: 4000m cpu, 10000 bytes; existing (3000m, 5000); pod (3000m, 5000)
    # cpu requested 6000 > 4000 -> 0; memory (10000-10000)*100/10000 = 0 -> 0
    state = make_state([node("n", cpu="4000m", memory=10000)], [("n", {"cpu": "3000m", "memory": 5000})])
    assert scores(NodeResourcesFit(), state, make_pod(state, {"cpu": "3000m", "memory": 5000})) == [0]


@pytest.mark.parametrize("weight", [0, -1, 101])
def test_weights_outside_1_to_100_rejected(weight):
    # Upstream ValidateNodeResourcesFitArgs: weight must be in [1, 100]
    # (most_allocated_test.go "resource with zero weight" / "negative weight" / "larger than MaxNodeScore").
    # Args built in code are upstream's internal type, which is not defaulted; a weight
    # of 0 read from a file becomes 1 first (test_fit_args_defaults.py).
    with pytest.raises(ValueError, match="weight"):
        NodeResourcesFit.with_strategy("MostAllocated", (("cpu", weight),))


def test_unknown_strategy_rejected():
    with pytest.raises(ValueError, match="LeastAllocated"):
        NodeResourcesFit.with_strategy("Sideways")  # type: ignore[arg-type]


def test_filter_checks_only_requested_resources_and_pod_count():
    # fit_test.go TestEnoughRequests semantics:
    # n-cpu: 1 cpu free -> a 2-cpu pod does not fit ("Insufficient cpu")
    # n-mem: memory 1Gi -> a 2Gi pod does not fit
    # n-full: pods allocatable 1, already holding one pod -> "Too many pods" even though cpu is free
    # n-ok: fits; n-nogpu has no GPU but the pod asks for none, so it fits
    state = make_state(
        [
            node("n-cpu", cpu="1", memory="8Gi"),
            node("n-mem", cpu="8", memory="1Gi"),
            node("n-full", cpu="8", memory="8Gi", pods=1),
            node("n-ok", cpu="8", memory="8Gi"),
        ],
        [("n-full", {"cpu": "100m", "memory": "1Mi"})],
    )
    pod = make_pod(state, {"cpu": "2", "memory": "2Gi"})
    plugin = NodeResourcesFit()
    assert plugin.filter(state, pod).tolist() == [False, False, False, True]
    rejected = np.array([0, 1, 2])
    assert plugin.reasons(state, pod, rejected) == {
        "Insufficient cpu": 1,
        "Insufficient memory": 1,
        "Too many pods": 1,
    }


def test_filter_boundary_is_inclusive():
    # request == free fits (upstream: fails only if request > allocatable - requested)
    state = make_state([node("n", cpu="2", memory="4Gi")], [("n", {"cpu": "1", "memory": "2Gi"})])
    assert NodeResourcesFit().filter(state, make_pod(state, {"cpu": "1", "memory": "2Gi"})).tolist() == [True]
    assert NodeResourcesFit().filter(state, make_pod(state, {"cpu": "1001m", "memory": "2Gi"})).tolist() == [False]


def test_pods_resource_is_not_scored():
    # resource_allocation.go calculateResourceAllocatableRequest returns (0, 0) for
    # "pods" (not cpu/memory/ephemeral-storage, not a scalar resource), so it is skipped:
    # with resources (cpu, pods) only cpu counts: LeastAllocated (4000-1000)*100/4000 = 75.
    state = make_state([node("n", cpu="4000m", memory=10000, pods=10)])
    plugin = NodeResourcesFit.with_strategy("LeastAllocated", (("cpu", 1), ("pods", 1)))
    assert scores(plugin, state, make_pod(state, {"cpu": "1000m", "memory": 100})) == [75]


def test_fast_path_matches_general_path():
    # The (cpu, memory) fast path must agree with the general per-resource loop, which
    # it takes whenever a candidate lacks cpu or memory. Compare on random clusters (nodes
    # of >= 8 cpu / 16Gi hold at most 8 pods of < 1 cpu / 1Gi, so nothing overcommits),
    # forcing the general path with a third, absent resource.
    rng = np.random.default_rng(5)
    for strategy in ("LeastAllocated", "MostAllocated"):
        for _ in range(20):
            nodes = [node(f"n{i}", cpu=f"{rng.integers(8, 64)}", memory=f"{rng.integers(16, 256)}Gi")
                     for i in range(6)]
            existing = [(f"n{rng.integers(6)}", {"cpu": f"{rng.integers(0, 900)}m",
                                                 "memory": f"{rng.integers(0, 1024)}Mi"}) for _ in range(8)]
            state = make_state(nodes, existing)
            pod = make_pod(state, {"cpu": f"{rng.integers(0, 8000)}m", "memory": f"{rng.integers(0, 16)}Gi"})
            w = int(rng.integers(1, 5))
            fast = NodeResourcesFit.with_strategy(strategy, (("cpu", w), ("memory", 1)))
            general = NodeResourcesFit.with_strategy(strategy, (("cpu", w), ("memory", 1), ("example.com/none", 1)))
            assert fast._cpu_mem_weights is not None and general._cpu_mem_weights is None
            assert scores(fast, state, pod) == scores(general, state, pod)
