"""Google cluster-usage traces v3 (clusterdata-2019): instance, collection and machine events.

Upstream: ``google/cluster-data`` (``clusterdata_trace_format_v3.proto`` and the
"Google cluster-usage traces v3" document; CC BY). The tables live in BigQuery; this
reader takes exports of them, either CSV with a header (nested fields flattened as
``resource_request.cpus`` or ``resource_request_cpus``) or newline-delimited JSON as
BigQuery exports it (nested ``"resource_request": {"cpus": ..., "memory": ...}``,
64-bit integers possibly quoted). A ``.json`` / ``.jsonl`` / ``.ndjson`` suffix
(optionally ``.gz``) selects JSON.

``instance_events`` (one row per event of a task or alloc instance)
    ``time`` (microseconds; 0 = before the trace start, 2**63-1 = after its end; the
    trace starts at 600 s), ``type`` (0 SUBMIT, 1 QUEUE, 2 ENABLE, 3 SCHEDULE, 4 EVICT,
    5 FAIL, 6 FINISH, 7 KILL, 8 LOST, 9 UPDATE_PENDING, 10 UPDATE_RUNNING; the names are
    accepted too), ``collection_id``, ``scheduling_class`` (0..3, latency
    sensitivity), ``missing_type``, ``collection_type`` (0 job, 1 alloc set),
    ``priority``, ``alloc_collection_id``, ``instance_index``, ``machine_id``,
    ``alloc_instance_index``, ``resource_request.cpus`` (normalised compute units,
    NCU), ``resource_request.memory`` (normalised bytes), ``constraint``.
``collection_events``
    ``time``, ``type``, ``collection_id``, ``scheduling_class``, ``missing_type``,
    ``collection_type``, ``priority``, ``alloc_collection_id``, ``user``,
    ``collection_name``, ``collection_logical_name``, ``parent_collection_id``,
    ``start_after_collection_ids``, ``max_per_machine``, ``max_per_switch``,
    ``vertical_scaling``, ``scheduler``.
``machine_events``
    ``time``, ``machine_id``, ``type`` (1 ADD, 2 REMOVE, 3 UPDATE), ``switch_id``,
    ``capacity.cpus``, ``capacity.memory`` (normalised), ``platform_id``,
    ``missing_data_reason``.

Units are normalised, so the reader needs a stated machine shape: ``machine_cpu_milli``
and ``machine_memory_bytes`` are what a normalised 1.0 of CPU and of memory stand for.

Mapping to the normalised schema
    Each instance (``collection_id`` + ``instance_index``) is followed through its
    events. A SUBMIT opens an attempt (a resubmission after EVICT / FAIL / KILL / LOST
    opens another, id suffixed ``#1``, ``#2``...), SCHEDULE starts its run, the next
    EVICT / FAIL / FINISH / KILL / LOST ends it: ``arrival_s`` = submit time - 600 s,
    ``duration_s`` = end - schedule. Requests are the latest ones of SUBMIT /
    UPDATE_PENDING / SCHEDULE before the run starts. An attempt that ends without being
    scheduled never ran and is filtered (``never_scheduled``); one still open at the end
    of the events is ``clipped_end``; events at time 0 (before the trace) make
    ``clipped_start``. ``cpu_milli`` = cpus * ``machine_cpu_milli``, ``memory_bytes`` =
    memory * ``machine_memory_bytes``; ``priority`` = ``priority``; ``qos`` =
    ``sc<scheduling_class>``; ``owner`` = ``collection_id``. Instances of alloc sets
    (``collection_type`` 1) are reservations, not work, and are filtered
    (``alloc_instance``) unless ``include_alloc_instances``. Collection events, when
    given, supply ``priority``, ``scheduling_class`` and ``collection_type`` where the
    instance rows lack them.

    With a time window the files are read once, holding a few batches, one bucket of
    events (spilled to disk by instance) and the events of the instances with a pod in
    the window only (see :func:`_read_window`); the result and the report are those of
    a whole-file read.

    Dropped event rows: ``wrong_field_count``, ``bad_number``, ``missing_value``,
    ``bad_event_type``; dropped attempts: ``missing_request`` (no CPU or memory request
    in any of its events).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from k8sim.workloads.traces import tables as _tables
from k8sim.workloads.traces.build import outside_window, window_error
from k8sim.workloads.traces.google_events import (
    END,
    OTHER,
    SCHEDULE,
    SUBMIT,
    UPDATE_PENDING,
    Events,
    InstanceBuckets,
    as_paths,
    buckets_for,
    check_shape,
    concat_events,
    event_codes,
    instance_keys,
    lifecycles,
    nodes_from_machine_events,
    pods_from_lifecycles,
    qos_labels,
    trace_seconds,
)
from k8sim.workloads.traces.reports import (
    PathLike,
    TraceError,
    TraceReport,
    Where,
    file_label,
    no_rows_error,
)
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.tables import (
    DeferredDrops,
    RowCheck,
    Table,
    TableBatches,
    iter_tables,
    open_text,
    read_table,
    replay_drops,
)

__all__ = [
    "COLLECTION_EVENT_TYPES",
    "INSTANCE_EVENT_TYPES",
    "MACHINE_EVENT_TYPES",
    "read_google_2019",
    "read_google_2019_machines",
]

_R = TypeVar("_R")

#: Trace time of the trace start, microseconds.
TRACE_START_US = 600_000_000

INSTANCE_EVENT_TYPES: dict[str, int] = {
    "SUBMIT": 0,
    "QUEUE": 1,
    "ENABLE": 2,
    "SCHEDULE": 3,
    "EVICT": 4,
    "FAIL": 5,
    "FINISH": 6,
    "KILL": 7,
    "LOST": 8,
    "UPDATE_PENDING": 9,
    "UPDATE_RUNNING": 10,
}
COLLECTION_EVENT_TYPES = INSTANCE_EVENT_TYPES
MACHINE_EVENT_TYPES: dict[str, int] = {"EVENT_TYPE_UNKNOWN": 0, "ADD": 1, "REMOVE": 2, "UPDATE": 3}

_ROLE_2019 = {
    0: SUBMIT,
    1: OTHER,
    2: OTHER,
    3: SCHEDULE,
    4: END,
    5: END,
    6: END,
    7: END,
    8: END,
    9: UPDATE_PENDING,
    10: OTHER,
}

_ROLE_LUT = np.array([_ROLE_2019[c] for c in range(len(_ROLE_2019))], dtype=np.int64)

_INSTANCE_COLUMNS = (
    "time",
    "type",
    "collection_id",
    "instance_index",
    "resource_request.cpus",
    "resource_request.memory",
)
_INSTANCE_OPTIONAL = ("priority", "scheduling_class", "collection_type")
#: Instance-event columns read only as numbers: parsed by pyarrow as doubles, or as
#: int64 (times reach 2**63 - 1, past what a double tells apart).
_INSTANCE_NUMBERS = ("resource_request.cpus", "resource_request.memory", "priority", "scheduling_class",
                     "collection_type")
_INSTANCE_INTEGERS = ("time", "instance_index")
_COLLECTION_COLUMNS = ("collection_id",)
_COLLECTION_OPTIONAL = ("time", "type", "priority", "scheduling_class", "collection_type")
_MACHINE_COLUMNS = ("time", "machine_id", "type", "capacity.cpus", "capacity.memory")
_ALIASES = {
    "resource_request.cpus": ("resource_request_cpus",),
    "resource_request.memory": ("resource_request_memory",),
    "capacity.cpus": ("capacity_cpus",),
    "capacity.memory": ("capacity_memory",),
}


# --------------------------------------------------------------------------- input


def _is_json(path: PathLike) -> bool:
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in {".json", ".jsonl", ".ndjson"}


def _flatten(obj: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, f"{name}."))
        elif value is None:
            out[name] = ""
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            out[name] = str(value)
        else:
            out[name] = json.dumps(value)
    return out


def _read_json_table(
    path: PathLike, expected: Sequence[str], report: TraceReport, optional: Sequence[str]
) -> Table:
    """Newline-delimited JSON (or one JSON array) as a :class:`Table` of strings."""
    label = str(path)
    if not Path(path).exists():
        raise TraceError("no such file", file=label)
    records: list[tuple[int, dict]] = []
    with open_text(path) as fh:
        text = fh.read()
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TraceError(f"not valid JSON: {exc.msg}", file=label, line=exc.lineno) from None
        records = [(i + 1, item) for i, item in enumerate(items)]
    else:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((lineno, json.loads(line)))
            except json.JSONDecodeError:
                report.rows_read += 1
                report.drop("bad_json", 1, [Where(file_label(path), lineno)])
    rows: list[dict[str, str]] = []
    lines: list[int] = []
    for lineno, item in records:
        report.rows_read += 1
        if not isinstance(item, dict):
            report.drop("bad_json", 1, [Where(file_label(path), lineno)])
            continue
        flat = _flatten(item)
        flat = {next((n for n, alts in _ALIASES.items() if k in alts), k): v for k, v in flat.items()}
        rows.append(flat)
        lines.append(lineno)
    if not rows and report.rows_read == 0:
        raise TraceError("no data rows; expected fields: " + ", ".join(expected), file=label)
    present = set().union(*rows) if rows else set()
    missing = [c for c in expected if c not in present]
    if missing:
        raise TraceError(
            f"missing field(s) {', '.join(missing)}; expected fields: {', '.join(expected)}",
            file=label,
            line=lines[0] if lines else None,
            column=missing[0],
        )
    cells = {}
    for col in [c for c in (*expected, *optional) if c in present]:
        arr = np.empty(len(rows), dtype=object)
        arr[:] = [r.get(col, "") for r in rows]
        cells[col] = arr
    return Table(label, tuple(cells), cells, np.asarray(lines, dtype=np.int64))


class _WholeBatch:
    """One batch (a JSON export read whole), with :meth:`map` as for CSV batches."""

    def __init__(self, table_of: Callable[[], Table]) -> None:
        self._table_of = table_of

    def __iter__(self) -> Iterator[Table]:
        yield self._table_of()

    def map(self, fn: Callable[[Table], _R]) -> Iterator[_R]:
        yield fn(self._table_of())


def _export_batches(
    path: PathLike, expected: Sequence[str], report: TraceReport, optional: Sequence[str] = (),
    numbers: Sequence[str] = (), integers: Sequence[str] = (), block_size: int | None = None,
) -> TableBatches[Any] | _WholeBatch:
    """A BigQuery export in batches: CSV through :func:`iter_tables` (``numbers`` /
    ``integers``: columns read only as numbers), JSON whole."""
    if _is_json(path):
        return _WholeBatch(lambda: _read_json_table(path, expected, report, optional))
    return iter_tables(path, expected, report, header=True, optional=optional, aliases=_ALIASES,
                       numbers=numbers, integers=integers, block_size=block_size)


def read_export(
    path: PathLike, expected: Sequence[str], report: TraceReport, optional: Sequence[str] = ()
) -> Table:
    """A BigQuery export (CSV with header, or newline-delimited JSON) as a :class:`Table`."""
    if _is_json(path):
        return _read_json_table(path, expected, report, optional)
    return read_table(path, expected, report, header=True, optional=optional, aliases=_ALIASES)


# --------------------------------------------------------------------------- readers


def _collection_info(path: PathLike, report: TraceReport) -> dict[str, tuple[float, float, float]]:
    """collection_id -> (priority, scheduling_class, collection_type), first known values."""
    table = read_export(path, _COLLECTION_COLUMNS, report, _COLLECTION_OPTIONAL)
    check = RowCheck(table, report)
    cols = {}
    for name in ("priority", "scheduling_class", "collection_type"):
        cols[name] = (
            check.number(name, required=False) if name in table.cells else np.full(len(table), np.nan)
        )
    ids = check.text("collection_id")
    check.reject(ids == "", "missing_value", "collection_id")
    info: dict[str, list[float]] = {}
    for i in np.flatnonzero(check.ok):
        entry = info.setdefault(ids[i], [np.nan, np.nan, np.nan])
        for j, name in enumerate(("priority", "scheduling_class", "collection_type")):
            if np.isnan(entry[j]):
                entry[j] = cols[name][i]
    return {k: (v[0], v[1], v[2]) for k, v in info.items()}


def _batch_events(
    table: Table,
    drops: DeferredDrops,
    path: PathLike,
    info_index: pa.Array | None,
    info_values: np.ndarray | None,
    include_alloc_instances: bool,
    trace_start_us: float,
    keys: bool = True,
) -> tuple[Events, int, np.ndarray]:
    """The good events of one batch of instance events (drops deferred), how many were
    left out as instances of alloc sets, and the events' instance indices. Owners are
    dictionary-encoded; ``keys``: make the instance keys' text too (else they are the
    owners and ``index``)."""
    check = RowCheck(table, drops)
    time_us = check.number("time", minimum=0)
    codes = event_codes(check, "type", INSTANCE_EVENT_TYPES)
    collection = check.strings("collection_id")
    check.reject(np.asarray(pc.equal(collection, "")), "missing_value", "collection_id")
    index = check.number("instance_index")
    cpu = check.number("resource_request.cpus", required=False, minimum=0)
    mem = check.number("resource_request.memory", required=False, minimum=0)
    n = len(table)
    opt = {
        name: check.number(name, required=False) if name in table.cells else np.full(n, np.nan)
        for name in _INSTANCE_OPTIONAL
    }
    if info_index is not None and info_values is not None:
        pos = np.asarray(pc.index_in(collection, value_set=info_index).to_numpy(zero_copy_only=False),
                         dtype=float)
        known = ~np.isnan(pos)
        for j, name in enumerate(("priority", "scheduling_class", "collection_type")):
            fill = np.full(n, np.nan)
            fill[known] = info_values[pos[known].astype(np.int64), j]
            opt[name] = np.where(np.isnan(opt[name]), fill, opt[name])
    ok = check.ok
    n_alloc = 0
    if not include_alloc_instances:
        alloc = ok & (opt["collection_type"] == 1)
        n_alloc = int(alloc.sum())
        ok = ok & ~alloc
    idx = np.flatnonzero(ok)
    take = pa.array(idx)
    owner = collection.take(take)
    events = Events(
        key=instance_keys(owner, index[idx]) if keys else None,
        owner=pc.dictionary_encode(owner),
        time=trace_seconds(time_us[idx], trace_start_us),
        role=_ROLE_LUT[codes[idx].astype(np.int64)],
        cpu=cpu[idx],
        memory=mem[idx],
        priority=opt["priority"][idx],
        qos=qos_labels(opt["scheduling_class"][idx]),
        # (One label for the batch, not a copy of it per event.)
        file=pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(idx), dtype=np.int32)),
                                            pa.array([file_label(path)], pa.string())),
        line=table.lines[idx],
        index=index[idx],
    )
    return events, n_alloc, index[idx]


def read_google_2019(
    instance_events: PathLike | Sequence[PathLike],
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
    *,
    machine_cpu_milli: float,
    machine_memory_bytes: float,
    collection_events: PathLike | Sequence[PathLike] | None = None,
    include_alloc_instances: bool = False,
    trace_start_us: float = TRACE_START_US,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read instance-event exports (one file or several) into the normalised pod schema."""
    check_shape(machine_cpu_milli, machine_memory_bytes)
    paths = as_paths(instance_events)
    report = TraceReport(source=", ".join(str(p) for p in paths))
    info: dict[str, tuple[float, float, float]] = {}
    if collection_events is not None:
        for cp in as_paths(collection_events):
            info.update({k: v for k, v in _collection_info(cp, report).items() if k not in info})

    info_index = pa.array(list(info), type=pa.string()) if info else None
    info_values = np.array(list(info.values()), dtype=float).reshape(-1, 3) if info else None

    def batches(into: TraceReport, keys: bool = True, then: Callable[[int, Events, np.ndarray], Any] | None = None,
                block_size: int | None = None) -> Iterator[tuple[int, Any, np.ndarray]]:
        """(file number, events, instance indices) of each batch of every file, in order;
        rows read, drops and alloc instances recorded in ``into``; ``keys``: with the
        instance keys' text (see :func:`_batch_events`); ``then``: what to give instead
        of the events, ``then(file number, events, indices)``, run in the batch's
        parsing thread; ``block_size``: bytes of input per batch (else the default)."""
        for number, path in enumerate(paths):
            file_drops: list[DeferredDrops] = []

            def work(table: Table, path: PathLike = path, number: int = number) -> tuple[DeferredDrops, Any, int,
                                                                                           np.ndarray]:
                batch = DeferredDrops()
                events, n_alloc, index = _batch_events(table, batch, path, info_index, info_values,
                                                       include_alloc_instances, trace_start_us, keys)
                return batch, events if then is None else then(number, events, index), n_alloc, index

            for batch, events, n_alloc, index in _export_batches(
                    path, _INSTANCE_COLUMNS, into, _INSTANCE_OPTIONAL, _INSTANCE_NUMBERS, _INSTANCE_INTEGERS,
                    block_size).map(work):
                file_drops.append(batch)
                into.filter("alloc_instance", n_alloc)
                yield number, events, index
            # Whole-file order of the drops, file by file (as when each file was checked whole).
            replay_drops(into, file_drops)

    shape = {"machine_cpu_milli": machine_cpu_milli, "machine_memory_bytes": machine_memory_bytes}
    if options is not None and options.has_window:
        windowed = _read_window(batches, paths, options, rng, report, shape)
        if windowed is not None:
            return windowed
    # (Instances are grouped by owner and index: no key text is made for every event.)
    parts = [events for _, events, _ in batches(report, keys=False)]
    frame = lifecycles(concat_events(parts), report)
    pods = pods_from_lifecycles(frame, file=report.source, options=options, rng=rng, report=report, **shape)
    return pods, report


#: Bytes of input per batch of a time-window read. Up to a few batches are parsed at
#: once (:data:`~k8sim.workloads.traces.tables.WORKERS` ahead, one held), each holding
#: its text, cells, events and their parts by bucket, several times the block's bytes:
#: smaller blocks than a whole-file read's keep that well below one bucket's work, at
#: about the same speed. (A smaller default block size is taken as it is.)
WINDOW_BLOCK_SIZE = 8 << 20


def _read_window(
    batches: Callable[..., Iterator[tuple[int, Any, np.ndarray]]],
    paths: Sequence[PathLike],
    options: TraceOptions,
    rng: np.random.Generator | None,
    report: TraceReport,
    shape: dict[str, float],
) -> tuple[pd.DataFrame, TraceReport] | None:
    """A time window read holding a few batches, one bucket of events and the events of
    the instances in the window.

    Which attempts an instance has, and so which are in the window, depends on all its
    events, wherever they are in the files; and the report counts what a whole-file
    read counts (``never_scheduled``, ``missing_request`` with its first places in the
    order of instance keys, ``outside_window``). The files are parsed once: each event
    is spread by instance over buckets on disk
    (:class:`~k8sim.workloads.traces.google_events.InstanceBuckets`); the attempts of
    each bucket give the counts and the instances with an attempt in the window, whose
    events are kept and rebuilt as a whole-file read does.
    """
    out = copy.deepcopy(report)
    with InstanceBuckets(buckets_for(paths)) as buckets:
        # (Each batch's events are made and spread by bucket in its parsing thread; they
        # are written here, in file order.)
        for _, prepared, _ in batches(out, keys=False, block_size=min(WINDOW_BLOCK_SIZE, _tables.DEFAULT_BLOCK_SIZE),
                                      then=lambda number, events, index: buckets.prepare(events, index, number)):
            buckets.write(prepared)
        summary = buckets.summary(options, labels=[file_label(p) for p in paths])
    out.filter("never_scheduled", summary.never_scheduled)
    if summary.missing_request:
        out.drop("missing_request", summary.missing_request,
                 [Where(file_label(paths[f]), line) for f, line in summary.missing_at])
    if not summary.kept:
        raise no_rows_error(out.source, out)
    out.filter("outside_window", summary.outside_window)
    if summary.kept == summary.outside_window:
        raise window_error(out.source, options)

    # The events of the instances with an attempt in the window, rebuilt whole (each
    # instance's events in file order, as a whole-file read has them).
    assert summary.inside_events is not None
    frame = lifecycles(summary.inside_events, TraceReport(source=out.source))
    frame = frame[~outside_window(frame["arrival"].to_numpy(dtype=float), frame["end"].to_numpy(dtype=float),
                                  options)].reset_index(drop=True)
    pods = pods_from_lifecycles(frame, file=out.source, options=options, rng=rng, report=out, **shape)
    return pods, out


def read_google_2019_machines(
    machine_events: PathLike,
    *,
    machine_cpu_milli: float,
    machine_memory_bytes: float,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read a machine-events export into the node schema.

    One node per ``machine_id``, with the capacity of its latest ADD or UPDATE event
    that has one (``capacity.cpus * machine_cpu_milli``, ``capacity.memory *
    machine_memory_bytes``); machines without any capacity are dropped
    (``missing_capacity``). No GPUs. Nodes come in order of first appearance.
    """
    check_shape(machine_cpu_milli, machine_memory_bytes)
    report = TraceReport(source=str(machine_events))
    table = read_export(machine_events, _MACHINE_COLUMNS, report)
    nodes = nodes_from_machine_events(table, report, type_column="type", event_types=MACHINE_EVENT_TYPES,
                                      cpus_column="capacity.cpus",
                                      memory_column="capacity.memory", machine_cpu_milli=machine_cpu_milli,
                                      machine_memory_bytes=machine_memory_bytes)
    return nodes, report


# --------------------------------------------------------------------------- synthetic logs

#: Lifecycles of the synthetic instance-event logs: (event type, seconds after the
#: previous event) per step. They cover what the reader must handle: plain runs,
#: resubmissions after an eviction or failure and while running, repeated submits and
#: request updates while pending, attempts killed before scheduling, instances still
#: pending or running at the end, runs already going at the trace start (time 0), a
#: SCHEDULE without a SUBMIT and an end "after the trace" (2**63 - 1).
_SYNTHETIC_LIFECYCLES: tuple[tuple[tuple[int, float], ...], ...] = (
    ((0, 0.0), (3, 2.0), (6, 60.0)),  # submit, schedule, finish
    ((0, 0.0), (1, 0.5), (2, 0.5), (3, 1.0), (10, 30.0), (7, 90.0)),  # queue, enable, update running, kill
    ((0, 0.0), (3, 5.0), (4, 25.0), (0, 10.0), (3, 5.0), (6, 40.0)),  # evicted, resubmitted
    ((0, 0.0), (3, 1.0), (5, 3.0), (0, 2.0), (3, 1.0), (5, 3.0), (0, 2.0), (3, 1.0), (6, 8.0)),  # fails twice
    ((0, 0.0), (9, 4.0), (0, 3.0), (3, 2.0), (6, 20.0)),  # update pending, repeated submit
    ((0, 0.0), (7, 15.0)),  # killed before being scheduled
    ((0, 0.0), (3, 2.0), (0, 50.0), (3, 1.0), (8, 30.0)),  # resubmitted while running, then lost
    ((0, 0.0),),  # still pending at the end
    ((0, 0.0), (3, 3.0)),  # still running at the end
    ((3, 0.0), (6, 45.0)),  # scheduled without a submit
    ((0, -1.0), (3, -1.0), (6, 120.0)),  # running before the trace start (time 0)
    ((0, 0.0), (3, 1.0), (6, -2.0)),  # ends "after the trace" (2**63 - 1)
)
_SYNTHETIC_WEIGHTS = (0.30, 0.08, 0.08, 0.04, 0.06, 0.06, 0.04, 0.04, 0.08, 0.04, 0.10, 0.08)

INSTANCE_EVENT_COLUMNS: tuple[str, ...] = (
    "time",
    "type",
    "collection_id",
    "scheduling_class",
    "missing_type",
    "collection_type",
    "priority",
    "alloc_collection_id",
    "instance_index",
    "machine_id",
    "alloc_instance_index",
    "resource_request.cpus",
    "resource_request.memory",
)


def generate_google_2019_instance_events(rng: np.random.Generator, n_instances: int) -> pd.DataFrame:
    """A synthetic instance-events log in the CSV export layout (columns
    :data:`INSTANCE_EVENT_COLUMNS`), sorted by time (ties in generation order).

    Nothing is taken from the real trace: each instance follows one of a dozen invented
    lifecycles (resubmissions, updates, kills before scheduling, runs open at either
    end of the trace ...), submitted as Poisson arrivals (one per 0.05 s on average) in
    collections of one to eight instances; 5 % of collections are alloc sets, 3 % of
    instances lack a request on their first event, 1 % on every event. Times are microseconds, the trace
    starting at 600 s; a step time of -1 stands for 0 (before the trace) and -2 for
    2**63 - 1 (after it).
    """
    if n_instances < 1:
        raise ValueError("n_instances must be >= 1")
    kinds = rng.choice(len(_SYNTHETIC_LIFECYCLES), size=n_instances, p=_SYNTHETIC_WEIGHTS)
    lengths = np.array([len(lc) for lc in _SYNTHETIC_LIFECYCLES])[kinds]
    n_events = int(lengths.sum())
    inst = np.repeat(np.arange(n_instances), lengths)
    step = np.arange(n_events) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    width = max(len(lc) for lc in _SYNTHETIC_LIFECYCLES)
    types_t = np.full((len(_SYNTHETIC_LIFECYCLES), width), -1, dtype=np.int64)
    gaps_t = np.zeros((len(_SYNTHETIC_LIFECYCLES), width))
    for i, lc in enumerate(_SYNTHETIC_LIFECYCLES):
        types_t[i, : len(lc)] = [t for t, _ in lc]
        gaps_t[i, : len(lc)] = [g for _, g in lc]
    kind_e = kinds[inst]
    etype = types_t[kind_e, step]
    gap = gaps_t[kind_e, step]
    special = gap < 0
    # Each gap is stretched by the instance's own log-normal factor, whole microseconds.
    factor = rng.lognormal(0.0, 0.8, size=n_instances)[inst]
    gap_us = np.where(special, 0, np.rint(gap * factor * 1e6)).astype(np.int64)
    start_us = 600_000_000 + np.cumsum(np.rint(rng.exponential(50_000.0, size=n_instances))).astype(np.int64)
    total = np.cumsum(gap_us)
    first = np.cumsum(lengths) - lengths
    offsets = total - np.repeat(np.where(first > 0, total[first - 1], 0), lengths)
    time_us = start_us[inst] + offsets
    time_us = np.where(gap == -1.0, 0, time_us)
    time_us = np.where(gap == -2.0, 2**63 - 1, time_us)

    sizes = rng.integers(1, 9, size=n_instances)
    first_of_collection = np.concatenate([[0], np.cumsum(sizes)])
    collection_of = np.searchsorted(first_of_collection, np.arange(n_instances), side="right") - 1
    index_in = np.arange(n_instances) - first_of_collection[collection_of]
    n_coll = int(collection_of[-1]) + 1
    coll_ids = 100_000 + np.cumsum(rng.integers(1, 50, size=n_coll))
    coll_type = (rng.random(n_coll) < 0.05).astype(np.int64)
    coll_class = rng.integers(0, 4, size=n_coll)
    coll_prio = rng.choice([0, 25, 100, 103, 200, 360], size=n_coll)
    cpus = np.round(rng.lognormal(-4.0, 1.0, size=n_instances), 6)
    memory = np.round(rng.lognormal(-4.5, 1.0, size=n_instances), 6)
    no_request = ((rng.random(n_instances) < 0.03)[inst] & (step == 0)) | (rng.random(n_instances) < 0.01)[inst]

    c = collection_of[inst]
    cpu_text = np.where(no_request, "", cpus[inst].astype(str))
    mem_text = np.where(no_request, "", memory[inst].astype(str))
    frame = pd.DataFrame(
        {
            "time": time_us,
            "type": etype,
            "collection_id": coll_ids[c],
            "scheduling_class": coll_class[c],
            "missing_type": 0,
            "collection_type": coll_type[c],
            "priority": coll_prio[c],
            "alloc_collection_id": 0,
            "instance_index": index_in[inst],
            "machine_id": np.where(etype == 0, 0, 1 + inst % 997),
            "alloc_instance_index": -1,
            "resource_request.cpus": cpu_text,
            "resource_request.memory": mem_text,
        }
    )
    order = np.argsort(frame["time"].to_numpy(), kind="stable")
    return frame.iloc[order].reset_index(drop=True)[list(INSTANCE_EVENT_COLUMNS)]
