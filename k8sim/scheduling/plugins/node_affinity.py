"""NodeAffinity: the pod's ``nodeSelector`` (every pair must match a node label).

Mirrors the ``nodeSelector`` half of upstream ``plugins/nodeaffinity/node_affinity.go``
(Filter, via ``RequiredNodeAffinity.Match``). Affinity terms come with the scheduling
framework work.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import FilterPlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class NodeAffinity(FilterPlugin):
    name = "NodeAffinity"
    reason = "node(s) didn't match Pod's node affinity/selector"

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        nodes = state.nodes
        cached = pod.mask_cache.get(self.name)
        if cached is not None and cached[0] == nodes.version:
            return cached[1]
        mask = np.ones(nodes.n, dtype=bool)
        for key, value in pod.node_selector.items():
            codes = nodes.labels.get(key)
            if codes is None:
                mask[:] = False
                break
            mask &= codes == nodes.label_code(key, value)
        pod.mask_cache[self.name] = (nodes.version, mask)
        return mask
