"""Job controller: backoffLimit with the pod failure back-off, completions and
parallelism, Indexed completion, activeDeadlineSeconds, ttlSecondsAfterFinished, wasted
work.

Upstream: pkg/controller/job/job_controller.go (syncJob, manageJob: wantActive,
``failed > backoffLimit``, DeadlineExceeded), backoff_utils.go
(getRemainingTimeForFailuresCount: 10 s * 2^(n-1) after the last failure),
indexed_job_utils.go (firstPendingIndexes).
"""

from __future__ import annotations

import math

import pytest
import yaml
from helpers import scenario, sim, write

from k8sim.config.faults import DrainAction, FailNodeAction
from k8sim.config.loader import ScenarioError
from k8sim.sim.simulation import Simulation


def job(name="j", *, restart="Never", cpu="1", **spec):
    pod = {"restartPolicy": restart, "terminationGracePeriodSeconds": 0,
           "containers": [{"name": "c", "image": "x:1", "resources": {"requests": {"cpu": cpu}}}]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {**spec, "template": {"spec": pod}}}


ALWAYS_FAILS = {"crash": {"probability": 1.0, "after": {"kind": "constant", "value": 30}}}


def test_backoff_limit_two_fails_after_three_pods_at_computed_times(tmp_path):
    # Start latency 2 s, every run crashes 30 s after Running, restartPolicy Never (the pod
    # fails), reaction latency 0, back-off 10 s doubling:
    #   pod 1: created 0, Running 2, Failed 32      failures = 1 -> next pod at 32 + 10 = 42
    #   pod 2: created 42, Running 44, Failed 74    failures = 2 -> next pod at 74 + 20 = 94
    #   pod 3: created 94, Running 96, Failed 126   failures = 3 > backoffLimit 2 -> Job Failed at 126
    m = write(tmp_path, "job.yaml", job(backoffLimit=2))
    r = sim(tmp_path, m, workload={"template": ALWAYS_FAILS, "duration": {"kind": "constant", "value": 100}},
            duration=1000).run()
    pods = r.pods
    assert pods["created"].tolist() == [0.0, 42.0, 94.0]
    assert pods["finished"].tolist() == [32.0, 74.0, 126.0]
    assert (pods["phase"] == "Failed").all()
    jobs = r.frames["jobs"]
    row = jobs.iloc[0]
    assert (row["status"], row["reason"], row["failed"], row["pods"]) == ("Failed", "BackoffLimitExceeded", 3, 3)
    assert row["finished"] == 126.0
    # Wasted work: three runs of 30 s each.
    assert row["wasted_s"] == 90.0
    s = r.summary().iloc[0]
    assert s["jobs_failed"] == 1 and s["job_wasted_work_s"] == 90.0
    # The replacements are recorded as recreations of failed pods.
    assert r.frames["recreations"]["created_at"].tolist() == [42.0, 94.0]
    assert len(r.frames["unreplaced"]) == 0


def test_completions_and_parallelism(tmp_path):
    # completions 5, parallelism 2, each pod runs 10 s after a 2 s start latency; pods
    # finish in pairs: created 0,0 -> done 12,12 -> created 12,12 -> done 24 -> created 24
    # (only 5 - 4 = 1 left) -> done 36: Job Complete at 36.
    m = write(tmp_path, "job.yaml", job(completions=5, parallelism=2))
    r = sim(tmp_path, m, workload={"duration": {"kind": "constant", "value": 10}}, duration=1000).run()
    assert r.pods["created"].tolist() == [0.0, 0.0, 12.0, 12.0, 24.0]
    jobs = r.frames["jobs"]
    assert jobs["status"].tolist() == ["Complete"]
    assert jobs["finished"].tolist() == [36.0]
    assert jobs["completion_time_s"].tolist() == [36.0]
    assert r.summary()["job_completion_p50_s"].iloc[0] == 36.0


def test_indexed_job_replaces_the_failed_index_after_the_backoff_reset(tmp_path):
    # Indexed, completions 3, parallelism 3: pods j-0-*, j-1-*, j-2-* created at 0,
    # Running at 2, each runs 10 s. j-1 is deleted with grace 0 at t = 5: terminal at once,
    # so the sync at 5 counts 1 failure and waits for the back-off (5 + 10 = 15). At 12
    # j-0 and j-2 succeed, which resets the back-off (newBackoffRecord: no failure after
    # the last success), so index 1 (firstPendingIndexes) gets its new pod at 12:
    # Running 14, done 24 -> Job Complete at 24. Wasted work: j-1 ran 2 -> 5 = 3 s.
    m = write(tmp_path, "job.yaml", job(completions=3, parallelism=3, completionMode="Indexed"))
    s = sim(tmp_path, m, workload={"duration": {"kind": "constant", "value": 10}}, duration=1000)
    s.env.run(until=5)
    s.api.delete_pod(1, 0.0, "Deleted")
    r = s.run()
    names = r.pods["pod"].tolist()
    assert [n.rsplit("-", 1)[0] for n in names] == ["j-0", "j-1", "j-2", "j-1"]
    assert r.pods["created"].tolist() == [0.0, 0.0, 0.0, 12.0]
    row = r.frames["jobs"].iloc[0]
    assert (row["status"], row["succeeded"], row["failed"], row["finished"]) == ("Complete", 3, 1, 24.0)
    assert row["wasted_s"] == 3.0
    assert r.summary()["job_wasted_work_s_Deleted"].iloc[0] == 3.0


def test_backoff_doubles_and_is_capped(tmp_path):
    # pod_failure_backoff_s 10, max 25: waits after failures 1, 2, 3 are 10, 20, 25 (40
    # capped). Runs crash 30 s after Running, start latency 2:
    #   pod 1: 0 -> fails 32; pod 2: 42 -> fails 74; pod 3: 94 -> fails 126; pod 4: 151.
    m = write(tmp_path, "job.yaml", job(backoffLimit=3))
    r = sim(tmp_path, m, workload={"template": ALWAYS_FAILS, "duration": {"kind": "constant", "value": 100}},
            duration=1000, controllers={"job": {"max_pod_failure_backoff_s": 25}}).run()
    assert r.pods["created"].tolist() == [0.0, 42.0, 94.0, 151.0]
    assert r.frames["jobs"]["finished"].tolist() == [183.0]


def test_active_deadline_fails_the_job_and_deletes_its_pods(tmp_path):
    # activeDeadlineSeconds 50, pods would run 100 s: at 50 (startTime 0 + 50) the Job
    # fails with DeadlineExceeded and its pod is deleted (grace 0): finished at 50, its
    # 48 s of running (2 -> 50) are wasted.
    m = write(tmp_path, "job.yaml", job(activeDeadlineSeconds=50))
    r = sim(tmp_path, m, workload={"duration": {"kind": "constant", "value": 100}}, duration=1000).run()
    row = r.frames["jobs"].iloc[0]
    assert (row["status"], row["reason"], row["finished"]) == ("Failed", "DeadlineExceeded", 50.0)
    assert r.pods["finished"].tolist() == [50.0]
    assert row["wasted_s"] == 48.0
    assert r.summary()["job_wasted_work_s_DeadlineExceeded"].iloc[0] == 48.0


def test_ttl_after_finished_records_the_deletion(tmp_path):
    # Completes at 2 + 10 = 12; ttlSecondsAfterFinished 100 -> deleted at 112.
    m = write(tmp_path, "job.yaml", job(ttlSecondsAfterFinished=100))
    r = sim(tmp_path, m, workload={"duration": {"kind": "constant", "value": 10}}, duration=1000).run()
    assert r.frames["jobs"][["finished", "deleted_at"]].values.tolist() == [[12.0, 112.0]]
    assert (r.events["kind"] == "JobDeleted").sum() == 1


def test_work_queue_job_completes_when_one_succeeded_and_none_active(tmp_path):
    # completions unset, parallelism 3: three pods at 0. Durations come from the
    # annotation: constant 10 s, so all succeed at 12 and the Job is Complete at 12 with
    # no further pods (wantActive = active once one has succeeded).
    doc = job(parallelism=3)
    doc["spec"]["template"]["metadata"] = {"annotations": {"k8sim.io/duration": "10"}}
    m = write(tmp_path, "job.yaml", doc)
    r = sim(tmp_path, m, duration=1000).run()
    assert len(r.pods) == 3
    assert r.frames["jobs"][["status", "succeeded", "finished"]].values.tolist() == [["Complete", 3, 12.0]]


def test_suspended_job_starts_no_pod(tmp_path):
    m = write(tmp_path, "job.yaml", job(suspend=True))
    r = sim(tmp_path, m, workload={"duration": {"kind": "constant", "value": 10}}, duration=100).run()
    assert len(r.pods) == 0
    assert r.frames["jobs"]["status"].tolist() == ["Active"]
    assert math.isnan(r.frames["jobs"]["started"].iloc[0])


def test_resumed_job_counts_its_deadline_from_the_resume(tmp_path):
    # Suspended at creation, resumed at t = 50: startTime 50, its pod created at 50
    # (Running 52, would run 100 s); activeDeadlineSeconds 30 -> DeadlineExceeded at 80.
    m = write(tmp_path, "job.yaml", job(suspend=True, activeDeadlineSeconds=30))
    s = sim(tmp_path, m, workload={"duration": {"kind": "constant", "value": 100}}, duration=300)
    s.env.run(until=50)
    s.controllers.jobs.set_suspend("default/j", False)
    r = s.run()
    row = r.frames["jobs"].iloc[0]
    assert r.pods["created"].tolist() == [50.0]
    assert (row["started"], row["finished"], row["reason"]) == (50.0, 80.0, "DeadlineExceeded")


def test_preempted_job_pod_counts_as_failure_and_is_replaced(tmp_path):
    # One node of 2 CPUs: the Job's 2-CPU pod runs from 2; at t = 20 a priority-100 bare
    # pod of 2 CPUs preempts it (grace 0): the Job's pod fails at 20 (cause Preempted,
    # 18 s wasted) and is replaced after the back-off, at 30, then waits Pending.
    m = write(tmp_path, "job.yaml", job(cpu="2"))
    sc = scenario(tmp_path, m, nodes=1, cpu="2", duration=200, extra={"workloads": [
        {"manifest": str(m), "duration": {"kind": "constant", "value": 1000}},
        {"name": "big", "arrival": {"kind": "times", "times_s": [20]},
         "template": {"requests": {"cpu": "2"}, "priority": 100}, "duration": {"kind": "constant", "value": 1000}}]})
    r = Simulation(sc).run()
    jp = r.pods[r.pods["pod"].str.startswith("j-")]
    assert jp["created"].tolist() == [0.0, 30.0]
    row = r.frames["jobs"].iloc[0]
    assert row["failed"] == 1 and row["wasted_s"] == 18.0
    assert r.summary()["job_wasted_work_s_Preempted"].iloc[0] == 18.0


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda d: d["spec"]["template"]["spec"].pop("restartPolicy"), "spec.template.spec.restartPolicy",
     "OnFailure or Never"),
    (lambda d: d["spec"]["template"]["spec"].update(restartPolicy="Always"), "spec.template.spec.restartPolicy",
     "got Always"),
    (lambda d: d["spec"].update(completionMode="Indexed", parallelism=2), "spec.completions", "required when completionMode"),
    (lambda d: d["spec"].update(selector={"matchExpressions": [{"key": "a", "operator": "In"}]}),
     "spec.selector.matchExpressions", "invalid label selector"),
    (lambda d: d["spec"].update(backoffLimit=-1), "spec.backoffLimit", ""),
])
def test_bad_jobs_name_file_document_and_field(tmp_path, change, field, words):
    doc = job()
    change(doc)
    m = write(tmp_path, "job.yaml", doc)
    with pytest.raises(ScenarioError) as e:
        sim(tmp_path, m, duration=100)
    text = str(e.value)
    assert "job.yaml" in text and f"document[0].{field}" in text and words in text


def test_cli_exits_2_on_a_bad_job(tmp_path):
    doc = job()
    doc["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    m = write(tmp_path, "job.yaml", doc)
    sc = tmp_path / "s.yaml"
    sc.write_text(yaml.safe_dump({
        "name": "t", "duration_s": 100,
        "cluster": {"node_pools": [{"name": "n", "count": 1, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
        "workloads": [{"manifest": str(m)}]}))
    from typer.testing import CliRunner

    from k8sim.cli import app

    out = CliRunner().invoke(app, ["run", str(sc), "--out", str(tmp_path / "o")])
    assert not (out.exception is not None and not isinstance(out.exception, SystemExit)), out.exception
    assert out.exit_code == 2, out.stderr
    assert "job.yaml: document[0].spec.template.spec.restartPolicy" in out.stderr


def test_spot_scenario_jobs_account_for_every_interrupted_pod():
    # scenarios/spot-batch-jobs.yaml: properties that hold whatever the draws are.
    from pathlib import Path

    from k8sim import load_scenario, run

    path = Path(__file__).resolve().parents[2] / "scenarios" / "spot-batch-jobs.yaml"
    r = run(load_scenario(path))
    pods, jobs = r.pods, r.frames["jobs"]
    assert (jobs["status"] == "Complete").all()
    interrupted = r.events.loc[r.events["kind"] == "SpotInterruption", "pod"].dropna()
    lost = pods[pods["pod"].isin(interrupted)]
    assert len(lost) > 0  # the scenario does interrupt Job pods
    # Their run time is the wasted work by that cause (reconstructed from the pod table).
    wasted = float((lost["finished"] - lost["running"]).sum())
    assert r.summary()["job_wasted_work_s_SpotInterruption"].iloc[0] == pytest.approx(wasted)
    for _, j in jobs.iterrows():
        mine = pods[pods["pod"].str.startswith(j["job"] + "-")]
        # Every pod is accounted for: succeeded + failed, none left behind.
        assert j["succeeded"] + j["failed"] == len(mine) == j["pods"]
        assert j["succeeded"] == (mine["phase"] == "Succeeded").sum()
    # Indexed: each index 0..23 has exactly one Succeeded pod.
    a = pods[pods["pod"].str.startswith("sweep-a-") & (pods["phase"] == "Succeeded")]
    assert sorted(int(n.split("-")[2]) for n in a["pod"]) == list(range(24))


def test_on_failure_restarts_reach_the_backoff_limit(tmp_path):
    # restartPolicy OnFailure, backoffLimit 2, every run crashes 30 s after it starts:
    # Running at 2, crash at 32, immediate first restart (restarts 1: 1 < 2, the Job goes
    # on), the container starts again after the 2 s start latency and crashes at 64;
    # CrashLoopBackOff 10 s, so the second restart is at the first pod sync after 74
    # (the pod worker's jitter: before 64 + 10 x 1.5 = 79). At that restart the sum of
    # restarts reaches 2 = backoffLimit (pastBackoffLimitOnFailure): the Job fails and
    # its only pod is deleted at that instant. The pod never failed: failed counts it as
    # deleted by the Job.
    m = write(tmp_path, "job.yaml", job(backoffLimit=2, restart="OnFailure"))
    r = sim(tmp_path, m, workload={"template": ALWAYS_FAILS, "duration": {"kind": "constant", "value": 100}},
            duration=1000).run()
    assert len(r.pods) == 1 and r.pods["restarts"].iloc[0] == 2
    row = r.frames["jobs"].iloc[0]
    assert (row["status"], row["reason"]) == ("Failed", "BackoffLimitExceeded")
    assert 74.0 <= row["finished"] < 79.0
    assert r.pods["finished"].iloc[0] == row["finished"]


def test_unmodelled_job_fields_are_warned_once_by_name(tmp_path):
    # managedBy hands the Job to another controller: k8sim does not model that; the
    # failure and success policies are modelled and not warned about.
    doc = job(managedBy="kueue.x-k8s.io/multikueue", podFailurePolicy={"rules": []}, backoffLimitPerIndex=2,
              completions=2, completionMode="Indexed")
    m = write(tmp_path, "job.yaml", doc)
    s = sim(tmp_path, m, workload={"duration": {"kind": "constant", "value": 10}}, duration=100)
    warned = [w for w in s.warnings if "is not modelled by k8sim" in w]
    assert len(warned) == 1
    assert "Job field spec.managedBy" in warned[0]


def test_nonindexed_job_completes_only_with_no_pod_active(tmp_path):
    # Upstream syncJob (pkg/controller/job/job_controller.go): after manageJob,
    # ``complete = succeeded >= completions && active == 0``; manageJob's wantActive is
    # ``completions - succeeded`` = 0 once the completions are reached, so a pod still
    # active then is excess and deleted by deleteJobPods, which removes its tracking
    # finalizer first: trackJobStatusAndRemoveFinalizers never counts it as failed.
    # A Job of 1 completion whose 100 s pod A runs from 2 on one of two nodes; A's node
    # is cut off (partition) at 10 and drained at 20: A's eviction waits at its kubelet,
    # A runs on, and the Job replaces it at once (a terminating pod is not active:
    # podReplacementPolicy TerminatingOrFailed): B created at 20 on the other node,
    # Running 22. A succeeds at 2 + 100 = 102: succeeded 1 >= 1 but B is active, so B is
    # deleted then (grace 30: it ends Failed at 132) and the Job is Complete at 102 with
    # 1 success and 0 failures (k8sim counted B as a failure before). A's run was not
    # lost (it succeeded): only B's 22 -> 132 = 110 s are wasted work.
    doc = job(completions=1, parallelism=1)
    doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = 30
    m = write(tmp_path, "job.yaml", doc)
    s = sim(tmp_path, m, nodes=2, workload={"duration": {"kind": "constant", "value": 100}}, duration=400)
    s.advance(5)
    pods = s.state.pods
    node = s.state.nodes.names[int(pods.node[0])]
    s.at(10, FailNodeAction(nodes={"names": [node]}, mode="partition", duration_s=300))
    s.at(20, DrainAction(nodes={"names": [node]}))
    r = s.run()
    p = r.pods.set_index("pod")
    a, b = r.pods["pod"].tolist()
    assert (p.loc[a, "created"], p.loc[a, "finished"], p.loc[a, "phase"]) == (0.0, 102.0, "Succeeded")
    assert (p.loc[b, "created"], p.loc[b, "running"], p.loc[b, "finished"], p.loc[b, "phase"]) == (
        20.0, 22.0, 132.0, "Failed")
    row = r.frames["jobs"].iloc[0]
    assert (row["status"], row["finished"], row["succeeded"], row["failed"], row["pods"]) == ("Complete", 102.0, 1, 0, 2)
    assert row["wasted_s"] == 110.0
    assert r.summary()["job_pods_failed"].iloc[0] == 0


def test_excess_pods_deleted_by_the_job_controller_are_not_failures(tmp_path):
    # A suspended Job's pods are deleted by manageJob (deleteJobPods, tracking finalizer
    # removed first): they are not failures. Two pods Running from 2; suspended at 50 (both
    # deleted, grace 0: Failed at 50), resumed at 60 -> two new pods created at 60 (no pod
    # failure back-off: nothing failed), Running 62, succeeding at 62 + 100 = 162.
    doc = job(completions=2, parallelism=2)
    m = write(tmp_path, "job.yaml", doc)
    s = sim(tmp_path, m, nodes=2, workload={"duration": {"kind": "constant", "value": 100}}, duration=400)
    s.at(50, lambda ctx: s.controllers.jobs.set_suspend("default/j", True))
    s.at(60, lambda ctx: s.controllers.jobs.set_suspend("default/j", False))
    r = s.run()
    assert r.pods["created"].tolist() == [0.0, 0.0, 60.0, 60.0]
    assert r.pods["finished"].tolist() == [50.0, 50.0, 162.0, 162.0]
    row = r.frames["jobs"].iloc[0]
    assert (row["status"], row["finished"], row["succeeded"], row["failed"]) == ("Complete", 162.0, 2, 0)
