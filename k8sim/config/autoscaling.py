"""Autoscaler configuration: HorizontalPodAutoscalers (``autoscaling/v2``) and the
Cluster Autoscaler with its node groups.

An HPA is written exactly as a Kubernetes manifest (``apiVersion: autoscaling/v2``,
``kind: HorizontalPodAutoscaler``, ``metadata``, ``spec`` with ``scaleTargetRef``,
``minReplicas``, ``maxReplicas``, ``metrics`` and ``behavior``), so one copied from a
cluster validates as is. Defaults follow ``pkg/apis/autoscaling/v2/defaults.go``:
``minReplicas`` 1, a CPU utilisation target of 80 % when no metric is given, and the
``behavior`` defaults filled in by :mod:`k8sim.autoscaling.hpa_behavior`. Validation
follows ``pkg/apis/autoscaling/validation/validation.go`` where it matters: targets
must be positive, each metric source type allows only its target types, windows are at
most 3600 s and policy periods at most 1800 s.

The Cluster Autoscaler's settings are its command-line flags (``--scan-interval`` is
``scan_interval_s``), with upstream's defaults; node groups carry a template node,
min/max size, an hourly price and the capacity type (on-demand or spot).

The pod side also has the service load models (``services``: a request-rate curve per
Deployment, its per-pod capacity, queue model and SLO), per-workload usage models
(``usage``: CPU and memory as a share of the request, a distribution or a CSV series,
with a memory growth rate for leaks; or ``from_trace``: a trace workload's own usage
columns), and the HPA controller's and metrics pipeline's
settings (``hpa_controller``, ``load_step_s``, ``metrics_resolution_s``). The component
that runs them is :mod:`k8sim.autoscaling.pod_autoscaling` (docs/autoscaling.md).
Karpenter-style provisioning (``karpenter``) has NodePools with requirements over an
instance-type catalogue (:mod:`k8sim.config.instance_types`), limits and disruption
settings with Karpenter's defaults (docs/autoscaling.md).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from k8sim.config.base import Strict, existing_path, located
from k8sim.config.cluster import NodeGpus, PoolName, Taint
from k8sim.config.distributions import Distribution
from k8sim.config.instance_types import CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, catalogue
from k8sim.config.k8s_types import K8sModel, LabelSelector
from k8sim.config.names import DnsSubdomain, Labels, LabelValue
from k8sim.config.quantity import to_milli
from k8sim.config.resources import Quantity, ResourceList
from k8sim.constants import POOL_LABEL

__all__ = [
    "Autoscaling",
    "ClusterAutoscaler",
    "HPAScalingPolicy",
    "HPAScalingRules",
    "HorizontalPodAutoscaler",
    "HorizontalPodAutoscalerBehavior",
    "HorizontalPodAutoscalerSpec",
    "InstanceTypeSpec",
    "Karpenter",
    "KarpenterNodePool",
    "NodePoolDisruption",
    "NodeSelectorRequirement",
    "MetricSpec",
    "MetricTarget",
    "NodeGroup",
    "NodeTemplate",
    "PodMetricsSettings",
    "HPAControllerSettings",
    "ServiceLoad",
    "ServiceSLO",
    "TraceUsage",
    "UsageModel",
    "UsageCurve",
    "SERVICE_METRICS",
]

#: ``MaxStabilizationWindowSeconds`` and ``MaxPeriodSeconds`` of the upstream validation.
MAX_STABILIZATION_WINDOW_S = 3600
MAX_PERIOD_S = 1800


# ------------------------------------------------------------------------------ HPA


class CrossVersionObjectReference(K8sModel):
    """``scaleTargetRef`` / ``describedObject``: the object by kind and name."""

    api_version: str = Field(default="apps/v1", alias="apiVersion")
    kind: str = Field(min_length=1)  # Deployment, StatefulSet, ReplicaSet, ...
    name: DnsSubdomain


class MetricTarget(K8sModel):
    """``MetricTarget``: ``type`` says which of the three values is the target."""

    type: Literal["Utilization", "Value", "AverageValue"]
    value: Quantity | None = None  # Value: the total (Object, External)
    average_value: Quantity | None = Field(default=None, alias="averageValue")  # per pod
    average_utilization: int | None = Field(default=None, alias="averageUtilization")  # % of request

    @model_validator(mode="after")
    def _one_positive_target(self) -> MetricTarget:
        field, value = {"Utilization": ("averageUtilization", self.average_utilization),
                        "Value": ("value", self.value),
                        "AverageValue": ("averageValue", self.average_value)}[self.type]
        if value is None:
            raise ValueError(f"{field}: required for a target of type {self.type}")
        if value <= 0:
            raise ValueError(f"{field}: must be positive (a target of zero cannot be scaled to), got {value}")
        return self

    def milli(self) -> int:
        """The ``Value`` / ``AverageValue`` target in milli-units (``MilliValue()``)."""
        q = self.value if self.type == "Value" else self.average_value
        assert q is not None
        return to_milli(q)


class MetricIdentifier(K8sModel):
    name: str = Field(min_length=1)
    selector: LabelSelector | None = None


class ResourceMetricSource(K8sModel):
    name: Literal["cpu", "memory"]
    target: MetricTarget


class ContainerResourceMetricSource(ResourceMetricSource):
    container: str = Field(min_length=1)


class PodsMetricSource(K8sModel):
    metric: MetricIdentifier
    target: MetricTarget


class ObjectMetricSource(K8sModel):
    described_object: CrossVersionObjectReference = Field(alias="describedObject")
    metric: MetricIdentifier
    target: MetricTarget


class ExternalMetricSource(K8sModel):
    metric: MetricIdentifier
    target: MetricTarget


_SOURCE_FIELD = {"Resource": "resource", "ContainerResource": "container_resource", "Pods": "pods",
                 "Object": "object", "External": "external"}
_ALIAS = {"resource": "resource", "container_resource": "containerResource", "pods": "pods", "object": "object",
          "external": "external"}
#: Target types each source allows (validation.go: validateMetricTarget and callers).
_ALLOWED_TARGETS = {"Resource": {"Utilization", "AverageValue"}, "ContainerResource": {"Utilization", "AverageValue"},
                    "Pods": {"AverageValue"}, "Object": {"Value", "AverageValue"},
                    "External": {"Value", "AverageValue"}}


class MetricSpec(K8sModel):
    """One ``metrics[]`` entry: ``type`` and the source of that type (only that one)."""

    type: Literal["Resource", "ContainerResource", "Pods", "Object", "External"]
    resource: ResourceMetricSource | None = None
    container_resource: ContainerResourceMetricSource | None = Field(default=None, alias="containerResource")
    pods: PodsMetricSource | None = None
    object: ObjectMetricSource | None = None
    external: ExternalMetricSource | None = None

    @model_validator(mode="after")
    def _source_matches_type(self) -> MetricSpec:
        wanted = _SOURCE_FIELD[self.type]
        if getattr(self, wanted) is None:
            raise ValueError(f"{_ALIAS[wanted]}: required when type is {self.type}")
        for name in _SOURCE_FIELD.values():
            if name != wanted and getattr(self, name) is not None:
                raise ValueError(f"{_ALIAS[name]}: must be omitted when type is {self.type}")
        target = getattr(self, wanted).target
        if target.type not in _ALLOWED_TARGETS[self.type]:
            allowed = " or ".join(sorted(_ALLOWED_TARGETS[self.type]))
            raise ValueError(f"{_ALIAS[wanted]}.target.type: must be {allowed} for a {self.type} metric, "
                             f"got {target.type}")
        return self


def _default_metrics() -> list[MetricSpec]:
    # SetDefaults_HorizontalPodAutoscaler: CPU at autoscaling.DefaultCPUUtilization (80 %).
    return [MetricSpec.model_validate({"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}})]


class HPAScalingPolicy(K8sModel):
    type: Literal["Pods", "Percent"]
    value: int = Field(gt=0)  # pods, or percent of the replicas at the period's start
    period_seconds: int = Field(alias="periodSeconds", gt=0, le=MAX_PERIOD_S)


class HPAScalingRules(K8sModel):
    """One direction's rules; unset fields take the upstream defaults (see
    :func:`k8sim.autoscaling.hpa_behavior.generate_scale_up_rules`)."""

    stabilization_window_seconds: int | None = Field(default=None, alias="stabilizationWindowSeconds", ge=0,
                                                     le=MAX_STABILIZATION_WINDOW_S)
    select_policy: Literal["Max", "Min", "Disabled"] | None = Field(default=None, alias="selectPolicy")
    policies: list[HPAScalingPolicy] | None = None
    tolerance: float | None = Field(default=None, ge=0)  # HPAConfigurableTolerance

    @field_validator("policies")
    @classmethod
    def _not_empty(cls, v: list[HPAScalingPolicy] | None) -> list[HPAScalingPolicy] | None:
        if v is not None and not v:
            raise ValueError("must specify at least one policy (or leave policies out for the defaults)")
        return v


class HorizontalPodAutoscalerBehavior(K8sModel):
    scale_up: HPAScalingRules | None = Field(default=None, alias="scaleUp")
    scale_down: HPAScalingRules | None = Field(default=None, alias="scaleDown")


class HorizontalPodAutoscalerSpec(K8sModel):
    scale_target_ref: CrossVersionObjectReference = Field(alias="scaleTargetRef")
    min_replicas: int = Field(default=1, alias="minReplicas", ge=0)
    max_replicas: int = Field(alias="maxReplicas", ge=1)
    metrics: list[MetricSpec] = Field(default_factory=_default_metrics)
    behavior: HorizontalPodAutoscalerBehavior | None = None

    @model_validator(mode="after")
    def _replica_bounds(self) -> HorizontalPodAutoscalerSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"maxReplicas: must be greater than or equal to minReplicas ({self.min_replicas}), "
                             f"got {self.max_replicas}")
        if self.min_replicas == 0 and not any(m.type in ("Object", "External") for m in self.metrics):
            # Scale to zero (HPAScaleToZero) needs a metric that exists without pods.
            raise ValueError("minReplicas: 0 needs at least one Object or External metric "
                             "(with only pod metrics nothing could scale the target up again)")
        if not self.metrics:
            raise ValueError("metrics: must specify at least one metric (or leave metrics out for CPU at 80 %)")
        return self


class ObjectMeta(K8sModel):
    name: DnsSubdomain
    namespace: DnsSubdomain = "default"


class HorizontalPodAutoscaler(K8sModel):
    """A ``HorizontalPodAutoscaler`` manifest (``autoscaling/v2``)."""

    api_version: Literal["autoscaling/v2"] = Field(default="autoscaling/v2", alias="apiVersion")
    kind: Literal["HorizontalPodAutoscaler"] = "HorizontalPodAutoscaler"
    metadata: ObjectMeta
    spec: HorizontalPodAutoscalerSpec


# ------------------------------------------------------------------- Cluster Autoscaler


class NodeTemplate(Strict):
    """The node a group adds: what ``TemplateNodeInfo`` returns upstream. With the
    group's ``instance_type``, ``allocatable`` may be left out (the catalogue's)."""

    allocatable: ResourceList = {}  # e.g. {cpu: "4", memory: 16Gi}; pods defaults to 110
    labels: Labels = {}
    taints: list[Taint] = []
    zone: LabelValue | None = None  # topology.kubernetes.io/zone
    gpus: NodeGpus | None = None
    # Images on every node of the group when it registers (a node image with the
    # containers baked in, or a pre-puller); names from the scenario's images: catalog.
    prepulled_images: list[str] = []

    @field_validator("allocatable")
    @classmethod
    def _cpu_and_memory(cls, v: dict) -> dict:
        if v:  # empty: the instance type's (checked by the group)
            for r in ("cpu", "memory"):
                if not v.get(r):
                    raise ValueError(f"{r}: a node template needs a positive {r} allocatable")
        return v


class NodeGroup(Strict):
    """A node group (an autoscaling group / managed instance group)."""

    name: PoolName
    min_size: int = Field(default=0, ge=0)
    max_size: int = Field(ge=1)
    initial_size: int | None = Field(default=None, ge=0)  # nodes at t = 0 (default: min_size)
    template: NodeTemplate = NodeTemplate()
    # An instance type of the catalogue (autoscaling.cluster_autoscaler.catalogue): its
    # allocatable, labels and list price, unless the template / price_per_hour say otherwise.
    instance_type: str | None = None
    # Money per node-hour; when not given and the group has an instance_type: the
    # catalogue's list price (times 1 - spot_discount for spot).
    price_per_hour: float = Field(default=0.0, ge=0)
    capacity_type: Literal["on-demand", "spot"] = "on-demand"

    @model_validator(mode="after")
    def _sizes(self) -> NodeGroup:
        if self.min_size > self.max_size:
            raise ValueError(f"max_size: must be greater than or equal to min_size ({self.min_size}), "
                             f"got {self.max_size}")
        if self.initial_size is not None and not self.min_size <= self.initial_size <= self.max_size:
            raise ValueError(f"initial_size: must be within [min_size, max_size] = [{self.min_size}, "
                             f"{self.max_size}], got {self.initial_size}")
        if self.instance_type is None and not self.template.allocatable:
            raise ValueError(located("template.allocatable",
                                     "a node group needs a template with cpu and memory allocatable, "
                                     "or an instance_type"))
        return self


ExpanderName = Literal["random", "most-pods", "least-waste", "price", "priority"]


def _default_provisioning() -> dict:
    return {"kind": "constant", "value": 60.0}


class ClusterAutoscaler(Strict):
    """Cluster Autoscaler settings: flags of ``cluster-autoscaler`` with upstream defaults."""

    node_groups: list[NodeGroup] = Field(min_length=1)
    expander: list[ExpanderName] = ["random"]  # --expander, a chain as "priority,least-waste"
    priorities: dict[int, list[str]] | None = None  # priority expander: priority -> group name regexes
    scan_interval_s: float = Field(default=10.0, gt=0)  # --scan-interval
    scale_down_enabled: bool = True  # --scale-down-enabled
    scale_down_utilization_threshold: float = Field(default=0.5, ge=0, le=1)
    scale_down_gpu_utilization_threshold: float = Field(default=0.5, ge=0, le=1)
    scale_down_unneeded_time_s: float = Field(default=600.0, ge=0)
    scale_down_unready_time_s: float = Field(default=1200.0, ge=0)
    scale_down_delay_after_add_s: float = Field(default=600.0, ge=0)
    scale_down_delay_after_delete_s: float | None = Field(default=None, ge=0)  # default: the scan interval
    scale_down_delay_after_failure_s: float = Field(default=180.0, ge=0)
    max_node_provision_time_s: float = Field(default=900.0, gt=0)
    max_graceful_termination_s: float = Field(default=600.0, ge=0)
    max_nodes_total: int = Field(default=0, ge=0)  # 0: no limit
    ignore_daemonsets_utilization: bool = False
    ignore_mirror_pods_utilization: bool = False
    scale_down_unready_enabled: bool = True
    skip_nodes_with_system_pods: bool = True
    skip_nodes_with_local_storage: bool = True
    skip_nodes_with_custom_controller_pods: bool = True
    initial_node_group_backoff_s: float = Field(default=300.0, gt=0)
    max_node_group_backoff_s: float = Field(default=1800.0, gt=0)
    node_group_backoff_reset_timeout_s: float = Field(default=3 * 3600.0, gt=0)
    # Not an upstream setting: how long a cloud takes from the resize to a registered
    # node (k8sim's assumption; measure yours). Drawn per node.
    provisioning_latency: Distribution = Field(default_factory=_default_provisioning)  # type: ignore[assignment]
    # The catalogue node groups' instance_type names (k8sim/data/instance_types).
    catalogue: Literal["aws-us-east-1"] = "aws-us-east-1"
    # Price of a spot node group with an instance_type: the on-demand price times
    # (1 - spot_discount) (k8sim's assumption; spot prices move).
    spot_discount: float = Field(default=0.6, ge=0, lt=1)

    @model_validator(mode="after")
    def _consistent(self) -> ClusterAutoscaler:
        known = catalogue(self.catalogue)
        for i, g in enumerate(self.node_groups):
            if g.instance_type is not None and g.instance_type not in known:
                raise ValueError(located(f"node_groups[{i}].instance_type",
                                         _unknown_type(g.instance_type, known, self.catalogue)))
        names = [g.name for g in self.node_groups]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"node_groups: duplicate group name(s) {', '.join(dup)}")
        if "priority" in self.expander and not self.priorities:
            raise ValueError("priorities: required by the priority expander (priority -> list of group regexes)")
        for prio, patterns in (self.priorities or {}).items():
            for i, p in enumerate(patterns):
                try:
                    re.compile(p)
                except re.error as exc:
                    raise ValueError(f"priorities.{prio}[{i}]: not a regular expression ({exc})") from None
        return self


# --------------------------------------------------------------- load and usage models

#: Metrics a service load model provides, by name: per pod (a ``Pods`` metric: the rate
#: each pod receives) and for the whole service (``Object`` metrics describing the
#: Deployment or its service, and ``External`` metrics). Values in the metric's unit
#: (requests per second, seconds).
SERVICE_POD_METRICS = frozenset({"requests_per_second"})
SERVICE_METRICS = frozenset({"requests_per_second", "served_requests_per_second", "dropped_requests_per_second",
                             "latency_seconds"})


class _Rate(Strict):
    pass


class ConstantRateSpec(_Rate):
    kind: Literal["constant"] = "constant"
    rps: float = Field(ge=0)  # requests per second at all times


class StepRateSpec(_Rate):
    """``before_rps`` until ``at_s``, ``after_rps`` from then on (a flash crowd)."""

    kind: Literal["step"] = "step"
    before_rps: float = Field(ge=0)
    after_rps: float = Field(ge=0)
    at_s: float = Field(ge=0)


class RampRateSpec(_Rate):
    """``start_rps`` until ``start_s``, linear to ``end_rps`` at ``end_s``, then flat."""

    kind: Literal["ramp"] = "ramp"
    start_rps: float = Field(ge=0)
    end_rps: float = Field(ge=0)
    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)

    @model_validator(mode="after")
    def _order(self) -> RampRateSpec:
        if self.end_s <= self.start_s:
            raise ValueError(f"end_s: must be after start_s ({self.start_s}), got {self.end_s}")
        return self


class DiurnalRateSpec(_Rate):
    """``mean_rps * (1 + amplitude cos(2 pi (t - peak_s) / period_s))`` times mean-1
    lognormal noise of coefficient of variation ``noise_cv`` per ``noise_step_s``
    (:class:`k8sim.autoscaling.load.DiurnalRate`; the noise is seeded from the run's seed
    and the service)."""

    kind: Literal["diurnal"] = "diurnal"
    mean_rps: float = Field(ge=0)
    amplitude: float = Field(default=0.5, ge=0, le=1)
    period_s: float = Field(default=86_400.0, gt=0)
    peak_s: float = 14 * 3600.0  # time of the peak (default 14:00 of the first day)
    noise_cv: float = Field(default=0.0, ge=0)
    noise_step_s: float = Field(default=60.0, gt=0)


class CsvRateSpec(_Rate):
    """A rate series from a CSV file (relative to the scenario file), held or linearly
    interpolated between its rows."""

    kind: Literal["csv"] = "csv"
    file: str
    time_column: str = "time_s"
    rate_column: str = "rps"
    interpolation: Literal["linear", "step"] = "linear"

    @field_validator("file")
    @classmethod
    def _exists(cls, v: str, info: ValidationInfo) -> str:
        return existing_path(v, info)


RateSpec = Annotated[ConstantRateSpec | StepRateSpec | RampRateSpec | DiurnalRateSpec | CsvRateSpec,
                     Field(discriminator="kind")]


class ServiceSLO(Strict):
    """Targets a time step is checked against: the latency percentile of the service's
    ``latency_quantile`` at most ``latency_s``, and the served share of the offered
    requests at least ``availability``."""

    latency_s: float | None = Field(default=None, gt=0)
    availability: float | None = Field(default=None, gt=0, le=1)


class MemoryPerRequest(Strict):
    """A service pod's memory: ``base`` plus ``per_rps`` for each request/s it serves."""

    base: Quantity  # bytes, e.g. 256Mi
    per_rps: Quantity = Field(default=Fraction(0))  # bytes per request/s served


class ServiceLoad(Strict):
    """A Deployment serving requests behind a Service (see docs/autoscaling.md)."""

    name: DnsSubdomain | None = None  # the service's name (default: the target's name)
    target: CrossVersionObjectReference  # the Deployment whose ready pods serve
    rate: RateSpec  # the offered request rate over time
    capacity_rps: float = Field(gt=0)  # requests/s one pod serves at 100 % of its CPU request
    idle_cpu: Quantity = Field(default=Fraction(0))  # CPU a pod uses with no traffic (e.g. 20m)
    queue: Literal["ps", "mmc"] = "ps"  # M/G/1 processor sharing per pod, or one M/M/c queue
    service_scv: float = Field(default=1.0, gt=0)  # squared coefficient of variation of the service demand
    latency_quantile: float = Field(default=0.95, gt=0, lt=1)  # the latency percentile reported
    slo: ServiceSLO | None = None
    memory: MemoryPerRequest | None = None  # absent: each pod uses its memory request

    @field_validator("target")
    @classmethod
    def _deployment(cls, v: CrossVersionObjectReference) -> CrossVersionObjectReference:
        if v.kind != "Deployment":
            raise ValueError(f"kind: a service load model serves a Deployment, got {v.kind!r}")
        return v

    @property
    def service_name(self) -> str:
        return self.name or self.target.name


class UsageCurve(Strict):
    """One resource's usage, as a share of the pod's request: exactly one of ``ratio``
    (constant), ``distribution`` (drawn per pod at its birth, then constant) or ``csv``
    (a series over the pod's age, ``clock: pod``, or over run time, ``clock: run``);
    plus ``growth_per_s`` absolute units per second of the container's run (a leak;
    memory only), reset when the container restarts."""

    ratio: float | None = Field(default=None, ge=0)
    distribution: Distribution | None = None
    csv: str | None = None
    time_column: str = "time_s"
    value_column: str = "ratio"
    clock: Literal["pod", "run"] = "pod"
    growth_per_s: Quantity = Field(default=Fraction(0))

    @field_validator("csv")
    @classmethod
    def _exists(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else existing_path(v, info)

    @model_validator(mode="after")
    def _one(self) -> UsageCurve:
        given = [k for k in ("ratio", "distribution", "csv") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of ratio, distribution or csv (the usage as a share of the request)")
        return self


class TraceUsage(Strict):
    """Usage read from the usage columns of a trace workload's own trace
    (:mod:`k8sim.workloads.traces.usage`): ``alibaba2018`` from its ``batch_instance``
    file (``cpu_avg`` / ``mem_avg``), or for ``table: container`` from
    ``container_usage`` files given in ``files``; ``google2019`` from
    ``instance_usage`` exports given in ``files``. ``statistic`` picks the average or the maximum columns. Pods
    without a usage row use ``fallback_ratio`` times their requests (counted, and
    warned). ``limit_ratio`` gives each pod limits as a share of its own requests
    (trace pods' requests differ; without it the template's ``limits`` apply)."""

    # usage tables: google2019 instance_usage exports, alibaba2018 (table: container)
    # container_usage files; alibaba2018 batch: none (its batch_instance file)
    files: list[str] = []
    statistic: Literal["average", "maximum"] = "average"
    fallback_ratio: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    limit_ratio: dict[Literal["cpu", "memory"], Annotated[float, Field(gt=0, allow_inf_nan=False)]] = {}

    @field_validator("files")
    @classmethod
    def _exist(cls, v: list[str], info: ValidationInfo) -> list[str]:
        return [existing_path(f, info) for f in v]


def _true_is_default(v: object) -> object:
    """``from_trace: true`` is ``from_trace: {}``; ``false`` is none."""
    if v is True:
        return {}
    if v is False:
        return None
    return v


class UsageModel(Strict):
    """Usage of the pods of one workload that serve no modelled traffic."""

    workload: str = Field(min_length=1)  # the workload's name (a manifest workload: all its pods)
    cpu: UsageCurve | None = None
    memory: UsageCurve | None = None
    # Usage from the trace's usage columns (a trace workload of alibaba2018 / google2019).
    from_trace: Annotated[TraceUsage | None, BeforeValidator(_true_is_default)] = None

    @model_validator(mode="after")
    def _some(self) -> UsageModel:
        if self.from_trace is not None:
            if self.cpu is not None or self.memory is not None:
                raise ValueError("give from_trace or cpu / memory curves, not both")
            return self
        if self.cpu is None and self.memory is None:
            raise ValueError("give cpu, memory, both, or from_trace")
        if self.cpu is not None and self.cpu.growth_per_s:
            raise ValueError("cpu.growth_per_s: growth over time is modelled for memory only")
        return self


class HPAControllerSettings(Strict):
    """kube-controller-manager's HPA flags (``--horizontal-pod-autoscaler-*``)."""

    sync_period_s: float = Field(default=15.0, gt=0)
    tolerance: float = Field(default=0.1, ge=0)
    cpu_initialization_period_s: float = Field(default=300.0, ge=0)
    initial_readiness_delay_s: float = Field(default=30.0, ge=0)
    downscale_stabilization_s: int = Field(default=300, ge=0)


class PodMetricsSettings(Strict):
    """The metrics pipeline and the load model's time step."""

    load_step_s: float = Field(default=5.0, gt=0)  # the load and usage models' time step
    # metrics-server --metric-resolution: pods' usage is scraped (averaged over the
    # interval since the last scrape) this often; the HPA reads the latest scrape.
    resolution_s: float = Field(default=15.0, gt=0)
    lag_s: float = Field(default=0.0, ge=0)  # extra delay before a scrape is visible to the HPA
    # kubelet's eviction manager checks memory pressure this often (evictionMonitoringPeriod).
    eviction_monitoring_period_s: float = Field(default=10.0, gt=0)



def _unknown_type(name: str, known: dict, catalogue_name: str, own: bool = False) -> str:
    import difflib

    near = difflib.get_close_matches(name, list(known), n=3)
    hint = f"; did you mean {', '.join(near)}?" if near else ""
    where = " nor among instance_types" if own else ""
    return (f"instance type {name!r} is not in the {catalogue_name} catalogue ({len(known)} types, "
            f"k8sim/data/instance_types){where}{hint}")


# --------------------------------------------------------------- Karpenter-style provisioning


class NodeSelectorRequirement(K8sModel):
    """A NodePool requirement (``spec.template.spec.requirements[]``): a node label
    (well-known: ``node.kubernetes.io/instance-type``, ``karpenter.sh/capacity-type``,
    ``kubernetes.io/arch``, ``karpenter.k8s.aws/instance-family``, ``-cpu``, ``-memory``,
    ``-gpu-count``) and an operator over its values."""

    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: list[str] = []

    @model_validator(mode="after")
    def _values(self) -> NodeSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"values: operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"values: must be empty for operator {self.operator}")
        if self.operator in ("Gt", "Lt"):
            if len(self.values) != 1 or not self.values[0].lstrip("-").isdigit():
                raise ValueError(f"values: operator {self.operator} needs exactly one integer value")
        return self

    def matches(self, value: str | None) -> bool:
        op = self.operator
        if op == "In":
            return value is not None and value in self.values
        if op == "NotIn":
            return value is None or value not in self.values
        if op == "Exists":
            return value is not None
        if op == "DoesNotExist":
            return value is None
        if value is None or not value.lstrip("-").isdigit():
            return False
        return int(value) > int(self.values[0]) if op == "Gt" else int(value) < int(self.values[0])


class DisruptionBudget(Strict):
    """``spec.disruption.budgets[]``: at most ``nodes`` (a count or a percentage of
    the NodePool's nodes, rounded up as upstream) disrupted at once."""

    nodes: str = "10%"

    @field_validator("nodes")
    @classmethod
    def _count_or_percent(cls, v: str) -> str:
        body = v[:-1] if v.endswith("%") else v
        if not body.isdigit() or (v.endswith("%") and int(body) > 100):
            raise ValueError(f"must be a non-negative integer or a percentage 0%..100%, got {v!r}")
        return v


class NodePoolDisruption(Strict):
    """``spec.disruption`` with Karpenter v1's defaults."""

    consolidation_policy: Literal["WhenEmptyOrUnderutilized", "WhenEmpty"] = "WhenEmptyOrUnderutilized"
    consolidate_after_s: float | None = Field(default=0.0, ge=0)  # consolidateAfter (None: Never)
    budgets: list[DisruptionBudget] = Field(default_factory=lambda: [DisruptionBudget()])


class KarpenterNodePool(Strict):
    """A NodePool: which instance types and capacity types its nodes may be, their
    labels and taints, resource limits, a weight (higher is tried first) and disruption."""

    name: PoolName
    requirements: list[NodeSelectorRequirement] = []
    labels: Labels = {}
    taints: list[Taint] = []
    limits: ResourceList = {}  # total cpu / memory of the pool's nodes (absent: none)
    weight: int = Field(default=0, ge=0, le=100)
    disruption: NodePoolDisruption = NodePoolDisruption()


class InstanceTypeSpec(Strict):
    """An instance type of the scenario's own, added to the catalogue."""

    name: str = Field(min_length=1)
    allocatable: ResourceList  # cpu, memory (pods defaults to 110)
    price_per_hour: float = Field(ge=0)  # on-demand price per node-hour
    labels: Labels = {}
    gpus: NodeGpus | None = None

    @field_validator("allocatable")
    @classmethod
    def _cpu_and_memory(cls, v: dict) -> dict:
        for r in ("cpu", "memory"):
            if not v.get(r):
                raise ValueError(f"{r}: an instance type needs a positive {r} allocatable")
        return v


class Karpenter(Strict):
    """Karpenter-style provisioning: NodePools over an instance-type catalogue, pending
    pods batched (``--batch-idle-duration`` 1 s, ``--batch-max-duration`` 10 s), the
    cheapest fitting types launched, under-used nodes consolidated."""

    node_pools: list[KarpenterNodePool] = Field(min_length=1)
    catalogue: Literal["aws-us-east-1"] | None = "aws-us-east-1"  # None: instance_types only
    instance_types: list[InstanceTypeSpec] = []
    batch_idle_s: float = Field(default=1.0, gt=0)  # BATCH_IDLE_DURATION
    batch_max_s: float = Field(default=10.0, gt=0)  # BATCH_MAX_DURATION
    # Spot price = on-demand * (1 - spot_discount) (k8sim's assumption; spot prices move).
    spot_discount: float = Field(default=0.6, ge=0, lt=1)
    # Launch to Ready of a NodeClaim, drawn per node (k8sim's assumption; measure yours).
    provisioning_latency: Distribution = Field(default_factory=_default_provisioning)  # type: ignore[assignment]
    # How often the disruption controller looks for consolidation (upstream polls every 10 s).
    disruption_interval_s: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Karpenter:
        names = [p.name for p in self.node_pools]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"node_pools: duplicate NodePool name(s) {', '.join(dup)}")
        own = [t.name for t in self.instance_types]
        dup = sorted({n for n in own if own.count(n) > 1})
        if dup:
            raise ValueError(f"instance_types: duplicate name(s) {', '.join(dup)}")
        known: dict[str, object] = dict(catalogue(self.catalogue)) if self.catalogue is not None else {}
        known.update({t.name: t for t in self.instance_types})
        if not known:
            raise ValueError("instance_types: no instance type (catalogue is null and none is given)")
        for i, p in enumerate(self.node_pools):
            for j, r in enumerate(p.requirements):
                if r.key == INSTANCE_TYPE_LABEL and r.operator in ("In", "NotIn"):
                    for k, v in enumerate(r.values):
                        if v not in known:
                            raise ValueError(located(f"node_pools[{i}].requirements[{j}].values[{k}]",
                                                     _unknown_type(v, known, self.catalogue or "no", own=True)))
        if self.batch_idle_s > self.batch_max_s:
            raise ValueError(located("batch_idle_s", f"must not exceed batch_max_s ({self.batch_max_s:g})"))
        return self


class Autoscaling(Strict):
    """The autoscalers of a scenario."""

    horizontal_pod_autoscalers: list[HorizontalPodAutoscaler] = []
    cluster_autoscaler: ClusterAutoscaler | None = None
    services: list[ServiceLoad] = []  # request load per Deployment
    usage: list[UsageModel] = []  # usage of pods without a service
    hpa_controller: HPAControllerSettings = HPAControllerSettings()
    metrics: PodMetricsSettings = PodMetricsSettings()

    def runs_pods(self) -> bool:
        """Whether the pod side (load, usage, HPAs) has anything to run."""
        return bool(self.horizontal_pod_autoscalers or self.services or self.usage)
    karpenter: Karpenter | None = None  # Karpenter-style provisioning

    def node_labels(self) -> dict[str, set[str]]:
        """Labels (key -> values) that nodes the node autoscalers add may carry: their
        pool names, capacity types and template / NodePool labels (a failure's node
        selection may name them before any such node exists)."""
        out: dict[str, set[str]] = {POOL_LABEL: set(), CAPACITY_TYPE_LABEL: set()}
        if self.cluster_autoscaler is not None:
            for g in self.cluster_autoscaler.node_groups:
                out[POOL_LABEL].add(g.name)
                out[CAPACITY_TYPE_LABEL].add(g.capacity_type)
                for k, v in g.template.labels.items():
                    out.setdefault(k, set()).add(v)
        if self.karpenter is not None:
            for p in self.karpenter.node_pools:
                out[POOL_LABEL].add(p.name)
                out[CAPACITY_TYPE_LABEL].update(("on-demand", "spot"))
                for k, v in p.labels.items():
                    out.setdefault(k, set()).add(v)
        return out

    @model_validator(mode="after")
    def _unique_hpas(self) -> Autoscaling:
        keys = [(h.metadata.namespace, h.metadata.name) for h in self.horizontal_pod_autoscalers]
        dup = sorted({f"{ns}/{n}" for ns, n in keys if keys.count((ns, n)) > 1})
        if dup:
            raise ValueError(f"horizontal_pod_autoscalers: duplicate HPA(s) {', '.join(dup)}")
        names = [s.service_name for s in self.services]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"services: duplicate service name(s) {', '.join(dup)}")
        targets = [s.target.name for s in self.services]
        dup = sorted({n for n in targets if targets.count(n) > 1})
        if dup:
            raise ValueError(f"services: Deployment(s) {', '.join(dup)} have more than one load model")
        wl = [u.workload for u in self.usage]
        dup = sorted({n for n in wl if wl.count(n) > 1})
        if dup:
            raise ValueError(f"usage: workload(s) {', '.join(dup)} have more than one usage model")
        for i, h in enumerate(self.horizontal_pod_autoscalers):
            self._check_metrics(i, h, names, targets)
        if self.cluster_autoscaler is not None and self.karpenter is not None:
            groups = {g.name for g in self.cluster_autoscaler.node_groups}
            both = sorted(groups & {p.name for p in self.karpenter.node_pools})
            if both:
                raise ValueError(located("karpenter.node_pools",
                                         f"name(s) {', '.join(both)} also name a Cluster Autoscaler node group"))
        return self

    def _check_metrics(self, i: int, h: HorizontalPodAutoscaler, names: list[str], targets: list[str]) -> None:
        """Each metric of an HPA must be one the load and usage models can provide."""
        ref = h.spec.scale_target_ref
        where = f"horizontal_pod_autoscalers[{i}].spec"
        if ref.kind != "Deployment":
            raise ValueError(f"{where}.scaleTargetRef.kind: k8sim's HPA scales Deployments, got {ref.kind!r}")
        served = ref.name in targets
        for j, m in enumerate(h.spec.metrics):
            at = f"{where}.metrics[{j}]"
            if m.type in ("Resource", "ContainerResource"):
                continue  # from usage; checked when the run is built (which pods have a usage model)
            if m.type == "Pods":
                assert m.pods is not None
                name = m.pods.metric.name
                if not served or name not in SERVICE_POD_METRICS:
                    raise ValueError(self._cannot(f"{at}.pods.metric.name", name, ref.name, served,
                                                  SERVICE_POD_METRICS))
            elif m.type == "Object":
                assert m.object is not None
                obj = m.object.described_object
                name = m.object.metric.name
                ok = (obj.kind == "Deployment" and obj.name in targets) or (obj.kind == "Service" and obj.name in names)
                if not ok:
                    raise ValueError(f"{at}.object.describedObject: no load model describes {obj.kind} {obj.name!r} "
                                     f"(services: {', '.join(names) or 'none'})")
                if name not in SERVICE_METRICS:
                    raise ValueError(self._cannot(f"{at}.object.metric.name", name, obj.name, True, SERVICE_METRICS))
            else:
                assert m.external is not None
                name = m.external.metric.name
                sel = m.external.metric.selector
                svc = sel.match_labels.get("service") if sel is not None else None
                if svc is not None and svc not in names:
                    raise ValueError(f"{at}.external.metric.selector.matchLabels.service: no service {svc!r} "
                                     f"(services: {', '.join(names) or 'none'})")
                if name not in SERVICE_METRICS or (svc is None and not served):
                    raise ValueError(self._cannot(f"{at}.external.metric.name", name, svc or ref.name,
                                                  svc is not None or served, SERVICE_METRICS))

    @staticmethod
    def _cannot(at: str, name: str, target: str, served: bool, known: frozenset[str]) -> str:
        if not served:
            return (f"{at}: metric {name!r} needs a load model for Deployment {target!r} "
                    "(autoscaling.services[].target), and it has none")
        return f"{at}: the load model cannot provide metric {name!r} (it provides: {', '.join(sorted(known))})"
