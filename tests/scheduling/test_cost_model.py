"""The scheduler / API server cost model (k8sim.scheduling.cost): every latency derived
by hand.

cycle_s = cycle_base_s + per_node_plugin_s * (visited * filters_run + scored * scores_run);
the Binding completes bind_latency_s after it is sent (when the cycle ends), after the
client token bucket (golang.org/x/time/rate reservations) when client_qps is set.
"""

from __future__ import annotations

import numpy as np
import pytest

from k8sim import ScenarioError, validate_scenario
from k8sim.cluster import ops
from k8sim.cluster.pods import FAILED
from k8sim.scheduling.cost import PRESETS, CostModel, TokenBucket
from k8sim.sim.simulation import Simulation


def scenario(cost: dict | None, count: int = 3, nodes: int = 10, cpu: str = "1", preset: str = "spread") -> dict:
    sc = {
        "cluster": {"node_pools": [{"name": "n", "count": nodes, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
        "workloads": [{"name": "w", "arrival": {"kind": "burst", "count": count, "at_s": 0},
                       "template": {"requests": {"cpu": cpu, "memory": "1Gi"}}}],
        "scheduler": {"profiles": [{"preset": preset}]},
    }
    if cost is not None:
        sc["scheduler"]["costModel"] = cost
    return sc


def run(sc: dict) -> Simulation:
    sim = Simulation(validate_scenario(sc))
    sim.run()
    return sim


def scheduled(sim: Simulation) -> list[float]:
    pods = sim.state.pods
    return [float(pods.scheduled[i]) for i in range(pods.n)]


def test_token_bucket_reservations():
    # qps 2, burst 2, full at the start. Four calls at t=0: two tokens -> go at 0, 0; the
    # balance is then -1 -> 0 + 1/2 = 0.5, then -2 -> 0 + 2/2 = 1.0.
    b = TokenBucket(2, 2)
    assert [b.reserve(0.0) for _ in range(4)] == [0.0, 0.0, 0.5, 1.0]
    # At t=3 the balance -2 + 3 * 2 = 4 is capped at the burst 2: a call goes at once.
    assert b.reserve(3.0) == 3.0


def test_cycle_arithmetic():
    m = CostModel(cycle_base_s=1e-3, per_node_plugin_s=1e-5)
    # 1e-3 + 1e-5 * (10 * 2 + 10 * 1) = 1e-3 + 3e-4
    assert m.cycle_s(visited=10, filters_run=2, scored=10, scores_run=1) == pytest.approx(1.3e-3, rel=1e-12)
    assert m.bound_at(2.0) == 2.0  # no latency, no limiter


def test_preset_is_calibrated_to_scheduler_perf():
    base, per = PRESETS["scheduler-perf"]
    # SchedulingDaemonset/15000Nodes threshold 1100 pods/s: one node visited, no scoring.
    assert base == pytest.approx(1 / 1100, rel=1e-12)
    # SchedulingBasic/5000Nodes_10000Pods threshold 680 pods/s: 500 nodes visited and
    # scored (numFeasibleNodesToFind(5000) = 5000 * 10%), 4 filters and 3 scores.
    m = CostModel(base, per)
    assert 1 / m.cycle_s(500, 4, 500, 3) == pytest.approx(680, rel=1e-12)


def test_default_off_takes_no_time():
    sim = run(scenario(None))
    assert scheduled(sim) == [0.0, 0.0, 0.0]
    assert "scheduler_busy_s" not in sim.record().summary


def test_cycles_are_serial_and_binding_is_async():
    # 10 nodes (< 100: all visited), all feasible, so each cycle visits and scores 10.
    # The spread preset runs 4 filters for a plain pod (NodeUnschedulable, TaintToleration,
    # NodeAffinity, NodeResourcesFit; NodeName, NodePorts, GpuFit, PodTopologySpread and
    # InterPodAffinity skip at PreFilter) and 1 score (NodeResourcesFit).
    # cycle = 0.01 + 0.001 * (10 * 4 + 10 * 1) = 0.06 s. Cycles run back to back from t=0:
    # they end at 0.06, 0.12, 0.18; each Binding completes 0.5 s after: 0.56, 0.62, 0.68.
    sim = run(scenario({"cycle_base_s": 0.01, "per_node_plugin_s": 0.001, "bind_latency_s": 0.5}))
    assert scheduled(sim) == pytest.approx([0.56, 0.62, 0.68], abs=1e-12)
    assert sim.scheduler.busy_s == pytest.approx(0.18, abs=1e-12)
    log = sim.recorder
    kinds = [(log.kind[i], round(float(log.time[i]), 9)) for i in range(len(log)) if log.kind[i] == "Scheduled"]
    assert kinds == [("Scheduled", 0.56), ("Scheduled", 0.62), ("Scheduled", 0.68)]
    ops.check_invariants(sim.state)


def test_client_rate_limit_delays_bindings():
    # As above (cycles end at 0.06, 0.12, 0.18), no latency, client qps 10 burst 1:
    # t=0.06: 1 token (full) -> go at 0.06, balance 0;
    # t=0.12: 0 + 0.06 * 10 = 0.6 -> -0.4 -> go at 0.12 + 0.4 / 10 = 0.16;
    # t=0.18: -0.4 + 0.6 = 0.2 -> -0.8 -> go at 0.18 + 0.8 / 10 = 0.26.
    sim = run(scenario({"cycle_base_s": 0.01, "per_node_plugin_s": 0.001, "client_qps": 10, "client_burst": 1}))
    assert scheduled(sim) == pytest.approx([0.06, 0.16, 0.26], abs=1e-12)


def test_a_failed_cycle_costs_a_full_filter_pass():
    # A 5-cpu pod fits no 4-cpu node: every node is visited, none scored:
    # 0.01 + 0.001 * 10 * 4 = 0.05 s for its first attempt.
    sim = Simulation(validate_scenario(scenario({"cycle_base_s": 0.01, "per_node_plugin_s": 0.001}, count=1,
                                                cpu="5")))
    sim.env.run(until=0.5)  # the retry (backoff 1 s) has not come yet
    assert sim.scheduler.cycles == 1
    assert sim.scheduler.busy_s == pytest.approx(0.05, abs=1e-12)


@pytest.mark.slow
def test_5000_nodes_at_the_preset_rate():
    # 100 plain pods on 5000 empty nodes under kube-default: each cycle visits and scores
    # 500 nodes with 4 filters and 3 scores, i.e. 1/680 s; the last is bound at 100/680 s.
    sc = scenario({"preset": "scheduler-perf"}, count=100, nodes=5000, cpu="100m", preset="kube-default")
    sim = run(sc)
    t = np.array(scheduled(sim))
    assert t.max() == pytest.approx(100 / 680, rel=1e-9)
    assert np.diff(np.sort(t)) == pytest.approx(np.full(99, 1 / 680), rel=1e-6)


def test_1000_nodes_visit_the_adaptive_sample():
    # 1000 nodes: numFeasibleNodesToFind = 1000 * (50 - 1000 // 125)% = 420 visited and
    # scored; spread: 4 filters, 1 score. cycle = 0.001 + 1e-6 * (420 * 4 + 420 * 1) = 0.0031 s.
    sim = run(scenario({"cycle_base_s": 0.001, "per_node_plugin_s": 1e-6}, count=2, nodes=1000))
    assert sorted(scheduled(sim)) == pytest.approx([0.0031, 0.0062], abs=1e-12)


def test_pod_deleted_while_its_binding_is_in_flight():
    sim = Simulation(validate_scenario(scenario({"cycle_base_s": 0.01, "per_node_plugin_s": 0.001,
                                                 "bind_latency_s": 0.5}, count=1)))
    sim.env.run(until=0.1)  # assumed at t=0, its Binding completes at 0.56
    pods = sim.state.pods
    node = int(pods.node[0])
    assert node >= 0 and sim.state.nodes.requested[0, node] == 1000
    sim.api.delete_pod(0, 30.0, "Deleted")
    sim.run()
    assert pods.phase[0] == FAILED and sim.state.nodes.requested[0, node] == 0
    assert "Scheduled" not in list(sim.recorder.kind)
    ops.check_invariants(sim.state)


@pytest.mark.parametrize(
    "cost, extra, fragment",
    [
        ({"cycle_base_s": 0.01}, {}, "give a preset (scheduler-perf) or both"),
        ({"preset": "scheduler-perf"}, {"cycle_latency_s": 0.1}, "either cycle_latency_s or costModel"),
        ({"preset": "fastest"}, {}, "scheduler-perf"),
        ({"preset": "scheduler-perf", "bind_latency_s": -1}, {}, "greater than or equal to 0"),
    ],
)
def test_bad_cost_model(cost, extra, fragment):
    sc = scenario(cost)
    sc["scheduler"].update(extra)
    with pytest.raises(ScenarioError) as info:
        validate_scenario(sc)
    assert fragment in str(info.value)
