"""The pod garbage collector (pkg/controller/podgc/gc_controller.go, gcOrphaned): the pods
of a deleted node are force-deleted by the first pass (every gcCheckPeriod, 20 s) after
the node has been in quarantine (quarantineTime, 40 s) since the pass that found it gone."""

from __future__ import annotations

import pytest
from helpers import deployment, sim, write

from k8sim.cluster.pods import RUNNING
from k8sim.controllers.podgc import collection_time


@pytest.mark.parametrize("removed, period, quarantine, collected", [
    (30.0, 20.0, 40.0, 80.0),   # seen by the pass at 40, quarantined until 80 (a pass)
    (40.0, 20.0, 40.0, 80.0),   # a pass at the deletion's instant sees it: 40 + 40
    (41.0, 20.0, 40.0, 100.0),  # seen at 60: 100
    (12.0, 5.0, 0.0, 15.0),     # no quarantine: the first pass after the deletion
    (10.0, 20.0, 30.0, 60.0),   # seen at 20, ready at 50, collected by the pass at 60
])
def test_collection_time(removed, period, quarantine, collected):
    assert collection_time(removed, period, quarantine) == collected


def test_controllers_replace_the_pods_of_a_deleted_node_when_the_collector_deletes_them(tmp_path):
    # 3 replicas on 3 one-pod nodes (cpu 1 each, pods ask 1). n-0 is deleted at 45: the
    # pod garbage collector sees it at its pass at 60 and deletes its pod at 60 + 40 =
    # 100; until then the ReplicaSet sees the pod Running and creates nothing. Its
    # replacement is created at 100 and stays Pending (no node has room). With
    # pod_gc.quarantine_s 0 the pod goes at the pass at 60.
    for quarantine, lost_at in ((40.0, 100.0), (0.0, 60.0)):
        m = write(tmp_path, "web.yaml", deployment(replicas=3, cpu="1"))
        s = sim(tmp_path, m, nodes=3, cpu="1", duration=200, pod_gc={"quarantine_s": quarantine})
        s.env.run(until=45)
        on0 = int(next(p for p in range(s.state.pods.n) if s.state.pods.node[p] == 0))
        s.api.remove_node(0)
        s.env.run(until=lost_at - 1)
        assert s.state.pods.phase[on0] == RUNNING and s.state.pods.n == 3  # still Running, no replacement
        r = s.run()
        rec = r.frames["recreations"]
        assert rec[["lost_at", "created_at", "cause"]].values.tolist() == [[lost_at, lost_at, "NodeLost"]]
        assert s.pod_gc.collections == [(0, lost_at)]
