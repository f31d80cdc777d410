"""NodeAffinity: required node affinity (Filter), preferred node affinity (Score), addedAffinity.

Cases mirror upstream pkg/scheduler/framework/plugins/nodeaffinity/node_affinity_test.go
(TestNodeAffinity: one node per case, Filter status; TestNodeAffinityPriority:
scores after NormalizeScore). The nodeSelector-only cases of TestNodeAffinity live in
test_filters.py. Where upstream checks a PreFilter status/result, the test checks the
message ``reasons`` reports for that node in a scheduling cycle.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.cluster import ops
from k8sim.config.k8s_types import Affinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm
from k8sim.scheduling.plugins.node_affinity import (
    ERR_REASON_CONFLICT,
    ERR_REASON_ENFORCED,
    ERR_REASON_POD,
    ERR_REASON_PREFILTER,
    NodeAffinity,
    NodeAffinityArgs,
    parse_go_int64,
    required_node_affinity_mask,
)


def required(*terms: dict) -> Affinity:
    return Affinity.model_validate(
        {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}
    )


def expr(key: str, op: str, *values: str) -> dict:
    return {"key": key, "operator": op, "values": list(values)}


def name_in(*values: str) -> dict:
    return {"key": "metadata.name", "operator": "In", "values": list(values)}


def plugin_with(added: dict | None) -> NodeAffinity:
    return NodeAffinity(NodeAffinityArgs.model_validate({"addedAffinity": added} if added else {}))


ADDED_NAME_NODE2 = {"requiredDuringSchedulingIgnoredDuringExecution": {
    "nodeSelectorTerms": [{"matchFields": [name_in("node2")]}]}}


@pytest.mark.parametrize(
    "name, affinity, selector, node_name, labels, added, want",
    [
        # TestNodeAffinity "Pod with matchExpressions using In operator that matches the existing node"
        ("in matches", required({"matchExpressions": [expr("foo", "In", "bar", "value2")]}), None,
         "node1", {"foo": "bar"}, None, None),
        # "Pod with matchExpressions using Gt operator that matches the existing node": 0206 > 0204
        # (both parse as base-10 integers: 206 > 204)
        ("gt matches", required({"matchExpressions": [expr("kernel-version", "Gt", "0204")]}), None,
         "node1", {"kernel-version": "0206"}, None, None),
        # "Pod with matchExpressions using NotIn operator that matches the existing node": DDR3 not in {DDR, DDR2}
        ("notin matches", required({"matchExpressions": [expr("mem-type", "NotIn", "DDR", "DDR2")]}), None,
         "node1", {"mem-type": "DDR3"}, None, None),
        # "Pod with matchExpressions using Exists operator that matches the existing node"
        ("exists matches", required({"matchExpressions": [expr("GPU", "Exists")]}), None,
         "node1", {"GPU": "NVIDIA-GRID-K1"}, None, None),
        # "Pod with affinity that don't match node's labels won't schedule onto the node": bar not in {value1, value2}
        ("in does not match", required({"matchExpressions": [expr("foo", "In", "value1", "value2")]}), None,
         "node1", {"foo": "bar"}, None, ERR_REASON_POD),
        # "Pod with empty MatchExpressions is not a valid value will match no objects ..."
        ("empty term", required({"matchExpressions": []}), None, "node1", {"foo": "bar"}, None, ERR_REASON_POD),
        # "Pod with no Affinity will schedule onto a node"
        ("no affinity", None, None, "node1", {"foo": "bar"}, None, None),
        # "Pod with Affinity but nil NodeSelector will schedule onto a node"
        ("nil required", Affinity.model_validate({"nodeAffinity": {}}), None, "node1", {"foo": "bar"}, None, None),
        # "Pod with multiple matchExpressions ANDed that matches the existing node"
        ("anded match", required({"matchExpressions": [expr("GPU", "Exists"), expr("GPU", "NotIn", "AMD", "INTER")]}),
         None, "node1", {"GPU": "NVIDIA-GRID-K1"}, None, None),
        # "Pod with multiple matchExpressions ANDed that doesn't match the existing node"
        ("anded no match", required({"matchExpressions": [expr("GPU", "Exists"), expr("GPU", "In", "AMD", "INTER")]}),
         None, "node1", {"GPU": "NVIDIA-GRID-K1"}, None, ERR_REASON_POD),
        # "Pod with multiple NodeSelectorTerms ORed in affinity, matches the node's labels ..."
        ("ored terms", required({"matchExpressions": [expr("foo", "In", "bar", "value2")]},
                                {"matchExpressions": [expr("diffkey", "In", "wrong", "value2")]}),
         None, "node1", {"foo": "bar"}, None, None),
        # "Pod with an Affinity and a PodSpec.NodeSelector ... both are satisfied, will schedule onto the node"
        ("affinity and selector", required({"matchExpressions": [expr("foo", "Exists")]}), {"foo": "bar"},
         "node1", {"foo": "bar"}, None, None),
        # "Pod with an Affinity matches node's labels but the PodSpec.NodeSelector ... is not satisfied"
        ("selector not satisfied", required({"matchExpressions": [expr("foo", "Exists")]}), {"foo": "bar"},
         "node1", {"foo": "barrrrrr"}, None, ERR_REASON_POD),
        # "Pod with an invalid value in Affinity term won't be scheduled onto the node": the value is not a
        # valid label value, so NewRequirement fails and the term matches nothing (even though NotIn would)
        ("invalid value", required({"matchExpressions": [expr("foo", "NotIn", "invalid value: ___@#$%^")]}), None,
         "node1", {"foo": "bar"}, None, ERR_REASON_POD),
        # "Pod with matchFields using In operator that matches the existing node"
        ("fields in matches", required({"matchFields": [name_in("node1")]}), None, "node1", {}, None, None),
        # "Pod with matchFields using In operator that does not match the existing node": node2 is outside the
        # PreFilterResult {node1}; in a cycle upstream reports it with the absent-nodes status
        ("fields in no match", required({"matchFields": [name_in("node1")]}), None, "node2", {}, None,
         ERR_REASON_PREFILTER),
        # "Pod with two terms: matchFields does not match, but matchExpressions matches": the second term
        # has no node-name field, so PreFilter allows all nodes; the expression term matches
        ("fields or expressions", required({"matchFields": [name_in("node1"), name_in("node2")]},
                                           {"matchExpressions": [expr("foo", "In", "bar")]}),
         None, "node2", {"foo": "bar"}, None, None),
        # "Pod with one term: matchFields does not match, but matchExpressions matches": the term ANDs both;
        # PreFilterResult {node1}, node2 is outside it
        ("fields and expressions", required({"matchFields": [name_in("node1")],
                                             "matchExpressions": [expr("foo", "In", "bar")]}),
         None, "node2", {"foo": "bar"}, None, ERR_REASON_PREFILTER),
        # "Pod with one term: both matchFields and matchExpressions match"
        ("fields and expressions match", required({"matchFields": [name_in("node1")],
                                                   "matchExpressions": [expr("foo", "In", "bar")]}),
         None, "node1", {"foo": "bar"}, None, None),
        # "Pod with two terms: both matchFields and matchExpressions do not match": no PreFilter narrowing
        # (second term has no name field), neither term matches node2
        ("neither term", required({"matchFields": [name_in("node1")]},
                                  {"matchExpressions": [expr("foo", "In", "not-match-to-bar")]}),
         None, "node2", {"foo": "bar"}, None, ERR_REASON_POD),
        # "Pod with two terms of node.Name affinity": PreFilterResult {node1, node2}, node2 matches term 2
        ("two name terms", required({"matchFields": [name_in("node1")]}, {"matchFields": [name_in("node2")]}),
         None, "node2", {}, None, None),
        # "Pod with two conflicting mach field requirements": {node1} & {node2} is empty -> PreFilter rejects
        # the pod with errReasonConflict
        ("conflict", required({"matchFields": [name_in("node1"), name_in("node2")]}), None, "node2",
         {"foo": "bar"}, None, ERR_REASON_CONFLICT),
        # "Matches added affinity and Pod's node affinity"
        ("added and pod match", required({"matchExpressions": [expr("zone", "In", "foo")]}), None, "node2",
         {"zone": "foo"}, ADDED_NAME_NODE2, None),
        # "Matches added affinity but not Pod's node affinity"
        ("added matches pod not", required({"matchExpressions": [expr("zone", "In", "bar")]}), None, "node2",
         {"zone": "foo"}, ADDED_NAME_NODE2, ERR_REASON_POD),
        # "Doesn't match added affinity"
        ("added no match", None, None, "node2", {"zone": "foo"},
         {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
             {"matchExpressions": [expr("zone", "In", "bar")]}]}}, ERR_REASON_ENFORCED),
    ],
)
def test_node_affinity_filter(name, affinity, selector, node_name, labels, added, want):
    state = make_state([node(node_name, labels=labels, cpu="1", memory="1Gi")])
    pod = make_pod(state, {"cpu": "100m"}, node_selector=selector, affinity=affinity)
    plugin = plugin_with(added)
    fits = plugin.filter(state, pod).tolist() == [True]
    assert fits == (want is None)
    if want is not None:
        assert plugin.reasons(state, pod, np.array([0])) == {want: 1}


@pytest.mark.parametrize(
    "op, bound, labels, expected",
    [
        # Requirement.Matches Gt/Lt: the node's value is parsed with strconv.ParseInt(v, 10, 64);
        # n1 "5", n2 "10", n3 "abc" (does not parse -> never matches), n4 lacks the key (never matches)
        ("Gt", "5", None, [False, True, False, False]),   # 5 > 5 no, 10 > 5 yes
        ("Lt", "10", None, [True, False, False, False]),  # 5 < 10 yes, 10 < 10 no
        ("Lt", "0010", None, [True, False, False, False]),  # "0010" parses as 10
    ],
)
def test_gt_lt_parse_node_values_as_integers(op, bound, labels, expected):
    state = make_state([
        node("n1", labels={"v": "5"}, cpu="1", memory="1Gi"),
        node("n2", labels={"v": "10"}, cpu="1", memory="1Gi"),
        node("n3", labels={"v": "abc"}, cpu="1", memory="1Gi"),
        node("n4", cpu="1", memory="1Gi"),
    ])
    pod = make_pod(state, {}, affinity=required({"matchExpressions": [expr("v", op, bound)]}))
    assert NodeAffinity().filter(state, pod).tolist() == expected


def test_missing_key_semantics():
    # Requirement.Matches: a node without the key matches NotIn and DoesNotExist, not In/Exists.
    # Here no node has the key "absent" at all (the label code array does not exist).
    state = make_state([node("n1", labels={"a": "x"}, cpu="1", memory="1Gi")])
    for op, vals, want in [("In", ("x",), False), ("NotIn", ("x",), True), ("Exists", (), False),
                           ("DoesNotExist", (), True), ("Gt", ("1",), False)]:
        pod = make_pod(state, {}, affinity=required({"matchExpressions": [expr("absent", op, *vals)]}))
        assert NodeAffinity().filter(state, pod).tolist() == [want], op


def test_invalid_term_does_not_block_other_terms():
    # LazyErrorNodeSelector: a term with a parse error is skipped, later terms are still tried.
    # Term 1: invalid label key "bad key" (space); term 2 matches n1 only.
    # API validation (and the scenario schema) refuses such a key, so the bad term is
    # built without validation, as an object that bypassed it.
    state = make_state([node("n1", labels={"a": "x"}, cpu="1", memory="1Gi"),
                        node("n2", labels={"a": "y"}, cpu="1", memory="1Gi")])
    good = required({"matchExpressions": [expr("a", "In", "x")]})
    assert good.node_affinity is not None and good.node_affinity.required is not None
    bad_term = NodeSelectorTerm.model_construct(
        match_expressions=(NodeSelectorRequirement.model_construct(key="bad key", operator="Exists", values=()),),
        match_fields=())
    terms = (bad_term, *good.node_affinity.required.node_selector_terms)
    affinity = good.model_copy(update={"node_affinity": good.node_affinity.model_copy(
        update={"required": NodeSelector.model_construct(node_selector_terms=terms)})})
    pod = make_pod(state, {}, affinity=affinity)
    assert NodeAffinity().filter(state, pod).tolist() == [True, False]


def test_match_fields_not_in_and_multiple_values():
    # matchFields NotIn excludes the named node; In with two values is a parse error
    # (nodeSelectorRequirementsAsFieldSelector: "must have one element") -> the term matches nothing.
    state = make_state([node("node1", cpu="1", memory="1Gi"), node("node2", cpu="1", memory="1Gi")])
    pod = make_pod(state, {}, affinity=required(
        {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node1"]}]}))
    assert NodeAffinity().filter(state, pod).tolist() == [False, True]
    pod = make_pod(state, {}, affinity=required({"matchFields": [name_in("node1", "node2")]}))
    assert NodeAffinity().filter(state, pod).tolist() == [False, False]


def test_reasons_split_prefilter_and_filter():
    # PreFilterResult {node1, node2} (two name terms); node3 is outside it; node2 is inside but
    # term 2 also needs zone=a, which node2 lacks -> ErrReasonPod for node2 only.
    state = make_state([node("node1", labels={"zone": "a"}, cpu="1", memory="1Gi"),
                        node("node2", labels={"zone": "b"}, cpu="1", memory="1Gi"),
                        node("node3", labels={"zone": "a"}, cpu="1", memory="1Gi")])
    pod = make_pod(state, {}, affinity=required({"matchFields": [name_in("node1")]},
                                                {"matchFields": [name_in("node2")],
                                                 "matchExpressions": [expr("zone", "In", "a")]}))
    plugin = NodeAffinity()
    mask = plugin.filter(state, pod)
    assert mask.tolist() == [True, False, False]
    assert plugin.reasons(state, pod, np.flatnonzero(~mask)) == {ERR_REASON_PREFILTER: 1, ERR_REASON_POD: 1}


def test_required_mask_cache_follows_node_table_version():
    # The Gt numeric view and the pod's mask are rebuilt when a node (with a new label value) is added.
    state = make_state([node("n1", labels={"gen": "3"}, cpu="1", memory="1Gi")])
    pod = make_pod(state, {}, affinity=required({"matchExpressions": [expr("gen", "Gt", "4")]}))
    assert required_node_affinity_mask(state, pod).tolist() == [False]
    ops.add_node(state, name="n2", allocatable=state.nodes.alloc[:, 0].copy(), labels={"gen": "7"},
                 taints=[], pool=-1, now=1.0)
    assert NodeAffinity().filter(state, pod).tolist() == [False, True]


def test_parse_go_int64():
    # strconv.ParseInt(s, 10, 64): optional sign, decimal digits only, int64 range.
    assert parse_go_int64("0204") == 204
    assert parse_go_int64("-5") == -5
    assert parse_go_int64("9223372036854775807") == 2**63 - 1
    for bad in ("9223372036854775808", "1_0", " 1", "1.0", "", "0x10"):
        assert parse_go_int64(bad) is None, bad


def test_added_affinity_parse_errors_are_config_errors():
    # ValidateNodeAffinityArgs: parse errors in addedAffinity fail plugin construction.
    with pytest.raises(ValueError, match="addedAffinity"):
        NodeAffinityArgs.model_validate({"addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [expr("foo", "In", "not a valid value!")]}]}}})


# ----------------------------------------------------------------------- Score

LABEL1 = {"foo": "bar"}
LABEL2 = {"key": "value"}
LABEL3 = {"az": "az1"}
LABEL4 = {"abc": "az11", "def": "az22"}
LABEL5 = {"foo": "bar", "key": "value", "az": "az1"}

AFFINITY1 = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 2, "preference": {"matchExpressions": [expr("foo", "In", "bar")]}}]}}
AFFINITY2 = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 2, "preference": {"matchExpressions": [expr("foo", "In", "bar")]}},
    {"weight": 4, "preference": {"matchExpressions": [expr("key", "In", "value")]}},
    {"weight": 5, "preference": {"matchExpressions": [expr("foo", "In", "bar"), expr("key", "In", "value"),
                                                      expr("az", "In", "az1")]}},
]}}


@pytest.mark.parametrize(
    "name, affinity, labels, added, expected",
    [
        # TestNodeAffinityPriority "no node matches preferred scheduling requirements in NodeAffinity of pod so
        # all nodes' priority is zero": raw [0, 0, 0], max 0 -> all 0
        ("no match", AFFINITY1, [LABEL4, LABEL2, LABEL3], None, [0, 0, 0]),
        # "only node1 matches the preferred scheduling requirements of pod": raw [2, 0, 0] -> [100, 0, 0]
        ("only node1", AFFINITY1, [LABEL1, LABEL2, LABEL3], None, [100, 0, 0]),
        # "all nodes matches the preferred scheduling requirements of pod but with different priorities":
        # node1 (label1) 2; node5 (label5) 2 + 4 + 5 = 11; node2 (label2) 4
        # -> 2*100/11 = 18, 100, 4*100/11 = 36
        ("different priorities", AFFINITY2, [LABEL1, LABEL5, LABEL2], None, [18, 100, 36]),
        # "added affinity": pod has none, addedAffinity = affinity1: raw [2, 0] -> [100, 0]
        ("added affinity", None, [LABEL1, LABEL2], AFFINITY1["nodeAffinity"], [100, 0]),
        # "added affinity and pod has default affinity": pod affinity1 (foo=bar, 2) + added (key=value, 3):
        # node1 2, node2 3, node3 (label5) 5 -> 40, 60, 100
        ("added and pod", AFFINITY1, [LABEL1, LABEL2, LABEL5],
         {"preferredDuringSchedulingIgnoredDuringExecution": [
             {"weight": 3, "preference": {"matchExpressions": [expr("key", "In", "value")]}}]}, [40, 60, 100]),
    ],
)
def test_node_affinity_priority(name, affinity, labels, added, expected):
    state = make_state([node(f"node{i}", labels=lb, cpu="1", memory="1Gi") for i, lb in enumerate(labels)])
    pod = make_pod(state, {}, affinity=Affinity.model_validate(affinity) if affinity else None)
    plugin = plugin_with(added)
    assert plugin.pre_score(state, pod)
    cand = np.arange(state.nodes.n)
    assert plugin.normalize(pod, plugin.score(state, pod, cand)).tolist() == expected


def test_prescore_skips_pod_without_preferred_terms():
    # TestNodeAffinityPriority "all nodes are same priority as NodeAffinity is nil": newest upstream
    # PreScore returns Skip when neither the pod nor addedAffinity has preferred terms.
    state = make_state([node("node1", labels=LABEL1, cpu="1", memory="1Gi")])
    pod = make_pod(state, {}, affinity=required({"matchExpressions": [expr("foo", "Exists")]}))
    assert not NodeAffinity().pre_score(state, pod)
    assert NodeAffinity().score(state, pod, np.array([0])).tolist() == [0]


def test_preferred_scores_use_candidates_only():
    # Score is indexed by candidate node indices: candidates [2, 0] of raw weights [2, 0, 11] -> [11, 2].
    state = make_state([node("a", labels=LABEL1, cpu="1", memory="1Gi"), node("b", labels=LABEL3, cpu="1", memory="1Gi"),
                        node("c", labels=LABEL5, cpu="1", memory="1Gi")])
    pod = make_pod(state, {}, affinity=Affinity.model_validate(AFFINITY2))
    assert NodeAffinity().score(state, pod, np.array([2, 0])).tolist() == [11, 2]
