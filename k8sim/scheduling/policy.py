"""Policies in the loop: a Python object that chooses the node of a profile's decisions.

A profile with ``policy:`` (``scheduler.profiles[i].policy``, :class:`PolicyRef
<k8sim.config.scheduler.PolicyRef>`) runs its filters as usual; when at least one node
passes them, the scheduler builds the observation of :mod:`k8sim.scheduling.observation`
(the same one the Gymnasium environment returns) and calls the policy once:

    node = policy(observation)      # a node row with observation["action_mask"][node] == 1

The policy's node replaces the scores' choice (the scores still run, so a profile with a
policy draws its tie-break stream as the same profile without one). Before the first
decision of a run the scheduler calls ``policy.setup(layout, rng)`` when the object has
it: ``layout`` is the run's :class:`~k8sim.scheduling.observation.ObservationLayout`
(feature names and scales), ``rng`` the policy's own seeded stream, so that a policy
that draws random numbers is reproducible per seed. A run builds its policy anew from
the reference, so runs do not share state.

References (``name``): ``linear`` (:class:`LinearPolicy`), a name given to
:func:`register_policy` in this process (a notebook's trained object), or
``package.module:attr`` (a class, called with ``args`` as keyword arguments, or any
other attribute: the policy object itself, then ``args`` must be empty). Only
``linear`` and ``module:attr`` reach worker processes (``compare --jobs``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from k8sim.scheduling.observation import Observation, ObservationLayout


@runtime_checkable
class Policy(Protocol):
    """What a profile's policy implements (``setup`` is optional)."""

    def __call__(self, observation: Observation) -> int:
        """The node row to bind the pod to; must have ``observation["action_mask"] == 1``."""
        ...


class PolicyError(ValueError):
    """An unknown policy reference, bad arguments, or a policy that chose an infeasible node."""


class LinearPolicy:
    """A linear scoring policy: the feasible node with the highest weighted sum of its
    features; equal sums are broken uniformly at random from the policy's stream (as
    upstream's ``selectHost``), or by the lowest node row with ``tie_break: first``.

    ``weights`` maps feature names to weights: any node feature of the layout (e.g.
    ``cpu:free_share``) and, per resource ``r``, ``r:free_share_after``: the node's
    free share of ``r`` once the pod is placed, ``(free - request) / allocatable``.
    ``weights: {cpu:free_share_after: -1, memory:free_share_after: -1}`` is a
    MostAllocated-like bin packing, positive weights spread.
    """

    def __init__(self, weights: Mapping[str, float], tie_break: str = "random"):
        if not weights:
            raise PolicyError("linear policy: weights must name at least one feature")
        if tie_break not in ("random", "first"):
            raise PolicyError(f"linear policy: tie_break must be 'random' or 'first', got {tie_break!r}")
        bad = {k: v for k, v in weights.items() if not isinstance(v, (int, float)) or isinstance(v, bool)}
        if bad:
            raise PolicyError(f"linear policy: weights must be numbers, got {bad}")
        self.weights = {str(k): float(v) for k, v in weights.items()}
        self.tie_break = tie_break
        self.rng: np.random.Generator | None = None
        self._cols: np.ndarray | None = None
        self._w: np.ndarray | None = None
        self._after: list[tuple[int, int, float]] = []  # (free column, request index, weight)

    def setup(self, layout: ObservationLayout, rng: np.random.Generator) -> None:
        """Resolve the weights' feature names against the run's layout."""
        self.rng = rng
        cols, w, after, unknown = [], [], [], []
        for name, weight in self.weights.items():
            if name.endswith(":free_share_after"):
                res = name.removesuffix(":free_share_after")
                if res in layout.resources:
                    after.append((layout.resources.index(res), weight))
                    continue
            elif name in layout.node_features:
                cols.append(layout.node_index(name))
                w.append(weight)
                continue
            unknown.append(name)
        if unknown:
            raise PolicyError(
                f"linear policy: unknown feature(s) {unknown}; node features: {list(layout.node_features)}, "
                f"and <resource>:free_share_after for resources {list(layout.resources)}")
        self._cols = np.array(cols, dtype=np.int64)
        self._w = np.array(w, dtype=np.float64)
        self._after = [(layout.node_index(f"{layout.resources[i]}:allocatable"), i, wt) for i, wt in after]

    def __call__(self, observation: Observation) -> int:
        if self._cols is None or self._w is None:
            raise PolicyError("linear policy: setup() was not called")
        feasible = np.flatnonzero(observation["action_mask"])
        nodes = observation["nodes"][feasible].astype(np.float64)
        score = nodes[:, self._cols] @ self._w if self._cols.size else np.zeros(feasible.size)
        pod = observation["pod"]
        for alloc_col, res, weight in self._after:
            alloc = nodes[:, alloc_col]
            free = nodes[:, alloc_col + 1]
            req = float(pod[res])
            share = np.divide(free - req, alloc, out=np.zeros_like(alloc), where=alloc > 0)
            score = score + weight * share
        best = np.flatnonzero(score == score.max())
        if best.size == 1 or self.tie_break == "first" or self.rng is None:
            return int(feasible[best[0]])
        return int(feasible[best[self.rng.integers(best.size)]])


_BUILTIN: dict[str, Callable[..., Any]] = {"linear": LinearPolicy}
_registered: dict[str, Any] = {}


def register_policy(name: str, policy: Any) -> None:
    """Make ``policy`` (an object, or a class called with the reference's args) known by
    ``name`` in this process; registering a name again replaces it (a notebook re-runs
    its cells)."""
    if name in _BUILTIN or ":" in name:
        raise PolicyError(f"policy name {name!r} is reserved (built in, or a module:attr reference)")
    _registered[name] = policy


def build_policy(name: str, args: Mapping[str, Any] | None = None) -> Any:
    """A fresh policy object from a reference (see the module docstring)."""
    args = dict(args or {})
    if name in _BUILTIN:
        target: Any = _BUILTIN[name]
    elif name in _registered:
        target = _registered[name]
    elif ":" in name:
        module, _, attr = name.partition(":")
        try:
            target = importlib.import_module(module)
            for part in attr.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as e:
            raise PolicyError(f"policy {name!r}: cannot import it ({e})") from None
    else:
        raise PolicyError(f"unknown policy {name!r}: use 'linear', a name given to register_policy "
                          f"(registered: {sorted(_registered)}), or 'package.module:attr'")
    if isinstance(target, type):
        try:
            obj = target(**args)
        except TypeError as e:
            raise PolicyError(f"policy {name!r}: bad args: {e}") from None
    else:
        if args:
            raise PolicyError(f"policy {name!r} is an object, not a class: it takes no args")
        obj = target
    if not callable(obj):
        raise PolicyError(f"policy {name!r} is not callable (a policy is called with the observation)")
    return obj
