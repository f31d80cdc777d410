"""The scheduler: one SimPy process that drains the scheduling queue.

The loop sleeps on an event while the activeQ is empty and is woken by a new pod or by
a cluster event that moved pods back from the unschedulable pool; it never polls.
With ``cycle_latency_s`` > 0 each cycle takes that much virtual time before deciding.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from k8sim.cluster import ops
from k8sim.scheduling.queue import SchedulingQueue

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.metrics.recorder import Recorder
    from k8sim.scheduling.framework import Profile
    from k8sim.scheduling.podinfo import PodInfo


class Scheduler:
    def __init__(
        self,
        env: simpy.Environment,
        state: ClusterState,
        profiles: dict[str, Profile],
        shapes: list[PodInfo],
        recorder: Recorder,
        on_bound: Callable[[int], None],
        cycle_latency_s: float = 0.0,
    ):
        self.env = env
        self.state = state
        self.profiles = profiles
        self.shapes = shapes
        self.recorder = recorder
        self.on_bound = on_bound
        self.cycle_latency_s = cycle_latency_s
        self.queue = SchedulingQueue()
        self._idle: simpy.Event | None = None
        self.cycles = 0
        self.process = env.process(self._loop())

    # -- inputs ---------------------------------------------------------------------

    def submit(self, pod: int) -> None:
        """A new Pending pod enters activeQ."""
        pods = self.state.pods
        self.queue.push(pod, int(pods.priority[pod]), self.env.now)
        self._wake()

    def on_capacity_freed(self, node: int) -> None:
        """A pod left ``node`` or the node was added: retry shapes that may now fit.

        The check mirrors upstream's queueing hint for NodeResourcesFit
        (``isSchedulableAfterPodEvent`` / ``isSchedulableAfterNodeChange``), narrowed to
        the node that changed: a waiting shape is retried if its requests fit there
        and its cached node-selector/taint masks (if any) accept the node.
        """
        free = self.state.nodes.free
        version = self.state.nodes.version
        moved = False
        for shape in self.queue.waiting_shapes():
            info = self.shapes[shape]
            if not (free[info.requested_rows, node] >= info.req_col[:, 0]).all():
                continue
            if any(v == version and not m[node] for v, m in info.mask_cache.values()):
                continue
            pod = self.queue.take_head(shape)
            if pod is not None:
                self.queue.push(pod, int(self.state.pods.priority[pod]), self.env.now)
                moved = True
        if moved:
            self._wake()

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
                yield self.env.timeout(self.cycle_latency_s)
            self.schedule_one(pod)

    def schedule_one(self, pod: int) -> int:
        """One scheduling cycle for ``pod``; returns the node or -1."""
        state = self.state
        pods = state.pods
        shape = int(pods.shape[pod])
        info = self.shapes[shape]
        profile = self.profiles[info.scheduler_name]
        self.cycles += 1
        pods.attempts[pod] += 1
        was_head = self.queue.landed(shape, pod)
        decision = profile.schedule(state, info)
        now = self.env.now
        if decision.node < 0:
            self.queue.park(pod, shape, was_head)
            if pods.attempts[pod] == 1:
                # One FailedScheduling event per pod (its first failure) keeps the
                # event log bounded when many pods wait a long time.
                self.recorder.event(now, "FailedScheduling", pod, -1, profile.diagnose(state, info))
            return -1
        ops.bind(state, pod, decision.node, now)
        self.recorder.event(now, "Scheduled", pod, decision.node, "")
        if was_head:
            # The head fitted: the next pod of its shape may fit too.
            nxt = self.queue.take_head(shape)
            if nxt is not None:
                self.queue.push(nxt, int(pods.priority[nxt]), now)
        self.on_bound(pod)
        return decision.node

    def pending(self) -> np.ndarray:
        """Rows of pods still Pending (activeQ or unschedulable)."""
        pods = self.state.pods
        return np.flatnonzero(pods.phase[: pods.n] == 0)
