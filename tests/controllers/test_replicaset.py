"""ReplicaSet controller: self-healing after the reaction latency, scale-down victims.

Upstream: pkg/controller/replicaset/replica_set.go (manageReplicas, slowStartBatch,
getPodsToDelete, getPodsRankedByRelatedPodsOnSameNode); pkg/controller/controller_utils.go
(ActivePodsWithRanks.Less, FilterActivePods).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import scenario, sim, write

from k8sim.cluster.pods import BOUND, PENDING, RUNNING, PodTable
from k8sim.controllers.ranking import deletion_order, resolve_fenceposts, scaled_value, slow_start_batches


def replicaset(name="rs", replicas=3, cpu="500m", grace=0, priority_class=None):
    spec = {"terminationGracePeriodSeconds": grace,
            "containers": [{"name": "c", "image": "x:1", "resources": {"requests": {"cpu": cpu}}}]}
    if priority_class:
        spec["priorityClassName"] = priority_class
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def test_deleted_pod_is_replaced_after_reaction_latency(tmp_path):
    # Reaction latency 1.5 s: a pod deleted at t = 50 leaves the active set at once (a
    # terminating pod is not active, FilterActivePods), so its replacement is created at
    # 51.5 even though the deleted pod keeps running for its 10 s grace period.
    m = write(tmp_path, "rs.yaml", replicaset(replicas=3, grace=10))
    s = sim(tmp_path, m, controllers={"replicaset": {"reaction_latency": {"kind": "constant", "value": 1.5}}})
    s.env.run(until=50)
    victim = 1
    s.api.delete_pod(victim, 10.0, "Deleted")
    r = s.run()
    pods = r.pods
    assert len(pods) == 4
    # The first three were created at 0 + 1.5 (the ReplicaSet's first sync).
    assert pods["created"].tolist()[:3] == [1.5, 1.5, 1.5]
    assert pods["created"].iloc[3] == pytest.approx(51.5)
    assert pods["finished"].iloc[victim] == pytest.approx(60.0)
    rec = r.frames["recreations"]
    assert rec[["lost_at", "cause", "created_at"]].values.tolist() == [[50.0, "Deleted", 51.5]]
    # Ready when Running: created 51.5 + start latency 2 = 53.5, 3.5 s after the loss.
    assert rec["recovery_s"].tolist() == [pytest.approx(3.5)]
    assert r.summary()["pod_recovery_p50_s"].iloc[0] == pytest.approx(3.5)
    assert r.summary()["pods_recreated_Deleted"].iloc[0] == 1
    assert len(r.frames["unreplaced"]) == 0


def test_preempted_pods_are_recreated(tmp_path):
    # One node of 2 CPUs holds the two 1-CPU pods of the ReplicaSet (priority 0). At t=20 a
    # bare pod of priority 100 asking for 2 CPUs preempts both (grace 0); the ReplicaSet
    # recreates both at 20 and they wait, Pending, for room.
    m = write(tmp_path, "rs.yaml", replicaset(replicas=2, cpu="1"))
    sc = scenario(tmp_path, m, nodes=1, cpu="2", extra={"workloads": [
        {"manifest": str(m)},
        {"name": "big", "arrival": {"kind": "times", "times_s": [20]},
         "template": {"requests": {"cpu": "2"}, "priority": 100}}]})
    from k8sim.sim.simulation import Simulation

    r = Simulation(sc).run()
    rec = r.frames["recreations"]
    assert rec["cause"].tolist() == ["Preempted", "Preempted"]
    assert rec["created_at"].tolist() == [20.0, 20.0]
    replacements = r.pods[r.pods["pod"].isin(rec["replacement"])]
    assert (replacements["phase"] == "Pending").all()
    assert len(r.frames["unreplaced"]) == 0


def test_scale_down_victim_order():
    # ActivePodsWithRanks.Less at now = 100, ranks as given:
    #   0 unassigned; 1 assigned, ContainerCreating (phase Pending upstream);
    #   2 Running, not Ready; 4 Ready, rank 2 (doubled up: step 5 before the rank-1 pods);
    #   rank 1, Ready: 5 Ready at 90 (10 s -> log2(1e10) = 33.2 -> bucket 33) before
    #   3 and 6 (Ready at 10: 90 s -> log2(9e10) = 36.4 -> 36); 3 and 6 have the same
    #   Ready time, so step 7 (restarts): 6 (3 restarts) before 3.
    t = PodTable(3)
    for _ in range(7):
        t.append(name="p", requests=np.array([1, 1, 1]), workload=0, index=0, shape=0, priority=0, created=0.0,
                 duration=math.inf, start_latency=0.0)
    t.phase[:7] = [PENDING, BOUND, RUNNING, RUNNING, RUNNING, RUNNING, RUNNING]
    t.node[:7] = [-1, 0, 0, 0, 1, 0, 0]
    t.ready[:7] = [np.nan, np.nan, np.nan, 10.0, 10.0, 90.0, 10.0]
    t.restarts[:7] = [0, 0, 0, 0, 0, 0, 3]
    ranks = [0, 1, 1, 1, 2, 1, 1]
    assert deletion_order(t, list(range(7)), ranks, 100.0) == [0, 1, 2, 4, 5, 6, 3]


def test_scale_down_prefers_newer_pods_by_log_bucket():
    # Step 8 (creation time, log2 buckets): at now = 1000 a pod created at 990 (10 s:
    # bucket 33) goes before one created at 100 (900 s: log2(9e11) = 39.7 -> 39).
    t = PodTable(3)
    for c in (100.0, 990.0):
        t.append(name="p", requests=np.array([1, 1, 1]), workload=0, index=0, shape=0, priority=0, created=c,
                 duration=math.inf, start_latency=0.0)
    assert deletion_order(t, [0, 1], [0, 0], 1000.0) == [1, 0]


@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("25%", "25%", 10, (3, 2)),  # ceil(2.5), floor(2.5)
    ("0%", "0%", 10, (0, 1)),  # both zero -> unavailable 1
    (0, 0, 0, (0, 1)),
    ("39%", "39%", 10, (4, 3)),  # ceil(3.9), floor(3.9)
    (5, "50%", 3, (5, 1)),  # ints as they are; floor(1.5)
    ("100%", "0%", 1, (1, 0)),
])
def test_resolve_fenceposts(surge, unavailable, desired, expected):
    assert resolve_fenceposts(surge, unavailable, desired) == expected


def test_scaled_value_rounding():
    assert scaled_value("33%", 10, True) == 4 and scaled_value("33%", 10, False) == 3
    assert scaled_value(7, 10, True) == 7


def test_slow_start_batches():
    # slowStartBatch: 1, 2, 4, 8, ... capped by what remains.
    assert slow_start_batches(10) == [1, 2, 4, 3]
    assert slow_start_batches(1) == [1]
    assert slow_start_batches(0) == []
    assert sum(slow_start_batches(500)) == 500


def test_burst_replicas_caps_one_sync(tmp_path):
    # 1,200 replicas: each sync creates at most burstReplicas = 500; with a reaction
    # latency of 1 s the creations come at 1, 2 and 3 s (500, 500, 200).
    m = write(tmp_path, "rs.yaml", replicaset(replicas=1200, cpu="1m"))
    s = sim(tmp_path, m, nodes=12, duration=10,
            controllers={"replicaset": {"reaction_latency": {"kind": "constant", "value": 1.0}}})
    r = s.run()
    assert r.pods["created"].value_counts().sort_index().to_dict() == {1.0: 500, 2.0: 500, 3.0: 200}
