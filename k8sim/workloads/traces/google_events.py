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
from dataclasses import dataclass, field
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
    pyarrow string arrays (``owner`` and ``file`` may also be dictionary-encoded).
    With ``index`` (the instance index of each event) the key is ``owner`` and
    ``index``, and ``key`` may be None: its text is made only where it is needed."""

    key: Any  # "<collection>/<index>" (or None, see ``index``)
    owner: Any
    time: np.ndarray  # seconds from the trace start; -inf before, +inf after
    role: np.ndarray  # SUBMIT / SCHEDULE / END / UPDATE_PENDING / OTHER
    cpu: np.ndarray  # normalised, NaN = absent
    memory: np.ndarray
    priority: np.ndarray  # float, NaN = absent
    qos: Any
    file: Any  # file label of each event
    line: np.ndarray  # int: its line (or record) number
    #: Instance index of each event (a float holding an integer, as
    #: :func:`instance_keys` takes it), or None when only ``key`` is given.
    index: np.ndarray | None = None

    def keys(self) -> pa.Array | pa.ChunkedArray:
        """The instance key text of each event (made from ``owner`` and ``index`` when
        ``key`` is None)."""
        if self.key is not None:
            return self.key if isinstance(self.key, pa.ChunkedArray) else _strings(self.key)
        assert self.index is not None
        return instance_keys(_plain(self.owner), np.asarray(self.index, dtype=float))


# States of an instance between its events: no attempt open, pending, running.
_NONE, _PENDING, _RUNNING = 0, 1, 2


def _strings(values: Any) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    if isinstance(values, pa.Array):
        return values
    return pa.array(np.asarray(values, dtype=object), type=pa.string())


def _plain(values: Any) -> pa.Array | pa.ChunkedArray:
    """Text as pyarrow strings (dictionary-encoded text decoded; chunks kept)."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        return _strings(values)
    return values.cast(pa.string()) if pa.types.is_dictionary(values.type) else values


def _text_at(values: Any, positions: np.ndarray) -> list[str]:
    """The cells of a text column (plain, chunked or dictionary-encoded) at ``positions``."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        return [str(v) for v in np.asarray(values, dtype=object)[positions]]
    return cast(list[str], values.take(pa.array(positions, type=pa.int64())).to_pylist())


def _text_rank(text: pa.Array) -> np.ndarray:
    """Rank of each cell of distinct strings in byte (code point) order."""
    rank = np.empty(len(text), dtype=np.int64)
    rank[np.asarray(pc.sort_indices(text))] = np.arange(len(text))
    return rank


def _owner_codes(owner: Any) -> tuple[np.ndarray, pa.Array]:
    """Per event the number of its owner among ``names`` (distinct owners), and the names.
    Dictionary-encoded chunks (each batch with its own dictionary) are mapped through
    the distinct entries of their dictionaries, not cell by cell."""
    chunks = owner.chunks if isinstance(owner, pa.ChunkedArray) else [_plain(owner)]
    encoded = [c if pa.types.is_dictionary(c.type) else pc.dictionary_encode(c) for c in chunks]
    if not encoded:
        return np.zeros(0, dtype=np.int64), pa.array([], pa.string())
    if len(encoded) == 1:
        return np.asarray(encoded[0].indices, dtype=np.int64), encoded[0].dictionary
    joint = pc.dictionary_encode(pa.concat_arrays([e.dictionary for e in encoded]))
    to_joint = np.asarray(joint.indices, dtype=np.int64)
    out = np.empty(sum(len(e) for e in encoded), dtype=np.int64)
    start = first = 0
    for e in encoded:
        local = np.asarray(e.indices, dtype=np.int64)
        np.take(to_joint[first:first + len(e.dictionary)], local, out=out[start:start + len(e)])
        start += len(e)
        first += len(e.dictionary)
    return out, joint.dictionary


#: Instance indices below this are ranked through a table (others: sorted).
_FEW_INDICES = 1 << 22


def _numeric_keys(owner: Any, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, pa.Array] | None:
    """Per event a number whose order is that of its key text ``"<owner>/<index>"``
    (equal for equal keys), with the owner numbers and names of :func:`_owner_codes`;
    None where the numbers cannot tell that order (an owner holding ``/``, an index
    past 2**62, spelled by Python's ``int``).

    The key text orders by owner first: with no ``/`` in any owner, ``"<a>/..."``
    precedes ``"<b>/..."`` exactly when ``"<a>/"`` precedes ``"<b>/"`` (neither is a
    prefix of the other), so owners are ranked by that text, indices by their decimal
    text, and a key is ``owner rank * indices + index rank``."""
    index = np.asarray(index, dtype=float)
    if len(index) and float(np.abs(index).max()) >= 2.0**62:
        return None
    codes, names = _owner_codes(owner)
    if len(names) and pc.any(pc.match_substring(names, "/")).as_py():
        return None
    owner_rank = _text_rank(pc.binary_join_element_wise(names, "/", ""))
    idx = index.astype(np.int64)
    if not len(idx):
        return codes, codes, names
    lo, hi = int(idx.min()), int(idx.max())
    if lo >= 0 and hi < _FEW_INDICES:
        present = np.zeros(hi + 1, dtype=bool)
        present[idx] = True
        uniq = np.flatnonzero(present)
        rank_of = np.zeros(hi + 1, dtype=np.int64)
        rank_of[uniq] = _text_rank(pc.cast(pa.array(uniq), pa.string()))
        idx_rank = rank_of[idx]
    else:
        uniq, inverse = np.unique(idx, return_inverse=True)
        idx_rank = _text_rank(pc.cast(pa.array(uniq), pa.string()))[inverse.reshape(-1)]
    if len(names) * len(uniq) >= 2**62:
        return None  # (more distinct owners and indices than the numbers hold)
    key = owner_rank[codes]
    key *= len(uniq)
    key += idx_rank
    return key, codes, names


def _last_per_group(group: np.ndarray, mask: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group (``group`` non-decreasing), the position of the last True of ``mask``; -1 if none."""
    out = np.full(n_groups, -1, dtype=np.int64)
    idx = np.flatnonzero(mask)
    out[group[idx]] = idx  # later positions overwrite earlier ones
    return out


def _sort_events(key_codes: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order of events by key, time and input order (and the sorted keys and times).

    Usually each instance's events come in time order already (the traces are sorted by
    time): then sorting by key and input position alone (one sort of ``key * n +
    position``, numbers all distinct) gives that order, which is checked; else (or when
    the product would not fit) a stable sort by key and time (lexsort)."""
    n = len(times)
    if n and int(key_codes.min()) >= 0 and int(key_codes.max()) < (2**62) // n:
        composite = key_codes.astype(np.int64, copy=True)
        composite *= n
        composite += np.arange(n)
        composite.sort()
        code, order = np.divmod(composite, n)
        del composite
        time = times[order]
        if not (np.less(time[1:], time[:-1]) & np.equal(code[1:], code[:-1])).any():
            return order, code, time
    # (lexsort is stable: events equal in key and time stay in input order without a
    # third key of positions.)
    order = np.lexsort((times, key_codes))
    return order, key_codes[order], times[order]


class Attempts:
    """The attempts of instances from their events' keys, times and roles (the part of
    :func:`lifecycles` that needs nothing else; a windowed read runs it on the
    events of one bucket at a time first). ``key_codes``: equal for the events of one
    instance, ordered as the instances are to be.

    Events are sorted by key, time and input order (``order``; ``role`` and ``time`` in
    that order). The state of each instance before each event (no attempt, pending,
    running) follows from the last SUBMIT / SCHEDULE / END before it, which fixes where
    attempts open (``open_pos``, sorted positions; ``number``: the attempt's number
    within its key) and close (``end``: the closing time, inf while open), which run
    (``sched``), which never ran (``never``) and which events lend their requests
    (``takes``)."""

    def __init__(self, key_codes: np.ndarray, times: np.ndarray, roles: np.ndarray) -> None:
        times = np.asarray(times, dtype=float)
        self.order, code, self.time = order, code, time = _sort_events(np.asarray(key_codes), times)
        n = len(order)
        self.role = role = np.asarray(roles).astype(np.int8)[order]

        new_key = np.ones(n, dtype=bool)
        np.not_equal(code[1:], code[:-1], out=new_key[1:])
        # State after each event: set by the last SUBMIT (pending), SCHEDULE (running) or
        # END (none) of the same key at or before it; none before the key's first such
        # event. (The first event of a key sets the state too: to none unless decisive.)
        after = np.full(n, -1, dtype=np.int8)
        after[role == SUBMIT] = _PENDING
        after[role == SCHEDULE] = _RUNNING
        after[role == END] = _NONE
        after[new_key & (after < 0)] = _NONE
        last = np.where(after >= 0, np.arange(n), 0)
        np.maximum.accumulate(last, out=last)
        self.before = before = np.empty(n, dtype=np.int8)
        before[1:] = after[last[:-1]]
        before[new_key] = _NONE
        del last, after

        is_submit = role == SUBMIT
        is_schedule = role == SCHEDULE
        opens = (is_submit & (before != _PENDING)) | (is_schedule & (before == _NONE))
        self.attempt = attempt = np.cumsum(opens) - 1  # the attempt open at (or opened by) each event
        self.open_pos = open_pos = np.flatnonzero(opens)
        self.n_att = n_att = len(open_pos)
        # Attempt number within its key (the ``#n`` of its id): 0 for the key's first, 1,
        # 2 ... for the next; counted from the key's first event, so when that event opens
        # no attempt (an END, say) the first attempt is 1.
        key_of = np.cumsum(new_key)[open_pos] - 1
        first = np.ones(n_att, dtype=bool)
        np.not_equal(key_of[1:], key_of[:-1], out=first[1:])
        rank = np.arange(n_att) - np.maximum.accumulate(np.where(first, np.arange(n_att), 0))
        self.number = rank + ~opens[np.flatnonzero(new_key)][key_of]
        # Events lending their requests: every SUBMIT, a SCHEDULE that starts the run, an
        # UPDATE_PENDING while pending.
        self.starts_run = starts_run = is_schedule & (before != _RUNNING)
        self.takes = is_submit | starts_run | ((role == UPDATE_PENDING) & (before == _PENDING))

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
        rs = np.flatnonzero(is_submit & (before == _RUNNING))
        end[attempt[rs] - 1] = time[rs]

    def has_latest(self, present: np.ndarray) -> np.ndarray:
        """Per attempt: whether an event lending its requests has ``present`` (in input order)."""
        return _last_per_group(self.attempt, self.takes & np.asarray(present)[self.order], self.n_att) >= 0


def lifecycles(events: Events, report: TraceReport) -> pd.DataFrame:
    """Pods (intermediate frame, normalised requests) from instance events.

    Vectorised: events are sorted by key (in the order of the key text), time and input
    order; the state of each instance before each event (no attempt, pending, running)
    follows from the last SUBMIT / SCHEDULE / END before it, which fixes where attempts
    open and close and which events lend their requests; everything else is grouping
    by attempt. With ``events.index`` the keys are numbers made from the owners and
    indices (:func:`_numeric_keys`); their text is made for the pods kept only.
    """
    n = len(events.time)
    if n == 0:
        return pd.DataFrame(columns=["id", "owner", "arrival", "end", "duration", "cpu", "memory", "priority", "qos"])
    numeric = _numeric_keys(events.owner, events.index) if events.index is not None else None
    if numeric is not None:
        key_codes, owner_codes, owner_names = numeric
    else:
        # Key ranks in string order (pyarrow sorts UTF-8 bytes: the code-point order of str).
        # (Batches encoded as they are: the chunks of a chunked encoding share one dictionary.)
        encoded = pc.dictionary_encode(events.keys())
        if isinstance(encoded, pa.ChunkedArray):
            dictionary = encoded.chunk(encoded.num_chunks - 1).dictionary
            key_index = np.concatenate([np.asarray(c.indices, dtype=np.int64) for c in encoded.chunks])
        else:
            dictionary = encoded.dictionary
            key_index = np.asarray(encoded.indices, dtype=np.int64)
        key_codes = _text_rank(dictionary)[key_index]
    a = Attempts(key_codes, np.asarray(events.time, dtype=float), np.asarray(events.role))
    del key_codes
    order, time, attempt, n_att, open_pos, takes = a.order, a.time, a.attempt, a.n_att, a.open_pos, a.takes

    def latest(values: Any) -> np.ndarray:
        """Per attempt, the value of the latest lending event that has one (NaN if none)."""
        values = np.asarray(values, dtype=float)
        pos = _last_per_group(attempt, takes & ~np.isnan(values)[order], n_att)
        out = np.full(n_att, np.nan)
        found = np.flatnonzero(pos >= 0)
        out[found] = values[order[pos[found]]]
        return out

    cpu = latest(events.cpu)
    memory = latest(events.memory)
    priority = latest(events.priority)
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
        lines = np.asarray(events.line)
        first = order[open_pos[np.flatnonzero(missing)[:MAX_EXAMPLES]]]
        labels = _text_at(events.file, first)
        report.drop("missing_request", int(missing.sum()),
                    [Where(f, int(x)) for f, x in zip(labels, lines[first], strict=True)])
    keep = closed & ~missing

    # Attempt number within its key: 0 for the first ("key"), then "key#1", "key#2" ...
    src = order[open_pos[keep]]
    num = a.number[keep]
    if numeric is not None:
        owner = owner_names.take(pa.array(owner_codes[src]))
        index = pc.cast(pa.array(np.asarray(events.index, dtype=float)[src].astype(np.int64)), pa.string())
        base = pc.binary_join_element_wise(owner, index, "/")
    else:
        base = dictionary.take(pa.array(key_index[src]))
        owner = _plain(events.owner if isinstance(events.owner, pa.ChunkedArray) else _strings(events.owner)
                       ).take(pa.array(src))
    suffixed = pc.binary_join_element_wise(base, pc.cast(pa.array(num), pa.string()), "#")
    ids = pc.if_else(pa.array(num > 0), suffixed, base)

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

    def text(values: list[Any]) -> pa.ChunkedArray:
        """Text columns as chunks: as they are when all are dictionary-encoded (each
        chunk keeps its dictionary), else as plain strings."""
        arrays = [v if isinstance(v, pa.Array | pa.ChunkedArray) else _strings(v) for v in values]
        if not all(pa.types.is_dictionary(v.type) for v in arrays):
            arrays = [_plain(v) for v in arrays]
        chunks = [c for v in arrays for c in (v.chunks if isinstance(v, pa.ChunkedArray) else [v])]
        return pa.chunked_array(chunks, type=arrays[0].type)

    with_index = all(p.index is not None for p in parts)
    return Events(
        key=None if with_index and any(p.key is None for p in parts) else text([p.keys() for p in parts]),
        owner=text([p.owner for p in parts]),
        time=np.concatenate([p.time for p in parts]),
        role=np.concatenate([p.role for p in parts]),
        cpu=np.concatenate([p.cpu for p in parts]),
        memory=np.concatenate([p.memory for p in parts]),
        priority=np.concatenate([p.priority for p in parts]),
        qos=text([p.qos for p in parts]),
        file=text([p.file for p in parts]),
        line=np.concatenate([p.line for p in parts]),
        index=np.concatenate([np.asarray(p.index, dtype=float) for p in parts]) if with_index else None,
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

#: Bytes of input whose events make one bucket of :class:`InstanceBuckets` (in memory
#: they take about as many bytes as their CSV rows; on disk, lz4, fewer).
BUCKET_INPUT_BYTES = 64 << 20
#: At most this many buckets (files open at once; fewer if the process may not open as
#: many): past ``MAX_BUCKETS * BUCKET_INPUT_BYTES`` of input a bucket holds more.
MAX_BUCKETS = 4096

#: Bytes of a bucket's events held before they are written as one record batch, and
#: at most this many times :data:`BUCKET_BUFFER_PARTS` bytes held over all buckets (the
#: fullest written first past that). Each batch written is an entry of its file's
#: footer, kept in memory until the file is closed: writing every bucket's part of
#: every input batch would make (input / block) x buckets entries, which grows with the
#: square of the input; buffered, they are about input / this many.
BUCKET_FLUSH_BYTES = 4 << 20
#: Of :data:`BUCKET_FLUSH_BYTES`: the cap on the bytes buffered over all buckets.
BUCKET_BUFFER_PARTS = 16

#: The events kept in buckets: all that :func:`lifecycles` needs, the instance key as
#: owner and index, the file as its number.
_SPILLED = pa.schema([("owner", pa.string()), ("index", pa.float64()), ("time", pa.float64()), ("role", pa.int8()),
                      ("cpu", pa.float64()), ("memory", pa.float64()), ("priority", pa.float64()),
                      ("qos", pa.string()), ("file", pa.int32()), ("line", pa.int64())])


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
    #: All the events of those instances (each instance's in file order), when asked for.
    inside_events: Events | None = None


class InstanceBuckets:
    """The events of instance-event files, spread over buckets by instance, for a
    time-window read whose memory does not grow with the files.

    Which attempts an instance has, and so whether it has a pod in the window, depends
    on all its events, wherever they are in the files. Each event is kept with what
    :func:`lifecycles` needs (instance owner and index, time, role, requests, priority,
    QoS) and where it is (file number, line); all events of one instance go to the same
    bucket (by a hash of the instance). With more than one bucket they are written to
    Arrow IPC files (lz4) in a temporary directory (``directory``, else the system's),
    and :meth:`summary` reads one bucket at a time, keeping the events of the instances
    in the window, so the files are parsed once. ``n_buckets`` is chosen from the input
    size (:func:`buckets_for`) so that a bucket holds about as much as a batch."""

    def __init__(self, n_buckets: int, directory: str | None = None) -> None:
        self.n = max(1, int(n_buckets))
        self._memory: list[pa.RecordBatch] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._writers: list[pa.ipc.RecordBatchFileWriter] = []
        self._paths: list[str] = []
        #: Parts not written yet, by bucket (see :data:`BUCKET_FLUSH_BYTES`), and their bytes.
        self._held: list[list[pa.RecordBatch]] = [[] for _ in range(self.n)]
        self._held_bytes = np.zeros(self.n, dtype=np.int64)
        #: Record batches written (each an entry of its file's footer).
        self.batches_written = 0
        if self.n > 1:
            self._tmp = tempfile.TemporaryDirectory(prefix="k8sim-window-", dir=directory)
            for b in range(self.n):
                path = os.path.join(self._tmp.name, f"bucket-{b}.arrow")
                self._paths.append(path)
                self._writers.append(pa.ipc.new_file(path, _SPILLED, options=_SPILL_OPTIONS))

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
        self.write(self.prepare(events, index, file_number))

    def prepare(self, events: Events, index: np.ndarray, file_number: int) -> list[tuple[int, pa.RecordBatch]]:
        """The events of one batch by bucket, to :meth:`write` (this part touches
        no state: a batch's parsing thread can run it)."""
        batch = pa.RecordBatch.from_arrays(
            [_strings(_plain(events.owner)), pa.array(np.asarray(index, dtype=float)),
             pa.array(np.asarray(events.time, dtype=float)), pa.array(np.asarray(events.role, dtype=np.int8)),
             pa.array(np.asarray(events.cpu, dtype=float)), pa.array(np.asarray(events.memory, dtype=float)),
             pa.array(np.asarray(events.priority, dtype=float)), _strings(_plain(events.qos)),
             pa.array(np.full(len(events.time), file_number, np.int32)),
             pa.array(np.asarray(events.line, dtype=np.int64))], schema=_SPILLED)
        if self.n == 1:
            return [(0, batch)]
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
        return [(b, sorted_batch.slice(bounds[b], bounds[b + 1] - bounds[b]))
                for b in range(self.n) if bounds[b + 1] > bounds[b]]

    def write(self, prepared: list[tuple[int, pa.RecordBatch]]) -> None:
        """Adds what :meth:`prepare` gave (batches in file order). Parts of a bucket are
        held until they make :data:`BUCKET_FLUSH_BYTES`, then written as one batch; past
        ``BUCKET_BUFFER_PARTS * BUCKET_FLUSH_BYTES`` held in all, the fullest buckets are
        written first."""
        for b, part in prepared:
            if self.n == 1:
                self._memory.append(part)
                continue
            self._held[b].append(part)
            self._held_bytes[b] += part.nbytes
            if self._held_bytes[b] >= BUCKET_FLUSH_BYTES:
                self._flush(b)
        if self.n > 1:
            cap = BUCKET_BUFFER_PARTS * BUCKET_FLUSH_BYTES
            total = int(self._held_bytes.sum())
            if total > cap:
                for b in np.argsort(-self._held_bytes, kind="stable"):
                    if total <= cap // 2:
                        break
                    total -= int(self._held_bytes[b])
                    self._flush(int(b))

    def _flush(self, b: int) -> None:
        """Writes the parts held for bucket ``b`` as one record batch (in their order)."""
        held = self._held[b]
        if not held:
            return
        batch = held[0] if len(held) == 1 else pa.concat_batches(held)
        self._writers[b].write_batch(batch)
        self.batches_written += 1
        self._held[b] = []
        self._held_bytes[b] = 0

    def _buckets(self) -> Iterator[pa.Table]:
        if self.n == 1:
            yield pa.Table.from_batches(self._memory, schema=_SPILLED)
            return
        for b in range(self.n):
            self._flush(b)
        for w in self._writers:
            w.close()
        self._writers = []
        pool = pa.default_memory_pool()
        for path in self._paths:
            # (What the last bucket's work freed goes back to the system before the next.)
            pool.release_unused()
            with pa.memory_map(path) as source:
                table = pa.ipc.open_file(source).read_all()
            yield table
            del table

    def summary(self, options: TraceOptions, labels: Sequence[str] | None = None) -> WindowSummary:
        """Attempt counts of all the events added, and the instances in the window of
        ``options`` (as :func:`lifecycles` and :func:`~k8sim.workloads.traces.build.
        build_pods` would find them on a whole-file read); with ``labels`` (the label of
        each file number), their events too."""
        out = _Tallies()
        for table in self._buckets():
            if table.num_rows:
                # (A function of its own: what it makes for a bucket is freed before the
                # next bucket is read.)
                _bucket_summary(table, options, labels is not None, out)
            del table
        events = None
        if labels is not None:
            events = _events_of(pa.concat_tables(out.inside_events) if out.inside_events
                                else _SPILLED.empty_table(), labels)
        return WindowSummary(out.never, out.missing, [(f, line) for _, _, f, line in out.examples], out.kept,
                             out.outside, pa.concat_arrays(out.inside) if out.inside else pa.array([], pa.string()),
                             events)


@dataclass
class _Tallies:
    """What :meth:`InstanceBuckets.summary` gathers bucket by bucket."""

    never: int = 0
    missing: int = 0
    examples: list[tuple[str, int, int, int]] = field(default_factory=list)  # (key, attempt in key, file, line)
    kept: int = 0
    outside: int = 0
    inside: list[pa.Array] = field(default_factory=list)
    inside_events: list[pa.Table] = field(default_factory=list)


def _bucket_summary(table: pa.Table, options: TraceOptions, with_events: bool, out: _Tallies) -> None:
    """Adds one bucket's attempts to ``out`` (see :meth:`InstanceBuckets.summary`)."""
    owner = table.column("owner")
    index = table.column("index").to_numpy()
    numeric = _numeric_keys(owner, index)
    if numeric is not None:
        code = numeric[0]
    else:
        encoded = pc.dictionary_encode(instance_keys(owner.combine_chunks(), index))
        code = _text_rank(encoded.dictionary)[np.asarray(encoded.indices, dtype=np.int64)]

    def keys_at(positions: np.ndarray, owner: pa.ChunkedArray = owner, index: np.ndarray = index) -> pa.Array:
        take = pa.array(positions, type=pa.int64())
        return instance_keys(owner.take(take).combine_chunks(), index[positions])

    a = Attempts(code, table.column("time").to_numpy(), table.column("role").to_numpy())
    has_cpu = a.has_latest(~np.isnan(table.column("cpu").to_numpy()))
    has_mem = a.has_latest(~np.isnan(table.column("memory").to_numpy()))
    never_b = a.never
    missing_b = ~never_b & ~(has_cpu & has_mem)
    out.never += int(never_b.sum())
    opener = a.order[a.open_pos]  # the event (bucket order) opening each attempt
    if missing_b.any():
        miss = np.flatnonzero(missing_b)
        out.missing += len(miss)
        # Whole-file order: by instance key (as text), then attempt; attempts here
        # are in that order already, so the bucket's first ones are candidates.
        head = miss[:MAX_EXAMPLES]
        files = table.column("file").to_numpy()
        lines = table.column("line").to_numpy()
        texts = keys_at(opener[head]).to_pylist()
        out.examples = heapq.nsmallest(MAX_EXAMPLES, out.examples + [
            (t, int(a.number[i]), int(files[opener[i]]), int(lines[opener[i]]))
            for t, i in zip(texts, head, strict=True)])
    kept_b = ~never_b & ~missing_b
    arrival = a.time[a.open_pos]
    arrival = np.where(arrival == -np.inf, np.nan, arrival)
    end = np.where(a.end == np.inf, np.nan, a.end)
    out_b = kept_b & outside_window(arrival, end, options)
    in_b = kept_b & ~out_b
    out.kept += int(kept_b.sum())
    out.outside += int(out_b.sum())
    if in_b.any():
        out.inside.append(pc.unique(keys_at(opener[in_b])))
        if with_events:
            # Every event of those instances, in bucket (so file) order.
            wanted = np.zeros(int(code.max()) + 1, dtype=bool)
            wanted[code[opener[in_b]]] = True
            out.inside_events.append(table.take(pa.array(np.flatnonzero(wanted[code]))))


def _events_of(table: pa.Table, labels: Sequence[str]) -> Events:
    """:class:`Events` of spilled events (see :class:`InstanceBuckets`)."""
    files = pa.DictionaryArray.from_arrays(pa.array(table.column("file").to_numpy()),
                                           pa.array(list(labels), pa.string()))
    return Events(key=None, owner=table.column("owner"), time=table.column("time").to_numpy(),
                  role=table.column("role").to_numpy().astype(np.int64), cpu=table.column("cpu").to_numpy(),
                  memory=table.column("memory").to_numpy(), priority=table.column("priority").to_numpy(),
                  qos=table.column("qos"), file=files, line=table.column("line").to_numpy(),
                  index=table.column("index").to_numpy())


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
