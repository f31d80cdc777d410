"""The normalised workload schema every trace importer produces, and shared machinery.

Pods
----
Every reader returns a :class:`pandas.DataFrame` with exactly the columns of
:data:`POD_COLUMNS`, one row per pod, sorted by ``arrival_s`` (ties keep trace order):

=================  =========  ==========================================================
column             dtype      meaning
=================  =========  ==========================================================
``id``             str        the pod's id in the trace (instance, task, VM or job id)
``arrival_s``      float64    seconds from the start of the trace (or of the window),
                              times ``time_scale``; always finite and >= 0
``duration_s``     float64    how long the pod runs once it is placed, seconds (times
                              ``time_scale``); NaN = unknown, or it runs past the end
                              of the trace / window (then ``clipped_end`` is true)
``cpu_milli``      int64      CPU request, milli-cores
``memory_bytes``   int64      memory request, bytes
``gpu_count``      int64      number of GPUs (whole devices)
``gpu_milli``      int64      milli-GPU used on each of those GPUs, the openb convention:
                              1000 for whole GPUs, 1..999 for a shared GPU (only with
                              ``gpu_count == 1``), 0 when ``gpu_count == 0``
``gpu_model``      str        allowed GPU models, ``""`` = any; alternatives are joined
                              with ``|`` (``"V100M16|V100M32"``)
``priority``       int64      scheduling priority in the trace's own scale (0 if none)
``qos``            str        the trace's own class label (openb ``LS``/``BE``/...,
                              Google ``sc0``..``sc3``, Kubernetes QoS class, ...)
``owner``          str        the job / collection / deployment the pod belongs to,
                              ``""`` if the trace has no grouping
``clipped_start``  bool       the pod existed before the trace / window start: its
                              arrival was clipped to 0 and ``duration_s`` is what was
                              left of its run at the start
``clipped_end``    bool       the pod had not ended by the end of the trace / window,
                              or its end is unknown; ``duration_s`` is NaN
=================  =========  ==========================================================

Nodes
-----
Formats with a machine table have a node reader returning :data:`NODE_COLUMNS`:
``name`` (str), ``cpu_milli``, ``memory_bytes``, ``gpu_count`` (int64) and ``gpu_model``
(str, ``""`` for CPU-only nodes).

Options, reports and errors
---------------------------
Pod readers share :class:`TraceOptions` and an explicit ``rng``
(:class:`numpy.random.Generator`, needed only when sampling). They are applied in this
order: time window (in the trace's own seconds, before scaling), sampling, time scale,
resource scale. A pod is in the window ``[start_s, end_s)`` when it arrives before
``end_s`` and has not ended by ``start_s``; pods already there at ``start_s`` are kept
with ``clipped_start`` set, so the window starts with the cluster as it was.

Each reader also returns a :class:`TraceReport`: rows read, pods kept, rows dropped per
reason (with the first :data:`MAX_EXAMPLES` places of each), rows filtered on purpose
(window, sampling, format-specific rules). Bad rows are dropped, not fatal; a
:class:`TraceError` (a :class:`ValueError`) is raised for problems that make the whole
file unusable: missing columns, a file with no data rows, every row bad, or a window
with no pods. It names the file, and the line and column where one applies. Line
numbers are 1-based physical lines of the file, header and comment lines included.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple, TextIO

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "MAX_EXAMPLES",
    "NODE_COLUMNS",
    "NODE_COLUMN_NAMES",
    "POD_COLUMNS",
    "POD_COLUMN_NAMES",
    "ColumnSpec",
    "PathLike",
    "TraceError",
    "TraceOptions",
    "TraceReport",
    "Where",
    "empty_nodes",
    "empty_pods",
    "validate_nodes",
    "validate_pods",
]

PathLike = str | os.PathLike[str]

#: How many places (file, line, column) a report keeps per drop reason.
MAX_EXAMPLES = 5

MIB = 1 << 20
GIB = 1 << 30


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the normalised schema: name, dtype name and meaning."""

    name: str
    dtype: Literal["str", "float64", "int64", "bool"]
    doc: str


POD_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("id", "str", "original id in the trace"),
    ColumnSpec("arrival_s", "float64", "seconds from the trace (or window) start, scaled"),
    ColumnSpec("duration_s", "float64", "run time once placed, seconds; NaN = unknown / past the end"),
    ColumnSpec("cpu_milli", "int64", "CPU request, milli-cores"),
    ColumnSpec("memory_bytes", "int64", "memory request, bytes"),
    ColumnSpec("gpu_count", "int64", "whole GPUs"),
    ColumnSpec("gpu_milli", "int64", "milli-GPU per GPU: 1000 whole, 1..999 shared, 0 none"),
    ColumnSpec("gpu_model", "str", "allowed GPU models joined by '|', '' = any"),
    ColumnSpec("priority", "int64", "priority in the trace's own scale"),
    ColumnSpec("qos", "str", "the trace's own class label"),
    ColumnSpec("owner", "str", "job / collection id, '' if none"),
    ColumnSpec("clipped_start", "bool", "existed before the trace/window start"),
    ColumnSpec("clipped_end", "bool", "no known end inside the trace/window"),
)
POD_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in POD_COLUMNS)

NODE_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("name", "str", "node / machine id"),
    ColumnSpec("cpu_milli", "int64", "CPU capacity, milli-cores"),
    ColumnSpec("memory_bytes", "int64", "memory capacity, bytes"),
    ColumnSpec("gpu_count", "int64", "number of GPUs"),
    ColumnSpec("gpu_model", "str", "GPU model, '' for CPU-only nodes"),
)
NODE_COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in NODE_COLUMNS)


class TraceOptions(BaseModel):
    """Options common to every pod reader.

    ``start_s`` / ``end_s`` select the window ``[start_s, end_s)`` in the trace's own
    seconds (before ``time_scale``); arrivals are then counted from ``start_s``.
    ``sample_fraction`` keeps exactly ``round(fraction * n)`` pods (or owners, with
    ``sample_by="owner"``), drawn with the ``rng`` handed to the reader.
    ``time_scale`` multiplies arrivals and durations; ``resource_scale`` multiplies CPU
    and memory requests (rounded to the nearest integer; GPUs are not scaled).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_s: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    end_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    time_scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    sample_fraction: float = Field(default=1.0, gt=0, le=1)
    sample_by: Literal["pod", "owner"] = "pod"
    resource_scale: float = Field(default=1.0, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check_window(self) -> TraceOptions:
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self

    @property
    def has_window(self) -> bool:
        return self.start_s is not None or self.end_s is not None


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


# --------------------------------------------------------------------------- frames


def _typed(values: object, dtype: str) -> pd.Series:
    if dtype == "str":
        return pd.Series(values, dtype="str")
    return pd.Series(values, dtype=dtype)


def empty_pods() -> pd.DataFrame:
    """A pods frame with no rows and the schema's dtypes."""
    return pd.DataFrame({c.name: _typed([], c.dtype) for c in POD_COLUMNS})


def empty_nodes() -> pd.DataFrame:
    """A nodes frame with no rows and the schema's dtypes."""
    return pd.DataFrame({c.name: _typed([], c.dtype) for c in NODE_COLUMNS})


def _check_dtypes(df: pd.DataFrame, specs: Sequence[ColumnSpec], what: str) -> list[str]:
    problems: list[str] = []
    missing = [c.name for c in specs if c.name not in df.columns]
    if missing:
        return [f"{what}: missing columns {missing}; expected {[c.name for c in specs]}"]
    for spec in specs:
        col = df[spec.name]
        if spec.dtype == "str":
            ok = pd.api.types.is_string_dtype(col) and not col.isna().any()
            if ok and col.dtype == object:
                ok = all(isinstance(v, str) for v in col)
            if not ok:
                problems.append(f"{what}.{spec.name}: expected strings without missing values")
        elif str(col.dtype) != spec.dtype:
            problems.append(f"{what}.{spec.name}: dtype {col.dtype}, expected {spec.dtype}")
    return problems


def _first_rows(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)[:MAX_EXAMPLES].tolist()
    return f"{int(mask.sum())} rows, first {rows}"


def validate_pods(df: pd.DataFrame) -> pd.DataFrame:
    """Check ``df`` against the pod schema; return it unchanged or raise ``ValueError``.

    Checks the columns and dtypes, and: ``arrival_s`` finite and >= 0; ``duration_s``
    >= 0 or NaN, and NaN when ``clipped_end``; non-negative requests; ``gpu_milli`` in
    0..1000, 0 exactly when ``gpu_count`` is 0, and 1000 when ``gpu_count`` > 1.
    """
    problems = _check_dtypes(df, POD_COLUMNS, "pods")
    if not problems:
        arrival = df["arrival_s"].to_numpy()
        duration = df["duration_s"].to_numpy()
        gpus = df["gpu_count"].to_numpy()
        milli = df["gpu_milli"].to_numpy()
        checks = {
            "arrival_s must be finite and >= 0": ~(np.isfinite(arrival) & (arrival >= 0)),
            "duration_s must be >= 0 or NaN": ~(
                np.isnan(duration) | (np.isfinite(duration) & (duration >= 0))
            ),
            "clipped_end pods must have duration_s NaN": df["clipped_end"].to_numpy() & ~np.isnan(duration),
            "cpu_milli must be >= 0": df["cpu_milli"].to_numpy() < 0,
            "memory_bytes must be >= 0": df["memory_bytes"].to_numpy() < 0,
            "gpu_count must be >= 0": gpus < 0,
            "gpu_milli must be in 0..1000": (milli < 0) | (milli > 1000),
            "gpu_milli must be 0 exactly when gpu_count is 0": (gpus == 0) != (milli == 0),
            "gpu_milli must be 1000 when gpu_count > 1": (gpus > 1) & (milli != 1000),
        }
        problems = [f"pods: {msg} ({_first_rows(bad)})" for msg, bad in checks.items() if bad.any()]
    if problems:
        raise ValueError("; ".join(problems))
    return df


def validate_nodes(df: pd.DataFrame) -> pd.DataFrame:
    """Check ``df`` against the node schema; return it unchanged or raise ``ValueError``."""
    problems = _check_dtypes(df, NODE_COLUMNS, "nodes")
    if not problems:
        for col in ("cpu_milli", "memory_bytes", "gpu_count"):
            bad = df[col].to_numpy() < 0
            if bad.any():
                problems.append(f"nodes: {col} must be >= 0 ({_first_rows(bad)})")
    if problems:
        raise ValueError("; ".join(problems))
    return df


# --------------------------------------------------------------------------- reading


def open_text(path: PathLike) -> TextIO:
    """Open a text trace file, transparently gunzipping ``*.gz`` (:class:`TraceError` if absent)."""
    p = Path(path)
    if not p.is_file():
        raise TraceError("no such file", file=str(path))
    if p.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(p, "rb"), encoding="utf-8", newline="")
    return open(p, encoding="utf-8", newline="")


def file_label(path: PathLike) -> str:
    """The name a report or error uses for ``path`` (its base name)."""
    return Path(path).name


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
    aliases: dict[str, Sequence[str]] | None = None,
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

        Unparseable (or infinite) values drop the row as ``bad_number``; empty ones as
        ``missing_value`` when ``required``; values below ``minimum`` as
        ``negative_value``.
        """
        raw = self.table.cells[column]
        empty = self.missing(column)
        series = pd.Series(raw, dtype=object).where(~empty, None)
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        self.reject(~empty & ~np.isfinite(values), "bad_number", column)
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


# --------------------------------------------------------------------------- building

#: Columns of the intermediate frame readers hand to :func:`build_pods`.
RAW_COLUMNS = (
    "id",  # str
    "arrival",  # trace seconds; NaN = before the trace start
    "end",  # trace seconds the pod left; NaN = after the trace end, or unknown
    "duration",  # run time once placed; NaN = unknown
    "cpu_milli",
    "memory_bytes",
    "gpu_count",
    "gpu_milli",
    "gpu_model",
    "priority",
    "qos",
    "owner",
)


def raw_frame(n: int, **columns: object) -> pd.DataFrame:
    """An intermediate frame of ``n`` rows; scalars broadcast, defaults filled in."""
    defaults: dict[str, object] = {
        "gpu_count": 0,
        "gpu_milli": 0,
        "gpu_model": "",
        "priority": 0,
        "qos": "",
        "owner": "",
        "duration": np.nan,
        "end": np.nan,
    }
    data: dict[str, object] = {}
    for name in RAW_COLUMNS:
        value = columns.pop(name, defaults.get(name))
        if value is None:
            raise TypeError(f"raw_frame: column {name!r} is required")
        if np.ndim(value) == 0:
            value = np.full(n, value, dtype=object if isinstance(value, str) else None)
        data[name] = np.asarray(value)
    if columns:
        raise TypeError(f"raw_frame: unknown columns {sorted(columns)}")
    return pd.DataFrame(data)


def _no_pods_error(file: str, report: TraceReport, what: str = "rows") -> TraceError:
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


def _sample(
    keep_n: int, owners: np.ndarray, options: TraceOptions, rng: np.random.Generator | None
) -> np.ndarray:
    """Indices (sorted) of the rows kept by sampling."""
    if options.sample_fraction >= 1.0:
        return np.arange(keep_n)
    if rng is None:
        raise ValueError("sample_fraction < 1 needs an explicit rng (numpy.random.Generator)")
    if options.sample_by == "pod":
        k = int(round(options.sample_fraction * keep_n))
        return np.sort(rng.choice(keep_n, size=k, replace=False))
    # By owner: pods with an empty owner are each their own group.
    keys = np.array([o if o else f"\x00{i}" for i, o in enumerate(owners)], dtype=object)
    uniq, inverse = np.unique(keys, return_inverse=True)
    k = int(round(options.sample_fraction * len(uniq)))
    chosen = np.zeros(len(uniq), dtype=bool)
    chosen[rng.choice(len(uniq), size=k, replace=False)] = True
    return np.flatnonzero(chosen[inverse])


def build_pods(
    raw: pd.DataFrame,
    *,
    file: str,
    options: TraceOptions | None,
    rng: np.random.Generator | None,
    report: TraceReport,
) -> pd.DataFrame:
    """Window, sample, scale and type an intermediate frame (see :data:`RAW_COLUMNS`).

    Raises :class:`TraceError` when no row survived parsing, or the window is empty.
    """
    options = options or TraceOptions()
    if options.sample_fraction < 1.0 and rng is None:
        raise ValueError("sample_fraction < 1 needs an explicit rng (numpy.random.Generator)")
    if len(raw) == 0:
        raise _no_pods_error(file, report)

    arrival = raw["arrival"].to_numpy(dtype=float)
    end = raw["end"].to_numpy(dtype=float)
    duration = raw["duration"].to_numpy(dtype=float)
    lo = options.start_s if options.start_s is not None else 0.0
    hi = options.end_s if options.end_s is not None else np.inf

    # In the window: arrives before its end, and has not left by its start.
    in_window = (np.isnan(arrival) | (arrival < hi)) & (np.isnan(end) | (end > lo))
    report.filter("outside_window", int((~in_window).sum()))
    if not in_window.any():
        if options.has_window:
            raise TraceError(f"no pods in the time window [{lo}, {hi}) s", file=file)
        raise _no_pods_error(file, report)
    idx = np.flatnonzero(in_window)
    arrival, end, duration = arrival[idx], end[idx], duration[idx]

    before = np.isnan(arrival) | (arrival < lo)
    after = np.isnan(end) | (end > hi)
    # What is left of the run at the window start: at most end - lo.
    remaining = np.where(np.isnan(duration), np.nan, np.fmin(duration, end - lo))
    duration = np.where(before, remaining, duration)
    duration = np.where(after, np.nan, duration)
    arrival = np.where(before, 0.0, arrival - lo)

    chosen = _sample(len(idx), raw["owner"].to_numpy(dtype=object)[idx], options, rng)
    report.filter("not_sampled", len(idx) - len(chosen))
    idx, arrival, duration, before, after = (
        idx[chosen],
        arrival[chosen],
        duration[chosen],
        before[chosen],
        after[chosen],
    )

    sub = raw.iloc[idx]
    rs = options.resource_scale
    frame = pd.DataFrame(
        {
            "id": _typed(sub["id"].astype(str).to_numpy(), "str"),
            "arrival_s": arrival * options.time_scale,
            "duration_s": duration * options.time_scale,
            "cpu_milli": np.rint(sub["cpu_milli"].to_numpy(dtype=float) * rs).astype(np.int64),
            "memory_bytes": np.rint(sub["memory_bytes"].to_numpy(dtype=float) * rs).astype(np.int64),
            "gpu_count": sub["gpu_count"].to_numpy(dtype=float).astype(np.int64),
            "gpu_milli": np.rint(sub["gpu_milli"].to_numpy(dtype=float)).astype(np.int64),
            "gpu_model": _typed(sub["gpu_model"].astype(str).to_numpy(), "str"),
            "priority": sub["priority"].to_numpy(dtype=float).astype(np.int64),
            "qos": _typed(sub["qos"].astype(str).to_numpy(), "str"),
            "owner": _typed(sub["owner"].astype(str).to_numpy(), "str"),
            "clipped_start": before.astype(bool),
            "clipped_end": after.astype(bool),
        }
    )
    frame = frame.sort_values("arrival_s", kind="stable").reset_index(drop=True)
    report.kept = len(frame)
    report.clipped_start = int(frame["clipped_start"].sum())
    report.clipped_end = int(frame["clipped_end"].sum())
    return validate_pods(frame)


def build_nodes(
    raw: pd.DataFrame,
    *,
    file: str,
    report: TraceReport,
) -> pd.DataFrame:
    """Type an intermediate nodes frame (columns of :data:`NODE_COLUMNS`, any numbers)."""
    if len(raw) == 0:
        raise _no_pods_error(file, report, "nodes")
    frame = pd.DataFrame(
        {
            "name": _typed(raw["name"].astype(str).to_numpy(), "str"),
            "cpu_milli": np.rint(raw["cpu_milli"].to_numpy(dtype=float)).astype(np.int64),
            "memory_bytes": np.rint(raw["memory_bytes"].to_numpy(dtype=float)).astype(np.int64),
            "gpu_count": np.rint(raw["gpu_count"].to_numpy(dtype=float)).astype(np.int64),
            "gpu_model": _typed(raw["gpu_model"].astype(str).to_numpy(), "str"),
        }
    )
    report.kept = len(frame)
    return validate_nodes(frame)
