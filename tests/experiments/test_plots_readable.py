"""Comparison and sweep plots that do not mislead: a paired-difference plot, bars that
do not hide small differences, list sweeps point by point, the ATC '23 curves as median
and interquartile band with a zoomed unallocated view, GPU and long time axes."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from k8sim.experiments.plots import (
    gpu_allocation_curves,
    gpu_curve_quantiles,
    metric_bars,
    paired_difference_plot,
    save_sweep_plots,
    sweep_points,
    utilization_timelines,
)
from tests.metrics.test_gpu_metrics import hand_sim


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_paired_difference_plot():
    paired = pd.DataFrame({
        "profile": ["b", "c", "b", "c"],
        "baseline": ["a"] * 4,
        "metric": ["mean_cpu_utilization"] * 2 + ["makespan_s"] * 2,
        # b: +5 pp, interval [2, 8] pp (excludes 0); c: -1 pp, [-3, 1] (includes 0)
        # makespan: b +10 s [4, 16]; c -20 s [-50, 10]
        "mean_diff": [0.05, -0.01, 10.0, -20.0],
        "ci_low": [0.02, -0.03, 4.0, -50.0],
        "ci_high": [0.08, 0.01, 16.0, 10.0],
    })
    fig = paired_difference_plot(paired, ["mean_cpu_utilization", "makespan_s"])
    util, span = [ax for ax in fig.axes if ax.get_visible()]
    assert util.get_xlabel() == "difference (percentage points)"
    assert span.get_xlabel() == "difference (seconds)"
    ticks = {t.get_text(): t.get_position()[1] for t in util.get_yticklabels()}
    assert ticks["b"] > ticks["c"]  # profiles top to bottom in order
    (b_pt, c_pt) = [line for line in util.lines if line.get_marker() == "o"]
    assert b_pt.get_ydata()[0] == ticks["b"] and c_pt.get_ydata()[0] == ticks["c"]
    assert b_pt.get_xdata()[0] == pytest.approx(5.0) and c_pt.get_xdata()[0] == pytest.approx(-1.0)
    assert b_pt.get_markerfacecolor() != "white" and c_pt.get_markerfacecolor() == "white"
    # the error bar of b spans its interval, 2 .. 8 pp
    segs = [c for c in util.collections if hasattr(c, "get_segments")][0].get_segments()
    assert sorted([segs[0][0][0], segs[0][1][0]]) == pytest.approx([2.0, 8.0])
    assert util.get_title() == "mean cpu utilization"
    assert "baseline (a)" in fig.get_suptitle()
    assert any(line.get_xdata()[0] == 0 for line in util.lines if line.get_marker() != "o")  # the 0 line


def test_bars_do_not_hide_small_differences():
    # 90% vs 91% with ±0.5%: bars from 0 would look equal; the spread (91.5 - 89.5 = 2)
    # is under 25% of 91, so points on a fitted axis instead.
    summary = pd.DataFrame({"profile": ["a", "b"], "metric": ["mean_cpu_utilization"] * 2,
                            "mean": [0.90, 0.91], "ci": [0.005, 0.005], "n": [5, 5]})
    ax = metric_bars(summary, ["mean_cpu_utilization"]).axes[0]
    assert not ax.patches  # no bars
    assert "axis not from 0" in ax.get_title()
    lo, hi = ax.get_ylim()
    assert 85 < lo < 89.5 and 91.5 < hi < 95
    points = [line for line in ax.lines if line.get_marker() == "o"]
    assert [p.get_ydata()[0] for p in points] == pytest.approx([90.0, 91.0])
    # 20% vs 60%: bars from 0
    wide = summary.assign(mean=[0.2, 0.6])
    ax = metric_bars(wide, ["mean_cpu_utilization"]).axes[0]
    assert [p.get_height() for p in ax.patches] == pytest.approx([20.0, 60.0])
    assert "axis not from 0" not in ax.get_title()


LIST_TABLE = pd.DataFrame({
    "status": ["ok"] * 6,
    "profile": ["p"] * 6,
    "replication": [0, 1] * 3,
    # three list points in this order, each setting both paths
    "nodes": [10, 10, 5, 5, 20, 20],
    "rate": [2.0, 2.0, 1.0, 1.0, 0.5, 0.5],
    "makespan_s": [100.0, 110.0, 50.0, 70.0, 10.0, 30.0],
})


def test_list_sweeps_plot_point_by_point(tmp_path: Path):
    fig = sweep_points(LIST_TABLE, ["nodes", "rate"], ["makespan_s"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["nodes=10\nrate=2.0", "nodes=5\nrate=1.0",
                                                            "nodes=20\nrate=0.5"]
    # means per point in list order: (100+110)/2, (50+70)/2, (10+30)/2
    assert list(ax.lines[0].get_ydata()) == [105.0, 60.0, 20.0]
    assert ax.get_xlabel() == "point (overrides)"
    written = save_sweep_plots(LIST_TABLE, ["nodes", "rate"], tmp_path, mode="list")
    assert [p.name for p in written] == ["sweep-points.png"]


def test_gpu_curve_quantiles_by_hand():
    # Three replications read on the grid 0, 0.5, 1.0. Allocated at 1.0 arrived: 0.9,
    # 0.8, 0.7 -> median 0.8, quartiles 0.75 and 0.85 (linear interpolation); unallocated
    # (arrived - allocated): 0.1, 0.2, 0.3 -> 0.2 (0.15, 0.25). Nothing arrived at 0.
    def frame(alloc_at_1):
        return pd.DataFrame({"arrived_share": [0.5, 1.0], "allocated_share": [0.5, alloc_at_1],
                             "fragmentation_idle_share": [0.0, 0.5]})

    q = gpu_curve_quantiles([frame(0.9), frame(0.8), frame(0.7)], step=0.5)
    assert q["arrived_share"].tolist() == [0.0, 0.5, 1.0]
    assert q["replications"].tolist() == [0, 3, 3]
    last = q.iloc[2]
    assert (last["allocated_share_p25"], last["allocated_share_p50"], last["allocated_share_p75"]) == \
        pytest.approx((0.75, 0.8, 0.85))
    assert (last["unallocated_share_p25"], last["unallocated_share_p50"], last["unallocated_share_p75"]) == \
        pytest.approx((0.15, 0.2, 0.25))
    assert q.iloc[1]["unallocated_share_p50"] == pytest.approx(0.0)


def test_gpu_allocation_curves_band_and_zoom():
    res = hand_sim().run()
    fig = gpu_allocation_curves({"x": [res, res]})
    left, mid, right = fig.axes
    assert left.collections and mid.collections  # interquartile bands
    assert "median" in fig.get_suptitle() and "interquartile" in fig.get_suptitle()
    # Hand scenario: arrived reaches 25%, 60%, then 110% (c does not fit until a leaves):
    # the median unallocated first exceeds 0.5% of capacity at 110% -> the view starts
    # 10 points before, at 100%.
    assert mid.get_xlim()[0] == pytest.approx(100.0)
    assert "Unallocated" in mid.get_title()


def test_utilization_timelines_gpu_panel():
    res = hand_sim().run()
    fig = utilization_timelines({"x": [res]})
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels[-1] == "GPU allocated / capacity (%)"
    assert fig.axes[-1].get_xlabel() == "virtual time (s)"


@pytest.mark.slow
def test_list_sweep_command_and_replot_draw_points(tmp_path: Path):
    import yaml
    from rich.console import Console

    from k8sim.experiments.commands import plot_command, sweep_command

    scenario = {"version": 1, "cluster": {"node_pools": [{"name": "n", "count": 1,
                                                         "allocatable": {"cpu": "2", "memory": "4Gi"}}]},
                "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [0, 1]},
                               "template": {"requests": {"cpu": "1", "memory": "1Gi"}},
                               "duration": {"kind": "constant", "value": 5}}]}
    (tmp_path / "sc.yaml").write_text(yaml.safe_dump(scenario))
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump({
        "scenario": "sc.yaml",
        "list": [{"cluster.node_pools[0].count": 2, "workloads[0].duration.value": 9},
                 {"cluster.node_pools[0].count": 1, "workloads[0].duration.value": 3}]}))
    con = Console(record=True, width=200, color_system=None)
    sweep_command(tmp_path / "exp.yaml", "local", 1, None, tmp_path / "out", con)
    assert (tmp_path / "out" / "sweep-points.png").is_file()
    assert not (tmp_path / "out" / "sweep-0.png").exists()
    written = plot_command(tmp_path / "out", con, out=tmp_path / "again")
    assert [p.name for p in written] == ["sweep-points.png"]
