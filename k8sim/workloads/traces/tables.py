"""Trace files as tables of string cells: reading delimited files, checking cells row by row.

:func:`read_table` reads a CSV (or other delimited) file, plain or gzipped, into a
:class:`Table` of string columns with each row's line number; :class:`RowCheck` parses
its cells into numbers or text and drops bad rows, recording each in the reader's
:class:`~k8sim.workloads.traces.reports.TraceReport` with its line and column. Readers
of other encodings (JSON exports, say) build a :class:`Table` themselves and check it
the same way.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from k8sim.workloads.traces.reports import MAX_EXAMPLES, PathLike, TraceError, TraceReport, Where, file_label

__all__ = ["RowCheck", "Table", "open_text", "read_table"]


def open_text(path: PathLike) -> TextIO:
    """Open a text trace file, transparently gunzipping ``*.gz`` (:class:`TraceError` if absent)."""
    p = Path(path)
    if not p.is_file():
        raise TraceError("no such file", file=str(path))
    if p.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", newline="")
    return open(p, encoding="utf-8", newline="")


@dataclass
class Table:
    """Cells of a CSV file as strings, by column, with each row's line number."""

    path: str
    columns: tuple[str, ...]
    cells: dict[str, np.ndarray]
    lines: np.ndarray

    def __len__(self) -> int:
        return len(self.lines)

    def where(self, i: int, column: str | None = None) -> Where:
        return Where(file_label(self.path), int(self.lines[i]), column)


#: Characters ``str.strip`` removes that can end up in an unquoted cell (line ends only
#: separate records there); a quote (a cell may then hold line ends) counts too.
_STRIPPABLE = ' \t\x0b\x0c\x1c\x1d\x1e\x1f"'


def _expected_text(expected: Sequence[str]) -> str:
    return "expected columns: " + ", ".join(expected)


def read_table(
    path: PathLike,
    expected: Sequence[str],
    report: TraceReport,
    *,
    header: bool | None,
    optional: Sequence[str] = (),
    delimiter: str = ",",
    aliases: Mapping[str, Sequence[str]] | None = None,
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
    alias_of = {alt: name for name, alts in (aliases or {}).items() for alt in alts}
    label = str(path)
    rows: list[list[str]] = []
    lines: list[int] = []
    names: list[str] | None = None
    try:
        with open_text(path) as fh:
            text = fh.read()
        # Cells are stripped of surrounding whitespace; a plain ASCII file without quotes
        # or any whitespace but line ends has none to strip, which saves the per-cell work.
        strip = not text.isascii() or any(c in text for c in _STRIPPABLE)
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        del text
        first = True
        for raw in reader:
            if not raw or (len(raw) == 1 and not raw[0].strip()):
                continue
            row = [c.strip() for c in raw] if strip else raw
            if first:
                first = False
                row[0] = row[0].lstrip("\ufeff")
                if header or (
                    header is None and [c.lower() for c in row] == [e.lower() for e in expected]
                ):
                    names = [alias_of.get(c, c) for c in row]
                    missing = [e for e in expected if e not in names]
                    if missing:
                        raise TraceError(
                            f"missing column(s) {', '.join(missing)}; {_expected_text(expected)}"
                            f" (found: {', '.join(names)})",
                            file=label,
                            line=reader.line_num,
                            column=missing[0],
                        )
                    continue
                names = list(expected)
                if len(row) != len(expected):
                    raise TraceError(
                        f"{len(row)} fields where {len(expected)} were expected; {_expected_text(expected)}",
                        file=label,
                        line=reader.line_num,
                    )
            report.rows_read += 1
            assert names is not None
            if len(row) != len(names):
                report.drop("wrong_field_count", 1, [Where(file_label(path), reader.line_num)])
                continue
            rows.append(row)
            lines.append(reader.line_num)
    except (UnicodeDecodeError, csv.Error, OSError, EOFError) as exc:
        raise TraceError(f"unreadable file: {exc}", file=label) from None
    if names is None:
        raise TraceError(f"no data rows; {_expected_text(expected)}", file=label)
    wanted = [c for c in (*expected, *optional) if c in names]
    index = {name: i for i, name in enumerate(names)}
    cells: dict[str, np.ndarray] = {}
    for col in wanted:
        j = index[col]
        arr = np.empty(len(rows), dtype=object)
        arr[:] = [r[j] for r in rows]
        cells[col] = arr
    return Table(label, tuple(wanted), cells, np.asarray(lines, dtype=np.int64))


_MISSING_WORDS = frozenset({"", "nan", "NaN", "NAN", "null", "NULL", "None", "NA"})

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

    def __init__(self, table: Table, report: TraceReport) -> None:
        self.table = table
        self.report = report
        self.ok = np.ones(len(table), dtype=bool)

    def reject(self, mask: np.ndarray, reason: str, column: str | None = None) -> None:
        new = np.asarray(mask, dtype=bool) & self.ok
        idx = np.flatnonzero(new)
        if len(idx):
            self.report.drop(reason, len(idx), (self.table.where(int(i), column) for i in idx[:MAX_EXAMPLES]))
            self.ok &= ~new

    def missing(self, column: str) -> np.ndarray:
        """Mask of rows whose ``column`` is empty (or a NaN / null word)."""
        raw = self.table.cells[column]
        return np.fromiter((v in _MISSING_WORDS for v in raw), dtype=bool, count=len(raw))

    def number(self, column: str, *, required: bool = True, minimum: float | None = None) -> np.ndarray:
        """Parse ``column`` as floats; NaN where empty.

        Unparseable (or infinite) values drop the row as ``bad_number``; values outside
        the int64 range as ``out_of_range``; empty ones as
        ``missing_value`` when ``required``; values below ``minimum`` as
        ``negative_value``.
        """
        raw = self.table.cells[column]
        empty = self.missing(column)
        series = pd.Series(raw, dtype=object).where(~empty, None)
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
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
        raw = self.table.cells[column]
        if not nan_is_empty:
            return raw
        out = raw.copy()
        out[self.missing(column)] = ""
        return out
