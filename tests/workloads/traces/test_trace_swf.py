"""Standard Workload Format (Parallel Workloads Archive).

No real log is kept here: ``sample.swf`` is hand-written to the SWF 2.2 definition (18
whitespace-separated fields, -1 = unknown, ``;`` comment header).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.swf import read_swf, read_swf_header

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "traces"
SWF = FIXTURES / "sample.swf"


def test_jobs_by_hand():
    pods, report = read_swf(SWF)
    assert report.rows_read == 8
    got = pods.set_index("id")
    assert list(got.index) == ["1", "2", "8"]
    # line 10: job 1 submit 0, wait 10, run 100, 4 requested procs, 2048 KB requested each
    j = got.loc["1"]
    assert (j["arrival_s"], j["duration_s"], j["cpu_milli"]) == (0.0, 100.0, 4000)
    assert j["memory_bytes"] == 4 * 2048 * 1024
    assert (j["owner"], j["qos"]) == ("1", "queue1")
    # line 11: job 2, 8 procs, no memory figures -> 0 bytes; user 2
    j = got.loc["2"]
    assert (j["arrival_s"], j["duration_s"], j["cpu_milli"], j["memory_bytes"], j["owner"]) == (
        30.0,
        50.0,
        8000,
        0,
        "2",
    )
    # line 17: job 8, run time -1 (unknown), requested procs -1 -> 3 allocated, user -1, queue -1
    j = got.loc["8"]
    assert math.isnan(j["duration_s"]) and j["clipped_end"]
    assert (j["cpu_milli"], j["owner"], j["qos"]) == (3000, "", "")
    # line 12: job 3 cancelled (status 5) before running
    assert report.filtered == {"cancelled": 1}
    # line 13 run -7, line 14 no processors, line 15 run "3x", line 16 only 16 fields
    assert report.dropped == {
        "negative_duration": 1,
        "no_processors": 1,
        "bad_number": 1,
        "wrong_field_count": 1,
    }
    assert report.lines("negative_duration") == [13]
    assert report.lines("no_processors") == [14]
    assert report.lines("bad_number") == [15]
    assert report.lines("wrong_field_count") == [16]


def test_processor_size_option():
    pods, _ = read_swf(SWF, cpu_milli_per_processor=500)
    assert pods.set_index("id").loc["2", "cpu_milli"] == 4000


def test_header_comments():
    header = read_swf_header(SWF)
    assert header["Version"] == "2.2"
    assert header["MaxProcs"] == "64" and header["MaxNodes"] == "16"
    assert header["Computer"] == "Invented test cluster"


def test_not_swf(tmp_path):
    path = tmp_path / "x.swf"
    path.write_text("; comment\n1 0 10\n")
    with pytest.raises(TraceError, match="3 fields where 18 were expected") as info:
        read_swf(path)
    assert info.value.line == 2


@pytest.mark.parametrize("window", [None, (10.0, 500.0)])
def test_batches_of_any_size_read_the_same(monkeypatch, window):
    # The log is read in batches of SWF_BATCH_ROWS data rows, the window applied to each;
    # batches of 2 rows must give the frame and report of one batch holding every row.
    import pandas as pd

    from k8sim.workloads.traces import swf
    from k8sim.workloads.traces.schema import TraceOptions

    options = TraceOptions(start_s=window[0], end_s=window[1]) if window else None
    whole, whole_report = read_swf(SWF, options)
    monkeypatch.setattr(swf, "SWF_BATCH_ROWS", 2)
    small, small_report = read_swf(SWF, options)
    pd.testing.assert_frame_equal(small, whole)
    assert small_report == whole_report
