"""GPU allocation and fragmentation of a run (k8sim.metrics.gpu), in RunResult and plots.

Fragmentation is the FGD measure of Weng et al., "Beware of Fragmentation", USENIX ATC
'23: for a typical pod m, ``f_m(n)`` is all free GPU milli of node n when m is CPU-only,
its model is not allowed, the node has fewer than ``count_m`` GPUs with ``free >=
milli_m`` or ``cpuLeft < cpu_m``; otherwise the free milli on the GPUs with ``free <
milli_m``. ``F(n) = sum_m p_m f_m(n)``. Every expected number below is derived by hand
in the comments, or by the brute-force replay :func:`reference_rows` written from those
definitions with Python loops.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import k8sim
from k8sim.cluster.ops import check_invariants
from k8sim.metrics.gpu import gpu_target_of, gpu_timeline
from k8sim.metrics.plots import plot_gpu_allocation
from k8sim.scheduling.plugins.fgd import cluster_fragmentation

GPU_COLUMNS = ["time", "pod", "event", "arrived_gpu_milli", "allocated_gpu_milli", "capacity_gpu_milli",
               "idle_gpu_milli", "fragmentation_milli", "arrived_share", "allocated_share", "fragmentation_share",
               "fragmentation_idle_share"]


def workload(name: str, at: float, cpu: str, gpu: dict | None, duration: float, **template) -> dict:
    w = {"name": name, "arrival": {"kind": "times", "times_s": [at]},
         "template": {"requests": {"cpu": cpu, "memory": "1Gi"}, **template},
         "duration": {"kind": "constant", "value": duration}}
    if gpu is not None:
        w["template"]["gpu"] = gpu
    return w


def gpu_node(name: str = "n", cpu: str = "4", count: int = 2, model: str = "V100") -> dict:
    return {"name": name, "allocatable": {"cpu": cpu, "memory": "16Gi"}, "gpus": {"count": count, "model": model}}


# --------------------------------------------------------------------------- hand scenario

# One node: 4 CPUs, 2 x V100 (capacity 2000 milli). Pods (cpu 1 unless said, zero start latency):
#   a: 1 x 500  at t=0 for 10 s    -> dev0 (both idle: lowest index) -> [500, 1000], bound [0, 10)
#   b: 1 x 700  at t=2 for 10 s    -> only dev1 fits -> [500, 300],  bound [2, 12)
#   c: 1 x 1000 at t=4 for 4 s     -> no idle GPU until a leaves at 10 -> dev0, bound [10, 14)
#   d: CPU-only 1.5 CPUs at t=11 for 2 s, bound [11, 13)
# Target (sim.gpu_target): m1 = 1 x 500 cpu 1000 p 0.5; m2 = 1 x 1000 cpu 2500 p 0.25;
# m3 = CPU-only cpu 1000 p 0.25 (m3 always strands all free GPU).
TARGET = [
    {"cpuMilli": 1000, "gpuMilli": 500, "gpuCount": 1, "popularity": 0.5},
    {"cpuMilli": 2500, "gpuMilli": 1000, "gpuCount": 1, "popularity": 0.25},
    {"cpuMilli": 1000, "popularity": 0.25},
]


def hand_sim() -> k8sim.Simulation:
    sc = k8sim.validate_scenario({
        "version": 1, "seed": 3, "sample_interval_s": 5,
        "cluster": {"nodes": [gpu_node()]},
        "workloads": [workload("a", 0, "1", {"count": 1, "milli": 500}, 10),
                      workload("b", 2, "1", {"count": 1, "milli": 700}, 10),
                      workload("c", 4, "1", {"count": 1, "milli": 1000}, 4),
                      workload("d", 11, "1500m", None, 2)],
    })
    sim = k8sim.Simulation(sc)
    sim.gpu_target = TARGET
    return sim


# F after each event (free per device, cpuLeft):
#   idle [1000, 1000] cpu 4000: f1 0 (both fit), f2 0 (dev fits, 4000 >= 2500), f3 2000 -> 500
#   a bound [500, 1000] cpu 3000: f1 0, f2 = 500 (dev0 cannot host m2), f3 1500 -> 125 + 375 = 500
#   b bound [500, 300] cpu 2000: f1 = 300 (dev1 < 500), f2 = 800 (no idle GPU), f3 800 -> 150 + 200 + 200 = 550
#   a released (t=10, before c's bind at 10) [1000, 300] cpu 3000: f1 300, f2 300, f3 1300 -> 150 + 75 + 325 = 550
#   c bound [0, 300] cpu 2000: f1 300 (nothing fits), f2 300, f3 300 -> 300
#   d bound [0, 300] cpu 500: unchanged -> 300
#   b released [0, 1000] cpu 1500: f1 0 (dev1 fits, cpu ok), f2 1000 (cpu 1500 < 2500), f3 1000 -> 500
#   d released [0, 1000] cpu 3000: f1 0, f2 0, f3 1000 -> 250
#   c released: idle again -> 500
HAND_ROWS = [  # time, pod, event, arrived, allocated, fragmentation
    (0.0, "a-0", "arrived", 500, 0, 500.0),
    (0.0, "a-0", "bound", 500, 500, 500.0),
    (2.0, "b-0", "arrived", 1200, 500, 500.0),
    (2.0, "b-0", "bound", 1200, 1200, 550.0),
    (4.0, "c-0", "arrived", 2200, 1200, 550.0),
    (10.0, "a-0", "released", 2200, 700, 550.0),
    (10.0, "c-0", "bound", 2200, 1700, 300.0),
    (11.0, "d-0", "arrived", 2200, 1700, 300.0),
    (11.0, "d-0", "bound", 2200, 1700, 300.0),
    (12.0, "b-0", "released", 2200, 1000, 500.0),
    (13.0, "d-0", "released", 2200, 1000, 250.0),
    (14.0, "c-0", "released", 2200, 0, 500.0),
]


def test_hand_scenario_rows():
    sim = hand_sim()
    res = sim.run()
    frame = gpu_timeline(sim)
    assert list(frame.columns) == GPU_COLUMNS
    got = list(zip(frame["time"], frame["pod"], frame["event"].astype(str), frame["arrived_gpu_milli"],
                   frame["allocated_gpu_milli"], frame["fragmentation_milli"], strict=True))
    assert got == HAND_ROWS
    assert (frame["capacity_gpu_milli"] == 2000).all()
    assert (frame["idle_gpu_milli"] == 2000 - frame["allocated_gpu_milli"]).all()
    # Row "b bound": arrived 1200/2000, allocated 1200/2000, F 550/2000, F/idle 550/800.
    row = frame.iloc[3]
    assert (row["arrived_share"], row["allocated_share"]) == (0.6, 0.6)
    assert row["fragmentation_share"] == pytest.approx(0.275)
    assert row["fragmentation_idle_share"] == pytest.approx(550 / 800)
    # RunResult carries the same table.
    pd.testing.assert_frame_equal(res.gpu, frame)
    # At the end the tables' replay agrees with the live cluster state.
    assert frame["fragmentation_milli"].iloc[-1] == pytest.approx(cluster_fragmentation(sim.state, TARGET))


def test_hand_scenario_timeseries_and_summary():
    res = hand_sim().run()
    ts = res.timeseries
    assert ts["time"].tolist() == [0.0, 5.0, 10.0]
    # Bin [0, 5): allocated a 500 x 5 + b 700 x 3 = 4600 -> mean 920; capacity 2000 x 5 = 10000.
    # F: 500 on [0, 2) + 550 on [2, 5) = 1000 + 1650 = 2650 -> mean 530; idle 10000 - 4600 = 5400.
    first = ts.iloc[0]
    assert first["gpu_allocated_milli"] == pytest.approx(920)
    assert first["gpu_capacity_milli"] == pytest.approx(2000)
    assert first["gpu_utilization"] == pytest.approx(0.46)
    assert first["gpu_fragmentation_milli"] == pytest.approx(530)
    assert first["gpu_fragmentation_share"] == pytest.approx(0.265)
    assert first["gpu_fragmentation_idle_share"] == pytest.approx(2650 / 5400)
    # Bin [10, 14] (width 4): allocated c 1000 x 4 + b 700 x 2 = 5400 (mean 1350), capacity 8000;
    # F 300 + 300 + 500 + 250 = 1350 over the four seconds (mean 337.5); idle 8000 - 5400 = 2600.
    last = ts.iloc[2]
    assert last["interval"] == 4.0
    assert last["gpu_allocated_milli"] == pytest.approx(1350)
    assert last["gpu_utilization"] == pytest.approx(0.675)
    assert last["gpu_fragmentation_milli"] == pytest.approx(337.5)
    assert last["gpu_fragmentation_share"] == pytest.approx(1350 / 8000)
    assert last["gpu_fragmentation_idle_share"] == pytest.approx(1350 / 2600)
    s = res.summary().iloc[0]
    # Whole run [0, 14]: allocated 500 x 10 + 700 x 10 + 1000 x 4 = 16000, capacity 28000;
    # F 500 x 2 + 550 x 8 + 300 x 2 + 500 + 250 = 6750; idle 28000 - 16000 = 12000.
    assert s["mean_gpu_utilization"] == pytest.approx(16000 / 28000)
    assert s["mean_gpu_fragmentation_share"] == pytest.approx(6750 / 28000)
    assert s["mean_gpu_fragmentation_idle_share"] == pytest.approx(6750 / 12000)
    # End: nothing allocated, 2200 arrived of 2000, idle node F = 500 (all 2000 idle).
    assert s["gpu_allocated_share_end"] == 0.0
    assert s["gpu_arrived_share_end"] == pytest.approx(1.1)
    assert s["gpu_fragmentation_share_end"] == pytest.approx(0.25)
    assert s["gpu_fragmentation_idle_share_end"] == pytest.approx(0.25)


def test_fully_allocated_bins_have_no_idle_share():
    # One 1-GPU node; w (1 x 1000) holds it over [0.3, 8.07); c (CPU-only, 1 CPU of 4) runs
    # over [0.1, 3.43). Default target: w and c, p 0.5 each. GPU idle: w fits, 0 stranded;
    # c strands 1000 -> F = 500 = half the idle GPU. GPU taken: nothing free -> F = 0.
    # Bins of 0.7 s: bins 1..10 ([0.7, 7.7)) are fully allocated -> idle 0 -> NaN (the float
    # residue of capacity - allocated must not make a ratio); the others have F / idle = 0.5.
    sc = k8sim.validate_scenario({
        "version": 1, "sample_interval_s": 0.7, "duration_s": 9.1, "cluster": {"nodes": [gpu_node(count=1)]},
        "workloads": [workload("w", 0.3, "1", {"count": 1}, 7.77), workload("c", 0.1, "1", None, 3.33)],
    })
    res = k8sim.Simulation(sc).run()
    share = res.timeseries["gpu_fragmentation_idle_share"].to_numpy()
    assert share.size == 13
    assert np.isnan(share[1:11]).all()
    assert share[[0, 11, 12]] == pytest.approx([0.5, 0.5, 0.5])
    # Bin 0 [0, 0.7): w holds the GPU 0.4 s -> allocated 400 milli-s, mean 400 / 0.7.
    assert res.timeseries["gpu_allocated_milli"].iloc[0] == pytest.approx(400 / 0.7)


def test_reloaded_run_directory_summarises(tmp_path):
    # A run directory read back by the experiments loader (pods, timeseries and the gpu
    # table): the time-weighted GPU means come from the timeseries, the end values from
    # the gpu table; without gpu.parquet they are NaN.
    from k8sim.experiments.plots import run_from_directory
    from k8sim.metrics.plots import utilization

    res = hand_sim().run()
    res.to_parquet(tmp_path)
    back = run_from_directory(tmp_path)
    s = back.summary().iloc[0]
    assert s["mean_gpu_utilization"] == pytest.approx(16000 / 28000)
    assert s["mean_cpu_utilization"] == res.summary().iloc[0]["mean_cpu_utilization"]
    assert s["gpu_fragmentation_share_end"] == res.summary().iloc[0]["gpu_fragmentation_share_end"]
    assert "gpu" not in back.resources  # gpu_utilization is not mistaken for a resource's
    utilization(back)
    (tmp_path / "gpu.parquet").unlink()
    assert math.isnan(run_from_directory(tmp_path).summary().iloc[0]["gpu_fragmentation_share_end"])


def test_gpu_table_written_and_read_back(tmp_path):
    res = hand_sim().run()
    res.to_parquet(tmp_path / "pq")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "pq" / "gpu.parquet"), res.gpu)
    res.to_csv(tmp_path / "csv")
    back = pd.read_csv(tmp_path / "csv" / "gpu.csv")
    assert back["pod"].tolist() == [r[1] for r in HAND_ROWS]
    assert back["fragmentation_milli"].tolist() == [r[5] for r in HAND_ROWS]


# --------------------------------------------------------------------------- releases, failures, defaults


def test_preempted_pod_releases_after_its_grace_period():
    # 4 CPUs, 2 GPUs. low (cpu 4, 1 x 500, grace 5 s) binds at 0 on dev0. high (priority 10,
    # cpu 2, 1 x 600) arrives at 3: CPU does not fit, low is preempted at 3 and keeps its
    # resources until 3 + 5 = 8 (its ``finished``), when high binds (both idle -> dev0).
    # Target: 1 x 500 cpu 1000, p 1. low bound: cpuLeft 0 < 1000 -> all 1500 free stranded.
    # low released: idle -> 0. high bound [400, 1000] cpu 2000: dev1 hosts -> stranded 400.
    sc = k8sim.validate_scenario({
        "version": 1, "cluster": {"nodes": [gpu_node()]},
        "workloads": [workload("low", 0, "4", {"count": 1, "milli": 500}, 100, terminationGracePeriodSeconds=5),
                      workload("high", 3, "2", {"count": 1, "milli": 600}, 10, priority=10)],
    })
    sim = k8sim.Simulation(sc)
    sim.gpu_target = [{"cpuMilli": 1000, "gpuMilli": 500, "gpuCount": 1, "popularity": 1.0}]
    res = sim.run()
    assert res.pods.set_index("pod").loc["low-0", "phase"] == "Failed"
    got = list(zip(res.gpu["time"], res.gpu["pod"], res.gpu["event"].astype(str), res.gpu["allocated_gpu_milli"],
                   res.gpu["fragmentation_milli"], strict=True))
    assert got == [(0.0, "low-0", "arrived", 0, 0.0), (0.0, "low-0", "bound", 500, 1500.0),
                   (3.0, "high-0", "arrived", 500, 1500.0), (8.0, "low-0", "released", 0, 0.0),
                   (8.0, "high-0", "bound", 600, 400.0), (18.0, "high-0", "released", 0, 0.0)]


def test_release_comes_before_a_bind_at_the_same_instant():
    # 2-GPU node. x (1 x 1000, t=0, 10 s) takes dev0; p (2 x 1000, t=1) waits for both GPUs;
    # y (1 x 500, t=2, 20 s) takes dev1 and leaves at 22, when p binds. y has a later pod
    # row than p, so pure row order would show p bound while y still holds dev1 (2500 of
    # 2000 allocated); releases come first at equal times.
    # Target: 1 x 1000 cpu 0, p 1. F: x bound [0, 1000] -> dev1 hosts, 0 stranded -> 0;
    # y bound [0, 500] -> no idle GPU -> 500; x released [1000, 500] -> 500 stranded on dev1;
    # y released -> idle -> 0; p bound [0, 0] -> 0.
    sc = k8sim.validate_scenario({
        "version": 1, "cluster": {"nodes": [gpu_node()]},
        "workloads": [workload("x", 0, "1", {"count": 1}, 10), workload("p", 1, "1", {"count": 2}, 5),
                      workload("y", 2, "1", {"count": 1, "milli": 500}, 20)],
    })
    sim = k8sim.Simulation(sc)
    sim.gpu_target = [{"cpuMilli": 0, "gpuMilli": 1000, "gpuCount": 1, "popularity": 1.0}]
    g = sim.run().gpu
    got = list(zip(g["time"], g["pod"], g["event"].astype(str), g["allocated_gpu_milli"], g["fragmentation_milli"],
                   strict=True))
    assert got == [(0.0, "x-0", "arrived", 0, 0.0), (0.0, "x-0", "bound", 1000, 0.0),
                   (1.0, "p-0", "arrived", 1000, 0.0), (2.0, "y-0", "arrived", 1000, 0.0),
                   (2.0, "y-0", "bound", 1500, 500.0), (10.0, "x-0", "released", 500, 500.0),
                   (22.0, "y-0", "released", 0, 0.0), (22.0, "p-0", "bound", 2000, 0.0),
                   (27.0, "p-0", "released", 0, 0.0)]


def test_pod_that_never_fits_counts_as_arrived_only():
    # 2-GPU node; "big" wants 3 whole GPUs (never fits), "a" 1 x 250 for 10 s from t=2.
    # Default target (no sim.gpu_target): big (cpu 1000, 3 x 1000) and a (cpu 1000, 1 x 250),
    # one pod each -> p 0.5 each. Idle node: big cannot be hosted -> 2000; a fits, nothing
    # stranded -> 0; F = 1000. a bound on dev0 [750, 1000]: big 1750, a 0 -> F = 875.
    sc = k8sim.validate_scenario({
        "version": 1, "cluster": {"nodes": [gpu_node()]},
        "workloads": [workload("big", 1, "1", {"count": 3}, 100),
                      workload("a", 2, "1", {"count": 1, "milli": 250}, 10)],
    })
    sim = k8sim.Simulation(sc)
    res = sim.run()
    assert gpu_target_of(sim) == [
        {"cpuMilli": 1000, "gpuMilli": 250, "gpuCount": 1, "gpuModels": "", "popularity": 0.5},
        {"cpuMilli": 1000, "gpuMilli": 1000, "gpuCount": 3, "gpuModels": "", "popularity": 0.5},
    ]
    g = res.gpu
    assert g["event"].astype(str).tolist() == ["arrived", "arrived", "bound", "released"]
    assert g["arrived_gpu_milli"].tolist() == [3000, 3250, 3250, 3250]
    assert g["allocated_gpu_milli"].tolist() == [0, 0, 250, 0]
    assert g["fragmentation_milli"].tolist() == [1000.0, 1000.0, 875.0, 1000.0]
    s = res.summary().iloc[0]
    assert s["gpu_arrived_share_end"] == 1.625 and s["gpu_allocated_share_end"] == 0.0


def test_default_target_from_submitted_pods_with_models():
    # Three pods 1 x 500 allowed on "V100|A100" (names sorted: "A100|V100"), one CPU-only
    # pod of 2 CPUs: groups 3 and 1 of 4 pods; 3/4 < 95% so both are kept, p 0.75 and 0.25.
    sc = k8sim.validate_scenario({
        "version": 1, "cluster": {"nodes": [gpu_node(count=4)]},
        "workloads": [{"name": "s", "arrival": {"kind": "burst", "count": 3, "at_s": 0},
                       "template": {"requests": {"cpu": "1"}, "gpu": {"count": 1, "milli": 500, "models": "V100|A100"}},
                       "duration": {"kind": "constant", "value": 5}},
                      workload("c", 0, "2", None, 5)],
    })
    sim = k8sim.Simulation(sc)
    res = sim.run()
    target = gpu_target_of(sim)
    assert target == [
        {"cpuMilli": 1000, "gpuMilli": 500, "gpuCount": 1, "gpuModels": "A100|V100", "popularity": 0.75},
        {"cpuMilli": 2000, "gpuMilli": 0, "gpuCount": 0, "gpuModels": "", "popularity": 0.25},
    ]
    # Idle 4-GPU node at the end: share pods fit, nothing stranded; CPU-only strands 4000 -> F = 1000.
    assert res.gpu["fragmentation_milli"].iloc[-1] == pytest.approx(1000.0)
    assert cluster_fragmentation(sim.state, target) == pytest.approx(1000.0)


def test_nodes_joining_and_leaving_hand_built_state():
    # Hand-built tables (no simulation): n0 (2 GPUs) from t=0, n1 (1 GPU) joins at 5 and
    # leaves at 10 (no op removes nodes yet, so removed_at is set directly). q (1 x 500) is
    # bound on n0 over [1, 8), r (1 x 1000) on n1 over [6, 9). Target: m1 = 1 x 1000 cpu 0
    # p 0.5, m2 = CPU-only p 0.5 (strands all free GPU).
    # n0 idle: m1 0, m2 2000 -> 1000. q bound [500, 1000]: m1 500 (dev1 hosts), m2 1500 -> 1000.
    # n1 idle [1000]: 0 + 500 = 500. r bound [0]: nothing free -> 0.
    from types import SimpleNamespace

    from k8sim.cluster import ops
    from k8sim.cluster.nodes import ResourceIndex
    from k8sim.cluster.pods import SUCCEEDED
    from k8sim.metrics.gpu import GpuHistory
    from k8sim.scheduling.podinfo import PodInfo

    target = [{"cpuMilli": 0, "gpuMilli": 1000, "gpuCount": 1, "popularity": 1},
              {"cpuMilli": 0, "popularity": 1}]
    state = ops.ClusterState(ResourceIndex.from_names())
    alloc = state.resources.vector({"cpu": 8000, "memory": 2**34, "pods": 110})
    ops.add_node(state, name="n0", allocatable=alloc, labels={}, taints=[], pool=-1, now=0.0, gpus=(2, "V100"))

    req = state.resources.vector({"cpu": 1000, "pods": 1})
    shape = ops.add_shape(state, PodInfo(shape=-1, requests=req, nonzero=req[:2].copy(), priority=0,
                                         scheduler_name="default-scheduler"))

    def pod(name: str, milli: int, at: float) -> int:
        return state.pods.append(name=name, requests=req, workload=0, index=0, shape=shape, priority=0, created=at,
                                 duration=math.inf, start_latency=0.0, gpu_count=1, gpu_milli=milli)

    q = pod("q", 500, 1.0)
    ops.bind(state, q, 0, 1.0)
    ops.add_node(state, name="n1", allocatable=alloc, labels={}, taints=[], pool=-1, now=5.0, gpus=(1, "V100"))
    r = pod("r", 1000, 6.0)
    ops.bind(state, r, 1, 6.0)
    ops.release(state, q, SUCCEEDED, 8.0)
    ops.release(state, r, SUCCEEDED, 9.0)
    state.nodes.removed_at[1] = 10.0
    g = gpu_timeline(SimpleNamespace(state=state, gpu_target=target))
    got = list(zip(g["time"], g["pod"], g["event"].astype(str), g["allocated_gpu_milli"], g["capacity_gpu_milli"],
                   g["fragmentation_milli"], strict=True))
    assert got == [(1.0, "q", "arrived", 0, 2000, 1000.0), (1.0, "q", "bound", 500, 2000, 1000.0),
                   (6.0, "r", "arrived", 500, 3000, 1500.0), (6.0, "r", "bound", 1500, 3000, 1000.0),
                   (8.0, "q", "released", 1000, 3000, 1000.0), (9.0, "r", "released", 0, 3000, 1500.0)]
    # Integrals over [0, 12]: allocated 500 x 7 + 1000 x 3 = 6500; capacity 2000 x 12 +
    # 1000 x 5 = 29000; F 1000 x 5 + 1500 x 1 + 1000 x 3 + 1500 x 1 + 1000 x 2 (n1 gone) = 13000.
    a, c, f = GpuHistory.of(state, target).integrals(np.array([0.0, 12.0]))
    assert (a.tolist(), c.tolist(), f.tolist()) == ([6500.0], [29000.0], [13000.0])


def test_no_gpu_run_is_unchanged(tmp_path):
    sc = k8sim.validate_scenario({
        "version": 1, "sample_interval_s": 5,
        "cluster": {"nodes": [{"name": "n", "allocatable": {"cpu": "4", "memory": "4Gi"}}]},
        "workloads": [workload("a", 0, "1", None, 7)],
    })
    sim = k8sim.Simulation(sc)
    res = sim.run()
    assert res.gpu is None and gpu_timeline(sim) is None
    expected = ["time", "interval"]
    for r in ("cpu", "memory", "ephemeral-storage", "pods"):
        expected += [f"{r}_requested", f"{r}_allocatable", f"{r}_utilization"]
    assert list(res.timeseries.columns) == expected + ["pending_pods", "running_pods"]
    assert not [c for c in res.summary().columns if "gpu" in c]
    res.to_parquet(tmp_path)
    assert not (tmp_path / "gpu.parquet").exists()


# --------------------------------------------------------------------------- brute-force reference


def spec_fragmentation(free: list[int], cpu_left: int, model: str, target: list[dict]) -> float:
    """F(n) from the definitions, with Python loops."""
    total = sum(t["popularity"] for t in target)
    left = sum(free)
    out = 0.0
    for t in target:
        models = [m for m in t.get("gpuModels", "").split("|") if m]
        count, milli = t.get("gpuCount", 0), t.get("gpuMilli", 0)
        fitting = sum(1 for x in free if x >= milli)
        if count == 0 or (models and model not in models) or fitting < count or cpu_left < t["cpuMilli"]:
            f = left
        else:
            f = sum(x for x in free if x < milli)
        out += t["popularity"] / total * f
    return out


def reference_rows(sim: k8sim.Simulation, target: list[dict]) -> tuple[list[tuple], float]:
    """Replay the pod table event by event (releases first at equal times, then pod-row
    order: arrived, bound, released), recomputing every node's F from scratch; returns
    the rows (time, pod, event, arrived, allocated, capacity, F) and F before any event."""
    pods, nodes = sim.state.pods, sim.state.nodes
    events = []
    for i in range(pods.n):
        c, s, f = float(pods.created[i]), float(pods.scheduled[i]), float(pods.finished[i])
        events.append((c, 3, i, 0))
        if not math.isnan(s):
            events.append((s, 3, i, 1))
            if not math.isnan(f):
                events.append((f, 1 if f > s else 3, i, 2))
    events.sort()
    free = {n: [1000] * int(nodes.gpu_count[n]) for n in range(nodes.n)}
    cpu = {n: int(nodes.alloc[0, n]) for n in range(nodes.n)}
    model = {n: nodes.gpu_models[nodes.gpu_model[n]] if nodes.gpu_model[n] >= 0 else "" for n in range(nodes.n)}
    capacity = 1000 * int(nodes.gpu_count.sum())

    def cluster() -> float:
        return sum(spec_fragmentation(free[n], cpu[n], model[n], target) for n in range(nodes.n))

    f0 = cluster()
    arrived = allocated = 0
    rows = []
    for t, _, i, kind in events:
        gpu = int(pods.gpu_count[i]) * int(pods.gpu_milli[i])
        devices = [d for d in range(64) if int(pods.gpu_devices[i]) >> d & 1]
        n = int(pods.node[i])
        if kind == 0:
            arrived += gpu
        else:
            sign = 1 if kind == 1 else -1
            allocated += sign * gpu
            cpu[n] -= sign * int(pods.requests[i, 0])
            for d in devices:
                free[n][d] -= sign * int(pods.gpu_milli[i])
                assert 0 <= free[n][d] <= 1000
        rows.append((t, pods.names[i], ("arrived", "bound", "released")[kind], arrived, allocated, capacity,
                     cluster()))
    return rows, f0


def reference_integrals(rows: list[tuple], f0: float, edges: np.ndarray) -> list[tuple[float, float]]:
    """(allocated, fragmentation) integrals per bin of the step functions of ``rows``."""
    times = [0.0] + [r[0] for r in rows]
    alloc = [0] + [r[4] for r in rows]
    frag = [f0] + [r[6] for r in rows]
    out = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        a = f = 0.0
        for k in range(len(times)):
            s = times[k]
            e = times[k + 1] if k + 1 < len(times) else math.inf
            overlap = max(0.0, min(e, hi) - max(s, lo))
            a += alloc[k] * overlap
            f += frag[k] * overlap
        out.append((a, f))
    return out


RANDOM_TARGET = [
    {"cpuMilli": 1000, "gpuMilli": 300, "gpuCount": 1, "popularity": 3},
    {"cpuMilli": 2000, "gpuMilli": 500, "gpuCount": 1, "gpuModels": "V100", "popularity": 2},
    {"cpuMilli": 4000, "gpuMilli": 1000, "gpuCount": 2, "popularity": 1},
    {"cpuMilli": 3000, "popularity": 1},
]


def random_sim() -> k8sim.Simulation:
    """Poisson arrivals of mixed shapes on a 4-GPU V100, a 2-GPU T4 and a CPU-only node,
    cut at 120 s (pods still bound or pending then)."""
    shapes = [("s3", "1", {"count": 1, "milli": 300}), ("s5", "2", {"count": 1, "milli": 500}),
              ("s7", "1", {"count": 1, "milli": 700, "models": "T4"}), ("w1", "2", {"count": 1}),
              ("w2", "4", {"count": 2}), ("cpu", "3", None)]
    workloads = []
    for name, cpu, gpu in shapes:
        t = {"requests": {"cpu": cpu, "memory": "1Gi"}}
        if gpu is not None:
            t["gpu"] = gpu
        workloads.append({"name": name, "arrival": {"kind": "poisson", "rate_per_s": 0.05}, "template": t,
                          "duration": {"kind": "exponential", "mean": 25}})
    sc = k8sim.validate_scenario({
        "version": 1, "seed": 11, "duration_s": 120, "sample_interval_s": 15,
        "cluster": {"nodes": [gpu_node("v", cpu="16", count=4, model="V100"),
                              gpu_node("t", cpu="8", count=2, model="T4"),
                              {"name": "c", "allocatable": {"cpu": "8", "memory": "16Gi"}}]},
        "workloads": workloads,
    })
    sim = k8sim.Simulation(sc)
    sim.gpu_target = RANDOM_TARGET
    return sim


def test_random_run_matches_brute_force_replay():
    sim = random_sim()
    res = sim.run()
    check_invariants(sim.state)
    pods = sim.state.pods
    n = pods.n
    # The scenario exercises what it should: pods pending at the end, bound at the end, and
    # binds at the instant of another pod's release.
    assert np.isnan(pods.scheduled[:n]).any()
    assert (~np.isnan(pods.scheduled[:n]) & np.isnan(pods.finished[:n])).any()
    assert np.isin(pods.scheduled[:n], pods.finished[:n][pods.scheduled[:n] < pods.finished[:n]]).any()
    rows, f0 = reference_rows(sim, RANDOM_TARGET)
    g = res.gpu
    got = list(zip(g["time"], g["pod"], g["event"].astype(str), g["arrived_gpu_milli"], g["allocated_gpu_milli"],
                   g["capacity_gpu_milli"], strict=True))
    assert got == [r[:6] for r in rows]
    assert g["fragmentation_milli"].to_numpy() == pytest.approx([r[6] for r in rows], rel=1e-12, abs=1e-9)
    assert g["fragmentation_milli"].iloc[-1] == pytest.approx(cluster_fragmentation(sim.state, RANDOM_TARGET))
    # Time-weighted bins against the replay's step functions.
    ts = res.timeseries
    edges = np.append(ts["time"].to_numpy(), res.end_time)
    ref = reference_integrals(rows, f0, edges)
    width = ts["interval"].to_numpy()
    ref_alloc = np.array([a for a, _ in ref])
    ref_frag = np.array([f for _, f in ref])
    assert ts["gpu_allocated_milli"].to_numpy() == pytest.approx(ref_alloc / width)
    assert ts["gpu_fragmentation_milli"].to_numpy() == pytest.approx(ref_frag / width)
    assert (ts["gpu_capacity_milli"] == 6000).all()
    assert ts["gpu_fragmentation_idle_share"].to_numpy() == pytest.approx(ref_frag / (6000 * width - ref_alloc))


# --------------------------------------------------------------------------- plot


def test_plot_gpu_allocation(tmp_path):
    res = hand_sim().run()
    other = res.gpu.assign(allocated_share=res.gpu["allocated_share"] / 2)
    path = tmp_path / "gpu.png"
    fig = plot_gpu_allocation({"FGD": res.gpu, "BestFit": other}, path=path, title="t")
    assert path.stat().st_size > 0
    axes = fig.get_axes()
    assert len(axes) == 2
    for ax in axes:
        assert "%" in ax.get_xlabel() and "%" in ax.get_ylabel() and ax.get_title()
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert "FGD" in labels and "BestFit" in labels
    # Left panel: the y = x reference besides one line per policy; the FGD line is the
    # allocated share in %, one point per instant (the state after all its events; see
    # HAND_ROWS): t = 0, 2, 4, 10, 11, 12, 13, 14 -> x = 25, 60, 110, 110, ...; at t = 2
    # (b arrived and bound) x = 60 and y = 60; at t = 10 (a released, c bound) y = 85.
    left = axes[0]
    assert len(left.get_lines()) == 3
    x, y = left.get_lines()[0].get_data()
    assert list(x) == pytest.approx([25, 60, 110, 110, 110, 110, 110, 110])
    assert list(y) == pytest.approx([25, 60, 60, 85, 85, 50, 50, 0])
