"""Pod usage without a service: usage curves, limits, OOM times and eviction order.

Pure functions and small value classes; the component :mod:`k8sim.autoscaling.
pod_autoscaling` evaluates them per time step and the kubelet asks for OOM times.

- A usage curve gives a pod's usage as a *share of its request* (``ratio``: constant;
  ``distribution``: one draw per pod, the ``i``-th draw of a stream keyed by the
  workload, so two policies on one seed give the ``i``-th pod the same usage; ``csv``:
  a series over the pod's age or over run time), plus ``growth_per_s`` absolute units
  per second of the container's run (a memory leak), reset when the container restarts.
  Traces' own usage columns give absolute step series per pod instead
  (:mod:`k8sim.workloads.traces.usage`).
- Limits (``resources.limits``): CPU above the limit is throttled (CFS quota: the usage
  is capped at the limit, and a service pod's capacity with it); memory reaching the
  limit is an OOM kill of the container (the kernel's cgroup OOM killer), at the time
  :func:`oom_after` computes; the kubelet then restarts it under its back-off.
- Node memory pressure: when the pods' memory on a node exceeds its allocatable (the
  kubelet's ``memory.available`` hard threshold is carved out of allocatable, so
  ``usage > allocatable`` is ``available < threshold``), the kubelet evicts one pod per
  monitoring period in :func:`rank_memory_pressure` order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from k8sim.autoscaling.load import read_series_csv

__all__ = ["UsageSeries", "oom_after", "rank_memory_pressure"]


@dataclass(frozen=True)
class UsageSeries:
    """A usage ratio over time, piecewise linear (``interpolation="linear"``) or held,
    from a CSV; flat before the first and after the last point."""

    times: tuple[float, ...]
    ratios: tuple[float, ...]

    @classmethod
    def from_csv(cls, path: str, time_column: str, value_column: str) -> UsageSeries:
        """Read the series; errors name the file, the column or the row."""
        t, v = read_series_csv(path, time_column, value_column, "usage", nonnegative=True)
        if len(t) == 0 or (np.diff(t) <= 0).any():
            raise ValueError(f"{path}: {time_column!r} must be non-empty and strictly increasing")
        return cls(t, v)

    def at(self, t: np.ndarray) -> np.ndarray:
        return np.interp(t, self.times, self.ratios)


def oom_after(base: float, growth_per_s: float, limit: float | None) -> float:
    """Seconds into a container's run at which its memory ``base + growth_per_s * t``
    reaches ``limit`` (bytes): 0 if it starts at or above it, ``inf`` without a limit or
    when it never gets there. The kernel kills the container when an allocation would
    take the cgroup past ``memory.max``, i.e. when usage reaches the limit."""
    if limit is None:
        return math.inf
    if base >= limit:
        return 0.0
    if growth_per_s <= 0:
        return math.inf
    return (limit - base) / growth_per_s


def rank_memory_pressure(usage: Sequence[int], requests: Sequence[int], priority: Sequence[int]) -> list[int]:
    """The order in which the kubelet evicts pods under memory pressure, as positions.

    Upstream ``pkg/kubelet/eviction/helpers.go`` ``rankMemoryPressure``:
    ``orderedBy(exceedMemoryRequests, priority, memory)``: first the pods whose usage
    exceeds their memory request, then lower priority first, then the larger usage
    above the request first (``memory``: ``usage - request``, compared as quantities).
    Ties keep the input order (Go's ``sort.Sort`` is not stable; k8sim is)."""
    n = len(usage)
    keys = []
    for i in range(n):
        exceeds = usage[i] > requests[i]
        keys.append((0 if exceeds else 1, priority[i], -(usage[i] - requests[i]), i))
    return [k[-1] for k in sorted(keys)]
