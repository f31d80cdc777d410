"""A custom scheduling policy: nodes in one zone first, then the least allocated CPU.

Score of a candidate node: 51 if it is in ``zone`` (default zone-a), else 0, plus
``49 * (free CPU after placement) // (allocatable CPU)``; so a node in the zone (51..100)
always outranks one outside it (0..49). Use it from a scenario in this directory (the
scenario's directory is searched for plugin modules) or with this directory on
``sys.path``:  ``plugins: [{name: "custom_plugin:PreferZone", weight: 5, args: {zone: zone-b}}]``
"""

import numpy as np

from k8sim.cluster.nodes import CPU
from k8sim.config.k8s_types import K8sModel
from k8sim.constants import ZONE_LABEL
from k8sim.scheduling.plugins.base import ScorePlugin


class PreferZoneArgs(K8sModel):
    zone: str = "zone-a"  # the preferred value of topology.kubernetes.io/zone


class PreferZone(ScorePlugin):
    name = "PreferZone"
    Args = PreferZoneArgs
    args: PreferZoneArgs
    summary = "nodes in one zone first, then the least allocated CPU"

    def score(self, state, pod, candidates):
        nodes = state.nodes  # arrays over all N nodes; index them with the K candidates
        zones = nodes.labels.get(ZONE_LABEL, np.full(nodes.n, -1))
        in_zone = zones[candidates] == nodes.label_code(ZONE_LABEL, self.args.zone)
        alloc = nodes.alloc[CPU, candidates]
        left = np.clip(nodes.free[CPU, candidates] - pod.requests[CPU], 0, alloc)
        return 51 * in_zone + 49 * left // np.maximum(alloc, 1)
