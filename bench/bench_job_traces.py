"""Trace jobs at scale: a PAI-format day of 10,000 jobs (synthetic, in the public job
and task table layouts) read job by job and admitted by Kueue-style queues by user (two
teams in a cohort, with borrowing) as gangs placed by Coscheduling on 1,000 GPU nodes.
Prints the CPU time of reading the tables and of the run.

    PYTHONPATH=. python bench/bench_job_traces.py [--jobs 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

from k8sim import Simulation, validate_scenario
from k8sim.workloads.traces.job_samples import write_pai_job_sample
from k8sim.workloads.traces.jobs import read_pai_2020_jobs


def scenario(job_table: str, task_table: str, first_user: str) -> dict:
    quota = {"coveredResources": ["cpu", "memory", "nvidia.com/gpu"], "flavors": [{"name": "gpu", "resources": [
        {"name": "cpu", "nominalQuota": 24000}, {"name": "memory", "nominalQuota": "128Ti"},
        {"name": "nvidia.com/gpu", "nominalQuota": 3000, "borrowingLimit": 2000}]}]}
    pools = [{"name": m.lower(), "count": n, "allocatable": {"cpu": "64", "memory": "512Gi", "pods": 110},
              "gpus": {"count": 8, "model": m}} for m, n in (("T4", 400), ("V100", 400), ("P100", 200))]
    return {
        "name": "bench-job-traces", "seed": 1, "duration_s": 86400 * 11,
        "cluster": {"node_pools": pools},
        "kueue": {"resourceFlavors": [{"name": "gpu"}], "cohorts": [{"name": "all"}],
                  "clusterQueues": [{"name": t, "cohort": "all", "resourceGroups": [quota],
                                     "preemption": {"reclaimWithinCohort": "Any"}} for t in ("a", "b")],
                  "localQueues": [{"name": t, "namespace": "pai", "clusterQueue": t} for t in ("a", "b")]},
        "workloads": [{"name": "pai", "template": {"namespace": "pai"}, "jobs": {
            "format": "pai2020", "files": [task_table], "args": {"job_table": job_table},
            "queues": {"column": "user", "map": {first_user: "a"}, "default": "b"}, "gang": {}}}],
        "scheduler": {"profiles": [{"plugins": [{"name": "Coscheduling"}]}]},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        job_table, task_table = (str(p) for p in write_pai_job_sample(d, np.random.default_rng(1), args.jobs))
        c0 = time.process_time()
        jobs = read_pai_2020_jobs(task_table, job_table=job_table)
        read_cpu = time.process_time() - c0
        first_user = jobs.jobs["user"].value_counts().index[0]
        sc = validate_scenario(scenario(job_table, task_table, first_user))
        c0, w0 = time.process_time(), time.perf_counter()
        result = Simulation(sc).run()
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    s = result.summary().iloc[0]
    print(f"job traces: read {len(jobs.jobs)} jobs in {read_cpu:.2f} s CPU; run: {int(s['queue_workloads'])} jobs, "
          f"{len(result.pods)} pods, {int(s['queue_workloads_finished'])} finished, "
          f"{int(s['queue_evictions'])} evictions: {cpu:.1f} s CPU, {wall:.1f} s wall")


if __name__ == "__main__":
    main()
