"""SimKube traces replayed through the controllers (``trace: {format: simkube, args:
{replay: controllers}}``).

A SimKube trace (:mod:`k8sim.workloads.traces.simkube`) records the objects a cluster's
users applied and deleted over time. With ``replay: pods`` k8sim flattens it to a pod
list; with ``replay: controllers`` it is replayed the way the cluster saw it: at each
event's time (seconds after the first event, times ``time_scale``) every applied object
of a kind k8sim runs (``apps/v1`` Deployment, ReplicaSet, StatefulSet, DaemonSet, ``v1``
Pod) is applied (created, or updated: a new replica count scales it, a new pod template
rolls it out) and every deleted one is deleted (its pods go with it, as upstream's
garbage collector does). The controllers then make, replace and roll the pods, so pods
that upstream would delete while still Pending are deleted, not run for their whole
lifetime.

Objects are read with the manifest loader (:func:`k8sim.workloads.manifests.parse_object`);
what it warns about is reported once per field. Kinds k8sim does not run (Jobs,
CronJobs, ...) and the trace's ``pod_lifecycles`` (the controllers make the pods) are
left out with a warning; a ``priorityClassName`` no PriorityClass of the scenario
defines gets priority 0, with a warning. With ``start_s``, the objects as they were at
``start_s`` are applied at time 0; events at or after ``end_s`` are left out.

:func:`synthetic_trace` builds the small synthetic trace of ``scenarios/
simkube-controllers.yaml`` (three Deployments, scale events, a rollout, a deletion).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from k8sim.component import Contribution
from k8sim.config.loader import ScenarioError
from k8sim.workloads.manifests import ManifestSet, parse_object
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.simkube import load_simkube_trace

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.scenario import Scenario
    from k8sim.controllers.manager import Controllers

_RUN = frozenset({"Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Pod"})


@dataclass
class SimKubeInput:
    """A trace's timeline: ``(time, "apply" | "delete", object or (kind, key))``."""

    source: str
    timeline: list[tuple[float, str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def sets(self) -> list[ManifestSet]:
        return [ManifestSet(self.source, objects=[x for _, op, x in self.timeline if op == "apply"])]


def read_trace(scenario: Scenario, wi: int) -> SimKubeInput:
    """Read workload ``wi``'s trace files into one timeline (errors name the file)."""
    w = scenario.workloads[wi]
    assert w.trace is not None
    where = f"workloads[{wi}].trace"
    tw = w.trace
    out = SimKubeInput(", ".join(tw.files))
    priorities = {pc.name: pc.value for pc in scenario.priority_classes}
    default = [pc.value for pc in scenario.priority_classes if pc.global_default]
    if default:
        priorities[""] = default[0]
    skipped: dict[str, int] = {}
    field_warnings: dict[str, None] = {}
    problems: list[tuple[str, str]] = []
    for file in tw.files:
        try:
            trace = load_simkube_trace(file)
        except TraceError as e:
            raise ScenarioError(scenario.source, [(f"{where}.files", str(e))]) from None
        events = trace["events"]
        try:
            stamps = [float(e["ts"]) for e in events]
        except (KeyError, TypeError, ValueError):
            raise ScenarioError(scenario.source, [(f"{where}.files", f"{file}: every event needs a numeric ts")]) from None
        if not stamps:
            continue
        t0 = min(stamps)
        if trace.get("pod_lifecycles"):
            out.warnings.append(f"{where}: {file}: pod_lifecycles not used (with replay: controllers the "
                                "controllers make the pods)")
        for i in sorted(range(len(events)), key=lambda i: (stamps[i], i)):
            t = stamps[i] - t0
            if tw.end_s is not None and t >= tw.end_s:
                continue
            t = max(0.0, t - (tw.start_s or 0.0)) * tw.time_scale
            ev = events[i]
            for j, obj in enumerate(ev.get("applied_objs") or ()):
                kind = str(obj.get("kind", "")) if isinstance(obj, dict) else ""
                if kind not in _RUN:
                    skipped[kind or "?"] = skipped.get(kind or "?", 0) + 1
                    continue
                obj = _with_known_classes(_plain(obj), priorities, out.warnings, where, file)
                got, probs, warns = parse_object(dict(obj), f"{file}", f"events[{i}].applied_objs[{j}]", priorities,
                                                 Path(file).parent)
                for p, msg in probs:
                    problems.append((f"{where}.files", f"{file}: {p}: {msg}"))
                for wmsg in warns:
                    field_warnings[wmsg.split(" in: ")[0]] = None
                if got is not None:
                    out.timeline.append((t, "apply", got))
            for obj in ev.get("deleted_objs") or ():
                if not isinstance(obj, dict) or str(obj.get("kind", "")) not in _RUN:
                    continue
                meta = obj.get("metadata") or {}
                key = f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"
                out.timeline.append((t, "delete", (str(obj["kind"]), key)))
    if problems:
        raise ScenarioError(scenario.source, problems)
    for kind, n in sorted(skipped.items()):
        out.warnings.append(f"{where}: {n} applied object(s) of kind {kind} not replayed "
                            "(k8sim runs Deployments, ReplicaSets, StatefulSets, DaemonSets and Pods)")
    out.warnings.extend(f"{where}: {w}" for w in field_warnings)
    out.timeline.sort(key=lambda x: x[0])
    return out


def _plain(x: Any) -> Any:
    """msgpack's tuples as lists (the object reader expects YAML-like data)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _with_known_classes(obj: dict, priorities: dict[str, int], warnings: list[str], where: str, file: str) -> dict:
    """``obj`` with a priorityClassName the scenario does not define dropped (priority 0)."""
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") if obj.get("kind") != "Pod" else obj.get("spec")
    if isinstance(spec, dict):
        name = spec.get("priorityClassName")
        if name and name not in priorities:
            msg = f"{where}: {file}: priorityClassName {name!r} is not among the scenario's priorityClasses (priority 0)"
            if msg not in warnings:
                warnings.append(msg)
            import copy

            obj = copy.deepcopy(obj)
            target = obj["spec"] if obj.get("kind") == "Pod" else obj["spec"]["template"]["spec"]
            del target["priorityClassName"]
    return obj


class SimKubeSource:
    """Applies one trace's timeline to the controllers (see the module docstring)."""

    def __init__(self, ctx: Context, controllers: Controllers, wi: int, inp: SimKubeInput):
        self.ctx = ctx
        self.controllers = controllers
        self.wi = wi
        self.inp = inp
        self.name = f"simkube-replay-{wi}"
        ctx.warnings.extend(inp.warnings)

    def start(self) -> None:
        scenario = self.ctx.scenario
        w = scenario.workloads[self.wi]
        start = w.template.start_latency or scenario.defaults.start_latency
        env = self.ctx.env
        by_time: dict[float, list[tuple[str, Any]]] = {}
        for t, op, x in self.inp.timeline:
            by_time.setdefault(t, []).append((op, x))
        for t, ops in by_time.items():
            def fire(_e: object, ops: list[tuple[str, Any]] = ops) -> None:
                for op, x in ops:
                    if op == "apply":
                        self.controllers.apply(x, self.wi, start, None)
                    else:
                        self.controllers.delete(*x)
            env.timeout(t).callbacks.append(fire)

    def contribute(self) -> Contribution:
        applied = sum(1 for _, op, _ in self.inp.timeline if op == "apply")
        return Contribution(provenance={f"{self.name}_applied": applied})


def simkube_sources(ctx: Context, controllers: Controllers, inputs: dict[int, Any]) -> list[Any]:
    return [SimKubeSource(ctx, controllers, wi, inp) for wi, inp in inputs.items() if isinstance(inp, SimKubeInput)]


# ------------------------------------------------------------------------ synthetic trace


def _deployment(name: str, replicas: int, image: str, cpu: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}}, "spec": {
                     "containers": [{"name": name, "image": image,
                                     "resources": {"requests": {"cpu": cpu, "memory": "512Mi"}}}]}}},
    }


def synthetic_trace() -> dict[str, Any]:
    """A small synthetic SimKube trace (format version 2): Deployments ``frontend`` (4),
    ``cart`` (2) and ``search`` (3) at ts 1000; frontend scales to 8 at +300 and back to
    4 at +1500; cart gets image ``cart:2`` (a rollout) at +600; search scales to 6 at
    +900 and is deleted at +1800; the last event (+2400) applies nothing new."""
    t0 = 1_000.0
    gvk = "apps/v1.Deployment"

    def ev(dt: float, applied: list[dict], deleted: list[dict] | None = None) -> dict[str, Any]:
        return {"ts": t0 + dt, "applied_objs": applied, "deleted_objs": deleted or []}

    return {
        "version": 2,
        "config": {"trackedObjects": {gvk: {"podSpecTemplatePaths": ["/spec/template"], "trackLifecycle": False}}},
        "events": [
            ev(0, [_deployment("frontend", 4, "frontend:1", "500m"), _deployment("cart", 2, "cart:1", "250m"),
                   _deployment("search", 3, "search:1", "1")]),
            ev(300, [_deployment("frontend", 8, "frontend:1", "500m")]),
            ev(600, [_deployment("cart", 2, "cart:2", "250m")]),
            ev(900, [_deployment("search", 6, "search:1", "1")]),
            ev(1500, [_deployment("frontend", 4, "frontend:1", "500m")]),
            ev(1800, [], [_deployment("search", 6, "search:1", "1")]),
            ev(2400, []),
        ],
        "index": {gvk: {"shop/frontend": 1, "shop/cart": 2}},
        "pod_lifecycles": {},
    }
