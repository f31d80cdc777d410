"""Pod shapes: what the scheduler sees of a pod, interned once per distinct kind of pod.

A shape (:class:`~k8sim.scheduling.podinfo.PodInfo`) holds a pod's requests (with
upstream's non-zero scoring defaults), priority, selectors, affinity, tolerations (with
the DefaultTolerationSeconds admission defaults),
ports, images and GPU request. Pods of one workload template share a shape; trace pods
get one per distinct request. Shapes are interned under a key that says where the pod
came from (``("workload", i)``, ``("initial", i)``, ``("trace", ...)``) plus its requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.cluster import ops
from k8sim.cluster.pods import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST
from k8sim.config.scenario import DEFAULT_SCHEDULER, InitialPod, PodTemplate, Scenario
from k8sim.controllers.defaulttolerations import with_default_toleration_seconds
from k8sim.controllers.runtimeclass import admit
from k8sim.runtime.catalog import normalize_image_name
from k8sim.scheduling.pod_resources import ContainerRequests, PodResources, pod_resources
from k8sim.scheduling.podinfo import PodInfo, requested_rows_of, variants

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.config.runtimeclass import RuntimeClass
    from k8sim.runtime.spec import RuntimeModel

#: A GPU request: (devices, milli per device, allowed model names or None for any).
GpuRequest = tuple[int, int, frozenset[str] | None]


def _container_requests(spec: PodTemplate | InitialPod) -> tuple[list[ContainerRequests], list[ContainerRequests]]:
    """The main and init containers' requests of a template or an initial pod: one
    container with ``requests`` unless some container gives its own (see
    :class:`~k8sim.config.pods.PodTemplate`)."""
    per_container = (any(c.requests is not None for c in spec.containers)
                     or any(c.requests is not None for c in spec.init_containers))
    if not per_container:
        return [ContainerRequests(dict(spec.requests))], []
    main = [ContainerRequests(dict(c.requests or {})) for c in spec.containers] or [ContainerRequests({})]
    init = [ContainerRequests(dict(c.requests or {}), sidecar=c.restart_policy == "Always")
            for c in spec.init_containers]
    return main, init


def spec_resources(spec: PodTemplate | InitialPod, runtime_class: RuntimeClass | None = None) -> PodResources:
    """Requests and non-zero requests of a template or an initial pod, as upstream
    (:mod:`k8sim.scheduling.pod_resources`); with the pod's ``runtime_class``, its
    ``overhead.podFixed`` is the pod's overhead (RuntimeClass admission, ``setOverhead``)."""
    main, init = _container_requests(spec)
    pod_level = spec.resources.requests if spec.resources is not None else None
    overhead = admit(runtime_class, spec.overhead, {}, ()).overhead
    return pod_resources(main, init, pod_level, overhead)


def image_names(spec: PodTemplate | InitialPod) -> tuple[str, ...]:
    """Normalised image of every container, init containers first ("" = no image)."""
    names = [c.image for c in spec.init_containers]
    names += [c.image for c in spec.containers] if spec.containers else [spec.image]
    return tuple(normalize_image_name(n) if n else "" for n in names)


class ShapeBook:
    """Interns the run's pod shapes into ``state.shapes`` (ids are list positions)."""

    def __init__(self, state: ClusterState, scenario: Scenario, runtime: RuntimeModel | None):
        self.state = state
        self.scenario = scenario
        self.runtime = runtime
        self.ids: dict[tuple, int] = {}
        #: (template, workload) -> (what every shape of that template shares, its
        #: RuntimeClass); the template is kept so that its id is not reused.
        self._common: dict[tuple[int, int], tuple[PodTemplate, dict[str, Any], RuntimeClass | None]] = {}

    def _template_fields(self, template: PodTemplate, workload: int) -> tuple[dict[str, Any], RuntimeClass | None]:
        """The PodInfo fields that depend on the template alone, computed once per
        template: shapes of one template (a trace gives one per distinct request) share
        these objects (read only once registered), rather than a copy each."""
        key = (id(template), workload)
        got = self._common.get(key)
        if got is not None and got[0] is template:
            return got[1], got[2]
        # Admission: DefaultTolerationSeconds adds the not-ready / unreachable NoExecute
        # tolerations a pod lacks, then RuntimeClass merges its class's nodeSelector and
        # tolerations, as upstream does at creation.
        rc = self.scenario.runtime_class(template)
        admitted = admit(rc, template.overhead, template.node_selector,
                         with_default_toleration_seconds(tuple(template.tolerations)))
        common: dict[str, Any] = dict(
            priority=self.scenario.pod_priority(template),
            scheduler_name=template.scheduler_name,
            node_selector=admitted.node_selector,
            tolerations=admitted.tolerations,
            labels=dict(template.labels),
            namespace=template.namespace,
            workload=workload,
            node_name=template.node_name,
            affinity=template.affinity,
            spread=tuple(template.topology_spread_constraints),
            ports=tuple(template.ports),
            image=template.image,
            image_names=image_names(template),
            container_images=self.runtime.container_images(workload) if self.runtime is not None else (),
            preemption_policy=self.scenario.preemption_policy(template),
            termination_grace_s=template.termination_grace_period_s,
        )
        self._common[key] = (template, common, rc)
        return common, rc

    def shape_for(self, key: tuple, requests: np.ndarray, template: PodTemplate | None, workload: int = -1,
                  labels: dict[str, str] | None = None, priority: int = 0, gpu: GpuRequest | None = None,
                  trace_priority: int | None = None, nonzero: tuple[int, int] | None = None,
                  nonzero_bound: tuple[int, int] | None = None, initial: InitialPod | None = None,
                  unique: bool = False) -> int:
        """Intern the shape of pods with ``requests`` made from ``template`` (or from the
        initial pod ``initial``; with neither, only labels and priority). Trace pods pass
        their own ``gpu`` request and, with ``use_trace_priority``, their
        ``trace_priority``. ``nonzero`` / ``nonzero_bound`` are the scoring requests of
        :mod:`k8sim.scheduling.pod_resources`; absent (trace pods), a cpu or memory
        request of 0 counts as absent and gets upstream's default.

        ``unique``: the caller asks for this key and these requests once only (a
        trace's distinct requests), so the shape is not kept in ``ids`` (a key per
        shape is a good part of a shape's memory when a trace has one per pod)."""
        full_key = (key, requests.tobytes())
        sid = None if unique else self.ids.get(full_key)
        if sid is not None:
            return sid
        info = self._build(key, requests, template, workload, labels, priority, gpu, trace_priority, nonzero,
                           nonzero_bound, initial)
        sid = ops.add_shape(self.state, info)
        if not unique:
            self.ids[full_key] = sid
        return sid

    def _build(self, key: tuple, requests: np.ndarray, template: PodTemplate | None, workload: int,
               labels: dict[str, str] | None, priority: int, gpu: GpuRequest | None, trace_priority: int | None,
               nonzero: tuple[int, int] | None, nonzero_bound: tuple[int, int] | None,
               initial: InitialPod | None) -> PodInfo:
        """The unregistered shape of :meth:`shape_for` (same arguments)."""
        if nonzero is None:
            nonzero = (int(requests[0]) if requests[0] > 0 else DEFAULT_MILLI_CPU_REQUEST,
                       int(requests[1]) if requests[1] > 0 else DEFAULT_MEMORY_REQUEST)
        nz = np.array(nonzero, dtype=np.int64)
        # One array when they are equal (as for every trace pod): PodInfo shares it.
        nz_bound = (None if nonzero_bound is None or tuple(nonzero_bound) == tuple(nonzero)
                    else np.array(nonzero_bound, dtype=np.int64))
        # Admission (DefaultTolerationSeconds) gives every pod the not-ready / unreachable
        # NoExecute tolerations it lacks, bound initial pods included.
        if initial is not None:
            info = PodInfo(shape=-1, requests=requests, nonzero=nz, nonzero_bound=nz_bound, priority=priority,
                           scheduler_name=DEFAULT_SCHEDULER, labels=dict(initial.labels), workload=workload,
                           namespace=initial.namespace, affinity=initial.affinity, ports=tuple(initial.ports),
                           image=initial.image, image_names=image_names(initial),
                           tolerations=with_default_toleration_seconds(()))
        elif template is None:
            info = PodInfo(shape=-1, requests=requests, nonzero=nz, nonzero_bound=nz_bound, priority=priority,
                           scheduler_name=DEFAULT_SCHEDULER, labels=dict(labels or {}), workload=workload,
                           tolerations=with_default_toleration_seconds(()))
        else:
            common, rc = self._template_fields(template, workload)
            info = PodInfo(shape=-1, requests=requests, nonzero=nz, nonzero_bound=nz_bound, **common)
            if template.volumes and self.state.volumes is not None:
                index = self.state.volumes.claim_index
                info.claims = tuple(index[(template.namespace, v.persistent_volume_claim.claim_name)]
                                    for v in template.volumes)
            if rc is not None:
                info.runtime_class = [c.name for c in self.scenario.runtime_classes].index(rc.name)
                info.runtime_handler = rc.handler
            if trace_priority is not None:
                info.priority = trace_priority
            if gpu is None and template.gpu is not None:
                gpu = (template.gpu.count, template.gpu.milli, template.gpu.model_names())
        # What admission plugins read of the pod's containers (trace pods: None).
        info.pod_spec = initial if initial is not None else (None if key[:1] == ("trace",) else template)
        if gpu is not None and gpu[0] > 0:
            count, milli, names = gpu
            info.gpu_count, info.gpu_milli = count, milli
            info.gpu_models = (None if names is None
                               else frozenset(ops.intern_gpu_model(self.state, m) for m in names))
        return info

    def trace_shapes(self, requests: np.ndarray, template: PodTemplate, workload: int, kind: np.ndarray,
                     gpus: Sequence[GpuRequest], priorities: Sequence[int | None]) -> int:
        """Intern a trace's distinct requests at once: row ``i`` of ``requests``
        (``int64[S, R]``) becomes shape ``first + i`` (``first`` is returned), the shape
        ``shape_for(("trace", ...), requests[i], template, workload=workload,
        gpu=gpus[kind[i]], trace_priority=priorities[kind[i]], unique=True)`` would
        make, field for field, with the same ids, count groups and GPU model codes.

        A kind (GPU request and trace priority) gets one shape built as ``shape_for``
        builds it, in the order the kinds first appear (the order GPU model names are
        interned in); every row is a copy of its kind's with its own requests
        (:func:`~k8sim.scheduling.podinfo.variants`), and the count group is taken once
        per kind (:func:`~k8sim.cluster.ops.add_shapes`)."""
        state = self.state
        first = len(state.shapes)
        req = np.ascontiguousarray(requests, dtype=np.int64)
        kind = np.asarray(kind, dtype=np.int64)
        if len(req) != len(kind):
            raise ValueError(f"{len(req)} request rows for {len(kind)} kinds")
        if not len(req):
            return first
        nz = trace_nonzero(req)
        if kind.min() == kind.max():  # one kind (a trace without GPUs or priorities)
            seen, at = kind[:1], np.zeros(1, dtype=np.int64)
        else:
            seen, at = np.unique(kind, return_index=True)
        protos: list[PodInfo] = [None] * (int(seen[-1]) + 1)  # type: ignore[list-item]
        for k, i in sorted(zip(seen.tolist(), at.tolist(), strict=True), key=lambda ki: ki[1]):
            protos[k] = self._build(("trace",), req[i], template, workload, None, 0, gpus[k], priorities[k],
                                    None, None, None)
        # requested_rows: one interned array per pattern of non-zero requests.
        positive = req > 0
        if (positive.all(axis=0) | ~positive.any(axis=0)).all():  # one pattern
            rep, inv = np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
        elif positive.shape[1] <= 62:
            pattern = positive.astype(np.int64) @ (np.int64(1) << np.arange(positive.shape[1], dtype=np.int64))
            _, rep, inv = np.unique(pattern, return_index=True, return_inverse=True)
        else:
            _, rep, inv = np.unique(positive, axis=0, return_index=True, return_inverse=True)
        if len(rep) == 1:
            rows = [requested_rows_of(req[0])] * len(req)
        else:
            by_pattern = np.empty(len(rep), dtype=object)
            for j, i in enumerate(rep.tolist()):
                by_pattern[j] = requested_rows_of(req[i])
            rows = by_pattern[inv.reshape(-1)].tolist()
        infos = variants(protos, kind.tolist(), first, list(req), list(nz), rows)
        ops.add_shapes(state, infos, kind)
        return first

    def fits_some_node(self, shape_ids: np.ndarray) -> np.ndarray:
        """``bool[S]`` (indexed by shape id): the shape's requests fit some node's
        allocatable and, for GPU shapes, some node has enough devices of an allowed model."""
        state = self.state
        out = np.zeros(len(state.shapes), dtype=bool)
        ids = np.asarray(shape_ids, dtype=np.int64).reshape(-1)
        if not len(ids):
            return out
        infos = [state.shapes[s] for s in ids.tolist()]
        requests = np.array([info.requests for info in infos], dtype=np.int64)
        gpu_count = np.array([info.gpu_count for info in infos], dtype=np.int64)
        sets: dict[frozenset[int] | None, int] = {}
        model_set = np.array([sets.setdefault(info.gpu_models, len(sets)) for info in infos], dtype=np.int64)
        out[ids] = self.fits_rows(requests, gpu_count, model_set, list(sets))
        return out

    def fits_rows(self, requests: np.ndarray, gpu_count: np.ndarray, model_set: np.ndarray,
                  sets: Sequence[frozenset[int] | None]) -> np.ndarray:
        """``bool[S]``: row ``i`` (``requests[i]``, ``gpu_count[i]`` devices of a model in
        ``sets[model_set[i]]``, None = any) fits some node: one node has every resource
        (``alloc >= requests``) and, when ``gpu_count[i] > 0``, at least that many devices
        of an allowed model. :meth:`fits_some_node` for many shapes at once: the rows
        are compared with each distinct node vector (allocatable and device count) of
        the nodes of each allowed model set, not node by node."""
        nodes = self.state.nodes
        s = len(requests)
        out = np.zeros(s, dtype=bool)
        if not s or not nodes.alloc.shape[1]:
            return out
        gpu_count = np.asarray(gpu_count, dtype=np.int64)
        have = np.vstack([nodes.alloc, nodes.gpu_count.astype(np.int64)[None, :]]).T  # [N, R + 1]
        want = np.empty((s, requests.shape[1] + 1), dtype=np.int64)  # [S, R + 1]
        want[:, :-1] = requests
        want[:, -1] = gpu_count
        # Rows without GPUs take any node, whatever model their request names.
        group = np.where(gpu_count > 0, np.asarray(model_set, dtype=np.int64), -1)
        for g in np.unique(group).tolist():
            models = None if g < 0 else sets[g]
            cols = have if models is None else have[np.isin(nodes.gpu_model, list(models))]
            if g == group[0] and (group == g).all():
                return _fit_any(want, cols)
            rows = np.flatnonzero(group == g)
            out[rows] = _fit_any(want[rows], cols)
        return out

    def never_fit(self) -> dict[str, list[str]]:
        """Workloads whose pods exceed every node's allocatable: name -> resources."""
        out = {}
        state = self.state
        alloc = state.nodes.alloc
        for (key, _), sid in self.ids.items():
            if key[0] != "workload":
                continue
            info = state.shapes[sid]
            rows = info.requested_rows
            if not (alloc[rows] >= info.req_col).all(axis=0).any():
                over = [state.resources.names[r] for r in rows if (alloc[r] < info.requests[r]).all()]
                out[self.scenario.workloads[key[1]].name] = over
        return out


def trace_nonzero(requests: np.ndarray) -> np.ndarray:
    """``int64[S, 2]``: the non-zero cpu and memory requests of trace shapes with these
    request rows (``int64[S, R]``, cpu and memory in rows 0 and 1): upstream's
    non-zero defaults where a request is 0 (a trace pod is one container without
    pod-level requests)."""
    req = np.asarray(requests, dtype=np.int64)
    return np.where(req[:, :2] > 0, req[:, :2],
                    np.array([DEFAULT_MILLI_CPU_REQUEST, DEFAULT_MEMORY_REQUEST], dtype=np.int64))


def _fit_any(want: np.ndarray, have: np.ndarray) -> np.ndarray:
    """``bool[S]``: row ``want[i]`` is <= some row of ``have`` in every column. The
    distinct rows of ``have`` (a pool of identical nodes is one) are tried largest
    first, a block of them at a time against the rows not yet placed."""
    fit = np.zeros(len(want), dtype=bool)
    if not len(have):
        return fit
    have = np.unique(have, axis=0)
    scale = np.maximum(have.max(axis=0), 1).astype(np.float64)
    have = have[np.argsort(-(have / scale).sum(axis=1), kind="stable")]
    rest = np.arange(len(want))
    left = want
    i = 0
    while rest.size and i < len(have):
        block = max(1, (1 << 22) // (rest.size * want.shape[1]))
        ok = np.all(left[:, None, :] <= have[None, i:i + block, :], axis=2).any(axis=1)
        fit[rest[ok]] = True
        rest = rest[~ok]
        left = want[rest]
        i += block
    return fit
