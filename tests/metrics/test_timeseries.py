"""Exact integration of step functions over bins, checked against hand arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from k8sim.metrics.timeseries import bin_edges, interval_integrals


def test_interval_integrals_by_hand():
    # Intervals: [1, 4) weight 2, [3, inf) weight 1, [NaN...) ignored. Bins [0,2), [2,4), [4,5].
    # bin [0,2): first interval covers [1,2) -> 2*1 = 2; second not yet -> 2
    # bin [2,4): first covers [2,4) -> 2*2 = 4; second covers [3,4) -> 1 -> 5
    # bin [4,5): first ended; second covers [4,5) -> 1
    starts = np.array([1.0, 3.0, np.nan])
    ends = np.array([4.0, np.inf, 2.0])
    out = interval_integrals(starts, ends, np.array([2.0, 1.0, 7.0]), np.array([0.0, 2.0, 4.0, 5.0]))
    assert out.tolist() == [2.0, 5.0, 1.0]


def test_interval_integrals_multiple_series():
    # One interval [0.5, 1.5) with weights (1, 10): bins [0,1), [1,2) get 0.5 each.
    out = interval_integrals(np.array([0.5]), np.array([1.5]), np.array([[1.0, 10.0]]), np.array([0.0, 1.0, 2.0]))
    assert out.tolist() == [[0.5, 5.0], [0.5, 5.0]]


def test_bin_edges_last_bin_short():
    assert bin_edges(0.0, 25.0, 10.0).tolist() == [0.0, 10.0, 20.0, 25.0]
    assert bin_edges(0.0, 20.0, 10.0).tolist() == [0.0, 10.0, 20.0]


def test_utilization_of_a_hand_built_run():
    from k8sim import run, validate_scenario

    # One node of 4 cpu. Pod A (1 cpu) runs [0, 10), pod B (2 cpu) [5, 20). Zero start latency.
    # Bins of 10 s over [0, 20]: bin 1 requested integral = 1*10 + 2*5 = 20 cpu*s -> 20/(4*10) = 0.5
    # bin 2: 2*10 = 20 -> 0.5. Over the run: 40 / 80 = 0.5.
    sc = validate_scenario({
        "sample_interval_s": 10,
        "cluster": {"nodes": [{"name": "n", "allocatable": {"cpu": "4", "memory": "4Gi"}}]},
        "workloads": [
            {"name": "a", "arrival": {"kind": "times", "times_s": [0]}, "template": {"requests": {"cpu": "1"}},
             "duration": {"kind": "constant", "value": 10}},
            {"name": "b", "arrival": {"kind": "times", "times_s": [5]}, "template": {"requests": {"cpu": "2"}},
             "duration": {"kind": "constant", "value": 15}},
        ],
    })
    res = run(sc)
    ts = res.timeseries
    assert ts["cpu_utilization"].tolist() == [0.5, 0.5]
    # running pods: bin 1 = (10 + 5)/10 = 1.5; bin 2 = 10/10 = 1
    assert ts["running_pods"].tolist() == [1.5, 1.0]
    assert res.summary().iloc[0]["mean_cpu_utilization"] == 0.5


def test_several_series_at_once_equal_each_series_alone_bit_for_bit():
    """``weights`` [M, K] gives, column by column, exactly (same float operations in
    the same order) what each column alone gives, NaN starts and NaN / inf ends
    included; and one step function integrates to its hand-derived value."""
    rng = np.random.default_rng(0)
    m = 2_000
    starts = rng.uniform(0, 100, m)
    starts[::17] = np.nan
    ends = starts + rng.exponential(10, m)
    ends[::13] = np.nan
    ends[::29] = np.inf
    weights = rng.integers(1, 10_000, (m, 3)) * 1e3
    edges = bin_edges(0.0, 120.0, 7.0)
    together = interval_integrals(starts, ends, weights, edges)
    for j in range(3):
        alone = interval_integrals(starts, ends, weights[:, j], edges)
        assert together[:, j].tobytes() == alone.tobytes()
    # One interval [1.5, 4) of weight 2 over bins [0, 2), [2, 3), [3, 5):
    # 2 * 0.5 = 1, 2 * 1 = 2, 2 * 1 = 2.
    one = interval_integrals(np.array([1.5]), np.array([4.0]), np.array([[2.0, 1.0]]), np.array([0.0, 2.0, 3.0, 5.0]))
    assert one.tolist() == [[1.0, 0.5], [2.0, 1.0], [2.0, 1.0]]


def test_a_result_taken_mid_run_is_a_copy_of_the_pod_table():
    """The pods frame is built from views of the pod table and copied once: a result
    taken mid-run shares no memory with the table and keeps its values while the run
    goes on (pods created before 100 s: none finished then, every one finished later)."""
    from k8sim import Simulation, validate_scenario

    sim = Simulation(validate_scenario({
        "name": "mid", "seed": 1, "duration_s": 2000,
        "cluster": {"node_pools": [{"name": "a", "count": 2, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "workloads": [{"name": "w", "arrival": {"kind": "burst", "count": 4, "at_s": 10},
                       "template": {"requests": {"cpu": "1", "memory": "1Gi"}},
                       "duration": {"kind": "constant", "value": 500}}]}))
    sim.run_until(100)
    early = sim.result().pods
    table = sim.state.pods
    for col in ("created", "scheduled", "running", "finished", "duration", "attempts", "priority"):
        assert not np.shares_memory(early[col].to_numpy(), getattr(table, col))
    assert early["finished"].isna().all()
    sim.run()
    assert early["finished"].isna().all()
    # Each pod ran 500 s from its start (bound at 10 s, running after its latency).
    assert np.allclose(table.finished[: table.n] - table.running[: table.n], 500.0)


def _reference_integrals(starts, ends, weights, edges):
    """The integrals as computed before the work buffers (every step a new array, the
    weights converted to float64 first): the operations the buffered version must
    repeat exactly."""
    w = np.asarray(weights, dtype=np.float64)
    ok = ~np.isnan(starts)
    s = np.minimum(starts[ok], edges[-1])
    e = np.minimum(np.where(np.isnan(ends[ok]), np.inf, ends[ok]), edges[-1])
    t = np.concatenate([s, e])
    order = np.argsort(t, kind="stable")
    t = t[order]
    dt = np.diff(t)
    k = np.searchsorted(t, edges, side="right") - 1
    has = k >= 0
    out = np.empty((edges.size - 1, w.shape[1]))
    for j in range(w.shape[1]):
        level = np.cumsum(np.concatenate([w[ok, j], -w[ok, j]])[order])
        f = np.zeros_like(level)
        if level.size > 1:
            f[1:] = np.cumsum(level[:-1] * dt)
        f_edges = np.zeros(edges.size)
        f_edges[has] = f[k[has]] + level[k[has]] * (edges[has] - t[k[has]])
        out[:, j] = np.diff(f_edges)
    return out


@pytest.mark.parametrize("m", [0, 1, 2, 3_000])
def test_integer_weights_and_reused_buffers_give_the_reference_bits(m):
    """Integer weights (requests in base units) are converted one column at a time and
    every series reuses the same buffers: bit for bit the reference's result from the
    weights converted first."""
    rng = np.random.default_rng(m)
    starts = rng.uniform(0, 100, m)
    starts[::11] = np.nan
    ends = starts + rng.exponential(10, m)
    ends[::7] = np.nan
    ends[::23] = np.inf
    weights = rng.integers(0, 2**40, (m, 4))
    edges = bin_edges(0.0, 130.0, 9.0)
    got = interval_integrals(starts, ends, weights, edges)
    assert got.tobytes() == _reference_integrals(starts, ends, weights, edges).tobytes()
    assert got.tobytes() == interval_integrals(starts, ends, weights.astype(np.float64), edges).tobytes()
