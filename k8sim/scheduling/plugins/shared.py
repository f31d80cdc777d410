"""Arrays over all nodes shared by the pod shapes whose relevant fields are one object.

A plugin's mask or count over all nodes often depends on one or two fields of the pod
(its tolerations; its nodeSelector and required node affinity) and on the node table's
labels and taints, nothing else. Shapes made from one template share those field
objects (a trace whose every pod asks a different amount makes a shape per pod, all
with the template's tolerations and selector), so such an array is computed once per
set of field objects and node-table version, not once per shape, and no shape keeps a
copy of it.

:class:`FieldCache` keys the arrays by the identity of the field objects (an entry keeps
them alive, so an identity is never reused while its entry lives) under the node
table (held weakly) and its ``version`` and size: an entry is valid exactly while the
node table's labels, taints and node set are unchanged, as the plugins' per-shape
caches are (:class:`~k8sim.scheduling.plugins.base.Plugin`).

:class:`CandidateColumns` is the per-cycle counterpart: node columns over one cycle's
candidates, gathered once for every score plugin of the profile that reads them.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from k8sim.cluster.nodes import NodeTable

#: Entries kept per node table before they are dropped all at once (each an array over
#: the nodes: a few MB at 10,000 nodes).
ENTRIES_KEPT = 256
#: Node tables kept (the live cluster's, and copies such as the autoscaler's what-if).
TABLES_KEPT = 4
_MIN_REDUCE = np.minimum.reduce


class FieldCache:
    """Per node table (and its ``version`` and size): ``key -> (kept objects, value)``,
    where ``key`` is built from the ``id`` of the kept objects."""

    __slots__ = ("_tables",)

    def __init__(self) -> None:
        # id(table) -> (weak reference to it, version, size, entries)
        self._tables: dict[int, tuple[weakref.ref[NodeTable], int, int, dict[Any, tuple[Any, Any]]]] = {}

    def entries(self, nodes: NodeTable) -> dict[Any, tuple[Any, Any]]:
        """The entries valid for ``nodes`` as they are now (a fresh, empty dict after the
        table's labels, taints or node set changed); the caller reads and adds entries
        ``key -> (objects the key is made of, value)``."""
        kept = self._tables.get(id(nodes))
        if kept is not None and kept[0]() is nodes and kept[1] == nodes.version and kept[2] == nodes.n:
            entries = kept[3]
            if len(entries) >= ENTRIES_KEPT:
                entries.clear()
            return entries
        if len(self._tables) >= TABLES_KEPT:
            self._tables = {k: v for k, v in self._tables.items() if v[0]() is not None}
            if len(self._tables) >= TABLES_KEPT:
                self._tables.clear()
        entries = {}
        self._tables[id(nodes)] = (weakref.ref(nodes), nodes.version, nodes.n, entries)
        return entries


class CandidateColumns:
    """One scoring cycle's candidates and their allocatable cpu and memory, gathered on
    first use and shared by the score plugins that read them
    (:meth:`~k8sim.scheduling.plugins.base.ScorePlugin.score_with`): NodeResourcesFit and
    NodeResourcesBalancedAllocation both divide by the same two columns, which are then
    gathered (and checked for zeros) once per cycle, not once per plugin.

    Valid for one cycle only: the framework makes one per call of its scoring step, over
    the cycle's ``candidates`` (never modified) and the node table as it is then.
    """

    __slots__ = ("nodes", "candidates", "compiled", "_alloc", "_positive")

    def __init__(self, nodes: NodeTable, candidates: np.ndarray) -> None:
        self.nodes = nodes
        self.candidates = candidates
        #: Whether the cycle takes the compiled kernels (k8sim.scheduling.kernels): the
        #: framework sets it; plugins with a kernel then use it (the same scores).
        self.compiled = False
        self._alloc: np.ndarray | None = None
        self._positive: bool | None = None

    def alloc(self) -> np.ndarray:
        """``int64[2, K]``: allocatable cpu (row 0) and memory (row 1) of the candidates.
        Shared: read it, never write it."""
        alloc = self._alloc
        if alloc is None:
            alloc = self._alloc = self.nodes.alloc[0:2].take(self.candidates, axis=1)
        return alloc

    def positive(self) -> bool:
        """Whether every candidate has allocatable cpu and memory above 0."""
        positive = self._positive
        if positive is None:
            alloc = self.alloc()
            # The ufunc's reduce itself (ndarray.min adds a Python wrapper).
            positive = self._positive = bool(alloc.size == 0 or _MIN_REDUCE(alloc, None) > 0)
        return positive
