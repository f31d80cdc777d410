"""``policy/v1`` PodDisruptionBudget, ``v1`` LimitRange and ``v1`` ResourceQuota
manifests (registered with :func:`k8sim.workloads.manifests.register_kind`).

A budget becomes an :class:`~k8sim.workloads.manifests.AppObject` of kind
``PodDisruptionBudget`` whose ``batch`` field is a :class:`PdbSpec`; the disruption
controller (:mod:`k8sim.controllers.disruption`) runs it. Validation as upstream
(``pkg/apis/policy/validation/validation.go``): exactly one of ``minAvailable`` and
``maxUnavailable``, each a non-negative integer or a percentage up to 100%; a
``selector`` that is a valid label selector (in ``policy/v1`` an empty selector selects
every pod of the namespace, an absent one none). ``unhealthyPodEvictionPolicy`` is not
modelled (upstream's default, IfHealthyBudget, applies) and is warned about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from k8sim.config.k8s_types import LabelSelector
from k8sim.config.loader import format_loc
from k8sim.config.pods import PodTemplate
from k8sim.workloads import manifests as m

__all__ = ["PdbSpec"]


@dataclass
class PdbSpec:
    """A PodDisruptionBudget's spec: exactly one of the two is not None."""

    min_available: int | str | None
    max_unavailable: int | str | None
    selector: LabelSelector | None  # None: selects no pod (policy/v1)


def _int_or_percent(doc: Any, value: Any, path: str) -> int | str | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        s = value.strip()
        if s.endswith("%") and s[:-1].isdigit() and int(s[:-1]) <= 100:
            return s
    doc.r.problem(doc.at(path), f"expected a non-negative integer or a percentage up to 100% such as '50%', "
                                f"got {value!r}")
    return None


def _pdb(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    r = doc.r
    got = m.object_meta(doc)
    if got is None:
        return
    _, name, ns = got
    n = len(r.problems)
    spec = r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    has_min, has_max = spec.get("minAvailable") is not None, spec.get("maxUnavailable") is not None
    if has_min == has_max:
        r.problem(doc.at("spec"), "give exactly one of minAvailable and maxUnavailable")
        return
    lo = _int_or_percent(doc, spec["minAvailable"], "spec.minAvailable") if has_min else None
    hi = _int_or_percent(doc, spec["maxUnavailable"], "spec.maxUnavailable") if has_max else None
    selector = None
    if spec.get("selector") is not None:
        try:
            selector = m.LABEL_SELECTOR.validate_python(spec["selector"])
        except ValidationError as e:
            for err in e.errors(include_url=False):
                loc = format_loc(err["loc"])
                r.problem(doc.at(f"spec.selector.{loc}" if loc else "spec.selector"),
                          "invalid label selector: " + err["msg"].removeprefix("Value error, "))
    else:
        r.warn(doc.at("spec.selector"), f"PodDisruptionBudget {ns}/{name} has no selector: in policy/v1 it "
                                        "selects no pod")
    if len(r.problems) > n:
        return
    out.objects.append(m.AppObject(kind="PodDisruptionBudget", name=name, namespace=ns,
                                   where=f"{r.source}: {doc.path}", template=PodTemplate(), selector=selector,
                                   batch=PdbSpec(lo, hi, selector)))


_COMMON = frozenset({"apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.labels"})
m.MODELLED_FIELDS["PodDisruptionBudget"] = _COMMON | {"spec.minAvailable", "spec.maxUnavailable", "spec.selector"}
m.register_kind("policy/v1", "PodDisruptionBudget", _pdb)


@dataclass
class LimitRangeItem:
    """One ``spec.limits[]`` entry (type Container or Pod), quantities exact, after
    ``SetDefaults_LimitRangeItem`` (a Container item's ``default`` defaults to ``max``,
    its ``defaultRequest`` to ``default``)."""

    type: str
    min: dict[str, Any]
    max: dict[str, Any]
    default: dict[str, Any]
    default_request: dict[str, Any]
    max_limit_request_ratio: dict[str, Any]


@dataclass
class LimitRangeSpec:
    items: list[LimitRangeItem]


def _limit_range(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    r = doc.r
    got = m.object_meta(doc)
    if got is None:
        return
    _, name, ns = got
    n = len(r.problems)
    spec = r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    items = []
    for i, it in enumerate(r.sequence_or_empty(spec.get("limits"), doc.at("spec.limits"))):
        path = f"spec.limits[{i}]"
        it = r.mapping_or_empty(it, doc.at(path))
        kind = it.get("type")
        if kind not in ("Container", "Pod"):
            if kind == "PersistentVolumeClaim":
                r.warn(doc.at(f"{path}.type"), "LimitRange items of type PersistentVolumeClaim are not modelled (ignored)")
                continue
            r.problem(doc.at(f"{path}.type"), f"expected Container, Pod or PersistentVolumeClaim, got {kind!r}")
            continue
        got_items = {k: r.resources(it.get(k), doc.at(f"{path}.{k}"))
                     for k in ("min", "max", "default", "defaultRequest", "maxLimitRequestRatio")}
        if kind == "Pod" and (got_items["default"] or got_items["defaultRequest"]):
            r.problem(doc.at(path), "default and defaultRequest may be given only for type Container")
        for res, q in got_items["maxLimitRequestRatio"].items():
            if q < 1:  # ValidateLimitRange: the ratio must be >= 1
                r.problem(doc.at(f"{path}.maxLimitRequestRatio.{res}"), f"ratio must be greater than or equal to 1, "
                                                                        f"got {float(q):g}")
        item = LimitRangeItem(str(kind), got_items["min"], got_items["max"], dict(got_items["default"]),
                              dict(got_items["defaultRequest"]), got_items["maxLimitRequestRatio"])
        if kind == "Container":
            for res, q in item.max.items():
                item.default.setdefault(res, q)
            for res, q in item.default.items():
                item.default_request.setdefault(res, q)
        for res, lo in item.min.items():
            if res in item.max and lo > item.max[res]:
                r.problem(doc.at(f"{path}.min.{res}"), f"min {lo} is above max {item.max[res]}")
            if res in item.default_request and item.default_request[res] < lo:
                r.problem(doc.at(f"{path}.defaultRequest.{res}"), "defaultRequest is below min")
        for res, hi in item.max.items():
            if res in item.default_request and item.default_request[res] > hi:
                r.problem(doc.at(f"{path}.defaultRequest.{res}"), "defaultRequest is above max")
        items.append(item)
    if len(r.problems) > n:
        return
    out.objects.append(m.AppObject(kind="LimitRange", name=name, namespace=ns, where=f"{r.source}: {doc.path}",
                                   template=PodTemplate(), batch=LimitRangeSpec(items)))


m.MODELLED_FIELDS["LimitRange"] = _COMMON | {"spec.limits"}
m.register_kind("v1", "LimitRange", _limit_range)


@dataclass
class ResourceQuotaObj:
    """A ResourceQuota's ``spec.hard`` (exact quantities, pod-tracked names only)."""

    hard: dict[str, Any]


def _resource_quota(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    """``v1`` ResourceQuota: ``spec.hard`` by upstream's quota resource names
    (:mod:`k8sim.config.quota`); names of objects k8sim does not model are warned and not
    enforced; ``scopes`` / ``scopeSelector`` are not modelled and are an error (a quota
    that charged every pod would be wrong)."""
    from k8sim.config.quota import quota_resource_kind

    r = doc.r
    got = m.object_meta(doc)
    if got is None:
        return
    _, name, ns = got
    n = len(r.problems)
    spec = r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    for key in ("scopes", "scopeSelector"):
        if spec.get(key):
            r.problem(doc.at(f"spec.{key}"), "quota scopes are not supported yet (k8sim would charge every pod of "
                                             "the namespace); remove them or the quota")
    hard = r.resources(spec.get("hard"), doc.at("spec.hard"))
    if not hard and len(r.problems) == n:
        r.problem(doc.at("spec.hard"), "required: at least one resource limit such as 'pods: 10' or "
                                       "'requests.cpu: \"4\"'")
    kept = {}
    for res, q in hard.items():
        kind = quota_resource_kind(res)
        if not kind:
            r.problem(doc.at(f"spec.hard.{res}"), "unknown quota resource name; expected pods, count/pods, cpu, "
                                                  "memory, requests.cpu, requests.memory, limits.cpu, limits.memory, "
                                                  "ephemeral-storage, requests.<extended resource>, hugepages-<size>, ...")
        elif kind == "other":
            r.warn(doc.at(f"spec.hard.{res}"), f"ResourceQuota {ns}/{name}: {res} counts objects k8sim does not "
                                               "model (not enforced)")
        else:
            kept[res] = q
    if len(r.problems) > n:
        return
    out.objects.append(m.AppObject(kind="ResourceQuota", name=name, namespace=ns, where=f"{r.source}: {doc.path}",
                                   template=PodTemplate(), batch=ResourceQuotaObj(kept)))


m.MODELLED_FIELDS["ResourceQuota"] = _COMMON | {"spec.hard", "spec.scopes", "spec.scopeSelector"}
m.register_kind("v1", "ResourceQuota", _resource_quota)
