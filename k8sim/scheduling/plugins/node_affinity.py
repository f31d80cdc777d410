"""NodeAffinity: ``nodeSelector`` and required node affinity (Filter), preferred node
affinity (Score).

Mirrors upstream ``pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go``
(PreFilter, Filter, PreScore, Score, NormalizeScore, ``NodeAffinityArgs.addedAffinity``)
and the matching code it calls in
``staging/src/k8s.io/component-helpers/scheduling/corev1/nodeaffinity/nodeaffinity.go``
(``GetRequiredNodeAffinity``, ``RequiredNodeAffinity.Match``, ``LazyErrorNodeSelector``,
``PreferredSchedulingTerms.Score``) and ``apimachinery/pkg/labels/selector.go``
(``NewRequirement``, ``Requirement.Matches``):

- Filter: the pod's ``nodeSelector`` (every pair must equal a node label) AND its
  ``requiredDuringSchedulingIgnoredDuringExecution`` terms (terms ORed, the
  requirements of a term ANDed). A term with neither ``matchExpressions`` nor
  ``matchFields`` matches nothing. A term with a parse error (upstream
  ``NewRequirement``: invalid label key or value, Gt/Lt value that is not a base-10
  int64; ``matchFields`` In/NotIn without exactly one value) never matches, and the
  other terms are still tried (``LazyErrorNodeSelector``). Operators: In, NotIn
  (a node without the key matches NotIn), Exists, DoesNotExist, Gt, Lt (the node's
  label value parsed with Go ``strconv.ParseInt(v, 10, 64)``; a value that does not
  parse never matches). ``matchFields`` ``metadata.name`` In/NotIn compare node names.
  ``addedAffinity.required`` is checked first (reason "node(s) didn't match
  scheduler-enforced node affinity").
- Score: the sum of the weights of the pod's preferred terms the node matches, plus
  those of ``addedAffinity.preferred``; PreScore skips the plugin when neither has a
  term; NormalizeScore is ``DefaultNormalizeScore(100, reverse=False)``.

Vectorised: every requirement is a ``bool[N]`` from the label code arrays
(``np.isin`` on codes; Gt/Lt use an int64 view of the key's values, built once per
node-table version). The pod's required mask is kept per (nodeSelector, required
terms) objects, which the shapes of one template share, and its preferred weights in
``pod.cache``, both until the node table's ``version`` moves;
masks from ``addedAffinity`` are cached on the plugin, per node table.

Where k8sim differs from upstream, and why:

- PreFilter is folded into :meth:`NodeAffinity.reasons`: upstream's PreFilter turns
  ``matchFields metadata.name In`` terms into a ``PreFilterResult`` node-name set (or
  rejects the pod with "pod affinity terms conflict" when every term names a
  conflicting set). The feasible set is the same as the Filter mask here (the Filter
  checks ``matchFields`` too); only the failure message differs, and ``reasons``
  reproduces it: nodes outside the set are reported as "node(s) didn't satisfy
  plugin(s) [NodeAffinity]" (``schedule_one.go`` absent-nodes status, assuming
  NodeAffinity is the only PreFilter plugin that narrows the node set), a conflict as
  "pod affinity terms conflict". Upstream also runs node sampling
  (``numFeasibleNodesToFind``) over the narrowed list only; k8sim's framework samples
  over all nodes, which only matters with >= 100 nodes and a partial
  ``percentageOfNodesToScore``.
- A preferred term with a parse error contributes nothing. Upstream's PreScore
  returns an error for such a pod, which fails its scheduling cycle every time; the
  API server's pod validation rejects most such pods before they reach a scheduler.
  Parse errors in ``addedAffinity`` are configuration errors here as upstream.
- k8sim cannot tell a nil from an empty ``preferredDuringSchedulingIgnoredDuringExecution``
  list; both skip scoring (upstream scores an empty non-nil list as 0 everywhere, which
  adds nothing to the total either).
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING, cast

import numpy as np
from pydantic import Field, model_validator

from k8sim.config.k8s_types import K8sModel, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm
from k8sim.config.k8s_types import NodeAffinity as NodeAffinitySpec
from k8sim.scheduling.plugins.base import FilterPlugin, ScorePlugin, default_normalize
from k8sim.scheduling.plugins.shared import FieldCache

if TYPE_CHECKING:
    from k8sim.cluster.nodes import NodeTable
    from k8sim.cluster.ops import ClusterState
    from k8sim.config.k8s_types import PreferredSchedulingTerm
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``ErrReasonPod``.
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
#: Upstream ``errReasonEnforced`` (addedAffinity).
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
#: Upstream ``errReasonConflict`` (PreFilter: the matchFields node-name sets are empty).
ERR_REASON_CONFLICT = "pod affinity terms conflict"
#: Upstream absent-nodes status for nodes outside NodeAffinity's PreFilterResult.
ERR_REASON_PREFILTER = "node(s) didn't satisfy plugin(s) [NodeAffinity]"

OBJECT_NAME_FIELD = "metadata.name"  # metav1.ObjectNameField
#: The required masks (see required_node_affinity_mask).
_REQUIRED = FieldCache()
#: The preferred terms' weights per node, per preferred-terms object.
_PREFERRED = FieldCache()
_NAMES_KEY = "NodeAffinity/prefilter-names"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_GO_INT = re.compile(r"[+-]?[0-9]+")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


# ----------------------------------------------------------------------- parsing


def parse_go_int64(text: str) -> int | None:
    """Go ``strconv.ParseInt(text, 10, 64)``; None where Go returns an error."""
    if not _GO_INT.fullmatch(text):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _label_key_errors(key: str) -> list[str]:
    """Upstream ``validation.IsQualifiedName`` (``labels.validateLabelKey``)."""
    parts = key.split("/")
    if len(parts) > 2:
        return [f"invalid label key {key!r}: a qualified name has at most one '/'"]
    errors = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append(f"invalid label key {key!r}: prefix part must be non-empty")
        elif len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            errors.append(f"invalid label key {key!r}: prefix part must be a DNS-1123 subdomain")
    if not name:
        errors.append(f"invalid label key {key!r}: name part must be non-empty")
    elif len(name) > 63:
        errors.append(f"invalid label key {key!r}: name part must be no more than 63 characters")
    if not _QUALIFIED_NAME.fullmatch(name):
        errors.append(f"invalid label key {key!r}: name part must consist of alphanumerics, '-', '_' or '.'")
    return errors


def _label_value_errors(key: str, value: str) -> list[str]:
    """Upstream ``validation.IsValidLabelValue`` (``labels.validateLabelValue``)."""
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        return [f"invalid value {value!r} for label {key!r}"]
    return []


def requirement_errors(req: NodeSelectorRequirement) -> list[str]:
    """Upstream ``labels.NewRequirement`` checks for one ``matchExpressions`` entry."""
    errors = _label_key_errors(req.key)
    if req.operator in ("In", "NotIn") and not req.values:
        errors.append(f"{req.key}: values must be non-empty for {req.operator}")
    if req.operator in ("Exists", "DoesNotExist") and req.values:
        errors.append(f"{req.key}: values must be empty for {req.operator}")
    if req.operator in ("Gt", "Lt"):
        if len(req.values) != 1:
            errors.append(f"{req.key}: {req.operator} needs exactly one value")
        errors += [f"{req.key}: {req.operator} value {v!r} is not an integer" for v in req.values
                   if parse_go_int64(v) is None]
    for v in req.values:
        errors += _label_value_errors(req.key, v)
    return errors


def field_requirement_errors(req: NodeSelectorRequirement) -> list[str]:
    """Upstream ``nodeSelectorRequirementsAsFieldSelector`` checks for ``matchFields``."""
    if req.operator not in ("In", "NotIn"):
        return [f"{req.key}: matchFields supports only In and NotIn"]
    if len(req.values) != 1:
        return [f"{req.key}: matchFields {req.operator} must have exactly one value"]
    return []


def term_errors(term: NodeSelectorTerm) -> list[str]:
    """Parse errors of a node selector term (``newNodeSelectorTerm``)."""
    errors: list[str] = []
    for req in term.match_expressions:
        errors += requirement_errors(req)
    for req in term.match_fields:
        errors += field_requirement_errors(req)
    return errors


def is_empty_term(term: NodeSelectorTerm) -> bool:
    """Upstream ``isEmptyNodeSelectorTerm``: such a term selects no node."""
    return not term.match_expressions and not term.match_fields


def _check_affinity(affinity: NodeAffinitySpec, where: str) -> None:
    """Upstream ``ValidateNodeAffinityArgs``: parse errors in addedAffinity are errors."""
    errors: list[str] = []
    if affinity.required is not None:
        for i, term in enumerate(affinity.required.node_selector_terms):
            errors += [f"{where}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]: {e}"
                       for e in ([] if is_empty_term(term) else term_errors(term))]
    for i, pref in enumerate(affinity.preferred):
        errors += [f"{where}.preferredDuringSchedulingIgnoredDuringExecution[{i}]: {e}"
                   for e in ([] if is_empty_term(pref.preference) else term_errors(pref.preference))]
    if errors:
        raise ValueError("; ".join(errors))


# ----------------------------------------------------------------------- node masks

#: Per node table: label key -> (version, int64[N] parsed values, bool[N] parsed ok).
_NUMERIC: weakref.WeakKeyDictionary[NodeTable, dict[str, tuple[int, np.ndarray, np.ndarray]]] = (
    weakref.WeakKeyDictionary()
)


def numeric_label(nodes: NodeTable, key: str) -> tuple[np.ndarray, np.ndarray]:
    """(int64[N] value, bool[N] valid): each node's ``key`` label parsed as a Go int64.

    ``valid`` is False where the node lacks the key or the value does not parse.
    Cached per node table until its ``version`` moves.
    """
    per_table = _NUMERIC.setdefault(nodes, {})
    hit = per_table.get(key)
    if hit is not None and hit[0] == nodes.version:
        return hit[1], hit[2]
    codes = nodes.labels.get(key)
    if codes is None:
        out = (np.zeros(nodes.n, dtype=np.int64), np.zeros(nodes.n, dtype=bool))
    else:
        values = nodes.label_values[key]
        by_code = np.zeros(max(len(values), 1), dtype=np.int64)
        ok_code = np.zeros(max(len(values), 1), dtype=bool)
        for text, code in values.items():
            parsed = parse_go_int64(text)
            if parsed is not None:
                by_code[code] = parsed
                ok_code[code] = True
        present = codes >= 0
        safe = np.where(present, codes, 0)
        out = (by_code[safe], present & ok_code[safe])
    per_table[key] = (nodes.version, out[0], out[1])
    return out


def requirement_mask(nodes: NodeTable, req: NodeSelectorRequirement) -> np.ndarray:
    """``Requirement.Matches`` of one valid ``matchExpressions`` entry on every node."""
    n = nodes.n
    op = req.operator
    codes = nodes.labels.get(req.key)
    if codes is None:  # no node has the key
        return np.full(n, op in ("NotIn", "DoesNotExist"))
    if op in ("In", "NotIn"):
        known = [c for c in (nodes.label_code(req.key, v) for v in req.values) if c >= 0]
        hit = np.isin(codes, known) if known else np.zeros(n, dtype=bool)
        return hit if op == "In" else ~hit
    if op == "Exists":
        return codes >= 0
    if op == "DoesNotExist":
        return codes < 0
    bound = parse_go_int64(req.values[0])
    values, valid = numeric_label(nodes, req.key)
    return valid & (values > bound if op == "Gt" else values < bound)


def field_mask(nodes: NodeTable, req: NodeSelectorRequirement) -> np.ndarray:
    """One valid ``matchFields`` entry (``metadata.name`` In/NotIn one name)."""
    mask = np.zeros(nodes.n, dtype=bool)
    idx = nodes.name_index.get(req.values[0])
    if idx is not None:
        mask[idx] = True
    return mask if req.operator == "In" else ~mask


def term_mask(nodes: NodeTable, term: NodeSelectorTerm) -> np.ndarray:
    """Nodes matching a term; all False for an empty term or one with parse errors."""
    if is_empty_term(term) or term_errors(term):
        return np.zeros(nodes.n, dtype=bool)
    mask = np.ones(nodes.n, dtype=bool)
    for req in term.match_expressions:
        mask &= requirement_mask(nodes, req)
    for req in term.match_fields:
        mask &= field_mask(nodes, req)
    return mask


def node_selector_mask(nodes: NodeTable, selector: NodeSelector) -> np.ndarray:
    """``LazyErrorNodeSelector.Match``: terms ORed."""
    mask = np.zeros(nodes.n, dtype=bool)
    for term in selector.node_selector_terms:
        mask |= term_mask(nodes, term)
    return mask


def preferred_weights(nodes: NodeTable, terms: tuple[PreferredSchedulingTerm, ...]) -> np.ndarray:
    """``PreferredSchedulingTerms.Score``: int64[N] sum of the weights of matched terms."""
    out = np.zeros(nodes.n, dtype=np.int64)
    for t in terms:
        if t.weight:
            out += np.where(term_mask(nodes, t.preference), np.int64(t.weight), np.int64(0))
    return out


def _pod_node_affinity(pod: PodInfo) -> NodeAffinitySpec | None:
    return pod.affinity.node_affinity if pod.affinity is not None else None


def required_node_affinity_mask(state: ClusterState, pod: PodInfo) -> np.ndarray:
    """``RequiredNodeAffinity.Match`` on every node: the pod's ``nodeSelector`` AND its
    required node affinity (not ``addedAffinity``). Read only; kept until the node
    table's ``version`` moves, per pair of (selector, required terms) objects: the
    shapes of one template share both, and so the mask
    (:mod:`k8sim.scheduling.plugins.shared`).

    Other plugins that honour the pod's node affinity (PodTopologySpread's
    ``nodeAffinityPolicy: Honor``) can call this.
    """
    nodes = state.nodes
    affinity = _pod_node_affinity(pod)
    required = affinity.required if affinity is not None else None
    selector = pod.node_selector
    # An empty selector and no required terms are one key, whatever the objects.
    key = (id(selector) if selector else 0, id(required) if required is not None else 0)
    entries = _REQUIRED.entries(nodes)
    hit = entries.get(key)
    if hit is not None:
        return hit[1]
    mask = np.ones(nodes.n, dtype=bool)
    for label, value in selector.items():
        codes = nodes.labels.get(label)
        if codes is None:
            mask[:] = False
            break
        mask &= codes == nodes.label_code(label, value)
    if required is not None:
        mask &= node_selector_mask(nodes, required)
    mask.flags.writeable = False  # shared by shapes
    entries[key] = ((selector, required), mask)
    return mask


def prefilter_node_names(pod: PodInfo) -> frozenset[str] | None:
    """Upstream ``PreFilter``'s node-name set: None for all nodes; empty = conflict.

    Each required term contributes the intersection of its ``matchFields
    metadata.name In`` value sets; a term without one allows every node. The terms'
    sets are united.
    """
    if _NAMES_KEY in pod.cache:
        cached: frozenset[str] | None = pod.cache[_NAMES_KEY]
        return cached
    names: set[str] | None = None
    affinity = _pod_node_affinity(pod)
    if affinity is not None and affinity.required is not None:
        names = set()
        for term in affinity.required.node_selector_terms:
            term_names: set[str] | None = None
            for req in term.match_fields:
                if req.key == OBJECT_NAME_FIELD and req.operator == "In":
                    values = set(req.values)
                    term_names = values if term_names is None else term_names & values
            if term_names is None:
                names = None
                break
            names |= term_names
    result = frozenset(names) if names is not None else None
    pod.cache[_NAMES_KEY] = result
    return result


# ----------------------------------------------------------------------- the plugin


class NodeAffinityArgs(K8sModel):
    """``NodeAffinityArgs``: ``addedAffinity`` applies to every pod of the profile."""

    added_affinity: NodeAffinitySpec | None = Field(default=None, alias="addedAffinity")

    @model_validator(mode="after")
    def _check(self) -> NodeAffinityArgs:
        if self.added_affinity is not None:
            _check_affinity(self.added_affinity, "addedAffinity")
        return self


class NodeAffinity(FilterPlugin, ScorePlugin):
    """nodeSelector + required node affinity filter; preferred node affinity score."""

    name = "NodeAffinity"
    node_local = True  # the node's own labels, taints or conditions only (incremental caches)
    reads_usage = False
    reads_requests = False  # the spec's tolerations / node selection only
    events = frozenset({"NodeAdd", "NodeUpdate"})
    Args = NodeAffinityArgs
    args: NodeAffinityArgs
    summary = "nodeSelector and node affinity filter; preferred node affinity score"
    reason = ERR_REASON_POD
    # Every NodeAffinity failure is ``UnschedulableAndUnresolvable`` upstream (PreFilter
    # conflict, nodes outside the PreFilterResult, enforced and pod affinity in Filter).
    unresolvable_reasons = frozenset({ERR_REASON_POD, ERR_REASON_ENFORCED, ERR_REASON_CONFLICT, ERR_REASON_PREFILTER})

    def __init__(self, args: NodeAffinityArgs | None = None) -> None:
        super().__init__(args)
        added = self.args.added_affinity
        self.added_required: NodeSelector | None = added.required if added is not None else None
        self.added_preferred: tuple[PreferredSchedulingTerm, ...] = tuple(added.preferred) if added is not None else ()
        #: node table -> (version, added required mask or None, added preferred weights or None)
        self._added: weakref.WeakKeyDictionary[NodeTable, tuple[int, np.ndarray | None, np.ndarray | None]] = (
            weakref.WeakKeyDictionary()
        )

    def _added_masks(self, nodes: NodeTable) -> tuple[np.ndarray | None, np.ndarray | None]:
        hit = self._added.get(nodes)
        if hit is not None and hit[0] == nodes.version:
            return hit[1], hit[2]
        req = node_selector_mask(nodes, self.added_required) if self.added_required is not None else None
        pref = preferred_weights(nodes, self.added_preferred) if self.added_preferred else None
        self._added[nodes] = (nodes.version, req, pref)
        return req, pref

    # -- Filter ---------------------------------------------------------------------

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        mask = required_node_affinity_mask(state, pod)
        if self.added_required is not None:
            added, _ = self._added_masks(state.nodes)
            assert added is not None  # computed when there are added required terms
            mask = mask & added
        return mask

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        """Upstream messages: PreFilter conflict, nodes outside the PreFilter name set,
        scheduler-enforced affinity, then the pod's own selector/affinity."""
        if rejected.size == 0:
            return {}
        names = prefilter_node_names(pod)
        if names is not None and not names:
            return {ERR_REASON_CONFLICT: int(rejected.size)}
        out: dict[str, int] = {}
        remaining = rejected
        if names is not None:
            nodes = state.nodes
            in_set = np.zeros(nodes.n, dtype=bool)
            in_set[[nodes.name_index[x] for x in names if x in nodes.name_index]] = True
            absent = int(np.count_nonzero(~in_set[remaining]))
            if absent:
                out[ERR_REASON_PREFILTER] = absent
            remaining = remaining[in_set[remaining]]
        if self.added_required is not None and remaining.size:
            added, _ = self._added_masks(state.nodes)
            assert added is not None  # computed when there are added required terms
            enforced = int(np.count_nonzero(~added[remaining]))
            if enforced:
                out[ERR_REASON_ENFORCED] = enforced
            remaining = remaining[added[remaining]]
        if remaining.size:
            out[ERR_REASON_POD] = int(remaining.size)
        return out

    # -- Score ----------------------------------------------------------------------

    def _pod_preferred(self, state: ClusterState, pod: PodInfo) -> np.ndarray | None:
        affinity = _pod_node_affinity(pod)
        if affinity is None or not affinity.preferred:
            return None
        return self._preferred_entry(state, affinity.preferred)[0]

    def _preferred_entry(self, state: ClusterState,
                         preferred: tuple[PreferredSchedulingTerm, ...]) -> tuple[np.ndarray, bool]:
        """The summed weights of ``preferred`` on every node, and whether they are one
        value on every node; kept per preferred-terms object (the shapes of a template
        share it) until the node table's ``version`` moves."""
        nodes = state.nodes
        entries = _PREFERRED.entries(nodes)
        hit = entries.get(id(preferred))
        if hit is not None:
            return cast("tuple[np.ndarray, bool]", hit[1])
        weights = preferred_weights(nodes, preferred)
        weights.flags.writeable = False  # shared by shapes
        value = (weights, bool(weights.size == 0 or weights.min() == weights.max()))
        entries[id(preferred)] = (preferred, value)
        return value

    def uniform_score(self, state: ClusterState, pod: PodInfo) -> bool:
        """True when the preferred terms (the pod's and ``addedAffinity``'s) weigh the
        same on every node, e.g. when no node matches any: DefaultNormalizeScore then
        gives every node the same score (0 for a sum of 0, else 100)."""
        if self.added_preferred and not self._preferred_entry(state, self.added_preferred)[1]:
            return False
        affinity = _pod_node_affinity(pod)
        if affinity is None or not affinity.preferred:
            return True
        return self._preferred_entry(state, affinity.preferred)[1]

    def pre_score(self, state: ClusterState, pod: PodInfo) -> bool:
        affinity = _pod_node_affinity(pod)
        return bool(self.added_preferred) or (affinity is not None and bool(affinity.preferred))

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        total = np.zeros(candidates.size, dtype=np.int64)
        if self.added_preferred:
            _, weights = self._added_masks(state.nodes)
            assert weights is not None  # computed when there are added preferred terms
            total += weights[candidates]
        own = self._pod_preferred(state, pod)
        if own is not None:
            total += own[candidates]
        return total

    def normalize(self, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        return default_normalize(scores, reverse=False)
