"""The apps objects the controllers share, and how their pods are made.

Upstream, a Deployment controller writes ReplicaSet objects to the API server and the
ReplicaSet controller watches them. k8sim's Cluster API holds only pods and nodes, so
the ``apps/v1`` objects live here, in one :class:`AppStore` per run: every controller
reads and writes its objects through it, and a change to a ReplicaSet (created, scaled,
its pods' status changed) is announced to the store's listeners (the Deployment
controller), as an informer would. The store also

- makes the pods of a template (:class:`PodMaker`: shape, run-time and start-latency
  draws from streams keyed by the owning object, so every policy on one seed sees the
  same pods);
- keeps the record behind the controller metrics: the desired replicas of every object
  over time (``replica_history``) and every owned pod lost and the pod that replaced it
  (``recreations``, the *cause* being why the lost pod went: Preempted, NodeLost,
  Evicted, Failed, Completed, ...).
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.pods import NO_OWNER, RUNNING
from k8sim.rng import BlockSampler

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.pods import PodTemplate
    from k8sim.workloads.manifests import AppObject

#: ``shape_for(key, template, workload) -> shape id``: the simulation interns the shape of
#: pods made from a template (requests and non-zero requests as upstream).
ShapeFn = Callable[[tuple, "PodTemplate", int], int]

#: Reasons of deletions a controller asks for itself (not losses to replace).
SCALED_DOWN = "ScaledDown"
#: upstream's safe-encoding alphabet for generated names (``rand.SafeEncodeString``).
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: PodTemplate, collision: int = 0) -> str:
    """A short stable hash of a pod template (upstream ``controller.ComputeHash``: an
    FNV hash of the template rendered in a safe alphabet; k8sim uses CRC-32 of its
    canonical JSON, so a name such as ``web-7bd5f9c6d`` is the same in every run)."""
    from k8sim.workloads.manifests import dumps_template

    h = zlib.crc32(f"{dumps_template(template)}/{collision}".encode())
    out = ""
    while True:
        out += _ALPHABET[h % len(_ALPHABET)]
        h //= len(_ALPHABET)
        if not h:
            return out


def with_image(template: PodTemplate, image: str, container: str | None = None) -> PodTemplate:
    """``kubectl set image``: ``template`` with ``image`` in every container (or only in
    the one named ``container``; ValueError if none is)."""
    if template.containers:
        names = [c.name for c in template.containers]
        if container is not None and container not in names:
            raise ValueError(f"no container {container!r} in the pod template (containers: {names})")
        containers = [c.model_copy(update={"image": image}) if container in (None, c.name) else c
                      for c in template.containers]
        return template.model_copy(update={"containers": containers})
    if container is not None:
        raise ValueError(f"the pod template has no container named {container!r}")
    return template.model_copy(update={"image": image})


def object_key(text: str) -> int:
    """An integer stream key for an object (streams take integer keys)."""
    return zlib.crc32(text.encode())


class PodMaker:
    """Creates the pods of one template of one object (see the module docstring)."""

    def __init__(self, store: AppStore, template: PodTemplate, shape_key: tuple, sampling: Sampling,
                 preemption_policy: str | None = None):
        self.store = store
        self.template = template
        state = store.ctx.state
        self.shape = store.shape_for(shape_key, template, sampling.workload)
        info = state.shapes[self.shape]
        if preemption_policy is not None:
            info.preemption_policy = preemption_policy
        if template.containers:
            info.container_name = template.containers[0].name
        runtime = sampling.runtime_for(template)
        if runtime is not None:  # the template's own runtime model (images, annotations)
            store.ctx.components["kubelet"].runtime.by_shape[self.shape] = runtime
            info.container_images = runtime.container_images  # ImageLocality
        self.info = info
        self.sampling = sampling

    def create(self, name: str, owner_kind: int, owner: int) -> int:
        info = self.info
        s = self.sampling
        return self.store.create_pod(
            name=name, requests=info.requests, workload=s.workload, shape=info.shape, priority=info.priority,
            duration=s.duration(), start_latency=s.start(), gpu_count=info.gpu_count, gpu_milli=info.gpu_milli,
            owner_kind=owner_kind, owner=owner, nonzero=info.nonzero_bound,
        )


class Sampling:
    """Run-time and start-latency draws of one top-level object's pods, and their runtime
    model.

    Without an image catalog that is ``runtime`` (a
    :class:`~k8sim.runtime.spec.WorkloadRuntime` compiled from ``knobs``, the workload
    entry's template with the object's annotations; None: the workload's model). With
    one, each pod template of the object gets a model of its own
    (:meth:`runtime_for`): its containers' images and pull policies with the simulation
    knobs of ``knobs`` (None: the workload entry's template)."""

    def __init__(self, ctx: Context, workload: int, key: str, duration: Any, start: Any, runtime: Any = None,
                 knobs: PodTemplate | None = None):
        k = object_key(key)
        self.ctx = ctx
        self.workload = workload
        self.key = k
        self.runtime = runtime
        self.knobs = knobs
        self._duration = BlockSampler(duration, ctx.streams.generator("ctl-duration", workload, k)) if duration else None
        self._start = BlockSampler(start, ctx.streams.generator("ctl-start-latency", workload, k))

    def runtime_for(self, template: PodTemplate) -> Any:
        """The runtime model of pods made from the object's pod template ``template``
        (None: the workload's model, or the plain lifecycle)."""
        model = self.ctx.components["kubelet"].runtime
        if model is None or model.catalog is None:
            return self.runtime
        knobs = self.knobs if self.knobs is not None else self.ctx.scenario.workloads[self.workload].template
        return model.compile_pod(self.workload, self.key, knobs, template)

    def duration(self) -> float:
        return self._duration.next() if self._duration is not None else math.inf

    def start(self) -> float:
        return self._start.next()


@dataclass
class ReplicaSetObj:
    """A ReplicaSet (``row`` = its row in the store, the ``owner`` of its pods)."""

    row: int
    name: str
    namespace: str
    template: PodTemplate
    hash: str
    replicas: int
    min_ready_s: float
    maker: PodMaker
    created: float
    deployment: int = -1  # owning Deployment's row, -1 for a standalone ReplicaSet
    revision: int = 0  # deployment.kubernetes.io/revision
    desired_annotation: int = 0  # deployment.kubernetes.io/desired-replicas
    max_annotation: int = 0  # deployment.kubernetes.io/max-replicas
    pods: dict[int, None] = field(default_factory=dict)  # non-terminal pods (insertion order)
    active: dict[int, None] = field(default_factory=dict)  # ... not terminating (IsPodActive)
    ready: set[int] = field(default_factory=set)  # active pods that are Ready
    available: set[int] = field(default_factory=set)  # ... and Ready for minReadySeconds
    deleted: bool = False
    next_pod: int = 0

    @property
    def display(self) -> str:
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"


class AppStore:
    """The run's apps objects, their pods' bookkeeping and the controller record."""

    def __init__(self, ctx: Context, shape_for: ShapeFn):
        self.ctx = ctx
        self.shape_for = shape_for
        self.replicasets: list[ReplicaSetObj] = []
        self.deployments: list[Any] = []
        self.statefulsets: list[Any] = []
        self.daemonsets: list[Any] = []
        #: Listeners of ReplicaSet changes: ``fn(rs_row)`` (the Deployment controller).
        self.rs_listeners: list[Callable[[int], None]] = []
        #: Listeners of "a pod of this ReplicaSet became available": ``fn(rs_row)``.
        self.available_listeners: list[Callable[[int], None]] = []
        self._index: dict[int, int] = {}  # workload -> next pod index
        # Metrics record.
        self.history: list[tuple[float, str, str, int]] = []  # time, kind, object, desired
        self.objects: list[dict[str, Any]] = []  # one row per controller object
        self.losses: dict[tuple[int, int], deque] = {}  # (owner_kind, owner) -> lost (time, pod, cause)
        self.recreations: list[tuple[float, int, str, float, int, str, str]] = []

    # -- pods -------------------------------------------------------------------------

    def create_pod(self, *, name: str, requests: np.ndarray, workload: int, shape: int, priority: int,
                   duration: float, start_latency: float, gpu_count: int, gpu_milli: int, owner_kind: int,
                   owner: int, nonzero: np.ndarray | None = None) -> int:
        i = self.next_index(workload)
        pod = self.ctx.api.create_pod(
            name=name, requests=requests, workload=workload, index=i, shape=shape, priority=priority,
            duration=duration, start_latency=start_latency, gpu_count=gpu_count, gpu_milli=gpu_milli,
            owner_kind=owner_kind, owner=owner, nonzero=nonzero,
        )
        if owner_kind != NO_OWNER:
            lost = self.losses.get((owner_kind, owner))
            if lost:
                t, gone, cause = lost.popleft()
                self.recreations.append((t, gone, cause, self.ctx.env.now, pod, "", ""))
        return pod

    def next_index(self, workload: int) -> int:
        """The next pod number of ``workload`` (its pods' ``index`` column)."""
        i = self._index.get(workload, 0)
        self._index[workload] = i + 1
        return i

    def lost(self, owner_kind: int, owner: int, pod: int, cause: str) -> None:
        """An owned pod went for ``cause`` without its controller asking: the next pod
        the owner creates is recorded as its replacement."""
        self.losses.setdefault((owner_kind, owner), deque()).append((self.ctx.env.now, pod, cause))

    def is_ready(self, pod: int, now: float) -> bool:
        """Running and Ready (``podutil.IsPodReady``)."""
        pods = self.ctx.state.pods
        r = pods.ready[pod]
        return bool(pods.phase[pod] == RUNNING and r <= now)

    def is_available(self, pod: int, min_ready_s: float, now: float) -> bool:
        """Ready for at least ``min_ready_s`` (``podutil.IsPodAvailable``; k8sim counts
        a pod available at exactly ``ready + minReadySeconds``)."""
        pods = self.ctx.state.pods
        r = pods.ready[pod]
        return bool(pods.phase[pod] == RUNNING and r + min_ready_s <= now)

    # -- record -----------------------------------------------------------------------

    def desired(self, kind: str, name: str, namespace: str, value: int) -> None:
        """Record the desired replicas of an object from now on."""
        display = name if namespace == "default" else f"{namespace}/{name}"
        self.history.append((self.ctx.env.now, kind, display, int(value)))

    def register(self, kind: str, obj: AppObject | None, name: str, namespace: str, **extra: Any) -> None:
        display = name if namespace == "default" else f"{namespace}/{name}"
        self.objects.append({"kind": kind, "object": display, "namespace": namespace, **extra})

    def frames(self) -> dict[str, pd.DataFrame]:
        names = self.ctx.state.pods.names
        hist = pd.DataFrame(self.history, columns=["time", "kind", "object", "desired"])
        ready = self.ctx.state.pods.ready
        now = self.ctx.env.now

        def ready_at(p: int) -> float:
            r = float(ready[p])
            return r if r <= now else math.nan

        rec = pd.DataFrame(
            [(t, names[g], c, tc, names[p], ready_at(p)) for t, g, c, tc, p, _, _ in self.recreations],
            columns=["lost_at", "lost_pod", "cause", "created_at", "replacement", "replacement_ready_at"],
        )
        # Time from the loss to its replacement being Ready (NaN: not Ready by the end).
        rec["recovery_s"] = rec["replacement_ready_at"] - rec["lost_at"]
        pending = [(t, names[g], c, k, o) for (k, o), q in self.losses.items() for t, g, c in q]
        unreplaced = pd.DataFrame(pending, columns=["lost_at", "lost_pod", "cause", "owner_kind", "owner"])
        rs = pd.DataFrame(
            [{"replicaset": r.display, "namespace": r.namespace,
              "deployment": (self.deployments[r.deployment].display if r.deployment >= 0 else ""),
              "revision": r.revision, "template_hash": r.hash, "created": r.created, "replicas_at_end": r.replicas,
              "min_ready_s": r.min_ready_s, "deleted": r.deleted} for r in self.replicasets],
            columns=["replicaset", "namespace", "deployment", "revision", "template_hash", "created",
                     "replicas_at_end", "min_ready_s", "deleted"],
        )
        objs = pd.DataFrame(self.objects, columns=["kind", "object", "namespace", "min_ready_s", "workload"])
        for f in (hist, rec, unreplaced, rs, objs):
            for c in f.columns:
                if f[c].dtype == object:
                    f[c] = f[c].astype("string")
        return {"replica_history": hist, "recreations": rec, "unreplaced": unreplaced, "replicasets": rs,
                "controller_objects": objs}
