"""Queue ordering and retry-on-capacity semantics, derived by hand."""

from __future__ import annotations

from k8sim import run, validate_scenario


def one_node_scenario(workloads: list[dict], initial_duration: float = 10.0) -> dict:
    # Preemption is disabled: these tests are about queue order alone.
    return {
        "name": "order",
        "scheduler": {"profiles": [{"disabled": ["DefaultPreemption"]}]},
        "cluster": {"nodes": [{"name": "n0", "allocatable": {"cpu": "1", "memory": "1Gi"}}]},
        "initial_pods": [{"name": "blocker", "nodeName": "n0", "requests": {"cpu": "1"},
                          "duration": {"kind": "constant", "value": initial_duration}}],
        "workloads": workloads,
    }


def test_priority_then_arrival_order():
    # The node is full until t=10 (blocker). Two low-priority pods arrive at t=1, a
    # high-priority pod at t=2; each needs the whole node for 10 s.
    # PrioritySort: at t=10 the high-priority pod goes first (bound 10, done 20), then
    # low-0 (bound 20, done 30), then low-1 (bound 30).
    sc = validate_scenario(one_node_scenario([
        {"name": "low", "arrival": {"kind": "burst", "count": 2, "at_s": 1},
         "template": {"requests": {"cpu": "1"}, "priority": 0},
         "duration": {"kind": "constant", "value": 10}},
        {"name": "high", "arrival": {"kind": "times", "times_s": [2]},
         "template": {"requests": {"cpu": "1"}, "priority": 100},
         "duration": {"kind": "constant", "value": 10}},
    ]))
    pods = run(sc).pods.set_index("pod")
    assert pods.loc["high-0", "scheduled"] == 10
    assert pods.loc["low-0", "scheduled"] == 20
    assert pods.loc["low-1", "scheduled"] == 30
    # Attempts, step by step, with upstream's queue (every waiting pod whose rejecting
    # plugin registered the event is moved back; backoff long expired each time):
    #   t=1  low-0 fails (1), low-1 fails (1); t=2 high-0 fails (1)
    #   t=10 blocker ends (PodDelete): all three back to activeQ; high-0 first by
    #        priority -> bound (2); low-0 fails (2); low-1 fails (2)
    #   t=20 high-0 ends: low-0 (same timestamp as low-1, queued first) bound (3);
    #        low-1 fails (3)
    #   t=30 low-0 ends: low-1 bound (4)
    assert pods.loc["high-0", "attempts"] == 2
    assert pods.loc["low-0", "attempts"] == 3
    assert pods.loc["low-1", "attempts"] == 4


def test_fifo_within_a_shape():
    # Five identical pods arrive at t=1..5 while the node is busy until t=10; each runs
    # 10 s, so they are bound at 10, 20, 30, 40, 50 in arrival order.
    sc = validate_scenario(one_node_scenario([
        {"name": "w", "arrival": {"kind": "interval", "every_s": 1, "start_s": 1}, "max_pods": 5,
         "template": {"requests": {"cpu": "1"}}, "duration": {"kind": "constant", "value": 10}},
    ]))
    pods = run(sc).pods.set_index("pod")
    assert [pods.loc[f"w-{i}", "scheduled"] for i in range(5)] == [10, 20, 30, 40, 50]
    # Start latency 0 and duration 10: finished = scheduled + 10.
    assert [pods.loc[f"w-{i}", "finished"] for i in range(5)] == [20, 30, 40, 50, 60]


def test_never_fitting_pods_are_counted_not_dropped():
    sc = validate_scenario(one_node_scenario([
        {"name": "huge", "arrival": {"kind": "burst", "count": 3, "at_s": 0},
         "template": {"requests": {"cpu": "2"}}, "duration": {"kind": "constant", "value": 1}},
    ], initial_duration=1.0))
    res = run(sc)
    s = res.summary().iloc[0]
    assert s["pods_submitted"] == 3
    assert s["pods_pending_failed_scheduling"] == 3
    assert s["pods_never_fit"] == 3
    assert s["pods_scheduled"] == 0
    assert res.never_fit == {"huge": ["cpu"]}
