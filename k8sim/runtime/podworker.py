"""When a kubelet pod worker syncs a pod again after a failed sync.

Upstream ``podWorkers.completeWork`` (``pkg/kubelet/pod_workers.go``) requeues a pod whose
sync returned an error after ``wait.Jitter(backOffPeriod, workerBackOffPeriodJitterFactor)``
= ``backOffPeriod * (1 + 0.5 u)``, u uniform in [0, 1) (``backOffPeriod`` 10 s in
``pkg/kubelet/kubelet.go``). A sync fails while an image pull is in back-off
(ImagePullBackOff: ``imageManager.EnsureImageExists`` refuses while
``IsInBackOffSinceUpdate``), for ErrImageNeverPull, and for a container in
CrashLoopBackOff. So retries happen at the first sync at or after the back-off's expiry,
not at the expiry itself (:func:`next_sync`).

Since Kubernetes 1.35 a CrashLoopBackOff sync error carries the back-off's expiry
(``kubecontainer.BackoffError``; ``MinBackoffExpiration``) and the pod is requeued after
``wait.Jitter(min(remaining, syncFrequency), 0.5)`` instead (:func:`restart_sync`).

Both are pure functions of the timing settings and a stream of uniform draws (the pod's
own, so that the draws are common to every policy run on the same seed). The PLEG relist
delay (up to 1 s before an exit is seen) and the sync loop's 1 s tick are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PodWorkerTiming:
    """A node's pod-worker timing (defaults as upstream): ``backoff_period_s``
    (``backOffPeriod``), ``jitter`` (``workerBackOffPeriodJitterFactor``),
    ``requeue_at_expiry`` (CrashLoopBackOff requeued for the back-off's expiry, 1.35+),
    ``sync_frequency_s`` (KubeletConfiguration ``syncFrequency``, the cap of that requeue).
    Period 0: retries exactly at expiry; jitter 0: no randomness."""

    backoff_period_s: float = 10.0
    jitter: float = 0.5
    requeue_at_expiry: bool = True
    sync_frequency_s: float = 60.0


def next_sync(timing: PodWorkerTiming, rng: np.random.Generator | None, t_sync: float, wait: float) -> float:
    """The first sync at least ``wait`` seconds after the failed sync at ``t_sync``, the
    syncs coming every ``backoff_period_s * (1 + jitter * u)``. ``rng`` may be None when
    ``jitter`` is 0."""
    period = timing.backoff_period_s
    if period <= 0:
        return t_sync + wait
    elapsed = 0.0
    if timing.jitter > 0:
        assert rng is not None  # draws are needed with jitter
        while elapsed < wait:
            elapsed += period * (1.0 + timing.jitter * float(rng.random()))
    else:
        while elapsed < wait:
            elapsed += period
    return t_sync + elapsed


def restart_sync(timing: PodWorkerTiming, rng: np.random.Generator | None, finished: float, wait: float) -> float:
    """The sync that restarts a container that exited at ``finished`` with back-off
    ``wait``: with ``requeue_at_expiry`` each failed sync requeues after
    ``min(remaining, sync_frequency_s) * (1 + jitter * u)`` (a back-off of b <= 60 s
    restarts it b * (1 + 0.5 u) after the exit); else :func:`next_sync`."""
    if not timing.requeue_at_expiry:
        return next_sync(timing, rng, finished, wait)
    jitter, cap = timing.jitter, timing.sync_frequency_s
    elapsed = 0.0
    while elapsed < wait:
        d = min(wait - elapsed, cap)
        if jitter > 0:
            assert rng is not None  # draws are needed with jitter
            d *= 1.0 + jitter * float(rng.random())
        elapsed += d
    return finished + elapsed
