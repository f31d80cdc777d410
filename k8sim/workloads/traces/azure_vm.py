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

import numpy as np
import pandas as pd

from k8sim.workloads.traces.build import build_pods, raw_frame
from k8sim.workloads.traces.reports import PathLike, TraceReport
from k8sim.workloads.traces.schema import GIB, TraceOptions
from k8sim.workloads.traces.tables import RowCheck, read_table

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
    """Bucket values as numbers: ``"8"`` -> 8, ``">24"`` -> ``above_top`` (if > 24)."""
    raw = check.table.column(column)
    out = np.full(len(raw), np.nan)
    bad = np.zeros(len(raw), dtype=bool)
    empty = check.missing(column)
    for i, text in enumerate(raw):
        if empty[i]:
            continue
        try:
            if text.startswith(">"):
                floor = float(text[1:])
                if above_top > floor:
                    out[i] = above_top
                else:
                    bad[i] = True
            else:
                out[i] = float(text)
        except ValueError:
            bad[i] = True
    bad |= ~empty & ~bad & ~np.isfinite(out)
    check.reject(bad, "bad_number", column)
    check.reject(empty, "missing_value", column)
    check.reject(out < 0, "negative_value", column)
    return out


def read_azure_vmtable(
    path: PathLike,
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
    *,
    cores_above_top_bucket: float = 32,
    memory_gb_above_top_bucket: float = 128,
    trace_end_s: float | None = None,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read an Azure ``vmtable`` into the normalised pod schema (see the module doc)."""
    report = TraceReport(source=str(path))
    table = read_table(path, VMTABLE_COLUMNS, report, header=None)
    check = RowCheck(table, report)
    created = check.number("vmcreated", minimum=0)
    deleted = check.number("vmdeleted", minimum=0)
    cores = _bucket(check, "vmcorecountbucket", cores_above_top_bucket)
    memory_gb = _bucket(check, "vmmemorybucket", memory_gb_above_top_bucket)
    check.reject(deleted < created, "negative_duration", "vmdeleted")
    end = deleted.copy()
    if trace_end_s is not None:
        end[deleted >= trace_end_s] = np.nan
    ok = check.ok
    raw = raw_frame(
        int(ok.sum()),
        id=check.text("vmid", nan_is_empty=False)[ok],
        arrival=created[ok],
        end=end[ok],
        duration=(deleted - created)[ok],
        cpu_milli=cores[ok] * 1000,
        memory_bytes=memory_gb[ok] * GIB,
        qos=check.text("vmcategory")[ok],
        owner=check.text("deploymentid")[ok],
    )
    pods = build_pods(raw, file=table.path, options=options, rng=rng, report=report)
    return pods, report
