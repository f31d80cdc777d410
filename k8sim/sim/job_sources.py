"""Job traces as workload sources: each trace job arrives as a whole (``workloads[].jobs``).

Part of the workload sources component (:class:`k8sim.sim.sources.WorkloadSources`
calls :func:`prepare_job_trace` for a workload with ``jobs``). The trace is read when
the scenario is built (:mod:`k8sim.workloads.traces.jobs`), so a bad file stops the run
before it starts with the workload's field path. At each job's arrival (trace order):

- without a queue, its pods are created at once (``<job>/<task>/<k>``, or ``<job>/<k>``
  when each trace task is a job); with ``gang``, in a PodGroup ``<workload>-<job>``
  (the workload's name without its namespace) with ``minMember`` = its pods; with ``training``, as a training job whose run time on one
  node is the trace's (:mod:`k8sim.batch.training`);
- with a queue (the workload's ``queue``, or ``jobs.queues`` by a trace column), the job
  is one Kueue workload of all its pods (requests summed over its pod sets), and the
  pods (and group) are created when the queue admits it, as for a generated queued
  gang (:mod:`k8sim.batch.kueue`); re-admitted after an eviction, it runs from the
  start, its group and pods suffixed ``-r<k>``.

Each pod runs for its task's trace run time (unknown: for ever), unless the job is a
training job (then all its workers end together). Every pod of a pod set has the same
shape: the trace's requests, the template's everything else, and under a Kueue flavor
the flavor's node labels and tolerations.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.api import AdmissionRefused
from k8sim.config.loader import ScenarioError
from k8sim.config.scenario import Workload
from k8sim.rng import BlockSampler
from k8sim.workloads.generators import arrival_process
from k8sim.workloads.replay import report_warnings
from k8sim.workloads.traces.jobs import JobOptions, TraceJobs, read_job_trace
from k8sim.workloads.traces.schema import TraceError

if TYPE_CHECKING:
    from k8sim.sim.sources import WorkloadSources

__all__ = ["prepare_job_trace", "trace_jobs_frame"]


def _queues(src: WorkloadSources, wi: int, w: Workload, jobs: pd.DataFrame) -> list[str | None]:
    """The LocalQueue name of each job (None: not queued)."""
    spec = w.jobs
    assert spec is not None
    if w.queue is not None:
        return [w.queue] * len(jobs)
    if spec.queues is None:
        return [None] * len(jobs)
    q = spec.queues
    values = jobs[q.column].astype(str).tolist()
    out: list[str | None] = [q.map.get(v, q.default) for v in values]
    unmapped = sorted({v for v, name in zip(values, out, strict=True) if name is None})
    if unmapped:
        shown = ", ".join(repr(v) for v in unmapped[:5]) + (f" and {len(unmapped) - 5} more" if len(unmapped) > 5 else "")
        raise ScenarioError(src.ctx.source, [(f"workloads[{wi}].jobs.queues.default", (
            f"{len(unmapped)} value(s) of {q.column} are not in jobs.queues.map: {shown}; "
            "map them or give a default LocalQueue"))])
    return out


def prepare_job_trace(src: WorkloadSources, wi: int, w: Workload) -> None:
    """Read workload ``wi``'s job trace and register its arrival process with ``src``
    (see the module docstring)."""
    spec = w.jobs
    assert spec is not None
    ctx = src.ctx
    state = ctx.state
    where = f"workloads[{wi}].jobs"
    options = JobOptions(start_s=spec.start_s, end_s=spec.end_s, max_jobs=spec.max_jobs, max_pods=w.max_pods,
                         time_scale=spec.time_scale, resource_scale=spec.resource_scale)
    try:
        tj = read_job_trace(spec.format, spec.files, dict(spec.args), options)
    except TraceError as e:
        if e.message.startswith("max_pods"):
            raise ScenarioError(ctx.source, [(f"workloads[{wi}].max_pods", e.message)]) from None
        table = spec.args.get("job_table")
        field = "args.job_table" if table and Path(e.file).name == Path(str(table)).name else "files"
        raise ScenarioError(ctx.source, [(f"{where}.{field}", str(e))]) from None
    except ValueError as e:
        raise ScenarioError(ctx.source, [(f"{where}.args", str(e))]) from None
    ctx.warnings.extend(report_warnings(where, tj.reports))
    ctx.warnings.extend(f"{where}: {note}" for note in tj.notes)
    jobs, sets = tj.jobs, tj.podsets
    queues = _queues(src, wi, w, jobs)
    tj.jobs = jobs = jobs.assign(queue=pd.Series([q or "" for q in queues], dtype="str"))
    src.job_traces[w.name] = tj

    # One shape per distinct pod set (requests, GPU request), per flavor assignment.
    key_cols = ["cpu_milli", "memory_bytes", "gpu_count", "gpu_milli", "gpu_model"]
    codes, uniques = pd.MultiIndex.from_frame(sets[key_cols]).factorize()
    template = w.template
    nt = state.nodes
    models_on_nodes = {nt.gpu_models[c] for c in np.unique(nt.gpu_model[nt.gpu_model >= 0]).tolist()}
    missing: dict[str, int] = {}
    kinds: list[tuple[np.ndarray, tuple[int, int, frozenset[str] | None]]] = []
    for values in uniques:
        cpu, mem, gcount, gmilli, gmodel = values
        names = frozenset(m for m in str(gmodel).split("|") if m) or None
        if gcount > 0 and names is not None and not names & models_on_nodes:
            missing[str(gmodel)] = missing.get(str(gmodel), 0) + 1
        req = state.resources.vector({"cpu": int(cpu), "memory": int(mem), "pods": 1})
        kinds.append((req, (int(gcount), int(gmilli), names)))
    cache: dict[tuple[int, tuple[str, ...]], int] = {}

    def shape_of(kind: int, flavors: tuple[str, ...] = ()) -> int:
        sid = cache.get((kind, flavors))
        if sid is None:
            t = template
            if flavors:
                kueue = ctx.components["kueue"]
                selector = dict(template.node_selector)
                tolerations = list(template.tolerations)
                for f in flavors:
                    selector.update(kueue.flavors[f].node_labels)
                    tolerations.extend(kueue.flavors[f].tolerations)
                t = template.model_copy(update={"node_selector": selector, "tolerations": tolerations})
            req, gpu = kinds[kind]
            sid = cache[(kind, flavors)] = src.shapes.shape_for(("jobs", wi, kind, flavors), req, t, workload=wi,
                                                                gpu=gpu)
        return sid

    base_shapes = [shape_of(k) for k in range(len(kinds))]
    if missing:
        listed = ", ".join(sorted(missing))
        ctx.warnings.append(f"{where}: GPU models on no node of the cluster: {listed}; those pods cannot be placed")
    shape_arr = np.asarray(base_shapes, dtype=np.int64)
    fits = src.shapes.fits_some_node(np.unique(shape_arr))
    if fits.size:
        kind_fits = fits[shape_arr]  # fits is indexed by shape id
        never = int(sets["count"].to_numpy()[~kind_fits[codes]].sum())
        if never:
            ctx.warnings.append(f"{where}: {never} pod(s) fit no node of the cluster (CPU, memory or GPUs)")
    if (sets["gpu_count"] > 0).any() and src.profiles.get(template.scheduler_name) is not None:
        prof = src.profiles[template.scheduler_name]
        if not any(f.name == "GpuFit" for f in prof.filters):
            raise ScenarioError(ctx.source, [(f"workloads[{wi}].template.schedulerName", (
                f"profile {template.scheduler_name!r} has no GpuFit filter, so it cannot place the trace's GPU pods"))])

    # Per job: its pod sets as (kind, count, task, run time).
    job_of = sets["job"].to_numpy(dtype=np.int64)
    bounds = np.searchsorted(job_of, np.arange(len(jobs) + 1))
    counts = sets["count"].to_numpy(dtype=np.int64).tolist()
    tasks = sets["task"].astype(str).tolist()
    run = np.nan_to_num(sets["duration_s"].to_numpy(dtype=float), nan=math.inf).tolist()
    kind_list = codes.tolist()
    ids = jobs["job"].astype(str).tolist()
    job_run = np.nan_to_num(jobs["duration_s"].to_numpy(dtype=float), nan=math.inf).tolist()
    job_pods = jobs["pods"].to_numpy(dtype=np.int64).tolist()
    by_task = spec.unit == "task"
    gang, training = spec.gang, spec.training
    groups = ctx.components.get("pod_groups") if gang is not None else None
    assert gang is None or groups is not None, "a gang job trace needs the PodGroups component"
    api, env = ctx.api, ctx.env
    start = template.start_latency or ctx.scenario.defaults.start_latency
    latencies = BlockSampler(start, ctx.streams.generator("start-latency", wi))
    infos = state.shapes
    counter = [0, 0]  # jobs, pods
    namespace = template.namespace
    short = w.name.rsplit("/", 1)[-1]  # groups are <workload>-<job>, as a generated gang's

    def make(j: int, suffix: str, flavors: tuple[str, ...]) -> list[int]:
        """Create job ``j``'s group (gang) and pods now; their ids."""
        group = None
        pods_total = job_pods[j]
        if groups is not None:
            assert gang is not None
            group = groups.add(namespace, f"{short}-{ids[j]}{suffix}", pods_total, gang.schedule_timeout_s, None,
                               workers=pods_total, training=training,
                               base_duration=job_run[j] if training is not None else math.nan, workload=wi)
        made: list[int] = []
        for s in range(int(bounds[j]), int(bounds[j + 1])):
            info = infos[shape_of(kind_list[s], flavors)]
            prefix = f"{ids[j]}{suffix}/" if by_task else f"{ids[j]}{suffix}/{tasks[s]}/"
            duration = math.inf if training is not None else run[s]
            for k in range(counts[s]):
                i = counter[1]
                counter[1] += 1
                if group is not None:
                    groups.join_next(group)  # type: ignore[union-attr]
                try:
                    made.append(api.create_pod(
                        name=f"{prefix}{k}", requests=info.requests, workload=wi, index=i, shape=info.shape,
                        priority=info.priority, duration=duration, start_latency=latencies.next(),
                        gpu_count=info.gpu_count, gpu_milli=info.gpu_milli, nonzero=info.nonzero_bound))
                except AdmissionRefused:
                    pass  # recorded by the admission; not retried
        return made

    def requests_of(j: int) -> dict[str, int]:
        from k8sim.batch.kueue import GPU_RESOURCE

        out: dict[str, int] = {}
        for s in range(int(bounds[j]), int(bounds[j + 1])):
            info = infos[base_shapes[kind_list[s]]]
            for name, v in zip(state.resources.names, info.requests.tolist(), strict=True):
                if v:
                    out[name] = out.get(name, 0) + int(v) * counts[s]
            if info.gpu_count:
                out[GPU_RESOURCE] = out.get(GPU_RESOURCE, 0) + int(info.gpu_count) * int(info.gpu_milli) * counts[s]
        return out

    kueue = ctx.components.get("kueue") if any(q is not None for q in queues) else None
    lqs = {q: kueue.local_queue(namespace, q) for q in set(queues) if q is not None} if kueue is not None else {}
    priority = int(infos[base_shapes[0]].priority) if base_shapes else 0

    def arrive() -> None:
        j = counter[0]
        counter[0] += 1
        q = queues[j]
        if q is None:
            make(j, "", ())
            return

        def admitted(wl: Any, flavors: tuple[str, ...]) -> list[int]:
            return make(j, f"-r{wl.evictions}" if wl.evictions else "", flavors)

        assert kueue is not None
        kueue.submit(ids[j], lqs[q], priority, job_pods[j], requests_of(j), job_run[j], admitted)

    times = jobs["arrival_s"].to_numpy(dtype=float).tolist()

    def begin() -> None:
        env.process(arrival_process(env, iter(times), arrive))

    src._starts.append(begin)


def trace_jobs_frame(job_traces: dict[str, TraceJobs]) -> pd.DataFrame | None:
    """One row per replayed trace job: ``workload``, ``job``, ``arrival_s``,
    ``duration_s``, ``pods``, ``clipped_end``, ``queue`` (LocalQueue, "" if none) and
    the trace's own columns (``user``, ``status``, ...; "" where a format has none)."""
    if not job_traces:
        return None
    frames = []
    for workload, tj in job_traces.items():
        f = tj.jobs.copy()
        f.insert(0, "workload", workload)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype).startswith(("str", "string")):
            out[col] = out[col].fillna("").astype("string")
    return out

