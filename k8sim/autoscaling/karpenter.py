"""Karpenter-style provisioning: NodePools over an instance-type catalogue, in simulated time.

Follows kubernetes-sigs/karpenter (v1 API):

- **Batching** (``pkg/controllers/provisioning/batcher.go``): a pod created or found
  unschedulable opens a batch window; it closes after ``batch_idle_s`` (1 s,
  ``--batch-idle-duration``) without a new trigger or ``batch_max_s`` (10 s,
  ``--batch-max-duration``) after it opened. The disruption loop's scan also triggers
  one while unschedulable pods are left.
- **Scheduling a batch** (``provisioning/provisioner.go`` ``Schedule``,
  ``provisioning/scheduling/scheduler.go``): the pending pods the scheduler could not
  place, minus those that fit existing and in-flight nodes (the scheduler's own filters
  on a copy of the cluster, :mod:`k8sim.autoscaling.whatif`), are taken largest first
  (CPU then memory, ``byCPUAndMemoryDescending``); each goes onto the first new
  NodeClaim of this batch it fits, else onto a new NodeClaim of the first NodePool (by
  ``weight``, then order) with an offering it fits. A NodeClaim keeps every offering
  (instance type x capacity type allowed by the NodePool's requirements) on which all
  its pods fit: the pod passes the Filter plugins on an empty node of that offering
  (labels, taints, GPUs, resources) and the pods' requests together fit its
  allocatable; pod-to-pod constraints among its pods (anti-affinity, spread) are
  checked on one representative node. NodePool ``limits`` (cpu, memory) bound the
  capacity of its nodes and in-flight NodeClaims.
- **Launch** (``cloudprovider`` ``Create``): the cheapest remaining offering; spot
  offerings cost the on-demand list price times ``1 - spot_discount`` (k8sim's
  assumption), so a NodePool that allows spot launches spot. Each NodeClaim becomes a
  Ready node after a provisioning latency drawn from ``("karpenter-provision", pool,
  claim number)``. Node labels: the type's well-known labels,
  ``karpenter.sh/capacity-type``, ``karpenter.sh/nodepool`` and ``k8sim.io/pool`` (the
  NodePool), the NodePool's labels; taints: the NodePool's. Spot interruptions are the
  failures section's ``spot`` process selecting ``{labels: {karpenter.sh/capacity-type:
  spot}}``.
- **Disruption** (``pkg/controllers/disruption``), every ``disruption_interval_s``:
  a node is a candidate once ``consolidate_after_s`` has passed since the last pod
  bound to or left it (the ``Consolidatable`` condition) and consolidation is enabled
  (``consolidate_after_s`` not null). **Emptiness** deletes candidates with no pods
  but DaemonSet / mirror pods; then, for ``WhenEmptyOrUnderutilized`` NodePools,
  **single-node consolidation** (``singlenodeconsolidation.go``) takes candidates by
  price per pod, highest first: if the node's pods fit the other nodes it is
  **deleted**; else, if they fit one new NodeClaim whose cheapest offering costs less
  than the node, it is **replaced** (the replacement launched first, the node drained
  once it is Ready). A spot node is never replaced by another (the
  ``SpotToSpotConsolidation`` feature gate is off by default). Every NodePool's
  ``budgets`` cap the nodes disrupted at once (the smallest of its budgets, a
  percentage of its nodes rounded up, ``GetAllowedDisruptions``). Disrupted nodes are
  tainted ``karpenter.sh/disrupted:NoSchedule`` and drained through the Eviction API
  (PDBs honoured, retried every 5 s), then removed. Multi-node consolidation, drift
  and the 15 s validation delay of a consolidation command are not modelled.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.autoscaling.whatif import WhatIf
from k8sim.cluster.nodes import CPU, MEMORY, TaintSpec
from k8sim.cluster.pods import BOUND, OWNER_KINDS, PENDING, RUNNING
from k8sim.cluster.watch import PodAdded, PodBound, PodDeleted, PodTerminated
from k8sim.component import Contribution
from k8sim.config.instance_types import CAPACITY_TYPE_LABEL, INSTANCE_TYPE_LABEL, InstanceType, catalogue
from k8sim.config.resources import base_units
from k8sim.constants import DEFAULT_MAX_PODS, HOSTNAME_LABEL, POOL_LABEL
from k8sim.faults.drain import drain

if TYPE_CHECKING:
    from k8sim.autoscaling.ledger import NodeLedger
    from k8sim.component import Context
    from k8sim.config.autoscaling import Karpenter, KarpenterNodePool
    from k8sim.scheduling.framework import Profile

__all__ = ["KarpenterComponent", "Offering", "Pools", "cheapest"]

NODEPOOL_LABEL = "karpenter.sh/nodepool"
DISRUPTED_TAINT = TaintSpec("karpenter.sh/disrupted", "", "NoSchedule")
_DS = OWNER_KINDS.index("DaemonSet")
_MIRROR = OWNER_KINDS.index("Node")
_NAME = "karpenter"
_EXPENDABLE = -10


@dataclass(frozen=True, eq=False)
class Offering:
    """An instance type in one capacity type, as a NodePool may launch it."""

    type: InstanceType
    capacity_type: str
    price: float
    alloc: np.ndarray  # int64[R]

    @property
    def name(self) -> str:
        return f"{self.type.name}/{self.capacity_type}"


def cheapest(offerings: list[Offering]) -> Offering:
    """The offering Karpenter launches: the lowest price (then the name, for a stable
    choice between equal prices)."""
    return min(offerings, key=lambda o: (o.price, o.type.name, o.capacity_type))


@dataclass
class PoolSpec:
    """A NodePool as the run sees it."""

    spec: KarpenterNodePool
    index: int
    pool: int
    offerings: list[Offering]
    limits: dict[int, int]  # resource row -> limit
    nodes: set[int] = field(default_factory=set)
    inflight: list[tuple[Offering, int]] = field(default_factory=list)  # (offering, claim number)
    next_number: int = 0

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def spec_taints(self) -> list[TaintSpec]:
        return [TaintSpec(t.key, t.value, t.effect) for t in self.spec.taints]


def _user_type(t: Any) -> InstanceType:
    units = base_units(t.allocatable)
    labels = {INSTANCE_TYPE_LABEL: t.name, **t.labels}
    return InstanceType(name=t.name, cpu_milli=int(units.get("cpu", 0)), memory_bytes=int(units.get("memory", 0)),
                        pods=int(units.get("pods", DEFAULT_MAX_PODS)), price_per_hour=float(t.price_per_hour),
                        ephemeral_bytes=int(units.get("ephemeral-storage", 0)),
                        gpu_count=t.gpus.count if t.gpus is not None else 0,
                        gpu_model=t.gpus.model if t.gpus is not None else "", labels=labels)


class Pools:
    """The NodePools of a run with their offerings (built before the components)."""

    def __init__(self, ctx: Context, spec: Karpenter, first_pool: int):
        self.spec = spec
        types: dict[str, InstanceType] = dict(catalogue(spec.catalogue)) if spec.catalogue is not None else {}
        types.update({t.name: _user_type(t) for t in spec.instance_types})
        res = ctx.state.resources
        self.pools: list[PoolSpec] = []
        for i, p in enumerate(spec.node_pools):
            offerings = []
            capacity_set = any(r.key == CAPACITY_TYPE_LABEL for r in p.requirements)
            for t in types.values():
                amounts = {"cpu": t.cpu_milli, "memory": t.memory_bytes, "pods": t.pods}
                if t.ephemeral_bytes and "ephemeral-storage" in res.index:
                    amounts["ephemeral-storage"] = t.ephemeral_bytes
                for ct in ("on-demand", "spot"):
                    if not capacity_set and ct == "spot":
                        continue  # Karpenter defaults a NodePool to on-demand
                    labels = {**t.labels, CAPACITY_TYPE_LABEL: ct}
                    if all(r.matches(labels.get(r.key)) for r in p.requirements):
                        price = t.price_per_hour * ((1 - spec.spot_discount) if ct == "spot" else 1.0)
                        offerings.append(Offering(t, ct, price, res.vector(amounts)))
            limits = {res.index[k]: int(v) for k, v in base_units(p.limits).items() if k in res.index}
            self.pools.append(PoolSpec(p, i, first_pool + i, offerings, limits))
        self.pools_by_priority = sorted(self.pools, key=lambda x: (-x.spec.weight, x.index))


def _key(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode())


@dataclass
class _Claim:
    """A NodeClaim being planned: its pool, pods, summed requests, the offerings that
    still fit, its representative node in the what-if copy."""

    pool: PoolSpec
    pods: list[int]
    requested: np.ndarray
    offerings: list[Offering]
    node: int


class KarpenterComponent:
    """Karpenter-style provisioning and disruption (see the module docstring)."""

    name = _NAME

    def __init__(self, ctx: Context, spec: Karpenter, pools: Pools, profiles: dict[str, Profile], ledger: NodeLedger):
        self.ctx = ctx
        self.api = ctx.api
        self.env = ctx.env
        self.state = ctx.state
        self.spec = spec
        self.pools = pools
        self.by_pool = {p.pool: p for p in pools.pools}
        self.profiles = profiles
        self.ledger = ledger
        self.node_offering: dict[int, Offering] = {}
        self.last_pod_event: dict[int, float] = {}
        self.disrupting: set[int] = set()
        self._window: tuple[float, float] | None = None  # (opened, last trigger)
        self._batch_proc: Any = None
        self._fit_cache: dict[tuple[int, int], np.ndarray] = {}  # (pool, shape) -> bool[offerings]
        self._reported: set[int] = set()
        self._offering_whatifs: dict[int, WhatIf] = {}
        self._no_consolidation: set[int] = set()  # candidates that failed under the key below
        self._no_consolidation_key: tuple[Any, ...] | None = None
        self.decisions: list[tuple[float, str, str, str, int, str]] = []
        self.launched = 0
        self.batches = 0
        bus = ctx.api.bus
        bus.subscribe(PodAdded, self._on_pod_added)
        bus.subscribe(PodBound, lambda e: self._touch(e.node))
        bus.subscribe(PodTerminated, lambda e: self._touch(e.node))
        bus.subscribe(PodDeleted, lambda e: None)

    # -- component -----------------------------------------------------------------------

    def start(self) -> None:
        for p in self.pools.pools:
            self._record(p)
        self.env.process(self._disruption_loop())

    def contribute(self) -> Contribution:
        import pandas as pd

        frame = pd.DataFrame(self.decisions, columns=["time_s", "action", "node_pool", "offering", "nodes", "detail"])
        removed = int(sum(1 for d in self.decisions if d[1] in ("Empty", "Delete", "Replace")))
        return Contribution(frames={"karpenter": frame},
                            summary={"karpenter_nodes_launched": self.launched,
                                     "karpenter_nodes_disrupted": removed, "karpenter_batches": self.batches})

    def _record(self, p: PoolSpec) -> None:
        self.ledger.record_size(_NAME, p.name, len(p.nodes), len(p.inflight))

    def _decide(self, action: str, pool: str, offering: str, nodes: int, detail: str) -> None:
        self.decisions.append((float(self.env.now), action, pool, offering, nodes, detail))
        self.api.record(f"Karpenter{action}", -1, -1, f"{pool}: {detail}")

    def _touch(self, node: int) -> None:
        if node in self.node_offering:
            self.last_pod_event[node] = float(self.env.now)

    # -- batching --------------------------------------------------------------------------

    def _on_pod_added(self, event: PodAdded) -> None:
        if event.node < 0:
            self.trigger()

    def trigger(self) -> None:
        """A provisionable pod appeared: open or extend the batch window."""
        now = float(self.env.now)
        if self._window is None:
            self._window = (now, now)
            self._batch_proc = self.env.process(self._batch())
        else:
            self._window = (self._window[0], now)

    def _batch(self) -> Generator[Any, Any, None]:
        spec = self.spec
        while True:
            assert self._window is not None
            opened, last = self._window
            end = min(last + spec.batch_idle_s, opened + spec.batch_max_s)
            if end <= self.env.now:
                break
            yield self.env.timeout(end - self.env.now)
        self._window = None
        self.batches += 1
        self.provision()

    # -- scheduling a batch -------------------------------------------------------------------

    def _unschedulable(self) -> list[int]:
        pods = self.state.pods
        n = pods.n
        mask = (pods.phase[:n] == PENDING) & (pods.attempts[:n] > 0) & (pods.priority[:n] >= _EXPENDABLE)
        nominated = self.state.nominated
        return [int(p) for p in np.flatnonzero(mask).tolist() if p not in nominated]

    def _inflight_node(self, what: WhatIf, p: PoolSpec, o: Offering, number: int | str) -> int:
        name = f"{p.name}-planned-{number}-{what.state.nodes.n}"
        return what.add_node(name, o.alloc, self._labels(p, o, name), p.spec_taints, _gpus(o))

    def _labels(self, p: PoolSpec, o: Offering, name: str) -> dict[str, str]:
        return {**o.type.labels, **p.spec.labels, CAPACITY_TYPE_LABEL: o.capacity_type, NODEPOOL_LABEL: p.name,
                POOL_LABEL: p.name, HOSTNAME_LABEL: name}

    def _fits_offerings(self, p: PoolSpec, shape: int) -> np.ndarray:
        """``bool[offerings]``: the pod shape passes every filter on an empty node of each
        of the pool's offerings (cached: offerings never change)."""
        key = (p.index, shape)
        got = self._fit_cache.get(key)
        if got is None:
            what = self._offering_what(p)
            got = what.mask(shape)[: len(p.offerings)].copy()
            self._fit_cache[key] = got
        return got

    def _offering_what(self, p: PoolSpec) -> WhatIf:
        cache = self._offering_whatifs
        what = cache.get(p.index)
        if what is None:
            what = WhatIf(self.state, self.profiles, copy_nodes=False)
            for i, o in enumerate(p.offerings):
                name = f"{p.name}-offering-{i}"
                what.add_node(name, o.alloc, self._labels(p, o, name), p.spec_taints, _gpus(o))
            cache[p.index] = what
        return what

    def plan(self, pods_in: list[int], what: WhatIf) -> tuple[list[_Claim], list[int]]:
        """New NodeClaims for ``pods_in`` (already not fitting the nodes in ``what``);
        returns the claims and the pods no NodePool can take."""
        pods = self.state.pods
        order = sorted(pods_in, key=lambda q: (-int(pods.requests[q, CPU]), -int(pods.requests[q, MEMORY]), q))
        claims: list[_Claim] = []
        left: list[int] = []
        used = {p.index: self._pool_usage(p) for p in self.pools.pools}
        for q in order:
            shape = int(pods.shape[q])
            req = pods.requests[q]
            placed = False
            for c in claims:
                fits = self._fits_offerings(c.pool, shape)
                total = c.requested + req
                keep = [o for i, o in enumerate(c.pool.offerings) if o in c.offerings and fits[i]
                        and (total <= o.alloc).all()]
                if not keep or not what.mask(shape)[c.node]:
                    continue
                c.offerings, c.requested = keep, total
                c.pods.append(q)
                what.place(q, c.node)
                placed = True
                break
            if placed:
                continue
            for p in self.pools.pools_by_priority:
                fits = self._fits_offerings(p, shape)
                ok = [o for i, o in enumerate(p.offerings) if fits[i] and (req <= o.alloc).all()
                      and self._within_limits(p, used[p.index], o)]
                if not ok:
                    continue
                rep = max(ok, key=lambda o: (int(o.alloc[CPU]), int(o.alloc[MEMORY])))
                node = self._inflight_node(what, p, rep, "claim")
                # The representative node checks pod-to-pod constraints only.
                c = _Claim(p, [q], req.copy(), ok, node)
                what.place(q, node)
                claims.append(c)
                placed = True
                break
            if not placed:
                left.append(q)
        return claims, left

    def _pool_usage(self, p: PoolSpec) -> np.ndarray:
        nt = self.state.nodes
        total = np.zeros(len(self.state.resources), dtype=np.int64)
        for c in p.nodes:
            total += nt.alloc[:, c]
        for o, _ in p.inflight:
            total += o.alloc
        return total

    def _within_limits(self, p: PoolSpec, used: np.ndarray, o: Offering) -> bool:
        return all(used[r] + o.alloc[r] <= lim for r, lim in p.limits.items())

    def provision(self) -> None:
        """Schedule the batch and launch its NodeClaims."""
        pending = self._unschedulable()
        if not pending:
            return
        pods = self.state.pods
        what = WhatIf(self.state, self.profiles)
        for p in self.pools.pools:
            for o, number in p.inflight:
                self._inflight_node(what, p, o, number)
        left = []
        for q in sorted(pending, key=lambda r: (-int(pods.priority[r]), float(pods.created[r]), r)):
            hit = np.flatnonzero(what.mask(int(pods.shape[q])))
            if hit.size:
                what.place(q, int(hit[0]))
            else:
                left.append(q)
        if not left:
            return
        claims, unplaced = self.plan(left, what)
        for q in unplaced:
            shape = int(pods.shape[q])
            if shape not in self._reported:
                self._reported.add(shape)
                why = (f"pod {pods.names[q]} fits no offering of any NodePool "
                       f"({', '.join(p.name for p in self.pools.pools)}) within its limits")
                self.api.record("KarpenterNoCompatibleInstanceTypes", q, -1, why)
                self.ctx.warnings.append(f"karpenter: {why}")
        used = {p.index: self._pool_usage(p) for p in self.pools.pools}
        for c in claims:
            affordable = [o for o in c.offerings if self._within_limits(c.pool, used[c.pool.index], o)]
            if not affordable:
                continue
            o = cheapest(affordable)
            used[c.pool.index] += o.alloc
            self.launch(c.pool, o, f"{len(c.pods)} pod(s)")

    def launch(self, p: PoolSpec, o: Offering, why: str, then: Any = None) -> None:
        """Create a NodeClaim of offering ``o``; it registers after the drawn latency
        (``then(node)`` is called when it does)."""
        number = p.next_number
        p.next_number += 1
        gen = self.ctx.streams.generator("karpenter-provision", p.index, _key(p.name, number))
        latency = float(self.spec.provisioning_latency.sample(gen, 1)[0])
        p.inflight.append((o, number))
        self._decide("Launch", p.name, o.name, 1, f"{o.type.name} ({o.capacity_type}, {o.price:.4g}/h) for {why}")
        self._record(p)
        self.env.process(self._register(p, o, number, latency, then))

    def _register(self, p: PoolSpec, o: Offering, number: int, latency: float, then: Any) -> Generator[Any, Any, None]:
        launched = float(self.env.now)
        yield self.env.timeout(latency)
        p.inflight.remove((o, number))
        nt = self.state.nodes
        k = number
        name = f"{p.name}-{k}"
        while name in nt.name_index:
            k += 1
            name = f"{p.name}-{k}"
        col = self.api.add_node(name=name, allocatable=o.alloc.copy(), labels=self._labels(p, o, name),
                                taints=list(p.spec_taints), pool=p.pool, gpus=_gpus(o))
        p.nodes.add(col)
        self.node_offering[col] = o
        self.last_pod_event[col] = float(self.env.now)
        self.ledger.add(col, _NAME, p.name, o.capacity_type, o.price, requested_at=launched)
        self.launched += 1
        self._record(p)
        if then is not None:
            then(col)

    # -- disruption ------------------------------------------------------------------------------

    def _disruption_loop(self) -> Generator[Any, Any, None]:
        while True:
            yield self.env.timeout(self.spec.disruption_interval_s)
            if self._window is None and self._unschedulable():
                self.trigger()
            self.disrupt()

    def _budget_left(self, p: PoolSpec) -> int:
        live = [c for c in p.nodes if np.isinf(self.state.nodes.removed_at[c])]
        allowed = min(_scaled(b.nodes, len(live)) for b in p.spec.disruption.budgets)
        return allowed - sum(1 for c in live if c in self.disrupting)

    def _candidates(self) -> list[tuple[PoolSpec, int]]:
        now = float(self.env.now)
        out = []
        for p in self.pools.pools:
            after = p.spec.disruption.consolidate_after_s
            if after is None:
                continue
            for c in sorted(p.nodes):
                if c in self.disrupting or not np.isinf(self.state.nodes.removed_at[c]):
                    continue
                if self.last_pod_event.get(c, 0.0) + after <= now:
                    out.append((p, c))
        return out

    def _pods_on(self, node: int) -> tuple[list[int], bool]:
        """(reschedulable pods, any pod at all) of ``node``: DaemonSet and mirror pods
        do not count; terminating pods are leaving anyway."""
        pods = self.state.pods
        n = pods.n
        rows = np.flatnonzero((pods.node[:n] == node) & ((pods.phase[:n] == BOUND) | (pods.phase[:n] == RUNNING)))
        kinds = pods.owner_kind[rows]
        keep = rows[(kinds != _DS) & (kinds != _MIRROR)]
        term = self.state.terminating
        return [int(q) for q in keep.tolist() if q not in term], bool(rows.size)

    def disrupt(self) -> None:
        """One pass of the disruption controller: emptiness, then single-node
        consolidation (one command)."""
        cands = self._candidates()
        if not cands:
            return
        left = {p.index: self._budget_left(p) for p in self.pools.pools}
        rest = []
        for p, c in cands:
            move, _ = self._pods_on(c)
            if move:
                rest.append((p, c, move))
                continue
            if left[p.index] <= 0:
                continue
            left[p.index] -= 1
            self._disrupt(p, c, "Empty", "empty node")
        under = [(p, c, m) for p, c, m in rest if p.spec.disruption.consolidation_policy == "WhenEmptyOrUnderutilized"
                 and left[p.index] > 0]
        if not under:
            return
        under.sort(key=lambda x: (-self.node_offering[x[1]].price / len(x[2]), x[1]))
        # A candidate that could not be consolidated cannot be until something its
        # simulation reads changes: the cluster (binds, releases, nodes), the nodes
        # being disrupted, the in-flight NodeClaims, the pending and terminating pods.
        key = (self.state.generation, self.state.nodes.version, frozenset(self.disrupting),
               tuple((p.index, n) for p in self.pools.pools for _, n in p.inflight),
               tuple(self._unschedulable()), frozenset(self.state.terminating))
        if key != self._no_consolidation_key:
            self._no_consolidation_key = key
            self._no_consolidation.clear()
        for p, c, move in under:
            if c in self._no_consolidation:
                continue
            if self._consolidate(p, c, move):
                return
            self._no_consolidation.add(c)

    def _consolidate(self, p: PoolSpec, c: int, move: list[int]) -> bool:
        """Single-node consolidation of ``c`` whose reschedulable pods are ``move``, after
        ``SimulateScheduling`` (``pkg/controllers/disruption/helpers.go``): the pods to
        place are the pending pods, the pods of the nodes already being disrupted and
        the candidate's, on the other nodes and the in-flight NodeClaims. The pending and
        the disrupted nodes' pods are placed first (they are waiting for that room
        already); a candidate pod that would land on an in-flight node stops the
        consolidation (upstream's ``UninitializedNodeError``: never decide on a node that
        has not initialised). Simplified: upstream places them all in one ``Solve``."""
        pods = self.state.pods
        what = WhatIf(self.state, self.profiles)
        for q in move:
            what.forget(q, c)
        what.remove_node(c)
        waiting = sorted(self._unschedulable(), key=lambda r: (-int(pods.priority[r]), float(pods.created[r]), r))
        for d in sorted(self.disrupting):
            if not np.isinf(self.state.nodes.removed_at[d]):
                continue
            on_d, _ = self._pods_on(d)
            for q in on_d:
                what.forget(q, d)
            waiting += on_d
            what.remove_node(d)
        inflight = set()
        for pool in self.pools.pools:
            for o, number in pool.inflight:
                inflight.add(self._inflight_node(what, pool, o, number))
        for q in waiting:
            hit = np.flatnonzero(what.mask(int(pods.shape[q])))
            if hit.size:
                what.place(q, int(hit[0]))
        left = []
        for q in move:
            hit = np.flatnonzero(what.mask(int(pods.shape[q])))
            if hit.size:
                if int(hit[0]) in inflight:
                    return False
                what.place(q, int(hit[0]))
            else:
                left.append(q)
        current = self.node_offering[c]
        if not left:
            self._disrupt(p, c, "Delete", f"its {len(move)} pod(s) fit the other nodes")
            return True
        if current.capacity_type == "spot":
            return False
        claims, unplaced = self.plan(left, what)
        if unplaced or len(claims) != 1:
            return False
        new = cheapest(claims[0].offerings)
        if not new.price < current.price:
            return False
        name = self.state.nodes.names[c]
        self.disrupting.add(c)
        self._decide("Replace", p.name, current.name, 1,
                     f"{name} ({current.price:.4g}/h) by {new.type.name} ({new.capacity_type}, {new.price:.4g}/h)")
        self.launch(claims[0].pool, new, f"replacing {name}",
                    then=lambda _col: self.env.process(self._terminate(p, c)))
        return True

    def _disrupt(self, p: PoolSpec, c: int, action: str, why: str) -> None:
        o = self.node_offering[c]
        self.disrupting.add(c)
        self._decide(action, p.name, o.name, 1, f"{self.state.nodes.names[c]}: {why}")
        self.env.process(self._terminate(p, c))

    def _terminate(self, p: PoolSpec, c: int) -> Generator[Any, Any, None]:
        """Taint, drain through the Eviction API (until every pod is evicted), remove."""
        nt = self.state.nodes
        if np.isinf(nt.removed_at[c]):
            self.api.update_node(c, taints=[*nt.node_taints(c), DISRUPTED_TAINT])
            proc = drain(self.api, c, reason="Disrupted")
            if proc is not None:
                yield proc
            pods = self.state.pods
            n = pods.n
            left = np.flatnonzero((pods.node[:n] == c) & ((pods.phase[:n] == BOUND) | (pods.phase[:n] == RUNNING))
                                  & (pods.owner_kind[:n] != _DS))
            if left.size:
                grace = max(self.state.shapes[int(pods.shape[q])].termination_grace_s for q in left.tolist())
                yield self.env.timeout(grace)
            if np.isinf(nt.removed_at[c]):
                self.api.remove_node(c)
        p.nodes.discard(c)
        self.disrupting.discard(c)
        self._record(p)


def _gpus(o: Offering) -> tuple[int, str] | None:
    return (o.type.gpu_count, o.type.gpu_model or "unnamed") if o.type.gpu_count else None


def _scaled(value: str, total: int) -> int:
    """``GetScaledValueFromIntOrPercent`` rounding up (``Budget.GetAllowedDisruptions``)."""
    if value.endswith("%"):
        return math.ceil(int(value[:-1]) * total / 100)
    return int(value)
