"""HPA behavior normalisation against upstream's horizontal_test.go.

Cases named after kubernetes/kubernetes pkg/controller/podautoscaler/horizontal_test.go
(TestScalingWithRules, TestNormalizeDesiredReplicas, TestNormalizeDesiredReplicasWithBehavior,
TestStoreScaleEvents) keep their
upstream names and numbers. Upstream builds event times with
``generateEventsUniformDistribution(events, period)``: event ``i`` of ``n`` lies
``int(period - seg*(i+1) + seg/2)`` seconds before now, ``seg = period / n`` (Go
truncates the float to whole seconds); :func:`_uniform` does the same.
"""

from __future__ import annotations

import pytest

from k8sim.autoscaling.hpa_behavior import (
    DEFAULT_DOWNSCALE_STABILIZATION_S,
    HPABehavior,
    HPAScalingPolicy,
    HPAScalingRules,
    Recommendation,
    ScaleEvent,
    calculate_scale_down_limit_with_behaviors,
    calculate_scale_up_limit_with_scaling_rules,
    compute_replicas_for_metrics,
    convert_desired_replicas_with_behavior_rate,
    convert_desired_replicas_with_rules,
    default_behavior,
    generate_scale_down_rules,
    generate_scale_up_rules,
    get_replicas_change_per_period,
    normalize_desired_replicas_with_behaviors,
    reconcile_bounds,
    record_initial_recommendation,
    stabilize_recommendation,
    stabilize_recommendation_with_behaviors,
    store_scale_event,
    tolerances_for,
)

NOW = 10_000.0


def _rules(pods, pods_period, percent, percent_period, window):
    """upstream generateScalingRules (selectPolicy Max)."""
    policies = []
    if pods:
        policies.append(HPAScalingPolicy("Pods", pods, pods_period))
    if percent:
        policies.append(HPAScalingPolicy("Percent", percent, percent_period))
    return {"policies": tuple(policies), "select_policy": "Max", "stabilization_window_seconds": window}


def _uniform(raw, period):
    seg = period / len(raw)
    return [ScaleEvent(v, NOW - int(period - seg * (i + 1) + seg / 2)) for i, v in enumerate(raw)]


# name, up events, down events, min, max, up rules, down rules, current, desired, expected, condition
SCALING_WITH_RULES = [
    ("prenormalized desired replicas within range", [], [], 3, 8, None, None, 5, 7, 7, "DesiredWithinRange"),
    ("prenormalized desired replicas < minReplicas", [], [], 2, 8, None, None, 3, 1, 2, "TooFewReplicas"),
    ("prenormalized desired replicas within range when minReplicas is 0", [], [], 0, 10, None, None, 1, 0, 0,
     "DesiredWithinRange"),
    ("maxReplicas is the limit because maxReplicas < scaleUpLimit", [], [], 1, 10, None, None, 20, 1000, 10,
     "TooManyReplicas"),
    ("desired replica count is more than the maximum replica count", [], [], 100, 150, None, None, 100, 1000, 150,
     "TooManyReplicas"),
    ("scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies", [], [], 1, 2000,
     _rules(0, 0, 1, 60, 0), None, 3, 1000, 4, "ScaleUpLimit"),
    ("scaleUp with default behavior", [], [], 1, 1000, None, None, 10, 50, 20, "ScaleUpLimit"),
    ("scaleUp with pods policy larger than percent policy", [], [], 1, 1000, _rules(100, 60, 100, 60, 0), None,
     10, 500, 110, "ScaleUpLimit"),
    ("scaleUp with percent policy larger than pods policy", [], [], 1, 1000, _rules(2, 60, 100, 60, 0), None,
     10, 500, 20, "ScaleUpLimit"),
    ("scaleUp with spec MaxReplicas limitation with large pod policy", [], [], 1, 1000, _rules(100, 60, 0, 0, 0),
     None, 10, 50, 50, "DesiredWithinRange"),
    ("scaleUp with spec MaxReplicas limitation with large percent policy", [], [], 1, 1000,
     _rules(10000, 60, 0, 0, 0), None, 10, 50, 50, "DesiredWithinRange"),
    ("scaleUp with pod policy limitation", [], [], 1, 1000, _rules(30, 60, 0, 0, 0), None, 10, 50, 40,
     "ScaleUpLimit"),
    ("scaleUp with percent policy limitation", [], [], 1, 1000, _rules(0, 0, 200, 60, 0), None, 10, 50, 30,
     "ScaleUpLimit"),
    ("scaleDown with percent policy larger than pod policy", [], [], 1, 1000, None, _rules(20, 60, 1, 60, 300),
     100, 2, 80, "ScaleDownLimit"),
    ("scaleDown with pod policy larger than percent policy", [], [], 1, 1000, None, _rules(2, 60, 1, 60, 300),
     100, 2, 98, "ScaleDownLimit"),
    ("scaleDown with spec MinReplicas=nil limitation with large pod policy", [], [], 1, 1000, None,
     _rules(100, 60, 0, 0, 300), 10, 0, 1, "TooFewReplicas"),
    ("scaleDown with spec MinReplicas limitation with large percent policy", [], [], 5, 1000, None,
     _rules(0, 0, 100, 60, 300), 10, 2, 5, "TooFewReplicas"),
    ("scaleDown with pod policy limitation", [], [], 1, 1000, None, _rules(5, 60, 0, 0, 300), 10, 2, 5,
     "ScaleDownLimit"),
    ("scaleDown with percent policy limitation", [], [], 1, 1000, None, _rules(0, 0, 50, 60, 300), 10, 5, 5,
     "DesiredWithinRange"),
    ("scaleUp with spec MaxReplicas limitation with large pod policy and events", _uniform([1, 5, 9], 120), [],
     1, 200, _rules(300, 60, 0, 0, 0), None, 100, 500, 200, "TooManyReplicas"),
    ("scaleUp with spec MaxReplicas limitation with large percent policy and events", _uniform([1, 5, 9], 120),
     [], 1, 200, _rules(0, 0, 10000, 60, 0), None, 100, 500, 200, "TooManyReplicas"),
    ("scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent scale up events",
     _uniform([1, 5, 9], 120), [], 1, 1000, _rules(5, 120, 0, 0, 0), None, 100, 500, 100, "ScaleUpLimit"),
    ("scaleUp with pod policy and previous scale up events", _uniform([1, 5, 9], 120), [], 1, 1000,
     _rules(150, 120, 0, 0, 0), None, 100, 500, 235, "ScaleUpLimit"),
    ("scaleUp with percent policy and previous scale up events", _uniform([1, 5, 9], 120), [], 1, 1000,
     _rules(0, 0, 200, 120, 0), None, 100, 500, 255, "ScaleUpLimit"),
    ("scaleUp with percent policy and previous scale up and down events", _uniform([4], 120), _uniform([2], 120),
     1, 1000, _rules(0, 0, 300, 300, 0), None, 6, 24, 16, "ScaleUpLimit"),
    ("scaleDown with default policy and previous events", [], _uniform([1, 5, 9], 120), 1, 1000, None, None, 10,
     5, 5, "DesiredWithinRange"),
    ("scaleDown with spec MinReplicas=nil limitation with large pod policy and previous events", [],
     _uniform([1, 5, 9], 120), 1, 1000, None, _rules(115, 120, 0, 0, 300), 100, 0, 1, "TooFewReplicas"),
    ("scaleDown with spec MinReplicas limitation with large pod policy and previous events", [],
     _uniform([1, 5, 9], 120), 5, 1000, None, _rules(130, 120, 0, 0, 300), 100, 0, 5, "TooFewReplicas"),
    ("scaleDown with spec MinReplicas limitation with large percent policy and previous events", [],
     _uniform([1, 5, 9], 120), 5, 1000, None, _rules(0, 0, 100, 120, 300), 100, 2, 5, "TooFewReplicas"),
    ("scaleDown with pod policy limitation and previous events", [], _uniform([1, 5, 9], 120), 1, 1000, None,
     _rules(5, 120, 0, 0, 300), 100, 2, 100, "ScaleDownLimit"),
    ("scaleDown with percent policy limitation and previous events", [], _uniform([2, 4, 6], 120), 1, 1000, None,
     _rules(0, 0, 50, 120, 300), 100, 0, 56, "ScaleDownLimit"),
    ("scaleDown with percent policy and previous scale up and down events", _uniform([2], 120), _uniform([4], 120),
     1, 1000, None, _rules(0, 0, 50, 180, 0), 10, 1, 6, "ScaleDownLimit"),
    ("scaleDown with previous events preventing further scale down", [], _uniform([10, 10, 10], 120), 1, 1000,
     None, _rules(0, 0, 10, 120, 300), 100, 0, 100, "ScaleDownLimit"),
    ("scaleDown with with previous events still allowing more scale down", [], _uniform([10, 10, 10], 120), 1,
     1000, None, _rules(0, 0, 1000, 120, 300), 10, 5, 5, "DesiredWithinRange"),
    ("check 'outdated' flag for events for one behavior for up", _uniform([8, 12, 9, 11], 120), [], 1, 1000,
     _rules(1000, 60, 0, 0, 0), None, 100, 200, 200, "DesiredWithinRange"),
    ("check that events were marked 'outdated' for two different policies in the behavior for up",
     _uniform([8, 12, 9, 11], 120), [], 1, 1000, _rules(1000, 30, 100, 60, 0), None, 100, 200, 200,
     "DesiredWithinRange"),
    ("check that events were marked 'outdated' for two different policies in the behavior for down", [],
     _uniform([8, 12, 9, 11], 120), 1, 1000, None, _rules(1000, 30, 100, 60, 300), 100, 5, 5,
     "DesiredWithinRange"),
]


@pytest.mark.parametrize(("name", "up_ev", "down_ev", "mn", "mx", "up", "down", "current", "desired", "expected",
                          "condition"), SCALING_WITH_RULES, ids=[c[0] for c in SCALING_WITH_RULES])
def test_scaling_with_rules_mirrors_upstream(name, up_ev, down_ev, mn, mx, up, down, current, desired, expected,
                                             condition):
    replicas, reason = convert_desired_replicas_with_behavior_rate(
        current, desired, mn, mx, generate_scale_up_rules(up), generate_scale_down_rules(down), up_ev, down_ev, NOW)
    assert (replicas, reason) == (expected, condition)


NORMALIZE = [  # TestNormalizeDesiredReplicas: (name, recs as (value, minutes ago), desired, expected, log length)
    ("empty log", [], 5, 5, 1),
    ("stabilize", [(4, 2), (5, 1)], 3, 5, 3),
    ("no stabilize", [(1, 2), (2, 1)], 3, 3, 3),
    ("no stabilize - old recommendations", [(10, 10), (9, 9)], 3, 3, 2),
    ("stabilize - old recommendations", [(10, 10), (4, 1), (5, 2), (9, 9)], 3, 5, 4),
]


@pytest.mark.parametrize(("name", "recs", "desired", "expected", "length"), NORMALIZE, ids=[c[0] for c in NORMALIZE])
def test_stabilize_recommendation_mirrors_upstream(name, recs, desired, expected, length):
    log = [Recommendation(v, NOW - 60 * m) for v, m in recs]
    got, new_log = stabilize_recommendation(log, desired, NOW, 300)
    assert (got, len(new_log)) == (expected, length)


STORE = [  # TestStoreScaleEvents: (name, previous (change, s ago), rules, expected change in 60 s, new events)
    ("empty entries with default behavior", [], None, 0, []),
    ("empty entries with two-policy-behavior", [], _rules(10, 60, 100, 60, 0), 0, [(5, False)]),
    ("one outdated entry to be kept untouched without behavior", [(7, 61)], None, 0, [(7, False)]),
    ("one outdated entry to be replaced with behavior", [(7, 61)], _rules(10, 60, 100, 60, 0), 0, [(5, False)]),
    ("one actual entry to be not touched with behavior", [(7, 58)], _rules(10, 60, 100, 60, 0), 7,
     [(7, False), (5, False)]),
    ("two entries, one of them to be replaced", [(7, 61), (6, 59)], _rules(10, 60, 0, 0, 0), 6,
     [(5, False), (6, False)]),
    ("replace one entry, use policies with different periods", [(8, 29), (6, 59), (7, 61), (9, 61)],
     _rules(10, 60, 100, 30, 0), 14, [(8, False), (6, False), (7, True), (5, False)]),
    ("two entries, both actual", [(7, 58), (6, 59)], _rules(10, 120, 100, 30, 0), 13,
     [(7, False), (6, False), (5, False)]),
]


@pytest.mark.parametrize(("name", "prev", "rules", "change", "new"), STORE, ids=[c[0] for c in STORE])
def test_store_scale_events_mirrors_upstream(name, prev, rules, change, new):
    events = [ScaleEvent(c, NOW - ago) for c, ago in prev]
    assert get_replicas_change_per_period(60, events, NOW) == change
    behavior = None if rules is None else HPABehavior(generate_scale_up_rules(rules), generate_scale_down_rules())
    up, down = store_scale_event(behavior, events, [], 10, 15, NOW)
    assert [(e.replica_change, e.outdated) for e in up] == new
    assert down == ()


def test_limit_functions_mirror_upstream_and_select_policy():
    # TestCalculateScaleDownLimitWithBehaviors (Min policy, 5 replicas, -2 pods or -50 %
    # per 60 s): Min takes the smaller change: max(5 - 2, int(5 * 0.5) = 2) = 3.
    rules = HPAScalingRules((HPAScalingPolicy("Pods", 2, 60), HPAScalingPolicy("Percent", 50, 60)), "Min", 300)
    assert calculate_scale_down_limit_with_behaviors(5, [], [], rules, NOW) == 3
    # Max takes the larger change: min(3, 2) = 2; Disabled keeps 5.
    assert calculate_scale_down_limit_with_behaviors(5, [], [], HPAScalingRules(rules.policies, "Max", 300),
                                                     NOW) == 2
    assert calculate_scale_down_limit_with_behaviors(5, [], [], HPAScalingRules(rules.policies, "Disabled", 300),
                                                     NOW) == 5
    # Scale up from 10 with +4 pods or +100 %: Max 20, Min 14, Disabled 10.
    up = HPAScalingRules((HPAScalingPolicy("Pods", 4, 15), HPAScalingPolicy("Percent", 100, 15)), "Max", 0)
    assert calculate_scale_up_limit_with_scaling_rules(10, [], [], up, NOW) == 20
    assert calculate_scale_up_limit_with_scaling_rules(10, [], [], HPAScalingRules(up.policies, "Min", 0), NOW) == 14
    assert calculate_scale_up_limit_with_scaling_rules(10, [], [],
                                                       HPAScalingRules(up.policies, "Disabled", 0), NOW) == 10
    # Percent up rounds up: 3 * 1.1 = 3.3 -> 4 (else +10 % could never add a pod).
    assert calculate_scale_up_limit_with_scaling_rules(
        3, [], [], HPAScalingRules((HPAScalingPolicy("Percent", 10, 60),)), NOW) == 4


def test_rules_without_behavior_double_or_add_four():
    # convertDesiredReplicasWithRules: max(2 * current, 4).
    assert convert_desired_replicas_with_rules(1, 100, 1, 1000) == (4, "ScaleUpLimit")
    assert convert_desired_replicas_with_rules(10, 100, 1, 1000) == (20, "ScaleUpLimit")
    assert convert_desired_replicas_with_rules(5, 7, 3, 10) == (7, "DesiredWithinRange")
    assert convert_desired_replicas_with_rules(5, 2, 3, 10) == (3, "TooFewReplicas")
    assert convert_desired_replicas_with_rules(5, 15, 3, 10) == (10, "TooManyReplicas")


def test_defaults_are_upstreams():
    # pkg/apis/autoscaling/v2/defaults.go: up 0 s, Max(+4 pods, +100 %) per 15 s;
    # down: window from the controller flag (300 s), -100 % per 15 s.
    b = default_behavior()
    assert b.scale_up.stabilization_window_seconds == 0 and b.scale_up.select_policy == "Max"
    assert {(p.type, p.value, p.period_seconds) for p in b.scale_up.policies} == {("Pods", 4, 15),
                                                                                  ("Percent", 100, 15)}
    assert b.scale_down.stabilization_window_seconds is None
    assert [(p.type, p.value, p.period_seconds) for p in b.scale_down.policies] == [("Percent", 100, 15)]
    assert DEFAULT_DOWNSCALE_STABILIZATION_S == 300
    # copyHPAScalingRules: only the fields a user set replace the defaults.
    r = generate_scale_up_rules({"stabilization_window_seconds": 60})
    assert r.stabilization_window_seconds == 60 and r.policies == b.scale_up.policies
    assert tolerances_for(None).scale_up == 0.1
    t = tolerances_for(HPABehavior(generate_scale_up_rules({"tolerance": 0.05}), generate_scale_down_rules()))
    assert (t.scale_up, t.scale_down) == (0.05, 0.1)


def test_stabilization_with_behaviors_bounds_current_between_windows():
    # Hand-derived (stabilizeRecommendationWithBehaviors): up
    # window 300 s, down window 600 s; recommendations 8 (2 min ago) and 7 (4 min ago),
    # current 5, desired 10: the lowest recommendation in the up window is 7 -> 7.
    up = HPAScalingRules((), "Max", 300)
    down = HPAScalingRules((), "Max", 600)
    recs = [Recommendation(8, NOW - 120), Recommendation(7, NOW - 240)]
    got, reason, log = stabilize_recommendation_with_behaviors(recs, 5, 10, up, down, NOW)
    assert (got, reason, len(log)) == (7, "ScaleUpStabilized", 3)
    # Down: desired 3 from 8, recommendations 5 (5 min ago) and 4 (8 min ago): highest
    # in the 600 s window is 5 -> 5.
    recs = [Recommendation(5, NOW - 300), Recommendation(4, NOW - 480)]
    got, reason, _ = stabilize_recommendation_with_behaviors(recs, 8, 3, up, down, NOW)
    assert (got, reason) == (5, "ScaleDownStabilized")


def test_scale_down_waits_for_the_stabilization_window():
    # Default behavior, syncs every 15 s. The HPA recommended 10 up to t = -15; at t = 0
    # the load drops and the calculator recommends 2. A recommendation of 10 stays in
    # the 300 s window while its time is after now - 300: the last one (t = -15) leaves
    # it at t = 285 (-15 > 285 - 300 is false). So 10 is kept through t = 270 and the
    # HPA goes to 2 at t = 285 (the -100 % per 15 s policy allows it).
    b = default_behavior()
    recs = record_initial_recommendation([], 10, -300.0)
    for t in range(-285, 0, 15):
        recs = normalize_desired_replicas_with_behaviors(recs, 10, 10, 1, 20, b, [], [], float(t)).recommendations
    current = 10
    history = {}
    for t in range(0, 301, 15):
        n = normalize_desired_replicas_with_behaviors(recs, current, 2, 1, 20, b, [], [], float(t))
        recs = n.recommendations
        history[t] = n.replicas
        current = n.replicas
    assert all(history[t] == 10 for t in range(0, 271, 15))
    assert history[285] == 2 and history[300] == 2


def test_scale_up_is_immediate_with_the_default_zero_window_but_rate_limited():
    # Default scaleUp: no window, so the first sync acts; from 3 to desired 20 the
    # policies allow max(3 + 4, 2 * 3) = 7, then from 7 within the same 15 s period the
    # stored event (+4) puts the period start back at 3: still 7, until the event ages out.
    b = default_behavior()
    n = normalize_desired_replicas_with_behaviors([], 3, 20, 1, 50, b, [], [], 0.0)
    assert (n.replicas, n.scaling_limited_reason) == (7, "ScaleUpLimit")
    up, down = store_scale_event(b, [], [], 3, 7, 0.0)
    assert normalize_desired_replicas_with_behaviors(n.recommendations, 7, 20, 1, 50, b, up, down, 5.0).replicas == 7
    # At t = 15 the event is exactly one period old and no longer counts: 7 -> max(11, 14) = 14.
    assert normalize_desired_replicas_with_behaviors(n.recommendations, 7, 20, 1, 50, b, up, down,
                                                     15.0).replicas == 14


def test_compute_replicas_for_metrics_takes_the_max_and_never_scales_down_on_a_broken_metric():
    # As upstream's TestScaleUpOneMetricInvalid / TestScaleDownOneMetricInvalid /
    # TestScaleDownOneMetricEmpty: one valid metric proposing more still scales up; a
    # broken metric blocks a scale-down; all broken: no recommendation.
    assert compute_replicas_for_metrics([4, 7, 5], 5) == 7
    assert compute_replicas_for_metrics([None, 7], 5) == 7
    assert compute_replicas_for_metrics([None, 3], 5) is None
    assert compute_replicas_for_metrics([None, None], 5) is None
    assert compute_replicas_for_metrics([3], 5) == 3


def test_reconcile_bounds():
    assert reconcile_bounds(0, 1, 10) == (None, "ScalingDisabled")
    assert reconcile_bounds(12, 1, 10)[0] == 10
    assert reconcile_bounds(1, 3, 10)[0] == 3
    assert reconcile_bounds(5, 3, 10) == (None, "")
    assert reconcile_bounds(0, 0, 10) == (None, "")   # minReplicas 0: scaling from zero stays active


NORMALIZE_WITH_BEHAVIOR = [
    # TestNormalizeDesiredReplicasWithBehavior: (name, recs as (value, minutes ago), current,
    # desired, expected, stored recommendation values or None, up window, down window)
    ("empty recommendations for scaling down", [], 100, 5, 5, [5], 0, 0),
    ("simple scale down stabilization", [(4, 2), (5, 1)], 100, 3, 5, [4, 5, 3], 0, 180),
    ("simple scale up stabilization", [(4, 2), (5, 1)], 1, 7, 4, [4, 5, 7], 300, 0),
    ("no scale down stabilization", [(1, 2), (2, 1)], 100, 3, 3, [1, 2, 3], 300, 0),
    ("no scale up stabilization", [(4, 2), (5, 1)], 1, 3, 3, [4, 5, 3], 0, 300),
    ("no scale down stabilization, reuse recommendation element", [(10, 10), (9, 9)], 100, 3, 3, [10, 3], 0, 0),
    ("no scale up stabilization, reuse recommendation element", [(10, 10), (9, 9)], 1, 100, 100, [10, 100], 0, 0),
    ("scale down stabilization, reuse one of obsolete recommendation element",
     [(10, 10), (4, 1), (5, 2), (9, 9)], 100, 3, 5, [10, 4, 5, 3], 0, 180),
    ("scale up stabilization, reuse one of obsolete recommendation element",
     [(10, 100), (6, 1), (5, 2), (9, 3)], 1, 100, 5, [100, 6, 5, 9], 300, 0),
    ("scale up and down stabilization, do not scale up when prenormalized rec goes down",
     [(2, 100), (3, 3)], 2, 1, 2, None, 300, 300),
    ("scale up and down stabilization, do not scale down when prenormalized rec goes up",
     [(2, 100), (1, 3)], 2, 3, 2, None, 300, 300),
]


@pytest.mark.parametrize(("name", "recs", "current", "desired", "expected", "stored", "up_w", "down_w"),
                         NORMALIZE_WITH_BEHAVIOR, ids=[c[0] for c in NORMALIZE_WITH_BEHAVIOR])
def test_stabilize_with_behaviors_mirrors_upstream(name, recs, current, desired, expected, stored, up_w, down_w):
    log = [Recommendation(v, NOW - 60 * m) for v, m in recs]
    got, _, new_log = stabilize_recommendation_with_behaviors(
        log, current, desired, HPAScalingRules((), "Max", up_w), HPAScalingRules((), "Max", down_w), NOW)
    assert got == expected
    if stored is not None:
        assert [r.recommendation for r in new_log] == stored
