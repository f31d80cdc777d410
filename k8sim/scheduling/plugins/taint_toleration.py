"""TaintToleration: NoSchedule/NoExecute taints filter; PreferNoSchedule taints score.

Mirrors upstream ``plugins/tainttoleration/taint_toleration.go`` and ``ToleratesTaint``
in ``k8s.io/api/core/v1/toleration.go``: an empty toleration key with ``Exists``
matches every key, an empty effect matches every effect, ``Equal`` compares values.

- Filter: a node passes unless it has a NoSchedule or NoExecute taint that no
  toleration of the pod tolerates.
- Score (``PreScore`` + ``Score``): the number of the node's PreferNoSchedule taints
  not tolerated by the pod's tolerations whose effect is PreferNoSchedule or empty
  (``getAllTolerationPreferNoSchedule``, ``countIntolerableTaintsPreferNoSchedule``);
  PreScore never skips. NormalizeScore is ``DefaultNormalizeScore(100, reverse=True)``:
  fewer intolerable taints score higher.

Both are vectorised over the interned taint matrix (``taints: bool[T, N]``): the taints
a pod does not tolerate are found once per tolerations object (shapes of one template
share it), and the per-node mask / count is kept until the node table's ``version``
moves (:mod:`k8sim.scheduling.plugins.shared`).

The filter's failure is upstream's current one: ``UnschedulableAndUnresolvable`` with
"node(s) had untolerated taint(s)" (the wording since upstream stopped naming the taint
in the message; it logs it at V(4) instead, and releases up to 1.32 said
"node(s) had untolerated taint {key: value}"). ``k8sim explain`` names the untolerated
taints of each node beside the message (:meth:`TaintToleration.node_status`).

Difference from upstream: the alpha ``Gt``/``Lt`` toleration operators (feature gate
``TaintTolerationComparisonOperators``, off by default) are not modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

import numpy as np

from k8sim.scheduling.plugins.base import (
    UNSCHEDULABLE_AND_UNRESOLVABLE,
    FilterPlugin,
    NodeStatus,
    ScorePlugin,
    default_normalize,
)
from k8sim.scheduling.plugins.shared import FieldCache

if TYPE_CHECKING:
    from pydantic import BaseModel

    from k8sim.cluster.nodes import TaintSpec
    from k8sim.cluster.ops import ClusterState
    from k8sim.config.pods import Toleration
    from k8sim.scheduling.podinfo import PodInfo

HARD_EFFECTS = ("NoSchedule", "NoExecute")
PREFER_NO_SCHEDULE = "PreferNoSchedule"


def tolerates(toleration: Toleration, taint: TaintSpec) -> bool:
    """Upstream ``Toleration.ToleratesTaint``."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator == "Exists":
        return True
    return toleration.value == taint.value


def tolerations_prefer_no_schedule(tolerations: tuple[Toleration, ...]) -> list[Toleration]:
    """Upstream ``getAllTolerationPreferNoSchedule``: effect PreferNoSchedule or empty."""
    return [t for t in tolerations if not t.effect or t.effect == PREFER_NO_SCHEDULE]


class TaintToleration(FilterPlugin, ScorePlugin):
    name = "TaintToleration"
    node_local = True  # the node's own labels, taints or conditions only (incremental caches)
    reads_usage = False
    reads_requests = False  # the spec's tolerations / node selection only
    events = frozenset({"NodeAdd", "NodeUpdate"})
    #: Upstream ``Filter``'s reason (current wording).
    reason = "node(s) had untolerated taint(s)"
    unresolvable_reasons = frozenset({reason})
    summary = "taint/toleration filter; fewer intolerable PreferNoSchedule taints score higher"

    def __init__(self, args: BaseModel | None = None) -> None:
        super().__init__(args)
        # The mask and the counts depend on the pod's tolerations alone (and the node
        # table's taints): shared by the shapes with the same tolerations object.
        self._masks = FieldCache()
        self._counts = FieldCache()
        # Whether the counts are one value on every node (uniform_score).
        self._flat = FieldCache()

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        nodes = state.nodes
        entries = self._masks.entries(nodes)
        hit = entries.get(id(pod.tolerations))
        if hit is not None:
            return cast(np.ndarray, hit[1])
        bad = [
            t
            for t, spec in enumerate(nodes.taint_specs)
            if spec.effect in HARD_EFFECTS and not any(tolerates(tl, spec) for tl in pod.tolerations)
        ]
        if bad:
            # 2-D in, so bool[N] out (numpy's stubs cannot tell from the shape)
            mask = cast(np.ndarray, ~nodes.taints[bad].any(axis=0))
        else:
            mask = np.ones(nodes.n, dtype=bool)
        mask.flags.writeable = False  # shared by shapes
        entries[id(pod.tolerations)] = (pod.tolerations, mask)
        return mask

    def node_status(self, state: ClusterState, pod: PodInfo, node: int, reasons: tuple[str, ...]) -> NodeStatus:
        """``UnschedulableAndUnresolvable`` with upstream's reason, and in
        ``details["untolerated_taints"]`` every NoSchedule/NoExecute taint of the node
        that no toleration of the pod tolerates (upstream's ``FindMatchingUntoleratedTaint``
        logs the first of them)."""
        nodes = state.nodes
        taints = [
            {"key": spec.key, "value": spec.value, "effect": spec.effect}
            for spec in nodes.node_taints(node)
            if spec.effect in HARD_EFFECTS and not any(tolerates(tl, spec) for tl in pod.tolerations)
        ]
        return NodeStatus(UNSCHEDULABLE_AND_UNRESOLVABLE, reasons, {"untolerated_taints": taints})

    def intolerable_prefer_no_schedule(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        """int64[N]: count of each node's PreferNoSchedule taints the pod does not tolerate."""
        nodes = state.nodes
        entries = self._counts.entries(nodes)
        hit = entries.get(id(pod.tolerations))
        if hit is not None:
            return cast(np.ndarray, hit[1])
        tols = tolerations_prefer_no_schedule(pod.tolerations)
        bad = [
            t
            for t, spec in enumerate(nodes.taint_specs)
            if spec.effect == PREFER_NO_SCHEDULE and not any(tolerates(tl, spec) for tl in tols)
        ]
        if bad:
            counts = nodes.taints[bad].sum(axis=0, dtype=np.int64)
        else:
            counts = np.zeros(nodes.n, dtype=np.int64)
        counts.flags.writeable = False  # shared by shapes
        entries[id(pod.tolerations)] = (pod.tolerations, counts)
        return counts

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        return self.intolerable_prefer_no_schedule(state, pod)[candidates]

    def uniform_score(self, state: ClusterState, pod: PodInfo) -> bool:
        """True when every node has the same number of PreferNoSchedule taints the pod
        does not tolerate (none, on a cluster without such taints): the normalised
        score is then the same on every candidate (100 when the count is 0, else
        ``100 - c * 100 // c`` = 0). Kept per tolerations object and node-table version,
        as the counts are."""
        nodes = state.nodes
        entries = self._flat.entries(nodes)
        hit = entries.get(id(pod.tolerations))
        if hit is not None:
            return cast(bool, hit[1])
        counts = self.intolerable_prefer_no_schedule(state, pod)
        flat = bool(counts.size == 0 or counts.min() == counts.max())
        entries[id(pod.tolerations)] = (pod.tolerations, flat)
        return flat

    def normalize(self, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        return default_normalize(scores, reverse=True)
