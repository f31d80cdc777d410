"""The scheduling queue, after upstream's PriorityQueue
(``pkg/scheduler/backend/queue/scheduling_queue.go``, ``backoff_queue.go``).

Three places a Pending pod can wait:

- **activeQ**: ordered by PrioritySort (higher priority first, then the earlier queue
  timestamp; a pod's timestamp is refreshed each time it fails).
- **backoffQ**: pods whose backoff has not completed, ordered by backoff expiry, then
  as activeQ (``lessBackoffCompletedWithPriority``). Backoff is
  ``podInitialBackoffSeconds * 2^(attempts-1)`` capped at ``podMaxBackoffSeconds``
  (``calculateBackoffDuration``), and the expiry is truncated to the 1 s ordering
  window. Completed pods are flushed to activeQ on whole-second ticks. As with
  upstream's ``SchedulerPopFromBackoffQ`` (default on since v1.33), when activeQ is
  empty the scheduler pops the head of backoffQ without waiting.
- **unschedulablePods**: pods whose last attempt failed. A cluster event moves a pod
  back (to backoffQ if still backing off, else activeQ) only if one of the plugins that
  rejected it registered that event kind (upstream ``EventsToRegister``) and, when the
  caller passes a queueing hint for the event, the hint says the event may help the
  pod (upstream ``isPodWorthRequeuing``: Queue if any rejecting plugin's hint returns
  Queue; the scheduler gives one for NodeAdd, see
  :meth:`k8sim.scheduling.scheduler.Scheduler.node_add_hint`); every 30 s, pods that have waited longer than
  ``podMaxInUnschedulablePodsDuration`` (5 min) are moved back regardless (unless
  nothing else can happen any more: see ``_arm_flush_tick``).

Timers are SimPy events scheduled only when a pod is waiting on them; nothing polls.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
from collections.abc import Callable

import simpy

from k8sim.cluster.pods import PodTable

#: Event kinds plugins register for (upstream ClusterEvent resource/action pairs).
POD_ADD, POD_DELETE, NODE_ADD, NODE_UPDATE = "PodAdd", "PodDelete", "NodeAdd", "NodeUpdate"
ALL_EVENTS = frozenset({POD_ADD, POD_DELETE, NODE_ADD, NODE_UPDATE})
#: A PersistentVolumeClaim was bound (registered by the volume plugins only).
PVC_UPDATE = "PersistentVolumeClaimUpdate"

#: Upstream ``backoffQOrderingWindowDuration`` / flush interval.
BACKOFF_WINDOW_S = 1.0
#: Upstream interval of ``flushUnschedulablePodsLeftover``.
UNSCHEDULABLE_FLUSH_INTERVAL_S = 30.0


class SchedulingQueue:
    """activeQ + backoffQ + unschedulablePods for one scheduler (upstream PriorityQueue).

    Owns the three waiting places, each Pending pod's queue ``timestamp`` (set when it
    is added and refreshed at each failure) and the SimPy timers of the two flushes.
    Its one caller is the scheduler: ``add`` (a new pod), ``pop`` (next to try),
    ``failed`` (an attempt failed, with the filters that rejected it), ``forget`` (bound
    or dropped) and ``move_all`` (a cluster event); the timers move pods on their own.

    Reads ``priority`` and ``attempts`` from the pod table and never writes it: the
    caller bumps ``attempts`` before reporting a failure, which sets the backoff.
    ``events_of(plugin)`` gives the event kinds a plugin registered; ``wake`` is called
    whenever activeQ or backoffQ gains a pod (Pop also takes from backoffQ).

    Invariants: a pod is in at most one of activeQ, backoffQ and ``unschedulable``, and
    in none while being scheduled (between ``pop`` and ``failed``/``forget``);
    ``unschedulable`` iterates in timestamp order; a flush timer is armed only when a
    pod waits for it (the leftover flush also only while other events are scheduled),
    and one whose pod has left since fires and does nothing: nothing polls.
    """

    def __init__(
        self,
        env: simpy.Environment,
        pods: PodTable,
        events_of: Callable[[str], frozenset[str]],
        wake: Callable[[], None],
        initial_backoff_s: float = 1.0,
        max_backoff_s: float = 10.0,
        max_in_unschedulable_s: float = 300.0,
    ):
        self.env = env
        self._pods = pods
        self._events_of = events_of
        self._wake = wake
        self.initial_backoff_s = initial_backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_in_unschedulable_s = max_in_unschedulable_s
        self._seq = itertools.count()
        self._active: list[tuple[int, float, int, int]] = []
        self._backoff: list[tuple[float, int, float, int, int]] = []
        #: pod -> (queue timestamp, rejecting plugins), in insertion (= timestamp) order.
        self.unschedulable: dict[int, tuple[float, frozenset[str]]] = {}
        self.timestamp: dict[int, float] = {}
        self._backoff_tick: float | None = None
        self._flush_tick: float | None = None
        #: Pods deleted while in activeQ or backoffQ (skipped when they come up).
        self._deleted: set[int] = set()
        #: A QueueSort plugin's key for activeQ (``key(pod)`` -> tuple, smaller first), or
        #: None for PrioritySort (the built-in order above). Set before the first pod.
        self.sort_key: Callable[[int], tuple] | None = None

    # -- sizes ----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._active) + len(self._backoff)

    def pending_counts(self) -> tuple[int, int, int]:
        return len(self._active), len(self._backoff), len(self.unschedulable)

    # -- backoff arithmetic ---------------------------------------------------------

    def backoff_duration(self, attempts: int) -> float:
        """Upstream ``calculateBackoffDuration``."""
        if attempts == 0:
            return 0.0
        d = self.initial_backoff_s
        for _ in range(1, attempts):
            if d > self.max_backoff_s - d:
                return self.max_backoff_s
            d += d
        return d

    def backoff_expiry(self, pod: int) -> float:
        """Timestamp + backoff, truncated to the 1 s window (upstream ``getBackoffTime``)."""
        attempts = int(self._pods.attempts[pod])
        if attempts == 0:
            return -math.inf
        t = self.timestamp[pod] + self.backoff_duration(attempts)
        return math.floor(t / BACKOFF_WINDOW_S) * BACKOFF_WINDOW_S

    def is_backing_off(self, pod: int) -> bool:
        """Upstream ``isPodBackingoff``: expiry not before the current window start."""
        window = math.floor(self.env.now / BACKOFF_WINDOW_S) * BACKOFF_WINDOW_S
        return not self.backoff_expiry(pod) < window

    # -- adding ---------------------------------------------------------------------

    def add(self, pod: int) -> None:
        """A new pod: straight to activeQ."""
        self.timestamp[pod] = self.env._now
        self._push_active(pod)
        self._wake()

    def _push_active(self, pod: int) -> None:
        if self.sort_key is None:
            heapq.heappush(self._active, (-int(self._pods.priority[pod]), self.timestamp[pod], next(self._seq), pod))
        else:
            heapq.heappush(self._active, (*self.sort_key(pod), next(self._seq), pod))

    def _push_backoff(self, pod: int) -> None:
        expiry = self.backoff_expiry(pod)
        heapq.heappush(
            self._backoff, (expiry, -int(self._pods.priority[pod]), self.timestamp[pod], next(self._seq), pod)
        )
        self._arm_backoff_tick()

    def failed(self, pod: int, rejectors: frozenset[str], move_requested: bool = False) -> None:
        """A scheduling attempt failed: refresh the timestamp, park the pod.

        ``move_requested``: a cluster event happened while the pod was being scheduled,
        so (as upstream) it goes to backoffQ instead of unschedulablePods.
        """
        self.timestamp[pod] = self.env.now
        if move_requested:
            self._push_backoff(pod)
            self._wake()
            return
        self.unschedulable[pod] = (self.env.now, rejectors)
        self._arm_flush_tick()

    # -- popping --------------------------------------------------------------------

    def pop(self) -> int | None:
        """Next pod to schedule: activeQ head, else backoffQ head (PopFromBackoffQ)."""
        while True:
            if self._active:
                pod = heapq.heappop(self._active)[-1]
            elif self._backoff:
                pod = heapq.heappop(self._backoff)[4]
            else:
                return None
            if not self._deleted or pod not in self._deleted:
                return pod
            self._deleted.discard(pod)

    def forget(self, pod: int) -> None:
        """The pod was bound: drop its queue state."""
        self.timestamp.pop(pod, None)

    def delete(self, pod: int) -> None:
        """The pod was deleted while Pending: it leaves the queue (upstream
        ``PriorityQueue.Delete``). A pod the queue does not hold is ignored."""
        if self.timestamp.pop(pod, None) is None:
            return  # not queued (never added, bound, or popped and not failed since)
        if self.unschedulable.pop(pod, None) is None:
            self._deleted.add(pod)  # in activeQ or backoffQ: skipped by pop

    def activate(self, pods: list[int]) -> int:
        """Move those of ``pods`` that wait in unschedulablePods or backoffQ to activeQ
        (upstream ``PriorityQueue.Activate``, which skips the backoff); pods in activeQ,
        in flight or not queued are left alone. Returns how many moved."""
        moved = 0
        backoff_hit = False
        for pod in pods:
            if pod in self.unschedulable:
                del self.unschedulable[pod]
            elif pod in self.timestamp and (not self._deleted or pod not in self._deleted):
                i = next((k for k, e in enumerate(self._backoff) if e[-1] == pod), -1)
                if i < 0:
                    continue  # in activeQ or in flight
                self._backoff[i] = self._backoff[-1]
                self._backoff.pop()
                backoff_hit = True
            else:
                continue
            self._push_active(pod)
            moved += 1
        if backoff_hit:
            heapq.heapify(self._backoff)
        if moved:
            self._wake()
        return moved

    # -- cluster events -------------------------------------------------------------

    def move_all(self, event: str, hint: Callable[[int, frozenset[str]], bool] | None = None) -> int:
        """``MoveAllToActiveOrBackoffQueue`` for one event kind; returns pods moved.

        ``hint(pod, rejectors)``: the event's queueing hint (None: every pod whose
        rejectors registered the event moves); a pod rejected by no plugin always moves."""
        if not self.unschedulable:
            return 0
        moved = []
        registered: dict[frozenset[str], bool] = {}  # rejector set -> registered the event
        for pod, (_, rejectors) in self.unschedulable.items():
            if rejectors:
                hit = registered.get(rejectors)
                if hit is None:
                    hit = registered[rejectors] = any(event in self._events_of(r) for r in rejectors)
                if not hit or (hint is not None and not hint(pod, rejectors)):
                    continue
            moved.append(pod)
        for pod in moved:
            del self.unschedulable[pod]
            self._requeue(pod)
        if moved:
            self._wake()
        return len(moved)

    def _requeue(self, pod: int) -> None:
        if self.is_backing_off(pod):
            self._push_backoff(pod)
        else:
            self._push_active(pod)

    # -- timers ---------------------------------------------------------------------

    def _arm_backoff_tick(self) -> None:
        """Schedule the whole-second flush at which the earliest backoffQ pod completes."""
        if not self._backoff:
            return
        expiry = self._backoff[0][0]
        # Completed once expiry < window start, i.e. at the window after the expiry's.
        tick = max(expiry + BACKOFF_WINDOW_S, math.floor(self.env.now / BACKOFF_WINDOW_S) * BACKOFF_WINDOW_S + BACKOFF_WINDOW_S)
        if self._backoff_tick is not None and self._backoff_tick <= tick:
            return
        self._backoff_tick = tick
        ev = self.env.timeout(tick - self.env.now)
        ev.callbacks.append(functools.partial(self._on_backoff_tick, tick))

    def _on_backoff_tick(self, tick: float, _event: simpy.Event) -> None:
        self._flush_backoff(tick)

    def _flush_backoff(self, tick: float) -> None:
        if self._backoff_tick != tick:
            return  # superseded by an earlier tick
        self._backoff_tick = None
        moved = False
        while self._backoff:
            pod = self._backoff[0][4]
            if self._deleted and pod in self._deleted:
                heapq.heappop(self._backoff)
                self._deleted.discard(pod)
                continue
            if self.is_backing_off(pod):
                break
            heapq.heappop(self._backoff)
            self._push_active(pod)
            moved = True
        self._arm_backoff_tick()
        if moved:
            self._wake()

    def _arm_flush_tick(self) -> None:
        if not self.unschedulable or self._flush_tick is not None:
            return
        if self.env.peek() == math.inf:
            # Nothing else is scheduled: the cluster can no longer change, so a retry
            # would fail again at the same state. Not arming lets a run that drains
            # end (upstream would keep retrying every 5 minutes forever).
            return
        first_ts = next(iter(self.unschedulable.values()))[0]
        due = first_ts + self.max_in_unschedulable_s
        tick = (math.floor(due / UNSCHEDULABLE_FLUSH_INTERVAL_S) + 1) * UNSCHEDULABLE_FLUSH_INTERVAL_S
        self._flush_tick = tick
        ev = self.env.timeout(tick - self.env.now)
        ev.callbacks.append(lambda _e: self._flush_unschedulable())

    def _flush_unschedulable(self) -> None:
        """Upstream ``flushUnschedulablePodsLeftover``."""
        self._flush_tick = None
        now = self.env.now
        stale = [p for p, (ts, _) in self.unschedulable.items() if now - ts > self.max_in_unschedulable_s]
        for pod in stale:
            del self.unschedulable[pod]
            self._requeue(pod)
        self._arm_flush_tick()
        if stale:
            self._wake()
