"""``resourceQuotas:`` of a scenario: ``v1`` ResourceQuota objects given in the scenario
(manifests may hold them too). See ``docs/quota.md``.

Each quota names a namespace and its ``hard`` limits, keyed by upstream's quota resource
names (``pkg/quota/v1/evaluator/core/pods.go``, ``podResources``): ``pods`` and
``count/pods``; ``cpu`` / ``memory`` / ``ephemeral-storage`` (shorthand of the
``requests.`` names); ``requests.cpu``, ``requests.memory``,
``requests.ephemeral-storage``; ``limits.cpu``, ``limits.memory``,
``limits.ephemeral-storage``; ``hugepages-<size>`` and ``requests.hugepages-<size>``;
``requests.<extended resource>`` (``requests.nvidia.com/gpu``). Names upstream accepts
but that track objects k8sim does not model (``services``, ``configmaps``,
``count/deployments.apps``, ...) are warned about when the run is built.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from k8sim.config.k8s_types import K8sModel
from k8sim.config.names import DnsSubdomain
from k8sim.config.resources import ResourceList

__all__ = ["POD_QUOTA_RESOURCES", "ResourceQuotaSpec", "quota_resource_kind"]

#: Quota resource names charged by pods (upstream ``podResources``).
POD_QUOTA_RESOURCES = frozenset({
    "count/pods", "pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
})
#: Standard quota names of objects k8sim does not model (upstream
#: ``pkg/apis/core/types.go``, ``ResourceServices`` ...): accepted, warned, not enforced.
OTHER_QUOTA_RESOURCES = frozenset({
    "services", "services.loadbalancers", "services.nodeports", "configmaps", "secrets",
    "persistentvolumeclaims", "requests.storage", "resourcequotas", "replicationcontrollers",
})
_NATIVE_PREFIX = "kubernetes.io/"


def _is_native(name: str) -> bool:
    """``helper.IsNativeResource``: no domain, or the kubernetes.io domain."""
    return "/" not in name or _NATIVE_PREFIX in name


def quota_resource_kind(name: str) -> str:
    """``"pod"`` for a name pods are charged against, ``"other"`` for a valid name
    k8sim does not track, ``""`` for an invalid one."""
    if name in POD_QUOTA_RESOURCES or name.startswith(("hugepages-", "requests.hugepages-")):
        return "pod"
    if name.startswith("requests.") and not _is_native(name[len("requests."):]):
        return "pod"  # isExtendedResourceNameForQuota
    if name in OTHER_QUOTA_RESOURCES or name.startswith("count/") or name.endswith(
            ".storageclass.storage.k8s.io/requests.storage") or name.endswith(
            ".storageclass.storage.k8s.io/persistentvolumeclaims"):
        return "other"
    if not _is_native(name):
        return "other"  # an extended resource without "requests.": upstream tracks nothing
    return ""


class ResourceQuotaSpec(K8sModel):
    """One ResourceQuota (``spec.hard``; ``scopes`` and ``scopeSelector`` are not
    modelled: every pod of the namespace is charged)."""

    name: DnsSubdomain  # metadata.name (named in the refusal message)
    namespace: DnsSubdomain = "default"  # metadata.namespace
    # spec.hard: quota resource name -> limit (see the module docstring).
    hard: ResourceList = Field(min_length=1)

    @field_validator("hard")
    @classmethod
    def _names(cls, hard: ResourceList) -> ResourceList:
        bad = sorted(k for k in hard if not quota_resource_kind(k))
        if bad:
            raise ValueError(f"unknown quota resource name(s) {bad}; expected pods, count/pods, cpu, memory, "
                             "requests.cpu, requests.memory, limits.cpu, limits.memory, ephemeral-storage, "
                             "requests.<extended resource>, hugepages-<size>, ... (docs/quota.md)")
        return hard
