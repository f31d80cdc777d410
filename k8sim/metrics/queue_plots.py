"""Plots of Kueue-style queues over time, from the frame ``queue_usage`` of
:mod:`k8sim.batch.kueue` (one row per change of a ClusterQueue x flavor x resource).

- :func:`queue_backlog`: per ClusterQueue, pending workloads and pending pods;
- :func:`queue_usage`: per resource, each ClusterQueue's admitted usage (its nominal
  quota dotted) and the part of it borrowed from the cohort;
- :func:`queue_share`: per ClusterQueue, its dominant share of all queues' quota (the
  largest, over resources, of usage / every queue's nominal quota of it: the value
  ``queue_summary.mean_dominant_share`` averages) and Kueue's weighted dominant
  resource share (usage above nominal / the cohort's lendable quota x 1000 / weight:
  the value fair sharing orders and preempts by).

:func:`queue_series` returns the series the plots draw, as wide tables (one column per
ClusterQueue) indexed by time: each value holds from its time to the next. Each curve
is drawn as a step function continued to the end of the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from k8sim.metrics.plots import line_style, plot_title, time_axis

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from k8sim.metrics.result import RunResult

__all__ = ["plotted_unit", "queue_backlog", "queue_series", "queue_share", "queue_usage"]

#: Plotted unit of each resource of ``queue_usage`` (which holds cores, bytes, GPUs,
#: counts): (label, divisor).
_UNITS = {"cpu": ("CPU cores", 1.0), "memory": ("GiB", float(2**30)), "nvidia.com/gpu": ("GPUs", 1.0),
          "pods": ("pods", 1.0)}


def plotted_unit(resource: str) -> tuple[str, float]:
    """``(unit, divisor)`` with which :func:`queue_usage` draws ``resource``."""
    return _UNITS.get(resource, ("units", 1.0))


def _resources(usage: pd.DataFrame) -> list[str]:
    """The resources with a quota, GPUs first, then CPU, then the others by name."""
    quoted = usage.groupby("resource", sort=True)["nominal"].max()
    names = [str(r) for r in quoted.index if quoted[r] > 0]
    first = [r for r in ("nvidia.com/gpu", "cpu") if r in names]
    return first + sorted(r for r in names if r not in first)


def queue_series(result: RunResult) -> dict[str, pd.DataFrame]:
    """The plotted series, each a table indexed by ``time`` with one column per
    ClusterQueue (in the order of the scenario): ``pending`` and ``pending_pods``;
    ``usage:<resource>``, ``nominal:<resource>`` and ``borrowed:<resource>`` (summed over
    flavors, in the resource's natural unit); ``quota_share`` and ``weighted_share``."""
    u = result.frames["queue_usage"]
    queues = list(dict.fromkeys(u["cluster_queue"].astype(str).tolist()))
    out: dict[str, pd.DataFrame] = {}

    def wide(frame: pd.DataFrame, col: str) -> pd.DataFrame:
        w = frame.pivot_table(index="time", columns="cluster_queue", values=col, aggfunc="first", observed=True)
        w.columns = [str(c) for c in w.columns]
        return w.reindex(columns=queues)

    per_queue = u.drop_duplicates(["time", "cluster_queue"])
    for col in ("pending", "pending_pods", "weighted_share"):
        out[col] = wide(per_queue, col)
    per_res = u.groupby(["time", "cluster_queue", "resource"], sort=True, observed=True)[
        ["usage", "nominal", "borrowed"]].sum().reset_index()
    for r in _resources(u):
        g = per_res[per_res["resource"] == r]
        for col in ("usage", "nominal", "borrowed"):
            out[f"{col}:{r}"] = g.pivot_table(index="time", columns="cluster_queue", values=col, aggfunc="sum",
                                              observed=True).rename(columns=str).reindex(columns=queues)
    # Every queue's quota of a resource (all flavors): the denominator of the quota share.
    total = u.drop_duplicates(["cluster_queue", "flavor", "resource"]).groupby("resource")["nominal"].sum()
    shares = [out[f"usage:{r}"] / float(total[r]) for r in _resources(u) if float(total[r]) > 0]
    out["quota_share"] = (pd.concat(shares).groupby(level=0).max() if shares
                          else out["pending"] * 0.0).reindex(columns=queues)
    return out


def _steps(ax: Axes, table: pd.DataFrame, div: float, end: float, styles: dict[str, dict],
           label: str = "{q}", scale: float = 1.0, **kw: object) -> None:
    """One post-step curve per column (values / ``scale``), continued to ``end``."""
    t = np.append(table.index.to_numpy(dtype=float), end) / div
    for q in table.columns:
        v = table[q].to_numpy(dtype=float) / scale
        ax.step(t, np.append(v, v[-1]), where="post", label=label.format(q=q), **{**styles[q], **kw})


def _styles(queues: list[str]) -> dict[str, dict]:
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {q: {"color": cycle[i % len(cycle)], **line_style(i)} for i, q in enumerate(queues)}


def _frame(result: RunResult) -> tuple[dict[str, pd.DataFrame], list[str], float, str, float]:
    s = queue_series(result)
    queues = list(s["pending"].columns)
    div, xlabel = time_axis(result.end_time)
    end = max(float(result.end_time), float(s["pending"].index.max()) if len(s["pending"]) else 0.0)
    return s, queues, div, xlabel, end


def queue_backlog(result: RunResult) -> Figure:
    """Per ClusterQueue: the workloads waiting (set-aside ones included) and their pods."""
    s, queues, div, xlabel, end = _frame(result)
    styles = _styles(queues)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 6), layout="constrained", sharex=True)
    _steps(ax, s["pending"], div, end, styles)
    ax.set_ylabel("pending workloads")
    ax.set_title(plot_title(result, "Queue backlog per ClusterQueue"))
    _steps(ax2, s["pending_pods"], div, end, styles)
    ax2.set_ylabel("pods of pending workloads")
    ax2.set_xlabel(xlabel)
    for a in (ax, ax2):
        a.grid(alpha=0.3)
        a.legend(loc="best", fontsize="small", title="ClusterQueue")
    return fig


def queue_usage(result: RunResult) -> Figure:
    """Per resource with a quota: each ClusterQueue's admitted usage (its nominal quota
    dotted) and the part borrowed from the cohort (usage above nominal)."""
    s, queues, div, xlabel, end = _frame(result)
    styles = _styles(queues)
    resources = [k.split(":", 1)[1] for k in s if k.startswith("usage:")] or ["(none)"]
    fig, axes = plt.subplots(len(resources), 2, figsize=(12, 3.4 * len(resources)), layout="constrained",
                             squeeze=False, sharex=True)
    for row, r in zip(axes, resources, strict=True):
        ax, ax2 = row
        unit, scale = plotted_unit(r)
        if f"usage:{r}" in s:
            _steps(ax, s[f"usage:{r}"], div, end, styles, label="{q} usage", scale=scale)
            _steps(ax, s[f"nominal:{r}"], div, end, styles, label="{q} nominal", scale=scale, linestyle=":",
                   linewidth=1, alpha=0.7)
            _steps(ax2, s[f"borrowed:{r}"], div, end, styles, scale=scale)
        ax.set_ylabel(f"admitted {r} ({unit})")
        ax.set_title(plot_title(result, f"Admitted {r} per ClusterQueue"))
        ax2.set_ylabel(f"borrowed {r} ({unit})")
        ax2.set_title(f"{r} borrowed from the cohort (usage above nominal)")
        for a in row:
            a.grid(alpha=0.3)
            a.legend(loc="best", fontsize="small")
    for a in axes[-1]:
        a.set_xlabel(xlabel)
    return fig


def queue_share(result: RunResult) -> Figure:
    """Per ClusterQueue: its dominant share of all queues' quota, and Kueue's weighted
    dominant resource share (fair sharing's)."""
    s, queues, div, xlabel, end = _frame(result)
    styles = _styles(queues)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 6), layout="constrained", sharex=True)
    _steps(ax, s["quota_share"], div, end, styles)
    ax.set_ylabel("share of all quota (fraction)")
    ax.set_title(plot_title(result, "Dominant share per ClusterQueue"))
    _steps(ax2, s["weighted_share"], div, end, styles)
    ax2.set_ylabel("weighted share (per mille)")
    ax2.set_title("Kueue's dominant resource share (fair sharing): borrowed / lendable x 1000 / weight")
    ax2.set_xlabel(xlabel)
    for a in (ax, ax2):
        a.grid(alpha=0.3)
        a.legend(loc="best", fontsize="small", title="ClusterQueue")
    return fig
