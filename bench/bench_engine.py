"""End-to-end engine throughput: pods through their whole lifecycle.

Foundation bar: 100,000 pods on 1,000 nodes in <= 20 s wall, peak memory < 2 GB.
Run with ``make bench`` (or ``python bench/bench_engine.py --pods 100000 --nodes 1000``).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from k8sim import Simulation, validate_scenario


def scenario(pods: int, nodes: int, load: float = 0.7) -> dict:
    """A steady Poisson stream sized so the cluster runs at ``load`` of its CPU."""
    # Node: 32 cores; pod: 1 core for 300 s on average -> capacity 32 * nodes pods
    # in parallel; arrival rate = load * capacity / mean duration.
    mean_duration = 300.0
    rate = load * 32 * nodes / mean_duration
    return {
        "name": f"bench-{pods}-{nodes}",
        "seed": 7,
        "cluster": {
            "node_pools": [
                {"name": "n", "count": nodes, "allocatable": {"cpu": "32", "memory": "128Gi", "pods": 110},
                 "zones": ["a", "b", "c"]}
            ]
        },
        "workloads": [
            {
                "name": "batch",
                "arrival": {"kind": "poisson", "rate_per_s": rate},
                "max_pods": pods,
                "template": {
                    "requests": {"cpu": "1", "memory": "2Gi"},
                    "start_latency": {"kind": "lognormal", "mu": 0.0, "sigma": 0.5},
                },
                "duration": {"kind": "exponential", "mean": mean_duration},
            }
        ],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pods", type=int, default=100_000)
    ap.add_argument("--nodes", type=int, default=1_000)
    args = ap.parse_args(argv)
    sc = validate_scenario(scenario(args.pods, args.nodes))
    t0 = time.perf_counter()
    sim = Simulation(sc)
    result = sim.run()
    wall = time.perf_counter() - t0
    events = result.provenance["events"]
    s = result.summary().iloc[0]
    # The process's peak, taken after the summary too: building it is part of a run's cost.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [
        ("pods", f"{args.pods:,}"),
        ("nodes", f"{args.nodes:,}"),
        ("wall time (s)", f"{wall:.2f}"),
        ("simulation only (s)", f"{sim.wall_s:.2f}"),
        ("events", f"{events:,}"),
        ("events/s", f"{events / wall:,.0f}"),
        ("pods/s", f"{args.pods / wall:,.0f}"),
        ("scheduling cycles", f"{result.provenance['scheduling_cycles']:,}"),
        ("pods completed", f"{int(s['pods_completed']):,}"),
        ("mean cpu utilisation", f"{s['mean_cpu_utilization']:.3f}"),
        ("peak RSS (MB)", f"{peak_mb:,.0f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'metric':<{width}}  value")
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
