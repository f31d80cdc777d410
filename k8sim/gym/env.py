"""The Gymnasium environment: one step per scheduling decision.

See ``docs/gym.md``. Built on the step API of :class:`~k8sim.sim.simulation.Simulation`
(``next_decision`` / ``decide``): ``reset`` builds a simulation and runs it to the first
decision, ``step(node)`` binds the pod there and runs to the next one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from k8sim.config.loader import load_scenario
from k8sim.config.scenario import ProfileSpec, Scenario
from k8sim.gym.reward import RewardFn, RewardTracker, parse_reward
from k8sim.scheduling.observation import Observation, ObservationLayout
from k8sim.scheduling.scheduler import PendingDecision
from k8sim.sim.simulation import Simulation


class SchedulingEnv(gym.Env[dict[str, np.ndarray], np.int64]):
    """Each step is the scheduling decision of the pod at the head of the queue.

    ``scenario``: a :class:`Scenario` or a scenario file (with ``overrides`` as
    ``--set``). ``profile``: a preset name or :class:`ProfileSpec` that replaces the
    scenario's profiles (whose filters make the action mask and whose scores make
    ``info["suggested"]``); None keeps the scenario's. ``reward``: see
    :mod:`k8sim.gym.reward`. ``max_nodes`` and ``label_features`` override
    ``scheduler.observation``. ``max_steps``: truncate an episode after that many steps.

    Observation: a dict (``nodes``, ``pod``, ``cluster``, ``action_mask``) with the
    layout of :mod:`k8sim.scheduling.observation` (``env.layout`` names the features).
    Action: a node row, ``Discrete(max_nodes)``; one whose mask entry is 0 raises
    ``ValueError``. The episode terminates when the run is over (``duration_s`` reached,
    or nothing left to happen); the last observation is all zeros.

    Seeding: ``reset(seed=s)`` runs the scenario with k8sim seed ``s`` (the same run as
    ``k8sim run --seed s`` when every action is ``info["suggested"]``);
    ``reset()`` without a seed draws the k8sim seed from the environment's generator
    (``self.np_random``), so a sequence of episodes after one seeded reset repeats.
    """

    metadata = {"render_modes": []}

    def __init__(self, scenario: Scenario | str | Path, *, profile: str | ProfileSpec | None = None,
                 reward: Mapping[str, float] | RewardFn | str | None = None, max_nodes: int | None = None,
                 label_features: Sequence[str] | None = None, max_steps: int | None = None,
                 overrides: Sequence[str] = (), suggest: bool = True):
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario, overrides=list(overrides))
        if profile is not None:
            from k8sim.experiments.comparison import apply_profile

            scenario = apply_profile(scenario, profile)
        self.scenario = scenario
        self.reward_weights, self.reward_fn = parse_reward(reward)
        self.max_steps = max_steps
        self.suggest = suggest
        probe = Simulation(scenario)
        self._layout_args: dict[str, Any] = {"max_nodes": max_nodes, "label_features": label_features}
        self.layout: ObservationLayout = probe.make_observation_layout(**self._layout_args)
        self._layout_args["max_nodes"] = self.layout.max_nodes
        m = self.layout.max_nodes
        self.observation_space = spaces.Dict({  # type: ignore[assignment]
            "nodes": spaces.Box(-np.inf, np.inf, (m, len(self.layout.node_features)), np.float32),
            "pod": spaces.Box(-np.inf, np.inf, (len(self.layout.pod_features),), np.float32),
            "cluster": spaces.Box(-np.inf, np.inf, (len(self.layout.cluster_features),), np.float32),
            "action_mask": spaces.MultiBinary(m),
        })
        self.action_space = spaces.Discrete(m)
        self.sim: Simulation | None = None
        self.decision: PendingDecision | None = None
        self._tracker: RewardTracker | None = None
        self._obs: Observation | None = None
        self.steps = 0

    # -- Gymnasium API -------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        k8s_seed = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        sim = self.sim = Simulation(self.scenario, seed=k8s_seed)
        layout = sim.make_observation_layout(**self._layout_args)
        if layout.node_features != self.layout.node_features:
            raise ValueError(f"seed {k8s_seed} gives a cluster with other node features than the "
                             "environment's layout (label values that differ by seed?)")
        self._run_layout = layout
        sim.scheduler.suggest = self.suggest
        self._tracker = RewardTracker(sim, self.reward_weights, self.reward_fn)
        self.steps = 0
        self.decision = sim.next_decision()
        self._tracker.restart()  # time before the first decision is nobody's reward
        return self._observe(), self._info()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if self.sim is None or self._tracker is None:
            raise RuntimeError("call reset() before step()")
        if self.decision is None:
            raise RuntimeError("the episode is over: call reset()")
        self.sim.decide(int(action))
        self.steps += 1
        self.decision = self.sim.next_decision()
        reward = self._tracker.collect()
        terminated = self.decision is None
        truncated = not terminated and self.max_steps is not None and self.steps >= self.max_steps
        return self._observe(), reward, terminated, truncated, self._info()

    def action_masks(self) -> np.ndarray:
        """The action mask as ``bool[max_nodes]`` (for maskable agents such as
        sb3-contrib's MaskablePPO)."""
        mask = np.zeros(self.layout.max_nodes, dtype=bool)
        if self.decision is not None:
            mask[: self.decision.mask.size] = self.decision.mask
        return mask

    # -- helpers ---------------------------------------------------------------------------

    def _observe(self) -> dict[str, np.ndarray]:
        d, sim = self.decision, self.sim
        if d is None or sim is None:
            return self._run_layout.empty()
        info = sim.state.shapes[int(sim.state.pods.shape[d.pod])]
        return self._run_layout.observe(d.pod, info, d.mask, d.time, len(sim.scheduler.queue))

    def _info(self) -> dict[str, Any]:
        d, sim = self.decision, self.sim
        assert sim is not None
        if d is None:
            return {"time": float(sim.env.now), "seed": sim.seed}
        return {"time": d.time, "pod": sim.state.pods.names[d.pod], "suggested": d.suggested,
                "profile": d.profile, "seed": sim.seed}

    def result(self) -> Any:
        """The :class:`~k8sim.metrics.result.RunResult` of the episode so far."""
        if self.sim is None:
            raise RuntimeError("call reset() first")
        return self.sim.result()
