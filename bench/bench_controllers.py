"""Controllers on the hot path: 100,000 pods owned by 1,000 Deployments on 1,000 nodes
with node failures, against the same pods as bare pods without failures, side by side.

Bar: the controller run takes at most 1.5x the wall time of the bare run. Both runs
create 100 pods of 100m CPU labelled ``app: app-<i>`` per application at t = 0 and keep
them for the run (``duration_s`` 3,600 s, lognormal start latency); times include
building the simulation (reading the manifests) and the result. The ratio is of CPU
times (this process's), which a loaded machine disturbs far less than wall times.
The controller run has k8sim's node failure process (``failures: [{kind: node}]``, see
docs/failures.md): each node fails after an exponential time with MTBF = -T / ln(0.95)
(so about 5% of the nodes fail within T = 3,600 s) and is repaired 600 s later; the node
lifecycle controller marks it NotReady and taints it, the taint eviction controller
evicts its pods 300 s later, and their ReplicaSets recreate them elsewhere.

    python bench/bench_controllers.py [--apps 1000 --replicas 100 --nodes 1000]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import yaml

from k8sim import Simulation, validate_scenario

HORIZON = 3600.0
MTTR = 600.0


def cluster(nodes: int) -> dict:
    return {"node_pools": [{"name": "n", "count": nodes, "allocatable": {"cpu": "32", "memory": "128Gi", "pods": 110},
                            "zones": ["a", "b", "c"]}]}


START = {"kind": "lognormal", "mu": 0.0, "sigma": 0.5}


def bare(apps: int, replicas: int, nodes: int) -> dict:
    """The same pods without controllers: one workload per application, its replicas
    as a burst at t = 0, with the same labels and requests."""
    return {"name": "bare", "seed": 7, "duration_s": HORIZON, "cluster": cluster(nodes),
            "defaults": {"start_latency": START},
            "workloads": [{"name": f"app-{a}", "arrival": {"kind": "burst", "count": replicas, "at_s": 0},
                           "template": {"requests": {"cpu": "100m", "memory": "256Mi"}, "labels": {"app": f"app-{a}"}}}
                          for a in range(apps)]}


def deployments(apps: int, replicas: int) -> list[dict]:
    return [{
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{a}"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": f"app-{a}"}},
                 "template": {"metadata": {"labels": {"app": f"app-{a}"}}, "spec": {
                     "containers": [{"name": "c", "image": "app:1",
                                     "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}}]}}},
    } for a in range(apps)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--apps", type=int, default=1000)
    ap.add_argument("--replicas", type=int, default=100)
    ap.add_argument("--nodes", type=int, default=1000)
    args = ap.parse_args(argv)
    rows = []
    t0, c0 = time.perf_counter(), time.process_time()
    r_bare = Simulation(validate_scenario(bare(args.apps, args.replicas, args.nodes))).run()
    wall_bare, cpu_bare = time.perf_counter() - t0, time.process_time() - c0
    rows.append(("bare pods, no failures", wall_bare, cpu_bare, len(r_bare.pods), 0, 0))
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Path(tmp) / "apps.yaml"
        manifest.write_text(yaml.safe_dump_all(deployments(args.apps, args.replicas)))
        mtbf = -HORIZON / math.log(0.95)
        sc = validate_scenario({"name": "controllers", "seed": 7, "duration_s": HORIZON, "cluster": cluster(args.nodes),
                                "defaults": {"start_latency": START},
                                "workloads": [{"name": "apps", "manifest": str(manifest)}],
                                "failures": [{"kind": "node",
                                              "time_to_failure": {"kind": "exponential", "mean": mtbf},
                                              "time_to_repair": {"kind": "constant", "value": MTTR}}]})
        t0, c0 = time.perf_counter(), time.process_time()
        r = Simulation(sc).run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = r.summary().iloc[0]
    rows.append(("Deployments + node failures", wall, cpu, len(r.pods), int(s.get("node_failures", 0)),
                 int(s["pods_recreated"])))
    print(f"{'run':<30} {'wall (s)':>9} {'CPU (s)':>9} {'pods':>9} {'nodes failed':>13} {'recreated':>10}")
    for name, w, c, pods, failed, rec in rows:
        print(f"{name:<30} {w:>9.2f} {c:>9.2f} {pods:>9,} {failed:>13,} {rec:>10,}")
    ratio = cpu / cpu_bare
    print(f"CPU-time ratio {ratio:.2f} (bar: <= 1.5; wall-time ratio {wall / wall_bare:.2f}); "
          f"availability {s['availability']:.4f}, unreplaced {int(s['pods_lost_unreplaced'])}")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    sys.exit(main())
