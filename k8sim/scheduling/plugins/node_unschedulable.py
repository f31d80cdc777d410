"""NodeUnschedulable: cordoned nodes (``spec.unschedulable``) and NotReady nodes.

Mirrors upstream ``plugins/nodeunschedulable/node_unschedulable.go`` for cordoned nodes.
k8sim folds the NotReady condition in here too: upstream expresses NotReady as a
``node.kubernetes.io/not-ready`` NoSchedule taint, which no k8sim workload tolerates yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import FilterPlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class NodeUnschedulable(FilterPlugin):
    name = "NodeUnschedulable"
    events = frozenset({"NodeAdd", "NodeUpdate"})
    reason = "node(s) were unschedulable"
    # Upstream ``Filter`` returns ``UnschedulableAndUnresolvable`` with ``ErrReasonUnschedulable``.
    unresolvable_reasons = frozenset({reason})
    summary = "cordoned (spec.unschedulable) and NotReady nodes are filtered out"

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        return state.nodes.schedulable_mask()
