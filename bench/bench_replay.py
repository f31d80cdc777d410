"""Trace replay end to end: the whole openb pod list on its node list, per policy,
in timed and in inflation mode (build + run + results, GPU metrics included).

Issue bar: the whole openb pod list (8,152 pods) on its 1,523 nodes, per policy, timed
and inflation (to 130% of GPU capacity, ~10,800 pods): at most 10 s each. The real files
(alibaba/clusterdata cluster-trace-gpu-v2023) are read from ``--trace-dir``; without
them the packaged synthetic sample (300 pods, 40 nodes) is used and the table says so.
Timed runs bin the timeseries hourly (the trace spans 149 days).

A last table replays a generated openb-format trace whose every pod has its own CPU and
memory request (as normalised Google or Alibaba 2018 requests do), so every pod is its
own shape: the cost must stay about linear in the number of shapes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from k8sim import Simulation, validate_scenario

POLICIES = ["kube-default", "fgd", "gpu-best-fit", "gpu-dot-prod", "gpu-packing", "gpu-clustering",
            "gpu-random-fit"]
DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "traces" / "alibaba-gpu-v2023-openb"


def scenario(pods: str, nodes: str, mode: str, preset: str) -> dict:
    return {
        "name": f"openb-{mode}",
        "seed": 1,
        "sample_interval_s": 3600 if mode == "timed" else 60,
        "cluster": {"trace_nodes": [{"format": "openb", "file": nodes}]},
        "workloads": [{"name": "openb", "trace": {"format": "openb", "files": [pods], "mode": mode}}],
        "scheduler": {"profiles": [{"preset": preset, "percentageOfNodesToScore": 100}]},
    }


def measure(pods: str, nodes: str, mode: str, preset: str) -> dict:
    t0 = time.perf_counter()
    sim = Simulation(validate_scenario(scenario(pods, nodes, mode, preset)))
    t1 = time.perf_counter()
    result = sim.run()
    t2 = time.perf_counter()
    s = result.summary().iloc[0]
    return {"build": t1 - t0, "run": sim.wall_s, "results": t2 - t1 - sim.wall_s, "total": t2 - t0,
            "pods": len(result.pods), "nodes": sim.state.nodes.n, "cycles": sim.scheduler.cycles,
            "placed": int(result.pods["scheduled"].notna().sum()),
            "alloc_end": float(s.get("gpu_allocated_share_end", float("nan")))}


def distinct_trace(path: Path, n: int, seed: int = 0) -> None:
    """``n`` pods in openb layout, Poisson arrivals (mean gap 2 s), exponential run times
    (mean 600 s), every pod with its own (cpu, memory) request (0.1-8 cores)."""
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(2.0, n))
    # Distinct (cpu, memory) pairs by construction, every pod small enough to fit a node.
    idx = rng.permutation(n)
    cpu = 100 + idx % 7_900
    mem = 256 + 37 * (idx // 7_900)
    run = rng.exponential(600.0, n) + 1
    rows = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
            "scheduled_time"]
    rows += [f"p{i},{cpu[i]},{mem[i]},0,0,,BE,Running,{t[i]:.1f},{t[i] + run[i]:.1f},{t[i]:.1f}" for i in range(n)]
    # The file's last deletion marks the trace end (censored): a tiny pod ends it.
    rows.append(f"end,1,1,0,0,,BE,Running,{t[-1]:.1f},{t[-1] + 1e7:.1f},{t[-1]:.1f}")
    path.write_text("\n".join(rows) + "\n")


def measure_distinct(n: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "distinct.csv"
        distinct_trace(f, n)
        doc = {"name": "distinct", "sample_interval_s": 600,
               "cluster": {"node_pools": [{"name": "a", "count": 1000, "allocatable": {"cpu": "32", "memory": "128Gi"}}]},
               "workloads": [{"name": "t", "trace": {"format": "openb", "files": [str(f)]}}]}
        t0 = time.perf_counter()
        sim = Simulation(validate_scenario(doc))
        t1 = time.perf_counter()
        result = sim.run()
        t2 = time.perf_counter()
    return {"shapes": len(sim.state.shapes), "pods": len(result.pods), "build": t1 - t0, "run": sim.wall_s,
            "total": t2 - t0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trace-dir", type=Path, default=DEFAULT_DIR)
    ap.add_argument("--modes", nargs="*", default=["timed", "inflation"])
    ap.add_argument("--policies", nargs="*", default=POLICIES)
    ap.add_argument("--distinct", type=int, nargs="*", default=[5_000, 20_000, 80_000],
                    help="pods (= shapes) of the generated distinct-request traces")
    args = ap.parse_args(argv)
    pods = args.trace_dir / "openb_pod_list_default.csv"
    nodes = args.trace_dir / "openb_node_list_all_node.csv"
    if pods.is_file() and nodes.is_file():
        src, p, n = "real openb files", str(pods), str(nodes)
    else:
        src, p, n = "packaged synthetic sample (real files not found)", "sample", "sample"
    print(f"trace: {src}; percentageOfNodesToScore 100; seed 1")
    print(f"{'mode':<10} {'policy':<15} {'pods':>7} {'nodes':>6} {'cycles':>7} {'placed':>7} {'GPU alloc':>9} "
          f"{'build s':>8} {'run s':>7} {'results s':>9} {'total s':>8}")
    for mode in args.modes:
        for preset in args.policies:
            m = measure(p, n, mode, preset)
            print(f"{mode:<10} {preset:<15} {m['pods']:>7,} {m['nodes']:>6,} {m['cycles']:>7,} {m['placed']:>7,} "
                  f"{m['alloc_end']:>9.3f} {m['build']:>8.2f} {m['run']:>7.2f} {m['results']:>9.2f} "
                  f"{m['total']:>8.2f}", flush=True)
    if args.distinct:
        print()
        print("distinct requests: kube-default, 1,000 nodes, timed")
        print(f"{'pods':>8} {'shapes':>8} {'build s':>8} {'run s':>7} {'total s':>8}")
        for n in args.distinct:
            m = measure_distinct(n)
            print(f"{m['pods']:>8,} {m['shapes']:>8,} {m['build']:>8.2f} {m['run']:>7.2f} {m['total']:>8.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
