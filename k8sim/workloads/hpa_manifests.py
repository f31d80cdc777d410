"""HorizontalPodAutoscaler objects in manifests (``autoscaling/v2``, registered with
:func:`k8sim.workloads.manifests.register_kind`).

An HPA object is read with the same schema as the scenario's
``autoscaling.horizontal_pod_autoscalers`` entries
(:class:`~k8sim.config.autoscaling.HorizontalPodAutoscaler`: ``scaleTargetRef``,
``minReplicas``, ``maxReplicas``, ``metrics``, ``behavior``), its namespace from
``metadata.namespace``. :func:`with_manifest_hpas` makes the scenario a run uses: the
scenario's own HPAs then the manifests' (in workload order), after the checks the
scenario's own get (a metric the load and usage models can provide, no two HPAs of one
name); the HPA controller (:mod:`k8sim.autoscaling.pod_autoscaling`) then runs them all.
Errors name the file, the document and the field. Fields the schema does not model are
errors, as in the scenario (an HPA run without one of its settings would be wrong);
``status`` is ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from k8sim.config.autoscaling import Autoscaling, HorizontalPodAutoscaler
from k8sim.config.loader import ScenarioError, format_loc
from k8sim.workloads import manifests as m

if TYPE_CHECKING:
    from k8sim.config.scenario import Scenario

__all__ = ["with_manifest_hpas"]


def _hpa_doc(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    r, obj = doc.r, doc.obj
    got = m.object_meta(doc)
    if got is None:
        return
    _, name, ns = got
    data = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
            "metadata": {"name": name, "namespace": ns}, "spec": obj.get("spec")}
    try:
        hpa = HorizontalPodAutoscaler.model_validate(data)
    except ValidationError as e:
        for err in e.errors(include_url=False):
            r.problem(doc.at(format_loc(err["loc"])), err["msg"].removeprefix("Value error, "))
        return
    out.hpas.append((hpa, f"{r.source}: {doc.path}"))


m.MODELLED_FIELDS["HorizontalPodAutoscaler"] = frozenset({
    "apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.labels", "spec", "status"})
m.register_kind("autoscaling/v2", "HorizontalPodAutoscaler", _hpa_doc)


def with_manifest_hpas(scenario: Scenario, inputs: dict[int, Any]) -> Scenario:
    """``scenario`` with the manifests' HPAs after its own (the scenario itself when the
    manifests have none). Raises :class:`ScenarioError` located at the workload entry,
    the message naming the file, the document and the field."""
    found: list[tuple[int, HorizontalPodAutoscaler, str]] = []
    problems: list[tuple[str, str]] = []
    for wi, inp in inputs.items():
        initial = getattr(inp, "initial", None)
        for hpa, at in (initial.hpas if initial is not None else ()):
            found.append((wi, hpa, at))
        for _, later in getattr(inp, "updates", ()):
            for _, at in later.hpas:
                problems.append((f"workloads[{wi}].apply", f"{at}: HorizontalPodAutoscaler objects exist from "
                                                          "time 0: give them in the workload's manifest"))
    if problems:
        raise ScenarioError(scenario.source, problems)
    if not found:
        return scenario
    base = scenario.autoscaling or Autoscaling()
    names = [s.service_name for s in base.services]
    targets = [s.target.name for s in base.services]
    seen = {(h.metadata.namespace, h.metadata.name): f"autoscaling.horizontal_pod_autoscalers[{i}]"
            for i, h in enumerate(base.horizontal_pod_autoscalers)}
    hpas = list(base.horizontal_pod_autoscalers)
    for wi, hpa, at in found:
        entry = f"workloads[{wi}].manifest"
        key = (hpa.metadata.namespace, hpa.metadata.name)
        if key in seen:
            problems.append((entry, f"{at}.metadata.name: HorizontalPodAutoscaler {key[0]}/{key[1]} is defined "
                                    f"twice (also {seen[key]})"))
            continue
        seen[key] = at
        try:
            base._check_metrics(0, hpa, names, targets)
        except ValueError as e:
            # The scenario's message names "horizontal_pod_autoscalers[0].spec...": the
            # object's own path is "spec...".
            problems.append((entry, f"{at}.{str(e).split('.', 1)[1]}"))
            continue
        hpas.append(hpa)
    if problems:
        raise ScenarioError(scenario.source, problems)
    return scenario.model_copy(update={"autoscaling": base.model_copy(update={"horizontal_pod_autoscalers": hpas})})
