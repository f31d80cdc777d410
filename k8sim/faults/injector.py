"""The faults component: the scenario's failure processes and scheduled actions.

Built from the ``failures`` and ``actions`` sections (their node selections are checked
against the cluster here, so a name, pool, zone or label that does not exist is an
error naming its field path). Every random time is drawn from a stream keyed by the
fault source's index and the node's (or zone's) name, one draw per event in order, so
two scheduling policies run on one seed see identical faults, and adding a node to a
pool does not change the faults of the others.

A node may be down for several reasons at once (its own failure during a zone outage):
the machine is down while any cause holds, and comes back when the last one ends
(``NodeDown`` with the first cause, ``NodeUp`` at the end).

The processes (one per entity, each a SimPy process holding only timers):

- ``node``: per selected node, up ``time_to_failure``, down ``time_to_repair``, again;
  counted from ``start_s`` or the node's creation, whichever is later;
- ``outage``: the selected nodes present at ``at_s`` go down for ``duration_s``;
- ``zone_outages``: per zone, up ``time_between``, every node of the zone present then
  down for ``duration``, again;
- ``spot``: per selected node, ``time_to_interruption`` after its start: a
  ``SpotInterruption`` row, the node is cordoned (and drained, reason
  ``SpotInterruption``), ``notice_s`` later it is removed (its remaining pods are lost,
  ``NodeLost``); after ``replacement_delay`` a node with the same allocatable, labels,
  taints and GPUs joins (named ``<pool>-<next number>``), which is a spot node too.

Nodes that join later (replacements) and match a ``node`` or ``spot`` selection get
their own process.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.cluster.watch import NodeAdded
from k8sim.component import Contribution
from k8sim.config.faults import (
    ActionSpec,
    NodeFailures,
    NodeSelection,
    Outage,
    SpotInterruptions,
    ZoneOutages,
)
from k8sim.config.loader import ScenarioError
from k8sim.constants import HOSTNAME_LABEL, POOL_LABEL
from k8sim.controllers.nodelifecycle import lifecycle_taints
from k8sim.faults.actions import check_action_image, check_workload_action, run_action
from k8sim.faults.drain import drain
from k8sim.faults.selection import check_selection, node_matches, select_nodes

if TYPE_CHECKING:
    from k8sim.component import Context

_Gen = Generator[Any, Any, None]
#: Reason of pods evicted at a spot interruption notice.
SPOT_INTERRUPTION = "SpotInterruption"


def _autoscaled(sc: Any, sel: NodeSelection) -> bool:
    """Whether ``sel`` selects by labels only, each one a node autoscaler may put on the
    nodes it adds (so the selection may match no node yet)."""
    if sc.autoscaling is None or sel.names is not None or sel.zone is not None:
        return False
    future = sc.autoscaling.node_labels()
    wanted = dict(sel.labels)
    if sel.pool is not None:
        wanted[POOL_LABEL] = sel.pool
    return bool(wanted) and all(v in future.get(k, ()) for k, v in wanted.items())


def _key(name: str) -> int:
    """Stream key of an entity, from its name (stable whatever else the run does)."""
    return zlib.crc32(name.encode())


class Faults:
    """Failure processes, scheduled actions and the node-down bookkeeping (see the
    module docstring). ``at(t, action)`` schedules an action from Python."""

    name = "faults"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.api = ctx.api
        self.env = ctx.env
        self.state = ctx.state
        sc = ctx.scenario
        self._down: dict[int, int] = {}  # node -> number of causes holding it down
        #: Fault source name -> kind, for the results (``provenance["fault_sources"]``).
        self.sources: dict[str, str] = {}
        self._names: list[str] = []
        self._per_node: list[tuple[int, NodeFailures | SpotInterruptions]] = []
        self._next_number: dict[int, int] = {}
        self.used = bool(sc.failures or sc.actions)
        problems: list[tuple[str, str]] = []
        for i, f in enumerate(sc.failures):
            name = f.name or f"{f.kind}[{i}]"
            self._names.append(name)
            self.sources[name] = f.kind
            if isinstance(f, ZoneOutages):
                problems += self._check_zones(f, f"failures[{i}]")
            elif not (isinstance(f, (NodeFailures, SpotInterruptions)) and _autoscaled(sc, f.nodes)):
                problems += check_selection(self.state, f.nodes, f"failures[{i}].nodes")
            if isinstance(f, (NodeFailures, SpotInterruptions)):
                self._per_node.append((i, f))
        for i, a in enumerate(sc.actions):
            sel = getattr(a, "nodes", None)
            if isinstance(sel, NodeSelection):
                problems += check_selection(self.state, sel, f"actions[{i}].nodes")
            why = check_workload_action(ctx, a)
            if why:
                problems.append((f"actions[{i}].name", why))
            why = check_action_image(ctx, a)
            if why:
                problems.append((f"actions[{i}].image", why))
        if problems:
            raise ScenarioError(ctx.source, problems)
        if self._per_node:
            self.api.bus.subscribe(NodeAdded, self._on_node_added)

    def _check_zones(self, f: ZoneOutages, where: str) -> list[tuple[str, str]]:
        nt = self.state.nodes
        if f.label not in nt.labels:
            return [(f"{where}.label", f"no node has the label {f.label!r}")]
        values = sorted(nt.label_values[f.label])
        return [(f"{where}.zones[{j}]", f"no node has {f.label}={z}; values: {values}")
                for j, z in enumerate(f.zones or []) if z not in values]

    # -- component ---------------------------------------------------------------------

    def start(self) -> None:
        """Start every failure process and schedule every action, in scenario order."""
        sc = self.ctx.scenario
        env = self.env
        for i, f in enumerate(sc.failures):
            cause = self._names[i]
            if isinstance(f, (NodeFailures, SpotInterruptions)):
                for node in select_nodes(self.state, f.nodes).tolist():
                    self._start_node_process(i, f, node)
            elif isinstance(f, Outage):
                env.process(self._outage_at(f, cause))
            elif isinstance(f, ZoneOutages):
                zones = f.zones or sorted(self.state.nodes.label_values[f.label])
                for zone in zones:
                    env.process(self._zone_outages(i, f, zone, cause))
        for i, a in enumerate(sc.actions):
            assert a.at_s is not None  # the schema requires it in a scenario
            self.at(a.at_s, a, cause=f"actions[{i}]")

    def contribute(self) -> Contribution:
        if not self.used:
            return Contribution()
        return Contribution(provenance={"fault_sources": dict(self.sources)})

    # -- node down / up ------------------------------------------------------------------

    def take_down(self, nodes: list[int], cause: str, partition: bool = False, not_ready: bool = False) -> None:
        """The machines of ``nodes`` go down for ``cause`` (nodes already removed are
        skipped; a node already down stays down until its last cause ends, in the mode
        of its first cause). ``partition``: cut off from the control plane only;
        ``not_ready``: the kubelet runs on and reports the node NotReady."""
        removed = self.state.nodes.removed_at
        for node in nodes:
            if not np.isinf(removed[node]):
                continue
            k = self._down.get(node, 0)
            self._down[node] = k + 1
            if k == 0:
                self.api.node_down(node, cause, partition, not_ready)

    def bring_up(self, nodes: list[int]) -> None:
        """One cause of ``nodes`` being down ends; those with none left come back."""
        removed = self.state.nodes.removed_at
        for node in nodes:
            k = self._down.get(node, 0)
            if k == 0:
                continue
            if k == 1:
                del self._down[node]
                if np.isinf(removed[node]):
                    self.api.node_up(node)
            else:
                self._down[node] = k - 1

    def outage(self, nodes: list[int], duration_s: float | None, cause: str, partition: bool = False,
               not_ready: bool = False) -> None:
        """``nodes`` down now, for ``duration_s`` (None: for ever)."""
        self.used = True
        self.sources.setdefault(cause, "outage")
        self.take_down(nodes, cause, partition, not_ready)
        if duration_s is not None:
            timer = self.env.timeout(duration_s)
            timer.callbacks.append(lambda _e: self.bring_up(nodes))

    # -- actions -----------------------------------------------------------------------

    def at(self, t: float, action: ActionSpec | Callable[[Context], Any], cause: str | None = None) -> None:
        """Run ``action`` at virtual time ``t`` (>= now): an action spec (its ``at_s``
        is ignored) or any ``callable(ctx)``."""
        now = self.env.now
        if not t >= now:
            raise ValueError(f"cannot schedule an action at {t:g} s: the simulation is already at {now:g} s")
        if isinstance(action, ActionSpec):
            sel = getattr(action, "nodes", None)
            if isinstance(sel, NodeSelection):
                problems = check_selection(self.state, sel, "nodes")
                if problems:
                    raise ValueError("; ".join(f"{p}: {m}" for p, m in problems))
            why = check_workload_action(self.ctx, action) or check_action_image(self.ctx, action)
            if why:
                raise ValueError(why)
            label = cause or f"{action.kind} at {t:g}s"
            self.used = True
            self.sources.setdefault(label, action.kind)
            fn: Callable[[], Any] = lambda: run_action(self.ctx, action, label)  # noqa: E731
        elif callable(action):
            fn = lambda: action(self.ctx)  # noqa: E731
        else:
            raise TypeError(f"an action is an ActionSpec or a callable(ctx), got {type(action).__name__}")
        timer = self.env.timeout(t - now)
        timer.callbacks.append(lambda _e: fn())

    # -- processes -----------------------------------------------------------------------

    def _on_node_added(self, event: NodeAdded) -> None:
        for i, f in self._per_node:
            if node_matches(self.state, f.nodes, event.node):
                self._start_node_process(i, f, event.node)

    def _start_node_process(self, i: int, f: NodeFailures | SpotInterruptions, node: int) -> None:
        cause = self._names[i]
        if isinstance(f, NodeFailures):
            self.env.process(self._node_failures(i, f, node, cause))
        else:
            self.env.process(self._spot(i, f, node, cause))

    def _removed(self, node: int) -> bool:
        return not np.isinf(self.state.nodes.removed_at[node])

    def _wait_until(self, t: float) -> Generator[Any, Any, None]:
        if t > self.env.now:
            yield self.env.timeout(t - self.env.now)

    def _node_failures(self, i: int, f: NodeFailures, node: int, cause: str) -> _Gen:
        env = self.env
        name = self.state.nodes.names[node]
        g_fail = self.ctx.streams.generator("fault-ttf", i, _key(name))
        g_repair = self.ctx.streams.generator("fault-ttr", i, _key(name))
        yield from self._wait_until(max(f.start_s, float(self.state.nodes.created_at[node])))
        stop = f.stop_s if f.stop_s is not None else math.inf
        while True:
            up = float(f.time_to_failure.sample(g_fail, 1)[0])
            if env.now + up > stop:
                return
            yield env.timeout(up)
            if self._removed(node):
                return
            self.take_down([node], cause, f.mode == "partition", f.mode == "not_ready")
            yield env.timeout(float(f.time_to_repair.sample(g_repair, 1)[0]))
            self.bring_up([node])
            if self._removed(node):
                return

    def _outage_at(self, f: Outage, cause: str) -> _Gen:
        yield from self._wait_until(f.at_s)
        self.outage(select_nodes(self.state, f.nodes).tolist(), f.duration_s, cause, f.mode == "partition",
                    f.mode == "not_ready")

    def _zone_outages(self, i: int, f: ZoneOutages, zone: str, cause: str) -> _Gen:
        env = self.env
        g_between = self.ctx.streams.generator("zone-outage-between", i, _key(zone))
        g_duration = self.ctx.streams.generator("zone-outage-duration", i, _key(zone))
        sel = NodeSelection(labels={f.label: zone})
        yield from self._wait_until(f.start_s)
        stop = f.stop_s if f.stop_s is not None else math.inf
        while True:
            up = float(f.time_between.sample(g_between, 1)[0])
            if env.now + up > stop:
                return
            yield env.timeout(up)
            nodes = select_nodes(self.state, sel).tolist()
            self.take_down(nodes, f"{cause} {zone}", f.mode == "partition", f.mode == "not_ready")
            yield env.timeout(float(f.duration.sample(g_duration, 1)[0]))
            self.bring_up(nodes)

    def _spot(self, i: int, f: SpotInterruptions, node: int, cause: str) -> _Gen:
        env = self.env
        api = self.api
        nt = self.state.nodes
        name = nt.names[node]
        g = self.ctx.streams.generator("spot-interruption", i, _key(name))
        start = max(f.start_s, float(nt.created_at[node]))
        at = start + float(f.time_to_interruption.sample(g, 1)[0])
        if f.stop_s is not None and at > f.stop_s:
            return
        yield from self._wait_until(at)
        if self._removed(node):
            return
        api.record(SPOT_INTERRUPTION, -1, node, f"{cause}: the node terminates in {f.notice_s:g}s")
        if f.drain_on_notice:
            drain(api, node, reason=SPOT_INTERRUPTION)
        elif not nt.unschedulable[node]:
            api.update_node(node, unschedulable=True)
        if f.notice_s > 0:
            yield env.timeout(f.notice_s)
        if self._removed(node):
            return
        self._down.pop(node, None)
        api.remove_node(node)
        if f.replacement_delay is None:
            return
        g_rep = self.ctx.streams.generator("spot-replacement", i, _key(name))
        yield env.timeout(float(f.replacement_delay.sample(g_rep, 1)[0]))
        self._replace(node)

    def _replace(self, old: int) -> int:
        """A node like ``old`` joins (same pool, allocatable, labels, taints, GPUs)."""
        nt = self.state.nodes
        pool = int(nt.pool[old])
        if pool >= 0:
            base = nt.pool_names[pool]
            k = self._next_number.get(pool, int((nt.pool == pool).sum()))
            while f"{base}-{k}" in nt.name_index:
                k += 1
            self._next_number[pool] = k + 1
            name = f"{base}-{k}"
        else:
            k = 1
            while f"{nt.names[old]}-r{k}" in nt.name_index:
                k += 1
            name = f"{nt.names[old]}-r{k}"
        labels = {**nt.node_labels(old), HOSTNAME_LABEL: name}
        skip = lifecycle_taints()
        taints = [t for t in nt.node_taints(old) if t not in skip]
        gpus = None
        if nt.gpu_count[old] > 0:
            gpus = (int(nt.gpu_count[old]), nt.gpu_models[int(nt.gpu_model[old])])
        return self.api.add_node(name=name, allocatable=nt.alloc[:, old].copy(), labels=labels, taints=taints,
                                 pool=pool, gpus=gpus)
