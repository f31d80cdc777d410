"""RuntimeClass: keep a pod off nodes that do not have its RuntimeClass's handler.

Not an upstream scheduler plugin. Upstream the scheduler learns where a runtime is only
through the class's ``scheduling.nodeSelector`` (merged into the pod by the RuntimeClass
admission plugin and checked by NodeAffinity, as k8sim does too); a pod bound to a node
without the handler fails there at sandbox creation (``RunPodSandbox``: no runtime for
the handler is configured) and stays ContainerCreating. k8sim instead lets node pools
declare their handlers (``runtime_handlers``, what kubelets report in
``node.status.runtimeHandlers``, KEP-3857) and filters here, so that such a pod waits
Pending with a reason that names the handler.

A node that declares no handlers is taken to have every handler (a cluster that says
nothing about handlers behaves as upstream). A pod without a RuntimeClass uses the
node's default handler and is never filtered (``pre_filter`` skips it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.constants import RUNTIME_HANDLER_LABEL_PREFIX
from k8sim.scheduling.plugins.base import UNSCHEDULABLE_AND_UNRESOLVABLE, FilterPlugin, NodeStatus

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

_CACHE_KEY = "RuntimeClass"


def handler_mask(state: ClusterState, handler: str) -> np.ndarray:
    """``bool[N]``: nodes that have ``handler`` or declare no handler at all."""
    nodes = state.nodes
    declares = np.zeros(nodes.n, dtype=bool)
    has = np.zeros(nodes.n, dtype=bool)
    for key, codes in nodes.labels.items():
        if key.startswith(RUNTIME_HANDLER_LABEL_PREFIX):
            present = codes >= 0
            declares |= present
            if key == RUNTIME_HANDLER_LABEL_PREFIX + handler:
                has = present
    return has | ~declares


class RuntimeClass(FilterPlugin):
    name = "RuntimeClass"
    node_local = True  # the node's own labels, taints or conditions only (incremental caches)
    reads_usage = False
    reads_requests = False  # the RuntimeClass's handler only
    skips_without = ("runtime_handler",)
    events = frozenset({"NodeAdd", "NodeUpdate"})
    summary = "nodes that declare runtime_handlers must have the pod's RuntimeClass handler (k8sim)"

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        return bool(pod.runtime_handler)

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        cached = pod.mask_cache.get(_CACHE_KEY)
        if cached is not None and cached[0] == state.nodes.version:
            return cached[1]
        mask = handler_mask(state, pod.runtime_handler)
        pod.mask_cache[_CACHE_KEY] = (state.nodes.version, mask)
        return mask

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        if not rejected.size:
            return {}
        return {f"node(s) didn't have the pod's runtime handler {pod.runtime_handler!r}": int(rejected.size)}

    def node_status(self, state: ClusterState, pod: PodInfo, node: int, reasons: tuple[str, ...]) -> NodeStatus:
        # A node without the handler does not get it by pods leaving: preemption cannot help.
        return NodeStatus(UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)
