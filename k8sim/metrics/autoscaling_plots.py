"""Plots of the pod autoscalers and the service load model (frames ``hpa``,
``service_load``, ``node_usage`` of :mod:`k8sim.autoscaling.results`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from k8sim.metrics.plots import line_style, plot_title, time_axis

if TYPE_CHECKING:
    from k8sim.metrics.result import RunResult


def hpa_replicas(result: RunResult, top: int = 6) -> Figure:
    """Per HPA (up to ``top``): replicas desired, current (``spec.replicas``) and ready
    at each sync (left axis) and the offered request rate of its service (right axis)."""
    hpa = result.frames["hpa"]
    names = list(dict.fromkeys(hpa["hpa"].tolist()))[:top] or ["(none)"]
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 3.2 * len(names)), layout="constrained", squeeze=False)
    div, xlabel = time_axis(result.end_time)
    for ax, name in zip(axes[:, 0], names, strict=True):
        g = hpa[hpa["hpa"] == name]
        t = g["time"].to_numpy() / div
        for i, (col, label) in enumerate((("desired_replicas", "desired"), ("current_replicas", "current (spec)"),
                                          ("ready_pods", "ready"))):
            ax.step(t, g[col], where="post", label=label, **line_style(i))
        ax.set_ylabel("replicas (pods)")
        ax.set_title(plot_title(result, f"HPA {name}: replicas and request rate"))
        ax.grid(alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if g["offered_rps"].notna().any():
            ax2 = ax.twinx()
            ax2.plot(t, g["offered_rps"], color="grey", alpha=0.6, linewidth=1, label="offered rate")
            ax2.set_ylabel("requests / s")
            h2, l2 = ax2.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, loc="upper left", fontsize="small")
        ax.set_xlabel(xlabel)
    return fig


def service_latency(result: RunResult, top: int = 6) -> Figure:
    """Per service: the latency percentile per load step (log scale; saturated steps
    drawn at the top), with the steps violating an SLO marked; below, the dropped share."""
    svc = result.frames["service_load"]
    names = list(dict.fromkeys(svc["service"].tolist()))[:top]
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(9, 6), layout="constrained", sharex=True)
    div, xlabel = time_axis(result.end_time)
    for i, name in enumerate(names):
        g = svc[svc["service"] == name]
        t = g["time"].to_numpy() / div
        lat = g["latency_quantile_s"].to_numpy(dtype=float)
        finite = lat[np.isfinite(lat)]
        top_v = float(finite.max()) * 2 if finite.size else 1.0
        line = ax.plot(t, np.where(np.isfinite(lat), lat, top_v), label=f"{name} latency", **line_style(i))
        bad = (g["slo_latency_violated"] | g["slo_availability_violated"]).to_numpy()
        if bad.any():
            ax.plot(t[bad], np.where(np.isfinite(lat[bad]), lat[bad], top_v), "x", color=line[0].get_color(),
                    label=f"{name} SLO violated")
        offered = g["offered_rps"].to_numpy(dtype=float)
        share = np.divide(g["dropped_rps"].to_numpy(dtype=float), offered, out=np.zeros_like(offered),
                          where=offered > 0)
        ax2.plot(t, 100 * share, label=name, **line_style(i))
    ax.set_yscale("log")
    ax.set_ylabel("latency percentile (s)")
    ax.set_title(plot_title(result, "Service latency and SLO violations"))
    ax.grid(alpha=0.3)
    if names:
        ax.legend(loc="upper left", fontsize="small")
        ax2.legend(loc="upper left", fontsize="small")
    else:
        ax.text(0.5, 0.5, "no services", ha="center", va="center", transform=ax.transAxes)
    ax2.set_ylabel("dropped requests (%)")
    ax2.set_xlabel(xlabel)
    ax2.grid(alpha=0.3)
    return fig


def node_usage(result: RunResult) -> Figure:
    """Cluster CPU and memory utilisation by usage beside utilisation by requests."""
    nu = result.frames["node_usage"]
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    div, xlabel = time_axis(result.end_time)
    tot = nu.groupby("time").sum(numeric_only=True)
    t = tot.index.to_numpy() / div
    i = 0
    for r in ("cpu", "memory"):
        alloc = tot[f"{r}_allocatable"].to_numpy()
        for what, col in (("usage", f"{r}_usage"), ("requests", f"{r}_requested")):
            ax.plot(t, 100 * np.divide(tot[col].to_numpy(), alloc, out=np.zeros_like(alloc), where=alloc > 0),
                    label=f"{r} by {what}", **line_style(i))
            i += 1
    ax.set_ylabel("share of allocatable (%)")
    ax.set_xlabel(xlabel)
    ax.set_title(plot_title(result, "Utilisation by usage and by requests"))
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig
