"""PodGroups (``scheduling.x-k8s.io/v1alpha1``, the scheduler-plugins CRD) and which pods
belong to which.

A PodGroup (upstream ``apis/scheduling/v1alpha1/types.go``) names a gang: ``minMember``
pods that must be placed together, ``minResources`` they need in total, and
``scheduleTimeoutSeconds`` its members may wait at Permit. A pod joins the group named by
its ``scheduling.x-k8s.io/pod-group`` label, in its own namespace; k8sim's gang
workloads (``workloads[].gang``) make one group per job and put each of its workers in
it directly (their pods share one shape, so a label per job would cost a shape each).

:class:`PodGroups` is a component: it watches PodAdded (first of all subscribers, so the
scheduler's queue already knows a new pod's group), PodBound and PodTerminated, keeps
each group's members and records its history (first member at Permit, all bound,
rejections, timeouts) for the ``pod_groups`` frame. The Coscheduling plugin
(:mod:`k8sim.scheduling.plugins.coscheduling`) reads and updates the scheduling state
kept here (``assigned``, back-off, last failure), as upstream's ``PodGroupManager``
keeps it beside the API objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.pods import FAILED, SUCCEEDED
from k8sim.cluster.watch import PodAdded, PodBound, PodTerminated
from k8sim.component import Contribution
from k8sim.constants import POD_GROUP_LABEL

if TYPE_CHECKING:
    from k8sim.cluster.api import ClusterAPI

__all__ = ["POD_GROUP_LABEL", "PodGroup", "PodGroups"]


@dataclass
class PodGroup:
    """One PodGroup and its scheduling state.

    ``min_resources``: ``int64[R]`` in the cluster's resource order (None: not set);
    ``schedule_timeout_s``: None means the plugin's ``permitWaitingTimeSeconds``.
    ``workers``: pods the group is expected to have (a gang job's workers; for a
    labelled group, ``min_member``), used by the training model. ``training``: the
    job's placement-sensitive run-time model, or None.
    """

    index: int
    namespace: str
    name: str
    min_member: int
    schedule_timeout_s: float | None
    min_resources: np.ndarray | None
    created: float
    workers: int
    training: Any = None
    base_duration: float = math.nan  # training: the run time on one node (drawn at creation)
    workload: int = -1
    members: list[int] = field(default_factory=list)
    # -- PodGroupManager state -----------------------------------------------------
    assigned: set[int] = field(default_factory=set)  # assumed or bound members (assignedPodsByPG)
    last_failed: float | None = None  # lastFailedSchedulePG
    backoff_until: float = -math.inf  # backedOffPG
    permitted_until: float = -math.inf  # permittedPG (minResources checked)
    # -- k8sim: the same-instant retry guard (docs/batch.md) ---------------------------
    parked: bool = False
    rejecting: bool = False  # a group-wide rejection is under way
    rejected_at_changes: int = -1
    # -- record --------------------------------------------------------------------
    first_waiting: float = math.nan  # first member placed (at Permit, or bound without Permit)
    bound: int = 0  # members bound so far
    all_bound: float = math.nan
    rejections: int = 0
    timeouts: int = 0

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


class PodGroups:
    """The run's PodGroups and their members (see the module docstring)."""

    name = "pod_groups"

    def __init__(self, api: ClusterAPI):
        self.api = api
        self.state = api.state
        self.groups: list[PodGroup] = []
        self.by_key: dict[str, int] = {}
        #: pod row -> group index
        self.of_pod: dict[int, int] = {}
        self._next: int | None = None
        self._label_cache: dict[int, int] = {}  # shape -> group index (-1: none)
        self.workload_names: tuple[str, ...] = ()
        bus = api.bus
        bus.subscribe(PodAdded, self._on_added)
        bus.subscribe(PodBound, self._on_bound)
        bus.subscribe(PodTerminated, self._on_terminated)

    def start(self) -> None:
        pass

    # -- groups ---------------------------------------------------------------------

    def add(self, namespace: str, name: str, min_member: int, schedule_timeout_s: float | None = None,
            min_resources: np.ndarray | None = None, workers: int | None = None, training: Any = None,
            base_duration: float = math.nan, workload: int = -1) -> PodGroup:
        """Create a PodGroup now (its creation time orders the queue)."""
        key = f"{namespace}/{name}"
        if key in self.by_key:
            raise ValueError(f"PodGroup {key} exists already")
        g = PodGroup(len(self.groups), namespace, name, int(min_member), schedule_timeout_s, min_resources,
                     float(self.api.env.now), int(workers if workers is not None else min_member), training,
                     base_duration, workload)
        self.groups.append(g)
        self.by_key[key] = g.index
        return g

    def join_next(self, group: PodGroup) -> None:
        """The next pod created joins ``group`` (a gang workload's worker)."""
        self._next = group.index

    def group_of(self, pod: int) -> PodGroup | None:
        gi = self.of_pod.get(pod)
        return None if gi is None else self.groups[gi]

    def live_members(self, g: PodGroup) -> int:
        """Members not ended (upstream lists the pods carrying the label)."""
        phase = self.state.pods.phase
        return sum(1 for p in g.members if phase[p] < SUCCEEDED)

    # -- watch ----------------------------------------------------------------------

    def _on_added(self, event: PodAdded) -> None:
        gi = self._next
        if gi is not None:
            self._next = None
        else:
            shape = int(self.state.pods.shape[event.pod])
            gi = self._label_cache.get(shape)
            if gi is None:
                info = self.state.shapes[shape]
                label = info.labels.get(POD_GROUP_LABEL)
                gi = -1 if label is None else self.by_key.get(f"{info.namespace}/{label}", -1)
                self._label_cache[shape] = gi
            if gi < 0:
                return
        self.of_pod[event.pod] = gi
        self.groups[gi].members.append(event.pod)

    def _on_bound(self, event: PodBound) -> None:
        gi = self.of_pod.get(event.pod)
        if gi is None:
            return
        g = self.groups[gi]
        g.assigned.add(event.pod)  # upstream AddPodFactory: a pod with a node counts
        g.bound += 1
        now = float(self.api.env.now)
        if math.isnan(g.first_waiting):  # without Permit: the first member bound
            g.first_waiting = now
        if math.isnan(g.all_bound) and g.bound >= g.min_member:
            g.all_bound = now

    def _on_terminated(self, event: PodTerminated) -> None:
        gi = self.of_pod.get(event.pod)
        if gi is not None and event.phase == FAILED:
            # A deleted member leaves the group's assigned set (upstream's pod informer
            # DeleteFunc -> Unreserve).
            self.groups[gi].assigned.discard(event.pod)

    # -- results --------------------------------------------------------------------

    def frame(self) -> pd.DataFrame:
        """One row per PodGroup: ``group`` (namespace/name), ``workload``, ``min_member``,
        ``members`` (pods created), ``created``, ``first_waiting`` (first member placed:
        at Permit, or bound where no Permit runs), ``all_bound`` (``minMember`` members
        bound), ``gang_wait_s`` (``all_bound - first_waiting``), ``queue_wait_s``
        (``all_bound - created``), ``rejections`` (times the group's waiting members
        were rejected), ``timeouts`` (of those, by the Permit timeout)."""
        names = self.workload_names
        rows = {
            "group": pd.Series([g.key for g in self.groups], dtype="string"),
            "workload": pd.Series([names[g.workload] if 0 <= g.workload < len(names) else "" for g in self.groups],
                                  dtype="string"),
            "min_member": np.array([g.min_member for g in self.groups], dtype=np.int64),
            "members": np.array([len(g.members) for g in self.groups], dtype=np.int64),
            "created": np.array([g.created for g in self.groups], dtype=np.float64),
            "first_waiting": np.array([g.first_waiting for g in self.groups], dtype=np.float64),
            "all_bound": np.array([g.all_bound for g in self.groups], dtype=np.float64),
            "rejections": np.array([g.rejections for g in self.groups], dtype=np.int64),
            "timeouts": np.array([g.timeouts for g in self.groups], dtype=np.int64),
        }
        out = pd.DataFrame(rows)
        out["gang_wait_s"] = out["all_bound"] - out["first_waiting"]
        out["queue_wait_s"] = out["all_bound"] - out["created"]
        return out

    def contribute(self) -> Contribution:
        out = Contribution()
        if not self.groups:
            return out
        frame = self.frame()
        out.frames["pod_groups"] = frame
        waits = frame["gang_wait_s"].dropna()
        out.summary.update({
            "pod_groups": len(frame),
            "pod_groups_bound": int(frame["all_bound"].notna().sum()),
            "gangs_timed_out": int((frame["timeouts"] > 0).sum()),
            "gang_timeouts": int(frame["timeouts"].sum()),
            "gang_rejections": int(frame["rejections"].sum()),
            "gang_wait_p50_s": float(waits.quantile(0.5)) if len(waits) else math.nan,
            "gang_wait_p95_s": float(waits.quantile(0.95)) if len(waits) else math.nan,
        })
        return out
