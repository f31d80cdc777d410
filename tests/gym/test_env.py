"""The Gymnasium environment (k8sim.gym): Gymnasium's own checker, equivalence with the
plain run, seeding, rewards against the summary, the vector API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

gymnasium = pytest.importorskip("gymnasium")

import k8sim.gym as kgym  # noqa: E402
from k8sim import Simulation, load_scenario, validate_scenario  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
QUICK = ROOT / "scenarios/quickstart.yaml"
BURST = ROOT / "scenarios/burst-overload.yaml"


def _episode(env, seed, choose):
    obs, info = env.reset(seed=seed)
    trail, rewards = [obs], []
    while True:
        obs, r, term, trunc, info = env.step(choose(obs, info))
        trail.append(obs)
        rewards.append(r)
        if term or trunc:
            return trail, rewards


def test_gymnasium_env_checker_passes():
    from gymnasium.utils.env_checker import check_env

    check_env(kgym.make(QUICK), skip_render_check=True)


def test_taking_the_suggested_node_gives_the_plain_run():
    env = kgym.make(BURST)
    _episode(env, 5, lambda obs, info: info["suggested"])
    plain = Simulation(load_scenario(BURST), seed=5).run()
    got = env.result()
    for name in ("pods", "nodes", "events", "timeseries"):
        pd.testing.assert_frame_equal(getattr(plain, name), getattr(got, name), obj=name)


def test_a_seeded_episode_repeats_exactly():
    env = kgym.make(BURST)

    def runs(seed):
        rng = np.random.default_rng(0)  # the agent's own randomness, reset per episode
        return _episode(env, seed, lambda obs, info: int(rng.choice(np.flatnonzero(obs["action_mask"]))))

    a_obs, a_r = runs(11)
    a_pods = env.result().pods
    b_obs, b_r = runs(11)
    assert a_r == b_r and len(a_obs) == len(b_obs)
    for x, y in zip(a_obs, b_obs, strict=True):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])
    pd.testing.assert_frame_equal(a_pods, env.result().pods)
    # another seed is another workload
    c_obs, _ = runs(12)
    assert any(not np.array_equal(x["pod"], y["pod"]) for x, y in zip(a_obs, c_obs, strict=False))


def test_reset_without_seed_follows_the_seeded_generator():
    env = kgym.make(QUICK)
    env.reset(seed=1)
    seeds = [env.reset()[1]["seed"] for _ in range(3)]
    env.reset(seed=1)
    assert [env.reset()[1]["seed"] for _ in range(3)] == seeds
    assert len(set(seeds)) == 3


def test_actions_outside_the_mask_are_refused():
    env = kgym.make(QUICK, overrides=["cluster.node_pools[0].count=3"])
    obs, info = env.reset(seed=0)
    assert obs["action_mask"].tolist() == [1, 1, 1]  # an empty 3-node cluster fits anything
    env.step(info["suggested"])
    with pytest.raises(ValueError, match="not a feasible choice"):
        env.step(7)


@pytest.mark.parametrize("term,metric", [("pending", "mean_pending_pods"), ("utilization", "mean_cpu_utilization")])
def test_episode_return_is_the_summary_metric(term, metric):
    # burst-overload queues pods; with no warm-up and a duration the summary's window is
    # the whole episode (0 to 1000 s),
    # and its allocatable is constant, so both returns must equal the summary's means
    # (computed independently, from the pod table after the run).
    env = kgym.make(BURST, reward={term: 1.0}, overrides=["warmup_s=0", "duration_s=1000"])
    _, rewards = _episode(env, 2, lambda obs, info: info["suggested"])
    summary = env.result().summary()
    assert summary[metric].iloc[0] > 0
    assert sum(rewards) == pytest.approx(summary[metric].iloc[0], rel=1e-9)


def test_observation_layout_by_hand():
    env = kgym.make(QUICK, overrides=["cluster.node_pools[0].count=3"],
                    label_features=["topology.kubernetes.io/zone"])
    obs, info = env.reset(seed=0)
    lay = env.layout
    nodes = obs["nodes"]
    # 8 cpu nodes, all equal: allocatable / scale = 1, nothing bound yet: free share 1
    assert nodes[:, lay.node_index("cpu:allocatable")].tolist() == [1, 1, 1]
    assert nodes[:, lay.node_index("cpu:free_share")].tolist() == [1, 1, 1]
    # the first pod is web (250m of 8 cpu)
    assert obs["pod"][lay.pod_index("cpu:request")] == pytest.approx(0.25 / 8)
    assert obs["pod"][lay.pod_index("workload:web")] == 1
    # zones a, b, c round robin over the three nodes: one-hot diagonal
    cols = [lay.node_index(f"label:topology.kubernetes.io/zone=zone-{z}") for z in "abc"]
    assert nodes[:, cols].tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    node = info["suggested"]
    obs, *_ = env.step(node)
    # web-0 now holds 250m on that node: free share (8 - 0.25) / 8
    assert obs["nodes"][node, lay.node_index("cpu:free_share")] == pytest.approx(7.75 / 8)


def test_vector_env_through_gymnasiums_api():
    envs = gymnasium.make_vec(kgym.ENV_ID, num_envs=2, vectorization_mode="sync", scenario=str(QUICK))
    obs, info = envs.reset(seed=[1, 2])
    assert obs["nodes"].shape == (2, 20, len(envs.get_attr("layout")[0].node_features))
    for _ in range(20):
        actions = np.array([int(np.flatnonzero(m)[0]) for m in obs["action_mask"]])
        obs, rew, term, trunc, info = envs.step(actions)
        assert rew.shape == (2,)
    envs.close()


def _tiny(**extra):
    """Two 4-cpu nodes with 4 GPUs each (model T4), one pod of 1 cpu and one whole GPU at
    t = 1 s, running past the end (60 s)."""
    doc = {"name": "tiny", "duration_s": 60,
           "cluster": {"node_pools": [{"name": "g", "count": 2, "allocatable": {"cpu": "4", "memory": "8Gi"},
                                       "gpus": {"count": 4, "model": "T4"}, "zones": ["a", "b"]}]},
           "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [1]},
                          "template": {"requests": {"cpu": "1", "memory": "1Gi"}, "gpu": {"count": 1}},
                          "duration": {"kind": "constant", "value": 1000}}]}
    doc.update(extra)
    return validate_scenario(doc)


def test_gpu_features_and_fragmentation_reward_by_hand():
    env = kgym.make(_tiny(), reward={"fragmentation": 1.0})
    lay = env.layout
    obs, info = env.reset(seed=0)
    assert obs["nodes"][:, lay.node_index("gpu:devices")].tolist() == [1, 1]  # 4 of at most 4
    assert obs["nodes"][:, lay.node_index("gpu:idle_devices")].tolist() == [1, 1]
    assert obs["pod"][lay.pod_index("gpu:count")] == 0.25 and obs["pod"][lay.pod_index("gpu:milli")] == 1
    obs, reward, term, _, _ = env.step(0)
    assert term  # one pod, one decision; the last step runs to the end (60 s)
    # After it: free cpu 3 on n-0, 4 on n-1: fragmentation 1 - 4 / (3 + 4) = 3/7.
    assert reward == pytest.approx(3 / 7)
    nodes = env.sim.state.nodes
    # three of n-0's four devices idle (the pod holds one)
    assert int((nodes.gpu_free[0] == 1000).sum()) == 3


def test_label_features_from_the_scenario_and_a_custom_reward():
    sc = _tiny(scheduler={"observation": {"labelFeatures": ["topology.kubernetes.io/zone", "absent-key"]}})
    seen = []

    def elapsed(sim, t0, t1):
        seen.append((t0, t1))
        return t1 - t0

    env = kgym.make(sc, reward=elapsed)
    names = env.layout.node_features
    i = names.index("label:topology.kubernetes.io/zone=a")
    assert names[i:i + 4] == ("label:topology.kubernetes.io/zone=a", "label:topology.kubernetes.io/zone=b",
                              "label:topology.kubernetes.io/zone=?", "label:absent-key=?")
    obs, info = env.reset(seed=0)
    assert obs["nodes"][:, i:i + 4].tolist() == [[1, 0, 0, 1], [0, 1, 0, 1]]
    _, reward, term, _, _ = env.step(info["suggested"])
    # the only step runs from the decision at 1 s to the end at 60 s
    assert term and seen == [(1.0, 60.0)] and reward == 59.0


@pytest.mark.slow
def test_async_vector_env():
    envs = gymnasium.make_vec(kgym.ENV_ID, num_envs=2, vectorization_mode="async", scenario=str(QUICK))
    obs, _ = envs.reset(seed=[3, 4])
    for _ in range(10):
        obs, rew, *_ = envs.step(np.array([int(np.flatnonzero(m)[0]) for m in obs["action_mask"]]))
    envs.close()


def test_a_fresh_interpreter_makes_the_env_from_its_module_qualified_id():
    # Gymnasium 1.x has no plugin entry points; its own way to make an env of a package
    # that is not imported yet is the "module:id" form of gymnasium.make
    # (gymnasium/envs/registration.py, load_env_creator / _find_spec: the part before
    # ":" is imported first). Run in a new interpreter so that nothing imported k8sim.gym.
    import subprocess
    import sys

    code = ("import sys, gymnasium\n"
            "assert 'k8sim.gym' not in sys.modules\n"
            f"env = gymnasium.make('k8sim.gym:{kgym.ENV_ID}', scenario={str(QUICK)!r})\n"
            "obs, info = env.reset(seed=3)\n"
            "print(type(env.unwrapped).__name__, obs['action_mask'].sum() > 0)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["SchedulingEnv", "True"]
