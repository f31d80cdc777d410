"""The ReplicaSet controller (upstream ``pkg/controller/replicaset/replica_set.go``).

A component that keeps, for each ReplicaSet, ``replicas`` active pods (not terminal and
not terminating: ``controller.FilterActivePods``). It watches its pods through the watch
bus; a pod that leaves (deleted, preempted, evicted, lost with its node, failed,
completed) makes the ReplicaSet's key enter the work queue, and the sync, a reaction
latency later (:mod:`k8sim.controllers.queue`), runs ``manageReplicas``:

- too few pods: create ``min(diff, burstReplicas = 500)`` in ``slowStartBatch`` batches
  (1, 2, 4, ...); the rest in the next sync, which the creations' watch events trigger
  upstream (here the sync re-queues itself);
- too many: delete ``min(diff, 500)`` chosen by :func:`~k8sim.controllers.ranking.
  deletion_order` (``getPodsToDelete``: ranks = related active pods on the same node,
  related = the pods of every ReplicaSet of the same Deployment), each with its
  template's ``terminationGracePeriodSeconds``.

Upstream's *expectations* (``ControllerExpectations``: do not act again before the
informer has seen the previous creations) are not needed: the watch bus delivers a
creation synchronously, so the cache is never behind.

Pods are named ``<replicaset>-<5 characters>`` as upstream (a fixed scramble of a
counter in upstream's safe alphabet, unique per ReplicaSet, so names repeat across runs).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from k8sim.cluster.api import AdmissionRefused
from k8sim.cluster.pods import FAILED, OWNER_KINDS
from k8sim.cluster.watch import PodDeleted, PodDeleting, PodRunning, PodTerminated
from k8sim.component import Contribution
from k8sim.config.distributions import ConstantDistribution
from k8sim.controllers.queue import WorkQueue
from k8sim.controllers.ranking import BURST_REPLICAS, deletion_order, slow_start_batches
from k8sim.controllers.store import SCALED_DOWN, PodMaker, ReplicaSetObj, object_key
from k8sim.rng import BlockSampler

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.controllers import ControllerTiming
    from k8sim.config.pods import PodTemplate
    from k8sim.controllers.store import AppStore

RS_KIND = OWNER_KINDS.index("ReplicaSet")
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SPACE = len(_ALPHABET) ** 5


def pod_suffix(rs_name: str, k: int) -> str:
    """The ``k``-th pod's name suffix: 5 characters of upstream's alphabet, distinct for
    every ``k < 27**5`` (an affine map with a multiplier prime to 27)."""
    x = (k * 2654435761 + object_key(rs_name)) % _SPACE
    out = []
    for _ in range(5):
        out.append(_ALPHABET[x % 27])
        x //= 27
    return "".join(out)


def latency_sampler(ctx: Context, timing: ControllerTiming, name: str,
                    object_name: Callable[[Any], str]) -> Callable[[Any], float] | None:
    """The reaction-latency draws of one controller: one stream per controller and
    object (``object_name(key)``), so an object's latencies do not depend on the other
    objects' activity (common random numbers across policies). None for a constant 0."""
    d = timing.reaction_latency
    if isinstance(d, ConstantDistribution) and float(d.value) == 0.0:
        return None
    samplers: dict[str, BlockSampler] = {}
    ctl = object_key(name)

    def draw(key: Any) -> float:
        obj = object_name(key)
        s = samplers.get(obj)
        if s is None:
            s = samplers[obj] = BlockSampler(d, ctx.streams.generator("controller-latency", ctl, object_key(obj)))
        return s.next()

    return draw


class PodOwnerController:
    """What the ReplicaSet, StatefulSet and DaemonSet controllers share: a work queue over
    the rows of their objects (``objects()``; each key synced a reaction latency after it
    is added) and the pod events they react to, subscribed in this order. A subclass sets
    ``name`` and ``syncs_key`` and defines ``sync`` and the four handlers."""

    name = ""
    syncs_key = ""  # provenance entry: how many syncs ran

    def __init__(self, ctx: Context, store: AppStore, timing: ControllerTiming, objects: Callable[[], list[Any]]):
        self.ctx = ctx
        self.store = store
        self.env = ctx.env
        self.queue = WorkQueue(ctx.env, self.sync, latency_sampler(
            ctx, timing, self.name, lambda row: f"{objects()[row].namespace}/{objects()[row].name}"))
        bus = ctx.api.bus
        bus.subscribe(PodDeleting, self._on_deleting)
        bus.subscribe(PodTerminated, self._on_terminated)
        bus.subscribe(PodDeleted, self._on_deleted)
        bus.subscribe(PodRunning, self._on_running)

    def start(self) -> None:
        """Nothing to start: syncs follow object changes and pod events."""

    def contribute(self) -> Contribution:
        return Contribution(provenance={self.syncs_key: self.queue.syncs})

    def sync(self, row: int) -> None:
        raise NotImplementedError

    def _on_deleting(self, e: PodDeleting) -> None:
        raise NotImplementedError

    def _on_terminated(self, e: PodTerminated) -> None:
        raise NotImplementedError

    def _on_deleted(self, e: PodDeleted) -> None:
        raise NotImplementedError

    def _on_running(self, e: PodRunning) -> None:
        raise NotImplementedError


class ReplicaSetController(PodOwnerController):
    """Every ReplicaSet of the run (see the module docstring)."""

    name = "replicaset-controller"
    syncs_key = "replicaset_syncs"

    def __init__(self, ctx: Context, store: AppStore, timing: ControllerTiming):
        super().__init__(ctx, store, timing, lambda: store.replicasets)

    # -- the objects --------------------------------------------------------------------

    def create(self, *, name: str, namespace: str, template: PodTemplate, hash: str, replicas: int,
               min_ready_s: float, maker: PodMaker, deployment: int = -1, revision: int = 0) -> int:
        """A new ReplicaSet (now); returns its row."""
        store = self.store
        rs = ReplicaSetObj(row=len(store.replicasets), name=name, namespace=namespace, template=template, hash=hash,
                           replicas=replicas, min_ready_s=min_ready_s, maker=maker, created=self.env.now,
                           deployment=deployment, revision=revision, desired_annotation=replicas)
        store.replicasets.append(rs)
        if deployment < 0:
            store.desired("ReplicaSet", rs.name, namespace, replicas)
        self.ctx.api.record("SuccessfulCreate", detail=f"created ReplicaSet {rs.display} with {replicas} replicas")
        self.queue.add(rs.row)
        return rs.row

    def scale(self, row: int, replicas: int) -> None:
        """Set ``spec.replicas`` (upstream: the Deployment controller or a user updates
        the object); the sync follows after the reaction latency."""
        rs = self.store.replicasets[row]
        if rs.replicas == replicas:
            return
        rs.replicas = replicas
        if rs.deployment < 0:
            self.store.desired("ReplicaSet", rs.name, rs.namespace, replicas)
        self.queue.add(row)

    def delete(self, row: int) -> None:
        """Delete the ReplicaSet; its pods go with it (background cascading deletion)."""
        rs = self.store.replicasets[row]
        rs.deleted = True
        self.scale(row, 0)

    # -- status -------------------------------------------------------------------------

    def status(self, row: int) -> tuple[int, int, int]:
        """``(replicas, readyReplicas, availableReplicas)`` of the ReplicaSet now
        (``calculateStatus`` over its active pods; kept up to date by the watch
        handlers, so reading it costs nothing)."""
        rs = self.store.replicasets[row]
        return len(rs.active), len(rs.ready), len(rs.available)

    # -- watch handlers -----------------------------------------------------------------

    def _mine(self, pod: int) -> ReplicaSetObj | None:
        pods = self.ctx.state.pods
        if pods.owner_kind[pod] != RS_KIND:
            return None
        return self.store.replicasets[int(pods.owner[pod])]

    def _inactive(self, rs: ReplicaSetObj, pod: int) -> None:
        del rs.active[pod]
        rs.ready.discard(pod)
        rs.available.discard(pod)

    def _gone(self, rs: ReplicaSetObj, pod: int, cause: str) -> None:
        if cause != SCALED_DOWN:
            self.store.lost(RS_KIND, rs.row, pod, cause)
        self.queue.add(rs.row)
        for fn in self.store.rs_listeners:
            fn(rs.row)

    def _on_deleting(self, e: PodDeleting) -> None:
        rs = self._mine(e.pod)
        if rs is not None and e.pod in rs.active:
            self._inactive(rs, e.pod)
            self._gone(rs, e.pod, e.reason)

    def _on_terminated(self, e: PodTerminated) -> None:
        rs = self._mine(e.pod)
        if rs is None:
            return
        rs.pods.pop(e.pod, None)
        if e.pod in rs.active:  # ended on its own (completed or failed), not deleted
            self._inactive(rs, e.pod)
            self._gone(rs, e.pod, e.reason if e.phase == FAILED else "Completed")
        elif self.store.rs_listeners:
            for fn in self.store.rs_listeners:  # a terminating pod is gone (Recreate waits for this)
                fn(rs.row)

    def _on_deleted(self, e: PodDeleted) -> None:
        rs = self._mine(e.pod)
        if rs is None:
            return
        rs.pods.pop(e.pod, None)
        if e.pod in rs.active:
            self._inactive(rs, e.pod)
            self._gone(rs, e.pod, e.reason)

    def _on_running(self, e: PodRunning) -> None:
        rs = self._mine(e.pod)
        if rs is None:
            return
        ready = float(self.ctx.state.pods.ready[e.pod])
        if math.isnan(ready):
            # A runtime model with restarts writes the ready time once its run starts,
            # just after Running is published: read it then.
            pod = e.pod

            def later(_e: object) -> None:
                r = float(self.ctx.state.pods.ready[pod])
                if not math.isnan(r):
                    self._track(rs, pod, r)

            self.env.timeout(0).callbacks.append(later)
        else:
            self._track(rs, e.pod, ready)

    def _track(self, rs: ReplicaSetObj, pod: int, ready: float) -> None:
        """Count the pod Ready at ``ready`` and available ``minReadySeconds`` later (the
        Deployment controller hears of the latter, as of an upstream status update)."""
        now = self.env.now

        def mark_ready(_e: object = None) -> None:
            if pod in rs.active:
                rs.ready.add(pod)

        def mark_available(_e: object = None) -> None:
            if pod in rs.active:
                rs.available.add(pod)
                for fn in self.store.available_listeners:
                    fn(rs.row)

        if ready <= now:
            mark_ready()
        else:
            self.env.timeout(ready - now).callbacks.append(mark_ready)
        at = ready + rs.min_ready_s
        if at <= now:
            mark_available()
        else:
            self.env.timeout(at - now).callbacks.append(mark_available)

    # -- sync ---------------------------------------------------------------------------

    def sync(self, row: int) -> None:
        """``syncReplicaSet`` -> ``manageReplicas``."""
        rs = self.store.replicasets[row]
        diff = len(rs.active) - rs.replicas
        if diff < 0:
            n = min(-diff, BURST_REPLICAS)
            maker = rs.maker
            refused = False
            for batch in slow_start_batches(n):
                for _ in range(batch):
                    name = f"{rs.display}-{pod_suffix(rs.name, rs.next_pod)}"
                    rs.next_pod += 1
                    try:
                        pod = maker.create(name, RS_KIND, rs.row)
                    except AdmissionRefused:
                        refused = True  # the API logged FailedCreate
                        continue
                    rs.pods[pod] = None
                    rs.active[pod] = None
                if refused:
                    # slowStartBatch stops after a batch with an error; manageReplicas
                    # returns it and the sync is retried with the queue's back-off.
                    break
            if refused:
                self.queue.add_rate_limited(row)
            else:
                self.queue.forget(row)
                if -diff > BURST_REPLICAS:
                    self.queue.add(row)
            for fn in self.store.rs_listeners:
                fn(row)
        else:
            self.queue.forget(row)
        if diff > 0:
            n = min(diff, BURST_REPLICAS)
            victims = self.pods_to_delete(rs, n)
            grace = rs.maker.info.termination_grace_s
            api = self.ctx.api
            for pod in victims:
                # Out of the active set first: the watch events of our own deletion are
                # not losses (a Pending pod leaves at once and _on_deleted drops it).
                self._inactive(rs, pod)
                api.delete_pod(pod, grace, SCALED_DOWN)
            if diff > BURST_REPLICAS:
                self.queue.add(row)
            for fn in self.store.rs_listeners:
                fn(row)

    def pods_to_delete(self, rs: ReplicaSetObj, n: int) -> list[int]:
        """``getPodsToDelete``: rank the active pods by related active pods on the same
        node, sort with ``ActivePodsWithRanks``, take the first ``n``."""
        candidates = list(rs.active)
        if n >= len(candidates):
            return candidates
        related = [rs]
        if rs.deployment >= 0:
            related = [r for r in self.store.replicasets if r.deployment == rs.deployment]
        node = self.ctx.state.pods.node
        on_node: dict[int, int] = {}
        for r in related:
            for p in r.active:
                k = int(node[p])
                on_node[k] = on_node.get(k, 0) + 1
        ranks = [on_node.get(int(node[p]), 0) for p in candidates]
        return deletion_order(self.ctx.state.pods, candidates, ranks, self.env.now)[:n]
