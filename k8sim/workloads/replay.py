"""Trace replay: from a scenario's trace workload to the sequence of pods to submit.

``timed`` mode submits the trace's pods at their arrival times with their run times
(pods with no known end run for ever). ``inflation`` mode follows Weng et al., "Beware
of Fragmentation", USENIX ATC '23: the pods are shuffled, then copies drawn uniformly
with replacement from them are appended until the cumulative GPU request reaches
``target_gpu_share`` of the cluster's GPU capacity; the sequence stops at the first pod
at which the cumulative request reaches the target (so a target below the trace's own
share keeps a prefix of the shuffled pods). Times are ignored: pod ``i`` is submitted
at ``i * interval_s``; pods never leave; a pod that cannot be placed is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from k8sim.config.workloads import TraceWorkload
from k8sim.workloads.traces.formats import read_pods
from k8sim.workloads.traces.reports import MAX_EXAMPLES, TraceReport

__all__ = ["InflationError", "Replay", "inflation_order", "load_replay", "report_warnings"]


class InflationError(ValueError):
    """The inflation sequence cannot be built (no GPUs in the cluster or the pods)."""

#: Copies are drawn in blocks of this many (the draws depend only on the seed).
_BLOCK = 4096


@dataclass
class Replay:
    """The pods one trace workload submits, in order.

    ``pods``: the trace frame (normalised schema) of the submitted pods, one row per
    submission (copies repeat rows), with ``submit_s`` (when) and ``name`` (the trace
    id; copies get ``~k`` appended, k = 1, 2, ... per id) added. ``trace``: the frame as
    read (after window and sampling, before inflation): the workload's own pods.
    """

    pods: pd.DataFrame
    trace: pd.DataFrame
    reports: list[TraceReport] = field(default_factory=list)
    copies: int = 0


def inflation_order(gpu_request: np.ndarray, capacity_milli: int, target_share: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Row indices of the inflated sequence: a permutation of all rows, then uniform
    draws with replacement, cut at the first pod where the cumulative GPU request
    reaches ``target_share * capacity_milli``. Raises :class:`InflationError` when the
    pods ask for no GPU or the cluster has none."""
    req = np.asarray(gpu_request, dtype=np.int64)
    n = req.size
    if capacity_milli <= 0:
        raise InflationError("inflation needs GPUs in the cluster (its target is a share of GPU capacity)")
    if n == 0 or req.sum() <= 0:
        raise InflationError("inflation needs pods that request GPUs (its target is a share of GPU capacity)")
    target = target_share * capacity_milli
    order = [rng.permutation(n)]
    total = int(req[order[0]].sum())
    while total < target:
        block = rng.integers(0, n, size=_BLOCK)
        order.append(block)
        total += int(req[block].sum())
    seq = np.concatenate(order)
    cum = np.cumsum(req[seq])
    stop = int(np.searchsorted(cum, target, side="left")) + 1
    return seq[:stop]


def load_replay(trace: TraceWorkload, *, sample_rng: np.random.Generator, inflation_rng: np.random.Generator,
                gpu_capacity_milli: int, max_pods: int | None = None) -> Replay:
    """Read a trace workload's files and build its submission sequence.

    Raises :class:`~k8sim.workloads.traces.reports.TraceError` for unusable files,
    :class:`InflationError` for an impossible inflation and ValueError for reader
    arguments a reader rejects."""
    rng = np.random.default_rng(trace.sample_seed) if trace.sample_seed is not None else sample_rng
    frame, reports = read_pods(trace.format, trace.files, trace.options(), rng, dict(trace.args))
    ids = frame["id"].to_numpy(dtype=object)
    if trace.mode == "timed":
        pods = frame if max_pods is None else frame.iloc[:max_pods]
        pods = pods.reset_index(drop=True).assign(submit_s=pods["arrival_s"].to_numpy(), name=ids[: len(pods)])
        return Replay(pods, frame, reports)
    req = frame["gpu_count"].to_numpy(dtype=np.int64) * frame["gpu_milli"].to_numpy(dtype=np.int64)
    seq = inflation_order(req, gpu_capacity_milli, trace.target_gpu_share, inflation_rng)
    if max_pods is not None:
        seq = seq[:max_pods]
    n = len(frame)
    copy_no = np.zeros(seq.size, dtype=np.int64)
    if seq.size > n:
        extra = seq[n:]
        # k-th copy of the same row: running count per row, starting at 1.
        order = np.argsort(extra, kind="stable")
        sorted_rows = extra[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_rows)) + 1]
        run = np.arange(extra.size) - np.repeat(starts, np.diff(np.r_[starts, extra.size]))
        k = np.empty(extra.size, dtype=np.int64)
        k[order] = run + 1
        copy_no[n:] = k
    names = [str(ids[r]) if c == 0 else f"{ids[r]}~{c}" for r, c in zip(seq.tolist(), copy_no.tolist(), strict=True)]
    pods = frame.iloc[seq].reset_index(drop=True)
    pods = pods.assign(submit_s=np.arange(seq.size) * trace.interval_s, name=names,
                       duration_s=np.inf, clipped_end=False)
    return Replay(pods, frame, reports, copies=int(max(seq.size - n, 0)))


def report_warnings(where: str, reports: list[TraceReport]) -> list[str]:
    """One warning per report that dropped rows: counts per reason and the first lines."""
    out = []
    for r in reports:
        if not r.dropped:
            continue
        parts = []
        for reason, count in sorted(r.dropped.items()):
            places = r.dropped_at.get(reason, [])
            lines = ", ".join(
                f"{w.line}" + (f" ({w.column})" if w.column else "") for w in places[:MAX_EXAMPLES] if w.line is not None
            )
            parts.append(f"{reason}: {count}" + (f" (first at line {lines})" if lines else ""))
        out.append(f"{where}: {r.source}: {r.n_dropped} of {r.rows_read} rows dropped: " + "; ".join(parts))
    return out
