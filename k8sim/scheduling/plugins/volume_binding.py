"""VolumeBinding: the pod's claims must be bound, or bindable, on the node.

Mirrors upstream ``pkg/scheduler/framework/plugins/volumebinding`` (``volume_binding.go``,
``binder.go`` ``FindPodVolumes``):

- PreFilter: a claim of an Immediate class that is not bound makes every node fail,
  ``UnschedulableAndUnresolvable``: "pod has unbound immediate PersistentVolumeClaims".
- Filter, bound claims (``checkBoundClaims``): the volume's node affinity must match the
  node, else "node(s) had volume node affinity conflict" (k8sim's ``zone`` shorthand is a
  node affinity on ``topology.kubernetes.io/zone``).
- Filter, unbound WaitForFirstConsumer claims (``findMatchingVolumes`` then
  ``checkVolumeProvisions``): an available volume of the claim's class, access modes and
  size that the node reaches, or a class with a provisioner whose ``allowedTopologies``
  admit the node; else "node(s) didn't find available persistent volumes to bind".

The claim is bound when the pod is bound (the storage component, as upstream's PreBind).
Differences: two unbound claims of one pod may both count the same volume as their
match; storage capacity (CSIStorageCapacity) is not modelled, so the Score extension
(``StorageCapacityScoring``, off by default upstream) is not either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from k8sim.config.k8s_types import K8sModel
from k8sim.scheduling.plugins.base import UNSCHEDULABLE_AND_UNRESOLVABLE, FilterPlugin, NodeStatus

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

_CACHE_KEY = "VolumeBinding"
UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
NODE_CONFLICT = "node(s) had volume node affinity conflict"
BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"


def _masks(state: ClusterState, pod: PodInfo) -> tuple[str, np.ndarray, np.ndarray]:
    """(why every node fails ("" if not: an unbound Immediate claim, a deleted claim),
    bound-claim mask, unbound-claim mask)."""
    vs = state.volumes
    n = state.nodes.n
    bound = np.ones(n, dtype=bool)
    unbound = np.ones(n, dtype=bool)
    for ci in pod.claims:
        c = vs.claims[ci]
        if c.deleted:  # upstream PreFilter: the claim is not found
            return f'persistentvolumeclaim "{c.name}" not found', bound, unbound
        if c.volume >= 0:
            bound &= vs.volume_mask(c.volume)
            continue
        if not c.wait_for_consumer:
            return UNBOUND_IMMEDIATE, bound, unbound
        m = np.zeros(n, dtype=bool)
        for v in vs.candidates(ci):
            m |= vs.volume_mask(v)
        if vs.can_provision(ci):
            m |= vs.topology_mask(vs.classes[c.storage_class])
        unbound &= m
    return "", bound, unbound


class VolumeBindingArgs(K8sModel):
    """Upstream ``VolumeBindingArgs``. ``bindTimeoutSeconds`` is PreBind's wait for the
    binding to complete; k8sim binds at once (provisioning time is paid by the kubelet,
    docs/storage.md), so it never expires. ``shape`` (StorageCapacityScoring) is not
    modelled."""

    bind_timeout_seconds: int = Field(default=600, ge=0, alias="bindTimeoutSeconds")


class VolumeBinding(FilterPlugin):
    name = "VolumeBinding"
    skips_without = ("claims",)  # PreFilter Skip without claims
    events = frozenset({"PodAdd", "PodDelete", "NodeAdd", "NodeUpdate", "PersistentVolumeClaimUpdate"})
    unresolvable_reasons = frozenset({UNBOUND_IMMEDIATE, NODE_CONFLICT, BIND_CONFLICT})
    summary = "the pod's claims are bound to volumes the node reaches, or can bind / be provisioned there"
    Args = VolumeBindingArgs
    args: VolumeBindingArgs

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        return bool(pod.claims) and state.volumes is not None

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        # The mask depends on bindings and volumes (``volumes.version``) and on node
        # labels and the node set (``nodes.version``) only: cached per shape on both.
        key = (state.volumes.version, state.nodes.version)
        cached = pod.cache.get(_CACHE_KEY)
        if cached is not None and cached[0] == key:
            return cached[1]
        every, bound, unbound = _masks(state, pod)
        mask = np.zeros(state.nodes.n, dtype=bool) if every else bound & unbound
        pod.cache[_CACHE_KEY] = (key, mask)
        return mask

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        if not rejected.size:
            return {}
        every, bound, unbound = _masks(state, pod)
        if every:
            return {every: int(rejected.size)}
        out = {}
        conflict = int((~bound[rejected]).sum())
        if conflict:
            out[NODE_CONFLICT] = conflict
        no_match = int((~unbound[rejected]).sum())
        if no_match:
            out[BIND_CONFLICT] = no_match
        return out

    def node_status(self, state: ClusterState, pod: PodInfo, node: int, reasons: tuple[str, ...]) -> NodeStatus:
        return NodeStatus(UNSCHEDULABLE_AND_UNRESOLVABLE, reasons)
