"""Failure metrics, reconstructed after the run from the tables and the event log.

Computed only for runs with faults or operator actions (provenance ``fault_sources``) or
with ``NodeDown`` rows, so other runs' results are unchanged.

- ``failures`` (``RunResult.frames["failures"]``): one row per time a node's machine was
  down: ``node``, ``pool``, ``zone``, ``cause`` (the fault source: ``node[0]``, a
  failure's ``name``, ``actions[2]``, ...), ``kind``, ``mode`` (``crash`` or
  ``partition``: the pods of a partitioned node run on and are not counted unavailable,
  and its evicted pods end when the link returns; ``not_ready``: a kubelet that reports its
  node NotReady, whose pods run on), ``down_at``, ``not_ready_at`` (the
  node lifecycle controller marked it NotReady), ``tainted_at`` (NoExecute taint),
  ``up_at`` (NaN: still down at the end or removed), ``downtime_s`` (until ``up_at``, the
  node's removal or the end of the run), ``pods_affected`` (pods bound there while it
  was down), ``pods_disrupted`` (of those, ended by the failure: evicted, lost),
  ``pods_lost`` (disrupted pods without an owner: nothing replaces them),
  ``pods_restarted`` (recreated in place when the node came back), and
  ``time_to_recover_s``: from ``down_at`` until every affected pod serves again (a
  restarted pod Running again, a disrupted owned pod's replacement Running); NaN when
  some affected owned pod was never replaced or nothing was affected. Lost pods do not
  count (they never recover; see ``pods_lost``).
- ``disruptions`` (``RunResult.frames["disruptions"]``): one row per pod ended by a
  disruption: ``pod``, ``workload``, ``owner_kind``, ``owner``, ``node``, ``time``,
  ``cause`` (``TaintManagerEviction``, ``NodeLost``, ``EvictionByEvictionAPI`` (drain),
  ``SpotInterruption``, ``ContainerStatusUnknown``, ``Preempted``), ``lost`` (no owner),
  ``replacement`` (the pod of the same owner created next after it, "" if none) and
  ``replacement_running`` (when that one started Running).
- summary columns (events at or after ``warmup_s``): ``node_failures``,
  ``node_downtime_s``, ``node_availability`` (1 - downtime / node time),
  ``pods_evicted`` and by cause (``pods_evicted_taint``, ``pods_evicted_drain``,
  ``pods_evicted_spot``), ``pods_node_lost``, ``pods_preempted``, ``pods_lost``,
  ``pods_replaced``, ``pods_restarted_after_failure``, ``time_to_recover_p50_s``,
  ``time_to_recover_max_s``, ``failures_unrecovered``.
- timeseries columns: ``nodes_up`` (nodes whose machine runs) and ``available_pods``
  (Running pods on a running machine: ``running_pods`` still counts the pods of a
  failed node until they are evicted, as the API server does).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.pods import OWNER_KINDS
from k8sim.constants import ZONE_LABEL
from k8sim.metrics.timeseries import interval_integrals

if TYPE_CHECKING:
    from k8sim.metrics.record import RunRecord

#: Log kinds that end a pod by a disruption, and the summary column counting them.
DISRUPTION_CAUSES: dict[str, str] = {
    "TaintManagerEviction": "pods_evicted_taint",
    "EvictionByEvictionAPI": "pods_evicted_drain",
    "SpotInterruption": "pods_evicted_spot",
    "NodeLost": "pods_node_lost",
    "ContainerStatusUnknown": "pods_container_status_unknown",
    "Preempted": "pods_preempted",
}
_EVICTIONS = ("TaintManagerEviction", "EvictionByEvictionAPI", "SpotInterruption")
#: Causes that end a pod because of a fault or an operator (not preemption).
_FAILURE_CAUSES = ("TaintManagerEviction", "EvictionByEvictionAPI", "SpotInterruption", "NodeLost",
                   "ContainerStatusUnknown")
_RESTART_DETAIL = "containers recreated after the node came back"
_PARTITION = " (partition)"
_NOT_READY = " (not ready)"


def has_faults(record: RunRecord) -> bool:
    """Whether the run had faults or operator actions (the failure metrics apply)."""
    return bool(record.provenance.get("fault_sources")) or "NodeDown" in record.log.kind


def _kind_of(cause: str, sources: dict[str, str]) -> str:
    if cause in sources:
        return sources[cause]
    head = cause.split(" ")[0]  # "zone_outages[0] zone-a"
    return sources.get(head, "")


def failure_frames(record: RunRecord) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any], dict[str, np.ndarray]]:
    """``failures`` and ``disruptions`` frames, summary columns and timeseries columns
    (by name, one value per bin of ``edges`` of the run's timeseries)."""
    state, log = record.state, record.log
    p, nt = state.pods, state.nodes
    n = p.n
    end = record.end_time
    sources = dict(record.provenance.get("fault_sources") or {})
    times = np.array(log.time, dtype=np.float64)  # a copy (the log may grow on after a mid-run result)
    kinds = log.kind
    log_pods, log_nodes = log.pod, log.node
    # -- per-pod end cause and restarts -----------------------------------------------
    end_cause: dict[int, str] = {}
    restarted_at: dict[int, list[float]] = {}
    not_ready: dict[int, list[float]] = {}
    tainted: dict[int, list[float]] = {}
    downs: list[tuple[int, float, str]] = []
    ups: dict[int, list[float]] = {}
    for i, kind in enumerate(kinds):
        if kind in DISRUPTION_CAUSES and log_pods[i] >= 0:
            end_cause[log_pods[i]] = kind
        elif kind == "Started" and log.detail[i] == _RESTART_DETAIL:
            restarted_at.setdefault(log_pods[i], []).append(times[i])
        elif kind == "NodeDown":
            downs.append((log_nodes[i], times[i], log.detail[i]))
        elif kind == "NodeUp":
            ups.setdefault(log_nodes[i], []).append(times[i])
        elif kind == "NodeUpdated":
            d = log.detail[i]
            if d == "NotReady":
                not_ready.setdefault(log_nodes[i], []).append(times[i])
            elif d.startswith("taints") and ("node.kubernetes.io/unreachable=:NoExecute" in d
                                             or "node.kubernetes.io/not-ready=:NoExecute" in d):
                tainted.setdefault(log_nodes[i], []).append(times[i])
    # -- disruptions and replacements ---------------------------------------------------
    owner_kind = p.owner_kind[:n]
    owner = p.owner[:n]
    created = p.created[:n]
    running = p.running[:n]
    finished = p.finished[:n]
    disrupted = sorted(end_cause, key=lambda q: (finished[q], q))
    replacement: dict[int, int] = {}
    by_owner: dict[tuple[int, int], list[int]] = {}
    for q in disrupted:
        if owner_kind[q]:
            by_owner.setdefault((int(owner_kind[q]), int(owner[q])), []).append(q)
    for (ok, ow), lost_pods in by_owner.items():
        candidates = np.flatnonzero((owner_kind == ok) & (owner == ow))
        used: set[int] = set()
        for q in lost_pods:
            later = [c for c in candidates.tolist() if created[c] >= finished[q] and c not in used and c != q]
            if later:
                c = min(later, key=lambda c: (created[c], c))
                used.add(c)
                replacement[q] = c
    names, wl_names = p.names, record.workload_names
    disruptions = pd.DataFrame({
        "pod": pd.Series([names[q] for q in disrupted], dtype="string"),
        "workload": pd.Series([wl_names[p.workload[q]] if p.workload[q] >= 0 else "" for q in disrupted],
                              dtype="string"),
        "owner_kind": pd.Series([OWNER_KINDS[owner_kind[q]] for q in disrupted], dtype="string"),
        "owner": np.array([int(owner[q]) if owner_kind[q] else -1 for q in disrupted], dtype=np.int64),
        "node": pd.Series([nt.names[p.node[q]] if p.node[q] >= 0 else "" for q in disrupted], dtype="string"),
        "time": np.array([finished[q] for q in disrupted], dtype=np.float64),
        "cause": pd.Series([end_cause[q] for q in disrupted], dtype="string"),
        "lost": np.array([not owner_kind[q] and end_cause[q] in _FAILURE_CAUSES for q in disrupted], dtype=bool),
        "replacement": pd.Series([names[replacement[q]] if q in replacement else "" for q in disrupted],
                                 dtype="string"),
        "replacement_running": np.array([running[replacement[q]] if q in replacement else np.nan
                                         for q in disrupted], dtype=np.float64),
    })
    # -- episodes -------------------------------------------------------------------------
    rows = []
    node_of_pod = p.node[:n]
    scheduled = p.scheduled[:n]
    stalled_start: list[float] = []
    stalled_end: list[float] = []
    fin = np.where(np.isnan(finished), np.inf, finished)
    by_node = np.argsort(node_of_pod, kind="stable")  # pods grouped by node, for each episode's node
    sorted_nodes = node_of_pod[by_node]
    zone_codes = nt.labels.get(ZONE_LABEL)
    zone_names = {c: v for v, c in nt.label_values.get(ZONE_LABEL, {}).items()}
    next_down: dict[tuple[int, float], float] = {}
    for node, down_at, _cause in downs:
        later_downs = [t for n2, t, _c in downs if n2 == node and t > down_at]
        next_down[(node, down_at)] = min(later_downs) if later_downs else math.inf
    for node, down_at, detail in downs:
        mode = "partition" if detail.endswith(_PARTITION) else "not_ready" if detail.endswith(_NOT_READY) else "crash"
        cause = detail[: -len(_PARTITION if mode == "partition" else _NOT_READY)] if mode != "crash" else detail
        # The pods of a partitioned node, or of one whose kubelet reports NotReady, run on.
        partition = mode != "crash"
        up_list = [t for t in ups.get(node, []) if t >= down_at]
        up_at = min(up_list) if up_list else math.nan
        removed = float(nt.removed_at[node])
        stop = up_at if not math.isnan(up_at) else min(removed, end)
        nr = [t for t in not_ready.get(node, []) if down_at <= t <= stop]
        tt = [t for t in tainted.get(node, []) if down_at <= t <= stop]
        on_node = by_node[np.searchsorted(sorted_nodes, node, "left"):np.searchsorted(sorted_nodes, node, "right")]
        affected = on_node[(scheduled[on_node] <= stop) & (fin[on_node] >= down_at)]
        n_disrupted = n_lost = n_restarted = 0
        recover: list[float] = []
        unrecovered = False
        for q in affected.tolist():
            cause_q = end_cause.get(q)
            # A partitioned node's evicted pods end when the link returns (after up_at).
            until = next_down[(node, down_at)] if partition else stop + 1e-9
            if cause_q is not None and down_at <= finished[q] <= until and cause_q in _FAILURE_CAUSES:
                n_disrupted += 1
                if not partition:  # a crash stops the pod at once; a partitioned one runs on
                    stalled_start.append(max(down_at, running[q]) if not np.isnan(running[q]) else down_at)
                    stalled_end.append(finished[q] if not np.isnan(running[q]) else down_at)
                if not owner_kind[q]:
                    n_lost += 1
                elif q in replacement and not np.isnan(running[replacement[q]]):
                    recover.append(float(running[replacement[q]]))
                else:
                    unrecovered = True
                continue
            again = [t for t in restarted_at.get(q, []) if t >= down_at]
            if again and not math.isnan(up_at):
                n_restarted += 1
                recover.append(min(again))
                if not np.isnan(running[q]):
                    stalled_start.append(max(down_at, running[q]))
                    stalled_end.append(min(again))
            elif not partition and not np.isnan(running[q]) and running[q] <= stop:
                # Running when the machine died and still bound at the end of the episode
                # (or ended otherwise): not serving meanwhile.
                stalled_start.append(max(down_at, running[q]))
                stalled_end.append(min(stop, fin[q]))
        ttr = (max(recover) - down_at) if recover and not unrecovered else math.nan
        zone = zone_names.get(int(zone_codes[node]), "") if zone_codes is not None else ""
        rows.append({
            "node": nt.names[node], "pool": nt.pool_name(node), "zone": zone,
            "cause": cause, "kind": _kind_of(cause, sources), "mode": mode,
            "down_at": down_at,
            "not_ready_at": min(nr) if nr else math.nan, "tainted_at": min(tt) if tt else math.nan,
            "up_at": up_at, "downtime_s": stop - down_at, "pods_affected": int(affected.size),
            "pods_disrupted": n_disrupted, "pods_lost": n_lost, "pods_restarted": n_restarted,
            "time_to_recover_s": ttr,
        })
    failures = pd.DataFrame(rows, columns=[
        "node", "pool", "zone", "cause", "kind", "mode", "down_at", "not_ready_at", "tainted_at", "up_at", "downtime_s",
        "pods_affected", "pods_disrupted", "pods_lost", "pods_restarted", "time_to_recover_s"])
    for col in ("node", "pool", "zone", "cause", "kind", "mode"):
        failures[col] = failures[col].astype("string")
    for col in ("pods_affected", "pods_disrupted", "pods_lost", "pods_restarted"):
        failures[col] = failures[col].astype(np.int64)
    # -- summary ----------------------------------------------------------------------------
    w = record.warmup_s
    fw = failures[failures["down_at"] >= w]
    dw = disruptions[disruptions["time"] >= w]
    node_time = float(np.clip(np.minimum(nt.removed_at, end) - np.maximum(nt.created_at, w), 0, None).sum())
    summary: dict[str, Any] = {
        "node_failures": len(fw),
        "node_downtime_s": float(fw["downtime_s"].sum()),
        "node_availability": 1.0 - float(fw["downtime_s"].sum()) / node_time if node_time > 0 else math.nan,
        "pods_evicted": int(dw["cause"].isin(_EVICTIONS).sum()),
    }
    for cause, col in DISRUPTION_CAUSES.items():
        summary[col] = int((dw["cause"] == cause).sum())
    summary["pods_lost"] = int(dw["lost"].sum())
    summary["pods_replaced"] = int((dw["replacement"] != "").sum())
    summary["pods_restarted_after_failure"] = int(fw["pods_restarted"].sum())
    ttr_values = fw["time_to_recover_s"].dropna().to_numpy()
    summary["time_to_recover_p50_s"] = float(np.percentile(ttr_values, 50)) if ttr_values.size else math.nan
    summary["time_to_recover_max_s"] = float(ttr_values.max()) if ttr_values.size else math.nan
    summary["failures_unrecovered"] = int((fw["time_to_recover_s"].isna() & (fw["pods_disrupted"] > fw["pods_lost"])).sum())
    # -- timeseries --------------------------------------------------------------------------
    from k8sim.metrics.timeseries import bin_edges

    edges = bin_edges(0.0, end, record.sample_interval_s)
    width = np.diff(edges)
    width_safe = np.where(width > 0, width, 1.0)
    node_present = interval_integrals(nt.created_at, nt.removed_at, np.ones(nt.n), edges)
    d_start = failures["down_at"].to_numpy(dtype=np.float64)
    d_end = (failures["down_at"] + failures["downtime_s"]).to_numpy(dtype=np.float64)
    node_down = interval_integrals(d_start, d_end, np.ones(len(d_start)), edges)
    running_all = interval_integrals(running, finished, np.ones(n), edges)
    stalled = interval_integrals(np.asarray(stalled_start, dtype=np.float64), np.asarray(stalled_end, dtype=np.float64),
                                 np.ones(len(stalled_start)), edges)
    series = {
        "nodes_up": (node_present - node_down) / width_safe,
        "available_pods": (running_all - stalled) / width_safe,
    }
    del times
    return failures, disruptions, summary, series
