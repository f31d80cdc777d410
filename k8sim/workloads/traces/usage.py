"""Usage tables of traces that carry them: Alibaba 2018 (batch and online) and Google 2019.

The pod readers (:mod:`.alibaba_2018`, :mod:`.google_2019`) read requests only; this
module reads what the same traces say the pods *used*, and joins it to the pods a
reader produced, as one step series per pod over the pod's age. Nothing here changes
what the pod readers return.

Tables read
    ``alibaba2018``: ``batch_instance.csv`` (the pod reader's instance file), columns
    ``cpu_avg`` / ``cpu_max`` (100 = 1 core) and ``mem_avg`` / ``mem_max`` (memory
    normalised to [0, 100], as ``plan_mem``), one value per instance run: a constant
    usage over the pod's run. (The upstream ``schema.md`` swaps the comments of
    ``cpu_max`` and ``mem_avg``; the column names and order are what count.)

    ``alibaba2018`` containers (the pods of
    :func:`~k8sim.workloads.traces.alibaba_2018.read_alibaba_2018_containers`):
    ``container_usage.csv`` (no header: ``container_id, machine_id, time_stamp,
    cpu_util_percent, mem_util_percent, cpi, mem_gps, mpki, net_in, net_out,
    disk_io_percent``), one sample per row. ``cpu_util_percent`` is a percent of the
    container's CPU request (the trace's maintainers, alibaba/clusterdata issue #62);
    ``mem_util_percent`` is taken as a percent of its memory request (``mem_size``; the
    schema does not say). The other columns are not read.

    ``google2019``: ``instance_usage`` exports (BigQuery CSV with a header, nested
    fields flattened as ``average_usage.cpus`` or ``average_usage_cpus``, or
    newline-delimited JSON), columns ``start_time``, ``end_time`` (microseconds, the
    trace starts at 600 s), ``collection_id``, ``instance_index``,
    ``average_usage.cpus`` / ``.memory`` or ``maximum_usage.cpus`` / ``.memory``
    (normalised like the requests): one row per measurement window (typically 300 s).

Units
    Scaled exactly as the reader scales requests: Alibaba CPU ``value * 10`` milli-cores,
    memory ``value / 100 * machine_memory_bytes``; Google CPU ``value *
    machine_cpu_milli``, memory ``value * machine_memory_bytes``; both times the
    workload's ``resource_scale``. Alibaba containers: ``percent / 100`` times the pod's
    requests (which already carry ``resource_scale``). Times are multiplied by
    ``time_scale``.

Join (:func:`join_usage`)
    Alibaba: a pod's id is its instance's (``instance_name``, ``#<seq_no>`` for
    retries), so each usage row names its pod; a repeated id keeps its last row.
    Google: a usage row names an instance (``<collection_id>/<instance_index>``); it
    belongs to the latest attempt (``#1``, ``#2``... of the pod reader) submitted at or
    before the row's window start. A pod's age 0 is its first usage window's start
    (the run's start), or the trace window's start for a pod already running there
    (``clipped_start``: the pod's run in the simulation is what was left of it);
    windows ending at or before the trace window's start, or starting at or after its
    end, are left out. Between and after windows the last value holds (a step series).
    Alibaba containers: a row names its pod (``container_id``); its value holds from its
    ``time_stamp`` on; the pod's age 0 is its start in the trace (see
    :func:`_join_timed`).

Bad input
    A usage cell that is not a number, or is negative, is a :class:`TraceError` naming
    the file, line and column (usage is what the run is about: no row is silently
    dropped for it); an empty cell (Google's ``maximum_usage`` may be missing) drops
    the row, counted in the report as ``missing_value``. A table none of whose rows
    names a pod of the workload is a :class:`TraceError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from k8sim.workloads.traces.alibaba_2018 import BATCH_INSTANCE_COLUMNS, CONTAINER_USAGE_COLUMNS
from k8sim.workloads.traces.google_2019 import TRACE_START_US, _is_json, read_export
from k8sim.workloads.traces.google_events import instance_keys
from k8sim.workloads.traces.reports import PathLike, TraceError, TraceReport
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.tables import RowCheck, iter_tables, to_object_array

__all__ = [
    "USAGE_FORMATS",
    "PodUsage",
    "UsageRows",
    "join_usage",
    "read_alibaba_2018_container_usage",
    "read_alibaba_2018_usage",
    "read_google_2019_usage",
]

#: Trace formats with usage columns.
USAGE_FORMATS = ("alibaba2018", "google2019")

Statistic = Literal["average", "maximum"]


@dataclass
class UsageRows:
    """Usage rows as read, in request units (milli-cores, bytes; not yet scaled).

    ``key``: the pod id (Alibaba) or instance key (Google) each row names; ``start`` /
    ``end``: the row's window in trace seconds (NaN for Alibaba: one value per run);
    ``cpu`` / ``memory``: the usage. ``per_attempt``: keys name instances whose
    attempts the join tells apart by time (Google)."""

    key: np.ndarray
    start: np.ndarray
    end: np.ndarray
    cpu: np.ndarray
    memory: np.ndarray
    files: tuple[str, ...]
    report: TraceReport
    per_attempt: bool = False
    # Keys are pod ids and ``start`` the time (trace seconds) from which each row's value
    # holds (Alibaba containers: a step series per pod over trace time).
    timed: bool = False
    # ``cpu`` / ``memory`` are shares of each pod's requests (1.0 = the request), not
    # request units; the join multiplies them by the pod's (already scaled) requests.
    relative: bool = False


def _usage_numbers(check: RowCheck, column: str, file: str) -> np.ndarray:
    """``column`` as numbers >= 0: an empty cell drops the row (``missing_value``), a
    cell that is not a number, or is negative, is an error at its line."""
    before = check.ok.copy()
    values = check.number(column, minimum=0)
    bad = before & ~check.ok & ~check.missing(column)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = check.text(column)[i]
        what = "negative" if np.isfinite(values[i]) else "not a number"
        raise TraceError(f"usage {raw!r} is {what}; expected a number >= 0", file=file,
                         line=check.table.where(i, column).line, column=column)
    return values


def _only(keys: pa.Array, only: pa.Array | None) -> np.ndarray:
    """Mask of the rows whose key is in ``only`` (every row without a filter)."""
    if only is None:
        return np.ones(len(keys), dtype=bool)
    return np.asarray(pc.fill_null(pc.is_in(keys, value_set=only), False).to_numpy(zero_copy_only=False), dtype=bool)


def _filter_set(only: Iterable[str] | None) -> pa.Array | None:
    return None if only is None else pa.array(sorted(set(map(str, only))), type=pa.string())


def read_alibaba_2018_usage(batch_instance: PathLike, *, machine_memory_bytes: int,
                            statistic: Statistic = "average", only: Iterable[str] | None = None) -> UsageRows:
    """Usage of each instance run of ``batch_instance.csv`` (``cpu_avg`` / ``mem_avg``,
    or ``cpu_max`` / ``mem_max`` with ``statistic="maximum"``), keyed by the pod id the
    pod reader gives the run. The file is read in batches; with ``only`` (pod ids) just
    the rows of those pods are kept (the other rows are not checked)."""
    if not machine_memory_bytes or machine_memory_bytes <= 0:
        raise ValueError("machine_memory_bytes (the memory a normalised 100 stands for) must be > 0")
    report = TraceReport(source=str(batch_instance))
    wanted = _filter_set(only)
    cpu_col, mem_col = ("cpu_avg", "mem_avg") if statistic == "average" else ("cpu_max", "mem_max")
    parts = []
    file = str(batch_instance)
    for table in iter_tables(batch_instance, BATCH_INSTANCE_COLUMNS, report, header=None):
        file = table.path
        check = RowCheck(table, report)
        name = check.strings("instance_name", nan_is_empty=False)
        seq = check.number("seq_no", required=False)
        again = np.nan_to_num(seq, nan=0.0) > 1  # a retry: "<name>#<seq>", as the pod reader names it
        numbered = pc.binary_join_element_wise(
            name, pc.cast(pa.array(np.where(again, seq, 0).astype(np.int64)), pa.string()), "#")
        key = pc.if_else(pa.array(again), numbered, name)
        check.ok &= _only(key, wanted)
        check.reject(np.asarray(pc.equal(pc.utf8_trim_whitespace(name), "").to_numpy(zero_copy_only=False),
                                dtype=bool), "missing_value", "instance_name")
        cpu = _usage_numbers(check, cpu_col, file)
        mem = _usage_numbers(check, mem_col, file)
        ok = check.ok
        parts.append((to_object_array(key.filter(pa.array(ok))), cpu[ok] * 10.0,
                      mem[ok] / 100.0 * machine_memory_bytes))
    key_all, cpu_all, mem_all = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0)
                                 for i in range(3))
    n = len(key_all)
    return UsageRows(key_all.astype(object), np.full(n, np.nan), np.full(n, np.nan), cpu_all.astype(float),
                     mem_all.astype(float), (file,), report)


def read_alibaba_2018_container_usage(container_usage: PathLike | Sequence[PathLike], *,
                                      only: Iterable[str] | None = None, until: float | None = None) -> UsageRows:
    """Usage samples of ``container_usage.csv`` (one file or several), keyed by
    ``container_id`` (the id of the pod :func:`~.alibaba_2018.read_alibaba_2018_containers`
    makes of the container): ``cpu_util_percent`` and ``mem_util_percent`` as shares
    of the container's requests (``/ 100``), from each row's ``time_stamp`` on. The
    files are read in batches; with ``only`` (container ids) just the rows of those
    containers are kept (the other rows are not checked); with ``until`` (a window's
    end, trace seconds) rows at or after it are not kept either (the join would leave
    them out; the table is large). The other columns (``cpi``,
    ``mem_gps``, ``mpki``, network, disk) are not read."""
    paths = [container_usage] if isinstance(container_usage, str | bytes) or not isinstance(container_usage, Sequence) \
        else list(container_usage)
    report = TraceReport(source=", ".join(str(p) for p in paths))
    wanted = _filter_set(only)
    parts = []
    files: list[str] = []
    for path in paths:
        for table in iter_tables(path, CONTAINER_USAGE_COLUMNS, report, header=None):
            if table.path not in files:
                files.append(table.path)
            check = RowCheck(table, report)
            key = check.strings("container_id", nan_is_empty=False)
            check.ok &= _only(key, wanted)
            check.reject(np.asarray(pc.equal(pc.utf8_trim_whitespace(key), "").to_numpy(zero_copy_only=False),
                                    dtype=bool), "missing_value", "container_id")
            stamp = _usage_numbers(check, "time_stamp", table.path)
            cpu = _usage_numbers(check, "cpu_util_percent", table.path)
            mem = _usage_numbers(check, "mem_util_percent", table.path)
            ok = check.ok if until is None else check.ok & (stamp < until)
            parts.append((to_object_array(key.filter(pa.array(ok))), stamp[ok], cpu[ok] / 100.0, mem[ok] / 100.0))
    key_all, stamp_all, cpu_all, mem_all = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0)
                                            for i in range(4))
    n = len(key_all)
    return UsageRows(key_all.astype(object), stamp_all.astype(float), np.full(n, np.nan), cpu_all.astype(float),
                     mem_all.astype(float), tuple(files or map(str, paths)), report, timed=True, relative=True)


_GOOGLE_ALIASES = {f"{s}_usage.{r}": (f"{s}_usage_{r}",) for s in ("average", "maximum") for r in ("cpus", "memory")}


def read_google_2019_usage(instance_usage: PathLike | Sequence[PathLike], *, machine_cpu_milli: float,
                           machine_memory_bytes: float, statistic: Statistic = "average",
                           trace_start_us: float = TRACE_START_US, only: Iterable[str] | None = None) -> UsageRows:
    """Usage windows of ``instance_usage`` exports (one file or several), keyed by
    instance (``<collection_id>/<instance_index>``). CSV exports are read in batches;
    with ``only`` (instance keys) just the rows of those instances are kept."""
    paths = [instance_usage] if isinstance(instance_usage, str | bytes) or not isinstance(instance_usage, Sequence) \
        else list(instance_usage)
    report = TraceReport(source=", ".join(str(p) for p in paths))
    wanted = _filter_set(only)
    cols = (f"{statistic}_usage.cpus", f"{statistic}_usage.memory")
    expected = ("start_time", "end_time", "collection_id", "instance_index", *cols)
    parts = []
    files = []
    for path in paths:
        # Nested JSON flattens to the dotted names; CSV may spell them with "_".
        tables = [read_export(path, expected, report)] if _is_json(path) else \
            iter_tables(path, expected, report, header=True, aliases=_GOOGLE_ALIASES)
        for table in tables:
            if table.path not in files:
                files.append(table.path)
            check = RowCheck(table, report)
            coll = check.strings("collection_id")
            index = check.number("instance_index", minimum=0)
            key = instance_keys(coll, np.nan_to_num(index, nan=0.0))
            check.ok &= _only(key, wanted)
            check.reject(np.asarray(pc.equal(pc.utf8_trim_whitespace(coll), "").to_numpy(zero_copy_only=False),
                                    dtype=bool), "missing_value", "collection_id")
            t0 = check.number("start_time", minimum=0)
            t1 = check.number("end_time", minimum=0)
            cpu = _usage_numbers(check, cols[0], table.path)
            mem = _usage_numbers(check, cols[1], table.path)
            back = check.ok & (t1 < t0)
            if back.any():
                i = int(np.flatnonzero(back)[0])
                raise TraceError("end_time before start_time", file=table.path,
                                 line=table.where(i, "end_time").line, column="end_time")
            ok = check.ok
            parts.append((to_object_array(key.filter(pa.array(ok))), (t0[ok] - trace_start_us) / 1e6,
                          (t1[ok] - trace_start_us) / 1e6, cpu[ok] * machine_cpu_milli, mem[ok] * machine_memory_bytes))
    key_all, start, end, cpu_all, mem_all = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0)
                                             for i in range(5))
    return UsageRows(key_all.astype(object), start.astype(float), end.astype(float), cpu_all.astype(float),
                     mem_all.astype(float), tuple(files), report, per_attempt=True)


@dataclass
class PodUsage:
    """Step series of usage per pod: pod ``k``'s rows are ``offsets[k]:offsets[k + 1]``
    of ``age_s`` (seconds since the pod's run started, increasing, the first 0),
    ``cpu_milli`` and ``memory_bytes`` (the usage from that age on). A pod with no rows
    has no usage in the trace (``missing``)."""

    offsets: np.ndarray
    age_s: np.ndarray
    cpu_milli: np.ndarray
    memory_bytes: np.ndarray
    unmatched_rows: int  # usage rows naming no pod of the frame (or outside the window)

    @property
    def missing(self) -> np.ndarray:
        return np.diff(self.offsets) == 0

    def series(self, pod: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        a, b = int(self.offsets[pod]), int(self.offsets[pod + 1])
        return self.age_s[a:b], self.cpu_milli[a:b], self.memory_bytes[a:b]

    def at(self, pods: np.ndarray, age: np.ndarray, memory: bool) -> np.ndarray:
        """Each pod's usage at its ``age`` (NaN for pods without rows, or -1), vectorised: the
        rows are laid out pod after pod, so a search over ``pod * span + age`` finds
        each pod's last row at or before its age."""
        values = self.memory_bytes if memory else self.cpu_milli
        safe = np.maximum(pods, 0)
        start = self.offsets[safe]
        has = (pods >= 0) & (self.offsets[safe + 1] > start)
        out = np.full(pods.size, np.nan)
        if not has.any():
            return out
        pos = np.searchsorted(self._keys, pods[has] * self._span + np.clip(age[has], 0.0, self._span / 2),
                              side="right") - 1
        out[has] = values[np.maximum(pos, start[has])]
        return out

    def __post_init__(self) -> None:
        top = float(self.age_s.max()) if self.age_s.size else 0.0
        self._span = float(2.0 ** np.ceil(np.log2(2.0 * top + 2.0)))
        row_pod = np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))
        self._keys = row_pod * self._span + self.age_s


def join_usage(rows: UsageRows, pods: pd.DataFrame, options: TraceOptions | None = None) -> PodUsage:
    """Each pod of ``pods`` (a reader's frame, normalised schema) with its usage series;
    units scaled by ``options.resource_scale`` and ages by ``options.time_scale``.
    Raises :class:`TraceError` when no usage row names a pod of the frame."""
    options = options or TraceOptions()
    lo = options.start_s if options.start_s is not None else 0.0
    hi = options.end_s if options.end_s is not None else np.inf
    ids = pods["id"].to_numpy(dtype=object).astype(str)
    n = len(ids)
    rs, ts = options.resource_scale, options.time_scale
    if rows.timed:
        result = _join_timed(rows, pods, ids, lo, hi, rs, ts)
    elif not rows.per_attempt:
        # One value per pod id (the last row of an id counts), at age 0.
        last = pd.Series(np.arange(len(rows.key))).groupby(rows.key, sort=False).last()
        row_of = pd.Index(last.index).get_indexer(ids)
        has = row_of >= 0
        src = last.to_numpy()[row_of[has]]
        offsets = np.concatenate([[0], np.cumsum(has.astype(np.int64))])
        matched = int(np.isin(last.index.to_numpy(), ids).sum()) if len(last) else 0
        result = PodUsage(offsets, np.zeros(int(has.sum())), rows.cpu[src] * rs, rows.memory[src] * rs,
                          int(len(rows.key) - matched))
    else:
        result = _join_attempts(rows, pods, ids, lo, hi, rs, ts)
    if n and result.offsets[-1] == 0:
        example = ", ".join(sorted(set(map(str, rows.key[:3])))) or "none"
        raise TraceError(f"no usage row names a pod of the trace workload (usage keys such as {example}; "
                         f"pod ids such as {', '.join(ids[:3])}); is it the usage table of the same trace?",
                         file=", ".join(rows.files))
    return result


def _join_attempts(rows: UsageRows, pods: pd.DataFrame, ids: np.ndarray, lo: float, hi: float,
                   rs: float, ts: float) -> PodUsage:
    """Google: windows -> the attempt submitted latest at or before each window."""
    n = len(ids)
    base = np.array([i.split("#", 1)[0] for i in ids], dtype=object)
    arrival = pods["arrival_s"].to_numpy(dtype=float)
    clipped = pods["clipped_start"].to_numpy(dtype=bool)
    submit = np.where(clipped, -np.inf, arrival / ts + lo)  # trace seconds
    # Windows inside the trace window only.
    inside = (rows.end > lo) & (rows.start < hi)
    key = rows.key[inside]
    start, cpu, mem = rows.start[inside], rows.cpu[inside], rows.memory[inside]
    # Attempts of each instance in submit order; a window goes to the last attempt
    # submitted at or before its start.
    if key.size == 0:
        return PodUsage(np.zeros(n + 1, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0), int(rows.key.size))
    pod_frame = pd.DataFrame({"base": pd.Series(base, dtype="str"), "submit": submit, "pod": np.arange(n)})
    win = pd.DataFrame({"base": pd.Series(key, dtype="str"), "submit": start, "row": np.arange(key.size)}).sort_values(
        ["submit"], kind="stable")
    joined = pd.merge_asof(win, pod_frame.sort_values("submit", kind="stable"), on="submit", by="base",
                           direction="backward")
    pod_of = np.full(key.size, -1, dtype=np.int64)
    got = joined["pod"].notna().to_numpy()
    pod_of[joined["row"].to_numpy()[got]] = joined["pod"].to_numpy()[got].astype(np.int64)
    matched = pod_of >= 0
    p, t, c, m = pod_of[matched], np.maximum(start[matched], lo), cpu[matched], mem[matched]
    order = np.lexsort((t, p))
    p, t, c, m = p[order], t[order], c[order], m[order]
    counts = np.bincount(p, minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    first = np.repeat(t[offsets[:-1][counts > 0]], counts[counts > 0])
    age = (t - first) * ts
    # Windows at the same age (a cut window and the next one): the later row wins.
    keep = np.ones(age.size, dtype=bool)
    if age.size > 1:
        keep[:-1] = ~((p[1:] == p[:-1]) & (age[1:] == age[:-1]))
    if not keep.all():
        p, age, c, m = p[keep], age[keep], c[keep], m[keep]
        counts = np.bincount(p, minlength=n)
        offsets = np.concatenate([[0], np.cumsum(counts)])
    return PodUsage(offsets, age, c * rs, m * rs, int(rows.key.size - int(matched.sum())))



def _join_timed(rows: UsageRows, pods: pd.DataFrame, ids: np.ndarray, lo: float, hi: float,
                rs: float, ts: float) -> PodUsage:
    """Alibaba containers: samples keyed by pod id, each holding from its time stamp on.

    A pod's age 0 is its start in the trace (its arrival; the window start for a pod
    already running there). Samples at or after the window's end are left out; of the
    samples at or before the pod's start only the last counts (at age 0), and when the
    first sample comes after the start, its value holds from age 0 (the usage before a
    container's first sample is not known; its first one is the best guess)."""
    n = len(ids)
    arrival = pods["arrival_s"].to_numpy(dtype=float)
    clipped = pods["clipped_start"].to_numpy(dtype=bool)
    start_trace = np.where(clipped, lo, arrival / ts + lo)  # trace seconds
    index = pd.Index(ids)
    if not index.is_unique:
        index = index[~index.duplicated()]
    pod_of = index.get_indexer(rows.key.astype(str)) if rows.key.size else np.zeros(0, dtype=np.int64)
    matched = (pod_of >= 0) & (rows.start < hi)
    p, t = pod_of[matched].astype(np.int64), rows.start[matched]
    c, m = rows.cpu[matched], rows.memory[matched]
    order = np.lexsort((np.arange(p.size), t, p))  # by pod, time, then file order
    p, t, c, m = p[order], t[order], c[order], m[order]
    age = np.maximum(t - start_trace[p], 0.0) * ts
    # At equal ages (samples at or before the start, or at one time stamp) the later row wins.
    keep = np.ones(age.size, dtype=bool)
    if age.size > 1:
        keep[:-1] = ~((p[1:] == p[:-1]) & (age[1:] == age[:-1]))
    p, age, c, m = p[keep], age[keep], c[keep], m[keep]
    counts = np.bincount(p, minlength=n) if p.size else np.zeros(n, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    if age.size:
        age[offsets[:-1][counts > 0]] = 0.0  # the first sample holds from the start
    if rows.relative:
        # Shares of the pod's requests, which already carry the resource scale.
        c = c * pods["cpu_milli"].to_numpy(dtype=float)[p]
        m = m * pods["memory_bytes"].to_numpy(dtype=float)[p]
    else:
        c, m = c * rs, m * rs
    return PodUsage(offsets, age, c, m, int(rows.key.size - int(matched.sum())))
