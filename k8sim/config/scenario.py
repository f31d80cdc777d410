"""The scenario schema (version 1): what a YAML scenario file may say.

The pydantic models below *are* the file format: every field has a comment, unknown keys
are errors (``extra="forbid"``), and a validated scenario is frozen. Runtime code never
reads YAML or dicts; :class:`k8sim.sim.Simulation` is built once from a ``Scenario``.

Conventions:
- Kubernetes fields keep their Kubernetes spelling (``nodeSelector``, ``schedulerName``,
  ``tolerations``, ``nodeName``); k8sim's own fields are snake_case.
- Durations are seconds, in fields ending in ``_s``.
- Resource amounts are Kubernetes quantity strings (``500m``, ``64Gi``) or numbers. They
  are held exactly (:class:`fractions.Fraction`) and converted to integer base units
  (milli-CPU, bytes, counts) by :func:`base_units`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from k8sim.config.base import Strict
from k8sim.config.distributions import Distribution
from k8sim.config.k8s_types import (
    Affinity,
    ContainerPort,
    K8sModel,
    PriorityClass,
    TopologySpreadConstraint,
)
from k8sim.config.quantity import parse_quantity, to_milli, to_units
from k8sim.constants import (
    DEFAULT_MAX_PODS,
    DEFAULT_SCHEDULER,
    GPU_MILLI,
    GPU_MODEL_LABEL,
    HOSTNAME_LABEL,
    MAX_GPUS_PER_NODE,
    POOL_LABEL,
    ZONE_LABEL,
)

__all__ = [
    "Affinity",
    "Arrival",
    "BurstArrivals",
    "Cluster",
    "ContainerPort",
    "ContainerSpec",
    "CrashModel",
    "DEFAULT_MAX_PODS",
    "DEFAULT_SCHEDULER",
    "Defaults",
    "Distribution",
    "ExplicitArrivals",
    "GPU_MILLI",
    "GPU_MODEL_LABEL",
    "HOSTNAME_LABEL",
    "ImageCatalogSpec",
    "ImageLayer",
    "ImageSpec",
    "InitContainerSpec",
    "InitialPod",
    "IntervalArrivals",
    "K8sModel",
    "KubeletConfig",
    "MAX_GPUS_PER_NODE",
    "NodeGpus",
    "NodePool",
    "NodeSpec",
    "POOL_LABEL",
    "PluginRef",
    "PodGpu",
    "PodTemplate",
    "PoissonArrivals",
    "PriorityClass",
    "ProfileSpec",
    "PullPolicy",
    "Quantity",
    "ResourceList",
    "Scenario",
    "SchedulerSettings",
    "Strict",
    "SyntheticImages",
    "Taint",
    "Toleration",
    "TopologySpreadConstraint",
    "TraceNodes",
    "TraceWorkload",
    "Workload",
    "ZONE_LABEL",
    "base_units",
]

_MAX_INT64 = 2**63 - 1


def _parse_nonnegative_quantity(value: Any) -> Fraction:
    if isinstance(value, Fraction):
        q = value
    else:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(
                "expected a Kubernetes quantity such as \"500m\", \"2\" or \"64Gi\", "
                f"got {value!r}"
            )
        q = parse_quantity(value)
    if q < 0:
        raise ValueError(f"must be >= 0, got {value!r}")
    if q * 1000 > _MAX_INT64:
        # Base units are int64 (milli-CPU for cpu): larger amounts cannot be represented.
        raise ValueError(f"too large: {value!r} exceeds what an int64 of milli-units holds")
    return q


def _format_quantity(q: Fraction) -> str | int:
    if q.denominator == 1:
        return int(q)
    milli = q * 1000
    if milli.denominator == 1:
        return f"{int(milli)}m"
    return str(float(q))


#: A non-negative Kubernetes quantity, held exactly.
Quantity = Annotated[
    Fraction,
    PlainValidator(_parse_nonnegative_quantity),
    PlainSerializer(_format_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
            "description": "Kubernetes quantity, e.g. 500m, 2, 1.5Gi, 64G",
        }
    ),
]

#: Resource name -> quantity, as in a pod's ``resources.requests``.
ResourceList = dict[str, Quantity]


def base_units(resources: dict[str, Fraction]) -> dict[str, int]:
    """Integer base units of a resource list: milli-CPU for ``cpu``, else ``Value()``.

    Upstream rounds up in both cases (``Quantity.MilliValue`` / ``Quantity.Value``).
    """
    return {
        name: (to_milli(q) if name == "cpu" else to_units(q)) for name, q in resources.items()
    }


# --------------------------------------------------------------------------- cluster


class Taint(K8sModel):
    """A node taint (``spec.taints[]``)."""

    key: str = Field(min_length=1)  # taint key
    value: str = ""  # taint value (may be empty)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]  # what it repels


class Toleration(K8sModel):
    """A pod toleration (``spec.tolerations[]``), upstream semantics.

    An empty ``key`` with ``operator: Exists`` tolerates every taint; an empty
    ``effect`` matches every effect.
    """

    key: str = ""  # taint key to tolerate; "" with Exists = all keys
    operator: Literal["Equal", "Exists"] = "Equal"  # Equal compares value, Exists does not
    value: str = ""  # compared when operator is Equal
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""  # "" = any
    toleration_seconds: float | None = Field(default=None, alias="tolerationSeconds")

    @model_validator(mode="after")
    def _check(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise ValueError("a toleration with operator Exists must not set a value")
        if not self.key and self.operator != "Exists":
            raise ValueError("a toleration with an empty key must use operator Exists")
        return self


class KubeletConfig(K8sModel):
    """kubelet settings of a pool's nodes for images (upstream ``KubeletConfiguration``
    names and defaults). Used only when the scenario has an ``images`` section."""

    # Pull one image at a time per node (FIFO); false: up to maxParallelImagePulls at once.
    serialize_image_pulls: bool = Field(default=True, alias="serializeImagePulls")
    # Concurrent pulls per node when serializeImagePulls is false (absent = unlimited).
    max_parallel_image_pulls: int | None = Field(default=None, alias="maxParallelImagePulls", ge=1)
    # Token bucket of pulls per node: refill rate (0 = no limit) and size; a pull that
    # finds no token fails ("pull QPS exceeded") and backs off, as upstream.
    registry_pull_qps: float = Field(default=5.0, alias="registryPullQPS", ge=0)
    registry_burst: int = Field(default=10, alias="registryBurst", ge=0)
    # Image GC: at this disk usage (%) delete least recently used images down to the low one.
    image_gc_high_threshold_percent: int = Field(default=85, alias="imageGCHighThresholdPercent", ge=0, le=100)
    image_gc_low_threshold_percent: int = Field(default=80, alias="imageGCLowThresholdPercent", ge=0, le=100)
    # Images younger than this are never garbage-collected (upstream imageMinimumGCAge, 2m).
    image_minimum_gc_age_s: float = Field(default=120.0, alias="imageMinimumGCAgeSeconds", ge=0)

    @model_validator(mode="after")
    def _check(self) -> KubeletConfig:
        if self.serialize_image_pulls and (self.max_parallel_image_pulls or 1) > 1:
            raise ValueError("maxParallelImagePulls must be 1 or unset when serializeImagePulls is true")
        if self.image_gc_low_threshold_percent >= self.image_gc_high_threshold_percent:
            raise ValueError("imageGCLowThresholdPercent must be less than imageGCHighThresholdPercent")
        if self.registry_pull_qps > 0 and self.registry_burst == 0:
            # Upstream accepts it, and then every pull fails with "pull QPS exceeded".
            raise ValueError("registryBurst 0 with registryPullQPS > 0 would fail every pull; "
                             "set registryBurst >= 1 (or registryPullQPS 0 for no limit)")
        return self


class NodeGpus(Strict):
    """A node's GPUs: ``count`` devices of one ``model``, each with 1000 milli-GPU."""

    count: int = Field(ge=1, le=MAX_GPUS_PER_NODE)  # number of GPU devices
    model: str = Field(min_length=1)  # GPU model, e.g. V100M16 (no "|")

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if "|" in v or v != v.strip():
            raise ValueError(f"a GPU model is one name without '|' or spaces, got {v!r}")
        return v


class PodGpu(Strict):
    """A pod's GPU request: ``count`` whole GPUs (``milli`` 1000), or one shared GPU
    (``count`` 1, ``0 < milli < 1000``); ``models`` restricts the GPU model
    (``"V100M16|V100M32"``; absent or empty = any model)."""

    count: int = Field(default=1, ge=1, le=MAX_GPUS_PER_NODE)  # GPU devices
    milli: int = Field(default=GPU_MILLI, gt=0, le=GPU_MILLI)  # milli-GPU on each device
    models: str | None = None  # allowed GPU models, "|"-separated

    @model_validator(mode="after")
    def _check(self) -> PodGpu:
        if self.count > 1 and self.milli < GPU_MILLI:
            raise ValueError(
                f"a multi-GPU pod (count {self.count}) must use whole GPUs (milli {GPU_MILLI}), "
                f"got milli {self.milli}; only a single-GPU pod may share a GPU"
            )
        if self.models is not None and any(not m.strip() for m in self.models.split("|")) and self.models.strip():
            raise ValueError(f"models: empty name in {self.models!r}")
        return self

    def model_names(self) -> frozenset[str] | None:
        """The allowed model names, or None for any model."""
        if self.models is None or not self.models.strip():
            return None
        return frozenset(m.strip() for m in self.models.split("|"))


class NodePool(Strict):
    """``count`` identical nodes, spread round-robin over ``zones``."""

    name: str = Field(min_length=1)  # pool name; nodes are named <name>-<i>
    count: int = Field(ge=1)  # number of nodes (>= 1)
    allocatable: ResourceList  # e.g. {cpu: "16", memory: 64Gi}; pods defaults to 110
    labels: dict[str, str] = {}  # extra node labels
    taints: list[Taint] = []  # node taints
    zones: list[str] = []  # zone names; sets topology.kubernetes.io/zone
    gpus: NodeGpus | None = None  # GPU devices of each node (absent: none)
    # The fields below apply when the scenario has an ``images`` section.
    # Disk for container images (imagefs), e.g. 50Gi; absent = unlimited (no image GC).
    image_disk: Quantity | None = None
    # Bytes per second a node downloads image layers at, shared by concurrent downloads.
    image_pull_bandwidth: Quantity = Fraction(100 * 10**6)
    prepulled_images: list[str] = []  # images present on every node of the pool at t = 0
    kubelet: KubeletConfig = KubeletConfig()  # image pulls and image GC

    @model_validator(mode="after")
    def _check(self) -> NodePool:
        _require_cpu_memory(self.allocatable)
        if self.image_disk is not None and self.image_disk <= 0:
            raise ValueError("image_disk must be > 0 (omit it for an unlimited disk)")
        if self.image_pull_bandwidth <= 0:
            raise ValueError("image_pull_bandwidth must be > 0 (bytes per second)")
        return self


class NodeSpec(Strict):
    """One hand-built node."""

    name: str = Field(min_length=1)  # node name (unique in the cluster)
    allocatable: ResourceList  # e.g. {cpu: "4", memory: 16Gi}
    labels: dict[str, str] = {}  # extra node labels
    taints: list[Taint] = []  # node taints
    zone: str | None = None  # sets topology.kubernetes.io/zone
    gpus: NodeGpus | None = None  # GPU devices (absent: none)

    @model_validator(mode="after")
    def _check(self) -> NodeSpec:
        _require_cpu_memory(self.allocatable)
        return self


def _base_dir(info: ValidationInfo) -> Path:
    """The directory relative file names are resolved against (the scenario file's)."""
    base = (info.context or {}).get("base_dir") if isinstance(info.context, dict) else None
    return Path(base) if base is not None else Path.cwd()


def _require_cpu_memory(allocatable: dict[str, Fraction]) -> None:
    missing = [r for r in ("cpu", "memory") if r not in allocatable]
    if missing:
        raise ValueError(f"allocatable must declare {' and '.join(missing)}")


class TraceNodes(Strict):
    """Nodes read from a trace's machine list (see README "Trace replay")."""

    format: Literal["openb", "pai2020", "alibaba2018", "google2019", "google2011"]
    file: str  # the node list; relative to the scenario file; "sample" = packaged sample
    args: dict[str, Any] = {}  # format-specific reader options (machine sizes)
    name: str = Field(default="trace", min_length=1)  # node pool label of these nodes
    gpu_only: bool = False  # keep only the nodes with GPUs
    pods: int = Field(default=DEFAULT_MAX_PODS, ge=1)  # allocatable pods of each node
    labels: dict[str, str] = {}  # extra labels on every node
    taints: list[Taint] = []  # taints on every node

    @field_validator("file")
    @classmethod
    def _file(cls, v: str, info: ValidationInfo) -> str:
        from k8sim.workloads.traces.formats import NODE_FORMATS, resolve_file

        fmt = info.data.get("format")
        if fmt is None:
            return v
        return resolve_file(v, _base_dir(info), NODE_FORMATS[fmt].sample, fmt)

    @field_validator("args")
    @classmethod
    def _args(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from k8sim.workloads.traces.formats import check_args

        fmt = info.data.get("format")
        return v if fmt is None else check_args(fmt, v, _base_dir(info), nodes=True)


class Cluster(Strict):
    """The nodes at time 0: pools of identical nodes, explicit nodes, trace node lists."""

    node_pools: list[NodePool] = []  # pools of identical nodes
    nodes: list[NodeSpec] = []  # explicit nodes
    trace_nodes: list[TraceNodes] = []  # node lists read from trace files

    @model_validator(mode="after")
    def _check(self) -> Cluster:
        if not self.node_pools and not self.nodes and not self.trace_nodes:
            raise ValueError("the cluster needs at least one node (node_pools, nodes or trace_nodes)")
        names = [p.name for p in self.node_pools] + [t.name for t in self.trace_nodes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"node pool names (node_pools and trace_nodes) must be unique, repeated: {dup}")
        node_names = [f"{p.name}-{i}" for p in self.node_pools for i in range(p.count)]
        node_names += [n.name for n in self.nodes]
        seen: set[str] = set()
        for n in node_names:
            if n in seen:
                raise ValueError(f"node name {n!r} is used twice")
            seen.add(n)
        return self

    def node_count(self) -> int:
        """Number of nodes at time 0 declared in the scenario (trace node lists are
        counted when the simulation reads them)."""
        return sum(p.count for p in self.node_pools) + len(self.nodes)


# --------------------------------------------------------------------------- workloads


class PoissonArrivals(Strict):
    """Poisson process: exponential inter-arrival times with mean ``1 / rate_per_s``."""

    kind: Literal["poisson"]
    rate_per_s: float = Field(gt=0)  # mean arrivals per second
    start_s: float = Field(default=0.0, ge=0)  # first possible arrival
    stop_s: float | None = Field(default=None, gt=0)  # no arrivals after this time


class IntervalArrivals(Strict):
    """One pod every ``every_s`` seconds, the first at ``start_s``."""

    kind: Literal["interval"]
    every_s: float = Field(gt=0)  # fixed inter-arrival time
    start_s: float = Field(default=0.0, ge=0)  # time of the first arrival
    stop_s: float | None = Field(default=None, gt=0)  # no arrivals after this time


class ExplicitArrivals(Strict):
    """Pods arrive at the listed times (sorted on load)."""

    kind: Literal["times"]
    times_s: list[Annotated[float, Field(ge=0)]] = Field(min_length=1)  # arrival times


class BurstArrivals(Strict):
    """``count`` pods arrive together at ``at_s``."""

    kind: Literal["burst"]
    count: int = Field(ge=1)  # pods in the burst
    at_s: float = Field(default=0.0, ge=0)  # time of the burst


Arrival = Annotated[
    PoissonArrivals | IntervalArrivals | ExplicitArrivals | BurstArrivals,
    Field(discriminator="kind"),
]


PullPolicy = Literal["Always", "IfNotPresent", "Never"]


class InitContainerSpec(K8sModel):
    """An init container: runs to completion, in order, before the main containers."""

    name: str = Field(min_length=1)  # container name
    image: str | None = None  # image from the catalog (pulled first); absent = nothing to pull
    # Absent: the pod's imagePullPolicy, else upstream's default for the image's tag.
    image_pull_policy: PullPolicy | None = Field(default=None, alias="imagePullPolicy")
    start_latency: Distribution | None = None  # create + start once the image is there (0)
    duration: Distribution | None = None  # run time to completion (0)


class ContainerSpec(K8sModel):
    """A main container: its image is pulled, then it is created and started."""

    name: str = Field(min_length=1)  # container name
    image: str | None = None  # image from the catalog; absent = nothing to pull
    image_pull_policy: PullPolicy | None = Field(default=None, alias="imagePullPolicy")
    start_latency: Distribution | None = None  # create + start once the image is there (0)


class CrashModel(Strict):
    """How the pod's (first) main container exits with an error. Each run draws anew:
    with ``probability`` a run crashes ``after`` seconds; with ``rate_per_s`` a run
    crashes after an exponential time (if that comes before the pod's duration)."""

    probability: float | None = Field(default=None, ge=0, le=1)  # crash chance per run
    after: Distribution | None = None  # time to the crash when a run crashes (default 0)
    rate_per_s: float | None = Field(default=None, gt=0)  # crashes per running second

    @model_validator(mode="after")
    def _check(self) -> CrashModel:
        if (self.probability is None) == (self.rate_per_s is None):
            raise ValueError("give exactly one of probability or rate_per_s")
        if self.after is not None and self.probability is None:
            raise ValueError("after goes with probability")
        return self


class PodTemplate(K8sModel):
    """What every pod of a workload looks like."""

    requests: ResourceList = {}  # resources.requests (summed over containers)
    limits: ResourceList = {}  # resources.limits (recorded, not enforced yet)
    image: str | None = None  # container image; pulled when the scenario has an ``images`` section
    priority: int = 0  # pod priority (higher is scheduled first)
    labels: dict[str, str] = {}  # pod labels
    node_selector: dict[str, str] = Field(default={}, alias="nodeSelector")  # node labels
    tolerations: list[Toleration] = []  # taints this pod tolerates
    scheduler_name: str = Field(default=DEFAULT_SCHEDULER, alias="schedulerName")
    # PriorityClass whose value becomes the pod's priority (overrides ``priority``).
    priority_class_name: str | None = Field(default=None, alias="priorityClassName")
    affinity: Affinity | None = None  # node affinity, pod affinity and anti-affinity
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] = Field(
        default=(), alias="topologySpreadConstraints"
    )
    node_name: str | None = Field(default=None, alias="nodeName")  # pin to a node (NodeName)
    ports: tuple[ContainerPort, ...] = ()  # container ports; hostPort conflicts (NodePorts)
    # Time a preempted or evicted pod keeps its resources after being told to stop.
    termination_grace_period_s: float = Field(default=30.0, alias="terminationGracePeriodSeconds", ge=0)
    # Time from binding to Running (sandbox + image + container start); drawn per pod.
    # When absent, the scenario's ``defaults.start_latency`` applies.
    start_latency: Distribution | None = None
    # Container runtime (see README "Images, pulls and restarts"). With an ``images``
    # section, ``image`` (or each container's image) is pulled on the node, and
    # ``start_latency`` is the time from the last image being there to Running.
    # Absent: upstream's default (Always for a :latest or untagged image, else IfNotPresent).
    image_pull_policy: PullPolicy | None = Field(default=None, alias="imagePullPolicy")
    # Restart of the main container when it exits: Always, OnFailure, Never. k8sim's
    # default is OnFailure (a pod with a duration ends Succeeded, as a Job's pod);
    # upstream's is Always.
    restart_policy: Literal["Always", "OnFailure", "Never"] = Field(default="OnFailure", alias="restartPolicy")
    init_containers: list[InitContainerSpec] = Field(default=[], alias="initContainers")  # run first, in order
    containers: list[ContainerSpec] = []  # main containers (instead of ``image``)
    sandbox_latency: Distribution | None = None  # RunPodSandbox, before any pull (0)
    readiness_delay: Distribution | None = None  # Running -> Ready (probes), per pod (0)
    crash: CrashModel | None = None  # container exits with an error (absent: never)
    # Chance that one pull attempt fails at the registry (ErrImagePull, then back-off).
    image_pull_failure_probability: float = Field(default=0.0, ge=0, le=1)
    gpu: PodGpu | None = None  # GPU request (absent: no GPU)

    @model_validator(mode="after")
    def _check(self) -> PodTemplate:
        for name, lim in self.limits.items():
            req = self.requests.get(name)
            if req is not None and req > lim:
                raise ValueError(f"requests.{name} ({req}) exceeds limits.{name} ({lim})")
        if self.containers and self.image is not None:
            raise ValueError("give image (one main container) or containers, not both")
        names = [c.name for c in self.init_containers] + [c.name for c in self.containers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"container names must be unique, repeated: {dup}")
        return self


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
    start_s: float | None = Field(default=None, ge=0)  # window start, trace seconds
    end_s: float | None = Field(default=None, gt=0)  # window end (exclusive), trace seconds
    time_scale: float = Field(default=1.0, gt=0)  # multiplies arrivals and run times
    resource_scale: float = Field(default=1.0, gt=0)  # multiplies CPU and memory requests
    sample_fraction: float = Field(default=1.0, gt=0, le=1)  # share of pods (or owners) kept
    sample_by: Literal["pod", "owner"] = "pod"  # sample whole owners (jobs) or pods
    # Seed of the sample; absent: drawn from the run's seed (a new sample per seed).
    sample_seed: int | None = Field(default=None, ge=0)
    use_trace_priority: bool = False  # pod priority from the trace (else the template's)
    # Pod priority per trace QoS class, e.g. {LS: 1000, BE: 0} (openb); classes not
    # listed keep the trace's priority (use_trace_priority) or the template's.
    priority_by_qos: dict[str, int] = {}
    mode: Literal["timed", "inflation"] = "timed"
    # inflation: stop once the submitted GPU request reaches this share of capacity.
    target_gpu_share: float = Field(default=1.3, gt=0, le=100)
    interval_s: float = Field(default=1.0, gt=0)  # inflation: seconds between submissions

    @field_validator("files")
    @classmethod
    def _files(cls, v: list[str], info: ValidationInfo) -> list[str]:
        from k8sim.workloads.traces.formats import POD_FORMATS, resolve_file

        fmt = info.data.get("format")
        if fmt is None:
            return v
        return [resolve_file(f, _base_dir(info), POD_FORMATS[fmt].sample, fmt) for f in v]

    @field_validator("args")
    @classmethod
    def _args(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from k8sim.workloads.traces.formats import check_args

        fmt = info.data.get("format")
        return v if fmt is None else check_args(fmt, v, _base_dir(info))

    @model_validator(mode="after")
    def _check(self) -> TraceWorkload:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        if self.mode == "timed" and ("target_gpu_share" in self.model_fields_set
                                     or "interval_s" in self.model_fields_set):
            raise ValueError("target_gpu_share and interval_s apply to mode: inflation only")
        return self

    def options(self) -> Any:
        """The readers' :class:`~k8sim.workloads.traces.schema.TraceOptions`."""
        from k8sim.workloads.traces.schema import TraceOptions

        return TraceOptions(start_s=self.start_s, end_s=self.end_s, time_scale=self.time_scale,
                            sample_fraction=self.sample_fraction, sample_by=self.sample_by,
                            resource_scale=self.resource_scale)


class Workload(Strict):
    """A stream of pods: when they arrive, what they ask for, how long they run.

    Either ``arrival`` (a generated stream of identical pods) or ``trace`` (pods,
    requests, arrivals and run times from a trace; the template adds the rest)."""

    name: str = Field(min_length=1)  # workload name; pods are named <name>-<i>
    arrival: Arrival | None = None  # arrival process
    trace: TraceWorkload | None = None  # pods from a trace file, instead of arrival
    max_pods: int | None = Field(default=None, ge=1)  # stop after this many pods
    template: PodTemplate = PodTemplate()  # the pods' spec
    # Run time once Running; drawn per pod at its birth. Absent: the pod runs forever.
    duration: Distribution | None = None

    @model_validator(mode="after")
    def _check(self) -> Workload:
        if (self.arrival is None) == (self.trace is None):
            raise ValueError("give exactly one of arrival (generated pods) or trace (pods from a trace file)")
        if self.trace is not None:
            clash = [f for f in ("requests", "limits", "gpu") if f in self.template.model_fields_set]
            if clash:
                raise ValueError(f"template.{clash[0]}: a trace workload takes requests and GPUs from the trace")
            if self.duration is not None:
                raise ValueError("duration: a trace workload takes run times from the trace")
        return self


class InitialPod(K8sModel):
    """A pod already bound to a node at time 0 (it never passes the scheduler)."""

    name: str = Field(min_length=1)  # pod name
    node_name: str = Field(alias="nodeName")  # the node it runs on
    requests: ResourceList = {}  # resources.requests
    labels: dict[str, str] = {}  # pod labels
    priority: int = 0  # pod priority
    duration: Distribution | None = None  # remaining run time; absent = forever
    gpu: PodGpu | None = None  # GPU request, placed on the node's devices by the "best" rule


class Defaults(Strict):
    """Scenario-wide defaults that workloads may override."""

    # Binding -> Running latency when a pod template sets none (seconds).
    start_latency: Distribution = Field(
        default_factory=lambda: {"kind": "constant", "value": 0.0}  # type: ignore[arg-type]
    )


class ImageLayer(Strict):
    """One layer: a content digest and its compressed size. Images listing the same
    digest share the layer (a node downloads it once)."""

    digest: str = Field(min_length=1)  # e.g. sha256:...; one digest = one content
    size: Quantity  # compressed bytes: 29780905, 30Mi, 1.2G


class ImageSpec(Strict):
    """An image of the catalog: a name and its layers, base layer first."""

    name: str = Field(min_length=1)  # e.g. myorg/app:1.2 (no tag means :latest)
    layers: list[ImageLayer] = Field(min_length=1)


class SyntheticImages(Strict):
    """``count`` images named ``<name_prefix>-<i>``: each stacks ``base_layers_per_image``
    layers drawn from a pool of ``base_layers`` shared base layers, then
    ``layers_per_image`` layers of its own. Sizes in MB (10^6 bytes), drawn once per run."""

    count: int = Field(ge=1)  # number of images
    base_layers: int = Field(default=0, ge=0)  # size of the shared pool
    base_layers_per_image: int = Field(default=0, ge=0)  # pool layers per image (distinct)
    layers_per_image: int = Field(default=1, ge=0)  # own layers per image
    layer_size: Distribution  # MB per own layer
    base_layer_size: Distribution | None = None  # MB per pool layer (default: layer_size)
    name_prefix: str = Field(default="synthetic", min_length=1)

    @model_validator(mode="after")
    def _check(self) -> SyntheticImages:
        if self.base_layers_per_image > self.base_layers:
            raise ValueError(
                f"base_layers_per_image ({self.base_layers_per_image}) exceeds base_layers ({self.base_layers})"
            )
        if self.base_layers_per_image + self.layers_per_image == 0:
            raise ValueError("an image needs at least one layer (base_layers_per_image + layers_per_image >= 1)")
        return self


class ImageCatalogSpec(Strict):
    """The images pods can use (turns on image pulls; see README "Images, pulls and
    restarts"): the built-in official images, explicit images, synthetic images."""

    builtin: bool = True  # include k8sim's built-in catalog (nginx, redis, python, ...)
    catalog: list[ImageSpec] = []  # explicit images
    synthetic: SyntheticImages | None = None  # generated images
    # Bytes per second the registry serves to the whole cluster (absent = no limit).
    registry_bandwidth: Quantity | None = None

    @model_validator(mode="after")
    def _check(self) -> ImageCatalogSpec:
        if self.registry_bandwidth is not None and self.registry_bandwidth <= 0:
            raise ValueError("registry_bandwidth must be > 0 (bytes per second; omit it for no limit)")
        return self


class PluginRef(K8sModel):
    """A plugin enabled in a profile (upstream ``Plugin`` + its ``pluginConfig`` args)."""

    name: str = Field(min_length=1)  # registry name, entry point, or "package.module:Class"
    weight: int | None = Field(default=None, ge=1)  # score weight (default 1)
    args: dict[str, Any] = {}  # plugin args in upstream spelling (e.g. scoringStrategy)


class ProfileSpec(K8sModel):
    """A scheduling profile: a preset plus MultiPoint-style changes, under a schedulerName."""

    scheduler_name: str = Field(default=DEFAULT_SCHEDULER, alias="schedulerName")
    preset: str = "kube-default"  # kube-default | binpack | spread | random (k8sim plugins list)
    plugins: list[PluginRef] = []  # enabled on top of the preset; same name replaces in place
    disabled: list[str] = []  # preset plugins to drop; "*" drops them all
    # Overrides the scheduler-wide percentageOfNodesToScore for this profile.
    percentage_of_nodes_to_score: int | None = Field(default=None, alias="percentageOfNodesToScore", ge=0, le=100)


class SchedulerSettings(K8sModel):
    """The scheduler: profiles and the queue's timing (upstream defaults)."""

    profiles: list[ProfileSpec] = Field(default_factory=lambda: [ProfileSpec()], min_length=1)
    # A real kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration file (relative to
    # the scenario file). Its profiles replace ``profiles``; its percentageOfNodesToScore
    # and backoff settings apply; what k8sim does not model is reported as warnings.
    config_file: str | None = Field(default=None, alias="configFile")
    # Share of nodes to search for feasible ones; 0 = upstream's adaptive default.
    percentage_of_nodes_to_score: int = Field(default=0, alias="percentageOfNodesToScore", ge=0, le=100)
    # Virtual seconds one scheduling cycle takes (0 = instantaneous).
    cycle_latency_s: float = Field(default=0.0, ge=0)
    # Backoff of a pod that failed: initial * 2^(attempts-1), capped at max (upstream
    # podInitialBackoffSeconds / podMaxBackoffSeconds). 0 disables backoff (k8sim only).
    pod_initial_backoff_s: float = Field(default=1.0, alias="podInitialBackoffSeconds", ge=0)
    pod_max_backoff_s: float = Field(default=10.0, alias="podMaxBackoffSeconds", ge=0)
    # Pods waiting longer than this are retried on the next 30 s flush (upstream default).
    pod_max_in_unschedulable_s: float = Field(default=300.0, alias="podMaxInUnschedulablePodsDuration", gt=0)
    # Keep one row per scheduling decision in RunResult.decisions (off: it costs time).
    record_decisions: bool = Field(default=False, alias="recordDecisions")
    # Equal best scores: "random" (upstream selectHost) or "nodePriority" (a random
    # priority per node drawn once per seed; Weng et al. ATC '23). Absent: random,
    # except nodePriority for trace replay in inflation mode.
    tie_break: Literal["random", "nodePriority"] | None = Field(default=None, alias="tieBreak")

    @field_validator("config_file")
    @classmethod
    def _resolve(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        base = (info.context or {}).get("base_dir") if isinstance(info.context, dict) else None
        path = Path(v) if base is None or Path(v).is_absolute() else Path(base) / v
        if not path.is_file():
            raise ValueError(f"KubeSchedulerConfiguration file not found: {path}")
        return str(path)

    @model_validator(mode="after")
    def _check(self) -> SchedulerSettings:
        if self.config_file is not None and "profiles" in self.model_fields_set:
            raise ValueError("give either profiles or configFile, not both")
        if self.pod_max_backoff_s < self.pod_initial_backoff_s:
            raise ValueError("podMaxBackoffSeconds must be >= podInitialBackoffSeconds")
        names = [p.scheduler_name for p in self.profiles]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"profiles must have distinct schedulerName, repeated: {dup}")
        return self


def _never_ends(t: PodTemplate, finite: bool, images: bool) -> str:
    """Why every pod of a template restarts or retries forever ("" if it does not)."""
    if t.restart_policy == "Always" and finite:
        return "restartPolicy Always restarts them after they complete"
    if t.crash is not None and t.restart_policy != "Never":
        if t.crash.probability == 1:
            return "they crash in every run and are restarted"
        if t.crash.rate_per_s is not None and not finite:
            return "they run for ever, so a crash rate makes them crash and restart for ever"
    has_image = t.image is not None or any(c.image is not None for c in [*t.containers, *t.init_containers])
    if images and has_image and t.image_pull_failure_probability == 1:
        return "every image pull fails"
    return ""


class Scenario(K8sModel):
    """A whole simulation: cluster, workloads, run length and seed."""

    version: Literal[1] = 1  # schema version
    name: str | None = None  # defaults to the file name without extension
    description: str = ""  # free text
    seed: int = Field(default=0, ge=0)  # root of every random stream
    # Stop at this virtual time; absent = run until every finite workload has drained.
    duration_s: float | None = Field(default=None, gt=0)
    warmup_s: float = Field(default=0.0, ge=0)  # excluded from summaries
    sample_interval_s: float = Field(default=10.0, gt=0)  # timeseries resolution
    cluster: Cluster
    workloads: list[Workload] = []
    initial_pods: list[InitialPod] = []
    priority_classes: list[PriorityClass] = Field(default=[], alias="priorityClasses")
    defaults: Defaults = Defaults()
    scheduler: SchedulerSettings = SchedulerSettings()
    # Image catalog; when present, images are pulled onto nodes (absent: image names are
    # informational and pods start after their start_latency).
    images: ImageCatalogSpec | None = None
    _source: str = PrivateAttr(default="")

    @property
    def source(self) -> str:
        """The file this scenario was loaded from ("" if built in Python): errors found
        while building a simulation name it."""
        return self._source or (f"<scenario {self.name}>" if self.name else "<scenario>")

    def with_source(self, source: str) -> Scenario:
        """Record the file this scenario came from (used by the loader)."""
        self._source = source
        return self

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        names = [w.name for w in self.workloads]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"workload names must be unique, repeated: {dup}")
        inflation = [w.name for w in self.workloads if w.trace is not None and w.trace.mode == "inflation"]
        if inflation and len(self.workloads) > 1:
            raise ValueError(
                f"workload {inflation[0]!r} replays a trace in inflation mode, which drops unschedulable "
                "pods and never retries: it must be the scenario's only workload"
            )
        if self.duration_s is None:
            for w in self.workloads:
                a = w.arrival
                unbounded = isinstance(a, (PoissonArrivals, IntervalArrivals)) and (
                    a.stop_s is None and w.max_pods is None
                )
                if unbounded:
                    raise ValueError(
                        f"workload {w.name!r} never stops arriving: set duration_s, "
                        "or give it max_pods or arrival.stop_s"
                    )
                forever = _never_ends(w.template, w.duration is not None or w.trace is not None, self.images is not None)
                if forever:
                    raise ValueError(f"the pods of workload {w.name!r} never end ({forever}): set duration_s")
        if self.duration_s is not None and self.warmup_s >= self.duration_s:
            raise ValueError("warmup_s must be shorter than duration_s")
        classes = {pc.name for pc in self.priority_classes}
        if len(classes) != len(self.priority_classes):
            raise ValueError("priorityClasses must have distinct names")
        if sum(pc.global_default for pc in self.priority_classes) > 1:
            raise ValueError("at most one priority class may be globalDefault")
        for w in self.workloads:
            pcn = w.template.priority_class_name
            if pcn is not None and pcn not in classes:
                raise ValueError(
                    f"workload {w.name!r}: priorityClassName {pcn!r} is not among priorityClasses "
                    f"{sorted(classes)}"
                )
        return self

    def preemption_policy(self, template: PodTemplate) -> str:
        """The pod's preemptionPolicy: its PriorityClass's (global default applies as
        for priority), else PreemptLowerPriority."""
        by_name = {pc.name: pc for pc in self.priority_classes}
        if template.priority_class_name is not None:
            return by_name[template.priority_class_name].preemption_policy
        if "priority" not in template.model_fields_set:
            for pc in self.priority_classes:
                if pc.global_default:
                    return pc.preemption_policy
        return "PreemptLowerPriority"

    def pod_priority(self, template: PodTemplate) -> int:
        """The priority a pod of ``template`` gets: its class's value, else the global
        default class's value when the template sets no explicit priority, else
        ``priority`` (upstream Priority admission)."""
        by_name = {pc.name: pc for pc in self.priority_classes}
        if template.priority_class_name is not None:
            return by_name[template.priority_class_name].value
        if "priority" not in template.model_fields_set:
            for pc in self.priority_classes:
                if pc.global_default:
                    return pc.value
        return template.priority
