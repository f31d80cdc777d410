"""The trace formats a scenario can name, and how each is read.

A scenario's trace workload (``workloads[i].trace``) and trace node list
(``cluster.trace_nodes[j]``) name a ``format`` from :data:`POD_FORMATS` /
:data:`NODE_FORMATS`, one or more files, and format-specific ``args``. This module maps
each name to its reader and validates the ``args`` (unknown keys are errors; byte sizes
accept Kubernetes quantities such as ``64Gi``; extra files are resolved relative to
the scenario file). The file name ``sample`` selects the synthetic sample shipped in
the package, where one exists (``openb`` pods and nodes, ``dlrm``).

=================  ==========================================  ==========================
format             reader                                      args
=================  ==========================================  ==========================
``openb``          :func:`.alibaba_gpu_2023.read_openb_pods`   ``censor_at_trace_end``
``dlrm``           :func:`.alibaba_gpu_2025_dlrm.read_dlrm`    (none)
``alibaba2018``    :func:`.alibaba_2018.read_alibaba_2018`     ``machine_memory_bytes``,
                                                               ``batch_instance`` (file)
``google2019``     :func:`.google_2019.read_google_2019`       ``machine_cpu_milli``,
                                                               ``machine_memory_bytes``,
                                                               ``collection_events``
                                                               (files),
                                                               ``include_alloc_instances``
``google2011``     :func:`.google_2011.read_google_2011`       ``machine_cpu_milli``,
                                                               ``machine_memory_bytes``
``azure-vm``       :func:`.azure_vm.read_azure_vmtable`        ``cores_above_top_bucket``,
                                                               ``memory_gb_above_top_bucket``,
                                                               ``trace_end_s``
``swf``            :func:`.swf.read_swf`                       ``cpu_milli_per_processor``
``simkube``        :func:`.simkube.read_simkube`               (none)
=================  ==========================================  ==========================

Node formats: ``openb`` (:func:`.alibaba_gpu_2023.read_openb_nodes`), ``pai2020``
(:func:`.alibaba_pai_2020.read_pai_machine_spec`), ``alibaba2018``
(``machine_memory_bytes``), ``google2019`` and ``google2011`` (``machine_cpu_milli``,
``machine_memory_bytes``).

Several files of one format are read one by one with the same options and
concatenated (sorted by arrival, ties in file order), except for the Google formats,
whose readers take the event files of one trace together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from k8sim.config.quantity import parse_quantity, to_units
from k8sim.workloads.traces import (
    alibaba_2018,
    alibaba_gpu_2023,
    alibaba_gpu_2025_dlrm,
    alibaba_pai_2020,
    azure_vm,
    google_2011,
    google_2019,
    simkube,
    swf,
)
from k8sim.workloads.traces.reports import TraceReport
from k8sim.workloads.traces.schema import TraceOptions, validate_pods

__all__ = ["NODE_FORMATS", "POD_FORMATS", "SAMPLE", "NodeFormat", "PodFormat", "read_nodes", "read_pods"]

#: The file name that selects the packaged synthetic sample.
SAMPLE = "sample"


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


ReadPods = Callable[[list[Path], TraceOptions, np.random.Generator, dict[str, Any]],
                    list[tuple[pd.DataFrame, TraceReport]]]


@dataclass(frozen=True)
class PodFormat:
    """A pod trace format: its reader, ``args`` model, which args are files, sample."""

    name: str
    read: ReadPods
    args: type[_Args]
    path_args: tuple[str, ...] = ()
    sample: Callable[[], Path] | None = None


@dataclass(frozen=True)
class NodeFormat:
    name: str
    read: Callable[[Path, dict[str, Any]], tuple[pd.DataFrame, TraceReport]]
    args: type[_Args]
    sample: Callable[[], Path] | None = None


def _each(reader: Callable[..., tuple[pd.DataFrame, TraceReport]]) -> ReadPods:
    """A reader of one file applied to each file in turn."""

    def read(files: list[Path], options: TraceOptions, rng: np.random.Generator, args: dict[str, Any]
             ) -> list[tuple[pd.DataFrame, TraceReport]]:
        return [reader(f, options, rng, **args) for f in files]

    return read


def _together(reader: Callable[..., tuple[pd.DataFrame, TraceReport]]) -> ReadPods:
    """A reader that takes all the files of one trace at once."""

    def read(files: list[Path], options: TraceOptions, rng: np.random.Generator, args: dict[str, Any]
             ) -> list[tuple[pd.DataFrame, TraceReport]]:
        return [reader(files, options, rng, **args)]

    return read


POD_FORMATS: dict[str, PodFormat] = {
    f.name: f
    for f in (
        PodFormat("openb", _each(alibaba_gpu_2023.read_openb_pods), OpenbArgs,
                  sample=lambda: alibaba_gpu_2023.openb_sample_paths()[0]),
        PodFormat("dlrm", _each(alibaba_gpu_2025_dlrm.read_dlrm), NoArgs,
                  sample=alibaba_gpu_2025_dlrm.dlrm_sample_path),
        PodFormat("alibaba2018", _each(alibaba_2018.read_alibaba_2018), Alibaba2018Args,
                  path_args=("batch_instance",)),
        PodFormat("google2019", _together(google_2019.read_google_2019), Google2019Args,
                  path_args=("collection_events",)),
        PodFormat("google2011", _together(google_2011.read_google_2011), GoogleArgs),
        PodFormat("azure-vm", _each(azure_vm.read_azure_vmtable), AzureArgs),
        PodFormat("swf", _each(swf.read_swf), SwfArgs),
        PodFormat("simkube", _each(simkube.read_simkube), NoArgs),
    )
}

NODE_FORMATS: dict[str, NodeFormat] = {
    f.name: f
    for f in (
        NodeFormat("openb", lambda p, a: alibaba_gpu_2023.read_openb_nodes(p), NoArgs,
                   sample=lambda: alibaba_gpu_2023.openb_sample_paths()[1]),
        NodeFormat("pai2020", lambda p, a: alibaba_pai_2020.read_pai_machine_spec(p), NoArgs),
        NodeFormat("alibaba2018", lambda p, a: alibaba_2018.read_alibaba_2018_machines(p, **a),
                   Alibaba2018NodeArgs),
        NodeFormat("google2019", lambda p, a: google_2019.read_google_2019_machines(p, **a), GoogleArgs),
        NodeFormat("google2011", lambda p, a: google_2011.read_google_2011_machines(p, **a), GoogleArgs),
    )
}


def resolve_file(name: str, base_dir: Path, sample: Callable[[], Path] | None, fmt: str) -> str:
    """The path a scenario's file entry stands for: ``sample`` -> the packaged sample;
    relative paths are relative to the scenario file's directory. Raises ValueError
    when the file does not exist."""
    if name == SAMPLE:
        if sample is None:
            raise ValueError(f"format {fmt!r} has no packaged sample; give a file path")
        return str(sample())
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.is_file():
        raise ValueError(f"trace file not found: {path}")
    return str(path)


def check_args(fmt: str, raw: dict[str, Any], base_dir: Path, nodes: bool = False) -> dict[str, Any]:
    """Validate a format's ``args`` (ValueError/ValidationError on bad ones) and resolve
    its file arguments; returns the keyword arguments for the reader."""
    spec: PodFormat | NodeFormat = (NODE_FORMATS if nodes else POD_FORMATS)[fmt]
    args = spec.args.model_validate(raw).model_dump(exclude_unset=False)
    for key in getattr(spec, "path_args", ()):
        value = args.get(key)
        if isinstance(value, str):
            args[key] = resolve_file(value, base_dir, None, fmt)
        elif isinstance(value, list):
            args[key] = [resolve_file(v, base_dir, None, fmt) for v in value]
    if not nodes and fmt == "google2019" and not args.get("collection_events"):
        args["collection_events"] = None
    return args


def read_pods(fmt: str, files: Sequence[str], options: TraceOptions, rng: np.random.Generator,
              args: dict[str, Any]) -> tuple[pd.DataFrame, list[TraceReport]]:
    """Read the pod files of one trace workload: one frame (sorted by arrival, ties in
    file order) and one report per reader call. Raises :class:`.TraceError`."""
    parts = POD_FORMATS[fmt].read([Path(f) for f in files], options, rng, args)
    frames = [df for df, _ in parts]
    reports = [r for _, r in parts]
    if len(frames) == 1:
        return frames[0], reports
    frame = pd.concat(frames, ignore_index=True).sort_values("arrival_s", kind="stable").reset_index(drop=True)
    return validate_pods(frame), reports


def read_nodes(fmt: str, file: str, args: dict[str, Any]) -> tuple[pd.DataFrame, TraceReport]:
    """Read a node list of ``fmt``. Raises :class:`.TraceError`."""
    return NODE_FORMATS[fmt].read(Path(file), args)
