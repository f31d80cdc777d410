"""Fingerprints of every trace reader's output, to pin them across a rewrite of the readers.

``CASES`` names one reader call per entry: a reader, the file(s) it reads (the packaged
samples, the hand-written fixtures of ``tests/data/traces``, the public traces under
``../shared/traces`` when present, gzipped copies of some, and synthetic Google 2019
event logs drawn with a fixed seed) and its options. :func:`fingerprint` reduces the
output to a hash of the normalised frame (columns, dtypes, every cell) and the whole
read report (counts, drop reasons with their file, line and column, filters, clipping),
or to the error message when the reader refuses the file.

``tests/data/traces/pinned_outputs.json`` holds the fingerprints that the readers gave
*before* they were moved onto pyarrow (the CSV module and per-row loops), written by
running this file as a script at that commit::

    PYTHONPATH=. python tests/trace_pins.py tests/data/traces/pinned_outputs.json

``tests/workloads/traces/test_trace_pinned.py`` recomputes them with today's readers.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from k8sim.workloads.traces.alibaba_2018 import read_alibaba_2018, read_alibaba_2018_machines
from k8sim.workloads.traces.alibaba_gpu_2023 import openb_sample_paths, read_openb_nodes, read_openb_pods
from k8sim.workloads.traces.alibaba_gpu_2025_dlrm import read_dlrm
from k8sim.workloads.traces.alibaba_pai_2020 import read_pai_machine_spec
from k8sim.workloads.traces.azure_vm import read_azure_vmtable
from k8sim.workloads.traces.google_2011 import read_google_2011, read_google_2011_machines
from k8sim.workloads.traces.google_2019 import (
    generate_google_2019_instance_events,
    read_google_2019,
    read_google_2019_machines,
)
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.simkube import read_simkube
from k8sim.workloads.traces.swf import read_swf

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "data" / "traces"
SHARED = TESTS.parent / ".." / "shared" / "traces"
PINNED = FIXTURES / "pinned_outputs.json"
GIB = 1 << 30
G2019 = {"machine_cpu_milli": 100_000, "machine_memory_bytes": 100 * GIB}
G2011 = {"machine_cpu_milli": 64_000, "machine_memory_bytes": 64 * GIB}
ALI = {"machine_memory_bytes": 512 * GIB}


def frame_hash(frame: pd.DataFrame) -> str:
    """sha256 over column names, dtypes and every cell (index excluded)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in frame.columns]).encode())
    h.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    if len(frame):
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class Case:
    """One reader call. ``files`` are names resolved by :func:`resolve` in ``workdir``."""

    name: str
    read: Callable[..., tuple[pd.DataFrame, Any]]
    files: tuple[str, ...]
    kwargs: dict[str, Any]
    options: TraceOptions | None = None
    seed: int | None = None  # an rng for sampling
    list_arg: bool = False  # the reader takes a list of files


def resolve(name: str, workdir: Path) -> Path | None:
    """``sample:<file>`` packaged sample, ``fixture:<file>``, ``shared:<dir>/<file>``,
    ``gz:<spec>`` a gzipped copy of another, ``google:<n>`` a synthetic event log of n
    instances (seed n). None when a shared trace is absent."""
    kind, _, rest = name.partition(":")
    if kind == "sample":
        base = openb_sample_paths()[0].parent
        return base / rest
    if kind == "fixture":
        return FIXTURES / rest
    if kind == "shared":
        path = SHARED / rest
        return path if path.exists() else None
    if kind == "gz":
        src = resolve(rest, workdir)
        if src is None:
            return None
        out = workdir / (src.name + ".gz")
        if not out.exists():
            with open(src, "rb") as fi, gzip.open(out, "wb") as fo:
                shutil.copyfileobj(fi, fo)
        return out
    if kind in VARIANTS:
        src = resolve(rest, workdir)
        if src is None:
            return None
        out = workdir / f"{kind}_{src.name}"
        if not out.exists():
            out.write_bytes(VARIANTS[kind](src.read_bytes()))
        return out
    if kind == "google":
        n = int(rest)
        out = workdir / f"google_2019_synthetic_{n}.csv"
        if not out.exists():
            generate_google_2019_instance_events(np.random.default_rng(n), n).to_csv(out, index=False)
        return out
    raise ValueError(name)


def _blank_lines(data: bytes) -> bytes:
    lines = data.split(b"\n")
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i % 7 == 3:
            out += [b"", b"  \t"]
    return b"\n".join(out)


def _quoted(data: bytes) -> bytes:
    # Every cell of every third line quoted; one cell holds a doubled quote.
    lines = data.split(b"\n")
    for i in range(1, len(lines), 3):
        if lines[i]:
            lines[i] = b",".join(b'"' + c + b'"' for c in lines[i].split(b","))
    return b"\n".join(lines)


def _spaced(data: bytes) -> bytes:
    lines = data.split(b"\n")
    for i in range(2, len(lines), 5):
        lines[i] = lines[i].replace(b",", b" ,\t", 2)
    return b"\n".join(lines)


#: Byte-level variants of a file: Windows line ends, a byte-order mark, blank and
#: whitespace-only lines, quoted cells, whitespace around cells, non-ASCII text.
VARIANTS: dict[str, Callable[[bytes], bytes]] = {
    "crlf": lambda b: b.replace(b"\n", b"\r\n"),
    "bom": lambda b: b"\xef\xbb\xbf" + b,
    "blanks": _blank_lines,
    "quoted": _quoted,
    "spaced": _spaced,
    "accents": lambda b: b.replace(b"sample-pod-00", "sample-p\u00f6d-00".encode()),
}


def _report(report: Any) -> dict[str, Any]:
    return {
        "rows_read": report.rows_read,
        "kept": report.kept,
        "dropped": report.dropped,
        "dropped_at": {k: [list(w) for w in v] for k, v in report.dropped_at.items()},
        "filtered": report.filtered,
        "clipped_start": report.clipped_start,
        "clipped_end": report.clipped_end,
        "notes": report.notes,
    }


def fingerprint(case: Case, workdir: Path) -> dict[str, Any] | None:
    """The case's fingerprint; None when one of its files is absent."""
    paths = [resolve(f, workdir) for f in case.files]
    if any(p is None for p in paths):
        return None
    args: list[Any] = [paths] if case.list_arg else [paths[0]]
    if case.options is not None or case.seed is not None:
        args.append(case.options)
    if case.seed is not None:
        args.append(np.random.default_rng(case.seed))
    kwargs = dict(case.kwargs)
    for key, value in kwargs.items():
        if isinstance(value, str) and ":" in value:
            kwargs[key] = resolve(value, workdir)
    try:
        frame, report = case.read(*args, **kwargs)
    except TraceError as e:
        dirs = {str(p.parent) for p in paths if p is not None}
        message = str(e)
        for d in dirs:
            message = message.replace(d, "<dir>")
        return {"error": message}
    return {"rows": len(frame), "frame": frame_hash(frame), "report": _report(report)}


W = TraceOptions
CASES: tuple[Case, ...] = (
    # openb pod and node lists
    Case("openb_sample", read_openb_pods, ("sample:openb_pod_list_sample.csv",), {}),
    Case("openb_sample_window", read_openb_pods, ("sample:openb_pod_list_sample.csv",), {},
         W(start_s=3000, end_s=9000)),
    Case("openb_sample_window_scaled", read_openb_pods, ("sample:openb_pod_list_sample.csv",), {},
         W(start_s=1000, time_scale=0.5, resource_scale=0.7)),
    Case("openb_sample_sampled", read_openb_pods, ("sample:openb_pod_list_sample.csv",), {},
         W(sample_fraction=0.3), seed=7),
    Case("openb_sample_uncensored", read_openb_pods, ("sample:openb_pod_list_sample.csv",),
         {"censor_at_trace_end": False}),
    Case("openb_sample_gz", read_openb_pods, ("gz:sample:openb_pod_list_sample.csv",), {}),
    Case("openb_sample_crlf", read_openb_pods, ("crlf:sample:openb_pod_list_sample.csv",), {}),
    Case("openb_sample_bom", read_openb_pods, ("bom:sample:openb_pod_list_sample.csv",), {}),
    Case("openb_sample_blanks", read_openb_pods, ("blanks:sample:openb_pod_list_sample.csv",), {}),
    Case("openb_sample_quoted", read_openb_pods, ("quoted:sample:openb_pod_list_sample.csv",), {}),
    Case("openb_sample_spaced", read_openb_pods, ("spaced:sample:openb_pod_list_sample.csv",), {}),
    Case("openb_sample_accents", read_openb_pods, ("accents:sample:openb_pod_list_sample.csv",), {}),
    Case("openb_broken_blanks", read_openb_pods, ("blanks:fixture:openb_pod_list_broken.csv",), {}),
    Case("openb_broken_crlf_gz", read_openb_pods, ("gz:crlf:fixture:openb_pod_list_broken.csv",), {}),
    Case("openb_broken_quoted", read_openb_pods, ("quoted:fixture:openb_pod_list_broken.csv",), {}),
    Case("google2019_blanks", read_google_2019, ("blanks:fixture:google_2019_instance_events.csv",), G2019),
    Case("openb_nodes_sample", read_openb_nodes, ("sample:openb_node_list_sample.csv",), {}),
    Case("openb_broken", read_openb_pods, ("fixture:openb_pod_list_broken.csv",), {}),
    Case("openb_broken_gz", read_openb_pods, ("gz:fixture:openb_pod_list_broken.csv",), {}),
    Case("openb_missing_column", read_openb_pods, ("fixture:openb_pod_list_missing_column.csv",), {}),
    Case("openb_all_bad", read_openb_pods, ("fixture:openb_pod_list_all_bad.csv",), {}),
    Case("openb_default", read_openb_pods, ("shared:alibaba-gpu-v2023-openb/openb_pod_list_default.csv",), {}),
    Case("openb_default_window", read_openb_pods,
         ("shared:alibaba-gpu-v2023-openb/openb_pod_list_default.csv",), {}, W(start_s=2_000_000, end_s=6_000_000)),
    Case("openb_default_late_window", read_openb_pods,
         ("shared:alibaba-gpu-v2023-openb/openb_pod_list_default.csv",), {}, W(start_s=12_902_960)),
    Case("openb_cpu050", read_openb_pods, ("shared:alibaba-gpu-v2023-openb/openb_pod_list_cpu050.csv",), {}),
    Case("openb_cpu050_gz", read_openb_pods, ("gz:shared:alibaba-gpu-v2023-openb/openb_pod_list_cpu050.csv",),
         {}),
    Case("openb_cpu050_sampled", read_openb_pods,
         ("shared:alibaba-gpu-v2023-openb/openb_pod_list_cpu050.csv",), {}, W(sample_fraction=0.5,
                                                                              sample_by="pod"), seed=3),
    Case("openb_nodes_all", read_openb_nodes, ("shared:alibaba-gpu-v2023-openb/openb_node_list_all_node.csv",),
         {}),
    Case("openb_nodes_gpu", read_openb_nodes, ("shared:alibaba-gpu-v2023-openb/openb_node_list_gpu_node.csv",),
         {}),
    # DLRM
    Case("dlrm_sample", read_dlrm, ("sample:dlrm_trace_sample.csv",), {}),
    Case("dlrm_small", read_dlrm, ("fixture:dlrm_small.csv",), {}),
    Case("dlrm_small_window", read_dlrm, ("fixture:dlrm_small.csv",), {}, W(start_s=450, end_s=1000)),
    Case("dlrm_real", read_dlrm, ("shared:alibaba-gpu-v2025-dlrm/disaggregated_DLRM_trace.csv",), {}),
    Case("dlrm_real_window", read_dlrm, ("shared:alibaba-gpu-v2025-dlrm/disaggregated_DLRM_trace.csv",), {},
         W(start_s=1_000_000, end_s=1_100_000)),
    Case("dlrm_real_owner_sample", read_dlrm, ("shared:alibaba-gpu-v2025-dlrm/disaggregated_DLRM_trace.csv",),
         {}, W(sample_fraction=0.25, sample_by="owner"), seed=11),
    # PAI 2020 machine spec
    Case("pai_real", read_pai_machine_spec, ("shared:alibaba-gpu-v2020-machine-spec/pai_machine_spec.csv",), {}),
    # Alibaba 2018
    Case("alibaba2018_tasks", read_alibaba_2018, ("fixture:alibaba_2018_batch_task.csv",), ALI),
    Case("alibaba2018_instances", read_alibaba_2018, ("fixture:alibaba_2018_batch_task.csv",),
         {**ALI, "batch_instance": "fixture:alibaba_2018_batch_instance.csv"}),
    Case("alibaba2018_window", read_alibaba_2018, ("fixture:alibaba_2018_batch_task.csv",), ALI,
         W(start_s=100, end_s=400)),
    Case("alibaba2018_machines", read_alibaba_2018_machines, ("fixture:alibaba_2018_machine_meta.csv",), ALI),
    # Azure
    Case("azure", read_azure_vmtable, ("fixture:azure_vmtable.csv",), {"trace_end_s": 2_592_000}),
    Case("azure_window", read_azure_vmtable, ("fixture:azure_vmtable.csv",), {}, W(start_s=600, end_s=1800)),
    Case("azure_gz", read_azure_vmtable, ("gz:fixture:azure_vmtable.csv",), {}),
    # Google 2019
    Case("google2019_csv", read_google_2019, ("fixture:google_2019_instance_events.csv",), G2019),
    Case("google2019_json", read_google_2019, ("fixture:google_2019_instance_events.json",), G2019),
    Case("google2019_min", read_google_2019, ("fixture:google_2019_instance_events_min.csv",), G2019),
    Case("google2019_collections", read_google_2019, ("fixture:google_2019_instance_events_min.csv",),
         {**G2019, "collection_events": "fixture:google_2019_collection_events.csv"}),
    Case("google2019_alloc", read_google_2019, ("fixture:google_2019_instance_events.csv",),
         {**G2019, "include_alloc_instances": True}),
    Case("google2019_window", read_google_2019, ("fixture:google_2019_instance_events.csv",), G2019,
         W(start_s=20, end_s=150)),
    Case("google2019_gz", read_google_2019, ("gz:fixture:google_2019_instance_events.csv",), G2019),
    Case("google2019_parts", read_google_2019,
         ("fixture:google_2019_instance_events.csv", "fixture:google_2019_instance_events_min.csv"), G2019,
         list_arg=True),
    Case("google2019_machines", read_google_2019_machines, ("fixture:google_2019_machine_events.csv",), G2019),
    Case("google2019_synthetic", read_google_2019, ("google:3000",), G2019),
    Case("google2019_synthetic_alloc", read_google_2019, ("google:3000",),
         {**G2019, "include_alloc_instances": True}),
    Case("google2019_synthetic_window", read_google_2019, ("google:20000",), G2019, W(start_s=300, end_s=700)),
    Case("google2019_synthetic_sampled", read_google_2019, ("google:20000",), G2019,
         W(sample_fraction=0.4, sample_by="owner"), seed=5),
    # Google 2011
    Case("google2011", read_google_2011,
         ("fixture:google_2011_task_events_part0.csv", "fixture:google_2011_task_events_part1.csv"), G2011,
         list_arg=True),
    Case("google2011_window", read_google_2011,
         ("fixture:google_2011_task_events_part0.csv", "fixture:google_2011_task_events_part1.csv"), G2011,
         W(start_s=100, end_s=2000), list_arg=True),
    Case("google2011_machines", read_google_2011_machines, ("fixture:google_2011_machine_events.csv",), G2011),
    # SWF and SimKube (not CSV; pinned all the same)
    Case("swf", read_swf, ("fixture:sample.swf",), {}),
    Case("swf_window", read_swf, ("fixture:sample.swf",), {}, W(start_s=10, end_s=500)),
    Case("simkube_dsb", read_simkube, ("shared:simkube-dsb-scaling/dsb-scaling.sktrace",), {}),
    Case("simkube_cronjob", read_simkube, ("shared:simkube-dsb-scaling/cronjob.sktrace",), {}),
)


def compute_all(workdir: Path) -> dict[str, Any]:
    return {case.name: fingerprint(case, workdir) for case in CASES}


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        pins = compute_all(Path(tmp))
    missing = [k for k, v in pins.items() if v is None]
    if missing:
        sys.exit(f"shared traces absent, cannot pin: {missing}")
    Path(sys.argv[1]).write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
