"""NodePorts (Filter): a node fails if a pod bound there already uses a host port the
pod wants.

Mirrors upstream ``plugins/nodeports/node_ports.go`` (``PreFilter`` skips pods without
host ports, ``fitsPorts``) and ``HostPortInfo.CheckConflict`` in the framework types:
two ``(hostIP, protocol, hostPort)`` entries conflict when port and protocol are
equal and the host IPs are equal or either is ``0.0.0.0`` (an empty hostIP means
``0.0.0.0``, an empty protocol TCP; ports <= 0 never conflict).

Vectorised through pod shapes: for the pod's shape, the list of shapes whose host
ports conflict with its own is built by scanning the registered shapes once (and
extended incrementally as new shapes register); a node conflicts when any of those
count groups has a bound pod there (``group_counts[conflicting].any(axis=0)``).

A k8sim pod's host ports are its ``ports``; from a snapshot, the ports with a
``hostPort`` of the containers and of the sidecar (``restartPolicy: Always``) init
containers, for pending and bound pods alike, as upstream's ``schedutil.GetHostPorts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np

from k8sim.scheduling.plugins.base import FilterPlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"
_CACHE_KEY = "NodePorts/conflicting-shapes"

HostPort = tuple[str, str, int]  # (protocol, hostIP, hostPort), as PodInfo.host_ports


@dataclass(slots=True)
class _Conflicts:
    """Per pod shape: the count groups scanned so far and those with a conflicting port."""

    scanned: int = 0
    found: list[int] = field(default_factory=list)


def ports_conflict(want: HostPort, used: HostPort) -> bool:
    """``HostPortInfo.CheckConflict`` for one wanted and one used (protocol, ip, port)."""
    proto_w, ip_w, port_w = want
    proto_u, ip_u, port_u = used
    if port_w <= 0 or port_u <= 0 or port_w != port_u:
        return False
    if (proto_w or "TCP") != (proto_u or "TCP"):
        return False
    ip_w = ip_w or DEFAULT_BIND_ALL_HOST_IP
    ip_u = ip_u or DEFAULT_BIND_ALL_HOST_IP
    return ip_w == DEFAULT_BIND_ALL_HOST_IP or ip_u == DEFAULT_BIND_ALL_HOST_IP or ip_w == ip_u


class NodePorts(FilterPlugin):
    name = "NodePorts"
    node_local = True  # the node's own column only (incremental caches)
    skips_without = ("ports",)  # PreFilter Skip without host ports
    events = frozenset({"PodDelete", "NodeAdd"})
    reason = "node(s) didn't have free ports for the requested pod ports"
    summary = "host port conflicts with pods bound on the node"

    def conflicting_shapes(self, state: ClusterState, pod: PodInfo) -> list[int]:
        """Count groups with a host port that conflicts with one of the pod's (incremental)."""
        want = pod.host_ports
        entry: _Conflicts | None = pod.cache.get(_CACHE_KEY)
        if entry is None:
            entry = pod.cache[_CACHE_KEY] = _Conflicts()
        shapes = state.groups
        for s in range(entry.scanned, len(shapes)):
            used = shapes[s].host_ports
            if used and any(ports_conflict(w, u) for w in want for u in used):
                entry.found.append(s)
        entry.scanned = len(shapes)
        return entry.found

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        return bool(pod.host_ports)  # upstream PreFilter: Skip without host ports

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        n = state.nodes.n
        if not pod.host_ports:  # upstream PreFilter: Skip
            return np.ones(n, dtype=bool)
        conflicting = self.conflicting_shapes(state, pod)
        if not conflicting:
            return np.ones(n, dtype=bool)
        # 2-D in, so bool[N] out (numpy's stubs cannot tell from the shape)
        return cast(np.ndarray, ~(state.group_counts[conflicting] > 0).any(axis=0))

    def filter_nodes(self, state: ClusterState, pod: PodInfo, nodes: np.ndarray) -> np.ndarray:
        conflicting = self.conflicting_shapes(state, pod) if pod.host_ports else []
        if not conflicting:
            return np.ones(nodes.size, dtype=bool)
        return cast(np.ndarray, ~(state.group_counts[:, nodes][conflicting] > 0).any(axis=0))
