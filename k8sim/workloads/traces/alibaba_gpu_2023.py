"""Alibaba cluster-trace-gpu-v2023 ("openb"): pod list and node list.

Upstream: ``alibaba/clusterdata``, ``cluster-trace-gpu-v2023/csv`` (the traces of
Weng et al., "Beware of Fragmentation", USENIX ATC '23). CSV files with a header.

Pod list ``openb_pod_list_*.csv``
    ``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,``
    ``creation_time,deletion_time,scheduled_time``

    - ``cpu_milli``: CPU request, milli-cores; ``memory_mib``: memory request, MiB
    - ``num_gpu``: GPUs requested, 0..8; ``gpu_milli``: milli-GPU on each GPU (a share
      1..999 only with ``num_gpu == 1``; 1000 for whole GPUs; 0 without GPUs)
    - ``gpu_spec``: allowed GPU models, empty = any, alternatives joined by ``|``
    - ``qos``: ``LS`` / ``BE`` / ``Burstable`` / ``Guaranteed``
    - ``pod_phase``: ``Running`` / ``Succeeded`` / ``Failed`` / ``Pending``
    - ``creation_time`` / ``deletion_time`` / ``scheduled_time``: seconds from the trace
      start; ``scheduled_time`` is empty for pods never scheduled (``Pending``)

Node list ``openb_node_list_*.csv``
    ``sn,cpu_milli,memory_mib,gpu,model`` (``model`` empty for CPU-only nodes; ``G1``,
    ``G2``, ``G3`` are undisclosed internal GPU models).

Mapping to the normalised schema
    ``id`` = ``name``; ``arrival_s`` = ``creation_time``; ``duration_s`` =
    ``deletion_time - scheduled_time`` (the run once placed; NaN for pods never
    scheduled, whose run time is unknown); ``memory_bytes`` = ``memory_mib * 2**20``;
    ``gpu_count`` = ``num_gpu``; ``gpu_milli`` = ``gpu_milli`` (forced to 0 when
    ``num_gpu`` is 0); ``gpu_model`` = ``gpu_spec``; ``qos`` = ``qos``; ``priority`` 0;
    ``owner`` "" (the trace has no jobs). Pods deleted exactly at the last deletion time
    of the file are still running when the trace ends (right-censored; 34 in
    ``openb_pod_list_default.csv``): with ``censor_at_trace_end`` (default) they get
    ``clipped_end`` and a NaN duration.

    Dropped rows: unparseable or missing numbers (``bad_number``, ``missing_value``),
    negative requests or times (``negative_value``), ``deletion_time`` before
    ``creation_time`` or ``scheduled_time`` (``negative_duration``), ``scheduled_time``
    before ``creation_time`` (``scheduled_before_creation``), a ``gpu_milli`` outside
    the convention (``bad_gpu_milli``).

Samples
    :func:`generate_openb_sample` makes synthetic files in exactly these layouts (drawn
    from simple distributions, not from the trace); the ones shipped in
    ``k8sim/data/traces`` are found with :func:`openb_sample_paths`.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from k8sim.config.traces import OPENB_SAMPLE_NODE_FILE, OPENB_SAMPLE_POD_FILE
from k8sim.workloads.traces import tables as tables_module
from k8sim.workloads.traces.build import build_nodes, build_pods, raw_frame
from k8sim.workloads.traces.reports import PathLike, TraceError, TraceReport
from k8sim.workloads.traces.schema import MIB, TraceOptions
from k8sim.workloads.traces.tables import (
    DeferredDrops,
    RowCheck,
    Table,
    iter_tables,
    read_table,
    replay_drops,
)

__all__ = [
    "OPENB_NODE_COLUMNS",
    "OPENB_POD_COLUMNS",
    "generate_openb_sample",
    "openb_sample_paths",
    "read_openb_nodes",
    "read_openb_pods",
    "write_openb_sample",
]

OPENB_POD_COLUMNS: tuple[str, ...] = (
    "name",
    "cpu_milli",
    "memory_mib",
    "num_gpu",
    "gpu_milli",
    "gpu_spec",
    "qos",
    "pod_phase",
    "creation_time",
    "deletion_time",
    "scheduled_time",
)
OPENB_NODE_COLUMNS: tuple[str, ...] = ("sn", "cpu_milli", "memory_mib", "gpu", "model")

SAMPLE_POD_FILE = OPENB_SAMPLE_POD_FILE
SAMPLE_NODE_FILE = OPENB_SAMPLE_NODE_FILE


#: The pod-list columns read only as numbers.
_OPENB_NUMBERS = ("cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "creation_time", "deletion_time",
                  "scheduled_time")

#: Bytes of a pod list parsed at a time (or the shared default, when that is smaller):
#: blocks small enough that the threads parsing them finish together, and that the
#: buffers read into are few and reused.
_BLOCK_SIZE = 8 << 20

#: The numeric columns a batch gives, and for those of them that become integer columns
#: of the pods frame (:func:`~k8sim.workloads.traces.build.build_pods`), whether it
#: rounds them (``np.rint``) or truncates them (``astype``).
_NUMERIC = ("created", "deleted", "duration", "cpu", "memory_bytes", "gpus", "milli")
_ROUNDED = {"cpu": True, "memory_bytes": True, "gpus": False, "milli": True}
_TEXT = ("id", "gpu_spec", "qos")


def _check_openb_batch(table: Table, drops: DeferredDrops) -> tuple[np.ndarray, dict[str, np.ndarray],
                                                                      dict[str, pa.Array]]:
    """One batch of an openb pod list checked (drops deferred): the mask of its good
    rows, and its numeric and text columns over all its rows."""
    check = RowCheck(table, drops)
    cpu = check.number("cpu_milli", minimum=0)
    mem = check.number("memory_mib", minimum=0)
    gpus = check.number("num_gpu", minimum=0)
    milli = check.number("gpu_milli", minimum=0)
    created = check.number("creation_time", minimum=0)
    deleted = check.number("deletion_time", minimum=0)
    scheduled = check.number("scheduled_time", required=False, minimum=0)

    check.reject(gpus != np.round(gpus), "bad_number", "num_gpu")
    milli = np.where(gpus == 0, 0.0, milli)
    bad_share = (milli > 1000) | ((gpus >= 1) & (milli <= 0)) | ((gpus > 1) & (milli != 1000))
    check.reject(bad_share, "bad_gpu_milli", "gpu_milli")
    check.reject(scheduled < created, "scheduled_before_creation", "scheduled_time")
    check.reject((deleted < created) | (deleted < scheduled), "negative_duration", "deletion_time")
    numbers = {"created": created, "deleted": deleted, "duration": deleted - scheduled, "cpu": cpu,
               "memory_bytes": mem * MIB, "gpus": gpus, "milli": milli}
    texts = {"id": check.strings("name", nan_is_empty=False), "gpu_spec": check.strings("gpu_spec"),
             "qos": check.strings("qos")}
    return check.ok, numbers, texts


def _texts(ok: np.ndarray, texts: dict[str, pa.Array]) -> dict[str, pa.Array]:
    # In the layout of the pods frame's text columns (large_string): converted here,
    # in the batch's thread, rather than column by column once all are read.
    keep = None if ok.all() else pa.array(ok)
    return {k: (v if keep is None else v.filter(keep)).cast(pa.large_string()) for k, v in texts.items()}


class _Placed:
    """The numeric columns of a whole-file read, allocated once for the most rows the
    file can hold and filled by each batch, in the thread that parsed it, from the place
    of its first row (its line number: batches never overlap). When every batch's rows
    follow the previous batch's, the columns are read off as they are (no copy, no
    concatenation on the reading thread). Pages never written to are never touched.

    With ``integers``, the integer columns of the pods frame are made here (rounded as
    :func:`~k8sim.workloads.traces.build.build_pods` rounds them), so that it has
    nothing left to convert."""

    def __init__(self, capacity: int, integers: bool) -> None:
        self.capacity = capacity
        self.integers = integers
        self.columns = {k: np.empty(capacity, dtype=np.int64 if integers and k in _ROUNDED else np.float64)
                        for k in _NUMERIC}

    @classmethod
    def for_file(cls, path: PathLike, integers: bool) -> _Placed | None:
        """Columns for an uncompressed pod list (None for a gzip file, whose size bounds
        nothing, or one so large that even reserving them would not do). A data row has
        at least a byte per column (delimiters and line end), so a file of ``size`` bytes
        without blank lines has its last row on line ``size // columns + 1`` at most; a
        batch beyond (blank lines) keeps its rows itself."""
        p = Path(path)
        if p.suffix == ".gz" or not p.is_file():
            return None
        capacity = p.stat().st_size // len(OPENB_POD_COLUMNS) + 2
        try:
            memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            return None
        if capacity * 8 * len(_NUMERIC) > memory:
            return None
        try:
            return cls(capacity, integers)
        except MemoryError:
            return None

    def put(self, at: int, ok: np.ndarray, numbers: dict[str, np.ndarray]) -> int | None:
        """Write the good rows of a batch from place ``at``: their count, or None (nothing
        written) when they do not fit, or an integer column would not fit in int64 (the
        batch then keeps its rows, and ``build_pods`` reports the value)."""
        n = int(ok.sum())
        if at + n > self.capacity:
            return None
        rows = numbers if n == len(ok) else {k: v[ok] for k, v in numbers.items()}
        if self.integers and n:
            for k, rounded in _ROUNDED.items():
                lo, hi = np.fmin.reduce(rows[k]), np.fmax.reduce(rows[k])
                if rounded:
                    lo, hi = np.rint(lo), np.rint(hi)
                if hi >= 2.0**63 or lo <= -(2.0**63):
                    return None
        for k, values in rows.items():
            out = self.columns[k][at:at + n]
            if self.integers and _ROUNDED.get(k):
                np.rint(values, out=out, casting="unsafe")
            else:
                out[...] = values  # (a double to int64: truncated, as ``astype``)
        return n


def read_openb_pods(
    path: PathLike,
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
    *,
    censor_at_trace_end: bool = True,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read an openb pod list into the normalised pod schema (see the module doc).

    The file is read in batches (:func:`~k8sim.workloads.traces.tables.iter_tables`).
    With a time window, each batch keeps only its pods that may be in the window, so a
    window of a file larger than memory can be read: what is held is one batch plus the
    pods of the window. The report is the same as for a whole-file read. A whole
    uncompressed file is read into columns allocated once (see :class:`_Placed`).
    """
    options = options or TraceOptions()
    report = TraceReport(source=str(path))
    lo = options.start_s if options.start_s is not None else 0.0
    hi = options.end_s if options.end_s is not None else np.inf
    placed = None if options.has_window else _Placed.for_file(path, options.resource_scale == 1.0)

    def work(table: Table) -> tuple[DeferredDrops, dict[str, Any], float]:
        # (In the thread that parsed the batch.)
        drops = DeferredDrops()
        ok, numbers, texts = _check_openb_batch(table, drops)
        last = float(np.max(numbers["deleted"], where=ok, initial=-np.inf))
        if placed is not None and len(table):
            at = int(table.lines[0])
            n = placed.put(at, ok, numbers)
            if n is not None:
                return drops, {"at": at, "n": n, **_texts(ok, texts)}, last
        return drops, {**{k: v[ok] for k, v in numbers.items()}, **_texts(ok, texts)}, last

    parts: list[dict[str, Any]] = []
    batches: list[DeferredDrops] = []
    trace_end = -np.inf  # the last deletion time of the good rows read so far
    outside = 0
    tables = iter_tables(path, OPENB_POD_COLUMNS, report, header=True, numbers=_OPENB_NUMBERS, unread=("pod_phase",),
                         block_size=min(tables_module.DEFAULT_BLOCK_SIZE, _BLOCK_SIZE))
    for drops, part, last in tables.map(work):
        batches.append(drops)
        trace_end = max(trace_end, last)
        if options.has_window and len(part["deleted"]):
            deleted = part["deleted"]
            # Out of the window for sure: arrives at or after its end, or leaves by its
            # start without being the last deletion so far (a deletion at the trace's last
            # deletion time is censored when ``censor_at_trace_end``: no known end).
            gone = (deleted <= lo) & ((deleted < trace_end) | (not censor_at_trace_end))
            out = (part["created"] >= hi) | gone
            if out.any():
                outside += int(out.sum())
                keep = ~out
                part = {k: v.filter(pa.array(keep)) if isinstance(v, pa.Array) else v[keep] for k, v in part.items()}
        parts.append(part)
    replay_drops(report, batches)
    cols: dict[str, Any] = {k: pa.chunked_array([p[k] for p in parts], type=pa.large_string()) for k in _TEXT}
    cols.update(_numeric_columns(parts, placed))
    end = cols["deleted"]  # (a new array, or the read's own columns: changed in place)
    if censor_at_trace_end and np.isfinite(trace_end):
        censored = np.flatnonzero(end == trace_end)
        end[censored] = np.nan
        # (No known run time: what build_pods makes of a pod without a known end.)
        cols["duration"][censored] = np.nan
    if outside:
        report.filter("outside_window", outside)
        if len(end) == 0:
            raise TraceError(f"no pods in the time window [{lo}, {hi}) s", file=str(path))
    raw = raw_frame(
        len(end),
        id=cols["id"],
        arrival=cols["created"],
        end=end,
        duration=cols["duration"],
        cpu_milli=cols["cpu"],
        memory_bytes=cols["memory_bytes"],
        gpu_count=cols["gpus"],
        gpu_milli=cols["milli"],
        gpu_model=cols["gpu_spec"],
        qos=cols["qos"],
    )
    pods = build_pods(raw, file=str(path), options=options, rng=rng, report=report, owned=True)
    return pods, report


def _numeric_columns(parts: list[dict[str, Any]], placed: _Placed | None) -> dict[str, np.ndarray]:
    """The numeric columns of the batches' rows, in file order: the placed columns as
    they are when every batch's rows follow the previous one's, else the batches' rows
    put together (a batch that kept its rows has doubles where the placed columns have
    integers: together they are doubles, which ``build_pods`` converts)."""
    filled = [p for p in parts if p.get("n", 1)]  # (batches without rows left out)
    if placed is not None and filled and all("at" in p for p in filled):
        start = filled[0]["at"]
        nxt = start
        for p in filled:
            if p["at"] != nxt:
                break
            nxt += p["n"]
        else:
            return {k: v[start:nxt] for k, v in placed.columns.items()}

    def rows(p: dict[str, Any], k: str) -> np.ndarray:
        if "at" in p:
            assert placed is not None
            return placed.columns[k][p["at"]:p["at"] + p["n"]]
        return p[k]

    return {k: np.concatenate([rows(p, k) for p in parts]) for k in _NUMERIC}


def read_openb_nodes(path: PathLike) -> tuple[pd.DataFrame, TraceReport]:
    """Read an openb node list into the normalised node schema.

    ``name`` = ``sn``, ``memory_bytes`` = ``memory_mib * 2**20``, ``gpu_count`` =
    ``gpu``, ``gpu_model`` = ``model`` ("" for CPU-only nodes).
    """
    report = TraceReport(source=str(path))
    table = read_table(path, OPENB_NODE_COLUMNS, report, header=True)
    check = RowCheck(table, report)
    cpu = check.number("cpu_milli", minimum=0)
    mem = check.number("memory_mib", minimum=0)
    gpus = check.number("gpu", minimum=0)
    check.reject(gpus != np.round(gpus), "bad_number", "gpu")
    ok = check.ok
    raw = pd.DataFrame(
        {
            "name": check.text("sn", nan_is_empty=False)[ok],
            "cpu_milli": cpu[ok],
            "memory_bytes": mem[ok] * MIB,
            "gpu_count": gpus[ok],
            "gpu_model": check.text("model")[ok],
        }
    )
    return build_nodes(raw, file=table.path, report=report), report


# --------------------------------------------------------------------------- samples

# Invented node shapes (cpu_milli, memory_mib, gpus, model) and their weights.
_SAMPLE_NODE_SHAPES: tuple[tuple[int, int, int, str], ...] = (
    (32000, 131072, 0, ""),
    (64000, 262144, 0, ""),
    (64000, 262144, 2, "P100"),
    (96000, 393216, 8, "V100M16"),
    (96000, 786432, 8, "V100M32"),
    (104000, 524288, 2, "T4"),
    (128000, 1048576, 8, "A100"),
)
_SAMPLE_NODE_WEIGHTS = (0.10, 0.10, 0.15, 0.15, 0.10, 0.30, 0.10)


def generate_openb_sample(
    rng: np.random.Generator, n_pods: int, n_nodes: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic (pod list, node list) frames in exactly the openb CSV layouts.

    Nothing is taken from the real trace: pods and nodes are drawn from the small
    invented distributions below (Poisson arrivals every 90 s on average, log-normal run
    times, 10 % never scheduled, pods alive at the end deleted at the trace end like
    the real right-censored ones).
    """
    if n_pods < 1 or n_nodes < 1:
        raise ValueError("n_pods and n_nodes must be >= 1")
    shape_idx = rng.choice(len(_SAMPLE_NODE_SHAPES), size=n_nodes, p=_SAMPLE_NODE_WEIGHTS)
    shapes = [_SAMPLE_NODE_SHAPES[i] for i in shape_idx]
    nodes = pd.DataFrame(
        {
            "sn": [f"sample-node-{i:04d}" for i in range(n_nodes)],
            "cpu_milli": [s[0] for s in shapes],
            "memory_mib": [s[1] for s in shapes],
            "gpu": [s[2] for s in shapes],
            "model": [s[3] for s in shapes],
        }
    )

    kind = rng.choice(4, size=n_pods, p=[0.15, 0.40, 0.40, 0.05])  # cpu, shared, 1 gpu, multi
    cpu = rng.choice([1000, 2000, 4000, 6000, 8000, 12000, 16000, 32000], size=n_pods)
    memory = (cpu // 1000) * rng.choice([1024, 2048, 3072, 4096], size=n_pods)
    num_gpu = np.select([kind == 0, kind == 3], [0, rng.choice([2, 4, 8], size=n_pods)], 1)
    gpu_milli = np.select([kind == 0, kind == 1], [0, rng.integers(1, 20, size=n_pods) * 50], 1000)
    spec_draw = rng.random(n_pods)
    gpu_spec = np.where(
        kind == 0, "", np.where(spec_draw < 0.10, "V100M16|V100M32", np.where(spec_draw < 0.15, "T4", ""))
    )
    qos = rng.choice(["LS", "BE", "Burstable", "Guaranteed"], size=n_pods, p=[0.55, 0.40, 0.04, 0.01])

    created = np.concatenate([[0], np.cumsum(np.rint(rng.exponential(90.0, size=n_pods - 1)))]).astype(
        np.int64
    )
    pending = rng.random(n_pods) < 0.10
    wait = rng.geometric(0.5, size=n_pods) - 1
    run = np.rint(rng.lognormal(mean=6.3, sigma=1.8, size=n_pods)).astype(np.int64) + 1
    scheduled = created + wait
    deleted = np.where(pending, created + rng.integers(30, 600, size=n_pods), scheduled + run)
    phase = rng.choice(["Running", "Failed", "Succeeded"], size=n_pods, p=[0.65, 0.25, 0.10])
    phase = np.where(pending, "Pending", phase)
    trace_end = int(created[-1]) + 1200
    censored = deleted > trace_end
    deleted = np.where(censored, trace_end, deleted)
    phase = np.where(censored & ~pending, "Running", phase)

    pods = pd.DataFrame(
        {
            "name": [f"sample-pod-{i:04d}" for i in range(n_pods)],
            "cpu_milli": cpu,
            "memory_mib": memory,
            "num_gpu": num_gpu,
            "gpu_milli": gpu_milli,
            "gpu_spec": gpu_spec,
            "qos": qos,
            "pod_phase": phase,
            "creation_time": created,
            "deletion_time": deleted,
            "scheduled_time": pd.array(np.where(pending, 0, scheduled), dtype="Int64"),
        }
    )
    pods.loc[pending, "scheduled_time"] = pd.NA
    return pods[list(OPENB_POD_COLUMNS)], nodes[list(OPENB_NODE_COLUMNS)]


def write_openb_sample(
    directory: PathLike, rng: np.random.Generator, n_pods: int = 300, n_nodes: int = 40
) -> tuple[Path, Path]:
    """Write :func:`generate_openb_sample` output as the two sample CSV files."""
    pods, nodes = generate_openb_sample(rng, n_pods, n_nodes)
    out = Path(directory)
    pod_path, node_path = out / SAMPLE_POD_FILE, out / SAMPLE_NODE_FILE
    pods.to_csv(pod_path, index=False, lineterminator="\n")
    nodes.to_csv(node_path, index=False, lineterminator="\n")
    return pod_path, node_path


def openb_sample_paths() -> tuple[Path, Path]:
    """Paths of the shipped synthetic openb (pod list, node list) samples."""
    base = resources.files("k8sim").joinpath("data", "traces")
    return Path(str(base.joinpath(SAMPLE_POD_FILE))), Path(str(base.joinpath(SAMPLE_NODE_FILE)))
