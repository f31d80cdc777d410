"""The Score phase of a cycle without an incremental entry (a shape's first cycle, or the
caches off): NodeResourcesFit and NodeResourcesBalancedAllocation read the candidates'
allocatable columns gathered once per cycle (``CandidateColumns``) with in-place steps,
their range is not checked per cycle (in range by construction: ``scores_bounded``), and
an unrecorded cycle leaves out TaintToleration when its score is the same on every node
(``uniform_score``). Decisions, tie-break stream positions and every table stay as with
every plugin scored, and the scores follow upstream's formulas node by node.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import make_pod, make_state, node, randomise_usage

from k8sim import validate_scenario
from k8sim.cluster import ops
from k8sim.cluster.nodes import TaintSpec
from k8sim.config.k8s_types import Affinity
from k8sim.config.pods import Toleration
from k8sim.scheduling import kernels
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.plugins.balanced_allocation import NodeResourcesBalancedAllocation
from k8sim.scheduling.plugins.base import ScorePlugin
from k8sim.scheduling.plugins.node_affinity import NodeAffinity, NodeAffinityArgs
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.scheduling.plugins.shared import CandidateColumns
from k8sim.scheduling.plugins.taint_toleration import TaintToleration
from k8sim.sim.simulation import Simulation

SPOT = TaintSpec("spot", "yes", "PreferNoSchedule")


# Every test twice: with the compiled kernels and with the numpy path they replace.
pytestmark = pytest.mark.usefixtures("kernels_both_ways")


# -- the arithmetic, node by node, as upstream writes it ------------------------------

def _least_requested(requested: int, capacity: int) -> int:
    """Upstream ``leastRequestedScore`` (noderesources/least_allocated.go)."""
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * 100 // capacity


def _most_requested(requested: int, capacity: int) -> int:
    """Upstream ``mostRequestedScore`` (noderesources/most_allocated.go)."""
    if capacity == 0:
        return 0
    return min(requested, capacity) * 100 // capacity


def _fit_reference(strategy: str, weights: tuple[int, int], alloc: list[int], requested: list[int]) -> int:
    """Upstream ``leastResourceScorer`` / ``mostResourceScorer``: a resource with
    allocatable 0 is left out of the weighted mean (Go integer division, operands >= 0)."""
    one = _least_requested if strategy == "LeastAllocated" else _most_requested
    total = weight_sum = 0
    for a, r, w in zip(alloc, requested, weights, strict=True):
        if a == 0:
            continue
        total += one(r, a) * w
        weight_sum += w
    return total // weight_sum if weight_sum else 0


def _balanced_reference(alloc: list[int], requested: list[int]) -> int:
    """Upstream ``balancedResourceScorer`` (noderesources/balanced_allocation.go) on
    Python floats (IEEE doubles, as Go's float64)."""
    fractions = []
    for a, r in zip(alloc, requested, strict=True):
        if a == 0:
            continue
        fractions.append(min(float(r) / float(a), 1.0))
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) * (f - mean) for f in fractions) / len(fractions))
    return int((1 - std) * 100)


def _usage_state(seed: int, n: int = 120):
    state = make_state([node(f"n{i}", cpu="8", memory="32Gi") for i in range(n)])
    randomise_usage(state.nodes, seed)  # zero allocatables, overcommit, full nodes, huge memory
    return state


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("strategy", "weights"), [("LeastAllocated", (1, 1)), ("LeastAllocated", (3, 1)),
                                                    ("MostAllocated", (1, 1)), ("MostAllocated", (2, 5))])
def test_fit_scores_follow_upstream_on_shared_columns(seed, strategy, weights):
    state = _usage_state(seed)
    nodes = state.nodes
    plugin = NodeResourcesFit.with_strategy(strategy, (("cpu", weights[0]), ("memory", weights[1])))
    rng = np.random.default_rng(seed)
    with_both = np.flatnonzero((nodes.alloc[0] > 0) & (nodes.alloc[1] > 0))
    for pod in (make_pod(state, {"cpu": "250m", "memory": "1Gi"}), make_pod(state, {"cpu": "3"}),
                make_pod(state, {})):  # non-zero defaults for what the pod does not name
        # Candidates that all have cpu and memory (the block path), and any (the general one).
        for candidates in (np.sort(rng.choice(with_both, 40, replace=False)), np.sort(rng.choice(nodes.n, 40))):
            columns = CandidateColumns(nodes, candidates)
            columns.compiled = kernels.enabled  # the kernel, or the numpy steps
            got = plugin.score_with(state, pod, candidates, columns)
            expected = [_fit_reference(strategy, weights, nodes.alloc[:2, c].tolist(),
                                       (nodes.nonzero_requested[:, c] + pod.nonzero).tolist()) for c in candidates]
            assert got.tolist() == expected
            assert plugin.score(state, pod, candidates).tolist() == expected
            assert got.min() >= 0 and got.max() <= 100  # scores_bounded


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_balanced_allocation_scores_follow_upstream_on_shared_columns(seed):
    state = _usage_state(seed)
    nodes = state.nodes
    plugin = NodeResourcesBalancedAllocation()
    rng = np.random.default_rng(seed)
    with_both = np.flatnonzero((nodes.alloc[0] > 0) & (nodes.alloc[1] > 0))
    for pod in (make_pod(state, {"cpu": "250m", "memory": "1Gi"}), make_pod(state, {"memory": "3Gi"})):
        for candidates in (np.sort(rng.choice(with_both, 50, replace=False)), np.sort(rng.choice(nodes.n, 50))):
            columns = CandidateColumns(nodes, candidates)
            columns.compiled = kernels.enabled  # the kernel, or the numpy steps
            got = plugin.score_with(state, pod, candidates, columns)
            # Actual requests (useRequested), no non-zero defaults.
            expected = [_balanced_reference(nodes.alloc[:2, c].tolist(),
                                            (nodes.requested[:2, c] + pod.requests[:2]).tolist()) for c in candidates]
            assert got.tolist() == expected
            assert plugin.score(state, pod, candidates).tolist() == expected
            assert got.min() >= 0 and got.max() <= 100  # scores_bounded


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("strategy", "weights", "plugin_weights"), [
    ("LeastAllocated", (1, 1), (1, 1)), ("LeastAllocated", (3, 1), (2, 5)), ("MostAllocated", (2, 5), (1, 3))])
def test_fused_fit_and_balanced_sum_follows_upstream(seed, strategy, weights, plugin_weights):
    """The kernel that sums NodeResourcesFit's and BalancedAllocation's weighted scores in
    one pass gives ``w_fit * fit + w_balanced * balanced`` of the formulas above, node
    by node; a candidate without allocatable cpu or memory makes it decline."""
    if not kernels.enabled:
        pytest.skip("the kernel itself")
    state = _usage_state(seed)
    nodes = state.nodes
    rng = np.random.default_rng(seed)
    with_both = np.flatnonzero((nodes.alloc[0] > 0) & (nodes.alloc[1] > 0))
    without = np.flatnonzero((nodes.alloc[0] == 0) | (nodes.alloc[1] == 0))
    assert without.size  # randomise_usage makes some
    w_fit, w_balanced = plugin_weights
    for pod in (make_pod(state, {"cpu": "250m", "memory": "1Gi"}), make_pod(state, {"cpu": "3"})):
        candidates = np.sort(rng.choice(with_both, 60, replace=False))
        out = np.zeros(candidates.size, dtype=np.int64)
        assert kernels.fit_and_balanced(nodes.alloc, nodes.nonzero_requested, nodes.requested, candidates,
                                        pod.nonzero, pod.requests, weights[0], weights[1],
                                        strategy == "MostAllocated", w_fit, w_balanced, out)
        expected = [
            w_fit * _fit_reference(strategy, weights, nodes.alloc[:2, c].tolist(),
                                   (nodes.nonzero_requested[:, c] + pod.nonzero).tolist())
            + w_balanced * _balanced_reference(nodes.alloc[:2, c].tolist(),
                                               (nodes.requested[:2, c] + pod.requests[:2]).tolist())
            for c in candidates]
        assert out.tolist() == expected
        mixed = np.sort(np.concatenate((candidates[:5], without[:1])))
        assert not kernels.fit_and_balanced(nodes.alloc, nodes.nonzero_requested, nodes.requested, mixed,
                                            pod.nonzero, pod.requests, weights[0], weights[1],
                                            strategy == "MostAllocated", w_fit, w_balanced, out)


def test_columns_are_gathered_once_and_shared():
    state = _usage_state(5)
    candidates = np.arange(0, state.nodes.n, 3)
    columns = CandidateColumns(state.nodes, candidates)
    assert columns.alloc() is columns.alloc()
    assert columns.alloc().tolist() == state.nodes.alloc[:2, candidates].tolist()
    assert columns.positive() == bool((state.nodes.alloc[:2, candidates] > 0).all())


# -- TaintToleration left out of unrecorded totals when it is uniform -----------------

def _two_plugin_profile(state) -> Profile:
    fit = NodeResourcesFit()
    return Profile("p", [fit], [(TaintToleration(), 3), (fit, 1)], np.random.default_rng(0))


def test_uniform_taint_term_switches_off_once_one_node_has_a_prefer_no_schedule_taint():
    state = make_state([node(f"n{i}", cpu=str(4 + i % 5), memory="16Gi") for i in range(12)])
    plain = make_pod(state, {"cpu": "500m", "memory": "1Gi"})
    tolerant = make_pod(state, {"cpu": "500m", "memory": "1Gi"},
                        tolerations=[Toleration(key="spot", operator="Exists")])
    taint = TaintToleration()
    assert taint.uniform_score(state, plain) and taint.uniform_score(state, tolerant)
    profile = _two_plugin_profile(state)
    candidates = np.arange(state.nodes.n)

    def totals(record: bool) -> np.ndarray:
        profile.record = record
        return profile.weighted_scores(state, plain, candidates)[0]

    # Upstream tainttoleration/taint_toleration.go: Score is the node's count of
    # intolerable PreferNoSchedule taints (countIntolerableTaintsPreferNoSchedule),
    # NormalizeScore is helper.DefaultNormalizeScore(MaxNodeScore, reverse=true, ...):
    # all counts 0 -> every node 100. No taint anywhere: 100 everywhere, weight 3.
    # The unrecorded totals leave that out: the recorded ones are 300 higher everywhere.
    assert (totals(True) - totals(False)).tolist() == [300] * state.nodes.n
    ops.set_taints(state, 4, [SPOT])  # one node: counts 1 there, 0 elsewhere
    assert not taint.uniform_score(state, plain)
    assert not profile.scores[0][0].uniform_score(state, plain)
    assert taint.uniform_score(state, tolerant)  # it tolerates the taint: counts all 0
    assert totals(True).tolist() == totals(False).tolist()  # the term is in again
    recorded = totals(True)
    # TaintToleration's part: 3 * (100 - 100 * count // max) = 0 on the tainted node, 300 elsewhere.
    assert recorded[4] - totals(True)[4] == 0
    fit_only = profile.scores[1][0].score(state, plain, candidates)
    assert (recorded - fit_only).tolist() == [0 if n == 4 else 300 for n in range(state.nodes.n)]
    # Every node tainted once: the counts are all 1, the term uniform (all 0) again.
    for n in range(state.nodes.n):
        ops.set_taints(state, n, [SPOT])
    assert taint.uniform_score(state, plain)
    assert (totals(True) - totals(False)).tolist() == [0] * state.nodes.n


def test_uniform_node_affinity_term_switches_off_once_one_node_matches_a_preferred_term():
    state = make_state([node(f"n{i}", labels={"zone": "a"}, cpu="4", memory="16Gi") for i in range(8)])
    affinity = Affinity.model_validate({"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 7, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}}]}})
    pod = make_pod(state, {"cpu": "1"}, affinity=affinity)
    twin = make_pod(state, {"cpu": "2"}, affinity=affinity)  # another shape of the same template
    plugin = NodeAffinity()
    fit = NodeResourcesFit()
    profile = Profile("p", [fit], [(plugin, 2), (fit, 1)], np.random.default_rng(0))
    candidates = np.arange(state.nodes.n)

    def totals(record: bool) -> np.ndarray:
        profile.record = record
        return profile.weighted_scores(state, pod, candidates)[0]

    assert plugin.pre_score(state, pod)
    assert plugin.uniform_score(state, pod) and plugin.uniform_score(state, twin)  # no node in zone b: all 0
    assert (totals(True) - totals(False)).tolist() == [0] * 8
    labels = state.nodes.node_labels(5)
    labels["zone"] = "b"
    ops.set_labels(state, 5, labels)  # one node matches: weight 7 there, 0 elsewhere
    assert not plugin.uniform_score(state, pod) and not plugin.uniform_score(state, twin)
    # NodeAffinity's part: 2 * (7 * 100 // 7) = 200 on node 5, 0 elsewhere, in both totals.
    fit_only = fit.score(state, pod, candidates)
    assert (totals(False) - fit_only).tolist() == [200 if n == 5 else 0 for n in range(8)]
    assert totals(True).tolist() == totals(False).tolist()
    # addedAffinity (the profile's own preferred terms) matching one node: not uniform.
    added = NodeAffinity(NodeAffinityArgs.model_validate({"addedAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 3, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["b"]}]}}]}}))
    plain = make_pod(state, {"cpu": "1"})
    assert added.pre_score(state, plain) and not added.uniform_score(state, plain)
    ops.set_labels(state, 5, {**labels, "zone": "a"})
    assert added.uniform_score(state, plain) and plugin.uniform_score(state, pod)


def test_uniform_term_kept_when_shortcuts_are_off():
    state = make_state([node(f"n{i}", cpu=str(4 + i % 3), memory="16Gi") for i in range(6)])
    pod = make_pod(state, {"cpu": "1"})
    profile = _two_plugin_profile(state)
    profile.score_shortcuts = False
    candidates = np.arange(6)
    profile.record = False
    off = profile.weighted_scores(state, pod, candidates)[0]
    profile.record = True
    assert off.tolist() == profile.weighted_scores(state, pod, candidates)[0].tolist()


class _OutOfRange(ScorePlugin):
    name = "OutOfRange"

    def score(self, state, pod, candidates):
        return np.where(candidates == candidates[-1], 101, 50).astype(np.int64)


def test_range_check_still_runs_without_an_entry_for_unbounded_plugins():
    state = make_state([node(f"n{i}", cpu="4", memory="16Gi") for i in range(5)])
    pod = make_pod(state, {"cpu": "1"})
    fit = NodeResourcesFit()
    profile = Profile("p", [fit], [(fit, 1), (_OutOfRange(), 1)], np.random.default_rng(0))
    assert profile._entry is None
    with pytest.raises(ValueError, match="OutOfRange returned scores outside"):
        profile.weighted_scores(state, pod, np.arange(5))


# -- whole cycles and whole runs: the same decisions with the shortcuts on and off -----

def _churn_sim(taints: bool) -> Simulation:
    zones = ["z1", "z2", "z3"]
    pools = [
        {"name": "a", "count": 40, "allocatable": {"cpu": "16", "memory": "64Gi"}, "zones": zones},
        {"name": "b", "count": 30, "allocatable": {"cpu": "8", "memory": "32Gi"}, "zones": zones,
         **({"taints": [{"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}]} if taints else {})},
    ]
    templates = [
        {"requests": {"cpu": "500m", "memory": "1Gi"}},
        {"requests": {"cpu": "1", "memory": "2Gi"}, "tolerations": [{"key": "spot", "operator": "Exists"}]},
        {"requests": {"cpu": "250m", "memory": "512Mi"}, "affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z2"]}]}}]}}},
    ]
    doc = {
        "name": "fresh-churn",
        "cluster": {"node_pools": pools},
        "workloads": [{"name": f"w{i}", "arrival": {"kind": "times", "times_s": [1e9]}, "template": t}
                      for i, t in enumerate(templates)],
        "scheduler": {"profiles": [{"preset": "kube-default"}]},
    }
    return Simulation(validate_scenario(doc))


def _churn(taints: bool, shortcuts: bool, record: bool, steps: int = 500) -> list[tuple]:
    """Pods of distinct requests (a new shape each, so no cycle has an entry), with
    binds, releases and taint changes between cycles; every decision, the start index
    and the tie-break stream's state after it."""
    sim = _churn_sim(taints)
    state = sim.state
    profile = next(iter(sim.profiles.values()))
    profile.score_shortcuts = shortcuts
    profile.record = record
    rng = np.random.default_rng(11)
    pods = state.pods
    bound: list[int] = []
    out = []
    templates = list(state.shapes)
    for i in range(steps):
        base = templates[int(rng.integers(len(templates)))]
        requests = base.requests.copy()
        requests[0] += int(rng.integers(1, 4000))  # a new (cpu) request: a new shape
        info = make_pod(state, {"cpu": f"{int(requests[0])}m", "memory": str(int(requests[1]))},
                        tolerations=list(base.tolerations), affinity=base.affinity)
        p = pods.append(name=f"p{i}", requests=info.requests, workload=-1, index=i, shape=info.shape,
                        priority=0, created=0.0, duration=np.inf, start_latency=0.0)
        d = profile.schedule(state, info, p)
        assert profile._entry is None
        out.append((d.node, d.feasible, profile.next_start_node_index, profile.rng.bit_generator.state["state"]))
        if d.node >= 0:
            ops.bind(state, p, d.node, 0.0)
            bound.append(p)
        else:
            ops.drop(state, p, 0.0)
        r = rng.random()
        if r < 0.4 and bound:
            ops.release(state, bound.pop(int(rng.integers(len(bound)))), 3, 0.0)
        elif r < 0.45:
            n = int(rng.integers(state.nodes.n))
            ops.set_taints(state, n, [SPOT] if rng.random() < 0.5 else [])
    ops.check_invariants(state)
    return out


@pytest.mark.parametrize("taints", [False, True], ids=["untainted", "prefer-no-schedule"])
def test_every_decision_same_with_the_shortcuts_on_and_off(taints):
    fast = _churn(taints, shortcuts=True, record=False)
    plain = _churn(taints, shortcuts=False, record=False)
    recorded = _churn(taints, shortcuts=True, record=True)
    assert fast == plain == recorded
    assert sum(d[0] >= 0 for d in fast) > len(fast) // 2
    assert len({d[0] for d in fast}) > 20  # the pods went to many nodes


def _trace(path: Path, n: int, seed: int) -> None:
    """``n`` pods in openb layout, each with its own (cpu, memory) request."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(2.0, n))
    idx = rng.permutation(n)
    cpu = 100 + 29 * idx
    mem = 256 + (idx % 40) * 64
    run = rng.exponential(600.0, n) + 1
    rows = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
            "scheduled_time"]
    rows += [f"p{i},{cpu[i]},{mem[i]},0,0,,BE,Running,{t[i]:.1f},{t[i] + run[i]:.1f},{t[i]:.1f}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")


def _replay(tmp_path: Path, variant: str, shortcuts: bool, record: bool) -> dict[str, pd.DataFrame]:
    a = tmp_path / "a.csv"
    if not a.exists():
        _trace(a, 200, 4)
    pool: dict = {"name": "p", "count": 60, "zones": ["z1", "z2"], "allocatable": {"cpu": "8", "memory": "32Gi"}}
    template: dict = {}
    doc: dict = {"name": "fresh", "seed": 2, "sample_interval_s": 300}
    if variant == "taints":
        spot = {"name": "s", "count": 30, "zones": ["z1", "z2"], "allocatable": {"cpu": "16", "memory": "64Gi"},
                "taints": [{"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}]}
        doc["cluster"] = {"node_pools": [pool, spot]}
    else:
        doc["cluster"] = {"node_pools": [pool]}
    if variant == "affinity-images":
        template = {"image": "big:1", "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 30, "preference": {"matchExpressions": [
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z1"]}]}}]}}}
        doc["images"] = {"builtin": False, "catalog": [{"name": "big:1", "layers": [{"digest": "x", "size": "900Mi"}]}]}
    doc["workloads"] = [{"name": "a", "trace": {"format": "openb", "files": [str(a)]}, "template": template}]
    doc["scheduler"] = {"recordDecisions": record, "profiles": [{"preset": "kube-default"}]}
    sim = Simulation(validate_scenario(doc))
    for p in sim.profiles.values():
        p.score_shortcuts = shortcuts
    result = sim.run()
    return {name: getattr(result, name) for name in ("pods", "events", "timeseries", "decisions")
            if getattr(result, name) is not None}


@pytest.mark.parametrize("variant", ["plain", "taints", "affinity-images"])
def test_replay_of_distinct_requests_same_tables_with_the_shortcuts_on_and_off(tmp_path, variant):
    fast = _replay(tmp_path, variant, True, False)
    plain = _replay(tmp_path, variant, False, False)
    recorded = _replay(tmp_path, variant, True, True)
    for name in ("pods", "events", "timeseries"):
        pd.testing.assert_frame_equal(fast[name], plain[name], check_exact=True, obj=f"{variant}: {name}")
        pd.testing.assert_frame_equal(fast[name], recorded[name], check_exact=True, obj=f"{variant}: {name}")
    pods = fast["pods"]
    assert pods["node"].notna().sum() > 150 and pods["node"].nunique() > 30
