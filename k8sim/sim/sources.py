"""The workload sources component: initial pods, synthetic workloads, trace replays.

Built from the scenario (that is when trace files are read and every problem is
reported with its field path), it creates pods through the Cluster API:

- initial pods, bound at time 0 to their ``nodeName`` (they bypass the scheduler), in
  scenario order, each checked against what the earlier ones left free;
- one arrival process per workload, in scenario order: each arrival creates the next
  pod (``<workload>-<i>`` or the trace's name) with its duration and start latency drawn
  from the workload's own streams, so every policy run on a seed sees the same pods.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from k8sim.cluster import ops
from k8sim.cluster.api import AdmissionRefused
from k8sim.component import Context, Contribution
from k8sim.config.loader import ScenarioError
from k8sim.config.scenario import GPU_MILLI, PodTemplate, Workload
from k8sim.rng import BlockSampler
from k8sim.runtime.timers import Arrivals
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.plugins.fgd import target_workload_from_pods
from k8sim.scheduling.pod_resources import ContainerRequests, pod_resources
from k8sim.sim.build.shapes import ShapeBook, spec_resources, trace_nonzero
from k8sim.sim.job_sources import prepare_job_trace, trace_jobs_frame
from k8sim.workloads.generators import arrival_process, arrival_times
from k8sim.workloads.replay import InflationError, Replay, load_replay, report_warnings
from k8sim.workloads.traces.jobs import TraceJobs
from k8sim.workloads.traces.schema import TraceError

#: Marks trace pods whose priority comes from the template.
TEMPLATE_PRIORITY = np.iinfo(np.int64).min


class WorkloadSources:
    """Initial pods and every workload's arrivals (see the module docstring)."""

    name = "workloads"
    #: Arrivals of synthetic and trace workloads as timers (:class:`Arrivals`); False:
    #: a generator process each, the reference the timers reproduce event for event.
    arrival_timers = True

    def __init__(self, ctx: Context, shapes: ShapeBook, profiles: dict[str, Profile],
                 templates: dict[int, PodTemplate | None] | None = None):
        """``templates``: synthetic workloads' templates after LimitRange admission
        (:func:`k8sim.controllers.limitranger.workload_templates`; None: a workload whose
        pods are all rejected, not run)."""
        self.ctx = ctx
        self.templates = templates or {}
        self.shapes = shapes
        self.profiles = profiles
        self.replays: dict[str, Replay] = {}
        #: Job traces (``workloads[].jobs``) by workload name, as read (plus ``queue``).
        self.job_traces: dict[str, TraceJobs] = {}
        #: The pod table rows up to which trace pods are expected (PodTable.prefill).
        self._rows_ahead = 0
        self._bind_initial_pods()
        self._starts: list[Callable[[], None]] = []
        for wi, w in enumerate(ctx.scenario.workloads):
            if w.manifest is not None or (w.trace is not None and w.trace.args.get("replay") == "controllers"):
                continue  # run by the controllers (k8sim.controllers.manager)
            if w.trace is not None:
                self._prepare_trace(wi, w)
            elif w.jobs is not None:
                prepare_job_trace(self, wi, w)
            elif w.gang is not None:
                self._prepare_gang(wi, w)
            else:
                self._prepare_synthetic(wi, w)

    def start(self) -> None:
        """Start one arrival process per workload, in scenario order."""
        for start in self._starts:
            start()

    @property
    def gpu_target(self) -> list[dict] | None:
        """The target workload of GPU fragmentation (the measure, and FGD profiles given
        no targetWorkload): the trace workloads' pods by the 95% rule; None without
        trace workloads."""
        if not self.replays:
            return None
        keys = ["cpu_milli", "gpu_milli", "gpu_count", "gpu_model"]  # what it groups by
        return target_workload_from_pods(pd.concat([r.trace[keys] for r in self.replays.values()],
                                                   ignore_index=True))

    def contribute(self) -> Contribution:
        out = Contribution()
        trace = self.trace_frame()
        if trace is not None:
            out.frames["trace"] = trace
        jobs = trace_jobs_frame(self.job_traces)
        if jobs is not None:
            out.frames["trace_jobs"] = jobs
        return out

    # -- initial pods -------------------------------------------------------------------

    def _bind_initial_pods(self) -> None:
        ctx = self.ctx
        api, state = ctx.api, ctx.state
        problems = []
        nodes = state.nodes
        # Initial pods may exceed their node's allocatable (a warning, not an error) when
        # the state allows it (a real cluster's snapshot).
        overcommit = state.allow_overcommit
        over: dict[str, set[str]] = {}
        for i, p in enumerate(ctx.scenario.initial_pods):
            node = nodes.name_index.get(p.node_name)
            if node is None:
                problems.append((f"initial_pods[{i}].nodeName", f"no node named {p.node_name!r}"))
                continue
            res = spec_resources(p)
            amounts = dict(res.requests)
            amounts["pods"] = 1
            req = state.resources.vector(amounts)
            if np.any(nodes.free[:, node] < req):
                lacking = [state.resources.names[r] for r in np.flatnonzero(nodes.free[:, node] < req)]
                if not overcommit:
                    problems.append(
                        (f"initial_pods[{i}]", f"does not fit on node {p.node_name!r} (insufficient {', '.join(lacking)})")
                    )
                    continue
                # A real cluster's snapshot: the kubelet admitted the pod (static pods,
                # a node resized since), and kube-scheduler accounts for it as is.
                over.setdefault(p.node_name, set()).update(lacking)
            gpu = None
            if p.gpu is not None:
                gpu = (p.gpu.count, p.gpu.milli, p.gpu.model_names())
                allowed = gpu[2] is None or (nodes.gpu_model[node] >= 0
                                             and nodes.gpu_models[nodes.gpu_model[node]] in gpu[2])
                if not allowed or not ops.choose_gpus(state, node, p.gpu.count, p.gpu.milli):
                    problems.append((f"initial_pods[{i}].gpu", f"node {p.node_name!r} has no room for "
                                     f"{p.gpu.count} GPU(s) of {p.gpu.milli}m" + ("" if allowed else " of an allowed model")))
                    continue
                if p.gpu_devices is not None:
                    free, ndev = nodes.gpu_free[node], int(nodes.gpu_count[node])
                    bad = [d for d in p.gpu_devices if d >= ndev or free[d] < p.gpu.milli]
                    if bad:
                        problems.append((f"initial_pods[{i}].gpuDevices",
                                         f"node {p.node_name!r} has {ndev} GPU device(s); device(s) {bad} "
                                         f"missing or without {p.gpu.milli}m free"))
                        continue
            duration = math.inf
            if p.duration is not None:
                duration = float(p.duration.sample(ctx.streams.generator("initial-duration", i), 1)[0])
            shape = self.shapes.shape_for(("initial", i), req, None, labels=p.labels, priority=p.priority, gpu=gpu,
                                          nonzero=res.nonzero, nonzero_bound=res.nonzero_bound, initial=p)
            pod = api.create_pod(
                name=p.name, requests=req, workload=-1, index=i, shape=shape, priority=p.priority,
                duration=duration, start_latency=0.0,
                gpu_count=gpu[0] if gpu else 0, gpu_milli=gpu[1] if gpu else 0, node=node,
                nonzero=state.shapes[shape].nonzero_bound, existing=True,
            )
            if p.gpu_devices is not None:
                ops.assign_gpus(state, pod, sum(1 << d for d in p.gpu_devices))
            api.bind(pod, node, "initial")
        if problems:
            raise ScenarioError(ctx.source, problems)
        for name, short in over.items():
            ctx.warnings.append(
                f"node {name!r}: its bound pods exceed its allocatable ({', '.join(sorted(short))}); "
                "kept as is (no pod fits there until some leave)"
            )

    # -- workloads ----------------------------------------------------------------------

    def _source(self, wi: int, times: Iterable[float], name_of: Callable[[int], str],
                shape_of: Callable[[int], int], duration_of: Callable[[int], float],
                latencies: BlockSampler, reserved: int | None = None) -> Callable[[], None]:
        """A starter of workload ``wi``'s arrival process: the i-th arrival creates a pod
        named ``name_of(i)`` of shape ``shape_of(i)`` with ``duration_of(i)`` (drawn
        first) and the next start latency. ``reserved``: the pod table has the i-th
        pod's values at row ``reserved + i`` (:meth:`PodTable.prefill
        <k8sim.cluster.pods.PodTable.prefill>`), taken while that is the next row."""
        ctx = self.ctx
        api, infos, table = ctx.api, ctx.state.shapes, ctx.state.pods
        counter = [0]

        def create() -> None:
            i = counter[0]
            counter[0] += 1
            if reserved is not None and table.n == reserved + i and api.admits_all:
                api.create_reserved(name_of(i), latencies.next())
                return
            info = infos[shape_of(i)]
            try:
                api.create_pod(
                    name=name_of(i), requests=info.requests, workload=wi, index=i, shape=info.shape,
                    priority=info.priority, duration=duration_of(i), start_latency=latencies.next(),
                    gpu_count=info.gpu_count, gpu_milli=info.gpu_milli, nonzero=info.nonzero_bound,
                )
            except AdmissionRefused:
                pass  # a refused arrival is not retried (the admission recorded it)

        def start() -> None:
            if self.arrival_timers:  # the same events in the same places (see Arrivals)
                Arrivals(ctx.env, iter(times), create).start()
            else:
                ctx.env.process(arrival_process(ctx.env, iter(times), create))

        return start

    def _prepare_synthetic(self, wi: int, w: Workload) -> None:
        ctx = self.ctx
        if wi in self.templates:
            admitted = self.templates[wi]
            if admitted is None:
                return  # every pod is forbidden by a LimitRange (warned)
            w = w.model_copy(update={"template": admitted})
        res = spec_resources(w.template, ctx.scenario.runtime_class(w.template))
        amounts = dict(res.requests)
        amounts["pods"] = 1
        req = ctx.state.resources.vector(amounts)
        shape = self.shapes.shape_for(("workload", wi), req, w.template, workload=wi,
                                      nonzero=res.nonzero, nonzero_bound=res.nonzero_bound)
        start = w.template.start_latency or ctx.scenario.defaults.start_latency
        durations = BlockSampler(w.duration, ctx.streams.generator("duration", wi)) if w.duration else None
        latencies = BlockSampler(start, ctx.streams.generator("start-latency", wi))
        times = arrival_times(w, ctx.streams.generator("arrivals", wi))
        name = w.name
        if w.queue is not None:
            self._prepare_queued(wi, w, shape, res, durations, latencies, times)
            return
        self._starts.append(self._source(
            wi, times, lambda i: f"{name}-{i}", lambda i: shape,
            (lambda i: durations.next()) if durations is not None else (lambda i: math.inf), latencies,
        ))

    def _prepare_gang(self, wi: int, w: Workload) -> None:
        """A gang workload (``docs/batch.md``): each arrival is a job, a PodGroup
        ``<name>-<j>`` created then, and its ``workers`` pods ``<name>-<j>-<k>``, worker
        ``k`` created ``k * workerIntervalSeconds`` after the arrival. A training job's
        base run time is drawn when it arrives (stream ``training-duration``), its
        workers run until the job ends; otherwise each worker draws its ``duration``."""
        gang = w.gang
        assert gang is not None
        ctx = self.ctx
        groups = ctx.components.get("pod_groups")
        assert groups is not None, "a gang workload needs the PodGroups component"
        res = spec_resources(w.template, ctx.scenario.runtime_class(w.template))
        amounts = dict(res.requests)
        amounts["pods"] = 1
        state = ctx.state
        req = state.resources.vector(amounts)
        shape = self.shapes.shape_for(("workload", wi), req, w.template, workload=wi,
                                      nonzero=res.nonzero, nonzero_bound=res.nonzero_bound)
        info = state.shapes[shape]
        start = w.template.start_latency or ctx.scenario.defaults.start_latency
        durations = BlockSampler(w.duration, ctx.streams.generator("duration", wi)) if w.duration else None
        latencies = BlockSampler(start, ctx.streams.generator("start-latency", wi))
        training = gang.training
        base = (BlockSampler(training.duration, ctx.streams.generator("training-duration", wi))
                if training is not None else None)
        jobs_w = w if w.max_pods is None else w.model_copy(update={"max_pods": w.max_pods // gang.workers})
        times = arrival_times(jobs_w, ctx.streams.generator("arrivals", wi))
        min_res = min_resources_vector(state, gang.min_resources, f"workloads[{wi}].gang.minResources", ctx.source)
        short = w.name.rsplit("/", 1)[-1]
        api, env = ctx.api, ctx.env
        counter = [0, 0]  # jobs, pods

        def worker(group: Any, j: int, k: int) -> None:
            i = counter[1]
            counter[1] += 1
            duration = durations.next() if durations is not None else math.inf
            groups.join_next(group)
            api.create_pod(
                name=f"{w.name}-{j}-{k}", requests=info.requests, workload=wi, index=i, shape=shape,
                priority=info.priority, duration=duration, start_latency=latencies.next(),
                gpu_count=info.gpu_count, gpu_milli=info.gpu_milli, nonzero=info.nonzero_bound,
            )

        if w.queue is not None:
            self._prepare_queued_gang(wi, w, shape, res, durations, latencies, times, base, min_res)
            return

        def job() -> None:
            j = counter[0]
            counter[0] += 1
            group = groups.add(info.namespace, f"{short}-{j}", gang.min_member or gang.workers,
                               gang.schedule_timeout_s, min_res, workers=gang.workers, training=training,
                               base_duration=base.next() if base is not None else math.nan, workload=wi)
            for k in range(gang.workers):
                delay = k * gang.worker_interval_s
                if delay <= 0:
                    worker(group, j, k)
                else:
                    env.timeout(delay).callbacks.append(functools.partial(_later, worker, group, j, k))

        def begin() -> None:
            env.process(arrival_process(env, iter(times), job))

        self._starts.append(begin)

    # -- queued workloads (docs/batch.md) ---------------------------------------------

    def _flavor_shapes(self, wi: int, w: Workload, res: Any) -> Callable[[tuple[str, ...]], int]:
        """The shape of workload ``wi``'s pods under a flavor assignment: the flavors'
        ``nodeLabels`` join the nodeSelector and their ``tolerations`` the tolerations
        (Kueue ``podset.Merge``), one shape per distinct assignment."""
        kueue = self.ctx.components["kueue"]
        state = self.ctx.state
        amounts = dict(res.requests)
        amounts["pods"] = 1
        req = state.resources.vector(amounts)
        cache: dict[tuple[str, ...], int] = {}

        def shape_of(flavors: tuple[str, ...]) -> int:
            sid = cache.get(flavors)
            if sid is None:
                selector = dict(w.template.node_selector)
                tolerations = list(w.template.tolerations)
                for f in flavors:
                    spec = kueue.flavors[f]
                    selector.update(spec.node_labels)
                    tolerations.extend(spec.tolerations)
                t = w.template.model_copy(update={"node_selector": selector, "tolerations": tolerations})
                sid = cache[flavors] = self.shapes.shape_for(("workload", wi, "flavors", flavors), req, t,
                                                             workload=wi, nonzero=res.nonzero,
                                                             nonzero_bound=res.nonzero_bound)
            return sid

        return shape_of

    def _workload_requests(self, shape: int, pods: int) -> dict[str, int]:
        """A workload's total requests (resource -> base units; GPUs in milli-GPU)."""
        from k8sim.batch.kueue import GPU_RESOURCE

        state = self.ctx.state
        info = state.shapes[shape]
        out = {name: int(v) * pods for name, v in zip(state.resources.names, info.requests.tolist(), strict=True)
               if v}
        if info.gpu_count:
            out[GPU_RESOURCE] = int(info.gpu_count) * int(info.gpu_milli) * pods
        return out

    def _prepare_queued(self, wi: int, w: Workload, shape: int, res: Any, durations: BlockSampler | None,
                        latencies: BlockSampler, times: Iterable[float]) -> None:
        """Each arrival of a queued workload is a one-pod workload submitted to its
        LocalQueue; its pod is created when the queue admits it (its run time is drawn
        at the arrival, and a re-admission after an eviction runs it again)."""
        ctx = self.ctx
        kueue = ctx.components["kueue"]
        api, env = ctx.api, ctx.env
        info = ctx.state.shapes[shape]
        lq = kueue.local_queue(w.template.namespace, w.queue)
        shape_of = self._flavor_shapes(wi, w, res)
        requests = self._workload_requests(shape, 1)
        counter = [0]

        def arrive() -> None:
            i = counter[0]
            counter[0] += 1
            duration = durations.next() if durations is not None else math.inf
            name = f"{w.name}-{i}"

            def start(wl: Any, flavors: tuple[str, ...]) -> list[int]:
                s = shape_of(flavors)
                try:
                    return [api.create_pod(
                        name=name if not wl.evictions else f"{name}-r{wl.evictions}", requests=info.requests,
                        workload=wi, index=i, shape=s, priority=info.priority, duration=duration,
                        start_latency=latencies.next(), gpu_count=info.gpu_count, gpu_milli=info.gpu_milli,
                        nonzero=info.nonzero_bound)]
                except AdmissionRefused:
                    return []

            kueue.submit(name, lq, info.priority, 1, requests, duration, start)

        def begin() -> None:
            env.process(arrival_process(env, iter(times), arrive))

        self._starts.append(begin)

    def _prepare_queued_gang(self, wi: int, w: Workload, shape: int, res: Any, durations: BlockSampler | None,
                             latencies: BlockSampler, times: Iterable[float], base: BlockSampler | None,
                             min_res: np.ndarray | None) -> None:
        """Each arrival of a queued gang workload is a job submitted to its LocalQueue
        as one workload of ``workers`` pods; when admitted, its PodGroup and workers are
        created as for an unqueued gang (``<workload>-<j>``; after the k-th eviction the
        group is ``<workload>-<j>-r<k>``)."""
        gang = w.gang
        assert gang is not None
        ctx = self.ctx
        kueue = ctx.components["kueue"]
        groups = ctx.components["pod_groups"]
        api, env = ctx.api, ctx.env
        info = ctx.state.shapes[shape]
        lq = kueue.local_queue(w.template.namespace, w.queue)
        shape_of = self._flavor_shapes(wi, w, res)
        requests = self._workload_requests(shape, gang.workers)
        short = w.name.rsplit("/", 1)[-1]
        training = gang.training
        counter = [0, 0]

        def arrive() -> None:
            j = counter[0]
            counter[0] += 1
            base_s = base.next() if base is not None else math.nan
            worker_s = [durations.next() if durations is not None else math.inf for _ in range(gang.workers)]
            expected = base_s if base is not None else max(worker_s)

            def start(wl: Any, flavors: tuple[str, ...]) -> list[int]:
                s = shape_of(flavors)
                suffix = f"-r{wl.evictions}" if wl.evictions else ""
                group = groups.add(info.namespace, f"{short}-{j}{suffix}", gang.min_member or gang.workers,
                                   gang.schedule_timeout_s, min_res, workers=gang.workers, training=training,
                                   base_duration=base_s, workload=wi)
                made: list[int] = []
                generation = wl.evictions
                for k in range(gang.workers):
                    def create(k: int = k) -> None:
                        if k and (wl.evictions != generation or wl.status != "Admitted"):
                            return  # evicted before this worker was due
                        i = counter[1]
                        counter[1] += 1
                        groups.join_next(group)
                        try:
                            pod = api.create_pod(
                                name=f"{w.name}-{j}{suffix}-{k}", requests=info.requests, workload=wi, index=i,
                                shape=s, priority=info.priority, duration=worker_s[k],
                                start_latency=latencies.next(), gpu_count=info.gpu_count,
                                gpu_milli=info.gpu_milli, nonzero=info.nonzero_bound)
                        except AdmissionRefused:
                            return
                        if k * gang.worker_interval_s > 0:
                            kueue.track(wl, pod)
                        else:
                            made.append(pod)
                    delay = k * gang.worker_interval_s
                    if delay <= 0:
                        create()
                    else:
                        env.timeout(delay).callbacks.append(functools.partial(_later, create))
                return made

            kueue.submit(f"{w.name}-{j}", lq, info.priority, gang.workers, requests, expected, start)

        def begin() -> None:
            env.process(arrival_process(env, iter(times), arrive))

        self._starts.append(begin)

    def _prepare_trace(self, wi: int, w: Workload) -> None:
        """Read a trace workload's pods (see :mod:`k8sim.workloads.replay`), intern their
        shapes and check them against the cluster."""
        assert w.trace is not None
        ctx = self.ctx
        state = ctx.state
        where = f"workloads[{wi}].trace"
        capacity = int(state.nodes.gpu_count.sum()) * GPU_MILLI
        try:
            replay = load_replay(w.trace, sample_rng=ctx.streams.generator("trace-sample", wi),
                                 inflation_rng=ctx.streams.generator("trace-inflation", wi),
                                 gpu_capacity_milli=capacity, max_pods=w.max_pods)
        except TraceError as e:
            raise ScenarioError(ctx.source, [(f"{where}.files", str(e))]) from None
        except InflationError as e:
            raise ScenarioError(ctx.source, [(f"{where}.mode", str(e))]) from None
        except ValueError as e:
            raise ScenarioError(ctx.source, [(f"{where}.args", str(e))]) from None
        self.replays[w.name] = replay
        ctx.warnings.extend(report_warnings(where, replay.reports))
        pods = replay.pods
        n = len(pods)
        # The rows its pods will take if nothing else creates pods among them (after
        # those an earlier trace expects).
        start_row = max(state.pods.n, self._rows_ahead)
        state.pods.reserve(start_row + n)
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
                ctx.warnings.append(f"{where}.priority_by_qos: no pod of the trace has QoS {unknown}")
        # RuntimeClass overhead (setOverhead) on top of each trace pod's requests.
        rc = ctx.scenario.runtime_class(w.template)
        fixed = rc.overhead.pod_fixed if rc is not None and rc.overhead is not None else {}
        overhead = state.resources.vector(pod_resources([ContainerRequests({})], overhead=fixed).requests)
        # One shape per distinct (requests, GPU request, priority), numbered in the order
        # the pods first ask for it, interned at once (ShapeBook.trace_shapes).
        cpu, mem, gcount, gmilli = (pods[c].to_numpy(dtype=np.int64)
                                    for c in ("cpu_milli", "memory_bytes", "gpu_count", "gpu_milli"))
        gmodel, model_values = pd.factorize(pods["gpu_model"], use_na_sentinel=False)
        codes, first = first_seen_codes([cpu, mem, gcount, gmilli, gmodel, prio_col])
        u_count, u_milli, u_model, u_prio = gcount[first], gmilli[first], gmodel[first], prio_col[first]
        counts = np.bincount(codes, minlength=len(first))
        model_strs = [str(m) for m in model_values.tolist()]
        model_names = [frozenset(m for m in g.split("|") if m) or None for g in model_strs]
        # A kind: a GPU request and a priority (every other field is the template's).
        kind, kind_first = first_seen_codes([u_count, u_milli, u_model, u_prio])
        gpus = [(int(u_count[i]), int(u_milli[i]), model_names[u_model[i]]) for i in kind_first.tolist()]
        prios = [None if p == TEMPLATE_PRIORITY else p for p in u_prio[kind_first].tolist()]
        nt = state.nodes
        models_on_nodes = {nt.gpu_models[c] for c in np.unique(nt.gpu_model[nt.gpu_model >= 0]).tolist()}
        missing: dict[str, int] = {}
        uses_gpu = u_count > 0
        for m in np.unique(u_model[uses_gpu]).tolist():
            names = model_names[m]
            if names is not None and not names & models_on_nodes:
                missing[model_strs[m]] = int(counts[uses_gpu & (u_model == m)].sum())
        req = np.zeros((len(first), len(state.resources.names)), dtype=np.int64)
        index = state.resources.index
        req[:, index["cpu"]] = cpu[first]
        req[:, index["memory"]] = mem[first]
        req[:, index["pods"]] = 1
        req += overhead
        first_id = self.shapes.trace_shapes(req, w.template, wi, kind, gpus, prios)
        if missing:
            listed = ", ".join(f"{m} ({c} pods)" for m, c in sorted(missing.items()))
            ctx.warnings.append(f"{where}: GPU models on no node of the cluster: {listed}; those pods cannot be placed")
        shapes = codes + first_id
        kind_models = [state.shapes[first_id + i].gpu_models for i in kind_first.tolist()]
        fits = self.shapes.fits_rows(req, u_count, kind, kind_models)
        never = int(counts[~fits].sum())
        if never:
            ctx.warnings.append(f"{where}: {never} of {n} pods fit no node of the cluster (CPU, memory or GPUs)")
        if self.profiles.get(w.template.scheduler_name) is not None and (pods["gpu_count"] > 0).any():
            prof = self.profiles[w.template.scheduler_name]
            if not any(f.name == "GpuFit" for f in prof.filters):
                raise ScenarioError(ctx.source, [(
                    f"workloads[{wi}].template.schedulerName",
                    f"profile {w.template.scheduler_name!r} has no GpuFit filter, so it cannot place the trace's GPU pods",
                )])
        duration = pods["duration_s"].to_numpy(dtype=np.float64)
        duration = np.where(np.isnan(duration), math.inf, duration)
        # A trace without GPU pods: its pods' rows written ahead, each arrival then writes
        # its creation time, start latency and name only (while the pods come in the
        # expected rows: see _source).
        reserved = None
        if not uses_gpu.any():
            kind_priority = np.array([state.shapes[first_id + i].priority for i in kind_first.tolist()],
                                     dtype=np.int64)
            state.pods.prefill(start_row, codes, req, trace_nonzero(req), kind_priority[kind], first_id, wi,
                               duration)
            reserved = start_row
            self._rows_ahead = start_row + n
        start = w.template.start_latency or ctx.scenario.defaults.start_latency
        latencies = BlockSampler(start, ctx.streams.generator("start-latency", wi))
        names_list = pods["name"].tolist()
        # Per-pod values stay in arrays (a Python float or int per pod of a million-pod
        # trace is tens of megabytes), read as Python numbers one at a time.
        shape_arr = shapes.astype(np.int32) if first_id + len(first) <= np.iinfo(np.int32).max else shapes
        times = _chunked(pods["submit_s"].to_numpy(dtype=np.float64))
        # ``item`` gives the Python int / float that ``int(a[i])`` / ``float(a[i])`` would.
        self._starts.append(self._source(wi, times, names_list.__getitem__, shape_arr.item, duration.item,
                                         latencies, reserved))

    def trace_frame(self) -> pd.DataFrame | None:
        """The submitted pods of the run's trace workloads with their trace columns."""
        if not self.replays:
            return None
        frames = []
        for workload, replay in self.replays.items():
            f = replay.pods.drop(columns=["submit_s"]).rename(columns={"name": "pod"})
            f.insert(1, "workload", workload)
            frames.append(f[["pod", "workload", *[c for c in f.columns if c not in ("pod", "workload")]]])
        out = pd.concat(frames, ignore_index=True)
        for col in ("pod", "workload", "id", "gpu_model", "qos", "owner"):
            out[col] = out[col].astype("string")
        return out


def min_resources_vector(state: Any, resources: dict | None, where: str, source: str) -> np.ndarray | None:
    """A PodGroup's ``minResources`` as a resource vector (None when not set); a
    resource no node or pod of the run names is an error at ``where``."""
    if resources is None:
        return None
    from k8sim.config.resources import base_units

    unknown = sorted(set(resources) - set(state.resources.index))
    if unknown:
        raise ScenarioError(source, [(where, f"no node or pod of the scenario has resource(s) {unknown}: "
                                             "the group could never be scheduled")])
    return state.resources.vector(base_units(resources))


def first_seen_codes(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Number the distinct rows of ``columns`` (equal-length arrays) in the order they
    first appear: ``codes[i]`` is row ``i``'s number, ``first[u]`` the row where
    number ``u`` first appears (increasing). The numbering of
    ``pd.MultiIndex.from_arrays(columns).factorize()`` (pandas factorizes in order of
    appearance), without a tuple per row: each column is factorized, the codes are
    combined into one int64 key (factorized again before it could overflow), and the
    key is factorized (a column of integers over a range no wider than the row count
    is its own numbering, value minus minimum)."""
    n = len(columns[0])
    key = np.zeros(n, dtype=np.int64)
    size = 1
    for col in columns:
        arr = np.asarray(col)
        if (arr.dtype.kind == "i" or (arr.dtype.kind == "u" and arr.dtype.itemsize < 8)) and n \
                and int(arr.max()) - int(arr.min()) < n:
            # A narrow range of integers numbers itself (no hashing): value - min.
            lo = int(arr.min())
            c, k = arr.astype(np.int64) - lo, int(arr.max()) - lo + 1
        else:
            c, uniques = pd.factorize(col, use_na_sentinel=False)
            k = max(len(uniques), 1)
        if size * k > 2**62:
            key, got = pd.factorize(key)
            size = len(got)
        key = key * k + c
        size *= k
    codes, _ = pd.factorize(key)
    codes = np.asarray(codes, dtype=np.int64)
    if not n:
        return codes, np.zeros(0, dtype=np.int64)
    # In appearance order, number u first appears where the running maximum grows.
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.greater(codes[1:], np.maximum.accumulate(codes)[:-1], out=new[1:])
    return codes, np.flatnonzero(new)


def _chunked(values: np.ndarray, size: int = 4096) -> Iterator[float]:
    """The values of a float array as Python floats, converted a block at a time."""
    for i in range(0, len(values), size):
        yield from values[i:i + size].tolist()


def _later(fn: Callable[..., None], *args: Any) -> None:
    """A timeout callback that calls ``fn(*args)`` (the event itself is dropped)."""
    fn(*args[:-1])
