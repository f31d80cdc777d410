"""Queues and quotas as Kueue models them, and the batch policies beside them.

Every expected number is derived by hand in the comments, from Kueue's documented
semantics (``pkg/cache/scheduler/resource_node.go`` ``available``,
``pkg/scheduler/preemption/preemption.go`` ``classicalPreemptions``,
``pkg/cache/queue/cluster_queue.go`` StrictFIFO / BestEffortFIFO) and the DRF paper
(Ghodsi et al., NSDI '11, section 4.1).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from k8sim import Simulation, validate_scenario
from k8sim.batch.kueue import jain_index
from k8sim.batch.quota import CohortQuota, QueueQuota
from k8sim.cli import app
from k8sim.config.loader import ScenarioError

GPU = "nvidia.com/gpu"


def quota(gpus: int, borrowing_limit: int | None = None) -> dict:
    """A resource group of GPUs (and CPUs enough for every test: a workload requesting a
    resource its queue does not cover is inadmissible, as upstream)."""
    r: dict = {"name": GPU, "nominalQuota": gpus}
    if borrowing_limit is not None:
        r["borrowingLimit"] = borrowing_limit
    return {"coveredResources": ["cpu", GPU],
            "flavors": [{"name": "a100", "resources": [{"name": "cpu", "nominalQuota": 1000}, r]}]}


def two_teams(a_limit: int = 8) -> dict:
    """32 GPUs (4 nodes x 8); team-a and team-b each have 16 in cohort ``research``;
    team-a may borrow ``a_limit``; team-b reclaims (``reclaimWithinCohort: Any``).
    team-a submits four 8-worker jobs (1 GPU per worker, 1000 s) at 0 s, team-b two at
    100 s. Start latency 0, grace period 30 s (the default)."""
    job = {"template": {"requests": {"cpu": "100m"}, "gpu": {"count": 1}},
           "gang": {"workers": 8}, "duration": {"kind": "constant", "value": 1000}}
    return {
        "name": "teams", "duration_s": 3000,
        "cluster": {"node_pools": [{"name": "g", "count": 4, "allocatable": {"cpu": "64", "memory": "256Gi"},
                                    "gpus": {"count": 8, "model": "A100"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 0}},
        "kueue": {
            "resourceFlavors": [{"name": "a100"}],
            "cohorts": [{"name": "research"}],
            "clusterQueues": [
                {"name": "team-a", "cohort": "research", "resourceGroups": [quota(16, borrowing_limit=a_limit)]},
                {"name": "team-b", "cohort": "research", "resourceGroups": [quota(16)],
                 "preemption": {"reclaimWithinCohort": "Any"}},
            ],
            "localQueues": [{"name": "a", "clusterQueue": "team-a"}, {"name": "b", "clusterQueue": "team-b"}],
        },
        "workloads": [
            {"name": "ja", "queue": "a", "arrival": {"kind": "burst", "count": 4, "at_s": 0}, **job},
            {"name": "jb", "queue": "b", "arrival": {"kind": "burst", "count": 2, "at_s": 100}, **job},
        ],
    }


def run(sc: dict):  # noqa: ANN201
    return Simulation(validate_scenario(sc)).run()


def by_name(result) -> dict:  # noqa: ANN001
    f = result.frames["queue_workloads"]
    return {r.workload: r for r in f.itertuples()}


def test_a_queue_borrows_up_to_its_limit_and_is_reclaimed_when_the_lender_needs_it() -> None:
    """t = 0: team-a's usage may reach nominal 16 + borrowingLimit 8 = 24 GPUs (the
    cohort's 32 are all free): ja-0, ja-1 (16, nominal), ja-2 (24, borrowing 8, exactly
    the limit); ja-3 would need 32 > 24 and waits.
    t = 100: jb-0 fits team-b's nominal (the cohort has 32 - 24 = 8 free): admitted.
    jb-1 needs 8 more: nothing is free, so team-b reclaims: the candidates are team-a's
    workloads while team-a borrows, most recently admitted first (all at 0 s, the last
    created first: ja-2). Without ja-2 team-a uses 16 (no longer borrowing) and jb-1
    fits within team-b's nominal: ja-2 is evicted, jb-1 admitted at 100 s. jb-1's pods
    wait for ja-2's pods to stop (30 s grace): bound at 130 s, done at 1130 s.
    t = 1000: ja-0 and ja-1 end; team-a uses 0, ja-2 (requeued at its creation time)
    and ja-3 are admitted (16 = nominal) and end at 2000 s. jb-0 ends at 1100 s."""
    r = run(two_teams())
    w = by_name(r)
    assert [w[f"ja-{i}"].admitted for i in range(4)] == [0.0, 0.0, 0.0, 1000.0]
    assert w["ja-2"].evictions == 1 and w["ja-2"].finished == 2000.0
    assert w["ja-3"].finished == 2000.0
    assert (w["jb-0"].admitted, w["jb-0"].finished) == (100.0, 1100.0)
    assert (w["jb-1"].admitted, w["jb-1"].finished) == (100.0, 1130.0)
    # ``borrowed`` is of the last admission: ja-2's second one (1000 s) is within nominal.
    assert not w["ja-2"].borrowed
    u = r.frames["queue_usage"]
    a = u[(u.cluster_queue == "team-a") & (u.resource == GPU)].set_index("time")
    assert a.loc[0.0, "usage"] == 24.0 and a.loc[0.0, "borrowed"] == 8.0  # exactly the borrowing limit
    assert a.loc[100.0, "usage"] == 16.0 and a.loc[100.0, "borrowed"] == 0.0  # reclaimed
    assert a["borrowed"].max() == 8.0
    s = r.summary().iloc[0]
    assert s["queue_evictions"] == 1


def test_a_borrowing_limit_below_a_job_keeps_the_queue_at_its_nominal_quota() -> None:
    """borrowingLimit 7: ja-2 would borrow 8 > 7, so team-a stops at its nominal 16
    GPUs; ja-2 and ja-3 wait for ja-0/ja-1 (admitted at 1000 s); nothing is reclaimed
    (team-b's jobs fit the 16 GPUs team-a does not use)."""
    r = run(two_teams(a_limit=7))
    w = by_name(r)
    assert [w[f"ja-{i}"].admitted for i in range(4)] == [0.0, 0.0, 1000.0, 1000.0]
    assert (w["jb-0"].admitted, w["jb-1"].admitted) == (100.0, 100.0)
    assert r.summary().iloc[0]["queue_evictions"] == 0
    u = r.frames["queue_usage"]
    assert u.loc[(u.cluster_queue == "team-a") & (u.resource == GPU), "usage"].max() == 16.0


def hol(strategy: str) -> dict:
    """One queue of 8 GPUs (no cohort), one node of 8 GPUs. Jobs of one pod: 6 GPUs at
    0 s, 4 GPUs at 1 s, 2 GPUs at 2 s, each 100 s."""
    def job(name: str, gpus: int, t: float) -> dict:
        return {"name": name, "queue": "q", "arrival": {"kind": "times", "times_s": [t]},
                "duration": {"kind": "constant", "value": 100},
                "template": {"requests": {"cpu": "1"}, "gpu": {"count": gpus}}}
    return {
        "name": "hol", "duration_s": 1000,
        "cluster": {"node_pools": [{"name": "g", "count": 1, "allocatable": {"cpu": "64", "memory": "256Gi"},
                                    "gpus": {"count": 8, "model": "A100"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 0}},
        "kueue": {"resourceFlavors": [{"name": "a100"}],
                  "clusterQueues": [{"name": "cq", "queueingStrategy": strategy, "resourceGroups": [quota(8)]}],
                  "localQueues": [{"name": "q", "clusterQueue": "cq"}]},
        "workloads": [job("big", 6, 0), job("mid", 4, 1), job("small", 2, 2)],
    }


@pytest.mark.parametrize(("strategy", "small_admitted"), [("BestEffortFIFO", 2.0), ("StrictFIFO", 100.0)])
def test_strict_fifo_blocks_behind_its_head_and_best_effort_does_not(strategy: str, small_admitted: float) -> None:
    """big (6) is admitted at 0; mid (4) does not fit (6 + 4 > 8). BestEffortFIFO sets
    mid aside, so small (2; 6 + 2 = 8) is admitted when it arrives at 2 s; StrictFIFO
    keeps mid at the head and small waits behind it. At 100 s big ends: mid is admitted
    (and, StrictFIFO, small right after it: 4 + 2 <= 8)."""
    w = by_name(run(hol(strategy)))
    assert w["big-0"].admitted == 0.0  # one-pod workloads are named <workload>-<arrival>
    assert w["mid-0"].admitted == 100.0
    assert w["small-0"].admitted == small_admitted


def test_pending_counts_each_waiting_workload_once() -> None:
    """BestEffortFIFO run of ``hol``: big admitted at 0; mid arrives at 1 and is set aside
    (6 + 4 > 8); small arrives at 2 and is admitted (6 + 2 = 8). So from 1 until mid's
    admission at 100 exactly one workload waits, set aside: ``pending`` is 1 there, not
    2 (a set-aside workload is still pending; it must not be counted again)."""
    r = run(hol("BestEffortFIFO"))
    u = r.frames["queue_usage"].drop_duplicates("time", keep="last").set_index("time")["pending"]
    assert u[(u.index >= 1) & (u.index < 100)].eq(1).all() and len(u[(u.index >= 1) & (u.index < 100)])
    assert u[u.index >= 100].iloc[-1] == 0


def drf(policy: str, b_at: float = 0.0) -> dict:
    """The DRF paper's example: 9 CPUs and 18 GB; user A's tasks need <1 CPU, 4 GB>,
    user B's <3 CPUs, 1 GB>. One ClusterQueue holds the 9 CPUs / 18 GiB; users are two
    LocalQueues; each submits 10 one-pod tasks that run for ever."""
    def user(name: str, cpu: str, mem: str, t: float) -> dict:
        return {"name": name, "queue": name, "arrival": {"kind": "burst", "count": 10, "at_s": t},
                "template": {"requests": {"cpu": cpu, "memory": mem}}}
    return {
        "name": "drf", "duration_s": 100,
        "cluster": {"node_pools": [{"name": "n", "count": 1, "allocatable": {"cpu": "9", "memory": "18Gi",
                                                                             "pods": 110}}]},
        "kueue": {"policy": policy, "resourceFlavors": [{"name": "default"}],
                  "clusterQueues": [{"name": "cluster", "resourceGroups": [{
                      "coveredResources": ["cpu", "memory"],
                      "flavors": [{"name": "default", "resources": [{"name": "cpu", "nominalQuota": 9},
                                                                   {"name": "memory", "nominalQuota": "18Gi"}]}]}]}],
                  "localQueues": [{"name": "a", "clusterQueue": "cluster"}, {"name": "b", "clusterQueue": "cluster"}]},
        "workloads": [user("a", "1", "4Gi", 0.0), user("b", "3", "1Gi", b_at)],
    }


def admitted_per_queue(result) -> dict[str, int]:  # noqa: ANN001
    f = result.frames["queue_workloads"]
    return f[f["admitted"].notna()].groupby("local_queue").size().to_dict()


def test_drf_gives_the_papers_allocation() -> None:
    """Progressive filling, the lowest dominant share first (ties: the earlier task):
    A1 (A = 4/18 = 0.22), B1 (B = 3/9 = 0.33), A2 (0.44), B2 (0.67), A3 (0.67); then
    A's next needs 1 CPU and B's 3, but 3 + 6 = 9 CPUs are used: 3 tasks for A, 2 for
    B, both dominant shares 2/3 (the paper's figure 3)."""
    r = run(drf("drf"))
    assert admitted_per_queue(r) == {"default/a": 3, "default/b": 2}
    pods = r.pods
    assert int(pods["scheduled"].notna().sum()) == 5  # exactly the admitted tasks were created and bound


def test_fifo_without_drf_lets_the_first_user_take_the_memory() -> None:
    """FIFO, A's tasks first (B arrives at 1 s): A takes 4 tasks (16 of 18 GiB); A's 5th
    needs 20 GiB; B's first fits (4 + 3 = 7 CPUs, 17 GiB), its second does not (10 CPUs).
    DRF on the same arrivals is not preemptive: it cannot take back A's 4th task, so it
    gives the same 4 and 1 (DRF equalises only among the tasks it places)."""
    assert admitted_per_queue(run(drf("fifo", b_at=1.0))) == {"default/a": 4, "default/b": 1}
    assert admitted_per_queue(run(drf("drf", b_at=1.0))) == {"default/a": 4, "default/b": 1}


def test_quota_arithmetic_with_a_lending_limit() -> None:
    """resource_node.go ``available``: A (nominal 10, lendingLimit 4: keeps 6) and B
    (nominal 10, borrowingLimit 3) in one cohort. The cohort holds 4 (A's lendable) +
    10 (B's) = 14. B with usage 10 may still use min(10 - 10 + 3, 14 - 10) = 3; A with
    usage 0 may use 6 (its own) + 14 - 10 = 10... capped by nothing: 10."""
    fr = ("f", "cpu")
    cohort = CohortQuota("c")
    a = QueueQuota("a", nominal={fr: 10}, lending_limit={fr: 4}, cohort=cohort)
    b = QueueQuota("b", nominal={fr: 10}, borrowing_limit={fr: 3}, cohort=cohort)
    cohort.queues = [a, b]
    b.usage[fr] = 10
    assert cohort.subtree(fr) == 14
    assert b.available(fr) == 3
    assert a.available(fr) == 6 + (14 - 10)
    b.usage[fr] = 13  # B borrowed 3 (from A's lendable 4)
    assert a.available(fr) == 6 + (14 - 13)


def test_jain_index() -> None:
    """(sum x)^2 / (n sum x^2): equal shares 1; one of four has all: 1/4."""
    assert jain_index([0.5, 0.5]) == 1.0
    assert jain_index([1.0, 0.0, 0.0, 0.0]) == 0.25
    assert math.isnan(jain_index([]))


BAD = [
    (["kueue", "clusterQueues", 0, "resourceGroups", 0, "flavors", 0, "name"], "ghost",
     "kueue.clusterQueues[0].resourceGroups[0].flavors[0].name", "ResourceFlavor 'ghost'"),
    (["kueue", "clusterQueues", 0, "cohort"], "nowhere", "kueue.clusterQueues[0].cohort", "cohort 'nowhere'"),
    (["kueue", "clusterQueues", 0, "resourceGroups", 0, "flavors", 0, "resources", 1, "nominalQuota"], "-4",
     "kueue.clusterQueues[0].resourceGroups[0].flavors[0].resources[1].nominalQuota", "must be >= 0"),
]


def _set(d: dict, path: list, value: object) -> None:
    for k in path[:-1]:
        d = d[k]
    d[path[-1]] = value


@pytest.mark.parametrize(("path", "value", "where", "what"), BAD)
def test_bad_queue_input_names_the_field(tmp_path: Path, path: list, value: object, where: str, what: str) -> None:
    sc = two_teams()
    _set(sc, path, value)
    f = tmp_path / "bad.yaml"
    f.write_text(yaml.safe_dump(sc))
    out = CliRunner().invoke(app, ["run", str(f), "--out", str(tmp_path / "o")])
    assert out.exit_code == 2, out.output
    text = " ".join((out.stderr or out.output).split())
    assert where in text and what in text


def test_a_borrowing_limit_without_a_cohort_is_refused() -> None:
    sc = two_teams()
    del sc["kueue"]["clusterQueues"][0]["cohort"]
    with pytest.raises(ScenarioError) as e:
        validate_scenario(sc)
    assert "kueue.clusterQueues[0].resourceGroups[0].flavors[0].resources[1].borrowingLimit" in str(e.value)
    assert "must be nil when cohort is empty" in str(e.value)


def test_a_workload_naming_a_missing_local_queue_is_refused() -> None:
    sc = two_teams()
    sc["workloads"][1]["queue"] = "c"
    with pytest.raises(ScenarioError) as e:
        validate_scenario(sc)
    assert "workloads[1].queue" in str(e.value) and "LocalQueue 'c' not found" in str(e.value)
