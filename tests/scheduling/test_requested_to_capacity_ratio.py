"""NodeResourcesFit with scoringStrategy RequestedToCapacityRatio, and the broken-linear function.

Upstream: pkg/scheduler/framework/plugins/noderesources/requested_to_capacity_ratio_test.go
(TestRequestedToCapacityRatioScoringStrategy, TestBrokenLinearFunction,
TestResourceBinPackingSingleExtended, TestResourceBinPackingMultipleExtended).

Shape scores (0..10) are scaled by MaxNodeScore / MaxCustomPriorityScore = 10. Per
resource: utilization = requested * 100 / capacity (int64; 100 if requested >= capacity),
score = f(utilization); resources scoring 0 are dropped; node score =
round(sum(score * weight) / sum(weight)), half away from zero. cpu and memory use the
non-zero requests (100m / 200Mi for a pod that requests nothing), as upstream's Fit.
Upstream writes cpu "4000" (cores); k8sim uses the same cores ("4000").
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit, NodeResourcesFitArgs, broken_linear

LEAST_SHAPE = ((0, 10), (100, 0))  # TestRequestedToCapacityRatioScoringStrategy: f(u) = 100 - u
FOO, BAR = "intel.com/foo", "intel.com/bar"


def scores(plugin, state, pod):
    return plugin.score(state, pod, np.arange(state.nodes.n)).tolist()


def rtcr(resources=(("cpu", 1), ("memory", 1)), shape=LEAST_SHAPE) -> NodeResourcesFit:
    return NodeResourcesFit.with_strategy("RequestedToCapacityRatio", resources, shape)


@pytest.mark.parametrize(
    "name, nodes, existing, pod, expected",
    [
        (
            # "nothing scheduled, nothing requested (default - least requested nodes have priority)"
            # Upstream pods have no containers (no requests at all). In k8sim every pod has the non-zero
            # defaults, so: node1 holds 2 such pods + this one: cpu 300m of 4000 cores -> u = 300*100/4000000
            # = 0 -> f = 100; memory 600Mi > 10000 bytes -> u = 100 -> f = 0 -> dropped -> score 100.
            # node2: cpu 100m -> 100; memory 200Mi > 10000 -> 0, dropped -> 100. Same as upstream.
            "nothing requested", [node("node1", cpu="4000", memory=10000), node("node2", cpu="4000", memory=10000)],
            [("node1", {}), ("node1", {})], {}, [100, 100],
        ),
        (
            # "nothing scheduled, resources requested, differently sized nodes": pod cpu 3000 cores, mem 5000
            # (upstream's existing pods have no containers, so they add nothing; they are omitted here)
            # node1: cpu u = 75 -> 25; mem u = 50 -> 50; round((25 + 50) / 2 = 37.5) = 38
            # node2: cpu 3000/6000 u = 50 -> 50; mem 50 -> 50 -> 50
            "resources requested", [node("node1", cpu="4000", memory=10000), node("node2", cpu="6000", memory=10000)],
            [], {"cpu": "3000", "memory": 5000}, [38, 50],
        ),
        (
            # "no resources requested, pods scheduled with resources": existing pods cpu 3000 cores, 5000
            # memory units. Upstream's incoming pod requests nothing; k8sim's has 100m / 200Mi defaults, so
            # memory is in Gi here to keep the 200Mi negligible:
            # node1: cpu (3000 cores + 100m) of 4000 cores -> u = 3000100*100/4000000 = 75 -> 25;
            #        mem (5000Gi + 200Mi) of 10000Gi -> u = 50 -> 50; round(37.5) = 38
            # node2: cpu of 6000 cores -> u = 50 -> 50; mem 50 -> 50 -> 50
            "pods scheduled with resources",
            [node("node1", cpu="4000", memory="10000Gi"), node("node2", cpu="6000", memory="10000Gi")],
            [("node1", {"cpu": "3000", "memory": "5000Gi"}), ("node2", {"cpu": "3000", "memory": "5000Gi"})],
            {}, [38, 50],
        ),
    ],
)
def test_requested_to_capacity_ratio_strategy(name, nodes, existing, pod, expected):
    state = make_state(nodes, existing)
    assert scores(rtcr(), state, make_pod(state, pod)) == expected


BIN_PACK = ((0, 0), (100, 1))  # f(u) = 10 * u / 100 after scaling


@pytest.mark.parametrize(
    "name, existing, pod, expected",
    [
        # TestResourceBinPackingSingleExtended (foo weight 1; node1 foo 8, node2 foo 4):
        # "nothing scheduled, nothing requested": the pod asks for no foo -> skipped -> 0, 0
        ("nothing requested", [], {}, [0, 0]),
        # "resources requested, pods scheduled with less resources": foo 2: node1 u = 25 -> 10*25/100 = 2;
        # node2 u = 50 -> 5
        ("less resources", [], {FOO: 2}, [2, 5]),
        # "... on node with existing pod running": node2 holds foo 2: (2+2)/4 -> u = 100 -> 10; node1 2
        ("existing pod", [("node2", {FOO: 2})], {FOO: 2}, [2, 10]),
        # "resources requested, pods scheduled with more resources": foo 4: node1 u = 50 -> 5; node2 100 -> 10
        ("more resources", [], {FOO: 4}, [5, 10]),
    ],
)
def test_bin_packing_single_extended(name, existing, pod, expected):
    state = make_state([node("node1", cpu="4", memory="10000Mi", **{FOO: 8}),
                        node("node2", cpu="4", memory="10000Mi", **{FOO: 4})], existing)
    assert scores(rtcr(((FOO, 1),), BIN_PACK), state, make_pod(state, pod)) == expected


@pytest.mark.parametrize(
    "name, existing, pod, expected",
    [
        # TestResourceBinPackingMultipleExtended (foo weight 3, bar weight 5; node1 foo 8 bar 4,
        # node2 foo 4 bar 8):
        # "nothing scheduled, nothing requested" -> both skipped -> 0
        ("nothing requested", [], {}, [0, 0]),
        # "resources requested, pods scheduled with less resources" (foo 2, bar 2):
        # node1 foo u 25 -> 2, bar u 50 -> 5: (2*3 + 5*5) / 8 = 3.875 -> 4
        # node2 foo u 50 -> 5, bar u 25 -> 2: (5*3 + 2*5) / 8 = 3.125 -> 3
        ("less resources", [], {FOO: 2, BAR: 2}, [4, 3]),
        # "... on node with existing pod running" (node2 holds foo 4, bar 2):
        # node1 as above 4; node2 foo 6/4 > capacity -> 10, bar 4/8 u 50 -> 5: (30 + 25) / 8 = 6.875 -> 7
        ("existing pod", [("node2", {FOO: 4, BAR: 2})], {FOO: 2, BAR: 2}, [4, 7]),
        # "resources requested, pods scheduled with more resources" (foo 4, bar 2):
        # node1 foo u 50 -> 5, bar u 50 -> 5: 40 / 8 = 5; node2 foo u 100 -> 10, bar u 25 -> 2: 40 / 8 = 5
        ("more resources", [], {FOO: 4, BAR: 2}, [5, 5]),
    ],
)
def test_bin_packing_multiple_extended(name, existing, pod, expected):
    state = make_state([node("node1", cpu="4", memory="10000Mi", **{FOO: 8, BAR: 4}),
                        node("node2", cpu="4", memory="10000Mi", **{FOO: 4, BAR: 8})], existing)
    assert scores(rtcr(((FOO, 3), (BAR, 5)), BIN_PACK), state, make_pod(state, pod)) == expected


@pytest.mark.parametrize(
    "points, assertions",
    [
        # TestBrokenLinearFunction case_0: (10,1), (90,9); e.g. p=15: 1 + 8*5/80 = 1 + 0 = 1,
        # p=20: 1 + 80/80 = 2, p=89: 1 + 632/80 = 1 + 7 = 8
        (((10, 1), (90, 9)), [(-10, 1), (0, 1), (9, 1), (10, 1), (15, 1), (19, 1), (20, 2), (89, 8), (90, 9),
                              (99, 9), (100, 9), (110, 9)]),
        # case_1: (0,2), (40,10), (100,0); p=20: 2 + 8*20/40 = 6; p=30: 2 + 240/40 = 8; p=70: 10 - 300/60 = 5.
        # k8sim addition p=71: 10 + (-10*31)/60 = 10 + trunc(-5.17) = 5 (Go truncates toward zero; floor gives 4)
        (((0, 2), (40, 10), (100, 0)), [(-10, 2), (0, 2), (20, 6), (30, 8), (40, 10), (70, 5), (71, 5), (100, 0),
                                        (110, 0)]),
        # case_2: flat (0,2), (40,2), (100,2)
        (((0, 2), (40, 2), (100, 2)), [(-10, 2), (0, 2), (20, 2), (30, 2), (40, 2), (70, 2), (100, 2), (110, 2)]),
    ],
)
def test_broken_linear_function(points, assertions):
    ps = np.array([p for p, _ in assertions], dtype=np.int64)
    assert broken_linear(points, ps).tolist() == [e for _, e in assertions]


def test_round_half_away_and_zero_scores_dropped():
    # Weighted mean rounding: cpu weight 1 scores 25 (u 75), memory weight 1 scores 50 (u 50): 37.5 -> 38
    # (math.Round, not banker's 38 / floor 37). And a resource scoring 0 is left out entirely: with
    # memory at capacity (f(100) = 0) the node scores cpu's 25 alone, not (25 + 0) / 2 = 12.5 -> 13.
    state = make_state([node("n", cpu="4", memory=10000)])
    assert scores(rtcr(), state, make_pod(state, {"cpu": "3", "memory": 5000})) == [38]
    assert scores(rtcr(), state, make_pod(state, {"cpu": "3", "memory": 10000})) == [25]
    # weights 3:1 -> (25*3 + 50) / 4 = 31.25 -> 31
    assert scores(rtcr((("cpu", 3), ("memory", 1))), state, make_pod(state, {"cpu": "3", "memory": 5000})) == [31]


@pytest.mark.parametrize(
    "shape, match",
    [
        ((), "at least one point"),                      # validateFunctionShape: empty shape
        (((50, 1), (50, 2)), "increasing"),              # utilization not strictly increasing
        (((60, 1), (10, 2)), "increasing"),              # out of order
        (((0, 1), (101, 2)), r"utilization: 101 not in valid range \[0, 100\]"),
        (((-1, 1), (10, 2)), r"utilization: -1 not in valid range"),
        (((0, 11),), r"score: 11 not in valid range \[0, 10\]"),
        (((0, -1),), r"score: -1 not in valid range"),
    ],
)
def test_shape_validation(shape, match):
    with pytest.raises(ValueError, match=match):
        rtcr(shape=shape)


def test_shape_required_for_strategy():
    with pytest.raises(ValueError, match="requestedToCapacityRatio"):
        NodeResourcesFitArgs.model_validate({"scoringStrategy": {"type": "RequestedToCapacityRatio"}})
    args = NodeResourcesFitArgs.model_validate({"scoringStrategy": {
        "type": "RequestedToCapacityRatio",
        "resources": [{"name": "cpu", "weight": 1}],
        "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}}})
    assert NodeResourcesFit(args).shape == ((0, 0), (100, 100))
