"""StatefulSet (ordered, parallel, partitioned rolling update) and DaemonSet (one pod per
eligible node, nodes added later, rolling update).

Upstream: pkg/controller/statefulset/stateful_set_control.go (updateStatefulSet);
pkg/controller/daemon/daemon_controller.go (NodeShouldRunDaemonPod, podsShouldBeOnNode),
update.go (rollingUpdate), util/daemonset_util.go (ReplaceDaemonSetPodNodeNameNodeAffinity).
"""

from __future__ import annotations

import numpy as np
from helpers import sim, write

from k8sim.cluster.nodes import TaintSpec


def statefulset(name="db", replicas=3, policy="OrderedReady", grace=0, partition=None, image="db:1"):
    spec = {"replicas": replicas, "podManagementPolicy": policy, "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "terminationGracePeriodSeconds": grace,
                "containers": [{"name": "c", "image": image, "resources": {"requests": {"cpu": "100m"}}}]}}}
    if partition is not None:
        spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec}


def daemonset(name="agent", tolerations=None, node_selector=None, image="agent:1"):
    spec = {"containers": [{"name": "c", "image": image, "resources": {"requests": {"cpu": "100m"}}}],
            "terminationGracePeriodSeconds": 0}
    if tolerations:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}


def created(r, name):
    row = r.pods[r.pods["pod"] == name]
    return row["created"].tolist()


def test_ordered_ready_creates_one_at_a_time(tmp_path):
    # OrderedReady, start latency 2 s: db-0 at 0 (Running and Ready at 2), db-1 at 2, db-2 at 4.
    m = write(tmp_path, "db.yaml", statefulset())
    r = sim(tmp_path, m, duration=60).run()
    assert [created(r, f"db-{i}") for i in range(3)] == [[0.0], [2.0], [4.0]]


def test_parallel_creates_all_at_once(tmp_path):
    m = write(tmp_path, "db.yaml", statefulset(policy="Parallel"))
    r = sim(tmp_path, m, duration=60).run()
    assert sorted(r.pods["created"]) == [0.0, 0.0, 0.0]


def test_ordered_scale_down_highest_first_waiting_for_each(tmp_path):
    # Scale 3 -> 1 at t = 20 with grace 5: db-2 is deleted at 20 and gone at 25, then db-1
    # is deleted at 25 and gone at 30.
    m = write(tmp_path, "db.yaml", statefulset(grace=5))
    s = sim(tmp_path, m, duration=60)
    s.env.run(until=20)
    s.controllers.statefulsets.scale("db", 1)
    r = s.run()
    fin = dict(zip(r.pods["pod"], r.pods["finished"], strict=True))
    assert (fin["db-2"], fin["db-1"]) == (25.0, 30.0)
    assert np.isnan(fin["db-0"])


def test_rolling_update_with_partition(tmp_path):
    # Partition 1: only ordinals >= 1 are updated, from the highest down, each waiting for
    # the previous to be Running and Ready. New template at 50 (grace 0, start 2 s):
    # db-2 deleted and recreated at 50 (Running 52), db-1 at 52 (Running 54); db-0 stays.
    m = write(tmp_path, "db.yaml", statefulset(partition=1))
    s = sim(tmp_path, m, duration=100)
    s.env.run(until=50)
    t = s.controllers.store.statefulsets[0].templates[s.controllers.store.statefulsets[0].update_revision]
    s.controllers.statefulsets.set_template("db", t.model_copy(update={"image": "db:2"}))
    r = s.run()
    assert created(r, "db-2") == [4.0, 50.0]
    assert created(r, "db-1") == [2.0, 52.0]
    assert created(r, "db-0") == [0.0]


def test_lost_pod_recreated_with_same_name(tmp_path):
    m = write(tmp_path, "db.yaml", statefulset(policy="Parallel"))
    s = sim(tmp_path, m, duration=60)
    s.env.run(until=10)
    pod = int(np.flatnonzero(np.array(s.state.pods.names) == "db-1")[0])
    s.api.delete_pod(pod, 0.0, "Evicted")
    r = s.run()
    assert created(r, "db-1") == [0.0, 10.0]
    assert r.frames["recreations"]["cause"].tolist() == ["Evicted"]


def test_daemonset_one_pod_per_eligible_node_and_new_nodes(tmp_path):
    # 4 nodes; n-3 gets an untolerated NoSchedule taint before the run -> 3 pods. A node
    # added at t = 30 gets its pod at 30, placed there by the scheduler through the
    # pod's required node affinity on metadata.name.
    m = write(tmp_path, "ds.yaml", daemonset())
    s = sim(tmp_path, m, duration=60)
    s.api.update_node(3, taints=[TaintSpec("dedicated", "gpu", "NoSchedule")])
    s.env.run(until=30)
    s.api.add_node(name="late", allocatable=s.state.nodes.alloc[:, 0].copy(), labels={}, taints=[])
    r = s.run()
    pods = r.pods
    assert sorted(pods["node"]) == ["late", "n-0", "n-1", "n-2"]
    assert pods[pods["node"] == "late"]["created"].tolist() == [30.0]
    hist = r.frames["replica_history"]
    assert hist["desired"].tolist() == [3, 4]


def test_daemonset_tolerates_cordoned_nodes(tmp_path):
    # Daemon pods tolerate node.kubernetes.io/unschedulable (AddOrUpdateDaemonPodTolerations),
    # and NodeUnschedulable lets a tolerating pod onto a cordoned node.
    m = write(tmp_path, "ds.yaml", daemonset())
    s = sim(tmp_path, m, nodes=2, duration=30)
    s.api.update_node(1, unschedulable=True)
    r = s.run()
    assert sorted(r.pods["node"]) == ["n-0", "n-1"]


def test_daemonset_node_selector(tmp_path):
    m = write(tmp_path, "ds.yaml", daemonset(node_selector={"role": "edge"}))
    s = sim(tmp_path, m, nodes=3, duration=30)
    s.api.update_node(2, labels={"role": "edge"})
    r = s.run()
    assert r.pods["node"].tolist() == ["n-2"]


def test_daemonset_rolling_update_one_node_at_a_time(tmp_path):
    # maxUnavailable 1 (default), grace 0, start 2 s: at 50 the pod on one node is
    # replaced (new pod at 50, available at 52), then the other's at 52.
    m = write(tmp_path, "ds.yaml", daemonset())
    s = sim(tmp_path, m, nodes=2, duration=100)
    s.env.run(until=50)
    d = s.controllers.store.daemonsets[0]
    s.controllers.daemonsets.set_template("agent", d.template.model_copy(update={"image": "agent:2"}))
    r = s.run()
    new = r.pods[r.pods["created"] >= 50]
    assert sorted(new["created"]) == [50.0, 52.0]
    av = r.frames["availability"]
    assert av[av["time"] >= 50]["available"].min() == 1


def test_on_delete_updates_only_recreated_pods(tmp_path):
    # updateStrategy OnDelete: a new template changes nothing until a pod goes; the pod
    # recreated then gets the new revision.
    sts = statefulset(policy="Parallel")
    sts["spec"]["updateStrategy"] = {"type": "OnDelete"}
    m = write(tmp_path, "db.yaml", sts)
    s = sim(tmp_path, m, duration=60)
    s.env.run(until=10)
    st = s.controllers.store.statefulsets[0]
    s.controllers.statefulsets.set_template("db", st.templates[st.update_revision].model_copy(update={"image": "db:2"}))
    s.env.run(until=20)
    assert s.state.pods.n == 3  # nothing deleted
    pod = int(np.flatnonzero(np.array(s.state.pods.names) == "db-0")[0])
    s.api.delete_pod(pod, 0.0, "Deleted")
    s.run()
    new = s.state.pods.n - 1
    assert s.state.pods.names[new] == "db-0" and st.revision_of[new] == st.update_revision


def test_bare_pod_with_node_name_is_bound_at_once(tmp_path):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pinned"},
           "spec": {"nodeName": "n-2", "containers": [{"name": "c", "image": "x",
                                                         "resources": {"requests": {"cpu": "1"}}}]}}
    m = write(tmp_path, "pod.yaml", pod)
    r = sim(tmp_path, m, duration=30).run()
    row = r.pods.iloc[0]
    assert (row["pod"], row["node"], row["scheduled"], row["owner_kind"]) == ("pinned", "n-2", 0.0, "")


def test_deleting_objects_takes_their_pods(tmp_path):
    # Controllers.delete (a SimKube deleted_objs entry): the pods go with their object,
    # each after its grace period (0 here), and nothing replaces them.
    m = write(tmp_path, "both.yaml", statefulset(policy="Parallel"), daemonset())
    s = sim(tmp_path, m, nodes=2, duration=60)
    s.env.run(until=10)
    s.controllers.delete("StatefulSet", "default/db")
    s.controllers.delete("DaemonSet", "default/agent")
    r = s.run()
    assert len(r.pods) == 5 and set(r.pods["finished"]) == {10.0}
    assert len(r.frames["recreations"]) == 0 and len(r.frames["unreplaced"]) == 0
