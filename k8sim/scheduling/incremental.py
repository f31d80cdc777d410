"""Incremental scheduling: per recent pod shape, the node-local plugins' feasibility mask
and raw scores over all nodes, recomputed only for the nodes that changed.

Between two scheduling cycles only the nodes touched by binds, releases and node
updates change. A plugin that declares ``node_local`` (its Filter and raw Score for a
node read that node's column only; :class:`~k8sim.scheduling.plugins.base.Plugin`) need
not run over every node each cycle: :class:`ShapeCaches` keeps, per recent pod shape,

- the AND of the shape's node-local filters that read only labels, taints and
  conditions (``reads_usage = False``), together with "the node is not removed";
- the AND of those that read usage (``requested``, ``free``, GPUs, pod counts);
- each node-local score plugin's raw scores (int64 over all nodes, valid where the
  node passes the masks above; built at the shape's second scoring cycle, so a shape
  seen once costs no more than before),

and brings them up to date from the cluster's journals
(:class:`~k8sim.cluster.ops.NodeJournal`): the nodes bound to or released from since
the shape's last cycle are recomputed by the usage-reading plugins, the nodes updated
(Ready, cordon, labels, taints, removal) by all of them. A changed node count, a
journal that no longer reaches back far enough or more changed nodes than an eighth of
the cluster rebuild the entry from scratch. A few changed nodes (:data:`FEW_NODES`) are
recomputed in plain Python: by one generated function per shape that inlines the
plugins' one-node source (:class:`~k8sim.scheduling.plugins.base.RowCode`,
:func:`_make_kernel`) when every usage-reading plugin of the shape gives one, else by
the plugins' one-node functions (:func:`_update_few`).

A shape keeps an entry from its second cycle among the recent shapes on
(:meth:`ShapeCaches.wants_entry`): its first cycle evaluates the filters directly, so a
shape scheduled once (a trace whose every pod asks a different amount) builds nothing
over all nodes that it would never use again.

Everything else runs each cycle as before: the filters and scores that are not
node-local (PodTopologySpread, InterPodAffinity, the volume plugins, ImageLocality,
random and candidate-relative scores), the nominated pods' reservations, node sampling
with the rotating start index (``percentageOfNodesToScore``), NormalizeScore over the
candidates and the tie-break draw. So a cycle gives the same decision, the same
sampling and the same random draws as without the caches; the caches can be turned off
per profile (``Profile.incremental = False``) to check that.

Memory is bounded: at most :attr:`ShapeCaches.entry_budget` bytes of entries (least
recently used shapes dropped first), and the plugins' own per-shape caches on
:class:`~k8sim.scheduling.podinfo.PodInfo` (``mask_cache``, ``cache``) are cleared for
shapes that have not been scheduled recently (:attr:`ShapeCaches.shape_budget`), so a
trace with one shape per pod does not keep arrays over nodes for every shape.
"""

from __future__ import annotations

import ast
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.scheduling.plugins.base import (
    MAX_NODE_SCORE,
    ROW_COLUMNS,
    NodeRow,
    RowCode,
    ScorePlugin,
    make_function,
)

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.plugins.base import FilterPlugin
    from k8sim.scheduling.podinfo import PodInfo

#: Default byte budget of the incremental entries of one profile.
ENTRY_BUDGET = 256 << 20
#: Default byte budget assumed for the plugins' per-shape caches of one profile (at an
#: estimated :data:`SHAPE_BYTES_PER_NODE` per node and shape).
SHAPE_BUDGET = 128 << 20
#: Bytes per node that one shape's plugin caches are assumed to hold (a few masks and
#: one int64 count array).
SHAPE_BYTES_PER_NODE = 16
#: At most this many changed nodes are recomputed one by one in plain Python (with the
#: plugins' ``filter_one`` / ``score_one``) rather than by numpy calls over them: a
#: numpy call costs about a microsecond whatever its size, a node's Python arithmetic
#: a fraction of that per plugin.
FEW_NODES = 16
#: The rows of recently changed nodes kept for the one-node functions (see
#: :meth:`ShapeCaches.rows`) are dropped all at once beyond this many. A shape needs
#: the rows of the nodes changed since its last cycle, a few cycles back; rows kept
#: longer would pile up (one per node ever bound to) in the garbage collector's older
#: generations, whose collections then cost more than reading the rows again.
ROWS_KEPT = 64
#: A shape keeps an entry from its BUILD_AT-th cycle among the recent shapes on
#: (:meth:`ShapeCaches.wants_entry`).
BUILD_AT = 2
#: Bounds on the number of shapes kept, whatever the budgets say.
MIN_SHAPES, MAX_SHAPES = 8, 4096


#: ``Entry.filter_ones`` not made yet (never mutated).
_UNMADE: list[Callable[[NodeRow], bool]] = []


class Entry:
    """The cached state of one pod shape (see the module docstring).

    ``mask`` is ``mask_static & mask_usage``; ``raw[i]`` holds the raw scores of the
    profile's ``i``-th score plugin (None: its PreScore skips the shape); a plugin not in
    ``raw`` runs each cycle. ``position`` is the journals' ``(usage, node)`` ends when
    the entry was last brought up to date.

    Two shortcuts for cycles that do not record per-plugin scores: ``fused`` holds the
    indices of the cached plugins whose NormalizeScore is the identity and whose raw
    scores computed so far all lie in ``[0, MAX_NODE_SCORE]``, and ``fused_total`` their
    weighted sum per node (one gather per cycle instead of one per plugin, which the
    framework starts the total with; ``fused_first`` is the first of them). ``uniform`` maps
    a cached plugin that reads no usage and scores every node that passes the static
    filters alike to that raw score: its normalised, weighted term over ``k`` candidates
    is the same array each time (NormalizeScore is a function of the pod and the
    scores), kept in ``memo`` by ``(plugin index, k)``.
    """

    __slots__ = ("n", "position", "static_filters", "usage_filters", "mask_static", "mask_usage", "mask",
                 "raw", "static_scores", "usage_scores", "scoring_cycles", "fused", "fused_first",
                 "fused_weights", "fused_weight", "fused_total", "uniform", "memo", "filter_ones", "score_ones",
                 "fused_static", "count", "views", "fused_view", "rest", "kernel", "kernel_of")

    def __init__(self) -> None:
        self.n = -1
        self.position = (-1, -1)
        self.static_filters: list[FilterPlugin] = []
        self.usage_filters: list[FilterPlugin] = []
        self.mask_static = np.zeros(0, dtype=bool)
        self.mask_usage = np.zeros(0, dtype=bool)
        self.mask = np.zeros(0, dtype=bool)
        self.raw: dict[int, np.ndarray | None] | None = None
        self.static_scores: list[tuple[int, ScorePlugin]] = []
        self.usage_scores: list[tuple[int, ScorePlugin]] = []
        self.scoring_cycles = 0
        self.fused: frozenset[int] = frozenset()
        self.fused_first = -1
        self.fused_weights: list[tuple[int, int]] = []  # (plugin index, weight)
        self.fused_weight: dict[int, int] = {}  # the same, by plugin index
        self.fused_total = np.zeros(0, dtype=np.int64)
        self.uniform: dict[int, int] = {}
        self.memo: dict[tuple[int, int], np.ndarray | None] = {}
        # The usage filters' and usage scores' one-node functions over a NodeRow
        # (filter_row / score_row, or filter_one / score_one behind a row), None when
        # some plugin has neither: then numpy over the changed nodes.
        self.filter_ones: list[Callable[[NodeRow], bool]] | None = None
        self.score_ones: list[tuple[int, Callable[[NodeRow], int], memoryview]] | None = None
        # The fused plugins that are not in score_ones: (raw scores, weight).
        self.fused_static: list[tuple[memoryview, int]] = []
        # Memoryviews of mask_static, mask_usage and mask (None: not made since they
        # were replaced), and of fused_total, for _update_few.
        self.views: tuple[memoryview, memoryview, memoryview] | None = None
        self.fused_view: memoryview | None = None
        #: The profile's score plugins not in ``fused`` as (index, plugin, weight), made
        #: by the framework's scoring step (None: not since ``fused`` last changed).
        self.rest: list[tuple[int, ScorePlugin, int]] | None = None
        #: True entries of ``mask`` (-1: not counted since it last changed).
        self.count = -1
        #: The shape's fused update of a few changed nodes (:func:`_make_kernel`), or
        #: None (then :func:`_update_few`); valid for the node columns ``kernel_of``
        #: (None: to be made at the next such update, which a shape seen once never has).
        self.kernel: Callable[[Any, int], tuple[int, bool]] | None = None
        self.kernel_of: tuple[np.ndarray, ...] | None = None

    def nbytes(self) -> int:
        raw = sum(a.nbytes for a in (self.raw or {}).values() if a is not None)
        return self.mask_static.nbytes + self.mask_usage.nbytes + self.mask.nbytes + raw


class ShapeCaches:
    """A profile's incremental entries and its bound on the plugins' per-shape caches.

    ``filters`` and ``scores`` are the profile's (the same lists, in profile order).
    :meth:`local_mask` gives the node-local part of a shape's feasibility mask (a live
    array: valid until the next call, never to be written by the caller);
    :meth:`raw_scores` the cached raw scores of the node-local score plugins.
    """

    def __init__(self, filters: list[FilterPlugin], scores: list[tuple[ScorePlugin, int]]) -> None:
        self.local_filters = [f for f in filters if f.node_local]
        self.scores = scores
        self.entry_budget = ENTRY_BUDGET
        self.shape_budget = SHAPE_BUDGET
        # Both keyed by the shape's PodInfo itself (identity), not its id.
        self.entries: OrderedDict[PodInfo, Entry] = OrderedDict()
        #: Shapes whose plugin caches may be filled, least recently scheduled first.
        self.recent: OrderedDict[PodInfo, None] = OrderedDict()
        #: The cycle of a shape (among the recent shapes) from which on it keeps an
        #: entry: 2 (the default) evaluates a shape's first cycle directly, 1 builds an
        #: entry at the first cycle too. Either gives the same decisions.
        self.build_at = BUILD_AT
        self.direct = 0  # cycles of a shape without an entry (its first, see wants_entry)
        # touch's bound on recent shapes, for (node count, shape_budget).
        self._cap, self._cap_n, self._cap_budget = 0, -1, -1
        self.rebuilds = 0  # entries built from scratch (a first cycle, or a rebuild)
        self.updates = 0  # entries brought up to date from the journals
        self.few_updates = 0  # of those, by the one-node functions (FEW_NODES)
        # Rows of changed nodes (NodeRow by node index), valid at the journals' ends
        # _rows_at of the node table _rows_of; see rows().
        self._rows: dict[int, NodeRow] = {}
        self._rows_at = (-1, -1, -1)
        self._rows_of: object = None
        self._rows_journal: object = None

    def rows(self, state: ClusterState) -> dict[int, NodeRow]:
        """The :class:`NodeRow` of nodes read since the cluster last changed them, by node
        index; the caller adds the rows it reads. Rows of nodes journalled since the
        last call are dropped (all rows when the journals no longer reach back that far,
        or the node table or its size changed), so every row kept equals the node's
        columns now. Shapes share them: a node bound to is read once, not once per shape
        and plugin."""
        usage_journal, node_journal = state.usage_journal, state.node_journal
        at = (usage_journal.end, node_journal.end, state.nodes.n)
        rows = self._rows
        same = self._rows_of is state.nodes and self._rows_journal is usage_journal
        if at == self._rows_at and same:
            return rows
        before = self._rows_at
        if rows:
            used = usage_journal.since(before[0]) if same and before[2] == at[2] else None
            updated = node_journal.since(before[1]) if used is not None else None
            if used is None or updated is None or len(rows) > ROWS_KEPT or len(used) + len(updated) > ROWS_KEPT:
                rows.clear()
            else:
                for node in used:
                    rows.pop(node, None)
                for node in updated:
                    rows.pop(node, None)
        self._rows_at = at
        self._rows_of, self._rows_journal = state.nodes, usage_journal
        return rows

    # -- the bound on per-shape caches ------------------------------------------------

    def touch(self, state: ClusterState, pod: PodInfo) -> bool:
        """``pod``'s shape is being scheduled: keep its caches, drop the oldest shapes'
        when more shapes than the budget allows have caches. True when the shape was
        among the recent ones already (scheduled before, and not dropped since)."""
        recent = self.recent
        if pod in recent:
            recent.move_to_end(pod)
            return True
        recent[pod] = None
        n = state.nodes.n
        if self._cap_n != n or self._cap_budget != self.shape_budget:
            self._cap = _capacity(self.shape_budget, SHAPE_BYTES_PER_NODE * max(n, 1))
            self._cap_n, self._cap_budget = n, self.shape_budget
        cap = self._cap
        if len(recent) > cap:
            entries = self.entries
            while len(recent) > cap:
                old, _ = recent.popitem(last=False)
                old._mask_cache = old._cache = None  # old.drop_caches(), inlined (every one-off cycle)
                if entries:
                    entries.pop(old, None)
        return False

    def wants_entry(self, seen: bool) -> bool:
        """Whether a cycle of a shape keeps an entry (else the profile evaluates its
        filters directly, :meth:`~k8sim.scheduling.framework.Profile.feasible_mask`):
        from the shape's second cycle among the recent shapes on (``seen``, from
        :meth:`touch`), or from its first with ``build_at = 1``. An entry pays for
        itself only when the shape comes back: a shape scheduled once (a trace whose
        every pod asks a different amount) would build one over all nodes for nothing."""
        if seen or self.build_at <= 1:
            return True
        self.direct += 1
        return False

    def forget(self) -> None:
        """Drop every entry (the plugin caches on the shapes stay)."""
        self.entries.clear()

    # -- the mask -------------------------------------------------------------------

    def local_mask(self, state: ClusterState, pod: PodInfo) -> tuple[Entry, np.ndarray]:
        """The shape's entry, up to date, and ``bool[N]``: the nodes that pass every
        node-local filter of the profile that does not skip the shape, and are not
        removed."""
        entries = self.entries
        e = entries.get(pod)
        if e is None:
            e = Entry()
            self._build(e, state, pod)
            entries[pod] = e
            self._trim(state)
        else:
            entries.move_to_end(pod)
            if not self._update(e, state, pod):
                self._build(e, state, pod)
        return e, e.mask

    def _trim(self, state: ClusterState) -> None:
        n = max(state.nodes.n, 1)
        per_entry = n * (3 + 8 * sum(1 for p, _ in self.scores if p.node_local))
        cap = _capacity(self.entry_budget, per_entry)
        while len(self.entries) > cap:
            self.entries.popitem(last=False)

    def _build(self, e: Entry, state: ClusterState, pod: PodInfo) -> None:
        self.rebuilds += 1
        nodes = state.nodes
        e.n = nodes.n
        e.position = (state.usage_journal.end, state.node_journal.end)
        e.static_filters = [f for f in self.local_filters if not f.reads_usage and f.pre_filter(state, pod)]
        e.usage_filters = [f for f in self.local_filters if f.reads_usage and f.pre_filter(state, pod)]
        mask_static = np.isinf(nodes.removed_at)
        for f in e.static_filters:
            mask_static &= f.filter(state, pod)
        mask_usage = np.ones(nodes.n, dtype=bool)
        for f in e.usage_filters:
            mask_usage &= f.filter(state, pod)
        e.mask_static, e.mask_usage = mask_static, mask_usage
        e.mask = mask_static & mask_usage
        e.views = None
        e.count = -1
        e.filter_ones = _UNMADE  # made at the first update: a shape seen once makes none
        e.score_ones = None
        e.raw = None  # scores are rebuilt at the next scoring cycle that wants them
        e.static_scores, e.usage_scores = [], []
        _unfuse(e)
        e.uniform, e.memo = {}, {}

    def _update(self, e: Entry, state: ClusterState, pod: PodInfo) -> bool:
        """Recompute the changed nodes; False if the entry must be rebuilt instead."""
        nodes = state.nodes
        usage_journal, node_journal = state.usage_journal, state.node_journal
        end = (usage_journal.end, node_journal.end)
        if e.position == end:
            return e.n == nodes.n
        if e.n != nodes.n:
            return False
        if e.filter_ones is _UNMADE:
            filter_ones = [_filter_row(state, pod, f) for f in e.usage_filters]
            e.filter_ones = [f for f in filter_ones if f is not None] if None not in filter_ones else None
        if e.position[1] == end[1] and e.filter_ones is not None and (e.raw is None or e.score_ones is not None):
            # The common case, binds and releases only and a few of them: straight to
            # _update_few (the general steps below would take the same path).
            used = usage_journal.since(e.position[0])
            if used is not None and len(used) <= FEW_NODES:
                self.updates += 1
                self.few_updates += 1
                self._few(e, state, pod, set(used))
                e.position = end
                return True
        used = usage_journal.since(e.position[0])
        updated = node_journal.since(e.position[1])
        if used is None or updated is None:
            return False
        self.updates += 1
        limit = max(64, nodes.n >> 3)
        changed = set(used)
        raw = e.raw
        if updated:
            touched = set(updated)
            if len(touched) > limit:
                return False
            dn = np.fromiter(sorted(touched), dtype=np.intp, count=len(touched))
            m = np.isinf(nodes.removed_at[dn])
            for f in e.static_filters:
                m &= f.filter_nodes(state, pod, dn)
            e.mask_static[dn] = m
            changed |= touched
            if raw is not None and e.static_scores:
                sel = dn[m]
                if sel.size:
                    for i, plugin in e.static_scores:
                        a = raw[i]
                        assert a is not None
                        a[sel] = plugin.score(state, pod, sel)
                        if i in e.fused and not _in_range(a[sel]):
                            _unfuse(e)
                _find_uniform(e)
        if len(changed) > limit:
            return False
        if len(changed) <= FEW_NODES and e.filter_ones is not None and (raw is None or e.score_ones is not None):
            self._few(e, state, pod, changed)
            self.few_updates += 1
            e.position = end
            return True
        du = np.fromiter(sorted(changed), dtype=np.intp, count=len(changed))
        if e.usage_filters:
            m = e.usage_filters[0].filter_nodes(state, pod, du)
            for f in e.usage_filters[1:]:
                m = m & f.filter_nodes(state, pod, du)
            e.mask_usage[du] = m
            ok = e.mask_static[du] & m
        else:
            ok = e.mask_static[du] & e.mask_usage[du]
        e.mask[du] = ok
        e.count = -1
        if raw is not None:
            sel = du[ok]
            if sel.size:
                fused = e.fused
                # The fused sum of the fresh scores, when every fused plugin reads usage.
                acc: np.ndarray | None = None
                members = 0
                for i, plugin in e.usage_scores:
                    a = raw[i]
                    assert a is not None
                    a[sel] = values = plugin.score(state, pod, sel)
                    if i in fused:
                        if not _in_range(np.asarray(values)):
                            _unfuse(e)
                            fused = e.fused
                            continue
                        term = a[sel] * e.fused_weight[i]
                        acc = term if acc is None else acc + term
                        members += 1
                if e.fused_weights:
                    if acc is None or members != len(e.fused_weights):
                        acc = _weighted(raw, e.fused_weights, sel)
                    e.fused_total[sel] = acc
        e.position = end
        return True

    def _few(self, e: Entry, state: ClusterState, pod: PodInfo, changed: set[int]) -> None:
        """Bring the usage part of ``e`` up to date for a few changed nodes: the entry's
        fused kernel when it has one for these node columns, else :func:`_update_few`."""
        nodes = state.nodes
        of = e.kernel_of
        if of is None:
            _make_kernel(e, state, pod)
            of = e.kernel_of
        kernel = e.kernel
        if kernel is not None:
            assert of is not None
            if (of[0] is nodes.free and of[1] is nodes.requested and of[2] is nodes.alloc
                    and of[3] is nodes.nonzero_requested):
                count, done = kernel(changed, e.count)
                e.count = count
                if done:
                    return
                # A fused plugin scored outside [0, MAX_NODE_SCORE]: no fused sum from
                # now on; the general path redoes these nodes (the same values).
                _unfuse(e)
            else:
                e.kernel, e.kernel_of = None, None
                return self._few(e, state, pod, changed)
        _update_few(e, state, self.rows(state), changed)

    @staticmethod
    def count(e: Entry) -> int:
        """The number of nodes in ``e.mask`` (kept from cycle to cycle while only a few
        nodes change)."""
        if e.count < 0:
            e.count = int(np.count_nonzero(e.mask))
        return e.count

    # -- scores ---------------------------------------------------------------------

    def current(self, e: Entry, state: ClusterState) -> bool:
        """Whether ``e`` is up to date with the cluster (nothing changed since)."""
        return e.n == state.nodes.n and e.position == (state.usage_journal.end, state.node_journal.end)

    def raw_scores(self, e: Entry, state: ClusterState, pod: PodInfo) -> dict[int, np.ndarray | None] | None:
        """The entry's cached raw scores by score-plugin index (None for a plugin whose
        PreScore skips the shape), built at the shape's second scoring cycle since the
        entry was built; None before (the caller scores the candidates directly)."""
        if e.raw is not None:
            return e.raw
        e.scoring_cycles += 1
        if e.scoring_cycles < 2:
            return None
        raw: dict[int, np.ndarray | None] = {}
        static_nodes = np.flatnonzero(e.mask_static)
        usage_nodes = np.flatnonzero(e.mask)
        fresh: dict[int, np.ndarray] = {}  # the values just computed, = raw[i][at]
        for i, (plugin, _) in enumerate(self.scores):
            if not plugin.node_local:
                continue
            if not plugin.pre_score(state, pod):
                raw[i] = None
                continue
            at = usage_nodes if plugin.reads_usage else static_nodes
            a = np.zeros(state.nodes.n, dtype=np.int64)
            values = a[:0]
            if at.size:
                values = np.asarray(plugin.score(state, pod, at))
                if values.dtype != np.int64:
                    continue  # kept exactly as the plugin returns it: scored each cycle
                a[at] = values
            raw[i] = a
            fresh[i] = values
            (e.usage_scores if plugin.reads_usage else e.static_scores).append((i, plugin))
        e.raw = raw
        # The shortcuts (see Entry).
        fused = []
        for i, (plugin, w) in enumerate(self.scores):
            cached = raw.get(i)
            if cached is None or type(plugin).normalize is not ScorePlugin.normalize:
                continue
            if _in_range(fresh[i]):
                fused.append((i, w))
        if fused:
            e.fused_weights = fused
            e.fused_weight = dict(fused)
            e.fused = frozenset(i for i, _ in fused)
            e.rest = None
            e.fused_first = fused[0][0]
            e.fused_total = np.zeros(state.nodes.n, dtype=np.int64)
            e.fused_total[usage_nodes] = _weighted(raw, fused, usage_nodes)
            e.fused_view = e.fused_total.data
        ones: list[tuple[int, Callable[[NodeRow], int], memoryview]] | None = []
        for i, plugin in e.usage_scores:
            one, kept = _score_row(state, pod, plugin), raw[i]
            if one is None or kept is None or ones is None:
                ones = None
            else:
                ones.append((i, one, kept.data))
        e.score_ones = ones
        usage = {i for i, _ in e.usage_scores}
        e.fused_static = []
        for i, w in e.fused_weights:
            kept = raw[i]
            if i not in usage and kept is not None:
                e.fused_static.append((kept.data, w))
        e.uniform = {i: 0 for i, _ in e.static_scores if i not in e.fused}
        _find_uniform(e)
        e.kernel, e.kernel_of = None, None  # remade with the scores
        self._trim(state)
        return raw


def _filter_row(state: ClusterState, pod: PodInfo, plugin: FilterPlugin) -> Callable[[NodeRow], bool] | None:
    """The plugin's one-node filter over a row: its filter_row, else its filter_one
    (which reads the node table itself), else None."""
    fn = plugin.filter_row(state, pod)
    if fn is not None:
        return fn
    one = plugin.filter_one(state, pod)
    if one is None:
        return None
    return lambda row: one(state.nodes, row.node)


def _score_row(state: ClusterState, pod: PodInfo, plugin: ScorePlugin) -> Callable[[NodeRow], int] | None:
    """The plugin's one-node score over a row, as :func:`_filter_row`."""
    fn = plugin.score_row(state, pod)
    if fn is not None:
        return fn
    one = plugin.score_one(state, pod)
    if one is None:
        return None
    return lambda row: one(state.nodes, row.node)


def _update_few(e: Entry, state: ClusterState, rows: dict[int, NodeRow], changed: set[int]) -> None:
    """:meth:`ShapeCaches._update`'s usage part for a few changed nodes, one by one with
    the plugins' one-node functions over the nodes' rows (read here once for all shapes,
    :meth:`ShapeCaches.rows`): the same mask bits, raw scores and fused totals.

    The entry's arrays are read and written through memoryviews (``Entry.views``): a
    memoryview's item access costs a fraction of numpy's scalar indexing, and a mask
    bit is written only when it changes."""
    nodes = state.nodes
    read = NodeRow.read
    views = e.views
    if views is None:
        views = e.views = (e.mask_static.data, e.mask_usage.data, e.mask.data)
    static, usage, mask = views
    filters = e.filter_ones
    assert filters is not None
    scores = e.score_ones if e.raw is not None else None
    count = e.count
    weights, fused_total = e.fused_weight, e.fused_view  # both replaced by _unfuse only
    top = MAX_NODE_SCORE
    for node in changed:
        row = rows.get(node)
        if row is None:
            row = rows[node] = read(nodes, node)
        if filters:
            m = True
            for f in filters:
                if not f(row):
                    m = False
                    break
            if usage[node] != m:
                usage[node] = m
        else:
            m = bool(usage[node])
        ok = m and static[node]
        if ok != mask[node]:
            mask[node] = ok
            if count >= 0:
                count += 1 if ok else -1
        if not ok or scores is None:
            continue
        # The fused sum from the fresh scores (the same integers as _weighted).
        total = 0
        for i, one, a in scores:
            a[node] = v = one(row)
            w = weights.get(i)
            if w is not None:
                if 0 <= v <= top:
                    total += v * w
                else:
                    _unfuse(e)  # for this node's other plugins and the next nodes too
                    weights = e.fused_weight
        if weights:
            for a, w in e.fused_static:
                total += a[node] * w
            assert fused_total is not None
            fused_total[node] = total
    e.count = count


def _in_range(values: np.ndarray) -> bool:
    """All of ``values`` in ``[0, MAX_NODE_SCORE]`` (True when empty)."""
    if values.size < 16:
        listed = values.tolist()
        return not listed or (min(listed) >= 0 and max(listed) <= MAX_NODE_SCORE)
    return bool(values.min() >= 0 and values.max() <= MAX_NODE_SCORE)


def _weighted(raw: dict[int, np.ndarray | None], weights: list[tuple[int, int]], at: np.ndarray) -> np.ndarray:
    total = np.zeros(at.size, dtype=np.int64)
    for i, w in weights:
        a = raw[i]
        assert a is not None
        total += a[at] * w
    return total


def _unfuse(e: Entry) -> None:
    """Give up the fused sum: its plugins are scored one by one from now on."""
    e.fused, e.fused_first, e.fused_weights, e.fused_weight = frozenset(), -1, [], {}
    e.fused_static = []
    e.fused_total = np.zeros(0, dtype=np.int64)
    e.fused_view = None
    e.rest = None
    e.kernel, e.kernel_of = None, None  # it wrote the fused sum: remade without


def _find_uniform(e: Entry) -> None:
    """Recompute which static cached plugins score every statically feasible node alike."""
    assert e.raw is not None
    for i, _ in e.static_scores:
        if i in e.fused:
            continue
        a = e.raw[i]
        assert a is not None
        values = a[e.mask_static]
        if values.size and values.min() == values.max():
            if e.uniform.get(i) != int(values[0]):
                e.memo = {}
            e.uniform[i] = int(values[0])
        else:
            e.uniform.pop(i, None)


def _capacity(budget: int, per_item: int) -> int:
    return max(MIN_SHAPES, min(MAX_SHAPES, budget // max(per_item, 1)))


class _Unfusable(Exception):
    """A plugin's RowCode reads a node column other than as ``column[literal row]``."""


class _Rename(ast.NodeTransformer):
    """One plugin's RowCode inside the fused kernel: its names (``names`` and what it
    assigns) get the plugin's ``prefix``, ``result`` becomes ``result_name``, and
    ``column[r]`` the local ``column_r`` (read from the node table before the code;
    :attr:`columns` lists them in order of first use)."""

    def __init__(self, prefix: str, result_name: str, local: set[str]) -> None:
        self.prefix, self.result_name, self.local = prefix, result_name, local
        self.columns: dict[str, tuple[str, int]] = {}

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        value, index = node.value, node.slice
        if isinstance(value, ast.Name) and value.id in ROW_COLUMNS:
            if not (isinstance(index, ast.Constant) and type(index.value) is int and index.value >= 0):
                raise _Unfusable(value.id)
            name = f"{value.id}_{index.value}"
            self.columns.setdefault(name, (value.id, index.value))
            return ast.copy_location(ast.Name(id=name, ctx=ast.Load()), node)
        return self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in ROW_COLUMNS:
            raise _Unfusable(node.id)
        if node.id == "result":
            node.id = self.result_name
        elif node.id in self.local:
            node.id = self.prefix + node.id
        return node


#: :func:`_fuse`'s renamed statements and columns, by source, prefix, result and names.
_FUSED: dict[tuple[str, str, str, tuple[str, ...]], tuple[list[str], dict[str, tuple[str, int]]]] = {}


def _fuse(code: RowCode, prefix: str, result_name: str,
          namespace: dict[str, Any]) -> tuple[list[str], dict[str, tuple[str, int]]]:
    """``code``'s statements renamed for the kernel (see :class:`_Rename`), its names
    added to ``namespace``; and the node columns it reads."""
    key = (code.source, prefix, result_name, tuple(sorted(code.names)))
    done = _FUSED.get(key)
    if done is None:
        tree = ast.parse(code.source)
        assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        rename = _Rename(prefix, result_name, assigned | set(code.names))
        tree = ast.fix_missing_locations(rename.visit(tree))
        if len(_FUSED) >= 1024:
            _FUSED.clear()
        done = _FUSED[key] = (ast.unparse(tree).splitlines(), rename.columns)
    for name, value in code.names.items():
        namespace[prefix + name] = value
    return done


#: The NodeTable attribute behind each RowCode column.
_COLUMN_ARRAYS = {"free": "free", "requested": "requested", "alloc": "alloc", "nonzero": "nonzero_requested"}


def _make_kernel(e: Entry, state: ClusterState, pod: PodInfo) -> None:
    """Set ``e.kernel``: one generated function that does :func:`_update_few`'s work for
    the shape -- the usage filters, the mask bits and count, the usage scores and the
    fused sum of each changed node -- with the plugins' :class:`RowCode` inlined in
    profile order (no call per plugin) and the node's columns read once from the node
    table (memoryviews of its rows). None when some usage filter (or, once the raw
    scores exist, some usage score) has no RowCode.

    ``kernel(changed, count)`` returns ``(count, True)``, or ``(count, False)`` when a
    fused plugin scored a node outside ``[0, MAX_NODE_SCORE]``; the caller then unfuses
    the entry and runs :func:`_update_few` over the same nodes, which redoes them."""
    e.kernel = None
    e.kernel_of = ()  # none (until the entry changes)
    filters: list[RowCode] = []
    for f in e.usage_filters:
        code = f.filter_code(state, pod)
        if code is None:
            return
        filters.append(code)
    scores: list[tuple[int, RowCode]] = []
    raw = e.raw
    if raw is not None:
        if e.score_ones is None:
            return
        for i, plugin in e.usage_scores:
            code = plugin.score_code(state, pod)
            if code is None:
                return
            scores.append((i, code))
    nodes = state.nodes
    namespace: dict[str, Any] = {}
    read: set[str] = set()
    lines: list[str] = []

    def emit(depth: int, code_lines: list[str], columns: dict[str, tuple[str, int]]) -> None:
        pad = "    " * depth
        for name, (column, row) in columns.items():
            if name not in read:
                read.add(name)
                view = "col_" + name
                if view not in namespace:
                    namespace[view] = memoryview(getattr(nodes, _COLUMN_ARRAYS[column])[row])
                lines.append(f"{pad}{name} = {view}[node]")
        lines.extend(pad + line for line in code_lines)

    try:
        depth = 2
        if filters:
            lines.append("        ok = False")
            for k, code in enumerate(filters):
                body, columns = _fuse(code, f"f{k}_", f"passed{k}", namespace)
                emit(depth, body, columns)
                lines.append("    " * depth + f"if passed{k}:")
                depth += 1
            lines.append("    " * depth + "ok = True")
            lines.append("        if usage[node] != ok:")
            lines.append("            usage[node] = ok")
        else:
            lines.append("        ok = usage[node]")
        # Columns read inside the filters' branches are not read for every node.
        read.clear()
        lines += ["        if ok and not static[node]:",
                  "            ok = False",
                  "        if mask[node] != ok:",
                  "            mask[node] = ok",
                  "            if count >= 0:",
                  "                count += 1 if ok else -1"]
        if raw is not None:
            lines.append("        if not ok:")
            lines.append("            continue")
            weights = e.fused_weight
            checks, terms = [], []
            for i, code in scores:
                body, columns = _fuse(code, f"s{i}_", f"score{i}", namespace)
                emit(2, body, columns)
                kept = raw[i]
                assert kept is not None
                namespace[f"raw{i}"] = kept.data
                lines.append(f"        raw{i}[node] = score{i}")
                w = weights.get(i)
                if w is not None:
                    checks.append(f"0 <= score{i} <= {MAX_NODE_SCORE}")
                    terms.append(f"score{i} * {w}")
            if weights:
                for j, (a, w) in enumerate(e.fused_static):
                    namespace[f"static_raw{j}"] = a
                    terms.append(f"static_raw{j}[node] * {w}")
                namespace["fused"] = e.fused_view
                if checks:
                    lines.append(f"        if not ({' and '.join(checks)}):")
                    lines.append("            return count, False")
                lines.append(f"        fused[node] = {' + '.join(terms) or '0'}")
    except (_Unfusable, SyntaxError, ValueError, TypeError, IndexError):
        return
    namespace["static"], namespace["usage"], namespace["mask"] = (
        e.mask_static.data, e.mask_usage.data, e.mask.data)
    text = "def fn(changed, count):\n    for node in changed:\n" + "\n".join(lines) + "\n    return count, True\n"
    e.kernel = make_function(text, namespace)
    e.kernel_of = (nodes.free, nodes.requested, nodes.alloc, nodes.nonzero_requested)
