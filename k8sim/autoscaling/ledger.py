"""Node groups and NodePools in the run: node creation, sizes over time, node-hours and cost.

Both node autoscalers (the Cluster Autoscaler and Karpenter-style provisioning) add
nodes of a *group* (a CA node group or a NodePool); each group is a node pool of the
node table (``k8sim.io/pool`` label = its name), and each node it adds carries a price
per hour and a capacity type (``on-demand`` or ``spot``, label
``karpenter.sh/capacity-type``). :class:`NodeLedger` keeps those facts and the group
sizes over time, and turns them into the result's frames:

- ``node_groups``: one row per change of a group's size: ``time_s``, ``autoscaler``,
  ``group``, ``nodes`` (registered and not removed), ``upcoming`` (requested, not yet
  registered);
- ``node_cost``: one row per group and capacity type: ``node_hours`` (time each node
  was present within ``[warmup_s, end]``), ``cost`` (node-hours times the node's price
  per hour; money in the catalogue's currency, USD for the shipped one) and ``nodes``
  (nodes that were present in the window).

Billing is per second of presence from registration to removal (the cloud bills from
launch, a provisioning latency earlier; k8sim counts only registered nodes, so its cost
is a lower bound by the nodes' provisioning time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from k8sim.component import Contribution

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.component import Context

__all__ = ["NodeLedger", "summary_of"]

COST_COLUMNS = ["autoscaler", "group", "capacity_type", "nodes", "node_hours", "cost"]
SIZE_COLUMNS = ["time_s", "autoscaler", "group", "nodes", "upcoming"]


class NodeLedger:
    """The autoscaled nodes of a run, shared by its node autoscalers; a component of its
    own (``node-cost``) that contributes the frames and summary columns of the module
    docstring."""

    name = "node-cost"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        #: node column -> (autoscaler, group, capacity type, price per hour)
        self.nodes: dict[int, tuple[str, str, str, float]] = {}
        #: node column -> when its autoscaler requested it (the scale-up / launch); its
        #: registration time is the node table's ``created_at``.
        self.requested_at: dict[int, float] = {}
        self.sizes: list[tuple[float, str, str, int, int]] = []
        self._last: dict[tuple[str, str], tuple[int, int]] = {}

    def add(self, node: int, autoscaler: str, group: str, capacity_type: str, price: float,
            requested_at: float | None = None) -> None:
        """Node ``node`` joined ``group``; ``requested_at`` is when the autoscaler asked for
        it (default: now, a node present from the start)."""
        self.nodes[node] = (autoscaler, group, capacity_type, float(price))
        self.requested_at[node] = float(self.ctx.env.now if requested_at is None else requested_at)

    def provisioning_wait(self, node: int, since: float) -> float:
        """Seconds a pod created at ``since`` waited for ``node`` to be provisioned: from
        the later of the node's request and ``since`` to its registration; 0 for a node
        no autoscaler added, or one registered before ``since``."""
        asked = self.requested_at.get(node)
        if asked is None:
            return 0.0
        registered = float(self.ctx.state.nodes.created_at[node])
        return max(0.0, registered - max(asked, since))

    def record_size(self, autoscaler: str, group: str, nodes: int, upcoming: int) -> None:
        key = (autoscaler, group)
        if self._last.get(key) == (nodes, upcoming):
            return
        self._last[key] = (nodes, upcoming)
        self.sizes.append((float(self.ctx.env.now), autoscaler, group, int(nodes), int(upcoming)))

    def start(self) -> None:
        """Nothing to start: the autoscalers report to the ledger."""

    def size_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.sizes, columns=SIZE_COLUMNS)

    def cost_frame(self, state: ClusterState, start: float, end: float) -> pd.DataFrame:
        """Node-hours and cost per group and capacity type within ``[start, end]``."""
        if not self.nodes:
            return pd.DataFrame({c: pd.Series(dtype=object if i < 3 else float) for i, c in enumerate(COST_COLUMNS)})
        cols = np.fromiter(self.nodes, dtype=np.int64)
        info = [self.nodes[c] for c in cols.tolist()]
        created = state.nodes.created_at[cols]
        removed = np.minimum(state.nodes.removed_at[cols], end)
        seconds = np.clip(removed - np.maximum(created, start), 0.0, None)
        price = np.array([i[3] for i in info], dtype=float)
        frame = pd.DataFrame({
            "autoscaler": [i[0] for i in info], "group": [i[1] for i in info],
            "capacity_type": [i[2] for i in info], "present": seconds > 0,
            "node_hours": seconds / 3600.0, "cost": seconds / 3600.0 * price,
        })
        out = frame.groupby(["autoscaler", "group", "capacity_type"], sort=True).agg(
            nodes=("present", "sum"), node_hours=("node_hours", "sum"), cost=("cost", "sum")).reset_index()
        out["nodes"] = out["nodes"].astype(np.int64)
        return out[COST_COLUMNS]

    def contribute(self) -> Contribution:
        now = float(self.ctx.env.now)
        end = self.ctx.scenario.duration_s
        end = now if end is None else min(now, float(end))
        cost = self.cost_frame(self.ctx.state, float(self.ctx.scenario.warmup_s), end)
        return Contribution(frames={"node_groups": self.size_frame(), "node_cost": cost}, summary=summary_of(cost))


def summary_of(cost: pd.DataFrame) -> dict[str, float]:
    """Summary columns from a ``node_cost`` frame: ``node_cost`` (all autoscaled nodes),
    ``node_cost_on_demand``, ``node_cost_spot`` and the node-hours of each capacity type
    (``autoscaled_node_hours_on_demand``, ``autoscaled_node_hours_spot``)."""
    def part(col: str, capacity: str | None) -> float:
        rows = cost if capacity is None else cost[cost["capacity_type"] == capacity]
        return float(rows[col].sum()) if len(rows) else 0.0
    return {
        "node_cost": part("cost", None),
        "node_cost_on_demand": part("cost", "on-demand"),
        "node_cost_spot": part("cost", "spot"),
        "autoscaled_node_hours_on_demand": part("node_hours", "on-demand"),
        "autoscaled_node_hours_spot": part("node_hours", "spot"),
    }
