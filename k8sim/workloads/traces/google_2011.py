"""Google clusterdata-2011-2: ``task_events`` -> pods, ``machine_events`` -> nodes.

Upstream: ``google/cluster-data`` (``ClusterData2011_2.md`` and the "trace-data v2.1
format + schema" document; CC BY). Files are gzipped CSV parts without a header
(``task_events/part-00000-of-00500.csv.gz`` ...); ``.gz`` is read transparently and
several parts can be passed at once.

``task_events`` columns, in order
    1 ``time`` (microseconds; 0 = before the trace start, 2**63-1 = after its end; the
    trace starts at 600 s), 2 ``missing info``, 3 ``job ID``, 4 ``task index``,
    5 ``machine ID``, 6 ``event type`` (0 SUBMIT, 1 SCHEDULE, 2 EVICT, 3 FAIL, 4 FINISH,
    5 KILL, 6 LOST, 7 UPDATE_PENDING, 8 UPDATE_RUNNING), 7 ``user``, 8 ``scheduling
    class`` (0..3), 9 ``priority`` (0..11), 10 ``CPU request``, 11 ``memory request``,
    12 ``disk space request`` (all three normalised: 1.0 = the largest machine's
    capacity), 13 ``different machines restriction`` (boolean).
``machine_events`` columns, in order
    1 ``time``, 2 ``machine ID``, 3 ``event type`` (0 ADD, 1 REMOVE, 2 UPDATE),
    4 ``platform ID``, 5 ``CPUs``, 6 ``memory`` (normalised capacities; may be empty).

Units are normalised, so the reader needs the stated shape of the largest machine:
``machine_cpu_milli`` and ``machine_memory_bytes`` (what 1.0 stands for).

Mapping to the normalised schema
    As for the 2019 trace (see :mod:`k8sim.workloads.traces.google_events`): each task
    (``job ID`` + ``task index``) is followed through its events; SUBMIT opens an
    attempt (resubmissions give ``#1``, ``#2``... ids), SCHEDULE starts the run and the
    next EVICT / FAIL / FINISH / KILL / LOST ends it; attempts never scheduled are
    filtered (``never_scheduled``), attempts still open are ``clipped_end``, events at
    time 0 make ``clipped_start``. ``arrival_s`` = submit time - 600 s; ``cpu_milli`` =
    CPU request * ``machine_cpu_milli``; ``memory_bytes`` = memory request *
    ``machine_memory_bytes``; ``priority`` = ``priority``; ``qos`` =
    ``sc<scheduling class>``; ``owner`` = ``job ID``; ``id`` = ``<job ID>/<task index>``.

    Dropped rows: ``wrong_field_count``, ``bad_number``, ``missing_value``,
    ``bad_event_type``; dropped attempts: ``missing_request``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from k8sim.workloads.traces.google_events import (
    END,
    OTHER,
    SCHEDULE,
    SUBMIT,
    UPDATE_PENDING,
    Events,
    as_paths,
    check_shape,
    concat_events,
    event_codes,
    lifecycles,
    nodes_from_machine_events,
    pods_from_lifecycles,
    qos_labels,
    trace_seconds,
)
from k8sim.workloads.traces.reports import PathLike, TraceReport, file_label
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.tables import (
    DeferredDrops,
    RowCheck,
    Table,
    iter_tables,
    read_table,
    replay_drops,
)

__all__ = [
    "MACHINE_EVENTS_COLUMNS",
    "TASK_EVENTS_COLUMNS",
    "TASK_EVENT_TYPES",
    "read_google_2011",
    "read_google_2011_machines",
]

TRACE_START_US = 600_000_000

TASK_EVENTS_COLUMNS: tuple[str, ...] = (
    "time",
    "missing_info",
    "job_id",
    "task_index",
    "machine_id",
    "event_type",
    "user",
    "scheduling_class",
    "priority",
    "cpu_request",
    "memory_request",
    "disk_space_request",
    "different_machines_restriction",
)
MACHINE_EVENTS_COLUMNS: tuple[str, ...] = (
    "time",
    "machine_id",
    "event_type",
    "platform_id",
    "cpus",
    "memory",
)

TASK_EVENT_TYPES: dict[str, int] = {
    "SUBMIT": 0,
    "SCHEDULE": 1,
    "EVICT": 2,
    "FAIL": 3,
    "FINISH": 4,
    "KILL": 5,
    "LOST": 6,
    "UPDATE_PENDING": 7,
    "UPDATE_RUNNING": 8,
}
MACHINE_EVENT_TYPES: dict[str, int] = {"ADD": 0, "REMOVE": 1, "UPDATE": 2}

_ROLE_2011 = {0: SUBMIT, 1: SCHEDULE, 2: END, 3: END, 4: END, 5: END, 6: END, 7: UPDATE_PENDING, 8: OTHER}
_ROLE_2011_LUT = np.array([_ROLE_2011[c] for c in range(len(_ROLE_2011))], dtype=np.int64)


def _batch_events(table: Table, drops: DeferredDrops, path: PathLike, trace_start_us: float) -> Events:
    """The good events of one batch of a ``task_events`` file (drops deferred)."""
    check = RowCheck(table, drops)
    time_us = check.number("time", minimum=0)
    job = check.strings("job_id")
    check.reject(np.asarray(pc.equal(job, "").to_numpy(zero_copy_only=False), dtype=bool),
                 "missing_value", "job_id")
    index = check.number("task_index")
    codes = event_codes(check, "event_type", TASK_EVENT_TYPES)
    sched_class = check.number("scheduling_class", required=False)
    priority = check.number("priority", required=False)
    cpu = check.number("cpu_request", required=False, minimum=0)
    mem = check.number("memory_request", required=False, minimum=0)
    idx = np.flatnonzero(check.ok)
    owner = job.take(pa.array(idx))
    # (Instances as owner and index: lifecycles groups them by numbers, no key text per
    # event; one file label for the batch, not a copy per event.)
    return Events(
        key=None,
        owner=pc.dictionary_encode(owner),
        time=trace_seconds(time_us[idx], trace_start_us),
        role=_ROLE_2011_LUT[codes[idx].astype(np.int64)],
        cpu=cpu[idx],
        memory=mem[idx],
        priority=priority[idx],
        qos=qos_labels(sched_class[idx]),
        file=pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(idx), dtype=np.int32)),
                                            pa.array([file_label(path)], pa.string())),
        line=table.lines[idx],
        index=index[idx],
    )


def read_google_2011(
    task_events: PathLike | Sequence[PathLike],
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
    *,
    machine_cpu_milli: float,
    machine_memory_bytes: float,
    trace_start_us: float = TRACE_START_US,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read ``task_events`` part files into the normalised pod schema."""
    check_shape(machine_cpu_milli, machine_memory_bytes)
    paths = as_paths(task_events)
    report = TraceReport(source=", ".join(str(p) for p in paths))
    parts: list[Events] = []
    for path in paths:
        batches: list[DeferredDrops] = []
        def work(table: Table, path: PathLike = path) -> tuple[DeferredDrops, Events]:
            drops = DeferredDrops()
            return drops, _batch_events(table, drops, path, trace_start_us)

        for drops, events in iter_tables(path, TASK_EVENTS_COLUMNS, report, header=None).map(work):
            batches.append(drops)
            parts.append(events)
        replay_drops(report, batches)  # each file's drops in its whole-file order
    frame = lifecycles(concat_events(parts), report)
    pods = pods_from_lifecycles(
        frame,
        file=report.source,
        options=options,
        rng=rng,
        report=report,
        machine_cpu_milli=machine_cpu_milli,
        machine_memory_bytes=machine_memory_bytes,
    )
    return pods, report


def read_google_2011_machines(
    machine_events: PathLike,
    *,
    machine_cpu_milli: float,
    machine_memory_bytes: float,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read ``machine_events`` into the node schema.

    One node per machine ID with the capacity of its latest ADD or UPDATE event that
    has one (``CPUs * machine_cpu_milli``, ``memory * machine_memory_bytes``); machines
    without a capacity are dropped (``missing_capacity``). No GPUs.
    """
    check_shape(machine_cpu_milli, machine_memory_bytes)
    report = TraceReport(source=str(machine_events))
    table = read_table(machine_events, MACHINE_EVENTS_COLUMNS, report, header=None)
    nodes = nodes_from_machine_events(table, report, type_column="event_type", event_types=MACHINE_EVENT_TYPES,
                                      cpus_column="cpus",
                                      memory_column="memory", machine_cpu_milli=machine_cpu_milli,
                                      machine_memory_bytes=machine_memory_bytes)
    return nodes, report
