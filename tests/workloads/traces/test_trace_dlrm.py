"""DLRM instances (Alibaba cluster-trace-gpu-v2025).

Real file: ``../shared/traces/alibaba-gpu-v2025-dlrm/disaggregated_DLRM_trace.csv``
(skipped when absent); expected values are read off the CSV text by hand (line numbers
are physical lines, header = line 1) or counted with the ``awk`` one-liners quoted.
``dlrm_small.csv`` is a hand-written fixture; its window expectations are worked out in
the comments.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from k8sim.workloads.traces.alibaba_gpu_2025_dlrm import read_dlrm
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import TraceOptions, validate_pods

HERE = Path(__file__).resolve()
SHARED = HERE.parents[3] / ".." / "shared" / "traces" / "alibaba-gpu-v2025-dlrm"
FIXTURES = HERE.parents[2] / "data" / "traces"
GIB = 1 << 30


def real_file() -> Path:
    path = SHARED / "disaggregated_DLRM_trace.csv"
    if not path.exists():
        pytest.skip("public trace not available: disaggregated_DLRM_trace.csv")
    return path


@pytest.fixture(scope="module")
def real():
    return read_dlrm(real_file())


def test_real_counts(real):
    pods, report = real
    validate_pods(pods)
    assert report.rows_read == report.kept == 23871
    assert report.dropped == {}
    # awk -F, 'NR>1 && $15==""' -> 7280 created before the trace start
    # awk -F, 'NR>1 && $17==""' -> 8878 deleted after the trace end
    assert report.clipped_start == 7280 and report.clipped_end == 8878
    # awk -F, 'NR>1 && $15=="" && $17==""' -> 4677 span the whole trace
    assert int((pods["clipped_start"] & pods["clipped_end"]).sum()) == 4677
    # awk '{s+=$4}' -> 1252594 vCPU; awk '$6>0' -> 7386 instances with one GPU
    assert int(pods["cpu_milli"].sum()) == 1252594 * 1000
    assert int(pods["gpu_count"].sum()) == 7386
    assert set(pods["qos"]) == {"LS"}


def test_real_rows_by_hand(real):
    got = real[0].set_index("id")
    # line 2: instance_0,HN,app_0,12,12,1,1,25,25,120.0,120.0,640.0,800.0,8,,,
    p = got.loc["instance_0"]
    assert (p["cpu_milli"], p["memory_bytes"], p["gpu_count"], p["gpu_milli"]) == (12000, 120 * GIB, 1, 1000)
    assert (p["owner"], p["arrival_s"]) == ("app_0", 0.0)
    assert p["clipped_start"] and p["clipped_end"] and math.isnan(p["duration_s"])
    # line 5000: instance_4998,HN,app_20,8,8,1,1,25,25,40.0,40.0,85.0,100.0,2,,,2044444.0000000002
    p = got.loc["instance_4998"]
    assert p["clipped_start"] and not p["clipped_end"]
    assert p["arrival_s"] == 0.0 and p["duration_s"] == pytest.approx(2044444.0)
    # line 7283: instance_7281,CN,app_88,64,64,0,0,1,1,320.0,320.0,255.0,300.0,-1,610.0,683.0,91730.0
    p = got.loc["instance_7281"]
    assert (p["cpu_milli"], p["memory_bytes"], p["gpu_count"], p["gpu_milli"]) == (64000, 320 * GIB, 0, 0)
    assert (p["arrival_s"], p["duration_s"]) == (610.0, 91730.0 - 683.0)
    # line 9000: instance_8998,CN,app_0,48,48,0,0,25,25,240.0,240.0,680.0,800.0,-1,428409.0,428450.0,
    p = got.loc["instance_8998"]
    assert p["arrival_s"] == 428409.0 and p["clipped_end"] and not p["clipped_start"]


def test_real_window_by_hand():
    # Window [1_000_000, 1_100_000):
    #   awk 'NR>1 && ($15=="" || $15<1100000) && ($17=="" || $17>1000000)'  -> 8133
    #   ... && ($15=="" || $15<1000000)                                      -> 7571
    #   ... && ($17=="" || $17>1100000)                                      -> 7522
    pods, report = read_dlrm(real_file(), TraceOptions(start_s=1_000_000, end_s=1_100_000))
    assert len(pods) == 8133
    assert report.clipped_start == 7571 and report.clipped_end == 7522
    assert report.filtered == {"outside_window": 23871 - 8133}
    assert pods["arrival_s"].between(0, 100_000, inclusive="left").all()


# --------------------------------------------------------------------------- hand-written fixture


def test_small_fixture_without_window():
    pods, report = read_dlrm(FIXTURES / "dlrm_small.csv")
    assert report.rows_read == 9 and report.kept == 6
    # line 8: deletion 650 < creation 700; line 9: gpu_request 1.5; line 10: cpu "twelve"
    assert report.dropped == {"negative_duration": 1, "bad_gpu_request": 1, "bad_number": 1}
    assert report.lines("negative_duration") == [8]
    assert report.lines("bad_gpu_request") == [9]
    assert report.lines("bad_number") == [10]
    got = pods.set_index("id")
    # inst_a: before the trace, deleted at 500 -> arrives at 0, runs 500 s
    assert (got.loc["inst_a", "arrival_s"], got.loc["inst_a", "duration_s"]) == (0.0, 500.0)
    assert got.loc["inst_a", "clipped_start"] and not got.loc["inst_a", "clipped_end"]
    # inst_b: created 100, scheduled 160, deleted 1000 -> runs 840 s
    assert (got.loc["inst_b", "arrival_s"], got.loc["inst_b", "duration_s"]) == (100.0, 840.0)
    # inst_c outlives the trace, inst_d spans it
    assert got.loc["inst_c", "clipped_end"] and not got.loc["inst_c", "clipped_start"]
    assert got.loc["inst_d", "clipped_end"] and got.loc["inst_d", "clipped_start"]
    # inst_f: gpu_request 0.5 -> one shared GPU of 500 milli; 120 GiB
    f = got.loc["inst_f"]
    assert (f["gpu_count"], f["gpu_milli"], f["cpu_milli"], f["memory_bytes"]) == (1, 500, 12000, 120 * GIB)
    assert f["duration_s"] == 498.0  # 900 - 402
    assert report.clipped_start == 2 and report.clipped_end == 2


def test_small_fixture_window_clips_both_edges():
    # Window [450, 1000):
    #  inst_a run [0, 500) -> 50 s left; inst_b run [160, 1000) -> min(840, 1000-450) = 550,
    #  ends exactly at the window end (not after); inst_c, inst_d never end -> NaN;
    #  inst_e arrives at 1200 -> outside; inst_f run [402, 900) -> 450 s left.
    pods, report = read_dlrm(FIXTURES / "dlrm_small.csv", TraceOptions(start_s=450, end_s=1000))
    got = pods.set_index("id")
    assert sorted(got.index) == ["inst_a", "inst_b", "inst_c", "inst_d", "inst_f"]
    assert (got["arrival_s"] == 0.0).all() and got["clipped_start"].all()
    assert got.loc["inst_a", "duration_s"] == 50.0
    assert got.loc["inst_b", "duration_s"] == 550.0
    assert got.loc["inst_f", "duration_s"] == 450.0
    assert set(got.index[got["clipped_end"]]) == {"inst_c", "inst_d"}
    assert report.filtered == {"outside_window": 1}

    # Window [1100, 1250): only inst_c, inst_d (never end) and inst_e (1200..1300, arrives
    # 100 s into the window, ends after it).
    pods, _ = read_dlrm(FIXTURES / "dlrm_small.csv", TraceOptions(start_s=1100, end_s=1250, time_scale=2))
    got = pods.set_index("id")
    assert sorted(got.index) == ["inst_c", "inst_d", "inst_e"]
    assert got.loc["inst_e", "arrival_s"] == 200.0  # (1200 - 1100) * 2
    assert got.loc["inst_e", "clipped_end"] and not got.loc["inst_e", "clipped_start"]


def test_missing_column(tmp_path):
    path = tmp_path / "cut.csv"
    path.write_text("instance_sn,role,app_name\ninstance_0,HN,app_0\n")
    with pytest.raises(
        TraceError, match="expected columns: instance_sn, role, app_name, cpu_request"
    ) as info:
        read_dlrm(path)
    assert "cut.csv" in str(info.value)
