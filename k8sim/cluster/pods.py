"""The pod table: one row per pod for the whole run.

Rows are appended as pods are created and never reused; arrays grow by doubling. The
table becomes ``RunResult.pods`` without conversion. Only :mod:`k8sim.cluster.ops`
(called by the Cluster API, :mod:`k8sim.cluster.api`) changes a row after creation,
except the kubelet's own records (pull times, ``ready``,
``restarts``, ``pull_failures``, ``reason``), which no invariant involves.
"""

from __future__ import annotations

import numpy as np

#: Pod phases (upstream ``PodPhase`` plus the binding step k8sim tracks explicitly).
PENDING, BOUND, RUNNING, SUCCEEDED, FAILED = 0, 1, 2, 3, 4
PHASE_NAMES = ("Pending", "ContainerCreating", "Running", "Succeeded", "Failed")

#: Upstream non-zero defaults used when scoring pods without requests
#: (``pkg/scheduler/util/pod_resources.go``: DefaultMilliCPURequest, DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

#: Why a bound pod's container is waiting (kubelet's ``waiting.reason``), 0 = not waiting.
#: ``Unschedulable``: a Pending pod given up after a failed scheduling attempt (trace
#: replay in inflation mode drops such pods; phase Failed).
NO_REASON, ERR_IMAGE_NEVER_PULL, IMAGE_PULL_BACKOFF, CRASH_LOOP_BACKOFF, UNSCHEDULABLE = 0, 1, 2, 3, 4
REASON_NAMES = ("", "ErrImageNeverPull", "ImagePullBackOff", "CrashLoopBackOff", "Unschedulable")

#: Kinds of the object that owns a pod (upstream ``metadata.ownerReferences[].kind`` of
#: the controller reference); 0 = no owner. The ``owner`` column is the row of the owning
#: object in its controller's own table, meaningful only when ``owner_kind`` is not 0.
NO_OWNER = 0
OWNER_KINDS = ("", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "Node")

#: Storage dtypes are the narrowest that hold a column's values: ``index`` (a pod's
#: number within its workload, below the number of pods) is int32, and
#: :meth:`PodTable.column` gives it in its result dtype, int64 (``_COLUMN_DTYPES``).
#: Times stay float64 and base units int64 (bytes); counts that a trace sets
#: (``gpu_count``, ``priority``) keep the width of the trace's values.
_FLOAT_COLUMNS = ("created", "scheduled", "running", "finished", "duration", "start_latency",
                  "pull_start", "pull_end", "image_pull_time", "ready", "restart_pull_time")
_INT_COLUMNS = {
    "workload": np.int32,
    "shape": np.int32,
    "priority": np.int64,
    "phase": np.int8,
    "node": np.int32,
    "attempts": np.int32,
    "index": np.int32,
    "restarts": np.int32,
    "pull_failures": np.int32,
    "pull_bytes": np.int64,
    "restart_pulls": np.int32,
    "reason": np.int8,
    "gpu_count": np.int32,
    "gpu_milli": np.int64,
    "gpu_devices": np.int64,
    "owner_kind": np.int8,
    "owner": np.int32,
}


#: Columns only the container-runtime model writes (image pulls, restarts): allocated
#: when first read or written, so that runs without the model (most large ones) keep
#: none of them (about 56 bytes a pod). Until then every row holds the initial value.
_LAZY_COLUMNS = frozenset({"pull_start", "pull_end", "image_pull_time", "restart_pull_time", "restarts",
                           "pull_failures", "pull_bytes", "restart_pulls"})

#: The GPU columns: until a pod asks for a GPU, each is a read-only zero broadcast
#: over the table's capacity (no memory: about 20 bytes a pod in a run without GPUs);
#: the first GPU pod allocates them (:meth:`PodTable.ensure_gpu_columns`).
_GPU_COLUMNS = ("gpu_count", "gpu_milli", "gpu_devices")

#: Result dtype of the columns stored narrower than the pods frame shows them.
_COLUMN_DTYPES = {"index": np.int64}


class PodTable:
    """Struct-of-arrays pod state; ``n`` rows in use.

    Columns:
        requests: ``int64[P, R]`` requested base units (``pods`` is always 1).
        nonzero: ``int64[P, 2]`` cpu/memory with upstream's non-zero defaults.
        workload, shape, priority, phase, node (-1 if unbound), attempts, index (pod
        number within its workload).
        created, scheduled, running, finished: virtual times (NaN until reached).
        duration: run time once Running (inf = forever); start_latency: bind -> Running.
        pull_start, pull_end: the first start's first image pull began / last one ended
        (NaN: no pull before the first Running; pull_end stays NaN while it goes on);
        image_pull_time: seconds the first start spent pulling, back-off waits included
        (NaN when the runtime model is off); pull_bytes: bytes of the image layers missing on
        the node when those pulls were requested (0: nothing to download, e.g. an
        ``Always`` pull of a present image);
        restart_pull_time, restart_pulls: seconds spent pulling at container restarts
        (back-off included) and the pulls sent at restarts; ready: containers Running and
        ready; restarts: container restarts; pull_failures: failed pull attempts (first
        start and restarts); reason: a ``REASON_NAMES`` code.
        gpu_count, gpu_milli: GPU devices requested and milli-GPU on each (0: no GPU);
        gpu_devices: bitmask of the device indices the pod holds on its node (bit d =
        device d; 0 until devices are chosen), kept after the pod ends for the record.
        owner_kind, owner: the controller that owns the pod (an ``OWNER_KINDS`` code, 0
        for none) and its row in that controller's table, so a controller finds its
        pods without scanning labels.
    """

    def __init__(self, n_resources: int, capacity: int = 1024):
        self.n = 0
        self._cap = capacity
        self.n_resources = n_resources
        self.requests = np.zeros((capacity, n_resources), dtype=np.int64)
        self.nonzero = np.zeros((capacity, 2), dtype=np.int64)
        for name in _FLOAT_COLUMNS:
            if name not in _LAZY_COLUMNS:
                setattr(self, name, np.full(capacity, np.nan))
        for name, dt in _INT_COLUMNS.items():
            if name not in _LAZY_COLUMNS:
                setattr(self, name, np.zeros(capacity, dtype=dt))
        #: Whether the GPU columns are allocated (False: zero broadcasts, read only).
        self.has_gpu_columns = False
        self._gpu_placeholders(capacity)
        self.names: list[str] = []

    def _gpu_placeholders(self, capacity: int) -> None:
        for name in _GPU_COLUMNS:
            setattr(self, name, np.broadcast_to(np.zeros((), dtype=_INT_COLUMNS[name]), (capacity,)))

    def ensure_gpu_columns(self) -> None:
        """Allocate the GPU columns (zeros) before the first write to one of them."""
        if not self.has_gpu_columns:
            for name in _GPU_COLUMNS:
                setattr(self, name, np.zeros(self._cap, dtype=_INT_COLUMNS[name]))
            self.has_gpu_columns = True

    def __getattr__(self, name: str) -> np.ndarray:
        # Only called for an attribute not set: a lazy column used for the first time.
        if name in _LAZY_COLUMNS:
            values = (np.full(self._cap, np.nan) if name in _FLOAT_COLUMNS
                      else np.zeros(self._cap, dtype=_INT_COLUMNS[name]))
            setattr(self, name, values)
            return values
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # Attribute declarations for type checkers.
    created: np.ndarray
    scheduled: np.ndarray
    running: np.ndarray
    finished: np.ndarray
    duration: np.ndarray
    start_latency: np.ndarray
    pull_start: np.ndarray
    pull_end: np.ndarray
    image_pull_time: np.ndarray
    ready: np.ndarray
    restart_pull_time: np.ndarray
    restarts: np.ndarray
    pull_failures: np.ndarray
    pull_bytes: np.ndarray
    restart_pulls: np.ndarray
    reason: np.ndarray
    workload: np.ndarray
    shape: np.ndarray
    priority: np.ndarray
    phase: np.ndarray
    node: np.ndarray
    attempts: np.ndarray
    index: np.ndarray
    gpu_count: np.ndarray
    gpu_milli: np.ndarray
    gpu_devices: np.ndarray
    owner_kind: np.ndarray
    owner: np.ndarray

    def _grow(self, capacity: int | None = None) -> None:
        """Room for ``capacity`` rows (default: twice the current); the new rows hold
        each column's initial value (0, NaN). One copy of each column."""
        old_cap = self._cap
        new = 2 * old_cap if capacity is None else capacity

        def extend(old: np.ndarray, fill: float) -> np.ndarray:
            out = np.empty((new, *old.shape[1:]), dtype=old.dtype)
            out[:old_cap] = old
            out[old_cap:] = fill
            return out

        self.requests = extend(self.requests, 0)
        self.nonzero = extend(self.nonzero, 0)
        present = vars(self)
        for name in _FLOAT_COLUMNS:
            if name in present:  # a lazy column not used yet stays absent
                setattr(self, name, extend(present[name], np.nan))
        for name in _INT_COLUMNS:
            if name in present and (self.has_gpu_columns or name not in _GPU_COLUMNS):
                setattr(self, name, extend(present[name], 0))
        if not self.has_gpu_columns:
            self._gpu_placeholders(new)
        self._cap = new

    def reserve(self, rows: int) -> None:
        """Make room for ``rows`` rows in all (a trace replay knows how many pods it
        will create): one reallocation rather than a doubling every time the table
        fills, and no room past the need. Rows beyond it still grow the table."""
        if rows > self._cap:
            self._grow(rows)

    def prefill(self, start: int, code: np.ndarray, requests: np.ndarray, nonzero: np.ndarray, priority: np.ndarray,
                first_shape: int, workload: int, duration: np.ndarray) -> None:
        """Write ahead what :meth:`add` will write for the pods expected at rows
        ``start + i`` (a trace's pods, ``index`` ``i``, in order): the pod of row
        ``start + i`` has shape ``first_shape + code[i]``, whose requests, non-zero
        requests and priority are ``requests[code[i]]``, ``nonzero[code[i]]`` and
        ``priority[code[i]]``, and ``duration[i]``; it is Pending on no node, without
        GPUs or owner. :meth:`add_reserved` then writes only its creation time, start
        latency and name. The rows must be reserved (:meth:`reserve`) and not yet
        added. A row that another pod takes first gets that pod's values from
        :meth:`add`, which writes every column prefilled here: an expectation that
        fails costs nothing but the writes ahead."""
        end = start + len(code)
        if start < self.n or end > self._cap:
            raise ValueError(f"rows {start}..{end - 1} are not reserved and free (table: {self.n} rows, room "
                             f"for {self._cap})")
        rows = slice(start, end)
        np.take(requests, code, axis=0, out=self.requests[rows])
        np.take(nonzero, code, axis=0, out=self.nonzero[rows])
        self.priority[rows] = np.take(priority, code)
        self.shape[rows] = code + first_shape
        self.workload[rows] = workload
        self.index[rows] = np.arange(len(code))
        self.phase[rows] = PENDING
        self.node[rows] = -1
        self.duration[rows] = duration

    def add_reserved(self, name: str, created: float, start_latency: float) -> int:
        """:meth:`add` of the pod whose other values :meth:`prefill` wrote at row ``n``
        (the caller knows that the next row is that pod's)."""
        p = self.n
        self.n = p + 1
        self.created[p] = created
        self.start_latency[p] = start_latency
        self.names.append(name)
        return p

    def append(
        self,
        *,
        name: str,
        requests: np.ndarray,
        workload: int,
        index: int,
        shape: int,
        priority: int,
        created: float,
        duration: float,
        start_latency: float,
        gpu_count: int = 0,
        gpu_milli: int = 0,
        owner_kind: int = NO_OWNER,
        owner: int = 0,
        nonzero: np.ndarray | None = None,
    ) -> int:
        """Add a Pending pod; returns its row (``gpu_count`` devices with ``gpu_milli``
        each, none by default; owned by ``owner`` of ``owner_kind``, none by default).
        ``nonzero``: its cpu/memory for the nodes' ``nonzero_requested`` (the shape's
        ``nonzero_bound``); None = a single container whose 0 requests are absent ones."""
        return self.add(name, requests, workload, index, shape, priority, created, duration, start_latency,
                        gpu_count, gpu_milli, owner_kind, owner, nonzero)

    def add(self, name: str, requests: np.ndarray, workload: int, index: int, shape: int, priority: int,
            created: float, duration: float, start_latency: float, gpu_count: int, gpu_milli: int,
            owner_kind: int, owner: int, nonzero: np.ndarray | None) -> int:
        """:meth:`append` with every argument given by position (the Cluster API's call
        on every pod's creation)."""
        if self.n == self._cap:
            self._grow()
        p = self.n
        self.n += 1
        self.requests[p] = requests
        if nonzero is not None:
            self.nonzero[p] = nonzero
        else:
            cpu, mem = requests[0], requests[1]
            self.nonzero[p, 0] = cpu if cpu > 0 else DEFAULT_MILLI_CPU_REQUEST
            self.nonzero[p, 1] = mem if mem > 0 else DEFAULT_MEMORY_REQUEST
        self.workload[p] = workload
        self.index[p] = index
        self.shape[p] = shape
        self.priority[p] = priority
        self.phase[p] = PENDING
        self.node[p] = -1
        self.created[p] = created
        self.duration[p] = duration
        self.start_latency[p] = start_latency
        if gpu_count:
            # Rows are fresh zeros (never reused), so GPU-less pods write nothing.
            if not self.has_gpu_columns:
                self.ensure_gpu_columns()
            self.gpu_count[p] = gpu_count
            self.gpu_milli[p] = gpu_milli
        if owner_kind:
            self.owner_kind[p] = owner_kind
            self.owner[p] = owner
        self.names.append(name)
        return p

    def view(self, name: str) -> np.ndarray:
        """The first ``n`` entries of a column in its result dtype: a view of the table
        (do not write it) where the storage dtype is the result's, else a widened copy.
        For a consumer that copies anyway (a DataFrame built with ``copy=True``). A lazy
        column never used is not allocated for this: its view is the initial value
        broadcast (read only, no memory)."""
        if name in _LAZY_COLUMNS and name not in vars(self):
            initial = np.array(np.nan) if name in _FLOAT_COLUMNS else np.zeros((), dtype=_INT_COLUMNS[name])
            return np.broadcast_to(initial, (self.n,))
        values = getattr(self, name)[: self.n]
        dtype = _COLUMN_DTYPES.get(name)
        return values if dtype is None else values.astype(dtype)

    def column(self, name: str) -> np.ndarray:
        """A copy of the first ``n`` entries of a column, in its result dtype (columns
        stored narrower are widened: ``index`` int64)."""
        values = getattr(self, name)[: self.n]
        dtype = _COLUMN_DTYPES.get(name)
        return values.copy() if dtype is None else values.astype(dtype)
