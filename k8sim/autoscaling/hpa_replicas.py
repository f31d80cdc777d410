"""The HPA replica calculator: desired replicas from metrics, as upstream computes them.

Pure functions mirroring ``pkg/controller/podautoscaler/replica_calculator.go`` of
kubernetes/kubernetes (release 1.33+, with per-direction tolerances, KEP-4951) and the
ratio helpers of ``pkg/controller/podautoscaler/metrics/utilization.go``. Nothing here
reads a clock or the cluster tables: the caller passes the pods (phase, readiness,
start time), the metric samples, the requests and ``now``, so the event-loop component
that runs the HPA every sync period only gathers inputs and applies the result.

Upstream integer arithmetic is kept where it decides results: the utilisation is
``int32(sum(usage) * 100 / sum(requests))`` truncated, the per-pod average of a raw
metric is ``sum / n`` truncated, and ``ceil`` is applied to ``ratio * pods`` as a float64.
Values are milli-units (milli-CPU, bytes * 1000 for memory as ``Quantity.MilliValue``
gives, or a custom metric's milli-value), as upstream's metrics clients return them.

Differences from upstream, all of them about inputs k8sim does not have:
- pod-level requests and sidecar (restartable init) containers: a pod's request is one
  number the caller computes;
- the per-container source (``ContainerResource``) is the same computation with the
  caller's per-container usage and request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "DEFAULT_CPU_INITIALIZATION_PERIOD_S",
    "DEFAULT_INITIAL_READINESS_DELAY_S",
    "DEFAULT_TOLERANCE",
    "MAX_INT32",
    "MetricSample",
    "PodInfo",
    "PodGroups",
    "ReplicaCalculationError",
    "ReplicaResult",
    "Tolerances",
    "get_external_metric_replicas",
    "get_external_per_pod_metric_replicas",
    "get_metric_replicas",
    "get_object_metric_replicas",
    "get_object_per_pod_metric_replicas",
    "get_raw_resource_replicas",
    "get_resource_replicas",
    "get_resource_utilization_ratio",
    "get_metric_usage_ratio",
    "group_pods",
]

#: ``--horizontal-pod-autoscaler-tolerance`` default (kube-controller-manager).
DEFAULT_TOLERANCE = 0.1
#: ``--horizontal-pod-autoscaler-cpu-initialization-period`` default: 5 minutes.
DEFAULT_CPU_INITIALIZATION_PERIOD_S = 300.0
#: ``--horizontal-pod-autoscaler-initial-readiness-delay`` default: 30 seconds.
DEFAULT_INITIAL_READINESS_DELAY_S = 30.0
MAX_INT32 = 2**31 - 1
_MAX_INT64 = 2**63 - 1

#: Pod phases, spelt as ``v1.PodPhase``.
RUNNING, PENDING, FAILED = "Running", "Pending", "Failed"


class ReplicaCalculationError(ValueError):
    """Upstream returns an error (and the HPA sets ``ScalingActive=False``): no pods
    match, no metrics for any counted pod, or metrics disjoint from the pods."""


@dataclass(frozen=True)
class Tolerances:
    """Scale-down and scale-up tolerances on the usage ratio (upstream ``Tolerances``).

    A ratio ``r`` is within tolerance when ``1 - scale_down <= r <= 1 + scale_up``
    (``Tolerances.isWithin``); then the replica count does not change."""

    scale_down: float = DEFAULT_TOLERANCE
    scale_up: float = DEFAULT_TOLERANCE

    def is_within(self, usage_ratio: float) -> bool:
        return (1.0 - self.scale_down) <= usage_ratio <= (1.0 + self.scale_up)


@dataclass(frozen=True)
class PodInfo:
    """What the replica calculator reads of one pod selected by the HPA.

    ``ready`` is the status of the ``Ready`` condition (``None``: the pod has no such
    condition), ``ready_transition_time`` its ``lastTransitionTime`` and
    ``start_time`` the pod's ``status.startTime`` (``None``: not started). ``deleting``
    is a set deletion timestamp. Times are simulated seconds."""

    name: str
    phase: str = RUNNING
    ready: bool | None = True
    start_time: float | None = 0.0
    ready_transition_time: float = 0.0
    deleting: bool = False


@dataclass(frozen=True)
class MetricSample:
    """One pod's metric: ``value`` (milli-units), the sample's ``timestamp`` and the
    ``window`` it was averaged over (metrics-server reports both)."""

    value: int
    timestamp: float = 0.0
    window: float = 30.0


@dataclass(frozen=True)
class PodGroups:
    """Result of :func:`group_pods` (upstream ``groupPods``)."""

    ready_pod_count: int
    unready: frozenset[str]
    missing: frozenset[str]
    ignored: frozenset[str]


@dataclass(frozen=True)
class ReplicaResult:
    """Desired replicas and the metric value the HPA reports in its status: the
    utilisation percentage (resource utilisation targets) and the raw average
    (milli-units), or the usage for the other metric kinds (``utilization`` is then
    ``None``)."""

    replicas: int
    usage: int
    utilization: int | None = None


def _ceil_i32(x: float) -> int:
    """``int32(math.Ceil(x))``, capped at ``MaxInt32`` as the recent upstream code caps
    object and external results (Go's conversion of a larger float is undefined)."""
    if x > MAX_INT32:
        return MAX_INT32
    return int(math.ceil(x))


def _go_div(a: int, b: int) -> int:
    """Go's integer division: truncation toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def group_pods(pods: Iterable[PodInfo], metrics: Mapping[str, MetricSample], *, is_cpu: bool,
               now: float, cpu_initialization_period: float = DEFAULT_CPU_INITIALIZATION_PERIOD_S,
               delay_of_initial_readiness_status: float = DEFAULT_INITIAL_READINESS_DELAY_S) -> PodGroups:
    """Split the pods as upstream ``groupPods`` does.

    - deleting or ``Failed`` pods are *ignored* (their metrics are dropped);
    - ``Pending`` pods are *unready*;
    - pods without a metric sample are *missing*;
    - for CPU only, a pod is *unready* if it has no Ready condition or no start time;
      within ``cpu_initialization_period`` of its start, if it is not Ready or its
      sample does not yet cover a full window after the last readiness transition
      (``timestamp < transition + window``); after that period, if it is not Ready and
      never was (``start + delay_of_initial_readiness_status > transition``);
    - every other pod is ready and counted.
    Time comparisons are strict, as Go's ``After``/``Before``."""
    ready = 0
    unready: set[str] = set()
    missing: set[str] = set()
    ignored: set[str] = set()
    for pod in pods:
        if pod.deleting or pod.phase == FAILED:
            ignored.add(pod.name)
            continue
        if pod.phase == PENDING:
            unready.add(pod.name)
            continue
        sample = metrics.get(pod.name)
        if sample is None:
            missing.add(pod.name)
            continue
        if is_cpu:
            if pod.ready is None or pod.start_time is None:
                is_unready = True
            elif pod.start_time + cpu_initialization_period > now:
                is_unready = (not pod.ready) or sample.timestamp < pod.ready_transition_time + sample.window
            else:
                is_unready = (not pod.ready) and (
                    pod.start_time + delay_of_initial_readiness_status > pod.ready_transition_time)
            if is_unready:
                unready.add(pod.name)
                continue
        ready += 1
    return PodGroups(ready, frozenset(unready), frozenset(missing), frozenset(ignored))


def get_resource_utilization_ratio(metrics: Mapping[str, int], requests: Mapping[str, int],
                                   target_utilization: int) -> tuple[float, int, int]:
    """``metrics.GetResourceUtilizationRatio``: (usage ratio, utilisation %, raw average).

    Only pods with a request count; the utilisation is ``sum(usage) * 100 /
    sum(requests)`` truncated to an integer and the ratio is that integer over the
    target, so a utilisation of 29.9 % against 30 % is 29/30."""
    metrics_total = 0
    requests_total = 0
    n = 0
    for name, value in metrics.items():
        if name not in requests:
            continue
        metrics_total += value
        requests_total += requests[name]
        n += 1
    if requests_total == 0:
        raise ReplicaCalculationError("no metrics returned matched known pods")
    utilization = _go_div(metrics_total * 100, requests_total)
    return utilization / target_utilization, utilization, _go_div(metrics_total, n)


def get_metric_usage_ratio(metrics: Mapping[str, int], target_usage: int) -> tuple[float, int]:
    """``metrics.GetMetricUsageRatio``: (ratio, per-pod average truncated)."""
    usage = _go_div(sum(metrics.values()), len(metrics))
    return usage / target_usage, usage


def _values(metrics: Mapping[str, MetricSample], drop: Iterable[str]) -> dict[str, int]:
    dropped = set(drop)
    return {name: s.value for name, s in metrics.items() if name not in dropped}


def get_resource_replicas(current_replicas: int, target_utilization: int, pods: Iterable[PodInfo],
                          metrics: Mapping[str, MetricSample], requests: Mapping[str, int], *,
                          is_cpu: bool, now: float, tolerances: Tolerances = Tolerances(),
                          cpu_initialization_period: float = DEFAULT_CPU_INITIALIZATION_PERIOD_S,
                          delay_of_initial_readiness_status: float = DEFAULT_INITIAL_READINESS_DELAY_S,
                          ) -> ReplicaResult:
    """``ReplicaCalculator.GetResourceReplicas``: a ``Resource`` metric with an
    ``Utilization`` target (percent of the pods' requests).

    Without unready or missing pods: ``ceil(ratio * ready)`` unless the ratio is within
    tolerance. Otherwise the ratio is recomputed with missing pods at
    ``max(100, target)`` % of their request on a scale-down and 0 on a scale-up, and
    (on a scale-up only) unready pods at 0; the change is dropped if it is then within
    tolerance, would reverse direction, or would move replicas against the direction.

    ``requests`` must hold every pod's request (upstream errors on a missing one)."""
    pods = list(pods)
    if not pods:
        raise ReplicaCalculationError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, is_cpu=is_cpu, now=now, cpu_initialization_period=cpu_initialization_period,
                        delay_of_initial_readiness_status=delay_of_initial_readiness_status)
    values = _values(metrics, groups.ignored | groups.unready)
    if not values:
        raise ReplicaCalculationError("did not receive metrics for targeted pods (pods might be unready)")
    for pod in pods:
        if pod.name not in requests:
            raise ReplicaCalculationError(f"missing request for pod {pod.name}")
    ratio, utilization, raw = get_resource_utilization_ratio(values, requests, target_utilization)
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.is_within(ratio):
            return ReplicaResult(current_replicas, raw, utilization)
        return ReplicaResult(_ceil_i32(ratio * groups.ready_pod_count), raw, utilization)
    if groups.missing:
        if ratio < 1.0:
            fallback = max(100, target_utilization)
            for name in groups.missing:
                values[name] = _go_div(requests[name] * fallback, 100)
        elif ratio > 1.0:
            for name in groups.missing:
                values[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            values[name] = 0
    new_ratio, _, _ = get_resource_utilization_ratio(values, requests, target_utilization)
    if tolerances.is_within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return ReplicaResult(current_replicas, raw, utilization)
    new_replicas = _ceil_i32(new_ratio * len(values))
    if (new_ratio < 1.0 and new_replicas > current_replicas) or (new_ratio > 1.0 and new_replicas < current_replicas):
        return ReplicaResult(current_replicas, raw, utilization)
    return ReplicaResult(new_replicas, raw, utilization)


def _plain_metric_replicas(current_replicas: int, target_usage: int, pods: Iterable[PodInfo],
                           metrics: Mapping[str, MetricSample], *, is_cpu: bool, now: float,
                           tolerances: Tolerances, cpu_initialization_period: float,
                           delay_of_initial_readiness_status: float) -> ReplicaResult:
    """``calcPlainMetricReplicas``: per-pod average against an ``AverageValue`` target;
    a missing pod counts as exactly the target on a scale-down."""
    pods = list(pods)
    if not pods:
        raise ReplicaCalculationError("no pods returned by selector while calculating replica count")
    groups = group_pods(pods, metrics, is_cpu=is_cpu, now=now, cpu_initialization_period=cpu_initialization_period,
                        delay_of_initial_readiness_status=delay_of_initial_readiness_status)
    values = _values(metrics, groups.ignored | groups.unready)
    if not values:
        raise ReplicaCalculationError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = get_metric_usage_ratio(values, target_usage)
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if tolerances.is_within(ratio):
            return ReplicaResult(current_replicas, usage)
        return ReplicaResult(_ceil_i32(ratio * groups.ready_pod_count), usage)
    if groups.missing:
        if ratio < 1.0:
            for name in groups.missing:
                values[name] = target_usage
        elif ratio > 1.0:
            for name in groups.missing:
                values[name] = 0
    if scale_up_with_unready:
        for name in groups.unready:
            values[name] = 0
    new_ratio, _ = get_metric_usage_ratio(values, target_usage)
    if tolerances.is_within(new_ratio) or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return ReplicaResult(current_replicas, usage)
    new_replicas = _ceil_i32(new_ratio * len(values))
    if (new_ratio < 1.0 and new_replicas > current_replicas) or (new_ratio > 1.0 and new_replicas < current_replicas):
        return ReplicaResult(current_replicas, usage)
    return ReplicaResult(new_replicas, usage)


def get_raw_resource_replicas(current_replicas: int, target_usage: int, pods: Iterable[PodInfo],
                              metrics: Mapping[str, MetricSample], *, is_cpu: bool, now: float,
                              tolerances: Tolerances = Tolerances(),
                              cpu_initialization_period: float = DEFAULT_CPU_INITIALIZATION_PERIOD_S,
                              delay_of_initial_readiness_status: float = DEFAULT_INITIAL_READINESS_DELAY_S,
                              ) -> ReplicaResult:
    """``GetRawResourceReplicas``: a ``Resource`` metric with an ``AverageValue`` target
    (milli-units per pod); CPU samples get the readiness checks of :func:`group_pods`."""
    return _plain_metric_replicas(current_replicas, target_usage, pods, metrics, is_cpu=is_cpu, now=now,
                                  tolerances=tolerances, cpu_initialization_period=cpu_initialization_period,
                                  delay_of_initial_readiness_status=delay_of_initial_readiness_status)


def get_metric_replicas(current_replicas: int, target_usage: int, pods: Iterable[PodInfo],
                        metrics: Mapping[str, MetricSample], *, now: float,
                        tolerances: Tolerances = Tolerances()) -> ReplicaResult:
    """``GetMetricReplicas``: a ``Pods`` metric (custom per-pod metric, ``AverageValue``
    target). Upstream passes no resource name, so the CPU readiness checks do not apply
    (only Pending pods count as unready)."""
    return _plain_metric_replicas(current_replicas, target_usage, pods, metrics, is_cpu=False, now=now,
                                  tolerances=tolerances, cpu_initialization_period=0.0,
                                  delay_of_initial_readiness_status=0.0)


def _usage_ratio_replica_count(current_replicas: int, usage_ratio: float, ready_pod_count: int,
                               tolerances: Tolerances) -> int:
    """``getUsageRatioReplicaCount``: with replicas, ``ceil(ratio * ready pods)`` unless
    within tolerance; at zero replicas (scale to zero) ``ceil(ratio)``."""
    if current_replicas != 0:
        if tolerances.is_within(usage_ratio):
            return current_replicas
        return _ceil_i32(usage_ratio * ready_pod_count)
    return _ceil_i32(usage_ratio)


def get_object_metric_replicas(current_replicas: int, target_usage: int, usage: int, ready_pod_count: int,
                               tolerances: Tolerances = Tolerances()) -> ReplicaResult:
    """``GetObjectMetricReplicas``: an ``Object`` metric with a ``Value`` target.
    ``ready_pod_count`` is the number of Running and Ready pods of the target."""
    ratio = usage / target_usage
    return ReplicaResult(_usage_ratio_replica_count(current_replicas, ratio, ready_pod_count, tolerances), usage)


def get_object_per_pod_metric_replicas(status_replicas: int, target_average_usage: int, usage: int,
                                       tolerances: Tolerances = Tolerances()) -> ReplicaResult:
    """``GetObjectPerPodMetricReplicas``: an ``Object`` metric with an ``AverageValue``
    target: ``ceil(usage / target)`` unless ``usage / (target * replicas)`` is within
    tolerance; the reported usage is ``ceil(usage / replicas)``."""
    replicas = status_replicas
    ratio = usage / (target_average_usage * replicas)
    if not tolerances.is_within(ratio):
        replicas = _ceil_i32(usage / target_average_usage)
    return ReplicaResult(replicas, math.ceil(usage / status_replicas))


def _sum_capped(values: Iterable[int]) -> int:
    total = 0
    for v in values:
        total += v
        if total > _MAX_INT64:
            return _MAX_INT64
    return total


def get_external_metric_replicas(current_replicas: int, target_usage: int, values: Iterable[int],
                                 ready_pod_count: int, tolerances: Tolerances = Tolerances()) -> ReplicaResult:
    """``GetExternalMetricReplicas``: an ``External`` metric with a ``Value`` target;
    the series matching the selector are summed."""
    usage = _sum_capped(values)
    ratio = usage / target_usage
    return ReplicaResult(_usage_ratio_replica_count(current_replicas, ratio, ready_pod_count, tolerances), usage)


def get_external_per_pod_metric_replicas(status_replicas: int, target_usage_per_pod: int, values: Iterable[int],
                                         tolerances: Tolerances = Tolerances()) -> ReplicaResult:
    """``GetExternalPerPodMetricReplicas``: an ``External`` metric with an
    ``AverageValue`` target: ``ceil(sum / target)`` unless within tolerance."""
    usage = _sum_capped(values)
    replicas = status_replicas
    ratio = usage / (target_usage_per_pod * replicas)
    if not tolerances.is_within(ratio):
        replicas = _ceil_i32(usage / target_usage_per_pod)
    reported = _MAX_INT64 if usage >= _MAX_INT64 else math.ceil(usage / status_replicas)
    return ReplicaResult(replicas, reported)
