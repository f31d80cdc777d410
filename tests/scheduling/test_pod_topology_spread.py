"""PodTopologySpread filter and score against cases mirrored from upstream.

Upstream: pkg/scheduler/framework/plugins/podtopologyspread/filtering_test.go
(TestSingleConstraint, TestMultipleConstraints) and scoring_test.go
(TestPodTopologySpreadScore, TestPreScoreSkip); args validation as
pkg/scheduler/apis/config/validation ValidatePodTopologySpreadArgs.

Upstream's ``fooSelector`` / ``barSelector`` are ``Exists("foo")`` / ``Exists("bar")``;
upstream pods live in one namespace here (counting only the incoming pod's namespace is
tested in tests/workloads/test_snapshot_fidelity.py). Filter expectations: OK = Success, SKEW = Unschedulable (ErrReasonConstraintsNotMatch),
MISSING = UnschedulableAndUnresolvable (ErrReasonNodeLabelNotMatch). Score weights:
log(3) = 1.0986, log(4) = 1.3863, log(5) = 1.6094, log(6) = 1.7918.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node
from pydantic import ValidationError

from k8sim.cluster import ops
from k8sim.cluster.nodes import TaintSpec
from k8sim.config.k8s_types import Affinity, TopologySpreadConstraint
from k8sim.constants import HOSTNAME_LABEL
from k8sim.scheduling.plugins.pod_topology_spread import (
    INVALID_SCORE,
    REASON_CONSTRAINTS,
    REASON_MISSING_LABEL,
    PodTopologySpread,
    PodTopologySpreadArgs,
)

FOO = {"matchExpressions": [{"key": "foo", "operator": "Exists"}]}
BAR = {"matchExpressions": [{"key": "bar", "operator": "Exists"}]}
# upstream `taints`: the cordon taint, untolerated by the test pods
UNSCHEDULABLE_TAINT = TaintSpec("node.kubernetes.io/unschedulable", "", "NoSchedule")
OK, SKEW, MISSING = "ok", "skew", "missing"
H = HOSTNAME_LABEL


def tsc(max_skew: int, key: str, when: str, selector: dict | None = FOO, **extra) -> TopologySpreadConstraint:
    raw = {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when, **extra}
    if selector is not None:
        raw["labelSelector"] = selector
    return TopologySpreadConstraint.model_validate(raw)


def hard(max_skew: int, key: str, selector: dict | None = FOO, **extra) -> TopologySpreadConstraint:
    return tsc(max_skew, key, "DoNotSchedule", selector, **extra)


def soft(max_skew: int, key: str, selector: dict | None = FOO, **extra) -> TopologySpreadConstraint:
    return tsc(max_skew, key, "ScheduleAnyway", selector, **extra)


def zn(name: str, zone: str | None, **labels: str):
    """Upstream's st.MakeNode().Name(name).Label("zone", zone).Label("node", name)."""
    lab = {"node": name, **labels}
    if zone is not None:
        lab["zone"] = zone
    return node(name, labels=lab)


def hn(name: str, **labels: str):
    """A node labelled kubernetes.io/hostname=name (upstream v1.LabelHostname)."""
    return node(name, labels={H: name, **labels})


def on(spread: dict[str, int], labels: dict[str, str] | None = None) -> list[tuple]:
    """Existing pods: ``{"node-a": 2}`` = two pods with ``labels`` (default foo="") on node-a."""
    lab = {"foo": ""} if labels is None else labels
    return [(n, {}, dict(lab)) for n, k in spread.items() for _ in range(k)]


def affinity_in(key: str, values: list[str]) -> Affinity:
    return Affinity.model_validate({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": key, "operator": "In", "values": values}]}]}}})


def affinity_not_in(key: str, values: list[str]) -> Affinity:
    return Affinity.model_validate({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": key, "operator": "NotIn", "values": values}]}]}}})


FOUR = [zn("node-a", "zone1"), zn("node-b", "zone1"), zn("node-x", "zone2"), zn("node-y", "zone2")]
FOO_POD = {"foo": ""}


# ----------------------------------------------------------------------- Filter


@pytest.mark.parametrize(
    "name, nodes, existing, pod_labels, pod_extra, spread, want",
    [
        (
            # TestSingleConstraint "pods spread across zones as 3/3, all nodes fit"
            # zone1 = 2+1 = 3, zone2 = 3, min 3: every node 3 + 1 - 3 = 1 <= 1
            "zones 3/3", FOUR, on({"node-a": 2, "node-b": 1, "node-y": 3}), FOO_POD, {},
            (hard(1, "zone"),), {"node-a": OK, "node-b": OK, "node-x": OK, "node-y": OK},
        ),
        (
            # TestSingleConstraint "pods spread across zones as 1/2 due to absence of label
            # 'zone' on node-b": node-b (label "zon") takes no part, so its pod is not counted:
            # zone1 = 1 (node-a), zone2 = 2, min 1. node-a 1+1-1 = 1 fits; node-x/y 2+1-1 = 2 > 1;
            # node-b lacks the key -> missing required label.
            "zone label missing on node-b",
            [zn("node-a", "zone1"), zn("node-b", None, zon="zone1"), zn("node-x", "zone2"), zn("node-y", "zone2")],
            on({"node-a": 1, "node-b": 1, "node-x": 1, "node-y": 1}), FOO_POD, {},
            (hard(1, "zone"),), {"node-a": OK, "node-b": MISSING, "node-x": SKEW, "node-y": SKEW},
        ),
        (
            # TestSingleConstraint "pod cannot be scheduled as all nodes don't have label 'rack'"
            "no node has the key", [zn("node-a", "zone1"), zn("node-x", "zone2")], [], FOO_POD, {},
            (hard(1, "rack"),), {"node-a": MISSING, "node-x": MISSING},
        ),
        (
            # TestSingleConstraint "pods spread across nodes as 2/1/0/3, only node-x fits"
            # min 0: a 2+1 = 3 > 1, b 1+1 = 2 > 1, x 0+1 = 1, y 3+1 = 4 > 1
            "nodes 2/1/0/3", FOUR, on({"node-a": 2, "node-b": 1, "node-y": 3}), FOO_POD, {},
            (hard(1, "node"),), {"node-a": SKEW, "node-b": SKEW, "node-x": OK, "node-y": SKEW},
        ),
        (
            # TestSingleConstraint "pods spread across nodes as 2/1/0/3, but pod doesn't match
            # itself": selfMatch 0, min 0: a 2 > 1, b 1, x 0, y 3 > 1
            "nodes 2/1/0/3, no self match", FOUR, on({"node-a": 2, "node-b": 1, "node-y": 3}), {"bar": ""}, {},
            (hard(1, "node"),), {"node-a": SKEW, "node-b": OK, "node-x": OK, "node-y": SKEW},
        ),
        (
            # TestSingleConstraint "existing pods do not match null selector": nothing is counted
            # and the pod does not match itself: skew 0 everywhere
            "null selector", FOUR, on({"node-x": 1, "node-y": 1}), FOO_POD, {},
            (hard(1, "zone", selector=None),), {"node-a": OK, "node-b": OK, "node-x": OK, "node-y": OK},
        ),
        (
            # TestSingleConstraint "incoming pod has nodeAffinity, pods spread as 2/~1~/~0~/3,
            # hence node-a fits": only node-a (2) and node-y (3) are domains, min 2:
            # a 2+1-2 = 1 fits, y 3+1-2 = 2 > 1; b and x are no domain: 0+1-2 = -1 fits
            # (NodeAffinity itself would reject them; it is not run here, as upstream)
            "node affinity 2/~1~/~0~/3", FOUR, on({"node-a": 2, "node-b": 1, "node-y": 3}), FOO_POD,
            {"affinity": affinity_in("node", ["node-a", "node-y"])},
            (hard(1, "node"),), {"node-a": OK, "node-b": OK, "node-x": OK, "node-y": SKEW},
        ),
        (
            # TestSingleConstraint "incoming pod has nodeAffinity, pods spread as 0/~2~/0/1,
            # hence node-a fits": node-b excluded, zone1 = 0 (node-a), zone2 = 1, min 0:
            # zone1 nodes 0+1 = 1 fit, zone2 nodes 1+1 = 2 > 1
            "node affinity NotIn 0/~2~/0/1", FOUR, on({"node-b": 2, "node-y": 1}), FOO_POD,
            {"affinity": affinity_not_in("node", ["node-b"])},
            (hard(1, "zone"),), {"node-a": OK, "node-b": OK, "node-x": SKEW, "node-y": SKEW},
        ),
        (
            # TestSingleConstraint "pods spread across nodes as 2/2/1, maxSkew is 2, and the number
            # of domains < minDomains, then the third node fits": 3 domains < 4, so min = 0:
            # a, b 2+1-0 = 3 > 2; c 1+1-0 = 2
            "minDomains 4 > 3 domains", [node(n, labels={"node": n}) for n in ("node-a", "node-b", "node-c")],
            on({"node-a": 2, "node-b": 2, "node-c": 1}), FOO_POD, {},
            (hard(2, "node", minDomains=4),), {"node-a": SKEW, "node-b": SKEW, "node-c": OK},
        ),
        (
            # TestSingleConstraint "pods spread across nodes as 2/2/1, maxSkew is 2, and the number
            # of domains > minDomains, then the all nodes fit": min = 1: a, b 2+1-1 = 2, c 1
            "minDomains 2 < 3 domains", [node(n, labels={"node": n}) for n in ("node-a", "node-b", "node-c")],
            on({"node-a": 2, "node-b": 2, "node-c": 1}), FOO_POD, {},
            (hard(2, "node", minDomains=2),), {"node-a": OK, "node-b": OK, "node-c": OK},
        ),
        (
            # TestSingleConstraint "NodeTaintsPolicy honored": node-y (tainted, untolerated) is
            # no domain: a 1, b 1, x 0, min 0. a, b 1+1 = 2 > 1; x 1; y (no domain) 0+1 = 1
            "nodeTaintsPolicy Honor",
            [zn("node-a", None, foo=""), zn("node-b", None, foo=""), zn("node-x", None, foo=""),
             node("node-y", labels={"node": "node-y"}, taints=[UNSCHEDULABLE_TAINT])],
            on({"node-a": 1, "node-b": 1, "node-y": 1}), FOO_POD, {},
            (hard(1, "node", nodeTaintsPolicy="Honor"),),
            {"node-a": SKEW, "node-b": SKEW, "node-x": OK, "node-y": OK},
        ),
        (
            # TestMultipleConstraints "two Constraints on zone and node, spreads = [3/3, 2/1/0/3]":
            # zone: every node fits (3+1-3 = 1); node: only node-x (as "nodes 2/1/0/3")
            "zone and node [3/3, 2/1/0/3]", FOUR, on({"node-a": 2, "node-b": 1, "node-y": 3}), FOO_POD, {},
            (hard(1, "zone"), hard(1, "node")), {"node-a": SKEW, "node-b": SKEW, "node-x": OK, "node-y": SKEW},
        ),
        (
            # TestMultipleConstraints "two Constraints on zone and node, absence of label 'node' on
            # node-x, spreads = [1/1, 1/0/0/1]": node-x lacks "node" so it takes part in neither
            # count. zone: 1/1, min 1, all fit. node: a 1, b 0, y 1, min 0 -> a, y 2 > 1; b fits.
            # node-x passes the zone constraint, then misses the "node" label.
            "zone and node, node-x without 'node'",
            [zn("node-a", "zone1"), zn("node-b", "zone1"), node("node-x", labels={"zone": "zone2"}),
             zn("node-y", "zone2")],
            on({"node-a": 1, "node-y": 1}), FOO_POD, {},
            (hard(1, "zone"), hard(1, "node")), {"node-a": SKEW, "node-b": OK, "node-x": MISSING, "node-y": SKEW},
        ),
        (
            # TestMultipleConstraints "two node inclusion Constraints, zone: honor/ignore, node:
            # ignore/ignore": nodeSelector foo="" excludes node-y from the zone count only:
            # zone1 = 2, zone2 = 0 (node-x), min 0 -> zone1 nodes 3 > 1, zone2 nodes 1.
            # node (affinity ignored): 1/1/0/1, min 0 -> node-y 2 > 1. Only node-x passes both.
            "inclusion policies per constraint",
            [zn("node-a", "zone1", foo=""), zn("node-b", "zone1", foo=""), zn("node-x", "zone2", foo=""),
             zn("node-y", "zone2")],
            on({"node-a": 1, "node-b": 1, "node-y": 1}), FOO_POD, {"node_selector": {"foo": ""}},
            (hard(1, "zone"), hard(1, "node", nodeAffinityPolicy="Ignore")),
            {"node-a": SKEW, "node-b": SKEW, "node-x": OK, "node-y": SKEW},
        ),
    ],
)
def test_filter(name, nodes, existing, pod_labels, pod_extra, spread, want):
    state = make_state(nodes, pods=existing)
    pod = make_pod(state, {}, labels=pod_labels, spread=spread, **pod_extra)
    plugin = PodTopologySpread()
    fits = plugin.filter(state, pod)
    names = state.nodes.names
    assert {n: bool(f) for n, f in zip(names, fits, strict=True)} == {n: want[n] == OK for n in names}
    rejected = np.flatnonzero(~fits)
    expected_reasons = {}
    for code, reason in ((MISSING, REASON_MISSING_LABEL), (SKEW, REASON_CONSTRAINTS)):
        c = sum(v == code for v in want.values())
        if c:
            expected_reasons[reason] = c
    assert plugin.reasons(state, pod, rejected) == expected_reasons


def test_filter_without_hard_constraints_passes_everything():
    # upstream PreFilter returns Skip when there is no DoNotSchedule constraint
    # ("soft spreadConstraints should be bypassed"): a ScheduleAnyway constraint that would
    # be violated (2/1/0/3 on "node") does not filter.
    state = make_state(FOUR, pods=on({"node-a": 2, "node-b": 1, "node-y": 3}))
    pod = make_pod(state, {}, labels=FOO_POD, spread=(soft(1, "node"),))
    assert PodTopologySpread().filter(state, pod).all()


def test_filter_follows_binds():
    # Counts are read from the live shape counts: after one more matching pod lands on
    # node-x, "nodes 2/1/0/3" becomes 2/1/1/3 (min 1) and node-b (1+1-1 = 1) fits too.
    state = make_state(FOUR, pods=on({"node-a": 2, "node-b": 1, "node-y": 3}))
    pod = make_pod(state, {}, labels=FOO_POD, spread=(hard(1, "node"),))
    plugin = PodTopologySpread()
    assert plugin.filter(state, pod).tolist() == [False, False, True, False]
    # a matching pod of a shape registered after the first call (extends the shape cache)
    late = make_pod(state, {}, labels={"foo": "late"})
    row = state.pods.append(name="late", requests=late.requests, workload=-1, index=99, shape=late.shape,
                            priority=0, created=0.0, duration=np.inf, start_latency=0.0)
    ops.bind(state, row, state.nodes.name_index["node-x"], 0.0)
    ops.check_invariants(state)
    assert plugin.filter(state, pod).tolist() == [False, True, True, False]


def test_default_constraint_uses_pod_labels_as_selector():
    # k8sim-specific (upstream buildDefaultConstraints with the owner's selector): a List
    # default DoNotSchedule constraint on "node" with selector app=web (the pod's labels).
    # web pods 1/0 (+ an unrelated app=db pod on node-b): min 0, a 1+1 = 2 > 1, b 1 fits.
    args = PodTopologySpreadArgs.model_validate({"defaultingType": "List", "defaultConstraints": [
        {"maxSkew": 1, "topologyKey": "node", "whenUnsatisfiable": "DoNotSchedule"}]})
    nodes = [node("node-a", labels={"node": "node-a"}), node("node-b", labels={"node": "node-b"})]
    state = make_state(nodes, pods=on({"node-a": 1}, {"app": "web"}) + on({"node-b": 1}, {"app": "db"}))
    plugin = PodTopologySpread(args)
    web = make_pod(state, {}, labels={"app": "web"})
    assert plugin.filter(state, web).tolist() == [False, True]
    # a pod with no labels has an empty owner selector: no default constraints
    assert plugin.filter(state, make_pod(state, {})).all()
    # a pod with its own constraints does not get the defaults (the ScheduleAnyway one here
    # leaves Filter with nothing to check)
    own = make_pod(state, {}, labels={"app": "web"}, spread=(soft(1, "node"),))
    assert plugin.filter(state, own).all()


# ----------------------------------------------------------------------- Score


@pytest.mark.parametrize(
    "name, nodes, failed, existing, pod_labels, pod_extra, spread, args, raw, want",
    [
        (
            # TestPodTopologySpreadScore "one constraint on node, all 4 nodes are candidates":
            # 2/1/0/3, weight log(4+2) = 1.7918: a 3.58->4, b 1.79->2, c 0, d 5.38->5.
            # max 5, min 0: a 100*(5-4)/5 = 20, b 100*3/5 = 60, c 100, d 0
            "hostname 2/1/0/3", [hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")], [],
            on({"node-a": 2, "node-b": 1, "node-d": 3}), FOO_POD, {}, (soft(1, H),), None,
            [4, 2, 0, 5], [20, 60, 100, 0],
        ),
        (
            # "one constraint on node, all 4 nodes are candidates, maxSkew=2": +1 each:
            # a 4.58->5, b 2.79->3, c 1, d 6.38->6. max 6, min 1: a 100*2/6 = 33,
            # b 100*4/6 = 66, c 100*6/6 = 100, d 100*1/6 = 16
            "hostname 2/1/0/3 maxSkew=2", [hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")], [],
            on({"node-a": 2, "node-b": 1, "node-d": 3}), FOO_POD, {}, (soft(2, H),), None,
            [5, 3, 1, 6], [33, 66, 100, 16],
        ),
        (
            # "one constraint on node, all 4 nodes are candidates, maxSkew=3": 4/3/2/1, +2:
            # a 7.17+2 = 9.17->9, b 5.38+2 -> 7, c 3.58+2 -> 6, d 1.79+2 -> 4. max 9, min 4:
            # a 100*4/9 = 44, b 100*6/9 = 66, c 100*7/9 = 77, d 100
            "hostname 4/3/2/1 maxSkew=3", [hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")], [],
            on({"node-a": 4, "node-b": 3, "node-c": 2, "node-d": 1}), FOO_POD, {}, (soft(3, H),), None,
            [9, 7, 6, 4], [44, 66, 77, 100],
        ),
        (
            # "system defaulting, nodes don't have zone, pods match service": the system
            # constraints (hostname maxSkew 3, zone maxSkew 5) with the pod's labels foo=""
            # as selector; no node has a zone, which contributes nothing (and, not being
            # requireAllTopologies, ignores no node): same numbers as the case above
            "system defaulting, no zones", [hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")], [],
            on({"node-a": 4, "node-b": 3, "node-c": 2, "node-d": 1}), FOO_POD, {}, (),
            {"defaultingType": "System"}, [9, 7, 6, 4], [44, 66, 77, 100],
        ),
        (
            # "one constraint on node, 3 out of 4 nodes are candidates": 4/2/1/~3~, weight
            # log(3+2) = 1.6094: a 6.44->6, b 3.22->3, x 1.61->2. max 6, min 2:
            # a 100*(8-6)/6 = 33, b 100*5/6 = 83, x 100
            "hostname 4/2/1/~3~", [hn("node-a"), hn("node-b"), hn("node-x")], [hn("node-y")],
            on({"node-a": 4, "node-b": 2, "node-x": 1, "node-y": 3}), FOO_POD, {}, (soft(1, H),), None,
            [6, 3, 2], [33, 83, 100],
        ),
        (
            # "one constraint on node, 3 out of 4 nodes are candidates, one node doesn't match
            # topology key": node-b is ignored; weight log(3-1+2) = 1.3863: a 5.55->6, x 1.39->1.
            # max 6, min 1: a 100*(7-6)/6 = 16, x 100, node-b 0
            "hostname 4/?2?/1/~3~", [hn("node-a"), node("node-b", labels={"n": "node-b"}), hn("node-x")],
            [hn("node-y")], on({"node-a": 4, "node-b": 2, "node-x": 1, "node-y": 3}), FOO_POD, {},
            (soft(1, H),), None, [6, INVALID_SCORE, 1], [16, 0, 100],
        ),
        (
            # "one constraint on zone, 3 out of 4 nodes are candidates": zone domains seeded
            # by the candidates: 2 -> log(4) = 1.3863; counts over all nodes: zone1 4+2 = 6,
            # zone2 1+3 = 4 (node-y is no candidate but counts). a, b 8.32->8, x 5.55->6.
            # max 8, min 6: a, b 100*(14-8)/8 = 75, x 100
            "zone 4/2/1/~3~",
            [node("node-a", labels={"zone": "zone1", H: "node-a"}), node("node-b", labels={"zone": "zone1", H: "node-b"}),
             node("node-x", labels={"zone": "zone2", H: "node-x"})],
            [node("node-y", labels={"zone": "zone2", H: "node-y"})],
            on({"node-a": 4, "node-b": 2, "node-x": 1, "node-y": 3}), FOO_POD, {}, (soft(1, "zone"),), None,
            [8, 8, 6], [75, 75, 100],
        ),
        (
            # "two Constraints on zone and node, 2 out of 4 nodes are candidates": 2/~1~/2/~4~,
            # zone weight log(2+2), hostname weight log(2+2) = 1.3863.
            # a: zone1 3*1.3863 + 2*1.3863 = 6.93->7; x: zone2 6*1.3863 + 2*1.3863 = 11.09->11.
            # max 11, min 7: a 100*(18-7)/11 = 100, x 100*(18-11)/11 = 63
            "zone and hostname 2/~1~/2/~4~",
            [node("node-a", labels={"zone": "zone1", H: "node-a"}), node("node-x", labels={"zone": "zone2", H: "node-x"})],
            [node("node-b", labels={"zone": "zone1", H: "node-b"}), node("node-y", labels={"zone": "zone2", H: "node-y"})],
            on({"node-a": 2, "node-b": 1, "node-x": 2, "node-y": 4}), FOO_POD, {},
            (soft(1, "zone"), soft(1, H)), None, [7, 11], [100, 63],
        ),
        (
            # "two Constraints on zone and node, with different labelSelectors": zone/foo
            # counts zone1 = 2, zone2 = 1 (weight log(4)); hostname/bar counts 0/1/0/1
            # (weight log(6)). a 2.77->3, b 2.77+1.79 = 4.56->5, x 1.39->1, y 1.39+1.79 =
            # 3.18->3. max 5, min 1: a 100*(6-3)/5 = 60, b 20, x 100, y 60
            "different labelSelectors",
            [node("node-a", labels={"zone": "zone1", H: "node-a"}), node("node-b", labels={"zone": "zone1", H: "node-b"}),
             node("node-x", labels={"zone": "zone2", H: "node-x"}), node("node-y", labels={"zone": "zone2", H: "node-y"})],
            [], on({"node-a": 1}) + on({"node-b": 1}, {"foo": "", "bar": ""}) + on({"node-y": 1})
            + on({"node-y": 1}, {"bar": ""}), {"foo": "", "bar": ""}, {},
            (soft(1, "zone"), soft(1, H, BAR)), None, [3, 5, 1, 3], [60, 20, 100, 60],
        ),
        (
            # "NodeTaintsPolicy honored": node-c (untolerated taint) is not counted; "node" is
            # not the hostname key, 3 domains -> log(5) = 1.6094: a 3.22->3, b 1.61->2, c 0.
            # max 3, min 0: a 0, b 100*(3-2)/3 = 33, c 100
            "nodeTaintsPolicy Honor",
            [node("node-a", labels={"node": "node-a"}), node("node-b", labels={"node": "node-b"}),
             node("node-c", labels={"node": "node-c"}, taints=[UNSCHEDULABLE_TAINT])],
            [], on({"node-a": 2, "node-b": 1, "node-c": 1}), FOO_POD, {},
            (soft(1, "node", nodeTaintsPolicy="Honor"),), None, [3, 2, 0], [0, 33, 100],
        ),
        (
            # "NodeAffinityPolicy honoed with nodeAffinity": node-c fails foo In [""] and is not
            # counted; same arithmetic as above
            "nodeAffinityPolicy Honor",
            [node("node-a", labels={"node": "node-a", "foo": ""}), node("node-b", labels={"node": "node-b", "foo": ""}),
             node("node-c", labels={"node": "node-c"})],
            [], on({"node-a": 2, "node-b": 1, "node-c": 1}), FOO_POD, {"affinity": affinity_in("foo", [""])},
            (soft(1, "node"),), None, [3, 2, 0], [0, 33, 100],
        ),
        (
            # "matchLabelKeys ANDed with LabelSelector when LabelSelector is empty": {} +
            # foo -> foo in (""), {} + bar -> bar in (""); counts as "different labelSelectors"
            # with nodes a, b (zone1) c, d (zone2): a 3, b 5, c 3, d 1 -> 60, 20, 60, 100
            "matchLabelKeys, empty selector",
            [node("node-a", labels={"zone": "zone1", H: "node-a"}), node("node-b", labels={"zone": "zone1", H: "node-b"}),
             node("node-c", labels={"zone": "zone2", H: "node-c"}), node("node-d", labels={"zone": "zone2", H: "node-d"})],
            [], on({"node-a": 1}) + on({"node-b": 1}, {"foo": "", "bar": ""}) + on({"node-c": 1})
            + on({"node-c": 1}, {"bar": ""}), {"foo": "", "bar": ""}, {},
            (soft(1, "zone", {}, matchLabelKeys=["foo"]), soft(1, H, {}, matchLabelKeys=["bar"])), None,
            [3, 5, 3, 1], [60, 20, 60, 100],
        ),
        (
            # "one constraint on node, all nodes have the same number of matching pods":
            # 1/1, log(4) = 1.3863 -> 1 each; max = min = 1: 100*(1+1-1)/1 = 100
            "hostname 1/1", [hn("node-a"), hn("node-b")], [], on({"node-a": 1, "node-b": 1}), FOO_POD, {},
            (soft(1, H),), None, [1, 1], [100, 100],
        ),
        (
            # "one constraint on node, null selector": nothing matches, raw 0 everywhere;
            # max 0 -> every node 100
            "hostname, null selector", [hn("node-a"), hn("node-b"), hn("node-c"), hn("node-d")], [],
            on({"node-a": 2, "node-b": 1, "node-d": 3}), FOO_POD, {}, (soft(1, H, None),), None,
            [0, 0, 0, 0], [100, 100, 100, 100],
        ),
    ],
)
def test_score(name, nodes, failed, existing, pod_labels, pod_extra, spread, args, raw, want):
    state = make_state(nodes + failed, pods=existing)
    pod = make_pod(state, {}, labels=pod_labels, spread=spread, **pod_extra)
    plugin = PodTopologySpread(PodTopologySpreadArgs.model_validate(args) if args else None)
    candidates = np.arange(len(nodes))
    assert plugin.pre_score(state, pod)
    got_raw = plugin.score(state, pod, candidates)
    assert got_raw.tolist() == raw
    assert plugin.normalize(pod, got_raw).tolist() == want


@pytest.mark.parametrize(
    "name, pod_labels, spread, args",
    [
        # TestPreScoreSkip "the pod doesn't have soft topology spread Constraints"
        ("no constraints", {}, (), {"defaultingType": "List"}),
        # a pod with only DoNotSchedule constraints has no soft ones either
        ("hard only", FOO_POD, (hard(1, H),), {}),
        # upstream skips an unowned pod under System defaulting (empty DefaultSelector); in
        # k8sim the owner selector is the pod's labels, so a pod without labels is skipped
        ("system defaulting, unlabelled pod", {}, (), {"defaultingType": "System"}),
    ],
)
def test_pre_score_skip(name, pod_labels, spread, args):
    state = make_state([hn("node-a"), hn("node-b")])
    pod = make_pod(state, {}, labels=pod_labels, spread=spread)
    assert not PodTopologySpread(PodTopologySpreadArgs.model_validate(args)).pre_score(state, pod)


def test_k8sim_default_is_list_without_constraints():
    # Upstream's default is System; k8sim's is List with no defaults (module docstring).
    args = PodTopologySpreadArgs()
    assert args.defaulting_type == "List" and args.default_constraints == ()


@pytest.mark.parametrize(
    "raw",
    [
        # System defaulting with defaultConstraints
        {"defaultingType": "System", "defaultConstraints": [
            {"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]},
        # a default constraint must not define a selector
        {"defaultConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway",
                                 "labelSelector": {"matchLabels": {"a": "b"}}}]},
        # duplicate {topologyKey, whenUnsatisfiable}
        {"defaultConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"},
                                {"maxSkew": 2, "topologyKey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}]},
        # unknown defaulting type
        {"defaultingType": "Sometimes"},
    ],
)
def test_args_validation(raw):
    with pytest.raises(ValidationError):
        PodTopologySpreadArgs.model_validate(raw)
