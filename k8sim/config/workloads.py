"""The ``workloads`` section: streams of pods, either generated (an arrival process and
a pod template) or replayed from a trace file (see README "Trace replay")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from k8sim.config.base import Strict, base_dir, existing_path, located
from k8sim.config.batch import GangSpec
from k8sim.config.distributions import Distribution
from k8sim.config.jobtraces import JobTrace
from k8sim.config.names import PodName, Priority, Seconds
from k8sim.config.pods import PodTemplate
from k8sim.config.traces import POD_FORMAT_SCHEMAS, TraceOptions, check_args, resolve_file
from k8sim.constants import MAX_PODS, MAX_RATE_PER_S, MAX_TIME_S

__all__ = [
    "Arrival",
    "BurstArrivals",
    "ExplicitArrivals",
    "IntervalArrivals",
    "ManifestApply",
    "PoissonArrivals",
    "TraceWorkload",
    "Workload",
]


class PoissonArrivals(Strict):
    """Poisson process: exponential inter-arrival times with mean ``1 / rate_per_s``."""

    kind: Literal["poisson"]
    rate_per_s: float = Field(gt=0, le=MAX_RATE_PER_S)  # mean arrivals per second
    start_s: Seconds = 0.0  # first possible arrival
    stop_s: float | None = Field(default=None, gt=0, le=MAX_TIME_S)  # no arrivals after this time


class IntervalArrivals(Strict):
    """One pod every ``every_s`` seconds, the first at ``start_s``."""

    kind: Literal["interval"]
    every_s: float = Field(ge=1 / MAX_RATE_PER_S, le=MAX_TIME_S)  # fixed inter-arrival time
    start_s: Seconds = 0.0  # time of the first arrival
    stop_s: float | None = Field(default=None, gt=0, le=MAX_TIME_S)  # no arrivals after this time


class ExplicitArrivals(Strict):
    """Pods arrive at the listed times (sorted on load)."""

    kind: Literal["times"]
    times_s: list[Seconds] = Field(min_length=1, max_length=MAX_PODS)  # arrival times


class BurstArrivals(Strict):
    """``count`` pods arrive together at ``at_s``."""

    kind: Literal["burst"]
    count: int = Field(ge=1, le=MAX_PODS)  # pods in the burst
    at_s: Seconds = 0.0  # time of the burst


Arrival = Annotated[
    PoissonArrivals | IntervalArrivals | ExplicitArrivals | BurstArrivals,
    Field(discriminator="kind"),
]


class TraceWorkload(Strict):
    """Pods replayed from a trace file (see README "Trace replay").

    Options apply in this order: time window (trace seconds), sampling, time scale,
    resource scale. ``timed`` replays arrivals and run times as in the trace (pods with
    no known end run for ever); ``inflation`` is the ATC '23 methodology: times are
    ignored, the pods are shuffled and sampled copies appended until their GPU request
    reaches ``target_gpu_share`` of the cluster's GPU capacity, one pod is submitted per
    ``interval_s``, pods never leave, and a pod that cannot be placed is dropped.
    """

    format: Literal["openb", "dlrm", "alibaba2018", "google2019", "google2011", "azure-vm", "swf", "simkube"]
    # Trace files (relative to the scenario file); "sample" = the packaged sample.
    files: list[str] = Field(min_length=1)
    args: dict[str, Any] = {}  # format-specific reader options (see README)
    start_s: Seconds | None = None  # window start, trace seconds
    end_s: float | None = Field(default=None, gt=0, le=MAX_TIME_S)  # window end (exclusive), trace seconds
    time_scale: float = Field(default=1.0, gt=0, le=1e6)  # multiplies arrivals and run times
    resource_scale: float = Field(default=1.0, gt=0)  # multiplies CPU and memory requests
    sample_fraction: float = Field(default=1.0, gt=0, le=1)  # share of pods (or owners) kept
    sample_by: Literal["pod", "owner"] = "pod"  # sample whole owners (jobs) or pods
    # Seed of the sample; absent: drawn from the run's seed (a new sample per seed).
    sample_seed: int | None = Field(default=None, ge=0)
    use_trace_priority: bool = False  # pod priority from the trace (else the template's)
    # Pod priority per trace QoS class, e.g. {LS: 1000, BE: 0} (openb); classes not
    # listed keep the trace's priority (use_trace_priority) or the template's.
    priority_by_qos: dict[str, Priority] = {}
    mode: Literal["timed", "inflation"] = "timed"
    # inflation: stop once the submitted GPU request reaches this share of capacity.
    target_gpu_share: float = Field(default=1.3, gt=0, le=100)
    interval_s: float = Field(default=1.0, gt=0, le=MAX_TIME_S)  # inflation: seconds between submissions

    @field_validator("files")
    @classmethod
    def _files(cls, v: list[str], info: ValidationInfo) -> list[str]:
        fmt = info.data.get("format")
        if fmt is None:
            return v
        return [resolve_file(f, base_dir(info), POD_FORMAT_SCHEMAS[fmt].sample, fmt) for f in v]

    @field_validator("args")
    @classmethod
    def _args(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        fmt = info.data.get("format")
        return v if fmt is None else check_args(fmt, v, base_dir(info))

    @model_validator(mode="after")
    def _check(self) -> TraceWorkload:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        if self.mode == "timed" and ("target_gpu_share" in self.model_fields_set
                                     or "interval_s" in self.model_fields_set):
            raise ValueError("target_gpu_share and interval_s apply to mode: inflation only")
        return self

    def options(self) -> TraceOptions:
        """The options every pod reader takes."""
        return TraceOptions(start_s=self.start_s, end_s=self.end_s, time_scale=self.time_scale,
                            sample_fraction=self.sample_fraction, sample_by=self.sample_by,
                            resource_scale=self.resource_scale)


class ManifestApply(Strict):
    """``kubectl apply -f manifest`` at ``at_s``: objects that exist are updated (a new
    replica count scales them, a new pod template rolls them out), new ones created."""

    at_s: float = Field(ge=0)  # when (virtual seconds)
    manifest: str  # file or directory, relative to the scenario file

    @field_validator("manifest")
    @classmethod
    def _manifest(cls, v: str, info: ValidationInfo) -> str:
        return existing_path(v, info, "manifest")


#: Template fields a manifest workload may set: simulation knobs the manifest cannot say.
MANIFEST_TEMPLATE_KNOBS = frozenset({"start_latency", "readiness_delay", "sandbox_latency", "crash"})


class Workload(Strict):
    """A stream of pods: when they arrive, what they ask for, how long they run.

    Either ``arrival`` (a generated stream of identical pods), ``trace`` (pods,
    requests, arrivals and run times from a trace; the template adds the rest) or
    ``manifest`` (Kubernetes objects run by k8sim's controllers; see
    ``docs/controllers.md``: the template may then set only the simulation knobs
    ``start_latency``, ``readiness_delay``, ``sandbox_latency`` and ``crash``, and
    ``duration`` is the pods' run time, default for ever)."""

    # Workload name ([namespace/]name, a DNS-1123 subdomain); pods are named <name>-<i>.
    # A manifest entry defaults to the file name without its extension.
    name: PodName
    arrival: Arrival | None = None  # arrival process
    trace: TraceWorkload | None = None  # pods from a trace file, instead of arrival
    # Jobs from a trace file (each a job of N pods; optionally gangs, training jobs,
    # queued), instead of arrival (docs/batch.md "Jobs from traces").
    jobs: JobTrace | None = None
    # Kubernetes manifests (a YAML file, multi-document, or a directory of them;
    # relative to the scenario file): Deployments, ReplicaSets, StatefulSets,
    # DaemonSets, Pods, Namespaces, PriorityClasses, Nodes.
    manifest: str | None = None
    # Manifests applied later (updates of the objects: scale, new template = rollout).
    apply: list[ManifestApply] = []
    max_pods: int | None = Field(default=None, ge=1, le=MAX_PODS)  # stop after this many pods
    template: PodTemplate = PodTemplate()  # the pods' spec
    # Run time once Running; drawn per pod at its birth. Absent: the pod runs forever.
    duration: Distribution | None = None
    # Each arrival is a job of gang.workers pods in a PodGroup of its own (docs/batch.md).
    gang: GangSpec | None = None
    # A LocalQueue (kueue.localQueues) of the template's namespace: each arrival (a pod,
    # a gang's job, or a trace job) is a workload admitted as a whole by the queue
    # (docs/batch.md).
    queue: str | None = Field(default=None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data and isinstance(data.get("manifest"), str):
            stem = re.sub(r"[^a-z0-9.-]+", "-", Path(data["manifest"].rstrip("/")).stem.lower()).strip("-.")
            data = {**data, "name": stem or "manifest"}
        return data

    @field_validator("manifest")
    @classmethod
    def _manifest(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else existing_path(v, info, "manifest")

    @model_validator(mode="after")
    def _check(self) -> Workload:
        if sum(x is not None for x in (self.arrival, self.trace, self.manifest, self.jobs)) != 1:
            raise ValueError("give exactly one of arrival (generated pods), trace (pods from a trace file), "
                             "jobs (jobs from a trace file) or manifest (Kubernetes objects run by controllers)")
        if self.manifest is not None:
            extra = sorted(set(self.template.model_fields_set) - MANIFEST_TEMPLATE_KNOBS)
            if extra:
                raise ValueError(f"template.{extra[0]}: a manifest workload takes its pod spec from the manifest "
                                 f"(the template may set only {', '.join(sorted(MANIFEST_TEMPLATE_KNOBS))})")
            if self.max_pods is not None:
                raise ValueError("max_pods: a manifest workload's pods are counted by its controllers")
        elif self.apply:
            raise ValueError("apply: only a manifest workload applies manifests later")
        if self.trace is not None and self.trace.args.get("replay") == "controllers":
            extra = sorted(set(self.template.model_fields_set) - MANIFEST_TEMPLATE_KNOBS)
            if extra:
                raise ValueError(f"template.{extra[0]}: a trace replayed through controllers takes its pod specs "
                                 f"from the trace's objects (the template may set only "
                                 f"{', '.join(sorted(MANIFEST_TEMPLATE_KNOBS))})")
            unused = sorted(f for f in ("sample_fraction", "sample_by", "sample_seed", "resource_scale",
                                        "use_trace_priority", "priority_by_qos", "mode")
                            if f in self.trace.model_fields_set)
            if unused:
                raise ValueError(f"trace.{unused[0]}: does not apply to args.replay: controllers "
                                 "(time_scale, start_s and end_s do)")
        if self.gang is not None:
            if self.arrival is None:
                raise ValueError(located("gang", "a gang workload generates its jobs: give arrival (one job per arrival)"))
            if self.gang.training is not None and self.duration is not None:
                raise ValueError(located("duration", "a training gang's run time is gang.training.duration "
                                         "(the job's, placement-dependent): remove duration"))
            if self.max_pods is not None and self.max_pods < self.gang.workers:
                raise ValueError(located("max_pods", f"{self.max_pods} is fewer than one job's "
                                         f"{self.gang.workers} workers"))
        if self.queue is not None and self.arrival is None and self.jobs is None:
            raise ValueError(located("queue", "a queued workload generates its workloads: give arrival or jobs "
                                     "(Jobs from manifests join a queue by the kueue.x-k8s.io/queue-name label)"))
        if self.jobs is not None:
            if self.queue is not None and self.jobs.queues is not None:
                raise ValueError(located("jobs.queues", "give either queue (one LocalQueue for every job) or "
                                         "jobs.queues (a LocalQueue per job by a trace column), not both"))
        if self.trace is not None or self.jobs is not None:
            clash = [f for f in ("requests", "limits", "gpu") if f in self.template.model_fields_set]
            if clash:
                raise ValueError(f"template.{clash[0]}: a trace workload takes requests and GPUs from the trace")
            if self.duration is not None:
                raise ValueError("duration: a trace workload takes run times from the trace")
        return self
