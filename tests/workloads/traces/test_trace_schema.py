"""The normalised trace schema: options, validator, report, errors, sampling and scaling.

Expected values are worked out by hand from the hand-written fixtures in
``tests/data/traces`` (cited by file and line), never taken from the code's output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from pydantic import ValidationError

from k8sim.workloads.traces.azure_vm import read_azure_vmtable
from k8sim.workloads.traces.reports import MAX_EXAMPLES, TraceError, TraceReport, Where
from k8sim.workloads.traces.schema import (
    NODE_COLUMN_NAMES,
    POD_COLUMN_NAMES,
    TraceOptions,
    empty_nodes,
    empty_pods,
    validate_nodes,
    validate_pods,
)
from k8sim.workloads.traces.swf import read_swf

FIXTURES = Path(__file__).resolve().parents[2] / "data" / "traces"


def one_pod(**overrides: object) -> pd.DataFrame:
    row = {
        "id": "p",
        "arrival_s": 0.0,
        "duration_s": 10.0,
        "cpu_milli": 1000,
        "memory_bytes": 1 << 30,
        "gpu_count": 1,
        "gpu_milli": 500,
        "gpu_model": "",
        "priority": 0,
        "qos": "LS",
        "owner": "",
        "clipped_start": False,
        "clipped_end": False,
    }
    row.update(overrides)
    frame = pd.DataFrame({k: [v] for k, v in row.items()})
    for col in ("cpu_milli", "memory_bytes", "gpu_count", "gpu_milli", "priority"):
        frame[col] = frame[col].astype("int64")
    for col in ("id", "gpu_model", "qos", "owner"):
        frame[col] = frame[col].astype("str")
    return frame


# --------------------------------------------------------------------------- columns


def test_documented_column_lists():
    assert POD_COLUMN_NAMES == (
        "id",
        "arrival_s",
        "duration_s",
        "cpu_milli",
        "memory_bytes",
        "gpu_count",
        "gpu_milli",
        "gpu_model",
        "priority",
        "qos",
        "owner",
        "clipped_start",
        "clipped_end",
    )
    assert NODE_COLUMN_NAMES == ("name", "cpu_milli", "memory_bytes", "gpu_count", "gpu_model")
    assert list(empty_pods().columns) == list(POD_COLUMN_NAMES)
    assert list(empty_nodes().columns) == list(NODE_COLUMN_NAMES)
    validate_pods(empty_pods())
    validate_nodes(empty_nodes())


def test_schema_still_offers_the_report_and_error_it_documents():
    # The schema module documents the whole reader contract; code written against it
    # (scenario building catches TraceError from here) keeps working.
    from k8sim.workloads.traces import reports, schema

    for name in ("MAX_EXAMPLES", "PathLike", "TraceError", "TraceReport", "Where"):
        assert getattr(schema, name) is getattr(reports, name)
        assert name in schema.__all__


def test_validator_accepts_a_good_pod():
    validate_pods(one_pod())


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"arrival_s": -1.0}, "arrival_s must be finite"),
        ({"duration_s": -5.0}, "duration_s must be >= 0"),
        ({"clipped_end": True}, "clipped_end pods must have duration_s NaN"),
        ({"gpu_milli": 0}, "gpu_milli must be 0 exactly when gpu_count is 0"),
        ({"gpu_count": 0}, "gpu_milli must be 0 exactly when gpu_count is 0"),
        ({"gpu_count": 2}, "gpu_milli must be 1000 when gpu_count > 1"),
        ({"gpu_milli": 1200}, "gpu_milli must be in 0..1000"),
        ({"cpu_milli": -1}, "cpu_milli must be >= 0"),
    ],
)
def test_validator_rejects_broken_pods(overrides, message):
    with pytest.raises(ValueError, match=message):
        validate_pods(one_pod(**overrides))


def test_validator_rejects_missing_columns_and_wrong_dtypes():
    with pytest.raises(ValueError, match="missing columns"):
        validate_pods(one_pod().drop(columns=["owner"]))
    bad = one_pod()
    bad["cpu_milli"] = bad["cpu_milli"].astype(float)
    with pytest.raises(ValueError, match="cpu_milli: dtype float64, expected int64"):
        validate_pods(bad)


# --------------------------------------------------------------------------- options


def test_options_forbid_unknown_fields_and_check_ranges():
    with pytest.raises(ValidationError):
        TraceOptions(seed=3)  # no seed: an rng is passed to the reader instead
    with pytest.raises(ValidationError):
        TraceOptions(start_s=10, end_s=10)
    with pytest.raises(ValidationError):
        TraceOptions(start_s=-5)
    with pytest.raises(ValidationError):
        TraceOptions(sample_fraction=0)
    with pytest.raises(ValidationError):
        TraceOptions(sample_fraction=1.5)
    with pytest.raises(ValidationError):
        TraceOptions(time_scale=0)
    with pytest.raises(ValidationError):
        TraceOptions(resource_scale=-1)
    assert not TraceOptions().has_window
    assert TraceOptions(end_s=5).has_window


# --------------------------------------------------------------------------- report / error


def test_report_keeps_at_most_five_places_per_reason():
    report = TraceReport(source="x.csv")
    report.drop("bad_number", 7, [Where("x.csv", n, "c") for n in range(2, 9)])
    assert report.dropped == {"bad_number": 7}
    assert report.lines("bad_number") == [2, 3, 4, 5, 6][:MAX_EXAMPLES]
    assert report.n_dropped == 7
    assert "bad_number=7" in report.summary()


def test_trace_error_names_file_line_and_column():
    err = TraceError("missing column(s) gpu_milli", file="a/b.csv", line=1, column="gpu_milli")
    assert isinstance(err, ValueError)
    assert str(err) == "a/b.csv, line 1, column 'gpu_milli': missing column(s) gpu_milli"
    assert (err.file, err.line, err.column) == ("a/b.csv", 1, "gpu_milli")


def test_missing_file_is_a_trace_error(tmp_path):
    with pytest.raises(TraceError, match="no such file"):
        read_swf(tmp_path / "absent.swf")


def test_undecodable_file_is_a_trace_error(tmp_path):
    path = tmp_path / "vmtable.csv"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(TraceError, match="unreadable file") as info:
        read_azure_vmtable(path)
    assert "vmtable.csv" in str(info.value)


# --------------------------------------------------------------------------- sampling

# azure_vmtable.csv (hand-written) keeps 4 VMs: vm_a, vm_b (owner dep_1), vm_c (dep_2),
# vm_g (dep_4); lines 4-6 are bad.


def test_sampling_needs_an_explicit_rng():
    with pytest.raises(ValueError, match="explicit rng"):
        read_azure_vmtable(FIXTURES / "azure_vmtable.csv", TraceOptions(sample_fraction=0.5))


def test_sampling_keeps_round_fraction_of_pods_reproducibly():
    opts = TraceOptions(sample_fraction=0.5)
    a, report = read_azure_vmtable(FIXTURES / "azure_vmtable.csv", opts, np.random.default_rng(7))
    b, _ = read_azure_vmtable(FIXTURES / "azure_vmtable.csv", opts, np.random.default_rng(7))
    assert len(a) == 2  # round(0.5 * 4)
    assert report.filtered == {"not_sampled": 2}
    assert report.kept == 2
    pd.testing.assert_frame_equal(a, b)
    assert set(a["id"]) <= {"vm_a", "vm_b", "vm_c", "vm_g"}


def test_sampling_by_owner_keeps_whole_owners():
    opts = TraceOptions(sample_fraction=0.5, sample_by="owner")
    for seed in range(10):
        pods, _ = read_azure_vmtable(FIXTURES / "azure_vmtable.csv", opts, np.random.default_rng(seed))
        owners = set(pods["owner"])
        assert len(owners) == 2  # round(0.5 * 3 owners) = round(1.5) = 2
        if "dep_1" in owners:  # dep_1 has vm_a and vm_b: both or neither
            assert {"vm_a", "vm_b"} <= set(pods["id"])


# --------------------------------------------------------------------------- scaling
# sample.swf (hand-written): job 1 (line 10) submits at 0, waits 10, runs 100 on 4
# requested processors with 2048 KB requested per processor.


def test_time_and_resource_scale():
    pods, _ = read_swf(FIXTURES / "sample.swf", TraceOptions(time_scale=0.5, resource_scale=0.5))
    job1 = pods.set_index("id").loc["1"]
    assert job1["duration_s"] == 50.0  # 100 s * 0.5
    assert job1["cpu_milli"] == 2000  # 4 processors * 1000 * 0.5
    assert job1["memory_bytes"] == 4 * 2048 * 1024 // 2
    job2 = pods.set_index("id").loc["2"]
    assert job2["arrival_s"] == 15.0  # submitted at 30 s
    assert job2["cpu_milli"] == 4000  # 8 processors


def test_window_times_are_relative_to_the_window_and_scaled_after():
    # Window [50, 150): job 1 runs [10, 110) -> 60 s left at 50; job 2 (line 11) runs
    # [30, 80) -> 30 s left; job 8 (line 17) submits at 200 -> outside.
    pods, report = read_swf(FIXTURES / "sample.swf", TraceOptions(start_s=50, end_s=150, time_scale=0.5))
    got = pods.set_index("id")
    assert sorted(got.index) == ["1", "2"]
    assert got.loc["1", "duration_s"] == 30.0  # 60 * 0.5
    assert got.loc["2", "duration_s"] == 15.0  # 30 * 0.5
    assert got["clipped_start"].all() and not got["clipped_end"].any()
    assert (got["arrival_s"] == 0.0).all()
    assert report.filtered["outside_window"] == 1


@pytest.mark.parametrize(("text", "why"), [
    ("a,b\n1,x\n2,y\n", "plain ASCII: no per-cell strip needed"),
    ("a , b\n 1,x \n2 ,\ty\n", "blanks and tabs around cells are stripped"),
    ('a,b\n1,"x"\n"2 ",y\n', "quoted cells: unquoted, then stripped"),
    ("a,b\r\n1,x\r\n\r\n2,y\r\n", "CRLF line ends and a blank line"),
    ("\ufeffa,b\n1,x\n2,y\n", "a byte-order mark before the header"),
])
def test_read_table_cells_are_the_same_however_the_file_is_spelled(tmp_path, text, why):
    from k8sim.workloads.traces.reports import TraceReport
    from k8sim.workloads.traces.tables import read_table

    path = tmp_path / "t.csv"
    path.write_bytes(text.encode("utf-8"))
    table = read_table(path, ("a", "b"), TraceReport(source="t"), header=True)
    assert table.column("a").tolist() == ["1", "2"], why
    assert table.column("b").tolist() == ["x", "y"], why
    # Physical line numbers: the header is line 1; in the CRLF case line 3 is blank, so
    # the second row is on line 4.
    assert table.lines.tolist() == ([2, 4] if "\r\n\r\n" in text else [2, 3]), why


def test_build_pods_integer_columns_given_as_int64() -> None:
    """Readers hand build_pods numbers as doubles or, for constant defaults (priority 0),
    as int64. int64 columns that doubles hold exactly pass through as they are; past
    2**53 they go through float64 like any number: 2**53 + 1 is not a double, and rounds
    (to nearest, ties to even) to 2**53. Every column of the pods frame is its own and
    writeable (the raw frame's arrays are read-only views)."""
    from k8sim.workloads.traces.build import build_pods, raw_frame

    big = 2**53 + 1
    raw = raw_frame(3, id=pa.array(["a", "b", "c"]), arrival=np.array([0.0, 1.0, 2.0]),
                    cpu_milli=np.array([1, 2, 3], dtype=np.int64), memory_bytes=np.array([5, 6, big], dtype=np.int64),
                    priority=np.array([-7, 0, 9], dtype=np.int64))
    pods = build_pods(raw, file="f.csv", options=None, rng=None, report=TraceReport(source="f.csv"))
    assert pods["cpu_milli"].tolist() == [1, 2, 3]
    assert pods["priority"].tolist() == [-7, 0, 9]
    assert pods["memory_bytes"].tolist() == [5, 6, 2**53]
    for col in ("cpu_milli", "memory_bytes", "priority", "arrival_s", "clipped_start"):
        assert pods[col].dtype != object
    pods.loc[0, "priority"] = 4  # writeable in place (no "assignment destination is read-only")
    assert raw["priority"].tolist() == [-7, 0, 9]


def test_build_pods_owned_columns_are_handed_over() -> None:
    """``owned=True``: columns that need no change (int64, float64 at time scale 1)
    become the frame's own, without a copy, and stay writeable; the values are those of
    ``owned=False``, which copies them (the caller keeps its arrays)."""
    from k8sim.workloads.traces.build import build_pods, raw_frame

    def make() -> tuple[dict[str, np.ndarray], object]:
        cols = {"arrival": np.array([0.0, 1.0, 2.0]), "duration": np.array([5.0, 2.0, 1.5]),
                "cpu_milli": np.array([1, 2, 3], dtype=np.int64)}
        return cols, raw_frame(3, id=pa.array(["a", "b", "c"]), end=np.array([5.0, 3.0, 3.5]),
                               memory_bytes=np.array([4.0, 5.0, 6.0]), **cols)

    cols, raw = make()
    copied = build_pods(raw, file="f.csv", options=None, rng=None, report=TraceReport(source="f.csv"))
    cols_owned, raw_owned = make()
    owned = build_pods(raw_owned, file="f.csv", options=None, rng=None, report=TraceReport(source="f.csv"),
                       owned=True)
    pd.testing.assert_frame_equal(owned, copied)
    for name, col in (("arrival", "arrival_s"), ("duration", "duration_s"), ("cpu_milli", "cpu_milli")):
        assert np.shares_memory(np.asarray(owned[col].array), cols_owned[name]), col
        assert not np.shares_memory(np.asarray(copied[col].array), cols[name]), col
    owned.loc[0, "cpu_milli"] = 9  # writeable in place
    assert owned.loc[0, "cpu_milli"] == 9


def test_raw_frame_defaults_are_the_scalars_broadcast() -> None:
    """Scalars given to (or defaulted by) raw_frame are repeated on every row: text as
    the pods frame's str columns, numbers with the dtype of the scalar (-0.0 keeps its
    sign)."""
    from k8sim.workloads.traces.build import raw_frame

    raw = raw_frame(4, id=pa.array(["a", "b", "c", "d"]), arrival=0.0, cpu_milli=1, memory_bytes=2.5,
                    qos="LS", duration=-0.0)
    assert raw["owner"].tolist() == [""] * 4 and raw["qos"].tolist() == ["LS"] * 4
    assert raw["owner"].dtype == "str" and raw["qos"].dtype == "str"
    assert raw["priority"].tolist() == [0] * 4 and raw["priority"].dtype == np.int64
    assert raw["gpu_count"].dtype == np.int64 and raw["cpu_milli"].tolist() == [1] * 4
    assert np.signbit(raw["duration"].to_numpy()).all() and raw["memory_bytes"].tolist() == [2.5] * 4
    assert raw_frame(0, id=pa.array([], pa.string()), arrival=0.0, cpu_milli=0, memory_bytes=0)["owner"].tolist() == []
