"""Incremental scheduling (``k8sim.scheduling.incremental``) and the bound on per-shape
caches change no result.

The reference is the same run with the caches off (``scheduler.incremental: false`` /
``Profile.incremental = False``), which runs every plugin over every node in every
cycle, exactly the code path that existed before the caches. Compared: every table of
every shipped scenario (reduced here, full size in the slow test, with
``recordDecisions`` so that each decision's candidates, totals and per-plugin normalised
scores are compared too), the benchmarks' scenarios at a small size, and a cycle-level
churn test that binds, releases, cordons, relabels, taints, removes and adds nodes
between decisions and compares every Decision field and the sampling start index.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from k8sim import load_scenario, validate_scenario
from k8sim.cluster import ops
from k8sim.cluster.nodes import TaintSpec
from k8sim.cluster.ops import NodeJournal
from k8sim.scheduling import incremental
from k8sim.scheduling.plugins.base import NodeRow
from k8sim.sim.simulation import Simulation

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
TABLES = ("pods", "nodes", "events", "timeseries", "decisions", "gpu", "trace")


def _bench(name: str):
    """A module of bench/ (they import each other as top-level modules)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    return importlib.import_module(name)


def _frames(sim: Simulation) -> dict[str, pd.DataFrame]:
    result = sim.run()
    out = {name: getattr(result, name) for name in TABLES if getattr(result, name) is not None}
    out["summary"] = result.summary()
    return out


def _assert_same_tables(make, label: str, expect_updates: bool = False) -> None:
    """``make(incremental)`` builds a Simulation; both runs give equal tables."""
    on, off = make(True), make(False)
    assert all(p.incremental for p in on.profiles.values())
    assert not any(p.incremental for p in off.profiles.values())
    a, b = _frames(on), _frames(off)
    assert a.keys() == b.keys(), label
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=f"{label}: {name}")
    if expect_updates:
        # The caches did work (else the comparison shows little): entries were brought
        # up to date from the journals, not only built.
        assert sum(p.caches.updates for p in on.profiles.values()) > 0, label


def _reduced(path: Path, incremental: bool):
    sc = load_scenario(path)
    overrides = [f"scheduler.incremental={'true' if incremental else 'false'}"]
    if sc.scheduler.config_file is None:
        overrides.append("scheduler.recordDecisions=true")
    for i, w in enumerate(sc.workloads):
        if sc.has_controllers() and (w.manifest is not None or w.trace is not None):
            continue
        overrides.append(f"workloads[{i}].max_pods={min(w.max_pods or 60, 60)}")
    if sc.duration_s is not None:
        overrides.append(f"duration_s={min(sc.duration_s, 1500)}")
        overrides.append(f"warmup_s={min(sc.warmup_s, 100)}")
    return load_scenario(path, overrides=overrides)


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_reduced_same_tables_with_caches_on_and_off(path):
    _assert_same_tables(lambda inc: Simulation(_reduced(path, inc)), path.stem)


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_full_size_same_tables_with_caches_on_and_off(path):
    def make(inc: bool) -> Simulation:
        return Simulation(load_scenario(path, overrides=[f"scheduler.incremental={str(inc).lower()}"]))
    _assert_same_tables(make, path.stem)


# -- the benchmarks at a small size ---------------------------------------------------


def _with_switch(doc, incremental: bool):
    """The scenario (a mapping or a validated Scenario) with ``scheduler.incremental``."""
    if isinstance(doc, dict):
        return validate_scenario({**doc, "scheduler": {**doc.get("scheduler", {}), "incremental": incremental}})
    return doc.model_copy(update={"scheduler": doc.scheduler.model_copy(update={"incremental": incremental})})


def _sim(doc, incremental: bool) -> Simulation:
    return Simulation(_with_switch(doc, incremental))


BENCH_SCENARIOS = {
    "engine": lambda: _bench("bench_engine").scenario(600, 40),
    "failures": lambda: _bench("bench_failures").build(400, 30, True),
    "gym-scenario-binpack": lambda: _bench("bench_gym").scenario(60, 600, "binpack"),
    "controllers": lambda: _bench("bench_controllers").bare(4, 30, 20),
    "replay-openb-kube-default": lambda: _bench("bench_replay").scenario("sample", "sample", "timed", "kube-default"),
    "replay-openb-fgd": lambda: _bench("bench_replay").scenario("sample", "sample", "inflation", "fgd"),
    "replay-openb-gpu-packing": lambda: _bench("bench_replay").scenario("sample", "sample", "timed", "gpu-packing"),
}


@pytest.mark.parametrize("name", sorted(BENCH_SCENARIOS))
def test_benchmark_scenarios_same_tables_with_caches_on_and_off(name):
    doc = BENCH_SCENARIOS[name]()
    _assert_same_tables(lambda inc: _sim(doc, inc), name, expect_updates=True)


@pytest.mark.parametrize("suggest", [True, False])
def test_gym_benchmark_episode_same_with_caches_on_and_off(suggest):
    """bench_gym's loop at a small size: every step takes the suggested node (the
    profile's choice, or the first feasible node without suggestions); the masks, the
    suggestions and the episode's tables are the same with the caches on and off."""
    kgym = pytest.importorskip("k8sim.gym")
    episodes = []
    for inc in (True, False):
        env = kgym.make(_with_switch(_bench("bench_gym").scenario(60, 400, "kube-default"), inc), suggest=suggest)
        obs, info = env.reset(seed=1)
        steps = []
        while True:
            steps.append((info["suggested"], obs["action_mask"].tobytes()))
            obs, _, term, trunc, info = env.step(info["suggested"])
            if term or trunc:
                break
        episodes.append((steps, env.result()))
    (steps_on, res_on), (steps_off, res_off) = episodes
    assert len(steps_on) == 400 and steps_on == steps_off
    for name in ("pods", "nodes", "events"):
        pd.testing.assert_frame_equal(getattr(res_on, name), getattr(res_off, name), check_exact=True)


def test_runtime_benchmark_variants_same_tables_with_caches_on_and_off():
    for label, doc in _bench("bench_runtime").variants(120, 12).items():
        _assert_same_tables(lambda inc, doc=doc: _sim(doc, inc), label, expect_updates=True)


def test_distinct_request_replay_same_tables_with_caches_on_and_off(tmp_path):
    """One shape per pod (the case the cache bound is for), with the bound so small
    that shapes are evicted and their caches rebuilt during the run."""
    trace = tmp_path / "distinct.csv"
    _bench("bench_replay").distinct_trace(trace, 400)
    doc = {"name": "distinct", "sample_interval_s": 600,
           "cluster": {"node_pools": [{"name": "a", "count": 6, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
           "workloads": [{"name": "t", "trace": {"format": "openb", "files": [str(trace)]}}]}

    def make(inc: bool) -> Simulation:
        sim = _sim(doc, inc)
        for p in sim.profiles.values():
            p.caches.shape_budget = 0  # the minimum: MIN_SHAPES shapes keep caches
            p.caches.entry_budget = 0
        return sim
    _assert_same_tables(make, "distinct")


# -- cycle by cycle, under every kind of node change -----------------------------------


def _churn_cluster(preset: str) -> Simulation:
    zones = ["z1", "z2", "z3"]
    gpu_template = {"requests": {"cpu": "2", "memory": "4Gi"}, "gpu": {"count": 1, "milli": 500},
                    "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]}
    templates = [
        {"requests": {"cpu": "500m", "memory": "1Gi"}, "labels": {"app": "a"}},
        {"requests": {"cpu": "2", "memory": "8Gi"}, "labels": {"app": "b"},
         "tolerations": [{"key": "spot", "operator": "Exists"}]},
        {"requests": {"cpu": "1", "memory": "2Gi"}, "nodeSelector": {"tier": "gold"}},
        {"requests": {"cpu": "250m", "memory": "512Mi"}, "affinity": {"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [
                    {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z2"]}]}}]}}},
        {"requests": {"cpu": "100m", "memory": "128Mi"},
         "ports": [{"containerPort": 8080, "hostPort": 8080}]},
        {"requests": {"cpu": "1", "memory": "1Gi"}, "labels": {"app": "spread"}, "topologySpreadConstraints": [
            {"maxSkew": 2, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": {"app": "spread"}}}]},
        gpu_template,
        {"requests": {"cpu": "3", "memory": "3Gi"}},
    ]
    doc = {
        "name": "churn",
        "cluster": {"node_pools": [
            {"name": "a", "count": 50, "allocatable": {"cpu": "16", "memory": "64Gi", "pods": 30}, "zones": zones},
            {"name": "b", "count": 40, "allocatable": {"cpu": "8", "memory": "32Gi"}, "zones": zones,
             "labels": {"tier": "gold"}, "taints": [{"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}]},
            {"name": "g", "count": 30, "allocatable": {"cpu": "32", "memory": "128Gi"}, "zones": zones,
             "gpus": {"count": 4, "model": "T4"}, "taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]},
        ]},
        "workloads": [{"name": f"w{i}", "arrival": {"kind": "times", "times_s": [1e9]}, "template": t}
                      for i, t in enumerate(templates)],
        "scheduler": {"profiles": [{"preset": preset}], "recordDecisions": True},
    }
    return Simulation(validate_scenario(doc))


def _churn(preset: str, incremental: bool, record: bool = True, steps: int = 900, seed: int = 5) -> list[tuple]:
    """Schedule ``steps`` pods of random shapes, changing the cluster between cycles in
    every way the ops allow; returns every decision and the start index after it."""
    sim = _churn_cluster(preset)
    state = sim.state
    profile = next(iter(sim.profiles.values()))
    profile.incremental = incremental
    profile.record = record  # without: the entries' shortcuts (fused sum, uniform terms) run
    profile.caches.entry_budget = 0  # few entries: evictions and rebuilds happen too
    rng = np.random.default_rng(seed)
    pods = state.pods
    bound: list[int] = []
    out = []
    for i in range(steps):
        s = int(rng.integers(len(state.shapes)))
        info = state.shapes[s]
        p = pods.append(name=f"p{i}", requests=info.requests, workload=info.workload, index=i, shape=s,
                        priority=0, created=0.0, duration=np.inf, start_latency=0.0,
                        gpu_count=info.gpu_count, gpu_milli=info.gpu_milli)
        d = profile.schedule(state, info, p)
        for e in profile.caches.entries.values():  # a kept count is the mask's
            assert e.count < 0 or e.count == int(np.count_nonzero(e.mask))
        out.append((d.node, d.feasible, profile.next_start_node_index, profile.rng.bit_generator.state["state"],
                    None if d.candidates is None else d.candidates.tolist(),
                    None if d.totals is None else d.totals.tolist(),
                    {k: v.tolist() for k, v in d.per_plugin.items()}))
        if d.node >= 0:
            for plugin in profile.reservers:
                plugin.reserve(state, p, info, d.node)
            ops.bind(state, p, d.node, 0.0)
            bound.append(p)
        else:
            ops.drop(state, p, 0.0)
        n = state.nodes.n
        node = int(rng.integers(n))
        r = rng.random()
        if r < 0.35 and bound:
            ops.release(state, bound.pop(int(rng.integers(len(bound)))), 3, 0.0)
        elif r < 0.40:
            ops.set_unschedulable(state, node, not bool(state.nodes.unschedulable[node]))
        elif r < 0.45:
            ops.set_ready(state, node, not bool(state.nodes.ready[node]))
        elif r < 0.50:
            labels = state.nodes.node_labels(node)
            labels["topology.kubernetes.io/zone"] = str(rng.choice(["z1", "z2", "z3"]))
            if rng.random() < 0.5:
                labels["tier"] = "gold"
            else:
                labels.pop("tier", None)
            ops.set_labels(state, node, labels)
        elif r < 0.55:
            choice = [TaintSpec("spot", "yes", "PreferNoSchedule"), TaintSpec("gpu", "yes", "NoSchedule"),
                      TaintSpec("new", "x", "NoSchedule")]
            ops.set_taints(state, node, [t for t in choice if rng.random() < 0.3])
        elif r < 0.57 and np.isinf(state.nodes.removed_at[node]):
            for q in [q for q in bound if pods.node[q] == node]:
                ops.release(state, q, 3, 0.0)
                bound.remove(q)
            ops.remove_node(state, node, 0.0)
        elif r < 0.58:
            ops.add_node(state, name=f"extra-{i}", allocatable=state.nodes.alloc[:, 0].copy(),
                         labels={"topology.kubernetes.io/zone": "z1"}, taints=[], pool=-1, now=0.0)
    ops.check_invariants(state)
    stats = (profile.caches.updates, profile.caches.rebuilds)
    return [*out, stats] if incremental else out


@pytest.mark.parametrize("record", [True, False], ids=["recorded", "fast"])
@pytest.mark.parametrize("preset", ["kube-default", "binpack", "first-fit", "best-fit", "tetris", "drf",
                                    "gpu-packing", "gpu-clustering", "gpu-best-fit", "random"])
def test_every_decision_same_with_caches_on_and_off_under_churn(preset, record):
    on = _churn(preset, True, record)
    updates, rebuilds = on.pop()
    off = _churn(preset, False, record)
    assert len(on) == len(off)
    for i, (a, b) in enumerate(zip(on, off, strict=True)):
        assert a == b, f"{preset}: decision {i} differs"
    placed = sum(1 for d in on if d[0] >= 0)
    assert 0 < placed < len(on), "the run should both place pods and fail some"
    assert updates > len(on) // 2, "most cycles should update an entry, not rebuild it"
    assert rebuilds > 0


@pytest.mark.parametrize("preset", ["kube-default", "binpack"])
def test_few_nodes_path_gives_the_same_decisions_as_numpy(monkeypatch, preset):
    """The churn test's decisions with the one-node path (the default) and with numpy
    for every update (FEW_NODES = 0) are identical, and the one-node path did run."""
    few = _churn(preset, True, record=False, steps=600)
    few.pop()
    monkeypatch.setattr(incremental, "FEW_NODES", 0)
    numpy_only = _churn(preset, True, record=False, steps=600)
    numpy_only.pop()
    assert few == numpy_only


def test_few_nodes_path_runs_in_the_scheduler_benchmark_case():
    state_sim = Simulation(validate_scenario({
        "name": "few",
        "cluster": {"node_pools": [{"name": "a", "count": 300, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [1e9]},
                       "template": {"requests": {"cpu": "100m", "memory": "100Mi"}}}],
    }))
    state = state_sim.state
    profile = next(iter(state_sim.profiles.values()))
    info = state.shapes[0]
    for i in range(50):
        p = state.pods.append(name=f"p{i}", requests=info.requests, workload=info.workload, index=i, shape=0,
                              priority=0, created=0.0, duration=np.inf, start_latency=0.0)
        d = profile.schedule(state, info)
        ops.bind(state, p, d.node, 0.0)
    assert profile.caches.few_updates >= 48  # every cycle after the first


def test_node_rows_shared_by_shapes_are_dropped_when_their_node_changes():
    """ShapeCaches.rows keeps a node's row only while the journals record no change to
    that node: after a bind, a release or a node update the row is gone (and read again,
    fresh, by the next shape that needs it); other nodes' rows stay."""
    sim = _churn_cluster("kube-default")
    state = sim.state
    caches = next(iter(sim.profiles.values())).caches
    info = state.shapes[0]
    rows = caches.rows(state)
    rows.clear()
    for node in (3, 4, 5, 9):
        rows[node] = NodeRow.read(state.nodes, node)
    p = state.pods.append(name="p", requests=info.requests, workload=0, index=0, shape=0, priority=0,
                          created=0.0, duration=np.inf, start_latency=0.0)
    ops.bind(state, p, 5, 0.0)
    assert sorted(caches.rows(state)) == [3, 4, 9]
    ops.set_unschedulable(state, 9, True)
    ops.release(state, p, 3, 0.0)  # leaves node 5 again
    assert sorted(caches.rows(state)) == [3, 4]
    for node, row in caches.rows(state).items():
        assert row == NodeRow.read(state.nodes, node)
    # A journal that no longer reaches back drops every row.
    caches.rows(state)[4] = NodeRow.read(state.nodes, 4)
    state.usage_journal.base = state.usage_journal.end + 1
    state.usage_journal.end += 2
    assert caches.rows(state) == {}


def test_sampling_matches_the_rotated_list_at_every_start():
    """``Profile._sample`` (windows from the start index) gives exactly the rotated
    feasible list of upstream's round-robin search: for every start index, the first
    ``want`` feasible nodes at or after it, wrapping, and the start moves past the last
    one visited."""
    sim = _churn_cluster("kube-default")
    profile = next(iter(sim.profiles.values()))
    rng = np.random.default_rng(1)
    for n, density in ((150, 0.9), (150, 0.05), (1000, 0.5), (1000, 0.01), (3000, 0.97), (3000, 1.0), (150, 1.0)):
        profile.percentage = 0
        mask = rng.random(n) < density
        feasible = np.flatnonzero(mask)
        want = max(100, n * max(5, 50 - n // 125) // 100) if n >= 100 else n
        for start in sorted({0, 1, n // 2, n - 1, *rng.integers(n, size=20).tolist()}):
            profile.next_start_node_index = start
            got = profile._sample(mask)
            if feasible.size <= want:
                assert got.tolist() == feasible.tolist()
                assert profile.next_start_node_index == start
                continue
            rotated = [*feasible[feasible >= start].tolist(), *feasible[feasible < start].tolist()]
            assert got.tolist() == rotated[:want]
            assert profile.next_start_node_index == (rotated[want - 1] + 1) % n
            assert profile.last_visited == (rotated[want - 1] - start) % n + 1


# -- the journal and the bounds ---------------------------------------------------------


def test_journal_keeps_positions_and_forgets_old_entries():
    j = NodeJournal(limit=4)
    assert j.end == 0 and j.since(0) == []
    for node in (7, 3, 7):
        j.append(node)
    assert j.end == 3
    assert j.since(1) == [3, 7]
    assert j.since(3) == []
    j.append(1)
    j.append(2)  # 5 entries > limit 4: the oldest half (2) is dropped
    assert j.base == 2 and j.end == 5
    assert j.since(1) is None  # no longer recorded: the reader must rebuild
    assert j.since(2) == [7, 1, 2]


def test_binds_releases_and_node_updates_are_journalled():
    sim = _churn_cluster("kube-default")
    state = sim.state
    info = state.shapes[0]
    p = state.pods.append(name="p", requests=info.requests, workload=0, index=0, shape=0, priority=0,
                          created=0.0, duration=np.inf, start_latency=0.0)
    u0, n0 = state.usage_journal.end, state.node_journal.end
    ops.bind(state, p, 5, 0.0)
    ops.release(state, p, 3, 0.0)
    ops.set_unschedulable(state, 9, True)
    ops.set_ready(state, 10, False)
    ops.set_labels(state, 11, {"x": "y"})
    ops.set_taints(state, 12, [])
    ops.remove_node(state, 13, 0.0)
    assert state.usage_journal.since(u0) == [5, 5]
    assert state.node_journal.since(n0) == [9, 10, 11, 12, 13]


def test_per_shape_caches_are_bounded_with_one_shape_per_pod(tmp_path):
    """With a distinct request per pod every pod is a shape. The plugins' per-shape
    caches (arrays over all nodes) are kept for at most the bound's number of recently
    scheduled shapes; before the bound every shape kept them for the whole run."""
    trace = tmp_path / "distinct.csv"
    _bench("bench_replay").distinct_trace(trace, 300)
    doc = {"name": "distinct", "sample_interval_s": 600,
           "cluster": {"node_pools": [{"name": "a", "count": 20, "allocatable": {"cpu": "32", "memory": "128Gi"}}]},
           # An image: ImageLocality keeps each shape's priority per node in the shape's
           # cache (NodeAffinity's preferred weights are kept per template instead).
           "images": {"builtin": False, "catalog": [{"name": "big:1", "layers": [{"digest": "x", "size": "900Mi"}]}]},
           "workloads": [{"name": "t", "template": {"image": "big:1"},
                          "trace": {"format": "openb", "files": [str(trace)]}}]}
    sim = Simulation(validate_scenario(doc))
    caches = next(iter(sim.profiles.values())).caches
    caches.shape_budget = 0  # the bound is then MIN_SHAPES shapes
    caches.entry_budget = 0
    sim.run()
    assert len(sim.state.shapes) > 300
    with_caches = [s for s in sim.state.shapes if s.mask_cache or s.cache]
    assert 0 < len(with_caches) <= incremental.MIN_SHAPES
    assert len(caches.entries) <= incremental.MIN_SHAPES
    assert set(with_caches) <= set(caches.recent)


def test_cache_budgets_scale_with_the_node_count():
    # 128 MiB / (16 B x 10,000 nodes) = 838 shapes; at 100 nodes the 4,096 cap applies;
    # at 10^7 nodes the floor of 8.
    assert incremental._capacity(incremental.SHAPE_BUDGET, 16 * 10_000) == (128 << 20) // 160_000 == 838
    assert incremental._capacity(incremental.SHAPE_BUDGET, 16 * 100) == incremental.MAX_SHAPES
    assert incremental._capacity(incremental.SHAPE_BUDGET, 16 * 10**7) == incremental.MIN_SHAPES


def test_observation_rows_kept_incrementally_equal_a_full_recomputation():
    """The observation's node rows are recomputed only for journalled nodes; after every
    kind of change they equal the rows computed for all nodes at once."""
    sim = _churn_cluster("kube-default")
    state = sim.state
    layout = sim.make_observation_layout(label_features=["topology.kubernetes.io/zone", "tier"])
    rng = np.random.default_rng(2)
    pods = state.pods
    gpu_shape = next(s for s in state.shapes if s.gpu_count)
    gpu_nodes = np.flatnonzero(state.nodes.gpu_count > 0)
    bound: list[int] = []
    n = state.nodes.n
    checked = 0
    for i in range(300):
        r = rng.random()
        if r < 0.5:
            info = gpu_shape if rng.random() < 0.5 else state.shapes[0]
            node = int(rng.choice(gpu_nodes)) if info.gpu_count else int(rng.integers(n))
            p = pods.append(name=f"p{i}", requests=info.requests, workload=info.workload, index=i,
                            shape=info.shape, priority=0, created=0.0, duration=np.inf, start_latency=0.0,
                            gpu_count=info.gpu_count, gpu_milli=info.gpu_milli)
            if (state.nodes.free[:, node] >= info.requests).all() and (
                    not info.gpu_count or (state.nodes.gpu_free[node] >= info.gpu_milli).any()):
                ops.bind(state, p, node, 0.0)
                bound.append(p)
        elif r < 0.8 and bound:
            ops.release(state, bound.pop(int(rng.integers(len(bound)))), 3, 0.0)
        elif r < 0.9:
            node = int(rng.integers(n))
            ops.set_unschedulable(state, node, not bool(state.nodes.unschedulable[node]))
        else:
            node = int(rng.integers(n))
            ops.set_labels(state, node, {**state.nodes.node_labels(node), "tier": str(rng.choice(["gold", "x"]))})
        if rng.random() < 0.5:  # observe after some changes only: several accumulate
            got = layout._node_rows().copy()
            want = layout._columns(slice(0, n), n).T
            np.testing.assert_array_equal(got[:n], want)
            checked += 1
    assert checked > 100
