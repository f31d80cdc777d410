"""HPA ``behavior``: stabilization windows and scaling-rate policies, as upstream.

Pure functions mirroring ``pkg/controller/podautoscaler/horizontal.go`` of
kubernetes/kubernetes (``normalizeDesiredReplicas``, ``normalizeDesiredReplicasWithBehaviors``,
``stabilizeRecommendation``, ``stabilizeRecommendationWithBehaviors``,
``convertDesiredReplicasWithRules``, ``convertDesiredReplicasWithBehaviorRate``,
``calculateScaleUpLimitWithScalingRules``, ``calculateScaleDownLimitWithBehaviors``,
``getReplicasChangePerPeriod``, ``storeScaleEvent``) and the defaults of
``pkg/apis/autoscaling/v2/defaults.go``. Upstream keeps the recommendations and scale
events in maps keyed by HPA and reads ``time.Now()``; here they are values passed in and
returned, and ``now`` is an argument, so the sync loop owns the state.

Every time comparison is strict as Go's ``After``/``Before``, which makes the window
boundary differ between upstream's two paths: with ``behavior`` a recommendation exactly
``window`` seconds old is outside the window (kept only if ``After(now - window)``),
without ``behavior`` it is still inside (dropped only if ``Before(now - window)``). A
scale event exactly ``periodSeconds`` old no longer counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from k8sim.autoscaling.hpa_replicas import DEFAULT_TOLERANCE, MAX_INT32, Tolerances
from k8sim.config.autoscaling import HorizontalPodAutoscalerBehavior
from k8sim.config.autoscaling import HPAScalingRules as HPAScalingRulesSpec

__all__ = [
    "DEFAULT_DOWNSCALE_STABILIZATION_S",
    "DEFAULT_SYNC_PERIOD_S",
    "SCALE_UP_LIMIT_FACTOR",
    "SCALE_UP_LIMIT_MINIMUM",
    "HPABehavior",
    "HPAScalingPolicy",
    "HPAScalingRules",
    "Normalized",
    "Recommendation",
    "ScaleEvent",
    "calculate_scale_down_limit_with_behaviors",
    "calculate_scale_up_limit",
    "calculate_scale_up_limit_with_scaling_rules",
    "compute_replicas_for_metrics",
    "convert_desired_replicas_with_behavior_rate",
    "convert_desired_replicas_with_rules",
    "behavior_from_spec",
    "default_behavior",
    "generate_scale_down_rules",
    "generate_scale_up_rules",
    "get_replicas_change_per_period",
    "normalize_desired_replicas",
    "normalize_desired_replicas_with_behaviors",
    "reconcile_bounds",
    "record_initial_recommendation",
    "stabilize_recommendation",
    "stabilize_recommendation_with_behaviors",
    "store_scale_event",
    "tolerances_for",
]

#: ``--horizontal-pod-autoscaler-sync-period`` default.
DEFAULT_SYNC_PERIOD_S = 15.0
#: ``--horizontal-pod-autoscaler-downscale-stabilization`` default (5 minutes); also the
#: scale-down stabilization window when ``behavior.scaleDown`` leaves it unset.
DEFAULT_DOWNSCALE_STABILIZATION_S = 300
#: Without ``behavior``, a sync may at most double the replicas or add 4
#: (``scaleUpLimitFactor``, ``scaleUpLimitMinimum`` in horizontal.go).
SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0

PODS, PERCENT = "Pods", "Percent"
MAX, MIN, DISABLED = "Max", "Min", "Disabled"


@dataclass(frozen=True)
class HPAScalingPolicy:
    """``HPAScalingPolicy``: change by ``value`` pods (``Pods``) or percent
    (``Percent``) within ``period_seconds``."""

    type: str
    value: int
    period_seconds: int


@dataclass(frozen=True)
class HPAScalingRules:
    """``HPAScalingRules`` after defaulting. ``stabilization_window_seconds`` may be
    ``None`` only for scale-down before :func:`normalize_desired_replicas_with_behaviors`
    fills it with the controller's downscale stabilization (as upstream's
    ``maybeInitScaleDownStabilizationWindow``). ``tolerance`` ``None`` means the
    cluster-wide tolerance."""

    policies: tuple[HPAScalingPolicy, ...]
    select_policy: str = MAX
    stabilization_window_seconds: int | None = 0
    tolerance: float | None = None


@dataclass(frozen=True)
class HPABehavior:
    scale_up: HPAScalingRules
    scale_down: HPAScalingRules


#: ``defaultHPAScaleUpRules``: 0 s window, Max of +4 pods and +100 % per 15 s.
_DEFAULT_UP = HPAScalingRules(policies=(HPAScalingPolicy(PODS, 4, 15), HPAScalingPolicy(PERCENT, 100, 15)),
                              select_policy=MAX, stabilization_window_seconds=0)
#: ``defaultHPAScaleDownRules``: window from the controller flag, -100 % per 15 s.
_DEFAULT_DOWN = HPAScalingRules(policies=(HPAScalingPolicy(PERCENT, 100, 15),), select_policy=MAX,
                                stabilization_window_seconds=None)


def _copy_rules(given: dict | None, default: HPAScalingRules) -> HPAScalingRules:
    """``copyHPAScalingRules``: every field the user set replaces the default's."""
    if not given:
        return default
    return replace(default, **{k: v for k, v in given.items() if v is not None})


def generate_scale_up_rules(given: dict | None = None) -> HPAScalingRules:
    """``GenerateHPAScaleUpRules``: fill the unset fields of a user's ``scaleUp``
    (keys ``policies``, ``select_policy``, ``stabilization_window_seconds``,
    ``tolerance``) from the defaults."""
    return _copy_rules(given, _DEFAULT_UP)


def generate_scale_down_rules(given: dict | None = None) -> HPAScalingRules:
    """``GenerateHPAScaleDownRules`` (the window stays ``None`` when unset)."""
    return _copy_rules(given, _DEFAULT_DOWN)


def default_behavior() -> HPABehavior:
    """The behavior an HPA gets when ``spec.behavior`` is present but empty."""
    return HPABehavior(_DEFAULT_UP, _DEFAULT_DOWN)


def _rules_dict(spec: HPAScalingRulesSpec | None) -> dict | None:
    if spec is None:
        return None
    return {
        "policies": None if spec.policies is None else tuple(
            HPAScalingPolicy(p.type, p.value, p.period_seconds) for p in spec.policies),
        "select_policy": spec.select_policy,
        "stabilization_window_seconds": spec.stabilization_window_seconds,
        "tolerance": spec.tolerance,
    }


def behavior_from_spec(spec: HorizontalPodAutoscalerBehavior | None) -> HPABehavior | None:
    """``SetDefaults_HorizontalPodAutoscalerBehavior``: a ``spec.behavior`` with every
    unset field defaulted, or ``None`` when the HPA has no ``behavior`` (the controller
    then takes the :func:`normalize_desired_replicas` path)."""
    if spec is None:
        return None
    return HPABehavior(generate_scale_up_rules(_rules_dict(spec.scale_up)),
                       generate_scale_down_rules(_rules_dict(spec.scale_down)))


def tolerances_for(behavior: HPABehavior | None, default: float = DEFAULT_TOLERANCE) -> Tolerances:
    """Per-direction tolerances of one HPA (``HPAConfigurableTolerance``): a
    ``behavior.scaleUp/scaleDown.tolerance`` overrides the cluster-wide default."""
    t = Tolerances(default, default)
    if behavior is None:
        return t
    if behavior.scale_down.tolerance is not None:
        t = replace(t, scale_down=behavior.scale_down.tolerance)
    if behavior.scale_up.tolerance is not None:
        t = replace(t, scale_up=behavior.scale_up.tolerance)
    return t


@dataclass(frozen=True)
class Recommendation:
    """``timestampedRecommendation``: an unstabilized desired count and when."""

    recommendation: int
    timestamp: float


@dataclass(frozen=True)
class ScaleEvent:
    """``timestampedScaleEvent``: a positive replica change, its time, and whether it
    is older than the longest policy period (its slot may be reused)."""

    replica_change: int
    timestamp: float
    outdated: bool = False


@dataclass(frozen=True)
class Normalized:
    """Result of a normalization: the replicas to set, the recommendations to keep for
    the next sync, and the ``AbleToScale`` / ``ScalingLimited`` reasons upstream sets."""

    replicas: int
    recommendations: tuple[Recommendation, ...]
    able_to_scale_reason: str
    scaling_limited_reason: str
    scaling_limited: bool
    messages: tuple[str, ...] = field(default=())


def record_initial_recommendation(recommendations: Sequence[Recommendation], current_replicas: int,
                                  now: float) -> tuple[Recommendation, ...]:
    """``recordInitialRecommendation``: the first sync of an HPA records the current
    replicas as a recommendation, so a scale-down waits a full window."""
    if recommendations:
        return tuple(recommendations)
    return (Recommendation(current_replicas, now),)


def _store(recommendations: Sequence[Recommendation], new: Recommendation, stale: int | None) -> tuple[
        Recommendation, ...]:
    recs = list(recommendations)
    if stale is not None:
        recs[stale] = new
    else:
        recs.append(new)
    return tuple(recs)


def stabilize_recommendation(recommendations: Sequence[Recommendation], desired: int, now: float,
                             window_s: float = DEFAULT_DOWNSCALE_STABILIZATION_S) -> tuple[int, tuple[
                                 Recommendation, ...]]:
    """``stabilizeRecommendation`` (HPA without ``behavior``): the maximum of ``desired``
    and the recommendations not older than ``now - window_s`` (one exactly at the cutoff
    counts); the last sample older than the window is overwritten by ``desired`` (else
    it is appended)."""
    cutoff = now - window_s
    best = desired
    stale = None
    for i, rec in enumerate(recommendations):
        if rec.timestamp < cutoff:
            stale = i
        elif rec.recommendation > best:
            best = rec.recommendation
    return best, _store(recommendations, Recommendation(desired, now), stale)


def stabilize_recommendation_with_behaviors(recommendations: Sequence[Recommendation], current: int,
                                            desired: int, up: HPAScalingRules, down: HPAScalingRules,
                                            now: float) -> tuple[int, str, tuple[Recommendation, ...]]:
    """``stabilizeRecommendationWithBehaviors``: bound the current replicas below by the
    minimum recommendation in the scale-up window and above by the maximum in the
    scale-down window (``desired`` included in both). Returns (replicas, reason
    ``ScaleUpStabilized``/``ScaleDownStabilized``, recommendations to keep)."""
    assert up.stabilization_window_seconds is not None and down.stabilization_window_seconds is not None
    up_cutoff = now - up.stabilization_window_seconds
    down_cutoff = now - down.stabilization_window_seconds
    up_rec = desired
    down_rec = desired
    stale = None
    for i, rec in enumerate(recommendations):
        if rec.timestamp > up_cutoff:
            up_rec = min(rec.recommendation, up_rec)
        if rec.timestamp > down_cutoff:
            down_rec = max(rec.recommendation, down_rec)
        if rec.timestamp < up_cutoff and rec.timestamp < down_cutoff:
            stale = i
    result = current
    if result < up_rec:
        result = up_rec
    if result > down_rec:
        result = down_rec
    reason = "ScaleUpStabilized" if desired >= current else "ScaleDownStabilized"
    return result, reason, _store(recommendations, Recommendation(desired, now), stale)


def get_replicas_change_per_period(period_seconds: float, events: Sequence[ScaleEvent], now: float) -> int:
    """``getReplicasChangePerPeriod``: total change of the events newer than
    ``now - period_seconds``."""
    cutoff = now - period_seconds
    return sum(e.replica_change for e in events if e.timestamp > cutoff)


def calculate_scale_up_limit_with_scaling_rules(current: int, up_events: Sequence[ScaleEvent],
                                                down_events: Sequence[ScaleEvent], rules: HPAScalingRules,
                                                now: float) -> int:
    """``calculateScaleUpLimitWithScalingRules``: the most replicas the policies allow.

    For each policy the period starts at ``current - added + removed`` within its
    period; ``Pods`` allows ``start + value``, ``Percent`` ``ceil(start * (1 + value/100))``;
    ``Max`` takes the largest, ``Min`` the smallest; ``Disabled`` returns ``current``."""
    if rules.select_policy == DISABLED:
        return current
    pick = min if rules.select_policy == MIN else max
    result = MAX_INT32 if rules.select_policy == MIN else -(2**31)
    for p in rules.policies:
        start = (current - get_replicas_change_per_period(p.period_seconds, up_events, now)
                 + get_replicas_change_per_period(p.period_seconds, down_events, now))
        if p.type == PODS:
            proposed = start + p.value
        else:
            proposed = int(math.ceil(start * (1 + p.value / 100)))
        result = pick(result, proposed)
    return result


def calculate_scale_down_limit_with_behaviors(current: int, up_events: Sequence[ScaleEvent],
                                              down_events: Sequence[ScaleEvent], rules: HPAScalingRules,
                                              now: float) -> int:
    """``calculateScaleDownLimitWithBehaviors``: the fewest replicas the policies allow.

    ``Pods`` allows ``start - value``, ``Percent`` ``int32(start * (1 - value/100))``
    (truncated); ``Max`` (the largest change) takes the smallest count, ``Min`` the
    largest; ``Disabled`` returns ``current``."""
    if rules.select_policy == DISABLED:
        return current
    pick = max if rules.select_policy == MIN else min
    result = -(2**31) if rules.select_policy == MIN else MAX_INT32
    for p in rules.policies:
        start = (current - get_replicas_change_per_period(p.period_seconds, up_events, now)
                 + get_replicas_change_per_period(p.period_seconds, down_events, now))
        if p.type == PODS:
            proposed = start - p.value
        else:
            proposed = int(start * (1 - p.value / 100))
        result = pick(result, proposed)
    return result


def convert_desired_replicas_with_behavior_rate(current: int, desired: int, min_replicas: int, max_replicas: int,
                                                up: HPAScalingRules, down: HPAScalingRules,
                                                up_events: Sequence[ScaleEvent], down_events: Sequence[ScaleEvent],
                                                now: float) -> tuple[int, str]:
    """``convertDesiredReplicasWithBehaviorRate``: clamp to the rate limits and to
    min/max. Returns (replicas, reason: ``ScaleUpLimit``, ``TooManyReplicas``,
    ``ScaleDownLimit``, ``TooFewReplicas`` or ``DesiredWithinRange``)."""
    if desired > current:
        limit = max(calculate_scale_up_limit_with_scaling_rules(current, up_events, down_events, up, now), current)
        if max_replicas > limit:
            allowed, reason = limit, "ScaleUpLimit"
        else:
            allowed, reason = max_replicas, "TooManyReplicas"
        if desired > allowed:
            return allowed, reason
    elif desired < current:
        limit = min(calculate_scale_down_limit_with_behaviors(current, up_events, down_events, down, now), current)
        if min_replicas < limit:
            allowed, reason = limit, "ScaleDownLimit"
        else:
            allowed, reason = min_replicas, "TooFewReplicas"
        if desired < allowed:
            return allowed, reason
    return desired, "DesiredWithinRange"


def calculate_scale_up_limit(current: int) -> int:
    """``calculateScaleUpLimit``: ``max(2 * current, 4)``."""
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def convert_desired_replicas_with_rules(current: int, desired: int, min_replicas: int,
                                        max_replicas: int) -> tuple[int, str]:
    """``convertDesiredReplicasWithRules`` (no ``behavior``): clamp to
    ``[minReplicas, min(maxReplicas, max(2 * current, 4))]``."""
    limit = calculate_scale_up_limit(current)
    if max_replicas > limit:
        upper, reason = limit, "ScaleUpLimit"
    else:
        upper, reason = max_replicas, "TooManyReplicas"
    if desired < min_replicas:
        return min_replicas, "TooFewReplicas"
    if desired > upper:
        return upper, reason
    return desired, "DesiredWithinRange"


def normalize_desired_replicas(recommendations: Sequence[Recommendation], current: int, desired: int,
                               min_replicas: int, max_replicas: int, now: float,
                               downscale_stabilization_s: float = DEFAULT_DOWNSCALE_STABILIZATION_S) -> Normalized:
    """``normalizeDesiredReplicas``: the path of an HPA without ``behavior``."""
    stabilized, recs = stabilize_recommendation(recommendations, desired, now, downscale_stabilization_s)
    able = "ScaleDownStabilized" if stabilized != desired else "ReadyForNewScale"
    replicas, reason = convert_desired_replicas_with_rules(current, stabilized, min_replicas, max_replicas)
    return Normalized(replicas, recs, able, reason, replicas != stabilized)


def normalize_desired_replicas_with_behaviors(recommendations: Sequence[Recommendation], current: int,
                                              desired: int, min_replicas: int, max_replicas: int,
                                              behavior: HPABehavior, up_events: Sequence[ScaleEvent],
                                              down_events: Sequence[ScaleEvent], now: float,
                                              downscale_stabilization_s: int = DEFAULT_DOWNSCALE_STABILIZATION_S,
                                              ) -> Normalized:
    """``normalizeDesiredReplicasWithBehaviors``: stabilize, then apply the rate
    policies and min/max. An unset scale-down window becomes the controller's
    ``downscale_stabilization_s`` (``maybeInitScaleDownStabilizationWindow``)."""
    down = behavior.scale_down
    if down.stabilization_window_seconds is None:
        down = replace(down, stabilization_window_seconds=downscale_stabilization_s)
    up = behavior.scale_up
    stabilized, reason, recs = stabilize_recommendation_with_behaviors(recommendations, current, desired, up, down,
                                                                       now)
    able = reason if stabilized != desired else "ReadyForNewScale"
    replicas, limit_reason = convert_desired_replicas_with_behavior_rate(
        current, stabilized, min_replicas, max_replicas, up, down, up_events, down_events, now)
    return Normalized(replicas, recs, able, limit_reason, replicas != stabilized)


def _longest_period(rules: HPAScalingRules) -> int:
    return max((p.period_seconds for p in rules.policies), default=0)


def store_scale_event(behavior: HPABehavior | None, up_events: Sequence[ScaleEvent],
                      down_events: Sequence[ScaleEvent], prev_replicas: int, new_replicas: int,
                      now: float) -> tuple[tuple[ScaleEvent, ...], tuple[ScaleEvent, ...]]:
    """``storeScaleEvent``: record a rescale in the list of its direction. Events older
    than that direction's longest policy period are marked outdated and the last
    outdated slot is reused. Without ``behavior`` nothing is stored."""
    if behavior is None:
        return tuple(up_events), tuple(down_events)
    up_dir = new_replicas > prev_replicas
    rules = behavior.scale_up if up_dir else behavior.scale_down
    cutoff = now - _longest_period(rules)
    events = [replace(e, outdated=True) if e.timestamp < cutoff else e
              for e in (up_events if up_dir else down_events)]
    new = ScaleEvent(abs(new_replicas - prev_replicas), now)
    slot = None
    for i, e in enumerate(events):
        if e.outdated:
            slot = i
    if slot is not None:
        events[slot] = new
    else:
        events.append(new)
    if up_dir:
        return tuple(events), tuple(down_events)
    return tuple(up_events), tuple(events)


def compute_replicas_for_metrics(proposals: Sequence[int | None], spec_replicas: int) -> int | None:
    """``computeReplicasForMetrics``: the largest proposal over the HPA's metrics
    (``None`` marks a metric whose calculation failed). If every metric failed, or some
    failed and the rest would scale down, there is no recommendation (``None``: the
    HPA does not scale this sync), so a broken metric never causes a scale-down."""
    invalid = sum(p is None for p in proposals)
    replicas = 0
    for p in proposals:
        if p is not None and p > replicas:
            replicas = p
    if invalid >= len(proposals) or (invalid > 0 and replicas < spec_replicas):
        return None
    return replicas


def reconcile_bounds(spec_replicas: int, min_replicas: int, max_replicas: int) -> tuple[int | None, str]:
    """The first branches of ``reconcileAutoscaler``: a target at 0 replicas with
    ``minReplicas > 0`` is not autoscaled (``ScalingDisabled``, returns ``(None, ...)``);
    above ``maxReplicas`` or below ``minReplicas`` the HPA goes straight to the bound
    (no metrics, no stabilization); otherwise ``(None, "")``: compute from metrics."""
    if spec_replicas == 0 and min_replicas != 0:
        return None, "ScalingDisabled"
    if spec_replicas > max_replicas:
        return max_replicas, "Current number of replicas above Spec.MaxReplicas"
    if spec_replicas < min_replicas:
        return min_replicas, "Current number of replicas below Spec.MinReplicas"
    return None, ""
