"""What a trace reader tells about its input: the read report and the fatal error.

Each reader returns a :class:`TraceReport`: rows read, pods kept, rows dropped per
reason (with the first :data:`MAX_EXAMPLES` places of each), rows filtered on purpose
(window, sampling, format-specific rules). Bad rows are dropped, not fatal; a
:class:`TraceError` (a :class:`ValueError`) is raised for problems that make the whole
file unusable: missing columns, a file with no data rows, every row bad, or a window
with no pods. It names the file, and the line and column where one applies. Line
numbers are 1-based physical lines of the file, header and comment lines included.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "MAX_EXAMPLES",
    "PathLike",
    "TraceError",
    "TraceReport",
    "Where",
    "file_label",
    "no_rows_error",
]

PathLike = str | os.PathLike[str]

#: How many places (file, line, column) a report keeps per drop reason.
MAX_EXAMPLES = 5


def file_label(path: PathLike) -> str:
    """The name a report or error uses for ``path`` (its base name)."""
    return Path(path).name


class Where(NamedTuple):
    """A place in an input file: file name, 1-based line (or record) and column."""

    file: str
    line: int | None
    column: str | None = None


@dataclass
class TraceReport:
    """What a reader did with its input.

    ``rows_read`` counts data rows (records for event and msgpack formats); ``kept`` the
    pods (or nodes) returned. ``dropped`` counts rows rejected as bad, per reason, and
    ``dropped_at`` keeps the first :data:`MAX_EXAMPLES` places of each reason.
    ``filtered`` counts rows or pods left out on purpose (``outside_window``,
    ``not_sampled`` and format-specific reasons). For formats with one row per pod,
    ``rows_read == kept + sum(dropped) + sum(filtered)``.
    """

    source: str
    rows_read: int = 0
    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_at: dict[str, list[Where]] = field(default_factory=dict)
    filtered: dict[str, int] = field(default_factory=dict)
    clipped_start: int = 0
    clipped_end: int = 0
    notes: list[str] = field(default_factory=list)

    def drop(self, reason: str, count: int, places: Iterable[Where] = ()) -> None:
        """Record ``count`` dropped rows for ``reason`` (keeping the first places)."""
        if count <= 0:
            return
        self.dropped[reason] = self.dropped.get(reason, 0) + count
        kept = self.dropped_at.setdefault(reason, [])
        for where in places:
            if len(kept) >= MAX_EXAMPLES:
                break
            kept.append(where)

    def filter(self, reason: str, count: int) -> None:
        """Record ``count`` rows or pods left out on purpose for ``reason``."""
        if count > 0:
            self.filtered[reason] = self.filtered.get(reason, 0) + count

    def lines(self, reason: str) -> list[int | None]:
        """The recorded line numbers of rows dropped for ``reason``."""
        return [w.line for w in self.dropped_at.get(reason, [])]

    @property
    def n_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def n_filtered(self) -> int:
        return sum(self.filtered.values())

    def summary(self) -> str:
        """One line for logs: counts and reasons."""
        parts = [f"{self.source}: read {self.rows_read}, kept {self.kept}"]
        if self.dropped:
            parts.append("dropped " + ", ".join(f"{k}={v}" for k, v in sorted(self.dropped.items())))
        if self.filtered:
            parts.append("filtered " + ", ".join(f"{k}={v}" for k, v in sorted(self.filtered.items())))
        if self.clipped_start or self.clipped_end:
            parts.append(f"clipped start={self.clipped_start} end={self.clipped_end}")
        return "; ".join(parts)


class TraceError(ValueError):
    """A trace file cannot be used at all. Names the file, and the line/column if any."""

    def __init__(
        self,
        message: str,
        *,
        file: PathLike,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = str(file)
        self.line = line
        self.column = column
        self.message = message
        where = self.file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {message}")


def no_rows_error(file: str, report: TraceReport, what: str = "rows") -> TraceError:
    """The error for a read that kept nothing: no data rows, every row bad (naming the
    first place of each reason), or nothing left after filtering."""
    if report.rows_read == 0:
        return TraceError("no data rows", file=file)
    if report.n_dropped and not report.n_filtered:
        first = {reason: places[0] for reason, places in report.dropped_at.items() if places}
        detail = "; ".join(
            f"{reason} x{report.dropped[reason]} (first at line {w.line}"
            + (f", column {w.column!r}" if w.column else "")
            + ")"
            for reason, w in first.items()
        )
        return TraceError(f"every row is bad: {detail}", file=file)
    return TraceError(
        f"no {what} left (dropped {report.dropped or 0}, filtered {report.filtered or 0})", file=file
    )
