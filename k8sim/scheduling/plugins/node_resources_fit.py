"""NodeResourcesFit: the resource filter and the LeastAllocated / MostAllocated scores.

Mirrors upstream ``pkg/scheduler/framework/plugins/noderesources``:

- Filter (``fit.go``, ``fitsRequest``): the node must have room for one more pod
  (``pods``) and, for every resource the pod requests (> 0), ``request <= allocatable -
  requested``. Resources the pod does not request are not checked. Because every pod
  requests exactly one ``pods`` unit and ``requested <= allocatable`` always holds,
  this is ``free[rows] >= request[rows]`` over the pod's requested rows.
- Score (``resource_allocation.go``, ``least_allocated.go``, ``most_allocated.go``):
  per resource, ``requested`` is the node's requests plus the pod's, where cpu and
  memory use the *non-zero* requests (100m / 200Mi for containers that request
  nothing, ``NonZeroRequested``), as upstream does for the Fit scorer. Extended
  resources the pod does not request are skipped. Integer arithmetic as upstream:
  LeastAllocated ``(capacity - requested) * 100 / capacity`` (0 if requested >
  capacity), MostAllocated ``requested * 100 / capacity`` (requested capped at
  capacity), then ``sum(score * weight) / sum(weight)`` over resources with non-zero
  allocatable, all truncating int64 division.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np

from k8sim.cluster.nodes import CORE_RESOURCES, CPU, MEMORY
from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, FilterPlugin, ScorePlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

Strategy = Literal["LeastAllocated", "MostAllocated"]

#: Upstream default ``scoringStrategy.resources``: cpu and memory, weight 1 each.
DEFAULT_RESOURCES: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))


class NodeResourcesFit(FilterPlugin, ScorePlugin):
    name = "NodeResourcesFit"

    def __init__(
        self,
        strategy: Strategy = "LeastAllocated",
        resources: tuple[tuple[str, int], ...] = DEFAULT_RESOURCES,
    ):
        if strategy not in ("LeastAllocated", "MostAllocated"):
            raise ValueError(f"unknown scoring strategy {strategy!r}")
        for res, w in resources:
            if not 1 <= w <= MAX_NODE_SCORE:
                raise ValueError(f"weight of {res} must be in [1, 100], got {w}")
        self.strategy = strategy
        self.resources = resources

    # -- Filter ---------------------------------------------------------------------

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        rows = pod.requested_rows
        return (state.nodes.free[rows] >= pod.req_col).all(axis=0)

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        out: dict[str, int] = {}
        free = state.nodes.free
        for r in pod.requested_rows:
            short = int(np.count_nonzero(free[r, rejected] < pod.requests[r]))
            if short:
                name = state.resources.names[r]
                key = "Too many pods" if name == "pods" else f"Insufficient {name}"
                out[key] = short
        return out

    # -- Score ----------------------------------------------------------------------

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        nodes = state.nodes
        total = np.zeros(candidates.size, dtype=np.int64)
        weight_sum = np.zeros(candidates.size, dtype=np.int64)
        for res, weight in self.resources:
            row = state.resources.index.get(res)
            if row is None:
                continue  # no node has this resource: allocatable is 0 everywhere
            if row == CPU or row == MEMORY:
                requested = nodes.nonzero_requested[row, candidates] + pod.nonzero[row]
            else:
                if res not in CORE_RESOURCES and pod.requests[row] == 0:
                    continue  # upstream bypasses extended resources the pod does not ask for
                requested = nodes.requested[row, candidates] + pod.requests[row]
            capacity = nodes.alloc[row, candidates]
            has = capacity > 0
            safe_cap = np.where(has, capacity, 1)
            if self.strategy == "LeastAllocated":
                s = np.where(requested > capacity, 0, (capacity - requested) * MAX_NODE_SCORE // safe_cap)
            else:
                s = np.minimum(requested, capacity) * MAX_NODE_SCORE // safe_cap
            total += np.where(has, s * weight, 0)
            weight_sum += np.where(has, weight, 0)
        return np.where(weight_sum > 0, total // np.maximum(weight_sum, 1), 0)
