"""Rewards of the scheduling environment: what happened between two decisions.

A reward is a weighted sum of terms, each a number per step (from one decision to the
next, the last step up to the end of the run):

``utilization``: the time integral of cluster CPU requested / allocatable over the step,
    divided by the run's ``duration_s`` (by 1 s when it has none); over an episode it adds up to the time-mean CPU
    utilisation (the summary's ``mean_cpu_utilization`` when the allocatable is constant
    and there is no warm-up).
``pending``: the time integral of the number of pending pods (created, not yet bound)
    over the step, divided by the horizon; over an episode it adds up to the summary's
    ``mean_pending_pods`` (no warm-up). Give it a negative weight.
``fragmentation``: after the step's decision, ``1 - (largest free CPU on one node) /
    (free CPU of all nodes)`` over schedulable nodes (0 when nothing is free): how
    scattered the free CPU is. Give it a negative weight.

The default is ``{"pending": -1.0}``: an episode's return is minus the mean number of
pending pods. A callable ``fn(sim, t0, t1) -> float`` is added as is (``sim`` the
:class:`~k8sim.sim.simulation.Simulation`, ``[t0, t1]`` the step's virtual interval).

Requested resources count from a pod's binding (``PodBound``) to its end, pending pods
from creation to binding or deletion, as the result's timeseries counts them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from k8sim.cluster.nodes import CPU
from k8sim.cluster.watch import NodeAdded, NodeRemoved, PodAdded, PodBound, PodDeleted, PodTerminated

TERMS = ("utilization", "pending", "fragmentation")
DEFAULT_REWARD: dict[str, float] = {"pending": -1.0}
RewardFn = Callable[[Any, float, float], float]


def parse_reward(spec: Mapping[str, float] | RewardFn | str | None) -> tuple[dict[str, float], RewardFn | None]:
    """``(weights by term, custom function)`` from the environment's ``reward``."""
    if spec is None:
        return dict(DEFAULT_REWARD), None
    if isinstance(spec, str):
        spec = {spec: 1.0}
    if callable(spec):
        return {}, spec
    weights = {}
    for k, v in spec.items():
        if k not in TERMS:
            raise ValueError(f"unknown reward term {k!r} (expected one of {list(TERMS)}, or a callable)")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise ValueError(f"reward weight of {k!r} must be a finite number, got {v!r}")
        weights[k] = float(v)
    return weights, None


class RewardTracker:
    """Integrates the reward terms of one simulation exactly, on its watch events."""

    def __init__(self, sim: Any, weights: dict[str, float], custom: RewardFn | None):
        self.sim = sim
        self.weights = weights
        self.custom = custom
        # Without duration_s the horizon is unknown in advance: integrals stay in seconds.
        self.horizon = float(sim.scenario.duration_s) if sim.scenario.duration_s is not None else 1.0
        state = sim.state
        self.pods, self.nodes = state.pods, state.nodes
        self.t = float(sim.env.now)
        self.t_step = self.t
        self.requested = 0.0
        self.pending = 0
        self.alloc = 0.0
        self.int_util = 0.0
        self.int_pending = 0.0
        self._alloc_now()
        bus = sim.api.bus
        if "utilization" in weights or "pending" in weights:
            bus.subscribe(PodAdded, self._added)
            bus.subscribe(PodBound, self._bound)
            bus.subscribe(PodTerminated, self._terminated)
            bus.subscribe(PodDeleted, self._deleted)
            bus.subscribe(NodeAdded, lambda e: self._alloc_now())
            bus.subscribe(NodeRemoved, lambda e: self._alloc_now())

    def _alloc_now(self) -> None:
        self._advance()
        nodes = self.nodes
        self.alloc = float(nodes.alloc[CPU, np.isinf(nodes.removed_at)].sum())

    def _advance(self) -> None:
        now = float(self.sim.env.now)
        dt = now - self.t
        if dt > 0:
            if self.alloc > 0:
                self.int_util += self.requested / self.alloc * dt
            self.int_pending += self.pending * dt
            self.t = now

    def _added(self, e: PodAdded) -> None:
        self._advance()
        self.pending += 1

    def _bound(self, e: PodBound) -> None:
        self._advance()
        self.pending -= 1
        self.requested += float(self.pods.requests[e.pod, CPU])

    def _terminated(self, e: PodTerminated) -> None:
        self._advance()
        if not np.isnan(self.pods.scheduled[e.pod]):
            self.requested -= float(self.pods.requests[e.pod, CPU])

    def _deleted(self, e: PodDeleted) -> None:
        self._advance()
        self.pending -= 1

    def restart(self) -> None:
        """Drop what was integrated so far: the next step starts now."""
        self._advance()
        self.t_step = float(self.sim.env.now)
        self.int_util = self.int_pending = 0.0

    def collect(self) -> float:
        """The reward of the step that ends now (and start the next one)."""
        self._advance()
        t0, t1 = self.t_step, float(self.sim.env.now)
        self.t_step = t1
        horizon = self.horizon
        r = 0.0
        w = self.weights
        if "utilization" in w:
            r += w["utilization"] * self.int_util / horizon
        if "pending" in w:
            r += w["pending"] * self.int_pending / horizon
        self.int_util = self.int_pending = 0.0
        if "fragmentation" in w:
            nodes = self.nodes
            ok = nodes.ready & ~nodes.unschedulable & np.isinf(nodes.removed_at)
            free = nodes.free[CPU, ok]
            total = float(free.sum())
            r += w["fragmentation"] * ((1.0 - float(free.max()) / total) if total > 0 else 0.0)
        if self.custom is not None:
            r += float(self.custom(self.sim, t0, t1))
        return r
