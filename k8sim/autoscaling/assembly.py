"""The node autoscalers of a run: their node pools at t = 0 and their components.

Called by :class:`k8sim.sim.simulation.Simulation`: :func:`add_initial_nodes` right
after the scenario's own nodes (each Cluster Autoscaler node group, then each
Karpenter NodePool, becomes a node pool of the node table, with the pool codes after
the cluster's pools and trace node lists; a group's ``initial_size`` nodes, default
``min_size``, join at t = 0), and :func:`components` once the scheduler's profiles
exist. A scenario without node autoscalers gets neither.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from k8sim.autoscaling.cluster_autoscaler import (
    ClusterAutoscalerComponent,
    GroupSpec,
    add_group_nodes,
    group_specs,
)
from k8sim.autoscaling.ledger import NodeLedger

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.scheduling.framework import Profile

__all__ = ["NodeAutoscaling", "add_initial_nodes", "components"]


@dataclass
class NodeAutoscaling:
    """What the node autoscalers share: the cost ledger and their groups."""

    ledger: NodeLedger
    ca_groups: list[GroupSpec] = field(default_factory=list)
    karpenter: Any = None  # k8sim.autoscaling.karpenter.Pools


def add_initial_nodes(ctx: Context) -> NodeAutoscaling | None:
    """Register the autoscaled node pools and add their nodes at t = 0."""
    a = ctx.scenario.autoscaling
    if a is None or (a.cluster_autoscaler is None and a.karpenter is None):
        return None
    setup = NodeAutoscaling(NodeLedger(ctx))
    nt = ctx.state.nodes
    if a.cluster_autoscaler is not None:
        setup.ca_groups = group_specs(a.cluster_autoscaler, ctx.state, len(nt.pool_names))
        nt.pool_names.extend(g.name for g in setup.ca_groups)
        for g in setup.ca_groups:
            if g.initial:
                g.next_number = 0
                add_group_nodes(ctx, g, g.initial, setup.ledger)
    if a.karpenter is not None:
        from k8sim.autoscaling.karpenter import Pools

        setup.karpenter = Pools(ctx, a.karpenter, len(nt.pool_names))
        nt.pool_names.extend(p.name for p in a.karpenter.node_pools)
    return setup


def components(ctx: Context, setup: NodeAutoscaling, profiles: dict[str, Profile]) -> list[Any]:
    """The node autoscalers' components, then the cost ledger (a component too)."""
    a = ctx.scenario.autoscaling
    assert a is not None
    out: list[Any] = []
    if a.cluster_autoscaler is not None:
        out.append(ClusterAutoscalerComponent(ctx, a.cluster_autoscaler, setup.ca_groups, profiles, setup.ledger))
    if a.karpenter is not None:
        from k8sim.autoscaling.karpenter import KarpenterComponent

        out.append(KarpenterComponent(ctx, a.karpenter, setup.karpenter, profiles, setup.ledger))
    out.append(setup.ledger)
    return out
