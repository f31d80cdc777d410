"""Per-workload availability over time: desired vs existing, ready and available pods.

Reconstructed after the run from the pod table (created, ready, finished), the event
log (``Killing``: the instant a bound pod's deletion was asked for, from which upstream
no longer counts it, ``controller.FilterActivePods``) and what the controllers recorded
(desired replicas over time, ReplicaSet -> Deployment, ``minReadySeconds``). A pod
is not Ready while its node is NotReady (``NodeUpdated`` rows), as upstream's node
lifecycle controller marks it (``MarkPodsNotReady``), and Ready again when the node is.

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
    # Membership by hashing (pandas), not np.isin: on object arrays that sorts Python
    # strings (about a second for 100,000 pods).
    top_kind = np.where((kind == "ReplicaSet") & pd.Series(owner).isin(list(to_deploy)).to_numpy(), "Deployment", kind)
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
    # Pods on a node while it is NotReady are not Ready (upstream's node lifecycle
    # controller marks them so, MarkPodsNotReady); when the node is Ready again they are
    # Ready again, and available minReadySeconds later. Those pods are split below.
    split_o: list[int] = []
    split_ready: list[tuple[float, float]] = []
    split_avail: list[tuple[float, float]] = []
    down = _not_ready_intervals(events)
    if down:
        node = pods["node"].astype(object).to_numpy()[sel]
        for i in np.flatnonzero(has_r & pd.Series(node).isin(list(down)).to_numpy()).tolist():
            spans = _minus(float(r[i]), float(e[i]), down[node[i]])
            if spans == [(float(r[i]), float(e[i]))]:
                continue
            has_r[i] = False
            for s0, s1 in spans:
                split_o.append(int(obj[i]))
                split_ready.append((s0, s1))
                split_avail.append((s0 + float(mr[i]), s1))
    a = r + mr
    has_a = has_r & (a < e)
    so = np.array(split_o, dtype=np.int64)
    sr = np.array(split_ready, dtype=float).reshape(-1, 2)
    sa = np.array(split_avail, dtype=float).reshape(-1, 2)
    ok_a = sa[:, 0] < sa[:, 1]
    parts = [
        (obj, c, (1, 0, 0)), (obj, e, (-1, 0, 0)),
        (obj[has_r], r[has_r], (0, 1, 0)), (obj[has_r], e[has_r], (0, -1, 0)),
        (obj[has_a], a[has_a], (0, 0, 1)), (obj[has_a], e[has_a], (0, 0, -1)),
        (so, sr[:, 0], (0, 1, 0)), (so, sr[:, 1], (0, -1, 0)),
        (so[ok_a], sa[ok_a, 0], (0, 0, 1)), (so[ok_a], sa[ok_a, 1], (0, 0, -1)),
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


def _not_ready_intervals(events: pd.DataFrame) -> dict[str, list[tuple[float, float]]]:
    """Per node name, the intervals it was NotReady (``NodeUpdated`` rows ``NotReady`` /
    ``Ready``; one never Ready again stays NotReady to the end)."""
    rows = events[(events["kind"] == "NodeUpdated") & events["detail"].isin(["NotReady", "Ready"])]
    out: dict[str, list[tuple[float, float]]] = {}
    start: dict[str, float] = {}
    for t, node, detail in zip(rows["time"].tolist(), rows["node"].astype(object).tolist(),
                               rows["detail"].astype(object).tolist(), strict=True):
        if detail == "NotReady":
            start.setdefault(node, float(t))
        elif node in start:
            out.setdefault(node, []).append((start.pop(node), float(t)))
    for node, t0 in start.items():
        out.setdefault(node, []).append((t0, np.inf))
    return out


def _minus(lo: float, hi: float, holes: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """``[lo, hi)`` without the (sorted, disjoint) ``holes``."""
    out = []
    for h0, h1 in holes:
        if h1 <= lo or h0 >= hi:
            continue
        if h0 > lo:
            out.append((lo, h0))
        lo = max(lo, h1)
        if lo >= hi:
            return out
    if lo < hi:
        out.append((lo, hi))
    return out


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
