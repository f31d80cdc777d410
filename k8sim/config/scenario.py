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
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    WithJsonSchema,
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

#: Label that carries a node's zone, as in upstream Kubernetes.
ZONE_LABEL = "topology.kubernetes.io/zone"
#: Label that carries a node's name, as in upstream Kubernetes.
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: Label k8sim puts on every node: the node pool it came from.
POOL_LABEL = "k8sim.io/node-pool"
#: kubelet's default ``maxPods``, used when a node does not declare ``pods``.
DEFAULT_MAX_PODS = 110
#: The scheduler a pod uses when its template names none (upstream default).
DEFAULT_SCHEDULER = "default-scheduler"


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


class NodePool(Strict):
    """``count`` identical nodes, spread round-robin over ``zones``."""

    name: str = Field(min_length=1)  # pool name; nodes are named <name>-<i>
    count: int = Field(ge=1)  # number of nodes (>= 1)
    allocatable: ResourceList  # e.g. {cpu: "16", memory: 64Gi}; pods defaults to 110
    labels: dict[str, str] = {}  # extra node labels
    taints: list[Taint] = []  # node taints
    zones: list[str] = []  # zone names; sets topology.kubernetes.io/zone

    @model_validator(mode="after")
    def _check(self) -> NodePool:
        _require_cpu_memory(self.allocatable)
        return self


class NodeSpec(Strict):
    """One hand-built node."""

    name: str = Field(min_length=1)  # node name (unique in the cluster)
    allocatable: ResourceList  # e.g. {cpu: "4", memory: 16Gi}
    labels: dict[str, str] = {}  # extra node labels
    taints: list[Taint] = []  # node taints
    zone: str | None = None  # sets topology.kubernetes.io/zone

    @model_validator(mode="after")
    def _check(self) -> NodeSpec:
        _require_cpu_memory(self.allocatable)
        return self


def _require_cpu_memory(allocatable: dict[str, Fraction]) -> None:
    missing = [r for r in ("cpu", "memory") if r not in allocatable]
    if missing:
        raise ValueError(f"allocatable must declare {' and '.join(missing)}")


class Cluster(Strict):
    """The nodes at time 0: pools of identical nodes and/or explicit nodes."""

    node_pools: list[NodePool] = []  # pools of identical nodes
    nodes: list[NodeSpec] = []  # explicit nodes

    @model_validator(mode="after")
    def _check(self) -> Cluster:
        if not self.node_pools and not self.nodes:
            raise ValueError("the cluster needs at least one node (node_pools or nodes)")
        names = [p.name for p in self.node_pools]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"node pool names must be unique, repeated: {dup}")
        node_names = [f"{p.name}-{i}" for p in self.node_pools for i in range(p.count)]
        node_names += [n.name for n in self.nodes]
        seen: set[str] = set()
        for n in node_names:
            if n in seen:
                raise ValueError(f"node name {n!r} is used twice")
            seen.add(n)
        return self

    def node_count(self) -> int:
        """Number of nodes at time 0."""
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


class PodTemplate(K8sModel):
    """What every pod of a workload looks like."""

    requests: ResourceList = {}  # resources.requests (summed over containers)
    limits: ResourceList = {}  # resources.limits (recorded, not enforced yet)
    image: str | None = None  # container image name (informational for now)
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

    @model_validator(mode="after")
    def _check(self) -> PodTemplate:
        for name, lim in self.limits.items():
            req = self.requests.get(name)
            if req is not None and req > lim:
                raise ValueError(f"requests.{name} ({req}) exceeds limits.{name} ({lim})")
        return self


class Workload(Strict):
    """A stream of pods: when they arrive, what they ask for, how long they run."""

    name: str = Field(min_length=1)  # workload name; pods are named <name>-<i>
    arrival: Arrival  # arrival process
    max_pods: int | None = Field(default=None, ge=1)  # stop after this many pods
    template: PodTemplate = PodTemplate()  # the pods' spec
    # Run time once Running; drawn per pod at its birth. Absent: the pod runs forever.
    duration: Distribution | None = None


class InitialPod(K8sModel):
    """A pod already bound to a node at time 0 (it never passes the scheduler)."""

    name: str = Field(min_length=1)  # pod name
    node_name: str = Field(alias="nodeName")  # the node it runs on
    requests: ResourceList = {}  # resources.requests
    labels: dict[str, str] = {}  # pod labels
    priority: int = 0  # pod priority
    duration: Distribution | None = None  # remaining run time; absent = forever


class Defaults(Strict):
    """Scenario-wide defaults that workloads may override."""

    # Binding -> Running latency when a pod template sets none (seconds).
    start_latency: Distribution = Field(
        default_factory=lambda: {"kind": "constant", "value": 0.0}  # type: ignore[arg-type]
    )


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

    @model_validator(mode="after")
    def _check(self) -> SchedulerSettings:
        if self.pod_max_backoff_s < self.pod_initial_backoff_s:
            raise ValueError("podMaxBackoffSeconds must be >= podInitialBackoffSeconds")
        names = [p.scheduler_name for p in self.profiles]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"profiles must have distinct schedulerName, repeated: {dup}")
        return self


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
