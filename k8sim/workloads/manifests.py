"""Kubernetes manifests as workload input: ``workloads: [{manifest: app.yaml}]``.

:func:`load_manifests` reads a YAML file (one or more ``---``-separated documents), or
every ``*.yaml`` / ``*.yml`` / ``*.json`` file of a directory in name order, and
``kubectl get ... -o yaml`` Lists (``kind: List`` or ``<Kind>List`` with ``items``).
Each object is handed to the handler registered for its ``apiVersion`` and ``kind``
(:func:`register_kind`); built in:

- ``apps/v1`` Deployment, ReplicaSet, StatefulSet, DaemonSet -> a :class:`AppObject`
  run by the matching controller (:mod:`k8sim.controllers`);
- ``v1`` Pod -> a bare pod (:class:`AppObject` of kind Pod, no controller), created at
  time 0 (bound at once to ``spec.nodeName`` when set, as an initial pod);
- ``v1`` Namespace -> a known namespace; ``scheduling.k8s.io/v1`` PriorityClass -> a
  priority class (resolves ``priorityClassName``, with the scenario's own classes);
- ``v1`` Node -> a node joining at time 0.

- ``batch/v1`` Job and CronJob -> run by the Job and CronJob controllers
  (:mod:`k8sim.workloads.batch_manifests`); ``policy/v1`` PodDisruptionBudget -> a
  budget the Eviction API respects (:mod:`k8sim.workloads.policy_manifests`).

- ``v1`` ResourceQuota and LimitRange -> admission of the pods of their namespace
  (:mod:`k8sim.controllers.quota`, :mod:`k8sim.controllers.limitranger`).

- ``node.k8s.io/v1`` RuntimeClass -> a class pods name in ``runtimeClassName``
  (:mod:`k8sim.workloads.runtimeclass_manifests`); ``storage.k8s.io/v1`` StorageClass,
  ``v1`` PersistentVolume and PersistentVolumeClaim (:mod:`k8sim.workloads.storage_manifests`).

- ``autoscaling/v2`` HorizontalPodAutoscaler -> an HPA of the run, beside the scenario's
  ``autoscaling.horizontal_pod_autoscalers`` (:mod:`k8sim.workloads.hpa_manifests`).

- ``kueue.x-k8s.io/v1beta1`` ResourceFlavor, ClusterQueue, LocalQueue,
  WorkloadPriorityClass, Cohort -> entries of the scenario's ``kueue`` section;
  ``scheduling.x-k8s.io/v1alpha1`` PodGroup -> a ``podGroups`` entry
  (:mod:`k8sim.workloads.kueue_manifests`); a Job labelled ``kueue.x-k8s.io/queue-name``
  is admitted by its queue (:mod:`k8sim.batch.kueue_jobs`).

Kinds that k8sim will model but does not yet (``v1`` ReplicationController) are errors:
running without them would be silently wrong.
Kinds with no effect on scheduling (Service, ConfigMap, Secret, ServiceAccount, RBAC,
Ingress, NetworkPolicy, ...) are skipped with one warning per kind. Any other kind is an
error listing the supported ones.

The pod spec of a template is read as the API server would store it: a container's
``resources.requests`` default to its ``limits`` (upstream ``SetDefaults_Pod``,
``pkg/apis/core/v1/defaults.go``); containers, init containers (sidecars), pod-level
``resources`` and ``overhead`` are read by the kubectl-objects loader's functions
(:mod:`k8sim.workloads.kube_objects`) into a per-container template, whose requests
k8sim combines as upstream ``resource.PodRequests`` and scores with upstream's
per-container non-zero defaults; the pod's namespace is kept. Scheduling fields
(``nodeSelector``, ``tolerations``, ``affinity``, ``topologySpreadConstraints``, host
ports, ``schedulerName``, ``priority`` / ``priorityClassName``,
``terminationGracePeriodSeconds``, ``nodeName``, ``runtimeClassName``) and each
container's ``image`` and ``imagePullPolicy`` become a
:class:`~k8sim.config.pods.PodTemplate`.

Fields k8sim does not model are warned about once per field name (``spec.template.spec.
containers[*].livenessProbe: ...``), never silently dropped; server-written fields
(``status``, ``metadata.uid``, ``resourceVersion``, ``managedFields``, ...) are ignored
without a warning. Simulation-only knobs come from annotations on the object or its pod
template (the pod template's win): ``k8sim.io/duration`` (pod run time, default for
ever), ``k8sim.io/start-latency`` (bind -> Running), ``k8sim.io/readiness-delay``
(Running -> Ready) and ``k8sim.io/sandbox-latency``, each a number of seconds or a k8sim
distribution as YAML (``"{kind: exponential, mean: 300}"``); ``k8sim.io/crash`` (a crash
model as YAML: ``"{rate_per_s: 0.001}"``, ``"{probability: 0.2, after: 60}"``) and
``k8sim.io/exit-code`` (the crash's exit code, or codes with weights ``"{1: 0.9, 42:
0.1}"``). The runtime knobs (all but duration and start latency) override the workload
entry's template for that object's pods (:attr:`AppObject.runtime`).

Errors (unsupported kinds, invalid label selectors, a selector that does not match the
template's labels, bad quantities, ...) are collected and raised together as one
:class:`~k8sim.config.loader.ScenarioError` naming the file, the document index and the
field path (``app.yaml: document[2].spec.selector: ...``).
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from k8sim.config.distributions import Distribution
from k8sim.config.k8s_types import (
    Affinity,
    ContainerPort,
    LabelSelector,
    PriorityClass,
    TopologySpreadConstraint,
)
from k8sim.config.loader import ScenarioError, format_loc
from k8sim.config.objects import ObjectReader
from k8sim.config.pods import CrashModel, PodTemplate, Toleration
from k8sim.config.scenario import DEFAULT_SCHEDULER, Taint
from k8sim.workloads.kube_objects import exact_quantities, pod_level_requests, read_containers

__all__ = [
    "AppObject",
    "ManifestNode",
    "ManifestSet",
    "load_manifests",
    "parse_object",
    "register_kind",
]

#: Kinds whose controllers k8sim runs (``apps/v1``), plus bare pods.
APP_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Pod")
#: Kinds k8sim plans to model and does not yet: an error (a run without them is wrong).
NOT_YET = {
    "ReplicationController": "v1 ReplicationController",
}
#: Kinds with no effect on where or when pods run: skipped with a warning.
INERT_KINDS = frozenset({
    "Service", "ConfigMap", "Secret", "ServiceAccount", "Role", "RoleBinding", "ClusterRole",
    "ClusterRoleBinding", "Ingress", "IngressClass", "NetworkPolicy", "Endpoints", "EndpointSlice",
    "CustomResourceDefinition", "Event", "ControllerRevision", "Lease",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "APIService",
})
#: Annotation prefix of k8sim's simulation knobs.
KNOB_PREFIX = "k8sim.io/"
KNOBS = ("duration", "start-latency", "readiness-delay", "sandbox-latency", "crash", "exit-code")
#: Annotation knobs that are pod template fields of the runtime model (annotation -> field).
RUNTIME_KNOBS = {"readiness-delay": "readiness_delay", "sandbox-latency": "sandbox_latency", "crash": "crash",
                 "exit-code": "exit_code"}

# Fields written by the API server (observed state, bookkeeping): ignored silently.
_SERVER_FIELDS = frozenset({
    "status", "metadata.uid", "metadata.resourceVersion", "metadata.generation", "metadata.creationTimestamp",
    "metadata.managedFields", "metadata.selfLink", "metadata.ownerReferences", "metadata.finalizers",
    "metadata.deletionTimestamp", "metadata.deletionGracePeriodSeconds", "metadata.generateName",
    "spec.template.metadata.creationTimestamp", "metadata.annotations",
    "spec.template.metadata.annotations", "spec.template.metadata.name", "spec.template.metadata.namespace",
})

#: Modelled pod-spec fields (under a pod template's or a Pod's ``spec``); kinds with a pod
#: template registered elsewhere build their field lists from it.
POD_SPEC_FIELDS: frozenset[str] = frozenset({
    "nodeSelector", "tolerations", "affinity", "topologySpreadConstraints", "schedulerName", "priority",
    "priorityClassName", "terminationGracePeriodSeconds", "nodeName", "overhead", "resources", "restartPolicy",
    "containers[*].name", "containers[*].image", "containers[*].imagePullPolicy", "containers[*].resources.requests",
    "containers[*].resources.limits", "containers[*].ports",
    "initContainers[*].name", "initContainers[*].image", "initContainers[*].imagePullPolicy",
    "initContainers[*].resources.requests", "initContainers[*].resources.limits", "initContainers[*].restartPolicy",
    "initContainers[*].ports", "volumes[*].name", "volumes[*].persistentVolumeClaim",
    "containers[*].volumeMounts", "initContainers[*].volumeMounts", "runtimeClassName",
})
_TEMPLATE = frozenset({"spec.template.metadata.labels"} | {f"spec.template.spec.{f}" for f in POD_SPEC_FIELDS})
_COMMON = frozenset({"apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.labels"})
#: Modelled field paths by kind: any other field of an object is warned about once per
#: name. A module that registers a kind (:func:`register_kind`) adds its kind's entry.
MODELLED_FIELDS: dict[str, frozenset[str]] = {
    "Deployment": _COMMON | _TEMPLATE | {
        "spec.replicas", "spec.selector", "spec.strategy.type", "spec.strategy.rollingUpdate.maxSurge",
        "spec.strategy.rollingUpdate.maxUnavailable", "spec.minReadySeconds", "spec.revisionHistoryLimit",
        "spec.progressDeadlineSeconds", "spec.paused"},
    "ReplicaSet": _COMMON | _TEMPLATE | {"spec.replicas", "spec.selector", "spec.minReadySeconds"},
    "StatefulSet": _COMMON | _TEMPLATE | {
        "spec.replicas", "spec.selector", "spec.podManagementPolicy", "spec.updateStrategy.type",
        "spec.updateStrategy.rollingUpdate.partition", "spec.minReadySeconds", "spec.revisionHistoryLimit",
        "spec.serviceName", "spec.persistentVolumeClaimRetentionPolicy.whenDeleted",
        "spec.persistentVolumeClaimRetentionPolicy.whenScaled", "spec.volumeClaimTemplates[*].metadata.name",
        "spec.volumeClaimTemplates[*].metadata.labels", "spec.volumeClaimTemplates[*].spec.storageClassName",
        "spec.volumeClaimTemplates[*].spec.accessModes", "spec.volumeClaimTemplates[*].spec.resources.requests",
        "spec.volumeClaimTemplates[*].apiVersion", "spec.volumeClaimTemplates[*].kind"},
    "DaemonSet": _COMMON | _TEMPLATE | {
        "spec.selector", "spec.updateStrategy.type", "spec.updateStrategy.rollingUpdate.maxUnavailable",
        "spec.minReadySeconds", "spec.revisionHistoryLimit"},
    "Pod": _COMMON | {f"spec.{f}" for f in POD_SPEC_FIELDS},
    "Namespace": _COMMON,
    "PriorityClass": _COMMON | {"value", "globalDefault", "preemptionPolicy", "description"},
    "Node": _COMMON | {"spec.taints", "spec.unschedulable", "status.allocatable", "status.capacity"},
}
_LEAF_OBJECTS = ("spec.selector", "spec.limits", "spec.hard", "resources.requests", "resources.limits", "nodeSelector", "tolerations",
                 "affinity", "topologySpreadConstraints", "overhead", "ports", "metadata.labels", "spec.taints",
                 "status.allocatable", "status.capacity", "spec.template.spec.resources", "spec.resources")

#: libyaml's safe loader when PyYAML was built with it (an order of magnitude faster).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOLERATIONS = TypeAdapter(list[Toleration])
_AFFINITY = TypeAdapter(Affinity)
_SPREAD = TypeAdapter(list[TopologySpreadConstraint])
_PORTS = TypeAdapter(list[ContainerPort])
_TAINTS = TypeAdapter(list[Taint])
#: Validates an object's ``spec.selector`` (a label selector).
LABEL_SELECTOR = TypeAdapter(LabelSelector)
_PRIORITY_CLASS = TypeAdapter(PriorityClass)
_DISTRIBUTION: TypeAdapter[Any] = TypeAdapter(Distribution)


@dataclass
class AppObject:
    """One workload object of a manifest (or a SimKube trace), as k8sim runs it.

    ``template`` is the pod template in k8sim's schema with ``priority`` resolved
    (``priority_class`` names the class it came from, for its preemption policy);
    ``pod_labels`` are the template's labels. Fields that do not apply to ``kind`` keep
    their defaults (upstream's defaults, ``pkg/apis/apps/v1/defaults.go``).
    """

    kind: str
    name: str
    namespace: str
    where: str  # "file: document[i]" for messages
    template: PodTemplate
    selector: LabelSelector | None = None
    replicas: int = 1
    min_ready_s: float = 0.0
    strategy: str = "RollingUpdate"  # Deployment: RollingUpdate / Recreate; STS, DS: RollingUpdate / OnDelete
    max_surge: int | str = "25%"  # Deployment (DaemonSet: 0)
    max_unavailable: int | str = "25%"  # Deployment (DaemonSet: 1)
    revision_history_limit: int = 10
    progress_deadline_s: float = 600.0
    paused: bool = False
    pod_management: str = "OrderedReady"  # StatefulSet
    partition: int = 0  # StatefulSet
    priority_class: str | None = None
    preemption_policy: str = "PreemptLowerPriority"  # of its PriorityClass
    duration: Any = None  # Distribution of the pods' run time (None: for ever)
    start_latency: Any = None  # Distribution bind -> Running (None: the scenario entry's)
    batch: Any = None  # Job, CronJob, PodDisruptionBudget: the kind's spec (batch_manifests, policy_manifests)
    #: Runtime-model knobs of this object's pods from its annotations (template field ->
    #: value: readiness_delay, sandbox_latency, crash, exit_code); they override the
    #: workload entry's template.
    runtime: dict[str, Any] = field(default_factory=dict)
    #: StatefulSet ``volumeClaimTemplates`` (claims named after the template: ``data``)
    #: and ``persistentVolumeClaimRetentionPolicy`` (whenDeleted, whenScaled).
    claim_templates: list[Any] = field(default_factory=list)
    claim_retention: tuple[str, str] = ("Retain", "Retain")

    @property
    def key(self) -> str:
        """``namespace/name`` (upstream's object key)."""
        return f"{self.namespace}/{self.name}"

    @property
    def display(self) -> str:
        """The name pods and frames show: ``name`` in ``default``, else ``namespace/name``."""
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"


@dataclass
class ManifestNode:
    name: str
    allocatable: dict[str, Fraction]  # exact quantities
    labels: dict[str, str]
    taints: list[Taint]
    unschedulable: bool


@dataclass
class ManifestSet:
    """What a manifest entry holds, in document order."""

    source: str
    objects: list[AppObject] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)
    namespace_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # of the Namespace objects
    priority_classes: list[PriorityClass] = field(default_factory=list)
    nodes: list[ManifestNode] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: StorageClass, PersistentVolume and PersistentVolumeClaim objects
    #: (:mod:`k8sim.workloads.storage_manifests`): (kind, object, "file: document[i]").
    storage: list[tuple[str, Any, str]] = field(default_factory=list)
    #: RuntimeClass objects (:mod:`k8sim.workloads.runtimeclass_manifests`): (object,
    #: "file: document[i]").
    runtime_classes: list[tuple[Any, str]] = field(default_factory=list)
    #: HorizontalPodAutoscaler objects (:mod:`k8sim.workloads.hpa_manifests`): (object,
    #: "file: document[i]").
    hpas: list[tuple[Any, str]] = field(default_factory=list)
    #: Kueue objects (``kueue.x-k8s.io/v1beta1``, :mod:`k8sim.workloads.kueue_manifests`):
    #: :class:`~k8sim.workloads.kueue_manifests.KueueObject` (kind, the object as an
    #: entry of the scenario's ``kueue`` section, "file: document[i]").
    kueue: list[Any] = field(default_factory=list)
    #: PodGroup objects (``scheduling.x-k8s.io/v1alpha1``): (the group as a
    #: :class:`~k8sim.config.batch.PodGroupSpec`, "file: document[i]").
    pod_groups: list[tuple[Any, str]] = field(default_factory=list)


class _Doc:
    """One object being read: where it is and the reader collecting problems."""

    def __init__(self, r: ObjectReader, path: str, obj: dict[str, Any], base_dir: Path):
        self.r = r
        self.path = path  # "document[3]" or "document[0].items[2]"
        self.obj = obj
        self.base_dir = base_dir

    def at(self, sub: str) -> str:
        return f"{self.path}.{sub}" if sub else self.path


Handler = Callable[[_Doc, ManifestSet, dict[str, int]], None]
_HANDLERS: dict[tuple[str, str], Handler] = {}


def register_kind(api_version: str, kind: str, handler: Handler) -> None:
    """Read objects of ``apiVersion``/``kind`` with ``handler(doc, into, priorities)``,
    which adds what it read to ``into`` (a :class:`ManifestSet`) and reports problems
    through ``doc.r`` at ``doc.at(field)``. A kind registered twice is an error."""
    if (api_version, kind) in _HANDLERS:
        raise ValueError(f"a handler for {api_version} {kind} is already registered")
    _HANDLERS[(api_version, kind)] = handler


# ------------------------------------------------------------------------------ reading


def _documents(path: Path, r: ObjectReader) -> list[tuple[str, Any]]:
    """(label, parsed document) of a file or of every manifest file of a directory."""
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir() if p.suffix.lower() in (".yaml", ".yml", ".json") and p.is_file()
    )
    if not files:
        r.problem("", f"no manifest files (*.yaml, *.yml, *.json) in directory {path}")
    out: list[tuple[str, Any]] = []
    multi = len(files) > 1 or path.is_dir()
    for f in files:
        try:
            text = f.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            r.problem(f.name if multi else "", f"cannot read: {e}")
            continue
        try:
            docs = list(yaml.load_all(text, Loader=_LOADER))  # noqa: S506 - a safe loader
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
            r.problem(f.name if multi else "", f"YAML syntax error at {where}: {e.problem}")
            continue
        i = 0
        for d in docs:
            if d is None:  # an empty document (a trailing ---)
                continue
            out.append((f"{f.name}: document[{i}]" if multi else f"document[{i}]", d))
            i += 1
    return out


def load_manifests(path: str | Path, scenario_classes: list[PriorityClass] | tuple = (),
                   defaults_scheduler: str = DEFAULT_SCHEDULER) -> ManifestSet:
    """Read a manifest file or directory (see the module docstring).

    ``scenario_classes`` are the scenario's PriorityClasses, known besides the
    manifest's own. Raises :class:`ScenarioError` naming the file, document and field.
    """
    p = Path(path)
    source = str(p)
    r = ObjectReader(source)
    out = ManifestSet(source)
    if not p.exists():
        raise ScenarioError(source, [("", "manifest not found")])
    docs = _documents(p, r)
    objects: list[_Doc] = []
    for label, d in docs:
        if not isinstance(d, dict):
            r.problem(label, f"expected a Kubernetes object (a mapping), got {type(d).__name__}")
            continue
        kind = d.get("kind")
        if isinstance(kind, str) and (kind == "List" or kind.endswith("List")) and "items" in d:
            for j, item in enumerate(r.sequence_or_empty(d.get("items"), f"{label}.items")):
                if not isinstance(item, dict):
                    r.problem(f"{label}.items[{j}]", "expected a Kubernetes object (a mapping)")
                    continue
                if "kind" not in item and kind != "List":
                    item = {**item, "kind": kind[: -len("List")]}
                objects.append(_Doc(r, f"{label}.items[{j}]", item, p.parent if p.is_file() else p))
        else:
            objects.append(_Doc(r, label, d, p.parent if p.is_file() else p))
    # PriorityClasses first: pods of any document may name them.
    for doc in objects:
        if doc.obj.get("kind") == "PriorityClass":
            _dispatch(doc, out, {})
    classes = {pc.name: pc for pc in (*scenario_classes, *out.priority_classes)}
    priorities = {name: pc.value for name, pc in classes.items()}
    default = [pc for pc in classes.values() if pc.global_default]
    if default:
        priorities[""] = default[0].value
    for doc in objects:
        if doc.obj.get("kind") != "PriorityClass":
            _dispatch(doc, out, priorities)
    for o in out.objects:
        if o.priority_class is not None:
            cls = classes.get(o.priority_class) if o.priority_class else (default[0] if default else None)
            if cls is not None:
                o.preemption_policy = cls.preemption_policy
    _check_names(r, out)
    r.flush()
    r.raise_problems()
    known = set(out.namespaces) | {"default", "kube-system", "kube-public", "kube-node-lease"}
    missing = sorted({o.namespace for o in out.objects} - known)
    if out.namespaces and missing:
        r.warn("metadata.namespace", f"namespace(s) {missing} used but not among the file's Namespace objects")
    out.warnings.extend(r.warnings)
    return out


def _dispatch(doc: _Doc, out: ManifestSet, priorities: dict[str, int]) -> None:
    r, obj = doc.r, doc.obj
    api, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(kind, str) or not kind:
        r.problem(doc.at("kind"), "required: the object's kind")
        return
    if not isinstance(api, str) or not api:
        r.problem(doc.at("apiVersion"), "required: the object's apiVersion")
        return
    handler = _HANDLERS.get((api, kind))
    if handler is not None:
        _warn_unmodelled(doc, kind)
        handler(doc, out, priorities)
        return
    if kind in NOT_YET:
        r.problem(doc.at("kind"), f"{NOT_YET[kind]} is not supported yet (k8sim cannot run it faithfully); "
                                  "remove the object to run without it")
    elif kind in INERT_KINDS:
        r.group(f"object(s) of kind {kind} skipped (no effect on scheduling)", f"{doc.path} {_name(obj)}")
    elif any(k == kind for _, k in _HANDLERS):
        versions = sorted(a for a, k in _HANDLERS if k == kind)
        r.problem(doc.at("apiVersion"), f"{kind} is read as apiVersion {', '.join(versions)}, got {api!r}")
    else:
        supported = ", ".join(f"{a} {k}" for a, k in sorted(_HANDLERS, key=lambda ak: ak[1]))
        r.problem(doc.at("kind"), f"unsupported kind {api} {kind}; k8sim reads {supported}")


def _name(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    return str(meta.get("name", "?"))  # type: ignore[union-attr]


def _check_names(r: ObjectReader, out: ManifestSet) -> None:
    seen: dict[tuple[str, str], str] = {}
    for o in out.objects:
        k = (o.kind, o.key)
        if k in seen:
            r.problem(o.where.split(": ", 1)[-1], f"{o.kind} {o.key} is defined twice (also {seen[k]})")
        seen[k] = o.where


# ---------------------------------------------------------------------- unmodelled fields


def _walk(value: Any, prefix: str, out: list[str]) -> None:
    """Leaf field paths of ``value`` (lists as ``[*]``); mappings under known leaf
    objects (labels, selectors, resources, ...) are not entered."""
    if isinstance(value, dict) and value and not any(prefix == x or prefix.endswith("." + x) for x in _LEAF_OBJECTS):
        for k, v in value.items():
            _walk(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value) and not any(
            prefix.endswith(x) for x in _LEAF_OBJECTS):
        for v in value:
            _walk(v, f"{prefix}[*]", out)
    else:
        out.append(prefix)


def _warn_unmodelled(doc: _Doc, kind: str) -> None:
    modelled = MODELLED_FIELDS.get(kind)
    if modelled is None:
        return
    leaves: list[str] = []
    _walk(doc.obj, "", leaves)
    reported: set[str] = set()
    for leaf in dict.fromkeys(leaves):
        field = _unmodelled(kind, leaf)
        if field and field not in reported:
            reported.add(field)
            doc.r.group(f"{kind} field {field} is not modelled by k8sim (ignored) in", doc.path)


@functools.lru_cache(maxsize=4096)
def _unmodelled(kind: str, leaf: str) -> str:
    """The shortest unmodelled prefix of field path ``leaf`` of a ``kind`` object
    (``...containers[*].livenessProbe``), "" if k8sim models or ignores the field."""
    modelled = MODELLED_FIELDS[kind]
    if any(_under(leaf, s) for s in _SERVER_FIELDS) or any(_under(leaf, m) for m in modelled):
        return ""
    for i, ch in enumerate(leaf):
        if ch in ".[" and i:
            prefix = leaf[:i]
            if not any(m == prefix or _under(m, prefix) for m in modelled):
                return prefix
    return leaf


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "[")


# ------------------------------------------------------------------------------ pod specs


def _defaulted_spec(doc: _Doc, spec: dict[str, Any], path: str) -> dict[str, Any]:
    """The spec with each container's missing requests defaulted to its limits
    (upstream ``SetDefaults_Pod``)."""
    spec = copy.deepcopy(spec)
    for key in ("containers", "initContainers"):
        for j, c in enumerate(doc.r.sequence_or_empty(spec.get(key), doc.at(f"{path}.{key}"))):
            if not isinstance(c, dict):
                continue
            res = c.get("resources")
            if not isinstance(res, dict) or not isinstance(res.get("limits"), dict):
                continue
            req = dict(res.get("requests") or {}) if isinstance(res.get("requests"), dict) else {}
            for name, lim in res["limits"].items():
                req.setdefault(name, lim)
            res["requests"] = req
            spec[key][j] = c
    return spec


def _limits(doc: _Doc, spec: dict[str, Any], key: str, j: int, path: str) -> dict[str, Any]:
    """``{"limits": ...}`` of the ``j``-th container of ``spec[key]`` (empty without)."""
    c = (spec.get(key) or [])[j]
    res = c.get("resources") if isinstance(c, dict) else None
    if not isinstance(res, dict) or not isinstance(res.get("limits"), dict):
        return {}
    lim = doc.r.resources(res["limits"], doc.at(f"{path}.{key}[{j}].resources.limits"))
    return {"limits": exact_quantities(lim)} if lim else {}


def _pull_policy(spec: dict[str, Any], key: str, j: int) -> dict[str, Any]:
    """``{"imagePullPolicy": ...}`` of the ``j``-th container of ``spec[key]`` as given
    (validated with the template; absent: upstream's default for the image's tag)."""
    c = (spec.get(key) or [])[j]
    policy = c.get("imagePullPolicy") if isinstance(c, dict) else None
    return {} if policy is None else {"imagePullPolicy": policy}


def _knob(doc: _Doc, annotations: dict[str, Any], name: str, path: str) -> Any:
    raw = annotations.get(KNOB_PREFIX + name)
    if raw is None:
        return None
    try:
        value = yaml.safe_load(raw) if isinstance(raw, str) else raw
    except yaml.YAMLError as e:
        doc.r.problem(doc.at(f"{path}.{KNOB_PREFIX}{name}"), f"not YAML: {e}")
        return None
    if name in ("crash", "exit-code"):
        return _crash_knob(doc, name, value, f"{path}.{KNOB_PREFIX}{name}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            doc.r.problem(doc.at(f"{path}.{KNOB_PREFIX}{name}"), f"must be >= 0 seconds, got {value}")
            return None
        value = {"kind": "constant", "value": float(value)}
    try:
        return _DISTRIBUTION.validate_python(value, context={"base_dir": doc.base_dir})
    except ValidationError as e:
        msg = "; ".join(x["msg"].removeprefix("Value error, ") for x in e.errors(include_url=False))
        doc.r.problem(doc.at(f"{path}.{KNOB_PREFIX}{name}"),
                      f"expected seconds or a k8sim distribution such as '{{kind: exponential, mean: 300}}': {msg}")
        return None


def _crash_knob(doc: _Doc, name: str, value: Any, path: str) -> Any:
    """``k8sim.io/crash`` as a :class:`~k8sim.config.pods.CrashModel`, or
    ``k8sim.io/exit-code`` as its ``exit_code`` (validated the same way)."""
    data = value if name == "crash" else {"probability": 0.0, "exit_code": value}
    if isinstance(data, dict) and isinstance(data.get("after"), (int, float)) and not isinstance(data["after"], bool):
        data = {**data, "after": {"kind": "constant", "value": float(data["after"])}}  # seconds
    try:
        crash = CrashModel.model_validate(data, context={"base_dir": doc.base_dir})
    except ValidationError as e:
        msg = "; ".join(x["msg"].removeprefix("Value error, ") for x in e.errors(include_url=False))
        want = ("a crash model such as '{rate_per_s: 0.001}' or '{probability: 0.2, after: 60}'" if name == "crash"
                else "an exit code in 1..255, or codes with weights such as '{1: 0.9, 42: 0.1}'")
        doc.r.problem(doc.at(path), f"expected {want}: {msg}")
        return None
    return crash if name == "crash" else crash.exit_code


def runtime_knobs(knobs: dict[str, Any]) -> dict[str, Any]:
    """The runtime-model knobs of ``knobs`` (annotation names) as template fields."""
    return {RUNTIME_KNOBS[k]: v for k, v in knobs.items() if k in RUNTIME_KNOBS}


def read_knobs(doc: _Doc, obj_meta: dict[str, Any], tmpl_meta: dict[str, Any] | None, tmpl_path: str) -> dict[str, Any]:
    """The ``k8sim.io/`` knobs (annotation name -> value) of an object's ``obj_meta``
    and its pod template's ``tmpl_meta`` (at ``tmpl_path``; the template's win).
    Unknown knobs and bad values are reported through ``doc.r``."""
    out: dict[str, Any] = {}
    for source, path in ((obj_meta, "metadata.annotations"), (tmpl_meta, f"{tmpl_path}.annotations")):
        if not source:
            continue
        ann = doc.r.mapping_or_empty(source.get("annotations"), doc.at(path))
        for key in ann:
            if str(key).startswith(KNOB_PREFIX) and str(key)[len(KNOB_PREFIX):] not in KNOBS:
                doc.r.problem(doc.at(f"{path}.{key}"), f"unknown k8sim annotation; known: "
                                                      f"{', '.join(KNOB_PREFIX + k for k in KNOBS)}")
        for name in KNOBS:
            v = _knob(doc, ann, name, path)
            if v is not None:
                out[name] = v
    return out


def pod_template(doc: _Doc, spec: Any, labels: dict[str, str], path: str,
                 priorities: dict[str, int], namespace: str = "default") -> tuple[PodTemplate | None, str | None]:
    """A pod spec (at ``path``, e.g. ``spec.template.spec``) as a k8sim PodTemplate with
    its priority resolved; (None, None) after a problem. Also returns the name of the
    PriorityClass that gave the priority."""
    r = doc.r
    if not isinstance(spec, dict):
        r.problem(doc.at(path), "required: a pod spec (a mapping)")
        return None, None
    spec = _defaulted_spec(doc, spec, path)
    containers = r.sequence_or_empty(spec.get("containers"), doc.at(f"{path}.containers"))
    if not containers:
        r.problem(doc.at(f"{path}.containers"), "a pod needs at least one container")
    n_problems = len(r.problems)
    # Containers, overhead and pod-level requests as the kubectl-objects loader reads
    # them (per-container requests, sidecars); its warnings about container fields are
    # left to this module's field report (one warning per field name).
    sub = ObjectReader(r.source)
    main, init = read_containers(sub, spec, doc.at(path))
    pod_level = pod_level_requests(sub, spec, doc.at(path))
    overhead = sub.resources(spec.get("overhead"), doc.at(f"{path}.overhead"))
    r.problems.extend(sub.problems)
    for what, examples in sub._grouped.items():
        if not what.startswith("container field(s)"):
            for e in examples:
                r.group(what, e)
    ports = []
    for j, c in enumerate(containers):
        if not isinstance(c, dict):
            continue
        for k, port in enumerate(r.sequence_or_empty(c.get("ports"), doc.at(f"{path}.containers[{j}].ports"))):
            if isinstance(port, dict) and port.get("hostPort"):
                ports.append({key: v for key, v in port.items() if key != "name"})
            elif not isinstance(port, dict):
                r.problem(doc.at(f"{path}.containers[{j}].ports[{k}]"), "expected a mapping")
    data: dict[str, Any] = {
        "namespace": namespace,
        "labels": dict(labels),
        "nodeSelector": r.strings(spec.get("nodeSelector"), doc.at(f"{path}.nodeSelector")),
        "schedulerName": str(spec.get("schedulerName") or DEFAULT_SCHEDULER),
        "containers": [{"name": c.name, "requests": exact_quantities(c.requests), **({"image": c.image} if c.image else {}),
                        **_pull_policy(spec, "containers", j), **_limits(doc, spec, "containers", j, path)}
                       for j, c in enumerate(main)],
    }
    if init:
        data["initContainers"] = [
            {"name": c.name, "requests": exact_quantities(c.requests), **({"image": c.image} if c.image else {}),
             **({"restartPolicy": "Always"} if c.sidecar else {}), **_pull_policy(spec, "initContainers", j),
             **_limits(doc, spec, "initContainers", j, path)}
            for j, c in enumerate(init)]
    if overhead:
        data["overhead"] = exact_quantities(overhead)
    if pod_level:
        data["resources"] = {"requests": exact_quantities(pod_level)}
    tol = r.lenient(_TOLERATIONS, r.sequence_or_empty(spec.get("tolerations"), doc.at(f"{path}.tolerations")),
                    doc.at(f"{path}.tolerations"))
    if tol:
        data["tolerations"] = tol
    if spec.get("affinity"):
        aff = r.lenient(_AFFINITY, spec["affinity"], doc.at(f"{path}.affinity"))
        if aff is not None:
            data["affinity"] = aff
    spread = r.lenient(_SPREAD, r.sequence_or_empty(spec.get("topologySpreadConstraints"),
                                                    doc.at(f"{path}.topologySpreadConstraints")),
                       doc.at(f"{path}.topologySpreadConstraints"))
    if spread:
        data["topologySpreadConstraints"] = spread
    if ports:
        p = r.lenient(_PORTS, ports, doc.at(f"{path}.containers[*].ports"))
        if p:
            data["ports"] = p
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None:
        if isinstance(grace, bool) or not isinstance(grace, (int, float)) or grace < 0:
            r.problem(doc.at(f"{path}.terminationGracePeriodSeconds"), f"expected seconds >= 0, got {grace!r}")
        else:
            data["terminationGracePeriodSeconds"] = float(grace)
    if spec.get("nodeName"):
        data["nodeName"] = str(spec["nodeName"])
    if spec.get("runtimeClassName") is not None:  # admitted when the run is built (runtimeclass_manifests)
        data["runtimeClassName"] = spec["runtimeClassName"]
    volumes = []
    for j, v in enumerate(r.sequence_or_empty(spec.get("volumes"), doc.at(f"{path}.volumes"))):
        v = r.mapping_or_empty(v, doc.at(f"{path}.volumes[{j}]"))
        if isinstance(v.get("persistentVolumeClaim"), dict):
            volumes.append({"name": v.get("name"), "persistentVolumeClaim": v["persistentVolumeClaim"]})
    if volumes:
        data["volumes"] = volumes
    policy = spec.get("restartPolicy")
    if policy is not None:
        if policy not in ("Always", "OnFailure", "Never"):
            r.problem(doc.at(f"{path}.restartPolicy"), f"expected Always, OnFailure or Never, got {policy!r}")
        else:
            data["restartPolicy"] = policy
    # Priority admission (plugin/pkg/admission/priority): the class's value, else the
    # global default class's, else 0; an explicit spec.priority must agree.
    class_name = spec.get("priorityClassName")
    priority = spec.get("priority")
    used_class: str | None = None
    if class_name:
        if class_name not in priorities:
            r.problem(doc.at(f"{path}.priorityClassName"),
                      f"no PriorityClass named {class_name!r} (known: {sorted(k for k in priorities if k)})")
        else:
            used_class = str(class_name)
            data["priority"] = priorities[class_name]
    elif priority is not None:
        if isinstance(priority, bool) or not isinstance(priority, int):
            r.problem(doc.at(f"{path}.priority"), f"expected an integer, got {priority!r}")
        else:
            data["priority"] = priority
    elif "" in priorities:
        data["priority"] = priorities[""]
        used_class = ""
    if len(r.problems) > n_problems:
        return None, None
    try:
        return PodTemplate.model_validate(data), used_class
    except ValidationError as e:
        for err in e.errors(include_url=False):
            loc = format_loc(err["loc"])
            r.problem(doc.at(f"{path}.{loc}" if loc else path), err["msg"].removeprefix("Value error, "))
        return None, None


# ------------------------------------------------------------------------------ handlers


def object_meta(doc: _Doc) -> tuple[dict[str, Any], str, str] | None:
    """(``metadata``, name, namespace (default ``default``)) of the document's object;
    None after a missing name (reported)."""
    meta = doc.r.mapping_or_empty(doc.obj.get("metadata"), doc.at("metadata"))
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        doc.r.problem(doc.at("metadata.name"), "required: the object's name")
        return None
    ns = meta.get("namespace") or "default"
    return meta, name, str(ns)


def _int_field(doc: _Doc, spec: dict[str, Any], key: str, default: int, lo: int = 0) -> int:
    v = spec.get(key)
    if v is None:
        return default
    got = doc.r.integer(v, doc.at(f"spec.{key}"), lo, 2**31 - 1)
    return default if got is None else got


def _int_or_percent(doc: _Doc, value: Any, path: str, default: int | str) -> int | str:
    """An IntOrString such as ``maxSurge``: a non-negative integer or ``"N%"``."""
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        s = value.strip()
        if s.endswith("%") and s[:-1].isdigit():
            return s
        if s.isdigit():
            return int(s)
    doc.r.problem(doc.at(path), f"expected a non-negative integer or a percentage such as '25%', got {value!r}")
    return default


def _app(doc: _Doc, out: ManifestSet, priorities: dict[str, int]) -> None:
    """Deployment, ReplicaSet, StatefulSet, DaemonSet (``apps/v1``)."""
    r, obj = doc.r, doc.obj
    kind = str(obj["kind"])
    got = object_meta(doc)
    if got is None:
        return
    meta, name, ns = got
    spec = r.mapping_or_empty(obj.get("spec"), doc.at("spec"))
    tmpl = r.mapping_or_empty(spec.get("template"), doc.at("spec.template"))
    if not tmpl:
        r.problem(doc.at("spec.template"), "required: the pod template")
        return
    tmeta = r.mapping_or_empty(tmpl.get("metadata"), doc.at("spec.template.metadata"))
    labels = r.strings(tmeta.get("labels"), doc.at("spec.template.metadata.labels"))
    selector = None
    if "selector" not in spec:
        r.problem(doc.at("spec.selector"), "required in apps/v1: a label selector matching the template's labels")
    else:
        try:
            selector = LABEL_SELECTOR.validate_python(spec["selector"])
        except ValidationError as e:
            for err in e.errors(include_url=False):
                loc = format_loc(err["loc"])
                r.problem(doc.at(f"spec.selector.{loc}" if loc else "spec.selector"),
                          "invalid label selector: " + err["msg"].removeprefix("Value error, "))
        if selector is not None:
            if not selector.match_labels and not selector.match_expressions:
                r.problem(doc.at("spec.selector"), "empty selector: apps/v1 requires a non-empty selector")
                selector = None
            elif not selector.matches(labels):
                r.problem(doc.at("spec.selector"),
                          f"selector does not match the template's labels {labels} "
                          "(spec.template.metadata.labels); upstream rejects this object")
                selector = None
    template, pc = pod_template(doc, tmpl.get("spec"), labels, "spec.template.spec", priorities, ns)
    knobs = read_knobs(doc, meta, tmeta, "spec.template.metadata")
    if template is None or selector is None:
        return
    o = AppObject(kind=kind, name=name, namespace=ns, where=f"{doc.r.source}: {doc.path}", template=template,
                  selector=selector, priority_class=pc, duration=knobs.get("duration"),
                  start_latency=knobs.get("start-latency"), runtime=runtime_knobs(knobs))
    o.min_ready_s = float(_int_field(doc, spec, "minReadySeconds", 0))
    o.revision_history_limit = _int_field(doc, spec, "revisionHistoryLimit", 10)
    if kind != "DaemonSet":
        o.replicas = _int_field(doc, spec, "replicas", 1)
    if kind == "Deployment":
        strat = r.mapping_or_empty(spec.get("strategy"), doc.at("spec.strategy"))
        o.strategy = str(strat.get("type") or "RollingUpdate")
        if o.strategy not in ("RollingUpdate", "Recreate"):
            r.problem(doc.at("spec.strategy.type"), f"expected RollingUpdate or Recreate, got {o.strategy!r}")
        ru = r.mapping_or_empty(strat.get("rollingUpdate"), doc.at("spec.strategy.rollingUpdate"))
        if o.strategy == "Recreate" and ru:
            r.problem(doc.at("spec.strategy.rollingUpdate"), "may not be given when strategy type is Recreate")
        o.max_surge = _int_or_percent(doc, ru.get("maxSurge"), "spec.strategy.rollingUpdate.maxSurge", "25%")
        o.max_unavailable = _int_or_percent(doc, ru.get("maxUnavailable"),
                                            "spec.strategy.rollingUpdate.maxUnavailable", "25%")
        if _is_zero(o.max_surge) and _is_zero(o.max_unavailable) and o.strategy == "RollingUpdate":
            # ValidateRollingUpdateDeployment: both zero is invalid.
            r.problem(doc.at("spec.strategy.rollingUpdate"), "maxUnavailable may not be 0 when maxSurge is 0")
        o.progress_deadline_s = float(_int_field(doc, spec, "progressDeadlineSeconds", 600, lo=1))
        if o.progress_deadline_s <= o.min_ready_s:
            r.problem(doc.at("spec.progressDeadlineSeconds"), "must be greater than minReadySeconds")
        paused = spec.get("paused", False)
        o.paused = bool(paused)
    elif kind == "StatefulSet":
        o.pod_management = str(spec.get("podManagementPolicy") or "OrderedReady")
        if o.pod_management not in ("OrderedReady", "Parallel"):
            r.problem(doc.at("spec.podManagementPolicy"), f"expected OrderedReady or Parallel, got {o.pod_management!r}")
        us = r.mapping_or_empty(spec.get("updateStrategy"), doc.at("spec.updateStrategy"))
        o.strategy = str(us.get("type") or "RollingUpdate")
        if o.strategy not in ("RollingUpdate", "OnDelete"):
            r.problem(doc.at("spec.updateStrategy.type"), f"expected RollingUpdate or OnDelete, got {o.strategy!r}")
        ru = r.mapping_or_empty(us.get("rollingUpdate"), doc.at("spec.updateStrategy.rollingUpdate"))
        part = ru.get("partition", 0)
        got_part = r.integer(part, doc.at("spec.updateStrategy.rollingUpdate.partition"), 0, 2**31 - 1)
        o.partition = got_part or 0
        from k8sim.workloads.storage_manifests import statefulset_claims

        o.claim_templates, o.claim_retention = statefulset_claims(doc, spec, ns)
    elif kind == "DaemonSet":
        us = r.mapping_or_empty(spec.get("updateStrategy"), doc.at("spec.updateStrategy"))
        o.strategy = str(us.get("type") or "RollingUpdate")
        if o.strategy not in ("RollingUpdate", "OnDelete"):
            r.problem(doc.at("spec.updateStrategy.type"), f"expected RollingUpdate or OnDelete, got {o.strategy!r}")
        ru = r.mapping_or_empty(us.get("rollingUpdate"), doc.at("spec.updateStrategy.rollingUpdate"))
        o.max_surge = 0
        o.max_unavailable = _int_or_percent(doc, ru.get("maxUnavailable"),
                                            "spec.updateStrategy.rollingUpdate.maxUnavailable", 1)
        if _is_zero(o.max_unavailable):
            r.problem(doc.at("spec.updateStrategy.rollingUpdate.maxUnavailable"), "may not be 0 (maxSurge is 0)")
    if kind in ("Deployment", "ReplicaSet", "StatefulSet") and template.restart_policy != "Always" and (
            "restartPolicy" in template.model_fields_set):
        r.problem(doc.at("spec.template.spec.restartPolicy"),
                  f"{kind} pods must use restartPolicy Always (upstream validation), got {template.restart_policy}")
    out.objects.append(o)


def _is_zero(v: int | str) -> bool:
    return v == 0 or (isinstance(v, str) and v.rstrip("%").strip() in ("0", ""))


def _pod(doc: _Doc, out: ManifestSet, priorities: dict[str, int]) -> None:
    got = object_meta(doc)
    if got is None:
        return
    meta, name, ns = got
    labels = doc.r.strings(meta.get("labels"), doc.at("metadata.labels"))
    template, pc = pod_template(doc, doc.obj.get("spec"), labels, "spec", priorities, ns)
    knobs = read_knobs(doc, meta, None, "")
    if template is None:
        return
    out.objects.append(AppObject(kind="Pod", name=name, namespace=ns, where=f"{doc.r.source}: {doc.path}",
                                 template=template, replicas=1, priority_class=pc,
                                 duration=knobs.get("duration"), start_latency=knobs.get("start-latency"),
                                 runtime=runtime_knobs(knobs)))


def _namespace(doc: _Doc, out: ManifestSet, priorities: dict[str, int]) -> None:
    got = object_meta(doc)
    if got is not None:
        out.namespaces.append(got[1])
        out.namespace_labels[got[1]] = doc.r.strings(got[0].get("labels"), doc.at("metadata.labels"))


def _priority_class(doc: _Doc, out: ManifestSet, priorities: dict[str, int]) -> None:
    got = object_meta(doc)
    if got is None:
        return
    data = {k: v for k, v in doc.obj.items() if k in ("value", "globalDefault", "preemptionPolicy", "description")}
    data["name"] = got[1]
    try:
        out.priority_classes.append(_PRIORITY_CLASS.validate_python(data))
    except ValidationError as e:
        for err in e.errors(include_url=False):
            loc = format_loc(err["loc"])
            doc.r.problem(doc.at(loc), err["msg"].removeprefix("Value error, "))


def _node(doc: _Doc, out: ManifestSet, priorities: dict[str, int]) -> None:
    r = doc.r
    got = object_meta(doc)
    if got is None:
        return
    meta, name, _ = got
    spec = r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    status = r.mapping_or_empty(doc.obj.get("status"), doc.at("status"))
    where = "status.allocatable" if "allocatable" in status else "status.capacity"
    alloc = r.resources(status.get("allocatable", status.get("capacity")), doc.at(where))
    missing = [res for res in ("cpu", "memory") if res not in alloc]
    if missing:
        r.problem(doc.at(where), f"missing {' and '.join(missing)}")
    taints = []
    for j, t in enumerate(r.sequence_or_empty(spec.get("taints"), doc.at("spec.taints"))):
        t = r.mapping_or_empty(t, doc.at(f"spec.taints[{j}]"))
        taints.append({k: v for k, v in t.items() if k != "timeAdded"})
    parsed = r.lenient(_TAINTS, taints, doc.at("spec.taints"))
    out.nodes.append(ManifestNode(
        name=name, allocatable=dict(alloc),
        labels=r.strings(meta.get("labels"), doc.at("metadata.labels")),
        taints=_TAINTS.validate_python(parsed or []), unschedulable=bool(spec.get("unschedulable", False)),
    ))


for _kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
    register_kind("apps/v1", _kind, _app)
register_kind("v1", "Pod", _pod)
register_kind("v1", "Namespace", _namespace)
register_kind("scheduling.k8s.io/v1", "PriorityClass", _priority_class)
register_kind("v1", "Node", _node)


def parse_object(obj: dict[str, Any], source: str, path: str, priorities: dict[str, int],
                 base_dir: Path | None = None) -> tuple[AppObject | None, list[tuple[str, str]], list[str]]:
    """Read one workload object (e.g. from a SimKube trace event) with the registered
    handlers: (the object or None, problems, warnings)."""
    r = ObjectReader(source)
    out = ManifestSet(source)
    _dispatch(_Doc(r, path, obj, base_dir or Path.cwd()), out, priorities)
    r.flush()
    return (out.objects[0] if out.objects else None), r.problems, r.warnings


def dumps_template(t: PodTemplate) -> str:
    """A canonical text of a pod template (for template hashes). Fields newer than the
    hash (``runtimeClassName``, ``volumes``) are left out while unset, so that they do not
    change the hash, and the pod names, of templates that do not use them."""
    data = t.model_dump(mode="json", by_alias=True)
    for key, unset in _NEWER_FIELDS:
        if data.get(key) == unset:
            del data[key]
    # Container limits and pull policies were read after the hash too and are left out
    # of it, so that the names of existing runs' pods do not change (a template change
    # that touches only those therefore starts no new revision; upstream's hash covers
    # them).
    for key in ("containers", "initContainers"):
        for c in data.get(key) or ():
            c.pop("limits", None)
            c["imagePullPolicy"] = None  # as when it was not read
    return json.dumps(data, sort_keys=True)


#: Template fields added after the template hash, with their unset value.
_NEWER_FIELDS: tuple[tuple[str, object], ...] = (("runtimeClassName", None), ("volumes", []))


# The names these had before they were public (for handlers written against them).
_meta, _knobs, _MODELLED, _SELECTOR, _POD_SPEC_FIELDS = (object_meta, read_knobs, MODELLED_FIELDS, LABEL_SELECTOR,
                                                         POD_SPEC_FIELDS)

# Further kinds register themselves on import (after this module's definitions).
from k8sim.workloads import batch_manifests as _batch  # noqa: E402,F401
from k8sim.workloads import hpa_manifests as _hpa  # noqa: E402,F401
from k8sim.workloads import kueue_manifests as _kueue  # noqa: E402,F401
from k8sim.workloads import policy_manifests as _policy  # noqa: E402,F401
from k8sim.workloads import runtimeclass_manifests as _runtimeclass  # noqa: E402,F401
from k8sim.workloads import storage_manifests as _storage  # noqa: E402,F401
