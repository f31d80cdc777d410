"""Components on the control plane: user components acting through the Cluster API, the
kubelet reacting to deletions and node removal, the scheduler reacting to what they free,
and the equivalence of the scheduler's failure cache. Expected times derived by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from k8sim import Simulation, load_scenario, run, validate_scenario
from k8sim.component import Context, Contribution

ROOT = Path(__file__).resolve().parents[2]


class Cordon:
    """Cordons one node at a given time (the worked example of docs/components.md)."""

    name = "cordon"

    def __init__(self, ctx: Context, node: str, at_s: float):
        self.ctx, self.node, self.at_s = ctx, node, at_s
        self.done_at: float | None = None

    def start(self) -> None:
        self.ctx.env.process(self._run())

    def _run(self):
        yield self.ctx.env.timeout(self.at_s)
        node = self.ctx.state.nodes.name_index[self.node]
        self.ctx.api.update_node(node, unschedulable=True)
        self.done_at = self.ctx.env.now

    def contribute(self) -> Contribution:
        return Contribution(provenance={"cordoned": self.node}, summary={"cordoned_at_s": self.done_at})


class DeleteAt:
    """Deletes the named pod at ``at_s`` with ``grace_s`` (as a controller would)."""

    name = "delete"

    def __init__(self, ctx: Context, pod: str, at_s: float, grace_s: float):
        self.ctx, self.pod, self.at_s, self.grace_s = ctx, pod, at_s, grace_s

    def start(self) -> None:
        def go():
            yield self.ctx.env.timeout(self.at_s)
            self.ctx.api.delete_pod(self.ctx.state.pods.names.index(self.pod), self.grace_s, "Evicted")
        self.ctx.env.process(go())

    def contribute(self) -> Contribution:
        return Contribution()


class RemoveNodeAt:
    name = "remove-node"

    def __init__(self, ctx: Context, node: str, at_s: float):
        self.ctx, self.node, self.at_s = ctx, node, at_s

    def start(self) -> None:
        def go():
            yield self.ctx.env.timeout(self.at_s)
            self.ctx.api.remove_node(self.ctx.state.nodes.name_index[self.node])
        self.ctx.env.process(go())

    def contribute(self) -> Contribution:
        return Contribution()


def two_pods_one_slot(nodes: int = 1) -> dict:
    # Each node fits one pod (cpu 1); two pods arrive at t=0, run 1000 s, start at once.
    return {
        "name": "slots",
        "scheduler": {"profiles": [{"disabled": ["DefaultPreemption"]}]},
        "cluster": {"node_pools": [{"name": "n", "count": nodes, "allocatable": {"cpu": "1", "memory": "4Gi"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 0}},
        "workloads": [{"name": "w", "arrival": {"kind": "burst", "count": 2, "at_s": 0},
                       "template": {"requests": {"cpu": "1"}},
                       "duration": {"kind": "constant", "value": 1000}}],
    }


def test_cordon_component_worked_example():
    # Two nodes, one pod every 10 s from t=0 (cpu 100m, runs for ever). Cordoning n-1 at
    # t=55 leaves n-0 for every pod created after it (t=60, 70, ..., 90: 4 pods).
    doc = {
        "name": "cordon", "duration_s": 100,
        "cluster": {"node_pools": [{"name": "n", "count": 2, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 0}},
        "workloads": [{"name": "w", "arrival": {"kind": "interval", "every_s": 10},
                       "template": {"requests": {"cpu": "100m", "memory": "100Mi"}}}],
    }
    result = run(validate_scenario(doc), components=[lambda ctx: Cordon(ctx, "n-1", 55.0)])
    pods = result.pods
    late = pods[pods["created"] > 55]
    assert len(late) == 4 and (late["node"] == "n-0").all()
    assert set(pods[pods["created"] < 55]["node"]) == {"n-0", "n-1"}  # spread before
    row = result.events[result.events["kind"] == "NodeUpdated"].iloc[0]
    assert (row["time"], row["node"], row["detail"]) == (55.0, "n-1", "cordoned")
    assert result.provenance["cordoned"] == "n-1"
    assert result.summary()["cordoned_at_s"].iloc[0] == 55.0


def test_deleted_pod_keeps_its_node_for_its_grace_period_then_frees_it():
    # w-0 runs on the only node from t=0; w-1 waits. w-0 is deleted at t=100 with 5 s of
    # grace: Killing at 100, Evicted (Failed) at 105, when the scheduler (watching
    # PodTerminated) retries w-1: its 1 s backoff expired long ago, so it binds at 105.
    result = run(validate_scenario(two_pods_one_slot()),
                 components=[lambda ctx: DeleteAt(ctx, "w-0", 100.0, 5.0)])
    pods = result.pods.set_index("pod")
    assert pods.loc["w-0", "phase"] == "Failed" and pods.loc["w-0", "finished"] == 105.0
    assert pods.loc["w-1", "scheduled"] == 105.0 and pods.loc["w-1", "running"] == 105.0
    ev = result.events[result.events["pod"] == "w-0"]
    assert list(zip(ev["kind"], ev["time"], strict=True))[-2:] == [("Killing", 100.0), ("Evicted", 105.0)]


def test_deleted_pending_pod_leaves_the_queue():
    # w-1 waits for the only slot (w-0 holds it until t=1000). Deleted at t=50 while
    # Pending, it fails at once and is not bound when w-0's end frees the node at 1000.
    result = run(validate_scenario(two_pods_one_slot()),
                 components=[lambda ctx: DeleteAt(ctx, "w-1", 50.0, 30.0)])
    pods = result.pods.set_index("pod")
    assert pods.loc["w-1", "phase"] == "Failed" and pods.loc["w-1", "finished"] == 50.0
    assert pd.isna(pods.loc["w-1", "scheduled"])
    row = result.events[result.events["kind"] == "Deleted"].iloc[0]
    assert (row["time"], row["pod"], row["detail"]) == (50.0, "w-1", "Evicted")


def test_removed_node_loses_its_pods_and_is_never_chosen_again():
    # Two one-slot nodes, three pods at t=0: two bound, the third waits. n-1 is removed at
    # t=10: its pod stays bound until the pod garbage collector's pass at 20 has kept n-1
    # in quarantine for 40 s: it is lost at 60 (NodeLost, no grace). The PodTerminated
    # retries the waiting pod, but n-1 is gone and n-0 full: it is still Pending at the end.
    doc = two_pods_one_slot(nodes=2)
    doc["workloads"][0]["arrival"]["count"] = 3
    doc["duration_s"] = 500
    result = run(validate_scenario(doc), components=[lambda ctx: RemoveNodeAt(ctx, "n-1", 10.0)])
    pods = result.pods.set_index("pod")
    lost = pods[pods["node"] == "n-1"].iloc[0]
    assert lost["phase"] == "Failed" and lost["finished"] == 60.0
    assert (pods["phase"] == "Pending").sum() == 1 and (pods["node"] == "n-1").sum() == 1
    assert "NodeLost" in set(result.events["kind"])
    assert result.nodes.set_index("node").loc["n-1", "removed"] == 10.0


def test_failure_cache_changes_nothing():
    # The scheduler skips the filters for a pod whose shape failed at the same cluster
    # generation; with the cache off every attempt runs them. Same tables either way.
    sc = load_scenario(ROOT / "scenarios" / "burst-overload.yaml")
    cached = Simulation(sc)
    plain = Simulation(sc)
    plain.scheduler.cache_failures = False
    a, b = cached.run(), plain.run()
    assert cached.scheduler.fast_failures > 0 and plain.scheduler.fast_failures == 0
    for name in ("pods", "nodes", "events", "timeseries"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    pd.testing.assert_frame_equal(a.summary(), b.summary())
