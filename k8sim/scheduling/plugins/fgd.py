"""FGD: Fragmentation Gradient Descent, the GPU-sharing policy of Weng et al.

Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads with
Fragmentation Gradient Descent", USENIX ATC '23. Args ``targetWorkload``: a list of
typical pods ``{cpuMilli, gpuMilli, gpuCount, gpuModels, popularity}`` (``gpuModels``:
``"A|B"`` allowed models, ``""`` any); popularities are renormalised to sum ``p_m = 1``
(:func:`target_workload_from_pods` builds the list from a trace by the 95% rule).

Fragmentation of node ``n`` (free milli ``free[n, d]`` per GPU, ``gpuLeft = sum_d
free[n, d]``) for typical pod ``m``::

    f_m(n) = gpuLeft                                   if m is CPU-only, or m does not
                                                       allow the node's GPU model, or
                                                       #{d: free[n, d] >= milli_m} < count_m,
                                                       or cpuLeft < cpu_m
           = sum_{d: free[n, d] < milli_m} free[n, d]  otherwise
    F(n)   = sum_m p_m * f_m(n)

Score of candidate ``n`` (``n'`` = the node after placing the pod)::

    score[n] = int(100 * sigmoid((F(n) - F(n')) / 1000))     sigmoid(x) = 1 / (1 + e^-x)

A sharing pod (``gpu_milli < 1000``) tries every GPU with ``free >= gpu_milli`` and keeps
the one with the least ``F(n')`` (lowest index on ties); a whole-GPU pod takes the
lowest-index free GPUs; a CPU-only pod only reduces ``cpuLeft``. Reserve places a sharing
pod on that FGD-best GPU (whole-GPU pods keep GpuFit's choice, which is the same rule).
With an empty ``targetWorkload`` F is 0 and every node scores 50.

Computation (:meth:`Target.placement`): per node the free milli stranded below and the
number of GPUs at or above each distinct typical-pod milli; the node after placement
is derived from those by the change of the devices the pod takes (each distinct free
value of a sharing pod's fitting GPUs tried once), all candidates x typical pods at
once. ``F`` is summed over typical pods in a fixed order with elementwise float64
operations, so a node's ``F`` and score do not depend on the other nodes evaluated
with it. The plugin memoises each node's score and FGD device per pod kind ``(cpu,
gpu_count, gpu_milli)`` and recomputes only nodes whose GPU free milli or free CPU
changed since (:class:`_Memo`), so a decision costs about the nodes changed since the
last pod of that kind rather than all candidates.

:func:`cluster_fragmentation` is ``sum_n F(n)`` over the cluster's nodes.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from k8sim.cluster import ops
from k8sim.cluster.nodes import CPU
from k8sim.scheduling.plugins import gpu_common as g
from k8sim.scheduling.plugins.base import ScorePlugin

if TYPE_CHECKING:
    import pandas as pd

    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Share of the trace's pods the target workload's groups must cover.
COVERAGE = 0.95


class TargetPod(BaseModel):
    """A typical pod of the target workload."""

    model_config = ConfigDict(extra="forbid")

    cpuMilli: int = Field(ge=0)
    gpuMilli: int = Field(0, ge=0, le=g.GPU_MILLI)
    gpuCount: int = Field(0, ge=0)
    gpuModels: str = ""
    popularity: float = Field(gt=0)

    @model_validator(mode="after")
    def _gpu(self) -> TargetPod:
        if (self.gpuCount > 0) != (self.gpuMilli > 0):
            raise ValueError("gpuMilli > 0 exactly when gpuCount > 0")
        if self.gpuCount > 1 and self.gpuMilli < g.GPU_MILLI:
            raise ValueError("a multi-GPU typical pod needs gpuMilli = 1000")
        return self


class FGDArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    targetWorkload: list[TargetPod] = Field(default_factory=list)


class Target:
    """The target workload as arrays over its ``M`` typical pods.

    ``F = sum_m p_m * f_m`` is summed over the typical pods in a fixed pairwise order
    with elementwise float64 operations (:meth:`weighted`), not by a BLAS product: the
    value for a node is then the same whichever other nodes it is computed with, so
    scores can be memoised per node (a BLAS ``gemv`` rounds the last bit differently
    depending on a column's position in the batch).
    """

    def __init__(self, pods: list[TargetPod]) -> None:
        self.cpu = np.array([p.cpuMilli for p in pods], dtype=np.int64)
        self.milli = np.array([p.gpuMilli for p in pods], dtype=np.int64)
        self.count = np.array([p.gpuCount for p in pods], dtype=np.int64)
        pop = np.array([p.popularity for p in pods], dtype=np.float64)
        self.p = pop / pop.sum() if pop.size else pop
        #: GPUs m needs with ``free >= milli_m``; CPU-only typical pods get a count no
        #: node reaches, so they are never hosted (their ``f_m`` is ``gpuLeft``).
        self.need = np.where(self.count > 0, self.count, np.iinfo(np.int64).max)
        #: Distinct typical-pod milli values and each typical pod's index into them.
        self.umilli, self.inv = np.unique(self.milli, return_inverse=True)
        self.models = [p.gpuModels for p in pods]
        self._key: tuple[int, int] | None = None
        self._allowed = np.zeros((len(pods), 0), dtype=bool)

    @classmethod
    def of(cls, target: Any) -> Target:
        """From FGDArgs, a list of TargetPod, or a list of dicts."""
        if isinstance(target, Target):
            return target
        if isinstance(target, FGDArgs):
            return cls(target.targetWorkload)
        return cls(FGDArgs.model_validate({"targetWorkload": list(target)}).targetWorkload)

    def allowed(self, state: ClusterState) -> np.ndarray:
        """``bool[M, N]``: typical pod m allows node n's GPU model (cached per node version)."""
        nodes = state.nodes
        key = (id(nodes), nodes.version)
        if key != self._key:
            rows = []
            for spec in self.models:
                if not spec:
                    rows.append(np.ones(nodes.n, dtype=bool))
                else:
                    codes = [nodes.gpu_model_code(m) for m in spec.split("|")]
                    rows.append(np.isin(nodes.gpu_model, codes))
            self._allowed = np.array(rows, dtype=bool).reshape(len(self.models), nodes.n)
            self._key = key
        return self._allowed

    def weighted(self, f: np.ndarray) -> np.ndarray:
        """``sum_m p_m * f[m, :]`` (float64 ``[K]``): the products are added pairwise in a
        fixed order (row i with row i + h, h = half the rows; an odd last row is added to
        row 0 after its pair), the same operations for every column."""
        if self.p.size == 0:
            return np.zeros(f.shape[1])
        acc = self.p[:, None] * f
        n = acc.shape[0]
        while n > 1:
            h = n // 2
            nxt = acc[:h] + acc[h : 2 * h]
            if n % 2:
                nxt[0] += acc[2 * h]
            acc, n = nxt, h
        return acc[0]

    def parts(self, free: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(stranded[U, K], fitting[U, K], left[K])`` of nodes with GPU free milli
        ``free[K, G]`` (-1: no device), per distinct typical-pod milli ``u = umilli[i]``:
        the free milli on the GPUs with ``free < u``, the number of GPUs with ``free >= u``,
        and ``gpuLeft``."""
        pos = np.maximum(free, 0)
        fits = free[None, :, :] >= self.umilli[:, None, None]  # [U, K, G]
        return g.row_sums(np.where(fits, 0, pos[None, :, :])), g.count_true(fits), g.row_sums(pos)

    def levels(self, stranded: np.ndarray, fitting: np.ndarray, left: np.ndarray, cpu: np.ndarray,
               allowed: np.ndarray) -> np.ndarray:
        """``f[M, K]`` from :meth:`parts` (``allowed[M, K]`` from :meth:`allowed`): ``stranded``
        where m can be hosted (model allowed, enough fitting GPUs, ``cpu >= cpu_m``), else
        ``left``."""
        host = allowed & (fitting[self.inv] >= self.need[:, None]) & (cpu[None, :] >= self.cpu[:, None])
        return np.where(host, stranded[self.inv], left[None, :])

    def fragmentation(self, free: np.ndarray, cpu: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """``F[K]`` of nodes with GPU free milli ``free[K, G]`` (-1: no device), free
        milli-CPU ``cpu[K]`` and allowed models ``allowed[M, K]``."""
        if self.p.size == 0:
            return np.zeros(free.shape[0])
        return self.weighted(self.levels(*self.parts(free), cpu, allowed))

    def placement(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(F before, F after the FGD placement, chosen device or -1)`` per candidate.

        The node after placement is derived from :meth:`parts` of the node before: a
        whole-GPU pod turns ``taken`` idle GPUs (1000 free, never stranded) into 0 free,
        which lowers ``fitting`` by ``taken`` for every ``u > 0``; a sharing pod's trial
        on device d changes only that device (``x -> x - milli``), so ``stranded`` and
        ``fitting`` change by that device's terms. A trial depends on the device only
        through ``x``, so each distinct ``x`` is tried once, on its lowest-index device."""
        k = candidates.size
        free = state.nodes.gpu_free[candidates]
        cpu = g.cpu_left(state, candidates)
        allowed = self.allowed(state)[:, candidates]
        stranded, fitting, left = self.parts(free)
        f_before = self.levels(stranded, fitting, left, cpu, allowed)
        cpu_after = cpu - g.cpu_req(pod)
        device = np.full(k, -1, dtype=np.int64)
        if pod.gpu_count == 0:
            f_after = self.levels(stranded, fitting, left, cpu_after, allowed)
        elif pod.gpu_milli >= g.GPU_MILLI:
            taken = np.minimum(g.count_true(free == g.GPU_MILLI), pod.gpu_count)
            fitting = fitting - (self.umilli > 0)[:, None] * taken[None, :]
            f_after = self.levels(stranded, fitting, left - g.GPU_MILLI * taken, cpu_after, allowed)
        else:
            milli = int(pod.gpu_milli)
            width = free.shape[1]
            # repeat[k, d]: a lower-index device of node k has the same free milli as d
            repeat = g.count_true((free[:, :, None] == free[:, None, :]) & np.tri(width, width, -1, dtype=bool)) > 0
            kk, dd = np.nonzero((free >= milli) & ~repeat)  # trials: node, device
            x = free[kk, dd]
            y = x - milli
            u = self.umilli[:, None]
            st = stranded[:, kk] - np.where(x < u, x, 0) + np.where(y < u, y, 0)
            fit = fitting[:, kk] - (x >= u) + (y >= u)
            f = self.weighted(np.concatenate(
                (f_before, self.levels(st, fit, left[kk] - milli, cpu_after[kk], allowed[:, kk])), axis=1))
            trials = np.full((k, max(width, 1)), np.inf)  # a column of inf when no node has GPUs
            trials[kk, dd] = f[k:]
            best = np.argmin(trials, axis=1)  # first minimum: lowest index on ties
            after = trials[np.arange(k), best]
            return f[:k], after, np.where(np.isfinite(after), best, -1)
        f = self.weighted(np.concatenate((f_before, f_after), axis=1))
        return f[:k], f[k:], device


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def fgd_score(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``int64`` ``int(100 * sigmoid((before - after) / 1000))`` (0 where ``after`` is infinite)."""
    delta = np.where(np.isfinite(after), before - after, -np.inf)
    return np.trunc(100 * sigmoid(delta / 1000)).astype(np.int64)


class _Memo:
    """Scores and FGD devices per node for recent pod kinds, valid while the node is unchanged.

    A node's score and device depend only on its GPU free milli row, its free milli-CPU,
    its allowed models (fixed per node table version) and the pod's ``(cpu, gpu_count,
    gpu_milli)``. :meth:`sync` compares those rows with a snapshot and gives changed nodes
    a new stamp; an entry is reused where its stamp equals the node's. At most
    :attr:`CELLS` cached values are kept (least recently used pod kinds dropped).
    """

    CELLS = 1 << 22

    def __init__(self, target: Target) -> None:
        self.target = target
        self.nodes: Any = None
        self.version = -1
        self.clock = 0
        self.stamp = np.zeros(0, dtype=np.int64)
        self.free = np.zeros((0, 0), dtype=np.int64)
        self.cpu = np.zeros(0, dtype=np.int64)
        self.entries: OrderedDict[tuple[int, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()

    def sync(self, state: ClusterState) -> None:
        """Stamp the nodes whose GPU free milli or free CPU changed since the last call
        (compared with a snapshot, so changes made outside :mod:`k8sim.cluster.ops` count too)."""
        nodes = state.nodes
        free, cpu = nodes.gpu_free, nodes.free[CPU]
        if nodes is not self.nodes or nodes.version != self.version or free.shape != self.free.shape:
            self.nodes, self.version = nodes, nodes.version
            self.free, self.cpu = free.copy(), cpu.copy()
            self.stamp = np.zeros(nodes.n, dtype=np.int64)
            self.entries.clear()
            return
        gpu = np.flatnonzero(free.ravel() != self.free.ravel())
        changed = np.flatnonzero(cpu != self.cpu)
        if gpu.size:
            changed = np.union1d(changed, gpu // free.shape[1])
        if changed.size:
            self.clock += 1
            self.stamp[changed] = self.clock
            self.free[changed] = free[changed]
            self.cpu[changed] = cpu[changed]

    def entry(self, pod: PodInfo) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(stamp, score, device)`` arrays over nodes for the pod's kind (stamp -1: unset)."""
        key = (g.cpu_req(pod), int(pod.gpu_count), int(pod.gpu_milli))
        e = self.entries.get(key)
        if e is None:
            n = self.stamp.size
            while self.entries and (len(self.entries) + 1) * n > self.CELLS:
                self.entries.popitem(last=False)
            e = self.entries[key] = (np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64),
                                     np.full(n, -1, dtype=np.int64))
        else:
            self.entries.move_to_end(key)
        return e

    def lookup(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(score, device)`` of the candidates, computing only the stale ones."""
        self.sync(state)
        stamp, score, device = self.entry(pod)
        now = self.stamp[candidates]
        stale = candidates[stamp[candidates] != now]
        if stale.size:
            before, after, dev = self.target.placement(state, pod, stale)
            score[stale] = fgd_score(before, after)
            device[stale] = dev
            stamp[stale] = self.stamp[stale]
        return score[candidates], device[candidates]


class FGD(ScorePlugin):
    """Fragmentation gradient descent (Weng et al., ATC '23): least fragmentation increase wins."""

    name = "FGD"
    Args = FGDArgs
    args: FGDArgs
    summary = "FGD of Weng et al. ATC '23: minimise the expected GPU fragmentation increase (targetWorkload)"

    def __init__(self, args: BaseModel | None = None) -> None:
        super().__init__(args)
        self.target = Target(self.args.targetWorkload)
        self._memo: _Memo | None = None
        self._handle_target: Any = None  # the handle's target that self.target was made from

    def _current_memo(self) -> _Memo:
        """The score memo of the current :attr:`target` (a new one if the target was
        replaced). Without ``targetWorkload`` args the target is the run's default (the
        trace workloads' pods, from the framework handle) once the run has one."""
        if not self.args.targetWorkload and self.handle is not None:
            default = self.handle.gpu_target
            if default is not None and default is not self._handle_target:
                self.target = Target.of(default)
                self._handle_target = default
        if self._memo is None or self._memo.target is not self.target:
            self._memo = _Memo(self.target)
        return self._memo

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        if candidates.size == 0:
            return np.zeros(0, dtype=np.int64)
        return self._current_memo().lookup(state, pod, candidates)[0]

    def reserve(self, state: ClusterState, pod: int, info: PodInfo, node: int) -> None:
        if info.gpu_count != 1 or info.gpu_milli >= g.GPU_MILLI:
            return  # CPU-only: nothing; whole-GPU: GpuFit's lowest-index free devices
        device = int(self._current_memo().lookup(state, info, np.array([node]))[1][0])
        if device < 0:
            raise ops.InvariantError(f"FGD reserve: node {state.nodes.names[node]} cannot host pod {pod}")
        ops.assign_gpus(state, pod, 1 << device)


def cluster_fragmentation(state: ClusterState, target: Any) -> float:
    """``sum_n F(n)`` (milli-GPU) over the cluster's present nodes for ``target`` (FGDArgs,
    a list of TargetPod, or the ``targetWorkload`` list of dicts)."""
    t = Target.of(target)
    nodes = np.flatnonzero(np.isinf(state.nodes.removed_at))
    if nodes.size == 0:
        return 0.0
    free = state.nodes.gpu_free[nodes]
    return float(t.fragmentation(free, g.cpu_left(state, nodes), t.allowed(state)[:, nodes]).sum())


def target_workload_from_pods(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The target workload of a trace (``targetWorkload`` args): pods grouped by
    (cpu_milli, gpu_milli, gpu_count, gpu_model), sorted by count descending (ties by
    the group key), the most popular groups kept until they cover >= 95% of the pods,
    popularities renormalised to sum 1."""
    if len(df) == 0:
        return []
    keys = ["cpu_milli", "gpu_milli", "gpu_count", "gpu_model"]
    data = df[keys].copy()
    data["gpu_model"] = data["gpu_model"].fillna("").astype(str)
    data["gpu_count"] = data["gpu_count"].fillna(0).astype(int)
    data["gpu_milli"] = data["gpu_milli"].fillna(0).astype(int).where(data["gpu_count"] > 0, 0)
    data["cpu_milli"] = data["cpu_milli"].astype(int)
    counts = data.groupby(keys, sort=True).size().reset_index(name="n")
    counts = counts.sort_values("n", ascending=False, kind="stable").reset_index(drop=True)
    cover = counts["n"].cumsum() / counts["n"].sum()
    keep = int(np.searchsorted(cover.to_numpy(), COVERAGE - 1e-12)) + 1
    kept = counts.iloc[:keep]
    total = int(kept["n"].sum())
    return [{"cpuMilli": int(r["cpu_milli"]), "gpuMilli": int(r["gpu_milli"]), "gpuCount": int(r["gpu_count"]),
             "gpuModels": str(r["gpu_model"]), "popularity": int(r["n"]) / total}
            for r in kept.to_dict(orient="records")]
