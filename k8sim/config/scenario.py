"""The scenario schema (version 1): what a YAML scenario file may say.

The pydantic models of :mod:`k8sim.config` *are* the file format: every field has a
comment, unknown keys are errors (``extra="forbid"``), and a validated scenario is
frozen. Runtime code never reads YAML or dicts; :class:`k8sim.sim.Simulation` is built
once from a ``Scenario``.

This module holds the root model, :class:`Scenario`, and its ``defaults``; each section
has a module of its own: :mod:`~k8sim.config.cluster` (nodes),
:mod:`~k8sim.config.workloads` (arrivals, trace replay), :mod:`~k8sim.config.pods` (the
pod template), :mod:`~k8sim.config.images`, :mod:`~k8sim.config.scheduler` and
:mod:`~k8sim.config.faults` (failures, operator actions, node lifecycle); resource
amounts are in :mod:`~k8sim.config.resources` and plain constants in
:mod:`k8sim.constants`. Every name of the schema is re-exported here (``__all__``).

Conventions:
- Kubernetes fields keep their Kubernetes spelling (``nodeSelector``, ``schedulerName``,
  ``tolerations``, ``nodeName``); k8sim's own fields are snake_case.
- Durations are seconds, in fields ending in ``_s``.
- Resource amounts are Kubernetes quantity strings (``500m``, ``64Gi``) or numbers. They
  are held exactly (:class:`fractions.Fraction`) and converted to integer base units
  (milli-CPU, bytes, counts) by :func:`base_units`.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, PrivateAttr, model_validator

from k8sim.config.autoscaling import Autoscaling
from k8sim.config.base import Strict, located
from k8sim.config.batch import PodGroupSpec
from k8sim.config.cluster import Cluster, NodeGpus, NodeImage, NodePool, NodeSpec, Taint, TraceNodes
from k8sim.config.controllers import ControllerSettings, ControllerTiming
from k8sim.config.distributions import Distribution
from k8sim.config.faults import (
    Action,
    ActionSpec,
    Failure,
    NodeFailures,
    NodeLifecycleSettings,
    NodeSelection,
    PodGCSettings,
    SpotInterruptions,
    ZoneOutages,
)
from k8sim.config.images import ImageCatalogSpec, ImageLayer, ImageSpec, KubeletConfig, SyntheticImages
from k8sim.config.k8s_types import Affinity, ContainerPort, K8sModel, PriorityClass, TopologySpreadConstraint
from k8sim.config.kueue import KueueSettings
from k8sim.config.names import PlainName, Seconds
from k8sim.config.pods import (
    ContainerSpec,
    CrashModel,
    InitContainerSpec,
    InitialPod,
    PodGpu,
    PodResourcesSpec,
    PodTemplate,
    PullPolicy,
    Toleration,
)
from k8sim.config.quota import ResourceQuotaSpec
from k8sim.config.resources import Quantity, ResourceList, base_units
from k8sim.config.runtimeclass import (
    RuntimeClass,
    RuntimeClassOverhead,
    RuntimeClassScheduling,
    admission_rejections,
)
from k8sim.config.scheduler import PluginRef, ProfileSpec, SchedulerSettings
from k8sim.config.storage import (
    PersistentVolume,
    PersistentVolumeClaim,
    PodVolume,
    StorageClass,
    storage_problems,
)
from k8sim.config.workloads import (
    Arrival,
    BurstArrivals,
    ExplicitArrivals,
    IntervalArrivals,
    PoissonArrivals,
    TraceWorkload,
    Workload,
)
from k8sim.constants import (
    DEFAULT_MAX_PODS,
    DEFAULT_SCHEDULER,
    GPU_MILLI,
    GPU_MODEL_LABEL,
    HOSTNAME_LABEL,
    MAX_GPUS_PER_NODE,
    MAX_PODS,
    MAX_TIME_S,
    POD_GROUP_LABEL,
    POOL_LABEL,
    ZONE_LABEL,
)

__all__ = [
    "Action",
    "ActionSpec",
    "Affinity",
    "Arrival",
    "BurstArrivals",
    "Cluster",
    "ContainerPort",
    "ContainerSpec",
    "ControllerSettings",
    "ControllerTiming",
    "CrashModel",
    "Namespace",
    "NodeImage",
    "PodResourcesSpec",
    "DEFAULT_MAX_PODS",
    "DEFAULT_SCHEDULER",
    "Defaults",
    "Distribution",
    "ExplicitArrivals",
    "Failure",
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
    "NodeLifecycleSettings",
    "PodGCSettings",
    "NodePool",
    "NodeSelection",
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
    "ResourceQuotaSpec",
    "RuntimeClass",
    "RuntimeClassOverhead",
    "RuntimeClassScheduling",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "PodVolume",
    "Scenario",
    "StorageClass",
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


class Defaults(Strict):
    """Scenario-wide defaults that workloads may override."""

    # Binding -> Running latency when a pod template sets none (seconds).
    start_latency: Distribution = Field(  # type: ignore[assignment]
        default_factory=lambda: {"kind": "constant", "value": 0.0}
    )


def _never_ends(t: PodTemplate, finite: bool, images: bool) -> str:
    """Why every pod of a template restarts or retries forever ("" if it does not)."""
    if t.restart_policy == "Always" and finite:
        return "restartPolicy Always restarts them after they complete"
    if t.crash is not None and t.restart_policy != "Never":
        if t.crash.probability == 1:
            return "they crash in every run and are restarted"
        if t.crash.rate_per_s is not None and not finite:
            return "they run for ever, so a crash rate makes them crash and restart for ever"
    containers: list[ContainerSpec | InitContainerSpec] = [*t.containers, *t.init_containers]
    has_image = t.image is not None or any(c.image is not None for c in containers)
    if images and has_image and t.image_pull_failure_probability == 1:
        return "every image pull fails"
    return ""


class Namespace(K8sModel):
    """A namespace and its labels, matched by pod affinity terms' ``namespaceSelector``.
    Every namespace also carries ``kubernetes.io/metadata.name: <name>`` (set by the API
    server upstream); a namespace a pod names but this list does not has only that label."""

    name: str = Field(min_length=1)
    labels: dict[str, str] = {}
def _expected_pods(w: Workload, duration_s: float | None) -> float:
    """The number of pods a generated workload creates on average (0 for a trace)."""
    a = w.arrival
    cap = math.inf if w.max_pods is None else float(w.max_pods)
    per_arrival = w.gang.workers if w.gang is not None else 1
    if isinstance(a, (PoissonArrivals, IntervalArrivals)):
        ends = [t for t in (a.stop_s, duration_s) if t is not None]
        if not ends:
            return cap
        window = max(0.0, min(ends) - a.start_s)
        per_s = a.rate_per_s if isinstance(a, PoissonArrivals) else 1.0 / a.every_s
        return min(cap, window * per_s * per_arrival)
    return 0.0


def _known_pods(w: Workload) -> int | None:
    """How many pods a generated workload creates when that is fixed, else None."""
    a = w.arrival
    n: float | None = None
    if isinstance(a, ExplicitArrivals):
        n = len(a.times_s)
    elif isinstance(a, BurstArrivals):
        n = a.count
    if w.max_pods is not None:
        n = w.max_pods if n is None else min(n, w.max_pods)
    return None if n is None else int(n)


class Scenario(K8sModel):
    """A whole simulation: cluster, workloads, run length and seed."""

    version: Literal[1] = 1  # schema version
    # Defaults to the file name without extension; a plain name (it names the output
    # directory): no path separator.
    name: PlainName | None = None
    description: str = ""  # free text
    seed: int = Field(default=0, ge=0)  # root of every random stream
    # Stop at this virtual time; absent = run until every finite workload has drained.
    duration_s: float | None = Field(default=None, gt=0, le=MAX_TIME_S)
    warmup_s: Seconds = 0.0  # excluded from summaries
    # Timeseries resolution (widened, with a warning, beyond MAX_TIMESERIES_BINS bins).
    sample_interval_s: float = Field(default=10.0, gt=0, le=MAX_TIME_S)
    cluster: Cluster
    workloads: list[Workload] = []
    # PodGroups (scheduling.x-k8s.io/v1alpha1) that exist from time 0; pods join one by
    # the label scheduling.x-k8s.io/pod-group (docs/batch.md).
    pod_groups: list[PodGroupSpec] = Field(default=[], alias="podGroups")
    initial_pods: list[InitialPod] = []
    # Namespace labels for namespaceSelector (pods name their namespace; default "default").
    namespaces: list[Namespace] = []
    # ResourceQuotas: pod creations that would exceed one are refused (docs/quota.md).
    resource_quotas: list[ResourceQuotaSpec] = Field(default=[], alias="resourceQuotas")
    priority_classes: list[PriorityClass] = Field(default=[], alias="priorityClasses")
    # RuntimeClasses that pods name in runtimeClassName (handler, overhead, scheduling).
    runtime_classes: list[RuntimeClass] = Field(default=[], alias="runtimeClasses")
    # Storage (see docs/storage.md): classes, pre-created volumes, claims pods mount.
    storage_classes: list[StorageClass] = Field(default=[], alias="storageClasses")
    persistent_volumes: list[PersistentVolume] = Field(default=[], alias="persistentVolumes")
    persistent_volume_claims: list[PersistentVolumeClaim] = Field(default=[], alias="persistentVolumeClaims")
    defaults: Defaults = Defaults()
    scheduler: SchedulerSettings = SchedulerSettings()
    # Image catalog; when present, images are pulled onto nodes (absent: image names are
    # informational and pods start after their start_latency).
    images: ImageCatalogSpec | None = None
    # Node failures, zone outages, spot interruptions (see docs/failures.md).
    failures: list[Failure] = []
    # Operator actions at given times: cordon, uncordon, drain, delete_node, fail_node,
    # scale, rollout (see docs/failures.md and docs/controllers.md).
    actions: list[Action] = []
    # The node lifecycle controller's timings (upstream defaults).
    node_lifecycle: NodeLifecycleSettings = NodeLifecycleSettings()
    # The pod garbage collector's timings: when the pods of a deleted node go (upstream defaults).
    pod_gc: PodGCSettings = PodGCSettings()
    # Reaction latency of each workload controller (manifest workloads; see docs/controllers.md).
    controllers: ControllerSettings = ControllerSettings()
    # Pod and node autoscalers: HPAs, the Cluster Autoscaler (see docs/autoscaling.md).
    autoscaling: Autoscaling | None = None
    # Queues and quotas as Kueue models them; batch admission policies (docs/batch.md).
    kueue: KueueSettings | None = None
    _source: str = PrivateAttr(default="")
    # The manifests' Kueue objects and PodGroups have joined kueue and podGroups.
    _manifests_merged: bool = PrivateAttr(default=False)

    def has_controllers(self) -> bool:
        """Whether the run needs the workload controllers (manifest workloads, or a
        SimKube trace replayed through them)."""
        return any(w.manifest is not None or (w.trace is not None and w.trace.args.get("replay") == "controllers")
                   for w in self.workloads)

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
    def _autoscaling_runs(self) -> Scenario:
        if self.autoscaling is not None and self.autoscaling.runs_pods() and self.duration_s is None:
            raise ValueError(located("duration_s", "load, usage models and HPAs keep running: set duration_s"))
        return self

    def _check_pod_groups(self, manifest_pods: dict[str, int | None] | None = None) -> None:
        """PodGroups are unique; each has at least ``minMember`` pods that can join it
        (the workloads carrying its label, where their pod count is known).
        ``manifest_pods``: by ``namespace/name``, the pods of manifest objects labelled
        for the group (None: not fixed)."""
        keys = [f"{g.namespace}/{g.name}" for g in self.pod_groups]
        dup = sorted({k for k in keys if keys.count(k) > 1})
        if dup:
            raise ValueError(located("podGroups", f"PodGroup names must be unique per namespace, repeated: {dup}"))
        for i, g in enumerate(self.pod_groups):
            counts = []
            for w in self.workloads:
                if w.manifest is not None or w.trace is not None or w.jobs is not None:
                    continue
                t = w.template
                if t.labels.get(POD_GROUP_LABEL) != g.name or t.namespace != g.namespace:
                    continue
                counts.append(_known_pods(w))
            if manifest_pods and manifest_pods.get(f"{g.namespace}/{g.name}", 0) != 0:
                counts.append(manifest_pods[f"{g.namespace}/{g.name}"])
            if counts and None not in counts and sum(counts) < g.min_member:  # type: ignore[arg-type]
                raise ValueError(located(f"podGroups[{i}].minMember", (
                    f"{g.min_member} exceeds the {sum(counts)} pod(s) of the workloads labelled "  # type: ignore[arg-type]
                    f"{POD_GROUP_LABEL}: {g.name}: the group could never be scheduled")))
        for i, w in enumerate(self.workloads):
            if w.manifest is not None or w.trace is not None:
                continue
            label = w.template.labels.get(POD_GROUP_LABEL)
            if label is not None and w.jobs is not None and w.jobs.gang is not None:
                raise ValueError(located(f"workloads[{i}].template.labels",
                                         "a gang job trace makes a PodGroup per job: drop the pod-group label"))
            if label is None:
                continue
            if w.gang is not None:
                raise ValueError(located(f"workloads[{i}].template.labels",
                                         "a gang workload makes a PodGroup per job: drop the pod-group label"))
            if f"{w.template.namespace}/{label}" not in keys and not self._manifest_objects_pending():
                raise ValueError(located(f"workloads[{i}].template.labels", (
                    f"{POD_GROUP_LABEL}: {label} names no PodGroup of namespace {w.template.namespace!r} "
                    f"(podGroups: {sorted(keys) or 'none'})")))

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        self._check_node_autoscalers()
        names = [w.name for w in self.workloads]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(located("workloads", f"workload names must be unique, repeated: {dup}"))
        inflation = [w.name for w in self.workloads if w.trace is not None and w.trace.mode == "inflation"]
        if inflation and len(self.workloads) > 1:
            raise ValueError(located(
                f"workloads[{names.index(inflation[0])}].trace.mode",
                f"workload {inflation[0]!r} replays a trace in inflation mode, which drops unschedulable "
                "pods and never retries: it must be the scenario's only workload",
            ))
        if self.duration_s is None:
            for i, w in enumerate(self.workloads):
                if w.manifest is not None or (w.trace is not None and w.trace.args.get("replay") == "controllers"):
                    raise ValueError(located(
                        f"workloads[{i}]",
                        f"workload {w.name!r} is run by controllers, which keep its pods running: set duration_s",
                    ))
                a = w.arrival
                unbounded = isinstance(a, (PoissonArrivals, IntervalArrivals)) and (
                    a.stop_s is None and w.max_pods is None
                )
                if unbounded:
                    raise ValueError(located(
                        f"workloads[{i}].arrival",
                        f"workload {w.name!r} never stops arriving: set duration_s, "
                        "or give it max_pods or arrival.stop_s",
                    ))
                ends = (w.duration is not None or w.trace is not None or w.jobs is not None
                        or (w.gang is not None and w.gang.training is not None))
                forever = _never_ends(w.template, ends, self.images is not None)
                if forever:
                    raise ValueError(located(
                        f"workloads[{i}]", f"the pods of workload {w.name!r} never end ({forever}): set duration_s"
                    ))
        for i, w in enumerate(self.workloads):
            expected = _expected_pods(w, self.duration_s)
            if expected > MAX_PODS:
                raise ValueError(located(
                    f"workloads[{i}].arrival",
                    f"workload {w.name!r} would create about {expected:,.3g} pods (arrival rate x time window); "
                    f"at most {MAX_PODS:,} pods per workload: lower the rate, shorten the window "
                    "(duration_s, arrival.stop_s) or set max_pods",
                ))
        if self.duration_s is None:
            for i, f in enumerate(self.failures):
                if isinstance(f, (NodeFailures, ZoneOutages, SpotInterruptions)) and f.stop_s is None:
                    raise ValueError(f"failures[{i}] ({f.kind}) goes on for ever: set duration_s, or give it stop_s")
        for i, act in enumerate(self.actions):
            if act.at_s is None:
                raise ValueError(f"actions[{i}] ({act.kind}) needs at_s, the time it happens")
        names = [f.name for f in self.failures if f.name is not None]
        if len(set(names)) != len(names):
            raise ValueError(f"failure names must be unique, repeated: {sorted({n for n in names if names.count(n) > 1})}")
        self._check_pod_groups()
        if self.duration_s is not None and self.warmup_s >= self.duration_s:
            raise ValueError(located("warmup_s", "warmup_s must be shorter than duration_s"))
        classes = {pc.name for pc in self.priority_classes}
        if len(classes) != len(self.priority_classes):
            raise ValueError(located("priorityClasses", "priorityClasses must have distinct names"))
        if sum(pc.global_default for pc in self.priority_classes) > 1:
            raise ValueError(located("priorityClasses", "at most one priority class may be globalDefault"))
        for i, w in enumerate(self.workloads):
            pcn = w.template.priority_class_name
            if pcn is not None and pcn not in classes:
                raise ValueError(located(
                    f"workloads[{i}].template.priorityClassName",
                    f"workload {w.name!r}: priorityClassName {pcn!r} is not among priorityClasses "
                    f"{sorted(classes)}",
                ))
        self._check_runtime_classes()
        self._check_storage()
        self._check_queues()
        return self

    def has_node_autoscaler(self) -> bool:
        """Whether a Cluster Autoscaler or Karpenter-style provisioning adds nodes."""
        a = self.autoscaling
        return a is not None and (a.cluster_autoscaler is not None or a.karpenter is not None)

    def _check_node_autoscalers(self) -> None:
        c = self.cluster
        if not c.node_pools and not c.nodes and not c.trace_nodes and not self.has_node_autoscaler():
            raise ValueError(located("cluster", "the cluster needs at least one node (node_pools, nodes or "
                                     "trace_nodes), or a node autoscaler (autoscaling.cluster_autoscaler, "
                                     "autoscaling.karpenter)"))
        if not self.has_node_autoscaler():
            return
        a = self.autoscaling
        assert a is not None
        which = "cluster_autoscaler" if a.cluster_autoscaler is not None else "karpenter"
        if self.duration_s is None:
            raise ValueError(located(f"autoscaling.{which}", "a node autoscaler runs for ever: set duration_s"))
        taken = {p.name for p in c.node_pools} | {t.name for t in c.trace_nodes}
        named = [("cluster_autoscaler.node_groups", g.name) for g in
                 (a.cluster_autoscaler.node_groups if a.cluster_autoscaler is not None else [])]
        named += [("karpenter.node_pools", p.name) for p in (a.karpenter.node_pools if a.karpenter is not None else [])]
        for where, name in named:
            if name in taken:
                raise ValueError(located(f"autoscaling.{where}", f"{name!r} also names a cluster node pool"))
    def _manifest_objects_pending(self) -> bool:
        """Whether manifest workloads may still add Kueue objects and PodGroups: then
        references to them are checked once the manifests are read
        (:func:`k8sim.workloads.kueue_manifests.with_manifest_batch`)."""
        return any(w.manifest is not None for w in self.workloads) and not self._manifests_merged

    def _check_queues(self) -> None:
        """A workload's ``queue`` names a LocalQueue of its namespace."""
        pending = self._manifest_objects_pending()
        if self.kueue is not None and not pending:
            for what, items in (("clusterQueues", self.kueue.cluster_queues), ("localQueues", self.kueue.local_queues)):
                if not items:
                    raise ValueError(located(f"kueue.{what}", (
                        f"at least one is needed: list them here, or give {what[0].upper()}{what[1:-1]} objects "
                        "(kueue.x-k8s.io/v1beta1) in a manifest workload")))
        for i, w in enumerate(self.workloads):
            if w.jobs is not None and w.jobs.queues is not None:
                for path, name in w.jobs.queues.queue_names():
                    where = f"workloads[{i}].jobs.queues.{path}"
                    if self.kueue is None:
                        raise ValueError(located(where, "names a LocalQueue but the scenario has no kueue section"))
                    if self.kueue.local_queue(w.template.namespace, name) is None:
                        known = sorted(f"{q.namespace}/{q.name}" for q in self.kueue.local_queues)
                        raise ValueError(located(where, (
                            f"LocalQueue {name!r} not found in namespace {w.template.namespace!r} "
                            f"(kueue.localQueues: {known})")))
            if w.queue is None:
                continue
            if pending and (self.kueue is None or self.kueue.local_queue(w.template.namespace, w.queue) is None):
                continue  # may be a manifest's LocalQueue
            if self.kueue is None:
                raise ValueError(located(f"workloads[{i}].queue", "names a LocalQueue but the scenario has no "
                                         "kueue section"))
            if self.kueue.local_queue(w.template.namespace, w.queue) is None:
                known = sorted(f"{q.namespace}/{q.name}" for q in self.kueue.local_queues)
                raise ValueError(located(f"workloads[{i}].queue", (
                    f"LocalQueue {w.queue!r} not found in namespace {w.template.namespace!r} "
                    f"(kueue.localQueues: {known})")))

    def _check_storage(self) -> None:
        """Names resolve, a pre-bound volume is big enough, a class can give the access
        modes its claims ask for (:func:`k8sim.config.storage.storage_problems`)."""
        sections = {"StorageClass": "storageClasses", "PersistentVolume": "persistentVolumes",
                    "PersistentVolumeClaim": "persistentVolumeClaims"}
        problems = storage_problems(self.storage_classes, self.persistent_volumes, self.persistent_volume_claims,
                                    lambda kind, i, f: f"{sections[kind]}[{i}].{f}")
        if problems:
            path, msg = problems[0]
            raise ValueError(f"{path}: {msg}")
        claims = {(c.namespace, c.name) for c in self.persistent_volume_claims}
        for i, w in enumerate(self.workloads):
            for j, vol in enumerate(w.template.volumes):
                name = vol.persistent_volume_claim.claim_name
                if (w.template.namespace, name) not in claims:
                    raise ValueError(f"workloads[{i}].template.volumes[{j}].persistentVolumeClaim.claimName: "
                                     f"PersistentVolumeClaim {w.template.namespace}/{name} not found")

    def _check_runtime_classes(self) -> None:
        """The RuntimeClass admission plugin's rejections, at validation (upstream
        ``plugin/pkg/admission/runtimeclass/admission.go``: ``prepareObjects``,
        ``setOverhead`` / ``validateOverhead``, ``setScheduling``)."""
        names = [rc.name for rc in self.runtime_classes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"runtimeClasses must have distinct names, repeated: {dup}")
        by_name = {rc.name: rc for rc in self.runtime_classes}
        for i, w in enumerate(self.workloads):
            t = w.template
            if t.runtime_class_name is None:
                continue
            rejected = admission_rejections(t.overhead, t.node_selector, t.runtime_class_name, by_name)
            if rejected:
                field, msg = rejected[0]
                raise ValueError(f"workloads[{i}].template.{field}: {msg}")

    def runtime_class(self, template: PodTemplate) -> RuntimeClass | None:
        """The RuntimeClass a pod of ``template`` names (None: the node's default handler)."""
        if template.runtime_class_name is None:
            return None
        for rc in self.runtime_classes:
            if rc.name == template.runtime_class_name:
                return rc
        raise KeyError(template.runtime_class_name)  # validation rejects this

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
