"""ResourceQuota admission (upstream plugin/pkg/admission/resourcequota/controller.go,
quotaEvaluator.checkRequest; pkg/quota/v1/evaluator/core/pods.go, PodUsageFunc,
QuotaV1Pod, podEvaluator.Constraints) and how each creator handles a refusal (client-go
workqueue DefaultControllerRateLimiter for the controllers)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import deployment, scenario, write

from k8sim.cluster.api import AdmissionRefused
from k8sim.config.loader import ScenarioError, validate_scenario
from k8sim.sim.simulation import Simulation


def arrivals(quota: dict, template: dict | None = None, every: float = 5, duration: float = 27,
             run: float = 100) -> Simulation:
    data = {
        "name": "q", "duration_s": run,
        "cluster": {"node_pools": [{"name": "n", "count": 2, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "resourceQuotas": [{"name": "compute", "namespace": "team", "hard": quota}],
        "workloads": [{"name": "web", "template": template or {"namespace": "team",
                                                               "requests": {"cpu": "500m", "memory": "1Gi"}},
                       "arrival": {"kind": "interval", "every_s": every},
                       "duration": {"kind": "constant", "value": duration}}],
    }
    return Simulation(validate_scenario(data, source="q.yaml"))


def test_arrivals_over_the_pod_quota_are_refused_and_recorded():
    # Arrivals every 5 s (web-i at 5i), each running 27 s, quota pods: 3.
    # web-0,1,2 (t 0, 5, 10) hold the 3 pods; web-3,4,5 (15, 20, 25) are refused. web-0
    # ends at 27 (terminal pods are not charged, QuotaV1Pod), so web-6 (30) is admitted;
    # web-1 ends at 32 -> web-7 (35) admitted; web-2 ends at 37 -> web-8 (40) admitted;
    # then 45, 50, 55 are refused again. The pattern repeats every 30 s: refused
    # web-3,4,5, web-9,10,11, web-15,16,17 (arrivals stop before 100 s).
    s = arrivals({"pods": 3, "requests.cpu": "2"})
    r = s.run()
    ref = r.frames["quota_refusals"]
    assert ref["pod"].tolist() == [f"web-{i}" for i in (3, 4, 5, 9, 10, 11, 15, 16, 17)]
    assert ref["time"].tolist() == [15.0, 20.0, 25.0, 45.0, 50.0, 55.0, 75.0, 80.0, 85.0]
    # controller.go checkRequest / prettyPrint: only the exceeded resource is named.
    assert set(ref["message"]) == {"exceeded quota: compute, requested: pods=1, used: pods=3, limited: pods=3"}
    assert r.summary()["pods_refused_quota"].iloc[0] == 9
    ev = r.events[r.events["kind"] == "FailedCreate"]
    assert ev["detail"].iloc[0] == ('Error creating: pods "web-3" is forbidden: exceeded quota: compute, '
                                    "requested: pods=1, used: pods=3, limited: pods=3")
    assert len(r.pods) == 11  # 20 arrivals - 9 refused, none silently dropped
    q = r.frames["resource_quotas"].set_index("resource")
    # At most 3 pods of 500m at a time: requests.cpu peaks at 1500 milli-CPU.
    assert q.loc["requests.cpu", "max_used"] == 1500 and q.loc["pods", "max_used"] == 3


def test_cpu_quota_refuses_with_the_requested_used_and_limited_amounts():
    # requests.cpu: 1200m, pods of 500m every 5 s running 100 s: web-0 and web-1 hold
    # 1000m; web-2 would need 1500m > 1200m: "requested: requests.cpu=500m, used:
    # requests.cpu=1, limited: requests.cpu=1200m" (Quantity.String of 1000m is "1").
    s = arrivals({"requests.cpu": "1200m"}, duration=100, run=12)
    ref = s.run().frames["quota_refusals"]
    assert ref["message"].tolist() == [
        "exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=1, limited: requests.cpu=1200m"]


def test_quota_on_limits_needs_every_container_to_set_them():
    # podEvaluator.Constraints: a quota naming limits.cpu requires each container to
    # set a cpu limit; the single container of a template without limits does not, so
    # every creation is refused and the build warns about the quota's field.
    s = arrivals({"limits.cpu": "4"}, run=12)
    assert any(w.startswith("resourceQuotas[0].hard: ResourceQuota team/compute admits no pod of workloads[0] (web)")
               and "must specify limits.cpu for: main" in w for w in s.warnings)
    ref = s.run().frames["quota_refusals"]
    assert len(ref) == 3  # arrivals at 0, 5, 10
    assert set(ref["message"]) == {"failed quota: compute: must specify limits.cpu for: main"}
    # With limits set (1 cpu per pod), 4 pods fit: limits.cpu is charged PodLimits.
    s = arrivals({"limits.cpu": "4"}, {"namespace": "team", "requests": {"cpu": "500m"}, "limits": {"cpu": "1"}},
                 duration=1000, run=40)
    r = s.run()
    # Arrivals at 0..35 (8); the first 4 hold 4 cpu of limits; the other 4 are refused.
    assert len(r.pods) == 4 and len(r.frames["quota_refusals"]) == 4
    assert r.frames["quota_refusals"]["message"].iloc[0] == (
        "exceeded quota: compute, requested: limits.cpu=1, used: limits.cpu=4, limited: limits.cpu=4")


def test_a_quota_no_pod_can_satisfy_is_warned():
    # One pod asks for 500m, the quota allows 400m in all: no pod of the workload can
    # ever be admitted; the warning names the field and what the pod asks.
    s = arrivals({"requests.cpu": "400m"}, run=5)
    assert any(w.startswith("resourceQuotas[0].hard: ResourceQuota team/compute admits no pod of workloads[0]")
               and "requests.cpu=500m, above the quota's requests.cpu=400m" in w for w in s.warnings)


def test_other_namespaces_are_not_charged():
    s = arrivals({"pods": 0}, {"namespace": "other", "requests": {"cpu": "500m"}}, run=12)
    r = s.run()
    assert len(r.pods) == 3 and len(r.frames["quota_refusals"]) == 0


@pytest.mark.parametrize(("hard", "field"), [
    ({"requests.cpu": "lots"}, "resourceQuotas[0].hard.requests.cpu"),
    ({"cpus": "1"}, "resourceQuotas[0].hard"),
    ({}, "resourceQuotas[0].hard"),
])
def test_bad_scenario_quotas(hard, field):
    data = {"name": "q", "duration_s": 10,
            "cluster": {"node_pools": [{"name": "n", "count": 1, "allocatable": {"cpu": "8", "memory": "8Gi"}}]},
            "resourceQuotas": [{"name": "compute", "hard": hard}]}
    with pytest.raises(ScenarioError) as e:
        validate_scenario(data, source="q.yaml")
    assert field in str(e.value)


def test_create_pod_from_python_raises_and_logs():
    s = arrivals({"pods": 1}, run=3)
    s.advance(1)  # web-0 holds the one pod
    info = s.state.shapes[int(s.state.pods.shape[0])]
    with pytest.raises(AdmissionRefused) as e:
        s.api.create_pod(name="extra", requests=info.requests, workload=0, index=99, shape=info.shape,
                         priority=0, duration=math.inf, start_latency=0.0)
    assert e.value.message == ('pods "extra" is forbidden: exceeded quota: compute, requested: pods=1, '
                               "used: pods=1, limited: pods=1")
    assert s.state.pods.n == 1  # nothing was created


# ---------------------------------------------------------------------- controllers


def quota_doc(hard: dict, ns: str = "default", **spec) -> dict:
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q", "namespace": ns},
            "spec": {"hard": hard, **spec}}


def job(duration: float) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "batch", "annotations": {"k8sim.io/duration": str(duration)}},
            "spec": {"completions": 1, "template": {"spec": {
                "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}


def test_replicaset_retries_with_the_workqueue_backoff_until_usage_is_released(tmp_path):
    # Quota pods: 3. The Job's pod (created first, at 0; Running at 2 with the start
    # latency of 2 s, ending 50 s later at 52) and two of the Deployment's three pods
    # fill it. The ReplicaSet's third creation is refused at 0; manageReplicas returns
    # the error and the key is re-added after 5 ms * 2^n (n = failures so far), so its
    # syncs run at t_n = 0.005 * (2^n - 1): n = 13 is 40.955 s (still refused, the Job
    # pod holds its share until 52), n = 14 is 81.915 s: admitted. 14 refusals.
    m = write(tmp_path, "app.yaml", quota_doc({"pods": 3}), job(50), deployment(replicas=3))
    s = Simulation(scenario(tmp_path, m, duration=120))
    r = s.run()
    web = r.pods[r.pods["pod"].str.startswith("web-")]
    assert len(web) == 3
    assert sorted(web["created"].tolist())[:2] == [0.0, 0.0]
    assert web["created"].max() == pytest.approx(0.005 * (2**14 - 1))
    ref = r.frames["quota_refusals"]
    assert len(ref) == 14 and set(ref["owner_kind"]) == {"ReplicaSet"}
    assert np.allclose(ref["time"].to_numpy(), [0.005 * (2**n - 1) for n in range(14)])


def test_manifest_quota_errors_and_warnings(tmp_path):
    m = write(tmp_path, "app.yaml", quota_doc({"pods": 2}, scopes=["BestEffort"]),
              quota_doc({"requests.memory": "1Zz"}), quota_doc({"services": 2, "pods": 1}))
    with pytest.raises(ScenarioError) as e:
        Simulation(scenario(tmp_path, m))
    text = str(e.value)
    assert "app.yaml: document[0].spec.scopes" in text and "not supported yet" in text
    assert "document[1].spec.hard.requests.memory" in text
    m = write(tmp_path, "ok.yaml", quota_doc({"services": 2, "pods": 5}), deployment(replicas=1))
    s = Simulation(scenario(tmp_path, m))
    assert any("document[0].spec.hard.services" in w and "not enforced" in w for w in s.warnings)


def test_job_refusals_are_retried_and_are_not_pod_failures(tmp_path):
    # Quota pods: 1; a Job of 2 completions, parallelism 2, pods of 20 s (start latency
    # 2 s). Sync at 0: slowStartBatch 1 + 1: pod A is admitted, pod B refused; the Job
    # is re-synced with the back-off at t_n = 0.005 (2^n - 1): n = 1..12 (up to 20.475 s)
    # are refused too, while A holds the quota (Running 2 -> 22). A's end at 22 syncs
    # the Job (pod event): B is admitted at 22, runs 24 -> 44; the Job completes at 44
    # with 0 failed pods (job_controller.go: a creation error is not a pod failure).
    j = job(20)
    j["spec"]["completions"] = j["spec"]["parallelism"] = 2
    m = write(tmp_path, "app.yaml", quota_doc({"pods": 1}), j)
    r = Simulation(scenario(tmp_path, m, duration=100)).run()
    ref = r.frames["quota_refusals"]
    assert np.allclose(ref["time"].to_numpy(), [0.005 * (2**n - 1) for n in range(13)])
    assert set(ref["owner_kind"]) == {"Job"}
    assert sorted(r.pods["created"].tolist()) == [0.0, 22.0]
    jobs = r.frames["jobs"].iloc[0]
    assert jobs["status"] == "Complete" and jobs["failed"] == 0 and jobs["finished"] == pytest.approx(44.0)


def test_statefulset_waits_at_the_refused_ordinal(tmp_path):
    # Quota pods: 2 and a 3-replica StatefulSet (OrderedReady, start latency 2 s):
    # web-0 is created at 0 and Ready at 2, web-1 is created at 2 and Ready at 4; web-2
    # is refused at 4 and the sync is retried with the back-off, at 4 + 0.005 (2^n - 1):
    # n = 0..13 fall before the end at 60 s (n = 13: 44.955 s; n = 14 would be 85.9 s).
    # Nothing releases the quota, so every retry is refused: 14 refusals of web-2.
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
           "spec": {"replicas": 3, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                        {"name": "c", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}}}
    m = write(tmp_path, "app.yaml", quota_doc({"pods": 2}), sts)
    r = Simulation(scenario(tmp_path, m, duration=60)).run()
    assert r.pods["pod"].tolist() == ["web-0", "web-1"]
    ref = r.frames["quota_refusals"]
    assert set(ref["pod"]) == {"web-2"} and set(ref["owner_kind"]) == {"StatefulSet"}
    assert np.allclose(ref["time"].to_numpy(), [4 + 0.005 * (2**n - 1) for n in range(14)])


def test_count_pods_counts_pods_that_ended_on_their_own():
    # Arrivals every 5 s, each pod done after 3 s. "pods: 2" never binds (at most one
    # pod is non-terminal at a time): no refusal in 30 s. "count/pods: 2" counts every
    # pod object in storage (PodUsageFunc: "count/pods tracks all pods independent of
    # state"); completed pods are not deleted, so after web-0 and web-1 every arrival
    # (10, 15, 20, 25) is refused.
    assert len(arrivals({"pods": 2}, duration=3, run=30).run().frames["quota_refusals"]) == 0
    ref = arrivals({"count/pods": 2}, duration=3, run=30).run().frames["quota_refusals"]
    assert ref["time"].tolist() == [10.0, 15.0, 20.0, 25.0]
    assert ref["message"].iloc[0] == ("exceeded quota: compute, requested: count/pods=1, used: count/pods=2, "
                                      "limited: count/pods=2")
