"""GpuBestFit: the BestFit baseline of the GPU-sharing study.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
Fragmentation Gradient Descent", USENIX ATC '23 (BestFit baseline). For candidate
``n`` (see :mod:`k8sim.scheduling.plugins.gpu_common` for the notation)::

    raw[n]   = int(100 * (1 - (0.5 * (cpuLeft - cpuReq) / 128000
                               + 0.5 * (gpuLeft - gpuReq) / 8000)))      # int64 truncation
    score[n] = int((raw[n] - min(raw)) * 100 / (max(raw) - min(raw)))    # NormalizeScore

(min and max over the candidates; when all raw scores are equal every candidate gets
100). The node with the least capacity left after placement scores highest. Devices
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


class GpuBestFit(ScorePlugin):
    """BestFit over CPU and GPU left after placement (Weng et al., ATC '23), min-max normalised."""

    name = "GpuBestFit"
    node_local = True  # the node's own column only (incremental caches)
    summary = "BestFit of Weng et al. ATC '23: least CPU+GPU left after placement, min-max normalised"

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        cpu = (g.cpu_left(state, candidates) - g.cpu_req(pod)) / g.MAX_CPU_MILLI
        gpu = (g.gpu_left(state, candidates) - g.gpu_req(pod)) / g.MAX_GPU_MILLI
        return np.trunc(100 * (1 - (0.5 * cpu + 0.5 * gpu))).astype(np.int64)

    def normalize(self, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        return g.min_max_normalize(scores)
