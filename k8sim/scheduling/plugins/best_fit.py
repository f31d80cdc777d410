"""BestFit: prefer the node with the least capacity left after placing the pod.

Not an upstream plugin: best-fit bin packing (Johnson 1973; Coffman, Garey and Johnson,
"Approximation algorithms for bin packing: a survey", 1996), extended to several
resources by a weighted mean of per-resource fractions, in the spirit of the
weighted-sum size measures of Panigrahy et al., "Heuristics for Vector Bin Packing"
(Microsoft Research, 2011).

Args ``resources``: list of ``{name, weight}`` (weight 1..100, names distinct; default
cpu and memory, weight 1). For candidate node ``n`` and each listed resource ``r``
with allocatable ``alloc[r, n] > 0``::

    remaining[r] = (free[r, n] - request[r]) / alloc[r, n]      # after placement
    used[r]      = 1 - remaining[r]                               # both clipped to [0, 1]
    score        = floor(100 * sum_r(w_r * used[r]) / sum_r(w_r) + 1e-9)

i.e. ``100 * (1 - weighted mean remaining fraction)``. Resources a node has none of
(and resources no node has) are left out of that node's mean; a node with none of the
listed resources scores 0. ``free``/``requested`` are the actual requests of bound pods
and ``request`` the pod's actual request: unlike upstream's NodeResourcesFit score,
no non-zero defaults (100m / 200Mi) are substituted for pods that request nothing.

Arithmetic: float64. With ``left = clip(free - request, 0, alloc)`` (int64), each
per-resource term is computed as ``100 * (alloc - left) / alloc`` with the numerator an
exact integer, so it is correctly rounded; the ``1e-9`` added before ``np.floor`` keeps
a weighted mean that is mathematically an integer from being floored to the integer
below by float rounding (e.g. weights 7 and 1 on used fractions 5/6 and 1/6 give 75,
which float64 evaluates as 74.99999999999999). Then int64.

The score is absolute (no min-max normalisation over the candidates), so it composes
with other plugins on the same 0..100 scale. Compared with NodeResourcesFit's
MostAllocated strategy, which it resembles, it truncates once at the end rather than
per resource, and uses actual rather than non-zero requests.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from k8sim.config.k8s_types import K8sModel
from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, ScorePlugin
from k8sim.scheduling.plugins.node_resources_fit import ResourceSpec

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Added before ``np.floor`` so that float rounding cannot drop an integer score by one.
FLOOR_EPSILON = 1e-9


class ResourcesArgs(K8sModel):
    """A weighted resource list (``resources: [{name: cpu, weight: 1}, ...]``)."""

    resources: tuple[ResourceSpec, ...] = Field(
        default=(ResourceSpec(name="cpu"), ResourceSpec(name="memory")), min_length=1
    )

    @model_validator(mode="after")
    def _check(self) -> ResourcesArgs:
        names = [r.name for r in self.resources]
        if len(set(names)) != len(names):
            raise ValueError(f"resources must be distinct, got {names}")
        return self


def resource_rows(state: ClusterState, resources: tuple[ResourceSpec, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Rows (int[R']) and weights (float64[R']) of the listed resources present in the
    cluster's resource axis; resources the cluster does not track are dropped (every
    node has 0 of them)."""
    index = state.resources.index
    present = [(index[r.name], r.weight) for r in resources if r.name in index]
    rows = np.array([p[0] for p in present], dtype=np.intp)
    weights = np.array([p[1] for p in present], dtype=np.float64)
    return rows, weights


def remaining(state: ClusterState, pod: PodInfo, candidates: np.ndarray,
              rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``free - request`` clipped to ``[0, alloc]`` (int64[R', K]) and ``alloc`` (int64[R', K])."""
    alloc = state.nodes.alloc[rows].take(candidates, axis=1)
    left = np.clip(state.nodes.free[rows].take(candidates, axis=1) - pod.requests[rows][:, None], 0, alloc)
    return left, alloc


def percent(amount: np.ndarray, alloc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``100 * amount / alloc`` as float64 (``100 * amount`` is an exact integer, so the
    quotient is correctly rounded) and the mask ``alloc > 0``; 0 where the mask is False
    (such terms must be left out of means)."""
    has = alloc > 0
    pct = (MAX_NODE_SCORE * amount).astype(np.float64) / np.where(has, alloc, 1).astype(np.float64)
    return np.where(has, pct, 0.0), has


def weighted_floor(pct: np.ndarray, has: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``floor(sum(w * pct) / sum(w) + eps)`` per column over the rows where ``has``;
    0 for a column with no such row. int64 in [0, 100]."""
    w = weights[:, None] * has
    den = w.sum(axis=0)
    num = (w * pct).sum(axis=0)
    mean = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return np.clip(np.floor(mean + FLOOR_EPSILON), 0, MAX_NODE_SCORE).astype(np.int64)


class BestFit(ScorePlugin):
    """Least weighted remaining capacity after placement wins (best fit, packing)."""

    name = "BestFit"
    node_local = True  # the node's own column only (incremental caches)
    Args = ResourcesArgs
    args: ResourcesArgs
    summary = "best fit: 100 * (1 - weighted mean remaining fraction after placement)"

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        rows, weights = resource_rows(state, self.args.resources)
        left, alloc = remaining(state, pod, candidates, rows)
        used, has = percent(alloc - left, alloc)
        return weighted_floor(used, has, weights)
