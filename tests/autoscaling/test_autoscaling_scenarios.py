"""The shipped pod + node autoscaling scenario and experiments, at a reduced size (6 h of
the day): scenarios/hpa-ca-diurnal.yaml, experiments/hpa-ca-binpack.yaml,
experiments/hpa-ca-vs-karpenter.yaml.

What is checked holds by construction, not by a recorded output: cost is node-hours
times the catalogue's list price, the scale-up chain's parts add up to its total and
its node provisioning is a wait on a node the autoscaler added, MostAllocated packs the
nodes in use fuller than LeastAllocated, and both node autoscalers follow the day
without thrashing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from k8sim import Simulation, load_scenario
from k8sim.config.instance_types import catalogue
from k8sim.experiments import experiment_from_data, sweep

REPO = Path(__file__).resolve().parents[2]
SIX_HOURS = 21_600


def _experiment(name: str, duration: float):
    path = REPO / "experiments" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    data["replications"] = 1
    if "list" in data:
        for point in data["list"]:
            point["duration_s"] = duration
    else:
        data["grid"] = {"duration_s": [duration]}
    return experiment_from_data(data, str(path), path.parent)


def test_hpa_ca_diurnal_scenario(tmp_path: Path) -> None:
    sim = Simulation(load_scenario(REPO / "scenarios" / "hpa-ca-diurnal.yaml",
                                   overrides=[f"duration_s={SIX_HOURS}"]))
    r = sim.run()
    s = r.summary().iloc[0]
    # Both autoscalers acted: the HPAs rescaled, the Cluster Autoscaler added and removed nodes.
    assert s["hpa_scale_ups"] > 0 and s["ca_nodes_added"] > 0 and s["ca_nodes_removed"] > 0
    # Cost = node-hours x the m5.xlarge us-east-1 list price of the shipped catalogue.
    price = catalogue()["m5.xlarge"].price_per_hour
    cost = r.frames["node_cost"]
    assert s["node_cost"] == pytest.approx(cost["node_hours"].sum() * price)
    # The chain's parts add up to its total; some scale-ups waited for a new node, each
    # such wait no longer than the longest request-to-registration of the CA's nodes.
    chain = r.frames["scale_up_chain"]
    parts = chain[["hpa_reaction_s", "controller_s", "scheduling_s", "node_provisioning_s", "image_pull_s",
                   "start_s", "readiness_s"]].sum(axis=1)
    assert np.allclose(parts, chain["total_s"])
    ledger = sim.ctx.components["node-cost"]
    nt = sim.state.nodes
    longest = max(float(nt.created_at[n]) - t for n, t in ledger.requested_at.items())
    waited = chain["node_provisioning_s"]
    assert (waited > 0).any() and (waited <= longest + 1e-9).all() and (chain["scheduling_s"] >= 0).all()
    # Nothing is left pending at the end: the node group followed the HPAs.
    assert s["pods_pending_at_end"] == 0


@pytest.mark.slow
def test_binpack_packs_the_day_tighter_than_kube_default(tmp_path: Path) -> None:
    t = sweep(_experiment("hpa-ca-binpack", SIX_HOURS), out_dir=tmp_path / "out").set_index("profile")
    assert (t["status"] == "ok").all()
    # MostAllocated fills the nodes in use fuller than LeastAllocated.
    assert t.loc["binpack", "mean_cpu_utilization"] > t.loc["kube-default", "mean_cpu_utilization"]
    assert (t["service_availability"] >= 0.999).all()


@pytest.mark.slow
def test_cluster_autoscaler_vs_karpenter_side_by_side(tmp_path: Path) -> None:
    t = sweep(_experiment("hpa-ca-vs-karpenter", SIX_HOURS), out_dir=tmp_path / "out")
    assert (t["status"] == "ok").all() and len(t) == 2
    ca = t[t["ca_nodes_added"].notna()].iloc[0]
    kp = t[t["karpenter_nodes_launched"].notna()].iloc[0]
    assert ca["ca_nodes_added"] > 0 and kp["karpenter_nodes_launched"] > 0
    # Cost and SLO columns side by side.
    for col in ("node_cost", "slo_violation_share", "service_availability", "scale_up_to_ready_s_mean"):
        assert np.isfinite(ca[col]) and np.isfinite(kp[col])
    # Consolidation follows the load without thrashing: fewer launches than the CA's
    # scans in the period would allow one per 10 s pass (a consolidation that trusted an
    # in-flight node reserved for pending pods deleted a node every 30 s).
    assert kp["karpenter_nodes_launched"] < SIX_HOURS / 600


def test_flash_crowd_cold_nodes_pull_and_prepulled_nodes_do_not() -> None:
    path = REPO / "scenarios" / "hpa-ca-flash-crowd.yaml"
    exp = yaml.safe_load((REPO / "experiments" / "flash-crowd-images.yaml").read_text())
    runs = {}
    for point in exp["list"]:
        ((key, value),) = point.items()
        runs[bool(value)] = Simulation(load_scenario(path, overrides=[f"{key}={yaml.safe_dump(value).strip()}"])).run()
    cold, warm = runs[False], runs[True]
    for r in (cold, warm):
        assert r.summary()["ca_nodes_added"].iloc[0] > 0
    # The scale-ups that waited for a new node: on a cold node the pod pulled web:1.0
    # (1.2 GB at 100 MB/s = 12 s of the chain); on a pre-pulled one it did not.
    c = cold.frames["scale_up_chain"]
    w = warm.frames["scale_up_chain"]
    assert (c[c["node_provisioning_s"] > 0]["image_pull_s"] > 0).all()
    assert (w["image_pull_s"] == 0).all() and (w["node_provisioning_s"] > 0).any()
    pods = cold.pods
    pulled = pods[pods["image_pull_time"] > 0]
    assert len(pulled) and (pulled["image_pull_time"] >= 12.0 - 1e-9).all()
