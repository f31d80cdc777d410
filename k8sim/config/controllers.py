"""The ``controllers`` section and the manifest workload entry.

Controllers (ReplicaSet, Deployment, StatefulSet, DaemonSet) run when the scenario has
workloads read from Kubernetes manifests (``workloads: [{manifest: app.yaml}]``) or a
SimKube trace replayed through them. Each controller reconciles an object a *reaction
latency* after a watch event concerning it (see :class:`ControllerSettings`).
"""

from __future__ import annotations

from pydantic import Field

from k8sim.config.base import Strict
from k8sim.config.distributions import Distribution

__all__ = ["ControllerSettings", "ControllerTiming"]


def _zero() -> dict:
    return {"kind": "constant", "value": 0.0}


class ControllerTiming(Strict):
    """How one controller reacts.

    Upstream controllers put the object's key on a work queue from their informers'
    event handlers and a worker syncs it at once (``pkg/controller/replicaset/
    replica_set.go``: ``addPod``/``updatePod``/``deletePod`` -> ``enqueueRS``;
    ``processNextWorkItem``): there is no designed-in delay, only watch propagation and
    queue processing (milliseconds). The default is therefore 0 s; keys are still
    de-duplicated as upstream's queue does (every event of one instant leads to one
    sync, after all of them). Set a distribution to model a slow control plane; it is
    drawn per sync from a stream keyed by the controller and the object, so two
    policies run on one seed see the same latencies for the same object.
    """

    reaction_latency: Distribution = Field(default_factory=_zero)  # type: ignore[assignment]


class ControllerSettings(Strict):
    """Per-controller reaction latencies (see :class:`ControllerTiming`)."""

    replicaset: ControllerTiming = ControllerTiming()
    deployment: ControllerTiming = ControllerTiming()
    statefulset: ControllerTiming = ControllerTiming()
    daemonset: ControllerTiming = ControllerTiming()
