"""Cluster Autoscaler rules: defaults, node utilisation, scale-down eligibility, unneeded time.

Pure functions mirroring kubernetes/autoscaler ``cluster-autoscaler/``:
``simulator/utilization/info.go`` (``Calculate``, ``CalculateUtilizationOfResource``),
``core/scaledown/eligibility/eligibility.go`` (``unremovableReasonAndNodeUtilization``,
``isNodeBelowUtilizationThreshold``), ``core/scaledown/unneeded/nodes.go`` (``Update``,
``unremovableReason``), ``core/static_autoscaler.go`` (the scale-down cool-down) and the
flag defaults of ``main.go`` / ``config/autoscaling_options.go``. The CA component of
the event loop calls these each scan; nothing here reads a clock.

Resources are integers in k8sim's base units (milli-CPU, bytes, GPU devices); a pod is
described by its requests and the flags upstream looks at (DaemonSet, mirror, deletion).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "INITIAL_NODE_GROUP_BACKOFF_S",
    "MAX_NODE_GROUP_BACKOFF_S",
    "MAX_NODE_PROVISION_TIME_S",
    "NODE_GROUP_BACKOFF_RESET_TIMEOUT_S",
    "POD_LONG_TERMINATING_EXTRA_THRESHOLD_S",
    "SCALE_DOWN_DELAY_AFTER_ADD_S",
    "SCALE_DOWN_DELAY_AFTER_DELETE_S",
    "SCALE_DOWN_DELAY_AFTER_FAILURE_S",
    "SCALE_DOWN_GPU_UTILIZATION_THRESHOLD",
    "SCALE_DOWN_UNNEEDED_TIME_S",
    "SCALE_DOWN_UNREADY_TIME_S",
    "SCALE_DOWN_UTILIZATION_THRESHOLD",
    "SCAN_INTERVAL_S",
    "NodeGroupBackoff",
    "NodeResources",
    "PodRequests",
    "UnneededNodes",
    "UtilizationInfo",
    "calculate_utilization",
    "calculate_utilization_of_resource",
    "is_below_utilization_threshold",
    "is_pod_long_terminating",
    "min_size_reached",
    "scale_down_in_cooldown",
    "unremovable_reason",
]

#: ``--scan-interval``: how often the CA loop runs.
SCAN_INTERVAL_S = 10.0
#: ``--scale-down-unneeded-time``: how long a node must be unneeded before removal.
SCALE_DOWN_UNNEEDED_TIME_S = 600.0
#: ``--scale-down-unready-time``: the same for an unready node.
SCALE_DOWN_UNREADY_TIME_S = 1200.0
#: ``--scale-down-delay-after-add``: no scale-down evaluation this long after a scale-up.
SCALE_DOWN_DELAY_AFTER_ADD_S = 600.0
#: ``--scale-down-delay-after-delete``: defaults to the scan interval.
SCALE_DOWN_DELAY_AFTER_DELETE_S = SCAN_INTERVAL_S
#: ``--scale-down-delay-after-failure``.
SCALE_DOWN_DELAY_AFTER_FAILURE_S = 180.0
#: ``--max-node-provision-time``: a node not registered by then is given up.
MAX_NODE_PROVISION_TIME_S = 900.0
#: ``--scale-down-utilization-threshold``: a node at or above it is needed.
SCALE_DOWN_UTILIZATION_THRESHOLD = 0.5
#: ``--scale-down-gpu-utilization-threshold`` (nodes with a GPU).
SCALE_DOWN_GPU_UTILIZATION_THRESHOLD = 0.5
#: ``--initial-node-group-backoff-duration``, ``--max-node-group-backoff-duration`` and
#: ``--node-group-backoff-reset-timeout``: a group whose scale-up failed (e.g. its nodes
#: did not register within ``MAX_NODE_PROVISION_TIME_S``) is not scaled up for a while.
INITIAL_NODE_GROUP_BACKOFF_S = 300.0
MAX_NODE_GROUP_BACKOFF_S = 1800.0
NODE_GROUP_BACKOFF_RESET_TIMEOUT_S = 3 * 3600.0
#: ``drain.PodLongTerminatingExtraThreshold``: a deleting pod past its grace period plus
#: this no longer counts towards utilisation.
POD_LONG_TERMINATING_EXTRA_THRESHOLD_S = 30.0
_DEFAULT_GRACE_PERIOD_S = 30.0


@dataclass(frozen=True)
class PodRequests:
    """A pod as the utilisation calculation sees it: its requests (milli-CPU, bytes,
    GPU devices), whether it is a DaemonSet or mirror (static) pod, and its deletion
    time and grace period if it is being deleted."""

    cpu: int = 0
    memory: int = 0
    gpu: int = 0
    daemonset: bool = False
    mirror: bool = False
    deletion_time: float | None = None
    grace_period_s: float | None = None


@dataclass(frozen=True)
class NodeResources:
    """A node's allocatable resources (milli-CPU, bytes, GPU devices)."""

    cpu: int
    memory: int
    gpu: int = 0


@dataclass(frozen=True)
class UtilizationInfo:
    """``utilization.Info``: per-resource ratios, the resource that decided and the
    node's utilisation (max of CPU and memory, or the GPU ratio on a GPU node)."""

    cpu: float
    memory: float
    gpu: float
    resource: str
    utilization: float


def is_pod_long_terminating(pod: PodRequests, now: float) -> bool:
    """``drain.IsPodLongTerminating``: deleting for longer than its grace period (30 s
    when unset) plus 30 s."""
    if pod.deletion_time is None:
        return False
    grace = _DEFAULT_GRACE_PERIOD_S if pod.grace_period_s is None else pod.grace_period_s
    return pod.deletion_time + grace + POD_LONG_TERMINATING_EXTRA_THRESHOLD_S < now


def calculate_utilization_of_resource(allocatable: int, pods: Iterable[PodRequests], resource: str, *,
                                      skip_daemonset_pods: bool, skip_mirror_pods: bool, now: float) -> float:
    """``CalculateUtilizationOfResource``: requested / allocatable for one resource.

    Skipped DaemonSet or mirror pods leave the numerator and are subtracted from the
    allocatable; long-terminating pods are left out. A zero allocatable is an error."""
    if allocatable == 0:
        raise ValueError(f"{resource} allocatable is 0")
    requested = 0
    excluded = 0
    for pod in pods:
        value = getattr(pod, resource)
        if skip_daemonset_pods and pod.daemonset:
            excluded += value
            continue
        if skip_mirror_pods and pod.mirror:
            excluded += value
            continue
        if is_pod_long_terminating(pod, now):
            continue
        requested += value
    rest = allocatable - excluded
    if rest <= 0:
        # Go's float division: x/0 is +Inf, 0/0 is NaN (then not >= any threshold).
        return math.inf if requested > 0 else math.nan
    return requested / rest


def calculate_utilization(node: NodeResources, pods: Iterable[PodRequests], *, skip_daemonset_pods: bool = False,
                          skip_mirror_pods: bool = False, now: float = 0.0,
                          gpu_node: bool | None = None) -> UtilizationInfo:
    """``utilization.Calculate``: a GPU node (``gpu_node``, by default a node with GPU
    allocatable; upstream asks the cloud provider's GPU label) is as utilised as its
    GPUs and CPU and memory are not looked at; a GPU node whose GPUs are not yet
    allocatable (an unready GPU) counts as 0 so that it can still be scaled down.
    Otherwise the larger of the CPU and memory ratios (memory on a tie)."""
    pods = list(pods)
    if gpu_node is None:
        gpu_node = node.gpu > 0
    if gpu_node:
        if node.gpu == 0:
            return UtilizationInfo(0.0, 0.0, 0.0, "gpu", 0.0)
        g = calculate_utilization_of_resource(node.gpu, pods, "gpu", skip_daemonset_pods=skip_daemonset_pods,
                                              skip_mirror_pods=skip_mirror_pods, now=now)
        return UtilizationInfo(0.0, 0.0, g, "gpu", g)
    cpu = calculate_utilization_of_resource(node.cpu, pods, "cpu", skip_daemonset_pods=skip_daemonset_pods,
                                            skip_mirror_pods=skip_mirror_pods, now=now)
    mem = calculate_utilization_of_resource(node.memory, pods, "memory", skip_daemonset_pods=skip_daemonset_pods,
                                            skip_mirror_pods=skip_mirror_pods, now=now)
    if cpu > mem:
        return UtilizationInfo(cpu, mem, 0.0, "cpu", cpu)
    return UtilizationInfo(cpu, mem, 0.0, "memory", mem)


def is_below_utilization_threshold(info: UtilizationInfo, *, has_gpu: bool,
                                   threshold: float = SCALE_DOWN_UTILIZATION_THRESHOLD,
                                   gpu_threshold: float = SCALE_DOWN_GPU_UTILIZATION_THRESHOLD) -> bool:
    """``isNodeBelowUtilizationThreshold``: not at or above the (GPU) threshold (as
    upstream writes it, so a NaN utilisation counts as below)."""
    return not info.utilization >= (gpu_threshold if has_gpu else threshold)


def unremovable_reason(info: UtilizationInfo, *, has_gpu: bool, ready: bool = True, being_deleted: bool = False,
                       scale_down_disabled: bool = False, autoscaled: bool = True,
                       scale_down_unready_enabled: bool = True,
                       threshold: float = SCALE_DOWN_UTILIZATION_THRESHOLD,
                       gpu_threshold: float = SCALE_DOWN_GPU_UTILIZATION_THRESHOLD) -> str | None:
    """``unremovableReasonAndNodeUtilization``: why a node is not a scale-down
    candidate (upstream's ``UnremovableReason`` name), or ``None`` if it is one. The
    checks run in upstream's order. Whether its pods can move elsewhere is a separate
    simulation (the component's drain check), as upstream's ``RemovalSimulator``."""
    if being_deleted:
        return "CurrentlyBeingDeleted"
    if scale_down_disabled:
        return "ScaleDownDisabledAnnotation"
    if not autoscaled:
        return "NotAutoscaled"
    if not scale_down_unready_enabled and not ready:
        return "ScaleDownUnreadyDisabled"
    if not is_below_utilization_threshold(info, has_gpu=has_gpu, threshold=threshold, gpu_threshold=gpu_threshold):
        return "NotUnderutilized"
    return None


class UnneededNodes:
    """``unneeded.Nodes``: since when each node has been continuously unneeded.

    :meth:`update` replaces the set with the nodes found unneeded in this scan, keeping
    the earlier timestamp of a node that was already unneeded; a node missing from one
    scan starts over. :meth:`removable` is upstream's time check in
    ``unremovableReason``: ``since + unneeded_time`` strictly before ``now``."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def update(self, names: Iterable[str], now: float) -> None:
        self._since = {n: self._since.get(n, now) for n in names}

    def since(self, name: str) -> float | None:
        return self._since.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._since

    def as_dict(self) -> Mapping[str, float]:
        return dict(self._since)

    def drop(self, name: str) -> None:
        self._since.pop(name, None)

    def removable(self, name: str, now: float, *, ready: bool = True,
                  unneeded_time_s: float = SCALE_DOWN_UNNEEDED_TIME_S,
                  unready_time_s: float = SCALE_DOWN_UNREADY_TIME_S) -> bool:
        since = self._since.get(name)
        if since is None:
            return False
        return since + (unneeded_time_s if ready else unready_time_s) < now


def scale_down_in_cooldown(now: float, *, last_scale_up: float | None = None,
                           last_scale_down_delete: float | None = None, last_scale_down_failure: float | None = None,
                           delay_after_add_s: float = SCALE_DOWN_DELAY_AFTER_ADD_S,
                           delay_after_delete_s: float = SCALE_DOWN_DELAY_AFTER_DELETE_S,
                           delay_after_failure_s: float = SCALE_DOWN_DELAY_AFTER_FAILURE_S) -> bool:
    """``StaticAutoscaler.RunOnce``'s ``scaleDownInCooldown``: scale-down is not
    evaluated while ``last + delay`` is after ``now`` for a scale-up, a deletion or a
    failed deletion."""
    return any(t is not None and t + d > now for t, d in (
        (last_scale_up, delay_after_add_s), (last_scale_down_delete, delay_after_delete_s),
        (last_scale_down_failure, delay_after_failure_s)))


def min_size_reached(size: int, deletions_in_progress: int, min_size: int) -> bool:
    """``verifyMinSize`` (unneeded/nodes.go): a node of a group whose size minus the
    deletions in progress is at or below ``min_size`` is not removed
    (``NodeGroupMinSizeReached``)."""
    return size - deletions_in_progress <= min_size


class NodeGroupBackoff:
    """``utils/backoff/exponential_backoff.go``: per node group, a failed scale-up
    backs the group off for the initial duration, doubled (up to the maximum) for a
    failure after the previous back-off ended; failures during a back-off do not
    lengthen it. Data older than the reset timeout since the last failure is dropped
    (``RemoveStaleBackoffData``)."""

    def __init__(self, initial_s: float = INITIAL_NODE_GROUP_BACKOFF_S, max_s: float = MAX_NODE_GROUP_BACKOFF_S,
                 reset_timeout_s: float = NODE_GROUP_BACKOFF_RESET_TIMEOUT_S) -> None:
        self.initial_s, self.max_s, self.reset_timeout_s = initial_s, max_s, reset_timeout_s
        self._info: dict[str, tuple[float, float, float]] = {}  # group -> (duration, until, last failure)

    def backoff(self, group: str, now: float) -> float:
        """Record a failed scale-up at ``now``; returns the time the back-off ends."""
        duration = self.initial_s
        info = self._info.get(group)
        if info is not None and info[1] < now:
            duration = min(2 * info[0], self.max_s)
        until = now + duration
        self._info[group] = (duration, until, now)
        return until

    def is_backed_off(self, group: str, now: float) -> bool:
        info = self._info.get(group)
        return info is not None and info[1] > now

    def remove_backoff(self, group: str) -> None:
        self._info.pop(group, None)

    def remove_stale(self, now: float) -> None:
        self._info = {g: i for g, i in self._info.items() if not i[2] + self.reset_timeout_s < now}
