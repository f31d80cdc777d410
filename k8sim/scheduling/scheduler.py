"""The scheduler: one SimPy process that drains the scheduling queue.

The loop sleeps on an event while activeQ and backoffQ are empty and is woken by a new
pod, a cluster event that moved pods back, or a backoff flush; it never polls. With
``cycle_latency_s`` > 0 each cycle takes that much virtual time before deciding. With a
cost model (``scheduler.costModel``, :mod:`k8sim.scheduling.cost`) a cycle decides at
once, takes the time its work costs, and the pod is bound when its asynchronous Binding
call completes (assumed on its node meanwhile).

A cycle that found feasible nodes may hand the choice to someone else: a profile's
policy object (:mod:`k8sim.scheduling.policy`, called synchronously), or, with
:attr:`Scheduler.external` set (``Simulation.next_decision`` / ``decide``), the caller
of the step API: the cycle stops before binding, the loop waits on an event, and
:meth:`Scheduler.decide` binds and wakes it ahead of every other event of that instant,
so that nothing else happens in between and a decision equal to the profile's gives the
same run as no decider at all.

A failed attempt is cached per pod shape and cluster generation: a pod whose shape
already failed since the last change to the cluster fails again without re-running the
filters (the filters are deterministic functions of the pod shape and the tables). Its
attempt count, timestamp and backoff advance exactly as if they had run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from heapq import heappush
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import simpy

from k8sim.cluster.pods import FAILED, PENDING
from k8sim.cluster.watch import (
    ClaimBound,
    NodeAdded,
    NodeUpdated,
    PodAdded,
    PodBound,
    PodDeleted,
    PodDeleting,
    PodTerminated,
)
from k8sim.component import Contribution
from k8sim.runtime.timers import NORMAL, URGENT, Timer
from k8sim.scheduling.cost import PRESETS, CostModel
from k8sim.scheduling.permit import REJECT, WAIT, WaitingPod
from k8sim.scheduling.queue import NODE_ADD, NODE_UPDATE, POD_ADD, POD_DELETE, PVC_UPDATE, SchedulingQueue

if TYPE_CHECKING:
    from k8sim.cluster.api import ClusterAPI
    from k8sim.config.scenario import SchedulerSettings
    from k8sim.scheduling.framework import Decision, Profile
    from k8sim.scheduling.podinfo import PodInfo


#: ``schedule_one``'s result while a decision waits for :meth:`Scheduler.decide`.
PENDING_DECISION = -2


@dataclass(frozen=True)
class PendingDecision:
    """A scheduling cycle waiting for an external decision (``Simulation.next_decision``).

    ``pod``: the pod row; ``time``: the virtual time; ``mask``: ``bool[N]`` of the nodes
    that pass every filter (the allowed choices, a copy); ``suggested``: the node the
    profile's scores chose (what the run does without a decider); ``profile``: its name.
    """

    pod: int
    time: float
    mask: np.ndarray
    suggested: int
    profile: str


class _FirstEvent(simpy.Event):
    """An event that, once triggered, is processed before every other event of its
    instant (priority below SimPy's URGENT), so the waiting process resumes at once."""

    def succeed_first(self, value: Any = None) -> None:
        self._ok = True
        self._value = value
        self.env.schedule(self, priority=-1)  # type: ignore[arg-type]  # below URGENT (0) on purpose


#: ``Scheduler._resume`` while the timer loop waits for a decision.
_RESUME_DRAIN: Any = object()


class Scheduler:
    """The scheduler component: one queue, one loop, the profiles by ``schedulerName``.

    Watches (in this order of subscription): PodAdded (a pod without a preassigned node
    enters activeQ), PodBound / PodTerminated (PodAdd / PodDelete cluster events that
    move waiting pods), PodDeleted (a Pending pod deleted while queued leaves the queue),
    NodeAdded / NodeUpdated (NodeAdd / NodeUpdate cluster events). Acts through the
    Cluster API only: bind, nominate + delete victims (preemption), drop (inflation
    replay), and its FailedScheduling reports.

    ``cache_failures`` (on by default) enables the per-shape failure cache of the module
    docstring; turning it off changes no result, only the time taken.
    """

    name = "scheduler"
    #: Without a cost model or cycle latency (cycles take no virtual time), the loop is a
    #: timer on SimPy's queue rather than a generator process (:meth:`_drain`), with its
    #: events in the same places; False: always the process, the reference the timer
    #: reproduces event for event.
    loop_timer = True

    def __init__(
        self,
        api: ClusterAPI,
        profiles: dict[str, Profile],
        settings: SchedulerSettings | None = None,
        drop_unschedulable: bool = False,
        cache_failures: bool = True,
    ):
        self.api = api
        self.env = env = api.env
        self.state = state = api.state
        self.profiles = profiles
        self.shapes: list[PodInfo] = state.shapes
        # Give up on a pod after one failed attempt (no preemption, no retry): the
        # inflation replay of Weng et al. (ATC '23). Dropped pods end Failed/Unschedulable.
        self.drop_unschedulable = drop_unschedulable
        self.cache_failures = cache_failures
        self.dropped = 0
        self._why: dict[int, str] = {}  # drop mode: last diagnosis per shape
        self.preemptions = 0
        self.cycle_latency_s = settings.cycle_latency_s if settings else 0.0
        #: The cost model (None: off, cycles take ``cycle_latency_s``).
        self.cost: CostModel | None = None
        spec = settings.cost_model if settings is not None else None
        if spec is not None:
            base, per = PRESETS[spec.preset] if spec.preset is not None else (0.0, 0.0)
            self.cost = CostModel(
                cycle_base_s=base if spec.cycle_base_s is None else spec.cycle_base_s,
                per_node_plugin_s=per if spec.per_node_plugin_s is None else spec.per_node_plugin_s,
                bind_latency_s=spec.bind_latency_s,
                client_qps=spec.client_qps,
                client_burst=spec.client_burst,
            )
        self._cycle_s = 0.0  # virtual seconds of the cycle just run (cost model)
        self.busy_s = 0.0  # total virtual seconds of scheduling cycles (cost model)
        self._assumed: set[int] = set()  # pods whose Binding is in flight (cost model)
        self._cycle_times: list[float] = []  # cycle_s per recorded decision (cost model)
        events: dict[str, frozenset[str]] = {}
        for prof in profiles.values():
            for plugin in prof.filters:
                events[plugin.name] = type(plugin).events
        self.queue = SchedulingQueue(
            env,
            state.pods,
            events_of=lambda name: events.get(name, frozenset({POD_ADD, POD_DELETE, NODE_ADD, NODE_UPDATE})),
            wake=self._wake,
            initial_backoff_s=settings.pod_initial_backoff_s if settings else 1.0,
            max_backoff_s=settings.pod_max_backoff_s if settings else 10.0,
            max_in_unschedulable_s=settings.pod_max_in_unschedulable_s if settings else 300.0,
        )
        self._idle: simpy.Event | None = None
        #: The loop as a timer (:meth:`start`; None: the process ``_loop``) and whether
        #: it sleeps until :meth:`_wake` (activeQ and backoffQ were empty).
        self._timer: Timer | None = None
        self._sleeping = False
        #: shape -> (generation, rejecting filters, FailedScheduling message or None)
        self._failed_at: dict[int, tuple[int, frozenset[str], str | None]] = {}
        self._moves = 0  # cluster events seen (for moveRequestCycle)
        self.cycles = 0
        self.fast_failures = 0
        self.decisions: list[tuple[float, int, Decision]] | None = None
        if settings is not None and settings.record_decisions:
            self.decisions = []
            for prof in profiles.values():
                prof.record = True
        for prof in profiles.values():
            # Decision.feasible is read by the decisions frame and the cost model only.
            prof.count_feasible = self.decisions is not None or self.cost is not None
        self.process: simpy.Process | None = None
        #: Called with the pod row at the start of every scheduling cycle, before anything
        #: is decided (``k8sim explain`` uses it to explain the cycle that places a pod).
        #: It must not change the cluster or the profiles' state.
        self.cycle_hook: Callable[[int], None] | None = None
        #: External deciding (the step API): a cycle with feasible nodes waits for
        #: :meth:`decide` instead of binding to the scores' choice.
        self.external = False
        #: With external deciding, run the profile's scores to suggest a node (off: the
        #: Filter phase only, ``suggested`` is the first feasible node; faster, but the
        #: profile's tie-break stream no longer moves as in a run without a decider).
        self.suggest = True
        #: The cycle waiting for :meth:`decide` (external deciding), or None.
        self.pending_decision: PendingDecision | None = None
        self._pending: tuple[Decision, Profile, PodInfo] | None = None
        self._resume: _FirstEvent | None = None
        #: Builds the observation for profiles' policies (set by the simulation when a
        #: profile has a policy): ``observe(pod, info, mask, now, pending)``.
        self.observer: Any = None
        bus = api.bus
        bus.subscribe_fields(PodAdded, self._pod_added)
        bus.subscribe_fields(PodBound, self._pod_bound)
        bus.subscribe_fields(PodTerminated, self._pod_terminated)
        bus.subscribe(PodDeleted, lambda e: self.queue.delete(e.pod))
        bus.subscribe(NodeAdded, self._on_node_added)
        bus.subscribe(NodeUpdated, lambda e: self.cluster_event(NODE_UPDATE))
        bus.subscribe(ClaimBound, lambda e: self.cluster_event(PVC_UPDATE))
        if self.cost is not None:
            bus.subscribe(PodDeleting, self._on_deleting)
        #: Pods assumed and waiting at Permit (k8sim.scheduling.permit), by row.
        self._waiting: dict[int, WaitingPod] = {}
        #: Every Permit plugin of every profile (empty: no gang scheduling, and nothing
        #: below is subscribed or called).
        self._permitting = [p for prof in profiles.values() for p in prof.permit_plugins]
        if self._permitting:
            self._setup_permit()

    def _setup_permit(self) -> None:
        """Wire the Permit plugins: QueueSort (the first that defines it, for the one
        queue all profiles share, as upstream requires one QueueSort), their handle, and
        the watch events that concern waiting pods."""
        for plugin in self._permitting:
            plugin.bind_scheduler(self, self.state)
        sorter = next((p for p in self._permitting if p.queue_sort), None)
        if sorter is not None:
            self.queue.sort_key = sorter.queue_key
        bus = self.api.bus
        # After the scheduler's own handlers: the queue has moved its pods by then.
        for kind in (PodBound, PodTerminated, NodeAdded, NodeUpdated):
            bus.subscribe(kind, self._permit_cluster_event)
        bus.subscribe(PodDeleting, self._on_waiting_deleted)
        bus.subscribe(PodTerminated, self._on_waiting_terminated)

    def start(self) -> None:
        """Start the scheduling loop: a process, or (cycles that take no virtual time)
        a timer, started where the process's ``Initialize`` event would be."""
        if self.loop_timer and self.cost is None and self.cycle_latency_s <= 0:
            timer = self._timer = Timer()
            self._drain_cb = (self._drain,)
            timer.schedule(self.env, self._drain_cb, 0, URGENT)
        else:
            self.process = self.env.process(self._loop())

    # -- inputs ---------------------------------------------------------------------

    def _pod_added(self, pod: int, node: int) -> None:
        """PodAdded (its fields): a pod without a preassigned node enters activeQ."""
        if node < 0:
            self.queue.add(pod)  # submit(pod)

    def submit(self, pod: int) -> None:
        """A new Pending pod enters activeQ."""
        self.queue.add(pod)

    def cluster_event(self, event: str) -> None:
        """Something changed that may make waiting pods schedulable."""
        self._moves += 1
        self.queue.move_all(event)

    # The two cluster events of every pod (a PodAdd when it is bound, a PodDelete when
    # it ends): :meth:`cluster_event` inlined, and the queue asked only when a pod
    # waits in unschedulablePods (``move_all`` of an empty one moves nothing).

    def _pod_bound(self, _pod: int, _node: int) -> None:
        self._moves += 1
        if self.queue.unschedulable:
            self.queue.move_all(POD_ADD)

    def _pod_terminated(self, _pod: int, _node: int, _phase: int, _reason: str) -> None:
        self._moves += 1
        if self.queue.unschedulable:
            self.queue.move_all(POD_DELETE)

    def _on_node_added(self, event: NodeAdded) -> None:
        """NodeAdd, with the QueueingHints of kube-scheduler v1.32+ (on by default)."""
        self._moves += 1
        self.queue.move_all(NODE_ADD, hint=self.node_add_hint(event.node))

    def node_add_hint(self, node: int) -> Callable[[int, frozenset[str]], bool]:
        """The NodeAdd queueing hint for new node ``node``: ``hint(pod, rejectors)`` is
        True (Queue) unless every rejecting filter that registered NodeAdd is
        ``node_local`` and rejects the pod on the new node too (QueueSkip).

        Upstream (``pkg/scheduler/framework/plugins``), each node-local filter's NodeAdd
        hint asks whether the pod passes that plugin on the added node:
        NodeResourcesFit ``isSchedulableAfterNodeChange`` (``fit.go``: ``isFit`` against
        the new node's allocatable, its NodeInfo holding no pod), TaintToleration
        ``isSchedulableAfterNodeChange`` (its taints tolerated), NodeAffinity
        ``isSchedulableAfterNodeChange`` (required affinity and the added node selector
        match), NodeUnschedulable ``isSchedulableAfterNodeChange`` (schedulable or the
        taint tolerated), NodeName ``isSchedulableAfterNodeAdd`` (the name matches);
        NodePorts has no NodeAdd hint (a new node has every port free, so the filter
        passes). A newly added node has no pod bound yet, so each of k8sim's node-local
        filters on that node column answers exactly that question; k8sim's own
        node-local filters (GPU fit, RuntimeClass, ...) get the same rule. Filters that
        look at other nodes (PodTopologySpread, InterPodAffinity, volumes, gangs) keep
        Queue: upstream's hints for them, which can skip more, are not modelled, so a
        pod may be retried more often than upstream, never less. Results are memoised
        per pod shape and rejector set for the event."""
        state = self.state
        memo: dict[tuple[int, frozenset[str]], bool] = {}
        at = np.array([node], dtype=np.int64)

        def queue_after(shape: int, rejectors: frozenset[str]) -> bool:
            info = self.shapes[shape]
            profile = self.profiles.get(info.scheduler_name)
            if profile is None:
                return True
            by_name = {f.name: f for f in profile.filters}
            for r in rejectors:
                f = by_name.get(r)
                if f is None:
                    return True  # not one of the profile's filters: as before, Queue
                if NODE_ADD not in type(f).events:
                    continue
                if not f.node_local or not f.pre_filter(state, info) or bool(f.filter_nodes(state, info, at)[0]):
                    return True
            return False

        def hint(pod: int, rejectors: frozenset[str]) -> bool:
            key = (int(state.pods.shape[pod]), rejectors)
            got = memo.get(key)
            if got is None:
                got = memo[key] = queue_after(*key)
            return got

        return hint

    def _wake(self) -> None:
        if self._sleeping:
            # The timer loop: the entry the idle event's succeed() would schedule
            # (Environment.schedule inlined: now, NORMAL, the next insertion number).
            self._sleeping = False
            timer, env = self._timer, self.env
            timer.callbacks = self._drain_cb  # type: ignore[union-attr]
            heappush(env._queue, (env._now, NORMAL, next(env._eid), timer))  # type: ignore[misc]
        elif self._idle is not None and not self._idle.triggered:
            self._idle.succeed()

    # -- the loop -------------------------------------------------------------------

    def _loop(self) -> Generator[simpy.Event, Any, None]:
        queue = self.queue
        pods = self.state.pods
        while True:
            pod = queue.pop()
            if pod is None:
                self._idle = self.env.event()
                yield self._idle
                continue
            if self.cost is not None:
                if self.schedule_one(pod) == PENDING_DECISION:
                    yield self._wait_decision()
                if self._cycle_s > 0:
                    self.busy_s += self._cycle_s
                    yield self.env.timeout(self._cycle_s)
            elif self.cycle_latency_s > 0:
                moves = self._moves
                yield self.env.timeout(self.cycle_latency_s)
                if pods.phase[pod] != PENDING:
                    continue  # deleted while its cycle ran
                if self.schedule_one(pod, move_requested=self._moves != moves) == PENDING_DECISION:
                    yield self._wait_decision()
            elif self.schedule_one(pod) == PENDING_DECISION:
                yield self._wait_decision()

    def _drain(self, _timer: Timer) -> None:
        """The loop of :meth:`_loop` without a cost model or cycle latency, run by a
        timer: schedule the queue's pods until it is empty (then sleep until
        :meth:`_wake` puts the timer back where the process's idle event would be) or a
        cycle waits for :meth:`decide` (which puts it back ahead of every other event
        of its instant, where the process's resume event would be). No generator, no
        event object and no process resume per wake-up."""
        queue = self.queue
        while True:
            pod = queue.pop()
            if pod is None:
                self._sleeping = True
                return
            if self.schedule_one(pod) == PENDING_DECISION:
                self._resume = _RESUME_DRAIN
                return

    def _wait_decision(self) -> simpy.Event:
        self._resume = _FirstEvent(self.env)
        return self._resume

    def decide(self, node: int) -> None:
        """Bind the pending decision's pod to ``node`` (one of its mask's nodes) and let
        the loop go on: it resumes before anything else happens at this instant."""
        pending, ctx = self.pending_decision, self._pending
        if pending is None or ctx is None or self._resume is None:
            raise RuntimeError("no scheduling decision is pending (call next_decision() first)")
        node = int(node)
        if not (0 <= node < pending.mask.size and pending.mask[node]):
            raise ValueError(
                f"node {node} is not a feasible choice for pod {self.state.pods.names[pending.pod]} "
                f"(feasible: {np.flatnonzero(pending.mask)[:20].tolist()}"
                f"{' ...' if pending.mask.sum() > 20 else ''})")
        decision, profile, info = ctx
        self.pending_decision = self._pending = None
        self._commit(pending.pod, decision if node == decision.node else replace(decision, node=node),
                     profile, info, pending.time)
        resume, self._resume = self._resume, None
        if resume is _RESUME_DRAIN:  # the timer loop: on at once, as succeed_first()
            timer, env = self._timer, self.env
            timer.callbacks = self._drain_cb  # type: ignore[union-attr]
            heappush(env._queue, (env._now, -1, next(env._eid), timer))  # type: ignore[misc]
        else:
            resume.succeed_first()

    def _ask_policy(self, profile: Profile, pod: int, info: PodInfo, decision: Decision) -> Decision:
        """The profile's policy chooses among the nodes that pass the filters."""
        from k8sim.scheduling.policy import PolicyError

        mask = profile.last_mask
        assert mask is not None and self.observer is not None
        obs = self.observer(pod, info, mask, self.env.now, len(self.queue))
        node = profile.policy(obs)
        if isinstance(node, (np.integer, int)) and not isinstance(node, bool) and 0 <= node < mask.size and mask[node]:
            return decision if node == decision.node else replace(decision, node=int(node))
        raise PolicyError(f"profile {profile.name!r}: its policy chose {node!r} for pod "
                          f"{self.state.pods.names[pod]}, not a node that passes the filters")

    def schedule_one(self, pod: int, move_requested: bool = False) -> int:
        """One scheduling cycle for ``pod``; returns the node, -1 (no feasible node), or
        :data:`PENDING_DECISION` (external deciding: :attr:`pending_decision` is set)."""
        if self.cycle_hook is not None:
            self.cycle_hook(pod)
        state = self.state
        pods = state.pods
        shape = int(pods.shape[pod])
        info = self.shapes[shape]
        profile = self.profiles[info.scheduler_name]
        self.cycles += 1
        pods.attempts[pod] += 1
        now = self.env._now
        cost = self.cost
        if cost is not None:
            filters_run = sum(1 for f in profile.filters if f.pre_filter(state, info))
            scores_run = sum(1 for p, _ in profile.scores if p.pre_score(state, info))
        cached = self._failed_at.get(shape)
        if cached is not None and cached[0] == state.generation and pod not in state.nominated \
                and not profile.permit_plugins:
            if cost is not None:  # upstream runs the filters over every node again
                self._cycle_s = cost.cycle_s(state.nodes.n, filters_run, 0, scores_run)
            self.fast_failures += 1
            if self.drop_unschedulable:
                self._drop(pod, self._why.get(shape, ""))
            else:
                if pods.attempts[pod] == 1:
                    # The same first-failure event as a full cycle would log (the
                    # diagnosis is a function of the shape and the tables, so the one
                    # made at this generation holds).
                    if cached[2] is None:
                        cached = self._failed_at[shape] = (*cached[:2], profile.diagnose(state, info))
                    self.api.record("FailedScheduling", pod, -1, cached[2] or "")
                self.queue.failed(pod, cached[1], move_requested)
            return -1
        gate = self._gang_pre_filter(profile, pod, now) if profile.permit_plugins else None
        if gate is not None:
            decision = gate[0]
        elif self.external and not self.suggest:
            decision = profile.filter_only(state, info, pod)
        else:
            decision = profile.schedule(state, info, pod)
        if cost is not None:
            scored = decision.feasible if decision.node >= 0 and decision.feasible >= 2 and profile.scores else 0
            self._cycle_s = cost.cycle_s(profile.last_visited, filters_run, scored, scores_run)
        if decision.node >= 0:
            if self.external:
                mask = profile.last_mask
                assert mask is not None
                self.pending_decision = PendingDecision(pod, now, mask.copy(), decision.node, profile.name)
                self._pending = (decision, profile, info)
                return PENDING_DECISION
            if profile.policy is not None:
                decision = self._ask_policy(profile, pod, info, decision)
            return self._commit(pod, decision, profile, info, now)
        if self.decisions is not None:
            self.decisions.append((now, pod, decision))
            if cost is not None:
                self._cycle_times.append(self._cycle_s)
        generation = state.generation
        if self.drop_unschedulable:
            why = self._why[shape] = profile.diagnose(state, info)
            self._drop(pod, why)
            if self.cache_failures:
                self._failed_at[shape] = (generation, decision.rejectors, why)
            return -1
        message = None
        if pods.attempts[pod] == 1:
            # One FailedScheduling event per pod (its first failure) keeps the
            # event log bounded when many pods wait a long time.
            message = gate[1] if gate is not None else profile.diagnose(state, info)
            self.api.record("FailedScheduling", pod, -1, message)
        preemptions = self.preemptions
        if profile.post_filter is not None and gate is None:
            self._preempt(profile, pod, info)
        if profile.permit_plugins:
            if self.preemptions == preemptions:  # PostFilter plugins run until one succeeds
                for plugin in profile.permit_plugins:
                    plugin.post_filter_pod(state, pod, now)
        elif state.generation == generation and self.cache_failures:
            # Cache the failure only if preemption changed nothing (a nomination
            # changes what other pods see).
            self._failed_at[shape] = (generation, decision.rejectors, message)
        self.queue.failed(pod, decision.rejectors, move_requested)
        return -1

    def _commit(self, pod: int, decision: Decision, profile: Profile, info: PodInfo, now: float) -> int:
        """The end of a successful cycle: record, Reserve, bind (or assume)."""
        state, cost = self.state, self.cost
        if self.decisions is not None:
            self.decisions.append((now, pod, decision))
            if cost is not None:
                self._cycle_times.append(self._cycle_s)
        for plugin in profile.reservers:
            plugin.reserve(state, pod, info, decision.node)
        self.queue.forget(pod)
        if profile.permit_plugins:
            return self._permit(pod, decision.node, profile, now)
        if cost is None:
            self.api.bind(pod, decision.node)
            return decision.node
        # Assume now; the asynchronous binding cycle sends the Binding when this cycle
        # ends and the pod is bound when it completes.
        self.api.assume(pod, decision.node)
        self._assumed.add(pod)
        done = cost.bound_at(now + self._cycle_s)
        self.env.timeout(done - now).callbacks.append(lambda _event: self._bound(pod))
        return decision.node

    # -- Permit (k8sim.scheduling.permit) --------------------------------------------

    def _gang_pre_filter(self, profile: Profile, pod: int, now: float) -> tuple[Decision, str] | None:
        """The Permit plugins' per-pod PreFilter: a failed Decision naming the plugin
        (every node rejected, ``UnschedulableAndUnresolvable``) and its message, or None."""
        from k8sim.scheduling.framework import Decision

        for plugin in profile.permit_plugins:
            why = plugin.pre_filter_pod(self.state, pod, now)
            if why is not None:
                profile.last_mask = np.zeros(self.state.nodes.n, dtype=bool)
                profile.last_visited = self.state.nodes.n
                return (Decision(-1, 0, rejectors=frozenset({plugin.name})),
                        f"0/{self.state.nodes.n} nodes are available: {why}.")
        return None

    def _permit(self, pod: int, node: int, profile: Profile, now: float) -> int:
        """Assume the pod, run the Permit plugins; bind it, keep it waiting, or reject it."""
        self.api.assume(pod, node, waiting=True)
        wp = WaitingPod(pod, node, now, moves=self._moves, profile=profile)
        for plugin in profile.permit_plugins:
            status, timeout = plugin.permit(self.state, pod, node, now)
            if status == REJECT:
                self._waiting[pod] = wp
                self.reject(pod, plugin.name, f"rejected by plugin {plugin.name} at Permit")
                return -1
            if status == WAIT:
                wp.pending[plugin.name] = now + timeout
        if not wp.pending:
            self._start_binding(pod, now)
            return node
        self._waiting[pod] = wp
        for name, deadline in wp.pending.items():
            self.env.timeout(deadline - now).callbacks.append(functools.partial(self._permit_timeout, wp, name))
        return node

    def _start_binding(self, pod: int, now: float) -> None:
        """The binding cycle of an assumed pod that passed Permit."""
        if self.cost is None:
            self.api.bind_assumed(pod)
            return
        self._assumed.add(pod)
        done = self.cost.bound_at(now + self._cycle_s)
        self.env.timeout(done - now).callbacks.append(lambda _event: self._bound(pod))

    def _permit_timeout(self, wp: WaitingPod, plugin: str, _event: simpy.Event) -> None:
        if self._waiting.get(wp.pod) is wp and plugin in wp.pending:
            self.reject(wp.pod, plugin, f"rejected due to timeout after waiting {self.env.now - wp.since:g}s "
                        f"at plugin {plugin}", reason="timeout")

    # PermitHandle (what Permit plugins may do)

    @property
    def cluster_changes(self) -> int:
        return self._moves

    def waiting(self, pod: int) -> WaitingPod | None:
        return self._waiting.get(pod)

    def why_waiting(self, pod: int) -> str | None:
        """What the Permit plugins say about why ``pod`` (and its group) waits, for
        ``k8sim explain``; None when none has anything to say."""
        parts = [w for p in self._permitting if (w := p.why_pending(self.state, pod, self.env.now))]
        return "; ".join(parts) or None

    def waiting_pods(self) -> dict[int, WaitingPod]:
        """The pods waiting at Permit (read-only view)."""
        return self._waiting

    def allow(self, pod: int, plugin: str) -> None:
        wp = self._waiting.get(pod)
        if wp is None:
            return
        wp.pending.pop(plugin, None)
        if not wp.pending:
            del self._waiting[pod]
            self._start_binding(pod, self.env.now)

    def reject(self, pod: int, plugin: str, message: str, reason: str = "rejected") -> None:
        """Reject a waiting pod (upstream ``handleBindingCycleError``): Unreserve, forget
        the assumed pod, requeue it as failed by ``plugin``, and move the pods an
        AssignedPodDelete may help."""
        wp = self._waiting.pop(pod, None)
        if wp is None:
            return
        now = self.env.now
        for p in wp.profile.permit_plugins:
            p.unreserve(self.state, pod, reason, now)
        self.api.forget_assumed(pod)
        self.api.record("FailedScheduling", pod, -1, message)
        self.queue.failed(pod, frozenset({plugin}), self._moves != wp.moves)
        self.queue.move_all(POD_DELETE)

    def activate(self, pods: list[int]) -> None:
        self.queue.activate(pods)

    def _permit_cluster_event(self, _event: object) -> None:
        now = self.env.now
        for plugin in self._permitting:
            plugin.cluster_event(now)

    def _on_waiting_deleted(self, event: PodDeleting) -> None:
        """A waiting pod deleted (upstream ``RejectWaitingPod`` on delete): it ends at
        once, its group is told (Unreserve), its room is free."""
        wp = self._waiting.pop(event.pod, None)
        if wp is None:
            return
        for p in wp.profile.permit_plugins:
            p.unreserve(self.state, event.pod, "deleted", self.env.now)
        self.api.terminate(event.pod, FAILED, event.reason)

    def _on_waiting_terminated(self, event: PodTerminated) -> None:
        wp = self._waiting.pop(event.pod, None)
        if wp is not None:
            for p in wp.profile.permit_plugins:
                p.unreserve(self.state, event.pod, "deleted", self.env.now)

    def _bound(self, pod: int) -> None:
        """The Binding of an assumed pod completed (unless it was deleted meanwhile)."""
        if pod in self._assumed:
            self._assumed.discard(pod)
            self.api.bind_assumed(pod)

    def _on_deleting(self, event: PodDeleting) -> None:
        """A pod deleted while assumed has no kubelet yet: it ends at once, and its
        Binding is dropped (upstream: the binding fails and the pod leaves the cache)."""
        if event.pod in self._assumed:
            self._assumed.discard(event.pod)
            self.api.terminate(event.pod, FAILED, event.reason)

    def _drop(self, pod: int, why: str) -> None:
        """Drop mode: record the failure and give the pod up (it never retries)."""
        self.api.record("FailedScheduling", pod, -1, why)
        self.queue.forget(pod)
        self.api.drop(pod)
        self.dropped += 1

    def _preempt(self, profile: Profile, pod: int, info: PodInfo) -> None:
        """PostFilter: DefaultPreemption. Victims are deleted with their grace period
        (they keep their resources meanwhile) and the pod is nominated to their node."""
        terminating = self.state.terminating
        pre = profile.post_filter
        if not pre.eligible(self.state, pod, info, terminating):
            return
        cand = pre.find(self.state, profile, pod, info, terminating)
        if cand is None:
            return
        self.preemptions += 1
        pods = self.state.pods
        self.api.nominate(pod, cand.node, list(cand.victims))
        for v in cand.victims:
            grace = self.shapes[int(pods.shape[v])].termination_grace_s
            self.api.delete_pod(v, grace, "Preempted")

    def pending(self) -> np.ndarray:
        """Rows of pods still Pending."""
        pods = self.state.pods
        return np.flatnonzero(pods.phase[: pods.n] == 0)

    # -- results --------------------------------------------------------------------

    def contribute(self) -> Contribution:
        out = Contribution(provenance={
            "scheduling_cycles": self.cycles,
            # Unschedulable pods are dropped, not retried (trace replay, inflation mode).
            "drops_unschedulable": self.drop_unschedulable,
        })
        if self.cost is not None:
            out.provenance["scheduler_busy_s"] = self.busy_s
            out.summary["scheduler_busy_s"] = self.busy_s
        if self.decisions is not None:
            out.frames["decisions"] = self.decisions_frame()
        if self._permitting:
            # Pods still waiting at Permit hold their node in the tables (phase
            # ContainerCreating, no scheduled time): upstream they are Pending and assumed.
            out.provenance["pods_waiting_at_permit"] = len(self._waiting)
        return out

    def decisions_frame(self) -> pd.DataFrame:
        """One row per scheduling cycle: the pod, the outcome, how many nodes were
        feasible, the chosen node's weighted total and per-plugin normalised scores, how
        many nodes tied with it, the runner-up total, and on failure the rejecting
        plugins."""
        pods, nodes = self.state.pods, self.state.nodes
        rows = []
        plugin_names: list[str] = []
        for prof in self.profiles.values():
            plugin_names += [p.name for p, _ in prof.scores if p.name not in plugin_names]
        for t, pod, d in self.decisions or []:
            row: dict[str, Any] = {
                "time": t, "pod": pods.names[pod], "node": nodes.names[d.node] if d.node >= 0 else "",
                "feasible": d.feasible, "total": np.nan, "tied": 1 if d.node >= 0 else 0, "runner_up": np.nan,
                "rejected_by": ",".join(sorted(d.rejectors)),
            }
            if d.candidates is not None and d.totals is not None:
                i = int(np.flatnonzero(d.candidates == d.node)[0])
                top = d.totals[i]
                row["total"] = float(top)
                row["tied"] = int((d.totals == top).sum())
                others = d.totals[d.totals < top]
                row["runner_up"] = float(others.max()) if others.size else np.nan
                for name in plugin_names:
                    s = d.per_plugin.get(name)
                    row[f"score_{name}"] = float(s[i]) if s is not None else np.nan
            rows.append(row)
        frame = pd.DataFrame(rows)
        if self.cost is not None and len(frame):
            # The virtual seconds each recorded cycle took (cost model).
            frame["cycle_s"] = self._cycle_times
        for col in ("pod", "node", "rejected_by"):
            if col in frame:
                frame[col] = frame[col].astype("string")
        return frame
