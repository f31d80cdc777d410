"""The CronJob controller (upstream ``pkg/controller/cronjob/cronjob_controllerv2.go``
and ``utils.go``).

Virtual time 0 is the wall-clock instant ``controllers.cronjob.start_time`` (default
the Unix epoch, UTC), so a schedule is evaluated in its ``timeZone`` (default UTC, the
time zone of a kube-controller-manager run in a container) with ``croniter``. A sync
(``syncCronJob``), at each schedule time and whenever one of its Jobs finishes:

1. forgets finished Jobs from its active list and deletes the oldest finished Jobs
   beyond ``successfulJobsHistoryLimit`` (3) / ``failedJobsHistoryLimit`` (1)
   (``cleanupFinishedJobs``);
2. with ``suspend``, stops there;
3. takes the most recent schedule time not yet run, after the last scheduled time (or
   the CronJob's creation) and not after now (``mostRecentScheduleTime``; with
   ``startingDeadlineSeconds``, not before now minus the deadline);
4. if that time is more than ``startingDeadlineSeconds`` ago, skips it (event
   ``MissSchedule``);
5. ``Forbid`` with a Job still active: skips it for now (event ``JobAlreadyActive``)
   without recording it as run, so when the active Job finishes the controller runs
   the most recent missed time at once (if still within the deadline), as upstream
   does; ``Replace``: deletes the active Jobs (event ``SuccessfulDelete``) and goes on;
   ``Allow``: goes on;
6. creates the Job ``<cronjob>-<scheduled time in minutes since the epoch>``
   (``getJobName``) and records the time as ``lastScheduleTime``;
7. re-queues itself for the next schedule time (``nextScheduleTimeDuration``).

The ``cronjobs`` frame has one row per schedule time handled: created, skipped
(Forbid), missed (deadline), replaced Jobs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pandas as pd

from k8sim.component import Contribution

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.controllers import CronJobTiming
    from k8sim.controllers.job import JobController
    from k8sim.controllers.store import PodMaker
    from k8sim.workloads.batch_manifests import CronJobSpec


@dataclass
class CronJobObj:
    row: int
    name: str
    namespace: str
    spec: CronJobSpec
    maker: PodMaker
    workload: int
    created: float
    last_schedule: float | None = None  # status.lastScheduleTime (virtual seconds)
    active: list[int] = field(default_factory=list)  # Job rows
    jobs: list[int] = field(default_factory=list)  # every Job it created
    timer_at: float = math.nan

    @property
    def display(self) -> str:
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"


class CronJobController:
    """Every CronJob of the run (see the module docstring)."""

    name = "cronjob-controller"

    def __init__(self, ctx: Context, jobs: JobController, timing: CronJobTiming):
        self.ctx = ctx
        self.env = ctx.env
        self.jobs = jobs
        self.origin = datetime.fromisoformat(timing.start_time)
        self.cronjobs: list[CronJobObj] = []
        self.by_key: dict[str, int] = {}
        self.record: list[tuple[float, str, float, str, str]] = []  # time, cronjob, scheduled, action, job
        from k8sim.controllers.queue import WorkQueue
        from k8sim.controllers.replicaset import latency_sampler

        self.queue = WorkQueue(ctx.env, self.sync, latency_sampler(
            ctx, timing, self.name, lambda row: f"{self.cronjobs[row].namespace}/{self.cronjobs[row].name}"))
        self._owner: dict[int, int] = {}  # Job row -> CronJob row
        self._listening = False

    def start(self) -> None:
        """Nothing to start: syncs follow schedule times and Job completions."""

    def create(self, name: str, namespace: str, spec: CronJobSpec, maker: PodMaker, workload: int) -> int:
        if not self._listening:
            self._listening = True
            self.jobs.finish_listeners.append(self._job_finished)
        c = CronJobObj(row=len(self.cronjobs), name=name, namespace=namespace, spec=spec, maker=maker,
                       workload=workload, created=self.env.now)
        self.cronjobs.append(c)
        self.by_key[f"{namespace}/{name}"] = c.row
        self.jobs.store.register("CronJob", None, name, namespace, workload=workload)
        self.queue.add(c.row)
        return c.row

    def set_suspend(self, key: str, suspend: bool) -> None:
        from dataclasses import replace

        c = self.cronjobs[self.by_key[key]]
        c.spec = replace(c.spec, suspend=suspend)
        self.queue.add(c.row)

    # -- time -----------------------------------------------------------------------------

    def _tz(self, c: CronJobObj) -> Any:
        return ZoneInfo(c.spec.time_zone) if c.spec.time_zone else UTC

    def wall(self, t: float, c: CronJobObj) -> datetime:
        """Virtual time ``t`` as a wall-clock time in the CronJob's time zone."""
        return (self.origin + timedelta(seconds=t)).astimezone(self._tz(c))

    def virtual(self, dt: datetime) -> float:
        return (dt - self.origin).total_seconds()

    def next_after(self, c: CronJobObj, t: float) -> float:
        """The first schedule time strictly after virtual time ``t``."""
        from croniter import croniter

        return self.virtual(croniter(c.spec.schedule, self.wall(t, c)).get_next(datetime))

    def most_recent(self, c: CronJobObj, earliest: float, now: float) -> float | None:
        """``mostRecentScheduleTime``: the latest schedule time in (earliest, now], or None."""
        from croniter import croniter

        # get_prev is strictly before its start: start just after now.
        t = self.virtual(croniter(c.spec.schedule, self.wall(now, c) + timedelta(microseconds=1)).get_prev(datetime))
        t = round(t, 6)
        return t if earliest < t <= now else None

    # -- sync -----------------------------------------------------------------------------

    def _job_finished(self, job_row: int) -> None:
        c = self._owner.get(job_row)
        if c is not None:
            self.queue.add(c)

    def _event(self, c: CronJobObj, scheduled: float, action: str, job: str = "") -> None:
        self.record.append((self.env.now, c.display, scheduled, action, job))

    def sync(self, row: int) -> None:
        c = self.cronjobs[row]
        now = self.env.now
        jobs = self.jobs.jobs
        c.active = [j for j in c.active if jobs[j].finished is None]
        self._cleanup(c)
        if c.spec.suspend:
            return
        earliest = c.last_schedule if c.last_schedule is not None else c.created
        deadline = c.spec.starting_deadline_s
        if deadline is not None:
            earliest = max(earliest, now - deadline - 1e-9)
        scheduled = self.most_recent(c, earliest, now)
        if scheduled is not None:
            self._run(c, scheduled, now)
        self._requeue(c, now)

    def _run(self, c: CronJobObj, scheduled: float, now: float) -> None:
        api = self.ctx.api
        deadline = c.spec.starting_deadline_s
        if deadline is not None and scheduled + deadline < now:
            api.record("MissSchedule", detail=f"CronJob {c.display}: missed scheduled time {scheduled:g}")
            self._event(c, scheduled, "missed")
            return
        if c.spec.concurrency_policy == "Forbid" and c.active:
            api.record("JobAlreadyActive", detail=f"CronJob {c.display}: not starting a Job (Forbid) while "
                                                  f"{self.jobs.jobs[c.active[0]].display} runs")
            self._event(c, scheduled, "skipped")
            return
        if c.spec.concurrency_policy == "Replace":
            for j in c.active:
                api.record("SuccessfulDelete", detail=f"CronJob {c.display}: deleted Job {self.jobs.jobs[j].display}")
                self._event(c, scheduled, "replaced", self.jobs.jobs[j].display)
                self.jobs.delete(j, "JobReplaced")
            c.active = []
        minutes = int(math.floor(self.wall(scheduled, c).timestamp() / 60))
        name = f"{c.name}-{minutes}"
        if f"{c.namespace}/{name}" in self.jobs.by_key:  # already run (getJobName is unique per time)
            c.last_schedule = scheduled
            return
        assert c.spec.job is not None
        j = self.jobs.create(name, c.namespace, c.spec.job, c.maker, c.workload, cronjob=c.display,
                             scheduled=scheduled)
        self._owner[j] = c.row
        c.active.append(j)
        c.jobs.append(j)
        c.last_schedule = scheduled
        self._event(c, scheduled, "created", self.jobs.jobs[j].display)

    def _requeue(self, c: CronJobObj, now: float) -> None:
        nxt = self.next_after(c, now)
        if nxt == c.timer_at:
            return
        c.timer_at = nxt

        def due(_e: object, row: int = c.row, at: float = nxt) -> None:
            if self.cronjobs[row].timer_at == at:
                self.cronjobs[row].timer_at = math.nan
            self.queue.add(row)

        self.env.timeout(max(0.0, nxt - now)).callbacks.append(due)

    def _cleanup(self, c: CronJobObj) -> None:
        """``cleanupFinishedJobs``: keep the newest finished Jobs within the limits."""
        jobs = self.jobs.jobs
        for status, limit in (("Complete", c.spec.successful_history), ("Failed", c.spec.failed_history)):
            done = [j for j in c.jobs if jobs[j].status == status and math.isnan(jobs[j].deleted_at)]
            done.sort(key=lambda j: (jobs[j].start if jobs[j].start is not None else jobs[j].created, j))
            for j in done[: max(0, len(done) - limit)]:
                self.jobs.delete(j, "HistoryLimit")
                self.ctx.api.record("SuccessfulDelete", detail=f"CronJob {c.display}: deleted finished Job "
                                                               f"{jobs[j].display} (history limit)")

    def contribute(self) -> Contribution:
        if not self.cronjobs:
            return Contribution()
        f = pd.DataFrame(self.record, columns=["time", "cronjob", "scheduled", "action", "job"])
        for col in ("cronjob", "action", "job"):
            f[col] = f[col].astype("string")
        summary = {"cronjob_runs": int((f["action"] == "created").sum()),
                   "cronjob_skipped": int((f["action"] == "skipped").sum()),
                   "cronjob_missed": int((f["action"] == "missed").sum())}
        return Contribution(frames={"cronjobs": f}, summary=summary)
