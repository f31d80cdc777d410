"""NodeAdd with upstream's QueueingHints (kube-scheduler v1.32+).

Upstream: ``pkg/scheduler/backend/queue/scheduling_queue.go`` ``isPodWorthRequeuing``
(Queue if any rejecting plugin's hint for the event says Queue), and the node-local
plugins' NodeAdd hints: NodeResourcesFit ``isSchedulableAfterNodeChange``
(``noderesources/fit.go``, ``isFit`` on an empty NodeInfo of the new node; cases as in
``fit_test.go`` ``Test_isSchedulableAfterNodeChange``: "node was added but it doesn't
have enough resource" -> QueueSkip, "node was added and has enough resource" ->
Queue), TaintToleration ``isSchedulableAfterNodeChange`` (``tainttoleration/
taint_toleration.go``: an added node whose taints the pod does not tolerate ->
QueueSkip), NodeAffinity ``isSchedulableAfterNodeChange`` (``nodeaffinity/
node_affinity.go``: an added node that does not match -> QueueSkip).

Each test: a pod that cannot be placed waits in unschedulablePods (one attempt, at
t = 1); a node is added at t = 100; the pod is retried at once only if the hint says
Queue. Nothing else happens before the 5-minute leftover flush (t > 300).
"""

from __future__ import annotations

import numpy as np

from k8sim.cluster.nodes import TaintSpec
from k8sim.config.scenario import Scenario
from k8sim.constants import HOSTNAME_LABEL
from k8sim.sim.simulation import Simulation


def _sim(template: dict) -> Simulation:
    return Simulation(Scenario.model_validate({
        "version": 1, "seed": 1, "duration_s": 250,
        "cluster": {"node_pools": [{"name": "small", "count": 1, "allocatable": {"cpu": "2", "memory": "8Gi"}}]},
        "workloads": [{"name": "big", "arrival": {"kind": "burst", "count": 1, "at_s": 1},
                       "template": template, "duration": {"kind": "constant", "value": 1000}}],
    }))


def _add(sim: Simulation, name: str, cpu: int, labels: dict | None = None, taints: list | None = None) -> int:
    st = sim.state
    alloc = st.resources.vector({"cpu": cpu * 1000, "memory": 8 * 2**30, "pods": 110})
    return sim.api.add_node(name=name, allocatable=np.asarray(alloc), labels={HOSTNAME_LABEL: name, **(labels or {})},
                            taints=taints or [])


def _attempts_after_node_add(template: dict, **node: object) -> tuple[int, int, float]:
    sim = _sim(template)
    sim.run_until(50)
    pods = sim.state.pods
    before = int(pods.attempts[0])
    sim.run_until(100)
    _add(sim, "added", **node)  # type: ignore[arg-type]
    sim.run_until(200)
    return before, int(pods.attempts[0]), float(pods.scheduled[0])


def test_node_resources_fit_skips_a_node_too_small_for_the_pod() -> None:
    # 4 CPU do not fit the 2-CPU node: one failed attempt at t = 1. A 3-CPU node added
    # at 100 cannot hold the pod either (isFit: 4000m > 3000m allocatable): QueueSkip,
    # no new attempt. (Before QueueingHints every NodeAdd retried it.)
    before, after, scheduled = _attempts_after_node_add({"requests": {"cpu": "4"}}, cpu=3)
    assert (before, after) == (1, 1) and np.isnan(scheduled)


def test_node_resources_fit_queues_a_node_that_fits() -> None:
    # An 8-CPU node can hold it: Queue, the pod is retried at 100 and bound there.
    before, after, scheduled = _attempts_after_node_add({"requests": {"cpu": "4"}}, cpu=8)
    assert (before, after, scheduled) == (1, 2, 100.0)


def test_taint_toleration_skips_an_untolerated_new_node() -> None:
    # The pod fits (1 CPU) but the only node is tainted; a new node with another
    # untolerated taint: QueueSkip. One with no taint: Queue and bound.
    base = {"requests": {"cpu": "1"}}
    t = TaintSpec("dedicated", "gpu", "NoSchedule")

    sim = _sim(base)
    sim.api.update_node(0, taints=[TaintSpec("maintenance", "", "NoSchedule")])
    sim.run_until(100)
    assert int(sim.state.pods.attempts[0]) == 1
    _add(sim, "tainted", cpu=8, taints=[t])
    sim.run_until(150)
    assert int(sim.state.pods.attempts[0]) == 1
    _add(sim, "clean", cpu=8)
    sim.run_until(200)
    assert int(sim.state.pods.attempts[0]) == 2 and float(sim.state.pods.scheduled[0]) == 150.0


def test_node_affinity_skips_a_node_that_does_not_match() -> None:
    template = {"requests": {"cpu": "1"}, "nodeSelector": {"tier": "gold"}}
    before, after, scheduled = _attempts_after_node_add(template, cpu=8, labels={"tier": "silver"})
    assert (before, after) == (1, 1) and np.isnan(scheduled)
    before, after, scheduled = _attempts_after_node_add(template, cpu=8, labels={"tier": "gold"})
    assert (before, after, scheduled) == (1, 2, 100.0)


def test_any_rejecting_plugin_that_queues_moves_the_pod() -> None:
    # Rejected by NodeAffinity (the only node lacks the label) and the new node has the
    # label but not the room: NodeAffinity's hint says Queue (it matches), so the pod is
    # retried even though NodeResourcesFit rejects it there (isPodWorthRequeuing: any
    # Queue wins); it fails again, now charged to NodeResourcesFit.
    template = {"requests": {"cpu": "4"}, "nodeSelector": {"tier": "gold"}}
    before, after, scheduled = _attempts_after_node_add(template, cpu=3, labels={"tier": "gold"})
    assert (before, after) == (1, 2) and np.isnan(scheduled)


def test_a_pod_rejected_by_a_plugin_that_looks_at_other_nodes_is_still_queued() -> None:
    # InterPodAffinity reads the pods of other nodes; its own NodeAdd hint is not
    # modelled, so a pod it rejected is queued on every NodeAdd, as before hints. The
    # pod requires a pod labelled app=db on its node and there is none: rejected; a new
    # node (which has room) retries it, and it fails again.
    template = {"requests": {"cpu": "1"}, "labels": {"app": "web"},
                "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}]}}}
    sim = _sim(template)
    sim.run_until(100)
    assert sim.scheduler.queue.unschedulable[0][1] == frozenset({"InterPodAffinity"})
    before, after, scheduled = _attempts_after_node_add(template, cpu=8)
    assert (before, after) == (1, 2) and np.isnan(scheduled)
