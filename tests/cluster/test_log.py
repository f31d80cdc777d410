"""The event log: typed columns that read like the lists they replace, and a frame
identical to the one built from plain Python lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from k8sim.cluster.log import EventLog

ROWS = [
    (0.0, "PodCreated", 0, -1, ""),
    (0.5, "Scheduled", 0, 1, ""),
    (0.5, "NodeDown", -1, 0, "failures[0] zone-a"),
    (2.25, "Started", 0, 1, ""),
    (3.0, "Preempting", 1, 1, "victims: p0"),
    (3.0, "Completed", 0, 1, ""),
    (4.0, "NodeDown", -1, 1, "failures[0] zone-a"),
]
POD_NAMES = ["p0", "p1"]
NODE_NAMES = ["n0", "n1"]


def list_frame(rows: list[tuple], pod_names: list[str], node_names: list[str]) -> pd.DataFrame:
    """The events frame as it was built from Python lists (the reference)."""
    return pd.DataFrame({
        "time": pd.Series([r[0] for r in rows], dtype="float64"),
        "kind": pd.Series([r[1] for r in rows], dtype="category"),
        "pod": pd.Series([pod_names[r[2]] if r[2] >= 0 else "" for r in rows], dtype="string"),
        "node": pd.Series([node_names[r[3]] if r[3] >= 0 else "" for r in rows], dtype="string"),
        "detail": pd.Series([r[4] for r in rows], dtype="string"),
    })


def filled(rows: list[tuple]) -> EventLog:
    log = EventLog()
    for r in rows:
        log.event(*r)
    return log


@pytest.mark.parametrize("rows", [ROWS, ROWS[:1], []], ids=["several", "one", "empty"])
def test_frame_equals_the_list_built_frame(rows):
    got = filled(rows).frame(POD_NAMES, NODE_NAMES)
    want = list_frame(rows, POD_NAMES, NODE_NAMES)
    pd.testing.assert_frame_equal(got, want)
    assert list(got.dtypes.astype(str)) == list(want.dtypes.astype(str))
    # Categories are the sorted kinds, as inferring them from the strings gives.
    assert list(got["kind"].cat.categories) == sorted({r[1] for r in rows})


def test_columns_read_like_lists():
    log = filled(ROWS)
    assert len(log) == len(ROWS)
    assert list(log.time) == [r[0] for r in ROWS]
    assert list(log.kind) == [r[1] for r in ROWS]
    assert list(log.pod) == [r[2] for r in ROWS]
    assert list(log.node) == [r[3] for r in ROWS]
    assert list(log.detail) == [r[4] for r in ROWS]
    assert log.kind[-1] == "NodeDown" and log.detail[4] == "victims: p0" and log.time[-1] == 4.0
    assert log.kind[1:3] == ["Scheduled", "NodeDown"]
    # Python scalars, as the lists gave.
    assert type(log.time[0]) is float and type(log.pod[0]) is int
    assert "NodeDown" in log.kind and "Killing" not in log.kind and 3 not in log.kind
    assert "victims: p0" in log.detail and "" in log.detail


def test_interned_strings_are_stored_once():
    log = filled(ROWS)
    # Six distinct kinds; two distinct non-empty details besides "" (code 0).
    assert len(log.kind.strings()) == 6
    assert log.detail.strings() == ["", "failures[0] zone-a", "victims: p0"]
    np.testing.assert_array_equal(log.detail.codes(), [0, 0, 1, 0, 2, 0, 1])


def test_the_log_grows_after_a_frame_was_taken():
    # A result taken mid-run must not pin the arrays (an exported buffer cannot grow).
    log = filled(ROWS[:3])
    frame = log.frame(POD_NAMES, NODE_NAMES)
    times = np.array(log.time)
    for r in ROWS[3:]:
        log.event(*r)
    assert len(frame) == 3 and len(times) == 3 and len(log) == len(ROWS)


def test_strings_taken_by_code_equal_the_strings_built_one_by_one():
    """The events frame's string columns are gathered by Arrow from each vocabulary by
    code (no Python object per row); they must equal, in values and dtype, the column
    built from the Python strings, with "" for code -1, non-ASCII names and a
    vocabulary given as an Arrow array."""
    import pyarrow as pa

    from k8sim.cluster.log import strings_by_code

    rng = np.random.default_rng(3)
    vocab = [f"pod-{i}" for i in range(50)] + ["ünïcode-π", ""]
    codes = rng.integers(-1, len(vocab), 2_000).astype(np.int32)
    want = pd.Series([vocab[c] if c >= 0 else "" for c in codes.tolist()], dtype="string")
    for given in (vocab, pa.array(vocab)):
        got = strings_by_code(given, codes)
        pd.testing.assert_series_equal(got, want)
    # No code -1: the vocabulary is used as it is; an empty column keeps the dtype.
    pd.testing.assert_series_equal(strings_by_code(["a", "b"], np.array([1, 0, 1], dtype=np.int32)),
                                   pd.Series(["b", "a", "b"], dtype="string"))
    pd.testing.assert_series_equal(strings_by_code([], np.zeros(0, dtype=np.int32)), pd.Series([], dtype="string"))


def test_a_long_random_log_frames_as_the_list_built_frame():
    """Thousands of rows with every kind of row (no pod, no node, details): the frame
    built column by column equals the one built from the Python lists."""
    rng = np.random.default_rng(5)
    kinds = ["PodCreated", "Scheduled", "Started", "Completed", "NodeDown", "Preempting"]
    details = ["", "", "", "victims: p1", "zone-b"]
    pods = [f"p{i}" for i in range(300)]
    nodes = [f"n{i}" for i in range(20)]
    rows = [(float(i) / 7, kinds[rng.integers(6)], int(rng.integers(-1, 300)), int(rng.integers(-1, 20)),
             details[rng.integers(5)]) for i in range(5_000)]
    pd.testing.assert_frame_equal(filled(rows).frame(pods, nodes), list_frame(rows, pods, nodes))
