"""VolumeZone: a bound volume's zone must be the node's zone.

Mirrors upstream ``pkg/scheduler/framework/plugins/volumezone/volume_zone.go``
(``Filter``): for each bound volume of the pod with a zone label
(``topology.kubernetes.io/zone``), the node's label must have the same value; a node with
no zone label passes (upstream: "if a node has no topology labels, it passes"). Unbound
WaitForFirstConsumer claims are skipped (VolumeBinding places them). k8sim volumes carry
at most one zone (no ``__``-separated zone sets, no region label).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.constants import ZONE_LABEL
from k8sim.scheduling.plugins.base import UNSCHEDULABLE_AND_UNRESOLVABLE, FilterPlugin, NodeStatus

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``ErrReasonConflict``.
ZONE_CONFLICT = "node(s) had no available volume zone"


class VolumeZone(FilterPlugin):
    name = "VolumeZone"
    skips_without = ("claims",)  # PreFilter Skip without claims
    events = frozenset({"NodeAdd", "NodeUpdate", "PodAdd", "PersistentVolumeClaimUpdate"})
    reason = ZONE_CONFLICT
    summary = "a bound zonal volume's zone equals the node's zone (nodes without a zone pass)"

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        return bool(pod.claims) and state.volumes is not None

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        vs = state.volumes
        nodes = state.nodes
        out = np.ones(nodes.n, dtype=bool)
        codes = nodes.labels.get(ZONE_LABEL)
        if codes is None:
            return out
        for ci in pod.claims:
            v = vs.claims[ci].volume
            if v < 0 or vs.volumes[v].zone is None:
                continue
            out &= (codes < 0) | (codes == nodes.label_code(ZONE_LABEL, vs.volumes[v].zone))
        return out

    def node_status(self, state: ClusterState, pod: PodInfo, node: int, reasons: tuple[str, ...]) -> NodeStatus:
        return NodeStatus(UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)
