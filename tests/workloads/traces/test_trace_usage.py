"""Usage tables of traces (k8sim.workloads.traces.usage): reading and joining to pods.

Fixtures: ``tests/data/traces/google_2019_instance_usage*.csv`` (hand-written to the
``InstanceUsage`` message of ``clusterdata_trace_format_v3.proto``; see the README
there) and the Alibaba 2018 ``batch_instance`` fixture (columns ``cpu_avg``,
``cpu_max``, ``mem_avg``, ``mem_max`` of cluster-trace-v2018 ``schema.md``). Expected
values are derived by hand from those rows in the comments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from k8sim.workloads.traces.alibaba_2018 import read_alibaba_2018
from k8sim.workloads.traces.google_2019 import read_google_2019
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.usage import join_usage, read_alibaba_2018_usage, read_google_2019_usage

DATA = Path(__file__).resolve().parents[2] / "data" / "traces"
GIB = 1 << 30
MEM = 64 * GIB  # machine_memory_bytes of the Google fixture (a normalised 1.0)
CPU = 10_000  # machine_cpu_milli


def _google_pods(options: TraceOptions | None = None):
    pods, _ = read_google_2019(DATA / "google_2019_instance_events.csv", options,
                               machine_cpu_milli=CPU, machine_memory_bytes=MEM)
    return pods


def _series(usage, pods, pod_id: str):
    k = int(np.flatnonzero(pods["id"].to_numpy() == pod_id)[0])
    return [list(map(float, a)) for a in usage.series(k)]


def test_alibaba_usage_is_one_value_per_instance_in_request_units() -> None:
    # batch_instance rows (cpu_avg, cpu_max, mem_avg, mem_max):
    #   ins_1: 95, 110, 0.3, 0.4 -> average: 95 * 10 = 950 m, 0.3 / 100 * 100 GiB = 0.3 GiB
    #   ins_2#2 (seq_no 2): 85, 99, 0.31, 0.36 -> maximum: 990 m, 0.36 GiB
    #   ins_6: empty usage (a Ready row): dropped as missing_value, no usage
    mem = 100 * GIB
    rows = read_alibaba_2018_usage(DATA / "alibaba_2018_batch_instance.csv", machine_memory_bytes=mem)
    assert rows.report.dropped == {"missing_value": 1}
    pods, _ = read_alibaba_2018(DATA / "alibaba_2018_batch_task.csv", machine_memory_bytes=mem,
                                batch_instance=DATA / "alibaba_2018_batch_instance.csv")
    usage = join_usage(rows, pods)
    assert _series(usage, pods, "ins_1") == [[0.0], [950.0], [0.3 / 100 * mem]]
    assert not usage.missing.any()  # every pod of the reader has its instance's row
    # ins_5 (task unknown), ins_7 (bad end_time) and ins_9 (bad task) name no pod.
    assert usage.unmatched_rows == 3
    top = join_usage(read_alibaba_2018_usage(DATA / "alibaba_2018_batch_instance.csv", machine_memory_bytes=mem,
                                             statistic="maximum"), pods, TraceOptions(resource_scale=2.0))
    # resource_scale 2 scales usage as it scales requests: 2 x 990 m, 2 x 0.36 GiB.
    assert _series(top, pods, "ins_2#2") == [[0.0], [1980.0], [2 * 0.36 / 100 * mem]]


def test_google_usage_windows_join_their_attempts() -> None:
    # instance_usage rows (trace starts at 600 s; seconds below are from the start):
    #   1001/0: [12, 42) 0.01 cpu / 0.02 mem, [42, 72) 0.015 / 0.03 -> ages 0 and 30
    #   1001/1: [15, 40) 0.005 / 0.01 (attempt 0, submitted at 10)
    #           [55, 355) 0.02 / 0.05 and [355, 655) 0.018 / 0.06 (attempt #1, submitted
    #           at 50, after the eviction at 40) -> ages 0 and 300
    #   2002/0: [0, 60), [60, 100) -> ages 0, 60 (it ran before the trace: clipped_start)
    #   4004/0: no rows (missing); 9999/0: names no pod (unmatched)
    # CPU x 10000 m, memory x 64 GiB.
    pods = _google_pods()
    rows = read_google_2019_usage(DATA / "google_2019_instance_usage.csv", machine_cpu_milli=CPU,
                                  machine_memory_bytes=MEM)
    usage = join_usage(rows, pods)
    assert _series(usage, pods, "1001/0") == [[0.0, 30.0], [100.0, 150.0], [0.02 * MEM, 0.03 * MEM]]
    assert _series(usage, pods, "1001/1") == [[0.0], [50.0], [0.01 * MEM]]
    assert _series(usage, pods, "1001/1#1") == [[0.0, 300.0], [200.0, 180.0], [0.05 * MEM, 0.06 * MEM]]
    assert _series(usage, pods, "2002/0")[0] == [0.0, 60.0]
    assert usage.missing.tolist() == (pods["id"] == "4004/0").tolist()
    assert usage.unmatched_rows == 1
    # The step series: at age 29.9 the first window's value, from 30 on the second.
    k = int(np.flatnonzero(pods["id"].to_numpy() == "1001/0")[0])
    ks = np.array([k, k, k, k])
    assert usage.at(ks, np.array([0.0, 29.9, 30.0, 1e6]), memory=False).tolist() == [100.0, 100.0, 150.0, 150.0]
    assert np.isnan(usage.at(np.array([-1]), np.array([0.0]), memory=True)).all()


def test_google_maximum_with_a_missing_cell_drops_that_window() -> None:
    # 1001/1#1's first window has no maximum_usage.memory: that row is dropped
    # (missing_value, line 5); the second window (0.025 / 0.07) is the first left, age 0.
    pods = _google_pods()
    rows = read_google_2019_usage(DATA / "google_2019_instance_usage.csv", machine_cpu_milli=CPU,
                                  machine_memory_bytes=MEM, statistic="maximum")
    assert rows.report.dropped == {"missing_value": 1}
    assert rows.report.dropped_at["missing_value"][0].line == 5
    usage = join_usage(rows, pods)
    assert _series(usage, pods, "1001/1#1") == [[0.0], [250.0], [0.07 * MEM]]


def test_a_window_cuts_the_usage_series() -> None:
    # Window [30, 400) s, time_scale 2. 1001/0 ran from 12 to 72: clipped at 30, its age
    # 0 is the window start: window [12, 42) from age 0, [42, 72) from (42 - 30) * 2 =
    # 24. 2002/0: [0, 60) from 0, [60, 100) from (60 - 30) * 2 = 60. 1001/1#1 (arrival
    # 50 -> 20 after the window start, scaled 40): [55, 355) at 0, [355, 655) starts
    # before 400: kept at (355 - 55) * 2 = 600.
    opts = TraceOptions(start_s=30, end_s=400, time_scale=2.0)
    pods = _google_pods(opts)
    rows = read_google_2019_usage(DATA / "google_2019_instance_usage.csv", machine_cpu_milli=CPU,
                                  machine_memory_bytes=MEM)
    usage = join_usage(rows, pods, opts)
    assert _series(usage, pods, "1001/0")[:2] == [[0.0, 24.0], [100.0, 150.0]]
    assert _series(usage, pods, "2002/0")[0] == [0.0, 60.0]
    assert _series(usage, pods, "1001/1#1")[0] == [0.0, 600.0]
    # Window [30, 300): the window [355, 655) starts after its end and is left out.
    opts = TraceOptions(start_s=30, end_s=300)
    pods = _google_pods(opts)
    usage = join_usage(rows, pods, opts)
    assert _series(usage, pods, "1001/1#1")[0] == [0.0]


def test_bad_usage_rows_are_errors_naming_file_line_and_column() -> None:
    with pytest.raises(TraceError) as e:
        read_google_2019_usage(DATA / "google_2019_instance_usage_bad.csv", machine_cpu_milli=CPU,
                               machine_memory_bytes=MEM)
    assert (e.value.line, e.value.column) == (3, "average_usage.cpus")
    assert "google_2019_instance_usage_bad.csv" in str(e.value) and "negative" in str(e.value)
    with pytest.raises(TraceError) as e:
        read_google_2019_usage(DATA / "google_2019_instance_usage_nocol.csv", machine_cpu_milli=CPU,
                               machine_memory_bytes=MEM)
    assert "average_usage.memory" in str(e.value)


def test_a_usage_table_naming_no_pod_is_an_error() -> None:
    # Underscore spellings of the nested fields are read too (average_usage_cpus).
    rows = read_google_2019_usage(DATA / "google_2019_instance_usage_nomatch.csv", machine_cpu_milli=CPU,
                                  machine_memory_bytes=MEM)
    assert rows.key.tolist() == ["7777/0"]
    with pytest.raises(TraceError, match="no usage row names a pod"):
        join_usage(rows, _google_pods())


def test_only_the_rows_of_given_pods_are_read() -> None:
    # With only=..., the other rows are neither kept nor checked: the negative cell of
    # the bad fixture (line 3, instance 1001/0) is not looked at for instance 5/5.
    rows = read_google_2019_usage(DATA / "google_2019_instance_usage_bad.csv", machine_cpu_milli=CPU,
                                  machine_memory_bytes=MEM, only={"5/5"})
    assert rows.key.size == 0
    rows = read_alibaba_2018_usage(DATA / "alibaba_2018_batch_instance.csv", machine_memory_bytes=GIB,
                                   only={"ins_2#2", "ins_3"})
    assert sorted(rows.key.tolist()) == ["ins_2#2", "ins_3"]


def test_google_usage_from_a_json_export() -> None:
    # BigQuery's newline-delimited JSON: nested average_usage, quoted times; the two
    # windows of 1001/0 as in the CSV fixture -> ages 0 and 30, 100 m then 150 m.
    pods = _google_pods()
    rows = read_google_2019_usage(DATA / "google_2019_instance_usage.json", machine_cpu_milli=CPU,
                                  machine_memory_bytes=MEM)
    usage = join_usage(rows, pods)
    assert _series(usage, pods, "1001/0") == [[0.0, 30.0], [100.0, 150.0], [0.02 * MEM, 0.03 * MEM]]
