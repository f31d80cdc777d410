"""Nodes in use, node-hours and lost pods: summary parts computed from the result tables.

Definitions (also in ``docs/summary.md``):

- A node is *in use* while at least one pod submitted by a workload is bound to it (from
  the pod's ``scheduled`` to its ``finished``, or the end of the run). Initial pods
  (the scenario's ``initial_pods``, placed before the run) do not count: they stand for
  the system pods every node carries. A pod leaving and another arriving at the same
  instant keep the node in use.
- ``nodes_in_use_mean``: the time-weighted mean number of nodes in use over the summary
  window ``[warmup_s, end]``; ``nodes_in_use_peak``: the largest number in use at any
  instant of that window; ``node_hours_in_use``: the integral of the number in use
  over the window, in hours; ``node_hours``: the integral of the number of nodes
  present (``created`` to ``removed``), in hours.
- A pod is *lost* when it ends Failed. Its reason is the kind of its terminal event:
  ``Preempted``, ``NodeLost``, ``Failed`` (a container exited with an error under
  ``restartPolicy: Never``), ``Dropped`` (trace inflation: given up after one failed
  attempt); anything else (a pod deleted through the API) is ``other``.
- ``work_lost_share``: the CPU-seconds of run time thrown away, over the CPU-seconds of
  run time of every pod of the window. A pod's run time is from ``running`` to
  ``finished`` (or the end of the run), weighted by its CPU request; the run time of a
  pod that ended Failed, or that was being killed (preempted, node lost) at the end, is
  thrown away (k8sim has no checkpoints: a killed pod's work is redone from the start
  if at all). NaN when no pod ran.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Terminal event kinds of a Failed pod -> the summary key of its reason.
FAILURE_REASONS = {
    "Preempted": "preempted",
    "NodeLost": "node_lost",
    "Failed": "container_error",
    "Dropped": "unschedulable",
}
#: The reasons in the order of the summary keys (``pods_failed_<reason>``).
FAILURE_KEYS = ("preempted", "node_lost", "container_error", "unschedulable", "other")
#: Terminal event kinds (a pod's last one tells how it ended).
_TERMINAL = ("Completed", "Failed", "Preempted", "NodeLost", "Dropped", "Deleted")


#: Pods per group of nodes in :func:`in_use_steps` (bounds its temporaries).
_STEPS_CHUNK = 1 << 17


def _node_changes(nd: np.ndarray, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For occupancies ``[s, e)`` of nodes ``nd`` (``e > s``): the instants a node goes
    in use (+1) or out of use (-1), ordered by node, then time."""
    half = s.size
    t = np.concatenate([s, e])
    n = np.concatenate([nd, nd])
    order = np.lexsort((t, n))  # by node, then time
    t = t[order]
    n = n[order]
    d = np.where(order < half, 1, -1).astype(np.int64)  # starts (first half) +1, ends -1
    del order
    # Net change per (node, instant).
    first = np.ones(t.size, dtype=bool)
    first[1:] = (n[1:] != n[:-1]) | (t[1:] != t[:-1])
    at = np.flatnonzero(first)
    del first
    d = np.add.reduceat(d, at)
    t = t[at]
    n = n[at]
    del at
    # Pods on the node after each instant: every node's changes sum to 0, so one running
    # sum restarts at 0 at each node's first instant.
    used = (np.cumsum(d) > 0).astype(np.int64)
    del d
    before = np.concatenate([[0], used[:-1]])
    before[np.concatenate([[True], n[1:] != n[:-1]])] = 0
    change = used - before
    nz = np.flatnonzero(change)
    return t[nz], change[nz]


def in_use_steps(node: np.ndarray, start: np.ndarray, end: np.ndarray, end_time: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The number of nodes in use as a step function: ``(times, counts)``, the count
    being ``counts[k]`` on ``[times[k], times[k+1])`` (the last step up to ``end_time``).

    ``node``, ``start``, ``end``: one entry per bound pod (its node, bind time and
    release time; NaN release = still bound at ``end_time``).
    """
    s = np.asarray(start, dtype=np.float64)
    e = np.asarray(end, dtype=np.float64)
    e = np.where(np.isnan(e), end_time, np.minimum(e, end_time))
    keep = e > s  # an occupancy of zero length does not put a node in use
    if not keep.any():
        return np.array([0.0]), np.array([0])
    nd = np.asarray(node, dtype=np.int64)[keep]
    s = s[keep]
    e = e[keep]
    del keep
    if nd.size <= _STEPS_CHUNK:
        t, change = _node_changes(nd, s, e)
    else:
        # Nodes in groups of about _STEPS_CHUNK pods, each group's changes computed on
        # its own: they are the whole computation's entries for those nodes, in the same
        # order (by node, then time), so the result is the same with a bounded share of
        # the temporaries (a million pods' summary peaked here).
        by_node = np.argsort(nd, kind="stable")
        nd = nd[by_node]
        s = s[by_node]
        e = e[by_node]
        del by_node
        parts_t: list[np.ndarray] = []
        parts_c: list[np.ndarray] = []
        lo = 0
        while lo < nd.size:
            hi = nd.size if lo + _STEPS_CHUNK >= nd.size else int(
                np.searchsorted(nd, nd[lo + _STEPS_CHUNK], side="right"))
            pt, pc = _node_changes(nd[lo:hi], s[lo:hi], e[lo:hi])
            parts_t.append(pt)
            parts_c.append(pc)
            lo = hi
        t, change = np.concatenate(parts_t), np.concatenate(parts_c)
    order = np.argsort(t, kind="stable")
    t, change = t[order], change[order]
    first = np.ones(t.size, dtype=bool)
    first[1:] = t[1:] != t[:-1]
    at = np.flatnonzero(first)
    times = t[at]
    counts = np.cumsum(np.add.reduceat(change, at))
    if times[0] > 0:
        times = np.concatenate([[0.0], times])
        counts = np.concatenate([[0], counts])
    return times, counts


def step_stats(times: np.ndarray, counts: np.ndarray, lo: float, hi: float) -> tuple[float, float, float]:
    """``(integral, mean, peak)`` of the step function over ``[lo, hi]`` (NaN mean and
    peak when the window is empty)."""
    if hi <= lo:
        return 0.0, float("nan"), float("nan")
    ends = np.append(times[1:], max(hi, times[-1]))
    a = np.maximum(times, lo)
    b = np.minimum(ends, hi)
    width = np.clip(b - a, 0.0, None)
    integral = float((width * counts).sum())
    inside = width > 0
    peak = float(counts[inside].max()) if inside.any() else float("nan")
    return integral, integral / (hi - lo), peak


def node_usage(pods: pd.DataFrame, nodes: pd.DataFrame, lo: float, hi: float) -> dict[str, float]:
    """``nodes_in_use_mean``, ``nodes_in_use_peak``, ``node_hours_in_use`` and
    ``node_hours`` over ``[lo, hi]`` (module docstring)."""
    bound = rows_where(pods[["node", "scheduled", "finished"]],
                       (pods["workload"] != "") & pods["scheduled"].notna() & (pods["node"] != ""))
    node_idx, _ = pd.factorize(bound["node"])
    times, counts = in_use_steps(node_idx, bound["scheduled"].to_numpy(dtype=float),
                                 bound["finished"].to_numpy(dtype=float), hi)
    integral, mean, peak = step_stats(times, counts, lo, hi)
    if not {"created", "removed"} <= set(nodes.columns):  # a run directory saved without nodes
        return {"nodes_in_use_mean": mean, "nodes_in_use_peak": peak, "node_hours_in_use": integral / 3600.0,
                "node_hours": float("nan")}
    created = nodes["created"].to_numpy(dtype=float)
    removed = nodes["removed"].to_numpy(dtype=float)
    removed = np.where(np.isnan(removed), hi, removed)
    present = np.clip(np.minimum(removed, hi) - np.maximum(created, lo), 0.0, None)
    return {
        "nodes_in_use_mean": mean,
        "nodes_in_use_peak": peak,
        "node_hours_in_use": integral / 3600.0,
        "node_hours": float(present.sum()) / 3600.0,
    }


def terminal_kinds(events: pd.DataFrame) -> pd.Series:
    """The last terminal event kind of each pod (index: pod name)."""
    term = events[events["kind"].isin(_TERMINAL) & (events["pod"] != "")]
    return term.groupby("pod", sort=False, observed=True)["kind"].last().astype(str)


def rows_where(frame: pd.DataFrame, mask: pd.Series) -> pd.DataFrame:
    """``frame[mask]``, or ``frame`` itself when every row is selected: a boolean
    selection copies every column, and at a million pods the summary's windows (all the
    pods, all that ran) each copied the whole pods frame. For reading only."""
    return frame if bool(mask.all()) else frame[mask]


def losses(win: pd.DataFrame, events: pd.DataFrame, end_time: float, cpu_column: str | None
           ) -> dict[str, float | int]:
    """``pods_preempted``, ``pods_failed``, ``pods_failed_<reason>`` and
    ``work_lost_share`` of the window's pods ``win`` (module docstring)."""
    failed = win[win["phase"] == "Failed"]
    row: dict[str, float | int] = {}
    if {"kind", "pod", "detail"} <= set(events.columns):
        killing = events[events["kind"] == "Killing"]
        killed = set(killing["pod"].tolist())
        preempted = set(killing.loc[killing["detail"] == "Preempted", "pod"].tolist())
        counts: dict[str, int] = {}
        if len(failed):
            kinds = terminal_kinds(events[events["pod"].isin(set(failed["pod"].tolist()))])
            for k in kinds.reindex(failed["pod"].tolist()).fillna("").tolist():
                key = FAILURE_REASONS.get(k, "other")
                counts[key] = counts.get(key, 0) + 1
        row["pods_preempted"] = int(win["pod"].isin(preempted).sum()) if preempted else 0
        row["pods_failed"] = len(failed)
        for key in FAILURE_KEYS:
            row[f"pods_failed_{key}"] = counts.get(key, 0)
    else:  # a run directory saved without its event log: reasons unknown
        killed = set()
        row["pods_preempted"] = float("nan")
        row["pods_failed"] = len(failed)
        for key in FAILURE_KEYS:
            row[f"pods_failed_{key}"] = float("nan")
        row["pods_failed_unschedulable"] = int((failed["reason"] == "Unschedulable").sum())
    ran = rows_where(win, win["running"].notna())
    run_s = np.minimum(ran["finished"].fillna(end_time).to_numpy(dtype=float), end_time) \
        - ran["running"].to_numpy(dtype=float)
    run_s = np.clip(run_s, 0.0, None)
    cpu = ran[cpu_column].to_numpy(dtype=float) if cpu_column is not None else np.ones(len(ran))
    work = run_s * cpu
    lost = (ran["phase"] == "Failed").to_numpy().copy()
    if killed:
        lost |= ran["pod"].isin(killed).to_numpy()
    total = float(work.sum())
    row["work_lost_share"] = float(work[lost].sum()) / total if total > 0 else float("nan")
    return row
