"""The ``controllers`` section and the manifest workload entry.

Controllers (ReplicaSet, Deployment, StatefulSet, DaemonSet) run when the scenario has
workloads read from Kubernetes manifests (``workloads: [{manifest: app.yaml}]``) or a
SimKube trace replayed through them. Each controller reconciles an object a *reaction
latency* after a watch event concerning it (see :class:`ControllerSettings`).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from k8sim.config.base import Strict
from k8sim.config.distributions import Distribution

__all__ = ["ControllerSettings", "ControllerTiming", "CronJobTiming", "JobTiming"]


def _zero() -> dict:
    return {"kind": "constant", "value": 0.0}


class ControllerTiming(Strict):
    """How one controller reacts.

    Upstream controllers put the object's key on a work queue from their informers'
    event handlers and a worker syncs it at once (``pkg/controller/replicaset/
    replica_set.go``: ``addPod``/``updatePod``/``deletePod`` -> ``enqueueRS``;
    ``processNextWorkItem``): there is no designed-in delay, only watch propagation and
    queue processing (milliseconds). The default is therefore 0 s; keys are still
    de-duplicated as upstream's queue does (every event of one instant leads to one
    sync, after all of them). Set a distribution to model a slow control plane; it is
    drawn per sync from a stream keyed by the controller and the object, so two
    policies run on one seed see the same latencies for the same object.
    """

    reaction_latency: Distribution = Field(default_factory=_zero)  # type: ignore[assignment]


class JobTiming(ControllerTiming):
    """The Job controller: its reaction latency and the pod re-creation back-off after
    failures (``DefaultJobPodFailureBackOff`` 10 s, doubled per consecutive failure up to
    ``MaxJobPodFailureBackOff``, 10 minutes in ``pkg/controller/job/job_controller.go``
    since the back-off moved to ``backoff_utils.go``; the documentation's "capped at six
    minutes" is the 360 s ``MaxJobBackOff`` of earlier releases: set 360 for that)."""

    pod_failure_backoff_s: float = Field(default=10.0, gt=0, le=86400)
    max_pod_failure_backoff_s: float = Field(default=600.0, gt=0, le=86400)


class CronJobTiming(ControllerTiming):
    """The CronJob controller. Schedules are wall-clock: virtual time 0 is
    ``start_time`` (an ISO 8601 date-time with a UTC offset; default the Unix epoch),
    so ``"0 * * * *"`` first fires at t = 3600 by default."""

    start_time: str = "1970-01-01T00:00:00+00:00"

    @field_validator("start_time")
    @classmethod
    def _start(cls, v: str) -> str:
        from datetime import datetime

        try:
            t = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"expected an ISO 8601 date-time such as 2026-01-05T08:00:00+00:00, got {v!r}") from None
        if t.tzinfo is None:
            raise ValueError(f"give a UTC offset (e.g. {v}+00:00): a cron schedule needs an absolute time")
        return v


class ControllerSettings(Strict):
    """Per-controller reaction latencies (see :class:`ControllerTiming`)."""

    replicaset: ControllerTiming = ControllerTiming()
    deployment: ControllerTiming = ControllerTiming()
    statefulset: ControllerTiming = ControllerTiming()
    daemonset: ControllerTiming = ControllerTiming()
    job: JobTiming = JobTiming()
    cronjob: CronJobTiming = CronJobTiming()
