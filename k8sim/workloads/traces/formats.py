"""The trace formats a scenario can name, and how each is read.

A scenario's trace workload (``workloads[i].trace``) and trace node list
(``cluster.trace_nodes[j]``) name a ``format`` from :data:`POD_FORMATS` /
:data:`NODE_FORMATS`, one or more files, and format-specific ``args``. This module maps
each name to its reader; what a scenario may give for each format (the ``args``
models, which args are files, the packaged samples) is schema and lives in
:mod:`k8sim.config.traces`. The file name ``sample`` selects the synthetic sample shipped in
the package, where one exists (``openb`` pods and nodes, ``dlrm``).

=================  ==========================================  ==========================
format             reader                                      args
=================  ==========================================  ==========================
``openb``          :func:`.alibaba_gpu_2023.read_openb_pods`   ``censor_at_trace_end``
``dlrm``           :func:`.alibaba_gpu_2025_dlrm.read_dlrm`    (none)
``alibaba2018``    :func:`.alibaba_2018.read_alibaba_2018`     ``machine_memory_bytes``,
                   (``table: container``:                      ``batch_instance`` (file),
                   :func:`.alibaba_2018.                       ``table`` (``batch`` |
                   read_alibaba_2018_containers`)              ``container``)
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
from typing import Any

import numpy as np
import pandas as pd

from k8sim.config.traces import (
    NODE_FORMAT_SCHEMAS,
    POD_FORMAT_SCHEMAS,
    SAMPLE,
    FormatSchema,
    check_args,
    packaged_sample,
    resolve_file,
)
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

__all__ = ["NODE_FORMATS", "POD_FORMATS", "SAMPLE", "NodeFormat", "PodFormat", "check_args", "read_nodes",
           "read_pods", "resolve_file"]


ReadPods = Callable[[list[Path], TraceOptions, np.random.Generator, dict[str, Any]],
                    list[tuple[pd.DataFrame, TraceReport]]]


@dataclass(frozen=True)
class PodFormat:
    """A pod trace format: its reader, and its schema (``args`` model, file args, sample)."""

    name: str
    read: ReadPods

    @property
    def schema(self) -> FormatSchema:
        return POD_FORMAT_SCHEMAS[self.name]

    @property
    def sample(self) -> Path | None:
        """The packaged sample's path, if the format has one."""
        return None if self.schema.sample is None else packaged_sample(self.schema.sample)


@dataclass(frozen=True)
class NodeFormat:
    """A node list format: its reader, and its schema."""

    name: str
    read: Callable[[Path, dict[str, Any]], tuple[pd.DataFrame, TraceReport]]

    @property
    def schema(self) -> FormatSchema:
        return NODE_FORMAT_SCHEMAS[self.name]

    @property
    def sample(self) -> Path | None:
        """The packaged sample's path, if the format has one."""
        return None if self.schema.sample is None else packaged_sample(self.schema.sample)


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


def _alibaba_2018(file: Path, options: TraceOptions, rng: np.random.Generator, *, table: str = "batch",
                  **args: Any) -> tuple[pd.DataFrame, TraceReport]:
    """``alibaba2018``: batch tasks (and instances), or with ``table: container`` the
    online containers of ``container_meta`` files."""
    if table == "container":
        args.pop("batch_instance", None)
        return alibaba_2018.read_alibaba_2018_containers(file, options, rng, **args)
    return alibaba_2018.read_alibaba_2018(file, options, rng, **args)


POD_FORMATS: dict[str, PodFormat] = {
    f.name: f
    for f in (
        PodFormat("openb", _each(alibaba_gpu_2023.read_openb_pods)),
        PodFormat("dlrm", _each(alibaba_gpu_2025_dlrm.read_dlrm)),
        PodFormat("alibaba2018", _each(_alibaba_2018)),
        PodFormat("google2019", _together(google_2019.read_google_2019)),
        PodFormat("google2011", _together(google_2011.read_google_2011)),
        PodFormat("azure-vm", _each(azure_vm.read_azure_vmtable)),
        PodFormat("swf", _each(swf.read_swf)),
        PodFormat("simkube", _each(simkube.read_simkube)),
    )
}

NODE_FORMATS: dict[str, NodeFormat] = {
    f.name: f
    for f in (
        NodeFormat("openb", lambda p, a: alibaba_gpu_2023.read_openb_nodes(p)),
        NodeFormat("pai2020", lambda p, a: alibaba_pai_2020.read_pai_machine_spec(p)),
        NodeFormat("alibaba2018", lambda p, a: alibaba_2018.read_alibaba_2018_machines(p, **a)),
        NodeFormat("google2019", lambda p, a: google_2019.read_google_2019_machines(p, **a)),
        NodeFormat("google2011", lambda p, a: google_2011.read_google_2011_machines(p, **a)),
    )
}


def read_pods(fmt: str, files: Sequence[str], options: TraceOptions, rng: np.random.Generator,
              args: dict[str, Any]) -> tuple[pd.DataFrame, list[TraceReport]]:
    """Read the pod files of one trace workload: one frame (sorted by arrival, ties in
    file order) and one report per reader call. Raises :class:`.TraceError`."""
    spec = POD_FORMATS[fmt]
    paths = [_path(f, spec.sample) for f in files]
    parts = spec.read(paths, options, rng, args)
    frames = [df for df, _ in parts]
    reports = [r for _, r in parts]
    if len(frames) == 1:
        return frames[0], reports
    frame = pd.concat(frames, ignore_index=True).sort_values("arrival_s", kind="stable").reset_index(drop=True)
    return validate_pods(frame), reports


def read_nodes(fmt: str, file: str, args: dict[str, Any]) -> tuple[pd.DataFrame, TraceReport]:
    """Read a node list of ``fmt``. Raises :class:`.TraceError`."""
    spec = NODE_FORMATS[fmt]
    return spec.read(_path(file, spec.sample), args)


def _path(file: str, sample: Path | None) -> Path:
    """A validated file entry as a path: ``sample`` is the packaged sample here."""
    if file == SAMPLE:
        if sample is None:
            raise ValueError("this format has no packaged sample")
        return sample
    return Path(file)
