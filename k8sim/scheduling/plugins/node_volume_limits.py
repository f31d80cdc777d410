"""NodeVolumeLimits: a node attaches at most so many volumes of each CSI driver.

Mirrors upstream ``pkg/scheduler/framework/plugins/nodevolumelimits/csi.go``
(``CSILimits.Filter``): per CSI driver, the volumes attached to the node (by the pods
there, each volume once) plus the pod's volumes not already there must not exceed the
node's limit (CSINode ``drivers[].allocatable.count``; k8sim: the pool's
``csi_attach_limits``); else "node(s) exceed max volume count". A driver without a limit
on the node does not count. An unbound claim counts under its class's provisioner, as
upstream's ``getCSIDriverInfoFromSC``. k8sim counts a volume as attached until it is
detached (after the detach latency), as the attachment (VolumeAttachment) exists
upstream until the detach completes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import FilterPlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``ErrReasonMaxVolumeCountExceeded``.
MAX_VOLUMES = "node(s) exceed max volume count"


class NodeVolumeLimits(FilterPlugin):
    name = "NodeVolumeLimits"
    skips_without = ("claims",)  # PreFilter Skip without claims
    events = frozenset({"PodDelete", "NodeAdd", "NodeUpdate"})
    reason = MAX_VOLUMES
    summary = "per-node CSI attach limits (csi_attach_limits) are not exceeded"

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        return bool(pod.claims) and state.volumes is not None

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        vs = state.volumes
        n = state.nodes.n
        new: dict[str, np.ndarray] = {}
        for ci in pod.claims:
            c = vs.claims[ci]
            if c.volume >= 0:
                driver = vs.volumes[c.volume].driver
                here = np.zeros(n, dtype=bool)
                for node in vs.attached.get(c.volume, {}):
                    here[node] = True
                add = (~here).astype(np.int64)
            else:
                cls = vs.classes.get(c.storage_class)
                driver = cls.provisioner if cls is not None else ""
                add = np.ones(n, dtype=np.int64)
            if driver:
                new[driver] = new.get(driver, np.zeros(n, dtype=np.int64)) + add
        out = np.ones(n, dtype=bool)
        for driver, extra in new.items():
            limit = vs.limits(driver)
            out &= (limit < 0) | (vs.counts(driver) + extra <= limit)
        return out
