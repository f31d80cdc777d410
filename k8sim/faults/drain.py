"""``kubectl drain``: cordon a node, then evict its pods through the Eviction API,
retrying refused evictions every 5 s.

Upstream ``staging/src/k8s.io/kubectl/pkg/drain/drain.go`` (``evictPods``): each pod is
evicted in its own goroutine; an eviction refused with 429 TooManyRequests (a
PodDisruptionBudget without disruptions left) is retried after ``time.Sleep(5 *
time.Second)`` until the pod is gone or ``--timeout`` passes. DaemonSet-owned pods are
left alone with ``--ignore-daemonsets`` (k8sim's default; kubectl refuses to drain
without it). Pods without an owner are evicted only with ``--force`` (k8sim's default:
they are lost); without it the drain is refused (``GetPodsForDeletion``: "cannot delete
Pods that declare no controller"), the node staying cordoned. Evictions go through :meth:`k8sim.cluster.api.ClusterAPI.evict_pod`, so
the eviction checks registered on the API (PodDisruptionBudgets) decide.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.cluster.pods import BOUND, OWNER_KINDS, RUNNING

if TYPE_CHECKING:
    import simpy

    from k8sim.cluster.api import ClusterAPI

#: kubectl drain's wait before retrying a refused eviction (s).
DRAIN_RETRY_S = 5.0
#: Reason of a pod evicted by a drain (upstream DisruptionTarget reason).
EVICTION_BY_API = "EvictionByEvictionAPI"
_DAEMONSET = OWNER_KINDS.index("DaemonSet")


def pods_to_drain(api: ClusterAPI, node: int, ignore_daemonsets: bool = True) -> list[int]:
    """The bound pods of ``node`` a drain evicts, in creation order."""
    pods = api.state.pods
    n = pods.n
    phase = pods.phase[:n]
    mask = (pods.node[:n] == node) & ((phase == BOUND) | (phase == RUNNING))
    if ignore_daemonsets:
        mask &= pods.owner_kind[:n] != _DAEMONSET
    return np.flatnonzero(mask).tolist()


def drain(api: ClusterAPI, node: int, *, timeout_s: float | None = None, grace_s: float | None = None,
          ignore_daemonsets: bool = True, force: bool = True, reason: str = EVICTION_BY_API) -> simpy.Process | None:
    """Cordon ``node`` now and start evicting its pods; returns the drain's process
    (its value is True when every pod was evicted, False on timeout), or None when the
    drain is refused (pods without an owner and not ``force``). Log rows: ``Drained``
    when all evictions went through, ``DrainTimeout`` when it gave up, ``DrainRefused``."""
    if not api.state.nodes.unschedulable[node]:
        api.update_node(node, unschedulable=True)
    if not force:
        pods = api.state.pods
        bare = [p for p in pods_to_drain(api, node, ignore_daemonsets) if pods.owner_kind[p] == 0]
        if bare:
            api.record("DrainRefused", -1, node,
                       f"cannot delete Pods that declare no controller (use force): {', '.join(pods.names[p] for p in bare)}")
            return None
    return api.env.process(_drain(api, node, timeout_s, grace_s, ignore_daemonsets, reason))


def _drain(api: ClusterAPI, node: int, timeout_s: float | None, grace_s: float | None, ignore_daemonsets: bool,
           reason: str) -> Generator[Any, Any, bool]:
    env = api.env
    pods = api.state.pods
    deadline = env.now + (timeout_s if timeout_s is not None else math.inf)
    pending = pods_to_drain(api, node, ignore_daemonsets)
    while True:
        blocked = [p for p in pending
                   if pods.node[p] == node and pods.phase[p] in (BOUND, RUNNING)
                   and not api.evict_pod(p, reason, grace_s)]
        if not blocked:
            api.record("Drained", -1, node, f"{len(pending)} pod(s) evicted")
            return True
        if env.now + DRAIN_RETRY_S > deadline:
            api.record("DrainTimeout", -1, node, f"{len(blocked)} pod(s) could not be evicted")
            return False
        yield env.timeout(DRAIN_RETRY_S)
        pending = blocked
