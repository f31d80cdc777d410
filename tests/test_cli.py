"""Tests of the ``k8sim`` command line and its bad-input contract.

The contract: a malformed scenario gets one clear message naming the file, the field
path and what was expected, and exit code 2, never a Python traceback. A pod that can
never fit is reported in the summary as unschedulable, not silently dropped.

The command runs for real (``python -m k8sim.cli ...``) in subprocesses, so exit codes
and stderr are the ones a user sees. Starting the interpreter and importing k8sim
dominates the cost of a command, so to keep this file fast:

- every bad scenario file is checked by one ``k8sim validate`` over all of them (each
  file must get its own one-line message), and a few of them also by ``k8sim run`` in
  a process of their own (exit code and stderr of that file alone);
- the module fixture ``runs`` starts every command at once on a small thread pool (one
  worker per CPU); each test waits only for the outcomes it inspects.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
import yaml

from k8sim import load_scenario

REPO = Path(__file__).resolve().parents[1]
SCENARIOS_DIR = REPO / "scenarios"

# A small valid scenario: 2 nodes of 4 cpu / 8Gi, 3 pods of 500m / 1Gi for 10 s each.
BASE = """\
cluster:
  node_pools:
    - name: pool
      count: 2
      allocatable: {cpu: "4", memory: 8Gi}
workloads:
  - name: web
    arrival: {kind: burst, count: 3, at_s: 0}
    template:
      requests: {cpu: 500m, memory: 1Gi}
    duration: {kind: constant, value: 10}
"""
BASE_PODS = 3  # the burst count above


def edit(old: str, new: str) -> str:
    """BASE with ``old`` replaced by ``new``; ``old`` must occur exactly once (so that a
    typo here fails loudly instead of silently testing a valid file)."""
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


@dataclass
class Case:
    """One command to run: ``k8sim <args>`` in a directory holding ``files``."""

    args: list[str]
    files: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None  # run here instead of in a fresh temporary directory


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    cwd: Path

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


# --------------------------------------------------------------------------- cases

# (id, file text, expected substrings of its message). The file is ``<id>.yaml`` and
# ``{f}`` stands for that name; "file: path: what was expected" is the documented
# message format.
BAD_FILES = [
    (
        "yaml-syntax",
        "version: 1\ndescription: broken: colon\ncluster: {}\n",
        ["{f}: YAML syntax error at line 2,", "mapping values are not allowed"],
    ),
    (
        "unknown-key-top",
        BASE + "worklods: []\n",
        ["{f}: worklods: unknown key"],
    ),
    (
        "unknown-key-nested",
        edit("requests:", "reqests:"),
        ["{f}: workloads[0].template.reqests: unknown key"],
    ),
    (
        "wrong-type",
        edit("count: 2", 'count: "many"'),
        ["{f}: cluster.node_pools[0].count: ", "valid integer"],
    ),
    (
        "negative-quantity",
        edit("memory: 1Gi", "memory: -1Gi"),
        ["{f}: workloads[0].template.requests.memory: must be >= 0", "-1Gi"],
    ),
    (
        "not-a-quantity",
        edit("cpu: 500m", 'cpu: "lots"'),
        ["{f}: workloads[0].template.requests.cpu: expected a Kubernetes quantity", "'lots'"],
    ),
    (
        "zero-nodes",
        edit("count: 2", "count: 0"),
        ["{f}: cluster.node_pools[0].count: ", "greater than or equal to 1"],
    ),
    (
        "missing-csv",
        edit("duration: {kind: constant, value: 10}", "duration: {kind: empirical, path: missing.csv}"),
        ["{f}: workloads[0].duration: ", "CSV file not found", "missing.csv"],
    ),
    (
        "unknown-distribution-kind",
        edit("kind: constant", "kind: gamma"),
        ["{f}: workloads[0].duration: ", "'gamma'", "expected tags", "'constant'"],
    ),
    (
        "unknown-arrival-kind",
        edit("kind: burst", "kind: storm"),
        ["{f}: workloads[0].arrival: ", "'storm'", "expected tags", "'poisson'"],
    ),
    # Checked by Simulation (they need the built cluster). Their messages name the
    # scenario, not the file: see test_simulation_errors_name_the_file.
    (
        "unknown-node",
        BASE + "initial_pods:\n  - {name: agent, nodeName: ghost-7}\n",
        ["initial_pods[0].nodeName: no node named 'ghost-7'"],
    ),
    (
        "initial-pod-too-big",
        BASE + 'initial_pods:\n  - {name: hog, nodeName: pool-1, requests: {cpu: "6"}}\n',
        ["initial_pods[0]: does not fit on node 'pool-1'", "insufficient cpu"],
    ),
    (
        "unknown-scheduler",
        edit("requests: {cpu: 500m, memory: 1Gi}", "requests: {cpu: 500m, memory: 1Gi}\n      schedulerName: volcano"),
        ["workloads[0].template.schedulerName: no scheduler profile named 'volcano'"],
    ),
]
SIMULATION_LEVEL = ["unknown-node", "initial-pod-too-big", "unknown-scheduler"]
# Also run one by one with ``k8sim run <id>.yaml --out out`` (nothing may be written).
RUN_ALONE = ["not-a-quantity", "unknown-node"]

# (id, --set override, expected substrings of stderr); all on a valid BASE.
BAD_OVERRIDES = [
    (
        "set-index-out-of-range",
        "cluster.node_pools[3].count=5",
        ["{f}: --set cluster.node_pools[3].count: ", "cluster.node_pools[3]: index out of range", "1 items"],
    ),
    (
        "set-wrong-type",
        "cluster.node_pools[0].count=many",
        ["{f}: cluster.node_pools[0].count: ", "valid integer"],
    ),
    (
        "set-unknown-key",
        "cluster.node_pools[0].zone=zone-a",
        ["{f}: cluster.node_pools[0].zone: unknown key (did you mean 'zones'?)"],
    ),
]

NEVER_FIT = BASE + """\
  - name: too-big
    arrival: {kind: burst, count: 5, at_s: 0}
    template:
      requests: {cpu: "6", memory: 1Gi}
"""

BAD = {case_id: (text, expected) for case_id, text, expected in BAD_FILES}

CASES: dict[str, Case] = {}
CASES["validate-bad"] = Case(
    ["validate", *(f"{case_id}.yaml" for case_id in BAD)],
    {f"{case_id}.yaml": text for case_id, (text, _) in BAD.items()},
)
for _id in RUN_ALONE:
    CASES[f"run-{_id}"] = Case(["run", f"{_id}.yaml", "--out", "out"], {f"{_id}.yaml": BAD[_id][0]})
for _id, _override, _ in BAD_OVERRIDES:
    CASES[_id] = Case(["run", f"{_id}.yaml", "--set", _override, "--out", "out"], {f"{_id}.yaml": BASE})
CASES["never-fit"] = Case(["run", "never.yaml", "--out", "out", "--no-plots"], {"never.yaml": NEVER_FIT})
CASES["validate-mixed"] = Case(
    ["validate", "good.yaml", "bad.yaml"], {"good.yaml": BASE, "bad.yaml": edit("cpu: 500m", 'cpu: "lots"')}
)
CASES["validate-repo"] = Case(["validate", *sorted(p.name for p in SCENARIOS_DIR.glob("*.yaml"))], cwd=SCENARIOS_DIR)
CASES["schema"] = Case(["schema"])
CASES["run-ok"] = Case(["run", "tiny.yaml", "--out", "out", "--set", "seed=5"], {"tiny.yaml": BASE})


def _run(case: Case, directory: Path) -> Outcome:
    cwd = case.cwd or directory
    for name, text in case.files.items():
        (directory / name).write_text(text, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-m", "k8sim.cli", *case.args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Outcome(proc.returncode, proc.stdout, proc.stderr, cwd)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Future[Outcome]]]:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        yield {
            name: pool.submit(_run, case, tmp_path_factory.mktemp(name))
            for name, case in CASES.items()
        }


def assert_no_traceback(out: Outcome) -> None:
    assert "Traceback" not in out.output, out.output


def assert_one_clear_error(out: Outcome, expected: list[str], fname: str) -> None:
    assert out.returncode == 2, out.output
    assert_no_traceback(out)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one message line, got:\n{out.stderr}"
    for fragment in expected:
        assert fragment.format(f=fname) in out.stderr, out.stderr


# --------------------------------------------------------------------------- bad input


def lines_about(out: Outcome, case_id: str) -> list[str]:
    """The output lines that name the file ``<id>.yaml`` or the scenario ``<id>``."""
    return [line for line in out.output.splitlines() if f"{case_id}.yaml" in line or f" {case_id}: " in line]


@pytest.mark.slow
@pytest.mark.parametrize("case_id", list(BAD))
def test_validate_bad_scenario_file(runs, case_id: str) -> None:
    out = runs["validate-bad"].result()
    assert out.returncode == 2, out.output
    assert_no_traceback(out)
    lines = lines_about(out, case_id)
    assert len(lines) == 1, f"expected one message about {case_id}.yaml, got:\n{out.output}"
    assert lines[0].startswith("invalid: "), lines[0]
    assert lines[0] in out.stderr.splitlines()
    for fragment in BAD[case_id][1]:
        assert fragment.format(f=f"{case_id}.yaml") in lines[0]


@pytest.mark.slow
def test_validate_reports_every_bad_file(runs) -> None:
    out = runs["validate-bad"].result()
    assert out.stdout.strip() == ""  # no file passed
    assert sum(line.startswith("invalid: ") for line in out.stderr.splitlines()) == len(BAD)


@pytest.mark.slow
@pytest.mark.parametrize("case_id", RUN_ALONE)
def test_run_bad_scenario_file(runs, case_id: str) -> None:
    out = runs[f"run-{case_id}"].result()
    assert_one_clear_error(out, BAD[case_id][1], f"{case_id}.yaml")
    assert out.stderr.startswith("error: ")
    assert not (out.cwd / "out").exists(), "a failed run must not write results"


@pytest.mark.slow
@pytest.mark.parametrize(("case_id", "expected"), [pytest.param(c[0], c[2], id=c[0]) for c in BAD_OVERRIDES])
def test_bad_set_override(runs, case_id: str, expected: list[str]) -> None:
    out = runs[case_id].result()
    assert_one_clear_error(out, expected, f"{case_id}.yaml")
    assert not (out.cwd / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("case_id", SIMULATION_LEVEL)
def test_simulation_errors_name_the_file(runs, case_id: str) -> None:
    out = runs["validate-bad"].result()
    message = BAD[case_id][1][0]
    assert f"{case_id}.yaml: {message}" in out.stderr, out.stderr


# --------------------------------------------------------------------------- never fit


@pytest.mark.slow
def test_pod_that_never_fits_is_counted_unschedulable(runs) -> None:
    out = runs["never-fit"].result()
    assert out.returncode == 0, out.output
    assert_no_traceback(out)
    # The warning names the file, the workload and the resource.
    assert "warning:" in out.stderr
    assert "never.yaml" in out.stderr and "'too-big'" in out.stderr and "cpu" in out.stderr
    assert "'web'" not in out.stderr  # the workload that fits is not warned about

    spec = yaml.safe_load(NEVER_FIT)
    node_cpu = int(spec["cluster"]["node_pools"][0]["allocatable"]["cpu"])
    too_big = spec["workloads"][1]
    assert int(too_big["template"]["requests"]["cpu"]) > node_cpu  # the premise
    expected = too_big["arrival"]["count"]  # 5

    doc = json.loads((out.cwd / "out" / "summary.json").read_text())
    summary = doc["summary"]
    assert summary["pods_pending_failed_scheduling"] == expected
    assert summary["pods_never_fit"] == expected
    assert summary["pods_submitted"] == BASE_PODS + expected
    assert summary["pods_scheduled"] == BASE_PODS
    assert doc["never_fit"] == {"too-big": ["cpu"]}

    pods = pd.read_parquet(out.cwd / "out" / "pods.parquet")
    stuck = pods[pods["workload"] == "too-big"]
    assert len(stuck) == expected
    assert stuck["unschedulable"].all()
    assert (stuck["phase"] == "Pending").all()
    assert not pods.loc[pods["workload"] == "web", "unschedulable"].any()


@pytest.mark.slow
def test_summary_counts_are_integers(runs) -> None:
    out = runs["never-fit"].result()
    summary = json.loads((out.cwd / "out" / "summary.json").read_text())["summary"]
    for key in ("pods_submitted", "pods_scheduled", "pods_pending_failed_scheduling", "pods_pending_at_end",
                "pods_never_fit", "pods_preempted", "pods_failed"):
        assert isinstance(summary[key], int), (key, summary[key])


# --------------------------------------------------------------------------- validate / schema


@pytest.mark.slow
def test_validate_reports_bad_and_good_files(runs) -> None:
    out = runs["validate-mixed"].result()
    assert out.returncode == 2, out.output
    assert_no_traceback(out)
    assert "ok: good.yaml" in out.stdout
    assert "bad.yaml" not in out.stdout
    assert "bad.yaml: workloads[0].template.requests.cpu: expected a Kubernetes quantity" in out.stderr
    assert "good.yaml" not in out.stderr


@pytest.mark.slow
def test_validate_repo_scenarios(runs) -> None:
    names = sorted(p.name for p in SCENARIOS_DIR.glob("*.yaml"))
    assert names, "the repository ships example scenarios"
    out = runs["validate-repo"].result()
    assert out.returncode == 0, out.output
    assert out.stderr.strip() == ""
    for name in names:
        assert f"ok: {name}" in out.stdout


@pytest.mark.slow
def test_schema_is_json_schema(runs) -> None:
    out = runs["schema"].result()
    assert out.returncode == 0, out.output
    schema = json.loads(out.stdout)
    assert {"cluster", "workloads"} <= set(schema["properties"])
    assert "cluster" in schema["required"]
    assert schema["additionalProperties"] is False  # unknown keys are errors


# --------------------------------------------------------------------------- a good run


@pytest.mark.slow
def test_run_writes_results(runs) -> None:
    out = runs["run-ok"].result()
    assert out.returncode == 0, out.output
    assert_no_traceback(out)
    d = out.cwd / "out"
    for name in ("pods", "nodes", "events", "timeseries"):
        assert (d / f"{name}.parquet").stat().st_size > 0
    pods = pd.read_parquet(d / "pods.parquet")
    assert len(pods) == BASE_PODS
    assert (pods["phase"] == "Succeeded").all()
    assert len(pd.read_parquet(d / "nodes.parquet")) == 2

    doc = json.loads((d / "summary.json").read_text())
    assert doc["provenance"]["seed"] == 5
    assert doc["summary"]["pods_submitted"] == BASE_PODS

    resolved = load_scenario(d / "scenario.yaml")
    assert resolved.seed == 5
    assert resolved.cluster.node_count() == 2
    assert [w.name for w in resolved.workloads] == ["web"]

    for png in ("utilization.png", "pods.png", "latency_cdf.png"):
        assert (d / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


# --------------------------------------------------------------------------- library bugs
# These run the command in-process (typer's CliRunner) to keep the file fast; an
# exception escaping the command is what a user would see as a traceback.


def invoke(args: list[str], files: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Outcome:
    from typer.testing import CliRunner

    from k8sim.cli import app

    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    stderr = result.stderr + (f"Traceback: {result.exception!r}" if escaped else "")
    return Outcome(result.exit_code, result.stdout, stderr, tmp_path)


def test_markup_like_key_is_reported_not_crashing(tmp_path, monkeypatch) -> None:
    out = invoke(["validate", "markup.yaml"], {"markup.yaml": BASE + '"[/x]": 1\n'}, tmp_path, monkeypatch)
    assert_one_clear_error(out, ["{f}: [/x]: unknown key"], "markup.yaml")


def test_file_name_with_brackets_is_named(tmp_path, monkeypatch) -> None:
    files = {"exp[v2].yaml": edit("cpu: 500m", 'cpu: "lots"')}
    out = invoke(["validate", "exp[v2].yaml"], files, tmp_path, monkeypatch)
    assert_one_clear_error(out, ["{f}: workloads[0].template.requests.cpu: expected"], "exp[v2].yaml")


def test_quantity_too_large_is_reported(tmp_path, monkeypatch) -> None:
    files = {"huge.yaml": edit('cpu: "4"', 'cpu: "9E"')}
    out = invoke(["validate", "huge.yaml"], files, tmp_path, monkeypatch)
    assert_one_clear_error(out, ["{f}: cluster.node_pools[0].allocatable.cpu: "], "huge.yaml")


def test_infinite_duration_is_reported(tmp_path, monkeypatch) -> None:
    files = {"forever.yaml": BASE + "duration_s: .inf\n"}
    out = invoke(["run", "forever.yaml", "--out", "out", "--no-plots"], files, tmp_path, monkeypatch)
    assert_one_clear_error(out, ["{f}: duration_s: "], "forever.yaml")


def test_resolved_scenario_with_csv_loads_again(tmp_path, monkeypatch) -> None:
    files = {
        "emp.yaml": edit("duration: {kind: constant, value: 10}", "duration: {kind: empirical, path: durations.csv}"),
        "durations.csv": "seconds\n5\n10\n",
    }
    out = invoke(["run", "emp.yaml", "--out", "out", "--no-plots"], files, tmp_path, monkeypatch)
    assert out.returncode == 0, out.output
    resolved = load_scenario(tmp_path / "out" / "scenario.yaml")
    assert sorted(resolved.workloads[0].duration.data.tolist()) == [5.0, 10.0]
