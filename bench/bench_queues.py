"""Batch queues at scale: a day of 10,000 gang jobs (100,000 pods) admitted by
Kueue-style queues (two teams in a cohort, with borrowing) and placed by Coscheduling on
1,000 nodes. Prints CPU time (the target is under 60 s on a 2-core machine). The day is
over-subscribed: about 8,000 jobs are admitted by its end, the rest still wait.

    PYTHONPATH=. python bench/bench_queues.py [--jobs 10000]
"""

from __future__ import annotations

import argparse
import time

from k8sim import Simulation, validate_scenario


def scenario(jobs: int) -> dict:
    day = 86400.0
    per_team = jobs // 2
    rate = per_team / (day * 0.9)
    quota = {"coveredResources": ["cpu", "memory", "nvidia.com/gpu"], "flavors": [{"name": "gpu", "resources": [
        {"name": "cpu", "nominalQuota": 16000}, {"name": "memory", "nominalQuota": "64Ti"},
        {"name": "nvidia.com/gpu", "nominalQuota": 4000, "borrowingLimit": 2000}]}]}

    def team(name: str) -> dict:
        return {"name": f"{name}/jobs", "queue": name, "max_pods": per_team * 10,
                "arrival": {"kind": "poisson", "rate_per_s": rate},
                "gang": {"workers": 10}, "duration": {"kind": "exponential", "mean": 3000},
                "template": {"namespace": name, "requests": {"cpu": "4", "memory": "16Gi"}, "gpu": {"count": 1}}}

    return {
        "name": "bench-queues", "seed": 1, "duration_s": day,
        "cluster": {"node_pools": [{"name": "n", "count": 1000, "allocatable": {"cpu": "64", "memory": "256Gi",
                                                                                 "pods": 110},
                                    "gpus": {"count": 8, "model": "A100"}}]},
        "kueue": {"resourceFlavors": [{"name": "gpu"}], "cohorts": [{"name": "all"}],
                  "clusterQueues": [{"name": t, "cohort": "all", "resourceGroups": [quota],
                                     "preemption": {"reclaimWithinCohort": "Any"}} for t in ("a", "b")],
                  "localQueues": [{"name": t, "namespace": t, "clusterQueue": t} for t in ("a", "b")]},
        "workloads": [team("a"), team("b")],
        "scheduler": {"profiles": [{"plugins": [{"name": "Coscheduling"}]}]},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10_000)
    args = ap.parse_args()
    sc = validate_scenario(scenario(args.jobs))
    c0, w0 = time.process_time(), time.perf_counter()
    result = Simulation(sc).run()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    s = result.summary().iloc[0]
    print(f"queues: {int(s['queue_workloads'])} jobs, {len(result.pods)} pods, "
          f"{int(s['queue_workloads_finished'])} finished, {int(s['queue_evictions'])} evictions: "
          f"{cpu:.1f} s CPU, {wall:.1f} s wall")


if __name__ == "__main__":
    main()
