"""A controller's work queue: keys synced a reaction latency after they are added.

Upstream controllers (``k8s.io/client-go/util/workqueue``) keep a *dirty set*: a key
added while it already waits is not added again, so a burst of watch events about one
object leads to one sync. :class:`WorkQueue` does the same on the virtual clock: a key
added at ``t`` is synced at ``t + latency`` (latency drawn from the controller's stream
when the key enters the set), once, however many times it was added meanwhile; keys due
at the same instant are synced in the order they were added. One SimPy event per
distinct due time, not per key. ``add_after`` is upstream's ``AddAfter`` (the key enters
the queue after the delay, e.g. to re-check availability after ``minReadySeconds``).

``add_rate_limited`` / ``forget`` are upstream's ``AddRateLimited`` / ``Forget`` with
``workqueue.DefaultControllerRateLimiter``: a sync that failed (a pod creation refused
by admission) re-adds its key after 5 ms x 2^(failures so far), at most 1000 s
(``ItemExponentialFailureRateLimiter``; the overall 10 qps token bucket it is combined
with is not modelled); a sync that succeeds forgets the key's failures.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy


#: ``DefaultControllerRateLimiter``'s per-item exponential back-off: base and cap.
RATE_LIMIT_BASE_S = 0.005
RATE_LIMIT_MAX_S = 1000.0


class WorkQueue:
    """Deduplicated, delayed syncs of keys (see the module docstring).

    ``latency(key)`` draws the reaction latency for a key (None: always 0 s, no draws);
    ``sync(key)`` is called for each due key.
    """

    def __init__(self, env: simpy.Environment, sync: Callable[[Any], None],
                 latency: Callable[[Any], float] | None = None):
        self.env = env
        self.sync = sync
        self.latency = latency
        self._queued: set[Hashable] = set()
        self._due: dict[float, list[Hashable]] = {}
        self._failures: dict[Hashable, int] = {}
        self.syncs = 0

    def add(self, key: Hashable) -> None:
        """Sync ``key`` after the reaction latency, unless it is already waiting."""
        if key in self._queued:
            return
        self._queued.add(key)
        delay = self.latency(key) if self.latency is not None else 0.0
        self._at(self.env.now + delay, key)

    def add_after(self, key: Hashable, delay: float) -> None:
        """Add ``key`` ``delay`` seconds from now (then the reaction latency applies)."""
        if delay <= 0:
            self.add(key)
            return
        def due(_e: object) -> None:
            self.add(key)

        self.env.timeout(delay).callbacks.append(due)

    def add_rate_limited(self, key: Hashable) -> float:
        """Re-add ``key`` after its exponential back-off (see the module docstring);
        returns the delay."""
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        delay = min(RATE_LIMIT_BASE_S * 2.0 ** n, RATE_LIMIT_MAX_S)
        self.add_after(key, delay)
        return delay

    def forget(self, key: Hashable) -> None:
        """The key's sync succeeded: its next failure starts the back-off again."""
        if self._failures:
            self._failures.pop(key, None)

    def _at(self, t: float, key: Hashable) -> None:
        keys = self._due.get(t)
        if keys is None:
            keys = self._due[t] = []
            def fire(_e: object) -> None:
                self._fire(t)

            self.env.timeout(t - self.env.now).callbacks.append(fire)
        keys.append(key)

    def _fire(self, t: float) -> None:
        keys = self._due.pop(t)
        for key in keys:
            self._queued.discard(key)
            self.syncs += 1
            self.sync(key)
