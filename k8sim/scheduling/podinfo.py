"""What the scheduler knows about a pod, computed once per pod *shape*.

Pods of one shape (same workload template and identical requests) are interchangeable
for every filter and score plugin, so per-pod work (request vectors, masks over all
nodes) is done once per shape and cached. Masks that depend only on node labels and
taints are reused until the node table's ``version`` moves (a node added, relabelled
or tainted).

Every pod row carries its shape id. Shapes with the same labels, pod (anti-)affinity
terms, host ports and GPU kind share a *count group* (``group``), and the cluster keeps,
per group, how many pods of it are bound to each node (``ClusterState.group_counts``):
selectors over pod labels (pod affinity, topology spread, host ports) become a sum over
matching groups.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from k8sim.config.k8s_types import Affinity, ContainerPort, TopologySpreadConstraint
from k8sim.config.pods import Toleration

#: Interned ``requested_rows`` arrays (read only) by the pattern of non-zero requests:
#: shapes of a trace (one per distinct request) almost all request the same resources.
_ROWS: dict[bytes, np.ndarray] = {}


def requested_rows_of(requests: np.ndarray) -> np.ndarray:
    """The rows of ``requests`` that are > 0, one shared read-only array per pattern."""
    nonzero = requests > 0
    key = nonzero.tobytes()
    rows = _ROWS.get(key)
    if rows is None:
        rows = np.flatnonzero(nonzero)
        rows.flags.writeable = False
        if len(_ROWS) < 1024:
            _ROWS[key] = rows
    return rows


@dataclass(eq=False, slots=True)
class PodInfo:
    """Scheduling-relevant view of a pod shape: everything a plugin may read about a pod.

    One instance per shape, shared by every pod row of that shape (``pods.shape[p]``
    gives the id); built by the simulation from the validated scenario and registered
    with ``ops.add_shape``, which sets ``shape`` and ``group`` and appends it to
    ``state.shapes`` (index = shape id). The spec fields are fixed after registration;
    nothing per pod (node, phase, attempts) lives here, that is the pod table's.

    Invariants: ``requests`` is ``int64[R]`` in the cluster's resource order with the
    ``pods`` row = 1; ``nonzero`` is ``int64[2]`` cpu/memory with upstream's non-zero
    defaults; ``requested_rows`` and ``req_col`` (``int64[len(rows), 1]``, for
    broadcasting against ``[R, N]`` node arrays) are derived from ``requests`` once (``req_col`` when first read).
    ``mask_cache`` and ``cache`` are the only mutable parts: plugin caches, each entry
    valid only for what its key records (e.g. the node table ``version``). The profile
    clears both for shapes it has not scheduled recently
    (:meth:`k8sim.scheduling.incremental.ShapeCaches.touch`), so that a run with one
    shape per pod does not keep arrays over all nodes for every shape.
    """

    shape: int
    requests: np.ndarray  # int64[R], pods row = 1
    #: int64[2]: cpu/memory with upstream's per-container non-zero defaults, as the
    #: scorer computes them for the incoming pod (:mod:`k8sim.scheduling.pod_resources`).
    nonzero: np.ndarray
    priority: int
    scheduler_name: str
    #: int64[2]: what a bound pod of this shape adds to its node's ``nonzero_requested``
    #: (upstream ``NonZeroRequested``); None = ``nonzero`` (they differ only for pods
    #: with pod-level requests).
    nonzero_bound: np.ndarray | None = None
    namespace: str = "default"  # metadata.namespace
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    workload: int = -1  # workload index (-1: initial pods)
    node_name: str | None = None  # spec.nodeName
    affinity: Affinity | None = None
    spread: tuple[TopologySpreadConstraint, ...] = ()  # topologySpreadConstraints
    ports: tuple[ContainerPort, ...] = ()
    image: str | None = None
    #: Normalised image names of every container, init containers first (ImageLocality
    #: against the nodes' ``status.images`` when the scenario has no image catalog).
    image_names: tuple[str, ...] = ()
    #: Image catalog id of each container, init containers first (-1: no catalog image);
    #: empty when images are not modelled. Read by ImageLocality.
    container_images: tuple[int, ...] = ()
    preemption_policy: str = "PreemptLowerPriority"  # of the pod's PriorityClass
    termination_grace_s: float = 30.0  # terminationGracePeriodSeconds
    #: The pod's own restartPolicy where it differs from its workload's (Job pods); None:
    #: the workload's (read by the kubelet, not by scheduling).
    restart_policy: str | None = None
    #: Name of the first main container (what a pod failure policy's ``containerName``
    #: names); "" = the runtime model's (``main`` for the ``image:`` shorthand).
    container_name: str = ""
    gpu_count: int = 0  # GPU devices requested (0: no GPU)
    gpu_milli: int = 0  # milli-GPU on each of them (1000: whole GPUs)
    #: Allowed GPU model codes (the node table's vocabulary), None = any model.
    gpu_models: frozenset[int] | None = None
    #: RuntimeClass: index in the scenario's ``runtimeClasses`` (-1: none, the node's
    #: default handler) and its CRI handler ("" without a class).
    runtime_class: int = -1
    runtime_handler: str = ""
    #: Claims the pod mounts: indices into ``state.volumes.claims`` (empty: no volumes).
    claims: tuple[int, ...] = ()
    #: The pod template or initial pod the shape was made from (admission plugins such
    #: as ResourceQuota read its containers' requests and limits); None for trace pods.
    pod_spec: Any = None
    #: Count group (``ClusterState.groups``), set when the shape is registered.
    group: int = -1
    #: Rows of ``requests`` that are > 0 (always includes ``pods``).
    requested_rows: np.ndarray = field(init=False)
    #: Shapes with the same ``spec`` object differ in their requests only
    #: (``requests``, ``nonzero``, ``nonzero_bound``, ``requested_rows``; and ``shape``,
    #: ``group``): the copies :func:`variants` makes of a prototype. Every other shape
    #: has a new one of its own (made with it; an identity, never equal to another
    #: object, also after pickling). The compiled Filter phase keeps, per ``spec``, what
    #: the filters that never read requests say (``Profile._spec_plan``).
    spec: object = field(init=False, repr=False)
    #: ``req_col``, made on first use (see the property).
    _req_col: np.ndarray | None = field(default=None, init=False, repr=False)
    #: Cached masks keyed by plugin name: (node table version, bool[N]).
    _mask_cache: dict[str, tuple[int, np.ndarray]] | None = field(default=None, init=False, repr=False)
    #: Free-form per-plugin cache (PreFilter/PreScore state that depends only on the shape);
    #: each plugin knows the type of what it keeps under its own keys.
    _cache: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.requests = np.asarray(self.requests, dtype=np.int64)
        self.nonzero = np.asarray(self.nonzero, dtype=np.int64)
        self.nonzero_bound = (self.nonzero if self.nonzero_bound is None
                              else np.asarray(self.nonzero_bound, dtype=np.int64))
        self.requested_rows = requested_rows_of(self.requests)
        self.spec = object()

    @property
    def mask_cache(self) -> dict[str, tuple[int, np.ndarray]]:
        """Cached masks keyed by plugin name: (node table version, bool[N]). Made on
        first use (see :meth:`drop_caches`)."""
        d = self._mask_cache
        if d is None:
            d = self._mask_cache = {}
        return d

    @mask_cache.setter
    def mask_cache(self, value: dict[str, tuple[int, np.ndarray]]) -> None:
        self._mask_cache = value

    @property
    def cache(self) -> dict[str, Any]:
        """Free-form per-plugin cache (PreFilter/PreScore state that depends only on the
        shape); each plugin knows the type of what it keeps under its own keys. Made on
        first use (see :meth:`drop_caches`)."""
        d = self._cache
        if d is None:
            d = self._cache = {}
        return d

    @cache.setter
    def cache(self, value: dict[str, Any]) -> None:
        self._cache = value

    def drop_caches(self) -> None:
        """Forget both plugin caches, dicts included: a run with a shape per pod keeps
        no empty dicts for the shapes it is done with (two per shape, 128 bytes)."""
        self._mask_cache = self._cache = None

    @property
    def req_col(self) -> np.ndarray:
        """``requests[requested_rows]`` as a column (``int64[len(rows), 1]``), for
        broadcasting against ``[rows, N]`` node arrays. Made on first use and kept (one
        array object, not a view of a temporary): a trace can have a shape per pod, most
        of them scheduled once by paths that never read it."""
        col = self._req_col
        if col is None:
            col = self._req_col = np.empty((len(self.requested_rows), 1), dtype=np.int64)
            col[:, 0] = self.requests[self.requested_rows]
        return col

    @property
    def host_ports(self) -> tuple[tuple[str, str, int], ...]:
        """(protocol, hostIP, hostPort) of every port with a hostPort."""
        if not self.ports:
            return ()  # read by NodePorts' PreFilter every cycle: most pods have no ports
        return tuple((p.protocol, p.host_ip or "0.0.0.0", p.host_port) for p in self.ports if p.host_port)


def variants(protos: Sequence[PodInfo], proto_of: Iterable[int], first_shape: int, requests: Iterable[np.ndarray],
             nonzero: Iterable[np.ndarray], requested_rows: Iterable[np.ndarray]) -> list[PodInfo]:
    """Shapes that differ from a prototype only in their requests: the ``i``-th is
    ``protos[proto_of[i]]`` with shape id ``first_shape + i``, ``requests[i]``,
    ``nonzero[i]`` (also its ``nonzero_bound``), ``requested_rows[i]`` (which must be
    :func:`requested_rows_of` its requests) and no plugin caches; every other field is
    the prototype's, the same objects (read only once registered, as the shapes of one
    template already share them). ``group`` is the prototype's (-1 for an unregistered
    one): :func:`k8sim.cluster.ops.add_shapes` sets it.

    What a trace with a request per pod makes a million of: this skips the dataclass
    ``__init__`` and ``__post_init__`` (the arrays are taken as they are, ``int64``),
    about a quarter of their cost. The prototypes' ``nonzero_bound`` must be their
    ``nonzero`` (a pod without pod-level requests, as every trace pod)."""
    if any(p.nonzero_bound is not p.nonzero for p in protos):
        raise ValueError("a prototype's nonzero_bound differs from its nonzero")
    # The collector is paused meanwhile: the copies make no reference cycles, and its
    # full collections (one per quarter of growth of the tracked objects) would walk
    # the growing list over and over, more time than the copies take. Afterwards the
    # copies go straight to the oldest generation (freeze, then unfreeze, which puts
    # the frozen objects there): else the next two young collections would walk all
    # of them once each (0.2 s apiece at a million).
    paused = gc.isenabled()
    gc.disable()
    try:
        out = _variants(protos, proto_of, first_shape, requests, nonzero, requested_rows)
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        return out
    finally:
        if paused:
            gc.enable()


def _variants(protos: Sequence[PodInfo], proto_of: Iterable[int], first_shape: int, requests: Iterable[np.ndarray],
              nonzero: Iterable[np.ndarray], requested_rows: Iterable[np.ndarray]) -> list[PodInfo]:
    new = object.__new__
    out: list[PodInfo] = []
    append = out.append
    sid = first_shape
    for k, req, nz, rows in zip(proto_of, requests, nonzero, requested_rows, strict=True):
        p = protos[k]
        o = new(PodInfo)
        o.shape = sid
        o.requests = req
        o.nonzero = nz
        o.nonzero_bound = nz
        o.requested_rows = rows
        o._req_col = None
        o._mask_cache = None
        o._cache = None
        o.priority = p.priority
        o.scheduler_name = p.scheduler_name
        o.namespace = p.namespace
        o.node_selector = p.node_selector
        o.tolerations = p.tolerations
        o.labels = p.labels
        o.workload = p.workload
        o.node_name = p.node_name
        o.affinity = p.affinity
        o.spread = p.spread
        o.ports = p.ports
        o.image = p.image
        o.image_names = p.image_names
        o.container_images = p.container_images
        o.preemption_policy = p.preemption_policy
        o.termination_grace_s = p.termination_grace_s
        o.restart_policy = p.restart_policy
        o.container_name = p.container_name
        o.gpu_count = p.gpu_count
        o.gpu_milli = p.gpu_milli
        o.gpu_models = p.gpu_models
        o.runtime_class = p.runtime_class
        o.runtime_handler = p.runtime_handler
        o.claims = p.claims
        o.pod_spec = p.pod_spec
        o.group = p.group
        o.spec = p.spec
        append(o)
        sid += 1
    return out
