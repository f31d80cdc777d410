"""The CSV machinery under the trace readers: blocks, the pyarrow and csv paths, number
parsing, and drops checked batch by batch but reported in whole-file order."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from k8sim.workloads.traces import tables
from k8sim.workloads.traces.reports import TraceError, TraceReport, Where
from k8sim.workloads.traces.tables import (
    DeferredDrops,
    RowCheck,
    Table,
    iter_tables,
    read_table,
    replay_drops,
)


def _table(path: str, column: str, values: list[str], first_line: int = 2) -> Table:
    return Table(path, (column,), {column: pa.array(values, pa.string())},
                 np.arange(first_line, first_line + len(values), dtype=np.int64))


def test_number_parsing_matches_pandas_on_odd_spellings():
    # What the readers always did: pandas.to_numeric on the stripped cell, words for
    # missing values, infinities rejected. Derived here from pandas/Python directly.
    cells = ["1", "-2.5", "+3", ".5", "5.", "1e3", "1E-2", "007", "9223372036854775807", "1_000", "0x10",
             "inf", "-Infinity", "nan", "NA", "", "twelve", "1,5", "12345678901234567890123"]
    check = RowCheck(_table("t.csv", "x", cells), TraceReport(source="t"))
    got = check.number("x", required=False)
    words = {"", "nan", "NaN", "NAN", "null", "NULL", "None", "NA"}
    expected = pd.to_numeric(pd.Series([None if c in words else c for c in cells], dtype=object),
                              errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    expected = np.where(np.isfinite(expected), expected, np.nan)
    np.testing.assert_array_equal(got, expected)
    # Rejected as bad numbers: 1_000? (whatever pandas says), 0x10, inf, -Infinity, twelve, 1,5.
    bad = [w.line for w in check.report.dropped_at["bad_number"]]
    assert 2 + cells.index("0x10") in bad and 2 + cells.index("inf") in bad


def test_number_parsing_same_with_object_cells():
    cells = ["1", "2.25", "", "x", "1e308", "1e309"]
    a = RowCheck(_table("t.csv", "x", cells), TraceReport(source="t")).number("x", required=False)
    t = Table("t.csv", ("x",), {"x": np.array(cells, dtype=object)}, np.arange(2, 8))
    b = RowCheck(t, TraceReport(source="t")).number("x", required=False)
    np.testing.assert_array_equal(a, b)


def test_drops_checked_in_batches_replay_in_whole_file_order():
    # Six rows with bad numbers in two columns. Checked whole, column a's failures come
    # first (lines 2, 4, 6), then column b's (3, 5, 7): reason bad_number keeps the first
    # five of that order, 2, 4, 6, 3, 5. In two batches of three rows, replaying check by
    # check gives the same.
    a = ["x", "1", "x", "1", "x", "1"]
    b = ["1", "y", "1", "y", "1", "y"]
    whole = TraceReport(source="t")
    t = Table("t.csv", ("a", "b"), {"a": pa.array(a), "b": pa.array(b)}, np.arange(2, 8))
    check = RowCheck(t, whole)
    check.number("a")
    check.number("b")
    assert whole.lines("bad_number") == [2, 4, 6, 3, 5]

    batched = TraceReport(source="t")
    drops = []
    for lo in (0, 3):
        part = Table("t.csv", ("a", "b"), {"a": pa.array(a[lo:lo + 3]), "b": pa.array(b[lo:lo + 3])},
                     np.arange(2 + lo, 5 + lo))
        d = DeferredDrops()
        drops.append(d)
        c = RowCheck(part, d)
        c.number("a")
        c.number("b")
    replay_drops(batched, drops)
    assert batched.dropped == whole.dropped == {"bad_number": 6}
    assert batched.dropped_at == whole.dropped_at


@pytest.mark.parametrize("block_size", [7, 16, 33, 1 << 20])
def test_blocks_cut_anywhere_give_the_same_rows_and_lines(tmp_path, block_size):
    # Line 1 header; 3 blank; 5 has 2 fields; 7 is whitespace only; 9 has a quoted cell
    # holding a line end (lines 9-10: reported at 10, its last line); 12 is non-ASCII.
    text = ('a,b,c\n1,2,3\n\n4,5,6\n7,8\n 9 ,10,\t11\n   \n12,13,14\n"x\ny",15,16\n'
            '17,18,19\n\u00e9,20,21\n22,23,24')
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    report = TraceReport(source="t")
    parts = list(iter_tables(path, ("a", "b", "c"), report, header=True, block_size=block_size))
    cells = [(r, int(line)) for p in parts for r, line in zip(
        zip(p.column("a"), p.column("b"), p.column("c"), strict=True), p.lines, strict=True)]
    assert cells == [
        (("1", "2", "3"), 2), (("4", "5", "6"), 4), (("9", "10", "11"), 6), (("12", "13", "14"), 8),
        (("x\ny", "15", "16"), 10), (("17", "18", "19"), 11), (("\u00e9", "20", "21"), 12),
        (("22", "23", "24"), 13),
    ]
    assert report.rows_read == 9 and report.dropped == {"wrong_field_count": 1}
    assert report.lines("wrong_field_count") == [5]
    whole = read_table(path, ("a", "b", "c"), TraceReport(source="t"), header=True, block_size=block_size)
    assert whole.column("a").tolist() == [c[0][0] for c in cells]
    assert whole.where(4) == Where("t.csv", 10, None)


def test_header_only_file_has_its_columns(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("b,a,extra\n\n")
    table = read_table(path, ("a",), TraceReport(source="h"), header=True, optional=("b",))
    assert table.columns == ("a", "b") and len(table) == 0


@pytest.mark.parametrize("text, rows, lines, dropped", [
    # Plain lines only: every line after the header is a row (lines 2-4).
    ("a,b\n1,2\n3,4\n5,6\n", [("1", "2"), ("3", "4"), ("5", "6")], [2, 3, 4], {}),
    # Empty lines 3 and 5, no bad row: pyarrow skips them, so its row count (2) is short of
    # the 4 lines after the header and the line scan places the rows at 2 and 4... and 6.
    ("a,b\n1,2\n\n3,4\n\n5,6\n", [("1", "2"), ("3", "4"), ("5", "6")], [2, 4, 6], {}),
    # An empty line 3 and a one-field line 5 (dropped, reported at 5); the row after it is 6.
    ("a,b\n1,2\n\n3,4\n7\n5,6\n", [("1", "2"), ("3", "4"), ("5", "6")], [2, 4, 6], {"wrong_field_count": 1}),
    # A whitespace-only line 3 is blank (skipped, not a bad row).
    ("a,b\n1,2\n  \t\n3,4\n", [("1", "2"), ("3", "4")], [2, 4], {}),
    # Only empty lines after the header: no rows, no error.
    ("a,b\n\n\n", [], [], {}),
], ids=["plain", "empty-lines", "empty-and-bad", "blank", "header-then-empty"])
def test_ascii_blocks_place_rows_on_their_lines(tmp_path, text, rows, lines, dropped):
    # ASCII without quotes: these blocks go through pyarrow (the fast path), which must
    # give the rows and line numbers a line-by-line reading gives.
    path = tmp_path / "p.csv"
    path.write_bytes(text.encode("ascii"))
    report = TraceReport(source="p")
    parts = list(iter_tables(path, ("a", "b"), report, header=True))
    got = [((a, b), int(n)) for p in parts for a, b, n in zip(p.column("a"), p.column("b"), p.lines, strict=True)]
    assert got == list(zip(rows, lines, strict=True))
    assert report.dropped == dropped and report.rows_read == len(rows) + sum(dropped.values())
    if dropped:
        assert report.lines("wrong_field_count") == [5]


def _mixed_file(path, n_rows: int = 400) -> tuple[list[tuple[str, str, str]], list[int], list[int]]:
    """A file of ``n_rows`` data rows after a header, with (by construction) a
    two-field row after every 37th data row, a blank line after every 53rd, CRLF line
    ends on rows 100-149 and one non-ASCII cell (row 250). Returns the good rows, their
    line numbers and the lines of the bad rows."""
    lines = ["a,b,c"]
    rows, numbers, bad = [], [], []
    for i in range(n_rows):
        a = "\u00e9" if i == 250 else f"r{i}"
        row = (a, str(i), str(2 * i))
        lines.append(",".join(row) + ("\r" if 100 <= i < 150 else ""))
        rows.append(row)
        numbers.append(len(lines))  # 1-based: the line just added
        if i % 37 == 36:
            lines.append("x,y")
            bad.append(len(lines))
        if i % 53 == 52:
            lines.append("   ")
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    return rows, numbers, bad


@pytest.mark.parametrize("block_size", [50, 301, 4096])
def test_blocks_parsed_ahead_in_threads_keep_rows_lines_and_drops(tmp_path, monkeypatch, block_size):
    # Blocks parsed in worker threads (pyarrow and csv paths alike) are taken in file
    # order: the same rows, line numbers and report as the layout of the file says.
    rows, numbers, bad = _mixed_file(tmp_path / "m.csv")
    for workers in (1, 3):
        monkeypatch.setattr(tables, "WORKERS", workers)
        report = TraceReport(source="m")
        parts = list(iter_tables(tmp_path / "m.csv", ("a", "b", "c"), report, header=True, block_size=block_size))
        got = [r for p in parts for r in zip(p.column("a"), p.column("b"), p.column("c"), strict=True)]
        assert got == rows
        assert np.concatenate([p.lines for p in parts]).tolist() == numbers
        assert report.rows_read == len(rows) + len(bad)
        assert report.dropped == {"wrong_field_count": len(bad)}
        assert report.lines("wrong_field_count") == bad[:5]


def test_map_runs_in_worker_threads_in_file_order(tmp_path, monkeypatch):
    rows, numbers, _ = _mixed_file(tmp_path / "m.csv")
    monkeypatch.setattr(tables, "WORKERS", 2)
    report = TraceReport(source="m")

    def first_line(table: Table) -> tuple[int, str]:
        return int(table.lines[0]), threading.current_thread().name

    got = list(iter_tables(tmp_path / "m.csv", ("a", "b", "c"), report, header=True, block_size=400).map(first_line))
    starts = [line for line, _ in got]
    assert starts == sorted(starts) and starts[0] == numbers[0] and len(got) > 10
    assert {name for _, name in got[1:]} <= {f"k8sim-trace_{i}" for i in range(2)}


def test_errors_of_a_mapped_function_pass_through_unchanged(tmp_path, monkeypatch):
    _mixed_file(tmp_path / "m.csv")
    monkeypatch.setattr(tables, "WORKERS", 2)

    def fail(table: Table) -> None:
        if table.lines[0] > 100:
            raise KeyError("from the reader")

    with pytest.raises(KeyError, match="from the reader"):
        list(iter_tables(tmp_path / "m.csv", ("a", "b", "c"), TraceReport(source="m"), header=True,
                         block_size=300).map(fail))


def test_undecodable_block_parsed_ahead_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / "u.csv"
    path.write_bytes(b"a,b\n" + b"1,2\n" * 200 + b"\xff\xfe,3\n" + b"4,5\n" * 10)
    monkeypatch.setattr(tables, "WORKERS", 2)
    with pytest.raises(TraceError, match="u.csv: unreadable file"):
        list(iter_tables(path, ("a", "b"), TraceReport(source="u"), header=True, block_size=64))


def _numbers_read(path, numbers=(), integers=(), block_size=None):
    """(values of a, values of b, report, whether any batch had typed cells) of a file read
    batch by batch with ``a`` required and ``b`` optional, as a reader reads."""
    report = TraceReport(source="t")
    drops, a, b, typed = [], [], [], False
    for table in iter_tables(path, ("a", "b", "c"), report, header=True, numbers=numbers, integers=integers,
                             block_size=block_size):
        typed |= not pa.types.is_string(table.cells["a"].type)
        d = DeferredDrops()
        drops.append(d)
        check = RowCheck(table, d)
        va = check.number("a", minimum=0)
        vb = check.number("b", required=False)
        a.append(va[check.ok])
        b.append(vb[check.ok])
    replay_drops(report, drops)
    return np.concatenate(a), np.concatenate(b), report, typed


@pytest.mark.parametrize("block_size", [40, 1 << 20])
def test_numbers_parsed_by_pyarrow_give_what_the_text_gives(tmp_path, block_size):
    # Cells pyarrow may parse to numbers itself (numbers=/integers=) must give the values
    # and the drops that parsing their text gives: the expected side is the text path of
    # the same file (no numbers=), itself pinned to pandas by the tests above. In blocks
    # of 40 bytes the clean rows are parsed as numbers and the odd ones as text.
    odd = ["1", "2.5", "+3", ".5", "5.", "1e3", "-0", "-1", "nan", "NaN", "NA", "null", "", "inf", "-nan",
           "1e400", "9223372036854775807", "9223372036854775808", "1e19", "x", "0x10", "007", "1_000", " 4",
           "5 ", "\t6"]
    rows = [f"{a},{b},{i}" for i, (a, b) in enumerate(zip(odd, reversed(odd), strict=True))]
    clean = [f"{i},{200 - i},{i}" for i in range(200)]
    path = tmp_path / "n.csv"
    path.write_text("a,b,c\n" + "\n".join(clean + rows + clean) + "\n")
    a0, b0, r0, typed0 = _numbers_read(path, block_size=block_size)
    assert not typed0
    for numbers, integers in ((("a", "b"), ()), ((), ("a", "b")), (("b",), ("a",))):
        a1, b1, r1, typed1 = _numbers_read(path, numbers, integers, block_size=block_size)
        assert typed1 == (block_size == 40)  # (else this test would check nothing)
        np.testing.assert_array_equal(a1, a0)
        np.testing.assert_array_equal(b1, b0)
        assert r1.dropped == r0.dropped and r1.dropped_at == r0.dropped_at and r1.rows_read == r0.rows_read
    assert r0.dropped["bad_number"] >= 5 and r0.dropped["out_of_range"] >= 2 and r0.dropped["missing_value"] == 5


def test_numbers_parsed_by_pyarrow_with_empty_cells_and_null_words(tmp_path):
    # A block whose cells are all plain numbers, empty or null words is parsed as numbers
    # (one block: the whole file), with the values and drops of its text: "-0" stays -0.0
    # as a double (an integer column reads it as 0, equal as a number).
    path = tmp_path / "n.csv"
    cells = ["-0", "", "nan", "NA", "null", "None", "NULL", "NaN", "NAN", "3", "-2", "1e3", ".5"]
    path.write_text("a,b,c\n" + "\n".join(f"{v},{v},x" for v in cells) + "\n")
    a0, b0, r0, _ = _numbers_read(path)
    a1, b1, r1, typed = _numbers_read(path, numbers=("a", "b"))
    assert typed
    np.testing.assert_array_equal(a1, a0)
    np.testing.assert_array_equal(b1, b0)
    assert np.array_equal(np.signbit(a1), np.signbit(a0)) and np.signbit(a0[0])
    assert r1.dropped == r0.dropped == {"missing_value": 8, "negative_value": 1}
    assert r1.dropped_at == r0.dropped_at


def test_numbers_parsed_by_pyarrow_are_not_text(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("a,b,c\n1,2,x\n")
    table = next(iter(iter_tables(path, ("a", "b", "c"), TraceReport(source="t"), header=True, numbers=("a",))))
    check = RowCheck(table, TraceReport(source="t"))
    assert check.text("c").tolist() == ["x"]
    with pytest.raises(TypeError, match="'a' was parsed as numbers"):
        check.text("a")


def test_blocks_read_into_buffers_given_back_unless_still_referred_to(tmp_path):
    # Blocks given back (``free``) are read into again; the bytes are the file's either
    # way. A block something still refers to (a memoryview here, as a pyarrow buffer
    # would) is never written to again.
    import io

    data = b"".join(b"%d,%s\n" % (i, b"x" * (i % 13)) for i in range(2000))
    free: deque[bytearray] = deque()
    held: list[tuple[memoryview, bytes]] = []
    got: list[bytes] = []
    given: list[bytearray] = []  # (all kept alive: identity says which came back)
    reused = 0
    for k, block in enumerate(tables._blocks(io.BytesIO(data), 97, free)):
        reused += any(block is b for b in given)
        got.append(bytes(block))
        if k % 5 == 0:
            held.append((memoryview(block), bytes(block)))  # kept: not to be reused
        free.append(block)
        given.append(block)
    assert b"".join(got) == data
    assert reused > 100
    assert all(view.tobytes() == copy for view, copy in held)


def test_strings_turn_null_words_into_empty_cells_and_keep_the_rest():
    # RowCheck.strings: the null words of _MISSING_WORDS become "" (nan_is_empty), every
    # other cell stays (padding and case included); a column without such a word is
    # given back as it is.
    words = ["", "nan", "NaN", "NAN", "null", "NULL", "None", "NA", "x", " nan", "Nan", "na"]
    table = Table("t.csv", ("a", "b"), {"a": pa.array(words), "b": pa.array(["", "T4", "", "A|B"] * 3)},
                  np.arange(2, 14))
    check = RowCheck(table, TraceReport(source="t"))
    assert check.strings("a").to_pylist() == ["", "", "", "", "", "", "", "", "x", " nan", "Nan", "na"]
    assert check.strings("a", nan_is_empty=False).to_pylist() == words
    b = check.strings("b")
    assert b.to_pylist() == ["", "T4", "", "A|B"] * 3 and b.type == pa.string()


@pytest.mark.parametrize("quoted", [False, True])
def test_unread_columns_must_be_there_but_are_not_read(tmp_path, quoted):
    # Columns a, b, c expected, b unread. Line 3 has two fields (dropped: the row is
    # still checked against all three columns); the batches have a and c only, whether
    # pyarrow parses the file or (a quoted cell) Python's csv module.
    path = tmp_path / "u.csv"
    path.write_text('a,b,c\n1,x,2\n3,y\n4,z,' + ('"5"' if quoted else "5") + "\n")
    report = TraceReport(source="u")
    batches = list(iter_tables(path, ("a", "b", "c"), report, header=True, unread=("b",)))
    assert [t.columns for t in batches] == [("a", "c")] * len(batches)
    table = tables.concat_tables(str(path), batches, ("a", "c"))
    assert table.column("a").tolist() == ["1", "4"] and table.column("c").tolist() == ["2", "5"]
    assert table.lines.tolist() == [2, 4]
    assert report.rows_read == 3 and report.lines("wrong_field_count") == [3]
    missing = tmp_path / "m.csv"
    missing.write_text("a,c\n1,2\n")
    with pytest.raises(TraceError, match="missing column"):
        list(iter_tables(missing, ("a", "b", "c"), TraceReport(source="m"), header=True, unread=("b",)))


def _quote_header(text: str) -> str:
    head, _, rest = text.partition("\n")
    return ",".join(f'"{c}"' for c in head.split(",")) + "\n" + rest


@pytest.mark.parametrize("block_size", [None, 40])
@pytest.mark.parametrize("workers", [1, 2])
def test_quoted_header_reads_rows_like_a_plain_one_without_csv(tmp_path, monkeypatch, block_size, workers):
    # A header with every name quoted (as pyarrow.csv.write_csv writes it) and no quote
    # after it: the same cells, lines and drops as the plain header (line 4 has two
    # fields, line 5 is blank), and no row goes through Python's csv module.
    monkeypatch.setattr(tables, "WORKERS", workers)
    text = "a,b,c\n1,x,2\n3,y,4\n5,z\n\n6, w ,7\n"
    results = []
    for name, body in (("plain.csv", text), ("quoted.csv", _quote_header(text))):
        path = tmp_path / name
        path.write_text(body)
        report = TraceReport(source="t")
        reader = tables._reader(path, ("a", "b", "c"), report, True, (), ",", None)
        parts = list(reader.tables(block_size))
        table = tables.concat_tables(str(path), parts, ("a", "b", "c"))
        results.append(({c: table.column(c).tolist() for c in "abc"}, table.lines.tolist(), report.rows_read,
                         report.lines("wrong_field_count"), reader.csv_rows))
    plain, quoted = results
    assert quoted[:4] == plain[:4]
    assert quoted[0] == {"a": ["1", "3", "6"], "b": ["x", "y", "w"], "c": ["2", "4", "7"]}
    assert quoted[1] == [2, 3, 6] and quoted[3] == [4]
    assert quoted[4] == 0 and plain[4] == 0


@pytest.mark.parametrize("body, header", [
    ('"a","b","c"\n1,"x",2\n', True),  # a quote after the header: csv reads the rest
    ('"a","b\n",c\n1,x,2\n', True),  # a header cell spanning lines
    ('"1","x","2"\n3,y,4\n', None),  # a headerless file's quoted first row
])
def test_quotes_beyond_a_one_line_header_still_go_through_csv(tmp_path, body, header):
    # Only a header that is one whole line, with no quote after it, is read apart: any
    # other quote leaves the file to Python's csv module as before.
    path = tmp_path / "q.csv"
    path.write_text(body)
    report = TraceReport(source="q")
    reader = tables._reader(path, ("a", "b", "c"), report, header, (), ",", None)
    try:
        list(reader.tables(None))
    except TraceError:
        pass  # (the spanning header has no column c)
    assert reader.quoted_headers == 0
