"""TaintToleration (Filter): a node passes unless it has a NoSchedule or NoExecute taint
that the pod does not tolerate.

Mirrors upstream ``plugins/tainttoleration/taint_toleration.go`` (Filter) and
``ToleratesTaint`` in ``k8s.io/api/core/v1/toleration.go``: an empty toleration key with
``Exists`` matches every key, an empty effect matches every effect, ``Equal`` compares
values. PreferNoSchedule only affects scoring, which comes with the scheduling framework.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.scheduling.plugins.base import FilterPlugin

if TYPE_CHECKING:
    from k8sim.cluster.nodes import TaintSpec
    from k8sim.cluster.ops import ClusterState
    from k8sim.config.scenario import Toleration
    from k8sim.scheduling.podinfo import PodInfo

HARD_EFFECTS = ("NoSchedule", "NoExecute")


def tolerates(toleration: Toleration, taint: TaintSpec) -> bool:
    """Upstream ``Toleration.ToleratesTaint``."""
    if toleration.effect and toleration.effect != taint.effect:
        return False
    if toleration.key and toleration.key != taint.key:
        return False
    if toleration.operator == "Exists":
        return True
    return toleration.value == taint.value


class TaintToleration(FilterPlugin):
    name = "TaintToleration"
    reason = "node(s) had untolerated taint"

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        nodes = state.nodes
        cached = pod.mask_cache.get(self.name)
        if cached is not None and cached[0] == nodes.version:
            return cached[1]
        bad = [
            t
            for t, spec in enumerate(nodes.taint_specs)
            if spec.effect in HARD_EFFECTS and not any(tolerates(tl, spec) for tl in pod.tolerations)
        ]
        if bad:
            mask = ~nodes.taints[bad].any(axis=0)
        else:
            mask = np.ones(nodes.n, dtype=bool)
        pod.mask_cache[self.name] = (nodes.version, mask)
        return mask
