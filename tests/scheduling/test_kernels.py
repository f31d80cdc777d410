"""The compiled kernels of a cycle without an incremental entry
(:mod:`k8sim.scheduling.kernels`): each kernel on cases worked by hand, and whole
replays of distinct-request traces giving the same tables with the kernels and with
the numpy path they replace. (The per-cycle comparisons with the full-mask path and
the scores against upstream's formulas run with both paths in test_filter_windows.py
and test_fresh_scores.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import make_pod, make_state, node

from k8sim import validate_scenario
from k8sim.cluster import ops
from k8sim.scheduling import kernels
from k8sim.scheduling.plugins.node_unschedulable import NodeUnschedulable
from k8sim.sim.simulation import Simulation

pytestmark = pytest.mark.skipif(not kernels.available, reason="numba is not installed")

I64 = np.int64


def _rows(*rows: int) -> np.ndarray:
    return np.array(rows, dtype=np.intp)


def test_scan_by_hand():
    # One resource row; free cpu per node and the nodes the other filters pass:
    #   node    0  1  2  3  4  5  6  7
    #   free    5  0  7  2  9  3  0  6
    #   static  T  T  T  T  F  T  T  T
    # need 3: nodes 0, 2, 4 (static False), 5, 7 have room -> 0, 2, 5, 7 pass.
    table = np.array([[5, 0, 7, 2, 9, 3, 0, 6]], dtype=I64)
    static = np.array([1, 1, 1, 1, 0, 1, 1, 1], dtype=bool)
    need = np.array([3], dtype=I64)
    out = np.full(9, -1, dtype=np.intp)
    # From node 5, stopping at 3: 5, 7, then wrapping to 0; two of them at or after 5.
    assert kernels.scan(table, _rows(0), need, static, 5, 3, out) == (3, 2)
    assert out[:3].tolist() == [5, 7, 0]
    # No stop: every passing node, 5 and 7 before the wrap, 0 and 2 after it.
    assert kernels.scan(table, _rows(0), need, static, 5, 10, out) == (4, 2)
    assert out[:4].tolist() == [5, 7, 0, 2]
    # From node 0 nothing wraps: every node found lies at or after the start.
    assert kernels.scan(table, _rows(0), need, static, 0, 10, out) == (4, 4)
    assert out[:4].tolist() == [0, 2, 5, 7]
    # No rows to compare (a pod requesting nothing): the static mask alone.
    assert kernels.scan(table, _rows(), need, static, 6, 3, out) == (3, 2)
    assert out[:3].tolist() == [6, 7, 0]


def test_scan_compares_every_requested_row_only():
    # Row 1 is short on node 1 and row 2 on node 2; the pod requests rows 0 and 1 only,
    # so node 2 passes and node 1 does not.
    table = np.array([[4, 4, 4], [4, 1, 4], [4, 4, 0]], dtype=I64)
    need = np.array([2, 2, 3], dtype=I64)
    out = np.zeros(4, dtype=np.intp)
    count, before = kernels.scan(table, _rows(0, 1), need, np.ones(3, dtype=bool), 0, 5, out)
    assert (count, before) == (2, 2) and out[:2].tolist() == [0, 2]


def test_first_fit_by_hand():
    # Blocks of 4 nodes: block 0 has at most 1 free, block 1 holds nodes with 5 and 6.
    table = np.array([[1, 1, 1, 1, 1, 5, 1, 6]], dtype=I64)
    top = np.array([[1, 6]], dtype=I64)
    static = np.ones(8, dtype=bool)
    assert kernels.first_fit(table, _rows(0), np.array([5], dtype=I64), static, top, 4) == 5
    static[5] = False
    assert kernels.first_fit(table, _rows(0), np.array([5], dtype=I64), static, top, 4) == 7
    assert kernels.first_fit(table, _rows(0), np.array([7], dtype=I64), static, top, 4) == -1
    # The maxima rule a block out: with block 1's maximum given as 4 no node is looked at.
    assert kernels.first_fit(table, _rows(0), np.array([5], dtype=I64), np.ones(8, dtype=bool),
                             np.array([[1, 4]], dtype=I64), 4) == -1
    # A last block shorter than the others (10 nodes in blocks of 4: 4, 4, 2).
    table10 = np.array([[0] * 9 + [3]], dtype=I64)
    assert kernels.first_fit(table10, _rows(0), np.array([3], dtype=I64), np.ones(10, dtype=bool),
                             np.array([[0, 0, 3]], dtype=I64), 4) == 9


def test_refresh_blocks_by_hand():
    # Two rows, 10 nodes in blocks of 4 (the last holds 2). Nodes 1 and 9 changed (node 1
    # twice): blocks 0 and 2 are recomputed, block 1 keeps its (stale) 99s.
    table = np.array([[3, 8, 1, 2, 5, 5, 5, 5, 4, 7],
                      [0, 0, 6, 0, 1, 1, 1, 1, 2, 1]], dtype=I64)
    top = np.full((2, 3), 99, dtype=I64)
    kernels.refresh_blocks(table, top, np.array([1, 9, 1], dtype=np.intp), 4)
    assert top.tolist() == [[8, 99, 7], [6, 99, 2]]


def test_refresh_two_by_hand():
    # The table of test_refresh_blocks_by_hand. Nodes 9 and 1 (a release and a bind):
    # blocks 2 and 0 recomputed; then node 5 alone (b = -1): block 1.
    table = np.array([[3, 8, 1, 2, 5, 5, 5, 5, 4, 7],
                      [0, 0, 6, 0, 1, 1, 1, 1, 2, 1]], dtype=I64)
    top = np.full((2, 3), 99, dtype=I64)
    kernels.refresh_two(table, top, 9, 1, 4)
    assert top.tolist() == [[8, 99, 7], [6, 99, 2]]
    kernels.refresh_two(table, top, 5, -1, 4)
    assert top.tolist() == [[8, 5, 7], [6, 1, 2]]


def test_scores_by_hand():
    # Two candidates of three nodes; allocatable cpu 4000 / memory 8000 on each.
    #   node 0: non-zero requested (1000, 2000), requested (1000, 2000)
    #   node 2: non-zero requested (3000, 1000), requested (2500, 1000)
    # pod: non-zero (1000, 2000), requests (500, 2000).
    alloc = np.array([[4000, 4000, 4000], [8000, 8000, 8000]], dtype=I64)
    nonzero = np.array([[1000, 0, 3000], [2000, 0, 1000]], dtype=I64)
    requested = np.array([[1000, 0, 2500], [2000, 0, 1000]], dtype=I64)
    candidates = np.array([0, 2], dtype=np.intp)
    out = np.zeros(2, dtype=I64)
    # LeastAllocated: node 0 (4000-2000)*100/4000 = 50, (8000-4000)*100/8000 = 50 -> 50;
    # node 2: cpu requested 4000 -> 0, memory 3000 -> 5000*100/8000 = 62 -> (0+62)/2 = 31.
    assert kernels.least_or_most_allocated(alloc, nonzero, candidates, np.array([1000, 2000], dtype=I64),
                                           1, 1, False, out)
    assert out.tolist() == [50, 31]
    # MostAllocated, weights 3 (cpu) and 1: node 0 (50*3 + 50) / 4 = 50; node 2
    # (100*3 + 37) / 4 = 84 (3000*100/8000 = 37.5 -> 37; 337 / 4 = 84.25 -> 84).
    assert kernels.least_or_most_allocated(alloc, nonzero, candidates, np.array([1000, 2000], dtype=I64),
                                           3, 1, True, out)
    assert out.tolist() == [50, 84]
    # BalancedAllocation: node 0 fractions 1500/4000 = 0.375, 4000/8000 = 0.5,
    # std = 0.0625 -> int(0.9375 * 100) = 93; node 2: 3000/4000 = 0.75, 3000/8000 = 0.375,
    # std = 0.1875 -> int(81.25) = 81.
    assert kernels.balanced_cpu_memory(alloc, requested, candidates, np.array([500, 2000], dtype=I64), out)
    assert out.tolist() == [93, 81]
    # A candidate without allocatable memory: False, the general path scores them.
    alloc[1, 2] = 0
    assert not kernels.least_or_most_allocated(alloc, nonzero, candidates, np.array([1, 1], dtype=I64), 1, 1,
                                               False, out)
    assert not kernels.balanced_cpu_memory(alloc, requested, candidates, np.array([1, 1], dtype=I64), out)


def test_node_unschedulable_mask_follows_cordon_and_ready():
    """The kept mask is per node-table version: a cordon or a NotReady node gives a new
    one, and the kept arrays are read-only (shared by every shape)."""
    state = make_state([node(f"n{i}", cpu="4", memory="8Gi") for i in range(4)])
    plugin = NodeUnschedulable()
    pod = make_pod(state, {"cpu": "1", "memory": "1Gi"})
    first = plugin.filter(state, pod)
    assert first.tolist() == [True] * 4 and not first.flags.writeable
    assert plugin.filter(state, pod) is first
    ops.set_unschedulable(state, 1, True)
    assert plugin.filter(state, pod).tolist() == [True, False, True, True]
    ops.set_ready(state, 3, False)
    assert plugin.filter(state, pod).tolist() == [True, False, True, False]
    assert first.tolist() == [True] * 4  # the old mask is left as it was


def _trace(path: Path, pods: int, seed: int) -> Path:
    """A distinct-request trace (openb pod list): every pod its own cpu and memory."""
    rng = np.random.default_rng(seed)
    t = np.round(np.cumsum(rng.exponential(0.1, pods)), 3)
    cpu = rng.integers(100, 6000, pods)
    frame = pd.DataFrame({
        "name": [f"p{i}" for i in range(pods)], "cpu_milli": cpu, "memory_mib": 256 + cpu + np.arange(pods),
        "num_gpu": 0, "gpu_milli": 0, "gpu_spec": "", "qos": "BE", "pod_phase": "Running",
        "creation_time": t, "deletion_time": t + np.round(rng.exponential(300.0, pods) + 1, 3),
        "scheduled_time": t,
    })
    frame.to_csv(path, index=False, lineterminator="\n")
    return path


def _replay(trace: Path, preset: str, enabled: bool, monkeypatch, record: bool = False,
            after: int = 0, actions: list | None = None) -> dict[str, pd.DataFrame]:
    monkeypatch.setattr(kernels, "enabled", enabled)
    monkeypatch.setattr(kernels, "AFTER", after)
    doc = {
        "name": "kernels", "seed": 5, "sample_interval_s": 120,
        "cluster": {"node_pools": [
            {"name": "a", "count": 150, "allocatable": {"cpu": "16", "memory": "64Gi"}},
            {"name": "b", "count": 90, "allocatable": {"cpu": "8", "memory": "16Gi"},
             "taints": [{"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}]},
        ]},
        "workloads": [{"name": "t", "trace": {"format": "openb", "files": [str(trace)]}}],
        "scheduler": {"recordDecisions": record, "profiles": [{"preset": preset}]},
        "actions": actions or [],
    }
    result = Simulation(validate_scenario(doc)).run()
    return {name: getattr(result, name) for name in ("pods", "events", "timeseries", "decisions")
            if getattr(result, name) is not None}


@pytest.mark.parametrize("preset", ["kube-default", "first-fit", "binpack"])
def test_replay_same_tables_with_and_without_kernels(tmp_path, monkeypatch, preset):
    trace = _trace(tmp_path / "t.csv", 1500, 11)
    fast = _replay(trace, preset, True, monkeypatch)
    reference = _replay(trace, preset, False, monkeypatch)
    # The default: the numpy path for the first 256 one-off cycles, then the kernels.
    switched = _replay(trace, preset, True, monkeypatch, after=256)
    for name in ("pods", "events", "timeseries"):
        pd.testing.assert_frame_equal(fast[name], reference[name], check_exact=True, obj=f"{preset}: {name}")
        pd.testing.assert_frame_equal(switched[name], reference[name], check_exact=True, obj=f"{preset}: {name}")
    pods = fast["pods"]
    # An overloaded cluster (about 1,500 x 3 cores asked of 3,120 at the peak): every
    # node is used and many pods wait for room.
    assert pods["node"].nunique() == 240
    assert (pods["scheduled"] > pods["created"]).sum() > 100


@pytest.mark.parametrize("preset", ["kube-default", "first-fit"])
def test_node_changes_mid_replay_same_tables_with_and_without_kernels(tmp_path, monkeypatch, preset):
    """The compiled Filter phase keeps the request-blind filters' mask per trace spec and
    node table version (Profile._spec_plan): cordons, an uncordon, machines down and
    deleted nodes in the middle of the replay must reach it, as they reach the numpy
    path (which asks every filter every cycle)."""
    trace = _trace(tmp_path / "t.csv", 1500, 13)
    actions = [
        {"action": "cordon", "at_s": 20.0, "nodes": {"pool": "b"}},
        {"action": "fail_node", "at_s": 35.0, "duration_s": 40.0, "nodes": {"names": ["a-3", "a-4", "a-77"]}},
        {"action": "uncordon", "at_s": 60.0, "nodes": {"pool": "b"}},
        {"action": "delete_node", "at_s": 90.0, "nodes": {"names": ["a-10", "b-5"]}},
    ]
    fast = _replay(trace, preset, True, monkeypatch, actions=actions)
    reference = _replay(trace, preset, False, monkeypatch, actions=actions)
    for name in ("pods", "events", "timeseries"):
        pd.testing.assert_frame_equal(fast[name], reference[name], check_exact=True, obj=f"{preset}: {name}")
    # The changes did reach the placements: no pod bound to pool b while it was
    # cordoned, none to a deleted node after its deletion.
    pods = fast["pods"]
    on_b = pods["node"].fillna("").str.startswith("b-")
    assert not (on_b & (pods["scheduled"] > 20.0) & (pods["scheduled"] < 60.0)).any()
    assert on_b.any()
    assert not (pods["node"].isin(["a-10", "b-5"]) & (pods["scheduled"] > 90.0)).any()


def test_recorded_decisions_same_with_and_without_kernels(tmp_path, monkeypatch):
    trace = _trace(tmp_path / "t.csv", 400, 12)
    fast = _replay(trace, "kube-default", True, monkeypatch, record=True)
    reference = _replay(trace, "kube-default", False, monkeypatch, record=True)
    pd.testing.assert_frame_equal(fast["decisions"], reference["decisions"], check_exact=True)
    pd.testing.assert_frame_equal(fast["pods"], reference["pods"], check_exact=True)


@pytest.mark.slow
def test_environment_switch_turns_the_kernels_off():
    env = dict(os.environ, K8SIM_KERNELS="0")
    code = "from k8sim.scheduling import kernels; print(kernels.available, kernels.enabled)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]


@pytest.mark.slow
def test_a_run_whose_shapes_come_back_does_not_import_numba():
    """The quickstart scenario's shapes come back (a workload's pods share one): its
    profile never runs AFTER cycles without an entry, so numba is never imported."""
    code = ("import sys; from k8sim import load_scenario; from k8sim.sim.simulation import Simulation; "
            "Simulation(load_scenario('scenarios/quickstart.yaml')).run(); print('numba' in sys.modules)")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split()[-1] == "False"
