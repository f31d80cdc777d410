"""Images the nodes report in ``status.images``, for ImageLocality without a runtime model.

A real cluster's snapshot lists, per node, the images it holds (each with its names and
``sizeBytes``). kube-scheduler's cache turns them into ``ImageStateSummary`` entries
keyed by *name* (``cache.addNodeImageStates`` in ``pkg/scheduler/backend/cache``): the
size is the one of the first node that reported the name, and ``NumNodes`` the number of
nodes that list it. :class:`NodeImageStatus` holds the same as arrays: ``present[I, N]``
(node ``n`` lists name ``i``), ``sizes[I]`` and ``num_nodes[I]``.

Static: nothing pulls or collects images here (a scenario with an ``images`` section has
the image store of :mod:`k8sim.runtime.store` instead).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState

_ATTR = "node_image_status"


class NodeImageStatus:
    """Image names per node with their sizes (see the module docstring)."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.sizes: list[int] = []
        self._nodes: list[set[int]] = []
        self._cache: tuple[int, np.ndarray, np.ndarray] | None = None

    def add(self, node: int, images: list[tuple[tuple[str, ...], int]]) -> None:
        """Record node ``node``'s ``status.images`` as ``(names, sizeBytes)`` pairs."""
        for names, size in images:
            for name in names:
                i = self.index.get(name)
                if i is None:  # the first node to report a name sets its size
                    i = self.index[name] = len(self.sizes)
                    self.sizes.append(int(size))
                    self._nodes.append(set())
                self._nodes[i].add(node)
        self._cache = None

    def arrays(self, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
        """``(present bool[I, N], num_nodes int64[I])`` for a node table of ``n_nodes``."""
        if self._cache is None or self._cache[0] != n_nodes:
            present = np.zeros((len(self.sizes), n_nodes), dtype=bool)
            for i, nodes in enumerate(self._nodes):
                present[i, [n for n in nodes if n < n_nodes]] = True
            self._cache = (n_nodes, present, present.sum(axis=1).astype(np.int64))
        return self._cache[1], self._cache[2]


def attach_status(state: ClusterState, status: NodeImageStatus) -> None:
    """Make ``status`` the nodes' reported images (read by ImageLocality)."""
    setattr(state, _ATTR, status)


def status_of(state: ClusterState) -> NodeImageStatus | None:
    """The nodes' reported images, None when no node reported any."""
    return getattr(state, _ATTR, None)
