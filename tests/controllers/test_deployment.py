"""Deployment controller: rolling update, Recreate, scaling, rollback, progress deadline.

Upstream: pkg/controller/deployment/rolling.go (reconcileNewReplicaSet,
reconcileOldReplicaSets), recreate.go, sync.go, progress.go, rollback semantics of
``kubectl rollout undo``; util/deployment_util.go (NewRSNewReplicas, ResolveFenceposts).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import deployment, sim, write


def _image(s, name: str, image: str) -> None:
    s.controllers.deployments.set_image(name, image)


def test_rolling_update_bounds_and_finish_time(tmp_path):
    # 10 replicas, maxSurge 25% -> ceil(2.5) = 3, maxUnavailable 25% -> floor(2.5) = 2
    # (ResolveFenceposts): at most 13 pods, at least 8 available. Start latency L = 2 s,
    # minReadySeconds M = 5 s, grace 0, reaction latency 0, room for every pod.
    # t = 100 (new template):
    #   new RS created with NewRSNewReplicas = min(13 - 10, 10) = 3; old scaled 10 -> 8
    #   (available 10 > minAvailable 8, maxScaledDown = 13 - 8 - 3 = 2); the next sync
    #   sees 8 + 3 = 11 < 13 and scales new to 5. Pods 13, available 8.
    # t = 100 + L + M = 107: the 5 new pods are available: old 8 -> 3 (13 - 8 available
    #   above the floor), then new 5 -> 10. Pods 13, available 8.
    # t = 114: the second 5 are available: old 3 -> 0. Complete at 100 + 2 (L + M) = 114.
    m = write(tmp_path, "web.yaml", deployment(replicas=10, min_ready=5))
    s = sim(tmp_path, m, start=2.0)
    s.env.run(until=100)
    _image(s, "web", "app:2")
    r = s.run()
    av = r.frames["availability"]
    during = av[av["time"] >= 100]
    assert during["available"].min() == 8
    assert during["ready"].min() >= 8
    assert during["pods"].max() == 13
    rollouts = r.frames["rollouts"]
    second = rollouts[rollouts["revision"] == 2].iloc[0]
    assert second["started"] == 100
    assert second["completed"] == pytest.approx(114)
    # The new ReplicaSet's pods were created at 100 (5) and 107 (5).
    pods = r.pods
    new = pods[pods["owner"].str.contains("-") & (pods["created"] >= 100)]
    assert sorted(new["created"].tolist()) == [100.0] * 5 + [107.0] * 5
    end = av.iloc[-1]
    assert (end["pods"], end["ready"], end["available"]) == (10, 10, 10)


def test_recreate_deletes_all_then_creates(tmp_path):
    # Recreate: at t = 50 the old RS goes to 0 (grace 10 s: pods leave at 60); the new RS
    # is created only when no old pod is left (oldPodsRunning), i.e. at 60; its pods run
    # at 62 (L = 2). Availability is 0 in [50, 62).
    m = write(tmp_path, "web.yaml", deployment(replicas=4, grace=10, strategy={"type": "Recreate"}))
    s = sim(tmp_path, m, start=2.0)
    s.env.run(until=50)
    _image(s, "web", "app:2")
    r = s.run()
    new = r.pods[r.pods["created"] >= 50]
    assert len(new) == 4 and set(new["created"]) == {60.0} and set(new["running"]) == {62.0}
    old = r.pods[r.pods["created"] < 50]
    assert set(old["finished"]) == {60.0}
    av = r.frames["availability"]
    at = av[(av["time"] >= 50) & (av["time"] < 62)]
    assert at["available"].max() == 0


def test_scale_up_and_down(tmp_path):
    # Scaling is a sync (isScalingEvent): 4 -> 7 at t=20 creates 3 pods at 20; 7 -> 2 at
    # t=40 deletes 5. All 7 are on the one node (equal rank) and Ready, so the ready-time
    # rule decides (ActivePodsWithRanks.Less step 6, log2 buckets of nanoseconds since
    # Ready): the 3 pods Ready at 22 are 18 s old -> log2(1.8e10) = 34.07 -> 34, the 4
    # Ready at 2 are 38 s old -> log2(3.8e10) = 35.1 -> 35; the smaller bucket goes first.
    m = write(tmp_path, "web.yaml", deployment(replicas=4))
    s = sim(tmp_path, m, nodes=1)
    s.env.run(until=20)
    s.controllers.deployments.scale("web", 7)
    s.env.run(until=40)
    s.controllers.deployments.scale("web", 2)
    r = s.run()
    pods = r.pods
    assert (pods["created"] == 20).sum() == 3
    gone = pods[pods["finished"] == 40]
    assert len(gone) == 5
    # All three 20 s-old pods are among the victims (younger bucket first).
    assert set(gone[gone["created"] == 20]["pod"]) == set(pods[pods["created"] == 20]["pod"])
    hist = r.frames["replica_history"]
    assert hist[hist["kind"] == "Deployment"]["desired"].tolist() == [4, 7, 2]


def test_rollback_reuses_old_replicaset_with_new_revision(tmp_path):
    m = write(tmp_path, "web.yaml", deployment(replicas=3))
    s = sim(tmp_path, m)
    s.env.run(until=30)
    _image(s, "web", "app:2")
    s.env.run(until=60)
    assert s.controllers.deployments.rollback("web") == 1
    r = s.run()
    rs = r.frames["replicasets"]
    # Revision 1's ReplicaSet is adopted again and becomes revision 3 (SetNewReplicaSetAnnotations).
    assert sorted(rs["revision"].tolist()) == [2, 3]
    first = rs.sort_values("created").iloc[0]
    assert first["revision"] == 3 and first["replicas_at_end"] == 3
    assert r.frames["rollouts"]["revision"].tolist() == [1, 2, 3]


def test_progress_deadline_exceeded_when_new_pods_cannot_fit(tmp_path):
    # One node with 2 CPUs holds the 2 old pods of 1 CPU each. The new template asks for
    # 4 CPUs: its pod never fits, so the rollout stops progressing at t = 10 (the new
    # RS is created and scaled to 1 = maxSurge 25% of 2 rounded up; maxUnavailable rounds
    # to 0). progressDeadlineSeconds 60 -> ProgressDeadlineExceeded at 70.
    m = write(tmp_path, "web.yaml", deployment(replicas=2, cpu="1", progressDeadlineSeconds=60))
    s = sim(tmp_path, m, nodes=1, cpu="2")
    s.env.run(until=10)
    d = s.controllers.deployments
    row = d.find("web")
    t = s.controllers.store.deployments[row].template
    c = t.containers[0]
    bigger = c.model_copy(update={"requests": {**(c.requests or {}), "cpu": (c.requests or {})["cpu"] * 4}})
    d.set_template("web", t.model_copy(update={"containers": [bigger]}))
    r = s.run()
    ro = r.frames["rollouts"]
    assert ro.iloc[-1]["deadline_exceeded_at"] == pytest.approx(70)
    assert math.isnan(ro.iloc[-1]["completed"])
    assert (r.events["kind"] == "ProgressDeadlineExceeded").sum() == 1
    # The old pods kept running (maxUnavailable 0): availability never dropped.
    av = r.frames["availability"]
    assert av[av["time"] >= 2]["available"].min() == 2


def test_revision_history_limit_deletes_oldest(tmp_path):
    m = write(tmp_path, "web.yaml", deployment(replicas=1, revisionHistoryLimit=1))
    s = sim(tmp_path, m)
    for i, t in enumerate((20, 40, 60)):
        s.env.run(until=t)
        _image(s, "web", f"app:{i + 2}")
    r = s.run()
    rs = r.frames["replicasets"]
    # Revisions 1..4; the newest (4) plus revisionHistoryLimit = 1 old one (3) remain.
    assert sorted(rs[~rs["deleted"]]["revision"].tolist()) == [3, 4]
    assert np.array_equal(np.sort(rs[rs["deleted"]]["revision"].to_numpy()), [1, 2])


def test_proportional_scaling_during_a_rollout(tmp_path):
    # Rolling update of 10 at t = 100 (start latency 2 s): at 100 the old RS is at 8 and
    # the new at 5 (see the first test), none of the new pods available yet. Scaling to
    # 20 at 101 is a scaling event (sync.go scale): allowed = 20 + maxSurge(25% of 20 =
    # 5) = 25, to add = 25 - 13 = 12; largest first (old 8, then new 5), each by
    # getReplicaSetFraction over the max-replicas annotation 10 + 3 = 13:
    # old: round(8 * 25 / 13 = 15.38) - 8 = 7 -> 15; new: round(5 * 25 / 13 = 9.62) - 5 =
    # 5, capped by what is left (12 - 7 = 5) -> 10. 15 + 10 = 25, nothing left over.
    m = write(tmp_path, "web.yaml", deployment(replicas=10))
    s = sim(tmp_path, m, start=2.0)
    s.env.run(until=100)
    _image(s, "web", "app:2")
    s.env.run(until=101)
    rss = s.controllers.store.replicasets
    assert [rs.replicas for rs in rss] == [8, 5]
    s.controllers.deployments.scale("web", 20)
    s.env.run(until=101.5)
    assert [rs.replicas for rs in rss] == [15, 10]


def test_paused_deployment_creates_nothing_until_resumed(tmp_path):
    m = write(tmp_path, "web.yaml", deployment(replicas=3, paused=True))
    s = sim(tmp_path, m)
    s.env.run(until=50)
    assert s.state.pods.n == 0
    s.controllers.deployments.pause("web", False)
    r = s.run()
    assert r.pods["created"].tolist() == [50.0] * 3
