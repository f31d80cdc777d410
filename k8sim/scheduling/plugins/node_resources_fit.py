"""NodeResourcesFit: the resource filter and the LeastAllocated / MostAllocated /
RequestedToCapacityRatio scores.

Mirrors upstream ``pkg/scheduler/framework/plugins/noderesources``:

- Filter (``fit.go``, ``fitsRequest``): the node must have room for one more pod
  (``pods``) and, for every resource the pod requests (> 0), ``request <= allocatable -
  requested``. Resources the pod does not request are not checked. Because every pod
  requests exactly one ``pods`` unit and ``requested <= allocatable`` always holds,
  this is ``free[rows] >= request[rows]`` over the pod's requested rows.
- Score (``resource_allocation.go``, ``least_allocated.go``, ``most_allocated.go``):
  per resource, ``requested`` is the node's requests plus the pod's, where cpu and
  memory use the *non-zero* requests, as upstream does for the Fit scorer: the node's
  ``NonZeroRequested`` (each bound pod's ``PodInfo.calculateResource``) plus the
  incoming pod's ``calculatePodResourceRequest``, both ``resource.PodRequests`` with
  ``NonMissingContainerRequests``: 100m cpu / 200Mi memory for *each container* that
  does not name the resource (v1.35 behaviour, from the shape:
  :mod:`k8sim.scheduling.pod_resources`). A container that names ``0`` keeps 0. Extended
  resources the pod does not request are skipped. Integer arithmetic as upstream:
  LeastAllocated ``(capacity - requested) * 100 / capacity`` (0 if requested >
  capacity), MostAllocated ``requested * 100 / capacity`` (requested capped at
  capacity), then ``sum(score * weight) / sum(weight)`` over resources with non-zero
  allocatable, all truncating int64 division.
- RequestedToCapacityRatio (``requested_to_capacity_ratio.go``, ``helper/shape_score.go``):
  the same per-resource requested (non-zero cpu/memory) and skips; ``shape`` points
  ``{utilization 0..100, score 0..10}`` have their scores scaled by
  ``MaxNodeScore / MaxCustomPriorityScore`` (= 10). Per resource, utilization is
  ``requested * 100 / capacity`` (int64; 100 when requested >= capacity, the overflow-safe
  ``scaledUtilization`` of the newest upstream gives the same values), scored by
  ``BuildBrokenLinearFunction`` (integer, Go truncating division); resources scoring 0
  are left out of the weighted mean (upstream ``if resourceScore > 0``), and the node
  score is ``math.Round(sum(score * weight) / sum(weight))`` (half away from zero),
  computed exactly in integers as ``(2 * sum + weights) // (2 * weights)``. The shape
  is validated as upstream ``validateFunctionShape``: at least one point, utilization
  strictly increasing, utilization in [0, 100], score in [0, 10].

A ``pods`` entry in ``resources`` is skipped by every strategy, as upstream
(``calculateResourceAllocatableRequest`` returns ``(0, 0)`` for it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator

from k8sim.cluster.nodes import CORE_RESOURCES, CPU, MEMORY
from k8sim.config.k8s_types import K8sModel
from k8sim.scheduling import kernels
from k8sim.scheduling.plugins.base import (
    FILTER_BLOCK,
    MAX_NODE_SCORE,
    UNSCHEDULABLE,
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    FilterPlugin,
    NodeStatus,
    RowCode,
    ScorePlugin,
)
from k8sim.scheduling.plugins.shared import CandidateColumns

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

Strategy = Literal["LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"]

#: Upstream ``config.MaxCustomPriorityScore``: shape scores are on 0..10.
MAX_CUSTOM_PRIORITY_SCORE = 10
#: Upstream ``maxUtilization`` in ``requested_to_capacity_ratio.go``.
MAX_UTILIZATION = 100
#: int64 constants of the (cpu, memory) score as 0-d arrays.
_MAX_SCORE, _ZERO, _ONE = np.array(MAX_NODE_SCORE, dtype=np.int64), np.array(0, dtype=np.int64), np.array(1, dtype=np.int64)


class ResourceSpec(K8sModel):
    """``config.ResourceSpec``: a resource and its weight in the score.

    Validated as upstream ``validateResources`` (``pkg/scheduler/apis/config/validation/
    validation_pluginargs.go``): the weight must be in (0, 100]. A weight left out or 0 in
    a file becomes 1 before that (``SetDefaults_NodeResourcesFitArgs``, see
    :class:`ScoringStrategy`); built in code, as upstream's internal type, 0 is refused.
    The name is not checked (upstream does not): a resource no node has scores nothing.
    """

    name: str
    weight: int = 1

    @field_validator("weight")
    @classmethod
    def _weight(cls, v: int, info: ValidationInfo) -> int:
        if not 0 < v <= MAX_NODE_SCORE:
            name = info.data.get("name", "")
            raise ValueError(f"resource weight of {name} not in valid range (0, {MAX_NODE_SCORE}]")
        return v


#: Upstream ``defaultResourceSpec`` (``pkg/scheduler/apis/config/v1/defaults.go``).
DEFAULT_RESOURCE_SPEC: tuple[dict[str, Any], ...] = ({"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1})
#: Upstream ``supportedScoringStrategyTypes`` (``validation_pluginargs.go``).
SUPPORTED_STRATEGIES = ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio")


class UtilizationShapePoint(K8sModel):
    """``config.UtilizationShapePoint``: a point of the RequestedToCapacityRatio shape."""

    utilization: int
    score: int


class RequestedToCapacityRatioParam(K8sModel):
    """``config.RequestedToCapacityRatioParam``, validated as upstream ``validateFunctionShape``."""

    shape: tuple[UtilizationShapePoint, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> RequestedToCapacityRatioParam:
        shape = self.shape
        if not shape:
            raise ValueError("requestedToCapacityRatio.shape: at least one point must be specified")
        errors = []
        for i in range(1, len(shape)):
            if shape[i - 1].utilization >= shape[i].utilization:
                errors.append(
                    f"shape[{i}].utilization: {shape[i].utilization} after {shape[i - 1].utilization}: "
                    "utilization values must be sorted in strictly increasing order"
                )
                break
        for i, point in enumerate(shape):
            if not 0 <= point.utilization <= MAX_UTILIZATION:
                errors.append(f"shape[{i}].utilization: {point.utilization} not in valid range [0, {MAX_UTILIZATION}]")
            if not 0 <= point.score <= MAX_CUSTOM_PRIORITY_SCORE:
                errors.append(f"shape[{i}].score: {point.score} not in valid range [0, {MAX_CUSTOM_PRIORITY_SCORE}]")
        if errors:
            raise ValueError("requestedToCapacityRatio: " + "; ".join(errors))
        return self


class ScoringStrategy(K8sModel):
    """``config.ScoringStrategy``, defaulted and validated exactly as upstream.

    Defaulting (``SetDefaults_NodeResourcesFitArgs``, ``pkg/scheduler/apis/config/v1/
    defaults.go``), applied to what a file gives (mappings, not models built in code): a
    missing, ``null`` or empty ``resources`` list becomes cpu and memory with weight 1,
    and a resource whose weight is missing or 0 gets weight 1. ``type`` is *not*
    defaulted when ``scoringStrategy`` is given (only a missing ``scoringStrategy`` becomes
    LeastAllocated, see :class:`NodeResourcesFitArgs`).

    Validation (``ValidateNodeResourcesFitArgs``, ``pkg/scheduler/apis/config/validation/
    validation_pluginargs.go``): ``type`` one of LeastAllocated, MostAllocated,
    RequestedToCapacityRatio; every weight in (0, 100]; ``requestedToCapacityRatio``
    required with RequestedToCapacityRatio (its shape validated by
    ``validateFunctionShape``) and forbidden with any other type. Resource names are
    neither checked nor required to be distinct, as upstream: a resource listed twice
    counts twice in the weighted mean (upstream's scorer walks the list).
    """

    type: str = Field(default="", json_schema_extra={"enum": list(SUPPORTED_STRATEGIES)})
    resources: tuple[ResourceSpec, ...] = tuple(ResourceSpec(**r) for r in DEFAULT_RESOURCE_SPEC)
    requested_to_capacity_ratio: RequestedToCapacityRatioParam | None = Field(
        default=None, alias="requestedToCapacityRatio"
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        resources = data.get("resources")
        if resources is None or (isinstance(resources, (list, tuple)) and len(resources) == 0):
            data["resources"] = [dict(r) for r in DEFAULT_RESOURCE_SPEC]
        elif isinstance(resources, (list, tuple)):
            out = []
            for r in resources:
                if isinstance(r, dict):
                    w = r.get("weight")
                    if w is None or (type(w) is int and w == 0):
                        r = {**r, "weight": 1}
                out.append(r)
            data["resources"] = out
        return data

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        if v not in SUPPORTED_STRATEGIES:
            supported = ", ".join(f'"{s}"' for s in SUPPORTED_STRATEGIES)
            raise ValueError(f'Unsupported value: "{v}": supported values: {supported}')
        return v

    @model_validator(mode="after")
    def _check(self) -> ScoringStrategy:
        if self.type == "RequestedToCapacityRatio" and self.requested_to_capacity_ratio is None:
            raise ValueError(
                "requestedToCapacityRatio: Required value: must be specified when type is RequestedToCapacityRatio"
            )
        if self.type != "RequestedToCapacityRatio" and self.requested_to_capacity_ratio is not None:
            raise ValueError(
                "requestedToCapacityRatio: Forbidden: must be nil when type is not RequestedToCapacityRatio"
            )
        return self


def _trunc_div(num: np.ndarray, den: int) -> np.ndarray:
    """Go int64 division (truncates toward zero) for ``den > 0``."""
    q = np.abs(num) // den
    return np.where(num < 0, -q, q)


def broken_linear(points: tuple[tuple[int, int], ...], p: np.ndarray) -> np.ndarray:
    """Upstream ``helper.BuildBrokenLinearFunction`` over an int64 array ``p``.

    ``points`` are (utilization, score) with strictly increasing utilization: the first
    score below the first point, the last above the last, linear in between with Go's
    truncating integer division.
    """
    p = np.asarray(p, dtype=np.int64)
    out = np.full(p.shape, points[-1][1], dtype=np.int64)
    done = np.zeros(p.shape, dtype=bool)
    for i, (u, s) in enumerate(points):
        hit = ~done & (p <= u)
        if i == 0:
            value = np.full(p.shape, s, dtype=np.int64)
        else:
            u0, s0 = points[i - 1]
            value = s0 + _trunc_div((s - s0) * (p - u0), u - u0)
        out = np.where(hit, value, out)
        done |= hit
    return out


class NodeResourcesFitArgs(K8sModel):
    """``NodeResourcesFitArgs`` in upstream ``pluginConfig`` spelling.

    A missing or ``null`` ``scoringStrategy`` is LeastAllocated over cpu and memory with
    weight 1 (``SetDefaults_NodeResourcesFitArgs``); a given one is defaulted and
    validated as :class:`ScoringStrategy` says.
    """

    scoring_strategy: ScoringStrategy = Field(
        default=ScoringStrategy(type="LeastAllocated"), alias="scoringStrategy"
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in ("scoringStrategy", "scoring_strategy"):
                if key in data and data[key] is None:
                    data = {k: v for k, v in data.items() if k != key}
        return data


class NodeResourcesFit(FilterPlugin, ScorePlugin):
    """Resource fit filter; LeastAllocated / MostAllocated score (upstream arithmetic)."""

    name = "NodeResourcesFit"
    node_local = True  # the node's own column only (incremental caches)
    events = frozenset({"PodDelete", "NodeAdd", "NodeUpdate"})
    Args = NodeResourcesFitArgs
    args: NodeResourcesFitArgs
    summary = "resource fit filter; LeastAllocated, MostAllocated or RequestedToCapacityRatio score"
    checks_resources = True
    # In [0, 100] by construction, given requested >= 0 (node table invariant, requests
    # >= 0) and a resource scored only where its allocatable is > 0: LeastAllocated
    # (c - r) * 100 // c <= 100 for r >= 0, clipped (or set) to 0 when r > c;
    # MostAllocated min(r, c) * 100 // c is in [0, 100]; RequestedToCapacityRatio's
    # utilization is in [0, 100] and the broken-linear function stays between its
    # points' scores, which are in [0, 100] (validated); the weighted mean (floored, or
    # rounded) of values in [0, 100] with positive weights is in [0, 100], 0 without any.
    scores_bounded = True

    def __init__(self, args: NodeResourcesFitArgs | None = None) -> None:
        super().__init__(args)
        # _block_max's blocks: [free array, usage journal, node journal, their ends, maxima].
        self._blocks: list[Any] | None = None
        strategy = self.args.scoring_strategy
        self.strategy = cast("Strategy", strategy.type)  # validated: one of SUPPORTED_STRATEGIES
        self.resources = tuple((r.name, r.weight) for r in strategy.resources)
        weights = dict(self.resources)
        # The fast path takes exactly cpu and memory once each; a resource listed twice
        # counts twice (upstream walks the list), which the general loop does.
        self._cpu_mem_weights = (
            (weights["cpu"], weights["memory"])
            if len(self.resources) == 2 and set(weights) == {"cpu", "memory"}
            else None
        )
        rtcr = strategy.requested_to_capacity_ratio
        #: RequestedToCapacityRatio shape, scores scaled to 0..MAX_NODE_SCORE as upstream.
        self.shape: tuple[tuple[int, int], ...] = (
            tuple((pt.utilization, pt.score * (MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE)) for pt in rtcr.shape)
            if rtcr is not None
            else ()
        )

    @classmethod
    def with_strategy(
        cls,
        strategy: Strategy = "LeastAllocated",
        resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1)),
        shape: tuple[tuple[int, int], ...] | None = None,
    ) -> NodeResourcesFit:
        """Shorthand: ``NodeResourcesFit.with_strategy("MostAllocated", (("cpu", 2),))``;
        ``shape`` is the RequestedToCapacityRatio ``(utilization, score)`` points."""
        rtcr = None
        if shape is not None:
            rtcr = RequestedToCapacityRatioParam(
                shape=tuple(UtilizationShapePoint(utilization=u, score=s) for u, s in shape)
            )
        return cls(
            NodeResourcesFitArgs(
                scoring_strategy=ScoringStrategy(
                    type=strategy,
                    resources=tuple(ResourceSpec(name=n, weight=w) for n, w in resources),
                    requested_to_capacity_ratio=rtcr,
                )
            )
        )
    # -- Filter ---------------------------------------------------------------------

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        # Row by row: contiguous comparisons, cheaper than a [rows, N] block reduced
        # along its first axis.
        free = state.nodes.free
        need = pod.requests
        rows = pod.requested_rows.tolist()
        if not rows:
            return np.ones(free.shape[1], dtype=bool)
        mask = free[rows[0]] >= need[rows[0]]
        for r in rows[1:]:
            mask &= free[r] >= need[r]
        return mask

    def filter_range(self, state: ClusterState, pod: PodInfo, lo: int, hi: int) -> np.ndarray:
        # filter() on the columns lo..hi-1 (contiguous slices of each row).
        free = state.nodes.free
        need = pod.requests
        rows = pod.requested_rows.tolist()
        if not rows:
            return np.ones(hi - lo, dtype=bool)
        mask = free[rows[0], lo:hi] >= need[rows[0]]
        for r in rows[1:]:
            mask &= free[r, lo:hi] >= need[r]
        return mask

    def filter_blocks(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        # A block can hold a node that passes only if, for every requested row, its
        # largest free amount covers the request.
        rows = pod.requested_rows.tolist()
        top = self._block_max(state)
        if not rows:
            return np.ones(top.shape[1], dtype=bool)
        need = pod.requests
        ok = top[rows[0]] >= need[rows[0]]
        for r in rows[1:]:
            ok &= top[r] >= need[r]
        return ok

    def fit_rows(self, state: ClusterState, pod: PodInfo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # filter(): free[r] >= requests[r] over the pod's requested rows.
        return state.nodes.free, pod.requested_rows, pod.requests

    def fit_block_max(self, state: ClusterState) -> np.ndarray:
        # The common case first (no node update, a few binds and releases since the
        # last call): their blocks recomputed by node index, two per compiled call.
        kept = self._blocks
        if kept is not None:
            usage = state.usage_journal
            pos = kept[3]
            k = usage.end - pos
            if 0 <= k <= 8 and pos >= usage.base and kept[0] is state.nodes.free and kept[1] is usage \
                    and kept[2] is state.node_journal and kept[4] == kept[2].end:
                if k:
                    free, top = kept[0], kept[5]
                    at = pos - usage.base
                    nodes = usage.nodes
                    while k > 1:
                        kernels.refresh_two(free, top, nodes[at], nodes[at + 1], FILTER_BLOCK)
                        at += 2
                        k -= 2
                    if k:
                        kernels.refresh_two(free, top, nodes[at], -1, FILTER_BLOCK)
                    kept[3] = usage.end
                return cast(np.ndarray, kept[5])
        return self._block_max(state, compiled=True)

    def _block_max(self, state: ClusterState, compiled: bool = False) -> np.ndarray:
        """``int64[R, ceil(N / FILTER_BLOCK)]``: the largest ``free`` of each block of
        nodes, kept per node table and brought up to date from the cluster's journals
        (the blocks of the nodes bound to, released from or updated since; recomputed
        by :func:`k8sim.scheduling.kernels.refresh_blocks` when ``compiled``)."""
        free = state.nodes.free
        usage, updates = state.usage_journal, state.node_journal
        kept = self._blocks
        if kept is not None and kept[0] is free and kept[1] is usage and kept[2] is updates:
            top = kept[5]
            used, updated = usage.since(kept[3]), updates.since(kept[4])
            if used is not None and updated is not None and len(used) + len(updated) <= top.shape[1]:
                if (used or updated) and compiled:
                    kernels.refresh_blocks(free, top, np.array(used + updated if updated else used, dtype=np.intp),
                                           FILTER_BLOCK)
                    self._blocks = [free, usage, updates, usage.end, updates.end, top]
                elif used or updated:
                    done = -1
                    reduce = np.maximum.reduce
                    for node in sorted(used + updated) if updated or len(used) > 1 else used:
                        b = node // FILTER_BLOCK
                        if b != done:
                            lo = b * FILTER_BLOCK
                            top[:, b] = reduce(free[:, lo:lo + FILTER_BLOCK], axis=1)
                            done = b
                    self._blocks = [free, usage, updates, usage.end, updates.end, top]
                return top
        n = free.shape[1]
        if n:
            top = np.maximum.reduceat(free, np.arange(0, n, FILTER_BLOCK), axis=1)
        else:
            top = np.zeros((free.shape[0], 0), dtype=free.dtype)
        self._blocks = [free, usage, updates, usage.end, updates.end, top]
        return top

    def filter_nodes(self, state: ClusterState, pod: PodInfo, nodes: np.ndarray) -> np.ndarray:
        # The columns first (a small copy), then the pod's rows.
        return (state.nodes.free.take(nodes, axis=1)[pod.requested_rows] >= pod.req_col).all(axis=0)

    def filter_code(self, state: ClusterState, pod: PodInfo) -> RowCode:
        # filter()'s comparisons on Python ints for one node, unrolled over the pod's
        # requested rows (cpu, memory, pods: every pod asks for one pod).
        rows = [int(r) for r in pod.requested_rows]
        need = " and ".join(f"free[{r}] >= q{r}" for r in rows) or "True"
        return RowCode(f"result = {need}\n", {f"q{r}": int(pod.requests[r]) for r in rows})

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

    def node_status(self, state: ClusterState, pod: PodInfo, node: int, reasons: tuple[str, ...]) -> NodeStatus:
        """Upstream ``fitsRequest`` + ``Filter`` (``fit.go``) for one node: one
        ``InsufficientResource`` per resource that does not fit, in upstream's order
        (pods, cpu, memory, ephemeral-storage, then extended resources), each with the
        pod's ``requested``, the node's ``used`` (requests of its bound pods; pods: their
        number) and ``capacity`` (allocatable), and ``unresolvable`` when the request
        exceeds the capacity itself (never for pods). The code is
        ``UnschedulableAndUnresolvable`` if any is unresolvable, else ``Unschedulable``;
        the reasons are the resources' reasons in that order."""
        nodes = state.nodes
        names = state.resources.names
        out = []
        for r in sorted(pod.requested_rows, key=lambda r: (names[r] != "pods", r)):
            requested = int(pod.requests[r])
            free, used, capacity = int(nodes.free[r, node]), int(nodes.requested[r, node]), int(nodes.alloc[r, node])
            if requested <= free:
                continue
            pods = names[r] == "pods"
            out.append({
                "resource": names[r],
                "reason": "Too many pods" if pods else f"Insufficient {names[r]}",
                "requested": requested,
                "used": used,
                "capacity": capacity,
                "unresolvable": (not pods) and requested > capacity,
            })
        code = UNSCHEDULABLE_AND_UNRESOLVABLE if any(i["unresolvable"] for i in out) else UNSCHEDULABLE
        return NodeStatus(code, tuple(i["reason"] for i in out) or reasons, {"insufficient_resources": out})

    # -- Score ----------------------------------------------------------------------

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        return self.score_with(state, pod, candidates, CandidateColumns(state.nodes, candidates))

    def score_with(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray,
                   columns: CandidateColumns) -> np.ndarray:
        if self.strategy == "RequestedToCapacityRatio":
            return self._requested_to_capacity_ratio(state, pod, candidates)
        if self._cpu_mem_weights is not None:
            if columns.compiled:
                # The same integer steps node by node, compiled (kernels module); False
                # when a candidate lacks allocatable cpu or memory.
                nodes = state.nodes
                out = np.empty(candidates.size, dtype=np.int64)
                w_cpu, w_mem = self._cpu_mem_weights
                if kernels.least_or_most_allocated(nodes.alloc, nodes.nonzero_requested, candidates, pod.nonzero,
                                                   w_cpu, w_mem, self.strategy == "MostAllocated", out):
                    return out
            elif columns.positive():
                return self._cpu_mem_score(pod, columns)
        return self._general_score(state, pod, candidates)

    def _cpu_mem_score(self, pod: PodInfo, columns: CandidateColumns) -> np.ndarray:
        """LeastAllocated / MostAllocated for the default resources (cpu, memory) when
        every candidate has both: upstream's integer steps on a ``[2, K]`` block, in
        place (the constants are 0-d arrays: numpy takes them faster than Python ints,
        same int64 values). For LeastAllocated, requested > capacity makes (capacity -
        requested) * 100 negative, and flooring a negative numerator stays below 0, so
        clipping at 0 equals upstream's "return 0"."""
        assert self._cpu_mem_weights is not None
        alloc = columns.alloc()
        requested = columns.nodes.nonzero_requested.take(columns.candidates, axis=1)
        requested += pod.nonzero[:, None]
        if self.strategy == "LeastAllocated":
            s = alloc - requested
            s *= _MAX_SCORE
            s //= alloc
            np.maximum(s, _ZERO, out=s)
        else:
            s = np.minimum(requested, alloc, out=requested)
            s *= _MAX_SCORE
            s //= alloc
        w_cpu, w_mem = self._cpu_mem_weights
        if w_cpu == w_mem:
            # (s_cpu * w + s_mem * w) // (2 * w) == (s_cpu + s_mem) // 2 for any w > 0,
            # and x // 2 == x >> 1 for every int64 (floor division, arithmetic shift).
            out = s[0] + s[1]
            out >>= _ONE
            return out
        out = s[0] * w_cpu
        out += s[1] * w_mem
        out //= w_cpu + w_mem
        return out

    def _general_score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        """LeastAllocated / MostAllocated over any resources, one resource at a time."""
        nodes = state.nodes
        total = np.zeros(candidates.size, dtype=np.int64)
        weight_sum = np.zeros(candidates.size, dtype=np.int64)
        for res, weight in self.resources:
            row = state.resources.index.get(res)
            if row is None or res == "pods":
                # No node has this resource (allocatable 0 everywhere), or it is "pods",
                # which upstream's calculateResourceAllocatableRequest does not score.
                continue
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

    def score_code(self, state: ClusterState, pod: PodInfo) -> RowCode | None:
        """score() for one node: the same integer steps on Python ints (a node without
        cpu or memory goes to score() itself)."""
        if self.strategy == "RequestedToCapacityRatio" or self._cpu_mem_weights is None:
            return None
        w_cpu, w_mem = self._cpu_mem_weights
        if self.strategy == "LeastAllocated":
            steps = (f"    s_cpu = (a_cpu - r_cpu) * {MAX_NODE_SCORE} // a_cpu\n"
                     f"    s_mem = (a_mem - r_mem) * {MAX_NODE_SCORE} // a_mem\n"
                     "    if s_cpu < 0:\n"
                     "        s_cpu = 0\n"
                     "    if s_mem < 0:\n"
                     "        s_mem = 0\n")
        else:
            steps = (f"    s_cpu = (r_cpu if r_cpu < a_cpu else a_cpu) * {MAX_NODE_SCORE} // a_cpu\n"
                     f"    s_mem = (r_mem if r_mem < a_mem else a_mem) * {MAX_NODE_SCORE} // a_mem\n")
        source = ("a_cpu = alloc[0]\n"
                  "a_mem = alloc[1]\n"
                  "if a_cpu <= 0 or a_mem <= 0:\n"
                  "    result = general(node)\n"
                  "else:\n"
                  "    r_cpu = nonzero[0] + p_cpu\n"
                  "    r_mem = nonzero[1] + p_mem\n"
                  f"{steps}"
                  f"    result = (s_cpu * {w_cpu} + s_mem * {w_mem}) // {w_cpu + w_mem}\n")
        score = self.score
        return RowCode(source, {"general": lambda node: int(score(state, pod, np.array([node]))[0]),
                                "p_cpu": int(pod.nonzero[0]), "p_mem": int(pod.nonzero[1])})

    def _requested_to_capacity_ratio(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        """Upstream ``buildRequestedToCapacityRatioScorerFunction`` over the candidates."""
        nodes = state.nodes
        node_score = np.zeros(candidates.size, dtype=np.int64)
        weight_sum = np.zeros(candidates.size, dtype=np.int64)
        for res, weight in self.resources:
            row = state.resources.index.get(res)
            if row is None or res == "pods":
                continue  # allocatable 0 everywhere / not read by upstream's scorer
            if row == CPU or row == MEMORY:
                requested = nodes.nonzero_requested[row, candidates] + pod.nonzero[row]
            else:
                if res not in CORE_RESOURCES and pod.requests[row] == 0:
                    continue  # extended resource the pod does not request
                requested = nodes.requested[row, candidates] + pod.requests[row]
            capacity = nodes.alloc[row, candidates]
            has = capacity > 0
            utilization = np.where(
                requested >= capacity, MAX_UTILIZATION, requested * MAX_UTILIZATION // np.where(has, capacity, 1)
            )
            s = broken_linear(self.shape, utilization)
            use = has & (s > 0)
            node_score += np.where(use, s * weight, 0)
            weight_sum += np.where(use, weight, 0)
        safe = np.maximum(weight_sum, 1)
        return np.where(weight_sum > 0, (2 * node_score + weight_sum) // (2 * safe), 0)
