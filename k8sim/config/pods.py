"""What the pods of a workload look like: the pod template (requests, placement
constraints, containers, crash model), tolerations, GPU requests, and the pods already
bound at time 0."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from k8sim.config.base import Strict
from k8sim.config.distributions import Distribution
from k8sim.config.k8s_types import Affinity, ContainerPort, K8sModel, TopologySpreadConstraint
from k8sim.config.names import (
    ContainerName,
    DnsSubdomain,
    Labels,
    LabelValue,
    PodName,
    Priority,
    check_qualified_name,
)
from k8sim.config.resources import ResourceList
from k8sim.config.storage import PodVolume
from k8sim.constants import DEFAULT_SCHEDULER, GPU_MILLI, MAX_GPUS_PER_NODE, MAX_RATE_PER_S, MAX_TIME_S

__all__ = [
    "ContainerSpec",
    "CrashModel",
    "InitContainerSpec",
    "InitialPod",
    "PodGpu",
    "PodResourcesSpec",
    "PodTemplate",
    "PullPolicy",
    "Toleration",
]


class Toleration(K8sModel):
    """A pod toleration (``spec.tolerations[]``), upstream semantics.

    An empty ``key`` with ``operator: Exists`` tolerates every taint; an empty
    ``effect`` matches every effect.
    """

    key: str = ""  # taint key to tolerate; "" with Exists = all keys
    operator: Literal["Equal", "Exists"] = "Equal"  # Equal compares value, Exists does not
    value: LabelValue = ""  # compared when operator is Equal
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] = ""  # "" = any
    # Seconds a NoExecute taint is tolerated (upstream int64; negative = 0).
    toleration_seconds: float | None = Field(default=None, alias="tolerationSeconds", ge=-MAX_TIME_S,
                                             le=MAX_TIME_S)

    @model_validator(mode="after")
    def _check(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise ValueError("a toleration with operator Exists must not set a value")
        if self.key:
            check_qualified_name(self.key)  # upstream validateTolerations: ValidateLabelName
        if not self.key and self.operator != "Exists":
            raise ValueError("a toleration with an empty key must use operator Exists")
        return self


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


PullPolicy = Literal["Always", "IfNotPresent", "Never"]


class InitContainerSpec(K8sModel):
    """An init container: runs to completion, in order, before the main containers.
    With ``restartPolicy: Always`` it is a sidecar: for scheduling its requests add to
    the main containers' (upstream's sidecar rule); the runtime model starts it like
    any init container, with no run time of its own."""

    name: ContainerName  # container name (DNS-1123 label)
    # resources.requests of this container; absent = none named (scheduling's non-zero
    # defaults then apply to it). Setting it on any container makes requests per container.
    requests: ResourceList | None = None
    # resources.limits of this container (ResourceQuota limits.*, LimitRange; CPU and memory
    # are enforced by usage models: docs/autoscaling.md); absent = none.
    limits: ResourceList | None = None
    restart_policy: Literal["Always"] | None = Field(default=None, alias="restartPolicy")  # Always = sidecar
    image: str | None = None  # image from the catalog (pulled first); absent = nothing to pull
    # Absent: the pod's imagePullPolicy, else upstream's default for the image's tag.
    image_pull_policy: PullPolicy | None = Field(default=None, alias="imagePullPolicy")
    start_latency: Distribution | None = None  # create + start once the image is there (0)
    duration: Distribution | None = None  # run time to completion (0)


class ContainerSpec(K8sModel):
    """A main container: its image is pulled, then it is created and started."""

    name: ContainerName  # container name (DNS-1123 label)
    # resources.requests of this container; absent = none named (a named 0 is an explicit
    # zero: scheduling's non-zero defaults apply only to resources a container does not name).
    requests: ResourceList | None = None
    # resources.limits of this container (ResourceQuota limits.*, LimitRange); absent = none.
    limits: ResourceList | None = None
    image: str | None = None  # image from the catalog; absent = nothing to pull
    image_pull_policy: PullPolicy | None = Field(default=None, alias="imagePullPolicy")
    start_latency: Distribution | None = None  # create + start once the image is there (0)


class CrashModel(Strict):
    """How the pod's (first) main container exits with an error. Each run draws anew:
    with ``probability`` a run crashes ``after`` seconds; with ``rate_per_s`` a run
    crashes after an exponential time (if that comes before the pod's duration)."""

    probability: float | None = Field(default=None, ge=0, le=1)  # crash chance per run
    after: Distribution | None = None  # time to the crash when a run crashes (default 0)
    rate_per_s: float | None = Field(default=None, gt=0, le=MAX_RATE_PER_S)  # crashes per running second
    # Exit code of a crash: one code, or codes with their weights ({1: 0.9, 42: 0.1}), drawn
    # per failed pod (what a Job's podFailurePolicy onExitCodes rules match).
    exit_code: int | dict[int, float] = 1

    @model_validator(mode="after")
    def _check(self) -> CrashModel:
        if (self.probability is None) == (self.rate_per_s is None):
            raise ValueError("give exactly one of probability or rate_per_s")
        if self.after is not None and self.probability is None:
            raise ValueError("after goes with probability")
        codes = self.exit_code if isinstance(self.exit_code, dict) else {self.exit_code: 1.0}
        if not codes:
            raise ValueError("exit_code: give a code or codes with their weights")
        for code, w in codes.items():
            if not 1 <= code <= 255:
                raise ValueError(f"exit_code: a crash exits with a code in 1..255, got {code}")
            if not w > 0:
                raise ValueError(f"exit_code: weight of {code} must be > 0, got {w}")
        return self


class PodResourcesSpec(K8sModel):
    """Pod-level ``spec.resources``: its ``requests`` of cpu, memory and ``hugepages-*``
    replace the containers' sum (upstream PodLevelResources)."""

    requests: ResourceList = {}


def _per_container(containers: list[ContainerSpec], init: list[InitContainerSpec]) -> bool:
    return any(c.requests is not None for c in containers) or any(c.requests is not None for c in init)


class PodTemplate(K8sModel):
    """What every pod of a workload looks like.

    Requests: ``requests`` is the pod's one container's ``resources.requests`` (a
    resource it does not name is absent; ``0`` is an explicit zero), unless some entry of
    ``containers`` / ``initContainers`` gives its own ``requests``: then each container's
    requests count as upstream combines them (sum, init-container max, sidecars) and
    ``requests`` must be empty. ``resources.requests`` (pod level) and ``overhead`` apply
    on top in both cases."""

    requests: ResourceList = {}  # resources.requests of the pod's (single) container
    namespace: str = Field(default="default", min_length=1)  # metadata.namespace
    # spec.overhead (RuntimeClass overhead): added to the pod's requests.
    overhead: ResourceList = {}
    resources: PodResourcesSpec | None = None  # pod-level spec.resources
    # resources.limits of the pod's (single) container: ResourceQuota limits.*, LimitRange,
    # usage models (docs/autoscaling.md).
    limits: ResourceList = {}
    image: str | None = None  # container image; pulled when the scenario has an ``images`` section
    # Pod priority (higher is scheduled first): int32, at most 1e9 (larger values are
    # reserved for system classes upstream).
    priority: Priority = 0
    labels: Labels = {}  # pod labels
    node_selector: Labels = Field(default={}, alias="nodeSelector")  # node labels
    tolerations: list[Toleration] = []  # taints this pod tolerates
    scheduler_name: DnsSubdomain = Field(default=DEFAULT_SCHEDULER, alias="schedulerName")
    # PriorityClass whose value becomes the pod's priority (overrides ``priority``).
    priority_class_name: DnsSubdomain | None = Field(default=None, alias="priorityClassName")
    affinity: Affinity | None = None  # node affinity, pod affinity and anti-affinity
    topology_spread_constraints: tuple[TopologySpreadConstraint, ...] = Field(
        default=(), alias="topologySpreadConstraints"
    )
    node_name: str | None = Field(default=None, alias="nodeName")  # pin to a node (NodeName)
    ports: tuple[ContainerPort, ...] = ()  # container ports; hostPort conflicts (NodePorts)
    # Time a preempted or evicted pod keeps its resources after being told to stop.
    termination_grace_period_s: float = Field(default=30.0, alias="terminationGracePeriodSeconds", ge=0,
                                              le=MAX_TIME_S)
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
    # RuntimeClass (scenario ``runtimeClasses``) whose handler runs the pod; its overhead,
    # nodeSelector and tolerations are merged into the pod (absent: the default handler).
    runtime_class_name: DnsSubdomain | None = Field(default=None, alias="runtimeClassName")
    # Volumes from PersistentVolumeClaims (scenario persistentVolumeClaims, same namespace).
    volumes: list[PodVolume] = []

    @model_validator(mode="after")
    def _check(self) -> PodTemplate:
        for name, lim in self.limits.items():
            req = self.requests.get(name)
            if req is not None and req > lim:
                raise ValueError(f"requests.{name} ({req}) exceeds limits.{name} ({lim})")
        if self.containers and self.image is not None:
            raise ValueError("give image (one main container) or containers, not both")
        if self.requests and _per_container(self.containers, self.init_containers):
            raise ValueError("give requests per container (containers[].requests, initContainers[].requests) "
                             "or requests of the pod's single container, not both")
        names = [c.name for c in self.init_containers] + [c.name for c in self.containers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"container names must be unique, repeated: {dup}")
        return self


class InitialPod(K8sModel):
    """A pod already bound to a node at time 0 (it never passes the scheduler).

    Besides its requests it keeps what the scheduler's plugins read of a pod already on
    a node: labels and namespace (selectors of pod affinity and topology spread), its own
    pod (anti-)affinity terms (the existing pods' side of InterPodAffinity), host ports
    (NodePorts), priority (preemption), images. Requests follow the rule of
    :class:`PodTemplate` (``requests`` = one container, or per-container requests);
    of ``containers`` / ``initContainers`` only the name, image and requests are read."""

    name: PodName  # pod name ([namespace/]name)
    node_name: str = Field(alias="nodeName", min_length=1)  # the node it runs on
    requests: ResourceList = {}  # resources.requests of its single container
    labels: Labels = {}  # pod labels
    namespace: str = Field(default="default", min_length=1)  # metadata.namespace
    priority: Priority = 0  # pod priority
    duration: Distribution | None = None  # remaining run time; absent = forever
    gpu: PodGpu | None = None  # GPU request, placed on the node's devices by the "best" rule
    # The devices it holds (indices on its node), e.g. from an exported snapshot; absent:
    # chosen by the "best" rule. One per GPU of the request.
    gpu_devices: list[int] | None = Field(default=None, alias="gpuDevices")
    affinity: Affinity | None = None  # its pod (anti-)affinity terms (node affinity is not read)
    ports: tuple[ContainerPort, ...] = ()  # container ports; hostPorts block other pods (NodePorts)
    image: str | None = None  # its container's image (or containers[].image)
    containers: list[ContainerSpec] = []  # main containers (name, image, requests)
    init_containers: list[InitContainerSpec] = Field(default=[], alias="initContainers")
    overhead: ResourceList = {}  # spec.overhead
    resources: PodResourcesSpec | None = None  # pod-level spec.resources

    @model_validator(mode="after")
    def _check(self) -> InitialPod:
        if self.gpu_devices is not None:
            if self.gpu is None:
                raise ValueError("gpuDevices: needs a gpu request")
            devs = self.gpu_devices
            if len(devs) != self.gpu.count or len(set(devs)) != len(devs) or min(devs) < 0:
                raise ValueError(f"gpuDevices: expected {self.gpu.count} distinct device indices >= 0 "
                                 f"(one per GPU of the request), got {devs}")
        if self.containers and self.image is not None:
            raise ValueError("give image (one main container) or containers, not both")
        if self.requests and _per_container(self.containers, self.init_containers):
            raise ValueError("give requests per container (containers[].requests, initContainers[].requests) "
                             "or requests of the pod's single container, not both")
        return self
