"""The scheduling queue: activeQ ordered like upstream's PrioritySort, plus an
unschedulable pool grouped by pod shape.

Ordering (upstream ``queuesort/priority_sort.go``): higher priority first, then the
earlier queue timestamp. As upstream, a pod's timestamp is refreshed each time it is
put back after a failed attempt.

Unschedulable pods wait, grouped by shape in arrival order, until a cluster event could
make them schedulable (a pod released its node, a node was added). Upstream moves every
such pod back to activeQ and lets them fail again one by one; pods of one shape are
interchangeable, so when the head of a group fails the rest would fail too. k8sim
therefore moves only the head of each group, and the next one after the head is bound:
the same pods end up bound in the same order with a fraction of the failed attempts.
Backoff timers (``podInitialBackoffSeconds``) are not modelled yet: a pod moved back is
retried at once.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque


class SchedulingQueue:
    def __init__(self) -> None:
        self._active: list[tuple[int, float, int, int]] = []
        self._seq = itertools.count()
        #: shape -> pods waiting in the unschedulable pool, oldest first.
        self.unschedulable: dict[int, deque[int]] = {}
        #: Shapes whose head pod has been moved back to activeQ and not yet retried.
        self.in_flight: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._active)

    def push(self, pod: int, priority: int, timestamp: float) -> None:
        heapq.heappush(self._active, (-priority, timestamp, next(self._seq), pod))

    def pop(self) -> int | None:
        if not self._active:
            return None
        return heapq.heappop(self._active)[3]

    def park(self, pod: int, shape: int, was_head: bool) -> None:
        """Put a pod that failed to schedule into the unschedulable pool.

        ``was_head``: the pod had been moved out of this pool; it goes back to the
        front so that its group keeps arrival order.
        """
        group = self.unschedulable.get(shape)
        if group is None:
            group = self.unschedulable[shape] = deque()
        if was_head:
            group.appendleft(pod)
        else:
            group.append(pod)

    def take_head(self, shape: int) -> int | None:
        """Remove and return the oldest waiting pod of ``shape`` unless one is in flight."""
        if shape in self.in_flight:
            return None
        group = self.unschedulable.get(shape)
        if not group:
            return None
        pod = group.popleft()
        self.in_flight[shape] = pod
        return pod

    def landed(self, shape: int, pod: int) -> bool:
        """Mark a retried head as done; True if ``pod`` was that head."""
        if self.in_flight.get(shape) == pod:
            del self.in_flight[shape]
            return True
        return False

    def waiting_shapes(self) -> list[int]:
        """Shapes with waiting pods and no head in flight."""
        return [s for s, g in self.unschedulable.items() if g and s not in self.in_flight]

    def n_unschedulable(self) -> int:
        return sum(len(g) for g in self.unschedulable.values()) + len(self.in_flight)
