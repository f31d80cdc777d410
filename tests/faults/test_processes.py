"""Failure processes: statistics against closed forms, common random numbers across
policies, spot interruptions, zone outages and empirical times, all derived by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from k8sim import Simulation, validate_scenario


def cluster(pools: list[dict]) -> dict:
    return {"node_pools": [{"allocatable": {"cpu": "4", "memory": "8Gi"}, **p} for p in pools]}


def downs(result) -> list[tuple[float, str, str]]:
    ev = result.events[result.events["kind"].isin(["NodeDown", "NodeUp"])]
    return list(zip(ev["time"], ev["kind"].astype(str), ev["node"], strict=True))


def test_exponential_failures_reproduce_availability_mtbf_over_mtbf_plus_mttr() -> None:
    # 50 nodes, exponential up (mean a = 900 s) and down (mean b = 100 s) times:
    # availability A = a / (a + b) = 0.9. For an alternating renewal process the time
    # average of "up" over T has asymptotic variance (a^2 var_b + b^2 var_a) / ((a+b)^3 T)
    # = 2 a^2 b^2 / ((a+b)^3 T) for exponentials: 2 * 900^2 * 100^2 / (1000^3 * 36000)
    # = 4.5e-4, sd 0.0212 per node; 50 independent nodes: sd 0.0030. The start (every
    # node up at 0) biases the mean by about (1-A) * (ab/(a+b)) / T = 2.5e-4. Tolerance
    # 4 sd = 0.012.
    sc = validate_scenario({
        "name": "mtbf", "seed": 11, "duration_s": 36000,
        "cluster": cluster([{"name": "a", "count": 50}]),
        "failures": [{"kind": "node", "time_to_failure": {"kind": "exponential", "mean": 900},
                      "time_to_repair": {"kind": "exponential", "mean": 100}}],
    })
    r = Simulation(sc).run()
    s = r.summary().iloc[0]
    assert abs(s["node_availability"] - 0.9) < 0.012
    # About T / (a + b) = 36 failures per node.
    assert 0.8 * 36 * 50 < s["node_failures"] < 1.2 * 36 * 50
    f = r.frames["failures"]
    assert f["downtime_s"].sum() == pytest.approx(s["node_downtime_s"])


def _two_policy_scenario(profile: str, count: int = 6) -> object:
    return validate_scenario({
        "name": "crn", "seed": 5, "duration_s": 4000,
        "cluster": cluster([{"name": "a", "count": count, "zones": ["x", "y"]}]),
        "workloads": [{"name": "w", "arrival": {"kind": "poisson", "rate_per_s": 0.05},
                       "template": {"requests": {"cpu": "500m"}},
                       "duration": {"kind": "exponential", "mean": 300}}],
        "scheduler": {"profiles": [{"schedulerName": "default-scheduler", "preset": profile}]},
        "failures": [
            {"kind": "node", "time_to_failure": {"kind": "weibull", "shape": 1.5, "scale": 1500},
             "time_to_repair": {"kind": "exponential", "mean": 200}},
            {"kind": "zone_outages", "time_between": {"kind": "exponential", "mean": 3000},
             "duration": {"kind": "constant", "value": 300}},
        ],
    })


def test_same_seed_same_faults_whatever_the_scheduler() -> None:
    # Fault times come from streams keyed by (source, node or zone name): the scheduling
    # policy cannot change them, though it changes which pods are hit.
    a = Simulation(_two_policy_scenario("kube-default")).run()
    b = Simulation(_two_policy_scenario("binpack")).run()
    assert downs(a) == downs(b) and len(downs(a)) > 4
    assert not a.pods[["pod", "node"]].equals(b.pods[["pod", "node"]])  # the policies did differ


def test_a_node_added_to_the_pool_leaves_the_others_faults_alone() -> None:
    a = Simulation(_two_policy_scenario("kube-default", count=6)).run()
    b = Simulation(_two_policy_scenario("kube-default", count=8)).run()

    def node_faults(r, node: str) -> list:
        return [(t, k) for t, k, n in downs(r) if n == node]

    # The per-node process of a-0 is the same; zone outages hit the same times.
    assert node_faults(a, "a-0") == node_faults(b, "a-0") != []


def test_empirical_times_from_csv_give_a_fixed_cycle(tmp_path) -> None:
    # time_to_failure always 200, time_to_repair always 100 (one-value CSV columns):
    # down 200..300, 500..600, 800..900; stop_s 850 lets no failure begin after 850.
    (tmp_path / "ttf.csv").write_text("seconds\n200\n")
    (tmp_path / "ttr.csv").write_text("100\n")
    sc = validate_scenario({
        "name": "emp", "duration_s": 1000, "cluster": cluster([{"name": "a", "count": 2}]),
        "failures": [{"kind": "node", "nodes": {"names": ["a-1"]}, "stop_s": 850,
                      "time_to_failure": {"kind": "empirical", "path": "ttf.csv", "column": "seconds"},
                      "time_to_repair": {"kind": "empirical", "path": "ttr.csv"}}],
    }, base_dir=tmp_path)
    r = Simulation(sc).run()
    assert downs(r) == [(200.0, "NodeDown", "a-1"), (300.0, "NodeUp", "a-1"), (500.0, "NodeDown", "a-1"),
                        (600.0, "NodeUp", "a-1"), (800.0, "NodeDown", "a-1"), (900.0, "NodeUp", "a-1")]
    assert r.summary().iloc[0]["node_downtime_s"] == 300.0


def test_zone_outages_per_zone_and_overlapping_causes() -> None:
    # Zone x (a-0, a-2) down after 100 s up for 50 s, again and again: 100..150,
    # 250..300, 400..450 (the next would start at 550 > stop_s 500). a-0 also has its own
    # outage 120..260: it is down while either holds: 100..300 continuously, then
    # 400..450.
    sc = validate_scenario({
        "name": "z", "duration_s": 700, "cluster": cluster([{"name": "a", "count": 4, "zones": ["x", "y"]}]),
        "failures": [
            {"kind": "zone_outages", "zones": ["x"], "stop_s": 500,
             "time_between": {"kind": "constant", "value": 100}, "duration": {"kind": "constant", "value": 50}},
            {"kind": "outage", "name": "disk", "nodes": {"names": ["a-0"]}, "at_s": 120, "duration_s": 140},
        ],
    })
    r = Simulation(sc).run()
    a2 = [(t, k) for t, k, n in downs(r) if n == "a-2"]
    assert a2 == [(100.0, "NodeDown"), (150.0, "NodeUp"), (250.0, "NodeDown"), (300.0, "NodeUp"),
                  (400.0, "NodeDown"), (450.0, "NodeUp")]
    a0 = [(t, k) for t, k, n in downs(r) if n == "a-0"]
    assert a0 == [(100.0, "NodeDown"), (300.0, "NodeUp"), (400.0, "NodeDown"), (450.0, "NodeUp")]
    f = r.frames["failures"]
    assert f[f["node"] == "a-2"]["cause"].tolist() == ["zone_outages[0] x"] * 3
    assert set(f["kind"]) == {"zone_outages"}
    assert not any(n.startswith("a-1") or n.startswith("a-3") for _, _, n in downs(r))


def test_spot_interruption_notice_drain_removal_and_replacement() -> None:
    # Spot nodes spot-0, spot-1 (created at 0) are interrupted at 0 + 100: notice rows,
    # cordon, drain (reason SpotInterruption; 30 s grace: the pods end at 130), removal
    # at 100 + 60 = 160, replacements spot-2 and spot-3 join at 160 + 50 = 210; they
    # are spot nodes too: interrupted at 310, removed at 370; the next replacements
    # would join at 420, after the end (400).
    sc = validate_scenario({
        "name": "spot", "duration_s": 400,
        "cluster": cluster([{"name": "od", "count": 1}, {"name": "spot", "count": 2}]),
        "initial_pods": [{"name": f"p{i}", "nodeName": f"spot-{i}", "requests": {"cpu": "1"}} for i in (0, 1)],
        "failures": [{"kind": "spot", "nodes": {"pool": "spot"}, "notice_s": 60,
                      "time_to_interruption": {"kind": "constant", "value": 100},
                      "replacement_delay": {"kind": "constant", "value": 50}}],
    })
    r = Simulation(sc).run()
    ev = r.events
    notice = ev[(ev["kind"] == "SpotInterruption") & (ev["pod"] == "")]  # (the pods' ends share the kind)
    assert list(zip(notice["time"], notice["node"], strict=True)) == [
        (100.0, "spot-0"), (100.0, "spot-1"), (310.0, "spot-2"), (310.0, "spot-3")]
    removed = ev[ev["kind"] == "NodeRemoved"]
    assert list(zip(removed["time"], removed["node"], strict=True)) == [
        (160.0, "spot-0"), (160.0, "spot-1"), (370.0, "spot-2"), (370.0, "spot-3")]
    added = ev[(ev["kind"] == "NodeAdded") & (ev["time"] > 0)]
    assert list(zip(added["time"], added["node"], strict=True)) == [(210.0, "spot-2"), (210.0, "spot-3")]
    nodes = r.nodes.set_index("node")
    assert nodes.loc["spot-2", "pool"] == "spot" and nodes.loc["spot-2", "allocatable_cpu_milli"] == 4000
    d = r.frames["disruptions"]
    assert d["cause"].tolist() == ["SpotInterruption"] * 2 and d["time"].tolist() == [130.0, 130.0]
    assert r.summary().iloc[0]["pods_evicted_spot"] == 2


def test_without_drain_pods_are_lost_with_the_node() -> None:
    # drain_on_notice false: the node is only cordoned; removed at 160, its pod is lost
    # when the pod garbage collector's pass at 160 has quarantined the node 40 s: at 200.
    sc = validate_scenario({
        "name": "spot", "duration_s": 400,
        "cluster": cluster([{"name": "od", "count": 1}, {"name": "spot", "count": 1}]),
        "initial_pods": [{"name": "p0", "nodeName": "spot-0", "requests": {"cpu": "1"}}],
        "failures": [{"kind": "spot", "nodes": {"pool": "spot"}, "notice_s": 60, "drain_on_notice": False,
                      "time_to_interruption": {"kind": "constant", "value": 100}}],
    })
    r = Simulation(sc).run()
    d = r.frames["disruptions"]
    assert d["cause"].tolist() == ["NodeLost"] and d["time"].tolist() == [200.0]
    assert r.summary().iloc[0]["pods_lost"] == 1


def test_no_faults_no_failure_tables() -> None:
    sc = validate_scenario({"name": "plain", "duration_s": 100, "cluster": cluster([{"name": "a", "count": 1}])})
    r = Simulation(sc).run()
    assert "failures" not in r.frames and "node_failures" not in r.summary().columns
    assert "available_pods" not in r.timeseries.columns
    assert math.isfinite(r.end_time) and np.isfinite(r.timeseries["time"]).all()


def test_run_directory_keeps_the_failure_tables_and_draws_the_plot(tmp_path) -> None:
    from k8sim import load_scenario
    from k8sim.metrics.plots import save_standard_plots
    from k8sim.metrics.result import RunResult

    root = Path(__file__).resolve().parents[2]
    sc = load_scenario(root / "scenarios" / "zone-outage.yaml", overrides=["duration_s=1200"])
    r = Simulation(sc).run()
    # zone-b (3 of 9 nodes) down at 600: NotReady at 655 (renewal 600, probe 600, first
    # pass after 650), tainted one per 10 s from 660.
    f = r.frames["failures"]
    assert f["not_ready_at"].tolist() == [655.0] * 3 and sorted(f["tainted_at"]) == [660.0, 670.0, 680.0]
    r.to_parquet(tmp_path / "run")
    back = RunResult.load(tmp_path / "run")
    assert back.frames["failures"].equals(f) and back.summary()["pods_lost"].item() == r.summary()["pods_lost"].item()
    paths = save_standard_plots(r, tmp_path / "plots")
    assert (tmp_path / "plots" / "failures.png") in paths
    assert (tmp_path / "plots" / "failures.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
