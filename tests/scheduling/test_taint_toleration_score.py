"""TaintToleration Score: intolerable PreferNoSchedule taints, normalised in reverse.

Cases mirror upstream pkg/scheduler/framework/plugins/tainttoleration/taint_toleration_test.go
(TestTaintTolerationScore). Raw score = number of the node's PreferNoSchedule taints not
tolerated by the pod's PreferNoSchedule/empty-effect tolerations; NormalizeScore =
DefaultNormalizeScore(100, reverse=True): 100 - raw * 100 / max (all 100 when max is 0).
The alpha Gt/Lt toleration cases (feature gate TaintTolerationComparisonOperators) are
not modelled.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.cluster.nodes import TaintSpec
from k8sim.config.pods import Toleration
from k8sim.scheduling.plugins.taint_toleration import TaintToleration

PNS = "PreferNoSchedule"


def tol(**kw) -> Toleration:
    return Toleration.model_validate(kw)


CPU_ARM = TaintSpec("cpu-type", "arm64", PNS)
DISK_SSD = TaintSpec("disk-type", "ssd", PNS)


@pytest.mark.parametrize(
    "name, tolerations, taints, expected",
    [
        # "node with taints tolerated by the pod, gets a higher score than those node with intolerable taints"
        # nodeA foo=bar tolerated -> 0; nodeB foo=blah not -> 1; max 1 -> [100, 0]
        ("tolerated beats intolerable", [tol(key="foo", operator="Equal", value="bar", effect=PNS)],
         [[TaintSpec("foo", "bar", PNS)], [TaintSpec("foo", "blah", PNS)]], [100, 0]),
        # "the nodes that all of their taints are tolerated by the pod, get the same score, no matter how many
        # tolerable taints a node has": raw [0, 0, 0] -> all 100
        ("all tolerated", [tol(key="cpu-type", operator="Equal", value="arm64", effect=PNS),
                           tol(key="disk-type", operator="Equal", value="ssd", effect=PNS)],
         [[], [CPU_ARM], [CPU_ARM, DISK_SSD]], [100, 100, 100]),
        # "the more intolerable taints a node has, the lower score it gets.": raw [0, 1, 2], max 2
        # -> 100, 100 - 100/2 = 50, 0
        ("more intolerable is worse", [tol(key="foo", operator="Equal", value="bar", effect=PNS)],
         [[], [CPU_ARM], [CPU_ARM, DISK_SSD]], [100, 50, 0]),
        # "only taints and tolerations that have effect PreferNoSchedule are checked by taints-tolerations
        # priority function": the NoSchedule tolerations are dropped; nodeB's NoSchedule taint is not
        # counted -> raw [0, 0, 2] -> [100, 100, 0]
        ("only PreferNoSchedule counts", [tol(key="cpu-type", operator="Equal", value="arm64", effect="NoSchedule"),
                                          tol(key="disk-type", operator="Equal", value="ssd", effect="NoSchedule")],
         [[], [TaintSpec("cpu-type", "arm64", "NoSchedule")], [CPU_ARM, DISK_SSD]], [100, 100, 0]),
        # "Default behaviour No taints and tolerations, lands on node with no taints": raw [0, 1] -> [100, 0]
        ("no tolerations", [], [[], [CPU_ARM]], [100, 0]),
        # k8sim case (getAllTolerationPreferNoSchedule keeps empty-effect tolerations): an Exists toleration
        # for cpu-type without effect tolerates the PreferNoSchedule taint -> raw [0, 0, 1] -> [100, 100, 0]
        ("empty effect tolerates", [tol(key="cpu-type", operator="Exists")],
         [[], [CPU_ARM], [CPU_ARM, DISK_SSD]], [100, 100, 0]),
    ],
)
def test_taint_toleration_score(name, tolerations, taints, expected):
    state = make_state([node(f"node{i}", taints=t, cpu="1", memory="1Gi") for i, t in enumerate(taints)])
    pod = make_pod(state, {}, tolerations=tolerations)
    plugin = TaintToleration()
    assert plugin.pre_score(state, pod)
    cand = np.arange(state.nodes.n)
    assert plugin.normalize(pod, plugin.score(state, pod, cand)).tolist() == expected


def test_raw_counts_over_candidates():
    # Raw Score is the count itself, for the candidate indices given: node2 has 2, node0 has 0.
    state = make_state([node("n0", cpu="1", memory="1Gi"), node("n1", taints=[CPU_ARM], cpu="1", memory="1Gi"),
                        node("n2", taints=[CPU_ARM, DISK_SSD], cpu="1", memory="1Gi")])
    pod = make_pod(state, {})
    assert TaintToleration().score(state, pod, np.array([2, 0, 1])).tolist() == [2, 0, 1]
