"""The Permit extension point and the waiting pods it creates.

Upstream (``pkg/scheduler/schedule_one.go``, ``schedulingCycle`` and ``bindingCycle``;
``pkg/scheduler/framework/runtime/framework.go``, ``RunPermitPlugins`` and
``WaitOnPermit``; ``waiting_pods_map.go``): once Reserve has run, every Permit plugin
answers Success, Wait (with a timeout) or a rejection. A pod that some plugin asks to
wait stays *assumed* on its node (the scheduler cache counts its requests there, so
other pods cannot take the room) while its binding cycle blocks in ``WaitOnPermit``;
the scheduler goes on with other pods. A plugin later *allows* it (the binding cycle
binds it) or *rejects* it; each waiting plugin's timeout rejects it by itself
("rejected due to timeout after waiting ... at plugin ..."). A rejected pod goes through
``handleBindingCycleError``: the Reserve plugins' Unreserve run, the assumed pod is
forgotten (its room is free again: an AssignedPodDelete cluster event for the waiting
pods), and the failure handler puts it back in the scheduling queue.

In k8sim the assumed pod is bound in the tables (``ClusterAPI.assume``) with nothing
published; allowing it publishes the binding (``bind_assumed``), rejecting it undoes
the assumption (``ClusterAPI.forget_assumed``). A profile without Permit plugins never
reaches any of this: its cycle binds as before.

A Permit plugin subclasses :class:`PermitPlugin`; the scheduler gives it a
:class:`PermitHandle` (upstream's ``framework.Handle`` methods ``IterateOverWaitingPods``,
``GetWaitingPod``, ``Activate`` through ``PodsToActivate``) before the first cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from k8sim.scheduling.plugins.base import Plugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState

#: Permit answers (upstream ``fwk.Success``, ``fwk.Wait``, ``fwk.Unschedulable``).
ALLOW, WAIT, REJECT = "Success", "Wait", "Unschedulable"


@dataclass
class WaitingPod:
    """A pod assumed on ``node`` and waiting at Permit since ``since``; ``pending``
    maps each plugin that has not allowed it yet to the time its timeout rejects it."""

    pod: int
    node: int
    since: float
    pending: dict[str, float] = field(default_factory=dict)
    moves: int = 0  # the scheduler's cluster-event count when its cycle ran
    profile: Any = None


class PermitHandle(Protocol):
    """What the scheduler lets Permit plugins do (upstream ``framework.Handle``)."""

    def waiting(self, pod: int) -> WaitingPod | None:
        """The pod's :class:`WaitingPod`, or None (``GetWaitingPod``)."""

    def allow(self, pod: int, plugin: str) -> None:
        """``WaitingPod.Allow(plugin)``: once no plugin is pending, the pod is bound."""

    def reject(self, pod: int, plugin: str, message: str) -> None:
        """``WaitingPod.Reject(plugin, message)``: the pod is unreserved and requeued."""

    def activate(self, pods: list[int]) -> None:
        """Move those pods from unschedulablePods or backoffQ to activeQ (``Activate``)."""

    @property
    def cluster_changes(self) -> int:
        """How many cluster events (pods bound or ended, nodes added or changed) the
        scheduler has seen: unchanged means nothing outside the scheduler moved."""


class PermitPlugin(Plugin):
    """A plugin with Permit (and the hooks gang scheduling needs around it).

    Besides :meth:`permit` it may implement QueueSort (:meth:`queue_key`), a per-pod
    PreFilter (:meth:`pre_filter_pod`, for checks that depend on the pod row rather
    than its shape), PostFilter (:meth:`post_filter_pod`) and Unreserve
    (:meth:`unreserve`); the defaults do nothing. ``handle`` is set by the scheduler.
    """

    #: The queue order this plugin imposes (QueueSort) when it defines :meth:`queue_key`.
    queue_sort: ClassVar[bool] = False

    def __init__(self, args: Any = None) -> None:
        super().__init__(args)
        self.permit_handle: PermitHandle | None = None

    def bind_scheduler(self, handle: PermitHandle, state: ClusterState) -> None:
        """Called once by the scheduler before the first cycle."""
        self.permit_handle = handle

    def queue_key(self, pod: int) -> tuple:
        """QueueSort: activeQ pops the smallest key first."""
        raise NotImplementedError

    def pre_filter_pod(self, state: ClusterState, pod: int, now: float) -> str | None:
        """PreFilter for the pod row: a message rejects the pod on every node
        (``UnschedulableAndUnresolvable``), None lets it through."""
        return None

    def post_filter_pod(self, state: ClusterState, pod: int, now: float) -> None:
        """PostFilter after a failed cycle (after DefaultPreemption found no victims)."""

    def permit(self, state: ClusterState, pod: int, node: int, now: float) -> tuple[str, float]:
        """Permit: (:data:`ALLOW`, 0), (:data:`WAIT`, timeout seconds) or
        (:data:`REJECT`, 0)."""
        return ALLOW, 0.0

    def unreserve(self, state: ClusterState, pod: int, reason: str, now: float) -> None:
        """Unreserve of a pod rejected at Permit (``reason``: "timeout", "rejected",
        "deleted")."""

    def cluster_event(self, now: float) -> None:
        """A cluster event happened (the scheduler calls this after moving pods)."""

    def why_pending(self, state: ClusterState, pod: int, now: float) -> str | None:
        """For ``k8sim explain``: why this pod (and its group) waits, or None."""
        return None
