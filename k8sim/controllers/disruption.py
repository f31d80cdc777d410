"""PodDisruptionBudgets: the disruption controller's status and the Eviction API check.

Upstream the disruption controller (``pkg/controller/disruption/disruption.go``,
``trySync``) writes each budget's ``status.disruptionsAllowed`` and the eviction
handler (``pkg/registry/core/pod/storage/eviction.go``) refuses an eviction (429) when
it is 0, decrementing it otherwise. k8sim computes the same status live, at each
eviction, from the tables (nothing is behind: the watch bus is synchronous), and
registers the check with :meth:`ClusterAPI.add_eviction_check
<k8sim.cluster.api.ClusterAPI.add_eviction_check>`, so voluntary evictions (``kubectl
drain``, the ``drain`` action) respect the budgets; involuntary disruptions
(preemption, node failures, taint eviction) do not ask, as upstream.

Status as ``getExpectedPodCount`` / ``countHealthyPods`` / ``updatePdbStatus``:

- the budget's pods: non-terminal pods of its namespace matched by its selector;
- ``currentHealthy``: those Ready and not being deleted;
- ``minAvailable`` as an integer: ``desiredHealthy = minAvailable``,
  ``expectedCount`` = the number of pods;
- ``maxUnavailable`` or a percentage ``minAvailable``: ``expectedCount`` = the sum of
  the scales of the pods' controllers (``getExpectedScale``: a ReplicaSet's replicas, or
  its Deployment's; a StatefulSet's); pods without a controller are left out
  (unmanaged); a pod whose controller has no scale (DaemonSet, Job) makes the status
  uncomputable, and the budget then allows no disruption (upstream's fail-safe);
  ``desiredHealthy = expectedCount - maxUnavailable`` (percentages rounded up,
  ``GetScaledValueFromIntOrPercent``) or ``ceil(minAvailable% * expectedCount)``;
- ``disruptionsAllowed = currentHealthy - desiredHealthy``, 0 if negative or if
  ``expectedCount`` is 0.

A pod matched by more than one budget cannot be evicted (upstream answers 500: "This pod
has more than one PodDisruptionBudget, which the eviction subresource does not
support"). Every eviction attempt on a pod with a budget is a row of the ``pdb_evictions``
frame. A budget no eviction can ever pass (``maxUnavailable: 0``, ``minAvailable:
100%``, or an integer ``minAvailable`` at least the replicas of the objects whose pods
it selects) or one selecting no object's pods is warned about when the run starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.cluster.pods import BOUND, OWNER_KINDS, PENDING, RUNNING
from k8sim.component import Contribution
from k8sim.controllers.ranking import scaled_value

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.controllers.store import AppStore
    from k8sim.workloads.manifests import AppObject
    from k8sim.workloads.policy_manifests import PdbSpec

_RS, _STS = OWNER_KINDS.index("ReplicaSet"), OWNER_KINDS.index("StatefulSet")


@dataclass
class Pdb:
    name: str
    namespace: str
    spec: PdbSpec
    where: str
    shapes: dict[int, bool] = field(default_factory=dict)  # shape id -> selected (cache)

    @property
    def display(self) -> str:
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"


class DisruptionController:
    """Every PodDisruptionBudget of the run (see the module docstring)."""

    name = "disruption-controller"

    def __init__(self, ctx: Context, store: AppStore):
        self.ctx = ctx
        self.store = store
        self.pdbs: list[Pdb] = []
        self.by_key: dict[str, int] = {}
        self.rows: list[tuple[float, str, str, int, int, int, int, bool]] = []
        self._registered = False

    def start(self) -> None:
        """Nothing to start: the status is computed at each eviction."""

    def apply(self, obj: AppObject) -> None:
        """Create or replace the budget ``obj`` now."""
        pdb = Pdb(obj.name, obj.namespace, obj.batch, obj.where)
        if obj.key in self.by_key:
            self.pdbs[self.by_key[obj.key]] = pdb
            return
        self.by_key[obj.key] = len(self.pdbs)
        self.pdbs.append(pdb)
        if not self._registered:
            self._registered = True
            self.ctx.api.add_eviction_check(self.check)
            self.ctx.env.timeout(0).callbacks.append(lambda _e: self._warn_unsatisfiable())

    # -- status ---------------------------------------------------------------------------

    def _selects_shape(self, pdb: Pdb, shape: int) -> bool:
        hit = pdb.shapes.get(shape)
        if hit is None:
            info = self.ctx.state.shapes[shape]
            sel = pdb.spec.selector
            hit = pdb.shapes[shape] = bool(sel is not None and info.namespace == pdb.namespace
                                           and sel.matches(info.labels))
        return hit

    def pods_of(self, pdb: Pdb) -> np.ndarray:
        """Rows of the budget's non-terminal pods."""
        pods = self.ctx.state.pods
        n = pods.n
        phase = pods.phase[:n]
        live = np.flatnonzero((phase == PENDING) | (phase == BOUND) | (phase == RUNNING))
        if not live.size:
            return live
        uniq, inv = np.unique(pods.shape[live], return_inverse=True)
        selected = np.array([self._selects_shape(pdb, int(u)) for u in uniq.tolist()], dtype=bool)
        return live[selected[inv]]

    def expected_scale(self, pods: np.ndarray) -> int | None:
        """``getExpectedScale``: the sum of the pods' controllers' scales (None when a
        controller has no scale subresource)."""
        table = self.ctx.state.pods
        store = self.store
        seen: set[tuple[str, int]] = set()
        total = 0
        for p in pods.tolist():
            kind, owner = int(table.owner_kind[p]), int(table.owner[p])
            if kind == 0:
                continue  # unmanaged pod
            if kind == _RS:
                rs = store.replicasets[owner]
                key = ("Deployment", rs.deployment) if rs.deployment >= 0 else ("ReplicaSet", owner)
                if key in seen:
                    continue
                seen.add(key)
                total += store.deployments[rs.deployment].replicas if rs.deployment >= 0 else rs.replicas
            elif kind == _STS:
                if ("StatefulSet", owner) not in seen:
                    seen.add(("StatefulSet", owner))
                    total += store.statefulsets[owner].replicas
            else:
                return None
        return total

    def status(self, pdb: Pdb) -> tuple[int, int, int, int]:
        """``(expectedCount, currentHealthy, desiredHealthy, disruptionsAllowed)`` now;
        expectedCount -1 when it cannot be computed (no disruption allowed)."""
        pods = self.pods_of(pdb)
        table = self.ctx.state.pods
        now = self.ctx.env.now
        terminating = self.ctx.state.terminating
        healthy = sum(1 for p in pods.tolist()
                      if table.phase[p] == RUNNING and table.ready[p] <= now and p not in terminating)
        spec = pdb.spec
        if spec.min_available is not None and isinstance(spec.min_available, int):
            expected, desired = len(pods), spec.min_available
        else:
            scale = self.expected_scale(pods)
            if scale is None:
                return -1, healthy, 0, 0
            expected = scale
            if spec.max_unavailable is not None:
                desired = max(0, expected - scaled_value(spec.max_unavailable, expected, True))
            else:
                assert spec.min_available is not None
                desired = scaled_value(spec.min_available, expected, True)
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        return expected, healthy, desired, allowed

    def check(self, pod: int, reason: str) -> bool:
        """The eviction check (see the module docstring)."""
        shape = int(self.ctx.state.pods.shape[pod])
        mine = [b for b in self.pdbs if self._selects_shape(b, shape)]
        if not mine:
            return True
        now = float(self.ctx.env.now)
        name = self.ctx.state.pods.names[pod]
        if len(mine) > 1:
            self.rows.append((now, ",".join(b.display for b in mine), name, -1, -1, -1, 0, False))
            return False
        pdb = mine[0]
        expected, healthy, desired, allowed = self.status(pdb)
        ok = allowed > 0
        self.rows.append((now, pdb.display, name, expected, healthy, desired, allowed, ok))
        return ok

    # -- warnings -------------------------------------------------------------------------

    def _objects(self) -> list[tuple[str, str, Any, int]]:
        """(kind, namespace, template labels, replicas) of every scalable object."""
        s = self.store
        out: list[tuple[str, str, Any, int]] = []
        out += [("Deployment", d.namespace, d.template.labels, d.replicas) for d in s.deployments]
        out += [("ReplicaSet", r.namespace, r.template.labels, r.replicas) for r in s.replicasets if r.deployment < 0]
        out += [("StatefulSet", t.namespace, t.templates[t.update_revision].labels, t.replicas)
                for t in s.statefulsets if t.update_revision in t.templates]
        return out

    def _warn_unsatisfiable(self) -> None:
        objects = self._objects()
        warn = self.ctx.warnings.append
        for pdb in self.pdbs:
            spec = pdb.spec
            sel = spec.selector
            mine = [o for o in objects if sel is not None and o[1] == pdb.namespace and sel.matches(o[2])]
            replicas = sum(o[3] for o in mine)
            what = f"{pdb.where}: PodDisruptionBudget {pdb.display}"
            if spec.max_unavailable is not None and scaled_value(spec.max_unavailable, max(replicas, 1), True) == 0:
                warn(f"{what}: maxUnavailable {spec.max_unavailable} allows no voluntary eviction ever "
                     "(a drain of its pods' nodes never completes)")
            elif spec.min_available == "100%":
                warn(f"{what}: minAvailable 100% allows no voluntary eviction ever")
            elif isinstance(spec.min_available, int) and mine and spec.min_available >= replicas:
                warn(f"{what}: minAvailable {spec.min_available} >= the {replicas} replica(s) of the objects it "
                     "selects: no voluntary eviction can ever pass")
            elif not mine and sel is not None:
                warn(f"{what}: its selector matches the pods of no Deployment, ReplicaSet or StatefulSet of the run")

    def contribute(self) -> Contribution:
        if not self.pdbs:
            return Contribution()
        f = pd.DataFrame(self.rows, columns=["time", "pdb", "pod", "expected", "healthy", "desired_healthy",
                                             "disruptions_allowed", "allowed"])
        for c in ("pdb", "pod"):
            f[c] = f[c].astype("string")
        f["allowed"] = f["allowed"].astype(bool)
        blocked = int((~f["allowed"]).sum())
        return Contribution(frames={"pdb_evictions": f},
                            summary={"evictions_blocked_by_pdb": blocked,
                                     "evictions_allowed_by_pdb": int(f["allowed"].sum())},
                            provenance={"pdbs": len(self.pdbs)})
