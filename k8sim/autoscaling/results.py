"""The frames and summary columns of :class:`k8sim.autoscaling.pod_autoscaling.PodAutoscaling`.

Frames (``RunResult.frames``):

- ``hpa``: one row per HPA sync: ``time``, ``hpa``, ``current_replicas`` (the target's
  ``spec.replicas`` before the sync), ``desired_replicas`` (after it), ``ready_pods``,
  ``running_pods``, ``metric_value`` (the first metric: utilisation in % for a
  utilisation target, else its value), ``reason``, and ``offered_rps`` of the target's
  service (NaN without one, the rate of the last load step);
- ``service_load``: one row per load step and service: ``offered_rps``,
  ``served_rps``, ``dropped_rps``, ``ready_pods``, ``per_pod_rps``, ``rho``
  (utilisation of a pod's capacity), ``latency_mean_s``, ``latency_quantile_s`` (inf
  when saturated or no pod is ready), ``slo_latency_violated``,
  ``slo_availability_violated``, ``cpu_utilization`` (CPU used by the ready pods over
  their requests);
- ``node_usage``: per ``sample_interval_s`` and node pool, a point sample: nodes,
  CPU (milli) and memory (bytes) allocatable, requested and used (usage of pods with a
  model, requests of the others), ``cpu_usage_utilization`` beside
  ``cpu_request_utilization`` (and memory);
- ``scale_up_chain``: per HPA scale-up, the time from the load crossing the HPA's
  threshold to enough ready pods, split: ``hpa_reaction_s`` (threshold crossed ->
  decision), ``controller_s`` (decision -> the last new pod created), then for that
  pod (the last of the scale-up to become ready) ``scheduling_s``,
  ``node_provisioning_s``, ``image_pull_s``, ``start_s`` and ``readiness_s``;
  ``total_s`` is their sum (NaN while a pod is not ready). ``node_provisioning_s`` is
  the time the pod waited for its node to be provisioned: when a node autoscaler (the
  Cluster Autoscaler or Karpenter) added the node the pod was bound to after the pod
  was created, from the later of the node's request (scale-up or launch) and the pod's
  creation to the node's registration; ``scheduling_s`` is the rest of the time from
  creation to binding (the wait for the autoscaler's scan before the request, and from
  registration to the binding). 0 when the pod bound to a node that was already there.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.component import Contribution

if TYPE_CHECKING:
    from k8sim.autoscaling.pod_autoscaling import PodAutoscaling

_SVC_COLS = ("offered_rps", "served_rps", "dropped_rps", "ready_pods", "per_pod_rps", "rho", "latency_mean_s",
             "latency_quantile_s", "slo_latency_violated", "slo_availability_violated", "cpu_utilization")
_NODE_COLS = ("time", "pool", "nodes", "cpu_allocatable", "cpu_requested", "cpu_usage", "memory_allocatable",
              "memory_requested", "memory_usage")


def _service_frame(c: PodAutoscaling) -> pd.DataFrame:
    S = len(c.services)
    T = len(c._t_rows)
    names = [s.service_name for s in c.services]
    if not S or not T:
        frame = pd.DataFrame({"time": np.zeros(0), "service": pd.Series([], dtype="string"),
                              **{k: np.zeros(0) for k in _SVC_COLS}})
    else:
        data = np.stack(c._svc_rows)  # [T, cols, S]
        frame = pd.DataFrame({"time": np.repeat(np.asarray(c._t_rows), S),
                              "service": pd.Series(np.tile(np.asarray(names, dtype=object), T), dtype="string")})
        for j, col in enumerate(_SVC_COLS):
            frame[col] = data[:, j, :].reshape(-1)
    frame["ready_pods"] = frame["ready_pods"].astype(np.int64)
    for col in ("slo_latency_violated", "slo_availability_violated"):
        frame[col] = frame[col].astype(bool)
    return frame


def _hpa_frame(c: PodAutoscaling, svc: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for h in c.hpas:
        s = int(c.svc_of_dep[h.dep]) if h.dep >= 0 else -1
        for r in h.rows:
            rows.append((r[0], h.spec.metadata.name, *r[1:], s))
    frame = pd.DataFrame(rows, columns=["time", "hpa", "current_replicas", "desired_replicas", "ready_pods",
                                        "running_pods", "metric_value", "reason", "_svc"])
    frame["offered_rps"] = math.nan
    if len(frame) and len(svc):
        S = len(c.services)
        times = np.asarray(c._t_rows)
        offered = svc["offered_rps"].to_numpy().reshape(len(times), S)
        has = frame["_svc"].to_numpy() >= 0
        k = np.clip(np.searchsorted(times, frame["time"].to_numpy(), side="right") - 1, 0, len(times) - 1)
        vals = offered[k, np.maximum(frame["_svc"].to_numpy(), 0)]
        frame.loc[has, "offered_rps"] = vals[has]
    frame = frame.drop(columns="_svc")
    frame["hpa"] = frame["hpa"].astype("string")
    frame["reason"] = frame["reason"].astype("string")
    for col in ("current_replicas", "desired_replicas", "ready_pods", "running_pods"):
        frame[col] = frame[col].astype(np.int64)
    return frame


def _threshold(h: Any, c: PodAutoscaling) -> float | None:
    """The CPU utilisation (a share) above which the HPA's first metric scales up, or
    None when its first metric is not a CPU utilisation target."""
    m = h.spec.spec.metrics[0]
    src = m.resource if m.type == "Resource" else None
    if src is None or src.name != "cpu" or src.target.type != "Utilization":
        return None
    return src.target.average_utilization / 100.0 * (1.0 + h.tolerances.scale_up)


def _chain_frame(c: PodAutoscaling, svc: pd.DataFrame) -> pd.DataFrame:
    pods = c.ctx.state.pods
    ledger = c.ctx.components.get("node-cost")
    rows = []
    S = len(c.services)
    times = np.asarray(c._t_rows)
    util = svc["cpu_utilization"].to_numpy().reshape(len(times), S) if S and len(times) else None
    for h in c.hpas:
        ups = [d for d in h.decisions if d[2] > d[1]]
        decided = [d[0] for d in h.decisions]
        s = int(c.svc_of_dep[h.dep]) if h.dep >= 0 else -1
        thr = _threshold(h, c)
        for t_d, old, new, _ in ups:
            nxt = min((t for t in decided if t > t_d), default=math.inf)
            # The scale-up's own pods: the first ``new - old`` created after the decision
            # (later ones replace evicted or failed pods).
            created = [p for t, p in c.created_by_dep[h.dep] if t_d <= t < nxt][: max(new - old, 0)]
            crossed = t_d
            if util is not None and s >= 0 and thr is not None:
                k = int(np.searchsorted(times, t_d, side="right")) - 1
                while k >= 0 and util[k, s] > thr:
                    crossed = float(times[k])
                    k -= 1
            row: dict[str, Any] = {"hpa": h.spec.metadata.name, "decided_at": t_d, "replicas_from": old,
                                   "replicas_to": new, "load_crossed_at": crossed, "hpa_reaction_s": t_d - crossed}
            if created:
                ready = np.array([pods.ready[p] for p in created])
                last = created[int(np.nanargmax(np.where(np.isnan(ready), np.inf, ready)))]
                cr, sch, run, rdy = (float(pods.created[last]), float(pods.scheduled[last]),
                                     float(pods.running[last]), float(pods.ready[last]))
                pull = float(pods.image_pull_time[last])
                pull = 0.0 if math.isnan(pull) else pull
                node = int(pods.node[last])
                prov = ledger.provisioning_wait(node, cr) if ledger is not None and node >= 0 else 0.0
                prov = 0.0 if math.isnan(sch) else min(prov, sch - cr)
                row.update(controller_s=cr - t_d, scheduling_s=sch - cr - prov, node_provisioning_s=prov,
                           image_pull_s=pull, start_s=run - sch - pull, readiness_s=rdy - run,
                           ready_at=rdy, total_s=rdy - crossed if not np.isnan(ready).any() else math.nan)
            rows.append(row)
    cols = ["hpa", "decided_at", "replicas_from", "replicas_to", "load_crossed_at", "hpa_reaction_s", "controller_s",
            "scheduling_s", "node_provisioning_s", "image_pull_s", "start_s", "readiness_s", "ready_at", "total_s"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["hpa"] = frame["hpa"].astype("string")
    return frame


def _node_frame(c: PodAutoscaling) -> pd.DataFrame:
    frame = pd.DataFrame(c._node_rows, columns=list(_NODE_COLS))
    frame["pool"] = frame["pool"].astype("string")
    frame["nodes"] = frame["nodes"].astype(np.int64)
    for r in ("cpu", "memory"):
        alloc = frame[f"{r}_allocatable"].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            frame[f"{r}_usage_utilization"] = np.where(alloc > 0, frame[f"{r}_usage"] / alloc, math.nan)
            frame[f"{r}_request_utilization"] = np.where(alloc > 0, frame[f"{r}_requested"] / alloc, math.nan)
    return frame


def contribution(c: PodAutoscaling) -> Contribution:
    svc = _service_frame(c)
    hpa = _hpa_frame(c, svc)
    chain = _chain_frame(c, svc)
    nodes = _node_frame(c)
    warm = float(c.ctx.scenario.warmup_s)
    step = c.metrics.load_step_s
    win = svc[svc["time"] >= warm]
    offered = float(win["offered_rps"].sum() * step)
    served = float(win["served_rps"].sum() * step)
    summary: dict[str, Any] = {
        "hpa_rescales": int(sum(len(h.decisions) for h in c.hpas)),
        "hpa_scale_ups": int(sum(1 for h in c.hpas for d in h.decisions if d[2] > d[1])),
        "service_requests_offered": offered,
        "service_requests_served": served,
        "service_requests_dropped": float(win["dropped_rps"].sum() * step),
        "service_availability": served / offered if offered > 0 else math.nan,
        "service_latency_quantile_p50_s": float(win["latency_quantile_s"].median()) if len(win) else math.nan,
        "slo_latency_violation_s": float(win["slo_latency_violated"].sum() * step),
        "slo_availability_violation_s": float(win["slo_availability_violated"].sum() * step),
        "slo_violation_share": float((win["slo_latency_violated"] | win["slo_availability_violated"]).mean())
        if len(win) else math.nan,
        "oom_kills": len(c.kubelet.oom_kills) if c.kubelet is not None else 0,
        "memory_pressure_evictions": len(c.evictions),
        "scale_up_to_ready_s_mean": float(chain["total_s"].mean()) if len(chain) else math.nan,
    }
    nw = nodes[nodes["time"] >= warm]
    if len(nw):
        tot = nw.groupby("time")[["cpu_allocatable", "cpu_usage", "cpu_requested", "memory_allocatable",
                                  "memory_usage", "memory_requested"]].sum()
        summary["mean_cpu_usage_utilization"] = float((tot["cpu_usage"] / tot["cpu_allocatable"]).mean())
        summary["mean_memory_usage_utilization"] = float((tot["memory_usage"] / tot["memory_allocatable"]).mean())
    else:
        summary["mean_cpu_usage_utilization"] = summary["mean_memory_usage_utilization"] = math.nan
    if any(r is not None for r in c.u_trace_rows):
        # Pods of trace usage models created in the run, with and without usage rows.
        summary["trace_usage_pods"] = c.trace_usage_counts[0]
        summary["trace_usage_missing_pods"] = c.trace_usage_counts[1]
    frames = {"hpa": hpa, "service_load": svc, "node_usage": nodes, "scale_up_chain": chain}
    return Contribution(frames=frames, summary=summary,
                        provenance={"load_step_s": step, "metrics_resolution_s": c.metrics.resolution_s})
