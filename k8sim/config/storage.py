"""Storage: StorageClasses, PersistentVolumes, PersistentVolumeClaims, and the volumes a
pod template mounts from claims (``storage.k8s.io/v1`` and ``core/v1`` spelling).

What the scheduler does with them is :mod:`k8sim.storage` and the plugins VolumeBinding,
VolumeZone, VolumeRestrictions and NodeVolumeLimits (see ``docs/storage.md``). Fields
that upstream objects do not have (latencies, the access modes a provisioner can give,
the ``zone`` shorthand) are k8sim's and snake_case.
"""

from __future__ import annotations

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
