"""Google cluster traces as event logs: rebuilding pods and nodes from their events.

The Google traces (clusterdata-2011-2, :mod:`~k8sim.workloads.traces.google_2011`, and
clusterdata-2019, :mod:`~k8sim.workloads.traces.google_2019`) record what happened, not
what existed: each task (instance) and each machine is a sequence of events. Both
readers parse their own rows into :class:`Events` (event-type codes mapped to the
lifecycle roles below) and share the rest:

- :func:`lifecycles` follows each task through its events. A SUBMIT opens an attempt
  (a resubmission after the run ended opens another, id suffixed ``#1``, ``#2``...),
  SCHEDULE starts its run, the next END event (EVICT / FAIL / FINISH / KILL / LOST)
  ends it. Requests are the latest ones of SUBMIT / UPDATE_PENDING / SCHEDULE before the
  run starts. An attempt that ends without being scheduled never ran and is filtered
  (``never_scheduled``); one still open at the end of the events has no end; one
  without a CPU or memory request is dropped (``missing_request``).
- :func:`pods_from_lifecycles` scales the normalised requests by the stated machine
  shape and builds the pods; :func:`nodes_from_machine_events` gives each machine the
  capacity of its latest ADD or UPDATE event that has one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from k8sim.workloads.traces.build import build_nodes, build_pods, raw_frame
from k8sim.workloads.traces.reports import PathLike, TraceReport, Where
from k8sim.workloads.traces.schema import TraceOptions
from k8sim.workloads.traces.tables import RowCheck, Table

__all__ = [
    "END",
    "OTHER",
    "SCHEDULE",
    "SUBMIT",
    "UPDATE_PENDING",
    "Events",
    "as_paths",
    "check_shape",
    "concat_events",
    "event_codes",
    "lifecycles",
    "nodes_from_machine_events",
    "pods_from_lifecycles",
    "qos_labels",
    "trace_seconds",
]

#: 2**63 - 1: "after the end of the trace".
_AFTER_END_US = float(2**63 - 1)

# Lifecycle roles of events.
SUBMIT, SCHEDULE, END, UPDATE_PENDING, OTHER = 0, 1, 2, 3, 4


def event_codes(check: RowCheck, column: str, names: dict[str, int]) -> np.ndarray:
    """Event type codes from numbers or enum names; unknown ones drop ``bad_event_type``.

    A cell is a name in any case (``submit``), or a number whose value is one of the
    codes (``3``, ``3.0``). ASCII names and plain digit strings are mapped with pyarrow;
    anything else goes through the same rule in Python.
    """
    raw = check.table.cells[column]
    values = pa.array(raw, type=pa.string()) if isinstance(raw, np.ndarray) else raw
    n = len(values)
    codes = np.full(n, np.nan)
    valid = set(names.values())
    keys = list(names)
    by_name = np.array([names[k] for k in keys], dtype=float)
    pos = np.asarray(pc.index_in(pc.ascii_upper(values), value_set=pa.array(keys, pa.string()))
                     .to_numpy(zero_copy_only=False), dtype=float)
    named = ~np.isnan(pos)
    codes[named] = by_name[pos[named].astype(np.int64)]
    digits = pc.match_substring_regex(values, "^[0-9]{1,18}$")
    number = np.asarray(pc.cast(pc.if_else(digits, values, "-1"), pa.int64()).to_numpy(zero_copy_only=False))
    plain = np.asarray(digits.to_numpy(zero_copy_only=False), dtype=bool) & ~named
    hit = plain & np.isin(number, list(valid))
    codes[hit] = number[hit]
    rest = np.flatnonzero(~named & ~plain)
    if len(rest):
        for i, value in zip(rest, values.take(pa.array(rest)).to_pylist(), strict=True):
            code = names.get(value.upper())
            if code is None:
                try:
                    f = float(value)
                except ValueError:
                    continue
                code = int(f) if f.is_integer() and int(f) in valid else None
            if code is not None:
                codes[i] = code
    check.reject(np.isnan(codes), "bad_event_type", column)
    return codes


def trace_seconds(time_us: np.ndarray, trace_start_us: float) -> np.ndarray:
    """Trace microseconds -> seconds from the trace start (-inf before it, +inf after)."""
    seconds = (time_us - trace_start_us) / 1e6
    seconds = np.where(time_us == 0, -np.inf, seconds)
    return np.where(time_us >= _AFTER_END_US, np.inf, seconds)


# --------------------------------------------------------------------------- lifecycles


@dataclass
class Events:
    """Instance events in a common form (one entry per good event row)."""

    key: np.ndarray  # object: "<collection>/<index>"
    owner: np.ndarray  # object
    time: np.ndarray  # seconds from the trace start; -inf before, +inf after
    role: np.ndarray  # SUBMIT / SCHEDULE / END / UPDATE_PENDING / OTHER
    cpu: np.ndarray  # normalised, NaN = absent
    memory: np.ndarray
    priority: np.ndarray  # float, NaN = absent
    qos: np.ndarray  # object
    file: np.ndarray  # object: file label of each event
    line: np.ndarray  # int: its line (or record) number


def lifecycles(events: Events, report: TraceReport) -> pd.DataFrame:
    """Pods (intermediate frame, normalised requests) from instance events."""
    _, key_codes = np.unique(events.key.astype(str), return_inverse=True)
    order = np.lexsort((np.arange(len(events.key)), events.time, key_codes))
    pods: list[dict] = []
    cur: dict | None = None
    attempts: dict[str, int] = {}

    def open_attempt(i: int) -> dict:
        n = attempts.get(events.key[i], 0)
        attempts[events.key[i]] = n + 1
        return {
            "id": events.key[i] if n == 0 else f"{events.key[i]}#{n}",
            "owner": events.owner[i],
            "arrival": events.time[i],
            "sched": None,
            "cpu": np.nan,
            "memory": np.nan,
            "priority": np.nan,
            "qos": "",
            "where": Where(events.file[i], int(events.line[i])),
        }

    def take_request(att: dict, i: int) -> None:
        if not np.isnan(events.cpu[i]):
            att["cpu"] = events.cpu[i]
        if not np.isnan(events.memory[i]):
            att["memory"] = events.memory[i]
        if not np.isnan(events.priority[i]):
            att["priority"] = events.priority[i]
        if events.qos[i]:
            att["qos"] = events.qos[i]

    def close(att: dict, end: float) -> None:
        if np.isnan(att["cpu"]) or np.isnan(att["memory"]):
            report.drop("missing_request", 1, [att["where"]])
            return
        start = att["sched"]
        run_start = 0.0 if start == -np.inf else start
        pods.append(
            {
                "id": att["id"],
                "owner": att["owner"],
                "arrival": np.nan if att["arrival"] == -np.inf else att["arrival"],
                "end": np.nan if end == np.inf else end,
                "duration": np.nan if end == np.inf or start is None else end - run_start,
                "cpu": att["cpu"],
                "memory": att["memory"],
                "priority": 0.0 if np.isnan(att["priority"]) else att["priority"],
                "qos": att["qos"],
            }
        )

    prev = None
    for i in order:
        key = events.key[i]
        if key != prev:
            if cur is not None:
                close(cur, np.inf)
            cur, prev = None, key
        role = events.role[i]
        t = events.time[i]
        if role == SUBMIT:
            if cur is not None and cur["sched"] is None:
                take_request(cur, i)  # a repeated submit while pending
                continue
            if cur is not None:
                close(cur, t)  # resubmitted while running: the old run ended here
            cur = open_attempt(i)
            take_request(cur, i)
        elif role == SCHEDULE:
            if cur is None:
                cur = open_attempt(i)  # no SUBMIT seen (before the trace)
            if cur["sched"] is None:
                take_request(cur, i)
                cur["sched"] = t
        elif role == END:
            if cur is None:
                continue
            if cur["sched"] is None:
                report.filter("never_scheduled", 1)
            else:
                close(cur, t)
            cur = None
        elif role == UPDATE_PENDING and cur is not None and cur["sched"] is None:
            take_request(cur, i)
    if cur is not None:
        close(cur, np.inf)
    return pd.DataFrame(
        pods, columns=["id", "owner", "arrival", "end", "duration", "cpu", "memory", "priority", "qos"]
    )


def pods_from_lifecycles(
    frame: pd.DataFrame,
    *,
    file: str,
    options: TraceOptions | None,
    rng: np.random.Generator | None,
    report: TraceReport,
    machine_cpu_milli: float,
    machine_memory_bytes: float,
) -> pd.DataFrame:
    """Pods from :func:`lifecycles` output: requests times the stated machine shape."""
    raw = raw_frame(
        len(frame),
        id=frame["id"].to_numpy(dtype=object),
        arrival=frame["arrival"].to_numpy(dtype=float),
        end=frame["end"].to_numpy(dtype=float),
        duration=frame["duration"].to_numpy(dtype=float),
        cpu_milli=frame["cpu"].to_numpy(dtype=float) * machine_cpu_milli,
        memory_bytes=frame["memory"].to_numpy(dtype=float) * machine_memory_bytes,
        priority=frame["priority"].to_numpy(dtype=float),
        qos=frame["qos"].to_numpy(dtype=object),
        owner=frame["owner"].to_numpy(dtype=object),
    )
    return build_pods(raw, file=file, options=options, rng=rng, report=report)


def check_shape(machine_cpu_milli: float, machine_memory_bytes: float) -> None:
    """``ValueError`` unless the stated machine shape is positive."""
    if not (machine_cpu_milli > 0 and machine_memory_bytes > 0):
        raise ValueError(
            "machine_cpu_milli and machine_memory_bytes (what a normalised 1.0 stands for) must be > 0"
        )


def qos_labels(sched_class: np.ndarray) -> np.ndarray:
    """``sc<class>`` per scheduling class, ``""`` where it is unknown (NaN)."""
    return np.array([f"sc{int(c)}" if not np.isnan(c) else "" for c in sched_class], dtype=object)


def concat_events(parts: list[Events]) -> Events:
    """The events of several files (part files) as one :class:`Events`."""
    return Events(
        key=np.concatenate([p.key for p in parts]) if parts else np.zeros(0, object),
        owner=np.concatenate([p.owner for p in parts]) if parts else np.zeros(0, object),
        time=np.concatenate([p.time for p in parts]) if parts else np.zeros(0),
        role=np.concatenate([p.role for p in parts]) if parts else np.zeros(0, np.int64),
        cpu=np.concatenate([p.cpu for p in parts]) if parts else np.zeros(0),
        memory=np.concatenate([p.memory for p in parts]) if parts else np.zeros(0),
        priority=np.concatenate([p.priority for p in parts]) if parts else np.zeros(0),
        qos=np.concatenate([p.qos for p in parts]) if parts else np.zeros(0, object),
        file=np.concatenate([p.file for p in parts]) if parts else np.zeros(0, object),
        line=np.concatenate([p.line for p in parts]) if parts else np.zeros(0, np.int64),
    )


def nodes_from_machine_events(
    table: Table,
    report: TraceReport,
    *,
    type_column: str,
    event_types: dict[str, int],
    cpus_column: str,
    memory_column: str,
    machine_cpu_milli: float,
    machine_memory_bytes: float,
) -> pd.DataFrame:
    """One node per ``machine_id`` of a machine-events table (Google 2011 or 2019, each
    with its own ``event_types`` codes): the capacity of its latest ADD or UPDATE event
    that has one, scaled by the stated machine shape; machines without any are dropped
    (``missing_capacity``). Nodes come in order of first appearance."""
    check = RowCheck(table, report)
    time_us = check.number("time", minimum=0)
    codes = event_codes(check, type_column, event_types)
    cpus = check.number(cpus_column, required=False, minimum=0)
    memory = check.number(memory_column, required=False, minimum=0)
    ids = check.text("machine_id")
    check.reject(ids == "", "missing_value", "machine_id")
    ok = check.ok
    capacity_codes = [event_types["ADD"], event_types["UPDATE"]]
    has_cap = ok & np.isin(codes, capacity_codes) & ~np.isnan(cpus) & ~np.isnan(memory)
    frame = pd.DataFrame(
        {
            "name": ids,
            "time": time_us,
            "order": np.arange(len(ids)),
            "cpu_milli": cpus * machine_cpu_milli,
            "memory_bytes": memory * machine_memory_bytes,
        }
    )
    first_seen = frame[ok].groupby("name", sort=False)["order"].min()
    latest = frame[has_cap].sort_values(["time", "order"], kind="stable").groupby("name", sort=False).tail(1)
    with_cap = set(latest["name"])
    no_cap = [m for m in first_seen.index if m not in with_cap]
    if no_cap:
        first_rows = [int(first_seen[m]) for m in no_cap]
        report.drop("missing_capacity", len(no_cap), (table.where(r) for r in first_rows))
    latest = latest.assign(first=latest["name"].map(first_seen)).sort_values("first")
    raw = latest.assign(gpu_count=0, gpu_model="").reset_index(drop=True)
    return build_nodes(raw, file=table.path, report=report)


def as_paths(p: PathLike | Sequence[PathLike]) -> list[PathLike]:
    """One file or several (a trace's part files) as a list."""
    return [p] if isinstance(p, str | Path) else list(cast(Sequence[PathLike], p))
