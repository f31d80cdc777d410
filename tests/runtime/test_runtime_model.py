"""The runtime model as a whole: off unless asked for, reproducible, common random
numbers across policies, summary metrics, eviction in the middle of a pull."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rt_helpers import MB, image, pool, row, run, scenario, workload

from k8sim import load_scenario
from k8sim.cluster.ops import check_invariants

REPO = Path(__file__).resolve().parents[2]


def const(v: float) -> dict:
    return {"kind": "constant", "value": v}


def test_scenarios_without_images_do_not_build_the_runtime_model():
    sc = load_scenario(REPO / "scenarios" / "quickstart.yaml", overrides=["workloads[0].max_pods=20",
                                                                         "workloads[1].max_pods=10"])
    sim, result = run(sc)
    assert sim.runtime is None and sim.kubelet.puller is None
    assert "image_pull_share" not in result.summary().columns
    started = result.pods[result.pods["running"].notna()]
    assert (started["ready"] == started["running"]).all()
    assert result.pods["image_pull_time"].isna().all() and (result.pods["restarts"] == 0).all()


def test_image_names_stay_informational_without_an_images_section():
    # An image outside any catalog is fine when images are not modelled.
    sc = scenario([pool()], [workload("w", [0.0], image="registry.example/x:1")])
    sim, result = run(sc)
    assert sim.runtime is None and row(result, "w-0")["running"] == 0.0


def test_summary_runtime_metrics():
    # a: pulls 100 MB (1 s), then start latency 1 s: startup 2 s, 1 s of it pulling.
    # b: its image is pre-pulled (IfNotPresent): startup 1 s, no pull.
    # image_pull_share = (1 + 0) / (2 + 1) = 1/3; pull times over pods that pulled: [1].
    cat = [image("a:1", ("a", 100 * MB)), image("b:1", ("b", 100 * MB))]
    sc = scenario(
        [pool(prepulled_images=["b:1"], kubelet={"serializeImagePulls": False})],
        [workload("a", [0.0], image="a:1", start_latency=const(1)),
         workload("b", [0.0], image="b:1", start_latency=const(1), readiness_delay=const(4))],
        catalog=cat,
    )
    _, result = run(sc)
    s = result.summary().iloc[0]
    assert s["image_pull_share"] == pytest.approx(1 / 3, rel=1e-12)
    assert s["image_pull_time_p50_s"] == 1.0 and s["image_pull_time_p95_s"] == 1.0
    assert s["pods_pulled"] == 1 and s["image_pull_failures"] == 0 and s["container_restarts"] == 0
    # Ready: a at 2 s (no readiness delay), b at 1 + 4 = 5 s: p50 of [2, 5] = 3.5.
    assert s["ready_latency_p50_s"] == 3.5


def rich_scenario(preset: str = "kube-default", seed: int = 3):
    return scenario(
        [pool(count=6, image_disk="450Mi", kubelet={"serializeImagePulls": False, "imageMinimumGCAgeSeconds": 0})],
        [workload("web", [float(t) for t in range(0, 300, 3)], duration=60.0, image="nginx",
                  requests={"cpu": "8"},
                  sandbox_latency={"kind": "uniform", "low": 0.5, "high": 1.5},
                  readiness_delay={"kind": "exponential", "mean": 3},
                  crash={"probability": 0.2, "after": {"kind": "uniform", "low": 1, "high": 20}},
                  image_pull_failure_probability=0.1),
         workload("py", [float(t) for t in range(1, 300, 7)], duration=90.0, image="python",
                  requests={"cpu": "16"}, imagePullPolicy="IfNotPresent")],
        images={}, builtin=True, seed=seed, scheduler={"profiles": [{"preset": preset}]},
    )


def check(sim) -> None:
    from k8sim.runtime.store import check_store

    check_invariants(sim.state)
    store = sim.runtime.store
    check_store(store, {n: list(sim.kubelet.puller.downloading(n)) for n in range(store.n)})
    # The disk-use log (the image_disk series) adds up, node by node, to the bytes used.
    logged = np.zeros(store.n, dtype=np.int64)
    np.add.at(logged, np.array(store.log_node, dtype=np.int64), np.array(store.log_delta, dtype=np.int64))
    assert np.array_equal(logged, store.disk_used)


@pytest.mark.parametrize("until", [2.0, 37.0, 150.0, None])
def test_store_stays_consistent(until):
    # Mid-run (downloads in flight, pods in back-off) and at the end.
    from k8sim import Simulation

    sim = Simulation(rich_scenario())
    if until is None:
        sim.run()
    else:
        sim.env.run(until=until)
    check(sim)


def test_same_seed_identical_results():
    sim, a = run(rich_scenario())
    check(sim)
    _, b = run(rich_scenario())
    for name in ("pods", "events", "nodes", "timeseries"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    # and the scenario exercises what it should
    assert a.pods["restarts"].sum() > 0 and a.pods["pull_failures"].sum() > 0
    assert (a.events["kind"] == "ImageGC").sum() > 0


def test_common_random_numbers_across_policies():
    # Per-pod draws depend only on (workload, pod index): sandbox latency (pull start -
    # bound, for pods that pull at once), readiness delay (ready - running) and the first
    # run's crash agree pod by pod between two profiles, while placements differ.
    sim_a, a = run(rich_scenario("kube-default"))
    sim_b, b = run(rich_scenario("binpack"))
    pa, pb = a.pods.set_index("pod"), b.pods.set_index("pod")
    assert not pa["node"].equals(pb["node"])
    rt_a, rt_b = sim_a.runtime.workloads[0], sim_b.runtime.workloads[0]
    for i in range(100):
        assert rt_a.sandbox.get(i) == rt_b.sandbox.get(i)
        assert rt_a.readiness.get(i) == rt_b.readiness.get(i)
        assert sim_a.kubelet._crash_after(-1, rt_a, i, 0) == sim_b.kubelet._crash_after(-1, rt_b, i, 0)
    both = pa.index[pa["ready"].notna() & pb["ready"].notna() & (pa["restarts"] == 0) & (pb["restarts"] == 0)]
    assert len(both) > 20
    np.testing.assert_allclose((pa.loc[both, "ready"] - pa.loc[both, "running"]).to_numpy(),
                               (pb.loc[both, "ready"] - pb.loc[both, "running"]).to_numpy(), rtol=0, atol=1e-9)


def test_eviction_during_a_pull():
    # A low-priority pod pulls a 1000 MB image (10 s); at 2 s a high-priority pod that
    # needs the whole node preempts it (grace 0): the victim ends Failed at 2 s, its pull
    # goes on in the background and the image is on the node at 10 s; nothing is left in
    # use, and the preemptor (another image, 1 s pull) starts at 3 s.
    cat = [image("big:1", ("b", 1000 * MB)), image("small:1", ("s", 100 * MB))]
    sc = scenario(
        [pool(kubelet={"serializeImagePulls": False})],
        [workload("low", [0.0], image="big:1", requests={"cpu": "64"}, terminationGracePeriodSeconds=0),
         workload("high", [2.0], image="small:1", requests={"cpu": "64"}, priority=100)],
        catalog=cat, duration_s=50,
    )
    sim, result = run(sc)
    check_invariants(sim.state)
    low, high = row(result, "low-0"), row(result, "high-0")
    assert low["phase"] == "Failed" and low["finished"] == 2.0 and np.isnan(low["running"])
    # The big download (1000 MB) shares the link with the small one from 2 s:
    # big has 800 MB left at 2 s; 50 MB/s each: small ends at 2 + 100/50 = 4 s.
    assert high["pull_end"] == 4.0 and high["running"] == 4.0
    store = sim.runtime.store
    assert store.image_present[store.catalog.id_of("big:1"), 0]
    assert store.image_in_use[store.catalog.id_of("big:1"), 0] == 0
    assert store.image_in_use[store.catalog.id_of("small:1"), 0] == 1


def test_nodes_added_later_get_a_store_column_and_their_pools_images():
    # A node added at 50 s through the Cluster API (as an autoscaler would) in the pool
    # that pre-pulls a:1: the kubelet, watching NodeAdded, grows the image store with a:1
    # present on the new node, so the pod that lands there does not pull.
    cat = [image("a:1", ("a", 100 * MB))]
    sc = scenario([pool(prepulled_images=["a:1"])],
                  [workload("w", [60.0], image="a:1", nodeName="p-extra")], catalog=cat, duration_s=100)
    from k8sim import Simulation

    sim = Simulation(sc)
    sim.env.run(until=50)
    nodes = sim.state.nodes
    sim.api.add_node(name="p-extra", allocatable=nodes.alloc[:, 0].copy(), labels={}, taints=[], pool=0)
    assert sim.runtime.store.n == 2  # at once, not when the first pod lands
    result = sim.run()
    r = row(result, "w-0")
    assert r["node"] == "p-extra" and r["running"] == 60.0 and np.isnan(r["pull_start"])
    assert sim.runtime.store.n == 2


def test_registry_bandwidth_runs_are_reproducible():
    # Many nodes finishing downloads at the same instants under the registry-wide limit:
    # completions are handled in a fixed order, so two runs give identical frames.
    sc = rich_scenario().model_copy(update={"images": rich_scenario().images.model_copy(
        update={"registry_bandwidth": 2 * 10**8})})
    _, a = run(sc)
    _, b = run(sc)
    pd.testing.assert_frame_equal(a.pods, b.pods)
    pd.testing.assert_frame_equal(a.events, b.events)
    assert a.pods["image_pull_time"].max() > 0
