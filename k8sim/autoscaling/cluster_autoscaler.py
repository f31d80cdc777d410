"""The Cluster Autoscaler component: node groups grown and shrunk in simulated time.

One SimPy process runs ``RunOnce`` of kubernetes/autoscaler
``cluster-autoscaler/core/static_autoscaler.go`` every ``scan_interval_s`` (10 s), from
t = 0:

1. **Registration.** Nodes requested by earlier scale-ups join the cluster (Ready,
   through the Cluster API) after a provisioning latency drawn per node from the stream
   ``("ca-provision", group, node number)``; a node whose latency exceeds
   ``max_node_provision_time_s`` never registers: at that deadline the group's target
   size drops by one and the group is backed off (``clusterstate``'s
   ``handleInstanceCreationErrors`` / ``updateScaleRequests``, the
   ``exponential_backoff.go`` durations of :class:`~k8sim.autoscaling.ca_rules.NodeGroupBackoff`).
2. **Unschedulable pods.** Pending pods the scheduler has tried and failed to place
   (upstream's PodScheduled=False/Unschedulable condition), minus preemptors waiting
   for their nominated node and pods below the expendable priority cutoff (-10,
   ``filterOutExpendable``), minus those that fit the existing and upcoming nodes
   (``core/podlistprocessor/filter_out_schedulable.go``: each pod, in priority order, on
   the first node that passes the scheduler's filters, booked there for the next).
3. **Scale-up** (``core/scaleup/orchestrator/orchestrator.go``, through the pure
   :func:`~k8sim.autoscaling.scale_up.plan_scale_up`): pods grouped by shape
   (equivalence groups), binpacked on each group's template node with the scenario's
   own Filter plugins (:mod:`k8sim.autoscaling.whatif`; the template is the group's
   node with the requests of the DaemonSet pods that would run on it taken off, as
   upstream's ``TemplateNodeInfo`` with DaemonSet pods), the expander chain picks the
   group. Pods that fit no group's template are reported once per pod shape (log row
   ``NotTriggerScaleUp`` and a run warning) and not estimated again: a template never
   changes during a run. A loop that scales up does not scale down (RunOnce returns).
4. **Scale-down** (``core/scaledown/planner/planner.go``, ``eligibility``,
   ``unneeded``, ``actuation/actuator.go``), unless in cool-down after an add, a delete
   or a failure (:func:`~k8sim.autoscaling.ca_rules.scale_down_in_cooldown`): nodes of
   the groups below the utilisation threshold (``simulator/utilization``; DaemonSet and
   mirror pods counted unless ignored) whose pods pass the drain rules
   (:mod:`~k8sim.autoscaling.ca_drain`, PodDisruptionBudgets with their remaining
   disruptions, tracked over the loop as ``RemainingPdbTracker``) and fit the other
   nodes (``RemovalSimulator.SimulateNodeRemoval`` with the scheduler's filters) are
   *unneeded*; those unneeded for longer than ``scale_down_unneeded_time_s``
   (``since + unneeded_time < now``) and whose group stays above its minimum are
   removed: empty nodes (only DaemonSet / mirror pods) at once, up to 10 per loop
   (``--max-scale-down-parallelism``), a non-empty node one at a time
   (``--max-drain-parallelism`` 1) by a drain through the Eviction API
   (:func:`k8sim.faults.drain.drain`, PDBs honoured, refused evictions retried every
   5 s for up to ``MaxPodEvictionTime`` 2 min); a drain that times out is a scale-down
   failure (node uncordoned, ``scale_down_delay_after_failure_s``). At most 30
   non-empty nodes not already unneeded are simulated per loop
   (``--scale-down-non-empty-candidates-count``).

What is simplified, and why: node registration is also Readiness (k8sim has no
NotReady-at-boot phase); a scale-up decision's nodes are requested at once (no
``--max-nodes-per-scaleup`` batching beyond the group limits); similar node groups are
not balanced (``--balance-similar-node-groups`` is off by default); nodes that are
unready for ``scale_down_unready_time_s`` are treated like unneeded ready nodes only if
below the threshold.
"""

from __future__ import annotations

import zlib
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.autoscaling import ca_rules
from k8sim.autoscaling.binpacking import EstimatedNode
from k8sim.autoscaling.ca_drain import DrainPod, pods_to_move
from k8sim.autoscaling.scale_up import GroupState, plan_scale_up
from k8sim.autoscaling.whatif import WhatIf
from k8sim.cluster.nodes import CPU, MEMORY, TaintSpec
from k8sim.cluster.pods import BOUND, OWNER_KINDS, PENDING, RUNNING
from k8sim.component import Contribution
from k8sim.config.instance_types import CAPACITY_TYPE_LABEL, catalogue
from k8sim.config.resources import base_units
from k8sim.constants import DEFAULT_MAX_PODS, HOSTNAME_LABEL, POOL_LABEL, ZONE_LABEL
from k8sim.faults.drain import drain

if TYPE_CHECKING:
    from k8sim.autoscaling.ledger import NodeLedger
    from k8sim.cluster.ops import ClusterState
    from k8sim.component import Context
    from k8sim.config.autoscaling import ClusterAutoscaler, NodeGroup
    from k8sim.scheduling.framework import Profile

__all__ = ["ClusterAutoscalerComponent", "GroupSpec", "group_specs"]

#: ``filterOutExpendable``: pods below this priority never trigger a scale-up
#: (``--expendable-pods-priority-cutoff``).
EXPENDABLE_PRIORITY_CUTOFF = -10
#: ``--max-scale-down-parallelism`` (empty nodes deleted per loop).
MAX_SCALE_DOWN_PARALLELISM = 10
#: ``--scale-down-non-empty-candidates-count``.
NON_EMPTY_CANDIDATES = 30
#: ``MaxPodEvictionTime`` of the actuator's drain.
MAX_POD_EVICTION_TIME_S = 120.0
#: The taint the actuator puts on a node it deletes (``taints.ToBeDeletedTaint``).
TO_BE_DELETED_TAINT = TaintSpec("ToBeDeletedByClusterAutoscaler", "", "NoSchedule")
_DS = OWNER_KINDS.index("DaemonSet")
_MIRROR = OWNER_KINDS.index("Node")
_NAME = "cluster-autoscaler"


@dataclass
class GroupSpec:
    """A node group as the run sees it: pool code, template node, price."""

    name: str
    index: int
    pool: int
    min_size: int
    max_size: int
    initial: int
    allocatable: np.ndarray  # int64[R]
    labels: dict[str, str]
    taints: list[TaintSpec]
    gpus: tuple[int, str] | None
    price: float
    capacity_type: str
    nodes: set[int] = field(default_factory=set)
    upcoming: int = 0
    next_number: int = 0


def group_specs(spec: ClusterAutoscaler, state: ClusterState, first_pool: int) -> list[GroupSpec]:
    """The node groups of ``spec`` with pool codes from ``first_pool`` on."""
    known = catalogue(spec.catalogue)
    out = []
    for i, g in enumerate(spec.node_groups):
        out.append(_group(i, g, state, first_pool + i, known, spec.spot_discount))
    return out


def _group(i: int, g: NodeGroup, state: ClusterState, pool: int, known: dict, spot_discount: float) -> GroupSpec:
    t = g.template
    labels: dict[str, str] = {}
    amounts: dict[str, int] = {}
    price = g.price_per_hour
    gpus = (t.gpus.count, t.gpus.model) if t.gpus is not None else None
    if g.instance_type is not None:
        it = known[g.instance_type]
        labels.update(it.labels)
        amounts = {"cpu": it.cpu_milli, "memory": it.memory_bytes, "pods": it.pods}
        if it.ephemeral_bytes:
            amounts["ephemeral-storage"] = it.ephemeral_bytes
        if "price_per_hour" not in g.model_fields_set:
            price = it.price_per_hour * ((1 - spot_discount) if g.capacity_type == "spot" else 1.0)
        if gpus is None and it.gpu_count:
            gpus = (it.gpu_count, it.gpu_model)
    if t.allocatable:
        amounts = dict(base_units(t.allocatable))
    amounts.setdefault("pods", DEFAULT_MAX_PODS)
    labels.update(t.labels)
    labels[POOL_LABEL] = g.name
    labels[CAPACITY_TYPE_LABEL] = g.capacity_type
    if t.zone is not None:
        labels[ZONE_LABEL] = t.zone
    initial = g.initial_size if g.initial_size is not None else g.min_size
    return GroupSpec(g.name, i, pool, g.min_size, g.max_size, initial, state.resources.vector(amounts), labels,
                     [TaintSpec(x.key, x.value, x.effect) for x in t.taints], gpus, float(price), g.capacity_type,
                     next_number=initial)


def add_group_nodes(ctx: Context, group: GroupSpec, count: int, ledger: NodeLedger | None,
                    autoscaler: str = _NAME, requested_at: float | None = None) -> list[int]:
    """``count`` nodes of ``group`` join now (named ``<group>-<number>``), requested at
    ``requested_at`` (default: now)."""
    names: list[str] = []
    nt = ctx.state.nodes
    while len(names) < count:
        name = f"{group.name}-{group.next_number}"
        group.next_number += 1
        if name not in nt.name_index:
            names.append(name)
    labels = [{**group.labels, HOSTNAME_LABEL: n} for n in names]
    cols = ctx.api.add_nodes(names=names, allocatable=group.allocatable.copy(), labels=labels,
                             taints=list(group.taints), pool=group.pool, gpus=group.gpus)
    group.nodes.update(cols)
    if ledger is not None:
        for c in cols:
            ledger.add(c, autoscaler, group.name, group.capacity_type, group.price, requested_at)
    return cols


def _key(*parts: object) -> int:
    return zlib.crc32(":".join(map(str, parts)).encode())


class ClusterAutoscalerComponent:
    """The Cluster Autoscaler of a run (see the module docstring)."""

    name = _NAME

    def __init__(self, ctx: Context, spec: ClusterAutoscaler, groups: list[GroupSpec],
                 profiles: dict[str, Profile], ledger: NodeLedger):
        self.ctx = ctx
        self.api = ctx.api
        self.env = ctx.env
        self.state = ctx.state
        self.spec = spec
        self.groups = groups
        self.by_pool = {g.pool: g for g in groups}
        self.profiles = profiles
        self.ledger = ledger
        self.rng = ctx.streams.generator("ca-expander")
        self.backoff = ca_rules.NodeGroupBackoff(spec.initial_node_group_backoff_s, spec.max_node_group_backoff_s,
                                                 spec.node_group_backoff_reset_timeout_s)
        self.unneeded = ca_rules.UnneededNodes()
        self.last_scale_up: float | None = None
        self.last_delete: float | None = None
        self.last_failure: float | None = None
        self.deleting: set[int] = set()
        self.draining: int | None = None
        self._reported: set[int] = set()  # shapes reported as fitting no group
        self._fits_fresh: dict[tuple[int, int], bool] = {}  # (group, shape) -> fits an empty template
        self.scale_ups = 0
        self.nodes_added = 0
        self.nodes_removed = 0
        self.failed_provisions = 0
        self.loops = 0
        self.decisions: list[tuple[float, str, str, int, str]] = []
        self._pdb = ctx.components.get("disruption-controller")
        self._scan_key: tuple[Any, ...] | None = None
        self._scan_result: tuple[list[int], set[int]] = ([], set())

    # -- component -----------------------------------------------------------------------

    def start(self) -> None:
        for g in self.groups:
            self._record_size(g)
        self.env.process(self._loop())

    def contribute(self) -> Contribution:
        import pandas as pd

        frame = pd.DataFrame(self.decisions, columns=["time_s", "action", "group", "nodes", "detail"])
        return Contribution(
            frames={"cluster_autoscaler": frame},
            summary={"ca_scale_ups": self.scale_ups, "ca_nodes_added": self.nodes_added,
                     "ca_nodes_removed": self.nodes_removed, "ca_failed_provisions": self.failed_provisions},
        )

    # -- the loop ------------------------------------------------------------------------

    def _loop(self) -> Generator[Any, Any, None]:
        while True:
            self.run_once()
            yield self.env.timeout(self.spec.scan_interval_s)

    def run_once(self) -> None:
        """One ``RunOnce``: scale up for unschedulable pods, else scale down."""
        self.loops += 1
        now = float(self.env.now)
        self.backoff.remove_stale(now)
        pending = self._unschedulable()
        if pending and self._scale_up(pending, now):
            return
        if self.spec.scale_down_enabled:
            self._scale_down(now)

    def _record_size(self, g: GroupSpec) -> None:
        self.ledger.record_size(_NAME, g.name, len(g.nodes), g.upcoming)

    def _decide(self, action: str, group: str, nodes: int, detail: str) -> None:
        self.decisions.append((float(self.env.now), action, group, nodes, detail))
        self.api.record(action, -1, -1, f"{group}: {detail}" if group else detail)

    # -- unschedulable pods ----------------------------------------------------------------

    def _unschedulable(self) -> list[int]:
        """Pending pods with a failed attempt, not nominated, not expendable, that do
        not fit the existing and upcoming nodes (``filterOutSchedulable``)."""
        pods = self.state.pods
        n = pods.n
        mask = (pods.phase[:n] == PENDING) & (pods.attempts[:n] > 0)
        mask &= pods.priority[:n] >= EXPENDABLE_PRIORITY_CUTOFF
        found = np.flatnonzero(mask)
        if found.size == 0:
            return []
        nominated = self.state.nominated
        if nominated:
            found = found[~np.isin(found, np.fromiter(nominated, dtype=np.int64, count=len(nominated)))]
        if found.size == 0:
            return []
        # Priority order (higher first, then older, then row), as the scheduler's queue.
        found = found[np.lexsort((found, pods.created[found], -pods.priority[found].astype(np.int64)))]
        rows = found.tolist()
        what = WhatIf(self.state, self.profiles)
        for g in self.groups:
            for _ in range(g.upcoming):
                self._template_node(what, g)
        # Runs of pods of one shape are placed together (the same placements, pod by pod).
        shapes = pods.shape[found]
        cuts = (np.flatnonzero(shapes[1:] != shapes[:-1]) + 1).tolist()
        left: list[int] = []
        for a, b in zip([0, *cuts], [*cuts, len(rows)], strict=True):
            left += what.place_first_fit(rows[a:b])
        return left

    # -- templates ---------------------------------------------------------------------------

    def _daemonset_requests(self, g: GroupSpec) -> np.ndarray:
        """Requests of the DaemonSet pods that would run on a node of ``g``: the
        DaemonSets with a pod on one of the group's nodes (upstream builds the template
        from a real node of the group when it has one) or, for an empty group, every
        DaemonSet whose pods run on all nodes the same way, approximated by the
        DaemonSets present on some node with the group's pool label."""
        pods = self.state.pods
        n = pods.n
        out = np.zeros(len(self.state.resources), dtype=np.int64)
        ds = np.flatnonzero((pods.owner_kind[:n] == _DS) & ((pods.phase[:n] == BOUND) | (pods.phase[:n] == RUNNING)))
        if ds.size == 0:
            return out
        members = [p for p in ds.tolist() if int(pods.node[p]) in g.nodes]
        if not members:
            return out
        node = int(pods.node[members[0]])
        for p in members:
            if int(pods.node[p]) == node:
                out += pods.requests[p]
        return out

    def _template_alloc(self, g: GroupSpec) -> np.ndarray:
        return np.maximum(g.allocatable - self._daemonset_requests(g), 0)

    def _template_node(self, what: WhatIf, g: GroupSpec, alloc: np.ndarray | None = None) -> int:
        name = f"template-{g.name}-{what.state.nodes.n}"
        return what.add_node(name, self._template_alloc(g) if alloc is None else alloc,
                             {**g.labels, HOSTNAME_LABEL: name}, g.taints, g.gpus)

    # -- scale-up ------------------------------------------------------------------------------

    def _scale_up(self, pending: list[int], now: float) -> bool:
        pods = self.state.pods
        by_shape: dict[int, list[int]] = {}
        for p in pending:
            by_shape.setdefault(int(pods.shape[p]), []).append(p)
        pod_groups = [v for s, v in by_shape.items() if s not in self._reported or self._fits_any(s)]
        if not pod_groups:
            return False
        current = sum(len(g.nodes) + g.upcoming for g in self.groups)
        current += int(np.isinf(self.state.nodes.removed_at).sum()) - sum(len(g.nodes) for g in self.groups)
        states, fits_for = self._group_states(now)
        plan = plan_scale_up(pod_groups, states, requests_of=lambda p: pods.requests[p], expanders=self.spec.expander,
                             rng=self.rng, current_node_count=current, max_nodes_total=self.spec.max_nodes_total,
                             fits_for=fits_for, priorities=self.spec.priorities)
        for pg in plan.unschedulable:
            shape = int(pods.shape[pg[0]])
            if shape in self._reported:
                continue
            self._reported.add(shape)
            names = ", ".join(g.name for g in self.groups)
            why = (f"pod {pods.names[pg[0]]} (and {len(pg) - 1} more of its shape) fits no node group's template "
                   f"({names}); no scale-up will be tried for them")
            self.api.record("NotTriggerScaleUp", pg[0], -1, why)
            self.ctx.warnings.append(f"cluster_autoscaler: {why}")
        if plan.group is None or plan.new_nodes <= 0:
            return False
        g = next(x for x in self.groups if x.name == plan.group)
        self._request_nodes(g, plan.new_nodes, now)
        self.last_scale_up = now
        self.scale_ups += 1
        self._decide("ScaledUpGroup", g.name, plan.new_nodes,
                     f"{plan.new_nodes} node(s) for {len(plan.pods)} pod(s) (options: "
                     f"{', '.join(f'{o.group_id}={o.node_count}' for o in plan.options)})")
        return True

    def _fits_any(self, shape: int) -> bool:
        return any(self._fits_fresh.get((g.index, shape), False) for g in self.groups)

    def _group_states(self, now: float) -> tuple[list[GroupState], Any]:
        states = []
        whatifs: dict[str, tuple[WhatIf, GroupSpec, np.ndarray]] = {}
        for g in self.groups:
            alloc = self._template_alloc(g)
            states.append(GroupState(g.name, len(g.nodes) + g.upcoming, g.max_size, tuple(alloc.tolist()),
                                     g.price, True, g.gpus is not None, self.backoff.is_backed_off(g.name, now)))
            whatifs[g.name] = (WhatIf(self.state, self.profiles, copy_nodes=False), g, alloc)

        def fits_for(gs: GroupState) -> Any:
            what, g, alloc = whatifs[gs.name]
            fresh = self._template_node(what, g, alloc)
            cols: dict[int, tuple[int, int]] = {}  # id(EstimatedNode) -> (column, pods booked)

            def fits(pod: int, node: EstimatedNode) -> bool:
                shape = int(self.state.pods.shape[pod])
                if not node.pods:
                    key = (g.index, shape)
                    hit = self._fits_fresh.get(key)
                    if hit is None:
                        hit = self._fits_fresh[key] = what.fits(shape, fresh)
                    return hit
                col, booked = cols.get(id(node), (-1, 0))
                if col < 0:
                    col = self._template_node(what, g, alloc)
                for p in node.pods[booked:]:
                    what.place(p, col)
                cols[id(node)] = (col, len(node.pods))
                return what.fits(shape, col)
            return fits
        return states, fits_for

    def _request_nodes(self, g: GroupSpec, count: int, now: float) -> None:
        dist = self.spec.provisioning_latency
        for _ in range(count):
            seq = g.next_number + g.upcoming
            gen = self.ctx.streams.generator("ca-provision", g.index, _key(g.name, seq))
            latency = float(dist.sample(gen, 1)[0])
            g.upcoming += 1
            self.env.process(self._provision(g, latency))
        self._record_size(g)

    def _provision(self, g: GroupSpec, latency: float) -> Generator[Any, Any, None]:
        asked = float(self.env.now)
        limit = self.spec.max_node_provision_time_s
        if latency > limit:
            yield self.env.timeout(limit)
            g.upcoming -= 1
            self.failed_provisions += 1
            until = self.backoff.backoff(g.name, float(self.env.now))
            self._decide("FailedToScaleUpGroup", g.name, 1,
                         f"a node did not register within max_node_provision_time_s {limit:g}; "
                         f"group backed off until {until:g}s")
            self._record_size(g)
            return
        yield self.env.timeout(latency)
        g.upcoming -= 1
        add_group_nodes(self.ctx, g, 1, self.ledger, requested_at=asked)
        self.nodes_added += 1
        self._record_size(g)

    # -- scale-down ------------------------------------------------------------------------------

    def _scale_down(self, now: float) -> None:
        state = self.state
        nt = state.nodes
        live = np.isinf(nt.removed_at)
        group_cols = np.array(sorted(c for g in self.groups for c in g.nodes
                                     if live[c] and c not in self.deleting), dtype=np.int64)
        if group_cols.size == 0:
            self.unneeded.update([], now)
            return
        key = (state.generation, nt.version, frozenset(self.deleting))
        if key == self._scan_key:
            # Nothing changed since the last scan: the same nodes are unneeded.
            unneeded, empty = self._scan_result
        else:
            unneeded, empty = self._find_unneeded(group_cols, now)
            self._scan_key, self._scan_result = key, (unneeded, empty)
        self._act(unneeded, empty, now)

    def _find_unneeded(self, group_cols: np.ndarray, now: float) -> tuple[list[int], set[int]]:
        state = self.state
        nt = state.nodes
        pods = state.pods
        spec = self.spec
        n = pods.n
        util = self._utilization(group_cols, now)
        below = [c for c, u in zip(group_cols.tolist(), util, strict=True)
                 if ca_rules.unremovable_reason(u[0], has_gpu=u[1], ready=bool(nt.ready[c]),
                                                scale_down_unready_enabled=spec.scale_down_unready_enabled,
                                                threshold=spec.scale_down_utilization_threshold,
                                                gpu_threshold=spec.scale_down_gpu_utilization_threshold) is None]
        if not below:
            return [], set()
        bound = np.flatnonzero(((pods.phase[:n] == BOUND) | (pods.phase[:n] == RUNNING))
                               & np.isin(pods.node[:n], below))
        on_node: dict[int, list[int]] = {}
        for p in bound.tolist():
            on_node.setdefault(int(pods.node[p]), []).append(p)
        # Previously unneeded nodes first, then the others (bounded count of non-empty).
        below.sort(key=lambda c: (nt.names[c] not in self.unneeded, c))
        what: WhatIf | None = None
        excluded = np.zeros(nt.n, dtype=bool)
        excluded[list(self.deleting)] = True
        pdb_left: dict[int, int] = {}
        unneeded: list[int] = []
        empty: set[int] = set()
        fresh_non_empty = 0
        for c in below:
            move, blocked = self._pods_to_move(on_node.get(c, []), pdb_left, now)
            if blocked:
                continue
            if move:
                if nt.names[c] not in self.unneeded:
                    if fresh_non_empty >= NON_EMPTY_CANDIDATES:
                        continue
                    fresh_non_empty += 1
                if what is None:
                    what = WhatIf(state, self.profiles)
                if not self._fits_elsewhere(what, c, move, excluded):
                    continue
                for p in move:
                    k = self._pdb_key(p)
                    if k is not None:
                        pdb_left[k] = pdb_left.get(k, self._pdb_allowed(p)) - 1
            else:
                empty.add(c)
            excluded[c] = True
            unneeded.append(c)
        return unneeded, empty

    def _act(self, unneeded: list[int], empty: set[int], now: float) -> None:
        nt = self.state.nodes
        spec = self.spec
        self.unneeded.update([nt.names[c] for c in unneeded], now)
        if ca_rules.scale_down_in_cooldown(
                now, last_scale_up=self.last_scale_up, last_scale_down_delete=self.last_delete,
                last_scale_down_failure=self.last_failure, delay_after_add_s=spec.scale_down_delay_after_add_s,
                delay_after_delete_s=(spec.scan_interval_s if spec.scale_down_delay_after_delete_s is None
                                      else spec.scale_down_delay_after_delete_s),
                delay_after_failure_s=spec.scale_down_delay_after_failure_s):
            return
        removable = [c for c in unneeded
                     if self.unneeded.removable(nt.names[c], now, ready=bool(nt.ready[c]),
                                                unneeded_time_s=spec.scale_down_unneeded_time_s,
                                                unready_time_s=spec.scale_down_unready_time_s)]
        deleting_in = {g.name: sum(1 for c in self.deleting if c in g.nodes) for g in self.groups}
        deleted_empty = 0
        for c in removable:
            g = self.by_pool[int(nt.pool[c])]
            if ca_rules.min_size_reached(len(g.nodes), deleting_in[g.name], g.min_size):
                continue
            if c in empty:
                if deleted_empty >= MAX_SCALE_DOWN_PARALLELISM:
                    continue
                deleted_empty += 1
                self._delete_empty(g, c, now)  # leaves g.nodes at once
            elif self.draining is None:
                deleting_in[g.name] += 1
                self.draining = c
                self.deleting.add(c)
                self.env.process(self._drain_and_delete(g, c))

    def _utilization(self, cols: np.ndarray, now: float) -> list[tuple[ca_rules.UtilizationInfo, bool]]:
        """``utilization.Calculate`` for each node: vectorised over the node table's
        requests when every pod counts (the default flags; long-terminating pods are
        not left out: a deleted pod leaves its node after its grace period here), else
        :func:`~k8sim.autoscaling.ca_rules.calculate_utilization` per node."""
        nt = self.state.nodes
        pods = self.state.pods
        spec = self.spec
        gpu = nt.gpu_count[cols]
        if not (spec.ignore_daemonsets_utilization or spec.ignore_mirror_pods_utilization):
            cpu = nt.requested[CPU, cols] / nt.alloc[CPU, cols]
            mem = nt.requested[MEMORY, cols] / nt.alloc[MEMORY, cols]
            used_gpu = (nt.gpu_free[cols] == 0).sum(axis=1) if nt.gpu_free.shape[1] else np.zeros(cols.size)
            out = []
            for i in range(cols.size):
                if gpu[i] > 0:
                    g = float(used_gpu[i] / gpu[i])
                    out.append((ca_rules.UtilizationInfo(0.0, 0.0, g, "gpu", g), True))
                elif cpu[i] > mem[i]:
                    out.append((ca_rules.UtilizationInfo(float(cpu[i]), float(mem[i]), 0.0, "cpu", float(cpu[i])),
                                False))
                else:
                    out.append((ca_rules.UtilizationInfo(float(cpu[i]), float(mem[i]), 0.0, "memory",
                                                         float(mem[i])), False))
            return out
        n = pods.n
        bound = np.flatnonzero(((pods.phase[:n] == BOUND) | (pods.phase[:n] == RUNNING)) & np.isin(pods.node[:n], cols))
        on_node: dict[int, list[int]] = {}
        for p in bound.tolist():
            on_node.setdefault(int(pods.node[p]), []).append(p)
        res = []
        for c in cols.tolist():
            reqs = [ca_rules.PodRequests(int(pods.requests[p, CPU]), int(pods.requests[p, MEMORY]),
                                         int(pods.gpu_count[p]), daemonset=pods.owner_kind[p] == _DS,
                                         mirror=pods.owner_kind[p] == _MIRROR) for p in on_node.get(c, [])]
            g = int(nt.gpu_count[c])
            info = ca_rules.calculate_utilization(
                ca_rules.NodeResources(int(nt.alloc[CPU, c]), int(nt.alloc[MEMORY, c]), g), reqs,
                skip_daemonset_pods=spec.ignore_daemonsets_utilization,
                skip_mirror_pods=spec.ignore_mirror_pods_utilization, now=now)
            res.append((info, g > 0))
        return res

    def _pdb_key(self, pod: int) -> int | None:
        if self._pdb is None or not self._pdb.pdbs:
            return None
        shape = int(self.state.pods.shape[pod])
        mine = [i for i, b in enumerate(self._pdb.pdbs) if self._pdb._selects_shape(b, shape)]
        return mine[0] if len(mine) == 1 else (-1 if mine else None)

    def _pdb_allowed(self, pod: int) -> int:
        k = self._pdb_key(pod)
        if k is None:
            return 1 << 30
        if k < 0:
            return 0  # several budgets select the pod: the eviction API refuses it
        assert self._pdb is not None
        return int(self._pdb.status(self._pdb.pdbs[k])[3])

    def _pods_to_move(self, on_node: Sequence[int], pdb_left: dict[int, int], now: float) -> tuple[list[int], bool]:
        """(pods to reschedule, blocked): the drain rules with PDBs as they stand after
        the earlier removals of this loop."""
        pods = self.state.pods
        spec = self.spec
        drain_pods = []
        for p in on_node:
            kind = int(pods.owner_kind[p])
            k = self._pdb_key(p)
            allowed = None if k is None else pdb_left.get(k, self._pdb_allowed(p))
            shape = self.state.shapes[int(pods.shape[p])]
            drain_pods.append(DrainPod(
                name=str(p), namespace=getattr(shape, "namespace", "default"),
                owner_kind=OWNER_KINDS[kind] if kind else None, daemonset=kind == _DS, mirror=kind == _MIRROR,
                phase="Running", pdb_disruptions_allowed=allowed,
                deletion_time=None))
        move, _ds, blocking = pods_to_move(drain_pods, now=now,
                                           skip_nodes_with_system_pods=spec.skip_nodes_with_system_pods,
                                           skip_nodes_with_local_storage=spec.skip_nodes_with_local_storage,
                                           skip_nodes_with_custom_controller_pods=(
                                               spec.skip_nodes_with_custom_controller_pods))
        if blocking is not None:
            return [], True
        return [int(d.name) for d in move if int(d.name) not in self.state.terminating], False

    def _fits_elsewhere(self, what: WhatIf, node: int, move: list[int], excluded: np.ndarray) -> bool:
        """``findPlaceFor``: each pod on the first other node that passes the filters,
        booked there for the next; the scratch copy is restored afterwards."""
        pods = self.state.pods
        placed: list[tuple[int, int]] = []
        for p in move:
            what.forget(p, node)
        ok = True
        allowed = ~excluded
        allowed[node] = False
        if allowed.size < what.state.nodes.n:
            allowed = np.concatenate([allowed, np.zeros(what.state.nodes.n - allowed.size, dtype=bool)])
        for p in move:
            hit = np.flatnonzero(what.mask(int(pods.shape[p])) & allowed)
            if hit.size == 0:
                ok = False
                break
            row = what.state.pods.n
            what.place(p, int(hit[0]))
            placed.append((row, int(hit[0])))
        what.undo(placed)
        for p in move:
            what.restore(p, node)
        return ok

    def _delete_empty(self, g: GroupSpec, c: int, now: float) -> None:
        nt = self.state.nodes
        self.unneeded.drop(nt.names[c])
        self.api.remove_node(c)
        g.nodes.discard(c)
        self.nodes_removed += 1
        self.last_delete = now
        self._decide("ScaleDownEmpty", g.name, 1, f"removed empty node {nt.names[c]}")
        self._record_size(g)

    def _drain_and_delete(self, g: GroupSpec, c: int) -> Generator[Any, Any, None]:
        nt = self.state.nodes
        name = nt.names[c]
        self.unneeded.drop(name)
        self._decide("ScaleDown", g.name, 1, f"draining node {name}")
        self.api.update_node(c, taints=[*nt.node_taints(c), TO_BE_DELETED_TAINT])
        proc = drain(self.api, c, timeout_s=MAX_POD_EVICTION_TIME_S, reason="ScaleDown")
        ok = (yield proc) if proc is not None else False
        if not ok:
            self.api.update_node(c, unschedulable=False,
                                 taints=[t for t in nt.node_taints(c) if t != TO_BE_DELETED_TAINT])
            self.deleting.discard(c)
            self.draining = None
            self.last_failure = float(self.env.now)
            self._decide("ScaleDownFailed", g.name, 0, f"could not drain node {name}")
            return
        pods = self.state.pods
        n = pods.n
        left = np.flatnonzero((pods.node[:n] == c) & ((pods.phase[:n] == BOUND) | (pods.phase[:n] == RUNNING))
                              & (pods.owner_kind[:n] != _DS))
        if left.size:
            grace = max(self.state.shapes[int(pods.shape[p])].termination_grace_s for p in left.tolist())
            yield self.env.timeout(min(grace, self.spec.max_graceful_termination_s))
        if np.isinf(nt.removed_at[c]):
            self.api.remove_node(c)
        g.nodes.discard(c)
        self.deleting.discard(c)
        self.draining = None
        self.nodes_removed += 1
        self.last_delete = float(self.env.now)
        self._decide("ScaleDownDrained", g.name, 1, f"removed node {name}")
        self._record_size(g)
