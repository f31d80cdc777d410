"""Trace jobs feeding gangs, training jobs and Kueue queues (``workloads[].jobs``).

Small PAI-format job and task tables (``cluster-trace-gpu-v2020`` column order, no
header) are written per test; every expected time is derived by hand in the comments
(start latency 0, so a pod runs from the instant it is bound). Gang semantics follow
the scheduler-plugins Coscheduling plugin (``pkg/coscheduling/coscheduling.go``
``Permit``: members wait until ``minMember`` are placed); queue semantics Kueue's
(``pkg/scheduler/scheduler.go``: a workload is admitted as a whole when its
ClusterQueue's quota holds all of it).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from k8sim import Simulation, load_scenario, validate_scenario
from k8sim.cli import app
from k8sim.config.loader import ScenarioError

ROOT = Path(__file__).resolve().parents[2]


def tables(tmp_path: Path, jobs: list[str], tasks: list[str]) -> tuple[str, str]:
    j, t = tmp_path / "pai_job_table.csv", tmp_path / "pai_task_table.csv"
    j.write_text("".join(line + "\n" for line in jobs))
    t.write_text("".join(line + "\n" for line in tasks))
    return str(j), str(t)


def scenario(job_table: str, task_table: str, *, nodes: int, gpus: int, jobs: dict | None = None,
             coscheduling: bool = True, **extra: object) -> dict:
    sc: dict = {
        "name": "jobs", "duration_s": 1000,
        "cluster": {"node_pools": [{"name": "g", "count": nodes, "allocatable": {"cpu": "64", "memory": "256Gi"},
                                    "gpus": {"count": gpus, "model": "T4"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 0}},
        "workloads": [{"name": "pai", "jobs": {"format": "pai2020", "files": [task_table],
                                               "args": {"job_table": job_table}, **(jobs or {})}}],
        "scheduler": {"profiles": [{"plugins": [{"name": "Coscheduling"}] if coscheduling else []}]},
    }
    sc.update(extra)
    return sc


def run(sc: dict):  # noqa: ANN201
    return Simulation(validate_scenario(sc)).run()


def scheduled(result, prefix: str) -> list[float]:  # noqa: ANN001
    pods = result.pods
    return pods[pods["pod"].str.startswith(prefix)].sort_values("pod")["scheduled"].tolist()


TWO_GANGS = (
    ["jx,ix,alice,Terminated,0,100", "jy,iy,bob,Terminated,0,200"],
    ["jx,w,4,Terminated,0,100,100,1,100,T4", "jy,w,4,Terminated,0,200,100,1,100,T4"],
)


def test_a_four_instance_task_is_placed_as_a_gang(tmp_path):
    # Two jobs of 4 one-GPU pods arrive at 0 on 3 nodes of 2 GPUs (6 GPUs). With
    # Coscheduling, jx's group comes first: its 4 pods bind at 0 and run 100 s (their
    # task's end - start). jy's members can place only 2 of 4 (2 GPUs left): they wait
    # at Permit and are rejected, so none binds until jx's pods end at 100; then all 4
    # bind at 100 and run to 100 + 200 = 300.
    j, t = tables(tmp_path, *TWO_GANGS)
    result = run(scenario(j, t, nodes=3, gpus=2, jobs={"gang": {}}))
    assert scheduled(result, "jx/w/") == [0.0] * 4
    assert scheduled(result, "jy/w/") == [100.0] * 4
    assert sorted(result.pods["finished"].tolist()) == [100.0] * 4 + [300.0] * 4
    groups = result.frames["pod_groups"].set_index("group")
    # PodGroups are <workload>-<job>.
    assert groups.loc["default/pai-jy", "min_member"] == 4 and groups.loc["default/pai-jy", "all_bound"] == 100.0
    # Pod at a time (no Coscheduling) jy's first two pods take the 2 free GPUs at 0.
    plain = run(scenario(j, t, nodes=3, gpus=2, jobs={"gang": {}}, coscheduling=False))
    assert scheduled(plain, "jy/w/") == [0.0, 0.0, 100.0, 100.0]


def test_a_training_job_runs_its_trace_time_times_the_placement_slowdown(tmp_path):
    # One job of 4 one-GPU workers, trace run time 100 s, on 2 nodes of 2 GPUs: the
    # workers span 2 nodes, so it runs 100 x (1 + 0.5) = 150 s from 0 (all running at 0).
    j, t = tables(tmp_path, ["jx,ix,alice,Terminated,0,100"], ["jx,w,4,Terminated,0,100,100,1,100,T4"])
    result = run(scenario(j, t, nodes=2, gpus=2, jobs={"gang": {}, "training": {"crossNodeSlowdown": 0.5}}))
    tj = result.frames["training_jobs"].iloc[0]
    assert (tj["base_s"], tj["nodes"], tj["run_s"], tj["finished"]) == (100.0, 2, 150.0, 150.0)
    assert result.pods["finished"].tolist() == [150.0] * 4


def queued(job_table: str, task_table: str, **jobs: object) -> dict:
    """team-a and team-b: ClusterQueues of 4 GPUs each (no cohort), LocalQueues of the
    same names; 2 nodes of 4 T4s (8 GPUs: every admitted pod fits)."""
    def cq(name: str) -> dict:
        return {"name": name, "resourceGroups": [{"coveredResources": ["cpu", "memory", "nvidia.com/gpu"], "flavors": [
            {"name": "f", "resources": [{"name": "cpu", "nominalQuota": 100}, {"name": "memory", "nominalQuota": "1Ti"},
                                        {"name": "nvidia.com/gpu", "nominalQuota": 4}]}]}]}
    kueue = {"resourceFlavors": [{"name": "f"}], "clusterQueues": [cq("team-a"), cq("team-b")],
             "localQueues": [{"name": "team-a", "clusterQueue": "team-a"}, {"name": "team-b", "clusterQueue": "team-b"}]}
    return scenario(job_table, task_table, nodes=2, gpus=4, kueue=kueue,
                    jobs={"gang": {}, "queues": {"column": "user", "map": {"alice": "team-a"}, "default": "team-b"},
                          **jobs})


QUEUED = (
    ["a1,i1,alice,Terminated,0,100", "b1,i2,bob,Terminated,5,55", "a2,i3,alice,Terminated,10,130"],
    ["a1,w,4,Terminated,0,100,100,1,100,T4", "b1,w,2,Terminated,5,55,100,1,200,T4",
     "a2,w,2,Terminated,10,40,100,1,100,T4"],
)


def test_jobs_go_to_the_users_queue_and_wait_for_its_quota(tmp_path):
    # alice -> team-a, bob (not mapped) -> team-b (the default).
    # a1 (4 GPUs) is admitted at 0 by team-a (quota 4), runs 100 s: ends at 100.
    # b1 (2 pods x 2 GPUs) is admitted at 5 by team-b, runs 50 s: ends at 55.
    # a2 (2 GPUs) arrives at 10; team-a's 4 GPUs are in use by a1 until 100, when its
    # quota is released: admitted at 100 (waited 90 s), runs 30 s: ends at 130.
    j, t = tables(tmp_path, *QUEUED)
    result = run(queued(j, t))
    wl = result.frames["queue_workloads"].set_index("workload")
    assert wl.loc[["a1", "b1", "a2"], "cluster_queue"].tolist() == ["team-a", "team-b", "team-a"]
    assert wl.loc[["a1", "b1", "a2"], "admitted"].tolist() == [0.0, 5.0, 100.0]
    assert wl.loc[["a1", "b1", "a2"], "finished"].tolist() == [100.0, 55.0, 130.0]
    assert wl.loc["a2", "queue_wait_s"] == 90.0
    assert wl.loc[["a1", "b1", "a2"], "pods"].tolist() == [4, 2, 2]
    assert wl.loc[["a1", "b1", "a2"], "gpu"].tolist() == [4.0, 4.0, 2.0]
    tj = result.frames["trace_jobs"].set_index("job")
    assert tj.loc[["a1", "b1", "a2"], "queue"].tolist() == ["team-a", "team-b", "team-a"]
    assert tj.loc["b1", "user"] == "bob"
    assert scheduled(result, "a2/w/") == [100.0, 100.0]


def test_one_queue_for_every_job(tmp_path):
    # queue: team-b for all: a1 admitted at 0 (4 GPUs); b1 (4 GPUs) waits for a1's end
    # at 100; a2 (2 GPUs) arrives at 10 and waits too (b1 is older and BestEffortFIFO
    # sets it aside, but the quota is full anyway): at 100 b1 is admitted (4 of 4), a2 at
    # 150 when b1 ends (100 + 50).
    j, t = tables(tmp_path, *QUEUED)
    sc = queued(j, t)
    del sc["workloads"][0]["jobs"]["queues"]
    sc["workloads"][0]["queue"] = "team-b"
    wl = run(sc).frames["queue_workloads"].set_index("workload")
    assert set(wl["cluster_queue"]) == {"team-b"}
    assert wl.loc[["a1", "b1", "a2"], "admitted"].tolist() == [0.0, 100.0, 150.0]


def test_same_seed_same_frames():
    sc = load_scenario(ROOT / "scenarios" / "pai-jobs-queues.yaml", overrides=["duration_s=3600"])
    a, b = Simulation(sc).run(), Simulation(sc).run()
    for name in ("pods", "events"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    for name in ("trace_jobs", "queue_workloads", "pod_groups", "training_jobs"):
        pd.testing.assert_frame_equal(a.frames[name], b.frames[name])


def test_the_shipped_scenario_admits_trace_jobs_through_queues_as_gangs():
    result = Simulation(load_scenario(ROOT / "scenarios" / "pai-jobs-queues.yaml")).run()
    tj = result.frames["trace_jobs"].set_index("job")
    wl = result.frames["queue_workloads"].set_index("workload")
    # Every job read is a queued workload, in the queue its user maps to.
    assert set(wl.index) == set(tj.index)
    expected = tj["user"].map(lambda u: "team-a" if u == "07b8ad2b757e" else "team-b")
    assert (wl.loc[tj.index, "cluster_queue"].to_numpy() == expected.to_numpy()).all()
    assert (wl.loc[tj.index, "pods"].to_numpy() == tj["pods"].to_numpy()).all()
    # Gangs: the members of every group bound together (one `scheduled` time per group
    # generation; an evicted job's re-admission is a new group, `<job>-r<k>`).
    pods = result.pods.dropna(subset=["scheduled"])
    group = pods["pod"].str.split("/").str[0]
    assert (pods.groupby(group)["scheduled"].nunique() == 1).all()
    # The arrival of each job is its submission time minus the window start (1000 s).
    assert (wl.loc[tj.index, "created"].to_numpy() == tj["arrival_s"].to_numpy()).all()


@pytest.mark.parametrize(("edit", "where", "what"), [
    (lambda w: w["jobs"]["queues"].pop("default"), "workloads[0].jobs.queues.default",
     "1 value(s) of user are not in jobs.queues.map: 'bob'"),
    (lambda w: w["jobs"]["queues"].update(column="machine"), "workloads[0].jobs.queues.column",
     "'machine' is not a column of pai2020 jobs (unit job)"),
    (lambda w: w["jobs"]["queues"]["map"].update(alice="team-c"), "workloads[0].jobs.queues.map.alice",
     "LocalQueue 'team-c' not found in namespace 'default'"),
    (lambda w: w["jobs"].pop("gang"), "workloads[0].jobs.training",
     "a training job is a PodGroup of its workers: give gang too"),
    (lambda w: w["jobs"]["args"].update(job_table="nope.csv"), "workloads[0].jobs.args.job_table",
     "trace file not found"),
    (lambda w: w.update(max_pods=3), "workloads[0].max_pods", "max_pods 3 is fewer than the first job's 4 pods"),
])
def test_bad_job_traces_are_refused_with_the_field_path(tmp_path, edit, where, what):
    j, t = tables(tmp_path, *QUEUED)
    sc = queued(j, t, training={})
    edit(sc["workloads"][0])
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(sc))
    out = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert out.exit_code == 2, out.output
    assert where in out.output and what in " ".join(out.output.split()), out.output
    assert "Traceback" not in out.output


def test_malformed_rows_are_warned_with_their_lines(tmp_path):
    # Line 4 of the task table has 2.5 instances: dropped, and the run says where.
    j, t = tables(tmp_path, QUEUED[0], [*QUEUED[1], "a1,x,2.5,Terminated,0,100,100,1,100,T4"])
    sim = Simulation(validate_scenario(queued(j, t)))
    warned = [w for w in sim.warnings if "pai_task_table.csv" in w]
    assert len(warned) == 1 and "bad_number: 1 (first at line 4 (inst_num))" in warned[0]
    with pytest.raises(ScenarioError, match="no jobs in the time window"):
        Simulation(validate_scenario(queued(j, t, start_s=500)))


def test_alibaba_2018_tasks_arrive_whole_at_their_start_times():
    # The shipped batch_task sample, no queue, no gang: every task becomes its
    # instance_num pods <job>/<task>/<k>, all created at the task's start_time (minus the
    # window start 86400), each running its task's end - start.
    sc = {"name": "ali", "duration_s": 20000,
          "cluster": {"node_pools": [{"name": "n", "count": 20, "allocatable": {"cpu": "32", "memory": "128Gi"}}]},
          "workloads": [{"name": "ali", "jobs": {"format": "alibaba2018", "files": ["sample"], "start_s": 86400,
                                                 "args": {"machine_memory_bytes": "64Gi"}}}]}
    result = run(sc)
    tj = result.frames["trace_jobs"].set_index("job")
    pods = result.pods
    job = pods["pod"].str.rsplit("/", n=1).str[0]
    assert len(pods) == int(tj["pods"].sum())
    assert (pods["created"].to_numpy() == tj.loc[job, "arrival_s"].to_numpy()).all()
    assert (pods.groupby(job).size().loc[tj.index] == tj["pods"]).all()
    done = pods[pods["phase"] == "Succeeded"]
    ran = done["finished"] - done["running"]
    assert (ran.to_numpy() == tj.loc[job[done.index], "duration_s"].to_numpy()).all()


def test_two_workloads_may_replay_the_same_trace_as_gangs(tmp_path):
    # Each replay's groups are named after its workload: pai-jx and again-jx.
    j, t = tables(tmp_path, *TWO_GANGS)
    sc = scenario(j, t, nodes=8, gpus=2, jobs={"gang": {}})
    sc["workloads"].append({**sc["workloads"][0], "name": "again"})
    groups = run(sc).frames["pod_groups"]
    assert sorted(groups["group"]) == ["default/again-jx", "default/again-jy", "default/pai-jx", "default/pai-jy"]
    assert (groups["all_bound"] == 0.0).all()  # 16 GPUs for 16 one-GPU pods


def test_the_no_fit_warning_counts_a_later_workloads_own_pods(tmp_path):
    # The first workload's one job (4 one-GPU pods) fits; the second replays two jobs:
    # jb's 2 pods ask for 1 core and fit, jc's 3 pods ask for 100 cores (plan_cpu 10000)
    # on 64-core nodes and fit none. The second workload's shapes come after the first
    # one's, so its warning must read its own shapes' fits: 3 pods, not 2 or 0.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    j1, t1 = tables(tmp_path / "a", ["ja,ia,alice,Terminated,0,100"], ["ja,w,4,Terminated,0,100,100,1,100,T4"])
    j2, t2 = tables(tmp_path / "b", ["jb,ib,bob,Terminated,0,100", "jc,ic,carol,Terminated,0,100"],
                    ["jb,w,2,Terminated,0,100,100,1,0,", "jc,w,3,Terminated,0,100,10000,1,0,"])
    sc = scenario(j1, t1, nodes=2, gpus=4, coscheduling=False)
    sc["workloads"].append({"name": "later", "jobs": {"format": "pai2020", "files": [t2], "args": {"job_table": j2}}})
    sim = Simulation(validate_scenario(sc))
    warned = [w for w in sim.warnings if "fit no node" in w]
    assert len(warned) == 1 and warned[0].startswith("workloads[1].jobs") and "3 pod(s) fit no node" in warned[0]
