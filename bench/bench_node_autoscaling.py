"""The Cluster Autoscaler over a simulated day on up to 500 nodes.

A day (86,400 s) of batch waves: every 2 hours a burst of ``--pods`` pods of 2 CPU /
4 GiB (run time normal, mean 30 min) lands on a cluster whose only nodes are a node
group of m5.4xlarge (7 such pods each) with ``--max-nodes`` (500) as its maximum, plus
a steady Poisson stream of small pods on 4 fixed nodes. The Cluster Autoscaler scans
every 10 s (8,640 scans), scales up for each wave (about 500 nodes) and back down. Most of
the time goes to the scheduler, not the autoscaler: each node that registers is a
NodeAdd cluster event that moves every waiting pod back to the active queue (as
upstream's scheduling queue does), and nodes register one by one.
Reports the CPU time of building and running the simulation (this process's, which a
loaded machine disturbs far less than wall time), nodes added and removed.

    python bench/bench_node_autoscaling.py [--pods 3500 --max-nodes 500]
"""

from __future__ import annotations

import argparse
import time

from k8sim import Simulation, validate_scenario

DAY = 86_400.0


def scenario(pods: int, max_nodes: int, waves: int = 12) -> dict:
    waves = [{"name": f"wave-{i}", "arrival": {"kind": "burst", "count": pods, "at_s": 600 + 7200 * i},
              "template": {"requests": {"cpu": "2", "memory": "4Gi"}},
              "duration": {"kind": "normal", "mean": 1800, "std": 300}} for i in range(waves)]
    steady = {"name": "steady", "arrival": {"kind": "poisson", "rate_per_s": 0.05},
              "template": {"requests": {"cpu": "250m", "memory": "512Mi"}, "nodeSelector": {"k8sim.io/node-pool": "fixed"}},
              "duration": {"kind": "exponential", "mean": 600}}
    return {"name": "bench-autoscaling", "seed": 3, "duration_s": DAY, "sample_interval_s": 60,
            "cluster": {"node_pools": [{"name": "fixed", "count": 4, "allocatable": {"cpu": "16", "memory": "64Gi"}}]},
            "workloads": [steady, *waves],
            "autoscaling": {"cluster_autoscaler": {
                "expander": ["least-waste"],
                "provisioning_latency": {"kind": "lognormal", "mu": 4.1, "sigma": 0.2},
                "node_groups": [{"name": "m5-4xlarge", "max_size": max_nodes, "instance_type": "m5.4xlarge"}]}}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=3500)
    ap.add_argument("--max-nodes", type=int, default=500)
    ap.add_argument("--waves", type=int, default=12, help="waves, one every 2 h (12: the whole day)")
    args = ap.parse_args()
    c0, w0 = time.process_time(), time.perf_counter()
    sim = Simulation(validate_scenario(scenario(args.pods, args.max_nodes, args.waves)))
    res = sim.run()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    s = res.summary().iloc[0]
    peak = int(res.frames["node_groups"]["nodes"].max())
    print(f"CA day, {args.pods} pods x {args.waves} waves, group max {args.max_nodes}: cpu {cpu:.1f} s, wall {wall:.1f} s; "
          f"peak {peak} nodes, {int(s['ca_nodes_added'])} added, {int(s['ca_nodes_removed'])} removed, "
          f"{int(s['ca_scale_ups'])} scale-ups, cost {s['node_cost']:.1f}")


if __name__ == "__main__":
    main()
