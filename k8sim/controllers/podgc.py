"""The pod garbage collector: the pods of a deleted node are force-deleted once the node
has been missing for the quarantine time.

Upstream ``pkg/controller/podgc/gc_controller.go``. ``gc`` runs every ``gcCheckPeriod``
(20 s); ``gcOrphaned`` puts each node that pods are bound to but the node informer no
longer has on a delaying queue for ``quarantineTime`` (40 s), and a later pass that finds
the node still gone (``discoverDeletedNodes``) marks its pods Failed with the condition
``DisruptionTarget`` (reason ``DeletionByPodGC``) and deletes them with grace 0. Until
then the pods stay bound, in the phase they had: their controllers see nothing and
create no replacement.

k8sim's passes run at ``k * gc_check_period_s`` from time 0. A node deleted at ``t_d`` is
first seen by the pass at ``p = ceil(t_d / P) * P`` (a pass at the deletion's instant sees
it), and its pods are deleted by the first pass at or after ``p + quarantine``: with the
defaults, ``p + 40``, so 40 to 60 s after the deletion. The deleted pods end Failed with
reason ``NodeLost`` (their controllers' cause for the loss), at once (their containers went
with the machine). Pods already terminating when their node went finish their own grace
period; deletions a partitioned kubelet had not heard of take effect at the collection
too (:meth:`k8sim.runtime.kubelet.Kubelet.force_delete`).

Not modelled, since nothing in k8sim depends on them: ``gcTerminated`` (deletes terminated
pods beyond ``--terminated-pod-gc-threshold``, 12500: terminated pods hold nothing and every
pod keeps its row in the results), ``gcUnscheduledTerminating`` (a Pending pod that is
deleted leaves at once in k8sim) and ``gcTerminating`` (the ``out-of-service`` taint).

Event driven: a pass is scheduled only for a deleted node, so runs without node deletions
pay nothing.
"""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.cluster.pods import BOUND, RUNNING
from k8sim.cluster.watch import NodeRemoved
from k8sim.component import Contribution
from k8sim.runtime.kubelet import NODE_LOST  # the reason of the pods the collector deletes

if TYPE_CHECKING:
    from k8sim.cluster.api import ClusterAPI
    from k8sim.config.faults import PodGCSettings

_EPS = 1e-9


def collection_time(removed_at: float, period: float, quarantine: float) -> float:
    """When the pods of a node deleted at ``removed_at`` are deleted: the first pass
    (every ``period`` from 0) at or after the end of the quarantine that began at the
    first pass at or after the deletion."""
    p = math.ceil(removed_at / period - _EPS) * period
    return math.ceil((p + quarantine) / period - _EPS) * period


class PodGC:
    """Force-deletes the pods of deleted nodes after the quarantine (module docstring)."""

    name = "podgc"

    def __init__(self, api: ClusterAPI, settings: PodGCSettings, kubelet: Any = None):
        self.api = api
        self.kubelet = kubelet  # its force_delete(node): deletions a partitioned kubelet missed
        self.env = api.env
        self.period = settings.gc_check_period_s
        self.quarantine = settings.quarantine_s
        #: (node, pass time) of every collection, for tests and the record.
        self.collections: list[tuple[int, float]] = []
        api.bus.subscribe(NodeRemoved, self._on_removed)

    def start(self) -> None:
        """Nothing to start: passes follow node deletions."""

    def contribute(self) -> Contribution:
        return Contribution()

    def _on_removed(self, event: NodeRemoved) -> None:
        at = collection_time(self.env.now, self.period, self.quarantine)
        timer = self.env.timeout(at - self.env.now)
        timer.callbacks.append(partial(self._collect, event.node))

    def _collect(self, node: int, _event: object = None) -> None:
        """``gcOrphaned`` for ``node``: delete its pods (grace 0)."""
        state = self.api.state
        pods = state.pods
        n = pods.n
        phase = pods.phase[:n]
        orphans = np.flatnonzero((pods.node[:n] == node) & ((phase == BOUND) | (phase == RUNNING)))
        self.collections.append((node, float(self.env.now)))
        if self.kubelet is not None:
            self.kubelet.force_delete(node)
        for pod in orphans.tolist():
            if pod not in state.terminating:
                self.api.delete_pod(pod, 0.0, NODE_LOST)
