"""The trace part of the scenario schema: reader options, format ``args``, file entries.

A scenario's trace workload (``workloads[i].trace``) and trace node list
(``cluster.trace_nodes[j]``) name a format, one or more files and format-specific
``args``. This module holds what validating them needs, as data: the ``args`` model of
each format (unknown keys are errors; byte sizes accept Kubernetes quantities such as
``64Gi``), which ``args`` name extra files, which formats ship a packaged sample (the
file name ``sample``), and :class:`TraceOptions`, the options every pod reader takes.
The readers themselves live in :mod:`k8sim.workloads.traces`; their registry
(:mod:`k8sim.workloads.traces.formats`) pairs each format named here with its reader.

File entries are checked when the scenario is validated (``k8sim validate`` reports a
missing file with its field path): relative paths are resolved against the scenario
file's directory and must name an existing file.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from k8sim.config.quantity import parse_quantity, to_units

__all__ = [
    "NODE_FORMAT_SCHEMAS",
    "POD_FORMAT_SCHEMAS",
    "SAMPLE",
    "FormatSchema",
    "TraceOptions",
    "check_args",
    "packaged_sample",
    "resolve_file",
]

#: The file name that selects the packaged synthetic sample.
SAMPLE = "sample"

#: Packaged synthetic samples (in ``k8sim/data/traces``).
OPENB_SAMPLE_POD_FILE = "openb_pod_list_sample.csv"
OPENB_SAMPLE_NODE_FILE = "openb_node_list_sample.csv"
DLRM_SAMPLE_FILE = "dlrm_trace_sample.csv"


def packaged_sample(file_name: str) -> Path:
    """Path of a sample file shipped in the package's ``data/traces`` folder."""
    return Path(str(resources.files("k8sim").joinpath("data", "traces", file_name)))


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


# --------------------------------------------------------------------------- args


def _bytes(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a byte size such as 64Gi or 68719476736")
    return to_units(parse_quantity(value))


Bytes = Annotated[int, BeforeValidator(_bytes), Field(gt=0)]


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(_Args):
    pass


class OpenbArgs(_Args):
    # Pods deleted at the file's last deletion time are still running (NaN duration).
    censor_at_trace_end: bool = True


class Alibaba2018Args(_Args):
    machine_memory_bytes: Bytes  # memory of the machine the normalised memory refers to
    batch_instance: str | None = None  # batch_instance file (instances replace tasks)
    # Which side of the trace the files are: batch (batch_task files) or container
    # (container_meta files: the online, long-running service containers).
    table: Literal["batch", "container"] = "batch"

    @model_validator(mode="after")
    def _table(self) -> Alibaba2018Args:
        if self.table == "container" and self.batch_instance is not None:
            raise ValueError("batch_instance belongs to table: batch; table: container reads container_meta files")
        return self


class Alibaba2018NodeArgs(_Args):
    machine_memory_bytes: Bytes


class GoogleArgs(_Args):
    machine_cpu_milli: float = Field(gt=0)  # CPU of a machine of normalised capacity 1.0
    machine_memory_bytes: Bytes  # memory of a machine of normalised capacity 1.0


class Google2019Args(GoogleArgs):
    collection_events: list[str] = []  # collection_events files (job priorities, owners)
    include_alloc_instances: bool = False


class AzureArgs(_Args):
    cores_above_top_bucket: float = Field(default=32, gt=0)
    memory_gb_above_top_bucket: float = Field(default=128, gt=0)
    trace_end_s: float | None = Field(default=None, gt=0)


class SwfArgs(_Args):
    cpu_milli_per_processor: float = Field(default=1000, gt=0)


class SimKubeArgs(_Args):
    # pods: the trace flattened to a pod list (each owner's pods as the trace implies);
    # controllers: its objects and their scale / template changes applied over time to
    # k8sim's controllers (Deployments roll out, ReplicaSets replace lost pods).
    replay: Literal["pods", "controllers"] = "pods"


@dataclass(frozen=True)
class FormatSchema:
    """What a scenario may give for one trace format: its ``args`` model, which of those
    args name files, and the packaged sample's file name (None: no sample)."""

    args: type[_Args]
    path_args: tuple[str, ...] = ()
    sample: str | None = None


POD_FORMAT_SCHEMAS: dict[str, FormatSchema] = {
    "openb": FormatSchema(OpenbArgs, sample=OPENB_SAMPLE_POD_FILE),
    "dlrm": FormatSchema(NoArgs, sample=DLRM_SAMPLE_FILE),
    "alibaba2018": FormatSchema(Alibaba2018Args, path_args=("batch_instance",)),
    "google2019": FormatSchema(Google2019Args, path_args=("collection_events",)),
    "google2011": FormatSchema(GoogleArgs),
    "azure-vm": FormatSchema(AzureArgs),
    "swf": FormatSchema(SwfArgs),
    "simkube": FormatSchema(SimKubeArgs),
}

NODE_FORMAT_SCHEMAS: dict[str, FormatSchema] = {
    "openb": FormatSchema(NoArgs, sample=OPENB_SAMPLE_NODE_FILE),
    "pai2020": FormatSchema(NoArgs),
    "alibaba2018": FormatSchema(Alibaba2018NodeArgs),
    "google2019": FormatSchema(GoogleArgs),
    "google2011": FormatSchema(GoogleArgs),
}


def resolve_file(name: str, base_dir: Path, sample: str | None, fmt: str) -> str:
    """The path a scenario's file entry stands for: relative paths are relative to the
    scenario file's directory; ``sample`` stays ``sample`` (the format's packaged sample
    file ``sample``, None: the format has none), resolved by the reader on the machine
    that runs it, so that a validated scenario can run on another machine (a Dask
    worker) with k8sim installed elsewhere. Raises ValueError when the file does not
    exist."""
    if name == SAMPLE:
        if sample is None:
            raise ValueError(f"format {fmt!r} has no packaged sample; give a file path")
        return SAMPLE
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise ValueError(f"trace file not found: {path}")
    return str(path)


def check_args(fmt: str, raw: dict[str, Any], base_dir: Path, nodes: bool = False) -> dict[str, Any]:
    """Validate a format's ``args`` (ValueError/ValidationError on bad ones) and resolve
    its file arguments; returns the keyword arguments for the reader."""
    schema = (NODE_FORMAT_SCHEMAS if nodes else POD_FORMAT_SCHEMAS)[fmt]
    args = schema.args.model_validate(raw).model_dump(exclude_unset=False)
    for key in schema.path_args:
        value = args.get(key)
        if isinstance(value, str):
            args[key] = resolve_file(value, base_dir, None, fmt)
        elif isinstance(value, list):
            args[key] = [resolve_file(v, base_dir, None, fmt) for v in value]
    if not nodes and fmt == "google2019" and not args.get("collection_events"):
        args["collection_events"] = None
    return args
