"""Summary keys that keep a reader from being misled: lost pods and lost work, the
pending counts under their accurate names, nodes in use and node-hours, and the
headline point of an inflation replay. Every expected number is derived by hand in the
comment above it, from tiny scenarios (zero start latency unless said)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import k8sim
from k8sim.metrics.result import gpu_at_arrived
from k8sim.metrics.usage import in_use_steps, step_stats


def wl(name: str, at: float | list[float], cpu: str, duration: float | None = None, **template) -> dict:
    w: dict = {"name": name, "arrival": {"kind": "times", "times_s": at if isinstance(at, list) else [at]},
               "template": {"requests": {"cpu": cpu, "memory": "1Gi"}, **template}}
    if duration is not None:
        w["duration"] = {"kind": "constant", "value": duration}
    return w


def nodes(count: int, cpu: str = "4") -> dict:
    return {"node_pools": [{"name": "n", "count": count, "allocatable": {"cpu": cpu, "memory": "16Gi"}}]}


def run(doc: dict, **kw) -> k8sim.RunResult:
    return k8sim.run(k8sim.validate_scenario({"version": 1, "seed": 1, **doc}), **kw)


# --------------------------------------------------------------------------- lost pods


def preemption_result() -> k8sim.RunResult:
    # One node, 4 CPUs. low (cpu 4, priority 0, grace 5 s, 100 s) binds and runs at 0.
    # high (cpu 2, priority 10, 10 s) arrives at 10: no room, low is preempted at 10,
    # keeps the node for its 5 s grace period and ends Failed at 15; high binds at 15
    # and completes at 25 (the end of the run).
    return run({"cluster": nodes(1),
                "workloads": [wl("low", 0, "4", 100, terminationGracePeriodSeconds=5),
                              wl("high", 10, "2", 10, priority=10)]})


def test_preempted_pods_and_lost_work_are_in_the_summary():
    res = preemption_result()
    s = res.summary().iloc[0]
    assert s["pods_submitted"] == 2
    assert s["pods_completed"] == 1
    assert s["pods_preempted"] == 1
    assert s["pods_failed"] == 1
    assert s["pods_failed_preempted"] == 1
    for key in ("node_lost", "container_error", "unschedulable", "other"):
        assert s[f"pods_failed_{key}"] == 0, key
    # Work (CPU milli x run time): low ran [0, 15) x 4000 = 60,000 and was thrown away;
    # high ran [15, 25) x 2000 = 20,000. Lost share 60,000 / 80,000 = 0.75.
    assert s["work_lost_share"] == pytest.approx(0.75)
    notes = res.notes()
    assert any("1 of 2 pods were lost" in n and "1 preempted" in n and "75.0% of the work" in n for n in notes)


def test_a_victim_still_in_its_grace_period_is_preempted_and_its_work_lost():
    # As above but the run stops at 12: low was preempted at 10 and is still being
    # killed (until 15), so it is not Failed yet. high is still Pending.
    # Work: low ran [0, 12) x 4000 = 48,000, all thrown away; high never ran: share 1.
    res = run({"duration_s": 12, "cluster": nodes(1),
               "workloads": [wl("low", 0, "4", 100, terminationGracePeriodSeconds=5),
                             wl("high", 10, "2", 10, priority=10)]})
    s = res.summary().iloc[0]
    assert (s["pods_preempted"], s["pods_failed"], s["pods_failed_preempted"]) == (1, 0, 0)
    assert s["work_lost_share"] == pytest.approx(1.0)
    assert any("0 of 2 pods were lost" in n and "1 preempted in all" in n for n in res.notes())


def test_no_loss_no_note():
    # One pod, 10 s, completes: nothing lost, work share 0 (0 / 10 x 1000).
    res = run({"cluster": nodes(1), "workloads": [wl("a", 0, "1", 10)]})
    s = res.summary().iloc[0]
    assert (s["pods_preempted"], s["pods_failed"], s["work_lost_share"]) == (0, 0, 0.0)
    assert res.notes() == []


# --------------------------------------------------------------------------- pending counts


def test_pending_counts_have_accurate_names():
    # One node, 2 CPUs, run for 10 s. blocker (2 CPUs, runs for ever) binds at 0.
    # big (4 CPUs) fits no node at all; waiter (1 CPU, at 1) fits the node but not now.
    # Both are Pending at the end after a failed attempt; only big never fits.
    res = run({"duration_s": 10, "cluster": nodes(1, cpu="2"),
               "workloads": [wl("blocker", 0, "2"), wl("big", 0, "4"), wl("waiter", 1, "1")]})
    s = res.summary().iloc[0]
    assert "pods_unschedulable" not in s.index  # renamed: it never meant "fits no node"
    assert s["pods_pending_at_end"] == 2
    assert s["pods_pending_failed_scheduling"] == 2
    assert s["pods_never_fit"] == 1
    notes = " ".join(res.notes())
    assert "1 pods request more than any node has" in notes and "big" in notes
    assert "2 pods were still Pending at the end (2 of them after a failed scheduling attempt)" in notes


def test_sweep_rows_of_earlier_versions_keep_the_old_pending_key_readable():
    from k8sim.experiments.sweeps import _row

    payload = {"run_id": "x", "status": "ok", "profile": "p", "replication": 0, "seed": 1, "overrides": {},
               "summary": {"pods_unschedulable": 3, "pods_submitted": 9}}
    row = _row(payload, [])
    assert row["pods_pending_failed_scheduling"] == 3
    assert "pods_unschedulable" not in row


# --------------------------------------------------------------------------- nodes in use


# Three nodes of 2 CPUs. a (1 CPU, 0-10), b (1 CPU, 0-20), c (1 CPU, 5-15).
# binpack: b joins a's node; c finds it full and takes a second node.
#   in use: [0,5) 1, [5,10) 2, [10,15) 2 (b and c), [15,20) 1 -> integral 30 node-s
#   over [0, 20]: mean 1.5, peak 2; from warm-up 5: [5,20] integral 25, mean 25/15.
# spread: a, b, c each on their own node.
#   in use: [0,5) 2, [5,10) 3, [10,15) 2, [15,20) 1 -> integral 40, mean 2.0, peak 3.
# Nodes present: 3 x 20 s = 60 node-s.
PACKING = [wl("a", 0, "1", 10), wl("b", 0, "1", 20), wl("c", 5, "1", 10)]


@pytest.mark.parametrize(("preset", "integral", "peak"), [("binpack", 30, 2), ("spread", 40, 3)])
def test_nodes_in_use_and_node_hours(preset, integral, peak):
    res = run({"cluster": nodes(3, cpu="2"), "workloads": PACKING,
               "scheduler": {"profiles": [{"preset": preset}]}})
    s = res.summary().iloc[0]
    assert res.end_time == 20
    assert s["nodes_in_use_mean"] == pytest.approx(integral / 20)
    assert s["nodes_in_use_peak"] == peak
    assert s["node_hours_in_use"] == pytest.approx(integral / 3600)
    assert s["node_hours"] == pytest.approx(60 / 3600)


def test_nodes_in_use_honours_the_warmup():
    res = run({"warmup_s": 5, "cluster": nodes(3, cpu="2"), "workloads": PACKING,
               "scheduler": {"profiles": [{"preset": "binpack"}]}})
    s = res.summary().iloc[0]
    assert s["nodes_in_use_mean"] == pytest.approx(25 / 15)
    assert s["nodes_in_use_peak"] == 2
    assert s["node_hours"] == pytest.approx(3 * 15 / 3600)


def test_in_use_steps_by_hand():
    # node 0: [0, 10) then [10, 20) (back to back: in use without a gap), node 1: [5, 6),
    # node 2: a zero-length stay at 7 (never in use). Count: [0,5) 1, [5,6) 2, [6,20) 1,
    # and 0 from the end of the run (20, where the still-bound pod is cut).
    times, counts = in_use_steps(np.array([0, 0, 1, 2]), np.array([0.0, 10.0, 5.0, 7.0]),
                                 np.array([10.0, np.nan, 6.0, 7.0]), 20.0)
    assert times.tolist() == [0.0, 5.0, 6.0, 20.0]
    assert counts.tolist() == [1, 2, 1, 0]
    # Over [4, 20]: 1 x 1 + 2 x 1 + 1 x 14 = 17; mean 17/16; peak 2. Over [6, 20]: peak 1.
    assert step_stats(times, counts, 4.0, 20.0) == pytest.approx((17.0, 17 / 16, 2.0))
    assert step_stats(times, counts, 6.0, 20.0)[2] == 1.0


# --------------------------------------------------------------------------- inflation


def test_gpu_at_arrived_by_hand():
    # The hand scenario of test_gpu_metrics (capacity 2000): arrived shares 0.25 (a),
    # 0.6 (b), 1.1 (c). At 100%: the last event with arrived <= 1 is b's binding:
    # allocated 1200 / 2000 = 0.6, nothing arrived is unallocated. At 50%: after a's
    # binding, 0.25 and 0. The run never reaches 120%: NaN.
    from tests.metrics.test_gpu_metrics import hand_sim

    gpu = hand_sim().run().gpu
    assert gpu_at_arrived(gpu, 1.0) == {"gpu_allocated_share_at_arrived_100": 0.6,
                                        "gpu_unallocated_share_at_arrived_100": 0.0}
    assert gpu_at_arrived(gpu, 0.5) == {"gpu_allocated_share_at_arrived_50": 0.25,
                                        "gpu_unallocated_share_at_arrived_50": 0.0}
    assert all(math.isnan(v) for v in gpu_at_arrived(gpu, 1.2).values())
    assert all(math.isnan(v) for v in gpu_at_arrived(None).values())


POD_HEADER = ("name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
              "deletion_time,scheduled_time\n")


def test_inflation_summary_reports_the_headline_and_leaves_out_time_metrics(tmp_path: Path):
    # One node with 2 GPUs (capacity 2000); the trace has one pod asking 1 x 600 milli.
    # Target 130% = 2600: copies follow until the cumulative request reaches it:
    # 600, 1200, 1800, 2400, 3000 -> 5 pods, arrived shares 0.3 ... 1.5 whatever the order.
    # Pod 1 takes 600 of one device, pod 2 the other device; pods 3-5 find 400 free per
    # device and are dropped. At 100% arrived: the last event at or below 1.0 is pod 3
    # (0.9, dropped): allocated 1200 / 2000 = 0.6, unallocated 0.9 - 0.6 = 0.3.
    (tmp_path / "pods.csv").write_text(POD_HEADER + "a,1000,1024,1,600,,LS,Running,0,10,0\n")
    (tmp_path / "nodes.csv").write_text("sn,cpu_milli,memory_mib,gpu,model\nn,64000,262144,2,G1\n")
    doc = {"version": 1, "name": "infl",
           "cluster": {"trace_nodes": [{"format": "openb", "file": "nodes.csv"}]},
           "workloads": [{"name": "trace", "trace": {"format": "openb", "files": ["pods.csv"],
                                                     "mode": "inflation", "target_gpu_share": 1.3}}]}
    res = k8sim.run(k8sim.validate_scenario(doc, base_dir=tmp_path))
    s = res.summary().iloc[0]
    assert s["pods_submitted"] == 5
    assert (s["pods_dropped"], s["pods_failed"], s["pods_failed_unschedulable"]) == (3, 3, 3)
    assert s["gpu_allocated_share_at_arrived_100"] == pytest.approx(0.6)
    assert s["gpu_unallocated_share_at_arrived_100"] == pytest.approx(0.3)
    assert s["gpu_allocated_share_end"] == pytest.approx(0.6)
    assert s["gpu_arrived_share_end"] == pytest.approx(1.5)
    assert s["nodes_in_use_peak"] == 1
    # Virtual time is only an order here: no latency, time-weighted mean, makespan,
    # node-hours or end time.
    for key in s.index:
        assert not key.startswith(("scheduling_latency", "startup_latency", "mean_")), key
    for key in ("makespan_s", "end_time_s", "nodes_in_use_mean", "node_hours", "node_hours_in_use"):
        assert key not in s.index
    assert any("3 of 5 pods were dropped" in n for n in res.notes())


def test_a_comparison_report_says_which_profiles_lost_pods():
    # The preemption scenario above under kube-default: 1 pod lost (preempted) per run,
    # 75% of the work thrown away.
    from k8sim.experiments import compare, comparison_report

    sc = k8sim.validate_scenario({"version": 1, "seed": 1, "cluster": nodes(1),
                                  "workloads": [wl("low", 0, "4", 100, terminationGracePeriodSeconds=5),
                                                wl("high", 10, "2", 10, priority=10)]})
    report = comparison_report(compare(sc, ["kube-default", "binpack"], replications=1))
    assert "## Lost pods" in report
    assert ("- **kube-default**: 1 pods lost per run on average (1 preempted), 75% of the work done thrown away"
            in report)


class _At:
    """A component that does one thing through the Cluster API at a given time."""

    name = "at"

    def __init__(self, ctx, at_s: float, action):
        self.ctx, self.at_s, self.action = ctx, at_s, action

    def start(self) -> None:
        self.ctx.env.process(self._run())

    def _run(self):
        yield self.ctx.env.timeout(self.at_s)
        self.action(self.ctx)

    def contribute(self):
        from k8sim.component import Contribution

        return Contribution()


def test_failure_reasons_node_lost_container_error_and_other():
    # One 4-CPU node. a (1 CPU, 0-100), b (1 CPU, 0-100, restartPolicy Never, crashes
    # at 5: container_error), c (1 CPU, 0-100, deleted through the API at 8 with
    # reason Evicted and no grace: other); the node is removed at 10: a is lost
    # (NodeLost, no grace). Work (CPU milli x s): a 10 x 1000, b 5 x 1000, c 8 x 1000,
    # all thrown away: share 1. Nothing was preempted.
    doc = {"cluster": nodes(1),
           "workloads": [wl("a", 0, "1", 100),
                         wl("b", 0, "1", 100, restartPolicy="Never",
                            crash={"probability": 1, "after": {"kind": "constant", "value": 5}}),
                         wl("c", 0, "1", 100)]}

    def delete_c(ctx):
        ctx.api.delete_pod(ctx.state.pods.names.index("c-0"), 0.0, "Evicted")

    res = run(doc, components=[lambda ctx: _At(ctx, 8, delete_c),
                               lambda ctx: _At(ctx, 10, lambda c: c.api.remove_node(0))])
    s = res.summary().iloc[0]
    assert s["pods_failed"] == 3
    assert (s["pods_failed_node_lost"], s["pods_failed_container_error"], s["pods_failed_other"]) == (1, 1, 1)
    assert (s["pods_preempted"], s["pods_failed_preempted"], s["pods_failed_unschedulable"]) == (0, 0, 0)
    assert s["work_lost_share"] == pytest.approx(1.0)
    assert any("3 of 3 pods were lost (ended Failed: 1 node lost, 1 container error, 1 other; 0 preempted in all)"
               in n for n in res.notes())


def test_in_use_steps_against_brute_force():
    # Random stays on 6 nodes, many sharing instants; the step function must give, at
    # every instant and just after it, the number of nodes holding a pod counted
    # directly from the intervals (a node holds a pod at t when start <= t < end).
    rng = np.random.default_rng(5)
    m = 300
    node = rng.integers(0, 6, m)
    start = rng.integers(0, 50, m).astype(float)
    end = start + rng.integers(0, 10, m)
    end[rng.random(m) < 0.1] = np.nan
    times, counts = in_use_steps(node, start, end, 60.0)
    e = np.where(np.isnan(end), 60.0, end)
    for t in np.arange(0.0, 60.0, 0.5):
        expected = len({int(n) for n, s, f in zip(node, start, e, strict=True) if s <= t < f})
        k = int(np.searchsorted(times, t, side="right")) - 1
        assert counts[k] == expected, t


def test_a_comparison_saved_before_the_rename_loads_under_the_new_name(tmp_path: Path):
    import json

    import pandas as pd

    from k8sim.experiments import compare, load_comparison

    sc = k8sim.validate_scenario({"version": 1, "cluster": nodes(1), "workloads": [wl("a", 0, "1", 10)]})
    compare(sc, ["kube-default"], replications=1).save(tmp_path)
    # Write it back as an earlier version did: the old key everywhere.
    old = {"pods_pending_failed_scheduling": "pods_unschedulable"}
    pd.read_parquet(tmp_path / "runs.parquet").rename(columns=old).to_parquet(tmp_path / "runs.parquet")
    for name in ("summary.csv", "paired.csv"):
        frame = pd.read_csv(tmp_path / name)
        frame["metric"] = frame["metric"].replace(old)
        frame.to_csv(tmp_path / name, index=False)
    meta = json.loads((tmp_path / "comparison.json").read_text())
    meta["metrics"] = [old.get(m, m) for m in meta["metrics"]]
    (tmp_path / "comparison.json").write_text(json.dumps(meta))
    back = load_comparison(tmp_path)
    assert "pods_pending_failed_scheduling" in back.runs and "pods_unschedulable" not in back.runs
    assert "pods_pending_failed_scheduling" in back.metrics
    assert (back.summary["metric"] == "pods_pending_failed_scheduling").sum() == 1


def test_rows_where_gives_the_frame_itself_when_every_row_is_selected():
    """The summary's windows read the pods frame: selecting every row returns the frame
    (no copy of a million rows), any other mask the selected rows."""
    from k8sim.metrics.usage import rows_where

    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert rows_where(frame, frame["a"] > 0) is frame
    pd.testing.assert_frame_equal(rows_where(frame, frame["a"] != 2), frame[frame["a"] != 2])
    assert len(rows_where(frame, frame["a"] > 5)) == 0


@pytest.mark.parametrize("chunk", [1, 7, 1 << 17])
def test_nodes_in_use_steps_by_groups_of_nodes_equal_one_pass(chunk, monkeypatch):
    """in_use_steps works through groups of nodes of about ``_STEPS_CHUNK`` pods; any
    group size gives the one-pass steps exactly (ties of time across nodes and within a
    node, releases at the same instant as binds, pods still bound at the end). One pass
    is checked by hand: node 0 busy [0, 5) and [5, 8) (one busy period), node 1 [2, 3):
    counts 1 at 0, 2 at 2, 1 at 3, 0 at 8."""
    from k8sim.metrics import usage

    assert [a.tolist() for a in usage.in_use_steps(np.array([0, 0, 1]), np.array([0.0, 5.0, 2.0]),
                                                   np.array([5.0, 8.0, 3.0]), 10.0)] == [[0.0, 2.0, 3.0, 8.0],
                                                                                          [1, 2, 1, 0]]
    rng = np.random.default_rng(chunk)
    m = 3_000
    node = rng.integers(0, 40, m)
    start = np.round(rng.uniform(0, 50, m))
    end = start + np.round(rng.exponential(4, m))
    end[::9] = np.nan
    want = usage.in_use_steps(node, start, end, 60.0)
    monkeypatch.setattr(usage, "_STEPS_CHUNK", chunk)
    got = usage.in_use_steps(node, start, end, 60.0)
    assert all(a.tobytes() == b.tobytes() and a.dtype == b.dtype for a, b in zip(got, want, strict=True))
