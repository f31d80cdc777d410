"""One HPA sync as a pure function: ``reconcileAutoscaler`` of upstream's horizontal.go.

The HPA component of the event loop keeps one :class:`HPAState` per HPA and, every sync
period (15 s), gathers the per-metric proposals (each from
:mod:`k8sim.autoscaling.hpa_replicas`) and calls :func:`sync`. The order is upstream's:
record the initial recommendation, go straight to ``minReplicas``/``maxReplicas`` when
the target is outside them, otherwise take the largest metric proposal
(``computeReplicasForMetrics``), normalize it with or without ``behavior``, and store a
scale event when the replica count changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from k8sim.autoscaling.hpa_behavior import (
    DEFAULT_DOWNSCALE_STABILIZATION_S,
    HPABehavior,
    Recommendation,
    ScaleEvent,
    compute_replicas_for_metrics,
    normalize_desired_replicas,
    normalize_desired_replicas_with_behaviors,
    reconcile_bounds,
    record_initial_recommendation,
    store_scale_event,
)

__all__ = ["HPAState", "SyncResult", "sync"]


@dataclass(frozen=True)
class HPAState:
    """What upstream's controller keeps per HPA between syncs."""

    recommendations: tuple[Recommendation, ...] = ()
    scale_up_events: tuple[ScaleEvent, ...] = ()
    scale_down_events: tuple[ScaleEvent, ...] = ()


@dataclass(frozen=True)
class SyncResult:
    """The replicas to set (``desired``), whether to rescale, the reason, and the state
    for the next sync. ``desired`` equals the current replicas when nothing changes."""

    desired: int
    rescale: bool
    reason: str
    state: HPAState
    metric_desired: int | None = None
    limits: tuple[str, ...] = field(default=())


def sync(state: HPAState, *, spec_replicas: int, min_replicas: int, max_replicas: int,
         proposals: Sequence[int | None], behavior: HPABehavior | None, now: float,
         downscale_stabilization_s: int = DEFAULT_DOWNSCALE_STABILIZATION_S) -> SyncResult:
    """One ``reconcileAutoscaler`` pass for an HPA whose target has ``spec_replicas``.

    ``proposals`` holds one desired count per metric (``None``: that metric failed).
    When no proposal can be used (every metric failed, or a failure would allow a
    scale-down) the HPA keeps the replicas, as upstream does when
    ``computeReplicasForMetrics`` returns an error with no valid metric."""
    current = spec_replicas
    recs = record_initial_recommendation(state.recommendations, current, now)
    state = HPAState(recs, state.scale_up_events, state.scale_down_events)
    bound, reason = reconcile_bounds(spec_replicas, min_replicas, max_replicas)
    if reason == "ScalingDisabled":
        return SyncResult(current, False, reason, state)
    metric_desired = None
    limits: tuple[str, ...] = ()
    if bound is not None:
        desired = bound
    else:
        metric_desired = compute_replicas_for_metrics(proposals, spec_replicas)
        if metric_desired is None:
            return SyncResult(current, False, "FailedComputeMetricsReplicas", state)
        if metric_desired > current:
            reason = "metric above target"
        elif metric_desired < current:
            reason = "All metrics below target"
        if behavior is None:
            n = normalize_desired_replicas(recs, current, metric_desired, min_replicas, max_replicas, now,
                                           downscale_stabilization_s)
        else:
            n = normalize_desired_replicas_with_behaviors(recs, current, metric_desired, min_replicas, max_replicas,
                                                          behavior, state.scale_up_events, state.scale_down_events,
                                                          now, downscale_stabilization_s)
        desired = n.replicas
        limits = (n.able_to_scale_reason, n.scaling_limited_reason)
        state = HPAState(n.recommendations, state.scale_up_events, state.scale_down_events)
    rescale = desired != current
    if rescale:
        up, down = store_scale_event(behavior, state.scale_up_events, state.scale_down_events, current, desired, now)
        state = HPAState(state.recommendations, up, down)
    return SyncResult(desired, rescale, reason, state, metric_desired, limits)
