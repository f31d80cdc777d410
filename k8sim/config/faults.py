"""The ``failures``, ``actions`` and ``node_lifecycle`` sections: what goes wrong with
the nodes, what the operator does to them, and how the control plane notices.

``failures`` are random or scheduled fault processes, drawn from seeded streams keyed by
the fault source and the node (or zone) name, so two scheduling policies run on one seed
see exactly the same faults. Kinds (the ``kind`` key):

Node failures are crashes (the machine stops) or, with ``mode: partition``, network
partitions (only the link to the control plane is cut), or, with ``mode: not_ready``, a
kubelet that runs on but reports its node NotReady (Ready=False: a container runtime or
network plugin that is not ready).

- ``node``: every selected node fails and is repaired independently, for ever
  (alternating ``time_to_failure`` / ``time_to_repair`` draws, any distribution);
- ``outage``: every selected node (a zone, a rack: any label) goes down at ``at_s`` for
  ``duration_s``;
- ``zone_outages``: a random outage process per value of a label (per zone by default);
- ``spot``: each selected node is interrupted after a random time: a notice (the node is
  cordoned and drained), then it is gone; optionally a new node replaces it.

``actions`` are operator actions at given times (the ``action`` key): ``cordon``,
``uncordon``, ``drain`` (evictions that honour the eviction checks, i.e.
PodDisruptionBudgets), ``delete_node`` and ``fail_node``. New kinds are added to
:data:`ACTION_SPECS` here and given a handler in :mod:`k8sim.faults.actions`.

``node_lifecycle`` sets the node lifecycle controller's timings (upstream defaults).

Which nodes a fault or an action applies to is a :class:`NodeSelection`; names, pools,
zones and label values are checked against the cluster when the simulation is built
(errors name the field path).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from k8sim.config.base import Strict
from k8sim.config.distributions import Distribution
from k8sim.constants import ZONE_LABEL

__all__ = [
    "ACTION_KINDS",
    "ACTION_SPECS",
    "FAILURE_KINDS",
    "FAILURE_SPECS",
    "Action",
    "ActionSpec",
    "CordonAction",
    "FailureMode",
    "DeleteNodeAction",
    "DrainAction",
    "FailNodeAction",
    "Failure",
    "NodeFailures",
    "NodeLifecycleSettings",
    "NodeSelection",
    "Outage",
    "RolloutAction",
    "ScaleAction",
    "SpotInterruptions",
    "UncordonAction",
    "ZoneOutages",
    "positive_mean",
]

#: ``crash``: the machine stops (its containers die); ``partition``: only its link to the
#: control plane is cut (heartbeats stop, containers go on; evictions take effect when
#: the link returns).
FailureMode = Literal["crash", "partition", "not_ready"]


def positive_mean(dist: Distribution, what: str) -> None:
    """A time between events must have a positive mean, or the process never advances."""
    m = dist.mean()
    if not m > 0:
        raise ValueError(f"{what} must have a positive mean (got {dist.kind} with mean {m:g})")


class NodeSelection(Strict):
    """Which nodes: every given criterion must hold (absent criteria match every node).

    ``names`` lists node names; ``pool`` a node pool (or trace node list) name; ``zone``
    the ``topology.kubernetes.io/zone`` label; ``labels`` any node labels (a rack:
    ``{rack: r12}``).
    """

    names: list[str] | None = Field(default=None, min_length=1)  # node names
    pool: str | None = Field(default=None, min_length=1)  # node pool name
    zone: str | None = Field(default=None, min_length=1)  # topology.kubernetes.io/zone
    labels: dict[str, str] = {}  # node labels that must all match

    def describe(self) -> str:
        """The criteria, for messages."""
        parts = []
        if self.names is not None:
            parts.append(f"names {self.names}")
        if self.pool is not None:
            parts.append(f"pool {self.pool!r}")
        if self.zone is not None:
            parts.append(f"zone {self.zone!r}")
        parts += [f"{k}={v}" for k, v in self.labels.items()]
        return ", ".join(parts) or "every node"


# -- failures ------------------------------------------------------------------------


class _FailureBase(Strict):
    # Names the cause in results and events; default "<kind>[<index>]" (e.g. "node[0]").
    name: str | None = Field(default=None, min_length=1)


class NodeFailures(_FailureBase):
    """Each selected node fails after ``time_to_failure`` and is repaired after
    ``time_to_repair``, again and again (an alternating renewal process per node).
    Nodes that join later (spot replacements) and match get their own process."""

    kind: Literal["node"] = "node"
    nodes: NodeSelection = NodeSelection()  # which nodes (default: all)
    mode: FailureMode = "crash"  # crash (the machine stops) or partition (cut off)
    time_to_failure: Distribution  # up time before each failure (s), from the node's start
    time_to_repair: Distribution  # down time of each failure (s)
    start_s: float = Field(default=0.0, ge=0)  # up time is counted from here (or the node's start)
    stop_s: float | None = Field(default=None, gt=0)  # no failure begins after this

    @model_validator(mode="after")
    def _check(self) -> NodeFailures:
        positive_mean(self.time_to_failure, "time_to_failure")
        positive_mean(self.time_to_repair, "time_to_repair")
        if self.stop_s is not None and self.stop_s <= self.start_s:
            raise ValueError("stop_s must be later than start_s")
        return self


class Outage(_FailureBase):
    """Every selected node (a zone, a rack) goes down at ``at_s`` and comes back
    ``duration_s`` later (absent: never)."""

    kind: Literal["outage"] = "outage"
    nodes: NodeSelection  # which nodes, e.g. {zone: zone-a} or {labels: {rack: r1}}
    mode: FailureMode = "crash"  # crash (power loss) or partition (network cut)
    at_s: float = Field(ge=0)  # when the outage starts
    duration_s: float | None = Field(default=None, gt=0)  # how long it lasts; absent = for ever


class ZoneOutages(_FailureBase):
    """A random outage process per zone (per value of ``label``): each zone goes down
    after ``time_between`` (counted from the end of its previous outage) for
    ``duration``, independently of the other zones."""

    kind: Literal["zone_outages"] = "zone_outages"
    mode: FailureMode = "crash"  # crash or partition
    label: str = Field(default=ZONE_LABEL, min_length=1)  # the label whose values are the zones
    zones: list[str] | None = Field(default=None, min_length=1)  # which values; absent = all
    time_between: Distribution  # up time of a zone before each outage (s)
    duration: Distribution  # length of each outage (s)
    start_s: float = Field(default=0.0, ge=0)  # the first up time is counted from here
    stop_s: float | None = Field(default=None, gt=0)  # no outage begins after this

    @model_validator(mode="after")
    def _check(self) -> ZoneOutages:
        positive_mean(self.time_between, "time_between")
        positive_mean(self.duration, "duration")
        if self.stop_s is not None and self.stop_s <= self.start_s:
            raise ValueError("stop_s must be later than start_s")
        return self


class SpotInterruptions(_FailureBase):
    """Spot / preemptible nodes: each selected node is interrupted after
    ``time_to_interruption`` (from its start). At the interruption notice it is
    cordoned and, with ``drain_on_notice``, its pods are evicted (honouring eviction
    checks, retried every 5 s); ``notice_s`` later the node is gone (pods still there
    are lost). With ``replacement_delay``, a new node like it joins that long after."""

    kind: Literal["spot"] = "spot"
    nodes: NodeSelection  # which nodes are spot nodes, e.g. {pool: spot}
    time_to_interruption: Distribution  # from the node's start (s)
    notice_s: float = Field(default=120.0, ge=0)  # notice before the node is gone (AWS: 120 s)
    drain_on_notice: bool = True  # evict the pods at the notice (node termination handler)
    replacement_delay: Distribution | None = None  # a new node joins after this (s); absent = none
    start_s: float = Field(default=0.0, ge=0)  # interruption times are counted from here
    stop_s: float | None = Field(default=None, gt=0)  # no interruption after this

    @model_validator(mode="after")
    def _check(self) -> SpotInterruptions:
        positive_mean(self.time_to_interruption, "time_to_interruption")
        if self.stop_s is not None and self.stop_s <= self.start_s:
            raise ValueError("stop_s must be later than start_s")
        return self


#: Every failure kind, in the order of the union (add new kinds here).
FAILURE_SPECS: tuple[type[_FailureBase], ...] = (NodeFailures, Outage, ZoneOutages, SpotInterruptions)
FAILURE_KINDS: tuple[str, ...] = tuple(c.model_fields["kind"].default for c in FAILURE_SPECS)

#: One entry of ``failures``, chosen by its ``kind``.
Failure = Annotated[NodeFailures | Outage | ZoneOutages | SpotInterruptions, Field(discriminator="kind")]


# -- actions -------------------------------------------------------------------------


class ActionSpec(Strict):
    """Base of every operator action. ``at_s`` is required in a scenario's ``actions``;
    from Python (``Simulation.at(t, action)``) the time is given there instead."""

    at_s: float | None = Field(default=None, ge=0)  # when the action happens

    @property
    def kind(self) -> str:
        return str(getattr(self, "action"))  # noqa: B009 - the subclasses declare it


class CordonAction(ActionSpec):
    """Mark the selected nodes unschedulable (``kubectl cordon``)."""

    action: Literal["cordon"] = "cordon"
    nodes: NodeSelection  # which nodes


class UncordonAction(ActionSpec):
    """Mark the selected nodes schedulable again (``kubectl uncordon``)."""

    action: Literal["uncordon"] = "uncordon"
    nodes: NodeSelection  # which nodes


class DrainAction(ActionSpec):
    """``kubectl drain``: cordon, then evict every pod of the selected nodes through the
    Eviction API (eviction checks, i.e. PodDisruptionBudgets, are honoured; a refused
    eviction is retried every 5 s, as kubectl does) until all are gone or ``timeout_s``."""

    action: Literal["drain"] = "drain"
    nodes: NodeSelection  # which nodes
    timeout_s: float | None = Field(default=None, gt=0)  # give up after this (kubectl --timeout); absent = never
    grace_period_s: float | None = Field(default=None, ge=0)  # absent = each pod's own (kubectl --grace-period)
    ignore_daemonsets: bool = True  # leave DaemonSet-owned pods (kubectl --ignore-daemonsets)
    # Evict pods without an owner too (kubectl --force); false: refuse to drain a node that has any.
    force: bool = True


class DeleteNodeAction(ActionSpec):
    """Delete the selected nodes (``kubectl delete node``): pods still there are lost."""

    action: Literal["delete_node"] = "delete_node"
    nodes: NodeSelection  # which nodes


class FailNodeAction(ActionSpec):
    """Take the machines of the selected nodes down (like an ``outage``) for
    ``duration_s`` (absent: for ever)."""

    action: Literal["fail_node"] = "fail_node"
    nodes: NodeSelection  # which nodes
    mode: FailureMode = "crash"  # crash or partition
    duration_s: float | None = Field(default=None, gt=0)  # how long; absent = for ever


class ScaleAction(ActionSpec):
    """``kubectl scale``: set the replicas of a Deployment or StatefulSet (its controller
    reacts after its reaction latency; see docs/controllers.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, populate_by_name=True,
                              allow_inf_nan=False)

    action: Literal["scale"] = "scale"
    # The object's kind (written ``kind:`` in YAML).
    workload_kind: Literal["Deployment", "StatefulSet"] = Field(default="Deployment", alias="kind")
    name: str = Field(min_length=1)  # "name" (namespace default) or "namespace/name"
    replicas: int = Field(ge=0, le=1_000_000)  # the new spec.replicas


class RolloutAction(ActionSpec):
    """A new pod template: ``kubectl set image`` (``image``: every container's, or the
    one named ``container``) on a Deployment, StatefulSet or DaemonSet, or ``kubectl
    rollout undo`` (``undo``, Deployments; ``to_revision`` 0 = the previous one)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, populate_by_name=True,
                              allow_inf_nan=False)

    action: Literal["rollout"] = "rollout"
    workload_kind: Literal["Deployment", "StatefulSet", "DaemonSet"] = Field(default="Deployment", alias="kind")
    name: str = Field(min_length=1)  # "name" (namespace default) or "namespace/name"
    image: str | None = Field(default=None, min_length=1)  # the new image
    container: str | None = None  # only this container's image (absent: every container)
    undo: bool = False  # roll back instead (Deployments)
    to_revision: int = Field(default=0, ge=0)  # with undo: the revision (0 = the previous)

    @model_validator(mode="after")
    def _check(self) -> RolloutAction:
        if (self.image is None) == (not self.undo):
            raise ValueError("give exactly one of image (a new image) or undo: true (a rollback)")
        if self.undo and self.workload_kind != "Deployment":
            raise ValueError("undo applies to Deployments (their ReplicaSets keep the revisions)")
        if self.container is not None and self.image is None:
            raise ValueError("container goes with image")
        return self


#: Every action kind (add new kinds here, and give each a handler registered in
#: ``k8sim.faults.actions``).
ACTION_SPECS: tuple[type[ActionSpec], ...] = (CordonAction, UncordonAction, DrainAction, DeleteNodeAction,
                                               FailNodeAction, ScaleAction, RolloutAction)
ACTION_KINDS: tuple[str, ...] = tuple(c.model_fields["action"].default for c in ACTION_SPECS)

#: One entry of ``actions``, chosen by its ``action``.
Action = Annotated[CordonAction | UncordonAction | DrainAction | DeleteNodeAction | FailNodeAction | ScaleAction
                   | RolloutAction, Field(discriminator="action")]


# -- the node lifecycle controller -------------------------------------------------


class PodGCSettings(Strict):
    """The pod garbage collector's timings (``pkg/controller/podgc/gc_controller.go``:
    ``gcCheckPeriod`` 20 s, ``quarantineTime`` 40 s)."""

    # How often the collector runs (gcCheckPeriod, s).
    gc_check_period_s: float = Field(default=20.0, gt=0)
    # How long a node missing from the informer is quarantined before its pods are
    # force-deleted (quarantineTime, s).
    quarantine_s: float = Field(default=40.0, ge=0)


class NodeLifecycleSettings(Strict):
    """The node lifecycle controller's settings (kube-controller-manager flags) and the
    kubelet's heartbeat interval. Defaults are upstream's as of v1.32 (the grace period
    became 50 s there, kubernetes/kubernetes#126287)."""

    # --node-monitor-period: how often the controller checks heartbeats (s).
    node_monitor_period_s: float = Field(default=5.0, gt=0)
    # --node-monitor-grace-period: a node silent this long is marked NotReady (s).
    node_monitor_grace_period_s: float = Field(default=50.0, gt=0)
    # kubelet lease renewal: 0.25 x nodeLeaseDurationSeconds (40 s) (s).
    lease_renew_interval_s: float = Field(default=10.0, gt=0)
    # --node-eviction-rate: nodes tainted per second per zone when the zone is healthy.
    node_eviction_rate: float = Field(default=0.1, gt=0)
    # --secondary-node-eviction-rate: the same when the zone is partially disrupted.
    secondary_node_eviction_rate: float = Field(default=0.01, ge=0)
    # --unhealthy-zone-threshold: share of NotReady nodes (and > 2) that makes a zone
    # partially disrupted.
    unhealthy_zone_threshold: float = Field(default=0.55, gt=0, le=1)
    # --large-cluster-size-threshold: zones of at most this many nodes stop tainting
    # when partially disrupted.
    large_cluster_size_threshold: int = Field(default=50, ge=0)

    @model_validator(mode="after")
    def _check(self) -> NodeLifecycleSettings:
        if self.node_monitor_grace_period_s < self.lease_renew_interval_s:
            raise ValueError(
                f"node_monitor_grace_period_s ({self.node_monitor_grace_period_s:g}) must be at least "
                f"lease_renew_interval_s ({self.lease_renew_interval_s:g}), or healthy nodes flap NotReady"
            )
        return self
