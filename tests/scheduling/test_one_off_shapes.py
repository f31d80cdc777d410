"""Shapes scheduled once: no incremental entry, shared per-template masks, same results.

A trace whose every pod asks a different amount makes a shape per pod. Such a shape's
first cycle evaluates the filters directly (``ShapeCaches.wants_entry``: an entry is
built from a shape's second recent cycle on, ``build_at = 2``); ``build_at = 1`` builds
one at the first cycle, as before. Masks that depend on the tolerations or on the node
selector and required node affinity alone are shared by the shapes whose fields are the
same objects (``k8sim.scheduling.plugins.shared``). Both must leave every table as it
was: compared here on a replay with taints, tolerations, node selectors, preferred
node affinity, spread constraints and two profiles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import make_pod, make_state, node

from k8sim import validate_scenario
from k8sim.cluster import ops
from k8sim.scheduling import incremental
from k8sim.scheduling.framework import check_score_range
from k8sim.scheduling.plugins import node_affinity, shared
from k8sim.scheduling.plugins.node_affinity import required_node_affinity_mask
from k8sim.scheduling.plugins.pod_topology_spread import PodTopologySpread, PodTopologySpreadArgs
from k8sim.scheduling.plugins.shared import FieldCache
from k8sim.scheduling.plugins.taint_toleration import TaintToleration
from k8sim.sim.simulation import Simulation

TABLES = ("pods", "nodes", "events", "timeseries", "decisions")
ZONE = "topology.kubernetes.io/zone"


def _trace(path: Path, n: int, seed: int) -> None:
    """``n`` pods in openb layout, each with its own (cpu, memory) request."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(3.0, n))
    idx = rng.permutation(n)
    cpu = 100 + 37 * idx  # distinct by construction
    mem = 256 + (idx % 50) * 64
    run = rng.exponential(900.0, n) + 1
    rows = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
            "scheduled_time"]
    rows += [f"p{i},{cpu[i]},{mem[i]},0,0,,BE,Running,{t[i]:.1f},{t[i] + run[i]:.1f},{t[i]:.1f}" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")


def _scenario(tmp_path: Path, record: bool) -> dict:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    _trace(a, 260, 1)
    _trace(b, 200, 2)
    zones = ["z1", "z2", "z3"]
    return {
        "name": "one-off", "seed": 3, "sample_interval_s": 300,
        "cluster": {"node_pools": [
            {"name": "plain", "count": 70, "zones": zones, "allocatable": {"cpu": "16", "memory": "64Gi"}},
            {"name": "gold", "count": 50, "zones": zones, "labels": {"tier": "gold"},
             "allocatable": {"cpu": "8", "memory": "32Gi"},
             "taints": [{"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}]},
            {"name": "dedicated", "count": 40, "zones": zones, "labels": {"tier": "gold"},
             "allocatable": {"cpu": "32", "memory": "128Gi"},
             "taints": [{"key": "team", "value": "b", "effect": "NoSchedule"}]},
        ]},
        "scheduler": {"recordDecisions": record, "profiles": [
            {"preset": "kube-default"},
            {"schedulerName": "packer", "preset": "binpack", "percentageOfNodesToScore": 30},
        ]},
        "workloads": [
            {"name": "a", "trace": {"format": "openb", "files": [str(a)]}, "template": {
                "labels": {"app": "a"},
                "tolerations": [{"key": "spot", "operator": "Exists"}],
                "affinity": {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                    {"weight": 20, "preference": {"matchExpressions": [
                        {"key": ZONE, "operator": "In", "values": ["z2"]}]}}]}},
                "topologySpreadConstraints": [
                    {"maxSkew": 3, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
                     "labelSelector": {"matchLabels": {"app": "a"}}}],
            }},
            {"name": "b", "trace": {"format": "openb", "files": [str(b)]}, "template": {
                "schedulerName": "packer",
                "nodeSelector": {"tier": "gold"},
                "tolerations": [{"key": "team", "operator": "Equal", "value": "b", "effect": "NoSchedule"}],
            }},
        ],
    }


def _run(doc: dict, build_at: int | None, incremental: bool = True) -> tuple[dict[str, pd.DataFrame], Simulation]:
    sim = Simulation(validate_scenario({**doc, "scheduler": {**doc["scheduler"], "incremental": incremental}}))
    if build_at is not None:
        for p in sim.profiles.values():
            p.caches.build_at = build_at
    result = sim.run()
    out = {name: getattr(result, name) for name in TABLES if getattr(result, name) is not None}
    out["summary"] = result.summary()
    return out, sim


@pytest.mark.parametrize("record", [True, False], ids=["recorded", "fast"])
def test_replay_of_one_off_shapes_gives_the_same_tables_with_and_without_entries(tmp_path, record):
    doc = _scenario(tmp_path, record)
    direct, sim_direct = _run(doc, None)  # the default: an entry from a shape's second cycle
    cached, sim_cached = _run(doc, 1)  # an entry from the first cycle (as before)
    off, _ = _run(doc, None, incremental=False)
    for name in direct:
        pd.testing.assert_frame_equal(direct[name], cached[name], check_exact=True, obj=f"build_at 1: {name}")
        pd.testing.assert_frame_equal(direct[name], off[name], check_exact=True, obj=f"caches off: {name}")
    pods = direct["pods"]
    # The run is not trivial: both profiles placed pods, some pods waited or failed
    # (the spread constraint and the gold nodes' room), and shapes came back.
    assert set(pods.loc[pods["node"].notna(), "workload"]) == {"a", "b"}
    assert (pods["attempts"] > 1).any()
    for label, sim in (("direct", sim_direct), ("cached", sim_cached)):
        profiles = list(sim.profiles.values())
        assert len(profiles) == 2
        direct_cycles = sum(p.caches.direct for p in profiles)
        built = sum(p.caches.rebuilds for p in profiles)
        if label == "direct":
            # Every shape's first cycle went without an entry; retried pods built some.
            assert direct_cycles >= len(sim.state.shapes) - 2 and built > 0
        else:
            assert direct_cycles == 0 and built >= len(sim.state.shapes) - 2


def test_shapes_of_a_template_share_their_taint_and_affinity_masks(tmp_path):
    doc = _scenario(tmp_path, False)
    sim = Simulation(validate_scenario(doc))
    state = sim.state
    b_shapes = [s for s in state.shapes if s.workload == 1]
    assert len(b_shapes) == 200
    first, other = b_shapes[0], b_shapes[1]
    plugin = TaintToleration()
    m1, m2 = plugin.filter(state, first), plugin.filter(state, other)
    assert m1 is m2 and not m1.flags.writeable
    # Tolerating team=b: every node passes (the taints are team=b NoSchedule and a
    # PreferNoSchedule, which the filter ignores).
    assert m1.all()
    # A shape of workload a does not tolerate team=b: the 40 dedicated nodes fail.
    a_shape = next(s for s in state.shapes if s.workload == 0)
    assert int((~plugin.filter(state, a_shape)).sum()) == 40
    r1, r2 = required_node_affinity_mask(state, first), required_node_affinity_mask(state, other)
    assert r1 is r2 and int(r1.sum()) == 90  # the gold and dedicated pools: 50 + 40 nodes
    # Nothing was kept on the shapes themselves.
    assert not first.mask_cache and not other.mask_cache
    # A relabelled node moves the node table's version: the shared mask is made again.
    node = int(np.flatnonzero(r1)[0])
    ops.set_labels(state, node, {})
    again = required_node_affinity_mask(state, other)
    assert again is not r1 and int(again.sum()) == 89 and not again[node]


def test_score_range_check_rejects_exactly_the_scores_outside_0_to_100():
    # int64 scores are checked with one unsigned reduction; both bounds must hold.
    check_score_range(np.array([0, 100, 50], dtype=np.int64), "P")
    check_score_range(np.zeros(0, dtype=np.int64), "P")
    for bad in ([0, 101], [-1, 5], [np.iinfo(np.int64).min, 0], [np.iinfo(np.int64).max]):
        with pytest.raises(ValueError, match=r"plugin P returned scores outside \[0, 100\]"):
            check_score_range(np.array(bad, dtype=np.int64), "P")
    # A strided view (every other element) is read the same way.
    strided = np.array([5, -3, 7, -3], dtype=np.int64)[::2]
    check_score_range(strided, "P")
    with pytest.raises(ValueError):
        check_score_range(np.array([5, -3, 7, -3], dtype=np.int64)[1::2], "P")
    # Other dtypes: the two comparisons as before.
    check_score_range(np.array([0, 100], dtype=np.int32), "P")
    with pytest.raises(ValueError):
        check_score_range(np.array([-1], dtype=np.int32), "P")
    with pytest.raises(ValueError):
        check_score_range(np.array([100.5]), "P")


def test_topology_spread_skips_pods_without_constraints_before_any_node_work():
    # Upstream filtering.go PreFilter / scoring.go PreScore: Skip when getConstraints
    # gives none, before any node is looked at. A pod with no constraints of its own
    # and no labels (the default constraints' selector) builds nothing at all; a
    # labelled pod gets the default (soft) constraints but no node mask until a
    # constraint is evaluated.
    state = make_state([node(f"n{i}", labels={ZONE: f"z{i % 2}"}, cpu="4", memory="8Gi") for i in range(4)])
    plugin = PodTopologySpread(PodTopologySpreadArgs.model_validate({"defaultingType": "System"}))
    bare = make_pod(state, {"cpu": "1"})
    assert not plugin.pre_filter(state, bare) and not plugin.pre_score(state, bare)
    assert bare._cache is None and bare._mask_cache is None  # no cache dict was even made
    labelled = make_pod(state, {"cpu": "1"}, labels={"app": "x"})
    assert not plugin.pre_filter(state, labelled)  # the system defaults are ScheduleAnyway
    assert plugin.pre_score(state, labelled)
    spread = plugin._spread_of(state, labelled)
    assert labelled._cache is None  # kept per template fields, not on the shape
    assert len(spread.soft) == 2 and not spread.hard  # hostname and zone (SYSTEM_DEFAULT_CONSTRAINTS)
    assert spread.version == -1 and spread.affinity.size == 0  # no mask made yet
    plugin.score(state, labelled, np.arange(4))
    assert spread.version == state.nodes.version and spread.affinity.size == 4


def test_evicted_shapes_drop_their_cache_dicts(tmp_path):
    doc = _scenario(tmp_path, False)
    sim = Simulation(validate_scenario(doc))
    for p in sim.profiles.values():
        p.caches.shape_budget = 0  # MIN_SHAPES recent shapes keep caches
    sim.run()
    recent = set().union(*(p.caches.recent for p in sim.profiles.values()))
    shapes = [s for s in sim.state.shapes if s.workload == 0]  # preferred affinity
    dropped = [s for s in shapes if s not in recent]
    assert len(dropped) >= len(shapes) - 2 * incremental.MIN_SHAPES
    assert all(s._cache is None and s._mask_cache is None and s._req_col is None for s in dropped)
    # NodeAffinity's preferred weights are kept per template (one array shared by the
    # template's shapes, in a FieldCache), not per shape: no shape holds a copy.
    assert not any(s._cache for s in shapes)
    preferred = shapes[0].affinity.node_affinity.preferred
    assert all(s.affinity.node_affinity.preferred is preferred for s in shapes)
    entries = node_affinity._PREFERRED.entries(sim.state.nodes)
    assert entries[id(preferred)][0] is preferred


def test_field_cache_is_per_table_version_and_bounded():
    state = make_state([node(f"n{i}", cpu="4", memory="8Gi") for i in range(3)])
    cache = FieldCache()
    entries = cache.entries(state.nodes)
    key = object()
    entries[id(key)] = (key, "v")
    assert cache.entries(state.nodes)[id(key)] == (key, "v")
    ops.set_labels(state, 0, {"a": "b"})  # moves the node table's version
    assert cache.entries(state.nodes) == {}
    other = make_state([node("m", cpu="1", memory="1Gi")])
    assert cache.entries(other.nodes) == {}  # another table: its own entries
    full = cache.entries(state.nodes)
    for i in range(shared.ENTRIES_KEPT):
        full[i] = (None, i)
    assert cache.entries(state.nodes) == {}  # dropped all at once beyond the bound
