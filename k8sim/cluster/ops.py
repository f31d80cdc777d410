"""The only mutators of the cluster tables, and the invariant check.

Every change to node or pod state goes through a function here, so that the
conservation invariants (``requested == sum of bound pods' requests``,
``0 <= requested <= allocatable``, ``free == allocatable - requested``) can be checked
after any event by :func:`check_invariants`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from sys import modules as _modules
from typing import Any

import numpy as np

from k8sim.cluster import kernels as _kernels
from k8sim.cluster.nodes import NodeTable, ResourceIndex, TaintSpec
from k8sim.cluster.pods import BOUND, FAILED, PENDING, RUNNING, UNSCHEDULABLE, PodTable
from k8sim.constants import GPU_MILLI, GPU_MODEL_LABEL

_add = np.add
_subtract = np.subtract


class NodeJournal:
    """An append-only record of the node columns whose row changed, for caches that
    keep per-node results and recompute only the nodes changed since they last looked.

    A reader keeps a position (:attr:`end` when it last looked) and asks
    :meth:`since` for the nodes appended after it; ``None`` means the record no longer
    reaches that far back (it keeps at most about ``limit`` entries), and the reader
    must recompute everything. A node may appear several times.
    """

    __slots__ = ("nodes", "base", "end", "limit")

    def __init__(self, limit: int = 1 << 16) -> None:
        self.nodes: list[int] = []
        self.base = 0  # position of nodes[0]
        self.end = 0  # position after the last entry
        self.limit = limit

    def append(self, node: int) -> None:
        nodes = self.nodes
        nodes.append(node)
        self.end += 1
        if len(nodes) > self.limit:
            drop = len(nodes) // 2
            del nodes[:drop]
            self.base += drop

    def since(self, position: int) -> list[int] | None:
        """Nodes appended at or after ``position`` (None: no longer recorded)."""
        if position < self.base:
            return None
        return self.nodes[position - self.base:]


@dataclass
class ClusterState:
    """Node table + pod table + the resource axis they share, plus pod shapes.

    ``shapes[s]`` is the :class:`~k8sim.scheduling.podinfo.PodInfo` of shape ``s``.
    Shapes that look alike to the plugins that count pods already on a node (same
    labels, pod (anti-)affinity terms, host ports and GPU kind) form one *count group*:
    ``groups[g]`` is its first shape, ``shape_group[s]`` the group of shape ``s`` and
    ``group_counts[g, n]`` the number of bound pods of group ``g`` on node ``n``. A trace
    with a distinct request per pod has one shape per pod but few groups, so the count
    table stays small and selectors scan groups, not shapes.
    """

    resources: ResourceIndex
    nodes: NodeTable = field(init=False)
    pods: PodTable = field(init=False)
    shapes: list[Any] = field(init=False)
    groups: list[Any] = field(init=False)
    shape_group: list[int] = field(init=False)
    group_counts: np.ndarray = field(init=False)
    #: Bumped by every mutation that can change a scheduling outcome (bind, release,
    #: node changes); a pod shape that failed at generation g fails again at g.
    generation: int = field(init=False, default=0)
    #: Preemptors waiting for their victims to leave: pod -> nominated node.
    nominated: dict[int, int] = field(init=False, default_factory=dict)
    #: Bound pods whose deletion was requested and whose grace period has not ended
    #: (they still hold their resources; preemption does not pick them again).
    terminating: set[int] = field(init=False, default_factory=set)
    #: Nodes removed so far (their columns stay, marked by ``removed_at``).
    removed_nodes: int = field(init=False, default=0)
    #: Labels of each namespace that has any (``namespaceSelector`` of pod affinity
    #: terms); see :func:`namespace_labels`.
    namespaces: dict[str, dict[str, str]] = field(init=False, default_factory=dict)
    #: Bound pods may exceed their node's allocatable (a real cluster's snapshot: static
    #: pods, resized nodes); :func:`check_invariants` then checks ``requested >= 0`` only.
    allow_overcommit: bool = field(init=False, default=False)
    #: The run's claims and volumes (``k8sim.storage.volumes.VolumeState``), None
    #: without storage; read by the volume plugins.
    volumes: Any = field(init=False, default=None)
    #: The terminated state the kubelet reported for a pod that ended Failed: pod ->
    #: (container name, exit code). Absent: no kubelet reported one (the pod was never
    #: bound, or its node was lost). Read by the Job controller's pod failure policy.
    exit_codes: dict[int, tuple[str, int]] = field(init=False, default_factory=dict)
    #: Nodes whose usage changed (bind, release: ``requested``, ``free``,
    #: ``nonzero_requested``, ``gpu_free``, ``group_counts``), and nodes changed in any
    #: other way one at a time (Ready, cordon, labels, taints, removal). Adding nodes
    #: changes ``nodes.n`` instead. Read by the scheduler's incremental caches.
    usage_journal: NodeJournal = field(init=False, default_factory=NodeJournal)
    node_journal: NodeJournal = field(init=False, default_factory=NodeJournal)

    def __post_init__(self) -> None:
        self.nodes = NodeTable(self.resources)
        self.pods = PodTable(len(self.resources))
        self.shapes = []
        self.groups = []
        self.shape_group = []
        self._group_index: dict[tuple, int] = {}
        self.group_counts = np.zeros((0, 0), dtype=np.int32)


#: The label the API server puts on every namespace (upstream
#: ``v1.LabelMetadataName``), with the namespace's name as its value.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def namespace_labels(state: ClusterState, namespace: str) -> dict[str, str]:
    """Labels of ``namespace``: those recorded in ``state.namespaces`` plus
    ``kubernetes.io/metadata.name``, which every namespace has."""
    return {**state.namespaces.get(namespace, {}), NAMESPACE_NAME_LABEL: namespace}


def count_group_key(info: Any) -> tuple:
    """What the pod-counting plugins see of a shape: namespace and labels
    (PodTopologySpread, InterPodAffinity selectors), pod (anti-)affinity terms (existing
    pods' terms in InterPodAffinity), host ports (NodePorts) and GPU kind
    (GpuClustering's tag). Taken when the shape is registered."""
    gpu = 0 if not info.gpu_count else (-1 if info.gpu_milli < GPU_MILLI else int(info.gpu_count))
    affinity = repr(info.affinity) if info.affinity is not None else ""
    return (getattr(info, "namespace", "default"), tuple(sorted(info.labels.items())), affinity,
            info.host_ports, gpu)


def add_shape(state: ClusterState, info: Any) -> int:
    """Register a pod shape (its ``shape`` attribute is set to the new id) and put it in
    its count group (``info.group``; a new group if none matches). ``group_counts`` is a
    view of the first ``G`` rows of a buffer that grows by doubling."""
    sid = len(state.shapes)
    info.shape = sid
    state.shapes.append(info)
    gid = info.group = _count_group(state, info)
    state.shape_group.append(gid)
    return sid


def add_shapes(state: ClusterState, infos: Sequence[Any], kinds: np.ndarray) -> int:
    """Register ``infos`` as :func:`add_shape` would one after the other (the same ids,
    groups and group order); returns the first id. Their ``shape`` attributes must
    already be those ids (:func:`k8sim.scheduling.podinfo.variants` sets them).

    ``kinds[i]`` (an int) stands for what ``count_group_key`` reads of ``infos[i]``:
    infos of one kind must have equal count-group keys (shapes of one template and one
    GPU request, say), so the key is taken once per kind, at its first info (only there
    can a new group begin), rather than once per shape of a trace with a request per pod."""
    first = len(state.shapes)
    n = len(infos)
    kinds = np.asarray(kinds).reshape(-1)
    if len(kinds) != n:
        raise ValueError(f"{n} shapes and {len(kinds)} kinds")
    if not n:
        return first
    if infos[0].shape != first or infos[-1].shape != first + n - 1:
        raise ValueError(f"shapes numbered {infos[0].shape}..{infos[-1].shape}, expected {first}..{first + n - 1}")
    if kinds.min() == kinds.max():  # one kind
        groups = [_count_group(state, infos[0])] * n
    else:
        _, at, inverse = np.unique(kinds, return_index=True, return_inverse=True)
        gid = np.empty(len(at), dtype=np.int64)
        for k in np.argsort(at, kind="stable").tolist():  # kinds in order of their first info
            gid[k] = _count_group(state, infos[int(at[k])])
        groups = gid[inverse.reshape(-1)].tolist()
    for info, g in zip(infos, groups, strict=True):
        info.group = g
    state.shapes.extend(infos)
    state.shape_group.extend(groups)
    return first


def _count_group(state: ClusterState, info: Any) -> int:
    """The count group of shape ``info``, a new one (``info`` its first shape) if no
    group has its key; ``group_counts`` is a view of the first ``G`` rows of a buffer
    that grows by doubling."""
    key = count_group_key(info)
    gid = state._group_index.get(key)
    if gid is None:
        gid = state._group_index[key] = len(state.groups)
        state.groups.append(info)
        counts = state.group_counts
        buf = counts.base
        if buf is None or buf.shape[0] <= gid or buf.shape[1] != counts.shape[1] or not buf.flags.c_contiguous:
            buf = np.zeros((max(16, 2 * (gid + 1)), counts.shape[1]), dtype=np.int32)
            buf[:gid] = counts
        state.group_counts = buf[: gid + 1]
    return gid


class InvariantError(AssertionError):
    """The cluster tables disagree with each other."""


def add_node(
    state: ClusterState,
    *,
    name: str,
    allocatable: np.ndarray,
    labels: dict[str, str],
    taints: list[TaintSpec],
    pool: int,
    now: float,
    ready: bool = True,
    gpus: tuple[int, str] | None = None,
) -> int:
    """Append one node; returns its column. Labels and taints are interned."""
    return add_nodes(state, names=[name], allocatable=allocatable, labels=[labels], taints=taints,
                     pool=pool, now=now, ready=ready, gpus=gpus)[0]


def add_nodes(
    state: ClusterState,
    *,
    names: list[str],
    allocatable: np.ndarray,
    labels: list[dict[str, str]],
    taints: list[TaintSpec],
    pool: int,
    now: float,
    ready: bool = True,
    gpus: tuple[int, str] | None = None,
) -> list[int]:
    """Append ``len(names)`` nodes sharing allocatable, taints and pool (one node pool),
    with per-node labels; returns their columns. One reallocation for all of them.

    ``gpus`` is ``(count, model)``: each node gets ``count`` devices of 1000 milli-GPU
    and the label ``k8sim.io/gpu-model``."""
    nt = state.nodes
    k = len(names)
    if len(labels) != k:
        raise ValueError("one labels dict per node is required")
    for name in names:
        if name in nt.name_index:
            raise ValueError(f"node {name!r} already exists")
    if len(set(names)) != k:
        raise ValueError("node names must be distinct")
    if gpus is not None:
        if gpus[0] < 1:
            raise ValueError(f"a node with GPUs needs at least one device, got {gpus[0]}")
        labels = [{**lab, GPU_MODEL_LABEL: gpus[1]} for lab in labels]
    n = nt.n
    r = len(state.resources)

    def grow(a: np.ndarray, fill: object) -> np.ndarray:
        extra = np.full(a.shape[:-1] + (k,), fill, dtype=a.dtype)
        return np.concatenate([a, extra], axis=-1)

    cols = slice(n, n + k)
    alloc = allocatable.reshape(r, 1)
    nt.alloc = grow(nt.alloc, 0)
    nt.alloc[:, cols] = alloc
    nt.requested = grow(nt.requested, 0)
    nt.free = grow(nt.free, 0)
    nt.free[:, cols] = alloc
    nt.nonzero_requested = grow(nt.nonzero_requested, 0)
    nt.ready = grow(nt.ready, ready)
    nt.unschedulable = grow(nt.unschedulable, False)
    nt.up = grow(nt.up, True)
    nt.pool = grow(nt.pool, pool)
    nt.created_at = grow(nt.created_at, now)
    nt.removed_at = grow(nt.removed_at, np.inf)
    for key in list(nt.labels):
        nt.labels[key] = grow(nt.labels[key], -1)
    for i, node_labels in enumerate(labels):
        for key, value in node_labels.items():
            if key not in nt.labels:
                nt.labels[key] = np.full(n + k, -1, dtype=np.int32)
                nt.label_values[key] = {}
            codes = nt.label_values[key]
            nt.labels[key][n + i] = codes.setdefault(value, len(codes))
    state.group_counts = grow(state.group_counts, 0)
    nt.taints = grow(nt.taints, False)
    for t in taints:
        if t not in nt.taint_index:
            nt.taint_index[t] = len(nt.taint_specs)
            nt.taint_specs.append(t)
            nt.taints = np.concatenate([nt.taints, np.zeros((1, n + k), dtype=bool)])
        nt.taints[nt.taint_index[t], cols] = True
    _grow_gpus(state, k, gpus)
    for i, name in enumerate(names):
        nt.names.append(name)
        nt.name_index[name] = n + i
    nt.n = n + k
    nt.version += 1
    state.generation += 1
    return list(range(n, n + k))


def _grow_gpus(state: ClusterState, k: int, gpus: tuple[int, str] | None) -> None:
    """Append ``k`` node rows to the GPU arrays (the device axis widens if needed)."""
    nt = state.nodes
    count = gpus[0] if gpus is not None else 0
    width = max(nt.gpu_free.shape[1], count)
    free = np.full((nt.n + k, width), -1, dtype=np.int64)
    free[: nt.n, : nt.gpu_free.shape[1]] = nt.gpu_free
    free[nt.n :, :count] = GPU_MILLI
    nt.gpu_free = free
    nt.gpu_count = np.concatenate([nt.gpu_count, np.full(k, count, dtype=np.int32)])
    code = intern_gpu_model(state, gpus[1]) if gpus is not None else -1
    nt.gpu_model = np.concatenate([nt.gpu_model, np.full(k, code, dtype=np.int32)])


def intern_gpu_model(state: ClusterState, name: str) -> int:
    """The code of GPU model ``name``, added to the vocabulary if new."""
    nt = state.nodes
    code = nt.gpu_model_index.get(name)
    if code is None:
        code = nt.gpu_model_index[name] = len(nt.gpu_models)
        nt.gpu_models.append(name)
    return code


def choose_gpus(state: ClusterState, node: int, count: int, milli: int) -> int:
    """Devices for a pod of ``count`` GPUs with ``milli`` each on ``node`` by the
    "best" rule (Weng et al., ATC '23): a sharing pod (``milli < 1000``) takes the
    fitting device with the least free milli, lowest index on ties; a whole-GPU pod
    takes the lowest-index completely free devices. Returns the device bitmask, 0 if
    the node cannot host the pod."""
    free = state.nodes.gpu_free[node]
    if milli < GPU_MILLI:
        fits = np.flatnonzero(free >= milli)
        if count != 1 or fits.size == 0:
            return 0
        return 1 << int(fits[np.argmin(free[fits])])
    idle = np.flatnonzero(free == GPU_MILLI)
    if idle.size < count:
        return 0
    mask = 0
    for d in idle[:count]:
        mask |= 1 << int(d)
    return mask


def assign_gpus(state: ClusterState, pod: int, devices: int) -> None:
    """Record the devices a Pending pod will take when bound (Reserve)."""
    pods = state.pods
    if pods.phase[pod] != PENDING:
        raise InvariantError(f"GPU devices chosen for pod {pods.names[pod]} in phase {pods.phase[pod]}")
    pods.ensure_gpu_columns()
    pods.gpu_devices[pod] = devices


def _devices(mask: int) -> list[int]:
    return [d for d in range(mask.bit_length()) if mask >> d & 1]


def _take_gpus(state: ClusterState, pod: int, node: int) -> None:
    """Subtract a GPU pod's milli on its devices (chosen now by the "best" rule if no
    Reserve chose them)."""
    pods, free = state.pods, state.nodes.gpu_free
    count, milli = int(pods.gpu_count[pod]), int(pods.gpu_milli[pod])
    mask = int(pods.gpu_devices[pod])
    if mask == 0:
        mask = choose_gpus(state, node, count, milli)
    devices = _devices(mask)
    if (len(devices) != count or devices[-1] >= free.shape[1]
            or any(free[node, d] < milli for d in devices)):
        raise InvariantError(
            f"pod {pods.names[pod]} needs {count} GPU(s) of {milli}m, node "
            f"{state.nodes.names[node]} cannot host it on devices {devices}"
        )
    for d in devices:
        free[node, d] -= milli
    pods.gpu_devices[pod] = mask


def nominate(state: ClusterState, pod: int, node: int) -> None:
    """Record a preemptor's nominated node (upstream ``status.nominatedNodeName``)."""
    state.nominated[pod] = node
    state.generation += 1


def volumes_changed(state: ClusterState) -> None:
    """A claim or volume was created, bound or removed (``state.volumes``): scheduling
    failures cached at the current generation no longer hold."""
    state.generation += 1


def _node_changed(state: ClusterState, node: int) -> None:
    # Plugins cache per-node masks until ``nodes.version`` moves; scheduling failures
    # are cached until ``generation`` moves; per-node caches recompute the node.
    state.nodes.version += 1
    state.generation += 1
    state.node_journal.append(node)


def set_unschedulable(state: ClusterState, node: int, unschedulable: bool) -> None:
    """Cordon (True) or uncordon (False) a node."""
    state.nodes.unschedulable[node] = unschedulable
    _node_changed(state, node)


def set_ready(state: ClusterState, node: int, ready: bool) -> None:
    """Set a node's Ready condition."""
    state.nodes.ready[node] = ready
    _node_changed(state, node)


def set_up(state: ClusterState, node: int, up: bool) -> None:
    """The machine under a node stops (False) or runs again (True). No scheduling
    outcome depends on it (the scheduler reads ``ready``), so caches stay valid."""
    state.nodes.up[node] = up


def set_labels(state: ClusterState, node: int, labels: dict[str, str]) -> None:
    """Replace a node's labels with ``labels`` (values interned per key)."""
    nt = state.nodes
    for key, codes in nt.labels.items():
        if key not in labels:
            codes[node] = -1
    for key, value in labels.items():
        if key not in nt.labels:
            nt.labels[key] = np.full(nt.n, -1, dtype=np.int32)
            nt.label_values[key] = {}
        values = nt.label_values[key]
        nt.labels[key][node] = values.setdefault(value, len(values))
    _node_changed(state, node)


def set_taints(state: ClusterState, node: int, taints: list[TaintSpec]) -> None:
    """Replace a node's taints with ``taints`` (interned)."""
    nt = state.nodes
    for t in taints:
        if t not in nt.taint_index:
            nt.taint_index[t] = len(nt.taint_specs)
            nt.taint_specs.append(t)
            nt.taints = np.concatenate([nt.taints, np.zeros((1, nt.n), dtype=bool)])
    nt.taints[:, node] = False
    for t in taints:
        nt.taints[nt.taint_index[t], node] = True
    _node_changed(state, node)


def remove_node(state: ClusterState, node: int, now: float) -> None:
    """A node leaves the cluster: ``removed_at`` = ``now``, NotReady and cordoned, so no
    filter passes it again. Its column stays (columns are never reused); pods still
    bound there keep their resources until they are terminated."""
    nt = state.nodes
    if not np.isinf(nt.removed_at[node]):
        raise InvariantError(f"node {nt.names[node]} was already removed")
    nt.removed_at[node] = now
    nt.ready[node] = False
    nt.up[node] = False
    nt.unschedulable[node] = True
    state.removed_nodes += 1
    _node_changed(state, node)


def mark_terminating(state: ClusterState, pod: int) -> bool:
    """Deletion of a bound pod was requested; False if it is not bound or already
    terminating."""
    pods = state.pods
    if pods.phase[pod] not in (BOUND, RUNNING) or pod in state.terminating:
        return False
    state.terminating.add(pod)
    return True


def bind(state: ClusterState, pod: int, node: int, now: float) -> None:
    """Bind a Pending pod to a node: the node's requests grow by the pod's.

    On every bound pod's path, so each column update is one ufunc into the node's
    column (``np.add(col, req, out=col)``: an augmented assignment of a slice is a
    read, an add and a write back) and the bookkeeping of rare cases (GPUs, a
    nominated pod) is skipped when the run has none. A pod without GPUs takes one
    compiled call (``k8sim.cluster.kernels.bind``) for all of it once numba is loaded
    (see :mod:`k8sim.cluster.kernels`)."""
    pods, nodes = state.pods, state.nodes
    if _kernels.enabled and "numba" in _modules and not (pods.has_gpu_columns and pods.gpu_count[pod]):
        if not _kernels.bind(nodes.requested, nodes.free, nodes.nonzero_requested, state.group_counts,
                             pods.requests, pods.nonzero, pods.node, pods.phase, pods.scheduled, pod, node,
                             state.shape_group[pods.shape[pod]], now):
            raise InvariantError(f"bind of pod {pods.names[pod]} in phase {pods.phase[pod]}")
        if state.nominated:
            state.nominated.pop(pod, None)
        state.generation += 1
        state.usage_journal.append(node)
        return
    if pods.phase[pod] != PENDING:
        raise InvariantError(f"bind of pod {pods.names[pod]} in phase {pods.phase[pod]}")
    if pods.has_gpu_columns and pods.gpu_count[pod]:
        _take_gpus(state, pod, node)
    req = pods.requests[pod]
    col = nodes.requested[:, node]
    _add(col, req, out=col)
    col = nodes.free[:, node]
    _subtract(col, req, out=col)
    col = nodes.nonzero_requested[:, node]
    _add(col, pods.nonzero[pod], out=col)
    state.group_counts[state.shape_group[pods.shape[pod]], node] += 1
    pods.node[pod] = node
    pods.phase[pod] = BOUND
    pods.scheduled[pod] = now
    if state.nominated:
        state.nominated.pop(pod, None)
    state.generation += 1
    state.usage_journal.append(node)


def set_bound_time(state: ClusterState, pod: int, now: float) -> None:
    """The binding of a pod assumed earlier (:func:`bind` at assume time) completes
    ``now``: its ``scheduled`` time becomes ``now``."""
    pods = state.pods
    if pods.phase[pod] != BOUND:
        raise InvariantError(f"binding of pod {pods.names[pod]} in phase {pods.phase[pod]}")
    pods.scheduled[pod] = now


def unassume(state: ClusterState, pod: int) -> int:
    """Undo :func:`bind` of a pod assumed but never bound (upstream ``Cache.ForgetPod``
    of an assumed pod, e.g. one rejected while waiting at Permit): it is Pending again,
    without a node or devices, and its node's resources are free. Returns the node."""
    pods, nodes = state.pods, state.nodes
    node = int(pods.node[pod])
    if node < 0 or pods.phase[pod] != BOUND or not np.isnan(pods.running[pod]):
        raise InvariantError(f"forget of pod {pods.names[pod]} that is not assumed")
    if pods.gpu_count[pod]:
        milli = int(pods.gpu_milli[pod])
        for d in _devices(int(pods.gpu_devices[pod])):
            nodes.gpu_free[node, d] += milli
        pods.gpu_devices[pod] = 0
    req = pods.requests[pod]
    nodes.requested[:, node] -= req
    nodes.free[:, node] += req
    nodes.nonzero_requested[:, node] -= pods.nonzero[pod]
    state.group_counts[state.shape_group[pods.shape[pod]], node] -= 1
    pods.node[pod] = -1
    pods.phase[pod] = PENDING
    pods.scheduled[pod] = np.nan
    state.generation += 1
    state.usage_journal.append(node)
    return node


def set_running(state: ClusterState, pod: int, now: float) -> int:
    """The pod's containers have started. Returns its node."""
    pods = state.pods
    if pods.phase[pod] != BOUND:
        raise InvariantError(f"pod {pods.names[pod]} started in phase {pods.phase[pod]}")
    pods.phase[pod] = RUNNING
    pods.running[pod] = now
    return pods.node.item(pod)


def drop(state: ClusterState, pod: int, now: float, reason: int = UNSCHEDULABLE) -> None:
    """A Pending pod leaves without ever being bound (given up as unschedulable, or
    deleted): phase Failed, ``reason`` (a ``REASON_NAMES`` code), ``finished`` = ``now``;
    it never held resources."""
    pods = state.pods
    if pods.phase[pod] != PENDING:
        raise InvariantError(f"drop of pod {pods.names[pod]} in phase {pods.phase[pod]}")
    pods.phase[pod] = FAILED
    pods.reason[pod] = reason
    pods.finished[pod] = now
    state.nominated.pop(pod, None)


def release(state: ClusterState, pod: int, phase: int, now: float) -> int:
    """A bound pod ends (``phase`` Succeeded or Failed): free its node's resources
    (one ufunc per column, as :func:`bind`).

    Returns the node it was bound to. A pod without GPUs takes one compiled call
    (``k8sim.cluster.kernels.release``) for the tables once numba is loaded.
    """
    pods, nodes = state.pods, state.nodes
    if _kernels.enabled and "numba" in _modules and not (pods.has_gpu_columns and pods.gpu_count[pod]):
        node = _kernels.release(nodes.requested, nodes.free, nodes.nonzero_requested, state.group_counts,
                                pods.requests, pods.nonzero, pods.node, pods.phase, pods.finished, pod,
                                state.shape_group[pods.shape[pod]], phase, now)
        if node < 0:
            raise InvariantError(f"release of pod {pods.names[pod]} that is not bound")
        if state.terminating:
            state.terminating.discard(pod)
        state.generation += 1
        state.usage_journal.append(node)
        return node
    node = int(pods.node[pod])
    was = pods.phase[pod]
    if node < 0 or (was != BOUND and was != RUNNING):
        raise InvariantError(f"release of pod {pods.names[pod]} that is not bound")
    if pods.has_gpu_columns and pods.gpu_count[pod]:
        milli = int(pods.gpu_milli[pod])
        for d in _devices(int(pods.gpu_devices[pod])):
            nodes.gpu_free[node, d] += milli
    req = pods.requests[pod]
    col = nodes.requested[:, node]
    _subtract(col, req, out=col)
    col = nodes.free[:, node]
    _add(col, req, out=col)
    col = nodes.nonzero_requested[:, node]
    _subtract(col, pods.nonzero[pod], out=col)
    state.group_counts[state.shape_group[pods.shape[pod]], node] -= 1
    pods.phase[pod] = phase
    pods.finished[pod] = now
    if state.terminating:
        state.terminating.discard(pod)
    state.generation += 1
    state.usage_journal.append(node)
    return node


def check_invariants(state: ClusterState) -> None:
    """Raise :class:`InvariantError` unless the tables are mutually consistent."""
    pods, nodes = state.pods, state.nodes
    n = pods.n
    bound = (pods.phase[:n] == BOUND) | (pods.phase[:n] == RUNNING)
    if np.any(pods.node[:n][bound] < 0):
        raise InvariantError("a bound pod has no node")
    expected = np.zeros_like(nodes.requested)
    expected_nz = np.zeros_like(nodes.nonzero_requested)
    idx = pods.node[:n][bound]
    np.add.at(expected.T, idx, pods.requests[:n][bound])
    np.add.at(expected_nz.T, idx, pods.nonzero[:n][bound])
    if not np.array_equal(expected, nodes.requested):
        bad = np.argwhere(expected != nodes.requested)[0]
        raise InvariantError(
            f"requested[{state.resources.names[bad[0]]}] of node {nodes.names[bad[1]]} is "
            f"{nodes.requested[bad[0], bad[1]]}, bound pods sum to {expected[bad[0], bad[1]]}"
        )
    if not np.array_equal(expected_nz, nodes.nonzero_requested):
        raise InvariantError("nonzero_requested disagrees with the bound pods")
    counts = np.zeros_like(state.group_counts)
    groups = np.asarray(state.shape_group, dtype=np.int64)
    np.add.at(counts, (groups[pods.shape[:n][bound]], idx), 1)
    if not np.array_equal(counts, state.group_counts):
        raise InvariantError("group_counts disagrees with the bound pods")
    if np.any(nodes.requested < 0) or (not state.allow_overcommit and np.any(nodes.requested > nodes.alloc)):
        raise InvariantError("requested outside [0, allocatable]")
    if not np.array_equal(nodes.free, nodes.alloc - nodes.requested):
        raise InvariantError("free != allocatable - requested")
    _check_gpus(state, bound)


def _check_gpus(state: ClusterState, bound: np.ndarray) -> None:
    """Per-device conservation: ``0 <= gpu_free <= 1000`` on a node's devices, -1 beyond,
    and ``1000 - gpu_free`` is the sum of the bound pods' milli on each device."""
    pods, nodes = state.pods, state.nodes
    n, g = pods.n, nodes.gpu_free.shape[1]
    if nodes.gpu_free.shape[0] != nodes.n or nodes.gpu_count.shape != (nodes.n,) or nodes.gpu_model.shape != (nodes.n,):
        raise InvariantError("GPU arrays do not have one row per node")
    present = np.arange(g)[None, :] < nodes.gpu_count[:, None]
    if np.any(nodes.gpu_free[~present] != -1):
        raise InvariantError("gpu_free beyond a node's device count is not -1")
    free = nodes.gpu_free[present]
    if np.any(free < 0) or np.any(free > GPU_MILLI):
        raise InvariantError(f"gpu_free outside [0, {GPU_MILLI}]")
    if np.any((nodes.gpu_count > 0) != (nodes.gpu_model >= 0)):
        raise InvariantError("a node has GPUs without a model or a model without GPUs")
    gpu = bound & (pods.gpu_count[:n] > 0)
    masks = pods.gpu_devices[:n][gpu]
    if np.any(masks >> g):
        raise InvariantError("a pod holds a GPU device index beyond the widest node")
    bits = (masks[:, None] >> np.arange(g)[None, :]) & 1
    if not np.array_equal(bits.sum(axis=1), pods.gpu_count[:n][gpu]):
        raise InvariantError("a bound GPU pod does not hold exactly gpu_count devices")
    used = np.zeros_like(nodes.gpu_free)
    np.add.at(used, pods.node[:n][gpu], bits * pods.gpu_milli[:n][gpu][:, None])
    if np.any(used[~present] != 0):
        raise InvariantError("a pod holds a device its node does not have")
    if not np.array_equal((GPU_MILLI - nodes.gpu_free)[present], used[present]):
        bad = np.argwhere(present & (GPU_MILLI - nodes.gpu_free != used))[0]
        raise InvariantError(
            f"GPU {bad[1]} of node {nodes.names[bad[0]]} has {nodes.gpu_free[bad[0], bad[1]]}m free, "
            f"bound pods hold {used[bad[0], bad[1]]}m"
        )
