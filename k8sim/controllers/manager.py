"""Assembling the controllers of a run, and the manifest workloads they run.

:func:`read_inputs` reads every manifest workload of a scenario (and every SimKube trace
replayed through the controllers) before the cluster tables exist, so that the
resources their pods and nodes name join the run's resource axis. :func:`build` then
makes the components, in this order: the ReplicaSet, Deployment, StatefulSet and
DaemonSet controllers (:mod:`k8sim.controllers`), and the workload source that applies
the manifests' objects at time 0 (:class:`ManifestSource`) or a trace's objects over
time (:class:`k8sim.controllers.simkube.SimKubeSource`). The source also collects the
controllers' record for the result (:meth:`ManifestSource.contribute`).

A scenario without such workloads builds none of this (``Scenario.has_controllers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.api import AdmissionRefused
from k8sim.component import Contribution
from k8sim.config.loader import ScenarioError
from k8sim.config.resources import base_units
from k8sim.constants import DEFAULT_MAX_PODS
from k8sim.controllers import batch
from k8sim.controllers.daemonset import DaemonSetController
from k8sim.controllers.deployment import DeploymentController
from k8sim.controllers.limitranger import apply_limit_ranges
from k8sim.controllers.replicaset import ReplicaSetController
from k8sim.controllers.statefulset import StatefulSetController
from k8sim.controllers.store import AppStore, PodMaker, Sampling, ShapeFn, object_key, template_hash
from k8sim.workloads.manifests import AppObject, ManifestSet, load_manifests

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.pods import PodTemplate
    from k8sim.config.scenario import Scenario


@dataclass
class Controllers:
    """The controllers of one run and their shared store."""

    store: AppStore
    replicasets: ReplicaSetController
    deployments: DeploymentController
    statefulsets: StatefulSetController
    daemonsets: DaemonSetController
    _pods: set[tuple[str, str]] = field(default_factory=set)
    jobs: Any = None  # JobController (k8sim.controllers.batch)
    cronjobs: Any = None  # CronJobController
    disruption: Any = None  # DisruptionController (PodDisruptionBudgets)
    quota: Any = None  # ResourceQuotaAdmission (k8sim.controllers.quota), None without quotas
    queued: Any = None  # QueuedJobs (k8sim.batch.kueue_jobs): Jobs run through Kueue, made at the first

    def apply(self, obj: AppObject, workload: int, start: Any, duration: Any) -> None:
        """``kubectl apply`` of ``obj`` now: create it, or update the object of that
        kind and name (replicas, template, update settings); its controller takes it
        from there."""
        if self.update(obj):
            return
        ctx = self.store.ctx
        knobs = self._object_knobs(obj, workload)
        runtime = None
        model = ctx.components["kubelet"].runtime
        if knobs is not None and model.catalog is None:  # with a catalog, per template (Sampling.runtime_for)
            runtime = model.compile_object(workload, object_key(f"{obj.kind}/{obj.key}"), knobs)
        sampling = Sampling(ctx, workload, f"{obj.kind}/{obj.key}", obj.duration or duration,
                            obj.start_latency or start, runtime, knobs)
        if obj.kind == "Deployment":
            self.deployments.create(obj, workload, sampling)
        elif obj.kind == "ReplicaSet":
            h = template_hash(obj.template)
            maker = PodMaker(self.store, obj.template, ("replicaset", obj.namespace, obj.name, h), sampling,
                             obj.preemption_policy)
            self.replicasets.create(name=obj.name, namespace=obj.namespace, template=obj.template, hash=h,
                                    replicas=obj.replicas, min_ready_s=obj.min_ready_s, maker=maker)
            self.store.register("ReplicaSet", obj, obj.name, obj.namespace, min_ready_s=obj.min_ready_s,
                                workload=workload)
        elif obj.kind == "StatefulSet":
            self.statefulsets.create(obj, workload, sampling)
        elif obj.kind == "DaemonSet":
            self.daemonsets.create(obj, workload, sampling)
        elif obj.kind == "Pod":
            self._bare_pod(obj, workload, sampling)
        elif obj.kind == "LimitRange":
            pass  # applied to the templates when the manifests were read (limitranger)
        elif obj.kind == "ResourceQuota":
            if self.quota is not None:
                self.quota.add(obj.name, obj.namespace, obj.batch.hard, obj.where)
        elif obj.kind in ("Job", "CronJob", "PodDisruptionBudget"):
            batch.apply(self, obj, workload, sampling)
        else:  # pragma: no cover - the loader admits no other kind
            raise ValueError(f"no controller for kind {obj.kind}")

    def _object_knobs(self, obj: AppObject, workload: int) -> PodTemplate | None:
        """The simulation knobs of ``obj``'s pods when its annotations set runtime knobs
        (readiness delay, sandbox latency, crash model, exit code): the workload entry's
        template with the object's knobs; None to use the entry's."""
        if not obj.runtime:
            return None
        ctx = self.store.ctx
        knobs = dict(obj.runtime)
        exit_code = knobs.pop("exit_code", None)
        template = ctx.scenario.workloads[workload].template.model_copy(update=knobs)
        if exit_code is not None:
            if template.crash is None:
                ctx.warnings.append(f"{obj.where}: {obj.kind} {obj.key}: k8sim.io/exit-code without a crash model "
                                    "(k8sim.io/crash or the workload's template.crash) is unused")
            else:
                template = template.model_copy(update={"crash": template.crash.model_copy(
                    update={"exit_code": exit_code})})
        return template

    def delete(self, kind: str, key: str) -> None:
        """Delete the object of ``kind`` and key ``namespace/name`` now; its pods go
        with it (foreground of upstream's garbage collector: they are deleted with
        their grace period). Unknown objects are ignored (already gone)."""
        store = self.store
        if kind == "Deployment" and key in self.deployments.by_key:
            d = store.deployments[self.deployments.by_key.pop(key)]
            d.replicas = 0
            d.paused = True
            store.desired("Deployment", d.name, d.namespace, 0)
            for r in d.rses:
                self.replicasets.delete(r)
        elif kind == "StatefulSet" and key in self.statefulsets.by_key:
            s = store.statefulsets[self.statefulsets.by_key[key]]
            s.pod_management = "Parallel"  # the garbage collector deletes them all at once
            self.statefulsets.set_deleted(s)  # persistentVolumeClaimRetentionPolicy.whenDeleted
            self.statefulsets.scale(key, 0)
            del self.statefulsets.by_key[key]
        elif kind == "DaemonSet" and key in self.daemonsets.by_key:
            self.daemonsets.delete(key)
        elif kind == "ReplicaSet":
            for rs in store.replicasets:
                if rs.deployment < 0 and f"{rs.namespace}/{rs.name}" == key and not rs.deleted:
                    self.replicasets.delete(rs.row)
        elif kind == "Pod":
            names = self.store.ctx.state.pods.names
            ns, name = key.split("/", 1)
            display = name if ns == "default" else key
            for p in range(len(names) - 1, -1, -1):
                if names[p] == display and self.store.ctx.state.pods.owner_kind[p] == 0:
                    self.store.ctx.api.delete_pod(p, 30.0, "Deleted")
                    break

    def update(self, obj: AppObject) -> bool:
        """Apply ``obj`` to the existing object of its kind and name; False if none."""
        ctx = self.store.ctx
        if obj.kind == "Deployment" and obj.key in self.deployments.by_key:
            d = self.store.deployments[self.deployments.by_key[obj.key]]
            d.strategy, d.max_surge, d.max_unavailable = obj.strategy, obj.max_surge, obj.max_unavailable
            d.min_ready_s, d.progress_deadline_s = obj.min_ready_s, obj.progress_deadline_s
            d.revision_history_limit, d.paused = obj.revision_history_limit, obj.paused
            if template_hash(obj.template) != d.hash:
                self.deployments.set_template(obj.key, obj.template)
            self.deployments.scale(obj.key, obj.replicas)
            return True
        if obj.kind == "StatefulSet" and obj.key in self.statefulsets.by_key:
            s = self.store.statefulsets[self.statefulsets.by_key[obj.key]]
            s.strategy, s.min_ready_s = obj.strategy, obj.min_ready_s
            self.statefulsets.set_template(obj.key, obj.template, obj.partition)
            self.statefulsets.scale(obj.key, obj.replicas)
            return True
        if obj.kind == "DaemonSet" and obj.key in self.daemonsets.by_key:
            ds = self.store.daemonsets[self.daemonsets.by_key[obj.key]]
            ds.strategy, ds.max_unavailable, ds.min_ready_s = obj.strategy, obj.max_unavailable, obj.min_ready_s
            self.daemonsets.set_template(obj.key, obj.template)
            return True
        if obj.kind == "ReplicaSet":
            for rs in self.store.replicasets:
                if rs.deployment < 0 and rs.name == obj.name and rs.namespace == obj.namespace and not rs.deleted:
                    # A ReplicaSet's template change affects only pods created later.
                    self.replicasets.scale(rs.row, obj.replicas)
                    return True
        if obj.kind == "Pod" and any(o == ("Pod", obj.key) for o in self._pods):
            ctx.warnings.append(f"{obj.where}: Pod {obj.key} already exists (pods are immutable); not applied")
            return True
        return False

    def _bare_pod(self, obj: AppObject, workload: int, sampling: Sampling) -> None:
        self._pods.add(("Pod", obj.key))
        store = self.store
        ctx = store.ctx
        maker = PodMaker(store, obj.template, ("pod", obj.namespace, obj.name), sampling, obj.preemption_policy)
        node = -1
        if obj.template.node_name is not None:
            node = ctx.state.nodes.name_index.get(obj.template.node_name, -1)
        info = maker.info
        try:
            pod = ctx.api.create_pod(name=obj.display, requests=info.requests, workload=workload,
                                     index=store.next_index(workload), shape=info.shape, priority=info.priority,
                                     duration=sampling.duration(), start_latency=sampling.start(),
                                     gpu_count=info.gpu_count, gpu_milli=info.gpu_milli, node=node,
                                     nonzero=info.nonzero_bound)
        except AdmissionRefused:
            return  # kubectl apply fails; nothing retries a bare pod (the refusal is recorded)
        if node >= 0:
            free = ctx.state.nodes.free[:, node]
            if np.all(free >= info.requests):
                ctx.api.bind(pod, node, "nodeName")
            else:
                ctx.api.record("OutOf" + "Resources", pod, node, f"{obj.display} does not fit on its nodeName")

    def find(self, kind: str, name: str) -> tuple[Any, int]:
        """The controller of ``kind`` and the object's row (``namespace/name`` or a name
        in ``default``)."""
        ctl: Any = {"Deployment": self.deployments, "StatefulSet": self.statefulsets,
                    "DaemonSet": self.daemonsets}.get(kind)
        if ctl is None:
            raise KeyError(f"no controller for kind {kind!r}")
        return ctl, ctl.find(name)


@dataclass
class ManifestInput:
    """A manifest workload: its objects at time 0 and the manifests applied later."""

    initial: ManifestSet
    updates: list[tuple[float, ManifestSet]]

    def sets(self) -> list[ManifestSet]:
        return [self.initial, *(m for _, m in self.updates)]


def read_inputs(scenario: Scenario) -> dict[int, Any]:
    """Every manifest workload's objects (:class:`ManifestInput`) and every trace
    replayed through the controllers (:class:`~k8sim.controllers.simkube.SimKubeInput`)
    by workload index (errors name the file)."""
    from k8sim.controllers.simkube import read_trace

    out: dict[int, Any] = {}
    for wi, w in enumerate(scenario.workloads):
        if w.manifest is not None:
            out[wi] = ManifestInput(load_manifests(w.manifest, scenario.priority_classes),
                                    [(a.at_s, load_manifests(a.manifest, scenario.priority_classes)) for a in w.apply])
        elif w.trace is not None and w.trace.args.get("replay") == "controllers":
            out[wi] = read_trace(scenario, wi)
    apply_limit_ranges(scenario, out)  # LimitRange admission of the objects' pod templates
    return out


def input_resources(inputs: dict[int, Any]) -> set[str]:
    """Resource names the inputs' pods and nodes use (for the run's resource axis)."""
    names: set[str] = set()
    for inp in inputs.values():
        for m in inp.sets():
            for o in m.objects:
                t = o.template
                names |= set(t.requests) | set(t.overhead)
                names |= {r for c in (*t.containers, *t.init_containers) for r in (c.requests or {})}
                if t.resources is not None:
                    names |= set(t.resources.requests)
            for n in m.nodes:
                names |= set(n.allocatable)
    return names


#: Where an object kind's pod spec is (for messages).
POD_SPEC_PATH = {"Pod": "spec", "CronJob": "spec.jobTemplate.spec.template.spec"}


def pod_templates(scenario: Scenario, inputs: dict[int, Any]) -> list[tuple[str, str, PodTemplate]]:
    """Every object's pod template in the inputs (:func:`k8sim.runtime.spec.build_runtime`
    checks their images): (the workload entry's ``manifest`` or ``trace`` path,
    ``"<file>: document[i].<pod spec path>"``, the template)."""
    out = []
    for wi, inp in inputs.items():
        path = f"workloads[{wi}].{'manifest' if scenario.workloads[wi].manifest is not None else 'trace'}"
        for m in inp.sets():
            for o in m.objects:
                if o.kind in APP_POD_KINDS:
                    out.append((path, f"{o.where}.{POD_SPEC_PATH.get(o.kind, 'spec.template.spec')}", o.template))
    return out


def runtime_class_names(inputs: dict[int, Any]) -> set[str]:
    """The RuntimeClasses the inputs' pod templates name."""
    return {o.template.runtime_class_name for inp in inputs.values() for m in inp.sets() for o in m.objects
            if o.kind in APP_POD_KINDS and o.template.runtime_class_name is not None}


#: Kinds whose objects make pods.
APP_POD_KINDS = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Pod", "Job", "CronJob"})


def build(ctx: Context, shape_for: ShapeFn, inputs: dict[int, Any],
          quota: Any = None) -> tuple[Controllers, list[Any]]:
    """The controllers and the components to add, in order (see the module docstring).
    ``quota``: the run's ResourceQuota admission (manifest quotas join it)."""
    scenario = ctx.scenario
    store = AppStore(ctx, shape_for)
    settings = scenario.controllers
    rsc = ReplicaSetController(ctx, store, settings.replicaset)
    dc = DeploymentController(ctx, store, rsc, settings.deployment)
    stsc = StatefulSetController(ctx, store, settings.statefulset)
    dsc = DaemonSetController(ctx, store, settings.daemonset)
    jc, cjc, pdbc = batch.build(ctx, store)
    controllers = Controllers(store, rsc, dc, stsc, dsc, jobs=jc, cronjobs=cjc, disruption=pdbc, quota=quota)
    source = ManifestSource(ctx, controllers, {wi: x for wi, x in inputs.items() if isinstance(x, ManifestInput)})
    out: list[Any] = [rsc, dc, stsc, dsc, jc, cjc, pdbc, source]
    from k8sim.controllers.simkube import simkube_sources

    out.extend(simkube_sources(ctx, controllers, inputs))
    return controllers, out


class ManifestSource:
    """Applies the manifest workloads' objects at time 0 and reports the controllers'
    record (frames ``replica_history``, ``recreations``, ``unreplaced``,
    ``replicasets``, ``controller_objects``, ``owners``; summary ``pods_recreated``
    and ``pods_recreated_<cause>``, ``pods_lost_unreplaced``)."""

    name = "manifests"

    def __init__(self, ctx: Context, controllers: Controllers, inputs: dict[int, ManifestInput]):
        self.ctx = ctx
        self.controllers = controllers
        self.inputs = inputs
        seen: dict[tuple[str, str], int] = {}
        for wi, inp in inputs.items():
            for o in inp.initial.objects:
                first = seen.setdefault((o.kind, o.key), wi)
                if first != wi:
                    raise ScenarioError(ctx.source, [(f"workloads[{wi}].manifest", f"{o.where}: {o.kind} {o.key} is "
                                                      f"also defined by workloads[{first}]; an object belongs to "
                                                      "one workload")])
            for m in inp.sets():
                ctx.warnings.extend(f"workloads[{wi}].manifest: {m.source}: {w}" for w in m.warnings)
            for _, m in inp.updates:
                if m.nodes:
                    raise ScenarioError(ctx.source, [(f"workloads[{wi}].apply", f"{m.source}: Node objects join at "
                                                      "time 0: give them in the workload's manifest")])
        self._add_nodes()

    def _add_nodes(self) -> None:
        ctx = self.ctx
        problems = []
        for wi, inp in self.inputs.items():
            for node in inp.initial.nodes:
                if node.name in ctx.state.nodes.name_index:
                    problems.append((f"workloads[{wi}].manifest", f"{inp.initial.source}: Node {node.name!r} already exists "
                                                                  "in the cluster"))
                    continue
                amounts = base_units(node.allocatable)
                amounts.setdefault("pods", DEFAULT_MAX_PODS)
                from k8sim.cluster.nodes import TaintSpec

                n = ctx.api.add_node(name=node.name, allocatable=ctx.state.resources.vector(amounts),
                                     labels={"kubernetes.io/hostname": node.name, **node.labels},
                                     taints=[TaintSpec(t.key, t.value, t.effect) for t in node.taints])
                if node.unschedulable:
                    ctx.api.update_node(n, unschedulable=True)
        if problems:
            raise ScenarioError(ctx.source, problems)

    def start(self) -> None:
        scenario = self.ctx.scenario
        env = self.ctx.env
        for wi, inp in self.inputs.items():
            w = scenario.workloads[wi]
            start = w.template.start_latency or scenario.defaults.start_latency
            for obj in inp.initial.objects:
                self.controllers.apply(obj, wi, start, w.duration)
            for at, m in inp.updates:
                def later(_e: object, m: ManifestSet = m, wi: int = wi, start: Any = start, dur: Any = w.duration) -> None:
                    for obj in m.objects:
                        self.controllers.apply(obj, wi, start, dur)
                env.timeout(at).callbacks.append(later)

    def contribute(self) -> Contribution:
        store = self.controllers.store
        frames = store.frames()
        owners = []
        for rs in store.replicasets:
            owners.append(("ReplicaSet", rs.row, rs.display))
        for s in store.statefulsets:
            owners.append(("StatefulSet", s.row, s.display))
        for d in store.daemonsets:
            owners.append(("DaemonSet", d.row, d.display))
        frames["owners"] = pd.DataFrame(owners, columns=["owner_kind", "owner", "name"]).astype(
            {"owner_kind": "string", "name": "string", "owner": "int64"})
        rec = frames["recreations"]
        summary: dict[str, Any] = {"pods_recreated": len(rec)}
        for cause, n in sorted(rec["cause"].value_counts().items()):
            summary[f"pods_recreated_{cause}"] = int(n)
        summary["pods_lost_unreplaced"] = len(frames["unreplaced"])
        rec_s = rec["recovery_s"].dropna().to_numpy()
        summary["pod_recovery_p50_s"] = float(np.percentile(rec_s, 50)) if rec_s.size else float("nan")
        summary["pod_recovery_p95_s"] = float(np.percentile(rec_s, 95)) if rec_s.size else float("nan")
        return Contribution(frames=frames, summary=summary, provenance={"controllers": True})

