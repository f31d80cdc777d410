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


def latency_cdf(result: RunResult, by: str | None = None) -> Figure:
    """Empirical CDFs of scheduling latency and startup latency (post warm-up pods); with
    ``by="pool"`` or ``by="workload"`` two panels (scheduling, startup) with one line per
    node pool or workload."""
    win = _window(result)
    if by is None:
        fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
        _ecdf(ax, win["scheduling_latency"].to_numpy(dtype=float), "scheduling (created -> bound)")
        _ecdf(ax, win["startup_latency"].to_numpy(dtype=float), "startup (created -> running)")
        _finish_cdf(ax, result, "latency (s)", "Latency CDF", "no pod was scheduled")
        return fig
    groups, names, note = _groups(result, win, by)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    for name in names:
        sel = win[groups == name]
        _ecdf(left, sel["scheduling_latency"].to_numpy(dtype=float), f"{by} {name}")
        _ecdf(right, sel["startup_latency"].to_numpy(dtype=float), f"{by} {name}")
    _finish_cdf(left, result, "scheduling latency, created -> bound (s)", f"Scheduling latency by {by}{note}",
                "no pod was scheduled")
    _finish_cdf(right, result, "startup latency, created -> running (s)", f"Startup latency by {by}{note}",
                "no pod reached Running")
    return fig


#: Most groups a per-pool / per-workload plot draws (the largest, by pod count).
MAX_GROUPS = 12


def _groups(result: RunResult, win: pd.DataFrame, by: str) -> tuple[pd.Series, list[str], str]:
    """Each window pod's group (node pool or workload), the groups to draw (at most
    :data:`MAX_GROUPS`, the largest first, then sorted by name) and a title note when
    some were left out."""
    if by == "pool":
        pools = dict(zip(result.nodes["node"], result.nodes["pool"], strict=True))
        groups = win["node"].map(pools)
    elif by == "workload":
        groups = win["workload"]
    else:
        raise ValueError(f"by must be 'pool' or 'workload', got {by!r}")
    counts = groups.dropna().value_counts()
    names = sorted(str(x) for x in counts.index[:MAX_GROUPS])
    note = f" ({len(names)} largest of {len(counts)})" if len(counts) > MAX_GROUPS else ""
    return groups, names, note


def _window(result: RunResult):  # noqa: ANN202 - a DataFrame
    pods = result.pods
    return pods[(pods["created"] >= result.warmup_s) & (pods["workload"] != "")]


def _breakdown_lines(ax: plt.Axes, win: pd.DataFrame) -> None:
    pulling = win["image_pull_time"].fillna(0.0)
    _ecdf(ax, (win["scheduled"] - win["created"]).to_numpy(dtype=float), "scheduling (created -> bound)")
    _ecdf(ax, pulling.to_numpy(dtype=float), "image pulls")
    _ecdf(ax, (win["running"] - win["scheduled"] - pulling).to_numpy(dtype=float),
          "sandbox + containers (bound -> running, without pulls)")
    _ecdf(ax, win["startup_latency"].to_numpy(dtype=float), "startup (created -> running)")


def startup_breakdown(result: RunResult, by: str | None = None) -> Figure:
    """Empirical CDFs of the parts of the first start (pods that reached Running, post
    warm-up): waiting to be scheduled, pulling images (back-off included), the rest of
    ContainerCreating (sandbox, init containers, container starts), and the total. With
    ``by="pool"`` or ``by="workload"`` one panel per node pool or workload (shared axes),
    so the arms of a cold-start study are not lumped together."""
    win = _window(result)
    win = win[win["running"].notna()]
    if by is None:
        fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
        _breakdown_lines(ax, win)
        _finish_cdf(ax, result, "seconds", "Startup breakdown", "no pod reached Running")
        return fig
    groups, names, note = _groups(result, win, by)
    k = max(len(names), 1)
    cols = min(k, 3)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 3.6 * rows), layout="constrained",
                             sharex=True, sharey=True, squeeze=False)
    for j, ax in enumerate(axes.flat):
        if j >= len(names):
            ax.set_visible(j == 0)
            if j == 0:
                ax.text(0.5, 0.5, "no pod reached Running", transform=ax.transAxes, ha="center")
            continue
        _breakdown_lines(ax, win[groups == names[j]])
        ax.set_title(f"{by} {names[j]}")
        ax.set_xlabel("seconds")
        ax.set_ylabel("fraction of pods")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="x-small")
    fig.suptitle(_title(result, f"Startup breakdown by {by}{note}"))
    return fig


def image_disk(result: RunResult) -> Figure:
    """Image disk use per node pool over time (time-weighted mean of used / capacity
    per sampling bin, with the pools' GC thresholds) and what image GC freed per bin.
    Needs the ``image_disk`` frame (runs with an ``images`` section)."""
    disk = result.frames.get("image_disk")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), layout="constrained", sharex=True,
                                      height_ratios=(2, 1))
    if disk is None or not len(disk):
        top.text(0.5, 0.5, "no image disk in this run", transform=top.transAxes, ha="center")
    else:
        width = float(disk["interval"].max()) if len(disk) else 1.0
        pools = list(dict.fromkeys(disk["pool"].tolist()))
        step = width / (len(pools) + 1)
        for k, pool in enumerate(pools):
            d = disk[disk["pool"] == pool]
            t = d["time"] + d["interval"] / 2
            (line,) = top.plot(t, 100 * d["disk_use"], label=f"pool {pool}")
            color = line.get_color()
            if d["disk_capacity_bytes"].max() > 0:
                # Thresholds in the pool's colour (grey when every pool has the same).
                same = disk[["gc_high_percent", "gc_low_percent"]].drop_duplicates().shape[0] == 1
                c = "grey" if same else color
                top.axhline(float(d["gc_high_percent"].iloc[0]), color=c, linestyle="--", linewidth=0.8)
                top.axhline(float(d["gc_low_percent"].iloc[0]), color=c, linestyle=":", linewidth=0.8)
            bottom.bar(d["time"] + step * (k + 0.5), d["gc_bytes_freed"] / 1e9, width=step, color=color,
                       label=f"pool {pool}", align="edge")
        if disk["disk_capacity_bytes"].max() > 0:
            top.plot([], [], color="grey", linestyle="--", linewidth=0.8, label="GC high threshold")
            top.plot([], [], color="grey", linestyle=":", linewidth=0.8, label="GC low threshold")
        top.legend(loc="best", fontsize="small")
        if bottom.get_legend_handles_labels()[0]:
            bottom.legend(loc="best", fontsize="small")
    if result.warmup_s > 0:
        for ax in (top, bottom):
            ax.axvspan(0, result.warmup_s, color="grey", alpha=0.12)
    top.set_ylabel("image disk used (% of capacity)")
    top.set_ylim(0, 105)
    top.set_title(_title(result, "Image disk use and image GC by pool"))
    top.grid(alpha=0.3)
    bottom.set_xlabel("virtual time (s)")
    bottom.set_ylabel("freed by image GC (GB per bin)")
    bottom.grid(alpha=0.3)
    return fig


def startup_cdf_by(result: RunResult, by: str = "pool") -> Figure:
    """Empirical CDFs of startup latency (created -> Running) per node pool (``by="pool"``)
    or per workload (``by="workload"``), post warm-up pods that reached Running."""
    win = _window(result)
    win = win[win["running"].notna()]
    groups, names, note = _groups(result, win, by)
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    for name in names:
        sel = win[groups == name]
        _ecdf(ax, sel["startup_latency"].to_numpy(dtype=float), f"{by} {name}")
    _finish_cdf(ax, result, "startup latency, created -> running (s)", f"Startup latency CDF by {by}{note}",
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

#: Drawn too when the cluster has more than one node pool.
POOL_PLOTS: dict[str, PlotFn] = {
    "startup_breakdown_by_pool.png": lambda r: startup_breakdown(r, by="pool"),
    "latency_cdf_by_pool.png": lambda r: latency_cdf(r, by="pool"),
}


def save_standard_plots(result: RunResult, directory: str | Path) -> list[Path]:
    """Draw every standard plot into ``directory`` as PNG; returns the paths."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = []
    plots = dict(STANDARD_PLOTS)
    if result.provenance.get("runtime_model"):
        plots.update(RUNTIME_PLOTS)
        if "pool" in result.nodes and result.nodes["pool"].nunique() > 1:
            plots.update(POOL_PLOTS)
    if "image_disk" in result.frames:
        plots["image_disk.png"] = image_disk
    gpu = result.gpu
    if gpu is not None and len(gpu):
        name = str(result.provenance.get("scenario") or "run")
        plots["gpu_allocation.png"] = lambda _: plot_gpu_allocation(
            {name: gpu}, title=f"{name}: GPU allocation and fragmentation vs arrived GPU workload")
    for fname, fn in plots.items():
        fig = fn(result)
        path = d / fname
        fig.savefig(path, dpi=110)
        plt.close(fig)
        out.append(path)
    return out
