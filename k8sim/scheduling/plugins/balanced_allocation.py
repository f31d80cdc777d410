"""NodeResourcesBalancedAllocation (Score): favour nodes whose resource fractions are
close to each other after placing the pod.

Mirrors upstream ``plugins/noderesources/balanced_allocation.go``
(``balancedResourceScorer``, PreScore) with ``resource_allocation.go``
(``resourceAllocationScorer`` with ``useRequested: true``):

- Requests are the *actual* requests of the pod and of the node's bound pods (no
  100m / 200Mi non-zero defaults: ``useRequested`` makes upstream read
  ``NodeInfo.Requested`` and compute the pod's requests without
  ``NonMissingContainerRequests``).
- PreScore skips the pod when it requests none of the configured resources
  (``isBestEffortPod``): release-specific, introduced in v1.33 (kubernetes#130260,
  fixing #129138); before, such pods were scored.
- The score is the balance *after* placing the pod, as up to v1.35 (the release k8sim
  mirrors); v1.36 scores the change of the node's balance instead (kubernetes#135573),
  which k8sim does not follow.
- Per configured resource: a resource with allocatable 0 on the node is left out; an
  extended (scalar) resource the pod does not request is left out (``(0, 0)``);
  ``pods`` is never tracked by upstream's scorer (not a scalar resource and not in
  ``ScalarResources``), so it is left out too.
- ``fraction = float64(requested + pod) / float64(allocatable)``, capped at 1; with two
  fractions ``std = |f1 - f2| / 2``, with more the population standard deviation
  (mean and sum of squares accumulated in resource order, as upstream), otherwise 0;
  ``score = int64((1 - std) * 100)`` (float64, truncated). No NormalizeScore.

Args (``NodeResourcesBalancedAllocationArgs``): ``resources`` (default cpu and memory);
each weight must be 1 (a weight of 0 is defaulted to 1, as upstream's v1 defaulting),
names must be distinct.

Differences from upstream: DRA-backed extended resources (feature
``DRAExtendedResource``) are not modelled; in-place resize does not exist in k8sim.
Pod-level requests, init containers, sidecars and overhead are in the pod's request
vector already (``resource.PodRequests``, :mod:`k8sim.scheduling.pod_resources`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, field_validator, model_validator

from k8sim.cluster.nodes import CORE_RESOURCES
from k8sim.config.k8s_types import K8sModel
from k8sim.scheduling import kernels
from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, RowCode, ScorePlugin
from k8sim.scheduling.plugins.shared import CandidateColumns

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: The float64 constants of the (cpu, memory) score as 0-d arrays (numpy takes them
#: faster than Python floats; the same doubles).
_ONE, _TWO, _MAX_SCORE = np.array(1.0), np.array(2.0), np.array(float(MAX_NODE_SCORE))


class BalancedResourceSpec(K8sModel):
    """``config.ResourceSpec`` for this plugin: the weight must be 1 (0 defaults to 1)."""

    name: str = Field(min_length=1)
    weight: int = 1

    @field_validator("weight")
    @classmethod
    def _weight(cls, v: int) -> int:
        if v == 0:
            return 1  # SetDefaults_NodeResourcesBalancedAllocationArgs
        if v != 1:
            raise ValueError(f"resource weight must be 1, got {v}")
        return v


_DEFAULT_RESOURCES = (BalancedResourceSpec(name="cpu"), BalancedResourceSpec(name="memory"))


class BalancedAllocationArgs(K8sModel):
    """``NodeResourcesBalancedAllocationArgs`` (upstream spelling)."""

    resources: tuple[BalancedResourceSpec, ...] = _DEFAULT_RESOURCES

    @model_validator(mode="after")
    def _check(self) -> BalancedAllocationArgs:
        if not self.resources:  # upstream defaulting: an empty list means cpu and memory
            object.__setattr__(self, "resources", _DEFAULT_RESOURCES)
        names = [r.name for r in self.resources]
        dup = sorted({x for x in names if names.count(x) > 1})
        if dup:
            raise ValueError(f"resources must be distinct, duplicated: {dup}")
        return self


class NodeResourcesBalancedAllocation(ScorePlugin):
    """Balanced resource fractions (upstream BalancedAllocation, ``useRequested``)."""

    name = "NodeResourcesBalancedAllocation"
    node_local = True  # the node's own column only (incremental caches)
    Args = BalancedAllocationArgs
    args: BalancedAllocationArgs
    summary = "favour nodes whose requested/allocatable fractions are balanced across resources"
    # In [0, 100] by construction, given requested >= 0 (node table invariant, requests
    # >= 0): each fraction is in [0, 1] (allocatable > 0, capped at 1), so std is >= 0
    # and at most 0.5 (|f1 - f2| / 2, or the population deviation of values in [0, 1],
    # a few ulps above 0.5 at worst), and int((1 - std) * 100) is in [49, 100].
    scores_bounded = True

    def __init__(self, args: BalancedAllocationArgs | None = None) -> None:
        super().__init__(args)
        self.resources = tuple(r.name for r in self.args.resources)
        # The default (cpu, memory) has a fast path: rows 0 and 1 of the node arrays.
        self._cpu_mem = self.resources in (("cpu", "memory"), ("memory", "cpu"))

    def pod_requests(self, state: ClusterState, pod: PodInfo) -> list[int]:
        """The pod's actual request of each configured resource (``pods``: 0)."""
        out = []
        for res in self.resources:
            row = state.resources.index.get(res)
            out.append(0 if row is None or res == "pods" else int(pod.requests[row]))
        return out

    def pre_score(self, state: ClusterState, pod: PodInfo) -> bool:
        if self._cpu_mem:
            # pod_requests' answer for (cpu, memory), rows 0 and 1 of every resource index.
            return bool(pod.requests[0] or pod.requests[1])  # Skip best-effort pods
        return any(self.pod_requests(state, pod))  # Skip best-effort pods

    def score_code(self, state: ClusterState, pod: PodInfo) -> RowCode | None:
        """score() for one node: the (cpu, memory) fast path's float64 steps on Python
        floats (IEEE doubles, the same operations in the same order); a node without
        cpu or memory, or other resources, go to score() itself."""
        if not self._cpu_mem:
            return None
        source = ("a_cpu = alloc[0]\n"
                  "a_mem = alloc[1]\n"
                  "if a_cpu <= 0 or a_mem <= 0:\n"
                  "    result = general(node)\n"
                  "else:\n"
                  "    f_cpu = float(requested[0] + q_cpu) / float(a_cpu)\n"
                  "    f_mem = float(requested[1] + q_mem) / float(a_mem)\n"
                  "    f_cpu = f_cpu if f_cpu <= 1.0 else 1.0\n"
                  "    f_mem = f_mem if f_mem <= 1.0 else 1.0\n"
                  "    std = abs((f_cpu - f_mem) / 2)\n"
                  f"    result = int((1.0 - std) * {float(MAX_NODE_SCORE)!r})\n")
        score = self.score
        return RowCode(source, {"general": lambda node: int(score(state, pod, np.array([node]))[0]),
                                "q_cpu": int(pod.requests[0]), "q_mem": int(pod.requests[1])})

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        return self.score_with(state, pod, candidates, CandidateColumns(state.nodes, candidates))

    def score_with(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray,
                   columns: CandidateColumns) -> np.ndarray:
        if self._cpu_mem and columns.compiled:
            # The float64 steps below node by node, compiled (kernels module); False
            # when a candidate lacks allocatable cpu or memory.
            nodes = state.nodes
            out = np.empty(candidates.size, dtype=np.int64)
            if kernels.balanced_cpu_memory(nodes.alloc, nodes.requested, candidates, pod.requests, out):
                return out
            return self._general_score(state, pod, candidates)
        if self._cpu_mem and columns.positive():
            # Same float64 steps as the general path below, for two resources that every
            # candidate has: std = |f_cpu - f_mem| / 2, then (1 - std) * 100 truncated;
            # each step in place on the fresh arrays (the same IEEE operations in the same
            # order: the same doubles).
            requested = columns.nodes.requested[0:2].take(candidates, axis=1)
            requested += pod.requests[0:2, None]
            frac = requested / columns.alloc()
            np.minimum(frac, _ONE, out=frac)
            std = frac[0] - frac[1]
            std /= _TWO
            np.abs(std, out=std)
            np.subtract(_ONE, std, out=std)
            std *= _MAX_SCORE
            return std.astype(np.int64)
        return self._general_score(state, pod, candidates)

    def _general_score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        """Any resources, one at a time (upstream's loop over the configured resources)."""
        nodes = state.nodes
        k = candidates.size
        count = np.zeros(k, dtype=np.int64)
        total = np.zeros(k, dtype=np.float64)
        first = np.zeros(k, dtype=np.float64)
        second = np.zeros(k, dtype=np.float64)
        fractions: list[tuple[np.ndarray, np.ndarray]] = []
        for res, req in zip(self.resources, self.pod_requests(state, pod), strict=True):
            row = state.resources.index.get(res)
            if row is None or res == "pods":
                continue
            if req == 0 and res not in CORE_RESOURCES:
                continue  # extended resource the pod does not request
            alloc = nodes.alloc[row, candidates]
            has = alloc > 0
            requested = nodes.requested[row, candidates] + req
            frac = requested.astype(np.float64) / np.where(has, alloc, 1).astype(np.float64)
            frac = np.where(frac > 1.0, 1.0, frac)
            frac = np.where(has, frac, 0.0)
            total = total + frac  # frac is 0.0 where absent: adding it is exact
            first = np.where(has & (count == 0), frac, first)
            second = np.where(has & (count == 1), frac, second)
            count += has
            fractions.append((frac, has))
        std = np.zeros(k, dtype=np.float64)
        two = count == 2
        if two.any():
            std = np.where(two, np.abs((first - second) / 2), std)
        many = count > 2
        if many.any():
            mean = total / np.where(many, count, 1).astype(np.float64)
            acc = np.zeros(k, dtype=np.float64)
            for frac, has in fractions:
                d = frac - mean
                acc = acc + np.where(has, d * d, 0.0)
            std = np.where(many, np.sqrt(acc / np.where(many, count, 1).astype(np.float64)), std)
        return ((1.0 - std) * float(MAX_NODE_SCORE)).astype(np.int64)
