"""Run directories (k8sim/metrics/rundir.py): RunResult.load(dir) gives back exactly what
to_parquet(dir) wrote, for runs with every optional table."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from k8sim import RunResult, load_scenario, run
from k8sim.metrics.rundir import json_safe

ROOT = Path(__file__).resolve().parents[2]


def assert_same(a: RunResult, b: RunResult) -> None:
    for name in ("pods", "nodes", "events", "timeseries", "decisions", "gpu", "trace"):
        fa, fb = getattr(a, name), getattr(b, name)
        assert (fa is None) == (fb is None), name
        if fa is not None:
            pd.testing.assert_frame_equal(fa, fb, check_exact=True, obj=name)
    assert (a.resources, a.end_time, a.warmup_s) == (b.resources, b.end_time, b.warmup_s)
    assert a.provenance == b.provenance and a.never_fit == b.never_fit
    pd.testing.assert_frame_equal(a.summary(), b.summary(), check_exact=True)


@pytest.mark.parametrize("scenario, overrides", [
    ("quickstart.yaml", ["scheduler.recordDecisions=true"]),   # decisions table
    ("openb-fgd.yaml", []),                                     # gpu and trace tables
    ("image-pulls.yaml", ["duration_s=1200"]),                  # runtime model columns
])
def test_load_round_trips_to_parquet(tmp_path, scenario, overrides):
    result = run(load_scenario(ROOT / "scenarios" / scenario, overrides=overrides))
    back = RunResult.load(result.to_parquet(tmp_path / "run"))
    assert_same(result, back)


def test_summary_json_has_one_layout_and_no_nan(tmp_path):
    result = run(load_scenario(ROOT / "scenarios" / "quickstart.yaml"))
    result.to_parquet(tmp_path)
    doc = json.loads((tmp_path / "summary.json").read_text())
    assert {"summary", "provenance", "never_fit", "warmup_s", "end_time_s", "resources", "tables"} <= set(doc)
    assert doc["tables"] == ["pods", "nodes", "events", "timeseries"]
    assert doc["warmup_s"] == 60  # quickstart's warm-up
    # JSON has no NaN: the summary's NaN cells (e.g. no GPU metrics) are null.
    assert "NaN" not in (tmp_path / "summary.json").read_text()


def test_json_safe():
    assert json_safe({"a": np.float64("nan"), "b": [np.int64(3), math.inf], "c": (1.5,)}) == {
        "a": None, "b": [3, None], "c": [1.5]}


def test_sweep_and_compare_run_directories_load(tmp_path):
    from k8sim.experiments import compare

    sc = load_scenario(ROOT / "scenarios" / "quickstart.yaml", overrides=["workloads[0].max_pods=30"])
    res = compare(sc, ["kube-default", "binpack"], replications=1, keep_results=True)
    res.save(tmp_path)
    rd = tmp_path / "runs" / "binpack" / "rep-0"
    doc = json.loads((rd / "summary.json").read_text())
    assert (doc["profile"], doc["replication"]) == ("binpack", 0) and doc["tables"] == ["pods", "nodes", "events", "timeseries"]
    back = RunResult.load(rd)
    kept = res.results[("binpack", 0)]
    pd.testing.assert_frame_equal(back.pods, kept.pods)
    assert back.warmup_s == kept.warmup_s
    pd.testing.assert_frame_equal(back.summary(), kept.summary())
