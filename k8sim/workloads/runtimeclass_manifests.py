"""RuntimeClass objects in manifests (``node.k8s.io/v1`` RuntimeClass, registered with
:func:`k8sim.workloads.manifests.register_kind`), and the admission of the manifests'
pods that name a class in ``runtimeClassName``.

A RuntimeClass object gives ``handler``, ``overhead.podFixed`` and ``scheduling``
(``nodeSelector``, ``tolerations``), as the scenario's ``runtimeClasses`` entries do
(:class:`~k8sim.config.runtimeclass.RuntimeClass`, ``docs/runtimeclass.md``); its sandbox
creation time comes from the annotation ``k8sim.io/sandbox-latency`` (seconds or a k8sim
distribution as YAML; absent: the handler's default). Other fields are warned about once
per field name.

:func:`with_manifest_runtime_classes` makes the scenario a run uses: the scenario's own
classes then the manifests' (in workload order), so that a manifest pod's
``runtimeClassName`` is admitted as a template workload's is (overhead, nodeSelector and
tolerations merged, the handler's sandbox latency, the RuntimeClass filter). It rejects,
naming the file, the document and the field, what upstream's RuntimeClass admission plugin
rejects (``plugin/pkg/admission/runtimeclass/admission.go``): a class that does not exist,
a pod overhead that differs from the class's, a nodeSelector conflict; and two classes of
one name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from k8sim.config.loader import ScenarioError, format_loc
from k8sim.config.runtimeclass import RuntimeClass, admission_rejections
from k8sim.workloads import manifests as m

if TYPE_CHECKING:
    from k8sim.config.scenario import Scenario

__all__ = ["with_manifest_runtime_classes"]

_SANDBOX_KNOB = "sandbox-latency"
m.MODELLED_FIELDS["RuntimeClass"] = frozenset({
    "apiVersion", "kind", "metadata.name", "metadata.labels", "handler", "overhead",
    "scheduling.nodeSelector", "scheduling.tolerations"})
#: Where a RuntimeClass field is in the object (for messages).
_FIELDS = {"name": "metadata.name", "sandbox_latency": f"metadata.annotations.{m.KNOB_PREFIX}{_SANDBOX_KNOB}"}


def _runtime_class_doc(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    r, obj = doc.r, doc.obj
    got = m.object_meta(doc)
    if got is None:
        return
    meta, name, _ = got
    data: dict[str, Any] = {"name": name, "handler": obj.get("handler")}
    if obj.get("handler") is None:
        r.problem(doc.at("handler"), "required: the CRI handler that runs the class's pods (runc, runsc, kata-qemu, ...)")
        return
    for key in ("overhead", "scheduling"):
        if obj.get(key) is not None:
            data[key] = obj[key]
    ann = r.mapping_or_empty(meta.get("annotations"), doc.at("metadata.annotations"))
    for key, raw in ann.items():
        key = str(key)
        if not key.startswith(m.KNOB_PREFIX):
            continue
        path = f"metadata.annotations.{key}"
        if key[len(m.KNOB_PREFIX):] != _SANDBOX_KNOB:
            r.problem(doc.at(path), f"unknown k8sim annotation of a RuntimeClass; known: {m.KNOB_PREFIX}{_SANDBOX_KNOB}")
            continue
        try:
            value = yaml.safe_load(raw) if isinstance(raw, str) else raw
        except yaml.YAMLError as e:
            r.problem(doc.at(path), f"not YAML: {e}")
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if value < 0:
                r.problem(doc.at(path), f"must be >= 0 seconds, got {value}")
                continue
            value = {"kind": "constant", "value": float(value)}
        data["sandbox_latency"] = value
    try:
        rc = RuntimeClass.model_validate(data, context={"base_dir": doc.base_dir})
    except ValidationError as e:
        for err in e.errors(include_url=False):
            loc = format_loc(err["loc"])
            head = loc.split(".", 1)[0]
            r.problem(doc.at(_FIELDS.get(head, loc)), err["msg"].removeprefix("Value error, "))
        return
    out.runtime_classes.append((rc, f"{r.source}: {doc.path}"))


m.register_kind("node.k8s.io/v1", "RuntimeClass", _runtime_class_doc)


def with_manifest_runtime_classes(scenario: Scenario, inputs: dict[int, Any]) -> Scenario:
    """``scenario`` with the manifests' RuntimeClass objects after its own
    ``runtimeClasses`` (the scenario itself when the manifests have none), once every
    manifest pod that names a class has been admitted (see the module docstring).
    Raises :class:`ScenarioError`: problems are located at the workload entry
    (``workloads[i].manifest`` or ``.trace``), the message naming the file, the document
    and the field."""
    classes = list(scenario.runtime_classes)
    origin = {rc.name: f"runtimeClasses[{i}]" for i, rc in enumerate(classes)}
    problems: list[tuple[str, str]] = []
    for wi, inp in inputs.items():
        entry = f"workloads[{wi}].{'manifest' if scenario.workloads[wi].manifest is not None else 'trace'}"
        initial = getattr(inp, "initial", None)
        for rc, at in (initial.runtime_classes if initial is not None else ()):
            if rc.name in origin:
                problems.append((entry, f"{at}.metadata.name: RuntimeClass {rc.name!r} is defined twice "
                                        f"(also {origin[rc.name]})"))
                continue
            origin[rc.name] = at
            classes.append(rc)
        for _, later in getattr(inp, "updates", ()):
            for _, at in later.runtime_classes:
                problems.append((f"workloads[{wi}].apply", f"{at}: RuntimeClass objects exist from time 0: give "
                                                          "them in the workload's manifest"))
    by_name = {rc.name: rc for rc in classes}
    for wi, inp in inputs.items():
        entry = f"workloads[{wi}].{'manifest' if scenario.workloads[wi].manifest is not None else 'trace'}"
        for s in inp.sets():
            for o in s.objects:
                t = o.template
                if t is None or t.runtime_class_name is None:
                    continue
                spec = "spec" if o.kind == "Pod" else ("spec.jobTemplate.spec.template.spec" if o.kind == "CronJob"
                                                       else "spec.template.spec")
                for field, msg in admission_rejections(t.overhead, t.node_selector, t.runtime_class_name, by_name):
                    problems.append((entry, f"{o.where}.{spec}.{field}: {msg}"))
    if problems:
        raise ScenarioError(scenario.source, problems)
    if len(classes) == len(scenario.runtime_classes):
        return scenario
    return scenario.model_copy(update={"runtime_classes": classes})
