"""The Job controller (upstream ``pkg/controller/job/job_controller.go``,
``backoff_utils.go``, ``indexed_job_utils.go``) and the TTL-after-finished controller
(``pkg/controller/ttlafterfinished/ttlafterfinished_controller.go``).

A component that runs every Job of the run to completion, acting only through the
Cluster API. A watch event about one of its pods puts the Job's key on the work queue;
the sync (``syncJob`` -> ``manageJob``), a reaction latency later:

- marks the Job **Failed** when its failed pods exceed ``backoffLimit``
  (``BackoffLimitExceeded``: ``failed > backoffLimit``, so ``backoffLimit: 2`` fails on
  the third failure) or when ``activeDeadlineSeconds`` have passed since its start
  (``DeadlineExceeded``; the controller re-queues itself for that instant), deleting
  its active pods;
- otherwise keeps ``wantActive`` pods (``manageJob``): ``min(parallelism, completions -
  succeeded)`` (NonIndexed), the lowest pending indexes (Indexed, ``firstPendingIndexes``),
  or ``parallelism`` until a work-queue pod succeeds; excess pods are deleted; at most 500
  creations or deletions per sync (``MaxPodCreateDeletePerSync``), creations in
  ``slowStartBatch`` batches;
- then marks it **Complete** when no pod is active and ``completions`` pods have
  succeeded (NonIndexed), every index ``0 .. completions-1`` has a succeeded pod
  (Indexed), or, for a work queue (``completions`` unset), one pod has succeeded
  (``syncJob``: ``succeeded >= completions && active == 0``, with ``active`` counted after
  ``manageJob``). A pod still active when the completions are reached (its replacement
  ran while a terminating pod went on to succeed, say) is excess (``wantActive`` 0):
  ``manageJob`` deletes it, so the Job completes at that sync, after at most 500 such
  deletions;
- a suspended Job (``suspend: true``) has its active pods deleted and creates none;
  its ``startTime`` is set when it runs unsuspended (reset at each resume, so
  ``activeDeadlineSeconds`` counts from then).

Pods that ``manageJob`` deletes (excess pods, those of a suspended Job, those left when the
completions are reached) are neither failures nor successes, whatever they end as:
upstream's ``deleteJobPods`` removes their tracking finalizer before deleting them, so
``trackJobStatusAndRemoveFinalizers`` never counts them (``backoffLimit`` and the pod
failure back-off do not see them). Pods deleted because the Job failed keep the finalizer
(``deleteActivePods``) and count as failed.

Pod failure back-off (``backoff_utils.go``): new pods wait until
``lastFailureTime + 10 s * 2^(failuresAfterLastSuccess - 1)``, capped at
``MaxJobPodFailureBackOff`` (``getRemainingTimeForFailuresCount``); a succeeded pod
resets the count. Both figures are in ``controllers.job`` (:class:`~k8sim.config.
controllers.JobTiming`).

What counts as a failure follows the default ``podReplacementPolicy``
(``TerminatingOrFailed``, no ``podFailurePolicy``): every pod that ends without
succeeding, whatever ended it (a crash with ``restartPolicy: Never``, preemption,
eviction, its node lost), counts once it is terminal; a pod being deleted is replaced at
once (it is no longer active) and its failure counts when it has stopped.

Pod failure policy (``podFailurePolicy``, :mod:`k8sim.controllers.jobpolicy`): each pod
that has failed is matched against the rules (``matchPodFailurePolicy``) when it is
terminal: a FailJob rule fails the Job at the next sync (reason ``PodFailurePolicy``,
before ``backoffLimit`` is looked at), an Ignore rule does not count the failure toward
``backoffLimit`` (it still counts for the pod failure back-off, as upstream's
``newBackoffRecord`` takes every new failed pod), Count counts it, FailIndex fails its
index. A pod failure policy implies ``podReplacementPolicy: Failed``
(``onlyReplaceFailedPods``): a pod being deleted is replaced only once it has failed, and
the terminating pods count against ``wantActive`` and keep their indexes.

``backoffLimitPerIndex`` (Indexed Jobs): an index fails when a counted failure of its pod
finds ``backoffLimitPerIndex`` counted failures of the index before it (``isIndexFailed``),
or a FailIndex rule matches; a failed index gets no more pods. The Job fails with
``MaxFailedIndexesExceeded`` once the failed indexes exceed ``maxFailedIndexes``, else with
``FailedIndexes`` once every index has succeeded or failed and some failed. The pod
failure back-off is then per index (``getRemainingTimePerIndex``: ``10 s * 2^(n-1)`` after
the index's last failure, n its failures, ignored ones included) instead of per Job.

``successPolicy`` (Indexed Jobs): when the succeeded indexes satisfy a rule
(``matchSuccessPolicy``) the Job is Complete (reason ``SuccessPolicy``) and its active
pods are deleted; they do not count as failed.

Upstream the terminal condition waits for the terminating pods (``delayTerminalCondition``);
k8sim finishes the Job at the sync that decides it, as for every other reason.

Not modelled: ``managedBy``. With ``restartPolicy: OnFailure`` the Job also fails
when the container restarts of its active pods reach ``backoffLimit``
(``pastBackoffLimitOnFailure``), checked at each restart (:class:`~k8sim.cluster.watch.
PodRestarted`).

``ttlSecondsAfterFinished`` deletes the Job (and, in cascade, its pods, already
terminal) that many seconds after it finished: the ``jobs`` frame records when.

Pods are named ``<job>-<5 characters>`` (Indexed: ``<job>-<index>-<5 characters>``).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.api import AdmissionRefused
from k8sim.cluster.pods import OWNER_KINDS, SUCCEEDED
from k8sim.cluster.watch import PodDeleted, PodDeleting, PodRestarted, PodTerminated
from k8sim.component import Contribution
from k8sim.controllers.jobpolicy import FAIL_INDEX, FailedPod, match_pod_failure_policy, match_success_policy
from k8sim.controllers.queue import WorkQueue
from k8sim.controllers.ranking import BURST_REPLICAS, slow_start_batches
from k8sim.controllers.replicaset import latency_sampler, pod_suffix

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.controllers import JobTiming
    from k8sim.controllers.store import AppStore, PodMaker
    from k8sim.workloads.batch_manifests import JobSpec

JOB_KIND = OWNER_KINDS.index("Job")
#: Upstream ``MaxPodCreateDeletePerSync``: pod creations or deletions of one sync.
MAX_POD_CREATE_DELETE_PER_SYNC = BURST_REPLICAS
#: Reasons of deletions the Job controller asks for itself.
JOB_DELETED = {"BackoffLimitExceeded", "DeadlineExceeded", "JobSuspended", "TooManyActive", "JobComplete",
               "JobReplaced", "PodFailurePolicy", "FailedIndexes", "MaxFailedIndexesExceeded", "SuccessPolicy"}
#: Deletion reasons whose pods carry ``DisruptionTarget=True`` upstream (preemption, taint
#: eviction, the Eviction API: a drain or a spot notice, the pod garbage collector).
DISRUPTION_REASONS = frozenset({"Preempted", "TaintManagerEviction", "EvictionByEvictionAPI", "SpotInterruption",
                                "NodeLost", "DeletionByPodGC"})


@dataclass
class JobObj:
    """A Job (``row`` = its row, the ``owner`` of its pods) and its status."""

    row: int
    name: str
    namespace: str
    spec: JobSpec
    maker: PodMaker
    created: float
    workload: int
    cronjob: str = ""  # display name of the owning CronJob ("" if none)
    scheduled: float = math.nan  # the CronJob schedule time it runs for
    start: float | None = None  # status.startTime
    active: dict[int, int] = field(default_factory=dict)  # pod -> completion index (-1: NonIndexed)
    terminating: dict[int, int] = field(default_factory=dict)  # deleted, not yet terminal
    succeeded: int = 0
    failed: int = 0
    succeeded_indexes: set[int] = field(default_factory=set)
    failures_after_success: int = 0  # backoffRecord.failuresAfterLastSuccess
    last_failure: float | None = None  # backoffRecord.lastFailureTime
    finished: float | None = None  # status.completionTime (or the Failed condition's time)
    status: str = "Active"  # Active, Complete, Failed
    reason: str = ""
    deleted_at: float = math.nan  # ttlSecondsAfterFinished, CronJob history cleanup or Replace
    pods: list[int] = field(default_factory=list)  # every pod created, in order
    causes: dict[int, str] = field(default_factory=dict)  # failed pod -> why it ended
    next_pod: int = 0
    backoff_wait: bool = False  # a sync is already due when the back-off ends
    free: list[int] | None = None  # Indexed: heap of indexes that may be pending
    ignored: int = 0  # failures an Ignore rule kept out of ``failed``
    fail_message: str | None = None  # a FailJob rule matched (the Job fails at the next sync)
    failed_indexes: set[int] = field(default_factory=set)  # backoffLimitPerIndex
    index_failures: dict[int, int] = field(default_factory=dict)  # index -> counted failures
    index_ignored: dict[int, int] = field(default_factory=dict)  # index -> ignored failures
    index_last_failure: dict[int, float] = field(default_factory=dict)
    #: Pods deleted without their tracking finalizer (excess, suspension, completion,
    #: SuccessPolicy): counted neither as failed nor as succeeded.
    untracked: set[int] = field(default_factory=set)
    policy_rows: list[tuple] = field(default_factory=list)  # job_pod_failures rows

    @property
    def display(self) -> str:
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"

    @property
    def indexed(self) -> bool:
        return self.spec.completion_mode == "Indexed"


class JobController:
    """Every Job of the run (see the module docstring)."""

    name = "job-controller"

    def __init__(self, ctx: Context, store: AppStore, timing: JobTiming):
        self.ctx = ctx
        self.store = store
        self.env = ctx.env
        self.timing = timing
        self.jobs: list[JobObj] = []
        self.by_key: dict[str, int] = {}
        #: ``fn(row)`` when a Job finishes (the CronJob controller).
        self.finish_listeners: list[Callable[[int], None]] = []
        self.queue = WorkQueue(ctx.env, self.sync, latency_sampler(
            ctx, timing, self.name, lambda row: f"{self.jobs[row].namespace}/{self.jobs[row].name}"))
        self._subscribed = False

    def _subscribe(self) -> None:
        if self._subscribed:
            return
        self._subscribed = True
        bus = self.ctx.api.bus
        bus.subscribe(PodDeleting, self._on_deleting)
        bus.subscribe(PodTerminated, self._on_terminated)
        bus.subscribe(PodDeleted, self._on_deleted)
        bus.subscribe(PodRestarted, self._on_restarted)

    def start(self) -> None:
        """Nothing to start: syncs follow Job creations and pod events."""

    # -- objects --------------------------------------------------------------------------

    def create(self, name: str, namespace: str, spec: JobSpec, maker: PodMaker, workload: int,
               cronjob: str = "", scheduled: float = math.nan) -> int:
        """A new Job (now); returns its row. Its first sync follows the reaction latency."""
        self._subscribe()
        j = JobObj(row=len(self.jobs), name=name, namespace=namespace, spec=spec, maker=maker,
                   created=self.env.now, workload=workload, cronjob=cronjob, scheduled=scheduled)
        self.jobs.append(j)
        self.by_key[f"{namespace}/{name}"] = j.row
        self.store.register("Job", None, name, namespace, workload=workload)
        self.ctx.api.record("SuccessfulCreate", detail=f"created Job {j.display}"
                            + (f" for CronJob {cronjob}" if cronjob else ""))
        self.queue.add(j.row)
        return j.row

    def set_suspend(self, key: str, suspend: bool) -> None:
        """``kubectl patch job --patch '{"spec":{"suspend":...}}'``."""
        j = self.jobs[self.by_key[key]]
        if j.spec.suspend != suspend:
            from dataclasses import replace

            j.spec = replace(j.spec, suspend=suspend)
            self.queue.add(j.row)

    def delete(self, row: int, reason: str = "Deleted") -> None:
        """Delete the Job now; its pods go with it (cascading deletion)."""
        j = self.jobs[row]
        if not math.isnan(j.deleted_at):
            return
        j.deleted_at = self.env.now
        self._delete_active(j, reason)
        if j.finished is None:
            j.finished, j.status, j.reason = self.env.now, "Deleted", reason
            self.store.losses.pop((JOB_KIND, j.row), None)
            for fn in self.finish_listeners:
                fn(j.row)

    # -- watch handlers -------------------------------------------------------------------

    def _mine(self, pod: int) -> JobObj | None:
        pods = self.ctx.state.pods
        if pods.owner_kind[pod] != JOB_KIND:
            return None
        return self.jobs[int(pods.owner[pod])]

    def _on_deleting(self, e: PodDeleting) -> None:
        j = self._mine(e.pod)
        if j is not None and e.pod in j.active:
            # A terminating pod is no longer active: TerminatingOrFailed replaces it now,
            # Failed once it has failed (its index stays taken meanwhile).
            j.terminating[e.pod] = j.active.pop(e.pod)
            j.causes[e.pod] = e.reason
            if not j.spec.only_replace_failed:
                self._free_index(j, j.terminating[e.pod])
            if j.finished is None and e.reason not in JOB_DELETED:
                self.store.lost(JOB_KIND, j.row, e.pod, e.reason)
            self.queue.add(j.row)

    def _on_terminated(self, e: PodTerminated) -> None:
        j = self._mine(e.pod)
        if j is None:
            return
        was_active, index = self._take(j, e.pod, failed=e.phase != SUCCEEDED)
        if e.pod in j.untracked:  # neither counted nor replaced; its run is lost work all the same
            if e.phase != SUCCEEDED:
                j.causes.setdefault(e.pod, e.reason)
        elif e.phase == SUCCEEDED:
            j.succeeded += 1
            if index >= 0:
                j.succeeded_indexes.add(index)
            j.failures_after_success = 0
            j.last_failure = None
        else:
            self._failed(j, e.pod, index, e.reason)
            j.causes.setdefault(e.pod, e.reason)
            if was_active and j.finished is None:
                self.store.lost(JOB_KIND, j.row, e.pod, e.reason)
        self.queue.add(j.row)

    def _on_restarted(self, e: PodRestarted) -> None:
        j = self._mine(e.pod)
        if j is not None and e.pod in j.active and j.maker.template.restart_policy == "OnFailure":
            self.queue.add(j.row)

    def _on_deleted(self, e: PodDeleted) -> None:
        j = self._mine(e.pod)
        if j is None:
            return
        was_active, index = self._take(j, e.pod, failed=True)
        self._failed(j, e.pod, index, e.reason)
        j.causes.setdefault(e.pod, e.reason)
        if was_active and j.finished is None and e.reason not in JOB_DELETED:
            self.store.lost(JOB_KIND, j.row, e.pod, e.reason)
        self.queue.add(j.row)

    def _take(self, j: JobObj, pod: int, failed: bool) -> tuple[bool, int]:
        """Take an ended pod out of the Job's active or terminating pods.

        Returns whether it was active and its completion index (-1 if none or unknown).
        A failed active pod frees its index; a failed terminating pod frees it only under
        ``podReplacementPolicy: Failed`` (otherwise it was freed when termination began).
        """
        index = j.active.pop(pod, None)
        if index is not None:
            if failed:
                self._free_index(j, index)
            return True, index
        index = j.terminating.pop(pod, -1)
        if failed and j.spec.only_replace_failed:
            self._free_index(j, index)
        return False, index

    def _failed_pod(self, pod: int, reason: str) -> FailedPod:
        """What the pod's status says of its failure (:mod:`k8sim.controllers.jobpolicy`)."""
        pods = self.ctx.state.pods
        code = self.ctx.state.exit_codes.get(pod)
        conds = {("Ready", "False"), ("ContainersReady", "False")}
        if not math.isnan(float(pods.scheduled[pod])):
            conds.add(("PodScheduled", "True"))
        if reason in DISRUPTION_REASONS:
            conds.add(("DisruptionTarget", "True"))
        return FailedPod(None if code is None else code[0], None if code is None else code[1], frozenset(conds))

    def _failed(self, j: JobObj, pod: int, index: int, reason: str) -> None:
        """A pod of ``j`` has failed (terminal, or deleted before it was bound): count it
        as upstream's ``trackJobStatusAndRemoveFinalizers`` does, with the pod failure
        policy and the per-index back-off limit."""
        if pod in j.untracked:
            return
        now = self.env.now
        j.failures_after_success += 1  # the back-off record takes every new failed pod
        j.last_failure = now
        spec = j.spec
        if spec.pod_failure_policy is None and spec.backoff_limit_per_index is None:
            j.failed += 1
            return
        info = self._failed_pod(pod, reason)
        msg, count, action = match_pod_failure_policy(spec.pod_failure_policy, info)
        if count:
            j.failed += 1
        else:
            j.ignored += 1
        if msg is not None and j.fail_message is None and j.finished is None:
            j.fail_message = f"{msg} (pod {self.ctx.state.pods.names[pod]})"
        index_failed = False
        if spec.backoff_limit_per_index is not None and index >= 0 and j.finished is None:
            before = j.index_failures.get(index, 0)
            index_failed = action == FAIL_INDEX or (count and before >= spec.backoff_limit_per_index)
            if index_failed:
                j.failed_indexes.add(index)
            if count:
                j.index_failures[index] = before + 1
            else:
                j.index_ignored[index] = j.index_ignored.get(index, 0) + 1
            j.index_last_failure[index] = now
        j.policy_rows.append((now, j.display, self.ctx.state.pods.names[pod], index, reason,
                              -1 if info.exit_code is None else info.exit_code,
                              ("DisruptionTarget", "True") in info.conditions, action or "", count, index_failed))

    # -- sync -----------------------------------------------------------------------------

    def remaining_backoff(self, j: JobObj) -> float:
        """``getRemainingTimeForFailuresCount``: seconds before new pods may be created."""
        n = j.failures_after_success
        if n == 0 or j.last_failure is None:
            return 0.0
        delay = self.timing.pod_failure_backoff_s
        for _ in range(1, n):
            delay *= 2
            if delay >= self.timing.max_pod_failure_backoff_s:
                delay = self.timing.max_pod_failure_backoff_s
                break
        elapsed = self.env.now - j.last_failure
        return 0.0 if delay < elapsed else delay - elapsed

    def remaining_backoff_index(self, j: JobObj, index: int) -> float:
        """``getRemainingTimePerIndex``: seconds before index ``index`` may get a new pod
        (``n`` = its failures so far, ignored ones included)."""
        n = j.index_failures.get(index, 0) + j.index_ignored.get(index, 0)
        last = j.index_last_failure.get(index)
        if n == 0 or last is None:
            return 0.0
        delay = self.timing.pod_failure_backoff_s
        for _ in range(1, n):
            delay *= 2
            if delay >= self.timing.max_pod_failure_backoff_s:
                delay = self.timing.max_pod_failure_backoff_s
                break
        elapsed = self.env.now - last
        return 0.0 if delay < elapsed else delay - elapsed

    def past_backoff_limit_on_failure(self, j: JobObj) -> bool:
        """``pastBackoffLimitOnFailure``: under ``restartPolicy: OnFailure``, the
        container restarts of the active pods reach ``backoffLimit`` (exceed 0 when it
        is 0)."""
        if not j.active or j.maker.template.restart_policy != "OnFailure":
            return False
        restarts = int(self.ctx.state.pods.restarts[list(j.active)].sum())
        limit = j.spec.backoff_limit
        return restarts > 0 if limit == 0 else restarts >= limit

    def sync(self, row: int) -> None:
        """``syncJob``."""
        j = self.jobs[row]
        if j.finished is not None:
            return
        now = self.env.now
        spec = j.spec
        if spec.suspend:  # manageJob: the pods are deleted without their finalizer
            j.untracked.update(j.active)
            self._delete_active(j, "JobSuspended")
            j.start = None  # a resumed Job's startTime is reset (activeDeadlineSeconds from then)
            return
        if j.start is None:
            j.start = now
            if spec.active_deadline_s is not None:
                self.queue.add_after(row, spec.active_deadline_s)
        if j.fail_message is not None:
            self._finish(j, "Failed", "PodFailurePolicy")
            return
        if j.failed > spec.backoff_limit or self.past_backoff_limit_on_failure(j):
            self._finish(j, "Failed", "BackoffLimitExceeded")
            return
        if spec.active_deadline_s is not None and now - j.start >= spec.active_deadline_s:
            self._finish(j, "Failed", "DeadlineExceeded")
            return
        if spec.backoff_limit_per_index is not None and j.failed_indexes:
            assert spec.completions is not None  # Indexed
            if spec.max_failed_indexes is not None and len(j.failed_indexes) > spec.max_failed_indexes:
                self._finish(j, "Failed", "MaxFailedIndexesExceeded")
                return
            if len(j.failed_indexes) + len(j.succeeded_indexes) >= spec.completions:
                self._finish(j, "Failed", "FailedIndexes")
                return
        if spec.success_policy is not None and match_success_policy(spec.success_policy, j.succeeded_indexes):
            self._finish(j, "Complete", "SuccessPolicy")
            return
        self._manage(j)
        if self._complete(j):
            self._finish(j, "Complete", "")

    def _complete(self, j: JobObj) -> bool:
        """``syncJob``'s ``complete``, after ``manageJob``: no pod active and the
        completions reached (one success for a work queue)."""
        if j.active:
            return False
        return j.succeeded > 0 if j.spec.completions is None else self._succeeded(j) >= j.spec.completions

    @staticmethod
    def _succeeded(j: JobObj) -> int:
        """``jobCtx.succeeded``: succeeded pods, or succeeded indexes (Indexed)."""
        return len(j.succeeded_indexes) if j.indexed else j.succeeded

    def _manage(self, j: JobObj) -> None:
        """``manageJob``: create or delete pods towards ``wantActive``."""
        spec = j.spec
        active = len(j.active)
        if spec.completions is None:
            want = active if j.succeeded > 0 else spec.parallelism
        else:
            want = max(0, min(spec.parallelism, spec.completions - self._succeeded(j)))
        if active > want:
            # Upstream deletes the excess choosing with activePodsForRemoval (not ready,
            # unscheduled, pending first); k8sim takes the newest first (the pods that
            # did the least work). At most MaxPodCreateDeletePerSync per sync; the pods
            # go without their tracking finalizer (deleteJobPods): never counted.
            reached = spec.completions is not None and self._succeeded(j) >= spec.completions
            excess = sorted(j.active, reverse=True)[: active - want]
            for pod in excess[:MAX_POD_CREATE_DELETE_PER_SYNC]:
                j.terminating[pod] = j.active.pop(pod)
                self._free_index(j, j.terminating[pod])
                j.untracked.add(pod)
                self.ctx.api.delete_pod(pod, j.maker.info.termination_grace_s,
                                        "JobComplete" if reached else "TooManyActive")
            if len(excess) > MAX_POD_CREATE_DELETE_PER_SYNC:
                self.queue.add(j.row)
            return
        diff = want - active
        if spec.only_replace_failed:
            diff -= len(j.terminating)
        if diff <= 0:
            return
        wait = self.remaining_backoff(j) if spec.backoff_limit_per_index is None else 0.0
        if wait > 0:
            if not j.backoff_wait:
                j.backoff_wait = True

                def due(_e: object, row: int = j.row) -> None:
                    self.jobs[row].backoff_wait = False
                    self.queue.add(row)

                self.env.timeout(wait).callbacks.append(due)
            return
        n = min(diff, MAX_POD_CREATE_DELETE_PER_SYNC)
        indexes = self._pending_indexes(j, n) if j.indexed else [-1] * n
        if spec.backoff_limit_per_index is not None and indexes:
            indexes = self._indexes_out_of_backoff(j, indexes)
        k = 0
        refused = False
        for batch in slow_start_batches(len(indexes)):
            for _ in range(batch):
                try:
                    self._create_pod(j, indexes[k])
                except AdmissionRefused:
                    refused = True  # the API logged FailedCreate
                    self._free_index(j, indexes[k])
                k += 1
            if refused:
                break  # slowStartBatch stops after a batch with an error
        for i in indexes[k:]:
            self._free_index(j, i)
        if refused:
            # manageJob returns the creation error: the Job is re-synced with the
            # queue's back-off (a refused creation is not a pod failure).
            self.queue.add_rate_limited(j.row)
            return
        self.queue.forget(j.row)
        if diff > MAX_POD_CREATE_DELETE_PER_SYNC:
            self.queue.add(j.row)

    def _indexes_out_of_backoff(self, j: JobObj, indexes: list[int]) -> list[int]:
        """``getPodCreationInfoForIndependentIndexes``: the indexes whose per-index
        back-off is over; the others return to the pending heap and the Job is synced
        again when the first of them is due."""
        ready, waits = [], []
        for i in indexes:
            w = self.remaining_backoff_index(j, i)
            if w > 0:
                waits.append(w)
                self._free_index(j, i)
            else:
                ready.append(i)
        if waits:
            self.queue.add_after(j.row, min(waits))
        return ready

    def _pending_indexes(self, j: JobObj, n: int) -> list[int]:
        """``firstPendingIndexes``: the lowest indexes neither succeeded nor active (a
        heap of candidate indexes: an index returns to it when its pod leaves without
        succeeding, so a sync costs O(n log completions), not O(completions))."""
        if j.free is None:
            assert j.spec.completions is not None  # Indexed Jobs have completions
            j.free = list(range(j.spec.completions))  # sorted: a valid heap
        active = set(j.active.values())
        if j.spec.only_replace_failed:  # a terminating pod keeps its index
            active |= set(j.terminating.values())
        out: list[int] = []
        while j.free and len(out) < n:
            i = heapq.heappop(j.free)
            if i not in j.succeeded_indexes and i not in active and i not in out and i not in j.failed_indexes:
                out.append(i)
        return out

    def _free_index(self, j: JobObj, index: int) -> None:
        """The pod of ``index`` left without succeeding: the index is pending again."""
        if index >= 0 and j.free is not None and index not in j.succeeded_indexes and index not in j.failed_indexes:
            heapq.heappush(j.free, index)

    def _create_pod(self, j: JobObj, index: int) -> None:
        base = f"{j.display}-{index}" if index >= 0 else j.display
        name = f"{base}-{pod_suffix(j.name, j.next_pod)}"
        j.next_pod += 1
        pod = j.maker.create(name, JOB_KIND, j.row)
        j.active[pod] = index
        j.pods.append(pod)

    def _delete_active(self, j: JobObj, reason: str) -> None:
        grace = j.maker.info.termination_grace_s
        for pod in list(j.active):
            j.terminating[pod] = j.active.pop(pod)
            self._free_index(j, j.terminating[pod])
            j.causes[pod] = reason
            self.ctx.api.delete_pod(pod, grace, reason)

    def _finish(self, j: JobObj, status: str, reason: str) -> None:
        j.finished, j.status, j.reason = self.env.now, status, reason
        if reason == "SuccessPolicy":  # pods deleted once the success criteria are met are not failures
            j.untracked.update(j.active)
        self._delete_active(j, reason or "JobComplete")
        self.store.losses.pop((JOB_KIND, j.row), None)  # a finished Job replaces nothing
        detail = f"Job {j.display} " + ("completed" if status == "Complete" else f"failed: {reason}")
        if reason == "PodFailurePolicy":
            detail += f": {j.fail_message}"
        elif reason == "SuccessPolicy":
            detail += " (SuccessPolicy)"
        self.ctx.api.record("JobComplete" if status == "Complete" else "JobFailed", detail=detail)
        if j.spec.ttl_after_finished_s is not None:
            def ttl(_e: object, row: int = j.row) -> None:
                if math.isnan(self.jobs[row].deleted_at):
                    self.jobs[row].deleted_at = self.env.now
                    self.ctx.api.record("JobDeleted", detail=f"Job {self.jobs[row].display}: ttlSecondsAfterFinished")

            self.env.timeout(j.spec.ttl_after_finished_s).callbacks.append(ttl)
        for fn in self.finish_listeners:
            fn(j.row)

    # -- result ---------------------------------------------------------------------------

    def frame(self) -> pd.DataFrame:
        """One row per Job: status, times, pods and wasted work (see docs/jobs.md)."""
        pods = self.ctx.state.pods
        now = float(self.env.now)
        rows = []
        for j in self.jobs:
            wasted = 0.0
            for p in j.pods:
                # Ended without succeeding: its run time is lost work (a pod deleted that
                # succeeded all the same, behind a partition say, lost nothing).
                if p in j.causes and pods.phase[p] != SUCCEEDED:
                    run = float(pods.running[p])
                    if not math.isnan(run):
                        end = float(pods.finished[p])
                        wasted += (now if math.isnan(end) else end) - run
            rows.append({
                "job": j.display, "namespace": j.namespace, "cronjob": j.cronjob, "workload": j.workload,
                "completion_mode": j.spec.completion_mode,
                "completions": -1 if j.spec.completions is None else j.spec.completions,
                "parallelism": j.spec.parallelism, "backoff_limit": j.spec.backoff_limit,
                "created": j.created, "scheduled": j.scheduled,
                "started": math.nan if j.start is None else j.start,
                "finished": math.nan if j.finished is None else j.finished,
                "status": j.status, "reason": j.reason, "succeeded": j.succeeded, "failed": j.failed,
                "pods": len(j.pods), "completion_time_s": (j.finished - j.created) if j.status == "Complete"
                and j.finished is not None else math.nan,
                "wasted_s": wasted, "deleted_at": j.deleted_at,
            })
        cols = ["job", "namespace", "cronjob", "workload", "completion_mode", "completions", "parallelism",
                "backoff_limit", "created", "scheduled", "started", "finished", "status", "reason", "succeeded",
                "failed", "pods", "completion_time_s", "wasted_s", "deleted_at"]
        f = pd.DataFrame(rows, columns=cols)
        for c in ("job", "namespace", "cronjob", "completion_mode", "status", "reason"):
            f[c] = f[c].astype("string")
        for c in ("workload", "completions", "parallelism", "backoff_limit", "succeeded", "failed", "pods"):
            f[c] = f[c].astype("int64")
        return f

    def wasted_by_cause(self) -> dict[str, float]:
        """Run time (s) of Job pods that ended without succeeding, by why they ended."""
        pods = self.ctx.state.pods
        now = float(self.env.now)
        out: dict[str, float] = {}
        for j in self.jobs:
            for p, cause in j.causes.items():
                run = float(pods.running[p])
                if not math.isnan(run) and pods.phase[p] != SUCCEEDED:
                    end = float(pods.finished[p])
                    out[cause] = out.get(cause, 0.0) + ((now if math.isnan(end) else end) - run)
        return out

    def contribute(self) -> Contribution:
        if not self.jobs:
            return Contribution()
        f = self.frame()
        done = f.loc[f["status"] == "Complete", "completion_time_s"].to_numpy(dtype=float)
        summary: dict[str, Any] = {
            "jobs": len(f), "jobs_complete": int((f["status"] == "Complete").sum()),
            "jobs_failed": int((f["status"] == "Failed").sum()),
            "job_completion_p50_s": float(np.percentile(done, 50)) if done.size else math.nan,
            "job_completion_p95_s": float(np.percentile(done, 95)) if done.size else math.nan,
            "job_pods_failed": int(f["failed"].sum()),
            "job_wasted_work_s": float(f["wasted_s"].sum()),
        }
        for cause, s in sorted(self.wasted_by_cause().items()):
            summary[f"job_wasted_work_s_{cause}"] = s
        frames = {"jobs": f}
        if any(self._has_policy(j) for j in self.jobs):
            frames["job_policies"] = self.policy_frame()
            frames["job_pod_failures"] = self.pod_failures_frame()
            pf = frames["job_pod_failures"]
            summary["job_pod_failures_ignored"] = int((~pf["counted"]).sum())
            summary["job_failed_indexes"] = int(frames["job_policies"]["failed_indexes_count"].sum())
        return Contribution(frames=frames, summary=summary, provenance={"job_syncs": self.queue.syncs})

    @staticmethod
    def _has_policy(j: JobObj) -> bool:
        s = j.spec
        return s.pod_failure_policy is not None or s.backoff_limit_per_index is not None or s.success_policy is not None

    def policy_frame(self) -> pd.DataFrame:
        """One row per Job with a failure or success policy: its indexes and policy
        outcome (see docs/jobs.md)."""
        rows = []
        for j in self.jobs:
            if not self._has_policy(j):
                continue
            s = j.spec
            rows.append({
                "job": j.display, "pod_replacement_policy": s.pod_replacement_policy,
                "backoff_limit_per_index": -1 if s.backoff_limit_per_index is None else s.backoff_limit_per_index,
                "max_failed_indexes": -1 if s.max_failed_indexes is None else s.max_failed_indexes,
                "succeeded_indexes": format_indexes(j.succeeded_indexes) if j.indexed else "",
                "failed_indexes": format_indexes(j.failed_indexes),
                "failed_indexes_count": len(j.failed_indexes), "failed": j.failed, "ignored": j.ignored,
                "status": j.status, "reason": j.reason, "message": j.fail_message or "",
            })
        cols = ["job", "pod_replacement_policy", "backoff_limit_per_index", "max_failed_indexes", "succeeded_indexes",
                "failed_indexes", "failed_indexes_count", "failed", "ignored", "status", "reason", "message"]
        f = pd.DataFrame(rows, columns=cols)
        for c in ("job", "pod_replacement_policy", "succeeded_indexes", "failed_indexes", "status", "reason", "message"):
            f[c] = f[c].astype("string")
        for c in ("backoff_limit_per_index", "max_failed_indexes", "failed_indexes_count", "failed", "ignored"):
            f[c] = f[c].astype("int64")
        return f

    def pod_failures_frame(self) -> pd.DataFrame:
        """One row per failed pod of a Job with a failure policy or per-index limit: what
        the pod failure policy matched (see docs/jobs.md)."""
        cols = ["time", "job", "pod", "index", "reason", "exit_code", "disruption_target", "action", "counted",
                "index_failed"]
        f = pd.DataFrame([r for j in self.jobs for r in j.policy_rows], columns=cols)
        for c in ("job", "pod", "reason", "action"):
            f[c] = f[c].astype("string")
        f["time"] = f["time"].astype("float64")
        for c in ("index", "exit_code"):
            f[c] = f[c].astype("int64")
        for c in ("disruption_target", "counted", "index_failed"):
            f[c] = f[c].astype("bool")
        return f


def format_indexes(indexes: set[int]) -> str:
    """Indexes as upstream writes ``status.completedIndexes`` (``orderedIntervals.String``:
    ``"0,2-4,7"``; two neighbours are written ``"5,6"``)."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(indexes):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(str(run[0]) if len(run) == 1 else f"{run[0]}{',' if len(run) == 2 else '-'}{run[-1]}")
        run = [i]
    if run:
        out.append(str(run[0]) if len(run) == 1 else f"{run[0]}{',' if len(run) == 2 else '-'}{run[-1]}")
    return ",".join(out)
