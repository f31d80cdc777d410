"""Plain lifecycles as timers: the same run, table for table, as with one generator
process per pod (``Kubelet.plain_timers = False``, the reference they reproduce), also
when pods are deleted, preempted, drained, lost with their node, or stalled on a failed
or partitioned node, and when two interrupts reach one pod at one instant."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from k8sim import RunResult, Simulation, validate_scenario
from k8sim.runtime.kubelet import Kubelet, PlainLifecycle
from k8sim.runtime.timers import ProcessNow

TABLES = ("pods", "nodes", "events", "timeseries")


def churn(seed: int) -> dict:
    """Plain pods under every kind of interruption the kubelet handles."""
    return {
        "name": "churn",
        "seed": seed,
        "duration_s": 3000,
        "sample_interval_s": 30,
        "cluster": {"node_pools": [
            {"name": "a", "count": 4, "allocatable": {"cpu": "4", "memory": "16Gi"}, "zones": ["z1", "z2"]},
            {"name": "b", "count": 3, "allocatable": {"cpu": "4", "memory": "16Gi"}},
            {"name": "c", "count": 2, "allocatable": {"cpu": "4", "memory": "16Gi"}},
        ]},
        "workloads": [
            # Zero start latency: Running at the bind's own instant.
            {"name": "batch", "arrival": {"kind": "poisson", "rate_per_s": 0.05},
             "template": {"requests": {"cpu": "1", "memory": "1Gi"},
                          "start_latency": {"kind": "constant", "value": 0}},
             "duration": {"kind": "exponential", "mean": 300}},
            # No duration: Running until deleted or the run ends.
            {"name": "service", "arrival": {"kind": "burst", "count": 6, "at_s": 5},
             "template": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
            # High priority bursts that preempt (victims are deleted with a grace period).
            {"name": "urgent", "arrival": {"kind": "burst", "count": 12, "at_s": 900},
             "template": {"requests": {"cpu": "2", "memory": "2Gi"}, "priority": 1000},
             "duration": {"kind": "constant", "value": 120}},
        ],
        "failures": [
            {"kind": "node", "nodes": {"pool": "a"}, "time_to_failure": {"kind": "exponential", "mean": 900},
             "time_to_repair": {"kind": "exponential", "mean": 200}},
            {"kind": "node", "mode": "partition", "nodes": {"pool": "b"},
             "time_to_failure": {"kind": "exponential", "mean": 1200},
             "time_to_repair": {"kind": "exponential", "mean": 150}},
        ],
        "actions": [
            {"action": "drain", "at_s": 1500, "nodes": {"names": ["b-0"]}},
            {"action": "fail_node", "at_s": 2000, "nodes": {"names": ["c-0"]}},
            {"action": "delete_node", "at_s": 2000, "nodes": {"names": ["c-0"]}},
            {"action": "uncordon", "at_s": 2100, "nodes": {"names": ["b-0"]}},
        ],
    }


def down_and_deleted(ctx) -> None:
    """Node c-1's machine fails and the node is deleted in one go: the deletions'
    interrupts reach its pods while the failure's are still pending."""
    node = ctx.state.nodes.name_index["c-1"]
    ctx.api.node_down(node, "test")
    ctx.api.remove_node(node)


def run(doc: dict, timers: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Simulation, RunResult]:
    monkeypatch.setattr(Kubelet, "plain_timers", timers)
    sim = Simulation(validate_scenario(doc))
    sim.at(2500, down_and_deleted)
    return sim, sim.run()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_timers_give_the_tables_of_one_process_per_pod(seed, monkeypatch):
    doc = churn(seed)
    fast, got = run(doc, True, monkeypatch)
    _, want = run(doc, False, monkeypatch)
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(got, table), getattr(want, table), check_exact=True)
    pd.testing.assert_frame_equal(got.summary(), want.summary(), check_exact=True)
    for name in ("failures", "disruptions"):
        pd.testing.assert_frame_equal(got.frames[name], want.frames[name], check_exact=True)
    # The run went through the paths under test.
    kinds = set(got.events["kind"].astype(str))
    assert {"Killing", "Preempted", "NodeDown", "NodeUp", "NodeRemoved", "NodeLost"} <= kinds
    restarted = got.events[(got.events["kind"] == "Started") & (got.events["detail"] != "")]
    assert len(restarted) > 0  # pods recreated after their node came back
    # Timers were used, and some were handed to a process by an interrupt.
    lives = list(fast.kubelet._procs.values())
    assert any(isinstance(p, PlainLifecycle) for p in lives)  # the services, still running


def test_an_interrupt_hands_the_lifecycle_to_a_process(monkeypatch):
    """A pod on a failed node waits for it as a process (started at the interrupt)."""
    doc = churn(1)
    doc["actions"] = [{"action": "fail_node", "at_s": 100, "nodes": {"pool": "c"}}]
    doc["failures"] = []
    monkeypatch.setattr(Kubelet, "plain_timers", True)
    sim = Simulation(validate_scenario(doc))
    # Before the node lifecycle controller notices (grace 50 s) and evicts (300 s later).
    sim.run_until(120)
    nodes, pods = sim.state.nodes, sim.state.pods
    on_c = [p for p in sim.kubelet._procs if nodes.names[pods.node[p]].startswith("c-")]
    elsewhere = [p for p in sim.kubelet._procs if p not in on_c]
    assert on_c and elsewhere  # pods bound there before 100 s are stalled, waiting for the machine
    assert all(isinstance(sim.kubelet._procs[p], ProcessNow) for p in on_c)
    assert all(isinstance(sim.kubelet._procs[p], PlainLifecycle) for p in elsewhere)


def test_no_process_outlives_its_pod(monkeypatch):
    """Every ended pod has left the kubelet's table, timers and processes alike."""
    sim, result = run(churn(2), True, monkeypatch)
    pods = result.pods
    ended = set(pods.index[pods["phase"].isin(["Succeeded", "Failed"])].tolist())
    assert ended and not ended & set(sim.kubelet._procs)
    assert all(life.is_alive for life in sim.kubelet._procs.values())


@pytest.mark.parametrize("seed", [1, 4])
def test_arrival_timers_give_the_tables_of_an_arrival_process(seed, monkeypatch):
    """Arrivals as timers (:class:`k8sim.runtime.timers.Arrivals`) place their events
    where the arrival process's are: with bursts (several pods at one instant, created
    in one go), zero start latencies and a trace, the tables are those of one process
    per workload."""
    from k8sim.sim.sources import WorkloadSources

    doc = churn(seed)
    results = []
    for timers in (True, False):
        monkeypatch.setattr(WorkloadSources, "arrival_timers", timers)
        results.append(run(doc, True, monkeypatch)[1])
    got, want = results
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(got, table), getattr(want, table), check_exact=True)
    # Every workload's pods arrived: 6 + 12 burst pods and the Poisson stream.
    counts = got.pods["workload"].value_counts()
    assert counts["service"] == 6 and counts["urgent"] == 12 and counts["batch"] > 50


def test_the_run_loop_processes_events_as_peek_and_step_do():
    """``run_before`` is SimPy's ``while env.peek() < horizon: env.step()`` with the
    step inlined: the same events in the same order (same time: by priority, then by
    insertion), nothing at or after the horizon, and a failed event nobody defused
    crashes the run as ``env.step`` does."""
    import simpy
    from simpy.events import NORMAL, URGENT

    from k8sim.runtime.timers import run_before

    def scripted(runner):
        env = simpy.Environment()
        seen: list[tuple[float, str]] = []

        def at(delay: float, label: str, priority: int = NORMAL) -> None:
            ev = simpy.Event(env)
            ev._ok, ev._value = True, None
            ev.callbacks.append(lambda _e: seen.append((env.now, label)))
            env.schedule(ev, priority, delay)

        at(2.0, "b")
        at(1.0, "a")
        at(2.0, "c-urgent", URGENT)  # same time as b, scheduled later, comes first
        at(2.0, "d")
        at(5.0, "at-horizon")
        runner(env, 5.0)
        return seen, env.now, env.peek()

    def peek_step(env, horizon):
        while env.peek() < horizon:
            env.step()

    assert scripted(run_before) == scripted(peek_step) == (
        [(1.0, "a"), (2.0, "c-urgent"), (2.0, "b"), (2.0, "d")], 2.0, 5.0)

    def crash(env):
        yield env.timeout(1)
        raise ValueError("boom")

    env = simpy.Environment()
    env.process(crash(env))
    with pytest.raises(ValueError, match="boom"):
        run_before(env, 10.0)


def test_the_run_loop_sets_older_objects_aside_from_the_collector_while_it_runs():
    """Objects older than the loop are frozen (``gc.freeze``) while it runs, so the
    run's collections do not walk them; the collector is as it was afterwards (also when
    the run crashes), and a loop run with the collector off or already frozen leaves
    the freezing alone."""
    import gc

    import simpy

    from k8sim.runtime.timers import LOOP_GC_THRESHOLD, run_before

    thresholds = gc.get_threshold()
    assert thresholds[0] < LOOP_GC_THRESHOLD  # Python's default (700)
    during = []

    def loop(crash: bool = False) -> int:
        env = simpy.Environment()
        seen = []

        def look(_e):
            seen.append(gc.get_freeze_count())
            during.append(gc.get_threshold())
            if crash:
                raise RuntimeError("boom")

        env.timeout(1).callbacks.append(look)
        if crash:
            with pytest.raises(RuntimeError, match="boom"):
                run_before(env, 10.0)
        else:
            run_before(env, 10.0)
        return seen[0]

    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert loop() > 1000  # the interpreter's and the test's objects at least
    assert gc.get_freeze_count() == 0
    assert loop(crash=True) > 1000
    assert gc.get_freeze_count() == 0
    # The young generation is collected less often while the loop runs, and the
    # thresholds are Python's again afterwards (after a crash too).
    assert during == [(LOOP_GC_THRESHOLD, *thresholds[1:])] * 2
    assert gc.get_threshold() == thresholds
    gc.disable()
    try:
        assert loop() == 0
        assert during[-1] == thresholds  # the collector's settings are left alone
    finally:
        gc.enable()
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        assert loop() == before  # not unfrozen by the loop's end
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()


def _scripted_two_queues(env, runner, horizon: float) -> list[tuple[float, str]]:
    """Events at a few instants (many ties), both priorities, put on the main queue or
    on :func:`late_queue`; some schedule more events when they fire, on either queue.
    Returns the (time, label) order in which they fired."""
    import random

    import simpy
    from simpy.events import NORMAL, URGENT

    from k8sim.runtime.timers import late_push

    rng = random.Random(7)
    seen: list[tuple[float, str]] = []

    def put(delay: float, label: str, priority: int, late: bool, children: int) -> None:
        ev = simpy.Event(env)
        ev._ok, ev._value = True, None

        def fire(_e, label=label, children=children):
            seen.append((env.now, label))
            for k in range(children):
                put(rng.choice([0.0, 0.0, 1.0, 2.0]), f"{label}.{k}", rng.choice([URGENT, NORMAL]),
                    rng.random() < 0.5, 0)

        ev.callbacks.append(fire)
        if late:  # as the kubelet puts a run end: Environment.schedule's entry, on the late queue
            late_push(env)((env.now + delay, priority, next(env._eid), ev))
        else:
            env.schedule(ev, priority, delay)

    for i in range(200):
        put(float(rng.randrange(6)), f"e{i}", rng.choice([URGENT, NORMAL]), rng.random() < 0.5, rng.randrange(3))
    runner(env, horizon)
    return seen


def test_the_late_queue_keeps_the_order_of_one_queue():
    """k8sim's Environment keeps long waits (pods' run ends) on a second queue; its
    entries are numbered by the same counter, so ``run_before``, ``peek``/``step`` and
    ``run(until=...)`` take the events in exactly the order of SimPy's single queue,
    ties at one instant included (by priority, then insertion)."""
    import simpy

    from k8sim.runtime.timers import Environment, run_before

    def peek_step(env, horizon):
        while env.peek() < horizon:
            env.step()

    def until(env, horizon):
        env.run(until=horizon)

    want = _scripted_two_queues(simpy.Environment(), peek_step, 4.0)  # one queue
    # Ties were there to be broken: instants with several events of both kinds.
    assert len(want) > 200 and len({t for t, _ in want}) == 4
    split = Environment()
    got = _scripted_two_queues(split, run_before, 4.0)
    assert got == want
    assert split.peek() == 4.0 and len(split._late) and split._queue  # both queues still hold events
    assert _scripted_two_queues(Environment(), peek_step, 4.0) == want
    # run(until=4) also takes the URGENT events at 4 scheduled before its stop event.
    assert _scripted_two_queues(Environment(), until, 4.0) == _scripted_two_queues(simpy.Environment(), until, 4.0)
    assert Environment().peek() == float("inf")


def test_run_until_is_simpys_run_until():
    """``run_until(env, t)`` takes the events ``env.run(until=t)`` takes, in its order:
    those before ``t`` and the URGENT ones at ``t`` queued before SimPy's stop event
    (not those queued after it, nor the NORMAL ones); the clock ends at ``t``, and the
    stop event is on the queue while the run goes on (a component that looks at the
    queue sees it, as in SimPy's run), and put back at priority -1 at the end; the
    counter goes on alike."""
    import simpy

    from k8sim.runtime.timers import Environment, run_until

    def simpy_until(env, horizon):
        env.run(until=horizon)

    for horizon in (4.0, 2.5, 9.0):
        ref_env = simpy.Environment()
        want = _scripted_two_queues(ref_env, simpy_until, horizon)
        ref_next = next(ref_env._eid)
        for env in (simpy.Environment(), Environment()):
            assert _scripted_two_queues(env, run_until, horizon) == want
            assert env.now == horizon == ref_env.now
            assert next(env._eid) == ref_next
    # What a callback sees of the queue: never empty before the end (the stop event).
    for make in (simpy.Environment, Environment):
        lengths = {}
        for name, runner in (("simpy", simpy_until), ("k8sim", run_until)):
            env = make()
            seen = []
            env.timeout(1.0).callbacks.append(lambda _e, env=env, seen=seen: seen.append(len(env._queue)))
            runner(env, 3.0)
            lengths[name] = (seen, len(env._queue), env.now)
        # At 1 s the queue holds the stop event only; afterwards it holds it again, put
        # back at priority -1 by SimPy's step (processed when the run resumes).
        assert lengths["k8sim"] == lengths["simpy"] == ([1], 1, 3.0)
    with pytest.raises(ValueError, match="must be greater than the current simulation time"):
        run_until(Environment(), 0.0)


def test_run_ends_wait_on_the_late_queue(monkeypatch):
    """In a run, the end of each running plain pod's run time is on the late queue,
    and nothing else is."""
    from k8sim.runtime.kubelet import _RUNNING

    monkeypatch.setattr(Kubelet, "plain_timers", True)
    sim = Simulation(validate_scenario(churn(1)))
    sim.run_until(800)
    late = [e for b in [sim.env._late.active, *sim.env._late.buckets.values()] for e in b]
    running = sim.state.pods.phase[: sim.state.pods.n] == 2  # Running
    assert late and all(isinstance(e[3], PlainLifecycle) and e[3].step == _RUNNING for e in late)
    # A pending entry per Running batch pod (the services and the urgent ones run
    # forever / have not arrived), some of them voided by an interrupt (callbacks ()).
    live = {e[3].pod for e in late if e[3].callbacks}
    assert live and all(running[p] for p in live)


@pytest.mark.parametrize("width", [1.0, 0.25, 100.0])
def test_the_late_queue_gives_the_entries_in_heap_order(width):
    """LateQueue (a calendar of buckets, only the earliest one a heap) hands out its
    entries in the order of one heap over all of them, with pushes between the pops:
    into the bucket being taken, into later ones, at equal times (then by priority and
    insertion), before time 0 and at infinity."""
    import heapq
    import random

    from k8sim.runtime.timers import LateQueue

    rng = random.Random(3)
    late, ref = LateQueue(width), []
    eid = 0
    now = 0.0
    got, want = [], []
    for _ in range(3000):
        if rng.random() < 0.55 or not ref:
            t = rng.choice([now, now, now + rng.random(), now + rng.expovariate(0.05), math.floor(now) + 1.0,
                            -3.5, 5e18, math.inf])
            entry = (t, rng.choice([0, 1]), eid, f"e{eid}")
            eid += 1
            late.push(entry)
            heapq.heappush(ref, entry)
        else:
            head = late.head()
            assert head is not None and head == ref[0]
            got.append(heapq.heappop(late.active))
            want.append(heapq.heappop(ref))
            now = max(now, want[-1][0]) if want[-1][0] < math.inf else now
        assert len(late) == len(ref)
    while ref:
        assert late.head() == ref[0]
        got.append(heapq.heappop(late.active))
        want.append(heapq.heappop(ref))
    assert late.head() is None and len(late) == 0
    assert got == want and len(got) == eid  # every entry, once
