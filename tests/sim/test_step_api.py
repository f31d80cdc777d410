"""The step API: ``Simulation.run_until``, ``next_decision``, ``decide``, ``result``.

The decisive property: a caller that always takes the node the profile would have chosen
(``PendingDecision.suggested``) gets exactly the tables of a plain ``run()`` on the same
seed, because a pending decision stops the scheduler before it binds and ``decide``
resumes it ahead of every other event of that instant.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from k8sim import Simulation, load_scenario, validate_scenario

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("pods", "nodes", "events", "timeseries")


def _follow_profile(sim: Simulation) -> int:
    n = 0
    while (d := sim.next_decision()) is not None:
        sim.decide(d.suggested)
        n += 1
    return n


def _assert_same(a, b):
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), obj=name)
    pd.testing.assert_frame_equal(a.summary(), b.summary(), obj="summary")
    if a.decisions is not None:
        pd.testing.assert_frame_equal(a.decisions, b.decisions, obj="decisions")


@pytest.mark.parametrize("overrides", [
    [],
    ["scheduler.recordDecisions=true"],
    ["scheduler.cycle_latency_s=0.05"],
    ["scheduler.costModel={preset: scheduler-perf, bind_latency_s: 0.02}"],
    ["scheduler.profiles[0].preset=binpack", "scheduler.percentageOfNodesToScore=30"],
], ids=["plain", "decisions", "cycle-latency", "cost-model", "binpack-sampled"])
def test_following_the_profile_gives_the_plain_run(overrides):
    sc = load_scenario(ROOT / "scenarios/quickstart.yaml", overrides=overrides)
    plain = Simulation(sc, seed=7).run()
    sim = Simulation(sc, seed=7)
    decided = _follow_profile(sim)
    assert sim.done
    # every pod of the scenario (500) was placed by a decision: none is initial or failed
    assert decided == 500 == int((plain.pods["node"].astype(str) != "").sum())
    _assert_same(plain, sim.result())


@pytest.mark.parametrize("name", ["burst-overload.yaml", "zone-outage.yaml", "rolling-update.yaml"])
def test_following_the_profile_with_queueing_preemption_and_faults(name):
    sc = load_scenario(ROOT / "scenarios" / name)
    plain = Simulation(sc).run()
    sim = Simulation(sc)
    _follow_profile(sim)
    _assert_same(plain, sim.result())


def _cluster(pods: int = 1, **extra) -> dict:
    """Six 4-cpu nodes in two zones; n-2 carries a NoSchedule taint, n-3 has 1 cpu, n-4
    is in zone b; pods ask for 2 cpu and select zone a."""
    nodes = []
    for i in range(6):
        node = {"name": f"n-{i}", "allocatable": {"cpu": "1" if i == 3 else "4", "memory": "8Gi"},
                "labels": {"zone": "b" if i == 4 else "a"}}
        if i == 2:
            node["taints"] = [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]
        nodes.append(node)
    doc = {
        "name": "mask", "seed": 1, "duration_s": 100,
        "cluster": {"nodes": nodes},
        "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [float(i) for i in range(pods)]},
                       "template": {"requests": {"cpu": "2", "memory": "1Gi"}, "nodeSelector": {"zone": "a"}},
                       "duration": {"kind": "constant", "value": 1000}}],
    }
    doc.update(extra)
    return doc


def test_mask_is_the_nodes_that_pass_the_filters():
    # By hand: n-2 fails TaintToleration, n-3 NodeResourcesFit (1 cpu < 2), n-4
    # NodeAffinity (zone b); n-0, n-1, n-5 pass.
    sim = Simulation(validate_scenario(_cluster(pods=3)))
    d = sim.next_decision()
    assert d is not None and d.time == 0.0
    assert np.flatnonzero(d.mask).tolist() == [0, 1, 5]
    assert d.suggested in (0, 1, 5)
    sim.decide(5)
    assert sim.state.pods.node[d.pod] == 5  # bound at once
    # n-5 now has 2 of 4 cpu free: still feasible for the second pod
    d2 = sim.next_decision()
    assert np.flatnonzero(d2.mask).tolist() == [0, 1, 5]
    sim.decide(5)
    # n-5 is full (4 cpu requested): the third pod may go to n-0 or n-1 only
    d3 = sim.next_decision()
    assert np.flatnonzero(d3.mask).tolist() == [0, 1]
    with pytest.raises(ValueError, match="not a feasible choice"):
        sim.decide(5)
    with pytest.raises(ValueError, match="not a feasible choice"):
        sim.decide(99)
    sim.decide(0)
    assert sim.next_decision() is None
    assert sim.done
    pods = sim.result().pods
    assert pods["node"].astype(str).tolist() == ["n-5", "n-5", "n-0"]


def test_mask_covers_every_feasible_node_not_the_sample():
    # 200 nodes, adaptive percentageOfNodesToScore: max(50 - 200 // 125, 5) = 49% of 200
    # = 98 < 100, so the profile looks for 100 feasible nodes (upstream
    # numFeasibleNodesToFind) and scores those; the mask still lists all 200.
    doc = {"name": "big", "duration_s": 10, "cluster": {"node_pools": [
        {"name": "p", "count": 200, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
        "scheduler": {"recordDecisions": True},
        "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [0]},
                       "template": {"requests": {"cpu": "1"}}, "duration": {"kind": "constant", "value": 5}}]}
    sim = Simulation(validate_scenario(doc))
    d = sim.next_decision()
    assert int(d.mask.sum()) == 200
    sim.decide(d.suggested)
    assert sim.next_decision() is None
    assert sim.result().decisions["feasible"].tolist() == [100]


def test_decide_needs_a_pending_decision_and_run_until_refuses_one():
    sim = Simulation(validate_scenario(_cluster(pods=2)))
    with pytest.raises(RuntimeError, match="no scheduling decision is pending"):
        sim.decide(0)
    d = sim.next_decision()
    assert sim.next_decision() is d  # the same one until decided
    with pytest.raises(RuntimeError, match="decide"):
        sim.run_until(50)


def test_run_until_lets_the_profile_decide_then_steps():
    sim = Simulation(validate_scenario(_cluster(pods=3)))
    sim.run_until(0.5)  # the first pod (t=0) is placed by the profile
    assert sim.env.now == 0.5
    first = sim.state.pods.node[0]
    assert first in (0, 1, 5)
    d = sim.next_decision()
    assert d.pod == 1 and d.time == 1.0
    sim.decide(int(np.flatnonzero(d.mask)[0]))
    mid = sim.result()  # the tables so far: up to now (t = 1)
    assert mid.provenance["end_time_s"] == 1.0
    assert (mid.pods["node"].astype(str) != "").sum() == 2
    assert sim.next_decision() is not None


def test_a_decision_other_than_the_profiles_changes_the_run():
    sc = validate_scenario(_cluster(pods=2))
    plain = Simulation(sc).run()
    sim = Simulation(sc)
    chosen = []
    while (d := sim.next_decision()) is not None:
        other = [n for n in np.flatnonzero(d.mask) if n != d.suggested][0]
        chosen.append(int(other))
        sim.decide(other)
    pods = sim.result().pods
    assert pods["node"].astype(str).tolist() == [f"n-{n}" for n in chosen]
    assert pods["node"].tolist() != plain.pods["node"].tolist()


def test_without_suggestions_the_mask_is_the_same_and_the_suggestion_the_first_node():
    # suggest=False skips the scores: the same masks (by hand as in
    # test_mask_is_the_nodes_that_pass_the_filters), suggested = lowest feasible row.
    sim = Simulation(validate_scenario(_cluster(pods=3)))
    masks, suggested = [], []
    d = sim.next_decision(suggest=False)
    while d is not None:
        masks.append(np.flatnonzero(d.mask).tolist())
        suggested.append(d.suggested)
        sim.decide(5 if d.mask[5] else d.suggested)
        d = sim.next_decision()
    assert masks == [[0, 1, 5], [0, 1, 5], [0, 1]]
    assert suggested == [0, 0, 0]
    assert sim.scheduler.cycles == 3


def test_run_after_stepping_lets_the_profiles_finish_and_refuses_a_pending_decision():
    sc = validate_scenario(_cluster(pods=3))
    sim = Simulation(sc)
    sim.next_decision()
    with pytest.raises(RuntimeError, match="decide"):
        sim.run()
    sim.decide(0)
    # the rest of the run with the profile deciding: all three pods placed
    result = sim.run()
    assert (result.pods["node"].astype(str) != "").all()
