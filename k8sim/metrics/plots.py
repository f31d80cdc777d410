"""Standard plots of a run. Each function returns a matplotlib ``Figure``; writing files
is the caller's business (:func:`save_standard_plots` does it for the CLI)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd

    from k8sim.metrics.result import RunResult


def _title(result: RunResult, what: str) -> str:
    name = result.provenance.get("scenario") or "run"
    return f"{what} - {name} (seed {result.provenance.get('seed')})"


def utilization(result: RunResult) -> Figure:
    """Requested / allocatable per resource over time (time-weighted per bin)."""
    ts = result.timeseries
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    t = ts["time"] + ts["interval"] / 2
    for res in result.resources:
        col = f"{res}_utilization"
        if col in ts and f"{res}_allocatable" in ts and ts[f"{res}_allocatable"].max() > 0 and res != "pods":
            ax.plot(t, 100 * ts[col], label=res)
    if result.warmup_s > 0:
        ax.axvspan(0, result.warmup_s, color="grey", alpha=0.15, label="warm-up")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("requested / allocatable (%)")
    ax.set_ylim(0, 105)
    ax.set_title(_title(result, "Cluster utilisation"))
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    return fig


def pods_over_time(result: RunResult) -> Figure:
    """Pending and running pods over time (time-weighted mean per bin)."""
    ts = result.timeseries
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    t = ts["time"] + ts["interval"] / 2
    ax.plot(t, ts["running_pods"], label="running")
    ax.plot(t, ts["pending_pods"], label="pending")
    if result.warmup_s > 0:
        ax.axvspan(0, result.warmup_s, color="grey", alpha=0.15, label="warm-up")
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("pods")
    ax.set_title(_title(result, "Pending and running pods"))
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    return fig


def failures_timeline(result: RunResult) -> Figure:
    """Capacity and availability around failure events: machines up (top) and pods
    Running / serving on a working machine (bottom), node failures shaded from the
    failure to the recovery, evictions marked. Needs the ``failures`` frame (a run with
    faults or operator actions)."""
    ts = result.timeseries
    failures = result.frames.get("failures")
    disruptions = result.frames.get("disruptions")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, layout="constrained")
    t = ts["time"] + ts["interval"] / 2
    if "nodes_up" in ts:
        top.plot(t, ts["nodes_up"], color="tab:blue", label="nodes up (time-weighted)")
    bottom.plot(t, ts["running_pods"], color="tab:grey", label="Running (API view)")
    if "available_pods" in ts:
        bottom.plot(t, ts["available_pods"], color="tab:green", label="Running on a working node")
    if failures is not None and len(failures):
        stop = failures["down_at"] + failures["downtime_s"]
        spans = sorted(set(zip(failures["down_at"].tolist(), stop.tolist(), strict=True)))  # a zone: one span
        for i, (a, b) in enumerate(spans):
            for ax in (top, bottom):
                ax.axvspan(a, b, color="tab:red", alpha=0.12, label="node down" if i == 0 and ax is top else None)
        nr = failures["not_ready_at"].dropna()
        if len(nr):
            top.vlines(nr, 0, 1, transform=top.get_xaxis_transform(), colors="tab:orange", linestyles=":",
                       label="marked NotReady")
    if disruptions is not None and len(disruptions):
        ev = disruptions["time"].to_numpy()
        bottom.plot(ev, np.zeros_like(ev), "|", color="tab:red", markersize=12, label="pod evicted / lost")
    top.set_ylabel("nodes")
    top.set_title(_title(result, "Capacity and availability around failures"))
    top.legend(loc="best")
    top.grid(alpha=0.3)
    bottom.set_xlabel("virtual time (s)")
    bottom.set_ylabel("pods")
    bottom.legend(loc="best")
    bottom.grid(alpha=0.3)
    return fig


def _ecdf(ax: plt.Axes, values: np.ndarray, label: str) -> None:
    v = np.sort(values[np.isfinite(values)])
    if v.size == 0:
        return
    y = np.arange(1, v.size + 1) / v.size
    ax.step(v, y, where="post", label=f"{label} (n={v.size:,})")


def _finish_cdf(ax: plt.Axes, result: RunResult, xlabel: str, title: str, empty: str) -> None:
    """Common axes of the CDF plots: labels, title, legend (or a note when empty), grid."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of pods")
    ax.set_ylim(0, 1.02)
    ax.set_title(_title(result, title))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center")
    ax.grid(alpha=0.3)


def latency_cdf(result: RunResult) -> Figure:
    """Empirical CDFs of scheduling latency and startup latency (post warm-up pods)."""
    win = _window(result)
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    _ecdf(ax, win["scheduling_latency"].to_numpy(dtype=float), "scheduling (created -> bound)")
    _ecdf(ax, win["startup_latency"].to_numpy(dtype=float), "startup (created -> running)")
    _finish_cdf(ax, result, "latency (s)", "Latency CDF", "no pod was scheduled")
    return fig


def _window(result: RunResult):  # noqa: ANN202 - a DataFrame
    pods = result.pods
    return pods[(pods["created"] >= result.warmup_s) & (pods["workload"] != "")]


def startup_breakdown(result: RunResult) -> Figure:
    """Empirical CDFs of the parts of startup (pods that reached Running, post warm-up):
    waiting to be scheduled, pulling images (back-off included), the rest of
    ContainerCreating (sandbox, init containers, container starts), and the total."""
    win = _window(result)
    win = win[win["running"].notna()]
    pulling = win["image_pull_time"].fillna(0.0)
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    _ecdf(ax, (win["scheduled"] - win["created"]).to_numpy(dtype=float), "scheduling (created -> bound)")
    _ecdf(ax, pulling.to_numpy(dtype=float), "image pulls")
    _ecdf(ax, (win["running"] - win["scheduled"] - pulling).to_numpy(dtype=float),
          "sandbox + containers (bound -> running, without pulls)")
    _ecdf(ax, win["startup_latency"].to_numpy(dtype=float), "startup (created -> running)")
    _finish_cdf(ax, result, "seconds", "Startup breakdown", "no pod reached Running")
    return fig


def startup_cdf_by(result: RunResult, by: str = "pool") -> Figure:
    """Empirical CDFs of startup latency (created -> Running) per node pool (``by="pool"``)
    or per workload (``by="workload"``), post warm-up pods that reached Running."""
    win = _window(result)
    win = win[win["running"].notna()]
    if by == "pool":
        pools = dict(zip(result.nodes["node"], result.nodes["pool"], strict=True))
        groups = win["node"].map(pools)
    elif by == "workload":
        groups = win["workload"]
    else:
        raise ValueError(f"by must be 'pool' or 'workload', got {by!r}")
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    for name in sorted(groups.dropna().unique()):
        sel = win[groups == name]
        _ecdf(ax, sel["startup_latency"].to_numpy(dtype=float), f"{by} {name}")
    _finish_cdf(ax, result, "startup latency, created -> running (s)", f"Startup latency CDF by {by}",
                "no pod reached Running")
    return fig


def plot_gpu_allocation(
    frames: Mapping[str, pd.DataFrame],
    path: str | Path | None = None,
    title: str = "GPU allocation and fragmentation vs arrived GPU workload",
) -> Figure:
    """The paper-style GPU panels (Weng et al., ATC '23) for several policies.

    ``frames`` maps a policy label to its GPU timeline (:func:`k8sim.metrics.gpu.gpu_timeline`
    or ``RunResult.gpu``). Left: allocated GPU (% of capacity) against the arrived GPU
    request (% of capacity, pods that failed included), with ``y = x`` (everything that
    arrived is placed) for reference. Right: fragmentation as a share of idle GPU (%)
    against the same x. One line per policy, one point per instant (the state after all
    the events at that time), in time order. Saved (110 dpi) when
    ``path`` is given; the figure is returned either way.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    top = 0.0
    for label, frame in frames.items():
        if "time" in frame and len(frame):
            # The state after everything that happened at one instant (a pod's arrival
            # and its binding share a time): one point per instant, no half-done steps.
            frame = frame[frame["time"].ne(frame["time"].shift(-1))]
        x = 100 * frame["arrived_share"].to_numpy(dtype=float)
        left.plot(x, 100 * frame["allocated_share"].to_numpy(dtype=float), label=label)
        right.plot(x, 100 * frame["fragmentation_idle_share"].to_numpy(dtype=float), label=label)
        if np.isfinite(x).any():
            top = max(top, float(np.nanmax(x)))
    top = top or 100.0
    left.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1, label="y = x (all arrived placed)")
    left.set_xlabel("arrived GPU request (% of GPU capacity)")
    left.set_ylabel("allocated GPU (% of GPU capacity)")
    left.set_title("Allocated vs arrived GPU")
    right.set_xlabel("arrived GPU request (% of GPU capacity)")
    right.set_ylabel("fragmented share of idle GPU (%)")
    right.set_title("Fragmentation of idle GPU")
    for ax in (left, right):
        ax.set_xlim(0, top * 1.02)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best")
    fig.suptitle(title)
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig


#: A standard plot: a figure of one run.
PlotFn = Callable[["RunResult"], Figure]

STANDARD_PLOTS: dict[str, PlotFn] = {
    "utilization.png": utilization,
    "pods.png": pods_over_time,
    "latency_cdf.png": latency_cdf,
}

#: Drawn too when the run used the kubelet's runtime model (images, restarts).
RUNTIME_PLOTS: dict[str, PlotFn] = {
    "startup_breakdown.png": startup_breakdown,
    "startup_by_pool.png": startup_cdf_by,
}


def save_standard_plots(result: RunResult, directory: str | Path) -> list[Path]:
    """Draw every standard plot into ``directory`` as PNG; returns the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = []
    plots = dict(STANDARD_PLOTS)
    if result.provenance.get("runtime_model"):
        plots.update(RUNTIME_PLOTS)
    gpu = result.gpu
    if gpu is not None and len(gpu):
        name = str(result.provenance.get("scenario") or "run")
        plots["gpu_allocation.png"] = lambda _: plot_gpu_allocation(
            {name: gpu}, title=f"{name}: GPU allocation and fragmentation vs arrived GPU workload")
    failures = result.frames.get("failures")
    if failures is not None and len(failures):
        plots["failures.png"] = failures_timeline
    for fname, fn in plots.items():
        fig = fn(result)
        path = d / fname
        fig.savefig(path, dpi=110)
        plt.close(fig)
        out.append(path)
    return out
