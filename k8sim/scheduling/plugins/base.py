"""Plugin base classes: array functions over all nodes at once.

A Filter plugin returns ``bool[N]`` (True = the node passes). A Score plugin returns
``int64[K]`` for the ``K`` candidate node indices it is given, in ``[0, MAX_NODE_SCORE]``
after its optional ``normalize``. No plugin loops over nodes in Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``framework.MaxNodeScore``.
MAX_NODE_SCORE = 100
#: Upstream ``framework.MinNodeScore``.
MIN_NODE_SCORE = 0


class Plugin:
    """Base of every plugin. ``name`` is the upstream (or k8sim) plugin name."""

    name: ClassVar[str] = ""


class FilterPlugin(Plugin):
    """Decides which nodes can host a pod."""

    #: Upstream-style reason for a node this plugin rejects.
    reason: ClassVar[str] = ""

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        raise NotImplementedError

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        """Reason -> number of the ``rejected`` nodes (indices) it applies to."""
        return {self.reason: int(rejected.size)} if rejected.size else {}


class ScorePlugin(Plugin):
    """Ranks candidate nodes; higher is better."""

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def normalize(self, scores: np.ndarray) -> np.ndarray:
        """NormalizeScore; identity unless the plugin's raw scores leave [0, 100]."""
        return scores
