"""Plots of comparisons and sweeps. Each function returns a matplotlib ``Figure``;
:func:`save_comparison_plots` and :func:`save_sweep_plots` write PNG files.

- :func:`metric_bars`: one panel per metric, a bar per profile at the mean, error bars
  at the confidence interval.
- :func:`latency_cdfs`: empirical CDFs of scheduling and startup latency, one line per
  profile (pods of every replication pooled, post warm-up).
- :func:`utilization_timelines`: requested / allocatable over time per resource, one
  line per profile (mean over replications of each time bin).
- :func:`sweep_lines`: a metric's mean and interval against a swept parameter, one line
  per profile.
"""

from __future__ import annotations

import math
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
    "gpu_allocated_share_end",
    "gpu_fragmentation_share_end",
)

ResultsByProfile = Mapping[str, Sequence[RunResult]]


def metric_unit(metric: str) -> str:
    """Axis label for a summary metric, from its name."""
    if metric.endswith("_s"):
        return "seconds"
    if metric.startswith("gpu_") and "_share" in metric:
        return "idle GPU share" if "idle" in metric else "share of GPU capacity"
    if metric == "mean_gpu_utilization":
        return "allocated / GPU capacity"
    if "utilization" in metric:
        return "requested / allocatable"
    if "pods" in metric:
        return "pods"
    return metric


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


def metric_bars(
    summary: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    by: str = "profile",
    title: str | None = None,
    confidence: float = 0.95,
) -> Figure:
    """Bars of each metric's mean per profile with the interval as error bars.

    ``summary`` is :attr:`ComparisonResult.summary` (columns ``by``, metric, mean, ci, n).
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
        means = part["mean"].to_numpy(dtype=float)
        ci = np.nan_to_num(part["ci"].to_numpy(dtype=float), nan=0.0)
        x = np.arange(len(labels))
        ax.bar(x, np.nan_to_num(means), yerr=ci, capsize=4, color=[colors[lab] for lab in labels],
               label=labels)
        ax.set_xticks(x, labels, rotation=20, ha="right")
        n = part["n"].max() if "n" in part else None
        ax.set_title(f"{metric_label(metric)}" + (f" (n={int(n)})" if n is not None and n == n else ""))
        ax.set_ylabel(metric_unit(metric))
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[lab]) for lab in labels]
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5), title=by)
    fig.suptitle(title or f"Mean per {by} with {confidence:.0%} confidence intervals (Student t)")
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
        for label, results in by_profile.items():
            v = _pooled(results, column)
            if v.size == 0:
                continue
            y = np.arange(1, v.size + 1) / v.size
            ax.step(v, y, where="post", color=colors[label], linestyle=styles[label],
                    label=f"{label} (n={v.size:,})")
            top = max(top, float(v[-1]))
            drawn = True
        scale = ""
        if top > 100:  # a long tail: keep the bulk near 0 readable
            ax.set_xscale("symlog", linthresh=1.0)
            scale = ", symlog scale"
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
    resources: Sequence[str] = ("cpu", "memory"),
    title: str | None = None,
) -> Figure:
    """Requested / allocatable over time, a panel per resource, a line per profile (the
    mean over replications of each time bin)."""
    by_profile = _results(source)
    colors, styles = _colors(list(by_profile)), _styles(list(by_profile))
    first = next((rs[0] for rs in by_profile.values() if rs), None)
    if first is not None:
        resources = [r for r in resources if f"{r}_utilization" in first.timeseries]
    fig, axes = plt.subplots(len(resources) or 1, 1, figsize=(9, 3 * max(1, len(resources))),
                             layout="constrained", squeeze=False, sharex=True)
    warmup = max((rs[0].warmup_s for rs in by_profile.values() if rs), default=0.0)
    for ax, res in zip(axes[:, 0], resources, strict=False):
        for label, results in by_profile.items():
            if not results:
                continue
            frames = [r.timeseries[["time", "interval", f"{res}_utilization"]] for r in results]
            ts = pd.concat(frames).groupby("time", sort=True).mean()
            t = ts.index.to_numpy() + ts["interval"].to_numpy() / 2
            ax.plot(t, 100 * ts[f"{res}_utilization"].to_numpy(), color=colors[label], linestyle=styles[label],
                    label=f"{label} (mean of {len(results)})")
        if warmup > 0:
            ax.axvspan(0, warmup, color="grey", alpha=0.15, label="warm-up")
        ax.set_ylabel(f"{res} requested / allocatable (%)")
        ax.set_ylim(0, 105)
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    axes[-1, 0].set_xlabel("virtual time (s)")
    fig.suptitle(title or "Cluster utilisation per profile")
    return fig


#: Columns of a GPU timeline averaged over replications by :func:`mean_gpu_curve`.
GPU_CURVE_COLUMNS = ("allocated_share", "fragmentation_share", "fragmentation_idle_share")


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
    top = max(float(f["arrived_share"].max()) for f in usable)
    grid = np.arange(0.0, top + step / 2, step)
    sums = np.zeros((grid.size, len(GPU_CURVE_COLUMNS)))
    counts = np.zeros((grid.size, len(GPU_CURVE_COLUMNS)))
    for f in usable:
        x = f["arrived_share"].to_numpy(dtype=float)
        idx = np.searchsorted(x, grid, side="right") - 1
        reached = (idx >= 0) & (grid <= x[-1] + 1e-12)
        for j, col in enumerate(GPU_CURVE_COLUMNS):
            v = f[col].to_numpy(dtype=float)[np.clip(idx, 0, None)]
            ok = reached & np.isfinite(v)
            sums[ok, j] += v[ok]
            counts[ok, j] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.where(counts > 0, counts, 1), np.nan)
    out = pd.DataFrame(means, columns=list(GPU_CURVE_COLUMNS))
    out.insert(0, "arrived_share", grid)
    out["replications"] = counts[:, 0].astype(int)
    return out


def gpu_allocation_curves(source: ComparisonResult | ResultsByProfile, title: str | None = None) -> Figure:
    """Allocated GPU share and fragmentation of idle GPU against the arrived GPU
    workload, a line per profile, the mean over replications (:func:`mean_gpu_curve`)."""
    from k8sim.metrics.plots import plot_gpu_allocation

    by_profile = _results(source)
    curves = {}
    for label, results in by_profile.items():
        frames = [r.gpu for r in results if r.gpu is not None]
        if frames:
            curves[f"{label} (mean of {len(frames)})"] = mean_gpu_curve(frames)
    return plot_gpu_allocation(curves, title=title or "GPU allocation vs arrived GPU workload per profile")


def sweep_lines(
    table: pd.DataFrame,
    x: str,
    metrics: Sequence[str] | None = None,
    by: str = "profile",
    confidence: float = 0.95,
    title: str | None = None,
) -> Figure:
    """A panel per metric: mean over replications (and over the other swept parameters)
    against ``x``, one line per ``by`` value, error bars at the t interval."""
    ok = table[table["status"] == "ok"] if "status" in table else table
    if metrics is None:
        metrics = [m for m in DEFAULT_METRICS if m in ok.columns] or []
    cols = min(3, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / cols) if metrics else 1
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), layout="constrained", squeeze=False)
    labels = [str(v) for v in pd.unique(ok[by])] if len(ok) else []
    colors, styles = _colors(labels), _styles(labels)
    numeric = pd.api.types.is_numeric_dtype(ok[x]) if len(ok) else False
    xs_all = sorted(pd.unique(ok[x]), key=lambda v: (v if numeric else str(v))) if len(ok) else []
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for label in labels:
            part = ok[ok[by].astype(str) == label]
            means, errs, xs = [], [], []
            for i, xv in enumerate(xs_all):
                vals = part.loc[part[x] == xv, metric].to_numpy(dtype=float)
                if not vals.size:
                    continue
                mean, _, _, half = mean_ci(vals, confidence)
                xs.append(xv if numeric else i)
                means.append(mean)
                errs.append(0.0 if not math.isfinite(half) else half)
            ax.errorbar(xs, means, yerr=errs, marker="o", capsize=3, color=colors[label], linestyle=styles[label],
                        label=label)
        if not numeric:
            ax.set_xticks(range(len(xs_all)), [str(v) for v in xs_all], rotation=20, ha="right")
        ax.set_xlabel(x)
        ax.set_ylabel(metric_unit(metric))
        ax.set_title(metric_label(metric))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_visible(False)
    if labels:
        handles = [plt.Line2D([], [], color=colors[lab], linestyle=styles[lab], marker="o") for lab in labels]
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 5), title=by)
    fig.suptitle(title or f"Sweep over {x}: mean with {confidence:.0%} intervals")
    return fig


# ----------------------------------------------------------------------------- files


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_comparison_plots(comparison: ComparisonResult, directory: str | Path) -> list[Path]:
    """``metrics.png`` and, when RunResults were kept, ``latency_cdf.png``,
    ``utilization.png`` and, with GPUs, ``gpu_allocation.png``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    title = f"{comparison.scenario}: mean per profile, {comparison.confidence:.0%} CI ({comparison.replications} reps)"
    out = [_save(metric_bars(comparison.summary, confidence=comparison.confidence, title=title), d / "metrics.png")]
    if comparison.results:
        out.append(_save(latency_cdfs(comparison, title=f"{comparison.scenario}: latency CDF per profile"),
                         d / "latency_cdf.png"))
        out.append(_save(utilization_timelines(comparison, title=f"{comparison.scenario}: utilisation per profile"),
                         d / "utilization.png"))
        if any(r.gpu is not None for r in comparison.results.values()):
            out.append(_save(gpu_allocation_curves(
                comparison, title=f"{comparison.scenario}: GPU allocation vs arrived workload per profile"),
                d / "gpu_allocation.png"))
    return out


def save_sweep_plots(table: pd.DataFrame, paths: Sequence[str], directory: str | Path) -> list[Path]:
    """One ``sweep-<i>.png`` per swept parameter (metrics against it, per profile)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
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
