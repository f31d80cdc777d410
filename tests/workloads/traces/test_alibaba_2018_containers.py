"""Alibaba cluster-trace-v2018's online side: ``container_meta.csv`` as pods
(:func:`read_alibaba_2018_containers`) and ``container_usage.csv`` as their usage
(:func:`read_alibaba_2018_container_usage`, :func:`join_usage`).

Fixtures (hand-written, no header, columns of cluster-trace-v2018 ``schema.md`` 1.3 and
1.4): ``tests/data/traces/alibaba_2018_container_meta.csv``::

    line 1  c_1,m_1,0,app_1,started,400,800,2.5      running at the trace start
    line 2  c_2,m_2,100,app_1,allocated,200,400,1.0  placed, not started
    line 3  c_2,m_2,120,app_1,started,200,400,1.0    c_2 starts at 120
    line 4  c_1,m_1,500,app_1,started,600,800,2.5    c_1 again, other cpu_request
    line 5  c_2,m_2,900,app_1,stopped,200,400,1.0    c_2 stops at 900
    line 6  c_3,m_3,50,app_2,allocated,100,100,0.5   c_3 never starts
    line 7  c_4,...,x,...                            time_stamp not a number
    line 8  c_5,...,started,,100,0.5                 cpu_request empty
    line 9  c_6,...,started,100,100,-1               mem_size negative
    line 10 c_2,m_2,1000,app_1,started,200,400,1.0   c_2 starts again after its stop
    line 11 c_7,m_3,2000,app_3,started,50,100,0.25   c_7 starts at 2000

``alibaba_2018_container_usage.csv`` (container_id, machine_id, time_stamp,
cpu_util_percent, mem_util_percent, then cpi ... disk_io_percent)::

    line 1  c_1 at 10:   50 %, 40 %
    line 2  c_2 at 110:  20 %, 30 %
    line 3  c_1 at 300:  75 %, 60 %
    line 4  c_2 at 420:  40 %, 50 %
    line 5  c_9 at 100:  a container of no pod
    line 6  c_2 at 600:  empty cells (dropped, missing_value)
    line 7  c_7 at 2100: 30 %, 20 %
    line 8  c_2 at 50:   90 %, 90 % (before its start; out of time order)
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from k8sim.workloads.traces.alibaba_2018 import read_alibaba_2018_containers
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.usage import join_usage, read_alibaba_2018_container_usage

DATA = Path(__file__).resolve().parents[2] / "data" / "traces"
META = DATA / "alibaba_2018_container_meta.csv"
USAGE = DATA / "alibaba_2018_container_usage.csv"
GIB = 1 << 30
MEM = 100 * GIB  # machine_memory_bytes: a normalised 100 is 100 GiB, so 1.0 is 1 GiB


def _pod(pods, pod_id: str) -> dict:
    return pods.set_index("id").loc[pod_id].to_dict()


def test_one_pod_per_container_from_its_first_start() -> None:
    pods, report = read_alibaba_2018_containers(META, machine_memory_bytes=MEM)
    assert pods["id"].tolist() == ["c_1", "c_2", "c_7"]
    c1, c2, c7 = (_pod(pods, k) for k in ("c_1", "c_2", "c_7"))
    # c_1: started at 0 (present at the trace start), cpu_request 400 = 4 cores ->
    # 4000 m; mem_size 2.5 of 100 GiB -> 2.5 GiB. No stop: runs to the trace end. Its
    # later started row (line 4, cpu_request 600) does not change it.
    assert (c1["arrival_s"], c1["cpu_milli"], c1["memory_bytes"]) == (0.0, 4000, int(2.5 * GIB))
    assert math.isnan(c1["duration_s"]) and c1["clipped_end"]
    # c_2: allocated at 100, started at 120, stopped at 900 -> runs 780 s; 2000 m, 1 GiB.
    assert (c2["arrival_s"], c2["duration_s"], c2["cpu_milli"], c2["memory_bytes"]) == (120.0, 780.0, 2000, GIB)
    assert not c2["clipped_end"]
    # c_7: 50 -> 500 m, 0.25 GiB; the app_du is the owner, the QoS "online".
    assert (c7["arrival_s"], c7["cpu_milli"], c7["memory_bytes"]) == (2000.0, 500, GIB // 4)
    assert (c1["owner"], c7["owner"], c7["qos"]) == ("app_1", "app_3", "online")
    # Lines 7-9 dropped with their line and column; c_3 (line 6) never started; the
    # other rows of c_1 (line 4) and c_2 (lines 2, 5, 10) are other_records.
    assert report.dropped == {"bad_number": 1, "missing_value": 1, "negative_value": 1}
    assert [(w.file, w.line, w.column) for r in ("bad_number", "missing_value", "negative_value")
            for w in report.dropped_at[r]] == [
        ("alibaba_2018_container_meta.csv", 7, "time_stamp"),
        ("alibaba_2018_container_meta.csv", 8, "cpu_request"),
        ("alibaba_2018_container_meta.csv", 9, "mem_size"),
    ]
    assert report.filtered == {"never_started": 1, "other_records": 4}
    assert report.rows_read == 11 == report.kept + report.n_dropped + report.n_filtered
    assert any("1 containers have later rows with other requests" in n for n in report.notes)
    assert any("1 containers start again after a stop" in n for n in report.notes)


def test_a_window_clips_containers_running_at_its_start() -> None:
    # Window [100, 1500): c_1 (running since 0) arrives at 0, clipped_start; c_2 starts
    # at 120 -> 20 s into the window, runs its 780 s; c_7 (2000) is after the window.
    opts = TraceOptions(start_s=100, end_s=1500)
    pods, report = read_alibaba_2018_containers(META, opts, machine_memory_bytes=MEM)
    assert pods["id"].tolist() == ["c_1", "c_2"]
    assert pods["arrival_s"].tolist() == [0.0, 20.0]
    assert pods["clipped_start"].tolist() == [True, False]
    assert pods["duration_s"].iloc[1] == 780.0
    assert report.filtered["outside_window"] == 1
    # Window [1000, 1500): c_2 stopped at 900, c_7 starts at 2000: only c_1.
    pods, _ = read_alibaba_2018_containers(META, TraceOptions(start_s=1000, end_s=1500), machine_memory_bytes=MEM)
    assert pods["id"].tolist() == ["c_1"]


def test_a_meta_file_with_no_started_container_is_an_error(tmp_path: Path) -> None:
    f = tmp_path / "container_meta.csv"
    f.write_text("c_1,m_1,0,app_1,allocated,100,100,1\n")
    with pytest.raises(TraceError, match="no rows left"):
        read_alibaba_2018_containers(f, machine_memory_bytes=MEM)
    f.write_text("c_1,m_1,0,app_1,started,100,100\n")  # 7 fields: not this format
    with pytest.raises(TraceError, match="container_meta.csv"):
        read_alibaba_2018_containers(f, machine_memory_bytes=MEM)


def _series(usage, pods, pod_id: str):
    k = int(np.flatnonzero(pods["id"].to_numpy() == pod_id)[0])
    return [list(map(float, a)) for a in usage.series(k)]


def test_container_usage_is_a_share_of_the_requests_over_the_container_age() -> None:
    # cpu_util_percent is a percent of the container's CPU request (clusterdata#62),
    # mem_util_percent taken as a percent of its mem_size.
    pods, _ = read_alibaba_2018_containers(META, machine_memory_bytes=MEM)
    rows = read_alibaba_2018_container_usage(USAGE)
    assert rows.report.dropped == {"missing_value": 1}  # line 6
    assert rows.report.dropped_at["missing_value"][0].line == 6
    usage = join_usage(rows, pods)
    # c_1 (start 0; 4000 m, 2.5 GiB): its first sample (at 10) holds from age 0:
    # 50 % -> 2000 m, 40 % -> 1 GiB; from 300: 3000 m, 1.5 GiB.
    assert _series(usage, pods, "c_1") == [[0.0, 300.0], [2000.0, 3000.0], [1.0 * GIB, 1.5 * GIB]]
    # c_2 (start 120; 2000 m, 1 GiB): of the samples before its start (50: 90 %, 110:
    # 20 %) the last holds at age 0: 400 m, 0.3 GiB; from 420 (age 300) 800 m, 0.5 GiB.
    assert _series(usage, pods, "c_2") == [[0.0, 300.0], [400.0, 800.0], [0.3 * GIB, 0.5 * GIB]]
    # c_7 (500 m, 0.25 GiB): 30 % -> 150 m, 20 % -> 0.05 GiB.
    assert _series(usage, pods, "c_7") == [[0.0], [150.0], [0.05 * GIB]]
    assert usage.unmatched_rows == 1  # c_9
    assert not usage.missing.any()
    # The step series: c_1 at ages 0, 299.9, 300, 1e6.
    k = np.zeros(4, dtype=np.int64)
    assert usage.at(k, np.array([0.0, 299.9, 300.0, 1e6]), memory=False).tolist() == [2000.0, 2000.0, 3000.0, 3000.0]


def test_container_usage_scales_with_the_pods_requests_and_a_window() -> None:
    # resource_scale 2: requests 8000 m / 5 GiB for c_1, so its usage doubles too
    # (a share of the scaled request). Window [100, 1500) with time_scale 2: c_1 is
    # clipped at 100 (age 0 there); its sample at 10 is before: it holds at age 0; the
    # one at 300 comes (300 - 100) x 2 = 400 s later. c_2 (arrival 20 x 2 = 40 in the
    # window, trace start 120): its sample at 420 is at age (420 - 120) x 2 = 600.
    opts = TraceOptions(start_s=100, end_s=1500, time_scale=2.0, resource_scale=2.0)
    pods, _ = read_alibaba_2018_containers(META, opts, machine_memory_bytes=MEM)
    usage = join_usage(read_alibaba_2018_container_usage(USAGE), pods, opts)
    assert _series(usage, pods, "c_1") == [[0.0, 400.0], [4000.0, 6000.0], [2.0 * GIB, 3.0 * GIB]]
    assert _series(usage, pods, "c_2")[:2] == [[0.0, 600.0], [800.0, 1600.0]]
    # Window [100, 400): c_2's sample at 420 is at or after the window's end: left out.
    opts = TraceOptions(start_s=100, end_s=400)
    pods, _ = read_alibaba_2018_containers(META, opts, machine_memory_bytes=MEM)
    usage = join_usage(read_alibaba_2018_container_usage(USAGE), pods, opts)
    assert _series(usage, pods, "c_2")[:2] == [[0.0], [400.0]]
    # The reader can leave those rows out itself (until = the window's end): the rows
    # at 420 and 2100 are not kept, the same series result.
    rows = read_alibaba_2018_container_usage(USAGE, until=400)
    assert sorted(rows.start.tolist()) == [10.0, 50.0, 100.0, 110.0, 300.0]
    assert _series(join_usage(rows, pods, opts), pods, "c_2")[:2] == [[0.0], [400.0]]


def test_bad_container_usage_cells_name_file_line_and_column() -> None:
    with pytest.raises(TraceError) as e:
        read_alibaba_2018_container_usage(DATA / "alibaba_2018_container_usage_bad.csv")
    assert (e.value.line, e.value.column) == (2, "mem_util_percent")
    assert "alibaba_2018_container_usage_bad.csv" in str(e.value) and "negative" in str(e.value)
    # Only the rows of the given containers are read (and checked).
    rows = read_alibaba_2018_container_usage(DATA / "alibaba_2018_container_usage_bad.csv", only={"c_1"})
    assert rows.key.tolist() == ["c_1"]
    # A usage table naming no container of the pods.
    pods, _ = read_alibaba_2018_containers(META, machine_memory_bytes=MEM)
    with pytest.raises(TraceError, match="no usage row names a pod"):
        join_usage(read_alibaba_2018_container_usage(USAGE, only={"c_9"}), pods)
