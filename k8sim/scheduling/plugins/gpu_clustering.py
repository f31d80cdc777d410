"""GpuClustering: keep GPU pods of one kind together.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
Fragmentation Gradient Descent", USENIX ATC '23 (Clustering baseline). A GPU pod is
tagged ``share`` (``gpu_milli < 1000``) or ``k-gpu`` (``k = gpu_count`` whole GPUs: one
tag per k, e.g. ``1-gpu``, ``2-gpu``); a node's tags are those of the GPU pods bound on
it (read from ``state.group_counts``: count groups keep the GPU kind). CPU-only pods score 0 everywhere. For candidate
``n``::

    base  = 25 * (8000 - gpuLeft) // 8000
    score = 75 + base   if the node holds only pods of this pod's tag
            50 + base   if it holds this tag among others
            25 + base   if it holds no GPU pods
            base        if it holds only other tags

Devices are chosen by GpuFit's "best" rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins import gpu_common as g
from k8sim.scheduling.plugins.base import ScorePlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Tag code of sharing pods; ``k-gpu`` pods are tagged ``k``; CPU-only pods -1.
SHARE = 0


def tag(pod: PodInfo) -> int:
    """Tag code of a pod shape: -1 CPU-only, 0 ``share``, k ``k-gpu``."""
    if pod.gpu_count == 0:
        return -1
    return SHARE if pod.gpu_milli < g.GPU_MILLI else int(pod.gpu_count)


class GpuClustering(ScorePlugin):
    """Prefer nodes that hold only GPU pods of the same tag (Weng et al., ATC '23)."""

    name = "GpuClustering"
    node_local = True  # the node's own column only (incremental caches)
    summary = "GpuClustering of Weng et al. ATC '23: co-locate GPU pods of one kind (share / k-gpu)"

    def __init__(self, args=None) -> None:
        super().__init__(args)
        self._key: tuple[int, int] = (0, -1)
        self._tags = np.zeros(0, dtype=np.int64)
        self._rows: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _shape_tags(self, state: ClusterState) -> np.ndarray:
        """Tag of every count group (only appended, so cached per group count)."""
        key = (id(state.groups), len(state.groups))
        if key != self._key:
            self._tags = np.array([tag(p) for p in state.groups], dtype=np.int64)
            self._key = key
            self._rows = {}
        return self._tags

    def _tag_rows(self, state: ClusterState, mine: int) -> tuple[np.ndarray, np.ndarray]:
        """Count-group rows tagged ``mine`` and those of the other GPU tags."""
        tags = self._shape_tags(state)
        rows = self._rows.get(mine)
        if rows is None:
            rows = self._rows[mine] = (np.flatnonzero(tags == mine), np.flatnonzero((tags >= 0) & (tags != mine)))
        return rows

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        k = candidates.size
        mine = tag(pod)
        if mine < 0 or k == 0:
            return np.zeros(k, dtype=np.int64)
        rows_mine, rows_other = self._tag_rows(state, mine)
        counts = state.group_counts
        has_mine = counts[rows_mine].any(axis=0)[candidates]
        has_other = counts[rows_other].any(axis=0)[candidates]
        base = 25 * (g.MAX_GPU_MILLI - g.gpu_left(state, candidates)) // g.MAX_GPU_MILLI
        bonus = np.where(has_mine, np.where(has_other, 50, 75), np.where(has_other, 0, 25))
        return (bonus + base).astype(np.int64)
