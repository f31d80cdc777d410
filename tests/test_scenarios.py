"""Every scenario in scenarios/ runs, at a reduced size, and drains or ends cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sim import load_scenario, run
from k8sim.cluster.ops import check_invariants
from k8sim.sim.simulation import Simulation

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


def reduced(path: Path):
    sc = load_scenario(path)
    overrides = []
    for i, w in enumerate(sc.workloads):
        if sc.has_controllers() and (w.manifest is not None or w.trace is not None):
            continue  # controllers keep their replica counts (max_pods does not apply)
        overrides.append(f"workloads[{i}].max_pods={min(w.max_pods or 40, 40)}")
    if sc.duration_s is not None:
        overrides.append(f"duration_s={min(sc.duration_s, 1200)}")
        overrides.append(f"warmup_s={min(sc.warmup_s, 100)}")
    return load_scenario(path, overrides=overrides)


def test_there_are_scenarios():
    assert len(SCENARIOS) >= 3


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_runs_reduced(path):
    sc = reduced(path)
    sim = Simulation(sc)
    result = sim.run()
    check_invariants(sim.state)
    s = result.summary().iloc[0]
    assert s["pods_submitted"] > 0
    assert s["pods_scheduled"] > 0
    assert len(result.timeseries) > 0


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_full_size_validates(path):
    sc = load_scenario(path)
    Simulation(sc)  # builds the cluster: node names, initial pods, scheduler names


def test_quickstart_full_size_is_quick():
    result = run(load_scenario(SCENARIOS[[p.stem for p in SCENARIOS].index("quickstart")]))
    # 300 web + 200 batch pods, all finite: every one completes when the run drains.
    assert (result.pods["phase"] == "Succeeded").sum() == 500
    # warmup_s = 60: pods created before t=60 are left out of the summary.
    early = int((result.pods["created"] < 60).sum())
    assert result.summary()["pods_submitted"].item() == 500 - early
