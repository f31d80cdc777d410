"""GpuRandomFit: a uniformly random feasible node and a uniformly random fitting GPU.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
Fragmentation Gradient Descent", USENIX ATC '23 (RandomFit baseline). Over the ``K``
candidates::

    j ~ Uniform{0, ..., K-1}           from self.rng
    score[k] = 100 if k == j else 0

Reserve (device choice "Random"): a sharing pod (``gpu_milli < 1000``) takes a GPU drawn
uniformly from those with ``free >= gpu_milli`` (from ``self.rng``), replacing GpuFit's
"best" choice; a whole-GPU pod keeps the lowest-index free GPUs. ``self.rng`` is the
plugin's own seeded stream, so a run is reproducible from its seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster import ops
from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, ScorePlugin
from k8sim.scheduling.plugins.gpu_common import GPU_MILLI

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class GpuRandomFit(ScorePlugin):
    """One uniformly random candidate scores 100; random fitting GPU (Weng et al., ATC '23)."""

    name = "GpuRandomFit"
    summary = "RandomFit of Weng et al. ATC '23: a uniformly random feasible node and fitting GPU (seeded)"

    def _rng(self) -> np.random.Generator:
        if self.rng is None:
            raise RuntimeError(f"plugin {self.name}: setup(rng) must be called first")
        return self.rng

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        out = np.zeros(candidates.size, dtype=np.int64)
        if candidates.size:
            out[int(self._rng().integers(candidates.size))] = MAX_NODE_SCORE
        return out

    def reserve(self, state: ClusterState, pod: int, info: PodInfo, node: int) -> None:
        if info.gpu_count == 0 or info.gpu_milli >= GPU_MILLI:
            return  # CPU-only: nothing; whole-GPU: GpuFit's lowest-index free devices
        fits = np.flatnonzero(state.nodes.gpu_free[node] >= info.gpu_milli)
        if fits.size == 0:
            raise ops.InvariantError(f"GpuRandomFit reserve: node {state.nodes.names[node]} cannot host pod {pod}")
        ops.assign_gpus(state, pod, 1 << int(fits[int(self._rng().integers(fits.size))]))
