"""kubelet's back-off bookkeeping: ``k8s.io/client-go/util/flowcontrol.Backoff``.

The kubelet keeps two of them, both ``NewBackOff(10s, 300s)`` (``backOffPeriod``,
``MaxContainerBackOff`` in ``pkg/kubelet/kubelet.go``): one for restarting crashed
containers (CrashLoopBackOff), one for image pulls (ImagePullBackOff). Per key:

- ``next(key, event_time, now)``: if the key has no entry, or ``event_time -
  last_update > 2 * max`` (``hasExpired``: 10 minutes here), the back-off restarts at the
  initial 10 s; otherwise it doubles, capped at 300 s. ``last_update`` becomes ``now``.
- ``in_backoff_since(key, event_time, now)``: ``now - event_time < backoff`` (False when
  there is no entry or it has expired relative to ``event_time``).
- ``in_backoff_since_update(key, now)``: ``now - last_update < backoff`` (False when
  there is no entry or ``now - last_update > 2 * max``).

How kubelet uses them (and so k8sim):

- Container restarts (``kubeGenericRuntimeManager.doBackOff``, key = pod + container):
  when a container has exited at ``finishedAt``, a restart is refused while
  ``in_backoff_since(key, finishedAt)``; when allowed, ``next(key, finishedAt)`` is called
  and the container restarts. So the first restart is immediate (no entry yet), the
  next ones wait 10, 20, 40, 80, 160, 300, 300, ... s after the container exited, and
  a container that ran more than 10 minutes since its last restart (``finishedAt -
  last_update > 600 s``) restarts immediately with the back-off reset to 10 s.
- Image pulls (``imageManager.EnsureImageExists``, key = pod + image): a pull is refused
  (ImagePullBackOff) while ``in_backoff_since_update(key, now)``; a failed pull calls
  ``next(key, now)``. So retries come 10, 20, 40, ... 300 s after each failure.

Jitter: none (``NewBackOff`` has a max jitter factor of 0).
"""

from __future__ import annotations

from collections.abc import Hashable

#: kubelet ``backOffPeriod``.
INITIAL_S = 10.0
#: kubelet ``MaxContainerBackOff``.
MAX_S = 300.0


class Backoff:
    """Per-key exponential back-off with expiry (flowcontrol semantics, no jitter)."""

    def __init__(self, initial_s: float = INITIAL_S, max_s: float = MAX_S) -> None:
        self.initial_s = initial_s
        self.max_s = max_s
        self._entries: dict[Hashable, list[float]] = {}  # key -> [backoff, last_update]

    def _expired(self, event_time: float, last_update: float) -> bool:
        return event_time - last_update > 2 * self.max_s

    def get(self, key: Hashable) -> float:
        """The current back-off of ``key`` (0 without an entry)."""
        e = self._entries.get(key)
        return e[0] if e is not None else 0.0

    def next(self, key: Hashable, event_time: float, now: float) -> float:
        """Move ``key`` to its next back-off; returns it."""
        e = self._entries.get(key)
        if e is None or self._expired(event_time, e[1]):
            e = [self.initial_s, now]
            self._entries[key] = e
        else:
            e[0] = min(e[0] * 2, self.max_s)
            e[1] = now
        return e[0]

    def in_backoff_since(self, key: Hashable, event_time: float, now: float) -> bool:
        e = self._entries.get(key)
        if e is None or self._expired(event_time, e[1]):
            return False
        return now - event_time < e[0]

    def in_backoff_since_update(self, key: Hashable, now: float) -> bool:
        e = self._entries.get(key)
        if e is None or self._expired(now, e[1]):
            return False
        return now - e[1] < e[0]

    def release_until(self, key: Hashable, event_time: float) -> float:
        """The time a key in back-off since ``event_time`` may retry."""
        return event_time + self.get(key)

    def forget(self, key: Hashable) -> None:
        """Drop the key (its pod is gone)."""
        self._entries.pop(key, None)
