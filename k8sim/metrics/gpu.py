"""GPU allocation and fragmentation of a run, reconstructed after the run from the tables.

The measures are those of Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing
Workloads with Fragmentation Gradient Descent", USENIX ATC '23 (restated in
:mod:`k8sim.scheduling.plugins.fgd`): the allocated GPU milli against the arrived GPU
request (pods that never got placed included), and the cluster fragmentation
``sum_n F(n)`` (milli-GPU) for a target workload, as a share of GPU capacity and of idle
GPU.

Reconstruction. A pod holds its resources on its node from ``scheduled`` (bind) to
``finished``: every release (Completed, Failed, and evicted / preempted pods after their
grace period) goes through :func:`k8sim.cluster.ops.release`, which stamps ``finished``
with the release time; a bound pod with ``finished`` NaN still held them at the end.
While bound it holds ``gpu_milli`` on each device of its ``gpu_devices`` bitmask and its
CPU request. Node ``n`` has GPU capacity ``1000 * gpu_count`` from ``created_at`` to
``removed_at``.

Event order. Every pod gives an ``arrived`` event at ``created``, a ``bound`` event at
``scheduled`` and a ``released`` event at ``finished`` (when reached). Events are sorted
by time; at equal times releases come first (a release only makes room, so a pod bound
at the same instant may have used it; this keeps every intermediate state feasible),
then the other events in pod-row order, ``arrived`` before ``bound`` before ``released``
for one pod (a pod bound and released at the same instant keeps that order). Nodes join
at ``created_at`` before any pod event at that time and leave at ``removed_at`` after the
releases at that time; they change capacity and fragmentation but give no row.

Fragmentation per node uses :meth:`Target.fragmentation` on the node's per-device free
milli and its free CPU (allocatable minus the CPU requests of the pods bound there, CPU-only
pods included) after each of its events; the cluster total at an event is the running sum
of the per-node changes in global event order. Nodes without GPUs have ``F = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.nodes import CPU
from k8sim.metrics.timeseries import interval_integrals
from k8sim.scheduling.plugins.fgd import FGDArgs, Target, target_workload_from_pods

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState

__all__ = [
    "EVENT_NAMES",
    "IDLE_TOLERANCE",
    "GpuHistory",
    "gpu_target_of",
    "gpu_timeline",
    "target_workload_of_state",
]

#: Values of the ``event`` column of :func:`gpu_timeline`.
EVENT_NAMES = ("arrived", "bound", "released")
_ARRIVED, _BOUND, _RELEASED = 0, 1, 2
_NODE_ADDED, _NODE_REMOVED = 3, 4
#: Tie groups at equal times: node joins, releases, node leaves, then the rest by pod row.
_G_ADD, _G_RELEASE, _G_REMOVE, _G_POD = 0, 1, 2, 3
#: Bound on ``M * K * G`` elements per :meth:`Target.fragmentation` call (memory).
_CHUNK_ELEMENTS = 1 << 21
_MILLI = 1000
#: Time-integrated idle GPU below this share of capacity is float rounding: treated as 0.
IDLE_TOLERANCE = 1e-12


def target_workload_of_state(state: ClusterState) -> list[dict[str, Any]]:
    """The FGD target workload (``targetWorkload`` list, by the 95% rule of
    :func:`target_workload_from_pods`) of the pods the workloads submitted (initial pods,
    which never pass the scheduler, are left out): CPU milli request, ``gpu_count``,
    ``gpu_milli`` and the GPU model constraint of the pod's shape (model names sorted and
    joined by ``|``, ``""`` for any model)."""
    pods = state.pods
    n = pods.n
    sel = np.flatnonzero(pods.workload[:n] >= 0)
    names = state.nodes.gpu_models
    spec = ["" if info.gpu_models is None else "|".join(sorted(names[c] for c in info.gpu_models))
            for info in state.shapes]
    shape = pods.shape[:n][sel]
    df = pd.DataFrame({
        "cpu_milli": pods.requests[:n, CPU][sel],
        "gpu_milli": pods.gpu_milli[:n][sel],
        "gpu_count": pods.gpu_count[:n][sel],
        "gpu_model": np.array(spec, dtype=object)[shape] if spec else np.array([], dtype=object),
    })
    return target_workload_from_pods(df)


def gpu_target_of(sim: Any) -> list[dict[str, Any]]:
    """The target workload the GPU metrics use, for a run record, a simulation or any
    object with ``state`` (and optionally ``gpu_target``): ``sim.gpu_target`` when it has
    that attribute and it is not None (TargetPod dicts, the FGD ``targetWorkload`` format),
    else :func:`target_workload_of_state` over the run's submitted pods."""
    target = getattr(sim, "gpu_target", None)
    if target is None:
        return target_workload_of_state(sim.state)
    if isinstance(target, FGDArgs):
        target = target.targetWorkload
    return [p.model_dump() if hasattr(p, "model_dump") else dict(p) for p in target]


def gpu_timeline(sim: Any) -> pd.DataFrame | None:
    """GPU state after each pod event of the run (None when the cluster has no GPUs).

    One row per event (module docstring: which events, their order) with columns
    ``time`` (s), ``pod`` (name), ``event`` (``arrived`` / ``bound`` / ``released``), the
    cluster totals after it in milli-GPU: ``arrived_gpu_milli`` (``gpu_count *
    gpu_milli`` summed over every pod created so far, placed or not),
    ``allocated_gpu_milli`` (held by bound pods), ``capacity_gpu_milli`` (``1000 *
    gpu_count`` over present nodes), ``idle_gpu_milli`` (capacity - allocated),
    ``fragmentation_milli`` (``sum_n F(n)`` for :func:`gpu_target_of`), and the shares
    ``arrived_share``, ``allocated_share``, ``fragmentation_share`` (of capacity) and
    ``fragmentation_idle_share`` (fragmentation / idle, NaN when nothing is idle).
    """
    history = GpuHistory.of(sim.state, gpu_target_of(sim))
    return None if history is None else history.timeline()


@dataclass
class GpuHistory:
    """The reconstructed GPU history of a run; build with :meth:`of`.

    ``pod``/``kind``/``time`` describe the pod events (rows of :meth:`timeline`) in order,
    with the cluster totals after each; ``seg_*`` are the per-node fragmentation step
    functions (``level`` on ``[start, end)``) and ``pod_*`` / ``node_*`` the intervals the
    allocated and capacity step functions are made of (for :meth:`timeseries`).
    """

    names: list[str]
    pod: np.ndarray
    kind: np.ndarray
    time: np.ndarray
    arrived: np.ndarray
    allocated: np.ndarray
    capacity: np.ndarray
    fragmentation: np.ndarray
    seg_start: np.ndarray
    seg_end: np.ndarray
    seg_level: np.ndarray
    pod_start: np.ndarray
    pod_end: np.ndarray
    pod_gpu: np.ndarray
    node_start: np.ndarray
    node_end: np.ndarray
    node_gpu: np.ndarray

    @classmethod
    def of(cls, state: ClusterState, target: Any) -> GpuHistory | None:
        """Reconstruct the history of ``state``'s tables for ``target`` (anything
        :meth:`Target.of` takes); None when no node has GPUs."""
        nodes, pods = state.nodes, state.pods
        if nodes.n == 0 or int(nodes.gpu_count.sum()) == 0:
            return None
        t = Target.of(target)
        n = pods.n
        created, scheduled, finished = pods.created[:n], pods.scheduled[:n], pods.finished[:n]
        node = pods.node[:n].astype(np.int64)
        req = pods.gpu_count[:n].astype(np.int64) * pods.gpu_milli[:n]
        is_gpu_node = nodes.gpu_count > 0
        gpu_nodes = np.flatnonzero(is_gpu_node)

        # -- all events: pod events and the GPU nodes' joins and leaves -------------------
        rows = np.arange(n)
        has_arr = ~np.isnan(created)
        has_bind = ~np.isnan(scheduled)
        has_rel = has_bind & ~np.isnan(finished)
        a, b, r = rows[has_arr], rows[has_bind], rows[has_rel]
        removed = nodes.removed_at[gpu_nodes]
        gone = gpu_nodes[np.isfinite(removed)]
        ev_pod = np.concatenate([a, b, r, np.full(gpu_nodes.size + gone.size, -1)])
        ev_node = np.concatenate([np.full(a.size, -1), node[b], node[r], gpu_nodes, gone])
        ev_kind = np.concatenate([np.full(a.size, _ARRIVED), np.full(b.size, _BOUND), np.full(r.size, _RELEASED),
                                  np.full(gpu_nodes.size, _NODE_ADDED), np.full(gone.size, _NODE_REMOVED)])
        ev_time = np.concatenate([created[a], scheduled[b], finished[r], nodes.created_at[gpu_nodes],
                                  nodes.removed_at[gone]])
        rel_group = np.where(finished[r] > scheduled[r], _G_RELEASE, _G_POD)
        ev_group = np.concatenate([np.full(a.size + b.size, _G_POD), rel_group, np.full(gpu_nodes.size, _G_ADD),
                                   np.full(gone.size, _G_REMOVE)])
        tie_row = np.where(ev_pod >= 0, ev_pod, ev_node)
        order = np.lexsort((ev_kind, tie_row, ev_group, ev_time))
        ev_pod, ev_node, ev_kind, ev_time = ev_pod[order], ev_node[order], ev_kind[order], ev_time[order]
        e = ev_time.size

        # -- cluster totals (exact integers except fragmentation) ------------------------
        is_pod = ev_pod >= 0
        # Per-pod columns with a zero row ``n`` that node events point at.
        pidx = np.where(is_pod, ev_pod, n)
        req = np.append(req, 0)
        pod_req = req[pidx]
        arrived = np.cumsum(np.where(ev_kind == _ARRIVED, pod_req, 0))
        on_gpu = is_pod & (ev_node >= 0) & is_gpu_node[np.maximum(ev_node, 0)]
        sign = np.where(ev_kind == _BOUND, 1, np.where(ev_kind == _RELEASED, -1, 0))
        allocated = np.cumsum(sign * pod_req)
        node_cap = _MILLI * nodes.gpu_count.astype(np.int64)
        cap_delta = np.where(ev_kind == _NODE_ADDED, 1, np.where(ev_kind == _NODE_REMOVED, -1, 0))
        capacity = np.cumsum(cap_delta * node_cap[np.maximum(ev_node, 0)])

        # -- per-node device state after each of its events ------------------------------
        mine = np.flatnonzero(on_gpu | (ev_kind >= _NODE_ADDED))  # global positions
        mine = mine[np.lexsort((mine, ev_node[mine]))]  # by node, then global order
        k_node = ev_node[mine]
        k_kind = ev_kind[mine]
        k_pod = pidx[mine]
        k_sign = np.where(k_kind == _BOUND, -1, np.where(k_kind == _RELEASED, 1, 0))  # on free
        width = nodes.gpu_free.shape[1]
        masks = np.append(pods.gpu_devices[:n], 0)[k_pod]
        milli = np.append(np.where(pods.gpu_count[:n] > 0, pods.gpu_milli[:n], 0), 0)[k_pod]
        bits = (masks[:, None] >> np.arange(width)[None, :]) & 1
        dev_delta = bits * (k_sign * milli)[:, None]
        cpu_delta = k_sign * np.append(pods.requests[:n, CPU], 0)[k_pod]
        first = np.ones(mine.size, dtype=bool)
        first[1:] = k_node[1:] != k_node[:-1]
        start = np.maximum.accumulate(np.where(first, np.arange(mine.size), 0))  # group start
        free = _grouped_cumsum(dev_delta, start)
        cpu = _grouped_cumsum(cpu_delta, start)
        base = np.where(np.arange(width)[None, :] < nodes.gpu_count[:, None], _MILLI, -1)
        free += base[k_node]
        cpu += nodes.alloc[CPU, k_node]
        allowed = t.allowed(state)
        level = np.zeros(mine.size)
        live = k_kind != _NODE_REMOVED
        idx = np.flatnonzero(live)
        m = max(t.p.size, 1)
        step = max(1, _CHUNK_ELEMENTS // (m * max(width, 1)))
        for lo in range(0, idx.size, step):
            sel = idx[lo : lo + step]
            level[sel] = t.fragmentation(free[sel], cpu[sel], allowed[:, k_node[sel]])
        prev = np.concatenate([[0.0], level[:-1]])
        prev[first] = 0.0
        frag_delta = np.zeros(e)
        frag_delta[mine] = level - prev
        fragmentation = np.cumsum(frag_delta)

        # per-node step functions: level on [event time, next event time of that node)
        seg_start = ev_time[mine]
        last = np.ones(mine.size, dtype=bool)
        last[:-1] = first[1:]
        seg_end = np.concatenate([seg_start[1:], [np.inf]])
        seg_end[last] = np.inf

        bound_gpu = np.flatnonzero(has_bind & (req[:n] > 0))
        keep = np.flatnonzero(is_pod)
        return cls(
            names=pods.names[:n],
            pod=ev_pod[keep], kind=ev_kind[keep], time=ev_time[keep],
            arrived=arrived[keep], allocated=allocated[keep], capacity=capacity[keep],
            fragmentation=fragmentation[keep],
            seg_start=seg_start, seg_end=seg_end, seg_level=level,
            pod_start=scheduled[bound_gpu], pod_end=finished[bound_gpu], pod_gpu=req[bound_gpu].astype(np.float64),
            node_start=nodes.created_at[gpu_nodes], node_end=nodes.removed_at[gpu_nodes],
            node_gpu=node_cap[gpu_nodes].astype(np.float64),
        )

    def timeline(self) -> pd.DataFrame:
        """The rows of :func:`gpu_timeline`."""
        idle = self.capacity - self.allocated
        cap = self.capacity.astype(np.float64)
        frag = self.fragmentation
        return pd.DataFrame({
            "time": self.time,
            "pod": pd.Series(np.array(self.names, dtype=object)[self.pod] if self.pod.size else [], dtype="string"),
            "event": pd.Categorical.from_codes(self.kind, categories=pd.Index(list(EVENT_NAMES))),
            "arrived_gpu_milli": self.arrived,
            "allocated_gpu_milli": self.allocated,
            "capacity_gpu_milli": self.capacity,
            "idle_gpu_milli": idle,
            "fragmentation_milli": frag,
            "arrived_share": _ratio(self.arrived, cap),
            "allocated_share": _ratio(self.allocated, cap),
            "fragmentation_share": _ratio(frag, cap),
            "fragmentation_idle_share": _ratio(frag, idle.astype(np.float64)),
        })

    def integrals(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact integrals over each bin ``[edges[i], edges[i+1])`` of the allocated,
        capacity and fragmentation step functions (milli-GPU x s)."""
        alloc = interval_integrals(self.pod_start, self.pod_end, self.pod_gpu, edges)
        cap = interval_integrals(self.node_start, self.node_end, self.node_gpu, edges)
        frag = interval_integrals(self.seg_start, self.seg_end, self.seg_level, edges)
        return alloc, cap, frag

    def timeseries(self, edges: np.ndarray) -> dict[str, np.ndarray]:
        """Time-weighted GPU columns per bin: ``gpu_allocated_milli``,
        ``gpu_capacity_milli``, ``gpu_fragmentation_milli`` (bin means), and the ratios of
        the bin integrals ``gpu_utilization`` (allocated / capacity),
        ``gpu_fragmentation_share`` (fragmentation / capacity) and
        ``gpu_fragmentation_idle_share`` (fragmentation / idle); NaN where the
        denominator is 0 (idle below ``1e-12`` of capacity, float rounding, counts as 0)."""
        alloc, cap, frag = self.integrals(edges)
        width = np.diff(edges)
        width = np.where(width > 0, width, 1.0)
        idle = cap - alloc
        idle = np.where(idle > IDLE_TOLERANCE * cap, idle, 0.0)
        return {
            "gpu_allocated_milli": alloc / width,
            "gpu_capacity_milli": cap / width,
            "gpu_utilization": _ratio(alloc, cap),
            "gpu_fragmentation_milli": frag / width,
            "gpu_fragmentation_share": _ratio(frag, cap),
            "gpu_fragmentation_idle_share": _ratio(frag, idle),
        }


def _grouped_cumsum(delta: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Running sums of ``delta`` (along axis 0) restarting at each group, ``start[i]``
    being the first index of row ``i``'s group."""
    cs = np.cumsum(delta, axis=0)
    return cs - cs[start] + delta[start]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out
