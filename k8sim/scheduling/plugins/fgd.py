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
Computed over candidates x typical pods x GPUs at once (a loop over the G <= 8 GPUs for
sharing pods). With an empty ``targetWorkload`` F is 0 and every node scores 50.

:func:`cluster_fragmentation` is ``sum_n F(n)`` over the cluster's nodes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from k8sim.cluster import ops
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
    """The target workload as arrays over its ``M`` typical pods."""

    def __init__(self, pods: list[TargetPod]) -> None:
        self.cpu = np.array([p.cpuMilli for p in pods], dtype=np.int64)
        self.milli = np.array([p.gpuMilli for p in pods], dtype=np.int64)
        self.count = np.array([p.gpuCount for p in pods], dtype=np.int64)
        pop = np.array([p.popularity for p in pods], dtype=np.float64)
        self.p = pop / pop.sum() if pop.size else pop
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

    def fragmentation(self, free: np.ndarray, cpu: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """``F[K]`` of nodes with GPU free milli ``free[K, G]`` (-1: no device), free
        milli-CPU ``cpu[K]`` and allowed models ``allowed[M, K]``."""
        if self.p.size == 0:
            return np.zeros(free.shape[0])
        pos = np.clip(free, 0, None)
        left = pos.sum(axis=1)  # [K]
        fits = free[None, :, :] >= self.milli[:, None, None]  # [M, K, G]
        host = ((self.count[:, None] > 0) & allowed & (fits.sum(axis=2) >= self.count[:, None])
                & (cpu[None, :] >= self.cpu[:, None]))
        stranded = (pos[None, :, :] * ~fits).sum(axis=2)  # free on GPUs that cannot host m
        f = np.where(host, stranded, left[None, :])
        return self.p @ f

    def placement(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(F before, F after the FGD placement, chosen device or -1)`` per candidate."""
        free = state.nodes.gpu_free[candidates]
        cpu = g.cpu_left(state, candidates)
        allowed = self.allowed(state)[:, candidates]
        before = self.fragmentation(free, cpu, allowed)
        cpu_after = cpu - g.cpu_req(pod)
        device = np.full(candidates.size, -1, dtype=np.int64)
        if pod.gpu_count == 0:
            return before, self.fragmentation(free, cpu_after, allowed), device
        if pod.gpu_milli >= g.GPU_MILLI:
            idle = free == g.GPU_MILLI
            take = idle & (np.cumsum(idle, axis=1) <= pod.gpu_count)
            return before, self.fragmentation(free - take * g.GPU_MILLI, cpu_after, allowed), device
        after = np.full(candidates.size, np.inf)
        for d in range(free.shape[1]):
            ok = free[:, d] >= pod.gpu_milli
            if not ok.any():
                continue
            trial = free.copy()
            trial[:, d] -= pod.gpu_milli
            f = np.where(ok, self.fragmentation(trial, cpu_after, allowed), np.inf)
            better = f < after  # strict: lowest index on ties
            after = np.where(better, f, after)
            device = np.where(better, d, device)
        return before, after, device


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class FGD(ScorePlugin):
    """Fragmentation gradient descent (Weng et al., ATC '23): least fragmentation increase wins."""

    name = "FGD"
    Args = FGDArgs
    summary = "FGD of Weng et al. ATC '23: minimise the expected GPU fragmentation increase (targetWorkload)"

    def __init__(self, args: BaseModel | None = None) -> None:
        super().__init__(args)
        self.target = Target(self.args.targetWorkload)  # type: ignore[union-attr]

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        if candidates.size == 0:
            return np.zeros(0, dtype=np.int64)
        before, after, _ = self.target.placement(state, pod, candidates)
        # Candidates passed the filters, so ``after`` is finite; guard anyway.
        delta = np.where(np.isfinite(after), before - after, -np.inf)
        return np.trunc(100 * sigmoid(delta / 1000)).astype(np.int64)

    def reserve(self, state: ClusterState, pod: int, info: PodInfo, node: int) -> None:
        if info.gpu_count != 1 or info.gpu_milli >= g.GPU_MILLI:
            return  # CPU-only: nothing; whole-GPU: GpuFit's lowest-index free devices
        _, _, device = self.target.placement(state, info, np.array([node]))
        if device[0] < 0:
            raise ops.InvariantError(f"FGD reserve: node {state.nodes.names[node]} cannot host pod {pod}")
        ops.assign_gpus(state, pod, 1 << int(device[0]))


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
    return [{"cpuMilli": int(r.cpu_milli), "gpuMilli": int(r.gpu_milli), "gpuCount": int(r.gpu_count),
             "gpuModels": str(r.gpu_model), "popularity": int(r.n) / total}
            for r in kept.itertuples(index=False)]
