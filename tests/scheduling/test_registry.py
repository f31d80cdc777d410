"""Plugin registry: names, duplicates, "module:Class" strings, the entry-point group,
and scenario-level errors for unknown plugins and bad args."""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from k8sim import ScenarioError, Simulation, validate_scenario
from k8sim.scheduling import registry
from k8sim.scheduling.plugins.base import ScorePlugin


def tiny(profile: dict) -> dict:
    return {
        "cluster": {"nodes": [{"name": "a", "allocatable": {"cpu": "2", "memory": "2Gi"}},
                              {"name": "b", "allocatable": {"cpu": "2", "memory": "2Gi"}}]},
        "workloads": [{"name": "w", "arrival": {"kind": "burst", "count": 2, "at_s": 0},
                       "template": {"requests": {"cpu": "100m"}}, "duration": {"kind": "constant", "value": 1}}],
        "scheduler": {"profiles": [profile]},
    }


def test_builtins_resolve_and_are_listed():
    for name in registry.BUILTIN:
        assert registry.get(name).name == name
    assert {"NodeResourcesFit", "InterPodAffinity", "Tetris"} <= set(registry.available())


def test_unknown_plugin_is_a_scenario_error_with_path():
    with pytest.raises(ScenarioError) as e:
        Simulation(validate_scenario(tiny({"plugins": [{"name": "NoSuchPlugin"}]})))
    assert "scheduler.profiles[0].plugins" in str(e.value)
    assert "unknown plugin 'NoSuchPlugin'" in str(e.value)


def test_bad_args_are_a_scenario_error():
    bad = {"plugins": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "Sideways"}}}]}
    with pytest.raises(ScenarioError, match="NodeResourcesFit: bad args"):
        Simulation(validate_scenario(tiny(bad)))


def test_unknown_preset():
    with pytest.raises(ScenarioError, match="unknown preset 'nope'"):
        Simulation(validate_scenario(tiny({"preset": "nope"})))


def test_profile_without_resource_filter_warns():
    sim = Simulation(validate_scenario(tiny({"disabled": ["*"], "plugins": [{"name": "Random"}]})))
    assert any("no filter that checks resources" in w for w in sim.warnings)


class _Twice(ScorePlugin):
    name = "NodeResourcesFit"  # clashes with a built-in

    def score(self, state, pod, candidates):
        return np.zeros(candidates.size, dtype=np.int64)


def test_duplicate_names_rejected():
    with pytest.raises(registry.PluginError, match="already registered"):
        registry.register(_Twice)


def test_module_class_string_and_entry_point(tmp_path, monkeypatch):
    # A real package and a real installed-distribution entry point (a .dist-info folder
    # on sys.path is what importlib.metadata reads for installed packages).
    pkg = tmp_path / "greenplug"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent('''
        import numpy as np
        from k8sim.scheduling.plugins.base import ScorePlugin

        class PreferLast(ScorePlugin):
            """Prefer the node with the highest index."""
            name = "PreferLast"

            def score(self, state, pod, candidates):
                return np.where(candidates == candidates.max(), 100, 0).astype(np.int64)
    '''))
    dist = tmp_path / "greenplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: greenplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[k8sim.plugins]\nPreferLast = greenplug:PreferLast\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registry.get("PreferLast").__name__ == "PreferLast"
    assert "PreferLast" in registry.available()
    assert registry.get("greenplug:PreferLast") is registry.get("PreferLast")
    # In a profile, by entry-point name: with only this score, both pods go to node b
    # (the highest index), which has room for both.
    from k8sim import run

    data = tiny({"preset": "random", "percentageOfNodesToScore": 100,
                 "plugins": [{"name": "PreferLast", "weight": 1}]})
    pods = run(validate_scenario(data)).pods
    assert pods["node"].tolist() == ["b", "b"]
    sys.modules.pop("greenplug", None)


def test_bad_module_class_string():
    with pytest.raises(registry.PluginError, match="cannot import"):
        registry.get("no.such.module:Thing")
    with pytest.raises(registry.PluginError, match="not a FilterPlugin or ScorePlugin"):
        registry.get("numpy:ndarray")


def test_reserve_hook_runs_before_bind(monkeypatch):
    # A plugin implementing Reserve sees each chosen node before the pod is bound.
    seen = []

    class Recorder(ScorePlugin):
        name = "ReserveRecorder"

        def score(self, state, pod, candidates):
            return np.zeros(candidates.size, dtype=np.int64)

        def reserve(self, state, pod, info, node):
            seen.append((state.pods.names[pod], state.nodes.names[node], int(state.pods.phase[pod])))

    monkeypatch.setitem(registry._registered, "ReserveRecorder", Recorder)
    from k8sim import run

    res = run(validate_scenario(tiny({"plugins": [{"name": "ReserveRecorder"}]})))
    bound = dict(zip(res.pods["pod"], res.pods["node"], strict=True))
    # phase 0 = still Pending when Reserve runs; the node matches the final binding.
    assert seen == [(p, bound[p], 0) for p in ("w-0", "w-1")]
