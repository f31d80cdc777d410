"""The storage component: binds WaitForFirstConsumer claims when their pod is bound,
tracks which pods use which claims, attaches and detaches volumes, and tells the kubelet
how long a pod waits for its volumes before its sandbox.

A pod's volume wait, per claim, in order (kubelet's ``WaitForAttachAndMount`` after the
attach/detach controller's work):

1. provisioning: a volume provisioned for it when it was bound (WaitForFirstConsumer)
   is ready after the class's ``provisioning_latency`` (upstream PreBind waits for it);
2. multi-attach: a ReadWriteOnce / ReadWriteOncePod volume still attached to another
   node (its pods there gone but not yet detached, or still running) cannot attach here
   (upstream's ``Multi-Attach error``); the pod waits until it is detached there;
3. attach: if the volume is not attached to the node yet, the class's ``attach_latency``.

When the last pod using a volume on a node ends, the volume is detached after the
class's ``detach_latency``; if the node's machine is down (its kubelet cannot unmount),
the attach/detach controller first waits ``maxWaitForUnmountDuration`` (6 minutes) and
then force-detaches, so a ReadWriteOnce volume of a failed node reaches another node no
earlier than eviction + 6 min + detach + attach. Latencies are drawn per (claim, use) from streams keyed by
the claim, so two policies on one seed see the same draws.

An Immediate claim that its class must provision (upstream: the external provisioner
reacting to the new claim) is bound when its ``provisioning_latency`` has passed after
its creation; until then its pods are Pending ("pod has unbound immediate
PersistentVolumeClaims"), and its binding (a :class:`~k8sim.cluster.watch.ClaimBound`
event) sends them back to the scheduling queue. Without a latency it binds at creation.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import simpy

from k8sim.cluster import ops
from k8sim.cluster.watch import ClaimBound, PodBound, PodTerminated
from k8sim.component import Contribution
from k8sim.runtime.spec import IndexedSampler
from k8sim.storage.volumes import Volume, VolumeState

if TYPE_CHECKING:
    from k8sim.component import Context

#: Upstream ``ReconcilerMaxWaitForUnmountDuration`` (``DefaultTimerConfig`` in
#: ``pkg/controller/volume/attachdetach/attach_detach_controller.go``): a volume whose
#: node is down is force-detached this long after its pod was deleted.
MAX_WAIT_FOR_UNMOUNT_S = 360.0
#: Access modes that let a volume attach to several nodes at once.
_MULTI_NODE = frozenset({"ReadWriteMany", "ReadOnlyMany"})


class Storage:
    """Volume binding, attachment and the pods' volume waits (one per run with storage)."""

    name = "storage"

    def __init__(self, ctx: Context, objects: Any = None):
        """``objects``: (classes, volumes, claims) of the run (the scenario's and its
        manifests'); None: the scenario's."""
        self.ctx = ctx
        self.env = ctx.env
        self.state = ctx.state
        classes, pvs, pvcs = objects if objects is not None else (None, None, None)
        self.vs = VolumeState(ctx.scenario, ctx.state.nodes, ctx.streams.generator("storage-topology"),
                              classes, pvs, pvcs)
        ctx.state.volumes = self.vs
        for c in self.vs.claims:
            if c.unbindable:
                ctx.warnings.append(f"persistentVolumeClaims: {c.unbindable}; pods using it stay Pending")
        self._uses: dict[tuple[str, int], int] = {}
        self._samplers: dict[tuple[str, int], IndexedSampler | None] = {}
        self._detached: dict[tuple[int, int], simpy.Event] = {}
        #: Claims each pod has attached (released when it ends), pods already recorded.
        self._mounted: dict[int, set[int]] = {}
        self._recorded: set[int] = set()
        #: One row per (pod, claim) mount: the waits of the pod's first start.
        self.rows: list[tuple[int, int, int, int, float, float, float]] = []
        ctx.api.bus.subscribe(PodBound, self._on_bound)
        ctx.api.bus.subscribe(PodTerminated, self._on_terminated)
        for ci, c in enumerate(self.vs.claims):
            if c.provisioning:
                self._provision_immediate(ci)
        self.vs.listeners.append(self._on_claim)

    def start(self) -> None:
        """Nothing runs on its own: binding and detaching follow the pods."""

    # -- draws ----------------------------------------------------------------------

    def _draw(self, what: str, ci: int) -> float:
        vs = self.vs
        cls = vs.classes.get(vs.claims[ci].storage_class)
        dist = getattr(cls, f"{what}_latency") if cls is not None else None
        if dist is None:
            return 0.0
        key = (what, ci)
        sampler = self._samplers.get(key)
        if sampler is None:
            sampler = IndexedSampler(dist, self.ctx.streams.generator(f"storage-{what}", ci))
            self._samplers[key] = sampler
        i = self._uses.get(key, 0)
        self._uses[key] = i + 1
        return float(sampler.get(i))

    # -- Immediate provisioning ---------------------------------------------------------

    def _on_claim(self, event: str, ci: int) -> None:
        c = self.vs.claims[ci]
        if event == "added":
            if c.unbindable:
                self.ctx.warnings.append(f"PersistentVolumeClaim {c.namespace}/{c.name}: {c.unbindable}; pods using "
                                         "it stay Pending")
            if c.provisioning:
                self._provision_immediate(ci)
        ops.volumes_changed(self.state)

    def _provision_immediate(self, ci: int) -> None:
        d = self._draw("provisioning", ci)
        if d <= 0:
            self.vs.provision_immediate(ci, self.env.now)
            return

        def done(_e: object) -> None:
            if self.vs.claims[ci].deleted:
                self.vs.claims[ci].provisioning = False
                return
            self.vs.provision_immediate(ci, self.env.now)
            ops.volumes_changed(self.state)
            self.ctx.api.bus.publish(ClaimBound(ci))

        self.env.timeout(d).callbacks.append(done)

    # -- watch handlers -------------------------------------------------------------

    def _on_bound(self, event: PodBound) -> None:
        info = self.state.shapes[int(self.state.pods.shape[event.pod])]
        if not info.claims:
            return
        vs = self.vs
        for ci in info.claims:
            c = vs.claims[ci]
            if c.volume < 0:  # WaitForFirstConsumer: bind for the chosen node (PreBind)
                vs.bind_for_node(ci, event.node, self.env.now, self._draw("provisioning", ci))
            c.users += 1
            c.pods[event.pod] = event.node

    def _on_terminated(self, event: PodTerminated) -> None:
        info = self.state.shapes[int(self.state.pods.shape[event.pod])]
        if not info.claims:
            return
        vs = self.vs
        for ci in info.claims:
            c = vs.claims[ci]
            node = c.pods.pop(event.pod, None)
            if node is None:
                continue
            c.users -= 1
            v = c.volume
            if event.pod in self._mounted and ci in self._mounted[event.pod] and vs.release(v, node):
                self.env.process(self._detach(ci, v, node))
            vs.pod_left(ci, self.env.now)
        self._mounted.pop(event.pod, None)

    def _detach(self, ci: int, v: int, node: int) -> Generator[simpy.Event, Any, None]:
        if not self.state.nodes.up[node]:
            # The node's kubelet cannot confirm the unmount: the attach/detach controller
            # force-detaches after maxWaitForUnmountDuration.
            yield self.env.timeout(MAX_WAIT_FOR_UNMOUNT_S)
        d = self._draw("detach", ci)
        if d > 0:
            yield self.env.timeout(d)
        if self.vs.attached.get(v, {}).get(node) == 0:  # no pod came back meanwhile
            self.vs.detach(v, node)
            ev = self._detached.pop((v, node), None)
            if ev is not None:
                ev.succeed()

    # -- the kubelet's volume wait ------------------------------------------------------

    def mount(self, pod: int, node: int) -> Generator[simpy.Event, Any, None]:
        """Wait until every claim of ``pod`` is provisioned and attached to ``node``."""
        env = self.env
        vs = self.vs
        info = self.state.shapes[int(self.state.pods.shape[pod])]
        first = pod not in self._recorded
        self._recorded.add(pod)
        done = self._mounted.setdefault(pod, set())  # a restart keeps what is attached
        for ci in info.claims:
            if ci in done:
                continue
            v = vs.claims[ci].volume
            vol = vs.volumes[v]
            t0 = env.now
            if vol.ready_at > env.now:
                yield env.timeout(vol.ready_at - env.now)
            t1 = env.now
            if not vs.claims[ci].modes & _MULTI_NODE:  # ReadWriteOnce(Pod): one node at a time
                while True:
                    others = vs.attached_elsewhere(v, node)
                    if not others:
                        break
                    ev = self._detached.get((v, others[0]))
                    if ev is None:
                        ev = self._detached[(v, others[0])] = env.event()
                    yield ev
            t2 = env.now
            attached = vs.attach(v, node)
            done.add(ci)  # released when the pod ends, even during the attach
            if attached:
                d = self._draw("attach", ci)
                if d > 0:
                    yield env.timeout(d)
            if first:
                self.rows.append((pod, ci, v, node, t1 - t0, t2 - t1, env.now - t2))

    # -- results --------------------------------------------------------------------

    def contribute(self) -> Contribution:
        vs = self.vs
        pods = self.state.pods
        names = self.state.nodes.names
        mounts = pd.DataFrame({
            "pod": pd.Series([pods.names[r[0]] for r in self.rows], dtype="string"),
            "claim": pd.Series([vs.claims[r[1]].name for r in self.rows], dtype="string"),
            "volume": pd.Series([vs.volumes[r[2]].name for r in self.rows], dtype="string"),
            "node": pd.Series([names[r[3]] for r in self.rows], dtype="string"),
            "provisioning_wait_s": np.array([r[4] for r in self.rows], dtype=np.float64),
            "multi_attach_wait_s": np.array([r[5] for r in self.rows], dtype=np.float64),
            "attach_s": np.array([r[6] for r in self.rows], dtype=np.float64),
        })
        claims = pd.DataFrame({
            "claim": pd.Series([c.name for c in vs.claims], dtype="string"),
            "namespace": pd.Series([c.namespace for c in vs.claims], dtype="string"),
            "storage_class": pd.Series([c.storage_class for c in vs.claims], dtype="string"),
            "request_bytes": np.array([c.request for c in vs.claims], dtype=np.int64),
            "volume": pd.Series([vs.volumes[c.volume].name if c.volume >= 0 else "" for c in vs.claims],
                                dtype="string"),
            "zone": pd.Series(["__".join(vs.volumes[c.volume].zones) if c.volume >= 0 else "" for c in vs.claims],
                              dtype="string"),
            "pending_reason": pd.Series([c.unbindable for c in vs.claims], dtype="string"),
            "created": np.array([c.created for c in vs.claims], dtype=np.float64),
            "deleted": np.array([c.deleted_at if c.deleted else np.nan for c in vs.claims], dtype=np.float64),
        })
        volumes = pd.DataFrame({
            "volume": pd.Series([v.name for v in vs.volumes], dtype="string"),
            "storage_class": pd.Series([v.storage_class for v in vs.volumes], dtype="string"),
            "capacity_bytes": np.array([v.capacity for v in vs.volumes], dtype=np.int64),
            "zone": pd.Series(["__".join(v.zones) for v in vs.volumes], dtype="string"),
            "provisioned": np.array([v.provisioned for v in vs.volumes], dtype=bool),
            "reclaim_policy": pd.Series([v.reclaim for v in vs.volumes], dtype="string"),
            "claim": pd.Series([vs.claims[v.claim].name if v.claim >= 0 else "" for v in vs.volumes],
                               dtype="string"),
            "phase": pd.Series([_phase(v) for v in vs.volumes], dtype="string"),
        })
        wait = mounts["provisioning_wait_s"] + mounts["multi_attach_wait_s"] + mounts["attach_s"]
        summary = {
            "claims_unbound_at_end": int((claims["volume"] == "").sum()),
            "volume_wait_mean_s": float(wait.mean()) if len(wait) else float("nan"),
            "multi_attach_wait_max_s": float(mounts["multi_attach_wait_s"].max()) if len(mounts) else float("nan"),
        }
        return Contribution(frames={"volume_mounts": mounts, "claims": claims, "volumes": volumes}, summary=summary)


def _phase(v: Volume) -> str:
    """The PersistentVolume's ``status.phase`` at the end (``Deleted``: removed under the
    Delete reclaim policy)."""
    if v.deleted:
        return "Deleted"
    if v.released:
        return "Released"
    return "Bound" if v.claim >= 0 else "Available"
