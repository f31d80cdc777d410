"""FirstFit: the feasible node with the lowest index wins.

Not an upstream plugin: a research baseline, the scheduling analogue of first-fit bin
packing (Johnson, "Near-optimal bin packing algorithms", MIT PhD thesis, 1973; Coffman,
Garey and Johnson, "Approximation algorithms for bin packing: a survey", 1996).

Score, over the ``K`` candidate node indices ``c``::

    score[k] = 100  if c[k] == min(c)  else 0

Node indices are the order nodes were added (pools in scenario order, then explicit
nodes), so with this plugin as the only score the first feasible node in index order
wins. Indices are unique, so the winner is unique and the tie-break never applies.

The profile must search every node (``percentageOfNodesToScore: 100``, as the
``random`` preset sets): with upstream's node sampling the candidates are only the
first feasible nodes found from a rotating start index, and the lowest index among
them is not the first feasible node of the cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, ScorePlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class FirstFit(ScorePlugin):
    """100 for the lowest-index candidate, 0 for the others (first fit)."""

    name = "FirstFit"
    summary = "first fit: the feasible node with the lowest index scores 100, the others 0"
    #: The lowest candidate index alone scores 100, every other 0: as the only score it
    #: wins, uniquely (the profile may stop filtering at the first feasible node).
    lowest_index_wins = True

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        out = np.zeros(candidates.size, dtype=np.int64)
        if candidates.size:
            out[candidates.argmin()] = MAX_NODE_SCORE  # indices are unique: one minimum
        return out
