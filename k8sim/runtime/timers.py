"""Timers with callbacks on SimPy's event queue, for lifecycles that need no process.

A SimPy process costs, per step, a :class:`simpy.Timeout` object, a generator resume
and a callback list, and one more event when its generator returns. A pod that only
waits (its start latency, then its run time) needs none of that: :class:`Timer` is one
object per pod, put on the environment's queue again at each step, whose callback is a
shared tuple (no allocation per event beyond the queue's own entry).

**Same order as the process it replaces.** SimPy orders events by ``(time, priority,
insertion number)``. A timer is scheduled exactly where the process would have
scheduled its events: at the start with priority URGENT where the process's
``Initialize`` event was, then at each step with priority NORMAL where its
``Timeout`` was, so every event keeps its place relative to all others. The only event
left out is the one SimPy schedules when a generator returns (nobody waits on a pod's
process, so it has no callback and nothing observes it), which leaves the order of the
rest unchanged. Interrupts are scheduled where SimPy's ``Interruption`` event would be
(URGENT, now), so they too arrive in the same order.

A lifecycle that must do more than wait (a deletion, its node failing) becomes a
generator process at that point, one that starts at once, inside the current event, as
the interrupted generator would have gone on: :func:`start_process_now`.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Generator, Iterator
from heapq import heapify, heappop, heappush
from typing import Any

import simpy
from simpy.events import NORMAL, PENDING, URGENT, EventPriority

__all__ = ["LOOP_GC_THRESHOLD", "NORMAL", "URGENT", "Arrivals", "Environment", "ProcessNow", "Timer", "interrupt_process_now",
           "LateQueue", "late_push", "run_before", "run_until", "start_process_now"]

_simpy_step = simpy.Environment.step
#: The priority with which SimPy's ``step`` puts back an event whose callback stopped
#: the run (``run(until=...)``'s stop event), to be processed when the run resumes.
_RESUME_PRIORITY = EventPriority(-1)
#: The collector's first threshold while :func:`run_before` runs (Python's default is
#: 700): with the default, a million-pod replay spent 1.6 s of its 28 s in about 550
#: collections, and the run took 2-3 s longer (measured on 2 cores).
LOOP_GC_THRESHOLD = 100_000


class LateQueue:
    """The queue of entries that wait long (pods' run ends), as a calendar: entries
    are kept by the ``width``-second bucket of their time, and only the earliest
    bucket is a heap (:attr:`active`); a later bucket is a plain list until the clock
    gets there, when it is heapified. So a push is a list append and a pop sifts
    through the few hundred entries of one bucket rather than through every pending
    run end (tens of thousands in a large replay), whose tuples are scattered in
    memory.

    The order is exactly a heap's over all entries: every entry in :attr:`active` has a
    bucket at or before :attr:`current`, every other one a later bucket, and bucket
    numbers grow with time, so ``active[0]`` is the smallest entry whenever
    :attr:`active` is not empty; :meth:`advance` refills it from the next bucket."""

    __slots__ = ("active", "buckets", "ids", "current", "width", "scale")

    def __init__(self, width: float = 1.0) -> None:
        #: A heap of the entries of buckets up to ``current``.
        self.active: list[Any] = []
        #: Later buckets: number -> their entries (unordered).
        self.buckets: dict[int, list[Any]] = {}
        #: A heap of the numbers in ``buckets``.
        self.ids: list[int] = []
        self.current = -(1 << 62)
        self.width = width
        self.scale = 1.0 / width

    def __len__(self) -> int:
        return len(self.active) + sum(len(b) for b in self.buckets.values())

    def push(self, entry: tuple[float, int, int, Any]) -> None:
        """Add a ``(time, priority, insertion number, event)`` entry."""
        t = entry[0]
        # The bucket number only has to grow with the time (int() truncates, which
        # does); times from 4e18 on (infinity) share the last bucket.
        b = int(t * self.scale) if t < 4e18 else 1 << 62
        if b > self.current:
            bucket = self.buckets.get(b)
            if bucket is not None:
                bucket.append(entry)
                return
            self.buckets[b] = [entry]
            heappush(self.ids, b)
            return
        heappush(self.active, entry)

    def advance(self) -> bool:
        """Make the next bucket :attr:`active` (which must be empty); False if none is left."""
        if not self.ids:
            return False
        b = heappop(self.ids)
        active = self.active
        active.extend(self.buckets.pop(b))
        heapify(active)
        self.current = b
        return True

    def head(self) -> tuple[float, int, int, Any] | None:
        """The smallest entry (None: the queue is empty)."""
        active = self.active
        if active or self.advance():
            return active[0]
        return None


class Environment(simpy.Environment):
    """SimPy's environment with a second queue, ``_late`` (a :class:`LateQueue`), for
    the entries that stay on the queue for long: the end of each running pod's run
    time (:func:`late_push`).

    Both queues hold the same ``(time, priority, insertion number, event)`` entries,
    numbered by the one counter, so those keys are unique and the next event is the
    smaller of the two heads: :meth:`step`, :meth:`peek` and :func:`run_before` take
    the events in exactly the order one queue would give. What the split saves is
    the depth of the heap that every other entry goes through: an arrival, a
    scheduling cycle or the start of a lifecycle no longer sifts past the tens of
    thousands of run ends of a large replay."""

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self._late = LateQueue()

    def peek(self) -> float:
        """The time of the next event of either queue (inf: none)."""
        queue, head = self._queue, self._late.head()
        if head is not None and (not queue or head < queue[0]):
            return head[0]
        return queue[0][0] if queue else math.inf

    def step(self) -> None:
        """SimPy's ``step``, after moving the late queue's head to the main queue when it
        comes first (it is then the main queue's head)."""
        late = self._late
        head = late.head()
        if head is not None:
            queue = self._queue
            if not queue or head < queue[0]:
                heappush(queue, heappop(late.active))
        _simpy_step(self)


def late_push(env: simpy.Environment) -> Callable[[tuple[float, int, int, Any]], None]:
    """How to put an entry that will stay on the queue for long: on the late queue of a
    k8sim :class:`Environment`, on the only queue of any other."""
    if isinstance(env, Environment):
        return env._late.push
    queue = env._queue
    return lambda entry: heappush(queue, entry)  # type: ignore[misc]


class Timer:
    """One entry of SimPy's queue that calls ``callbacks`` when it comes up.

    ``callbacks`` is reset to None by the environment when the timer fires, as for any
    event; :meth:`schedule` sets it again. Subclasses add the state their callback
    needs (``__slots__``). :meth:`cancel` makes a pending timer a no-op when it comes
    up (it stays on the queue, as a SimPy ``Timeout`` whose process was interrupted).
    """

    __slots__ = ("callbacks",)
    #: Read by ``Environment.step``: a timer never fails.
    _ok = True

    def __init__(self) -> None:
        self.callbacks: tuple[Callable[[Any], None], ...] | None = None

    def schedule(self, env: simpy.Environment, callbacks: tuple[Callable[[Any], None], ...], delay: float,
                 priority: int = NORMAL) -> None:
        """Fire ``callbacks`` (each called with the timer) ``delay`` seconds from now."""
        self.callbacks = callbacks
        env.schedule(self, priority, delay)  # type: ignore[arg-type]

    def cancel(self) -> None:
        """A pending timer does nothing when it comes up."""
        self.callbacks = ()


class Arrivals(Timer):
    """Calls ``create()`` at each of ``times`` (non-decreasing; those not after the
    current time at once, in one go), as the generator process
    :func:`k8sim.workloads.generators.arrival_process` does, with its events in the
    same places: :meth:`start` where the process's ``Initialize`` event would be
    (URGENT, now), then one NORMAL entry per wait where its ``Timeout`` would be. No
    process, no ``Timeout`` and no generator resume per arrival; the event SimPy
    schedules when the generator returns is left out (nothing waits on it)."""

    __slots__ = ("env", "times", "create", "_due", "_cb")

    def __init__(self, env: simpy.Environment, times: Iterator[float], create: Callable[[], None]):
        self.callbacks = None
        self.env = env
        self.times = times
        self.create = create
        #: The entry on the queue is an arrival's wait (its pod is created when it fires).
        self._due = False
        self._cb = (self._step,)

    def start(self) -> None:
        """Begin at the next URGENT event now (where ``env.process`` would start)."""
        self.schedule(self.env, self._cb, 0, URGENT)

    def _step(self, _timer: Any) -> None:
        env, create = self.env, self.create
        if self._due:
            create()
        for t in self.times:
            delay = t - env._now
            if delay > 0:
                self._due = True
                # self.schedule(env, self._cb, delay), inlined: the same queue entry.
                self.callbacks = self._cb
                heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))  # type: ignore[misc]
                return
            create()
        self._due = False


class ProcessNow(simpy.Process):
    """A SimPy process whose generator starts when :meth:`start` is called, inside the
    current event, rather than at an ``Initialize`` event of its own. Otherwise an
    ordinary process (it can be waited on and interrupted)."""

    def __init__(self, env: simpy.Environment, generator: Generator[simpy.Event, Any, Any]):
        # Process.__init__ without scheduling Initialize (Event's fields set inline, as
        # SimPy's own subclasses do).
        self.env = env
        self.callbacks = []
        self._generator = generator
        self._value = PENDING

    def start(self) -> None:
        """Run the generator up to its first yield, now."""
        begin = simpy.Event(self.env)
        begin._ok = True
        begin._value = None
        self._resume(begin)


def start_process_now(env: simpy.Environment, generator: Generator[simpy.Event, Any, Any],
                      register: Callable[[ProcessNow], None] | None = None) -> ProcessNow:
    """A process of ``generator`` run now up to its first yield; ``register(process)``
    is called before the generator starts (so that the generator may find or drop it)."""
    proc = ProcessNow(env, generator)
    if register is not None:
        register(proc)
    proc.start()
    return proc


def interrupt_process_now(proc: simpy.Process, cause: Any) -> None:
    """Throw :class:`simpy.Interrupt` (``cause``) into ``proc`` now, as the processing of
    SimPy's ``Interruption`` event does (nothing if the process has ended)."""
    if proc._value is not PENDING:
        return
    proc._target.callbacks.remove(proc._resume)
    failed = simpy.Event(proc.env)
    failed._ok = False
    failed._value = simpy.Interrupt(cause)
    failed._defused = True
    proc._resume(failed)


def run_before(env: simpy.Environment, horizon: float) -> None:
    """Process every event whose time is before ``horizon``, in queue order: the loop
    ``while env.peek() < horizon: env.step()`` with SimPy's ``Environment.step`` inlined
    (the same pops, the same callbacks in the same order, the same crash on a failed
    event nobody defused), without two method calls per event. Nothing may raise
    ``StopSimulation`` from a callback here (only ``Environment.run(until=...)`` does,
    through its own stop event, which this loop never schedules).

    The objects that exist when the loop starts (the scenario, the tables, a trace's
    shapes: millions of them in a large replay) are set aside from the cyclic garbage
    collector while it runs (``gc.freeze``, undone at the end): the collections that
    the run's own allocations trigger then no longer walk them again and again. And
    the youngest generation is collected after :data:`LOOP_GC_THRESHOLD` allocations
    rather than Python's 700 (restored at the end): a large replay keeps a timer and
    queue entries per running pod, which the collector would otherwise walk about a
    hundred times each on their way to the oldest generation. Nothing else changes
    (reference counting frees objects as before; only reference cycles wait longer to
    be collected: those among objects older than the loop until its end, the others
    until that many allocations)."""
    queue = env._queue
    late = env._late if isinstance(env, Environment) else None
    freeze = gc.isenabled() and gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    if freeze:
        gc.freeze()
        if thresholds[0] < LOOP_GC_THRESHOLD:
            gc.set_threshold(LOOP_GC_THRESHOLD, *thresholds[1:])
    try:
        if late is not None:
            _run_two(env, queue, late, horizon)
            return
        while queue and queue[0][0] < horizon:
            env._now, _, _, event = heappop(queue)
            callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
            for callback in callbacks:
                callback(event)
            if not event._ok and not hasattr(event, "_defused"):
                _raise_failed(event)
    finally:
        if freeze:
            gc.set_threshold(*thresholds)
            gc.unfreeze()


def run_until(env: simpy.Environment, until: float) -> None:
    """``env.run(until=until)`` for a number ``until``, with :func:`run_before`'s loop.

    SimPy's ``run`` puts a stop event on the queue at ``now + (until - now)`` with
    priority URGENT and the next insertion number, and steps until that event comes up:
    every event before that time, then the URGENT events at that time queued before it;
    the clock ends there. This puts the same event on the queue (components see it
    there, as in SimPy's run: the queue is never empty before the end), processes the
    events before its time with :func:`run_before`, then those at its time whose keys
    are below its key (one by one, with ``env.step``), and takes it off and puts it
    back at priority -1 as SimPy's ``step`` does: the same events in the same order, the
    same queue and counter afterwards."""
    at = until if isinstance(until, int) else float(until)
    if at <= env._now:
        raise ValueError(f"until ({at}) must be greater than the current simulation time")
    stop = simpy.Event(env)
    stop._ok = True
    stop._value = None
    env.schedule(stop, URGENT, at - env._now)
    queue = env._queue
    key = next(entry for entry in queue if entry[3] is stop)[:3]
    run_before(env, key[0])
    late = env._late if isinstance(env, Environment) else None
    while True:
        head: Any = queue[0]
        if late is not None:
            other = late.head()
            if other is not None and other < head:
                head = other
        if head[:3] >= key:
            break
        env.step()
    # The stop event is the head now: every smaller key has been taken. SimPy's step
    # puts it back, at once, with priority -1 and its remaining callbacks (none) when
    # its StopSimulation callback raises: the same entry here.
    env._now, _, _, event = heappop(queue)
    if event is not stop:
        raise RuntimeError("run_until: the stop event was not at the head of the queue")
    stop.callbacks = []
    env.schedule(stop, _RESUME_PRIORITY)


def _run_two(env: simpy.Environment, queue: list, late: LateQueue, horizon: float) -> None:
    """:func:`run_before`'s loop over the two queues of a k8sim :class:`Environment`:
    each event is the smaller of the two heads (their keys are unique)."""
    active = late.active
    while True:
        if not active and late.ids:
            late.advance()  # the next bucket (into the same list)
        if active and (not queue or active[0] < queue[0]):
            src = active
        elif queue:
            src = queue
        else:
            return
        if src[0][0] >= horizon:
            return
        env._now, _, _, event = heappop(src)
        callbacks, event.callbacks = event.callbacks, None
        for callback in callbacks:
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            _raise_failed(event)


def _raise_failed(event: Any) -> None:
    """As ``Environment.step`` for a failed event nobody defused: raise a copy of the
    failure with a new traceback."""
    exc = type(event._value)(*event._value.args)
    exc.__cause__ = event._value
    raise exc
