"""Per-workload availability over time: desired vs existing, ready and available pods.

Reconstructed after the run from the pod table (created, ready, finished), the event
log (``Killing``: the instant a bound pod's deletion was asked for, from which upstream
no longer counts it, ``controller.FilterActivePods``) and what the controllers recorded
(desired replicas over time, ReplicaSet -> Deployment, ``minReadySeconds``).

:func:`availability_table` gives one row per object and change point: ``time``,
``kind``, ``object``, ``desired``, ``pods`` (active: created, not terminal, not
terminating), ``ready`` (active and Ready) and ``available`` (Ready for at least
``minReadySeconds``), each valid from ``time`` until the object's next row. A
Deployment's pods are those of all its ReplicaSets; StatefulSets, DaemonSets and
standalone ReplicaSets own theirs directly (``owner_kind`` / ``owner`` of the pods).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

COLUMNS = ["time", "kind", "object", "desired", "pods", "ready", "available"]


def availability_table(pods: pd.DataFrame, events: pd.DataFrame, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The step table described in the module docstring (empty without controllers)."""
    hist = frames.get("replica_history")
    objects = frames.get("controller_objects")
    if hist is None or objects is None or "owner" not in pods:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    rs = frames.get("replicasets")
    to_deploy = {}
    if rs is not None and len(rs):
        to_deploy = {r: d for r, d in zip(rs["replicaset"].tolist(), rs["deployment"].tolist(), strict=True) if d}
    kind = pods["owner_kind"].astype(object).to_numpy()
    owner = pods["owner"].astype(object).to_numpy()
    top_kind = np.where((kind == "ReplicaSet") & np.isin(owner, list(to_deploy)), "Deployment", kind)
    top = np.array([to_deploy.get(o, o) if k == "Deployment" else o for k, o in zip(top_kind, owner, strict=True)],
                   dtype=object)
    killing = events[events["kind"] == "Killing"].groupby("pod")["time"].min()
    deletion = pods["pod"].map(killing).to_numpy(dtype=float)
    finished = pods["finished"].to_numpy(dtype=float)
    end = np.fmin(np.where(np.isnan(finished), np.inf, finished), np.where(np.isnan(deletion), np.inf, deletion))
    created = pods["created"].to_numpy(dtype=float)
    ready = pods["ready"].to_numpy(dtype=float)
    min_ready = {(k, o): float(m) for k, o, m in objects[["kind", "object", "min_ready_s"]].itertuples(index=False)}
    out = []
    for (k, o), h in hist.groupby(["kind", "object"], sort=False):
        sel = (top_kind == k) & (top == o)
        mr = min_ready.get((k, o), 0.0)
        c, e, r = created[sel], end[sel], ready[sel]
        has_r = ~np.isnan(r) & (r < e)
        a = r + mr
        has_a = has_r & (a < e)
        times = [h["time"].to_numpy(dtype=float), c, e, r[has_r], e[has_r], a[has_a], e[has_a]]
        deltas = [(0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)]
        t_all = np.concatenate([t for t in times])
        t_all = t_all[np.isfinite(t_all)]
        grid = np.unique(t_all)
        d_pods = np.zeros(len(grid))
        d_ready = np.zeros(len(grid))
        d_avail = np.zeros(len(grid))
        for t, dlt in zip(times[1:], deltas[1:], strict=True):
            t = t[np.isfinite(t)]
            idx = np.searchsorted(grid, t)
            for arr, v in zip((d_pods, d_ready, d_avail), dlt, strict=True):
                if v:
                    np.add.at(arr, idx, v)
        ht = h["time"].to_numpy(dtype=float)
        desired = h["desired"].to_numpy()[np.searchsorted(ht, grid, side="right") - 1]
        frame = pd.DataFrame({
            "time": grid, "kind": k, "object": o, "desired": desired.astype(np.int64),
            "pods": np.cumsum(d_pods).astype(np.int64), "ready": np.cumsum(d_ready).astype(np.int64),
            "available": np.cumsum(d_avail).astype(np.int64),
        })
        # One row per change of the counts (several events at one instant: the last).
        changed = frame[["desired", "pods", "ready", "available"]].diff().abs().sum(axis=1) != 0
        changed.iloc[0] = True
        out.append(frame[changed])
    if not out:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    table = pd.concat(out, ignore_index=True)
    table["kind"] = table["kind"].astype("string")
    table["object"] = table["object"].astype("string")
    return table[COLUMNS]


def availability_summary(table: pd.DataFrame, start: float, end: float) -> dict[str, Any]:
    """Over ``[start, end]``: ``availability`` = time integral of min(available,
    desired) over that of desired, summed over objects; ``unavailable_replica_s`` = the
    integral of max(0, desired - available); ``min_available_ratio`` = the lowest
    available / desired of any object while its desired count was > 0."""
    if table.empty or end <= start:
        return {}
    num = den = short = 0.0
    lowest = np.inf
    for _, g in table.groupby(["kind", "object"], sort=False):
        t = g["time"].to_numpy(dtype=float)
        nxt = np.append(t[1:], end)
        lo = np.clip(t, start, end)
        hi = np.clip(nxt, start, end)
        w = hi - lo
        desired = g["desired"].to_numpy(dtype=float)
        avail = g["available"].to_numpy(dtype=float)
        num += float((np.minimum(avail, desired) * w).sum())
        den += float((desired * w).sum())
        short += float((np.maximum(0.0, desired - avail) * w).sum())
        live = (w > 0) & (desired > 0)
        if live.any():
            lowest = min(lowest, float((avail[live] / desired[live]).min()))
    return {
        "availability": num / den if den > 0 else float("nan"),
        "unavailable_replica_s": short,
        "min_available_ratio": lowest if np.isfinite(lowest) else float("nan"),
    }
