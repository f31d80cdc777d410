"""Export a simulated cluster as Kubernetes manifests (``k8sim export``), for KWOK.

:func:`export_cluster` turns the cluster of a :class:`~k8sim.sim.simulation.Simulation`
at its current virtual time (at 0 before it runs: the scenario's cluster, initial pods
and nothing pending) into Kubernetes objects that a KWOK cluster can run, and the
scheduler profiles into a ``KubeSchedulerConfiguration`` where one is equivalent. What
the real kube-scheduler then does with the pending pods can be compared with k8sim.

- Nodes (not removed): ``metadata.name``, labels exactly, ``spec.taints``,
  ``spec.unschedulable`` (cordoned), ``status.allocatable`` and ``status.capacity`` (the
  same), and KWOK's annotation ``kwok.x-k8s.io/node: fake`` (KWOK's controller then
  manages the node and its pods; ``kwok.x-k8s.io/node`` is the annotation its
  ``manage-nodes-with-annotation-selector`` default selects). GPU devices are the
  extended resource ``nvidia.com/gpu`` (whole devices) beside the ``k8sim.io/gpu-model``
  label.
- Pods bound at that time: ``spec.nodeName`` set (they bypass the scheduler, as k8sim's
  initial pods do); pods still pending: no ``nodeName``, their ``schedulerName``.
  Each keeps namespace, name, labels, priority, node selector, tolerations, affinity,
  topology spread constraints, host ports, containers and init containers with their
  requests and images (the template's, so the non-zero scoring defaults of containers
  that name no cpu or memory carry over), overhead and pod-level requests. A pod with a
  priority names a generated PriorityClass (``k8sim-priority-<value>``, exported too)
  and also carries ``spec.priority`` with the same value, which the Priority admission
  plugin accepts (``plugin/pkg/admission/priority/admission.go``, ``admitPod``: a set
  ``spec.priority`` must equal the class's value).
  A GPU pod requests ``nvidia.com/gpu`` (its device count) and carries annotations with
  what that resource cannot say: ``k8sim.io/gpu-milli`` (its share of each device),
  ``k8sim.io/gpu-models`` (allowed models) and, bound, ``k8sim.io/gpu-devices`` (the
  device indices it holds). A real cluster ignores them; k8sim's kubectl-objects reader
  restores the GPU request and placement from them, so a GPU-sharing cluster round-trips.
- Namespaces: every namespace a pod uses, with the scenario's labels.

Not exported (each one that applies is in :attr:`Export.warnings`): fractional GPUs on
the real cluster (``milli < 1000`` has no upstream equivalent; the device plugin's
resource asks for whole devices; the annotations keep the share for k8sim), pods' run times and start latencies (KWOK runs pods forever unless its
stages say otherwise), node images, NotReady nodes (KWOK keeps nodes Ready), and
profiles with plugins or policies upstream does not have (no
``KubeSchedulerConfiguration`` then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from k8sim.cluster.pods import BOUND, PENDING, RUNNING
from k8sim.config.quantity import format_quantity
from k8sim.constants import (
    GPU_DEVICES_ANNOTATION,
    GPU_MILLI,
    GPU_MILLI_ANNOTATION,
    GPU_MODELS_ANNOTATION,
    GPU_RESOURCE,
)
from k8sim.scheduling.profiles import PRESETS, Ref, merge
from k8sim.workloads.kube_objects import exact_quantity

if TYPE_CHECKING:
    from k8sim.config.scenario import ProfileSpec
    from k8sim.sim.simulation import Simulation

#: Image of containers that name none (KWOK never pulls it).
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
#: Upstream plugins (``pkg/scheduler/framework/plugins/names``) among k8sim's.
UPSTREAM_PLUGINS = frozenset({
    "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodePorts", "NodeResourcesFit",
    "PodTopologySpread", "InterPodAffinity", "NodeResourcesBalancedAllocation", "ImageLocality",
    "VolumeRestrictions", "NodeVolumeLimits", "VolumeBinding", "VolumeZone",
})
#: k8sim filters with no plugin of their own upstream, where upstream gets the same
#: answer another way: GpuFit (NodeResourcesFit on the extended resource) and
#: RuntimeClass (the RuntimeClass admission plugin's nodeSelector on the pod).
IMPLIED_PLUGINS = frozenset({"GpuFit", "RuntimeClass"})


@dataclass
class Export:
    """The exported objects (a ``v1`` ``List``), the scheduler configuration (None when no
    profile has an upstream equivalent) and what could not be carried over."""

    objects: list[dict[str, Any]]
    scheduler_config: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)

    def cluster_list(self) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "List", "items": self.objects}

    def write(self, directory: str | Path) -> list[Path]:
        """Write ``cluster.yaml`` and (when there is one) ``kube-scheduler-config.yaml``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "cluster.yaml"]
        paths[0].write_text(yaml.safe_dump(self.cluster_list(), sort_keys=False))
        if self.scheduler_config is not None:
            paths.append(out / "kube-scheduler-config.yaml")
            paths[1].write_text(yaml.safe_dump(self.scheduler_config, sort_keys=False))
        return paths


def _q(resource: str, value: Any) -> str:
    """A scenario quantity (Fraction or int base units) as a Kubernetes quantity string."""
    if isinstance(value, Fraction):
        return exact_quantity(value)
    return format_quantity(resource, int(value))


def _requests(resources: dict[str, Any]) -> dict[str, str]:
    return {r: _q(r, v) if isinstance(v, Fraction) else str(v) for r, v in resources.items()}


def _dump(model: Any) -> Any:
    return model.model_dump(by_alias=True, exclude_none=True, exclude_defaults=False, mode="json")


class _Exporter:
    def __init__(self, sim: Simulation):
        self.sim = sim
        self.state = sim.state
        self.scenario = sim.scenario
        self.warnings: list[str] = []
        self.priorities: dict[tuple[int, str], str] = {}
        self.namespaces: set[str] = set()

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    # -- nodes ---------------------------------------------------------------------------

    def nodes(self) -> list[dict[str, Any]]:
        nodes = self.state.nodes
        names = self.state.resources.names
        out = []
        for n in range(nodes.n):
            if np.isfinite(nodes.removed_at[n]):
                continue
            alloc = {res: format_quantity(res, int(nodes.alloc[r, n])) for r, res in enumerate(names)
                     if nodes.alloc[r, n] > 0 or res in ("cpu", "memory")}
            if nodes.gpu_count[n] > 0 and GPU_RESOURCE not in alloc:
                alloc[GPU_RESOURCE] = str(int(nodes.gpu_count[n]))
            spec: dict[str, Any] = {}
            taints = [{"key": t.key, **({"value": t.value} if t.value else {}), "effect": t.effect}
                      for t in nodes.node_taints(n)]
            if taints:
                spec["taints"] = taints
            if nodes.unschedulable[n]:
                spec["unschedulable"] = True
            if not nodes.ready[n]:
                self.warn("NotReady nodes are exported as they are (KWOK reports them Ready)")
            out.append({
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": nodes.names[n], "labels": nodes.node_labels(n),
                             "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"}},
                "spec": spec,
                "status": {"allocatable": alloc, "capacity": dict(alloc)},
            })
        return out

    # -- pods ----------------------------------------------------------------------------

    def _source(self, pod: int) -> Any:
        """The template (or initial pod) a pod row was made from; None for trace pods and
        for the pods of manifest workloads (their spec is the manifest's, not the
        template's)."""
        pods = self.state.pods
        w = int(pods.workload[pod])
        if w < 0:
            initial = self.scenario.initial_pods
            i = int(pods.index[pod])
            return initial[i] if 0 <= i < len(initial) else None
        if w >= len(self.scenario.workloads):
            return None
        workload = self.scenario.workloads[w]
        if getattr(workload, "manifest", None) is not None:
            self.warn("pods of manifest workloads are exported with one container holding the pod's requests")
            return None
        return None if workload.trace is not None or workload.jobs is not None else workload.template

    def _containers(self, pod: int, src: Any) -> tuple[list[dict], list[dict], dict[str, Any]]:
        """(containers, initContainers, extra spec fields) of a pod."""
        extra: dict[str, Any] = {}
        gpu = self._gpu_request(pod)
        if src is None:  # trace or manifest pod: one container with the pod's requests
            reqs = self.state.pods.requests[pod]
            req = {res: format_quantity(res, int(reqs[r])) for r, res in enumerate(self.state.resources.names)
                   if res != "pods" and reqs[r] > 0}
            req.update(gpu)
            return [{"name": "main", "image": PAUSE_IMAGE, "resources": {"requests": req}}], [], extra
        if src.containers:
            main = [{"name": c.name, "image": c.image or PAUSE_IMAGE,
                     "resources": {"requests": _requests(c.requests or {})}} for c in src.containers]
        else:
            main = [{"name": "main", "image": src.image or PAUSE_IMAGE,
                     "resources": {"requests": _requests(src.requests)}}]
        if gpu:
            main[0]["resources"]["requests"].update(gpu)
        init = [{"name": c.name, "image": c.image or PAUSE_IMAGE,
                 "resources": {"requests": _requests(c.requests or {})},
                 **({"restartPolicy": "Always"} if c.restart_policy == "Always" else {})}
                for c in src.init_containers]
        if src.overhead:
            extra["overhead"] = _requests(src.overhead)
            self.warn("pods with overhead need a RuntimeClass with that overhead on a real cluster "
                      "(the RuntimeClass admission plugin rejects a pod that sets it alone)")
        if src.resources is not None and src.resources.requests:
            extra["resources"] = {"requests": _requests(src.resources.requests)}
        ports = [_dump(p) for p in (src.ports or ())]
        if ports:
            main[0]["ports"] = ports
        return main, init, extra

    def _gpu_request(self, pod: int) -> dict[str, str]:
        pods = self.state.pods
        count = int(pods.gpu_count[pod])
        if count == 0:
            return {}
        if int(pods.gpu_milli[pod]) < GPU_MILLI:
            self.warn("fractional GPU requests (milli < 1000) are exported as whole nvidia.com/gpu devices")
        return {GPU_RESOURCE: str(count)}

    def _gpu_annotations(self, pod: int, info: Any) -> dict[str, str]:
        """k8sim's GPU-sharing facts that ``nvidia.com/gpu`` cannot carry, as annotations
        the kubectl-objects reader turns back into the GPU request: the milli-GPU share,
        the allowed models and, for a bound pod, the devices it holds."""
        pods, nodes = self.state.pods, self.state.nodes
        if int(pods.gpu_count[pod]) == 0:
            return {}
        out = {GPU_MILLI_ANNOTATION: str(int(pods.gpu_milli[pod]))}
        if info.gpu_models is not None:
            out[GPU_MODELS_ANNOTATION] = "|".join(sorted(nodes.gpu_models[m] for m in info.gpu_models))
        mask = int(pods.gpu_devices[pod])
        if mask and int(pods.phase[pod]) != PENDING:
            out[GPU_DEVICES_ANNOTATION] = ",".join(str(d) for d in range(mask.bit_length()) if mask >> d & 1)
        return out

    def _priority_class(self, value: int, policy: str) -> str:
        key = (value, policy)
        if key not in self.priorities:
            name = f"k8sim-priority-{value}" if value >= 0 else f"k8sim-priority-minus-{-value}"
            if policy == "Never":
                name += "-never"
            self.priorities[key] = name
        return self.priorities[key]

    def pods(self) -> list[dict[str, Any]]:
        pods = self.state.pods
        nodes = self.state.nodes
        out = []
        for p in range(pods.n):
            phase = int(pods.phase[p])
            if phase not in (PENDING, BOUND, RUNNING) or np.isnan(pods.created[p]):
                continue
            info = self.state.shapes[int(pods.shape[p])]
            src = self._source(p)
            name = pods.names[p]
            namespace = info.namespace
            if "/" in name:
                namespace, name = name.split("/", 1)
            self.namespaces.add(namespace)
            containers, init, extra = self._containers(p, src)
            spec: dict[str, Any] = {"schedulerName": info.scheduler_name}
            node = int(pods.node[p])
            if phase != PENDING and node >= 0:
                spec["nodeName"] = nodes.names[node]
            if info.priority != 0 or info.preemption_policy == "Never":
                spec["priorityClassName"] = self._priority_class(info.priority, info.preemption_policy)
                spec["priority"] = int(info.priority)
            if info.node_selector:
                spec["nodeSelector"] = dict(info.node_selector)
            if info.tolerations:
                spec["tolerations"] = [_dump(t) for t in info.tolerations]
            if info.affinity is not None:
                spec["affinity"] = _dump(info.affinity)
            if info.spread:
                spec["topologySpreadConstraints"] = [_dump(s) for s in info.spread]
            if init:
                spec["initContainers"] = init
            spec["containers"] = containers
            spec.update(extra)
            spec["terminationGracePeriodSeconds"] = int(info.termination_grace_s)
            meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": dict(info.labels)}
            gpu_notes = self._gpu_annotations(p, info)
            if gpu_notes:
                meta["annotations"] = gpu_notes
            out.append({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
        return out

    def namespace_objects(self) -> list[dict[str, Any]]:
        labels = {ns.name: dict(ns.labels) for ns in self.scenario.namespaces}
        return [{"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": ns, **({"labels": labels[ns]} if labels.get(ns) else {})}}
                for ns in sorted(self.namespaces | set(labels)) if ns != "default"]

    def priority_classes(self) -> list[dict[str, Any]]:
        return [{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                 "value": value, "preemptionPolicy": policy, "globalDefault": False}
                for (value, policy), name in sorted(self.priorities.items())]


def export_cluster(sim: Simulation) -> Export:
    """The cluster of ``sim`` now, as Kubernetes objects (see the module docstring)."""
    ex = _Exporter(sim)
    nodes = ex.nodes()
    pods = ex.pods()
    objects = ex.namespace_objects() + ex.priority_classes() + nodes + pods
    config = scheduler_configuration(sim, ex.warnings)
    if sim.scenario.images is not None:
        ex.warn("node image caches are not exported (KWOK pulls no images)")
    return Export(objects, config, ex.warnings)


def _profile_refs(spec: ProfileSpec) -> list[Ref] | None:
    preset = PRESETS.get(spec.preset)
    if preset is None:
        return None
    enabled = [Ref(p.name, p.weight, dict(p.args)) for p in spec.plugins if p.name != "DefaultPreemption"]
    return merge(preset.plugins, enabled, list(spec.disabled))


def scheduler_configuration(sim: Simulation, warnings: list[str]) -> dict[str, Any] | None:
    """A ``KubeSchedulerConfiguration`` (``kubescheduler.config.k8s.io/v1``) equivalent to
    the run's profiles, or None (with a warning) when a profile uses a plugin or policy
    upstream does not have. Filters: upstream's defaults, minus the ones the profile
    dropped; scores: ``score.disabled: ["*"]`` and the profile's score plugins with their
    weights; ``pluginConfig`` carries their args; GpuFit (k8sim's per-device GPU filter)
    is left out, as NodeResourcesFit checks ``nvidia.com/gpu`` upstream."""
    settings = sim.scenario.scheduler
    if settings.config_file is not None:
        warnings.append("the scenario's scheduler.configFile is the KubeSchedulerConfiguration: use it")
        return None
    profiles = []
    for spec in settings.profiles:
        refs = _profile_refs(spec)
        foreign = sorted({r.name for r in refs or []} - UPSTREAM_PLUGINS - IMPLIED_PLUGINS)
        if refs is None or foreign or spec.policy is not None:
            what = (f"policy {spec.policy.name!r}" if spec.policy is not None
                    else f"plugins {foreign}" if foreign else f"preset {spec.preset!r}")
            warnings.append(f"profile {spec.scheduler_name!r} has no KubeSchedulerConfiguration equivalent "
                            f"(its {what} upstream does not have)")
            return None
        filters = {r.name for r in refs if r.filter}
        default_filters = {r.name for r in PRESETS["kube-default"].plugins if r.filter}
        plugins: dict[str, Any] = {}
        dropped = sorted((default_filters & UPSTREAM_PLUGINS) - filters)
        if dropped:
            plugins["filter"] = {"disabled": [{"name": n} for n in dropped]}
        plugins["score"] = {"disabled": [{"name": "*"}],
                            "enabled": [{"name": r.name, "weight": r.weight or 1} for r in refs
                                        if r.score and r.name in UPSTREAM_PLUGINS and _scores(r.name)]}
        config = [{"name": r.name, "args": dict(r.args)} for r in refs if r.args]
        profile: dict[str, Any] = {"schedulerName": spec.scheduler_name, "plugins": plugins}
        if config:
            profile["pluginConfig"] = config
        if spec.percentage_of_nodes_to_score is not None:
            profile["percentageOfNodesToScore"] = spec.percentage_of_nodes_to_score
        elif PRESETS[spec.preset].percentage_of_nodes_to_score is not None:
            profile["percentageOfNodesToScore"] = PRESETS[spec.preset].percentage_of_nodes_to_score
        profiles.append(profile)
    out: dict[str, Any] = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}
    if settings.percentage_of_nodes_to_score:
        out["percentageOfNodesToScore"] = settings.percentage_of_nodes_to_score
    out["podInitialBackoffSeconds"] = max(int(settings.pod_initial_backoff_s), 1)
    out["podMaxBackoffSeconds"] = max(int(settings.pod_max_backoff_s), 1)
    if out["podInitialBackoffSeconds"] != settings.pod_initial_backoff_s or \
            out["podMaxBackoffSeconds"] != settings.pod_max_backoff_s:
        warnings.append("backoff seconds rounded to whole seconds of at least 1 (upstream's types and validation)")
    out["profiles"] = profiles
    return out


def _scores(name: str) -> bool:
    from k8sim.scheduling import registry
    from k8sim.scheduling.plugins.base import ScorePlugin

    return issubclass(registry.get(name), ScorePlugin)


__all__ = ["Export", "export_cluster", "scheduler_configuration"]
