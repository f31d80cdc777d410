"""The Cluster Autoscaler in the event loop, end to end, every number derived by hand.

Upstream: kubernetes/autoscaler ``cluster-autoscaler/core/static_autoscaler.go``
(``RunOnce``: scale-up for unschedulable pods, else scale-down), the binpacking
estimator (``estimator/binpacking_estimator.go``), ``core/scaledown/unneeded/nodes.go``
(``since + unneeded time < now``) and ``RunOnce``'s scale-down cool-downs. Scans run at
t = 0, 10, 20, ... (``--scan-interval`` 10 s).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from k8sim.config.scenario import Scenario
from k8sim.sim.simulation import Simulation

BASE = {
    "version": 1,
    "seed": 3,
    "duration_s": 1200,
    "cluster": {},
    "workloads": [{
        "name": "batch",
        "arrival": {"kind": "burst", "count": 7, "at_s": 1},
        "template": {"requests": {"cpu": "1500m", "memory": "1Gi"}},
        "duration": {"kind": "constant", "value": 300},
    }],
    "autoscaling": {"cluster_autoscaler": {
        "provisioning_latency": {"kind": "constant", "value": 45},
        "node_groups": [{"name": "g", "max_size": 10, "price_per_hour": 1.0,
                         "template": {"allocatable": {"cpu": "4", "memory": "16Gi"}}}],
    }},
}


def _run(data):
    sim = Simulation(Scenario.model_validate(data))
    return sim, sim.run()


def _scenario(**ca):
    data = copy.deepcopy(BASE)
    data["autoscaling"]["cluster_autoscaler"].update(ca)
    return data


def _log(sim, kind):
    log = sim.api.log
    return [(float(log.time[i]), int(log.node[i])) for i in range(len(log)) if log.kind[i] == kind]


def test_scale_up_adds_the_binpacked_node_count_and_pods_bind_when_nodes_are_ready():
    sim, res = _run(_scenario())
    nt = sim.state.nodes
    # 7 pods of 1500m on 4-CPU template nodes: 2 per node (3000m; a third needs 4500m),
    # so ceil(7 / 2) = 4 nodes. The pods fail scheduling at t = 1; the first scan that
    # sees them is t = 10; the nodes register at 10 + 45 = 55 and the pods bind then.
    added = _log(sim, "NodeAdded")
    assert [t for t, _ in added] == [55.0] * 4
    assert sorted(nt.names[n] for _, n in added) == ["g-0", "g-1", "g-2", "g-3"]
    assert (res.pods["scheduled"] == 55.0).all()
    ca = res.frames["cluster_autoscaler"]
    up = ca[ca["action"] == "ScaledUpGroup"]
    assert up[["time_s", "group", "nodes"]].values.tolist() == [[10.0, "g", 4]]


def test_idle_nodes_leave_after_the_unneeded_time_on_the_scan_grid():
    sim, res = _run(_scenario())
    # The pods end at 55 + 300 = 355; the nodes are empty from the scan at 360 on
    # (before, three nodes hold 3000m/4000m = 0.75 >= 0.5, and the fourth's lone pod
    # fits nowhere else). The cool-down after the scale-up ends at 10 + 600 = 610.
    # Removable when 360 + 600 < now: the scan at 970 (960 is not strictly later).
    removed = _log(sim, "NodeRemoved")
    assert [t for t, _ in removed] == [970.0] * 4
    # Node-hours: 4 nodes x (970 - 55) s = 3660 s = 1.016667 h, at 1.0 per hour.
    cost = res.frames["node_cost"]
    assert cost["node_hours"].sum() == pytest.approx(4 * 915 / 3600)
    assert res.summary()["node_cost"].iloc[0] == pytest.approx(4 * 915 / 3600)
    sizes = res.frames["node_groups"]
    assert sizes[["time_s", "nodes", "upcoming"]].values.tolist()[-1] == [970.0, 0, 0]


def test_an_initial_idle_node_is_removed_at_the_first_scan_past_the_unneeded_time():
    data = _scenario(scale_down_unneeded_time_s=125)
    data["workloads"] = []
    data["autoscaling"]["cluster_autoscaler"]["node_groups"][0]["initial_size"] = 1
    sim, _res = _run(data)
    # Unneeded since the scan at 0 (no scale-up, so no cool-down); 0 + 125 < now first
    # holds at the scan at 130.
    assert _log(sim, "NodeRemoved") == [(130.0, 0)]


def test_min_size_keeps_nodes():
    data = _scenario(scale_down_unneeded_time_s=0)
    data["workloads"] = []
    data["autoscaling"]["cluster_autoscaler"]["node_groups"][0].update(initial_size=3, min_size=2)
    sim, _res = _run(data)
    # One node may go (3 - 0 deletions > 2), then the group is at its minimum.
    assert len(_log(sim, "NodeRemoved")) == 1


TWO_GROUPS = [
    {"name": "small", "max_size": 10, "price_per_hour": 0.1,
     "template": {"allocatable": {"cpu": "2", "memory": "8Gi"}}},
    {"name": "large", "max_size": 10, "price_per_hour": 0.4,
     "template": {"allocatable": {"cpu": "8", "memory": "32Gi"}}},
]


@pytest.mark.parametrize(("expander", "group", "nodes"), [
    # 4 pods of 1 CPU / 2 GiB. small: 2 per node -> 2 nodes, waste cpu 0 + memory
    # (16 - 8)/16 = 0.5; large: 1 node, waste cpu (8 - 4)/8 + memory (32 - 8)/32 = 1.25.
    (["least-waste"], "small", 2),
    # priority: large has the higher priority (waste.go / priority.go).
    (["priority"], "large", 1),
])
def test_expander_choice(expander, group, nodes):
    data = _scenario(node_groups=TWO_GROUPS, expander=expander, priorities={10: ["large"], 1: ["small"]})
    data["workloads"][0]["arrival"]["count"] = 4
    data["workloads"][0]["template"]["requests"] = {"cpu": "1", "memory": "2Gi"}
    _sim, res = _run(data)
    up = res.frames["cluster_autoscaler"].query("action == 'ScaledUpGroup'")
    assert up[["group", "nodes"]].values.tolist() == [[group, nodes]]


def test_the_scenario_filters_decide_the_template_fit():
    # The template carries a taint the pods do not tolerate, and a second group does
    # not: TaintToleration rejects the first template, so the second grows.
    groups = copy.deepcopy(TWO_GROUPS)
    groups[0]["template"]["taints"] = [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    data = _scenario(node_groups=groups, expander=["least-waste"])
    data["workloads"][0]["arrival"]["count"] = 4
    data["workloads"][0]["template"]["requests"] = {"cpu": "1", "memory": "2Gi"}
    _sim, res = _run(data)
    up = res.frames["cluster_autoscaler"].query("action == 'ScaledUpGroup'")
    assert up[["group", "nodes"]].values.tolist() == [["large", 1]]


def test_a_pod_no_template_fits_is_reported_once():
    data = _scenario()
    data["workloads"][0]["template"]["requests"] = {"cpu": "6", "memory": "1Gi"}
    sim, res = _run(data)
    log = sim.api.log
    kinds = [log.kind[i] for i in range(len(log))]
    # 7 such pods, 120 scans: one report (one pod shape), no node.
    assert kinds.count("NotTriggerScaleUp") == 1
    assert kinds.count("NodeAdded") == 0
    assert sum("fits no node group's template" in w for w in sim.warnings) == 1
    assert res.frames["cluster_autoscaler"].empty


def test_a_node_past_max_provision_time_backs_the_group_off():
    data = _scenario(provisioning_latency={"kind": "constant", "value": 100}, max_node_provision_time_s=50)
    data["workloads"][0]["arrival"]["count"] = 1
    data["duration_s"] = 1000
    _sim, res = _run(data)
    ca = res.frames["cluster_autoscaler"]
    # Scale-up at 10; the node would register at 110 > 10 + 50: given up at 60, the
    # group backed off for 300 s (until 360). Scale-up again at the scan at 360, given
    # up at 410; that failure comes after the back-off ended, so it doubles: 600 s.
    assert ca[["time_s", "action"]].values.tolist() == [
        [10.0, "ScaledUpGroup"], [60.0, "FailedToScaleUpGroup"],
        [360.0, "ScaledUpGroup"], [410.0, "FailedToScaleUpGroup"]]
    assert "until 1010s" in ca["detail"].iloc[-1]


def _two_idle_nodes(unneeded_s: float = 60):
    data = _scenario(scale_down_unneeded_time_s=unneeded_s)
    data["autoscaling"]["cluster_autoscaler"]["node_groups"][0]["initial_size"] = 2
    data["duration_s"] = 300
    return data


def test_a_bare_pod_blocks_scale_down():
    # drainability rules (replicated.go): a pod with no controller makes its node
    # unremovable (NotReplicated), however idle the node.
    data = _two_idle_nodes()
    data["workloads"][0]["arrival"]["count"] = 2
    data["workloads"][0]["template"]["requests"] = {"cpu": "1", "memory": "1Gi"}
    data["workloads"][0]["duration"] = {"kind": "constant", "value": 5000}
    sim, _res = _run(data)
    assert _log(sim, "NodeRemoved") == []


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 30
      containers: [{name: web, image: web:1, resources: {requests: {cpu: "1", memory: 1Gi}}}]
"""


def test_a_node_whose_pods_fit_elsewhere_is_drained_and_removed(tmp_path):
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT)
    data = _two_idle_nodes()
    data["workloads"] = [{"name": "web", "manifest": str(manifest)}]
    sim, res = _run(data)
    pods = res.pods
    first = pods.sort_values("created").head(2)
    assert sorted(first["node"]) == ["g-0", "g-1"]  # LeastAllocated spreads them
    # Each node is at 1000m/4000m = 0.25 < 0.5 and either pod fits the other node; the
    # first candidate (lowest column, g-0) is unneeded from the first scan after both
    # pods are bound, ``since``; removable at the first scan with since + 60 < now,
    # since + 70. The drain evicts its pod (the ReplicaSet recreates it, on g-1); the
    # evicted pod keeps its node for its 30 s grace period, then the node leaves.
    since = 10.0 * np.ceil(first["scheduled"].max() / 10.0)
    ca = res.frames["cluster_autoscaler"]
    assert ca[["time_s", "action", "detail"]].values.tolist() == [
        [since + 70, "ScaleDown", "draining node g-0"], [since + 100, "ScaleDownDrained", "removed node g-0"]]
    assert _log(sim, "NodeRemoved") == [(since + 100, 0)]
    live = pods[pods["phase"] == "Running"]
    assert live["node"].tolist() == ["g-1", "g-1"]


def test_same_seed_same_tables():
    _s1, a = _run(_scenario())
    _s2, b = _run(_scenario())
    for name in ("node_groups", "node_cost", "cluster_autoscaler"):
        assert a.frames[name].equals(b.frames[name])
    assert np.array_equal(a.pods["scheduled"].to_numpy(), b.pods["scheduled"].to_numpy())


def test_nodes_per_group_plot_has_title_units_and_legend():
    from k8sim.metrics.plots import node_groups

    _sim, res = _run(_scenario())
    fig = node_groups(res)
    ax = fig.axes[0]
    assert "Nodes per node group" in ax.get_title()
    assert ax.get_xlabel() == "virtual time (s)" and ax.get_ylabel() == "nodes"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    # The legend names the group, its autoscaler, node-hours and cost (4 x 915 s).
    assert labels[0] == f"g (cluster-autoscaler, {4 * 915 / 3600:.3g} node-h, cost {4 * 915 / 3600:.3g})"
