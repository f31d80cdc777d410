"""Workload arrival processes: one SimPy process per workload stream.

Inter-arrival times come from the workload's own ``arrivals`` stream and each pod's
duration and start latency from the workload's ``duration`` / ``start-latency``
streams, drawn at the pod's birth, so the i-th pod of a workload is the same pod under
every scheduling policy.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import numpy as np
import simpy

from k8sim.config.workloads import (
    BurstArrivals,
    ExplicitArrivals,
    IntervalArrivals,
    PoissonArrivals,
    Workload,
)


def arrival_times(w: Workload, rng: np.random.Generator) -> Iterator[float]:
    """Arrival times of a workload, in order, lazily (Poisson draws in blocks)."""
    a = w.arrival
    limit = w.max_pods
    stop: float | None = getattr(a, "stop_s", None)  # not every arrival process has one
    count = 0

    def bounded(times: Iterator[float]) -> Iterator[float]:
        nonlocal count
        for t in times:
            if limit is not None and count >= limit:
                return
            if stop is not None and t > stop:
                return
            count += 1
            yield t

    if isinstance(a, PoissonArrivals):

        def poisson() -> Iterator[float]:
            t = a.start_s
            scale = 1.0 / a.rate_per_s
            while True:
                for gap in rng.exponential(scale, 1024).tolist():
                    t += gap
                    yield t

        return bounded(poisson())
    if isinstance(a, IntervalArrivals):

        def interval() -> Iterator[float]:
            i = 0
            while True:
                yield a.start_s + i * a.every_s
                i += 1

        return bounded(interval())
    if isinstance(a, ExplicitArrivals):
        return bounded(iter(sorted(a.times_s)))
    if isinstance(a, BurstArrivals):
        return bounded(iter([a.at_s] * a.count))
    raise TypeError(f"unknown arrival process {a!r}")  # pragma: no cover


def arrival_process(
    env: simpy.Environment,
    times: Iterator[float],
    create: Callable[[], None],
) -> Generator[simpy.Event, Any, None]:
    """Create one pod at each arrival time (pods due at the same instant in one go)."""
    for t in times:
        delay = t - env.now
        if delay > 0:
            yield env.timeout(delay)
        create()
