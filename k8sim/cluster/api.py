"""The Cluster API: the only door through which components change the cluster.

Kubernetes components never touch each other's state: they write objects to the API
server and watch it. k8sim's components (workload sources, the scheduler, the kubelet,
and later controllers, fault sources, autoscalers) do the same through one
:class:`ClusterAPI`. Each call does three things, in this order, in one place:

1. mutate the tables through :mod:`k8sim.cluster.ops` (which keeps the conservation
   invariants);
2. append the event-log row (:class:`~k8sim.cluster.log.EventLog`);
3. publish one typed watch event (:mod:`k8sim.cluster.watch`), delivered synchronously
   to the subscribers (the per-pod calls build no event of a type nobody watches).

The exceptions are stated per method: :meth:`record` only appends a log row (a
component's report, like upstream's Event objects) and :meth:`delete_pod` of a bound
pod writes no row (the kubelet logs ``Killing`` when it acts on the deletion, as
upstream's kubelet does).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from k8sim.cluster import ops
from k8sim.cluster.log import EventLog
from k8sim.cluster.pods import BOUND, FAILED, NO_OWNER, NO_REASON, PENDING, RUNNING, SUCCEEDED, UNSCHEDULABLE
from k8sim.cluster.watch import (
    NodeAdded,
    NodeDown,
    NodeRemoved,
    NodeUp,
    NodeUpdated,
    PodAdded,
    PodBound,
    PodDeleted,
    PodDeleting,
    PodNominated,
    PodRestarted,
    PodRunning,
    PodTerminated,
    WatchBus,
)

if TYPE_CHECKING:
    import simpy

    from k8sim.cluster.nodes import TaintSpec
    from k8sim.cluster.ops import ClusterState

#: An eviction check: ``check(pod, reason)`` is True when evicting the bound ``pod`` is
#: allowed now (a PodDisruptionBudget with disruptions left). A check that allows an
#: eviction may record it (upstream decrements the budget's ``disruptionsAllowed`` in the
#: same request).
EvictionCheck = Callable[[int, str], bool]

#: Log kind of an eviction refused by a check (upstream answers 429 TooManyRequests).
EVICTION_BLOCKED = "EvictionBlocked"
#: Log kind of a pod creation refused by admission (upstream controllers record an Event
#: with reason ``FailedCreate`` and the message ``Error creating: <the API's error>``).
FAILED_CREATE = "FailedCreate"


class AdmissionRefused(Exception):
    """A pod creation refused by an admission plugin (upstream answers 403 Forbidden:
    ``pods "<name>" is forbidden: <message>``). Nothing was created; the caller decides
    what to do (a controller retries with its back-off, an arrival is recorded as
    refused). ``message`` is the API's whole error text."""

    def __init__(self, name: str, reason: str, plugin: str):
        self.name = name
        self.reason = reason
        self.plugin = plugin
        self.message = f'pods "{name}" is forbidden: {reason}'
        super().__init__(self.message)


class Admission(Protocol):
    """A validating admission plugin on pod creation (ResourceQuota).

    ``check`` returns why the pod described by its arguments is refused (None: admitted);
    it may record the refusal. ``charge(pod)`` is called once the pod exists (after every
    plugin admitted it, or for a pod that already exists at time 0, which is charged
    without a check, as upstream's quota controller counts pods created before a quota)."""

    name: str

    def check(self, name: str, shape: int, workload: int, owner_kind: int, owner: int) -> str | None: ...

    def charge(self, pod: int) -> None: ...


class ClusterAPI:
    """Mutations of one run's tables, each logged and published.

    ``state`` holds the tables, ``log`` the event log, ``bus`` the watch bus; ``env``
    gives the virtual time of every change. Reading the tables directly is fine (they
    are the informer cache); writing them is not.
    """

    def __init__(self, env: simpy.Environment, state: ClusterState, log: EventLog | None = None,
                 bus: WatchBus | None = None):
        self.env = env
        self.state = state
        self.log = log if log is not None else EventLog()
        self.bus = bus if bus is not None else WatchBus()
        self._eviction_checks: list[EvictionCheck] = []
        self._admission: list[Admission] = []
        # The handler lists of the per-pod events (live: subscribing later appends to
        # them): a call builds its event only when someone watches it.
        bus = self.bus
        self._on_added = bus.handlers(PodAdded)
        self._on_bound = bus.handlers(PodBound)
        self._on_running = bus.handlers(PodRunning)
        self._on_terminated = bus.handlers(PodTerminated)
        # Their field subscribers (WatchBus.subscribe_fields): when every subscriber of a
        # type takes fields, the call builds no event object at all.
        self._added_fields = bus.field_handlers(PodAdded)
        self._bound_fields = bus.field_handlers(PodBound)
        self._running_fields = bus.field_handlers(PodRunning)
        self._terminated_fields = bus.field_handlers(PodTerminated)
        # The per-pod rows (PodCreated, Scheduled, Started, Completed: four a pod) are
        # appended here, column by column, rather than through ``log.event``: the same
        # row, the kind interned at its first row as ``event`` would.
        self._rows = self.log.appenders()
        self._kind_codes: dict[str, int] = {}

    def _code(self, kind: str) -> int:
        """The log's code of ``kind`` (interned at its first row, as ``log.event`` does)."""
        code = self._kind_codes[kind] = self.log.kind_code(kind)
        return code

    def _row(self, now: float, kind: str, pod: int, node: int) -> None:
        """``log.event(now, kind, pod, node)`` without a detail: the same row, appended
        column by column (one of the four rows every pod makes)."""
        code = self._kind_codes.get(kind)
        if code is None:
            code = self._code(kind)
        at, ak, ap, an, ad = self._rows
        at(now)
        ak(code)
        ap(pod)
        an(node)
        ad(0)

    @staticmethod
    def _publish(handlers: list, fields: list, event_type: Any, *args: Any) -> None:
        """Publish one per-pod event to its (non-empty) ``handlers``: by its fields when
        every subscriber takes fields (no event object), else as ``event_type(*args)``
        to every handler, in subscription order either way."""
        if len(fields) == len(handlers):
            for field_handler in fields:
                field_handler(*args)
        else:
            event = event_type(*args)
            for handler in handlers:
                handler(event)

    # -- pods -----------------------------------------------------------------------

    def create_pod(self, *, name: str, requests: np.ndarray, workload: int, index: int, shape: int,
                   priority: int, duration: float, start_latency: float, gpu_count: int = 0,
                   gpu_milli: int = 0, owner_kind: int = NO_OWNER, owner: int = 0, node: int = -1,
                   nonzero: np.ndarray | None = None, existing: bool = False) -> int:
        """A new Pending pod, created now; returns its row. ``node`` >= 0 preassigns it
        (``spec.nodeName``: the scheduler leaves it alone; bind it with :meth:`bind`).
        ``nonzero``: see :meth:`PodTable.append <k8sim.cluster.pods.PodTable.append>`.

        The admission plugins (:meth:`add_admission`) are asked first: a refusal logs a
        ``FailedCreate`` row (no pod) and raises :class:`AdmissionRefused`. ``existing``:
        the pod was there before the run (initial pods): charged, never refused."""
        now = self.env._now
        if self._admission and not existing:
            for plugin in self._admission:
                why = plugin.check(name, shape, workload, owner_kind, owner)
                if why is not None:
                    refused = AdmissionRefused(name, why, plugin.name)
                    self.log.event(now, FAILED_CREATE, -1, -1, f"Error creating: {refused.message}")
                    raise refused
        pod = self.state.pods.add(name, requests, workload, index, shape, priority, now, duration, start_latency,
                                  gpu_count, gpu_milli, owner_kind, owner, nonzero)
        if self._admission:
            for plugin in self._admission:
                plugin.charge(pod)
        self._row(now, "PodCreated", pod, -1)
        handlers = self._on_added
        if handlers:
            self._publish(handlers, self._added_fields, PodAdded, pod, node)
        return pod

    @property
    def admits_all(self) -> bool:
        """No admission plugin is registered (every creation is admitted)."""
        return not self._admission

    def create_reserved(self, name: str, start_latency: float) -> int:
        """:meth:`create_pod` of the pod whose values the pod table has at its next row
        (:meth:`PodTable.prefill <k8sim.cluster.pods.PodTable.prefill>`: a trace pod
        expected there), without a preassigned node: the same row, log row and event.
        Only while :attr:`admits_all` (the caller checks both)."""
        now = self.env._now
        pod = self.state.pods.add_reserved(name, now, start_latency)
        self._row(now, "PodCreated", pod, -1)
        handlers = self._on_added
        if handlers:
            self._publish(handlers, self._added_fields, PodAdded, pod, -1)
        return pod

    def add_admission(self, plugin: Admission) -> None:
        """Register a validating admission plugin that :meth:`create_pod` asks (in
        registration order; every one must admit)."""
        self._admission.append(plugin)

    def bind(self, pod: int, node: int, detail: str = "") -> None:
        """Bind a Pending pod to ``node`` (log ``Scheduled``)."""
        now = self.env._now
        ops.bind(self.state, pod, node, now)
        if detail:
            self.log.event(now, "Scheduled", pod, node, detail)
        else:
            self._row(now, "Scheduled", pod, node)
        handlers = self._on_bound
        if handlers:
            self._publish(handlers, self._bound_fields, PodBound, pod, node)

    def assume(self, pod: int, node: int, waiting: bool = False) -> None:
        """The scheduler assumes a Pending pod on ``node`` while its Binding call is in
        flight: the tables count it there (as upstream's scheduler cache does), but
        nothing is logged or published until :meth:`bind_assumed`. ``waiting``: the pod
        waits at Permit, so it has no scheduled time until it is bound."""
        ops.bind(self.state, pod, node, self.env.now)
        if waiting:
            ops.set_bound_time(self.state, pod, math.nan)

    def bind_assumed(self, pod: int, detail: str = "") -> None:
        """The Binding of a pod :meth:`assume` placed completes now (log ``Scheduled``,
        the pod's scheduled time is now, publish PodBound)."""
        now = self.env.now
        ops.set_bound_time(self.state, pod, now)
        node = int(self.state.pods.node[pod])
        self.log.event(now, "Scheduled", pod, node, detail)
        handlers = self._on_bound
        if handlers:
            self._publish(handlers, self._bound_fields, PodBound, pod, node)

    def forget_assumed(self, pod: int) -> int:
        """The scheduler gives up a pod it had assumed (:meth:`assume`; rejected at Permit):
        the pod is Pending again and its node's resources are free. Nothing was
        published for the assumption, so nothing is published now (the scheduler reports
        the rejection itself). Returns the node."""
        return ops.unassume(self.state, pod)

    def nominate(self, pod: int, node: int, victims: list[int]) -> None:
        """A preemptor is nominated to ``node`` while ``victims`` leave it (log
        ``Preempting`` naming the victims). Ask for the victims' deletion with
        :meth:`delete_pod`."""
        ops.nominate(self.state, pod, node)
        names = self.state.pods.names
        self.log.event(self.env.now, "Preempting", pod, node, f"victims: {', '.join(names[v] for v in victims)}")
        self.bus.publish(PodNominated(pod, node))

    def set_running(self, pod: int) -> None:
        """The pod's containers started (log ``Started``)."""
        now = self.env._now
        node = ops.set_running(self.state, pod, now)
        self._row(now, "Started", pod, node)
        handlers = self._on_running
        if handlers:
            self._publish(handlers, self._running_fields, PodRunning, pod, node)

    def container_restarted(self, pod: int, node: int) -> None:
        """The kubelet restarted a container of ``pod`` (it has counted it in
        ``restarts`` and logged why): publish :class:`PodRestarted`, no log row."""
        self.bus.publish(PodRestarted(pod, node))

    def terminate(self, pod: int, phase: int, kind: str | None = None,
                  exit_code: tuple[str, int] | None = None) -> int:
        """A bound pod ends in ``phase`` (Succeeded or Failed) and frees its node; log
        ``kind`` (default ``Completed`` / ``Failed``). ``exit_code``: the (container,
        exit code) the kubelet reports for a failed pod (``state.exit_codes``). Returns
        the node."""
        if phase != SUCCEEDED and phase != FAILED:
            raise ops.InvariantError(f"a pod ends Succeeded or Failed, not phase {phase}")
        if exit_code is not None:
            self.state.exit_codes[pod] = exit_code
        now = self.env._now
        node = ops.release(self.state, pod, phase, now)
        kind = kind or ("Completed" if phase == SUCCEEDED else "Failed")
        self._row(now, kind, pod, node)
        handlers = self._on_terminated
        if handlers:
            self._publish(handlers, self._terminated_fields, PodTerminated, pod, node, phase, kind)
        return node

    def delete_pod(self, pod: int, grace_s: float = 30.0, reason: str = "Deleted") -> bool:
        """Delete a pod (upstream's default ``terminationGracePeriodSeconds`` is 30 s).

        A bound pod is marked terminating and a :class:`PodDeleting` is published (no
        log row): its kubelet stops it, it keeps its resources for ``grace_s``, then ends
        Failed with ``reason``. A Pending pod leaves at once (phase Failed, log
        ``Deleted`` with ``reason``, :class:`PodDeleted`). Returns False when the pod
        has ended or is already terminating.
        """
        state = self.state
        if state.pods.phase[pod] == PENDING:
            now = self.env.now
            ops.drop(state, pod, now, NO_REASON)
            self.log.event(now, "Deleted", pod, -1, reason)
            self.bus.publish(PodDeleted(pod, reason))
            return True
        if not ops.mark_terminating(state, pod):
            return False
        self.bus.publish(PodDeleting(pod, int(state.pods.node[pod]), float(grace_s), reason))
        return True

    def add_eviction_check(self, check: EvictionCheck) -> None:
        """Register a check that :meth:`evict_pod` asks before evicting a bound pod
        (admission of the Eviction subresource: PodDisruptionBudgets). Checks are asked
        in registration order and every one must allow."""
        self._eviction_checks.append(check)

    def evict_pod(self, pod: int, reason: str = "Evicted", grace_s: float | None = None) -> bool:
        """A voluntary disruption through the Eviction API (``kubectl drain``): ask the
        eviction checks, then delete the pod with its ``terminationGracePeriodSeconds``
        (or ``grace_s``) and ``reason``. Returns False, with an ``EvictionBlocked`` log
        row, when a check refuses (the caller retries, as kubectl drain does every 5 s).

        As upstream's eviction handler (``pkg/registry/core/pod/storage/eviction.go``,
        ``canIgnorePDB``), a Pending pod is deleted without asking the checks, and a pod
        that has ended or is already terminating counts as evicted (True).
        """
        state = self.state
        phase = int(state.pods.phase[pod])
        if phase in (SUCCEEDED, FAILED) or pod in state.terminating:
            return True
        if phase in (BOUND, RUNNING):
            for check in self._eviction_checks:
                if not check(pod, reason):
                    self.log.event(self.env.now, EVICTION_BLOCKED, pod, int(state.pods.node[pod]),
                                   "Cannot evict pod as it would violate the pod's disruption budget")
                    return False
        if grace_s is None:
            grace_s = state.shapes[int(state.pods.shape[pod])].termination_grace_s
        self.delete_pod(pod, float(grace_s), reason)
        return True

    def drop(self, pod: int) -> None:
        """Give up on a Pending pod that could not be placed (phase Failed, reason
        Unschedulable; log ``Dropped``): trace replay in inflation mode."""
        now = self.env.now
        ops.drop(self.state, pod, now, UNSCHEDULABLE)
        self.log.event(now, "Dropped", pod, -1, "Unschedulable")
        self.bus.publish(PodDeleted(pod, "Unschedulable"))

    def record(self, kind: str, pod: int = -1, node: int = -1, detail: str = "") -> None:
        """A component's report (FailedScheduling, Killing, ErrImagePull, BackOff, ...):
        a log row only; the tables and the watchers are not involved."""
        self.log.event(self.env.now, kind, pod, node, detail)

    # -- nodes ----------------------------------------------------------------------

    def add_nodes(self, *, names: list[str], allocatable: np.ndarray, labels: list[dict[str, str]],
                  taints: list[TaintSpec], pool: int, gpus: tuple[int, str] | None = None,
                  ready: bool = True) -> list[int]:
        """Nodes of one shape join now (see :func:`k8sim.cluster.ops.add_nodes`); one
        ``NodeAdded`` row and event per node. Returns their columns."""
        now = self.env.now
        cols = ops.add_nodes(self.state, names=names, allocatable=allocatable, labels=labels, taints=taints,
                             pool=pool, now=now, ready=ready, gpus=gpus)
        for n in cols:
            self.log.event(now, "NodeAdded", -1, n)
        for n in cols:
            self.bus.publish(NodeAdded(n))
        return cols

    def add_node(self, *, name: str, allocatable: np.ndarray, labels: dict[str, str], taints: list[TaintSpec],
                 pool: int = -1, gpus: tuple[int, str] | None = None, ready: bool = True) -> int:
        """One node joins now; returns its column."""
        return self.add_nodes(names=[name], allocatable=allocatable, labels=[labels], taints=taints, pool=pool,
                              gpus=gpus, ready=ready)[0]

    def update_node(self, node: int, *, unschedulable: bool | None = None, ready: bool | None = None,
                    labels: dict[str, str] | None = None, taints: list[TaintSpec] | None = None) -> None:
        """Change a node: cordon / uncordon, Ready condition, labels or taints (each
        given one replaces the old). One ``NodeUpdated`` row and event per changed
        field, in that order."""
        state = self.state
        changes: list[tuple[str, str]] = []
        if unschedulable is not None:
            ops.set_unschedulable(state, node, unschedulable)
            changes.append(("unschedulable", "cordoned" if unschedulable else "uncordoned"))
        if ready is not None:
            ops.set_ready(state, node, ready)
            changes.append(("ready", "Ready" if ready else "NotReady"))
        if labels is not None:
            ops.set_labels(state, node, labels)
            changes.append(("labels", "labels " + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))))
        if taints is not None:
            ops.set_taints(state, node, taints)
            changes.append(("taints", "taints " + ",".join(f"{t.key}={t.value}:{t.effect}" for t in taints)))
        now = self.env.now
        for what, detail in changes:
            self.log.event(now, "NodeUpdated", -1, node, detail)
            self.bus.publish(NodeUpdated(node, what))

    def node_down(self, node: int, cause: str, partition: bool = False, not_ready: bool = False) -> None:
        """The machine under ``node`` stops (a fault; log ``NodeDown`` with ``cause``):
        its kubelet stops its pods and its heartbeats (:class:`NodeDown`). With
        ``partition`` only its link to the control plane is cut (detail ``<cause>
        (partition)``): the heartbeats stop, the containers go on. The node object is not
        changed: the node lifecycle controller marks it NotReady when the heartbeats have
        been missing for its grace period. With ``not_ready`` the machine and the kubelet
        run on (detail ``<cause> (not ready)``): the kubelet reports the node NotReady
        itself (the node lifecycle controller times the report)."""
        if not_ready:
            self.log.event(self.env.now, "NodeDown", -1, node, f"{cause} (not ready)")
            self.bus.publish(NodeDown(node, cause, False, True))
            return
        ops.set_up(self.state, node, False)
        self.log.event(self.env.now, "NodeDown", -1, node, f"{cause} (partition)" if partition else cause)
        self.bus.publish(NodeDown(node, cause, partition))

    def node_up(self, node: int) -> None:
        """The machine under ``node`` runs again (log ``NodeUp``): its kubelet restarts
        (:class:`NodeUp`) and reports Ready."""
        ops.set_up(self.state, node, True)
        self.log.event(self.env.now, "NodeUp", -1, node)
        self.bus.publish(NodeUp(node))

    def remove_node(self, node: int) -> None:
        """A node leaves now (log ``NodeRemoved``). Pods still bound there are the
        watchers' business (the kubelet stops them)."""
        now = self.env.now
        ops.remove_node(self.state, node, now)
        self.log.event(now, "NodeRemoved", -1, node)
        self.bus.publish(NodeRemoved(node))
