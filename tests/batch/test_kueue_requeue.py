"""A workload evicted to make room is not re-admitted in the cycle that evicted it.

Upstream Kueue requeues an evicted workload only once its eviction has finished (its
pods gone), in a later scheduling cycle (``pkg/controller/core/workload_controller.go``
requeues on the Evicted condition; ``pkg/scheduler/scheduler.go`` schedules heads per
cycle). k8sim's cycles take no virtual time, so a victim re-admitted in the same cycle
could be evicted again by the same preemptor, for ever, at one instant: this case hung.
"""

from __future__ import annotations

from timebound import time_bound

from k8sim import Simulation, validate_scenario


def cq(name: str) -> dict:
    """4 GPUs nominal, may borrow 4, reclaims its lent quota (``reclaimWithinCohort: Any``)."""
    return {"name": name, "cohort": "c", "preemption": {"reclaimWithinCohort": "Any"},
            "resourceGroups": [{"coveredResources": ["cpu", "nvidia.com/gpu"], "flavors": [{"name": "f", "resources": [
                {"name": "cpu", "nominalQuota": 100}, {"name": "nvidia.com/gpu", "nominalQuota": 4, "borrowingLimit": 4}]}]}]}


def one(name: str, queue: str, at: float, gpus: int, run: float) -> dict:
    return {"name": name, "queue": queue, "arrival": {"kind": "times", "times_s": [at]},
            "template": {"requests": {"cpu": "100m"}, "gpu": {"count": gpus}, "terminationGracePeriodSeconds": 0},
            "duration": {"kind": "constant", "value": run}}


def test_a_reclaimed_workload_waits_for_a_later_cycle():
    # Cohort of 8 GPUs: queues a and b, 4 nominal each, each may borrow 4.
    # t=0 v1 (b, 4 GPUs) fits b's nominal.  t=1 v2 (b, 4) borrows a's idle 4.
    # t=2 wbig (a, 6) needs 2 borrowed GPUs: it may not reclaim to borrow, and nothing
    #     in its own queue is preemptible: set aside.
    # t=3 p (a, 2) fits a's nominal once b's borrowing is reclaimed: v2 (b's most
    #     recently admitted) is evicted and p admitted. Releasing v2's quota requeues
    #     wbig, now a's head (older than p); before the fix v2 (older than wbig, and fitting
    #     again) was re-admitted in the same cycle, p evicted it again, and so on for ever.
    #     Now v2 is queued after the cycle: then 8 - 4 - 2 = 2 GPUs are free < 4, and a
    #     does not borrow, so v2 cannot reclaim: set aside.
    # t=53 p ends (3 + 50): 4 free. v2 (4, borrowing) and wbig (6 > 4, preempt; b does
    #     not borrow, so no reclaim) -> v2 re-admitted, runs from the start: ends 153.
    # t=100 v1 ends: wbig needs 6 of 4 free, b does not borrow: still waits.
    # t=153 v2 ends: wbig admitted, ends 253.
    sc = {"name": "requeue", "duration_s": 1000,
          "cluster": {"node_pools": [{"name": "g", "count": 2, "allocatable": {"cpu": "64", "memory": "256Gi"},
                                      "gpus": {"count": 8, "model": "A100"}}]},
          "defaults": {"start_latency": {"kind": "constant", "value": 0}},
          "kueue": {"resourceFlavors": [{"name": "f"}], "cohorts": [{"name": "c"}], "clusterQueues": [cq("a"), cq("b")],
                    "localQueues": [{"name": "a", "clusterQueue": "a"}, {"name": "b", "clusterQueue": "b"}]},
          "workloads": [one("v1", "b", 0, 4, 100), one("v2", "b", 1, 4, 100), one("wbig", "a", 2, 6, 100),
                        one("p", "a", 3, 2, 50)]}
    with time_bound(30):
        result = Simulation(validate_scenario(sc)).run()
    wl = result.frames["queue_workloads"].set_index("workload")
    names = ["v1-0", "v2-0", "wbig-0", "p-0"]
    assert wl.loc[names, "admitted"].tolist() == [0.0, 1.0, 153.0, 3.0]  # first admissions
    assert wl.loc[names, "finished"].tolist() == [100.0, 153.0, 253.0, 53.0]
    assert wl.loc[names, "evictions"].tolist() == [0, 1, 0, 0]
