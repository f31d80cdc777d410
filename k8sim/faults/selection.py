"""Node selections (:class:`~k8sim.config.faults.NodeSelection`) resolved against the
node table, and checked against it with messages that name what does not exist."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.constants import POOL_LABEL, ZONE_LABEL

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.config.faults import NodeSelection


def _labels(sel: NodeSelection) -> dict[str, str]:
    out = dict(sel.labels)
    if sel.pool is not None:
        out[POOL_LABEL] = sel.pool
    if sel.zone is not None:
        out[ZONE_LABEL] = sel.zone
    return out


def select_nodes(state: ClusterState, sel: NodeSelection, present_only: bool = True) -> np.ndarray:
    """Columns of the nodes matching ``sel`` (those not removed, with ``present_only``),
    in column order."""
    nt = state.nodes
    mask = np.ones(nt.n, dtype=bool)
    if present_only:
        mask &= np.isinf(nt.removed_at)
    if sel.names is not None:
        named = np.zeros(nt.n, dtype=bool)
        for name in sel.names:
            i = nt.name_index.get(name)
            if i is not None:
                named[i] = True
        mask &= named
    for key, value in _labels(sel).items():
        codes = nt.labels.get(key)
        if codes is None:
            return np.zeros(0, dtype=np.int64)
        mask &= codes == nt.label_code(key, value)
    return np.flatnonzero(mask)


def node_matches(state: ClusterState, sel: NodeSelection, node: int) -> bool:
    """Whether node column ``node`` matches ``sel``."""
    nt = state.nodes
    if sel.names is not None and nt.names[node] not in sel.names:
        return False
    for key, value in _labels(sel).items():
        codes = nt.labels.get(key)
        if codes is None or codes[node] != nt.label_code(key, value):
            return False
    return True


def _values(state: ClusterState, key: str) -> list[str]:
    return sorted(state.nodes.label_values.get(key, {}))


def check_selection(state: ClusterState, sel: NodeSelection, where: str) -> list[tuple[str, str]]:
    """(field path, message) of every criterion of ``sel`` that names something the
    cluster does not have, or of the selection if it matches no node."""
    nt = state.nodes
    problems: list[tuple[str, str]] = []
    if sel.names is not None:
        for i, name in enumerate(sel.names):
            if name not in nt.name_index:
                problems.append((f"{where}.names[{i}]", f"no node named {name!r}"))
    if sel.pool is not None and sel.pool not in _values(state, POOL_LABEL):
        problems.append((f"{where}.pool", f"no node pool named {sel.pool!r}; pools: {_values(state, POOL_LABEL)}"))
    if sel.zone is not None and sel.zone not in _values(state, ZONE_LABEL):
        zones = _values(state, ZONE_LABEL)
        problems.append((f"{where}.zone", f"no node is in zone {sel.zone!r}; zones: {zones or 'none (no node has a zone)'}"))
    for key, value in sel.labels.items():
        if key not in nt.labels:
            problems.append((f"{where}.labels.{key}", f"no node has the label {key!r}"))
        elif value not in nt.label_values[key]:
            problems.append((f"{where}.labels.{key}",
                             f"no node has {key}={value}; values of {key}: {_values(state, key)}"))
    if not problems and select_nodes(state, sel).size == 0:
        problems.append((where, f"no node matches ({sel.describe()})"))
    return problems
