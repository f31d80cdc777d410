"""Alibaba cluster-trace-gpu-v2020 (PAI): machine specifications -> nodes.

Upstream: ``alibaba/clusterdata``, ``cluster-trace-gpu-v2020`` (Weng et al., "MLaaS in
the Wild", NSDI '22; CC BY 4.0), file ``pai_machine_spec.csv``. No header row (the
column names are in the separate ``pai_machine_spec.header``)::

    machine,gpu_type,cap_cpu,cap_mem,cap_gpu

- ``machine``: hashed machine id (joins ``pai_instance_table.machine``)
- ``gpu_type``: ``P100`` / ``T4`` / ``V100`` / ``V100M32`` / ``MISC`` (older GPUs) /
  ``CPU`` (no GPU)
- ``cap_cpu``: CPU cores; ``cap_mem``: main memory, GB; ``cap_gpu``: number of GPUs

Mapping to the node schema
    ``name`` = ``machine``; ``cpu_milli`` = ``cap_cpu * 1000``; ``memory_bytes`` =
    ``cap_mem * 2**30`` (the trace's GB are read as GiB, the way machine memory is
    sized); ``gpu_count`` = ``cap_gpu``; ``gpu_model`` = ``gpu_type``, except ``CPU``
    which becomes "" (CPU-only node). A first line equal to the column names is
    accepted and skipped.

    Dropped rows: ``wrong_field_count``, ``bad_number``, ``missing_value``,
    ``negative_value``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from k8sim.workloads.traces.build import build_nodes
from k8sim.workloads.traces.reports import PathLike, TraceReport
from k8sim.workloads.traces.schema import GIB
from k8sim.workloads.traces.tables import RowCheck, read_table

__all__ = ["PAI_MACHINE_SPEC_COLUMNS", "read_pai_machine_spec"]

PAI_MACHINE_SPEC_COLUMNS: tuple[str, ...] = ("machine", "gpu_type", "cap_cpu", "cap_mem", "cap_gpu")


def read_pai_machine_spec(path: PathLike) -> tuple[pd.DataFrame, TraceReport]:
    """Read ``pai_machine_spec.csv`` into the normalised node schema."""
    report = TraceReport(source=str(path))
    table = read_table(path, PAI_MACHINE_SPEC_COLUMNS, report, header=None)
    check = RowCheck(table, report)
    cpu = check.number("cap_cpu", minimum=0)
    mem = check.number("cap_mem", minimum=0)
    gpus = check.number("cap_gpu", minimum=0)
    check.reject(gpus != np.round(gpus), "bad_number", "cap_gpu")
    model = check.text("gpu_type")
    model = np.where(model == "CPU", "", model)
    ok = check.ok
    raw = pd.DataFrame(
        {
            "name": check.text("machine", nan_is_empty=False)[ok],
            "cpu_milli": cpu[ok] * 1000,
            "memory_bytes": mem[ok] * GIB,
            "gpu_count": gpus[ok],
            "gpu_model": model[ok],
        }
    )
    return build_nodes(raw, file=table.path, report=report), report
