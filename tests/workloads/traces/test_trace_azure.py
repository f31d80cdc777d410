"""Azure Public Dataset ``vmtable``.

No real data is kept here: ``azure_vmtable.csv`` is hand-written to the published V2
column order (no header): vmid, subscriptionid, deploymentid, vmcreated, vmdeleted,
maxcpu, avgcpu, p95maxcpu, vmcategory, vmcorecountbucket, vmmemorybucket.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from k8sim.workloads.traces.azure_vm import read_azure_vmtable
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import TraceOptions

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "traces"
VMTABLE = FIXTURES / "azure_vmtable.csv"
GIB = 1 << 30


def test_vmtable_by_hand():
    pods, report = read_azure_vmtable(VMTABLE, trace_end_s=2_592_000)
    assert report.rows_read == 7 and report.kept == 4
    # line 4: deleted 600 < created 900; line 5: core bucket "two"; line 6: no vmdeleted
    assert report.dropped == {"negative_duration": 1, "bad_number": 1, "missing_value": 1}
    assert report.lines("negative_duration") == [4]
    assert (
        report.lines("bad_number") == [5] and report.dropped_at["bad_number"][0].column == "vmcorecountbucket"
    )
    assert report.lines("missing_value") == [6]
    got = pods.set_index("id")
    # line 1: vm_a lives 0 .. 2592000 (the trace end) -> still running
    assert got.loc["vm_a", "clipped_end"] and math.isnan(got.loc["vm_a", "duration_s"])
    assert (got.loc["vm_a", "cpu_milli"], got.loc["vm_a", "memory_bytes"], got.loc["vm_a", "qos"]) == (
        2000,
        4 * GIB,
        "Interactive",
    )
    # line 2: vm_b 300 .. 3900, 4 cores, 8 GB, Delay-insensitive, deployment dep_1
    b = got.loc["vm_b"]
    assert (b["arrival_s"], b["duration_s"], b["cpu_milli"], b["memory_bytes"]) == (
        300.0,
        3600.0,
        4000,
        8 * GIB,
    )
    assert (b["qos"], b["owner"]) == ("Delay-insensitive", "dep_1")
    # line 3: open buckets >24 and >64 -> 32 cores, 128 GB by default
    assert (got.loc["vm_c", "cpu_milli"], got.loc["vm_c", "memory_bytes"]) == (32000, 128 * GIB)
    # line 7: 24 cores, 64 GB, 1800 .. 4800
    assert (got.loc["vm_g", "cpu_milli"], got.loc["vm_g", "duration_s"]) == (24000, 3000.0)


def test_without_trace_end_and_custom_buckets():
    pods, _ = read_azure_vmtable(VMTABLE, cores_above_top_bucket=48, memory_gb_above_top_bucket=256)
    got = pods.set_index("id")
    assert got.loc["vm_a", "duration_s"] == 2_592_000.0 and not got.loc["vm_a", "clipped_end"]
    assert (got.loc["vm_c", "cpu_milli"], got.loc["vm_c", "memory_bytes"]) == (48000, 256 * GIB)


def test_window():
    # [600, 1800): vm_a runs through; vm_b (300..3900) was there and runs past;
    # vm_c 600..1200 lies inside; vm_g arrives at 1800 -> outside.
    pods, report = read_azure_vmtable(VMTABLE, TraceOptions(start_s=600, end_s=1800))
    got = pods.set_index("id")
    assert sorted(got.index) == ["vm_a", "vm_b", "vm_c"]
    assert got.loc["vm_b", "clipped_start"] and got.loc["vm_b", "clipped_end"]
    assert not got.loc["vm_c", "clipped_start"]
    assert (got.loc["vm_c", "arrival_s"], got.loc["vm_c", "duration_s"]) == (0.0, 600.0)
    assert report.filtered == {"outside_window": 1}


def test_empty_window_is_an_error():
    with pytest.raises(TraceError, match="no pods in the time window") as info:
        read_azure_vmtable(VMTABLE, TraceOptions(start_s=3_000_000, end_s=4_000_000))
    assert "azure_vmtable.csv" in str(info.value)


def test_header_row_is_skipped(tmp_path):
    path = tmp_path / "vmtable.csv"
    path.write_text(
        "vmid,subscriptionid,deploymentid,vmcreated,vmdeleted,maxcpu,avgcpu,p95maxcpu,"
        "vmcategory,vmcorecountbucket,vmmemorybucket\n"
        "v1,s,d,0,300,1,1,1,Unknown,2,4\n"
    )
    pods, report = read_azure_vmtable(path)
    assert list(pods["id"]) == ["v1"] and report.rows_read == 1
