"""DefaultPreemption: victim selection, candidate choice and the eviction timeline.

Mirrors upstream pkg/scheduler/framework/plugins/defaultpreemption/default_preemption_test.go
(TestSelectBestCandidate, TestDryRunPreemption) semantics on hand-built cases.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim import run, validate_scenario
from k8sim.cluster import ops
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.scheduling.preemption import Candidate, DefaultPreemption, num_candidates, pick_one


def scenario(high_policy: str = "PreemptLowerPriority") -> dict:
    return {
        "name": "preempt",
        "cluster": {"nodes": [{"name": "n0", "allocatable": {"cpu": "2", "memory": "4Gi"}}]},
        "priorityClasses": [{"name": "high", "value": 100, "preemptionPolicy": high_policy}],
        "workloads": [
            {"name": "low", "arrival": {"kind": "burst", "count": 2, "at_s": 0},
             "template": {"requests": {"cpu": "1"}, "terminationGracePeriodSeconds": 5},
             "duration": {"kind": "constant", "value": 100}},
            {"name": "high", "arrival": {"kind": "times", "times_s": [10]},
             "template": {"requests": {"cpu": "1"}, "priorityClassName": "high"},
             "duration": {"kind": "constant", "value": 10}},
        ],
    }


def test_preemption_timeline():
    # t=0: low-0, low-1 bound (node full). t=10: high-0 (priority 100) fails; removing
    # both lower pods makes room; reprieve in MoreImportantPod order (equal priority and
    # start -> low-0 first): adding low-0 back leaves 1 cpu free, enough -> reprieved;
    # adding low-1 too leaves 0 -> victim. low-1 keeps its cpu for its 5 s grace period
    # and ends Failed at 15; high-0, nominated to n0, is bound at 15 and ends at 25.
    res = run(validate_scenario(scenario()))
    pods = res.pods.set_index("pod")
    assert pods.loc["low-1", "phase"] == "Failed"
    assert pods.loc["low-1", "finished"] == 15
    assert pods.loc["high-0", "scheduled"] == 15
    assert pods.loc["high-0", "finished"] == 25
    assert pods.loc["low-0", "phase"] == "Succeeded" and pods.loc["low-0", "finished"] == 100
    ev = res.events
    preempting = ev[ev["kind"] == "Preempting"]
    assert preempting["pod"].tolist() == ["high-0"]
    assert preempting["detail"].tolist() == ["victims: low-1"]
    assert ev[(ev["kind"] == "Preempted")]["pod"].tolist() == ["low-1"]


def test_preemption_policy_never_waits():
    # Same cluster, but the high class has preemptionPolicy Never: high-0 waits until a
    # low pod finishes at t=100 and is bound then.
    res = run(validate_scenario(scenario("Never")))
    pods = res.pods.set_index("pod")
    assert pods.loc["high-0", "scheduled"] == 100
    assert (pods["phase"] == "Failed").sum() == 0


def test_disabled_default_preemption():
    data = scenario()
    data["scheduler"] = {"profiles": [{"disabled": ["DefaultPreemption"]}]}
    pods = run(validate_scenario(data)).pods.set_index("pod")
    assert pods.loc["high-0", "scheduled"] == 100


def test_num_candidates():
    # calculateNumCandidates: max(N*10/100, 100) capped at N
    assert num_candidates(50) == 50
    assert num_candidates(500) == 100
    assert num_candidates(5000) == 500


def _profile(state):
    fit = NodeResourcesFit()
    return Profile("p", [fit], [(fit, 1)], np.random.default_rng(0))


def test_victims_and_best_candidate():
    # Two 4-cpu nodes. n1 holds pods of priority 5 (2 cpu) and 1 (2 cpu);
    # n2 holds pods of priority 1 (2 cpu) and 1 (2 cpu). Preemptor: priority 10, 2 cpu.
    # SelectVictimsOnNode: n1 -> reprieve priority-5 pod first (fits with 2 free) -> victim
    #   is the priority-1 pod; n2 -> reprieve the first (earlier start) -> victim the other.
    # pickOneNodeForPreemption: highest victim priority is 1 on both; sum of priorities
    # equal; one victim each; latest start among highest-priority victims wins.
    state = make_state([node("n1", cpu="4", memory="8Gi"), node("n2", cpu="4", memory="8Gi")])
    rows = []
    for node_name, prio, start in [("n1", 5, 0.0), ("n1", 1, 1.0), ("n2", 1, 2.0), ("n2", 1, 3.0)]:
        info = make_pod(state, {"cpu": "2"}, priority=prio)
        p = state.pods.append(name=f"{node_name}-{prio}-{start}", requests=info.requests, workload=-1,
                              index=0, shape=info.shape, priority=prio, created=0.0, duration=np.inf,
                              start_latency=0.0)
        ops.bind(state, p, state.nodes.name_index[node_name], start)
        ops.set_running(state, p, start)
        rows.append(p)
    preemptor = make_pod(state, {"cpu": "2"}, priority=10)
    pre = DefaultPreemption(np.random.default_rng(0))
    cand = pre.find(state, _profile(state), -1, preemptor, set())
    # n1's victim (priority 1) started at 1.0; n2's victim is the later-started pod (3.0):
    # the latest start among highest-priority victims is 3.0 -> n2.
    assert cand is not None
    assert state.nodes.names[cand.node] == "n2"
    assert cand.victims == [rows[3]]


def test_pick_one_prefers_lower_highest_priority():
    state = make_state([node("n1", cpu="4", memory="8Gi")])
    rows = []
    for prio in (7, 3, 3):
        info = make_pod(state, {"cpu": "1"}, priority=prio)
        p = state.pods.append(name=f"p{prio}", requests=info.requests, workload=-1, index=0,
                              shape=info.shape, priority=prio, created=0.0, duration=np.inf, start_latency=0.0)
        ops.bind(state, p, 0, 0.0)
        rows.append(p)
    # Candidate A: one victim of priority 7; candidate B: two victims of priority 3.
    # minHighestPriority picks B (3 < 7) although it has more victims.
    a, b = Candidate(0, [rows[0]]), Candidate(0, [rows[1], rows[2]])
    assert pick_one(state, [a, b]) is b


@pytest.mark.parametrize("bad", [{"minCandidateNodesPercentage": 101}, {"bogus": 1}])
def test_bad_preemption_args(bad):
    from k8sim import ScenarioError, Simulation

    data = scenario()
    data["scheduler"] = {"profiles": [{"plugins": [{"name": "DefaultPreemption", "args": bad}]}]}
    with pytest.raises(ScenarioError, match="DefaultPreemption"):
        Simulation(validate_scenario(data))
