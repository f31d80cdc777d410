"""``k8sim plugins`` and ``k8sim explain`` (both input modes), and their bad-input contract:
a clear one-line message and exit code 2, never a traceback.

Four commands run for real in subprocesses (``python -m k8sim.cli``), all started at
once on a small thread pool, so exit codes and streams are the ones a user sees; the
other cases run in-process with typer's runner (same code path and exit codes, no
interpreter start-up, which dominates a command's cost). Expected numbers come from the hand derivations in
tests/workloads/test_kube_objects.py (the cluster fixture) and are restated here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from k8sim.cli import app

REPO = Path(__file__).resolve().parents[1]
KUBE = REPO / "tests" / "data" / "kube"
OBJECTS = str(KUBE / "cluster.yaml")
CONFIG = str(KUBE / "kubescheduler.yaml")
B = "ip-10-0-2-47.eu-west-1.compute.internal"
C = "ip-10-0-3-88.eu-west-1.compute.internal"
PENDING = "batch-infer-6c9f8d7b4-wx4tz"

# Two 2-cpu nodes; three 1500m pods at t=0 (two bind, big-2 waits); late-0 comes at t=100.
SCENARIO = """\
cluster:
  node_pools:
    - name: pool
      count: 2
      allocatable: {cpu: "2", memory: 4Gi}
workloads:
  - name: big
    arrival: {kind: burst, count: 3, at_s: 0}
    template:
      requests: {cpu: 1500m, memory: 1Gi}
  - name: late
    arrival: {kind: times, times_s: [100]}
"""
BAD_CONFIG = "apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n"

CASES: dict[str, list[str]] = {
    "plugins": ["plugins"],
    "scenario-bound": ["explain", "s.yaml", "--pod", "big-0", "--at", "1"],
    "objects-table": ["explain", "--objects", OBJECTS, "--pod", PENDING],
    "objects-config-json": ["explain", "--objects", OBJECTS, "--pod", f"ml/{PENDING}", "--config", CONFIG,
                            "--profile", "bin-packer", "--format", "json"],
}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    (cwd / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "200"  # keep long node names on one line
    return subprocess.run([sys.executable, "-m", "k8sim.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures: dict[str, tuple[Future, Path]] = {}
        for name, args in CASES.items():
            cwd = tmp_path_factory.mktemp(name)
            futures[name] = (pool.submit(_run, args, cwd), cwd)
        yield futures


def result(runs, name):
    future, cwd = runs[name]
    out = future.result()
    assert "Traceback" not in out.stdout + out.stderr, out.stderr
    return out, cwd


@pytest.mark.slow
def test_plugins(runs):
    out, _ = result(runs, "plugins")
    assert out.returncode == 0, out.stderr
    for name in ("NodeResourcesFit", "TaintToleration", "Filter+Score", "kube-default", "binpack", "random"):
        assert name in out.stdout


def test_explain_scenario_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    res = CliRunner().invoke(app, ["explain", "s.yaml", "--pod", "big-2", "--at", "1", "--format", "json",
                                   "--out", "e.json"])
    assert res.exit_code == 0, res.output
    assert "wrote e.json" in res.output
    doc = json.loads((tmp_path / "e.json").read_text())
    assert doc["pod"] == "big-2" and doc["at"] == 1
    # Each node holds one 1500m pod: 500m free < 1500m on both.
    assert doc["message"] == "0/2 nodes are available: 2 Insufficient cpu."
    assert doc["rejections"] == {"NodeResourcesFit": 2} and doc["chosen"] is None
    assert [n["reason"] for n in doc["nodes"]] == ["Insufficient cpu", "Insufficient cpu"]


@pytest.mark.slow
def test_explain_scenario_bound_pod_shows_its_cycle(runs):
    # big-0 was bound at t=0, before --at 1: explain shows the cycle that placed it.
    out, _ = result(runs, "scenario-bound")
    assert out.returncode == 0, out.stderr
    assert "big-0 was bound to pool-" in out.stdout and "at t=0 s (scheduling attempt 1)" in out.stdout


@pytest.mark.slow
def test_explain_objects_table(runs):
    out, _ = result(runs, "objects-table")
    assert out.returncode == 0, out.stderr
    assert "2/3 nodes are available: 1 Insufficient cpu." in out.stdout
    # NodeResourcesFit LeastAllocated: B 60, C 7 (normalised = raw); TaintToleration 100 (raw 0)
    # on both. B leads by 3*0 + 1*(60-7) = 53, more than any other default score can give
    # back: NodeResourcesBalancedAllocation (weight 1) gives C only 97-88 = 9 more
    # (|cpu-memory fraction|/2: B |0.510-0.277|/2 -> 88, C |0.893-0.950|/2 -> 97), and the
    # pod's image is on no node (ImageLocality 0 everywhere).
    lines = out.stdout.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["node"])
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.strip().startswith("ip-10")}
    # Columns "<Plugin Name> x<weight>" for the plugins that scored, in profile order
    # (TaintToleration, then NodeResourcesFit; NodeAffinity skipped: no preferred terms);
    # a cell is "normalised" or "normalised (raw)".
    assert header.index("Taint Toleration x3") < header.index("Node Resources Fit x1")
    assert "Node Affinity" not in header
    assert rows[B][:3] == ["100", "(0)", "60"] and rows[C][:3] == ["100", "(0)", "7"]
    assert f"the scheduler would choose {B}" in out.stdout
    # Bound pods keep their affinity and the namespaces are modelled: nothing is lost,
    # so nothing is warned about.
    assert "warning" not in out.stderr


@pytest.mark.slow
def test_explain_objects_with_config_json(runs):
    out, _ = result(runs, "objects-config-json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["profile"] == "bin-packer" and doc["chosen"] == C
    nodes = {n["name"]: n for n in doc["nodes"]}
    # MostAllocated x5: B (51+27)/2 = 39 -> 195, C (89+94)/2 = 91 -> 455; TaintToleration 3*100.
    assert nodes[C]["scores"]["NodeResourcesFit"] == {"raw": 91, "normalized": 91, "weighted": 455}
    assert nodes[B]["scores"]["NodeResourcesFit"]["raw"] == 39
    assert nodes[C]["total"] == 755 and nodes[B]["total"] == 495
    # The exact per-point list: bin-packer does not score PodTopologySpread.
    assert "PodTopologySpread" not in [p["name"] for p in doc["plugins"]["score"]]
    assert "PodTopologySpread" in doc["plugins"]["filter"]
    assert any("leaderElection: not modelled" in w for w in doc["warnings"])


def test_explain_bad_config_fails(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD_CONFIG, encoding="utf-8")
    res = CliRunner().invoke(app, ["explain", "--objects", OBJECTS, "--pod", PENDING, "--config", str(bad)])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "bad.yaml: apiVersion: expected 'kubescheduler.config.k8s.io/v1'" in lines[0]


# ------------------------------------------------------------------- in-process checks


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["s.yaml", "--pod", "late-0", "--at", "1"], "has not been created by t=1 s (workload 'late' has created 0"),
        (["s.yaml", "--pod", "nope", "--at", "1"], "no pod named 'nope'"),
        (["s.yaml", "--pod", "big-2", "--at", "0"], "--at T must be a virtual time > 0"),
        (["s.yaml", "--pod", "big-2", "--at", "-1"], "--at T must be a virtual time > 0"),
        (["s.yaml", "--pod", "big-2", "--at", "1", "--profile", "volcano"], "no scheduler profile named 'volcano'"),
        (["s.yaml", "--pod", "big-2", "--at", "1", "--format", "xml"], "--format must be table or json"),
        (["s.yaml", "--objects", OBJECTS, "--pod", "big-2"], "not both or neither"),
        (["missing.yaml", "--pod", "big-2", "--at", "1"], "missing.yaml: file not found"),
        (["--objects", OBJECTS, "--pod", "trainer-0"], "'ml/trainer-0' is bound to node"),
        (["--objects", OBJECTS, "--pod", PENDING, "--at", "3"], "--at goes with a SCENARIO"),
    ],
)
def test_explain_bad_input(tmp_path, monkeypatch, args, fragment):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    res = CliRunner().invoke(app, ["explain", *args])
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert fragment in res.output, res.output
    assert res.output.startswith("error: ")


def test_explain_table_lists_insufficient_resources(tmp_path, monkeypatch):
    # Each 2-cpu node holds one 1500m pod: big-2 requests 1500m, used 1500m, capacity
    # 2000m (fit.go InsufficientResource); 1500 <= 2000, so Unschedulable.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(SCENARIO, encoding="utf-8")
    res = CliRunner().invoke(app, ["explain", "s.yaml", "--pod", "big-2", "--at", "1"], terminal_width=200)
    assert res.exit_code == 0, res.output
    rows = [line.replace("│", " ").split() for line in res.output.splitlines() if "cpu" in line and "1,500" in line]
    assert rows == [["pool-0", "cpu", "1,500", "1,500", "2,000", "Unschedulable"],
                    ["pool-1", "cpu", "1,500", "1,500", "2,000", "Unschedulable"]]
    assert "NodeResourcesFit │     2 │ Unschedulable" in res.output
