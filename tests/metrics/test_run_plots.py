"""Plots of one run: GPU utilisation, latency CDFs per workload that say why when empty,
time axes in hours or days for long runs, and lines that stay visible when identical."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

import k8sim
from k8sim.metrics.plots import latency_cdf, plot_gpu_allocation, save_standard_plots, utilization
from tests.metrics.test_gpu_metrics import hand_sim
from tests.metrics.test_summary import POD_HEADER


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def run(doc: dict) -> k8sim.RunResult:
    return k8sim.run(k8sim.validate_scenario({"version": 1, "seed": 1, **doc}))


def one_node(cpu: str = "1") -> dict:
    return {"node_pools": [{"name": "n", "count": 1, "allocatable": {"cpu": cpu, "memory": "4Gi"}}]}


def wl(name: str, times: list[float], cpu: str, duration: float) -> dict:
    return {"name": name, "arrival": {"kind": "times", "times_s": times},
            "template": {"requests": {"cpu": cpu, "memory": "1Gi"}},
            "duration": {"kind": "constant", "value": duration}}


def test_utilization_shows_gpu_in_percent():
    res = hand_sim().run()
    ax = utilization(res).axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    assert "GPU (allocated milli-GPU)" in lines
    # First bin [0, 5): a holds 500 milli on [0, 5), b 700 on [2, 5): 2500 + 2100 = 4600
    # milli-GPU x s over 2000 x 5 of capacity: 46%.
    assert lines["GPU (allocated milli-GPU)"].get_ydata()[0] == pytest.approx(46.0)
    assert ax.get_ylabel().endswith("(%)") and ax.get_xlabel() == "virtual time (s)"


def test_latency_cdf_has_one_line_per_workload_and_a_log_like_axis():
    # One 1-CPU node. a (1 CPU, 200 s) binds at 0; b (1 CPU) arrives at 0 and waits
    # until 200: its scheduling latency is 200 s > 100 s -> symlog axis.
    res = run({"cluster": one_node(), "workloads": [wl("a", [0], "1", 200), wl("b", [0], "1", 1)]})
    fig = latency_cdf(res)
    sched, start = fig.axes
    assert [line.get_label() for line in sched.lines] == ["a (n=1)", "b (n=1)"]
    assert sched.get_xscale() == "symlog" and "symlog" in sched.get_xlabel()
    assert list(sched.lines[1].get_xdata()) == [200.0]
    assert sched.lines[0].get_linestyle() != sched.lines[1].get_linestyle()


def test_an_empty_latency_cdf_says_why():
    # Everything is created before the warm-up ends: nothing to draw, and the reason.
    res = run({"warmup_s": 50, "cluster": one_node(), "workloads": [wl("a", [0, 1], "1", 1)]})
    texts = [t.get_text() for ax in latency_cdf(res).axes for t in ax.texts]
    assert len(texts) == 2 and all("all 2 pods were created during the warm-up" in t for t in texts)
    # The one pod asks for more than the node has: never scheduled.
    res = run({"duration_s": 10, "cluster": one_node(), "workloads": [wl("big", [0], "2", 1)]})
    texts = [t.get_text() for ax in latency_cdf(res).axes for t in ax.texts]
    assert texts == ["none of the 1 pods created after the warm-up was scheduled"] * 2


def test_inflation_run_gets_no_latency_cdf(tmp_path: Path):
    (tmp_path / "pods.csv").write_text(POD_HEADER + "a,1000,1024,1,600,,LS,Running,0,10,0\n")
    (tmp_path / "nodes.csv").write_text("sn,cpu_milli,memory_mib,gpu,model\nn,64000,262144,2,G1\n")
    doc = {"version": 1, "cluster": {"trace_nodes": [{"format": "openb", "file": "nodes.csv"}]},
           "workloads": [{"name": "t", "trace": {"format": "openb", "files": ["pods.csv"], "mode": "inflation"}}]}
    res = k8sim.run(k8sim.validate_scenario(doc, base_dir=tmp_path))
    names = {p.name for p in save_standard_plots(res, tmp_path / "plots")}
    assert "latency_cdf.png" not in names and {"utilization.png", "gpu_allocation.png"} <= names


def test_long_runs_have_time_axes_in_hours_or_days():
    # One pod for 3 days (259,200 s): the run ends at 259,200 s -> an axis in days to 3.
    res = run({"sample_interval_s": 3600, "cluster": one_node(), "workloads": [wl("a", [0], "1", 259200)]})
    ax = utilization(res).axes[0]
    assert ax.get_xlabel() == "virtual time (d)"
    x = ax.lines[0].get_xdata()
    assert x[-1] == pytest.approx(3 - 0.5 / 24)  # the last bin's middle: 71.5 h
    # 5 hours (18,000 s): hours.
    res = run({"sample_interval_s": 600, "cluster": one_node(), "workloads": [wl("a", [0], "1", 18000)]})
    assert utilization(res).axes[0].get_xlabel() == "virtual time (h)"


def test_identical_gpu_curves_stay_visible():
    gpu = hand_sim().run().gpu
    fig = plot_gpu_allocation({"A": gpu, "B": gpu.copy()})
    a, b = fig.axes[0].lines[:2]
    assert np.array_equal(a.get_ydata(), b.get_ydata())
    assert a.get_linestyle() != b.get_linestyle() and a.get_linewidth() > b.get_linewidth()


def test_all_zero_scheduling_latency_says_why():
    # One 2-CPU node, two 1-CPU pods arriving at 0 and 1: both bind the instant they
    # arrive, so every scheduling latency is exactly 0 (no cost model, no cycle latency).
    res = run({"cluster": one_node("2"), "workloads": [wl("a", [0, 1], "1", 5)]})
    sched, start = latency_cdf(res).axes
    assert list(sched.lines[0].get_xdata()) == [0.0, 0.0]
    assert any("bound the instant it arrived" in t.get_text() for t in sched.texts)
    assert not any("bound the instant" in t.get_text() for t in start.texts)
