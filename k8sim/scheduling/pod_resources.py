"""A pod's resource requests from its containers, as kube-scheduler computes them.

Three numbers come out of a pod spec, and upstream computes each with the same helper,
``resource.PodRequests`` (``k8s.io/component-helpers/resource/helpers.go``), under
different options:

- **requests** (what the pod takes from its node; NodeResourcesFit's filter,
  BalancedAllocation, the node's ``Requested``): ``PodRequests`` with no options. Per
  resource, the sum over the main containers; init containers by the max rule of the
  sidecar KEP (``aggregateContainerResourcesByFn``): a restartable init container
  (``restartPolicy: Always``, a sidecar) adds to the sum and to the running sidecar
  total, a regular init container needs its own requests plus the sidecars started
  before it, and the pod needs the maximum of the sum and every init container's need;
  then pod-level ``spec.resources.requests`` replace cpu, memory and ``hugepages-*``
  (``applyPodLevelResources``, PodLevelResources on by default since v1.34); then
  ``spec.overhead`` is added.
- **nonzero** (the incoming pod in NodeResourcesFit's score,
  ``resourceAllocationScorer.calculatePodResourceRequest`` in
  ``plugins/noderesources/resource_allocation.go`` with ``useRequested`` false): the
  same with ``NonMissingContainerRequests`` = 100m cpu and 200Mi memory
  (``pkg/scheduler/util`` ``DefaultMilliCPURequest`` / ``DefaultMemoryRequest``):
  ``applyNonMissing`` gives *each container* that lacks a cpu (memory) request the
  default, before the sum and the max. A request that is present, even ``0``, is kept
  (releases before ``NonMissingContainerRequests`` did the same per container with
  ``schedutil.GetNonzeroRequestForResource`` / ``GetRequestForResource``, formerly
  ``GetNonzeroRequests``, which also default only a resource the container does not name).
- **nonzero_bound** (what a bound pod adds to its node's ``NonZeroRequested``,
  ``PodInfo.calculateResource`` in ``pkg/scheduler/framework/types.go`` with
  ``getNonMissingContainerRequests``): the same per-container defaults, except for a pod
  with pod-level requests, where only a resource missing from the pod's whole
  ``requests`` gets them. Without pod-level requests it equals **nonzero**.

Quantities are summed exactly (:class:`fractions.Fraction`) and turned into base units
once at the end, rounding up as ``Quantity.MilliValue`` (cpu) and ``Quantity.Value``
(everything else) do.

In-place resize (``UseStatusResources``) and DRA-backed requests are not modelled: the
spec is the truth.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from k8sim.cluster.pods import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST
from k8sim.config.quantity import to_milli, to_units

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "ContainerRequests",
    "PodResources",
    "pod_requests",
    "pod_resources",
]

#: ``NonMissingContainerRequests`` of the scorer: the defaults as exact quantities.
_DEFAULTS: dict[str, Fraction] = {
    "cpu": Fraction(DEFAULT_MILLI_CPU_REQUEST, 1000),
    "memory": Fraction(DEFAULT_MEMORY_REQUEST),
}


@dataclass(frozen=True)
class ContainerRequests:
    """One container's ``resources.requests``: the resources it names (an explicit ``0``
    included); a resource it does not name is absent. ``sidecar``: an init container
    with ``restartPolicy: Always``."""

    requests: Mapping[str, Fraction] = field(default_factory=dict)
    sidecar: bool = False


def _add(into: dict[str, Fraction], more: Mapping[str, Fraction]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, Fraction(0)) + v


def _max(into: dict[str, Fraction], other: Mapping[str, Fraction]) -> None:
    # maxResourceList: a resource missing from ``into`` takes the other's value.
    for k, v in other.items():
        if k not in into or v > into[k]:
            into[k] = v


def _non_missing(reqs: Mapping[str, Fraction], defaults: Mapping[str, Fraction]) -> dict[str, Fraction]:
    """Upstream ``applyNonMissing``: a copy of ``reqs`` with each default added where the
    container does not name the resource (a named ``0`` stays 0)."""
    out = dict(reqs)
    for k, v in defaults.items():
        if k not in reqs:
            out[k] = v
    return out


def is_pod_level_resource(name: str) -> bool:
    """Upstream ``IsSupportedPodLevelResource``: cpu, memory and ``hugepages-*``."""
    return name in ("cpu", "memory") or name.startswith("hugepages-")


def pod_requests(containers: Sequence[ContainerRequests], init_containers: Sequence[ContainerRequests] = (),
                 pod_level: Mapping[str, Fraction] | None = None, overhead: Mapping[str, Fraction] | None = None,
                 non_missing: Mapping[str, Fraction] | None = None) -> dict[str, Fraction]:
    """Upstream ``PodRequests`` (exact quantities; see the module docstring).
    ``non_missing`` is ``NonMissingContainerRequests`` (None: no defaults)."""
    total: dict[str, Fraction] = {}
    for c in containers:
        _add(total, _non_missing(c.requests, non_missing) if non_missing else c.requests)
    sidecars: dict[str, Fraction] = {}
    init: dict[str, Fraction] = {}
    for c in init_containers:
        req = _non_missing(c.requests, non_missing) if non_missing else dict(c.requests)
        if c.sidecar:
            _add(total, req)
            _add(sidecars, req)
            need = dict(sidecars)
        else:
            need = dict(req)
            _add(need, sidecars)
        _max(init, need)
    _max(total, init)
    if pod_level and any(is_pod_level_resource(k) for k in pod_level):
        for k, v in pod_level.items():
            if is_pod_level_resource(k):
                total[k] = v
    if overhead:
        _add(total, overhead)
    return total


def _base(name: str, q: Fraction) -> int:
    return to_milli(q) if name == "cpu" else to_units(q)


@dataclass(frozen=True)
class PodResources:
    """A pod's requests in base units (milli-CPU, bytes, counts) and its non-zero cpu and
    memory for scoring (see the module docstring). ``requests`` names only resources the
    pod names somewhere (an explicit 0 included)."""

    requests: dict[str, int]
    nonzero: tuple[int, int]
    nonzero_bound: tuple[int, int]


def pod_resources(containers: Sequence[ContainerRequests], init_containers: Sequence[ContainerRequests] = (),
                  pod_level: Mapping[str, Fraction] | None = None,
                  overhead: Mapping[str, Fraction] | None = None) -> PodResources:
    """Requests, non-zero requests of the incoming pod (scorer) and of a bound pod
    (``NonZeroRequested``), as upstream computes each."""
    exact = pod_requests(containers, init_containers, pod_level, overhead)
    scorer = pod_requests(containers, init_containers, pod_level, overhead, non_missing=_DEFAULTS)
    pod_level_set = bool(pod_level) and any(is_pod_level_resource(k) for k in pod_level or {})
    if not pod_level_set:
        bound = scorer
    else:
        # getNonMissingContainerRequests: with pod-level requests, only resources missing
        # from the pod's requests get the per-container defaults.
        missing = {k: v for k, v in _DEFAULTS.items() if k not in exact}
        bound = pod_requests(containers, init_containers, pod_level, overhead, non_missing=missing) if missing else exact

    def cpu_mem(reqs: Mapping[str, Fraction]) -> tuple[int, int]:
        return _base("cpu", reqs.get("cpu", Fraction(0))), _base("memory", reqs.get("memory", Fraction(0)))

    return PodResources({k: _base(k, v) for k, v in exact.items()}, cpu_mem(scorer), cpu_mem(bound))
