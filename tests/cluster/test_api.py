"""The Cluster API and the watch bus (k8sim/cluster/api.py, k8sim/cluster/watch.py).

Each API call mutates the tables, appends the log row and publishes one event, in that
order: the handlers below look at the tables and the log when the event arrives.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from builders import make_pod, make_state, node

from k8sim.cluster import ops
from k8sim.cluster.api import ClusterAPI
from k8sim.cluster.nodes import TaintSpec
from k8sim.cluster.pods import BOUND, FAILED, OWNER_KINDS, PENDING, SUCCEEDED
from k8sim.cluster.watch import (
    EVENT_TYPES,
    NodeAdded,
    NodeRemoved,
    PodAdded,
    PodBound,
    PodDeleted,
    PodDeleting,
    WatchBus,
)


def api_with(n_nodes: int = 2) -> ClusterAPI:
    state = make_state([node(f"n{i}", cpu="4", memory="8Gi") for i in range(n_nodes)])
    return ClusterAPI(simpy.Environment(), state)


def new_pod(api: ClusterAPI, name: str = "p", cpu: str = "1", **kw) -> int:
    info = make_pod(api.state, {"cpu": cpu, "memory": "1Gi"})
    return api.create_pod(name=name, requests=info.requests, workload=0, index=0, shape=info.shape, priority=0,
                          duration=np.inf, start_latency=0.0, **kw)


def watch_all(api: ClusterAPI) -> list:
    seen: list = []
    for t in EVENT_TYPES:
        api.bus.subscribe(t, lambda e, seen=seen: seen.append((e, len(api.log), api.log.kind[-1] if len(api.log) else "")))
    return seen


def test_create_bind_terminate_publish_after_the_table_and_the_log():
    api = api_with()
    seen = watch_all(api)
    phases = []
    api.bus.subscribe(PodBound, lambda e: phases.append(int(api.state.pods.phase[e.pod])))
    pod = new_pod(api)
    api.bind(pod, 1)
    api.set_running(pod)
    api.terminate(pod, SUCCEEDED)
    kinds = [(type(e).__name__, n, last) for e, n, last in seen]
    # One event per call, each after its own log row (the log grew by one before it).
    assert kinds == [("PodAdded", 1, "PodCreated"), ("PodBound", 2, "Scheduled"), ("PodRunning", 3, "Started"),
                     ("PodTerminated", 4, "Completed")]
    assert phases == [BOUND]  # the handler saw the bound table
    term = seen[-1][0]
    assert (term.pod, term.node, term.phase, term.reason) == (pod, 1, SUCCEEDED, "Completed")
    ops.check_invariants(api.state)
    assert api.state.nodes.requested[0, 1] == 0  # 1000m released


def test_delivery_is_in_subscription_order_and_synchronous():
    bus = WatchBus()
    order = []
    bus.subscribe(NodeAdded, lambda e: order.append(("a", e.node)))
    bus.subscribe(NodeAdded, lambda e: order.append(("b", e.node)))
    bus.subscribe(NodeRemoved, lambda e: order.append(("other", e.node)))
    bus.publish(NodeAdded(3))
    assert order == [("a", 3), ("b", 3)]
    with pytest.raises(TypeError):
        bus.subscribe(int, lambda e: None)


def test_delete_pending_pod_leaves_at_once():
    api = api_with()
    seen = watch_all(api)
    pod = new_pod(api)
    assert api.delete_pod(pod, 30.0, "ScaledDown")
    ev, _, last = seen[-1]
    assert isinstance(ev, PodDeleted) and ev.reason == "ScaledDown" and last == "Deleted"
    assert api.state.pods.phase[pod] == FAILED and api.state.pods.finished[pod] == 0.0
    assert not api.delete_pod(pod)  # gone already


def test_delete_bound_pod_asks_its_kubelet_and_writes_no_row():
    api = api_with()
    pod = new_pod(api)
    api.bind(pod, 0)
    seen = watch_all(api)
    rows = len(api.log)
    assert api.delete_pod(pod, 5.0, "Preempted")
    [(ev, n, _)] = seen
    assert isinstance(ev, PodDeleting) and (ev.node, ev.grace_s, ev.reason) == (0, 5.0, "Preempted")
    assert n == rows  # no log row: the kubelet logs Killing when it acts
    assert pod in api.state.terminating and api.state.pods.phase[pod] == BOUND  # still holds its resources
    assert not api.delete_pod(pod)  # already terminating: no second event
    api.terminate(pod, FAILED, "Preempted")
    assert pod not in api.state.terminating and api.log.kind[-1] == "Preempted"


def test_terminate_rejects_a_non_final_phase():
    api = api_with()
    pod = new_pod(api)
    api.bind(pod, 0)
    with pytest.raises(ops.InvariantError):
        api.terminate(pod, PENDING)


def test_update_node_cordon_labels_taints_one_event_each_and_caches_invalidated():
    api = api_with()
    seen = watch_all(api)
    version, generation = api.state.nodes.version, api.state.generation
    taint = TaintSpec("dedicated", "ml", "NoSchedule")
    api.update_node(1, unschedulable=True, labels={"disk": "ssd"}, taints=[taint])
    assert [(type(e).__name__, e.what) for e, _, _ in seen] == [
        ("NodeUpdated", "unschedulable"), ("NodeUpdated", "labels"), ("NodeUpdated", "taints")]
    nt = api.state.nodes
    assert nt.unschedulable.tolist() == [False, True]
    assert nt.node_labels(1) == {"disk": "ssd"} and nt.node_labels(0) == {}
    assert nt.taints[nt.taint_index[taint]].tolist() == [False, True]
    assert nt.version == version + 3 and api.state.generation == generation + 3
    api.update_node(1, taints=[])
    assert not nt.taints[:, 1].any()


def test_removed_node_passes_no_filter_even_without_node_unschedulable():
    from k8sim.scheduling.framework import Profile
    from k8sim.scheduling.registry import get

    api = api_with(3)
    api.remove_node(1)
    assert api.state.nodes.removed_at[1] == 0.0 and api.log.kind[-1] == "NodeRemoved"
    fit = get("NodeResourcesFit")()  # a profile that does not check cordons or readiness
    prof = Profile("p", [fit], [], np.random.default_rng(0))
    info = make_pod(api.state, {"cpu": "1"})
    assert prof.feasible_mask(api.state, info).tolist() == [True, False, True]
    with pytest.raises(ops.InvariantError):
        api.remove_node(1)


def test_owner_columns_are_kept():
    api = api_with()
    rs = OWNER_KINDS.index("ReplicaSet")
    a = new_pod(api, "a", owner_kind=rs, owner=7)
    b = new_pod(api, "b")
    pods = api.state.pods
    assert (pods.owner_kind[a], pods.owner[a]) == (rs, 7)
    assert pods.owner_kind[b] == 0


def test_preassigned_pod_is_not_queued_by_the_scheduler():
    api = api_with()
    added = []
    api.bus.subscribe(PodAdded, lambda e: added.append(e.node))
    new_pod(api, "a")
    new_pod(api, "b", node=1)
    assert added == [-1, 1]




def test_node_labels_decode_codes_of_many_values_and_follow_new_ones():
    """Label values are decoded through the key's vocabulary (code -> value), which
    follows values interned later (a relabelled node)."""
    state = make_state([node(f"n{i}", labels={"host": f"n{i}", "zone": "abc"[i % 3]}, cpu="4")
                        for i in range(50)])
    api = ClusterAPI(simpy.Environment(), state)
    nt = state.nodes
    assert [nt.node_labels(i) for i in (0, 4, 49)] == [
        {"host": "n0", "zone": "a"}, {"host": "n4", "zone": "b"}, {"host": "n49", "zone": "b"}]
    api.update_node(7, labels={"host": "n7", "zone": "d"})
    assert nt.node_labels(7) == {"host": "n7", "zone": "d"}
    assert nt.label_names("zone") == ["a", "b", "c", "d"]


def test_a_handler_subscribed_after_the_api_was_made_gets_the_per_pod_events():
    """The API keeps the bus's live handler lists for its per-pod events (it builds an
    event only when someone watches): a subscription made later, even between two
    calls, is delivered from then on, in subscription order."""
    from k8sim.cluster.watch import PodRunning, PodTerminated

    api = api_with()
    first, second = new_pod(api, "a"), new_pod(api, "b")
    got: list[tuple[str, int]] = []
    api.bus.subscribe(PodBound, lambda e: got.append(("bound", e.pod)))
    api.bind(first, 0)
    api.bus.subscribe(PodRunning, lambda e: got.append(("running", e.pod)))
    api.bus.subscribe(PodRunning, lambda e: got.append(("running-2", e.pod)))
    api.set_running(first)
    api.bus.subscribe(PodTerminated, lambda e: got.append((e.reason, e.node)))
    api.terminate(first, SUCCEEDED)
    api.bind(second, 1)
    assert got == [("bound", first), ("running", first), ("running-2", first), ("Completed", 0), ("bound", second)]
    assert api.bus.handlers(PodRunning) is api.bus.handlers(PodRunning)
    assert len(api.bus.handlers(PodRunning)) == api.bus.subscribers(PodRunning) == 2
