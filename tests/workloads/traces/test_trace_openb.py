"""openb (Alibaba cluster-trace-gpu-v2023) pod and node lists.

Real files: ``../shared/traces/alibaba-gpu-v2023-openb`` (skipped when absent). Expected
values are read off the CSV text by hand (line numbers are physical lines, the header is
line 1) or counted with ``awk`` one-liners quoted in the comments -- never taken from
the reader's output. ``openb_pod_list_broken.csv`` and friends are hand-written fixtures.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from k8sim.workloads.traces import tables
from k8sim.workloads.traces.alibaba_gpu_2023 import read_openb_nodes, read_openb_pods
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import TraceOptions, validate_nodes, validate_pods

HERE = Path(__file__).resolve()
SHARED = HERE.parents[3] / ".." / "shared" / "traces" / "alibaba-gpu-v2023-openb"
FIXTURES = HERE.parents[2] / "data" / "traces"
MIB = 1 << 20


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"public trace not available: {name}")
    return path


@pytest.fixture(scope="module")
def default_pods():
    return read_openb_pods(shared("openb_pod_list_default.csv"))


# --------------------------------------------------------------------------- real pod lists


def test_default_counts(default_pods):
    pods, report = default_pods
    validate_pods(pods)
    # 8152 data rows (README; `wc -l` = 8153 with the header), none bad.
    assert report.rows_read == 8152
    assert report.kept == len(pods) == 8152
    assert report.dropped == {} and report.filtered == {}
    # awk -F, 'NR>1 && $10==12902960' -> 34 pods deleted at the trace end (censored)
    assert report.clipped_end == 34 and int(pods["clipped_end"].sum()) == 34
    assert report.clipped_start == 0
    # awk -F, 'NR>1 && $11==""' -> 897 never-scheduled pods: unknown run time
    assert int(pods["duration_s"].isna().sum()) == 34 + 897
    # awk -F, 'NR>1 && $4>1' -> 75 multi-GPU pods; awk '{s+=$2}' -> 85436012 milli-CPU
    assert int((pods["gpu_count"] > 1).sum()) == 75
    assert int(pods["cpu_milli"].sum()) == 85436012
    assert (pods["gpu_model"] == "").all()  # no gpu_spec in this file
    assert set(pods["qos"]) == {"LS", "BE", "Burstable", "Guaranteed"}


def test_default_rows_by_hand(default_pods):
    pods, _ = default_pods
    got = pods.set_index("id")
    # line 2: openb-pod-0000,12000,16384,1,1000,,LS,Running,0,12537496,0
    p = got.loc["openb-pod-0000"]
    assert (p["cpu_milli"], p["memory_bytes"], p["gpu_count"], p["gpu_milli"]) == (
        12000,
        16384 * MIB,
        1,
        1000,
    )
    assert (p["arrival_s"], p["duration_s"], p["qos"]) == (0.0, 12537496.0, "LS")
    # line 3: openb-pod-0001,6000,12288,1,460,,LS,Running,427061,12902960,427061
    # deleted at the trace end -> still running: clipped_end, NaN duration
    p = got.loc["openb-pod-0001"]
    assert (p["cpu_milli"], p["memory_bytes"], p["gpu_milli"], p["arrival_s"]) == (
        6000,
        12288 * MIB,
        460,
        427061.0,
    )
    assert p["clipped_end"] and math.isnan(p["duration_s"])
    # line 7: openb-pod-0005,20000,65536,0,0,,LS,Running,2759674,12902960,2759676 (CPU only)
    p = got.loc["openb-pod-0005"]
    assert (p["gpu_count"], p["gpu_milli"], p["cpu_milli"]) == (0, 0, 20000)
    # line 8: openb-pod-0006,4000,16384,1,1000,,LS,Running,3019330,11815163,3019331
    # duration = deletion - scheduled = 11815163 - 3019331
    p = got.loc["openb-pod-0006"]
    assert (p["arrival_s"], p["duration_s"]) == (3019330.0, 8795832.0)
    assert not p["clipped_end"]
    # line 63: openb-pod-0061,11908,47104,1,1000,,BE,Pending,10001278,10001403, (never scheduled)
    p = got.loc["openb-pod-0061"]
    assert (p["cpu_milli"], p["memory_bytes"], p["qos"], p["arrival_s"]) == (
        11908,
        47104 * MIB,
        "BE",
        10001278.0,
    )
    assert math.isnan(p["duration_s"]) and not p["clipped_end"]


def test_default_window_by_hand():
    # Window [12_000_000, 12_100_000) s:
    #   awk -F, 'NR>1 && $9<12100000 && $10>12000000'                 -> 347 pods
    #   ... && $9<12000000 (there before the window)                  -> 41
    #   ... && $10>12100000 (still there after it, incl. censored)    -> 44
    pods, report = read_openb_pods(
        shared("openb_pod_list_default.csv"), TraceOptions(start_s=12_000_000, end_s=12_100_000)
    )
    assert len(pods) == 347
    assert report.filtered == {"outside_window": 8152 - 347}
    assert report.clipped_start == 41 and report.clipped_end == 44
    got = pods.set_index("id")
    # line 925: openb-pod-0923,...,10362464,12005972,10362465: 5972 s left at the start
    assert (got.loc["openb-pod-0923", "arrival_s"], got.loc["openb-pod-0923", "duration_s"]) == (0.0, 5972.0)
    # line 5077: openb-pod-5075,...,12000287,12000774,12000320
    assert (got.loc["openb-pod-5075", "arrival_s"], got.loc["openb-pod-5075", "duration_s"]) == (287.0, 454.0)


def test_cpu050_file():
    pods, report = read_openb_pods(shared("openb_pod_list_cpu050.csv"))
    assert report.rows_read == report.kept == 7439
    # awk -F, 'NR>1 && $10==12902960' -> 32
    assert report.clipped_end == 32
    # line 2: openb-pod-0000,8000,30517,0,0,,BE,Running,11811762,11827364,11811762
    p = pods.set_index("id").loc["openb-pod-0000"]
    assert (p["cpu_milli"], p["memory_bytes"], p["gpu_count"], p["gpu_milli"]) == (8000, 30517 * MIB, 0, 0)
    assert (p["arrival_s"], p["duration_s"], p["qos"]) == (11811762.0, 15602.0, "BE")
    # The file is not in creation order; the output is.
    assert pods["arrival_s"].is_monotonic_increasing


def test_sampling_real_file_exact_count():
    opts = TraceOptions(sample_fraction=0.25)
    a, report = read_openb_pods(shared("openb_pod_list_default.csv"), opts, np.random.default_rng(1))
    b, _ = read_openb_pods(shared("openb_pod_list_default.csv"), opts, np.random.default_rng(1))
    assert len(a) == 2038  # round(0.25 * 8152)
    assert report.filtered == {"not_sampled": 8152 - 2038}
    assert a["id"].tolist() == b["id"].tolist()


def test_empty_window_is_an_error():
    # Nothing is left after the trace end once censoring is off (all pods have ended).
    with pytest.raises(TraceError, match="no pods in the time window"):
        read_openb_pods(
            shared("openb_pod_list_default.csv"),
            TraceOptions(start_s=13_000_000, end_s=14_000_000),
            censor_at_trace_end=False,
        )


# --------------------------------------------------------------------------- real node lists


def test_node_lists_by_hand():
    nodes, report = read_openb_nodes(shared("openb_node_list_all_node.csv"))
    validate_nodes(nodes)
    assert report.rows_read == report.kept == len(nodes) == 1523
    # line 2: openb-node-0000,32000,262144,0,   (CPU-only: empty model)
    first = nodes.iloc[0]
    assert (first["name"], first["cpu_milli"], first["memory_bytes"]) == (
        "openb-node-0000",
        32000,
        262144 * MIB,
    )
    assert (first["gpu_count"], first["gpu_model"]) == (0, "")
    # awk -F, 'NR>1 && $4==0' -> 310 CPU-only nodes; awk '{g+=$4}' -> 6212 GPUs
    assert int((nodes["gpu_count"] == 0).sum()) == 310
    assert int(nodes["gpu_count"].sum()) == 6212

    gpu_nodes, report = read_openb_nodes(shared("openb_node_list_gpu_node.csv"))
    assert report.kept == 1213
    # line 2: openb-node-0000,64000,262144,2,P100
    first = gpu_nodes.iloc[0]
    assert (first["cpu_milli"], first["gpu_count"], first["gpu_model"]) == (64000, 2, "P100")


# --------------------------------------------------------------------------- hand-written fixtures


def test_broken_rows_are_dropped_with_their_lines():
    # openb_pod_list_broken.csv (hand-written): line 4 "4x00" cpu, line 5 empty cpu,
    # line 6 deletion 35 < creation 40, line 7 ten fields, line 9 gpu_milli 1500,
    # line 10 cpu -1000, line 11 blank (skipped, not a row).
    pods, report = read_openb_pods(FIXTURES / "openb_pod_list_broken.csv")
    assert report.rows_read == 10
    assert report.kept == 4
    assert report.dropped == {
        "bad_number": 1,
        "missing_value": 1,
        "negative_duration": 1,
        "wrong_field_count": 1,
        "bad_gpu_milli": 1,
        "negative_value": 1,
    }
    assert report.lines("bad_number") == [4]
    assert report.dropped_at["bad_number"][0].column == "cpu_milli"
    assert report.lines("missing_value") == [5]
    assert report.lines("negative_duration") == [6]
    assert report.lines("wrong_field_count") == [7]
    assert report.lines("bad_gpu_milli") == [9]
    assert report.lines("negative_value") == [10]
    got = pods.set_index("id")
    assert list(got.index) == ["bad-pod-0000", "bad-pod-0001", "bad-pod-0006", "bad-pod-0009"]
    # line 2: bad-pod-0000,8000,16384,1,500,,LS,Running,0,100,0
    assert (got.loc["bad-pod-0000", "gpu_milli"], got.loc["bad-pod-0000", "duration_s"]) == (500, 100.0)
    # line 3: bad-pod-0001,...,10,70,12 -> runs 70 - 12 = 58 s
    assert got.loc["bad-pod-0001", "duration_s"] == 58.0
    # line 8: 2 whole GPUs restricted to V100M16|V100M32, never scheduled
    p = got.loc["bad-pod-0006"]
    assert (p["gpu_count"], p["gpu_milli"], p["gpu_model"], p["qos"]) == (
        2,
        1000,
        "V100M16|V100M32",
        "Guaranteed",
    )
    assert math.isnan(p["duration_s"]) and not p["clipped_end"]
    # line 12: deleted at 300, the last deletion of the file -> censored by default
    assert got.loc["bad-pod-0009", "clipped_end"]
    uncensored, _ = read_openb_pods(FIXTURES / "openb_pod_list_broken.csv", censor_at_trace_end=False)
    assert uncensored.set_index("id").loc["bad-pod-0009", "duration_s"] == 205.0  # 300 - 95


def test_missing_column_names_file_and_expected_columns():
    with pytest.raises(TraceError) as info:
        read_openb_pods(FIXTURES / "openb_pod_list_missing_column.csv")
    err = info.value
    assert "openb_pod_list_missing_column.csv" in str(err)
    assert err.line == 1 and err.column == "gpu_milli"
    assert "expected columns: name,cpu_milli".replace(",", ", ") in str(err)


def test_every_row_bad_is_an_error():
    # openb_pod_list_all_bad.csv: line 2 cpu "lots", line 3 deletion 20 < creation 50.
    with pytest.raises(TraceError, match="every row is bad") as info:
        read_openb_pods(FIXTURES / "openb_pod_list_all_bad.csv")
    assert "line 2" in str(info.value) and "openb_pod_list_all_bad.csv" in str(info.value)


# --------------------------------------------------------------------------- whole-file reads into placed columns

SAMPLE = Path(__file__).resolve().parents[3] / "k8sim" / "data" / "traces" / "openb_pod_list_sample.csv"


def _gzipped(src: Path, dst: Path) -> Path:
    with gzip.open(dst, "wb") as fh:
        fh.write(src.read_bytes())
    return dst


@pytest.mark.parametrize("block_size", [256, 4096, 1 << 25])
def test_whole_read_equals_the_batchwise_read_of_a_gzip_copy(tmp_path, monkeypatch, block_size):
    # A whole uncompressed file is read into columns allocated once; a gzip file (whose
    # size bounds nothing) is read batch by batch and put together. The same rows must
    # come out, in one block or in many.
    monkeypatch.setattr(tables, "DEFAULT_BLOCK_SIZE", block_size)
    plain, plain_report = read_openb_pods(SAMPLE)
    gz, gz_report = read_openb_pods(_gzipped(SAMPLE, tmp_path / "pods.csv.gz"))
    pd.testing.assert_frame_equal(plain, gz)
    assert plain_report.rows_read == gz_report.rows_read == 300  # the sample's 300 data rows
    assert plain_report.dropped == gz_report.dropped == {}


def test_whole_read_gives_writeable_columns():
    # The frame's columns are its own: the reader's arrays handed over, not read-only views.
    pods, _ = read_openb_pods(SAMPLE)
    pods.loc[0, "cpu_milli"] = 1
    pods.loc[0, "arrival_s"] = 0.5
    assert pods.loc[0, "cpu_milli"] == 1 and pods.loc[0, "arrival_s"] == 0.5


def test_blank_lines_past_the_reserved_rows(tmp_path, monkeypatch):
    # The columns are reserved for size // 11 + 2 rows (a row has at least 11 bytes: ten
    # commas and a line end). 3000 blank lines (one byte each) after the first 150 rows
    # push the later rows' line numbers past that (file ~ 3000 + 301 * ~55 bytes -> ~1800
    # reserved; rows 151... on lines 3152...): the batches before are placed, those after
    # keep their rows, and the result is the file's without the blank lines.
    monkeypatch.setattr(tables, "DEFAULT_BLOCK_SIZE", 2048)
    lines = SAMPLE.read_text().splitlines(keepends=True)
    blanks = tmp_path / "blanks.csv"
    blanks.write_text("".join(lines[:151]) + "\n" * 3000 + "".join(lines[151:]))
    pods, report = read_openb_pods(blanks)
    expected, expected_report = read_openb_pods(SAMPLE)
    pd.testing.assert_frame_equal(pods, expected)
    assert report.rows_read == expected_report.rows_read == 300


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_memory_past_int64_is_an_error_naming_the_column(tmp_path, monkeypatch, suffix):
    # memory_mib 8796093022208 = 2**43 MiB = 2**63 bytes: one past the int64 range once in
    # bytes. On line 40 of 60, with earlier and later rows in other (small) blocks.
    monkeypatch.setattr(tables, "DEFAULT_BLOCK_SIZE", 512)
    header = ",".join(("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec", "qos", "pod_phase",
                       "creation_time", "deletion_time", "scheduled_time"))
    rows = [f"p{i},1000,{8796093022208 if i == 38 else 1024},0,0,,LS,Running,{i},{i + 100},{i}" for i in range(59)]
    path = tmp_path / f"big{suffix}"
    text = header + "\n" + "\n".join(rows) + "\n"
    if suffix == ".csv":
        path.write_text(text)
    else:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    with pytest.raises(TraceError, match=r"memory_bytes 9\.223e\+18 does not fit in a 64-bit integer") as info:
        read_openb_pods(path)
    assert info.value.column == "memory_bytes"


def test_whole_read_with_scales_equals_the_batchwise_read(tmp_path, monkeypatch):
    # With a resource scale the placed columns stay doubles (build_pods scales, then
    # rounds); with a time scale the times are multiplied. Same frame as the gzip copy's.
    monkeypatch.setattr(tables, "DEFAULT_BLOCK_SIZE", 4096)
    options = TraceOptions(resource_scale=0.37, time_scale=2.5)
    plain, _ = read_openb_pods(SAMPLE, options)
    gz, _ = read_openb_pods(_gzipped(SAMPLE, tmp_path / "pods.csv.gz"), options)
    pd.testing.assert_frame_equal(plain, gz)
    unscaled, _ = read_openb_pods(SAMPLE)
    # e.g. the sample's line 2: cpu 16000 -> rint(16000 * 0.37) = 5920 milli-cores
    assert plain["cpu_milli"].iloc[0] == 5920 and unscaled["cpu_milli"].iloc[0] == 16000
    np.testing.assert_array_equal(plain["arrival_s"].to_numpy(), unscaled["arrival_s"].to_numpy() * 2.5)


def test_quoted_header_reads_like_the_plain_one(tmp_path, monkeypatch):
    # The sample with its header names quoted (valid CSV, as pyarrow.csv.write_csv writes
    # a header): the same pods and report, and no row read by Python's csv module.
    head, _, rest = SAMPLE.read_text().partition("\n")
    quoted = tmp_path / SAMPLE.name  # (same name: the reports name the file)
    quoted.write_text(",".join(f'"{c}"' for c in head.split(",")) + "\n" + rest)
    csv_rows: list[int] = []
    reader = tables._Reader.tables

    def counting(self, *args, **kwargs):
        yield from reader(self, *args, **kwargs)
        csv_rows.append(self.csv_rows)

    monkeypatch.setattr(tables._Reader, "tables", counting)
    plain, plain_report = read_openb_pods(SAMPLE)
    got, got_report = read_openb_pods(quoted)
    pd.testing.assert_frame_equal(plain, got)
    assert dataclasses.replace(plain_report, source=got_report.source) == got_report
    assert got_report.rows_read == 300  # the sample's 300 data rows
    assert csv_rows == [0, 0]
