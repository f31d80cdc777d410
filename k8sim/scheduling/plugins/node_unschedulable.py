"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) and NotReady nodes.

Mirrors upstream ``plugins/nodeunschedulable/node_unschedulable.go`` for cordoned nodes:
a pod that tolerates the ``node.kubernetes.io/unschedulable:NoSchedule`` taint (as
DaemonSet pods do, ``AddOrUpdateDaemonPodTolerations``) may land on a cordoned node.
k8sim folds the NotReady condition in here too: upstream expresses NotReady as a
``node.kubernetes.io/not-ready`` NoSchedule taint, which no k8sim workload tolerates yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np

from k8sim.cluster.nodes import TaintSpec
from k8sim.scheduling.plugins.base import FilterPlugin
from k8sim.scheduling.plugins.shared import FieldCache
from k8sim.scheduling.plugins.taint_toleration import tolerates

if TYPE_CHECKING:
    from pydantic import BaseModel

    from k8sim.cluster.ops import ClusterState
    from k8sim.config.pods import Toleration
    from k8sim.scheduling.podinfo import PodInfo


#: The taint upstream's plugin checks tolerations against (``v1.TaintNodeUnschedulable``).
_UNSCHEDULABLE = TaintSpec("node.kubernetes.io/unschedulable", "", "NoSchedule")


class NodeUnschedulable(FilterPlugin):
    name = "NodeUnschedulable"
    node_local = True  # the node's own labels, taints or conditions only (incremental caches)
    reads_usage = False
    reads_requests = False  # the spec's tolerations / node selection only
    events = frozenset({"NodeAdd", "NodeUpdate"})
    reason = "node(s) were unschedulable"
    # Upstream ``Filter`` returns ``UnschedulableAndUnresolvable`` with ``ErrReasonUnschedulable``.
    unresolvable_reasons = frozenset({reason})
    summary = "cordoned (spec.unschedulable) and NotReady nodes are filtered out"

    def __init__(self, args: BaseModel | None = None) -> None:
        super().__init__(args)
        # Whether the tolerations tolerate the taint, by the tolerations object (kept
        # alive with it, so its id is not reused): shapes of one template share it.
        self._tolerates_by: dict[int, tuple[tuple[Toleration, ...], bool]] = {}
        self._masks = FieldCache()

    def _tolerates(self, pod: PodInfo) -> bool:
        tols = pod.tolerations
        hit = self._tolerates_by.get(id(tols))
        if hit is None:
            if len(self._tolerates_by) >= 1024:
                self._tolerates_by.clear()
            hit = self._tolerates_by[id(tols)] = (tols, any(tolerates(t, _UNSCHEDULABLE) for t in tols))
        return hit[1]

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        # Kept per node table version (every change of Ready or spec.unschedulable moves
        # it, as ops._node_changed does) and read-only: shared by every shape.
        nodes = state.nodes
        tolerates = self._tolerates(pod)
        entries = self._masks.entries(nodes)
        hit = entries.get(tolerates)
        if hit is not None:
            return cast(np.ndarray, hit[1])
        mask = nodes.ready.copy() if tolerates else nodes.schedulable_mask()
        mask.flags.writeable = False
        entries[tolerates] = (None, mask)
        return mask

    def filter_range(self, state: ClusterState, pod: PodInfo, lo: int, hi: int) -> np.ndarray:
        if self._tolerates(pod):
            return state.nodes.ready[lo:hi].copy()
        return state.nodes.schedulable_mask(lo, hi)

    def filter_nodes(self, state: ClusterState, pod: PodInfo, nodes: np.ndarray) -> np.ndarray:
        nt = state.nodes
        if self._tolerates(pod):
            return nt.ready[nodes]
        return nt.ready[nodes] & ~nt.unschedulable[nodes]
