"""The compiled bind / release (k8sim.cluster.kernels) leave the tables exactly as the
numpy path of k8sim.cluster.ops does, refuse the same calls, and keep the invariants."""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.cluster import kernels, ops
from k8sim.cluster.pods import BOUND, FAILED, PENDING, RUNNING, SUCCEEDED

pytestmark = pytest.mark.skipif(not kernels.available, reason="numba is not installed")


@pytest.fixture
def use_kernels():
    # ops takes the kernels only once numba is loaded (they never import it themselves).
    import numba  # noqa: F401

    assert kernels.loaded()
    was = kernels.enabled
    yield lambda on: setattr(kernels, "enabled", on)
    kernels.enabled = was


def _run(seed: int) -> tuple[ops.ClusterState, list]:
    """Random binds, starts and releases of pods of three count groups on four nodes."""
    state = make_state([node(f"n{i}", cpu="64", memory="256Gi", pods=500) for i in range(4)])
    rng = np.random.default_rng(seed)
    shapes = [make_pod(state, {"cpu": f"{c}m", "memory": f"{m}Mi"}, labels={"app": a})
              for c, m, a in [(250, 64, "a"), (1000, 0, "b"), (0, 512, "c"), (333, 100, "a")]]
    pods = state.pods
    seen = []
    live: list[int] = []
    for step in range(400):
        if not live or rng.random() < 0.6:
            info = shapes[int(rng.integers(len(shapes)))]
            p = pods.append(name=f"p{step}", requests=info.requests, workload=0, index=step, shape=info.shape,
                            priority=0, created=float(step), duration=1.0, start_latency=0.0,
                            nonzero=info.nonzero)
            ops.bind(state, p, int(rng.integers(4)), step + 0.5)
            if rng.random() < 0.5:
                ops.set_running(state, p, step + 0.7)
            live.append(p)
        else:
            p = live.pop(int(rng.integers(len(live))))
            node_ = ops.release(state, p, SUCCEEDED if rng.random() < 0.7 else FAILED, step + 0.9)
            seen.append(node_)
        ops.check_invariants(state)
    return state, seen


@pytest.mark.parametrize("seed", [0, 1])
def test_kernels_match_numpy_path(use_kernels, seed):
    use_kernels(False)
    ref, ref_nodes = _run(seed)
    use_kernels(True)
    got, got_nodes = _run(seed)
    assert got_nodes == ref_nodes
    for name in ("requested", "free", "nonzero_requested"):
        assert np.array_equal(getattr(got.nodes, name), getattr(ref.nodes, name)), name
    assert np.array_equal(got.group_counts, ref.group_counts)
    for name in ("node", "phase", "scheduled", "finished", "running"):
        a, b = getattr(got.pods, name)[: got.pods.n], getattr(ref.pods, name)[: ref.pods.n]
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    assert got.generation == ref.generation
    assert got.usage_journal.nodes == ref.usage_journal.nodes
    # Some pods are still bound, on more than one node, in more than one group, so the
    # comparison saw non-trivial columns.
    assert np.count_nonzero(got.group_counts) > 2


def test_kernel_bind_and_release_by_hand(use_kernels):
    use_kernels(True)
    state = make_state([node("n0", cpu="4", memory="8Gi"), node("n1", cpu="4", memory="8Gi")])
    info = make_pod(state, {"cpu": "1500m"}, labels={"app": "x"})  # no memory request
    p = state.pods.append(name="p", requests=info.requests, workload=0, index=0, shape=info.shape, priority=0,
                          created=0.0, duration=1.0, start_latency=0.0)
    cpu, mem, pods_ = (state.resources.index[r] for r in ("cpu", "memory", "pods"))
    ops.bind(state, p, 1, 2.5)
    nodes = state.nodes
    # n1: 1500 milli-CPU and one pod requested; 4000 - 1500 = 2500 free; the non-zero
    # memory is upstream's default of 200 MiB (pod_resources.go DefaultMemoryRequest).
    assert nodes.requested[cpu, 1] == 1500 and nodes.requested[pods_, 1] == 1 and nodes.requested[mem, 1] == 0
    assert nodes.free[cpu, 1] == 2500 and nodes.free[mem, 1] == 8 * 1024**3
    assert list(nodes.nonzero_requested[:, 1]) == [1500, 200 * 1024**2]
    assert nodes.requested[:, 0].sum() == 0
    assert state.group_counts[info.group, 1] == 1
    assert (state.pods.node[p], state.pods.phase[p], state.pods.scheduled[p]) == (1, BOUND, 2.5)
    ops.set_running(state, p, 3.0)
    assert ops.release(state, p, SUCCEEDED, 7.0) == 1
    assert nodes.requested.sum() == 0 and nodes.nonzero_requested.sum() == 0
    assert np.array_equal(nodes.free, nodes.alloc)
    assert state.group_counts.sum() == 0
    assert (state.pods.phase[p], state.pods.finished[p], state.pods.node[p]) == (SUCCEEDED, 7.0, 1)
    assert state.usage_journal.nodes == [1, 1]


@pytest.mark.parametrize("on", [False, True])
def test_refused_calls_change_nothing(use_kernels, on):
    use_kernels(on)
    state = make_state([node("n0", cpu="4", memory="8Gi")])
    info = make_pod(state, {"cpu": "1"})
    p = state.pods.append(name="p", requests=info.requests, workload=0, index=0, shape=info.shape, priority=0,
                          created=0.0, duration=1.0, start_latency=0.0)
    with pytest.raises(ops.InvariantError, match="release of pod p that is not bound"):
        ops.release(state, p, SUCCEEDED, 1.0)
    assert state.pods.phase[p] == PENDING and state.nodes.requested.sum() == 0
    ops.bind(state, p, 0, 1.0)
    ops.set_running(state, p, 1.0)
    before = (state.nodes.requested.copy(), state.group_counts.copy(), state.generation)
    with pytest.raises(ops.InvariantError, match=f"bind of pod p in phase {RUNNING}"):
        ops.bind(state, p, 0, 2.0)
    assert np.array_equal(state.nodes.requested, before[0]) and np.array_equal(state.group_counts, before[1])
    assert state.generation == before[2] and state.pods.scheduled[p] == 1.0
    ops.release(state, p, SUCCEEDED, 3.0)
    with pytest.raises(ops.InvariantError, match="release of pod p that is not bound"):
        ops.release(state, p, SUCCEEDED, 4.0)
    assert state.pods.finished[p] == 3.0
    ops.check_invariants(state)
