"""Kueue objects and scheduler-plugins PodGroups in manifests (registered with
:func:`k8sim.workloads.manifests.register_kind`).

A user drives queues and gangs with the YAML they would apply to a cluster with Kueue
and the scheduler-plugins installed:

- ``kueue.x-k8s.io/v1beta1`` ResourceFlavor, ClusterQueue, LocalQueue,
  WorkloadPriorityClass and Cohort (upstream ``kubernetes-sigs/kueue``
  ``apis/kueue/v1beta1/resourceflavor_types.go``, ``clusterqueue_types.go``,
  ``localqueue_types.go``, ``workloadpriorityclass_types.go``, ``cohort_types.go``).
  Each is converted to the entry of the scenario's ``kueue`` section it stands for
  (:mod:`k8sim.config.kueue`: the same pydantic models, so one object and the section
  entry build the same configuration and get the same checks) and
  :func:`with_manifest_batch` appends them to the scenario's own section. Quantities
  (``nominalQuota``, ``borrowingLimit``, ``lendingLimit``, ``fairSharing.weight``) are
  read by the project's quantity parser. As upstream, a ClusterQueue's ``cohort`` is
  created from its name (a Cohort object may list it too); a cohort with a single
  ClusterQueue is warned about (a misspelt name makes a new, empty cohort).
  ``namespaceSelector`` is checked against the namespaces of the LocalQueues pointing at
  the queue (their labels: the scenario's ``namespaces``, the manifests' Namespace
  objects, and ``kubernetes.io/metadata.name``): absent it selects **no** namespace, as
  upstream (``metav1.LabelSelectorAsSelector(nil)``, ``pkg/cache/scheduler/clusterqueue.go``),
  so a LocalQueue whose namespace it does not select could never have a workload
  admitted (upstream: ``workload namespace doesn't match ClusterQueue selector``,
  ``pkg/workload/resources.go``) and is an error.
- the Job labels ``kueue.x-k8s.io/queue-name`` and ``kueue.x-k8s.io/priority-class``
  (``pkg/controller/constants/constants.go`` ``QueueLabel``,
  ``WorkloadPriorityClassLabel``): read by :mod:`k8sim.workloads.batch_manifests`, run
  by :mod:`k8sim.batch.kueue_jobs`; here their LocalQueue and class must exist.
- ``scheduling.x-k8s.io/v1alpha1`` PodGroup (``kubernetes-sigs/scheduler-plugins``
  ``apis/scheduling/v1alpha1/types.go``: ``minMember``, ``minResources``,
  ``scheduleTimeoutSeconds``) -> a :class:`~k8sim.config.batch.PodGroupSpec` joining the
  scenario's ``podGroups`` (created at time 0). Pods and pod templates join it with the
  label ``scheduling.x-k8s.io/pod-group`` (same file, ``PodGroupLabel``). Upstream
  ``minMember`` is optional (``omitempty``, minimum 1 when given); absent, k8sim uses 1,
  which Coscheduling treats as 0 (a single placed pod completes the group).

Fields that would change what a run means and that k8sim does not model are errors
(admission checks, ``stopPolicy`` other than None, ``borrowWithinCohort`` other than
Never, non-default ``flavorFungibility``, topology-aware scheduling, hierarchical
cohorts); an unknown field of an object's ``spec`` is an error (the API server rejects
it). A ResourceFlavor's ``nodeTaints`` are kept but not matched against workloads'
tolerations at flavor assignment (a warning, once). Errors name the file, the document,
the field path and the object (kind and name).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from k8sim.config.base import split_located
from k8sim.config.batch import PodGroupSpec
from k8sim.config.k8s_types import LabelSelector
from k8sim.config.kueue import (
    QUEUE_NAME_LABEL,
    WORKLOAD_PRIORITY_CLASS_LABEL,
    ClusterQueueSpec,
    CohortSpec,
    KueueSettings,
    LocalQueueSpec,
    ResourceFlavorSpec,
    WorkloadPriorityClassSpec,
)
from k8sim.config.loader import ScenarioError, format_loc
from k8sim.config.quantity import parse_quantity
from k8sim.constants import POD_GROUP_LABEL
from k8sim.workloads import manifests as m

if TYPE_CHECKING:
    from k8sim.config.scenario import Scenario

__all__ = ["KUEUE_API", "PODGROUP_API", "KueueObject", "with_manifest_batch"]

KUEUE_API = "kueue.x-k8s.io/v1beta1"
PODGROUP_API = "scheduling.x-k8s.io/v1alpha1"
#: The label every namespace carries (set by the API server).
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"

#: The fields of each kind's ``spec`` (v1beta1): any other is an error.
_SPEC_FIELDS = {
    "ResourceFlavor": ("nodeLabels", "nodeTaints", "tolerations", "topologyName"),
    "ClusterQueue": ("resourceGroups", "cohort", "queueingStrategy", "namespaceSelector", "flavorFungibility",
                     "preemption", "admissionChecks", "admissionChecksStrategy", "stopPolicy", "fairSharing",
                     "admissionScope"),
    "LocalQueue": ("clusterQueue", "stopPolicy", "fairSharing"),
    "Cohort": ("parentName", "resourceGroups", "fairSharing"),
    "PodGroup": ("minMember", "minResources", "scheduleTimeoutSeconds"),
    "WorkloadPriorityClass": (),
}
_TOP_FIELDS = ("apiVersion", "kind", "metadata", "spec", "status")
#: Where a kind's section entries sit in the scenario's ``kueue`` section.
_SECTION = {"ResourceFlavor": "resourceFlavors", "ClusterQueue": "clusterQueues", "LocalQueue": "localQueues",
            "WorkloadPriorityClass": "workloadPriorityClasses", "Cohort": "cohorts"}


@dataclass
class KueueObject:
    """A Kueue object of a manifest: ``spec`` is its entry of the ``kueue`` section
    (:mod:`k8sim.config.kueue`); a ClusterQueue's ``namespaceSelector`` is kept beside
    it (``has_selector`` False: absent, which selects no namespace)."""

    kind: str
    spec: Any
    where: str  # "file: document[i]"
    selector: LabelSelector | None = None
    has_selector: bool = False

    @property
    def label(self) -> str:
        ns = getattr(self.spec, "namespace", None) if self.kind == "LocalQueue" else None
        return f"{self.kind} {ns + '/' if ns else ''}{self.spec.name}"


# ------------------------------------------------------------------------------ reading


def _manifest_path(path: str) -> str:
    """A field of a section entry -> the object's field (``name`` is ``metadata.name``)."""
    head = re.split(r"[.\[]", path, maxsplit=1)[0]
    if head in ("name", "namespace"):
        return f"metadata.{path}"
    return f"spec.{path}" if path else "spec"


def _model_problems(err: ValidationError, data: Any) -> list[tuple[str, str]]:
    out = []
    for e in err.errors(include_url=False):
        loc, msg = format_loc(e["loc"], data), e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field (not in the v1beta1 API as k8sim reads it)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif msg.startswith("Value error, "):
            below, msg = split_located(msg.removeprefix("Value error, "))
            if below is not None:
                loc = (f"{loc}.{below}" if loc and not below.startswith("[") else loc + below)
        out.append((loc, msg))
    return out


def _validate(doc: Any, model: type[BaseModel], data: dict[str, Any], what: str,
              path_of: Callable[[str], str] = _manifest_path) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        for loc, msg in _model_problems(e, data):
            doc.r.problem(doc.at(path_of(loc)), f"{what}: {msg}")
        return None


def _check_fields(doc: Any, kind: str, name: str, spec: dict[str, Any]) -> None:
    for key in doc.obj:
        if key not in _TOP_FIELDS and not (kind == "WorkloadPriorityClass" and key in ("value", "description")):
            doc.r.problem(doc.at(str(key)), f"{kind} {name}: unknown field")
    for key in spec:
        if key not in _SPEC_FIELDS[kind]:
            known = ", ".join(_SPEC_FIELDS[kind]) or "(none)"
            doc.r.problem(doc.at(f"spec.{key}"), f"{kind} {name}: unknown field (the {kind} spec has: {known})")


def _unsupported(doc: Any, what: str, path: str, why: str) -> None:
    doc.r.problem(doc.at(path), f"{what}: {why} is not modelled by k8sim (a run without it would be wrong); "
                                "remove the field to run without it")


def _weight(doc: Any, value: Any, path: str, what: str) -> float | None:
    """``fairSharing.weight``: a quantity (``resource.Quantity`` upstream)."""
    try:
        q = parse_quantity(value)
    except (ValueError, TypeError) as e:
        doc.r.problem(doc.at(path), f"{what}: {e}")
        return None
    if q < 0:
        doc.r.problem(doc.at(path), f"{what}: must be >= 0, got {value!r}")
        return None
    return float(Fraction(q))


def _head(doc: Any, kind: str) -> tuple[str, str, dict[str, Any], dict[str, Any]] | None:
    got = m.object_meta(doc)
    if got is None:
        return None
    meta, name, ns = got
    spec = doc.r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    _check_fields(doc, kind, name, spec)
    return name, ns, meta, spec


def _resource_flavor(doc: Any, out: m.ManifestSet, _priorities: dict[str, int]) -> None:
    got = _head(doc, "ResourceFlavor")
    if got is None:
        return
    name, _, _, spec = got
    what = f"ResourceFlavor {name}"
    if spec.get("topologyName") is not None:
        _unsupported(doc, what, "spec.topologyName", "topology-aware scheduling")
    taints = [{k: v for k, v in t.items() if k != "timeAdded"} if isinstance(t, dict) else t
              for t in doc.r.sequence_or_empty(spec.get("nodeTaints"), doc.at("spec.nodeTaints"))]
    data = {"name": name, "nodeLabels": spec.get("nodeLabels") or {}, "nodeTaints": taints,
            "tolerations": spec.get("tolerations") or []}
    flavor = _validate(doc, ResourceFlavorSpec, data, what)
    if flavor is None:
        return
    if flavor.node_taints:
        doc.r.group("ResourceFlavor spec.nodeTaints kept but not matched against workloads' tolerations when k8sim "
                    "assigns flavors (the nodes' own taints still apply when pods are scheduled) in", doc.path)
    out.kueue.append(KueueObject("ResourceFlavor", flavor, f"{doc.r.source}: {doc.path}"))


def _cluster_queue(doc: Any, out: m.ManifestSet, _priorities: dict[str, int]) -> None:
    got = _head(doc, "ClusterQueue")
    if got is None:
        return
    name, _, _, spec = got
    r = doc.r
    what = f"ClusterQueue {name}"
    n = len(r.problems)
    data: dict[str, Any] = {"name": name, "resourceGroups": spec.get("resourceGroups") or []}
    if spec.get("cohort"):  # "" is no cohort
        data["cohort"] = spec["cohort"]
    if spec.get("queueingStrategy") is not None:
        data["queueingStrategy"] = spec["queueingStrategy"]
    pre = r.mapping_or_empty(spec.get("preemption"), doc.at("spec.preemption"))
    for key in pre:
        if key not in ("withinClusterQueue", "reclaimWithinCohort", "borrowWithinCohort"):
            r.problem(doc.at(f"spec.preemption.{key}"), f"{what}: unknown field (ClusterQueuePreemption has "
                                                        "withinClusterQueue, reclaimWithinCohort, borrowWithinCohort)")
    data["preemption"] = {k: pre[k] for k in ("withinClusterQueue", "reclaimWithinCohort") if k in pre}
    bwc = r.mapping_or_empty(pre.get("borrowWithinCohort"), doc.at("spec.preemption.borrowWithinCohort"))
    if bwc.get("policy", "Never") != "Never":
        _unsupported(doc, what, "spec.preemption.borrowWithinCohort.policy",
                     f"borrowWithinCohort policy {bwc.get('policy')!r} (preempting in the cohort to borrow)")
    fs = r.mapping_or_empty(spec.get("fairSharing"), doc.at("spec.fairSharing"))
    for key in fs:
        if key != "weight":
            r.problem(doc.at(f"spec.fairSharing.{key}"), f"{what}: unknown field (FairSharing has weight)")
    if fs.get("weight") is not None:
        weight = _weight(doc, fs["weight"], "spec.fairSharing.weight", what)
        if weight is not None:
            data["fairSharing"] = {"weight": weight}
    ff = r.mapping_or_empty(spec.get("flavorFungibility"), doc.at("spec.flavorFungibility"))
    # k8sim assigns flavors as upstream's defaults do (clusterqueue_types.go).
    defaults = {"whenCanBorrow": ("MayStopSearch", "Borrow"), "whenCanPreempt": ("TryNextFlavor",)}
    for key, value in ff.items():
        if key not in defaults or value not in defaults[key]:
            _unsupported(doc, what, f"spec.flavorFungibility.{key}",
                         f"flavorFungibility {key}: {value!r} (k8sim assigns flavors with the defaults "
                         "whenCanBorrow: MayStopSearch, whenCanPreempt: TryNextFlavor)")
    if r.sequence_or_empty(spec.get("admissionChecks"), doc.at("spec.admissionChecks")):
        _unsupported(doc, what, "spec.admissionChecks", "admission checks")
    if r.mapping_or_empty(spec.get("admissionChecksStrategy"), doc.at("spec.admissionChecksStrategy")):
        _unsupported(doc, what, "spec.admissionChecksStrategy", "admission checks")
    if spec.get("stopPolicy", "None") not in ("None", None):
        _unsupported(doc, what, "spec.stopPolicy", f"stopPolicy {spec['stopPolicy']!r}")
    if spec.get("admissionScope") is not None:
        _unsupported(doc, what, "spec.admissionScope", "admissionScope (admission fair sharing)")
    selector = None
    has_selector = spec.get("namespaceSelector") is not None
    if has_selector:
        try:
            selector = m.LABEL_SELECTOR.validate_python(spec["namespaceSelector"])
        except ValidationError as e:
            for loc, msg in _model_problems(e, spec["namespaceSelector"]):
                r.problem(doc.at(f"spec.namespaceSelector.{loc}" if loc else "spec.namespaceSelector"),
                          f"{what}: invalid label selector: {msg}")
    queue = _validate(doc, ClusterQueueSpec, data, what)
    if queue is not None and len(r.problems) == n:
        out.kueue.append(KueueObject("ClusterQueue", queue, f"{r.source}: {doc.path}", selector, has_selector))


def _local_queue(doc: Any, out: m.ManifestSet, _priorities: dict[str, int]) -> None:
    got = _head(doc, "LocalQueue")
    if got is None:
        return
    name, ns, _, spec = got
    r = doc.r
    what = f"LocalQueue {ns}/{name}"
    n = len(r.problems)
    if spec.get("stopPolicy", "None") not in ("None", None):
        _unsupported(doc, what, "spec.stopPolicy", f"stopPolicy {spec['stopPolicy']!r}")
    if not spec.get("clusterQueue"):
        r.problem(doc.at("spec.clusterQueue"), f"{what}: required: the ClusterQueue this queue submits to")
        return
    data: dict[str, Any] = {"name": name, "namespace": ns, "clusterQueue": spec["clusterQueue"]}
    fs = r.mapping_or_empty(spec.get("fairSharing"), doc.at("spec.fairSharing"))
    for key in fs:
        if key != "weight":
            r.problem(doc.at(f"spec.fairSharing.{key}"), f"{what}: unknown field (FairSharing has weight)")
    if fs.get("weight") is not None:
        weight = _weight(doc, fs["weight"], "spec.fairSharing.weight", what)
        if weight is not None:
            data["fairSharing"] = {"weight": weight}
    queue = _validate(doc, LocalQueueSpec, data, what)
    if queue is not None and len(r.problems) == n:
        out.kueue.append(KueueObject("LocalQueue", queue, f"{r.source}: {doc.path}"))


def _workload_priority_class(doc: Any, out: m.ManifestSet, _priorities: dict[str, int]) -> None:
    got = _head(doc, "WorkloadPriorityClass")
    if got is None:
        return
    name = got[0]
    what = f"WorkloadPriorityClass {name}"
    if "value" not in doc.obj:
        doc.r.problem(doc.at("value"), f"{what}: required: the priority (an int32)")
        return
    data = {"name": name, "value": doc.obj["value"], "description": doc.obj.get("description") or ""}
    pc = _validate(doc, WorkloadPriorityClassSpec, data, what, path_of=lambda p: "metadata.name" if p == "name" else p)
    if pc is not None:
        out.kueue.append(KueueObject("WorkloadPriorityClass", pc, f"{doc.r.source}: {doc.path}"))


def _cohort(doc: Any, out: m.ManifestSet, _priorities: dict[str, int]) -> None:
    got = _head(doc, "Cohort")
    if got is None:
        return
    name, _, _, spec = got
    what = f"Cohort {name}"
    if spec.get("parentName"):
        _unsupported(doc, what, "spec.parentName", "hierarchical cohorts")
    if spec.get("resourceGroups"):
        _unsupported(doc, what, "spec.resourceGroups", "a cohort's own quota")
    if spec.get("fairSharing"):
        _unsupported(doc, what, "spec.fairSharing", "fair sharing between cohorts")
    cohort = _validate(doc, CohortSpec, {"name": name}, what)
    if cohort is not None:
        out.kueue.append(KueueObject("Cohort", cohort, f"{doc.r.source}: {doc.path}"))


def _pod_group(doc: Any, out: m.ManifestSet, _priorities: dict[str, int]) -> None:
    got = _head(doc, "PodGroup")
    if got is None:
        return
    name, ns, _, spec = got
    data: dict[str, Any] = {"name": name, "namespace": ns, "minMember": spec.get("minMember", 1)}
    for key in ("minResources", "scheduleTimeoutSeconds"):
        if spec.get(key) is not None:
            data[key] = spec[key]
    group = _validate(doc, PodGroupSpec, data, f"PodGroup {ns}/{name}")
    if group is not None:
        out.pod_groups.append((group, f"{doc.r.source}: {doc.path}"))


for _kind, _handler in (("ResourceFlavor", _resource_flavor), ("ClusterQueue", _cluster_queue),
                        ("LocalQueue", _local_queue), ("WorkloadPriorityClass", _workload_priority_class),
                        ("Cohort", _cohort)):
    m.register_kind(KUEUE_API, _kind, _handler)
m.register_kind(PODGROUP_API, "PodGroup", _pod_group)


# ------------------------------------------------------------------------------ merging


#: Where the pod labels of an object kind are.
_LABELS_PATH = {"Pod": "metadata.labels", "CronJob": "spec.jobTemplate.spec.template.metadata.labels"}


def _pods_of(o: m.AppObject) -> int | None:
    """How many pods of ``o`` exist at once, if fixed: a Job's ``min(parallelism,
    completions)`` (Kueue's ``podsCount``, ``pkg/controller/jobs/job/job_controller.go``),
    a workload controller's replicas, a Pod's 1; None for DaemonSets and CronJobs."""
    if o.kind == "Pod":
        return 1
    if o.kind == "Job":
        c = o.batch.completions
        return o.replicas if c is None else min(o.replicas, c)
    if o.kind in ("Deployment", "ReplicaSet", "StatefulSet"):
        return o.replicas
    return None


def with_manifest_batch(scenario: Scenario, inputs: dict[int, Any], warnings: list[str] | None = None) -> Scenario:
    """``scenario`` with the manifests' Kueue objects appended to its ``kueue`` section
    and their PodGroups to its ``podGroups`` (in workload order), once the references
    between them, the scenario and the Jobs' labels are checked. Raises
    :class:`ScenarioError` located at the workload entry, the message naming the file,
    the document, the field and the object; ``warnings`` gets what is questionable but
    runnable."""
    warnings = [] if warnings is None else warnings
    if not any(w.manifest is not None for w in scenario.workloads):
        return scenario
    objs: list[tuple[int, KueueObject]] = []
    groups: list[tuple[int, PodGroupSpec, str]] = []
    apps: list[tuple[int, m.AppObject]] = []  # every object (initial and later) of the manifests
    ns_labels: dict[str, dict[str, str]] = {}
    problems: list[tuple[str, str]] = []
    for wi, inp in inputs.items():
        initial = getattr(inp, "initial", None)
        if initial is None:
            continue
        objs.extend((wi, o) for o in initial.kueue)
        groups.extend((wi, g, at) for g, at in initial.pod_groups)
        for mset in inp.sets():
            apps.extend((wi, o) for o in mset.objects)
            ns_labels.update(mset.namespace_labels)
        for _, later in inp.updates:
            for o in later.kueue:
                problems.append((f"workloads[{wi}].apply", f"{o.where}: {o.label}: Kueue objects exist from time 0: "
                                                          "give them in the workload's manifest"))
            for _, at in later.pod_groups:
                problems.append((f"workloads[{wi}].apply", f"{at}: PodGroup objects exist from time 0: give them in "
                                                          "the workload's manifest"))
    if problems:
        raise ScenarioError(scenario.source, problems)
    # An object applied again later counts once for its PodGroup (as first given).
    firsts: dict[tuple[int, str, str], m.AppObject] = {}
    for wi, o in apps:
        firsts.setdefault((wi, o.kind, o.key), o)
    members = [(wi, o) for (wi, _, _), o in firsts.items()]
    kueue = _merge_kueue(scenario, objs, problems, warnings)
    if problems:
        raise ScenarioError(scenario.source, problems)
    pod_groups = list(scenario.pod_groups) + [g for _, g, _ in groups]
    _check_groups(scenario, groups, members, problems)
    for ns in scenario.namespaces:
        ns_labels.setdefault(ns.name, dict(ns.labels))
    if kueue is not None:
        _check_namespaces(kueue, objs, ns_labels, problems)
    _check_job_labels(kueue, apps, problems, warnings)
    if problems:
        raise ScenarioError(scenario.source, problems)
    merged = scenario.model_copy(update={"kueue": kueue, "pod_groups": pod_groups})
    merged._manifests_merged = True
    extra = {}
    for g in pod_groups:
        counts = [_pods_of(o) for _, o in members
                  if o.namespace == g.namespace and o.template.labels.get(POD_GROUP_LABEL) == g.name]
        extra[f"{g.namespace}/{g.name}"] = None if None in counts else sum(c for c in counts if c is not None)
    try:
        merged._check_queues()
        merged._check_pod_groups(extra)
    except ValueError as e:
        path, msg = split_located(str(e))
        raise ScenarioError(scenario.source, [(path or "", msg)]) from None
    return merged


def _entry(kind: str, objs: list[tuple[int, KueueObject]]) -> list[tuple[int, KueueObject]]:
    return [(wi, o) for wi, o in objs if o.kind == kind]


def _merge_kueue(scenario: Scenario, objs: list[tuple[int, KueueObject]], problems: list[tuple[str, str]],
                 warnings: list[str]) -> KueueSettings | None:
    """The scenario's ``kueue`` section with the objects appended (None without either)."""
    if not objs:
        return scenario.kueue
    base = scenario.kueue or KueueSettings()
    sections: dict[str, list[Any]] = {
        "resourceFlavors": list(base.resource_flavors), "cohorts": list(base.cohorts),
        "clusterQueues": list(base.cluster_queues), "localQueues": list(base.local_queues),
        "workloadPriorityClasses": list(base.workload_priority_classes)}
    origin: dict[tuple[str, int], tuple[int, KueueObject]] = {}
    seen: dict[tuple[str, str], str] = {}
    for section, items in sections.items():
        for i, x in enumerate(items):
            seen[(section, _key(x))] = f"kueue.{section}[{i}]"
    for kind in ("ResourceFlavor", "Cohort", "ClusterQueue", "LocalQueue", "WorkloadPriorityClass"):
        section = _SECTION[kind]
        for wi, o in _entry(kind, objs):
            k = (section, _key(o.spec))
            if k in seen:
                if kind == "Cohort" and seen[k].startswith("cohort of "):
                    continue
                problems.append((f"workloads[{wi}].manifest",
                                 f"{o.where}.metadata.name: {o.label} is defined twice (also {seen[k]})"))
                continue
            seen[k] = o.where
            origin[(section, len(sections[section]))] = (wi, o)
            sections[section].append(o.spec)
            if kind == "ClusterQueue" and o.spec.cohort is not None and ("cohorts", o.spec.cohort) not in seen:
                # Kueue makes a cohort from the name (no Cohort object needed).
                seen[("cohorts", o.spec.cohort)] = f"cohort of {o.where}"
                sections["cohorts"].append(CohortSpec(name=o.spec.cohort))
    if problems:
        return None
    try:
        merged = KueueSettings.model_validate({**sections, "fairSharing": base.fair_sharing, "policy": base.policy})
    except ValidationError as e:
        for err in e.errors(include_url=False):
            below, msg = split_located(err["msg"].removeprefix("Value error, "))
            problems.append(_locate(below or format_loc(err["loc"]), msg, origin))
        return None
    for cohort in {q.cohort for _, o in _entry("ClusterQueue", objs) for q in (o.spec,) if q.cohort}:
        members = [q.name for q in merged.cluster_queues if q.cohort == cohort]
        if len(members) == 1:
            wi, o = next((wi, o) for wi, o in _entry("ClusterQueue", objs) if o.spec.cohort == cohort)
            warnings.append(f"workloads[{wi}].manifest: {o.where}.spec.cohort: {o.label}: cohort {cohort!r} has "
                             "no other ClusterQueue: the queue has nobody to borrow from or lend to")
    return merged


def _key(x: Any) -> str:
    return f"{x.namespace}/{x.name}" if isinstance(x, LocalQueueSpec) else x.name


def _locate(path: str, msg: str, origin: dict[tuple[str, int], tuple[int, KueueObject]]) -> tuple[str, str]:
    """A problem of the merged section at ``path`` (``clusterQueues[3].cohort``): at the
    object it came from, or in the scenario's ``kueue`` section."""
    got = re.match(r"(\w+)\[(\d+)\]\.?(.*)$", path)
    if got is not None and (got[1], int(got[2])) in origin:
        wi, o = origin[(got[1], int(got[2]))]
        return f"workloads[{wi}].manifest", f"{o.where}.{_manifest_path(got[3])}: {o.label}: {msg}"
    return f"kueue.{path}", msg


def _check_namespaces(kueue: KueueSettings, objs: list[tuple[int, KueueObject]], ns_labels: dict[str, dict[str, str]],
                      problems: list[tuple[str, str]]) -> None:
    """A manifest ClusterQueue's ``namespaceSelector`` selects the namespace of every
    LocalQueue pointing at it."""
    for wi, o in _entry("ClusterQueue", objs):
        for lq in kueue.local_queues:
            if lq.cluster_queue != o.spec.name:
                continue
            labels = {**ns_labels.get(lq.namespace, {}), NAMESPACE_NAME_LABEL: lq.namespace}
            if not o.has_selector:
                problems.append((f"workloads[{wi}].manifest", (
                    f"{o.where}.spec.namespaceSelector: {o.label}: absent, which Kueue reads as selecting no "
                    f"namespace: LocalQueue {lq.namespace}/{lq.name} could never have a workload admitted; give "
                    "namespaceSelector: {} to admit every namespace")))
                break
            if o.selector is not None and not o.selector.matches(labels):
                problems.append((f"workloads[{wi}].manifest", (
                    f"{o.where}.spec.namespaceSelector: {o.label}: does not select namespace {lq.namespace!r} "
                    f"(labels {labels}) of LocalQueue {lq.namespace}/{lq.name}, whose workloads could never be "
                    "admitted (Kueue: workload namespace doesn't match ClusterQueue selector)")))


def _check_job_labels(kueue: KueueSettings | None, apps: list[tuple[int, m.AppObject]],
                      problems: list[tuple[str, str]], warnings: list[str]) -> None:
    """A queued Job's LocalQueue (in its namespace) and WorkloadPriorityClass exist."""
    classes = {c.name for c in kueue.workload_priority_classes} if kueue is not None else set()
    for wi, o in apps:
        if o.kind != "Job":
            continue
        js = o.batch
        at = f"workloads[{wi}].manifest"
        if js.queue_name is not None:
            if kueue is None:
                problems.append((at, f"{o.where}.metadata.labels.{QUEUE_NAME_LABEL}: Job {o.key}: names LocalQueue "
                                     f"{js.queue_name!r} but there are no queues (no kueue section, no LocalQueue "
                                     "objects)"))
            elif kueue.local_queue(o.namespace, js.queue_name) is None:
                known = sorted(f"{q.namespace}/{q.name}" for q in kueue.local_queues)
                problems.append((at, f"{o.where}.metadata.labels.{QUEUE_NAME_LABEL}: Job {o.key}: LocalQueue "
                                     f"{js.queue_name!r} not found in namespace {o.namespace!r} (LocalQueues: {known})"))
        if js.workload_priority_class is not None:
            if js.queue_name is None:
                warnings.append(f"{at}: {o.where}.metadata.labels.{WORKLOAD_PRIORITY_CLASS_LABEL}: Job {o.key}: "
                                 f"has no effect without {QUEUE_NAME_LABEL} (the Job is not queued)")
            elif js.workload_priority_class not in classes:
                problems.append((at, f"{o.where}.metadata.labels.{WORKLOAD_PRIORITY_CLASS_LABEL}: Job {o.key}: no "
                                     f"WorkloadPriorityClass named {js.workload_priority_class!r} "
                                     f"(known: {sorted(classes)})"))


def _check_groups(scenario: Scenario, groups: list[tuple[int, PodGroupSpec, str]],
                  apps: list[tuple[int, m.AppObject]], problems: list[tuple[str, str]]) -> None:
    """PodGroups are unique per namespace; a manifest pod labelled for a group names one;
    a manifest group's ``minMember`` does not exceed the pods labelled for it."""
    keys = {f"{g.namespace}/{g.name}": f"podGroups[{i}]" for i, g in enumerate(scenario.pod_groups)}
    for wi, g, at in groups:
        key = f"{g.namespace}/{g.name}"
        if key in keys:
            problems.append((f"workloads[{wi}].manifest", f"{at}.metadata.name: PodGroup {key} is defined twice "
                                                          f"(also {keys[key]})"))
        keys[key] = at
    for wi, o in apps:
        label = o.template.labels.get(POD_GROUP_LABEL)
        if label is not None and f"{o.namespace}/{label}" not in keys:
            problems.append((f"workloads[{wi}].manifest", (
                f"{o.where}.{_LABELS_PATH.get(o.kind, 'spec.template.metadata.labels')}.{POD_GROUP_LABEL}: "
                f"{o.kind} {o.key}: names no PodGroup {label!r} in namespace {o.namespace!r} "
                f"(PodGroups: {sorted(keys) or 'none'})")))
    for wi, g, at in groups:
        members = [(o, _pods_of(o)) for _, o in apps
                   if o.namespace == g.namespace and o.template.labels.get(POD_GROUP_LABEL) == g.name]
        counts = [c for _, c in members]
        if members and None not in counts and sum(counts) < g.min_member:  # type: ignore[arg-type]
            listed = ", ".join(f"{o.kind} {o.name}: {c}" for o, c in members)
            problems.append((f"workloads[{wi}].manifest", (
                f"{at}.spec.minMember: PodGroup {g.namespace}/{g.name}: {g.min_member} exceeds the "
                f"{sum(counts)} pod(s) labelled {POD_GROUP_LABEL}: {g.name} ({listed}): the group could never "  # type: ignore[arg-type]
                "be scheduled")))
