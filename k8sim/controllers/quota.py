"""ResourceQuota admission (upstream ``plugin/pkg/admission/resourcequota``).

A ResourceQuota caps what the pods of one namespace may hold together. Upstream the
ResourceQuota admission plugin checks each pod as it is created
(``quotaEvaluator.checkRequest`` in ``controller.go``) against every quota of its
namespace, with the pod evaluator of ``pkg/quota/v1/evaluator/core/pods.go``:

- ``Constraints``: when a quota tracks ``cpu``, ``memory``, ``requests.cpu``,
  ``requests.memory``, ``limits.cpu`` or ``limits.memory``, every container must set
  that request or limit (``enforcePodContainerConstraints``); else the pod is refused
  with ``failed quota: <name>: must specify limits.cpu for: <containers>``;
- ``Usage`` (``PodUsageFunc`` / ``podComputeUsageHelper``): ``count/pods`` 1 always;
  ``pods`` 1, ``cpu`` = ``requests.cpu`` (the pod's ``PodRequests``), ``limits.cpu``
  (``PodLimits``), the same for memory and ephemeral-storage, ``hugepages-*``,
  ``requests.<extended resource>``, each only when the pod names the resource;
- the pod is admitted when, for every quota, used + requested <= hard for each resource
  the quota names; otherwise ``exceeded quota: <name>, requested: <r>=<q>, used:
  <r>=<q>, limited: <r>=<q>`` (``prettyPrint``: resources sorted, only the exceeded
  ones), and the API answers ``pods "<pod>" is forbidden: <that>``. On success the
  usage of every matching quota grows at once (the admission plugin writes
  ``status.used`` in the same request).

Usage is released as ``QuotaV1Pod`` says: a pod stops counting (except ``count/pods``)
when it reaches a terminal phase, or when it has been deleting for longer than its grace
period (a pod stuck terminating on a lost node). ``count/pods`` counts every pod object
until it is deleted. Upstream the release is written by the resource quota controller
(``pkg/controller/resourcequota``), which recalculates a namespace's usage when one of
its pods ends; k8sim applies it at that instant (its replenishment latency is not
modelled).

Not modelled: quota ``scopes`` / ``scopeSelector`` (manifests with them are an
error), object-count quotas of other kinds (``count/deployments.apps``,
``services``...: warned, not enforced), the admission configuration's
``limitedResources``, the PodGC's deletion of terminated pods (so ``count/pods`` keeps
counting pods that ended on their own, as upstream until the 12500-pod GC threshold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.pods import FAILED, OWNER_KINDS, SUCCEEDED
from k8sim.cluster.watch import PodDeleted, PodDeleting, PodTerminated
from k8sim.component import Contribution
from k8sim.config.quantity import format_quantity, to_milli, to_units
from k8sim.config.quota import quota_resource_kind
from k8sim.scheduling.pod_resources import ContainerRequests, pod_requests

if TYPE_CHECKING:
    from k8sim.component import Context

#: ``validationSet``: quota names that require every container to set the resource.
VALIDATION_SET = ("cpu", "limits.cpu", "limits.memory", "memory", "requests.cpu", "requests.memory")
#: Resources whose request is charged under the bare name and ``requests.<name>``.
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
#: The name the single container of a pod given by ``requests`` (not ``containers``) has
#: in messages.
SINGLE_CONTAINER = "main"


def _base(resource: str, q: Fraction) -> int:
    return to_milli(q) if resource == "cpu" else to_units(q)


def _resource_of(name: str) -> str:
    """The pod resource behind a quota resource name (``limits.cpu`` -> ``cpu``)."""
    for prefix in ("requests.", "limits."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def quota_text(name: str, amount: int) -> str:
    """``amount`` base units of quota resource ``name`` as a quantity (``500m``, ``2Gi``)."""
    return format_quantity(_resource_of(name) if not name.startswith("count/") else "pods", amount)


def pretty(usage: dict[str, int]) -> str:
    """Upstream ``prettyPrint``: ``a=1,b=2Gi`` sorted by name."""
    return ",".join(f"{k}={quota_text(k, v)}" for k, v in sorted(usage.items()))


@dataclass(frozen=True)
class PodQuotaSpec:
    """What quota admission reads of one kind of pod: its ``usage`` (quota resource name
    -> base units, compute resources only; ``pods`` and ``count/pods`` are added by the
    admission) and, per container, the names of :data:`VALIDATION_SET` it sets."""

    usage: dict[str, int]
    containers: tuple[tuple[str, frozenset[str]], ...]


def _containers_of(spec: Any) -> list[tuple[str, dict[str, Fraction], dict[str, Fraction], bool, bool]]:
    """(name, requests, limits, init, sidecar) of every container of a template or an
    initial pod, main containers first; a pod given by ``requests`` has one container."""
    per_container = (any(c.requests is not None for c in spec.containers)
                     or any(c.requests is not None for c in spec.init_containers)
                     or any(getattr(c, "limits", None) is not None for c in spec.containers))
    if not per_container:
        names = [c.name for c in spec.containers] or [SINGLE_CONTAINER]
        return [(names[0], dict(spec.requests), dict(getattr(spec, "limits", {}) or {}), False, False)]
    out = [(c.name, dict(c.requests or {}), dict(c.limits or {}), False, False) for c in spec.containers]
    out += [(c.name, dict(c.requests or {}), dict(c.limits or {}), True, c.restart_policy == "Always")
            for c in spec.init_containers]
    return out


def _set_names(requests: dict[str, Any], limits: dict[str, Any]) -> frozenset[str]:
    """``podComputeUsageHelper`` of one container, restricted to :data:`VALIDATION_SET`."""
    out = set()
    for r in ("cpu", "memory"):
        if r in requests:
            out |= {r, f"requests.{r}"}
        if r in limits:
            out.add(f"limits.{r}")
    return frozenset(out)


def pod_quota_spec(spec: Any, requests: np.ndarray | None = None, resource_names: Sequence[str] = (),
                   overhead: dict[str, Fraction] | None = None) -> PodQuotaSpec:
    """The :class:`PodQuotaSpec` of pods made from ``spec`` (a pod template or an initial
    pod; None: a trace pod, one container naming cpu and memory). ``requests`` (the
    shape's ``int64[R]`` over ``resource_names``) gives the requests when known exactly
    (RuntimeClass overhead included); else they are computed from ``spec``."""
    if spec is None:
        assert requests is not None
        amounts = {"cpu": int(requests[0]), "memory": int(requests[1])}
        return PodQuotaSpec(_usage(amounts, {}), (("", frozenset(VALIDATION_SET) - {"limits.cpu", "limits.memory"}),))
    cs = _containers_of(spec)
    main = [ContainerRequests(req) for _, req, _, init, _ in cs if not init]
    init_c = [ContainerRequests(req, side) for _, req, _, init, side in cs if init]
    pod_level = spec.resources.requests if getattr(spec, "resources", None) is not None else None
    over = dict(overhead if overhead is not None else (getattr(spec, "overhead", None) or {}))
    exact = pod_requests(main, init_c, pod_level, over)
    named = set(exact)
    if requests is not None:
        amounts = {r: int(requests[i]) for i, r in enumerate(resource_names) if r in named}
    else:
        amounts = {r: _base(r, q) for r, q in exact.items()}
    # PodLimits: the same aggregation over limits; overhead only where a limit is set.
    lim = pod_requests([ContainerRequests(li) for _, _, li, init, _ in cs if not init],
                       [ContainerRequests(li, side) for _, _, li, init, side in cs if init])
    for r, q in over.items():
        if r in lim:
            lim[r] += q
    limits = {r: _base(r, q) for r, q in lim.items()}
    return PodQuotaSpec(_usage(amounts, limits), tuple((n, _set_names(req, li)) for n, req, li, _, _ in cs))


def _usage(requests: dict[str, int], limits: dict[str, int]) -> dict[str, int]:
    """``podComputeUsageHelper`` over the pod's requests and limits (base units)."""
    out: dict[str, int] = {}
    for r in _COMPUTE:
        if r in requests:
            out[r] = out[f"requests.{r}"] = requests[r]
        if r in limits:
            out[f"limits.{r}"] = limits[r]
    for r, q in requests.items():
        if r.startswith("hugepages-"):
            out[r] = out[f"requests.{r}"] = q
        elif r not in _COMPUTE and r != "pods" and "/" in r and "kubernetes.io/" not in r:
            out[f"requests.{r}"] = q  # an extended resource: only requests.<name>
    return out


def constraint_error(hard: dict[str, int], spec: PodQuotaSpec) -> str | None:
    """``podEvaluator.Constraints``: ``must specify ...`` or None."""
    required = {r for r in hard if r in VALIDATION_SET}
    if not required:
        return None
    missing: dict[str, set[str]] = {}
    for name, have in spec.containers:
        for r in required - have:
            missing.setdefault(r, set()).add(name)
    if not missing:
        return None
    return "must specify " + "; ".join(f"{r} for: {','.join(sorted(missing[r]))}" for r in sorted(missing))


@dataclass
class Quota:
    """One ResourceQuota: ``hard`` and ``used`` in base units (cpu names in milli-CPU).
    ``where`` names it in messages (``resourceQuotas[0]`` or ``file: document[i]``)."""

    name: str
    namespace: str
    hard: dict[str, int]
    where: str
    used: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    refusals: int = 0

    def __post_init__(self) -> None:
        # Pod-tracked names only; the others were warned about.
        self.hard = {k: v for k, v in self.hard.items() if quota_resource_kind(k) == "pod"}
        self.used = dict.fromkeys(self.hard, 0)
        self.peak = dict(self.used)


def hard_base_units(hard: dict[str, Fraction]) -> dict[str, int]:
    """Quota ``hard`` quantities in base units (milli-CPU for the cpu names)."""
    return {k: (to_milli(q) if _resource_of(k) == "cpu" else to_units(q)) for k, q in hard.items()}


class ResourceQuotaAdmission:
    """The run's ResourceQuotas and their admission of pod creations (see the module
    docstring); an admission plugin of the Cluster API and a component (frames
    ``quota_refusals`` and ``resource_quotas``, summary ``pods_refused_quota``)."""

    name = "resourcequota"

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.quotas: list[Quota] = []
        self._by_ns: dict[str, list[Quota]] = {}
        self._specs: dict[int, PodQuotaSpec] = {}
        #: pod -> (its quotas, the usage still charged to them)
        self._charged: dict[int, tuple[list[Quota], dict[str, int]]] = {}
        self._deleting: set[int] = set()
        self.refusals: list[tuple[float, str, str, str, str, str, str]] = []
        ctx.api.add_admission(self)
        bus = ctx.api.bus
        bus.subscribe(PodTerminated, self._on_terminated)
        bus.subscribe(PodDeleted, self._on_deleted)
        bus.subscribe(PodDeleting, self._on_deleting)

    def add(self, name: str, namespace: str, hard: dict[str, Fraction], where: str) -> Quota:
        """Create (or replace: ``kubectl apply`` of a changed quota) a quota now, with
        its exact ``hard`` quantities. The new quota's usage is that of the namespace's
        pods now (the quota controller's first sync)."""
        old = [q for q in self._by_ns.get(namespace, []) if q.name == name]
        q = Quota(name, namespace, hard_base_units(hard), where)
        if old:
            self._by_ns[namespace] = [x for x in self._by_ns[namespace] if x is not old[0]]
            self.quotas = [x for x in self.quotas if x is not old[0]]
        self.quotas.append(q)
        lst = self._by_ns.setdefault(namespace, [])
        lst.append(q)
        lst.sort(key=lambda x: x.name)
        # Pods already charged to the namespace's quotas count against the new one.
        for pod, (quotas, usage) in self._charged.items():
            if self._namespace(pod) == namespace:
                if old and old[0] in quotas:
                    quotas.remove(old[0])
                quotas.append(q)
                for r in q.hard:
                    if r in usage:
                        q.used[r] += usage[r]
                        q.peak[r] = max(q.peak[r], q.used[r])
        return q

    def start(self) -> None:
        """Nothing to start: admission runs inside pod creations."""

    # -- the pods' usage ----------------------------------------------------------------

    def _namespace(self, pod: int) -> str:
        state = self.ctx.state
        return state.shapes[int(state.pods.shape[pod])].namespace

    def spec(self, shape: int) -> PodQuotaSpec:
        """The quota view of pods of ``shape`` (cached per shape)."""
        s = self._specs.get(shape)
        if s is None:
            state = self.ctx.state
            info = state.shapes[shape]
            s = self._specs[shape] = pod_quota_spec(getattr(info, "pod_spec", None), info.requests,
                                                    state.resources.names)
        return s

    # -- admission ----------------------------------------------------------------------

    def check(self, name: str, shape: int, workload: int, owner_kind: int, owner: int) -> str | None:
        info = self.ctx.state.shapes[shape]
        quotas = self._by_ns.get(info.namespace)
        if not quotas:
            return None
        spec = self.spec(shape)
        delta = {"pods": 1, "count/pods": 1, **spec.usage}
        why = None
        failed: Quota | None = None
        for q in quotas:
            err = constraint_error(q.hard, spec)
            if err is not None:
                why, failed = f"failed quota: {q.name}: {err}", q
                break
        if why is None:
            for q in quotas:
                requested = {r: v for r, v in delta.items() if r in q.hard}
                exceeded = sorted(r for r, v in requested.items() if q.used[r] + v > q.hard[r])
                if exceeded:
                    why = (f"exceeded quota: {q.name}, requested: {pretty({r: requested[r] for r in exceeded})}, "
                           f"used: {pretty({r: q.used[r] for r in exceeded})}, "
                           f"limited: {pretty({r: q.hard[r] for r in exceeded})}")
                    failed = q
                    break
        if why is None:
            return None
        assert failed is not None
        failed.refusals += 1
        wl = self.ctx.scenario.workloads[workload].name if 0 <= workload < len(self.ctx.scenario.workloads) else ""
        self.refusals.append((self.ctx.env.now, info.namespace, name, OWNER_KINDS[owner_kind], wl, failed.name,
                              why))
        return why

    def charge(self, pod: int) -> None:
        state = self.ctx.state
        shape = int(state.pods.shape[pod])
        quotas = self._by_ns.get(state.shapes[shape].namespace)
        usage = {"pods": 1, "count/pods": 1, **self.spec(shape).usage}
        self._charged[pod] = (list(quotas or ()), usage)
        for q in quotas or ():
            for r in q.hard:
                v = usage.get(r)
                if v:
                    q.used[r] += v
                    if q.used[r] > q.peak[r]:
                        q.peak[r] = q.used[r]

    # -- release (QuotaV1Pod) -------------------------------------------------------------

    def _release(self, pod: int, compute: bool, count: bool) -> None:
        got = self._charged.get(pod)
        if got is None:
            return
        quotas, usage = got
        for q in quotas:
            for r in q.hard:
                if r in usage and ((r == "count/pods" and count) or (r != "count/pods" and compute)):
                    q.used[r] -= usage[r]
        if count:
            del self._charged[pod]
        else:
            self._charged[pod] = (quotas, {"count/pods": usage["count/pods"]} if "count/pods" in usage else {})

    def _on_terminated(self, e: PodTerminated) -> None:
        if e.phase in (SUCCEEDED, FAILED):
            self._release(e.pod, compute=True, count=e.pod in self._deleting)
            self._deleting.discard(e.pod)

    def _on_deleted(self, e: PodDeleted) -> None:
        self._release(e.pod, compute=True, count=True)

    def _on_deleting(self, e: PodDeleting) -> None:
        if e.pod not in self._charged:
            return
        self._deleting.add(e.pod)
        pod = e.pod

        def grace_over(_e: object) -> None:
            # Still not terminal after deletionTimestamp + grace: not charged any more.
            got = self._charged.get(pod)
            if got is not None and set(got[1]) - {"count/pods"}:
                self._release(pod, compute=True, count=False)

        self.ctx.env.timeout(e.grace_s).callbacks.append(grace_over)

    # -- the record ---------------------------------------------------------------------

    def contribute(self) -> Contribution:
        refusals = pd.DataFrame(self.refusals, columns=["time", "namespace", "pod", "owner_kind", "workload",
                                                        "quota", "message"])
        rows = [(q.namespace, q.name, r, q.hard[r], q.used[r], q.peak[r], quota_text(r, q.hard[r]))
                for q in self.quotas for r in sorted(q.hard)]
        quotas = pd.DataFrame(rows, columns=["namespace", "quota", "resource", "hard", "used_at_end", "max_used",
                                             "hard_quantity"])
        for f in (refusals, quotas):
            for c in f.columns:
                if f[c].dtype == object:
                    f[c] = f[c].astype("string")
        for c in ("hard", "used_at_end", "max_used"):
            quotas[c] = quotas[c].astype("int64")
        return Contribution(frames={"quota_refusals": refusals, "resource_quotas": quotas},
                            summary={"pods_refused_quota": len(self.refusals)})


def _unsatisfiable(q: Quota, spec: PodQuotaSpec) -> str | None:
    """Why no pod of ``spec`` can ever be admitted by ``q`` alone (None: one can)."""
    err = constraint_error(q.hard, spec)
    if err is not None:
        return err
    delta = {"pods": 1, "count/pods": 1, **spec.usage}
    over = sorted(r for r in q.hard if delta.get(r, 0) > q.hard[r])
    if over:
        return (f"one pod requests {pretty({r: delta[r] for r in over})}, above the quota's "
                f"{pretty({r: q.hard[r] for r in over})}")
    return None


def build(ctx: Context, inputs: dict[int, Any]) -> ResourceQuotaAdmission | None:
    """The run's ResourceQuota admission, with the scenario's ``resourceQuotas`` and the
    manifest workloads' ResourceQuotas of time 0 (they exist before any pod, as a
    namespace's quota is set up before its workloads); None when the run has none. A
    quota that no pod of a workload of its namespace can satisfy is warned about,
    naming the quota's field and the workload."""
    scenario = ctx.scenario
    initial = [(o, f"{o.where}.spec.hard") for inp in inputs.values() if hasattr(inp, "initial")
               for o in inp.initial.objects if o.kind == "ResourceQuota"]
    later = any(o.kind == "ResourceQuota" for inp in inputs.values() if hasattr(inp, "updates")
                for _, m in inp.updates for o in m.objects)
    if not scenario.resource_quotas and not initial and not later:
        return None
    adm = ResourceQuotaAdmission(ctx)
    fields: dict[int, str] = {}
    for i, spec in enumerate(scenario.resource_quotas):
        for res in sorted(spec.hard):
            if quota_resource_kind(res) == "other":
                ctx.warnings.append(f"resourceQuotas[{i}].hard.{res}: counts objects k8sim does not model "
                                    "(not enforced)")
        q = adm.add(spec.name, spec.namespace, dict(spec.hard), f"resourceQuotas[{i}]")
        fields[id(q)] = f"resourceQuotas[{i}].hard"
    for o, where in initial:
        q = adm.add(o.name, o.namespace, o.batch.hard, o.where)
        fields[id(q)] = where
    # The pods each namespace will see: synthetic workloads' and manifest objects' templates.
    templates: list[tuple[str, str, Any]] = []
    for wi, w in enumerate(scenario.workloads):
        if w.manifest is None and w.trace is None and w.jobs is None:
            templates.append((w.template.namespace, f"workloads[{wi}] ({w.name})", w.template))
    for inp in inputs.values():
        for mset in (inp.sets() if hasattr(inp, "sets") else ()):
            for o in mset.objects:
                if o.kind not in ("ResourceQuota", "LimitRange", "PodDisruptionBudget"):
                    templates.append((o.namespace, f"{o.kind} {o.key} ({o.where})", o.template))
    for q in adm.quotas:
        for ns, what, template in templates:
            if ns != q.namespace:
                continue
            why = _unsatisfiable(q, pod_quota_spec(template))
            if why is not None:
                ctx.warnings.append(f"{fields.get(id(q), q.where)}: ResourceQuota {q.namespace}/{q.name} admits no "
                                    f"pod of {what}: {why}")
    return adm
