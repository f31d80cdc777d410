"""One HPA's sync in the event loop: gather the inputs, call the pure functions, act.

Upstream ``pkg/controller/podautoscaler/horizontal.go`` ``reconcileAutoscaler``: the
target's ``spec.replicas`` is the current count; each metric of the HPA gives a
proposal (``computeReplicasForMetrics``, here :func:`proposal` over the replica
calculator of :mod:`k8sim.autoscaling.hpa_replicas`); :func:`k8sim.autoscaling.hpa_sync.
sync` takes the largest, stabilizes and limits it; a change sets ``spec.replicas`` of
the Deployment (the Deployment controller then scales its ReplicaSet) and logs
``SuccessfulRescale`` ("New size: N; reason: ..."), as upstream's event does.

Inputs, from the pod table and the metrics pipeline of
:mod:`k8sim.autoscaling.pod_autoscaling`:

- the pods are the Deployment's pods not yet terminated (every ReplicaSet of it, as
  the selector matches them): phase ``Pending`` while Pending or ContainerCreating,
  ``Running`` after; ``deleting`` once deleted; the Ready condition is true from the
  pod's ready time; ``status.startTime`` is its binding time (the kubelet sets it when
  it first syncs the pod); the Ready condition's last transition is the ready time, or
  the start time while it has never been ready;
- a pod's sample is the latest *visible* scrape (value, scrape time, window =
  ``metrics.resolution_s``); CPU in milli-CPU, memory in milli-bytes (``MilliValue``);
- the common case (every pod Running, counted and with a sample) is computed in closed
  form over all HPAs at once (:class:`Round`), exactly as ``GetResourceReplicas``
  without unready or missing pods; any other case builds the pod list and calls the
  pure function (tests check that both agree).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.autoscaling import hpa_replicas as hr
from k8sim.autoscaling.hpa_sync import sync
from k8sim.cluster.pods import RUNNING

if TYPE_CHECKING:
    from k8sim.autoscaling.pod_autoscaling import _HPA, PodAutoscaling
    from k8sim.config.autoscaling import MetricSpec

_SVC_ROW = {"requests_per_second": 0, "served_requests_per_second": 1, "dropped_requests_per_second": 2,
            "latency_seconds": 3}


def _milli(v: float) -> int:
    return int(min(round(v * 1000.0), 2**62))


class _Pods:
    """The HPA target's pods and their inputs, as arrays."""

    def __init__(self, c: PodAutoscaling, d: int, now: float):
        self.c = c
        self.d = d
        self.now = now
        self.loaded = False

    def load(self) -> None:
        if self.loaded:
            return
        self.loaded = True
        c, now = self.c, self.now
        pods = c.ctx.state.pods
        idx = c._tracked()
        self.idx = idx[c._dep[idx] == self.d]
        i = self.idx
        self.running = pods.phase[i] == RUNNING
        self.deleting = c._deleting[i]
        self.ready_t = pods.ready[i]
        self.ready = self.running & (self.ready_t <= now)
        self.start = pods.scheduled[i]
        self.has = c._v_ok[i] & ~np.isnan(c._v_ts[i])

    def ready_count(self) -> int:
        self.load()
        return int((self.ready & ~self.deleting).sum())

    def active(self) -> int:
        self.load()
        return int((~self.deleting).sum())

    def infos(self) -> list[hr.PodInfo]:
        self.load()
        out = []
        for k, p in enumerate(self.idx.tolist()):
            ready = bool(self.ready[k])
            start = float(self.start[k])
            out.append(hr.PodInfo(name=str(p), phase="Running" if self.running[k] else "Pending",
                                  ready=ready if self.running[k] else False,
                                  start_time=None if math.isnan(start) else start,
                                  ready_transition_time=float(self.ready_t[k]) if ready else
                                  (0.0 if math.isnan(start) else start),
                                  deleting=bool(self.deleting[k])))
        return out

    def samples(self, values: np.ndarray) -> dict[str, hr.MetricSample]:
        self.load()
        c = self.c
        w = c.metrics.resolution_s
        return {str(p): hr.MetricSample(int(values[k]), float(c._v_ts[p]), w)
                for k, p in enumerate(self.idx.tolist()) if self.has[k]}


class Round:
    """One sync round's per-Deployment aggregates over every tracked pod, for the
    common case of :func:`_resource` (computed once for all HPAs, per resource)."""

    def __init__(self, c: PodAutoscaling, now: float):
        self.c = c
        self.now = now
        pods = c.ctx.state.pods
        idx = c._tracked()
        dep = c._dep[idx]
        keep = dep >= 0
        self.idx = idx[keep]
        self.dep = dep[keep]
        i = self.idx
        self.running = pods.phase[i] == RUNNING
        self.deleting = c._deleting[i]
        self.ready_t = pods.ready[i]
        self.ready = self.running & (self.ready_t <= now)
        self.start = pods.scheduled[i]
        self.has = c._v_ok[i] & ~np.isnan(c._v_ts[i])
        D = max(c.D, 1)
        self.D = D
        self.ready_count = np.bincount(self.dep, weights=self.ready & ~self.deleting, minlength=D)
        self.running_count = np.bincount(self.dep, weights=self.running, minlength=D)
        self._agg: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def aggregates(self, is_cpu: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per Deployment: pods that make the simple case fail, usage and request sums
        of the counted pods (milli-units, as integers), and the counted pods."""
        key = "cpu" if is_cpu else "memory"
        out = self._agg.get(key)
        if out is None:
            c, i, hc = self.c, self.idx, self.c.hctl
            scale = 1.0 if is_cpu else 1000.0
            vals = np.rint((c._v_cpu[i] if is_cpu else c._v_mem[i]) * scale)
            reqs = np.rint((c._req_cpu[i] if is_cpu else c._req_mem[i]) * scale)
            active = ~self.deleting
            pending = active & ~self.running
            cand = active & self.running & self.has
            if is_cpu:
                trans = np.where(self.ready, self.ready_t, self.start)
                in_init = self.start + hc.cpu_initialization_period_s > self.now
                late = c._v_ts[i] < trans + c.metrics.resolution_s
                unready = np.where(in_init, ~self.ready | late,
                                   ~self.ready & (self.start + hc.initial_readiness_delay_s > trans))
            else:
                unready = np.zeros(i.size, dtype=bool)
            counted = cand & ~unready
            bad = pending | (active & self.running & ~self.has) | (cand & unready)
            D = self.D
            out = (np.bincount(self.dep, weights=bad, minlength=D),
                   np.bincount(self.dep, weights=np.where(counted, vals, 0.0), minlength=D),
                   np.bincount(self.dep, weights=np.where(counted, reqs, 0.0), minlength=D),
                   np.bincount(self.dep, weights=counted, minlength=D))
            self._agg[key] = out
        return out


def _resource(c: PodAutoscaling, h: _HPA, m: Any, pods: _Pods, current: int, now: float,
              rnd: Round | None = None) -> hr.ReplicaResult:
    is_cpu = m.name == "cpu"
    t = m.target
    if t.type == "Utilization" and rnd is not None:
        bad, tot, treq, cnt = rnd.aggregates(is_cpu)
        d = h.dep
        # Sums of integers below 2**53 are exact in float64.
        if bad[d] == 0 and cnt[d] > 0 and treq[d] > 0 and tot[d] < 2**53 and treq[d] < 2**53:
            target = int(t.average_utilization)
            util = (int(tot[d]) * 100) // int(treq[d])
            ratio = util / target
            raw = int(tot[d]) // int(cnt[d])
            if h.tolerances.is_within(ratio):
                return hr.ReplicaResult(current, raw, util)
            return hr.ReplicaResult(hr._ceil_i32(ratio * int(cnt[d])), raw, util)
    pods.load()
    i = pods.idx
    scale = 1.0 if is_cpu else 1000.0
    vals = np.rint((c._v_cpu[i] if is_cpu else c._v_mem[i]) * scale).astype(np.int64)
    reqs = np.rint((c._req_cpu[i] if is_cpu else c._req_mem[i]) * scale).astype(np.int64)
    hc = c.hctl
    if t.type == "Utilization":
        target = int(t.average_utilization)
        return hr.get_resource_replicas(
            current, target, pods.infos(), pods.samples(vals),
            {str(p): int(r) for p, r in zip(i.tolist(), reqs.tolist(), strict=True)}, is_cpu=is_cpu, now=now,
            tolerances=h.tolerances, cpu_initialization_period=hc.cpu_initialization_period_s,
            delay_of_initial_readiness_status=hc.initial_readiness_delay_s)
    return hr.get_raw_resource_replicas(current, t.milli(), pods.infos(), pods.samples(vals), is_cpu=is_cpu, now=now,
                                        tolerances=h.tolerances,
                                        cpu_initialization_period=hc.cpu_initialization_period_s,
                                        delay_of_initial_readiness_status=hc.initial_readiness_delay_s)


def _service_value(c: PodAutoscaling, s: int, name: str) -> int:
    v = float(c._svc_vis[_SVC_ROW[name], s])
    if math.isnan(v):
        raise hr.ReplicaCalculationError(f"no scrape of metric {name} yet")
    return _milli(v)


def proposal(c: PodAutoscaling, h: _HPA, m: MetricSpec, pods: _Pods, current: int, now: float,
             rnd: Round | None = None) -> hr.ReplicaResult:
    """One metric's proposal (``computeReplicasForMetric``); raises
    :class:`~k8sim.autoscaling.hpa_replicas.ReplicaCalculationError` when it fails."""
    if m.type in ("Resource", "ContainerResource"):
        src = m.resource if m.type == "Resource" else m.container_resource
        if rnd is not None and rnd.running_count[h.dep] == 0 and not (rnd.dep == h.dep).any():
            raise hr.ReplicaCalculationError("no pods returned by selector while calculating replica count")
        if rnd is None:
            pods.load()
            if not pods.idx.size:
                raise hr.ReplicaCalculationError("no pods returned by selector while calculating replica count")
        return _resource(c, h, src, pods, current, now, rnd)
    pods.load()
    if m.type == "Pods":
        assert m.pods is not None
        vals = np.array([_milli(v) for v in c._v_rps[pods.idx].tolist()], dtype=np.int64)
        return hr.get_metric_replicas(current, m.pods.target.milli(), pods.infos(), pods.samples(vals), now=now,
                                      tolerances=h.tolerances)
    own = int(c.svc_of_dep[h.dep])
    if m.type == "Object":
        assert m.object is not None
        obj = m.object.described_object
        if obj.kind == "Deployment":
            s = int(c.svc_of_dep[c._dep_index[f"default/{obj.name}"]])
        else:
            s = [sv.service_name for sv in c.services].index(obj.name)
        usage = _service_value(c, s, m.object.metric.name)
        t = m.object.target
        if t.type == "Value":
            return hr.get_object_metric_replicas(current, t.milli(), usage, pods.ready_count(), h.tolerances)
        return hr.get_object_per_pod_metric_replicas(max(pods.active(), 1), t.milli(), usage, h.tolerances)
    assert m.external is not None
    sel = m.external.metric.selector
    name = sel.match_labels.get("service") if sel is not None else None
    s = own if name is None else [sv.service_name for sv in c.services].index(name)
    value = _service_value(c, s, m.external.metric.name)
    t = m.external.target
    if t.type == "Value":
        return hr.get_external_metric_replicas(current, t.milli(), [value], pods.ready_count(), h.tolerances)
    return hr.get_external_per_pod_metric_replicas(max(pods.active(), 1), t.milli(), [value], h.tolerances)


def sync_one(c: PodAutoscaling, h: _HPA, now: float, rnd: Round | None = None) -> None:
    """``reconcileAutoscaler`` of one HPA at ``now`` (``rnd``: the round's aggregates;
    None computes everything for this HPA alone)."""
    key = c.dep_keys[h.dep]
    if c.dc is None or key not in c.dc.by_key:
        return  # the Deployment does not exist (yet)
    d = c.dc.store.deployments[c.dc.by_key[key]]
    spec = h.spec.spec
    current = d.replicas
    pods = _Pods(c, h.dep, now)
    proposals: list[int | None] = []
    value = math.nan
    for j, m in enumerate(spec.metrics):
        try:
            r = proposal(c, h, m, pods, current, now, rnd)
        except hr.ReplicaCalculationError:
            proposals.append(None)
            continue
        proposals.append(r.replicas)
        if j == 0:
            value = float(r.utilization if r.utilization is not None else r.usage / 1000.0)
    res = sync(h.state, spec_replicas=current, min_replicas=spec.min_replicas, max_replicas=spec.max_replicas,
               proposals=proposals, behavior=h.behavior, now=now,
               downscale_stabilization_s=c.hctl.downscale_stabilization_s)
    h.state = res.state
    if res.rescale:
        c.dc.scale(key, res.desired)
        c.api.record("SuccessfulRescale", detail=f"HorizontalPodAutoscaler {h.spec.metadata.name}: "
                                                 f"New size: {res.desired}; reason: {res.reason}")
        h.decisions.append((now, current, res.desired, math.nan))
    if rnd is not None:
        ready, running = int(rnd.ready_count[h.dep]), int(rnd.running_count[h.dep])
    else:
        pods.load()
        ready, running = pods.ready_count(), int(pods.running.sum())
    h.rows.append((now, current, res.desired, ready, running, value, res.reason))
