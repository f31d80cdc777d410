"""Distinct requests at scale: a timed trace replay where every pod is its own shape.

Traces such as Google 2019 or Alibaba 2018 give almost every pod its own (normalised)
CPU and memory request, so every pod is a shape of its own and nothing per shape may be
sized by the node count. This benchmark generates such a trace (openb pod-list layout,
so it replays through the ordinary trace reader): Poisson arrivals, every pod with its
own (CPU, memory) pair, exponential run times sized so that the cluster runs at about
80% of its CPU, and replays it (timed, until every pod has ended) on a pool of identical
32-core / 128 GiB nodes, once per preset (kube-default and first-fit by default).

Each run happens in a fresh process, and so does the generation of the trace: Linux
keeps a process's peak resident set size across fork and exec, so a parent grown by
generating (or by an earlier run) would show its peak in every later figure. The table
gives the mean CPU utilisation over the whole run and in the steady state (from three
mean run times to the last arrival), wall time, CPU time (user + system) and the peak RSS of the whole process
(interpreter and imports included), besides what the run placed.

Issue goals on a 2-core machine at full size (``--full``: 1,000,000 pods on 10,000
nodes): kube-default <= 60 s and <= 2 GB; first-fit <= 30 s and <= 2 GB.
The default size (100,000 pods on 1,000 nodes) keeps ``make bench`` short.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_CPU_MILLI = 32_000
NODE_MEMORY = "128Gi"
#: CPU requests run over 100..3,999 milli (mean about 2,050); the memory request is
#: 512 MiB + 1 MiB per milli-CPU + 8 MiB per block of 3,900 pods, so the (CPU, memory)
#: pairs are distinct by construction and memory (about 2 GiB per core) stays below
#: the nodes' 4 GiB per core: CPU is the resource that binds.
CPU_VALUES = 3_900
MEAN_RUN_S = 600.0
TARGET_LOAD = 0.8


def generate(path: Path, pods: int, nodes: int, seed: int = 0) -> None:
    """Write the trace (openb pod-list layout) of ``pods`` pods for ``nodes`` nodes."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    idx = rng.permutation(pods)
    cpu = 100 + idx % CPU_VALUES
    mem = 512 + cpu + 8 * (idx // CPU_VALUES)
    # Little's law: pods running at once = rate * mean run time; their CPU is
    # TARGET_LOAD of the cluster's when rate = load * capacity / (mean cpu * mean run).
    rate = TARGET_LOAD * nodes * NODE_CPU_MILLI / (float(cpu.mean()) * MEAN_RUN_S)
    t = np.round(np.cumsum(rng.exponential(1.0 / rate, pods)), 3)
    run = np.round(rng.exponential(MEAN_RUN_S, pods) + 0.001, 3)
    frame = pd.DataFrame({
        "name": [f"p{i}" for i in range(pods)], "cpu_milli": cpu, "memory_mib": mem, "num_gpu": 0, "gpu_milli": 0,
        "gpu_spec": "", "qos": "BE", "pod_phase": "Running", "creation_time": t, "deletion_time": t + run,
        "scheduled_time": t,
    })
    # The file's last deletion time marks the end of the trace (pods deleted then are
    # right-censored): a last tiny pod, deleted long after the others, carries it.
    end = t[-1] + 10 * MEAN_RUN_S + float(run.max())
    frame.loc[pods] = ["end", 1, 1, 0, 0, "", "BE", "Running", t[-1], end, t[-1]]
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, lineterminator="\n")


def scenario(path: Path, nodes: int, preset: str) -> dict:
    return {
        "name": f"distinct-{preset}",
        "seed": 1,
        "sample_interval_s": 600,
        "cluster": {"node_pools": [{"name": "n", "count": nodes,
                                    "allocatable": {"cpu": str(NODE_CPU_MILLI // 1000), "memory": NODE_MEMORY}}]},
        "workloads": [{"name": "t", "trace": {"format": "openb", "files": [str(path)]}}],
        "scheduler": {"profiles": [{"preset": preset}]},
    }


def child(path: str, nodes: int, preset: str) -> None:
    """One run in this (fresh) process; prints a JSON line with the figures."""
    from k8sim import Simulation, validate_scenario

    u0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    sim = Simulation(validate_scenario(scenario(Path(path), nodes, preset)))
    result = sim.run()
    wall = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    s = result.summary().iloc[0]
    # CPU utilisation in the steady state: after three mean run times, up to the last
    # arrival (the run goes on until the last pod has ended, which the mean includes).
    ts = result.timeseries
    last = float(result.pods["created"].max())
    steady = ts[(ts["time"] >= 3 * MEAN_RUN_S) & (ts["time"] + ts["interval"] <= last)]["cpu_utilization"]
    print(json.dumps({
        "pods": len(result.pods), "shapes": len(sim.state.shapes), "wall": wall, "sim": sim.wall_s,
        "cpu": (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime),
        "peak_mib": u1.ru_maxrss / 1024,  # KiB on Linux
        "completed": int(s["pods_completed"]), "cpu_util": float(s["mean_cpu_utilization"]),
        "steady_util": float(steady.mean()) if len(steady) else float("nan"),
    }))


def measure(path: Path, nodes: int, preset: str) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", str(path), str(nodes), preset],
                         capture_output=True, text=True, check=False, cwd=ROOT)
    if res.returncode != 0:
        raise SystemExit(f"{preset} run failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=100_000)
    ap.add_argument("--nodes", type=int, default=1_000)
    ap.add_argument("--full", action="store_true", help="the issue's size: 1,000,000 pods on 10,000 nodes")
    ap.add_argument("--presets", nargs="*", default=["kube-default", "first-fit"])
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "k8sim-bench-distinct",
                    help="where the generated traces are kept between runs")
    a = ap.parse_args()
    pods, nodes = (1_000_000, 10_000) if a.full else (a.pods, a.nodes)
    path = a.dir / f"distinct_{pods}_{nodes}.csv"
    if not path.exists():
        # In a process of its own (see the module docstring), then reused.
        subprocess.run([sys.executable, __file__, "--generate", str(path), str(pods), str(nodes)], check=True, cwd=ROOT)
    print(f"distinct requests: {pods:,} pods (one shape each) on {nodes:,} nodes, timed replay, "
          f"~{TARGET_LOAD:.0%} CPU load")
    print(f"{'preset':<14} {'pods':>9} {'shapes':>9} {'completed':>9} {'CPU util':>8} {'steady':>6} {'wall s':>8} {'sim s':>8} "
          f"{'CPU s':>8} {'peak RSS MiB':>12}")
    for preset in a.presets:
        r = measure(path, nodes, preset)
        print(f"{preset:<14} {r['pods']:>9,} {r['shapes']:>9,} {r['completed']:>9,} {r['cpu_util']:>8.3f} {r['steady_util']:>6.3f} "
              f"{r['wall']:>8.2f} {r['sim']:>8.2f} {r['cpu']:>8.2f} {r['peak_mib']:>12,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
