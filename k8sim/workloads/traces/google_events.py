"""Google cluster traces as event logs: rebuilding pods and nodes from their events.

The Google traces (clusterdata-2011-2, :mod:`~k8sim.workloads.traces.google_2011`, and
clusterdata-2019, :mod:`~k8sim.workloads.traces.google_2019`) record what happened, not
what existed: each task (instance) and each machine is a sequence of events. Both
readers parse their own rows into :class:`Events` (event-type codes mapped to the
lifecycle roles below) and share the rest:

- :func:`lifecycles` follows each task through its events. A SUBMIT opens an attempt
  (a resubmission after the run ended opens another, id suffixed ``#1``, ``#2``...),
  SCHEDULE starts its run, the next END event (EVICT / FAIL / FINISH / KILL / LOST)
  ends it. Requests are the latest ones of SUBMIT / UPDATE_PENDING / SCHEDULE before the
  run starts. An attempt that ends without being scheduled never ran and is filtered
  (``never_scheduled``); one still open at the end of the events has no end; one
  without a CPU or memory request is dropped (``missing_request``).
- :func:`pods_from_lifecycles` scales the normalised requests by the stated machine
  shape and builds the pods; :func:`nodes_from_machine_events` gives each machine the
  capacity of its latest ADD or UPDATE event that has one.
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from k8sim.workloads.traces.build import build_nodes, build_pods, outside_window, raw_frame
from k8sim.workloads.traces.reports import MAX_EXAMPLES, PathLike, TraceReport, Where
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.tables import RowCheck, Table

__all__ = [
    "END",
    "OTHER",
    "SCHEDULE",
    "SUBMIT",
    "UPDATE_PENDING",
    "Attempts",
    "Events",
    "InstanceBuckets",
    "WindowSummary",
    "as_paths",
    "buckets_for",
    "check_shape",
    "concat_events",
    "event_codes",
    "instance_keys",
    "lifecycles",
    "nodes_from_machine_events",
    "pods_from_lifecycles",
    "qos_labels",
    "trace_seconds",
]

#: 2**63 - 1: "after the end of the trace".
_AFTER_END_US = float(2**63 - 1)

# Lifecycle roles of events.
SUBMIT, SCHEDULE, END, UPDATE_PENDING, OTHER = 0, 1, 2, 3, 4


def event_codes(check: RowCheck, column: str, names: dict[str, int]) -> np.ndarray:
    """Event type codes from numbers or enum names; unknown ones drop ``bad_event_type``.

    A cell is a name in any case (``submit``), or a number whose value is one of the
    codes (``3``, ``3.0``). ASCII names and plain digit strings are mapped with pyarrow;
    anything else goes through the same rule in Python.
    """
    raw = check.table.cells[column]
    values = pa.array(raw, type=pa.string()) if isinstance(raw, np.ndarray) else raw
    n = len(values)
    codes = np.full(n, np.nan)
    valid = set(names.values())
    keys = list(names)
    by_name = np.array([names[k] for k in keys], dtype=float)
    pos = np.asarray(pc.index_in(pc.ascii_upper(values), value_set=pa.array(keys, pa.string()))
                     .to_numpy(zero_copy_only=False), dtype=float)
    named = ~np.isnan(pos)
    codes[named] = by_name[pos[named].astype(np.int64)]
    digits = pc.match_substring_regex(values, "^[0-9]{1,18}$")
    number = np.asarray(pc.cast(pc.if_else(digits, values, "-1"), pa.int64()).to_numpy(zero_copy_only=False))
    plain = np.asarray(digits.to_numpy(zero_copy_only=False), dtype=bool) & ~named
    hit = plain & np.isin(number, list(valid))
    codes[hit] = number[hit]
    rest = np.flatnonzero(~named & ~plain)
    if len(rest):
        for i, value in zip(rest, values.take(pa.array(rest)).to_pylist(), strict=True):
            code = names.get(value.upper())
            if code is None:
                try:
                    f = float(value)
                except ValueError:
                    continue
                code = int(f) if f.is_integer() and int(f) in valid else None
            if code is not None:
                codes[i] = code
    check.reject(np.isnan(codes), "bad_event_type", column)
    return codes


def instance_keys(owner: pa.Array, index: np.ndarray) -> pa.Array:
    """``"<owner>/<index>"`` per event (``index`` a float holding an integer)."""
    big = np.abs(index) >= 2.0**62
    if big.any():  # beyond int64: Python's int() spelling
        text = pa.array([str(int(k)) for k in index], type=pa.string())
    else:
        text = pc.cast(pa.array(index.astype(np.int64)), pa.string())
    return pc.binary_join_element_wise(owner, text, "/")


def trace_seconds(time_us: np.ndarray, trace_start_us: float) -> np.ndarray:
    """Trace microseconds -> seconds from the trace start (-inf before it, +inf after)."""
    seconds = (time_us - trace_start_us) / 1e6
    seconds = np.where(time_us == 0, -np.inf, seconds)
    return np.where(time_us >= _AFTER_END_US, np.inf, seconds)


# --------------------------------------------------------------------------- lifecycles


@dataclass
class Events:
    """Instance events in a common form (one entry per good event row).

    ``key``, ``owner``, ``qos`` and ``file`` are numpy object arrays of ``str`` or
    pyarrow string arrays."""

    key: Any  # "<collection>/<index>"
    owner: Any
    time: np.ndarray  # seconds from the trace start; -inf before, +inf after
    role: np.ndarray  # SUBMIT / SCHEDULE / END / UPDATE_PENDING / OTHER
    cpu: np.ndarray  # normalised, NaN = absent
    memory: np.ndarray
    priority: np.ndarray  # float, NaN = absent
    qos: Any
    file: Any  # file label of each event
    line: np.ndarray  # int: its line (or record) number


# States of an instance between its events: no attempt open, pending, running.
_NONE, _PENDING, _RUNNING = 0, 1, 2


def _strings(values: Any) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    return pa.array(np.asarray(values, dtype=object), type=pa.string())


def _last_per_group(group: np.ndarray, mask: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group (``group`` non-decreasing), the position of the last True of ``mask``; -1 if none."""
    out = np.full(n_groups, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    out[group[idx]] = idx  # later positions overwrite earlier ones
    return out


class Attempts:
    """The attempts of instances from their events' keys, times and roles (the part of
    :func:`lifecycles` that needs nothing else; a windowed read runs it on compact
    arrays of the whole file first). ``key_codes``: equal for the events of one
    instance, ordered as the instances are to be.

    Events are sorted by key, time and input order (``order``; ``role`` and ``time`` in
    that order). The state of each instance before each event (no attempt, pending,
    running) follows from the last SUBMIT / SCHEDULE / END before it, which fixes where
    attempts open (``open_pos``, sorted positions) and close (``end``: the closing
    time, inf while open), which run (``sched``), which never ran (``never``) and which
    events lend their requests (``takes``)."""

    def __init__(self, key_codes: np.ndarray, times: np.ndarray, roles: np.ndarray) -> None:
        n = len(times)
        # (lexsort is stable: events equal in key and time stay in input order without
        # a third key of positions.)
        self.order = order = np.lexsort((times, key_codes))
        code = key_codes[order]
        self.role = role = np.asarray(roles)[order]
        self.time = time = np.asarray(times, dtype=float)[order]

        new_key = np.ones(n, dtype=bool)
        new_key[1:] = code[1:] != code[:-1]
        self.key_start = key_start = np.maximum.accumulate(np.where(new_key, np.arange(n), 0))
        # State after each event: set by the last SUBMIT (pending), SCHEDULE (running) or
        # END (none) of the same key at or before it; none before the key's first such event.
        decisive = (role == SUBMIT) | (role == SCHEDULE) | (role == END)
        last = np.maximum.accumulate(np.where(decisive, np.arange(n), -1))
        after_state = np.where(role == SUBMIT, _PENDING, np.where(role == SCHEDULE, _RUNNING, _NONE))
        state_after = np.where(last >= key_start, after_state[np.maximum(last, 0)], _NONE)
        self.before = before = np.empty(n, dtype=np.int64)
        if n:
            before[0] = _NONE
        before[1:] = state_after[:-1]
        before[new_key] = _NONE

        opens = ((role == SUBMIT) & (before != _PENDING)) | ((role == SCHEDULE) & (before == _NONE))
        self.attempt = attempt = np.cumsum(opens) - 1  # the attempt open at (or opened by) each event
        self.n_att = n_att = int(opens.sum())
        self.open_pos = np.flatnonzero(opens)
        # Events lending their requests: every SUBMIT, a SCHEDULE that starts the run, an
        # UPDATE_PENDING while pending.
        self.starts_run = starts_run = (role == SCHEDULE) & (before != _RUNNING)
        self.takes = (role == SUBMIT) | starts_run | ((role == UPDATE_PENDING) & (before == _PENDING))

        self.sched = np.full(n_att, np.nan)
        self.has_sched = np.zeros(n_att, dtype=bool)
        sp = np.flatnonzero(starts_run)
        self.sched[attempt[sp]] = time[sp]
        self.has_sched[attempt[sp]] = True

        # How each attempt ends: an END (running: closed; pending: never scheduled), a
        # SUBMIT while running (closed at that time; it opens the next attempt), or the end
        # of its key's events (still open: no end).
        self.end = end = np.full(n_att, np.inf)
        ce = np.flatnonzero((role == END) & (before != _NONE))
        self.never = np.zeros(n_att, dtype=bool)
        self.never[attempt[ce]] = before[ce] == _PENDING
        end[attempt[ce]] = time[ce]
        rs = np.flatnonzero((role == SUBMIT) & (before == _RUNNING))
        end[attempt[rs] - 1] = time[rs]

    def has_latest(self, present: np.ndarray) -> np.ndarray:
        """Per attempt: whether an event lending its requests has ``present`` (in input order)."""
        return _last_per_group(self.attempt, self.takes & np.asarray(present)[self.order], self.n_att) >= 0


def lifecycles(events: Events, report: TraceReport) -> pd.DataFrame:
    """Pods (intermediate frame, normalised requests) from instance events.

    Vectorised: events are sorted by key (as strings), time and input order; the state
    of each instance before each event (no attempt, pending, running) follows from the
    last SUBMIT / SCHEDULE / END before it, which fixes where attempts open and close
    and which events lend their requests; everything else is grouping by attempt.
    """
    n = len(events.time)
    if n == 0:
        return pd.DataFrame(columns=["id", "owner", "arrival", "end", "duration", "cpu", "memory", "priority", "qos"])
    # Key ranks in string order (pyarrow sorts UTF-8 bytes: the code-point order of str).
    # (Batches encoded as they are: the chunks of a chunked encoding share one dictionary.)
    keys = events.key if isinstance(events.key, pa.ChunkedArray) else _strings(events.key)
    encoded = pc.dictionary_encode(keys)
    if isinstance(encoded, pa.ChunkedArray):
        dictionary = encoded.chunk(encoded.num_chunks - 1).dictionary
        key_index = np.concatenate([np.asarray(c.indices, dtype=np.int64) for c in encoded.chunks])
    else:
        dictionary = encoded.dictionary
        key_index = np.asarray(encoded.indices, dtype=np.int64)
    rank = np.empty(len(dictionary), dtype=np.int64)
    rank[np.asarray(pc.sort_indices(dictionary))] = np.arange(len(dictionary))
    key_codes = rank[key_index]
    a = Attempts(key_codes, np.asarray(events.time, dtype=float), np.asarray(events.role))
    order, time, attempt, n_att, open_pos, key_start, takes = (
        a.order, a.time, a.attempt, a.n_att, a.open_pos, a.key_start, a.takes)

    def latest(values: np.ndarray, present: np.ndarray, default: Any) -> np.ndarray:
        pos = _last_per_group(attempt, takes & present, n_att)
        out = np.full(n_att, default, dtype=values.dtype)
        found = pos >= 0
        out[found] = values[pos[found]]
        return out

    cpu_e = np.asarray(events.cpu, dtype=float)[order]
    mem_e = np.asarray(events.memory, dtype=float)[order]
    prio_e = np.asarray(events.priority, dtype=float)[order]
    cpu = latest(cpu_e, ~np.isnan(cpu_e), np.nan)
    memory = latest(mem_e, ~np.isnan(mem_e), np.nan)
    priority = latest(prio_e, ~np.isnan(prio_e), np.nan)
    # The QoS of the latest lending event that has one (only those cells are taken).
    # (Chunked text is taken from as it is: joining its chunks first is a copy of every cell.)
    qos_all = events.qos if isinstance(events.qos, pa.ChunkedArray) else _strings(events.qos)
    has_qos = np.asarray(pc.not_equal(qos_all, "").to_numpy(zero_copy_only=False), dtype=bool)[order]
    qos_pos = _last_per_group(attempt, takes & has_qos, n_att)
    qos = pc.if_else(pa.array(qos_pos >= 0), qos_all.take(pa.array(order[np.maximum(qos_pos, 0)])), "")

    sched, has_sched, end, never = a.sched, a.has_sched, a.end, a.never
    report.filter("never_scheduled", int(never.sum()))

    closed = ~never
    missing = closed & (np.isnan(cpu) | np.isnan(memory))
    if missing.any():
        files = _strings(events.file)
        lines = np.asarray(events.line)
        first = order[open_pos[np.flatnonzero(missing)[:MAX_EXAMPLES]]]
        labels = files.take(pa.array(first)).to_pylist()
        report.drop("missing_request", int(missing.sum()),
                    [Where(f, int(x)) for f, x in zip(labels, lines[first], strict=True)])
    keep = closed & ~missing

    # Attempt number within its key: 0 for the first ("key"), then "key#1", "key#2" ...
    first_attempt = attempt[key_start[open_pos]]
    number = np.arange(n_att) - first_attempt
    src = order[open_pos[keep]]
    base = dictionary.take(pa.array(key_index[src]))
    num = number[keep]
    suffixed = pc.binary_join_element_wise(base, pc.cast(pa.array(num), pa.string()), "#")
    ids = pc.if_else(pa.array(num > 0), suffixed, base)
    owner = (events.owner if isinstance(events.owner, pa.ChunkedArray) else _strings(events.owner)).take(pa.array(src))

    arrival = time[open_pos[keep]]
    end_k = end[keep]
    sched_k = sched[keep]
    run_start = np.where(sched_k == -np.inf, 0.0, sched_k)
    duration = np.where(np.isinf(end_k) | ~has_sched[keep], np.nan, end_k - run_start)
    prio_k = priority[keep]
    return pd.DataFrame(
        {
            "id": pd.array(ids, dtype="str"),
            "owner": pd.array(owner, dtype="str"),
            "arrival": np.where(arrival == -np.inf, np.nan, arrival),
            "end": np.where(end_k == np.inf, np.nan, end_k),
            "duration": duration,
            "cpu": cpu[keep],
            "memory": memory[keep],
            "priority": np.where(np.isnan(prio_k), 0.0, prio_k),
            "qos": pd.array(qos.filter(pa.array(keep)), dtype="str"),
        },
        copy=False,  # new arrays: not copied into one block
    )


def _text(column: pd.Series) -> Any:
    """A text column as pyarrow strings when it is held in Arrow memory, else objects."""
    if column.dtype == "str" and isinstance(column.array, pd.arrays.ArrowStringArray):
        return pa.array(column.array)
    return column.to_numpy(dtype=object)


def pods_from_lifecycles(
    frame: pd.DataFrame,
    *,
    file: str,
    options: TraceOptions | None,
    rng: np.random.Generator | None,
    report: TraceReport,
    machine_cpu_milli: float,
    machine_memory_bytes: float,
) -> pd.DataFrame:
    """Pods from :func:`lifecycles` output: requests times the stated machine shape."""
    raw = raw_frame(
        len(frame),
        id=_text(frame["id"]),
        arrival=frame["arrival"].to_numpy(dtype=float),
        end=frame["end"].to_numpy(dtype=float),
        duration=frame["duration"].to_numpy(dtype=float),
        cpu_milli=frame["cpu"].to_numpy(dtype=float) * machine_cpu_milli,
        memory_bytes=frame["memory"].to_numpy(dtype=float) * machine_memory_bytes,
        priority=frame["priority"].to_numpy(dtype=float),
        qos=_text(frame["qos"]),
        owner=_text(frame["owner"]),
    )
    return build_pods(raw, file=file, options=options, rng=rng, report=report)


def check_shape(machine_cpu_milli: float, machine_memory_bytes: float) -> None:
    """``ValueError`` unless the stated machine shape is positive."""
    if not (machine_cpu_milli > 0 and machine_memory_bytes > 0):
        raise ValueError(
            "machine_cpu_milli and machine_memory_bytes (what a normalised 1.0 stands for) must be > 0"
        )


#: Scheduling classes below this are labelled through a table (others: sorted).
_FEW_CLASSES = 1024


def qos_labels(sched_class: np.ndarray) -> pa.Array:
    """``sc<class>`` per scheduling class, ``""`` where it is unknown (NaN), as pyarrow strings."""
    c = np.asarray(sched_class, dtype=float)
    known = ~np.isnan(c)
    index = np.zeros(len(c), dtype=np.int64)
    labels = [""]
    if known.any():
        values = c[known].astype(np.int64)
        lo, hi = int(values.min()), int(values.max())
        if 0 <= lo and hi < _FEW_CLASSES:
            # Small classes (the traces' 0..3): the distinct ones and their ranks from a
            # table, what np.unique gives without sorting the events.
            present = np.zeros(hi + 1, dtype=bool)
            present[values] = True
            uniq = np.flatnonzero(present)
            rank = np.cumsum(present) - 1
            inverse = rank[values]
        else:
            uniq, inverse = np.unique(values, return_inverse=True)
        labels += [f"sc{int(u)}" for u in uniq]
        index[known] = inverse.reshape(-1) + 1
    return pa.array(labels, pa.string()).take(pa.array(index))


def concat_events(parts: list[Events]) -> Events:
    """The events of several files (part files) as one :class:`Events`."""
    if not parts:
        empty = pa.array([], pa.string())
        return Events(key=empty, owner=empty, time=np.zeros(0), role=np.zeros(0, np.int64), cpu=np.zeros(0),
                      memory=np.zeros(0), priority=np.zeros(0), qos=empty, file=empty,
                      line=np.zeros(0, np.int64))
    if len(parts) == 1:
        return parts[0]

    def strings(name: str) -> pa.ChunkedArray:
        return pa.chunked_array([_strings(getattr(p, name)) for p in parts], type=pa.string())

    return Events(
        key=strings("key"),
        owner=strings("owner"),
        time=np.concatenate([p.time for p in parts]),
        role=np.concatenate([p.role for p in parts]),
        cpu=np.concatenate([p.cpu for p in parts]),
        memory=np.concatenate([p.memory for p in parts]),
        priority=np.concatenate([p.priority for p in parts]),
        qos=strings("qos"),
        file=strings("file"),
        line=np.concatenate([p.line for p in parts]),
    )


def nodes_from_machine_events(
    table: Table,
    report: TraceReport,
    *,
    type_column: str,
    event_types: dict[str, int],
    cpus_column: str,
    memory_column: str,
    machine_cpu_milli: float,
    machine_memory_bytes: float,
) -> pd.DataFrame:
    """One node per ``machine_id`` of a machine-events table (Google 2011 or 2019, each
    with its own ``event_types`` codes): the capacity of its latest ADD or UPDATE event
    that has one, scaled by the stated machine shape; machines without any are dropped
    (``missing_capacity``). Nodes come in order of first appearance."""
    check = RowCheck(table, report)
    time_us = check.number("time", minimum=0)
    codes = event_codes(check, type_column, event_types)
    cpus = check.number(cpus_column, required=False, minimum=0)
    memory = check.number(memory_column, required=False, minimum=0)
    ids = check.text("machine_id")
    check.reject(ids == "", "missing_value", "machine_id")
    ok = check.ok
    capacity_codes = [event_types["ADD"], event_types["UPDATE"]]
    has_cap = ok & np.isin(codes, capacity_codes) & ~np.isnan(cpus) & ~np.isnan(memory)
    frame = pd.DataFrame(
        {
            "name": ids,
            "time": time_us,
            "order": np.arange(len(ids)),
            "cpu_milli": cpus * machine_cpu_milli,
            "memory_bytes": memory * machine_memory_bytes,
        }
    )
    first_seen = frame[ok].groupby("name", sort=False)["order"].min()
    latest = frame[has_cap].sort_values(["time", "order"], kind="stable").groupby("name", sort=False).tail(1)
    with_cap = set(latest["name"])
    no_cap = [m for m in first_seen.index if m not in with_cap]
    if no_cap:
        first_rows = [int(first_seen[m]) for m in no_cap]
        report.drop("missing_capacity", len(no_cap), (table.where(r) for r in first_rows))
    latest = latest.assign(first=latest["name"].map(first_seen)).sort_values("first")
    raw = latest.assign(gpu_count=0, gpu_model="").reset_index(drop=True)
    return build_nodes(raw, file=table.path, report=report)


def as_paths(p: PathLike | Sequence[PathLike]) -> list[PathLike]:
    """One file or several (a trace's part files) as a list."""
    return [p] if isinstance(p, str | Path) else list(cast(Sequence[PathLike], p))


# --------------------------------------------------------------------------- windowed reads

#: Bytes of input whose compact events make one bucket of :class:`InstanceBuckets`
#: (compact events take about half the bytes of their CSV rows).
BUCKET_INPUT_BYTES = 64 << 20
#: At most this many buckets (files open at once; fewer if the process may not open as
#: many): past ``MAX_BUCKETS * BUCKET_INPUT_BYTES`` of input a bucket holds more.
MAX_BUCKETS = 4096

_COMPACT = pa.schema([("key", pa.string()), ("time", pa.float64()), ("role", pa.int8()), ("cpu", pa.bool_()),
                      ("memory", pa.bool_()), ("file", pa.int32()), ("line", pa.int64())])


#: Buckets on disk are compressed (instance keys and flags compress well).
_SPILL_OPTIONS = pa.ipc.IpcWriteOptions(compression="lz4" if pa.Codec.is_available("lz4") else None)


@dataclass
class WindowSummary:
    """What a whole-file read would count, and the instances with a pod in the window
    (see :class:`InstanceBuckets`)."""

    never_scheduled: int
    missing_request: int
    #: (file number, line) of the first attempts without a request, in whole-file order.
    missing_at: list[tuple[int, int]]
    kept: int
    outside_window: int
    #: Keys of the instances with an attempt in the window.
    inside_keys: pa.Array


class InstanceBuckets:
    """Compact events of instance-event files, spread over buckets by instance, for a
    time-window read whose memory does not grow with the files.

    Which attempts an instance has, and so whether it has a pod in the window, depends
    on all its events, wherever they are in the files. Each event is kept as its
    instance key, time, role, whether it has a CPU and a memory request, and where it is
    (file number, line); all events of one instance go to the same bucket (by a hash of
    the instance). With more than one bucket they are written to Arrow IPC files in a
    temporary directory (``directory``, else the system's), and :meth:`summary` reads
    one bucket at a time. ``n_buckets`` is chosen from the input size
    (:func:`buckets_for`) so that a bucket holds about as much as a batch."""

    def __init__(self, n_buckets: int, directory: str | None = None) -> None:
        self.n = max(1, int(n_buckets))
        self._memory: list[pa.RecordBatch] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._writers: list[pa.ipc.RecordBatchFileWriter] = []
        self._paths: list[str] = []
        if self.n > 1:
            self._tmp = tempfile.TemporaryDirectory(prefix="k8sim-window-", dir=directory)
            for b in range(self.n):
                path = os.path.join(self._tmp.name, f"bucket-{b}.arrow")
                self._paths.append(path)
                self._writers.append(pa.ipc.new_file(path, _COMPACT, options=_SPILL_OPTIONS))

    def close(self) -> None:
        for w in self._writers:
            w.close()
        self._writers = []
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> InstanceBuckets:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, events: Events, index: np.ndarray, file_number: int) -> None:
        """The events of one batch (``index``: their instance indices, as in the keys)."""
        batch = pa.RecordBatch.from_arrays(
            [_strings(events.key), pa.array(np.asarray(events.time, dtype=float)),
             pa.array(np.asarray(events.role, dtype=np.int8)), pa.array(~np.isnan(events.cpu)),
             pa.array(~np.isnan(events.memory)), pa.array(np.full(len(events.time), file_number, np.int32)),
             pa.array(np.asarray(events.line, dtype=np.int64))], schema=_COMPACT)
        if self.n == 1:
            self._memory.append(batch)
            return
        # Bucket: a hash of the collection plus the index as the key spells it (trunc).
        owner = pc.dictionary_encode(_strings(events.owner))
        names = owner.dictionary.to_numpy(zero_copy_only=False).astype(object)
        h = (pd.util.hash_array(names, categorize=False) % np.uint64(self.n)).astype(np.int64)
        with np.errstate(invalid="ignore"):
            k = np.fmod(np.abs(np.trunc(np.asarray(index, dtype=float))), self.n)
        bucket = (h[np.asarray(owner.indices, dtype=np.int64)] + np.nan_to_num(k).astype(np.int64)) % self.n
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(self.n + 1))
        sorted_batch = batch.take(pa.array(order))
        for b in range(self.n):
            if bounds[b + 1] > bounds[b]:
                self._writers[b].write_batch(sorted_batch.slice(bounds[b], bounds[b + 1] - bounds[b]))

    def _buckets(self) -> Iterator[pa.Table]:
        if self.n == 1:
            yield pa.Table.from_batches(self._memory, schema=_COMPACT)
            return
        for w in self._writers:
            w.close()
        self._writers = []
        for path in self._paths:
            with pa.memory_map(path) as source:
                table = pa.ipc.open_file(source).read_all()
            yield table

    def summary(self, options: TraceOptions) -> WindowSummary:
        """Attempt counts of all the events added, and the instances in the window of
        ``options`` (as :func:`lifecycles` and :func:`~k8sim.workloads.traces.build.
        build_pods` would find them on a whole-file read)."""
        never = missing = kept = outside = 0
        examples: list[tuple[str, int, int, int]] = []  # (key, attempt in key, file, line)
        inside: list[pa.Array] = []
        for table in self._buckets():
            if table.num_rows == 0:
                continue
            keys = table.column("key").combine_chunks()
            encoded = pc.dictionary_encode(keys)
            rank = np.empty(len(encoded.dictionary), dtype=np.int64)
            rank[np.asarray(pc.sort_indices(encoded.dictionary))] = np.arange(len(encoded.dictionary))
            code = rank[np.asarray(encoded.indices, dtype=np.int64)]
            a = Attempts(code, table.column("time").to_numpy(), table.column("role").to_numpy())
            has_cpu = a.has_latest(table.column("cpu").to_numpy(zero_copy_only=False))
            has_mem = a.has_latest(table.column("memory").to_numpy(zero_copy_only=False))
            never_b = a.never
            missing_b = ~never_b & ~(has_cpu & has_mem)
            never += int(never_b.sum())
            opener = a.order[a.open_pos]  # the event (bucket order) opening each attempt
            if missing_b.any():
                miss = np.flatnonzero(missing_b)
                missing += len(miss)
                # Whole-file order: by instance key (as text), then attempt; attempts here
                # are in that order already, so the bucket's first ones are candidates.
                first_attempt = a.attempt[a.key_start[a.open_pos]]
                head = miss[:MAX_EXAMPLES]
                files = table.column("file").to_numpy()
                lines = table.column("line").to_numpy()
                texts = keys.take(pa.array(opener[head])).to_pylist()
                examples = heapq.nsmallest(MAX_EXAMPLES, examples + [
                    (t, int(i - first_attempt[i]), int(files[opener[i]]), int(lines[opener[i]]))
                    for t, i in zip(texts, head, strict=True)])
            kept_b = ~never_b & ~missing_b
            arrival = a.time[a.open_pos]
            arrival = np.where(arrival == -np.inf, np.nan, arrival)
            end = np.where(a.end == np.inf, np.nan, a.end)
            out_b = kept_b & outside_window(arrival, end, options)
            in_b = kept_b & ~out_b
            kept += int(kept_b.sum())
            outside += int(out_b.sum())
            if in_b.any():
                inside.append(pc.unique(keys.take(pa.array(opener[in_b]))))
        return WindowSummary(never, missing, [(f, line) for _, _, f, line in examples], kept, outside,
                             pa.concat_arrays(inside) if inside else pa.array([], pa.string()))


def buckets_for(paths: Sequence[PathLike]) -> int:
    """How many buckets an :class:`InstanceBuckets` of these files takes (about
    :data:`BUCKET_INPUT_BYTES` of input each; gzip counted five times its size)."""
    total = 0
    for p in paths:
        try:
            size = os.path.getsize(p)
        except OSError:
            continue
        total += size * 5 if str(p).endswith(".gz") else size
    try:
        import resource  # (Unix)

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        unlimited = soft == resource.RLIM_INFINITY
    except (ImportError, OSError, ValueError):
        soft, unlimited = 1024, False
    most = MAX_BUCKETS if unlimited else max(1, min(MAX_BUCKETS, soft // 2 - 64))
    return int(min(most, max(1, -(-total // BUCKET_INPUT_BYTES))))
