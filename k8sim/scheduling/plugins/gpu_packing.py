"""GpuPacking: prefer partly used GPUs, then partly used nodes, then idle nodes.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
Fragmentation Gradient Descent", USENIX ATC '23 (GpuPacking baseline). CPU-only pods
score 0 on every node. For a GPU pod and candidate ``n`` with ``F`` completely free
GPUs (1000 milli free)::

    node idle (all its GPUs completely free):   score = max(33 - F, F)
    otherwise walk the GPUs by ascending free milli (lowest index on ties) and take the
    first gpu_count that fit (free >= gpu_milli); with u of them completely free:
        u >= 1:  score = max(50 - u, 33)
        u == 0:  score = max(100 - (sum over taken GPUs of floor(free * 100 / 1000)) // 10, 50)

Devices are chosen by GpuFit's "best" rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import ScorePlugin
from k8sim.scheduling.plugins.gpu_common import GPU_MILLI, count_true, row_min

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class GpuPacking(ScorePlugin):
    """Packing tiers: partly used GPU > partly used node > idle node (Weng et al., ATC '23)."""

    name = "GpuPacking"
    node_local = True  # the node's own column only (incremental caches)
    summary = "GpuPacking of Weng et al. ATC '23: partly used GPUs first, then partly used nodes, then idle"

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        k = candidates.size
        if pod.gpu_count == 0 or k == 0:
            return np.zeros(k, dtype=np.int64)
        free = state.nodes.gpu_free[candidates]  # [K, G], -1 beyond a node's devices
        full = count_true(free == GPU_MILLI)
        idle = full == state.nodes.gpu_count[candidates]
        if pod.gpu_milli >= GPU_MILLI:
            # The first gpu_count fitting GPUs are completely free ones: u = how many
            # there are (at most gpu_count); with none the partial sum is 0.
            u = np.minimum(full, pod.gpu_count)
            out = np.where(u >= 1, np.maximum(50 - u, 33), 100)
        elif pod.gpu_count == 1:
            # One GPU taken: the fitting one with the least free milli.
            least = row_min(np.where(free >= pod.gpu_milli, free, GPU_MILLI + 1), GPU_MILLI + 1)
            found = least <= GPU_MILLI
            partial = np.where(found, least * 100 // GPU_MILLI, 0)
            out = np.where(found & (least == GPU_MILLI), 49, np.maximum(100 - partial // 10, 50))
        else:
            walk = np.sort(free, axis=1, kind="stable")  # ascending free milli
            fits = walk >= pod.gpu_milli
            taken = fits & (np.cumsum(fits, axis=1) <= pod.gpu_count)
            u = count_true(taken & (walk == GPU_MILLI))
            partial = np.where(taken, walk * 100 // GPU_MILLI, 0).sum(axis=1)
            out = np.where(u >= 1, np.maximum(50 - u, 33), np.maximum(100 - partial // 10, 50))
        return np.where(idle, np.maximum(33 - full, full), out).astype(np.int64)
