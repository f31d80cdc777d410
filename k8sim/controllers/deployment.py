"""The Deployment controller (upstream ``pkg/controller/deployment/``).

A Deployment owns ReplicaSets, one per pod-template revision, named
``<deployment>-<template hash>``; the ReplicaSet controller makes their pods. A sync
(``syncDeployment``, a reaction latency after a change of the Deployment or of one of its
ReplicaSets' pods) does, as upstream:

- a scaling event (``isScalingEvent``: ``spec.replicas`` differs from the active
  ReplicaSets' ``desired-replicas`` annotation) or a paused Deployment:
  ``sync`` -> ``scale`` (``sync.go``: proportional scaling of the active ReplicaSets by
  ``getReplicaSetFraction`` over the ``max-replicas`` annotation, leftover to the
  largest);
- ``Recreate`` (``recreate.go``): scale every old ReplicaSet to 0, wait until none of
  their pods is left (``oldPodsRunning``: terminating pods count), then create / scale
  up the new one;
- ``RollingUpdate`` (``rolling.go``): ``reconcileNewReplicaSet`` (``NewRSNewReplicas``:
  up to ``replicas + maxSurge`` pods in all), then ``reconcileOldReplicaSets``
  (``cleanupUnhealthyReplicas`` first, then ``scaleDownOldReplicaSetsForRollingUpdate``
  down to ``replicas - maxUnavailable`` available pods). ``maxSurge`` rounds up and
  ``maxUnavailable`` down (:func:`~k8sim.controllers.ranking.resolve_fenceposts`);
- revision history (``sync.go``: ``getNewReplicaSet`` gives the new ReplicaSet revision
  ``max(old) + 1``, also when an old one is adopted again, as by a rollback;
  ``cleanupDeployment`` deletes the oldest ReplicaSets with no replicas beyond
  ``revisionHistoryLimit``, default 10) and :meth:`DeploymentController.rollback`
  (``kubectl rollout undo``: the template of a former revision becomes the
  Deployment's);
- progress (``progress.go``: ``syncRolloutStatus``): each sync that sees more updated,
  ready or available pods, or fewer old ones, is progress; a rollout not complete
  ``progressDeadlineSeconds`` (600) after its last progress is ``ProgressDeadlineExceeded``
  (an event; the rollout goes on, as upstream). Complete = every replica updated and
  available and no old pod left (``DeploymentComplete``).

Availability counts a pod ``minReadySeconds`` after it became Ready; the ReplicaSet
controller tells this controller when that happens (upstream: the ReplicaSet's status
update). Status is read live from the pod table, where upstream reads the
ReplicaSets' last written status (a step behind).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from k8sim.component import Contribution
from k8sim.controllers.queue import WorkQueue
from k8sim.controllers.ranking import resolve_fenceposts
from k8sim.controllers.replicaset import latency_sampler
from k8sim.controllers.store import PodMaker, Sampling, template_hash, with_image

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.controllers import ControllerTiming
    from k8sim.config.pods import PodTemplate
    from k8sim.controllers.replicaset import ReplicaSetController
    from k8sim.controllers.store import AppStore, ReplicaSetObj
    from k8sim.workloads.manifests import AppObject


@dataclass
class DeploymentObj:
    row: int
    name: str
    namespace: str
    template: PodTemplate
    replicas: int
    strategy: str
    max_surge: int | str
    max_unavailable: int | str
    min_ready_s: float
    revision_history_limit: int
    progress_deadline_s: float
    paused: bool
    sampling: Sampling
    preemption_policy: str = "PreemptLowerPriority"  # of the pods' PriorityClass
    hash: str = ""  # template_hash(template)
    rses: list[int] = field(default_factory=list)
    last_progress: float = 0.0
    prev_status: tuple[int, int, int, int] = (0, 0, 0, 0)  # replicas, updated, ready, available
    complete: bool = False
    timed_out: bool = False
    rollout_start: float = 0.0
    rollout_revision: int = 0
    rollouts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def display(self) -> str:
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"


class DeploymentController:
    """Every Deployment of the run (see the module docstring)."""

    name = "deployment-controller"

    def __init__(self, ctx: Context, store: AppStore, replicasets: ReplicaSetController, timing: ControllerTiming):
        self.ctx = ctx
        self.env = ctx.env
        self.store = store
        self.rsc = replicasets
        self.queue = WorkQueue(ctx.env, self.sync, latency_sampler(
            ctx, timing, self.name, lambda row: f"{store.deployments[row].namespace}/{store.deployments[row].name}"))
        self.by_key: dict[str, int] = {}
        store.rs_listeners.append(self._rs_changed)
        store.available_listeners.append(self._rs_pod_available)

    def start(self) -> None:
        """Nothing to start: syncs follow object changes."""

    def contribute(self) -> Contribution:
        rows = [r for d in self.store.deployments for r in d.rollouts]
        frame = pd.DataFrame(rows, columns=["deployment", "namespace", "revision", "started", "completed",
                                            "deadline_exceeded_at"])
        for c in ("deployment", "namespace"):
            frame[c] = frame[c].astype("string")
        done = frame["completed"].notna()
        summary = {
            "rollouts": len(frame),
            "rollouts_completed": int(done.sum()),
            "rollouts_deadline_exceeded": int(frame["deadline_exceeded_at"].notna().sum()),
        }
        return Contribution(frames={"rollouts": frame}, summary=summary,
                            provenance={"deployment_syncs": self.queue.syncs})

    # -- the objects --------------------------------------------------------------------

    def create(self, obj: AppObject, workload: int, sampling: Sampling) -> int:
        """A Deployment from a manifest object (now); returns its row."""
        store = self.store
        d = DeploymentObj(
            row=len(store.deployments), name=obj.name, namespace=obj.namespace, template=obj.template,
            replicas=obj.replicas, strategy=obj.strategy, max_surge=obj.max_surge,
            max_unavailable=obj.max_unavailable, min_ready_s=obj.min_ready_s,
            revision_history_limit=obj.revision_history_limit, progress_deadline_s=obj.progress_deadline_s,
            paused=obj.paused, sampling=sampling, last_progress=self.env.now, hash=template_hash(obj.template),
            preemption_policy=obj.preemption_policy,
        )
        store.deployments.append(d)
        self.by_key[obj.key] = d.row
        store.desired("Deployment", d.name, d.namespace, d.replicas)
        store.register("Deployment", obj, d.name, d.namespace, min_ready_s=d.min_ready_s, workload=workload)
        self.queue.add(d.row)
        return d.row

    def find(self, name: str) -> int:
        """The row of the Deployment ``name`` (``namespace/name``, or a name in ``default``)."""
        key = name if "/" in name else f"default/{name}"
        if key not in self.by_key:
            raise KeyError(f"no Deployment {name!r} (known: {sorted(self.by_key)})")
        return self.by_key[key]

    # Operator actions (``kubectl scale``, ``kubectl set image`` / ``apply``,
    # ``kubectl rollout undo``, ``pause`` / ``resume``): change the object now; the
    # controller reacts after its reaction latency. Fault sources and scheduled actions
    # call these.

    def scale(self, name: str, replicas: int) -> None:
        """Set ``spec.replicas``."""
        if replicas < 0:
            raise ValueError(f"replicas must be >= 0, got {replicas}")
        d = self.store.deployments[self.find(name)]
        if d.replicas != replicas:
            d.replicas = replicas
            self.store.desired("Deployment", d.name, d.namespace, replicas)
        self.queue.add(d.row)

    def set_template(self, name: str, template: PodTemplate) -> None:
        """Replace the pod template: a new rollout (if it differs)."""
        d = self.store.deployments[self.find(name)]
        d.template = template
        d.hash = template_hash(template)
        self.queue.add(d.row)

    def set_image(self, name: str, image: str, container: str | None = None) -> None:
        """``kubectl set image``: every container's image (or ``container``'s) becomes
        ``image`` (a new rollout)."""
        d = self.store.deployments[self.find(name)]
        self.set_template(name, with_image(d.template, image, container))

    def rollback(self, name: str, revision: int = 0) -> int:
        """``kubectl rollout undo [--to-revision]``: the template of ``revision`` (0:
        the one before the current) becomes the Deployment's. Returns that revision."""
        d = self.store.deployments[self.find(name)]
        rss = [self.store.replicasets[r] for r in d.rses if not self.store.replicasets[r].deleted]
        cur_rev = max((rs.revision for rs in rss if rs.hash == d.hash), default=0)
        if revision == 0:
            older = [rs for rs in rss if rs.revision < cur_rev]
            if not older:
                raise ValueError(f"Deployment {name!r} has no revision before {cur_rev} to roll back to")
            target = max(older, key=lambda rs: rs.revision)
        else:
            hits = [rs for rs in rss if rs.revision == revision]
            if not hits:
                raise ValueError(f"Deployment {name!r} has no revision {revision} "
                                 f"(known: {sorted(rs.revision for rs in rss)})")
            target = hits[0]
        self.ctx.api.record("DeploymentRollback", detail=f"rolled back {d.display} to revision {target.revision}")
        self.set_template(name, target.template)
        return target.revision

    def pause(self, name: str, paused: bool = True) -> None:
        d = self.store.deployments[self.find(name)]
        d.paused = paused
        self.queue.add(d.row)

    # -- helpers ------------------------------------------------------------------------

    def _rs_changed(self, rs_row: int) -> None:
        rs = self.store.replicasets[rs_row]
        if rs.deployment >= 0:
            d = self.store.deployments[rs.deployment]
            if not d.complete or rs.hash != d.hash or rs.replicas != d.replicas:
                self.queue.add(rs.deployment)

    def _rs_pod_available(self, rs_row: int) -> None:
        """A pod of a ReplicaSet became available. While the new ReplicaSet alone is
        filling up (no old pods, at its full size), a sync could only note the progress:
        note it here, and sync when the last pod is available (completion)."""
        rs = self.store.replicasets[rs_row]
        if rs.deployment < 0:
            return
        d = self.store.deployments[rs.deployment]
        if (not d.complete and rs.hash == d.hash and rs.replicas == d.replicas and len(rs.available) < d.replicas
                and not d.paused and len(rs.ready) >= len(rs.available)
                and all(self.store.replicasets[r] is rs or not self.store.replicasets[r].active for r in d.rses)):
            d.last_progress = self.env.now
            return
        self._rs_changed(rs_row)

    def _rss(self, d: DeploymentObj) -> list[ReplicaSetObj]:
        return [self.store.replicasets[r] for r in d.rses if not self.store.replicasets[r].deleted]

    def _max_surge(self, d: DeploymentObj) -> int:
        if d.strategy != "RollingUpdate":
            return 0
        return resolve_fenceposts(d.max_surge, d.max_unavailable, d.replicas)[0]

    def _max_unavailable(self, d: DeploymentObj) -> int:
        """``MaxUnavailable``: 0 unless rolling with replicas; at most ``replicas``."""
        if d.strategy != "RollingUpdate" or d.replicas == 0:
            return 0
        return min(resolve_fenceposts(d.max_surge, d.max_unavailable, d.replicas)[1], d.replicas)

    def _scale_rs(self, d: DeploymentObj, rs: ReplicaSetObj, n: int) -> bool:
        """``scaleReplicaSetAndRecordEvent`` (annotations updated as ``SetReplicasAnnotations``)."""
        changed = rs.replicas != n
        rs.desired_annotation = d.replicas
        rs.max_annotation = d.replicas + self._max_surge(d)
        if changed:
            way = "up" if n > rs.replicas else "down"
            self.ctx.api.record("ScalingReplicaSet",
                                detail=f"Scaled {way} replica set {rs.display} from {rs.replicas} to {n}")
            self.rsc.scale(rs.row, n)
        return changed

    def _new_rs(self, d: DeploymentObj, rss: list[ReplicaSetObj], create: bool) -> ReplicaSetObj | None:
        """``getNewReplicaSet``: the ReplicaSet of the current template (revision bumped
        to max(old) + 1 when adopted again), created if ``create``."""
        h = d.hash
        new = next((rs for rs in rss if rs.hash == h), None)
        old_max = max((rs.revision for rs in rss if rs is not new), default=0)
        if new is not None:
            if new.revision < old_max + 1:  # SetNewReplicaSetAnnotations: a revision only grows
                new.revision = old_max + 1
                self._rollout_started(d, new.revision)
            return new
        if not create:
            return None
        n = d.replicas if d.strategy == "Recreate" else self._new_rs_replicas(d, rss, 0)
        name = f"{d.name}-{h}"
        sampling = d.sampling
        maker = PodMaker(self.store, d.template, ("deployment", d.namespace, d.name, h), sampling,
                         d.preemption_policy)
        row = self.rsc.create(name=name, namespace=d.namespace, template=d.template, hash=h, replicas=n,
                              min_ready_s=d.min_ready_s, maker=maker, deployment=d.row, revision=old_max + 1)
        rs = self.store.replicasets[row]
        rs.max_annotation = d.replicas + self._max_surge(d)
        d.rses.append(row)
        if n:
            self.ctx.api.record("ScalingReplicaSet", detail=f"Scaled up replica set {rs.display} from 0 to {n}")
        self._rollout_started(d, rs.revision)
        return rs

    def _rollout_started(self, d: DeploymentObj, revision: int) -> None:
        now = self.env.now
        d.complete = False
        d.timed_out = False
        d.last_progress = now
        d.rollout_start = now
        d.rollout_revision = revision
        d.rollouts.append({"deployment": d.name, "namespace": d.namespace, "revision": revision, "started": now,
                           "completed": float("nan"), "deadline_exceeded_at": float("nan")})

    def _new_rs_replicas(self, d: DeploymentObj, rss: list[ReplicaSetObj], new_replicas: int) -> int:
        """``NewRSNewReplicas`` for RollingUpdate."""
        current = sum(rs.replicas for rs in rss)
        max_total = d.replicas + self._max_surge(d)
        if current >= max_total:
            return new_replicas
        up = min(max_total - current, d.replicas - new_replicas)
        return new_replicas + up

    # -- sync ---------------------------------------------------------------------------

    def sync(self, row: int) -> None:
        """``syncDeployment``."""
        d = self.store.deployments[row]
        rss = self._rss(d)
        if d.paused or self._is_scaling_event(d, rss):
            self._sync_scale(d, rss)
        elif d.strategy == "Recreate":
            self._recreate(d, rss)
        else:
            self._rolling(d, rss)

    def _is_scaling_event(self, d: DeploymentObj, rss: list[ReplicaSetObj]) -> bool:
        new = self._new_rs(d, rss, create=False)
        if new is None:
            return False
        return any(rs.replicas > 0 and rs.desired_annotation != d.replicas for rs in rss)

    def _sync_scale(self, d: DeploymentObj, rss: list[ReplicaSetObj]) -> None:
        """``sync``: scale (proportionally), clean up if complete, status."""
        new = self._new_rs(d, rss, create=False)  # sync() never creates one
        self._scale(d, new, [rs for rs in rss if rs is not new])
        self._status(d)

    def _scale(self, d: DeploymentObj, new: ReplicaSetObj | None, old: list[ReplicaSetObj]) -> None:
        active = [rs for rs in ([new] if new is not None else []) + old if rs.replicas > 0]
        if len(active) <= 1:
            target = active[0] if active else (new if new is not None else max(old, key=lambda r: r.created,
                                                                                default=None))
            if target is not None and (target.replicas != d.replicas or target.desired_annotation != d.replicas):
                self._scale_rs(d, target, d.replicas)
            return
        if new is not None and new.replicas == d.replicas and new.desired_annotation == d.replicas and (
                self.rsc.status(new.row)[2] == d.replicas):
            for rs in old:  # IsSaturated: the old ones go
                if rs.replicas > 0:
                    self._scale_rs(d, rs, 0)
            return
        if d.strategy != "RollingUpdate":
            return
        total = sum(rs.replicas for rs in active)
        allowed = d.replicas + self._max_surge(d) if d.replicas > 0 else 0
        to_add = allowed - total
        if to_add > 0:  # ReplicaSetsBySizeNewer: larger first, newer first on ties
            active.sort(key=lambda rs: (-rs.replicas, -rs.created, -rs.row))
        elif to_add < 0:  # ReplicaSetsBySizeOlder
            active.sort(key=lambda rs: (-rs.replicas, rs.created, rs.row))
        added = 0
        sizes = {}
        for rs in active:
            if to_add != 0:
                p = self._proportion(d, rs, to_add, added)
                sizes[rs.row] = rs.replicas + p
                added += p
            else:
                sizes[rs.row] = rs.replicas
        if to_add != 0 and added != to_add and active:
            first = active[0].row
            sizes[first] = max(0, sizes[first] + to_add - added)
        for rs in active:
            self._scale_rs(d, rs, sizes[rs.row])

    def _proportion(self, d: DeploymentObj, rs: ReplicaSetObj, to_add: int, added: int) -> int:
        """``GetProportion`` with ``getReplicaSetFraction``."""
        if rs.replicas == 0 or to_add == 0 or to_add == added:
            return 0
        if d.replicas == 0:
            fraction = -rs.replicas
        else:
            dep = d.replicas + self._max_surge(d)
            annotated = rs.max_annotation or sum(r.replicas for r in self._rss(d))
            size = rs.replicas * dep / annotated
            fraction = int(size + 0.5) - rs.replicas  # integer.RoundToInt32 (half away from zero)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    def _rolling(self, d: DeploymentObj, rss: list[ReplicaSetObj]) -> None:
        """``rolloutRolling``."""
        new = self._new_rs(d, rss, create=True)
        assert new is not None
        rss = self._rss(d)
        old = [rs for rs in rss if rs is not new]
        if self._reconcile_new(d, rss, new):
            self._status(d)
            return
        if self._reconcile_old(d, rss, old, new):
            self._status(d)
            return
        if self._complete(d, new, old):
            self._cleanup(d, old)
        self._status(d)

    def _reconcile_new(self, d: DeploymentObj, rss: list[ReplicaSetObj], new: ReplicaSetObj) -> bool:
        if new.replicas == d.replicas:
            if new.desired_annotation != d.replicas:
                new.desired_annotation = d.replicas
            return False
        if new.replicas > d.replicas:
            return self._scale_rs(d, new, d.replicas)
        return self._scale_rs(d, new, self._new_rs_replicas(d, rss, new.replicas))

    def _reconcile_old(self, d: DeploymentObj, rss: list[ReplicaSetObj], old: list[ReplicaSetObj],
                       new: ReplicaSetObj) -> bool:
        """``reconcileOldReplicaSets``."""
        if sum(rs.replicas for rs in old) == 0:
            return False
        all_pods = sum(rs.replicas for rs in rss)
        min_available = d.replicas - self._max_unavailable(d)
        new_unavailable = new.replicas - self.rsc.status(new.row)[2]
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old = sorted(old, key=lambda rs: (rs.created, rs.row))  # ReplicaSetsByCreationTimestamp
        # cleanupUnhealthyReplicas: the old ReplicaSets' unavailable pods go first.
        cleaned = 0
        for rs in old:
            if cleaned >= max_scaled_down:
                break
            if rs.replicas == 0:
                continue
            available = self.rsc.status(rs.row)[2]
            if rs.replicas == available:
                continue
            n = min(max_scaled_down - cleaned, rs.replicas - available)
            self._scale_rs(d, rs, rs.replicas - n)
            cleaned += n
        # scaleDownOldReplicaSetsForRollingUpdate
        available = sum(self.rsc.status(rs.row)[2] for rs in rss)
        scaled = 0
        if available > min_available:
            total = available - min_available
            for rs in old:
                if scaled >= total:
                    break
                if rs.replicas == 0:
                    continue
                n = min(rs.replicas, total - scaled)
                self._scale_rs(d, rs, rs.replicas - n)
                scaled += n
        return cleaned + scaled > 0

    def _recreate(self, d: DeploymentObj, rss: list[ReplicaSetObj]) -> None:
        """``rolloutRecreate``."""
        new = self._new_rs(d, rss, create=False)
        old = [rs for rs in rss if rs is not new]
        scaled = False
        for rs in old:
            if rs.replicas > 0:
                scaled |= self._scale_rs(d, rs, 0)
        if scaled:
            self._status(d)
            return
        if any(rs.pods for rs in old):  # oldPodsRunning: terminating pods count
            self._status(d)
            return
        if new is None:
            new = self._new_rs(d, rss, create=True)
            assert new is not None
        elif new.replicas != d.replicas:
            self._scale_rs(d, new, d.replicas)
        if self._complete(d, new, old):
            self._cleanup(d, old)
        self._status(d)

    def _complete(self, d: DeploymentObj, new: ReplicaSetObj, old: list[ReplicaSetObj]) -> bool:
        """``DeploymentComplete``: every replica updated and available, no old pod."""
        replicas, _, available = self.rsc.status(new.row)
        return (replicas == d.replicas and available == d.replicas and new.replicas == d.replicas
                and not any(rs.active for rs in old))

    def _cleanup(self, d: DeploymentObj, old: list[ReplicaSetObj]) -> None:
        """``cleanupDeployment``: keep ``revisionHistoryLimit`` old ReplicaSets."""
        diff = len(old) - d.revision_history_limit
        if diff <= 0:
            return
        for rs in sorted(old, key=lambda r: (r.revision, r.created))[:diff]:
            if rs.replicas != 0 or rs.pods:
                continue
            self.rsc.delete(rs.row)
            self.ctx.api.record("ReplicaSetDeleted", detail=f"deleted old replica set {rs.display} "
                                                           f"(revision {rs.revision}, history limit)")

    def _status(self, d: DeploymentObj) -> None:
        """``syncRolloutStatus``: progress, completion, the progress deadline."""
        rss = self._rss(d)
        h = d.hash
        replicas = updated = ready = available = 0
        new = None
        for rs in rss:
            r, rd, av = self.rsc.status(rs.row)
            replicas += r
            ready += rd
            available += av
            if rs.hash == h:
                updated = r
                new = rs
        now = self.env.now
        prev = d.prev_status
        d.prev_status = (replicas, updated, ready, available)
        if d.complete:
            return
        complete = (updated == d.replicas and replicas == d.replicas and available == d.replicas
                    and new is not None)
        if complete:
            d.complete = True
            if d.rollouts and d.rollouts[-1]["completed"] != d.rollouts[-1]["completed"]:  # NaN: open
                d.rollouts[-1]["completed"] = now
                self.ctx.api.record("DeploymentComplete", detail=f"{d.display} revision {d.rollout_revision} "
                                                                 "rolled out (NewReplicaSetAvailable)")
            return
        progressing = (updated > prev[1] or (replicas - updated) < (prev[0] - prev[1]) or ready > prev[2]
                       or available > prev[3])
        if progressing:
            d.last_progress = now
        if d.paused:
            return
        deadline = d.last_progress + d.progress_deadline_s
        if now >= deadline:
            if not d.timed_out:
                d.timed_out = True
                if d.rollouts:
                    d.rollouts[-1]["deadline_exceeded_at"] = now
                self.ctx.api.record("ProgressDeadlineExceeded",
                                    detail=f"{d.display} revision {d.rollout_revision} has not progressed for "
                                           f"{d.progress_deadline_s:g}s")
        else:
            d.timed_out = False
            self.queue.add_after(d.row, deadline - now)  # requeueStuckDeployment
