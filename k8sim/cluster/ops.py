"""The only mutators of the cluster tables, and the invariant check.

Every change to node or pod state goes through a function here, so that the
conservation invariants (``requested == sum of bound pods' requests``,
``0 <= requested <= allocatable``, ``free == allocatable - requested``) can be checked
after any event by :func:`check_invariants`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from k8sim.cluster.nodes import NodeTable, ResourceIndex, TaintSpec
from k8sim.cluster.pods import BOUND, PENDING, RUNNING, PodTable


@dataclass
class ClusterState:
    """Node table + pod table + the resource axis they share, plus pod shapes.

    ``shapes[s]`` is the :class:`~k8sim.scheduling.podinfo.PodInfo` of shape ``s`` and
    ``shape_counts[s, n]`` the number of bound pods of shape ``s`` on node ``n``.
    """

    resources: ResourceIndex
    nodes: NodeTable = field(init=False)
    pods: PodTable = field(init=False)
    shapes: list[Any] = field(init=False)
    shape_counts: np.ndarray = field(init=False)
    #: Bumped by every mutation that can change a scheduling outcome (bind, release,
    #: node changes); a pod shape that failed at generation g fails again at g.
    generation: int = field(init=False, default=0)
    #: Preemptors waiting for their victims to leave: pod -> nominated node.
    nominated: dict[int, int] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.nodes = NodeTable(self.resources)
        self.pods = PodTable(len(self.resources))
        self.shapes = []
        self.shape_counts = np.zeros((0, 0), dtype=np.int32)


def add_shape(state: ClusterState, info: Any) -> int:
    """Register a pod shape (its ``shape`` attribute is set to the new id)."""
    sid = len(state.shapes)
    info.shape = sid
    state.shapes.append(info)
    state.shape_counts = np.concatenate(
        [state.shape_counts, np.zeros((1, state.nodes.n), dtype=np.int32)], axis=0
    )
    return sid


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
) -> int:
    """Append one node; returns its column. Labels and taints are interned."""
    return add_nodes(state, names=[name], allocatable=allocatable, labels=[labels], taints=taints,
                     pool=pool, now=now, ready=ready)[0]


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
) -> list[int]:
    """Append ``len(names)`` nodes sharing allocatable, taints and pool (one node pool),
    with per-node labels; returns their columns. One reallocation for all of them."""
    nt = state.nodes
    k = len(names)
    if len(labels) != k:
        raise ValueError("one labels dict per node is required")
    for name in names:
        if name in nt.name_index:
            raise ValueError(f"node {name!r} already exists")
    if len(set(names)) != k:
        raise ValueError("node names must be distinct")
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
    state.shape_counts = grow(state.shape_counts, 0)
    nt.taints = grow(nt.taints, False)
    for t in taints:
        if t not in nt.taint_index:
            nt.taint_index[t] = len(nt.taint_specs)
            nt.taint_specs.append(t)
            nt.taints = np.concatenate([nt.taints, np.zeros((1, n + k), dtype=bool)])
        nt.taints[nt.taint_index[t], cols] = True
    for i, name in enumerate(names):
        nt.names.append(name)
        nt.name_index[name] = n + i
    nt.n = n + k
    nt.version += 1
    state.generation += 1
    return list(range(n, n + k))


def nominate(state: ClusterState, pod: int, node: int) -> None:
    """Record a preemptor's nominated node (upstream ``status.nominatedNodeName``)."""
    state.nominated[pod] = node
    state.generation += 1


def set_unschedulable(state: ClusterState, node: int, unschedulable: bool) -> None:
    """Cordon (True) or uncordon (False) a node."""
    state.nodes.unschedulable[node] = unschedulable
    state.generation += 1


def set_ready(state: ClusterState, node: int, ready: bool) -> None:
    """Set a node's Ready condition."""
    state.nodes.ready[node] = ready
    state.generation += 1


def bind(state: ClusterState, pod: int, node: int, now: float) -> None:
    """Bind a Pending pod to a node: the node's requests grow by the pod's."""
    pods, nodes = state.pods, state.nodes
    if pods.phase[pod] != PENDING:
        raise InvariantError(f"bind of pod {pods.names[pod]} in phase {pods.phase[pod]}")
    req = pods.requests[pod]
    nodes.requested[:, node] += req
    nodes.free[:, node] -= req
    nodes.nonzero_requested[:, node] += pods.nonzero[pod]
    state.shape_counts[pods.shape[pod], node] += 1
    pods.node[pod] = node
    pods.phase[pod] = BOUND
    pods.scheduled[pod] = now
    state.nominated.pop(pod, None)
    state.generation += 1


def set_running(state: ClusterState, pod: int, now: float) -> None:
    """The pod's containers have started."""
    pods = state.pods
    if pods.phase[pod] != BOUND:
        raise InvariantError(f"pod {pods.names[pod]} started in phase {pods.phase[pod]}")
    pods.phase[pod] = RUNNING
    pods.running[pod] = now


def release(state: ClusterState, pod: int, phase: int, now: float) -> int:
    """A bound pod ends (``phase`` Succeeded or Failed): free its node's resources.

    Returns the node it was bound to.
    """
    pods, nodes = state.pods, state.nodes
    node = int(pods.node[pod])
    if node < 0 or pods.phase[pod] not in (BOUND, RUNNING):
        raise InvariantError(f"release of pod {pods.names[pod]} that is not bound")
    req = pods.requests[pod]
    nodes.requested[:, node] -= req
    nodes.free[:, node] += req
    nodes.nonzero_requested[:, node] -= pods.nonzero[pod]
    state.shape_counts[pods.shape[pod], node] -= 1
    pods.phase[pod] = phase
    pods.finished[pod] = now
    state.generation += 1
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
    counts = np.zeros_like(state.shape_counts)
    np.add.at(counts, (pods.shape[:n][bound], idx), 1)
    if not np.array_equal(counts, state.shape_counts):
        raise InvariantError("shape_counts disagrees with the bound pods")
    if np.any(nodes.requested < 0) or np.any(nodes.requested > nodes.alloc):
        raise InvariantError("requested outside [0, allocatable]")
    if not np.array_equal(nodes.free, nodes.alloc - nodes.requested):
        raise InvariantError("free != allocatable - requested")
