"""Cost of node failures: the same pods with and without a node failure process, side by
side in one run of the benchmark.

The workload is ``bench_engine``'s (a Poisson stream at 70% of the cluster's CPU), run
for its arrival span plus 600 s. The failure case adds a per-node failure process whose
exponential time to failure is chosen so that about 5% of the nodes fail during the run
(``P(fail before T) = 1 - exp(-T / MTBF) = 0.05``), each down for 600 s; pods on a
failed node are evicted by the node lifecycle and taint eviction controllers or restart
when it returns. The ratio of the two wall times is the cost of the failure machinery
(the issue's bar for the controller case is 1.5x).

    python bench/bench_failures.py --pods 100000 --nodes 1000
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from bench_engine import scenario

from k8sim import Simulation, validate_scenario

FAILED_SHARE = 0.05
REPAIR_S = 600.0


def build(pods: int, nodes: int, failures: bool) -> dict:
    data = scenario(pods, nodes)
    rate = data["workloads"][0]["arrival"]["rate_per_s"]
    data["duration_s"] = pods / rate + 600.0
    if failures:
        mtbf = data["duration_s"] / -math.log(1.0 - FAILED_SHARE)
        data["failures"] = [{"kind": "node", "time_to_failure": {"kind": "exponential", "mean": mtbf},
                             "time_to_repair": {"kind": "constant", "value": REPAIR_S}}]
    return data


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=100_000)
    ap.add_argument("--nodes", type=int, default=1_000)
    args = ap.parse_args(argv)
    rows = []
    walls = {}
    for label, with_failures in (("no failures", False), ("node failures (~5% of nodes)", True)):
        sc = validate_scenario(build(args.pods, args.nodes, with_failures))
        t0, c0 = time.perf_counter(), time.process_time()
        result = Simulation(sc).run()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        walls[with_failures] = wall
        s = result.summary().iloc[0]
        rows.append((label, f"{wall:.2f}", f"{cpu:.2f}", int(s.get("node_failures", 0)),
                     int(s.get("pods_evicted", 0)), int(s.get("pods_restarted_after_failure", 0)),
                     int(s["pods_completed"])))
    head = ("case", "wall (s)", "cpu (s)", "node failures", "pods evicted", "pods restarted", "pods completed")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)))
    print(f"wall-time ratio (failures / none): {walls[True] / walls[False]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
