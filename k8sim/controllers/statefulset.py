"""The StatefulSet controller (upstream ``pkg/controller/statefulset/
stateful_set_control.go``: ``updateStatefulSet``).

Pods have stable names ``<statefulset>-<ordinal>``; a pod that goes (deleted, evicted,
lost, failed) is recreated with the same name once the old one has terminated. A sync,
a reaction latency after an event about the set or its pods, goes through three stages
and, as upstream, stops at the first that must wait:

1. ordinals ``0 .. replicas-1`` without a pod get one, of the *current* revision below
   the partition and the *update* revision from it on (``newVersionedStatefulSetPod``).
   With ``podManagementPolicy: OrderedReady`` (the default) it stops after creating one
   pod, and at any pod that is terminating or not yet Running, Ready and available
   (``minReadySeconds``); ``Parallel`` creates them all at once and never waits;
2. condemned ordinals (``>= replicas``) are deleted from the highest down; OrderedReady
   deletes one and waits for it to be gone;
3. ``updateStrategy: RollingUpdate``: from the highest ordinal down to ``partition``, the
   first pod not at the update revision is deleted (and recreated by stage 1 at the new
   revision), one at a time, each waiting for the previous to be Running, Ready and
   available. ``OnDelete`` never deletes for an update (pods get the new template when
   they are recreated). When every pod is at the update revision, it becomes the
   current revision.

``volumeClaimTemplates``: before it creates the pod of an ordinal, the controller creates
the claims of that ordinal that do not exist yet, one per template, named
``<template>-<set>-<ordinal>`` (upstream ``getPersistentVolumeClaimName``,
``stateful_set_utils.go``; ``createPersistentVolumeClaims``, ``stateful_pod_control.go``)
and mounts them in the pod in place of any template volume of the template's name
(``updateStorage``). A replacement pod of the ordinal mounts the same claims, so a bound
volume's topology constrains where it can go (VolumeBinding, VolumeZone). Pods of one
ordinal share a pod shape keyed by their claims; sets without claim templates keep one
shape per revision. ``persistentVolumeClaimRetentionPolicy``: with ``whenScaled: Delete``
the claims of an ordinal condemned by a scale-down are deleted with its pod, with
``whenDeleted: Delete`` every claim of the set is deleted with the set (each claim goes
once no pod uses it, as the ``pvc-protection`` finalizer keeps it); Retain (the default)
keeps them for the ordinal's next pod.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from k8sim.cluster.api import AdmissionRefused
from k8sim.cluster.pods import FAILED, OWNER_KINDS
from k8sim.cluster.watch import PodDeleted, PodDeleting, PodRunning, PodTerminated
from k8sim.config.storage import ClaimSource, PodVolume
from k8sim.controllers.replicaset import PodOwnerController
from k8sim.controllers.store import SCALED_DOWN, PodMaker, Sampling, template_hash, with_image

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.controllers import ControllerTiming
    from k8sim.config.pods import PodTemplate
    from k8sim.config.storage import PersistentVolumeClaim
    from k8sim.controllers.store import AppStore
    from k8sim.workloads.manifests import AppObject

STS_KIND = OWNER_KINDS.index("StatefulSet")


@dataclass
class StatefulSetObj:
    row: int
    name: str
    namespace: str
    replicas: int
    pod_management: str
    strategy: str
    partition: int
    min_ready_s: float
    sampling: Sampling
    templates: dict[str, PodTemplate]
    current_revision: str
    update_revision: str
    preemption_policy: str = "PreemptLowerPriority"  # of the pods' PriorityClass
    makers: dict[tuple, PodMaker] = field(default_factory=dict)  # by shape key
    ordinals: dict[int, int] = field(default_factory=dict)  # ordinal -> its non-terminal pod
    revision_of: dict[int, str] = field(default_factory=dict)  # pod -> revision hash
    ordinal_of: dict[int, int] = field(default_factory=dict)  # pod -> ordinal
    deleting: set[int] = field(default_factory=set)  # pods whose deletion was requested
    claim_templates: list[PersistentVolumeClaim] = field(default_factory=list)
    when_deleted: str = "Retain"  # persistentVolumeClaimRetentionPolicy
    when_scaled: str = "Retain"
    claims: dict[int, tuple[int, ...]] = field(default_factory=dict)  # ordinal -> its claims (while they exist)

    @property
    def display(self) -> str:
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"


class StatefulSetController(PodOwnerController):
    """Every StatefulSet of the run (see the module docstring)."""

    name = "statefulset-controller"
    syncs_key = "statefulset_syncs"

    def __init__(self, ctx: Context, store: AppStore, timing: ControllerTiming):
        super().__init__(ctx, store, timing, lambda: store.statefulsets)
        self.by_key: dict[str, int] = {}

    # -- the objects --------------------------------------------------------------------

    def create(self, obj: AppObject, workload: int, sampling: Sampling) -> int:
        store = self.store
        h = template_hash(obj.template)
        s = StatefulSetObj(row=len(store.statefulsets), name=obj.name, namespace=obj.namespace,
                           replicas=obj.replicas, pod_management=obj.pod_management, strategy=obj.strategy,
                           partition=obj.partition, min_ready_s=obj.min_ready_s, sampling=sampling,
                           templates={h: obj.template}, current_revision=h, update_revision=h,
                           preemption_policy=obj.preemption_policy, claim_templates=list(obj.claim_templates),
                           when_deleted=obj.claim_retention[0], when_scaled=obj.claim_retention[1])
        store.statefulsets.append(s)
        self.by_key[obj.key] = s.row
        store.desired("StatefulSet", s.name, s.namespace, s.replicas)
        store.register("StatefulSet", obj, s.name, s.namespace, min_ready_s=s.min_ready_s, workload=workload)
        self.queue.add(s.row)
        return s.row

    def find(self, name: str) -> int:
        key = name if "/" in name else f"default/{name}"
        if key not in self.by_key:
            raise KeyError(f"no StatefulSet {name!r} (known: {sorted(self.by_key)})")
        return self.by_key[key]

    def scale(self, name: str, replicas: int) -> None:
        """Set ``spec.replicas``."""
        s = self.store.statefulsets[self.find(name)]
        if s.replicas != replicas:
            s.replicas = replicas
            self.store.desired("StatefulSet", s.name, s.namespace, replicas)
        self.queue.add(s.row)

    def set_template(self, name: str, template: PodTemplate, partition: int | None = None) -> None:
        """A new pod template (the update revision), optionally with a new partition."""
        s = self.store.statefulsets[self.find(name)]
        h = template_hash(template)
        s.templates[h] = template
        s.update_revision = h
        if partition is not None:
            s.partition = partition
        self.queue.add(s.row)

    def set_image(self, name: str, image: str, container: str | None = None) -> None:
        """``kubectl set image`` on the update revision's template."""
        s = self.store.statefulsets[self.find(name)]
        self.set_template(name, with_image(s.templates[s.update_revision], image, container))

    # -- helpers ------------------------------------------------------------------------

    def _mine(self, pod: int) -> StatefulSetObj | None:
        pods = self.ctx.state.pods
        if pods.owner_kind[pod] != STS_KIND:
            return None
        return self.store.statefulsets[int(pods.owner[pod])]

    def _maker(self, s: StatefulSetObj, revision: str, ordinal: int) -> PodMaker:
        if not s.claim_templates:
            key: tuple = ("statefulset", s.namespace, s.name, revision)
            template = s.templates[revision]
        else:
            claims = self._claims(s, ordinal)
            key = ("statefulset", s.namespace, s.name, revision, claims)
        m = s.makers.get(key)
        if m is None:
            if s.claim_templates:
                template = self._with_claims(s, s.templates[revision], ordinal)
            m = s.makers[key] = PodMaker(self.store, template, key, s.sampling, s.preemption_policy)
        return m

    def _claim_name(self, s: StatefulSetObj, t: PersistentVolumeClaim, ordinal: int) -> str:
        """Upstream ``getPersistentVolumeClaimName``: ``<template>-<set>-<ordinal>``."""
        return f"{t.name}-{s.name}-{ordinal}"

    def _claims(self, s: StatefulSetObj, ordinal: int) -> tuple[int, ...]:
        """The claims of ``ordinal``, created where missing (``createPersistentVolumeClaims``)."""
        vs = self.ctx.state.volumes
        out = []
        for t in s.claim_templates:
            name = self._claim_name(s, t, ordinal)
            ci = vs.claim_index.get((s.namespace, name))
            if ci is None:
                ci = vs.create_claim(t.model_copy(update={"name": name, "namespace": s.namespace}), self.env.now)
                self.ctx.api.record("SuccessfulCreate", detail=f"{s.display}: create Claim {name} for Pod "
                                                               f"{s.name}-{ordinal}")
            out.append(ci)
        s.claims[ordinal] = tuple(out)
        return tuple(out)

    def _with_claims(self, s: StatefulSetObj, template: PodTemplate, ordinal: int) -> PodTemplate:
        """Upstream ``updateStorage``: the ordinal's claims mounted under their templates'
        names, in place of template volumes of those names."""
        names = {t.name for t in s.claim_templates}
        volumes = [PodVolume(name=t.name, persistent_volume_claim=ClaimSource(
            claim_name=self._claim_name(s, t, ordinal))) for t in s.claim_templates]
        volumes += [v for v in template.volumes if v.name not in names]
        return template.model_copy(update={"volumes": volumes})

    def delete_claims(self, s: StatefulSetObj, ordinals: list[int]) -> None:
        """Delete the claims of ``ordinals`` (retention policy Delete); each goes once no
        pod uses it."""
        vs = self.ctx.state.volumes
        for o in ordinals:
            for ci in s.claims.pop(o, ()):
                vs.delete_claim(ci, self.env.now)

    def set_deleted(self, s: StatefulSetObj) -> None:
        """The set was deleted: ``whenDeleted: Delete`` deletes all its claims."""
        if s.claim_templates and s.when_deleted == "Delete":
            self.delete_claims(s, sorted(s.claims))

    def _healthy(self, s: StatefulSetObj, pod: int) -> bool:
        """``isRunningAndReady`` and available after ``minReadySeconds``."""
        return pod not in self.ctx.state.terminating and self.store.is_available(pod, s.min_ready_s, self.env.now)

    def _forget(self, s: StatefulSetObj, pod: int) -> None:
        o = s.ordinal_of.pop(pod, None)
        if o is not None and s.ordinals.get(o) == pod:
            del s.ordinals[o]
        s.revision_of.pop(pod, None)

    # -- watch handlers -----------------------------------------------------------------

    def _on_deleting(self, e: PodDeleting) -> None:
        s = self._mine(e.pod)
        if s is not None:
            s.deleting.add(e.pod)
            if e.reason != SCALED_DOWN:
                self.store.lost(STS_KIND, s.row, e.pod, e.reason)
            self.queue.add(s.row)

    def _on_terminated(self, e: PodTerminated) -> None:
        s = self._mine(e.pod)
        if s is None:
            return
        if e.pod in s.deleting:
            s.deleting.discard(e.pod)
        else:  # ended on its own
            self.store.lost(STS_KIND, s.row, e.pod, e.reason if e.phase == FAILED else "Completed")
        self._forget(s, e.pod)
        self.queue.add(s.row)

    def _on_deleted(self, e: PodDeleted) -> None:
        s = self._mine(e.pod)
        if s is None:
            return
        if e.reason != SCALED_DOWN:
            self.store.lost(STS_KIND, s.row, e.pod, e.reason)
        self._forget(s, e.pod)
        self.queue.add(s.row)

    def _on_running(self, e: PodRunning) -> None:
        s = self._mine(e.pod)
        if s is None:
            return

        def ready(_e: object, pod: int = e.pod, s: StatefulSetObj = s) -> None:
            r = float(self.ctx.state.pods.ready[pod])
            if not math.isnan(r):
                self.queue.add_after(s.row, max(0.0, r + s.min_ready_s - self.env.now))

        self.env.timeout(0).callbacks.append(ready)

    # -- sync ---------------------------------------------------------------------------

    def sync(self, row: int) -> None:
        s = self.store.statefulsets[row]
        monotonic = s.pod_management == "OrderedReady"
        terminating = self.ctx.state.terminating
        api = self.ctx.api
        # 1. every ordinal below replicas has a pod
        for o in range(s.replicas):
            pod = s.ordinals.get(o)
            if pod is None:
                rolling = s.strategy == "RollingUpdate"
                rev = s.current_revision if rolling and o < s.partition else s.update_revision
                try:
                    pod = self._maker(s, rev, o).create(f"{s.display}-{o}", STS_KIND, s.row)
                except AdmissionRefused:
                    # The API logged FailedCreate; the sync returns the error and is
                    # retried with the queue's back-off (stateful_set_control.go).
                    self.queue.add_rate_limited(row)
                    return
                self.queue.forget(row)
                s.ordinals[o] = pod
                s.ordinal_of[pod] = o
                s.revision_of[pod] = rev
                if monotonic:
                    return
                continue
            if pod in terminating or not self._healthy(s, pod):
                if monotonic:
                    return
        # 2. condemned ordinals, highest first
        for o in sorted((o for o in s.ordinals if o >= s.replicas), reverse=True):
            pod = s.ordinals[o]
            if pod in terminating:
                if monotonic:
                    return
                continue
            self._delete(s, pod)
            if s.claim_templates and s.when_scaled == "Delete":
                self.delete_claims(s, [o])
            if monotonic:
                return
        if any(o >= s.replicas for o in s.ordinals):
            return
        # 3. rolling update, highest ordinal down to the partition
        if s.strategy == "RollingUpdate":
            for o in range(s.replicas - 1, min(s.partition, s.replicas) - 1, -1):
                pod = s.ordinals.get(o)
                if pod is None:
                    return
                if s.revision_of[pod] != s.update_revision and pod not in terminating:
                    api.record("StatefulSetUpdate", pod, detail=f"{s.display}: updating ordinal {o} to "
                                                                f"revision {s.update_revision}")
                    self._delete(s, pod)
                    return
                if not self._healthy(s, pod):
                    return
        if s.current_revision != s.update_revision and all(
                s.revision_of.get(p) == s.update_revision for p in s.ordinals.values()) and len(s.ordinals) == s.replicas:
            s.current_revision = s.update_revision

    def _delete(self, s: StatefulSetObj, pod: int) -> None:
        grace = s.templates[s.revision_of[pod]].termination_grace_period_s
        self.ctx.api.delete_pod(pod, grace, SCALED_DOWN)
