"""The Standard Workload Format (SWF, version 2.2) of the Parallel Workloads Archive.

Upstream: Feitelson et al., "Experience with using the Parallel Workloads Archive"
(JPDC 2014) and the archive's format page. One ASCII file; each job is one line of 18
whitespace-separated fields; ``-1`` means "not known / not relevant"; lines starting with
``;`` are comments, and the header comments ``; Key: value`` describe the log
(``MaxNodes``, ``MaxProcs``, ``UnixStartTime``, ...; see :func:`read_swf_header`).

Fields, in order
    1 job number, 2 submit time (s, from the log start), 3 wait time (s), 4 run time
    (s, wall clock), 5 number of allocated processors, 6 average CPU time used (s),
    7 used memory (KB per processor), 8 requested number of processors, 9 requested time
    (s), 10 requested memory (KB per processor), 11 status (1 completed, 0 failed,
    5 cancelled; partial-execution codes 2..4), 12 user ID, 13 group ID, 14 executable
    (application) number, 15 queue number, 16 partition number, 17 preceding job
    number, 18 think time from preceding job (s).

Mapping to the normalised schema
    One pod per job: ``id`` = job number; ``arrival_s`` = submit time; ``duration_s`` =
    run time (the scheduler's wait is the simulator's to reproduce; NaN if unknown);
    the job's end in the log (for windows) is submit + wait + run. Processors are the
    requested number (field 8), or the allocated one (field 5) when not requested;
    ``cpu_milli`` = processors * ``cpu_milli_per_processor`` (default 1000).
    ``memory_bytes`` = processors * requested memory (field 10; used memory, field 7,
    when not requested; 0 when neither) * 1024. ``owner`` = user ID (field 12, "" if
    -1); ``qos`` = ``queue<N>`` from field 15 ("" if -1); ``priority`` 0; no GPUs.
    Cancelled jobs (status 5) that never ran (run time <= 0 or -1) are filtered
    (``cancelled``).

    Dropped lines: ``wrong_field_count``, ``bad_number``, ``negative_value`` (a negative
    submit time, or a negative value other than -1), ``negative_duration`` (a negative
    run time other than -1), ``no_processors`` (neither field 5 nor 8 known).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from k8sim.workloads.traces.build import build_pods, raw_frame, read_batches
from k8sim.workloads.traces.reports import PathLike, TraceError, TraceReport, Where, file_label
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.tables import DeferredDrops, RowCheck, Table, open_text

__all__ = ["SWF_FIELDS", "read_swf", "read_swf_header"]

SWF_FIELDS: tuple[str, ...] = (
    "job_number",
    "submit_time",
    "wait_time",
    "run_time",
    "allocated_processors",
    "average_cpu_time",
    "used_memory",
    "requested_processors",
    "requested_time",
    "requested_memory",
    "status",
    "user_id",
    "group_id",
    "executable_number",
    "queue_number",
    "partition_number",
    "preceding_job_number",
    "think_time",
)


def read_swf_header(path: PathLike) -> dict[str, str]:
    """The ``; Key: value`` header comments of an SWF file (repeated keys joined by newlines)."""
    header: dict[str, str] = {}
    with open_text(path) as fh:
        for line in fh:
            text = line.strip()
            if not text:
                continue
            if not text.startswith(";"):
                break
            body = text.lstrip(";").strip()
            key, sep, value = body.partition(":")
            if sep and key.strip() and " " not in key.strip():
                k = key.strip()
                header[k] = f"{header[k]}\n{value.strip()}" if k in header else value.strip()
    return header


#: Data rows per batch of an SWF file.
SWF_BATCH_ROWS = 1 << 16


def _swf_tables(path: PathLike, report: TraceReport) -> Iterator[Table]:
    """The data rows of an SWF file in batches (fields split at any whitespace; comment
    and blank lines skipped; a row with the wrong field count dropped, except the first,
    which means the file is not SWF)."""
    label = str(path)
    batch_rows = SWF_BATCH_ROWS
    rows: list[list[str]] = []
    lines: list[int] = []
    first = True

    def table() -> Table:
        cells = {}
        for j, name in enumerate(SWF_FIELDS):
            arr = np.empty(len(rows), dtype=object)
            arr[:] = [r[j] for r in rows]
            cells[name] = arr
        return Table(label, SWF_FIELDS, cells, np.asarray(lines, dtype=np.int64))

    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith(";"):
                continue
            fields = text.split()
            if first:
                first = False
                if len(fields) != len(SWF_FIELDS):
                    raise TraceError(
                        f"{len(fields)} fields where {len(SWF_FIELDS)} were expected; expected fields: "
                        + ", ".join(SWF_FIELDS),
                        file=label,
                        line=lineno,
                    )
            report.rows_read += 1
            if len(fields) != len(SWF_FIELDS):
                report.drop("wrong_field_count", 1, [Where(file_label(path), lineno)])
                continue
            rows.append(fields)
            lines.append(lineno)
            if len(rows) >= batch_rows:
                yield table()
                rows, lines = [], []
    if first:
        raise TraceError("no data rows; expected fields: " + ", ".join(SWF_FIELDS), file=label)
    if rows:
        yield table()


def _labels(prefix: str, values: np.ndarray) -> pa.Array:
    """``prefix + str(int(v))`` where ``v >= 0``, else ``""``."""
    known = values >= 0
    text = pc.cast(pa.array(np.where(known, values, 0).astype(np.int64)), pa.string())
    return pc.if_else(pa.array(known), pc.binary_join_element_wise(prefix, text, ""), "")


def _parse_swf_batch(table: Table, drops: DeferredDrops, report: TraceReport,
                     cpu_milli_per_processor: float) -> dict[str, Any]:
    """The good rows of one batch of an SWF log, parsed (drops deferred)."""
    check = RowCheck(table, drops)
    values = {name: check.number(name) for name in SWF_FIELDS}
    for name in SWF_FIELDS:
        if name == "run_time":
            continue
        check.reject(values[name] < -1, "negative_value", name)
    check.reject(values["submit_time"] < 0, "negative_value", "submit_time")
    run = values["run_time"]
    check.reject(run < -1, "negative_duration", "run_time")
    requested, allocated = values["requested_processors"], values["allocated_processors"]
    procs = np.where(requested > 0, requested, allocated)
    check.reject(~(procs > 0), "no_processors", "requested_processors")
    cancelled = check.ok & (values["status"] == 5) & (run <= 0)
    report.filter("cancelled", int(cancelled.sum()))
    check.ok &= ~cancelled

    run = np.where(run < 0, np.nan, run)
    wait = np.maximum(values["wait_time"], 0)
    submit = values["submit_time"]
    mem_kb = np.where(
        values["requested_memory"] > 0,
        values["requested_memory"],
        np.maximum(values["used_memory"], 0),
    )
    ok = check.ok
    return {
        "id": check.strings("job_number", nan_is_empty=False).filter(pa.array(ok)),
        "arrival": submit[ok],
        "end": (submit + wait + run)[ok],
        "duration": run[ok],
        "cpu_milli": procs[ok] * cpu_milli_per_processor,
        "memory_bytes": procs[ok] * mem_kb[ok] * 1024,
        "qos": _labels("queue", values["queue_number"][ok]),
        "owner": _labels("", values["user_id"][ok]),
    }


def read_swf(
    path: PathLike,
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
    *,
    cpu_milli_per_processor: float = 1000,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read an SWF log into the normalised pod schema (see the module doc).

    The file is read in batches; with a time window each batch keeps only its jobs in
    the window (:func:`~k8sim.workloads.traces.build.read_batches`)."""
    if not cpu_milli_per_processor > 0:
        raise ValueError("cpu_milli_per_processor must be > 0")
    report = TraceReport(source=str(path))
    cols = read_batches(
        _swf_tables(path, report),
        lambda table, drops: _parse_swf_batch(table, drops, report, cpu_milli_per_processor),
        file=str(path), report=report, options=options)
    raw = raw_frame(len(cols["arrival"]), **cols)
    pods = build_pods(raw, file=str(path), options=options, rng=rng, report=report)
    return pods, report
