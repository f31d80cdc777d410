"""InterPodAffinity: required pod (anti-)affinity filter and preferred pod affinity score.

Mirrors upstream ``pkg/scheduler/framework/plugins/interpodaffinity`` (``plugin.go``,
``filtering.go``, ``scoring.go``; v1.35: filtering.go on the staging ``fwk`` types,
scoring.go with ``PreScore(..., nodes []*framework.NodeInfo)``), with the
terms parsed as ``framework.NewPodInfo`` / ``AffinityTerm.Matches`` do.

Filter (``PreFilter`` + ``Filter``), per node, first failing check wins:

1. ``satisfyPodAffinity``: every required affinity term of the incoming pod needs its
   topology key on the node (else the node fails outright), and a matching pod in the
   node's domain. As upstream (``updateWithAffinityTerms``), an existing pod counts only
   if it matches *all* the incoming pod's required affinity terms; it then adds 1 to the
   ``(key, value)`` pair of every term whose key its node has. "First pod of a group":
   if some term has no match in the node's domain, the node still passes when the whole
   ``affinityCounts`` map is empty (no pod matching all terms sits on a node that has
   any of the terms' keys) and the incoming pod matches all its own terms.
   Reason ``"node(s) didn't match pod affinity rules"``.
2. ``satisfyPodAntiAffinity``: for each required anti-affinity term, a node that has the
   term's key fails if the ``(key, value)`` pair has a count > 0; pairs are shared by
   all terms with the same key, exactly as upstream's map.
   Reason ``"node(s) didn't match pod anti-affinity rules"``.
3. ``satisfyExistingPodsAntiAffinity``: each existing pod's required anti-affinity term
   that selects the incoming pod adds 1 to ``(key, value of the existing pod's node)``;
   a node fails if any of its label pairs has a count > 0.
   Reason ``"node(s) didn't satisfy existing pods anti-affinity rules"``.

Score (``PreScore`` / ``Score`` / ``NormalizeScore``): ``processExistingPod`` for every
bound pod adds to ``topologyScore[key][value of the existing pod's node]``: the incoming
pod's preferred affinity terms it matches (+weight) and preferred anti-affinity terms
(-weight); the existing pod's required affinity terms the incoming pod matches
(+``hardPodAffinityWeight``, only when that is > 0); its preferred affinity (+weight) and
preferred anti-affinity (-weight) terms the incoming pod matches. A node's raw score is
the sum over keys of its domain's entry. PreScore returns Skip when
``ignorePreferredTermsOfExistingPods`` is set and the incoming pod has no preferred
terms, and when no term matched at all (upstream's ``index == -1``: no entry was
created, even one that summed to 0). NormalizeScore is min-max scaling over the scored
nodes, ``int64(float64(100) * (float64(s - min) / float64(max - min)))``, all 0 when
``max == min``.

Vectorisation: pods of one shape share labels and affinity, so every "does pod X match
term T" question is answered once per (incoming shape, existing shape) and cached in
``pod.cache`` (extended incrementally as new shapes appear). Per-node counts are
``weights[G] @ state.group_counts`` (over count groups: shapes alike in labels and terms); per-domain sums are ``np.bincount`` over the label
code array of the term's key.

Differences from upstream (and why), and notes:

- Namespaces as upstream (``AffinityTerm.Matches`` with the namespaces of
  ``getNamespacesFromPodAffinityTerm``): a term selects pods of its own pod's namespace
  unless ``namespaces`` or ``namespaceSelector`` say otherwise; namespace labels come
  from the scenario's ``namespaces`` (or the snapshot's Namespace objects) plus
  ``kubernetes.io/metadata.name``. Upstream resolves the incoming pod's
  ``namespaceSelector`` to the namespaces that exist (``mergeAffinityTermNamespacesIfNotEmpty``);
  k8sim matches the selector against each pod's namespace's labels, which selects the
  same pods (a pod's namespace exists). Scenarios that name no namespace put every pod
  in ``default``, as before. ``matchLabelKeys`` / ``mismatchLabelKeys`` are not
  modelled.
- Upstream's PreFilter Skip (no required terms and no existing required anti-affinity
  match) is not a separate step here: in that case every node passes, which is what the
  Skip amounts to.
- A nil ``labelSelector`` matches no pod (``LabelSelectorAsSelector(nil)`` is
  ``labels.Nothing()``), an empty one matches every pod, as upstream.
- Malformed selectors cannot occur (the config models validate them), so upstream's
  PreFilter/PreScore parse errors have no counterpart.
- "Existing pods" are the bound pods (``state.group_counts``); nominated pods are not
  added to the Filter's view (k8sim's framework does not run Filter with nominated pods).
  The affinity failure is UnschedulableAndUnresolvable upstream (preemption skips such
  nodes); k8sim's filters return a boolean mask, so that status class is not carried.
- ``Score`` reuses the map built by ``pre_score`` for the same pod and cluster
  generation (upstream's CycleState); called on its own, it rebuilds the map.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from k8sim.cluster.ops import NAMESPACE_NAME_LABEL, namespace_labels
from k8sim.config.k8s_types import K8sModel
from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, FilterPlugin, ScorePlugin

if TYPE_CHECKING:
    from collections.abc import Iterable

    from k8sim.cluster.ops import ClusterState
    from k8sim.config.k8s_types import PodAffinity, PodAffinityTerm
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``ErrReasonAffinityRulesNotMatch``.
REASON_AFFINITY = "node(s) didn't match pod affinity rules"
#: Upstream ``ErrReasonAntiAffinityRulesNotMatch``.
REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
#: Upstream ``ErrReasonExistingAntiAffinityRulesNotMatch``.
REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"

_CACHE_KEY = "InterPodAffinity"


class InterPodAffinityArgs(K8sModel):
    """``InterPodAffinityArgs`` in upstream ``pluginConfig`` spelling (v1 defaults)."""

    hard_pod_affinity_weight: int = Field(default=1, alias="hardPodAffinityWeight", ge=0, le=100)
    ignore_preferred_terms_of_existing_pods: bool = Field(default=False, alias="ignorePreferredTermsOfExistingPods")


def term_namespace_matches(term: PodAffinityTerm, owner_ns: str, target_ns: str,
                           target_ns_labels: dict[str, str]) -> bool:
    """Whether ``term`` (of a pod in namespace ``owner_ns``) considers pods of namespace
    ``target_ns`` (labels ``target_ns_labels``): upstream ``AffinityTerm.Matches``'s
    namespace half, with the namespaces of ``getNamespacesFromPodAffinityTerm`` (the
    owner's namespace when the term has neither ``namespaces`` nor ``namespaceSelector``)
    and a nil ``namespaceSelector`` matching no namespace."""
    if not term.namespaces and term.namespace_selector is None:
        return target_ns == owner_ns
    if target_ns in term.namespaces:
        return True
    return term.namespace_selector is not None and term.namespace_selector.matches(target_ns_labels)


def term_matches(term: PodAffinityTerm, labels: dict[str, str], owner_ns: str = "default",
                 target_ns: str = "default", target_ns_labels: dict[str, str] | None = None) -> bool:
    """Upstream ``AffinityTerm.Matches``: the term of a pod in ``owner_ns`` selects a pod
    with ``labels`` in ``target_ns`` (namespace labels ``target_ns_labels``; absent: only
    ``kubernetes.io/metadata.name``). A nil label selector matches nothing."""
    if term.label_selector is None:
        return False
    if term.namespaces or term.namespace_selector is not None or owner_ns != target_ns:
        ns_labels = target_ns_labels if target_ns_labels is not None else {NAMESPACE_NAME_LABEL: target_ns}
        if not term_namespace_matches(term, owner_ns, target_ns, ns_labels):
            return False
    return term.label_selector.matches(labels)


def _required(aff: PodAffinity | None) -> tuple[PodAffinityTerm, ...]:
    return aff.required if aff is not None else ()


def _preferred(aff: PodAffinity | None) -> tuple:
    return aff.preferred if aff is not None else ()


def _pod_terms(pod: PodInfo) -> tuple[tuple, tuple, tuple, tuple]:
    """(required affinity, required anti-affinity, preferred affinity, preferred anti-affinity)."""
    a = pod.affinity
    if a is None:
        return (), (), (), ()
    return (_required(a.pod_affinity), _required(a.pod_anti_affinity),
            _preferred(a.pod_affinity), _preferred(a.pod_anti_affinity))


@dataclass(eq=False)
class _ShapeTerms:
    """What an incoming pod shape needs to know about every existing shape ``s``.

    Arrays have one entry per shape; dicts are keyed by topology key.
    """

    n: int = 0
    #: Existing shape matches ALL the incoming pod's required affinity terms.
    affinity_all: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Number of the incoming pod's required anti-affinity terms (with this key) it matches.
    anti: dict[str, np.ndarray] = field(default_factory=dict)
    #: Number of the existing shape's required anti-affinity terms (with this key)
    #: that select the incoming pod.
    existing_anti: dict[str, np.ndarray] = field(default_factory=dict)
    #: Net score weight one pod of the shape adds to its node's domain for this key.
    score: dict[str, np.ndarray] = field(default_factory=dict)
    #: Whether a pod of the shape creates a ``topologyScore`` entry for this key.
    touched: dict[str, np.ndarray] = field(default_factory=dict)


def _grow(arrays: dict[str, np.ndarray], size: int) -> None:
    for key, a in arrays.items():
        if a.size < size:
            arrays[key] = np.concatenate([a, np.zeros(size - a.size, dtype=a.dtype)])


def _slot(arrays: dict[str, np.ndarray], key: str, size: int, dtype: type) -> np.ndarray:
    a = arrays.get(key)
    if a is None:
        a = arrays[key] = np.zeros(size, dtype=dtype)
    return a


class InterPodAffinity(FilterPlugin, ScorePlugin):
    """Required pod affinity / anti-affinity filter; preferred pod affinity score."""

    name = "InterPodAffinity"
    Args = InterPodAffinityArgs
    args: InterPodAffinityArgs
    summary = "required pod (anti-)affinity filter; preferred pod (anti-)affinity score"
    reason = REASON_AFFINITY
    # Upstream ``Filter``: unmet required affinity is ``UnschedulableAndUnresolvable``;
    # the pod's anti-affinity and existing pods' anti-affinity are ``Unschedulable``.
    unresolvable_reasons = frozenset({REASON_AFFINITY})

    def __init__(self, args: InterPodAffinityArgs | None = None) -> None:
        super().__init__(args)
        self.hard_weight = int(self.args.hard_pod_affinity_weight)
        self.ignore_existing_preferred = bool(self.args.ignore_preferred_terms_of_existing_pods)
        # PreScore -> Score hand-off (upstream CycleState): (pod, state, generation, map).
        self._prescore: tuple | None = None
        # (state.groups it was built for, groups checked, ids of groups with terms).
        self._term_shapes: tuple[Any, int, list[int]] = (None, 0, [])

    # -- per-shape precomputation ---------------------------------------------------

    def _with_terms(self, state: ClusterState) -> list[int]:
        """Ids of the count groups that have any pod (anti-)affinity term, kept up to
        date incrementally (groups are only ever appended)."""
        shapes = state.groups
        key, done, ids = self._term_shapes
        if key is shapes and done == len(shapes):
            return ids  # no group added since (the common case: once per cycle, twice)
        if key is not shapes:
            key, done, ids = shapes, 0, []
        for s in range(done, len(shapes)):
            if any(_pod_terms(shapes[s])):
                ids.append(s)
        self._term_shapes = (key, len(shapes), ids)
        return ids

    def _constraint_free(self, state: ClusterState, pod: PodInfo) -> bool:
        """Neither the pod nor any registered shape has a pod (anti-)affinity term: the
        plugin has nothing to filter or score (and skips without building its cache)."""
        return (pod.affinity is None or not any(_pod_terms(pod))) and not self._with_terms(state)

    def _terms(self, state: ClusterState, pod: PodInfo) -> _ShapeTerms:
        """The incoming shape's cache, extended to every count group registered so far
        (arrays over groups: a group's shapes share labels and terms)."""
        # Score weights depend on hardPodAffinityWeight, so it is part of the key.
        key = f"{_CACHE_KEY}/{self.hard_weight}"
        c = pod.cache.get(key)
        if not isinstance(c, _ShapeTerms):
            c = pod.cache[key] = _ShapeTerms()
        size = len(state.groups)
        if c.n == size:
            return c
        req_aff, req_anti, pref_aff, pref_anti = _pod_terms(pod)
        c.affinity_all = np.concatenate([c.affinity_all, np.zeros(size - c.n, dtype=np.int64)])
        for arrays in (c.anti, c.existing_anti, c.score, c.touched):
            _grow(arrays, size)
        incoming = pod.labels
        pod_ns = pod.namespace
        pod_ns_labels = namespace_labels(state, pod_ns)
        if req_aff or req_anti or pref_aff or pref_anti:
            todo: Iterable[int] = range(c.n, size)
        else:
            # A pod without terms of its own is only affected by shapes that have some.
            todo = [s for s in self._with_terms(state) if s >= c.n]
        for s in todo:
            other = state.groups[s]
            labels = other.labels
            o_ns = other.namespace
            o_ns_labels = namespace_labels(state, o_ns)

            def mine(t: PodAffinityTerm, labels: dict[str, str] = labels, o_ns: str = o_ns,
                     o_ns_labels: dict[str, str] = o_ns_labels) -> bool:
                # the incoming pod's term selects the existing pod
                return term_matches(t, labels, pod_ns, o_ns, o_ns_labels)

            def theirs(t: PodAffinityTerm, o_ns: str = o_ns) -> bool:
                # the existing pod's term selects the incoming pod
                return term_matches(t, incoming, o_ns, pod_ns, pod_ns_labels)

            # Filter: incoming pod's required terms against the existing shape.
            if req_aff and all(mine(t) for t in req_aff):
                c.affinity_all[s] = 1
            for t in req_anti:
                if mine(t):
                    _slot(c.anti, t.topology_key, size, np.int64)[s] += 1
            o_req_aff, o_req_anti, o_pref_aff, o_pref_anti = _pod_terms(other)
            # Filter: existing shape's required anti-affinity against the incoming pod.
            for t in o_req_anti:
                if theirs(t):
                    _slot(c.existing_anti, t.topology_key, size, np.int64)[s] += 1
            # Score: processExistingPod, in upstream's order.
            contributions: list[tuple[PodAffinityTerm, int]] = []
            contributions += [(w.pod_affinity_term, w.weight) for w in pref_aff if mine(w.pod_affinity_term)]
            contributions += [(w.pod_affinity_term, -w.weight) for w in pref_anti if mine(w.pod_affinity_term)]
            if self.hard_weight > 0:
                contributions += [(t, self.hard_weight) for t in o_req_aff if theirs(t)]
            contributions += [(w.pod_affinity_term, w.weight) for w in o_pref_aff if theirs(w.pod_affinity_term)]
            contributions += [(w.pod_affinity_term, -w.weight) for w in o_pref_anti if theirs(w.pod_affinity_term)]
            for t, weight in contributions:
                _slot(c.score, t.topology_key, size, np.int64)[s] += weight
                _slot(c.touched, t.topology_key, size, bool)[s] = True
        c.n = size
        return c

    @staticmethod
    def _per_node(weights: np.ndarray, counts: np.ndarray) -> np.ndarray | None:
        """``sum_s weights[s] * counts[s, :]`` over shapes with a non-zero weight."""
        idx = np.flatnonzero(weights)
        if idx.size == 0:
            return None
        return weights[idx].astype(np.int64) @ counts[idx].astype(np.int64)

    @staticmethod
    def _domain_sums(codes: np.ndarray, per_node: np.ndarray, n_values: int) -> np.ndarray:
        """Per label value of one key: the sum of ``per_node`` over nodes with that value."""
        has = codes >= 0
        sums = np.bincount(codes[has], weights=per_node[has], minlength=n_values)
        return np.rint(sums).astype(np.int64)

    def _domain_positive(self, state: ClusterState, key: str, weights: np.ndarray) -> np.ndarray:
        """bool[N]: the node has ``key`` and the ``(key, value)`` pair has a count > 0."""
        nodes = state.nodes
        codes = nodes.labels.get(key)
        per_node = self._per_node(weights, state.group_counts)
        if codes is None or per_node is None:
            return np.zeros(nodes.n, dtype=bool)
        sums = self._domain_sums(codes, per_node, len(nodes.label_values[key]))
        return (codes >= 0) & (sums[np.maximum(codes, 0)] > 0)

    # -- Filter ---------------------------------------------------------------------

    def _checks(self, state: ClusterState, pod: PodInfo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """bool[N] pass masks of satisfyPodAffinity, satisfyPodAntiAffinity and
        satisfyExistingPodsAntiAffinity."""
        n = state.nodes.n
        c = self._terms(state, pod)
        req_aff = _pod_terms(pod)[0]
        affinity_ok = np.ones(n, dtype=bool)
        if req_aff:
            labels = state.nodes.labels
            all_keys = np.ones(n, dtype=bool)
            pods_exist = np.ones(n, dtype=bool)
            any_pair = False
            per_node = self._per_node(c.affinity_all, state.group_counts)
            for t in req_aff:
                codes = labels.get(t.topology_key)
                if codes is None:
                    all_keys[:] = False
                    continue
                has = codes >= 0
                all_keys &= has
                if per_node is None:
                    pods_exist[:] = False
                    continue
                sums = self._domain_sums(codes, per_node, len(state.nodes.label_values[t.topology_key]))
                any_pair = any_pair or bool((sums != 0).any())
                pods_exist &= has & (sums[np.maximum(codes, 0)] > 0)
            own_ns = namespace_labels(state, pod.namespace)
            first_of_group = not any_pair and all(
                term_matches(t, pod.labels, pod.namespace, pod.namespace, own_ns) for t in req_aff)
            affinity_ok = all_keys & (pods_exist | first_of_group)
        anti_ok = np.ones(n, dtype=bool)
        for key, weights in c.anti.items():
            anti_ok &= ~self._domain_positive(state, key, weights)
        existing_ok = np.ones(n, dtype=bool)
        for key, weights in c.existing_anti.items():
            existing_ok &= ~self._domain_positive(state, key, weights)
        return affinity_ok, anti_ok, existing_ok

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        # Upstream PreFilter Skip: no required terms of its own and no existing pod's
        # required anti-affinity that could select it.
        if self._constraint_free(state, pod):
            return False
        c = self._terms(state, pod)
        return bool(_pod_terms(pod)[0] or c.anti or c.existing_anti)

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        affinity_ok, anti_ok, existing_ok = self._checks(state, pod)
        return affinity_ok & anti_ok & existing_ok

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        if rejected.size == 0:
            return {}
        affinity_ok, anti_ok, existing_ok = (m[rejected] for m in self._checks(state, pod))
        out = {
            REASON_AFFINITY: int(np.count_nonzero(~affinity_ok)),
            REASON_ANTI_AFFINITY: int(np.count_nonzero(affinity_ok & ~anti_ok)),
            REASON_EXISTING_ANTI_AFFINITY: int(np.count_nonzero(affinity_ok & anti_ok & ~existing_ok)),
        }
        return {r: k for r, k in out.items() if k}

    # -- Score ----------------------------------------------------------------------

    def _topology_score(self, state: ClusterState, pod: PodInfo) -> list[tuple[np.ndarray, np.ndarray]] | None:
        """Upstream ``topologyScore`` as ``[(codes[N], score per value)]`` per key, or
        None when no entry would be created (PreScore Skip)."""
        c = self._terms(state, pod)
        nodes = state.nodes
        counts = state.group_counts
        out = []
        created = False
        for key, weights in c.score.items():
            codes = nodes.labels.get(key)
            if codes is None:
                continue
            touched = self._per_node(c.touched[key], counts)
            if touched is None or not (touched[codes >= 0] > 0).any():
                continue
            created = True
            per_node = self._per_node(weights, counts)
            if per_node is not None:
                out.append((codes, self._domain_sums(codes, per_node, len(nodes.label_values[key]))))
        return out if created else None

    def pre_score(self, state: ClusterState, pod: PodInfo) -> bool:
        req_aff, req_anti, pref_aff, pref_anti = _pod_terms(pod)
        has_constraints = bool(pref_aff or pref_anti)
        if self.ignore_existing_preferred and not has_constraints:
            self._prescore = None
            return False
        if self._constraint_free(state, pod):
            self._prescore = None
            return False
        topo = self._topology_score(state, pod)
        self._prescore = (pod, state, getattr(state, "generation", None), topo)
        return topo is not None

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        p = self._prescore
        if p is not None and p[0] is pod and p[1] is state and p[2] == getattr(state, "generation", None):
            topo = p[3]
        else:
            topo = self._topology_score(state, pod)
        total = np.zeros(candidates.size, dtype=np.int64)
        for codes, sums in topo or ():
            c = codes[candidates]
            total += np.where(c >= 0, sums[np.maximum(c, 0)], 0)
        return total

    def normalize(self, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        """Upstream ``NormalizeScore``: min-max over the scored nodes, float64 then
        truncation; all 0 when every score is equal."""
        if scores.size == 0:
            return scores
        lo, hi = int(scores.min()), int(scores.max())
        diff = hi - lo
        if diff <= 0:
            return np.zeros_like(scores)
        frac = (scores - lo).astype(np.float64) / np.float64(diff)
        return (np.float64(MAX_NODE_SCORE) * frac).astype(np.int64)
