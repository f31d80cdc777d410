"""The kubelet: a bound pod's life on its node.

A component (:mod:`k8sim.component`) that watches PodBound (start the pod's lifecycle),
PodDeleting (stop it), NodeAdded (the image store grows) and NodeRemoved (its pods are
lost), and acts only through the Cluster API (Running, terminated, its reports).

One lifecycle per bound pod, with optional steps. Without a runtime
model for the pod's workload (no ``images`` section, no runtime fields: see
:mod:`k8sim.runtime.spec`) the steps are the plain ones: ContainerCreating for the pod's
start latency (drawn at its birth), then Running (and Ready) for its duration (inf =
until the run ends), then Succeeded, which frees the node's resources (the scheduler,
watching, retries the pods that were waiting for room). Such a plain lifecycle (no
volumes, no RuntimeClass either) is a timer on SimPy's queue rather than a generator
process (:class:`PlainLifecycle`, :mod:`k8sim.runtime.timers`), with its events in the
same places; it becomes a process when it is interrupted (deleted, its node failed).
Every other lifecycle is a SimPy process, which ends with its pod.

With a runtime model, ContainerCreating is refined as kubelet's ``SyncPod`` does it:

0. with claims, the volumes are provisioned and attached (:mod:`k8sim.storage.component`);
1. the pod sandbox (``sandbox_latency``; a pod of a RuntimeClass first waits for its
   handler's sandbox, :mod:`k8sim.runtime.runtimeclass`, with or without a runtime model);
2. each init container in order: its image is ensured (below), then it is started and
   runs to completion (``start_latency + duration``);
3. each main container in order: its image is ensured, then it is created and started
   (its ``start_latency``); then the pod's ``start_latency`` -> Running;
4. ``readiness_delay`` after Running the pod is Ready (a timestamp, no event).

Ensuring an image (``imageManager.EnsureImageExists``): ``IfNotPresent`` uses a present
image as is; ``Always`` sends a pull request even when the image is present (only the
missing layers are downloaded, so it costs a registry token and a place in the node's
pull queue); ``Never`` with the image absent is ErrImageNeverPull (recorded in the
event log and the pod's ``reason``): the pod waits, and each pod sync checks again, so
it starts at its first sync after the image has arrived on the node. A failed pull is
ErrImagePull and the pod retries after kubelet's image back-off (10 s doubling to 300 s,
:mod:`k8sim.runtime.backoff`), in ImagePullBackOff meanwhile. Pulls themselves (queues,
registry limits, download slots, shared bandwidth, disk and image GC) are
:mod:`k8sim.runtime.pulls`. The pod's startup columns (``pull_start``, ``pull_end``,
``image_pull_time``, ``pull_bytes``) describe the first start only; pulls at container
restarts go to ``restart_pull_time`` / ``restart_pulls``. A pull still under way when
the result is taken counts up to that time.

Pod-worker timing (``pkg/kubelet/pod_workers.go``): a sync that fails (a pull in
back-off, ErrImageNeverPull) is retried after ``backOffPeriod`` (10 s) times a random
factor in [1, 1.5); pull retries therefore happen at the pod's first sync after the
back-off expires, not at the expiry itself. A container in CrashLoopBackOff is restarted
at a sync requeued for the back-off's expiry, jittered the same way (Kubernetes 1.35+).
See :mod:`k8sim.runtime.podworker`. The pool's kubelet settings
``podWorkerBackOffPeriodSeconds``, ``podWorkerJitterFactor``,
``podWorkerRequeueAtBackOffExpiry`` and ``syncFrequencySeconds`` change it.

Running, the first main container exits at the end of the pod's duration (success) or
when the crash model says (error; a crash that ends the pod reports the crash model's
exit code in ``state.exit_codes``, and a container the kubelet kills, or that never
started, reports 137). ``restartPolicy`` decides: Never -> the pod ends
(Succeeded or Failed); OnFailure -> success ends it, an error restarts the container;
Always -> both restart it. Restarts follow kubelet's CrashLoopBackOff exactly
(``doBackOff``: immediate first restart, then 10, 20, 40, ... 300 s after each exit,
reset after a run of more than 10 minutes), at a pod sync once the back-off is over;
each restart ensures the image again (an ``Always`` policy pulls again) and pays
the container's start latency again (the sandbox stays; with the ``image:`` shorthand
the pod's ``start_latency`` is its container's). The pod stays Running (its phase)
throughout, holding its resources.

Image GC runs every ``imageGCPeriodSeconds`` (5 minutes) on every node with a limited
image disk (:mod:`k8sim.runtime.imagegc`; without ``duration_s`` lazily, at the node's
next kubelet activity), besides the GC a pull runs when it needs room; both are
reported as ``ImageGC`` events and ``image_gc`` rows.

Without ``duration_s`` (a run that ends when nothing is left to happen), a pull that
failed for lack of disk while every image on the node is in use waits for a pod to leave
the node, then retries when kubelet's back-off would have; timed retries that could
only fail would otherwise keep such a run alive for ever.

A deleted pod (``ClusterAPI.delete_pod``, e.g. a preemption victim) is stopped at any
point: it keeps its resources for its grace period, then ends Failed (events ``Killing``
then the deletion's reason). When its node is removed, a pod's containers are gone at
once; the pod is lost (reason ``NodeLost``, no grace) when the pod garbage collector
deletes it (below).

When the machine under a node fails (``NodeDown``, a fault), its pods' containers die
where they are, but the pods stay bound and keep their phase: the API server does not
know yet (the node lifecycle controller finds out from the missing heartbeats). A pod
bound to a failed node meanwhile never starts. When the node is deleted
(``NodeRemoved``) its pods stop the same way and wait for the pod garbage collector
(:mod:`k8sim.controllers.podgc`), which deletes them 40 to 60 s later (reason
``NodeLost``; on a partitioned node the deletions its kubelet had not heard of take
effect then too). Such a pod then either

- is deleted (taint-based eviction, the node removed, ...): it ends at once with the
  deletion's reason, without ``Killing`` and without a grace period, since nothing is
  left to stop (upstream the pod object would stay Terminating until the node returns
  or is deleted; its node cannot take new pods meanwhile, so k8sim frees it at once);
- or sees the machine come back (``NodeUp``): the kubelet restarts and recreates the
  pod's containers from the start (``restarts`` + 1, the start latency again, the whole
  duration again: the work of the interrupted run is lost), except that a pod with
  ``restartPolicy: Never`` ends Failed with reason ``ContainerStatusUnknown`` (upstream's
  status for a container that vanished). The kubelet also reports the node Ready again.

A network partition (``NodeDown`` with ``partition``) cuts only the kubelet's link to the
control plane: its pods go on running (and may complete), but it hears of nothing new:
pods bound there meanwhile start when the link returns, and a deletion (an eviction)
takes effect only then, the pod keeping its node's resources until it has stopped (its
grace period from the return). If the node is deleted meanwhile, the pod garbage
collector force-deletes its pods after its quarantine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Generator
from heapq import heappush
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import simpy

from k8sim.cluster.pods import (
    BOUND,
    CRASH_LOOP_BACKOFF,
    ERR_IMAGE_NEVER_PULL,
    FAILED,
    IMAGE_PULL_BACKOFF,
    NO_REASON,
    RUNNING,
    SUCCEEDED,
)
from k8sim.cluster.watch import NodeAdded, NodeDown, NodeRemoved, NodeUp, PodBound, PodDeleting
from k8sim.component import Contribution
from k8sim.runtime.backoff import Backoff
from k8sim.runtime.imagegc import PULL, ImageGC
from k8sim.runtime.podworker import next_sync, restart_sync
from k8sim.runtime.pulls import NO_SPACE, Puller
from k8sim.runtime.spec import ALWAYS, IF_NOT_PRESENT, NEVER, RESTART_ALWAYS, RESTART_CODES, RESTART_NEVER
from k8sim.runtime.timers import NORMAL, URGENT, Timer, interrupt_process_now, late_push, start_process_now

if TYPE_CHECKING:
    from k8sim.cluster.api import ClusterAPI
    from k8sim.runtime.runtimeclass import RuntimeClasses
    from k8sim.runtime.spec import Container, RuntimeModel, WorkloadRuntime
    from k8sim.runtime.store import GCResult
    from k8sim.storage.component import Storage

_Gen = Generator[simpy.Event, Any, Any]

#: Reason of the pods of a removed node.
NODE_LOST = "NodeLost"
#: Reason of a ``restartPolicy: Never`` pod whose node failed and came back.
CONTAINER_STATUS_UNKNOWN = "ContainerStatusUnknown"
#: Interrupt cause: the pod's node failed.
_NODE_DOWN = "node-down"
#: Exit code the kubelet reports for a container it killed, or could not locate when
#: the pod ended (``ContainerStatusUnknown``): 128 + SIGKILL.
KILLED_EXIT_CODE = 137

#: Steps of a plain lifecycle (:class:`PlainLifecycle`).
_START, _CREATING, _RUNNING, _FOREVER, _ENDED = 0, 1, 2, 3, 4


class PlainLifecycle(Timer):
    """The lifecycle of a pod without a runtime model, volumes or RuntimeClass: its
    start latency, then its run time. No generator process: one timer, stepped by
    :meth:`Kubelet._plain_step`, on SimPy's queue exactly where the process's events
    would be (:mod:`k8sim.runtime.timers`). It stands in for the process in the
    kubelet's table (``is_alive``, ``interrupt``); an interrupt hands the rest of the
    lifecycle to a generator process (:meth:`Kubelet._plain_interrupted`)."""

    __slots__ = ("kubelet", "pod", "node", "step", "process")

    def __init__(self, kubelet: Kubelet, pod: int, callbacks: tuple | None = None):
        self.callbacks = callbacks
        self.kubelet = kubelet
        self.pod = pod
        self.node = -1
        self.step = _START
        #: The generator process that took over after an interrupt (None before).
        self.process: simpy.Process | None = None

    @property
    def is_alive(self) -> bool:
        """As ``simpy.Process.is_alive``: True until the lifecycle has ended."""
        if self.process is not None:
            return self.process.is_alive
        return self.step != _ENDED

    def interrupt(self, cause: Any) -> None:
        """As ``simpy.Process.interrupt``: delivered by an URGENT event now, where SimPy
        schedules its ``Interruption`` event."""
        kubelet = self.kubelet
        ev = simpy.Event(kubelet.env)
        ev._ok = True
        ev._value = None
        ev.callbacks.append(lambda _ev: kubelet._plain_interrupted(self, cause))
        kubelet.env.schedule(ev, URGENT)


class Kubelet:
    """Every node's kubelet (one component; per-pod state lives in the pod table).

    ``runtime`` is the run's container-runtime model (image catalog, node image store,
    per-workload specs), or None when no workload uses one.
    """

    name = "kubelet"
    #: Plain lifecycles as timers (:class:`PlainLifecycle`); False: every lifecycle a
    #: generator process, the reference the timers reproduce event for event.
    plain_timers = True

    def __init__(self, api: ClusterAPI, runtime: RuntimeModel | None = None,
                 sandboxes: RuntimeClasses | None = None, storage: Storage | None = None):
        self.api = api
        #: Volume provisioning and attachment (None: no storage in the scenario).
        self.storage = storage
        #: Sandbox creation times of pods with a RuntimeClass (None: no classes).
        self.sandboxes = sandboxes
        self.env = api.env
        self.state = api.state
        #: Each bound pod's lifecycle (a generator process, or a PlainLifecycle timer).
        self._procs: dict[int, simpy.Process | PlainLifecycle] = {}
        #: Callbacks of plain lifecycles' timers (one shared tuple: no allocation per step).
        self._plain_cb = (self._plain_step,)
        #: Puts a plain lifecycle's run end on the queue (the environment's late queue).
        self._late_push = late_push(self.env)
        self.runtime = runtime
        self._specs = runtime.workloads if runtime is not None else None
        self._rt_variants: dict[tuple[tuple[int, ...], int], WorkloadRuntime] = {}
        self.store = runtime.store if runtime is not None else None
        self.puller: Puller | None = None
        #: Periodic image GC and the record of every pass (with an image store).
        self.image_gc: ImageGC | None = None
        if runtime is not None and runtime.store is not None:
            self.image_gc = ImageGC(api, runtime.store, lazy=runtime.drain)
            self.puller = Puller(self.env, runtime.store, runtime.registry_bandwidth, self._gc_done,
                                 self._image_arrived)
            runtime.store.start_log(lambda: self.env.now)
        #: kubelet's two back-off trackers (container restarts, image pulls).
        self.crash_backoff = Backoff()
        self.pull_backoff = Backoff()
        self._rngs: dict[tuple[str, int], np.random.Generator] = {}
        self._pull_attempts: dict[int, int] = {}
        self._dirty: set[int] = set()  # pods with back-off entries, attempts or streams
        self._parked: dict[int, list[simpy.Event]] = {}  # node -> pulls waiting for room
        #: (node, image) -> ErrImageNeverPull pods waiting for the image to appear.
        self._image_waiters: dict[tuple[int, int], list[simpy.Event]] = {}
        #: Pulls under way: pod -> (started, restart?, column value before it).
        self._open: dict[int, tuple[float, bool, float]] = {}
        bus = api.bus
        bus.subscribe_fields(PodBound, self.start_pod)
        bus.subscribe(PodDeleting, self._on_deleting)
        bus.subscribe(NodeAdded, self._on_node_added)
        bus.subscribe(NodeRemoved, self._on_node_removed)
        bus.subscribe(NodeDown, self._on_node_down)
        bus.subscribe(NodeUp, self._on_node_up)
        #: Failed nodes -> the event their stalled pods wait for (fired by NodeUp).
        self._node_up: dict[int, simpy.Event] = {}
        #: Partitioned nodes -> deletions their kubelet has not heard of yet.
        self._partitioned: dict[int, list[PodDeleting]] = {}
        #: Usage models' OOM times: ``oom_after(pod, now)`` -> seconds into the container
        #: run starting now at which its memory reaches its limit (inf: never). Set by
        #: :mod:`k8sim.autoscaling.pod_autoscaling` for runs with usage models only.
        self.oom_after: Any = None
        #: (time, pod) of each OOM kill.
        self.oom_kills: list[tuple[float, int]] = []
        #: Pods whose crash ends them: (container, exit code) until they terminate.
        self._exit: dict[int, tuple[str, int]] = {}
        #: Running pods without a run time of their own (duration inf) -> the event that
        #: ends their run (:meth:`finish`); None unless a component asked for it
        #: (:meth:`track_open_ended`), so other runs keep no such entries.
        self.open_ended: dict[int, simpy.Event] | None = None

    def track_open_ended(self) -> None:
        """Let :meth:`finish` end pods that run for ever (the training-job model)."""
        if self.open_ended is None:
            self.open_ended = {}

    def finish(self, pod: int) -> bool:
        """The main container of a Running pod without a run time of its own exits
        successfully now (the pod then ends as its duration would have ended it).
        False when the pod is not such a pod (ended, deleted, or not yet Running)."""
        ev = self.open_ended.pop(pod, None) if self.open_ended is not None else None
        if ev is None:
            return False
        ev.succeed()
        return True

    @property
    def terminating(self) -> set[int]:
        """Pods told to stop whose grace period has not ended (they still hold resources)."""
        return self.state.terminating

    def start(self) -> None:
        """Start the periodic image GC of the nodes there are (lifecycles begin when pods
        are bound)."""
        if self.image_gc is not None:
            for node in range(self.store.n):  # type: ignore[union-attr]
                self.image_gc.add_node(node)

    def contribute(self) -> Contribution:
        """The runtime model's provenance flag (``summary()`` then adds its metrics) and,
        with an image store, the frames ``image_gc`` (one row per image GC pass) and the
        disk-use log that :class:`~k8sim.metrics.result.RunResult` turns into the
        per-pool ``image_disk`` series. Pulls still under way are counted up to now
        (idempotent: the columns hold the time so far, the pulls go on)."""
        out = Contribution(provenance={"runtime_model": self.runtime is not None})
        now = self._now_for_record()
        pods = self.state.pods
        for pod, (t0, restart, base) in self._open.items():
            col = pods.restart_pull_time if restart else pods.image_pull_time
            col[pod] = base + (now - t0)
        store = self.store
        if store is not None:
            nodes = self.state.nodes
            out.frames["image_gc"] = self.image_gc.frame()  # type: ignore[union-attr]
            # Raw inputs of the image_disk series (consumed by RunResult, not kept).
            out.frames["image_disk_log"] = pd.DataFrame({
                "time": np.array(store.log_time, dtype=np.float64),
                "node": np.array(store.log_node, dtype=np.int64),
                "delta": np.array(store.log_delta, dtype=np.int64),
            })
            cfgs = store.configs
            out.frames["image_disk_nodes"] = pd.DataFrame({
                "node": np.arange(store.n, dtype=np.int64),
                "pool": pd.Series([nodes.pool_name(k) for k in range(store.n)], dtype="string"),
                "capacity_bytes": store.disk_capacity[:store.n].astype(np.int64),
                "gc_high_percent": np.array([c.gc_high_percent for c in cfgs], dtype=np.int64),
                "gc_low_percent": np.array([c.gc_low_percent for c in cfgs], dtype=np.int64),
            })
        return out

    def _now_for_record(self) -> float:
        """The time the run covers up to: now, or in a run without ``duration_s`` the
        last thing that happened (a last timer, e.g. the scheduler's unschedulable flush,
        may have moved the clock on), as ``Simulation.end_time``."""
        if self.runtime is not None and self.runtime.drain:
            log = self.api.log
            return float(log.time[-1]) if len(log) else 0.0
        return float(self.env.now)

    # -- watch handlers -----------------------------------------------------------------

    def start_pod(self, pod: int, _node: int = -1) -> None:
        """Begin the lifecycle of a freshly bound pod (with its object's runtime model if
        it has one, else its workload's). Subscribed to PodBound's fields (``pod``,
        ``node``: the pod's node is read from the table)."""
        rt = None
        if self._specs is not None:
            w = int(self.state.pods.workload[pod])
            if w >= 0:
                shape = int(self.state.pods.shape[pod])
                by_shape = self.runtime.by_shape  # type: ignore[union-attr]
                rt = by_shape.get(shape) if by_shape else None
                if rt is None:
                    rt = self._specs[w]
                if rt is not None:
                    policy = self.state.shapes[shape].restart_policy
                    if policy is not None:
                        rt = self._with_restart_policy(rt, policy)
        if rt is None and self.plain_timers and (
                # _is_plain's answer for a run without any of these, without the call.
                (self.open_ended is None and self.oom_after is None and self.storage is None
                 and self.sandboxes is None) or self._is_plain(pod)):
            # The process's Initialize event would be here: the timer takes its place
            # (SimPy's Environment.schedule inlined: the same queue entry).
            life = self._procs[pod] = PlainLifecycle(self, pod, self._plain_cb)
            env = self.env
            heappush(env._queue, (env._now, URGENT, next(env._eid), life))  # type: ignore[misc]
        else:
            self._procs[pod] = self.env.process(self._lifecycle(pod, rt))

    def _is_plain(self, pod: int) -> bool:
        """Whether the pod's lifecycle (no runtime model) has no volumes to mount and no
        RuntimeClass sandbox to wait for: only its start latency and run time."""
        if self.open_ended is not None or self.oom_after is not None:
            return False  # training jobs end open-ended pods, usage models OOM-kill: processes
        if self.storage is None and self.sandboxes is None:
            return True
        shape = self.state.shapes[int(self.state.pods.shape[pod])]
        return not (self.storage is not None and shape.claims) and not (
            self.sandboxes is not None and shape.runtime_class >= 0)

    def _plain_step(self, life: PlainLifecycle) -> None:
        """One step of a plain lifecycle: what :meth:`_lifecycle` does between two of its
        yields when ``rt`` is None, in the same order (see there). Each wait puts the
        timer back on SimPy's queue as ``Environment.schedule`` would (inlined: the
        same ``(time, NORMAL, insertion)`` entry)."""
        env = self.env
        pods = self.state.pods
        pod = life.pod
        step = life.step
        if step == _START:  # the process's first step
            node = life.node = pods.node.item(pod)
            if not self.state.nodes.up[node]:  # bound to a node that has failed
                self._plain_hand_over(life, _NODE_DOWN)
                return
            d = pods.start_latency.item(pod)
            if d > 0:
                life.step = _CREATING
                life.callbacks = self._plain_cb
                heappush(env._queue, (env._now + d, NORMAL, next(env._eid), life))  # type: ignore[misc]
                return
            step = _CREATING
        if step == _CREATING:
            node = life.node
            first_start = pods.phase[pod] == BOUND
            if not first_start:
                self.api.record("Started", pod, node, "containers recreated after the node came back")
            duration = pods.duration.item(pod)
            if duration >= 0.0:  # the ready delay (none without a runtime model)
                pods.ready[pod] = env._now
            if first_start:
                self.api.set_running(pod)
            if math.isinf(duration):
                life.step = _FOREVER  # runs until deleted or the run ends
                return
            life.step = _RUNNING
            life.callbacks = self._plain_cb
            self._late_push((env._now + duration, NORMAL, next(env._eid), life))
            return
        # _RUNNING: the run time is over.
        life.step = _ENDED
        if pod in self._dirty:
            self._leave(pod, life.node, None, ())
        else:  # what _leave does for a pod with no images and no kubelet state
            self._procs.pop(pod, None)
        self.api.terminate(pod, SUCCEEDED)

    def _plain_interrupted(self, life: PlainLifecycle, cause: Any) -> None:
        """An interrupt of a plain lifecycle comes up: as SimPy's ``Interruption`` event,
        it does nothing once the lifecycle has ended; otherwise the pending timer is
        void and a process takes over where the generator's ``except`` would."""
        if life.process is not None:  # a second interrupt at one instant
            interrupt_process_now(life.process, cause)
            return
        if life.step == _ENDED:
            return
        life.cancel()
        self._plain_hand_over(life, cause)

    def _plain_hand_over(self, life: PlainLifecycle, cause: Any) -> None:
        """The rest of an interrupted plain lifecycle, as a process started now."""
        pod = life.pod

        def register(proc: simpy.Process) -> None:
            life.process = proc
            self._procs[pod] = proc

        start_process_now(self.env, self._stopped(pod, life.node, None, (), cause), register)

    def _with_restart_policy(self, rt: WorkloadRuntime, policy: str) -> WorkloadRuntime:
        """``rt`` with the pod's own ``restartPolicy`` (a Job's pods), one copy per pair."""
        code = RESTART_CODES[policy]
        if code == rt.restart_policy:
            return rt
        key = (rt.stream_keys, code)
        out = self._rt_variants.get(key)
        if out is None:
            out = self._rt_variants[key] = dataclasses.replace(rt, restart_policy=code)
        return out

    def _on_deleting(self, event: PodDeleting) -> None:
        if self._partitioned and event.node in self._partitioned:  # heard of when the link returns
            self._partitioned[event.node].append(event)
            return
        proc = self._procs.get(event.pod)
        if proc is not None and proc.is_alive:
            proc.interrupt((event.grace_s, event.reason))

    def _on_node_added(self, event: NodeAdded) -> None:
        store = self.store
        if store is not None:
            if event.node >= store.n:
                store.sync(self.state.nodes.pool, self.env.now)
            self.image_gc.add_node(event.node)  # type: ignore[union-attr]

    def _on_node_removed(self, event: NodeRemoved) -> None:
        if self.store is not None:
            self.store.stop_log(event.node)
            self.image_gc.node_removed(event.node)  # type: ignore[union-attr]
        # Deletions a partitioned kubelet had not heard of wait for the pod garbage
        # collector, which force-deletes the node's pods (force_delete).
        # The machine is gone with its containers; the pods stay bound (and their phase
        # as it was) until the pod garbage collector deletes them
        # (:mod:`k8sim.controllers.podgc`): they wait like the pods of a failed node.
        pods = self.state.pods
        n = pods.n
        phase = pods.phase[:n]
        on_node = np.flatnonzero((pods.node[:n] == event.node) & ((phase == BOUND) | (phase == RUNNING)))
        terminating = self.state.terminating
        for pod in on_node.tolist():
            proc = self._procs.get(pod)
            if proc is not None and proc.is_alive and pod not in terminating:
                proc.interrupt(_NODE_DOWN)

    def force_delete(self, node: int) -> None:
        """The pod garbage collector force-deletes the pods of the deleted ``node``: the
        deletions its kubelet (cut off by a partition) had not heard of end now."""
        for deferred in self._partitioned.pop(node, ()):
            proc = self._procs.get(deferred.pod)
            if proc is not None and proc.is_alive:
                proc.interrupt((0.0, deferred.reason))

    def _on_node_down(self, event: NodeDown) -> None:
        """The machine failed: every pod bound there stops where it is (those already
        terminating finish their grace period). A partition stops nothing, and neither
        does a kubelet that reports its node NotReady (it runs on and acts on deletions)."""
        if event.not_ready:
            return
        if event.partition:
            self._partitioned[event.node] = []
            return
        pods = self.state.pods
        n = pods.n
        phase = pods.phase[:n]
        on_node = np.flatnonzero((pods.node[:n] == event.node) & ((phase == BOUND) | (phase == RUNNING)))
        terminating = self.state.terminating
        for pod in on_node.tolist():
            proc = self._procs.get(pod)
            if proc is not None and proc.is_alive and pod not in terminating:
                proc.interrupt(_NODE_DOWN)

    def _on_node_up(self, event: NodeUp) -> None:
        """The machine runs again: its stalled pods restart, and the kubelet reports the
        node Ready; after a partition, it acts on the deletions it missed."""
        for deferred in self._partitioned.pop(event.node, ()):
            proc = self._procs.get(deferred.pod)
            if proc is not None and proc.is_alive:
                proc.interrupt((deferred.grace_s, deferred.reason))
        waiting = self._node_up.pop(event.node, None)
        if waiting is not None:
            waiting.succeed()
        if not self.state.nodes.ready[event.node] and np.isinf(self.state.nodes.removed_at[event.node]):
            self.api.update_node(event.node, ready=True)

    def _stalled(self, pod: int, node: int, rt: WorkloadRuntime | None, was_running: bool) -> _Gen:
        """A pod whose node failed waits for the machine to come back (returns True: its
        containers are (re)created) or for its deletion (ends it at once; False)."""
        while True:
            ev = self._node_up.get(node)
            if ev is None:
                ev = self._node_up[node] = self.env.event()
            try:
                yield ev
            except simpy.Interrupt as stop:
                if stop.cause == _NODE_DOWN:  # back and down again at one instant: wait on
                    continue
                _grace, reason = stop.cause  # type: ignore[misc]  # deleted while the node is down
                self.api.terminate(pod, FAILED, reason)
                return False
            if self.state.nodes.up[node]:
                break
        if was_running and rt is not None and rt.restart_policy == RESTART_NEVER:
            self.api.terminate(pod, FAILED, CONTAINER_STATUS_UNKNOWN,
                               exit_code=(self._container_name(pod, rt), KILLED_EXIT_CODE))
            return False
        return True

    # -- the lifecycle -----------------------------------------------------------------

    def _lifecycle(self, pod: int, rt: WorkloadRuntime | None, restart: bool = False) -> _Gen:
        """Sandbox, init containers, containers, Running, until the pod ends. Without a
        runtime model (``rt`` None) only the pod's start latency and duration.
        ``restart``: the containers are recreated after the node came back."""
        env = self.env
        api = self.api
        pods = self.state.pods
        node = int(pods.node[pod])
        i = int(pods.index[pod])
        store = self.store
        images = rt.images if rt is not None and store is not None else ()
        if images:
            if self.image_gc.due:  # type: ignore[union-attr]
                self.image_gc.catch_up(node)  # type: ignore[union-attr]
            store.use(images, node, env.now)  # type: ignore[union-attr]
        if rt is not None and not restart:
            pods.image_pull_time[pod] = 0.0
            pods.restart_pull_time[pod] = 0.0
        try:
            if not self.state.nodes.up[node]:  # bound to a node that has failed
                raise simpy.Interrupt(_NODE_DOWN)
            if self.storage is not None and self.state.shapes[int(pods.shape[pod])].claims:
                # Volumes provisioned and attached (WaitForAttachAndMount) before the sandbox.
                yield from self.storage.mount(pod, node)
            if self.sandboxes is not None:  # the RuntimeClass handler's RunPodSandbox
                rc = self.state.shapes[int(pods.shape[pod])].runtime_class
                if rc >= 0:
                    d = self.sandboxes.sandbox_time(pod, rc)
                    if d > 0:
                        yield env.timeout(d)
            if rt is not None:
                yield from self._create_containers(pod, node, rt, i)
            d = float(pods.start_latency[pod])
            if d > 0:
                yield env.timeout(d)
            first_start = pods.phase[pod] == BOUND
            if not first_start:  # Running before its node failed: the phase stays Running upstream
                api.record("Started", pod, node, "containers recreated after the node came back")
            if rt is None or rt.runs_once:  # no crash model, no restart on success: one run
                duration = float(pods.duration[pod])
                ready_delay = rt.readiness.get(i) if rt is not None else 0.0
                # The ready time is known before Running is published, so watchers of
                # PodRunning (controllers) read it at once.
                if duration >= ready_delay and not (restart and not math.isnan(pods.ready[pod])):
                    pods.ready[pod] = env.now + ready_delay
                if first_start:
                    api.set_running(pod)
                if math.isinf(duration):
                    # Runs until deleted or the run ends, or until finish() (a training
                    # job whose workers end together).
                    ends = self.open_ended
                    if ends is None:
                        yield env.event()
                    else:
                        ev = ends[pod] = env.event()
                        yield ev
                else:
                    yield env.timeout(duration)
                phase = SUCCEEDED
            else:
                if first_start:
                    api.set_running(pod)
                phase = yield from self._run(pod, node, rt, i)
            self._leave(pod, node, rt, images)
            api.terminate(pod, phase, exit_code=self._exit.pop(pod, None))
        except simpy.Interrupt as stop:  # deleted: stop.cause is (grace_s, reason)
            yield from self._stopped(pod, node, rt, images, stop.cause)

    def _stopped(self, pod: int, node: int, rt: WorkloadRuntime | None, images: tuple[int, ...],
                 cause: Any) -> _Gen:
        """The rest of a lifecycle interrupted with ``cause``: its node failed
        (``_NODE_DOWN``), or it was deleted (``(grace_s, reason)``)."""
        env = self.env
        api = self.api
        pods = self.state.pods
        if cause == _NODE_DOWN:  # the machine failed: the containers are gone
            self._leave(pod, node, rt, images, keep_proc=True)
            was_running = pods.phase[pod] == RUNNING
            if (yield from self._stalled(pod, node, rt, was_running)):
                if was_running:
                    pods.restarts[pod] += 1
                    self.api.container_restarted(pod, node)
                yield from self._lifecycle(pod, rt, restart=True)
            else:
                self._procs.pop(pod, None)
            return
        grace, reason = cause
        if self.open_ended is not None:
            self.open_ended.pop(pod, None)
        self._close_pull(pod)
        api.record("Killing", pod, node, reason)
        if grace > 0:
            yield env.timeout(grace)
        if rt is not None:
            pods.reason[pod] = NO_REASON  # no longer waiting: Failed
            if pods.ready[pod] > env.now:
                pods.ready[pod] = math.nan
        self._leave(pod, node, rt, images)
        # The kubelet kills the containers (and reports the ones that never started
        # as ContainerStatusUnknown): exit code 137 either way.
        api.terminate(pod, FAILED, reason, exit_code=(self._container_name(pod, rt), KILLED_EXIT_CODE))

    def _container_name(self, pod: int, rt: WorkloadRuntime | None) -> str:
        """The pod's first main container's name (the manifest's, else the model's)."""
        name = self.state.shapes[int(self.state.pods.shape[pod])].container_name
        return name or (rt.main[0].name if rt is not None else "main")

    def _exit_code(self, pod: int, rt: WorkloadRuntime, i: int) -> int:
        """The exit code of the crash that ends the pod (the crash model's
        ``exit_code``; several codes: one draw from the pod's ``rt-exit-code`` stream)."""
        if len(rt.exit_codes) == 1:
            return rt.exit_codes[0]
        u = float(self._pod_rng("rt-exit-code", pod, rt, i).random())
        return rt.exit_codes[min(int(np.searchsorted(rt.exit_cum, u, side="right")), len(rt.exit_codes) - 1)]

    def _create_containers(self, pod: int, node: int, rt: WorkloadRuntime, i: int) -> _Gen:
        """ContainerCreating with a runtime model: sandbox, init containers (each run to
        completion), main containers (each created and started)."""
        env = self.env
        store = self.store
        d = rt.sandbox.get(i)
        if d > 0:
            yield env.timeout(d)
        for c in rt.init:
            # A present image under IfNotPresent / Never is used as is. (c.image >= 0
            # implies a store; its arrays are re-read: adding a node replaces them.)
            if c.image >= 0 and (c.policy == ALWAYS or not store.image_present[c.image, node]):  # type: ignore[union-attr]
                yield from self._ensure_image(pod, node, c, rt, i)
            d = c.start.get(i) + c.duration.get(i)
            if d > 0:
                yield env.timeout(d)
        for c in rt.main:
            if c.image >= 0 and (c.policy == ALWAYS or not store.image_present[c.image, node]):  # type: ignore[union-attr]
                yield from self._ensure_image(pod, node, c, rt, i)
            d = c.start.get(i)
            if d > 0:
                yield env.timeout(d)

    def _leave(self, pod: int, node: int, rt: WorkloadRuntime | None, images: tuple[int, ...],
               keep_proc: bool = False) -> None:
        """The pod's containers are gone: release its images and its kubelet state
        (``keep_proc``: its process goes on, waiting for its failed node)."""
        if images:
            if self.image_gc.due:  # type: ignore[union-attr]
                self.image_gc.catch_up(node)  # type: ignore[union-attr]
            self.store.unuse(images, node, self.env.now)  # type: ignore[union-attr]
            for parked in self._parked.pop(node, ()):  # pulls waiting for room (drain mode)
                if not parked.triggered:
                    parked.succeed()
        if pod in self._dirty:  # drop the pod's back-off entries and streams
            self._dirty.discard(pod)
            self.crash_backoff.forget(pod)
            for img in images:
                self.pull_backoff.forget((pod, img))
            self._pull_attempts.pop(pod, None)
            self._rngs.pop(("rt-pull-fail", pod), None)
            self._rngs.pop(("rt-crash", pod), None)
            self._rngs.pop(("rt-sync", pod), None)
            self._rngs.pop(("rt-exit-code", pod), None)
        if not keep_proc:
            self._procs.pop(pod, None)

    def _must_check(self, c: Container, node: int) -> bool:
        """Whether ensuring ``c``'s image can do anything (a present image under
        IfNotPresent or Never is used as is)."""
        if c.image < 0 or self.store is None:
            return False
        return c.policy not in (IF_NOT_PRESENT, NEVER) or not self.store.image_present[c.image, node]

    def _ensure_image(self, pod: int, node: int, c: Container, rt: WorkloadRuntime, i: int,
                      restart: bool = False) -> _Gen:
        """``imageManager.EnsureImageExists`` for container ``c``. Before the first start
        (``restart`` False) the pull counts in the pod's startup columns (``pull_start``,
        ``pull_end``, ``image_pull_time``, ``pull_bytes``); at a restart in
        ``restart_pull_time`` / ``restart_pulls``."""
        env = self.env
        pods = self.state.pods
        names = self.store.catalog.image_names  # type: ignore[union-attr]
        if c.policy == NEVER:
            yield from self._wait_never_pull(pod, node, c, rt, i)
            return
        t0 = env.now
        bytes_before = int(pods.pull_bytes[pod])
        if restart:
            self._open[pod] = (t0, True, float(pods.restart_pull_time[pod]))
        else:
            if math.isnan(pods.pull_start[pod]):
                pods.pull_start[pod] = t0
            self._open[pod] = (t0, False, float(pods.image_pull_time[pod]))
        while True:
            if self.image_gc.due:  # type: ignore[union-attr]
                self.image_gc.catch_up(node)  # type: ignore[union-attr]
            fails = rt.pull_failure_p > 0 and self._pull_fails(pod, rt, i)
            req = self.puller.request(node, c.image, fails)  # type: ignore[union-attr]
            if not restart:  # what this attempt needs (a pod still pulling at the end counts)
                pods.pull_bytes[pod] = bytes_before + req.bytes
            err = req.error if req.done else (yield req.event)  # type: ignore[misc]  # a pending request has its event
            if err is None:
                break
            pods.pull_failures[pod] += 1
            self._dirty.add(pod)
            failed = env.now
            delay = self.pull_backoff.next((pod, c.image), failed, failed)
            self.api.record("ErrImagePull", pod, node,
                            f'container {c.name}: failed to pull image "{names[c.image]}": {err}; '
                            f"back-off {delay:g}s")
            pods.reason[pod] = IMAGE_PULL_BACKOFF
            # The retry comes at the pod worker's first sync once the back-off is over.
            retry_at = self._next_sync(pod, rt, i, node, failed, delay)
            if err == NO_SPACE and self.runtime.drain and self._only_a_leaving_pod_frees(node):  # type: ignore[union-attr]
                # A run without duration_s ends when nothing is left to happen, but
                # kubelet's timed retries of a pull that only a pod leaving the node can
                # make fit would go on for ever. Wait for such a pod instead, then retry
                # when kubelet would have; the retries that would have failed meanwhile
                # are counted in pull_failures (not logged as events).
                parked = env.event()
                self._parked.setdefault(node, []).append(parked)
                yield parked
                while retry_at < env.now:
                    pods.pull_failures[pod] += 1
                    if rt.pull_failure_p > 0:
                        self._pull_fails(pod, rt, i)  # keep the pod's failure draws aligned
                    b = self.pull_backoff.next((pod, c.image), retry_at, retry_at)
                    retry_at = self._next_sync(pod, rt, i, node, retry_at, b)
            yield env.timeout(retry_at - env.now)
            pods.reason[pod] = NO_REASON
        self._close_pull(pod)
        if restart:
            # An image in use is never collected, so a restart's pull finds the image
            # present: it costs a pull request (a registry token, a place in the node's
            # pull queue, possibly failures and back-off), not a download.
            pods.restart_pulls[pod] += 1
        else:
            pods.pull_end[pod] = env.now

    def _close_pull(self, pod: int) -> None:
        """End the pod's pull under way (if any): its time so far goes into its column."""
        entry = self._open.pop(pod, None)
        if entry is not None:
            t0, restart, base = entry
            col = self.state.pods.restart_pull_time if restart else self.state.pods.image_pull_time
            col[pod] = base + (self.env.now - t0)

    def _wait_never_pull(self, pod: int, node: int, c: Container, rt: WorkloadRuntime, i: int) -> _Gen:
        """``imagePullPolicy: Never`` with the image absent: ErrImageNeverPull. Each pod
        sync checks again (``EnsureImageExists`` fails, the sync returns an error, the pod
        worker requeues it after its back-off period): the container starts at the first
        sync after the image has arrived on the node (pulled for another pod). The wait
        is event-driven: it sleeps until the image arrives, then finds that sync."""
        env = self.env
        pods = self.state.pods
        store = self.store
        name = store.catalog.image_names[c.image]  # type: ignore[union-attr]
        pods.reason[pod] = ERR_IMAGE_NEVER_PULL
        self.api.record("ErrImageNeverPull", pod, node,
                        f'container {c.name}: image "{name}" is not present with pull policy of Never')
        t_sync = env.now  # the sync that failed
        while not store.image_present[c.image, node]:  # type: ignore[union-attr]
            arrived = env.event()
            self._image_waiters.setdefault((node, c.image), []).append(arrived)
            yield arrived  # never fires if the image never comes (the pod waits for good)
            t_sync = self._next_sync(pod, rt, i, node, t_sync, env.now - t_sync)
            if t_sync > env.now:
                yield env.timeout(t_sync - env.now)
        pods.reason[pod] = NO_REASON

    def _image_arrived(self, node: int, image: int) -> None:
        waiters = self._image_waiters.pop((node, image), None)
        if waiters:
            for ev in waiters:
                ev.succeed()

    def _next_sync(self, pod: int, rt: WorkloadRuntime, i: int, node: int, t_sync: float, wait: float) -> float:
        """The pod worker's first sync at least ``wait`` after the failed sync at
        ``t_sync`` (:func:`k8sim.runtime.podworker.next_sync`, the node pool's timing,
        the pod's ``rt-sync`` stream)."""
        timing = self.runtime.sync_of(int(self.state.nodes.pool[node]))  # type: ignore[union-attr]
        g = self._pod_rng("rt-sync", pod, rt, i) if timing.jitter > 0 and timing.backoff_period_s > 0 else None
        return next_sync(timing, g, t_sync, wait)

    def _restart_sync(self, pod: int, rt: WorkloadRuntime, i: int, node: int, finished: float,
                      wait: float) -> float:
        """The sync that restarts a container in CrashLoopBackOff
        (:func:`k8sim.runtime.podworker.restart_sync`)."""
        timing = self.runtime.sync_of(int(self.state.nodes.pool[node]))  # type: ignore[union-attr]
        g = self._pod_rng("rt-sync", pod, rt, i) if timing.jitter > 0 else None
        return restart_sync(timing, g, finished, wait)

    def _only_a_leaving_pod_frees(self, node: int) -> bool:
        """After a "no space" failure: every image on the node is in use and nothing is
        downloading there, so only a pod leaving the node can make room (image GC has
        already deleted every unused image old enough)."""
        store = self.store
        unused = store.image_present[:, node] & (store.image_in_use[:, node] == 0)  # type: ignore[union-attr]
        return not unused.any() and not self.puller.downloading(node)  # type: ignore[union-attr]

    def _pull_fails(self, pod: int, rt: WorkloadRuntime, i: int) -> bool:
        if rt.pull_failure_p <= 0:
            return False
        k = self._pull_attempts.get(pod, 0)
        self._pull_attempts[pod] = k + 1
        self._dirty.add(pod)
        if k == 0:
            u = rt.first_pull_u.get(i)  # type: ignore[union-attr]
        else:
            u = float(self._pod_rng("rt-pull-fail", pod, rt, i).random())
        return u < rt.pull_failure_p

    def _pod_rng(self, name: str, pod: int, rt: WorkloadRuntime, i: int) -> np.random.Generator:
        g = self._rngs.get((name, pod))
        if g is None:
            self._dirty.add(pod)
            g = self.runtime.streams.generator(name, *rt.stream_keys, i)  # type: ignore[union-attr]
            self._rngs[(name, pod)] = g
        return g

    def _crash_after(self, pod: int, rt: WorkloadRuntime, i: int, run: int) -> float:
        """Seconds into run ``run`` at which the main container crashes (inf: it does not)."""
        if rt.crash_kind is None:
            return math.inf
        if run == 0:
            u = rt.first_crash_u.get(i)  # type: ignore[union-attr]
            t = rt.first_crash_t.get(i)  # type: ignore[union-attr]
        else:
            g = self._pod_rng("rt-crash", pod, rt, i)
            u = float(g.random())
            if rt.crash_kind == "probability":
                t = float(rt.crash_after.sample(g, 1)[0])  # type: ignore[union-attr]  # set with crash_kind "probability"
            else:
                t = float(g.exponential(1.0 / rt.crash_rate))
        if rt.crash_kind == "probability":
            return t if u < rt.crash_p else math.inf
        return t

    def _run(self, pod: int, node: int, rt: WorkloadRuntime, i: int) -> _Gen:
        """Running until the pod ends; returns its final phase."""
        env = self.env
        pods = self.state.pods
        duration = float(pods.duration[pod])
        ready_delay = rt.readiness.get(i)
        backoff = self.crash_backoff
        main = rt.main[0]
        run = 0
        oom_after = self.oom_after
        while True:
            crash_at = self._crash_after(pod, rt, i, run)
            oom = False
            if oom_after is not None:  # a usage model: the container may reach its memory limit
                t_oom = oom_after(pod, env.now)
                if t_oom < crash_at:
                    crash_at, oom = t_oom, True
            crashed = crash_at < duration
            length = crash_at if crashed else duration
            if math.isnan(pods.ready[pod]) and length >= ready_delay:
                pods.ready[pod] = env.now + ready_delay
            if math.isinf(length):
                yield env.event()  # runs until evicted or the run ends
            if length > 0:
                yield env.timeout(length)
            if not crashed and rt.restart_policy != RESTART_ALWAYS:
                return SUCCEEDED
            finished = env.now
            if crashed and oom:
                self.oom_kills.append((finished, pod))
            exit_reason = ("OOMKilled" if oom else "Error") if crashed else "Completed"
            self.api.record("ContainerTerminated", pod, node, f"container {main.name}: {exit_reason}")
            if crashed and rt.restart_policy == RESTART_NEVER:
                # An OOM kill is SIGKILL from the kernel: exit code 137 (128 + 9), as the
                # runtime reports it; other crashes take the crash model's code.
                code = 137 if oom else self._exit_code(pod, rt, i)
                self._exit[pod] = (self._container_name(pod, rt), code)
                return FAILED
            # The exit's sync (PLEG reports it) restarts the container unless it is in
            # back-off; then the first sync after the back-off does
            # (kubeGenericRuntimeManager.doBackOff; pod worker timing in _next_sync).
            if backoff.in_backoff_since(pod, finished, finished):
                wait = backoff.get(pod)
                pods.reason[pod] = CRASH_LOOP_BACKOFF
                self.api.record("BackOff", pod, node,
                                f"back-off {wait:g}s restarting failed container {main.name}")
                self._dirty.add(pod)
                yield env.timeout(self._restart_sync(pod, rt, i, node, finished, wait) - env.now)
                pods.reason[pod] = NO_REASON
            backoff.next(pod, finished, env.now)
            self._dirty.add(pod)
            pods.restarts[pod] += 1
            self.api.container_restarted(pod, node)
            if self._must_check(main, node):
                yield from self._ensure_image(pod, node, main, rt, i, restart=True)
            # A restart creates and starts the container again in the running sandbox
            # (SyncPod's computePodActions: no new sandbox), so it pays the container's
            # start latency; with the image: shorthand that is the pod's start_latency.
            d = main.start.get(i) if rt.explicit_containers else float(pods.start_latency[pod])
            if d > 0:
                yield env.timeout(d)
            run += 1

    # -- image GC ------------------------------------------------------------------------

    def _gc_done(self, node: int, result: GCResult) -> None:
        """A pull ran image GC to make room (reported like a periodic pass)."""
        self.image_gc.report(node, result, PULL)  # type: ignore[union-attr]
