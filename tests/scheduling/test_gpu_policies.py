"""GPU-sharing policies of Weng et al., "Beware of Fragmentation", USENIX ATC '23, as
score plugins: GpuBestFit, GpuDotProd, GpuPacking, GpuClustering, GpuRandomFit, FGD.

Every expected score is derived by hand in the comments from the definitions in the
plugins' docstrings. Unit clusters: nodes of 64 CPUs (cpuLeft 64000) and 256Gi with the
given GPU count; filler pods request no CPU and are bound on chosen devices. End-to-end
runs use the ``kube-default`` preset with the policy at weight 10 on top.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest
from builders import append_pod, gpu_shape
from pydantic import ValidationError

import k8sim
from k8sim.cluster import ops
from k8sim.cluster.nodes import ResourceIndex
from k8sim.cluster.ops import ClusterState, check_invariants
from k8sim.scheduling import registry
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.plugins.fgd import FGD, FGDArgs, cluster_fragmentation, target_workload_from_pods
from k8sim.scheduling.plugins.gpu_best_fit import GpuBestFit
from k8sim.scheduling.plugins.gpu_clustering import GpuClustering
from k8sim.scheduling.plugins.gpu_dot_prod import GpuDotProd
from k8sim.scheduling.plugins.gpu_fit import GpuFit
from k8sim.scheduling.plugins.gpu_packing import GpuPacking
from k8sim.scheduling.plugins.gpu_random_fit import GpuRandomFit
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.scheduling.podinfo import PodInfo

GI = 1024**3
NAMES = ["GpuBestFit", "GpuDotProd", "GpuPacking", "GpuClustering", "GpuRandomFit", "FGD"]


def gpu_state(*gpus: int) -> ClusterState:
    """One node per entry (n0, n1, ...) with that many V100 GPUs, 64 CPUs, 256Gi."""
    state = ClusterState(ResourceIndex.from_names())
    alloc = state.resources.vector({"cpu": 64_000, "memory": 256 * GI, "pods": 110})
    for i, count in enumerate(gpus):
        ops.add_node(state, name=f"n{i}", allocatable=alloc, labels={}, taints=[], pool=-1, now=0.0,
                     gpus=(count, "V100") if count else None)
    return state


gpu_pod = gpu_shape
new_pod = append_pod


def place(state: ClusterState, node: int, count: int, milli: int, devices: int) -> int:
    """Bind a filler pod (no CPU) of ``count`` x ``milli`` on ``devices`` (bitmask) of ``node``."""
    pod = new_pod(state, gpu_pod(state, count, milli, cpu=0))
    ops.assign_gpus(state, pod, devices)
    ops.bind(state, pod, node, 0.0)
    return pod


def scores(plugin, state, pod, candidates=None) -> list[int]:
    cand = np.arange(state.nodes.n) if candidates is None else np.asarray(candidates)
    raw = plugin.score(state, pod, cand)
    assert raw.dtype == np.int64 and raw.shape == cand.shape
    return plugin.normalize(pod, raw).tolist()


def submit(state: ClusterState, info: PodInfo, prof: Profile) -> int:
    """Schedule a new pod as the Scheduler does (Reserve in profile order, then bind)."""
    pod = new_pod(state, info)
    decision = prof.schedule(state, info, pod)
    if decision.node >= 0:
        for plugin in prof.reservers:
            plugin.reserve(state, pod, info, decision.node)
        ops.bind(state, pod, decision.node, 0.0)
    check_invariants(state)
    return pod


def gpu_profile(plugin) -> Profile:
    return Profile("default-scheduler", [NodeResourcesFit(), GpuFit()], [(plugin, 1)], np.random.default_rng(0), 100)


def test_registered_and_documented():
    for name in NAMES:
        cls = registry.get(name)
        assert cls.name == name and cls.summary
        doc = importlib.import_module(cls.__module__).__doc__
        assert "Weng et al." in doc and "Beware of Fragmentation" in doc and "USENIX ATC '23" in doc


# --------------------------------------------------------------------------- BestFit


def test_best_fit_scores():
    # n0: 4 idle GPUs (gpuLeft 4000); n1: 8 idle (8000); n2: 2 GPUs, 300 used (1700).
    # Pod cpu 8000, 1 x 500: cpu term 0.5 * 56000/128000 = 0.21875 on every node.
    #   n0: 0.21875 + 0.5 * 3500/8000 (0.21875) = 0.4375  -> int(100 * 0.5625)  = 56
    #   n1: 0.21875 + 0.5 * 7500/8000 (0.46875) = 0.6875  -> int(100 * 0.3125)  = 31
    #   n2: 0.21875 + 0.5 * 1200/8000 (0.075)   = 0.29375 -> int(100 * 0.70625) = 70
    # min-max over [56, 31, 70]: lo 31, hi 70: n0 int(25 * 100 / 39) = 64, n1 0, n2 100.
    state = gpu_state(4, 8, 2)
    place(state, 2, 1, 300, 0b01)
    pod = gpu_pod(state, 1, 500, cpu=8000)
    assert GpuBestFit().score(state, pod, np.arange(3)).tolist() == [56, 31, 70]
    assert scores(GpuBestFit(), state, pod) == [64, 0, 100]
    # Equal raw scores (a single candidate) all become 100.
    assert scores(GpuBestFit(), state, pod, [1]) == [100]


# --------------------------------------------------------------------------- DotProd


def test_dot_prod_scores():
    # Pod cpu 8000, 1 x 500: vp = [8000/128000, 500/8000] = [0.0625, 0.0625].
    #   n0: cpuLeft 64000, gpuLeft 4000: vn = [0.5, 0.5], dot = 0.0625,
    #       score int(100 * (1 - 0.03125)) = 96
    #   n1: gpuLeft 8000: vn = [0.5, 1], dot = 0.03125 + 0.0625 = 0.09375 -> int(95.3125) = 95
    #   n2: gpuLeft 1700: vn = [0.5, 0.2125], dot = 0.03125 + 0.01328125 = 0.04453125
    #       -> int(100 * (1 - 0.022265625)) = int(97.77) = 97
    state = gpu_state(4, 8, 2)
    place(state, 2, 1, 300, 0b01)
    assert scores(GpuDotProd(), state, gpu_pod(state, 1, 500, cpu=8000)) == [96, 95, 97]
    # CPU-only pod cpu 8000: dot = 0.5 * 0.0625 = 0.03125 -> int(98.4375) = 98 everywhere.
    assert scores(GpuDotProd(), state, gpu_pod(state, cpu=8000)) == [98, 98, 98]


# --------------------------------------------------------------------------- GpuPacking


def test_packing_scores():
    # n0: 4 idle GPUs; n1: [700, 1000]; n2: [200, 1000]; n3: 8 idle; n4: 4 GPUs [700, 1000 x3].
    state = gpu_state(4, 2, 2, 8, 4)
    place(state, 1, 1, 300, 0b01)
    place(state, 2, 1, 800, 0b01)
    place(state, 4, 1, 300, 0b01)
    # Sharing pod 1 x 500:
    #   n0 idle, F = 4: max(33 - 4, 4) = 29;  n3 idle, F = 8: max(25, 8) = 25
    #   n1: ascending [700, 1000], takes 700 (u = 0): 100 - (700 * 100 // 1000) // 10 = 100 - 7 = 93
    #   n2: ascending [200, 1000], 200 < 500, takes 1000 (u = 1): max(50 - 1, 33) = 49
    #   n4: takes 700: 93
    assert scores(GpuPacking(), state, gpu_pod(state, 1, 500)) == [29, 93, 49, 25, 93]
    # Whole 2-GPU pod (n1, n2 infeasible): n0 29, n3 25; n4 takes two free GPUs: max(50 - 2, 33) = 48.
    assert scores(GpuPacking(), state, gpu_pod(state, 2, 1000), [0, 3, 4]) == [29, 25, 48]
    # Sharing 1 x 650 on n1: free 700 -> 70 // 10 = 7 -> 93; CPU-only pods score 0.
    assert scores(GpuPacking(), state, gpu_pod(state, 1, 650), [1]) == [93]
    assert scores(GpuPacking(), state, gpu_pod(state)) == [0] * 5


# --------------------------------------------------------------------------- GpuClustering


def test_clustering_scores():
    # Four 4-GPU nodes. n0 holds a share pod (500 on dev0): gpuLeft 3500, base 25*4500//8000 = 14.
    # n1 holds a 1-gpu pod: gpuLeft 3000, base 25*5000//8000 = 15. n2 holds both (share on
    # dev0, 1-gpu on dev1): gpuLeft 2500, base 25*5500//8000 = 17. n3 holds only a CPU-only
    # pod (no GPU pods): gpuLeft 4000, base 12.
    state = gpu_state(4, 4, 4, 4)
    place(state, 0, 1, 500, 0b0001)
    place(state, 1, 1, 1000, 0b0001)
    place(state, 2, 1, 500, 0b0001)
    place(state, 2, 1, 1000, 0b0010)
    ops.bind(state, new_pod(state, gpu_pod(state)), 3, 0.0)
    # share pod: n0 only mine 75+14 = 89; n1 only other 15; n2 mine among others 50+17 = 67;
    # n3 no GPU pods 25+12 = 37.
    assert scores(GpuClustering(), state, gpu_pod(state, 1, 300)) == [89, 15, 67, 37]
    # 1-gpu pod: n0 other only 14; n1 only mine 75+15 = 90; n2 67; n3 37.
    assert scores(GpuClustering(), state, gpu_pod(state, 1, 1000)) == [14, 90, 67, 37]
    # 2-gpu pod is its own tag: n0 14, n1 15, n2 17 (others only), n3 37.
    assert scores(GpuClustering(), state, gpu_pod(state, 2, 1000)) == [14, 15, 17, 37]
    assert scores(GpuClustering(), state, gpu_pod(state)) == [0] * 4


# --------------------------------------------------------------------------- RandomFit


def random_fit(seed: int) -> GpuRandomFit:
    plugin = GpuRandomFit()
    plugin.setup(np.random.default_rng(seed))
    return plugin


def test_random_fit_scores_one_candidate():
    state = gpu_state(4, 4, 4, 4, 4)
    pod = gpu_pod(state, 1, 500)
    a, b = random_fit(5), random_fit(5)
    picks = []
    for _ in range(50):
        s = scores(a, state, pod)
        assert sorted(s) == [0, 0, 0, 0, 100]
        assert scores(b, state, pod) == s  # same seed, same draws
        picks.append(s.index(100))
    assert set(picks) == set(range(5))  # P(a node never drawn) <= 5 * 0.8^50 ~ 7e-5
    with pytest.raises(RuntimeError, match="setup"):
        GpuRandomFit().score(state, pod, np.arange(5))


def test_random_fit_device_is_uniform_among_fitting_and_seeded():
    # One 4-GPU node, dev0 has 200 free: a 500 pod fits devices 1..3 only.
    state = gpu_state(4)
    place(state, 0, 1, 800, 0b0001)
    info = gpu_pod(state, 1, 500)

    def draws(seed: int) -> list[int]:
        plugin = random_fit(seed)
        out = []
        for _ in range(40):
            pod = new_pod(state, info)
            plugin.reserve(state, pod, info, 0)  # records the device; the pod stays Pending
            out.append(int(state.pods.gpu_devices[pod]))
        return out

    first = draws(11)
    assert set(first) == {0b0010, 0b0100, 0b1000}  # never dev0; P(one missing) <= 3 * (2/3)^40
    assert draws(11) == first
    # Whole-GPU pods keep GpuFit's choice (lowest-index free devices): reserve does nothing.
    whole = gpu_pod(state, 2, 1000)
    pod = new_pod(state, whole)
    random_fit(1).reserve(state, pod, whole, 0)
    assert int(state.pods.gpu_devices[pod]) == 0


# --------------------------------------------------------------------------- FGD

#: Typical pods: share 1 x 500 (popularity 3 -> p 0.75) and whole 1 x 1000 (1 -> 0.25).
TARGET = [{"cpuMilli": 0, "gpuMilli": 500, "gpuCount": 1, "popularity": 3},
          {"cpuMilli": 0, "gpuMilli": 1000, "gpuCount": 1, "popularity": 1}]


def fgd() -> FGD:
    return FGD(FGD.parse_args({"targetWorkload": TARGET}))


def fgd_state() -> ClusterState:
    # n0: [1000, 550] (450 used on dev1); n1: [1000, 1000]; n2: [1000, 100] (900 used on dev1).
    state = gpu_state(2, 2, 2)
    place(state, 0, 1, 450, 0b10)
    place(state, 2, 1, 900, 0b10)
    return state


def test_fgd_scores_and_cluster_fragmentation():
    # F before: n0: share fits, no GPU < 500 -> 0; whole fits, dev1 550 < 1000 stranded -> 550;
    #   F = 0.75*0 + 0.25*550 = 137.5.  n1: 0.  n2: share stranded 100, whole stranded 100 -> 100.
    state = fgd_state()
    assert cluster_fragmentation(state, TARGET) == pytest.approx(237.5)
    # Pod 1 x 100:
    #   n0 dev0 -> [900, 550]: share 0; whole cannot host -> 1450: F = 362.5
    #      dev1 -> [1000, 450]: share stranded 450, whole stranded 450: F = 450 -> keep dev0
    #      delta 137.5 - 362.5 = -225: int(100 * sigmoid(-0.225)) = int(44.40) = 44
    #   n1 dev0 -> [900, 1000]: share 0, whole stranded 900: F = 225 (dev1 the same; dev0 kept)
    #      delta -225 -> 44
    #   n2 dev1 -> [1000, 0]: nothing stranded: F = 0; dev0 -> [900, 100]: 75 + 250 = 325
    #      delta 100 - 0 = 100: int(100 * sigmoid(0.1)) = int(52.50) = 52
    pod = gpu_pod(state, 1, 100)
    assert scores(fgd(), state, pod) == [44, 44, 52]
    before, after, device = fgd().target.placement(state, pod, np.arange(3))
    assert before.tolist() == [137.5, 0, 100] and after.tolist() == [362.5, 225, 0]
    assert device.tolist() == [0, 0, 1]
    # Whole 1-GPU pod takes dev0 (the lowest-index free): n0 -> [0, 550]: share host, 0;
    #   whole cannot host -> 550: F = 137.5, delta 0 -> int(100 * 0.5) = 50.
    #   n1 -> [0, 1000]: F = 0, delta 0 -> 50. n2 -> [0, 100]: share and whole cannot host
    #   -> 100 each: F = 100, delta 0 -> 50.
    assert scores(fgd(), state, gpu_pod(state, 1, 1000)) == [50, 50, 50]
    # CPU-only pod with cpu 64000 leaves cpuLeft 0 >= cpu_m = 0: no change -> 50.
    assert scores(fgd(), state, gpu_pod(state, cpu=64000)) == [50, 50, 50]


def test_fgd_cpu_starved_node_strands_all_its_gpus():
    # One 2-GPU node, typical pod cpu 8000 + 1 x 500. A CPU-only pod of 60000 leaves
    # cpuLeft 4000 < 8000: f goes from 0 to gpuLeft 2000, delta -2000:
    # int(100 * sigmoid(-2)) = int(11.92) = 11.
    state = gpu_state(2)
    plugin = FGD(FGD.parse_args({"targetWorkload": [
        {"cpuMilli": 8000, "gpuMilli": 500, "gpuCount": 1, "popularity": 1}]}))
    assert scores(plugin, state, gpu_pod(state, cpu=60000)) == [11]


def test_fgd_device_choice_differs_from_best():
    # On n0 = [1000, 550] the "best" rule puts a 100 pod on dev1 (least free that fits),
    # FGD on dev0 (F 362.5 < 450, see above).
    state = fgd_state()
    prof = gpu_profile(fgd())
    pod = submit(state, gpu_pod(state, 1, 100), prof)
    assert state.pods.node[pod] == 2 and int(state.pods.gpu_devices[pod]) == 0b10  # n2 scores 52
    state = gpu_state(2)
    place(state, 0, 1, 450, 0b10)
    pod = submit(state, gpu_pod(state, 1, 100), prof)
    assert int(state.pods.gpu_devices[pod]) == 0b01
    assert state.nodes.gpu_free[0].tolist() == [900, 550]
    state = gpu_state(2)
    place(state, 0, 1, 450, 0b10)
    pod = submit(state, gpu_pod(state, 1, 100), gpu_profile(GpuDotProd()))
    assert state.nodes.gpu_free[0].tolist() == [1000, 450]


def test_fgd_args():
    assert FGD().target.p.size == 0  # empty target: F = 0, every node 50
    state = gpu_state(2)
    assert scores(FGD(), state, gpu_pod(state, 1, 500)) == [50]
    args = FGD.parse_args({"targetWorkload": TARGET})
    assert isinstance(args, FGDArgs) and FGD(args).target.p.tolist() == [0.75, 0.25]
    for bad in ({"cpuMilli": 0, "gpuMilli": 500, "gpuCount": 0, "popularity": 1},
                {"cpuMilli": 0, "gpuMilli": 500, "gpuCount": 2, "popularity": 1},
                {"cpuMilli": 0, "popularity": 0},
                {"cpuMilli": 0, "popularity": 1, "gpu": 1}):
        with pytest.raises(ValidationError):
            FGD.parse_args({"targetWorkload": [bad]})


def test_fgd_model_constraint():
    # A typical pod restricted to A100 cannot use V100 nodes: f = gpuLeft = 2000 on n0.
    state = gpu_state(2)
    target = [{"cpuMilli": 0, "gpuMilli": 500, "gpuCount": 1, "gpuModels": "A100|T4", "popularity": 1}]
    assert cluster_fragmentation(state, target) == 2000
    target[0]["gpuModels"] = "T4|V100"
    assert cluster_fragmentation(state, target) == 0


def test_target_workload_from_pods():
    # Groups: 60 (1000, 500, 1, ""), 30 (2000, 1000, 1, V100M16), 6 CPU-only, 4 (4000, 1000, 2):
    # cumulative shares 0.60, 0.90, 0.96 >= 0.95 -> keep 3 groups (96 pods), p = 60/96, 30/96, 6/96.
    rows = ([(1000, 500, 1, None)] * 60 + [(2000, 1000, 1, "V100M16")] * 30 + [(4000, 0, 0, None)] * 6
            + [(4000, 1000, 2, None)] * 4)
    df = pd.DataFrame(rows, columns=["cpu_milli", "gpu_milli", "gpu_count", "gpu_model"])
    target = target_workload_from_pods(df)
    assert target == [
        {"cpuMilli": 1000, "gpuMilli": 500, "gpuCount": 1, "gpuModels": "", "popularity": 0.625},
        {"cpuMilli": 2000, "gpuMilli": 1000, "gpuCount": 1, "gpuModels": "V100M16", "popularity": 0.3125},
        {"cpuMilli": 4000, "gpuMilli": 0, "gpuCount": 0, "gpuModels": "", "popularity": 0.0625},
    ]
    assert FGD.parse_args({"targetWorkload": target}) is not None


# --------------------------------------------------------------------------- end to end


def simulate(plugin: str, nodes: list[int], waves: list[tuple[int, int, int]], seed: int = 1,
             args: dict | None = None) -> ClusterState:
    """Run ``waves`` of (count, gpu count, milli) pods, one burst per second in order, on
    GPU nodes ``n0, n1, ...`` (32 CPUs, 128Gi, V100) under kube-default + ``plugin`` x 10."""
    ref: dict = {"name": plugin, "weight": 10}
    if args:
        ref["args"] = args
    sc = k8sim.validate_scenario({
        "version": 1,
        "seed": seed,
        "cluster": {"nodes": [{"name": f"n{i}", "allocatable": {"cpu": "32", "memory": "128Gi"},
                               "gpus": {"count": g, "model": "V100"}} for i, g in enumerate(nodes)]},
        "workloads": [{"name": f"w{i}", "arrival": {"kind": "burst", "count": n, "at_s": float(i)},
                       "template": {"requests": {"cpu": "1", "memory": "1Gi"},
                                    "gpu": {"count": c, "milli": m}}}
                      for i, (n, c, m) in enumerate(waves)],
        "scheduler": {"profiles": [{"preset": "kube-default", "plugins": [ref]}]},
    })
    sim = k8sim.Simulation(sc)
    sim.run()
    check_invariants(sim.state)
    pods = sim.state.pods
    assert np.all(pods.node[: pods.n] >= 0)
    return sim.state


def free_by_node(state: ClusterState) -> list[list[int]]:
    return sorted(state.nodes.gpu_free.tolist())


def test_e2e_best_fit_packs_one_node():
    # Two 4-GPU nodes, four 1 x 500 pods. The first ties (raw scores equal -> 100 each);
    # then the node holding it has less left: normalised 100 vs 0 (x10 dominates the
    # default scores), so all four share it, by the best rule dev0, dev0, dev1, dev1.
    state = simulate("GpuBestFit", [4, 4], [(4, 1, 500)])
    assert free_by_node(state) == [[0, 0, 1000, 1000], [1000] * 4]


def test_e2e_dot_prod_prefers_small_node():
    # Nodes 8 GPUs and 2 GPUs, three 1 x 1000 pods (cpu 1000): gpu term of vn . vp is
    # (gpuLeft/8000) * 0.125: 8-GPU node int(100 * (1 - 0.0625)) = 93, 2-GPU node
    # int(100 * (1 - 0.015625)) = 98, then with 1000 left 99; the third pod only fits the 8-GPU node.
    state = simulate("GpuDotProd", [8, 2], [(3, 1, 1000)])
    assert state.nodes.gpu_free.tolist() == [[0] + [1000] * 7, [0, 0] + [-1] * 6]


def test_e2e_packing_fills_partly_used_gpu():
    # Two 2-GPU nodes, four 1 x 300 pods. First: both idle (31) -> x, dev0 700 left.
    # Second: x [700, 1000] -> 93 vs 31 -> x dev0 (400). Third: x [400, 1000] -> 96 -> dev0 (100).
    # Fourth: x [100, 1000] takes the free GPU: 49 vs 31 -> x dev1 (700).
    state = simulate("GpuPacking", [2, 2], [(4, 1, 300)])
    assert free_by_node(state) == [[100, 700], [1000, 1000]]


def test_e2e_clustering_separates_kinds():
    # Two 4-GPU nodes. A 1-gpu pod lands on x (tie 37). Share pods: x holds only another tag
    # (15) vs y empty (37) -> y; then y only mine (89) -> y. A second 1-gpu pod: x only mine
    # (90) vs y other only (15) -> x.
    state = simulate("GpuClustering", [4, 4], [(1, 1, 1000), (2, 1, 500), (1, 1, 1000)])
    assert free_by_node(state) == [[0, 0, 1000, 1000], [0, 1000, 1000, 1000]]
    pods = state.pods
    share = pods.gpu_milli[: pods.n] == 500
    assert len(set(pods.node[: pods.n][share])) == 1
    assert set(pods.node[: pods.n][share]).isdisjoint(pods.node[: pods.n][~share])


def test_e2e_random_fit_is_seeded():
    # Four 4-GPU nodes, 40 pods of 1 x 100. The best rule would fill each used node's dev0
    # first; random device choice leaves several partly used devices on a node, and the
    # same seed gives the same placement.
    state = simulate("GpuRandomFit", [4, 4, 4, 4], [(40, 1, 100)], seed=7)
    free = state.nodes.gpu_free
    assert (free < 1000).any(axis=1).sum() >= 2  # more than one node used
    assert ((free > 0) & (free < 1000)).sum(axis=1).max() >= 2
    again = simulate("GpuRandomFit", [4, 4, 4, 4], [(40, 1, 100)], seed=7)
    assert np.array_equal(again.nodes.gpu_free, free)
    assert np.array_equal(again.pods.gpu_devices[: again.pods.n], state.pods.gpu_devices[: state.pods.n])


def test_e2e_fgd_keeps_a_whole_gpu_free():
    # One 2-GPU node, target TARGET (share 500 p 0.75, whole p 0.25). A 450 pod: both devices
    # give F = 0.25 * 550 -> dev0 (lowest index) [550, 1000]. A 100 pod: dev0 -> [450, 1000]
    # F = 0.75*450 + 0.25*450 = 450; dev1 -> [550, 900]: F = 0.25 * 1450 = 362.5 -> dev1.
    # (The best rule would take dev0, leaving [450, 1000].)
    state = simulate("FGD", [2], [(1, 1, 450), (1, 1, 100)], args={"targetWorkload": TARGET})
    assert state.nodes.gpu_free.tolist() == [[550, 900]]
    state = simulate("GpuBestFit", [2], [(1, 1, 450), (1, 1, 100)])
    assert state.nodes.gpu_free.tolist() == [[450, 1000]]
