"""Sweep throughput: one process vs local worker processes vs a Dask LocalCluster.

The same 40-run sweep (quickstart scaled up: 5 cluster sizes x 2 profiles x 4 seeds) is
run from scratch with each executor, then once more to time a resume (every run
skipped). Targets (issue "Experiments"): local jobs=2 <= 0.6x the time of jobs=1 on a
2-core machine; Dask LocalCluster(2 workers) within 25% of the local executor with
jobs=2 (the Dask time includes starting and stopping the cluster). The tables of all
executors must be identical except for wall times.

    .venv/bin/python bench/bench_sweep.py [--pods 1500 4500] [--repeat 3] [--skip-dask]

Dask has a fixed cost of about 1.5 s on 2 cores (start the scheduler and two spawned
worker processes, import k8sim in each, stop them): it is amortised only once the
sweep takes several seconds, so two run sizes are measured.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from k8sim.experiments import experiment_from_data, sweep

REPO = Path(__file__).resolve().parents[1]


def experiment(pods: int):
    return experiment_from_data(
        {
            "name": "bench-sweep",
            "scenario": "scenarios/quickstart.yaml",
            "grid": {
                "cluster.node_pools[0].count": [16, 20, 24, 28, 32],
                "workloads[0].max_pods": [pods],
                "workloads[1].max_pods": [pods * 2 // 3],
            },
            "profiles": ["kube-default", "binpack"],
            "replications": 4,
            "base_seed": 1,
        },
        source="bench_sweep",
        base_dir=REPO,
    )


def timed(exp, tmp: Path, name: str, **kwargs) -> tuple[float, pd.DataFrame]:
    out = tmp / name
    t0 = time.perf_counter()
    table = sweep(exp, out_dir=out, **kwargs)
    wall = time.perf_counter() - t0
    if not (table["status"] == "ok").all():
        raise SystemExit(f"{name}: some runs failed:\n{table[table['status'] != 'ok'][['run_id', 'error']]}")
    return wall, table


EXECUTORS = {
    "local, jobs=1 (in-process)": {"jobs": 1},
    "local, jobs=2 (process pool)": {"jobs": 2},
    "dask LocalCluster, 2 workers": {"executor": "dask", "jobs": 2},
}


def measure(pods: int, dask: bool, repeat: int) -> tuple[int, float, dict[str, list[float]], float, bool]:
    """Each executor ``repeat`` times from scratch, interleaved (so that a burst of load
    on a shared machine hits all of them alike); the tables must all be identical."""
    exp = experiment(pods)
    names = [n for n in EXECUTORS if dask or "dask" not in n]
    walls: dict[str, list[float]] = {n: [] for n in names}
    reference = None
    same = True
    mean_run = float("nan")
    with tempfile.TemporaryDirectory(prefix="k8sim-bench-sweep-") as d:
        tmp = Path(d)
        for rep in range(repeat):
            for i, name in enumerate(names):
                wall, table = timed(exp, tmp, f"{i}-{rep}", **EXECUTORS[name])
                walls[name].append(wall)
                cols = [c for c in table.columns if c != "wall_s"]
                if reference is None:
                    reference = table[cols]
                    mean_run = float(table["wall_s"].mean())
                same = same and reference.equals(table[cols])
        t0 = time.perf_counter()
        resumed = sweep(exp, out_dir=tmp / "1-0", jobs=2)
        resume = time.perf_counter() - t0
        assert resumed["skipped"].all()
    return len(reference), mean_run, walls, resume, same


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, nargs="+", default=[1500, 4500],
                    help="web pods per run, one sweep per value (batch pods: 2/3 of it)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each executor; the best one counts")
    ap.add_argument("--skip-dask", action="store_true", help="leave the Dask executor out")
    args = ap.parse_args(argv)
    dask = not args.skip_dask
    if dask:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            print("dask not installed (pip install 'k8sim[dask]'): skipping the Dask executor")
            dask = False
    ok = True
    load0 = os.getloadavg()[0]
    for pods in args.pods:
        n, mean_run, walls, resume, same = measure(pods, dask, args.repeat)
        best = {k: min(v) for k, v in walls.items()}
        print(f"sweep of {n} runs, {pods} + {pods * 2 // 3} pods each (mean run {mean_run:.2f} s in one "
              f"process); best of {args.repeat}")
        print(f"  {'executor':<30} {'best s':>7} {'median s':>9} {'runs/s':>7}  {'ratio (best)':<24} target")
        one, two = "local, jobs=1 (in-process)", "local, jobs=2 (process pool)"
        for name, times in walls.items():
            ratio, target = "", ""
            if name == two:
                r = best[two] / best[one]
                ratio, target = f"{r:.2f}x jobs=1", "<= 0.60x" + (" ok" if r <= 0.6 else " MISSED")
            elif "dask" in name:
                r = best[name] / best[two]
                ratio, target = f"{r:.2f}x local jobs=2", "<= 1.25x" + (" ok" if r <= 1.25 else " MISSED")
            print(f"  {name:<30} {best[name]:7.2f} {statistics.median(times):9.2f} {n / best[name]:7.1f}  "
                  f"{ratio:<24} {target}")
        print(f"  {'resume (every run on disk)':<30} {resume:7.2f}")
        print(f"  identical tables across executors and repeats: {'yes' if same else 'NO'}")
        print()
        ok = ok and same
    print(f"load average (1 min) before / after: {load0:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
