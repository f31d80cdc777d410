"""A real cluster's snapshot built into a (not yet run) simulation.

:func:`build_snapshot` takes what :func:`k8sim.workloads.kube_objects.load_kube_objects`
read from ``kubectl get nodes,pods,namespaces -A -o yaml``, converts it to a scenario
(:meth:`KubeObjects.to_scenario <k8sim.workloads.kube_objects.KubeObjects.to_scenario>`)
and builds a :class:`~k8sim.sim.simulation.Simulation` of it, so the cluster state comes
from the real code paths. A cordoned node (``spec.unschedulable``) is then cordoned with
``ops.set_unschedulable``, because the scenario format has no such field. Errors name
the file's ``items[i]`` instead of the scenario path they were found at.

Pending pods become workloads arriving at 0; the simulation is built, not run, so no
such pod exists yet: :meth:`KubeCluster.pending_pod` returns the shape registered for
one (what ``k8sim explain --objects`` explains).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from k8sim.cluster import ops
from k8sim.config.loader import ScenarioError, validate_scenario
from k8sim.scheduling.explain import ExplainError
from k8sim.sim.simulation import Simulation

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo
    from k8sim.workloads.kube_objects import KubeObjects

__all__ = ["KubeCluster", "build_snapshot"]


@dataclass
class KubeCluster:
    """A snapshot built into a (not yet run) simulation."""

    objects: KubeObjects
    simulation: Simulation
    shapes: dict[str, PodInfo]  # pending pod key (namespace/name) -> its shape

    @property
    def state(self) -> ClusterState:
        return self.simulation.state

    def pending_pod(self, name: str) -> tuple[str, PodInfo]:
        """(key, shape) of the pending pod ``name`` (``namespace/name``, or a name that
        is unique across namespaces). :class:`ExplainError` if it is unknown, bound, or
        was left out (its scheduler has no profile)."""
        pod = self.objects.find_pod(name)
        if pod.bound:
            raise ExplainError(
                f"{self.objects.source}: pod {pod.key!r} is bound to node {pod.node_name!r} "
                "(spec.nodeName); only a pending pod can be explained (a snapshot has no history to replay "
                "the cycle that placed it; a scenario has: k8sim explain SCENARIO --pod NAME)"
            )
        shape = self.shapes.get(pod.key)
        if shape is None:
            raise ExplainError(
                f"{self.objects.source}: pod {pod.key!r} uses schedulerName {pod.scheduler_name!r}, "
                f"which no scheduler profile has (available: {sorted(self.simulation.profiles)})"
            )
        return pod.key, shape


def build_snapshot(objects: KubeObjects, scheduler: dict[str, Any] | None = None, seed: int = 0) -> KubeCluster:
    """Build a :class:`~k8sim.sim.simulation.Simulation` of the snapshot (not run).

    ``scheduler`` is the scenario's ``scheduler:`` section (e.g.
    ``KubeConfigResult.settings``), the default profile if None.
    """
    data = objects.to_scenario(scheduler)
    data["seed"] = seed
    origin = _origins(objects, data)
    try:
        scenario = validate_scenario(data, source=objects.source, system_priorities=True)
        sim = Simulation(scenario, allow_overcommit=True)
    except ScenarioError as e:
        raise ScenarioError(objects.source, [_translate(path, msg, origin) for path, msg in e.problems]) from None
    # What the build reported (nodes whose bound pods exceed their allocatable).
    objects.warnings.extend(w for w in sim.warnings if w not in objects.warnings)
    for n in objects.nodes:
        if n.unschedulable:
            ops.set_unschedulable(sim.state, sim.state.nodes.name_index[n.name], True)
    shapes: dict[str, PodInfo] = {}
    by_workload = {s.workload: s for s in sim.state.shapes if s.workload >= 0}
    for wi, w in enumerate(data["workloads"]):
        shapes[w["name"]] = by_workload[wi]
    return KubeCluster(objects, sim, shapes)


def _origins(objects: KubeObjects, data: dict[str, Any]) -> dict[str, str]:
    """Scenario path prefix -> ``items[i] (Kind name)`` of the file."""
    out = {}
    for i, n in enumerate(objects.nodes):
        out[f"cluster.nodes[{i}]"] = f"items[{n.index}] (Node {n.name})"
    for i, p in enumerate(objects.bound()):
        out[f"initial_pods[{i}]"] = f"items[{p.index}] (Pod {p.key})"
    by_key = {p.key: p for p in objects.pods}
    for i, w in enumerate(data["workloads"]):
        out[f"workloads[{i}]"] = f"items[{by_key[w['name']].index}] (Pod {w['name']})"
    return out


def _translate(path: str, msg: str, origin: dict[str, str]) -> tuple[str, str]:
    """A scenario path (and message) as the file's ``items[i] (Kind name)`` and the rest."""
    for prefix in sorted(origin, key=len, reverse=True):
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
            rest = path[len(prefix) :].lstrip(".")
            return origin[prefix], f"{rest}: {msg}" if rest else msg
    return path, msg
