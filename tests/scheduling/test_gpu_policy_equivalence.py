"""The (optimised) GPU-sharing policies against straightforward references.

The references below are written from the definitions of Weng et al., "Beware of
Fragmentation", USENIX ATC '23, as restated in the project's GPU-sharing policy spec:
plain Python loops over nodes and devices, reading only the node table's free
resources, the devices' free milli and the bound pods, and sharing no code with the
plugins. FGD's reference computes ``F`` exactly with fractions.

Clusters are small and random (seeded): GPU counts 0..8 (device-axis widths 3, 4, 6
and 8, so both the word-popcount and the fallback row counts run), three GPU models,
devices idle, full or partly used by one or two sharing pods, whole 1- and 2-GPU
pods, and CPU-only pods leaving from almost nothing to all of a node's CPU. Each test
runs a sequence of decisions on one plugin instance (binding the pod on a random
feasible node, releasing pods now and then, adding a node), so caches kept across
calls are checked against the reference after every change.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from builders import append_pod, gpu_shape

from k8sim.cluster import ops
from k8sim.cluster.nodes import CPU, ResourceIndex
from k8sim.cluster.ops import ClusterState, check_invariants
from k8sim.cluster.pods import BOUND, RUNNING, SUCCEEDED
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.plugins.fgd import FGD, Target, cluster_fragmentation
from k8sim.scheduling.plugins.gpu_best_fit import GpuBestFit
from k8sim.scheduling.plugins.gpu_clustering import GpuClustering
from k8sim.scheduling.plugins.gpu_common import count_true, row_min, row_sums
from k8sim.scheduling.plugins.gpu_dot_prod import GpuDotProd
from k8sim.scheduling.plugins.gpu_fit import GpuFit
from k8sim.scheduling.plugins.gpu_packing import GpuPacking
from k8sim.scheduling.plugins.gpu_random_fit import GpuRandomFit
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.scheduling.podinfo import PodInfo

GI = 1024**3
MODELS = ["V100", "T4", "A100"]
#: (seed, most GPUs on a node): the device axis is as wide as the latter.
CASES = [(0, 8), (1, 8), (2, 6), (3, 4), (4, 3)]
#: Pod kinds scored: (gpu_count, gpu_milli, cpu milli, allowed models or None).
KINDS = [
    (0, 0, 4000, None),
    (0, 0, 60000, None),
    (1, 100, 2000, None),
    (1, 250, 8000, None),
    (1, 500, 1000, ("V100", "A100")),
    (1, 700, 32000, None),
    (1, 1000, 4000, None),
    (1, 1000, 2000, ("T4",)),
    (2, 1000, 8000, None),
    (4, 1000, 2000, None),
    (8, 1000, 1000, None),
]
#: FGD target with popularities summing to 32, so every p_m is a multiple of 1/32 and the
#: plugin's float F is exact (ties are real ties). Typical pods: sharing, model-constrained
#: sharing, CPU-heavy whole GPU, model-constrained 2-GPU, 4-GPU, and CPU-only.
TARGET = [
    {"cpuMilli": 2000, "gpuMilli": 500, "gpuCount": 1, "popularity": 12},
    {"cpuMilli": 4000, "gpuMilli": 250, "gpuCount": 1, "gpuModels": "V100|A100", "popularity": 8},
    {"cpuMilli": 48000, "gpuMilli": 1000, "gpuCount": 1, "popularity": 4},
    {"cpuMilli": 8000, "gpuMilli": 1000, "gpuCount": 2, "gpuModels": "T4", "popularity": 4},
    {"cpuMilli": 1000, "gpuMilli": 1000, "gpuCount": 4, "popularity": 2},
    {"cpuMilli": 1000, "gpuMilli": 700, "gpuCount": 1, "popularity": 1},
    {"cpuMilli": 16000, "gpuMilli": 0, "gpuCount": 0, "popularity": 1},
]
#: A second target with popularities that are not binary fractions (float F is rounded).
TARGET_ROUNDED = [
    {"cpuMilli": 3000, "gpuMilli": 300, "gpuCount": 1, "popularity": 0.31},
    {"cpuMilli": 12000, "gpuMilli": 1000, "gpuCount": 1, "popularity": 0.23},
    {"cpuMilli": 40000, "gpuMilli": 450, "gpuCount": 1, "gpuModels": "T4", "popularity": 0.17},
    {"cpuMilli": 6000, "gpuMilli": 1000, "gpuCount": 8, "popularity": 0.11},
    {"cpuMilli": 2000, "gpuMilli": 810, "gpuCount": 1, "gpuModels": "A100|V100", "popularity": 0.1},
    {"cpuMilli": 30000, "gpuMilli": 0, "gpuCount": 0, "popularity": 0.08},
]


# --------------------------------------------------------------------------- cluster


def new_shape(state: ClusterState, count: int, milli: int, cpu: int, models=None) -> PodInfo:
    return gpu_shape(state, count, milli, cpu, models)


new_pod = append_pod


def fill(state: ClusterState, node: int, count: int, milli: int, cpu: int, devices: int) -> None:
    pod = new_pod(state, new_shape(state, count, milli, cpu))
    if count:
        ops.assign_gpus(state, pod, devices)
    ops.bind(state, pod, node, 0.0)


def add_random_node(state: ClusterState, rng: np.random.Generator, name: str, gpus: int) -> int:
    cpu = int(rng.choice([16000, 32000, 64000, 96000, 128000]))
    alloc = state.resources.vector({"cpu": cpu, "memory": 256 * GI, "pods": 110})
    model = str(rng.choice(MODELS))
    n = ops.add_node(state, name=name, allocatable=alloc, labels={}, taints=[], pool=-1, now=0.0,
                     gpus=(gpus, model) if gpus else None)
    devices = list(range(gpus))
    if gpus >= 2 and rng.random() < 0.3:  # a whole 2-GPU pod on two devices
        a, b = (int(d) for d in rng.choice(gpus, size=2, replace=False))
        fill(state, n, 2, 1000, 1000, (1 << a) | (1 << b))
        devices = [d for d in devices if d not in (a, b)]
    for d in devices:
        r = rng.random()
        if r < 0.35:
            continue  # idle
        if r < 0.55:
            fill(state, n, 1, 1000, int(rng.choice([0, 1000])), 1 << d)
            continue
        for _ in range(int(rng.integers(1, 3))):  # one or two sharing pods
            left = int(state.nodes.gpu_free[n, d])
            milli = int(rng.choice([50, 100, 200, 250, 300, 450, 500, 700, 900]))
            if milli < left:
                fill(state, n, 1, milli, int(rng.choice([0, 500])), 1 << d)
    cpu_left = int(state.nodes.free[CPU, n])
    if rng.random() < 0.6:  # a CPU-only pod leaving 0..100% of the CPU
        fill(state, n, 0, 0, int(rng.integers(0, cpu_left // 500 + 1)) * 500, 0)
    return n


def cluster(seed: int, max_gpus: int) -> tuple[ClusterState, np.random.Generator]:
    rng = np.random.default_rng(seed)
    state = ClusterState(ResourceIndex.from_names())
    choices = [c for c in (0, 1, 2, 3, 4, 6, 8) if c <= max_gpus]
    for i in range(20):
        add_random_node(state, rng, f"n{i}", max_gpus if i == 0 else int(rng.choice(choices)))
    check_invariants(state)
    return state, rng


def kinds(state: ClusterState) -> list[PodInfo]:
    return [new_shape(state, c, m, cpu, models) for c, m, cpu, models in KINDS]


def release_one(state: ClusterState, rng: np.random.Generator) -> None:
    pods = state.pods
    bound = np.flatnonzero(np.isin(pods.phase[: pods.n], (BOUND, RUNNING)))
    ops.release(state, int(rng.choice(bound)), SUCCEEDED, 0.0)


# --------------------------------------------------------------------------- references


def devs(state: ClusterState, n: int) -> list[int]:
    """Free milli of node n's GPUs."""
    return [int(state.nodes.gpu_free[n, d]) for d in range(int(state.nodes.gpu_count[n]))]


def cpu_left(state: ClusterState, n: int) -> int:
    return int(state.nodes.free[CPU, n])


def model_of(state: ClusterState, n: int) -> str | None:
    code = int(state.nodes.gpu_model[n])
    return state.nodes.gpu_models[code] if code >= 0 else None


def ref_feasible(state: ClusterState, info: PodInfo) -> list[int]:
    """Nodes where every requested resource fits and, for a GPU pod, the model is allowed
    and gpu_count GPUs have free >= gpu_milli."""
    out = []
    for n in range(state.nodes.n):
        if any(info.requests[r] > 0 and state.nodes.free[r, n] < info.requests[r]
               for r in range(len(state.resources))):
            continue
        if info.gpu_count:
            names = None if info.gpu_models is None else {state.nodes.gpu_models[c] for c in info.gpu_models}
            if names is not None and model_of(state, n) not in names:
                continue
            if sum(1 for x in devs(state, n) if x >= info.gpu_milli) < info.gpu_count:
                continue
        out.append(n)
    return out


def ref_best_device(free: list[int], count: int, milli: int) -> list[int]:
    """The "best" rule: a sharing pod on the fitting GPU with the least free (lowest index
    on ties), a whole-GPU pod on the lowest-index completely free GPUs."""
    if milli < 1000:
        best = None
        for d, x in enumerate(free):
            if x >= milli and (best is None or x < free[best]):
                best = d
        return [best]
    return [d for d, x in enumerate(free) if x == 1000][:count]


def ref_dot_prod(state, info, n) -> int:
    cpu_req, gpu_req = int(info.requests[CPU]), info.gpu_count * info.gpu_milli
    dot = (cpu_left(state, n) / 128000) * (cpu_req / 128000) + (sum(devs(state, n)) / 8000) * (gpu_req / 8000)
    return math.trunc(100 * (1 - dot / 2))


def ref_best_fit_raw(state, info, n) -> int:
    cpu = (cpu_left(state, n) - int(info.requests[CPU])) / 128000
    gpu = (sum(devs(state, n)) - info.gpu_count * info.gpu_milli) / 8000
    return math.trunc(100 * (1 - (0.5 * cpu + 0.5 * gpu)))


def min_max(raw: list[int]) -> list[int]:
    hi, lo = max(raw), min(raw)
    if hi == lo:
        lo -= 1
    return [math.trunc((s - lo) * 100.0 / (hi - lo)) for s in raw]


def ref_packing(state, info, n) -> int:
    if info.gpu_count == 0:
        return 0
    free = devs(state, n)
    full = sum(1 for x in free if x == 1000)
    if full == len(free):
        return max(33 - full, full)
    walk = sorted(range(len(free)), key=lambda d: (free[d], d))
    taken = [d for d in walk if free[d] >= info.gpu_milli][: info.gpu_count]
    u = sum(1 for d in taken if free[d] == 1000)
    if u >= 1:
        return max(50 - u, 33)
    return max(100 - sum(free[d] * 100 // 1000 for d in taken) // 10, 50)


def tag_of(count: int, milli: int) -> str:
    return "share" if milli < 1000 else f"{count}-gpu"


def ref_clustering(state, info, n) -> int:
    if info.gpu_count == 0:
        return 0
    pods = state.pods
    tags = {tag_of(int(pods.gpu_count[p]), int(pods.gpu_milli[p])) for p in range(pods.n)
            if pods.phase[p] in (BOUND, RUNNING) and pods.node[p] == n and pods.gpu_count[p] > 0}
    mine = tag_of(info.gpu_count, info.gpu_milli)
    base = 25 * (8000 - sum(devs(state, n))) // 8000
    if not tags:
        return 25 + base
    if tags == {mine}:
        return 75 + base
    return 50 + base if mine in tags else base


def ref_f(free: list[int], cpu: int, model: str | None, t: dict) -> int:
    """f_m(n) of the spec for typical pod ``t``."""
    left = sum(free)
    if t["gpuCount"] == 0:
        return left
    if t.get("gpuModels") and model not in t["gpuModels"].split("|"):
        return left
    if sum(1 for x in free if x >= t["gpuMilli"]) < t["gpuCount"] or cpu < t["cpuMilli"]:
        return left
    return sum(x for x in free if x < t["gpuMilli"])


def ref_frag(free: list[int], cpu: int, model: str | None, target: list[dict]) -> Fraction:
    """F(n) = sum_m p_m f_m(n), exact."""
    pops = [Fraction(t["popularity"]) for t in target]
    total = sum(pops)
    return sum((p / total * ref_f(free, cpu, model, t) for p, t in zip(pops, target, strict=True)), Fraction(0))


def ref_fgd(state, info, n, target) -> tuple[int, int | None, Fraction, Fraction]:
    """(score, FGD device of a sharing pod or None, F before, F after)."""
    free, cpu, model = devs(state, n), cpu_left(state, n), model_of(state, n)
    before = ref_frag(free, cpu, model, target)
    cpu_after = cpu - int(info.requests[CPU])
    device = None
    if info.gpu_count == 0:
        after = ref_frag(free, cpu_after, model, target)
    elif info.gpu_milli >= 1000:
        taken = ref_best_device(free, info.gpu_count, 1000)
        after = ref_frag([0 if d in taken else x for d, x in enumerate(free)], cpu_after, model, target)
    else:
        after = None
        for d, x in enumerate(free):
            if x < info.gpu_milli:
                continue
            trial = ref_frag([y - info.gpu_milli if e == d else y for e, y in enumerate(free)], cpu_after, model,
                             target)
            if after is None or trial < after:  # strict: lowest index on ties
                after, device = trial, d
    score = math.trunc(100 * (1.0 / (1.0 + math.exp(-float(before - after) / 1000))))
    return score, device, before, after


# --------------------------------------------------------------------------- runs


def profile_of(plugin) -> Profile:
    return Profile("default-scheduler", [NodeResourcesFit(), GpuFit()], [(plugin, 1)], np.random.default_rng(0), 100)


def run(seed: int, max_gpus: int, plugin, check, steps: int = 48) -> int:
    """Decisions on one cluster: each step a random kind, ``check(state, info, candidates,
    profile)`` against the references, then the pod is reserved and bound on a random
    feasible node. Every 6th step a bound pod is released; at step 24 a node is added.
    Returns the number of checked decisions."""
    state, rng = cluster(seed, max_gpus)
    infos = kinds(state)
    prof = profile_of(plugin)
    checked = 0
    for step in range(steps):
        if step == 24:
            add_random_node(state, rng, "late", int(rng.choice([2, max_gpus])))
        if step % 6 == 5:
            release_one(state, rng)
        info = infos[int(rng.integers(len(infos)))]
        cands = ref_feasible(state, info)
        assert np.flatnonzero(prof.feasible_mask(state, info)).tolist() == cands
        if not cands:
            continue
        check(state, info, cands, prof)
        checked += 1
        node = cands[int(rng.integers(len(cands)))]
        pod = new_pod(state, info)
        free = devs(state, node)
        for plugin_ in prof.reservers:
            plugin_.reserve(state, pod, info, node)
        chosen = [d for d in range(len(free)) if int(state.pods.gpu_devices[pod]) >> d & 1]
        if info.gpu_count and not (info.gpu_milli < 1000 and isinstance(plugin, (FGD, GpuRandomFit))):
            assert chosen == ref_best_device(free, info.gpu_count, info.gpu_milli)
        elif info.gpu_count and isinstance(plugin, GpuRandomFit):
            assert len(chosen) == 1 and free[chosen[0]] >= info.gpu_milli
        ops.bind(state, pod, node, 0.0)
        check_invariants(state)
    return checked


def scores(plugin, state, info, cands) -> list[int]:
    return plugin.normalize(info, plugin.score(state, info, np.array(cands))).tolist()


@pytest.mark.parametrize(("seed", "max_gpus"), CASES)
def test_dot_prod_best_fit_packing_clustering_match_reference(seed, max_gpus):
    for plugin, ref in ((GpuDotProd(), ref_dot_prod), (GpuPacking(), ref_packing),
                        (GpuClustering(), ref_clustering)):
        def check(state, info, cands, prof, plugin=plugin, ref=ref):
            assert scores(plugin, state, info, cands) == [ref(state, info, n) for n in cands]

        assert run(seed, max_gpus, plugin, check) >= 25

    def check_best_fit(state, info, cands, prof):
        assert scores(best, state, info, cands) == min_max([ref_best_fit_raw(state, info, n) for n in cands])

    best = GpuBestFit()
    assert run(seed, max_gpus, best, check_best_fit) >= 25


@pytest.mark.parametrize(("seed", "max_gpus"), CASES)
def test_random_fit_picks_one_candidate_and_a_fitting_device(seed, max_gpus):
    plugin = GpuRandomFit()
    plugin.setup(np.random.default_rng(seed))

    def check(state, info, cands, prof):
        assert sorted(scores(plugin, state, info, cands)) == [0] * (len(cands) - 1) + [100]

    assert run(seed, max_gpus, plugin, check) >= 25


@pytest.mark.parametrize(("seed", "max_gpus"), CASES)
def test_fgd_matches_exact_reference(seed, max_gpus):
    # Dyadic popularities: the plugin's F is exact, so F before/after, scores and the
    # chosen device (lowest index among exact ties) must equal the fraction reference.
    plugin = FGD(FGD.parse_args({"targetWorkload": TARGET}))
    devices = 0

    def check(state, info, cands, prof):
        nonlocal devices
        want = [ref_fgd(state, info, n, TARGET) for n in cands]
        assert scores(plugin, state, info, cands) == [w[0] for w in want]
        before, after, device = plugin.target.placement(state, info, np.array(cands))
        assert before.tolist() == [float(w[2]) for w in want]
        assert after.tolist() == [float(w[3]) for w in want]
        if info.gpu_count == 1 and info.gpu_milli < 1000:
            assert device.tolist() == [w[1] for w in want]
            for n, w in zip(cands, want, strict=True):  # Reserve's device on every candidate
                pod = new_pod(state, info)
                plugin.reserve(state, pod, info, n)
                assert int(state.pods.gpu_devices[pod]) == 1 << w[1]
                devices += 1
        state_nodes = range(state.nodes.n)
        assert cluster_fragmentation(state, TARGET) == float(sum(
            ref_frag(devs(state, n), cpu_left(state, n), model_of(state, n), TARGET) for n in state_nodes))

    assert run(seed, max_gpus, plugin, check) >= 25
    assert devices >= 20


@pytest.mark.parametrize(("seed", "max_gpus"), CASES)
def test_fgd_rounded_popularities_and_target_swap(seed, max_gpus):
    # Popularities that are not binary fractions: the float F may differ from the exact one
    # in the last bits, so a score may be one lower only where the exact change is 0
    # (int(100 * sigmoid(-tiny)) = 49), and the device must reach the exact minimum up
    # to 1e-9. Halfway through the target is replaced (as Simulation does for FGD
    # profiles without targetWorkload): the memo must follow the new target.
    plugin = FGD(FGD.parse_args({"targetWorkload": TARGET}))
    current = {"target": TARGET}

    def check(state, info, cands, prof):
        target = current["target"]
        if target is TARGET and state.pods.n > 60:
            current["target"] = target = TARGET_ROUNDED
            plugin.target = Target.of(TARGET_ROUNDED)
        got = scores(plugin, state, info, cands)
        _, _, device = plugin.target.placement(state, info, np.array(cands))
        for n, s, d in zip(cands, got, device.tolist(), strict=True):
            want, _, before, after = ref_fgd(state, info, n, target)
            assert s == want or (before == after and (s, want) == (49, 50))
            if info.gpu_count == 1 and info.gpu_milli < 1000:
                free = devs(state, n)
                trial = [y - info.gpu_milli if e == d else y for e, y in enumerate(free)]
                assert free[d] >= info.gpu_milli
                cpu_after = cpu_left(state, n) - int(info.requests[CPU])
                assert ref_frag(trial, cpu_after, model_of(state, n), target) - after < Fraction(1, 10**9)

    assert run(seed, max_gpus, plugin, check) >= 25
    assert current["target"] is TARGET_ROUNDED


def test_row_helpers_match_numpy():
    # count_true / row_sums / row_min against numpy's own reductions, for every device
    # width up to 17 (word popcount for 1, 2, 4, 8 and 16 bytes, the fallback otherwise),
    # strided views and empty arrays.
    rng = np.random.default_rng(7)
    for width in range(0, 18):
        for rows in (0, 1, 5):
            mask = rng.random((rows, width)) < 0.5
            assert count_true(mask).tolist() == mask.sum(axis=1).tolist()
            assert count_true(mask.reshape(1, rows, width)).tolist() == [mask.sum(axis=1).tolist()]
            values = rng.integers(-1, 1001, (rows, width))
            assert row_sums(values).tolist() == values.sum(axis=1).tolist()
            assert row_min(values, 5000).tolist() == values.min(axis=1, initial=5000).tolist()
        wide = rng.random((4, 2 * width + 1)) < 0.5
        assert count_true(wide[:, ::2]).tolist() == wide[:, ::2].sum(axis=1).tolist()


def test_cluster_without_gpus():
    # No node has GPUs (device axis of width 0). GpuFit rejects every GPU pod; a CPU-only
    # pod scores 0 under Packing and Clustering, and 50 under FGD (F = 0 before and after).
    # Scored directly on such nodes, a sharing pod finds no GPU: FGD after = inf (score 0,
    # device -1); Packing sees an idle node with F = 0 completely free GPUs: max(33, 0) = 33.
    state = ClusterState(ResourceIndex.from_names())
    alloc = state.resources.vector({"cpu": 8000, "memory": 16 * GI, "pods": 110})
    for i in range(3):
        ops.add_node(state, name=f"c{i}", allocatable=alloc, labels={}, taints=[], pool=-1, now=0.0)
    cpu_pod, share = new_shape(state, 0, 0, 1000), new_shape(state, 1, 300, 1000)
    assert not GpuFit().filter(state, share).any()
    nodes = [0, 1, 2]
    fgd = FGD(FGD.parse_args({"targetWorkload": TARGET}))
    assert scores(fgd, state, cpu_pod, nodes) == [50] * 3
    assert scores(GpuPacking(), state, cpu_pod, nodes) == [0] * 3
    assert scores(GpuClustering(), state, cpu_pod, nodes) == [0] * 3
    assert scores(fgd, state, share, nodes) == [0] * 3
    assert fgd.target.placement(state, share, np.array(nodes))[2].tolist() == [-1] * 3
    assert scores(GpuPacking(), state, share, nodes) == [33] * 3
