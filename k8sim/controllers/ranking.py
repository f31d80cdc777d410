"""Helpers shared by the controllers, each following the upstream function it names.

- :func:`deletion_order`: which pods a ReplicaSet deletes first when it scales down
  (``pkg/controller/controller_utils.go``: ``ActivePodsWithRanks.Less``, with the
  ranks of ``pkg/controller/replicaset/replica_set.go``:
  ``getPodsRankedByRelatedPodsOnSameNode``).
- :func:`scaled_value` and :func:`resolve_fenceposts`: ``maxSurge`` /
  ``maxUnavailable`` as numbers of pods (``k8s.io/apimachinery/pkg/util/intstr``:
  ``GetScaledValueFromIntOrPercent``; ``pkg/controller/deployment/util/
  deployment_util.go``: ``ResolveFenceposts``).
- :func:`slow_start_batches`: the batch sizes of ``slowStartBatch``
  (``replica_set.go``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from k8sim.cluster.pods import BOUND, PENDING, RUNNING

if TYPE_CHECKING:
    from k8sim.cluster.pods import PodTable

#: ``burstReplicas`` of the ReplicaSet controller (kube-controller-manager's default,
#: ``replicaset.BurstReplicas = 500``): at most this many creations or deletions per sync.
BURST_REPLICAS = 500
#: ``controller.SlowStartInitialBatchSize``.
SLOW_START_INITIAL_BATCH = 1

# podPhaseToOrdinal: Pending 0, Unknown 1, Running 2. A bound pod whose containers are
# being created is still in phase Pending upstream (k8sim's ContainerCreating).
_PHASE_ORDINAL = {PENDING: 0, BOUND: 0, RUNNING: 2}


def pod_uid(pod: int) -> int:
    """A stand-in for a pod's UID in tie-breaks: upstream compares random UIDs (a
    pseudorandom order); k8sim uses a fixed scramble of the pod row (Knuth's
    multiplicative hash), so ties fall the same way in every run."""
    return (pod * 2654435761) & 0xFFFFFFFF


def _log_rank(t: float, now: float) -> int:
    # logarithmicRankDiff: int64(math.Log2(float64(now - t))) over nanoseconds, -1 if <= 0.
    d = (now - t) * 1e9
    return int(math.log2(d)) if d > 0 else -1


def slow_start_batches(count: int, initial: int = SLOW_START_INITIAL_BATCH) -> list[int]:
    """Batch sizes ``slowStartBatch`` uses for ``count`` calls: 1, 2, 4, ... capped by
    what remains (it stops after a batch with an error: the callers stop when a creation
    is refused by admission)."""
    out = []
    remaining, size = count, min(count, initial)
    while size > 0:
        out.append(size)
        remaining -= size
        size = min(2 * size, remaining)
    return out


def scaled_value(value: int | str, total: int, round_up: bool) -> int:
    """``GetScaledValueFromIntOrPercent``: an int as is; ``"N%"`` of ``total``, rounded up
    (ceil) or down (floor)."""
    if isinstance(value, int):
        return value
    pct = int(value.rstrip("%"))
    exact = pct * total
    return -(-exact // 100) if round_up else exact // 100


def resolve_fenceposts(max_surge: int | str, max_unavailable: int | str, desired: int) -> tuple[int, int]:
    """``ResolveFenceposts``: surge rounded up, unavailable rounded down; both zero ->
    unavailable 1 (so a rollout can progress)."""
    surge = scaled_value(max_surge, desired, True)
    unavailable = scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def deletion_order(pods: PodTable, candidates: Sequence[int], ranks: Sequence[int], now: float) -> list[int]:
    """``candidates`` sorted so that the pods to delete first come first
    (``ActivePodsWithRanks.Less`` with LogarithmicScaleDown, on by default since 1.22):

    1. unassigned before assigned; 2. Pending (incl. ContainerCreating) before Running;
    3. not ready before ready; 4. (pod-deletion-cost: not modelled, all 0);
    5. higher rank (more related active pods on the same node) first; 6. both ready:
    the more recently ready first, by log2 buckets of the time since Ready (same bucket:
    by UID); 7. more container restarts first; 8. newer first by log2 buckets of age
    (same bucket: by UID). ``ranks[i]`` is the rank of ``candidates[i]``.
    """
    phase, node, ready, restarts, created = pods.phase, pods.node, pods.ready, pods.restarts, pods.created
    rank = dict(zip(candidates, ranks, strict=True))

    def is_ready(p: int) -> bool:
        r = ready[p]
        return phase[p] == RUNNING and r == r and r <= now

    def less(i: int, j: int) -> bool:
        ai, aj = node[i] >= 0, node[j] >= 0
        if ai != aj:
            return not ai
        oi, oj = _PHASE_ORDINAL.get(int(phase[i]), 2), _PHASE_ORDINAL.get(int(phase[j]), 2)
        if oi != oj:
            return oi < oj
        ri, rj = is_ready(i), is_ready(j)
        if ri != rj:
            return not ri
        if rank[i] != rank[j]:
            return rank[i] > rank[j]
        if ri and rj and ready[i] != ready[j]:
            diff = _log_rank(ready[i], now) - _log_rank(ready[j], now)
            if diff == 0:
                return pod_uid(i) < pod_uid(j)
            return diff < 0
        if restarts[i] != restarts[j]:
            return bool(restarts[i] > restarts[j])
        if created[i] != created[j]:
            diff = _log_rank(created[i], now) - _log_rank(created[j], now)
            if diff == 0:
                return pod_uid(i) < pod_uid(j)
            return diff < 0
        return False

    def cmp(i: int, j: int) -> int:
        if less(i, j):
            return -1
        if less(j, i):
            return 1
        return 0

    return sorted(candidates, key=functools.cmp_to_key(cmp))
