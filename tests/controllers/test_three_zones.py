"""The shipped pair scenarios/three-zones-spread.yaml / three-zones-nospread.yaml: one
zone of three goes down, with and without a topology spread constraint."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sim.config.loader import load_scenario
from k8sim.sim.simulation import Simulation

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def run(name: str, **overrides: float):
    sc = load_scenario(SCENARIOS / f"three-zones-{name}.yaml")
    if overrides:
        sc = sc.model_copy(update=overrides)
    return Simulation(sc).run()


@pytest.mark.slow
def test_spread_keeps_more_replicas_through_the_zone_outage():
    # Six 8-CPU nodes, four in zone-a; 12 web replicas of 1 CPU.
    # Without the constraint the default profile's LeastAllocated (and its soft
    # hostname spread) places 2 replicas per node: 8 in zone-a, 2 + 2 elsewhere. When
    # zone-a is NotReady (600 + 50 s grace, MarkPodsNotReady) 8 of 12 are unavailable:
    # min available ratio 4/12 = 1/3.
    # With maxSkew 1 on the zone (DoNotSchedule) the replicas are 4/4/4: 4 are lost,
    # min ratio 8/12 = 2/3. The warmup (300 s) leaves the start-up out of both.
    spread = run("spread", duration_s=1200.0).summary().iloc[0]
    nospread = run("nospread", duration_s=1200.0).summary().iloc[0]
    assert spread["min_available_ratio"] == pytest.approx(8 / 12)
    assert nospread["min_available_ratio"] == pytest.approx(4 / 12)
    assert spread["min_available_ratio"] > nospread["min_available_ratio"]


@pytest.mark.slow
def test_spread_replacements_wait_for_the_zone():
    # The evicted replicas' replacements (eviction 300 s after the taint) cannot go to
    # zone-b or zone-c with the constraint: zone-a still counts as a domain holding 0
    # matching pods, so a 5th pod in zone-b has skew 5 - 0 > 1. They run only once
    # zone-a is back (1100 s). Without it they run on zone-b/zone-c nodes well before.
    spread = run("spread").pods
    nospread = run("nospread").pods
    late = spread[spread["created"] > 900]
    assert len(late) == 4 and (late["scheduled"] >= 1100).all()
    late = nospread[nospread["created"] > 900]
    assert len(late) == 8 and (late["scheduled"] < 1100).all()
