"""One Cluster Autoscaler scale-up decision as a pure function.

Mirrors kubernetes/autoscaler ``cluster-autoscaler/core/scaleup/orchestrator/
orchestrator.go`` (``ScaleUp``): node groups at their maximum size (or in back-off) are
skipped (``filterValidScaleUpNodeGroups``); for each other group the pending pod groups
whose exemplar fits the group's template node are kept (``SchedulablePodGroups``) and
binpacked on template nodes (``ComputeExpansionOption``), the estimate limited to the
group's remaining capacity and the cluster's ``--max-nodes-total``
(``sng_capacity_threshold.go``, ``cluster_capacity_threshold.go``); groups where no pod
fits give no option; the expander chain picks one option, and its node count is capped
by ``GetCappedNewNodeCount`` and the group's maximum size. Balancing across similar
node groups (``--balance-similar-node-groups``, off by default) is not modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from k8sim.autoscaling.binpacking import EstimatedNode, estimate, fits_resources
from k8sim.autoscaling.expanders import ExpansionOption, choose, linear_pod_price

__all__ = ["GroupState", "ScaleUpPlan", "plan_scale_up"]


@dataclass(frozen=True)
class GroupState:
    """A node group at this scan: its target size (nodes existing or being created),
    limits, template node (``allocatable`` aligned with the pods' request tuples; the
    first two entries are CPU and memory) and price."""

    name: str
    target_size: int
    max_size: int
    allocatable: tuple[int, ...]
    price_per_hour: float = 0.0
    exists: bool = True
    has_gpu: bool = False
    backoff: bool = False


@dataclass(frozen=True)
class ScaleUpPlan:
    """The decision: grow ``group`` by ``new_nodes`` (``None``/0: no scale-up), the pods
    the new nodes are for, every option considered, the groups skipped and why, and the
    pending pod groups that fit no considered group's template (to be reported once)."""

    group: str | None
    new_nodes: int
    pods: tuple[Any, ...]
    options: tuple[ExpansionOption, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)
    unschedulable: tuple[Sequence[Any], ...] = ()


def plan_scale_up(pod_groups: Sequence[Sequence[Any]], groups: Sequence[GroupState], *,
                  requests_of: Callable[[Any], Sequence[int]], expanders: Sequence[str],
                  rng: np.random.Generator, current_node_count: int, max_nodes_total: int = 0,
                  fits_for: Callable[[GroupState], Callable[[Any, EstimatedNode], bool]] | None = None,
                  priorities: Mapping[int, Sequence[str]] | None = None,
                  pod_price: Callable[[int, int], float] = linear_pod_price) -> ScaleUpPlan:
    """Decide one scale-up for the pending ``pod_groups`` (equivalence groups).

    ``fits_for(group)`` returns the filter for that group's template nodes (default:
    requests against allocatable). ``rng`` draws the ``random`` expander's choice."""
    skipped: dict[str, str] = {}
    options: list[ExpansionOption] = []
    scheduled: dict[str, tuple[Any, ...]] = {}
    fitting_somewhere: set[int] = set()
    for g in groups:
        if g.backoff:
            skipped[g.name] = "in backoff after a failed scale-up"
            continue
        if g.target_size >= g.max_size:
            skipped[g.name] = "max size reached"
            continue
        check = fits_for(g) if fits_for is not None else (lambda pod, node: fits_resources(requests_of(pod), node))
        schedulable = []
        for i, pg in enumerate(pod_groups):
            if pg and check(pg[0], EstimatedNode(g.allocatable)):
                schedulable.append(pg)
                fitting_somewhere.add(i)
        if not schedulable:
            continue
        limit = g.max_size - g.target_size
        if max_nodes_total:
            limit = min(limit, max(max_nodes_total - current_node_count, 0))
        if limit <= 0:
            skipped[g.name] = "max node total count reached"
            continue
        est = estimate(schedulable, g.allocatable, requests_of=requests_of, fits=check, max_nodes=limit)
        if est.node_count == 0 or not est.scheduled:
            continue
        reqs = tuple((int(requests_of(p)[0]), int(requests_of(p)[1])) for p in est.scheduled)
        scheduled[g.name] = est.scheduled
        options.append(ExpansionOption(g.name, est.node_count, reqs, g.allocatable[0], g.allocatable[1],
                                       g.price_per_hour, g.exists, g.has_gpu))
    unschedulable = tuple(pg for i, pg in enumerate(pod_groups) if i not in fitting_somewhere)
    best = choose(options, expanders, rng, priorities=priorities, cluster_size=current_node_count,
                  pod_price=pod_price) if options else None
    if best is None:
        return ScaleUpPlan(None, 0, (), tuple(options), skipped, unschedulable)
    group = next(g for g in groups if g.name == best.group_id)
    new_nodes = best.node_count
    if max_nodes_total:
        new_nodes = min(new_nodes, max_nodes_total - current_node_count)
    new_nodes = min(new_nodes, group.max_size - group.target_size)
    return ScaleUpPlan(best.group_id, new_nodes, scheduled[best.group_id], tuple(options), skipped, unschedulable)

