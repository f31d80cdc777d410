"""examples/custom_plugin.py: short, passes check_plugin, and works in a scenario by
its "module:Class" name."""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from builders import make_pod, make_state, node

import k8sim
from k8sim.constants import ZONE_LABEL
from k8sim.scheduling.check import check_plugin

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = EXAMPLES / "custom_plugin.py"


@pytest.fixture
def example(monkeypatch):
    """The example module, imported by path (and importable as ``custom_plugin``)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.delitem(sys.modules, "custom_plugin", raising=False)
    spec = importlib.util.spec_from_file_location("custom_plugin", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "custom_plugin", module)
    spec.loader.exec_module(module)
    return module


def test_example_is_short():
    lines = [ln for ln in EXAMPLE.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(lines) < 30


def test_example_passes_check_plugin(example):
    check_plugin(example.PreferZone)
    check_plugin(example.PreferZone, args={"zone": "zone-b"})


def test_example_scores(example):
    # Three 4-cpu nodes: zone-a, zone-b, and one without a zone label; a 1-cpu pod leaves
    # 3000m of 4000m free on each: 49 * 3000 // 4000 = 36.
    # zone-a: 51 + 36 = 87; zone-b: 0 + 36 = 36; no zone label: 36.
    PreferZone = example.PreferZone
    state = make_state([node("a", labels={ZONE_LABEL: "zone-a"}, cpu="4"),
                        node("b", labels={ZONE_LABEL: "zone-b"}, cpu="4"), node("c", cpu="4")])
    pod = make_pod(state, {"cpu": "1"})
    assert PreferZone().score(state, pod, np.arange(3)).tolist() == [87, 36, 36]
    args = PreferZone.parse_args({"zone": "zone-b"})
    assert PreferZone(args).score(state, pod, np.array([2, 1, 0])).tolist() == [36, 87, 36]


@pytest.mark.usefixtures("example")
@pytest.mark.parametrize("zone, other", [("zone-a", "zone-b"), ("zone-b", "zone-a")])
def test_example_end_to_end(zone, other):
    # Four 4-cpu / 8Gi nodes, two per zone; ten (1 cpu, 1Gi) pods; kube-default (whose only
    # score is NodeResourcesFit LeastAllocated, weight 1) plus PreferZone with weight 5.
    # Worst preferred-zone node with room (3 pods bound, 4th placed): PreferZone 51 + 49*0 = 51
    #   -> 255, LeastAllocated cpu 0, mem (8-4)/8 -> 50: (0+50)/2 = 25 -> total 280.
    # Best other-zone node (empty): PreferZone 49*3000//4000 = 36 -> 180, LeastAllocated
    #   cpu 75, mem 87 (87.5 truncated): 162/2 = 81 -> total 261 < 280.
    # So the first 8 pods fill the preferred zone (4 per node). Pod 9 ties on the two empty
    # other-zone nodes; pod 10: the node holding pod 9 scores 5*(49*2000//4000 = 24) + (50+75)/2
    # = 120 + 62 = 182 against 261 for the empty one, so each gets one.
    sc = k8sim.validate_scenario({
        "version": 1,
        "seed": 2,
        "cluster": {"nodes": [
            {"name": f"{z[-1]}{i}", "zone": z, "allocatable": {"cpu": "4", "memory": "8Gi"}}
            for z in ("zone-a", "zone-b") for i in (1, 2)
        ]},
        "workloads": [{
            "name": "w",
            "arrival": {"kind": "burst", "count": 10, "at_s": 0},
            "template": {"requests": {"cpu": "1", "memory": "1Gi"}},
        }],
        "scheduler": {"profiles": [{
            "preset": "kube-default",
            "plugins": [{"name": "custom_plugin:PreferZone", "weight": 5, "args": {"zone": zone}}],
        }]},
    })
    result = k8sim.run(sc)
    counts = Counter(result.pods["node"].tolist())
    p, o = zone[-1], other[-1]
    assert counts == {f"{p}1": 4, f"{p}2": 4, f"{o}1": 1, f"{o}2": 1}
    # While the preferred zone had room every pod went there: the first 8 bindings, in
    # event-log order, are all in it.
    bound = result.events[result.events["kind"] == "Scheduled"]["node"].tolist()
    assert len(bound) == 10
    assert set(bound[:8]) == {f"{p}1", f"{p}2"}
