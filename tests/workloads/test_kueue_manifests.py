"""Kueue objects, queued Jobs and PodGroups in manifest files.

Upstream sources: ``kubernetes-sigs/kueue`` ``apis/kueue/v1beta1/clusterqueue_types.go``
(ClusterQueueSpec; ``namespaceSelector`` nil selects nothing; ``borrowingLimit must be
nil when cohort is empty``), ``resourceflavor_types.go``, ``localqueue_types.go``,
``workloadpriorityclass_types.go``, ``pkg/controller/constants/constants.go``
(``QueueLabel``, ``WorkloadPriorityClassLabel``), ``pkg/controller/jobframework/
defaults.go`` (``ApplyDefaultForSuspend``: a queued Job is created suspended),
``pkg/controller/jobs/job/job_controller.go`` (``podsCount``: min(parallelism,
completions)); ``kubernetes-sigs/scheduler-plugins`` ``apis/scheduling/v1alpha1/types.go``
(``PodGroupLabel = scheduling.x-k8s.io/pod-group``; PodGroupSpec).

The equivalence tests compare every table of a scenario whose queues or PodGroups are
given in its ``kueue`` / ``podGroups`` section with the same scenario whose objects come
from a manifest: they must be identical (the manifest entry is the last workload, so
the generated workloads keep their indices and random streams).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from k8sim import Simulation, load_scenario, run, validate_scenario
from k8sim.cli import app
from k8sim.config.kueue import QUEUE_NAME_LABEL, WORKLOAD_PRIORITY_CLASS_LABEL
from k8sim.config.loader import ScenarioError
from k8sim.constants import POD_GROUP_LABEL

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
GPU = "nvidia.com/gpu"


def test_label_keys_are_upstreams() -> None:
    # kueue pkg/controller/constants/constants.go; scheduler-plugins
    # apis/scheduling/v1alpha1/types.go: scheduling.GroupName + "/pod-group".
    assert QUEUE_NAME_LABEL == "kueue.x-k8s.io/queue-name"
    assert WORKLOAD_PRIORITY_CLASS_LABEL == "kueue.x-k8s.io/priority-class"
    assert POD_GROUP_LABEL == "scheduling.x-k8s.io/pod-group"


def write_docs(path: Path, docs: list[dict]) -> str:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path.name


def assert_same_tables(a, b) -> None:
    """Every frame both runs have, and the pod, node, event and timeseries tables (the
    pods on the columns both have: manifest runs add their owner columns)."""
    common = sorted(set(a.frames) & set(b.frames))
    assert {"queue_workloads", "queue_usage"} <= set(common) or "pod_groups" in common
    for k in common:
        pd.testing.assert_frame_equal(a.frames[k], b.frames[k], obj=k)
    cols = [c for c in a.pods.columns if c in b.pods.columns]
    assert len(cols) == len(a.pods.columns)
    pd.testing.assert_frame_equal(a.pods[cols], b.pods[cols], obj="pods")
    for k in ("nodes", "events", "timeseries"):
        pd.testing.assert_frame_equal(getattr(a, k), getattr(b, k), obj=k)


# ---------------------------------------------------------------------- the section as objects


def section_to_objects(kueue: dict) -> list[dict]:
    """The Kueue objects a ``kueue`` section stands for, written by hand as one would
    apply them (cohorts are implicit, as in Kueue)."""
    out: list[dict] = []
    for f in kueue.get("resourceFlavors", []):
        spec = {k: v for k, v in f.items() if k != "name"}
        out.append({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ResourceFlavor",
                    "metadata": {"name": f["name"]}, **({"spec": spec} if spec else {})})
    for q in kueue["clusterQueues"]:
        spec = {"namespaceSelector": {}, **{k: v for k, v in q.items() if k != "name"}}
        out.append({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ClusterQueue",
                    "metadata": {"name": q["name"]}, "spec": spec})
    for lq in kueue["localQueues"]:
        out.append({"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue",
                    "metadata": {"name": lq["name"], "namespace": lq.get("namespace", "default")},
                    "spec": {"clusterQueue": lq["clusterQueue"]}})
    return out


def small_two_teams() -> dict:
    """The two-teams-borrowing set-up at a small size: 2 nodes of 8 GPUs; team-a (8 GPUs,
    may borrow 8) submits 4-worker jobs, team-b (8 GPUs, reclaims) bursts of 8-worker
    jobs; Coscheduling places each admitted gang."""
    quota = {"coveredResources": ["cpu", "memory", GPU],
             "flavors": [{"name": "a100", "resources": [{"name": "cpu", "nominalQuota": 96},
                                                        {"name": "memory", "nominalQuota": "1Ti"},
                                                        {"name": GPU, "nominalQuota": 8, "borrowingLimit": 8}]}]}
    gang = {"training": {"duration": {"kind": "lognormal", "mu": 6.0, "sigma": 0.5}}}
    return {
        "name": "small-teams", "seed": 3, "duration_s": 7200,
        "cluster": {"node_pools": [{"name": "g", "count": 2, "allocatable": {"cpu": "96", "memory": "1Ti"},
                                    "gpus": {"count": 8, "model": "A100"}, "labels": {"gpu": "a100"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 5}},
        "kueue": {
            "resourceFlavors": [{"name": "a100", "nodeLabels": {"gpu": "a100"}}],
            "cohorts": [{"name": "research"}],
            "clusterQueues": [
                {"name": name, "cohort": "research", "resourceGroups": [quota],
                 "preemption": {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerPriority"}}
                for name in ("team-a", "team-b")],
            "localQueues": [{"name": "team-a", "namespace": "team-a", "clusterQueue": "team-a"},
                            {"name": "team-b", "namespace": "team-b", "clusterQueue": "team-b"}],
        },
        "workloads": [
            {"name": "team-a/train", "queue": "team-a", "arrival": {"kind": "poisson", "rate_per_s": 0.003,
                                                                     "stop_s": 5000},
             "gang": {"workers": 4, **gang},
             "template": {"namespace": "team-a", "requests": {"cpu": "8", "memory": "64Gi"}, "gpu": {"count": 1}}},
            {"name": "team-b/burst", "queue": "team-b", "arrival": {"kind": "times", "times_s": [1800, 1800, 3600]},
             "gang": {"workers": 8, **gang},
             "template": {"namespace": "team-b", "requests": {"cpu": "8", "memory": "64Gi"}, "gpu": {"count": 1}}},
        ],
        "scheduler": {"profiles": [{"plugins": [{"name": "Coscheduling"}]}]},
    }


def as_manifest_scenario(sc: dict, tmp_path: Path) -> dict:
    out = copy.deepcopy(sc)
    kueue = out.pop("kueue")
    name = write_docs(tmp_path / "queues.yaml", section_to_objects(kueue))
    out["workloads"].append({"manifest": name})
    return out


def load(sc: dict, tmp_path: Path, name: str = "s.yaml"):
    f = tmp_path / name
    f.write_text(yaml.safe_dump(sc, sort_keys=False))
    return load_scenario(f)


def test_queues_from_objects_run_as_the_kueue_section(tmp_path: Path) -> None:
    sc = small_two_teams()
    section = run(load(sc, tmp_path, "a.yaml"))
    objects = run(load(as_manifest_scenario(sc, tmp_path), tmp_path, "b.yaml"))
    # The run is not trivial: team-b's bursts reclaim borrowed GPUs.
    wf = section.frames["queue_workloads"]
    assert wf["borrowed"].any() and wf["evictions"].sum() > 0
    assert_same_tables(section, objects)


def test_objects_build_the_sections_configuration(tmp_path: Path) -> None:
    sc = small_two_teams()
    section = load(sc, tmp_path, "a.yaml")
    objects = Simulation(load(as_manifest_scenario(sc, tmp_path), tmp_path, "b.yaml")).scenario
    assert objects.kueue == section.kueue


@pytest.mark.slow
def test_shipped_manifest_scenario_equals_two_teams_borrowing() -> None:
    section = run(load_scenario(SCENARIOS / "two-teams-borrowing.yaml"))
    objects = run(load_scenario(SCENARIOS / "two-teams-borrowing-manifests.yaml"))
    assert_same_tables(section, objects)


# ---------------------------------------------------------------------- PodGroups


def gang_scenario() -> dict:
    """gang-deadlock with its two jobs as PodGroups listed in ``podGroups`` and pods
    labelled for them: 4 one-GPU pods per group on 3 nodes of 2 GPUs."""
    pod = {"requests": {"cpu": "2", "memory": "8Gi"}, "gpu": {"count": 1}}
    return {
        "name": "gangs", "seed": 1, "duration_s": 3600,
        "cluster": {"node_pools": [{"name": "gpu", "count": 3, "allocatable": {"cpu": "16", "memory": "64Gi"},
                                    "gpus": {"count": 2, "model": "A100"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 1}},
        "podGroups": [{"name": "job-0", "minMember": 4, "scheduleTimeoutSeconds": 60},
                      {"name": "job-1", "minMember": 4, "scheduleTimeoutSeconds": 60}],
        "workloads": [
            {"name": f"job-{j}", "max_pods": 4,
             "arrival": {"kind": "interval", "every_s": 1.0, "start_s": 0.5 * j},
             "duration": {"kind": "constant", "value": 600},
             "template": {**pod, "labels": {POD_GROUP_LABEL: f"job-{j}"}}}
            for j in (0, 1)],
        "scheduler": {"profiles": [{"plugins": [{"name": "Coscheduling"}]}]},
    }


def test_podgroups_from_objects_run_as_the_section(tmp_path: Path) -> None:
    sc = gang_scenario()
    section = run(load(sc, tmp_path, "a.yaml"))
    m = copy.deepcopy(sc)
    groups = m.pop("podGroups")
    name = write_docs(tmp_path / "groups.yaml", [
        {"apiVersion": "scheduling.x-k8s.io/v1alpha1", "kind": "PodGroup", "metadata": {"name": g["name"]},
         "spec": {"minMember": g["minMember"], "scheduleTimeoutSeconds": g["scheduleTimeoutSeconds"]}}
        for g in groups])
    m["workloads"].append({"manifest": name})
    objects = run(load(m, tmp_path, "b.yaml"))
    # Gangs placed whole: job-0's 4 pods bound, job-1's wait (6 GPUs: one gang at a time).
    pg = section.frames["pod_groups"]
    assert list(pg["group"]) == ["default/job-0", "default/job-1"] and pg["all_bound"].notna().all()
    assert_same_tables(section, objects)


def job(name: str, parallelism: int, cpu: str = "2", labels: dict | None = None, pod_labels: dict | None = None,
        namespace: str = "default", duration: int = 100, **spec: object) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {},
                         "annotations": {"k8sim.io/duration": str(duration)}},
            "spec": {"parallelism": parallelism, "completions": parallelism, **spec,
                     "template": {"metadata": {"labels": pod_labels or {}},
                                  "spec": {"restartPolicy": "Never", "containers": [
                                      {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": cpu}}}]}}}}


def pod_group(name: str, min_member: int, **spec: object) -> dict:
    return {"apiVersion": "scheduling.x-k8s.io/v1alpha1", "kind": "PodGroup", "metadata": {"name": name},
            "spec": {"minMember": min_member, **spec}}


def manifest_run(tmp_path: Path, docs: list[dict], cpu: str = "8", count: int = 1, **extra: object) -> dict:
    name = write_docs(tmp_path / "m.yaml", docs)
    sc = {"name": "m", "duration_s": 1000,
          "cluster": {"node_pools": [{"name": "n", "count": count, "allocatable": {"cpu": cpu, "memory": "32Gi"},
                                      "labels": {"pool": "n"}}]},
          "defaults": {"start_latency": {"kind": "constant", "value": 5}},
          "workloads": [{"manifest": name}], **extra}
    return sc


def test_a_job_joins_a_manifest_podgroup_by_its_template_label(tmp_path: Path) -> None:
    """A Job of 4 pods of 2 CPUs labelled for PodGroup g (minMember 4) on a 6-CPU node:
    the Job controller creates the 4 pods at once (latency 0); 3 are placed and wait at
    Permit, the 4th fits nowhere, and its PostFilter rejects the waiting 3 (1 of 4
    missing is more than podGroupRejectPercentage 10 %): no member is ever bound.
    Without the label the 3 that fit run."""
    docs = [pod_group("g", 4, scheduleTimeoutSeconds=30), job("train", 4, pod_labels={POD_GROUP_LABEL: "g"})]
    sc = manifest_run(tmp_path, docs, cpu="6", scheduler={"profiles": [{"plugins": [{"name": "Coscheduling"}]}]})
    sc["duration_s"] = 100
    res = run(load(sc, tmp_path))
    pg = res.frames["pod_groups"]
    assert list(pg["group"]) == ["default/g"] and int(pg["members"].iloc[0]) == 4
    assert int(pg["rejections"].iloc[0]) >= 1 and pd.isna(pg["all_bound"].iloc[0])
    assert res.pods["scheduled"].isna().all()  # no member was ever bound
    sc["workloads"][0]["manifest"] = write_docs(tmp_path / "plain.yaml", [job("train", 4)])
    plain = run(load(sc, tmp_path, "plain-s.yaml"))
    assert int(plain.pods["scheduled"].notna().sum()) == 3


# ---------------------------------------------------------------------- queued Jobs


def queue_docs(cpu_quota: int = 4, flavor_labels: dict | None = None) -> list[dict]:
    return [
        {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ResourceFlavor", "metadata": {"name": "f"},
         **({"spec": {"nodeLabels": flavor_labels}} if flavor_labels else {})},
        {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ClusterQueue", "metadata": {"name": "cq"},
         "spec": {"namespaceSelector": {}, "resourceGroups": [
             {"coveredResources": ["cpu"], "flavors": [{"name": "f", "resources": [
                 {"name": "cpu", "nominalQuota": cpu_quota}]}]}]}},
        {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue", "metadata": {"name": "lq"},
         "spec": {"clusterQueue": "cq"}},
    ]


QUEUED = {QUEUE_NAME_LABEL: "lq"}


def test_queued_jobs_are_admitted_whole_within_the_quota(tmp_path: Path) -> None:
    """Quota 4 CPUs; Jobs a and b of 2 pods x 2 CPUs (100 s) on an 8-CPU node. Unqueued
    both would run at once. Queued: a is admitted at 0 (4 CPUs), its pods start at 5 and
    end at 105, the Job completes at 105 (controller latency 0) and releases the quota;
    b is admitted at 105 and completes at 105 + 5 + 100 = 210. b's own spec.suspend is
    false: Kueue creates a queued Job suspended anyway."""
    docs = [*queue_docs(), job("a", 2, labels=QUEUED), job("b", 2, labels=QUEUED, suspend=False)]
    res = run(load(manifest_run(tmp_path, docs), tmp_path))
    wf = res.frames["queue_workloads"].set_index("workload")
    assert list(wf.index) == ["a", "b"]
    assert wf.loc["a", "admitted"] == 0.0 and wf.loc["a", "finished"] == 105.0
    assert wf.loc["b", "admitted"] == 105.0 and wf.loc["b", "finished"] == 210.0
    assert (wf["pods"] == 2).all() and (wf["cpu"] == 4.0).all()
    jobs = res.frames["jobs"].set_index("job")
    assert jobs.loc["b", "completion_time_s"] == 210.0
    # Without the label the same Jobs run side by side: both complete at 105.
    plain = run(load(manifest_run(tmp_path, [job("a", 2), job("b", 2)]), tmp_path, "p.yaml"))
    assert list(plain.frames["jobs"]["completion_time_s"]) == [105.0, 105.0]


def test_a_workload_priority_class_orders_the_queue_and_flavors_steer_pods(tmp_path: Path) -> None:
    """a (no class: its pods' priority 0), b (low, value 1) and c (high, value 1000),
    each 4 CPUs, arrive at 0 in a 4-CPU queue; the cycle after that instant admits the
    highest first (Kueue's ``baseCompareFunc``): c at 0, then b at c's end (105), a at
    210. The flavor's nodeLabels pool: x put every queued pod on the pool-x node."""
    wpc = [{"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "WorkloadPriorityClass", "metadata": {"name": n},
            "value": v} for n, v in (("low", 1), ("high", 1000))]
    docs = [*queue_docs(flavor_labels={"pool": "x"}), *wpc, job("a", 2, labels=QUEUED),
            job("b", 2, labels={**QUEUED, WORKLOAD_PRIORITY_CLASS_LABEL: "low"}),
            job("c", 2, labels={**QUEUED, WORKLOAD_PRIORITY_CLASS_LABEL: "high"})]
    sc = manifest_run(tmp_path, docs)
    sc["cluster"]["node_pools"] = [{"name": p, "count": 1, "allocatable": {"cpu": "8", "memory": "32Gi"},
                                    "labels": {"pool": p}} for p in ("y", "x")]
    res = run(load(sc, tmp_path))
    wf = res.frames["queue_workloads"].set_index("workload")
    assert list(wf.loc[["a", "b", "c"], "priority"]) == [0, 1, 1000]
    assert wf.loc["c", "admitted"] == 0.0 and wf.loc["b", "admitted"] == 105.0
    assert wf.loc["a", "admitted"] == 210.0
    assert set(res.pods["node"].astype(str)) == {"x-0"}  # 6 pods, all on the flavor's pool


def test_an_evicted_queued_job_is_suspended_and_resumes(tmp_path: Path) -> None:
    """Two ClusterQueues in cohort c, 4 CPUs each; team-a may borrow 4. a (4 pods x 2
    CPUs, 300 s, queue qa) is admitted at 0 borrowing 4 (8 CPUs). b (2 pods x 2 CPUs,
    queue qb, reclaimWithinCohort Any) arrives at 50 (a later manifest): reclaiming
    needs a's quota, so a is evicted (suspended: its 4 pods deleted, reason
    JobSuspended, with the default 30 s grace period) and b admitted at 50 (k8sim
    releases a victim's quota at once); b's pods find the 8-CPU node full until a's
    stop at 80, run from 85 and end at 185, when b completes; a, re-admitted then
    (borrowing again), runs anew: 185 + 5 + 300 = 490."""
    def cq(name: str, **extra: object) -> dict:
        return {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ClusterQueue", "metadata": {"name": name},
                "spec": {"namespaceSelector": {}, "cohort": "c", **extra, "resourceGroups": [
                    {"coveredResources": ["cpu"], "flavors": [{"name": "f", "resources": [
                        {"name": "cpu", "nominalQuota": 4, "borrowingLimit": 4}]}]}]}}
    docs = [{"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ResourceFlavor", "metadata": {"name": "f"}},
            cq("team-a"), cq("team-b", preemption={"reclaimWithinCohort": "Any"}),
            *[{"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue", "metadata": {"name": q},
               "spec": {"clusterQueue": c}} for q, c in (("qa", "team-a"), ("qb", "team-b"))],
            job("a", 4, labels={QUEUE_NAME_LABEL: "qa"}, duration=300)]
    sc = manifest_run(tmp_path, docs)
    sc["workloads"][0]["apply"] = [{"at_s": 50, "manifest": write_docs(
        tmp_path / "later.yaml", [job("b", 2, labels={QUEUE_NAME_LABEL: "qb"})])}]
    res = run(load(sc, tmp_path))
    wf = res.frames["queue_workloads"].set_index("workload")
    assert wf.loc["a", "evictions"] == 1 and bool(wf.loc["a", "borrowed"]) is True
    assert wf.loc["b", "admitted"] == 50.0 and wf.loc["b", "finished"] == 185.0
    assert wf.loc["a", "admitted"] == 0.0 and wf.loc["a", "finished"] == 490.0
    jobs = res.frames["jobs"].set_index("job")
    assert jobs.loc["a", "status"] == "Complete" and jobs.loc["a", "completion_time_s"] == 490.0
    a_pods = res.pods[res.pods["pod"].astype(str).str.startswith("a-")]
    assert len(a_pods) == 8  # 4 deleted when it was suspended, 4 of the resumed run
    ev = res.events
    killed = ev[(ev["kind"] == "Killing") & (ev["detail"] == "JobSuspended")]
    assert list(killed["time"]) == [50.0] * 4 and set(killed["pod"].astype(str)) < set(a_pods["pod"].astype(str))
    assert int((ev["kind"] == "EvictedDueToPreempted").sum()) == 1


# ---------------------------------------------------------------------- bad input


def cli_error(tmp_path: Path, docs: list[dict], **extra: object) -> str:
    sc = manifest_run(tmp_path, docs, **extra)
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(sc, sort_keys=False))
    out = CliRunner().invoke(app, ["run", str(f), "--out", str(tmp_path / "o")])
    assert out.exit_code == 2, out.output
    text = " ".join((out.stderr or out.output).split())
    assert "Traceback" not in text
    return text


def with_cq(docs: list[dict], **spec: object) -> list[dict]:
    docs = copy.deepcopy(docs)
    docs[1]["spec"].update(spec)
    return docs


def _quota_entry(docs: list[dict]) -> dict:
    return docs[1]["spec"]["resourceGroups"][0]["flavors"][0]["resources"][0]


BAD: list[tuple[str, object, list[str]]] = [
    ("podgroup-min-member", lambda: [pod_group("g", 4), job("train", 3, pod_labels={POD_GROUP_LABEL: "g"})],
     ["m.yaml: document[0].spec.minMember", "PodGroup default/g", "4 exceeds the 3 pod(s)", "Job train: 3"]),
    ("localqueue-missing-cq", lambda: [*queue_docs()[:2], {**queue_docs()[2], "spec": {"clusterQueue": "nope"}}],
     ["m.yaml: document[2].spec.clusterQueue", "LocalQueue default/lq", "ClusterQueue 'nope' is not among"]),
    ("cq-missing-flavor", lambda: queue_docs()[1:],
     ["m.yaml: document[0].spec.resourceGroups[0].flavors[0].name", "ClusterQueue cq",
      "ResourceFlavor 'f' is not among"]),
    ("negative-quota", lambda: (lambda d: (_quota_entry(d).update(nominalQuota="-4"), d)[1])(queue_docs()),
     ["m.yaml: document[1].spec.resourceGroups[0].flavors[0].resources[0].nominalQuota", "ClusterQueue cq",
      "must be >= 0"]),
    ("borrowing-without-cohort", lambda: (lambda d: (_quota_entry(d).update(borrowingLimit=2), d)[1])(queue_docs()),
     ["document[1].spec.resourceGroups[0].flavors[0].resources[0].borrowingLimit", "ClusterQueue cq",
      "must be nil when cohort is empty"]),
    ("unknown-spec-field", lambda: with_cq(queue_docs(), cohorts="research"),
     ["document[1].spec.cohorts", "ClusterQueue cq", "unknown field"]),
    ("admission-checks", lambda: with_cq(queue_docs(), admissionChecks=["prov"]),
     ["document[1].spec.admissionChecks", "admission checks is not modelled"]),
    ("borrow-within-cohort", lambda: with_cq(queue_docs(), cohort="c", preemption={
        "reclaimWithinCohort": "Any", "borrowWithinCohort": {"policy": "LowerPriority"}}),
     ["document[1].spec.preemption.borrowWithinCohort.policy", "is not modelled"]),
    ("no-namespace-selector", lambda: (lambda d: (d[1]["spec"].pop("namespaceSelector"), d)[1])(queue_docs()),
     ["document[1].spec.namespaceSelector", "ClusterQueue cq", "selecting no namespace",
      "LocalQueue default/lq"]),
    ("selector-misses-namespace", lambda: with_cq(queue_docs(), namespaceSelector={"matchLabels": {"team": "a"}}),
     ["document[1].spec.namespaceSelector", "does not select namespace 'default'"]),
    ("job-missing-localqueue", lambda: [*queue_docs(), job("a", 1, labels={QUEUE_NAME_LABEL: "other"})],
     ["document[3].metadata.labels.kueue.x-k8s.io/queue-name", "Job default/a", "LocalQueue 'other' not found"]),
    ("job-without-queues", lambda: [job("a", 1, labels={QUEUE_NAME_LABEL: "lq"})],
     ["document[0].metadata.labels.kueue.x-k8s.io/queue-name", "no queues"]),
    ("job-missing-priority-class", lambda: [*queue_docs(), job(
        "a", 1, labels={**QUEUED, WORKLOAD_PRIORITY_CLASS_LABEL: "urgent"})],
     ["document[3].metadata.labels.kueue.x-k8s.io/priority-class", "no WorkloadPriorityClass named 'urgent'"]),
    ("pod-names-missing-group", lambda: [job("a", 1, pod_labels={POD_GROUP_LABEL: "ghost"})],
     ["document[0].spec.template.metadata.labels.scheduling.x-k8s.io/pod-group", "names no PodGroup 'ghost'"]),
    ("duplicate-cq", lambda: [*queue_docs(), queue_docs()[1]],
     ["document[3].metadata.name", "ClusterQueue cq is defined twice"]),
    ("queued-cronjob", lambda: [*queue_docs(), {
        "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "cj"},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"metadata": {"labels": QUEUED}, "spec": job("x", 1)["spec"]}}}],
     ["document[3].spec.jobTemplate.metadata.labels.kueue.x-k8s.io/queue-name", "queued CronJobs"]),
]


@pytest.mark.parametrize(("case", "docs", "wanted"), BAD, ids=[c for c, _, _ in BAD])
def test_bad_manifest_objects_are_refused_with_their_field(tmp_path: Path, case: str, docs, wanted: list[str]) -> None:
    text = cli_error(tmp_path, docs())
    for w in wanted:
        assert w in text, (w, text)


def test_kueue_objects_in_a_later_manifest_are_refused(tmp_path: Path) -> None:
    sc = manifest_run(tmp_path, [job("a", 1)])
    sc["workloads"][0]["apply"] = [{"at_s": 10, "manifest": write_docs(tmp_path / "later.yaml", queue_docs())}]
    with pytest.raises(ScenarioError) as e:
        Simulation(load(sc, tmp_path))
    assert "workloads[0].apply" in str(e.value) and "ResourceFlavor f: Kueue objects exist from time 0" in str(e.value)


def test_a_generated_workload_may_name_a_manifests_local_queue(tmp_path: Path) -> None:
    """Validation waits for the manifests; a LocalQueue named by no one is still an error."""
    sc = manifest_run(tmp_path, queue_docs())
    sc["workloads"].insert(0, {"name": "w", "queue": "lq", "arrival": {"kind": "times", "times_s": [0]},
                               "duration": {"kind": "constant", "value": 10}, "template": {"requests": {"cpu": "1"}}})
    res = run(load(sc, tmp_path))
    assert list(res.frames["queue_workloads"]["workload"]) == ["w-0"]
    sc["workloads"][0]["queue"] = "missing"
    with pytest.raises(ScenarioError) as e:
        Simulation(load(sc, tmp_path, "bad.yaml"))
    assert "workloads[0].queue" in str(e.value) and "LocalQueue 'missing' not found" in str(e.value)


def test_a_kueue_section_without_queues_needs_manifest_objects() -> None:
    sc = small_two_teams()
    sc["kueue"] = {"policy": "drf"}
    for w in sc["workloads"]:
        del w["queue"]
    with pytest.raises(ScenarioError) as e:
        validate_scenario(sc)
    assert "kueue.clusterQueues" in str(e.value) and "at least one is needed" in str(e.value)


def test_supported_but_ignored_fields_warn_once(tmp_path: Path) -> None:
    """Two flavors with nodeTaints: one grouped warning; a cohort of one ClusterQueue:
    a warning naming it."""
    docs = queue_docs()
    docs[0]["spec"] = {"nodeTaints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}
    docs.insert(1, {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ResourceFlavor", "metadata": {"name": "g"},
                    "spec": {"nodeTaints": [{"key": "k", "effect": "NoSchedule"}]}})
    docs[2]["spec"]["cohort"] = "lonely"
    sim = Simulation(load(manifest_run(tmp_path, docs), tmp_path))
    taints = [w for w in sim.warnings if "nodeTaints" in w]
    assert len(taints) == 1 and "2 ResourceFlavor spec.nodeTaints" in taints[0]
    assert any("cohort 'lonely' has no other ClusterQueue" in w for w in sim.warnings)


def test_each_field_converts_to_its_section_entry(tmp_path: Path) -> None:
    """Quantities through k8sim's parser (weight 500m = 0.5, 4Ti, 1500m CPUs), the cohort
    made from its name, tolerations and taints of a flavor, a LocalQueue's weight, a
    PodGroup's minResources and its absent minMember (1)."""
    docs = [
        {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ResourceFlavor", "metadata": {"name": "spot"},
         "spec": {"nodeLabels": {"lifecycle": "spot"},
                  "nodeTaints": [{"key": "spot", "value": "true", "effect": "NoSchedule", "timeAdded": None}],
                  "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}]}},
        {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "ClusterQueue", "metadata": {"name": "cq"},
         "spec": {"namespaceSelector": {}, "cohort": "pool", "queueingStrategy": "StrictFIFO",
                  "fairSharing": {"weight": "500m"}, "stopPolicy": "None",
                  "flavorFungibility": {"whenCanBorrow": "MayStopSearch", "whenCanPreempt": "TryNextFlavor"},
                  "preemption": {"withinClusterQueue": "LowerOrNewerEqualPriority", "reclaimWithinCohort": "Never",
                                 "borrowWithinCohort": {"policy": "Never"}},
                  "resourceGroups": [{"coveredResources": ["cpu", "memory"], "flavors": [{"name": "spot", "resources": [
                      {"name": "cpu", "nominalQuota": "1500m", "lendingLimit": "500m"},
                      {"name": "memory", "nominalQuota": "4Ti", "borrowingLimit": "1Ti"}]}]}]}},
        {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "LocalQueue", "metadata": {"name": "lq", "namespace": "ml"},
         "spec": {"clusterQueue": "cq", "fairSharing": {"weight": 2}}},
        {"apiVersion": "kueue.x-k8s.io/v1beta1", "kind": "WorkloadPriorityClass", "metadata": {"name": "p"},
         "value": 7, "description": "seven"},
        {"apiVersion": "scheduling.x-k8s.io/v1alpha1", "kind": "PodGroup", "metadata": {"name": "g", "namespace": "ml"},
         "spec": {"minResources": {"cpu": "4", "memory": "8Gi"}}},
    ]
    sim = Simulation(load(manifest_run(tmp_path, docs), tmp_path))
    section = validate_scenario({
        "name": "x", "cluster": {"node_pools": [{"name": "n", "count": 1, "allocatable": {"cpu": "1", "memory": "1Gi"}}]},
        "podGroups": [{"name": "g", "namespace": "ml", "minMember": 1, "minResources": {"cpu": 4, "memory": "8Gi"}}],
        "kueue": {
            "resourceFlavors": [{"name": "spot", "nodeLabels": {"lifecycle": "spot"},
                                 "nodeTaints": [{"key": "spot", "value": "true", "effect": "NoSchedule"}],
                                 "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}]}],
            "cohorts": [{"name": "pool"}],
            "clusterQueues": [{"name": "cq", "cohort": "pool", "queueingStrategy": "StrictFIFO",
                               "fairSharing": {"weight": 0.5},
                               "preemption": {"withinClusterQueue": "LowerOrNewerEqualPriority"},
                               "resourceGroups": [{"coveredResources": ["cpu", "memory"], "flavors": [
                                   {"name": "spot", "resources": [
                                       {"name": "cpu", "nominalQuota": 1.5, "lendingLimit": 0.5},
                                       {"name": "memory", "nominalQuota": 4 * 2**40, "borrowingLimit": 2**40}]}]}]}],
            "localQueues": [{"name": "lq", "namespace": "ml", "clusterQueue": "cq", "fairSharing": {"weight": 2}}],
            "workloadPriorityClasses": [{"name": "p", "value": 7, "description": "seven"}],
        }})
    assert sim.scenario.kueue == section.kueue
    assert sim.scenario.pod_groups == section.pod_groups


def test_a_queued_jobs_gpu_limits_count_against_the_gpu_quota(tmp_path: Path) -> None:
    """Pods with ``limits: {nvidia.com/gpu: 1}`` (requests default to limits): a Job of 2
    such pods is a workload of 2 GPUs; a quota of 2 GPUs admits one Job at a time on a
    node with 4: a at 0 (ends 105), b at 105 (ends 210)."""
    def gpu_job(name: str) -> dict:
        j = job(name, 2, cpu="1", labels=QUEUED)
        j["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "1"},
                                                                       "limits": {GPU: 1}}
        return j
    docs = queue_docs()
    docs[1]["spec"]["resourceGroups"][0] = {"coveredResources": ["cpu", GPU], "flavors": [
        {"name": "f", "resources": [{"name": "cpu", "nominalQuota": 8}, {"name": GPU, "nominalQuota": 2}]}]}
    sc = manifest_run(tmp_path, [*docs, gpu_job("a"), gpu_job("b")])
    sc["cluster"]["node_pools"][0]["allocatable"][GPU] = 4
    res = run(load(sc, tmp_path))
    wf = res.frames["queue_workloads"].set_index("workload")
    assert list(wf["gpu"]) == [2.0, 2.0]
    assert list(wf["admitted"]) == [0.0, 105.0] and list(wf["finished"]) == [105.0, 210.0]
