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
    keys = list(dict.fromkeys(zip(hist["kind"].astype(object), hist["object"].astype(object), strict=True)))
    if not keys:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in COLUMNS})
    index = {k: i for i, k in enumerate(keys)}
    min_ready = {(k, o): float(m) for k, o, m in objects[["kind", "object", "min_ready_s"]].itertuples(index=False)}
    # Every change as a row: (object, time, d_desired-or-level, d_pods, d_ready, d_available).
    obj = np.array([index.get((k, o), -1) for k, o in zip(top_kind, top, strict=True)], dtype=np.int64)
    sel = obj >= 0
    obj, c, e, r = obj[sel], created[sel], end[sel], ready[sel]
    mr = np.array([min_ready.get(keys[i], 0.0) for i in range(len(keys))])[obj] if len(obj) else np.zeros(0)
    has_r = ~np.isnan(r) & (r < e)
    a = r + mr
    has_a = has_r & (a < e)
    parts = [
        (obj, c, (1, 0, 0)), (obj, e, (-1, 0, 0)),
        (obj[has_r], r[has_r], (0, 1, 0)), (obj[has_r], e[has_r], (0, -1, 0)),
        (obj[has_a], a[has_a], (0, 0, 1)), (obj[has_a], e[has_a], (0, 0, -1)),
    ]
    h_obj = np.array([index[k] for k in zip(hist["kind"].astype(object), hist["object"].astype(object), strict=True)])
    h_t = hist["time"].to_numpy(dtype=float)
    o_all = np.concatenate([h_obj] + [p[0] for p in parts])
    t_all = np.concatenate([h_t] + [p[1] for p in parts])
    deltas = np.zeros((len(t_all), 3))
    pos = len(h_t)
    for o_p, _t_p, dlt in parts:
        deltas[pos:pos + len(o_p)] = dlt
        pos += len(o_p)
    keep = np.isfinite(t_all)
    o_all, t_all, deltas = o_all[keep], t_all[keep], deltas[keep]
    order = np.lexsort((t_all, o_all))
    o_all, t_all, deltas = o_all[order], t_all[order], deltas[order]
    # Cumulative counts within each object.
    counts = np.cumsum(deltas, axis=0)
    first = np.r_[0, np.flatnonzero(np.diff(o_all)) + 1]
    starts = np.repeat(first, np.diff(np.r_[first, len(o_all)]))
    base = counts[starts] - deltas[starts]
    counts = counts - base
    # Desired: the latest history row of the object at or before each time.
    desired = np.zeros(len(t_all), dtype=np.int64)
    h_order = np.lexsort((h_t, h_obj))
    h_obj_s, h_t_s = h_obj[h_order], h_t[h_order]
    h_val = hist["desired"].to_numpy()[h_order]
    key_h = h_obj_s.astype(float) * 1e12 + h_t_s
    key_q = o_all.astype(float) * 1e12 + t_all
    at = np.searchsorted(key_h, key_q, side="right") - 1
    ok = (at >= 0) & (h_obj_s[np.clip(at, 0, None)] == o_all)
    desired[ok] = h_val[at[ok]]
    # One row per object and instant (the state after every change at that instant),
    # and only where something changed.
    last = np.r_[(o_all[1:] != o_all[:-1]) | (t_all[1:] != t_all[:-1]), True]
    frame = pd.DataFrame({
        "time": t_all[last], "obj": o_all[last], "desired": desired[last],
        "pods": counts[last, 0].astype(np.int64), "ready": counts[last, 1].astype(np.int64),
        "available": counts[last, 2].astype(np.int64),
    })
    vals = frame[["obj", "desired", "pods", "ready", "available"]].to_numpy()
    changed = np.r_[True, (vals[1:] != vals[:-1]).any(axis=1)]
    frame = frame[changed].reset_index(drop=True)
    frame.insert(1, "kind", pd.Series([keys[i][0] for i in frame["obj"]], dtype="string"))
    frame.insert(2, "object", pd.Series([keys[i][1] for i in frame["obj"]], dtype="string"))
    return frame[COLUMNS]


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
