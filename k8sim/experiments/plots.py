"""Plots of comparisons and sweeps. Each function returns a matplotlib ``Figure``;
:func:`save_comparison_plots` and :func:`save_sweep_plots` write PNG files.

- :func:`metric_bars`: one panel per metric, a bar per profile at the mean, error bars
  at the confidence interval.
- :func:`latency_cdfs`: empirical CDFs of scheduling and startup latency, one line per
  profile (pods of every replication pooled, post warm-up).
- :func:`utilization_timelines`: requested / allocatable over time per resource, one
  line per profile (mean over replications of each time bin).
- :func:`paired_difference_plot`: per metric, each profile's mean paired difference to
  the baseline with its interval.
- :func:`gpu_allocation_curves`: the ATC '23 curves, median and interquartile band.
- :func:`sweep_lines`: a metric's mean and interval against a swept parameter, one line
  per profile; :func:`sweep_points` a list sweep point by point.

Shares and utilisations are drawn in %, durations in s, h or d, and curves that may
coincide get different dash patterns and widths so that none hides another.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from k8sim.experiments.stats import mean_ci  # noqa: E402
from k8sim.metrics.format import duration_unit, is_share  # noqa: E402
from k8sim.metrics.plots import line_style, log_like_axis, time_axis  # noqa: E402
from k8sim.metrics.result import RunResult  # noqa: E402

if TYPE_CHECKING:
    from k8sim.experiments.comparison import ComparisonResult

#: Metrics drawn by default (those present in the data).
DEFAULT_METRICS = (
    "scheduling_latency_p95_s",
    "startup_latency_p95_s",
    "mean_cpu_utilization",
    "mean_memory_utilization",
    "mean_pending_pods",
    "makespan_s",
    "nodes_in_use_mean",
    "pods_failed",
    "work_lost_share",
    "gpu_allocated_share_at_arrived_100",
    "gpu_unallocated_share_at_arrived_100",
    "gpu_allocated_share_end",
    "gpu_fragmentation_share_end",
)

ResultsByProfile = Mapping[str, Sequence[RunResult]]


def metric_unit(metric: str) -> str:
    """Axis label for a summary metric, from its name (shares and utilisations in %)."""
    if metric.endswith("_s"):
        return "seconds"
    if metric.startswith("gpu_") and "_share" in metric:
        return "% of idle GPU" if "idle" in metric else "% of GPU capacity"
    if metric == "mean_gpu_utilization":
        return "allocated / GPU capacity (%)"
    if "utilization" in metric:
        return "requested / allocatable (%)"
    if metric == "work_lost_share":
        return "% of CPU x run time"
    if "_share" in metric:
        return "%"
    if metric.startswith("node_hours"):
        return "node-hours"
    if metric.startswith("nodes_"):
        return "nodes"
    if "pods" in metric:
        return "pods"
    return metric


def metric_axis(metric: str, values: Sequence[float] | np.ndarray = (), *, diff: bool = False) -> tuple[float, str]:
    """``(factor, label)``: multiply a metric's values by ``factor`` to plot them under
    ``label``. Shares and utilisations in % (a difference in percentage points with
    ``diff``), durations in s, h or d by the largest of ``values``."""
    if is_share(metric):
        return 100.0, "percentage points" if diff else metric_unit(metric)
    if metric.endswith("_s"):
        finite = [abs(float(v)) for v in values if v == v and math.isfinite(float(v))]
        div, unit = duration_unit(max(finite, default=0.0))
        return 1.0 / div, {"s": "seconds", "h": "hours", "d": "days"}[unit]
    return 1.0, metric_unit(metric)


def metric_label(metric: str) -> str:
    return metric.removesuffix("_s").replace("_", " ")


def _colors(labels: Sequence[str]) -> dict[str, tuple]:
    cmap = plt.get_cmap("tab10")
    return {lab: cmap(i % 10) for i, lab in enumerate(labels)}


_LineStyle = Literal["-", "--", ":", "-."]
_STYLES: tuple[_LineStyle, ...] = ("-", "--", ":", "-.")


def _styles(labels: Sequence[str]) -> dict[str, _LineStyle]:
    """Line styles per profile, so that profiles with identical curves stay visible."""
    return {lab: _STYLES[i % len(_STYLES)] for i, lab in enumerate(labels)}


#: Bars start at 0 unless the means and their intervals span less than this share of
#: the largest mean: then the differences would be invisible and points with error bars
#: on a zoomed axis are drawn instead.
ZOOM_BELOW = 0.25


def zoom_needed(means: np.ndarray, ci: np.ndarray) -> bool:
    """Whether bars from 0 would hide the differences between ``means`` (same sign,
    spread of ``mean ± ci`` below :data:`ZOOM_BELOW` of the largest ``|mean|``)."""
    m = means[np.isfinite(means)]
    if m.size < 2 or not ((m > 0).all() or (m < 0).all()):
        return False
    c = np.nan_to_num(ci[np.isfinite(means)], nan=0.0)
    spread = float((m + c).max() - (m - c).min())
    return spread < ZOOM_BELOW * float(np.abs(m).max())


def metric_bars(
    summary: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    by: str = "profile",
    title: str | None = None,
    confidence: float = 0.95,
) -> Figure:
    """Each metric's mean per profile with the interval as error bars.

    ``summary`` is :attr:`ComparisonResult.summary` (columns ``by``, metric, mean, ci, n).
    Bars start at 0, except where that would hide the differences (:func:`zoom_needed`):
    there a point per profile with its error bar on an axis fitted to the data, the
    panel title saying "axis not from 0". Shares and utilisations are in %, long
    durations in hours or days (:func:`metric_axis`).
    """
    available = list(pd.unique(summary["metric"]))
    if metrics is None:
        metrics = [m for m in DEFAULT_METRICS if m in available] or available[:6]
    missing = [m for m in metrics if m not in available]
    if missing:
        raise ValueError(f"metrics not in the summary: {missing}")
    labels = [str(x) for x in pd.unique(summary[by])]
    colors = _colors(labels)
    cols = min(3, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / cols) if metrics else 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), layout="constrained", squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        part = summary[summary["metric"] == metric].set_index(by).reindex(labels)
        factor, unit = metric_axis(metric, part["mean"].to_numpy(dtype=float))
        means = factor * part["mean"].to_numpy(dtype=float)
        ci = np.nan_to_num(factor * part["ci"].to_numpy(dtype=float), nan=0.0)
        x = np.arange(len(labels))
        n = part["n"].max() if "n" in part else None
        zoom = zoom_needed(means, ci)
        if zoom:
            for i, lab in enumerate(labels):
                ax.errorbar([x[i]], [means[i]], yerr=[ci[i]], fmt="o", capsize=4, color=colors[lab], label=lab)
            lo = float(np.nanmin(means - ci))
            hi = float(np.nanmax(means + ci))
            pad = 0.15 * (hi - lo) if hi > lo else 0.05 * abs(hi) or 1.0
            ax.set_ylim(lo - pad, hi + pad)
            ax.set_xlim(-0.6, len(labels) - 0.4)
        else:
            ax.bar(x, np.nan_to_num(means), yerr=ci, capsize=4, color=[colors[lab] for lab in labels], label=labels)
        ax.set_xticks(x, labels, rotation=20, ha="right")
        ax.set_title(f"{metric_label(metric)}" + (f" (n={int(n)})" if n is not None and n == n else "")
                     + ("\naxis not from 0" if zoom else ""))
        ax.set_ylabel(unit)
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[lab]) for lab in labels]
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5), title=by)
    fig.suptitle(title or f"Mean per {by} with {confidence:.0%} confidence intervals (Student t)")
    return fig


def paired_difference_plot(
    paired: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    by: str = "profile",
    title: str | None = None,
    confidence: float = 0.95,
) -> Figure:
    """Per metric, each profile's mean paired difference to the baseline with its
    interval (``paired``: :attr:`ComparisonResult.paired`, columns ``by``, baseline,
    metric, mean_diff, ci_low, ci_high). A vertical line marks 0; an interval that
    excludes 0 is drawn with a filled marker, one that includes it hollow. Shares in
    percentage points, durations in s, h or d."""
    available = list(pd.unique(paired["metric"])) if len(paired) else []
    if metrics is None:  # the default metrics, then those whose difference excludes 0
        metrics = [m for m in DEFAULT_METRICS if m in available]
        if "significant" in paired:
            metrics += [m for m in pd.unique(paired.loc[paired["significant"].astype(bool), "metric"])
                        if m not in metrics]
        metrics = metrics[:12] or available[:6]
    metrics = [m for m in metrics if m in available]
    labels = [str(x) for x in pd.unique(paired[by])] if len(paired) else []
    colors = _colors(labels)
    cols = min(3, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / cols) if metrics else 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 0.9 + 0.55 * max(1, len(labels)) * rows + 1.2 * rows),
                             layout="constrained", squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=False):
        part = paired[paired["metric"] == metric].set_index(by).reindex(labels)
        d = part["mean_diff"].to_numpy(dtype=float)
        lo, hi = part["ci_low"].to_numpy(dtype=float), part["ci_high"].to_numpy(dtype=float)
        factor, unit = metric_axis(metric, np.concatenate([d, lo, hi]), diff=True)
        y = np.arange(len(labels))[::-1]
        for i, lab in enumerate(labels):
            if not math.isfinite(d[i]):
                continue
            left = d[i] - lo[i] if math.isfinite(lo[i]) else 0.0
            right = hi[i] - d[i] if math.isfinite(hi[i]) else 0.0
            excludes = math.isfinite(lo[i]) and math.isfinite(hi[i]) and (lo[i] > 0 or hi[i] < 0)
            ax.errorbar([factor * d[i]], [y[i]], xerr=[[factor * left], [factor * right]], fmt="o", capsize=4,
                        color=colors[lab], markerfacecolor=colors[lab] if excludes else "white")
        ax.axvline(0.0, color="grey", linewidth=1)
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.set_xlabel(f"difference ({unit})")
        ax.set_title(metric_label(metric), fontsize="medium")
        ax.grid(axis="x", alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    if not metrics:
        axes[0, 0].text(0.5, 0.5, "only one profile: no paired difference", ha="center", va="center",
                        transform=axes[0, 0].transAxes)
    base = ", ".join(str(b) for b in pd.unique(paired["baseline"].dropna())) if "baseline" in paired else ""
    fig.suptitle(title or f"Mean paired difference to the baseline{f' ({base})' if base else ''} with "
                          f"{confidence:.0%} intervals (filled: the interval excludes 0)")
    return fig


def _pooled(results: Sequence[RunResult], column: str) -> np.ndarray:
    parts = []
    for r in results:
        pods = r.pods
        win = pods[(pods["created"] >= r.warmup_s) & (pods["workload"] != "")]
        parts.append(win[column].to_numpy(dtype=float))
    v = np.concatenate(parts) if parts else np.array([])
    return np.sort(v[np.isfinite(v)])


def _results(source: ComparisonResult | ResultsByProfile) -> dict[str, list[RunResult]]:
    if isinstance(source, Mapping):
        return {k: list(v) for k, v in source.items()}
    if not source.results:
        raise ValueError("the comparison kept no RunResults: run compare(..., keep_results=True)")
    return {p: source.results_for(p) for p in source.profiles}


def latency_cdfs(source: ComparisonResult | ResultsByProfile, title: str | None = None) -> Figure:
    """Empirical CDFs of scheduling latency (created -> bound) and startup latency
    (created -> running), one line per profile, pods of all replications pooled."""
    by_profile = _results(source)
    colors, styles = _colors(list(by_profile)), _styles(list(by_profile))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for ax, (column, what) in zip(
        axes, (("scheduling_latency", "scheduling latency (created -> bound)"),
               ("startup_latency", "startup latency (created -> running)")), strict=True
    ):
        drawn = False
        top = 0.0
        for i, (label, results) in enumerate(by_profile.items()):
            v = _pooled(results, column)
            if v.size == 0:
                continue
            y = np.arange(1, v.size + 1) / v.size
            style = {**line_style(i), "linestyle": styles[label]}
            ax.step(v, y, where="post", color=colors[label], label=f"{label} (n={v.size:,})", **style)
            top = max(top, float(v[-1]))
            drawn = True
        scale = log_like_axis(ax, top)  # a long tail: keep the bulk near 0 readable
        ax.set_xlabel(f"{what} (s{scale})")
        ax.set_ylabel("fraction of pods")
        ax.set_ylim(0, 1.02)
        ax.set_title(what.split(" (")[0].capitalize())
        ax.grid(alpha=0.3)
        if drawn:
            ax.legend(loc="lower right")
        else:
            ax.text(0.5, 0.5, "no pod was scheduled", transform=ax.transAxes, ha="center")
    reps = max((len(v) for v in by_profile.values()), default=0)
    fig.suptitle(title or f"Latency CDF per profile (post warm-up pods of {reps} replication(s) pooled)")
    return fig


def utilization_timelines(
    source: ComparisonResult | ResultsByProfile,
    resources: Sequence[str] = ("cpu", "memory", "gpu"),
    title: str | None = None,
) -> Figure:
    """Requested / allocatable over time in %, a panel per resource (``gpu``: allocated
    over GPU capacity, when the cluster has GPUs), a line per profile (the mean over
    replications of each time bin). The time axis is in s, h or d by the run length."""
    by_profile = _results(source)
    labels = list(by_profile)
    colors, styles = _colors(labels), _styles(labels)
    first = next((rs[0] for rs in by_profile.values() if rs), None)
    if first is not None:
        resources = [r for r in resources if f"{r}_utilization" in first.timeseries]
    fig, axes = plt.subplots(len(resources) or 1, 1, figsize=(9, 3 * max(1, len(resources))),
                             layout="constrained", squeeze=False, sharex=True)
    warmup = max((rs[0].warmup_s for rs in by_profile.values() if rs), default=0.0)
    end = max((r.end_time for rs in by_profile.values() for r in rs), default=0.0)
    div, xlabel = time_axis(end)
    for ax, res in zip(axes[:, 0], resources, strict=False):
        for i, (label, results) in enumerate(by_profile.items()):
            if not results:
                continue
            frames = [r.timeseries[["time", "interval", f"{res}_utilization"]] for r in results]
            ts = pd.concat(frames).groupby("time", sort=True).mean()
            t = (ts.index.to_numpy() + ts["interval"].to_numpy() / 2) / div
            style = {**line_style(i), "linestyle": styles[label]}
            ax.plot(t, 100 * ts[f"{res}_utilization"].to_numpy(), color=colors[label],
                    label=f"{label} (mean of {len(results)})", **style)
        if warmup > 0:
            ax.axvspan(0, warmup / div, color="grey", alpha=0.15, label="warm-up")
        ax.set_ylabel("GPU allocated / capacity (%)" if res == "gpu" else f"{res} requested / allocatable (%)")
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(title or "Cluster utilisation per profile")
    return fig


#: Columns of a GPU timeline averaged over replications by :func:`mean_gpu_curve`.
GPU_CURVE_COLUMNS = ("allocated_share", "fragmentation_share", "fragmentation_idle_share")


def _gpu_grid(frames: Sequence[pd.DataFrame], columns: Sequence[str], step: float
              ) -> tuple[np.ndarray, np.ndarray]:
    """``(grid, values[replication, grid point, column])`` of GPU timelines read on the
    arrived-share grid ``0, step, ...`` (NaN where a replication had not got there);
    ``unallocated_share`` is ``arrived_share - allocated_share`` at the event read."""
    usable = [f for f in frames if f is not None and len(f)]
    top = max((float(f["arrived_share"].max()) for f in usable), default=0.0)
    grid = np.arange(0.0, top + step / 2, step)
    out = np.full((len(usable), grid.size, len(columns)), np.nan)
    for k, f in enumerate(usable):
        x = f["arrived_share"].to_numpy(dtype=float)
        idx = np.searchsorted(x, grid, side="right") - 1
        reached = (idx >= 0) & (grid <= x[-1] + 1e-12)
        at = np.clip(idx, 0, None)
        for j, col in enumerate(columns):
            if col == "unallocated_share":
                v = x[at] - f["allocated_share"].to_numpy(dtype=float)[at]
            else:
                v = f[col].to_numpy(dtype=float)[at]
            out[k, :, j] = np.where(reached & np.isfinite(v), v, np.nan)
    return grid, out


def mean_gpu_curve(frames: Sequence[pd.DataFrame], step: float = 0.005) -> pd.DataFrame:
    """The mean over replications of GPU timelines (``RunResult.gpu``) as functions of
    the arrived GPU share: on the grid ``0, step, 2 step, ...`` up to the largest
    arrived share any replication reached, each replication contributes its value after
    the last event at which its arrived share was ``<=`` the grid point (its state once
    that much work had arrived); grid points past a replication's last arrival use its
    final value only when it reached them, so the mean covers the replications that did.
    Returns columns ``arrived_share``, :data:`GPU_CURVE_COLUMNS` and ``replications``."""
    usable = [f for f in frames if f is not None and len(f)]
    if not usable:
        return pd.DataFrame(columns=["arrived_share", *GPU_CURVE_COLUMNS, "replications"])
    grid, values = _gpu_grid(usable, GPU_CURVE_COLUMNS, step)
    counts = np.isfinite(values).sum(axis=0)
    sums = np.nansum(values, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
    out = pd.DataFrame(means, columns=list(GPU_CURVE_COLUMNS))
    out.insert(0, "arrived_share", grid)
    out["replications"] = counts[:, 0].astype(int)
    return out


#: Columns of :func:`gpu_curve_quantiles` (each with ``_p25``, ``_p50``, ``_p75``).
GPU_QUANTILE_COLUMNS = ("allocated_share", "unallocated_share", "fragmentation_idle_share")


def gpu_curve_quantiles(frames: Sequence[pd.DataFrame], step: float = 0.005) -> pd.DataFrame:
    """Median and quartiles over replications of GPU timelines on the arrived-share grid
    of :func:`mean_gpu_curve` (same reading of each replication): columns
    ``arrived_share``, ``<col>_p25`` / ``_p50`` / ``_p75`` for the allocated share, the
    unallocated share (arrived - allocated, of capacity) and the fragmentation of idle
    GPU, and ``replications`` (how many got to the grid point). Quartiles are numpy's
    linear interpolation between replications."""
    usable = [f for f in frames if f is not None and len(f)]
    cols = ["arrived_share", *(f"{c}_{q}" for c in GPU_QUANTILE_COLUMNS for q in ("p25", "p50", "p75")),
            "replications"]
    if not usable:
        return pd.DataFrame(columns=cols)
    grid, values = _gpu_grid(usable, GPU_QUANTILE_COLUMNS, step)
    out = pd.DataFrame({"arrived_share": grid})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN grid points
        for j, c in enumerate(GPU_QUANTILE_COLUMNS):
            q = np.nanpercentile(values[:, :, j], [25, 50, 75], axis=0)
            out[f"{c}_p25"], out[f"{c}_p50"], out[f"{c}_p75"] = q[0], q[1], q[2]
    out["replications"] = np.isfinite(values[:, :, 0]).sum(axis=0).astype(int)
    return out[cols]


def unallocated_zoom(curves: Mapping[str, pd.DataFrame], threshold: float = 0.005) -> tuple[float, float, float]:
    """``(x_low, x_high, y_high)`` in shares for the unallocated-GPU view: from a little
    (0.1) before the first arrived share at which any profile's median unallocated GPU
    exceeds ``threshold`` of capacity, to the end; y up to the largest upper quartile
    there (everything, when nothing is ever unallocated)."""
    starts, top, y_top = [], 0.0, 0.0
    for c in curves.values():
        if not len(c):
            continue
        x = c["arrived_share"].to_numpy(dtype=float)
        top = max(top, float(x[-1]))
        above = np.flatnonzero(c["unallocated_share_p50"].to_numpy(dtype=float) > threshold)
        if above.size:
            starts.append(float(x[above[0]]))
    lo = max(0.0, min(starts) - 0.1) if starts else 0.0
    for c in curves.values():
        if len(c):
            sel = c["arrived_share"].to_numpy(dtype=float) >= lo
            v = c["unallocated_share_p75"].to_numpy(dtype=float)[sel]
            if np.isfinite(v).any():
                y_top = max(y_top, float(np.nanmax(v)))
    return lo, top, y_top


def gpu_allocation_curves(source: ComparisonResult | ResultsByProfile, title: str | None = None,
                          step: float = 0.005) -> Figure:
    """The ATC '23 view per profile, over replications: the median (line) and
    interquartile band of the allocated GPU share against the arrived GPU request (left,
    with ``y = x``), the unallocated GPU (arrived - allocated) zoomed to where the
    profiles part (middle, :func:`unallocated_zoom`) and the fragmentation of idle GPU
    (right); a dotted line marks 100% arrived (the summary's headline point)."""
    by_profile = _results(source)
    curves = {}
    for label, results in by_profile.items():
        frames = [r.gpu for r in results if r.gpu is not None]
        if frames:
            curves[f"{label} (n={len(frames)})"] = gpu_curve_quantiles(frames, step)
    colors = _colors(list(curves))
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(16, 4.8), layout="constrained")
    top = 0.0
    for i, (label, c) in enumerate(curves.items()):
        x = 100 * c["arrived_share"].to_numpy(dtype=float)
        if x.size:
            top = max(top, float(x[-1]))
        style = line_style(i)
        for ax, col in ((left, "allocated_share"), (mid, "unallocated_share"), (right, "fragmentation_idle_share")):
            ax.plot(x, 100 * c[f"{col}_p50"].to_numpy(dtype=float), color=colors[label], label=label, **style)
            ax.fill_between(x, 100 * c[f"{col}_p25"].to_numpy(dtype=float), 100 * c[f"{col}_p75"].to_numpy(dtype=float),
                            color=colors[label], alpha=0.18, linewidth=0)
    top = top or 100.0
    left.plot([0, top], [0, top], color="grey", linestyle=":", linewidth=1, label="y = x (all arrived placed)")
    lo, hi, y_top = unallocated_zoom(curves)
    mid.set_xlim(100 * lo, 100 * max(hi, lo + step) * 1.01)
    mid.set_ylim(0, 100 * y_top * 1.1 if y_top > 0 else 1.0)
    for ax, ylabel, what in (
        (left, "allocated GPU (% of capacity)", "Allocated vs arrived GPU"),
        (mid, "unallocated GPU: arrived - allocated (% of capacity)", "Unallocated GPU (zoomed)"),
        (right, "fragmented share of idle GPU (%)", "Fragmentation of idle GPU"),
    ):
        ax.axvline(100, color="grey", linestyle=":", linewidth=1)
        ax.set_xlabel("arrived GPU request (% of GPU capacity)")
        ax.set_ylabel(ylabel)
        ax.set_title(what)
        ax.grid(alpha=0.3)
    left.set_xlim(0, top * 1.02)
    right.set_xlim(0, top * 1.02)
    if curves:
        left.legend(loc="best", fontsize="small")
    else:
        left.text(0.5, 0.5, "no GPU timeline in these runs", ha="center", va="center", transform=left.transAxes)
    fig.suptitle(title or "GPU allocation vs arrived GPU workload per profile: median and interquartile band over "
                          "replications")
    return fig


def sweep_lines(
    table: pd.DataFrame,
    x: str,
    metrics: Sequence[str] | None = None,
    by: str = "profile",
    confidence: float = 0.95,
    title: str | None = None,
    connect: bool = True,
) -> Figure:
    """A panel per metric: mean over replications (and over the other swept parameters)
    against ``x``, one line per ``by`` value, error bars at the t interval. With
    ``connect=False`` (unrelated points along x) the means are points, not joined, and
    each ``by`` value is shifted a little along x so that equal values stay visible."""
    ok = table[table["status"] == "ok"] if "status" in table else table
    if metrics is None:
        metrics = [m for m in DEFAULT_METRICS if m in ok.columns] or []
    cols = min(3, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / cols) if metrics else 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), layout="constrained", squeeze=False)
    labels = [str(v) for v in pd.unique(ok[by])] if len(ok) else []
    colors, styles = _colors(labels), _styles(labels)
    numeric = pd.api.types.is_numeric_dtype(ok[x]) if len(ok) else False
    if len(ok) and isinstance(ok[x].dtype, pd.CategoricalDtype):  # an order of its own (list sweeps)
        present = set(ok[x].dropna())
        xs_all = [c for c in ok[x].cat.categories if c in present]
    else:
        xs_all = sorted(pd.unique(ok[x]), key=lambda v: (v if numeric else str(v))) if len(ok) else []
    for ax, metric in zip(axes.flat, metrics, strict=False):
        factor, unit = metric_axis(metric, ok[metric].to_numpy(dtype=float) if metric in ok else ())
        for j, label in enumerate(labels):
            part = ok[ok[by].astype(str) == label]
            means, errs, xs = [], [], []
            for i, xv in enumerate(xs_all):
                vals = part.loc[part[x] == xv, metric].to_numpy(dtype=float)
                if not vals.size:
                    continue
                mean, _, _, half = mean_ci(vals, confidence)
                shift = 0.0 if connect or numeric else 0.08 * (j - (len(labels) - 1) / 2)
                xs.append(xv if numeric else i + shift)
                means.append(factor * mean)
                errs.append(0.0 if not math.isfinite(half) else factor * half)
            style = {**line_style(j), "linestyle": styles[label] if connect else "none"}
            ax.errorbar(xs, means, yerr=errs, marker="o", capsize=3, color=colors[label], label=label, **style)
        if not numeric:
            ax.set_xticks(range(len(xs_all)), [str(v) for v in xs_all], rotation=20, ha="right")
        ax.set_xlabel(x)
        ax.set_ylabel(unit)
        ax.set_title(metric_label(metric))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    if labels:
        handles = [plt.Line2D([], [], color=colors[lab], linestyle=styles[lab], marker="o") for lab in labels]
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5), title=by)
    fig.suptitle(title or f"Sweep over {x}: mean with {confidence:.0%} intervals")
    return fig


def point_labels(table: pd.DataFrame, paths: Sequence[str], sep: str = ", ") -> pd.Series:
    """One label per row naming its point of a list sweep (``a=1, b=2``; ``(no
    overrides)`` for a point that sets none)."""
    def one(row: pd.Series) -> str:
        parts = [f"{p}={row[p]}" for p in paths if p in row and not _is_missing(row[p])]
        return sep.join(parts) or "(no overrides)"

    return table.apply(one, axis=1) if len(table) else pd.Series([], dtype=str)


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def sweep_points(
    table: pd.DataFrame,
    paths: Sequence[str],
    metrics: Sequence[str] | None = None,
    by: str = "profile",
    confidence: float = 0.95,
    title: str | None = None,
) -> Figure:
    """A list sweep point by point: a panel per metric, the points in list order along
    x (labelled with their overrides), one line per ``by`` value through the means over
    replications, error bars at the t interval. Averaging over the other parameters,
    as :func:`sweep_lines` does for a grid, would mix points that set several paths at
    once."""
    ok = table[table["status"] == "ok"] if "status" in table else table
    ok = ok.assign(_point=point_labels(ok, paths, sep="\n"))
    order = list(dict.fromkeys(point_labels(table, paths, sep="\n")))  # list order, every point
    title = title or f"Sweep point by point: mean with {confidence:.0%} intervals"
    fig = sweep_lines(ok.assign(_point=pd.Categorical(ok["_point"], categories=order)), "_point", metrics, by,
                      confidence, title, connect=False)
    lines = max((label.count("\n") + 1 for label in order), default=1)
    width = max((len(part) for label in order for part in label.split("\n")), default=10)
    fig.set_size_inches(max(fig.get_figwidth(), 0.09 * width * len(order) * min(3, len(fig.axes))),
                        fig.get_figheight() + 0.25 * lines * math.ceil(len(fig.axes) / 3))
    for ax in fig.axes:
        if ax.get_xlabel() == "_point":
            ax.set_xlabel("point (overrides)")
            ax.tick_params(axis="x", labelrotation=0, labelsize="small")
            for t in ax.get_xticklabels():
                t.set_horizontalalignment("center")
    return fig


# ----------------------------------------------------------------------------- files


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_comparison_plots(comparison: ComparisonResult, directory: str | Path) -> list[Path]:
    """``metrics.png``, ``differences.png`` (with two profiles or more) and, when
    RunResults were kept, ``latency_cdf.png``, ``utilization.png`` and, with GPUs,
    ``gpu_allocation.png``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    title = f"{comparison.scenario}: mean per profile, {comparison.confidence:.0%} CI ({comparison.replications} reps)"
    out = [_save(metric_bars(comparison.summary, confidence=comparison.confidence, title=title), d / "metrics.png")]
    if len(comparison.paired):
        out.append(_save(paired_difference_plot(
            comparison.paired, confidence=comparison.confidence,
            title=f"{comparison.scenario}: mean paired difference to {comparison.baseline}, "
                  f"{comparison.confidence:.0%} interval (filled: excludes 0)"), d / "differences.png"))
    if comparison.results:
        out.append(_save(latency_cdfs(comparison, title=f"{comparison.scenario}: latency CDF per profile"),
                         d / "latency_cdf.png"))
        out.append(_save(utilization_timelines(comparison, title=f"{comparison.scenario}: utilisation per profile"),
                         d / "utilization.png"))
        if any(r.gpu is not None for r in comparison.results.values()):
            out.append(_save(gpu_allocation_curves(
                comparison, title=f"{comparison.scenario}: GPU allocation vs arrived workload per profile, median "
                                  "and interquartile band over replications"),
                d / "gpu_allocation.png"))
    return out


def save_sweep_plots(table: pd.DataFrame, paths: Sequence[str], directory: str | Path,
                     mode: Literal["grid", "list"] = "grid") -> list[Path]:
    """A grid sweep: one ``sweep-<i>.png`` per swept parameter (metrics against it, per
    profile, averaged over the other parameters). A list sweep: ``sweep-points.png``,
    the points one by one (:func:`sweep_points`)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    if mode == "list":
        return [_save(sweep_points(table, paths), d / "sweep-points.png")] if len(table) else []
    out = []
    for i, p in enumerate(paths):
        if p in table and table[p].notna().any():
            out.append(_save(sweep_lines(table, p), d / f"sweep-{i}.png"))
    return out


def run_from_directory(directory: str | Path) -> RunResult:
    """Read a run directory (any writer's: ``k8sim run``, a comparison, a sweep) back
    into a :class:`RunResult` for plotting; see :func:`k8sim.metrics.rundir.load_run`."""
    from k8sim.metrics.rundir import load_run

    return load_run(directory)
