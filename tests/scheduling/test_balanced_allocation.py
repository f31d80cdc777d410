"""NodeResourcesBalancedAllocation against cases mirrored from upstream.

Upstream: pkg/scheduler/framework/plugins/noderesources/balanced_allocation_test.go
(TestNodeResourcesBalancedAllocation). Upstream's makeNode takes milli-CPU and memory
bytes, written here as "4000m" and plain integers. Existing pods:
cpuOnly (3000m cpu, 0 memory) on node1, cpuAndMemory (3000m, 5000) on node2,
cpuAndMemoryAndGPU (3000m, 5000, 3 GPUs) on node1. Fractions use ACTUAL requests
(useRequested), so a pod with 0 memory adds nothing to memory. Score =
int64((1 - std) * 100), std = |f1 - f2| / 2 for two resources.
The DRA cases are not modelled.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.scheduling.plugins.balanced_allocation import (
    BalancedAllocationArgs,
    NodeResourcesBalancedAllocation,
)

GPU = "nvidia.com/gpu"
CPU_ONLY = {"cpu": "3000m"}
CPU_AND_MEMORY = {"cpu": "3000m", "memory": 5000}
CPU_MEMORY_GPU = {"cpu": "3000m", "memory": 5000, GPU: 3}


def plugin(*resources: str) -> NodeResourcesBalancedAllocation:
    if not resources:
        return NodeResourcesBalancedAllocation()
    return NodeResourcesBalancedAllocation(
        BalancedAllocationArgs.model_validate({"resources": [{"name": r, "weight": 1} for r in resources]})
    )


@pytest.mark.parametrize(
    "name, resources, nodes, existing, pod, expected",
    [
        (
            # "nothing scheduled, resources requested, differently sized nodes"
            # node1: cpu 3000/4000 = 0.75, mem 5000/10000 = 0.5, std 0.125 -> (1 - 0.125) * 100 = 87
            # node2: cpu 3000/6000 = 0.5, mem 0.5, std 0 -> 100
            "differently sized nodes", (),
            [node("node1", cpu="4000m", memory=10000), node("node2", cpu="6000m", memory=10000)],
            [], CPU_AND_MEMORY, [87, 100],
        ),
        (
            # "resources requested, pods scheduled with resources"
            # node1 (cpuOnly): cpu 6000/10000 = 0.6, mem 5000/20000 = 0.25, std 0.175 -> 82
            # node2 (cpuAndMemory): cpu 0.6, mem 10000/20000 = 0.5, std 0.05 -> 95
            "pods scheduled with resources", (),
            [node("node1", cpu="10000m", memory=20000), node("node2", cpu="10000m", memory=20000)],
            [("node1", CPU_ONLY), ("node2", CPU_AND_MEMORY)], CPU_AND_MEMORY, [82, 95],
        ),
        (
            # "resources requested, pods scheduled with resources, differently sized nodes"
            # node1: 0.6, 0.25 -> 82; node2: cpu 0.6, mem 10000/50000 = 0.2, std 0.2 -> 80
            "pods scheduled, differently sized nodes", (),
            [node("node1", cpu="10000m", memory=20000), node("node2", cpu="10000m", memory=50000)],
            [("node1", CPU_ONLY), ("node2", CPU_AND_MEMORY)], CPU_AND_MEMORY, [82, 80],
        ),
        (
            # "requested resources at node capacity" (pod cpuOnly)
            # node1: cpu 6000/6000 = 1, mem 0/10000 = 0, std 0.5 -> 50
            # node2: cpu 6000/6000 = 1, mem 5000/10000 = 0.5, std 0.25 -> 75
            "at node capacity", (),
            [node("node1", cpu="6000m", memory=10000), node("node2", cpu="6000m", memory=10000)],
            [("node1", CPU_ONLY), ("node2", CPU_AND_MEMORY)], CPU_ONLY, [50, 75],
        ),
        (
            # "include scalar resource on a node for balanced resource allocation" (pod: 1 GPU only)
            # node1 (cpuAndMemoryAndGPU): cpu 3000/3500 = 0.857143, mem 5000/40000 = 0.125, gpu 4/8 = 0.5
            #   mean 0.494048; squares 0.131838 + 0.136196 + 0.000035 = 0.268070; /3 -> sqrt = 0.298926 -> 70
            # node2 (cpuAndMemory): cpu 0.857143, mem 0.125, gpu 1/8 = 0.125
            #   mean 0.369048; squares 0.238237 + 0.059559 + 0.059559 = 0.357355; /3 -> sqrt = 0.345135 -> 65
            "scalar resource", ("cpu", "memory", GPU),
            [node("node1", cpu="3500m", memory=40000, **{GPU: 8}),
             node("node2", cpu="3500m", memory=40000, **{GPU: 8})],
            [("node2", CPU_AND_MEMORY), ("node1", CPU_MEMORY_GPU)], {GPU: 1}, [70, 65],
        ),
        (
            # "node without the scalar resource should skip the scalar resource": the pod asks for no GPU
            # both nodes: cpu 3000/3500 = 0.857143, mem 5000/40000 = 0.125, std 0.366071 -> 63
            "scalar resource skipped", ("cpu", "memory", GPU),
            [node("node1", cpu="3500m", memory=40000, **{GPU: 8}), node("node2", cpu="3500m", memory=40000)],
            [], CPU_AND_MEMORY, [63, 63],
        ),
    ],
)
def test_balanced_allocation(name, resources, nodes, existing, pod, expected):
    state = make_state(nodes, existing)
    p = plugin(*resources)
    info = make_pod(state, pod)
    assert p.pre_score(state, info)
    assert p.score(state, info, np.arange(state.nodes.n)).tolist() == expected


def test_best_effort_pod_is_skipped():
    # "nothing scheduled, nothing requested, skip in PreScore": PreScore returns Skip for a pod that
    # requests none of the configured resources (actual requests, not the 100m/200Mi defaults).
    state = make_state([node("node1", cpu="4000m", memory=10000), node("node2", cpu="4000m", memory=10000)])
    assert not plugin().pre_score(state, make_pod(state, {}))
    # requesting only a resource outside the configured set is still best-effort for this plugin
    assert not plugin().pre_score(state, make_pod(state, {"ephemeral-storage": "1Gi"}))
    assert plugin("cpu", "ephemeral-storage").pre_score(state, make_pod(state, {"ephemeral-storage": "1Gi"}))


def test_fraction_capped_and_pods_resource_ignored():
    # Fractions are capped at 1 (cpu 6000/4000 -> 1); "pods" is never scored upstream, so listing it
    # changes nothing: cpu 1, mem 5000/10000 = 0.5 -> std 0.25 -> 75 with or without "pods".
    state = make_state([node("n", cpu="4000m", memory=10000)], [("n", {"cpu": "3000m"})])
    pod = make_pod(state, CPU_AND_MEMORY)
    assert plugin("cpu", "memory").score(state, pod, np.array([0])).tolist() == [75]
    assert plugin("cpu", "memory", "pods").score(state, pod, np.array([0])).tolist() == [75]


def test_single_resource_has_zero_std():
    # One fraction: std stays 0 -> 100 whatever the fraction (upstream: len(fractions) < 2).
    state = make_state([node("n", cpu="4000m", memory=10000)])
    assert plugin("cpu").score(state, make_pod(state, {"cpu": "1000m"}), np.array([0])).tolist() == [100]


@pytest.mark.parametrize("raw", [
    {"resources": [{"name": "cpu", "weight": 2}]},  # ValidateNodeResourcesBalancedAllocationArgs: must be 1
    {"resources": [{"name": "cpu"}, {"name": "cpu"}]},  # duplicate name
])
def test_args_validation(raw):
    with pytest.raises(ValueError):
        BalancedAllocationArgs.model_validate(raw)


def test_args_defaults():
    # SetDefaults_NodeResourcesBalancedAllocationArgs: empty resources -> cpu, memory; weight 0 -> 1.
    assert NodeResourcesBalancedAllocation(BalancedAllocationArgs.model_validate({"resources": []})).resources == (
        "cpu", "memory")
    args = BalancedAllocationArgs.model_validate({"resources": [{"name": "cpu", "weight": 0}]})
    assert args.resources[0].weight == 1


def test_fast_path_matches_general_path():
    # The (cpu, memory) fast path against the general loop (forced by listing a third
    # resource no node has, which the general path skips).
    import numpy as np
    from builders import make_pod, make_state, node

    from k8sim.scheduling.plugins.balanced_allocation import (
        BalancedAllocationArgs,
        NodeResourcesBalancedAllocation,
    )

    rng = np.random.default_rng(9)
    for _ in range(30):
        nodes = [node(f"n{i}", cpu=f"{rng.integers(8, 64)}", memory=f"{rng.integers(16, 256)}Gi") for i in range(5)]
        existing = [(f"n{rng.integers(5)}", {"cpu": f"{rng.integers(0, 900)}m",
                                             "memory": f"{rng.integers(0, 1024)}Mi"}) for _ in range(6)]
        state = make_state(nodes, existing)
        pod = make_pod(state, {"cpu": f"{rng.integers(1, 8000)}m", "memory": f"{rng.integers(1, 16)}Gi"})
        fast = NodeResourcesBalancedAllocation()
        general = NodeResourcesBalancedAllocation(BalancedAllocationArgs.model_validate(
            {"resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1},
                           {"name": "example.com/none", "weight": 1}]}))
        assert fast._cpu_mem and not general._cpu_mem
        cand = np.arange(state.nodes.n)
        assert fast.score(state, pod, cand).tolist() == general.score(state, pod, cand).tolist()
