"""Random: a uniformly random score per candidate node.

Not an upstream plugin: the random-placement baseline of the scheduling and load
balancing literature (see e.g. Mitzenmacher, "The power of two choices in randomized
load balancing", IEEE TPDS 2001, for random placement as the reference point).

Score, over the ``K`` candidates::

    score[k] ~ Uniform{0, 1, ..., 100}   independently, from self.rng

``self.rng`` is the plugin's own seeded stream (given by ``setup``; in a simulation
``Streams(seed).generator("plugin:Random", profile_index)``), so a run is reproducible
from its seed and other plugins' draws do not shift it. As the only score this picks a
feasible node uniformly at random (ties at the top score are broken uniformly by the
profile); with other scores it adds uniform noise. The ``random`` preset gives a
uniformly random feasible node without any score plugin; this plugin is for mixing
randomness into a weighted profile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, ScorePlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class RandomScore(ScorePlugin):
    """Uniform integer score in [0, 100] per candidate, from the plugin's seeded stream."""

    name = "Random"
    summary = "uniformly random score in [0, 100] per candidate (seeded stream)"

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        if self.rng is None:
            raise RuntimeError(f"plugin {self.name}: setup(rng) must be called before score()")
        return self.rng.integers(0, MAX_NODE_SCORE + 1, size=candidates.size, dtype=np.int64)
