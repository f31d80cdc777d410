"""Comparison and sweep plots: what is drawn, with titles, units and legends."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from k8sim import load_scenario
from k8sim.experiments import compare
from k8sim.experiments.plots import (
    latency_cdfs,
    metric_bars,
    metric_unit,
    sweep_lines,
    utilization_timelines,
)

QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"


@pytest.fixture(scope="module")
def result():
    sc = load_scenario(QUICKSTART, overrides=["workloads[0].max_pods=40", "workloads[1].max_pods=20"])
    return compare(sc, ["kube-default", "binpack"], replications=3, keep_results=True)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_metric_bars_heights_and_error_bars(result):
    # Two hand-made metrics whose means differ widely (bars from 0): a utilisation in %
    # and a duration in seconds.
    summary = pd.DataFrame({
        "profile": ["kube-default", "binpack"] * 2,
        "metric": ["mean_cpu_utilization"] * 2 + ["makespan_s"] * 2,
        "mean": [0.2, 0.6, 100.0, 300.0], "ci": [0.01, 0.02, 5.0, 7.0], "n": [3] * 4,
    })
    fig = metric_bars(summary, ["mean_cpu_utilization", "makespan_s"])
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2
    s = summary.set_index(["profile", "metric"])
    for ax, metric, factor in zip(axes, ["mean_cpu_utilization", "makespan_s"], [100, 1], strict=True):
        heights = [p.get_height() for p in ax.patches]
        assert heights == pytest.approx([factor * s.loc[(p, metric), "mean"] for p in ("kube-default", "binpack")])
        assert [t.get_text() for t in ax.get_xticklabels()] == ["kube-default", "binpack"]
        assert ax.get_title().startswith(metric.removesuffix("_s").replace("_", " ")) and "(n=3)" in ax.get_title()
        # the error bar of each bar spans mean ± ci
        (bars,) = [c for c in ax.containers if hasattr(c, "errorbar") and c.errorbar is not None]
        segs = bars.errorbar.lines[2][0].get_segments()
        for seg, prof in zip(segs, ["kube-default", "binpack"], strict=True):
            lo, hi = sorted([seg[0][1], seg[1][1]])
            assert hi - lo == pytest.approx(2 * factor * s.loc[(prof, metric), "ci"], rel=1e-9, abs=1e-12)
    assert axes[0].get_ylabel() == "requested / allocatable (%)" and axes[1].get_ylabel() == "seconds"
    assert fig.legends and [t.get_text() for t in fig.legends[0].get_texts()] == ["kube-default", "binpack"]
    assert "95%" in fig.get_suptitle()
    with pytest.raises(ValueError, match="not in the summary"):
        metric_bars(result.summary, ["nope"])


def test_default_metrics_and_units():
    assert metric_unit("startup_latency_p95_s") == "seconds"
    assert metric_unit("mean_pending_pods") == "pods"
    assert metric_unit("mean_memory_utilization") == "requested / allocatable (%)"


def test_latency_cdfs_pool_replications(result):
    fig = latency_cdfs(result)
    sched, start = fig.axes
    assert [line.get_label().split(" (")[0] for line in start.lines] == ["kube-default", "binpack"]
    pooled = sum(len(r.pods[r.pods["created"] >= r.warmup_s]) for r in result.results_for("binpack"))
    assert start.lines[1].get_label() == f"binpack (n={pooled:,})"
    y = start.lines[0].get_ydata()
    assert y[-1] == pytest.approx(1.0) and np.all(np.diff(y) >= 0)
    assert "latency" in sched.get_xlabel() and start.get_ylabel() == "fraction of pods"
    assert sched.get_legend() is not None and fig.get_suptitle()
    # profiles drawn with different line styles, so identical curves stay visible
    assert start.lines[0].get_linestyle() != start.lines[1].get_linestyle()


def test_utilization_timelines_average_replications(result):
    fig = utilization_timelines(result)
    cpu_ax = fig.axes[0]
    assert "cpu" in cpu_ax.get_ylabel() and "%" in cpu_ax.get_ylabel()
    assert fig.axes[-1].get_xlabel() == "virtual time (s)"
    line = cpu_ax.lines[0]
    assert line.get_label() == "kube-default (mean of 3)"
    # hand check of one bin: the mean of the three replications' utilisation in it
    ts = [r.timeseries for r in result.results_for("kube-default")]
    k = 3
    t0 = ts[0]["time"].iloc[k]
    expected = np.mean([100 * t.loc[t["time"] == t0, "cpu_utilization"].item() for t in ts])
    assert line.get_ydata()[k] == pytest.approx(expected)


def test_plots_need_kept_results():
    from k8sim import validate_scenario

    sc = validate_scenario({"cluster": {"node_pools": [{"name": "a", "count": 1,
                                                       "allocatable": {"cpu": "1", "memory": "1Gi"}}]}})
    res = compare(sc, ["binpack"], replications=1)
    with pytest.raises(ValueError, match="keep_results=True"):
        latency_cdfs(res)


def test_sweep_lines():
    table = pd.DataFrame({
        "status": ["ok"] * 8,
        "profile": ["a", "a", "b", "b"] * 2,
        "nodes": [2, 2, 2, 2, 4, 4, 4, 4],
        "replication": [0, 1] * 4,
        "makespan_s": [10.0, 12.0, 20.0, 22.0, 5.0, 7.0, 9.0, 11.0],
    })
    fig = sweep_lines(table, "nodes", ["makespan_s"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "nodes" and ax.get_ylabel() == "seconds"
    a_line = ax.lines[0]
    assert list(a_line.get_xdata()) == [2, 4] and list(a_line.get_ydata()) == [11.0, 6.0]
    assert "nodes" in fig.get_suptitle()


def test_mean_gpu_curve_steps_and_partial_replications():
    from k8sim.experiments.plots import mean_gpu_curve

    def frame(arrived, allocated):
        return pd.DataFrame({"arrived_share": arrived, "allocated_share": allocated,
                             "fragmentation_share": [0.0] * len(arrived),
                             "fragmentation_idle_share": [0.5] * len(arrived)})

    # Replication A reaches arrived 0.1 (allocated 0.1) then 0.2 (0.2); B reaches 0.1
    # (0.1) then 0.3 (still 0.1). On the grid 0, 0.1, 0.2, 0.3: at 0 nothing has
    # arrived in either (NaN, 0 replications); at 0.1 both hold 0.1 -> 0.1; at 0.2 A
    # holds 0.2 and B still its 0.1 (its next arrival is at 0.3) -> 0.15; at 0.3 only B
    # got there -> 0.1 from 1 replication.
    out = mean_gpu_curve([frame([0.1, 0.2], [0.1, 0.2]), frame([0.1, 0.3], [0.1, 0.1])], step=0.1)
    assert np.allclose(out["arrived_share"], [0, 0.1, 0.2, 0.3])
    assert np.isnan(out["allocated_share"].iloc[0])
    assert out["allocated_share"].iloc[1:].tolist() == pytest.approx([0.1, 0.15, 0.1])
    assert out["replications"].tolist() == [0, 2, 2, 1]
    assert out["fragmentation_idle_share"].iloc[1:].tolist() == pytest.approx([0.5, 0.5, 0.5])
