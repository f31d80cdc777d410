"""DefaultPreemption (PostFilter): evict lower-priority pods to make room.

Mirrors upstream ``pkg/scheduler/framework/preemption/preemption.go`` and
``plugins/defaultpreemption/default_preemption.go``:

1. Eligibility (``PodEligibleToPreemptOthers``): the pod's preemptionPolicy is not
   ``Never``, and if it already has a nominated node, no lower-priority pod there is
   still terminating (it waits for the earlier preemption to finish).
2. Potential nodes: nodes not rejected by an *unresolvable* filter (NodeUnschedulable,
   NodeName, NodeAffinity, TaintToleration: upstream's UnschedulableAndUnresolvable).
3. ``SelectVictimsOnNode``: remove every lower-priority pod; if the pod then fits, add
   them back one by one from the most important (higher priority, then earlier start)
   and keep each that still leaves room ("reprieve"); the rest are victims.
4. ``dryRunPreemption`` visits potential nodes round-robin from a random offset and
   stops after ``numCandidates = max(N * minCandidateNodesPercentage / 100,
   minCandidateNodesAbsolute)`` (capped at N) candidates.
5. ``pickOneNodeForPreemption``: fewest PDB violations (k8sim has no PDBs), then the
   lowest highest victim priority, the lowest sum of (priority + MaxInt32 + 1), the
   fewest victims, the latest start among the highest-priority victims, the first.

Where k8sim differs: the fit check with victims removed is the resource fit
(NodeResourcesFit arithmetic) and, for GPU pods, the per-device GPU fit (GpuFit: enough
devices of an allowed model with ``free >= milli`` once the victims' shares are given
back to the devices they hold). Nodes rejected by the other pod-dependent filters
(NodePorts, InterPodAffinity, PodTopologySpread) are not preemption candidates, since
re-running those filters per candidate node and victim would cost O(N) each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster.pods import BOUND, RUNNING, PodTable

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.framework import Profile
    from k8sim.scheduling.podinfo import PodInfo

#: Filters whose rejection preemption cannot resolve (upstream UnschedulableAndUnresolvable).
UNRESOLVABLE = frozenset({"NodeUnschedulable", "NodeName", "NodeAffinity", "TaintToleration", "RuntimeClass",
                          "VolumeBinding", "VolumeZone"})
#: Filters whose rejection k8sim's preemption resolves (resource and GPU device fit).
RESOLVED_BY_EVICTION = frozenset({"NodeResourcesFit", "GpuFit"})

MAX_INT32 = 2**31 - 1


@dataclass
class Candidate:
    """A node where evicting ``victims`` would let the preemptor fit (upstream
    ``Candidate``). Made by :meth:`DefaultPreemption.find`; the scheduler nominates the
    preemptor to ``node`` and evicts the victims. ``victims`` are pod rows bound to
    ``node``, all of lower priority than the preemptor and none already terminating,
    most important first (higher priority, then earlier start); the ones that could be
    reprieved have been left out."""

    node: int
    victims: list[int]  # pod rows, most important first


def num_candidates(num_nodes: int, percentage: int = 10, absolute: int = 100) -> int:
    """Upstream ``calculateNumCandidates``."""
    n = num_nodes * percentage // 100
    if n < absolute:
        n = absolute
    return min(n, num_nodes)


class DefaultPreemption:
    """The PostFilter of a profile (upstream ``DefaultPreemption``; see the module
    docstring for the steps and where k8sim differs).

    Owns only its settings (``minCandidateNodesPercentage`` / ``Absolute``) and ``rng``,
    its own seeded stream for the dry run's random start offset. It decides and does
    not act: :meth:`eligible` and :meth:`find` read the cluster tables, the preemptor's
    shape and the set of pods already terminating (the kubelet's), and never write
    them; the scheduler nominates the preemptor (``ops.nominate``) and asks the kubelet
    to evict the victims, which keep their resources for their grace period. The same
    state and stream position give the same candidate.
    """

    name = "DefaultPreemption"

    def __init__(self, rng: np.random.Generator, min_candidate_nodes_percentage: int = 10,
                 min_candidate_nodes_absolute: int = 100):
        self.rng = rng
        self.percentage = min_candidate_nodes_percentage
        self.absolute = min_candidate_nodes_absolute

    def eligible(self, state: ClusterState, pod: int, info: PodInfo, terminating: set[int]) -> bool:
        if info.preemption_policy == "Never":
            return False
        nominated = state.nominated.get(pod)
        if nominated is not None:
            pods = state.pods
            for victim in terminating:
                if pods.node[victim] == nominated and pods.priority[victim] < info.priority:
                    return False
        return True

    def find(self, state: ClusterState, profile: Profile, pod: int, info: PodInfo,
             terminating: set[int]) -> Candidate | None:
        """The node and victims upstream would choose, or None."""
        nodes, pods = state.nodes, state.pods
        n = nodes.n
        potential = np.ones(n, dtype=bool)
        for f in profile.filters:
            if f.name in RESOLVED_BY_EVICTION or not f.pre_filter(state, info):
                continue
            potential &= f.filter(state, info)
        if not potential.any():
            return None
        # Lower-priority pods that are bound and not already terminating.
        live = np.flatnonzero(((pods.phase[: pods.n] == BOUND) | (pods.phase[: pods.n] == RUNNING))
                              & (pods.priority[: pods.n] < info.priority))
        if terminating:
            live = live[~np.isin(live, np.fromiter(terminating, dtype=np.int64))]
        if live.size == 0:
            return None
        freeable = np.zeros_like(nodes.free)
        np.add.at(freeable.T, pods.node[live], pods.requests[live])
        rows = info.requested_rows
        fits_after = potential & (nodes.free[rows] + freeable[rows] >= info.req_col).all(axis=0)
        if info.gpu_count:
            fits_after &= _gpu_fits(nodes.gpu_free + _gpu_freeable(state, live), info) & _gpu_model_ok(state, info)
        order = np.flatnonzero(fits_after)
        if order.size == 0:
            return None
        # Round-robin from a random offset over all nodes, as upstream's dry run.
        offset = int(self.rng.integers(n))
        j = int(np.searchsorted(order, offset))
        order = np.concatenate((order[j:], order[:j]))[: num_candidates(n, self.percentage, self.absolute)]
        by_node: dict[int, list[int]] = {}
        for p in live[np.isin(pods.node[live], order)].tolist():
            by_node.setdefault(int(pods.node[p]), []).append(p)
        candidates = [self._select_victims(state, info, int(node), by_node.get(int(node), [])) for node in order]
        return pick_one(state, [c for c in candidates if c.victims])

    def _select_victims(self, state: ClusterState, info: PodInfo, node: int, lower: list[int]) -> Candidate:
        pods = state.pods
        rows = info.requested_rows
        need = info.requests[rows]
        free = state.nodes.free[rows, node] + pods.requests[lower][:, rows].sum(axis=0)
        devices = None
        if info.gpu_count:
            devices = state.nodes.gpu_free[node].copy()
            for p in lower:
                devices += _held(pods, p, devices.size)
        # MoreImportantPod: higher priority first, then earlier start.
        lower.sort(key=lambda p: (-int(pods.priority[p]), _start(pods, p), p))
        victims = []
        for p in lower:
            after = free - pods.requests[p, rows]
            ok = bool((after >= need).all())
            if ok and devices is not None:
                dev_after = devices - _held(pods, p, devices.size)
                ok = int((dev_after >= info.gpu_milli).sum()) >= info.gpu_count
            if ok:
                free = after  # reprieved: it stays
                if devices is not None:
                    devices = dev_after
            else:
                victims.append(p)
        return Candidate(node, victims)


def _held(pods: PodTable, p: int, g: int) -> np.ndarray:
    """``int64[g]``: milli-GPU pod ``p`` holds on each device of its node."""
    mask = int(pods.gpu_devices[p])
    bits = (mask >> np.arange(g)) & 1
    return bits * int(pods.gpu_milli[p])


def _gpu_freeable(state: ClusterState, live: np.ndarray) -> np.ndarray:
    """``int64[N, G]``: milli-GPU the ``live`` pods hold on each node's devices."""
    pods, nodes = state.pods, state.nodes
    out = np.zeros_like(nodes.gpu_free)
    gp = live[pods.gpu_count[live] > 0]
    if gp.size == 0:
        return out
    masks = pods.gpu_devices[gp]
    for d in range(out.shape[1]):
        has = ((masks >> d) & 1).astype(bool)
        np.add.at(out[:, d], pods.node[gp[has]], pods.gpu_milli[gp[has]])
    return out


def _gpu_fits(gpu_free: np.ndarray, info: PodInfo) -> np.ndarray:
    """``bool[N]``: enough devices with ``free >= milli`` for the pod."""
    return (gpu_free >= info.gpu_milli).sum(axis=1) >= info.gpu_count


def _gpu_model_ok(state: ClusterState, info: PodInfo) -> np.ndarray:
    nodes = state.nodes
    if info.gpu_models is None:
        return nodes.gpu_count > 0
    return np.isin(nodes.gpu_model, list(info.gpu_models))


def _start(pods: PodTable, p: int) -> float:
    t = pods.running[p]
    return float(t) if t == t else float(pods.scheduled[p])


def pick_one(state: ClusterState, candidates: list[Candidate]) -> Candidate | None:
    """Upstream ``pickOneNodeForPreemption`` (without PDBs)."""
    if not candidates:
        return None
    pods = state.pods

    def highest(c: Candidate) -> int:
        return max(int(pods.priority[v]) for v in c.victims)

    def keep(cs: list[Candidate], key, best=min) -> list[Candidate]:  # noqa: ANN001
        vals = [key(c) for c in cs]
        b = best(vals)
        return [c for c, v in zip(cs, vals, strict=True) if v == b]

    cs = keep(candidates, highest)
    cs = keep(cs, lambda c: sum(int(pods.priority[v]) + MAX_INT32 + 1 for v in c.victims))
    cs = keep(cs, lambda c: len(c.victims))

    def earliest_start_of_highest(c: Candidate) -> float:
        h = highest(c)
        return min(_start(pods, v) for v in c.victims if int(pods.priority[v]) == h)

    cs = keep(cs, earliest_start_of_highest, best=max)
    return cs[0]
