"""explain_pod: per-node rejections and reasons, per-plugin scores, ties, and that
explaining leaves the state, the profile's start index and every random stream as
they were.

Expected scores are derived by hand in the comments, with upstream's integer
arithmetic (least_allocated.go ``leastRequestedScore``: ``(capacity - requested) * 100 /
capacity`` per resource, then the weighted mean, int64 truncation; taint_toleration.go
NormalizeScore = ``DefaultNormalizeScore(100, reverse=true)``, which maps all-zero raw
scores to 100), as in tests/scheduling/test_node_resources_fit.py.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.cluster import ops
from k8sim.cluster.nodes import TaintSpec
from k8sim.rng import Streams
from k8sim.scheduling.explain import explain_pod
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.plugins.base import ScorePlugin
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.scheduling.plugins.node_unschedulable import NodeUnschedulable
from k8sim.scheduling.plugins.random_score import RandomScore
from k8sim.scheduling.plugins.taint_toleration import TaintToleration

GPU_TAINT = TaintSpec("dedicated", "gpu", "NoSchedule")


def profile(scores, filters=None, percentage=0, seed=0) -> Profile:
    streams = Streams(seed)
    filters = filters if filters is not None else [NodeUnschedulable(), TaintToleration(), NodeResourcesFit()]
    for i, p in enumerate([*filters, *(p for p, _ in scores)]):
        p.setup(streams.generator("plugin", i))
    return Profile("test", filters, scores, streams.generator("tie-break", 0), percentage)


@pytest.fixture
def six_nodes():
    """n1, n2 fit; n3 lacks cpu and memory; n4 is tainted; n5 is cordoned and tainted;
    n6 lacks cpu only."""
    state = make_state(
        [
            node("n1", cpu="4", memory="8Gi"),
            node("n2", cpu="4", memory="8Gi"),
            node("n3", cpu="2", memory="4Gi"),
            node("n4", cpu="4", memory="8Gi", taints=[GPU_TAINT]),
            node("n5", cpu="4", memory="8Gi", taints=[GPU_TAINT]),
            node("n6", cpu="500m", memory="8Gi"),
        ],
        pods=[("n1", {"cpu": "1", "memory": "2Gi"}), ("n3", {"cpu": "1500m", "memory": "3Gi"})],
    )
    ops.set_unschedulable(state, state.nodes.name_index["n5"], True)
    return state


def test_rejections_reasons_and_scores(six_nodes):
    state = six_nodes
    pod = make_pod(state, {"cpu": "1", "memory": "2Gi"})
    tt, fit = TaintToleration(), NodeResourcesFit()
    prof = profile([(tt, 3), (fit, 1)], filters=[NodeUnschedulable(), tt, fit])
    exp = explain_pod(state, prof, pod, "web-0")

    # Filters run in order NodeUnschedulable, TaintToleration, NodeResourcesFit and a node
    # is charged to the first that rejects it: n5 is cordoned AND tainted -> NodeUnschedulable.
    # n3: free cpu 2000-1500 = 500m < 1000m and free memory 4Gi-3Gi = 1Gi < 2Gi -> both reasons.
    # n6: free cpu 500m < 1000m, memory fits -> cpu only.
    assert exp.rejected_by == [None, None, "NodeResourcesFit", "TaintToleration", "NodeUnschedulable",
                               "NodeResourcesFit"]
    assert exp.reasons == [None, None, "Insufficient cpu, Insufficient memory", "node(s) had untolerated taint(s)",
                           "node(s) were unschedulable", "Insufficient cpu"]
    assert exp.feasible.tolist() == [0, 1]
    assert exp.rejections() == {"TaintToleration": 1, "NodeResourcesFit": 2, "NodeUnschedulable": 1}
    # The summary counts reasons (a node under each of its reasons); the "<count> <reason>"
    # strings are sorted as strings (FitError.Error sortReasonsHistogram), so the 2 comes last.
    assert exp.message == (
        "2/6 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint(s), "
        "1 node(s) were unschedulable, 2 Insufficient cpu."
    )

    by_name = {s.name: s for s in exp.scores}
    # TaintToleration: no PreferNoSchedule taint anywhere -> raw 0, 0 -> reverse normalised 100, 100.
    assert by_name["TaintToleration"].raw.tolist() == [0, 0]
    assert by_name["TaintToleration"].normalized.tolist() == [100, 100]
    assert by_name["TaintToleration"].weight == 3
    # NodeResourcesFit LeastAllocated (cpu, memory weight 1 each):
    # n1 holds 1 cpu / 2Gi: cpu (4000-2000)*100/4000 = 50, memory (8Gi-4Gi)*100/8Gi = 50 -> 50
    # n2 empty:             cpu (4000-1000)*100/4000 = 75, memory (8Gi-2Gi)*100/8Gi = 75 -> 75
    # Its NormalizeScore is the identity.
    assert by_name["NodeResourcesFit"].raw.tolist() == [50, 75]
    assert by_name["NodeResourcesFit"].normalized.tolist() == [50, 75]
    # Totals: n1 3*100 + 1*50 = 350, n2 3*100 + 1*75 = 375.
    assert exp.totals.tolist() == [350, 375]
    assert exp.best == ["n2"] and exp.chosen == "n2"
    # 6 nodes < 100: every node is searched, both feasible nodes are in the sample.
    assert exp.sample_size == 6 and exp.sample.tolist() == [0, 1]


def test_frame_and_dict(six_nodes):
    state = six_nodes
    pod = make_pod(state, {"cpu": "1", "memory": "2Gi"})
    tt, fit = TaintToleration(), NodeResourcesFit()
    exp = explain_pod(state, profile([(tt, 3), (fit, 1)], filters=[NodeUnschedulable(), tt, fit]), pod, "web-0")

    frame = exp.to_frame()
    assert len(frame) == state.nodes.n
    assert frame["node"].tolist() == ["n1", "n2", "n3", "n4", "n5", "n6"]
    assert frame["feasible"].tolist() == [True, True, False, False, False, False]
    assert frame["NodeResourcesFit.normalized"].tolist()[:2] == [50, 75]
    assert frame["TaintToleration.weighted"].tolist()[:2] == [300, 300]
    assert frame["total"].isna().tolist() == [False, False, True, True, True, True]
    assert frame["best"].tolist() == [False, True, False, False, False, False]
    assert frame.attrs["weights"] == {"TaintToleration": 3, "NodeResourcesFit": 1}

    doc = json.loads(json.dumps(exp.to_dict()))  # JSON-serialisable
    assert doc["pod"] == "web-0" and doc["chosen"] == "n2" and doc["nodes_feasible"] == 2
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert nodes["n1"]["scores"]["NodeResourcesFit"] == {"raw": 50, "normalized": 50, "weighted": 50}
    assert nodes["n2"]["total"] == 375
    # n3 (fit.go fitsRequest): cpu requested 1000m, used 1500m, capacity 2000m; memory
    # requested 2Gi, used 3Gi, capacity 4Gi; neither request exceeds the capacity, so the
    # code is Unschedulable (preemption could help).
    gi = 1024**3
    assert nodes["n3"] == {
        "name": "n3", "feasible": False, "rejected_by": "NodeResourcesFit",
        "reason": "Insufficient cpu, Insufficient memory",
        "status": "Unschedulable", "reasons": ["Insufficient cpu", "Insufficient memory"],
        "insufficient_resources": [
            {"resource": "cpu", "reason": "Insufficient cpu", "requested": 1000, "used": 1500, "capacity": 2000,
             "unresolvable": False},
            {"resource": "memory", "reason": "Insufficient memory", "requested": 2 * gi, "used": 3 * gi,
             "capacity": 4 * gi, "unresolvable": False},
        ],
    }
    assert doc["rejections"] == {"TaintToleration": 1, "NodeResourcesFit": 2, "NodeUnschedulable": 1}


def test_ties_list_every_best_node():
    # n1, n2 identical and empty; n3 holds 2 cpu / 4Gi.
    # LeastAllocated for a 1 cpu / 2Gi pod: n1, n2: (4000-1000)*100/4000 = 75 and 75 -> 75;
    # n3: cpu (4000-3000)*100/4000 = 25, memory (8Gi-6Gi)*100/8Gi = 25 -> 25.
    state = make_state([node(f"n{i}", cpu="4", memory="8Gi") for i in (1, 2, 3)],
                       pods=[("n3", {"cpu": "2", "memory": "4Gi"})])
    pod = make_pod(state, {"cpu": "1", "memory": "2Gi"})
    exp = explain_pod(state, profile([(NodeResourcesFit(), 1)]), pod)
    assert exp.totals.tolist() == [75, 75, 25]
    assert exp.best == ["n1", "n2"]
    assert exp.chosen is None
    assert exp.to_dict()["best"] == ["n1", "n2"]


def test_no_score_plugins_every_feasible_node_ties():
    state = make_state([node(f"n{i}", cpu="4", memory="8Gi") for i in (1, 2)])
    exp = explain_pod(state, profile([]), make_pod(state, {"cpu": "1"}))
    assert exp.totals.tolist() == [0, 0] and exp.best == ["n1", "n2"]


class _SkipAll(ScorePlugin):
    name = "SkipAll"

    def pre_score(self, state, pod):
        return False

    def score(self, state, pod, candidates):  # pragma: no cover - must not run
        raise AssertionError("Score called after PreScore skipped")


def test_prescore_skip_adds_nothing():
    state = make_state([node("n1", cpu="4", memory="8Gi"), node("n2", cpu="4", memory="8Gi")],
                       pods=[("n1", {"cpu": "2", "memory": "4Gi"})])
    exp = explain_pod(state, profile([(_SkipAll(), 10), (NodeResourcesFit(), 1)]),
                      make_pod(state, {"cpu": "1", "memory": "2Gi"}))
    skip = exp.scores[0]
    assert skip.skipped and skip.raw is None
    # n1: cpu (4000-3000)*100/4000 = 25, memory (8Gi-6Gi)*100/8Gi = 25 -> 25; n2: 75.
    assert exp.totals.tolist() == [25, 75]
    assert exp.to_dict()["nodes"][0]["scores"]["SkipAll"] is None


def test_no_feasible_node():
    state = make_state([node("n1", cpu="1", memory="1Gi")])
    exp = explain_pod(state, profile([(NodeResourcesFit(), 1)]), make_pod(state, {"cpu": "2"}))
    assert exp.best == [] and exp.chosen is None and exp.totals.size == 0
    assert exp.message == "0/1 nodes are available: 1 Insufficient cpu."


def _snapshot(state):
    nodes = state.nodes
    return (nodes.free.copy(), nodes.requested.copy(), nodes.nonzero_requested.copy(), state.group_counts.copy(),
            state.generation, nodes.version, state.pods.n)


def test_explain_mutates_nothing_and_consumes_no_randomness():
    # 120 nodes and percentageOfNodesToScore 50: numFeasibleNodesToFind(120, 50) = max(120*50/100, 100)
    # = 100 < 120 feasible, so a real cycle would search a rotating subset and move the start index.
    state = make_state([node(f"n{i:03d}", cpu="4", memory="8Gi") for i in range(120)])
    pod = make_pod(state, {"cpu": "1", "memory": "1Gi"})
    rand = RandomScore()
    prof = profile([(rand, 1), (NodeResourcesFit(), 1)], percentage=50, seed=3)
    prof.next_start_node_index = 7
    tie_state = prof.rng.bit_generator.state
    rand_state = rand.rng.bit_generator.state
    before = _snapshot(state)

    exp = explain_pod(state, prof, pod)

    assert prof.next_start_node_index == 7
    assert prof.rng.bit_generator.state == tie_state
    assert rand.rng.bit_generator.state == rand_state
    after = _snapshot(state)
    for a, b in zip(before, after, strict=True):
        assert np.array_equal(a, b)
    assert exp.feasible.size == 120 and exp.sample_size == 100
    # The sample is what the next real cycle searches: from index 7 on, 100 feasible nodes
    # (7..106), which moves the start index to 107 -- the move explain_pod undid.
    sample = prof.find_feasible(state, pod)
    assert np.sort(sample).tolist() == exp.sample.tolist() == list(range(7, 107))
    assert prof.next_start_node_index == 107
