"""Controller runs end to end: the shipped scenarios' guarantees, nodes lost, kubectl
apply later, schema errors, and runs without controllers unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import deployment, scenario, sim, write

from k8sim import load_scenario, run
from k8sim.config.loader import ScenarioError
from k8sim.metrics.plots import availability
from k8sim.sim.simulation import Simulation

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_rolling_update_scenario_keeps_its_bounds():
    # 20 replicas, maxSurge 25% -> 5, maxUnavailable 25% -> 5: once the first rollout is
    # complete, never more than 25 active pods nor fewer than 15 available, also while
    # the batch load makes surge pods wait.
    r = run(load_scenario(SCENARIOS / "rolling-update.yaml"))
    av = r.frames["availability"]
    ro = r.frames["rollouts"]
    first_done = float(ro["completed"].iloc[0])
    after = av[av["time"] >= first_done]
    assert after["pods"].max() <= 25 and after["available"].min() >= 15
    assert ro["revision"].tolist() == [1, 2] and ro["started"].tolist()[1] == 900.0
    assert ro["completed"].notna().all()
    assert r.summary()["min_available_ratio"].iloc[0] == 0.75  # 15 / 20, during the rollout
    fig = availability(r)
    assert fig.axes[0].get_title().startswith("Available vs desired replicas")


def test_pods_of_a_removed_node_are_recreated(tmp_path):
    # 2 nodes, 6 replicas spread 3 + 3 (NodeResourcesBalancedAllocation / LeastAllocated).
    # Node n-0 leaves at t = 40: the pod garbage collector sees it at its pass at 40 and
    # deletes its pods after the 40 s quarantine, at 80 (NodeLost, no grace); the
    # ReplicaSet, which saw them Running until then, recreates them at 80 on n-1.
    m = write(tmp_path, "web.yaml", deployment(replicas=6))
    s = sim(tmp_path, m, nodes=2, duration=120)
    s.env.run(until=40)
    on0 = int((s.state.pods.node[: s.state.pods.n] == 0).sum())
    s.api.remove_node(0)
    r = s.run()
    rec = r.frames["recreations"]
    assert len(rec) == on0 > 0
    assert set(rec["cause"]) == {"NodeLost"} and set(rec["created_at"]) == {80.0}
    assert set(rec["lost_at"]) == {80.0}
    alive = r.pods[r.pods["finished"].isna()]
    assert len(alive) == 6 and set(alive["node"]) == {"n-1"}
    assert r.summary()["pods_lost_unreplaced"].iloc[0] == 0


def test_apply_later_scales_and_rolls_out(tmp_path):
    v1 = write(tmp_path, "v1.yaml", deployment(replicas=2))
    v2 = write(tmp_path, "v2.yaml", deployment(replicas=4, image="app:2"))
    sc = scenario(tmp_path, v1, workload={"apply": [{"at_s": 30, "manifest": str(v2)}]}, duration=120)
    r = Simulation(sc).run()
    ro = r.frames["rollouts"]
    assert ro["revision"].tolist() == [1, 2] and ro["started"].tolist() == [0.0, 30.0]
    hist = r.frames["replica_history"]
    assert hist["desired"].tolist() == [2, 4]
    assert r.frames["availability"].iloc[-1][["desired", "available"]].tolist() == [4, 4]


@pytest.mark.parametrize(("workload", "match"), [
    ({"template": {"requests": {"cpu": "1"}}}, "template.requests: a manifest workload takes its pod spec"),
    ({"max_pods": 3}, "max_pods"),
    ({"arrival": {"kind": "burst", "count": 1}}, "exactly one of"),
])
def test_manifest_entry_schema_errors(tmp_path, workload, match):
    m = write(tmp_path, "web.yaml", deployment())
    with pytest.raises(ScenarioError, match=match):
        scenario(tmp_path, m, workload=workload)


def test_manifest_needs_duration(tmp_path):
    m = write(tmp_path, "web.yaml", deployment())
    with pytest.raises(ScenarioError, match="set duration_s"):
        scenario(tmp_path, m, duration=None)


def test_missing_manifest_file(tmp_path):
    with pytest.raises(ScenarioError, match="manifest 'nope.yaml' not found"):
        scenario(tmp_path, Path("nope.yaml"))


def test_runs_without_controllers_have_no_controller_columns():
    # Owner columns and controller frames appear only when controllers run, so the
    # tables of every other scenario stay as they were.
    r = run(load_scenario(SCENARIOS / "quickstart.yaml", overrides=["workloads[0].max_pods=5",
                                                                      "workloads[1].max_pods=5"]))
    assert "owner" not in r.pods and "availability" not in r.frames
    assert "availability" not in r.summary()


def test_same_seed_same_frames():
    a = run(load_scenario(SCENARIOS / "simkube-controllers.yaml"))
    b = run(load_scenario(SCENARIOS / "simkube-controllers.yaml"))
    for name in ("availability", "rollouts", "recreations", "replica_history"):
        assert a.frames[name].equals(b.frames[name]), name
    assert a.pods.equals(b.pods) and a.events.equals(b.events)


def test_crash_knob_from_the_scenario_entry(tmp_path):
    # crash probability 1 after 5 s: every run of the container crashes 5 s after it
    # starts and the kubelet restarts it (CrashLoopBackOff: at once, then 10 s, 20 s...);
    # the pod stays Running (restarts are in place), so the ReplicaSet replaces nothing.
    m = write(tmp_path, "web.yaml", deployment(replicas=1))
    sc = scenario(tmp_path, m, duration=60, workload={"template": {
        "crash": {"probability": 1.0, "after": {"kind": "constant", "value": 5}}}})
    r = Simulation(sc).run()
    assert len(r.pods) == 1 and r.pods["restarts"].iloc[0] >= 2
    assert r.summary()["pods_recreated"].iloc[0] == 0


def test_an_object_in_two_workloads_is_an_error(tmp_path):
    a = write(tmp_path, "a.yaml", deployment(name="web"))
    b = write(tmp_path, "b.yaml", deployment(name="web"))
    sc = scenario(tmp_path, a, extra={"workloads": [{"manifest": str(a)}, {"manifest": str(b)}]})
    with pytest.raises(ScenarioError, match=r"workloads\[1\].manifest: .*b.yaml: document\[0\]: Deployment default/web "
                                            r"is also defined by workloads\[0\]"):
        Simulation(sc)


def test_scale_and_rollout_actions(tmp_path):
    # Operator actions (the faults' action registry): scale to 5 at 20, a new image at 40
    # (a rollout: revision 2), undo at 80 (revision 1's ReplicaSet again, as revision 3).
    m = write(tmp_path, "web.yaml", deployment(replicas=3))
    sc = scenario(tmp_path, m, duration=150, actions=[
        {"at_s": 20, "action": "scale", "kind": "Deployment", "name": "web", "replicas": 5},
        {"at_s": 40, "action": "rollout", "name": "web", "image": "app:2"},
        {"at_s": 80, "action": "rollout", "name": "web", "undo": True},
    ])
    r = Simulation(sc).run()
    assert r.frames["replica_history"]["desired"].tolist() == [3, 5]
    ro = r.frames["rollouts"]
    assert ro["revision"].tolist() == [1, 2, 3] and ro["started"].tolist() == [0.0, 40.0, 80.0]
    end = r.frames["availability"].iloc[-1]
    assert (end["desired"], end["available"]) == (5, 5)


def test_action_on_an_unknown_object_is_an_error(tmp_path):
    m = write(tmp_path, "web.yaml", deployment(replicas=1))
    sc = scenario(tmp_path, m, actions=[{"at_s": 5, "action": "scale", "name": "nope", "replicas": 2}])
    with pytest.raises(ScenarioError, match=r"actions\[0\].name: no Deployment 'nope'"):
        Simulation(sc)


def test_rollout_action_needs_image_or_undo(tmp_path):
    m = write(tmp_path, "web.yaml", deployment(replicas=1))
    with pytest.raises(ScenarioError, match="exactly one of image"):
        scenario(tmp_path, m, actions=[{"at_s": 5, "action": "rollout", "name": "web"}])


def test_node_failure_pods_recreated_after_eviction(tmp_path):
    # The node lifecycle timeline (docs/failures.md, defaults of Kubernetes v1.32+): a node
    # created at 0 whose machine fails at 103 renewed its lease at 100 (every 10 s), is
    # NotReady at the first 5 s pass after 100 + 50 = 150 strictly, i.e. 155, gets the
    # unreachable NoExecute taint at the next pass, 160, and its pods are evicted after
    # the default tolerationSeconds 300 (DefaultTolerationSeconds admission): 460. The
    # ReplicaSet, with a reaction latency of 1.5 s, recreates them at 461.5.
    m = write(tmp_path, "web.yaml", deployment(replicas=6))
    sc = scenario(tmp_path, m, nodes=3, duration=600,
                  controllers={"replicaset": {"reaction_latency": {"kind": "constant", "value": 1.5}}},
                  actions=[{"at_s": 103, "action": "fail_node", "nodes": {"names": ["n-0"]}}])
    s = Simulation(sc)
    s.advance(100)
    on0 = int((s.state.pods.node[: s.state.pods.n] == 0).sum())
    r = s.run()
    rec = r.frames["recreations"]
    assert on0 > 0 and len(rec) == on0
    assert set(rec["lost_at"]) == {460.0} and set(rec["created_at"]) == {461.5}
    assert set(rec["cause"]) == {"TaintManagerEviction"}
    assert r.summary()["pods_lost_unreplaced"].iloc[0] == 0


def test_pods_of_a_not_ready_node_are_not_available(tmp_path):
    # The node fails at 103 and is NotReady at 155 (timeline above); it comes back at 303
    # (fail_node for 200 s), before the eviction at 460: its pods are not Ready in
    # [155, 303) (MarkPodsNotReady) and Ready again from 303 (minReadySeconds 0).
    m = write(tmp_path, "web.yaml", deployment(replicas=6))
    sc = scenario(tmp_path, m, nodes=3, duration=600,
                  actions=[{"at_s": 103, "action": "fail_node", "nodes": {"names": ["n-0"]}, "duration_s": 200}])
    s = Simulation(sc)
    s.advance(100)
    on0 = int((s.state.pods.node[: s.state.pods.n] == 0).sum())
    r = s.run()
    av = r.frames["availability"].set_index("time")
    assert av.loc[155.0, "available"] == 6 - on0 and av.loc[155.0, "pods"] == 6
    assert av.loc[303.0, "available"] == 6
    assert len(r.frames["recreations"]) == 0
