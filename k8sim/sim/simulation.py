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
import pandas as pd
import simpy

from k8sim.cluster import ops
from k8sim.cluster.nodes import ResourceIndex, TaintSpec
from k8sim.cluster.ops import ClusterState
from k8sim.cluster.pods import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST
from k8sim.config.loader import ScenarioError, read_yaml
from k8sim.config.scenario import (
    DEFAULT_MAX_PODS,
    DEFAULT_SCHEDULER,
    GPU_MILLI,
    HOSTNAME_LABEL,
    MAX_GPUS_PER_NODE,
    POOL_LABEL,
    ZONE_LABEL,
    NodeGpus,
    PodTemplate,
    Scenario,
    Taint,
    TraceNodes,
    Workload,
    base_units,
)
from k8sim.metrics.recorder import Recorder
from k8sim.metrics.result import RunResult
from k8sim.rng import BlockSampler, Streams
from k8sim.runtime.kubelet import Kubelet
from k8sim.runtime.spec import build_runtime
from k8sim.scheduling.framework import NodePriority, Profile
from k8sim.scheduling.plugins.fgd import FGD, Target, target_workload_from_pods
from k8sim.scheduling.podinfo import PodInfo
from k8sim.scheduling.preemption import DefaultPreemption
from k8sim.scheduling.profiles import PRESETS, Ref, build_profile, merge
from k8sim.scheduling.registry import PluginError
from k8sim.scheduling.scheduler import Scheduler
from k8sim.workloads.generators import arrival_process, arrival_times
from k8sim.workloads.replay import InflationError, Replay, load_replay, report_warnings
from k8sim.workloads.traces.formats import read_nodes
from k8sim.workloads.traces.schema import TraceError

#: Marks trace pods whose priority comes from the template.
TEMPLATE_PRIORITY = np.iinfo(np.int64).min
#: GPU model of trace nodes whose list gives GPUs but no model.
UNNAMED_GPU_MODEL = "unnamed"

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

        self.trace_node_counts: list[int] = []
        self.replays: dict[str, Replay] = {}
        self.warnings: list[str] = []
        self._build_nodes()
        self.shapes: list[PodInfo] = self.state.shapes
        self._shape_ids: dict[tuple, int] = {}
        self.scheduler_settings = scenario.scheduler
        self.profiles = self._build_profiles()
        self._check_scheduler_names()
        self._check_gpu_filters()
        # Image catalog, node image store and per-workload kubelet model (None: plain pods).
        self.runtime = build_runtime(scenario, self.state, self.streams)
        self.kubelet = Kubelet(self.env, self.state, self.recorder, self._released, runtime=self.runtime)
        inflation = any(w.trace is not None and w.trace.mode == "inflation" for w in scenario.workloads)
        tie_break = self.scheduler_settings.tie_break or ("nodePriority" if inflation else "random")
        if tie_break == "nodePriority":
            priority = NodePriority(self.streams.generator("node-priority"))
            for prof in self.profiles.values():
                prof.node_priority = priority
        self.scheduler = Scheduler(
            self.env,
            self.state,
            self.profiles,
            self.recorder,
            on_bound=self.kubelet.start,
            settings=self.scheduler_settings,
            kubelet=self.kubelet,
            drop_unschedulable=inflation,
        )
        self._bind_initial_pods()
        self._start_workloads()
        # The target workload of the GPU fragmentation measure (and of FGD profiles
        # given no targetWorkload): the trace workloads' pods, by the 95% rule.
        self.gpu_target: list[dict] | None = None
        if self.replays:
            traces = pd.concat([r.trace for r in self.replays.values()], ignore_index=True)
            self.gpu_target = target_workload_from_pods(traces)
            for prof in self.profiles.values():
                for plugin, _ in prof.scores:
                    if isinstance(plugin, FGD) and not plugin.args.targetWorkload:  # type: ignore[union-attr]
                        plugin.target = Target.of(self.gpu_target)
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
        self.state.nodes.pool_names = [p.name for p in c.node_pools] + [t.name for t in c.trace_nodes]
        for j, spec in enumerate(c.trace_nodes):
            self._add_trace_nodes(j, spec, len(c.node_pools) + j)
        for spec in c.nodes:
            labels = {**spec.labels, HOSTNAME_LABEL: spec.name}
            if spec.zone is not None:
                labels[ZONE_LABEL] = spec.zone
            self._add_node(spec.name, self._allocatable(spec.allocatable), labels, _taints(spec.taints), -1,
                           gpus=_gpus(spec.gpus))

    def _add_trace_nodes(self, j: int, spec: TraceNodes, pool: int) -> None:
        """The nodes of one trace node list, in file order (one bulk add per run of
        consecutive nodes of the same shape)."""
        where = f"cluster.trace_nodes[{j}]"
        try:
            frame, report = read_nodes(spec.format, spec.file, dict(spec.args))
        except TraceError as e:
            raise ScenarioError(self.scenario.source, [(f"{where}.file", str(e))]) from None
        self.warnings += report_warnings(where, [report])
        if spec.gpu_only:
            frame = frame[frame["gpu_count"] > 0].reset_index(drop=True)
            if len(frame) == 0:
                raise ScenarioError(self.scenario.source, [(f"{where}.gpu_only", f"{spec.file} lists no GPU node")])
        too_many = frame["gpu_count"] > MAX_GPUS_PER_NODE
        if too_many.any():
            row = frame[too_many].iloc[0]
            raise ScenarioError(self.scenario.source, [(
                f"{where}.file",
                f"{spec.file}: node {row['name']!r} has {row['gpu_count']} GPUs; at most {MAX_GPUS_PER_NODE} are modelled",
            )])
        self.trace_node_counts.append(len(frame))
        cpu = frame["cpu_milli"].to_numpy()
        mem = frame["memory_bytes"].to_numpy()
        gpus = frame["gpu_count"].to_numpy()
        models = frame["gpu_model"].to_numpy(dtype=object)
        names = frame["name"].astype(str).tolist()
        key = list(zip(cpu.tolist(), mem.tolist(), gpus.tolist(), models.tolist(), strict=True))
        taints = _taints(spec.taints)
        start = 0
        while start < len(key):
            stop = start + 1
            while stop < len(key) and key[stop] == key[start]:
                stop += 1
            c, m, g, model = key[start]
            alloc = self.resources.vector({"cpu": c, "memory": m, "pods": spec.pods})
            run_names = names[start:stop]
            labels = [{**spec.labels, HOSTNAME_LABEL: n, POOL_LABEL: spec.name} for n in run_names]
            try:
                cols = ops.add_nodes(self.state, names=run_names, allocatable=alloc, labels=labels, taints=taints,
                                     pool=pool, now=self.env.now, gpus=(g, model or UNNAMED_GPU_MODEL) if g else None)
            except ValueError as e:
                raise ScenarioError(self.scenario.source, [(f"{where}.file", f"{spec.file}: {e}")]) from None
            for n in cols:
                self.recorder.event(self.env.now, "NodeAdded", -1, n)
            start = stop

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
                  labels: dict[str, str] | None = None, priority: int = 0,
                  gpu: tuple[int, int, frozenset[str] | None] | None = None,
                  trace_priority: int | None = None) -> int:
        """Intern the shape of pods with ``requests`` made from ``template`` (or, for
        initial pods, only labels and priority). Trace pods pass their own ``gpu``
        request ``(count, milli, allowed model names or None)`` and, with
        ``use_trace_priority``, their ``trace_priority``."""
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
            if gpu is not None and gpu[0] > 0:
                info.gpu_count, info.gpu_milli = gpu[0], gpu[1]
                info.gpu_models = (None if gpu[2] is None
                                   else frozenset(ops.intern_gpu_model(self.state, m) for m in gpu[2]))
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
            if trace_priority is not None:
                info.priority = trace_priority
            if gpu is None and template.gpu is not None:
                gpu = (template.gpu.count, template.gpu.milli, template.gpu.model_names())
            if gpu is not None and gpu[0] > 0:
                count, milli, names = gpu
                info.gpu_count, info.gpu_milli = count, milli
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
            gpu = None
            if p.gpu is not None:
                gpu = (p.gpu.count, p.gpu.milli, p.gpu.model_names())
                allowed = gpu[2] is None or (nodes.gpu_model[node] >= 0
                                             and nodes.gpu_models[nodes.gpu_model[node]] in gpu[2])
                if not allowed or not ops.choose_gpus(self.state, node, p.gpu.count, p.gpu.milli):
                    problems.append((f"initial_pods[{i}].gpu", f"node {p.node_name!r} has no room for "
                                     f"{p.gpu.count} GPU(s) of {p.gpu.milli}m" + ("" if allowed else " of an allowed model")))
                    continue
            duration = math.inf
            if p.duration is not None:
                duration = float(p.duration.sample(self.streams.generator("initial-duration", i), 1)[0])
            shape = self.shape_for(("initial", i), req, None, labels=p.labels, priority=p.priority, gpu=gpu)
            pod = self.state.pods.append(
                name=p.name, requests=req, workload=-1, index=i, shape=shape, priority=p.priority,
                created=0.0, duration=duration, start_latency=0.0,
                gpu_count=gpu[0] if gpu else 0, gpu_milli=gpu[1] if gpu else 0,
            )
            self.recorder.event(0.0, "PodCreated", pod, -1)
            ops.bind(self.state, pod, node, 0.0)
            self.recorder.event(0.0, "Scheduled", pod, node, "initial")
            self.kubelet.start(pod)
        if problems:
            raise ScenarioError(self.scenario.source, problems)

    def _start_workloads(self) -> None:
        for wi, w in enumerate(self.scenario.workloads):
            if w.trace is not None:
                self._start_trace(wi, w)
                continue
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

    def _start_trace(self, wi: int, w: Workload) -> None:
        """Submit a trace workload's pods (see :mod:`k8sim.workloads.replay`)."""
        assert w.trace is not None
        where = f"workloads[{wi}].trace"
        capacity = int(self.state.nodes.gpu_count.sum()) * GPU_MILLI
        try:
            replay = load_replay(w.trace, sample_rng=self.streams.generator("trace-sample", wi),
                                 inflation_rng=self.streams.generator("trace-inflation", wi),
                                 gpu_capacity_milli=capacity, max_pods=w.max_pods)
        except TraceError as e:
            raise ScenarioError(self.scenario.source, [(f"{where}.files", str(e))]) from None
        except InflationError as e:
            raise ScenarioError(self.scenario.source, [(f"{where}.mode", str(e))]) from None
        except ValueError as e:
            raise ScenarioError(self.scenario.source, [(f"{where}.args", str(e))]) from None
        self.replays[w.name] = replay
        self.warnings += report_warnings(where, replay.reports)
        pods = replay.pods
        n = len(pods)
        # Pod priority: by QoS class where mapped, else the trace's (use_trace_priority),
        # else the template's (TEMPLATE_PRIORITY marks those).
        prio_col = np.full(n, TEMPLATE_PRIORITY, dtype=np.int64)
        if w.trace.use_trace_priority:
            prio_col = pods["priority"].to_numpy(dtype=np.int64).copy()
        if w.trace.priority_by_qos:
            qos = pods["qos"].astype(str)
            mapped = qos.map(w.trace.priority_by_qos)
            has = mapped.notna().to_numpy()
            prio_col[has] = mapped[has].to_numpy(dtype=np.int64)
            unknown = sorted(set(w.trace.priority_by_qos) - set(qos.unique()))
            if unknown:
                self.warnings.append(f"{where}.priority_by_qos: no pod of the trace has QoS {unknown}")
        # One shape per distinct (requests, GPU request, priority).
        key_cols = ["cpu_milli", "memory_bytes", "gpu_count", "gpu_milli", "gpu_model"]
        codes, uniques = pd.MultiIndex.from_frame(pods[key_cols].assign(_priority=prio_col)).factorize()
        shape_of = np.empty(len(uniques), dtype=np.int64)
        nt = self.state.nodes
        models_on_nodes = {nt.gpu_models[c] for c in np.unique(nt.gpu_model[nt.gpu_model >= 0]).tolist()}
        missing: dict[str, int] = {}
        counts = np.bincount(codes, minlength=len(uniques))
        for u, values in enumerate(uniques):
            cpu, mem, gcount, gmilli, gmodel = values[:5]
            prio = None if int(values[5]) == TEMPLATE_PRIORITY else int(values[5])
            names = frozenset(m for m in str(gmodel).split("|") if m) or None
            if gcount > 0 and names is not None and not names & models_on_nodes:
                missing[str(gmodel)] = missing.get(str(gmodel), 0) + int(counts[u])
            req = self.resources.vector({"cpu": int(cpu), "memory": int(mem), "pods": 1})
            shape_of[u] = self.shape_for(("trace", wi, int(gcount), int(gmilli), str(gmodel), prio), req, w.template,
                                         workload=wi, gpu=(int(gcount), int(gmilli), names), trace_priority=prio)
        if missing:
            listed = ", ".join(f"{m} ({c} pods)" for m, c in sorted(missing.items()))
            self.warnings.append(f"{where}: GPU models on no node of the cluster: {listed}; those pods cannot be placed")
        shapes = shape_of[codes]
        fits = self._fits_some_node(np.unique(shapes))
        never = int((~fits[shapes]).sum()) if fits.size else 0
        if never:
            self.warnings.append(f"{where}: {never} of {n} pods fit no node of the cluster (CPU, memory or GPUs)")
        if self.profiles.get(w.template.scheduler_name) is not None and (pods["gpu_count"] > 0).any():
            prof = self.profiles[w.template.scheduler_name]
            if not any(f.name == "GpuFit" for f in prof.filters):
                raise ScenarioError(self.scenario.source, [(
                    f"workloads[{wi}].template.schedulerName",
                    f"profile {w.template.scheduler_name!r} has no GpuFit filter, so it cannot place the trace's GPU pods",
                )])
        duration = pods["duration_s"].to_numpy(dtype=np.float64)
        duration = np.where(np.isnan(duration), math.inf, duration)
        start = w.template.start_latency or self.scenario.defaults.start_latency
        latencies = BlockSampler(start, self.streams.generator("start-latency", wi))
        names = pods["name"].tolist()
        shape_list = shapes.tolist()
        duration_list = duration.tolist()
        table = self.state.pods
        infos = self.state.shapes
        counter = [0]

        def create() -> None:
            i = counter[0]
            counter[0] += 1
            info = infos[shape_list[i]]
            now = self.env.now
            pod = table.append(
                name=names[i], requests=info.requests, workload=wi, index=i, shape=shape_list[i],
                priority=info.priority, created=now, duration=duration_list[i], start_latency=latencies.next(),
                gpu_count=info.gpu_count, gpu_milli=info.gpu_milli,
            )
            self.recorder.event(now, "PodCreated", pod, -1)
            self.scheduler.submit(pod)

        times = pods["submit_s"].to_numpy(dtype=np.float64).tolist()
        self.env.process(arrival_process(self.env, iter(times), create))

    def _fits_some_node(self, shape_ids: np.ndarray) -> np.ndarray:
        """``bool[S]`` (indexed by shape id): the shape's requests fit some node's
        allocatable and, for GPU shapes, some node has enough devices of an allowed model."""
        out = np.zeros(len(self.state.shapes), dtype=bool)
        nodes = self.state.nodes
        for s in shape_ids.tolist():
            info = self.state.shapes[s]
            ok = (nodes.alloc >= info.requests[:, None]).all(axis=0)
            if info.gpu_count:
                ok &= nodes.gpu_count >= info.gpu_count
                if info.gpu_models is not None:
                    ok &= np.isin(nodes.gpu_model, list(info.gpu_models))
            out[s] = bool(ok.any())
        return out

    def _released(self, node: int) -> None:
        self.scheduler.on_capacity_freed(node)

    # -- running --------------------------------------------------------------------

    def never_fit(self) -> dict[str, list[str]]:
        """Workloads whose pods exceed every node's allocatable: name -> resources."""
        out = {}
        alloc = self.state.nodes.alloc
        for (key, _), sid in self._shape_ids.items():
            if key[0] != "workload":
                continue
            wi = key[1]
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
