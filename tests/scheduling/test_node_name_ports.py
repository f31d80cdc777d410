"""NodeName and NodePorts filters.

Cases mirror upstream pkg/scheduler/framework/plugins/nodename/node_name_test.go
(TestNodeName) and pkg/scheduler/framework/plugins/nodeports/node_ports_test.go
(TestNodePorts, TestFits). Upstream builds one NodeInfo holding one existing pod with
the given host ports, written "PROTOCOL/hostIP/hostPort". k8sim's ContainerPort needs a
containerPort, so it is set equal to the hostPort (it plays no part in the check).
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.cluster import ops
from k8sim.config.k8s_types import ContainerPort
from k8sim.scheduling.plugins.node_name import NodeName
from k8sim.scheduling.plugins.node_ports import NodePorts, ports_conflict


def ports(*specs: str) -> tuple[ContainerPort, ...]:
    out = []
    for spec in specs:
        proto, ip, port = spec.split("/")
        out.append(ContainerPort(containerPort=int(port), hostPort=int(port), protocol=proto, hostIP=ip))
    return tuple(out)


def bind_with_ports(state, node_name: str, *specs: str) -> None:
    """Bind an existing pod with the given host ports (as builders.make_state binds pods)."""
    info = make_pod(state, {}, ports=ports(*specs))
    i = state.pods.n
    p = state.pods.append(name=f"ported-{i}", requests=info.requests, workload=-1, index=i,
                          shape=info.shape, priority=0, created=0.0, duration=np.inf, start_latency=0.0)
    ops.bind(state, p, state.nodes.name_index[node_name], 0.0)


# ----------------------------------------------------------------------- NodeName


@pytest.mark.parametrize(
    "pod_node_name, node_name, fits",
    [
        (None, "foo", True),   # TestNodeName "no host specified"
        ("foo", "foo", True),  # "host matches"
        ("bar", "foo", False),  # "host doesn't match"
    ],
)
def test_node_name(pod_node_name, node_name, fits):
    state = make_state([node(node_name, cpu="1", memory="1Gi")])
    pod = make_pod(state, {}, node_name=pod_node_name)
    plugin = NodeName()
    assert plugin.filter(state, pod).tolist() == [fits]
    if not fits:
        assert plugin.reasons(state, pod, np.array([0])) == {"node(s) didn't match the requested node name": 1}


def test_node_name_selects_one_of_many():
    # Only the named node passes; a name that no node has rejects every node.
    state = make_state([node("a", cpu="1", memory="1Gi"), node("b", cpu="1", memory="1Gi"),
                        node("c", cpu="1", memory="1Gi")])
    assert NodeName().filter(state, make_pod(state, {}, node_name="b")).tolist() == [False, True, False]
    assert NodeName().filter(state, make_pod(state, {}, node_name="zz")).tolist() == [False, False, False]


# ----------------------------------------------------------------------- NodePorts


@pytest.mark.parametrize(
    "name, wanted, existing, fits",
    [
        # TestNodePorts, case names as upstream (wanted ports, the existing pod's ports):
        ("skip filter", (), (), True),  # no ports -> PreFilter Skip
        ("other port", ("UDP/127.0.0.1/8080",), ("UDP/127.0.0.1/9090",), True),
        ("same udp port", ("UDP/127.0.0.1/8080",), ("UDP/127.0.0.1/8080",), False),
        ("same tcp port", ("TCP/127.0.0.1/8080",), ("TCP/127.0.0.1/8080",), False),
        ("different host ip", ("TCP/127.0.0.1/8080",), ("TCP/127.0.0.2/8080",), True),
        ("different protocol", ("UDP/127.0.0.1/8080",), ("TCP/127.0.0.1/8080",), True),
        ("second udp port conflict", ("UDP/127.0.0.1/8000", "UDP/127.0.0.1/8080"), ("UDP/127.0.0.1/8080",), False),
        ("first tcp port conflict", ("TCP/127.0.0.1/8001", "UDP/127.0.0.1/8080"),
         ("TCP/127.0.0.1/8001", "UDP/127.0.0.1/8081"), False),
        # a wanted 0.0.0.0 conflicts with the same protocol/port on any IP
        ("first tcp port conflict due to 0.0.0.0 hostIP", ("TCP/0.0.0.0/8001",), ("TCP/127.0.0.1/8001",), False),
        ("TCP hostPort conflict due to 0.0.0.0 hostIP", ("TCP/10.0.10.10/8001", "TCP/0.0.0.0/8001"),
         ("TCP/127.0.0.1/8001",), False),
        # an existing 0.0.0.0 conflicts with a wanted specific IP
        ("second tcp port conflict to 0.0.0.0 hostIP", ("TCP/127.0.0.1/8001",), ("TCP/0.0.0.0/8001",), False),
        ("second different protocol", ("UDP/127.0.0.1/8001",), ("TCP/0.0.0.0/8001",), True),
        ("UDP hostPort conflict due to 0.0.0.0 hostIP", ("UDP/127.0.0.1/8001",),
         ("TCP/0.0.0.0/8001", "UDP/0.0.0.0/8001"), False),
        # TestFits, case names as upstream:
        ("non-conflicting ports", ("TCP/127.0.0.1/80",), ("TCP/127.0.0.1/9090",), True),
        ("multiple non-conflicting ports", ("TCP/127.0.0.1/80", "TCP/127.0.1.1/80", "TCP/127.0.1.1/90",
                                            "TCP/127.0.1.1/100"),
         ("TCP/127.0.0.1/9090", "TCP/127.0.0.1/9191", "TCP/127.0.1.1/8080"), True),
        ("same ports on different protocols", ("TCP/127.0.0.1/80",), ("UDP/127.0.0.1/80",), True),
        ("conflicting ports", ("TCP/127.0.0.1/80",), ("TCP/127.0.0.1/80",), False),
        ("multiple ports, some conflicting", ("TCP/127.0.0.1/80", "TCP/127.0.1.1/80", "TCP/127.0.1.1/90",
                                              "TCP/127.0.1.1/100"),
         ("TCP/127.0.0.1/9090", "TCP/127.0.1.1/90", "TCP/127.0.1.1/8080"), False),
    ],
)
def test_node_ports(name, wanted, existing, fits):
    # Node "m1" holds the existing pod (if it has ports); node "free" holds nothing and always fits.
    state = make_state([node("m1", cpu="1", memory="1Gi"), node("free", cpu="1", memory="1Gi")])
    if existing:
        bind_with_ports(state, "m1", *existing)
    pod = make_pod(state, {}, ports=ports(*wanted))
    plugin = NodePorts()
    assert plugin.filter(state, pod).tolist() == [fits, True]
    if not fits:
        assert plugin.reasons(state, pod, np.array([0])) == {
            "node(s) didn't have free ports for the requested pod ports": 1}


def test_node_ports_follow_binds_and_new_shapes():
    # The conflict list is per pod shape and extended as shapes register; counts are read live.
    state = make_state([node("a", cpu="1", memory="1Gi"), node("b", cpu="1", memory="1Gi")])
    pod = make_pod(state, {}, ports=ports("TCP/0.0.0.0/80"))
    plugin = NodePorts()
    assert plugin.filter(state, pod).tolist() == [True, True]
    bind_with_ports(state, "b", "TCP/10.0.0.1/80")  # a new shape, bound on b: conflicts (wanted 0.0.0.0)
    assert plugin.filter(state, pod).tolist() == [True, False]
    bind_with_ports(state, "a", "UDP/10.0.0.1/80")  # another protocol: no conflict
    assert plugin.filter(state, pod).tolist() == [True, False]
    # A pod of the same shape as the incoming one bound on a conflicts with it too.
    i = state.pods.n
    p = state.pods.append(name="twin", requests=pod.requests, workload=-1, index=i, shape=pod.shape,
                          priority=0, created=0.0, duration=np.inf, start_latency=0.0)
    ops.bind(state, p, 0, 0.0)
    assert plugin.filter(state, pod).tolist() == [False, False]


def test_ports_conflict_is_symmetric_in_bind_all():
    assert ports_conflict(("TCP", "0.0.0.0", 80), ("TCP", "1.2.3.4", 80))
    assert ports_conflict(("TCP", "1.2.3.4", 80), ("TCP", "", 80))  # empty hostIP = 0.0.0.0
    assert not ports_conflict(("TCP", "1.2.3.4", 80), ("TCP", "1.2.3.5", 80))
    assert not ports_conflict(("TCP", "0.0.0.0", 0), ("TCP", "0.0.0.0", 0))  # port <= 0 never conflicts
