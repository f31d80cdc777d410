"""PodTopologySpread: ``topologySpreadConstraints`` as a filter (DoNotSchedule) and a
score (ScheduleAnyway).

Mirrors upstream ``pkg/scheduler/framework/plugins/podtopologyspread`` (kube-scheduler
1.35: ``common.go``, ``filtering.go``, ``scoring.go``, ``plugin.go``) with the feature
gates at their defaults (NodeInclusionPolicyInPodTopologySpread GA, MinDomains GA,
MatchLabelKeysInPodTopologySpread beta/on).

Constraints (``getConstraints`` / ``filterTopologySpreadConstraints``): the pod's own
``topologySpreadConstraints`` of the wanted action (DoNotSchedule for Filter,
ScheduleAnyway for Score); only when the pod has none at all, the plugin's default
constraints (``buildDefaultConstraints``). ``minDomains`` defaults to 1,
``nodeAffinityPolicy`` to Honor, ``nodeTaintsPolicy`` to Ignore. ``matchLabelKeys``: the
pod's own values of those keys become ``key in (value)`` requirements ANDed with the
selector (``mergeLabelSetWithSelector``; a nil selector stays nil, i.e. matches nothing).
A nil ``labelSelector`` matches no pod; an empty one (``{}``) matches every pod for the
incoming pod's self-match but counts no existing pod (``countPodsMatchSelector`` returns
0 for an empty selector), as upstream.

Filter (``calPreFilterState`` + ``Filter``): a node takes part in the counting only if it
has the topology keys of *all* DoNotSchedule constraints (``nodeLabelsMatchSpreadConstraints``)
and, per constraint, passes the inclusion policies (``matchNodeInclusionPolicies``:
Honor = the pod's ``nodeSelector`` and required node affinity must match the node;
Honor for taints = the pod tolerates every NoSchedule/NoExecute taint of the node). The
domains of a constraint are the values of its key on those nodes, each with the number
of matching bound pods on them (``TpValueToMatchNum``). Per node, constraints in order,
first failure wins: a node without the key fails with ``"node(s) didn't match pod
topology spread constraints (missing required label)"``; otherwise it fails with
``"node(s) didn't match pod topology spread constraints"`` when
``count[domain] + selfMatch - minMatchNum > maxSkew`` where ``count`` is 0 for a domain
with no eligible node, ``selfMatch`` is 1 if the incoming pod matches the selector, and
``minMatchNum`` is the minimum over the domains, taken as 0 when there are fewer domains
than ``minDomains`` (``preFilterState.minMatchNum``). No DoNotSchedule constraint = every
node passes (PreFilter Skip).

Score (``initPreScoreState`` + ``PreScore`` + ``Score`` + ``NormalizeScore``): PreScore
Skip when the pod has no ScheduleAnyway constraint (or the cluster has no node).
``requireAllTopologies`` is true unless the constraints came from ``defaultingType:
System``. With it, a candidate lacking any constraint's key is *ignored* (scored 0).
Per constraint: the domains are the values of the key among the non-ignored candidates
(a node missing the key counts as value ``""`` when ``requireAllTopologies`` is false),
``weight = log(number of those domains + 2)``, for ``kubernetes.io/hostname``
``log(candidates - ignored + 2)`` (``topologyNormalizingWeight``). Domain counts sum the
matching pods on *all* nodes (not only candidates) that have all keys (if required) and
pass the constraint's inclusion policies; hostname constraints use the node's own count,
without inclusion checks. A candidate's raw score is
``round(sum over constraints whose key it has of count * weight + (maxSkew - 1))``
(float64, Go ``math.Round``: half away from zero). NormalizeScore: over the
non-ignored candidates ``max`` (at least 0) and ``min``; ignored nodes get 0; if
``max == 0`` every other node gets 100, else ``100 * (max + min - s) / max`` (int64
truncation).

Vectorisation: matching pods per node = ``group_counts[matching count groups].sum(axis=0)``;
the matching shapes of each selector are cached with the incoming pod's constraints and
extended as new shapes appear; per-domain sums are ``np.bincount`` over the label code
array. Masks that depend only on node labels and taints (required node affinity,
tolerated taints, "has all topology keys") are cached with them until ``nodes.version``
moves. Both are kept per set of the pod fields they read (spread constraints, labels,
namespace, tolerations, nodeSelector, affinity), which the shapes of one template
share (:mod:`k8sim.scheduling.plugins.shared`), not per shape. PreFilter and PreScore
skip a pod without constraints before any of this, as upstream does. The
required node affinity is NodeAffinity's own ``required_node_affinity_mask``
(``GetRequiredNodeAffinity(pod).Match``), so both plugins read it identically.

Differences from upstream (and why):

- Default constraints: upstream ``defaultingType`` defaults to ``System`` (hostname
  maxSkew 3 and zone maxSkew 5, ScheduleAnyway), applied only to pods selected by a
  Service, ReplicationController, ReplicaSet or StatefulSet, with the union of those
  selectors (``helper.DefaultSelector``). k8sim has no such objects, so the owner
  selector is the pod's own (workload) labels: a pod without labels gets no default
  constraints, like an unowned pod upstream. Because that is only an approximation,
  k8sim defaults to ``defaultingType: List`` with no ``defaultConstraints`` (no implicit
  spreading); ``defaultingType: System`` gives upstream's system constraints with that
  selector. Upstream's args validation is mirrored (System needs empty
  ``defaultConstraints``; no ``labelSelector``; no duplicate {topologyKey,
  whenUnsatisfiable}), except the label-name syntax check of ``topologyKey``.
- Only pods of the incoming pod's namespace are counted (``countPodsMatchSelector``
  skips ``p.Pod.Namespace != ns``); scenarios that name no namespace have every pod in
  ``default``. No terminating pods (a finished k8sim pod releases its node at once), so
  upstream's ``deletionTimestamp`` check has no counterpart.
- ``nodeTaintsPolicy: Honor``: besides the node's taints, a cordoned node counts as
  tainted ``node.kubernetes.io/unschedulable:NoSchedule`` and a NotReady node as
  ``node.kubernetes.io/not-ready:NoSchedule``, the taints upstream's node lifecycle
  controller puts on such nodes (k8sim keeps them as conditions). Toleration
  comparison operators (alpha ``TaintTolerationComparisonOperators``) are not modelled.
- ``score`` returns upstream's ``invalidScore`` (-1) for ignored nodes instead of 0;
  upstream's NormalizeScore marks them -1 itself before anything reads them, so the
  normalised scores are identical. Raw scores of the other nodes are upstream's.
- ``matchLabelKeys`` is merged by the scheduler only; since 1.34 the API server also
  merges it into ``labelSelector`` at pod creation, which ANDs the same requirements
  (except that it may create a selector where the pod had none).
- No PreFilterExtensions (AddPod/RemovePod for preemption) yet.
- ``log`` is Python's ``math.log`` (C libm) where upstream uses Go's ``math.Log``; they
  can differ in the last bit, which matters only for a raw score within 1 ulp of ``.5``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, cast

import numpy as np
from pydantic import Field, model_validator

from k8sim.cluster.nodes import TaintSpec
from k8sim.config.k8s_types import K8sModel, LabelSelector, LabelSelectorRequirement, TopologySpreadConstraint
from k8sim.constants import HOSTNAME_LABEL, ZONE_LABEL
from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, FilterPlugin, ScorePlugin
from k8sim.scheduling.plugins.node_affinity import required_node_affinity_mask
from k8sim.scheduling.plugins.shared import FieldCache
from k8sim.scheduling.plugins.taint_toleration import tolerates

if TYPE_CHECKING:
    from k8sim.cluster.nodes import NodeTable
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``ErrReasonConstraintsNotMatch``.
REASON_CONSTRAINTS = "node(s) didn't match pod topology spread constraints"
#: Upstream ``ErrReasonNodeLabelNotMatch``.
REASON_MISSING_LABEL = REASON_CONSTRAINTS + " (missing required label)"
#: Upstream ``invalidScore``: marks ignored nodes between Score and NormalizeScore.
INVALID_SCORE = -1

#: Upstream ``systemDefaultConstraints`` (``plugin.go``).
SYSTEM_DEFAULT_CONSTRAINTS: tuple[TopologySpreadConstraint, ...] = (
    TopologySpreadConstraint(max_skew=3, topology_key=HOSTNAME_LABEL, when_unsatisfiable="ScheduleAnyway"),
    TopologySpreadConstraint(max_skew=5, topology_key=ZONE_LABEL, when_unsatisfiable="ScheduleAnyway"),
)

#: ``helper.DoNotScheduleTaintsFilterFunc``: the taint effects nodeTaintsPolicy honours.
_HARD_EFFECTS = ("NoSchedule", "NoExecute")
#: Taints upstream's node lifecycle controller puts on cordoned / NotReady nodes.
_CORDON_TAINT = TaintSpec("node.kubernetes.io/unschedulable", "", "NoSchedule")
_NOT_READY_TAINT = TaintSpec("node.kubernetes.io/not-ready", "", "NoSchedule")

_OK, _MISSING, _SKEW = 0, 1, 2


class PodTopologySpreadArgs(K8sModel):
    """``PodTopologySpreadArgs`` in upstream ``pluginConfig`` spelling.

    k8sim's default is ``List`` with no constraints (upstream's is ``System``): see the
    module docstring.
    """

    default_constraints: tuple[TopologySpreadConstraint, ...] = Field(default=(), alias="defaultConstraints")
    defaulting_type: Literal["System", "List"] = Field(default="List", alias="defaultingType")

    @model_validator(mode="after")
    def _check(self) -> PodTopologySpreadArgs:
        # Upstream ValidatePodTopologySpreadArgs.
        if self.defaulting_type == "System" and self.default_constraints:
            raise ValueError("defaultingType: System requires empty defaultConstraints")
        seen: set[tuple[str, str]] = set()
        for i, c in enumerate(self.default_constraints):
            if c.label_selector is not None:
                raise ValueError(
                    f"defaultConstraints[{i}].labelSelector: constraint must not define a selector, "
                    "as they deduced for each pod"
                )
            key = (c.topology_key, c.when_unsatisfiable)
            if key in seen:
                raise ValueError(f"defaultConstraints[{i}]: duplicate {{{key[0]}, {key[1]}}}")
            seen.add(key)
        return self


# ----------------------------------------------------------------------- node masks


def _tolerated_mask(nodes: NodeTable, pod: PodInfo) -> np.ndarray:
    """bool[N]: no NoSchedule/NoExecute taint the pod does not tolerate (taints only)."""
    bad = [
        t
        for t, spec in enumerate(nodes.taint_specs)
        if spec.effect in _HARD_EFFECTS and not any(tolerates(tl, spec) for tl in pod.tolerations)
    ]
    if not bad:
        return np.ones(nodes.n, dtype=bool)
    # 2-D in, so bool[N] out (numpy's stubs cannot tell from the shape)
    return cast(np.ndarray, ~nodes.taints[bad].any(axis=0))


# ----------------------------------------------------------------------- constraints


@dataclass(eq=False)
class _Constraint:
    """Upstream's internal ``topologySpreadConstraint`` plus the matching-shape cache."""

    max_skew: int
    key: str
    selector: LabelSelector | None  # None = labels.Nothing()
    min_domains: int
    honor_affinity: bool
    honor_taints: bool
    self_match: int  # 1 if the incoming pod matches the selector
    namespace: str = "default"  # only pods of the incoming pod's namespace count
    checked: int = 0  # count groups examined so far
    matched: list[int] = field(default_factory=list)
    idx: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))

    @property
    def counts_nothing(self) -> bool:
        """Nil selector (matches no pod) or empty one (``countPodsMatchSelector`` gives 0)."""
        s = self.selector
        return s is None or (not s.match_labels and not s.match_expressions)

    def counts(self, state: ClusterState) -> np.ndarray:
        """int64[N]: bound pods matching the selector on each node."""
        n = state.nodes.n
        if self.counts_nothing:
            return np.zeros(n, dtype=np.int64)
        shapes = state.groups  # count groups: shapes alike in labels
        if self.checked > len(shapes):  # another cluster state: start over
            self.checked, self.matched = 0, []
        if self.checked < len(shapes):
            sel = self.selector
            assert sel is not None
            ns = self.namespace
            self.matched.extend(s for s in range(self.checked, len(shapes))
                                if shapes[s].namespace == ns and sel.matches(shapes[s].labels))
            self.checked = len(shapes)
            self.idx = np.asarray(self.matched, dtype=np.intp)
        if self.idx.size == 0:
            return np.zeros(n, dtype=np.int64)
        return state.group_counts[self.idx].sum(axis=0, dtype=np.int64)


def _merge_match_label_keys(selector: LabelSelector | None, keys: tuple[str, ...], labels: dict[str, str]):
    """Upstream ``mergeLabelSetWithSelector`` for the pod's values of ``matchLabelKeys``."""
    extra = tuple(
        LabelSelectorRequirement(key=k, operator="In", values=(labels[k],)) for k in keys if k in labels
    )
    if not extra or selector is None:  # labels.Nothing() has no requirements to merge into
        return selector
    return LabelSelector(
        match_labels=selector.match_labels, match_expressions=selector.match_expressions + extra
    )


def _internal(c: TopologySpreadConstraint, selector: LabelSelector | None, pod: PodInfo) -> _Constraint:
    return _Constraint(
        max_skew=c.max_skew,
        key=c.topology_key,
        selector=selector,
        min_domains=c.min_domains if c.min_domains is not None else 1,
        honor_affinity=c.node_affinity_policy == "Honor",
        honor_taints=c.node_taints_policy == "Honor",
        self_match=int(selector is not None and selector.matches(pod.labels)),
        namespace=pod.namespace,
    )


def _no_nodes() -> np.ndarray:
    return np.zeros(0, dtype=bool)


@dataclass(eq=False)
class _PodSpread:
    """Per plugin instance and set of the pod fields the constraints read (see
    ``PodTopologySpread._spread_of``): constraints and node-label masks."""

    hard: list[_Constraint]
    soft: list[_Constraint]
    require_all: bool  # requireAllTopologies (Score)
    #: Node table version the masks below are for (-1: not computed yet; then all empty).
    version: int = -1
    affinity: np.ndarray = field(default_factory=_no_nodes)
    tolerated: np.ndarray = field(default_factory=_no_nodes)
    hard_has_all: np.ndarray = field(default_factory=_no_nodes)
    soft_has_all: np.ndarray = field(default_factory=_no_nodes)


def _has_all_keys(nodes: NodeTable, cons: list[_Constraint]) -> np.ndarray:
    """Upstream ``nodeLabelsMatchSpreadConstraints`` over all nodes."""
    mask = np.ones(nodes.n, dtype=bool)
    for c in cons:
        codes = nodes.labels.get(c.key)
        if codes is None:
            return np.zeros(nodes.n, dtype=bool)
        mask &= codes >= 0
    return mask


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """Go ``math.Round`` for x >= 0, then ``int64``."""
    r = np.floor(x)
    return (r + (x - r >= 0.5)).astype(np.int64)


# ----------------------------------------------------------------------- the plugin


class PodTopologySpread(FilterPlugin, ScorePlugin):
    """Pod topology spread constraints: DoNotSchedule filter, ScheduleAnyway score."""

    name = "PodTopologySpread"
    skips_without = ("spread", "labels")  # PreFilter Skip: no constraints (pre_filter)
    Args = PodTopologySpreadArgs
    args: PodTopologySpreadArgs
    summary = "topologySpreadConstraints: DoNotSchedule filter, ScheduleAnyway score (upstream)"
    reason = REASON_CONSTRAINTS
    # Upstream ``Filter``: a node without a constraint's key is ``UnschedulableAndUnresolvable``
    # (ErrReasonNodeLabelNotMatch); a skew violation is ``Unschedulable``.
    unresolvable_reasons = frozenset({REASON_MISSING_LABEL})
    # Upstream EventsToRegister: pod add/label update/delete, node add/delete/label/taint.
    events = frozenset({"PodAdd", "PodDelete", "NodeAdd", "NodeUpdate"})

    def __init__(self, args: PodTopologySpreadArgs | None = None) -> None:
        super().__init__(args)
        a = self.args
        self.system_defaulted = a.defaulting_type == "System"
        self.default_constraints = SYSTEM_DEFAULT_CONSTRAINTS if self.system_defaulted else a.default_constraints
        #: The pods' constraints and node masks (_PodSpread), see _spread_of.
        self._spreads = FieldCache()

    # -- constraints (per pod shape) -------------------------------------------------

    def _constraints(self, pod: PodInfo, action: str) -> list[_Constraint]:
        """Upstream ``getConstraints`` / ``initPreScoreState`` constraint selection."""
        if pod.spread:
            return [
                _internal(c, _merge_match_label_keys(c.label_selector, c.match_label_keys, pod.labels), pod)
                for c in pod.spread
                if c.when_unsatisfiable == action
            ]
        # buildDefaultConstraints: the owner selector is the pod's own labels in k8sim.
        defaults = [c for c in self.default_constraints if c.when_unsatisfiable == action]
        if not defaults or not pod.labels:
            return []
        selector = LabelSelector(match_labels=dict(pod.labels))
        return [_internal(c, selector, pod) for c in defaults]

    def _spread_of(self, state: ClusterState, pod: PodInfo) -> _PodSpread:
        """The pod's constraints, without the node masks (made by :meth:`_prepare`).

        They and the masks depend on the pod's spread constraints, labels, namespace,
        tolerations, nodeSelector and affinity alone (and the node table), so they are
        kept per set of those objects, which the shapes of one template share: a
        trace's shapes (one per distinct request) make them once, not once each."""
        fields = (pod.spread, pod.labels, pod.tolerations, pod.node_selector, pod.affinity)
        key = (*map(id, fields), pod.namespace)
        entries = self._spreads.entries(state.nodes)
        hit = entries.get(key)
        if hit is not None:
            return hit[1]
        ps = _PodSpread(
            hard=self._constraints(pod, "DoNotSchedule"),
            soft=self._constraints(pod, "ScheduleAnyway"),
            require_all=bool(pod.spread) or not self.system_defaulted,
        )
        entries[key] = (fields, ps)
        return ps

    def _prepare(self, state: ClusterState, pod: PodInfo) -> _PodSpread:
        ps = self._spread_of(state, pod)
        nodes = state.nodes
        if ps.version != nodes.version or ps.affinity.size != nodes.n:
            ps.affinity = required_node_affinity_mask(state, pod)
            ps.tolerated = _tolerated_mask(nodes, pod)
            ps.hard_has_all = _has_all_keys(nodes, ps.hard)
            ps.soft_has_all = _has_all_keys(nodes, ps.soft)
            ps.version = nodes.version
        return ps

    def _included(self, state: ClusterState, pod: PodInfo, ps: _PodSpread, c: _Constraint) -> np.ndarray:
        """bool[N]: upstream ``matchNodeInclusionPolicies`` for constraint ``c``."""
        nodes = state.nodes
        mask = np.ones(nodes.n, dtype=bool)
        if c.honor_affinity:
            mask &= ps.affinity
        if c.honor_taints:
            mask &= ps.tolerated
            # Cordon / NotReady are conditions in k8sim, taints upstream.
            if not any(tolerates(tl, _CORDON_TAINT) for tl in pod.tolerations):
                mask &= ~nodes.unschedulable
            if not any(tolerates(tl, _NOT_READY_TAINT) for tl in pod.tolerations):
                mask &= nodes.ready
        return mask

    # -- Filter -----------------------------------------------------------------------

    def _filter_status(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        """int8[N]: 0 pass, 1 missing topology label, 2 skew too large (first failure)."""
        nodes = state.nodes
        n = nodes.n
        status = np.zeros(n, dtype=np.int8)
        ps = self._prepare(state, pod)
        for c in ps.hard:
            codes = nodes.labels.get(c.key)
            if codes is None:
                status[status == _OK] = _MISSING
                continue
            has = codes >= 0
            eligible = ps.hard_has_all & self._included(state, pod, ps, c)
            k = len(nodes.label_values[c.key])
            ec = codes[eligible]
            cnt = c.counts(state)[eligible]
            per_domain = np.bincount(ec, weights=cnt, minlength=k).astype(np.int64)
            present = np.bincount(ec, minlength=k) > 0
            # minMatchNum: the global minimum, or 0 with fewer domains than minDomains
            # (minDomains >= 1, so no domain at all also gives 0).
            num_domains = int(present.sum())
            min_match = 0 if num_domains < c.min_domains else int(per_domain[present].min())
            match = np.where(has, per_domain[codes], 0)  # code -1 reads a junk slot, masked
            skew_fail = has & (match + c.self_match - min_match > c.max_skew)
            open_ = status == _OK
            status[open_ & ~has] = _MISSING
            status[open_ & skew_fail] = _SKEW
        return status

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        # Upstream PreFilter (filtering.go) returns Skip when calPreFilterState finds no
        # constraints, before it looks at any node: so only the constraint lists here
        # (they depend on the shape alone), not the node masks of _prepare.
        if not pod.spread and not pod.labels:
            return False  # no constraints of its own, and none by default (_constraints)
        return bool(self._spread_of(state, pod).hard)

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        return self._filter_status(state, pod) == _OK

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        if rejected.size == 0:
            return {}
        status = self._filter_status(state, pod)[rejected]
        out = {}
        for code, reason in ((_MISSING, REASON_MISSING_LABEL), (_SKEW, REASON_CONSTRAINTS)):
            c = int(np.count_nonzero(status == code))
            if c:
                out[reason] = c
        return out

    # -- Score ------------------------------------------------------------------------

    def pre_score(self, state: ClusterState, pod: PodInfo) -> bool:
        if state.nodes.n == 0:
            return False
        # Upstream PreScore (scoring.go): Skip without constraints, before any node work.
        if not pod.spread and not pod.labels:
            return False  # as in pre_filter
        return bool(self._spread_of(state, pod).soft)

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        """Raw scores (upstream ``Score``); ignored candidates get ``INVALID_SCORE``."""
        nodes = state.nodes
        cand = np.asarray(candidates, dtype=np.intp)
        ps = self._prepare(state, pod)
        total = np.zeros(cand.size, dtype=np.float64)
        if ps.require_all:
            ignored = ~ps.soft_has_all[cand]
        else:
            ignored = np.zeros(cand.size, dtype=bool)
        scored = cand[~ignored]
        for c in ps.soft:
            codes = nodes.labels.get(c.key)
            if codes is None:
                continue  # no node has the key: no candidate gets a term for it
            apply = (codes[cand] >= 0) & ~ignored
            cnt = c.counts(state)
            if c.key == HOSTNAME_LABEL:
                weight = math.log(scored.size + 2)
                node_cnt = cnt[cand]
            else:
                values = nodes.label_values[c.key]
                size = len(values) + 1
                if ps.require_all:
                    eff = codes
                    counted = ps.soft_has_all & self._included(state, pod, ps, c)
                else:  # a node without the key is in domain "" (node.Labels[key] == "")
                    eff = np.where(codes >= 0, codes, values.get("", size - 1))
                    counted = self._included(state, pod, ps, c)
                seeded = np.zeros(size, dtype=bool)
                seeded[eff[scored]] = True
                weight = math.log(int(seeded.sum()) + 2)
                per_domain = np.bincount(eff[counted], weights=cnt[counted], minlength=size).astype(np.int64)
                node_cnt = per_domain[eff[cand]]
            contrib = node_cnt.astype(np.float64) * weight + float(c.max_skew - 1)
            total = np.where(apply, total + contrib, total)
        raw = _round_half_away(total)
        raw[ignored] = INVALID_SCORE
        return raw

    def normalize(self, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        """Upstream ``NormalizeScore``."""
        if scores.size == 0:
            return scores
        ignored = scores == INVALID_SCORE
        valid = scores[~ignored]
        if valid.size == 0:
            return np.zeros_like(scores)
        lo = int(valid.min())
        hi = max(int(valid.max()), 0)
        if hi == 0:
            out = np.full_like(scores, MAX_NODE_SCORE)
        else:
            out = MAX_NODE_SCORE * (hi + lo - scores) // hi
        out[ignored] = 0
        return out
