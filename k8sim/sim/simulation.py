"""Simulation: wires the SimPy environment, the tables, the streams and the processes.

``Simulation(scenario, seed=None)`` builds everything from a validated
:class:`~k8sim.config.scenario.Scenario`; :meth:`Simulation.run` advances virtual time
to ``duration_s`` (or until no event is left) and returns a
:class:`~k8sim.metrics.result.RunResult`.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import simpy

from k8sim.cluster import ops
from k8sim.cluster.nodes import ResourceIndex, TaintSpec
from k8sim.cluster.ops import ClusterState
from k8sim.cluster.pods import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST
from k8sim.config.loader import ScenarioError, read_yaml
from k8sim.config.scenario import (
    DEFAULT_MAX_PODS,
    DEFAULT_SCHEDULER,
    HOSTNAME_LABEL,
    POOL_LABEL,
    ZONE_LABEL,
    NodeGpus,
    PodTemplate,
    Scenario,
    Taint,
    base_units,
)
from k8sim.metrics.recorder import Recorder
from k8sim.metrics.result import RunResult
from k8sim.runtime.kubelet import Kubelet
from k8sim.runtime.spec import build_runtime
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.podinfo import PodInfo
from k8sim.scheduling.preemption import DefaultPreemption
from k8sim.scheduling.profiles import PRESETS, Ref, build_profile, merge
from k8sim.scheduling.registry import PluginError
from k8sim.scheduling.scheduler import Scheduler
from k8sim.sim.rng import BlockSampler, Streams
from k8sim.workloads.generators import arrival_process, arrival_times

ProgressFn = Callable[[float], None]


def _taints(taints: list[Taint]) -> list[TaintSpec]:
    return [TaintSpec(t.key, t.value, t.effect) for t in taints]


def _preemption_args(raw: dict) -> dict[str, int]:
    """DefaultPreemptionArgs (upstream names and validation ranges)."""
    known = {"minCandidateNodesPercentage": "min_candidate_nodes_percentage",
             "minCandidateNodesAbsolute": "min_candidate_nodes_absolute"}
    out = {}
    for k, v in raw.items():
        if k not in known:
            raise ValueError(f"unknown field {k!r} (expected one of {sorted(known)})")
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"{k} must be an integer")
        out[known[k]] = v
    pct = out.get("min_candidate_nodes_percentage", 10)
    absolute = out.get("min_candidate_nodes_absolute", 100)
    if not 0 <= pct <= 100:
        raise ValueError("minCandidateNodesPercentage must be in [0, 100]")
    if absolute < 0 or (pct == 0 and absolute == 0):
        raise ValueError("minCandidateNodesAbsolute must be >= 0, and not both 0")
    return out


class Simulation:
    """One run of one scenario with one seed."""

    def __init__(self, scenario: Scenario, seed: int | None = None):
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.streams = Streams(self.seed)
        self.env = simpy.Environment()
        self.recorder = Recorder()

        extra: set[str] = set()
        for pool in scenario.cluster.node_pools:
            extra |= set(pool.allocatable)
        for node in scenario.cluster.nodes:
            extra |= set(node.allocatable)
        for w in scenario.workloads:
            extra |= set(w.template.requests)
        for p in scenario.initial_pods:
            extra |= set(p.requests)
        self.resources = ResourceIndex.from_names(extra)
        self.state = ClusterState(self.resources)

        self._build_nodes()
        self.shapes: list[PodInfo] = self.state.shapes
        self._shape_ids: dict[tuple, int] = {}
        self.warnings: list[str] = []
        self.scheduler_settings = scenario.scheduler
        self.profiles = self._build_profiles()
        self._check_scheduler_names()
        self._check_gpu_filters()
        # Image catalog, node image store and per-workload kubelet model (None: plain pods).
        self.runtime = build_runtime(scenario, self.state, self.streams)
        self.kubelet = Kubelet(self.env, self.state, self.recorder, self._released, runtime=self.runtime)
        self.scheduler = Scheduler(
            self.env,
            self.state,
            self.profiles,
            self.recorder,
            on_bound=self.kubelet.start,
            settings=self.scheduler_settings,
            kubelet=self.kubelet,
        )
        self._bind_initial_pods()
        self._start_workloads()
        self.wall_s = 0.0

    # -- building -------------------------------------------------------------------

    def _allocatable(self, resources: dict) -> np.ndarray:
        amounts = base_units(resources)
        amounts.setdefault("pods", DEFAULT_MAX_PODS)
        return self.resources.vector(amounts)

    def _build_nodes(self) -> None:
        c = self.scenario.cluster
        for pi, pool in enumerate(c.node_pools):
            alloc = self._allocatable(pool.allocatable)
            names = [f"{pool.name}-{i}" for i in range(pool.count)]
            labels = []
            for i, name in enumerate(names):
                node_labels = {**pool.labels, HOSTNAME_LABEL: name, POOL_LABEL: pool.name}
                if pool.zones:
                    node_labels[ZONE_LABEL] = pool.zones[i % len(pool.zones)]
                labels.append(node_labels)
            cols = ops.add_nodes(self.state, names=names, allocatable=alloc, labels=labels,
                                 taints=_taints(pool.taints), pool=pi, now=self.env.now, gpus=_gpus(pool.gpus))
            for n in cols:
                self.recorder.event(self.env.now, "NodeAdded", -1, n)
        self.state.nodes.pool_names = [p.name for p in c.node_pools]
        for spec in c.nodes:
            labels = {**spec.labels, HOSTNAME_LABEL: spec.name}
            if spec.zone is not None:
                labels[ZONE_LABEL] = spec.zone
            self._add_node(spec.name, self._allocatable(spec.allocatable), labels, _taints(spec.taints), -1,
                           gpus=_gpus(spec.gpus))

    def _add_node(self, name: str, alloc: np.ndarray, labels: dict, taints: list[TaintSpec], pool: int,
                  gpus: tuple[int, str] | None = None) -> None:
        n = ops.add_node(
            self.state, name=name, allocatable=alloc, labels=labels, taints=taints, pool=pool, now=self.env.now,
            gpus=gpus,
        )
        self.recorder.event(self.env.now, "NodeAdded", -1, n)

    def _build_profiles(self) -> dict[str, Profile]:
        settings = self.scenario.scheduler
        if settings.config_file is not None:
            return self._profiles_from_config(settings.config_file)
        profiles: dict[str, Profile] = {}
        problems = []
        for i, spec in enumerate(settings.profiles):
            where = f"scheduler.profiles[{i}]"
            preset = PRESETS.get(spec.preset)
            if preset is None:
                problems.append((f"{where}.preset", f"unknown preset {spec.preset!r}; available: {sorted(PRESETS)}"))
                continue
            preemption_args = {}
            for p in spec.plugins:
                if p.name == "DefaultPreemption":
                    preemption_args = dict(p.args)
            enabled = [Ref(p.name, p.weight, dict(p.args)) for p in spec.plugins if p.name != "DefaultPreemption"]
            try:
                refs = merge(preset.plugins, enabled, list(spec.disabled))
            except ValueError as e:
                problems.append((f"{where}.plugins", str(e)))
                continue
            percentage = spec.percentage_of_nodes_to_score
            if percentage is None:
                percentage = preset.percentage_of_nodes_to_score
            if percentage is None:
                percentage = settings.percentage_of_nodes_to_score
            try:
                built = build_profile(spec.scheduler_name, refs, self.streams, i, percentage)
            except (PluginError, ValueError) as e:
                problems.append((f"{where}.plugins", str(e)))
                continue
            self.warnings += built.warnings
            if "DefaultPreemption" not in spec.disabled and "*" not in spec.disabled:
                try:
                    built.profile.post_filter = DefaultPreemption(
                        self.streams.generator("preemption", i), **_preemption_args(preemption_args)
                    )
                except ValueError as e:
                    problems.append((f"{where}.plugins", f"plugin DefaultPreemption: bad args: {e}"))
            profiles[spec.scheduler_name] = built.profile
        if problems:
            raise ScenarioError(self.scenario.source, problems)
        return profiles

    def _profiles_from_config(self, path: str) -> dict[str, Profile]:
        """Profiles from a KubeSchedulerConfiguration file (exact per-point plugin lists).

        Its global percentageOfNodesToScore and backoff settings replace the scenario's;
        every profile gets DefaultPreemption unless the file disables it.
        """
        from k8sim.scheduling.kubeconfig import load_kube_scheduler_configuration

        result = load_kube_scheduler_configuration(path)
        self.warnings += [f"{path}: {w}" for w in result.warnings]
        profiles = result.build_profiles(self.streams)
        queue = {k: v for k, v in result.settings.items() if k in (
            "podInitialBackoffSeconds", "podMaxBackoffSeconds")}
        if queue:
            merged = self.scenario.scheduler.model_dump(by_alias=True, exclude={"profiles", "config_file"})
            merged.update(queue)
            from k8sim.config.scenario import SchedulerSettings

            self.scheduler_settings = SchedulerSettings.model_validate(merged)
        raw = read_yaml(Path(path))
        postfilter_off: dict[str, bool] = {}
        for p in (raw.get("profiles") or []) if isinstance(raw, dict) else []:
            plugins = (p or {}).get("plugins") or {}
            names = set()
            for point in ("postFilter", "multiPoint"):
                for d in ((plugins.get(point) or {}).get("disabled") or []):
                    names.add((d or {}).get("name"))
            postfilter_off[(p or {}).get("schedulerName", DEFAULT_SCHEDULER)] = bool(
                names & {"DefaultPreemption", "*"})
        from k8sim.scheduling.registry import get as get_plugin

        for i, (name, prof) in enumerate(profiles.items()):
            if not postfilter_off.get(name, False):
                prof.post_filter = DefaultPreemption(self.streams.generator("preemption", i))
            if not any(f.name == "GpuFit" for f in prof.filters):
                # Upstream has no GpuFit (GPUs are an extended resource there); k8sim's
                # per-device model needs it, so every profile from a file gets it.
                prof.filters.append(get_plugin("GpuFit")())
        return profiles

    def _check_gpu_filters(self) -> None:
        """A profile that schedules GPU pods must run the GpuFit filter, or it could bind
        a pod to a node without free devices: reject that before the run starts."""
        problems = []
        for i, w in enumerate(self.scenario.workloads):
            if w.template.gpu is None:
                continue
            prof = self.profiles.get(w.template.scheduler_name)
            if prof is not None and not any(f.name == "GpuFit" for f in prof.filters):
                problems.append((
                    f"workloads[{i}].template.gpu",
                    f"profile {w.template.scheduler_name!r} has no GpuFit filter (it is disabled), "
                    "so it cannot place GPU pods",
                ))
        if problems:
            raise ScenarioError(self.scenario.source, problems)

    def _check_scheduler_names(self) -> None:
        problems = []
        for i, w in enumerate(self.scenario.workloads):
            if w.template.scheduler_name not in self.profiles:
                problems.append(
                    (
                        f"workloads[{i}].template.schedulerName",
                        f"no scheduler profile named {w.template.scheduler_name!r} "
                        f"(available: {sorted(self.profiles)})",
                    )
                )
        if problems:
            raise ScenarioError(self.scenario.source, problems)

    def shape_for(self, key: tuple, requests: np.ndarray, template: PodTemplate | None, workload: int = -1,
                  labels: dict[str, str] | None = None, priority: int = 0) -> int:
        """Intern the shape of pods with ``requests`` made from ``template`` (or, for
        initial pods, only labels and priority)."""
        full_key = (key, requests.tobytes())
        sid = self._shape_ids.get(full_key)
        if sid is not None:
            return sid
        nonzero = np.array(
            [requests[0] if requests[0] > 0 else DEFAULT_MILLI_CPU_REQUEST,
             requests[1] if requests[1] > 0 else DEFAULT_MEMORY_REQUEST],
            dtype=np.int64,
        )
        if template is None:
            info = PodInfo(shape=-1, requests=requests, nonzero=nonzero, priority=priority,
                           scheduler_name=DEFAULT_SCHEDULER, labels=dict(labels or {}), workload=workload)
        else:
            info = PodInfo(
                shape=-1,
                requests=requests,
                nonzero=nonzero,
                priority=self.scenario.pod_priority(template),
                scheduler_name=template.scheduler_name,
                node_selector=dict(template.node_selector),
                tolerations=tuple(template.tolerations),
                labels=dict(template.labels),
                workload=workload,
                node_name=template.node_name,
                affinity=template.affinity,
                spread=tuple(template.topology_spread_constraints),
                ports=tuple(template.ports),
                image=template.image,
                container_images=self.runtime.container_images(workload) if self.runtime is not None else (),
                preemption_policy=self.scenario.preemption_policy(template),
                termination_grace_s=template.termination_grace_period_s,
            )
            if template.gpu is not None:
                names = template.gpu.model_names()
                info.gpu_count, info.gpu_milli = template.gpu.count, template.gpu.milli
                info.gpu_models = (None if names is None
                                   else frozenset(ops.intern_gpu_model(self.state, m) for m in names))
        sid = ops.add_shape(self.state, info)
        self._shape_ids[full_key] = sid
        return sid

    def _bind_initial_pods(self) -> None:
        problems = []
        nodes = self.state.nodes
        for i, p in enumerate(self.scenario.initial_pods):
            node = nodes.name_index.get(p.node_name)
            if node is None:
                problems.append((f"initial_pods[{i}].nodeName", f"no node named {p.node_name!r}"))
                continue
            amounts = base_units(p.requests)
            amounts["pods"] = 1
            req = self.resources.vector(amounts)
            if np.any(nodes.free[:, node] < req):
                short = [self.resources.names[r] for r in np.flatnonzero(nodes.free[:, node] < req)]
                problems.append(
                    (f"initial_pods[{i}]", f"does not fit on node {p.node_name!r} (insufficient {', '.join(short)})")
                )
                continue
            duration = math.inf
            if p.duration is not None:
                duration = float(p.duration.sample(self.streams.generator("initial-duration", i), 1)[0])
            shape = self.shape_for(("initial", i), req, None, labels=p.labels, priority=p.priority)
            pod = self.state.pods.append(
                name=p.name, requests=req, workload=-1, index=i, shape=shape, priority=p.priority,
                created=0.0, duration=duration, start_latency=0.0,
            )
            self.recorder.event(0.0, "PodCreated", pod, -1)
            ops.bind(self.state, pod, node, 0.0)
            self.recorder.event(0.0, "Scheduled", pod, node, "initial")
            self.kubelet.start(pod)
        if problems:
            raise ScenarioError(self.scenario.source, problems)

    def _start_workloads(self) -> None:
        for wi, w in enumerate(self.scenario.workloads):
            amounts = base_units(w.template.requests)
            amounts["pods"] = 1
            req = self.resources.vector(amounts)
            shape = self.shape_for(("workload", wi), req, w.template, workload=wi)
            start = w.template.start_latency or self.scenario.defaults.start_latency
            durations = BlockSampler(w.duration, self.streams.generator("duration", wi)) if w.duration else None
            latencies = BlockSampler(start, self.streams.generator("start-latency", wi))
            times = arrival_times(w, self.streams.generator("arrivals", wi))
            self.env.process(arrival_process(self.env, times, self._creator(wi, w.name, req, shape, durations, latencies)))

    def _creator(self, wi: int, name: str, req: np.ndarray, shape: int, durations: BlockSampler | None, latencies: BlockSampler) -> Callable[[], None]:
        pods = self.state.pods
        priority = self.state.shapes[shape].priority
        gpu_count, gpu_milli = self.state.shapes[shape].gpu_count, self.state.shapes[shape].gpu_milli
        counter = [0]

        def create() -> None:
            i = counter[0]
            counter[0] += 1
            now = self.env.now
            pod = pods.append(
                name=f"{name}-{i}", requests=req, workload=wi, index=i, shape=shape, priority=priority,
                created=now,
                duration=durations.next() if durations is not None else math.inf,
                start_latency=latencies.next(), gpu_count=gpu_count, gpu_milli=gpu_milli,
            )
            self.recorder.event(now, "PodCreated", pod, -1)
            self.scheduler.submit(pod)

        return create

    def _released(self, node: int) -> None:
        self.scheduler.on_capacity_freed(node)

    # -- running --------------------------------------------------------------------

    def never_fit(self) -> dict[str, list[str]]:
        """Workloads whose pods exceed every node's allocatable: name -> resources."""
        out = {}
        alloc = self.state.nodes.alloc
        for ((kind, wi), _), sid in self._shape_ids.items():
            if kind != "workload":
                continue
            info = self.shapes[sid]
            rows = info.requested_rows
            fits_some = (alloc[rows] >= info.req_col).all(axis=0).any()
            if not fits_some:
                over = [self.resources.names[r] for r in rows if (alloc[r] < info.requests[r]).all()]
                out[self.scenario.workloads[wi].name] = over
        return out

    def run(self, progress: ProgressFn | None = None, chunk_s: float | None = None) -> RunResult:
        """Advance to ``duration_s`` (or until no event is left) and collect results.

        ``progress(now)`` is called after each chunk of ``chunk_s`` virtual seconds.
        """
        t0 = _time.perf_counter()
        end = self.scenario.duration_s
        env = self.env
        if progress is None:
            env.run(until=end)
        else:
            step = chunk_s or (end / 200 if end else 60.0)
            horizon = math.inf if end is None else end
            while True:
                nxt = env.peek()
                if nxt >= horizon or nxt == math.inf:
                    break
                # Step event by event (not run(until=...)): a finished run(until=T)
                # leaves its stop event queued at T, which would look like more work.
                chunk_end = min(nxt + step, horizon)
                while env.peek() < chunk_end:
                    env.step()
                progress(env.now)
            if end is not None:
                env.run(until=end)
            progress(env.now)
        self.wall_s = _time.perf_counter() - t0
        return RunResult.from_simulation(self)

    @property
    def end_time(self) -> float:
        """The virtual time the run covers up to."""
        if self.scenario.duration_s is not None:
            return float(self.scenario.duration_s)
        # Until drained: the last thing that happened (chunked progress runs may have
        # advanced the clock past it).
        return float(self.recorder.time[-1]) if len(self.recorder) else 0.0


def run(scenario: Scenario, seed: int | None = None, progress: ProgressFn | None = None) -> RunResult:
    """Build and run a simulation of ``scenario``; returns its :class:`RunResult`."""
    return Simulation(scenario, seed=seed).run(progress=progress)


def _gpus(spec: NodeGpus | None) -> tuple[int, str] | None:
    return None if spec is None else (spec.count, spec.model)
