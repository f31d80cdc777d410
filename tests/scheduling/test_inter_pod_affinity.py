"""InterPodAffinity filter and score against cases mirrored from upstream.

Upstream: pkg/scheduler/framework/plugins/interpodaffinity/filtering_test.go
(TestRequiredAffinitySingleNode, TestRequiredAffinityMultipleNodes) and scoring_test.go
(TestPreferredAffinity, TestPreferredAffinityWithHardPodAffinitySymmetricWeight), all in
one namespace; namespaces and namespaceSelector are tested in test_namespaces.py and
tests/workloads/test_snapshot_fidelity.py.
Every pod here is built through the real ops (registered shape, then bound).
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.cluster import ops
from k8sim.config.k8s_types import Affinity
from k8sim.scheduling.plugins.inter_pod_affinity import (
    REASON_AFFINITY,
    REASON_ANTI_AFFINITY,
    REASON_EXISTING_ANTI_AFFINITY,
    InterPodAffinity,
    InterPodAffinityArgs,
)

AFF, ANTI, EXIST = REASON_AFFINITY, REASON_ANTI_AFFINITY, REASON_EXISTING_ANTI_AFFINITY


# -- builders ---------------------------------------------------------------------------


def term(topo: str, *exprs: tuple) -> dict:
    """A PodAffinityTerm: ``term("zone", ("foo", "In", ["bar"]), ("x", "Exists"))``."""
    out = []
    for e in exprs:
        d = {"key": e[0], "operator": e[1]}
        if len(e) > 2:
            d["values"] = e[2]
        out.append(d)
    return {"labelSelector": {"matchExpressions": out}, "topologyKey": topo}


def affinity(req=(), anti=(), pref=(), pref_anti=()) -> Affinity:
    """Pod (anti-)affinity; ``pref`` / ``pref_anti`` are ``(weight, term)`` pairs."""
    d: dict = {}
    if req or pref:
        d["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": list(req),
            "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": w, "podAffinityTerm": t} for w, t in pref],
        }
    if anti or pref_anti:
        d["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": list(anti),
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in pref_anti
            ],
        }
    return Affinity.model_validate(d)


def bind_pod(state, node_name: str, labels: dict | None = None, aff: Affinity | None = None) -> None:
    """An existing pod with its own labels and affinity, bound through the real ops."""
    info = make_pod(state, {}, labels=labels or {}, affinity=aff)
    i = state.pods.n
    p = state.pods.append(name=f"existing-{i}", requests=info.requests, workload=-1, index=i, shape=info.shape,
                          priority=0, created=0.0, duration=np.inf, start_latency=0.0)
    ops.bind(state, p, state.nodes.name_index[node_name], 0.0)


def build(nodes: list[tuple[str, dict]], pods=()):
    """``nodes``: (name, labels); ``pods``: (node, labels) or (node, labels, affinity)."""
    state = make_state([node(n, labels=lb, cpu="4", memory="8Gi") for n, lb in nodes])
    for p in pods:
        bind_pod(state, p[0], p[1], p[2] if len(p) > 2 else None)
    ops.check_invariants(state)
    return state


def verdicts(plugin, state, pod) -> list:
    """Per node: True (passes) or the upstream reason it fails with."""
    ok = plugin.filter(state, pod)
    out: list = []
    for i in range(state.nodes.n):
        if ok[i]:
            out.append(True)
        else:
            (reason,) = plugin.reasons(state, pod, np.array([i])).keys()
            out.append(reason)
    return out


# -- Filter -----------------------------------------------------------------------------

NODE1 = [("node1", {"region": "r1", "zone": "z11"})]
SVC = {"service": "securityscan"}  # upstream podLabel
SEC = {"security": "S1"}  # upstream podLabel2
SVC_IN_REGION = term("region", ("service", "In", ["securityscan", "value2"]))

CHINA, CHINA_AZ1, INDIA = {"region": "China"}, {"region": "China", "az": "az1"}, {"region": "India"}
R1Z1 = {"region": "r1", "zone": "z1"}
R1Z2 = {"region": "r1", "zone": "z2"}


@pytest.mark.parametrize(
    "name, nodes, pods, labels, aff, expected",
    [
        # TestRequiredAffinitySingleNode "A pod that has no required pod affinity scheduling rules can
        # schedule onto a node with no existing pods": nothing to check.
        ("no rules, no pods", NODE1, [], {}, None, [True]),
        # "satisfies with requiredDuringSchedulingIgnoredDuringExecution in PodAffinity using In operator
        # that matches the existing pod": the pod on node1 has service=securityscan, in region r1.
        ("affinity In matches", NODE1, [("node1", SVC)], SEC, affinity(req=[SVC_IN_REGION]), [True]),
        # "satisfies the pod with ... PodAffinity using not in operator in labelSelector that matches the
        # existing pod": securityscan is not in {securityscan3, value3}.
        ("affinity NotIn matches", NODE1, [("node1", SVC)], SEC,
         affinity(req=[term("region", ("service", "NotIn", ["securityscan3", "value3"]))]), [True]),
        # "Doesn't satisfy the PodAffinity because of unmatching labelSelector with the existing pod"
        # (upstream's topologyKey is "", which k8sim's validation rejects; "region" fails the same way):
        # no pod matches antivirusscan, and the incoming pod (service=securityscan) does not match its
        # own term either, so the "first pod of a group" exception does not apply.
        ("affinity selector mismatch", NODE1, [("node1", SVC)], SVC,
         affinity(req=[term("region", ("service", "In", ["antivirusscan", "value2"]))]), [AFF]),
        # "satisfies the PodAffinity with different label Operators in multiple
        # RequiredDuringSchedulingIgnoredDuringExecution": the existing pod matches both terms.
        ("two terms both match", NODE1, [("node1", SVC)], SEC,
         affinity(req=[term("region", ("service", "Exists"), ("wrongkey", "DoesNotExist")),
                       term("region", ("service", "In", ["securityscan"]), ("service", "NotIn", ["WrongValue"]))]),
         [True]),
        # "The labelSelector requirements(items of matchExpressions) are ANDed, the pod cannot schedule
        # onto the node because one of the matchExpression item don't match": the existing pod fails the
        # second term (securityscan2), so no pod matches all terms; the incoming pod (security=S1, no
        # service label) does not match its own first term -> no first-pod exception.
        ("ANDed requirements", NODE1, [("node1", SVC)], SEC,
         affinity(req=[term("region", ("service", "Exists"), ("wrongkey", "DoesNotExist")),
                       term("region", ("service", "In", ["securityscan2"]), ("service", "NotIn", ["WrongValue"]))]),
         [AFF]),
        # "satisfies the PodAffinity and PodAntiAffinity and PodAntiAffinity symmetry with the existing
        # pod": the existing pod's anti-affinity wants service in {antivirusscan, value2}; the incoming
        # pod has no service label. Its own anti term's key "node" is not on node1.
        ("affinity + anti + symmetry ok", NODE1,
         [("node1", SVC, affinity(anti=[term("node", ("service", "In", ["antivirusscan", "value2"]))]))], SEC,
         affinity(req=[SVC_IN_REGION], anti=[term("node", ("service", "In", ["antivirusscan", "value2"]))]),
         [True]),
        # "satisfies the PodAffinity but doesn't satisfy the PodAntiAffinity with the existing pod":
        # the anti term (zone) selects the existing pod in zone z11.
        ("anti-affinity violated", NODE1, [("node1", SVC)], SEC,
         affinity(req=[SVC_IN_REGION], anti=[term("zone", ("service", "In", ["securityscan", "value2"]))]),
         [ANTI]),
        # "satisfies the PodAffinity and PodAntiAffinity but doesn't satisfy PodAntiAffinity symmetry with
        # the existing pod": the existing pod's required anti-affinity (zone) selects the incoming pod.
        ("existing anti-affinity", NODE1,
         [("node1", SVC, affinity(anti=[term("zone", ("service", "In", ["securityscan", "value2"]))]))], SVC,
         affinity(req=[SVC_IN_REGION], anti=[term("node", ("service", "In", ["antivirusscan", "value2"]))]),
         [EXIST]),
        # "pod matches its own Label in PodAffinity and that matches the existing pod Labels": NotIn
        # {securityscan, value2} matches neither the existing pod (on node2, which has no region) nor the
        # incoming pod itself -> fails.
        ("NotIn matches nobody", NODE1 + [("node2", {})], [("node2", SVC)], SVC,
         affinity(req=[term("region", ("service", "NotIn", ["securityscan", "value2"]))]), [AFF, AFF]),
        # "verify that PodAntiAffinity from existing pod is respected when pod has no AntiAffinity
        # constraints. doesn't satisfy PodAntiAffinity symmetry with the existing pod"
        ("existing anti, incoming has none", NODE1,
         [("node1", SVC, affinity(anti=[term("zone", ("service", "In", ["securityscan", "value2"]))]))], SVC,
         None, [EXIST]),
        # "... satisfy PodAntiAffinity symmetry with the existing pod": NotIn does not select it.
        ("existing anti NotIn", NODE1,
         [("node1", SVC, affinity(anti=[term("zone", ("service", "NotIn", ["securityscan", "value2"]))]))], SVC,
         None, [True]),
        # "PodAntiAffinity symmetry check a1: incoming pod and existing pod partially match each other on
        # AffinityTerms": the incoming pod's "security Exists" anti term selects the existing pod
        # (incoming anti-affinity is checked before the existing pods').
        ("symmetry a1", NODE1, [("node1", SEC, affinity(anti=[term("zone", ("security", "Exists"))]))], SVC,
         affinity(anti=[term("zone", ("service", "Exists")), term("zone", ("security", "Exists"))]), [ANTI]),
        # "PodAntiAffinity symmetry check a2": the existing pod's "security Exists" term selects the
        # incoming pod (security=S1); the incoming pod's term does not select the existing one.
        ("symmetry a2", NODE1,
         [("node1", SVC, affinity(anti=[term("zone", ("service", "Exists")), term("zone", ("security", "Exists"))]))],
         SEC, affinity(anti=[term("zone", ("security", "Exists"))]), [EXIST]),
        # "PodAntiAffinity symmetry check b1: incoming pod and existing pod partially match each other on
        # AffinityTerms": the incoming pod's "def Exists" term selects the existing pod AND the existing
        # pod's "abc Exists" term selects the incoming pod; Filter reports the incoming anti-affinity first.
        ("symmetry b1", NODE1,
         [("node1", {"def": "", "xyz": ""}, affinity(anti=[term("zone", ("abc", "Exists")), term("zone", ("def", "Exists"))]))],
         {"abc": "", "xyz": ""}, affinity(anti=[term("zone", ("abc", "Exists")), term("zone", ("def", "Exists"))]),
         [ANTI]),
        # "PodAntiAffinity symmetry check b2": the same with the labels swapped.
        ("symmetry b2", NODE1,
         [("node1", {"abc": "", "xyz": ""}, affinity(anti=[term("zone", ("abc", "Exists")), term("zone", ("def", "Exists"))]))],
         {"def": "", "xyz": ""}, affinity(anti=[term("zone", ("abc", "Exists")), term("zone", ("def", "Exists"))]),
         [ANTI]),
        # TestRequiredAffinityMultipleNodes "A pod can be scheduled onto all the nodes that have the same
        # topology key & label value with one of them has an existing pod that matches the affinity
        # rules": region China holds the match (node1, node2); node3 is in India.
        ("same region as match", [("node1", CHINA), ("node2", CHINA_AZ1), ("node3", INDIA)],
         [("node1", {"foo": "bar"})], {}, affinity(req=[term("region", ("foo", "In", ["bar"]))]),
         [True, True, AFF]),
        # "The affinity rule is to schedule all of the pods of this collection to the same zone. The first
        # pod of the collection should not be blocked ...": p1 (foo=bar) matches only the first term, so no
        # pod matches all terms -> affinityCounts is empty; the pod matches its own two terms.
        ("first pod of a group", [("nodeA", {"zone": "az1", "hostname": "h1"}), ("nodeB", {"zone": "az2", "hostname": "h2"})],
         [("nodeA", {"foo": "bar"})], {"foo": "bar", "service": "securityscan"},
         affinity(req=[term("zone", ("foo", "In", ["bar"])), term("zone", ("service", "In", ["securityscan"]))]),
         [True, True]),
        # "The first pod of the collection can only be scheduled on nodes labelled with the requested
        # topology keys": the nodes carry "zoneLabel", not "zone".
        ("first pod needs the keys", [("nodeA", {"zoneLabel": "az1", "hostname": "h1"}),
                                      ("nodeB", {"zoneLabel": "az2", "hostname": "h2"})],
         [("nodeA", {"foo": "bar"})], {"foo": "bar", "service": "securityscan"},
         affinity(req=[term("zone", ("foo", "In", ["bar"])), term("zone", ("service", "In", ["securityscan"]))]),
         [AFF, AFF]),
        # "NodeA and nodeB have same topologyKey and label value. NodeA has an existing pod that matches the
        # inter pod affinity rule. The pod can not be scheduled onto nodeA and nodeB but can be scheduled
        # onto nodeC": anti-affinity over region China.
        ("anti over region", [("nodeA", CHINA), ("nodeB", CHINA_AZ1), ("nodeC", INDIA)],
         [("nodeA", {"foo": "abc"})], {}, affinity(anti=[term("region", ("foo", "In", ["abc"]))]),
         [ANTI, ANTI, True]),
        # "Test existing pod's anti-affinity: existingPod on nodeA and nodeB has at least one anti-affinity
        # term matches incoming pod, so incoming pod can only be scheduled to nodeC"
        ("existing anti per zone", [("nodeA", R1Z1), ("nodeB", R1Z2), ("nodeC", {"region": "r1", "zone": "z3"})],
         [("nodeA", {}, affinity(anti=[term("zone", ("foo", "Exists")), term("zone", ("labelA", "Exists"))])),
          ("nodeB", {}, affinity(anti=[term("zone", ("bar", "Exists")), term("zone", ("labelB", "Exists"))]))],
         {"foo": "", "bar": ""}, None, [EXIST, EXIST, True]),
        # "Test existing pod's anti-affinity: only when labelSelector and topologyKey both match, it's
        # counted as a single term match - case when one term has invalid topologyKey": only the "bar"
        # term (zone z1) counts; no node has "invalid-node-label".
        ("existing anti invalid key", [("nodeA", R1Z1), ("nodeB", R1Z2)],
         [("nodeA", {}, affinity(anti=[term("invalid-node-label", ("foo", "Exists")), term("zone", ("bar", "Exists"))]))],
         {"foo": "", "bar": ""}, None, [EXIST, True]),
        # "Test incoming pod's affinity: firstly check if all affinityTerms match, and then check if all
        # topologyKeys match": pod1 has foo and bar, nodeA and nodeB share region r1 and zone z1.
        ("all terms on one pod", [("nodeA", R1Z1), ("nodeB", R1Z1)], [("nodeA", {"foo": "", "bar": ""})], {},
         affinity(req=[term("region", ("foo", "Exists")), term("zone", ("bar", "Exists"))]), [True, True]),
        # "... and the match logic should be satisfied on the same pod": foo and bar are on different pods,
        # so no pod matches all terms; the incoming pod has no labels -> no first-pod exception.
        ("terms split over pods", [("nodeA", R1Z1), ("nodeB", R1Z2)], [("nodeA", {"foo": ""}), ("nodeB", {"bar": ""})],
         {}, affinity(req=[term("region", ("foo", "Exists")), term("zone", ("bar", "Exists"))]), [AFF, AFF]),
    ],
)
def test_filter(name, nodes, pods, labels, aff, expected):
    state = build(nodes, pods)
    pod = make_pod(state, {}, labels=labels, affinity=aff)
    assert verdicts(InterPodAffinity(), state, pod) == expected


def test_filter_first_pod_exception_ends_once_a_match_is_bound():
    # Follow-on of "first pod of a group": once a pod matching all terms is bound in zone az1, the
    # exception no longer applies and only az1 passes. Also checks that the per-shape cache picks up
    # a shape registered after the first Filter call.
    state = build([("nodeA", {"zone": "az1"}), ("nodeB", {"zone": "az2"})])
    aff = affinity(req=[term("zone", ("app", "In", ["web"]))])
    pod = make_pod(state, {}, labels={"app": "web"}, affinity=aff)
    plugin = InterPodAffinity()
    assert plugin.filter(state, pod).tolist() == [True, True]
    bind_pod(state, "nodeA", {"app": "web"})
    assert plugin.filter(state, pod).tolist() == [True, False]


def test_reasons_follow_filter_order():
    # Derived from Filter's order (satisfyPodAffinity, satisfyPodAntiAffinity,
    # satisfyExistingPodsAntiAffinity; the first failure is the node's status): nodeA fails all
    # three checks, nodeB fails the two anti-affinity checks, nodeC only the existing pod's, nodeD none.
    # The incoming pod wants app=db in its zone (only zone z1 has one), avoids app=web per zone, and
    # the web pods avoid role=batch (the incoming pod's label) per region.
    web_anti = affinity(anti=[term("region", ("role", "In", ["batch"]))])
    state = build([("nodeA", {"region": "r1", "zone": "z2"}), ("nodeB", {"region": "r1", "zone": "z1"}),
                   ("nodeC", {"region": "r2", "zone": "z1"}), ("nodeD", {"region": "r3", "zone": "z1"})],
                  [("nodeB", {"app": "db"}), ("nodeA", {"app": "web"}, web_anti), ("nodeB", {"app": "web"}, web_anti),
                   ("nodeC", {"app": "x"}, web_anti)])
    pod = make_pod(state, {}, labels={"role": "batch"},
                   affinity=affinity(req=[term("zone", ("app", "In", ["db"]))],
                                     anti=[term("region", ("app", "In", ["web"]))]))
    # affinity: z1 has the db pod -> nodeB, nodeC, nodeD pass; nodeA (z2) fails.
    # anti (region): web pods on nodeA, nodeB -> region r1 -> nodeA, nodeB fail.
    # existing anti (region): web_anti pods on nodeA, nodeB (r1) and nodeC (r2) -> nodeA, nodeB, nodeC fail.
    plugin = InterPodAffinity()
    assert plugin.filter(state, pod).tolist() == [False, False, False, True]
    assert plugin.reasons(state, pod, np.array([0, 1, 2])) == {AFF: 1, ANTI: 1, EXIST: 1}


def test_nil_label_selector_matches_nothing():
    # metav1.LabelSelectorAsSelector(nil) is labels.Nothing(); an empty selector is labels.Everything().
    state = build(NODE1, [("node1", SVC)])
    nil_term = {"topologyKey": "zone"}
    empty_term = {"labelSelector": {}, "topologyKey": "zone"}
    plugin = InterPodAffinity()
    assert plugin.filter(state, make_pod(state, {}, affinity=affinity(anti=[nil_term]))).tolist() == [True]
    assert plugin.filter(state, make_pod(state, {}, affinity=affinity(anti=[empty_term]))).tolist() == [False]


# -- Score ------------------------------------------------------------------------------

S1, S2 = {"security": "S1"}, {"security": "S2"}
AZ1, AZ2 = {"az": "az1"}, {"az": "az2"}
STAY_S1_REGION = (5, term("region", ("security", "In", ["S1"])))
STAY_S2_REGION = (6, term("region", ("security", "In", ["S2"])))
AWAY_S1_AZ = (5, term("az", ("security", "In", ["S1"])))
AWAY_S2_AZ = (5, term("az", ("security", "In", ["S2"])))
STAY_S1_REGION_8 = (8, term("region", ("security", "In", ["S1"])))
# stayWithS1InRegionAwayFromS2InAz
STAY_AWAY = affinity(pref=[STAY_S1_REGION_8], pref_anti=[AWAY_S2_AZ])
HARD = affinity(req=[term("region", ("security", "In", ["S1", "value2"])),
                     term("region", ("security", "Exists"), ("wrongkey", "DoesNotExist"))])


def run_score(plugin, state, pod):
    """PreScore, Score over all nodes, NormalizeScore; None when PreScore skips."""
    if not plugin.pre_score(state, pod):
        return None
    return plugin.normalize(pod, plugin.score(state, pod, np.arange(state.nodes.n))).tolist()


@pytest.mark.parametrize(
    "name, nodes, pods, labels, aff, args, expected",
    [
        # TestPreferredAffinity "all nodes are same priority as Affinity is nil": no term anywhere ->
        # no topologyScore entry -> Skip.
        ("nil affinity", [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)], [], S1, None, {}, None),
        # "Affinity: pod that matches topology key & pods in nodes will get high score comparing to others
        # which doesn't match either pods in nodes or in topology key": China +5 (S1 on node1); the S1
        # pod on node3 has no region. Raw [5, 0, 0] -> min 0, max 5 -> [100, 0, 0].
        ("affinity", [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)],
         [("node1", S1), ("node2", S2), ("node3", S1)], S1, affinity(pref=[STAY_S1_REGION]), {}, [100, 0, 0]),
        # "All the nodes that have the same topology key & label value with one of them has an existing pod
        # that match the affinity rules, have the same score": China +5 covers node1 and node2.
        ("same region same score", [("node1", CHINA), ("node2", CHINA_AZ1), ("node3", INDIA)],
         [("node1", S1)], {}, affinity(pref=[STAY_S1_REGION]), {}, [100, 100, 0]),
        # "Affinity: nodes in one region has more matching pods comparing to other region, so the region
        # which has more matches will get high score": China holds 4 S2 pods (node1 x2, node3, node4) ->
        # 24, India 2 (node2, node5) -> 12. Raw [24, 12, 24, 24, 12] -> min 12, max 24.
        ("more matches in one region",
         [("node1", CHINA), ("node2", INDIA), ("node3", CHINA), ("node4", CHINA), ("node5", INDIA)],
         [("node1", S2), ("node1", S2), ("node2", S2), ("node3", S2), ("node4", S2), ("node5", S2)],
         S1, affinity(pref=[STAY_S2_REGION]), {}, [100, 0, 100, 100, 0]),
        # "Affinity: different Label operators and values for pod affinity scheduling preference, including
        # some match failures": weight 8 (NotIn S1 and In S2) matches only the S2 pod (India); weight 2
        # (security Exists, wrongkey DoesNotExist) matches S1 on node1 (China) and S2 (India); node3's pod
        # has no region. Raw China 2, India 8+2 = 10, node3 0 -> 100*(2/10) = 20.
        ("operators", [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)],
         [("node1", S1), ("node2", S2), ("node3", S1)], S1,
         affinity(pref=[(8, term("region", ("security", "NotIn", ["S1"]), ("security", "In", ["S2"]))),
                        (2, term("region", ("security", "Exists"), ("wrongkey", "DoesNotExist")))]),
         {}, [20, 100, 0]),
        # "Affinity symmetry: considered only the preferredDuringSchedulingIgnoredDuringExecution in pod
        # affinity symmetry": the incoming S2 pod matches node2's pod's preference (S2 in region, weight 6)
        # -> India +6. Raw [0, 6, 0].
        ("symmetry preferred", [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)],
         [("node1", S1, affinity(pref=[STAY_S1_REGION])), ("node2", S2, affinity(pref=[STAY_S2_REGION]))],
         S2, None, {}, [0, 100, 0]),
        # "Affinity symmetry: considered RequiredDuringSchedulingIgnoredDuringExecution in pod affinity
        # symmetry": the incoming S1 pod matches both required terms of both existing pods -> China and
        # India each +2 * hardPodAffinityWeight(1). Raw [2, 2, 0].
        ("symmetry required", [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)],
         [("node1", S1, HARD), ("node2", S2, HARD)], S1, None, {}, [100, 100, 0]),
        # "Anti Affinity: pod that does not match existing pods in node will get high score": az1 -5.
        # Raw [-5, 0] -> min -5, max 0 -> [0, 100].
        ("anti-affinity", [("node1", AZ1), ("node2", CHINA)], [("node1", S1), ("node2", S2)], S1,
         affinity(pref_anti=[AWAY_S1_AZ]), {}, [0, 100]),
        # "Anti Affinity: one node has more matching pods comparing to other node, so the node which has
        # more unmatches will get high score": two S1 pods in az1 -> -10. Raw [-10, 0].
        ("anti-affinity two pods", [("node1", AZ1), ("node2", INDIA)], [("node1", S1), ("node1", S1), ("node2", S2)],
         S1, affinity(pref_anti=[AWAY_S1_AZ]), {}, [0, 100]),
        # "Anti Affinity symmetry: the existing pods in node which has anti affinity match will get high
        # score": node1's pod avoids S2 in its az -> az1 -5; node2's pod avoids S1 (not the incoming S2).
        ("anti symmetry", [("node1", AZ1), ("node2", AZ2)],
         [("node1", S1, affinity(pref_anti=[AWAY_S2_AZ])), ("node2", S2, affinity(pref_anti=[AWAY_S1_AZ]))],
         S2, None, {}, [0, 100]),
        # "Affinity and Anti Affinity and symmetry: considered only preferredDuringSchedulingIgnoredDuring
        # Execution in both pod affinity & anti affinity & symmetry" (upstream's comment: weights 8, -5,
        # 8, -5): S1 on node1 -> China +8; S2 on node2 -> az1 -5; node3's pod prefers S1 in region -> India
        # +8; node4's pod avoids S1 in az -> az2 -5. Raw [8, -5, 8, -5].
        ("affinity, anti and symmetry", [("node1", CHINA), ("node2", AZ1), ("node3", INDIA), ("node4", AZ2)],
         [("node1", S1), ("node2", S2), ("node3", {}, STAY_AWAY), ("node4", {}, affinity(pref_anti=[AWAY_S1_AZ]))],
         S1, STAY_AWAY, {}, [100, 0, 100, 0]),
        # "Avoid panic when partial nodes in a topology don't have pods with affinity": node2's pod prefers
        # S1 in region -> China +8, both nodes are China: raw [8, 8], max == min -> all 0 (not a Skip).
        ("all equal", [("node1", CHINA), ("node2", CHINA)], [("node1", S1), ("node2", {}, STAY_AWAY)],
         S1, None, {}, [0, 0]),
        # "Ignore preferred terms of existing pods": the incoming pod has no preferred terms -> Skip.
        ("ignore existing preferred", [("node1", CHINA), ("node2", INDIA)],
         [("node1", S1, STAY_AWAY), ("node2", S2, affinity(pref=[STAY_S2_REGION]))], S2, None,
         {"ignorePreferredTermsOfExistingPods": True}, None),
        # "Do not ignore preferred terms of existing pods": node2's pod prefers S2 in region -> India +6;
        # node1's pod avoids S2 per az, but node1 has no az label. Raw [0, 6].
        ("do not ignore existing preferred", [("node1", CHINA), ("node2", INDIA)],
         [("node1", S1, STAY_AWAY), ("node2", S2, affinity(pref=[STAY_S2_REGION]))], S2, None,
         {"ignorePreferredTermsOfExistingPods": False}, [0, 100]),
        # TestPreferredAffinityWithHardPodAffinitySymmetricWeight "with default weight": both existing
        # pods require service=S1 in region -> China +1, India +1, node3 (az only) 0.
        ("hard weight default", [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)],
         [("node1", {}, affinity(req=[term("region", ("service", "In", ["S1"]))])),
          ("node2", {}, affinity(req=[term("region", ("service", "In", ["S1"]))]))],
         {"service": "S1"}, None, {}, [100, 100, 0]),
        # "with zero weight": required terms of existing pods are not processed -> no entry -> Skip.
        ("hard weight zero", [("node1", CHINA), ("node2", INDIA), ("node3", AZ1)],
         [("node1", {}, affinity(req=[term("region", ("service", "In", ["S1"]))])),
          ("node2", {}, affinity(req=[term("region", ("service", "In", ["S1"]))]))],
         {"service": "S1"}, None, {"hardPodAffinityWeight": 0}, None),
    ],
)
def test_score(name, nodes, pods, labels, aff, args, expected):
    state = build(nodes, pods)
    pod = make_pod(state, {}, labels=labels, affinity=aff)
    plugin = InterPodAffinity(InterPodAffinity.parse_args(args))
    assert run_score(plugin, state, pod) == expected


def test_raw_scores_are_domain_sums():
    # Raw Score of "Affinity and Anti Affinity and symmetry" above, before normalisation: 8, -5, 8, -5.
    state = build([("node1", CHINA), ("node2", AZ1), ("node3", INDIA), ("node4", AZ2)],
                  [("node1", S1), ("node2", S2), ("node3", {}, STAY_AWAY),
                   ("node4", {}, affinity(pref_anti=[AWAY_S1_AZ]))])
    pod = make_pod(state, {}, labels=S1, affinity=STAY_AWAY)
    plugin = InterPodAffinity()
    assert plugin.pre_score(state, pod)
    assert plugin.score(state, pod, np.arange(4)).tolist() == [8, -5, 8, -5]
    # Only the candidates are scored (and normalised among themselves).
    assert plugin.score(state, pod, np.array([3, 0])).tolist() == [-5, 8]


def test_normalize_float_steps():
    # NormalizeScore computes float64(100) * (float64(s-min) / float64(max-min)) and truncates:
    # 29/100 = 0.29 is stored as 0.28999999999999998, times 100 gives 28.999999999999996 -> 28
    # (integer arithmetic would give 29). -7..93 has the same spread.
    plugin = InterPodAffinity()
    assert plugin.normalize(None, np.array([0, 29, 100])).tolist() == [0, 28, 100]
    assert plugin.normalize(None, np.array([-7, 22, 93])).tolist() == [0, 28, 100]
    assert plugin.normalize(None, np.array([4, 4])).tolist() == [0, 0]


def test_args():
    a = InterPodAffinityArgs()
    assert (a.hard_pod_affinity_weight, a.ignore_preferred_terms_of_existing_pods) == (1, False)
    assert InterPodAffinity.parse_args({"hardPodAffinityWeight": 100}).hard_pod_affinity_weight == 100
    for bad in (-1, 101):  # ValidateHardPodAffinityWeight: [0, 100]
        with pytest.raises(ValueError):
            InterPodAffinity.parse_args({"hardPodAffinityWeight": bad})


def _bind_new(state, info, node_name):
    p = state.pods.append(name=f"p{state.pods.n}", requests=info.requests, workload=-1, index=state.pods.n,
                          shape=info.shape, priority=0, created=0.0, duration=np.inf, start_latency=0.0)
    ops.bind(state, p, state.nodes.name_index[node_name], 0.0)


def test_constraint_free_pods_skip_until_a_shape_with_terms_appears():
    # Upstream PreFilter Skip (filtering.go: no required terms of the pod and no existing
    # pod with required anti-affinity) and PreScore Skip (scoring.go: empty topologyScore).
    # Many term-less shapes (as a trace replay registers): the plugin skips a term-less
    # pod. Then an existing pod whose required anti-affinity selects app=web on zone
    # binds on n1: the same, earlier-cached, term-less web pod must now be rejected in
    # n1's zone (z1) and only there.
    state = make_state([node("n1", {"zone": "z1"}), node("n2", {"zone": "z1"}), node("n3", {"zone": "z2"})])
    plugin = InterPodAffinity()
    for i in range(50):
        _bind_new(state, make_pod(state, {"cpu": f"{i + 1}m"}), "n3")
    web = make_pod(state, {"cpu": "100m"}, labels={"app": "web"})
    assert not plugin.pre_filter(state, web) and not plugin.pre_score(state, web)
    guard = make_pod(state, {"cpu": "100m"}, labels={"app": "guard"},
                     affinity=affinity(anti=[term("zone", ("app", "In", ["web"]))]))
    _bind_new(state, guard, "n1")
    assert plugin.pre_filter(state, web)
    assert plugin.filter(state, web).tolist() == [False, False, True]
    assert plugin.reasons(state, web, np.array([0, 1])) == {EXIST: 2}
    # A second such pod, registered after web's cache was built, in zone z2: the cache
    # is extended with it and every node is now excluded.
    more = [make_pod(state, {"cpu": f"{i + 200}m"}) for i in range(5)]
    guard2 = make_pod(state, {"cpu": "100m"}, labels={"app": "guard"},
                      affinity=affinity(anti=[term("zone", ("app", "In", ["web"]))]))
    _bind_new(state, more[0], "n2")
    _bind_new(state, guard2, "n3")
    assert plugin.filter(state, web).tolist() == [False, False, False]
