"""A scheduling profile: filter plugins, weighted score plugins, seeded tie-break.

One call of :meth:`Profile.schedule` is one scheduling cycle of upstream's
``schedulePod`` (``pkg/scheduler/schedule_one.go``): run every Filter over all nodes,
and if more than one node is feasible, run every Score over the feasible nodes, sum
``weight * score`` and pick the best, breaking ties uniformly at random (upstream's
``selectHost`` uses reservoir sampling, which is also uniform over the tied nodes;
here the draw comes from the profile's seeded stream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, FilterPlugin, ScorePlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


@dataclass
class Decision:
    """Outcome of one scheduling cycle."""

    node: int  # chosen node, -1 if none is feasible
    feasible: int  # number of feasible nodes


class Profile:
    """Ordered filters and weighted scores under one ``schedulerName``."""

    def __init__(
        self,
        name: str,
        filters: list[FilterPlugin],
        scores: list[tuple[ScorePlugin, int]],
        rng: np.random.Generator,
    ):
        self.name = name
        self.filters = filters
        self.scores = scores
        self.rng = rng

    def feasible_mask(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        filters = self.filters
        mask = filters[0].filter(state, pod)
        for f in filters[1:]:
            mask = mask & f.filter(state, pod)
        return mask

    def schedule(self, state: ClusterState, pod: PodInfo) -> Decision:
        """Run one cycle; the caller binds the pod if ``node >= 0``."""
        candidates = np.flatnonzero(self.feasible_mask(state, pod))
        k = candidates.size
        if k == 0:
            return Decision(-1, 0)
        if k == 1 or not self.scores:
            # Upstream skips scoring when only one node is feasible.
            if k == 1:
                return Decision(int(candidates[0]), 1)
            return Decision(int(candidates[self.rng.integers(k)]), k)
        total = self.weighted_scores(state, pod, candidates)
        best = np.flatnonzero(total == total.max())
        if best.size == 1:
            return Decision(int(candidates[best[0]]), k)
        return Decision(int(candidates[best[self.rng.integers(best.size)]]), k)

    def weighted_scores(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        total = np.zeros(candidates.size, dtype=np.int64)
        for plugin, weight in self.scores:
            s = plugin.normalize(plugin.score(state, pod, candidates))
            total += s * weight
        return total

    def diagnose(self, state: ClusterState, pod: PodInfo) -> str:
        """Upstream-style ``FailedScheduling`` message: which filter rejected how many.

        Each node is charged to the first filter that rejects it, as upstream stops
        at the first failing Filter plugin for a node.
        """
        n = state.nodes.n
        alive = np.ones(n, dtype=bool)
        counts: dict[str, int] = {}
        for f in self.filters:
            ok = f.filter(state, pod)
            rejected = np.flatnonzero(alive & ~ok)
            for reason, c in f.reasons(state, pod, rejected).items():
                counts[reason] = counts.get(reason, 0) + c
            alive &= ok
        feasible = int(alive.sum())
        parts = ", ".join(f"{c} {r}" for r, c in sorted(counts.items()))
        return f"{feasible}/{n} nodes are available: {parts}." if parts else f"{feasible}/{n} nodes are available."


def check_score_range(scores: np.ndarray, plugin: str) -> None:
    """Raise if a plugin's normalised scores leave ``[0, MAX_NODE_SCORE]``."""
    if scores.size and (scores.min() < 0 or scores.max() > MAX_NODE_SCORE):
        raise ValueError(
            f"plugin {plugin} returned scores outside [0, {MAX_NODE_SCORE}]: "
            f"[{scores.min()}, {scores.max()}]"
        )
