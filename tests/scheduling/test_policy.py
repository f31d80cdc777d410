"""Policies in the loop: a profile's Python policy chooses the node from the observation
(k8sim.scheduling.policy), the same observation the Gymnasium environment gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from k8sim import Simulation, load_scenario
from k8sim.config.loader import ScenarioError
from k8sim.config.scenario import ProfileSpec
from k8sim.experiments.comparison import apply_profile, compare
from k8sim.scheduling.policy import LinearPolicy, PolicyError, register_policy

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "scenarios/quickstart.yaml"
TABLES = ("pods", "nodes", "events", "timeseries")


def _with_policy(name, args=None, preset="kube-default", path=QUICK, overrides=()):
    sc = load_scenario(path, overrides=list(overrides))
    return apply_profile(sc, ProfileSpec(preset=preset, policy={"name": name, "args": args or {}}))


def test_linear_policy_with_first_tie_break_is_first_fit():
    # Every feasible node scores the same (schedulable = 1 on each), so tie_break first
    # takes the lowest feasible row: FirstFit's rule (the first-fit preset searches
    # every node, so its candidates are all feasible nodes too).
    linear = _with_policy("linear", {"weights": {"schedulable": 1.0}, "tie_break": "first"})
    first_fit = apply_profile(load_scenario(QUICK), "first-fit")
    a, b = Simulation(linear, seed=4).run(), Simulation(first_fit, seed=4).run()
    for name in TABLES:
        pd.testing.assert_frame_equal(a.__getattribute__(name), b.__getattribute__(name), obj=name)


def test_linear_binpack_weights_pack_tighter_than_spreading():
    # Minus the free share after placement = pack; plus = spread. On quickstart the
    # packing policy must use fewer nodes on average than the spreading one.
    w = {"cpu:free_share_after": 1.0, "memory:free_share_after": 1.0}
    spread = Simulation(_with_policy("linear", {"weights": w}), seed=1).run().summary()
    pack = Simulation(_with_policy("linear", {"weights": {k: -v for k, v in w.items()}}), seed=1).run().summary()
    assert pack["nodes_in_use_mean"].iloc[0] < spread["nodes_in_use_mean"].iloc[0]


class Recorder:
    """Picks a uniformly random feasible node from its own stream; keeps what it saw."""

    seen: list = []

    def setup(self, layout, rng):
        self.rng = rng
        self.layout = layout
        Recorder.seen = []

    def __call__(self, obs):
        node = int(self.rng.choice(np.flatnonzero(obs["action_mask"])))
        Recorder.seen.append(({k: v.copy() for k, v in obs.items()}, node))
        return node


def test_the_policy_sees_what_the_environment_gives():
    gym = pytest.importorskip("k8sim.gym")
    register_policy("test-recorder", Recorder)
    path = ROOT / "scenarios/burst-overload.yaml"
    Simulation(_with_policy("test-recorder", path=path), seed=3).run()
    seen = Recorder.seen
    assert len(seen) > 100
    env = gym.make(path, profile="kube-default")
    obs, info = env.reset(seed=3)
    for i, (policy_obs, node) in enumerate(seen):
        for k in policy_obs:
            np.testing.assert_array_equal(obs[k], policy_obs[k], err_msg=f"decision {i}, {k}")
        obs, _, term, _, _ = env.step(node)
    assert term


def test_a_policy_that_chooses_an_infeasible_node_is_an_error():
    register_policy("test-bad", lambda obs: int(obs["action_mask"].size))  # one past the last row
    with pytest.raises(PolicyError, match="not a node that passes the filters"):
        Simulation(_with_policy("test-bad"), seed=1).run()


def test_unknown_policy_and_bad_weights_name_the_field():
    with pytest.raises(ScenarioError, match=r"scheduler\.profiles\[0\]\.policy.*unknown policy 'nope'"):
        Simulation(_with_policy("nope"))
    with pytest.raises(ScenarioError, match=r"policy\.args.*unknown feature"):
        Simulation(_with_policy("linear", {"weights": {"cpu:nonsense": 1.0}}))
    with pytest.raises(ScenarioError, match="bad args"):
        Simulation(_with_policy("linear", {"wrong": 1}))


def test_linear_policy_args_are_checked():
    with pytest.raises(PolicyError, match="at least one"):
        LinearPolicy({})
    with pytest.raises(PolicyError, match="tie_break"):
        LinearPolicy({"schedulable": 1}, tie_break="last")


def test_compare_runs_a_policy_beside_presets_on_the_same_seeds():
    sc = load_scenario(QUICK, overrides=["workloads[0].max_pods=60", "workloads[1].max_pods=40"])
    learned = ProfileSpec(policy={"name": "linear", "args": {"weights": {"cpu:free_share_after": -1.0}}})
    result = compare(sc, {"kube-default": "kube-default", "learned": learned}, replications=2)
    runs = result.runs
    assert sorted(runs["profile"].unique()) == ["kube-default", "learned"]
    assert sorted(runs.loc[runs["profile"] == "learned", "seed"]) == sorted(
        runs.loc[runs["profile"] == "kube-default", "seed"])
