"""Cluster Autoscaler scale-down drain checks: which pods block removing a node, and
whether the others fit elsewhere.

Mirrors kubernetes/autoscaler ``cluster-autoscaler/simulator/drainability/rules/
rules.go`` (``Default``: the rules and their order) with the rules ``mirror``,
``longterminating``, ``daemonset``, ``safetoevict``, ``terminal``, ``replicated``,
``system``, ``notsafetoevict``, ``localstorage`` and ``pdb``, ``simulator/drain.go``
(``GetPodsToMove``: DaemonSet pods stay, drainable pods move, the first blocking pod
makes the node unremovable) and ``simulator/cluster.go`` (``findPlaceFor``: every pod
to move must fit one of the other candidate nodes, tried in order; the first that
fails makes the node unremovable, ``NoPlaceToMovePods``).

Defaults are the flags': ``--skip-nodes-with-system-pods``,
``--skip-nodes-with-local-storage`` and ``--skip-nodes-with-custom-controller-pods``
all true. A pod's PDB is given as the smallest ``disruptionsAllowed`` over the PDBs
matching it (``None``: none matches); tracking how budgets shrink as several nodes are
drained in one loop (``RemainingPdbTracker``) is the component's job. The checks that
need the API (the controller still exists, ``--min-replica-count``, default 0) are not
modelled: a pod's owner is taken to exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DrainPod", "drainable", "find_place_for", "pods_to_move"]

#: ``replicatedKind``: owners whose pods are recreated elsewhere.
REPLICATED_KINDS = frozenset({"ReplicationController", "Job", "ReplicaSet", "StatefulSet"})
_LONG_TERMINATING_EXTRA_S = 30.0


@dataclass(frozen=True)
class DrainPod:
    """What the drain rules read of one pod. ``owner_kind`` is the controller's kind
    (``None``: a bare pod); ``safe_to_evict`` the value of the
    ``cluster-autoscaler.kubernetes.io/safe-to-evict`` annotation (``None``: absent);
    ``local_storage`` a volume that blocks (an ``emptyDir`` not in memory, a
    ``hostPath``) not listed in ``safe-to-evict-local-volumes``."""

    name: str
    namespace: str = "default"
    owner_kind: str | None = "ReplicaSet"
    daemonset: bool = False
    mirror: bool = False
    phase: str = "Running"
    safe_to_evict: bool | None = None
    local_storage: bool = False
    pdb_disruptions_allowed: int | None = None
    deletion_time: float | None = None
    grace_period_s: float = 30.0


def _long_terminating(pod: DrainPod, now: float) -> bool:
    return pod.deletion_time is not None and pod.deletion_time + pod.grace_period_s + _LONG_TERMINATING_EXTRA_S < now


def drainable(pod: DrainPod, *, now: float = 0.0, skip_nodes_with_system_pods: bool = True,
              skip_nodes_with_local_storage: bool = True,
              skip_nodes_with_custom_controller_pods: bool = True) -> tuple[str, str]:
    """``Rules.Drainable`` with the default rules: the first rule with an outcome
    decides. Returns (outcome, reason) with outcome ``skip`` (not moved: mirror or
    long-terminating pods), ``ok`` (drainable), ``block`` (the node cannot be removed;
    reason is upstream's ``BlockingPodReason`` name) or ``undefined`` (no rule objected:
    drainable)."""
    if pod.mirror:
        return "skip", "MirrorPod"
    if _long_terminating(pod, now):
        return "skip", "LongTerminating"
    if pod.daemonset:
        return "ok", "DaemonSet"
    if pod.safe_to_evict is True:
        return "ok", "SafeToEvictAnnotation"
    if pod.phase in ("Succeeded", "Failed"):
        return "ok", "Terminal"
    replicated = pod.owner_kind is not None
    if skip_nodes_with_custom_controller_pods:
        replicated = replicated and pod.owner_kind in REPLICATED_KINDS
    if not replicated:
        return "block", "NotReplicated"
    if skip_nodes_with_system_pods and pod.namespace == "kube-system" and pod.pdb_disruptions_allowed is None:
        return "block", "UnmovableKubeSystemPod"
    if pod.safe_to_evict is False:
        return "block", "NotSafeToEvictAnnotation"
    if skip_nodes_with_local_storage and pod.local_storage:
        return "block", "LocalStorageRequested"
    if pod.pdb_disruptions_allowed is not None and pod.pdb_disruptions_allowed < 1:
        return "block", "NotEnoughPdb"
    return "undefined", ""


def pods_to_move(pods: Sequence[DrainPod], **rules: Any) -> tuple[list[DrainPod], list[DrainPod],
                                                                  tuple[DrainPod, str] | None]:
    """``GetPodsToMove``: (pods to reschedule, DaemonSet pods, the first blocking pod
    and its reason or ``None``). A node with a blocking pod cannot be removed."""
    move: list[DrainPod] = []
    ds: list[DrainPod] = []
    for pod in pods:
        outcome, reason = drainable(pod, **rules)
        if outcome == "block":
            return [], [], (pod, reason)
        if outcome == "skip":
            continue
        (ds if pod.daemonset else move).append(pod)
    return move, ds, None


def find_place_for(pods: Sequence[Any], destinations: Sequence[Any], fits: Callable[[Any, Any], bool],
                   place: Callable[[Any, Any], None]) -> list[tuple[Any, Any]] | None:
    """``RemovalSimulator.findPlaceFor``: each pod, in order, goes to the first
    destination it ``fits``; ``place(pod, destination)`` books it (so later pods see
    it). Returns the placements, or ``None`` as soon as a pod fits nowhere (the node
    stays). The caller works on a copy of the destinations' state, as upstream forks
    its snapshot."""
    placed = []
    for pod in pods:
        dest = next((d for d in destinations if fits(pod, d)), None)
        if dest is None:
            return None
        place(pod, dest)
        placed.append((pod, dest))
    return placed
