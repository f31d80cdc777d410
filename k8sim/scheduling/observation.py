"""What a learned policy or an agent sees at one scheduling decision: a fixed layout.

One :class:`ObservationLayout` per run (built from the cluster as it is when the first
decision comes) turns the tables into three ``float32`` arrays and one mask, the same
for the Gymnasium environment (:mod:`k8sim.gym`) and for a policy object in a profile
(:mod:`k8sim.scheduling.policy`):

``nodes``: ``float32[max_nodes, F]``, one row per node row of the node table (rows
    beyond the cluster's current size are zeros); the columns, in this order
    (``layout.node_features`` names them):

    - per resource ``r`` of the run, in the node table's order (cpu, memory,
      ephemeral-storage, pods, then extended resources by name): ``r:allocatable``
      and ``r:free`` divided by ``scale[r]`` (the largest allocatable of ``r`` over the
      nodes at build time, at least 1), then ``r:free_share`` = free / allocatable (0
      where the node has none of ``r``). The ``pods`` columns are the pod counts
      (allocatable pods, and the room left for more);
    - ``gpu:devices``, ``gpu:idle_devices`` (devices with nothing allocated) divided by
      the most devices any node has (at least 1), ``gpu:free_share`` (free milli-GPU
      over all the node's devices / its devices' total; 0 without GPUs);
    - ``schedulable``: 1 if the node is Ready, not cordoned and not removed;
    - per label key of ``label_features``, a one-hot block ``label:KEY=VALUE`` over the
      values nodes had at build time in sorted order, then ``label:KEY=?`` for a node
      without the key or with a value seen later.

``pod``: ``float32[P]``: per resource ``r:request`` / ``scale[r]``; ``gpu:count`` (/ the
    most devices per node), ``gpu:milli`` (milli-GPU per device / 1000); ``priority``
    (raw); ``wait_s`` (virtual seconds since the pod was created); ``attempts``
    (scheduling attempts before this one); then a one-hot block ``workload:NAME`` over
    the scenario's workloads.

``cluster``: ``float32[3]``: ``time`` (virtual seconds / the run's horizon, 0 when it
    has none), ``pending`` (pods waiting in the scheduling queue besides this one),
    ``nodes`` (node rows / max_nodes).

``action_mask``: ``int8[max_nodes]``, 1 exactly for the nodes that pass every filter of
    the pod's profile (with nominated preemptors' reservations), before
    ``percentageOfNodesToScore`` sampling: the nodes the decision may choose.

Node rows are node identities (rows are never reused), so the action is a node row.
The cluster may not outgrow ``max_nodes`` (default: the node count at build time): a
node added beyond it is an error naming the setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from k8sim.constants import GPU_MILLI

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

Observation = dict[str, np.ndarray]


class ObservationError(RuntimeError):
    """The cluster no longer fits the observation layout (more nodes than ``max_nodes``)."""


class ObservationLayout:
    """The fixed observation layout of one run (see the module docstring).

    ``max_nodes``: rows of ``nodes`` and ``action_mask`` (default: the cluster's node
    rows now). ``label_features``: node label keys encoded one-hot. ``workloads``: the
    scenario's workload names (the pod's one-hot block). ``horizon_s``: the run's
    duration for the ``time`` feature (None: 0).
    """

    def __init__(self, state: ClusterState, *, max_nodes: int | None = None,
                 label_features: Sequence[str] = (), workloads: Sequence[str] = (),
                 horizon_s: float | None = None):
        nodes = state.nodes
        self.state = state
        self.max_nodes = int(max_nodes if max_nodes is not None else nodes.n)
        if self.max_nodes < max(nodes.n, 1):
            raise ValueError(f"max_nodes {self.max_nodes} is below the cluster's {nodes.n} node(s)")
        self.resources = tuple(state.resources.names)
        r = len(self.resources)
        alloc = nodes.alloc
        self.scale = np.maximum(alloc.max(axis=1) if nodes.n else np.zeros(r), 1).astype(np.float64)
        self.max_gpus = max(int(nodes.gpu_count.max()) if nodes.n else 0, 1)
        self.label_features = tuple(label_features)
        self.label_values: dict[str, tuple[str, ...]] = {}
        for key in self.label_features:
            self.label_values[key] = tuple(sorted(nodes.label_values.get(key, {})))
        names = []
        for res in self.resources:
            names += [f"{res}:allocatable", f"{res}:free", f"{res}:free_share"]
        names += ["gpu:devices", "gpu:idle_devices", "gpu:free_share", "schedulable"]
        for key in self.label_features:
            names += [f"label:{key}={v}" for v in self.label_values[key]] + [f"label:{key}=?"]
        self.node_features: tuple[str, ...] = tuple(names)
        self.workloads = tuple(workloads)
        self.pod_features: tuple[str, ...] = (
            *(f"{res}:request" for res in self.resources), "gpu:count", "gpu:milli", "priority", "wait_s",
            "attempts", *(f"workload:{w}" for w in self.workloads))
        self.cluster_features: tuple[str, ...] = ("time", "pending", "nodes")
        self.horizon_s = horizon_s
        self._inv_scale = (1.0 / self.scale)[:, None]
        self._static_key: tuple[int, int] = (-1, -1)
        self._static = np.zeros((0, 0), dtype=np.float32)
        self._inv_alloc = np.zeros((0, 0))
        # The node rows as of the journals' positions ``_rows_at`` (node-major
        # [max_nodes, F]); only the nodes journalled since are recomputed.
        self._rows = np.zeros((0, 0), dtype=np.float32)
        self._rows_key: tuple[int, int] = (-1, -1)
        self._rows_at: tuple[int, int] = (-1, -1)

    def node_index(self, name: str) -> int:
        """Column of the node feature ``name`` in ``nodes``."""
        return self.node_features.index(name)

    def pod_index(self, name: str) -> int:
        """Index of the pod feature ``name`` in ``pod``."""
        return self.pod_features.index(name)

    def _static_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows that change only with the node set or labels: allocatable, GPU devices
        and label one-hots (``[F_static, n]``), and ``1 / allocatable`` (0 where there is
        none), cached on the node table's version."""
        nodes = self.state.nodes
        key = (nodes.version, nodes.n)
        if key == self._static_key:
            return self._static, self._inv_alloc
        n = nodes.n
        cols = [nodes.alloc / self.scale[:, None]]
        cols.append((nodes.gpu_count / self.max_gpus)[None, :])
        for k in self.label_features:
            values = self.label_values[k]
            codes = nodes.labels.get(k)
            block = np.zeros((len(values) + 1, n))
            known = nodes.label_values.get(k, {})
            hit = np.zeros(n, dtype=bool)
            if codes is not None:
                for i, v in enumerate(values):
                    m = codes == known.get(v, -2)
                    block[i] = m
                    hit |= m
            block[-1] = ~hit
            cols.append(block)
        self._static = np.concatenate(cols).astype(np.float32)
        alloc = nodes.alloc
        self._inv_alloc = np.divide(1.0, alloc, out=np.zeros(alloc.shape), where=alloc > 0)
        self._static_key = key
        return self._static, self._inv_alloc

    def _columns(self, at: np.ndarray | slice, k: int) -> np.ndarray:
        """``float32[F, k]``: the node features of the nodes ``at`` (``k`` of them)."""
        nodes = self.state.nodes
        r = len(self.resources)
        static, inv_alloc = self._static_columns()
        static, inv_alloc = static[:, at], inv_alloc[:, at]
        # Filled feature-major ([F, k], contiguous rows).
        buf = np.zeros((len(self.node_features), k), dtype=np.float32)
        free = nodes.free[:, at]
        buf[0:3 * r:3] = static[:r]
        buf[1:3 * r:3] = free * self._inv_scale
        buf[2:3 * r:3] = free * inv_alloc
        j = 3 * r
        buf[j] = static[r]
        if nodes.gpu_free.shape[1]:
            gf = nodes.gpu_free[at]
            buf[j + 1] = (gf == GPU_MILLI).sum(axis=1) / self.max_gpus
            total = nodes.gpu_count[at].astype(np.float64) * GPU_MILLI
            buf[j + 2] = np.where(total > 0, np.clip(gf, 0, None).sum(axis=1) / np.maximum(total, 1), 0.0)
        buf[j + 3] = nodes.ready[at] & ~nodes.unschedulable[at] & np.isinf(nodes.removed_at[at])
        buf[j + 4:] = static[r + 1:]
        return buf

    def _node_rows(self) -> np.ndarray:
        """``float32[max_nodes, F]``, up to date: rebuilt when the node set, labels or
        taints changed (``nodes.version``), else only the nodes bound to, released
        from or updated since the last call are recomputed (the cluster's journals);
        each feature is a function of its node's column, so the values are the same."""
        state = self.state
        nodes = state.nodes
        n = nodes.n
        key = (nodes.version, n)
        at = (state.usage_journal.end, state.node_journal.end)
        if key == self._rows_key:
            if at == self._rows_at:
                return self._rows
            used = state.usage_journal.since(self._rows_at[0])
            updated = state.node_journal.since(self._rows_at[1])
            if used is not None and updated is not None:
                changed = sorted({*used, *updated})
                if len(changed) <= max(64, n >> 3):
                    idx = np.array(changed, dtype=np.intp)
                    self._rows[idx] = self._columns(idx, idx.size).T
                    self._rows_at = at
                    return self._rows
        rows = np.zeros((self.max_nodes, len(self.node_features)), dtype=np.float32)
        if n:
            rows[:n] = self._columns(slice(0, n), n).T
        self._rows, self._rows_key, self._rows_at = rows, key, at
        return rows

    def observe(self, pod: int, info: PodInfo, mask: np.ndarray, now: float, pending: int) -> Observation:
        """The observation of the decision for pod row ``pod`` (shape ``info``) with the
        feasible ``mask`` (``bool[N]``), at virtual time ``now``, with ``pending`` other
        pods queued. Returns new arrays (safe to keep)."""
        state = self.state
        nodes = state.nodes
        n, m, r = nodes.n, self.max_nodes, len(self.resources)
        if n > m:
            raise ObservationError(
                f"the cluster has {n} node rows but the observation layout has max_nodes={m}; "
                "give a larger max_nodes")
        out = self._node_rows().copy()
        pods = state.pods
        podv = np.zeros(len(self.pod_features), dtype=np.float32)
        podv[:r] = info.requests / self.scale
        podv[r] = info.gpu_count / self.max_gpus
        podv[r + 1] = info.gpu_milli / GPU_MILLI if info.gpu_count else 0.0
        podv[r + 2] = info.priority
        podv[r + 3] = now - pods.created[pod]
        podv[r + 4] = pods.attempts[pod] - 1  # the scheduler counted this cycle already
        w = int(pods.workload[pod])
        if 0 <= w < len(self.workloads):
            podv[r + 5 + w] = 1.0
        cluster = np.array([now / self.horizon_s if self.horizon_s else 0.0, pending, n / m], dtype=np.float32)
        action_mask = np.zeros(m, dtype=np.int8)
        action_mask[:n] = mask[:n]
        return {"nodes": out, "pod": podv, "cluster": cluster, "action_mask": action_mask}

    def empty(self) -> Observation:
        """An all-zero observation (the last one of an episode)."""
        return {"nodes": np.zeros((self.max_nodes, len(self.node_features)), dtype=np.float32),
                "pod": np.zeros(len(self.pod_features), dtype=np.float32),
                "cluster": np.zeros(len(self.cluster_features), dtype=np.float32),
                "action_mask": np.zeros(self.max_nodes, dtype=np.int8)}
