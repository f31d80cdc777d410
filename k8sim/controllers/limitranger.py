"""LimitRange admission (upstream ``plugin/pkg/admission/limitranger/admission.go``).

Upstream the LimitRanger admission plugin acts on each pod as it is created. It first
fills in each container's missing limits from the namespace's Container items'
``default`` and its missing requests from their ``defaultRequest``
(``defaultContainerResourceRequirements`` / ``mergeContainerResources``; a container
with a limit but no request already has request = limit from the API's defaulting,
``SetDefaults_Pod``). Then ``PodValidateLimitFunc`` checks, for every container (main
and init) and each Container item:

- ``min``: the request must exist and be >= min, and a limit, if set, >= min
  (``minConstraint``);
- ``max``: the limit must exist and be <= max, and the request, if set, <= max
  (``maxConstraint``);
- ``maxLimitRequestRatio``: request and limit must both be set and non-zero and
  limit / request <= the ratio (``limitRequestRatioConstraint``);

and the same for the pod as a whole against each Pod item, with the pod's requests
(limits) being the sum over its main containers of the resources *every* main
container names (``sum`` drops a resource one container lacks), then the max with each
init container's. Every violation is reported (upstream aggregates them:
``[a, b]``), in upstream's words, quantities as ``Quantity.String``.

Every pod of a manifest object comes from its pod template, and every pod of a
synthetic workload from the workload's template, so k8sim applies the same rules once
per template, when the run is built: defaults change the template (hence every pod's
requests and limits); a template whose pods would be rejected is not run, with a
warning naming the object or workload and the violation (upstream each pod creation
fails: no pod ever runs). Only the LimitRanges of a workload's ``manifest`` (time 0)
apply, to every manifest object and synthetic workload of their namespace, including
objects applied later.

Not modelled: PersistentVolumeClaim items; pods of trace workloads (their requests come
from the trace; a warning when their namespace has a LimitRange); pod-level
``resources`` in the Pod item sums.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from k8sim.config.quantity import format_quantity, to_milli, to_units

if TYPE_CHECKING:
    from k8sim.config.pods import PodTemplate
    from k8sim.config.scenario import Scenario
    from k8sim.workloads.manifests import AppObject


def _fmt(resource: str, q: Fraction) -> str:
    """``Quantity.String`` of an exact quantity (``100m``, ``2Gi``)."""
    return format_quantity(resource, to_milli(q) if resource == "cpu" else to_units(q))


def _milli(resource: str, q: Fraction) -> int:
    """``requestLimitEnforcedValues``: the comparison is made on milli-values."""
    return to_milli(q)


def _min(kind: str, r: str, lo: Fraction, req: dict, lim: dict) -> str | None:
    if r not in req:
        return f"minimum {r} usage per {kind} is {_fmt(r, lo)}.  No request is specified."
    if _milli(r, req[r]) < _milli(r, lo):
        return f"minimum {r} usage per {kind} is {_fmt(r, lo)}, but request is {_fmt(r, req[r])}."
    if r in lim and _milli(r, lim[r]) < _milli(r, lo):
        return f"minimum {r} usage per {kind} is {_fmt(r, lo)}, but limit is {_fmt(r, lim[r])}."
    return None


def _max(kind: str, r: str, hi: Fraction, req: dict, lim: dict) -> str | None:
    if r not in lim:
        return f"maximum {r} usage per {kind} is {_fmt(r, hi)}.  No limit is specified."
    if _milli(r, lim[r]) > _milli(r, hi):
        return f"maximum {r} usage per {kind} is {_fmt(r, hi)}, but limit is {_fmt(r, lim[r])}."
    if r in req and _milli(r, req[r]) > _milli(r, hi):
        return f"maximum {r} usage per {kind} is {_fmt(r, hi)}, but request is {_fmt(r, req[r])}."
    return None


def _ratio(kind: str, r: str, ratio: Fraction, req: dict, lim: dict) -> str | None:
    enforced = format_quantity("cpu", to_milli(ratio))  # a plain number, as Quantity.String
    if r not in req or _milli(r, req[r]) == 0:
        return f"{r} max limit to request ratio per {kind} is {enforced}, but no request is specified or request is 0."
    if r not in lim or _milli(r, lim[r]) == 0:
        return f"{r} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0."
    observed = _milli(r, lim[r]) / _milli(r, req[r])
    if observed * 1000 > to_milli(ratio):
        return f"{r} max limit to request ratio per {kind} is {enforced}, but provided ratio is {observed:f}."
    return None


def _sum(lists: list[dict[str, Fraction]]) -> dict[str, Fraction]:
    """Upstream ``sum``: the total of each resource named by *every* list."""
    keys = set().union(*lists) if lists else set()
    return {k: sum((x[k] for x in lists), Fraction(0)) for k in keys if all(k in x for x in lists)}


def _check(kind: str, item: Any, req: dict, lim: dict) -> list[str]:
    errs = []
    for r, lo in item.min.items():
        e = _min(kind, r, lo, req, lim)
        if e:
            errs.append(e)
    for r, hi in item.max.items():
        e = _max(kind, r, hi, req, lim)
        if e:
            errs.append(e)
    for r, ratio in getattr(item, "max_limit_request_ratio", {}).items():
        e = _ratio(kind, r, ratio, req, lim)
        if e:
            errs.append(e)
    return errs


def admit(template: PodTemplate, items: list[Any]) -> tuple[PodTemplate, str | None]:
    """The template with the Container items' default limits and requests, and why its
    pods are rejected (None: admitted)."""
    default_lim: dict[str, Fraction] = {}
    default_req: dict[str, Fraction] = {}
    for item in items:  # defaultContainerResourceRequirements: later items win
        if item.type == "Container":
            default_req.update(item.default_request)
            default_lim.update(item.default)
    per_container = (any(c.requests is not None for c in template.containers)
                     or any(c.requests is not None for c in template.init_containers)
                     or any(c.limits is not None for c in template.containers))
    if per_container:
        containers: list[Any] = list(template.containers)
        init: list[Any] = list(template.init_containers)
        for lst in (containers, init):
            for j, c in enumerate(lst):
                lim = dict(c.limits or {})
                req = dict(c.requests or {})
                for r, q in lim.items():
                    req.setdefault(r, q)  # SetDefaults_Pod
                lim = {**{r: q for r, q in default_lim.items() if r not in lim}, **lim}
                req = {**{r: q for r, q in default_req.items() if r not in req}, **req}
                if req != dict(c.requests or {}) or lim != dict(c.limits or {}):
                    lst[j] = c.model_copy(update={"requests": req, "limits": lim or None})
        out = template.model_copy(update={"containers": containers, "init_containers": init})
        main = [(dict(c.requests or {}), dict(c.limits or {})) for c in containers]
        inits = [(dict(c.requests or {}), dict(c.limits or {})) for c in init]
    else:  # the pod's single container: ``requests`` and ``limits``
        lim = dict(template.limits)
        req = dict(template.requests)
        for r, q in lim.items():
            req.setdefault(r, q)
        lim = {**{r: q for r, q in default_lim.items() if r not in lim}, **lim}
        req = {**{r: q for r, q in default_req.items() if r not in req}, **req}
        out = template.model_copy(update={"requests": req, "limits": lim}) if (
            req != template.requests or lim != template.limits) else template
        main, inits = [(req, lim)], []
    errs: list[str] = []
    for item in items:
        if item.type == "Container":
            for req, lim in (*main, *inits):
                errs += _check("Container", item, req, lim)
        else:  # Pod
            pod_req = _sum([r for r, _ in main])
            pod_lim = _sum([li for _, li in main])
            for r_i, l_i in inits:  # max(sum of containers, any init container)
                for k, v in r_i.items():
                    if k not in pod_req or v > pod_req[k]:
                        pod_req[k] = v
                for k, v in l_i.items():
                    if k not in pod_lim or v > pod_lim[k]:
                        pod_lim[k] = v
            errs += _check("Pod", item, pod_req, pod_lim)
    if not errs:
        return out, None
    return out, errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"


def ranges_by_namespace(inputs: dict[int, Any]) -> dict[str, list[Any]]:
    """The LimitRange objects of the manifest inputs' time 0, by namespace."""
    ranges: dict[str, list[Any]] = {}
    for inp in inputs.values():
        if hasattr(inp, "initial"):
            for o in inp.initial.objects:
                if o.kind == "LimitRange":
                    ranges.setdefault(o.namespace, []).append(o)
    return ranges


def workload_templates(scenario: Scenario, inputs: dict[int, Any], warnings: list[str]) -> dict[int, Any]:
    """The synthetic workloads' templates after LimitRange admission, by workload index,
    for those whose namespace has LimitRanges (None: every pod is rejected, the workload
    is not run; a warning says why)."""
    ranges = ranges_by_namespace(inputs)
    out: dict[int, Any] = {}
    if not ranges:
        return out
    for wi, w in enumerate(scenario.workloads):
        lrs = ranges.get(w.template.namespace)
        if w.manifest is not None or w.trace is not None or w.jobs is not None or not lrs:
            continue
        template, why = admit(w.template, [it for lr in lrs for it in lr.batch.items])
        if why is not None:
            warnings.append(f"workloads[{wi}] ({w.name}): its pods are forbidden by LimitRange "
                            f"{', '.join(lr.key for lr in lrs)} ({why}); the workload is not run")
            out[wi] = None
        else:
            out[wi] = template
    return out


def apply_limit_ranges(scenario: Scenario, inputs: dict[int, Any]) -> None:
    """Apply the LimitRanges of the manifest inputs to their objects' templates, in
    place (see the module docstring); problems go to the manifest sets' warnings."""
    ranges: dict[str, list[AppObject]] = {}
    for inp in inputs.values():
        if not hasattr(inp, "initial"):
            continue
        for o in inp.initial.objects:
            if o.kind == "LimitRange":
                ranges.setdefault(o.namespace, []).append(o)
        for _, later in inp.updates:
            for o in later.objects:
                if o.kind == "LimitRange":
                    later.warnings.append(f"{o.where}: LimitRange {o.key} applied after time 0 is ignored; give "
                                          "LimitRanges in the workload's manifest")
    if not ranges:
        return
    first = next(i for i in inputs.values() if hasattr(i, "initial"))
    for wi, w in enumerate(scenario.workloads):
        if w.manifest is None and (w.trace is not None or w.jobs is not None) and w.template.namespace in ranges:
            names = ", ".join(o.key for o in ranges[w.template.namespace])
            first.initial.warnings.append(f"workloads[{wi}] ({w.name}): LimitRange {names} does not apply to "
                                          "trace pods (their requests come from the trace); not defaulted or checked")
    for inp in inputs.values():
        if not hasattr(inp, "initial"):
            continue
        for mset in inp.sets():
            kept = []
            for o in mset.objects:
                lrs = ranges.get(o.namespace)
                if not lrs or o.kind in ("LimitRange", "PodDisruptionBudget", "ResourceQuota"):
                    kept.append(o)
                    continue
                items = [it for lr in lrs for it in lr.batch.items]
                template, why = admit(o.template, items)
                if why is not None:
                    mset.warnings.append(f"{o.where}: {o.kind} {o.key}: its pods are forbidden by LimitRange "
                                         f"{', '.join(lr.key for lr in lrs)} ({why}); the object is not run")
                    continue
                o.template = template
                kept.append(o)
            mset.objects = kept
