"""Alibaba cluster-trace-v2018: batch tasks / instances -> pods, machine_meta -> nodes.

Upstream: ``alibaba/clusterdata``, ``cluster-trace-v2018/schema.md``. CSV files without
a header; columns in this order (times in seconds from the trace start):

``batch_task.csv``
    ``task_name, instance_num, job_name, task_type, status, start_time, end_time,
    plan_cpu, plan_mem`` -- ``plan_cpu``: CPU per instance, 100 = 1 core; ``plan_mem``:
    memory per instance normalised to [0, 100]; ``task_name`` encodes the job's DAG
    (``M2_1`` depends on task 1) and is unique within a job.
``batch_instance.csv``
    ``instance_name, task_name, job_name, task_type, status, start_time, end_time,
    machine_id, seq_no, total_seq_no, cpu_avg, cpu_max, mem_avg, mem_max`` -- one row
    per instance run (``seq_no`` counts retries); usage columns are not requests and are
    not read.
``container_meta.csv``
    ``container_id, machine_id, time_stamp, app_du, status, cpu_request, cpu_limit,
    mem_size`` -- the online side (long-running service containers); read by
    :func:`read_alibaba_2018_containers` (``args.table: container``), one pod per
    container. Its usage table, ``container_usage.csv``, is read by
    :mod:`k8sim.workloads.traces.usage`.
``machine_meta.csv``
    ``machine_id, time_stamp, failure_domain_1, failure_domain_2, cpu_num, mem_size,
    status`` -- ``cpu_num`` cores, ``mem_size`` normalised to [0, 100]; several rows
    per machine (status events).

Memory is normalised, so the reader needs the memory a normalised 100 stands for:
``machine_memory_bytes`` (a stated machine size, e.g. ``96 * 2**30``). Memory requests
become ``plan_mem / 100 * machine_memory_bytes``.

Mapping to the normalised schema
    With ``batch_instance``: one pod per instance row: ``id`` = ``instance_name`` (with
    ``#<seq_no>`` appended for retries, ``seq_no > 1``), ``arrival_s`` =
    ``start_time``, ``duration_s`` = ``end_time - start_time``; requests from the
    instance's task (joined on ``job_name`` + ``task_name``); instances whose task is
    not in ``batch_task`` are dropped (``unknown_task``). Without it: each task becomes
    ``instance_num`` pods ``<job>/<task>/<k>`` with the task's start and end times.
    ``cpu_milli`` = ``plan_cpu * 10``; ``owner`` = ``job_name``; ``qos`` = ``"batch"``;
    ``priority`` 0; no GPUs. Rows with ``start_time`` and ``end_time`` both 0, or
    status ``Waiting`` / ``Ready``, never ran and are filtered (``never_started``); an
    ``end_time`` of 0 after a real start, or status ``Running``, means still running:
    ``clipped_end``.

    Dropped rows: ``wrong_field_count``, ``bad_number``, ``missing_value``,
    ``negative_value``, ``negative_duration`` (end before start), ``unknown_task``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from k8sim.workloads.traces.build import build_nodes, build_pods, raw_frame, read_batches
from k8sim.workloads.traces.reports import PathLike, TraceReport, file_label
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.tables import (
    DeferredDrops,
    RowCheck,
    Table,
    iter_tables,
    read_table,
    to_object_array,
)

__all__ = [
    "BATCH_INSTANCE_COLUMNS",
    "BATCH_TASK_COLUMNS",
    "CONTAINER_META_COLUMNS",
    "CONTAINER_USAGE_COLUMNS",
    "MACHINE_META_COLUMNS",
    "read_alibaba_2018",
    "read_alibaba_2018_containers",
    "read_alibaba_2018_machines",
]

BATCH_TASK_COLUMNS: tuple[str, ...] = (
    "task_name",
    "instance_num",
    "job_name",
    "task_type",
    "status",
    "start_time",
    "end_time",
    "plan_cpu",
    "plan_mem",
)
BATCH_INSTANCE_COLUMNS: tuple[str, ...] = (
    "instance_name",
    "task_name",
    "job_name",
    "task_type",
    "status",
    "start_time",
    "end_time",
    "machine_id",
    "seq_no",
    "total_seq_no",
    "cpu_avg",
    "cpu_max",
    "mem_avg",
    "mem_max",
)
MACHINE_META_COLUMNS: tuple[str, ...] = (
    "machine_id",
    "time_stamp",
    "failure_domain_1",
    "failure_domain_2",
    "cpu_num",
    "mem_size",
    "status",
)

_NOT_STARTED = frozenset({"Waiting", "Ready"})


def _times(check: RowCheck, status: np.ndarray, report: TraceReport) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) with end NaN for still-running rows; drops/filters the rest."""
    start = check.number("start_time", minimum=0)
    end = check.number("end_time", minimum=0)
    never = ((start == 0) & (end == 0)) | np.isin(status, list(_NOT_STARTED))
    never &= check.ok
    report.filter("never_started", int(never.sum()))
    check.ok &= ~never
    running = (status == "Running") | ((end == 0) & (start > 0))
    end = np.where(running, np.nan, end)
    check.reject(end < start, "negative_duration", "end_time")
    return start, end


def _check_memory_size(machine_memory_bytes: int) -> None:
    if not machine_memory_bytes or machine_memory_bytes <= 0:
        raise ValueError("machine_memory_bytes (the memory a normalised 100 stands for) must be > 0")


def _joined(*parts: pa.Array | str) -> pa.Array:
    """Element-wise ``"/".join(parts)``."""
    return pc.binary_join_element_wise(*parts, "/")


def read_alibaba_2018(
    batch_task: PathLike,
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
    *,
    machine_memory_bytes: int,
    batch_instance: PathLike | None = None,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read batch tasks (and instances, if given) into the normalised pod schema.

    The instance file (the large one) is read in batches, each joined to the tasks and,
    with a time window, keeping only its instances in the window
    (:func:`~k8sim.workloads.traces.build.read_batches`)."""
    _check_memory_size(machine_memory_bytes)
    report = TraceReport(source=str(batch_instance or batch_task))
    tasks = read_table(batch_task, BATCH_TASK_COLUMNS, report, header=None)
    tcheck = RowCheck(tasks, report)
    plan_cpu = tcheck.number("plan_cpu", minimum=0)
    plan_mem = tcheck.number("plan_mem", minimum=0)
    job = tcheck.strings("job_name", nan_is_empty=False)
    task = tcheck.strings("task_name", nan_is_empty=False)
    cpu_milli = plan_cpu * 10
    memory = plan_mem / 100.0 * machine_memory_bytes

    if batch_instance is None:
        count = tcheck.number("instance_num", minimum=0)
        tcheck.reject(count != np.round(count), "bad_number", "instance_num")
        start, end = _times(tcheck, tcheck.text("status"), report)
        ok = tcheck.ok & (count > 0)
        report.filter("no_instances", int((tcheck.ok & (count == 0)).sum()))
        rows = np.flatnonzero(ok)
        reps = count[rows].astype(np.int64)
        expand = np.repeat(rows, reps)
        # Instance number within its task: 0, 1, ... reps - 1.
        k = np.arange(len(expand), dtype=np.int64) - np.repeat(np.cumsum(reps) - reps, reps)
        take = pa.array(expand)
        raw = raw_frame(
            len(expand),
            id=_joined(job.take(take), task.take(take), pc.cast(pa.array(k), pa.string())),
            arrival=start[expand],
            end=end[expand],
            duration=(end - start)[expand],
            cpu_milli=cpu_milli[expand],
            memory_bytes=memory[expand],
            qos="batch",
            owner=job.take(take),
        )
        pods = build_pods(raw, file=tasks.path, options=options, rng=rng, report=report)
        return pods, report

    # Instances find their task by (job_name, task_name); of repeated good tasks the
    # last row counts.
    ok_rows = np.flatnonzero(tcheck.ok)
    good = pd.MultiIndex.from_arrays([to_object_array(job)[ok_rows], to_object_array(task)[ok_rows]])
    last = ~good.duplicated(keep="last")
    good, good_rows = good[last], ok_rows[last]
    bad_rows = np.flatnonzero(~tcheck.ok)
    bad = pd.MultiIndex.from_arrays([to_object_array(job)[bad_rows], to_object_array(task)[bad_rows]])
    noted = [False]

    def parse(inst: Table, drops: DeferredDrops) -> dict[str, Any]:
        icheck = RowCheck(inst, drops)
        ijob = icheck.strings("job_name", nan_is_empty=False)
        itask = icheck.strings("task_name", nan_is_empty=False)
        seq = icheck.number("seq_no", required=False)
        start, end = _times(icheck, icheck.text("status"), report)
        keys = pd.MultiIndex.from_arrays([to_object_array(ijob), to_object_array(itask)])
        found = good.get_indexer(keys)
        task_row = np.where(found >= 0, good_rows[np.maximum(found, 0)], -1)
        unknown = task_row < 0
        icheck.reject(unknown, "unknown_task", "task_name")
        if not noted[0] and unknown.any() and len(bad) and bad.isin(keys[unknown]).any():
            noted[0] = True
            report.notes.append(
                f"{file_label(batch_instance)}: some instances belong to tasks dropped as bad in "
                f"{file_label(batch_task)} (counted as unknown_task)"
            )
        ok = icheck.ok
        keep = pa.array(ok)
        names = icheck.strings("instance_name", nan_is_empty=False).filter(keep)
        s = seq[ok]
        again = s > 1  # a retry: "<name>#<seq>"
        numbered = pc.binary_join_element_wise(
            names, pc.cast(pa.array(np.where(again, s, 0).astype(np.int64)), pa.string()), "#")
        t = task_row[ok]
        return {
            "id": pc.if_else(pa.array(again), numbered, names),
            "arrival": start[ok],
            "end": end[ok],
            "duration": (end - start)[ok],
            "cpu_milli": cpu_milli[t],
            "memory_bytes": memory[t],
            "owner": ijob.filter(keep),
        }

    file = str(batch_instance)
    # ``parse`` records in the report and fills the task index lazily: it runs in this
    # thread (a plain iterator), while the blocks are still parsed ahead.
    cols = read_batches(iter(iter_tables(batch_instance, BATCH_INSTANCE_COLUMNS, report, header=None)), parse,
                        file=file, report=report, options=options)
    raw = raw_frame(len(cols["arrival"]), qos="batch", **cols)
    pods = build_pods(raw, file=file, options=options, rng=rng, report=report)
    return pods, report


def read_alibaba_2018_machines(
    machine_meta: PathLike, *, machine_memory_bytes: int
) -> tuple[pd.DataFrame, TraceReport]:
    """Read ``machine_meta.csv`` into the node schema: one node per ``machine_id``.

    Each machine takes its most recent row (largest ``time_stamp``; the later row on a
    tie): ``cpu_milli`` = ``cpu_num * 1000``, ``memory_bytes`` = ``mem_size / 100 *
    machine_memory_bytes``; no GPUs. Nodes come in order of first appearance.
    """
    _check_memory_size(machine_memory_bytes)
    report = TraceReport(source=str(machine_meta))
    table = read_table(machine_meta, MACHINE_META_COLUMNS, report, header=None)
    check = RowCheck(table, report)
    stamp = check.number("time_stamp", required=False)
    cpu = check.number("cpu_num", minimum=0)
    mem = check.number("mem_size", minimum=0)
    ok = check.ok
    frame = pd.DataFrame(
        {
            "name": check.text("machine_id", nan_is_empty=False)[ok],
            "stamp": np.nan_to_num(stamp[ok], nan=-np.inf),
            "cpu_milli": cpu[ok] * 1000,
            "memory_bytes": mem[ok] / 100.0 * machine_memory_bytes,
            "order": np.arange(int(ok.sum())),
        }
    )
    first_seen = frame.groupby("name", sort=False)["order"].min()
    latest = frame.sort_values(["stamp", "order"], kind="stable").groupby("name", sort=False).tail(1)
    latest = latest.assign(first=latest["name"].map(first_seen)).sort_values("first")
    dupes = int(ok.sum()) - len(latest)
    if dupes:
        report.filter("older_machine_rows", dupes)
    raw = latest.assign(gpu_count=0, gpu_model="")
    nodes = build_nodes(raw.reset_index(drop=True), file=table.path, report=report)
    return nodes, report


# --------------------------------------------------------------------------- online containers

CONTAINER_USAGE_COLUMNS: tuple[str, ...] = (
    "container_id",
    "machine_id",
    "time_stamp",
    "cpu_util_percent",
    "mem_util_percent",
    "cpi",
    "mem_gps",
    "mpki",
    "net_in",
    "net_out",
    "disk_io_percent",
)
CONTAINER_META_COLUMNS: tuple[str, ...] = (
    "container_id",
    "machine_id",
    "time_stamp",
    "app_du",
    "status",
    "cpu_request",
    "cpu_limit",
    "mem_size",
)

#: ``container_meta`` statuses (compared in lower case): a start, and the end of a run.
#: Any other status (``allocated``: placed, not yet running) neither starts nor stops a
#: container.
CONTAINER_START_STATUSES = frozenset({"started"})
CONTAINER_STOP_STATUSES = frozenset({"stopped", "stopping", "terminated", "deleted", "killed", "failed", "exited"})

#: QoS class of the pods made of online containers (the batch side's is ``"batch"``).
CONTAINER_QOS = "online"


def read_alibaba_2018_containers(
    container_meta: PathLike,
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
    *,
    machine_memory_bytes: int,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read the online side, ``container_meta.csv``, into the normalised pod schema.

    ``container_meta.csv`` (no header): ``container_id, machine_id, time_stamp, app_du,
    status, cpu_request, cpu_limit, mem_size`` -- ``cpu_request`` / ``cpu_limit``: 100 =
    1 core; ``mem_size``: memory normalised to [0, 100]; ``app_du``: the deploy unit
    (containers of one ``app_du`` provide one service). Several rows per container
    (status events), not necessarily in time order.

    One pod per ``container_id``, a long-running service container:

    - its **first** ``started`` row (smallest ``time_stamp``, the earlier row in the file
      on a tie) gives ``arrival_s`` = ``time_stamp`` (0: running when the trace began,
      so it arrives at 0, or at the window start) and the requests: ``cpu_milli`` =
      ``cpu_request * 10``, ``memory_bytes`` = ``mem_size / 100 *
      machine_memory_bytes``;
    - it runs until its first row after that start whose status is a stop
      (:data:`CONTAINER_STOP_STATUSES`): ``duration_s`` = that ``time_stamp`` minus the
      start; without one it runs to the end of the trace (``duration_s`` NaN,
      ``clipped_end``: runs for the rest of the simulation);
    - every other row of the container (``allocated`` rows, later ``started`` rows, a
      restart after a stop) changes nothing; they are counted as ``other_records``.
      Later rows with other requests (a resize), and starts after a stop, are counted in
      the report's notes: the replay keeps the first run with its first requests;
    - containers without a ``started`` row never ran: their rows are filtered
      (``never_started``);
    - ``owner`` = ``app_du`` (so ``sample_by: owner`` samples whole applications),
      ``qos`` = :data:`CONTAINER_QOS`, ``priority`` 0, no GPUs. ``machine_id`` (the
      trace's placement) and ``cpu_limit`` are checked but not replayed: the scheduler
      places the pod, and the pod schema carries requests (a usage model's
      ``limit_ratio`` or the template gives limits).

    Dropped rows (with their line and column in the report): ``wrong_field_count``,
    ``bad_number``, ``missing_value`` (no ``container_id``, ``status``, ``time_stamp``,
    ``cpu_request`` or ``mem_size``), ``negative_value``. Counts add up:
    ``rows_read == kept + dropped + filtered`` (rows, not pods).
    """
    _check_memory_size(machine_memory_bytes)
    report = TraceReport(source=str(container_meta))
    table = read_table(container_meta, CONTAINER_META_COLUMNS, report, header=None)
    check = RowCheck(table, report)
    cid = check.text("container_id")
    check.reject(np.array([not str(c).strip() for c in cid], dtype=bool), "missing_value", "container_id")
    stamp = check.number("time_stamp", minimum=0)
    status = np.array([str(s).strip().lower() for s in check.text("status")], dtype=object)
    check.reject(status == "", "missing_value", "status")
    cpu = check.number("cpu_request", minimum=0)
    check.number("cpu_limit", required=False, minimum=0)
    mem = check.number("mem_size", minimum=0)
    app = check.text("app_du")
    ok = np.flatnonzero(check.ok)
    start_row = np.isin(status, list(CONTAINER_START_STATUSES))
    stop_row = np.isin(status, list(CONTAINER_STOP_STATUSES))
    # The good rows in time order (file order on ties), grouped by container.
    rows = pd.DataFrame({"cid": cid[ok], "stamp": stamp[ok], "row": ok})
    rows = rows.sort_values("stamp", kind="stable").reset_index(drop=True)
    rows["pos"] = np.arange(len(rows))
    is_start = start_row[rows["row"].to_numpy()]
    first = rows[is_start].groupby("cid", sort=False).first()
    started = rows["cid"].isin(first.index).to_numpy()
    report.filter("never_started", int((~started).sum()))
    # The first stop after each container's first start.
    start_pos = rows["cid"].map(first["pos"]).to_numpy(dtype=float)
    after = started & (rows["pos"].to_numpy() > start_pos)
    stops = rows[after & stop_row[rows["row"].to_numpy()]].groupby("cid", sort=False)["stamp"].first()
    # Pods in order of their start row in the file.
    first = first.sort_values("row", kind="stable")
    srow = first["row"].to_numpy(dtype=np.int64)
    start = first["stamp"].to_numpy(dtype=float)
    end = stops.reindex(first.index).to_numpy(dtype=float)
    report.filter("other_records", int(started.sum()) - len(first))
    # Notes: later requests that differ, starts after a stop (not replayed).
    later = rows[after]
    lrow = later["row"].to_numpy(dtype=np.int64)
    own = pd.Series(srow, index=first.index).reindex(later["cid"]).to_numpy(dtype=np.int64)
    resized = later["cid"][(cpu[lrow] != cpu[own]) | (mem[lrow] != mem[own])].nunique()
    if resized:
        report.notes.append(f"{file_label(container_meta)}: {resized} containers have later rows with other "
                            "requests; each pod keeps the requests of its first started row")
    stop_at = later["cid"].map(stops).to_numpy(dtype=float)
    restarted = later["cid"][start_row[lrow] & (later["stamp"].to_numpy() >= stop_at)].nunique()
    if restarted:
        report.notes.append(f"{file_label(container_meta)}: {restarted} containers start again after a stop; "
                            "only their first run is replayed")
    raw = raw_frame(
        len(first),
        id=pa.array(first.index.to_numpy(dtype=object).astype(str), type=pa.string()),
        arrival=start,
        end=end,
        duration=end - start,
        cpu_milli=cpu[srow] * 10,
        memory_bytes=mem[srow] / 100.0 * machine_memory_bytes,
        qos=CONTAINER_QOS,
        owner=pa.array(app[srow].astype(str), type=pa.string()),
    )
    pods = build_pods(raw, file=table.path, options=options, rng=rng, report=report)
    return pods, report
