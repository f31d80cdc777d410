"""The scheduling loop as a timer (cycles that take no virtual time): the same run, table
for table, as the generator process it replaces (``Scheduler.loop_timer = False``), and
the per-pod cluster events still move waiting pods.

The timer is put on SimPy's queue where the process's events were: its start where the
process's ``Initialize`` was (URGENT), a wake-up where the idle event's ``succeed`` put
it (NORMAL, now), a resume after ``decide`` ahead of every other event of its instant."""

from __future__ import annotations

import pandas as pd
import pytest

from k8sim import RunResult, Simulation, validate_scenario
from k8sim.scheduling.scheduler import Scheduler

TABLES = ("pods", "nodes", "events", "timeseries")


def busy(seed: int) -> dict:
    """Pods that wait (unschedulable, then moved by releases), preemption, same-time
    arrivals and ends (bursts, constant run times, zero start latency), node failures."""
    return {
        "name": "busy",
        "seed": seed,
        "duration_s": 2500,
        "sample_interval_s": 30,
        "cluster": {"node_pools": [
            {"name": "a", "count": 3, "allocatable": {"cpu": "4", "memory": "16Gi"}},
            {"name": "b", "count": 2, "allocatable": {"cpu": "2", "memory": "8Gi"}},
        ]},
        "workloads": [
            {"name": "batch", "arrival": {"kind": "poisson", "rate_per_s": 0.08},
             "template": {"requests": {"cpu": "1", "memory": "1Gi"},
                          "start_latency": {"kind": "constant", "value": 0}},
             "duration": {"kind": "exponential", "mean": 200}},
            {"name": "wide", "arrival": {"kind": "burst", "count": 10, "at_s": 300},
             "template": {"requests": {"cpu": "3", "memory": "2Gi"}},
             "duration": {"kind": "constant", "value": 100}},
            {"name": "urgent", "arrival": {"kind": "burst", "count": 6, "at_s": 900},
             "template": {"requests": {"cpu": "2", "memory": "2Gi"}, "priority": 1000},
             "duration": {"kind": "constant", "value": 60}},
        ],
        "failures": [
            {"kind": "node", "nodes": {"pool": "a"}, "time_to_failure": {"kind": "exponential", "mean": 1000},
             "time_to_repair": {"kind": "exponential", "mean": 150}},
        ],
    }


def run(doc: dict, timer: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Simulation, RunResult]:
    monkeypatch.setattr(Scheduler, "loop_timer", timer)
    sim = Simulation(validate_scenario(doc))
    return sim, sim.run()


@pytest.mark.parametrize("seed", [1, 2])
def test_the_timer_loop_gives_the_tables_of_the_process_loop(seed, monkeypatch):
    fast, got = run(busy(seed), True, monkeypatch)
    slow, want = run(busy(seed), False, monkeypatch)
    assert fast.scheduler.process is None and fast.scheduler._timer is not None
    assert slow.scheduler.process is not None and slow.scheduler._timer is None
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(got, table), getattr(want, table), check_exact=True)
    pd.testing.assert_frame_equal(got.summary(), want.summary(), check_exact=True)
    # The run went through the paths under test: pods waited and were placed later,
    # preemption, node failures.
    kinds = set(got.events["kind"].astype(str))
    assert {"FailedScheduling", "Preempting", "Preempted", "NodeDown"} <= kinds
    failed = set(got.events.loc[got.events["kind"] == "FailedScheduling", "pod"])
    placed = set(got.events.loc[got.events["kind"] == "Scheduled", "pod"])
    assert len(failed & placed) >= 5


@pytest.mark.parametrize("pick", ["suggested", "last"])
def test_the_step_api_gives_the_same_run_with_either_loop(pick, monkeypatch):
    """External deciding: the loop waits for ``decide`` and resumes before anything else
    happens at that instant, as the process does (deciding another node than the
    suggestion too)."""
    doc = busy(3)
    doc["duration_s"] = 1200
    results = []
    for timer in (True, False):
        monkeypatch.setattr(Scheduler, "loop_timer", timer)
        sim = Simulation(validate_scenario(doc))
        decided = 0
        while (d := sim.next_decision()) is not None:
            feasible = d.mask.nonzero()[0]
            sim.decide(d.suggested if pick == "suggested" else int(feasible[-1]))
            decided += 1
        assert decided > 50
        results.append(sim.result())
    got, want = results
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(got, table), getattr(want, table), check_exact=True)


def one_node(extra_workloads: list[dict]) -> dict:
    return {
        "name": "one-node",
        "seed": 1,
        "cluster": {"node_pools": [{"name": "n", "count": 1, "allocatable": {"cpu": "3", "memory": "8Gi"}}]},
        "workloads": [
            {"name": "b", "arrival": {"kind": "burst", "count": 3, "at_s": 0},
             "template": {"requests": {"cpu": "1", "memory": "1Gi"},
                          "start_latency": {"kind": "constant", "value": 0}},
             "duration": {"kind": "constant", "value": 10}},
            *extra_workloads,
        ],
    }


@pytest.mark.parametrize("timer", [True, False])
def test_same_time_events_keep_their_order(timer, monkeypatch):
    """Rows at one instant, derived by hand from SimPy's order (time, priority, insertion):

    t=0: the burst creates b-0..b-2 in one arrival step; the scheduler, woken by the
    first, binds all three in one go (NORMAL, after the arrivals' URGENT start); their
    lifecycles start after that (URGENT entries pushed by the binds), zero latency: Started.
    t=10: late-0's arrival was put on the queue at t=0 before the three run times (its
    workload's arrival step ran at t=0 before the scheduler), so it is created first; the
    scheduler's wake-up goes after the three run-time ends already queued, so the node
    (3 CPU, full until then) is free when late-0 is scheduled: no FailedScheduling."""
    doc = one_node([
        {"name": "late", "arrival": {"kind": "burst", "count": 1, "at_s": 10},
         "template": {"requests": {"cpu": "1", "memory": "1Gi"},
                      "start_latency": {"kind": "constant", "value": 0}},
         "duration": {"kind": "constant", "value": 5}},
    ])
    _, result = run(doc, timer, monkeypatch)
    ev = result.events
    rows = list(zip(ev["time"].tolist(), ev["kind"].astype(str).tolist(), ev["pod"].tolist(), strict=True))
    rows = [r for r in rows if r[1] not in ("NodeAdded",)]
    assert rows == [
        (0.0, "PodCreated", "b-0"), (0.0, "PodCreated", "b-1"), (0.0, "PodCreated", "b-2"),
        (0.0, "Scheduled", "b-0"), (0.0, "Scheduled", "b-1"), (0.0, "Scheduled", "b-2"),
        (0.0, "Started", "b-0"), (0.0, "Started", "b-1"), (0.0, "Started", "b-2"),
        (10.0, "PodCreated", "late-0"),
        (10.0, "Completed", "b-0"), (10.0, "Completed", "b-1"), (10.0, "Completed", "b-2"),
        (10.0, "Scheduled", "late-0"), (10.0, "Started", "late-0"),
        (15.0, "Completed", "late-0"),
    ]


@pytest.mark.parametrize("timer", [True, False])
def test_a_release_moves_a_waiting_pod_at_once(timer, monkeypatch):
    """w-0 (3 CPU) arrives at t=1 while b-0..b-2 fill the node until t=10: it fails
    (attempt 1) and waits in unschedulablePods. The first release at t=10 is a PodDelete
    event, which NodeResourcesFit registers, so it moves w-0 back
    (MoveAllToActiveOrBackoffQueue, upstream
    ``pkg/scheduler/backend/queue/scheduling_queue.go``); its back-off (1 s from t=1,
    expiry 2 <= 10) is over, so it goes to activeQ. The scheduler's wake-up is queued
    after the two other ends of that instant, so w-0 is tried once the node is empty and
    fits (attempt 2). Without the move it would wait for the 5-minute flush of
    unschedulablePods (upstream ``flushUnschedulablePodsLeftover``)."""
    doc = one_node([
        {"name": "w", "arrival": {"kind": "burst", "count": 1, "at_s": 1},
         "template": {"requests": {"cpu": "3", "memory": "1Gi"},
                      "start_latency": {"kind": "constant", "value": 0}},
         "duration": {"kind": "constant", "value": 5}},
    ])
    _, result = run(doc, timer, monkeypatch)
    ev = result.events
    w = ev[ev["pod"] == "w-0"]
    assert w["kind"].astype(str).tolist() == ["PodCreated", "FailedScheduling", "Scheduled", "Started", "Completed"]
    assert w["time"].tolist() == [1.0, 1.0, 10.0, 10.0, 15.0]
    pods = result.pods
    assert int(pods.loc[pods["pod"] == "w-0", "attempts"].iloc[0]) == 2
