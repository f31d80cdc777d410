"""The watch bus: typed events about pods and nodes, delivered to subscribers.

Kubernetes components learn what changed through watches on the API server (informers).
k8sim has the same shape: every change made through the Cluster API
(:mod:`k8sim.cluster.api`) publishes exactly one event here, after the tables have
changed and the event-log row has been written. Delivery is synchronous, at the same
virtual instant, to the subscribers of the event's type in the order they subscribed,
so runs stay deterministic. A handler may call the API again (its events are delivered
at once, depth first); it must not assume anything about handlers after it.

Events carry table rows (pod and node indices), never objects: the tables are the state.
The bus is on the hot path (about four events per pod), so events are slotted
dataclasses and publishing is one dict lookup and a loop over a short list; the Cluster
API's per-pod calls keep the handler lists (:meth:`WatchBus.handlers`) and build no
event of a type nobody subscribed to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar


@dataclass(slots=True)
class PodAdded:
    """A pod was created (phase Pending). ``node`` is its preassigned node
    (``spec.nodeName`` of a pod that bypasses the scheduler), -1 for a pod to schedule."""

    pod: int
    node: int = -1


@dataclass(slots=True)
class PodBound:
    """A Pending pod was bound to ``node`` (its resources are counted there now)."""

    pod: int
    node: int


@dataclass(slots=True)
class PodNominated:
    """A preemptor was nominated to ``node`` (upstream ``status.nominatedNodeName``)."""

    pod: int
    node: int


@dataclass(slots=True)
class PodRunning:
    """A bound pod's containers started (phase Running)."""

    pod: int
    node: int


@dataclass(slots=True)
class PodDeleting:
    """Deletion of a bound pod was requested (upstream: ``deletionTimestamp`` set). The
    kubelet stops it; it keeps its resources for ``grace_s`` seconds, then ends Failed
    with ``reason`` (a :class:`PodTerminated` follows)."""

    pod: int
    node: int
    grace_s: float
    reason: str


@dataclass(slots=True)
class PodTerminated:
    """A bound pod ended: ``phase`` is Succeeded or Failed (codes of
    :mod:`k8sim.cluster.pods`), ``reason`` the event-log kind (Completed, Failed,
    Preempted, ...). Its resources on ``node`` are free again."""

    pod: int
    node: int
    phase: int
    reason: str


@dataclass(slots=True)
class PodDeleted:
    """A pod that was never bound left the cluster (e.g. given up as unschedulable, or
    deleted while Pending); ``reason`` says why."""

    pod: int
    reason: str


@dataclass(slots=True)
class NodeAdded:
    """A node joined the cluster."""

    node: int


@dataclass(slots=True)
class NodeUpdated:
    """A node changed: ``what`` is one of ``"unschedulable"`` (cordon / uncordon),
    ``"ready"``, ``"labels"``, ``"taints"``."""

    node: int
    what: str


@dataclass(slots=True)
class NodeRemoved:
    """A node left the cluster (its column stays in the tables, marked removed)."""

    node: int


@dataclass(slots=True)
class NodeDown:
    """The machine under ``node`` stopped (a fault: crash, power loss, partition): its
    kubelet no longer runs its pods nor reports. This is the infrastructure, not the API
    server: the node object is unchanged until the node lifecycle controller notices the
    missing heartbeats. ``cause`` names the fault source. ``partition``: only the link
    to the control plane is cut; the machine and its containers go on running."""

    node: int
    cause: str
    partition: bool = False
    #: The kubelet runs on (and so do the containers) but reports the node NotReady
    #: (Ready=False) at its next status update.
    not_ready: bool = False


@dataclass(slots=True)
class NodeUp:
    """The machine under ``node`` runs again: its kubelet restarts and reports Ready."""

    node: int


@dataclass(slots=True)
class PodRestarted:
    """The kubelet restarted a container of ``pod`` (its ``restarts`` grew): upstream a
    pod status update with a higher ``restartCount`` (the Job controller counts them
    toward ``backoffLimit`` under ``restartPolicy: OnFailure``)."""

    pod: int
    node: int


@dataclass(slots=True)
class ClaimBound:
    """A PersistentVolumeClaim (``claim``: its index in ``ClusterState.volumes.claims``)
    was bound to a volume after its creation (Immediate provisioning): upstream a claim
    update, which sends the pods VolumeBinding rejected back to the scheduling queue."""

    claim: int


#: Every event type, in a stable order (documentation and tests).
EVENT_TYPES: tuple[type, ...] = (PodAdded, PodBound, PodNominated, PodRunning, PodDeleting, PodTerminated,
                                 PodDeleted, NodeAdded, NodeUpdated, NodeRemoved, NodeDown, NodeUp, PodRestarted,
                                 ClaimBound)

E = TypeVar("E")
Handler = Callable[[Any], None]


class WatchBus:
    """Subscriptions by event type; :meth:`publish` calls the handlers in order."""

    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = {t: [] for t in EVENT_TYPES}
        self._fields: dict[type, list[Callable[..., None]]] = {t: [] for t in EVENT_TYPES}

    def subscribe(self, event_type: type[E], handler: Callable[[E], None]) -> None:
        """Call ``handler(event)`` for every published event of ``event_type``, after
        the handlers that subscribed before."""
        if event_type not in self._handlers:
            raise TypeError(f"{event_type!r} is not a watch event type (see EVENT_TYPES)")
        self._handlers[event_type].append(handler)

    def subscribe_fields(self, event_type: type, handler: Callable[..., None]) -> None:
        """Call ``handler(*fields)`` (the event's fields by position, e.g. ``(pod,
        node)`` of a :class:`PodBound`) for every published event of ``event_type``,
        after the handlers that subscribed before, like :meth:`subscribe`. A hot
        publisher whose subscribers all take fields builds no event object
        (:meth:`field_handlers`); :meth:`publish` calls such a handler with the
        event's fields."""
        if event_type not in self._handlers:
            raise TypeError(f"{event_type!r} is not a watch event type (see EVENT_TYPES)")
        names = event_type.__slots__  # type: ignore[attr-defined]  # every event type is slotted

        def adapter(event: Any) -> None:
            handler(*[getattr(event, n) for n in names])

        self._handlers[event_type].append(adapter)
        self._fields[event_type].append(handler)

    def publish(self, event: Any) -> None:
        """Deliver ``event`` to its subscribers, now."""
        for handler in self._handlers[type(event)]:
            handler(event)

    def handlers(self, event_type: type) -> list[Handler]:
        """The live list of ``event_type``'s handlers (read only: :meth:`subscribe`
        appends to this very list, so a publisher may keep it). A hot publisher checks
        it before building an event, so an event nobody watches costs no object:
        ``if hs: ev = PodRunning(...); for h in hs: h(ev)``, as :meth:`publish` does."""
        return self._handlers[event_type]

    def field_handlers(self, event_type: type) -> list[Callable[..., None]]:
        """The live list of ``event_type``'s :meth:`subscribe_fields` handlers (read
        only). When it is as long as :meth:`handlers`, every subscriber takes fields,
        in the same order, and a publisher may call them without building the event:
        ``if len(fs) == len(hs): for f in fs: f(pod, node)``."""
        return self._fields[event_type]

    def subscribers(self, event_type: type) -> int:
        """How many handlers watch ``event_type``."""
        return len(self._handlers[event_type])
