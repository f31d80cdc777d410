"""The training-job model: a job of N workers whose run time depends on their placement.

Data-parallel training (all-reduce or parameter servers) makes every step wait for
every worker: a job's workers start their containers, then block at the first
rendezvous until all N are running; the job's compute begins when the last worker
starts, and every worker ends when the job ends. Its run time is fixed at that moment
from where the workers landed (:func:`slowdown`): workers on one node talk over the
node's own interconnect; across nodes, or racks, gradient exchange goes over the
network and each step is slower. Published DL-cluster studies measure this placement
sensitivity (Gandiva, OSDI '18; Tiresias, NSDI '19; the Philly analysis, ATC '19; see
``docs/batch.md``): it is large for communication-heavy models and small for others,
which is why the factors are parameters.

A component: it watches PodRunning (a worker started) and PodTerminated (a worker
ended), and ends workers through the kubelet's :meth:`~k8sim.runtime.kubelet.Kubelet.
finish` (their main containers exit successfully). Workers that start while their job
is short of workers hold their node (and GPUs) doing nothing: the ``training_jobs``
frame counts that idle time.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.pods import RUNNING, SUCCEEDED
from k8sim.cluster.watch import PodRunning
from k8sim.component import Contribution
from k8sim.constants import GPU_MILLI

if TYPE_CHECKING:
    from k8sim.batch.podgroups import PodGroup, PodGroups
    from k8sim.cluster.api import ClusterAPI
    from k8sim.config.batch import TrainingModel
    from k8sim.runtime.kubelet import Kubelet


def slowdown(model: TrainingModel, nodes: int, racks: int) -> float:
    """The run-time factor of a job whose workers span ``nodes`` nodes and ``racks``
    racks: 1 on one node, ``1 + crossNodeSlowdown`` across nodes of one rack,
    ``1 + crossRackSlowdown`` across racks."""
    if racks > 1:
        return 1.0 + model.cross_rack_slowdown
    if nodes > 1:
        return 1.0 + model.cross_node_slowdown
    return 1.0


class TrainingJobs:
    """Runs every PodGroup with a training model (see the module docstring)."""

    name = "training"

    def __init__(self, api: ClusterAPI, groups: PodGroups, kubelet: Kubelet):
        self.api = api
        self.env = api.env
        self.state = api.state
        self.groups = groups
        self.kubelet = kubelet
        kubelet.track_open_ended()
        #: group index -> (start, run time, nodes, racks, factor)
        self.started: dict[int, tuple[float, float, int, int, float]] = {}
        self.ended: dict[int, float] = {}
        api.bus.subscribe(PodRunning, self._on_running)

    def start(self) -> None:
        pass

    def _on_running(self, event: PodRunning) -> None:
        g = self.groups.group_of(event.pod)
        if g is None or g.training is None or g.index in self.started:
            return
        pods = self.state.pods
        workers = [p for p in g.members if pods.phase[p] == RUNNING]
        if len(workers) < g.workers:
            return
        self._start(g, workers[: g.workers])

    def _start(self, g: PodGroup, workers: list[int]) -> None:
        model: TrainingModel = g.training
        pods, nodes = self.state.pods, self.state.nodes
        on = sorted({int(pods.node[p]) for p in workers})
        racks = 1
        if model.rack_label is not None:
            codes = nodes.labels.get(model.rack_label)
            racks = len({int(codes[n]) for n in on}) if codes is not None else 1
        factor = slowdown(model, len(on), racks)
        run = g.base_duration * factor
        now = float(self.env.now)
        self.started[g.index] = (now, run, len(on), racks, factor)
        self.env.timeout(run).callbacks.append(lambda _e: self._finish(g, workers))

    def _finish(self, g: PodGroup, workers: list[int]) -> None:
        self.ended[g.index] = float(self.env.now)
        for p in workers:
            self.kubelet.finish(p)

    # -- results --------------------------------------------------------------------

    def frame(self, end_time: float) -> pd.DataFrame:
        """One row per training job (PodGroup with a training model): ``group``,
        ``workers``, ``created``, ``started`` (the last worker Running), ``finished``,
        ``nodes`` / ``racks`` spanned, ``slowdown`` (run-time factor), ``base_s`` (run
        time on one node), ``run_s``, ``completion_s`` (finished - created),
        ``queue_s`` (started - created), ``idle_gpu_s`` (GPU-seconds held by the job's
        bound workers before it started, or until ``end_time`` if it never did)."""
        pods = self.state.pods
        rows: list[dict[str, Any]] = []
        for g in self.groups.groups:
            if g.training is None:
                continue
            st = self.started.get(g.index)
            start = st[0] if st else math.nan
            until = start if st else end_time
            idle = 0.0
            for p in g.members:
                t = float(pods.scheduled[p])
                if math.isnan(t) or pods.gpu_count[p] == 0:
                    continue
                stop = until
                if not math.isnan(pods.finished[p]):
                    stop = min(stop, float(pods.finished[p]))
                idle += max(0.0, stop - t) * int(pods.gpu_count[p]) * int(pods.gpu_milli[p]) / GPU_MILLI
            fin = self.ended.get(g.index, math.nan)
            rows.append({
                "group": g.key, "workers": g.workers, "created": g.created, "started": start, "finished": fin,
                "nodes": st[2] if st else 0, "racks": st[3] if st else 0, "slowdown": st[4] if st else math.nan,
                "base_s": g.base_duration, "run_s": st[1] if st else math.nan,
                "completion_s": fin - g.created, "queue_s": start - g.created, "idle_gpu_s": idle,
            })
        frame = pd.DataFrame(rows, columns=["group", "workers", "created", "started", "finished", "nodes", "racks",
                                            "slowdown", "base_s", "run_s", "completion_s", "queue_s", "idle_gpu_s"])
        frame["group"] = frame["group"].astype("string")
        for c in ("workers", "nodes", "racks"):
            frame[c] = frame[c].astype(np.int64)
        return frame

    def contribute(self) -> Contribution:
        out = Contribution()
        end = float(self.env.now)
        frame = self.frame(end)
        if frame.empty:
            return out
        out.frames["training_jobs"] = frame
        done = frame["completion_s"].dropna()
        pods = self.state.pods
        ok = sum(1 for g in self.groups.groups if g.training is not None and g.index in self.ended
                 and all(pods.phase[p] == SUCCEEDED for p in g.members[: g.workers]))
        out.summary.update({
            "training_jobs": len(frame),
            "training_jobs_completed": int(len(done)),
            "training_jobs_succeeded": ok,
            "training_jct_p50_s": float(done.quantile(0.5)) if len(done) else math.nan,
            "training_jct_mean_s": float(done.mean()) if len(done) else math.nan,
            "training_slowdown_mean": float(frame["slowdown"].mean()) if frame["slowdown"].notna().any() else math.nan,
            "gpu_hours_idle_waiting": float(frame["idle_gpu_s"].sum()) / 3600.0,
        })
        return out
