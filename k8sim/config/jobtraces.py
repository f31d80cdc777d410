"""Job-level trace replay in the schema: ``workloads[].jobs``.

Where :class:`~k8sim.config.workloads.TraceWorkload` replays a trace's pods one by one,
a job trace replays its *jobs*: each job (or task) of the trace arrives as a whole, a
job of ``instances`` pods, optionally a PodGroup (gang) of all of them, optionally a
training job whose run time on one node is the trace's, and optionally submitted to a
Kueue LocalQueue chosen from a trace column (the PAI ``user``, say). Readers:
:mod:`k8sim.workloads.traces.jobs`; what happens at run time: ``docs/batch.md``.

Formats (``format``):

- ``alibaba2018``: ``cluster-trace-v2018`` ``batch_task.csv`` files. Each task row is
  one job of ``instance_num`` pods (the tasks of one trace job form a DAG and run one
  after the other, so they are not one gang). ``args.machine_memory_bytes`` (required)
  is the memory a normalised ``plan_mem`` of 100 stands for.
- ``pai2020``: ``cluster-trace-gpu-v2020`` ``pai_task_table.csv`` files, and
  ``args.job_table`` (``pai_job_table.csv``) for each job's ``user`` and submission
  time. ``args.unit``: ``job`` (default; the tasks of a job, e.g. ``ps`` and
  ``worker``, are one job of all their instances) or ``task``.

The file name ``sample`` selects the synthetic sample shipped in the package.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from k8sim.config.base import Strict, base_dir, located
from k8sim.config.batch import check_slowdowns
from k8sim.config.k8s_types import K8sModel
from k8sim.config.names import Seconds
from k8sim.config.traces import Bytes, resolve_file
from k8sim.constants import MAX_PODS, MAX_TIME_S

__all__ = [
    "JOB_FORMAT_COLUMNS",
    "JOB_SAMPLES",
    "AlibabaJobArgs",
    "JobGang",
    "JobQueues",
    "JobTrace",
    "JobTraining",
    "PaiJobArgs",
]

#: Packaged synthetic samples (in ``k8sim/data/traces``): format -> {argument: file}.
JOB_SAMPLES: dict[str, dict[str, str]] = {
    "alibaba2018": {"files": "alibaba2018_batch_task_sample.csv"},
    "pai2020": {"files": "pai_task_table_sample.csv", "job_table": "pai_job_table_sample.csv"},
}

#: The trace columns a job's queue may be chosen by, per format and unit.
JOB_FORMAT_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("alibaba2018", "task"): ("job_name", "task_name", "task_type", "status"),
    ("pai2020", "job"): ("job_name", "user", "status"),
    ("pai2020", "task"): ("job_name", "task_name", "user", "status", "gpu_type"),
}


class AlibabaJobArgs(Strict):
    """``args`` of ``format: alibaba2018``."""

    machine_memory_bytes: Bytes  # memory of the machine the normalised plan_mem refers to


class PaiJobArgs(Strict):
    """``args`` of ``format: pai2020``."""

    # pai_job_table file (relative to the scenario; "sample" = the packaged sample):
    # each job's user and submission time. Absent: no user, arrival at the task launch.
    job_table: str | None = None
    # job: a job's tasks (roles) are one job of all their instances; task: one per task.
    unit: Literal["job", "task"] = "job"
    # Pods may run only on nodes of the task's gpu_type (the GPU model PAI gave it).
    match_gpu_type: bool = True


_ARGS: dict[str, type[Strict]] = {"alibaba2018": AlibabaJobArgs, "pai2020": PaiJobArgs}


class JobQueues(Strict):
    """Which Kueue LocalQueue (of the template's namespace) each job is submitted to:
    the value of the trace column ``column`` looked up in ``map``, else ``default``."""

    column: str = Field(min_length=1)  # a trace column (see the format's list)
    map: dict[str, str] = {}  # column value -> LocalQueue name
    # LocalQueue of the values not in map; absent: such a job is an error.
    default: str | None = Field(default=None, min_length=1)

    def queue_names(self) -> list[tuple[str, str]]:
        """(field path below ``queues``, LocalQueue name) of every name given."""
        out = [(f"map.{k}", v) for k, v in self.map.items()]
        if self.default is not None:
            out.append(("default", self.default))
        return out


class JobGang(K8sModel):
    """Each job is a PodGroup of all its pods (``minMember`` = the job's pods)."""

    # PodGroup scheduleTimeoutSeconds; default: the Coscheduling plugin's permitWaitingTimeSeconds.
    schedule_timeout_s: int | None = Field(default=None, ge=1, le=int(MAX_TIME_S), alias="scheduleTimeoutSeconds")


class JobTraining(K8sModel):
    """Each job is a training job (``docs/batch.md``): its workers wait for each other
    and its run time is the trace's (its longest task's) as the run time on one node,
    times (1 + slowdown) by where its workers land. The factors are as in
    ``gang.training`` of a generated workload."""

    cross_node_slowdown: float = Field(default=0.25, ge=0, le=100, alias="crossNodeSlowdown")
    cross_rack_slowdown: float = Field(default=0.5, ge=0, le=100, alias="crossRackSlowdown")
    rack_label: str | None = Field(default=None, alias="rackLabel", min_length=1)

    @model_validator(mode="after")
    def _check(self) -> JobTraining:
        check_slowdowns(self)
        return self


class JobTrace(Strict):
    """Jobs replayed from a trace (see the module docstring).

    Options apply in this order: time window (a job is kept when it arrives in
    ``[start_s, end_s)``, trace seconds; arrivals then count from ``start_s``), the
    first ``max_jobs`` jobs by arrival, time scale, resource scale.
    """

    format: Literal["alibaba2018", "pai2020"]
    # Task files (relative to the scenario file); "sample" = the packaged sample.
    files: list[str] = Field(min_length=1)
    args: dict[str, Any] = {}  # format-specific options (above)
    start_s: Seconds | None = None  # window start, trace seconds
    end_s: float | None = Field(default=None, gt=0, le=MAX_TIME_S)  # window end (exclusive), trace seconds
    max_jobs: int | None = Field(default=None, ge=1, le=MAX_PODS)  # the first jobs (by arrival) only
    time_scale: float = Field(default=1.0, gt=0, le=1e6)  # multiplies arrivals and run times
    resource_scale: float = Field(default=1.0, gt=0)  # multiplies CPU and memory requests
    # The LocalQueue of each job by a trace column (a fixed queue: the workload's queue).
    queues: JobQueues | None = None
    gang: JobGang | None = None  # each job is a PodGroup of all its pods
    training: JobTraining | None = None  # each job is a training job (needs gang)

    @field_validator("files")
    @classmethod
    def _files(cls, v: list[str], info: ValidationInfo) -> list[str]:
        fmt = info.data.get("format")
        if fmt is None:
            return v
        return [resolve_file(f, base_dir(info), JOB_SAMPLES[fmt]["files"], fmt) for f in v]

    @field_validator("args")
    @classmethod
    def _args(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        fmt = info.data.get("format")
        if fmt is None:
            return v
        args = _ARGS[fmt].model_validate(v).model_dump()
        if args.get("job_table") is not None:
            try:
                args["job_table"] = resolve_file(args["job_table"], base_dir(info), JOB_SAMPLES[fmt]["job_table"], fmt)
            except ValueError as e:
                raise ValueError(located("job_table", str(e))) from None
        return args

    @model_validator(mode="after")
    def _check(self) -> JobTrace:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(located("end_s", f"({self.end_s}) must be after start_s ({self.start_s})"))
        if self.training is not None and self.gang is None:
            raise ValueError(located("training", "a training job is a PodGroup of its workers: give gang too"))
        if self.queues is not None:
            columns = JOB_FORMAT_COLUMNS[(self.format, self.unit)]
            if self.queues.column not in columns:
                raise ValueError(located("queues.column", f"{self.queues.column!r} is not a column of "
                                         f"{self.format} jobs (unit {self.unit}); expected one of {list(columns)}"))
            if self.queues.column == "user" and self.args.get("job_table") is None:
                raise ValueError(located("queues.column", "user comes from the job table: give args.job_table"))
        return self

    @property
    def unit(self) -> str:
        """What one replayed job is: ``job`` or ``task``."""
        return str(self.args.get("unit", "task"))
