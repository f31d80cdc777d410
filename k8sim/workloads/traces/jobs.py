"""Job-level views of the traces that record jobs: arrival, run time and size per job.

The pod readers (:mod:`.alibaba_2018`, ...) flatten a trace into pods. Batch and AI
scheduling needs the jobs themselves: a job of N instances arrives as a whole, is
admitted by a queue as a whole and, as a gang, is placed as a whole. The readers here
give, for the formats whose job structure is public:

Alibaba ``cluster-trace-v2018`` ``batch_task.csv`` (:func:`read_alibaba_2018_jobs`)
    Columns as :data:`.alibaba_2018.BATCH_TASK_COLUMNS` (no header). Each task row is
    one job, id ``<job_name>/<task_name>``, of ``instance_num`` pods with the task's
    ``plan_cpu`` (100 = one core) and ``plan_mem`` (normalised: ``/ 100 *
    machine_memory_bytes``) per pod; arrival ``start_time``, run time ``end_time -
    start_time``. The tasks of a trace job form a DAG (``M2_1`` waits for ``M1``), so
    each task is its own job here. Start/end rules are the pod reader's: never started
    (both times 0, or status ``Waiting``/``Ready``) is filtered, still running (status
    ``Running`` or end 0) has an unknown run time (``clipped_end``).

Alibaba ``cluster-trace-gpu-v2020`` (PAI) (:func:`read_pai_2020_jobs`)
    ``pai_task_table.csv`` (no header): ``job_name, task_name, inst_num, status,
    start_time, end_time, plan_cpu, plan_mem, plan_gpu, gpu_type`` -- ``plan_cpu`` in
    percent of a core (600 = 6 cores), ``plan_mem`` in GB (read as GiB, as the machine
    spec reader does), ``plan_gpu`` in percent of a GPU (50 = half a GPU, 800 = 8
    GPUs), ``gpu_type`` the GPU model the task ran on; ``start_time`` is the task's
    launch. ``pai_job_table.csv`` (no header): ``job_name, inst_id, user, status,
    start_time, end_time`` -- ``start_time`` is the job's *submission*. With the job
    table a job arrives at its submission (the trace's own wait before launch is left
    to the simulated queues) and carries its ``user``; without it, at its first task's
    launch. ``unit="job"``: a job is all its tasks' instances (pod sets of one shape
    per task, e.g. ``ps`` and ``worker``); ``unit="task"``: each task is a job
    ``<job_name>/<task_name>``. A task's run time is ``end_time - start_time``; a
    job's is its longest task's. Tasks never launched (status ``Waiting``, or no
    ``start_time``) are filtered (``never_started``); status ``Running`` or no
    ``end_time``: unknown run time.
    GPUs per pod from ``plan_gpu`` ``g``: none for 0 or empty; one GPU of ``10 g``
    milli-GPU for ``0 < g < 100`` (a shared GPU); ``ceil(g / 100)`` whole GPUs above
    (a share such as 150 % is rounded up, and counted in the report's notes).
    ``gpu_model`` = ``gpu_type`` when the pod has GPUs (``match_gpu_type``).

What they return: :class:`TraceJobs`, one row per job (:data:`JOB_COLUMNS`, plus the
trace columns a queue may be chosen by, as strings) and one row per pod set
(:data:`PODSET_COLUMNS`), and one :class:`~.reports.TraceReport` per file. Options
(:class:`JobOptions`) apply in this order: window (a job is kept when it *arrives* in
``[start_s, end_s)``; arrivals then count from ``start_s``), sort by arrival (ties in
file order), the first ``max_jobs``, then the first jobs with at most ``max_pods`` pods
in all (whole jobs), time scale, resource scale.

Bad rows are dropped and reported with file, line and column, as by the pod readers
(:class:`~.tables.RowCheck`): ``wrong_field_count``, ``bad_number`` (a fractional
instance count too), ``missing_value``, ``negative_value``, ``negative_duration``,
``duplicate_task`` (a task seen before in its job), ``duplicate_job`` (job table),
``unknown_job`` (a task whose job is not in the job table). Filtered on purpose:
``never_started``, ``no_instances``, ``outside_window``, ``over_max_jobs``,
``over_max_pods``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from k8sim.workloads.traces.alibaba_2018 import BATCH_TASK_COLUMNS, _check_memory_size, _times
from k8sim.workloads.traces.reports import PathLike, TraceError, TraceReport, no_rows_error
from k8sim.workloads.traces.schema import GIB
from k8sim.workloads.traces.tables import RowCheck, read_table

__all__ = [
    "JOB_COLUMNS",
    "PAI_JOB_COLUMNS",
    "PAI_TASK_COLUMNS",
    "PODSET_COLUMNS",
    "JobOptions",
    "TraceJobs",
    "read_alibaba_2018_jobs",
    "read_job_trace",
    "read_pai_2020_jobs",
]

PAI_JOB_COLUMNS: tuple[str, ...] = ("job_name", "inst_id", "user", "status", "start_time", "end_time")
PAI_TASK_COLUMNS: tuple[str, ...] = ("job_name", "task_name", "inst_num", "status", "start_time", "end_time",
                                     "plan_cpu", "plan_mem", "plan_gpu", "gpu_type")

#: Columns of :attr:`TraceJobs.jobs` (then the format's attribute columns).
JOB_COLUMNS: tuple[str, ...] = ("job", "arrival_s", "duration_s", "pods", "clipped_end")
#: Columns of :attr:`TraceJobs.podsets` (``job``: the row of the job in ``jobs``).
PODSET_COLUMNS: tuple[str, ...] = ("job", "task", "count", "duration_s", "cpu_milli", "memory_bytes", "gpu_count",
                                   "gpu_milli", "gpu_model")

_PAI_NOT_STARTED = frozenset({"Waiting"})


@dataclass(frozen=True)
class JobOptions:
    """Window (trace seconds), job limit and scales of a job-level read."""

    start_s: float | None = None
    end_s: float | None = None
    max_jobs: int | None = None
    max_pods: int | None = None  # whole jobs only: the first jobs with at most this many pods
    time_scale: float = 1.0
    resource_scale: float = 1.0


@dataclass
class TraceJobs:
    """Jobs of a trace (see the module docstring)."""

    jobs: pd.DataFrame
    podsets: pd.DataFrame
    reports: list[TraceReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def pod_sets(self, job: int) -> pd.DataFrame:
        """The pod sets of job row ``job``."""
        return self.podsets[self.podsets["job"] == job]


def _as_list(paths: PathLike | Sequence[PathLike]) -> list[PathLike]:
    return list(paths) if isinstance(paths, (list, tuple)) else [paths]  # type: ignore[list-item]


def _reject_duplicates(check: RowCheck, keys: np.ndarray, reason: str, column: str) -> None:
    """Drop the rows of ``check`` whose key repeats an earlier good row's."""
    ok = np.flatnonzero(check.ok)
    dup = pd.Index(keys[ok]).duplicated(keep="first")
    mask = np.zeros(len(keys), dtype=bool)
    mask[ok[dup]] = True
    check.reject(mask, reason, column)


def _counts(check: RowCheck, column: str, report: TraceReport) -> np.ndarray:
    """Instance counts: whole numbers >= 0 (a fraction is ``bad_number``); rows with 0
    instances are filtered as ``no_instances``."""
    count = check.number(column, minimum=0)
    check.reject(count != np.round(count), "bad_number", column)
    none = check.ok & (count == 0)
    report.filter("no_instances", int(none.sum()))
    check.ok &= ~none
    return count


def read_alibaba_2018_jobs(batch_task: PathLike | Sequence[PathLike], options: JobOptions | None = None, *,
                           machine_memory_bytes: int) -> TraceJobs:
    """Read ``batch_task.csv`` file(s) into one job per task (see the module docstring)."""
    _check_memory_size(machine_memory_bytes)
    parts: list[pd.DataFrame] = []
    reports: list[TraceReport] = []
    for path in _as_list(batch_task):
        report = TraceReport(source=str(path))
        reports.append(report)
        table = read_table(path, BATCH_TASK_COLUMNS, report, header=None)
        check = RowCheck(table, report)
        plan_cpu = check.number("plan_cpu", minimum=0)
        plan_mem = check.number("plan_mem", minimum=0)
        count = _counts(check, "instance_num", report)
        job = check.text("job_name", nan_is_empty=False)
        task = check.text("task_name", nan_is_empty=False)
        status = check.text("status")
        start, end = _times(check, status, report)
        key = np.array([f"{j}/{t}" for j, t in zip(job.tolist(), task.tolist(), strict=True)], dtype=object)
        _reject_duplicates(check, key, "duplicate_task", "task_name")
        ok = check.ok
        if not ok.any():
            raise no_rows_error(table.path, report)
        parts.append(pd.DataFrame({
            "key": key[ok], "task": task[ok], "arrival": start[ok], "duration": (end - start)[ok],
            "count": count[ok], "cpu_milli": plan_cpu[ok] * 10, "memory_bytes": plan_mem[ok] / 100.0 * machine_memory_bytes,
            "gpu_count": 0, "gpu_milli": 0, "gpu_model": "",
            "job_name": job[ok], "task_name": task[ok], "task_type": check.text("task_type")[ok], "status": status[ok],
        }))
    tasks = pd.concat(parts, ignore_index=True)
    dup = tasks["key"].duplicated(keep="first")
    if dup.any():
        # The same task in two files: the first file's row counts.
        reports[-1].notes.append(f"{int(dup.sum())} task(s) repeat a task of an earlier file; the first is kept")
        tasks = tasks[~dup.to_numpy()]
    return _jobs(tasks, ("job_name", "task_name", "task_type", "status"), options or JobOptions(), reports, [],
                 str(_as_list(batch_task)[0]))


def _pai_gpus(plan_gpu: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(GPUs per pod, milli-GPU per GPU, how many shares above one GPU were rounded up)."""
    g = np.nan_to_num(plan_gpu, nan=0.0)
    shared = (g > 0) & (g < 100)
    whole = g >= 100
    count = np.where(shared, 1, np.where(whole, np.ceil(g / 100.0 - 1e-9), 0)).astype(np.int64)
    milli = np.where(shared, np.clip(np.rint(g * 10), 1, 999), np.where(whole, 1000, 0)).astype(np.int64)
    rounded = int((whole & (np.abs(g / 100.0 - np.rint(g / 100.0)) > 1e-9)).sum())
    return count, milli, rounded


def _read_pai_job_table(path: PathLike) -> tuple[pd.DataFrame, TraceReport]:
    """The job table: submission time, user and status per ``job_name``."""
    report = TraceReport(source=str(path))
    table = read_table(path, PAI_JOB_COLUMNS, report, header=None)
    check = RowCheck(table, report)
    submit = check.number("start_time", minimum=0)
    name = check.text("job_name", nan_is_empty=False)
    check.reject(check.missing("job_name"), "missing_value", "job_name")
    _reject_duplicates(check, name, "duplicate_job", "job_name")
    ok = check.ok
    if not ok.any():
        raise no_rows_error(table.path, report)
    frame = pd.DataFrame({"submit": submit[ok], "user": check.text("user")[ok], "job_status": check.text("status")[ok]},
                         index=pd.Index(name[ok], name="job_name"))
    return frame, report


def read_pai_2020_jobs(task_table: PathLike | Sequence[PathLike], options: JobOptions | None = None, *,
                       job_table: PathLike | None = None, unit: str = "job", match_gpu_type: bool = True) -> TraceJobs:
    """Read ``pai_task_table.csv`` file(s), and the job table if given, into jobs (see
    the module docstring)."""
    if unit not in ("job", "task"):
        raise ValueError(f"unit must be 'job' or 'task', not {unit!r}")
    reports: list[TraceReport] = []
    jobs_frame = None
    if job_table is not None:
        jobs_frame, job_report = _read_pai_job_table(job_table)
    notes: list[str] = []
    parts: list[pd.DataFrame] = []
    for path in _as_list(task_table):
        report = TraceReport(source=str(path))
        reports.append(report)
        table = read_table(path, PAI_TASK_COLUMNS, report, header=None)
        check = RowCheck(table, report)
        job = check.text("job_name", nan_is_empty=False)
        check.reject(check.missing("job_name"), "missing_value", "job_name")
        task = check.text("task_name", nan_is_empty=False)
        count = _counts(check, "inst_num", report)
        plan_cpu = check.number("plan_cpu", minimum=0)
        plan_mem = check.number("plan_mem", minimum=0)
        plan_gpu = check.number("plan_gpu", required=False, minimum=0)
        status = check.text("status")
        start = check.number("start_time", required=False, minimum=0)
        end = check.number("end_time", required=False, minimum=0)
        never = check.ok & (np.isnan(start) | np.isin(status, list(_PAI_NOT_STARTED)))
        report.filter("never_started", int(never.sum()))
        check.ok &= ~never
        running = (status == "Running") | np.isnan(end) | ((end == 0) & (start > 0))
        end = np.where(running, np.nan, end)
        check.reject(end < start, "negative_duration", "end_time")
        submit = start
        user = np.full(len(job), "", dtype=object)
        job_status = status
        if jobs_frame is not None:
            at = jobs_frame.index.get_indexer(pd.Index(job))
            check.reject(at < 0, "unknown_job", "job_name")
            take = np.maximum(at, 0)
            submit = np.where(at >= 0, jobs_frame["submit"].to_numpy()[take], np.nan)
            user = np.where(at >= 0, jobs_frame["user"].to_numpy(dtype=object)[take], "")
            job_status = np.where(at >= 0, jobs_frame["job_status"].to_numpy(dtype=object)[take], "")
        key_task = np.array([f"{j}/{t}" for j, t in zip(job.tolist(), task.tolist(), strict=True)], dtype=object)
        _reject_duplicates(check, key_task, "duplicate_task", "task_name")
        ok = check.ok
        if not ok.any():
            raise no_rows_error(table.path, report)
        gcount, gmilli, rounded = _pai_gpus(plan_gpu)
        if rounded:
            notes.append(f"{path}: {rounded} task(s) ask for a GPU share above one GPU that is not a whole number "
                         "of GPUs; rounded up to whole GPUs")
        model = check.text("gpu_type") if match_gpu_type else np.full(len(job), "", dtype=object)
        model = np.where(gcount > 0, model, "")
        parts.append(pd.DataFrame({
            "key": (job if unit == "job" else key_task)[ok], "task": task[ok],
            "arrival": submit[ok],
            "duration": (end - start)[ok], "count": count[ok], "cpu_milli": plan_cpu[ok] * 10,
            "memory_bytes": plan_mem[ok] * GIB, "gpu_count": gcount[ok], "gpu_milli": gmilli[ok],
            "gpu_model": model[ok], "job_name": job[ok], "task_name": task[ok], "user": user[ok],
            "status": (job_status if unit == "job" else status)[ok], "gpu_type": model[ok],
            "task_key": key_task[ok],
        }))
    tasks = pd.concat(parts, ignore_index=True)
    dup = tasks["task_key"].duplicated(keep="first")
    if dup.any():
        notes.append(f"{int(dup.sum())} task(s) repeat a task of an earlier file; the first is kept")
        tasks = tasks[~dup.to_numpy()]
    if jobs_frame is not None:
        reports.append(job_report)
        job_report.kept = int(tasks["job_name"].nunique())
    attrs = ("job_name", "user", "status") if unit == "job" else ("job_name", "task_name", "user", "status", "gpu_type")
    return _jobs(tasks, attrs, options or JobOptions(), reports, notes, str(_as_list(task_table)[0]))


def _jobs(tasks: pd.DataFrame, attrs: Sequence[str], options: JobOptions, reports: list[TraceReport],
          notes: list[str], file: str) -> TraceJobs:
    """Group task rows (``key`` = job id; file order) into jobs, then window, sort,
    limit and scale (see the module docstring)."""
    report = reports[0]
    codes, keys = pd.factorize(tasks["key"], sort=False)
    n = len(keys)
    arrival = np.full(n, np.inf)
    np.minimum.at(arrival, codes, tasks["arrival"].to_numpy(dtype=float))
    dur = tasks["duration"].to_numpy(dtype=float)
    duration = np.full(n, -np.inf)
    np.maximum.at(duration, codes, np.nan_to_num(dur, nan=np.inf))
    duration = np.where(np.isinf(duration), np.nan, duration)  # some task with no known end
    counts = tasks["count"].to_numpy(dtype=float).astype(np.int64)
    pods = np.bincount(codes, weights=counts, minlength=n).astype(np.int64)
    first = np.zeros(n, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # each job's first task row
    lo = options.start_s if options.start_s is not None else 0.0
    hi = options.end_s if options.end_s is not None else np.inf
    inside = (arrival >= lo) & (arrival < hi)
    report.filter("outside_window", int((~inside).sum()))
    if not inside.any():
        if options.start_s is not None or options.end_s is not None:
            raise TraceError(f"no jobs in the time window [{lo}, {hi}) s", file=file)
        raise no_rows_error(file, report, "jobs")
    rows = np.flatnonzero(inside)
    rows = rows[np.argsort(arrival[rows], kind="stable")]
    if options.max_jobs is not None and len(rows) > options.max_jobs:
        report.filter("over_max_jobs", len(rows) - options.max_jobs)
        rows = rows[: options.max_jobs]
    if options.max_pods is not None:
        fit = int(np.searchsorted(np.cumsum(pods[rows]), options.max_pods, side="right"))
        if fit == 0:
            raise TraceError(f"max_pods {options.max_pods} is fewer than the first job's {pods[rows[0]]} pods "
                             "(jobs are kept whole)", file=file)
        report.filter("over_max_pods", len(rows) - fit)
        rows = rows[:fit]
    ts, rs = options.time_scale, options.resource_scale
    jobs = pd.DataFrame({
        "job": pd.Series(np.asarray(keys, dtype=object)[rows], dtype="str"),
        "arrival_s": (arrival[rows] - lo) * ts,
        "duration_s": duration[rows] * ts,
        "pods": pods[rows],
        "clipped_end": np.isnan(duration[rows]),
    })
    for a in attrs:
        jobs[a] = pd.Series(tasks[a].to_numpy(dtype=object)[first[rows]], dtype="str")
    new_index = np.full(n, -1, dtype=np.int64)
    new_index[rows] = np.arange(len(rows))
    task_job = new_index[codes]
    keep = task_job >= 0
    order = np.lexsort((np.arange(len(task_job))[keep], task_job[keep]))  # by job, then file order
    sel = np.flatnonzero(keep)[order]
    podsets = pd.DataFrame({
        "job": task_job[sel],
        "task": pd.Series(tasks["task"].to_numpy(dtype=object)[sel], dtype="str"),
        "count": counts[sel],
        "duration_s": dur[sel] * ts,
        "cpu_milli": np.rint(tasks["cpu_milli"].to_numpy(dtype=float)[sel] * rs).astype(np.int64),
        "memory_bytes": np.rint(tasks["memory_bytes"].to_numpy(dtype=float)[sel] * rs).astype(np.int64),
        "gpu_count": tasks["gpu_count"].to_numpy(dtype=np.int64)[sel],
        "gpu_milli": tasks["gpu_milli"].to_numpy(dtype=np.int64)[sel],
        "gpu_model": pd.Series(tasks["gpu_model"].to_numpy(dtype=object)[sel], dtype="str"),
    })
    report.kept = len(jobs)
    return TraceJobs(jobs, podsets.reset_index(drop=True), reports, notes)


def read_job_trace(fmt: str, files: Sequence[str], args: dict, options: JobOptions) -> TraceJobs:
    """Read the files of a scenario's job trace (``workloads[].jobs``; ``sample`` is the
    packaged sample of the format). Raises :class:`TraceError` for unusable files and
    ValueError for arguments a reader rejects."""
    from k8sim.config.jobtraces import JOB_SAMPLES
    from k8sim.config.traces import SAMPLE, packaged_sample

    def path(name: str, arg: str) -> str:
        return str(packaged_sample(JOB_SAMPLES[fmt][arg])) if name == SAMPLE else name

    paths = [path(f, "files") for f in files]
    if fmt == "alibaba2018":
        return read_alibaba_2018_jobs(paths, options, machine_memory_bytes=int(args["machine_memory_bytes"]))
    if fmt == "pai2020":
        table = args.get("job_table")
        return read_pai_2020_jobs(paths, options, job_table=None if table is None else path(table, "job_table"),
                                  unit=str(args.get("unit", "job")), match_gpu_type=bool(args.get("match_gpu_type", True)))
    raise ValueError(f"unknown job trace format {fmt!r}")
