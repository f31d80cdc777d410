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
from pydantic import Field, model_validator

from k8sim.cluster.nodes import CORE_RESOURCES, CPU, MEMORY
from k8sim.config.k8s_types import K8sModel
from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, FilterPlugin, ScorePlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

Strategy = Literal["LeastAllocated", "MostAllocated"]


class ResourceSpec(K8sModel):
    """``config.ResourceSpec``: a resource and its weight in the score (1..100)."""

    name: str = Field(min_length=1)
    weight: int = Field(default=1, ge=1, le=MAX_NODE_SCORE)


class ScoringStrategy(K8sModel):
    """``config.ScoringStrategy`` (upstream defaults: LeastAllocated over cpu and memory)."""

    type: Strategy = "LeastAllocated"
    resources: tuple[ResourceSpec, ...] = (ResourceSpec(name="cpu"), ResourceSpec(name="memory"))

    @model_validator(mode="after")
    def _check(self) -> ScoringStrategy:
        names = [r.name for r in self.resources]
        if len(set(names)) != len(names):
            raise ValueError(f"resources must be distinct, got {names}")
        return self


class NodeResourcesFitArgs(K8sModel):
    """``NodeResourcesFitArgs`` in upstream ``pluginConfig`` spelling."""

    scoring_strategy: ScoringStrategy = Field(default=ScoringStrategy(), alias="scoringStrategy")


class NodeResourcesFit(FilterPlugin, ScorePlugin):
    """Resource fit filter; LeastAllocated / MostAllocated score (upstream arithmetic)."""

    name = "NodeResourcesFit"
    Args = NodeResourcesFitArgs
    summary = "resource fit filter; LeastAllocated or MostAllocated score"
    checks_resources = True

    def __init__(self, args: NodeResourcesFitArgs | None = None) -> None:
        super().__init__(args)
        strategy = self.args.scoring_strategy  # type: ignore[union-attr]
        self.strategy = strategy.type
        self.resources = tuple((r.name, r.weight) for r in strategy.resources)

    @classmethod
    def with_strategy(
        cls, strategy: Strategy = "LeastAllocated", resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    ) -> NodeResourcesFit:
        """Shorthand: ``NodeResourcesFit.with_strategy("MostAllocated", (("cpu", 2),))``."""
        return cls(
            NodeResourcesFitArgs(
                scoring_strategy=ScoringStrategy(
                    type=strategy, resources=tuple(ResourceSpec(name=n, weight=w) for n, w in resources)
                )
            )
        )
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
