"""The node lifecycle controller: a node whose kubelet stops reporting becomes NotReady
and is tainted, so that the taint eviction controller evicts its pods.

Upstream ``pkg/controller/nodelifecycle/node_lifecycle_controller.go`` with the defaults
of v1.32+ (``NodeLifecycleSettings``: ``--node-monitor-period`` 5 s,
``--node-monitor-grace-period`` 50 s since v1.32, kubernetes/kubernetes#126287, 40 s
before; ``--node-eviction-rate`` 0.1, ``--secondary-node-eviction-rate`` 0.01,
``--unhealthy-zone-threshold`` 0.55, ``--large-cluster-size-threshold`` 50) and the
kubelet's lease renewal every 10 s (0.25 x ``nodeLeaseDurationSeconds`` 40).

The model, step by step, for a node whose machine fails at ``t_f`` (``NodeDown``):

1. Heartbeats. The kubelet renews its lease every ``R`` = 10 s from its start (the
   node's creation, or its last recovery ``b``): the last renewal is
   ``t_r = b + floor((t_f - b) / R) * R``.
2. Monitor passes (``monitorNodeHealth``) run at ``k * P`` (P = 5 s, from time 0). A
   pass records the time it first sees a renewal as the probe time: ``probe`` = the
   first pass at or after ``t_r`` (a renewal and a pass at the same instant: the
   renewal is seen).
3. ``tryUpdateNodeHealth``: the first pass strictly after ``probe + grace`` sets Ready
   to Unknown: ``T_d = probe + (floor(grace / P) + 1) * P``. The node is NotReady from
   ``T_d``; ``doNoScheduleTaintingPass`` adds ``node.kubernetes.io/unreachable:NoSchedule``
   at once.
4. ``processTaintBaseEviction`` acts on the Ready condition the pass *read* (before its
   own update), so the node is queued for the NoExecute taint at the next pass,
   ``T_d + P``. Each zone's queue is drained by a token bucket (``RateLimitedTimedQueue``
   with ``flowcontrol.NewTokenBucketRateLimiter(qps, burst 1)``): the first node of a
   healthy zone is tainted ``node.kubernetes.io/unreachable:NoExecute`` at once, the next
   ones ``1 / qps`` = 10 s apart. Upstream drains the queue every 100 ms
   (``NodeEvictionPeriod``); k8sim taints at the exact instant a token is there (at
   most 0.1 s earlier).
5. The taint eviction controller (:mod:`k8sim.controllers.tainteviction`) evicts each pod
   ``tolerationSeconds`` later (300 s by the DefaultTolerationSeconds admission). So a
   lone failed node in a healthy zone has its pods deleted at
   ``T_d + P + 300`` = ``probe + grace + 2P + 300`` rounded as above.

Zones (``handleDisruption``, ``ComputeZoneState``), by the ``topology.kubernetes.io/zone``
label ("" for nodes without one): a zone with no Ready node is fully disrupted (normal
rate), one with more than 2 NotReady nodes and at least ``unhealthy_zone_threshold`` of
them partially disrupted (``secondary_node_eviction_rate``, or 0 for zones of at most
``large_cluster_size_threshold`` nodes: tainting stops), otherwise normal. A new rate
swaps in a fresh bucket, drained if the old one had no token (``SwapLimiter``). When
every zone is fully disrupted the controller assumes it is the control plane that is cut
off: it removes the NoExecute taints of every node and stops tainting until some node is
Ready again (then every node's probe time is reset to that pass).

A kubelet that runs on but reports its node NotReady (``NodeDown`` with ``not_ready``, a
fault of ``mode: not_ready``: its container runtime or network plugin is not ready) posts
Ready=False at its next node status update (every ``nodeStatusUpdateFrequency``, 10 s,
taken in phase with its lease renewals, ``lease_renew_interval_s``): no grace period
applies, since the node is not silent. At that instant ``doNoScheduleTaintingPass`` adds
``node.kubernetes.io/not-ready:NoSchedule``; the first monitor pass at or after it reads
Ready=False and ``processTaintBaseEviction`` queues the node for
``node.kubernetes.io/not-ready:NoExecute`` (through the same per-zone token bucket;
an ``unreachable`` taint is swapped for it). Its pods go on running and the kubelet hears
of their deletions, so the taint eviction controller's evictions (after the pods'
``tolerationSeconds`` for ``not-ready``, 300 s by default) stop them with their grace
period. When the kubelet reports Ready again (``NodeUp``: at once) the taints go as after a
recovery (below). If the condition clears before the status update, nothing is reported.

Recovery (``NodeUp`` at ``t_u``): the kubelet reports Ready at once and the NoSchedule
taint goes at once; the first pass at or after ``t_u`` removes the NoExecute taint
(``markNodeAsReachable``), which cancels the pending evictions.

Event driven: passes run only at the ticks where something is due (a detection, a
queued node, a recovery), never as a fixed-rate poll, so a run without failures pays
nothing and a run without ``duration_s`` still ends. Differences from upstream: the
zone key is the zone label only (upstream prefixes the region); pods are not marked
NotReady (``MarkPodsNotReady``) since k8sim has no endpoints; ``nodeStartupGracePeriod``
does not apply (nodes report Ready as they join).
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster.nodes import TaintSpec
from k8sim.cluster.watch import NodeAdded, NodeDown, NodeRemoved, NodeUp
from k8sim.component import Contribution
from k8sim.constants import ZONE_LABEL
from k8sim.controllers.defaulttolerations import NOT_READY_KEY, UNREACHABLE_KEY

if TYPE_CHECKING:
    from k8sim.cluster.api import ClusterAPI
    from k8sim.config.faults import NodeLifecycleSettings

UNREACHABLE_NO_SCHEDULE = TaintSpec(UNREACHABLE_KEY, "", "NoSchedule")
NOT_READY_NO_SCHEDULE = TaintSpec(NOT_READY_KEY, "", "NoSchedule")
UNREACHABLE_NO_EXECUTE = TaintSpec(UNREACHABLE_KEY, "", "NoExecute")
NOT_READY_NO_EXECUTE = TaintSpec(NOT_READY_KEY, "", "NoExecute")
_LIFECYCLE_TAINTS = frozenset({UNREACHABLE_NO_SCHEDULE, UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE,
                               NOT_READY_NO_SCHEDULE})

NORMAL, PARTIAL, FULL = "Normal", "PartialDisruption", "FullDisruption"
_EPS = 1e-9


class TokenBucket:
    """``flowcontrol.NewTokenBucketRateLimiter(qps, 1)``: starts full; ``qps <= 0`` is
    upstream's ``FakeNeverRateLimiter``."""

    def __init__(self, qps: float, now: float):
        self.qps = qps
        self.tokens = 1.0
        self.last = now

    def _refill(self, now: float) -> None:
        if self.qps > 0:
            self.tokens = min(1.0, self.tokens + (now - self.last) * self.qps)
        self.last = now

    def try_accept(self, now: float) -> bool:
        if self.qps <= 0:
            return False
        self._refill(now)
        if self.tokens >= 1.0 - _EPS:
            self.tokens -= 1.0
            return True
        return False

    def next_token(self, now: float) -> float:
        """When the next token is there (inf: never)."""
        if self.qps <= 0:
            return math.inf
        self._refill(now)
        return now + max(0.0, 1.0 - self.tokens) / self.qps


class NodeLifecycleController:
    """NotReady detection, zone states, rate-limited NoExecute tainting (see the module
    docstring)."""

    name = "nodelifecycle"

    def __init__(self, api: ClusterAPI, settings: NodeLifecycleSettings):
        self.api = api
        self.env = api.env
        self.state = api.state
        s = settings
        self.period = s.node_monitor_period_s
        self.grace = s.node_monitor_grace_period_s
        self.renew = s.lease_renew_interval_s
        self.qps = s.node_eviction_rate
        self.secondary_qps = s.secondary_node_eviction_rate
        self.unhealthy_threshold = s.unhealthy_zone_threshold
        self.large_cluster = s.large_cluster_size_threshold
        self._hb_base: dict[int, float] = {}  # node -> kubelet (re)start time
        self._detect: dict[int, int] = {}  # failed node -> pass index that marks it NotReady
        self._unknown: dict[int, int] = {}  # NotReady node -> pass index it was marked at
        self._reachable: dict[int, float] = {}  # recovered node -> recovery time (NoExecute taint goes)
        self._queue: dict[int, list[int]] = {}  # zone -> nodes waiting for the NoExecute taint
        self._tainted: set[int] = set()  # nodes with the unreachable NoExecute taint
        self._buckets: dict[int, TokenBucket] = {}
        self._zone_state: dict[int, str] = {}
        self._master_disruption = False
        self._false: dict[int, int] = {}  # node reported Ready=False -> first pass that reads it
        self._false_due: dict[int, float] = {}  # not-ready node -> its kubelet's status update
        self._passes: set[int] = set()
        self._wakeups: set[tuple[int, float]] = set()
        bus = api.bus
        bus.subscribe(NodeDown, self._on_down)
        bus.subscribe(NodeUp, self._on_up)
        bus.subscribe(NodeRemoved, self._on_removed)
        bus.subscribe(NodeAdded, self._on_added)

    def start(self) -> None:
        """Nothing to start: passes are scheduled when a node fails or recovers."""

    def contribute(self) -> Contribution:
        return Contribution()

    # -- helpers -----------------------------------------------------------------------

    def _zone(self, node: int) -> int:
        """The node's zone as the zone label's value code (-1: no zone)."""
        codes = self.state.nodes.labels.get(ZONE_LABEL)
        return -1 if codes is None else int(codes[node])

    def _tick_at_or_after(self, t: float) -> int:
        return int(math.ceil(t / self.period - _EPS))

    def _schedule_pass(self, k: int) -> None:
        if k in self._passes:
            return
        self._passes.add(k)
        timer = self.env.timeout(max(0.0, k * self.period - self.env.now))
        timer.callbacks.append(partial(self._pass, k))

    def _set_taints(self, node: int, add: tuple[TaintSpec, ...] = (), remove: frozenset[TaintSpec] = frozenset()) -> None:
        nt = self.state.nodes
        if not np.isinf(nt.removed_at[node]):
            return
        current = nt.node_taints(node)
        new = [t for t in current if t not in remove and t not in add] + list(add)
        if set(new) != set(current):
            self.api.update_node(node, taints=new)

    def detection_time(self, node: int, failed_at: float) -> float:
        """When a node whose machine fails at ``failed_at`` is marked NotReady (steps 1-3
        of the module docstring)."""
        return self._detection_pass(node, failed_at) * self.period

    def _detection_pass(self, node: int, failed_at: float) -> int:
        base = self._hb_base.get(node, float(self.state.nodes.created_at[node]))
        last_renewal = base + math.floor((failed_at - base) / self.renew + _EPS) * self.renew
        probe = self._tick_at_or_after(last_renewal)
        return probe + int(math.floor(self.grace / self.period + _EPS)) + 1

    # -- watch handlers ----------------------------------------------------------------

    def _on_down(self, event: NodeDown) -> None:
        node = event.node
        if event.not_ready:
            # The kubelet posts Ready=False at its next node status update.
            base = self._hb_base.get(node, float(self.state.nodes.created_at[node]))
            now = self.env.now
            at = base + math.ceil((now - base) / self.renew - _EPS) * self.renew
            self._false_due[node] = at
            self.env.timeout(at - now).callbacks.append(partial(self._report_not_ready, node, at))
            return
        # (A node that came back and fails again before the pass that clears its taints:
        # that pass still clears them, the kubelet having reported Ready meanwhile.)
        k = self._detection_pass(node, self.env.now)
        self._detect[node] = k
        self._schedule_pass(k)

    def _report_not_ready(self, node: int, at: float, _event: object = None) -> None:
        """The kubelet's status update with Ready=False; ``doNoScheduleTaintingPass``."""
        if self._false_due.get(node) != at:
            return  # recovered (or the node left) before the update
        del self._false_due[node]
        nt = self.state.nodes
        if not np.isinf(nt.removed_at[node]):
            return
        if nt.ready[node]:
            self.api.update_node(node, ready=False)
        self._set_taints(node, add=(NOT_READY_NO_SCHEDULE,), remove=frozenset({UNREACHABLE_NO_SCHEDULE}))
        k = self._tick_at_or_after(self.env.now)
        self._false[node] = k
        self._schedule_pass(k)

    def _on_up(self, event: NodeUp) -> None:
        node = event.node
        now = self.env.now
        if self._false_due.pop(node, None) is not None:
            return  # Ready again before the kubelet reported otherwise
        if node in self._false:
            # The kubelet reports Ready: the NoSchedule taint goes at once, the NoExecute
            # one at the next pass (markNodeAsReachable).
            self._set_taints(node, remove=frozenset({NOT_READY_NO_SCHEDULE}))
            self._reachable[node] = now
            self._schedule_pass(self._tick_at_or_after(now))
            return
        self._hb_base[node] = now
        self._detect.pop(node, None)
        if node in self._unknown:
            # The kubelet reported Ready: doNoScheduleTaintingPass drops the NoSchedule
            # taint at once; the next pass removes the NoExecute one.
            self._set_taints(node, remove=frozenset({UNREACHABLE_NO_SCHEDULE}))
            self._reachable[node] = now
            self._schedule_pass(self._tick_at_or_after(now))

    def _on_removed(self, event: NodeRemoved) -> None:
        node = event.node
        self._detect.pop(node, None)
        self._unknown.pop(node, None)
        self._false.pop(node, None)
        self._false_due.pop(node, None)
        self._reachable.pop(node, None)
        self._tainted.discard(node)
        for q in self._queue.values():
            if node in q:
                q.remove(node)
        if any(self._queue.values()):
            self._schedule_pass(self._tick_at_or_after(self.env.now))

    def _on_added(self, event: NodeAdded) -> None:
        if any(self._queue.values()):
            self._schedule_pass(self._tick_at_or_after(self.env.now))

    # -- one monitor pass ----------------------------------------------------------------

    def _pass(self, k: int, _event: object = None) -> None:
        self._passes.discard(k)
        nt = self.state.nodes
        # tryUpdateNodeHealth + processTaintBaseEviction, node by node.
        for node, kd in sorted(self._detect.items()):
            if kd == k:
                del self._detect[node]
                if not nt.up[node] and np.isinf(nt.removed_at[node]):
                    self.api.update_node(node, ready=False)
                    self._set_taints(node, add=(UNREACHABLE_NO_SCHEDULE,))
                    self._unknown[node] = k
                    self._schedule_pass(k + 1)
        for node, marked in sorted(self._unknown.items()):
            if node in self._reachable or marked >= k or node in self._tainted:
                continue
            q = self._queue.setdefault(self._zone(node), [])
            if node not in q:
                q.append(node)
        for node, marked in sorted(self._false.items()):  # Ready=False is read as posted
            if node in self._reachable or marked > k or node in self._tainted:
                continue
            q = self._queue.setdefault(self._zone(node), [])
            if node not in q:
                q.append(node)
        for node, up_at in sorted(self._reachable.items()):
            if up_at <= k * self.period + _EPS and nt.ready[node]:
                del self._reachable[node]
                self._unknown.pop(node, None)
                self._false.pop(node, None)
                self._mark_reachable(node)
        self._handle_disruption(k)
        for zone in sorted(self._queue):
            self._drain_queue(zone)

    def _mark_reachable(self, node: int) -> None:
        """``markNodeAsReachable``: remove the NoExecute taints, leave the queue."""
        self._set_taints(node, remove=frozenset({UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE}))
        self._tainted.discard(node)
        q = self._queue.get(self._zone(node))
        if q is not None and node in q:
            q.remove(node)

    def _bucket(self, zone: int) -> TokenBucket:
        b = self._buckets.get(zone)
        if b is None:
            b = self._buckets[zone] = TokenBucket(self.qps, self.env.now)
        return b

    def _swap(self, zone: int, qps: float) -> None:
        """``SwapLimiter``: a fresh bucket at the new rate, drained if the old one had no
        token."""
        old = self._bucket(zone)
        if old.qps == qps:
            return
        now = self.env.now
        new = TokenBucket(qps, now)
        if qps > 0 and not old.try_accept(now):
            new.try_accept(now)
        self._buckets[zone] = new

    def _handle_disruption(self, k: int) -> None:
        """``handleDisruption`` with ``ComputeZoneState`` (at pass ``k``)."""
        nt = self.state.nodes
        present = np.isinf(nt.removed_at)
        codes = nt.labels.get(ZONE_LABEL)
        zone_of = codes[present] if codes is not None else np.full(int(present.sum()), -1)
        zones, inverse = np.unique(zone_of, return_inverse=True)
        ready_counts = np.bincount(inverse, weights=nt.ready[present], minlength=zones.size).astype(np.int64)
        totals = np.bincount(inverse, minlength=zones.size)
        sizes: dict[int, list[int]] = {
            int(z): [int(r), int(t - r)] for z, r, t in zip(zones.tolist(), ready_counts.tolist(), totals.tolist(), strict=True)}
        new_states: dict[int, str] = {}
        for zone, (ready, not_ready) in sizes.items():
            if ready == 0 and not_ready > 0:
                new_states[zone] = FULL
            elif not_ready > 2 and not_ready / (ready + not_ready) >= self.unhealthy_threshold:
                new_states[zone] = PARTIAL
            else:
                new_states[zone] = NORMAL
        all_full = bool(new_states) and all(s == FULL for s in new_states.values())
        was_full = self._master_disruption
        if all_full and not was_full:
            self._master_disruption = True
            for node in sorted(self._tainted):
                self._set_taints(node, remove=frozenset({UNREACHABLE_NO_EXECUTE, NOT_READY_NO_EXECUTE}))
            self._tainted.clear()
            for zone in new_states:
                self._swap(zone, 0.0)
            self._zone_state = dict.fromkeys(new_states, FULL)
            return
        if all_full:
            return
        self._master_disruption = False
        if was_full:
            # Leaving master disruption mode resets every node's probe time to now: a
            # failed node not yet marked NotReady gets a full grace period from here.
            for node in list(self._detect):
                self._detect[node] = k + int(math.floor(self.grace / self.period + _EPS)) + 1
                self._schedule_pass(self._detect[node])
        for zone, state in new_states.items():
            if was_full or self._zone_state.get(zone) != state:
                self._zone_state[zone] = state
                self._swap(zone, self._rate(state, sum(sizes[zone])))
        for zone in list(self._zone_state):
            if zone not in new_states:
                del self._zone_state[zone]

    def _rate(self, state: str, zone_size: int) -> float:
        if state == PARTIAL:  # ReducedQPSFunc
            return self.secondary_qps if zone_size > self.large_cluster else 0.0
        return self.qps  # Normal, and HealthyQPSFunc for a fully disrupted zone

    def _drain_queue(self, zone: int) -> None:
        """``doNoExecuteTaintingPass`` for one zone: taint queued nodes while the bucket
        gives tokens; come back when the next token is there."""
        q = self._queue.get(zone)
        if not q:
            return
        now = self.env.now
        bucket = self._bucket(zone)
        nt = self.state.nodes
        while q:
            node = q[0]
            if nt.ready[node] or not np.isinf(nt.removed_at[node]):
                q.pop(0)  # ready again meanwhile: upstream ignores the taint request
                continue
            if not bucket.try_accept(now):
                at = bucket.next_token(now)
                if math.isfinite(at) and (zone, at) not in self._wakeups:
                    self._wakeups.add((zone, at))
                    timer = self.env.timeout(at - now)
                    timer.callbacks.append(partial(self._wake, zone, at))
                return
            q.pop(0)
            if node in self._false:  # Ready=False: not-ready (swapped for unreachable)
                self._set_taints(node, add=(NOT_READY_NO_EXECUTE,), remove=frozenset({UNREACHABLE_NO_EXECUTE}))
            else:
                self._set_taints(node, add=(UNREACHABLE_NO_EXECUTE,), remove=frozenset({NOT_READY_NO_EXECUTE}))
            self._tainted.add(node)

    def _wake(self, zone: int, at: float, _event: object = None) -> None:
        self._wakeups.discard((zone, at))
        self._drain_queue(zone)


def lifecycle_taints() -> frozenset[TaintSpec]:
    """The taints this controller manages (a replacement node does not copy them)."""
    return _LIFECYCLE_TAINTS
