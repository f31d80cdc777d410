"""The Kueue cycle's shortcuts give the same runs as the literal cycle.

``Kueue`` shares a flavor assignment between alike workloads while no usage changes
(``_nominate``), skips the preemption search of a workload dominated by one that found
no victims in the same state (``_dominated``), and sets aside a backlog of alike
failing workloads at once (``_sweep``). Each is argued exact in its docstring; here a
saturated cohort with everything that could break them (priorities, two request sizes,
StrictFIFO and BestEffortFIFO queues, two LocalQueues on one ClusterQueue, preemption
within the queue and reclaim within the cohort, evictions, fair sharing) is run with
and without them, and every queue table must be identical. The literal cycle is the
same class with the shortcuts switched off, i.e. upstream's ``schedule`` loop
(``pkg/scheduler/scheduler.go``) taking one head at a time.
"""

from __future__ import annotations

import pandas as pd
import pytest

from k8sim import Simulation, validate_scenario
from k8sim.batch.kueue import Kueue

GPU = "nvidia.com/gpu"


def scenario(fair: bool, strategy: str, small: int, large: int, load: float) -> dict:
    def group(gpus: int, limit: int) -> dict:
        return {"coveredResources": ["cpu", GPU], "flavors": [{"name": "a100", "resources": [
            {"name": "cpu", "nominalQuota": 1000}, {"name": GPU, "nominalQuota": gpus, "borrowingLimit": limit}]}]}

    def jobs(name: str, queue: str, ns: str, rate: float, workers: int, priority: int) -> dict:
        return {"name": name, "queue": queue, "arrival": {"kind": "poisson", "rate_per_s": rate * load, "stop_s": 20000},
                "gang": {"workers": workers}, "duration": {"kind": "exponential", "mean": 900},
                "template": {"namespace": ns, "requests": {"cpu": "100m"}, "gpu": {"count": 1},
                             "priority": priority}}

    return {
        "name": "shortcuts", "seed": 5, "duration_s": 30000,
        "cluster": {"node_pools": [{"name": "g", "count": 8, "allocatable": {"cpu": "64", "memory": "256Gi"},
                                    "gpus": {"count": 8, "model": "A100"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 1}},
        "kueue": {
            "resourceFlavors": [{"name": "a100"}],
            "cohorts": [{"name": "all"}],
            "fairSharing": {"enable": fair},
            "clusterQueues": [
                {"name": "a", "cohort": "all", "resourceGroups": [group(24, 16)], "queueingStrategy": strategy,
                 "preemption": {"reclaimWithinCohort": "Any", "withinClusterQueue": "LowerOrNewerEqualPriority"},
                 "fairSharing": {"weight": 1}},
                {"name": "b", "cohort": "all", "resourceGroups": [group(24, 24)],
                 "preemption": {"reclaimWithinCohort": "LowerPriority", "withinClusterQueue": "LowerPriority"},
                 "fairSharing": {"weight": 2}},
                {"name": "c", "cohort": "all", "resourceGroups": [group(16, 8)]},
            ],
            "localQueues": [{"name": "a", "namespace": "ta", "clusterQueue": "a"},
                            {"name": "b1", "namespace": "tb", "clusterQueue": "b"},
                            {"name": "b2", "namespace": "tb", "clusterQueue": "b"},
                            {"name": "c", "namespace": "tc", "clusterQueue": "c"}],
        },
        "workloads": [
            jobs("ta/small", "a", "ta", 0.004, small, 0), jobs("ta/big", "a", "ta", 0.002, 8, 10),
            jobs("tb/one", "b1", "tb", 0.004, large, 0), jobs("tb/two", "b2", "tb", 0.003, 4, 5),
            jobs("tc/jobs", "c", "tc", 0.004, 8, 0),
        ],
    }


def frames(sc: dict) -> dict[str, pd.DataFrame]:
    r = Simulation(validate_scenario(sc)).run()
    return {k: r.frames[k] for k in ("queue_workloads", "queue_usage", "queue_tenants", "queue_summary")} | {
        "pods": r.pods}


# Dense: 4- and 8-GPU jobs at full load; gappy: 2- and 6-GPU jobs at half load, so a
# small job behind a failing large one often fits (a shortcut that set aside more than
# the failing kind would differ here).
@pytest.mark.slow
@pytest.mark.parametrize(("fair", "strategy", "small", "large", "load"), [
    (False, "BestEffortFIFO", 4, 4, 1.0), (False, "StrictFIFO", 4, 4, 1.0), (True, "BestEffortFIFO", 4, 4, 1.0),
    (True, "StrictFIFO", 4, 4, 1.0), (False, "BestEffortFIFO", 2, 6, 0.5), (False, "StrictFIFO", 2, 6, 0.5),
    (True, "BestEffortFIFO", 2, 6, 0.5)])
def test_the_shortcuts_change_nothing(monkeypatch: pytest.MonkeyPatch, fair: bool, strategy: str, small: int,
                                      large: int, load: float) -> None:
    sc = scenario(fair, strategy, small, large, load)
    fast = frames(sc)
    wf = fast["queue_workloads"]
    # The case must exercise what the shortcuts skip: a backlog, and evictions.
    assert (wf["queue_wait_s"] > 0).sum() > 50
    assert wf["evictions"].sum() > 0
    monkeypatch.setattr(Kueue, "_sweep", lambda self, blocked: False)
    monkeypatch.setattr(Kueue, "_dominated", lambda self, wl: False)
    monkeypatch.setattr(Kueue, "_nominate", lambda self, wl: self._assign(wl))
    slow = frames(sc)
    for name, f in fast.items():
        pd.testing.assert_frame_equal(f, slow[name], check_exact=True, obj=name)
