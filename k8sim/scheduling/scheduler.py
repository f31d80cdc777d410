"""The scheduler: one SimPy process that drains the scheduling queue.

The loop sleeps on an event while activeQ and backoffQ are empty and is woken by a new
pod, a cluster event that moved pods back, or a backoff flush; it never polls. With
``cycle_latency_s`` > 0 each cycle takes that much virtual time before deciding.

A failed attempt is cached per pod shape and cluster generation: a pod whose shape
already failed since the last change to the cluster fails again without re-running the
filters (the filters are deterministic functions of the pod shape and the tables). Its
attempt count, timestamp and backoff advance exactly as if they had run.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from k8sim.cluster import ops
from k8sim.scheduling.queue import NODE_ADD, NODE_UPDATE, POD_ADD, POD_DELETE, SchedulingQueue

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.config.scenario import SchedulerSettings
    from k8sim.metrics.recorder import Recorder
    from k8sim.runtime.kubelet import Kubelet
    from k8sim.scheduling.framework import Decision, Profile
    from k8sim.scheduling.podinfo import PodInfo


class Scheduler:
    def __init__(
        self,
        env: simpy.Environment,
        state: ClusterState,
        profiles: dict[str, Profile],
        recorder: Recorder,
        on_bound: Callable[[int], None],
        settings: SchedulerSettings | None = None,
        kubelet: Kubelet | None = None,
        drop_unschedulable: bool = False,
    ):
        self.env = env
        self.state = state
        self.profiles = profiles
        self.shapes: list[PodInfo] = state.shapes
        self.recorder = recorder
        self.on_bound = on_bound
        self.kubelet = kubelet
        # Give up on a pod after one failed attempt (no preemption, no retry): the
        # inflation replay of Weng et al. (ATC '23). Dropped pods end Failed/Unschedulable.
        self.drop_unschedulable = drop_unschedulable
        self.dropped = 0
        self._why: dict[int, str] = {}  # drop mode: last diagnosis per shape
        self.preemptions = 0
        self.cycle_latency_s = settings.cycle_latency_s if settings else 0.0
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
        self._failed_at: dict[int, tuple[int, frozenset[str]]] = {}
        self._moves = 0  # cluster events seen (for moveRequestCycle)
        self.cycles = 0
        self.fast_failures = 0
        self.decisions: list[tuple[float, int, Decision]] | None = None
        if settings is not None and settings.record_decisions:
            self.decisions = []
            for prof in profiles.values():
                prof.record = True
        self.process = env.process(self._loop())

    # -- inputs ---------------------------------------------------------------------

    def submit(self, pod: int) -> None:
        """A new Pending pod enters activeQ."""
        self.queue.add(pod)

    def cluster_event(self, event: str) -> None:
        """Something changed that may make waiting pods schedulable."""
        self._moves += 1
        self.queue.move_all(event)

    def on_capacity_freed(self, node: int) -> None:
        """A bound pod left ``node``."""
        self.cluster_event(POD_DELETE)

    def on_node_added(self, node: int) -> None:
        self.cluster_event(NODE_ADD)

    def _wake(self) -> None:
        if self._idle is not None and not self._idle.triggered:
            self._idle.succeed()

    # -- the loop -------------------------------------------------------------------

    def _loop(self) -> Generator[simpy.Event, Any, None]:
        queue = self.queue
        while True:
            pod = queue.pop()
            if pod is None:
                self._idle = self.env.event()
                yield self._idle
                continue
            if self.cycle_latency_s > 0:
                moves = self._moves
                yield self.env.timeout(self.cycle_latency_s)
                self.schedule_one(pod, move_requested=self._moves != moves)
            else:
                self.schedule_one(pod)

    def schedule_one(self, pod: int, move_requested: bool = False) -> int:
        """One scheduling cycle for ``pod``; returns the node or -1."""
        state = self.state
        pods = state.pods
        shape = int(pods.shape[pod])
        info = self.shapes[shape]
        profile = self.profiles[info.scheduler_name]
        self.cycles += 1
        pods.attempts[pod] += 1
        now = self.env.now
        cached = self._failed_at.get(shape)
        if cached is not None and cached[0] == state.generation and pod not in state.nominated:
            self.fast_failures += 1
            if self.drop_unschedulable:
                self._drop(pod, now, self._why.get(shape, ""))
            else:
                self.queue.failed(pod, cached[1], move_requested)
            return -1
        decision = profile.schedule(state, info, pod)
        if self.decisions is not None:
            self.decisions.append((now, pod, decision))
        if decision.node < 0:
            generation = state.generation
            if self.drop_unschedulable:
                why = self._why[shape] = profile.diagnose(state, info)
                self._drop(pod, now, why)
                self._failed_at[shape] = (generation, decision.rejectors)
                return -1
            if pods.attempts[pod] == 1:
                # One FailedScheduling event per pod (its first failure) keeps the
                # event log bounded when many pods wait a long time.
                self.recorder.event(now, "FailedScheduling", pod, -1, profile.diagnose(state, info))
            if profile.post_filter is not None and self.kubelet is not None:
                self._preempt(profile, pod, info)
            if state.generation == generation:
                # Cache the failure only if preemption changed nothing (a nomination
                # changes what other pods see).
                self._failed_at[shape] = (generation, decision.rejectors)
            self.queue.failed(pod, decision.rejectors, move_requested)
            return -1
        for plugin in profile.reservers:
            plugin.reserve(state, pod, info, decision.node)
        ops.bind(state, pod, decision.node, now)
        self.queue.forget(pod)
        self.recorder.event(now, "Scheduled", pod, decision.node, "")
        self.on_bound(pod)
        self.cluster_event(POD_ADD)
        return decision.node

    def _drop(self, pod: int, now: float, why: str) -> None:
        """Drop mode: record the failure and give the pod up (it never retries)."""
        self.recorder.event(now, "FailedScheduling", pod, -1, why)
        self.queue.forget(pod)
        ops.drop(self.state, pod, now)
        self.dropped += 1
        self.recorder.event(now, "Dropped", pod, -1, "Unschedulable")

    def _preempt(self, profile: Profile, pod: int, info: PodInfo) -> None:
        """PostFilter: DefaultPreemption. Victims are told to stop (they keep their
        resources for their grace period) and the pod is nominated to their node."""
        terminating = self.kubelet.terminating  # type: ignore[union-attr]
        pre = profile.post_filter
        if not pre.eligible(self.state, pod, info, terminating):
            return
        cand = pre.find(self.state, profile, pod, info, terminating)
        if cand is None:
            return
        self.preemptions += 1
        now = self.env.now
        pods = self.state.pods
        ops.nominate(self.state, pod, cand.node)
        names = ", ".join(pods.names[v] for v in cand.victims)
        self.recorder.event(now, "Preempting", pod, cand.node, f"victims: {names}")
        for v in cand.victims:
            grace = self.shapes[int(pods.shape[v])].termination_grace_s
            self.kubelet.evict(v, grace, "Preempted")  # type: ignore[union-attr]

    def pending(self) -> np.ndarray:
        """Rows of pods still Pending."""
        pods = self.state.pods
        return np.flatnonzero(pods.phase[: pods.n] == 0)
