"""What-if placement: the scheduler's own Filter plugins on a scratch copy of the cluster.

The node autoscalers ask "would this pod fit there?" about nodes that do not exist yet
(a node group's template, an instance type) and about the cluster with some nodes gone
(scale-down, consolidation). Upstream's Cluster Autoscaler answers on a forked
``ClusterSnapshot`` with the scheduler framework's filters
(``simulator/clustersnapshot``, ``simulator/scheduling/hinting_simulator.go``:
``TrySchedulePods``), Karpenter on its own copy of the cluster state
(``pkg/controllers/provisioning/scheduling/scheduler.go``). :class:`WhatIf` is k8sim's
equivalent: a :class:`~k8sim.cluster.ops.ClusterState` of its own holding a copy of
the live nodes (or none) plus added hypothetical nodes, on which a profile's Filter
plugins run unchanged, so every filter a scenario configures (resources, taints, node
affinity, pod (anti-)affinity, topology spread, host ports, GPUs) decides.

The copy shares the live state's pod shapes and count groups (read only) and has a
pod table of its own for the pods it places; it never writes the live tables. Plugin
caches: each shape is used through a shallow copy with empty caches, and the scratch
node table's ``version`` starts far from the live one's, so no cache entry of the live
run is read or polluted. Volumes are not modelled in what-if placements (the volume
filters skip a state without volumes).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster import ops
from k8sim.cluster.nodes import NodeTable, TaintSpec
from k8sim.cluster.pods import FAILED

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.framework import Profile
    from k8sim.scheduling.podinfo import PodInfo

__all__ = ["WhatIf"]

_VERSIONS = itertools.count(1)
_VERSION_STRIDE = 10**12


class WhatIf:
    """A scratch cluster on which ``fits`` runs the Filter plugins of the pod's profile.

    ``live``: the run's tables (copied once, nodes only, when ``copy_nodes``);
    ``profiles``: the run's profiles by ``schedulerName``."""

    def __init__(self, live: ClusterState, profiles: dict[str, Profile], *, copy_nodes: bool = True):
        self.live = live
        self.profiles = profiles
        s = ops.ClusterState(live.resources)
        s.shapes = live.shapes
        s.groups = live.groups
        s.shape_group = live.shape_group
        s._group_index = live._group_index
        s.namespaces = live.namespaces
        s.allow_overcommit = True
        if copy_nodes:
            s.nodes = _copy_table(live.nodes)
            s.group_counts = live.group_counts.copy()
            s.removed_nodes = live.removed_nodes
        else:
            s.group_counts = np.zeros((len(live.groups), 0), dtype=np.int32)
        s.nodes.version += next(_VERSIONS) * _VERSION_STRIDE
        self.state = s
        self._infos: dict[int, PodInfo] = {}

    # -- nodes -------------------------------------------------------------------------

    def add_node(self, name: str, allocatable: np.ndarray, labels: dict[str, str], taints: Iterable[TaintSpec],
                 gpus: tuple[int, str] | None = None) -> int:
        """A hypothetical node joins the scratch cluster (Ready); returns its column."""
        return ops.add_nodes(self.state, names=[name], allocatable=np.asarray(allocatable, dtype=np.int64),
                             labels=[dict(labels)], taints=list(taints), pool=-1, now=0.0, gpus=gpus)[0]

    def remove_node(self, node: int) -> None:
        """The node leaves the scratch cluster (no filter passes it); the pods counted
        there stop counting for topology (count groups)."""
        s = self.state
        if np.isinf(s.nodes.removed_at[node]):
            ops.remove_node(s, node, 0.0)
        s.group_counts[:, node] = 0

    # -- pods --------------------------------------------------------------------------

    def info(self, shape: int) -> PodInfo:
        """The shape's PodInfo, a copy with caches of its own."""
        got = self._infos.get(shape)
        if got is None:
            got = copy.copy(self.live.shapes[shape])
            got.mask_cache = {}
            got.cache = {}
            self._infos[shape] = got
        return got

    def mask(self, shape: int) -> np.ndarray:
        """``bool[N]``: the scratch nodes that pass every filter of the shape's profile."""
        info = self.info(shape)
        profile = self.profiles[info.scheduler_name]
        s = self.state
        if s.group_counts.shape[0] < len(s.groups):  # shapes registered since the copy
            extra = np.zeros((len(s.groups) - s.group_counts.shape[0], s.nodes.n), dtype=np.int32)
            s.group_counts = np.concatenate([s.group_counts, extra])
        return profile.feasible_mask(s, info)

    def place_first_fit(self, pods: list[int]) -> list[int]:
        """Book each of ``pods`` (all of one shape, in order) on the first node that
        passes the filters, as upstream's ``TrySchedulePods`` does; returns those that
        fit nowhere. For a shape whose filters depend only on the node and its free
        resources (no pod (anti-)affinity, spread constraints or host ports), the filter
        mask is computed once and updated by the resource check of the node just used,
        which gives the same placements as recomputing it."""
        if not pods:
            return []
        live = self.live.pods
        shape = int(live.shape[pods[0]])
        info = self.info(shape)
        simple = info.affinity is None and not info.spread and not info.host_ports and not info.gpu_count
        left: list[int] = []
        mask = self.mask(shape)
        rows = info.requested_rows
        need = info.requests[rows]
        free = self.state.nodes.free
        for i, p in enumerate(pods):
            if not simple and i:
                mask = self.mask(shape)
            hit = np.flatnonzero(mask)
            if hit.size == 0:
                left.extend(pods[i:])
                break
            node = int(hit[0])
            self.place(p, node)
            if simple and not (free[rows, node] >= need).all():
                mask = mask.copy()
                mask[node] = False
        return left

    def fits(self, shape: int, node: int) -> bool:
        return bool(self.mask(shape)[node])

    def place(self, pod: int, node: int) -> None:
        """Book live pod ``pod`` (its requests, shape and GPUs) on scratch ``node``."""
        live = self.live.pods
        s = self.state
        row = s.pods.append(name=live.names[pod], requests=live.requests[pod], workload=int(live.workload[pod]),
                            index=0, shape=int(live.shape[pod]), priority=int(live.priority[pod]), created=0.0,
                            duration=0.0, start_latency=0.0, gpu_count=int(live.gpu_count[pod]),
                            gpu_milli=int(live.gpu_milli[pod]), nonzero=live.nonzero[pod])
        ops.bind(s, row, node, 0.0)

    def forget(self, pod: int, node: int) -> None:
        """Live pod ``pod`` no longer counts on scratch ``node`` (it is being moved):
        its requests and its count-group entry leave the node (undone by
        :meth:`restore`). Its GPU devices stay booked: a moved pod's devices are not
        offered to the others of the simulation."""
        self._shift(pod, node, -1)

    def restore(self, pod: int, node: int) -> None:
        """Undo :meth:`forget`."""
        self._shift(pod, node, 1)

    def _shift(self, pod: int, node: int, sign: int) -> None:
        live = self.live.pods
        s = self.state
        req = live.requests[pod] * sign
        s.nodes.requested[:, node] += req
        s.nodes.free[:, node] -= req
        s.nodes.nonzero_requested[:, node] += live.nonzero[pod] * sign
        s.group_counts[s.shape_group[int(live.shape[pod])], node] += sign
        s.generation += 1
        s.usage_journal.append(node)  # the incremental scheduling caches read it

    def undo(self, placed: Iterable[tuple[int, int]]) -> None:
        """Take back placements made with :meth:`place`: ``(scratch pod row, node)``."""
        for row, _node in placed:
            ops.release(self.state, row, FAILED, 0.0)


def _copy_table(nt: NodeTable) -> NodeTable:
    """A copy of a node table that the scratch state may change freely: arrays,
    lists and dicts copied (label value vocabularies too), the rest shared."""
    out = copy.copy(nt)
    for name, value in vars(nt).items():
        if isinstance(value, np.ndarray):
            setattr(out, name, value.copy())
        elif isinstance(value, list):
            setattr(out, name, list(value))
        elif isinstance(value, dict):
            setattr(out, name, dict(value))
    out.labels = {k: v.copy() for k, v in nt.labels.items()}
    out.label_values = {k: dict(v) for k, v in nt.label_values.items()}
    return out
