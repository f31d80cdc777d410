"""GpuDotProd: the Tetris-like DotProd baseline of the GPU-sharing study.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
Fragmentation Gradient Descent", USENIX ATC '23 (DotProd baseline). For candidate
``n`` (notation of :mod:`k8sim.scheduling.plugins.gpu_common`)::

    vn       = [cpuLeft / 128000, gpuLeft / 8000]
    vp       = [cpuReq / 128000, gpuReq / 8000]
    score[n] = int(100 * (1 - (vn . vp) / 2))                 # int64 truncation

A node whose free capacity is least aligned with the demand scores highest. Devices
are chosen by GpuFit's "best" rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins import gpu_common as g
from k8sim.scheduling.plugins.base import ScorePlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class GpuDotProd(ScorePlugin):
    """DotProd of node free and pod demand vectors (Weng et al., ATC '23)."""

    name = "GpuDotProd"
    node_local = True  # the node's own column only (incremental caches)
    summary = "DotProd of Weng et al. ATC '23: int(100 * (1 - (free . demand) / 2)) over CPU and GPU"

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        dot = (g.cpu_left(state, candidates) / g.MAX_CPU_MILLI) * (g.cpu_req(pod) / g.MAX_CPU_MILLI) + (
            g.gpu_left(state, candidates) / g.MAX_GPU_MILLI) * (g.gpu_req(pod) / g.MAX_GPU_MILLI)
        return np.trunc(100 * (1 - dot / 2)).astype(np.int64)
