"""Shared quantities of the GPU-sharing policies of Weng et al., "Beware of
Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent",
USENIX ATC '23 (artifact ``hkust-adsl/kubernetes-scheduler-simulator``).

``cpuLeft`` is a node's free milli-CPU, ``gpuLeft`` the sum of free milli over its GPUs
(devices a node lacks hold -1 in ``gpu_free`` and count 0), both before placement;
``cpuReq`` the pod's milli-CPU request and ``gpuReq = gpu_count * gpu_milli``. The
normalising maxima are 128000 milli-CPU and 8000 milli-GPU (8 GPUs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster.nodes import CPU

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Normalising maximum of milli-CPU (a 128-core node).
MAX_CPU_MILLI = 128_000
#: Normalising maximum of milli-GPU (8 GPUs of 1000 milli).
MAX_GPU_MILLI = 8_000
#: Milli-GPU of one device.
GPU_MILLI = 1000


def cpu_left(state: ClusterState, candidates: np.ndarray) -> np.ndarray:
    """``int64[K]`` free milli-CPU of the candidates."""
    return state.nodes.free[CPU, candidates]


def gpu_left(state: ClusterState, candidates: np.ndarray) -> np.ndarray:
    """``int64[K]`` sum of free milli over the candidates' GPUs (0 without GPUs)."""
    return np.clip(state.nodes.gpu_free[candidates], 0, None).sum(axis=1)


def cpu_req(pod: PodInfo) -> int:
    return int(pod.requests[CPU])


def gpu_req(pod: PodInfo) -> int:
    return int(pod.gpu_count) * int(pod.gpu_milli)


def min_max_normalize(scores: np.ndarray) -> np.ndarray:
    """The artifact's min-max NormalizeScore: ``int((s - lo) * 100 / (hi - lo))`` over the
    candidates; when every score is equal ``lo`` is lowered by one, so all become 100."""
    if scores.size == 0:
        return scores
    hi, lo = int(scores.max()), int(scores.min())
    if hi == lo:
        lo -= 1
    return np.trunc((scores - lo) * 100.0 / (hi - lo)).astype(np.int64)
