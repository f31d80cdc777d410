"""The run's volumes: claims, PersistentVolumes, their binding and where they are attached.

One :class:`VolumeState` per run, on ``ClusterState.volumes`` (None without storage), read
by the volume plugins (:mod:`k8sim.scheduling.plugins.volume_binding` and siblings) and
changed only here and by the storage component (:mod:`k8sim.storage.component`).

Binding follows the PV controller (``pkg/controller/volume/persistentvolume``):

- a claim with ``volumeName`` is bound to that volume at t = 0;
- an Immediate claim binds when it is created to the smallest available volume of its
  class that offers its access modes and is big enough (``FindMatchingVolume``), else, if
  its class has a provisioner, to a volume provisioned for it, in a zone drawn from the
  class's ``allowedTopologies`` or the cluster's zones (seeded), once the class's
  ``provisioning_latency`` has passed (the storage component runs that wait);
- a WaitForFirstConsumer claim binds when the scheduler places its first pod
  (VolumeBinding's Reserve): to the smallest matching volume the node can reach, else to
  a volume provisioned in the node's zone (the node's own labels of the class's
  ``allowedTopologies`` keys, as the CSI external-provisioner's selected-node topology).

Claims are created at t = 0 (the scenario's and the manifests') or later by the
StatefulSet controller (``volumeClaimTemplates``: :meth:`VolumeState.create_claim`), and
deleted by it (``persistentVolumeClaimRetentionPolicy``: :meth:`VolumeState.delete_claim`).
A claim is removed only when no pod uses it any more (the ``kubernetes.io/pvc-protection``
finalizer); its volume is then released as the PV controller's ``reclaimVolume`` does:
``Retain`` leaves it Released (bound to no claim and never bound again: its ``claimRef``
still names the deleted claim), ``Delete`` removes it. Provisioned volumes take the
class's ``reclaimPolicy``; pre-created ones their ``persistentVolumeReclaimPolicy``
(upstream's default: Retain).

Listeners (``fn(event, claim)``, ``event`` "added" or "removed") hear of created and
removed claims, as an informer would: the storage component starts Immediate
provisioning from them.

k8sim simplifications: a provisioned volume's topology is its zone
(``topology.kubernetes.io/zone``), or two zones for a class with ``replica_zones: 2``
(a regional disk, reachable from both).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from k8sim.config.k8s_types import NodeSelector
from k8sim.config.storage import NO_PROVISIONER
from k8sim.constants import ZONE_LABEL
from k8sim.scheduling.plugins.node_affinity import node_selector_mask

if TYPE_CHECKING:
    from k8sim.cluster.nodes import NodeTable
    from k8sim.config.scenario import Scenario
    from k8sim.config.storage import PersistentVolume, PersistentVolumeClaim, StorageClass

__all__ = ["Claim", "Volume", "VolumeState"]


@dataclass
class Volume:
    """A PersistentVolume (pre-created or provisioned)."""

    name: str
    capacity: int  # bytes
    modes: frozenset[str]
    storage_class: str  # "" = none
    driver: str  # CSI driver ("" = not a CSI volume: no attach limit)
    selector: NodeSelector | None = None  # spec.nodeAffinity.required
    zone: str | None = None  # topology.kubernetes.io/zone label
    claim: int = -1  # bound claim (-1: Available, or Released / deleted)
    provisioned: bool = False
    ready_at: float = 0.0  # provisioned volumes: when provisioning ends
    reclaim: str = "Retain"  # persistentVolumeReclaimPolicy
    #: Zones of a regional provisioned volume (its node affinity), for the frames.
    zones: tuple[str, ...] = ()
    released: bool = False  # its claim was deleted under Retain: never bound again
    deleted: bool = False  # its claim was deleted under Delete: gone

    @property
    def available(self) -> bool:
        return self.claim < 0 and not self.released and not self.deleted


@dataclass
class Claim:
    """A PersistentVolumeClaim."""

    name: str
    namespace: str
    storage_class: str  # "" = none
    modes: frozenset[str]
    request: int  # bytes
    wait_for_consumer: bool
    volume: int = -1  # bound volume (-1: Pending)
    users: int = 0  # pods bound (not yet ended) that use it
    #: Why an unbound Immediate claim can never bind (reported once, as a pending reason).
    unbindable: str = ""
    #: Pods using it: pod row -> node, while bound.
    pods: dict[int, int] = field(default_factory=dict)
    created: float = 0.0
    #: Immediate, no matching volume: its volume is being provisioned.
    provisioning: bool = False
    deleting: bool = False  # deletion requested; kept while a pod uses it (pvc-protection)
    deleted: bool = False  # removed (its name may be used by a new claim)
    deleted_at: float = float("nan")


class VolumeState:
    """Claims, volumes, bindings and per-node attachments of one run."""

    def __init__(self, scenario: Scenario, nodes: NodeTable, rng: np.random.Generator,
                 classes: list[StorageClass] | None = None, pvs: list[PersistentVolume] | None = None,
                 pvcs: list[PersistentVolumeClaim] | None = None):
        """The run's storage objects: ``classes``, ``pvs`` and ``pvcs`` default to the
        scenario's (the simulation passes the scenario's and its manifests' objects)."""
        classes = scenario.storage_classes if classes is None else classes
        pvs = scenario.persistent_volumes if pvs is None else pvs
        pvcs = scenario.persistent_volume_claims if pvcs is None else pvcs
        self.classes: dict[str, StorageClass] = {c.name: c for c in classes}
        self.nodes = nodes
        self.rng = rng
        self.volumes: list[Volume] = []
        self.claims: list[Claim] = []
        self.claim_index: dict[tuple[str, str], int] = {}
        #: Bumped when a claim binds or a volume is created (plugins cache masks on it).
        self.version = 0
        #: Attachments: volume -> {node: pods there using it}.
        self.attached: dict[int, dict[int, int]] = {}
        self._node_masks: dict[int, tuple[int, np.ndarray]] = {}
        self.scenario = scenario
        self._limits: dict[str, tuple[int, np.ndarray]] = {}
        #: Volumes of each CSI driver attached per node (``int64[N]``, grown as nodes join).
        self._counts: dict[str, np.ndarray] = {}
        #: ``fn(event, claim)`` for "added" and "removed" claims (see the module docstring).
        self.listeners: list[Callable[[str, int], None]] = []
        for pv in pvs:
            cls = self.classes.get(pv.storage_class_name)
            driver = pv.csi_driver or (cls.provisioner if cls is not None and cls.provisioner != NO_PROVISIONER else "")
            self.volumes.append(Volume(pv.name, int(pv.capacity), frozenset(pv.access_modes), pv.storage_class_name,
                                       driver, pv.node_affinity.required if pv.node_affinity else None, pv.zone,
                                       reclaim=pv.persistent_volume_reclaim_policy,
                                       zones=(pv.zone,) if pv.zone else ()))
        self._by_name = {v.name: i for i, v in enumerate(self.volumes)}
        # Pre-bound claims first, as the PV controller binds a claim's volumeName before
        # it looks for matches for the others.
        for c in pvcs:
            self.create_claim(c, 0.0, bind=False)
        for ci, claim in enumerate(self.claims):
            if claim.volume < 0 and not claim.wait_for_consumer:
                self._bind_immediate(ci)

    def create_claim(self, spec: PersistentVolumeClaim, now: float, bind: bool = True) -> int:
        """A new claim (validated: its class and pre-bound volume exist): bound at once to
        its ``volumeName`` or, Immediate, to a matching volume; an Immediate claim that
        its class must provision is left ``provisioning`` for the storage component.
        Returns its index; the listeners hear "added"."""
        cls = self.classes.get(spec.storage_class_name or "")
        claim = Claim(spec.name, spec.namespace, spec.storage_class_name or "", frozenset(spec.access_modes),
                      int(spec.request), cls is not None and cls.volume_binding_mode == "WaitForFirstConsumer",
                      created=now)
        ci = len(self.claims)
        self.claims.append(claim)
        self.claim_index[(spec.namespace, spec.name)] = ci
        if spec.volume_name is not None:
            self._bind(ci, self._by_name[spec.volume_name])
        elif bind and not claim.wait_for_consumer:
            self._bind_immediate(ci)
        self.version += 1
        for fn in self.listeners:
            fn("added", ci)
        return ci

    def delete_claim(self, ci: int, now: float) -> None:
        """Request the deletion of claim ``ci``: removed now if no pod uses it, else when
        the last one has ended (:meth:`pod_left`)."""
        c = self.claims[ci]
        if c.deleted or c.deleting:
            return
        c.deleting = True
        c.deleted_at = now
        if c.users == 0:
            self._remove(ci, now)

    def pod_left(self, ci: int, now: float) -> None:
        """A pod using claim ``ci`` ended: a claim waiting for deletion goes when unused."""
        c = self.claims[ci]
        if c.deleting and not c.deleted and c.users == 0:
            self._remove(ci, now)

    def _remove(self, ci: int, now: float) -> None:
        c = self.claims[ci]
        c.deleted = True
        c.deleted_at = now
        if self.claim_index.get((c.namespace, c.name)) == ci:
            del self.claim_index[(c.namespace, c.name)]
        if c.volume >= 0:  # the PV controller's reclaimVolume
            vol = self.volumes[c.volume]
            vol.claim = -1
            if vol.reclaim == "Delete":
                vol.deleted = True
            else:
                vol.released = True
        self.version += 1
        for fn in self.listeners:
            fn("removed", ci)

    # -- node masks -----------------------------------------------------------------

    def volume_mask(self, v: int) -> np.ndarray:
        """``bool[N]``: nodes that can reach volume ``v`` (its node affinity and zone)."""
        nodes = self.nodes
        cached = self._node_masks.get(v)
        if cached is not None and cached[0] == nodes.version:
            return cached[1]
        vol = self.volumes[v]
        mask = np.ones(nodes.n, dtype=bool)
        if vol.selector is not None:
            mask &= node_selector_mask(nodes, vol.selector)
        if vol.zone is not None:
            codes = nodes.labels.get(ZONE_LABEL)
            mask &= (codes == nodes.label_code(ZONE_LABEL, vol.zone)) if codes is not None else False
        self._node_masks[v] = (nodes.version, mask)
        return mask

    def topology_mask(self, cls: StorageClass) -> np.ndarray:
        """``bool[N]``: nodes inside the class's ``allowedTopologies`` (all if empty)."""
        nodes = self.nodes
        if not cls.allowed_topologies:
            return np.ones(nodes.n, dtype=bool)
        out = np.zeros(nodes.n, dtype=bool)
        for term in cls.allowed_topologies:
            m = np.ones(nodes.n, dtype=bool)
            for req in term.match_label_expressions:
                codes = nodes.labels.get(req.key)
                if codes is None:
                    m[:] = False
                    continue
                m &= np.isin(codes, [nodes.label_code(req.key, v) for v in req.values])
            out |= m
        return out

    def candidates(self, ci: int) -> list[int]:
        """Available volumes that could bind claim ``ci``, smallest first (upstream
        ``FindMatchingVolume``: class, access modes, capacity)."""
        c = self.claims[ci]
        found = [i for i, v in enumerate(self.volumes)
                 if v.available and v.storage_class == c.storage_class and c.modes <= v.modes
                 and v.capacity >= c.request]
        return sorted(found, key=lambda i: (self.volumes[i].capacity, self.volumes[i].name))

    def can_provision(self, ci: int) -> bool:
        cls = self.classes.get(self.claims[ci].storage_class)
        return cls is not None and cls.provisioner != NO_PROVISIONER

    # -- attachments -------------------------------------------------------------

    def limits(self, driver: str) -> np.ndarray:
        """``int64[N]`` attach limit of ``driver`` per node (-1: none)."""
        cached = self._limits.get(driver)
        if cached is not None and cached[0] == self.nodes.version:
            return cached[1]
        out = attach_limits(self.scenario, self.nodes, driver)
        self._limits[driver] = (self.nodes.version, out)
        return out

    def counts(self, driver: str) -> np.ndarray:
        """``int64[N]``: volumes of ``driver`` attached to each node."""
        a = self._counts.get(driver)
        n = self.nodes.n
        if a is None or a.size < n:
            grown = np.zeros(n, dtype=np.int64)
            if a is not None:
                grown[:a.size] = a
            self._counts[driver] = a = grown
        return a

    def attach(self, v: int, node: int) -> bool:
        """One more pod on ``node`` uses volume ``v``; True if it was not attached there."""
        where = self.attached.setdefault(v, {})
        first = node not in where
        where[node] = where.get(node, 0) + 1
        if first and self.volumes[v].driver:
            self.counts(self.volumes[v].driver)[node] += 1
        return first

    def release(self, v: int, node: int) -> bool:
        """A pod on ``node`` stopped using ``v``; True if no pod there uses it any more."""
        where = self.attached[v]
        where[node] -= 1
        return where[node] == 0

    def detach(self, v: int, node: int) -> None:
        """Volume ``v`` is detached from ``node`` (after its last pod there left)."""
        where = self.attached[v]
        if where.get(node) == 0:
            del where[node]
            if self.volumes[v].driver:
                self.counts(self.volumes[v].driver)[node] -= 1

    def attached_elsewhere(self, v: int, node: int) -> list[int]:
        """Nodes other than ``node`` that ``v`` is still attached to."""
        return [n for n in self.attached.get(v, {}) if n != node]

    # -- binding --------------------------------------------------------------------

    def _bind(self, ci: int, v: int) -> None:
        self.claims[ci].volume = v
        self.volumes[v].claim = ci
        self.version += 1

    def _provision(self, ci: int, zone: str | None, now: float, latency: float) -> int:
        """A volume provisioned for claim ``ci`` in ``zone`` (and, for a class with
        ``replica_zones: 2``, one more zone of its topology drawn from the seeded stream),
        bound to it, ready after ``latency``."""
        c = self.claims[ci]
        cls = self.classes[c.storage_class]
        zones: tuple[str, ...] = (zone,) if zone is not None else ()
        selector = None
        if cls.replica_zones > 1 and zone is not None:
            others = [z for z in self._zones(self.topology_mask(cls)) if z != zone]
            if others:
                zones = tuple(sorted((zone, str(self.rng.choice(others)))))
                selector = NodeSelector.model_validate({"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": ZONE_LABEL, "operator": "In", "values": list(zones)}]}]})
        name = f"pvc-{c.namespace}-{c.name}"
        if name in self._by_name:  # a claim of the same name was deleted before
            name = f"{name}-{len(self.volumes)}"
        vol = Volume(name, c.request, c.modes, c.storage_class, cls.provisioner,
                     selector=selector, zone=zone if selector is None else None, provisioned=True,
                     ready_at=now + latency, reclaim=cls.reclaim_policy, zones=zones)
        self.volumes.append(vol)
        v = len(self.volumes) - 1
        self._by_name[name] = v
        self._bind(ci, v)
        return v

    def _bind_immediate(self, ci: int) -> None:
        found = self.candidates(ci)
        if found:
            self._bind(ci, found[0])
            return
        c = self.claims[ci]
        if not self.can_provision(ci):
            c.unbindable = (f"no PersistentVolume matches claim {c.namespace}/{c.name} (class {c.storage_class!r}, "
                            f"{sorted(c.modes)}, {c.request} bytes) and its class cannot provision one")
            return
        c.provisioning = True

    def provision_immediate(self, ci: int, now: float) -> int:
        """The provisioner has created the volume of Immediate claim ``ci``: in a zone
        drawn (seeded) from its class's ``allowedTopologies`` or the cluster's zones,
        bound to the claim now (the provisioning time has passed)."""
        c = self.claims[ci]
        c.provisioning = False
        cls = self.classes[c.storage_class]
        zones = self._zones(self.topology_mask(cls))
        zone = str(self.rng.choice(zones)) if zones else None
        v = self._provision(ci, zone, now, 0.0)
        self.version += 1
        return v

    def _zones(self, mask: np.ndarray) -> list[str]:
        codes = self.nodes.labels.get(ZONE_LABEL)
        if codes is None:
            return []
        values = {c: v for v, c in self.nodes.label_values.get(ZONE_LABEL, {}).items()}
        return sorted({values[int(c)] for c in np.unique(codes[mask]) if c >= 0})

    def bind_for_node(self, ci: int, node: int, now: float, latency: float) -> None:
        """WaitForFirstConsumer: bind claim ``ci`` for a pod placed on ``node``: the
        smallest matching volume the node reaches, else a new one in the node's zone."""
        for v in self.candidates(ci):
            if self.volume_mask(v)[node]:
                self._bind(ci, v)
                return
        codes = self.nodes.labels.get(ZONE_LABEL)
        zone = None
        if codes is not None and codes[node] >= 0:
            zone = self.nodes.node_labels(node).get(ZONE_LABEL)
        self._provision(ci, zone, now, latency)


def attach_limits(scenario: Scenario, nodes: NodeTable, driver: str) -> np.ndarray:
    """``int64[N]``: volumes of ``driver`` each node can attach (-1: no limit), from the
    pools' and explicit nodes' ``csi_attach_limits`` (CSINode ``allocatable.count``)."""
    pools = scenario.cluster.node_pools
    per_pool = np.array([p.csi_attach_limits.get(driver, -1) for p in pools] + [-1], dtype=np.int64)
    codes = nodes.pool.astype(np.int64)
    out = per_pool[np.where((codes >= 0) & (codes < len(pools)), codes, len(pools))]
    for spec in scenario.cluster.nodes:
        n = nodes.name_index.get(spec.name)
        if n is not None:
            out[n] = spec.csi_attach_limits.get(driver, -1)
    return out
