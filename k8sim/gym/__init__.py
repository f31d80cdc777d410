"""A Gymnasium environment for scheduling decisions (the ``k8sim[rl]`` extra).

    import gymnasium, k8sim.gym
    env = k8sim.gym.make("scenarios/quickstart.yaml")            # or:
    env = gymnasium.make("k8sim/Scheduling-v0", scenario="scenarios/quickstart.yaml")

See ``docs/gym.md`` and :class:`~k8sim.gym.env.SchedulingEnv`.
"""

from __future__ import annotations

from typing import Any

try:
    import gymnasium
except ImportError as e:  # pragma: no cover - the extra is not installed
    raise ImportError("k8sim.gym needs gymnasium: pip install 'k8sim[rl]'") from e

from k8sim.gym.env import SchedulingEnv
from k8sim.gym.reward import DEFAULT_REWARD, TERMS

__all__ = ["DEFAULT_REWARD", "ENV_ID", "TERMS", "SchedulingEnv", "make"]

#: The registered id (``gymnasium.make(ENV_ID, scenario=...)``).
ENV_ID = "k8sim/Scheduling-v0"

if ENV_ID not in gymnasium.registry:
    gymnasium.register(id=ENV_ID, entry_point="k8sim.gym.env:SchedulingEnv", disable_env_checker=True)


def make(scenario: Any, **kwargs: Any) -> SchedulingEnv:
    """A :class:`SchedulingEnv` for ``scenario`` (a Scenario or a file); keyword
    arguments as the class takes them."""
    return SchedulingEnv(scenario, **kwargs)
