"""The Filter phase on windows of nodes (``Profile._find_windowed``) and the first-fit
shortcut (``Profile._lowest_first``) give the decisions of the full-mask path.

Upstream ``findNodesThatPassFilters`` (``pkg/scheduler/schedule_one.go``) checks nodes
round-robin from ``nextStartNodeIndex`` and stops once ``numFeasibleNodesToFind``
feasible nodes are found. A cycle without an incremental entry (a shape's first
cycle) evaluates the filters on windows of nodes from the start index on and stops
there too; the reference is the same profile with ``windowed = False``, which builds
the mask over every node and samples it (the code path before windows). Compared per
cycle: the chosen node, ``feasible``, the candidates (in order) and totals, the start
index, ``last_visited``, the tie-break stream's position and the full mask that
``last_mask`` gives, on clusters with taints, node selectors, cordoned, NotReady and
removed nodes, for several ``percentageOfNodesToScore`` values and cluster sizes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from k8sim import validate_scenario
from k8sim.cluster import ops
from k8sim.cluster.nodes import TaintSpec
from k8sim.scheduling.framework import num_feasible_nodes_to_find
from k8sim.scheduling.policy import register_policy
from k8sim.sim.simulation import Simulation

# Every test twice: with the compiled kernels and with the numpy path they replace.
pytestmark = pytest.mark.usefixtures("kernels_both_ways")


def _cluster(nodes: int, preset: str, record: bool = True) -> Simulation:
    """Three pools (a third each; at least one node per pool): plain, labelled and
    PreferNoSchedule-tainted, NoSchedule-tainted. Templates: plain, a nodeSelector for
    the labelled pool, a toleration of the NoSchedule taint, a toleration of the
    cordon taint (NodeUnschedulable lets it onto cordoned nodes)."""
    a, b = max(1, nodes // 3), max(1, nodes // 3)
    c = max(1, nodes - a - b)
    templates = [
        {"requests": {"cpu": "1", "memory": "1Gi"}},
        {"requests": {"cpu": "1", "memory": "1Gi"}, "nodeSelector": {"tier": "gold"}},
        {"requests": {"cpu": "1", "memory": "1Gi"},
         "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]},
        {"requests": {"cpu": "1", "memory": "1Gi"},
         "tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                          "effect": "NoSchedule"}]},
    ]
    doc = {
        "name": "windows",
        "cluster": {"node_pools": [
            {"name": "a", "count": a, "allocatable": {"cpu": "8", "memory": "32Gi", "pods": 20}},
            {"name": "b", "count": b, "allocatable": {"cpu": "16", "memory": "64Gi"}, "labels": {"tier": "gold"},
             "taints": [{"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}]},
            {"name": "c", "count": c, "allocatable": {"cpu": "8", "memory": "16Gi"},
             "taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]},
        ]},
        "workloads": [{"name": f"w{i}", "arrival": {"kind": "times", "times_s": [1e9]}, "template": t}
                      for i, t in enumerate(templates)],
        "scheduler": {"profiles": [{"preset": preset}], "recordDecisions": record},
    }
    return Simulation(validate_scenario(doc))


def _run(nodes: int, preset: str, windowed: bool, percentage: int | None = None, steps: int = 300,
         seed: int = 3, count_feasible: bool = True) -> list[tuple]:
    """``steps`` cycles, each of a new shape (its own CPU request, one of the templates'
    tolerations and selectors: a distinct-request trace), changing the cluster between
    cycles: releases, cordons, NotReady, taints, removed and added nodes. Returns per
    cycle everything a reader of the cycle can see."""
    sim = _cluster(nodes, preset, record=count_feasible)
    state = sim.state
    profile = next(iter(sim.profiles.values()))
    profile.windowed = windowed
    profile.count_feasible = count_feasible
    if percentage is not None:
        profile.percentage = percentage
    templates = list(state.shapes)
    rng = np.random.default_rng(seed)
    pods = state.pods
    bound: list[int] = []
    out = []
    for i in range(steps):
        base = templates[int(rng.integers(len(templates)))]
        requests = base.requests.copy()
        requests[0] = int(rng.integers(100, 6000))  # milli-CPU: a shape of its own
        info = dataclasses.replace(base, requests=requests)
        s = ops.add_shape(state, info)
        p = pods.append(name=f"p{i}", requests=info.requests, workload=info.workload, index=i, shape=s,
                        priority=0, created=0.0, duration=np.inf, start_latency=0.0, gpu_count=0, gpu_milli=0)
        d = profile.schedule(state, info, p)
        mask = profile.last_mask
        assert mask is not None
        out.append((d.node, d.feasible if count_feasible else None, profile.next_start_node_index,
                    profile.last_visited, profile.rng.bit_generator.state["state"],
                    None if d.candidates is None else d.candidates.tolist(),
                    None if d.totals is None else d.totals.tolist(),
                    {k: v.tolist() for k, v in d.per_plugin.items()}, sorted(d.rejectors),
                    np.flatnonzero(mask).tolist()))
        if d.node >= 0:
            ops.bind(state, p, d.node, 0.0)
            bound.append(p)
        else:
            ops.drop(state, p, 0.0)
        n = state.nodes.n
        node = int(rng.integers(n))
        r = rng.random()
        if r < 0.45 and bound:
            ops.release(state, bound.pop(int(rng.integers(len(bound)))), 3, 0.0)
        elif r < 0.52:
            ops.set_unschedulable(state, node, not bool(state.nodes.unschedulable[node]))
        elif r < 0.58:
            ops.set_ready(state, node, not bool(state.nodes.ready[node]))
        elif r < 0.62:
            ops.set_taints(state, node, [TaintSpec("dedicated", "x", "NoSchedule")] if rng.random() < 0.5 else [])
        elif r < 0.66 and np.isinf(state.nodes.removed_at[node]) and n > 2:
            for q in [q for q in bound if pods.node[q] == node]:
                ops.release(state, q, 3, 0.0)
                bound.remove(q)
            ops.remove_node(state, node, 0.0)
            if rng.random() < 0.5:
                # Conditions that say Ready and uncordoned: a removed node still passes
                # no filter (it is gone from upstream's snapshot).
                ops.set_ready(state, node, True)
                ops.set_unschedulable(state, node, False)
        elif r < 0.67:
            ops.add_node(state, name=f"extra-{i}", allocatable=state.nodes.alloc[:, 0].copy(),
                         labels={}, taints=[], pool=-1, now=0.0)
    ops.check_invariants(state)
    assert profile.caches.direct == steps  # every cycle was a shape's first: no entry
    return out


def _compare(on: list[tuple], off: list[tuple], label: str) -> None:
    assert len(on) == len(off)
    for i, (a, b) in enumerate(zip(on, off, strict=True)):
        assert a == b, f"{label}: cycle {i} differs"


@pytest.mark.parametrize(("nodes", "percentage"), [
    (30, None),  # below 100 nodes: every node is searched
    (150, None),  # adaptive: 100 of 150
    (150, 1),  # the 100-node floor
    (400, 30),
    (400, 100),  # every node: the full mask, as before
    (1200, None),  # adaptive: 40 %, so windows stop well before the end
    (1200, 5),
])
def test_windows_give_the_full_mask_path_decisions(nodes, percentage):
    on = _run(nodes, "kube-default", True, percentage)
    off = _run(nodes, "kube-default", False, percentage)
    _compare(on, off, f"{nodes} nodes, {percentage}%")
    want = num_feasible_nodes_to_find(nodes, percentage or 0)
    if want < nodes:
        # The sample wrapped around (a start index past some of the sample) and stopped
        # early (fewer nodes visited than exist) in some cycles.
        assert any(r[5] is not None and r[5] != sorted(r[5]) for r in on), "no cycle wrapped around"
        assert any(r[3] < nodes for r in on), "no cycle stopped early"
    assert any(r[0] >= 0 for r in on)
    if nodes <= 30:
        assert any(r[0] < 0 for r in on), "the small cluster should also fail some pods (rejectors)"


@pytest.mark.parametrize("preset", ["binpack", "random", "first-fit"])
def test_windows_other_presets(preset):
    _compare(_run(400, preset, True, steps=200), _run(400, preset, False, steps=200), preset)


def test_exactly_want_feasible_nodes_come_in_index_order():
    """With exactly ``numFeasibleNodesToFind`` feasible nodes upstream visits every node
    (it stops only at one more), so the start index stays and ``last_visited`` is every
    node; the full-mask path lists them in index order. 150 nodes, want 100 (the floor):
    50 nodes cordoned leave exactly 100 feasible."""
    sim = _cluster(150, "kube-default")
    state = sim.state
    profile = next(iter(sim.profiles.values()))
    for node in range(0, 150, 3):  # 50 nodes
        ops.set_unschedulable(state, node, True)
    info = state.shapes[2]  # tolerates pool c's taint: every node but the cordoned passes
    profile.next_start_node_index = 37
    got = profile.find_feasible(state, info)
    expected = [n for n in range(150) if n % 3]
    assert len(expected) == 100 == num_feasible_nodes_to_find(150, 0)
    assert got.tolist() == expected
    assert profile.next_start_node_index == 37 and profile.last_visited == 150
    # One more feasible node: the first 100 from node 37 on, wrapping; the start moves
    # past the last of them.
    ops.set_unschedulable(state, 0, False)
    info2 = dataclasses.replace(info)
    ops.add_shape(state, info2)
    got = profile.find_feasible(state, info2)
    rotated = [n for n in [*range(37, 150), *range(37)] if n % 3 or n == 0]
    assert got.tolist() == rotated[:100]
    assert profile.next_start_node_index == (rotated[99] + 1) % 150
    assert profile.last_visited == (rotated[99] - 37) % 150 + 1


def test_first_fit_stops_at_the_first_feasible_node():
    """With ``Decision.feasible`` unread (no recorded decisions, no cost model), a
    first-fit cycle stops at the lowest feasible node: the nodes, start indices and
    random streams of the scored path, ``feasible`` 1 when found by the windows."""
    on = _run(400, "first-fit", True, count_feasible=False, steps=300)
    off = _run(400, "first-fit", False, count_feasible=False, steps=300)
    _compare(on, off, "first-fit shortcut")
    # The reference chose the lowest feasible node of the full mask, by scores.
    for r in off:
        assert r[0] == (r[9][0] if r[9] else -1)


def test_first_fit_shortcut_only_when_feasible_is_not_read():
    """The scheduler sets ``count_feasible`` from recordDecisions and the cost model; with
    either, every first-fit decision carries the exact number of feasible nodes."""
    sim = _cluster(400, "first-fit", record=True)
    profile = next(iter(sim.profiles.values()))
    assert profile.count_feasible
    state = sim.state
    info = state.shapes[0]
    d = profile.schedule(state, info)
    assert d.feasible == int(np.count_nonzero(profile.last_mask)) > 1
    quiet = _cluster(400, "first-fit", record=False)
    assert not next(iter(quiet.profiles.values())).count_feasible


def test_last_mask_after_a_windowed_cycle_is_the_full_mask_and_refuses_a_changed_cluster():
    sim = _cluster(1200, "kube-default")
    state = sim.state
    profile = next(iter(sim.profiles.values()))
    info = state.shapes[0]  # plain pod: the pools a (32 GiB) and b pass, c is tainted
    ops.set_unschedulable(state, 5, True)
    candidates = profile.find_feasible(state, info)
    assert profile.last_visited < 1200 and candidates.size == num_feasible_nodes_to_find(1200, 0)
    # Independently: schedulable, untainted (pools a and b are the first 800 nodes).
    expected = np.zeros(1200, dtype=bool)
    expected[:800] = True
    expected[5] = False
    np.testing.assert_array_equal(profile.last_mask, expected)
    info2 = dataclasses.replace(info)
    ops.add_shape(state, info2)
    profile.find_feasible(state, info2)
    ops.set_ready(state, 7, False)
    with pytest.raises(RuntimeError, match="after the cluster changed"):
        _ = profile.last_mask


def _distinct_doc(nodes: int, pods: int, preset: str = "kube-default") -> dict:
    times = [float(i) for i in range(pods)]
    return {
        "name": "distinct-windows",
        "cluster": {"node_pools": [{"name": "n", "count": nodes, "allocatable": {"cpu": "4", "memory": "16Gi"}}]},
        "workloads": [{"name": f"w{i}", "arrival": {"kind": "times", "times_s": [times[i]]},
                       "template": {"requests": {"cpu": f"{100 + 17 * i}m", "memory": "256Mi"}}}
                      for i in range(pods)],
        "scheduler": {"profiles": [{"preset": preset}]},
    }


def _expected_mask(state, info) -> np.ndarray:
    """Ready, not cordoned, not removed, room for the requests (untainted nodes)."""
    nodes = state.nodes
    ok = nodes.ready & ~nodes.unschedulable & np.isinf(nodes.removed_at)
    for r in np.flatnonzero(info.requests):
        ok &= nodes.free[r] >= info.requests[r]
    return ok


@pytest.mark.parametrize("preset", ["kube-default", "first-fit"])
def test_an_external_decider_gets_the_full_mask(preset):
    sim = Simulation(validate_scenario(_distinct_doc(300, 120, preset)))
    state = sim.state
    profile = next(iter(sim.profiles.values()))
    n = 0
    while (pending := sim.next_decision()) is not None:
        info = state.shapes[int(state.pods.shape[pending.pod])]
        np.testing.assert_array_equal(pending.mask, _expected_mask(state, info))
        sim.decide(int(np.flatnonzero(pending.mask)[-1]))  # the last feasible node
        n += 1
    assert n == 120
    assert profile.caches.direct > 100  # the shapes' first cycles: no entries


def test_a_policy_gets_the_full_mask():
    """A profile's policy gets the mask of every node (a policy cycle filters every
    node; the pods arrive one a second, pod k asking 100 + 17 k milli-CPU)."""
    sims: list[Simulation] = []
    calls: list[int] = []

    def policy(obs):
        state = sims[0].state
        k = len(calls)
        info = next(s for s in state.shapes if int(s.requests[0]) == 100 + 17 * k)
        np.testing.assert_array_equal(obs["action_mask"].astype(bool), _expected_mask(state, info))
        calls.append(k)
        return int(np.flatnonzero(obs["action_mask"])[-1])  # the last feasible node

    register_policy("test-windows-last", policy)
    doc = _distinct_doc(300, 60)
    doc["scheduler"]["profiles"][0]["policy"] = {"name": "test-windows-last"}
    sim = Simulation(validate_scenario(doc))
    sims.append(sim)
    sim.run()
    assert len(calls) == 60


def _first_fit_fill(windowed: bool, steps: int = 1200, seed: int = 7) -> list[tuple]:
    """First fit on 256 one-core nodes (four blocks of 64) until the low blocks are
    full, with releases: blocks are ruled out by NodeResourcesFit's block maxima and
    come back when pods leave."""
    doc = {
        "name": "fill",
        "cluster": {"node_pools": [{"name": "a", "count": 256, "allocatable": {"cpu": "1", "memory": "8Gi"}}]},
        "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [1e9]},
                       "template": {"requests": {"cpu": "100m", "memory": "64Mi"}}}],
        "scheduler": {"profiles": [{"preset": "first-fit"}]},
    }
    sim = Simulation(validate_scenario(doc))
    state = sim.state
    profile = next(iter(sim.profiles.values()))
    assert not profile.count_feasible  # neither recordDecisions nor the cost model
    profile.windowed = windowed
    fit = next(f for f in profile.filters if f.name == "NodeResourcesFit")
    base = state.shapes[0]
    rng = np.random.default_rng(seed)
    pods = state.pods
    bound: list[int] = []
    out = []
    pruned = 0
    for i in range(steps):
        requests = base.requests.copy()
        requests[0] = int(rng.integers(100, 1001))
        info = dataclasses.replace(base, requests=requests)
        s = ops.add_shape(state, info)
        p = pods.append(name=f"p{i}", requests=info.requests, workload=info.workload, index=i, shape=s,
                        priority=0, created=0.0, duration=np.inf, start_latency=0.0, gpu_count=0, gpu_milli=0)
        d = profile.schedule(state, info, p)
        out.append((d.node, profile.next_start_node_index, profile.last_visited))
        if windowed:
            # The kept maxima equal the maxima computed from scratch.
            top = fit._block_max(state)
            np.testing.assert_array_equal(top, np.maximum.reduceat(state.nodes.free, np.arange(0, 256, 64), axis=1))
            pruned += not fit.filter_blocks(state, info).all()
        if d.node >= 0:
            ops.bind(state, p, d.node, 0.0)
            bound.append(p)
        else:
            ops.drop(state, p, 0.0)
        if rng.random() < 0.4 and bound:
            ops.release(state, bound.pop(int(rng.integers(len(bound)))), 3, 0.0)
    if windowed:
        assert pruned > steps // 4, "blocks should have been ruled out in many cycles"
    return out


def test_first_fit_block_pruning_follows_binds_and_releases():
    on, off = _first_fit_fill(True), _first_fit_fill(False)
    _compare(on, off, "first fit, full blocks")
    assert any(r[0] < 0 for r in on) and any(r[0] >= 128 for r in on)
