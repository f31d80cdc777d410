"""``k8sim run`` prints the summary readably and says when pods were lost (in-process,
typer's CliRunner)."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from k8sim.cli import app

# One node, 4 CPUs. low (4 CPUs, grace 5 s) runs from 0; high (2 CPUs, priority 10,
# 3 h = 10,800 s) arrives at 10 and preempts it: low ends Failed at 15, high runs
# 15 .. 10,815 (the end of the run). makespan = 10,815 s = 3.004 h.
# Work: low 15 s x 4000 = 60,000 lost; high 10,800 x 2000 = 21,600,000:
# lost share 60,000 / 21,660,000 = 0.277% (0.3% to one decimal).
SCENARIO = {
    "version": 1, "name": "lost", "seed": 1,
    "cluster": {"node_pools": [{"name": "n", "count": 1, "allocatable": {"cpu": "4", "memory": "16Gi"}}]},
    "workloads": [
        {"name": "low", "arrival": {"kind": "times", "times_s": [0]},
         "template": {"requests": {"cpu": "4", "memory": "1Gi"}, "terminationGracePeriodSeconds": 5},
         "duration": {"kind": "constant", "value": 20000}},
        {"name": "high", "arrival": {"kind": "times", "times_s": [10]},
         "template": {"requests": {"cpu": "2", "memory": "1Gi"}, "priority": 10},
         "duration": {"kind": "constant", "value": 10800}},
    ],
}


def test_run_prints_readable_numbers_and_a_loss_note(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "lost.yaml").write_text(yaml.safe_dump(SCENARIO))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["run", "lost.yaml", "--out", "out", "--no-plots"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in out.splitlines()
            if line.count("│") >= 3}
    assert rows["makespan_s"] == "3.004 h"
    assert rows["pods_preempted"] == "1"
    assert rows["work_lost_share"] == "0.277%"
    assert rows["mean_cpu_utilization"].endswith("%")
    assert "e+" not in out
    assert "note: 1 of 2 pods were lost (ended Failed: 1 preempted; 1 preempted in all)" in out
    assert "0.3% of the work done" in out
    assert "simulated 3.004 h in" in out


def test_compare_prints_which_profile_lost_pods(tmp_path: Path, monkeypatch) -> None:
    # The scenario above under kube-default: low is preempted in every replication.
    (tmp_path / "lost.yaml").write_text(yaml.safe_dump(SCENARIO))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    result = CliRunner().invoke(app, ["compare", "lost.yaml", "--profile", "kube-default", "--replications", "1",
                                      "--out", "out", "--no-plots"])
    assert result.exit_code == 0, result.output
    assert "note: kube-default: 1 pods lost per run on average (1 preempted)" in result.stdout
    assert "## Lost pods" in (tmp_path / "out" / "report.md").read_text()
