"""The HPA replica calculator against upstream's replica_calculator_test.go.

Each case is named after the upstream test it mirrors (kubernetes/kubernetes,
pkg/controller/podautoscaler/replica_calculator_test.go) and uses its numbers. The
upstream harness gives every pod two containers, each requesting ``requests[i]`` and
using ``levels[i]`` milli-CPU, so a pod requests and uses twice those; the expected raw
value is ``numContainersPerPod * level``. Its pods have Go's zero time as start time and
readiness transition unless set, its metric samples the zero timestamp and a 1-minute
window, and it runs with the testing constants (2-minute CPU initialization period,
10-second initial readiness delay). Here the zero time is 0 s and "now" is 1000 s; a
"hot" pod started 60 s ago (inside the 2 minutes), a "cool" one 180 s ago.
"""

from __future__ import annotations

import pytest

from k8sim.autoscaling.hpa_replicas import (
    MetricSample,
    PodInfo,
    ReplicaCalculationError,
    Tolerances,
    get_external_metric_replicas,
    get_external_per_pod_metric_replicas,
    get_metric_replicas,
    get_object_metric_replicas,
    get_object_per_pod_metric_replicas,
    get_resource_replicas,
    group_pods,
)

NOW = 1000.0
HOT = NOW - 60.0
COOL = NOW - 180.0
T, F = True, False
R, P, X = "Running", "Pending", "Failed"
CONTAINERS = 2


def _pods(n, readiness=None, phase=None, start=None, deleting=None):
    return [PodInfo(name=f"p{i}", phase=(phase or [R] * n)[i], ready=(readiness or [T] * n)[i],
                    start_time=(start or [0.0] * n)[i], ready_transition_time=0.0,
                    deleting=(deleting or [F] * n)[i]) for i in range(n)]


def _resource(current, levels, requests_cpu, target, *, readiness=None, phase=None, start=None, deleting=None,
              n=None, tolerances=None):
    n = n if n is not None else max(current, len(phase or []))
    pods = _pods(n, readiness, phase, start, deleting)
    metrics = {f"p{i}": MetricSample(CONTAINERS * lv, timestamp=0.0, window=60.0) for i, lv in enumerate(levels)}
    requests = {f"p{i}": CONTAINERS * r for i, r in enumerate(requests_cpu)}
    return get_resource_replicas(current, target, pods, metrics, requests, is_cpu=True, now=NOW,
                                 tolerances=tolerances or Tolerances(), cpu_initialization_period=120.0,
                                 delay_of_initial_readiness_status=10.0)


# (upstream test, current, levels, requests, target, kwargs, expected replicas, util %, raw)
RESOURCE_CASES = [
    ("TestReplicaCalcScaleUp", 3, [300, 500, 700], [1000] * 3, 30, {}, 5, 50, 2 * 500),
    ("TestReplicaCalcScaleUpUnreadyLessScale", 3, [300, 500, 700], [1000] * 3, 30,
     {"readiness": [F, T, T]}, 4, 60, 2 * 600),
    ("TestReplicaCalcScaleUpHotCpuLessScale", 3, [300, 500, 700], [1000] * 3, 30,
     {"start": [HOT, COOL, COOL]}, 4, 60, 2 * 600),
    ("TestReplicaCalcScaleUpUnreadyNoScale", 3, [400, 500, 700], [1000] * 3, 30,
     {"readiness": [T, F, F]}, 3, 40, 2 * 400),
    ("TestReplicaCalcScaleHotCpuNoScale", 3, [400, 500, 700], [1000] * 3, 30,
     {"readiness": [T, F, F], "start": [COOL, HOT, HOT]}, 3, 40, 2 * 400),
    ("TestReplicaCalcScaleUpIgnoresFailedPods", 2, [500, 700], [1000] * 4, 30,
     {"readiness": [T, T, F, F], "phase": [R, R, X, X]}, 4, 60, 2 * 600),
    ("TestReplicaCalcScaleUpIgnoresDeletionPods", 2, [500, 700], [1000] * 4, 30,
     {"readiness": [T, T, F, F], "deleting": [F, F, T, T], "n": 4}, 4, 60, 2 * 600),
    ("TestReplicaCalcScaleDown", 5, [100, 300, 500, 250, 250], [1000] * 5, 50, {}, 3, 28, 2 * 280),
    ("TestReplicaCalcScaleDownExcludeUnreadyPods", 5, [100, 300, 500, 250, 250], [1000] * 5, 50,
     {"readiness": [T, T, T, F, F]}, 2, 30, 2 * 300),
    ("TestReplicaCalcScaleDownExcludeUnscheduledPods", 5, [100], [1000] * 5, 50,
     {"readiness": [T, F, F, F, F], "phase": [R, P, P, P, P]}, 1, 10, 2 * 100),
    ("TestReplicaCalcScaleDownIgnoreHotCpuPods", 5, [100, 300, 500, 250, 250], [1000] * 5, 50,
     {"start": [COOL, COOL, COOL, HOT, HOT]}, 2, 30, 2 * 300),
    ("TestReplicaCalcScaleDownIgnoresFailedPods", 5, [100, 300, 500, 250, 250], [1000] * 7, 50,
     {"readiness": [T] * 5 + [F, F], "phase": [R] * 5 + [X, X]}, 3, 28, 2 * 280),
    ("TestReplicaCalcScaleDownIgnoresDeletionPods", 5, [100, 300, 500, 250, 250], [1000] * 7, 50,
     {"readiness": [T] * 5 + [F, F], "deleting": [F] * 5 + [T, T], "n": 7}, 3, 28, 2 * 280),
    ("TestReplicaCalcTolerance", 3, [1010, 1030, 1020], [900, 1000, 1100], 100, {}, 3, 102, 2 * 1020),
    ("TestReplicaCalcSuperfluousMetrics", 4, [4000, 9500, 3000, 7000, 3200, 2000], [1000] * 4, 100, {},
     24, 587, 2 * 5875),
    ("TestReplicaCalcMissingMetrics", 4, [400, 95], [1000] * 4, 100, {}, 3, 24, 495),
    ("TestReplicaCalcMissingMetricsNoChangeEq", 2, [1000], [1000] * 2, 100, {}, 2, 100, 2 * 1000),
    ("TestReplicaCalcMissingMetricsNoChangeGt", 2, [1900], [1000] * 2, 100, {}, 2, 190, 2 * 1900),
    ("TestReplicaCalcMissingMetricsNoChangeLt", 2, [600], [1000] * 2, 100, {}, 2, 60, 2 * 600),
    ("TestReplicaCalcMissingMetricsUnreadyChange", 3, [100, 450], [1000] * 3, 50,
     {"readiness": [F, T, T]}, 3, 45, 2 * 450),
    ("TestReplicaCalcMissingMetricsHotCpuNoChange", 3, [100, 450], [1000] * 3, 50,
     {"start": [HOT, COOL, COOL]}, 3, 45, 2 * 450),
    ("TestReplicaCalcMissingMetricsUnreadyScaleUp", 3, [100, 2000], [1000] * 3, 50,
     {"readiness": [F, T, T]}, 4, 200, 2 * 2000),
    ("TestReplicaCalcMissingMetricsHotCpuScaleUp", 3, [100, 2000], [1000] * 3, 50,
     {"readiness": [F, T, T], "start": [HOT, COOL, COOL]}, 4, 200, 2 * 2000),
    ("TestReplicaCalcMissingMetricsUnreadyScaleDown", 4, [100, 100, 100], [1000] * 4, 50,
     {"readiness": [F, T, T, T]}, 3, 10, 2 * 100),
    ("TestReplicaCalcMissingMetricsScaleDownTargetOver100", 4, [200, 100, 100], [1000, 1000, 2000, 2000], 300,
     {"readiness": [F, T, T, T]}, 2, 6, 2 * 100),
    ("TestReplicaCalcDuringRollingUpdateWithMaxSurge", 2, [100, 100], [1000] * 3, 50,
     {"phase": [R, R, R]}, 2, 10, 2 * 100),
    # TestReplicaCalcComputedToleranceAlgImplementation: 10 pods using 2 * 150 m against
    # requests around 2 * 300 m (sum 6000 m): 50 %; target int(100 / (2 * 0.9) + 1) = 56 ->
    # ratio 0.893 -> ceil(8.93) = 9; target 55 (+0.4 instead of +1) -> 0.909: no change.
    ("TestReplicaCalcComputedToleranceAlgImplementation", 10, [150] * 10,
     [400, 200, 310, 290, 302, 298, 301, 299, 300, 300], 56, {}, 9, 50, 2 * 150),
    ("TestReplicaCalcComputedToleranceAlgImplementation (no scale)", 10, [150] * 10,
     [400, 200, 310, 290, 302, 298, 301, 299, 300, 300], 55, {}, 10, 50, 2 * 150),
]


@pytest.mark.parametrize(("name", "current", "levels", "requests", "target", "kw", "replicas", "util", "raw"),
                         RESOURCE_CASES, ids=[c[0] for c in RESOURCE_CASES])
def test_resource_utilization_cases_mirror_upstream(name, current, levels, requests, target, kw, replicas, util,
                                                    raw):
    result = _resource(current, levels, requests, target, **kw)
    assert (result.replicas, result.utilization, result.usage) == (replicas, util, raw)


def test_missing_metrics_scale_down_uses_the_target_when_it_is_over_100_percent():
    # Hand-derived companion of TestReplicaCalcMissingMetricsScaleDownTargetOver100: 4
    # pods of 2000 m, pod0 unready, pods 1-2 use 2 * 300 m, pod3 has no metric; target
    # 300 %. Ready usage 1200 / 4000 = 30 % -> ratio 0.1. A missing pod counts as
    # max(100, 300) = 300 % of its request = 6000 m: (1200 + 6000) / 6000 = 120 % -> 0.4
    # -> ceil(0.4 * 3) = 2. Counting it at 100 % would give 53 % -> ceil(0.53) = 1.
    result = _resource(4, [300, 300, 300], [1000] * 4, 300, readiness=[F, T, T, T])
    assert result.replicas == 2


def test_rolling_update_with_max_surge_pods_metric():
    # TestReplicaCalcDuringRollingUpdateWithMaxSurgeCM: 3 running pods for 2 replicas,
    # the surge pod has no sample; average 10000 against 17000 -> scale-down, but with
    # the missing pod at the target the count would be ceil(0.7255 * 3) = 3 > 2: keep 2.
    pods = _pods(3, phase=[R, R, R])
    metrics = {"p0": MetricSample(10000), "p1": MetricSample(10000)}
    r = get_metric_replicas(2, 17000, pods, metrics, now=NOW)
    assert (r.replicas, r.usage) == (2, 10000)


GROUP_PODS = [
    # TestGroupPods: (name, pod, sample or None, is_cpu, expected (ready, unready, missing, ignored))
    ("count in a ready pod - memory", PodInfo("b", phase="Succeeded", ready=None, start_time=None),
     MetricSample(1, NOW, 60), False, (1, set(), set(), set())),
    ("unready a pod without ready condition - CPU", PodInfo("l", phase="Succeeded", ready=None, start_time=NOW),
     MetricSample(1), True, (0, {"l"}, set(), set())),
    ("count in a ready pod with fresh metrics during initialization period - CPU",
     PodInfo("b", phase="Succeeded", ready=True, start_time=NOW - 60, ready_transition_time=NOW - 30),
     MetricSample(1, NOW, 30), True, (1, set(), set(), set())),
    ("unready a ready pod without fresh metrics during initialization period - CPU",
     PodInfo("b", phase="Succeeded", ready=True, start_time=NOW - 60, ready_transition_time=NOW - 30),
     MetricSample(1, NOW, 60), True, (0, {"b"}, set(), set())),
    ("unready an unready pod during initialization period - CPU",
     PodInfo("l", phase="Succeeded", ready=False, start_time=NOW - 600, ready_transition_time=NOW - 594),
     MetricSample(1), True, (0, {"l"}, set(), set())),
    ("count in a ready pod without fresh metrics after initialization period - CPU",
     PodInfo("b", phase="Succeeded", ready=True, start_time=NOW - 180, ready_transition_time=NOW - 180),
     MetricSample(1, NOW - 120, 60), True, (1, set(), set(), set())),
    ("count in an unready pod that was ready after initialization period - CPU",
     PodInfo("l", phase="Succeeded", ready=False, start_time=NOW - 600, ready_transition_time=NOW - 540),
     MetricSample(1), True, (1, set(), set(), set())),
    ("unready pod that has never been ready after initialization period - CPU",
     PodInfo("l", phase="Succeeded", ready=False, start_time=NOW - 600, ready_transition_time=NOW - 590),
     MetricSample(1), True, (1, set(), set(), set())),
    ("a missing pod", PodInfo("e", phase="Succeeded", ready=None, start_time=NOW - 180), None, True,
     (0, set(), {"e"}, set())),
    ("pending pods are unreadied", PodInfo("u", phase="Pending", ready=None, start_time=None), None, True,
     (0, {"u"}, set(), set())),
    ("ignore pods with deletion timestamps", PodInfo("d", phase="Pending", deleting=True), MetricSample(1), True,
     (0, set(), set(), {"d"})),
    ("ignore pods in a failed state", PodInfo("f", phase="Failed"), MetricSample(1), True, (0, set(), set(), {"f"})),
]


@pytest.mark.parametrize(("name", "pod", "sample", "is_cpu", "expected"), GROUP_PODS, ids=[c[0] for c in GROUP_PODS])
def test_group_pods_mirrors_upstream(name, pod, sample, is_cpu, expected):
    # Run with the testing constants (2 min initialization, 10 s readiness delay).
    metrics = {} if sample is None else {pod.name: sample}
    g = group_pods([pod], metrics, is_cpu=is_cpu, now=NOW, cpu_initialization_period=120.0,
                   delay_of_initial_readiness_status=10.0)
    assert (g.ready_pod_count, set(g.unready), set(g.missing), set(g.ignored)) == expected


def test_errors_are_those_of_upstream():
    # TestReplicaCalcDisjointResourcesMetrics: the only metric is for an unknown pod.
    pods = _pods(1)
    with pytest.raises(ReplicaCalculationError, match="no metrics returned matched known pods"):
        get_resource_replicas(1, 100, pods, {"an-older-pod-name": MetricSample(200)}, {"p0": 2000},
                              is_cpu=True, now=NOW)
    # TestReplicaCalcEmptyCPURequest: a pod without a CPU request.
    with pytest.raises(ReplicaCalculationError, match="missing request for"):
        get_resource_replicas(1, 100, pods, {"p0": MetricSample(400)}, {}, is_cpu=True, now=NOW)
    with pytest.raises(ReplicaCalculationError, match="no pods returned"):
        get_resource_replicas(1, 100, [], {}, {}, is_cpu=True, now=NOW)
    # Every pod unready: no metric is left.
    with pytest.raises(ReplicaCalculationError, match="did not receive metrics"):
        _resource(2, [500, 500], [1000] * 2, 50, readiness=[F, F])


POD_METRIC_CASES = [
    ("TestReplicaCalcScaleUpCM", 3, [20000, 10000, 30000], 15000, {}, 4, 20000),
    ("TestReplicaCalcScaleUpCMUnreadyHotCpuNoLessScale", 3, [50000, 10000, 30000], 15000,
     {"readiness": [T, T, F], "start": [COOL, COOL, HOT]}, 6, 30000),
    ("TestReplicaCalcScaleUpCMUnreadyHotCpuScaleWouldScaleDown", 3, [50000, 15000, 30000], 15000,
     {"readiness": [F, T, F], "start": [HOT, COOL, HOT]}, 7, 31666),
    ("TestReplicaCalcScaleDownCM", 5, [12000] * 5, 20000, {}, 3, 12000),
    ("TestReplicaCalcToleranceCM", 3, [20000, 21000, 21000], 20000, {}, 3, 20666),
    ("TestPlainMetricReplicaCalcMissingMetricsNoChangeEq", 5, [20000, 19000, 21000], 20000, {}, 5, 20000),
]


@pytest.mark.parametrize(("name", "current", "levels", "target", "kw", "replicas", "usage"), POD_METRIC_CASES,
                         ids=[c[0] for c in POD_METRIC_CASES])
def test_pods_metric_cases_mirror_upstream(name, current, levels, target, kw, replicas, usage):
    # A Pods metric has no CPU readiness checks: the hot/unready pods above still count.
    pods = _pods(current, kw.get("readiness"), None, kw.get("start"))
    metrics = {f"p{i}": MetricSample(v) for i, v in enumerate(levels)}
    result = get_metric_replicas(current, target, pods, metrics, now=NOW)
    assert (result.replicas, result.usage) == (replicas, usage)


def test_object_and_external_cases_mirror_upstream():
    # TestReplicaCalcScaleUpCMObject: 20000 / 15000 * 3 ready pods = 4.
    assert get_object_metric_replicas(3, 15000, 20000, 3).replicas == 4
    # TestReplicaCalcScaleUpCMObjectIgnoresUnreadyPods: 1 ready pod -> ceil(5 * 1) = 5.
    assert get_object_metric_replicas(3, 10000, 50000, 1).replicas == 5
    # TestReplicaCalcScaleDownCMObject: ceil(0.6 * 5) = 3.
    assert get_object_metric_replicas(5, 20000, 12000, 5).replicas == 3
    # TestReplicaCalcToleranceCMObject: 20666 / 20000 = 1.033 is within 0.1.
    assert get_object_metric_replicas(3, 20000, 20666, 3).replicas == 3
    # TestReplicaCalcScaleUpCMPerPodObject: ceil(20000 / 5000) = 4, usage ceil(20000 / 3).
    r = get_object_per_pod_metric_replicas(3, 5000, 20000)
    assert (r.replicas, r.usage) == (4, 6667)
    # TestReplicaCalcScaleDownPerPodCMObject: ceil(6000 / 2000) = 3, usage 6000 / 5.
    r = get_object_per_pod_metric_replicas(5, 2000, 6000)
    assert (r.replicas, r.usage) == (3, 1200)
    # TestReplicaCalcTolerancePerPodCMObject: 20166 / (5000 * 4) = 1.008: stays 4.
    r = get_object_per_pod_metric_replicas(4, 5000, 20166)
    assert (r.replicas, r.usage) == (4, 5042)
    # TestReplicaCalcScaleUpCMExternal: ceil(8600 / 4400 * 1) = 2.
    assert get_external_metric_replicas(1, 4400, [8600], 1).replicas == 2
    # TestReplicaCalcScaleUpCMExternalIgnoresUnreadyPods: 1 of 3 pods ready -> 2.
    assert get_external_metric_replicas(3, 4400, [8600], 1).replicas == 2
    # TestReplicaCalcScaleDownCMExternal: ceil(8600 / 14334 * 5) = ceil(2.9999) = 3.
    assert get_external_metric_replicas(5, 14334, [8600], 5).replicas == 3
    # TestReplicaCalcToleranceCMExternal: 8600 / 8888 = 0.968 is within 0.1.
    assert get_external_metric_replicas(3, 8888, [8600], 3).replicas == 3
    # TestReplicaCalcScaleUpPerPodCMExternal: ceil(8600 / 2150) = 4, usage ceil(8600 / 3).
    r = get_external_per_pod_metric_replicas(3, 2150, [8600])
    assert (r.replicas, r.usage) == (4, 2867)
    # TestReplicaCalcScaleDownPerPodCMExternal: ceil(8600 / 2867) = 3, usage 1720.
    r = get_external_per_pod_metric_replicas(5, 2867, [8600])
    assert (r.replicas, r.usage) == (3, 1720)
    # TestReplicaCalcTolerancePerPodCMExternal: 8600 / (2900 * 3) = 0.989: stays 3.
    r = get_external_per_pod_metric_replicas(3, 2900, [8600])
    assert (r.replicas, r.usage) == (3, 2867)


def test_scale_to_zero_ignores_tolerance_and_ready_pods():
    # getUsageRatioReplicaCount at 0 replicas: ceil(ratio), here ceil(0.5) = 1 and 0.
    assert get_external_metric_replicas(0, 2000, [1000], 0).replicas == 1
    assert get_external_metric_replicas(0, 2000, [0], 0).replicas == 0


def test_per_direction_tolerances():
    # Hand-derived: 4 pods of 1000 m (2 containers of 500 m), target 50 %.
    # 60 % -> ratio 1.2: outside 0.1 up -> ceil(1.2 * 4) = 5; inside a 0.25 up tolerance.
    assert _resource(4, [300] * 4, [500] * 4, 50).replicas == 5
    assert _resource(4, [300] * 4, [500] * 4, 50, tolerances=Tolerances(0.1, 0.25)).replicas == 4
    # 42 % -> ratio 0.84: outside 0.1 down -> ceil(0.84 * 4) = 4 (3.36 -> 4, no change);
    # 30 % -> 0.6 -> ceil(2.4) = 3 with 0.1, but a 0.5 scale-down tolerance keeps 4.
    assert _resource(4, [150] * 4, [500] * 4, 50).replicas == 3
    assert _resource(4, [150] * 4, [500] * 4, 50, tolerances=Tolerances(0.5, 0.0)).replicas == 4
    # The bounds are inclusive (isWithin uses <=): ratio exactly 1.1 does not scale.
    assert Tolerances().is_within(1.1) and Tolerances().is_within(0.9)
    assert not Tolerances(0.0, 0.0).is_within(1.0000001)


@pytest.mark.parametrize(("l1", "l2", "current", "target", "expected"), [
    (500, 900, 4, 50, 8),     # 90 / 50 * 4 = 7.2 -> 8
    (600, 800, 3, 60, 4),     # 80 / 60 * 3 = 4.0 -> 4
    (700, 910, 10, 70, 13),   # 91 / 70 * 10 = 13.0 -> 13
    (500, 540, 4, 50, 4),     # 54 / 50 = 1.08: inside the tolerance, no change
])
def test_load_step_gives_ceil_current_times_utilisation_over_target(l1, l2, current, target, expected):
    # The hand-derived property: every pod (1000 m request, all ready) steps
    # from l1 to l2 milli-CPU; before the step the utilisation is on target (no
    # change), after it the calculator returns ceil(current * utilisation / target)
    # once the ratio leaves the 0.1 tolerance band.
    before = _resource(current, [l1 / 2] * current, [500] * current, target)
    assert (before.utilization, before.replicas) == (target, current)
    after = _resource(current, [l2 / 2] * current, [500] * current, target)
    assert (after.utilization, after.replicas) == (l2 // 10, expected)


def test_group_pods_cpu_readiness_rules():
    # Within the init period a Ready pod counts only once a full metric window has
    # passed since its readiness transition (timestamp >= transition + window).
    pod = PodInfo("a", start_time=NOW - 30, ready=True, ready_transition_time=NOW - 20)
    early = MetricSample(100, timestamp=NOW - 1, window=30)   # NOW-1 < NOW-20+30
    late = MetricSample(100, timestamp=NOW + 10, window=30)   # NOW+10 >= NOW+10
    assert group_pods([pod], {"a": early}, is_cpu=True, now=NOW).unready == {"a"}
    assert group_pods([pod], {"a": late}, is_cpu=True, now=NOW).ready_pod_count == 1
    # After the period, an unready pod that was ready once (transition later than
    # start + 30 s) counts with its sample; one never ready does not.
    s = MetricSample(100, timestamp=NOW)
    was_ready = PodInfo("b", start_time=0.0, ready=False, ready_transition_time=500.0)
    never = PodInfo("c", start_time=0.0, ready=False, ready_transition_time=20.0)
    g = group_pods([was_ready, never], {"b": s, "c": s}, is_cpu=True, now=NOW)
    assert g.ready_pod_count == 1 and g.unready == {"c"}
    # No Ready condition at all: unready; the same pod for a non-CPU metric: counted.
    nocond = PodInfo("d", ready=None)
    assert group_pods([nocond], {"d": s}, is_cpu=True, now=NOW).unready == {"d"}
    assert group_pods([nocond], {"d": s}, is_cpu=False, now=NOW).ready_pod_count == 1
