"""The taint eviction controller: pods are evicted from nodes with NoExecute taints they
do not tolerate, or tolerate only for a while.

Upstream ``pkg/controller/tainteviction/taint_eviction.go`` (a controller of its own
since the ``SeparateTaintEvictionController`` feature, GA in v1.34; before, part of the
node lifecycle controller). For a pod bound to a node whose NoExecute taints change, or
bound to a node that has such taints (``processPodOnNode``):

- no NoExecute taint: any scheduled eviction is cancelled;
- a taint that none of the pod's tolerations tolerates: the pod is evicted now;
- otherwise the first toleration matching each taint is "used"; the eviction is
  scheduled after the smallest ``tolerationSeconds`` among them (``getMinTolerationTime``:
  a value <= 0 means now; when none has ``tolerationSeconds`` the pod stays for ever and
  any scheduled eviction is cancelled). An eviction already scheduled earlier is kept
  (its start time counts, as upstream's ``CreatedAt``).

Eviction is ``addConditionAndDeletePod``: the pod is deleted with its own grace period,
reason ``TaintManagerEviction`` (upstream's event reason). Every pod gets tolerations for
the not-ready and unreachable taints at admission
(:mod:`k8sim.controllers.defaulttolerations`), so after a node failure pods are evicted
300 s after the node lifecycle controller taints the node.

Cheap when idle: it watches pod bindings only once some node has a NoExecute taint.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster.pods import BOUND, RUNNING
from k8sim.cluster.watch import NodeAdded, NodeUpdated, PodBound
from k8sim.component import Contribution
from k8sim.scheduling.plugins.taint_toleration import tolerates

if TYPE_CHECKING:
    from k8sim.cluster.api import ClusterAPI
    from k8sim.cluster.nodes import TaintSpec
    from k8sim.config.pods import Toleration

#: Reason of a pod deleted by taint-based eviction (upstream event reason).
TAINT_EVICTION = "TaintManagerEviction"
NO_EXECUTE = "NoExecute"


def min_toleration_time(used: list[Toleration]) -> float:
    """Upstream ``getMinTolerationTime``: seconds until eviction; -1 = never."""
    if not used:
        return 0.0
    best = math.inf
    for t in used:
        if t.toleration_seconds is not None:
            if t.toleration_seconds <= 0:
                return 0.0
            best = min(best, t.toleration_seconds)
    return -1.0 if math.isinf(best) else float(best)


class TaintEvictionController:
    """Evicts pods from NoExecute-tainted nodes (see the module docstring)."""

    name = "tainteviction"

    def __init__(self, api: ClusterAPI):
        self.api = api
        self.env = api.env
        self.state = api.state
        #: pod -> (created_at, trigger_at, token) of its scheduled eviction.
        self._scheduled: dict[int, tuple[float, float, int]] = {}
        self._tokens = 0
        self._watching_binds = False
        self.evicted = 0
        # Nodes with a NoExecute taint (bool[N]), valid while nodes.version is unchanged.
        self._mask_version = -1
        self._mask: np.ndarray = np.zeros(0, dtype=bool)
        api.bus.subscribe(NodeUpdated, self._on_node_updated)
        api.bus.subscribe(NodeAdded, self._on_node_added)
        if any(t.effect == NO_EXECUTE for t in self.state.nodes.taint_specs):
            self._watch_binds()

    def start(self) -> None:
        """Pods already on NoExecute-tainted nodes at start are processed."""
        nt = self.state.nodes
        for node in range(nt.n):
            if self._no_execute(node):
                self._process_node(node)

    def contribute(self) -> Contribution:
        return Contribution()

    # -- watch handlers ----------------------------------------------------------------

    def _watch_binds(self) -> None:
        if not self._watching_binds:
            self._watching_binds = True
            self.api.bus.subscribe(PodBound, self._on_bound)

    def _on_node_added(self, event: NodeAdded) -> None:
        if self._no_execute(event.node):
            self._watch_binds()

    def _on_node_updated(self, event: NodeUpdated) -> None:
        if event.what != "taints":
            return
        if self._no_execute(event.node):
            self._watch_binds()
        self._process_node(event.node)

    def _on_bound(self, event: PodBound) -> None:
        nt = self.state.nodes
        if self._mask_version != nt.version:  # taints changed (or nodes joined) since
            rows = [i for i, t in enumerate(nt.taint_specs) if t.effect == NO_EXECUTE]
            self._mask = np.asarray(nt.taints[rows].any(axis=0)) if rows else np.zeros(nt.n, dtype=bool)
            self._mask_version = nt.version
        if self._mask[event.node]:
            self._process_pod(event.pod, self._no_execute(event.node))

    # -- upstream's processPodOnNode ---------------------------------------------------

    def _no_execute(self, node: int) -> list[TaintSpec]:
        nt = self.state.nodes
        rows = np.flatnonzero(nt.taints[:, node])
        return [nt.taint_specs[r] for r in rows.tolist() if nt.taint_specs[r].effect == NO_EXECUTE]

    def _process_node(self, node: int) -> None:
        pods = self.state.pods
        n = pods.n
        phase = pods.phase[:n]
        on_node = np.flatnonzero((pods.node[:n] == node) & ((phase == BOUND) | (phase == RUNNING)))
        taints = self._no_execute(node)
        for pod in on_node.tolist():
            self._process_pod(pod, taints)

    def _process_pod(self, pod: int, taints: list[TaintSpec]) -> None:
        now = self.env.now
        if not taints:
            self._scheduled.pop(pod, None)
            return
        tolerations = self.state.shapes[int(self.state.pods.shape[pod])].tolerations
        used: list[Toleration] = []
        for taint in taints:
            match = next((t for t in tolerations if tolerates(t, taint)), None)
            if match is None:  # not tolerated: evict now
                self._schedule(pod, now, now)
                return
            used.append(match)
        wait = min_toleration_time(used)
        if wait < 0:  # tolerated for ever
            self._scheduled.pop(pod, None)
            return
        start, trigger = now, now + wait
        old = self._scheduled.get(pod)
        if old is not None:
            start = old[0]
            if start + wait < trigger:
                return
        self._schedule(pod, start, trigger)

    def _schedule(self, pod: int, created: float, trigger: float) -> None:
        self._tokens += 1
        token = self._tokens
        self._scheduled[pod] = (created, trigger, token)
        timer = self.env.timeout(max(0.0, trigger - self.env.now))
        timer.callbacks.append(partial(self._fire, pod, token))

    def _fire(self, pod: int, token: int, _event: object = None) -> None:
        entry = self._scheduled.get(pod)
        if entry is None or entry[2] != token:
            return  # cancelled or rescheduled
        del self._scheduled[pod]
        state = self.state
        if state.pods.phase[pod] not in (BOUND, RUNNING) or pod in state.terminating:
            return
        grace = state.shapes[int(state.pods.shape[pod])].termination_grace_s
        if self.api.delete_pod(pod, grace, TAINT_EVICTION):
            self.evicted += 1
