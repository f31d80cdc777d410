"""Scheduling decisions per second of the GPU-sharing policies on the Alibaba openb trace.

Replays the inflation experiment of Weng et al., "Beware of Fragmentation", USENIX ATC
'23 without SimPy: the openb cluster (``openb_node_list_all_node.csv``, 1,523 nodes;
the shipped synthetic sample when the shared trace is absent), the default pod list
shuffled (seeded) plus copies drawn uniformly with replacement until the cumulative
GPU request reaches ``--inflation`` (1.3) times the GPU capacity (the originals alone may
exceed it, as in the small sample); pods never depart and a pod that cannot be placed is
dropped. Each policy is the only score plugin of a profile with the NodeResourcesFit and
GpuFit filters, all nodes scored (percentageOfNodesToScore 100). Each decision is
``profile.schedule`` plus the Reserve plugins and ``ops.bind``, as
``Scheduler.schedule_one`` does.

Columns: ``loop s`` is the decisions alone, ``total s`` adds building the cluster and the
profile (the trace is read once for all policies). ``digest`` is a CRC of every pod's
node and devices: equal digests mean identical placements (e.g. before and after an
optimisation).

Measured on the development machine (openb, seed 42, 10,826 decisions), us/decision
before -> after the GPU policies were optimised, with identical digests: FGD 2,890 -> 106,
GpuBestFit 68 -> 42, GpuDotProd 65 -> 39, GpuPacking 80 -> 36, GpuClustering 105 -> 57,
GpuRandomFit 48 -> 26 (the latter is mostly the filters and the bind).
"""

from __future__ import annotations

import argparse
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from k8sim.cluster import ops
from k8sim.cluster.nodes import ResourceIndex
from k8sim.cluster.ops import ClusterState
from k8sim.rng import Streams
from k8sim.scheduling.plugins.fgd import target_workload_from_pods
from k8sim.scheduling.podinfo import PodInfo
from k8sim.scheduling.profiles import Ref, build_profile
from k8sim.workloads.traces.alibaba_gpu_2023 import openb_sample_paths, read_openb_nodes, read_openb_pods

TRACE_DIR = Path(__file__).resolve().parents[2] / "shared" / "traces" / "alibaba-gpu-v2023-openb"
POLICIES = ["FGD", "GpuBestFit", "GpuDotProd", "GpuPacking", "GpuClustering", "GpuRandomFit"]
#: Pods allocatable per node: large enough never to limit placement (the trace has no pod limit).
MAX_PODS = 100_000


def trace_paths(trace_dir: Path) -> tuple[Path, Path, str]:
    """(pod list, node list, label): the shared openb files, else the shipped sample."""
    pods, nodes = trace_dir / "openb_pod_list_default.csv", trace_dir / "openb_node_list_all_node.csv"
    if pods.exists() and nodes.exists():
        return pods, nodes, "openb (shared trace)"
    pods, nodes = openb_sample_paths()
    return pods, nodes, "openb sample (synthetic, shipped)"


def build_state(nodes: pd.DataFrame, shapes: pd.DataFrame) -> tuple[ClusterState, list[PodInfo]]:
    """The cluster (nodes in file order) and one PodInfo per row of ``shapes``."""
    state = ClusterState(ResourceIndex.from_names())
    cols = ["cpu_milli", "memory_bytes", "gpu_count", "gpu_model"]
    run = (nodes[cols] != nodes[cols].shift()).any(axis=1).cumsum()
    for _, block in nodes.groupby(run, sort=True):
        first = block.iloc[0]
        alloc = state.resources.vector({"cpu": int(first.cpu_milli), "memory": int(first.memory_bytes),
                                        "pods": MAX_PODS})
        gpus = (int(first.gpu_count), str(first.gpu_model)) if first.gpu_count > 0 else None
        ops.add_nodes(state, names=block["name"].tolist(), allocatable=alloc, labels=[{}] * len(block),
                      taints=[], pool=-1, now=0.0, gpus=gpus)
    infos = []
    for s in shapes.itertuples(index=False):
        req = state.resources.vector({"cpu": int(s.cpu_milli), "memory": int(s.memory_bytes), "pods": 1})
        info = PodInfo(shape=-1, requests=req, nonzero=req[:2].copy(), priority=0,
                       scheduler_name="default-scheduler", gpu_count=int(s.gpu_count), gpu_milli=int(s.gpu_milli))
        if s.gpu_count > 0 and s.gpu_model:
            info.gpu_models = frozenset(ops.intern_gpu_model(state, m) for m in str(s.gpu_model).split("|"))
        ops.add_shape(state, info)
        infos.append(info)
    return state, infos


def submission_order(pods: pd.DataFrame, capacity: int, inflation: float, seed: int) -> np.ndarray:
    """Row indices of ``pods``: all of them shuffled, then rows drawn uniformly with
    replacement until the cumulative GPU request reaches ``inflation * capacity``."""
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(pods)))
    gpu = (pods["gpu_count"] * pods["gpu_milli"]).to_numpy()
    total, goal = int(gpu.sum()), inflation * capacity
    while total < goal:
        i = int(rng.integers(len(pods)))
        order.append(i)
        total += int(gpu[i])
    return np.array(order, dtype=np.int64)


def run_policy(policy: str, nodes: pd.DataFrame, shapes: pd.DataFrame, shape_of: np.ndarray,
               order: np.ndarray, target: list[dict], seed: int) -> dict[str, float]:
    t_start = time.perf_counter()
    state, infos = build_state(nodes, shapes)
    args = {"targetWorkload": target} if policy == "FGD" else {}
    refs = [Ref("NodeResourcesFit", score=False), Ref("GpuFit", score=False), Ref(policy, args=args)]
    profile = build_profile("default-scheduler", refs, Streams(seed), 0, 100).profile
    pods = state.pods
    t0 = time.perf_counter()
    placed = 0
    for i, row in enumerate(order.tolist()):
        info = infos[shape_of[row]]
        p = pods.append(name=f"p{i}", requests=info.requests, workload=-1, index=i, shape=info.shape,
                        priority=0, created=0.0, duration=np.inf, start_latency=0.0,
                        gpu_count=info.gpu_count, gpu_milli=info.gpu_milli)
        d = profile.schedule(state, info, p)
        if d.node >= 0:
            for plugin in profile.reservers:
                plugin.reserve(state, p, info, d.node)
            ops.bind(state, p, d.node, 0.0)
            placed += 1
    t1 = time.perf_counter()
    n = pods.n
    gpu = state.nodes.gpu_free
    capacity = 1000 * int(state.nodes.gpu_count.sum())
    allocated = capacity - int(np.clip(gpu, 0, None).sum())
    digest = zlib.crc32(pods.node[:n].astype(np.int64).tobytes() + pods.gpu_devices[:n].astype(np.int64).tobytes())
    return {"decisions": len(order), "loop": t1 - t0, "wall": t1 - t_start, "placed": placed,
            "alloc": allocated / capacity if capacity else 0.0, "digest": digest}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--policies", nargs="*", default=POLICIES)
    ap.add_argument("--trace-dir", type=Path, default=TRACE_DIR)
    ap.add_argument("--inflation", type=float, default=1.3, help="GPU request / capacity to submit")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--limit", type=int, default=0, help="stop after this many decisions (0: all)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    pod_path, node_path, label = trace_paths(args.trace_dir)
    nodes, _ = read_openb_nodes(node_path)
    pods, _ = read_openb_pods(pod_path)
    pods = pods.assign(gpu_model=pods["gpu_model"].fillna("").astype(str))
    keys = ["cpu_milli", "memory_bytes", "gpu_count", "gpu_milli", "gpu_model"]
    shapes = pods[keys].drop_duplicates().sort_values(keys, kind="stable").reset_index(drop=True)
    shape_of = pods[keys].merge(shapes.reset_index(), on=keys, how="left")["index"].to_numpy()
    capacity = 1000 * int(nodes["gpu_count"].sum())
    order = submission_order(pods, capacity, args.inflation, args.seed)
    if args.limit:
        order = order[: args.limit]
    target = target_workload_from_pods(pods)
    request = int((pods["gpu_count"] * pods["gpu_milli"]).to_numpy()[order].sum())
    print(f"trace: {label}: {len(nodes):,} nodes ({int(nodes['gpu_count'].sum()):,} GPUs), {len(pods):,} pods, "
          f"{len(shapes)} shapes, {len(order):,} decisions (GPU request {request / capacity:.0%} of capacity), "
          f"FGD target M={len(target)}, seed {args.seed}; trace read in {time.perf_counter() - t0:.2f} s")
    print(f"{'policy':<14} {'decisions/s':>12} {'us/decision':>12} {'loop s':>8} {'total s':>8} "
          f"{'placed':>7} {'GPU alloc':>9} {'digest':>10}")
    for policy in args.policies:
        r = run_policy(policy, nodes, shapes, shape_of, order, target, args.seed)
        print(f"{policy:<14} {r['decisions'] / r['loop']:>12,.0f} {r['loop'] / r['decisions'] * 1e6:>12.1f} "
              f"{r['loop']:>8.2f} {r['wall']:>8.2f} {r['placed']:>7,} {r['alloc']:>9.2%} {r['digest']:>10x}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
