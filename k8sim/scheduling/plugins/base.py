"""Plugin base classes: array functions over all nodes at once.

A Filter plugin returns ``bool[N]`` over every node (True = the node passes). A Score
plugin returns ``int64[K]`` for the ``K`` candidate node indices it is given; after its
``normalize`` every score must lie in ``[0, MAX_NODE_SCORE]``. No plugin loops over
nodes in Python.

Plugins are configured by a pydantic ``Args`` model whose fields use upstream's
``pluginConfig`` spelling (e.g. ``scoringStrategy``), and are registered by name in
:mod:`k8sim.scheduling.registry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from pydantic import BaseModel

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.handle import FrameworkHandle
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``framework.MaxNodeScore``.
MAX_NODE_SCORE = 100
#: Upstream ``framework.MinNodeScore``.
MIN_NODE_SCORE = 0


class Plugin:
    """Base of every plugin.

    Class attributes:
        name: the registry name (upstream's name where the semantics match).
        Args: pydantic model of the plugin's arguments, or None if it takes none. A
            plugin with ``Args`` also declares ``args: ThatModel``: ``__init__`` always
            sets it (to the model's defaults when no args are given).
        summary: one line for ``k8sim plugins``.
    """

    name: ClassVar[str] = ""
    Args: ClassVar[type[BaseModel] | None] = None
    summary: ClassVar[str] = ""
    #: Cluster events that can make a pod this plugin rejected schedulable (upstream
    #: ``EventsToRegister``): PodAdd, PodDelete, NodeAdd, NodeUpdate. Default: all.
    events: ClassVar[frozenset[str]] = frozenset({"PodAdd", "PodDelete", "NodeAdd", "NodeUpdate"})

    def __init__(self, args: BaseModel | None = None) -> None:
        if args is None and self.Args is not None:
            args = self.Args()
        self.args = args
        self.rng: np.random.Generator | None = None
        #: Run-level context (:class:`~k8sim.scheduling.handle.FrameworkHandle`), set by
        #: :meth:`Profile.set_handle` before the first cycle; None outside a run.
        self.handle: FrameworkHandle | None = None

    def setup(self, rng: np.random.Generator) -> None:
        """Called once when the profile is built; ``rng`` is this plugin's own stream."""
        self.rng = rng

    def reserve(self, state: ClusterState, pod: int, info: PodInfo, node: int) -> None:
        """Reserve: called once the node is chosen, just before the pod is bound (e.g. to
        pick devices on the node). Binding itself is k8sim's DefaultBinder."""

    @classmethod
    def parse_args(cls, raw: dict[str, Any] | None) -> BaseModel | None:
        """Validate raw ``args`` (from YAML) into the plugin's ``Args`` model."""
        if cls.Args is None:
            if raw:
                raise ValueError(f"plugin {cls.name} takes no args")
            return None
        return cls.Args.model_validate(raw or {})


class FilterPlugin(Plugin):
    """Decides which nodes can host a pod (Filter extension point)."""

    #: Upstream-style reason for a node this plugin rejects.
    reason: ClassVar[str] = ""

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        """PreFilter: return False when this plugin has nothing to check for this pod
        (upstream ``Skip``); the framework then treats every node as passing it."""
        return True

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        raise NotImplementedError

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        """Reason -> number of the ``rejected`` nodes (indices) it applies to."""
        return {self.reason or f"rejected by {self.name}": int(rejected.size)} if rejected.size else {}


class ScorePlugin(Plugin):
    """Ranks candidate nodes; higher is better (PreScore, Score, NormalizeScore)."""

    def pre_score(self, state: ClusterState, pod: PodInfo) -> bool:
        """PreScore: return False to skip this plugin for this pod (upstream ``Skip``)."""
        return True

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def normalize(self, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        """NormalizeScore; identity unless the plugin's raw scores leave [0, 100]."""
        return scores


def default_normalize(scores: np.ndarray, reverse: bool = False) -> np.ndarray:
    """Upstream ``helper.DefaultNormalizeScore``: scale so the max becomes 100
    (``score * 100 / max``, int64 truncation); ``reverse`` gives ``100 - that``.
    If every score is 0, all become 0 (or 100 when reversed)."""
    if scores.size == 0:
        return scores
    top = int(scores.max())
    if top == 0:
        return np.full_like(scores, MAX_NODE_SCORE if reverse else 0)
    out = scores * MAX_NODE_SCORE // top
    return MAX_NODE_SCORE - out if reverse else out
