"""Plugin base classes: array functions over all nodes at once.

A Filter plugin returns ``bool[N]`` over every node (True = the node passes). A Score
plugin returns ``int64[K]`` for the ``K`` candidate node indices it is given; after its
``normalize`` every score must lie in ``[0, MAX_NODE_SCORE]``. No plugin loops over
nodes in Python.

Plugins are configured by a pydantic ``Args`` model whose fields use upstream's
``pluginConfig`` spelling (e.g. ``scoringStrategy``), and are registered by name in
:mod:`k8sim.scheduling.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np
from pydantic import BaseModel

if TYPE_CHECKING:
    from k8sim.cluster.nodes import NodeTable
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.handle import FrameworkHandle
    from k8sim.scheduling.plugins.shared import CandidateColumns
    from k8sim.scheduling.podinfo import PodInfo

#: Upstream ``framework.MaxNodeScore``.
MAX_NODE_SCORE = 100
#: Upstream ``framework.MinNodeScore``.
MIN_NODE_SCORE = 0
#: Nodes per block of :meth:`FilterPlugin.filter_blocks`.
FILTER_BLOCK = 64
#: Upstream ``fwk.Unschedulable``: the node may fit once other pods leave (preemption may help).
UNSCHEDULABLE = "Unschedulable"
#: Upstream ``fwk.UnschedulableAndUnresolvable``: removing pods cannot make the node fit.
UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"


class NodeRow(NamedTuple):
    """One node's resource columns as Python ints, read once and shared by the
    one-node functions of every plugin and shape (:meth:`FilterPlugin.filter_row`,
    :meth:`ScorePlugin.score_row`): ``free[r]``, ``requested[r]`` and ``alloc[r]`` are
    ``nodes.free[r, node]``, ``nodes.requested[r, node]`` and ``nodes.alloc[r, node]``
    for every resource row ``r``, ``nonzero[r]`` is ``nodes.nonzero_requested[r, node]``
    (cpu and memory)."""

    node: int
    free: list[int]
    requested: list[int]
    alloc: list[int]
    nonzero: list[int]

    @classmethod
    def read(cls, nodes: NodeTable, node: int) -> NodeRow:
        """The row of ``node`` as it is now."""
        # tuple.__new__ directly: the NamedTuple's own __new__ is a Python function.
        return tuple.__new__(cls, (node, nodes.free[:, node].tolist(), nodes.requested[:, node].tolist(),
                                   nodes.alloc[:, node].tolist(), nodes.nonzero_requested[:, node].tolist()))


#: The node columns a :class:`RowCode` may read, as ``name[r]`` with a literal row ``r``
#: (:class:`NodeRow`'s lists).
ROW_COLUMNS = ("free", "requested", "alloc", "nonzero")


class RowCode(NamedTuple):
    """A ``node_local`` plugin's one-node Filter or Score step as Python source, the one
    copy of that arithmetic from which both its :class:`NodeRow` function
    (:func:`row_function`) and the incremental caches' fused update of a changed node
    (one generated function per shape for all of its plugins, reading the node columns
    straight from the node table) are made.

    ``source`` is statements that set ``result`` (a bool for a filter, an int for a
    score). They may read ``node`` (the node index), the node's columns as
    ``free[r]``, ``requested[r]``, ``alloc[r]`` and ``nonzero[r]`` with a literal
    integer ``r`` (the values of :class:`NodeRow`), the builtins, and the entries of
    ``names`` (constants and helpers, e.g. the numpy score for a node the source does
    not handle). Every other name it uses it must assign before reading; it must not
    return, loop over nodes or write anything."""

    source: str
    names: dict[str, Any]


def row_function(code: RowCode) -> Callable[[NodeRow], Any]:
    """The function ``(row) -> result`` that runs ``code`` on one :class:`NodeRow`."""
    body = "".join("    " + line + "\n" for line in code.source.splitlines())
    text = "def fn(row):\n    node, free, requested, alloc, nonzero = row\n" + body + "    return result\n"
    return make_function(text, code.names)


#: Compiled factories of :func:`make_function`, by source and names.
_FACTORIES: dict[tuple[str, tuple[str, ...]], Callable[..., Any]] = {}


def make_function(text: str, names: dict[str, Any]) -> Callable[..., Any]:
    """The function ``fn`` that ``text`` defines, its free names bound to ``names`` (as
    closure variables). Compiled once per text and set of names: shapes differ in the
    values only, so a shape seen once costs a call, not a compilation."""
    keys = tuple(sorted(names))
    factory = _FACTORIES.get((text, keys))
    if factory is None:
        inner = "".join("    " + line + "\n" for line in text.splitlines())
        source = f"def factory({', '.join(keys)}):\n{inner}    return fn\n"
        namespace: dict[str, Any] = {}
        exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - k8sim's and its plugins' own code
        if len(_FACTORIES) >= 1024:
            _FACTORIES.clear()
        factory = _FACTORIES[(text, keys)] = namespace["factory"]
    return factory(*[names[k] for k in keys])


@dataclass(frozen=True)
class NodeStatus:
    """What one Filter plugin says about one node it rejects: upstream's ``fwk.Status``
    (``code`` and ``reasons``) plus what upstream attaches beside them, in ``details``
    (e.g. NodeResourcesFit's ``insufficient_resources``, each with the requested, used
    and capacity amounts of upstream's ``InsufficientResource``). Only ``k8sim explain``
    builds these; the scheduling cycle never does."""

    code: str  # UNSCHEDULABLE or UNSCHEDULABLE_AND_UNRESOLVABLE
    reasons: tuple[str, ...]
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.code, "reasons": list(self.reasons), **self.details}


class Plugin:
    """Base of every plugin: what a plugin author implements and may rely on.

    Subclass :class:`FilterPlugin`, :class:`ScorePlugin` or both (one instance then
    serves both extension points). A plugin is an array function over the cluster:

    - Inputs are read-only: ``state`` (``ClusterState``: ``state.nodes`` arrays over all
      ``N`` nodes, resource-major ``[R, N]``; ``state.pods``) and ``pod``
      (:class:`~k8sim.scheduling.podinfo.PodInfo`, one per pod *shape*). A plugin never
      writes to them; only ``reserve`` may change state, through the cluster ops.
    - Work is vectorised: no Python loop over nodes, no ``np.vectorize``. Loops over a
      pod's few terms, resources or containers are fine.
    - Scores are integers. A plugin that reproduces an upstream one uses upstream's
      ``int64`` arithmetic (truncating division) and says in its docstring where it
      differs from upstream.
    - Randomness only from ``self.rng`` (set by :meth:`setup` from the plugin's own
      seeded stream), so a run is reproducible and other plugins' draws do not shift it.
    - Results may be cached on the shape (``pod.mask_cache`` / ``pod.cache``, under a
      key of the plugin's own) only while what they depend on is unchanged: key the
      entry on ``state.nodes.version`` for labels, taints and the node set; bind,
      unbind, Ready and cordon do not move it.

    Class attributes:
        name: the registry name (upstream's name where the semantics match).
        Args: pydantic model of the plugin's arguments (``pluginConfig`` spelling), or
            None if it takes none. A plugin with ``Args`` also declares ``args:
            ThatModel``: ``__init__`` always sets it (to the model's defaults when no args
            are given).
        summary: one line for ``k8sim plugins``.
        events: for filters, the cluster events that can make a pod this plugin rejected
            schedulable again; the queue moves such a pod back only on these (and every
            5 minutes). Declaring too few leaves pods waiting; too many only costs retries.
        node_local: True when the plugin's Filter result and raw Score for node ``n``
            depend only on node ``n``'s column of the node tables (and the pod's shape),
            never on other nodes, on the candidate set, on pods' rows or on the plugin's
            random stream; and ``pre_filter`` / ``pre_score`` depend only on the shape.
            The profile then keeps, per recent pod shape, this plugin's mask and raw
            scores over all nodes and recomputes only the nodes changed since that
            shape's last cycle (:mod:`k8sim.scheduling.incremental`); NormalizeScore
            still runs over each cycle's candidates. Default False: the plugin runs
            every cycle. Declaring it wrongly gives wrong results.
        reads_usage: with ``node_local``, whether the results read what bound pods use
            on the node (``requested``, ``free``, ``nonzero_requested``, ``gpu_free``,
            ``group_counts``), which every bind and release changes; a plugin that reads
            only labels, taints and conditions is recomputed on node updates only.

    One instance per profile entry, built once per run; ``k8sim.scheduling.check.check_plugin``
    tests a plugin against this contract.
    """

    name: ClassVar[str] = ""
    Args: ClassVar[type[BaseModel] | None] = None
    summary: ClassVar[str] = ""
    #: Cluster events that can make a pod this plugin rejected schedulable (upstream
    #: ``EventsToRegister``): PodAdd, PodDelete, NodeAdd, NodeUpdate. Default: all.
    events: ClassVar[frozenset[str]] = frozenset({"PodAdd", "PodDelete", "NodeAdd", "NodeUpdate"})
    #: Filter and raw Score of a node depend on that node's column only (see above).
    node_local: ClassVar[bool] = False
    #: With ``node_local``: the results change when pods bind to or leave the node.
    reads_usage: ClassVar[bool] = True

    def __init__(self, args: BaseModel | None = None) -> None:
        if args is None and self.Args is not None:
            args = self.Args()
        self.args = args
        self.rng: np.random.Generator | None = None
        #: Run-level context (:class:`~k8sim.scheduling.handle.FrameworkHandle`), set by
        #: :meth:`Profile.set_handle` before the first cycle; None outside a run.
        self.handle: FrameworkHandle | None = None

    def setup(self, rng: np.random.Generator) -> None:
        """Called once when the profile is built; ``rng`` is this plugin's own stream."""
        self.rng = rng

    def reserve(self, state: ClusterState, pod: int, info: PodInfo, node: int) -> None:
        """Reserve: called once the node is chosen, just before the pod is bound (e.g. to
        pick devices on the node). Binding itself is k8sim's DefaultBinder."""

    @classmethod
    def parse_args(cls, raw: dict[str, Any] | None) -> BaseModel | None:
        """Validate raw ``args`` (from YAML) into the plugin's ``Args`` model."""
        if cls.Args is None:
            if raw:
                raise ValueError(f"plugin {cls.name} takes no args")
            return None
        return cls.Args.model_validate(raw or {})


class FilterPlugin(Plugin):
    """Decides which nodes can host a pod (PreFilter + Filter extension points).

    ``filter(state, pod)`` returns a numpy ``bool[N]`` over *all* nodes (True: the node
    passes), computed without a Python loop over nodes; the framework ANDs the masks of
    a profile's filters in order. ``pre_filter`` returning False skips the plugin for
    this pod (every node passes it). A node is charged to the first filter that rejects
    it: that filter's ``name`` goes into the pod's rejectors (and so its ``events``
    decide when the pod is retried) and its ``reasons`` into the ``FailedScheduling``
    message. ``reasons(state, pod, rejected)`` maps an upstream-style reason to how
    many of the ``rejected`` node indices it applies to (counts ``>= 0``).
    """

    #: Upstream-style reason for a node this plugin rejects.
    reason: ClassVar[str] = ""
    #: Reasons upstream returns with ``UnschedulableAndUnresolvable`` (preemption cannot
    #: help on that node); any other reason is ``Unschedulable``.
    unresolvable_reasons: ClassVar[frozenset[str]] = frozenset()
    #: Whether ``pre_filter`` or ``filter`` read the pod's requests (``requests``,
    #: ``nonzero``, ``nonzero_bound``, ``requested_rows``, ``req_col``), its ``shape``
    #: id or its count ``group``. False, with ``node_local`` and not ``reads_usage``,
    #: says that shapes which differ in those only (one ``PodInfo.spec``: a trace's
    #: shape per pod) get the same answers while the node table's ``version`` stays:
    #: the compiled Filter phase then asks the plugin once per ``spec`` and node table
    #: version, not once per cycle. Default True (asked every cycle). Declaring it
    #: wrongly gives wrong results; ``check_plugin`` tests it.
    reads_requests: ClassVar[bool] = True
    #: PodInfo fields (e.g. ``("claims",)``): when every one of them is empty (falsy)
    #: for a pod, ``pre_filter`` returns False (upstream's ``Skip``) whatever the cluster
    #: state. The compiled Filter phase then does not ask the plugin for such pods. ()
    #: declares nothing. Declaring it wrongly gives wrong results; ``check_plugin``
    #: tests it.
    skips_without: ClassVar[tuple[str, ...]] = ()

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        """PreFilter: return False when this plugin has nothing to check for this pod
        (upstream ``Skip``); the framework then treats every node as passing it."""
        return True

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        raise NotImplementedError

    def filter_range(self, state: ClusterState, pod: PodInfo, lo: int, hi: int) -> np.ndarray:
        """Filter for the nodes ``lo..hi-1`` only: ``bool[hi - lo]``, equal to
        ``filter(state, pod)[lo:hi]`` (the default computes exactly that). A cycle
        without an incremental entry evaluates the filters on windows of nodes from
        upstream's start index on and stops once it has found enough feasible nodes
        (``findNodesThatPassFilters``); it asks a plugin that overrides this method for
        each window, and runs :meth:`filter` once and slices it for any other. Override
        it when a range costs less than all nodes (a node-local plugin reading its
        nodes' columns); a plugin whose full mask is cached has nothing to gain."""
        return self.filter(state, pod)[lo:hi]

    def filter_blocks(self, state: ClusterState, pod: PodInfo) -> np.ndarray | None:
        """Optional: ``bool[ceil(N / FILTER_BLOCK)]``, False for a block of
        :data:`FILTER_BLOCK` nodes (nodes ``b * FILTER_BLOCK`` up to the next block)
        only when no node of it passes this filter; True promises nothing. A cycle that
        looks for the lowest feasible node (first fit) skips the blocks that some
        filter rules out. None (the default): no such summary."""
        return None

    def fit_rows(self, state: ClusterState, pod: PodInfo) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Optional: ``(table, rows, need)`` such that this filter passes node ``i``
        exactly when ``table[r, i] >= need[r]`` for every ``r`` in ``rows``
        (``int64[R, N]``, ``intp[k]``, ``int64[R]``), read but never written. A cycle
        without an incremental entry then checks it node by node in a compiled kernel
        (:mod:`k8sim.scheduling.kernels`) and stops at the nodes it needs. None (the
        default): the plugin is asked for :meth:`filter`."""
        return None

    def fit_block_max(self, state: ClusterState) -> np.ndarray | None:
        """Optional, with :meth:`fit_rows`: ``int64[R, ceil(N / FILTER_BLOCK)]``, the
        largest ``table[r, i]`` over each block of :data:`FILTER_BLOCK` nodes, up to
        date; a first-fit cycle skips the blocks it rules out. None: no such maxima."""
        return None

    def filter_nodes(self, state: ClusterState, pod: PodInfo, nodes: np.ndarray) -> np.ndarray:
        """Filter for the node indices ``nodes`` only: ``bool[len(nodes)]``, equal to
        ``filter(state, pod)[nodes]``. Called by the incremental caches for the nodes that
        changed (``node_local`` plugins); override it when that is cheaper than
        filtering every node."""
        return self.filter(state, pod)[nodes]

    def filter_one(self, state: ClusterState, pod: PodInfo) -> Callable[[NodeTable, int], bool] | None:
        """Optional, for ``node_local`` plugins: a function ``(state.nodes, node) -> bool``
        equal to ``filter_nodes(state, pod, [node])[0]`` for any node, valid for this
        shape while the entry that asked for it lives (it must read the node table it is
        given, not one kept from now). The incremental caches call it, in plain Python,
        when only a few nodes changed since a shape's last cycle, where numpy's fixed
        cost per call exceeds the work. The default: :meth:`filter_row` on the node's
        row (:meth:`NodeRow.read`) when the plugin has one, else None (the caches call
        :meth:`filter_nodes`)."""
        row_fn = self.filter_row(state, pod)
        if row_fn is None:
            return None
        read = NodeRow.read
        return lambda nodes, node: row_fn(read(nodes, node))

    def filter_row(self, state: ClusterState, pod: PodInfo) -> Callable[[NodeRow], bool] | None:
        """Optional, for ``node_local`` plugins that read only a node's resource columns:
        a function ``(row) -> bool`` equal to ``filter_nodes(state, pod, [row.node])[0]``
        for the :class:`NodeRow` of any node. Preferred by the incremental caches over
        :meth:`filter_one`: the row is read once per changed node and cycle, for every
        shape and plugin. The default: the function of :meth:`filter_code` when the
        plugin has one, else None (:meth:`filter_one` or numpy)."""
        code = self.filter_code(state, pod)
        return row_function(code) if code is not None else None

    def filter_code(self, state: ClusterState, pod: PodInfo) -> RowCode | None:
        """Optional: :meth:`filter_row` as :class:`RowCode` (``result`` a bool), which the
        incremental caches fuse with the shape's other plugins' into one function per
        changed node. None (the default): the caches call the one-node functions."""
        return None

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        """Reason -> number of the ``rejected`` nodes (indices) it applies to."""
        return {self.reason or f"rejected by {self.name}": int(rejected.size)} if rejected.size else {}

    def node_status(self, state: ClusterState, pod: PodInfo, node: int, reasons: tuple[str, ...]) -> NodeStatus:
        """Upstream's Filter ``Status`` for ``node``, which this plugin rejected with
        ``reasons`` (from :meth:`reasons`). The default: ``UnschedulableAndUnresolvable``
        if any reason is in :attr:`unresolvable_reasons`, else ``Unschedulable``, no
        details. Called by ``k8sim explain`` once per rejected node, never while
        scheduling, so it may loop."""
        unresolvable = any(r in self.unresolvable_reasons for r in reasons)
        return NodeStatus(UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else UNSCHEDULABLE, reasons)


class ScorePlugin(Plugin):
    """Ranks candidate nodes; higher is better (PreScore, Score, NormalizeScore).

    ``score(state, pod, candidates)`` gets ``int64[K]`` node indices (the feasible nodes
    after sampling, in no particular order; never modify this array) and returns a numpy
    integer array of shape ``(K,)``, ``scores[k]`` for node ``candidates[k]``; index the
    ``[R, N]`` node arrays with ``candidates``. ``normalize(pod, scores)`` (upstream
    NormalizeScore, over the same ``K``) must leave every score in
    ``[MIN_NODE_SCORE, MAX_NODE_SCORE]`` = ``[0, 100]``; the framework raises
    ``ValueError`` otherwise, then adds ``weight * score`` into an int64 total. Use
    :func:`default_normalize` for upstream's ``DefaultNormalizeScore``. ``pre_score``
    returning False skips the plugin for this pod (it adds nothing). ``K >= 1``: the
    scheduler skips scoring below two feasible nodes (as upstream), ``k8sim explain``
    scores any non-empty feasible set.
    """

    #: True when ``normalize(score(...))`` lies in ``[0, MAX_NODE_SCORE]`` by construction
    #: whenever the node table's invariants hold (``0 <= requested`` and
    #: ``nonzero_requested``, requests ``>= 0``; ``ops.check_invariants``): the framework
    #: then leaves out its range check of the plugin's scores on cycles without an
    #: incremental entry. The plugin's docstring must prove it; False (the default) is
    #: always safe.
    scores_bounded: ClassVar[bool] = False
    #: True when, as the only score plugin of a profile that searches every node, this
    #: plugin always makes the feasible node of lowest index win with a unique top
    #: total (so no tie-break draw), whatever the cluster, and its ``pre_score`` is the
    #: default. The profile then stops its Filter phase at that node and scores
    #: nothing (:meth:`~k8sim.scheduling.framework.Profile.schedule`). FirstFit.
    lowest_index_wins: ClassVar[bool] = False

    def pre_score(self, state: ClusterState, pod: PodInfo) -> bool:
        """PreScore: return False to skip this plugin for this pod (upstream ``Skip``)."""
        return True

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def score_with(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray,
                   columns: CandidateColumns) -> np.ndarray:
        """:meth:`score`, given the cycle's candidate columns shared by the profile's
        score plugins (:class:`~k8sim.scheduling.plugins.shared.CandidateColumns`, over
        the same ``candidates``); the same values as :meth:`score`. The default calls
        :meth:`score`; override it to read the shared columns instead of gathering them."""
        return self.score(state, pod, candidates)

    def uniform_score(self, state: ClusterState, pod: PodInfo) -> bool:
        """Optional shortcut: True only when, for this pod and the cluster as it is now,
        ``normalize(score(...))`` is one and the same value in ``[0, MAX_NODE_SCORE]``
        on every node, whatever the candidates. Such a term adds the same to every
        candidate's total, which changes neither the best total nor the ties, so the
        framework leaves the plugin out of the totals of a cycle whose per-plugin scores
        and totals are not recorded (``pre_score`` still runs). It must be cheap (a
        cached per-template fact, not a pass over the nodes per cycle); False (the
        default) is always correct."""
        return False

    def score_one(self, state: ClusterState, pod: PodInfo) -> Callable[[NodeTable, int], int] | None:
        """Optional, for ``node_local`` plugins with int64 raw scores: a function
        ``(state.nodes, node) -> int`` equal to ``int(score(state, pod, [node])[0])``
        for any node that passes the profile's filters, with the same integer (or
        float64) steps as :meth:`score`; see :meth:`FilterPlugin.filter_one`. The
        default: :meth:`score_row` on the node's row when the plugin has one, else None
        (the caches call :meth:`score`)."""
        row_fn = self.score_row(state, pod)
        if row_fn is None:
            return None
        read = NodeRow.read
        return lambda nodes, node: row_fn(read(nodes, node))

    def score_row(self, state: ClusterState, pod: PodInfo) -> Callable[[NodeRow], int] | None:
        """Optional: :meth:`score_one` over a :class:`NodeRow` (see
        :meth:`FilterPlugin.filter_row`), ``int(score(state, pod, [row.node])[0])``.
        The default: the function of :meth:`score_code` when the plugin has one."""
        code = self.score_code(state, pod)
        return row_function(code) if code is not None else None

    def score_code(self, state: ClusterState, pod: PodInfo) -> RowCode | None:
        """Optional: :meth:`score_row` as :class:`RowCode` (``result`` an int); see
        :meth:`FilterPlugin.filter_code`."""
        return None

    def normalize(self, pod: PodInfo, scores: np.ndarray) -> np.ndarray:
        """NormalizeScore; identity unless the plugin's raw scores leave [0, 100]."""
        return scores


def default_normalize(scores: np.ndarray, reverse: bool = False) -> np.ndarray:
    """Upstream ``helper.DefaultNormalizeScore``: scale so the max becomes 100
    (``score * 100 / max``, int64 truncation); ``reverse`` gives ``100 - that``.
    If every score is 0, all become 0 (or 100 when reversed)."""
    if scores.size == 0:
        return scores
    top = int(scores.max())
    if top == 0:
        return np.full_like(scores, MAX_NODE_SCORE if reverse else 0)
    out = scores * MAX_NODE_SCORE // top
    return MAX_NODE_SCORE - out if reverse else out
