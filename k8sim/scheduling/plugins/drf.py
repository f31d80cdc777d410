"""DRF: prefer the node where the dominant share after placement is smallest.

Not an upstream plugin. Dominant Resource Fairness (Ghodsi, Zaharia, Hindman,
Konwinski, Shenker and Stoica, "Dominant Resource Fairness: Fair Allocation of
Multiple Resource Types", NSDI 2011) allocates resources *across users*, giving the
next task to the user with the smallest dominant share. k8sim has no user queues yet,
so this is a node-level DRF heuristic: a node's dominant share is the largest fraction
of any resource that is requested on it, and the pod goes where that share, after
placing it, is smallest (a min-max-utilisation placement that evens out each node's
most contended resource).

Args ``resources``: list of ``{name}`` (default cpu and memory; no weights, since a
dominant share is a maximum, not a mean). For candidate node ``n``, over the listed
resources ``r`` with ``alloc[r, n] > 0``::

    share[r]  = (requested[r, n] + request[r]) / alloc[r, n]      # clipped to [0, 1]
    dominant  = max_r share[r]
    score     = floor(100 * (1 - dominant) + 1e-9)

computed as ``min_r 100 * left[r] / alloc[r, n]`` with ``left = clip(free - request, 0,
alloc)`` (exact integer numerator, correctly rounded float64 quotient), ``1e-9`` added
before ``np.floor``, then int64. A node with none of the listed resources scores 0.
Actual requests (no upstream non-zero defaults). Absolute score in [0, 100], not
normalised over the candidates.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from k8sim.config.k8s_types import K8sModel
from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, ScorePlugin
from k8sim.scheduling.plugins.best_fit import FLOOR_EPSILON, percent, remaining

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo


class ResourceName(K8sModel):
    """A resource in DRF's list (``{name: cpu}``)."""

    name: str = Field(min_length=1)


class DRFArgs(K8sModel):
    """``resources: [{name: cpu}, {name: memory}]``: the resources shares are taken over."""

    resources: tuple[ResourceName, ...] = Field(
        default=(ResourceName(name="cpu"), ResourceName(name="memory")), min_length=1
    )

    @model_validator(mode="after")
    def _check(self) -> DRFArgs:
        names = [r.name for r in self.resources]
        if len(set(names)) != len(names):
            raise ValueError(f"resources must be distinct, got {names}")
        return self


class DominantResourceFairness(ScorePlugin):
    """100 * (1 - dominant share after placement), floored (node-level DRF heuristic)."""

    name = "DRF"
    node_local = True  # the node's own column only (incremental caches)
    Args = DRFArgs
    args: DRFArgs
    summary = "node-level DRF heuristic: smallest dominant share after placement wins"

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        index = state.resources.index
        rows = np.array([index[r.name] for r in self.args.resources if r.name in index],
                        dtype=np.intp)
        if rows.size == 0:
            return np.zeros(candidates.size, dtype=np.int64)
        left, alloc = remaining(state, pod, candidates, rows)
        pct, has = percent(left, alloc)
        worst = np.where(has, pct, np.inf).min(axis=0)
        out = np.where(np.isfinite(worst), np.floor(worst + FLOOR_EPSILON), 0.0)
        return np.clip(out, 0, MAX_NODE_SCORE).astype(np.int64)
