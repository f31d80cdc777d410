"""From what a reader parsed to the normalised pod and node frames.

A pod reader hands :func:`build_pods` an intermediate frame (:func:`raw_frame`, columns
:data:`RAW_COLUMNS`, in the trace's own seconds and units already converted to
milli-cores and bytes); it applies the reader's
:class:`~k8sim.workloads.traces.schema.TraceOptions` in this order: time window,
sampling, time scale, resource scale, then types, sorts and validates the pods. A node
reader hands :func:`build_nodes` the node columns to type and validate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from k8sim.workloads.traces.reports import TraceError, TraceReport, no_rows_error
from k8sim.workloads.traces.schema import TraceOptions, typed_column, validate_nodes, validate_pods
from k8sim.workloads.traces.tables import DeferredDrops, Table, TableBatches, replay_drops

__all__ = ["RAW_COLUMNS", "build_nodes", "build_pods", "outside_window", "raw_frame", "read_batches", "window_error"]

#: Pods from which :func:`build_pods` builds its integer columns in two threads.
_PARALLEL_ROWS = 100_000

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


def raw_frame(n: int, **columns: Any) -> pd.DataFrame:
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
        if isinstance(value, pa.Array | pa.ChunkedArray):
            data[name] = pd.array(value, dtype="str")  # text kept in Arrow memory
            continue
        if isinstance(value, str):
            # Text kept in Arrow memory (what building the pods frame would make of it).
            data[name] = pd.array(_repeated_text(value, n), dtype="str")
            continue
        if np.ndim(value) == 0:
            # (Zeros from fresh pages, which nothing has to write: a default priority of
            # 0 costs nothing until read.)
            zero = isinstance(value, int | np.integer) and value == 0  # (not -0.0: a float keeps its sign)
            value = np.zeros(n, dtype=np.asarray(value).dtype) if zero else np.full(n, value)
        data[name] = np.asarray(value)
    if columns:
        raise TypeError(f"raw_frame: unknown columns {sorted(columns)}")
    return pd.DataFrame(data, copy=False)


def _repeated_text(value: str, n: int) -> pa.Array:
    """``n`` cells of ``value`` in the layout of the pods frame's text (large_string, which
    the frame takes as it is). All empty (an owner-less trace): offsets of fresh zero
    pages, which nothing has to write."""
    if value == "":
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(np.zeros(n + 1, dtype=np.int64)), pa.py_buffer(b""))
    return pa.repeat(pa.scalar(value, pa.large_string()), n)


def outside_window(arrival: np.ndarray, end: np.ndarray, options: TraceOptions) -> np.ndarray:
    """Mask of pods outside the window of ``options`` (what :func:`build_pods` filters as
    ``outside_window``): arriving at or after its end, or gone by its start. NaN arrival
    = before the trace start, NaN end = unknown or after the trace end."""
    lo = options.start_s if options.start_s is not None else 0.0
    hi = options.end_s if options.end_s is not None else np.inf
    return ~((np.isnan(arrival) | (arrival < hi)) & (np.isnan(end) | (end > lo)))


def read_batches(
    tables: Iterable[Table],
    parse: Callable[[Table, DeferredDrops], dict[str, Any]],
    *,
    file: str,
    report: TraceReport,
    options: TraceOptions | None,
) -> dict[str, Any]:
    """The good rows of a file read batch by batch, each batch parsed by ``parse`` (which
    returns equal-length columns, numpy arrays or pyarrow strings, among them
    ``arrival`` and ``end`` in trace seconds as :func:`build_pods` reads them). With a
    time window, each batch keeps only its rows in the window, so what is held is one
    batch plus the rows of the window; those left out are counted as
    ``outside_window`` and the report is the same as for a whole-file read (drops are
    replayed in whole-file order, see :class:`DeferredDrops`).

    Raises :class:`TraceError` when no batch came, or the window left no row."""
    options = options or TraceOptions()
    parts: list[dict[str, Any]] = []
    batches: list[DeferredDrops] = []
    outside = 0

    def work(table: Table) -> tuple[DeferredDrops, dict[str, Any], int]:
        drops = DeferredDrops()
        part = parse(table, drops)
        n_out = 0
        if options.has_window and len(part["arrival"]):
            out = outside_window(part["arrival"], part["end"], options)
            if out.any():
                n_out = int(out.sum())
                keep = ~out
                part = {k: v.filter(pa.array(keep)) if isinstance(v, pa.Array) else v[keep] for k, v in part.items()}
        return drops, part, n_out

    # Batches of a CSV file are parsed in the threads that parse its blocks.
    results = tables.map(work) if isinstance(tables, TableBatches) else map(work, tables)
    for drops, part, n_out in results:
        batches.append(drops)
        outside += n_out
        parts.append(part)
    replay_drops(report, batches)
    if not parts:
        raise no_rows_error(file, report)
    cols = {k: (pa.chunked_array([p[k] for p in parts], type=pa.string()) if isinstance(v, pa.Array)
                else np.concatenate([p[k] for p in parts]))
            for k, v in parts[0].items()}
    if outside:
        report.filter("outside_window", outside)
        if len(cols["arrival"]) == 0:
            raise window_error(file, options)
    return cols


def window_error(file: str, options: TraceOptions) -> TraceError:
    """The error for a window with no pods."""
    lo = options.start_s if options.start_s is not None else 0.0
    hi = options.end_s if options.end_s is not None else np.inf
    return TraceError(f"no pods in the time window [{lo}, {hi}) s", file=file)


def _sample(
    keep_n: int, owner_of: Callable[[], np.ndarray], options: TraceOptions, rng: np.random.Generator | None
) -> np.ndarray:
    """Indices (sorted) of the rows kept by sampling (``owner_of()`` gives the owners of
    the rows; called only when sampling by owner)."""
    if options.sample_fraction >= 1.0:
        return np.arange(keep_n)
    if rng is None:
        raise ValueError("sample_fraction < 1 needs an explicit rng (numpy.random.Generator)")
    if options.sample_by == "pod":
        k = int(round(options.sample_fraction * keep_n))
        return np.sort(rng.choice(keep_n, size=k, replace=False))
    # By owner: pods with an empty owner are each their own group.
    owners = owner_of()
    keys = np.array([o if o else f"\x00{i}" for i, o in enumerate(owners)], dtype=object)
    uniq, inverse = np.unique(keys, return_inverse=True)
    k = int(round(options.sample_fraction * len(uniq)))
    chosen = np.zeros(len(uniq), dtype=bool)
    chosen[rng.choice(len(uniq), size=k, replace=False)] = True
    return np.flatnonzero(chosen[inverse])


def _text(column: pd.Series) -> pd.Series:
    """A text column of the pod schema (dtype ``str``, default index)."""
    if isinstance(column.dtype, pd.StringDtype) and column.dtype == "str":
        return pd.Series(column.array, dtype="str")
    return typed_column(column.astype(str).to_numpy(), "str")


def build_pods(
    raw: pd.DataFrame,
    *,
    file: str,
    options: TraceOptions | None,
    rng: np.random.Generator | None,
    report: TraceReport,
    owned: bool = False,
) -> pd.DataFrame:
    """Window, sample, scale and type an intermediate frame (see :data:`RAW_COLUMNS`).

    ``owned``: the numpy columns of ``raw`` were made for this call and nothing else
    refers to them, so a column that needs no change (int64 already, float64 with a
    time scale of 1) becomes the frame's column as it is instead of a copy of it.

    Raises :class:`TraceError` when no row survived parsing, or the window is empty.
    """
    options = options or TraceOptions()
    if options.sample_fraction < 1.0 and rng is None:
        raise ValueError("sample_fraction < 1 needs an explicit rng (numpy.random.Generator)")
    if len(raw) == 0:
        raise no_rows_error(file, report)

    def column(name: str) -> np.ndarray:
        # ``to_numpy`` gives a read-only view of the frame's array; the array itself
        # (writeable) when it is the caller's to give away.
        return np.asarray(raw[name].array) if owned else raw[name].to_numpy()

    raw_arrival = column("arrival")
    arrival = np.asarray(raw_arrival, dtype=float)
    end = raw["end"].to_numpy(dtype=float)
    duration = np.asarray(column("duration"), dtype=float)
    raw_duration = duration
    lo = options.start_s if options.start_s is not None else 0.0
    hi = options.end_s if options.end_s is not None else np.inf

    # In the window: arrives before its end, and has not left by its start.
    in_window = ~outside_window(arrival, end, options)
    report.filter("outside_window", int((~in_window).sum()))
    if not in_window.any():
        if options.has_window:
            raise window_error(file, options)
        raise no_rows_error(file, report)
    # ``idx``: the rows of ``raw`` taken, in order; None while that is every row in
    # file order (no copy of a column is made for nothing).
    idx: np.ndarray | None = None
    if not in_window.all():
        idx = np.flatnonzero(in_window)
        arrival, end, duration = arrival[idx], end[idx], duration[idx]
    kept = len(arrival)

    before = np.isnan(arrival) | (arrival < lo)
    after = np.isnan(end) | (end > hi)
    # (Each step only where it changes something: a whole-file read mostly skips them.)
    if before.any():
        # What is left of the run at the window start: at most end - lo.
        remaining = np.where(np.isnan(duration), np.nan, np.fmin(duration, end - lo))
        duration = np.where(before, remaining, duration)
    if after.any():
        past = np.flatnonzero(after)
        if not np.isnan(duration[past]).all():  # (else the same array again)
            duration = np.where(after, np.nan, duration)
    if lo != 0.0 or before.any():
        arrival = np.where(before, 0.0, arrival - lo)
    # ``arrival`` and ``duration`` may still be the columns of ``raw``: not changed in place.

    if options.sample_fraction < 1.0:
        first = idx

        def owners() -> np.ndarray:
            values = raw["owner"].to_numpy(dtype=object)
            return values if first is None else values[first]

        chosen = _sample(kept, owners, options, rng)
        report.filter("not_sampled", kept - len(chosen))
        idx = chosen if idx is None else idx[chosen]
        arrival, duration, before, after = arrival[chosen], duration[chosen], before[chosen], after[chosen]

    # Rows in order of arrival (stable: file order on ties; no arrival is NaN here), so
    # each column is taken once, already sorted. Already in order: nothing to do.
    if len(arrival) > 1 and not (arrival[1:] >= arrival[:-1]).all():
        order = np.argsort(arrival, kind="stable")
        idx = order if idx is None else idx[order]
        arrival, duration, before, after = arrival[order], duration[order], before[order], after[order]

    def text(column: str) -> pd.Series:
        return _text(raw[column] if idx is None else raw[column].take(idx))

    rs = options.resource_scale
    # The integer columns: (name, scale, round); taken, scaled and checked in threads
    # (numpy releases the GIL) while this one takes the text columns.
    integer = (("cpu_milli", rs, True), ("memory_bytes", rs, True), ("gpu_count", None, False),
               ("gpu_milli", None, True), ("priority", None, False))
    sources = {name: column(name) for name, _, _ in integer}

    def number(spec: tuple[str, float | None, bool]) -> np.ndarray:
        name, scale, rounded = spec
        column = sources[name]
        if (column.dtype == np.int64 and (scale is None or scale == 1.0)
                and (not len(column) or max(-int(column.min()), int(column.max())) <= 2**53)):
            # Integers that doubles hold exactly (a constant default, say): what the
            # round trip through float64 below would give, without it. (A copy: the
            # frame's columns are its own and writeable, ``raw``'s are read-only views,
            # unless they are ``owned``.)
            if idx is None:
                return column if owned else column.copy()
            return column[idx]
        values = np.asarray(column, dtype=float) if idx is None else np.asarray(column[idx], dtype=float)
        fresh = idx is not None
        if scale is not None and scale != 1.0:  # (x * 1.0 is x)
            values = values * scale
            fresh = True
        if rounded:
            values = np.rint(values, out=values) if fresh else np.rint(values)
        return _int64(values, file, name)

    with ThreadPoolExecutor(max_workers=2 if len(arrival) >= _PARALLEL_ROWS else 1) as pool:
        numbers = pool.map(number, integer)
        texts = {name: text(name) for name in ("id", "gpu_model", "qos", "owner")}
        ints = dict(zip([name for name, _, _ in integer], numbers, strict=True))
    frame = pd.DataFrame(
        {
            "id": texts["id"],
            "arrival_s": _scaled(arrival, options.time_scale, owned or arrival is not raw_arrival),
            "duration_s": _scaled(duration, options.time_scale, owned or duration is not raw_duration),
            "cpu_milli": ints["cpu_milli"],
            "memory_bytes": ints["memory_bytes"],
            "gpu_count": ints["gpu_count"],
            "gpu_milli": ints["gpu_milli"],
            "gpu_model": texts["gpu_model"],
            "priority": ints["priority"],
            "qos": texts["qos"],
            "owner": texts["owner"],
            "clipped_start": before.astype(bool, copy=False),
            "clipped_end": after.astype(bool, copy=False),
        },
        copy=False,  # the columns are new arrays: no copy into consolidated blocks
    )
    report.kept = len(frame)
    report.clipped_start = int(frame["clipped_start"].sum())
    report.clipped_end = int(frame["clipped_end"].sum())
    return validate_pods(frame)


def _scaled(values: np.ndarray, scale: float, own: bool) -> np.ndarray:
    """``values * scale``, as a new array unless ``values`` is ``own`` (nothing else
    refers to it) and the scale is 1 (``x * 1.0`` is ``x``, NaN and -0.0 included)."""
    if own and scale == 1.0:
        return values
    return values * scale


def _int64(values: np.ndarray, file: str, column: str) -> np.ndarray:
    """``values`` as int64; a value that does not fit (a cell within the readers' bound
    times a unit, e.g. MiB to bytes, or a resource scale) is a :class:`TraceError`
    naming the column in base units, rather than a silent wrap to a negative number."""
    # fmax / fmin skip NaN (which is not "too big" here either).
    if len(values) and not (np.fmax.reduce(values) >= 2.0**63 or np.fmin.reduce(values) <= -(2.0**63)):
        return values.astype(np.int64)
    with np.errstate(invalid="ignore"):
        bad = np.abs(values) >= 2.0**63
    if bad.any():
        raise TraceError(f"{column} {values[np.flatnonzero(bad)[0]]:.4g} does not fit in a 64-bit integer "
                         "(after conversion to base units and scaling)", file=file, column=column)
    return values.astype(np.int64)


def build_nodes(
    raw: pd.DataFrame,
    *,
    file: str,
    report: TraceReport,
) -> pd.DataFrame:
    """Type an intermediate nodes frame (columns of
    :data:`~k8sim.workloads.traces.schema.NODE_COLUMNS`, any numbers)."""
    if len(raw) == 0:
        raise no_rows_error(file, report, "nodes")
    frame = pd.DataFrame(
        {
            "name": typed_column(raw["name"].astype(str).to_numpy(), "str"),
            "cpu_milli": _int64(np.rint(raw["cpu_milli"].to_numpy(dtype=float)), file, "cpu_milli"),
            "memory_bytes": _int64(np.rint(raw["memory_bytes"].to_numpy(dtype=float)), file, "memory_bytes"),
            "gpu_count": _int64(np.rint(raw["gpu_count"].to_numpy(dtype=float)), file, "gpu_count"),
            "gpu_model": typed_column(raw["gpu_model"].astype(str).to_numpy(), "str"),
        }
    )
    report.kept = len(frame)
    return validate_nodes(frame)
