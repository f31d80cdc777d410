"""Research policies (FirstFit, BestFit, WorstFit, Tetris, DRF, Random) as score plugins.

None of these is an upstream plugin, so there is no upstream test table to mirror:
every expected score is derived by hand in the comments from the formula in the
plugin's docstring. End-to-end cases run a small scenario with the plugin named by
its "module:Class" string on top of the filter-only ``random`` preset (default
filters, no other score, every node searched), so the plugin alone decides.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from builders import make_pod, make_state, node
from pydantic import ValidationError

import k8sim
from k8sim.scheduling.plugins.best_fit import BestFit, ResourcesArgs
from k8sim.scheduling.plugins.drf import DominantResourceFairness, DRFArgs
from k8sim.scheduling.plugins.first_fit import FirstFit
from k8sim.scheduling.plugins.random_score import RandomScore
from k8sim.scheduling.plugins.tetris import Tetris
from k8sim.scheduling.plugins.worst_fit import WorstFit

GPU = "example.com/gpu"
_P = "k8sim.scheduling.plugins."


def args(cls, *resources):
    """``cls`` with ``resources`` given as (name, weight) pairs (DRF: names)."""
    if cls is DominantResourceFairness:
        return cls(DRFArgs.model_validate({"resources": [{"name": r} for r in resources]}))
    return cls(ResourcesArgs.model_validate({"resources": [{"name": n, "weight": w} for n, w in resources]}))


def scores(plugin, state, pod, candidates=None):
    cand = np.arange(state.nodes.n) if candidates is None else np.asarray(candidates)
    raw = plugin.score(state, pod, cand)
    assert raw.dtype == np.int64 and raw.shape == cand.shape
    return plugin.normalize(pod, raw).tolist()


def two_nodes_upstream_sizes():
    # The node sizes of upstream's "nothing scheduled, resources requested, differently
    # sized nodes" cases (least_allocated_test.go), cpu in milli.
    return make_state([node("node1", cpu="4000m", memory=10000), node("node2", cpu="6000m", memory=10000)])


def thirds():
    # One node where the pod takes 1/3 of the cpu and 2/3 of the memory.
    return make_state([node("n", cpu="3000m", memory=3000)])


def unbalanced():
    # Both nodes 10 cpu / 10000 bytes; node1 holds (8000m, 0), node2 holds (5000m, 5000).
    return make_state(
        [node("node1", cpu="10000m", memory=10000), node("node2", cpu="10000m", memory=10000)],
        pods=[("node1", {"cpu": "8000m"}), ("node2", {"cpu": "5000m", "memory": 5000})],
    )


def complementary():
    # Both nodes 4 cpu / 4000 bytes; node1 holds a memory-heavy pod (0, 3000), node2 a
    # cpu pod (2000m, 0): free is node1 (4000m, 1000), node2 (2000m, 4000).
    return make_state(
        [node("node1", cpu="4000m", memory=4000), node("node2", cpu="4000m", memory=4000)],
        pods=[("node1", {"memory": 3000}), ("node2", {"cpu": "2000m"})],
    )


# --------------------------------------------------------------------------- FirstFit


@pytest.mark.parametrize(
    "candidates, expected",
    [
        ([0, 1, 2], [100, 0, 0]),  # lowest index is first
        ([2, 0, 1], [0, 100, 0]),  # candidates in rotated (sampling) order: node 0 still wins
        ([2, 1], [0, 100]),  # node 0 is not a candidate: node 1 is the first feasible
    ],
)
def test_first_fit_scores(candidates, expected):
    state = make_state([node(f"n{i}") for i in range(3)])
    assert scores(FirstFit(), state, make_pod(state, {"cpu": "1"}), candidates) == expected


# --------------------------------------------------------------------------- BestFit / WorstFit


@pytest.mark.parametrize(
    "name, state, pod, resources, best, worst",
    [
        (
            # pod (3000m, 5000). node1 after placement: cpu used 3000/4000 = 75%, mem 5000/10000 = 50%;
            # best = floor((75 + 50) / 2) = floor(62.5) = 62, worst = floor((25 + 50) / 2) = 37.
            # node2: cpu 3000/6000 = 50%, mem 50% -> best 50, worst 50.
            "differently sized nodes", two_nodes_upstream_sizes, {"cpu": "3000m", "memory": 5000},
            (("cpu", 1), ("memory", 1)), [62, 50], [37, 50],
        ),
        (
            # cpu weight 2: node1 best = floor((2*75 + 50) / 3) = floor(66.67) = 66,
            # worst = floor((2*25 + 50) / 3) = floor(33.33) = 33; node2: all 50.
            "weights", two_nodes_upstream_sizes, {"cpu": "3000m", "memory": 5000},
            (("cpu", 2), ("memory", 1)), [66, 50], [33, 50],
        ),
        (
            # cpu 1000/3000 = 1/3 used, memory 2000/3000 = 2/3 used: the mean is exactly 1/2,
            # best = worst = 50. (Truncating per resource, as NodeResourcesFit's MostAllocated
            # does, would give (33 + 66) / 2 = 49: BestFit floors once, at the end.)
            "floor once at the end", thirds, {"cpu": "1000m", "memory": 2000},
            (("cpu", 1), ("memory", 1)), [50], [50],
        ),
        (
            # cpu weight 7, pod (5000m, 1000) on a (6000m, 6000) node: used 5/6 and 1/6.
            # best = (7 * 500/6 + 100/6) / 8 = (3600/6) / 8 = 75 exactly; worst = (7 * 100/6 + 500/6) / 8 = 25.
            # In float64, (7 * 83.333... + 16.666...) / 8 = 74.99999999999999: the 1e-9 added before
            # the floor keeps it at 75.
            "float rounding", lambda: make_state([node("n", cpu="6000m", memory=6000)]),
            {"cpu": "5000m", "memory": 1000}, (("cpu", 7), ("memory", 1)), [75], [25],
        ),
        (
            # node1 after: cpu 9000/10000 = 90% used, mem 1000/10000 = 10%; best (90+10)/2 = 50, worst 50.
            # node2 after: 6000/10000 = 60%, 6000/10000 = 60%; best 60, worst 40.
            "existing pods", unbalanced, {"cpu": "1000m", "memory": 1000},
            (("cpu", 1), ("memory", 1)), [50, 60], [50, 40],
        ),
        (
            # A pod that requests nothing: no non-zero defaults, so only existing pods count.
            # node1: cpu 80%, mem 0% -> best 40, worst 60; node2: 50%, 50% -> 50, 50.
            "pod without requests", unbalanced, {},
            (("cpu", 1), ("memory", 1)), [40, 50], [60, 50],
        ),
        (
            # Resources (cpu, gpu). node1 has 4 gpus, node2 none. pod 1000m of 4000m: cpu used 25%.
            # node1: gpu 0/4 used -> best (25 + 0) / 2 = 12 (12.5 floored), worst (75 + 100) / 2 = 87.
            # node2: gpu allocatable 0 -> left out of the mean: best 25, worst 75.
            "resource a node lacks", lambda: make_state([node("node1", cpu="4", **{GPU: 4}), node("node2", cpu="4")]),
            {"cpu": "1000m"}, (("cpu", 1), (GPU, 1)), [12, 25], [87, 75],
        ),
        (
            # A listed resource no node has is dropped: only cpu counts.
            # node1 (3000m of 4000m used) 75 / 25, node2 (3000m of 6000m) 50 / 50.
            "resource unknown to the cluster", two_nodes_upstream_sizes, {"cpu": "3000m", "memory": 5000},
            (("example.com/none", 7), ("cpu", 1)), [75, 50], [25, 50],
        ),
    ],
)
def test_best_and_worst_fit_scores(name, state, pod, resources, best, worst):
    s = state()
    p = make_pod(s, pod)
    assert scores(args(BestFit, *resources), s, p) == best
    assert scores(args(WorstFit, *resources), s, p) == worst


def test_best_fit_default_args_are_cpu_and_memory():
    # Same case as "differently sized nodes" with the default Args.
    s = two_nodes_upstream_sizes()
    p = make_pod(s, {"cpu": "3000m", "memory": 5000})
    assert scores(BestFit(), s, p) == [62, 50]
    assert scores(WorstFit(), s, p) == [37, 50]


@pytest.mark.parametrize(
    "raw",
    [
        {"resources": [{"name": "cpu"}, {"name": "cpu"}]},  # duplicate
        {"resources": []},  # empty
        {"resources": [{"name": "cpu", "weight": 0}]},  # weight below 1
        {"resources": [{"name": "cpu", "weight": 101}]},  # weight above 100
        {"resource": [{"name": "cpu"}]},  # unknown field
    ],
)
def test_resources_args_rejects(raw):
    with pytest.raises(ValidationError):
        BestFit.parse_args(raw)


# --------------------------------------------------------------------------- Tetris


@pytest.mark.parametrize(
    "resources, pod, raw, normalized",
    [
        (
            # pod (2000m, 500) on complementary(): free node1 (4000m, 1000), node2 (2000m, 4000), alloc (4000m, 4000).
            # node1: cpu (2000/4000)*(4000/4000) = 0.5, mem (500/4000)*(1000/4000) = 0.03125
            #        -> (0.5 + 0.03125) / 2 = 0.265625 -> raw 265625
            # node2: cpu 0.5*(2000/4000) = 0.25, mem 0.125*(4000/4000) = 0.125 -> 0.1875 -> raw 187500
            # normalized: node1 100, node2 187500*100 // 265625 = 70 (70.59 truncated)
            (("cpu", 1), ("memory", 1)), {"cpu": "2000m", "memory": 500}, [265625, 187500], [100, 70],
        ),
        (
            # cpu weight 3: node1 (3*0.5 + 0.03125) / 4 = 0.3828125 -> raw 382812 (382812.5 floored)
            # node2 (3*0.25 + 0.125) / 4 = 0.21875 -> raw 218750; normalized 21875000 // 382812 = 57
            (("cpu", 3), ("memory", 1)), {"cpu": "2000m", "memory": 500}, [382812, 218750], [100, 57],
        ),
        (
            # A pod that requests nothing is aligned with nothing: raw 0 everywhere, normalized 0.
            (("cpu", 1), ("memory", 1)), {}, [0, 0], [0, 0],
        ),
    ],
)
def test_tetris_scores(resources, pod, raw, normalized):
    s = complementary()
    p = make_pod(s, pod)
    plugin = args(Tetris, *resources)
    r = plugin.score(s, p, np.arange(2))
    assert r.tolist() == raw
    assert plugin.normalize(p, r).tolist() == normalized


# --------------------------------------------------------------------------- DRF


@pytest.mark.parametrize(
    "state, resources, expected",
    [
        # pod (3000m, 5000). node1 shares after: cpu 0.75, mem 0.5 -> dominant 0.75 -> 25.
        # node2: cpu 0.5, mem 0.5 -> 50.
        (two_nodes_upstream_sizes, ("cpu", "memory"), [25, 50]),
        # memory only: 0.5 on both -> 50, 50.
        (two_nodes_upstream_sizes, ("memory",), [50, 50]),
    ],
)
def test_drf_scores(state, resources, expected):
    s = state()
    assert scores(args(DominantResourceFairness, *resources), s, make_pod(s, {"cpu": "3000m", "memory": 5000})) == expected


def test_drf_differs_from_worst_fit():
    # pod (1000m, 1000) on unbalanced(). node1 after: cpu 0.9, mem 0.1; node2: 0.6, 0.6.
    # DRF: node1 100*(1 - 0.9) = 10, node2 100*(1 - 0.6) = 40 -> node2.
    # WorstFit (mean remaining): node1 (10 + 90) / 2 = 50, node2 40 -> node1.
    s = unbalanced()
    p = make_pod(s, {"cpu": "1000m", "memory": 1000})
    assert scores(DominantResourceFairness(), s, p) == [10, 40]
    assert scores(WorstFit(), s, p) == [50, 40]


def test_drf_args():
    assert [r.name for r in DominantResourceFairness().args.resources] == ["cpu", "memory"]
    with pytest.raises(ValidationError):  # a dominant share is a max: no weights
        DominantResourceFairness.parse_args({"resources": [{"name": "cpu", "weight": 2}]})
    with pytest.raises(ValidationError):
        DominantResourceFairness.parse_args({"resources": [{"name": "cpu"}, {"name": "cpu"}]})


# --------------------------------------------------------------------------- Random


def test_random_scores_are_uniform_and_seeded():
    s = make_state([node(f"n{i}") for i in range(4)])
    p = make_pod(s, {"cpu": "1"})
    a, b, c = RandomScore(), RandomScore(), RandomScore()
    a.setup(np.random.default_rng(5))
    b.setup(np.random.default_rng(5))
    c.setup(np.random.default_rng(6))
    cand = np.arange(4)
    draws = np.concatenate([a.score(s, p, cand) for _ in range(5000)])
    assert draws.dtype == np.int64
    assert np.array_equal(draws, np.concatenate([b.score(s, p, cand) for _ in range(5000)]))
    assert not np.array_equal(draws[:100], np.concatenate([c.score(s, p, cand) for _ in range(25)]))
    # 20000 draws from {0..100}: both ends occur (P(missing one) = (100/101)^20000 ~ e^-198),
    # nothing outside, and the mean is 50 within 7 standard errors (29.15 / sqrt(20000) = 0.21).
    assert draws.min() == 0 and draws.max() == 100
    assert abs(draws.mean() - 50) < 1.5


def test_random_needs_setup():
    s = make_state([node("n0"), node("n1")])
    with pytest.raises(RuntimeError, match="setup"):
        RandomScore().score(s, make_pod(s, {}), np.arange(2))


# --------------------------------------------------------------------------- end to end


def run(plugin: str, count: int, nodes: list[dict], initial: list[dict] = (), requests=None, seed: int = 1):
    sc = k8sim.validate_scenario({
        "version": 1,
        "seed": seed,
        "cluster": {"nodes": nodes},
        "initial_pods": list(initial),
        "workloads": [{
            "name": "w",
            "arrival": {"kind": "burst", "count": count, "at_s": 0},
            "template": {"requests": requests or {"cpu": "1", "memory": "1Gi"}},
        }],
        "scheduler": {"profiles": [{
            "preset": "random",
            "plugins": [{"name": _P + plugin}],
            "percentageOfNodesToScore": 100,
        }]},
    })
    pods = k8sim.run(sc).pods
    pods = pods[pods["workload"] == "w"]
    assert (pods["node"] != "").all()
    return Counter(pods["node"].tolist())


def same_nodes(names="abc", cpu="4", memory="8Gi"):
    return [{"name": n, "allocatable": {"cpu": cpu, "memory": memory}} for n in names]


def test_first_fit_fills_node_0_before_node_1():
    # 6 one-cpu pods on three 4-cpu nodes: node a (index 0) takes 4, then is infeasible,
    # node b takes the remaining 2, node c none.
    assert run("first_fit:FirstFit", 6, same_nodes()) == {"a": 4, "b": 2}


def test_best_fit_packs():
    # 6 one-cpu pods on three empty 4-cpu nodes. The first pod ties (all empty) and lands
    # anywhere; after it that node is the fullest, so it wins until full (4 pods); the
    # remaining 2 go together on one of the other two (the first of them ties, then packs).
    counts = run("best_fit:BestFit", 6, same_nodes())
    assert sorted(counts.values()) == [2, 4]


def test_worst_fit_spreads():
    # Each pod goes to a node with the most remaining capacity, i.e. one with the fewest
    # pods: after 6 pods the three nodes hold 2 each.
    assert run("worst_fit:WorstFit", 6, same_nodes()) == {"a": 2, "b": 2, "c": 2}


def test_tetris_uses_complementary_capacity():
    # complementary() in quantities: a holds a memory-heavy pod (3Gi of 4Gi), b a 2-cpu pod
    # (of 4). A (2 cpu, 512Mi) pod: a: cpu 0.5*1 + mem 0.125*0.25 = 0.53125; b: cpu 0.5*0.5 +
    # mem 0.125*1 = 0.375 -> a (whose free cpu matches the cpu-heavy demand).
    nodes = same_nodes("ab", memory="4Gi")
    initial = [{"name": "mem-hog", "nodeName": "a", "requests": {"memory": "3Gi"}},
               {"name": "cpu-hog", "nodeName": "b", "requests": {"cpu": "2"}}]
    assert run("tetris:Tetris", 1, nodes, initial, {"cpu": "2", "memory": "512Mi"}) == {"a": 1}


def test_drf_and_worst_fit_disagree_end_to_end():
    # unbalanced() in quantities: a holds 8 of 10 cpu, b holds 5 cpu and 5Gi of 10Gi.
    # A (1 cpu, 1Gi) pod: DRF picks b (dominant share 0.6 < 0.9); WorstFit picks a
    # (mean remaining 50% > 40%). See test_drf_differs_from_worst_fit.
    nodes = same_nodes("ab", cpu="10", memory="10Gi")
    initial = [{"name": "x", "nodeName": "a", "requests": {"cpu": "8"}},
               {"name": "y", "nodeName": "b", "requests": {"cpu": "5", "memory": "5Gi"}}]
    assert run("drf:DominantResourceFairness", 1, nodes, initial) == {"b": 1}
    assert run("worst_fit:WorstFit", 1, nodes, initial) == {"a": 1}


def test_random_spreads_and_is_reproducible():
    # 40 small pods on 4 big nodes, each placed uniformly at random: every node gets some
    # (P(a given node gets none) = (3/4)^40 ~ 1e-5); the same seed gives the same placement.
    nodes = same_nodes("abcd", cpu="64", memory="64Gi")
    first = run("random_score:RandomScore", 40, nodes, seed=3)
    assert set(first) == set("abcd") and sum(first.values()) == 40
    assert run("random_score:RandomScore", 40, nodes, seed=3) == first
