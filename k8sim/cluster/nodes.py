"""The node table: one column per node, resources stored resource-major.

Node identity is the column index; columns are never reused. Capacities are integer
base units (milli-CPU, bytes, counts) in ``int64``. Arrays are kept at exactly ``n``
columns (nodes are added rarely compared with scheduling decisions, so a reallocation
per added node is cheaper than slicing a padded array on every decision).

Only :mod:`k8sim.cluster.ops` mutates a table; everyone else reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The resources every cluster tracks, in this order; extended resources follow, sorted.
CORE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pods")
CPU, MEMORY, EPHEMERAL, PODS = 0, 1, 2, 3


@dataclass(frozen=True)
class ResourceIndex:
    """The resource axis: names in order, and name -> row.

    Fixed for a run (frozen): the core resources first in :data:`CORE_RESOURCES` order
    (so ``CPU``, ``MEMORY``, ``EPHEMERAL``, ``PODS`` are valid rows everywhere), then
    the scenario's extended resources sorted by name. Every ``[R, ...]`` array of the
    node and pod tables and every request vector uses this order.
    """

    names: tuple[str, ...]
    index: dict[str, int] = field(init=False, hash=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "index", {n: i for i, n in enumerate(self.names)})

    @classmethod
    def from_names(cls, extra: set[str] | frozenset[str] = frozenset()) -> ResourceIndex:
        rest = sorted(set(extra) - set(CORE_RESOURCES))
        return cls(CORE_RESOURCES + tuple(rest))

    def __len__(self) -> int:
        return len(self.names)

    def vector(self, amounts: dict[str, int]) -> np.ndarray:
        """A dense ``int64[R]`` vector from a ``{name: base units}`` mapping."""
        v = np.zeros(len(self.names), dtype=np.int64)
        for name, amount in amounts.items():
            v[self.index[name]] = amount
        return v


@dataclass(frozen=True)
class TaintSpec:
    """An interned node taint (key, value, effect).

    Immutable and hashable: the node table keeps one row of ``taints`` per distinct
    spec (``taint_index``), so a toleration check is an array operation over nodes.
    """

    key: str
    value: str
    effect: str  # NoSchedule | PreferNoSchedule | NoExecute


class NodeTable:
    """Struct-of-arrays node state.

    Owned by the ``ClusterState``; only :mod:`k8sim.cluster.ops` writes it (add nodes,
    bind/unbind, ready, cordon, GPU devices), everyone else reads. A node is a column
    index, never reused.
    Invariants (``ops.check_invariants``): ``free == alloc - requested``,
    ``0 <= requested <= alloc``, ``requested`` = the sum of bound pods' requests per
    node; ``version`` moves whenever labels, taints or the node set change (so masks
    over nodes may be cached per pod shape until it moves), not on bind/unbind, Ready
    or cordon changes (read those live).

    Attributes (``R`` resources, ``N`` nodes):
        alloc: ``int64[R, N]`` allocatable.
        requested: ``int64[R, N]`` sum of bound pods' requests.
        free: ``int64[R, N]`` ``alloc - requested``, kept in step by the ops.
        nonzero_requested: ``int64[2, N]`` cpu/memory requests with upstream's non-zero
            defaults for pods that request nothing (used by scoring, as upstream).
        ready, unschedulable: ``bool[N]`` node conditions (unschedulable = cordoned).
        up: ``bool[N]`` the machine is running and its kubelet reports (heartbeats);
            False while a fault has taken it down. The control plane does not read it:
            it learns of a silent kubelet only through the node lifecycle controller,
            which sets ``ready``.
        pool: ``int32[N]`` node pool code (-1 for explicit nodes).
        created_at, removed_at: ``float64[N]`` when the node joined and left (inf: still
            there).
        labels: label key -> ``int32[N]`` value codes (-1 where the node lacks the key).
        taints: ``bool[T, N]``: node n carries interned taint t.
        gpu_free: ``int64[N, G]`` free milli-GPU per device (1000 per device when idle),
            ``G`` the most devices any node has; devices beyond a node's count hold -1,
            so ``gpu_free >= milli`` is False there for every request.
        gpu_count: ``int32[N]`` GPU devices of each node (0: none).
        gpu_model: ``int32[N]`` GPU model code (-1: no GPUs); names in ``gpu_models``.
    """

    def __init__(self, resources: ResourceIndex):
        self.resources = resources
        r = len(resources)
        self.n = 0
        self.alloc = np.zeros((r, 0), dtype=np.int64)
        self.requested = np.zeros((r, 0), dtype=np.int64)
        self.free = np.zeros((r, 0), dtype=np.int64)
        self.nonzero_requested = np.zeros((2, 0), dtype=np.int64)
        self.ready = np.zeros(0, dtype=bool)
        self.unschedulable = np.zeros(0, dtype=bool)
        self.up = np.zeros(0, dtype=bool)
        self.pool = np.zeros(0, dtype=np.int32)
        self.created_at = np.zeros(0, dtype=np.float64)
        self.removed_at = np.zeros(0, dtype=np.float64)
        self.names: list[str] = []
        self.name_index: dict[str, int] = {}
        self.pool_names: list[str] = []
        self.labels: dict[str, np.ndarray] = {}
        self.label_values: dict[str, dict[str, int]] = {}
        #: label key -> (its ``label_values`` dict, code -> value) (:meth:`label_names`).
        self._label_names: dict[str, tuple[dict[str, int], list[str]]] = {}
        self.taint_specs: list[TaintSpec] = []
        self.taint_index: dict[TaintSpec, int] = {}
        self.taints = np.zeros((0, 0), dtype=bool)
        self.gpu_free = np.zeros((0, 0), dtype=np.int64)
        self.gpu_count = np.zeros(0, dtype=np.int32)
        self.gpu_model = np.zeros(0, dtype=np.int32)
        #: GPU model vocabulary: code -> name, and name -> code. Pod shapes intern the
        #: models they allow too, so a code may have no node yet.
        self.gpu_models: list[str] = []
        self.gpu_model_index: dict[str, int] = {}
        #: Bumped whenever labels, taints or the node set change (not on bind/unbind),
        #: so per-pod-shape masks over nodes can be cached until it moves.
        self.version = 0

    # -- read helpers ---------------------------------------------------------------

    def label_code(self, key: str, value: str) -> int:
        """Code of ``value`` for label ``key``; -2 if no node has it (matches nothing)."""
        return self.label_values.get(key, {}).get(value, -2)

    def gpu_model_code(self, name: str) -> int:
        """Code of GPU model ``name``; -2 if it was never interned (matches no node)."""
        return self.gpu_model_index.get(name, -2)

    def node_labels(self, n: int) -> dict[str, str]:
        """Labels of node ``n`` as a dict (for display and export)."""
        out = {}
        for key, codes in self.labels.items():
            c = codes[n]
            if c >= 0:
                out[key] = self.label_names(key)[c]
        return out

    def label_names(self, key: str) -> list[str]:
        """Label ``key``'s vocabulary: code -> value (codes are given in insertion order
        and never reused, so the dict's order is the code order). Cached while the
        vocabulary does not change: the hostname label has one value per node, and a
        scan per lookup made exporting every node's labels quadratic in nodes."""
        values = self.label_values[key]
        cached = self._label_names.get(key)
        if cached is None or cached[0] is not values or len(cached[1]) != len(values):
            names = list(values)
            if any(values[v] != c for c, v in enumerate(names)):  # not in code order
                names = [""] * len(values)
                for v, c in values.items():
                    names[c] = v
            cached = self._label_names[key] = (values, names)
        return cached[1]

    def node_taints(self, n: int) -> list[TaintSpec]:
        return [self.taint_specs[t] for t in np.flatnonzero(self.taints[:, n])]

    def pool_name(self, n: int) -> str:
        p = int(self.pool[n])
        return self.pool_names[p] if p >= 0 else ""

    def schedulable_mask(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Nodes a new pod may land on: Ready and not cordoned; of the nodes
        ``lo..hi-1`` only when given (``bool[hi - lo]``), else of every node."""
        if hi is None and not lo:
            return self.ready & ~self.unschedulable
        return self.ready[lo:hi] & ~self.unschedulable[lo:hi]

