"""LimitRange admission (upstream ``plugin/pkg/admission/limitranger/admission.go``).

Upstream the LimitRanger admission plugin acts on each pod as it is created: it fills in
each container's missing requests from the namespace's LimitRange items of type
Container (``defaultContainerResourceRequirements`` / ``mergeContainerResources``: a
missing request takes ``defaultRequest``), then rejects the pod if a container's request
is below ``min`` (or missing while ``min`` names the resource) or above ``max``
(``PodValidateLimitFunc``), or if the pod's summed requests break a type Pod item.

Every pod of a manifest object comes from its pod template, so k8sim applies the same
rules once per template, when the manifests are read: defaults change the template (and
hence every pod's requests, as the scheduler sees them); a template whose pods would be
rejected is not run, with a warning naming the object and the violated bound (upstream
the object exists but each pod creation fails: no pod ever runs). Only the
LimitRanges of a workload's ``manifest`` (time 0) apply, to every manifest object of
their namespace, including those applied later.

Not modelled: limits (k8sim keeps each container's requests, not its limits, so
``default`` only matters as the default of ``defaultRequest``, and a limit above ``max``
with a request below it is not detected), ``maxLimitRequestRatio``, PersistentVolumeClaim
items, and pods of non-manifest workloads (a warning when their namespace has a
LimitRange).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from k8sim.config.pods import PodTemplate
    from k8sim.config.scenario import Scenario
    from k8sim.workloads.manifests import AppObject


def _fmt(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else str(float(q))


def admit(template: PodTemplate, items: list[Any]) -> tuple[PodTemplate, str | None]:
    """The template with the Container items' default requests, and why its pods are
    rejected (None: admitted)."""
    containers: list[Any] = list(template.containers)
    init: list[Any] = list(template.init_containers)
    for item in items:
        if item.type != "Container" or not item.default_request:
            continue
        for lst in (containers, init):
            for j, c in enumerate(lst):
                req = dict(c.requests or {})
                missing = {r: q for r, q in item.default_request.items() if r not in req}
                if missing:
                    lst[j] = c.model_copy(update={"requests": {**req, **missing}})
    out = template.model_copy(update={"containers": containers, "init_containers": init})
    for item in items:
        if item.type == "Container":
            for c in (*containers, *init):
                req = c.requests or {}
                for r, lo in item.min.items():
                    if r not in req:
                        return out, f"minimum {r} usage per Container is {_fmt(lo)}, but no request is specified"
                    if req[r] < lo:
                        return out, f"minimum {r} usage per Container is {_fmt(lo)}, but request is {_fmt(req[r])}"
                for r, hi in item.max.items():
                    if r in req and req[r] > hi:
                        return out, f"maximum {r} usage per Container is {_fmt(hi)}, but request is {_fmt(req[r])}"
        else:  # Pod: the sum over the main containers (init containers run before them)
            total: dict[str, Fraction] = {}
            for c in containers:
                for r, q in (c.requests or {}).items():
                    total[r] = total.get(r, Fraction(0)) + q
            for r, lo in item.min.items():
                if total.get(r, Fraction(0)) < lo:
                    return out, f"minimum {r} usage per Pod is {_fmt(lo)}, but requests sum to {_fmt(total.get(r, Fraction(0)))}"
            for r, hi in item.max.items():
                if total.get(r, Fraction(0)) > hi:
                    return out, f"maximum {r} usage per Pod is {_fmt(hi)}, but requests sum to {_fmt(total[r])}"
    return out, None


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
        if w.manifest is None and w.template.namespace in ranges:
            names = ", ".join(o.key for o in ranges[w.template.namespace])
            first.initial.warnings.append(f"workloads[{wi}] ({w.name}): LimitRange {names} applies to manifest "
                                          "objects only; this workload's pods are not defaulted or checked")
    for inp in inputs.values():
        if not hasattr(inp, "initial"):
            continue
        for mset in inp.sets():
            kept = []
            for o in mset.objects:
                lrs = ranges.get(o.namespace)
                if not lrs or o.kind in ("LimitRange", "PodDisruptionBudget"):
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
