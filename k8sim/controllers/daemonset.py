"""The DaemonSet controller (upstream ``pkg/controller/daemon/daemon_controller.go``,
``update.go``).

One pod per eligible node, including nodes that join later. A node is eligible
(``NodeShouldRunDaemonPod``) when it has not left and the template's ``nodeName``,
``nodeSelector`` and required node affinity match it, and every NoSchedule / NoExecute
taint on it is tolerated by the template plus the tolerations every daemon pod gets
(``AddOrUpdateDaemonPodTolerations``: ``not-ready`` and ``unreachable`` NoExecute,
``disk-pressure``, ``memory-pressure``, ``pid-pressure`` and ``unschedulable``
NoSchedule). Resources are not checked: the scheduler places the pod, as upstream
since 1.12: the pod is created Pending with a required node affinity on
``metadata.name`` (``ReplaceDaemonSetPodNodeNameNodeAffinity``, replacing the template's
required terms) and goes through the default scheduler like any pod. A sync (a reaction
latency after a node or pod event) creates the missing pods, deletes surplus pods
(keeping the oldest) and pods on nodes no longer eligible, then, with
``updateStrategy: RollingUpdate`` (``rollingUpdate`` with ``maxSurge`` 0): deletes old-
revision pods that are not available at once and available ones while fewer than
``maxUnavailable`` (default 1; a percentage of the eligible nodes, rounded up) of the
nodes lack an available pod. ``OnDelete`` replaces pods only when they go.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster.api import AdmissionRefused
from k8sim.cluster.pods import FAILED, OWNER_KINDS
from k8sim.cluster.watch import (
    NodeAdded,
    NodeRemoved,
    NodeUpdated,
    PodDeleted,
    PodDeleting,
    PodRunning,
    PodTerminated,
)
from k8sim.config.k8s_types import Affinity, NodeSelectorTerm
from k8sim.config.pods import Toleration
from k8sim.controllers.ranking import scaled_value
from k8sim.controllers.replicaset import PodOwnerController
from k8sim.controllers.store import SCALED_DOWN, PodMaker, Sampling, template_hash, with_image

if TYPE_CHECKING:
    from k8sim.component import Context
    from k8sim.config.controllers import ControllerTiming
    from k8sim.config.pods import PodTemplate
    from k8sim.controllers.store import AppStore
    from k8sim.workloads.manifests import AppObject

DS_KIND = OWNER_KINDS.index("DaemonSet")

#: ``AddOrUpdateDaemonPodTolerations`` (``pkg/controller/daemon/util/daemonset_util.go``).
DAEMON_TOLERATIONS = (
    Toleration(key="node.kubernetes.io/not-ready", operator="Exists", effect="NoExecute"),
    Toleration(key="node.kubernetes.io/unreachable", operator="Exists", effect="NoExecute"),
    Toleration(key="node.kubernetes.io/disk-pressure", operator="Exists", effect="NoSchedule"),
    Toleration(key="node.kubernetes.io/memory-pressure", operator="Exists", effect="NoSchedule"),
    Toleration(key="node.kubernetes.io/pid-pressure", operator="Exists", effect="NoSchedule"),
    Toleration(key="node.kubernetes.io/unschedulable", operator="Exists", effect="NoSchedule"),
)


@dataclass
class DaemonSetObj:
    row: int
    name: str
    namespace: str
    template: PodTemplate
    hash: str
    strategy: str
    max_unavailable: int | str
    min_ready_s: float
    sampling: Sampling
    preemption_policy: str = "PreemptLowerPriority"  # of the pods' PriorityClass
    node_pods: dict[int, list[int]] = field(default_factory=dict)  # node -> its non-terminal pods
    revision_of: dict[int, str] = field(default_factory=dict)
    makers: dict[tuple[str, int], PodMaker] = field(default_factory=dict)
    deleting: set[int] = field(default_factory=set)
    desired: int = -1
    deleted: bool = False
    next_pod: int = 0

    @property
    def display(self) -> str:
        return self.name if self.namespace == "default" else f"{self.namespace}/{self.name}"


def _req_matches(req: object, value: str | None) -> bool:
    op, values = req.operator, req.values  # type: ignore[attr-defined]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if value is None:
        return False
    try:
        v = int(value)
    except ValueError:
        return False
    return v > int(values[0]) if op == "Gt" else v < int(values[0])


def term_matches(term: NodeSelectorTerm, labels: dict[str, str], name: str) -> bool:
    """``NodeSelectorTerm`` on one node (requirements ANDed; an empty term matches
    nothing, as upstream)."""
    if not term.match_expressions and not term.match_fields:
        return False
    return all(_req_matches(r, labels.get(r.key)) for r in term.match_expressions) and all(
        _req_matches(r, name) for r in term.match_fields)


class DaemonSetController(PodOwnerController):
    """Every DaemonSet of the run (see the module docstring). Syncs follow object, node
    and pod events."""

    name = "daemonset-controller"
    syncs_key = "daemonset_syncs"

    def __init__(self, ctx: Context, store: AppStore, timing: ControllerTiming):
        super().__init__(ctx, store, timing, lambda: store.daemonsets)
        self.by_key: dict[str, int] = {}
        bus = ctx.api.bus
        bus.subscribe(NodeAdded, self._on_node)
        bus.subscribe(NodeUpdated, self._on_node)
        bus.subscribe(NodeRemoved, self._on_node)

    def create(self, obj: AppObject, workload: int, sampling: Sampling) -> int:
        store = self.store
        d = DaemonSetObj(row=len(store.daemonsets), name=obj.name, namespace=obj.namespace, template=obj.template,
                         hash=template_hash(obj.template), strategy=obj.strategy,
                         max_unavailable=obj.max_unavailable, min_ready_s=obj.min_ready_s, sampling=sampling,
                         preemption_policy=obj.preemption_policy)
        store.daemonsets.append(d)
        self.by_key[obj.key] = d.row
        store.register("DaemonSet", obj, d.name, d.namespace, min_ready_s=d.min_ready_s, workload=workload)
        self.queue.add(d.row)
        return d.row

    def find(self, name: str) -> int:
        key = name if "/" in name else f"default/{name}"
        if key not in self.by_key:
            raise KeyError(f"no DaemonSet {name!r} (known: {sorted(self.by_key)})")
        return self.by_key[key]

    def set_template(self, name: str, template: PodTemplate) -> None:
        """A new pod template: a rolling update (or OnDelete)."""
        d = self.store.daemonsets[self.find(name)]
        d.template = template
        d.hash = template_hash(template)
        self.queue.add(d.row)

    def set_image(self, name: str, image: str, container: str | None = None) -> None:
        """``kubectl set image``: a new template (a rolling update, or OnDelete)."""
        d = self.store.daemonsets[self.find(name)]
        self.set_template(name, with_image(d.template, image, container))

    def delete(self, name: str) -> None:
        """Delete the DaemonSet: no node is eligible any more, its pods go."""
        d = self.store.daemonsets[self.find(name)]
        del self.by_key[name if "/" in name else f"default/{name}"]
        d.deleted = True
        self.queue.add(d.row)

    # -- eligibility --------------------------------------------------------------------

    def eligible(self, d: DaemonSetObj) -> np.ndarray:
        """``bool[N]``: nodes that should run a pod of ``d`` (``NodeShouldRunDaemonPod``)."""
        nt = self.ctx.state.nodes
        t = d.template
        out = np.isinf(nt.removed_at[: nt.n]) & (not d.deleted)
        tolerations = (*t.tolerations, *DAEMON_TOLERATIONS)
        from k8sim.scheduling.plugins.taint_toleration import tolerates

        hard = [i for i, spec in enumerate(nt.taint_specs) if spec.effect in ("NoSchedule", "NoExecute")
                and not any(tolerates(tol, spec) for tol in tolerations)]
        if hard:
            out &= ~nt.taints[hard].any(axis=0)
        required = t.affinity.node_affinity.required if (t.affinity and t.affinity.node_affinity) else None
        if t.node_name is None and not t.node_selector and required is None:
            return out
        for n in np.flatnonzero(out).tolist():
            name = nt.names[n]
            labels = nt.node_labels(n)
            ok = (t.node_name is None or t.node_name == name) and all(
                labels.get(k) == v for k, v in t.node_selector.items())
            if ok and required is not None:
                ok = any(term_matches(term, labels, name) for term in required.node_selector_terms)
            out[n] = ok
        return out

    def _maker(self, d: DaemonSetObj, node: int) -> PodMaker:
        m = d.makers.get((d.hash, node))
        if m is None:
            t = d.template
            name = self.ctx.state.nodes.names[node]
            term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [name]}]}
            aff = t.affinity.model_dump(by_alias=True, exclude_defaults=True) if t.affinity is not None else {}
            na = dict(aff.get("nodeAffinity") or {})
            na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}
            aff["nodeAffinity"] = na
            known = {(x.key, x.operator, x.value, x.effect) for x in t.tolerations}
            extra = [x for x in DAEMON_TOLERATIONS if (x.key, x.operator, x.value, x.effect) not in known]
            tmpl = t.model_copy(update={"affinity": Affinity.model_validate(aff),
                                        "tolerations": [*t.tolerations, *extra]})
            m = d.makers[(d.hash, node)] = PodMaker(self.store, tmpl, ("daemonset", d.namespace, d.name, d.hash, node),
                                                    d.sampling, d.preemption_policy)
        return m

    # -- watch handlers -----------------------------------------------------------------

    def _mine(self, pod: int) -> DaemonSetObj | None:
        pods = self.ctx.state.pods
        if pods.owner_kind[pod] != DS_KIND:
            return None
        return self.store.daemonsets[int(pods.owner[pod])]

    def _on_node(self, e: object) -> None:
        for d in self.store.daemonsets:
            self.queue.add(d.row)

    def _forget(self, d: DaemonSetObj, pod: int) -> None:
        for pods in d.node_pods.values():
            if pod in pods:
                pods.remove(pod)
                break
        d.revision_of.pop(pod, None)

    def _loss(self, d: DaemonSetObj, pod: int, cause: str) -> None:
        nt = self.ctx.state.nodes
        node = int(self.ctx.state.pods.node[pod])
        if node < 0 or math.isinf(nt.removed_at[node]):  # (a pod of a node that left is not replaced)
            self.store.lost(DS_KIND, d.row, pod, cause)

    def _on_deleting(self, e: PodDeleting) -> None:
        d = self._mine(e.pod)
        if d is not None:
            d.deleting.add(e.pod)
            if e.reason != SCALED_DOWN:
                self._loss(d, e.pod, e.reason)
            self.queue.add(d.row)

    def _on_terminated(self, e: PodTerminated) -> None:
        d = self._mine(e.pod)
        if d is None:
            return
        if e.pod in d.deleting:
            d.deleting.discard(e.pod)
        else:
            self._loss(d, e.pod, e.reason if e.phase == FAILED else "Completed")
        self._forget(d, e.pod)
        self.queue.add(d.row)

    def _on_deleted(self, e: PodDeleted) -> None:
        d = self._mine(e.pod)
        if d is None:
            return
        if e.reason != SCALED_DOWN:
            self._loss(d, e.pod, e.reason)
        d.deleting.discard(e.pod)
        self._forget(d, e.pod)
        self.queue.add(d.row)

    def _on_running(self, e: PodRunning) -> None:
        d = self._mine(e.pod)
        if d is None or d.strategy != "RollingUpdate":
            return

        def ready(_e: object, pod: int = e.pod, d: DaemonSetObj = d) -> None:
            r = float(self.ctx.state.pods.ready[pod])
            if not math.isnan(r):
                self.queue.add_after(d.row, max(0.0, r + d.min_ready_s - self.env.now))

        self.env.timeout(0).callbacks.append(ready)

    # -- sync ---------------------------------------------------------------------------

    def sync(self, row: int) -> None:
        """``syncDaemonSet``: ``manage`` then ``rollingUpdate``."""
        d = self.store.daemonsets[row]
        eligible = self.eligible(d)
        want = int(eligible.sum())
        if want != d.desired:
            d.desired = want
            self.store.desired("DaemonSet", d.name, d.namespace, want)
        nt = self.ctx.state.nodes
        terminating = self.ctx.state.terminating
        created = self.ctx.state.pods.created
        refused = False
        for n in range(nt.n):
            pods = [p for p in d.node_pods.get(n, ()) if p not in d.deleting]
            if eligible[n]:
                if not pods and not d.node_pods.get(n):
                    if refused:
                        continue
                    try:
                        pod = self._maker(d, n).create(f"{d.display}-{self._suffix(d, n)}", DS_KIND, d.row)
                    except AdmissionRefused:
                        refused = True  # the API logged FailedCreate; later nodes wait
                        continue
                    d.node_pods.setdefault(n, []).append(pod)
                    d.revision_of[pod] = d.hash
                elif len(pods) > 1:  # keep the oldest
                    for p in sorted(pods, key=lambda p: (created[p], p))[1:]:
                        self._delete(d, p)
            else:
                for p in pods:
                    if p not in terminating:
                        self._delete(d, p)
        if refused:
            # syncNodes returns the creation error (slowStartBatch stopped at it): the
            # DaemonSet is re-synced with the queue's back-off.
            self.queue.add_rate_limited(row)
        else:
            self.queue.forget(row)
        if d.strategy == "RollingUpdate":
            self._rolling_update(d, eligible)

    def _suffix(self, d: DaemonSetObj, node: int) -> str:
        from k8sim.controllers.replicaset import pod_suffix

        d.next_pod += 1
        return pod_suffix(d.name, d.next_pod - 1)

    def _rolling_update(self, d: DaemonSetObj, eligible: np.ndarray) -> None:
        """``rollingUpdate`` with ``maxSurge`` 0."""
        now = self.env.now
        nodes = np.flatnonzero(eligible).tolist()
        max_unavailable = scaled_value(d.max_unavailable, len(nodes), True)
        unavailable = 0
        candidates = []
        for n in nodes:
            pods = [p for p in d.node_pods.get(n, ()) if p not in d.deleting]
            if not pods:
                unavailable += 1
                continue
            p = pods[0]
            avail = self.store.is_available(p, d.min_ready_s, now)
            if d.revision_of.get(p) != d.hash:
                if not avail:
                    self._delete(d, p)  # an old pod that is not available goes at once
                    unavailable += 1
                else:
                    candidates.append(p)
            elif not avail:
                unavailable += 1
        for p in candidates:
            if unavailable >= max_unavailable:
                break
            self._delete(d, p)
            unavailable += 1

    def _delete(self, d: DaemonSetObj, pod: int) -> None:
        grace = self.ctx.state.shapes[int(self.ctx.state.pods.shape[pod])].termination_grace_s
        d.deleting.add(pod)
        self.ctx.api.delete_pod(pod, grace, SCALED_DOWN)
