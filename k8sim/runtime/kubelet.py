"""The kubelet: a bound pod's life on its node.

One SimPy process per bound pod: ContainerCreating for the pod's start latency (drawn
at its birth), then Running for its duration (inf = until the run ends), then
Succeeded, releasing the node's resources and telling the scheduler that capacity
freed up. Image pulls and restarts refine the ContainerCreating step later.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from k8sim.cluster import ops
from k8sim.cluster.pods import FAILED, SUCCEEDED

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.metrics.recorder import Recorder


class Kubelet:
    def __init__(
        self,
        env: simpy.Environment,
        state: ClusterState,
        recorder: Recorder,
        on_released: Callable[[int], None],
    ):
        self.env = env
        self.state = state
        self.recorder = recorder
        self.on_released = on_released
        self._procs: dict[int, simpy.Process] = {}
        #: Pods told to stop whose grace period has not ended (they still hold resources).
        self.terminating: set[int] = set()

    def start(self, pod: int) -> None:
        """Begin the lifecycle of a freshly bound pod."""
        self._procs[pod] = self.env.process(self._lifecycle(pod))

    def evict(self, pod: int, grace_s: float, reason: str) -> None:
        """Stop a bound pod: it keeps its resources for ``grace_s``, then ends Failed."""
        proc = self._procs.get(pod)
        if proc is not None and proc.is_alive and pod not in self.terminating:
            self.terminating.add(pod)
            proc.interrupt((grace_s, reason))

    def _lifecycle(self, pod: int) -> Generator[simpy.Event, Any, None]:
        pods = self.state.pods
        try:
            latency = float(pods.start_latency[pod])
            if latency > 0:
                yield self.env.timeout(latency)
            ops.set_running(self.state, pod, self.env.now)
            self.recorder.event(self.env.now, "Started", pod, int(pods.node[pod]))
            duration = float(pods.duration[pod])
            if math.isinf(duration):
                yield self.env.event()  # runs until evicted or the run ends
            yield self.env.timeout(duration)
            node = ops.release(self.state, pod, SUCCEEDED, self.env.now)
            self.recorder.event(self.env.now, "Completed", pod, node)
        except simpy.Interrupt as stop:
            grace, reason = stop.cause
            self.recorder.event(self.env.now, "Killing", pod, int(pods.node[pod]), reason)
            if grace > 0:
                yield self.env.timeout(grace)
            self.terminating.discard(pod)
            node = ops.release(self.state, pod, FAILED, self.env.now)
            self.recorder.event(self.env.now, reason, pod, node)
        self._procs.pop(pod, None)
        self.on_released(node)
