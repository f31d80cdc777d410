"""TaintToleration, NodeAffinity (nodeSelector) and NodeUnschedulable filters.

Cases mirror upstream:
- plugins/tainttoleration/taint_toleration_test.go (TestTaintTolerationFilter) and
  k8s.io/api/core/v1 toleration_test.go (TestTolerationToleratesTaint);
- plugins/nodeaffinity/node_affinity_test.go (TestNodeAffinity, the nodeSelector cases);
- plugins/nodeunschedulable/node_unschedulable_test.go (TestNodeUnschedulable).
"""

from __future__ import annotations

import pytest
from builders import make_pod, make_state, node

from k8sim.cluster import ops
from k8sim.cluster.nodes import TaintSpec
from k8sim.config.pods import Toleration
from k8sim.scheduling.plugins.node_affinity import NodeAffinity
from k8sim.scheduling.plugins.node_unschedulable import NodeUnschedulable
from k8sim.scheduling.plugins.taint_toleration import TaintToleration, tolerates

DEDICATED_USER1 = TaintSpec("dedicated", "user1", "NoSchedule")


def tol(**kw) -> Toleration:
    return Toleration.model_validate(kw)


@pytest.mark.parametrize(
    "name, taints, tolerations, fits",
    [
        # "A pod having no tolerations can't be scheduled onto a node with nonempty taints"
        ("no tolerations, tainted node", [DEDICATED_USER1], [], False),
        # "A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule"
        ("equal toleration", [DEDICATED_USER1], [tol(key="dedicated", value="user1", effect="NoSchedule")], True),
        # "A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule"
        ("toleration for another user", [DEDICATED_USER1],
         [tol(key="dedicated", operator="Equal", value="user2", effect="NoSchedule")], False),
        # "A pod can be scheduled onto the node, with a toleration uses operator Exists that
        #  tolerates the taints on the node"
        ("exists", [TaintSpec("foo", "bar", "NoSchedule")], [tol(key="foo", operator="Exists", effect="NoSchedule")], True),
        # "A pod has multiple tolerations, node has multiple taints, all the taints are tolerated"
        ("multiple", [TaintSpec("dedicated", "user2", "NoSchedule"), TaintSpec("foo", "bar", "NoSchedule")],
         [tol(key="dedicated", operator="Equal", value="user2", effect="NoSchedule"),
          tol(key="foo", operator="Exists", effect="NoSchedule")], True),
        # "A pod has a toleration that keys and values match the taint on the node, but (non-empty)
        #  effect doesn't match, can't be scheduled onto the node"
        ("effect mismatch", [TaintSpec("foo", "bar", "NoSchedule")],
         [tol(key="foo", operator="Equal", value="bar", effect="PreferNoSchedule")], False),
        # "The pod has a toleration that keys and values match the taint on the node, the effect of
        #  toleration is empty, and the effect of taint is NoSchedule. Pod can be scheduled"
        ("empty effect", [TaintSpec("foo", "bar", "NoSchedule")], [tol(key="foo", operator="Equal", value="bar")], True),
        # "The pod has a toleration that key and value don't match the taint on the node, but the
        #  effect of taint on node is PreferNoSchedule. Pod can be scheduled onto the node"
        ("prefer no schedule is soft", [TaintSpec("dedicated", "user1", "PreferNoSchedule")],
         [tol(key="dedicated", operator="Equal", value="user2", effect="NoSchedule")], True),
        # "The pod has no toleration, but the effect of taint on node is PreferNoSchedule"
        ("prefer no schedule, no toleration", [TaintSpec("dedicated", "user1", "PreferNoSchedule")], [], True),
        # NoExecute repels like NoSchedule at scheduling time
        ("no execute", [TaintSpec("k", "v", "NoExecute")], [], False),
        # empty key + Exists tolerates everything (toleration_test.go "empty key with Exists")
        ("tolerate all", [TaintSpec("k", "v", "NoExecute"), DEDICATED_USER1], [tol(operator="Exists")], True),
    ],
)
def test_taint_toleration_filter(name, taints, tolerations, fits):
    state = make_state([node("n", cpu="1", memory="1Gi", taints=taints)])
    pod = make_pod(state, {"cpu": "100m"}, tolerations=tolerations)
    assert TaintToleration().filter(state, pod).tolist() == [fits]


def test_tolerates_needs_value_match_for_equal():
    assert tolerates(tol(key="a", value="x"), TaintSpec("a", "x", "NoSchedule"))
    assert not tolerates(tol(key="a", value="y"), TaintSpec("a", "x", "NoSchedule"))
    assert not tolerates(tol(key="b", operator="Exists"), TaintSpec("a", "x", "NoSchedule"))


def test_toleration_validation():
    with pytest.raises(ValueError, match="Exists"):
        tol(key="a", operator="Exists", value="x")
    with pytest.raises(ValueError, match="empty key"):
        tol(value="x")


@pytest.mark.parametrize(
    "selector, expected",
    [
        # node_affinity_test.go "missing labels": the pod selects foo=bar, no node has it
        ({"foo": "bar"}, [False, False, False]),
        # "same labels"
        ({"zone": "a"}, [True, False, False]),
        # "node labels are superset"
        ({"zone": "b"}, [False, True, False]),
        # "node labels are subset": pod needs two labels, node n1 has only zone=a
        ({"zone": "a", "disk": "ssd"}, [False, False, False]),
        ({"zone": "b", "disk": "ssd"}, [False, True, False]),
        # empty selector matches all
        ({}, [True, True, True]),
    ],
)
def test_node_selector(selector, expected):
    state = make_state([
        node("n1", cpu="1", memory="1Gi", labels={"zone": "a"}),
        node("n2", cpu="1", memory="1Gi", labels={"zone": "b", "disk": "ssd"}),
        node("n3", cpu="1", memory="1Gi"),
    ])
    pod = make_pod(state, {"cpu": "1"}, node_selector=selector)
    assert NodeAffinity().filter(state, pod).tolist() == expected


def test_node_selector_cache_follows_node_table_version():
    state = make_state([node("n1", cpu="1", memory="1Gi", labels={"zone": "a"})])
    pod = make_pod(state, {"cpu": "1"}, node_selector={"zone": "a"})
    assert NodeAffinity().filter(state, pod).tolist() == [True]

    ops.add_node(state, name="n2", allocatable=state.nodes.alloc[:, 0].copy(), labels={"zone": "a"},
                 taints=[], pool=-1, now=1.0)
    assert NodeAffinity().filter(state, pod).tolist() == [True, True]


def test_node_unschedulable():
    # node_unschedulable_test.go: a cordoned node (spec.unschedulable) is filtered out.
    state = make_state([node("n1", cpu="1", memory="1Gi"), node("n2", cpu="1", memory="1Gi")])
    ops.set_unschedulable(state, 1, True)
    pod = make_pod(state, {"cpu": "1"})
    assert NodeUnschedulable().filter(state, pod).tolist() == [True, False]
