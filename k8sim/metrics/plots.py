"""Standard plots of a run. Each function returns a matplotlib ``Figure``; writing files
is the caller's business (:func:`save_standard_plots` does it for the CLI)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from k8sim.metrics.format import duration_unit, fmt_duration  # noqa: E402

if TYPE_CHECKING:
    import pandas as pd

    from k8sim.metrics.result import RunResult


def _title(result: RunResult, what: str) -> str:
    name = result.provenance.get("scenario") or "run"
    return f"{what} - {name} (seed {result.provenance.get('seed')})"


def time_axis(end_s: float) -> tuple[float, str]:
    """``(divisor, label)`` of a virtual-time axis that reaches ``end_s``: seconds up to
    2 hours, hours up to 2 days, days beyond (:func:`k8sim.metrics.format.duration_unit`)."""
    div, unit = duration_unit(end_s)
    return div, f"virtual time ({unit})"


#: Line styles in turn, so that curves that coincide stay visible (the later ones
#: dashed or dotted on top of the earlier ones, which are drawn wider).
LINE_STYLES: tuple[str, ...] = ("-", "--", ":", "-.")


def line_style(i: int) -> dict[str, Any]:
    """Style of the ``i``-th line of a panel: a dash pattern and a width that shrinks,
    so that identical curves drawn on top of each other all stay visible."""
    return {"linestyle": LINE_STYLES[i % len(LINE_STYLES)], "linewidth": max(1.0, 2.6 - 0.4 * i)}


def utilization(result: RunResult) -> Figure:
    """Requested / allocatable per resource over time (time-weighted per bin), in %;
    with GPUs also the allocated share of GPU capacity."""
    ts = result.timeseries
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    div, xlabel = time_axis(result.end_time)
    t = (ts["time"] + ts["interval"] / 2) / div
    i = 0
    for res in result.resources:
        col = f"{res}_utilization"
        if col in ts and f"{res}_allocatable" in ts and ts[f"{res}_allocatable"].max() > 0 and res != "pods":
            ax.plot(t, 100 * ts[col], label=res, **line_style(i))
            i += 1
    if "gpu_utilization" in ts:
        ax.plot(t, 100 * ts["gpu_utilization"], label="GPU (allocated milli-GPU)", **line_style(i))
    if result.warmup_s > 0:
        ax.axvspan(0, result.warmup_s / div, color="grey", alpha=0.15, label="warm-up")
    ax.set_xlabel(xlabel)
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
    div, xlabel = time_axis(result.end_time)
    t = (ts["time"] + ts["interval"] / 2) / div
    ax.plot(t, ts["running_pods"], label="running")
    ax.plot(t, ts["pending_pods"], label="pending")
    if result.warmup_s > 0:
        ax.axvspan(0, result.warmup_s / div, color="grey", alpha=0.15, label="warm-up")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pods")
    ax.set_title(_title(result, "Pending and running pods"))
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    return fig


def _ecdf(ax: plt.Axes, values: np.ndarray, label: str, **style: Any) -> float:
    """Draw one empirical CDF; returns its largest value (NaN when nothing to draw)."""
    v = np.sort(values[np.isfinite(values)])
    if v.size == 0:
        return float("nan")
    y = np.arange(1, v.size + 1) / v.size
    ax.step(v, y, where="post", label=f"{label} (n={v.size:,})", **style)
    return float(v[-1])


def _finish_cdf(ax: plt.Axes, result: RunResult, xlabel: str, title: str, empty: str) -> None:
    """Common axes of the CDF plots: labels, title, legend (or a note when empty), grid."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of pods")
    ax.set_ylim(0, 1.02)
    ax.set_title(_title(result, title))
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", wrap=True)
    ax.grid(alpha=0.3)


def log_like_axis(ax: plt.Axes, top: float) -> str:
    """A symmetric-log x axis (linear below 1 s) when the values reach past 100 s, so
    that the bulk near 0 and a long tail are both readable; returns the label suffix."""
    if top == top and top > 100:
        ax.set_xscale("symlog", linthresh=1.0)
        return ", symlog scale"
    return ""


def why_empty(result: RunResult, column: str) -> str:
    """Why no pod has a value in ``column`` (``scheduling_latency`` / ``startup_latency``):
    a sentence for an empty plot."""
    pods = result.pods
    submitted = pods[pods["workload"] != ""]
    win = _window(result)
    if submitted.empty:
        return "no pod was submitted"
    if win.empty:
        return (f"all {len(submitted):,} pods were created during the warm-up\n"
                f"(warmup_s = {fmt_duration(result.warmup_s)}), which the summary leaves out")
    if column == "scheduling_latency" or win["scheduled"].isna().all():
        return f"none of the {len(win):,} pods created after the warm-up was scheduled"
    return f"none of the {len(win):,} pods created after the warm-up reached Running"


def latency_cdf(result: RunResult) -> Figure:
    """Empirical CDFs of scheduling latency (created -> bound, left) and startup latency
    (created -> Running, right) of the post warm-up pods, one line per workload; a
    symmetric-log axis when latencies reach past 100 s (as :func:`k8sim.experiments.plots.latency_cdfs`).
    A panel with nothing to draw says why."""
    win = _window(result)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    names = sorted(str(w) for w in win["workload"].unique())
    for ax, (column, what) in zip(axes, (("scheduling_latency", "scheduling latency (created -> bound)"),
                                         ("startup_latency", "startup latency (created -> running)")), strict=True):
        tops = [_ecdf(ax, win.loc[win["workload"] == name, column].to_numpy(dtype=float), name, **line_style(i))
                for i, name in enumerate(names)]
        scale = log_like_axis(ax, max((t for t in tops if t == t), default=float("nan")))
        _finish_cdf(ax, result, f"{what} (s{scale})", what.split(" (")[0].capitalize(), why_empty(result, column))
        ax.set_title(what.split(" (")[0].capitalize())
    fig.suptitle(_title(result, "Latency CDF per workload (post warm-up pods)"))
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
    _ecdf(ax, (win["scheduled"] - win["created"]).to_numpy(dtype=float), "scheduling (created -> bound)",
          **line_style(0))
    _ecdf(ax, pulling.to_numpy(dtype=float), "image pulls", **line_style(1))
    _ecdf(ax, (win["running"] - win["scheduled"] - pulling).to_numpy(dtype=float),
          "sandbox + containers (bound -> running, without pulls)", **line_style(2))
    _ecdf(ax, win["startup_latency"].to_numpy(dtype=float), "startup (created -> running)", **line_style(3))
    _finish_cdf(ax, result, "seconds", "Startup breakdown", why_empty(result, "startup_latency"))
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
    for i, name in enumerate(sorted(groups.dropna().unique())):
        sel = win[groups == name]
        _ecdf(ax, sel["startup_latency"].to_numpy(dtype=float), f"{by} {name}", **line_style(i))
    _finish_cdf(ax, result, "startup latency, created -> running (s)", f"Startup latency CDF by {by}",
                why_empty(result, "startup_latency"))
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
    for i, (label, frame) in enumerate(frames.items()):
        if "time" in frame and len(frame):
            # The state after everything that happened at one instant (a pod's arrival
            # and its binding share a time): one point per instant, no half-done steps.
            frame = frame[frame["time"].ne(frame["time"].shift(-1))]
        x = 100 * frame["arrived_share"].to_numpy(dtype=float)
        style = line_style(i)
        left.plot(x, 100 * frame["allocated_share"].to_numpy(dtype=float), label=label, **style)
        right.plot(x, 100 * frame["fragmentation_idle_share"].to_numpy(dtype=float), label=label,
                   **style)
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
    """Draw every standard plot into ``directory`` as PNG; returns the paths. A trace
    inflation replay gets no latency CDF (its virtual time is only an order)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = []
    plots = dict(STANDARD_PLOTS)
    if result.inflation:  # one arrival per interval_s, pods never leave: latencies mean nothing
        del plots["latency_cdf.png"]
    if result.provenance.get("runtime_model"):
        plots.update(RUNTIME_PLOTS)
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
