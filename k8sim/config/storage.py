"""Storage: StorageClasses, PersistentVolumes, PersistentVolumeClaims, and the volumes a
pod template mounts from claims (``storage.k8s.io/v1`` and ``core/v1`` spelling).

What the scheduler does with them is :mod:`k8sim.storage` and the plugins VolumeBinding,
VolumeZone, VolumeRestrictions and NodeVolumeLimits (see ``docs/storage.md``). Fields
that upstream objects do not have (latencies, the access modes a provisioner can give,
the ``zone`` shorthand) are k8sim's and snake_case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Literal

from pydantic import Field, model_validator

from k8sim.config.distributions import Distribution
from k8sim.config.k8s_types import K8sModel, NodeSelector
from k8sim.config.names import ContainerName, DnsSubdomain, LabelKey, LabelValue
from k8sim.config.resources import Quantity

__all__ = [
    "ACCESS_MODES",
    "NO_PROVISIONER",
    "AccessMode",
    "ClaimSource",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "PodVolume",
    "StorageClass",
    "TopologySelectorRequirement",
    "TopologySelectorTerm",
    "VolumeNodeAffinity",
    "claim_problems",
    "storage_problems",
]

AccessMode = Literal["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
ACCESS_MODES: tuple[str, ...] = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
#: The provisioner of classes for pre-created (local) volumes only: no dynamic provisioning.
NO_PROVISIONER = "kubernetes.io/no-provisioner"


class TopologySelectorRequirement(K8sModel):
    """``v1.TopologySelectorLabelRequirement``: the label ``key`` has one of ``values``."""

    key: LabelKey
    values: list[LabelValue] = Field(min_length=1)


class TopologySelectorTerm(K8sModel):
    """``v1.TopologySelectorTerm``: requirements ANDed (terms are ORed)."""

    match_label_expressions: list[TopologySelectorRequirement] = Field(default=[], alias="matchLabelExpressions")


class StorageClass(K8sModel):
    """A StorageClass: who provisions its volumes, when claims bind, where volumes may be."""

    name: DnsSubdomain  # metadata.name
    # CSI driver that provisions and attaches its volumes (e.g. ebs.csi.aws.com);
    # kubernetes.io/no-provisioner: only pre-created PVs (no dynamic provisioning).
    provisioner: str = Field(min_length=1)
    # Immediate: claims bind (and are provisioned) at creation; WaitForFirstConsumer:
    # when the scheduler places the first pod that uses them, on that pod's node.
    volume_binding_mode: Literal["Immediate", "WaitForFirstConsumer"] = Field(
        default="Immediate", alias="volumeBindingMode")
    # Where provisioned volumes may be (e.g. zones); empty = anywhere.
    allowed_topologies: list[TopologySelectorTerm] = Field(default=[], alias="allowedTopologies")
    reclaim_policy: Literal["Delete", "Retain"] = Field(default="Delete", alias="reclaimPolicy")
    # k8sim: the access modes its provisioner can give (a claim asking for another is an error).
    access_modes: list[AccessMode] = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"]
    # k8sim: zones a provisioned volume spans: 1 (zonal) or 2 (a regional disk, as the
    # GCE PD CSI driver's ``replication-type: regional-pd``: the selected zone and one
    # more drawn from allowedTopologies / the cluster's zones).
    replica_zones: int = Field(default=1, ge=1, le=2)
    provisioning_latency: Distribution | None = None  # k8sim: dynamic provisioning time (0)
    attach_latency: Distribution | None = None  # k8sim: attach to a node, before the pod starts (0)
    detach_latency: Distribution | None = None  # k8sim: detach after the last pod on the node left (0)


class VolumeNodeAffinity(K8sModel):
    """``PersistentVolume.spec.nodeAffinity``: the nodes that can reach the volume."""

    required: NodeSelector


class PersistentVolume(K8sModel):
    """A pre-created PersistentVolume."""

    name: DnsSubdomain  # metadata.name
    capacity: Quantity  # capacity.storage (bytes)
    access_modes: list[AccessMode] = Field(alias="accessModes", min_length=1)
    storage_class_name: str = Field(default="", alias="storageClassName")  # "" = no class
    node_affinity: VolumeNodeAffinity | None = Field(default=None, alias="nodeAffinity")
    # k8sim shorthand: the volume is in this zone (label topology.kubernetes.io/zone and a
    # node affinity on it, as a zonal CSI volume carries).
    zone: LabelValue | None = None
    csi_driver: str | None = None  # CSI driver (default: the class's provisioner)
    # What happens to the volume when its claim is deleted: Retain (upstream's default
    # for a pre-created volume: Released, never bound again) or Delete (removed).
    persistent_volume_reclaim_policy: Literal["Retain", "Delete"] = Field(
        default="Retain", alias="persistentVolumeReclaimPolicy")


class ClaimResources(K8sModel):
    requests: dict[Literal["storage"], Quantity]


class PersistentVolumeClaim(K8sModel):
    """A PersistentVolumeClaim that pods mount by name."""

    name: DnsSubdomain  # metadata.name
    namespace: str = Field(default="default", min_length=1)
    storage_class_name: str | None = Field(default=None, alias="storageClassName")  # None/"" = no class
    access_modes: list[AccessMode] = Field(alias="accessModes", min_length=1)
    resources: ClaimResources  # resources.requests.storage
    volume_name: str | None = Field(default=None, alias="volumeName")  # pre-bind to this PV

    @property
    def request(self) -> Quantity:
        return self.resources.requests["storage"]

    @model_validator(mode="after")
    def _check(self) -> PersistentVolumeClaim:
        if "storage" not in self.resources.requests:
            raise ValueError("resources.requests.storage is required")
        return self


class ClaimSource(K8sModel):
    """``volumes[].persistentVolumeClaim``."""

    claim_name: DnsSubdomain = Field(alias="claimName")
    read_only: bool = Field(default=False, alias="readOnly")


class PodVolume(K8sModel):
    """A pod volume backed by a claim (``spec.volumes[]`` with ``persistentVolumeClaim``)."""

    name: ContainerName
    persistent_volume_claim: ClaimSource = Field(alias="persistentVolumeClaim")


#: ``where(kind, index, field) -> field path`` of an object's field in its input
#: (``persistentVolumeClaims[2].storageClassName`` in a scenario,
#: ``app.yaml: document[4].spec.storageClassName`` in a manifest). ``kind`` is one of
#: "StorageClass", "PersistentVolume", "PersistentVolumeClaim".
Where = Callable[[str, int, str], str]


def storage_problems(classes: Sequence[StorageClass], pvs: Sequence[PersistentVolume],
                     pvcs: Sequence[PersistentVolumeClaim], where: Where) -> list[tuple[str, str]]:
    """(field path, message) of every problem among storage objects: repeated names, a
    volume or claim naming a missing class, an access mode the claim's class cannot
    provide, a pre-bound volume that is missing, smaller than its claim, without its
    access modes or of another class. Empty if all is well."""
    out: list[tuple[str, str]] = []
    named: tuple[tuple[str, list[str]], ...] = (("StorageClass", [c.name for c in classes]),
                                                ("PersistentVolume", [v.name for v in pvs]))
    for kind, names in named:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                out.append((where(kind, i, "name"), f"{kind} {name!r} is defined twice"))
            seen.add(name)
    seen_claims: set[tuple[str, str]] = set()
    for i, c in enumerate(pvcs):
        if (c.namespace, c.name) in seen_claims:
            out.append((where("PersistentVolumeClaim", i, "name"),
                        f"PersistentVolumeClaim {c.namespace}/{c.name} is defined twice"))
        seen_claims.add((c.namespace, c.name))
    by_class = {c.name: c for c in classes}
    by_pv = {v.name: v for v in pvs}
    for i, v in enumerate(pvs):
        if v.storage_class_name and v.storage_class_name not in by_class:
            out.append((where("PersistentVolume", i, "storageClassName"),
                        f"StorageClass {v.storage_class_name!r} not found (storageClasses: {sorted(by_class)})"))
    for i, c in enumerate(pvcs):
        out.extend(claim_problems(c, by_class, by_pv, functools.partial(where, "PersistentVolumeClaim", i)))
    return out


def claim_problems(c: PersistentVolumeClaim, classes: dict[str, StorageClass], pvs: dict[str, PersistentVolume],
                   at: Callable[[str], str]) -> list[tuple[str, str]]:
    """The problems of one claim (see :func:`storage_problems`); ``at(field)`` is the
    path of its field."""
    out: list[tuple[str, str]] = []
    sc = classes.get(c.storage_class_name) if c.storage_class_name else None
    if c.storage_class_name and sc is None:
        out.append((at("storageClassName"),
                    f"StorageClass {c.storage_class_name!r} not found (storageClasses: {sorted(classes)})"))
    if sc is not None:
        for j, m in enumerate(c.access_modes):
            if m not in sc.access_modes:
                out.append((at(f"accessModes[{j}]"),
                            f"StorageClass {sc.name!r} cannot provide {m} (its access_modes: {sc.access_modes})"))
    if c.volume_name is not None:
        pv = pvs.get(c.volume_name)
        if pv is None:
            out.append((at("volumeName"), f"PersistentVolume {c.volume_name!r} not found"))
            return out
        if pv.capacity < c.request:
            out.append((at("volumeName"), f"PersistentVolume {pv.name!r} ({pv.capacity} bytes) is smaller than the "
                                          f"claim's resources.requests.storage ({c.request} bytes)"))
        missing = [m for m in c.access_modes if m not in pv.access_modes]
        if missing:
            out.append((at("volumeName"), f"PersistentVolume {pv.name!r} does not offer {missing}"))
        if (c.storage_class_name or "") != pv.storage_class_name:
            out.append((at("volumeName"), f"PersistentVolume {pv.name!r} has storageClassName "
                                          f"{pv.storage_class_name!r}, the claim {c.storage_class_name or ''!r}"))
    return out
