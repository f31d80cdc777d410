"""SimKube traces replayed through the controllers (trace args.replay: controllers)."""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from k8sim.config.loader import ScenarioError, validate_scenario
from k8sim.controllers.simkube import synthetic_trace
from k8sim.sim.simulation import Simulation

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def run(tmp_path, **trace_extra):
    p = tmp_path / "shop.sktrace"
    p.write_bytes(msgpack.packb(synthetic_trace()))
    sc = validate_scenario({
        "name": "sk", "duration_s": 2500,
        "cluster": {"node_pools": [{"name": "n", "count": 4, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 2}},
        "workloads": [{"name": "shop", "trace": {"format": "simkube", "files": [str(p)],
                                                  "args": {"replay": "controllers"}, **trace_extra}}],
    }, source="sk.yaml", base_dir=tmp_path)
    return Simulation(sc).run()


def test_trace_objects_drive_the_controllers(tmp_path):
    r = run(tmp_path)
    pods = r.pods
    owner = pods["owner"].str.rsplit("-", n=1).str[0]
    front = pods[owner == "shop/frontend"]
    # frontend: 4 at 0, scaled to 8 at 300 (4 more), back to 4 at 1500: four pods are
    # deleted then (which four is the ranking's business) and end after the default
    # 30 s grace period, at 1530.
    assert sorted(front["created"]) == [0.0] * 4 + [300.0] * 4
    assert sorted(front["finished"].dropna()) == [1530.0] * 4
    # cart: image cart:2 at 600. 2 replicas: maxSurge ceil(0.5) = 1, maxUnavailable
    # floor(0.5) = 0. New pod at 600 (available 602); old 2 -> 1 at 602 and the second new
    # pod at 602 (available 604); old 1 -> 0 at 604: the rollout completes at 604.
    ro = r.frames["rollouts"]
    cart = ro[(ro["deployment"] == "cart") & (ro["revision"] == 2)].iloc[0]
    assert (cart["started"], cart["completed"]) == (600.0, 604.0)
    cart_new = pods[(pods["created"] >= 600) & pods["owner"].str.startswith("shop/cart")]
    assert sorted(cart_new["created"]) == [600.0, 602.0]
    # search: 3 at 0, 3 more at 900, deleted at 1800: all six end at 1830.
    search = pods[owner == "shop/search"]
    assert len(search) == 6 and set(search["finished"]) == {1830.0}
    hist = r.frames["replica_history"]
    assert hist[hist["object"] == "shop/search"]["desired"].tolist() == [3, 6, 0]
    assert len(pods) == 18


def test_time_scale_and_window(tmp_path):
    # Window [300, 2000) with time_scale 0.5: the state at 300 (frontend 8) at time 0,
    # the cart rollout at (600 - 300) * 0.5 = 150.
    r = run(tmp_path, start_s=300, end_s=2000, time_scale=0.5)
    ro = r.frames["rollouts"]
    assert ro[(ro["deployment"] == "cart") & (ro["revision"] == 2)]["started"].tolist() == [150.0]
    front = r.pods[r.pods["owner"].str.startswith("shop/frontend")]
    assert (front["created"] == 0).sum() == 8


def test_options_that_do_not_apply_are_errors(tmp_path):
    with pytest.raises(ScenarioError, match="sample_fraction: does not apply"):
        run(tmp_path, sample_fraction=0.5)


def test_shipped_trace_is_the_synthetic_one():
    assert (SCENARIOS / "data" / "shop.sktrace").read_bytes() == msgpack.packb(synthetic_trace())


SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "traces" / "simkube-dsb-scaling"


@pytest.mark.slow
def test_real_dsb_trace_through_controllers(tmp_path):
    # SimKube's dsb-scaling example (skipped when absent): 27 Deployments of 1 replica
    # (cpu 1, memory 1Gi each) at the first event, then replica changes (seconds after the
    # start, new count): 423 social-graph 3 | 548 url-shorten 2, compose-post 4,
    # home-timeline 2 | 551 user-timeline 2 | 553 text 3 | 556 nginx-thrift 2 | 563
    # compose-post 6 | 583 text 5 | 768 social-graph 1 | 789 post-storage 3 | 797 nginx 4 |
    # 812 nginx 8 | 819 post-storage 5 | 827 nginx 10 | 953 url-shorten 1 | 986
    # user-timeline 1 | 988 text 1 | 1134 compose-post 2. The controllers create
    # 27 + 27 = 54 pods (increases: 2+1+3+1+1+2+1+2+2+2+2+4+2+2 = 27) and delete 2 + 1 + 1
    # + 4 + 4 = 12, each ending 30 s (default grace) after its scale-down.
    path = SHARED / "dsb-scaling.sktrace"
    if not path.exists():
        pytest.skip("public trace not available: dsb-scaling.sktrace")
    sc = validate_scenario({
        "name": "dsb", "duration_s": 1500,
        "cluster": {"node_pools": [{"name": "n", "count": 20, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 2}},
        "workloads": [{"name": "dsb", "trace": {"format": "simkube", "files": [str(path)],
                                                "args": {"replay": "controllers"}}}],
    }, source="dsb.yaml", base_dir=tmp_path)
    r = Simulation(sc).run()
    pods = r.pods
    assert len(pods) == 54
    ended = sorted(pods["finished"].dropna().tolist())
    assert ended == sorted([768 + 30.0] * 2 + [953 + 30.0] + [986 + 30.0] + [988 + 30.0] * 4 + [1134 + 30.0] * 4)
    hist = r.frames["replica_history"]
    nginx = hist[hist["object"] == "dsb/nginx-thrift"]
    assert nginx["desired"].tolist() == [1, 2, 4, 8, 10]
    assert nginx["time"].tolist() == [0.0, 556.0, 797.0, 812.0, 827.0]
    assert r.summary()["availability"].iloc[0] > 0.99
