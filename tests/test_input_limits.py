"""Bad input never hangs, never ends in a traceback, never loses results.

One test (or a few) per class of bad input: time fields beyond the time limit, runs that
would never end, timeseries that would not fit in memory, out-of-range priorities and
trace cells, objects with fields of the wrong type, an output location that cannot be
written, SIGTERM during a sweep, names that are paths, plugin imports during
validation, YAML alias bombs, booleans for numbers and Kubernetes name syntax. Each
failed on the code before the fix (a hang, a MemoryError, an OverflowError or a
ValueError traceback, a silently accepted value).

Commands run in-process (typer's CliRunner) unless the test is about processes
(SIGTERM). Anything that could hang runs under :func:`time_bound`, which turns a hang
into a failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from timebound import time_bound
from typer.testing import CliRunner

from k8sim import load_scenario
from k8sim.cli import app
from k8sim.config.loader import (
    MAX_ALIAS_EXPANSION,
    ScenarioError,
    apply_overrides,
    read_yaml,
    validate_scenario,
)
from k8sim.constants import MAX_PODS, MAX_TIME_S, MAX_TIMESERIES_BINS
from k8sim.sim.simulation import Simulation

REPO = Path(__file__).resolve().parents[1]
OBJECTS = REPO / "tests" / "data" / "kube" / "cluster.yaml"

BASE: dict = {
    "version": 1,
    "seed": 1,
    "cluster": {"node_pools": [{"name": "p", "count": 2, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
    "workloads": [{
        "name": "w",
        "arrival": {"kind": "poisson", "rate_per_s": 1.0},
        "max_pods": 5,
        "template": {"requests": {"cpu": "100m"}},
        "duration": {"kind": "constant", "value": 10},
    }],
}


def scenario(**changes: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in changes.items():
        data = apply_overrides(data, [f"{path}={yaml.safe_dump(value, default_flow_style=True).strip()}"])
    return data


def problems(data: dict) -> str:
    with pytest.raises(ScenarioError) as info:
        validate_scenario(data, source="s.yaml")
    return str(info.value)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback: the contract is broken
    return result.exit_code, result.output


# ------------------------------------------------------------------ 1. time bounds


@pytest.mark.parametrize(("path", "value", "where"), [
    ("workloads[0].duration.value", 1e18, "workloads[0].duration.value"),
    ("workloads[0].arrival", {"kind": "times", "times_s": [1e300]}, "workloads[0].arrival.times_s[0]"),
    ("scheduler.cycle_latency_s", 1e300, "scheduler.cycle_latency_s"),
    ("duration_s", 2e9, "duration_s"),
    ("workloads[0].template.terminationGracePeriodSeconds", 1e12, "terminationGracePeriodSeconds"),
])
def test_time_fields_beyond_the_limit_are_rejected(path: str, value: object, where: str) -> None:
    msg = problems(scenario(**{path: value}))
    assert where in msg
    assert "1000000000" in msg and "time limit" in msg  # names the bound and what it is


def test_a_draw_beyond_the_limit_ends_the_run_with_a_warning() -> None:
    # Pareto(shape 0.01, scale 1): P(X > 1e9) = 1e-9 ** 0.01 = 0.81, so most durations
    # are beyond the time limit; drawn values reach 1e30 and more, where float64 time no
    # longer moves by the progress step (the loop used to spin at 100% CPU for ever).
    sim = Simulation(validate_scenario(scenario(**{
        "workloads[0].duration": {"kind": "pareto", "shape": 0.01, "scale": 1}})))
    seen: list[float] = []
    with time_bound(10):
        result = sim.run(progress=seen.append)
    assert seen and max(seen) <= MAX_TIME_S
    assert any("time limit" in w for w in sim.warnings)
    assert any("time limit" in w for w in result.provenance["warnings"])
    # Pods whose duration is past the limit are still running at the end, not finished.
    finished = result.pods["finished"].notna().sum()
    assert finished < 5


def test_progress_loop_always_advances() -> None:
    # A progress chunk of 0 s used to make the inner loop never step.
    sim = Simulation(validate_scenario(scenario()))
    with time_bound(10):
        sim.run(progress=lambda now: None, chunk_s=1e-300)
    assert sim.env.peek() == float("inf")


def test_explain_at_beyond_the_end_is_refused(tmp_path: Path) -> None:
    # A time past the scenario's end used to run arrivals for ever (no duration bound).
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario(duration_s=100)))
    with time_bound(10):
        code, out = cli("explain", tmp_path / "s.yaml", "--pod", "w-0", "--at", "1e300")
    assert code == 2 and "beyond the scenario's end (100 s, duration_s)" in out


# ------------------------------------------------------------------ 2. timeseries bins


def test_timeseries_bins_are_capped_with_a_warning() -> None:
    # 100 s at 1e-9 s would be 1e11 bins (745 GiB of edges): the interval widens to
    # 100 / MAX_TIMESERIES_BINS = 2e-4 s.
    sim = Simulation(validate_scenario(scenario(sample_interval_s=1e-9, duration_s=100)))
    with time_bound(30):
        result = sim.run()
    assert len(result.timeseries) == MAX_TIMESERIES_BINS
    assert result.timeseries["interval"].iloc[0] == pytest.approx(100 / MAX_TIMESERIES_BINS)
    assert any("timeseries bins" in w for w in result.provenance["warnings"])


# ------------------------------------------------------------------ 3. rates and counts


def test_rates_and_pod_counts_are_bounded() -> None:
    assert "workloads[0].arrival.rate_per_s" in problems(scenario(**{"workloads[0].arrival.rate_per_s": 1e300}))
    # 1e5 pods/s for 1000 s = 1e8 expected pods > MAX_PODS (1e7).
    msg = problems(scenario(**{"workloads[0].arrival.rate_per_s": 1e5, "duration_s": 1000,
                               "workloads[0].max_pods": None}))
    assert "workload 'w'" in msg and f"{MAX_PODS:,}" in msg
    assert "workloads[0].max_pods" in problems(scenario(**{"workloads[0].max_pods": MAX_PODS + 1}))
    assert "cluster.node_pools[0].count" in problems(scenario(**{"cluster.node_pools[0].count": 10**12}))
    # A sweep or comparison of a billion runs would plan for ever.
    code, out = cli("compare", REPO / "scenarios" / "quickstart.yaml", "--profile", "kube-default",
                    "--replications", "1000000000", "--no-plots")
    assert code == 2 and "exceed 100,000 runs" in out
    # Within the bounds: a high rate with max_pods is fine.
    validate_scenario(scenario(**{"workloads[0].arrival.rate_per_s": 1e6}))


# ------------------------------------------------------------------ 4. priorities


def test_priorities_are_int32_and_user_ones_at_most_1e9() -> None:
    # Upstream: spec.priority is int32; ValidatePriorityClass
    # (pkg/apis/scheduling/validation/validation.go) forbids a user-defined value above
    # HighestUserDefinablePriority = 1e9.
    msg = problems(scenario(**{"workloads[0].template.priority": 99999999999999999999}))
    assert "workloads[0].template.priority" in msg and "32-bit" in msg
    msg = problems(scenario(**{"workloads[0].template.priority": 10**9 + 1}))
    assert "maximum allowed value of a user defined priority is 1000000000" in msg
    msg = problems(scenario(priorityClasses=[{"name": "top", "value": 10**9 + 1}]))
    assert "priorityClasses[0].value" in msg
    validate_scenario(scenario(**{"workloads[0].template.priority": 10**9}))
    validate_scenario(scenario(**{"workloads[0].template.priority": -(2**31)}))


def test_snapshot_system_pods_keep_their_priority() -> None:
    # kube-proxy and coredns carry system-node-critical / system-cluster-critical
    # priorities (2000001000 / 2000000000): a real cluster's snapshot is accepted.
    code, out = cli("explain", "--objects", OBJECTS, "--pod", "ml/batch-infer-6c9f8d7b4-wx4tz", "--format", "json")
    assert code == 0, out


# ------------------------------------------------------------------ 5. trace cells


def _trace_scenario(tmp_path: Path, nodes_csv: str) -> Path:
    (tmp_path / "nodes.csv").write_text(nodes_csv)
    sc = {"version": 1, "cluster": {"trace_nodes": [{"format": "openb", "file": "nodes.csv"}]},
          "workloads": [{"name": "w", "arrival": {"kind": "burst", "count": 1},
                         "template": {"requests": {"cpu": "100m"}}, "duration": {"kind": "constant", "value": 1}}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    return path


@pytest.mark.parametrize("cell", [str(2**63), "1e19", str(-(2**63) - 1), "9" * 30])
def test_trace_cell_outside_int64_is_dropped_with_line_and_column(tmp_path: Path, cell: str) -> None:
    # 2**63 used to wrap to a negative int64, then a ValueError traceback.
    path = _trace_scenario(tmp_path, f"sn,cpu_milli,memory_mib,gpu,model\nn1,{cell},1024,0,\nn2,4000,1024,0,\n")
    sim = Simulation(load_scenario(path))
    assert sim.state.nodes.n == 1
    assert any("out_of_range" in w and "line 2" in w and "cpu_milli" in w for w in sim.warnings)


def test_trace_value_overflowing_after_units_names_file_and_column(tmp_path: Path) -> None:
    # 2**53 MiB is a representable cell, but 2**73 bytes does not fit in int64.
    path = _trace_scenario(tmp_path, f"sn,cpu_milli,memory_mib,gpu,model\nn1,4000,{2**53},0,\n")
    code, out = cli("validate", path)
    assert code == 2
    assert "nodes.csv" in out and "memory_bytes" in out and "64-bit" in out


# ------------------------------------------------------------------ 6. object field types


@pytest.mark.parametrize(("field", "value"), [
    ("spec.nodeName", ["a", "b"]),
    ("spec.schedulerName", {"x": 1}),
    ("metadata.namespace", 5),
    ("spec.priority", 2**40),
])
def test_objects_with_fields_of_the_wrong_type(tmp_path: Path, field: str, value: object) -> None:
    data = read_yaml(OBJECTS)
    index = next(i for i, it in enumerate(data["items"])
                 if it["kind"] == "Pod" and it["metadata"]["name"].startswith("batch-infer"))
    node = data["items"][index]
    *parents, last = field.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump(data))
    code, out = cli("explain", "--objects", path, "--pod", "batch-infer-6c9f8d7b4-wx4tz")
    assert code == 2
    assert f"items[{index}].{field}" in out


# ------------------------------------------------------------------ 7. --out checked first


def test_out_naming_a_file_is_refused_before_running(tmp_path: Path) -> None:
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump(BASE))
    taken = tmp_path / "taken"
    taken.write_text("not a directory")
    exp = tmp_path / "e.yaml"
    exp.write_text(yaml.safe_dump({"scenario": "s.yaml", "replications": 1}))
    for args in (["run", sc, "--out", taken, "--no-plots"],
                 ["compare", sc, "--profile", "kube-default", "--replications", "1", "--out", taken, "--no-plots"],
                 ["sweep", exp, "--out", taken, "--no-plots"]):
        start = time.process_time()
        code, out = cli(*args)
        assert code == 2, out
        assert "exists and is not a directory" in out
        assert "simulated" not in out and time.process_time() - start < 5
    assert taken.read_text() == "not a directory"
    code, out = cli("explain", "--objects", OBJECTS, "--pod", "batch-infer-6c9f8d7b4-wx4tz", "--out", tmp_path)
    assert code == 2 and "expected a file in an existing directory" in out


# ------------------------------------------------------------------ 8. SIGTERM in sweeps


def _children(pid: int) -> set[int]:
    import psutil

    try:
        return {c.pid for c in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


@pytest.mark.slow
def test_sigterm_stops_and_reaps_sweep_workers(tmp_path: Path) -> None:
    import psutil

    # Each run takes minutes (a million pods), so the workers are busy when SIGTERM comes.
    long = scenario(**{"workloads[0].max_pods": 1_000_000, "workloads[0].arrival.rate_per_s": 1000})
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(long))
    (tmp_path / "e.yaml").write_text(yaml.safe_dump({"scenario": "s.yaml", "replications": 4}))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "k8sim.cli", "sweep", "e.yaml", "--jobs", "2", "--no-plots",
                             "--out", "out"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = _children(proc.pid)
        assert len(workers) >= 2, "the sweep never started its workers"
        time.sleep(2)  # well into their first runs
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        assert code == 143
        gone_by = time.monotonic() + 10
        while any(psutil.pid_exists(w) and psutil.Process(w).status() != psutil.STATUS_ZOMBIE for w in workers):
            assert time.monotonic() < gone_by, "worker processes outlived the sweep"
            time.sleep(0.2)
        assert b"terminated" in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in _children(proc.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(w).kill()


# ------------------------------------------------------------------ 9. plain names


@pytest.mark.parametrize("name", ["../../x", "/abs/name", "a\\b", "..", "x\ny"])
def test_names_must_be_plain(tmp_path: Path, name: str) -> None:
    assert "name" in problems(scenario(name=name))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "e.yaml").write_text(yaml.safe_dump({"name": name, "scenario": "s.yaml"}))
    code, out = cli("sweep", tmp_path / "e.yaml", "--no-plots")
    assert code == 2 and "name" in out
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------ 10. plugin imports


PLUGIN = '''\
from pathlib import Path

Path(__file__).with_name("imported.marker").write_text("module code ran")

from k8sim.scheduling.plugins.best_fit import BestFit as Base


class Mine(Base):
    name = "Mine"
'''


def _plugin_scenario(tmp_path: Path, module: str) -> Path:
    (tmp_path / f"{module}.py").write_text(PLUGIN)
    sc = scenario()
    sc["scheduler"] = {"profiles": [{"plugins": [{"name": f"{module}:Mine", "weight": 2}]}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    return path


def test_validate_does_not_import_plugin_modules_unless_asked(tmp_path: Path) -> None:
    path = _plugin_scenario(tmp_path, "k8sim_test_plugin_validate")
    code, out = cli("validate", path)
    assert code == 0, out
    assert not (tmp_path / "imported.marker").exists()
    assert "not imported" in out and "--check-plugins" in out
    code, out = cli("validate", "--check-plugins", path)
    assert code == 0, out
    assert (tmp_path / "imported.marker").exists()


def test_validate_of_an_experiment_does_not_import_plugin_modules(tmp_path: Path) -> None:
    _plugin_scenario(tmp_path, "k8sim_test_plugin_experiment")
    (tmp_path / "e.yaml").write_text(yaml.safe_dump({"scenario": "s.yaml", "grid": {"seed": [1, 2]}}))
    code, out = cli("validate", tmp_path / "e.yaml")
    assert code == 0, out
    assert not (tmp_path / "imported.marker").exists()
    assert "not imported" in out


def test_plugin_module_beside_the_scenario_imports_without_pythonpath(tmp_path: Path) -> None:
    module = "k8sim_test_plugin_beside"
    path = _plugin_scenario(tmp_path, module)
    assert str(tmp_path) not in sys.path
    sim = Simulation(load_scenario(path))
    assert ("Mine", 2) in [(p.name, w) for p, w in sim.profiles["default-scheduler"].scores]
    assert str(tmp_path) not in sys.path  # the directory is not left on the path
    sys.modules.pop(module, None)


# ------------------------------------------------------------------ 11. alias bombs


BOMB = textwrap.dedent("""\
    a: &a ["x","x","x","x","x","x","x","x","x"]
    b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
    c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
    d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
    e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
    f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
    """)  # 9**6 = 531,441 strings from a few hundred bytes


@pytest.mark.parametrize("where", ["scenario", "experiment", "objects", "config", "set"])
def test_alias_bombs_are_refused_everywhere(tmp_path: Path, where: str) -> None:
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump(BASE))
    bomb = tmp_path / "bomb.yaml"
    args: list[object]
    if where == "scenario":
        bomb.write_text(yaml.safe_dump(BASE) + BOMB)
        args = ["run", bomb, "--no-plots", "--out", tmp_path / "o"]
    elif where == "experiment":
        bomb.write_text("scenario: s.yaml\n" + BOMB + "grid: {seed: *f}\n")
        args = ["sweep", bomb, "--no-plots", "--out", tmp_path / "o"]
    elif where == "objects":
        bomb.write_text("apiVersion: v1\nkind: List\n" + BOMB + "items: *f\n")
        args = ["explain", "--objects", bomb, "--pod", "x"]
    elif where == "config":
        bomb.write_text("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n" + BOMB)
        args = ["explain", "--objects", OBJECTS, "--pod", "batch-infer-6c9f8d7b4-wx4tz", "--config", bomb]
    else:
        levels = ["&l0 [" + ",".join(["x"] * 9) + "]"]
        levels += [f"&l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 6)]
        flow = "[" + ", ".join(levels) + "]"
        args = ["run", sc, "--no-plots", "--out", tmp_path / "o", "--set", f"description={flow}"]
    start = time.process_time()
    with time_bound(10):
        code, out = cli(*args)
    assert code == 2, out
    assert f"more than {MAX_ALIAS_EXPANSION:,} nodes" in out
    assert len(out) < 2000 and time.process_time() - start < 5


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(ScenarioError, match="recursive alias"):
        read_yaml(path)


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    # 900 nested lists: a RecursionError traceback before (libyaml allows 1000 levels).
    path = tmp_path / "deep.yaml"
    path.write_text("description: " + "[" * 900 + "]" * 900 + "\n")
    code, out = cli("validate", path)
    assert code == 2 and "nests more than 100 levels" in out


def test_modest_anchors_still_work(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    text = yaml.safe_dump(BASE).replace("requests:\n", "requests: &req\n", 1)
    path.write_text(text + "initial_pods:\n- {name: a, nodeName: p-0, requests: *req}\n")
    assert load_scenario(path).initial_pods[0].requests == load_scenario(path).workloads[0].template.requests


def test_plugin_weight_is_an_int32() -> None:
    # 2**64 validated, then an OverflowError traceback in the first scheduling cycle.
    sc = scenario(**{"scheduler.profiles": [{"plugins": [{"name": "NodeResourcesFit", "weight": 2**64}]}]})
    assert "scheduler.profiles[0].plugins[0].weight" in problems(sc)


# ------------------------------------------------------------------ 12. types and syntax


@pytest.mark.parametrize(("path", "value", "where"), [
    ("cluster.node_pools[0].count", True, "cluster.node_pools[0].count"),
    ("workloads[0].duration.value", False, "workloads[0].duration.value"),
    ("workloads[0].arrival", {"kind": "times", "times_s": [1, True]}, "workloads[0].arrival.times_s"),
    ("workloads[0].template.priority", True, "workloads[0].template.priority"),
])
def test_booleans_are_not_numbers(path: str, value: object, where: str) -> None:
    msg = problems(scenario(**{path: value}))
    assert f"{where}: expected a number, got a boolean" in msg


@pytest.mark.parametrize(("path", "value", "where"), [
    # label keys: IsQualifiedName; values: IsValidLabelValue
    ("workloads[0].template.labels", {"bad key!": "v"}, "workloads[0].template.labels"),
    ("workloads[0].template.labels", {"a/b/c": "v"}, "workloads[0].template.labels"),
    ("workloads[0].template.labels", {"app": "x" * 64}, "workloads[0].template.labels.app"),
    ("workloads[0].template.nodeSelector", {"zone": "a b"}, "workloads[0].template.nodeSelector.zone"),
    ("cluster.node_pools[0].labels", {"-start": "v"}, "cluster.node_pools[0].labels"),
    ("cluster.node_pools[0].taints", [{"key": "k/", "effect": "NoSchedule"}], "cluster.node_pools[0].taints[0].key"),
    # names: IsDNS1123Subdomain (pods, nodes, schedulers), IsDNS1123Label (containers)
    ("workloads[0].name", "Web_Server", "workloads[0].name"),
    ("cluster.node_pools[0].name", "Pool", "cluster.node_pools[0].name"),
    ("workloads[0].template.schedulerName", "My Scheduler", "workloads[0].template.schedulerName"),
    ("workloads[0].template.containers", [{"name": "a.b"}], "workloads[0].template.containers[0].name"),
])
def test_kubernetes_name_and_label_syntax(path: str, value: object, where: str) -> None:
    assert where in problems(scenario(**{path: value}))


def test_valid_kubernetes_names_pass() -> None:
    validate_scenario(scenario(**{
        "workloads[0].template.labels": {"app.kubernetes.io/name": "web", "tier": "", "A_b-c.d": "X_y-z.1"},
        "workloads[0].template.nodeSelector": {"topology.kubernetes.io/zone": "eu-west-1a"},
        "cluster.node_pools[0].name": "pool.v2",
    }))


# ------------------------------------------------------------------ summaries 5-6


def test_validate_recognises_experiments_and_sweep_recognises_scenarios(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(BASE))
    (tmp_path / "e.yaml").write_text(yaml.safe_dump({"scenario": "s.yaml", "grid": {"seed": [1, 2]},
                                                     "replications": 2}))
    code, out = cli("validate", tmp_path / "s.yaml", tmp_path / "e.yaml")
    assert code == 0, out
    assert "experiment, 4 runs" in out  # 2 points x 2 replications
    code, out = cli("sweep", tmp_path / "s.yaml")
    assert code == 2 and "scenario file, not an experiment file" in out
    code, out = cli("run", tmp_path / "e.yaml")
    assert code == 2 and "experiment file, not a scenario" in out
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"scenario": "s.yaml", "grid": {"seed": [-1]}}))
    code, out = cli("validate", tmp_path / "bad.yaml")
    assert code == 2 and "grid['seed']" in out


def test_set_misspelt_key_names_the_nearest(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(BASE))
    for bad, near in (("scheduler.profiels[0].preset=binpack", "profiles"),
                      ("cluster.node_pools[0].cont=3", "count"),
                      ("workloads[0].arival.rate_per_s=2", "arrival")):
        code, out = cli("run", tmp_path / "s.yaml", "--no-plots", "--out", tmp_path / "o", "--set", bad)
        assert code == 2
        assert f"unknown key (did you mean '{near}'?)" in out


def test_set_appends_a_list_element(tmp_path: Path) -> None:
    # The scenario lists no profiles; profiles[0] creates one (with every default).
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(BASE))
    sc = load_scenario(tmp_path / "s.yaml", overrides=["scheduler.profiles[0].preset=binpack"])
    assert [p.preset for p in sc.scheduler.profiles] == ["binpack"]
    sc = load_scenario(tmp_path / "s.yaml", overrides=[
        "cluster.node_pools[1]={name: q, count: 1, allocatable: {cpu: '1', memory: 1Gi}}"])
    assert [p.name for p in sc.cluster.node_pools] == ["p", "q"]
    with pytest.raises(ScenarioError, match=r"index 1 appends a new one"):
        load_scenario(tmp_path / "s.yaml", overrides=["cluster.node_pools[2].count=1"])

