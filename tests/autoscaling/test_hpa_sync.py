"""A full HPA sync composed from the pure parts, on hand-derived load steps."""

from __future__ import annotations

import math

from k8sim.autoscaling.hpa_behavior import default_behavior
from k8sim.autoscaling.hpa_replicas import MetricSample, PodInfo, get_resource_replicas
from k8sim.autoscaling.hpa_sync import HPAState, sync
from k8sim.autoscaling.load import StepRate, cpu_usage, split_over_pods

REQUEST_M = 500          # CPU request per pod (milli-CPU)
CAPACITY_RPS = 50.0      # requests/s a pod serves at 100 % of its request
TARGET = 60              # averageUtilization


def _proposal(rate: float, replicas: int, now: float) -> int:
    per_pod = split_over_pods(rate, replicas)
    usage = int(round(float(cpu_usage(per_pod, capacity_rps=CAPACITY_RPS, cpu_request_milli=REQUEST_M))))
    pods = [PodInfo(f"p{i}", start_time=-3600.0) for i in range(replicas)]
    metrics = {p.name: MetricSample(usage, timestamp=now, window=30.0) for p in pods}
    requests = {p.name: REQUEST_M for p in pods}
    return get_resource_replicas(replicas, TARGET, pods, metrics, requests, is_cpu=True, now=now).replicas


def _run(curve, replicas, syncs, behavior=None):
    state = HPAState()
    out = {}
    for t in syncs:
        rate = float(curve.rate(float(t)))
        r = sync(state, spec_replicas=replicas, min_replicas=1, max_replicas=20,
                 proposals=[_proposal(rate, replicas, float(t))], behavior=behavior, now=float(t))
        state = r.state
        replicas = r.desired
        out[t] = replicas
    return out


def test_a_load_step_gives_ceil_current_times_utilisation_over_target_at_the_next_sync():
    # 4 pods; 120 rps -> 30 rps per pod -> 300 m = 60 % = target: no change. At t = 100
    # the load steps to 180 rps -> 45 rps per pod -> 450 m = 90 %; the next sync (t = 105)
    # sets ceil(4 * 90 / 60) = 6 (within the no-behavior limit max(2 * 4, 4) = 8).
    # Then 180 rps over 6 pods -> 30 rps -> 60 %: stays 6.
    out = _run(StepRate(120.0, 180.0, at=100.0), 4, range(0, 180, 15))
    assert all(out[t] == 4 for t in range(0, 100, 15))
    assert out[105] == math.ceil(4 * 90 / 60) == 6
    assert all(out[t] == 6 for t in range(105, 180, 15))


def test_a_step_inside_the_tolerance_does_not_scale():
    # 120 -> 130 rps over 4 pods: 325 m = 65 % -> ratio 1.083, inside 0.1: stays 4.
    out = _run(StepRate(120.0, 130.0, at=100.0), 4, range(0, 180, 15))
    assert set(out.values()) == {4}


def test_scale_down_after_a_load_drop_waits_for_the_stabilization_window():
    # 6 pods at 60 % (180 rps); at t = 100 the load drops to 60 rps -> 10 rps per pod ->
    # 100 m = 20 % -> ceil(6 * 20 / 60) = 2. The last recommendation of 6 is the sync at
    # t = 90. With behavior (stabilizeRecommendationWithBehaviors keeps records whose
    # time is After(now - 300)) it leaves the window at t = 390: 6 through 375, 2 at 390.
    # Without behavior (stabilizeRecommendation drops records Before(now - 300)) a
    # record exactly 300 s old still counts: 6 through 390, 2 at 405. Upstream has this
    # asymmetry at the boundary; so does k8sim.
    with_behavior = _run(StepRate(180.0, 60.0, at=100.0), 6, range(0, 450, 15), default_behavior())
    assert all(with_behavior[t] == 6 for t in range(0, 390, 15))
    assert with_behavior[390] == 2 and with_behavior[405] == 2
    without = _run(StepRate(180.0, 60.0, at=100.0), 6, range(0, 450, 15), None)
    assert all(without[t] == 6 for t in range(0, 405, 15))
    assert without[405] == 2 and without[420] == 2


def test_bounds_and_failed_metrics():
    s = HPAState()
    r = sync(s, spec_replicas=25, min_replicas=1, max_replicas=20, proposals=[None], behavior=None, now=0.0)
    assert (r.desired, r.rescale) == (20, True)
    r = sync(s, spec_replicas=0, min_replicas=1, max_replicas=20, proposals=[5], behavior=None, now=0.0)
    assert (r.desired, r.rescale, r.reason) == (0, False, "ScalingDisabled")
    r = sync(s, spec_replicas=5, min_replicas=1, max_replicas=20, proposals=[None, 2], behavior=None, now=0.0)
    assert (r.desired, r.rescale) == (5, False)
    # The first sync records the current count as a recommendation (upstream's
    # recordInitialRecommendation), so even a first scale-down is stabilized.
    r = sync(s, spec_replicas=5, min_replicas=1, max_replicas=20, proposals=[2], behavior=None, now=0.0)
    assert r.desired == 5 and r.state.recommendations[0].recommendation == 5
