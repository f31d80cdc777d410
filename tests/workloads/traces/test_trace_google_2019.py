"""Google cluster-usage traces v3 (2019): instance / collection / machine event exports.

No real data is kept here: the ``google_2019_*`` fixtures are hand-written to the
published ``clusterdata_trace_format_v3.proto`` fields (CSV exports with flattened
``resource_request.cpus`` / ``resource_request_cpus`` columns, and BigQuery-style
newline-delimited JSON with quoted 64-bit integers). Times are microseconds with the
trace start at 600 s, so 610000000 is 10 s into the trace. The stated machine shape:
normalised 1.0 CPU = 100 cores, 1.0 memory = 100 GiB.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

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
