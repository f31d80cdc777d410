"""compare_command / sweep_command / plot_command: files written, tables printed, bad
input raised as ScenarioError before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from rich.console import Console

from k8sim import ScenarioError, load_scenario, run
from k8sim.experiments.commands import compare_command, plot_command, sweep_command

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"
SMALL = ["workloads[0].max_pods=50", "workloads[1].max_pods=30"]
PNG = b"\x89PNG\r\n\x1a\n"


def console() -> Console:
    return Console(record=True, width=200, force_terminal=False, color_system=None)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("cmp") / "out"
    con = console()
    result = compare_command(QUICKSTART, ["kube-default,binpack", "first-fit"], 2, 1, out, None, con,
                             overrides=SMALL, seed=4)
    return out, con.export_text(), result


@pytest.mark.slow
def test_compare_command_writes_everything(compared):
    out, text, result = compared
    for name in ("runs.parquet", "summary.csv", "paired.csv", "comparison.json", "report.md",
                 "metrics.png", "differences.png", "latency_cdf.png", "utilization.png"):
        assert (out / name).is_file(), name
    for name in ("metrics.png", "differences.png", "latency_cdf.png", "utilization.png"):
        assert (out / name).read_bytes()[:8] == PNG
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(runs["profile"]) == ["kube-default", "kube-default", "binpack", "binpack", "first-fit", "first-fit"]
    assert list(runs["seed"]) == [4, 5] * 3
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary.columns) >= {"profile", "metric", "mean", "std", "n", "ci", "ci_low", "ci_high"}
    paired = pd.read_csv(out / "paired.csv")
    assert set(paired["profile"]) == {"binpack", "first-fit"} and set(paired["baseline"]) == {"kube-default"}
    report = (out / "report.md").read_text()
    assert report.startswith("# Policy comparison: quickstart")
    assert "## Paired differences to kube-default" in report
    assert "kube-default (baseline)" in text and "first-fit" in text and "mean ± 95% CI" in text
    assert "mean_cpu_utilization" in text
    assert f"results in {out}" in text.replace("\n", "")
    assert (out / "runs" / "binpack" / "rep-1" / "timeseries.parquet").is_file()
    assert result.profiles == ["kube-default", "binpack", "first-fit"]


def test_compare_command_bad_input(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(ScenarioError, match="unknown preset 'bimpack'"):
        compare_command(QUICKSTART, ["kube-default", "bimpack"], 2, 1, out, None, console())
    with pytest.raises(ScenarioError, match="baseline: 'spread' is not among the profiles"):
        compare_command(QUICKSTART, ["binpack"], 2, 1, out, "spread", console())
    with pytest.raises(ScenarioError, match="file not found"):
        compare_command(tmp_path / "missing.yaml", ["binpack"], 2, 1, out, None, console())
    with pytest.raises(ScenarioError, match=r"--set workloads\[7\]\.max_pods"):
        compare_command(QUICKSTART, ["binpack"], 2, 1, out, None, console(), overrides=["workloads[7].max_pods=1"])
    assert not out.exists()


@pytest.mark.slow
def test_plot_command_redraws_a_comparison(compared, tmp_path):
    out, _, _ = compared
    con = console()
    written = plot_command(out, con, out=tmp_path / "again")
    assert sorted(p.name for p in written) == ["differences.png", "latency_cdf.png", "metrics.png",
                                               "utilization.png"]
    assert all(p.read_bytes()[:8] == PNG for p in written)
    assert "wrote" in con.export_text()


def test_plot_command_redraws_a_run_directory(tmp_path):
    sc = load_scenario(QUICKSTART, overrides=SMALL)
    d = run(sc, seed=2).to_parquet(tmp_path / "run")
    (d / "scenario.yaml").write_text(yaml.safe_dump(sc.model_dump(mode="json", by_alias=True)))
    written = plot_command(d, console())
    assert sorted(p.name for p in written) == ["latency_cdf.png", "pods.png", "utilization.png"]
    assert all(p.read_bytes()[:8] == PNG for p in written)


def test_plot_command_bad_directories(tmp_path):
    with pytest.raises(ScenarioError, match="not a directory"):
        plot_command(tmp_path / "nope", console())
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScenarioError, match="no results here"):
        plot_command(tmp_path / "empty", console())


@pytest.mark.slow
def test_sweep_command_and_plots(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({
        "scenario": str(QUICKSTART.relative_to(REPO)),
        "grid": {"cluster.node_pools[0].count": [3, 6], "workloads[0].max_pods": [40]},
        "profiles": ["kube-default", "binpack"],
        "replications": 2,
    }))
    # the scenario path is relative to the experiment file: put the file in the repo's tree shape
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "quickstart.yaml").write_text(QUICKSTART.read_text())
    out = tmp_path / "out"
    con = console()
    table = sweep_command(exp, "local", 2, None, out, con)
    text = con.export_text()
    assert len(table) == 8 and (table["status"] == "ok").all()
    assert "8 runs: 8 ok, 0 failed, 0 reused from an earlier sweep" in text
    assert "sweep: mean over replications" in text
    assert (out / "sweep.parquet").is_file()
    assert (out / "sweep-0.png").read_bytes()[:8] == PNG
    assert json.loads((out / "experiment.json").read_text())["runs"] == list(table["run_id"])
    con2 = console()
    again = sweep_command(exp, "local", 1, None, out, con2)
    assert again["skipped"].all()
    assert "8 reused from an earlier sweep" in con2.export_text()
    written = plot_command(out, console(), out=tmp_path / "replot")
    assert [p.name for p in written] == ["sweep-0.png", "sweep-1.png"]
    run_dir = out / "runs" / table["run_id"][0]
    assert sorted(p.name for p in plot_command(run_dir, console(), out=tmp_path / "r")) == [
        "latency_cdf.png", "pods.png", "utilization.png"]


def test_sweep_command_bad_experiment(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({"scenario": "nope.yaml", "profiles": ["best-fit", "worstfit"]}))
    with pytest.raises(ScenarioError) as e:
        sweep_command(exp, "local", 1, None, tmp_path / "out", console())
    assert "profiles[1]: unknown preset 'worstfit'" in str(e.value)
    assert "scenario: nope.yaml: file not found" in str(e.value)
    assert not (tmp_path / "out").exists()
