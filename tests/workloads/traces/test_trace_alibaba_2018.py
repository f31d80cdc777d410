"""Alibaba cluster-trace-v2018 batch tasks / instances / machine_meta.

No real data is kept here: the fixtures ``alibaba_2018_*.csv`` are hand-written to the
published ``cluster-trace-v2018/schema.md`` column order (no header). Memory is
normalised, so the tests state the machine size: 100 (normalised) = 100 GiB, making
``plan_mem`` read directly as GiB.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from k8sim.workloads.traces.alibaba_2018 import read_alibaba_2018, read_alibaba_2018_machines
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import TraceOptions

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "traces"
GIB = 1 << 30
MACHINE = 100 * GIB
TASKS = FIXTURES / "alibaba_2018_batch_task.csv"
INSTANCES = FIXTURES / "alibaba_2018_batch_instance.csv"


def test_tasks_only_expand_to_instances():
    # batch_task.csv: line 1 M1 x2 of j_1 (100..160, plan_cpu 100, plan_mem 0.5),
    # line 2 R2_1 x1 (170..200, 50, 0.25), line 3 M1 x3 of j_2 Running (end 0),
    # line 4 end 110 < start 120, line 5 Waiting (never started), line 6 plan_cpu "1a0".
    pods, report = read_alibaba_2018(TASKS, machine_memory_bytes=MACHINE)
    assert report.rows_read == 6
    assert report.kept == len(pods) == 2 + 1 + 3
    assert report.dropped == {"negative_duration": 1, "bad_number": 1}
    assert report.lines("negative_duration") == [4] and report.lines("bad_number") == [6]
    assert report.filtered == {"never_started": 1}
    got = pods.set_index("id")
    assert (got.loc["j_1/M1/0", "arrival_s"], got.loc["j_1/M1/0", "duration_s"]) == (100.0, 60.0)
    assert (got.loc["j_1/M1/1", "cpu_milli"], got.loc["j_1/M1/1", "memory_bytes"]) == (1000, GIB // 2)
    assert (got.loc["j_1/R2_1/0", "cpu_milli"], got.loc["j_1/R2_1/0", "memory_bytes"]) == (500, GIB // 4)
    running = got.loc[["j_2/M1/0", "j_2/M1/1", "j_2/M1/2"]]
    assert running["clipped_end"].all() and running["duration_s"].isna().all()
    assert (running["cpu_milli"] == 2000).all() and (running["memory_bytes"] == 3 * GIB // 2).all()
    assert set(got["owner"]) == {"j_1", "j_2"} and set(got["qos"]) == {"batch"}


def test_instances_join_their_tasks():
    # batch_instance.csv: ins_2 runs twice (seq 1, 2); line 6 belongs to the unknown job
    # j_9; line 7 is Ready (never started); line 8 end "15x"; line 10 belongs to j_5/M1,
    # whose task row (batch_task line 6) is bad.
    pods, report = read_alibaba_2018(TASKS, machine_memory_bytes=MACHINE, batch_instance=INSTANCES)
    assert report.rows_read == 6 + 10
    assert sorted(pods["id"]) == ["ins_1", "ins_2", "ins_2#2", "ins_3", "ins_4", "ins_8"]
    assert report.dropped == {"bad_number": 2, "unknown_task": 2}
    assert [(w.file, w.line) for w in report.dropped_at["bad_number"]] == [
        ("alibaba_2018_batch_task.csv", 6),
        ("alibaba_2018_batch_instance.csv", 8),
    ]
    assert report.lines("unknown_task") == [6, 10]
    assert report.filtered == {"never_started": 1}
    assert any("dropped as bad" in note for note in report.notes)
    got = pods.set_index("id")
    assert (got.loc["ins_1", "arrival_s"], got.loc["ins_1", "duration_s"]) == (101.0, 49.0)
    assert (got.loc["ins_2", "arrival_s"], got.loc["ins_2", "duration_s"]) == (102.0, 18.0)
    assert (got.loc["ins_2#2", "arrival_s"], got.loc["ins_2#2", "duration_s"]) == (125.0, 33.0)
    assert got.loc["ins_3", "cpu_milli"] == 500  # task R2_1: plan_cpu 50
    assert got.loc["ins_4", "clipped_end"] and math.isnan(got.loc["ins_4", "duration_s"])
    # ins_8 (line 9) joins j_3/M1: the task's own bad times do not matter here
    assert (got.loc["ins_8", "arrival_s"], got.loc["ins_8", "duration_s"]) == (121.0, 19.0)


def test_window_on_instances():
    # [120, 160): ins_1 (101..150) 30 s left; ins_2 (102..120) ends at the start -> out;
    # ins_2#2 125..158 in, 33 s; ins_8 121..140; ins_4 152.. still running; ins_3 171 out.
    pods, report = read_alibaba_2018(
        TASKS, TraceOptions(start_s=120, end_s=160), machine_memory_bytes=MACHINE, batch_instance=INSTANCES
    )
    got = pods.set_index("id")
    assert sorted(got.index) == ["ins_1", "ins_2#2", "ins_4", "ins_8"]
    assert got.loc["ins_1", "duration_s"] == 30.0 and got.loc["ins_1", "clipped_start"]
    assert (got.loc["ins_2#2", "arrival_s"], got.loc["ins_2#2", "duration_s"]) == (5.0, 33.0)
    assert got.loc["ins_4", "arrival_s"] == 32.0 and got.loc["ins_4", "clipped_end"]
    assert report.filtered["outside_window"] == 2


def test_machine_meta_latest_row_per_machine():
    # m_1 rows at 0 and 5000 (both 96 cores, 100); m_2 at 0 (100) and 7000 (95);
    # m_3 64 cores, 50; line 6 cpu_num "ninety".
    nodes, report = read_alibaba_2018_machines(
        FIXTURES / "alibaba_2018_machine_meta.csv", machine_memory_bytes=MACHINE
    )
    assert list(nodes["name"]) == ["m_1", "m_2", "m_3"]
    assert list(nodes["cpu_milli"]) == [96000, 96000, 64000]
    assert list(nodes["memory_bytes"]) == [100 * GIB, 95 * GIB, 50 * GIB]
    assert report.lines("bad_number") == [6]
    assert report.filtered == {"older_machine_rows": 2}


def test_wrong_file_and_missing_size():
    with pytest.raises(TraceError, match="14 fields where 9 were expected"):
        read_alibaba_2018(INSTANCES, machine_memory_bytes=MACHINE)
    with pytest.raises(ValueError, match="machine_memory_bytes"):
        read_alibaba_2018(TASKS, machine_memory_bytes=0)
