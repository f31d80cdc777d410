"""NodeName (Filter): a pod with ``spec.nodeName`` set fits only the node of that name.

Mirrors upstream ``plugins/nodename/node_name.go`` (``Fits``: an empty nodeName fits
every node, otherwise only the node whose name equals it). The mask depends only on
the node set, so it is cached per pod shape until the node table's ``version`` moves.
No differences from upstream.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import FilterPlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class NodeName(FilterPlugin):
    name = "NodeName"
    node_local = True  # the node's own labels, taints or conditions only (incremental caches)
    reads_usage = False
    reads_requests = False  # spec.nodeName only
    skips_without = ("node_name",)
    events = frozenset({"NodeAdd"})
    reason = "node(s) didn't match the requested node name"
    # Upstream ``Filter`` returns ``UnschedulableAndUnresolvable`` with ``ErrReason``.
    unresolvable_reasons = frozenset({reason})
    summary = "a pod with spec.nodeName fits only that node"

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        return bool(pod.node_name)  # upstream PreFilter: Skip without spec.nodeName

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        nodes = state.nodes
        cached = pod.mask_cache.get(self.name)
        if cached is not None and cached[0] == nodes.version:
            return cached[1]
        if not pod.node_name:
            mask = np.ones(nodes.n, dtype=bool)
        else:
            mask = np.zeros(nodes.n, dtype=bool)
            idx = nodes.name_index.get(pod.node_name)
            if idx is not None:
                mask[idx] = True
        pod.mask_cache[self.name] = (nodes.version, mask)
        return mask
