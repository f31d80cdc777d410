"""The runtime model compiled from a scenario: catalog, node image store, and for each
workload what its pods do between binding and Running (and after).

:func:`build_runtime` returns None for a scenario that models neither images nor any
runtime detail (sandbox, init containers, containers, readiness, crashes, restarts):
its pods keep the plain lifecycle (``start_latency``, then ``duration``) at no cost.

Common random numbers: every per-pod quantity is the ``i``-th draw of a stream keyed by
the workload (:class:`IndexedSampler`), whatever order pods reach the kubelet in, so two
scheduling policies on one seed give the ``i``-th pod of a workload the same latencies,
the same first pull outcome and the same first crash. Later pull attempts and later
runs draw from the pod's own streams (``rt-pull-fail`` / ``rt-crash`` keyed by workload
and pod index), created only for pods that need them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from k8sim.config.distributions import ConstantDistribution
from k8sim.config.loader import ScenarioError
from k8sim.config.quantity import to_units
from k8sim.runtime.catalog import (
    Catalog,
    CatalogError,
    build_catalog,
    default_pull_policy,
    normalize_image_name,
)
from k8sim.runtime.podworker import PodWorkerTiming
from k8sim.runtime.store import ImageStore, NodeImageConfig, attach

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.config.scenario import NodePool, PodTemplate, Scenario
    from k8sim.rng import Streams

ALWAYS, IF_NOT_PRESENT, NEVER = 0, 1, 2
_POLICIES = {"Always": ALWAYS, "IfNotPresent": IF_NOT_PRESENT, "Never": NEVER}
RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER = 0, 1, 2
_RESTARTS = {"Always": RESTART_ALWAYS, "OnFailure": RESTART_ON_FAILURE, "Never": RESTART_NEVER}
RESTART_CODES = _RESTARTS  # restartPolicy name -> code
#: A manifest object's pod template for :func:`build_runtime`: (the problem's path in the
#: scenario, ``"<file>: document[i].<pod spec path>"`` for messages, the template).
ManifestPod = tuple[str, str, "PodTemplate"]


class Sampleable(Protocol):
    """What :class:`IndexedSampler` draws from: a scenario distribution or a fixed one."""

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray: ...


class IndexedSampler:
    """The ``i``-th draw of a distribution from one stream, whatever order the draws
    are asked for in (blocks of fixed size are drawn in order and kept). A constant
    needs no stream (``rng`` None)."""

    BLOCK = 1024

    def __init__(self, dist: Sampleable, rng: np.random.Generator | None):
        self._dist = dist
        self._rng = rng
        self._blocks: list[list[float]] = []
        self._const = dist.value if isinstance(dist, ConstantDistribution) else None

    def get(self, i: int) -> float:
        if self._const is not None:
            return self._const
        b, k = divmod(i, self.BLOCK)
        blocks = self._blocks
        while len(blocks) <= b:
            assert self._rng is not None  # only constants come without a stream
            blocks.append(self._dist.sample(self._rng, self.BLOCK).tolist())
        return blocks[b][k]


class _Zero:
    def get(self, i: int) -> float:
        return 0.0


ZERO = _Zero()


@dataclass
class Container:
    """One container of a workload's pods, compiled."""

    name: str
    image: int  # catalog id, -1: nothing to pull
    policy: int  # ALWAYS / IF_NOT_PRESENT / NEVER
    start: IndexedSampler | _Zero  # create + start latency
    duration: IndexedSampler | _Zero = ZERO  # init containers: run time


@dataclass
class WorkloadRuntime:
    """What a workload's pods do from binding on (see :mod:`k8sim.runtime.kubelet`)."""

    index: int
    init: list[Container]
    main: list[Container]
    sandbox: IndexedSampler | _Zero
    readiness: IndexedSampler | _Zero
    restart_policy: int
    pull_failure_p: float
    #: Crash model: kind ("probability" / "rate" / None) and its samplers for the first run.
    crash_kind: str | None = None
    crash_p: float = 0.0
    crash_rate: float = 0.0
    crash_after: Sampleable | None = None  # Distribution (probability model)
    first_crash_u: IndexedSampler | None = None
    first_crash_t: IndexedSampler | None = None
    first_pull_u: IndexedSampler | None = None
    #: Distinct catalog images of the pod (kept "in use" on its node while it is bound).
    images: tuple[int, ...] = ()
    #: Catalog image per container, init containers first (-1: none), for ImageLocality.
    container_images: tuple[int, ...] = ()
    #: The pod lists its ``containers:``; with the ``image:`` shorthand the pod's
    #: ``start_latency`` is its one container's start latency (paid again at restarts).
    explicit_containers: bool = True
    #: Exit codes of a crash and their cumulative probabilities (the crash model's
    #: ``exit_code``), drawn when a crash ends the pod.
    exit_codes: tuple[int, ...] = (1,)
    exit_cum: tuple[float, ...] = (1.0,)
    #: Keys of the per-pod streams (``rt-crash``, ...) before the pod index: the
    #: workload's index, or (workload, object key) for an object's own model.
    stream_keys: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not self.stream_keys:
            self.stream_keys = (self.index,)

    #: A usage model may OOM-kill the container (:mod:`k8sim.autoscaling.usage`).
    oom: bool = False

    @property
    def runs_once(self) -> bool:
        """The main container runs once: no crash model, no OOM kill, and success ends the pod."""
        return self.crash_kind is None and not self.oom and self.restart_policy != RESTART_ALWAYS


@dataclass
class RuntimeModel:
    """Everything the kubelet needs beyond the cluster tables."""

    catalog: Catalog | None
    store: ImageStore | None
    workloads: list[WorkloadRuntime | None]
    registry_bandwidth: float | None = None
    streams: Streams | None = None
    #: The run has no duration_s: it ends when nothing is left to happen.
    drain: bool = False
    #: Pod-worker timing per node pool (index = pool code); ``default_sync`` for nodes
    #: outside the pools.
    pool_sync: list[PodWorkerTiming] | None = None
    default_sync: PodWorkerTiming = field(default_factory=lambda: PodWorkerTiming())
    #: Pod shape -> the runtime model of one object's pods (manifest annotations such as
    #: ``k8sim.io/readiness-delay``), instead of their workload's.
    by_shape: dict[int, WorkloadRuntime] = field(default_factory=dict)

    def compile_object(self, workload: int, key: int, template: PodTemplate) -> WorkloadRuntime | None:
        """The runtime model of one object's pods without images (``template``: the
        workload entry's knobs with the object's own), streams keyed by (workload,
        ``key``); None if the template models nothing of the runtime."""
        if not _needs_runtime(template, False, False):
            return None
        assert self.streams is not None
        rt = _compile_workload(workload, template, self.streams, _Resolver(None, []), key=(workload, key))
        rt.oom = self._oom(workload)
        return rt

    def compile_pod(self, workload: int, key: int, knobs: PodTemplate, pod: PodTemplate) -> WorkloadRuntime:
        """The runtime model of the pods of a manifest object's pod template ``pod``
        when the run has an image catalog: its containers' and init containers' images
        and ``imagePullPolicy`` (pulled, then started, as a template workload's), with
        the simulation knobs of ``knobs`` (the workload entry's template with the
        object's annotations: sandbox latency, readiness delay, crash model, restart
        policy). Streams are keyed by (workload, ``key``), as :meth:`compile_object`'s.

        The containers of a manifest have no start latency of their own: the pod's
        ``start_latency`` follows the last one, and a restart of the main container pays
        it again (as with the ``image:`` shorthand, and as without images). Raises
        ValueError for an image not in the catalog (:func:`build_runtime` reports those
        of the manifests read at the start with their file and field)."""
        assert self.streams is not None and self.catalog is not None
        template = knobs.model_copy(update={"image": None, "image_pull_policy": None,
                                            "containers": list(pod.containers),
                                            "init_containers": list(pod.init_containers)})
        problems: list[tuple[str, str]] = []
        rt = _compile_workload(workload, template, self.streams, _Resolver(self.catalog, problems),
                               key=(workload, key))
        if problems:
            raise ValueError("; ".join(msg for _, msg in problems))
        rt.explicit_containers = False
        rt.oom = self._oom(workload)
        return rt

    def _oom(self, workload: int) -> bool:
        """The workload's pods may be OOM-killed (a memory usage model)."""
        rt = self.workloads[workload] if 0 <= workload < len(self.workloads) else None
        return rt is not None and rt.oom

    def sync_of(self, pool: int) -> PodWorkerTiming:
        """The pod-worker timing of a node of pool ``pool``."""
        ps = self.pool_sync
        return ps[pool] if ps is not None and 0 <= pool < len(ps) else self.default_sync

    def container_images(self, workload: int) -> tuple[int, ...]:
        """Catalog image ids of a workload's containers (init first; -1 = none)."""
        if workload < 0 or self.store is None:
            return ()
        rt = self.workloads[workload]
        return rt.container_images if rt is not None else ()


def _sampler(dist: Sampleable | None, streams: Streams, name: str, *keys: int) -> IndexedSampler | _Zero:
    if dist is None:
        return ZERO
    if isinstance(dist, ConstantDistribution):
        return ZERO if dist.value == 0 else IndexedSampler(dist, None)
    return IndexedSampler(dist, streams.generator(name, *keys))


def _needs_runtime(t: PodTemplate, images_on: bool, finite: bool) -> bool:
    has_image = (t.image is not None or any(c.image is not None for c in t.containers)
                 or any(c.image is not None for c in t.init_containers))
    return bool(
        (images_on and has_image)
        or t.init_containers
        or t.containers
        or t.sandbox_latency is not None
        or t.readiness_delay is not None
        or t.crash is not None
        or (t.restart_policy == "Always" and finite)
    )


class _Resolver:
    def __init__(self, catalog: Catalog | None, problems: list[tuple[str, str]]):
        self.catalog = catalog
        self.problems = problems

    def image(self, name: str | None, where: str) -> int:
        if name is None or self.catalog is None:
            return -1
        iid = self.catalog.id_of(name)
        if iid is None:
            known = self.catalog.image_names
            wanted = normalize_image_name(name)
            repo = wanted.split("@")[0].rsplit(":", 1)[0]
            close = [k for k in known if k.rsplit(":", 1)[0] == repo]
            close += [k for k in difflib.get_close_matches(wanted, known, n=3) if k not in close]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            shown = ", ".join(known[:8]) + (f", ... ({len(known)} images)" if len(known) > 8 else "")
            self.problems.append((where, f"image {name!r} is not in the image catalog ({shown}){hint}"))
            return -1
        return iid


def _policy(explicit: str | None, template_policy: str | None, image: str | None) -> int:
    p = explicit or template_policy or (default_pull_policy(image) if image is not None else "IfNotPresent")
    return _POLICIES[p]


def _compile_workload(wi: int, t: PodTemplate, streams: Streams, res: _Resolver,
                      key: tuple[int, ...] = ()) -> WorkloadRuntime:
    """The runtime model of pods made from ``t``; its streams are keyed by ``key``
    (default: the workload index ``wi``)."""
    where = f"workloads[{wi}].template"
    keys = key or (wi,)
    init = []
    for j, ic in enumerate(t.init_containers):
        init.append(Container(
            ic.name, res.image(ic.image, f"{where}.initContainers[{j}].image"),
            _policy(ic.image_pull_policy, t.image_pull_policy, ic.image),
            _sampler(ic.start_latency, streams, "rt-init-start", *keys, j),
            _sampler(ic.duration, streams, "rt-init-duration", *keys, j),
        ))
    main = []
    if t.containers:
        for j, c in enumerate(t.containers):
            main.append(Container(
                c.name, res.image(c.image, f"{where}.containers[{j}].image"),
                _policy(c.image_pull_policy, t.image_pull_policy, c.image),
                _sampler(c.start_latency, streams, "rt-start", *keys, j),
            ))
    else:
        main.append(Container("main", res.image(t.image, f"{where}.image"),
                              _policy(None, t.image_pull_policy, t.image), ZERO))
    explicit = bool(t.containers)
    rt = WorkloadRuntime(
        index=wi,
        init=init,
        main=main,
        sandbox=_sampler(t.sandbox_latency, streams, "rt-sandbox", *keys),
        readiness=_sampler(t.readiness_delay, streams, "rt-readiness", *keys),
        restart_policy=_RESTARTS[t.restart_policy],
        pull_failure_p=t.image_pull_failure_probability,
        explicit_containers=explicit,
        stream_keys=keys,
    )
    if rt.pull_failure_p > 0:
        rt.first_pull_u = IndexedSampler(_UNIFORM, streams.generator("rt-pull-fail", *keys))
    crash = t.crash
    if crash is not None:
        rt.first_crash_u = IndexedSampler(_UNIFORM, streams.generator("rt-crash-u", *keys))
        if crash.probability is not None:
            rt.crash_kind, rt.crash_p = "probability", crash.probability
            rt.crash_after = crash.after or ConstantDistribution(value=0.0)
            rt.first_crash_t = IndexedSampler(rt.crash_after, streams.generator("rt-crash-t", *keys))
        else:
            assert crash.rate_per_s is not None  # CrashModel: exactly one of probability, rate_per_s
            rt.crash_kind, rt.crash_rate = "rate", float(crash.rate_per_s)
            rt.first_crash_t = IndexedSampler(_Exp(rt.crash_rate), streams.generator("rt-crash-t", *keys))
        codes = crash.exit_code if isinstance(crash.exit_code, dict) else {crash.exit_code: 1.0}
        weights = np.array(list(codes.values()), dtype=float)
        rt.exit_codes = tuple(int(c) for c in codes)
        rt.exit_cum = tuple((np.cumsum(weights) / weights.sum()).tolist())
    cimgs = tuple(c.image for c in init) + tuple(c.image for c in main)
    rt.container_images = cimgs
    rt.images = tuple(sorted({i for i in cimgs if i >= 0}))
    return rt


class _Uniform:
    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.random(size)


class _Exp:
    def __init__(self, rate: float):
        self.mean = 1.0 / rate

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self.mean, size)


_UNIFORM = _Uniform()


def _pool_config(pool: NodePool, prepulled: tuple[int, ...]) -> NodeImageConfig:
    k = pool.kubelet
    return NodeImageConfig(
        disk_capacity=to_units(pool.image_disk) if pool.image_disk is not None else 0,
        bandwidth=float(pool.image_pull_bandwidth),
        prepulled=prepulled,
        serialize_image_pulls=k.serialize_image_pulls,
        max_parallel_image_pulls=k.max_parallel_image_pulls,
        registry_pull_qps=k.registry_pull_qps,
        registry_burst=k.registry_burst,
        gc_high_percent=k.image_gc_high_threshold_percent,
        gc_low_percent=k.image_gc_low_threshold_percent,
        gc_min_age_s=k.image_minimum_gc_age_s,
        gc_period_s=k.image_gc_period_s,
        max_concurrent_downloads=pool.max_concurrent_downloads,
        download_limit_scope=pool.download_limit_scope,
    )


def _node_group_images(scenario: Scenario, state: ClusterState, res: _Resolver,
                       configs: list[NodeImageConfig]) -> None:
    """Image configs of the Cluster Autoscaler's node groups that pre-pull images: the
    group's pool code (its name among the node pools, registered before the runtime is
    built) gets the default node config with those images present at registration;
    other pools past the cluster's keep the default."""
    ca = scenario.autoscaling.cluster_autoscaler if scenario.autoscaling is not None else None
    if ca is None:
        return
    names = state.nodes.pool_names
    for i, g in enumerate(ca.node_groups):
        if not g.template.prepulled_images or g.name not in names:
            continue
        where = f"autoscaling.cluster_autoscaler.node_groups[{i}].template.prepulled_images"
        pre = tuple(dict.fromkeys(res.image(name, f"{where}[{j}]") for j, name in enumerate(g.template.prepulled_images)))
        code = names.index(g.name)
        while len(configs) <= code:
            configs.append(NodeImageConfig())
        configs[code] = NodeImageConfig(prepulled=tuple(x for x in pre if x >= 0))


def _fmt_bytes(n: int) -> str:
    return f"{n:,} bytes ({n / 2**20:,.1f} MiB)"


def build_runtime(scenario: Scenario, state: ClusterState, streams: Streams,
                  objects: bool = False, manifest_pods: Sequence[ManifestPod] = ()) -> RuntimeModel | None:
    """Compile the runtime model of ``scenario`` (None if it models nothing of it).

    Raises :class:`ScenarioError` naming the field for: an image name that is not in
    the catalog (workload containers, pre-pulled images), a layer or an image larger
    than a pool's image disk, pre-pulled images that do not fit on it, a digest with two
    sizes, an image defined twice, image settings on a pool without an ``images``
    section. ``objects``: some manifest object has runtime knobs of its own (annotations),
    so a model is needed even if no workload entry asks for one. ``manifest_pods``: the
    pod templates of the manifests' objects, whose images must be in the catalog and
    fit the pools' image disks (problems name the file, the document and the field).
    """
    spec = scenario.images
    images_on = spec is not None
    problems: list[tuple[str, str]] = []
    if not images_on:
        for i, pool in enumerate(scenario.cluster.node_pools):
            if pool.prepulled_images:
                problems.append((f"cluster.node_pools[{i}].prepulled_images",
                                 "pre-pulled images need an images: section (the image catalog)"))
        ca = scenario.autoscaling.cluster_autoscaler if scenario.autoscaling is not None else None
        for i, g in enumerate(ca.node_groups if ca is not None else []):
            if g.template.prepulled_images:
                problems.append((f"autoscaling.cluster_autoscaler.node_groups[{i}].template.prepulled_images",
                                 "pre-pulled images need an images: section (the image catalog)"))
        if problems:
            raise ScenarioError(scenario.source, problems)
    # Workloads with a memory usage model can be OOM-killed: they take the lifecycle with
    # container restarts (k8sim.autoscaling.pod_autoscaling).
    oom = _memory_modelled(scenario)
    needs = [
        _needs_runtime(w.template, images_on, w.duration is not None) or wi in oom
        for wi, w in enumerate(scenario.workloads)
    ]
    if not images_on and not any(needs) and not objects:
        return None
    catalog = None
    if spec is not None:
        try:
            catalog = build_catalog(spec, streams.generator("image-catalog"))
        except CatalogError as e:
            raise ScenarioError(scenario.source, e.problems) from None
    res = _Resolver(catalog, problems)
    workloads: list[WorkloadRuntime | None] = []
    for wi, w in enumerate(scenario.workloads):
        workloads.append(_compile_workload(wi, w.template, streams, res) if needs[wi] else None)
        if wi in oom:
            workloads[-1].oom = True  # type: ignore[union-attr]
    store = None
    if catalog is not None:
        configs = []
        for i, pool in enumerate(scenario.cluster.node_pools):
            pre = tuple(dict.fromkeys(
                res.image(name, f"cluster.node_pools[{i}].prepulled_images[{j}]")
                for j, name in enumerate(pool.prepulled_images)
            ))
            configs.append(_pool_config(pool, tuple(x for x in pre if x >= 0)))
        _node_group_images(scenario, state, res, configs)
        extra = _manifest_images(catalog, manifest_pods, problems)
        _check_disks(scenario, catalog, configs, workloads, problems, extra)
        if problems:
            raise ScenarioError(scenario.source, problems)
        store = ImageStore(catalog, configs)
        store.sync(state.nodes.pool)
        attach(state, store)
    if problems:
        raise ScenarioError(scenario.source, problems)
    registry = None
    if spec is not None and spec.registry_bandwidth is not None:
        registry = float(spec.registry_bandwidth)
    sync = [PodWorkerTiming(p.kubelet.pod_worker_backoff_period_s, p.kubelet.pod_worker_jitter_factor,
                            p.kubelet.pod_worker_requeue_at_backoff_expiry, p.kubelet.sync_frequency_s)
            for p in scenario.cluster.node_pools]
    return RuntimeModel(catalog, store, workloads, registry, streams, drain=scenario.duration_s is None,
                        pool_sync=sync)


def _memory_modelled(scenario: Scenario) -> set[int]:
    """Indices of the workloads whose pods have a memory usage model (a service's
    memory model, or a usage model with memory)."""
    a = scenario.autoscaling
    if a is None or not (a.usage or a.services):
        return set()
    index = {w.name: wi for wi, w in enumerate(scenario.workloads)}
    out = {index[u.workload] for u in a.usage
           if (u.memory is not None or u.from_trace is not None) and u.workload in index}
    if any(s.memory is not None for s in a.services):
        out |= {wi for wi, w in enumerate(scenario.workloads) if w.manifest is not None}
    return out


def _manifest_images(catalog: Catalog, manifest_pods: Sequence[ManifestPod],
                     problems: list[tuple[str, str]]) -> set[int]:
    """Catalog ids of the manifest pod templates' images; an image not in the catalog
    is a problem at the workload entry, its message naming the file, the document and
    the field."""
    out: set[int] = set()
    for path, where, t in manifest_pods:
        found: list[tuple[str, str]] = []
        res = _Resolver(catalog, found)
        images = [(f"initContainers[{j}]", c.image) for j, c in enumerate(t.init_containers)]
        images += [(f"containers[{j}]", c.image) for j, c in enumerate(t.containers)]
        for at, name in images:
            iid = res.image(name, f"{where}.{at}.image")
            if iid >= 0:
                out.add(iid)
        problems.extend((path, f"{at}: {msg}") for at, msg in found)
    return out


def _check_disks(scenario: Scenario, catalog: Catalog, configs: list[NodeImageConfig],
                 workloads: list[WorkloadRuntime | None], problems: list[tuple[str, str]],
                 extra: Iterable[int] = ()) -> None:
    used = sorted({i for rt in workloads if rt is not None for i in rt.images} | set(extra))
    for p, cfg in enumerate(configs):
        cap = cfg.disk_capacity
        if cap <= 0:
            continue
        where = f"cluster.node_pools[{p}].image_disk"
        for img in sorted(set(used) | set(cfg.prepulled)):
            layers = catalog.image_layers[img]
            big = max(layers, key=lambda layer: int(catalog.layer_sizes[layer]))
            big_size = int(catalog.layer_sizes[big])
            if big_size > cap:
                problems.append((where, f"layer {catalog.layer_digests[big]} of image {catalog.image_names[img]!r} "
                                        f"is {_fmt_bytes(big_size)}, larger than the pool's image disk "
                                        f"{_fmt_bytes(cap)}"))
            elif int(catalog.image_sizes[img]) > cap:
                problems.append((where, f"image {catalog.image_names[img]!r} is {_fmt_bytes(int(catalog.image_sizes[img]))}, "
                                        f"larger than the pool's image disk {_fmt_bytes(cap)}"))
        if cfg.prepulled:
            total = catalog.unique_size(cfg.prepulled)
            if total > cap:
                problems.append((f"cluster.node_pools[{p}].prepulled_images",
                                 f"the pre-pulled images take {_fmt_bytes(total)}, more than the pool's image "
                                 f"disk {_fmt_bytes(cap)}"))
