"""explain_in_run: a pod that was scheduled is explained at the cycle that placed it,
from the state that cycle saw (before its bind); ``--at`` defaults to that moment.

Scores are derived by hand with upstream's LeastAllocated arithmetic
(noderesources/least_allocated.go ``leastRequestedScore``: ``(capacity - requested) *
100 / capacity`` per resource, int64 truncation, then the mean over cpu and memory).
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from k8sim import validate_scenario
from k8sim.cli import app
from k8sim.scheduling.explain import ExplainError
from k8sim.sim.explain import explain_in_run
from k8sim.sim.simulation import Simulation

# a-0: 4 cpu, 8Gi; b-0: 2 cpu, 8Gi. w-0, w-1, w-2 (1 cpu, 1Gi, never finish) at t = 0, 10, 20.
SCENARIO = {
    "cluster": {"node_pools": [
        {"name": "a", "count": 1, "allocatable": {"cpu": "4", "memory": "8Gi"}},
        {"name": "b", "count": 1, "allocatable": {"cpu": "2", "memory": "8Gi"}},
    ]},
    "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [0, 10, 20]},
                   "template": {"requests": {"cpu": "1", "memory": "1Gi"}}},
                  {"name": "huge", "arrival": {"kind": "times", "times_s": [30]},
                   "template": {"requests": {"cpu": "8", "memory": "1Gi"}}}],
    "initial_pods": [{"name": "agent", "nodeName": "b-0", "requests": {"cpu": "100m"}}],
    "scheduler": {"profiles": [{"preset": "spread"}], "recordDecisions": True},
}


def sim() -> Simulation:
    return Simulation(validate_scenario(SCENARIO))


def test_scheduled_pod_explained_at_its_cycle():
    found = explain_in_run(sim(), "w-1")
    # w-0 went to a-0 at t=0; w-1's cycle at t=10 sees a-0 holding 1 cpu / 1Gi and b-0
    # holding the agent (100m; memory 0 -> non-zero default 200Mi for scoring).
    # a-0: cpu (4000-2000)*100/4000 = 50, memory (8Gi-2Gi)*100/8Gi = 75 -> (50+75)/2 = 62
    # b-0: cpu (2000-1100)*100/2000 = 45, memory (8192Mi-1024Mi-200Mi)*100/8192Mi = 85 -> (45+85)/2 = 65
    assert found.placement is not None
    assert found.placement.node == "b-0" and found.placement.time == 10 and found.placement.attempt == 1
    assert found.at == 10
    exp = found.explanation
    assert exp.totals.tolist() == [62, 65] and exp.best == ["b-0"]

def test_without_at_the_run_stops_at_the_placing_cycle():
    s = sim()
    found = explain_in_run(s, "w-1")
    assert found.placement is not None and s.env.now == 10
    # w-2 (t=20) does not exist yet.
    assert "w-2" not in s.state.pods.names


def test_at_after_the_bind_still_shows_the_placing_cycle():
    s = sim()
    found = explain_in_run(s, "w-1", at=50)
    assert found.placement is not None and found.placement.time == 10 and found.at == 10
    assert found.explanation.totals.tolist() == [62, 65]
    # The run went on to t=50: w-2 exists and is bound.
    pods = s.state.pods
    assert "w-2" in pods.names and pods.node[pods.names.index("w-2")] >= 0
    # The placement agrees with the decision the scheduler recorded for w-1.
    decisions = s.scheduler.decisions_frame()
    assert decisions.loc[decisions["pod"] == "w-1", "node"].tolist() == ["b-0"]


def test_pending_pod_is_explained_at_at():
    # huge-0 (8 cpu, t=30) fits no node: Pending at t=40, and without --at at the end of
    # the run. 8000m > capacity on both nodes: UnschedulableAndUnresolvable (fit.go).
    for at in (40.0, None):
        found = explain_in_run(sim(), "huge-0", at=at)
        assert found.placement is None
        assert found.at >= 30 and (at is None or found.at == at)
        exp = found.explanation
        assert exp.message == "0/2 nodes are available: 2 Insufficient cpu."
        assert [st.code for st in exp.statuses] == ["UnschedulableAndUnresolvable"] * 2


def test_not_created_and_initial_pod_errors():
    with pytest.raises(ExplainError, match=r"'w-1' has not been created by t=5 s"):
        explain_in_run(sim(), "w-1", at=5)
    with pytest.raises(ExplainError, match=r"'agent' was bound to node 'b-0' as it was created"):
        explain_in_run(sim(), "agent")


def test_cli_defaults_at_to_the_placement(tmp_path, monkeypatch):
    import yaml

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    res = CliRunner().invoke(app, ["explain", "s.yaml", "--pod", "w-1", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["at"] == 10 and doc["placement"] == {"node": "b-0", "time": 10, "attempt": 1, "nominated": None}
    assert {n["name"]: n["total"] for n in doc["nodes"]} == {"a-0": 62, "b-0": 65}
    table = CliRunner().invoke(app, ["explain", "s.yaml", "--pod", "w-1"])
    assert table.exit_code == 0, table.output
    assert "w-1 was bound to b-0 at t=10 s (scheduling attempt 1)" in " ".join(table.output.split())


def test_placement_with_a_cost_model_is_the_cycle_not_the_bind():
    # With costModel the cycle decides at its start and the Binding completes later:
    # w-1's cycle starts at t=10 (the scheduler is idle then: w-0's cycle ended at
    # 0.01 + 0.001 * (2 * 4 + 2 * 1) = 0.02 s); its Binding completes at
    # 10 + 0.02 + 0.5 = 10.52. The placement is the cycle's, with the same scores.
    sc = {**SCENARIO, "scheduler": {**SCENARIO["scheduler"], "costModel": {
        "cycle_base_s": 0.01, "per_node_plugin_s": 0.001, "bind_latency_s": 0.5}}}
    s = Simulation(validate_scenario(sc))
    found = explain_in_run(s, "w-1")
    assert found.placement is not None and found.placement.time == 10 and found.placement.node == "b-0"
    assert found.explanation.totals.tolist() == [62, 65]
    pods = s.state.pods
    assert float(pods.scheduled[pods.names.index("w-1")]) == pytest.approx(10.52, abs=1e-12)
