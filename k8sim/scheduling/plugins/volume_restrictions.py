"""VolumeRestrictions: a ReadWriteOncePod claim serves one pod at a time.

Mirrors the ReadWriteOncePod part of upstream
``pkg/scheduler/framework/plugins/volumerestrictions/volume_restrictions.go``: when
another (bound, not yet ended) pod uses a claim of the pod that has the ReadWriteOncePod
access mode, every node fails with ``ErrReasonReadWriteOncePodConflict``, status
Unschedulable (preemption of the pod using it may help). The in-tree disk conflicts
(GCE PD, AWS EBS, RBD, iSCSI inline volumes) have no k8sim counterpart: k8sim pods mount
only claims.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import FilterPlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``ErrReasonReadWriteOncePodConflict``.
RWOP_CONFLICT = "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode"


class VolumeRestrictions(FilterPlugin):
    name = "VolumeRestrictions"
    skips_without = ("claims",)  # PreFilter Skip without claims
    events = frozenset({"PodDelete", "NodeAdd"})
    reason = RWOP_CONFLICT
    summary = "a ReadWriteOncePod claim already used by another pod blocks every node"

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        vs = state.volumes
        return bool(pod.claims) and vs is not None and any(
            "ReadWriteOncePod" in vs.claims[ci].modes for ci in pod.claims)

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        vs = state.volumes
        busy = any("ReadWriteOncePod" in vs.claims[ci].modes and vs.claims[ci].users > 0 for ci in pod.claims)
        return np.full(state.nodes.n, not busy, dtype=bool)
