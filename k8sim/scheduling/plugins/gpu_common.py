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


#: ``np.bitwise_count`` (numpy >= 2.0), None before.
_POPCOUNT = getattr(np, "bitwise_count", None)
#: Unsigned integer of each byte width, to read a row of bools as one word.
_WORDS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def count_true(mask: np.ndarray) -> np.ndarray:
    """``int64`` number of True values along the last axis of a bool array.

    Same values as ``mask.sum(axis=-1)``, faster for the short device axis: each bool is
    one byte holding 0 or 1, so the row's bytes read as unsigned words have exactly as
    many set bits as the row has True values (rows of 1, 2, 4 or a multiple of 8 bytes;
    other widths, non-contiguous arrays and numpy < 2.0 use ``sum``)."""
    width = mask.shape[-1]
    if _POPCOUNT is None or not mask.flags.c_contiguous or mask.size == 0:
        return mask.sum(axis=-1, dtype=np.int64)
    word = _WORDS.get(width)
    if word is not None:
        return _POPCOUNT(mask.view(word)[..., 0]).astype(np.int64)
    if width % 8 == 0:
        return _POPCOUNT(mask.view(np.uint64)).sum(axis=-1, dtype=np.int64)
    return mask.sum(axis=-1, dtype=np.int64)


def row_sums(values: np.ndarray) -> np.ndarray:
    """``int64`` sums along the last axis of an int64 array (exact; an integer product
    with a vector of ones, which numpy runs faster than ``sum`` over a short axis)."""
    return values @ np.ones(values.shape[-1], dtype=np.int64)


def row_min(values: np.ndarray, initial: int) -> np.ndarray:
    """``int64`` minimum of each row of a 2-D int array and ``initial`` (same values as
    ``values.min(axis=1, initial=initial)``; one elementwise ``minimum`` per column,
    faster for the short device axis)."""
    out = np.full(values.shape[0], initial, dtype=np.int64)
    for d in range(values.shape[1]):
        np.minimum(out, values[:, d], out=out)
    return out


def cpu_left(state: ClusterState, candidates: np.ndarray) -> np.ndarray:
    """``int64[K]`` free milli-CPU of the candidates."""
    return state.nodes.free[CPU, candidates]


def gpu_left(state: ClusterState, candidates: np.ndarray) -> np.ndarray:
    """``int64[K]`` sum of free milli over the candidates' GPUs (0 without GPUs)."""
    return row_sums(np.maximum(state.nodes.gpu_free[candidates], 0))


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
