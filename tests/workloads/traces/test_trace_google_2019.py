"""Google cluster-usage traces v3 (2019): instance / collection / machine event exports.

No real data is kept here: the ``google_2019_*`` fixtures are hand-written to the
published ``clusterdata_trace_format_v3.proto`` fields (CSV exports with flattened
``resource_request.cpus`` / ``resource_request_cpus`` columns, and BigQuery-style
newline-delimited JSON with quoted 64-bit integers). Times are microseconds with the
trace start at 600 s, so 610000000 is 10 s into the trace. The stated machine shape:
normalised 1.0 CPU = 100 cores, 1.0 memory = 100 GiB.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from k8sim.workloads.traces import google_2019 as g2019
from k8sim.workloads.traces import google_events
from k8sim.workloads.traces.google_2019 import read_google_2019, read_google_2019_machines
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import TraceOptions

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "traces"
GIB = 1 << 30
SHAPE = {"machine_cpu_milli": 100_000, "machine_memory_bytes": 100 * GIB}


def test_instance_events_csv():
    pods, report = read_google_2019(FIXTURES / "google_2019_instance_events.csv", **SHAPE)
    assert report.rows_read == 23
    assert sorted(pods["id"]) == ["1001/0", "1001/1", "1001/1#1", "2002/0", "4004/0"]
    got = pods.set_index("id")
    # 1001/0: SUBMIT 10 s, SCHEDULE 12 s, FINISH 72 s; cpus 0.02, memory 0.04; priority 200, class 2
    p = got.loc["1001/0"]
    assert (p["arrival_s"], p["duration_s"]) == (10.0, 60.0)
    assert (p["cpu_milli"], p["memory_bytes"], p["priority"], p["qos"], p["owner"]) == (
        2000,
        4 * GIB,
        200,
        "sc2",
        "1001",
    )
    # 1001/1: scheduled 15 s, EVICTed 40 s; resubmitted 50 s, scheduled 55 s, never ends
    assert (got.loc["1001/1", "arrival_s"], got.loc["1001/1", "duration_s"]) == (10.0, 25.0)
    assert got.loc["1001/1#1", "arrival_s"] == 50.0 and got.loc["1001/1#1", "clipped_end"]
    # 2002/0: SUBMIT and SCHEDULE at time 0 (before the trace), KILL at 100 s
    p = got.loc["2002/0"]
    assert p["clipped_start"] and (p["arrival_s"], p["duration_s"]) == (0.0, 100.0)
    assert (p["cpu_milli"], p["memory_bytes"]) == (1000, GIB)
    # 4004/0: SUBMIT without request, UPDATE_PENDING sets 0.04 / 0.08, FINISH at 2**63-1
    p = got.loc["4004/0"]
    assert (p["cpu_milli"], p["memory_bytes"], p["priority"], p["qos"]) == (4000, 8 * GIB, 360, "sc3")
    assert p["clipped_end"] and math.isnan(p["duration_s"])
    # line 16 time "6x0000000", line 17 type 99, line 22 5005/0 never had a request
    assert report.dropped == {"bad_number": 1, "bad_event_type": 1, "missing_request": 1}
    assert report.lines("bad_number") == [16] and report.dropped_at["bad_number"][0].column == "time"
    assert report.lines("bad_event_type") == [17]
    assert report.lines("missing_request") == [22]
    # line 15: the alloc set 3003; 2002/1 was killed before being scheduled
    assert report.filtered == {"alloc_instance": 1, "never_scheduled": 1}
    assert report.clipped_start == 1 and report.clipped_end == 2


def test_alloc_instances_on_request():
    pods, report = read_google_2019(
        FIXTURES / "google_2019_instance_events.csv", include_alloc_instances=True, **SHAPE
    )
    p = pods.set_index("id").loc["3003/0"]  # submitted at 10 s, never scheduled: pending at the end
    assert (p["cpu_milli"], p["memory_bytes"], p["priority"]) == (50_000, 50 * GIB, 100)
    assert p["clipped_end"]
    assert "alloc_instance" not in report.filtered


def test_instance_events_json():
    # The JSON fixture: line 4 has only a SCHEDULE at time 0 for 2002/0 (no SUBMIT seen),
    # line 5 is not JSON, line 6 KILLs 2002/0 at 100 s.
    pods, report = read_google_2019(FIXTURES / "google_2019_instance_events.json", **SHAPE)
    assert report.rows_read == 6
    assert report.dropped == {"bad_json": 1} and report.lines("bad_json") == [5]
    got = pods.set_index("id")
    assert sorted(got.index) == ["1001/0", "2002/0"]
    assert (got.loc["1001/0", "arrival_s"], got.loc["1001/0", "duration_s"]) == (10.0, 60.0)
    assert got.loc["1001/0", "memory_bytes"] == 4 * GIB
    assert got.loc["2002/0", "clipped_start"] and got.loc["2002/0", "duration_s"] == 100.0


def test_collection_events_fill_missing_fields():
    # The minimal export has no priority / class / type columns and uses the
    # resource_request_cpus spelling, and event names instead of numbers.
    alone, _ = read_google_2019(FIXTURES / "google_2019_instance_events_min.csv", **SHAPE)
    assert sorted(alone["id"]) == ["1001/0", "3003/0"]
    assert set(alone["qos"]) == {""} and set(alone["priority"]) == {0}
    pods, report = read_google_2019(
        FIXTURES / "google_2019_instance_events_min.csv",
        collection_events=FIXTURES / "google_2019_collection_events.csv",
        **SHAPE,
    )
    assert list(pods["id"]) == ["1001/0"]  # 3003 is an alloc set per the collection events
    assert (pods.loc[0, "priority"], pods.loc[0, "qos"]) == (200, "sc2")
    assert report.filtered == {"alloc_instance": 1}


def test_window_and_scale():
    # [20, 60): 1001/0 (run 12..72) 40 s left -> clipped at both ends? It ends at 72 > 60,
    # so its duration is unknown inside the window; 1001/1 (run 15..40) 20 s left;
    # 1001/1#1 arrives at 50; 2002/0 (run ..100) runs past; 4004/0 arrives at 100 -> out.
    pods, report = read_google_2019(
        FIXTURES / "google_2019_instance_events.csv",
        TraceOptions(start_s=20, end_s=60, time_scale=10),
        **SHAPE,
    )
    got = pods.set_index("id")
    assert sorted(got.index) == ["1001/0", "1001/1", "1001/1#1", "2002/0"]
    assert got.loc["1001/1", "duration_s"] == 200.0  # 20 s * 10
    assert got.loc["1001/1#1", "arrival_s"] == 300.0  # (50 - 20) * 10
    assert got.loc["1001/0", "clipped_end"] and got.loc["2002/0", "clipped_end"]
    assert report.filtered["outside_window"] == 1


def test_machine_events():
    # machine 101: ADD 0.5/0.25 then UPDATE 0.75/0.5; 102: ADD 1/1 then REMOVE;
    # 103 (line 6) never has a capacity; line 7 memory "abc".
    nodes, report = read_google_2019_machines(FIXTURES / "google_2019_machine_events.csv", **SHAPE)
    assert list(nodes["name"]) == ["101", "102"]
    assert list(nodes["cpu_milli"]) == [75_000, 100_000]
    assert list(nodes["memory_bytes"]) == [50 * GIB, 100 * GIB]
    assert report.lines("missing_capacity") == [6]
    assert report.lines("bad_number") == [7]


def test_missing_columns(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("time,type,collection_id\n0,0,1\n")
    with pytest.raises(TraceError, match="missing column\\(s\\) instance_index") as info:
        read_google_2019(path, **SHAPE)
    assert "events.csv" in str(info.value)
    with pytest.raises(ValueError, match="machine_cpu_milli"):
        read_google_2019(path, machine_cpu_milli=0, machine_memory_bytes=1)


def _whole_file_read(monkeypatch, *args, **kwargs):
    """The reader with the two-pass window read turned off: all events rebuilt, then
    the window applied to the pods (the path pinned against the earlier readers)."""
    with monkeypatch.context() as m:
        m.setattr(g2019, "_read_window", lambda *a, **k: None)
        return read_google_2019(*args, **kwargs)


def _same(a, b):
    (pods_a, rep_a), (pods_b, rep_b) = a, b
    pd.testing.assert_frame_equal(pods_a, pods_b)
    assert rep_a == rep_b


@pytest.fixture(scope="module")
def synthetic_log(tmp_path_factory):
    path = tmp_path_factory.mktemp("g") / "events.csv"
    g2019.generate_google_2019_instance_events(np.random.default_rng(4), 4000).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("window", [(0, 30), (100, 101), (50, 120), (150, None), (None, 5), (500, 600)])
def test_window_read_equals_the_whole_file_read(synthetic_log, monkeypatch, window):
    # 4000 instances arrive over about 200 s; windows at the start, in the middle (one
    # second), past the end; counts and first places of the report included.
    options = TraceOptions(start_s=window[0], end_s=window[1])
    try:
        expected = _whole_file_read(monkeypatch, synthetic_log, options, **SHAPE)
    except TraceError as e:
        with pytest.raises(TraceError, match=re.escape(e.message)):
            read_google_2019(synthetic_log, options, **SHAPE)
        return
    _same(read_google_2019(synthetic_log, options, **SHAPE), expected)


def test_window_read_with_rows_shuffled_across_part_files(synthetic_log, tmp_path, monkeypatch):
    # Instances' events out of time order and split over two files: each instance is
    # still rebuilt from all its events; sampled by owner after the window.
    frame = pd.read_csv(synthetic_log, dtype=str, keep_default_na=False)
    frame = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    parts = [tmp_path / "part0.csv", tmp_path / "part1.csv"]
    frame.iloc[: len(frame) // 2].to_csv(parts[0], index=False)
    frame.iloc[len(frame) // 2:].to_csv(parts[1], index=False)
    options = TraceOptions(start_s=60, end_s=90, sample_fraction=0.5, sample_by="owner")
    expected = _whole_file_read(monkeypatch, parts, options, np.random.default_rng(1), **SHAPE)
    _same(read_google_2019(parts, options, np.random.default_rng(1), **SHAPE), expected)


def test_window_read_keeps_the_events_of_instances_in_the_window_only(synthetic_log, monkeypatch):
    # The window read rebuilds only instances with a pod in the window: every instance
    # handed to the rebuild has one (its id, less any "#n" suffix, among the pods').
    seen: list[set[str]] = []  # the instances of each rebuild
    rebuild = g2019.lifecycles

    def spy(events, report):
        seen.append(set(events.keys().to_pylist()) if len(events.time) else set())
        return rebuild(events, report)

    monkeypatch.setattr(g2019, "lifecycles", spy)
    pods, report = read_google_2019(synthetic_log, TraceOptions(start_s=100, end_s=110), **SHAPE)
    assert len(seen) == 1
    assert seen[0] == {i.split("#")[0] for i in pods["id"]}
    every, _ = read_google_2019(synthetic_log, **SHAPE)
    assert len(seen[0]) < 0.6 * len({i.split("#")[0] for i in every["id"]})


def test_window_read_with_indices_past_32_bits(tmp_path, monkeypatch):
    # An instance_index of 2**32: the window read groups it as the whole-file read does.
    path = tmp_path / "big.csv"
    text = (FIXTURES / "google_2019_instance_events.csv").read_text().splitlines()
    header = text[0].split(",")
    col = header.index("instance_index")
    rows = [line.split(",") for line in text[1:]]
    for r in rows:
        if len(r) == len(header) and r[col] == "1":
            r[col] = str(2**32)
    path.write_text("\n".join([text[0], *(",".join(r) for r in rows)]) + "\n")
    options = TraceOptions(start_s=20, end_s=150)
    got = read_google_2019(path, options, **SHAPE)
    assert any(i.startswith(f"1001/{2**32}") for i in got[0]["id"])
    _same(got, _whole_file_read(monkeypatch, path, options, **SHAPE))


@pytest.mark.parametrize(("window", "bucket_kib"), [((0, 30), 16), ((100, 101), 16), ((50, 120), 16),
                                                  ((None, 5), 16), ((50, 120), 128)])
def test_window_read_over_buckets_on_disk_equals_the_whole_file_read(synthetic_log, tmp_path, monkeypatch, window,
                                                                     bucket_kib):
    # One bucket per 16 (128) KiB of input: the events of the ~600 KiB log go to
    # dozens (a few) of files on disk, read back one at a time; the pods and the report
    # (counts, and the first places of missing_request merged over the buckets, several
    # per bucket with 128 KiB) are the whole-file read's.
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    monkeypatch.setattr(google_events, "BUCKET_INPUT_BYTES", bucket_kib << 10)
    sizes: list[int] = []
    buckets = google_events.InstanceBuckets._buckets

    def spy(self):
        for table in buckets(self):
            sizes.append(table.num_rows)
            assert any(spill.iterdir())  # the buckets are files there
            yield table

    monkeypatch.setattr(google_events.InstanceBuckets, "_buckets", spy)
    options = TraceOptions(start_s=window[0], end_s=window[1])
    expected = _whole_file_read(monkeypatch, synthetic_log, options, **SHAPE)
    got = read_google_2019(synthetic_log, options, **SHAPE)
    _same(got, expected)
    assert got[1].dropped["missing_request"] > 5  # places merged from several buckets
    n = google_events.buckets_for([synthetic_log])
    assert len(sizes) == n > 3 and max(sizes) < 3 * sum(sizes) / n  # no bucket holds much more than its share
    assert not any(spill.iterdir())  # removed once read


def test_window_read_over_buckets_with_rows_shuffled_across_part_files(synthetic_log, tmp_path, monkeypatch):
    frame = pd.read_csv(synthetic_log, dtype=str, keep_default_na=False)
    frame = frame.sample(frac=1.0, random_state=5).reset_index(drop=True)
    parts = [tmp_path / "part0.csv", tmp_path / "part1.csv.gz"]
    frame.iloc[: len(frame) // 3].to_csv(parts[0], index=False)
    frame.iloc[len(frame) // 3:].to_csv(parts[1], index=False)
    monkeypatch.setattr(google_events, "BUCKET_INPUT_BYTES", 32 << 10)
    assert google_events.buckets_for(parts) > 10
    options = TraceOptions(start_s=40, end_s=70)
    _same(read_google_2019(parts, options, **SHAPE), _whole_file_read(monkeypatch, parts, options, **SHAPE))


def test_qos_labels_small_and_other_classes() -> None:
    # sc<class> per event, "" where the class is unknown (NaN); classes are truncated to
    # integers. Small non-negative classes take the table path, others (negative, or
    # past the table's 1024) the sorted one: the same labels either way.
    from k8sim.workloads.traces.google_events import qos_labels

    small = qos_labels(np.array([3.0, np.nan, 0.0, 3.0, 1.0, 2.7]))
    assert small.to_pylist() == ["sc3", "", "sc0", "sc3", "sc1", "sc2"]
    other = qos_labels(np.array([5000.0, -1.0, np.nan, 3.0, 5000.0]))
    assert other.to_pylist() == ["sc5000", "sc-1", "", "sc3", "sc5000"]
    assert qos_labels(np.array([np.nan, np.nan])).to_pylist() == ["", ""]
    assert qos_labels(np.zeros(0)).to_pylist() == []


def _events(owners: list[str], indices: list[float], times: list[float], roles: list[int], *,
            text_keys: bool) -> google_events.Events:
    """Events of one attempt shape each (requests on every event); keys as owner and index
    numbers, or (``text_keys``) as their text only."""
    import pyarrow as pa

    n = len(owners)
    index = np.asarray(indices, dtype=float)
    keys = [f"{o}/{int(i)}" for o, i in zip(owners, indices, strict=True)]
    return google_events.Events(
        key=pa.array(keys) if text_keys else None, owner=pa.array(owners), time=np.asarray(times, dtype=float),
        role=np.asarray(roles), cpu=np.full(n, 0.1), memory=np.full(n, 0.2), priority=np.full(n, np.nan),
        qos=pa.array([""] * n), file=pa.array(["f.csv"] * n), line=np.arange(2, n + 2),
        index=None if text_keys else index)


_S, _R, _E = google_events.SUBMIT, google_events.SCHEDULE, google_events.END


def _ids(events: google_events.Events) -> list[str]:
    from k8sim.workloads.traces.reports import TraceReport

    return list(google_events.lifecycles(events, TraceReport(source="f.csv"))["id"])


def test_instances_by_owner_and_index_come_in_key_text_order() -> None:
    # Pods come in the byte order of their key text "<owner>/<index>". By hand: "-" (0x2d)
    # and "." (0x2e) sort before "/" (0x2f), so "ab-c/0" < "ab.d/0" < "ab/10" < "ab/2"
    # ("1" < "2": indices as text), then "x/2". Each instance: submit, schedule, end.
    owners, indices = ["x", "ab", "ab.d", "ab", "ab-c"], [2, 2, 0, 10, 0]
    shape = dict(owners=[o for o in owners for _ in range(3)], indices=[i for i in indices for _ in range(3)],
                 times=[t for k in range(5) for t in (k, k + 1, k + 5)], roles=[_S, _R, _E] * 5)
    expected = ["ab-c/0", "ab.d/0", "ab/10", "ab/2", "x/2"]
    assert _ids(_events(**shape, text_keys=False)) == expected
    assert _ids(_events(**shape, text_keys=True)) == expected


@pytest.mark.parametrize("owners,indices,expected", [
    # An owner holding "/": "a/1/0" < "a/5" ("1" < "5"), though owner "a" precedes "a/1".
    (["a", "a/1"], [5, 0], ["a/1/0", "a/5"]),
    # An index past 2**62: its text is Python's int; "7/4611686018427387904" < "7/5".
    (["7", "7"], [5, 2.0**62], ["7/4611686018427387904", "7/5"]),
])
def test_keys_the_numbers_cannot_order_are_grouped_by_their_text(owners, indices, expected) -> None:
    shape = dict(owners=[o for o in owners for _ in range(3)], indices=[i for i in indices for _ in range(3)],
                 times=[0, 1, 5, 0, 1, 5], roles=[_S, _R, _E] * 2)
    assert _ids(_events(**shape, text_keys=False)) == expected
    assert _ids(_events(**shape, text_keys=True)) == expected


def test_events_out_of_time_order_are_sorted_by_time_within_an_instance() -> None:
    # One instance listed end first: END at 9, SUBMIT at 1, SCHEDULE at 2, SUBMIT at 4
    # (resubmitted while running: closes the first attempt at 4), SCHEDULE at 5. Sorted
    # by time: two attempts, [1, 4) and [4, open); the sort by input position alone
    # would put the END first, and the check sends it to the stable sort by time.
    from k8sim.workloads.traces.reports import TraceReport

    events = _events(["c"] * 5, [0] * 5, [9, 1, 2, 4, 5], [_E, _S, _R, _S, _R], text_keys=False)
    frame = google_events.lifecycles(events, TraceReport(source="f.csv"))
    assert list(frame["id"]) == ["c/0", "c/0#1"]
    assert list(frame["arrival"]) == [1.0, 4.0]
    assert list(frame["end"]) == [4.0, 9.0]


def test_attempt_numbers_count_from_the_key_first_event() -> None:
    # How the reader has always numbered attempts (the pinned outputs): the "#n" of an
    # attempt counts from the instance's first event, so an instance whose first event
    # opens no attempt (an END while none is open) has "#1" on its first attempt.
    shape = dict(owners=["k"] * 4 + ["m"] * 3, indices=[0] * 7, times=[0, 1, 2, 3, 0, 1, 2],
                 roles=[_E, _S, _R, _E, _S, _R, _E])
    assert _ids(_events(**shape, text_keys=False)) == ["k/0#1", "m/0"]
    assert _ids(_events(**shape, text_keys=True)) == ["k/0#1", "m/0"]


def test_window_read_parses_each_file_once(synthetic_log, tmp_path, monkeypatch):
    # The buckets keep every field the rebuild needs, so a window read parses each part
    # file once (it used to read them all again for the instances in the window).
    frame = pd.read_csv(synthetic_log, dtype=str, keep_default_na=False)
    parts = [tmp_path / "part0.csv", tmp_path / "part1.csv"]
    frame.iloc[: len(frame) // 2].to_csv(parts[0], index=False)
    frame.iloc[len(frame) // 2:].to_csv(parts[1], index=False)
    monkeypatch.setattr(google_events, "BUCKET_INPUT_BYTES", 64 << 10)
    opened: list[str] = []
    export_batches = g2019._export_batches

    def spy(path, *args, **kwargs):
        opened.append(Path(path).name)
        return export_batches(path, *args, **kwargs)

    monkeypatch.setattr(g2019, "_export_batches", spy)
    options = TraceOptions(start_s=60, end_s=90)
    got = read_google_2019(parts, options, **SHAPE)
    assert opened == ["part0.csv", "part1.csv"]
    _same(got, _whole_file_read(monkeypatch, parts, options, **SHAPE))


@pytest.mark.parametrize("window", [None, (50, 120)])
def test_quoted_header_written_by_pyarrow_reads_like_the_plain_file(synthetic_log, tmp_path, window):
    # pyarrow.csv.write_csv quotes the header names (and only those, the columns here
    # being numbers): the same pods and report as the plain file, whole or windowed.
    import pyarrow.csv as pacsv

    (tmp_path / "q").mkdir()
    quoted = tmp_path / "q" / synthetic_log.name  # (same name: the reports name the file)
    pacsv.write_csv(pacsv.read_csv(synthetic_log), quoted)
    head, _, rest = quoted.read_text().partition("\n")
    assert head.startswith('"time",') and '"' not in rest
    options = TraceOptions(start_s=window[0], end_s=window[1]) if window else None
    pods, report = read_google_2019(quoted, options, **SHAPE)
    plain_pods, plain_report = read_google_2019(synthetic_log, options, **SHAPE)
    pd.testing.assert_frame_equal(pods, plain_pods)
    assert report == dataclasses.replace(plain_report, source=report.source)


@pytest.mark.parametrize("buffer_parts", [1000, 1])
def test_window_read_writes_each_bucket_in_few_large_batches(synthetic_log, tmp_path, monkeypatch, buffer_parts):
    # The ~600 KiB log in 16 KiB blocks (about 40 batches) over 16 KiB buckets (about
    # 40): unbuffered, every batch would write a part to nearly every bucket (over a
    # thousand record batches, each an entry of its file's footer held in memory).
    # Held until a bucket has 8 KiB, each file has at most its bytes / 8 KiB + 1
    # batches; with a cap of one 8 KiB part over all buckets (buffer_parts=1) the
    # fullest are written early, and either way the read is the whole-file read's.
    spill = tmp_path / "spill"
    spill.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill))
    monkeypatch.setattr(g2019, "WINDOW_BLOCK_SIZE", 16 << 10)
    monkeypatch.setattr(google_events, "BUCKET_INPUT_BYTES", 16 << 10)
    monkeypatch.setattr(google_events, "BUCKET_FLUSH_BYTES", 8 << 10)
    monkeypatch.setattr(google_events, "BUCKET_BUFFER_PARTS", buffer_parts)
    files: list[list[int]] = []  # the bytes of each record batch of each bucket file
    parts = [0]
    buckets, write = google_events.InstanceBuckets._buckets, google_events.InstanceBuckets.write

    def count_parts(self, prepared):
        parts[0] += len(prepared)
        write(self, prepared)

    def spy(self):
        for table, path in zip(buckets(self), self._paths, strict=True):
            with pa.memory_map(path) as source:
                reader = pa.ipc.open_file(source)
                files.append([reader.get_batch(i).nbytes for i in range(reader.num_record_batches)])
            yield table

    monkeypatch.setattr(google_events.InstanceBuckets, "write", count_parts)
    monkeypatch.setattr(google_events.InstanceBuckets, "_buckets", spy)
    options = TraceOptions(start_s=50, end_s=120)
    expected = _whole_file_read(monkeypatch, synthetic_log, options, **SHAPE)
    _same(read_google_2019(synthetic_log, options, **SHAPE), expected)
    assert len(files) > 20 and parts[0] > 500
    written = sum(len(f) for f in files)
    if buffer_parts > 1:
        # Every batch but a file's last was written once its parts held 8 KiB; merged,
        # they lose one 4-byte offset per part and string column (two), and a part has
        # at least one event (some 60 bytes): at most 8192 / 60 * 8 < 1100 bytes less.
        assert all(min(f[:-1], default=8 << 10) >= 7 << 10 for f in files), files
        assert written < parts[0] / 10
    else:
        assert written < parts[0]
