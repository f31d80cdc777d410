"""Image pulls: per-node pull queues, registry limits, and layer downloads that share
the node's bandwidth.

A pull request (one container's image on one node) goes through, in order:

1. **The node's image puller.** With ``serializeImagePulls`` (kubelet's default) one
   pull runs at a time and the others wait in FIFO order; otherwise up to
   ``maxParallelImagePulls`` run at once (unlimited when unset).
2. **kubelet's registry rate limit** when the pull starts: a token bucket per node of
   ``registryPullQPS`` tokens per second holding at most ``registryBurst`` (starting
   full). As upstream's ``throttledImageService`` (``TryAccept``), a pull that finds no
   token fails at once with "pull QPS exceeded" (ErrImagePull, then back-off); QPS 0
   disables the limit.
3. **A pull failure** decided by the caller (the workload's failure probability) fails
   the pull at once.
4. **Disk**: the bytes of the image's layers that are neither present nor downloading are
   reserved (image GC runs first if usage would reach the high threshold, see
   :mod:`k8sim.runtime.store`); if they do not fit, the pull fails with "no space left
   on device".
5. **Downloads**: only missing layers are downloaded. A layer already being downloaded
   on the node (for another pull) is awaited, not downloaded twice. At most
   ``max_concurrent_downloads`` layers download at once (the container runtime's limit,
   containerd's CRI ``max_concurrent_downloads``, default 3 in
   ``internal/cri/config/config_unix.go``), base layer first, the next one starting as
   one ends. ``download_limit_scope: pull`` (the default) gives each pull its own limit,
   as containerd up to 2.0 (``client/pull.go`` makes one semaphore per pull);
   ``node`` shares one limit among all the node's pulls, as containerd 2.1+ (one
   ``downloadLimiter`` in ``internal/cri/server/images/service.go``) and dockerd
   (``max-concurrent-downloads``). A layer waiting for its turn is already reserved on
   disk and is awaited by other pulls that need it. The pull ends when its last layer is
   present; the image is then present on the node.

Bandwidth is processor sharing per download stream: each active layer download on a
node gets ``bandwidth / n`` of the node's bandwidth (``n`` active downloads; layers
waiting for a download slot get nothing). The rates change only when a download starts
or ends, so the model is event-driven: at each change the remaining bytes of the node's
downloads are advanced, and one SimPy timeout is set for the next completion; timeouts
made stale by a later change are ignored (a version counter), so nothing polls. With
``images.registry_bandwidth`` the registry is a shared bottleneck too: every active
download in the cluster gets the max-min fair rate (water-filling over the per-node
shares ``bandwidth_n / n_n`` under the registry's total), recomputed at each change with
one timeout for the whole cluster.

Not modelled: manifest round trips, decompression / unpacking time (the downloaded
bytes are the compressed sizes), chunked parallel fetches of one layer
(``concurrent_layer_fetch_buffer``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from k8sim.runtime.store import GCResult, ImageStore

#: Reasons a pull fails (the ErrImagePull message).
QPS_EXCEEDED = "pull QPS exceeded"
REGISTRY_ERROR = "failed to pull image: registry error"
NO_SPACE = "no space left on device"


class _Flow:
    """One layer downloading on one node, shared by every pull that waits for it.

    ``remaining`` bytes at the puller's last advance (per node, or registry-wide) and,
    in registry mode, the current ``rate``; ``waiters`` are the pulls whose ``pending``
    count drops when it completes. Lives in ``_Node.flows`` (and ``Puller._flows``)
    from the download's start to its end; only the :class:`Puller` touches it.
    """

    __slots__ = ("layer", "node", "size", "remaining", "rate", "waiters", "active", "limiter")

    def __init__(self, layer: int, node: int, size: float, limiter: _Limiter | None):
        self.layer = layer
        self.node = node
        self.size = size
        self.remaining = size
        self.rate = 0.0
        self.waiters: list[PullRequest] = []
        #: Downloading now (else waiting for a slot of its ``limiter``: no bandwidth).
        self.active = False
        self.limiter = limiter

    def done(self) -> bool:
        # Float residue of the processor-sharing arithmetic: a few ulps of the size.
        return self.remaining <= 1e-9 * self.size + 1e-6


class _Limiter:
    """A download-slot semaphore: at most ``slots`` active flows; the others wait in
    FIFO order (one per pull, or one per node: ``download_limit_scope``)."""

    __slots__ = ("slots", "running", "waiting")

    def __init__(self, slots: int):
        self.slots = slots
        self.running = 0
        self.waiting: deque[_Flow] = deque()


class PullRequest:
    """One pull. ``done`` and ``error`` (None = success) once it has ended; ``event``
    (succeeded with ``error``) exists only if it did not end the moment it was made.

    Returned by :meth:`Puller.request` to the caller (the kubelet), which only reads it:
    the puller alone writes it. ``pending`` counts the layer downloads it still waits
    for; ``pinned``: its image's layers hold a reference in the store (taken when the
    pull starts, turned into the image's own or dropped when it ends). Once ``done`` it
    never changes again.
    """

    __slots__ = ("image", "event", "fails", "pending", "pinned", "done", "error", "bytes")

    def __init__(self, image: int, fails: bool):
        self.image = image
        self.event: simpy.Event | None = None
        self.fails = fails
        self.pending = 0
        self.pinned = False
        self.done = False
        self.error: str | None = None
        #: Bytes of the image's layers missing on the node when the pull was requested
        #: (downloaded by it, by another pull, or already there when it came out of the
        #: queue); 0 when everything was present (an ``Always`` pull of a present image).
        self.bytes = 0


class _Node:
    """A node's puller queue, token bucket and downloads.

    Created on the node's first pull from its ``NodeImageConfig``. Invariants:
    ``executing <= limit``; ``queue`` holds, in FIFO order, the pulls not yet started;
    ``flows`` maps layer id -> its download on this node (at most one per layer);
    ``tokens <= burst`` as of ``t_tokens``; ``version`` invalidates older timers;
    ``active`` counts the flows downloading now (the others wait for a download slot:
    ``downloads`` slots per pull, or the node-wide ``limiter``).
    """

    __slots__ = ("bandwidth", "limit", "qps", "burst", "tokens", "t_tokens", "executing", "queue",
                 "flows", "t_flows", "version", "active", "downloads", "limiter")

    def __init__(self, bandwidth: float, limit: float, qps: float, burst: int, downloads: int = 0,
                 node_scope: bool = False):
        self.bandwidth = bandwidth
        self.limit = limit
        self.qps = qps
        self.burst = burst
        self.tokens = float(burst)
        self.t_tokens = 0.0
        self.executing = 0
        self.queue: deque[PullRequest] = deque()
        self.flows: dict[int, _Flow] = {}
        self.t_flows = 0.0
        self.version = 0
        self.active = 0
        self.downloads = downloads  # layer downloads at once (0: no limit)
        self.limiter = _Limiter(downloads) if downloads > 0 and node_scope else None


class Puller:
    """All image pulls of a simulation (see the module docstring).

    One per simulation, owned and called by the kubelet (:meth:`request`). After the
    start-up pre-pulls it is the only writer of layers and disk bytes in the
    :class:`~k8sim.runtime.store.ImageStore`: it pins an
    image's layers when a pull starts, reserves disk for the missing ones (running
    image GC first when needed), marks layers present as downloads end and hands the
    image to the store when the pull ends. Holds one SimPy timer per node (one in all
    with ``registry_bandwidth``) for the next download completion; a timer superseded by
    a later start or end is ignored. Event-driven and deterministic: completions that
    fall together are handled in a fixed order. ``on_gc(node, result)`` is called after
    each image GC pass a pull ran (whether or not it deleted anything); ``on_pulled(node,
    image)`` after each successful pull.
    """

    def __init__(self, env: simpy.Environment, store: ImageStore, registry_bandwidth: float | None = None,
                 on_gc: Callable[[int, GCResult], None] | None = None,
                 on_pulled: Callable[[int, int], None] | None = None):
        self.env = env
        self.store = store
        self.registry_bandwidth = registry_bandwidth
        self.on_gc = on_gc
        self.on_pulled = on_pulled
        self._nodes: dict[int, _Node] = {}
        # Registry-wide mode: every flow (a dict: insertion-ordered, so completions that
        # fall together are handled in a reproducible order), one clock and one timer.
        self._flows: dict[_Flow, None] = {}
        self._t = 0.0
        self._version = 0
        #: Layer downloads started and bytes downloaded (for reports and tests).
        self.downloads = 0
        self.bytes_downloaded = 0

    def _node(self, node: int) -> _Node:
        ns = self._nodes.get(node)
        if ns is None:
            cfg = self.store.configs[node]
            ns = _Node(cfg.bandwidth, cfg.pull_limit, cfg.registry_pull_qps, cfg.registry_burst,
                       cfg.max_concurrent_downloads, cfg.download_limit_scope == "node")
            ns.t_tokens = self.env.now
            self._nodes[node] = ns
        return ns

    def downloading(self, node: int) -> dict[int, _Flow]:
        """Layer id -> download in progress on ``node``."""
        ns = self._nodes.get(node)
        return ns.flows if ns is not None else {}

    # -- requests -------------------------------------------------------------------

    def request(self, node: int, image: int, fails: bool = False) -> PullRequest:
        """Pull ``image`` on ``node``. ``fails``: the registry fails this pull (decided
        by the caller). A pull that ends at once (a present image, a failure) is
        ``done`` on return; otherwise wait for its ``event`` (value: ``error``)."""
        req = PullRequest(image, fails)
        req.bytes = self.store.missing_bytes(image, node)
        ns = self._node(node)
        ns.queue.append(req)
        self._dispatch(ns, node)
        if not req.done:
            req.event = self.env.event()
        return req

    def _dispatch(self, ns: _Node, node: int) -> None:
        while ns.queue and ns.executing < ns.limit:
            self._execute(ns, node, ns.queue.popleft())

    def _execute(self, ns: _Node, node: int, req: PullRequest) -> None:
        ns.executing += 1
        now = self.env.now
        if ns.qps > 0:
            ns.tokens = min(float(ns.burst), ns.tokens + (now - ns.t_tokens) * ns.qps)
            ns.t_tokens = now
            if ns.tokens < 1.0:
                self._complete(ns, node, req, QPS_EXCEEDED)
                return
            ns.tokens -= 1.0
        if req.fails:
            self._complete(ns, node, req, REGISTRY_ERROR)
            return
        store = self.store
        flows = ns.flows
        # Pin first: image GC (below) must not delete a layer this pull relies on.
        absent, downloading = store.pin_and_scan(req.image, node, flows)
        req.pinned = True
        if absent:
            missing = sum(store.layer_size(layer) for layer in absent)
            fits, gc = store.make_room(node, missing, now)
            if gc.wanted and self.on_gc is not None:
                self.on_gc(node, gc)
            if not fits:
                self._complete(ns, node, req, NO_SPACE)
                return
            store.reserve(node, missing)
            self._advance(ns)
            limiter = ns.limiter
            if limiter is None and ns.downloads > 0 and len(absent) > ns.downloads:
                limiter = _Limiter(ns.downloads)  # this pull's own slots
            for layer in absent:
                flow = _Flow(layer, node, float(store.layer_size(layer)), limiter)
                flows[layer] = flow
                flow.waiters.append(req)
                if limiter is None or limiter.running < limiter.slots:
                    self._activate(ns, flow)
                else:
                    limiter.waiting.append(flow)
            self.downloads += len(absent)
            self.bytes_downloaded += missing
            self._reschedule(ns, node)
        for layer in downloading:
            flows[layer].waiters.append(req)
        req.pending = len(absent) + len(downloading)
        if req.pending == 0:
            self._complete(ns, node, req, None)

    def _complete(self, ns: _Node, node: int, req: PullRequest, error: str | None) -> None:
        ns.executing -= 1
        if req.pinned:
            if error is None:
                self.store.image_pulled(req.image, node, self.env.now)
                if self.on_pulled is not None:
                    self.on_pulled(node, req.image)
            else:
                self.store.unpin(req.image, node)
        req.done = True
        req.error = error
        if req.event is not None:
            req.event.succeed(error)

    # -- downloads ------------------------------------------------------------------

    def _activate(self, ns: _Node, flow: _Flow) -> None:
        """Start downloading ``flow`` (remaining bytes must be advanced to now)."""
        flow.active = True
        ns.active += 1
        if flow.limiter is not None:
            flow.limiter.running += 1
        if self.registry_bandwidth is not None:
            self._flows[flow] = None

    def _advance(self, ns: _Node) -> None:
        """Bring remaining bytes up to now at the current rates."""
        now = self.env.now
        if self.registry_bandwidth is not None:
            self._advance_all()
            return
        k = ns.active
        if k and now > ns.t_flows:
            dx = (now - ns.t_flows) * ns.bandwidth / k
            if k == len(ns.flows):
                for f in ns.flows.values():
                    f.remaining -= dx
            else:
                for f in ns.flows.values():
                    if f.active:
                        f.remaining -= dx
        ns.t_flows = now

    def _reschedule(self, ns: _Node, node: int) -> None:
        """Set the timer for the next completion (invalidating older timers)."""
        if self.registry_bandwidth is not None:
            self._reschedule_registry()
            return
        ns.version += 1
        k = ns.active
        if not k:
            return
        if k == len(ns.flows):
            first = min(f.remaining for f in ns.flows.values())
        else:
            first = min(f.remaining for f in ns.flows.values() if f.active)
        dt = max(first, 0.0) * k / ns.bandwidth
        ev = self.env.timeout(dt)
        ev.callbacks.append(partial(self._tick, node, ns.version))

    def _tick(self, node: int, version: int, _ev: simpy.Event) -> None:
        ns = self._nodes[node]
        if version != ns.version:
            return  # superseded by a later start or completion
        self._advance(ns)
        flows = [f for f in ns.flows.values() if f.active]
        done = [f for f in flows if f.remaining <= 1e-9 * f.size + 1e-6]  # = f.done(), inlined
        if not done:  # rounding left the first one a hair short: it is the one due now
            done = [min(flows, key=lambda f: f.remaining)]
        self._finish(ns, node, done)
        self._reschedule(ns, node)
        self._dispatch(ns, node)

    def _finish(self, ns: _Node, node: int, done: list[_Flow]) -> None:
        present = self.store.layer_present
        finished = []
        for f in done:
            del ns.flows[f.layer]
            ns.active -= 1
            present[f.layer, node] = True
            for req in f.waiters:
                req.pending -= 1
                if req.pending == 0:
                    finished.append(req)
            lim = f.limiter
            if lim is not None:  # hand the download slot to the next waiting layer
                lim.running -= 1
                if lim.waiting:
                    self._activate(ns, lim.waiting.popleft())
        for req in finished:
            self._complete(ns, node, req, None)

    # -- registry-wide bandwidth (water-filling) ------------------------------------

    def _advance_all(self) -> None:
        now = self.env.now
        dt = now - self._t
        if dt > 0:
            for f in self._flows:
                f.remaining -= dt * f.rate
        self._t = now

    def _reschedule_registry(self) -> None:
        self._version += 1
        if not self._flows:
            return
        # Per node: n flows, each capped at bandwidth / n. Max-min fair shares under the
        # registry's total: fill the lowest caps first.
        groups = sorted(
            ((ns.bandwidth / ns.active, ns.active, ns) for ns in self._nodes.values() if ns.active),
            key=lambda g: g[0],
        )
        assert self.registry_bandwidth is not None  # only called with a registry bottleneck
        remaining_bw = float(self.registry_bandwidth)
        remaining_flows = len(self._flows)
        level = float("inf")
        for cap, k, _ns in groups:
            if cap * remaining_flows <= remaining_bw:
                remaining_bw -= cap * k
                remaining_flows -= k
            else:
                level = remaining_bw / remaining_flows
                break
        first = float("inf")
        for cap, _k, ns in groups:
            rate = min(cap, level)
            for f in ns.flows.values():
                if f.active:
                    f.rate = rate
                    first = min(first, max(f.remaining, 0.0) / rate)
        ev = self.env.timeout(first)
        ev.callbacks.append(partial(self._tick_registry, self._version))

    def _tick_registry(self, version: int, _ev: simpy.Event) -> None:
        if version != self._version:
            return
        self._advance_all()
        done = [f for f in self._flows if f.done()]
        if not done:
            done = [min(self._flows, key=lambda f: f.remaining / f.rate)]
        by_node: dict[int, list[_Flow]] = {}
        for f in done:
            del self._flows[f]
            by_node.setdefault(f.node, []).append(f)
        for node, fs in sorted(by_node.items()):
            self._finish(self._nodes[node], node, fs)
        self._reschedule_registry()
        for node in sorted(by_node):
            self._dispatch(self._nodes[node], node)
