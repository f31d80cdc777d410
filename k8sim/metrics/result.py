"""RunResult: the tidy DataFrames of one run, its summary and its writers.

- ``pods``: one row per pod (ids, workload, node, phase, requests in base units, every
  lifecycle timestamp, derived latencies; with controllers also ``owner_kind`` and
  ``owner``, the pod's controlling ReplicaSet, StatefulSet or DaemonSet).
- ``nodes``: one row per node (allocatable, pool, zone, lifetime).
- ``events``: the append-only event log (time, kind, pod, node, detail).
- ``timeseries``: time-weighted averages per sampling bin: utilisation per resource
  (requested / allocatable), pending pods, running pods; with GPUs also the allocated,
  capacity and fragmentation milli-GPU and their ratios (:mod:`k8sim.metrics.gpu`).
- ``trace``: with trace workloads, the trace's own columns of every submitted pod.
- ``frames["image_disk"]``, ``frames["image_gc"]``: with an image store, disk use and
  image GC per pool and sampling bin, and one row per image GC pass
  (:mod:`k8sim.metrics.images`).
- ``gpu``: with GPUs, the cluster's GPU allocation and fragmentation after every pod
  event (:func:`k8sim.metrics.gpu.gpu_timeline`); None without GPUs.
- ``frames["failures"]``, ``frames["disruptions"]``: with faults or operator actions,
  one row per node failure and one per pod ended by a disruption, plus failure summary
  columns and the ``nodes_up`` / ``available_pods`` timeseries columns
  (:mod:`k8sim.metrics.failures`).
- ``summary()``: one row of headline metrics over the post-warmup window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from k8sim.cluster.log import strings_by_code
from k8sim.cluster.pods import OWNER_KINDS, PENDING, PHASE_NAMES, REASON_NAMES
from k8sim.metrics.availability import availability_summary, availability_table
from k8sim.metrics.failures import failure_frames, has_faults
from k8sim.metrics.gpu import IDLE_TOLERANCE, GpuHistory, gpu_target_of
from k8sim.metrics.images import image_disk_series
from k8sim.metrics.timeseries import bin_edges, interval_integrals
from k8sim.metrics.usage import FAILURE_KEYS, losses, node_usage, rows_where

if TYPE_CHECKING:
    from k8sim.metrics.record import RunRecord

_UNITS = {"cpu": "milli", "memory": "bytes", "ephemeral-storage": "bytes"}


def resource_column(prefix: str, resource: str) -> str:
    """Column name for a resource amount, with its unit: ``request_cpu_milli``."""
    unit = _UNITS.get(resource, "count")
    return f"{prefix}_{resource}_{unit}"


@dataclass
class RunResult:
    """Everything one run produced. Build with :meth:`from_simulation`."""

    pods: pd.DataFrame
    nodes: pd.DataFrame
    events: pd.DataFrame
    timeseries: pd.DataFrame
    resources: tuple[str, ...]
    end_time: float
    warmup_s: float
    provenance: dict[str, Any] = field(default_factory=dict)
    never_fit: dict[str, list[str]] = field(default_factory=dict)
    #: One row per scheduling cycle when ``scheduler.recordDecisions`` is on, else None.
    decisions: pd.DataFrame | None = None
    #: GPU allocation and fragmentation after every pod event when the cluster has GPUs
    #: (:func:`k8sim.metrics.gpu.gpu_timeline`), else None.
    gpu: pd.DataFrame | None = None
    #: With trace workloads: one row per submitted trace pod (``pod``, ``workload`` and
    #: the normalised trace columns: original ``id``, ``arrival_s``, ``duration_s``,
    #: requests, ``qos``, ``owner``, ``priority``, clipping flags), to join with ``pods``
    #: on ``pod``; else None.
    trace: pd.DataFrame | None = None
    #: Further frames contributed by components, by name.
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Summary columns contributed by components (appended to :meth:`summary`).
    extra_summary: dict[str, Any] = field(default_factory=dict)

    # -- construction ---------------------------------------------------------------

    @classmethod
    def from_simulation(cls, sim: Any) -> RunResult:
        """The result of a finished :class:`~k8sim.sim.simulation.Simulation` (its
        :meth:`record`)."""
        return cls.from_record(sim.record())

    @classmethod
    def from_record(cls, record: RunRecord) -> RunResult:
        """Compute the tables and keep the contributed frames of one run's record."""
        state = record.state
        p, nt = state.pods, state.nodes
        n = p.n
        end = record.end_time
        names = state.resources.names
        # The series first: they read only the tables, and their temporaries (a few
        # arrays over every pod) are gone before the frames' columns exist.
        # The GPU target workload is a pass over every pod: only for a cluster with GPUs
        # (GpuHistory.of gives None otherwise).
        history = GpuHistory.of(state, gpu_target_of(record)) if nt.n and int(nt.gpu_count.sum()) else None
        timeseries = _timeseries(record, history)
        wl_names = list(record.workload_names)
        workload = p.workload[:n]
        node = p.node[:n]
        # The pods' names once as Arrow strings: the pods frame's column and the events
        # frame's vocabulary.
        pod_names = pa.array(p.names if len(p.names) == n else p.names[:n], type=pa.large_string())
        pods = pd.DataFrame(
            {
                "pod": pd.Series(pd.array(pod_names, dtype="string")),
                # Names by code through Arrow: no Python object per pod (-1 gives "").
                "workload": strings_by_code(wl_names, workload),
                "index": p.view("index"),
                "node": strings_by_code(nt.names, node),
                "phase": pd.Categorical.from_codes(p.column("phase"), categories=pd.Index(list(PHASE_NAMES))),
                "priority": p.view("priority"),
                "created": p.view("created"),
                "scheduled": p.view("scheduled"),
                "running": p.view("running"),
                "finished": p.view("finished"),
                "duration": p.view("duration"),
                "start_latency": p.view("start_latency"),
                "attempts": p.view("attempts"),
                # Startup breakdown (runtime model): scheduled (bound) -> pull_start ->
                # pull_end -> running (containers started) -> ready.
                # These describe the first start; restart_pull_time / restart_pulls
                # the pulls of container restarts.
                "pull_start": p.view("pull_start"),
                "pull_end": p.view("pull_end"),
                "image_pull_time": p.view("image_pull_time"),
                "pull_bytes": p.view("pull_bytes"),
                "ready": p.view("ready"),
                "restarts": p.view("restarts"),
                "pull_failures": p.view("pull_failures"),
                "restart_pull_time": p.view("restart_pull_time"),
                "restart_pulls": p.view("restart_pulls"),
                "reason": pd.Categorical.from_codes(p.column("reason"), categories=pd.Index(list(REASON_NAMES))),
            },
            # The numeric columns are views of the pod table: copied once, here, into
            # the frame's blocks (a copy per column first doubled a million pods' peak).
            copy=True,
        )
        pods.loc[pods["ready"] > end, "ready"] = np.nan  # readiness not reached by the end
        for r, res in enumerate(names):
            pods[resource_column("request", res)] = p.requests[:n, r].copy()
        pods["scheduling_latency"] = pods["scheduled"] - pods["created"]
        pods["startup_latency"] = pods["running"] - pods["created"]
        pods["unschedulable"] = (p.phase[:n] == PENDING) & (p.attempts[:n] > 0)
        owners = record.frames.get("owners")
        if owners is not None:
            # Runs with controllers: the controlling object of each pod (upstream's
            # controller ownerReference), "" for pods without one.
            pods["owner_kind"] = pd.Series(np.asarray(OWNER_KINDS, dtype=object)[p.owner_kind[:n]], dtype="string")
            owner_names = {(str(k), int(o)): str(nm) for k, o, nm in owners[["owner_kind", "owner", "name"]].itertuples(
                index=False)}
            pods["owner"] = pd.Series([owner_names.get((k, int(o)), "") if k else "" for k, o in zip(
                pods["owner_kind"].tolist(), p.owner[:n].tolist(), strict=True)], dtype="string")

        nodes = pd.DataFrame(
            {
                "node": pd.Series(nt.names, dtype="string"),
                "pool": pd.Series([nt.pool_name(i) for i in range(nt.n)], dtype="string"),
                "zone": pd.Series(_label_column(nt, "topology.kubernetes.io/zone"), dtype="string"),
                "created": nt.created_at.copy(),
                "removed": nt.removed_at.copy(),
            }
        )
        for r, res in enumerate(names):
            nodes[resource_column("allocatable", res)] = nt.alloc[r].copy()
        for r, res in enumerate(names):
            nodes[resource_column("requested_at_end", res)] = nt.requested[r].copy()

        events = record.log.frame(pod_names, nt.names)
        del pod_names
        frames = dict(record.frames)
        if "replica_history" in frames:
            frames["availability"] = availability_table(pods, events, frames)
        decisions = frames.pop("decisions", None)
        trace = frames.pop("trace", None)
        disk_log = frames.pop("image_disk_log", None)
        disk_nodes = frames.pop("image_disk_nodes", None)
        if disk_log is not None and disk_nodes is not None:
            edges = bin_edges(0.0, end, record.sample_interval_s)
            frames["image_disk"] = image_disk_series(disk_log, disk_nodes, frames.get("image_gc"),
                                                     nt.created_at, nt.removed_at, edges)
        _startup_breakdown(pods, frames)
        extra_summary = dict(record.summary)
        if has_faults(record):  # node failures, outages, spot interruptions, operator actions
            failures, disruptions, fault_summary, series = failure_frames(record)
            frames["failures"], frames["disruptions"] = failures, disruptions
            extra_summary = {**fault_summary, **extra_summary}
            for col, values in series.items():
                timeseries[col] = values
        return cls(pods, nodes, events, timeseries, names, end, record.warmup_s, dict(record.provenance),
                   dict(record.never_fit), decisions, history.timeline() if history is not None else None, trace,
                   frames, extra_summary)

    # -- summary --------------------------------------------------------------------

    def summary(self) -> pd.DataFrame:
        """One row of headline metrics over ``[warmup_s, end]``.

        Pod counts and latencies cover pods created at or after ``warmup_s``;
        utilisation is the time-weighted mean over ``[warmup_s, end]`` (the timeseries
        bins starting at or after ``warmup_s``). Every key is defined in
        ``docs/summary.md``; in short:

        - ``pods_pending_failed_scheduling``: pods still Pending at the end after at
          least one failed scheduling attempt (formerly ``pods_unschedulable``);
          ``pods_never_fit``: pods of workloads whose requests exceed every node's
          allocatable (:attr:`never_fit`).
        - ``pods_preempted`` (chosen as preemption victims), ``pods_failed`` and its
          breakdown ``pods_failed_<reason>`` (preempted, node_lost, container_error,
          unschedulable, other), ``work_lost_share`` (CPU-seconds of run time thrown
          away by pods that failed or were being killed, over all CPU-seconds of run
          time): :mod:`k8sim.metrics.usage`.
        - ``nodes_in_use_mean`` / ``_peak`` (nodes holding at least one workload pod,
          time-weighted), ``node_hours_in_use`` and ``node_hours`` (nodes present).
        - Trace inflation (:attr:`inflation`): virtual time is only an order there, so
          latencies, time-weighted means, node-hours, makespan and ``end_time_s`` are
          left out; the paper's headline point is added instead:
          ``gpu_allocated_share_at_arrived_100`` and
          ``gpu_unallocated_share_at_arrived_100`` (:func:`gpu_at_arrived`).

        With GPUs (the timeseries has GPU columns): ``mean_gpu_utilization`` (allocated /
        capacity), ``mean_gpu_fragmentation_share`` (fragmentation / capacity) and
        ``mean_gpu_fragmentation_idle_share`` (fragmentation / idle), each a ratio of time
        integrals over those bins; and the values after the last pod event of the ``gpu``
        table: ``gpu_allocated_share_end``, ``gpu_arrived_share_end``,
        ``gpu_fragmentation_share_end``, ``gpu_fragmentation_idle_share_end`` (NaN when
        that table is absent or empty).
        """
        pods = self.pods
        win = rows_where(pods, (pods["created"] >= self.warmup_s) & (pods["workload"] != ""))
        sched = win["scheduling_latency"].dropna().to_numpy()
        start = win["startup_latency"].dropna().to_numpy()
        inflation = self.inflation
        never_fit = set(self.never_fit)
        row: dict[str, Any] = {
            "pods_submitted": len(win),
            "pods_scheduled": int(win["scheduled"].notna().sum()),
            "pods_completed": int((win["phase"] == "Succeeded").sum()),
            "pods_pending_at_end": int((win["phase"] == "Pending").sum()),
            "pods_pending_failed_scheduling": int(win["unschedulable"].sum()),
            "pods_never_fit": int(win["workload"].isin(never_fit).sum()) if never_fit else 0,
        }
        if inflation:
            # Trace inflation: pods given up after their one failed attempt.
            row["pods_dropped"] = int((win["reason"] == "Unschedulable").sum())
        cpu = resource_column("request", "cpu") if "cpu" in self.resources else None
        row.update(losses(win, self.events, self.end_time, cpu if cpu in win else None))
        if not inflation:
            for name, values in (("scheduling_latency", sched), ("startup_latency", start)):
                for q in (50, 95, 99):
                    row[f"{name}_p{q}_s"] = float(np.percentile(values, q)) if values.size else float("nan")
                row[f"{name}_mean_s"] = float(values.mean()) if values.size else float("nan")
        ts = self.timeseries
        inwin = ts[ts["time"] >= self.warmup_s - 1e-9]
        weights = inwin["interval"].to_numpy()
        if not inflation:
            for res in self.resources:
                col = f"{res}_utilization"
                if (col in inwin and f"{res}_allocatable" in inwin and weights.sum() > 0
                        and inwin[f"{res}_allocatable"].max() > 0):
                    req = (inwin[f"{res}_requested"] * weights).sum()
                    alloc = (inwin[f"{res}_allocatable"] * weights).sum()
                    row[f"mean_{res}_utilization"] = float(req / alloc) if alloc > 0 else float("nan")
            if weights.sum() > 0:
                row["mean_pending_pods"] = float((inwin["pending_pods"] * weights).sum() / weights.sum())
                row["mean_running_pods"] = float((inwin["running_pods"] * weights).sum() / weights.sum())
        usage = node_usage(pods, self.nodes, self.warmup_s, self.end_time)
        if inflation:  # pods never leave: the peak is the end state; time integrals mean nothing
            usage = {"nodes_in_use_peak": usage["nodes_in_use_peak"]}
        row.update(usage)
        if not inflation:
            fin = win["finished"].dropna()
            row["makespan_s"] = float(fin.max() - win["created"].min()) if len(fin) else float("nan")
        if self.provenance.get("runtime_model"):
            row.update(_runtime_summary(win))
            gc = self.frames.get("image_gc")
            if gc is not None:
                gc = gc[gc["time"] >= self.warmup_s]
                row["image_gc_passes"] = len(gc)
                row["image_gc_images_deleted"] = int(gc["images_deleted"].sum())
                row["image_gc_bytes_freed"] = int(gc["bytes_freed"].sum())
        if "gpu_capacity_milli" in ts:
            row.update(_gpu_summary(inwin, weights, self.gpu, inflation))
        row.update(self.extra_summary)
        if "availability" in self.frames:
            row.update(availability_summary(self.frames["availability"], self.warmup_s, self.end_time))
        if not inflation:
            row["end_time_s"] = self.end_time
        return pd.DataFrame([row])

    @property
    def inflation(self) -> bool:
        """A trace replay in inflation mode (pods never leave, one attempt each, one
        arrival per ``interval_s``: virtual time is only an order)."""
        return bool(self.provenance.get("drops_unschedulable"))

    def notes(self) -> list[str]:
        """Sentences a reader of :meth:`summary` must not miss: pods lost (failed,
        preempted), pods that fit no node, pods still pending at the end."""
        s = self.summary().iloc[0]
        out = []
        submitted = int(s["pods_submitted"])
        failed = int(s["pods_failed"])
        lost = failed - int(s.get("pods_failed_unschedulable", 0))
        preempted = float(s["pods_preempted"])
        if lost > 0 or preempted > 0:
            parts = [f"{int(s[f'pods_failed_{k}']):,} {k.replace('_', ' ')}" for k in FAILURE_KEYS
                     if k != "unschedulable" and s[f"pods_failed_{k}"] > 0]
            share = float(s["work_lost_share"])
            text = (f"{lost:,} of {submitted:,} pods were lost (ended Failed: {', '.join(parts) or 'none yet'}"
                    + (f"; {int(preempted):,} preempted in all)" if preempted == preempted else ")"))
            if share == share:
                text += f"; {share:.1%} of the work done (CPU x run time) was thrown away"
            out.append(text + ": completions, makespan and utilisation count only the pods that survived.")
        if int(s.get("pods_dropped", 0)) > 0:
            out.append(f"{int(s['pods_dropped']):,} of {submitted:,} pods were dropped after their one failed "
                       "attempt (trace inflation).")
        if int(s["pods_never_fit"]) > 0:
            out.append(f"{int(s['pods_never_fit']):,} pods request more than any node has and can never be "
                       f"scheduled (workloads {', '.join(sorted(self.never_fit))}).")
        pending = int(s["pods_pending_at_end"])
        if pending > 0:
            out.append(f"{pending:,} pods were still Pending at the end "
                       f"({int(s['pods_pending_failed_scheduling']):,} of them after a failed scheduling attempt).")
        return out

    # -- writers --------------------------------------------------------------------

    def to_parquet(self, directory: str | Path) -> Path:
        """Write every table (Parquet) and ``summary.json`` into ``directory`` (the run
        directory format of :mod:`k8sim.metrics.rundir`)."""
        from k8sim.metrics.rundir import write_result

        return write_result(self, directory)

    def to_csv(self, directory: str | Path) -> Path:
        """CSV fallback for tools without Parquet support."""
        from k8sim.metrics.rundir import write_result

        return write_result(self, directory, fmt="csv")

    @classmethod
    def load(cls, directory: str | Path) -> RunResult:
        """Read a run directory written by :meth:`to_parquet` (or by a comparison or a
        sweep, with the tables they keep) back into a result."""
        from k8sim.metrics.rundir import load_run

        return load_run(directory)


def _runtime_summary(win: pd.DataFrame) -> dict[str, Any]:
    """Image pull and restart metrics of the window's pods. Startup metrics describe
    the first start (pulls at container restarts are ``restart_*``).

    ``image_pull_share``: seconds spent pulling before the first Running (back-off waits
    included) over the seconds from creation to Running, summed over the pods that
    reached Running (at most 1). ``pods_pulled``: pods whose first start needed image
    bytes, missing on the node when the pull was requested (``pull_bytes > 0``; an
    ``Always`` pull of a present image is not a pull here). ``image_pull_time_p50_s`` /
    ``_p95_s``: over those pods, once their pulls ended. ``restart_pulls`` / ``restart_pull_time_s``: pulls sent at container
    restarts (an ``Always`` policy pulls at each) and the seconds they took.
    """
    started = rows_where(win, win["running"].notna())
    startup = float(started["startup_latency"].sum())
    pulling = float(started["image_pull_time"].fillna(0.0).sum())
    # Run directories of older versions have no pull_bytes: every pull request counted.
    did_pull = win["pull_bytes"] > 0 if "pull_bytes" in win else win["pull_start"].notna()
    pulled = win[did_pull & win["pull_end"].notna()]["image_pull_time"].to_numpy(dtype=float)
    nan = float("nan")
    return {
        "image_pull_share": pulling / startup if startup > 0 else nan,
        "image_pull_time_p50_s": float(np.percentile(pulled, 50)) if pulled.size else nan,
        "image_pull_time_p95_s": float(np.percentile(pulled, 95)) if pulled.size else nan,
        "pods_pulled": int(did_pull.sum()),
        "image_pull_failures": int(win["pull_failures"].sum()),
        "pods_err_image_never_pull": int((win["reason"] == "ErrImageNeverPull").sum()),
        "container_restarts": int(win["restarts"].sum()),
        "restart_pulls": int(win["restart_pulls"].sum()) if "restart_pulls" in win else 0,
        "restart_pull_time_s": float(win["restart_pull_time"].fillna(0.0).sum()) if "restart_pull_time" in win else nan,
        "ready_latency_p50_s": _pct(win["ready"] - win["created"], 50),
        "ready_latency_p95_s": _pct(win["ready"] - win["created"], 95),
    }


def _gpu_summary(inwin: pd.DataFrame, weights: np.ndarray, gpu: pd.DataFrame | None,
                 inflation: bool = False) -> dict[str, float]:
    """GPU metrics of :meth:`RunResult.summary` (bins ``inwin`` with widths ``weights``);
    in inflation mode the state when the arrived GPU request reached 100% of capacity
    instead of the time-weighted means."""
    nan = float("nan")
    row: dict[str, float] = {}
    if inflation:
        row.update(gpu_at_arrived(gpu, 1.0))
    else:
        alloc = float((inwin["gpu_allocated_milli"] * weights).sum())
        cap = float((inwin["gpu_capacity_milli"] * weights).sum())
        frag = float((inwin["gpu_fragmentation_milli"] * weights).sum())
        row.update({
            "mean_gpu_utilization": alloc / cap if cap > 0 else nan,
            "mean_gpu_fragmentation_share": frag / cap if cap > 0 else nan,
            "mean_gpu_fragmentation_idle_share": (frag / (cap - alloc) if cap - alloc > IDLE_TOLERANCE * cap
                                                  else nan),
        })
    last = gpu.iloc[-1] if gpu is not None and len(gpu) else None
    for key, col in (("gpu_allocated_share_end", "allocated_share"), ("gpu_arrived_share_end", "arrived_share"),
                     ("gpu_fragmentation_share_end", "fragmentation_share"),
                     ("gpu_fragmentation_idle_share_end", "fragmentation_idle_share")):
        row[key] = float(last[col]) if last is not None else nan
    return row


def gpu_at_arrived(gpu: pd.DataFrame | None, share: float = 1.0) -> dict[str, float]:
    """The headline point of Weng et al. (ATC '23): the GPU state once the arrived GPU
    request (failed pods included) reached ``share`` of the GPU capacity.

    The state is the one after the last event at which ``arrived_share <= share`` (every
    pod that had arrived by then has been placed or dropped), as in
    :func:`k8sim.experiments.plots.gpu_curve_quantiles` reads every replication. ``gpu_allocated_share_at_arrived_100``: the
    allocated GPU over capacity; ``gpu_unallocated_share_at_arrived_100``: the arrived
    GPU request that is not allocated (``arrived - allocated``, over capacity: at
    exactly 100% arrived, ``1 - allocated``). NaN when the run never reached ``share``
    (or has no GPU table).
    """
    nan = float("nan")
    tag = f"{share:.0%}".removesuffix("%")
    keys = (f"gpu_allocated_share_at_arrived_{tag}", f"gpu_unallocated_share_at_arrived_{tag}")
    if gpu is None or not len(gpu):
        return dict.fromkeys(keys, nan)
    arrived = gpu["arrived_share"].to_numpy(dtype=float)
    tol = 1e-12
    if not (arrived >= share - tol).any():
        return dict.fromkeys(keys, nan)
    k = int(np.flatnonzero(arrived <= share + tol)[-1]) if (arrived <= share + tol).any() else 0
    allocated = float(gpu["allocated_share"].iloc[k])
    return {keys[0]: allocated, keys[1]: float(arrived[k]) - allocated}


def _pct(values: pd.Series, q: float) -> float:
    v = values.dropna().to_numpy(dtype=float)
    return float(np.percentile(v, q)) if v.size else float("nan")


def _timeseries(record: RunRecord, gpu: GpuHistory | None = None) -> pd.DataFrame:
    state = record.state
    p, nt = state.pods, state.nodes
    n = p.n
    edges = bin_edges(0.0, record.end_time, record.sample_interval_s)
    width = np.diff(edges)
    width_safe = np.where(width > 0, width, 1.0)
    cols: dict[str, np.ndarray] = {"time": edges[:-1], "interval": width}
    bound_end = p.finished[:n]
    # Integer weights: converted to float64 one resource at a time inside.
    req = interval_integrals(p.scheduled[:n], bound_end, p.requests[:n], edges)
    alloc = interval_integrals(nt.created_at, nt.removed_at, nt.alloc.T, edges)
    for r, res in enumerate(state.resources.names):
        a = alloc[:, r]
        cols[f"{res}_requested"] = req[:, r] / width_safe
        cols[f"{res}_allocatable"] = a / width_safe
        with np.errstate(invalid="ignore", divide="ignore"):
            cols[f"{res}_utilization"] = np.where(a > 0, req[:, r] / np.where(a > 0, a, 1), np.nan)
    # Pending from creation until bound, or until dropped (never bound, ``finished`` set).
    pending_end = np.where(np.isnan(p.scheduled[:n]), p.finished[:n], p.scheduled[:n])
    cols["pending_pods"] = interval_integrals(p.created[:n], pending_end, np.ones(n), edges) / width_safe
    cols["running_pods"] = interval_integrals(p.running[:n], p.finished[:n], np.ones(n), edges) / width_safe
    if gpu is not None:
        cols.update(gpu.timeseries(edges))
    return pd.DataFrame(cols)


def _startup_breakdown(pods: pd.DataFrame, frames: dict[str, pd.DataFrame]) -> None:
    """Add the startup columns of the storage and RuntimeClass components to ``pods``,
    only when the run has them (other runs keep their columns): ``volume_wait_s`` (the
    first start's provisioning + multi-attach + attach waits, over its claims) and
    ``sandbox_s`` (its RuntimeClass handler's sandbox creation); NaN for pods without."""
    mounts = frames.get("volume_mounts")
    if mounts is not None:
        wait = (mounts["provisioning_wait_s"] + mounts["multi_attach_wait_s"] + mounts["attach_s"])
        per_pod = wait.groupby(mounts["pod"].to_numpy()).sum()
        pods["volume_wait_s"] = pods["pod"].map(per_pod).astype("float64")
    sandboxes = frames.get("sandboxes")
    if sandboxes is not None:
        per_pod = sandboxes["sandbox_s"].groupby(sandboxes["pod"].to_numpy()).first()
        pods["sandbox_s"] = pods["pod"].map(per_pod).astype("float64")


def _label_column(nt: Any, key: str) -> np.ndarray:
    """Every node's value of label ``key`` ("" where it has none), decoded at once."""
    codes = nt.labels.get(key)
    if codes is None:
        return np.full(nt.n, "", dtype=object)
    vocab = np.array([*nt.label_names(key), ""], dtype=object)
    return vocab[codes[: nt.n]]  # code -1 (no value) picks the "" at the end
