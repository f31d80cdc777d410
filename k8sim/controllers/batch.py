"""Assembling the Job, CronJob and disruption controllers of a run and applying their
manifests.

:func:`build` makes the three components (:mod:`k8sim.controllers.job`,
:mod:`k8sim.controllers.cronjob`, :mod:`k8sim.controllers.disruption`); :func:`apply` hands a ``batch/v1`` manifest object to
its controller (``kubectl apply``: a new object is created; an existing Job or CronJob
takes the new ``suspend`` and, for a Job, ``parallelism``; its pod template is immutable
upstream, so a changed template is reported and ignored).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from k8sim.controllers.cronjob import CronJobController
from k8sim.controllers.disruption import DisruptionController
from k8sim.controllers.job import JobController
from k8sim.controllers.store import PodMaker

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.controllers.store import AppStore, Sampling
    from k8sim.workloads.manifests import AppObject


def build(ctx: Context, store: AppStore) -> tuple[JobController, CronJobController, DisruptionController]:
    settings = ctx.scenario.controllers
    jobs = JobController(ctx, store, settings.job)
    return jobs, CronJobController(ctx, jobs, settings.cronjob), DisruptionController(ctx, store)


def _maker(store: AppStore, obj: AppObject, sampling: Sampling) -> PodMaker:
    maker = PodMaker(store, obj.template, (obj.kind.lower(), obj.namespace, obj.name), sampling,
                     obj.preemption_policy)
    # The kubelet runs a Job's pods with their own restartPolicy (Never: a crash fails the pod).
    maker.info.restart_policy = obj.template.restart_policy
    return maker


def apply(controllers: Any, obj: AppObject, workload: int, sampling: Sampling) -> None:
    """Create or update the Job, CronJob or PodDisruptionBudget ``obj`` now (see the
    module docstring)."""
    jobs: JobController = controllers.jobs
    cronjobs: CronJobController = controllers.cronjobs
    store = jobs.store
    if obj.kind == "PodDisruptionBudget":
        controllers.disruption.apply(obj)
    elif obj.kind == "Job":
        row = jobs.by_key.get(obj.key)
        if row is not None:
            j = jobs.jobs[row]
            if j.spec.queue_name is not None:
                # A queued Job: Kueue owns suspend, and its admitted pod count is fixed
                # (k8sim.batch.kueue_jobs).
                if obj.batch.parallelism != j.spec.parallelism:
                    store.ctx.warnings.append(f"{obj.where}: Job {obj.key}: the parallelism of a queued Job is "
                                              "not changed (its workload's pod count is fixed); the change is "
                                              "ignored")
                j.spec = replace(j.spec, active_deadline_s=obj.batch.active_deadline_s)
            else:
                j.spec = replace(j.spec, parallelism=obj.batch.parallelism, suspend=obj.batch.suspend,
                                 active_deadline_s=obj.batch.active_deadline_s)
            if obj.template != j.maker.template:
                store.ctx.warnings.append(f"{obj.where}: Job {obj.key}: the pod template of a Job is immutable; "
                                          "the change is ignored")
            jobs.queue.add(row)
            return
        if obj.batch.queue_name is not None:
            _queued(controllers).submit(obj, workload, sampling, _maker(store, obj, sampling))
            return
        jobs.create(obj.name, obj.namespace, obj.batch, _maker(store, obj, sampling), workload)
    else:
        row = cronjobs.by_key.get(obj.key)
        if row is not None:
            c = cronjobs.cronjobs[row]
            c.spec = replace(obj.batch)
            if obj.template != c.maker.template:
                c.maker = _maker(store, obj, sampling)
            cronjobs.queue.add(row)
            return
        cronjobs.create(obj.name, obj.namespace, obj.batch, _maker(store, obj, sampling), workload)


def _queued(controllers: Any) -> Any:
    """The run's queued Jobs (:class:`k8sim.batch.kueue_jobs.QueuedJobs`), made at the
    first one (the loader has checked that the run has queues)."""
    if controllers.queued is None:
        from k8sim.batch.kueue_jobs import QueuedJobs

        controllers.queued = QueuedJobs(controllers.store.ctx.components["kueue"], controllers.jobs)
    return controllers.queued
