"""Reading a real cluster snapshot: ``kubectl get nodes,pods,namespaces -A -o yaml``.

:func:`load_kube_objects` reads a ``v1`` ``List`` (also ``NodeList``/``PodList``/
``NamespaceList``) whose ``items`` are ``Node``, ``Pod`` and ``Namespace`` objects, as
the Kubernetes API serves them, and keeps what scheduling reads:

- Node: ``metadata.name``, ``metadata.labels`` (exactly: no ``kubernetes.io/hostname``
  is added where the object lacks it), ``spec.taints`` (``timeAdded`` dropped),
  ``spec.unschedulable``, ``status.allocatable`` (every resource, quantities exact) and
  ``status.images`` (names and ``sizeBytes``, for ImageLocality).
- Pod, bound or pending alike (upstream's plugins read a bound pod's affinity terms and
  host ports too): ``metadata.name``/``namespace``/``labels``, ``spec.nodeName`` (set =
  bound), ``spec.priority``, ``spec.nodeSelector``, ``spec.tolerations``,
  ``spec.affinity``, ``spec.topologySpreadConstraints``, ports with a ``hostPort`` of the
  containers and sidecar init containers (protocol and ``hostIP`` kept, as upstream's
  ``GetHostPorts``), ``spec.schedulerName``, each container's
  and init container's ``image`` and ``resources.requests`` (a resource a container
  names with ``0`` is an explicit zero, one it does not name is absent: the non-zero
  scoring defaults apply only to absent ones), init containers' ``restartPolicy``
  (sidecars), ``spec.resources.requests`` (pod level) and ``spec.overhead``. The pod's
  requests are computed from them as upstream ``resource.PodRequests``
  (:mod:`k8sim.scheduling.pod_resources`).
- Namespace: ``metadata.name`` and ``metadata.labels`` (``namespaceSelector`` of pod
  affinity terms). A namespace without an object has only ``kubernetes.io/metadata.name``.

Pods in phase Succeeded or Failed are skipped: the scheduler's informer excludes them
(``status.phase!=Succeeded,status.phase!=Failed``), so they hold no resources.

:meth:`KubeObjects.to_scenario` converts the snapshot to a k8sim scenario (plain data,
validated by :func:`k8sim.validate_scenario`) and :func:`k8sim.sim.snapshot.build_snapshot`
builds a :class:`~k8sim.sim.Simulation` from it, so the cluster state comes from the
real code paths:

- every node -> ``cluster.nodes[]`` (name, allocatable, exact labels, taints, images); a
  cordoned node (``spec.unschedulable``) is then cordoned with ``ops.set_unschedulable``
  because the scenario format has no such field;
- every bound pod -> ``initial_pods[]`` (name ``namespace/name``, ``nodeName``,
  namespace, labels, priority, containers with requests and images, overhead, pod-level
  requests, affinity, host ports). A node whose bound pods exceed its allocatable
  (static pods, a resized node) is accepted with a warning, as kube-scheduler accounts
  for such pods as they are;
- every pending pod -> a workload named ``namespace/name`` with ``arrival: {kind: times,
  times_s: [0]}`` and a template carrying all its fields. The simulation is built, not
  run, so no such pod exists yet; its shape (:class:`~k8sim.scheduling.podinfo.PodInfo`)
  is registered and returned by
  :meth:`KubeCluster.pending_pod <k8sim.sim.snapshot.KubeCluster.pending_pod>`;
- Namespace objects -> ``namespaces[]``.

Limitations (each one that applies to a file is also in :attr:`KubeObjects.warnings`):

- Node conditions are not read: upstream expresses NotReady/unreachable nodes by
  ``node.kubernetes.io/not-ready`` / ``unreachable`` taints, which are in
  ``spec.taints`` and are kept.
- Requests come from the spec, not from ``status`` (in-place resize is not modelled).
- Not modelled, warned when a pending pod uses them: ``schedulingGates``,
  PersistentVolumeClaim and ephemeral volumes (volume plugins), ``resourceClaims``
  (DynamicResources), ``status.nominatedNodeName`` (nominated pods),
  ``preemptionPolicy: Never``.
- Every other pod or container field is either one no scheduling plugin reads (a fixed
  list: ``command``, probes, ``dnsPolicy``, ...), dropped in silence, or warned about
  once by name with the pods that use it; unsupported keys inside the scheduling fields
  read above are dropped with a warning naming them. Values k8sim's API models reject (a
  malformed toleration, say) are errors naming ``items[i]`` and the field.
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
from k8sim.config.scenario import DEFAULT_SCHEDULER, Taint, Toleration
from k8sim.constants import (
    GPU_DEVICES_ANNOTATION,
    GPU_MILLI,
    GPU_MILLI_ANNOTATION,
    GPU_MODEL_LABEL,
    GPU_MODELS_ANNOTATION,
    GPU_RESOURCE,
    MAX_GPUS_PER_NODE,
)
from k8sim.scheduling.explain import ExplainError
from k8sim.scheduling.pod_resources import ContainerRequests
from k8sim.scheduling.pod_resources import pod_requests as requests_of

_LIST_KINDS = ("List", "NodeList", "PodList", "NamespaceList")
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
class KubeContainer:
    name: str
    image: str | None
    requests: dict[str, Fraction]
    sidecar: bool = False  # an init container with restartPolicy: Always


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
    # tolerations, affinity, spread and ports are validated (unmodelled keys dropped).
    image: str | None = None  # first container's image
    phase: str = "Pending"
    #: Main and init containers: name, image, requests (exact, only the resources the
    #: container names: an explicit 0 is kept), and for init containers the sidecar flag.
    containers: list[KubeContainer] = field(default_factory=list)
    init_containers: list[KubeContainer] = field(default_factory=list)
    overhead: dict[str, Fraction] = field(default_factory=dict)  # spec.overhead
    pod_level: dict[str, Fraction] = field(default_factory=dict)  # spec.resources.requests
    #: k8sim's GPU annotations (see :mod:`k8sim.sim.export`): milli-GPU per device,
    #: allowed models, the devices a bound pod holds. None where absent.
    gpu_milli: int | None = None
    gpu_models: str | None = None
    gpu_devices: list[int] | None = None

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
    #: Labels of the file's Namespace objects (namespaceSelector); others have only
    #: ``kubernetes.io/metadata.name``.
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)

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
        devices = self.gpu_devices_modelled()
        nodes = []
        for n in self.nodes:
            alloc = dict(n.allocatable)
            gpus = None
            if devices and GPU_RESOURCE in alloc and GPU_MODEL_LABEL in n.labels:
                gpus = {"count": int(alloc.pop(GPU_RESOURCE)), "model": n.labels[GPU_MODEL_LABEL]}
            node: dict[str, Any] = {
                "name": n.name,
                "allocatable": {r: _quantity(r, q) for r, q in alloc.items()},
                "labels": dict(n.labels),
                "exact_labels": True,
                "taints": [dict(t) for t in n.taints],
            }
            if gpus is not None:
                node["gpus"] = gpus
            images = [{"names": list(names_), "sizeBytes": size} for names_, size in n.images if names_]
            if images:
                node["images"] = images
            nodes.append(node)
        initial = []
        for p in self.bound():
            pod: dict[str, Any] = {"name": p.key, "nodeName": p.node_name, "priority": p.priority}
            pod.update(_pod_fields(p, devices))
            if devices and p.gpu_devices is not None and "gpu" in pod:
                pod["gpuDevices"] = list(p.gpu_devices)
            initial.append(pod)
        workloads = []
        for p in self.pending():
            if p.scheduler_name not in names:
                continue
            template: dict[str, Any] = {
                "priority": p.priority,
                "nodeSelector": dict(p.node_selector),
                "tolerations": copy.deepcopy(p.tolerations),
                "schedulerName": p.scheduler_name,
                "topologySpreadConstraints": copy.deepcopy(p.spread),
            }
            template.update(_pod_fields(p, devices))
            workloads.append({"name": p.key, "arrival": {"kind": "times", "times_s": [0]}, "template": template})
        namespaces = [{"name": ns, "labels": dict(labels)} for ns, labels in self.namespaces.items()]
        out: dict[str, Any] = {
            "name": Path(self.source).stem or "cluster",
            "cluster": {"nodes": nodes},
            "initial_pods": initial,
            "workloads": workloads,
        }
        if namespaces:
            out["namespaces"] = namespaces
        if scheduler is not None:
            out["scheduler"] = scheduler
        return out

    def gpu_devices_modelled(self) -> bool:
        """Whether GPUs are read into k8sim's per-device GPU model: when some node with
        ``nvidia.com/gpu`` carries the ``k8sim.io/gpu-model`` label (a cluster that
        ``k8sim export`` wrote). Then such nodes get ``gpus`` and every pod's
        ``nvidia.com/gpu`` request becomes a ``gpu`` request (its share and models from
        the pod's annotations). Otherwise ``nvidia.com/gpu`` stays an extended resource
        that NodeResourcesFit counts, as on a real cluster."""
        return any(GPU_RESOURCE in n.allocatable and GPU_MODEL_LABEL in n.labels for n in self.nodes)


def exact_quantity(q: Fraction) -> str:
    """A quantity read from an object as an exact decimal string (Kubernetes quantities
    are finite decimals), so that container requests are summed exactly and rounded once,
    as upstream ``PodRequests`` does, not rounded per container."""
    if q.denominator == 1:
        return str(q.numerator)
    digits = 0
    while (q * 10**digits).denominator != 1:
        digits += 1
        if digits > 30:  # cannot come from a quantity string
            raise ValueError(f"quantity {q} is not a finite decimal")
    scaled = str(int(q * 10**digits)).rjust(digits + 1, "0")
    return f"{scaled[:-digits]}.{scaled[-digits:]}"


def exact_quantities(resources: dict[str, Fraction]) -> dict[str, str]:
    """Every quantity of ``resources`` as :func:`exact_quantity` gives it."""
    return {r: exact_quantity(q) for r, q in resources.items()}


def _pod_fields(p: KubePod, gpu_devices: bool = False) -> dict[str, Any]:
    """What a bound pod (initial pod) and a pending pod (template) share: namespace,
    labels, per-container requests and images, overhead, pod-level requests, pod
    (anti-)affinity, host ports; with ``gpu_devices`` (see
    :meth:`KubeObjects.gpu_devices_modelled`) the ``nvidia.com/gpu`` requests become a
    ``gpu`` request."""
    out: dict[str, Any] = {"namespace": p.namespace, "labels": dict(p.labels)}

    def own(requests: dict[str, Fraction]) -> dict[str, str]:
        return exact_quantities({r: q for r, q in requests.items() if not (gpu_devices and r == GPU_RESOURCE)})

    out["containers"] = [
        {"name": c.name, "requests": own(c.requests), **({"image": c.image} if c.image else {})}
        for c in p.containers
    ] or [{"name": "main", "requests": {}}]
    if p.init_containers:
        out["initContainers"] = [
            {"name": c.name, "requests": own(c.requests), **({"image": c.image} if c.image else {}),
             **({"restartPolicy": "Always"} if c.sidecar else {})}
            for c in p.init_containers
        ]
    if p.overhead:
        out["overhead"] = own(p.overhead)
    if p.pod_level:
        out["resources"] = {"requests": own(p.pod_level)}
    count = p.requests.get(GPU_RESOURCE, Fraction(0))
    if gpu_devices and count > 0:
        out["gpu"] = {"count": int(count), **({"milli": p.gpu_milli} if p.gpu_milli is not None else {}),
                      **({"models": p.gpu_models} if p.gpu_models else {})}
    if p.affinity is not None:
        out["affinity"] = copy.deepcopy(p.affinity)
    if p.ports:
        out["ports"] = copy.deepcopy(p.ports)
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


def _container(r: ObjectReader, c: Any, path: str, init: bool) -> KubeContainer:
    c = r.mapping_or_empty(c, path)
    res = r.mapping_or_empty(c.get("resources"), f"{path}.resources")
    requests = r.resources(res.get("requests"), f"{path}.resources.requests")
    for key in ("image", "name"):
        if c.get(key) is not None and not isinstance(c.get(key), str):
            r.problem(f"{path}.{key}", f"expected a string, got {c.get(key)!r}")
    image = c.get("image") if isinstance(c.get("image"), str) and c.get("image") else None
    # Upstream requires a name; one missing is given the container's position.
    name = c.get("name") if isinstance(c.get("name"), str) and c.get("name") else f"c{path.rsplit('[', 1)[-1][:-1]}"
    sidecar = init and c.get("restartPolicy") == "Always"
    unknown = sorted(set(c) - _READ_CONTAINER_KEYS - _IRRELEVANT_CONTAINER_KEYS)
    for key in unknown:
        r.group(f"container field(s) k8sim does not model, ignored: {'initContainers' if init else 'containers'}[*].{key}",
                path)
    if res.get("claims"):
        r.group("container(s) with resources.claims (DynamicResources not modelled)", path)
    return KubeContainer(str(name), image, requests, sidecar)


def read_containers(r: ObjectReader, spec: dict[str, Any], path: str) -> tuple[list[KubeContainer], list[KubeContainer]]:
    """The main and init containers of the pod spec ``spec`` (at ``path``): name, image,
    ``resources.requests``, sidecar (an init container with ``restartPolicy: Always``).
    Problems and unmodelled container fields are reported through ``r``."""
    main = [_container(r, c, f"{path}.containers[{j}]", False)
            for j, c in enumerate(r.sequence_or_empty(spec.get("containers"), f"{path}.containers"))]
    init = [_container(r, c, f"{path}.initContainers[{j}]", True)
            for j, c in enumerate(r.sequence_or_empty(spec.get("initContainers"), f"{path}.initContainers"))]
    return main, init


def pod_level_requests(r: ObjectReader, spec: dict[str, Any], path: str) -> dict[str, Fraction]:
    """The pod-level ``spec.resources.requests`` of the pod spec ``spec`` (empty without)."""
    return r.resources(r.mapping_or_empty(spec.get("resources"), f"{path}.resources").get("requests"),
                       f"{path}.resources.requests")


def pod_requests(r: ObjectReader, spec: dict[str, Any], path: str) -> dict[str, Fraction]:
    """Upstream ``resource.PodRequests`` on the spec (see the module docstring)."""
    main, init = read_containers(r, spec, path)
    return _requests(main, init, pod_level_requests(r, spec, path), r.resources(spec.get("overhead"), f"{path}.overhead"))


def _requests(main: list[KubeContainer], init: list[KubeContainer], pod_level: dict[str, Fraction],
              overhead: dict[str, Fraction]) -> dict[str, Fraction]:
    return requests_of([ContainerRequests(c.requests) for c in main],
                       [ContainerRequests(c.requests, c.sidecar) for c in init], pod_level, overhead)


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


#: Pod spec fields the loader reads (or checks and warns about).
_READ_SPEC_KEYS = frozenset({
    "containers", "initContainers", "nodeName", "priority", "priorityClassName", "nodeSelector",
    "tolerations", "affinity", "topologySpreadConstraints", "schedulerName", "overhead", "resources",
    "volumes", "schedulingGates", "resourceClaims", "preemptionPolicy",
})
#: Pod spec fields no kube-scheduler filter or score plugin reads (dropped in silence).
_IRRELEVANT_SPEC_KEYS = frozenset({
    "restartPolicy", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy", "dnsConfig",
    "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "securityContext",
    "imagePullSecrets", "hostname", "subdomain", "enableServiceLinks", "setHostnameAsFQDN",
    "shareProcessNamespace", "readinessGates", "hostAliases", "hostNetwork", "hostPID", "hostIPC",
    "hostUsers", "runtimeClassName", "os", "ephemeralContainers", "resourceClaimStatuses",
})
#: Container fields the loader reads.
_READ_CONTAINER_KEYS = frozenset({"name", "image", "resources", "ports", "restartPolicy"})
#: Container fields no scheduling plugin reads.
_IRRELEVANT_CONTAINER_KEYS = frozenset({
    "command", "args", "workingDir", "env", "envFrom", "volumeMounts", "volumeDevices", "livenessProbe",
    "readinessProbe", "startupProbe", "lifecycle", "terminationMessagePath", "terminationMessagePolicy",
    "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty", "resizePolicy", "restartPolicyRules",
})


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
    node_name = node_name or None
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
    for unknown in sorted(set(spec) - _READ_SPEC_KEYS - _IRRELEVANT_SPEC_KEYS):
        r.group(f"pod field(s) k8sim does not model, ignored: spec.{unknown}", key)
    main, init = read_containers(r, spec, f"{path}.spec")
    # Host ports as upstream's schedutil.GetHostPorts: those of sidecar init containers
    # (restartPolicy: Always, they run for the pod's whole life), then the containers'.
    ports = []
    for kind in ("initContainers", "containers"):
        value = spec.get(kind)
        listed: list[Any] = value if isinstance(value, list) else []  # else reported by read_containers
        for j, c in enumerate(listed):
            if not isinstance(c, dict) or (kind == "initContainers" and c.get("restartPolicy") != "Always"):
                continue
            for port in r.sequence_or_empty(c.get("ports"), f"{path}.spec.{kind}[{j}].ports"):
                if isinstance(port, dict) and port.get("hostPort"):
                    ports.append({k: v for k, v in port.items() if k not in _IGNORED_PORT_KEYS})
    # Every scheduling field is validated, for bound and pending pods alike: upstream's
    # plugins read a bound pod's pod (anti-)affinity and host ports too. Keys k8sim does
    # not model are dropped with a warning naming them.
    ports = r.lenient(_PORTS, ports, f"{path}.spec.containers[*].ports") or []  # (sidecars' included)
    tolerations = r.lenient(_TOLERATIONS, r.sequence_or_empty(spec.get("tolerations"), f"{path}.spec.tolerations"),
                            f"{path}.spec.tolerations") or []
    affinity = spec.get("affinity") or None
    if affinity is not None:
        affinity = r.lenient(_AFFINITY, affinity, f"{path}.spec.affinity")
    spread = r.lenient(_SPREAD, r.sequence_or_empty(spec.get("topologySpreadConstraints"),
                                                    f"{path}.spec.topologySpreadConstraints"),
                       f"{path}.spec.topologySpreadConstraints") or []
    pod_level = pod_level_requests(r, spec, f"{path}.spec")
    overhead = r.resources(spec.get("overhead"), f"{path}.spec.overhead")
    notes = r.strings(meta.get("annotations"), f"{path}.metadata.annotations")
    gpu_milli, gpu_devices = None, None
    if GPU_MILLI_ANNOTATION in notes:
        gpu_milli = _annotated_int(r, notes[GPU_MILLI_ANNOTATION], f"{path}.metadata.annotations.{GPU_MILLI_ANNOTATION}",
                                   1, GPU_MILLI)
    if GPU_DEVICES_ANNOTATION in notes:
        where = f"{path}.metadata.annotations.{GPU_DEVICES_ANNOTATION}"
        parsed = [_annotated_int(r, d, where, 0, MAX_GPUS_PER_NODE - 1) for d in notes[GPU_DEVICES_ANNOTATION].split(",")]
        gpu_devices = None if None in parsed else [d for d in parsed if d is not None]
    pod = KubePod(
        name=name,
        namespace=namespace,
        index=i,
        labels=r.strings(meta.get("labels"), f"{path}.metadata.labels"),
        node_name=node_name,
        requests=_requests(main, init, pod_level, overhead),
        priority=int(priority),
        scheduler_name=str(scheduler),
        node_selector=r.strings(spec.get("nodeSelector"), f"{path}.spec.nodeSelector"),
        tolerations=tolerations,
        affinity=affinity,
        spread=spread,
        ports=ports,
        image=main[0].image if main else None,
        phase=str(phase),
        containers=main,
        init_containers=init,
        overhead=overhead,
        pod_level=pod_level,
        gpu_milli=gpu_milli,
        gpu_models=notes.get(GPU_MODELS_ANNOTATION) or None,
        gpu_devices=gpu_devices,
    )
    if not pod.bound:
        if spec.get("schedulingGates"):
            r.group("pending pod(s) with schedulingGates (upstream would not try to schedule them yet)", key)
        volumes = [v for v in r.sequence_or_empty(spec.get("volumes"), f"{path}.spec.volumes") if isinstance(v, dict)]
        if any("persistentVolumeClaim" in v or "ephemeral" in v for v in volumes):
            r.group("pending pod(s) with PersistentVolumeClaim/ephemeral volumes (volume plugins not modelled)", key)
        if spec.get("resourceClaims"):
            r.group("pending pod(s) with resourceClaims (DynamicResources not modelled)", key)
        if status.get("nominatedNodeName"):
            r.group("pending pod(s) with status.nominatedNodeName (nominated pods not modelled)", key)
        if spec.get("preemptionPolicy") == "Never":
            r.group("pending pod(s) with preemptionPolicy Never (k8sim takes it from a PriorityClass only; "
                    "PreemptLowerPriority used)", key)
    return pod


def _annotated_int(r: ObjectReader, text: str, path: str, lo: int, hi: int) -> int | None:
    """An integer written in an annotation (a string), within [lo, hi]."""
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or not lo <= value <= hi:
        r.problem(path, f"expected an integer in [{lo}, {hi}], got {text!r}")
        return None
    return value


def _namespace(r: ObjectReader, item: dict[str, Any], i: int) -> tuple[str, dict[str, str]] | None:
    path = f"items[{i}]"
    meta = r.mapping_or_empty(item.get("metadata"), f"{path}.metadata")
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        r.problem(f"{path}.metadata.name", "required: the namespace name")
        return None
    return name, r.strings(meta.get("labels"), f"{path}.metadata.labels")


def load_kube_objects(path: str | Path) -> KubeObjects:
    """Read ``kubectl get nodes,pods,namespaces -A -o yaml`` output; see the module docstring."""
    p = Path(path)
    source = str(p)
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", "expected a Kubernetes List (kubectl get nodes,pods,namespaces -A -o yaml)")])
    if data.get("apiVersion") != "v1" or data.get("kind") not in _LIST_KINDS:
        raise ScenarioError(
            source,
            [("kind" if data.get("apiVersion") == "v1" else "apiVersion",
              "expected apiVersion v1 and kind List, NodeList, PodList or NamespaceList, got "
              f"{data.get('apiVersion')!r} {data.get('kind')!r} (use kubectl get nodes,pods,namespaces -A -o yaml)")],
        )
    r = ObjectReader(source)
    nodes: list[KubeNode] = []
    pods: list[KubePod] = []
    namespaces: dict[str, dict[str, str]] = {}
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
        elif kind == "Namespace" or (kind is None and data.get("kind") == "NamespaceList"):
            ns = _namespace(r, item, i)
            if ns is not None:
                namespaces[ns[0]] = ns[1]
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
        r.problem("items", "no Node objects (use kubectl get nodes,pods,namespaces -A -o yaml)")
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
        warnings.append(f"{count} item(s) of kind {kind} ignored (only Node, Pod and Namespace are read)")
    selectors = any(
        t.get("namespaceSelector") not in (None, {})
        for p in kept for t in _affinity_terms(p.affinity)
    )
    if selectors and not namespaces:
        warnings.append(
            "pod affinity terms use namespaceSelector but the file has no Namespace objects: namespaces are "
            "known only by their kubernetes.io/metadata.name label (add them: kubectl get nodes,pods,namespaces -A -o yaml)"
        )
    return KubeObjects(source, nodes, kept, warnings, namespaces)


def _affinity_terms(affinity: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every PodAffinityTerm (required and preferred) of a validated ``spec.affinity``."""
    out: list[dict[str, Any]] = []
    for kind in ("podAffinity", "podAntiAffinity"):
        block = (affinity or {}).get(kind) or {}
        out += list(block.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        out += [w.get("podAffinityTerm") or {} for w in block.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
    return out
