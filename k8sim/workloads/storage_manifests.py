"""Storage objects in manifests (registered with
:func:`k8sim.workloads.manifests.register_kind`): ``storage.k8s.io/v1`` StorageClass,
``v1`` PersistentVolume and PersistentVolumeClaim, and StatefulSet
``volumeClaimTemplates``.

Each object becomes the scenario schema's model (:mod:`k8sim.config.storage`) and joins
the scenario's own ``storageClasses`` / ``persistentVolumes`` / ``persistentVolumeClaims``
(:func:`storage_objects`, which also checks the references between them). What is read:

- StorageClass: ``provisioner``, ``volumeBindingMode``, ``allowedTopologies``,
  ``reclaimPolicy``, and ``parameters.replication-type: regional-pd`` (the GCE PD CSI
  driver's regional disks: ``replica_zones: 2``). k8sim's fields come from annotations:
  ``k8sim.io/provisioning-latency``, ``k8sim.io/attach-latency``,
  ``k8sim.io/detach-latency`` (seconds or a distribution as YAML) and
  ``k8sim.io/access-modes`` (comma-separated: the modes the provisioner can give).
- PersistentVolume: ``spec.capacity.storage``, ``accessModes``, ``storageClassName``,
  ``nodeAffinity.required``, ``persistentVolumeReclaimPolicy`` (default Retain, as
  upstream for a pre-created volume), ``csi.driver``, and the
  ``topology.kubernetes.io/zone`` label (the zone VolumeZone reads).
- PersistentVolumeClaim: ``spec.storageClassName``, ``accessModes``,
  ``resources.requests.storage``, ``volumeName``.
- StatefulSet: ``spec.volumeClaimTemplates`` (the same claim fields) and
  ``spec.persistentVolumeClaimRetentionPolicy`` (``whenDeleted`` / ``whenScaled``:
  Retain or Delete, default Retain).

Other fields are warned about once per field name (``volumeMode``, ``selector``,
``dataSource``, ``mountOptions``, other ``parameters``, ...). Errors name the file, the
document and the field path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml
from pydantic import ValidationError

from k8sim.config.loader import ScenarioError, format_loc
from k8sim.config.storage import (
    PersistentVolume,
    PersistentVolumeClaim,
    StorageClass,
    claim_problems,
    storage_problems,
)
from k8sim.constants import ZONE_LABEL
from k8sim.workloads import manifests as m

if TYPE_CHECKING:
    from k8sim.config.scenario import Scenario

__all__ = ["StorageObjects", "statefulset_claims", "storage_objects"]

#: (classes, volumes, claims) of a run.
StorageObjects = tuple[list[StorageClass], list[PersistentVolume], list[PersistentVolumeClaim]]

#: k8sim annotations of a StorageClass -> its model field.
_CLASS_KNOBS = {"provisioning-latency": "provisioning_latency", "attach-latency": "attach_latency",
                "detach-latency": "detach_latency", "access-modes": "access_modes"}
# (``spec.resources`` is read as a whole: only ``requests.storage`` matters.)
_CLAIM_FIELDS = ("storageClassName", "accessModes", "resources", "volumeName")
_COMMON = frozenset({"apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.labels"})
m.MODELLED_FIELDS["StorageClass"] = _COMMON | {"provisioner", "volumeBindingMode", "allowedTopologies", "reclaimPolicy",
                                         "parameters.replication-type"}
m.MODELLED_FIELDS["PersistentVolume"] = _COMMON | {
    "spec.capacity.storage", "spec.accessModes", "spec.storageClassName", "spec.nodeAffinity",
    "spec.persistentVolumeReclaimPolicy", "spec.csi.driver", "spec.csi.volumeHandle"}
m.MODELLED_FIELDS["PersistentVolumeClaim"] = _COMMON | {f"spec.{f}" for f in _CLAIM_FIELDS}


def _validate(doc: Any, model: Any, data: dict[str, Any], at: Any) -> Any:
    """``model`` from ``data``, its errors reported at ``at(location)``."""
    try:
        return model.model_validate(data, context={"base_dir": doc.base_dir})
    except ValidationError as e:
        for err in e.errors(include_url=False):
            doc.r.problem(at(format_loc(err["loc"])), err["msg"].removeprefix("Value error, "))
        return None


def _claim(doc: Any, name: str, ns: str, spec: dict[str, Any], path: str) -> PersistentVolumeClaim | None:
    """A claim spec at ``path`` (``spec`` or ``spec.volumeClaimTemplates[k].spec``)."""
    r = doc.r
    res = r.mapping_or_empty(spec.get("resources"), doc.at(f"{path}.resources"))
    requests = r.mapping_or_empty(res.get("requests"), doc.at(f"{path}.resources.requests"))
    data: dict[str, Any] = {"name": name, "namespace": ns, "accessModes": spec.get("accessModes") or [],
                            "resources": {"requests": {k: v for k, v in requests.items() if k == "storage"}}}
    for key in ("storageClassName", "volumeName"):
        if spec.get(key) is not None:
            data[key] = spec[key]
    if "storage" not in requests:
        r.problem(doc.at(f"{path}.resources.requests.storage"), "required: the claim's size")
        return None

    def at(loc: str) -> str:
        if loc in ("name", "namespace"):
            return doc.at(f"metadata.{loc}")
        return doc.at(f"{path}.{loc}" if loc else path)

    return _validate(doc, PersistentVolumeClaim, data, at)


def _claim_doc(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    got = m.object_meta(doc)
    if got is None:
        return
    _, name, ns = got
    spec = doc.r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    c = _claim(doc, name, ns, spec, "spec")
    if c is not None:
        out.storage.append(("PersistentVolumeClaim", c, f"{doc.r.source}: {doc.path}"))


def _volume_doc(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    r = doc.r
    got = m.object_meta(doc)
    if got is None:
        return
    meta, name, _ = got
    spec = r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    cap = r.mapping_or_empty(spec.get("capacity"), doc.at("spec.capacity"))
    if "storage" not in cap:
        r.problem(doc.at("spec.capacity.storage"), "required: the volume's size")
        return
    data: dict[str, Any] = {"name": name, "capacity": cap["storage"], "accessModes": spec.get("accessModes") or []}
    for key in ("storageClassName", "nodeAffinity", "persistentVolumeReclaimPolicy"):
        if spec.get(key) is not None:
            data[key] = spec[key]
    csi = r.mapping_or_empty(spec.get("csi"), doc.at("spec.csi"))
    if csi.get("driver"):
        data["csi_driver"] = str(csi["driver"])
    zone = r.strings(meta.get("labels"), doc.at("metadata.labels")).get(ZONE_LABEL)
    if zone:
        data["zone"] = zone
    fields = {"name": "metadata.name", "capacity": "spec.capacity.storage", "csi_driver": "spec.csi.driver",
              "zone": f"metadata.labels.{ZONE_LABEL}"}

    def at(loc: str) -> str:
        head = loc.split(".", 1)[0].split("[", 1)[0]
        return doc.at(fields[head] if head in fields else f"spec.{loc}")

    v = _validate(doc, PersistentVolume, data, at)
    if v is not None:
        out.storage.append(("PersistentVolume", v, f"{r.source}: {doc.path}"))


def _class_doc(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    r, obj = doc.r, doc.obj
    got = m.object_meta(doc)
    if got is None:
        return
    meta, name, _ = got
    data: dict[str, Any] = {"name": name}
    for key in ("provisioner", "volumeBindingMode", "allowedTopologies", "reclaimPolicy"):
        if obj.get(key) is not None:
            data[key] = obj[key]
    params = r.mapping_or_empty(obj.get("parameters"), doc.at("parameters"))
    rep = params.get("replication-type")
    if rep is not None:
        if rep == "regional-pd":
            data["replica_zones"] = 2
        elif rep != "none":
            r.problem(doc.at("parameters.replication-type"), f"expected none or regional-pd, got {rep!r}")
    ann = r.mapping_or_empty(meta.get("annotations"), doc.at("metadata.annotations"))
    for key, raw in ann.items():
        key = str(key)
        if not key.startswith(m.KNOB_PREFIX):
            continue
        knob = key[len(m.KNOB_PREFIX):]
        path = f"metadata.annotations.{key}"
        if knob not in _CLASS_KNOBS:
            r.problem(doc.at(path), f"unknown k8sim annotation of a StorageClass; known: "
                                    f"{', '.join(m.KNOB_PREFIX + k for k in _CLASS_KNOBS)}")
        elif knob == "access-modes":
            data["access_modes"] = [x.strip() for x in str(raw).split(",") if x.strip()]
        else:
            try:
                value = yaml.safe_load(raw) if isinstance(raw, str) else raw
            except yaml.YAMLError as e:
                r.problem(doc.at(path), f"not YAML: {e}")
                continue
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                value = {"kind": "constant", "value": float(value)}
            data[_CLASS_KNOBS[knob]] = value
    keys = {v: f"metadata.annotations.{m.KNOB_PREFIX}{k}" for k, v in _CLASS_KNOBS.items()}
    keys.update({"name": "metadata.name", "replica_zones": "parameters.replication-type"})

    def at(loc: str) -> str:
        head = loc.split(".", 1)[0].split("[", 1)[0]
        return doc.at(keys.get(head, loc))

    sc = _validate(doc, StorageClass, data, at)
    if sc is not None:
        out.storage.append(("StorageClass", sc, f"{r.source}: {doc.path}"))


def statefulset_claims(doc: Any, spec: dict[str, Any], ns: str) -> tuple[list[PersistentVolumeClaim], tuple[str, str]]:
    """A StatefulSet's ``volumeClaimTemplates`` (claims named after each template) and
    its ``persistentVolumeClaimRetentionPolicy`` (whenDeleted, whenScaled)."""
    r = doc.r
    claims = []
    names: set[str] = set()
    for k, t in enumerate(r.sequence_or_empty(spec.get("volumeClaimTemplates"), doc.at("spec.volumeClaimTemplates"))):
        path = f"spec.volumeClaimTemplates[{k}]"
        t = r.mapping_or_empty(t, doc.at(path))
        tmeta = r.mapping_or_empty(t.get("metadata"), doc.at(f"{path}.metadata"))
        name = tmeta.get("name")
        if not isinstance(name, str) or not name:
            r.problem(doc.at(f"{path}.metadata.name"), "required: the claim template's name")
            continue
        if name in names:
            r.problem(doc.at(f"{path}.metadata.name"), f"claim template {name!r} is given twice")
        names.add(name)
        c = _claim(doc, name, ns, r.mapping_or_empty(t.get("spec"), doc.at(f"{path}.spec")), f"{path}.spec")
        if c is not None:
            claims.append(c)
    policy = r.mapping_or_empty(spec.get("persistentVolumeClaimRetentionPolicy"),
                                doc.at("spec.persistentVolumeClaimRetentionPolicy"))
    out = []
    for key in ("whenDeleted", "whenScaled"):
        v = policy.get(key, "Retain")
        if v not in ("Retain", "Delete"):
            r.problem(doc.at(f"spec.persistentVolumeClaimRetentionPolicy.{key}"), f"expected Retain or Delete, got {v!r}")
            v = "Retain"
        out.append(str(v))
    return claims, (out[0], out[1])


m.register_kind("storage.k8s.io/v1", "StorageClass", _class_doc)
m.register_kind("v1", "PersistentVolume", _volume_doc)
m.register_kind("v1", "PersistentVolumeClaim", _claim_doc)


# ------------------------------------------------------------------------------ the run


def storage_objects(scenario: Scenario, inputs: dict[int, Any]) -> StorageObjects | None:
    """The run's storage objects: the scenario's, then each manifest workload's (in
    workload order), checked together (:func:`k8sim.config.storage.storage_problems`,
    claim templates, pod volumes naming claims). None when the run has none (no
    storage component). Raises :class:`ScenarioError` naming the manifest file, the
    document and the field."""
    classes = list(scenario.storage_classes)
    pvs = list(scenario.persistent_volumes)
    pvcs = list(scenario.persistent_volume_claims)
    sections = {"StorageClass": "storageClasses", "PersistentVolume": "persistentVolumes",
                "PersistentVolumeClaim": "persistentVolumeClaims"}
    lists: dict[str, list[Any]] = {"StorageClass": classes, "PersistentVolume": pvs, "PersistentVolumeClaim": pvcs}
    #: kind -> [(workload, "file: document[i]")] of the manifest objects, after the scenario's.
    origin: dict[str, list[tuple[int, str]]] = {k: [] for k in lists}
    at: str
    problems: list[tuple[str, str]] = []
    apps: list[tuple[int, Any]] = []
    for wi, inp in inputs.items():
        initial = getattr(inp, "initial", None)
        if initial is None:
            continue
        for kind, obj, at in initial.storage:
            lists[kind].append(obj)
            origin[kind].append((wi, at))
        for _, later in inp.updates:
            for kind, _, at in later.storage:
                problems.append((f"workloads[{wi}].apply", f"{at}: {kind} objects exist from time 0: give them "
                                                          "in the workload's manifest"))
        apps.extend((wi, o) for s in inp.sets() for o in s.objects)
    uses_claims = any(o.claim_templates or o.template.volumes for _, o in apps)
    if not (pvs or pvcs or uses_claims):
        return None
    own = {k: len(v) - len(origin[k]) for k, v in lists.items()}

    def where(kind: str, i: int, field: str) -> str:
        if i < own[kind]:
            return f"{sections[kind]}[{i}].{field}"
        wi, doc = origin[kind][i - own[kind]]
        if kind == "StorageClass" or field == "name":
            sub = "metadata.name" if field == "name" else field
        else:
            sub = f"spec.{field}"
        return f"workloads[{wi}].manifest\0{doc}.{sub}"

    problems += [_split(p, msg) for p, msg in storage_problems(classes, pvs, pvcs, where)]
    by_class = {c.name: c for c in classes}
    by_pv = {v.name: v for v in pvs}
    claims = {(c.namespace, c.name) for c in pvcs}
    for wi, o in apps:
        for k, t in enumerate(o.claim_templates):
            problems += [(f"workloads[{wi}].manifest", f"{o.where}.spec.volumeClaimTemplates[{k}].spec.{p}: {msg}")
                         for p, msg in claim_problems(t, by_class, by_pv, lambda f: f)]
        templates = {t.name for t in o.claim_templates}
        for j, v in enumerate(o.template.volumes):
            name = v.persistent_volume_claim.claim_name
            if v.name not in templates and (o.namespace, name) not in claims:
                spec = "spec" if o.kind == "Pod" else ("spec.jobTemplate.spec.template.spec" if o.kind == "CronJob"
                                                       else "spec.template.spec")
                problems.append((f"workloads[{wi}].manifest",
                                 f"{o.where}.{spec}.volumes[{j}].persistentVolumeClaim.claimName: "
                                 f"PersistentVolumeClaim {o.namespace}/{name} not found"))
    if problems:
        raise ScenarioError(scenario.source, problems)
    return classes, pvs, pvcs


def _split(path: str, msg: str) -> tuple[str, str]:
    """A problem of a scenario object as is; of a manifest object, located at the
    workload's ``manifest`` with the file, document and field in the message."""
    if "\0" not in path:
        return path, msg
    head, at = path.split("\0", 1)
    return head, f"{at}: {msg}"
