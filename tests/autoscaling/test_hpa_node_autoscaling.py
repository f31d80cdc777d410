"""HPA and a node autoscaler in one run, end to end: each link of the chain at its time.

Upstream pieces, each tested on its own elsewhere: the HPA's ``GetResourceReplicas``
(``pkg/controller/podautoscaler/replica_calculator.go``) and ``stabilizeRecommendation``
(``horizontal.go``); the Cluster Autoscaler's ``RunOnce``
(``cluster-autoscaler/core/static_autoscaler.go``), its binpacking estimator and
``core/scaledown/unneeded/nodes.go`` (``since + unneeded time < now``); Karpenter's
batcher (``pkg/controllers/provisioning/batcher.go``). Here they run together: a load
step makes the HPA scale a Deployment up, the new pods do not fit, the node autoscaler
adds a node, the pods bind when it registers; later the load drops, the HPA scales down
after its stabilization window and the idle node leaves after the unneeded time.

Every expected number is derived by hand in the comments.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sim.config.loader import validate_scenario
from k8sim.sim.simulation import Simulation

# 1500m per pod: two fit a 4-CPU node (3000m), a third does not (4500m > 4000m).
DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          resources:
            requests: {cpu: 1500m, memory: 1Gi}
"""

# The offered rate: 20 req/s, 32 from t = 300, 8 from t = 900 (a step curve).
RATE = "time_s,rps\n0,20\n300,32\n900,8\n"

CA = {
    "provisioning_latency": {"kind": "constant", "value": 60},
    "node_groups": [{"name": "g", "min_size": 1, "max_size": 10, "price_per_hour": 1.0,
                     "template": {"allocatable": {"cpu": "4", "memory": "16Gi"}}}],
}

KARPENTER = {
    "provisioning_latency": {"kind": "constant", "value": 60},
    "instance_types": [{"name": "box.4x16", "allocatable": {"cpu": "4", "memory": "16Gi"}, "price_per_hour": 1.0}],
    "node_pools": [{"name": "general",
                    "requirements": [{"key": "node.kubernetes.io/instance-type", "operator": "In",
                                      "values": ["box.4x16"]}],
                    "disruption": {"consolidation_policy": "WhenEmpty", "consolidate_after_s": 30}}],
}


def _run(tmp_path: Path, node_autoscaler: dict, cluster: dict | None = None, duration: float = 2400,
         actions: list | None = None, images: dict | None = None, manifest: str = DEPLOYMENT):
    (tmp_path / "web.yaml").write_text(manifest)
    (tmp_path / "rate.csv").write_text(RATE)
    data = {
        "name": "hpa-ca", "seed": 3, "duration_s": duration, "cluster": cluster or {},
        "workloads": [{"name": "web", "manifest": "web.yaml",
                       "template": {"start_latency": {"kind": "constant", "value": 2},
                                    "readiness_delay": {"kind": "constant", "value": 3}}}],
        "autoscaling": {
            # Each pod serves 20 req/s at 100 % of its 1500m request.
            "services": [{"target": {"kind": "Deployment", "name": "web"}, "capacity_rps": 20,
                          "rate": {"kind": "csv", "file": "rate.csv", "time_column": "time_s",
                                   "rate_column": "rps", "interpolation": "step"}}],
            "horizontal_pod_autoscalers": [{"metadata": {"name": "web"}, "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2, "maxReplicas": 10,
                "metrics": [{"type": "Resource", "resource": {
                    "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}],
            **node_autoscaler,
        },
        "actions": actions or [],
        **({"images": images} if images is not None else {}),
    }
    sim = Simulation(validate_scenario(data, "hpa-ca.yaml", base_dir=tmp_path))
    return sim, sim.run()


def _rescales(result) -> list[tuple[float, int, int]]:
    h = result.frames["hpa"]
    ch = h[h["current_replicas"] != h["desired_replicas"]]
    return list(zip(ch["time"], ch["current_replicas"], ch["desired_replicas"], strict=True))


def test_load_step_hpa_then_cluster_autoscaler_then_ready_pods_each_link_at_its_time(tmp_path: Path) -> None:
    sim, r = _run(tmp_path, {"cluster_autoscaler": CA})
    pods = r.pods.set_index("pod")
    # t = 0: the group's min_size node g-0 (4 CPU) holds the 2 replicas (3000m).
    # Before t = 300: 20 req/s over 2 ready pods = 10 each = 10/20 of a pod's capacity,
    # CPU 1500m * 0.5 = 750m: utilisation 50 % = the target, ratio 1.0, no change.
    # From t = 300: 32 req/s -> 16 per pod -> 1200m = 80 %. The scrape at 315 averages
    # [300, 315): 80 %, ratio 80 / 50 = 1.6 > 1.1, so the sync at t = 315 sets
    # ceil(2 * 1.6) = ceil(3.2) = 4 (scale-up limit max(2 * 2, 4) = 4).
    assert _rescales(r)[0] == (315.0, 2, 4)
    # The ReplicaSet creates 2 pods at 315 (no reaction latency); they fail scheduling
    # at once (1000m left on g-0 < 1500m).
    new = pods[pods["created"] == 315.0]
    assert len(new) == 2 and (new["attempts"] >= 1).all()
    # Syncs at 330 .. 375 keep 4: with the 2 Pending pods counted at 0 on a scale-up the
    # ratio is 2400 / (4 * 1500) = 40 % < 50 %, a reversal, so the change is dropped.
    assert [x for x in _rescales(r) if x[0] < 900] == [(315.0, 2, 4)]
    # The CA scans at 0, 10, ..., the first after 315 is 320: 2 pods of 1500m binpack
    # on one 4-CPU template node -> 1 node, registered at 320 + 60 = 380, where both
    # pods bind; running at 380 + 2 = 382, ready at 382 + 3 = 385.
    ca = r.frames["cluster_autoscaler"]
    assert ca[ca["action"] == "ScaledUpGroup"][["time_s", "nodes"]].values.tolist() == [[320.0, 1]]
    assert set(new["node"]) == {"g-1"}
    assert (new["scheduled"] == 380.0).all() and (new["running"] == 382.0).all() and (new["ready"] == 385.0).all()
    # The chain of the scale-up: the load crossed 50 % * 1.1 = 55 % at the step at 300
    # (the 5 s load step before it was 50 %): HPA reaction 315 - 300 = 15, controller 0,
    # node provisioning 380 - max(320, 315) = 60, scheduling the rest of 380 - 315:
    # 5 (wait for the CA scan), start 2, readiness 3; total 385 - 300 = 85.
    chain = r.frames["scale_up_chain"]
    assert len(chain) == 1
    row = chain.iloc[0]
    assert (row["load_crossed_at"], row["hpa_reaction_s"], row["controller_s"]) == (300.0, 15.0, 0.0)
    assert (row["scheduling_s"], row["node_provisioning_s"], row["image_pull_s"]) == (5.0, 60.0, 0.0)
    assert (row["start_s"], row["readiness_s"], row["total_s"]) == (2.0, 3.0, 85.0)
    # Scale-down. From t = 900: 8 req/s over 4 pods = 2 each = 10 % (the scrape at 900
    # still averages [885, 900): 16 req/s / 4 = 40 %, ratio 0.8 -> recommends
    # ceil(4 * 0.8) = 4). From 915 the recommendation is ceil(4 * 0.2) = 1 -> minReplicas
    # 2; without behavior the HPA keeps the largest recommendation of the last 300 s, and
    # the 4 of t = 900 still counts at 1200 (exactly 300 s old), so the scale-down is at
    # the sync at 1215.
    assert _rescales(r)[1:] == [(1215.0, 4, 2)]
    # The ReplicaSet deletes the two newest pods (both on g-1); they terminate after the
    # 30 s grace period, at 1245.
    assert (new["finished"] == 1245.0).all()
    # g-1 is then empty: the first scan that sees it unneeded is 1250 (before, the
    # terminating pods hold 3000m = 75 % > 50 %). It may go once 1250 + 600 < now: the
    # scan at 1860 (1850 is not later than 1850). The scale-up cool-down (320 + 600 = 920)
    # is long over; g-0 stays (min_size 1).
    down = ca[ca["action"] != "ScaledUpGroup"]
    assert down[["time_s", "action", "nodes"]].values.tolist() == [[1860.0, "ScaleDownEmpty", 1]]
    sizes = r.frames["node_groups"]
    assert sizes[["time_s", "nodes", "upcoming"]].values.tolist() == [
        [0.0, 1, 0], [320.0, 1, 1], [380.0, 2, 0], [1860.0, 1, 0]]
    # Cost: g-0 for the whole 2400 s, g-1 from 380 to 1860 = 1480 s, at 1.0 per hour.
    assert r.summary()["node_cost"].iloc[0] == pytest.approx((2400 + 1480) / 3600)


def test_karpenter_provisioned_node_fills_the_chain(tmp_path: Path) -> None:
    # The same load with Karpenter-style provisioning on a fixed 4-CPU node holding the 2
    # replicas. The HPA scales to 4 at 315 (as above); the 2 new pods fail scheduling at
    # 315 and open a batch that closes 1 s after its last pod (batcher.go's idle
    # duration): at 316 one box.4x16 is launched for both, registered at 316 + 60 = 376
    # where they bind; running 378, ready 381.
    cluster = {"node_pools": [{"name": "fixed", "count": 1, "allocatable": {"cpu": "4", "memory": "16Gi"}}]}
    sim, r = _run(tmp_path, {"karpenter": KARPENTER}, cluster=cluster, duration=600)
    pods = r.pods
    new = pods[pods["created"] == 315.0]
    assert (new["scheduled"] == 376.0).all() and (new["ready"] == 381.0).all()
    row = r.frames["scale_up_chain"].iloc[0]
    # node provisioning 376 - max(316, 315) = 60; scheduling the rest of 376 - 315 = 1.
    assert (row["scheduling_s"], row["node_provisioning_s"]) == (1.0, 60.0)
    assert row["total_s"] == 381.0 - 300.0


def test_no_node_autoscaler_no_provisioning_time(tmp_path: Path) -> None:
    # A fixed cluster with room (two 4-CPU nodes, 5000m free after the 2 replicas): the
    # new pods bind at once at 315, so node_provisioning_s is 0 and scheduling_s 0.
    cluster = {"node_pools": [{"name": "fixed", "count": 2, "allocatable": {"cpu": "4", "memory": "16Gi"}}]}
    sim, r = _run(tmp_path, {}, cluster=cluster, duration=600)
    row = r.frames["scale_up_chain"].iloc[0]
    assert (row["scheduling_s"], row["node_provisioning_s"], row["total_s"]) == (0.0, 0.0, 320.0 - 300.0)


def test_the_chain_follows_the_scale_up_pods_not_later_replacements(tmp_path: Path) -> None:
    # As the first test, and at t = 600 an operator drains g-0: its 2 pods are evicted
    # and the ReplicaSet replaces them (created at 600, after another node). The chain
    # of the 315 scale-up (2 -> 4) follows its own 2 new pods, the first 2 created after
    # the decision, whatever happens before the next decision: total 85 s as before.
    sim, r = _run(tmp_path, {"cluster_autoscaler": CA}, duration=900,
                  actions=[{"at_s": 600, "action": "drain", "nodes": {"names": ["g-0"]}}])
    assert len(r.pods[r.pods["created"] == 600.0]) == 2
    chain = r.frames["scale_up_chain"]
    assert chain[["decided_at", "node_provisioning_s", "total_s"]].values.tolist() == [[315.0, 60.0, 85.0]]


@pytest.mark.parametrize("prepulled", [False, True])
def test_a_node_group_with_prepulled_images_skips_the_pull(tmp_path: Path, prepulled: bool) -> None:
    # As the first test, with an image catalog: web:1.0 is one 600 MB layer (6e8 bytes),
    # pulled at the default 100 MB/s = 6 s. The new node g-1 registers at 380 (as above)
    # where both new pods bind. Cold: the first pod's pull takes 380 -> 386 and it runs
    # 2 s later, at 388; the second pod's pull waits behind it (serialized pulls) and
    # finds the image there. With the group's template pre-pulling web:1.0 the node
    # registers with the image: no pull, running at 382 as without images.
    (tmp_path / "web.yaml").write_text(DEPLOYMENT)
    ca = {**CA, "node_groups": [{**CA["node_groups"][0], "template": {
        **CA["node_groups"][0]["template"], **({"prepulled_images": ["web:1.0"]} if prepulled else {})}}]}
    text = DEPLOYMENT.replace("- name: web\n", "- name: web\n          image: web:1.0\n")
    sim, r = _run(tmp_path, {"cluster_autoscaler": ca}, duration=600,
                  images={"catalog": [{"name": "web:1.0", "layers": [{"digest": "sha256:web", "size": "600M"}]}]},
                  manifest=text)
    new = r.pods[r.pods["created"] == 315.0].sort_values("running")
    assert (new["scheduled"] == 380.0).all()
    row = r.frames["scale_up_chain"].iloc[0]
    if prepulled:
        assert (new["image_pull_time"] == 0).all() and (new["running"] == 382.0).all()
        assert row["image_pull_s"] == 0.0
    else:
        first = new.iloc[0]
        assert (first["pull_start"], first["pull_end"], first["running"]) == (380.0, 386.0, 388.0)
        assert row["image_pull_s"] > 0
