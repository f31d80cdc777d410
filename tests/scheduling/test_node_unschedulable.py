"""NodeUnschedulable: upstream plugins/nodeunschedulable/node_unschedulable.go (Filter):
a cordoned node rejects a pod unless the pod tolerates the
``node.kubernetes.io/unschedulable:NoSchedule`` taint; k8sim also filters NotReady nodes
(upstream's not-ready NoSchedule taint), for every pod."""

from __future__ import annotations

import pytest
from builders import make_pod, make_state, node

from k8sim.cluster import ops
from k8sim.config.pods import Toleration
from k8sim.scheduling.plugins.node_unschedulable import NodeUnschedulable


@pytest.mark.parametrize(("tolerations", "expected"), [
    # TestNodeUnschedulable cases: no toleration -> the cordoned node is out.
    ((), [True, False, False]),
    # Tolerates node.kubernetes.io/unschedulable:NoSchedule -> the cordoned node is in.
    ((Toleration(key="node.kubernetes.io/unschedulable", operator="Exists", effect="NoSchedule"),),
     [True, True, False]),
    # An empty key with Exists tolerates every taint, this one included.
    ((Toleration(operator="Exists"),), [True, True, False]),
    # The wrong effect does not tolerate it.
    ((Toleration(key="node.kubernetes.io/unschedulable", operator="Exists", effect="NoExecute"),),
     [True, False, False]),
])
def test_cordoned_and_not_ready(tolerations, expected):
    state = make_state([node("ok", cpu="4", memory="8Gi"), node("cordoned", cpu="4", memory="8Gi"),
                        node("notready", cpu="4", memory="8Gi")])
    ops.set_unschedulable(state, 1, True)
    ops.set_ready(state, 2, False)
    pod = make_pod(state, {"cpu": "1"}, tolerations=tolerations)
    assert NodeUnschedulable().filter(state, pod).tolist() == expected
