"""The pod side of autoscaling in the event loop: HPA syncs, load model, usage, limits.

Every expected number is derived by hand in a comment from the model's definitions
(docs/autoscaling.md) and upstream's rules (``replica_calculator.go``
``GetResourceReplicas``, ``horizontal.go`` ``stabilizeRecommendation``,
``pkg/kubelet/eviction/helpers.go`` ``rankMemoryPressure``).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from k8sim.autoscaling.usage import oom_after, rank_memory_pressure
from k8sim.config.loader import ScenarioError, validate_scenario
from k8sim.sim.simulation import Simulation

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          resources:
            requests: {cpu: 500m, memory: 512Mi}
            %LIMITS%
"""


def _scenario(tmp_path: Path, autoscaling: dict, duration: float = 1200, limits: str = "",
              workloads: list | None = None) -> object:
    (tmp_path / "web.yaml").write_text(DEPLOYMENT.replace("%LIMITS%", limits))
    data = {
        "name": "t", "seed": 3, "duration_s": duration,
        "cluster": {"node_pools": [{"name": "general", "count": 4, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "workloads": workloads if workloads is not None else [{"name": "web", "manifest": "web.yaml"}],
        "autoscaling": autoscaling,
    }
    return validate_scenario(data, "t.yaml", base_dir=tmp_path)


def _hpa(metrics: list | None = None, **spec: object) -> dict:
    return {"metadata": {"name": "web"}, "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 20,
        "metrics": metrics or [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}], **spec}}


def _service(rate: dict, **kw: object) -> dict:
    return {"target": {"kind": "Deployment", "name": "web"}, "rate": rate, "capacity_rps": 100, **kw}


def _rescales(result) -> list[tuple[float, int, int]]:
    h = result.frames["hpa"]
    ch = h[h["current_replicas"] != h["desired_replicas"]]
    return list(zip(ch["time"], ch["current_replicas"], ch["desired_replicas"], strict=True))


def test_load_step_scales_to_ceil_current_times_utilisation_over_target_at_the_next_sync(tmp_path: Path) -> None:
    # 4 pods of 500m, capacity 100 rps at 100 % of the request, HPA target 60 %.
    # Before t = 300: 240 rps -> 60 rps per pod -> 500m * 60/100 = 300m = 60 %: ratio 1.0,
    # within tolerance, no change. From t = 300: 360 rps -> 90 rps per pod -> 450m = 90 %.
    # The scrape at 300 averages [285, 300) (60 %); the one at 315 averages [300, 315):
    # 90 %, ratio 90/60 = 1.5 > 1.1, so the sync at t = 315 sets ceil(4 * 1.5) = 6
    # (below the scale-up limit max(2 * 4, 4) = 8).
    sc = _scenario(tmp_path, {"services": [_service({"kind": "step", "before_rps": 240, "after_rps": 360,
                                                      "at_s": 300})],
                              "horizontal_pod_autoscalers": [_hpa()]}, duration=600)
    r = Simulation(sc).run()
    assert _rescales(r)[0] == (315.0, 4, 6)
    h = r.frames["hpa"].set_index("time")
    assert h.loc[300.0, "metric_value"] == 60 and h.loc[315.0, "metric_value"] == 90
    assert r.summary()["hpa_scale_ups"].iloc[0] == 1  # 6 pods serve 60 rps each = 60 %: no further change
    svc = r.frames["service_load"]
    assert svc[svc["time"] >= 400]["ready_pods"].eq(6).all()
    assert r.events.query("kind == 'SuccessfulRescale'")["detail"].str.contains("New size: 6").all()


def test_scale_down_waits_for_the_stabilization_window(tmp_path: Path) -> None:
    # 240 rps on 4 pods = 60 % until t = 600, then 120 rps = 30 %: ratio 0.5, each sync
    # from 615 recommends ceil(4 * 0.5) = 2. Without behavior the HPA takes the largest
    # recommendation of the last 300 s (--horizontal-pod-autoscaler-downscale-
    # stabilization), and a recommendation exactly 300 s old still counts
    # (stabilizeRecommendation: timestamp.Before(cutoff) drops only older ones): the
    # last 4 was recommended at 600, so the first sync at which it is gone is 915.
    sc = _scenario(tmp_path, {"services": [_service({"kind": "step", "before_rps": 240, "after_rps": 120,
                                                      "at_s": 600})],
                              "horizontal_pod_autoscalers": [_hpa()]}, duration=1200)
    r = Simulation(sc).run()
    assert _rescales(r) == [(915.0, 4, 2)]


def test_scale_down_window_from_behavior(tmp_path: Path) -> None:
    # Same drop with behavior.scaleDown.stabilizationWindowSeconds 60: with behavior a
    # recommendation exactly one window old has left it (stabilizeRecommendationWith-
    # Behaviors: timestamp.After(cutoff)), so 600 + 60 = 660 is the first sync with
    # only 2s in the window.
    beh = {"scaleDown": {"stabilizationWindowSeconds": 60}}
    sc = _scenario(tmp_path, {"services": [_service({"kind": "step", "before_rps": 240, "after_rps": 120,
                                                      "at_s": 600})],
                              "horizontal_pod_autoscalers": [_hpa(behavior=beh)]}, duration=900)
    assert _rescales(Simulation(sc).run()) == [(660.0, 4, 2)]


def test_cpu_limit_throttles_and_caps_the_served_rate(tmp_path: Path) -> None:
    # 4 pods, capacity 100 rps at their 500m request. With limit = request (500m) a pod
    # serves at most 100 rps: 1000 rps offered -> 400 served, 600 dropped, CPU at the
    # limit (500m). With a 1-CPU limit a pod can burst to 2 x 100: 800 served.
    for limits, served in (("limits: {cpu: 500m}", 400.0), ("limits: {cpu: '1'}", 800.0)):
        sc = _scenario(tmp_path, {"services": [_service({"kind": "constant", "rps": 1000})]}, duration=60,
                       limits=limits)
        r = Simulation(sc).run()
        svc = r.frames["service_load"]
        late = svc[svc["time"] >= 30]
        assert (late["served_rps"] == served).all()
        assert (late["dropped_rps"] == 1000 - served).all()
        assert late["slo_availability_violated"].sum() == 0  # no SLO given
        assert late["latency_quantile_s"].map(math.isinf).all()  # saturated


def test_latency_matches_the_ps_closed_form(tmp_path: Path) -> None:
    # 4 pods, mu = 100 rps, 240 rps: rho = 0.6 per pod; M/G/1-PS mean response
    # (1/mu)/(1 - rho) = 0.01/0.4 = 0.025 s; exponential demand (scv 1): the p95 is
    # -ln(0.05)/mu/(1 - rho) = 2.995732/100/0.4 = 0.0748933 s.
    sc = _scenario(tmp_path, {"services": [_service({"kind": "constant", "rps": 240},
                                                    slo={"latency_s": 0.07})]}, duration=60)
    svc = Simulation(sc).run().frames["service_load"]
    late = svc[svc["time"] >= 30]
    assert late["latency_mean_s"].to_numpy() == pytest.approx(0.025)
    assert late["latency_quantile_s"].to_numpy() == pytest.approx(-math.log(0.05) / 100 / 0.4)
    assert late["slo_latency_violated"].all()  # 0.0749 > 0.07


def test_memory_above_the_limit_is_an_oom_kill_at_the_computed_time(tmp_path: Path) -> None:
    # One pod: request 512Mi, limit 1Gi, usage 0.5 x request = 256Mi growing by 1Mi/s:
    # it reaches 1024Mi after (1024 - 256) / 1 = 768 s of its container's run. Running at
    # t = 10 (start latency 10 s): OOM kill at 778. restartPolicy Always: kubelet's
    # first restart is immediate (CrashLoopBackOff starts at the second), the container
    # starts again after the start latency, at 788, memory back to 256Mi: next kill at
    # 788 + 768 = 1556.
    workloads = [{"name": "leaky", "arrival": {"kind": "times", "times_s": [0]},
                  "template": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "1Gi"},
                               "restartPolicy": "Always", "start_latency": {"kind": "constant", "value": 10}}}]
    usage = [{"workload": "leaky", "memory": {"ratio": 0.5, "growth_per_s": "1Mi"}}]
    sc = _scenario(tmp_path, {"usage": usage}, duration=1600, workloads=workloads)
    sim = Simulation(sc)
    r = sim.run()
    assert [t for t, _ in sim.kubelet.oom_kills] == [778.0, 1556.0]
    assert r.summary()["oom_kills"].iloc[0] == 2
    ev = r.events.query("kind == 'ContainerTerminated'")
    assert ev["detail"].str.contains("OOMKilled").all()
    assert oom_after(256.0, 1.0, 1024.0) == 768.0


def test_rank_memory_pressure_order() -> None:
    # rankMemoryPressure: orderedBy(exceedMemoryRequests, priority, memory).
    # pods: (usage, request, priority)
    #   0: 100 <= 200, prio 0       -> does not exceed
    #   1: 300 > 200,  prio 10, +100
    #   2: 500 > 200,  prio 10, +300
    #   3: 250 > 200,  prio 0,  +50
    # Exceeding first: {1, 2, 3}; lower priority first: 3 (0), then 1 and 2 (10) by usage
    # above request, larger first: 2 (+300), 1 (+100); then 0.
    assert rank_memory_pressure([100, 300, 500, 250], [200, 200, 200, 200], [0, 10, 10, 0]) == [3, 2, 1, 0]


def test_memory_pressure_evicts_in_rank_order(tmp_path: Path) -> None:
    # One node of 4Gi. Two pods of request 1Gi: "low" (priority 0) uses 1.5 x request,
    # "high" (priority 100) 2 x request: 1.5 + 2 = 3.5Gi plus the third pod "calm" at its
    # 1Gi request (usage 0.5) -> 3.5 + 0.5 = 4Gi: not above. Make "calm" use 1.0 -> 4.5Gi
    # > 4Gi: pressure. Both "low" and "high" exceed their requests; lower priority goes
    # first: "low" is evicted at the first check after all are running (t = 10).
    tpl = {"requests": {"cpu": "100m", "memory": "1Gi"}, "restartPolicy": "Always"}
    workloads = [{"name": n, "arrival": {"kind": "times", "times_s": [0]}, "template": {**tpl, "priority": p}}
                 for n, p in (("low", 0), ("high", 100), ("calm", 0))]
    usage = [{"workload": "low", "memory": {"ratio": 1.5}}, {"workload": "high", "memory": {"ratio": 2.0}},
             {"workload": "calm", "memory": {"ratio": 1.0}}]
    (tmp_path / "web.yaml").write_text("")
    data = {"name": "t", "duration_s": 15,
            "cluster": {"node_pools": [{"name": "one", "count": 1, "allocatable": {"cpu": "8", "memory": "4Gi"}}]},
            "workloads": workloads, "autoscaling": {"usage": usage}}
    sim = Simulation(validate_scenario(data, "t.yaml", base_dir=tmp_path))
    sim.run()
    assert [(t, sim.state.pods.names[p]) for t, p, _ in sim.pod_autoscaling.evictions] == [(10.0, "low-0")]


def test_a_metric_the_load_model_cannot_provide_is_an_error_with_its_path(tmp_path: Path) -> None:
    pods_metric = [{"type": "Pods", "pods": {"metric": {"name": "queue_depth"},
                                             "target": {"type": "AverageValue", "averageValue": "10"}}}]
    with pytest.raises(ScenarioError, match=r"horizontal_pod_autoscalers\[0\]\.spec\.metrics\[0\]\.pods\.metric\."
                                            r"name: the load model cannot provide metric 'queue_depth'"):
        _scenario(tmp_path, {"services": [_service({"kind": "constant", "rps": 10})],
                             "horizontal_pod_autoscalers": [_hpa(pods_metric)]})
    # A CPU metric of a Deployment with neither a service nor a usage model: found when
    # the run is built (which workload holds the Deployment is in its manifest).
    sc = _scenario(tmp_path, {"horizontal_pod_autoscalers": [_hpa()]})
    with pytest.raises(ScenarioError, match=r"horizontal_pod_autoscalers\[0\]\.spec\.metrics\[0\]: the load and "
                                            r"usage models cannot provide cpu"):
        Simulation(sc)


def test_unknown_target_deployment_is_an_error(tmp_path: Path) -> None:
    bad = _service({"kind": "constant", "rps": 10})
    bad["target"] = {"kind": "Deployment", "name": "api"}
    with pytest.raises(ScenarioError, match=r"autoscaling\.services\[0\]\.target\.name: no Deployment 'api'"):
        Simulation(_scenario(tmp_path, {"services": [bad]}))


def test_requests_per_second_pods_metric(tmp_path: Path) -> None:
    # A Pods metric requests_per_second with an AverageValue target of 50: 240 rps on 4
    # pods is 60 per pod, ratio 1.2 > 1.1. A pod's first sample comes from the scrape
    # after the one that first read it Running (two cumulative readings). The scrape at
    # t = 0 comes before the Deployment's pods exist (the controllers create them at
    # t = 0, after it): they are first read at 15 and have a rate at 30, so the sync at
    # 30 s gives ceil(60 * 4 / 50) = ceil(4.8) = 5.
    m = [{"type": "Pods", "pods": {"metric": {"name": "requests_per_second"},
                                   "target": {"type": "AverageValue", "averageValue": "50"}}}]
    sc = _scenario(tmp_path, {"services": [_service({"kind": "constant", "rps": 240})],
                              "horizontal_pod_autoscalers": [_hpa(m)]}, duration=60)
    assert _rescales(Simulation(sc).run())[0] == (30.0, 4, 5)


def test_same_seed_same_frames(tmp_path: Path) -> None:
    auto = {"services": [_service({"kind": "diurnal", "mean_rps": 240, "noise_cv": 0.3, "period_s": 600,
                                   "noise_step_s": 5})],
            "horizontal_pod_autoscalers": [_hpa()]}
    a = Simulation(_scenario(tmp_path, auto, duration=600)).run()
    b = Simulation(_scenario(tmp_path, auto, duration=600)).run()
    for name in ("hpa", "service_load", "node_usage", "scale_up_chain"):
        assert a.frames[name].equals(b.frames[name])


def test_yaml_round_trip_of_the_section(tmp_path: Path) -> None:
    # The section is plain YAML (and a CSV rate is read relative to the scenario file).
    (tmp_path / "rate.csv").write_text("time_s,rps\n0,240\n100,240\n")
    auto = yaml.safe_load("""
services:
  - target: {kind: Deployment, name: web}
    rate: {kind: csv, file: rate.csv}
    capacity_rps: 100
""")
    r = Simulation(_scenario(tmp_path, auto, duration=60)).run()
    assert (r.frames["service_load"]["offered_rps"] == 240).all()


def test_the_aggregated_resource_path_agrees_with_the_pure_calculator(tmp_path: Path) -> None:
    # At every sync of a noisy, fast-changing load (scale-ups bring unready and sample-less
    # pods, scale-downs deleting ones), the proposal computed over all HPAs at once
    # (Round) equals GetResourceReplicas on the pod list (hpa_replicas).
    from k8sim.autoscaling.hpa_controller import Round, _Pods, proposal

    auto = {"services": [_service({"kind": "diurnal", "mean_rps": 300, "amplitude": 0.9, "noise_cv": 0.4,
                                   "period_s": 900, "noise_step_s": 5})],
            "horizontal_pod_autoscalers": [_hpa(behavior={"scaleDown": {"stabilizationWindowSeconds": 0}})]}
    sim = Simulation(_scenario(tmp_path, auto, duration=1800,
                               workloads=[{"name": "web", "manifest": "web.yaml",
                                           "template": {"readiness_delay": {"kind": "constant", "value": 20}}}]))
    c = sim.pod_autoscaling
    h = c.hpas[0]
    metric = h.spec.spec.metrics[0]
    compared = mixed = 0
    for k in range(1, 120):
        sim.advance(15.0 * k + 1)
        now = sim.env.now
        c._publish(now)
        current = c.dc.store.deployments[0].replicas
        rnd = Round(c, now)
        try:
            fast = proposal(c, h, metric, _Pods(c, h.dep, now), current, now, rnd).replicas
        except Exception as e:  # noqa: BLE001 - both must fail alike
            fast = type(e).__name__
        try:
            pure = proposal(c, h, metric, _Pods(c, h.dep, now), current, now, None).replicas
        except Exception as e:  # noqa: BLE001
            pure = type(e).__name__
        assert fast == pure, now
        compared += 1
        mixed += int(rnd.aggregates(True)[0][h.dep] > 0)
    assert compared == 119 and mixed > 0  # some syncs had pods outside the simple case


def test_cli_exit_code_2_for_a_metric_without_a_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from k8sim.cli import app

    (tmp_path / "web.yaml").write_text(DEPLOYMENT.replace("%LIMITS%", ""))
    data = {"name": "t", "duration_s": 60,
            "cluster": {"node_pools": [{"name": "g", "count": 1, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
            "workloads": [{"name": "web", "manifest": "web.yaml"}],
            "autoscaling": {"horizontal_pod_autoscalers": [_hpa()]}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["run", "s.yaml", "--no-plots", "--out", str(tmp_path / "o")])
    assert out.exit_code == 2
    assert "autoscaling.horizontal_pod_autoscalers[0].spec.metrics[0]: the load and usage models cannot " \
           "provide cpu" in out.stderr
    assert "Traceback" not in out.stderr
