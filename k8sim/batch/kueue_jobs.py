"""Queued Jobs: ``batch/v1`` Jobs labelled ``kueue.x-k8s.io/queue-name`` run through
Kueue (:mod:`k8sim.batch.kueue`).

Kueue's Job integration (``kubernetes-sigs/kueue`` ``pkg/controller/jobs/job/``,
``pkg/controller/jobframework/``), as k8sim runs it:

- the Job is created **suspended** whatever its ``spec.suspend`` (the webhook's
  ``ApplyDefaultForSuspend``, ``jobframework/defaults.go``), and one workload is
  submitted to its LocalQueue: one pod set of ``min(parallelism, completions)`` pods
  (``podsCount``, ``job_controller.go``) with the pod template's requests, priority the
  value of the WorkloadPriorityClass named by ``kueue.x-k8s.io/priority-class``, else
  the pods' own priority (their PriorityClass, ``pkg/util/priority/priority.go``);
- admitted, the Job is unsuspended with the flavors' ``nodeLabels`` added to its pod
  template's nodeSelector and their ``tolerations`` to its tolerations
  (``RunWithPodSetsInfo``); the Job controller then creates its pods, a reaction
  latency later, and replaces failed ones as usual;
- the quota is held until the Job finishes (Complete, Failed, or deleted);
- evicted (preemption), the Job is suspended (its active pods are deleted by the Job
  controller, reason ``JobSuspended``) and its workload waits again; re-admitted, it
  resumes with what it had already completed (``status.succeeded`` is kept).

Not modelled: ``kueue.x-k8s.io/job-min-parallelism`` (partial admission), changes of a
queued Job's ``parallelism`` by a later manifest (ignored with a warning), queued
CronJobs (refused when the manifest is read).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from k8sim.constants import GPU_MILLI
from k8sim.controllers.store import PodMaker

if TYPE_CHECKING:
    from k8sim.batch.kueue import Kueue, QueuedWorkload
    from k8sim.controllers.job import JobController
    from k8sim.controllers.store import Sampling
    from k8sim.workloads.manifests import AppObject

__all__ = ["QueuedJobs"]


class QueuedJobs:
    """The queued Jobs of a run: their workloads, by Job row."""

    def __init__(self, kueue: Kueue, jobs: JobController):
        self.kueue = kueue
        self.jobs = jobs
        self.of_job: dict[int, QueuedWorkload] = {}
        jobs.finish_listeners.append(self._finished)

    def submit(self, obj: AppObject, workload: int, sampling: Sampling, maker: PodMaker) -> int:
        """Create the Job ``obj`` suspended and queue its workload; returns its row."""
        from k8sim.batch.kueue import GPU_RESOURCE

        kueue, jobs = self.kueue, self.jobs
        js = obj.batch
        row = jobs.create(obj.name, obj.namespace, replace(js, suspend=True), maker, workload)
        lq = kueue.local_queue(obj.namespace, js.queue_name)
        if js.workload_priority_class is not None:
            priority = next(c.value for c in kueue.settings.workload_priority_classes
                            if c.name == js.workload_priority_class)
        else:
            priority = int(obj.template.priority)
        pods = js.parallelism if js.completions is None else min(js.parallelism, js.completions)
        state = kueue.ctx.state
        info = maker.info
        requests: dict[str, int] = {}
        for res, v in zip(state.resources.names, info.requests.tolist(), strict=True):
            if not v:
                continue
            if res in (GPU_RESOURCE, "gpu"):  # an extended-resource GPU count: Kueue counts milli-GPUs
                requests[GPU_RESOURCE] = requests.get(GPU_RESOURCE, 0) + int(v) * GPU_MILLI * pods
            else:
                requests[res] = int(v) * pods
        if info.gpu_count:
            requests[GPU_RESOURCE] = requests.get(GPU_RESOURCE, 0) + int(info.gpu_count) * int(info.gpu_milli) * pods
        makers: dict[tuple[str, ...], PodMaker] = {(): maker}
        key = obj.key

        def start(wl: QueuedWorkload, flavors: tuple[str, ...]) -> list[int]:
            j = jobs.jobs[row]
            if j.finished is not None:  # deleted while it waited: give the quota back
                kueue.env.timeout(0).callbacks.append(lambda _e: kueue.finish(wl))
                return []
            selector, tolerations = dict(obj.template.node_selector), list(obj.template.tolerations)
            for f in flavors:
                spec = kueue.flavors[f]
                selector.update(spec.node_labels)
                tolerations.extend(spec.tolerations)
            wanted = () if (selector == obj.template.node_selector
                            and tolerations == list(obj.template.tolerations)) else flavors
            if wanted not in makers:
                t = obj.template.model_copy(update={"node_selector": selector, "tolerations": tolerations})
                made = PodMaker(maker.store, t, ("job", obj.namespace, obj.name, "flavors", wanted), sampling,
                                obj.preemption_policy)
                made.info.restart_policy = t.restart_policy
                makers[wanted] = made
            j.maker = makers[wanted]
            jobs.set_suspend(key, False)
            return []

        def evict(wl: QueuedWorkload) -> None:
            jobs.set_suspend(key, True)

        name = obj.display
        self.of_job[row] = kueue.submit(name, lq, priority, pods, requests, math.nan, start, evict=evict)
        return row

    def _finished(self, row: int) -> None:
        wl = self.of_job.get(row)
        if wl is not None:
            self.kueue.finish(wl)
