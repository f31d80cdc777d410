"""Growth: how run time and memory grow with the pods at a fixed node count, and with
the nodes at a fixed pod count, so that a regression in either shows.

Each row runs the engine benchmark's scenario (:mod:`bench_engine`: identical pods, a
Poisson stream sized to keep the cluster at 70% of its CPU, kube-default) in a fresh
process, and gives its CPU time (user + system: less sensitive than wall time to other
load on the machine), wall time and peak resident set size. ``exponent`` is the local
growth exponent against the row before, ``log(CPU ratio) / log(size ratio)``: about 1
for linear growth (pods x log(pods) reads as a little above 1), 2 for quadratic; the
last line of each table is the least-squares exponent over all its rows.

Issue bar: CPU time grows no faster than pods x log(pods) at a fixed node count, and no
faster than linearly in the nodes at a fixed pod count. The default sizes keep
``make bench`` short; ``--full`` runs the issue's table (10^4, 10^5, 10^6 pods on 1,000
nodes; 10^3, 10^4, 10^5 nodes under 10^5 pods), which takes several minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def child(pods: int, nodes: int) -> None:
    """One run in this (fresh) process; prints a JSON line with the figures."""
    sys.path.insert(0, str(HERE))
    from bench_engine import scenario

    from k8sim import Simulation, validate_scenario

    sc = validate_scenario(scenario(pods, nodes))
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    base_kib = u0.ru_maxrss
    t0 = time.perf_counter()
    result = Simulation(sc).run()
    wall = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({
        "pods": len(result.pods), "nodes": nodes, "wall": wall,
        "cpu": (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime),
        "peak_mib": u1.ru_maxrss / 1024, "added_mib": (u1.ru_maxrss - base_kib) / 1024,
    }))


def measure(pods: int, nodes: int) -> dict:
    res = subprocess.run([sys.executable, __file__, "--child", str(pods), str(nodes)], capture_output=True, text=True,
                         check=False, cwd=ROOT)
    if res.returncode != 0:
        raise SystemExit(f"run of {pods} pods on {nodes} nodes failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def fit_exponent(sizes: list[int], cpu: list[float]) -> float:
    """Least-squares slope of log(cpu) against log(size)."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(c) for c in cpu]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


def table(title: str, cases: list[tuple[int, int]], varying: str) -> None:
    print(title)
    print(f"{'pods':>10} {'nodes':>8} {'CPU s':>8} {'wall s':>8} {'us/pod':>8} {'peak MiB':>9} "
          f"{'added MiB':>9} {'B/pod':>7} {'exponent':>8}")
    sizes: list[int] = []
    cpus: list[float] = []
    for pods, nodes in cases:
        r = measure(pods, nodes)
        size = pods if varying == "pods" else nodes
        exp = ""
        if sizes:
            exp = f"{math.log(r['cpu'] / cpus[-1]) / math.log(size / sizes[-1]):.2f}"
        sizes.append(size)
        cpus.append(r["cpu"])
        print(f"{pods:>10,} {nodes:>8,} {r['cpu']:>8.2f} {r['wall']:>8.2f} {r['cpu'] / pods * 1e6:>8.1f} "
              f"{r['peak_mib']:>9,.0f} {r['added_mib']:>9,.0f} {r['added_mib'] * 2**20 / pods:>7,.0f} {exp:>8}",
              flush=True)
    if len(sizes) > 1:
        print(f"CPU time ~ {varying}^{fit_exponent(sizes, cpus):.2f} (least squares over the rows)")
    print()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(int(sys.argv[2]), int(sys.argv[3]))
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--full", action="store_true",
                    help="the issue's table: 10^4..10^6 pods on 1,000 nodes, 10^3..10^5 nodes under 10^5 pods")
    ap.add_argument("--pods", type=int, nargs="*", help="pod counts of the first table")
    ap.add_argument("--nodes", type=int, nargs="*", help="node counts of the second table")
    ap.add_argument("--fixed-nodes", type=int, default=1_000, help="nodes of the first table")
    ap.add_argument("--fixed-pods", type=int, help="pods of the second table")
    a = ap.parse_args()
    pods = a.pods or ([10_000, 100_000, 1_000_000] if a.full else [10_000, 30_000, 100_000])
    nodes = a.nodes or ([1_000, 10_000, 100_000] if a.full else [1_000, 3_000, 10_000])
    fixed_pods = a.fixed_pods or (100_000 if a.full else 20_000)
    table(f"growth in pods ({a.fixed_nodes:,} nodes)", [(p, a.fixed_nodes) for p in pods], "pods")
    table(f"growth in nodes ({fixed_pods:,} pods)", [(fixed_pods, n) for n in nodes], "nodes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
