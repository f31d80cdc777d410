"""Run directories: the one on-disk format of a run's results, written and read here.

A run directory holds the run's tables, one file each (``pods``, ``nodes``, ``events``,
``timeseries`` and, when present, ``decisions``, ``gpu``, ``trace`` and components'
frames; Parquet, or CSV as a fallback), and ``summary.json``::

    {
      "summary":       {metric: value, ...},      # RunResult.summary(), NaN -> null
      "provenance":    {...},                     # scenario, seed, version, warnings, ...
      "never_fit":     {workload: [resources]},
      "warmup_s": ..., "end_time_s": ..., "resources": [...],
      "tables":        ["pods", ...],             # the tables this directory holds
      "extra_summary": {...},                     # summary columns components added
      ...                                         # the writer's own keys (a sweep's run
    }                                             # id, overrides, profile, seed, status)

``k8sim run`` writes every table; comparisons and sweeps keep the tables their plots
need. :func:`load_run` (``RunResult.load``) reads any of them back; a directory written
with every table round-trips exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from k8sim.metrics.result import RunResult

#: Tables a result has as attributes, in the order they are written.
RESULT_TABLES = ("pods", "nodes", "events", "timeseries", "decisions", "gpu", "trace")
SUMMARY_FILE = "summary.json"


def check_output_dir(directory: str | Path, option: str = "--out") -> None:
    """Raise :class:`~k8sim.config.loader.ScenarioError` unless ``directory`` can hold
    results: an existing directory, or a new one whose nearest existing ancestor is a
    writable directory. Called before a run starts, so that no result is lost to a bad
    output location after the simulation."""
    import os

    from k8sim.config.loader import ScenarioError

    d = Path(directory)
    if d.exists():
        if not d.is_dir():
            raise ScenarioError(option, [("", f"{d} exists and is not a directory; results are written into "
                                              "a directory (choose another path, or remove the file)")])
        if not os.access(d, os.W_OK | os.X_OK):
            raise ScenarioError(option, [("", f"{d}: directory is not writable")])
        return
    parent = d.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ScenarioError(option, [("", f"{d}: cannot create it, {parent} is not a directory")])
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ScenarioError(option, [("", f"{d}: cannot create it, {parent} is not writable")])


def json_safe(v: Any) -> Any:
    """JSON-friendly: numpy scalars become Python ones, NaN/inf floats None, recursively
    through mappings and sequences."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    return v


def write_run_dir(directory: str | Path, *, tables: Mapping[str, pd.DataFrame], summary: Mapping[str, Any],
                  provenance: Mapping[str, Any], warmup_s: float, end_time_s: float | None = None,
                  resources: Sequence[str] = (), never_fit: Mapping[str, list[str]] | None = None,
                  extra_summary: Mapping[str, Any] | None = None, extra: Mapping[str, Any] | None = None,
                  fmt: str = "parquet") -> Path:
    """Write ``tables`` (``fmt`` ``"parquet"`` or ``"csv"``) and ``summary.json``;
    ``extra`` adds the writer's own top-level keys. Returns the directory."""
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown table format {fmt!r} (parquet or csv)")
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "parquet":
            frame.to_parquet(d / f"{name}.parquet", index=False)
        else:
            frame.to_csv(d / f"{name}.csv", index=False)
    payload: dict[str, Any] = {
        "summary": json_safe(dict(summary)),
        "provenance": json_safe(dict(provenance)),
        "never_fit": json_safe(dict(never_fit or {})),
        "warmup_s": json_safe(warmup_s),
        "end_time_s": json_safe(end_time_s),
        "resources": list(resources),
        "tables": list(tables),
        "extra_summary": json_safe(dict(extra_summary or {})),
    }
    payload.update(json_safe(dict(extra or {})))
    (d / SUMMARY_FILE).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return d


def write_result(result: RunResult, directory: str | Path, fmt: str = "parquet",
                 tables: Sequence[str] | None = None, extra: Mapping[str, Any] | None = None) -> Path:
    """Write a result's tables (all it has, or those named in ``tables``) and summary."""
    frames: dict[str, pd.DataFrame] = {}
    for name in RESULT_TABLES:
        frame = getattr(result, name)
        if frame is not None:
            frames[name] = frame
    frames.update(result.frames)
    if tables is not None:
        frames = {k: v for k, v in frames.items() if k in tables}
    summary = {str(k): v for k, v in result.summary().to_dict(orient="records")[0].items()}
    return write_run_dir(directory, tables=frames, summary=summary, provenance=result.provenance,
                         warmup_s=result.warmup_s, end_time_s=result.end_time, resources=result.resources,
                         never_fit=result.never_fit, extra_summary=result.extra_summary, extra=extra, fmt=fmt)


def read_summary(directory: str | Path) -> dict[str, Any] | None:
    """The ``summary.json`` of a run directory, or None."""
    f = Path(directory) / SUMMARY_FILE
    return json.loads(f.read_text()) if f.is_file() else None


def _read_table(d: Path, name: str) -> pd.DataFrame | None:
    if (d / f"{name}.parquet").is_file():
        return pd.read_parquet(d / f"{name}.parquet")
    if (d / f"{name}.csv").is_file():
        return pd.read_csv(d / f"{name}.csv")
    return None


def load_run(directory: str | Path) -> RunResult:
    """Read a run directory back into a :class:`RunResult` (tables it lacks are empty
    frames or None). Directories of older versions (summary under ``metrics``, no
    ``warmup_s``) are read too, the warm-up then coming from ``scenario.yaml``."""
    import yaml

    from k8sim.config.loader import safe_load

    d = Path(directory)
    meta = read_summary(d) or {}
    frames = {name: _read_table(d, name) for name in RESULT_TABLES}
    extra = {name: f for name in meta.get("tables", []) if name not in RESULT_TABLES
             and (f := _read_table(d, name)) is not None}
    ts = frames["timeseries"] if frames["timeseries"] is not None else pd.DataFrame({"time": [], "interval": []})
    provenance = dict(meta.get("provenance") or {})
    warmup = meta.get("warmup_s")
    if warmup is None and (d / "scenario.yaml").is_file():
        try:
            sc = safe_load((d / "scenario.yaml").read_text())
        except yaml.YAMLError:
            sc = None  # not ours (or broken): the table's own metadata is all there is
        sc = sc if isinstance(sc, dict) else {}
        warmup = sc.get("warmup_s")
        provenance.setdefault("scenario", sc.get("name"))
        provenance.setdefault("seed", sc.get("seed"))
    resources = meta.get("resources")
    if not resources:
        # <r>_requested / _allocatable / _utilization columns name the resources; the
        # GPU columns (gpu_utilization, gpu_allocated_milli, ...) are not a resource.
        resources = [c.removesuffix("_utilization") for c in ts.columns
                     if c.endswith("_utilization") and c.removesuffix("_utilization") + "_allocatable" in ts]
    end = meta.get("end_time_s", provenance.get("end_time_s"))
    if end is None:
        end = float((ts["time"] + ts["interval"]).max()) if len(ts) else 0.0
    return RunResult(
        pods=frames["pods"] if frames["pods"] is not None else pd.DataFrame(),
        nodes=frames["nodes"] if frames["nodes"] is not None else pd.DataFrame(),
        events=frames["events"] if frames["events"] is not None else pd.DataFrame(),
        timeseries=ts, resources=tuple(resources), end_time=float(end), warmup_s=float(warmup or 0.0),
        provenance=provenance, never_fit=dict(meta.get("never_fit") or {}),
        decisions=frames["decisions"], gpu=frames["gpu"], trace=frames["trace"], frames=extra,
        extra_summary=dict(meta.get("extra_summary") or {}),
    )
