"""A trace's distinct requests interned in bulk are the shapes interned one by one.

A trace with a request per pod (Google 2019, Alibaba 2018) makes a shape per pod; the
trace path numbers them with ``first_seen_codes`` (pandas' order of first appearance,
as ``pd.MultiIndex.factorize`` numbers them), builds them with
``ShapeBook.trace_shapes`` (copies of one shape per GPU request and priority,
``podinfo.variants``, registered by ``ops.add_shapes``) and checks them against the
nodes with ``ShapeBook.fits_rows``. Each is compared here with the one-at-a-time
path it replaces: ``shape_for(..., unique=True)`` per row, ``ops.add_shape`` per
shape, the per-shape node test, and a run's shapes with a numbering written out by
hand from the trace file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from k8sim import Simulation, validate_scenario
from k8sim.cluster import ops
from k8sim.cluster.pods import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST
from k8sim.scheduling.podinfo import PodInfo, variants
from k8sim.sim.sources import TEMPLATE_PRIORITY, first_seen_codes

KATA = {"name": "kata", "handler": "kata-qemu", "overhead": {"podFixed": {"cpu": "250m", "memory": "160Mi"}}}
#: The template of the shapes: every field a template gives a shape is set.
TEMPLATE = {
    "namespace": "team-a", "labels": {"app": "x", "tier": "web"}, "nodeSelector": {"disk": "ssd"},
    "tolerations": [{"key": "spot", "operator": "Exists"}], "ports": [{"containerPort": 80, "hostPort": 8080}],
    "runtimeClassName": "kata", "priority": 7, "terminationGracePeriodSeconds": 12,
}


def _cluster_doc() -> dict:
    return {
        "name": "bulk", "runtimeClasses": [KATA],
        "cluster": {"node_pools": [
            {"name": "small", "count": 3, "labels": {"disk": "ssd"}, "allocatable": {"cpu": "4", "memory": "8Gi"}},
            {"name": "v100", "count": 2, "labels": {"disk": "ssd"}, "allocatable": {"cpu": "16", "memory": "64Gi"},
             "gpus": {"count": 4, "model": "V100"}},
            {"name": "a100", "count": 1, "allocatable": {"cpu": "64", "memory": "16Gi"},
             "gpus": {"count": 8, "model": "A100"}},
        ]},
        "workloads": [{"name": "w", "template": {**TEMPLATE, "requests": {"cpu": "1"}},
                       "arrival": {"kind": "burst", "count": 1, "at_s": 0}}],
    }


def _sim() -> Simulation:
    return Simulation(validate_scenario(_cluster_doc()))


#: Kinds: (GPU request, trace priority). Two kinds share each count group of the
#: CPU-only pods (priority differs), shared (-1) and whole-GPU requests make groups of
#: their own, a count of 0 with a model name is a CPU-only pod, and H100 / B200 are on
#: no node (interned when first seen, after V100 and A100 of the node pools).
KINDS = [
    ((0, 0, None), None),
    ((1, 1000, frozenset({"A100"})), None),
    ((2, 500, frozenset({"H100", "B200"})), 3),
    ((0, 0, None), 5),
    ((1, 1000, None), None),
    ((0, 0, frozenset({"A100"})), None),
    ((3, 1000, frozenset({"V100", "A100"})), 9),
]


def _rows(sim: Simulation, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` request rows (cpu, memory, pods = 1, plus the class overhead) with some
    zero cpu or memory requests, and a kind each (every kind used, out of order)."""
    rng = np.random.default_rng(seed)
    r = len(sim.state.resources.names)
    req = np.zeros((n, r), dtype=np.int64)
    index = sim.state.resources.index
    req[:, index["cpu"]] = rng.integers(0, 9000, n) * (rng.random(n) > 0.1)
    req[:, index["memory"]] = rng.integers(0, 40, n) * 2**28 * (rng.random(n) > 0.1)
    req[:, index["pods"]] = 1
    kind = rng.integers(0, len(KINDS), n)
    kind[:len(KINDS)] = [4, 2, 0, 6, 1, 5, 3]  # kinds first seen in this order, not 0, 1, ...
    return req, kind


def _assert_same_shape(a: PodInfo, b: PodInfo) -> None:
    for name in PodInfo.__slots__:
        if name == "spec":
            continue  # an identity: the bulk copies share their kind's (see the next test)
        x, y = getattr(a, name), getattr(b, name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray), name
            assert x.dtype == y.dtype and np.array_equal(x, y), (name, x, y)
        else:
            assert x == y, (name, x, y)


def test_bulk_shapes_are_the_one_by_one_shapes_field_for_field():
    bulk, single = _sim(), _sim()
    template = bulk.scenario.workloads[0].template
    req, kind = _rows(bulk, 400, seed=1)
    before = len(bulk.state.shapes)
    assert before == len(single.state.shapes) > 0  # the synthetic workload's shape comes first

    first = bulk.shape_book.trace_shapes(req, template, 0, kind, [g for g, _ in KINDS], [p for _, p in KINDS])
    ids = [single.shape_book.shape_for(("trace", 0, i), req[i], template, workload=0, gpu=KINDS[k][0],
                                       trace_priority=KINDS[k][1], unique=True)
           for i, k in enumerate(kind.tolist())]

    assert first == before and ids == list(range(before, before + len(req)))
    a, b = bulk.state, single.state
    assert len(a.shapes) == len(b.shapes) == before + len(req)
    for x, y in zip(a.shapes, b.shapes, strict=True):
        _assert_same_shape(x, y)
    # The same count groups, made in the same order, with the same first shapes.
    assert a.shape_group == b.shape_group
    assert [g.shape for g in a.groups] == [g.shape for g in b.groups]
    assert a._group_index == b._group_index
    assert a.group_counts.shape == b.group_counts.shape
    # Groups: the synthetic workload's (same template, no GPU), which the CPU-only kinds
    # 0, 3 and 5 join; then by first appearance kind 4 (one whole GPU; kind 1 joins it:
    # the model is not part of the key), kind 2 (shared GPU), kind 6 (three whole GPUs).
    assert len(a.groups) == 4
    assert [a.shape_group[first + i] for i in range(7)] == [1, 2, 0, 3, 1, 0, 0]
    # GPU model codes: the pools' V100, A100, then the trace's new names as first met.
    assert a.nodes.gpu_models == b.nodes.gpu_models
    assert a.nodes.gpu_models[:2] == ["V100", "A100"] and set(a.nodes.gpu_models[2:]) == {"H100", "B200"}
    # Spot checks of what the rows give (row 0 is kind 4, any model, one whole GPU).
    s = a.shapes[first]
    assert (s.gpu_count, s.gpu_milli, s.gpu_models, s.priority) == (1, 1000, None, 7)
    cpu0 = int(req[0, 0])
    assert s.nonzero.tolist() == [cpu0 or DEFAULT_MILLI_CPU_REQUEST, int(req[0, 1]) or DEFAULT_MEMORY_REQUEST]
    assert s.nonzero_bound is s.nonzero and s.pod_spec is None and s.namespace == "team-a"
    assert s.host_ports == (("TCP", "0.0.0.0", 8080),)


def test_bulk_shapes_share_template_objects_and_own_their_requests():
    sim = _sim()
    req, kind = _rows(sim, 50, seed=2)
    first = sim.shape_book.trace_shapes(req, sim.scenario.workloads[0].template, 0, kind,
                                        [g for g, _ in KINDS], [p for _, p in KINDS])
    shapes = sim.state.shapes[first:]
    for i, s in enumerate(shapes):
        assert s.labels is shapes[0].labels and s.tolerations is shapes[0].tolerations
        assert s.requests.tolist() == req[i].tolist()
        assert s._mask_cache is None and s._cache is None and s._req_col is None
    # One spec per kind (copies of one prototype differ in their requests only), and
    # none shared with a shape built on its own.
    specs = {}
    for s, k in zip(shapes, kind.tolist(), strict=True):
        assert specs.setdefault(k, s.spec) is s.spec
    assert len({id(v) for v in specs.values()}) == len(specs) > 1
    assert all(sim.state.shapes[0].spec is not v for v in specs.values())
    # A plugin cache of one shape is its own.
    shapes[0].cache["x"] = 1
    assert shapes[1]._cache is None
    # The rows with a zero cpu request have the pattern (memory, pods) rows, one array.
    zero_cpu = [s for s in shapes if s.requests[0] == 0 and s.requests[1] > 0]
    assert zero_cpu and all(s.requested_rows is zero_cpu[0].requested_rows for s in zero_cpu)
    assert zero_cpu[0].requested_rows.tolist() == [1, sim.state.resources.index["pods"]]


def test_variants_go_to_the_collectors_oldest_generation():
    """The copies skip the young generations (freeze, then unfreeze): a million of them
    would otherwise be walked by the next two young collections. Nothing stays frozen."""
    import gc

    sim = _sim()
    proto = sim.state.shapes[0]
    assert gc.get_freeze_count() == 0
    made = variants([proto] * 1, [0] * 50, 1, [proto.requests] * 50, [proto.nonzero] * 50,
                    [proto.requested_rows] * 50)
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    oldest = {id(o) for o in gc.get_objects(generation=2)}
    assert all(id(o) in oldest for o in made)


def test_variants_and_add_shapes_refuse_what_they_cannot_copy():
    sim = _sim()
    proto = sim.state.shapes[0]
    other = PodInfo(shape=-1, requests=proto.requests, nonzero=proto.nonzero, priority=0,
                    scheduler_name="default-scheduler", nonzero_bound=np.array([1, 2]))
    with pytest.raises(ValueError, match="nonzero_bound"):
        variants([other], [0], 1, [proto.requests], [proto.nonzero], [proto.requested_rows])
    made = variants([proto], [0], 5, [proto.requests], [proto.nonzero], [proto.requested_rows])
    with pytest.raises(ValueError, match="numbered 5..5, expected 1..1"):
        ops.add_shapes(sim.state, made, np.array([0]))


def _multiindex_codes(columns: list[np.ndarray]) -> np.ndarray:
    """The numbering the trace path used before: a MultiIndex of the key columns."""
    codes, _ = pd.MultiIndex.from_arrays(columns).factorize()
    return np.asarray(codes)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_seen_codes_number_rows_as_multiindex_factorize(seed):
    rng = np.random.default_rng(seed)
    n = 5000
    columns = [
        rng.integers(0, 40, n),                       # narrow range: numbered by value
        rng.integers(-(2**40), 2**40, n) // 2**37,    # wide range, negatives: factorized
        rng.integers(0, 3, n) * 2**50,                # few values over a wide range
        np.full(n, TEMPLATE_PRIORITY),                # constant
        rng.choice(np.array([TEMPLATE_PRIORITY, 0, 1000], dtype=np.int64), n),
    ]
    codes, first = first_seen_codes(columns)
    assert codes.tolist() == _multiindex_codes(columns).tolist()
    # first[u]: the row where number u first appears (a plain loop).
    seen: dict[int, int] = {}
    for i, c in enumerate(codes.tolist()):
        seen.setdefault(c, i)
    assert first.tolist() == [seen[u] for u in range(len(seen))]


def test_first_seen_codes_refactorizes_before_the_key_overflows():
    # Six columns of 5,000 distinct wide values: the product of their counts (5000^6)
    # is past int64, so the key is renumbered on the way; rows repeat in blocks.
    rng = np.random.default_rng(3)
    base = [rng.permutation(5000).astype(np.int64) * 10**9 for _ in range(6)]
    columns = [np.concatenate([c, c[::-1], c]) for c in base]
    codes, first = first_seen_codes(columns)
    assert codes.tolist() == _multiindex_codes(columns).tolist()
    assert len(first) == 5000 and codes[10000:].tolist() == list(range(5000))


def test_first_seen_codes_of_no_rows():
    codes, first = first_seen_codes([np.zeros(0, dtype=np.int64)] * 3)
    assert codes.tolist() == [] and first.tolist() == []


def _fits_one_by_one(state, req: np.ndarray, gpu_count: np.ndarray, models: list) -> list[bool]:
    """The per-shape test fits_rows replaces: some node has all of it."""
    nodes = state.nodes
    out = []
    for r, g, m in zip(req, gpu_count.tolist(), models, strict=True):
        ok = (nodes.alloc >= r[:, None]).all(axis=0)
        if g:
            ok &= nodes.gpu_count >= g
            if m is not None:
                ok &= np.isin(nodes.gpu_model, list(m))
        out.append(bool(ok.any()))
    return out


def test_fits_rows_is_the_per_shape_test():
    # Rows near the pools' edges: a row may exceed every node on one resource only
    # (e.g. "small"'s cpu with "a100"'s memory), which a per-resource maximum over all
    # nodes would call a fit.
    sim = _sim()
    state = sim.state
    rng = np.random.default_rng(4)
    n = 3000
    index = state.resources.index
    req = np.zeros((n, len(state.resources.names)), dtype=np.int64)
    req[:, index["cpu"]] = rng.choice([1000, 4000, 4001, 16000, 16001, 64000, 64001], n)
    req[:, index["memory"]] = rng.choice([1, 8, 9, 16, 17, 64, 65], n) * 2**30
    req[:, index["pods"]] = 1
    gpu_count = rng.choice([0, 0, 1, 4, 5, 8, 9], n)
    codes = {name: ops.intern_gpu_model(state, name) for name in ("V100", "A100", "H100")}
    sets = [None, frozenset({codes["V100"]}), frozenset({codes["A100"]}), frozenset({codes["H100"]}),
            frozenset({codes["V100"], codes["A100"]})]
    model_set = rng.integers(0, len(sets), n)
    got = sim.shape_book.fits_rows(req, gpu_count, model_set, sets)
    want = _fits_one_by_one(state, req, gpu_count, [sets[m] for m in model_set.tolist()])
    assert got.tolist() == want
    assert 0 < sum(want) < n  # both outcomes are exercised
    # Hand-checked rows (cpu milli, memory GiB, GPUs, models):
    # 16 cores and 64 GiB with 4 V100: a v100 node; 64 cores and 17 GiB: no node has both.
    hand = np.zeros((3, req.shape[1]), dtype=np.int64)
    hand[:, index["pods"]] = 1
    hand[:, index["cpu"]] = [16000, 64000, 4000]
    hand[:, index["memory"]] = np.array([64, 17, 8]) * 2**30
    assert sim.shape_book.fits_rows(hand, np.array([4, 0, 5]), np.array([1, 0, 2]), sets).tolist() == \
        [True, False, True]


def test_fits_some_node_over_registered_shapes():
    sim = _sim()
    req, kind = _rows(sim, 300, seed=5)
    req[::7, sim.state.resources.index["cpu"]] = 70000  # on no node
    first = sim.shape_book.trace_shapes(req, sim.scenario.workloads[0].template, 0, kind,
                                        [g for g, _ in KINDS], [p for _, p in KINDS])
    ids = np.arange(first, first + len(req))
    fits = sim.shape_book.fits_some_node(ids)
    shapes = sim.state.shapes
    want = _fits_one_by_one(sim.state, req, np.array([shapes[s].gpu_count for s in ids]),
                            [shapes[s].gpu_models for s in ids])
    assert len(fits) == len(shapes) and not fits[:first].any()
    assert fits[first:].tolist() == want and 0 < sum(want) < len(req)


POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"


def test_a_trace_runs_shapes_follow_the_trace_order(tmp_path: Path):
    # 600 pods over 9 (cpu, memory) pairs, GPU requests and two QoS classes (priority by
    # QoS, LS -> 100): the shapes are numbered by first appearance of (cpu, memory,
    # GPUs, model, priority), in a plain loop below, with the kata overhead on top.
    rng = np.random.default_rng(6)
    rows = []
    specs = ["", "V100", "A100|V100", "H100"]
    for i in range(600):
        cpu, mem = int(rng.integers(1, 4)) * 1000, int(rng.integers(1, 4)) * 1024
        gpus = int(rng.choice([0, 0, 1, 2]))
        milli = 0 if not gpus else 1000 if gpus > 1 else int(rng.choice([500, 1000]))  # openb shares one GPU
        spec = "" if not gpus else str(rng.choice(specs))
        qos = str(rng.choice(["BE", "LS"]))
        rows.append(f"p{i},{cpu},{mem},{gpus},{milli},{spec},{qos},Running,{i},{i + 5000},{i}\n")
    (tmp_path / "pods.csv").write_text(POD_HEADER + "".join(rows))
    doc = _cluster_doc()
    doc["duration_s"] = 700  # every pod is created by then (pod i at i s)
    doc["workloads"] = [{"name": "t", "template": TEMPLATE,
                         "trace": {"format": "openb", "files": [str(tmp_path / "pods.csv")],
                                   "priority_by_qos": {"LS": 100}}}]
    sim = Simulation(validate_scenario(doc))
    pods = sim.replays["t"].pods
    numbers: dict[tuple, int] = {}
    expected = []
    for cpu, mem, g, milli, model, qos in zip(pods["cpu_milli"], pods["memory_bytes"], pods["gpu_count"],
                                              pods["gpu_milli"], pods["gpu_model"], pods["qos"], strict=True):
        expected.append(numbers.setdefault((cpu, mem, g, milli, model, qos), len(numbers)))
    first = len(sim.state.shapes) - len(numbers)
    assert first == 0  # the trace workload's shapes are the run's only ones
    overhead = {"cpu": 250, "memory": 160 * 2**20}
    for (cpu, mem, g, milli, model, qos), u in numbers.items():
        s = sim.state.shapes[first + u]
        assert (s.requests[0], s.requests[1]) == (cpu + overhead["cpu"], mem + overhead["memory"])
        assert s.priority == (100 if qos == "LS" else 7)
        assert s.gpu_count == g and s.gpu_milli == (milli if g else 0)
        names = None if not g or not model else {sim.state.nodes.gpu_models[c] for c in s.gpu_models}
        assert names == (set(model.split("|")) if g and model else None)
        assert s.runtime_handler == "kata-qemu" and s.pod_spec is None
    sim.run()
    made = sim.state.pods
    got = dict(zip(made.names, made.shape[:made.n].tolist(), strict=True))
    assert [got[p] for p in pods["name"]] == [u + first for u in expected]
    # H100 is on no node: warned with its pod count, and those pods counted as unfit.
    h100 = int(((pods["gpu_model"] == "H100") & (pods["gpu_count"] > 0)).sum())
    assert any(f"GPU models on no node of the cluster: H100 ({h100} pods)" in w for w in sim.warnings)
    assert h100 and any(f"{h100} of 600 pods fit no node" in w for w in sim.warnings)


# -- trace pods' rows written ahead (PodTable.prefill) ------------------------------------


def test_prefill_then_add_reserved_writes_what_add_writes():
    from k8sim.cluster.pods import PENDING, PodTable

    a, b = PodTable(3), PodTable(3)
    a.add("x", np.array([5, 6, 1]), 9, 0, 4, 2, 0.5, 10.0, 0.0, 0, 0, 0, 0, None)  # a row before
    b.add("x", np.array([5, 6, 1]), 9, 0, 4, 2, 0.5, 10.0, 0.0, 0, 0, 0, 0, None)
    req = np.array([[100, 200, 1], [0, 300, 1]])  # two shapes (7, 8), cpu 0 in the second
    nz = np.array([[100, 200], [100, 300]])  # its non-zero cpu: upstream's 100m
    prio = np.array([3, 1])
    code = np.array([1, 0, 1])
    duration = np.array([5.0, np.inf, 2.5])
    a.reserve(4)
    a.prefill(1, code, req, nz, prio, 7, 2, duration)
    for i, c in enumerate(code.tolist()):
        row = a.add_reserved(f"p{i}", 1.0 + i, 0.25 * i)
        assert row == 1 + i
        b.add(f"p{i}", req[c], 2, i, 7 + c, int(prio[c]), 1.0 + i, float(duration[i]), 0.25 * i, 0, 0, 0, 0, nz[c])
    assert a.n == b.n == 4 and a.names == b.names
    for name in ("requests", "nonzero", "workload", "index", "shape", "priority", "phase", "node", "created",
                 "duration", "start_latency", "gpu_count", "owner_kind", "attempts"):
        np.testing.assert_array_equal(getattr(a, name)[:4], getattr(b, name)[:4], err_msg=name)
    assert a.phase[1:4].tolist() == [PENDING] * 3 and a.node[1:4].tolist() == [-1] * 3
    with pytest.raises(ValueError, match="not reserved and free"):
        a.prefill(2, code, req, nz, prio, 7, 2, duration)  # row 2 is taken


def _prefill_doc(tmp_path: Path, extra: list[dict]) -> dict:
    rng = np.random.default_rng(8)
    rows = []
    for i in range(300):
        cpu, mem = int(rng.integers(1, 40)) * 100, 512 + i
        rows.append(f"p{i},{cpu},{mem},0,0,,BE,Running,{i * 0.5},{i * 0.5 + 40 + i % 17},{i * 0.5}\n")
    (tmp_path / "pods.csv").write_text(POD_HEADER + "".join(rows))
    doc = _cluster_doc()
    doc["workloads"] = [{"name": "t", "trace": {"format": "openb", "files": [str(tmp_path / "pods.csv")]}},
                        *extra]
    return doc


@pytest.mark.parametrize("extra", [
    [],  # the trace alone: every pod in its expected row
    # Another workload's pods among the trace's: the rows shift at its first pod.
    [{"name": "w", "arrival": {"kind": "times", "times_s": [30.2, 61.7, 90.0]},
      "duration": {"kind": "constant", "value": 20.0}, "template": {"requests": {"cpu": "1"}}}],
    # Two traces: the second's rows come after the first's, both shift at once.
    "second trace",
], ids=["alone", "interleaved", "two-traces"])
def test_runs_with_rows_written_ahead_equal_runs_without(tmp_path: Path, monkeypatch, extra):
    from k8sim.cluster.api import ClusterAPI

    if extra == "second trace":
        (tmp_path / "b").mkdir()
        second = _prefill_doc(tmp_path / "b", [])["workloads"][0]
        extra = [{**second, "name": "t2"}]
    doc = _prefill_doc(tmp_path, extra)
    fast = Simulation(validate_scenario(doc))
    fast_run = fast.run()
    # The reference: every arrival through create_pod (the path of a run with admission).
    monkeypatch.setattr(ClusterAPI, "admits_all", property(lambda self: False))
    ref = Simulation(validate_scenario(doc)).run()
    for name in ("pods", "events", "timeseries"):
        pd.testing.assert_frame_equal(getattr(fast_run, name), getattr(ref, name), check_exact=True, obj=name)
    assert len(fast_run.pods) == 300 + (3 if extra and "arrival" in extra[0] else 300 if extra else 0)
