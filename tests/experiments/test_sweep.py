"""sweep(): validation before any run, run ids, atomic run directories, resume, failures,
and identical results in this process, in a local worker process and on a Dask worker."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import Field

from k8sim import ScenarioError
from k8sim.config.k8s_types import K8sModel
from k8sim.experiments import experiment_from_data, load_experiment, sweep
from k8sim.experiments.comparison import RunTask, execute_task
from k8sim.experiments.executors import ExecutorError, InProcess, LocalProcesses
from k8sim.experiments.sweeps import plan, run_id
from k8sim.scheduling import registry
from k8sim.scheduling.plugins.base import ScorePlugin

# Two nodes, eight short pods: a run takes a few milliseconds.
SCENARIO = {
    "seed": 5,
    "sample_interval_s": 5,
    "cluster": {"node_pools": [{"name": "n", "count": 2, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
    "workloads": [{
        "name": "w",
        "arrival": {"kind": "poisson", "rate_per_s": 0.5},
        "max_pods": 8,
        "template": {"requests": {"cpu": "1", "memory": "1Gi"}},
        "duration": {"kind": "exponential", "mean": 20},
    }],
}


class BoomArgs(K8sModel):
    fail: bool = False
    bias: int = Field(default=0, ge=0, le=100)


class Boom(ScorePlugin):
    """Scores every node ``bias``; raises in the run when ``fail`` (a run-time failure
    that no validation can see)."""

    name = "ExperimentsTestBoom"
    Args = BoomArgs

    def score(self, state, pod, candidates):
        if self.args.fail:
            raise RuntimeError("boom: plugin asked to fail")
        return np.full(candidates.size, self.args.bias, dtype=np.int64)


if Boom.name not in registry.available():
    registry.register(Boom)


@pytest.fixture
def files(tmp_path):
    """Write the scenario (optionally changed) and an experiment next to it."""

    def write(experiment: dict, scenario: dict | None = None) -> Path:
        (tmp_path / "sc").mkdir(exist_ok=True)
        (tmp_path / "sc" / "tiny.yaml").write_text(yaml.safe_dump(scenario or SCENARIO))
        (tmp_path / "exp").mkdir(exist_ok=True)
        path = tmp_path / "exp" / "exp.yaml"
        path.write_text(yaml.safe_dump({"scenario": "../sc/tiny.yaml", **experiment}, sort_keys=False))
        return path

    return write


GRID = {"grid": {"cluster.node_pools[0].count": [1, 2], "workloads[0].max_pods": [4, 8]},
        "profiles": ["kube-default", "binpack"], "replications": 2, "base_seed": 3}


def test_grid_runs_layout_and_table(files, tmp_path):
    out = tmp_path / "out"
    seen = []
    table = sweep(files(GRID), out_dir=out, progress=lambda d, t, row: seen.append((d, t, row["status"])))
    assert len(table) == 2 * 2 * 2 * 2
    assert seen == [(i, 16, "ok") for i in range(1, 17)]
    assert list(table.columns[:7]) == ["run_id", "status", "profile", "replication", "seed",
                                       "cluster.node_pools[0].count", "workloads[0].max_pods"]
    assert list(table.columns[-3:]) == ["wall_s", "skipped", "error"]
    assert (table["status"] == "ok").all() and not table["skipped"].any()
    # grid order: last key fastest, then profiles, then replications
    first = table.iloc[:5]
    assert list(first["cluster.node_pools[0].count"]) == [1, 1, 1, 1, 1]
    assert list(first["workloads[0].max_pods"]) == [4, 4, 4, 4, 8]
    assert list(first["profile"]) == ["kube-default", "kube-default", "binpack", "binpack", "kube-default"]
    assert list(first["seed"]) == [3, 4, 3, 4, 3]
    # the overrides took effect
    assert list(table.groupby("workloads[0].max_pods")["pods_submitted"].max()) == [4, 8]
    # stable ids, one directory each
    for row in table.to_dict(orient="records"):
        ov = {k: row[k] for k in ("cluster.node_pools[0].count", "workloads[0].max_pods")}
        assert row["run_id"] == run_id(ov, row["profile"], row["seed"])
        d = out / "runs" / row["run_id"]
        assert sorted(p.name for p in d.iterdir()) == ["events.parquet", "nodes.parquet", "pods.parquet", "summary.json",
                                                       "timeseries.parquet"]
    assert table["run_id"].is_unique
    assert not [p for p in (out / "runs").iterdir() if p.name.startswith(".")]  # no temp dirs left
    payload = json.loads((out / "runs" / table["run_id"][0] / "summary.json").read_text())
    assert payload["overrides"] == {"cluster.node_pools[0].count": 1, "workloads[0].max_pods": 4}
    assert (payload["profile"], payload["seed"], payload["status"]) == ("kube-default", 3, "ok")
    assert payload["summary"]["pods_submitted"] == 4
    pods = pd.read_parquet(out / "runs" / table["run_id"][0] / "pods.parquet")
    assert len(pods) == 4 and set(pods["node"]) <= {"n-0"}
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"), table)
    # each profile really ran: presets in the planned scenarios, and different placements
    planned = plan(load_experiment(files(GRID)))
    assert [r.scenario.scheduler.profiles[0].preset for r in planned] == list(table["profile"])
    two = table[(table["cluster.node_pools[0].count"] == 2) & (table["workloads[0].max_pods"] == 8)]
    placements = {(r["profile"], r["seed"]): list(pd.read_parquet(out / "runs" / r["run_id"] / "pods.parquet")["node"])
                  for r in two.to_dict(orient="records")}
    assert any(placements[("kube-default", s)] != placements[("binpack", s)] for s in (3, 4))
    assert all(set(placements[("binpack", s)][:2]) == {placements[("binpack", s)][0]} for s in (3, 4))


def test_run_ids_are_stable_and_distinct():
    a = run_id({"x": 1, "y": [1, 2]}, "binpack", 3)
    assert a == run_id({"y": [1, 2], "x": 1}, "binpack", 3)  # key order does not matter
    assert len({a, run_id({"x": 1, "y": [1, 2]}, "binpack", 4), run_id({"x": 2, "y": [1, 2]}, "binpack", 3),
                run_id({"x": 1, "y": [1, 2]}, "spread", 3)}) == 4
    assert len(a) == 16 and int(a, 16) >= 0  # 16 hex digits


def test_resume_skips_existing_runs(files, tmp_path):
    exp = files(GRID)
    out = tmp_path / "out"
    first = sweep(exp, out_dir=out)
    victim = first["run_id"][5]
    import shutil

    shutil.rmtree(out / "runs" / victim)
    stamp = {p.name: (p / "summary.json").stat().st_mtime_ns for p in (out / "runs").iterdir()}
    time.sleep(0.01)
    second = sweep(exp, out_dir=out)
    assert list(second.loc[second["run_id"] != victim, "skipped"].unique()) == [True]
    assert not second.loc[second["run_id"] == victim, "skipped"].item()
    for name, ns in stamp.items():  # skipped runs were not rewritten
        assert (out / "runs" / name / "summary.json").stat().st_mtime_ns == ns
    cols = [c for c in first.columns if c not in ("wall_s", "skipped")]
    pd.testing.assert_frame_equal(first[cols], second[cols])


def test_failing_run_is_recorded_and_others_go_on(files, tmp_path):
    scenario = {**SCENARIO, "scheduler": {"profiles": [
        {"preset": "kube-default", "plugins": [{"name": "ExperimentsTestBoom", "args": {"fail": False}}]}]}}
    exp = files({"grid": {"scheduler.profiles[0].plugins[0].args.fail": [False, True],
                          "scheduler.profiles[0].plugins[0].args.bias": [1, 2]}}, scenario)
    out = tmp_path / "out"
    table = sweep(exp, out_dir=out)
    assert list(table["profile"].unique()) == ["scenario"]  # no profiles: the scenario's own scheduler
    bad = table[table["status"] == "error"]
    good = table[table["status"] == "ok"]
    assert len(bad) == 2 and len(good) == 2
    assert (bad["scheduler.profiles[0].plugins[0].args.fail"] == True).all()  # noqa: E712
    assert bad["error"].str.contains("RuntimeError: boom: plugin asked to fail").all()
    assert bad["pods_submitted"].isna().all() and (good["pods_submitted"] == 8).all()
    for rid in bad["run_id"]:
        d = out / "runs" / rid
        assert sorted(p.name for p in d.iterdir()) == ["error.json"]
        err = json.loads((d / "error.json").read_text())
        assert err["status"] == "error" and err["profile"] == "scenario"
        assert "Traceback" in err["traceback"] and "in score" in err["traceback"]
        assert err["overrides"]["scheduler.profiles[0].plugins[0].args.fail"] is True
    saved = pd.read_parquet(out / "sweep.parquet")
    assert list(saved["status"]) == list(table["status"])
    # a rerun skips the failed runs too, unless asked to retry them
    again = sweep(exp, out_dir=out)
    assert again["skipped"].all() and (again["status"] == "error").sum() == 2
    retried = sweep(exp, out_dir=out, retry_failed=True)
    assert list(retried["skipped"]) == [not f for f in retried["scheduler.profiles[0].plugins[0].args.fail"]]


def test_list_of_points(files, tmp_path):
    exp = files({"list": [{"cluster.node_pools[0].count": 1}, {"workloads[0].max_pods": 3},
                          {"workloads[0].template.requests": {"cpu": "2", "memory": "1Gi"}}],
                 "profiles": ["spread"]})
    table = sweep(exp, out_dir=tmp_path / "o")
    assert list(table.columns[5:8]) == ["cluster.node_pools[0].count", "workloads[0].max_pods",
                                       "workloads[0].template.requests"]
    assert table["cluster.node_pools[0].count"].isna().tolist() == [False, True, True]
    assert table["workloads[0].template.requests"][2] == '{"cpu": "2", "memory": "1Gi"}'
    assert list(table["pods_submitted"]) == [8, 3, 8]
    assert list(table["seed"]) == [5, 5, 5]  # base_seed defaults to the scenario's seed


def test_bad_overrides_are_all_reported_before_any_run(files, tmp_path):
    exp = files({"grid": {"cluster.node_pools[0].cout": [1, 2],
                          "cluster.node_pools[0].count": ["many", 2],
                          "workloads[3].max_pods": [1],
                          "duration_s": [-5]},
                 "profiles": ["kube-default", "bin-pack"]})
    out = tmp_path / "out"
    with pytest.raises(ScenarioError) as e:
        sweep(exp, out_dir=out)
    msg = str(e.value)
    lines = msg.splitlines()
    assert all(line.startswith(str(exp)) for line in lines)
    assert "profiles[1]: unknown preset 'bin-pack'" in msg
    assert "grid['cluster.node_pools[0].cout']: unknown key (did you mean 'count'?)" in msg
    assert "grid['cluster.node_pools[0].count']: value \"many\": " in msg
    assert "grid['workloads[3].max_pods']: index out of range (the list has 1 items; index 1 appends" in msg
    assert "grid['duration_s']: value -5: Input should be greater than 0" in msg
    assert len(lines) == len(set(lines)) == 5  # each problem once, not once per point
    assert not out.exists()


def test_experiment_file_problems(files, tmp_path):
    with pytest.raises(ScenarioError, match=r"replication: unknown key"):
        load_experiment(files({"replication": 2}))
    with pytest.raises(ScenarioError, match="give either grid or list, not both"):
        load_experiment(files({"grid": {"seed": [1]}, "list": [{"seed": 2}]}))
    with pytest.raises(ScenarioError, match=r"replications: Input should be greater than or equal to 1"):
        load_experiment(files({"replications": 0}))
    with pytest.raises(ScenarioError, match=r"grid\['seed'\] has no values"):
        load_experiment(files({"grid": {"seed": []}}))
    with pytest.raises(ScenarioError, match=r"scenario: \.\./sc/missing\.yaml: file not found"):
        sweep(experiment_from_data({"scenario": "../sc/missing.yaml"}, "exp.yaml", tmp_path / "exp"))
    with pytest.raises(ScenarioError, match=r"list\[1\]: repeats point 0"):
        plan(load_experiment(files({"list": [{"seed": 1}, {"seed": 1}]})))
    assert load_experiment(files({})).name == "exp"


def test_bad_executor_options(files, tmp_path):
    exp = files(GRID)
    with pytest.raises(ExecutorError, match="unknown executor 'threads'"):
        sweep(exp, executor="threads", out_dir=tmp_path / "o")
    with pytest.raises(ScenarioError, match="jobs: must be an integer >= 1, got 0"):
        sweep(exp, jobs=0, out_dir=tmp_path / "o")
    with pytest.raises(ScenarioError, match="applies only to the dask executor"):
        sweep(exp, address="tcp://127.0.0.1:8786", out_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_local_workers_match_in_process(files, tmp_path):
    exp = files(GRID)
    a = sweep(exp, jobs=1, out_dir=tmp_path / "a")
    b = sweep(exp, jobs=2, out_dir=tmp_path / "b")
    cols = [c for c in a.columns if c != "wall_s"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    rid = a["run_id"][3]
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / "runs" / rid / "pods.parquet"),
                                  pd.read_parquet(tmp_path / "b" / "runs" / rid / "pods.parquet"))


def _task() -> RunTask:
    from k8sim import load_scenario

    sc = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml",
                       overrides=["workloads[0].max_pods=80", "workloads[1].max_pods=40"])
    return RunTask(sc, seed=17, info={"profile": "scenario"}, keep="tables")


def _same(a, b) -> None:
    assert a.error is None and b.error is None, (a.error, b.error)
    pd.testing.assert_frame_equal(a.tables["pods"], b.tables["pods"])
    pd.testing.assert_frame_equal(a.tables["timeseries"], b.tables["timeseries"])
    ra = {k: v for k, v in a.row.items() if k != "wall_s"}
    rb = {k: v for k, v in b.row.items() if k != "wall_s"}
    assert ra == rb


@pytest.mark.slow
def test_same_seed_same_result_in_process_and_in_a_worker_process():
    task = _task()
    here = execute_task(task)
    assert here.tables is not None and len(here.tables["pods"]) == 120
    with InProcess() as ex:
        (inproc,) = list(ex.map_unordered(execute_task, [task]))
    with LocalProcesses(1) as ex:
        (worker,) = list(ex.map_unordered(execute_task, [task]))
    assert worker.error is None
    _same(here, inproc.value)
    _same(here, worker.value)


@pytest.mark.slow
def test_same_seed_same_result_on_a_dask_worker(files, tmp_path):
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed (pip install 'k8sim[dask]')")
    from k8sim.experiments.executors import DaskExecutor

    task = _task()
    here = execute_task(task)
    with DaskExecutor(None, 1) as ex:
        worker_pid = ex._client.run(os.getpid)
        (on_dask,) = list(ex.map_unordered(execute_task, [task]))
    assert list(worker_pid.values())[0] != os.getpid()  # it really ran elsewhere
    assert on_dask.error is None
    _same(here, on_dask.value)
    # ... and a whole sweep on a Dask LocalCluster matches the in-process one
    exp = files({**GRID, "replications": 1})
    local = sweep(exp, out_dir=tmp_path / "local")
    dask = sweep(exp, executor="dask", jobs=2, out_dir=tmp_path / "dask")
    cols = [c for c in local.columns if c != "wall_s"]
    pd.testing.assert_frame_equal(local[cols], dask[cols])


@pytest.mark.slow
def test_unreachable_dask_scheduler_fails_before_any_run(files, tmp_path):
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed (pip install 'k8sim[dask]')")
    out = tmp_path / "out"
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError) as e:
        sweep(files(GRID), executor="dask", address="tcp://127.0.0.1:1", out_dir=out, connect_timeout_s=1)
    assert time.perf_counter() - t0 < 15
    assert isinstance(e.value, ExecutorError)
    assert str(e.value).startswith("dask scheduler tcp://127.0.0.1:1: cannot connect within 1 s")
    assert not out.exists()


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[2] / "experiments").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_shipped_experiment_files_plan(path):
    # Every shipped experiment file loads and every point x profile validates (plan()
    # builds each simulation without running it).
    from k8sim.experiments.sweeps import load_experiment, plan

    exp = load_experiment(path)
    runs = plan(exp)
    assert len(runs) > 0


@pytest.mark.slow
def test_sweep_on_a_separately_started_dask_cluster(files, tmp_path):
    """The several-machines path of the README: a ``dask scheduler`` and two ``dask worker``
    processes started on their own (as on other machines), joined by the scheduler's
    address; the sweep's table equals the in-process one, and the runs happened in the
    worker processes, not in this one."""
    pytest.importorskip("dask.distributed", reason="the dask extra is not installed (pip install 'k8sim[dask]')")
    import subprocess
    import sys

    from dask.distributed import Client

    sched_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    common = ["--no-dashboard"]
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0",
                               "--scheduler-file", str(sched_file), *common],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sched_file.exists(), "the dask scheduler did not start"
        address = json.loads(sched_file.read_text())["address"]
        for _ in range(2):
            procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                           "--nthreads", "1", "--nworkers", "1", *common],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            worker_pids = set(client.run(os.getpid).values())
        assert len(worker_pids) == 2 and os.getpid() not in worker_pids

        exp = files({**GRID, "replications": 1})
        local = sweep(exp, out_dir=tmp_path / "local")
        remote = sweep(exp, executor="dask", address=address, out_dir=tmp_path / "remote")
        cols = [c for c in local.columns if c != "wall_s"]
        pd.testing.assert_frame_equal(local[cols], remote[cols])
        # Results travel back to the client, which alone writes the output directory.
        rid = local["run_id"][1]
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "local" / "runs" / rid / "pods.parquet"),
                                      pd.read_parquet(tmp_path / "remote" / "runs" / rid / "pods.parquet"))
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
