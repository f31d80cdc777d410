"""The pod side of autoscaling in the event loop: load, usage, metrics, HPAs, eviction.

One component (``pod-autoscaling``) with one SimPy process, built when the scenario's
``autoscaling`` section has services, usage models or HPAs. No event per request: the
process wakes at the load model's time steps (``metrics.load_step_s``, 5 s by default),
at metrics-server scrapes and at HPA syncs, and at each wake-up does, in this order:

1. **integrate** every tracked pod's usage since the last wake-up (usage is piecewise
   constant between steps), so averages over any window are exact;
2. **scrape** (every ``metrics.resolution_s``, metrics-server's ``--metric-resolution``,
   15 s): each pod's CPU, memory and received request rate averaged since the previous
   scrape, and each service's offered / served / dropped rate and latency. A pod has a
   sample from the first scrape after the one that first saw it Running (metrics-server
   computes a rate from two cumulative readings). A scrape becomes visible to the HPA ``metrics.lag_s`` later;
3. **step** the load model (:mod:`k8sim.autoscaling.service` closed forms, vectorised
   over services): each Deployment's offered rate is split over its *ready* pods
   (Running, Ready, not terminating: the Service's endpoints, kube-proxy picking at
   random), giving served and dropped rates, each pod's CPU (``idle + request *
   served share / capacity``, capped at the CPU limit: throttling caps the capacity
   too) and memory, the latency percentile and the SLO checks. Pods with a usage model
   (:mod:`k8sim.autoscaling.usage`) get their CPU and memory from it;
4. **evict** under node memory pressure (every ``eviction_monitoring_period_s``, 10 s):
   a node whose pods' memory exceeds its allocatable evicts one pod in
   ``rankMemoryPressure`` order (``pkg/kubelet/eviction/helpers.go``), grace 0 as a hard
   threshold does;
5. **sync the HPAs** (every ``hpa_controller.sync_period_s``, 15 s,
   ``--horizontal-pod-autoscaler-sync-period``): per HPA, one proposal per metric from
   :mod:`k8sim.autoscaling.hpa_replicas` on the visible scrape, then
   :func:`k8sim.autoscaling.hpa_sync.sync`; a rescale sets the Deployment's
   ``spec.replicas`` (the Deployment controller then acts after its reaction latency)
   and logs ``SuccessfulRescale``.

A usage model may also come from a trace workload's usage columns (``from_trace``:
:mod:`k8sim.workloads.traces.usage` reads and joins them; each pod then has an absolute
step series over its container's age, and pods without rows use ``fallback_ratio``
times their requests). Usage of pods without a model is taken to be their requests
(for node usage and memory pressure). OOM kills: the kubelet asks :meth:`PodAutoscaling.oom_after` at each
container start when the time the memory of a usage model reaches the limit is
known in advance (usage models); a service pod's load-dependent memory is capped at its
limit instead (documented in docs/autoscaling.md).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.autoscaling import hpa_replicas as hr
from k8sim.autoscaling.hpa_behavior import behavior_from_spec, tolerances_for
from k8sim.autoscaling.hpa_sync import HPAState
from k8sim.autoscaling.load import ConstantRate, DiurnalRate, PiecewiseRate, RampRate, RateCurve, StepRate
from k8sim.autoscaling.queueing import mg1ps_response_quantile, mmc_mean_response, mmc_response_quantile
from k8sim.autoscaling.usage import UsageSeries, oom_after, rank_memory_pressure
from k8sim.cluster.pods import BOUND, OWNER_KINDS, RUNNING
from k8sim.cluster.watch import PodAdded, PodDeleted, PodDeleting, PodRunning, PodTerminated
from k8sim.component import Contribution
from k8sim.config.loader import ScenarioError
from k8sim.config.quantity import to_milli, to_units
from k8sim.runtime.spec import IndexedSampler

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.autoscaling import HorizontalPodAutoscaler, ServiceLoad, UsageCurve, UsageModel
    from k8sim.config.pods import PodTemplate
    from k8sim.workloads.traces.usage import PodUsage

_RS = OWNER_KINDS.index("ReplicaSet")
_EPS = 1e-9
_MAX_MILLI = 2**62


def _curve(spec: Any, seed: int) -> RateCurve:
    k = spec.kind
    if k == "constant":
        return ConstantRate(spec.rps)
    if k == "step":
        return StepRate(spec.before_rps, spec.after_rps, spec.at_s)
    if k == "ramp":
        return RampRate(spec.start_rps, spec.end_rps, spec.start_s, spec.end_s)
    if k == "diurnal":
        return DiurnalRate(spec.mean_rps, spec.amplitude, spec.period_s, spec.peak_s, spec.noise_cv,
                           spec.noise_step_s, seed)
    return PiecewiseRate.from_csv(spec.file, time_column=spec.time_column, rate_column=spec.rate_column,
                                  interpolation=spec.interpolation)


def template_limits(t: PodTemplate) -> tuple[float, float]:
    """A pod's CPU (milli) and memory (bytes) limits; inf where a container has none
    (a pod is limited in a resource only if every container is)."""
    out = []
    for r, conv in (("cpu", to_milli), ("memory", to_units)):
        if t.containers:
            lims = [c.limits.get(r) if c.limits else None for c in t.containers]
            known = [v for v in lims if v is not None]
            out.append(math.inf if len(known) < len(lims) else float(sum(conv(v) for v in known)))
        else:
            v = t.limits.get(r)
            out.append(math.inf if v is None else float(conv(v)))
    return out[0], out[1]


@dataclass
class _Curve:
    """One resource's usage curve of a usage model, compiled."""

    ratio: float | None = None
    sampler: IndexedSampler | None = None
    series: UsageSeries | None = None
    run_clock: bool = False
    growth: float = 0.0
    # Usage from a trace's usage columns: absolute series per pod (see
    # k8sim.workloads.traces.usage); pods without rows use fallback * request.
    trace: PodUsage | None = None
    memory: bool = False
    fallback: float = 1.0


@dataclass
class _HPA:
    spec: HorizontalPodAutoscaler
    dep: int  # watched Deployment index
    behavior: Any
    tolerances: hr.Tolerances
    state: HPAState = field(default_factory=HPAState)
    rows: list[tuple] = field(default_factory=list)
    decisions: list[tuple[float, int, int, float]] = field(default_factory=list)  # t, from, to, over_since


class PodAutoscaling:
    """Load and usage models, metrics pipeline, HPA controller (module docstring)."""

    name = "pod-autoscaling"

    # Per-pod arrays, indexed by pod row (see _alloc): requests, limits, usage ratios,
    # container start, current usage, integrals, last scrape, visible samples, membership.
    _req_cpu: np.ndarray
    _req_mem: np.ndarray
    _lim_cpu: np.ndarray
    _lim_mem: np.ndarray
    _r_cpu: np.ndarray
    _r_mem: np.ndarray
    _run_start: np.ndarray
    _cpu: np.ndarray
    _mem: np.ndarray
    _rps: np.ndarray
    _cum_cpu: np.ndarray
    _cum_mem: np.ndarray
    _cum_rps: np.ndarray
    _cum_t: np.ndarray
    _snap_cpu: np.ndarray
    _snap_mem: np.ndarray
    _snap_rps: np.ndarray
    _snap_t: np.ndarray
    _v_cpu: np.ndarray
    _v_mem: np.ndarray
    _v_rps: np.ndarray
    _v_ts: np.ndarray
    _dep: np.ndarray
    _svc: np.ndarray
    _use: np.ndarray
    _trow: np.ndarray
    _deleting: np.ndarray
    _v_ok: np.ndarray
    _seen: np.ndarray

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.env = ctx.env
        self.api = ctx.api
        sc = ctx.scenario
        a = sc.autoscaling
        assert a is not None
        self.cfg = a
        self.metrics = a.metrics
        self.hctl = a.hpa_controller
        problems: list[tuple[str, str]] = []
        self.dc = ctx.components.get("deployment-controller")
        manifest_deps = self._manifest_deployments()
        # Watched Deployments: services' and HPAs' targets ("namespace/name").
        self.dep_keys: list[str] = []
        self._dep_index: dict[str, int] = {}
        self.dep_workload: list[int] = []

        def watch(ref: Any, where: str) -> int:
            key = f"default/{ref.name}"
            if key not in manifest_deps:
                problems.append((where, f"no Deployment {ref.name!r} in the scenario's manifests "
                                        f"(Deployments: {', '.join(sorted(k.split('/', 1)[1] for k in manifest_deps)) or 'none'})"))
                return -1
            if key not in self._dep_index:
                self._dep_index[key] = len(self.dep_keys)
                self.dep_keys.append(key)
                self.dep_workload.append(manifest_deps[key])
            return self._dep_index[key]

        wl_index = {w.name: i for i, w in enumerate(sc.workloads)}
        # Services.
        self.services: list[ServiceLoad] = list(a.services)
        S = len(self.services)
        self.svc_dep = np.full(S, -1, dtype=np.int64)
        self.curves: list[RateCurve] = []
        for i, s in enumerate(self.services):
            self.svc_dep[i] = watch(s.target, f"autoscaling.services[{i}].target.name")
            try:
                self.curves.append(_curve(s.rate, int(ctx.streams.generator("load-noise", i).integers(2**31))))
            except ValueError as e:
                problems.append((f"autoscaling.services[{i}].rate", str(e)))
        # Usage models.
        self.usage_of_workload: dict[int, int] = {}
        self.u_cpu: list[_Curve | None] = []
        self.u_mem: list[_Curve | None] = []
        self.u_limit_ratio: list[tuple[float, float]] = []  # per usage model: limits / requests (NaN: template's)
        self.u_trace_rows: list[np.ndarray | None] = []  # per usage model: replay row -> trace usage pod
        self.trace_usage_counts = [0, 0]  # pods of trace usage models created: with, without usage rows
        for i, u in enumerate(a.usage):
            wi = wl_index.get(u.workload)
            if wi is None:
                problems.append((f"autoscaling.usage[{i}].workload",
                                 f"no workload {u.workload!r} (workloads: {', '.join(wl_index) or 'none'})"))
                continue
            self.usage_of_workload[wi] = i
            self.u_trace_rows.append(None)
            self.u_limit_ratio.append((math.nan, math.nan))
            if u.from_trace is not None:
                self._compile_trace(i, u, wi, problems)
                continue
            self.u_cpu.append(self._compile(u.cpu, wi, "cpu", f"autoscaling.usage[{i}].cpu", problems))
            self.u_mem.append(self._compile(u.memory, wi, "memory", f"autoscaling.usage[{i}].memory", problems))
        # HPAs.
        self.hpas: list[_HPA] = []
        for i, h in enumerate(a.horizontal_pod_autoscalers):
            d = watch(h.spec.scale_target_ref, f"autoscaling.horizontal_pod_autoscalers[{i}].spec.scaleTargetRef.name")
            beh = behavior_from_spec(h.spec.behavior)
            self.hpas.append(_HPA(h, d, beh, tolerances_for(beh, self.hctl.tolerance)))
            if d < 0:
                continue
            served = d in set(self.svc_dep.tolist())
            used = self.dep_workload[d] in self.usage_of_workload
            for j, m in enumerate(h.spec.metrics):
                if m.type in ("Resource", "ContainerResource"):
                    src = m.resource if m.type == "Resource" else m.container_resource
                    assert src is not None
                    um = a.usage[self.usage_of_workload[self.dep_workload[d]]] if used else None
                    has = served or (um is not None and (getattr(um, src.name) is not None
                                                         or um.from_trace is not None))
                    if not has:
                        problems.append((f"autoscaling.horizontal_pod_autoscalers[{i}].spec.metrics[{j}]",
                                         f"the load and usage models cannot provide {src.name} usage of Deployment "
                                         f"{h.spec.scale_target_ref.name!r}: give it a service load model "
                                         "(autoscaling.services) or a usage model of its workload "
                                         "(autoscaling.usage)"))
        if problems:
            raise ScenarioError(ctx.source, problems)
        self.D = len(self.dep_keys)
        self._dep_rows: dict[int, int] = {}  # Deployment controller row -> watched index
        self.svc_of_dep = np.full(max(self.D, 1), -1, dtype=np.int64)
        for i, d in enumerate(self.svc_dep.tolist()):
            self.svc_of_dep[d] = i
        # Per-service constants (request and limit of the target's template are read at
        # the first pod; until then the capacity per pod uses the model alone).
        self.cap = np.array([s.capacity_rps for s in self.services], dtype=np.float64)
        self.idle = np.array([float(to_milli(s.idle_cpu)) for s in self.services], dtype=np.float64)
        self.burst = np.ones(S)  # limit / request (1 without a CPU limit)
        self.s_req_cpu = np.zeros(S)
        self.qs = np.array([mg1ps_response_quantile(s.latency_quantile, 0.0, 1.0, s.service_scv)
                            for s in self.services], dtype=np.float64)  # quantile of the demand at mu = 1
        self.ps = np.array([s.queue == "ps" for s in self.services], dtype=bool)
        self.slo_lat = np.array([s.slo.latency_s if s.slo and s.slo.latency_s else math.inf for s in self.services])
        self.slo_avail = np.array([s.slo.availability if s.slo and s.slo.availability else 0.0
                                   for s in self.services])
        self.mem_base = np.array([float(to_units(s.memory.base)) if s.memory else math.nan for s in self.services])
        self.mem_rps = np.array([float(to_units(s.memory.per_rps)) if s.memory else 0.0 for s in self.services])
        # Per-pod arrays (grown with the pod table).
        self._cap_p = 0
        self._alloc(1024)
        self._live: dict[int, None] = {}
        self._idx = np.zeros(0, dtype=np.int64)
        self._dirty = False
        self.created_by_dep: list[list[tuple[float, int]]] = [[] for _ in range(self.D)]
        # Records.
        self._t_rows: list[float] = []
        self._svc_rows: list[np.ndarray] = []
        self._over_since = np.full(S, math.nan)
        self._svc_cum = np.zeros((4, S))  # offered, served, dropped, latency-quantile integrals
        self._svc_snap = np.zeros((4, S))
        self._svc_vis = np.full((4, S), math.nan)  # visible service metrics (averages)
        self._svc_now = np.zeros((4, S))
        self._pending_scrapes: list[tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float,
                                          np.ndarray]] = []
        self._pending_svc: list[tuple[float, np.ndarray]] = []
        self._util_now = np.zeros(S)  # each service's CPU use of its ready pods, share of their request
        self._node_rows: list[tuple] = []
        self.evictions: list[tuple[float, int, int]] = []
        self._last_t = 0.0
        self.kubelet = ctx.components.get("kubelet")
        if self.kubelet is not None and any(c is not None for c in self.u_mem):
            self.kubelet.oom_after = self.oom_after
        bus = ctx.api.bus
        bus.subscribe(PodAdded, self._on_added)
        bus.subscribe(PodRunning, self._on_running)
        bus.subscribe(PodDeleting, self._on_deleting)
        bus.subscribe(PodTerminated, lambda e: self._gone(e.pod))
        bus.subscribe(PodDeleted, lambda e: self._gone(e.pod))

    # -- build --------------------------------------------------------------------------

    def _manifest_deployments(self) -> dict[str, int]:
        """Deployment keys of the manifest workloads (now and applied later) -> workload."""
        src = self.ctx.components.get("manifests")
        out: dict[str, int] = {}
        if src is None:
            return out
        for wi, inp in src.inputs.items():
            for m in inp.sets():
                for o in m.objects:
                    if o.kind == "Deployment":
                        out.setdefault(f"{o.namespace}/{o.name}", wi)
        return out

    def _compile(self, c: UsageCurve | None, wi: int, res: str, where: str,
                 problems: list[tuple[str, str]]) -> _Curve | None:
        if c is None:
            return None
        out = _Curve(growth=float(to_units(c.growth_per_s)) if res == "memory" else 0.0)
        if c.ratio is not None:
            out.ratio = float(c.ratio)
        elif c.distribution is not None:
            out.sampler = IndexedSampler(c.distribution, self.ctx.streams.generator("usage", wi, 0 if res == "cpu" else 1))
        else:
            try:
                out.series = UsageSeries.from_csv(str(c.csv), c.time_column, c.value_column)
            except ValueError as e:
                problems.append((f"{where}.csv", str(e)))
            out.run_clock = c.clock == "run"
        return out

    def _compile_trace(self, i: int, u: UsageModel, wi: int, problems: list[tuple[str, str]]) -> None:
        """A usage model from the trace workload's usage columns: read the usage table,
        join it to the workload's pods (:mod:`k8sim.workloads.traces.usage`)."""
        from k8sim.workloads.traces.reports import TraceError
        from k8sim.workloads.traces.usage import (
            USAGE_FORMATS,
            join_usage,
            read_alibaba_2018_container_usage,
            read_alibaba_2018_usage,
            read_google_2019_usage,
        )

        ft = u.from_trace
        assert ft is not None
        where = f"autoscaling.usage[{i}].from_trace"
        self.u_cpu.append(None)
        self.u_mem.append(None)
        w = self.ctx.scenario.workloads[wi]
        tr = w.trace
        if tr is None or tr.format not in USAGE_FORMATS:
            kind = f"a {tr.format} trace" if tr is not None else "not a trace workload"
            problems.append((where, f"workload {w.name!r} is {kind}; usage columns are read from trace workloads "
                                    f"of format {' or '.join(USAGE_FORMATS)}"))
            return
        src = self.ctx.components.get("workloads")
        replay = src.replays.get(w.name) if src is not None else None
        if replay is None:
            problems.append((where, f"workload {w.name!r} submits no pods from its trace"))
            return
        args = tr.args
        # Only the rows of the workload's pods are read (a usage table is large).
        pod_ids = set(replay.trace["id"].astype(str))
        try:
            if tr.format == "alibaba2018" and args.get("table") == "container":
                if not ft.files:
                    problems.append((f"{where}.files", "give the trace's container_usage file(s) (usage of the "
                                                       "containers of table: container)"))
                    return
                if ft.statistic != "average":
                    problems.append((f"{where}.statistic", "container_usage has one sample per time stamp, no "
                                                           "maximum: use statistic: average"))
                    return
                rows = read_alibaba_2018_container_usage(ft.files, only=pod_ids, until=tr.end_s)
            elif tr.format == "alibaba2018":
                if ft.files:
                    problems.append((f"{where}.files", "alibaba2018 usage is read from the workload's batch_instance "
                                                       "file (cpu_avg, mem_avg, ...): give no files"))
                    return
                if not args.get("batch_instance"):
                    problems.append((f"workloads[{wi}].trace.args.batch_instance",
                                     "usage from an alibaba2018 trace needs its batch_instance file (the usage "
                                     "columns are there)"))
                    return
                rows = read_alibaba_2018_usage(args["batch_instance"], machine_memory_bytes=args["machine_memory_bytes"],
                                               statistic=ft.statistic, only=pod_ids)
            else:
                if not ft.files:
                    problems.append((f"{where}.files", "give the trace's instance_usage export(s)"))
                    return
                rows = read_google_2019_usage(ft.files, machine_cpu_milli=args["machine_cpu_milli"],
                                              machine_memory_bytes=args["machine_memory_bytes"],
                                              statistic=ft.statistic, only={k.split("#", 1)[0] for k in pod_ids})
            usage = join_usage(rows, replay.trace, tr.options())
        except TraceError as e:
            problems.append((f"{where}.files" if ft.files else f"workloads[{wi}].trace.args.batch_instance", str(e)))
            return
        self.ctx.warnings.extend(f"{where}: {r.source}: {r.n_dropped} usage rows dropped: "
                                 + ", ".join(f"{k}: {v}" for k, v in sorted(r.dropped.items()))
                                 for r in [rows.report] if r.n_dropped)
        ids = replay.trace["id"].to_numpy(dtype=object)
        first = pd.Series(np.arange(len(ids)), index=ids)
        first = first[~first.index.duplicated()]
        trow = first.reindex(replay.pods["id"].to_numpy(dtype=object)).to_numpy(dtype=np.int64)
        self.u_trace_rows[-1] = trow
        missing = int(usage.missing[trow].sum())
        if missing:
            self.ctx.warnings.append(
                f"{where}: {missing} of {len(trow)} pods of workload {w.name!r} have no usage row in the trace; "
                f"they use {ft.fallback_ratio:g} x their requests")
        self.u_cpu[-1] = _Curve(trace=usage, memory=False, fallback=ft.fallback_ratio)
        self.u_mem[-1] = _Curve(trace=usage, memory=True, fallback=ft.fallback_ratio)
        self.u_limit_ratio[-1] = (ft.limit_ratio.get("cpu", math.nan), ft.limit_ratio.get("memory", math.nan))

    def _alloc(self, n: int) -> None:
        old = self._cap_p
        names_f = ("req_cpu", "req_mem", "lim_cpu", "lim_mem", "r_cpu", "r_mem", "run_start", "cpu", "mem", "rps",
                   "cum_cpu", "cum_mem", "cum_rps", "cum_t", "snap_cpu", "snap_mem", "snap_rps", "snap_t",
                   "v_cpu", "v_mem", "v_rps", "v_ts")
        for nm in names_f:
            arr = np.full(n, math.nan if nm in ("r_cpu", "r_mem", "v_ts") else 0.0)
            if old:
                arr[:old] = getattr(self, "_" + nm)
            setattr(self, "_" + nm, arr)
        for nm in ("dep", "svc", "use", "trow"):
            arr_i = np.full(n, -1, dtype=np.int64)
            if old:
                arr_i[:old] = getattr(self, "_" + nm)
            setattr(self, "_" + nm, arr_i)
        for nm in ("deleting", "v_ok", "seen"):
            arr_b = np.zeros(n, dtype=bool)
            if old:
                arr_b[:old] = getattr(self, "_" + nm)
            setattr(self, "_" + nm, arr_b)
        self._cap_p = n

    # -- watch handlers -------------------------------------------------------------------

    def _dep_of(self, pod: int) -> tuple[int, Any]:
        pods = self.ctx.state.pods
        if self.dc is None or pods.owner_kind[pod] != _RS:
            return -1, None
        rs = self.dc.store.replicasets[int(pods.owner[pod])]
        if rs.deployment < 0:
            return -1, rs
        d = self._dep_rows.get(rs.deployment)
        if d is None:
            obj = self.dc.store.deployments[rs.deployment]
            d = self._dep_rows[rs.deployment] = self._dep_index.get(f"{obj.namespace}/{obj.name}", -1)
        return d, rs

    def _on_added(self, e: PodAdded) -> None:
        p = e.pod
        pods = self.ctx.state.pods
        d, rs = self._dep_of(p)
        w = int(pods.workload[p])
        u = self.usage_of_workload.get(w, -1)
        if d < 0 and u < 0:
            return
        while p >= self._cap_p:
            self._alloc(self._cap_p * 2)
        s = int(self.svc_of_dep[d]) if d >= 0 else -1
        if s >= 0 and u >= 0:
            u = -1  # a service's pods take their usage from the load model
        self._dep[p], self._svc[p], self._use[p] = d, s, u
        self._req_cpu[p] = float(pods.requests[p, 0])
        self._req_mem[p] = float(pods.requests[p, 1])
        t = rs.template if rs is not None else self.ctx.scenario.workloads[w].template
        self._lim_cpu[p], self._lim_mem[p] = template_limits(t)
        if s >= 0 and self.s_req_cpu[s] == 0 and self._req_cpu[p] > 0:
            self.s_req_cpu[s] = self._req_cpu[p]
            if math.isfinite(self._lim_cpu[p]):
                self.burst[s] = self._lim_cpu[p] / self._req_cpu[p]
        if u >= 0 and self.u_trace_rows[u] is not None:
            rows = self.u_trace_rows[u]
            assert rows is not None
            i = int(pods.index[p])
            self._trow[p] = int(rows[i]) if i < rows.size else -1
            lc, lm = self.u_limit_ratio[u]
            if not math.isnan(lc):
                self._lim_cpu[p] = lc * self._req_cpu[p]
            if not math.isnan(lm):
                self._lim_mem[p] = lm * self._req_mem[p]
            tc = self.u_mem[u]
            assert tc is not None and tc.trace is not None
            has = self._trow[p] >= 0 and not bool(tc.trace.missing[self._trow[p]])
            self.trace_usage_counts[0 if has else 1] += 1
        elif u >= 0:
            i = int(pods.index[p])
            for c, col in ((self.u_cpu[u], self._r_cpu), (self.u_mem[u], self._r_mem)):
                if c is not None:
                    if c.ratio is not None:
                        col[p] = c.ratio
                    elif c.sampler is not None:
                        col[p] = max(0.0, c.sampler.get(i))
        if d >= 0:
            self.created_by_dep[d].append((self.env.now, p))
        self._live[p] = None
        self._dirty = True

    def _on_running(self, e: PodRunning) -> None:
        if e.pod < self._cap_p and e.pod in self._live:
            self._run_start[e.pod] = self.env.now

    def _on_deleting(self, e: PodDeleting) -> None:
        if e.pod in self._live:
            self._deleting[e.pod] = True

    def _gone(self, pod: int) -> None:
        if self._live.pop(pod, 1) is None:
            self._cpu[pod] = self._mem[pod] = self._rps[pod] = 0.0
            self._dirty = True

    def _tracked(self) -> np.ndarray:
        if self._dirty:
            self._idx = np.fromiter(self._live, dtype=np.int64, count=len(self._live))
            self._dirty = False
        return self._idx

    # -- the kubelet's question -------------------------------------------------------------

    def oom_after(self, pod: int, now: float) -> float:
        """Seconds into the container run starting ``now`` at which the pod's memory
        reaches its limit (inf: never, or no memory model)."""
        if pod >= self._cap_p or pod not in self._live:
            return math.inf
        self._run_start[pod] = now
        u = int(self._use[pod])
        c = self.u_mem[u] if u >= 0 else None
        lim = float(self._lim_mem[pod])
        if c is None or not math.isfinite(lim):
            return math.inf
        req = float(self._req_mem[pod])
        if c.trace is not None:
            row = int(self._trow[pod])
            ages, vals = (c.trace.series(row)[0], c.trace.series(row)[2]) if row >= 0 else (np.zeros(0), np.zeros(0))
            if not ages.size:
                return oom_after(c.fallback * req, 0.0, lim)
            # A step series over the container's age: killed at the first step at or
            # above the limit.
            over = np.flatnonzero(vals >= lim)
            return float(ages[over[0]]) if over.size else math.inf
        if c.series is None:
            return oom_after(float(self._r_mem[pod]) * req, c.growth, lim)
        # Piecewise linear: the series' knots (in the container's age) and a last slope.
        ts = np.asarray(c.series.times)
        ages = ts - (now if c.run_clock else float(now - self._run_start[pod]))
        knots = np.unique(np.concatenate([[0.0], ages[ages > 0]]))
        clock = knots + (now if c.run_clock else 0.0)
        f = c.series.at(clock) * req + c.growth * knots
        over = np.flatnonzero(f >= lim)
        if over.size:
            k = int(over[0])
            if k == 0:
                return 0.0
            a0, a1, f0, f1 = knots[k - 1], knots[k], f[k - 1], f[k]
            return float(a0 + (lim - f0) * (a1 - a0) / (f1 - f0))
        return oom_after(float(f[-1]), c.growth, lim) + float(knots[-1]) if c.growth > 0 else math.inf

    # -- the process ----------------------------------------------------------------------

    def start(self) -> None:
        self.env.process(self._loop())

    def _loop(self) -> Generator[Any, Any, Any]:
        env = self.env
        m = self.metrics
        periods = [m.load_step_s, m.resolution_s, m.eviction_monitoring_period_s,
                   float(self.ctx.scenario.sample_interval_s), self.hctl.sync_period_s]
        counts = [0] * len(periods)
        do_hpa = bool(self.hpas)
        self._chunk_k0 = -1
        while True:
            now = env.now
            self._integrate(now)
            due = [abs(c * p - now) < _EPS or c * p < now for c, p in zip(counts, periods, strict=True)]
            if due[1]:
                self._scrape(now)
            if due[0]:
                self._step(now, counts[0])
            if due[2]:
                self._evict(now)
            if due[3]:
                self._sample_nodes(now)
            if due[4] and do_hpa:
                self._sync_hpas(now)
            for i, d in enumerate(due):
                if d:
                    counts[i] += 1
            nxt = min(counts[i] * periods[i] for i in range(len(periods)) if do_hpa or i != 4)
            yield env.timeout(nxt - now)

    def _integrate(self, now: float) -> None:
        dt = now - self._last_t
        self._last_t = now
        if dt <= 0:
            return
        idx = self._tracked()
        if idx.size:
            running = self.ctx.state.pods.phase[idx] == RUNNING
            ri = idx[running]
            self._cum_cpu[ri] += self._cpu[ri] * dt
            self._cum_mem[ri] += self._mem[ri] * dt
            self._cum_rps[ri] += self._rps[ri] * dt
            self._cum_t[ri] += dt
        self._svc_cum += self._svc_now * dt

    def _scrape(self, now: float) -> None:
        idx = self._tracked()
        dt = self._cum_t[idx] - self._snap_t[idx]
        # metrics-server's rate needs two cumulative readings: the pod was read (Running)
        # at the previous scrape and has run since.
        ok = (dt > 0) & self._seen[idx]
        self._seen[idx] |= self.ctx.state.pods.phase[idx] == RUNNING
        safe = np.where(dt > 0, dt, 1.0)
        cpu = (self._cum_cpu[idx] - self._snap_cpu[idx]) / safe
        mem = (self._cum_mem[idx] - self._snap_mem[idx]) / safe
        rps = (self._cum_rps[idx] - self._snap_rps[idx]) / safe
        for a, b in (("cum_cpu", "snap_cpu"), ("cum_mem", "snap_mem"), ("cum_rps", "snap_rps"), ("cum_t", "snap_t")):
            getattr(self, "_" + b)[idx] = getattr(self, "_" + a)[idx]
        window = self.metrics.resolution_s
        svc = (self._svc_cum - self._svc_snap) / window if now > 0 else np.full_like(self._svc_cum, math.nan)
        self._svc_snap = self._svc_cum.copy()
        self._pending_scrapes.append((now + self.metrics.lag_s, idx.copy(), cpu, mem, rps, now, ok))
        self._pending_svc.append((now + self.metrics.lag_s, svc))

    def _publish(self, now: float) -> None:
        """Apply the scrapes visible at ``now`` (the HPA reads these)."""
        keep = []
        for item in self._pending_scrapes:
            t_vis, idx, cpu, mem, rps, ts, ok = item
            if t_vis <= now + _EPS:
                self._v_cpu[idx], self._v_mem[idx], self._v_rps[idx] = cpu, mem, rps
                self._v_ok[idx] = ok
                self._v_ts[idx] = ts
            else:
                keep.append(item)
        self._pending_scrapes = keep
        keep_s = []
        for t_vis, svc in self._pending_svc:
            if t_vis <= now + _EPS:
                self._svc_vis = svc
            else:
                keep_s.append((t_vis, svc))
        self._pending_svc = keep_s

    def _rates(self, k: int) -> np.ndarray:
        """Offered rates of every service at step ``k`` (curves evaluated in chunks)."""
        B = 1024
        k0 = (k // B) * B
        if k0 != self._chunk_k0:
            t = (k0 + np.arange(B)) * self.metrics.load_step_s
            self._chunk = np.vstack([c.rate(t) for c in self.curves]) if self.curves else np.zeros((0, B))
            self._chunk_k0 = k0
        return np.maximum(self._chunk[:, k - k0], 0.0)

    def _step(self, now: float, k: int) -> None:
        pods = self.ctx.state.pods
        idx = self._tracked()
        running = pods.phase[idx] == RUNNING
        ready = running & (pods.ready[idx] <= now) & ~self._deleting[idx]
        sv = self._svc[idx]
        S = len(self.services)
        cpu = np.zeros(idx.size)
        mem = np.zeros(idx.size)
        rps = np.zeros(idx.size)
        if S:
            insvc = sv >= 0
            n = np.bincount(sv[ready & insvc], minlength=S).astype(np.float64)
            lam = self._rates(k)
            mu = self.cap * self.burst
            capacity = n * mu
            served = np.minimum(lam, capacity)
            dropped = lam - served
            pos = n > 0
            pps = np.divide(served, n, out=np.zeros(S), where=pos)
            share = np.divide(lam, n, out=np.zeros(S), where=pos)
            rho = np.divide(lam, capacity, out=np.full(S, math.inf), where=capacity > 0)
            mean = np.full(S, math.inf)
            quant = np.full(S, math.inf)
            ok = pos & (rho < 1)
            okps = ok & self.ps
            slack = 1.0 - rho[okps]
            mean[okps] = (1.0 / mu[okps]) / slack
            quant[okps] = self.qs[okps] / mu[okps] / slack
            for i in np.flatnonzero(ok & ~self.ps).tolist():
                mean[i] = mmc_mean_response(float(lam[i]), float(mu[i]), int(n[i]))
                quant[i] = mmc_response_quantile(self.services[i].latency_quantile, float(lam[i]), float(mu[i]),
                                                 int(n[i]))
            # Per pod: CPU from the served share (capped at the limit: throttling), memory.
            svp = np.where(insvc, sv, 0)
            rq = self._req_cpu[idx]
            c_run = np.where(running & insvc, self.idle[svp], 0.0)
            c_srv = np.where(ready & insvc, rq * pps[svp] / self.cap[svp], 0.0)
            cpu = np.minimum(c_run + c_srv, self._lim_cpu[idx])
            base = np.where(np.isnan(self.mem_base[svp]), self._req_mem[idx], self.mem_base[svp])
            m_srv = np.where(ready & insvc, self.mem_rps[svp] * pps[svp], 0.0)
            mem = np.where(running & insvc, np.minimum(base + m_srv, self._lim_mem[idx]), 0.0)
            rps = np.where(ready & insvc, share[svp], 0.0)
            avail = np.divide(served, lam, out=np.ones(S), where=lam > 0)
            lat_bad = quant > self.slo_lat
            av_bad = avail < self.slo_avail
            q_for_metric = np.where(np.isfinite(quant), quant, 1e6)
            self._svc_now = np.vstack([lam, served, dropped, q_for_metric])
            # Each service's CPU utilisation of its ready pods (for the scale-up chain).
            busy = np.bincount(sv[ready & insvc], weights=(c_run + c_srv)[ready & insvc], minlength=S)
            self._util_now = np.divide(busy, n * np.maximum(self.s_req_cpu, 1.0), out=np.zeros(S), where=pos)
            self._t_rows.append(now)
            self._svc_rows.append(np.vstack([lam, served, dropped, n, share, rho, mean, quant, lat_bad, av_bad,
                                             self._util_now]))
        used = (self._use[idx] >= 0) & running
        if used.any():
            self._usage_models(now, idx, used, cpu, mem)
        self._cpu[idx], self._mem[idx], self._rps[idx] = cpu, mem, rps

    def _usage_models(self, now: float, idx: np.ndarray, used: np.ndarray, cpu: np.ndarray, mem: np.ndarray) -> None:
        us = self._use[idx]
        for u in np.unique(us[used]).tolist():
            sel = used & (us == u)
            pi = idx[sel]
            for c, req, lim, r, out in ((self.u_cpu[u], self._req_cpu, self._lim_cpu, self._r_cpu, cpu),
                                        (self.u_mem[u], self._req_mem, self._lim_mem, self._r_mem, mem)):
                if c is None:
                    out[sel] = req[pi]  # no model of this resource: its request
                    continue
                age = now - self._run_start[pi]
                if c.trace is not None:
                    v = c.trace.at(self._trow[pi], age, c.memory)
                    out[sel] = np.minimum(np.where(np.isnan(v), c.fallback * req[pi], v), lim[pi])
                    continue
                ratio = c.series.at(np.full(pi.size, now) if c.run_clock else age) if c.series is not None else r[pi]
                out[sel] = np.minimum(ratio * req[pi] + c.growth * age, lim[pi])

    # -- eviction under memory pressure ---------------------------------------------------

    def _node_usage(self) -> tuple[np.ndarray, np.ndarray]:
        """Per node: CPU and memory in use (modelled pods' usage, others' requests)."""
        st = self.ctx.state
        nodes, pods = st.nodes, st.pods
        N = nodes.n
        cpu = nodes.requested[0, :N].astype(np.float64)
        mem = nodes.requested[1, :N].astype(np.float64)
        idx = self._tracked()
        if idx.size:
            ph = pods.phase[idx]
            bound = (ph == RUNNING) | (ph == BOUND)
            bi = idx[bound]
            nd = pods.node[bi]
            cpu += np.bincount(nd, weights=self._cpu[bi] - self._req_cpu[bi], minlength=N)[:N]
            mem += np.bincount(nd, weights=self._mem[bi] - self._req_mem[bi], minlength=N)[:N]
        return cpu, mem

    def _evict(self, now: float) -> None:
        if not any(c is not None for c in self.u_mem) and np.isnan(self.mem_base).all():
            return  # memory is never above requests: no pressure from the models
        st = self.ctx.state
        nodes, pods = st.nodes, st.pods
        _, mem = self._node_usage()
        N = nodes.n
        over = np.flatnonzero((mem > nodes.alloc[1, :N]) & np.isinf(nodes.removed_at[:N]))
        for node in over.tolist():
            n = pods.n
            on = np.flatnonzero((pods.node[:n] == node) & (pods.phase[:n] == RUNNING))
            on = np.array([p for p in on.tolist() if p not in st.terminating], dtype=np.int64)
            if not on.size:
                continue
            usage = [int(self._mem[p]) if p in self._live else int(pods.requests[p, 1]) for p in on.tolist()]
            order = rank_memory_pressure(usage, [int(pods.requests[p, 1]) for p in on.tolist()],
                                         [int(pods.priority[p]) for p in on.tolist()])
            victim = int(on[order[0]])
            self.evictions.append((now, victim, node))
            self.api.record("Evicted", victim, node, "The node was low on resource: memory.")
            self.api.delete_pod(victim, 0.0, "Evicted")

    def _sample_nodes(self, now: float) -> None:
        st = self.ctx.state
        nodes = st.nodes
        N = nodes.n
        cpu, mem = self._node_usage()
        alive = np.isinf(nodes.removed_at[:N])
        pool = nodes.pool[:N]
        for p in np.unique(pool[alive]).tolist():
            sel = alive & (pool == p)
            self._node_rows.append((now, nodes.pool_names[p] if p >= 0 else "", int(sel.sum()),
                                    float(nodes.alloc[0, :N][sel].sum()), float(nodes.requested[0, :N][sel].sum()),
                                    float(cpu[sel].sum()), float(nodes.alloc[1, :N][sel].sum()),
                                    float(nodes.requested[1, :N][sel].sum()), float(mem[sel].sum())))

    # -- the HPA controller ---------------------------------------------------------------

    def _sync_hpas(self, now: float) -> None:
        from k8sim.autoscaling.hpa_controller import Round, sync_one

        self._publish(now)
        rnd = Round(self, now)
        for h in self.hpas:
            sync_one(self, h, now, rnd)

    # -- results --------------------------------------------------------------------------

    def contribute(self) -> Contribution:
        from k8sim.autoscaling.results import contribution

        return contribution(self)
