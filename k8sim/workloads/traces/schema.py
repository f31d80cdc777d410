"""The normalised workload schema every trace reader produces, and the options pod readers take.

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

Options
-------
Pod readers share :class:`TraceOptions` and an explicit ``rng``
(:class:`numpy.random.Generator`, needed only when sampling). They are applied in this
order: time window (in the trace's own seconds, before scaling), sampling, time scale,
resource scale (:mod:`k8sim.workloads.traces.build`). A pod is in the window
``[start_s, end_s)`` when it arrives before ``end_s`` and has not ended by ``start_s``;
pods already there at ``start_s`` are kept with ``clipped_start`` set, so the window
starts with the cluster as it was.

Reports and errors
------------------
Each reader also returns a :class:`~k8sim.workloads.traces.reports.TraceReport` and
raises :class:`~k8sim.workloads.traces.reports.TraceError` for a file it cannot use
(both in :mod:`k8sim.workloads.traces.reports`, and importable from here too).

The readers share the rest of their machinery: :mod:`~k8sim.workloads.traces.tables`
reads delimited files into string cells and checks them row by row,
:mod:`~k8sim.workloads.traces.build` turns what a reader parsed into these frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from k8sim.config.traces import TraceOptions  # schema; re-exported for the readers
from k8sim.workloads.traces.reports import MAX_EXAMPLES, PathLike, TraceError, TraceReport, Where

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


# --------------------------------------------------------------------------- frames


def typed_column(values: object, dtype: str) -> pd.Series:
    """``values`` as a column of the schema's dtype name ``dtype``."""
    if dtype == "str":
        return pd.Series(values, dtype="str")
    return pd.Series(values, dtype=dtype)


def empty_pods() -> pd.DataFrame:
    """A pods frame with no rows and the schema's dtypes."""
    return pd.DataFrame({c.name: typed_column([], c.dtype) for c in POD_COLUMNS})


def empty_nodes() -> pd.DataFrame:
    """A nodes frame with no rows and the schema's dtypes."""
    return pd.DataFrame({c.name: typed_column([], c.dtype) for c in NODE_COLUMNS})


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
