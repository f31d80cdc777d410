"""Gang scheduling (the Coscheduling plugin at Permit) and the training-job model.

Expected values are derived by hand in the comments, from upstream's
``kubernetes-sigs/scheduler-plugins`` ``pkg/coscheduling/coscheduling.go`` (Less,
PreFilter, PostFilter, Permit, Unreserve) and ``core/core.go`` (PodGroupManager), the
kube-scheduler's Permit wait (``framework.go`` ``WaitOnPermit``: each waiting pod's
timeout rejects it) and the training model of ``docs/batch.md``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from k8sim import Simulation, validate_scenario
from k8sim.batch.training import slowdown
from k8sim.cli import app
from k8sim.cluster import ops
from k8sim.config.batch import TrainingModel
from k8sim.config.loader import ScenarioError

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "gang-deadlock.yaml"


def deadlock(gang: bool, **changes: object) -> dict:
    """Two 4-worker jobs (1 GPU each) on 3 nodes of 2 GPUs: 6 free slots. Job j arrives
    at 0.5 j s; its worker k is created k s later: creations at 0 (0-0), 0.5 (1-0),
    1 (0-1), 1.5 (1-1), 2 (0-2), 2.5 (1-2), 3 (0-3), 3.5 (1-3). Start latency 1 s;
    600 s on one node, 25 % slower across nodes."""
    sc: dict = {
        "name": "deadlock", "seed": 1, "duration_s": 3600,
        "cluster": {"node_pools": [{"name": "gpu", "count": 3, "allocatable": {"cpu": "16", "memory": "64Gi"},
                                    "gpus": {"count": 2, "model": "A100"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 1}},
        "workloads": [{
            "name": "train", "arrival": {"kind": "times", "times_s": [0, 0.5]},
            "gang": {"workers": 4, "workerIntervalSeconds": 1, "scheduleTimeoutSeconds": 60,
                     "training": {"duration": {"kind": "constant", "value": 600}, "crossNodeSlowdown": 0.25}},
            "template": {"requests": {"cpu": "2", "memory": "8Gi"}, "gpu": {"count": 1}},
        }],
        "scheduler": {"profiles": [{"plugins": [{"name": "Coscheduling"}] if gang else []}]},
    }
    sc.update(changes)
    return sc


def pod_times(result) -> dict[str, tuple[float, float]]:  # noqa: ANN001
    pods = result.pods
    return {str(n): (float(s), float(f)) for n, s, f in zip(pods["pod"], pods["scheduled"], pods["finished"],
                                                           strict=True)}


def test_without_gang_scheduling_both_jobs_hold_three_gpus_for_ever() -> None:
    # PrioritySort: pods in creation order, each placed while a GPU is free. The first
    # six creations (0 .. 2.5 s) take the 6 GPUs: workers 0-2 of both jobs. Workers
    # train-0-3 (3 s) and train-1-3 (3.5 s) never fit; neither job gets its 4th worker,
    # so neither starts and the 6 running workers idle until the run ends at 3600 s.
    result = Simulation(validate_scenario(deadlock(gang=False))).run()
    times = pod_times(result)
    for j in (0, 1):
        for k in range(3):
            assert times[f"train-{j}-{k}"][0] == pytest.approx(j * 0.5 + k)
            assert math.isnan(times[f"train-{j}-{k}"][1])  # never ends
        assert math.isnan(times[f"train-{j}-3"][0])  # never bound
    jobs = result.frames["training_jobs"]
    assert jobs["started"].isna().all() and jobs["finished"].isna().all()
    # Idle GPU time: 6 bound workers x (3600 - bound time); bound at 0, .5, 1, 1.5, 2, 2.5.
    s = result.summary().iloc[0]
    assert s["gpu_hours_idle_waiting"] == pytest.approx((6 * 3600 - 7.5) / 3600)
    assert s["training_jobs_completed"] == 0
    assert result.frames["pod_groups"]["all_bound"].isna().all()


def test_with_gang_scheduling_the_jobs_run_one_after_the_other() -> None:
    # Coscheduling. 0-0 .. 0-2 and 1-0 .. 1-2 fail PreFilter when created (fewer than
    # minMember = 4 pods exist). At 3 s train-0-3 passes PreFilter, is placed and waits
    # at Permit (1 assigned), activating its siblings, which are placed; the 4th Permit
    # allows all: job 0 bound at 3 s, Running at 4 s (start latency 1). Its 4 workers
    # need at least 2 nodes (2 GPUs each); kube-default's LeastAllocated puts each on
    # the emptiest node, so 3 nodes (2 + 1 + 1). Across nodes of one rack: run time
    # 600 x 1.25 = 750 s, ends at 754 s.
    # At 3.5 s train-1-3 passes PreFilter; 2 GPUs are free, so 2 members wait, the
    # third fails and PostFilter rejects the waiting two (2 of 4 missing > 10 %); the
    # next waiter activates them again, the same happens with no cluster change in
    # between, and the group is parked until job 0's workers end at 754 s. Then all 4
    # fit: bound at 754 s, Running at 755 s, 750 s -> ends at 1505 s.
    result = Simulation(validate_scenario(deadlock(gang=True))).run()
    times = pod_times(result)
    for k in range(4):
        assert times[f"train-0-{k}"] == (3.0, 754.0)
        assert times[f"train-1-{k}"] == (754.0, 1505.0)
    assert (result.pods["phase"] == "Succeeded").all()
    jobs = result.frames["training_jobs"].set_index("group")
    assert jobs.loc["default/train-0", ["started", "finished", "slowdown", "nodes"]].tolist() == [4.0, 754.0, 1.25, 3]
    assert jobs.loc["default/train-1", ["started", "finished"]].tolist() == [755.0, 1505.0]
    # Job completion time: finished - arrival: 754 - 0 and 1505 - 0.5.
    assert jobs["completion_s"].tolist() == [754.0, 1504.5]
    groups = result.frames["pod_groups"].set_index("group")
    # Gang wait (first member placed -> all bound): job 0 at once; job 1 from 3.5 s to 754 s.
    assert groups["gang_wait_s"].tolist() == [0.0, 750.5]
    assert groups.loc["default/train-1", "rejections"] == 2
    assert groups["timeouts"].tolist() == [0, 0]
    # Idle GPUs: each job's 4 workers hold a GPU for the 1 s start latency before the job starts.
    assert result.summary().iloc[0]["gpu_hours_idle_waiting"] == pytest.approx(8 / 3600)


def test_shipped_scenario_is_the_gang_case() -> None:
    # The same arithmetic on the shipped file (all nodes in one rack: 25 % across nodes).
    from k8sim import load_scenario

    result = Simulation(load_scenario(SCENARIO)).run()
    jobs = result.frames["training_jobs"]
    assert jobs["finished"].tolist() == [754.0, 1505.0]


def log_frame(sim: Simulation):  # noqa: ANN201
    return sim.api.log.frame(sim.state.pods.names, sim.state.nodes.names)


def timeout_scenario(duration_s: float = 100) -> dict:
    """One node with 9 CPUs; a PodGroup of minMember 10 (scheduleTimeoutSeconds 30);
    10 one-CPU pods labelled with it, all created at 0 s."""
    return {
        "name": "timeout", "duration_s": duration_s,
        "cluster": {"nodes": [{"name": "n0", "allocatable": {"cpu": "9", "memory": "64Gi"}}]},
        "podGroups": [{"name": "g", "minMember": 10, "scheduleTimeoutSeconds": 30}],
        "workloads": [{"name": "w", "arrival": {"kind": "burst", "count": 10, "at_s": 0},
                       "duration": {"kind": "constant", "value": 5},
                       "template": {"requests": {"cpu": "1", "memory": "1Gi"},
                                    "labels": {"scheduling.x-k8s.io/pod-group": "g"}}}],
        "scheduler": {"profiles": [{"plugins": [{"name": "Coscheduling"}]}]},
    }


def test_a_group_that_cannot_fit_times_out_and_releases_every_reservation() -> None:
    # At 0 s, w-0 .. w-8 are placed and wait at Permit (9 of 10 assigned); w-9 finds no
    # CPU, and PostFilter leaves the waiters alone: 1 of 10 missing is not above
    # podGroupRejectPercentage (10 %). Until 30 s the 9 hold their CPUs, unbound.
    sim = Simulation(validate_scenario(timeout_scenario()))
    sim.advance(29.999)
    pods, nodes = sim.state.pods, sim.state.nodes
    cpu = sim.state.resources.index["cpu"]
    assert nodes.requested[cpu, 0] == 9000
    assert sorted(sim.scheduler.waiting_pods()) == list(range(9))
    assert "Scheduled" not in list(log_frame(sim)["kind"])
    # At 30 s w-0's wait (since 0 s) times out: it is rejected, and Unreserve rejects the
    # other 8 waiters, so all 9 reservations are released at 30 s. Every rejected pod
    # logs a FailedScheduling row then.
    sim.advance(30.0001)
    log = log_frame(sim)
    at30 = log[(log["time"] == 30.0) & (log["kind"] == "FailedScheduling")]
    assert sorted(at30["pod"]) == [f"w-{i}" for i in range(9)]
    first = at30[at30["pod"] == "w-0"]["detail"].iloc[0]
    assert "timeout after waiting 30s at plugin Coscheduling" in first
    assert (at30[at30["pod"] != "w-0"]["detail"] == "rejection in Unreserve").all()
    ops.check_invariants(sim.state)
    # The freed CPUs are taken again at once by the next attempt: w-9 (rejected by
    # NodeResourcesFit, moved by the AssignedPodDelete) waits first and activates its
    # siblings; w-0 .. w-7 join it (name order), w-8 does not fit. 9 reservations again,
    # never a binding.
    assert sorted(sim.scheduler.waiting_pods()) == [*range(8), 9]
    assert not (pods.phase[:10] >= 2).any()
    # That attempt started at 30 s and times out at 60 s, the next at 90 s; the run ends
    # at 100 s: 3 timeouts, no pod ever bound.
    result = sim.run()
    g = result.frames["pod_groups"].iloc[0]
    assert (g["timeouts"], g["rejections"]) == (3, 3)
    assert math.isnan(g["all_bound"])
    assert result.pods["scheduled"].isna().all()
    assert result.summary().iloc[0]["gangs_timed_out"] == 1


def test_min_resources_prefilter_rejects_the_group() -> None:
    # minResources cpu 10 > the node's 9 CPUs: CheckClusterResource finds a gap of
    # 1 CPU, every member fails PreFilter (UnschedulableAndUnresolvable), none is
    # placed, and each pod's first FailedScheduling says so.
    sc = timeout_scenario()
    sc["podGroups"][0]["minResources"] = {"cpu": "10"}
    result = Simulation(validate_scenario(sc)).run()
    assert result.pods["scheduled"].isna().all()
    failed = result.events[result.events["kind"] == "FailedScheduling"]
    assert failed["detail"].str.contains(r"resource gap: \{'cpu': 1000\}").all()
    assert result.frames["pod_groups"]["rejections"].iloc[0] == 0


def test_pods_without_a_group_are_unaffected_by_coscheduling() -> None:
    # A Coscheduling profile and no PodGroup: the pods go through Permit (Success at
    # once) and are bound as without the plugin.
    base = timeout_scenario()
    del base["podGroups"]
    base["workloads"][0]["template"]["labels"] = {}
    base["workloads"][0]["arrival"] = {"kind": "times", "times_s": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]}
    with_plugin = Simulation(validate_scenario(base)).run()
    base["scheduler"] = {}
    without = Simulation(validate_scenario(base)).run()
    cols = ["pod", "node", "scheduled", "running", "finished", "phase"]
    assert with_plugin.pods[cols].equals(without.pods[cols])
    # 12 pods of 5 s on 9 CPUs, one a second: never more than 5 at once, all bound on arrival.
    assert without.pods["scheduled"].tolist() == [float(i) for i in range(12)]


@pytest.mark.parametrize(("nodes", "racks", "factor"), [(1, 1, 1.0), (2, 1, 1.25), (4, 1, 1.25), (2, 2, 1.5)])
def test_slowdown_levels(nodes: int, racks: int, factor: float) -> None:
    model = TrainingModel.model_validate({"duration": {"kind": "constant", "value": 1}, "crossNodeSlowdown": 0.25,
                                         "crossRackSlowdown": 0.5, "rackLabel": "rack"})
    assert slowdown(model, nodes, racks) == factor


def test_consolidated_job_runs_at_base_speed_and_spread_racks_slower() -> None:
    # One job of 4 one-GPU workers, started together. On one 8-GPU node (binpack keeps
    # them there; the only node anyway) it runs 600 s: Running at 1 s, ends at 601 s.
    # On 4 one-GPU nodes in 2 racks it spans racks: 600 x 1.5 = 900 s, ends at 901 s.
    def run(pools: list[dict]) -> float:
        sc = deadlock(gang=True, cluster={"node_pools": pools})
        sc["workloads"][0]["arrival"] = {"kind": "times", "times_s": [0]}
        sc["workloads"][0]["gang"]["workerIntervalSeconds"] = 0
        sc["workloads"][0]["gang"]["training"].update({"rackLabel": "rack", "crossRackSlowdown": 0.5})
        return float(Simulation(validate_scenario(sc)).run().frames["training_jobs"]["finished"].iloc[0])

    one = [{"name": "big", "count": 1, "allocatable": {"cpu": "64", "memory": "256Gi"},
            "gpus": {"count": 8, "model": "A100"}, "labels": {"rack": "r1"}}]
    racks = [{"name": f"r{r}", "count": 2, "allocatable": {"cpu": "8", "memory": "32Gi"},
              "gpus": {"count": 1, "model": "A100"}, "labels": {"rack": f"r{r}"}} for r in (1, 2)]
    assert run(one) == 601.0
    assert run(racks) == 901.0


def test_min_member_above_workers_is_an_error_with_its_path() -> None:
    sc = deadlock(gang=True)
    sc["workloads"][0]["gang"]["minMember"] = 5
    with pytest.raises(ScenarioError) as e:
        validate_scenario(sc)
    assert "workloads[0].gang.minMember" in str(e.value) and "exceeds the job's 4 worker" in str(e.value)


def test_pod_group_min_member_above_its_pods_is_an_error_with_its_path() -> None:
    sc = timeout_scenario()
    sc["podGroups"][0]["minMember"] = 11
    with pytest.raises(ScenarioError) as e:
        validate_scenario(sc)
    assert "podGroups[0].minMember" in str(e.value) and "exceeds the 10 pod(s)" in str(e.value)


def test_cli_exits_2_on_min_member_above_the_jobs_pods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = SCENARIO.read_text().replace("workers: 4\n", "workers: 4\n      minMember: 6\n")
    (tmp_path / "bad.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["run", "bad.yaml"])
    assert res.exit_code == 2
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert "workloads[0].gang.minMember" in res.stderr and "exceeds the job's 4 worker pod(s)" in res.stderr


def test_same_seed_same_tables() -> None:
    a = Simulation(validate_scenario(deadlock(gang=True))).run()
    b = Simulation(validate_scenario(deadlock(gang=True))).run()
    assert a.pods.equals(b.pods) and a.frames["pod_groups"].equals(b.frames["pod_groups"])
    assert np.array_equal(a.events["time"].to_numpy(), b.events["time"].to_numpy())


def test_explain_says_why_a_group_waits() -> None:
    from k8sim.scheduling.explain import ExplainError
    from k8sim.sim.explain import explain_in_run

    # At 100 s job 1 is parked (see the gang test above): explain names the group and why.
    found = explain_in_run(Simulation(validate_scenario(deadlock(gang=True))), "train-1-2", at=100)
    assert "pod group default/train-1: minMember 4, 4 pod(s) exist, 0 assigned" in found.explanation.message
    assert "rejected twice with no cluster change" in found.explanation.message
    # A member waiting at Permit (timeout scenario, 10 s) is not Pending: the error says
    # where it is assumed and when the group is rejected (0 s + 30 s).
    with pytest.raises(ExplainError, match=r"waiting at Permit .* since t=0 s.*rejected with the whole group at t=30 s"):
        explain_in_run(Simulation(validate_scenario(timeout_scenario())), "w-3", at=10)


def test_coscheduling_from_a_kube_scheduler_configuration(tmp_path: Path) -> None:
    # The plugin enabled in a KubeSchedulerConfiguration (as scheduler-plugins'
    # examples do, multiPoint) gives the same gang run as the scenario profile.
    (tmp_path / "sched.yaml").write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: Coscheduling}]\n")
    sc = deadlock(gang=True)
    sc["scheduler"] = {"configFile": str(tmp_path / "sched.yaml")}
    jobs = Simulation(validate_scenario(sc)).run().frames["training_jobs"]
    assert jobs["finished"].tolist() == [754.0, 1505.0]
