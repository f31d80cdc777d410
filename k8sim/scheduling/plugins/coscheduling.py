"""Coscheduling: gang scheduling as the scheduler-plugins project does it.

Follows ``kubernetes-sigs/scheduler-plugins`` ``pkg/coscheduling/coscheduling.go``
(the plugin) and ``pkg/coscheduling/core/core.go`` (``PodGroupManager``); defaults of
``apis/config/v1/defaults.go``; ``pkg/util/podgroup.go`` (``GetWaitTimeDuration``).
Pods join a PodGroup (:mod:`k8sim.batch.podgroups`); pods without one pass every hook
unchanged.

- **QueueSort** (``Less``): higher priority first; then the earlier "creation time",
  which is the PodGroup's creation time, or the time of its last scheduling failure
  (``lastFailedSchedulePG``, so a failing group does not block the head of the queue),
  or for a pod without a group its own (k8sim: its creation time, upstream its
  initial attempt timestamp); then ``namespace/podname``. Members of one group thus come
  out together, in pod-name order.
- **PreFilter**: a pod of a group that is backed off (``podGroupBackoffSeconds``) is
  rejected; so is one whose group has fewer than ``minMember`` pods; with
  ``minResources``, the cluster's free resources (counting the group's own pods' as
  free, and ``pods`` = ``minMember``) must cover them, summed over all nodes
  (``CheckClusterResource``), checked again at most once per
  ``permitWaitingTimeSeconds`` after a pass (``permittedPG``). A rejection is
  ``UnschedulableAndUnresolvable``: no preemption.
- **PostFilter**: when a member fails and the group has fewer than ``minMember``
  assigned (assumed or bound) pods, and the missing share exceeds
  ``podGroupRejectPercentage`` (10 %), every waiting member is rejected ("optimistic
  rejection in PostFilter"), the group is backed off if so configured, and its failure
  time is recorded.
- **Permit**: the pod joins the group's assigned set; with ``minMember`` assigned every
  waiting member is allowed and the pod passes; otherwise it waits, for the group's
  ``scheduleTimeoutSeconds`` or ``permitWaitingTimeSeconds`` (60 s). The first waiting
  member activates its siblings (moves them to activeQ).
- **Unreserve** (a waiting member rejected, by its timeout or otherwise): it leaves the
  assigned set and every other waiting member is rejected too, so a timeout releases
  the whole group's reservations at once.
- Events (``EventsToRegister``): a pod this plugin rejected is retried on Pod Add
  (in k8sim: a pod bound) or by the periodic flush of unschedulable pods.

One addition of k8sim's own: upstream a group that can never complete while the
cluster stays as it is (e.g. 2 of its 4 pods fit) is rejected and retried at the
scheduler's full speed, each waiting member activating its siblings, until something
changes. k8sim's cycles take no virtual time, so that loop would never end: a group
whose members are rejected in PostFilter a second time with no cluster event in
between is *parked* (its pods fail PreFilter) until the next cluster event, which
activates them again. The tables are the same as after upstream's spin.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from k8sim.cluster.pods import SUCCEEDED
from k8sim.scheduling.permit import ALLOW, WAIT, PermitHandle, PermitPlugin
from k8sim.scheduling.plugins.base import FilterPlugin

if TYPE_CHECKING:
    from k8sim.batch.podgroups import PodGroup, PodGroups
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``util.DefaultWaitTime``.
DEFAULT_WAIT_S = 60.0


class CoschedulingArgs(BaseModel):
    """Upstream ``CoschedulingArgs`` (defaults of ``apis/config/v1/defaults.go``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    # Default Permit wait of a group without scheduleTimeoutSeconds.
    permit_waiting_time_seconds: int = Field(default=60, ge=0, le=86_400 * 365, alias="permitWaitingTimeSeconds")
    # Back-off of a group rejected in PostFilter (0: none).
    pod_group_backoff_seconds: int = Field(default=0, ge=0, le=86_400 * 365, alias="podGroupBackoffSeconds")
    # PostFilter leaves the waiting members alone when at most this share is missing.
    pod_group_reject_percentage: int = Field(default=10, ge=0, le=100, alias="podGroupRejectPercentage")


class Coscheduling(FilterPlugin, PermitPlugin):
    """See the module docstring. As a Filter it is always skipped (its PreFilter needs
    the pod row, so the scheduler calls :meth:`pre_filter_pod` itself)."""

    name = "Coscheduling"
    Args = CoschedulingArgs
    args: CoschedulingArgs
    summary = "gang scheduling of PodGroups (scheduler-plugins): QueueSort, PreFilter, PostFilter, Permit"
    reason = "PodGroup is not schedulable"
    #: Upstream registers Pod Add (and PodGroup Add/Update, which k8sim does not change).
    events: ClassVar[frozenset[str]] = frozenset({"PodAdd"})
    queue_sort: ClassVar[bool] = True

    def __init__(self, args: CoschedulingArgs | None = None) -> None:
        super().__init__(args)
        self.state: ClusterState | None = None
        self._parked: list[PodGroup] = []

    def bind_scheduler(self, handle: PermitHandle, state: ClusterState) -> None:
        super().bind_scheduler(handle, state)
        self.state = state

    @property
    def groups(self) -> PodGroups | None:
        """The run's PodGroups (from the framework handle), None without any."""
        return None if self.handle is None else self.handle.pod_groups

    # -- Filter: never runs ------------------------------------------------------------

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        return False

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        return np.ones(state.nodes.n, dtype=bool)

    # -- helpers -------------------------------------------------------------------------

    def _group(self, pod: int) -> PodGroup | None:
        groups = self.groups
        return None if groups is None else groups.group_of(pod)

    def _wait_s(self, g: PodGroup) -> float:
        """Upstream ``GetWaitTimeDuration``."""
        if g.schedule_timeout_s is not None:
            return float(g.schedule_timeout_s)
        if self.args.permit_waiting_time_seconds:
            return float(self.args.permit_waiting_time_seconds)
        return DEFAULT_WAIT_S

    def _waiting_members(self, g: PodGroup) -> list[int]:
        h = self.permit_handle
        assert h is not None
        return [p for p in g.members if h.waiting(p) is not None]

    def _reject_waiting(self, g: PodGroup, message: str) -> int:
        h = self.permit_handle
        assert h is not None
        waiting = self._waiting_members(g)
        for p in waiting:
            if h.waiting(p) is not None:
                h.reject(p, self.name, message)
        return len(waiting)

    # -- QueueSort -----------------------------------------------------------------------

    def queue_key(self, pod: int) -> tuple:
        state = self.state
        assert state is not None
        pods = state.pods
        g = self._group(pod)
        if g is None:
            created = float(pods.created[pod])
            ns = state.shapes[int(pods.shape[pod])].namespace
        else:
            created = g.last_failed if g.last_failed is not None else g.created
            ns = g.namespace
        return (-int(pods.priority[pod]), created, f"{ns}/{pods.names[pod]}")

    # -- PreFilter -----------------------------------------------------------------------

    def pre_filter_pod(self, state: ClusterState, pod: int, now: float) -> str | None:
        g = self._group(pod)
        if g is None:
            return None
        if g.parked:
            return (f"podGroup {g.key} was rejected twice with no cluster change in between; "
                    "it waits for the next cluster event")
        if g.backoff_until > now:
            return f"podGroup {g.key} failed recently"
        groups = self.groups
        assert groups is not None
        count = groups.live_members(g)
        if count < g.min_member:
            return (f"pre-filter pod {state.pods.names[pod]} cannot find enough sibling pods, "
                    f"current pods number: {count}, minMember of group: {g.min_member}")
        if g.min_resources is None or g.permitted_until > now:
            return None
        gap = self._resource_gap(state, g)
        if gap:
            return f"resource gap: {gap}"
        g.permitted_until = now + float(self.args.permit_waiting_time_seconds)
        return None

    def _resource_gap(self, state: ClusterState, g: PodGroup) -> dict[str, int]:
        """Upstream ``CheckClusterResource``: what ``minResources`` (with ``pods`` =
        ``minMember``) exceeds the cluster's free resources by, the group's own
        assumed and bound pods counted as free; empty when covered."""
        assert g.min_resources is not None
        nodes, pods = state.nodes, state.pods
        alive = np.isinf(nodes.removed_at)
        free = nodes.free[:, alive].sum(axis=1)
        for p in g.members:
            if pods.node[p] >= 0 and pods.phase[p] < SUCCEEDED and alive[pods.node[p]]:
                free = free + pods.requests[p]
        want = g.min_resources.copy()
        want[state.resources.index["pods"]] = g.min_member
        short = want - free
        names = state.resources.names
        return {names[r]: int(short[r]) for r in np.flatnonzero((want > 0) & (short > 0))}

    # -- PostFilter ----------------------------------------------------------------------

    def post_filter_pod(self, state: ClusterState, pod: int, now: float) -> None:
        g = self._group(pod)
        if g is None:
            return
        assigned = len(g.assigned)
        if assigned >= g.min_member:
            return
        missing = (g.min_member - assigned) / g.min_member
        if missing <= self.args.pod_group_reject_percentage / 100.0:
            return
        h = self.permit_handle
        assert h is not None
        changes = h.cluster_changes
        g.rejecting = True
        try:
            rejected = self._reject_waiting(g, "optimistic rejection in PostFilter")
        finally:
            g.rejecting = False
        if rejected:
            g.rejections += 1
            if g.rejected_at_changes == changes and not g.parked:
                g.parked = True
                self._parked.append(g)
            g.rejected_at_changes = changes
        if self.args.pod_group_backoff_seconds:
            groups = self.groups
            assert groups is not None
            if groups.live_members(g) >= g.min_member:
                g.backoff_until = now + float(self.args.pod_group_backoff_seconds)
        g.permitted_until = -math.inf
        g.last_failed = now

    # -- Permit / Unreserve --------------------------------------------------------------

    def permit(self, state: ClusterState, pod: int, node: int, now: float) -> tuple[str, float]:
        g = self._group(pod)
        if g is None:
            return ALLOW, 0.0
        if math.isnan(g.first_waiting):
            g.first_waiting = now
        g.assigned.add(pod)
        h = self.permit_handle
        assert h is not None
        if len(g.assigned) >= g.min_member:
            g.last_failed = None
            for p in self._waiting_members(g):
                h.allow(p, self.name)
            return ALLOW, 0.0
        if len(g.assigned) == 1:
            # ActivateSiblings: the first member to wait pulls its siblings to activeQ.
            pods = state.pods
            h.activate([p for p in g.members if p != pod and pods.phase[p] == 0])
        return WAIT, self._wait_s(g)

    def unreserve(self, state: ClusterState, pod: int, reason: str, now: float) -> None:
        g = self._group(pod)
        if g is None:
            return
        g.assigned.discard(pod)
        g.permitted_until = -math.inf
        g.last_failed = now
        if g.rejecting:
            return  # one of the members a group-wide rejection is releasing
        g.rejections += 1
        if reason == "timeout":
            g.timeouts += 1
        g.rejecting = True
        try:
            self._reject_waiting(g, "rejection in Unreserve")
        finally:
            g.rejecting = False

    def cluster_event(self, now: float) -> None:
        if not self._parked:
            return
        parked, self._parked = self._parked, []
        h = self.permit_handle
        assert h is not None and self.state is not None
        phase = self.state.pods.phase
        for g in parked:
            g.parked = False
            h.activate([p for p in g.members if phase[p] == 0])

    # -- explain -------------------------------------------------------------------------

    def why_pending(self, state: ClusterState, pod: int, now: float) -> str | None:
        g = self._group(pod)
        if g is None:
            return None
        h = self.permit_handle
        waiting = self._waiting_members(g) if h is not None else []
        parts = [f"pod group {g.key}: minMember {g.min_member}, {self.groups.live_members(g) if self.groups else 0} "
                 f"pod(s) exist, {len(g.assigned)} assigned (bound or waiting at Permit), {len(waiting)} waiting"]
        if waiting and h is not None:
            wp = h.waiting(waiting[0])
            assert wp is not None
            deadline = min(wp.pending.values()) if wp.pending else math.nan
            parts.append(f"the first waiting member is rejected with the whole group at t={deadline:g} s "
                         f"(scheduleTimeoutSeconds {self._wait_s(g):g} s) unless "
                         f"{g.min_member - len(g.assigned)} more member(s) are placed")
        gate = self.pre_filter_pod(state, pod, now) if state.pods.phase[pod] == 0 else None
        if gate:
            parts.append(f"PreFilter rejects its pods: {gate}")
        if g.timeouts or g.rejections:
            parts.append(f"rejected {g.rejections} time(s) so far ({g.timeouts} by timeout)")
        return "; ".join(parts)
