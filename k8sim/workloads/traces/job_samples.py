"""Synthetic samples in the job-level layouts of Alibaba 2018 and PAI 2020 (see
``k8sim/data/traces/README.md``).

**Every value is synthetic**, drawn from small invented distributions; no row, id or
value sequence comes from the real traces. The files have the exact public layouts
(no header row, the columns of :data:`.alibaba_2018.BATCH_TASK_COLUMNS`,
:data:`.jobs.PAI_JOB_COLUMNS` and :data:`.jobs.PAI_TASK_COLUMNS`), so that the job
readers, the examples and the tests run without the real traces.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from k8sim.workloads.traces.alibaba_2018 import BATCH_TASK_COLUMNS
from k8sim.workloads.traces.jobs import PAI_JOB_COLUMNS, PAI_TASK_COLUMNS
from k8sim.workloads.traces.reports import PathLike

__all__ = [
    "ALIBABA_2018_TASK_SAMPLE",
    "PAI_JOB_SAMPLE",
    "PAI_TASK_SAMPLE",
    "generate_alibaba_2018_task_sample",
    "generate_pai_job_sample",
    "job_sample_path",
    "write_alibaba_2018_task_sample",
    "write_pai_job_sample",
]

ALIBABA_2018_TASK_SAMPLE = "alibaba2018_batch_task_sample.csv"
PAI_JOB_SAMPLE = "pai_job_table_sample.csv"
PAI_TASK_SAMPLE = "pai_task_table_sample.csv"


def job_sample_path(file_name: str) -> Path:
    """Path of a shipped job-trace sample."""
    return Path(str(resources.files("k8sim").joinpath("data", "traces", file_name)))


def _hex(rng: np.random.Generator, n: int, width: int) -> list[str]:
    digits = np.array(list("0123456789abcdef"))
    return ["".join(row) for row in digits[rng.integers(0, 16, size=(n, width))]]


def _time(value: float) -> str:
    """A time cell as the PAI tables write it (``4550879.0``)."""
    return f"{float(value):.1f}"


def generate_pai_job_sample(rng: np.random.Generator, n_jobs: int = 40,
                            n_users: int = 4) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(job table, task table) of ``n_jobs`` invented PAI jobs, as strings.

    Jobs are submitted 90 s apart on average (exponential gaps, from 1,000 s) by
    ``n_users`` users (the first user submits half the jobs). 60 % are one ``worker``
    task of 1, 2 or 4 instances with a whole GPU or more; 25 % one ``tensorflow``
    instance with a shared GPU (25 or 50 %); 15 % a ``ps`` task (one instance, no GPU)
    and a ``worker`` task of 2 or 4 instances with one GPU each. GPU types T4 / V100 /
    P100. Tasks launch 0-60 s after submission and run a log-normal time (median
    about 10 minutes); 10 % fail, 5 % are still running (no end time), 5 % never launched
    (``Waiting``, no start time)."""
    users = _hex(rng, n_users, 12)
    jobs, tasks = [], []
    t = 1000.0
    for name, inst in zip(_hex(rng, n_jobs, 24), _hex(rng, n_jobs, 60), strict=True):
        t += float(rng.exponential(90.0))
        submit = float(np.floor(t))
        user = users[0] if rng.random() < 0.5 else users[int(rng.integers(1, n_users))]
        fate = rng.random()
        status = "Waiting" if fate < 0.05 else "Running" if fate < 0.10 else "Failed" if fate < 0.20 else "Terminated"
        gpu_type = str(rng.choice(["T4", "V100", "P100"], p=[0.4, 0.4, 0.2]))
        kind = rng.random()
        if kind < 0.60:
            roles = [("worker", int(rng.choice([1, 2, 4])), float(rng.choice([100.0, 200.0])))]
        elif kind < 0.85:
            roles = [("tensorflow", 1, float(rng.choice([25.0, 50.0])))]
        else:
            roles = [("ps", 1, 0.0), ("worker", int(rng.choice([2, 4])), 100.0)]
        launch = submit + float(np.floor(rng.uniform(0, 60)))
        run = float(np.ceil(rng.lognormal(np.log(600.0), 0.8)))
        end = launch + run
        for task, n, gpu in roles:
            tasks.append([
                name, task, f"{n:.1f}", status,
                "" if status == "Waiting" else _time(launch),
                "" if status in ("Waiting", "Running") else _time(end),
                f"{100.0 * float(rng.choice([2, 4, 6, 8])):.1f}", f"{float(rng.choice([8, 16, 29.296875, 48])):g}",
                "" if gpu == 0 else f"{gpu:.1f}", gpu_type if gpu > 0 else "",
            ])
        jobs.append([name, inst, user, status, _time(submit), "" if status in ("Waiting", "Running") else _time(end)])
    return (pd.DataFrame(jobs, columns=list(PAI_JOB_COLUMNS)), pd.DataFrame(tasks, columns=list(PAI_TASK_COLUMNS)))


def write_pai_job_sample(directory: PathLike, rng: np.random.Generator, n_jobs: int = 40) -> tuple[Path, Path]:
    """Write :func:`generate_pai_job_sample` as the two sample files (no header)."""
    job, task = generate_pai_job_sample(rng, n_jobs)
    paths = Path(directory) / PAI_JOB_SAMPLE, Path(directory) / PAI_TASK_SAMPLE
    job.to_csv(paths[0], index=False, header=False, lineterminator="\n")
    task.to_csv(paths[1], index=False, header=False, lineterminator="\n")
    return paths


def generate_alibaba_2018_task_sample(rng: np.random.Generator, n_jobs: int = 30) -> pd.DataFrame:
    """``batch_task`` rows of ``n_jobs`` invented jobs, as strings.

    Jobs start 60 s apart on average (exponential gaps, from 86,400 s); each is a chain
    of 1-3 tasks named as the trace names DAG tasks (``M1``, ``R2_1``, ``R3_2``: task k
    waits for task k-1), each starting when the previous ends; 1-8 instances per task,
    ``plan_cpu`` 50-200 (100 = one core), ``plan_mem`` 0.2-1.0 (normalised); log-normal
    run times (median about 5 minutes). 10 % of the jobs never start (status
    ``Waiting``, times 0), in 10 % the last task is still running (``Running``, end 0)."""
    rows = []
    t = 86400.0
    for j in range(n_jobs):
        t += float(rng.exponential(60.0))
        start = float(np.floor(t))
        fate = rng.random()
        n_tasks = int(rng.integers(1, 4))
        task_type = str(int(rng.integers(1, 13)))
        for k in range(1, n_tasks + 1):
            name = "M1" if k == 1 else f"R{k}_{k - 1}"
            run = float(np.ceil(rng.lognormal(np.log(300.0), 0.7)))
            status = "Terminated"
            s, e = start, start + run
            if fate < 0.1:
                status, s, e = "Waiting", 0.0, 0.0
            elif fate < 0.2 and k == n_tasks:
                status, e = "Running", 0.0
            rows.append([name, str(int(rng.integers(1, 9))), f"j_{1000 + j}", task_type, status, str(int(s)),
                         str(int(e)), str(int(rng.choice([50, 100, 150, 200]))), f"{float(rng.choice([0.2, 0.39, 0.59, 1.0])):g}"])
            start += run
    return pd.DataFrame(rows, columns=list(BATCH_TASK_COLUMNS))


def write_alibaba_2018_task_sample(directory: PathLike, rng: np.random.Generator, n_jobs: int = 30) -> Path:
    """Write :func:`generate_alibaba_2018_task_sample` as the sample file (no header)."""
    path = Path(directory) / ALIBABA_2018_TASK_SAMPLE
    generate_alibaba_2018_task_sample(rng, n_jobs).to_csv(path, index=False, header=False, lineterminator="\n")
    return path
