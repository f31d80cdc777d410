"""Job-level views of Alibaba 2018 ``batch_task`` and PAI 2020 job / task tables.

The rows are hand-written to the published column orders (``cluster-trace-v2018``
``schema.md``; ``cluster-trace-gpu-v2020`` ``pai_job_table.header`` /
``pai_task_table.header``, no header row in the files); every expected value is
derived in the comments from the rows and the units those schemas state.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from k8sim.workloads.traces.alibaba_2018 import BATCH_TASK_COLUMNS
from k8sim.workloads.traces.job_samples import (
    ALIBABA_2018_TASK_SAMPLE,
    PAI_JOB_SAMPLE,
    PAI_TASK_SAMPLE,
    job_sample_path,
    write_alibaba_2018_task_sample,
    write_pai_job_sample,
)
from k8sim.workloads.traces.jobs import (
    PAI_JOB_COLUMNS,
    PAI_TASK_COLUMNS,
    JobOptions,
    read_alibaba_2018_jobs,
    read_pai_2020_jobs,
)
from k8sim.workloads.traces.reports import TraceError

GIB = 1 << 30


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ------------------------------------------------------------------ Alibaba 2018

ALI3 = (
    "M1,4,j_1,1,Terminated,100,400,50,0.5\n"      # line 1
    "R2_1,2,j_1,1,Terminated,400,460,100,1.0\n"   # line 2
    "M1,1,j_2,1,Running,200,0,200,2.0\n"          # line 3
)


def test_alibaba_2018_three_tasks_become_three_jobs(tmp_path):
    # Machine memory 100 GiB, so plan_mem reads as GiB. Each task is a job
    # <job_name>/<task_name> of instance_num pods, sorted by arrival (start_time):
    #   j_1/M1   at 100, 400 - 100 = 300 s, 4 pods of 50 x 10 = 500m, 0.5 GiB
    #   j_2/M1   at 200, Running (end 0): unknown run time, 1 pod of 2000m, 2 GiB
    #   j_1/R2_1 at 400, 460 - 400 = 60 s, 2 pods of 1000m, 1 GiB
    t = read_alibaba_2018_jobs(write(tmp_path, "batch_task.csv", ALI3), machine_memory_bytes=100 * GIB)
    jobs = t.jobs
    assert jobs["job"].tolist() == ["j_1/M1", "j_2/M1", "j_1/R2_1"]
    assert jobs["arrival_s"].tolist() == [100.0, 200.0, 400.0]
    assert jobs["duration_s"].iloc[0] == 300.0 and math.isnan(jobs["duration_s"].iloc[1])
    assert jobs["duration_s"].iloc[2] == 60.0
    assert jobs["pods"].tolist() == [4, 1, 2]
    assert jobs["clipped_end"].tolist() == [False, True, False]
    assert jobs["task_type"].tolist() == ["1", "1", "1"] and jobs["status"].tolist()[1] == "Running"
    sets = t.podsets
    assert sets["job"].tolist() == [0, 1, 2]
    assert sets["cpu_milli"].tolist() == [500, 2000, 1000]
    assert sets["memory_bytes"].tolist() == [GIB // 2, 2 * GIB, GIB]
    assert (sets["gpu_count"] == 0).all()
    assert t.reports[0].rows_read == 3 and t.reports[0].kept == 3


def test_alibaba_2018_malformed_rows_are_reported_with_their_lines(tmp_path):
    text = ALI3 + (
        "M1,1.5,j_3,1,Terminated,10,20,100,1\n"    # line 4: 1.5 instances
        "M1,2,j_4,1,Terminated,50,40,100,1\n"      # line 5: ends before it starts
        "M1,2,j_5,1,Terminated,50\n"               # line 6: 6 fields of 9
        "M1,2,j_1,1,Terminated,10,20,100,1\n"      # line 7: j_1/M1 again
        "M1,3,j_6,1,Waiting,0,0,100,1\n"           # line 8: never started
        "M1,0,j_7,1,Terminated,10,20,100,1\n"      # line 9: no instances
        "M1,2,j_8,1,Terminated,10,20,,1\n"         # line 10: no plan_cpu
    )
    t = read_alibaba_2018_jobs(write(tmp_path, "batch_task.csv", text), machine_memory_bytes=100 * GIB)
    r = t.reports[0]
    assert r.dropped == {"bad_number": 1, "negative_duration": 1, "wrong_field_count": 1, "duplicate_task": 1,
                         "missing_value": 1}
    assert r.lines("bad_number") == [4] and r.dropped_at["bad_number"][0].column == "instance_num"
    assert r.lines("negative_duration") == [5] and r.lines("wrong_field_count") == [6]
    assert r.lines("duplicate_task") == [7] and r.lines("missing_value") == [10]
    assert r.dropped_at["missing_value"][0] == ("batch_task.csv", 10, "plan_cpu")
    assert r.filtered == {"never_started": 1, "no_instances": 1}
    assert t.jobs["job"].tolist() == ["j_1/M1", "j_2/M1", "j_1/R2_1"]


def test_alibaba_2018_window_limit_and_scales(tmp_path):
    # Window [150, 500): j_1/M1 (arrives 100) is left out; arrivals count from 150:
    # j_2/M1 at 50, j_1/R2_1 at 250; max_jobs 1 keeps j_2/M1; time_scale 2 -> 100 s;
    # resource_scale 0.5 -> 1000m, 1 GiB.
    t = read_alibaba_2018_jobs(write(tmp_path, "batch_task.csv", ALI3),
                               JobOptions(start_s=150, end_s=500, max_jobs=1, time_scale=2, resource_scale=0.5),
                               machine_memory_bytes=100 * GIB)
    assert t.jobs["job"].tolist() == ["j_2/M1"] and t.jobs["arrival_s"].tolist() == [100.0]
    assert t.podsets["cpu_milli"].tolist() == [1000] and t.podsets["memory_bytes"].tolist() == [GIB]
    assert t.reports[0].filtered == {"outside_window": 1, "over_max_jobs": 1}


def test_max_pods_keeps_whole_jobs(tmp_path):
    # Pods by arrival: 4, 1, 2. max_pods 6: 4 + 1 = 5 <= 6, + 2 = 7 > 6 -> two jobs.
    t = read_alibaba_2018_jobs(write(tmp_path, "batch_task.csv", ALI3), JobOptions(max_pods=6),
                               machine_memory_bytes=100 * GIB)
    assert t.jobs["job"].tolist() == ["j_1/M1", "j_2/M1"]
    assert t.reports[0].filtered == {"over_max_pods": 1}
    with pytest.raises(TraceError, match="max_pods 3 is fewer than the first job's 4 pods"):
        read_alibaba_2018_jobs(write(tmp_path, "batch_task.csv", ALI3), JobOptions(max_pods=3),
                               machine_memory_bytes=100 * GIB)


def test_a_window_without_jobs_and_a_file_of_bad_rows_are_errors(tmp_path):
    path = write(tmp_path, "batch_task.csv", ALI3)
    with pytest.raises(TraceError, match=r"no jobs in the time window \[1000, inf\)"):
        read_alibaba_2018_jobs(path, JobOptions(start_s=1000), machine_memory_bytes=GIB)
    bad = write(tmp_path, "bad.csv", "M1,x,j_1,1,Terminated,1,2,3,4\n")
    with pytest.raises(TraceError, match=r"bad.csv: every row is bad: bad_number x1 \(first at line 1"):
        read_alibaba_2018_jobs(bad, machine_memory_bytes=GIB)


# ------------------------------------------------------------------ PAI 2020

PAI_JOBS = (
    "ja,ia,alice,Terminated,10,500\n"     # line 1
    "jb,ib,bob,Terminated,20,900\n"       # line 2
    "jc,ic,carol,Running,30,\n"           # line 3
)
PAI_TASKS = (
    "ja,ps,1.0,Terminated,50,300,600.0,29.296875,,\n"        # line 1: no GPU
    "ja,worker,2.0,Terminated,60,400,400.0,10,50.0,T4\n"     # line 2: half a T4 each
    "jb,tensorflow,4.0,Terminated,40,840,800.0,16,800.0,V100\n"  # line 3: 8 V100s each
)


def test_pai_tasks_of_a_job_are_one_job_of_all_their_instances(tmp_path):
    # unit job: ja = ps x1 + worker x2 = 3 pods, arriving at its submission 10 (job
    # table), run time the longest task's: max(300 - 50, 400 - 60) = 340 s; user alice.
    # jb = 4 pods at 20, 840 - 40 = 800 s, user bob. jc has no task: no job.
    # ps: 600 % = 6000m, 29.296875 GB read as GiB; worker: 4000m, 10 GiB, 50 % of a
    # GPU = one GPU of 500 milli-GPU, model T4; jb: 800 % = 8 whole GPUs of 1000.
    t = read_pai_2020_jobs(write(tmp_path, "task.csv", PAI_TASKS), job_table=write(tmp_path, "job.csv", PAI_JOBS))
    jobs = t.jobs
    assert jobs["job"].tolist() == ["ja", "jb"]
    assert jobs["arrival_s"].tolist() == [10.0, 20.0]
    assert jobs["duration_s"].tolist() == [340.0, 800.0]
    assert jobs["pods"].tolist() == [3, 4]
    assert jobs["user"].tolist() == ["alice", "bob"]
    sets = t.podsets
    assert sets["job"].tolist() == [0, 0, 1] and sets["task"].tolist() == ["ps", "worker", "tensorflow"]
    assert sets["count"].tolist() == [1, 2, 4]
    assert sets["duration_s"].tolist() == [250.0, 340.0, 800.0]
    assert sets["cpu_milli"].tolist() == [6000, 4000, 8000]
    assert sets["memory_bytes"].tolist() == [round(29.296875 * GIB), 10 * GIB, 16 * GIB]
    assert sets["gpu_count"].tolist() == [0, 1, 8] and sets["gpu_milli"].tolist() == [0, 500, 1000]
    assert sets["gpu_model"].tolist() == ["", "T4", "V100"]
    task_report, job_report = t.reports
    assert task_report.rows_read == 3 and task_report.kept == 2
    assert job_report.rows_read == 3 and job_report.kept == 2


def test_pai_by_task_and_without_the_job_table(tmp_path):
    # unit task, no job table: each task is a job <job>/<task> arriving at its own
    # launch (start_time): jb/tensorflow 40, ja/ps 50, ja/worker 60; no user.
    t = read_pai_2020_jobs(write(tmp_path, "task.csv", PAI_TASKS), unit="task", match_gpu_type=False)
    assert t.jobs["job"].tolist() == ["jb/tensorflow", "ja/ps", "ja/worker"]
    assert t.jobs["arrival_s"].tolist() == [40.0, 50.0, 60.0]
    assert t.jobs["pods"].tolist() == [4, 1, 2]
    assert t.jobs["user"].tolist() == ["", "", ""]
    assert t.podsets["gpu_model"].tolist() == ["", "", ""]  # match_gpu_type off


def test_pai_gpu_shares(tmp_path):
    # plan_gpu 25 -> one GPU of 250m; 100 -> one whole GPU; 150 -> rounded up to 2 whole
    # GPUs (noted); 0 -> none.
    text = "".join(f"j{i},w,1,Terminated,0,10,100,1,{g},T4\n" for i, g in enumerate(["25", "100", "150", "0"]))
    t = read_pai_2020_jobs(write(tmp_path, "task.csv", text))
    assert t.podsets["gpu_count"].tolist() == [1, 1, 2, 0]
    assert t.podsets["gpu_milli"].tolist() == [250, 1000, 1000, 0]
    assert t.podsets["gpu_model"].tolist() == ["T4", "T4", "T4", ""]
    assert len(t.notes) == 1 and "1 task(s)" in t.notes[0]


def test_pai_malformed_rows_are_reported_with_their_lines(tmp_path):
    tasks = PAI_TASKS + (
        "jz,worker,1.0,Terminated,50,60,100,1,100,T4\n"      # line 4: jz not in the job table
        "ja,worker,1.0,Terminated,50,60,100,1,100,T4\n"      # line 5: ja/worker again
        "jb,eval,1.0,Waiting,,,100,1,100,T4\n"               # line 6: never launched
        "jb,eval2,1.0,Terminated,70,60,100,1,100,T4\n"       # line 7: ends before it starts
        "jb,eval3,2.5,Terminated,70,80,100,1,100,T4\n"       # line 8: 2.5 instances
        "jb,eval4,1.0,Terminated,70,80,100,1,-5,T4\n"        # line 9: negative plan_gpu
    )
    jobs = PAI_JOBS + "ja,ia,alice,Terminated,10,500\n" + "jd,id,dave,Terminated,abc,500\n"  # lines 4, 5
    t = read_pai_2020_jobs(write(tmp_path, "task.csv", tasks), job_table=write(tmp_path, "job.csv", jobs))
    task_report, job_report = t.reports
    assert task_report.dropped == {"unknown_job": 1, "duplicate_task": 1, "negative_duration": 1, "bad_number": 1,
                                   "negative_value": 1}
    assert task_report.lines("unknown_job") == [4] and task_report.lines("duplicate_task") == [5]
    assert task_report.lines("negative_duration") == [7] and task_report.lines("bad_number") == [8]
    assert task_report.dropped_at["negative_value"][0] == ("task.csv", 9, "plan_gpu")
    assert task_report.filtered == {"never_started": 1}
    assert job_report.dropped == {"duplicate_job": 1, "bad_number": 1}
    assert job_report.lines("duplicate_job") == [4]
    assert job_report.dropped_at["bad_number"][0] == ("job.csv", 5, "start_time")
    assert t.jobs["job"].tolist() == ["ja", "jb"] and t.jobs["pods"].tolist() == [3, 4]


def test_a_headerless_file_of_another_layout_is_refused(tmp_path):
    with pytest.raises(TraceError, match=r"task.csv, line 1: 9 fields where 10 were expected"):
        read_pai_2020_jobs(write(tmp_path, "task.csv", ALI3))


# ------------------------------------------------------------------ samples


def test_samples_have_the_public_layouts_and_load():
    def fields(name: str) -> set[int]:
        return {len(line.split(",")) for line in job_sample_path(name).read_text().splitlines()}

    assert fields(ALIBABA_2018_TASK_SAMPLE) == {len(BATCH_TASK_COLUMNS)}
    assert fields(PAI_JOB_SAMPLE) == {len(PAI_JOB_COLUMNS)}
    assert fields(PAI_TASK_SAMPLE) == {len(PAI_TASK_COLUMNS)}
    pai = read_pai_2020_jobs(job_sample_path(PAI_TASK_SAMPLE), job_table=job_sample_path(PAI_JOB_SAMPLE))
    assert pai.reports[0].n_dropped == 0 and pai.reports[0].filtered.get("never_started", 0) > 0
    assert (pai.podsets["gpu_count"] > 0).any() and pai.jobs["clipped_end"].any()
    assert len(set(pai.jobs["user"])) == 4
    ali = read_alibaba_2018_jobs(job_sample_path(ALIBABA_2018_TASK_SAMPLE), machine_memory_bytes=GIB)
    assert ali.reports[0].n_dropped == 0 and ali.jobs["clipped_end"].any()


def test_samples_regenerate_from_documented_seeds(tmp_path):
    job, task = write_pai_job_sample(tmp_path, np.random.default_rng(2020), n_jobs=40)
    assert job.read_text() == job_sample_path(PAI_JOB_SAMPLE).read_text()
    assert task.read_text() == job_sample_path(PAI_TASK_SAMPLE).read_text()
    ali = write_alibaba_2018_task_sample(tmp_path, np.random.default_rng(2018), n_jobs=30)
    assert ali.read_text() == job_sample_path(ALIBABA_2018_TASK_SAMPLE).read_text()
