"""Reading a real cluster snapshot: ``kubectl get nodes,pods -A -o yaml``.

:func:`load_kube_objects` reads a ``v1`` ``List`` (also ``NodeList``/``PodList``) whose
``items`` are ``Node`` and ``Pod`` objects, as the Kubernetes API serves them, and keeps
what scheduling reads:

- Node: ``metadata.name``, ``metadata.labels``, ``spec.taints`` (``timeAdded`` dropped),
  ``spec.unschedulable``, ``status.allocatable`` (every resource, quantities exact) and
  ``status.images`` (names and ``sizeBytes``, kept for ImageLocality).
- Pod: ``metadata.name``/``namespace``/``labels``, ``spec.nodeName`` (set = bound),
  ``spec.priority``, ``spec.nodeSelector``, ``spec.tolerations``, ``spec.affinity``,
  ``spec.topologySpreadConstraints``, container ports with a ``hostPort``,
  ``spec.schedulerName``, and the pod's requests computed as upstream
  ``resource.PodRequests`` (``k8s.io/component-helpers/resource/helpers.go``) does from
  the spec: the sum over ``containers``; init containers by the max rule (each regular
  init container needs its own requests plus those of the restartable (sidecar,
  ``restartPolicy: Always``) init containers before it, sidecars add to the sum, and
  the pod needs the maximum of the sum and every init container's need, per resource);
  then pod-level ``spec.resources.requests`` replace cpu, memory and ``hugepages-*``
  (PodLevelResources); then ``spec.overhead`` is added. Quantities are summed exactly and
  rounded up to base units once, as upstream.

Pods in phase Succeeded or Failed are skipped: the scheduler's informer excludes them
(``status.phase!=Succeeded,status.phase!=Failed``), so they hold no resources.

:meth:`KubeObjects.to_scenario` converts the snapshot to a k8sim scenario (plain data,
validated by :func:`k8sim.validate_scenario`) and :func:`k8sim.sim.snapshot.build_snapshot`
builds a :class:`~k8sim.sim.Simulation` from it, so the cluster state comes from the
real code paths:

- every node -> ``cluster.nodes[]`` (name, allocatable, labels, taints); a cordoned node
  (``spec.unschedulable``) is then cordoned with ``ops.set_unschedulable`` because the
  scenario format has no such field;
- every bound pod -> ``initial_pods[]`` (name ``namespace/name``, ``nodeName``,
  ``requests``, ``labels``, ``priority``);
- every pending pod -> a workload named ``namespace/name`` with ``arrival: {kind: times,
  times_s: [0]}`` and a template carrying all its fields. The simulation is built, not
  run, so no such pod exists yet; its shape (:class:`~k8sim.scheduling.podinfo.PodInfo`)
  is registered and returned by
  :meth:`KubeCluster.pending_pod <k8sim.sim.snapshot.KubeCluster.pending_pod>`.

Limitations (each one that applies to a file is also in :attr:`KubeObjects.warnings`):

- Initial pods carry only name, node, requests, labels and priority, so a bound pod's
  ``affinity``, ``tolerations`` and host ports are lost: its required pod anti-affinity
  does not repel the pending pod (InterPodAffinity), and its host ports do not conflict
  (NodePorts).
- k8sim has one namespace: label selectors of pod affinity and topology spread match
  pods of every namespace (upstream: the pod's own namespace unless ``namespaces`` /
  ``namespaceSelector`` say otherwise; those two fields are dropped with a warning).
- Node conditions are not read: upstream expresses NotReady/unreachable nodes by
  ``node.kubernetes.io/not-ready`` / ``unreachable`` taints, which are in
  ``spec.taints`` and are kept.
- Requests come from the spec, not from ``status`` (in-place resize is not modelled);
  upstream's non-zero defaults for scoring (100m cpu / 200Mi memory) are applied to the
  pod's total, not per container as upstream does.
- Not modelled, warned when a pending pod uses them: ``schedulingGates``,
  PersistentVolumeClaim and ephemeral volumes (volume plugins), ``resourceClaims``
  (DynamicResources), ``status.nominatedNodeName`` (nominated pods).
- The ``kubernetes.io/hostname`` label is the node name in k8sim.
- Other fields are ignored (real objects have hundreds); unsupported keys inside the
  scheduling fields read above are dropped with a warning. Values k8sim's API models
  reject (a malformed toleration, say) are errors naming ``items[i]`` and the field.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from k8sim.config.k8s_types import Affinity, ContainerPort, TopologySpreadConstraint
from k8sim.config.loader import ScenarioError, read_yaml
from k8sim.config.objects import ObjectReader
from k8sim.config.quantity import format_quantity, to_milli, to_units
from k8sim.config.scenario import DEFAULT_SCHEDULER, HOSTNAME_LABEL, Taint, Toleration
from k8sim.scheduling.explain import ExplainError

_LIST_KINDS = ("List", "NodeList", "PodList")
_TERMINAL = ("Succeeded", "Failed")
#: Port keys that do not matter to scheduling (dropped without a warning).
_IGNORED_PORT_KEYS = frozenset({"name"})


@dataclass
class KubeNode:
    name: str
    index: int  # position in the file's items
    allocatable: dict[str, Fraction]
    labels: dict[str, str]
    taints: list[dict[str, str]]
    unschedulable: bool
    images: list[tuple[tuple[str, ...], int]]  # (names, sizeBytes)


@dataclass
class KubePod:
    name: str
    namespace: str
    index: int  # position in the file's items
    labels: dict[str, str]
    node_name: str | None  # spec.nodeName: set = bound
    requests: dict[str, Fraction]
    priority: int
    scheduler_name: str
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    affinity: dict[str, Any] | None = None
    spread: list[dict[str, Any]] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)  # only ports with a hostPort
    # tolerations, affinity, spread and ports are validated (unmodelled keys dropped) for
    # pending pods only; a bound pod's are kept as read (k8sim's initial pods use none).
    image: str | None = None  # first container's image
    phase: str = "Pending"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def bound(self) -> bool:
        return bool(self.node_name)


@dataclass
class KubeObjects:
    """Nodes and non-terminal pods of a snapshot, plus what was ignored."""

    source: str
    nodes: list[KubeNode]
    pods: list[KubePod]
    warnings: list[str] = field(default_factory=list)

    def bound(self) -> list[KubePod]:
        return [p for p in self.pods if p.bound]

    def pending(self) -> list[KubePod]:
        return [p for p in self.pods if not p.bound]

    def find_pod(self, name: str) -> KubePod:
        """By ``namespace/name``, or by name if unique; :class:`ExplainError` otherwise."""
        hits = [p for p in self.pods if p.key == name] or [p for p in self.pods if p.name == name]
        if len(hits) == 1:
            return hits[0]
        if hits:
            raise ExplainError(
                f"{self.source}: {len(hits)} pods are named {name!r} "
                f"({', '.join(p.key for p in hits)}); give namespace/name"
            )
        pending = ", ".join(p.key for p in self.pending()[:10]) or "none"
        raise ExplainError(f"{self.source}: no pod named {name!r} (pending pods: {pending})")

    # -- conversion -----------------------------------------------------------------

    def to_scenario(self, scheduler: dict[str, Any] | None = None) -> dict[str, Any]:
        """A scenario mapping (see the module docstring); ``scheduler`` is its
        ``scheduler:`` section (e.g. ``KubeConfigResult.settings``), default profile if None.
        Pending pods whose ``schedulerName`` no profile has are left out."""
        names = _profile_names(scheduler)
        nodes = []
        for n in self.nodes:
            nodes.append(
                {
                    "name": n.name,
                    "allocatable": {r: _quantity(r, q) for r, q in n.allocatable.items()},
                    "labels": dict(n.labels),
                    "taints": [dict(t) for t in n.taints],
                }
            )
        initial = [
            {
                "name": p.key,
                "nodeName": p.node_name,
                "requests": {r: _quantity(r, q) for r, q in p.requests.items()},
                "labels": dict(p.labels),
                "priority": p.priority,
            }
            for p in self.bound()
        ]
        workloads = []
        for p in self.pending():
            if p.scheduler_name not in names:
                continue
            template: dict[str, Any] = {
                "requests": {r: _quantity(r, q) for r, q in p.requests.items()},
                "priority": p.priority,
                "labels": dict(p.labels),
                "nodeSelector": dict(p.node_selector),
                "tolerations": copy.deepcopy(p.tolerations),
                "schedulerName": p.scheduler_name,
                "topologySpreadConstraints": copy.deepcopy(p.spread),
                "ports": copy.deepcopy(p.ports),
            }
            if p.affinity is not None:
                template["affinity"] = copy.deepcopy(p.affinity)
            if p.image is not None:
                template["image"] = p.image
            workloads.append({"name": p.key, "arrival": {"kind": "times", "times_s": [0]}, "template": template})
        out: dict[str, Any] = {
            "name": Path(self.source).stem or "cluster",
            "cluster": {"nodes": nodes},
            "initial_pods": initial,
            "workloads": workloads,
        }
        if scheduler is not None:
            out["scheduler"] = scheduler
        return out


def _profile_names(scheduler: dict[str, Any] | None) -> set[str]:
    if scheduler is None or not scheduler.get("profiles"):
        return {DEFAULT_SCHEDULER}
    return {p.get("schedulerName", DEFAULT_SCHEDULER) for p in scheduler["profiles"]}


def _quantity(resource: str, q: Fraction) -> str:
    """Exact base units as a quantity string (the scenario rounds identically)."""
    base = to_milli(q) if resource == "cpu" else to_units(q)
    return format_quantity(resource, base)


# ------------------------------------------------------------------------------ parsing


_TOLERATIONS = TypeAdapter(list[Toleration])
_AFFINITY = TypeAdapter(Affinity)
_SPREAD = TypeAdapter(list[TopologySpreadConstraint])
_PORTS = TypeAdapter(list[ContainerPort])
_TAINTS = TypeAdapter(list[Taint])


def _add(into: dict[str, Fraction], more: dict[str, Fraction]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, Fraction(0)) + v


def _max(into: dict[str, Fraction], other: dict[str, Fraction]) -> None:
    for k, v in other.items():
        if v > into.get(k, Fraction(-1)):
            into[k] = v


def pod_requests(r: ObjectReader, spec: dict[str, Any], path: str) -> dict[str, Fraction]:
    """Upstream ``resource.PodRequests`` on the spec (see the module docstring)."""
    total: dict[str, Fraction] = {}
    for j, c in enumerate(r.sequence_or_empty(spec.get("containers"), f"{path}.containers")):
        c = r.mapping_or_empty(c, f"{path}.containers[{j}]")
        res = r.mapping_or_empty(c.get("resources"), f"{path}.containers[{j}].resources")
        _add(total, r.resources(res.get("requests"), f"{path}.containers[{j}].resources.requests"))
    sidecars: dict[str, Fraction] = {}
    init: dict[str, Fraction] = {}
    for j, c in enumerate(r.sequence_or_empty(spec.get("initContainers"), f"{path}.initContainers")):
        c = r.mapping_or_empty(c, f"{path}.initContainers[{j}]")
        res = r.mapping_or_empty(c.get("resources"), f"{path}.initContainers[{j}].resources")
        req = r.resources(res.get("requests"), f"{path}.initContainers[{j}].resources.requests")
        if c.get("restartPolicy") == "Always":  # a sidecar: runs alongside the containers
            _add(total, req)
            _add(sidecars, req)
            need = dict(sidecars)
        else:
            need = dict(req)
            _add(need, sidecars)
        _max(init, need)
    _max(total, init)
    pod_level = r.resources(r.mapping_or_empty(spec.get("resources"), f"{path}.resources").get("requests"),
                            f"{path}.resources.requests")
    for k, v in pod_level.items():
        if k in ("cpu", "memory") or k.startswith("hugepages-"):
            total[k] = v
    _add(total, r.resources(spec.get("overhead"), f"{path}.overhead"))
    return total


def _node(r: ObjectReader, item: dict[str, Any], i: int) -> KubeNode | None:
    path = f"items[{i}]"
    meta = r.mapping_or_empty(item.get("metadata"), f"{path}.metadata")
    spec = r.mapping_or_empty(item.get("spec"), f"{path}.spec")
    status = r.mapping_or_empty(item.get("status"), f"{path}.status")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        r.problem(f"{path}.metadata.name", "required: the node name")
        return None
    labels = r.strings(meta.get("labels"), f"{path}.metadata.labels")
    host = labels.get(HOSTNAME_LABEL)
    if host is not None and host != name:
        r.group(f"node(s) whose {HOSTNAME_LABEL} label differs from the name (k8sim uses the name)", name)
    taints = []
    for j, t in enumerate(r.sequence_or_empty(spec.get("taints"), f"{path}.spec.taints")):
        t = r.mapping_or_empty(t, f"{path}.spec.taints[{j}]")
        taints.append({k: v for k, v in t.items() if k != "timeAdded"})
    taints = r.lenient(_TAINTS, taints, f"{path}.spec.taints") or []
    allocatable = r.resources(status.get("allocatable"), f"{path}.status.allocatable")
    missing = [res for res in ("cpu", "memory") if res not in allocatable]
    if missing:
        r.problem(f"{path}.status.allocatable", f"missing {' and '.join(missing)}")
    images = []
    for j, im in enumerate(r.sequence_or_empty(status.get("images"), f"{path}.status.images")):
        im = r.mapping_or_empty(im, f"{path}.status.images[{j}]")
        names = tuple(str(x) for x in r.sequence_or_empty(im.get("names"), f"{path}.status.images[{j}].names"))
        size = im.get("sizeBytes", 0)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            r.problem(f"{path}.status.images[{j}].sizeBytes", f"expected a non-negative integer, got {size!r}")
            continue
        images.append((names, size))
    unschedulable = r.boolean(spec.get("unschedulable"), f"{path}.spec.unschedulable")
    return KubeNode(name, i, allocatable, labels, taints, unschedulable, images)


def _pod(r: ObjectReader, item: dict[str, Any], i: int) -> KubePod | None:
    path = f"items[{i}]"
    meta = r.mapping_or_empty(item.get("metadata"), f"{path}.metadata")
    spec = r.mapping_or_empty(item.get("spec"), f"{path}.spec")
    status = r.mapping_or_empty(item.get("status"), f"{path}.status")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        r.problem(f"{path}.metadata.name", "required: the pod name")
        return None
    namespace = r.string(meta.get("namespace"), f"{path}.metadata.namespace", "default")
    phase = r.string(status.get("phase"), f"{path}.status.phase", "Pending")
    node_name = r.string(spec.get("nodeName"), f"{path}.spec.nodeName")
    scheduler = r.string(spec.get("schedulerName"), f"{path}.spec.schedulerName", DEFAULT_SCHEDULER)
    if namespace is None or phase is None or scheduler is None or (node_name is None and spec.get("nodeName")):
        return None  # a field of the wrong type (reported)
    key = f"{namespace}/{name}"
    if phase in _TERMINAL:
        r.group("pod(s) in phase Succeeded/Failed skipped (they hold no resources)", key)
        return None
    priority = spec.get("priority")
    if priority is None:
        priority = 0
        if spec.get("priorityClassName"):
            r.group("pod(s) with priorityClassName but no resolved spec.priority (priority 0 used)", key)
    else:
        # spec.priority is an int32; system pods carry up to system-node-critical's 2000001000.
        priority = r.integer(priority, f"{path}.spec.priority", -(2**31), 2**31 - 1)
        if priority is None:
            priority = 0
    ports = []
    for j, c in enumerate(r.sequence_or_empty(spec.get("containers"), f"{path}.spec.containers")):
        c = r.mapping_or_empty(c, f"{path}.spec.containers[{j}]")
        for port in r.sequence_or_empty(c.get("ports"), f"{path}.spec.containers[{j}].ports"):
            if isinstance(port, dict) and port.get("hostPort"):
                ports.append({k: v for k, v in port.items() if k not in _IGNORED_PORT_KEYS})
    tolerations = r.sequence_or_empty(spec.get("tolerations"), f"{path}.spec.tolerations")
    affinity = spec.get("affinity") or None
    spread = r.sequence_or_empty(spec.get("topologySpreadConstraints"), f"{path}.spec.topologySpreadConstraints")
    if node_name is None:
        # Only a pending pod's scheduling fields reach k8sim (a bound pod keeps none of
        # them): validate those, dropping keys k8sim does not model.
        ports = r.lenient(_PORTS, ports, f"{path}.spec.containers[*].ports") or []
        tolerations = r.lenient(_TOLERATIONS, tolerations, f"{path}.spec.tolerations") or []
        if affinity is not None:
            affinity = r.lenient(_AFFINITY, affinity, f"{path}.spec.affinity")
        spread = r.lenient(_SPREAD, spread, f"{path}.spec.topologySpreadConstraints") or []
    containers = [c for c in r.sequence_or_empty(spec.get("containers"), f"{path}.spec.containers") if isinstance(c, dict)]
    image = containers[0].get("image") if containers and isinstance(containers[0].get("image"), str) else None
    pod = KubePod(
        name=name,
        namespace=str(namespace),
        index=i,
        labels=r.strings(meta.get("labels"), f"{path}.metadata.labels"),
        node_name=node_name,
        requests=pod_requests(r, spec, f"{path}.spec"),
        priority=int(priority),
        scheduler_name=str(scheduler),
        node_selector=r.strings(spec.get("nodeSelector"), f"{path}.spec.nodeSelector"),
        tolerations=tolerations,
        affinity=affinity,
        spread=spread,
        ports=ports,
        image=image,
        phase=str(phase),
    )
    if pod.bound:
        if affinity:
            r.group("bound pod(s) whose spec.affinity k8sim's initial pods cannot carry (it is lost)", key)
        if ports:
            r.group("bound pod(s) whose hostPorts k8sim's initial pods cannot carry (they are lost)", key)
    else:
        if spec.get("schedulingGates"):
            r.group("pending pod(s) with schedulingGates (upstream would not try to schedule them yet)", key)
        volumes = [v for v in r.sequence_or_empty(spec.get("volumes"), f"{path}.spec.volumes") if isinstance(v, dict)]
        if any("persistentVolumeClaim" in v or "ephemeral" in v for v in volumes):
            r.group("pending pod(s) with PersistentVolumeClaim/ephemeral volumes (volume plugins not modelled)", key)
        if spec.get("resourceClaims"):
            r.group("pending pod(s) with resourceClaims (DynamicResources not modelled)", key)
        if status.get("nominatedNodeName"):
            r.group("pending pod(s) with status.nominatedNodeName (nominated pods not modelled)", key)
    return pod


def load_kube_objects(path: str | Path) -> KubeObjects:
    """Read ``kubectl get nodes,pods -o yaml`` output; see the module docstring."""
    p = Path(path)
    source = str(p)
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", "expected a Kubernetes List (kubectl get nodes,pods -o yaml)")])
    if data.get("apiVersion") != "v1" or data.get("kind") not in _LIST_KINDS:
        raise ScenarioError(
            source,
            [("kind" if data.get("apiVersion") == "v1" else "apiVersion",
              "expected apiVersion v1 and kind List, NodeList or PodList, got "
              f"{data.get('apiVersion')!r} {data.get('kind')!r} (use kubectl get nodes,pods -A -o yaml)")],
        )
    r = ObjectReader(source)
    nodes: list[KubeNode] = []
    pods: list[KubePod] = []
    skipped: dict[str, int] = {}
    for i, item in enumerate(r.sequence_or_empty(data.get("items"), "items")):
        if not isinstance(item, dict):
            r.problem(f"items[{i}]", "expected an object")
            continue
        kind = item.get("kind")
        if kind == "Node" or (kind is None and data.get("kind") == "NodeList"):
            node = _node(r, item, i)
            if node is not None:
                nodes.append(node)
        elif kind == "Pod" or (kind is None and data.get("kind") == "PodList"):
            pod = _pod(r, item, i)
            if pod is not None:
                pods.append(pod)
        else:
            skipped[str(kind)] = skipped.get(str(kind), 0) + 1
    names = [n.name for n in nodes]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        r.problem("items", f"node(s) listed twice: {dup}")
    keys = [p.key for p in pods]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        r.problem("items", f"pod(s) listed twice: {dup}")
    if not nodes:
        r.problem("items", "no Node objects (use kubectl get nodes,pods -A -o yaml)")
    r.raise_problems()
    known = set(names)
    kept = []
    for pod in pods:
        if pod.bound and pod.node_name not in known:
            r.group("bound pod(s) on nodes not in the file, skipped", f"{pod.key} on {pod.node_name}")
            continue
        kept.append(pod)
    r.flush()
    warnings = r.warnings
    for kind, count in sorted(skipped.items()):
        warnings.append(f"{count} item(s) of kind {kind} ignored (only Node and Pod are read)")
    namespaces = sorted({p.namespace for p in kept})
    if len(namespaces) > 1:
        warnings.append(
            f"pods span {len(namespaces)} namespaces; k8sim has one, so pod affinity and topology spread "
            "selectors match pods of every namespace"
        )
    return KubeObjects(source, nodes, kept, warnings)
