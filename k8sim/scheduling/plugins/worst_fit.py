"""WorstFit: prefer the node with the most capacity left after placing the pod.

Not an upstream plugin: worst-fit bin packing (Johnson 1973; Coffman, Garey and
Johnson, "Approximation algorithms for bin packing: a survey", 1996), the mirror of
:mod:`~k8sim.scheduling.plugins.best_fit`, with the same weighted multi-resource mean
(after Panigrahy et al., "Heuristics for Vector Bin Packing", 2011).

Args ``resources``: list of ``{name, weight}`` (default cpu and memory, weight 1). For
candidate node ``n`` and each listed resource ``r`` with ``alloc[r, n] > 0``::

    remaining[r] = (free[r, n] - request[r]) / alloc[r, n]      # clipped to [0, 1]
    score        = floor(100 * sum_r(w_r * remaining[r]) / sum_r(w_r) + 1e-9)

Resources a node has none of are left out of its mean (a node with none of the listed
resources scores 0); actual requests throughout (no upstream non-zero defaults);
float64 arithmetic with each term ``100 * left / alloc`` correctly rounded and ``1e-9``
added before ``np.floor``, then int64. Absolute score in [0, 100], not normalised over
the candidates, so it composes with other plugins. Because both floor, BestFit +
WorstFit of one node is 99 or 100.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import ScorePlugin
from k8sim.scheduling.plugins.best_fit import (
    ResourcesArgs,
    percent,
    remaining,
    resource_rows,
    weighted_floor,
)

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class WorstFit(ScorePlugin):
    """Most weighted remaining capacity after placement wins (worst fit, spreading)."""

    name = "WorstFit"
    node_local = True  # the node's own column only (incremental caches)
    Args = ResourcesArgs
    args: ResourcesArgs
    summary = "worst fit: 100 * weighted mean remaining fraction after placement"

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        rows, weights = resource_rows(state, self.args.resources)
        left, alloc = remaining(state, pod, candidates, rows)
        pct, has = percent(left, alloc)
        return weighted_floor(pct, has, weights)
