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
from k8sim.scheduling.plugins.gpu_common import GPU_MILLI

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class GpuPacking(ScorePlugin):
    """Packing tiers: partly used GPU > partly used node > idle node (Weng et al., ATC '23)."""

    name = "GpuPacking"
    summary = "GpuPacking of Weng et al. ATC '23: partly used GPUs first, then partly used nodes, then idle"

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        k = candidates.size
        if pod.gpu_count == 0 or k == 0:
            return np.zeros(k, dtype=np.int64)
        free = state.nodes.gpu_free[candidates]  # [K, G], -1 beyond a node's devices
        count = state.nodes.gpu_count[candidates].astype(np.int64)
        full = (free == GPU_MILLI).sum(axis=1)
        idle = full == count
        walk = np.sort(free, axis=1, kind="stable")  # ascending free milli
        fits = walk >= pod.gpu_milli
        taken = fits & (np.cumsum(fits, axis=1) <= pod.gpu_count)
        u = (taken & (walk == GPU_MILLI)).sum(axis=1)
        partial = np.where(taken, walk * 100 // GPU_MILLI, 0).sum(axis=1)
        out = np.where(u >= 1, np.maximum(50 - u, 33), np.maximum(100 - partial // 10, 50))
        return np.where(idle, np.maximum(33 - full, full), out).astype(np.int64)
