"""Google clusterdata-2011-2 ``task_events`` / ``machine_events``.

No real data is kept here: the ``google_2011_*`` fixtures are hand-written to the
published 2011 schema (13 task-event and 6 machine-event columns, no header; times in
microseconds, trace start at 600 s; 0 = before the trace). The stated machine shape:
normalised 1.0 = 64 cores and 64 GiB.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pandas as pd

from k8sim.workloads.traces.google_2011 import read_google_2011, read_google_2011_machines
from k8sim.workloads.traces.schema import TraceOptions

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "traces"
GIB = 1 << 30
SHAPE = {"machine_cpu_milli": 64_000, "machine_memory_bytes": 64 * GIB}
PARTS = [FIXTURES / "google_2011_task_events_part0.csv", FIXTURES / "google_2011_task_events_part1.csv"]


def test_task_events_two_parts():
    pods, report = read_google_2011(PARTS, **SHAPE)
    assert report.rows_read == 9 + 8
    got = pods.set_index("id")
    assert sorted(got.index) == ["515042969/0", "515042969/0#1", "515042969/2", "6251812952/0"]
    # part0 lines 1-3: submitted and scheduled before the trace (time 0), FINISH at
    # 5611824441 us = 5011.824441 s into the trace; cpu 0.0625, memory 0.03125, prio 9, class 2
    p = got.loc["6251812952/0"]
    assert p["clipped_start"] and p["arrival_s"] == 0.0
    assert p["duration_s"] == 5011.824441
    assert (p["cpu_milli"], p["memory_bytes"], p["priority"], p["qos"]) == (4000, 2 * GIB, 9, "sc2")
    # part0 lines 4-6: submit at 600 s (= 0 s), scheduled 0.5 s, EVICT 300.5 s
    p = got.loc["515042969/0"]
    assert not p["clipped_start"] and (p["arrival_s"], p["duration_s"]) == (0.0, 300.0)
    assert (p["cpu_milli"], p["memory_bytes"], p["owner"]) == (8000, 4 * GIB, "515042969")
    # lines 7-9: resubmitted 301 s, scheduled 302 s, FAIL 602 s
    assert (got.loc["515042969/0#1", "arrival_s"], got.loc["515042969/0#1", "duration_s"]) == (301.0, 300.0)
    # part1 lines 3-5: request only from UPDATE_PENDING (0.25 / 0.125), running at the end
    p = got.loc["515042969/2"]
    assert (p["arrival_s"], p["cpu_milli"], p["memory_bytes"]) == (100.0, 16000, 8 * GIB)
    assert p["clipped_end"] and math.isnan(p["duration_s"])
    # part1: task 1 killed before scheduling; line 6 type 9; line 7 index "x"; line 8 12 fields
    assert report.filtered == {"never_scheduled": 1}
    assert report.dropped == {"bad_event_type": 1, "bad_number": 1, "wrong_field_count": 1}
    assert report.dropped_at["bad_event_type"][0][:2] == ("google_2011_task_events_part1.csv", 6)
    assert report.lines("bad_number") == [7]
    assert report.lines("wrong_field_count") == [8]


def test_gzipped_parts_read_the_same(tmp_path):
    zipped = []
    for part in PARTS:
        target = tmp_path / (part.name + ".gz")
        target.write_bytes(gzip.compress(part.read_bytes()))
        zipped.append(target)
    plain, _ = read_google_2011(PARTS, **SHAPE)
    packed, _ = read_google_2011(zipped, **SHAPE)
    pd.testing.assert_frame_equal(plain, packed)


def test_window():
    # [200, 400): 515042969/0 (run 0.5..300.5) 100.5 s left; #1 arrives at 301 and runs
    # past 400; 515042969/2 never ends; 6251812952/0 (..5011.8) runs past.
    pods, _ = read_google_2011(PARTS, TraceOptions(start_s=200, end_s=400), **SHAPE)
    got = pods.set_index("id")
    assert got.loc["515042969/0", "duration_s"] == 100.5
    assert got.loc["515042969/0#1", "arrival_s"] == 101.0
    assert got.loc["515042969/0#1", "clipped_end"]
    assert len(got) == 4


def test_machine_events():
    # machines 5 and 6 added with 0.5 / 0.25 (6 later removed); 7 added 1/1 then updated
    # to 0.5/0.5; 8 (line 6) has no memory capacity.
    nodes, report = read_google_2011_machines(FIXTURES / "google_2011_machine_events.csv", **SHAPE)
    assert list(nodes["name"]) == ["5", "6", "7"]
    assert list(nodes["cpu_milli"]) == [32000, 32000, 32000]
    assert list(nodes["memory_bytes"]) == [16 * GIB, 16 * GIB, 32 * GIB]
    assert report.lines("missing_capacity") == [6]
