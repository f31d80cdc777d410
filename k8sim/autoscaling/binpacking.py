"""The Cluster Autoscaler's binpacking estimate: how many template nodes pending pods need.

Mirrors kubernetes/autoscaler ``cluster-autoscaler/estimator/binpacking_estimator.go``
(``BinpackingNodeEstimator.Estimate``: first-fit over the nodes added so far, then the
last added node, then a new node) with the ordering of ``decreasing_pod_orderer.go``
(pod groups by ``cpu/allocatable + memory/allocatable``, largest first) and the node
limit of ``threshold_based_limiter.go`` (``max_nodes``, 0 = none).

The scheduler's filters are a parameter: ``fits(pod, node) -> bool`` decides whether a
pod fits a simulated node, so k8sim's own filter plugins can be plugged in. The default
:func:`fits_resources` checks requests against the template's allocatable. Upstream's
``sort.Slice`` is not stable; this sort is (equal scores keep their input order).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EstimatedNode", "Estimate", "estimate", "fits_resources", "order_groups"]


@dataclass
class EstimatedNode:
    """A node created by the estimate from the template: its ``allocatable`` (a tuple
    aligned with the pods' request tuples) and the pods placed on it."""

    allocatable: tuple[int, ...]
    pods: list[Any] = field(default_factory=list)
    requested: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.requested:
            self.requested = [0] * len(self.allocatable)

    def add(self, pod: Any, requests: Sequence[int]) -> None:
        self.pods.append(pod)
        for i, r in enumerate(requests):
            self.requested[i] += r


@dataclass(frozen=True)
class Estimate:
    """Nodes needed (those that received a pod) and the pods they would hold, in the
    order they were placed."""

    node_count: int
    scheduled: tuple[Any, ...]


def fits_resources(requests: Sequence[int], node: EstimatedNode) -> bool:
    """Every requested resource fits the node's free allocatable."""
    return all(node.requested[i] + r <= node.allocatable[i] for i, r in enumerate(requests))


def order_groups(groups: Sequence[Sequence[Any]], requests_of: Callable[[Any], Sequence[int]],
                 allocatable: Sequence[int]) -> list[Sequence[Any]]:
    """``DecreasingPodOrderer.Order``: groups by their exemplar's
    ``cpu/alloc_cpu + mem/alloc_mem`` (the first two resources), largest first."""
    def score(group: Sequence[Any]) -> float:
        if not group:
            return 0.0
        r = requests_of(group[0])
        s = 0.0
        for i in (0, 1):
            if i < len(r) and i < len(allocatable) and allocatable[i] > 0:
                s += r[i] / allocatable[i]
        return s
    return sorted(groups, key=score, reverse=True)


def estimate(groups: Sequence[Sequence[Any]], allocatable: Sequence[int], *,
             requests_of: Callable[[Any], Sequence[int]],
             fits: Callable[[Any, EstimatedNode], bool] | None = None, max_nodes: int = 0) -> Estimate:
    """``BinpackingNodeEstimator.Estimate`` for one node group's template.

    ``groups`` are pod equivalence groups (lists of pods); ``requests_of(pod)`` gives a
    pod's requests aligned with ``allocatable``; ``fits(pod, node)`` (default: requests
    against free allocatable) is the filter check. For each group, pods first go to the
    first simulated node they fit; from the first pod that fits none, the rest try the
    last added node, else a new node, unless the last node is still empty (the pod
    would not fit a fresh one either) or ``max_nodes`` nodes were added. A pod that does
    not fit a fresh node ends its group (the node stays, empty, as upstream keeps it)."""
    check = fits if fits is not None else (lambda pod, node: fits_resources(requests_of(pod), node))
    nodes: list[EstimatedNode] = []
    scheduled: list[Any] = []
    alloc = tuple(allocatable)

    def place(pod: Any, node: EstimatedNode) -> None:
        node.add(pod, requests_of(pod))
        scheduled.append(pod)

    for group in order_groups(groups, requests_of, alloc):
        pods = list(group)
        index = 0
        while index < len(pods):
            target = next((n for n in nodes if check(pods[index], n)), None)
            if target is None:
                break
            place(pods[index], target)
            index += 1
        for pod in pods[index:]:
            last = nodes[-1] if nodes else None
            if last is not None and check(pod, last):
                place(pod, last)
                continue
            if last is not None and not last.pods:
                break
            if max_nodes and len(nodes) >= max_nodes:
                break
            fresh = EstimatedNode(alloc)
            nodes.append(fresh)
            if not check(pod, fresh):
                break
            place(pod, fresh)
    return Estimate(sum(1 for n in nodes if n.pods), tuple(scheduled))
