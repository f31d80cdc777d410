"""The plugins' one-node functions (``filter_one`` / ``score_one``) equal their numpy
Filter and Score on every node.

``filter_one`` and ``score_one`` redo upstream's arithmetic on Python ints and floats for
one node (``pkg/scheduler/framework/plugins/noderesources/fit.go`` ``fitsRequest``,
``least_allocated.go`` / ``most_allocated.go`` ``leastResourceScorer`` /
``mostResourceScorer``, ``balanced_allocation.go`` ``balancedResourceScorer``). The
reference here is the plugins' own vectorised Filter and Score, which the other tests
check against upstream; these tests check that the two agree exactly, on node tables
made to hit the edge cases: requests above allocatable (the non-zero defaults of
``nonzero_requested``), nodes without cpu or memory (the general path), zero free,
fractions above 1, and large memory values.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import randomise_usage

from k8sim import validate_scenario
from k8sim.scheduling.plugins.balanced_allocation import NodeResourcesBalancedAllocation
from k8sim.scheduling.plugins.base import NodeRow
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.sim.simulation import Simulation

N = 400


def _state(seed: int):
    """A cluster of N nodes whose usage columns are then overwritten with random values
    (the plugins only read them)."""
    sim = Simulation(validate_scenario({
        "name": "one-node",
        "cluster": {"node_pools": [{"name": "a", "count": N, "allocatable": {"cpu": "8", "memory": "32Gi",
                                                                               "nvidia.com/gpu": 2}}]},
        "workloads": [
            {"name": "small", "arrival": {"kind": "times", "times_s": [1e9]},
             "template": {"requests": {"cpu": "300m", "memory": "700Mi"}}},
            {"name": "big", "arrival": {"kind": "times", "times_s": [1e9]},
             "template": {"requests": {"cpu": "7", "memory": "30Gi", "nvidia.com/gpu": 1}}},
            {"name": "empty", "arrival": {"kind": "times", "times_s": [1e9]}, "template": {}},
        ],
    }))
    state = sim.state
    randomise_usage(state.nodes, seed)
    return state


FITS = [NodeResourcesFit.with_strategy("LeastAllocated"), NodeResourcesFit.with_strategy("MostAllocated"),
        NodeResourcesFit.with_strategy("LeastAllocated", (("cpu", 3), ("memory", 1))),
        NodeResourcesFit.with_strategy("MostAllocated", (("memory", 5), ("cpu", 2)))]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_filter_one_equals_filter_on_every_node(seed):
    state = _state(seed)
    every = np.arange(N)
    for pod in state.shapes:
        expect = NodeResourcesFit().filter(state, pod)
        one = NodeResourcesFit().filter_one(state, pod)
        got = [one(state.nodes, n) for n in range(N)]
        assert got == expect.tolist()
        assert 0 < sum(got) < N  # both outcomes occur
        assert got == NodeResourcesFit().filter_nodes(state, pod, every).tolist()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("plugin", [*FITS, NodeResourcesBalancedAllocation()],
                         ids=["least", "most", "least-3-1", "most-mem-5-cpu-2", "balanced"])
def test_score_one_equals_score_on_every_node(plugin, seed):
    state = _state(seed)
    every = np.arange(N)
    for pod in state.shapes:
        one = plugin.score_one(state, pod)
        assert one is not None
        expect = plugin.score(state, pod, every)
        assert expect.dtype == np.int64
        got = [one(state.nodes, n) for n in range(N)]
        assert all(type(v) is int for v in got)
        assert got == expect.tolist()
        # One node at a time as well: the numpy fast path applies only when every
        # candidate has cpu and memory; alone, each node takes its own path.
        assert got == [int(plugin.score(state, pod, np.array([n]))[0]) for n in range(N)]
        assert len(set(got)) > 10


def test_plugins_without_one_node_functions_say_so():
    state = _state(0)
    pod = state.shapes[0]
    rtcr = NodeResourcesFit.with_strategy("RequestedToCapacityRatio", shape=((0, 0), (100, 10)))
    assert rtcr.score_one(state, pod) is None  # the caches then call score()
    extended = NodeResourcesFit.with_strategy("LeastAllocated", (("cpu", 1), ("nvidia.com/gpu", 1)))
    assert extended.score_one(state, pod) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fit_filter_row_equals_filter_on_every_node(seed):
    # The shapes ask for 2 rows (an empty template: cpu/memory defaults are not
    # requests, so only pods), 3 rows (cpu, memory, pods: the unrolled path) and 4.
    state = _state(seed)
    lengths = set()
    for pod in state.shapes:
        expect = NodeResourcesFit().filter(state, pod)
        row_fn = NodeResourcesFit().filter_row(state, pod)
        got = [row_fn(NodeRow.read(state.nodes, n)) for n in range(N)]
        assert got == expect.tolist()
        assert all(type(v) is bool for v in got)
        lengths.add(len(pod.requested_rows))
        if len(pod.requested_rows) > 1:
            assert 0 < sum(got) < N  # both outcomes occur
    assert 3 in lengths and len(lengths) > 1  # the unrolled and the general path both ran


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("plugin", [*FITS, NodeResourcesBalancedAllocation()],
                         ids=["least", "most", "least-3-1", "most-mem-5-cpu-2", "balanced"])
def test_score_row_equals_score_on_every_node(plugin, seed):
    state = _state(seed)
    every = np.arange(N)
    for pod in state.shapes:
        row_fn = plugin.score_row(state, pod)
        assert row_fn is not None
        expect = plugin.score(state, pod, every)
        got = [row_fn(NodeRow.read(state.nodes, n)) for n in range(N)]
        assert all(type(v) is int for v in got)
        assert got == expect.tolist()


def test_node_row_reads_the_columns():
    state = _state(0)
    nodes = state.nodes
    row = NodeRow.read(nodes, 7)
    assert row.node == 7
    assert row.free == [int(v) for v in nodes.free[:, 7]]
    assert row.requested == [int(v) for v in nodes.requested[:, 7]]
    assert row.alloc == [int(v) for v in nodes.alloc[:, 7]]
    assert row.nonzero == [int(v) for v in nodes.nonzero_requested[:, 7]]
    assert all(type(v) is int for v in row.free + row.requested + row.alloc + row.nonzero)


def test_plugins_without_row_functions_say_so():
    state = _state(0)
    pod = state.shapes[0]
    rtcr = NodeResourcesFit.with_strategy("RequestedToCapacityRatio", shape=((0, 0), (100, 10)))
    assert rtcr.score_row(state, pod) is None
    extended = NodeResourcesFit.with_strategy("LeastAllocated", (("cpu", 1), ("nvidia.com/gpu", 1)))
    assert extended.score_row(state, pod) is None
