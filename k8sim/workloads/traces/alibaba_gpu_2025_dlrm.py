"""Alibaba cluster-trace-gpu-v2025: GPU-disaggregated DLRM inference instances.

Upstream: ``alibaba/clusterdata``, ``cluster-trace-gpu-v2025/disaggregated_DLRM_trace.csv``
(Yang et al., "GPU-Disaggregated Serving for Deep Learning Recommendation Models at
Scale", NSDI '25). One CSV file with a header, one row per inference instance::

    instance_sn,role,app_name,cpu_request,cpu_limit,gpu_request,gpu_limit,
    rdma_request,rdma_limit,memory_request,memory_limit,disk_request,disk_limit,
    max_instance_per_node,creation_time,scheduled_time,deletion_time

- ``role``: ``CN`` (CPU-node instance) or ``HN`` (heterogeneous GPU-node instance)
- ``app_name``: the inference service the instance belongs to
- ``cpu_*``: vCPUs; ``gpu_*``: GPUs; ``rdma_*``: percent of one RNIC's bandwidth
- ``memory_*``, ``disk_*``: GiB; ``max_instance_per_node``: per-app cap, -1 = none
- ``creation_time`` / ``scheduled_time`` / ``deletion_time``: seconds from the trace
  start; empty when before the trace start (creation, scheduling) or after its end
  (deletion). All instances are latency-sensitive (upstream README).

Mapping to the normalised schema
    ``id`` = ``instance_sn``; ``owner`` = ``app_name``; ``qos`` = ``"LS"``;
    ``priority`` 0; ``cpu_milli`` = ``cpu_request * 1000``; ``memory_bytes`` =
    ``memory_request * 2**30``; ``gpu_count`` / ``gpu_milli`` = ``gpu_request`` whole
    GPUs (a request below 1 becomes one shared GPU of ``gpu_request * 1000`` milli);
    ``gpu_model`` "" (not in the trace); ``arrival_s`` = ``creation_time``;
    ``duration_s`` = ``deletion_time - scheduled_time``. Limits, RDMA, disk and the
    per-node cap have no column in the schema and are not read.

    Censoring: an instance created before the trace start (empty ``creation_time``)
    arrives at 0 with ``clipped_start`` and runs until ``deletion_time``; an instance
    with no ``deletion_time`` outlives the trace: ``clipped_end``, ``duration_s`` NaN.
    With a window, the same clipping applies at the window's edges.

    Dropped rows: ``bad_number``, ``missing_value`` (requests), ``negative_value``,
    ``negative_duration`` (deletion before creation or scheduling),
    ``scheduled_before_creation``, ``bad_gpu_request`` (a fractional request above 1).

Samples
    :func:`generate_dlrm_sample` makes a synthetic file in exactly this layout; the one
    shipped in ``k8sim/data/traces`` is found with :func:`dlrm_sample_path`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from k8sim.config.traces import DLRM_SAMPLE_FILE
from k8sim.workloads.traces.build import build_pods, outside_window, raw_frame, window_error
from k8sim.workloads.traces.reports import PathLike, TraceReport
from k8sim.workloads.traces.schema import GIB, TraceOptions
from k8sim.workloads.traces.tables import DeferredDrops, RowCheck, Table, iter_tables, replay_drops

__all__ = [
    "DLRM_COLUMNS",
    "dlrm_sample_path",
    "generate_dlrm_sample",
    "read_dlrm",
    "write_dlrm_sample",
]

DLRM_COLUMNS: tuple[str, ...] = (
    "instance_sn",
    "role",
    "app_name",
    "cpu_request",
    "cpu_limit",
    "gpu_request",
    "gpu_limit",
    "rdma_request",
    "rdma_limit",
    "memory_request",
    "memory_limit",
    "disk_request",
    "disk_limit",
    "max_instance_per_node",
    "creation_time",
    "scheduled_time",
    "deletion_time",
)
SAMPLE_FILE = DLRM_SAMPLE_FILE


def _parse_dlrm_batch(table: Table, drops: DeferredDrops) -> dict[str, Any]:
    """The good rows of one batch of the DLRM trace, as :func:`raw_frame` columns."""
    check = RowCheck(table, drops)
    cpu = check.number("cpu_request", minimum=0)
    gpu = check.number("gpu_request", minimum=0)
    mem = check.number("memory_request", minimum=0)
    created = check.number("creation_time", required=False, minimum=0)
    scheduled = check.number("scheduled_time", required=False, minimum=0)
    deleted = check.number("deletion_time", required=False, minimum=0)

    whole = gpu == np.round(gpu)
    check.reject(~whole & (gpu > 1), "bad_gpu_request", "gpu_request")
    check.reject(scheduled < created, "scheduled_before_creation", "scheduled_time")
    check.reject((deleted < created) | (deleted < scheduled), "negative_duration", "deletion_time")

    shared = ~whole & (gpu > 0) & (gpu < 1)
    gpu_count = np.where(shared, 1.0, gpu)
    gpu_milli = np.where(shared, np.rint(gpu * 1000), np.where(gpu > 0, 1000.0, 0.0))
    # Run start: scheduled_time; empty scheduled and creation = running at trace start.
    run_start = np.where(np.isnan(scheduled) & np.isnan(created), 0.0, scheduled)
    ok = check.ok
    mask = pa.array(ok)
    return {
        "id": check.strings("instance_sn", nan_is_empty=False).filter(mask),
        "arrival": created[ok],
        "end": deleted[ok],
        "duration": (deleted - run_start)[ok],
        "cpu_milli": cpu[ok] * 1000,
        "memory_bytes": mem[ok] * GIB,
        "gpu_count": gpu_count[ok],
        "gpu_milli": gpu_milli[ok],
        "owner": check.strings("app_name", nan_is_empty=False).filter(mask),
    }


def read_dlrm(
    path: PathLike,
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[pd.DataFrame, TraceReport]:
    """Read the DLRM instance trace into the normalised pod schema (see the module doc).

    Read in batches; with a time window each batch keeps only the pods in the window
    (see :func:`~k8sim.workloads.traces.alibaba_gpu_2023.read_openb_pods`).
    """
    report = TraceReport(source=str(path))
    parts: list[dict[str, Any]] = []
    batches: list[DeferredDrops] = []
    outside = 0
    def work(table: Table) -> tuple[DeferredDrops, dict[str, Any]]:
        drops = DeferredDrops()
        return drops, _parse_dlrm_batch(table, drops)

    for drops, part in iter_tables(path, DLRM_COLUMNS, report, header=True).map(work):
        batches.append(drops)
        if options is not None and options.has_window:
            out = outside_window(part["arrival"], part["end"], options)
            if out.any():
                outside += int(out.sum())
                keep = ~out
                part = {k: v.filter(pa.array(keep)) if isinstance(v, pa.Array) else v[keep] for k, v in part.items()}
        parts.append(part)
    replay_drops(report, batches)
    cols = {k: (pa.chunked_array([p[k] for p in parts], type=pa.string()) if k in ("id", "owner")
                else np.concatenate([p[k] for p in parts])) for k in parts[0]} if parts else {}
    n = len(cols["arrival"]) if cols else 0
    if outside:
        report.filter("outside_window", outside)
        if n == 0:
            assert options is not None
            raise window_error(str(path), options)
    if not cols:
        cols = {k: np.zeros(0) for k in ("arrival", "end", "duration", "cpu_milli", "memory_bytes", "gpu_count",
                                         "gpu_milli")}
        cols["id"] = cols["owner"] = np.zeros(0, dtype=object)
    raw = raw_frame(n, qos="LS", **cols)
    pods = build_pods(raw, file=str(path), options=options, rng=rng, report=report)
    return pods, report


# --------------------------------------------------------------------------- samples

# Invented service shapes: (role, vCPU, GPUs, GiB memory per vCPU).
_SAMPLE_APP_SHAPES: tuple[tuple[str, int, int, int], ...] = (
    ("CN", 32, 0, 5),
    ("CN", 48, 0, 4),
    ("CN", 64, 0, 5),
    ("CN", 96, 0, 5),
    ("HN", 8, 1, 5),
    ("HN", 16, 1, 8),
    ("HN", 24, 2, 8),
)


def generate_dlrm_sample(
    rng: np.random.Generator, n_instances: int, *, trace_length_s: float = 30 * 86400.0
) -> pd.DataFrame:
    """A synthetic frame in exactly the DLRM trace layout (values invented, not copied).

    About a quarter of the instances exist before the trace start (empty creation and
    scheduling times); the others are created uniformly over the trace and run for
    log-normal times; instances still alive at ``trace_length_s`` have no deletion time.
    """
    if n_instances < 1:
        raise ValueError("n_instances must be >= 1")
    n_apps = max(1, n_instances // 25)
    app_shape = rng.integers(0, len(_SAMPLE_APP_SHAPES), size=n_apps)
    app_rdma = rng.choice([1, 10, 25, 50, 100], size=n_apps)
    app_cap = rng.choice([-1, -1, 2, 4, 8], size=n_apps)
    app_disk = rng.choice([100.0, 200.0, 400.0, 800.0], size=n_apps)
    app = np.sort(rng.integers(0, n_apps, size=n_instances))
    shape = [_SAMPLE_APP_SHAPES[app_shape[a]] for a in app]
    cpu = np.array([s[1] for s in shape])
    gpu = np.array([s[2] for s in shape])
    mem = (cpu * np.array([s[3] for s in shape])).astype(float)
    disk_limit = app_disk[app]
    disk_request = np.rint(disk_limit * rng.uniform(0.6, 0.9, size=n_instances))

    before = rng.random(n_instances) < 0.25
    created = np.rint(rng.uniform(0, trace_length_s, size=n_instances))
    scheduled = created + rng.geometric(0.3, size=n_instances) - 1
    start = np.where(before, 0.0, scheduled)
    deleted = np.rint(start + rng.lognormal(mean=10.5, sigma=2.5, size=n_instances))
    created = np.where(before, np.nan, created)
    scheduled = np.where(before, np.nan, scheduled)
    deleted = np.where(deleted >= trace_length_s, np.nan, deleted)

    frame = pd.DataFrame(
        {
            "instance_sn": [f"instance_{i}" for i in range(n_instances)],
            "role": [s[0] for s in shape],
            "app_name": [f"app_{a}" for a in app],
            "cpu_request": cpu,
            "cpu_limit": cpu,
            "gpu_request": gpu,
            "gpu_limit": gpu,
            "rdma_request": app_rdma[app],
            "rdma_limit": app_rdma[app],
            "memory_request": mem,
            "memory_limit": mem,
            "disk_request": disk_request,
            "disk_limit": disk_limit,
            "max_instance_per_node": app_cap[app],
            "creation_time": created,
            "scheduled_time": scheduled,
            "deletion_time": deleted,
        }
    )
    return frame[list(DLRM_COLUMNS)]


def write_dlrm_sample(directory: PathLike, rng: np.random.Generator, n_instances: int = 300) -> Path:
    """Write :func:`generate_dlrm_sample` output as the sample CSV file."""
    path = Path(directory) / SAMPLE_FILE
    generate_dlrm_sample(rng, n_instances).to_csv(path, index=False, lineterminator="\n")
    return path


def dlrm_sample_path() -> Path:
    """Path of the shipped synthetic DLRM sample."""
    return Path(str(resources.files("k8sim").joinpath("data", "traces", SAMPLE_FILE)))
