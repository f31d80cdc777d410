"""Job pod failure policy, pod replacement policy, backoffLimitPerIndex and success policy.

Upstream: pkg/controller/job/pod_failure_policy.go (matchPodFailurePolicy; the unit cases
below carry the names of TestMatchPodFailurePolicy in pod_failure_policy_test.go),
success_policy.go (matchSuccessPolicy), indexed_job_utils.go (isIndexFailed,
getRemainingTimePerIndex via backoff_utils.go, firstPendingIndexes),
job_controller.go (syncJob: FailureTarget from a FailJob rule, MaxFailedIndexesExceeded,
FailedIndexes, SuccessCriteriaMet; manageJob: onlyReplaceFailedPods).
"""

from __future__ import annotations

import math

import pytest
from helpers import sim, write

from k8sim.config.loader import ScenarioError
from k8sim.controllers.job import format_indexes
from k8sim.controllers.jobpolicy import (
    FailedPod,
    PodFailureRule,
    SuccessRule,
    match_pod_failure_policy,
    match_success_policy,
    parse_indexes,
)

DISRUPTED = frozenset({("DisruptionTarget", "True")})


def exit_code(code: int, name: str = "main-container") -> FailedPod:
    return FailedPod(name, code, frozenset())


@pytest.mark.parametrize("name, rules, pod, want", [
    ("FailJob rule matched for exit codes",
     (PodFailureRule("FailJob", "In", (1, 2, 3)),), exit_code(2),
     ("Container main-container failed with exit code 2 matching FailJob rule at index 0", True, "FailJob")),
    ("ignore rule matched for exit codes",
     (PodFailureRule("Ignore", "In", (1, 2, 3)),), exit_code(2), (None, False, "Ignore")),
    ("second jobfail rule matched for exit codes",
     (PodFailureRule("Count", "In", (1, 2, 3)), PodFailureRule("FailJob", "In", (4, 5, 6))), exit_code(6),
     ("Container main-container failed with exit code 6 matching FailJob rule at index 1", True, "FailJob")),
    ("count rule matched for exit codes",
     (PodFailureRule("Count", "In", (1, 2, 3)),), exit_code(2), (None, True, "Count")),
    ("FailIndex rule matched for exit codes",
     (PodFailureRule("FailIndex", "In", (1, 2, 3)),), exit_code(2), (None, True, "FailIndex")),
    ("pod failure policy with NotIn operator and value 0",
     (PodFailureRule("FailJob", "NotIn", (0,)),), exit_code(1),
     ("Container main-container failed with exit code 1 matching FailJob rule at index 0", True, "FailJob")),
    ("ignore rule matched for pod conditions",
     (PodFailureRule("Ignore", on_pod_conditions=(("DisruptionTarget", "True"),)),),
     FailedPod(None, None, DISRUPTED), (None, False, "Ignore")),
    ("FailIndex rule matched for pod conditions",
     (PodFailureRule("FailIndex", on_pod_conditions=(("DisruptionTarget", "True"),)),),
     FailedPod(None, None, DISRUPTED), (None, True, "FailIndex")),
    ("ignore rule does not match when status for pattern is False, but actual True",
     (PodFailureRule("Ignore", on_pod_conditions=(("DisruptionTarget", "False"),)),),
     FailedPod(None, None, DISRUPTED), (None, True, None)),
    ("no policy rules", None, exit_code(2), (None, True, None)),
    # A container name that is not the failed one does not match (containerName).
    ("container name differs", (PodFailureRule("Ignore", "In", (2,), container_name="other"),), exit_code(2),
     (None, True, None)),
    # An exit code of 0 never matches, NotIn included (getMatchingContainerFromList).
    ("zero exit code never matches", (PodFailureRule("FailJob", "NotIn", (5,)),), exit_code(0), (None, True, None)),
])
def test_match_pod_failure_policy_as_upstream_unit_cases(name, rules, pod, want):
    assert match_pod_failure_policy(rules, pod) == want, name


def test_success_policy_and_indexes():
    # "0,2-4": indexes 0, 2, 3, 4 (orderedIntervals); completions bound them.
    assert parse_indexes("0,2-4", 5) == ((0, 0), (2, 4))
    assert parse_indexes("0,1,2", 5) == ((0, 2),)  # neighbours merge
    assert parse_indexes("3-1", 5) is None and parse_indexes("0,0", 5) is None and parse_indexes("5", 5) is None
    assert format_indexes({0, 2, 3, 4, 7, 8}) == "0,2-4,7,8"  # orderedIntervals.String
    rules = (SuccessRule(((0, 0), (2, 4)), None),)
    assert match_success_policy(rules, {0, 2, 3}) is None  # 4 missing
    assert match_success_policy(rules, {0, 2, 3, 4}) == "Matched rules at index 0"
    # succeededIndexes with succeededCount: 2 of the rule's indexes suffice.
    assert match_success_policy((SuccessRule(((0, 0), (2, 4)), 2),), {1, 3, 4}) == "Matched rules at index 0"
    assert match_success_policy((SuccessRule(None, 3), SuccessRule(None, 2)), {5, 6}) == "Matched rules at index 1"
    assert match_success_policy(rules, set()) is None


def job(name="j", *, restart="Never", grace=0, annotations=None, **spec):
    pod = {"restartPolicy": restart, "terminationGracePeriodSeconds": grace,
           "containers": [{"name": "c", "image": "x:1", "resources": {"requests": {"cpu": "1"}}}]}
    tmpl = {"spec": pod}
    if annotations:
        tmpl["metadata"] = {"annotations": annotations}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {**spec, "template": tmpl}}


CRASH_42 = {"crash": {"probability": 1.0, "after": {"kind": "constant", "value": 30}, "exit_code": 42}}
TEN_S = {"kind": "constant", "value": 10}


def test_fail_job_rule_on_exit_code_fails_the_job_at_the_first_failure(tmp_path):
    # Start latency 2, the run crashes 30 s after Running with exit code 42: the pod fails
    # at 32; its sync at 32 finds the FailJob rule (In [42]) matched: Failed with reason
    # PodFailurePolicy at 32, though backoffLimit 6 would allow 6 more pods.
    m = write(tmp_path, "job.yaml", job(podFailurePolicy={"rules": [
        {"action": "FailJob", "onExitCodes": {"containerName": "c", "operator": "In", "values": [42]}}]}))
    r = sim(tmp_path, m, workload={"template": CRASH_42, "duration": {"kind": "constant", "value": 100}},
            duration=1000).run()
    row = r.frames["jobs"].iloc[0]
    assert (row["status"], row["reason"], row["finished"], row["pods"], row["failed"]) == (
        "Failed", "PodFailurePolicy", 32.0, 1, 1)
    pf = r.frames["job_pod_failures"]
    assert pf[["exit_code", "action", "counted"]].values.tolist() == [[42, "FailJob", True]]
    assert "exit code 42 matching FailJob rule at index 0" in r.frames["job_policies"]["message"].iloc[0]


def test_exit_code_outside_the_rule_counts_toward_backoff_limit(tmp_path):
    # The same crashes (exit 42) against a rule In [1]: no match, every failure counts, so
    # backoffLimit 1 fails the Job on the second failure: pods at 0 (fails 32) and
    # 32 + 10 = 42 (fails 74): BackoffLimitExceeded at 74.
    m = write(tmp_path, "job.yaml", job(backoffLimit=1, podFailurePolicy={"rules": [
        {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]}))
    r = sim(tmp_path, m, workload={"template": CRASH_42, "duration": {"kind": "constant", "value": 100}},
            duration=1000).run()
    row = r.frames["jobs"].iloc[0]
    assert (row["status"], row["reason"], row["finished"]) == ("Failed", "BackoffLimitExceeded", 74.0)
    assert r.pods["created"].tolist() == [0.0, 42.0]


@pytest.mark.parametrize("policy", [True, False])
def test_ignore_rule_on_disruption_target_does_not_count_an_eviction(tmp_path, policy):
    # backoffLimit 0, pods run 10 s after a 2 s start latency. The pod is evicted through
    # the Eviction API (grace 0) at 5: DisruptionTarget=True.
    # - With the Ignore rule the failure does not count (failed 0 <= 0) but still starts
    #   the back-off: the replacement comes at 5 + 10 = 15, runs 17 -> 27: Complete at 27.
    # - Without a policy the failure counts: 1 > 0, BackoffLimitExceeded at 5.
    spec = {"backoffLimit": 0}
    if policy:
        spec["podFailurePolicy"] = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    m = write(tmp_path, "job.yaml", job(**spec))
    s = sim(tmp_path, m, workload={"duration": TEN_S}, duration=1000)
    s.env.run(until=5)
    assert s.api.evict_pod(0, "EvictionByEvictionAPI", 0.0)
    r = s.run()
    row = r.frames["jobs"].iloc[0]
    if policy:
        assert (row["status"], row["finished"], row["failed"]) == ("Complete", 27.0, 0)
        assert r.pods["created"].tolist() == [0.0, 15.0]
        pf = r.frames["job_pod_failures"].iloc[0]
        assert (pf["disruption_target"], pf["action"], pf["counted"]) == (True, "Ignore", False)
        assert r.summary()["job_pod_failures_ignored"].iloc[0] == 1
    else:
        assert (row["status"], row["reason"], row["finished"]) == ("Failed", "BackoffLimitExceeded", 5.0)


@pytest.mark.parametrize("replacement, created", [("TerminatingOrFailed", 10.0), ("Failed", 50.0)])
def test_pod_replacement_policy(tmp_path, replacement, created):
    # The pod (grace 30) is deleted at 10; it is terminal at 40.
    # - TerminatingOrFailed: it is no longer active at 10 and no failure is counted yet,
    #   so the replacement is created at once, at 10.
    # - Failed (onlyReplaceFailedPods): the terminating pod counts against wantActive until
    #   it has failed at 40; that failure starts the 10 s back-off: replacement at 50.
    m = write(tmp_path, "job.yaml", job(grace=30, podReplacementPolicy=replacement))
    s = sim(tmp_path, m, workload={"duration": {"kind": "constant", "value": 100}}, duration=1000)
    s.env.run(until=10)
    s.api.delete_pod(0, 30.0, "Deleted")
    r = s.run()
    assert r.pods["created"].tolist() == [0.0, created]


def test_backoff_limit_per_index_fails_the_index_not_the_job_at_once(tmp_path):
    # Indexed, completions 3, parallelism 3, backoffLimitPerIndex 1, pods run 10 s after
    # a 2 s start latency. Index 1's pod (row 1) is deleted (grace 0) at 5: its first
    # counted failure (0 before it < 1: the index lives on). The per-index back-off (10 s
    # after the index's last failure) is not reset by the other indexes' successes at 12
    # (the global one would be): index 1 gets its new pod at 15 (Running 17). Deleted at
    # 20, it finds 1 failure before it >= 1: index 1 fails; failed 1 + succeeded 2 >= 3:
    # the Job fails with FailedIndexes at 20 (maxFailedIndexes 0: MaxFailedIndexesExceeded).
    for max_failed, reason in ((None, "FailedIndexes"), (0, "MaxFailedIndexesExceeded")):
        spec = {"completions": 3, "parallelism": 3, "completionMode": "Indexed", "backoffLimitPerIndex": 1}
        if max_failed is not None:
            spec["maxFailedIndexes"] = max_failed
        m = write(tmp_path, "job.yaml", job(**spec))
        s = sim(tmp_path, m, workload={"duration": TEN_S}, duration=1000)
        s.env.run(until=5)
        s.api.delete_pod(1, 0.0, "Deleted")
        s.env.run(until=20)
        s.api.delete_pod(3, 0.0, "Deleted")
        r = s.run()
        assert r.pods["created"].tolist() == [0.0, 0.0, 0.0, 15.0]
        assert r.pods["pod"].iloc[3].startswith("j-1-")
        row = r.frames["jobs"].iloc[0]
        assert (row["status"], row["reason"], row["finished"], row["backoff_limit"]) == ("Failed", reason, 20.0,
                                                                                          2**31 - 1)
        pol = r.frames["job_policies"].iloc[0]
        assert (pol["failed_indexes"], pol["succeeded_indexes"]) == ("1", "0,2")
        assert r.frames["job_pod_failures"]["index_failed"].tolist() == [False, True]


def test_fail_index_rule_stops_the_index_and_the_job_completes_the_rest_failed(tmp_path):
    # Indexed, completions 2, parallelism 2, backoffLimitPerIndex 5, a FailIndex rule on
    # DisruptionTarget. Index 0's pod is evicted at 5: index 0 fails at once (FailIndex),
    # gets no new pod; index 1 succeeds at 12: failed 1 + succeeded 1 >= 2: FailedIndexes
    # at 12.
    m = write(tmp_path, "job.yaml", job(completions=2, parallelism=2, completionMode="Indexed",
                                        backoffLimitPerIndex=5, podFailurePolicy={"rules": [
                                            {"action": "FailIndex",
                                             "onPodConditions": [{"type": "DisruptionTarget"}]}]}))
    s = sim(tmp_path, m, workload={"duration": TEN_S}, duration=1000)
    s.env.run(until=5)
    s.api.evict_pod(0, "EvictionByEvictionAPI", 0.0)
    r = s.run()
    assert len(r.pods) == 2
    row = r.frames["jobs"].iloc[0]
    assert (row["status"], row["reason"], row["finished"]) == ("Failed", "FailedIndexes", 12.0)


def test_success_policy_completes_early_and_its_deleted_pods_are_not_failures(tmp_path):
    # Indexed, completions 3, parallelism 3, successPolicy succeededIndexes "0,2". Index
    # 1's first pod is deleted (grace 0) at 1: a failure (back-off 10 s), its new pod comes
    # at 11 (Running 13). At 12 indexes 0 and 2 succeed: the rule holds, the Job is
    # Complete (SuccessPolicy) at 12 and index 1's running pod is deleted without counting
    # as failed: failed stays 1, 4 pods in all.
    m = write(tmp_path, "job.yaml", job(completions=3, parallelism=3, completionMode="Indexed",
                                        successPolicy={"rules": [{"succeededIndexes": "0,2"}]}))
    s = sim(tmp_path, m, workload={"duration": TEN_S}, duration=1000)
    s.env.run(until=1)
    s.api.delete_pod(1, 0.0, "Deleted")
    r = s.run()
    assert r.pods["created"].tolist() == [0.0, 0.0, 0.0, 11.0]
    row = r.frames["jobs"].iloc[0]
    assert (row["status"], row["reason"], row["finished"], row["failed"], row["succeeded"]) == (
        "Complete", "SuccessPolicy", 12.0, 1, 2)
    assert r.pods["finished"].iloc[3] == 12.0 and r.pods["phase"].iloc[3] == "Failed"


def test_exit_codes_from_the_object_annotations_follow_their_weights(tmp_path):
    # The Job's own annotations: every run crashes 1 s after Running with exit code 3
    # (weight 1) or 7 (weight 3). 200 pods start at 0 (Running 2) and fail at 3; the
    # back-off would start the next ones at 13, after activeDeadlineSeconds 10: exactly 200
    # failures. The number of 7s is Binomial(200, 0.75): mean 150, sd sqrt(200 * 0.75 *
    # 0.25) = 6.12; 4 sd = 24.5.
    ann = {"k8sim.io/crash": "{probability: 1.0, after: 1}", "k8sim.io/exit-code": "{3: 1, 7: 3}"}
    m = write(tmp_path, "job.yaml", job(completions=200, parallelism=200, backoffLimit=100000,
                                        activeDeadlineSeconds=10, annotations=ann,
                                        podFailurePolicy={"rules": [
                                            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}}]}))
    r = sim(tmp_path, m, workload={"duration": {"kind": "constant", "value": 100}}, nodes=4, cpu="64",
            duration=100).run()
    pf = r.frames["job_pod_failures"]
    first = pf[pf["reason"] == "Failed"]
    assert len(first) == 200 and set(first["exit_code"]) == {3, 7}
    assert abs(int((first["exit_code"] == 7).sum()) - 150) < 24.5
    assert (first["action"] == "Count").all()
    assert r.frames["jobs"]["reason"].tolist() == ["DeadlineExceeded"]


@pytest.mark.parametrize("spec, restart, where, what", [
    ({"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]}},
     "OnFailure", "spec.template.spec.restartPolicy", "must be Never when podFailurePolicy is set"),
    ({"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [0, 1]}}]}},
     "Never", "spec.podFailurePolicy.rules[0].onExitCodes.values", "must not contain 0"),
    ({"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [3, 1]}}]}},
     "Never", "spec.podFailurePolicy.rules[0].onExitCodes.values", "must be ordered"),
    ({"podFailurePolicy": {"rules": [{"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [1]}}]}},
     "Never", "spec.podFailurePolicy.rules[0].action", "FailIndex requires backoffLimitPerIndex"),
    ({"podFailurePolicy": {"rules": [{"action": "Ignore"}]}}, "Never", "spec.podFailurePolicy.rules[0]",
     "exactly one of onExitCodes and onPodConditions"),
    ({"podFailurePolicy": {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1],
                                                                          "containerName": "nope"}}]}},
     "Never", "spec.podFailurePolicy.rules[0].onExitCodes.containerName", "no container 'nope'"),
    ({"backoffLimitPerIndex": 1}, "Never", "spec.backoffLimitPerIndex", "requires completionMode Indexed"),
    ({"completions": 2, "completionMode": "Indexed", "backoffLimitPerIndex": 1, "maxFailedIndexes": 3}, "Never",
     "spec.maxFailedIndexes", "less than or equal to completions (2)"),
    ({"successPolicy": {"rules": [{"succeededCount": 1}]}}, "Never", "spec.successPolicy",
     "requires completionMode Indexed"),
    ({"completions": 3, "completionMode": "Indexed", "successPolicy": {"rules": [{"succeededIndexes": "2-1"}]}},
     "Never", "spec.successPolicy.rules[0].succeededIndexes", "increasing, disjoint indexes"),
    ({"podReplacementPolicy": "TerminatingOrFailed",
      "podFailurePolicy": {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}},
     "Never", "spec.podReplacementPolicy", "must be Failed when podFailurePolicy is set"),
])
def test_bad_policies_name_the_file_document_and_field(tmp_path, spec, restart, where, what):
    m = write(tmp_path, "job.yaml", job(restart=restart, **spec))
    with pytest.raises(ScenarioError) as e:
        sim(tmp_path, m, duration=100)
    text = str(e.value)
    assert f"job.yaml: document[0].{where}" in text and what in text, text


def test_unknown_condition_type_is_a_warning(tmp_path):
    m = write(tmp_path, "job.yaml", job(podFailurePolicy={"rules": [
        {"action": "Ignore", "onPodConditions": [{"type": "ConfigIssue"}]}]}))
    s = sim(tmp_path, m, workload={"duration": TEN_S}, duration=100)
    assert any("'ConfigIssue' never matches" in w for w in s.warnings)
    assert not math.isnan(s.run().frames["jobs"]["finished"].iloc[0])
