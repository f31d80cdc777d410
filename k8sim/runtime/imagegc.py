"""Image GC over time: the kubelet's periodic passes and the record of every pass.

kubelet runs image GC every ``ImageGCPeriod`` (5 minutes) from its start
(``Kubelet.StartGarbageCollection`` in ``pkg/kubelet/kubelet.go``: ``wait.Until``), and
not at all when ``imageGCHighThresholdPercent`` is 100. One pass is
``realImageGCManager.GarbageCollect`` (``pkg/kubelet/images/image_gc_manager.go``),
which :meth:`~k8sim.runtime.store.ImageStore.collect` implements on the node image store.

:class:`ImageGC` (owned by the kubelet) gives each node with a limited image disk its
timeline of passes. Upstream's pass at kubelet start usually fails ("Stats
initialization may not have completed yet"), so the first pass counted here is one
period after the node starts. Nodes started together share one timeline, and one SimPy
process serves every timeline (sleeping until the earliest is due). A run without
``duration_s`` ends when nothing is left to happen and cannot have such a timer (the
scheduler's unschedulable flush re-arms itself while other events are scheduled; a GC
timer would be one, and the flush timer one for GC), so there passes run lazily: a pass
that is due runs at the node's next kubelet activity (:meth:`ImageGC.catch_up`: a pod
bound or leaving, a pull). Until then nothing reads or changes the node's images except
ImageLocality, which may see images a timely pass would have deleted.

Every pass that ran (usage at or above the high threshold), periodic or run by a pull
that needed room, is reported: an ``ImageGC`` event per deleted image and one row of
the ``image_gc`` frame (:meth:`ImageGC.frame`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import simpy

if TYPE_CHECKING:
    from k8sim.cluster.api import ClusterAPI
    from k8sim.runtime.store import GCResult, ImageStore

#: Triggers of a pass (the ``trigger`` column of ``image_gc``).
PERIODIC, PULL = "periodic", "pull"


class ImageGC:
    """The periodic image GC of every node and the record of all passes (see the module
    docstring). ``lazy``: the run has no ``duration_s`` (passes at kubelet activity)."""

    def __init__(self, api: ClusterAPI, store: ImageStore, lazy: bool):
        self.api = api
        self.env = api.env
        self.store = store
        self.lazy = lazy
        #: One row per pass: (time, node, trigger, used before, wanted, images deleted, freed).
        self.rows: list[tuple[float, int, str, int, int, int, int]] = []
        self._heap: list[tuple[float, int, float, list[int]]] = []  # (next pass, seq, period, nodes)
        self._groups: dict[tuple[float, float], list[int]] = {}  # (start, period) -> nodes
        self._proc: simpy.Process | None = None
        self._wake_at = math.inf
        #: Lazy mode: node -> (time the next pass is due, period).
        self.due: dict[int, tuple[float, float]] = {}
        self._gone: set[int] = set()

    def add_node(self, node: int) -> None:
        """A node started now: its passes are due every ``imageGCPeriodSeconds`` from now
        (none with an unlimited disk, GC off or period 0)."""
        cfg = self.store.configs[node]
        if cfg.disk_capacity <= 0 or not cfg.gc_enabled or cfg.gc_period_s <= 0:
            return
        now = self.env.now
        if self.lazy:
            self.due[node] = (now + cfg.gc_period_s, cfg.gc_period_s)
            return
        key = (now, cfg.gc_period_s)
        group = self._groups.get(key)
        if group is not None:
            group.append(node)
            return
        group = [node]
        self._groups[key] = group
        first = now + cfg.gc_period_s
        heapq.heappush(self._heap, (first, len(self._groups), cfg.gc_period_s, group))
        if self._proc is None:
            self._wake_at = -math.inf  # it reads the heap when it starts
            self._proc = self.env.process(self._loop())
        elif first < self._wake_at:
            self._proc.interrupt()  # it sleeps until a later pass

    def node_removed(self, node: int) -> None:
        """The node is gone: no more passes on it."""
        self._gone.add(node)

    def catch_up(self, node: int) -> None:
        """Lazy mode: run the node's pass if one is due (the next is then due a whole
        number of periods later; missed ones collapse into this one)."""
        due = self.due.get(node)
        now = self.env.now
        if due is None or now < due[0] or node in self._gone:
            return
        at, period = due
        self.due[node] = (at + period * (math.floor((now - at) / period) + 1), period)
        result = self.store.collect(node, now)
        if result is not None:
            self.report(node, result, PERIODIC)

    def report(self, node: int, result: GCResult, trigger: str) -> None:
        """Record a pass that ran: ImageGC events for the deleted images, one row."""
        names = self.store.catalog.image_names
        for img in result.removed:
            self.api.record("ImageGC", -1, node, f"deleted image {names[img]}")
        used_before = int(self.store.disk_used[node]) + result.freed
        self.rows.append((self.env.now, node, trigger, used_before, result.wanted, len(result.removed),
                          result.freed))

    def _loop(self) -> Generator[simpy.Event, Any, None]:
        env = self.env
        heap = self._heap
        while heap:
            at = heap[0][0]
            self._wake_at = at
            try:
                yield env.timeout(at - env.now)
            except simpy.Interrupt:
                continue  # an earlier timeline was added
            at, seq, period, nodes = heapq.heappop(heap)
            now = env.now
            for node in nodes:
                if node not in self._gone:
                    result = self.store.collect(node, now)
                    if result is not None:
                        self.report(node, result, PERIODIC)
            heapq.heappush(heap, (at + period, seq, period, nodes))
        self._wake_at = math.inf
        self._proc = None

    def frame(self) -> pd.DataFrame:
        """The ``image_gc`` frame: one row per pass, in time order (time, node, pool,
        trigger, used_before_bytes, capacity_bytes, wanted_bytes, images_deleted,
        bytes_freed)."""
        nodes = self.api.state.nodes
        rows = self.rows
        cap = self.store.disk_capacity
        return pd.DataFrame({
            "time": np.array([r[0] for r in rows], dtype=np.float64),
            "node": pd.Series([nodes.names[r[1]] for r in rows], dtype="string"),
            "pool": pd.Series([nodes.pool_name(r[1]) for r in rows], dtype="string"),
            "trigger": pd.Series([r[2] for r in rows], dtype="string"),
            "used_before_bytes": np.array([r[3] for r in rows], dtype=np.int64),
            "capacity_bytes": np.array([int(cap[r[1]]) for r in rows], dtype=np.int64),
            "wanted_bytes": np.array([r[4] for r in rows], dtype=np.int64),
            "images_deleted": np.array([r[5] for r in rows], dtype=np.int64),
            "bytes_freed": np.array([r[6] for r in rows], dtype=np.int64),
        })
