"""Quota of ClusterQueues and cohorts: how much a queue may still admit.

Follows Kueue's ``pkg/cache/scheduler/resource_node.go`` for a cohort of ClusterQueues
(one level: k8sim does not model hierarchical cohorts). Amounts are integers per
*flavor-resource* (``(flavor, resource)``, Kueue's ``FlavorResource``), in k8sim's base
units (milli-CPU, bytes, milli-GPU, counts):

- a ClusterQueue's ``localQuota`` is what it keeps for itself:
  ``max(0, nominal - lendingLimit)`` when it has a lending limit, else 0
  (``resourceNode.localQuota``);
- a cohort's ``SubtreeQuota`` is the sum of its queues' ``nominal - localQuota`` and
  its ``Usage`` the sum of their usage beyond their local quota
  (``updateCohortResourceNode`` / ``accumulateFromChild``);
- a queue may still use ``available = max(0, localQuota - usage) + parentAvailable``,
  where ``parentAvailable = cohort.SubtreeQuota - cohort.Usage``, limited by the
  borrowing limit to ``(nominal - localQuota) - max(0, usage - localQuota) +
  borrowingLimit`` (``available``); a queue without a cohort has ``nominal - usage``.
- it *borrows* a resource when its usage exceeds its nominal quota.

``potential_available`` is ``potentialAvailable``: what the queue could use with no
usage anywhere (the test of whether a workload can ever fit).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: A borrowing limit that is absent (no limit).
UNLIMITED = 1 << 62

FR = tuple[str, str]  # (flavor, resource)


@dataclass
class QueueQuota:
    """One ClusterQueue's quota and usage per flavor-resource."""

    name: str
    nominal: dict[FR, int] = field(default_factory=dict)
    borrowing_limit: dict[FR, int] = field(default_factory=dict)  # absent: unlimited
    lending_limit: dict[FR, int] = field(default_factory=dict)  # absent: lends everything
    usage: dict[FR, int] = field(default_factory=dict)
    cohort: CohortQuota | None = None

    def local_quota(self, fr: FR) -> int:
        ll = self.lending_limit.get(fr)
        return 0 if ll is None else max(0, self.nominal.get(fr, 0) - ll)

    def available(self, fr: FR) -> int:
        """What the queue may still use of ``fr`` (may be negative after over-admission)."""
        nominal, used = self.nominal.get(fr, 0), self.usage.get(fr, 0)
        if self.cohort is None:
            return nominal - used
        lq = self.local_quota(fr)
        parent = self.cohort.subtree(fr) - self.cohort.used(fr)
        bl = self.borrowing_limit.get(fr)
        if bl is not None:
            parent = min(nominal - lq - max(0, used - lq) + bl, parent)
        return max(0, lq - used) + parent

    def potential_available(self, fr: FR) -> int:
        nominal = self.nominal.get(fr, 0)
        if self.cohort is None:
            return nominal
        avail = self.local_quota(fr) + self.cohort.subtree(fr)
        bl = self.borrowing_limit.get(fr)
        if bl is not None:
            avail = min(nominal + bl, avail)
        return avail

    def borrowed(self, fr: FR) -> int:
        """Usage beyond the nominal quota (0 when within it)."""
        return max(0, self.usage.get(fr, 0) - self.nominal.get(fr, 0))

    def borrowing(self) -> bool:
        return any(self.usage.get(fr, 0) > self.nominal.get(fr, 0) for fr in self.usage)

    def add(self, amounts: dict[FR, int], sign: int = 1) -> None:
        for fr, v in amounts.items():
            self.usage[fr] = self.usage.get(fr, 0) + sign * v


@dataclass
class CohortQuota:
    """A cohort: its queues lend to each other what they do not keep."""

    name: str
    queues: list[QueueQuota] = field(default_factory=list)

    def subtree(self, fr: FR) -> int:
        return sum(q.nominal.get(fr, 0) - q.local_quota(fr) for q in self.queues)

    def used(self, fr: FR) -> int:
        return sum(max(0, q.usage.get(fr, 0) - q.local_quota(fr)) for q in self.queues)

    def lendable(self, resource: str) -> int:
        """Kueue's ``calculateLendable`` for a flat cohort: the cohort's quota of
        ``resource`` over all flavors."""
        frs = {fr for q in self.queues for fr in q.nominal if fr[1] == resource}
        return sum(self.subtree(fr) for fr in frs)


def dominant_resource_share(q: QueueQuota, weight: float, extra: dict[FR, int] | None = None) -> float:
    """Kueue's ``dominantResourceShare`` (``pkg/cache/scheduler/fair_sharing.go``) of a
    queue with ``extra`` usage added: per resource, the usage above nominal summed over
    flavors, x 1000 / the cohort's lendable amount of that resource; the largest, divided
    by the fair-sharing weight (0 when the queue does not borrow; infinite for a
    borrowing queue of weight 0)."""
    if q.cohort is None:
        return 0.0
    borrowed: dict[str, int] = {}
    frs = set(q.nominal) | set(extra or {})
    for fr in frs:
        b = q.usage.get(fr, 0) + (extra or {}).get(fr, 0) - q.nominal.get(fr, 0)
        if b > 0:
            borrowed[fr[1]] = borrowed.get(fr[1], 0) + b
    if not borrowed:
        return 0.0
    ratio = 0.0
    for r, b in borrowed.items():
        lend = q.cohort.lendable(r)
        if lend > 0:
            ratio = max(ratio, b * 1000.0 / lend)
    if weight == 0:
        return float("inf")
    return ratio / weight
