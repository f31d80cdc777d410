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


def plot_title(result: RunResult, what: str) -> str:
    """A figure title: ``what``, the run's scenario name and its seed."""
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
    ax.set_title(plot_title(result, "Cluster utilisation"))
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
    ax.set_title(plot_title(result, "Pending and running pods"))
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
    top.set_title(plot_title(result, "Capacity and availability around failures"))
    top.legend(loc="best")
    top.grid(alpha=0.3)
    bottom.set_xlabel("virtual time (s)")
    bottom.set_ylabel("pods")
    bottom.legend(loc="best")
    bottom.grid(alpha=0.3)
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
    ax.set_title(plot_title(result, title))
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


def latency_cdf(result: RunResult, by: str | None = None) -> Figure:
    """Empirical CDFs of scheduling latency (created -> bound, left) and startup latency
    (created -> Running, right) of the post warm-up pods, one line per workload (or, with
    ``by="pool"`` / ``by="workload"``, per node pool / workload, labelled with the
    grouping); a symmetric-log axis when latencies reach past 100 s (as
    :func:`k8sim.experiments.plots.latency_cdfs`). A panel with nothing to draw says why."""
    win = _window(result)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    if by is None:
        groups, names, note, prefix = win["workload"], sorted(str(w) for w in win["workload"].unique()), "", ""
    else:
        groups, names, note = _groups(result, win, by)
        prefix = f"{by} "
    for ax, (column, what) in zip(axes, (("scheduling_latency", "scheduling latency (created -> bound)"),
                                         ("startup_latency", "startup latency (created -> running)")), strict=True):
        tops = [_ecdf(ax, win.loc[groups == name, column].to_numpy(dtype=float), f"{prefix}{name}", **line_style(i))
                for i, name in enumerate(names)]
        scale = log_like_axis(ax, max((t for t in tops if t == t), default=float("nan")))
        title = what.split(" (")[0].capitalize() + (f" by {by}{note}" if by is not None else "")
        _finish_cdf(ax, result, f"{what} (s{scale})", title, why_empty(result, column))
        ax.set_title(title)
        if column == "scheduling_latency" and tops and all(t == 0 for t in tops):
            # Every pod bound the instant it arrived: say why rather than draw a bare spike.
            ax.set_xlim(-0.5, 1.0)
            ax.text(0.5, 0.5, ZERO_SCHEDULING_NOTE, transform=ax.transAxes, ha="center", va="center",
                    fontsize="small", wrap=True, bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    fig.suptitle(plot_title(result, "Latency CDF per workload (post warm-up pods)" if by is None
                        else f"Latency CDF by {by} (post warm-up pods)"))
    return fig


#: What the scheduling-latency panel says when every pod was bound at once.
ZERO_SCHEDULING_NOTE = ("every pod was bound the instant it arrived (0 s): nothing queued, and\n"
                        "scheduling takes no virtual time unless scheduler.cycle_latency_s or\n"
                        "scheduler.costModel is set")


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
    _ecdf(ax, (win["scheduled"] - win["created"]).to_numpy(dtype=float), "scheduling (created -> bound)",
          **line_style(0))
    _ecdf(ax, pulling.to_numpy(dtype=float), "image pulls", **line_style(1))
    _ecdf(ax, (win["running"] - win["scheduled"] - pulling).to_numpy(dtype=float),
          "sandbox + containers (bound -> running, without pulls)", **line_style(2))
    _ecdf(ax, win["startup_latency"].to_numpy(dtype=float), "startup (created -> running)", **line_style(3))


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
        _finish_cdf(ax, result, "seconds", "Startup breakdown", why_empty(result, "startup_latency"))
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
    fig.suptitle(plot_title(result, f"Startup breakdown by {by}{note}"))
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
    top.set_title(plot_title(result, "Image disk use and image GC by pool"))
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
    for i, name in enumerate(names):
        sel = win[groups == name]
        _ecdf(ax, sel["startup_latency"].to_numpy(dtype=float), f"{by} {name}", **line_style(i))
    _finish_cdf(ax, result, "startup latency, created -> running (s)", f"Startup latency CDF by {by}{note}",
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

#: Drawn too when the cluster has more than one node pool.
POOL_PLOTS: dict[str, PlotFn] = {
    "startup_breakdown_by_pool.png": lambda r: startup_breakdown(r, by="pool"),
    "latency_cdf_by_pool.png": lambda r: latency_cdf(r, by="pool"),
}


def availability(result: RunResult, top: int = 8) -> Figure:
    """Available vs desired replicas over time, per controller object (the ``top``
    objects with the most unavailable replica-seconds; the rest summed as "others"),
    with rollout starts and lost pods marked."""
    table = result.frames.get("availability")
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    ax.set_title(plot_title(result, "Available vs desired replicas"))
    ax.set_xlabel("virtual time (s)")
    ax.set_ylabel("replicas")
    if table is None or table.empty:
        ax.text(0.5, 0.5, "no controller objects", ha="center", va="center", transform=ax.transAxes)
        return fig
    end = result.end_time
    groups = []
    for (kind, name), g in table.groupby(["kind", "object"], sort=False):
        t = g["time"].to_numpy(dtype=float)
        w = np.diff(np.append(t, end))
        short = float((np.maximum(0, g["desired"].to_numpy() - g["available"].to_numpy()) * w).sum())
        groups.append((short, f"{kind} {name}", g))
    groups.sort(key=lambda x: -x[0])
    for _, label, g in groups[:top]:
        t = np.append(g["time"].to_numpy(dtype=float), end)
        line = ax.step(t, np.append(g["available"].to_numpy(), g["available"].iloc[-1]), where="post", label=label)
        ax.step(t, np.append(g["desired"].to_numpy(), g["desired"].iloc[-1]), where="post", linestyle=":",
                color=line[0].get_color(), alpha=0.7)
    rollouts = result.frames.get("rollouts")
    if rollouts is not None and len(rollouts):
        later = rollouts[rollouts["started"] > 0]["started"]
        for i, t0 in enumerate(later):
            ax.axvline(float(t0), color="grey", linestyle="--", alpha=0.5, label="rollout start" if i == 0 else None)
    rec = result.frames.get("recreations")
    if rec is not None and len(rec):
        ax.plot(rec["lost_at"], np.zeros(len(rec)), "x", color="red", label="pod lost (replaced)")
    if result.warmup_s > 0:
        ax.axvspan(0, result.warmup_s, color="grey", alpha=0.15, label="warm-up")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small", title="solid: available, dotted: desired", title_fontsize="small")
    return fig


def node_groups(result: RunResult) -> Figure:
    """Nodes per autoscaled node group / NodePool over time (registered nodes, solid;
    requested but not yet registered, dotted), with each group's cost in the legend."""
    sizes = result.frames["node_groups"]
    cost = result.frames.get("node_cost")
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    end = result.end_time
    div, xlabel = time_axis(end)
    for i, ((scaler, group), rows) in enumerate(sizes.groupby(["autoscaler", "group"], sort=True)):
        t = np.append(rows["time_s"].to_numpy(), end) / div
        money = ""
        if cost is not None and len(cost):
            mine = cost[(cost["autoscaler"] == scaler) & (cost["group"] == group)]
            if len(mine):
                money = f", {mine['node_hours'].sum():.3g} node-h, cost {mine['cost'].sum():.3g}"
        line = ax.step(t, np.append(rows["nodes"].to_numpy(), rows["nodes"].iloc[-1]), where="post",
                       label=f"{group} ({scaler}{money})", **line_style(i))[0]
        if rows["upcoming"].any():
            ax.step(t, np.append(rows["upcoming"].to_numpy(), rows["upcoming"].iloc[-1]), where="post",
                    color=line.get_color(), linestyle=":", linewidth=1.0, label=f"{group}: provisioning")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("nodes")
    ax.set_title(plot_title(result, "Nodes per node group"))
    ax.legend(loc="best", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


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
        if "pool" in result.nodes and result.nodes["pool"].nunique() > 1:
            plots.update(POOL_PLOTS)
    if "image_disk" in result.frames:
        plots["image_disk.png"] = image_disk
    if "availability" in result.frames:
        plots["availability.png"] = availability
    gpu = result.gpu
    if gpu is not None and len(gpu):
        name = str(result.provenance.get("scenario") or "run")
        plots["gpu_allocation.png"] = lambda _: plot_gpu_allocation(
            {name: gpu}, title=f"{name}: GPU allocation and fragmentation vs arrived GPU workload")
    failures = result.frames.get("failures")
    if failures is not None and len(failures):
        plots["failures.png"] = failures_timeline
    if "hpa" in result.frames:  # pod autoscaling (k8sim.autoscaling.results)
        from k8sim.metrics import autoscaling_plots as ap

        if len(result.frames["hpa"]):
            plots["hpa_replicas.png"] = ap.hpa_replicas
        if len(result.frames["service_load"]):
            plots["service_latency.png"] = ap.service_latency
        if len(result.frames["node_usage"]):
            plots["node_usage.png"] = ap.node_usage
    groups = result.frames.get("node_groups")
    if groups is not None and len(groups):
        plots["node_groups.png"] = node_groups
    queues = result.frames.get("queue_usage")
    if queues is not None and len(queues):  # Kueue-style queues (k8sim.batch.kueue)
        from k8sim.metrics import queue_plots as qp

        plots["queue_backlog.png"] = qp.queue_backlog
        plots["queue_usage.png"] = qp.queue_usage
        plots["queue_share.png"] = qp.queue_share
    for fname, fn in plots.items():
        fig = fn(result)
        path = d / fname
        fig.savefig(path, dpi=110)
        plt.close(fig)
        out.append(path)
    return out
