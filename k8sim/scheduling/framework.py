"""A scheduling profile: filters, weighted scores, node sampling, seeded tie-break.

One call of :meth:`Profile.schedule` is one scheduling cycle of upstream's
``schedulePod`` (``pkg/scheduler/schedule_one.go``):

1. Filter (``findNodesThatPassFilters``): every Filter plugin over all nodes at once.
   Upstream stops once it has found ``numFeasibleNodesToFind`` feasible nodes, visiting
   nodes round-robin from ``nextStartNodeIndex``; the vectorised equivalent takes the
   first that many feasible nodes in that rotated order and advances the start index
   by the number of nodes upstream would have visited. A cycle without an incremental
   entry stops early too: it runs the filters on windows of nodes from the start index
   on until it has found enough (:meth:`Profile._find_windowed`), and a first-fit
   cycle stops at the first feasible node (:meth:`Profile._lowest_first`).
2. If exactly one node is feasible it is chosen without scoring (as upstream).
3. PreScore / Score / NormalizeScore for each score plugin over the candidates,
   ``weight * score`` summed (``RunScorePlugins``); normalised scores outside
   ``[0, MAX_NODE_SCORE]`` are an error, as upstream.
4. ``selectHost``: the best total wins; ties are broken uniformly at random (upstream
   uses reservoir sampling, also uniform) from the profile's seeded stream. With a
   ``node_priority`` array set (scheduler ``tieBreak: nodePriority``, the method of
   Weng et al., ATC '23) the tied node of highest priority wins instead: a random
   priority per node, drawn once per run from the seed.

With ``Profile.incremental`` (the default) the node-local plugins' masks and raw scores
come from per-shape caches brought up to date with the nodes changed since the shape's
last cycle (:mod:`k8sim.scheduling.incremental`); every other step runs as described,
and the decisions are the same as with the caches off.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from k8sim.constants import GPU_MILLI
from k8sim.scheduling import kernels
from k8sim.scheduling.incremental import Entry, ShapeCaches
from k8sim.scheduling.permit import PermitPlugin
from k8sim.scheduling.plugins.base import FILTER_BLOCK, MAX_NODE_SCORE, FilterPlugin, Plugin, ScorePlugin
from k8sim.scheduling.plugins.shared import CandidateColumns

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

#: check_score_range reads int64 scores as uint64.
_INT64, _UINT64 = np.dtype(np.int64), np.dtype(np.uint64)
_MAX_REDUCE = np.maximum.reduce
#: The compiled Filter phase's table, rows and need when no filter offers fit_rows.
_NO_TABLE = np.zeros((0, 0), dtype=np.int64)
_NO_NEED = np.zeros(0, dtype=np.int64)
_NO_ROWS = np.zeros(0, dtype=np.intp)
_NO_ROWS.flags.writeable = False
#: Spec plans a profile keeps (:meth:`Profile._spec_plan`): a trace has a few specs,
#: one per kind of pod; shapes built one by one each have their own.
PLANS_KEPT = 64


class _SpecPlan(NamedTuple):
    """:meth:`Profile._spec_plan`: valid for the node table ``nodes`` at ``version`` and
    size ``n``. ``static``: the read-only AND of the spec's request-blind filters and of
    the nodes not removed; ``ask``: the filters asked every cycle, each with whether it
    overrides ``fit_rows``."""

    nodes: Any
    version: int
    n: int
    static: np.ndarray
    ask: list[tuple[FilterPlugin, bool]]
#: Upstream ``minFeasibleNodesToFind``.
MIN_FEASIBLE_NODES_TO_FIND = 100
#: Upstream ``minFeasibleNodesPercentageToFind``.
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int) -> int:
    """Upstream ``numFeasibleNodesToFind`` (``schedule_one.go``).

    ``percentage`` 0 means adaptive: ``50 - nodes/125``, at least 5. Below 100 nodes,
    or when the result would be below 100, all (or 100) nodes are searched.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = 50 - num_all_nodes // 125
        if percentage < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND:
            percentage = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND
    num = num_all_nodes * percentage // 100
    if num < MIN_FEASIBLE_NODES_TO_FIND:
        return MIN_FEASIBLE_NODES_TO_FIND
    return num


@dataclass
class Decision:
    """The outcome of one scheduling cycle (:meth:`Profile.schedule`) for one pod.

    Made by the profile and not changed afterwards. The scheduler binds the pod when
    ``node >= 0``, else hands ``rejectors`` to the queue; with ``recordDecisions`` it keeps
    the decision for ``RunResult.decisions`` and ``k8sim explain``.

    Invariants: ``node == -1`` exactly when no node was feasible (``feasible == 0``), and
    then ``rejectors`` names the filters that were first to reject some node (empty when
    there are no nodes, or when only nominated preemptors' reservations rejected them;
    the queue then moves the pod on any cluster event). On success ``rejectors`` is
    empty. ``candidates``, ``totals`` and ``per_plugin`` are filled only when scoring ran
    and the profile records: all aligned with ``candidates`` (``totals[i]`` is the
    weighted sum for node ``candidates[i]``), and ``node`` has the highest total.
    """

    node: int  # chosen node, -1 if none is feasible
    feasible: int  # number of feasible nodes found (after sampling; 1 when first fit stopped at the first)
    candidates: np.ndarray | None = None  # the scored nodes (if scoring ran)
    totals: np.ndarray | None = None  # their weighted totals
    per_plugin: dict[str, np.ndarray] = field(default_factory=dict)  # raw normalised scores (if recorded)
    rejectors: frozenset[str] = frozenset()  # on failure: filters that rejected some node first


class Profile:
    """One scheduling profile (upstream ``KubeSchedulerProfile``) under one ``schedulerName``:
    Filter plugins in order, Score plugins with integer weights, an optional PostFilter.

    Built once per run by :func:`k8sim.scheduling.profiles.build_profile`, which gives
    each plugin its own seeded stream and the profile its tie-break stream ``rng``. The
    simulation then sets ``post_filter`` (DefaultPreemption, or None when disabled) and
    ``node_priority``; the scheduler sets ``record``. A plugin that is both a filter and
    a score (NodeResourcesFit) is one instance in both lists; ``reservers`` holds each
    plugin that implements Reserve once, in profile order.

    Contract: :meth:`schedule` reads the cluster tables and never writes them (binding,
    nomination and requeueing are the scheduler's). The only state it changes is its
    own: ``next_start_node_index`` (upstream's round-robin start for node sampling), the
    position of its random streams, and per-shape plugin caches. Same tables, same
    start index and same stream positions give the same :class:`Decision`. Filters are
    ANDed (a plugin whose ``pre_filter`` returns False passes every node); the total is
    ``sum(weight * normalize(score))`` in int64, each normalised score in
    ``[0, MAX_NODE_SCORE]`` or a ``ValueError``.

    ``incremental`` (True by default) takes the node-local plugins' masks and raw scores
    from :attr:`caches`, per recent shape from its second cycle on (a shape's first
    cycle runs every filter directly), recomputing only changed nodes; False runs
    every plugin over every node each cycle. Both give the same decisions. The plugins'
    per-shape caches are bounded either way (:meth:`ShapeCaches.touch`).
    """

    def __init__(
        self,
        name: str,
        filters: list[FilterPlugin],
        scores: list[tuple[ScorePlugin, int]],
        rng: np.random.Generator,
        percentage_of_nodes_to_score: int = 0,
    ):
        if not 0 <= percentage_of_nodes_to_score <= 100:
            raise ValueError("percentageOfNodesToScore must be in [0, 100]")
        self.name = name
        self.filters = filters
        self.scores = scores
        self.rng = rng
        self.percentage = percentage_of_nodes_to_score
        self.next_start_node_index = 0
        #: Nodes the last cycle's Filter phase visited (upstream ``findNodesThatPassFilters``
        #: stops after ``numFeasibleNodesToFind`` feasible ones); read by the cost model.
        self.last_visited = 0
        # last_mask (the property), and what computes it when first read after a cycle
        # whose Filter phase stopped early: (state, shape, _state_token(state)).
        self._last_mask: np.ndarray | None = None
        self._lazy_mask: tuple[ClusterState, PodInfo, tuple[int, ...]] | None = None
        #: A Python policy that chooses the node instead of the scores
        #: (:mod:`k8sim.scheduling.policy`), or None.
        self.policy: Any = None
        self.post_filter: Any = None  # DefaultPreemption, or None when disabled
        # Plugins that implement Reserve (each once, in profile order).
        seen: dict[int, Any] = {}
        for p in [*filters, *(s for s, _ in scores)]:
            if type(p).reserve is not Plugin.reserve:
                seen.setdefault(id(p), p)
        self.reservers = list(seen.values())
        # Plugins with a Permit extension point (k8sim.scheduling.permit), in profile
        # order; empty for every profile without gang scheduling, whose cycles then
        # bind exactly as before.
        self.permit_plugins: list[PermitPlugin] = [p for p in filters if isinstance(p, PermitPlugin)]
        self.record = False  # keep per-plugin scores in decisions (costs time)
        #: Whether ``Decision.feasible`` is read (recorded decisions, the cost model): the
        #: scheduler sets it. False lets a first-fit cycle stop at the first feasible
        #: node (:meth:`_lowest_first`), whose ``feasible`` is then 1.
        self.count_feasible = True
        # Per-node tie-break priority (float[N], higher wins) or None for random ties.
        self.node_priority: NodePriority | None = None
        #: Incremental scheduling (:mod:`k8sim.scheduling.incremental`); False: off.
        self.incremental = True
        self._index_filters()
        # The entry the last mask came from, and its shape (for the scores of that cycle).
        self._entry: Entry | None = None
        self._entry_pod: PodInfo | None = None
        # arange(N) for the sampling, and numFeasibleNodesToFind(N) (see _sample).
        self._indices = np.zeros(0, dtype=np.intp)
        self._want, self._want_for, self._want_n = 0, -1, -1
        # The last sample when it was the nodes start.. of one window, and start: the
        # scores then copy a slice of the cached totals instead of gathering them.
        self._window: tuple[np.ndarray, int] | None = None
        #: Evaluate the filters on windows of nodes, stopping once enough feasible
        #: nodes are found, in a cycle without an incremental entry
        #: (:meth:`_find_windowed`; False: over every node, as with an entry). Both give
        #: the same decisions.
        self.windowed = True
        # (feasible nodes found, nodes visited) by the last windowed cycle: the size of
        # the next one's first window.
        self._density = (0, 0)
        # The filters of the current first-fit cycle that offer filter_blocks.
        self._blocking: list[FilterPlugin] = []
        # The compiled Filter phase (_scan_plan): the last static mask and the read-only
        # masks it was made of, and the buffer the kernel writes the nodes found to.
        self._static: tuple[list[np.ndarray], np.ndarray] | None = None
        self._scan_out = np.zeros(0, dtype=np.intp)
        # The positions of the top totals (kernels.best_of), and the positions in
        # `scores` of NodeResourcesFit and BalancedAllocation when both score cpu and
        # memory alone (their weighted sum then comes from one compiled pass).
        self._best = np.zeros(0, dtype=np.intp)
        self._fit_balanced = _fit_balanced_pair(scores)
        # The tie-break stream and its draw function (_drawer).
        self._draw: tuple[np.random.Generator, Callable[[int], int]] | None = None

    def set_handle(self, handle: Any) -> None:
        """Give every plugin of the profile the run's framework handle
        (:class:`~k8sim.scheduling.handle.FrameworkHandle`)."""
        plugins = [*self.filters, *(s for s, _ in self.scores)]
        if self.post_filter is not None:
            plugins.append(self.post_filter)
        for p in plugins:
            p.handle = handle

    # -- filtering ------------------------------------------------------------------

    def _index_filters(self) -> None:
        """The incremental caches over the node-local filters, and the other filters."""
        self.caches = ShapeCaches(self.filters, self.scores)
        self._global_filters = [f for f in self.filters if not f.node_local]
        # The filters, each with whether it overrides fit_rows (_scan_plan).
        self._fit_forms = [(f, type(f).fit_rows is not FilterPlugin.fit_rows) for f in self.filters]
        # The compiled Filter phase's plans, by PodInfo.spec (_spec_plan).
        self._plans: dict[object, _SpecPlan] = {}

    def add_filter(self, plugin: FilterPlugin) -> None:
        """Append a filter after construction (e.g. GpuFit to a profile read from a
        KubeSchedulerConfiguration); the incremental caches are rebuilt to include it."""
        self.filters.append(plugin)
        self._index_filters()

    def feasible_mask(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        """``bool[N]``: the nodes that pass every filter (a removed node passes none).
        May be a cache's live array: read it before the next cycle, never write it."""
        caches = self.caches
        seen = caches.touch(state, pod)
        if self.incremental and state.nodes.n and caches.wants_entry(seen):
            return self._entry_mask(state, pod)
        # Every filter over every node: with the caches off, and for a shape's first
        # cycle (no entry: see ShapeCaches.wants_entry).
        self._entry = self._entry_pod = None
        return self._every_filter(state, pod)

    def _entry_mask(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        """The mask from the shape's incremental entry, and the filters that are not
        node-local."""
        entry, mask = self.caches.local_mask(state, pod)
        self._entry, self._entry_pod = entry, pod
        for f in self._global_filters:
            if f.pre_filter(state, pod):
                mask = mask & f.filter(state, pod)
        return mask

    def _every_filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        """Every filter over every node, ANDed; a removed node passes none. Changes no
        state of the profile's own."""
        every: np.ndarray | None = None
        owned = False  # `every` is an array of our own (the plugins' may be cached)
        for f in self.filters:
            if not f.pre_filter(state, pod):
                continue
            m = f.filter(state, pod)
            if every is None:
                every = m
            elif owned:
                every &= m
            else:
                every = every & m
                owned = True
        if every is None:
            every = np.ones(state.nodes.n, dtype=bool)
        if state.removed_nodes:
            # A removed node is gone from upstream's snapshot: no filter may pass it.
            every = every & np.isinf(state.nodes.removed_at)
        return every

    @property
    def last_mask(self) -> np.ndarray | None:
        """The last cycle's mask of nodes that pass every filter (``bool[N]``, before
        sampling; with nominated pods' reservations applied). Read-only: it may be a
        plugin's cached array. The action mask of external deciders and policies.

        A cycle whose Filter phase stopped early (:meth:`_find_windowed`) evaluated the
        filters on part of the nodes only: the full mask is then computed here, on
        first reading, from the cluster as the cycle saw it; reading it after the
        cluster changed is an error (it would not be that cycle's mask)."""
        lazy = self._lazy_mask
        if lazy is not None:
            state, pod, token = lazy
            self._lazy_mask = None
            if token != _state_token(state):
                raise RuntimeError(
                    f"profile {self.name!r}: last_mask was read after the cluster changed; read it "
                    "right after the cycle (before binding)")
            self._last_mask = self._every_filter(state, pod)
        return self._last_mask

    @last_mask.setter
    def last_mask(self, mask: np.ndarray | None) -> None:
        self._lazy_mask = None
        self._last_mask = mask

    def nominated_mask(self, state: ClusterState, pod: PodInfo, mask: np.ndarray, pod_id: int) -> np.ndarray:
        """Upstream ``RunFilterPluginsWithNominatedPods``, for resources: on a node where
        preemptors of equal or higher priority are nominated, their requests count as
        used (so lower-priority pods cannot take the room that was freed for them), and
        so do the GPU devices they will take (chosen by the "best" rule)."""
        pods, free = state.pods, state.nodes.free
        reserved: dict[int, np.ndarray] = {}
        gpu_reserved: dict[int, list[int]] = {}
        for other, node in state.nominated.items():
            if other != pod_id and mask[node] and pods.priority[other] >= pod.priority:
                reserved[node] = reserved.get(node, 0) + pods.requests[other]
                if pods.gpu_count[other]:
                    gpu_reserved.setdefault(node, []).append(other)
        if not reserved:
            return mask
        mask = mask.copy()
        rows = pod.requested_rows
        for node, used in reserved.items():
            mask[node] = bool((free[rows, node] - used[rows] >= pod.requests[rows]).all())
            if mask[node] and pod.gpu_count and node in gpu_reserved:
                mask[node] = _gpu_fits_after(state, node, gpu_reserved[node], pod)
        return mask

    def find_feasible(self, state: ClusterState, pod: PodInfo, pod_id: int = -1) -> np.ndarray:
        """Feasible node indices after upstream's sampling; advances the start index."""
        n = state.nodes.n
        if self.incremental and self.windowed and n and not state.nominated and self.policy is None:
            caches = self.caches
            if caches.wants_entry(caches.touch(state, pod)):
                mask = self._entry_mask(state, pod)
            else:
                self._entry = self._entry_pod = None
                if self._want_of(n) < n:
                    return self._find_windowed(state, pod)
                # Every node is searched anyway (percentageOfNodesToScore 100, or
                # fewer than 100 nodes): the full mask, as below.
                mask = self._every_filter(state, pod)
        else:
            mask = self.feasible_mask(state, pod)
            if state.nominated:
                mask = self.nominated_mask(state, pod, mask, pod_id)
        self._last_mask, self._lazy_mask = mask, None  # the last_mask setter, inlined
        if self.incremental and n:
            entry = self._entry
            count = self.caches.count(entry) if entry is not None and mask is entry.mask else -1
            return self._sample(mask, count)
        feasible = np.flatnonzero(mask)
        self.last_visited = n
        if n == 0:
            return feasible
        want = num_feasible_nodes_to_find(n, self.percentage)
        start = self.next_start_node_index
        if feasible.size <= want:
            # Every node was visited: the start index comes back to where it was.
            return feasible
        j = int(np.searchsorted(feasible, start))
        rotated = np.concatenate((feasible[j:], feasible[:j]))
        chosen = rotated[:want]
        processed = (int(chosen[-1]) - start) % n + 1
        self.last_visited = processed
        self.next_start_node_index = (start + processed) % n
        return chosen

    def _sample(self, mask: np.ndarray, count: int = -1) -> np.ndarray:
        """:meth:`find_feasible`'s sampling without listing every feasible node: the
        first ``want`` feasible nodes from the start index on, wrapping around, found
        by scanning growing windows. Same nodes, order and start index. ``count`` is
        the number of True in ``mask`` when known (-1: counted here)."""
        n = mask.size
        self.last_visited = n
        indices = self._indices_of(n)
        want = self._want_of(n)
        if count < 0:
            count = int(np.count_nonzero(mask))
        if count <= want:
            return mask.nonzero()[0]
        start = self.next_start_node_index
        if count == n:
            # Every node passes: upstream's findNodesThatPassFilters visits exactly the
            # `want` nodes from the start index on, all feasible.
            end = start + want
            if end <= n:
                chosen = indices[start:end]
                self._window = (chosen, start)
                self.last_visited = want
                self.next_start_node_index = end % n
                return chosen
            chosen = np.concatenate((indices[start:], indices[:end - n]))
        else:
            # Expected span of `want` feasible nodes, plus a margin; windows double after.
            step = want * n // count + 64
            chosen = _first_true(mask, indices, start, n, want, step)
            if chosen.size < want:
                chosen = np.concatenate((chosen, _first_true(mask, indices, 0, start, want - chosen.size, step)))
        processed = (int(chosen[-1]) - start) % n + 1
        self.last_visited = processed
        self.next_start_node_index = (start + processed) % n
        return chosen

    def _indices_of(self, n: int) -> np.ndarray:
        """``arange(n)``, read-only, kept: samples are cut from it (views when every
        node passes)."""
        indices = self._indices
        if indices.size != n:
            indices = self._indices = np.arange(n)
            indices.flags.writeable = False
        return indices

    def _want_of(self, n: int) -> int:
        """``num_feasible_nodes_to_find(n, percentage)``, kept per ``n`` and percentage."""
        if self._want_for != self.percentage or self._want_n != n:
            self._want = num_feasible_nodes_to_find(n, self.percentage)
            self._want_for, self._want_n = self.percentage, n
        return self._want

    def _window_filters(self, state: ClusterState, pod: PodInfo,
                        blocking: list[FilterPlugin] | None = None) -> Callable[[int, int], np.ndarray]:
        """``(lo, hi) -> bool[hi - lo]``: every filter that does not skip ``pod`` over
        the nodes ``lo..hi-1``, ANDed, a removed node passing none; equal to
        ``_every_filter(state, pod)[lo:hi]``. A plugin with a range form
        (:meth:`FilterPlugin.filter_range` overridden) is asked for each range; any
        other runs :meth:`FilterPlugin.filter` once, here, and its mask is sliced (so
        every plugin's ``pre_filter`` and ``filter`` run as often as in a full cycle).
        ``blocking``, when given, is set to the filters that do not skip ``pod`` and
        offer :meth:`FilterPlugin.filter_blocks`."""
        ranged: list[FilterPlugin] = []
        whole: np.ndarray | None = None
        owned = False
        if blocking is not None:
            blocking.clear()
        for f in self.filters:
            if not f.pre_filter(state, pod):
                continue
            if blocking is not None and type(f).filter_blocks is not FilterPlugin.filter_blocks:
                blocking.append(f)
            if type(f).filter_range is not FilterPlugin.filter_range:
                ranged.append(f)
                continue
            m = f.filter(state, pod)
            if whole is None:
                whole = m
            elif owned:
                whole &= m
            else:
                whole = whole & m
                owned = True
        removed = state.nodes.removed_at if state.removed_nodes else None

        def window(lo: int, hi: int) -> np.ndarray:
            out: np.ndarray | None = None
            own = False
            for f in ranged:
                m = f.filter_range(state, pod, lo, hi)
                if out is None:
                    out = m
                elif own:
                    out &= m
                else:
                    out = out & m
                    own = True
            if whole is not None:
                out = whole[lo:hi] if out is None else out & whole[lo:hi]
            if out is None:
                out = np.ones(hi - lo, dtype=bool)
            if removed is not None:
                out = out & np.isinf(removed[lo:hi])
            return out

        return window

    def _compiled(self) -> bool:
        """Whether this cycle takes the compiled kernels (:mod:`k8sim.scheduling.kernels`):
        they are enabled and the profile has run :data:`kernels.AFTER` cycles without an
        entry (one-off shapes). The same decisions either way."""
        return kernels.enabled and self.caches.direct >= kernels.AFTER

    def _spec_plan(self, state: ClusterState, pod: PodInfo) -> _SpecPlan:
        """What the compiled Filter phase asks the filters for every shape of
        ``pod.spec`` (shapes that differ in their requests only) while the node table's
        ``version`` stays. A filter is

        - left out when it declares :attr:`~FilterPlugin.skips_without` and every field
          it names is empty for the pod (its ``pre_filter`` would return False);
        - asked here, once, when its answers cannot depend on the requests or on what
          bound pods use (``node_local``, neither ``reads_usage`` nor
          ``reads_requests``, no ``fit_rows``): its mask (if its ``pre_filter`` does not
          skip the pod) goes into the plan's ``static`` mask, with the removed nodes;
        - else asked every cycle (:attr:`_SpecPlan.ask`, in profile order)."""
        nodes = state.nodes
        plan = self._plans.get(pod.spec)
        if plan is not None and plan.nodes is nodes and plan.version == nodes.version and plan.n == nodes.n:
            return plan
        static: np.ndarray | None = None
        ask: list[tuple[FilterPlugin, bool]] = []
        for f, has_form in self._fit_forms:
            names = f.skips_without
            if names and not any(getattr(pod, name) for name in names):
                continue
            if f.node_local and not f.reads_usage and not f.reads_requests and not has_form:
                if f.pre_filter(state, pod):
                    m = f.filter(state, pod)
                    static = m.copy() if static is None else np.logical_and(static, m, out=static)
                continue
            ask.append((f, has_form))
        if state.removed_nodes:
            removed = np.isinf(nodes.removed_at)
            static = removed if static is None else np.logical_and(static, removed, out=static)
        if static is None:
            static = np.ones(nodes.n, dtype=bool)
        static.flags.writeable = False
        if len(self._plans) >= PLANS_KEPT:
            self._plans.clear()
        plan = self._plans[pod.spec] = _SpecPlan(nodes, nodes.version, nodes.n, static, ask)
        return plan

    def _scan_plan(self, state: ClusterState, pod: PodInfo
                   ) -> tuple[FilterPlugin | None, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The Filter phase of a cycle without an entry, for the compiled kernels
        (:mod:`k8sim.scheduling.kernels`): ``(fit, table, rows, need, static)``, where a
        node passes every filter exactly when ``static`` is True at it and
        ``table[r, node] >= need[r]`` for every ``r`` in ``rows``. ``fit`` is the first
        filter that does not skip the pod and offers :meth:`FilterPlugin.fit_rows`
        (NodeResourcesFit), or None (no rows then); every other such filter's
        :meth:`FilterPlugin.filter` mask goes into ``static``, and so do the removed
        nodes. The filters whose answers are the same for every shape of the pod's
        ``spec`` are asked once per spec and node table version (:meth:`_spec_plan`);
        the others' ``pre_filter`` runs once per cycle, as in a full cycle.

        ``static`` is kept while the masks it is made of are the same read-only arrays
        (plugins' cached masks, never written), so a template's shapes share it."""
        plan = self._spec_plan(state, pod)
        fit: FilterPlugin | None = None
        table, rows, need = _NO_TABLE, _NO_ROWS, _NO_NEED
        masks: list[np.ndarray] | None = None
        for f, has_form in plan.ask:
            if not f.pre_filter(state, pod):
                continue
            if fit is None and has_form:
                form = f.fit_rows(state, pod)
                if form is not None:
                    fit = f
                    table, rows, need = form
                    continue
            if masks is None:
                masks = [plan.static]
            masks.append(f.filter(state, pod))
        if masks is None:
            return fit, table, rows, need, plan.static
        kept = self._static
        if kept is not None and len(kept[0]) == len(masks):
            for a, b in zip(kept[0], masks, strict=True):
                if a is not b:
                    break
            else:
                return fit, table, rows, need, kept[1]
        static = masks[0].copy()
        for m in masks[1:]:
            np.logical_and(static, m, out=static)
        if all(not m.flags.writeable for m in masks):
            static.flags.writeable = False
            self._static = (masks, static)
        else:
            self._static = None
        return fit, table, rows, need, static

    def _find_scanned(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        """:meth:`_find_windowed` with the compiled Filter phase
        (:func:`k8sim.scheduling.kernels.scan`): the nodes from the start index on,
        wrapping around, until one more than ``want`` pass; the same nodes, start
        index and :attr:`last_visited`."""
        n = state.nodes.n
        indices = self._indices_of(n)
        want = self._want_of(n)
        start = self.next_start_node_index
        _, table, rows, need, static = self._scan_plan(state, pod)
        self._lazy_mask = (state, pod, _state_token(state))
        self._last_mask = None
        out = self._scan_out
        if out.size < n + 1:
            out = self._scan_out = np.zeros(n + 1, dtype=np.intp)
        count, before = kernels.scan(table, rows, need, static, start, want + 1, out)
        if count <= want:
            # At most `want` feasible nodes: every node was visited, the start index
            # stays, and the nodes come in index order (as _sample gives them).
            self.last_visited = n
            if before < count:
                return np.concatenate((out[before:count], out[:before]))
            return out[:count].copy()
        first, last = int(out[0]), int(out[want - 1])
        if last - first == want - 1:
            # Consecutive nodes: a view of the kept arange, as _sample gives.
            chosen = indices[first:last + 1]
        else:
            chosen = out[:want].copy()
        processed = (last - start) % n + 1
        self.last_visited = processed
        self.next_start_node_index = (start + processed) % n
        return chosen

    def _find_windowed(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        """:meth:`find_feasible` for a cycle without an incremental entry and without
        nominated pods: upstream ``findNodesThatPassFilters`` (``schedule_one.go``)
        checks nodes round-robin from ``nextStartNodeIndex`` and stops once it has found
        ``numFeasibleNodesToFind`` feasible nodes; this evaluates the filters on
        windows of nodes from the start index on (growing, wrapping around) and stops
        once it has found one more than that, so the filters run over a fraction of
        the nodes when most pass. The same nodes in the same order, the same start
        index and :attr:`last_visited` as sampling the full mask (:meth:`_sample`):
        more than ``want`` feasible nodes give the first ``want`` in rotated order,
        fewer or exactly ``want`` (every node then evaluated) all of them ascending.
        :attr:`last_mask` is computed when read (see there)."""
        if self._compiled():
            return self._find_scanned(state, pod)
        n = state.nodes.n
        indices = self._indices_of(n)
        want = self._want_of(n)
        start = self.next_start_node_index
        window = self._window_filters(state, pod)
        self._lazy_mask = (state, pod, _state_token(state))
        self._last_mask = None
        need = want + 1
        # The first window: the span the last windowed cycle needed per feasible node.
        found, scanned = self._density
        step = need * scanned // found + 64 if found else need + 64
        parts: list[np.ndarray] = []
        got = 0
        lo, hi = start, n
        wrapped = -1  # parts[wrapped:] lie before the start index
        while True:
            end = lo + step
            if end > hi:
                end = hi
            idx = indices[lo:end][window(lo, end)]
            if idx.size:
                parts.append(idx)
                got += idx.size
            lo = end
            step *= 2
            if got >= need:
                break
            if lo >= hi:
                if wrapped >= 0 or start == 0:
                    break
                wrapped = len(parts)
                lo, hi = 0, start
        visited = (lo - start) % n if got >= need else n
        self._density = (got, visited if visited else n)
        if got < need:
            # At most `want` feasible nodes: every node was visited, the start index
            # stays, and the nodes come in index order (as _sample gives them).
            self.last_visited = n
            if wrapped > 0:
                parts = parts[wrapped:] + parts[:wrapped]
            if not parts:
                return np.zeros(0, dtype=np.intp)
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        found_nodes = parts[0] if len(parts) == 1 else np.concatenate(parts)
        chosen = found_nodes[:want]
        first, last = int(chosen[0]), int(chosen[-1])
        if last - first == want - 1:
            # Consecutive nodes (every node passed; a wrap would make last < first): a
            # view of the kept arange, as _sample gives, which a kept decision shares.
            chosen = indices[first:last + 1]
        elif self.record and found_nodes.size > want:
            # A recorded decision keeps its candidates: not the nodes found beyond them.
            chosen = chosen.copy()
        processed = (int(chosen[-1]) - start) % n + 1
        self.last_visited = processed
        self.next_start_node_index = (start + processed) % n
        return chosen

    # -- the cycle ------------------------------------------------------------------

    def schedule(self, state: ClusterState, pod: PodInfo, pod_id: int = -1) -> Decision:
        """Run one cycle; the caller binds the pod if ``node >= 0``.

        A pod with a nominated node (an earlier preemption) is tried there first and
        bound to it if it passes the filters (upstream ``evaluateNominatedNode``).
        """
        nominated = state.nominated.get(pod_id) if state.nominated else None
        if nominated is not None:
            ok = self.feasible_mask(state, pod)
            ok = self.nominated_mask(state, pod, ok, pod_id)
            self.last_mask = ok
            if ok[nominated]:
                self.last_visited = 1  # upstream evaluateNominatedNode filters that node only
                return Decision(nominated, 1)
        elif len(self.scores) == 1 and self.scores[0][0].lowest_index_wins and self.scores[0][1] > 0 \
                and not self.count_feasible and not self.record and self.policy is None and not state.nominated \
                and self.incremental and self.windowed and state.nodes.n \
                and type(self.scores[0][0]).pre_score is ScorePlugin.pre_score \
                and self._want_of(state.nodes.n) >= state.nodes.n:
            return self._lowest_first(state, pod)
        candidates = self.find_feasible(state, pod, pod_id)
        k = candidates.size
        if k == 0:
            return Decision(-1, 0, rejectors=self.rejectors(state, pod))
        if k == 1:
            return Decision(int(candidates[0]), 1)
        if not self.scores:
            if self.node_priority is not None:
                return Decision(int(candidates[self.node_priority.best(candidates)]), k)
            return Decision(int(candidates[self.rng.integers(k)]), k)
        totals, per_plugin = self.weighted_scores(state, pod, candidates, shared=True)
        # The positions of the top total: one compiled pass, or argmax and one
        # comparison (cheaper than a max reduction at these sizes, and against the numpy
        # scalar cheaper than against a Python int).
        if self._compiled():
            best = self._best
            if best.size < k:
                best = self._best = np.zeros(candidates.size, dtype=np.intp)
            size = kernels.best_of(totals, best)
            best = best[:size]
        else:
            best = (totals == totals[totals.argmax()]).nonzero()[0]
            size = best.size
        if size == 1:
            pick = best[0]
        elif self.node_priority is not None:
            pick = best[self.node_priority.best(candidates[best])]
        else:
            # tie_break(self.rng, size), its draw function kept per profile.
            draw = self._draw
            if draw is None or draw[0] is not self.rng:
                draw = self._draw = (self.rng, _drawer(self.rng))
            pick = best[draw[1](size) if size <= _UINT32 else int(self.rng.integers(size))]
        if self.record:
            return Decision(int(candidates[pick]), k, candidates, totals, per_plugin)
        return Decision(int(candidates[pick]), k)

    def _lowest_first(self, state: ClusterState, pod: PodInfo) -> Decision:
        """:meth:`schedule` when the only score plugin makes the feasible node of lowest
        index win (:attr:`ScorePlugin.lowest_index_wins`, FirstFit) and every node is
        searched: that node is the decision, found without scoring. Its scores would
        be one unique top total (no tie-break draw) and the start index stays (every
        node is visited), so the node, the start index and the random streams are
        those of the scored cycle. With an incremental entry the mask is at hand (and
        ``feasible`` exact); without one the filters run on windows of nodes from
        node 0 up to the first feasible node, and ``feasible`` is 1: taken only when
        nothing reads it (:attr:`count_feasible` False)."""
        n = state.nodes.n
        self.last_visited = n  # upstream searches every node (percentage 100)
        caches = self.caches
        if caches.wants_entry(caches.touch(state, pod)):
            mask = self._entry_mask(state, pod)
            self.last_mask = mask
            first = int(mask.argmax())
            if not mask[first]:
                return Decision(-1, 0, rejectors=self.rejectors(state, pod))
            entry = self._entry
            count = self.caches.count(entry) if entry is not None and mask is entry.mask else -1
            return Decision(first, count if count >= 0 else int(np.count_nonzero(mask)))
        self._entry = self._entry_pod = None
        if self._compiled():
            fit, table, rows, need, static = self._scan_plan(state, pod)
            self._lazy_mask = (state, pod, _state_token(state))
            self._last_mask = None
            top = fit.fit_block_max(state) if fit is not None else None
            if top is None:  # no maxima: no block is skipped
                top = np.full((table.shape[0], -(-n // FILTER_BLOCK)), np.iinfo(np.int64).max, dtype=np.int64)
            node = kernels.first_fit(table, rows, need, static, top, FILTER_BLOCK)
            if node >= 0:
                return Decision(int(node), 1)
            return Decision(-1, 0, rejectors=self.rejectors(state, pod))
        blocks: np.ndarray | None = None
        window = self._window_filters(state, pod, self._blocking)
        self._lazy_mask = (state, pod, _state_token(state))
        self._last_mask = None
        for f in self._blocking:
            b = f.filter_blocks(state, pod)
            if b is not None:
                blocks = b if blocks is None else blocks & b
        if blocks is not None:
            # Only the blocks no filter rules out, in index order: the first block, then
            # ranges over the next 2, 4, ... of them.
            candidates = np.flatnonzero(blocks)
            i, k = 0, 1
            while i < candidates.size:
                j = min(i + k, candidates.size)
                lo = int(candidates[i]) * FILTER_BLOCK
                end = min((int(candidates[j - 1]) + 1) * FILTER_BLOCK, n)
                m = window(lo, end)
                first = int(m.argmax())
                if m[first]:
                    return Decision(lo + first, 1)
                i = j
                k *= 2
            return Decision(-1, 0, rejectors=self.rejectors(state, pod))
        lo, step = 0, 64
        while lo < n:
            end = lo + step
            if end > n:
                end = n
            m = window(lo, end)
            first = int(m.argmax())
            if m[first]:
                return Decision(lo + first, 1)
            lo = end
            step *= 2
        return Decision(-1, 0, rejectors=self.rejectors(state, pod))

    def filter_only(self, state: ClusterState, pod: PodInfo, pod_id: int = -1) -> Decision:
        """The Filter phase alone, for a caller that chooses the node itself (the
        step API without suggestions): no sampling, no scores, no tie-break draw.
        ``node`` is the pod's nominated node if it passes, else the first feasible
        node (-1 and the rejectors when none is); :attr:`last_mask` is set."""
        mask = self.feasible_mask(state, pod)
        if state.nominated:
            mask = self.nominated_mask(state, pod, mask, pod_id)
        self.last_mask = mask
        self.last_visited = state.nodes.n
        nominated = state.nominated.get(pod_id) if state.nominated else None
        if nominated is not None and mask[nominated]:
            return Decision(nominated, int(mask.sum()))
        first = int(mask.argmax()) if mask.size else 0
        if mask.size == 0 or not mask[first]:
            return Decision(-1, 0, rejectors=self.rejectors(state, pod))
        return Decision(first, int(mask.sum()))

    #: The shortcuts of unrecorded cycles without an entry (a plugin whose
    #: ``uniform_score`` holds is left out of the totals); False scores every plugin.
    score_shortcuts = True

    def weighted_scores(
        self, state: ClusterState, pod: PodInfo, candidates: np.ndarray, shared: bool = False
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The weighted totals of the candidates, and the normalised scores per plugin
        when recorded. ``shared``: the totals may be a view of a cache (to be read
        before the next cycle, never written), as the cycle itself reads them.

        An unrecorded cycle's totals may leave out a term that is the same on every
        candidate (an entry's uniform scores, a plugin's ``uniform_score``): they then
        differ from the full sums by one constant, which changes neither the best total
        nor the ties."""
        per_plugin: dict[str, np.ndarray] = {}
        view = False  # total is a view of the entry's fused totals (not to be written)
        raw = None
        entry = self._entry
        if entry is not None and self.incremental and pod is self._entry_pod and self.caches.current(entry, state):
            raw = self.caches.raw_scores(entry, state, pod)
        if raw is None:
            # No entry (a shape's first cycle, or caches off): every plugin over the
            # candidates, the node columns they share gathered once (CandidateColumns).
            record = self.record
            shortcuts = self.score_shortcuts and not record
            columns = CandidateColumns(state.nodes, candidates)
            columns.compiled = compiled = self._compiled()
            sum_: np.ndarray | None = None
            pair = self._fit_balanced if shortcuts and compiled else None
            if pair is not None:
                sum_, pair = self._fused_fit_balanced(state, pod, candidates, pair)
            for i, (plugin, weight) in enumerate(self.scores):
                if pair is not None and (i == pair[0] or i == pair[1]):
                    continue  # in sum_ already, their pre_score run
                if not plugin.pre_score(state, pod):
                    continue
                if shortcuts and plugin.uniform_score(state, pod):
                    continue  # the same term on every candidate: see the docstring
                s = plugin.normalize(pod, plugin.score_with(state, pod, candidates, columns))
                if not plugin.scores_bounded:
                    check_score_range(s, plugin.name)
                if sum_ is None and s.dtype == _INT64:
                    sum_ = s * weight  # a new array (s may be a plugin's own)
                else:
                    if sum_ is None:
                        sum_ = np.zeros(candidates.size, dtype=np.int64)
                    sum_ += s if weight == 1 else s * weight
                if record:
                    per_plugin[plugin.name] = s
            if sum_ is None:
                sum_ = np.zeros(candidates.size, dtype=np.int64)
            return sum_, per_plugin
        # The entry's shortcuts leave out per-plugin scores: not when recording them.
        fast = raw is not None and not self.record
        if fast and entry is not None and entry.fused:
            # The fused plugins' weighted sum first (int64 sums do not depend on order),
            # then the others only (kept per entry while its fused set stays).
            window = self._window
            if window is not None and window[0] is candidates:
                total = entry.fused_total[window[1]:window[1] + candidates.size]
                view = True
            else:
                total = entry.fused_total[candidates]
            rest = entry.rest
            if rest is None:
                fused = entry.fused
                rest = entry.rest = [(i, p, w) for i, (p, w) in enumerate(self.scores) if i not in fused]
        else:
            total = np.zeros(candidates.size, dtype=np.int64)
            rest = [(i, p, w) for i, (p, w) in enumerate(self.scores)]
        for i, plugin, weight in rest:
            if raw is not None and i in raw:
                cached = raw[i]
                if cached is None:
                    continue  # PreScore skips this shape
                if fast:
                    assert entry is not None
                    if i in entry.fused:
                        continue  # in the total already
                    value = entry.uniform.get(i)
                    if value is not None:
                        term = entry.memo.get((i, candidates.size), _MISSING)
                        if term is _MISSING:
                            term = self._uniform_term(entry, pod, i, plugin, weight, value, candidates.size)
                        if term is not None:
                            if view:
                                total, view = total + term, False
                            else:
                                total += term
                        continue
                scores = cached[candidates]
            elif not plugin.pre_score(state, pod):
                continue
            else:
                scores = plugin.score(state, pod, candidates)
            s = plugin.normalize(pod, scores)
            check_score_range(s, plugin.name)
            if view:
                total, view = total + s * weight, False
            else:
                total += s * weight
            if self.record:
                per_plugin[plugin.name] = s
        if view and not shared:
            total = total.copy()
        return total, per_plugin

    def _fused_fit_balanced(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray,
                            pair: tuple[int, int]) -> tuple[np.ndarray | None, tuple[int, int] | None]:
        """NodeResourcesFit's and BalancedAllocation's weighted scores of an unrecorded
        cycle in one compiled pass (:func:`k8sim.scheduling.kernels.fit_and_balanced`):
        ``(their sum, pair)`` when both score the pod, else ``(None, None)`` and the
        plugins are scored one by one (as when a candidate lacks allocatable cpu or
        memory). Both plugins' ``pre_score`` run here, once, in profile order."""
        (fit, w_fit), (balanced, w_balanced) = self.scores[pair[0]], self.scores[pair[1]]
        first, second = (fit, balanced) if pair[0] < pair[1] else (balanced, fit)
        if not first.pre_score(state, pod) or not second.pre_score(state, pod):
            return None, None
        nodes = state.nodes
        weights = fit._cpu_mem_weights  # type: ignore[attr-defined]
        out = np.empty(candidates.size, dtype=np.int64)
        if kernels.fit_and_balanced(nodes.alloc, nodes.nonzero_requested, nodes.requested, candidates, pod.nonzero,
                                    pod.requests, weights[0], weights[1],
                                    fit.strategy == "MostAllocated",  # type: ignore[attr-defined]
                                    w_fit, w_balanced, out):
            return out, pair
        return None, None

    @staticmethod
    def _uniform_term(entry: Entry, pod: PodInfo, i: int, plugin: ScorePlugin, weight: int, value: int,
                      k: int) -> np.ndarray | None:
        """``weight * normalize(k scores all equal to value)``, kept per ``(i, k)``; None
        when that is the same on every candidate, which adds the same to every total
        and so changes neither the best total nor the ties (the totals of an unrecorded
        cycle are not kept)."""
        key = (i, k)
        if key in entry.memo:
            return entry.memo[key]
        s = plugin.normalize(pod, np.full(k, value, dtype=np.int64))
        check_score_range(s, plugin.name)
        term: np.ndarray | None = s * weight
        if k and term is not None and term.min() == term.max():
            term = None
        if len(entry.memo) >= 64:
            entry.memo.clear()
        entry.memo[key] = term
        return term

    def rejectors(self, state: ClusterState, pod: PodInfo) -> frozenset[str]:
        """Plugins that were the first to reject at least one node (upstream's
        ``UnschedulablePlugins``: filters run in order and stop at a node's first failure)."""
        alive = np.ones(state.nodes.n, dtype=bool)
        out = set()
        for f in self.filters:
            if not f.pre_filter(state, pod):
                continue
            ok = f.filter(state, pod)
            if (alive & ~ok).any():
                out.add(f.name)
            alive &= ok
        return frozenset(out)

    def diagnose(self, state: ClusterState, pod: PodInfo) -> str:
        """Upstream-style ``FailedScheduling`` message: which filter rejected how many.

        Each node is charged to the first filter that rejects it, as upstream stops
        at the first failing Filter plugin for a node. The "<count> <reason>" parts are
        sorted as strings, as upstream's ``FitError.Error`` (``sortReasonsHistogram``,
        ``pkg/scheduler/framework/types.go``) sorts them, so "12 Insufficient cpu"
        comes before "3 node(s) ...".
        """
        n = state.nodes.n
        alive = np.ones(n, dtype=bool)
        counts: dict[str, int] = {}
        for f in self.filters:
            if not f.pre_filter(state, pod):
                continue
            ok = f.filter(state, pod)
            rejected = np.flatnonzero(alive & ~ok)
            for reason, c in f.reasons(state, pod, rejected).items():
                counts[reason] = counts.get(reason, 0) + c
            alive &= ok
        feasible = int(alive.sum())
        parts = ", ".join(sorted(f"{c} {r}" for r, c in counts.items()))
        return f"{feasible}/{n} nodes are available: {parts}." if parts else f"{feasible}/{n} nodes are available."


def _fit_balanced_pair(scores: list[tuple[ScorePlugin, int]]) -> tuple[int, int] | None:
    """The positions in ``scores`` of NodeResourcesFit (LeastAllocated or MostAllocated
    over cpu and memory) and NodeResourcesBalancedAllocation (cpu and memory), the
    classes themselves, once each: their sum can come from one compiled pass. None
    otherwise."""
    from k8sim.scheduling.plugins.balanced_allocation import NodeResourcesBalancedAllocation
    from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit

    fits = [i for i, (p, _) in enumerate(scores) if type(p) is NodeResourcesFit]
    balanced = [i for i, (p, _) in enumerate(scores) if type(p) is NodeResourcesBalancedAllocation]
    if len(fits) != 1 or len(balanced) != 1:
        return None
    fit = cast(NodeResourcesFit, scores[fits[0]][0])
    ba = cast(NodeResourcesBalancedAllocation, scores[balanced[0]][0])
    if fit.strategy == "RequestedToCapacityRatio" or fit._cpu_mem_weights is None or not ba._cpu_mem:
        return None
    return fits[0], balanced[0]


def _state_token(state: ClusterState) -> tuple[int, ...]:
    """What moves whenever a filter's result may change: binds and releases, node
    updates, nominations, volumes (``generation``) and the node table itself."""
    return (state.generation, state.usage_journal.end, state.node_journal.end, state.nodes.n,
            state.nodes.version, id(state.nodes))


def _gpu_fits_after(state: ClusterState, node: int, nominated: list[int], pod: PodInfo) -> bool:
    """Whether ``pod`` still finds its GPU devices on ``node`` once the ``nominated``
    preemptors have taken theirs (each by the "best" rule, in order)."""
    free = state.nodes.gpu_free[node].copy()
    pods = state.pods
    for other in nominated:
        count, milli = int(pods.gpu_count[other]), int(pods.gpu_milli[other])
        if milli < GPU_MILLI:
            fits = np.flatnonzero(free >= milli)
            if fits.size:
                free[fits[np.argmin(free[fits])]] -= milli
        else:
            idle = np.flatnonzero(free == GPU_MILLI)[:count]
            free[idle] = 0
    return int((free >= pod.gpu_milli).sum()) >= pod.gpu_count


class NodePriority:
    """A random priority per node, drawn once from ``rng`` (more drawn as nodes are
    added); :meth:`best` picks the node of highest priority among some.

    The ``tieBreak: nodePriority`` rule: one instance per run, shared by every profile,
    so all profiles prefer the same nodes. Owns ``values`` (``float[M]``, ``M`` at least
    the highest node index asked about); ``values[n]`` is the ``n``-th draw of ``rng``
    (blocks are drawn in sequence, at least 1024 at a time) and never changes, as node
    rows are never reused: it depends on the seed only, not on which pods asked when.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.values = np.zeros(0)

    def best(self, nodes: np.ndarray) -> int:
        """Index into ``nodes`` of the one with the highest priority."""
        top = int(nodes.max()) + 1
        if top > self.values.size:
            self.values = np.concatenate([self.values, self.rng.random(max(top - self.values.size, 1024))])
        return int(np.argmax(self.values[nodes]))


#: A value no cache holds.
_MISSING: Any = object()

#: Per bit generator (by id; the generator is kept with it, so the id is not reused):
#: the generator and its draw function, or None when only ``integers`` will do.
_DRAWS: dict[int, tuple[Any, Any]] = {}
_UINT32 = 0xFFFFFFFF


def tie_break(rng: np.random.Generator, k: int) -> int:
    """``int(rng.integers(k))``, the same value and the same stream position, without
    numpy's per-call argument handling (a few microseconds, a tenth of a cycle).

    ``Generator.integers`` draws a scalar below ``2**32`` by Lemire's method on the bit
    generator's 32-bit outputs (numpy ``random/src/distributions/distributions.c``,
    ``random_bounded_uint64_fill`` and ``buffered_bounded_lemire_uint32``); this does
    the same through the bit generator's own ``next_uint32`` (its ``ctypes``
    interface). It is used only after a self-check on copies of the generator gives
    ``integers``' values and end state for a range of ``k``; otherwise, and for larger
    ``k``, ``rng.integers`` itself is called."""
    if k > _UINT32:
        return int(rng.integers(k))
    return _drawer(rng)(k)


def _drawer(rng: np.random.Generator) -> Callable[[int], int]:
    """:func:`tie_break` for ``rng`` as a function of ``k <= 2**32 - 1``: the Lemire draw
    (kept per bit generator), or ``rng.integers`` when the self-check failed."""
    bg = rng.bit_generator
    kept = _DRAWS.get(id(bg))
    if kept is None or kept[0] is not bg:
        if len(_DRAWS) >= 64:
            _DRAWS.clear()
        kept = _DRAWS[id(bg)] = (bg, _lemire_draw(rng))
    draw: Callable[[int], int] | None = kept[1]
    if draw is None:
        return lambda k: int(rng.integers(k))
    return draw


def _lemire(next_uint32: Any, state: Any) -> Any:
    def draw(k: int) -> int:
        if k == 1:
            return 0  # a range of one value draws nothing
        m = next_uint32(state) * k
        low = m & _UINT32
        if low < k:
            threshold = (_UINT32 - (k - 1)) % k
            while low < threshold:
                m = next_uint32(state) * k
                low = m & _UINT32
        return int(m >> 32)

    return draw


def _lemire_draw(rng: np.random.Generator) -> Any:
    """The Lemire draw for ``rng``'s bit generator, or None if it does not reproduce
    ``rng.integers`` exactly (a numpy that draws otherwise, or no ctypes interface)."""
    bg = rng.bit_generator
    try:
        reference = np.random.Generator(type(bg)())
        probe = type(bg)()
        reference.bit_generator.state = probe.state = bg.state
        interface = probe.ctypes
        draw = _lemire(interface.next_uint32, interface.state)
        ks = [1, 2, 3, 2, 5, 7, 1, 100, 3, 1000, 12345, 3, 2**31 + 1, 2**32 - 1, 6, 2**20 + 7, 2, 9]
        for k in ks * 4:
            if draw(k) != int(reference.integers(k)):
                return None
        if probe.state != reference.bit_generator.state:
            return None
        interface = bg.ctypes
        return _lemire(interface.next_uint32, interface.state)
    except Exception:  # noqa: BLE001 - any failure: numpy's own integers() is used
        return None


def _first_true(mask: np.ndarray, indices: np.ndarray, lo: int, hi: int, k: int, step: int) -> np.ndarray:
    """The first ``k`` indices in ``[lo, hi)`` where ``mask`` is True (fewer if there are
    not that many), ascending; windows of ``step`` nodes, doubling. ``indices`` is
    ``arange(mask.size)``: a window's indices are selected from it by the mask (one
    numpy call, where nonzero and a shift are two)."""
    parts = []
    got = 0
    while lo < hi and got < k:
        end = lo + step
        if end > hi:
            end = hi
        idx = indices[lo:end][mask[lo:end]]
        if idx.size:
            parts.append(idx)
            got += idx.size
        lo = end
        step *= 2
    if not parts:
        return np.zeros(0, dtype=np.intp)
    out = parts[0] if len(parts) == 1 else np.concatenate(parts)
    return out[:k]


def check_score_range(scores: np.ndarray, plugin: str) -> None:
    """Raise if a plugin's normalised scores leave ``[0, MAX_NODE_SCORE]``."""
    if not scores.size:
        return
    if scores.dtype == _INT64:
        # Read as unsigned, a negative int64 is above 2**63: one reduction for both bounds
        # (the ufunc's reduce itself, without ndarray.max's Python wrapper).
        if _MAX_REDUCE(scores.view(_UINT64), None) <= MAX_NODE_SCORE:
            return
    elif not (scores.min() < 0 or scores.max() > MAX_NODE_SCORE):
        return
    raise ValueError(
        f"plugin {plugin} returned scores outside [0, {MAX_NODE_SCORE}]: "
        f"[{scores.min()}, {scores.max()}]"
    )
