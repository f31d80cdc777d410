"""The per-node image store: which layers and images each node holds, as arrays.

One store per simulation, shared by the kubelet (pulls, image GC) and the scheduler's
ImageLocality plugin (one source of truth). ``L`` layers, ``I`` images, ``N`` nodes:

- ``layer_present: bool[L, N]``: the layer is fully downloaded on the node;
- ``layer_refs: int32[L, N]``: references that keep a layer on disk: each present image
  containing it, and each pull in progress that needs it (a *pin*). A present layer
  whose count drops to 0 is deleted and its bytes freed;
- ``image_present: bool[I, N]``: the image has been pulled (or pre-pulled) and not
  garbage-collected since (what a node's ``status.images`` lists);
- ``image_in_use: int32[I, N]``: pods bound to the node whose containers use the
  image; such images are never garbage-collected;
- ``image_last_used``, ``image_first_detected: float64[I, N]``: the times image GC
  orders and filters by;
- ``disk_used: int64[N]`` bytes of present and downloading layers; ``disk_capacity``
  (0 = unlimited, no GC).

Image GC follows kubelet's ``realImageGCManager.GarbageCollect`` / ``freeSpace``
(``pkg/kubelet/images/image_gc_manager.go``): when usage reaches
``imageGCHighThresholdPercent`` (``usagePercent = 100 - available * 100 / capacity``,
int64 arithmetic), free ``capacity * (100 - low) / 100 - available`` bytes by deleting
images in order of last use (then first detection), skipping images in use, images used
at the current instant, and images younger than ``imageMinimumGCAge``. Images present
when the node starts (pre-pulled) count as detected "in the past" (``Start``'s initial
``detectImages`` with the zero time), so the minimum age never protects them. A pass
runs every ``ImageGCPeriod`` (5 minutes, ``Kubelet.StartGarbageCollection`` in
``pkg/kubelet/kubelet.go``; :meth:`ImageStore.collect`, driven by the kubelet), and
``imageGCHighThresholdPercent: 100`` turns image GC off, as upstream. Differences from
upstream, on purpose:

- GC also runs when a pull is about to add bytes (:meth:`ImageStore.make_room`; upstream
  has no such hook, but its eviction manager reclaims unused images within seconds when
  ``imagefs.available`` falls under 15%); a pull that does not fit even after GC fails
  with "no space left on device" (image pull back-off follows).
- Freed space counts the bytes of layers actually deleted: a layer another present
  image still uses is not freed. Upstream counts each deleted image's full size, which
  over-estimates what shared layers give back.
- An image is "in use" from the moment a pod using it is bound to the node (upstream:
  once a container using it exists), so an image cannot be collected between a pod's
  binding and its container's creation.
- ``nodeStatusMaxImages`` (upstream reports only the 50 largest images) and the
  node-status update lag are not modelled: ImageLocality sees the store as it is.
- ``imageMaximumGCAge`` (off by default upstream) and the eviction manager's imagefs
  thresholds are not modelled.

Every change of ``disk_used`` is logged as ``(time, node, delta)`` once the kubelet has
started the log (:meth:`ImageStore.start_log`), for the per-pool disk-use series.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.runtime.catalog import Catalog

_ATTR = "image_store"


@dataclass(frozen=True)
class NodeImageConfig:
    """Image-related settings of one node pool (or of explicit nodes).

    Built once from the validated scenario (kubelet's config names: ``serializeImagePulls``,
    ``maxParallelImagePulls``, ``registryPullQPS``, ``registryBurst``,
    ``imageGCHigh/LowThresholdPercent``, ``imageMinimumGCAge``) and never changed;
    :class:`ImageStore` keeps one per node (``configs[node]``), the puller reads it.
    """

    disk_capacity: int = 0  # bytes for images; 0 = unlimited
    bandwidth: float = 100e6  # bytes/s for layer downloads, shared by concurrent downloads
    prepulled: tuple[int, ...] = ()  # image ids present at t = 0
    serialize_image_pulls: bool = True
    max_parallel_image_pulls: int | None = None
    registry_pull_qps: float = 5.0
    registry_burst: int = 10
    gc_high_percent: int = 85
    gc_low_percent: int = 80
    gc_min_age_s: float = 120.0
    gc_period_s: float = 300.0  # seconds between periodic GC passes (0: none)
    max_concurrent_downloads: int = 3  # layer downloads of a pull at once (0: no limit)
    download_limit_scope: str = "pull"  # "pull" or "node": whose limit

    @property
    def gc_enabled(self) -> bool:
        """kubelet stubs image GC out when the high threshold is 100
        (``Kubelet.StartGarbageCollection``, ``pkg/kubelet/kubelet.go``)."""
        return self.gc_high_percent < 100

    @property
    def pull_limit(self) -> float:
        """How many image pulls may run at once on the node."""
        if self.serialize_image_pulls:
            return 1
        return float("inf") if self.max_parallel_image_pulls is None else self.max_parallel_image_pulls


def _div_trunc(a: int, b: int) -> int:
    """Go's int64 division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def usage_percent(capacity: int, used: int) -> int:
    """kubelet's ``usagePercent := 100 - int(available*100/capacity)`` (available clamped
    to capacity)."""
    available = min(capacity - used, capacity)
    return 100 - _div_trunc(available * 100, capacity)


@dataclass
class GCResult:
    """What one image GC pass did on one node: the images it deleted, in deletion
    order, and the bytes of the layers that deletion actually freed (a layer another
    present image still holds frees nothing). Returned by :meth:`ImageStore.make_room`
    and :meth:`ImageStore.free_space`; the caller reports it and does not change it."""

    removed: list[int] = field(default_factory=list)  # image ids, in removal order
    freed: int = 0  # bytes of deleted layers
    wanted: int = 0  # bytes the pass set out to free (0: GC did not run)


_NOTHING = GCResult([], 0)  # shared "GC did nothing" result (never mutated)


class ImageStore:
    """Layer and image presence per node (see the module docstring for the arrays).

    One per simulation, attached to the cluster state (:func:`attach`) so that the
    ImageLocality plugin reads the same arrays the kubelet changes. Writers: start-up
    pre-pulls (:meth:`sync`), the :class:`~k8sim.runtime.pulls.Puller` (pins, disk
    reservations, finished pulls, image GC) and the kubelet (:meth:`use` /
    :meth:`unuse` as pods bind and leave). Grows one column per added node
    (:meth:`sync`, also from :func:`store_of`); columns are never removed.

    Invariants (:func:`check_store`): ``present_count`` matches ``image_present``; a
    present image's layers are present and referenced at least once per present image
    holding them; no present layer is unreferenced; ``disk_used`` = bytes of present
    layers + bytes of layers downloading; images in use are never deleted.
    ``image_version[i]`` moves whenever image ``i`` appears on or leaves a node, which
    keys the cached ImageLocality sums.
    """

    def __init__(self, catalog: Catalog, pool_configs: list[NodeImageConfig],
                 default_config: NodeImageConfig | None = None):
        self.catalog = catalog
        self.pool_configs = pool_configs
        self.default_config = default_config or NodeImageConfig()
        n_layers, n_images = catalog.n_layers, catalog.n_images
        self.layer_sizes = catalog.layer_sizes
        self._layer_size_list = [int(x) for x in catalog.layer_sizes]
        self._image_layers = [list(ls) for ls in catalog.image_layers]
        self.image_sizes = catalog.image_sizes
        self.n = 0
        self.layer_present = np.zeros((n_layers, 0), dtype=bool)
        self.layer_refs = np.zeros((n_layers, 0), dtype=np.int32)
        self.image_present = np.zeros((n_images, 0), dtype=bool)
        self.image_in_use = np.zeros((n_images, 0), dtype=np.int32)
        self.image_last_used = np.zeros((n_images, 0), dtype=np.float64)
        self.image_first_detected = np.zeros((n_images, 0), dtype=np.float64)
        self.disk_used = np.zeros(0, dtype=np.int64)
        self.disk_capacity = np.zeros(0, dtype=np.int64)
        self.configs: list[NodeImageConfig] = []
        #: Nodes holding each image (upstream ``ImageStateSummary.NumNodes``).
        self.present_count = np.zeros(n_images, dtype=np.int64)
        #: Bumped whenever an image appears on or leaves a node (score caches key on it).
        self.image_version: list[int] = [0] * n_images
        self._score_cache: dict[tuple[int, ...], tuple[tuple[int, ...], np.ndarray]] = {}
        #: Disk-use log (see :meth:`start_log`): times, nodes and byte deltas.
        self._clock: Callable[[], float] | None = None
        self.log_time: list[float] = []
        self.log_node: list[int] = []
        self.log_delta: list[int] = []
        self._log_off: set[int] = set()

    # -- disk-use log ---------------------------------------------------------------

    def start_log(self, clock: Callable[[], float]) -> None:
        """Log every later change of ``disk_used`` at ``clock()``; the current usage of
        each node is logged now as its starting level."""
        self._clock = clock
        now = clock()
        for node in range(self.n):
            self._log(now, node, int(self.disk_used[node]))

    def stop_log(self, node: int) -> None:
        """The node is gone: its bytes leave the log (logged as a negative delta now)."""
        if self._clock is not None and node not in self._log_off:
            self._log(self._clock(), node, -int(self.disk_used[node]))
            self._log_off.add(node)

    def _log(self, t: float, node: int, delta: int) -> None:
        self.log_time.append(t)
        self.log_node.append(node)
        self.log_delta.append(delta)

    def _disk(self, node: int, delta: int) -> None:
        """Change a node's used bytes (and log it)."""
        self.disk_used[node] += delta
        if self._clock is not None and node not in self._log_off:
            self._log(self._clock(), node, delta)

    def reserve(self, node: int, nbytes: int) -> None:
        """Reserve disk for layers about to be downloaded."""
        self._disk(node, nbytes)

    # -- nodes ----------------------------------------------------------------------

    def sync(self, node_pools: np.ndarray, now: float = 0.0) -> None:
        """Add columns for nodes added to the cluster since the last call (``node_pools``
        is the node table's pool code per node); their pool's images are pre-pulled."""
        n_new = int(node_pools.size)
        if n_new <= self.n:
            return
        k = n_new - self.n

        def grow(a: np.ndarray, fill: Any) -> np.ndarray:
            return np.concatenate([a, np.full(a.shape[:-1] + (k,), fill, dtype=a.dtype)], axis=-1)

        self.layer_present = grow(self.layer_present, False)
        self.layer_refs = grow(self.layer_refs, 0)
        self.image_present = grow(self.image_present, False)
        self.image_in_use = grow(self.image_in_use, 0)
        self.image_last_used = grow(self.image_last_used, 0.0)
        self.image_first_detected = grow(self.image_first_detected, 0.0)
        self.disk_used = grow(self.disk_used, 0)
        start = self.n
        self.n = n_new
        cfgs = []
        for node in range(start, n_new):
            p = int(node_pools[node])
            cfgs.append(self.pool_configs[p] if 0 <= p < len(self.pool_configs) else self.default_config)
        self.configs += cfgs
        self.disk_capacity = grow(self.disk_capacity, 0)
        for j, cfg in enumerate(cfgs):
            self.disk_capacity[start + j] = cfg.disk_capacity
        for j, cfg in enumerate(cfgs):
            for img in cfg.prepulled:
                self.add_image(img, start + j, now)
                # Found by the node's first image scan: detected "in the past" (upstream
                # realImageGCManager.Start detects with the zero time), so old enough for GC.
                self.image_first_detected[img, start + j] = -math.inf
        self._score_cache.clear()

    def add_image(self, img: int, node: int, now: float) -> None:
        """Put an image on a node at once (pre-pulled images, tests): its missing layers
        take disk, and it counts as pulled at ``now``."""
        self.pin(img, node)
        self.add_missing_bytes(img, node)
        for layer in self._image_layers[img]:
            self.layer_present[layer, node] = True
        self.image_pulled(img, node, now)

    # -- layers ---------------------------------------------------------------------

    def image_layers(self, img: int) -> list[int]:
        return self._image_layers[img]

    def layer_size(self, layer: int) -> int:
        return self._layer_size_list[layer]

    def pin(self, img: int, node: int) -> None:
        """Keep the image's layers on disk (a pull in progress, or the image itself)."""
        refs = self.layer_refs
        for layer in self._image_layers[img]:
            refs[layer, node] += 1

    def pin_and_scan(self, img: int, node: int, downloading: Any) -> tuple[list[int], list[int]]:
        """:meth:`pin` the image's layers and sort the ones not present on the node into
        (absent, in ``downloading``), in one pass (the pull's hot path)."""
        refs, present = self.layer_refs, self.layer_present
        absent: list[int] = []
        waiting: list[int] = []
        for layer in self._image_layers[img]:
            refs[layer, node] += 1
            if not present[layer, node]:
                (waiting if layer in downloading else absent).append(layer)
        return absent, waiting

    def unpin(self, img: int, node: int) -> int:
        """Drop one reference to each of the image's layers; present layers left without
        references are deleted. Returns the bytes freed."""
        refs, present = self.layer_refs, self.layer_present
        freed = 0
        for layer in self._image_layers[img]:
            refs[layer, node] -= 1
            if refs[layer, node] == 0 and present[layer, node]:
                present[layer, node] = False
                freed += self._layer_size_list[layer]
        if freed:
            self._disk(node, -freed)
        return freed

    def missing_bytes(self, img: int, node: int) -> int:
        """Bytes of the image's layers not present on the node (downloading counts as
        missing)."""
        present = self.layer_present
        sizes = self._layer_size_list
        return sum(sizes[layer] for layer in self._image_layers[img] if not present[layer, node])

    def add_missing_bytes(self, img: int, node: int) -> int:
        """Reserve disk for the image's layers not present on the node; returns the bytes."""
        present = self.layer_present
        missing = sum(self._layer_size_list[layer] for layer in self._image_layers[img] if not present[layer, node])
        self._disk(node, missing)
        return missing

    # -- images ---------------------------------------------------------------------

    def image_pulled(self, img: int, node: int, now: float) -> None:
        """A pull of ``img`` finished (its layers are present and pinned by the pull):
        the pins become the image's own references, or are dropped if the image was
        already present."""
        if self.image_present[img, node]:
            self.unpin(img, node)
        else:
            self.image_present[img, node] = True
            self.image_first_detected[img, node] = now
            self.present_count[img] += 1
            self.image_version[img] += 1
        self.image_last_used[img, node] = now

    def use(self, images: tuple[int, ...], node: int, now: float) -> None:
        """A pod using ``images`` is bound to ``node``."""
        for img in images:
            self.image_in_use[img, node] += 1
            self.image_last_used[img, node] = now

    def unuse(self, images: tuple[int, ...], node: int, now: float) -> None:
        """A pod using ``images`` left ``node``."""
        for img in images:
            self.image_in_use[img, node] -= 1
            self.image_last_used[img, node] = now

    def remove_image(self, img: int, node: int) -> int:
        """Delete an image from a node (image GC); returns the bytes freed."""
        self.image_present[img, node] = False
        self.present_count[img] -= 1
        self.image_version[img] += 1
        return self.unpin(img, node)

    # -- image GC -------------------------------------------------------------------

    def make_room(self, node: int, extra: int, now: float) -> tuple[bool, GCResult]:
        """Before ``extra`` bytes are added to ``node``: run image GC if usage would reach
        the high threshold. Returns (whether the bytes fit in the capacity, what GC did)."""
        cap = int(self.disk_capacity[node])
        if cap <= 0:
            return True, _NOTHING
        result = _NOTHING
        cfg = self.configs[node]
        used = int(self.disk_used[node]) + extra
        if cfg.gc_enabled and usage_percent(cap, used) >= cfg.gc_high_percent:
            available = cap - used
            amount = cap * (100 - cfg.gc_low_percent) // 100 - available
            result = self.free_space(node, amount, now)
            result.wanted = amount
            used -= result.freed
        return used <= cap, result

    def collect(self, node: int, now: float) -> GCResult | None:
        """One periodic image GC pass on ``node`` (``realImageGCManager.GarbageCollect``):
        None when usage is under the high threshold (or the disk unlimited, or GC off);
        else what it deleted (``wanted``: the bytes it set out to free)."""
        cap = int(self.disk_capacity[node])
        cfg = self.configs[node]
        if cap <= 0 or not cfg.gc_enabled:
            return None
        used = int(self.disk_used[node])
        if usage_percent(cap, used) < cfg.gc_high_percent:
            return None
        amount = cap * (100 - cfg.gc_low_percent) // 100 - (cap - used)
        result = self.free_space(node, amount, now)
        result.wanted = amount
        return result

    def gc_candidates(self, node: int, now: float) -> list[int]:
        """Images GC may delete on ``node``, in deletion order: present, not in use, not
        used at ``now``, at least ``imageMinimumGCAge`` old; least recently used first,
        then earliest detected, then image id."""
        cfg = self.configs[node]
        last = self.image_last_used[:, node]
        first = self.image_first_detected[:, node]
        ok = (self.image_present[:, node] & (self.image_in_use[:, node] == 0) & (last < now)
              & (now - first >= cfg.gc_min_age_s))
        ids = np.flatnonzero(ok)
        order = np.lexsort((ids, first[ids], last[ids]))
        return [int(x) for x in ids[order]]

    def free_space(self, node: int, amount: int, now: float) -> GCResult:
        """Delete images in GC order until at least ``amount`` bytes are freed (or none
        is left to delete)."""
        result = GCResult()
        if amount <= 0:
            return result
        for img in self.gc_candidates(node, now):
            result.freed += self.remove_image(img, node)
            result.removed.append(img)
            if result.freed >= amount:
                break
        return result

    # -- ImageLocality --------------------------------------------------------------

    def locality_sums(self, images: tuple[int, ...], total_nodes: int) -> np.ndarray:
        """Upstream ``sumImageScores`` for every node: the sum over the pod's containers
        (init and main; -1 = an image outside the catalog, never present) of
        ``scaledImageScore = int64(float64(size) * float64(numNodes) / float64(total))``
        where the node has the image. ``int64[N]``; cached until an image moves."""
        version = self.image_version
        key = tuple(version[i] if i >= 0 else -1 for i in images) + (total_nodes, self.n)
        hit = self._score_cache.get(images)
        if hit is not None and hit[0] == key:
            return hit[1]
        sums = np.zeros(self.n, dtype=np.int64)
        for img in images:
            if img < 0 or self.present_count[img] == 0:
                continue
            spread = float(self.present_count[img]) / float(total_nodes)
            scaled = int(float(self.image_sizes[img]) * spread)
            sums += self.image_present[img] * np.int64(scaled)
        self._score_cache[images] = (key, sums)
        return sums


def check_store(store: ImageStore, downloading: dict[int, Any] | None = None) -> None:
    """Raise :class:`AssertionError` unless the store is consistent: ``present_count``
    matches ``image_present``; every present image's layers are present and referenced
    at least once per present image holding them; no present layer is unreferenced;
    ``disk_used`` is the bytes of present layers plus those downloading
    (``downloading``: node -> layer ids, e.g. from ``Puller.downloading``)."""
    cat = store.catalog
    incidence = np.zeros((cat.n_layers, cat.n_images), dtype=np.int64)
    for i, layers in enumerate(cat.image_layers):
        incidence[list(layers), i] = 1
    if not np.array_equal(store.present_count, store.image_present.sum(axis=1)):
        raise AssertionError("present_count disagrees with image_present")
    image_refs = incidence @ store.image_present.astype(np.int64)  # [L, N]
    if ((image_refs > 0) & ~store.layer_present).any():
        raise AssertionError("a present image has a layer that is not present")
    if (store.layer_refs < image_refs).any():
        raise AssertionError("a layer has fewer references than present images holding it")
    if (store.layer_present & (store.layer_refs <= 0)).any():
        raise AssertionError("a present layer has no reference (it should have been deleted)")
    used = store.layer_sizes @ store.layer_present.astype(np.int64)
    for node, layers in (downloading or {}).items():
        used[node] += sum(int(store.layer_sizes[layer]) for layer in layers)
    if not np.array_equal(used, store.disk_used):
        raise AssertionError(f"disk_used {store.disk_used.tolist()} != present + downloading {used.tolist()}")


def attach(state: ClusterState, store: ImageStore) -> None:
    """Make ``store`` the cluster's image store (read by ImageLocality)."""
    setattr(state, _ATTR, store)


def store_of(state: ClusterState) -> ImageStore | None:
    """The cluster's image store, grown to the node table's size; None when the scenario
    does not model images."""
    store: ImageStore | None = getattr(state, _ATTR, None)
    if store is not None and store.n < state.nodes.n:
        store.sync(state.nodes.pool)
    return store
