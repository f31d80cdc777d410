"""Karpenter-style provisioning end to end, every number derived by hand from the
shipped catalogue (k8sim/data/instance_types/aws_us_east_1.csv, Karpenter's allocatable
and the us-east-1 list prices):

    type       alloc cpu  alloc memory  price/h
    c5.large   1930m      3114 MiB      0.085
    m5.large   1930m      6903 MiB      0.096
    r5.large   1930m      14481 MiB     0.126
    c5.xlarge  3920m      6584 MiB      0.170
    m5.xlarge  3920m      14162 MiB     0.192

Upstream: kubernetes-sigs/karpenter ``pkg/controllers/provisioning/batcher.go``
(idle 1 s, max 10 s), ``provisioning/scheduling/scheduler.go`` and the cloud provider's
cheapest-offering launch, ``pkg/controllers/disruption`` (emptiness, single-node
consolidation, ``consolidateAfter``). The disruption loop runs at t = 10, 20, ...
"""

from __future__ import annotations

import copy

import pytest

from k8sim.config.scenario import Scenario
from k8sim.sim.simulation import Simulation

TYPES = ["c5.large", "m5.large", "r5.large", "c5.xlarge", "m5.xlarge"]
BASE = {
    "version": 1,
    "seed": 5,
    "duration_s": 400,
    "cluster": {},
    "workloads": [{
        "name": "app",
        "arrival": {"kind": "burst", "count": 1, "at_s": 1},
        "template": {"requests": {"cpu": "1500m", "memory": "3Gi"}},
        "duration": {"kind": "constant", "value": 5000},
    }],
    "autoscaling": {"karpenter": {
        "provisioning_latency": {"kind": "constant", "value": 45},
        "node_pools": [{"name": "general", "requirements": [
            {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": TYPES}]}],
    }},
}


def _run(data):
    sim = Simulation(Scenario.model_validate(data))
    return sim, sim.run()


def _launches(res):
    k = res.frames["karpenter"]
    return k[k["action"] == "Launch"][["time_s", "offering"]].values.tolist()


@pytest.mark.parametrize(("memory", "expected"), [
    ("3Gi", "c5.large/on-demand"),   # 3072 MiB fits c5.large's 3114 MiB: cheapest, 0.085
    ("4Gi", "m5.large/on-demand"),   # 4096 MiB does not; m5.large (6903 MiB) at 0.096 is next
])
def test_the_cheapest_fitting_type_is_launched_after_the_batch_window(memory, expected):
    data = copy.deepcopy(BASE)
    data["workloads"][0]["template"]["requests"]["memory"] = memory
    sim, res = _run(data)
    # The pod arrives at 1 and fails scheduling; the batch closes 1 s later (idle), at 2.
    assert _launches(res) == [[2.0, expected]]
    # Ready at 2 + 45 = 47; the pod binds then.
    assert res.pods["scheduled"].tolist() == [47.0]
    nt = sim.state.nodes
    assert nt.node_labels(0)["node.kubernetes.io/instance-type"] == expected.split("/")[0]
    assert nt.node_labels(0)["karpenter.sh/capacity-type"] == "on-demand"


def test_spot_when_allowed_at_the_discounted_price():
    data = copy.deepcopy(BASE)
    pool = data["autoscaling"]["karpenter"]["node_pools"][0]
    pool["requirements"].append({"key": "karpenter.sh/capacity-type", "operator": "In",
                                 "values": ["spot", "on-demand"]})
    data["autoscaling"]["karpenter"]["spot_discount"] = 0.6
    _sim, res = _run(data)
    assert _launches(res) == [[2.0, "c5.large/spot"]]
    cost = res.frames["node_cost"]
    # c5.large spot: 0.085 x (1 - 0.6) = 0.034 per hour, from 47 to 400: 353 s.
    assert cost[["capacity_type", "cost"]].values.tolist() == [["spot", pytest.approx(0.034 * 353 / 3600)]]
    assert res.summary()["node_cost_spot"].iloc[0] == pytest.approx(0.034 * 353 / 3600)


def test_a_batch_is_packed_onto_the_cheapest_type_that_holds_it():
    data = copy.deepcopy(BASE)
    data["workloads"][0]["arrival"] = {"kind": "burst", "count": 2, "at_s": 1}
    data["workloads"][0]["template"]["requests"] = {"cpu": "1500m", "memory": "2Gi"}
    _sim, res = _run(data)
    # Two pods, 3000m and 4 GiB together: the .large types (1930m) cannot hold both,
    # so the NodeClaim keeps c5.xlarge (3920m, 6584 MiB) and m5.xlarge; c5.xlarge is
    # cheaper. One node, both pods on it.
    assert _launches(res) == [[2.0, "c5.xlarge/on-demand"]]
    assert res.pods["node"].nunique() == 1


def test_limits_cap_the_pool():
    data = copy.deepcopy(BASE)
    data["workloads"][0]["arrival"] = {"kind": "burst", "count": 3, "at_s": 1}
    data["workloads"][0]["template"]["requests"] = {"cpu": "1500m", "memory": "1Gi"}
    data["autoscaling"]["karpenter"]["node_pools"][0]["requirements"][0]["values"] = ["c5.large"]
    data["autoscaling"]["karpenter"]["node_pools"][0]["limits"] = {"cpu": "4"}
    sim, res = _run(data)
    # One pod per c5.large (1930m); at most floor(4000 / 1930) = 2 nodes within 4 CPUs:
    # the third pod stays Pending and is reported once.
    assert len(_launches(res)) == 2
    assert int(res.pods["scheduled"].isna().sum()) == 1
    assert sum("fits no offering" in w for w in sim.warnings) == 1


def test_an_empty_node_is_deleted_after_consolidate_after():
    data = copy.deepcopy(BASE)
    data["workloads"][0]["duration"] = {"kind": "constant", "value": 100}
    data["autoscaling"]["karpenter"]["node_pools"][0]["disruption"] = {"consolidate_after_s": 30}
    sim, res = _run(data)
    # Ready at 47, the pod ends at 147; consolidatable from 147 + 30 = 177: the
    # disruption pass at 180 deletes it (Emptiness; no pod to drain).
    k = res.frames["karpenter"]
    assert k[["time_s", "action"]].values.tolist() == [[2.0, "Launch"], [180.0, "Empty"]]
    removed = [float(sim.api.log.time[i]) for i in range(len(sim.api.log)) if sim.api.log.kind[i] == "NodeRemoved"]
    assert removed == [180.0]


def test_an_oversized_node_is_replaced_by_a_cheaper_one():
    data = copy.deepcopy(BASE)
    data["workloads"] = [
        {"name": "long", "arrival": {"kind": "burst", "count": 1, "at_s": 1},
         "template": {"requests": {"cpu": "1500m", "memory": "2Gi"}}, "duration": {"kind": "constant", "value": 5000}},
        {"name": "short", "arrival": {"kind": "burst", "count": 1, "at_s": 1},
         "template": {"requests": {"cpu": "1500m", "memory": "2Gi"}}, "duration": {"kind": "constant", "value": 100}},
    ]
    data["autoscaling"]["karpenter"]["node_pools"][0]["requirements"][0]["values"] = ["m5.large", "m5.xlarge"]
    sim, res = _run(data)
    k = res.frames["karpenter"]
    # Both pods (3000m) in one batch: only m5.xlarge holds both, ready at 47. The short
    # pod ends at 147; at the pass at 150 the node holds 1500m: it fits no other node,
    # but a new m5.large (0.096 < 0.192) holds it: Replace, the m5.large launched at
    # 150 is Ready at 195, then the old node is drained (the bare pod evicted, 30 s
    # grace) and removed at 225.
    assert k[["time_s", "action", "offering"]].values.tolist()[:3] == [
        [2.0, "Launch", "m5.xlarge/on-demand"], [150.0, "Replace", "m5.xlarge/on-demand"],
        [150.0, "Launch", "m5.large/on-demand"]]
    log = sim.api.log
    events = [(float(log.time[i]), log.kind[i], int(log.node[i])) for i in range(len(log))
              if log.kind[i] in ("NodeAdded", "NodeRemoved")]
    assert events[:3] == [(47.0, "NodeAdded", 0), (195.0, "NodeAdded", 1), (225.0, "NodeRemoved", 0)]


def test_consolidation_does_not_count_on_a_node_in_flight_for_pending_pods():
    # SimulateScheduling (pkg/controllers/disruption/helpers.go) places the pending pods
    # with the candidate's, and a candidate pod that would need a NodeClaim that has not
    # initialised stops the consolidation (UninitializedNodeError).
    # Pod x (1000m) at t = 1: a c5.large (1930m) launched at 2, Ready at 47. Pod y
    # (1000m) at t = 100 does not fit beside x (2000m > 1930m): a second c5.large is
    # launched at 100 + 1 = 101 (batch idle 1 s), Ready at 146. Node 0 is a candidate
    # from 47 + 30 = 77; in the passes at 110 .. 140 the in-flight node is y's, so x
    # fits nowhere and no cheaper type exists: nothing is disrupted. (Counting the
    # in-flight node as empty room deleted node 0 at 110 and lost x.)
    data = copy.deepcopy(BASE)
    data["workloads"] = [
        {"name": "x", "arrival": {"kind": "burst", "count": 1, "at_s": 1},
         "template": {"requests": {"cpu": "1", "memory": "1Gi"}}, "duration": {"kind": "constant", "value": 5000}},
        {"name": "y", "arrival": {"kind": "burst", "count": 1, "at_s": 100},
         "template": {"requests": {"cpu": "1", "memory": "1Gi"}}, "duration": {"kind": "constant", "value": 5000}},
    ]
    pool = data["autoscaling"]["karpenter"]["node_pools"][0]
    pool["requirements"][0]["values"] = ["c5.large"]
    pool["disruption"] = {"consolidation_policy": "WhenEmptyOrUnderutilized", "consolidate_after_s": 30}
    sim, res = _run(data)
    k = res.frames["karpenter"]
    assert k[["time_s", "action"]].values.tolist() == [[2.0, "Launch"], [101.0, "Launch"]]
    assert res.pods["scheduled"].tolist() == [47.0, 146.0]
