"""Queues with quotas as Kueue models them, and job-level batch policies beside them.

A *workload* (Kueue's ``Workload`` object: a queued pod, a gang job) waits in a
LocalQueue until its ClusterQueue can admit it **as a whole**; only then are its pods
created (a suspended Job is unsuspended) and handed to kube-scheduler. The component
follows Kueue's scheduler (``pkg/scheduler/scheduler.go`` ``schedule``):

1. **heads**: each ClusterQueue offers its head, the first pending workload by
   priority (higher first) then creation time (``pkg/cache/queue/cluster_queue.go``
   ``baseCompareFunc``); workloads of every LocalQueue pointing at it share the queue.
2. **nomination** (``pkg/scheduler/flavorassigner/flavorassigner.go``): per resource
   group, the first flavor (in the queue's order) where every requested resource fits
   the queue's available quota (:mod:`k8sim.batch.quota`), borrowing from the cohort if
   need be (flavor fungibility ``whenCanBorrow: Borrow`` / ``MayStopSearch``); if none
   fits, the first flavor where preemption could make room (``whenCanPreempt:
   TryNextFlavor``); if the workload could never fit, it is inadmissible.
3. **order** (``makeClassicalIterator``): heads that fit without borrowing first, then
   higher priority, then earlier creation. With ``fairSharing.enable`` the order is the
   ClusterQueue's dominant resource share after admission (lowest first,
   ``fair_sharing_iterator.go``).
4. **admission**: the first head that fits is admitted: its usage is charged to the
   queue (and the cohort, beyond the queue's local quota) and its pods are created with
   the flavor's ``nodeLabels`` as nodeSelector and its ``tolerations``. A head that does
   not fit: ``StrictFIFO`` keeps it at the head, blocking its queue; ``BestEffortFIFO``
   sets it aside as inadmissible (the next workload becomes the head) until quota is
   released in its cohort (``requeueIfNotPresent`` / ``QueueInadmissibleWorkloads``).
5. **preemption** (``pkg/scheduler/preemption/preemption.go`` ``classicalPreemptions``):
   a head in preempt mode looks for victims: admitted workloads of its own queue allowed
   by ``withinClusterQueue`` (``LowerPriority``: lower priority;
   ``LowerOrNewerEqualPriority``: also equal priority and newer), and, with
   ``reclaimWithinCohort`` (``Any``, or ``LowerPriority``), admitted workloads of other
   queues of the cohort while their queue borrows. Candidates are ordered other queues
   first, lower priority first, most recently admitted first
   (``common/ordering.go`` ``CandidatesOrdering``), removed one by one until the head
   fits (without borrowing when reclaiming from the cohort), then added back in reverse
   when the head still fits without them (``fillBackWorkloads``). With fair sharing,
   ``fairPreemptions`` and its ``preemptionStrategies`` (``fairsharing/strategy.go``;
   ``Kueue._fair_preempt``). A head that found victims stays its queue's head and is
   taken first until admitted (``Kueue._stick``).

k8sim's simplifications (docs/batch.md): one cohort level (no hierarchical cohorts);
an evicted workload's quota is released at once and the preemptor, taken first, is
normally admitted in the same instant (upstream: a later cycle, once the victims'
eviction is finished); a
scheduling cycle takes no virtual time; admission checks, ``waitForPodsReady``,
``borrowWithinCohort``, topology-aware scheduling and partial admission are not
modelled.

**Job-level batch policies** (``kueue.policy``) replace step 1-3's order while keeping
the quotas, so queue-level baselines can be compared on the same workloads: ``fifo``
(all queues, earliest creation first), ``sjf`` (shortest expected run time first: the
drawn duration, an oracle), ``drf`` (the LocalQueue with the lowest dominant share of
the quota first: Ghodsi et al., NSDI '11, progressive filling; Volcano's ``drf``
plugin ``pkg/scheduler/plugins/drf/drf.go``), ``proportion`` (Volcano's
``pkg/scheduler/plugins/proportion/proportion.go``: each LocalQueue *deserves* a
weighted share of the quota, water-filled up to its demand; the queue with the lowest
``allocated / deserved`` goes first, and a workload is admitted only if its queue stays
within what it deserves). In these policies the tenants are the LocalQueues (weights:
``localQueues[].fairSharing.weight``).
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.batch.quota import FR, UNLIMITED, CohortQuota, QueueQuota, dominant_resource_share
from k8sim.cluster.watch import PodDeleted, PodTerminated
from k8sim.component import Contribution
from k8sim.config.resources import base_units
from k8sim.constants import GPU_MILLI

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.kueue import KueueSettings

__all__ = ["GPU_RESOURCE", "Kueue", "QueuedWorkload"]

#: The quota resource that counts GPUs (``gpu`` is accepted as an alias).
GPU_RESOURCE = "nvidia.com/gpu"
_GPU_NAMES = frozenset({GPU_RESOURCE, "gpu"})

PENDING, ADMITTED, FINISHED = "Pending", "Admitted", "Finished"


@dataclass(eq=False)
class QueuedWorkload:
    """One workload: ``requests`` is the whole workload's (every pod), resource name ->
    base units (GPUs in milli-GPU under ``nvidia.com/gpu``). ``start(wl, flavors)``
    creates its pods now and returns their rows; ``expected_s`` is its run time for
    ``sjf`` (nan: unknown, last)."""

    index: int
    name: str
    lq: int
    cq: int
    priority: int
    created: float
    pods: int
    requests: dict[str, int]
    expected_s: float
    start: Callable[[QueuedWorkload, tuple[str, ...]], list[int]]
    status: str = PENDING
    assignment: dict[FR, int] = field(default_factory=dict)
    flavors: tuple[str, ...] = ()
    live: set[int] = field(default_factory=set)
    first_admitted: float = math.nan
    admitted_at: float = math.nan
    finished: float = math.nan
    evictions: int = 0
    borrowed: bool = False  # borrowed at its (last) admission
    signature: tuple = ()  # its requests, sorted: workloads alike in the quota's eyes
    #: A workload whose own controller makes its pods (a queued Job,
    #: :mod:`k8sim.batch.kueue_jobs`): ``start`` unsuspends it and returns no pods, the
    #: owner calls :meth:`Kueue.finish` when it is done, and an eviction calls
    #: ``evict(wl)`` (suspends it) instead of deleting pods.
    evict: Callable[[QueuedWorkload], None] | None = None


@dataclass
class _LocalQueue:
    name: str
    namespace: str
    cq: int
    weight: float
    heap: list[tuple] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)  # resource -> admitted amount


@dataclass
class _ClusterQueue:
    spec: Any
    quota: QueueQuota
    groups: list[tuple[tuple[str, ...], tuple[str, ...]]]  # (covered resources, flavors)
    lqs: list[int] = field(default_factory=list)
    inadmissible: list[tuple] = field(default_factory=list)  # heap entries set aside
    admitted: list[QueuedWorkload] = field(default_factory=list)
    pending: int = 0
    pending_pods: int = 0
    # (priority, requests) -> workloads in the LocalQueues' heaps / set aside.
    waiting: Counter[tuple] = field(default_factory=Counter)
    aside: Counter[tuple] = field(default_factory=Counter)
    # The workload whose preemptions are in progress, until it is admitted (its
    # queue's head, and first in the cycle's order: see ``Kueue._stick``).
    preemptor: QueuedWorkload | None = None


@dataclass
class _Assignment:
    mode: str  # "fit", "preempt", "never"
    amounts: dict[FR, int]
    flavors: tuple[str, ...]
    borrows: bool = False
    message: str = ""


class Kueue:
    """The queues of a run (see the module docstring)."""

    name = "kueue"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.env = ctx.env
        settings = ctx.scenario.kueue
        assert settings is not None
        self.settings: KueueSettings = settings
        self.policy = settings.policy
        self.fair_sharing = settings.fair_sharing.enable
        self.flavors = {f.name: f for f in settings.resource_flavors}
        cohorts = {c.name: CohortQuota(c.name) for c in settings.cohorts}
        self.cqs: list[_ClusterQueue] = []
        self.cq_index: dict[str, int] = {}
        for spec in settings.cluster_queues:
            q = QueueQuota(spec.name)
            groups = []
            for g in spec.resource_groups:
                covered = tuple(_canonical(r) for r in g.covered_resources)
                for f in g.flavors:
                    for r in f.resources:
                        fr = (f.name, _canonical(r.name))
                        q.nominal[fr] = _amount(r.name, r.nominal_quota)
                        if r.borrowing_limit is not None:
                            q.borrowing_limit[fr] = _amount(r.name, r.borrowing_limit)
                        if r.lending_limit is not None:
                            q.lending_limit[fr] = _amount(r.name, r.lending_limit)
                groups.append((covered, tuple(f.name for f in g.flavors)))
            if spec.cohort is not None:
                q.cohort = cohorts[spec.cohort]
                cohorts[spec.cohort].queues.append(q)
            self.cq_index[spec.name] = len(self.cqs)
            self.cqs.append(_ClusterQueue(spec, q, groups))
        self.lqs: list[_LocalQueue] = []
        self.lq_index: dict[str, int] = {}
        for lq in settings.local_queues:
            cq = self.cq_index[lq.cluster_queue]
            self.lq_index[f"{lq.namespace}/{lq.name}"] = len(self.lqs)
            self.cqs[cq].lqs.append(len(self.lqs))
            self.lqs.append(_LocalQueue(lq.name, lq.namespace, cq, lq.fair_sharing.weight))
        # The quota of every resource summed over queues and flavors: the "cluster" of drf.
        self.capacity: dict[str, int] = {}
        for c in self.cqs:
            for (_f, res), v in c.quota.nominal.items():
                self.capacity[res] = self.capacity.get(res, 0) + v
        self.workloads: list[QueuedWorkload] = []
        self.of_pod: dict[int, QueuedWorkload] = {}
        self._seq = 0
        self._due = False
        # Change points: (time, cq, pending, admitted, usage per fr) and per workload events.
        self._frs = sorted({fr for c in self.cqs for fr in c.quota.nominal})
        self._series: list[tuple] = []
        self._tenant_series: list[tuple[float, tuple[float, ...]]] = []
        self._changes = 0  # bumped by every change of a queue (the proportion cache's key)
        # Bumped by every change of quota usage or of the admitted workloads (admission,
        # release): the key of the per-state caches of the cycle (``_nominate``).
        self._usage_version = 0
        self._cache_version = -1
        self._assign_cache: dict[tuple, _Assignment] = {}
        self._failed: dict[tuple, float] = {}
        self._deserved_key: tuple[int, int] = (-1, -1)
        self._deserved_cache: list[dict[str, float]] = []
        self.cycles = 0
        bus = ctx.api.bus
        bus.subscribe(PodTerminated, self._on_pod_end)
        bus.subscribe(PodDeleted, self._on_pod_end)

    def start(self) -> None:
        self._record()

    # -- submission ------------------------------------------------------------------

    def local_queue(self, namespace: str, name: str) -> int:
        return self.lq_index[f"{namespace}/{name}"]

    def submit(self, name: str, lq: int, priority: int, pods: int, requests: dict[str, int], expected_s: float,
               start: Callable[[QueuedWorkload, tuple[str, ...]], list[int]],
               evict: Callable[[QueuedWorkload], None] | None = None) -> QueuedWorkload:
        """A new workload in LocalQueue ``lq`` now (see :class:`QueuedWorkload`)."""
        wl = QueuedWorkload(len(self.workloads), name, lq, self.lqs[lq].cq, int(priority), float(self.env.now),
                            int(pods), {r: int(v) for r, v in requests.items() if v}, float(expected_s), start,
                            evict=evict)
        wl.signature = tuple(sorted(wl.requests.items()))
        self.workloads.append(wl)
        self._push(wl)
        if self.policy == "proportion":
            self._requeue_all()  # a new demand changes what every queue deserves
        self._wake()
        return wl

    def _key(self, wl: QueuedWorkload) -> tuple:
        if self.policy == "fifo":
            return (wl.created, wl.index)
        if self.policy == "sjf":
            e = wl.expected_s
            return (math.inf if math.isnan(e) else e, wl.created, wl.index)
        return (-wl.priority, wl.created, wl.index)

    def _push(self, wl: QueuedWorkload) -> None:
        self._changes += 1
        wl.status = PENDING
        heapq.heappush(self.lqs[wl.lq].heap, (self._key(wl), wl.index, wl))
        c = self.cqs[wl.cq]
        c.pending += 1
        c.pending_pods += wl.pods
        c.waiting[(wl.priority, wl.signature)] += 1

    def _wake(self) -> None:
        """Run a cycle at this instant, after every other event of it (so workloads
        submitted together are ordered together, as they would be in Kueue's heap)."""
        if not self._due:
            self._due = True
            self.env.timeout(0).callbacks.append(self._cycle)

    def _defer(self) -> bool:
        if self.env.peek() == self.env.now:
            self.env.timeout(0).callbacks.append(self._cycle)
            return True
        return False

    # -- the scheduling cycle ----------------------------------------------------------

    def _heads(self, blocked: set[int]) -> list[QueuedWorkload]:
        """One head per ClusterQueue (kueue) or per LocalQueue (the batch policies)."""
        out = []
        if self.policy == "kueue":
            for ci, c in enumerate(self.cqs):
                if ci in blocked:
                    continue
                best = None
                for li in c.lqs:
                    h = self.lqs[li].heap
                    if h and (best is None or h[0][0] < best[0]):
                        best = h[0]
                if best is not None:
                    out.append(best[2])
        else:
            for li, lq in enumerate(self.lqs):
                if li not in blocked and lq.heap:
                    out.append(lq.heap[0][2])
        return out

    def _cycle(self, _e: object = None) -> None:
        if self._defer():
            return
        self._due = False
        self.cycles += 1
        blocked: set[int] = set()
        changed = False
        # Victims evicted in this cycle wait outside their queues until it ends: their
        # eviction takes effect before they are queued again (upstream requeues an
        # evicted workload once its pods are gone), so a victim is not re-admitted in
        # the very cycle that evicted it, which would let two heads evict each other
        # for ever at one instant.
        evicted: list[QueuedWorkload] = []
        while True:
            if self.policy == "kueue" and self._sweep(blocked):
                changed = True
            heads = self._heads(blocked)
            if not heads:
                break
            nominated = [(wl, self._nominate(wl)) for wl in heads]
            nominated.sort(key=lambda e: self._order(e[0], e[1]))
            progressed = False
            for wl, a in nominated:
                if a.mode == "fit" and self._policy_allows(wl):
                    self._admit(wl, a)
                    progressed = True
                    break
                if a.mode == "preempt" and self.policy == "kueue":
                    victims = [] if self._dominated(wl) else self._preempt(wl, a)
                    if victims:
                        self._stick(wl)
                        for v in victims:
                            self._evict(v, f"preempted to admit {wl.name}", requeue=False)
                            evicted.append(v)
                        progressed = True
                        break
                    self._failed.setdefault((wl.cq, wl.priority, wl.signature), wl.created)
                strict = self.cqs[wl.cq].spec.queueing_strategy == "StrictFIFO" and a.mode != "never"
                if strict:
                    blocked.add(wl.cq if self.policy == "kueue" else wl.lq)
                    continue
                self._set_aside(wl)
                progressed = True
                break
            if not progressed:
                break
            changed = True
        for v in evicted:
            self._push(v)
        if evicted:
            self._wake()  # they are tried in a cycle of their own, at this instant
        if changed:
            self._record()

    def _fails(self, wl: QueuedWorkload, a: _Assignment) -> bool:
        """Whether ``wl`` is known to be neither admitted nor able to preempt now."""
        return a.mode == "never" or (a.mode == "preempt" and self._dominated(wl))

    def _sweep(self, blocked: set[int]) -> bool:
        """Set aside, as the cycle would one by one, the heads known to fail.

        The cycle acts on the first head in order: a head known to fail (``_fails``) in
        a BestEffortFIFO queue is set aside, and nothing else changes, so the next head
        is taken in the same state. When a queue's head fails and every workload still
        waiting in it is alike (same priority and requests, created no earlier: each
        fails as the head does), and no other queue can act before them (each other
        queue's head fails too and its waiting workloads are alike, or its head is in a
        StrictFIFO queue and fails, blocking it), the queue's whole backlog is set aside
        at once; the set-aside order is not observable (requeueing goes by the heap's
        keys). Otherwise one head is set aside, exactly as the cycle does. True if any
        workload was set aside."""
        cqs = self.cqs
        swept = False
        self._fresh()
        if not self._failed:
            return False  # nothing known to fail in this state: the cycle takes the heads
        while True:
            cand = []
            for ci, c in enumerate(cqs):
                if ci in blocked or not c.waiting:
                    continue
                best = None
                for li in c.lqs:
                    h = self.lqs[li].heap
                    if h and (best is None or h[0][0] < best[0]):
                        best = h[0]
                assert best is not None
                wl = best[2]
                a = self._nominate(wl)
                cand.append((self._order(wl, a), ci, wl, a))
            if not cand:
                return swept
            cand.sort(key=lambda e: e[0])
            _k, ci, wl, a = cand[0]
            c = cqs[ci]
            if c.spec.queueing_strategy == "StrictFIFO" or not self._fails(wl, a):
                return swept
            swept = True
            # A sticky head may be newer than the alike workloads behind it, which may
            # then have more candidates (``_dominated``): those go one by one.
            whole = c.preemptor is not wl and len(c.waiting) == 1 and all(
                self._fails(w2, a2) and (cqs[c2].spec.queueing_strategy == "StrictFIFO" or len(cqs[c2].waiting) == 1)
                for _k2, c2, w2, a2 in cand[1:])
            if not whole:
                self._set_aside(wl)
                continue
            for li in c.lqs:
                h = self.lqs[li].heap
                self._changes += len(h)
                c.inadmissible.extend(h)
                h.clear()
            c.aside.update(c.waiting)
            c.waiting.clear()

    def _fresh(self) -> None:
        if self._cache_version != self._usage_version:
            self._cache_version = self._usage_version
            self._assign_cache.clear()
            self._failed.clear()

    def _nominate(self, wl: QueuedWorkload) -> _Assignment:
        """``_assign``, shared by the workloads of a ClusterQueue alike in their requests
        while no usage changes: a flavor assignment reads only the requests and the quota."""
        self._fresh()
        key = (wl.cq, wl.signature)
        a = self._assign_cache.get(key)
        if a is None:
            a = self._assign_cache[key] = self._assign(wl)
        return a

    def _dominated(self, wl: QueuedWorkload) -> bool:
        """Whether ``wl`` cannot preempt because a workload of its ClusterQueue with the
        same requests and priority, created no later, found no victims since the last
        change of usage. Exact, not a heuristic: ``wl``'s candidates within its queue are
        a subset of that workload's (``LowerOrNewerEqualPriority`` counts only newer
        ones), its cohort candidates and their order are the same and are tried first
        (from the same state, so with the same reclaim decisions), and removing fewer
        victims never frees more quota (``available`` falls as usage grows). Not used
        with fair sharing, whose search interleaves queues by their shares (a smaller
        candidate set is not shown to fail whenever a larger one does)."""
        if self.fair_sharing:
            return False
        self._fresh()
        t = self._failed.get((wl.cq, wl.priority, wl.signature))
        return t is not None and wl.created >= t

    def _order(self, wl: QueuedWorkload, a: _Assignment) -> tuple:
        if self.policy == "kueue":
            c = self.cqs[wl.cq]
            if self.fair_sharing:
                share = dominant_resource_share(c.quota, c.spec.fair_sharing.weight, a.amounts)
                return (c.preemptor is not wl, share, -wl.priority, wl.created, wl.index)
            return (c.preemptor is not wl, a.borrows, -wl.priority, wl.created, wl.index)
        if self.policy == "fifo":
            return (wl.created, wl.index)
        if self.policy == "sjf":
            return self._key(wl)
        if self.policy == "drf":
            return (self._tenant_share(wl.lq), wl.created, wl.index)
        return (self._proportion_share(wl.lq), wl.created, wl.index)

    def _stick(self, wl: QueuedWorkload) -> None:
        """``wl`` preempts: until it is admitted it is its ClusterQueue's preemptor
        (``pkg/cache/queue/cluster_queue.go`` ``preemptorWorkload``, set by
        ``requeueIfNotPresent`` on ``RequeueReasonPendingPreemption``; one per queue).
        In a BestEffortFIFO queue it stays the head (the *sticky* head,
        ``baseCompareFunc``; Kueue#7101, #6929), and the cycle takes it before the other
        heads (``PrioritizePreemptorWorkloads``: ``fair_sharing_iterator.go``
        ``entryComparer.less`` and ``makeClassicalIterator``, step 1). Without both, the
        release of the victims' quota can give that quota to another head first,
        possibly the victim itself (its queue's share just fell), which the preemptor
        then evicts again: a loop at one instant (k8sim releases a victim's quota at
        once; upstream the same steal happens once the eviction completes, Kueue#13797,
        #14543)."""
        c = self.cqs[wl.cq]
        if self.policy != "kueue" or c.preemptor is wl:
            return
        old = c.preemptor
        c.preemptor = wl
        if c.spec.queueing_strategy != "BestEffortFIFO":
            return
        if old is not None and old.status == PENDING:
            self._rekey(old, self._key(old))
        self._rekey(wl, (-math.inf, wl.created, wl.index))

    def _rekey(self, wl: QueuedWorkload, key: tuple) -> None:
        """Give pending ``wl`` a new queue key, wherever it waits (heap or aside)."""
        c = self.cqs[wl.cq]
        for i, e in enumerate(c.inadmissible):
            if e[2] is wl:
                c.inadmissible[i] = (key, wl.index, wl)
                return
        h = self.lqs[wl.lq].heap
        for i, e in enumerate(h):
            if e[2] is wl:
                h[i] = (key, wl.index, wl)
                heapq.heapify(h)
                return

    def _set_aside(self, wl: QueuedWorkload) -> None:
        """BestEffortFIFO: the head that cannot be admitted now waits aside."""
        entry = heapq.heappop(self.lqs[wl.lq].heap)
        self._changes += 1
        c = self.cqs[wl.cq]
        c.inadmissible.append(entry)
        _move(c.waiting, c.aside, (wl.priority, wl.signature))

    def _requeue(self, cq: int) -> None:
        """Quota was released: the inadmissible workloads of ``cq``'s cohort go back
        (a heap's order depends only on its keys, so they are added at once)."""
        c = self.cqs[cq]
        cohort = c.quota.cohort
        targets = [c] if cohort is None else [x for x in self.cqs if x.quota.cohort is cohort]
        for x in targets:
            if x.inadmissible:
                self._changes += len(x.inadmissible)
                if len(x.lqs) == 1:
                    heap = self.lqs[x.lqs[0]].heap
                    heap.extend(x.inadmissible)
                else:
                    for e in x.inadmissible:
                        self.lqs[e[2].lq].heap.append(e)
                for li in x.lqs:
                    heapq.heapify(self.lqs[li].heap)
                x.inadmissible = []
                x.waiting.update(x.aside)
                x.aside.clear()

    def _requeue_all(self) -> None:
        for ci in range(len(self.cqs)):
            self._requeue(ci)

    # -- flavors and quota ---------------------------------------------------------------

    def _assign(self, wl: QueuedWorkload) -> _Assignment:
        """Flavor assignment (see the module docstring, step 2)."""
        c = self.cqs[wl.cq]
        q = c.quota
        amounts: dict[FR, int] = {}
        flavors: list[str] = []
        mode = "fit"
        covered_all: set[str] = set()
        for covered, names in c.groups:
            covered_all.update(covered)
            need = {r: wl.requests[r] for r in covered if wl.requests.get(r, 0) > 0}
            if not need:
                continue
            chosen = None
            for f in names:
                if all(q.available((f, r)) >= v for r, v in need.items()):
                    chosen = f
                    break
            if chosen is None:
                for f in names:
                    if all(q.potential_available((f, r)) >= v for r, v in need.items()):
                        chosen = f
                        mode = "preempt"
                        break
            if chosen is None:
                return _Assignment("never", {}, (), message=f"no flavor of {list(names)} can ever hold {need}")
            flavors.append(chosen)
            for r, v in need.items():
                amounts[(chosen, r)] = v
        # Kueue counts pods only where a queue covers the ``pods`` resource.
        missing = sorted(r for r, v in wl.requests.items() if v > 0 and r not in covered_all and r != "pods")
        if missing:
            return _Assignment("never", {}, (), message=f"resource(s) {missing} not covered by the ClusterQueue")
        borrows = any(q.usage.get(fr, 0) + v > q.nominal.get(fr, 0) for fr, v in amounts.items())
        return _Assignment(mode, amounts, tuple(flavors), borrows)

    def _fits(self, cq: int, amounts: dict[FR, int], allow_borrowing: bool = True) -> bool:
        q = self.cqs[cq].quota
        for fr, v in amounts.items():
            if q.available(fr) < v:
                return False
            if not allow_borrowing and q.usage.get(fr, 0) + v > q.nominal.get(fr, 0):
                return False
        return True

    def _policy_allows(self, wl: QueuedWorkload) -> bool:
        if self.policy != "proportion":
            return True
        deserved = self._deserved()[wl.lq]
        usage = self.lqs[wl.lq].usage
        return all(usage.get(r, 0) + v <= deserved.get(r, 0) + 1e-9 for r, v in wl.requests.items()
                   if r in self.capacity)

    # -- admission, end, eviction ----------------------------------------------------------

    def _admit(self, wl: QueuedWorkload, a: _Assignment) -> None:
        heapq.heappop(self.lqs[wl.lq].heap)
        self._changes += 1
        c = self.cqs[wl.cq]
        if c.preemptor is wl:
            c.preemptor = None
        c.pending -= 1
        c.pending_pods -= wl.pods
        _drop(c.waiting, (wl.priority, wl.signature))
        now = float(self.env.now)
        wl.status, wl.assignment, wl.flavors, wl.borrowed = ADMITTED, a.amounts, a.flavors, a.borrows
        wl.admitted_at = now
        if math.isnan(wl.first_admitted):
            wl.first_admitted = now
        self._usage_version += 1
        c.quota.add(a.amounts)
        c.admitted.append(wl)
        lq = self.lqs[wl.lq]
        for r, v in wl.requests.items():
            lq.usage[r] = lq.usage.get(r, 0) + v
        self.ctx.api.record("QuotaReserved", detail=f"workload {wl.name} admitted by ClusterQueue {c.spec.name}"
                            + (f" (flavors {', '.join(a.flavors)})" if a.flavors else "")
                            + (" borrowing" if a.borrows else ""))
        pods = wl.start(wl, a.flavors)
        wl.live = set(pods)
        for p in pods:
            self.of_pod[p] = wl
        if not pods and wl.evict is None:
            self._release(wl)
            wl.status, wl.finished = FINISHED, now

    def track(self, wl: QueuedWorkload, pod: int) -> None:
        """A pod of ``wl`` created after its admission (a gang's later worker)."""
        wl.live.add(pod)
        self.of_pod[pod] = wl

    def _release(self, wl: QueuedWorkload) -> None:
        self._changes += 1
        self._usage_version += 1
        c = self.cqs[wl.cq]
        c.quota.add(wl.assignment, -1)
        c.admitted.remove(wl)
        lq = self.lqs[wl.lq]
        for r, v in wl.requests.items():
            lq.usage[r] -= v
        wl.assignment = {}
        self._requeue(wl.cq)
        if self.policy == "proportion":
            self._requeue_all()

    def _on_pod_end(self, event: PodTerminated | PodDeleted) -> None:
        wl = self.of_pod.pop(event.pod, None)
        if wl is None:
            return
        wl.live.discard(event.pod)
        if wl.live or wl.status != ADMITTED:
            return
        wl.status, wl.finished = FINISHED, float(self.env.now)
        self._release(wl)
        self._record()
        self._wake()

    def finish(self, wl: QueuedWorkload) -> None:
        """An admitted workload whose owner makes its pods is done (its Job finished):
        its quota is released."""
        if wl.status != ADMITTED:
            return
        wl.status, wl.finished = FINISHED, float(self.env.now)
        self._release(wl)
        self._record()
        self._wake()

    def _evict(self, wl: QueuedWorkload, why: str, requeue: bool = True) -> None:
        """Evict an admitted workload: its pods are deleted, its quota released, and it
        waits again in its queue (in its original place: the creation time orders it);
        with ``requeue=False`` the caller queues it again later (:meth:`_push`)."""
        api = self.ctx.api
        api.record("EvictedDueToPreempted", detail=f"workload {wl.name}: {why}")
        wl.evictions += 1
        self._release(wl)
        pods = sorted(wl.live)
        wl.live = set()
        if wl.evict is not None:
            wl.evict(wl)
        for p in pods:
            self.of_pod.pop(p, None)
            api.delete_pod(p, _grace(self.ctx, p), "Preempted")
        if requeue:
            self._push(wl)
        else:
            wl.status = PENDING

    # -- preemption ------------------------------------------------------------------------

    def _preempt(self, wl: QueuedWorkload, a: _Assignment) -> list[QueuedWorkload]:
        """``classicalPreemptions`` (see the module docstring, step 5); [] if nothing helps.
        With fair sharing, ``_fair_preempt``."""
        if self.fair_sharing:
            return self._fair_preempt(wl, a)
        c = self.cqs[wl.cq]
        pol = c.spec.preemption
        need = set(a.amounts)
        cands: list[QueuedWorkload] = []
        if pol.within_cluster_queue != "Never":
            for v in c.admitted:
                if v.priority < wl.priority or (pol.within_cluster_queue == "LowerOrNewerEqualPriority"
                                                and v.priority == wl.priority and v.created > wl.created):
                    if need & set(v.assignment):
                        cands.append(v)
        cohort = c.quota.cohort
        cross = []
        if cohort is not None and pol.reclaim_within_cohort != "Never":
            for x in self.cqs:
                if x is c or x.quota.cohort is not cohort:
                    continue
                for v in x.admitted:
                    if not need & set(v.assignment):
                        continue
                    if pol.reclaim_within_cohort == "LowerPriority" and v.priority >= wl.priority:
                        continue
                    cross.append(v)
        if not cands and not cross:
            return []
        order = sorted(cross + cands, key=lambda v: (v.cq == wl.cq, v.priority, -v.admitted_at, -v.index))
        attempts = [(False, order), (True, [v for v in order if v.cq == wl.cq])] if cross else [(True, order)]
        for allow_borrowing, pool in attempts:
            removed: list[QueuedWorkload] = []
            for v in pool:
                if v.cq != wl.cq and not any(self.cqs[v.cq].quota.borrowed(fr) > 0 for fr in a.amounts):
                    continue  # a queue is reclaimed from only while it borrows
                self._unuse(v)
                removed.append(v)
                if self._fits(wl.cq, a.amounts, allow_borrowing):
                    self._fill_back(wl, a, removed, allow_borrowing)
                    for v2 in removed:
                        self._use(v2)
                    return removed
            for v2 in removed:
                self._use(v2)
        return []

    # -- fair sharing preemption (``preemption.go`` ``fairPreemptions``) ---------------------

    def _drs(self, ci: int) -> tuple[int, float]:
        """A ClusterQueue's dominant resource share now, as a key ordered like
        ``CompareDRS`` (``pkg/cache/scheduler/fair_sharing.go``): a borrowing queue of
        weight 0 ranks above every other, and such queues by their unweighted ratio."""
        x = self.cqs[ci]
        w = x.spec.fair_sharing.weight
        if w == 0:
            r = dominant_resource_share(x.quota, 1.0)
            return (1, r) if r > 0 else (0, 0.0)
        return (0, dominant_resource_share(x.quota, w))

    def _fair_candidates(self, wl: QueuedWorkload, need: set[FR]) -> list[QueuedWorkload]:
        """``findCandidates``: admitted workloads of the preemptor's queue allowed by
        ``withinClusterQueue`` and, when ``reclaimWithinCohort`` is not ``Never``, of the
        cohort's other queues that borrow in a flavor-resource needing preemption
        (``cqIsBorrowing``) and are allowed by that policy; each must use such a
        flavor-resource. Sorted by ``CandidatesOrdering`` (``common/ordering.go``)."""
        c = self.cqs[wl.cq]
        pol = c.spec.preemption
        out: list[QueuedWorkload] = []
        if pol.within_cluster_queue != "Never":
            for v in c.admitted:
                if need & set(v.assignment) and (v.priority < wl.priority or (
                        pol.within_cluster_queue == "LowerOrNewerEqualPriority" and v.priority == wl.priority
                        and v.created > wl.created)):
                    out.append(v)
        cohort = c.quota.cohort
        if cohort is not None and pol.reclaim_within_cohort != "Never":
            for x in self.cqs:
                if x is c or x.quota.cohort is not cohort or not any(x.quota.borrowed(fr) > 0 for fr in need):
                    continue
                for v in x.admitted:
                    if need & set(v.assignment) and (pol.reclaim_within_cohort == "Any" or v.priority < wl.priority):
                        out.append(v)
        out.sort(key=lambda v: (v.cq == wl.cq, v.priority, -v.admitted_at, -v.index))
        return out

    def _target_queues(self, wl: QueuedWorkload, by_cq: dict[int, list[QueuedWorkload]],
                       pruned: set[int]) -> Iterator[int]:
        """``TargetClusterQueueOrdering.Iter`` (``fairsharing/ordering.go``) for one
        cohort level: the queue with candidates left and the highest share now, ties to
        the one whose next candidate comes first; a queue that does not borrow (other
        than the preemptor's) or has no candidates left is pruned. The caller pops a
        candidate or prunes the queue between two yields."""
        c = self.cqs[wl.cq]
        members = [wl.cq] if c.quota.cohort is None else [
            i for i, x in enumerate(self.cqs) if x.quota.cohort is c.quota.cohort]
        while True:
            best, best_drs = -1, (0, -1.0)
            for ci in members:
                if ci in pruned:
                    continue
                if not by_cq.get(ci) or (ci != wl.cq and not self.cqs[ci].quota.borrowing()):
                    pruned.add(ci)
                    continue
                d = self._drs(ci)
                if d > best_drs or (d == best_drs and _cand_key(by_cq[ci][0], wl) < _cand_key(by_cq[best][0], wl)):
                    best, best_drs = ci, d
            if best < 0:
                return
            yield best

    def _fair_preempt(self, wl: QueuedWorkload, a: _Assignment) -> list[QueuedWorkload]:
        """Kueue's fair-sharing preemption (``pkg/scheduler/preemption/preemption.go``
        ``fairPreemptions``, ``runFirstFsStrategy``, ``runSecondFsStrategy``): with the
        incoming workload's usage added to its queue, the target queues are visited by
        ``_target_queues``. From the preemptor's own queue the next candidate is removed
        unconditionally (priority preemption; it lowers the preemptor's share); while
        the preemptor's queue is within its nominal quota in every flavor-resource
        needing preemption, so is any other queue's (``FairSharingPreemptWithinNominal``,
        on by default); otherwise a candidate of another queue is removed when the first
        strategy holds (``fairsharing/strategy.go``: ``LessThanOrEqualToFinalShare``:
        the preemptor's share <= the target's share without the candidate;
        ``LessThanInitialShare``: < the target's share now), after which the queues are
        ordered again; candidates that fail are retried by ``LessThanInitialShare``, one
        per queue, if a second strategy is configured. Removal stops as soon as the
        workload fits (borrowing allowed); then removed workloads are added back in
        reverse while it still fits (``fillBackWorkloads``). [] if it never fits.

        Between two queues these rules only let a workload preempt one of a queue whose
        share, with its workload admitted, is above the preemptor's with its own, so the
        victim can never preempt it back (upstream's proof, ``site/content/en/docs/
        concepts/fair_sharing.md``)."""
        c = self.cqs[wl.cq]
        need = {fr for fr, v in a.amounts.items() if c.quota.available(fr) < v} or set(a.amounts)
        cands = self._fair_candidates(wl, need)
        if not cands:
            return []
        strategies = self.settings.fair_sharing.preemption_strategies
        targets: list[QueuedWorkload] = []

        def fits() -> bool:
            c.quota.add(a.amounts, -1)
            ok = self._fits(wl.cq, a.amounts, True)
            c.quota.add(a.amounts)
            return ok

        def remove(v: QueuedWorkload) -> bool:
            self._unuse(v)
            targets.append(v)
            return fits()

        def passes(s: str, mine: tuple, old: tuple, new: tuple) -> bool:
            return mine <= new if s == "LessThanOrEqualToFinalShare" else mine < old

        c.quota.add(a.amounts)  # shares include the incoming workload
        by_cq: dict[int, list[QueuedWorkload]] = {}
        for v in cands:
            by_cq.setdefault(v.cq, []).append(v)
        within_nominal = not any(c.quota.borrowed(fr) > 0 for fr in need)
        retry: list[QueuedWorkload] = []
        ok = False
        pruned: set[int] = set()
        for t in self._target_queues(wl, by_cq, pruned):
            if t == wl.cq or within_nominal:
                if remove(by_cq[t].pop(0)):
                    ok = True
                    break
                continue
            mine, old = self._drs(wl.cq), self._drs(t)
            if mine[0] == 1 and old[0] == 0:  # ``fsStrategyUnsatisfiable``: an infinite share never passes
                retry.extend(by_cq.pop(t))
                continue
            while by_cq[t]:
                v = by_cq[t].pop(0)
                self._unuse(v)
                new = self._drs(t)
                self._use(v)
                if passes(strategies[0], mine, old, new):
                    ok = remove(v)
                    break  # the queues' order may have changed
                retry.append(v)
            if ok:
                break
        if not ok and len(strategies) > 1:
            by_cq = {}
            for v in retry:
                by_cq.setdefault(v.cq, []).append(v)
            pruned = set()
            for t in self._target_queues(wl, by_cq, pruned):
                mine, old = self._drs(wl.cq), self._drs(t)
                v = by_cq[t].pop(0)
                if mine < old and remove(v):
                    ok = True
                    break
                pruned.add(t)  # ``DropQueue``: rule S2-b applies at most once per queue
        c.quota.add(a.amounts, -1)
        if ok:
            self._fill_back(wl, a, targets, True)
        for v in targets:
            self._use(v)
        return targets if ok else []

    def _fill_back(self, wl: QueuedWorkload, a: _Assignment, victims: list[QueuedWorkload],
                   allow_borrowing: bool) -> None:
        """Upstream's ``fillBackWorkloads``: with every victim's usage taken out and ``wl``
        fitting, give back each victim but the last chosen, latest first, whose usage
        ``wl`` still fits beside; those leave ``victims`` (their usage stays given back),
        the others are taken out again."""
        for v in reversed(victims[:-1]):
            self._use(v)
            if self._fits(wl.cq, a.amounts, allow_borrowing):
                victims.remove(v)
            else:
                self._unuse(v)

    def _use(self, v: QueuedWorkload) -> None:
        self.cqs[v.cq].quota.add(v.assignment)

    def _unuse(self, v: QueuedWorkload) -> None:
        self.cqs[v.cq].quota.add(v.assignment, -1)

    # -- batch policies ----------------------------------------------------------------------

    def _tenant_share(self, li: int) -> float:
        """DRF: the LocalQueue's dominant share of the quota, divided by its weight."""
        lq = self.lqs[li]
        share = max((v / self.capacity[r] for r, v in lq.usage.items() if self.capacity.get(r)), default=0.0)
        return share / lq.weight

    def _deserved(self) -> list[dict[str, float]]:
        """Volcano ``proportion``: water-fill the quota over the LocalQueues by weight,
        each capped by its demand (admitted + pending requests); cached until a
        workload is submitted, admitted, set aside, requeued or ends."""
        key = (len(self.workloads), self._changes)
        if self._deserved_key == key:
            return self._deserved_cache
        self._deserved_key = key
        self._deserved_cache = self._water_fill()
        return self._deserved_cache

    def _water_fill(self) -> list[dict[str, float]]:
        demand: list[dict[str, float]] = []
        for lq in self.lqs:
            d: dict[str, float] = {r: float(v) for r, v in lq.usage.items() if r in self.capacity}
            for _k, _i, wl in lq.heap:
                for r, v in wl.requests.items():
                    if r in self.capacity:
                        d[r] = d.get(r, 0.0) + v
            demand.append(d)
        for c in self.cqs:
            for _k, _i, wl in c.inadmissible:
                for r, v in wl.requests.items():
                    if r in self.capacity:
                        demand[wl.lq][r] = demand[wl.lq].get(r, 0.0) + v
        deserved: list[dict[str, float]] = [{} for _ in self.lqs]
        met = [False] * len(self.lqs)
        remaining = {r: float(v) for r, v in self.capacity.items()}
        for _ in range(len(self.lqs) + 1):
            total_w = sum(lq.weight for i, lq in enumerate(self.lqs) if not met[i])
            if total_w <= 0 or all(v <= 1e-9 for v in remaining.values()):
                break
            for i, lq in enumerate(self.lqs):
                if met[i]:
                    continue
                for r, v in remaining.items():
                    deserved[i][r] = min(deserved[i].get(r, 0.0) + v * lq.weight / total_w, demand[i].get(r, 0.0))
                if all(demand[i].get(r, 0.0) <= deserved[i].get(r, 0.0) + 1e-9 for r in self.capacity):
                    met[i] = True
            remaining = {r: self.capacity[r] - sum(d.get(r, 0.0) for d in deserved) for r in self.capacity}
        return deserved

    def _proportion_share(self, li: int) -> float:
        d = self._deserved()[li]
        usage = self.lqs[li].usage
        return max((usage.get(r, 0) / d[r] for r in d if d[r] > 0), default=0.0)

    # -- results ---------------------------------------------------------------------------

    def _record(self) -> None:
        now = float(self.env.now)
        self._tenant_series.append((now, tuple(self._tenant_share(li) * self.lqs[li].weight
                                               for li in range(len(self.lqs)))))
        for ci, c in enumerate(self.cqs):
            self._series.append((now, ci, c.pending, len(c.admitted),  # (set-aside ones included)
                                 tuple(c.quota.usage.get(fr, 0) for fr in self._frs), c.pending_pods,
                                 dominant_resource_share(c.quota, c.spec.fair_sharing.weight)))

    def workloads_frame(self) -> pd.DataFrame:
        """One row per workload (docs/batch.md)."""
        now = float(self.env.now)
        rows = []
        for wl in self.workloads:
            lq = self.lqs[wl.lq]
            rows.append({
                "workload": wl.name, "local_queue": f"{lq.namespace}/{lq.name}",
                "cluster_queue": self.cqs[wl.cq].spec.name, "priority": wl.priority, "pods": wl.pods,
                "cpu": wl.requests.get("cpu", 0) / 1000.0, "memory": float(wl.requests.get("memory", 0)),
                "gpu": wl.requests.get(GPU_RESOURCE, 0) / GPU_MILLI,
                "created": wl.created, "admitted": wl.first_admitted, "finished": wl.finished,
                "status": wl.status, "flavors": ",".join(wl.flavors), "borrowed": wl.borrowed,
                "evictions": wl.evictions,
                "queue_wait_s": (wl.first_admitted if not math.isnan(wl.first_admitted) else now) - wl.created,
                "completion_s": wl.finished - wl.created,
            })
        cols = ["workload", "local_queue", "cluster_queue", "priority", "pods", "cpu", "memory", "gpu", "created",
                "admitted", "finished", "status", "flavors", "borrowed", "evictions", "queue_wait_s", "completion_s"]
        f = pd.DataFrame(rows, columns=cols)
        for col in ("workload", "local_queue", "cluster_queue", "status", "flavors"):
            f[col] = f[col].astype("string")
        for col in ("priority", "pods", "evictions"):
            f[col] = f[col].astype("int64")
        f["borrowed"] = f["borrowed"].astype("bool")
        for col in ("cpu", "memory", "gpu", "created", "admitted", "finished", "queue_wait_s", "completion_s"):
            f[col] = f[col].astype("float64")
        return f

    def usage_frame(self) -> pd.DataFrame:
        """Quota use over time: one row per change of a ClusterQueue and flavor-resource
        (the last state of each instant): ``usage`` and ``nominal`` in natural units
        (CPU cores, bytes, GPUs, counts), ``borrowed`` (usage above nominal), the
        queue's ``pending`` and ``admitted`` workloads, ``pending_pods`` (the pods of its
        pending workloads) and ``weighted_share`` (Kueue's dominant resource share, the
        value fair sharing orders by: :func:`~k8sim.batch.quota.dominant_resource_share`)."""
        last: dict[tuple[float, int], tuple] = {}
        for t, ci, pend, adm, use, pods, share in self._series:
            last[(t, ci)] = (pend, adm, use, pods, share)
        rows = []
        for (t, ci), (pend, adm, use, pods, share) in sorted(last.items()):
            q = self.cqs[ci].quota
            for k, fr in enumerate(self._frs):
                nominal = q.nominal.get(fr)
                if nominal is None:
                    continue
                scale = _unit(fr[1])
                rows.append((t, self.cqs[ci].spec.name, fr[0], fr[1], use[k] / scale, nominal / scale,
                             max(0, use[k] - nominal) / scale, pend, adm, pods, share))
        f = pd.DataFrame(rows, columns=["time", "cluster_queue", "flavor", "resource", "usage", "nominal", "borrowed",
                                        "pending", "admitted", "pending_pods", "weighted_share"])
        for col in ("cluster_queue", "flavor", "resource"):
            f[col] = f[col].astype("string")
        for col in ("time", "usage", "nominal", "borrowed", "weighted_share"):
            f[col] = f[col].astype("float64")
        for col in ("pending", "admitted", "pending_pods"):
            f[col] = f[col].astype("int64")
        return f

    def contribute(self) -> Contribution:
        out = Contribution()
        wf = self.workloads_frame()
        uf = self.usage_frame()
        end = float(self.env.now)
        qs = queue_summary(wf, uf, end, self.capacity_natural(),
                           {c.spec.name: c.spec.fair_sharing.weight for c in self.cqs})
        out.frames["queue_workloads"] = wf
        out.frames["queue_usage"] = uf
        out.frames["queue_summary"] = qs
        done = wf[wf["status"] == FINISHED]
        admitted = wf[wf["admitted"].notna()]
        tf = self.tenant_frame(wf, end)
        out.frames["queue_tenants"] = tf
        shares = (tf["mean_dominant_share"] / tf["weight"]).to_numpy(dtype=float)[tf["workloads"].to_numpy() > 0]
        out.summary.update({
            "queue_workloads": len(wf),
            "queue_workloads_admitted": len(admitted),
            "queue_workloads_finished": len(done),
            "queue_evictions": int(wf["evictions"].sum()),
            "queue_wait_p50_s": float(admitted["queue_wait_s"].quantile(0.5)) if len(admitted) else math.nan,
            "queue_wait_p95_s": float(admitted["queue_wait_s"].quantile(0.95)) if len(admitted) else math.nan,
            "queue_wait_mean_s": float(wf["queue_wait_s"].mean()) if len(wf) else math.nan,
            "queue_jct_p50_s": float(done["completion_s"].quantile(0.5)) if len(done) else math.nan,
            "queue_jct_mean_s": float(done["completion_s"].mean()) if len(done) else math.nan,
            "queue_jain_index": jain_index(shares),
            "gpu_hours_idle_while_queued": idle_gpu_hours_while_waiting(self.ctx.state, wf, end),
        })
        out.provenance["queue_cycles"] = self.cycles
        return out

    def tenant_frame(self, wf: pd.DataFrame, end: float) -> pd.DataFrame:
        """One row per LocalQueue (tenant): weight, workloads, mean queueing delay and
        the time-averaged dominant share of the quota (the largest, over resources, of
        its admitted usage / every queue's quota of the resource): the values Jain's
        index in the summary is taken over (divided by the weights)."""
        last: dict[float, tuple[float, ...]] = {}
        for t, v in self._tenant_series:
            last[t] = v
        times = np.array(sorted(last), dtype=float)
        vals = np.array([last[t] for t in sorted(last)], dtype=float).reshape(len(times), len(self.lqs))
        rows = []
        for li, lq in enumerate(self.lqs):
            key = f"{lq.namespace}/{lq.name}"
            w = wf[wf["local_queue"] == key]
            rows.append({"local_queue": key, "cluster_queue": self.cqs[lq.cq].spec.name, "weight": lq.weight,
                         "workloads": len(w), "queue_wait_mean_s": float(w["queue_wait_s"].mean()) if len(w)
                         else math.nan, "mean_dominant_share": _time_average(times, vals[:, li], end)})
        f = pd.DataFrame(rows, columns=["local_queue", "cluster_queue", "weight", "workloads", "queue_wait_mean_s",
                                        "mean_dominant_share"])
        for col in ("local_queue", "cluster_queue"):
            f[col] = f[col].astype("string")
        f["workloads"] = f["workloads"].astype("int64")
        return f

    def capacity_natural(self) -> dict[str, float]:
        return {r: v / _unit(r) for r, v in self.capacity.items()}


# -- metrics ------------------------------------------------------------------------------


def jain_index(x: np.ndarray) -> float:
    """Jain's fairness index ``(sum x)^2 / (n sum x^2)``: 1 when all are equal, 1/n when
    one has everything (Jain, Chiu and Hawe, DEC-TR-301, 1984); nan for no values or all 0."""
    x = np.asarray(x, dtype=float)
    if x.size == 0 or not np.any(x > 0):
        return math.nan
    return float(x.sum() ** 2 / (x.size * (x ** 2).sum()))


def _time_average(t: np.ndarray, v: np.ndarray, end: float) -> float:
    """Mean over [t[0], end] of the step function that takes v[i] from t[i]."""
    if t.size == 0 or end <= t[0]:
        return 0.0
    widths = np.diff(np.append(t, end))
    return float((widths * v).sum() / (end - t[0]))


def queue_summary(wf: pd.DataFrame, uf: pd.DataFrame, end: float, capacity: dict[str, float],
                  weights: dict[str, float]) -> pd.DataFrame:
    """One row per ClusterQueue: workloads, admitted, finished, mean and p95 queueing
    delay, mean completion time, time-averaged dominant share of the quota (usage of a
    resource over every queue's quota of it, the largest resource), time-averaged
    borrowed fraction (of the resource whose usage is most borrowed: borrowed / usage),
    and GPU-hours admitted."""
    rows = []
    for name in weights:
        w = wf[wf["cluster_queue"] == name]
        adm = w[w["admitted"].notna()]
        done = w[w["status"] == FINISHED]
        u = uf[uf["cluster_queue"] == name]
        share = np.zeros(0)
        times = np.zeros(0)
        borrowed = np.zeros(0)
        gpu = np.zeros(0)
        if len(u):
            per_res = u.groupby(["time", "resource"], sort=True)[["usage", "borrowed"]].sum().reset_index()
            cap = per_res["resource"].map(lambda r: capacity.get(str(r), 0.0)).astype(float)
            per_res["share"] = (per_res["usage"] / cap.where(cap > 0)).fillna(0.0)
            share_t = per_res.groupby("time", sort=True)["share"].max()
            times = share_t.index.to_numpy(dtype=float)
            share = share_t.to_numpy(dtype=float)
            frac = per_res["borrowed"] / per_res["usage"].where(per_res["usage"] > 0)
            borrowed = frac.fillna(0.0).groupby(per_res["time"]).max().reindex(times).to_numpy(dtype=float)
            g = per_res[per_res["resource"] == GPU_RESOURCE].set_index("time")["usage"].reindex(times).fillna(0.0)
            gpu = g.to_numpy(dtype=float)
        rows.append({
            "cluster_queue": name, "weight": float(weights[name]), "workloads": len(w), "admitted": len(adm),
            "finished": len(done),
            "queue_wait_mean_s": float(adm["queue_wait_s"].mean()) if len(adm) else math.nan,
            "queue_wait_p95_s": float(adm["queue_wait_s"].quantile(0.95)) if len(adm) else math.nan,
            "completion_mean_s": float(done["completion_s"].mean()) if len(done) else math.nan,
            "mean_dominant_share": _time_average(times, share, end),
            "mean_borrowed_fraction": _time_average(times, borrowed, end),
            "gpu_hours": _time_average(times, gpu, end) * (end - (times[0] if times.size else end)) / 3600.0,
        })
    f = pd.DataFrame(rows, columns=["cluster_queue", "weight", "workloads", "admitted", "finished",
                                    "queue_wait_mean_s", "queue_wait_p95_s", "completion_mean_s",
                                    "mean_dominant_share", "mean_borrowed_fraction", "gpu_hours"])
    f["cluster_queue"] = f["cluster_queue"].astype("string")
    for col in ("workloads", "admitted", "finished"):
        f[col] = f[col].astype("int64")
    return f


def idle_gpu_hours_while_waiting(state: Any, wf: pd.DataFrame, end: float) -> float:
    """GPU-hours the cluster's GPUs sat unallocated while some GPU workload waited in a
    queue (from its creation to its first admission): the integral of
    ``total - allocated`` GPUs over the union of those waits."""
    waiting = wf[wf["gpu"] > 0]
    total = float(state.nodes.gpu_count[: state.nodes.n].sum()) if hasattr(state.nodes, "n") else float(
        state.nodes.gpu_count.sum())
    if waiting.empty or total <= 0:
        return 0.0
    starts = waiting["created"].to_numpy(dtype=float)
    stops = waiting["admitted"].fillna(end).to_numpy(dtype=float)
    # The union of the waits.
    order = np.argsort(starts, kind="stable")
    spans: list[list[float]] = []
    for s, e in zip(starts[order], stops[order], strict=True):
        if e <= s:
            continue
        if spans and s <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([s, e])
    if not spans:
        return 0.0
    # GPUs allocated over time: +gpu at bind, -gpu at the end.
    pods = state.pods
    n = pods.n if hasattr(pods, "n") else len(pods.names)
    g = (pods.gpu_count[:n].astype(float) * pods.gpu_milli[:n].astype(float)) / GPU_MILLI
    bound = pods.scheduled[:n]
    has = (g > 0) & ~np.isnan(bound)
    t_on = bound[has]
    t_off = np.where(np.isnan(pods.finished[:n][has]), end, pods.finished[:n][has])
    times = np.concatenate([t_on, t_off, [0.0, end]])
    deltas = np.concatenate([g[has], -g[has], [0.0, 0.0]])
    o = np.argsort(times, kind="stable")
    times, used = times[o], np.cumsum(deltas[o])
    idle = 0.0
    for s, e in spans:
        # Step function: used[i] holds on [times[i], times[i+1]).
        pts = np.clip(np.append(times, end), s, e)
        w = np.diff(pts)
        idle += float((w * (total - used)).sum())
    return idle / 3600.0


# -- helpers -------------------------------------------------------------------------------


def _canonical(resource: str) -> str:
    return GPU_RESOURCE if resource in _GPU_NAMES else resource


def _amount(resource: str, q: Any) -> int:
    """A quota in base units: milli-CPU, bytes, milli-GPU, counts."""
    if resource in _GPU_NAMES:
        return int(base_units({"gpu": q})["gpu"]) * GPU_MILLI
    v = base_units({resource: q})[resource]
    return min(int(v), UNLIMITED)


def _unit(resource: str) -> float:
    if resource == "cpu":
        return 1000.0
    if resource == GPU_RESOURCE:
        return float(GPU_MILLI)
    return 1.0


def _grace(ctx: Any, pod: int) -> float:
    info = ctx.state.shapes[int(ctx.state.pods.shape[pod])]
    return float(getattr(info, "termination_grace_s", 30.0))


def _cand_key(v: QueuedWorkload, wl: QueuedWorkload) -> tuple:
    """``CandidatesOrdering``: other queues first, lower priority, admitted later."""
    return (v.cq == wl.cq, v.priority, -v.admitted_at, -v.index)


def _drop(counter: Counter[tuple], key: tuple) -> None:
    n = counter[key] - 1
    if n:
        counter[key] = n
    else:
        del counter[key]


def _move(src: Counter[tuple], dst: Counter[tuple], key: tuple) -> None:
    _drop(src, key)
    dst[key] += 1
