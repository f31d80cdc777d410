"""Tetris: prefer the node whose free capacity is best aligned with the pod's demand.

Not an upstream plugin: the packing heuristic of Grandl, Ananthanarayanan, Kandula,
Rao and Akella, "Multi-resource packing for cluster schedulers", SIGCOMM 2014 (Tetris):
the alignment score of a task and a machine is the dot product of the
task's demand vector and the machine's available-resource vector, both normalised by
the machine's capacity.

Args ``resources``: list of ``{name, weight}`` (default cpu and memory, weight 1); the
weights scale each term of the dot product. For candidate node ``n``::

    alignment[n] = sum_r w_r * (request[r] / alloc[r, n]) * (free[r, n] / alloc[r, n])
                   / sum_r w_r
    raw[n]       = floor(1_000_000 * alignment[n])                  # Score, int64
    score[n]     = raw[n] * 100 // max(raw)                         # NormalizeScore

``free`` is the capacity available *before* placement (as in the paper), clipped to
``[0, alloc]``; resources a node has none of contribute 0 (the denominator ``sum_r w_r``
is over all listed resources the cluster tracks, the same for every node);
``alignment`` is in [0, 1] since a candidate has ``request <= free <= alloc``.
NormalizeScore is upstream's ``helper.DefaultNormalizeScore`` (the best-aligned
candidate gets 100; all 0 if the pod requests none of the listed resources). The raw
score is float64 then ``np.floor`` at a resolution of 1e-6, which is below what the
0..100 normalised score can show.

Differences from the paper: only the packing (alignment) term is modelled; Tetris's
combination with shortest-remaining-time and its fairness knob, and its use of
measured rather than requested usage, are left out. Actual requests are used (no
upstream non-zero defaults), so a pod that requests nothing has no preference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import ScorePlugin, default_normalize
from k8sim.scheduling.plugins.best_fit import ResourcesArgs, resource_rows

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Resolution of the raw alignment score (alignment in [0, 1] -> [0, RAW_SCALE]).
RAW_SCALE = 1_000_000


class Tetris(ScorePlugin):
    """Alignment (demand . free, normalised by allocatable) scaled so the best is 100."""

    name = "Tetris"
    node_local = True  # the node's own column only (incremental caches)
    Args = ResourcesArgs
    args: ResourcesArgs
    summary = "Tetris (Grandl et al. 2014): alignment of pod demand and node free capacity"

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        rows, weights = resource_rows(state, self.args.resources)
        if rows.size == 0 or candidates.size == 0:
            return np.zeros(candidates.size, dtype=np.int64)
        nodes = state.nodes
        alloc = nodes.alloc[rows].take(candidates, axis=1)
        free = np.clip(nodes.free[rows].take(candidates, axis=1), 0, alloc).astype(np.float64)
        has = alloc > 0
        a = np.where(has, alloc, 1).astype(np.float64)
        demand = pod.requests[rows].astype(np.float64)[:, None]
        terms = np.where(has, (demand / a) * (free / a), 0.0)
        alignment = (weights[:, None] * terms).sum(axis=0) / weights.sum()
        return np.clip(np.floor(RAW_SCALE * alignment), 0, RAW_SCALE).astype(np.int64)

    def normalize(self, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        return default_normalize(scores)
