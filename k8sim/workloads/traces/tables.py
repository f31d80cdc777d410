"""Trace files as tables of string cells: reading delimited files, checking cells row by row.

:func:`read_table` reads a CSV (or other delimited) file, plain or gzipped, into a
:class:`Table` of string columns with each row's line number; :func:`iter_tables` yields
the same in batches of about ``block_size`` bytes of input, so that a reader can reduce
each batch (a time window, say) before the next is read and a file larger than memory
can be replayed. :class:`RowCheck` parses cells into numbers or text and drops bad
rows, recording each in the reader's
:class:`~k8sim.workloads.traces.reports.TraceReport` with its line and column. Readers
of other encodings (JSON exports, say) build a :class:`Table` themselves and check it
the same way.

How a file is parsed. The input is read in blocks cut at line ends. A block that is
ASCII without quotes, NUL bytes or lone carriage returns (the normal case for published
traces) is classified line by line with numpy (blank lines, field counts, physical line
numbers) and its cells are parsed by ``pyarrow.csv`` in C++. Any other block is parsed
by Python's ``csv`` module, like the whole file was before; once a quote is seen, the
rest of the file is (a quoted cell may hold line ends). Both give the same cells: each
stripped of surrounding whitespace (``str.strip``), blank and whitespace-only lines
skipped, a row with the wrong number of fields dropped as ``wrong_field_count`` at its
line. Line numbers are physical lines of the file, 1-based, the header included (for a
record spanning lines, its last line).

Once the column names are known, blocks are parsed ahead in up to :data:`WORKERS`
threads (pyarrow and numpy release the GIL), each block knowing its first line from
the line ends before it; :meth:`TableBatches.map` runs a reader's own work on each
batch there too. Results, rows read and dropped rows are taken in file order, so
nothing depends on the threads.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import os
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Generic, TextIO, TypeAlias, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from k8sim.workloads.traces.reports import MAX_EXAMPLES, PathLike, TraceError, TraceReport, Where, file_label

__all__ = [
    "DEFAULT_BLOCK_SIZE",
    "DeferredDrops",
    "RowCheck",
    "Table",
    "as_arrow",
    "TableBatches",
    "concat_tables",
    "iter_tables",
    "open_text",
    "read_table",
    "replay_drops",
    "to_object_array",
]

#: Bytes of input read (and parsed) at a time.
DEFAULT_BLOCK_SIZE = 32 << 20
#: pyarrow's own block size within one of ours.
_ARROW_BLOCK = 1 << 20
#: Threads parsing blocks ahead of the reader once the columns are known (at most this
#: many blocks are parsed at once, and one more is held); 1 parses each block in the
#: calling thread when it is asked for.
WORKERS = max(1, min(4, os.cpu_count() or 1))
#: Whether pyarrow splits one block over its own threads too (the blocks themselves
#: being parsed in parallel, it need not).
_ARROW_THREADS = False

_T = TypeVar("_T")

Cells: TypeAlias = np.ndarray | pa.Array | pa.ChunkedArray
_Bytes: TypeAlias = bytes | bytearray


def open_text(path: PathLike) -> TextIO:
    """Open a text trace file, transparently gunzipping ``*.gz`` (:class:`TraceError` if absent)."""
    p = Path(path)
    if not p.is_file():
        raise TraceError("no such file", file=str(path))
    if p.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", newline="")
    return open(p, encoding="utf-8", newline="")


def open_binary(path: PathLike) -> BinaryIO:
    """Open a trace file as bytes, transparently gunzipping ``*.gz`` (:class:`TraceError` if absent)."""
    p = Path(path)
    if not p.is_file():
        raise TraceError("no such file", file=str(path))
    if p.suffix == ".gz":
        return gzip.open(p, "rb")  # type: ignore[return-value]
    return open(p, "rb")


@dataclass
class Table:
    """Cells of a CSV file as strings, by column, with each row's line number.

    A column is a numpy object array of ``str`` or a pyarrow string array;
    :meth:`column` gives either as a numpy object array.
    """

    path: str
    columns: tuple[str, ...]
    cells: dict[str, Cells]
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)

    def where(self, i: int, column: str | None = None) -> Where:
        return Where(file_label(self.path), int(self.lines[i]), column)

    def column(self, name: str) -> np.ndarray:
        """The cells of ``name`` as a numpy object array of ``str``."""
        return to_object_array(self.cells[name])


def to_object_array(values: Cells) -> np.ndarray:
    """A column's cells as a numpy object array of ``str`` (a numpy column as is)."""
    if isinstance(values, np.ndarray):
        return values
    out = np.empty(len(values), dtype=object)
    if len(values):
        out[:] = values.to_numpy(zero_copy_only=False)
    return out


def as_arrow(values: Cells) -> pa.Array | pa.ChunkedArray:
    """A column's cells as a pyarrow string array (an arrow column as is)."""
    if isinstance(values, np.ndarray):
        return pa.array(values, type=pa.string())
    return values


def concat_tables(path: str, parts: Sequence[Table], columns: Sequence[str]) -> Table:
    """One :class:`Table` from batches of the same file (columns in ``columns``)."""
    cells: dict[str, Cells] = {}
    for col in columns:
        chunks: list[pa.Array] = []
        for t in parts:
            v = as_arrow(t.cells[col])
            chunks += v.chunks if isinstance(v, pa.ChunkedArray) else [v]
        cells[col] = pa.chunked_array(chunks, type=pa.string())
    lines = np.concatenate([t.lines for t in parts]) if parts else np.zeros(0, dtype=np.int64)
    return Table(path, tuple(columns), cells, lines)


def _expected_text(expected: Sequence[str]) -> str:
    return "expected columns: " + ", ".join(expected)


# --------------------------------------------------------------------------- reading

#: ASCII characters ``str.strip`` removes that can sit in an unquoted cell of a line.
_ASCII_WS = b" \t\x0b\x0c\x1c\x1d\x1e\x1f\r"
_TRIM_CHARS = " \t\x0b\x0c\x1c\x1d\x1e\x1f"
_TRIM_BYTES = tuple(bytes([c]) for c in _TRIM_CHARS.encode("ascii"))
_LONE_CR = re.compile(rb"\r(?!\n)")


@dataclass
class _Reader:
    """The state of one file being read (shared by the fast and the ``csv`` paths)."""

    path: PathLike
    expected: Sequence[str]
    report: TraceReport
    header: bool | None
    optional: Sequence[str]
    delimiter: str
    alias_of: dict[str, str]
    #: Columns the caller reads only as numbers (:meth:`RowCheck.number`): the fast path
    #: parses them in pyarrow straight to float64, or int64 for ``integers``.
    numbers: frozenset[str] = frozenset()
    integers: frozenset[str] = frozenset()
    #: Columns of ``expected`` that must be there but are not read (no cells made).
    unread: frozenset[str] = frozenset()
    names: list[str] | None = None
    wanted: list[str] = field(default_factory=list)
    line: int = 0  # physical lines consumed so far
    typed_misses: int = 0  # blocks whose number columns had to be parsed as text
    quoted_headers: int = 0  # quoted header lines read apart from the rows after them
    csv_rows: int = 0  # rows parsed by Python's ``csv`` (the slow path) on the reading thread

    @property
    def label(self) -> str:
        return str(self.path)

    def first_row(self, row: list[str], line: int) -> tuple[bool, list[str]]:
        """The file's first non-blank row (stripped cells): (is it a header, the column
        names). Raises :class:`TraceError` for missing columns, or a headerless first row
        with the wrong number of fields."""
        row = list(row)
        row[0] = row[0].lstrip("\ufeff")
        expected = self.expected
        if self.header or (self.header is None and [c.lower() for c in row] == [e.lower() for e in expected]):
            names = [self.alias_of.get(c, c) for c in row]
            missing = [e for e in expected if e not in names]
            if missing:
                raise TraceError(
                    f"missing column(s) {', '.join(missing)}; {_expected_text(expected)}"
                    f" (found: {', '.join(names)})",
                    file=self.label,
                    line=line,
                    column=missing[0],
                )
            return True, names
        if len(row) != len(expected):
            raise TraceError(
                f"{len(row)} fields where {len(expected)} were expected; {_expected_text(expected)}",
                file=self.label,
                line=line,
            )
        return False, list(expected)

    def set_names(self, names: list[str]) -> None:
        self.names = names
        self.wanted = self.read_columns(names)

    def read_columns(self, names: Sequence[str]) -> list[str]:
        """The columns of a file with columns ``names`` that are read, in the caller's order."""
        return [c for c in (*self.expected, *self.optional) if c in names and c not in self.unread]

    def empty(self) -> Table:
        return Table(self.label, tuple(self.wanted), {c: pa.array([], pa.string()) for c in self.wanted},
                     np.zeros(0, dtype=np.int64))

    # ----------------------------------------------------------------- python csv path

    def python_rows(self, lines: Iterable[str], batch_rows: int, tally: _Tally | None = None,
                    offset: int | None = None) -> Iterator[Table]:
        """Rows of ``lines`` (text lines with their ends, continuing the file) through
        ``csv.reader``, exactly as the readers have always parsed. With a ``tally`` (a
        block parsed off the reading thread: the column names are known) the state is
        left alone and the rows read and bad rows go to the tally, lines from ``offset``."""
        reader = csv.reader(lines, delimiter=self.delimiter)
        sink: TraceReport | _Tally = self.report if tally is None else tally
        start = self.line if offset is None else offset
        rows: list[list[str]] = []
        numbers: list[int] = []
        for raw in reader:
            if not raw or (len(raw) == 1 and not raw[0].strip()):
                continue
            row = [c.strip() for c in raw]
            line = start + reader.line_num
            if self.names is None:
                is_header, names = self.first_row(row, line)
                self.set_names(names)
                if is_header:
                    continue
            sink.rows_read += 1
            if tally is None:
                self.csv_rows += 1
            assert self.names is not None
            if len(row) != len(self.names):
                sink.drop("wrong_field_count", 1, [Where(file_label(self.path), line)])
                continue
            rows.append(row)
            numbers.append(line)
            if len(rows) >= batch_rows:
                yield self._rows_table(rows, numbers)
                rows, numbers = [], []
        if tally is None:
            self.line = start + reader.line_num
        if rows:
            yield self._rows_table(rows, numbers)

    def _rows_table(self, rows: list[list[str]], numbers: list[int]) -> Table:
        assert self.names is not None
        index = {name: i for i, name in enumerate(self.names)}
        cells: dict[str, Cells] = {col: pa.array([r[index[col]] for r in rows], type=pa.string())
                                   for col in self.wanted}
        return Table(self.label, tuple(self.wanted), cells, np.asarray(numbers, dtype=np.int64))

    # ----------------------------------------------------------------- fast path

    def fast_block(self, buf: _Bytes) -> Table | None:
        """Cells of a block of whole lines that is ASCII without quotes, NUL bytes or lone
        carriage returns, or None (nothing changed) when pyarrow does not find the rows the
        line scan found, for the caller to parse the block with ``csv`` instead. Reads the
        header when the column names are not known yet."""
        names = self.names
        header_at = -1
        cut = 0  # offset of the bytes handed to pyarrow (after a header)
        n_lines = buf.count(b"\n")
        if names is None:
            first_nl = buf.find(b"\n")
            if b"\r" not in buf and first_nl > 0 and buf[:first_nl].strip(_ASCII_WS):
                j, line = 0, buf[:first_nl]
            else:
                _, starts, ends = _scan(np.frombuffer(buf, dtype=np.uint8), n_lines)
                j = self._first_text_line(buf, starts, ends)
                if j < 0:
                    self.line += n_lines
                    return self.empty()
                line = buf[starts[j]:ends[j]]
            row = [c.strip() for c in line.decode("ascii").split(self.delimiter)]
            is_header, names = self.first_row(row, self.line + 1 + j)
            if is_header:
                header_at = j
                cut = _nth_line_end(buf, j) + 1
        parsed = self._fast_cells(buf, names, self.line, n_lines, header_at, cut)
        if parsed is None:
            return None
        # Commit: nothing above changed the state.
        if self.names is None:
            self.set_names(names)
        parsed.tally.commit(self.report)
        self.line += n_lines
        return parsed.tables[0] if parsed.tables else self.empty()

    def _fast_cells(self, buf: _Bytes, names: list[str], offset: int, n_lines: int, header_at: int = -1,
                    cut: int = 0) -> _Parsed | None:
        """The fast path's parse of ``buf`` (lines ``offset + 1``...; a header, if any, at
        line index ``header_at`` ending before ``cut``), changing no state: None when the
        block must be parsed by ``csv`` (see :meth:`fast_block`)."""
        arr = np.frombuffer(buf, dtype=np.uint8)
        tally = _Tally()
        # The usual block has no CR and a non-blank first line. If pyarrow then finds a
        # row on every line after the header, each line is a data row and no per-byte line
        # scan is needed; otherwise (empty, blank or malformed lines) the scan finds them.
        first_nl = buf.find(b"\n")
        plain = b"\r" not in buf and first_nl > 0 and bool(buf[:first_nl].strip(_ASCII_WS))
        if len(set(names)) != len(names) or len(names) == 1:
            return None  # duplicate names, or blank lines pyarrow would take for rows: csv
        wanted = self.read_columns(names)
        numbers = offset + 1 + np.arange(n_lines, dtype=np.int64)
        after_header = n_lines - (header_at + 1)
        if plain:
            # Nothing after the header (pyarrow rejects an empty input): every line there
            # is empty, i.e. its only byte is its LF.
            nothing = len(buf) - cut == after_header
        else:
            nl, starts, ends = _scan(arr, n_lines)
            nothing = not (ends[header_at + 1:] > starts[header_at + 1:]).any()
        if nothing:
            return _Parsed([], tally)
        invalid: list[int] = []

        def on_invalid(row: object) -> str:
            invalid.append(1)
            return "skip"

        def parse(typed: bool) -> pa.Table:
            invalid.clear()
            types = {c: pa.string() for c in names}
            if typed:
                types.update({c: pa.float64() for c in self.numbers if c in types})
                types.update({c: pa.int64() for c in self.integers if c in types})
            return pacsv.read_csv(
                pa.BufferReader(pa.py_buffer(buf).slice(cut)),  # (no copy of the block)
                read_options=pacsv.ReadOptions(column_names=names, block_size=max(_ARROW_BLOCK, len(buf)),
                                               use_threads=_ARROW_THREADS),
                parse_options=pacsv.ParseOptions(delimiter=self.delimiter, quote_char=False,
                                                 invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(column_types=types, include_columns=wanted,
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False,
                                                     null_values=_NULL_WORDS if typed else []),
            )

        table = None
        # (After a few blocks that needed their text, the rest of the file is read as
        # text at once rather than parsed twice: the same cells either way.)
        if (self.numbers or self.integers) and self.typed_misses < _TYPED_MISSES:
            try:
                table = parse(True)
            except pa.ArrowInvalid:
                table = None  # a cell that is not a plain number: every column as text
            if table is not None and not all(_typed_ok(table.column(c)) for c in wanted
                                             if not pa.types.is_string(table.schema.field(c).type)):
                table = None
            if table is None:
                self.typed_misses += 1  # (worker threads: a lost count only costs time)
        if table is None:
            table = parse(False)
        if plain and not invalid and table.num_rows == after_header:
            rows = numbers[header_at + 1:]  # every line after the header is a row
            tally.rows_read = len(rows)
        else:
            if plain:
                nl, starts, ends = _scan(arr, n_lines)
            nonempty = ends > starts
            nonempty[: header_at + 1] = False
            if not invalid:
                # Every line pyarrow saw had the right number of fields: data lines are the
                # non-empty ones (after the header), and none is blank or malformed.
                data = nonempty
                wrong = np.zeros(n_lines, dtype=bool)
            else:
                # Field counts and blank (whitespace-only) lines, line by line.
                dpos = np.flatnonzero(arr == ord(self.delimiter))
                n_delim = np.searchsorted(dpos, ends) - np.searchsorted(dpos, starts)
                blank = n_delim == 0
                for i in np.flatnonzero(blank & nonempty):
                    if buf[starts[i]:ends[i]].strip(_ASCII_WS):
                        blank[i] = False
                data = ~blank
                data[: header_at + 1] = False
                wrong = data & (n_delim + 1 != len(names))
            good = data & ~wrong
            if table.num_rows != int(good.sum()):
                return None
            tally.rows_read = int(data.sum())
            if wrong.any():
                idx = np.flatnonzero(wrong)
                tally.drop("wrong_field_count", len(idx),
                           (Where(file_label(self.path), int(numbers[i])) for i in idx[:MAX_EXAMPLES]))
            rows = numbers[good]
        trim = any(c in buf for c in _TRIM_BYTES)
        cells: dict[str, Cells] = {}
        for col in wanted:
            values = table.column(col).combine_chunks()
            typed = not pa.types.is_string(values.type)
            cells[col] = pc.utf8_trim(values, characters=_TRIM_CHARS) if trim and not typed else values
        return _Parsed([Table(self.label, tuple(wanted), cells, rows)] if len(rows) else [], tally)

    def _block(self, buf: _Bytes, offset: int, n_lines: int, batch_rows: int) -> _Parsed:
        """One block of ``n_lines`` lines without quotes, the column names known, parsed
        without changing the state (off the reading thread): by pyarrow when it can, else
        by ``csv``."""
        if _fast_candidate(buf):
            assert self.names is not None
            parsed = self._fast_cells(buf, self.names, offset, n_lines)
            if parsed is not None:
                return parsed
        tally = _Tally()
        tables = list(self.python_rows(io.StringIO(buf.decode("utf-8")), batch_rows, tally, offset))
        return _Parsed(tables, tally)

    @staticmethod
    def _first_text_line(buf: _Bytes, starts: np.ndarray, ends: np.ndarray) -> int:
        """Index of the first line that is not blank (whitespace only), or -1."""
        for i in range(len(starts)):
            if buf[starts[i]:ends[i]].strip(_ASCII_WS):
                return i
        return -1

    # ----------------------------------------------------------------- driver

    def tables(self, block_size: int | None, fn: Callable[[Table], _T] | None = None) -> Iterator[_T]:
        """Batches of rows of the whole file (see :func:`iter_tables`), each passed
        through ``fn`` (in a worker thread when blocks are parsed ahead)."""
        block_size = block_size or DEFAULT_BLOCK_SIZE
        batch_rows = max(1024, block_size // 64)
        apply: Callable[[Table], Any] = fn if fn is not None else _identity
        workers = WORKERS
        pool: ThreadPoolExecutor | None = None
        pending: deque[tuple[Future[tuple[_Parsed, list[Any]]], _Bytes]] = deque()
        free: deque[bytearray] = deque()  # blocks parsed, read into again

        def done(job: tuple[Future[tuple[_Parsed, list[Any]]], _Bytes]) -> list[Any]:
            future, block = job
            parsed, outputs = future.result()
            parsed.tally.commit(self.report)
            if isinstance(block, bytearray):
                free.append(block)
            return outputs

        try:
            with open_binary(self.path) as fh:
                blocks = self._guarded(_blocks(fh, block_size, free))
                for block in blocks:
                    if b'"' in block and self.names is None:
                        # A quoted header (as ``pyarrow.csv.write_csv`` writes it) with no
                        # quote after it: the header through ``csv``, the rows as usual.
                        block = self._quoted_header(block)
                    if b'"' in block:
                        # A quoted cell may span lines: csv reads the rest of the file.
                        while pending:
                            yield from done(pending.popleft())
                        for table in self._guarded(self.python_rows(_text_lines(block, blocks), batch_rows)):
                            yield apply(table)
                        break
                    if self.names is None and workers > 1 and _fast_candidate(block):
                        block = self._header(block)
                    if self.names is None or workers <= 1:
                        for table in self._sequential_block(block, batch_rows):
                            yield apply(table)
                        continue
                    # The column names are known: later blocks are parsed ahead, in worker
                    # threads (pyarrow and numpy release the GIL), their results taken in
                    # file order. The line offset of each is known from its line ends.
                    if not block:
                        continue
                    if pool is None:
                        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="k8sim-trace")
                    # (Its lines are counted once, here: the next block's offset needs them.)
                    n_lines = block.count(b"\n")
                    pending.append((pool.submit(self._block_job, block, self.line, n_lines, batch_rows, apply), block))
                    self.line += n_lines
                    while len(pending) > workers:
                        yield from done(pending.popleft())
                while pending:
                    yield from done(pending.popleft())
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        if self.names is None:
            raise TraceError(f"no data rows; {_expected_text(self.expected)}", file=self.label)

    def _quoted_header(self, block: _Bytes) -> _Bytes:
        """When ``block``'s first line is a non-blank header with quotes (a whole record:
        an even number of quote characters) and no quote follows it in the block, that line's column names (read by ``csv``,
        as the rest of the file would have read them) and the lines after it; else
        ``block`` unchanged (a quoted first data row of a headerless file included)."""
        first_nl = block.find(b"\n")
        if first_nl <= 0 or block.count(b'"', 0, first_nl) % 2 or b'"' in block[first_nl + 1:]:
            return block
        try:
            head = bytes(block[:first_nl + 1]).decode("utf-8")
            records = list(csv.reader([head], delimiter=self.delimiter))
        except (UnicodeDecodeError, csv.Error):
            return block
        if len(records) != 1 or not records[0] or (len(records[0]) == 1 and not records[0][0].strip()):
            return block  # (a blank line)
        row = [c.strip() for c in records[0]]
        row[0] = row[0].lstrip("\ufeff")
        expected = self.expected
        if not (self.header or (self.header is None and [c.lower() for c in row] == [e.lower() for e in expected])):
            return block
        _, names = self.first_row(row, self.line + 1)
        self.set_names(names)
        self.quoted_headers += 1
        self.line += 1
        return block[first_nl + 1:]

    def _header(self, block: _Bytes) -> _Bytes:
        """When ``block`` (ASCII, no quote) starts with a non-blank line, that line's
        column names (as :meth:`fast_block` reads them) and the rest of the block: the
        lines after a header, or all of a headerless file's. Else ``block`` unchanged."""
        first_nl = block.find(b"\n")
        head = block[:first_nl]
        if first_nl <= 0 or b"\r" in head or not head.strip(_ASCII_WS):
            return block
        row = [c.strip() for c in head.decode("ascii").split(self.delimiter)]
        is_header, names = self.first_row(row, self.line + 1)
        self.set_names(names)
        if not is_header:
            return block
        self.line += 1
        return block[first_nl + 1:]

    def _block_job(self, block: _Bytes, offset: int, n_lines: int, batch_rows: int,
                   apply: Callable[[Table], Any]) -> tuple[_Parsed, list[Any]]:
        parsed = self._unreadable_as_error(self._block, block, offset, n_lines, batch_rows)
        return parsed, [apply(t) for t in parsed.tables]

    def _sequential_block(self, block: _Bytes, batch_rows: int) -> list[Table]:
        def parse() -> list[Table]:
            fast = self.fast_block(block) if _fast_candidate(block) else None
            if fast is None:
                return list(self.python_rows(io.StringIO(block.decode("utf-8")), batch_rows))
            return [fast] if len(fast) else []
        return self._unreadable_as_error(parse)

    def _unreadable_as_error(self, f: Callable[..., _T], *args: Any) -> _T:
        try:
            return f(*args)
        except _UNREADABLE as exc:
            raise TraceError(f"unreadable file: {exc}", file=self.label) from None

    def _guarded(self, items: Iterator[_T]) -> Iterator[_T]:
        """``items`` with a read or parse error raised as :class:`TraceError`."""
        while True:
            try:
                item = next(items)
            except StopIteration:
                return
            except _UNREADABLE as exc:
                raise TraceError(f"unreadable file: {exc}", file=self.label) from None
            yield item


_UNREADABLE = (UnicodeDecodeError, csv.Error, OSError, EOFError, pa.ArrowInvalid)


def _identity(table: Table) -> Table:
    return table


def _fast_candidate(block: _Bytes) -> bool:
    """ASCII, no NUL byte, no lone carriage return (and, checked before, no quote)."""
    return block.isascii() and b"\x00" not in block and (b"\r" not in block or not _LONE_CR.search(block))


#: Blocks of a file whose number columns needed their text before the rest of the file
#: is parsed as text at once.
_TYPED_MISSES = 3

#: Cells a typed column reads as null: the words :meth:`RowCheck.number` takes for empty.
_NULL_WORDS = ["", "nan", "NaN", "NAN", "null", "NULL", "None", "NA"]


def _typed_ok(column: pa.ChunkedArray) -> bool:
    """Whether a column pyarrow parsed as numbers holds what parsing its text would give:
    no non-finite number (``inf``, a NaN spelling that is not a null word: the text
    decides those) and, for doubles, none at or past 2**63 in magnitude (whose text
    decides whether it fits in an int64)."""
    if pa.types.is_integer(column.type):
        return True
    values = np.asarray(column.to_numpy())
    with np.errstate(invalid="ignore"):
        if (np.abs(values) >= 2.0**63).any():
            return False
    return int(np.isnan(values).sum()) == column.null_count


def _scan(arr: np.ndarray, n_lines: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets of each line's LF, start and end (a CR before the LF excluded)."""
    nl = np.flatnonzero(arr == 10)
    starts = np.zeros(n_lines, dtype=np.int64)
    starts[1:] = nl[:-1] + 1
    ends = nl.astype(np.int64)
    ends -= (ends > starts) & (arr[np.maximum(ends - 1, 0)] == 13)  # a CR before the LF
    return nl, starts, ends


def _nth_line_end(buf: _Bytes, j: int) -> int:
    """Offset of the LF ending line ``j`` (0-based) of ``buf``."""
    pos = -1
    for _ in range(j + 1):
        pos = buf.index(b"\n", pos + 1)
    return pos


class _Tally:
    """Rows read and rows dropped while a block is parsed off the reading thread, added
    to the report when the block's turn comes (file order)."""

    def __init__(self) -> None:
        self.rows_read = 0
        self.drops: dict[str, tuple[int, list[Where]]] = {}

    def drop(self, reason: str, count: int, places: Iterable[Where] = ()) -> None:
        if count <= 0:
            return
        total, kept = self.drops.get(reason, (0, []))
        for where in places:
            if len(kept) >= MAX_EXAMPLES:
                break
            kept.append(where)
        self.drops[reason] = (total + count, kept)

    def commit(self, report: TraceReport) -> None:
        report.rows_read += self.rows_read
        for reason, (count, places) in self.drops.items():
            report.drop(reason, count, places)


@dataclass
class _Parsed:
    """What one block gave: its tables and its tally."""

    tables: list[Table]
    tally: _Tally


def _buffer(free: deque[bytearray], size: int) -> bytearray:
    """A buffer of ``size`` bytes: one of ``free`` (blocks whose parse is done) when one
    has most of that size already allocated, else a new one. (A new buffer of a block's
    size is zero-filled and its pages faulted in: about twice what reading into it costs.)"""
    while free:
        buf = free.pop()
        if len(buf) < size // 2:
            continue  # (shrunk to its size when cut: growing it would copy it)
        try:
            # (A resize fails while anything still refers to the bytes: then the buffer is
            # not written to.)
            buf.append(0)
            if len(buf) < size:
                buf.extend(bytes(size - len(buf)))  # (the few bytes cut off the block)
            else:
                del buf[size:]
        except BufferError:
            continue
        return buf
    return bytearray(size)


def _blocks(fh: BinaryIO, block_size: int, free: deque[bytearray] | None = None) -> Iterator[_Bytes]:
    """The file's bytes in blocks of whole lines (each ending with ``\n``, the last too).

    Each block is read into a buffer of its own after the partial line carried over from
    the previous one, so no block is copied. Buffers the caller puts back in ``free``
    (blocks it is done with: nothing refers to their bytes) are read into again."""
    carry = b""
    while True:
        buf = _buffer(free, len(carry) + block_size) if free is not None else bytearray(len(carry) + block_size)
        buf[:len(carry)] = carry
        view = memoryview(buf)
        filled = len(carry)
        while filled < len(buf):
            got = fh.readinto(view[filled:])  # type: ignore[attr-defined]
            if not got:
                break
            filled += got
        view.release()
        if filled == len(carry):
            break
        cut = buf.rfind(b"\n", 0, filled)
        if cut < 0:
            carry = bytes(buf[:filled])
            continue
        carry = bytes(buf[cut + 1:filled])
        del buf[cut + 1:]
        yield buf
    if carry:
        yield carry + b"\n"


def _text_lines(first: _Bytes, rest: Iterator[_Bytes]) -> Iterator[str]:
    """Text lines (split at ``\n`` only, ends kept) of ``first`` and then of ``rest``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    pending = ""
    for block in itertools.chain([first], rest):
        text = pending + decoder.decode(block)
        lines = io.StringIO(text).readlines()
        pending = lines.pop() if lines and not lines[-1].endswith("\n") else ""
        yield from lines
    tail = pending + decoder.decode(b"", final=True)
    if tail:
        yield tail


def _reader(path: PathLike, expected: Sequence[str], report: TraceReport, header: bool | None,
            optional: Sequence[str], delimiter: str, aliases: Mapping[str, Sequence[str]] | None,
            numbers: Iterable[str] = (), integers: Iterable[str] = (), unread: Iterable[str] = ()) -> _Reader:
    return _Reader(path, expected, report, header, optional, delimiter,
                   {alt: name for name, alts in (aliases or {}).items() for alt in alts},
                   frozenset(numbers), frozenset(integers), frozenset(unread))


class TableBatches(Generic[_T]):
    """The batches of a delimited file (what :func:`iter_tables` returns): iterating
    gives :class:`Table` batches in file order; :meth:`map` gives ``fn`` of each, in file
    order, ``fn`` running in the threads that parse the blocks."""

    def __init__(self, reader: _Reader, block_size: int | None) -> None:
        self._reader = reader
        self._block_size = block_size

    def __iter__(self) -> Iterator[Table]:
        return self._reader.tables(self._block_size)

    def map(self, fn: Callable[[Table], _T]) -> Iterator[_T]:
        """``fn(table)`` for each batch, in file order. ``fn`` runs in a worker thread
        while later blocks are parsed, so it must not touch shared state (the report
        included: record drops in a :class:`DeferredDrops`, one per batch)."""
        return self._reader.tables(self._block_size, fn)


def iter_tables(
    path: PathLike,
    expected: Sequence[str],
    report: TraceReport,
    *,
    header: bool | None,
    optional: Sequence[str] = (),
    delimiter: str = ",",
    aliases: Mapping[str, Sequence[str]] | None = None,
    block_size: int | None = None,
    numbers: Iterable[str] = (),
    integers: Iterable[str] = (),
    unread: Iterable[str] = (),
) -> TableBatches[Any]:
    """The rows of a delimited file as :class:`Table` batches, in file order, each from
    about ``block_size`` bytes of input (default :data:`DEFAULT_BLOCK_SIZE`, read when
    iterated; arguments and errors as :func:`read_table`).
    ``report.rows_read`` and ``wrong_field_count`` drops are recorded as batches are
    read, in file order. Every batch has the same columns. Once the header is read,
    up to :data:`WORKERS` later blocks are parsed ahead in threads; with
    :meth:`TableBatches.map` the reader's own work on each batch runs there too.

    ``numbers`` (``integers``): columns the caller reads only through
    :meth:`RowCheck.number`. Where a block can be, pyarrow parses them straight to
    float64 (int64) cells instead of text (no text is made of them); a block with a
    cell that is not a plain number, a null word or, for ``numbers``, finite and within
    the int64 range, has them as text like the other columns. Either way
    :meth:`RowCheck.number` gives the same values and drops.

    ``unread``: columns of ``expected`` the caller does not use. The header must have
    them all the same, and rows their fields, but no cells are made of them (the
    batches do not have them)."""
    return TableBatches(_reader(path, expected, report, header, optional, delimiter, aliases, numbers, integers,
                                unread), block_size)


def read_table(
    path: PathLike,
    expected: Sequence[str],
    report: TraceReport,
    *,
    header: bool | None,
    optional: Sequence[str] = (),
    delimiter: str = ",",
    aliases: Mapping[str, Sequence[str]] | None = None,
    block_size: int | None = None,
) -> Table:
    """Read a delimited file into string columns.

    ``header=True``: the first non-blank line names the columns; all of ``expected`` must
    be there (else :class:`TraceError`), ``optional`` ones are read when present, others
    ignored. ``header=False``: the file has exactly the columns ``expected``, in order.
    ``header=None``: like ``False``, but a first line equal to the column names is
    skipped. Blank lines are skipped; a data row with the wrong number of fields is
    dropped (``wrong_field_count``), except on the first data row of a headerless file,
    where it means the file is not in this format (:class:`TraceError`). ``aliases``
    maps a column name to other header spellings accepted for it.
    """
    state = _reader(path, expected, report, header, optional, delimiter, aliases)
    parts: list[Table] = list(state.tables(block_size))
    return concat_tables(str(path), parts, state.wanted)


# --------------------------------------------------------------------------- checking

_MISSING_WORDS = frozenset({"", "nan", "NaN", "NAN", "null", "NULL", "None", "NA"})
_MISSING_SET = pa.array(sorted(_MISSING_WORDS), type=pa.string())
#: The missing-value words that are not already the empty string.
_MISSING_WORDS_SET = pa.array(sorted(_MISSING_WORDS - {""}), type=pa.string())
#: Plain decimal numbers, which pyarrow and pandas parse to the same double.
PLAIN_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"

#: Numeric cells must lie in the int64 range: a cell past it would wrap to a negative
#: int64 once stored. (2**63 - 1 itself is a sentinel of some traces, Google 2019's
#: "end of trace" time.)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _outside_int64(raw: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mask of cells whose number is outside the int64 range. float64 rounds 2**63 - 1
    up to 2**63, so the few cells at or past that magnitude are judged by their text."""
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero(np.abs(values) >= 2.0**63)
    out = np.zeros(len(values), dtype=bool)
    for i in near:
        try:
            out[i] = not INT64_MIN <= int(str(raw[i]).strip()) <= INT64_MAX
        except ValueError:
            out[i] = True  # not an integer (1e19, say): past the range
    return out


class RowCheck:
    """Drops bad rows of a :class:`Table`, recording each in the report once.

    ``ok`` is the mask of rows still good; each check records newly rejected rows under
    its reason with the row's line and the column at fault.
    """

    def __init__(self, table: Table, report: TraceReport | DeferredDrops) -> None:
        self.table = table
        self.report = report
        self.ok = np.ones(len(table), dtype=bool)

    def reject(self, mask: np.ndarray, reason: str, column: str | None = None) -> None:
        new = np.asarray(mask, dtype=bool) & self.ok
        idx = np.flatnonzero(new)
        # Recorded even when empty: a DeferredDrops numbers the checks by their calls.
        self.report.drop(reason, len(idx), (self.table.where(int(i), column) for i in idx[:MAX_EXAMPLES]))
        if len(idx):
            self.ok &= ~new

    def _text_cells(self, column: str) -> Cells:
        raw = self.table.cells[column]
        if not isinstance(raw, np.ndarray) and not pa.types.is_string(raw.type):
            raise TypeError(f"column {column!r} was parsed as numbers (iter_tables numbers=/integers=)")
        return raw

    def strings(self, column: str, *, nan_is_empty: bool = True) -> pa.Array:
        """``column`` as a pyarrow string array (``"nan"``-like words become ``""`` if asked)."""
        raw = as_arrow(self._text_cells(column))
        if isinstance(raw, pa.ChunkedArray):
            raw = raw.combine_chunks()
        if nan_is_empty:
            # (Empty cells stay as they are: only a column holding a word is rewritten.)
            words = pc.is_in(raw, value_set=_MISSING_WORDS_SET)
            if words.true_count:
                raw = pc.if_else(words, "", raw)
        return raw

    def missing(self, column: str) -> np.ndarray:
        """Mask of rows whose ``column`` is empty (or a NaN / null word)."""
        raw = self.table.cells[column]
        if isinstance(raw, np.ndarray):
            return np.fromiter((v in _MISSING_WORDS for v in raw), dtype=bool, count=len(raw))
        if not pa.types.is_string(raw.type):
            return _bool_numpy(raw.is_null())
        return _bool_numpy(pc.is_in(raw, value_set=_MISSING_SET))

    def number(self, column: str, *, required: bool = True, minimum: float | None = None) -> np.ndarray:
        """Parse ``column`` as floats; NaN where empty.

        Unparseable (or infinite) values drop the row as ``bad_number``; values outside
        the int64 range as ``out_of_range``; empty ones as
        ``missing_value`` when ``required``; values below ``minimum`` as
        ``negative_value``. Plain decimal numbers are parsed by pyarrow, anything else
        by :func:`pandas.to_numeric` (both give the correctly rounded double).
        """
        raw = self.table.cells[column]
        if not isinstance(raw, np.ndarray) and not pa.types.is_string(raw.type):
            # Parsed by pyarrow as numbers (see ``iter_tables``): nulls are the empty cells,
            # and every other value is finite and within the int64 range.
            # The same checks are made, in the same order (a DeferredDrops counts them).
            values = np.asarray(raw.to_numpy(zero_copy_only=False), dtype=float)
            # (A check that rejects nothing is recorded without a pass over the rows.)
            self.report.drop("bad_number", 0)
            self.report.drop("out_of_range", 0)
            if required:
                if raw.null_count:
                    self.reject(np.isnan(values), "missing_value", column)
                else:
                    self.report.drop("missing_value", 0)
            if minimum is not None:
                with np.errstate(invalid="ignore"):
                    self.reject(values < minimum, "negative_value", column)
            return values
        quick = None if isinstance(raw, np.ndarray) else _parse_plain_numbers(raw)
        if quick is not None:
            values, empty = quick
        else:
            empty = self.missing(column)
            if isinstance(raw, np.ndarray):
                series = pd.Series(raw, dtype=object).where(~empty, None)
                values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            else:
                values = _parse_numbers(raw, empty)
        self.reject(~empty & ~np.isfinite(values), "bad_number", column)
        self.reject(_outside_int64(raw, values), "out_of_range", column)
        if required:
            self.reject(empty, "missing_value", column)
        values = np.where(np.isfinite(values), values, np.nan)
        if minimum is not None:
            self.reject(values < minimum, "negative_value", column)
        return values

    def text(self, column: str, *, nan_is_empty: bool = True) -> np.ndarray:
        """``column`` as strings (``"nan"``-like words become ``""`` if asked)."""
        raw = self._text_cells(column)
        if isinstance(raw, np.ndarray):
            if not nan_is_empty:
                return raw
            out = raw.copy()
            out[self.missing(column)] = ""
            return out
        if nan_is_empty:
            raw = pc.if_else(pc.is_in(raw, value_set=_MISSING_SET), "", raw)
        return to_object_array(raw)


class DeferredDrops:
    """Stands in for a :class:`TraceReport` while one batch of a file is checked, so that
    a file checked batch by batch reports exactly what checking it whole would: the drop
    counts are sums either way, but each reason keeps only its first places, and checking
    the whole file visits the checks in order over all rows (the first check's rows of
    every batch before the second check's). :func:`replay_drops` puts them in that order.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, list[Where]]] = []

    def drop(self, reason: str, count: int, places: Iterable[Where] = ()) -> None:
        kept: list[Where] = []
        if count > 0:
            for where in places:
                if len(kept) >= MAX_EXAMPLES:
                    break
                kept.append(where)
        self.calls.append((reason, count, kept))


def replay_drops(report: TraceReport, batches: Sequence[DeferredDrops]) -> None:
    """Record the drops of ``batches`` (in file order) in ``report``: check by check,
    each check's batches in order."""
    steps = max((len(b.calls) for b in batches), default=0)
    for step in range(steps):
        for b in batches:
            if step < len(b.calls):
                reason, count, places = b.calls[step]
                report.drop(reason, count, places)


def _bool_numpy(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)


def _parse_plain_numbers(raw: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    """(doubles, empty mask) of a column that pyarrow casts whole (the usual column: no
    empty cell, no word but ``nan``), or None for :func:`_parse_numbers` to parse. Gives
    what it would: NaN where empty, and non-finite cells that are not ``nan`` words
    parsed by :func:`pandas.to_numeric`. Only the non-finite cells are looked at twice."""
    if len(raw) and pc.min(pc.binary_length(raw)).as_py() == 0:
        return None  # an empty cell: the cast would fail, after a pass over the column
    try:
        values = np.array(pc.cast(raw, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    except pa.ArrowInvalid:
        return None
    empty = np.zeros(len(values), dtype=bool)
    odd = np.flatnonzero(~np.isfinite(values))
    if len(odd):
        cells = raw.take(pa.array(odd))
        words = _bool_numpy(pc.is_in(cells, value_set=_MISSING_SET))
        empty[odd[words]] = True
        values[odd[words]] = np.nan
        other = odd[~words]
        if len(other):
            text = to_object_array(raw.take(pa.array(other)))
            values[other] = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(
                dtype=float, na_value=np.nan)
    return values, empty


def _parse_numbers(raw: pa.Array | pa.ChunkedArray, empty: np.ndarray) -> np.ndarray:
    """Doubles of the cells of ``raw`` (NaN where empty or unparseable).

    pyarrow casts the column at once; where it cannot (or gives a non-finite value),
    cells that are not plain decimal numbers are parsed by :func:`pandas.to_numeric`."""
    filled = pc.if_else(pa.array(empty), "nan", raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw)
    try:
        values = np.array(pc.cast(filled, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        other = np.flatnonzero(~np.isfinite(values) & ~empty)
    except pa.ArrowInvalid:
        plain = pc.match_substring_regex(filled, PLAIN_NUMBER)
        values = np.array(pc.cast(pc.if_else(plain, filled, "nan"), pa.float64()).to_numpy(zero_copy_only=False),
                          dtype=float)
        other = np.flatnonzero(~_bool_numpy(plain) & ~empty)
    if len(other):
        text = to_object_array(raw.take(pa.array(other)))
        values[other] = pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
    return values
