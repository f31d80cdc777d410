"""compare and sweep compare the scenario's own profiles, inline profiles and profiles
from files, not only presets; a name that is both a preset and a different profile of
the scenario is an error, never a silent substitution."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from k8sim import ScenarioError, validate_scenario
from k8sim.experiments import compare
from k8sim.experiments.commands import _split
from k8sim.experiments.comparison import resolve_profiles
from k8sim.experiments.sweeps import experiment_from_data, sweep

# Two 4-CPU nodes; two 1-CPU pods at t=0, one 4-CPU pod at t=1; nothing ever finishes.
# Spreading (LeastAllocated) puts the small pods on different nodes, so the large pod
# stays Pending after failing (1); packing (MostAllocated) stacks them and the large pod
# takes the other node (0). So pods_pending_failed_scheduling tells which policy ran.
NODES = {"node_pools": [{"name": "n", "count": 2, "allocatable": {"cpu": "4", "memory": "16Gi"}}]}


def fragment(scheduler_name: str = "default-scheduler", profiles: list[dict] | None = None, **extra) -> dict:
    tmpl = {"requests": {"cpu": "1", "memory": "1Gi"}, "schedulerName": scheduler_name}
    doc = {
        "version": 1, "name": "fragment", "cluster": NODES,
        "workloads": [
            {"name": "small", "arrival": {"kind": "times", "times_s": [0, 0]}, "template": tmpl},
            {"name": "large", "arrival": {"kind": "times", "times_s": [1]},
             "template": {**tmpl, "requests": {"cpu": "4", "memory": "1Gi"}}},
        ],
        **extra,
    }
    if profiles is not None:
        doc["scheduler"] = {"profiles": profiles}
    return doc


# kube-default with NodeResourcesFit MostAllocated (weight 5) and no balanced allocation:
# the second small pod scores higher on the node that already has one, so it packs.
PACKER = {"schedulerName": "packer", "preset": "kube-default", "disabled": ["NodeResourcesBalancedAllocation"],
          "plugins": [{"name": "NodeResourcesFit", "weight": 5,
                       "args": {"scoringStrategy": {"type": "MostAllocated"}}}]}


def pending(res, label: str) -> float:
    return float(res.runs.set_index("profile").loc[label, "pods_pending_failed_scheduling"])


def test_the_scenarios_own_profile_by_scheduler_name():
    sc = validate_scenario(fragment(profiles=[{"preset": "spread"}, PACKER]))
    res = compare(sc, ["spread", "packer"], replications=1)
    assert res.profiles == ["spread", "packer"]
    assert res.specs["packer"].plugins[0].args == {"scoringStrategy": {"type": "MostAllocated"}}
    assert (pending(res, "spread"), pending(res, "packer")) == (1, 0)
    # scenario:NAME says the same explicitly
    res = compare(sc, ["scenario:packer"], replications=1)
    assert res.profiles == ["packer"] and pending(res, "packer") == 0


def test_a_name_that_is_a_preset_and_a_different_scenario_profile_is_ambiguous():
    # The workloads use schedulerName "binpack", whose profile in the scenario spreads.
    sc = validate_scenario(fragment("binpack", profiles=[{"schedulerName": "binpack", "preset": "spread"}]))
    with pytest.raises(ScenarioError, match=r"profiles\[0\]: 'binpack' is both a preset and a profile of the "
                                            r"scenario that differs from it: say preset:binpack or scenario:binpack"):
        compare(sc, ["binpack"], replications=1)
    res = compare(sc, ["preset:binpack", "own=scenario:binpack"], replications=1)
    assert (pending(res, "binpack"), pending(res, "own")) == (0, 1)
    # A scenario profile equal to the preset is not ambiguous.
    same = validate_scenario(fragment("binpack", profiles=[{"schedulerName": "binpack", "preset": "binpack"}]))
    assert list(resolve_profiles(["binpack"], scenario=same)) == ["binpack"]


def test_inline_and_file_profiles(tmp_path: Path):
    sc = validate_scenario(fragment())
    (tmp_path / "packed.yaml").write_text(yaml.safe_dump({"preset": "binpack"}))
    (tmp_path / "both.yaml").write_text(yaml.safe_dump({"profiles": {"s": {"preset": "spread"},
                                                                     "p": {"preset": "binpack"}}},
                                                     sort_keys=False))
    specs = resolve_profiles(["mine={preset: binpack}", "@packed.yaml", "other=@packed.yaml", "@both.yaml"],
                             scenario=sc, base_dir=tmp_path)
    assert list(specs) == ["mine", "packed", "other", "s", "p"]
    assert {k: v.preset for k, v in specs.items()} == {"mine": "binpack", "packed": "binpack", "other": "binpack",
                                                       "s": "spread", "p": "binpack"}
    res = compare(sc, {"spread": "spread", "inline": {"preset": "binpack"}}, replications=1)
    assert (pending(res, "spread"), pending(res, "inline")) == (1, 0)


def test_bad_profile_references_are_reported_together(tmp_path: Path):
    sc = validate_scenario(fragment(profiles=[PACKER]))
    with pytest.raises(ScenarioError) as e:
        resolve_profiles(["nope", "scenario:ghost", "x={preset: nope}", "{preset: binpack}", "@missing.yaml",
                          "y={plugins: 3}"], scenario=sc, base_dir=tmp_path)
    msg = str(e.value)
    assert "profiles[0]: unknown preset 'nope'; available: " in msg
    assert "the scenario's own profiles (by schedulerName): packer" in msg
    assert "profiles[1]: the scenario has no profile with schedulerName 'ghost' (it has: packer)" in msg
    assert "profiles[2].preset: unknown preset 'nope'" in msg
    assert "profiles[3]: an inline profile needs a label" in msg
    assert "profiles[4]: " in msg and "missing.yaml" in msg
    assert "profiles[5].plugins: " in msg


def test_cli_keeps_inline_profiles_whole():
    assert _split(["kube-default,binpack", "mine={preset: binpack, disabled: [TaintToleration]}", "@f.yaml"]) == [
        "kube-default", "binpack", "mine={preset: binpack, disabled: [TaintToleration]}", "@f.yaml"]


def test_a_preset_replaces_a_config_file_instead_of_losing_to_it(tmp_path: Path):
    # The configuration file spreads (LeastAllocated): the scenario as it is leaves the
    # large pod Pending. Compared as binpack it must pack (before, the file won silently).
    (tmp_path / "sched.yaml").write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n"
        "- schedulerName: default-scheduler\n  pluginConfig:\n  - name: NodeResourcesFit\n    args:\n"
        "      scoringStrategy: {type: LeastAllocated}\n")
    sc = validate_scenario(fragment(scheduler={"configFile": "sched.yaml"}), base_dir=tmp_path)
    res = compare(sc, ["binpack"], replications=1)
    assert pending(res, "binpack") == 0
    with pytest.raises(ScenarioError, match="scheduler.configFile"):
        compare(sc, ["scenario:default-scheduler"], replications=1)


def test_experiment_profiles_as_a_mapping(tmp_path: Path):
    (tmp_path / "sc.yaml").write_text(yaml.safe_dump(fragment(profiles=[{"preset": "spread"}, PACKER])))
    (tmp_path / "packed.yaml").write_text(yaml.safe_dump({"preset": "binpack"}))
    exp = experiment_from_data(
        {"scenario": "sc.yaml", "profiles": {"own-spread": "scenario:default-scheduler", "own-packer": "packer",
                                             "inline": {"preset": "binpack"}, "file": "@packed.yaml"}},
        source=str(tmp_path / "exp.yaml"), base_dir=tmp_path)
    table = sweep(exp, out_dir=tmp_path / "out").set_index("profile")
    assert table["pods_pending_failed_scheduling"].to_dict() == {"own-spread": 1, "own-packer": 0, "inline": 0,
                                                                 "file": 0}
