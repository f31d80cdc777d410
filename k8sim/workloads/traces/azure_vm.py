"""Azure Public Dataset (V1 2017 / V2 2019): the ``vmtable`` of VM lifetimes -> pods.

Upstream: ``Azure/AzurePublicDataset`` (``AzurePublicDatasetV1.md``,
``AzurePublicDatasetV2.md``; Cortez et al., "Resource Central", SOSP '17). The file
``vmtable.csv`` (often gzipped) has no header; columns, in order::

    vmid, subscriptionid, deploymentid, vmcreated, vmdeleted, maxcpu, avgcpu,
    p95maxcpu, vmcategory, vmcorecountbucket, vmmemorybucket

- ``vmid``, ``subscriptionid``, ``deploymentid``: encrypted ids
- ``vmcreated`` / ``vmdeleted``: seconds from the trace start (5-minute resolution)
- ``maxcpu`` / ``avgcpu`` / ``p95maxcpu``: CPU utilisation, percent (usage, not read)
- ``vmcategory``: ``Delay-insensitive`` / ``Interactive`` / ``Unknown``
- ``vmcorecountbucket``: virtual cores (V2 buckets ``2``, ``4``, ``8``, ``24``, ``>24``)
- ``vmmemorybucket``: memory, GB (V2 buckets ``2``, ``4``, ``8``, ``32``, ``64``, ``>64``)

Mapping to the normalised schema
    ``id`` = ``vmid``; ``arrival_s`` = ``vmcreated``; ``duration_s`` = ``vmdeleted -
    vmcreated``; ``cpu_milli`` = cores * 1000; ``memory_bytes`` = GB * 2**30 (Azure sizes
    VM memory in binary gigabytes); an open top bucket ``>N`` stands for
    ``cores_above_top_bucket`` / ``memory_gb_above_top_bucket`` (defaults 32 cores,
    128 GB; they must exceed N); ``qos`` = ``vmcategory``; ``owner`` =
    ``deploymentid``; ``priority`` 0; no GPUs. VMs deleted at or after ``trace_end_s``
    (if given; 30 days = 2,592,000 s for both datasets) were still running at the end:
    ``clipped_end``. A first line equal to the column names is skipped.

    Dropped rows: ``wrong_field_count``, ``bad_number`` (including unreadable
    buckets), ``missing_value``, ``negative_value``, ``negative_duration``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from k8sim.workloads.traces.build import build_pods, raw_frame, read_batches
from k8sim.workloads.traces.reports import PathLike, TraceReport, file_label
from k8sim.workloads.traces.schema import GIB, TraceOptions
from k8sim.workloads.traces.tables import PLAIN_NUMBER, DeferredDrops, RowCheck, Table, as_arrow, iter_tables

__all__ = ["VMTABLE_COLUMNS", "read_azure_vmtable"]

VMTABLE_COLUMNS: tuple[str, ...] = (
    "vmid",
    "subscriptionid",
    "deploymentid",
    "vmcreated",
    "vmdeleted",
    "maxcpu",
    "avgcpu",
    "p95maxcpu",
    "vmcategory",
    "vmcorecountbucket",
    "vmmemorybucket",
)


def _bucket(check: RowCheck, column: str, above_top: float) -> np.ndarray:
    """Bucket values as numbers: ``"8"`` -> 8, ``">24"`` -> ``above_top`` (if > 24).

    A cell is read as Python's ``float`` reads it (after the ``>``): plain decimal
    numbers by one pyarrow cast, any other spelling by ``float`` itself."""
    raw = as_arrow(check.table.cells[column])
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    n = len(raw)
    empty = check.missing(column)
    top = np.asarray(pc.starts_with(raw, ">").to_numpy(zero_copy_only=False), dtype=bool)
    body = pc.if_else(pa.array(top), pc.utf8_slice_codeunits(raw, 1), raw)
    plain = np.asarray(pc.match_substring_regex(body, PLAIN_NUMBER).to_numpy(zero_copy_only=False), dtype=bool)
    value = np.full(n, np.nan)
    value[plain] = np.asarray(pc.cast(body.filter(pa.array(plain)), pa.float64()).to_numpy(zero_copy_only=False),
                              dtype=float)
    bad = np.zeros(n, dtype=bool)
    odd = np.flatnonzero(~plain & ~empty)
    if len(odd):
        texts = body.take(pa.array(odd)).to_pylist()
        for i, text in zip(odd, texts, strict=True):
            try:
                value[i] = float(text)
            except ValueError:
                bad[i] = True
    out = np.where(top, np.where(above_top > value, above_top, np.nan), value)
    bad |= top & ~(above_top > value) & ~empty  # ">N" with N not below the stand-in (or unreadable)
    out[empty] = np.nan
    bad &= ~empty
    bad |= ~empty & ~bad & ~np.isfinite(out)
    check.reject(bad, "bad_number", column)
    check.reject(empty, "missing_value", column)
    check.reject(out < 0, "negative_value", column)
    return out


def _parse_batch(table: Table, drops: DeferredDrops, cores_above: float, memory_above: float,
                 trace_end_s: float | None) -> dict[str, Any]:
    """The good rows of one batch of a ``vmtable``, parsed (drops deferred)."""
    check = RowCheck(table, drops)
    created = check.number("vmcreated", minimum=0)
    deleted = check.number("vmdeleted", minimum=0)
    cores = _bucket(check, "vmcorecountbucket", cores_above)
    memory_gb = _bucket(check, "vmmemorybucket", memory_above)
    check.reject(deleted < created, "negative_duration", "vmdeleted")
    end = deleted.copy()
    if trace_end_s is not None:
        end[deleted >= trace_end_s] = np.nan
    ok = check.ok
    keep = pa.array(ok)
    return {
        "id": check.strings("vmid", nan_is_empty=False).filter(keep),
        "arrival": created[ok],
        "end": end[ok],
        "duration": (deleted - created)[ok],
        "cpu_milli": cores[ok] * 1000,
        "memory_bytes": memory_gb[ok] * GIB,
        "qos": check.strings("vmcategory").filter(keep),
        "owner": check.strings("deploymentid").filter(keep),
    }


def read_azure_vmtable(
    path: PathLike,
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
    *,
    cores_above_top_bucket: float = 32,
    memory_gb_above_top_bucket: float = 128,
    trace_end_s: float | None = None,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read an Azure ``vmtable`` into the normalised pod schema (see the module doc).

    The file is read in batches; with a time window each batch keeps only its VMs in
    the window (:func:`~k8sim.workloads.traces.build.read_batches`), so a window of a
    file larger than memory can be read."""
    report = TraceReport(source=str(path))
    file = file_label(path)
    cols = read_batches(
        iter_tables(path, VMTABLE_COLUMNS, report, header=None),
        lambda table, drops: _parse_batch(table, drops, cores_above_top_bucket, memory_gb_above_top_bucket,
                                          trace_end_s),
        file=file, report=report, options=options)
    raw = raw_frame(len(cols["arrival"]), **cols)
    pods = build_pods(raw, file=file, options=options, rng=rng, report=report)
    return pods, report
