"""Scheduling decisions per second vs node count, per profile (no SimPy, no lifecycle).

Issue bar: kube-default at 5,000 nodes >= 10,000 decisions/s (>= 20,000 with a
single-score profile); at 100,000 nodes >= 1,000 decisions/s. Pods have no affinity
constraints. Each decision is a full cycle (filters, node sampling, scores,
tie-break) followed by a real bind, so the cluster fills as it would.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from k8sim import Simulation, validate_scenario
from k8sim.cluster import ops


def build(nodes: int, preset: str) -> Simulation:
    sc = validate_scenario({
        "name": "bench-scheduler",
        "cluster": {"node_pools": [
            {"name": "a", "count": nodes // 2, "allocatable": {"cpu": "64", "memory": "256Gi", "pods": 250},
             "zones": ["z1", "z2", "z3"]},
            {"name": "b", "count": nodes - nodes // 2, "allocatable": {"cpu": "32", "memory": "128Gi"},
             "zones": ["z1", "z2", "z3"]},
        ]},
        "workloads": [
            {"name": f"w{i}", "arrival": {"kind": "times", "times_s": [1e9]},
             "template": {"requests": {"cpu": cpu, "memory": mem}, "labels": {"app": f"w{i}"}}}
            for i, (cpu, mem) in enumerate([("250m", "512Mi"), ("1", "2Gi"), ("2", "8Gi"), ("500m", "1Gi")])
        ],
        "scheduler": {"profiles": [{"preset": preset}]},
    })
    return Simulation(sc)


def measure(nodes: int, preset: str, decisions: int, incremental: bool = True) -> tuple[float, float, float]:
    """(decisions per second, microseconds per decision, decisions per CPU-second)."""
    sim = build(nodes, preset)
    state = sim.state
    profile = next(iter(sim.profiles.values()))
    profile.incremental = incremental
    shapes = list(range(len(state.shapes)))
    rng = np.random.default_rng(0)
    order = rng.choice(shapes, size=decisions)
    pods = state.pods
    t0, c0 = time.perf_counter(), time.process_time()
    for i, s in enumerate(order.tolist()):
        info = state.shapes[s]
        p = pods.append(name=f"p{i}", requests=info.requests, workload=info.workload, index=i, shape=s,
                        priority=0, created=0.0, duration=np.inf, start_latency=0.0)
        d = profile.schedule(state, info)
        if d.node >= 0:
            ops.bind(state, p, d.node, 0.0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return decisions / wall, wall / decisions * 1e6, decisions / cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--nodes", type=int, nargs="*", default=[1_000, 5_000, 20_000, 100_000])
    ap.add_argument("--presets", nargs="*", default=["kube-default", "spread"])
    ap.add_argument("--decisions", type=int, default=5_000)
    ap.add_argument("--no-incremental", action="store_true",
                    help="run every plugin over every node each cycle (scheduler.incremental: false)")
    args = ap.parse_args(argv)
    # CPU time is the figure that other load on a shared machine disturbs least.
    print(f"{'preset':<14} {'nodes':>8} {'decisions/s':>12} {'us/decision':>12} {'decisions/cpu-s':>16}")
    for preset in args.presets:
        for n in args.nodes:
            rate, us, cpu_rate = measure(n, preset, args.decisions if n < 50_000 else args.decisions // 5,
                                         not args.no_incremental)
            print(f"{preset:<14} {n:>8,} {rate:>12,.0f} {us:>12.1f} {cpu_rate:>16,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
