"""The incremental caches' fused update of a few changed nodes (one generated function
per shape from the plugins' ``RowCode``, :func:`k8sim.scheduling.incremental._make_kernel`).

The reference is the plugins' own vectorised Filter and Score (which other tests check
against upstream: ``noderesources/fit.go`` ``fitsRequest``, ``least_allocated.go``,
``balanced_allocation.go``): after the fused function recomputes every node of a
randomised node table, the entry's masks, raw scores and fused totals must equal them
exactly, on tables made to hit the edge cases (nodes without cpu or memory, requests
above allocatable, fractions above 1, large memory values).
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import randomise_usage

from k8sim import validate_scenario
from k8sim.scheduling import incremental
from k8sim.scheduling.incremental import ShapeCaches
from k8sim.scheduling.plugins import base
from k8sim.scheduling.plugins.balanced_allocation import NodeResourcesBalancedAllocation
from k8sim.scheduling.plugins.base import RowCode, ScorePlugin
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.sim.simulation import Simulation

N = 400


def _sim(count: int = N, workloads: list[dict] | None = None) -> Simulation:
    return Simulation(validate_scenario({
        "name": "fused",
        "cluster": {"node_pools": [{"name": "a", "count": count,
                                    "allocatable": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": 2}}]},
        "workloads": workloads or [
            {"name": "small", "arrival": {"kind": "times", "times_s": [1e9]},
             "template": {"requests": {"cpu": "300m", "memory": "700Mi"}}},
            {"name": "big", "arrival": {"kind": "times", "times_s": [1e9]},
             "template": {"requests": {"cpu": "7", "memory": "30Gi", "nvidia.com/gpu": 1}}},
            {"name": "empty", "arrival": {"kind": "times", "times_s": [1e9]}, "template": {}},
        ],
    }))


@pytest.mark.parametrize("strategy", ["LeastAllocated", "MostAllocated"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fused_update_equals_the_plugins_on_every_node(strategy, seed):
    sim = _sim()
    state = sim.state
    fit = NodeResourcesFit.with_strategy(strategy, (("cpu", 3), ("memory", 1)))
    ba = NodeResourcesBalancedAllocation()
    caches = ShapeCaches([fit], [(fit, 1), (ba, 2)])
    for pod in state.shapes:
        e, _ = caches.local_mask(state, pod)
        caches.raw_scores(e, state, pod)
        assert caches.raw_scores(e, state, pod) is not None  # built at the second scoring cycle
        randomise_usage(state.nodes, seed)
        before = int(np.count_nonzero(e.mask))
        e.count = before
        incremental._make_kernel(e, state, pod)
        assert e.kernel is not None
        count, done = e.kernel(set(range(N)), e.count)
        assert done  # NodeResourcesFit and BalancedAllocation score within [0, 100]
        want = fit.filter(state, pod)
        assert e.mask_usage.tolist() == want.tolist()
        assert e.mask.tolist() == (want & e.mask_static).tolist()
        assert count == int(np.count_nonzero(e.mask))
        feasible = np.flatnonzero(e.mask)
        total = np.zeros(feasible.size, dtype=np.int64)
        for i, plugin, weight in ((0, fit, 1), (1, ba, 2)):
            if not plugin.pre_score(state, pod):
                assert e.raw[i] is None  # best-effort pod: BalancedAllocation skips it
                continue
            scores = plugin.score(state, pod, feasible)
            assert e.raw[i][feasible].tolist() == scores.tolist()
            total += scores * weight
        assert e.fused_total[feasible].tolist() == total.tolist()


class FreeCores(ScorePlugin):
    """A test plugin: free whole cores, unbounded (so it can leave [0, 100])."""

    name = "FreeCores"
    node_local = True

    def score(self, state, pod, candidates):
        return state.nodes.free[0, candidates] // 1000

    def score_code(self, state, pod):
        # Names as NodeResourcesFit's (a_cpu) and as the fused function's own (node,
        # mask, count): each plugin's names are its own in the generated function.
        return RowCode("a_cpu = free[0] // unit\nmask = a_cpu\ncount = mask\nresult = count\n", {"unit": 1000})


def test_a_score_leaving_the_range_unfuses_and_the_caches_stay_exact():
    """FreeCores scores 8 on 8-core nodes (in range: fused); a node given 500 free cores
    scores 500, outside [0, 100]: the fused function hands back, the entry gives up
    the fused sum and the general path records 500. Later updates go through a fused
    function made without the sum."""
    sim = _sim(workloads=[{"name": "w", "arrival": {"kind": "times", "times_s": [1e9]},
                           "template": {"requests": {"cpu": "1", "memory": "1Gi"}}}])
    state = sim.state
    pod = state.shapes[0]
    fit = NodeResourcesFit()
    cores = FreeCores()
    caches = ShapeCaches([fit], [(fit, 1), (cores, 2)])
    e, _ = caches.local_mask(state, pod)
    caches.raw_scores(e, state, pod)
    caches.raw_scores(e, state, pod)
    assert e.fused == frozenset({0, 1})
    # Node 7 changes (as a bind would journal it): 500 cores free.
    nodes = state.nodes
    nodes.alloc[0, 7] = nodes.free[0, 7] = 500_000
    state.usage_journal.append(7)
    caches.local_mask(state, pod)
    assert e.fused == frozenset()
    assert e.raw[1][7] == 500
    assert e.raw[0][7] == fit.score(state, pod, np.array([7]))[0]
    # Node 8 changes: the fused function made without the sum updates it.
    nodes.free[0, 8] = 3000
    state.usage_journal.append(8)
    caches.local_mask(state, pod)
    assert e.kernel is not None
    assert e.raw[1][8] == 3  # 3000 millicores: three whole cores
    assert e.raw[0][8] == fit.score(state, pod, np.array([8]))[0]


def test_a_shape_seen_once_compiles_nothing():
    """Shapes differ in their values, not their code: the generated functions are
    compiled once per source, and a shape's fused function is made only at its first
    update from the journals, which a shape scheduled once never has."""
    workloads = [{"name": f"w{i}", "arrival": {"kind": "times", "times_s": [1e9]},
                  "template": {"requests": {"cpu": f"{100 + i}m", "memory": f"{200 + i}Mi"}}} for i in range(40)]
    sim = _sim(count=200, workloads=workloads)
    state = sim.state
    profile = next(iter(sim.profiles.values()))
    profile.schedule(state, state.shapes[0])  # the sources of this profile, compiled once
    compiled = len(base._FACTORIES)
    for info in state.shapes[1:]:
        profile.schedule(state, info)
    assert len(base._FACTORIES) == compiled
    assert all(e.kernel is None for e in profile.caches.entries.values())
