"""``check_plugin``: a contract test for plugin authors.

::

    from k8sim.scheduling.check import check_plugin
    check_plugin(MyPolicy)                       # default args
    check_plugin(MyPolicy, args={"weightA": 3})  # args in pluginConfig spelling
    check_plugin(MyPolicy(MyPolicy.Args(...)))   # an instance

It builds a few small random clusters (nodes with cpu, memory, a GPU-like extended
resource, zones, some tainted or cordoned nodes; bound pods of assorted shapes) and pods
(with and without requests, node selectors, tolerations, affinity, spread constraints,
host ports), runs the plugin's Filter / PreScore / Score / NormalizeScore in the order
:class:`~k8sim.scheduling.framework.Profile` does, and raises
:class:`PluginCheckError` naming the first broken rule:

- ``filter`` returns a numpy ``bool`` array of shape ``(N,)`` (all nodes);
  ``reasons`` returns ``{str: int >= 0}``; ``pre_score`` returns a bool;
- ``score`` returns a numpy integer array (int64-compatible; floats and bools are
  errors) of shape ``(K,)`` for ``K`` candidates, given in arbitrary order;
- ``normalize`` returns the same, with every value in ``[0, MAX_NODE_SCORE]``;
- no call changes the cluster state (node and pod tables, shape counts) or the
  ``candidates`` array it was given;
- two instances, each ``setup`` with an identically seeded generator, return identical
  results (randomness must come from ``self.rng``);
- a plugin that declares ``node_local``: ``filter_nodes`` over random node subsets
  equals ``filter`` at those nodes, and ``score`` over part of the candidates equals the
  score of those nodes among all of them (a node's results must not depend on the
  other nodes; this catches many wrong declarations, not every one); and where it
  offers one-node functions (``filter_one``, ``score_one``, ``filter_row``,
  ``score_row``), they give exactly
  ``filter`` / ``score`` at every node checked;
- ``skips_without``, where declared: ``pre_filter`` is False for the pod with those
  fields emptied; ``reads_requests = False``: a pod that differs in its requests only
  gets the same ``pre_filter`` and ``filter`` answers;
- ``score_with``, where the plugin overrides it (given the cycle's shared candidate
  columns), equals ``score``; where ``uniform_score`` says so, the normalized scores
  are one value.

Between pods the checker binds each pod to a node drawn from its own generator, so
later calls see a changed cluster. Exceptions raised by the plugin are re-raised as
:class:`PluginCheckError` with the call and the cluster they happened on.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from k8sim.cluster import ops
from k8sim.cluster.nodes import ResourceIndex, TaintSpec
from k8sim.cluster.ops import ClusterState
from k8sim.cluster.pods import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST
from k8sim.config.k8s_types import Affinity, ContainerPort, TopologySpreadConstraint
from k8sim.config.pods import Toleration
from k8sim.constants import HOSTNAME_LABEL, ZONE_LABEL
from k8sim.scheduling.plugins.base import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    FilterPlugin,
    NodeRow,
    Plugin,
    ScorePlugin,
)
from k8sim.scheduling.plugins.shared import CandidateColumns
from k8sim.scheduling.podinfo import PodInfo

__all__ = ["PluginCheckError", "check_plugin"]

GPU = "example.com/gpu"
_GI = 1024**3
_MI = 1024**2
_ZONES = ("zone-a", "zone-b", "zone-c")
_TAINT = TaintSpec("dedicated", "gpu", "NoSchedule")


class PluginCheckError(ValueError):
    """A plugin broke the array contract, mutated state, or is not deterministic."""


def check_plugin(
    plugin: type[Plugin] | Plugin,
    *,
    nodes: Sequence[int] = (3, 8, 16),
    pods: int = 8,
    seed: int = 0,
    args: dict[str, Any] | None = None,
) -> None:
    """Check a plugin class (instantiated with ``args``, default args if None) or an
    instance against the plugin contract; raise :class:`PluginCheckError` if it fails.

    ``nodes`` lists the sizes of the random clusters, ``pods`` the pods scheduled on
    each, ``seed`` seeds both the clusters and the plugin's ``rng``.
    """
    name, make = _factory(plugin, args)
    if not nodes or min(nodes) < 1:
        raise ValueError("nodes must list cluster sizes >= 1")
    runs = []
    for _ in range(2):
        p = make()
        p.setup(np.random.default_rng(seed))
        runs.append(_exercise(p, name, nodes, pods, seed))
    for (where, a), (_, b) in zip(runs[0], runs[1], strict=False):
        if not (a.shape == b.shape and np.array_equal(a, b)):
            raise PluginCheckError(
                f"plugin {name} is not deterministic: two instances set up with identically seeded "
                f"generators returned different {where}: {a.tolist()} vs {b.tolist()}. Draw random "
                "numbers only from self.rng (the seeded stream setup() gives the plugin), never from "
                "an unseeded np.random.default_rng(), numpy's global state or the random module"
            )
    if len(runs[0]) != len(runs[1]):
        raise PluginCheckError(
            f"plugin {name} is not deterministic: two identically seeded instances made a different "
            "number of calls"
        )


# ----------------------------------------------------------------------------- the plugin


def _factory(plugin: type[Plugin] | Plugin, args: dict[str, Any] | None) -> tuple[str, Callable[[], Plugin]]:
    if isinstance(plugin, type):
        cls = plugin
        if not issubclass(cls, (FilterPlugin, ScorePlugin)):
            raise PluginCheckError(f"{cls.__qualname__} is not a FilterPlugin or ScorePlugin subclass")
        name = cls.name or cls.__qualname__
        if not cls.name:
            raise PluginCheckError(f"{cls.__qualname__} has no name (set the class attribute `name`)")
        try:
            parsed = cls.parse_args(args)
        except ValueError as e:
            raise PluginCheckError(f"plugin {name}: bad args: {e}") from None
        return name, lambda: cls(parsed)
    if not isinstance(plugin, (FilterPlugin, ScorePlugin)):
        raise PluginCheckError(f"{plugin!r} is not a FilterPlugin or ScorePlugin (class or instance)")
    if args is not None:
        raise ValueError("args apply to a plugin class, not to an instance")
    inst = plugin
    name = inst.name or type(inst).__qualname__
    if not inst.name:
        raise PluginCheckError(f"{type(inst).__qualname__} has no name (set the class attribute `name`)")

    def make() -> Plugin:
        # A fresh instance from the same args, so that state set up in __init__ (such as
        # an unseeded generator) is created anew; a deep copy if the class cannot be
        # rebuilt from its args alone.
        try:
            return type(inst)(inst.args)
        except TypeError:
            return copy.deepcopy(inst)

    return name, make


def _exercise(p: Plugin, name: str, sizes: Sequence[int], n_pods: int, seed: int) -> list[tuple[str, np.ndarray]]:
    """Every result the plugin returned, labelled, in call order."""
    gen = np.random.default_rng([seed, 0x6B38])  # the clusters' own stream
    local = np.random.default_rng([seed, 0x10CA1])  # node subsets of the node-local checks
    out: list[tuple[str, np.ndarray]] = []
    for ci, size in enumerate(sizes):
        state, infos = _random_cluster(gen, size, n_pods)
        n = state.nodes.n
        for pi, pod in enumerate(infos):
            where = f"cluster {ci} ({n} nodes), pod {pi}"
            feasible = (state.nodes.free[pod.requested_rows] >= pod.req_col).all(axis=0)
            if isinstance(p, FilterPlugin):
                mask = _call(p, name, "filter", where, state, pod, state, pod)
                _check_array(name, "filter", where, mask, (n,), boolean=True)
                out.append((f"filter() for {where}", mask.copy()))
                rejected = np.flatnonzero(~mask)
                reasons = _call(p, name, "reasons", where, state, pod, state, pod, rejected)
                if not (isinstance(reasons, dict)
                        and all(isinstance(k, str) and _is_int(v) and v >= 0 for k, v in reasons.items())):
                    raise PluginCheckError(
                        f"plugin {name}: reasons() must return a dict of reason (str) -> node count "
                        f"(int >= 0), got {reasons!r} ({where})"
                    )
                feasible = feasible & mask
                if p.node_local:
                    _check_filter_local(p, name, where, state, pod, mask, local)
                _check_filter_declarations(p, name, where, state, pod, mask)
            if isinstance(p, ScorePlugin):
                out += _score(p, name, where, state, pod, feasible, gen)
                if p.node_local:
                    _check_score_local(p, name, where, state, pod, feasible, local)
            # Bind the pod somewhere (chosen by the checker's stream) so later calls
            # see a changed cluster.
            fit = np.flatnonzero((state.nodes.free[pod.requested_rows] >= pod.req_col).all(axis=0))
            if fit.size:
                _bind(state, pod, int(fit[gen.integers(fit.size)]), f"pod-{ci}-{pi}")
    return out


def _score(p: ScorePlugin, name: str, where: str, state: ClusterState, pod: PodInfo,
           feasible: np.ndarray, gen: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    go = _call(p, name, "pre_score", where, state, pod, state, pod)
    if not isinstance(go, (bool, np.bool_)):
        raise PluginCheckError(f"plugin {name}: pre_score() must return a bool, got {go!r} ({where})")
    out = [(f"pre_score() for {where}", np.array([bool(go)]))]
    if not go:
        return out
    nodes = np.flatnonzero(feasible)
    if nodes.size == 0:
        return out
    # A random subset in random order: the framework passes candidates in the
    # (rotated) order its node sampling found them, not sorted.
    k = nodes.size if gen.random() < 0.5 else int(gen.integers(1, nodes.size + 1))
    candidates = gen.permutation(nodes)[:k]
    given = candidates.copy()
    scores = _call(p, name, "score", where, state, pod, state, pod, given)
    if not np.array_equal(given, candidates):
        raise PluginCheckError(f"plugin {name}: score() modified the candidates array it was given ({where})")
    scores = _check_array(name, "score", where, scores, (k,))
    norm = _call(p, name, "normalize", where, state, pod, pod, scores.copy())
    norm = _check_array(name, "normalize", where, norm, (k,))
    if norm.size and (norm.min() < MIN_NODE_SCORE or norm.max() > MAX_NODE_SCORE):
        raise PluginCheckError(
            f"plugin {name}: normalized scores must lie in [{MIN_NODE_SCORE}, {MAX_NODE_SCORE}], got "
            f"[{norm.min()}, {norm.max()}] ({where}); scale them in normalize() "
            "(e.g. base.default_normalize)"
        )
    if type(p).score_with is not ScorePlugin.score_with:  # the default is score() itself
        columns = CandidateColumns(state.nodes, given)
        shared = _call(p, name, "score_with", where, state, pod, state, pod, given, columns)
        if not np.array_equal(np.asarray(shared), scores):
            raise PluginCheckError(f"plugin {name}: score_with() differs from score() ({where}); it must give "
                                   "exactly score()'s values, reading the shared candidate columns")
    if _call(p, name, "uniform_score", where, state, pod, state, pod) and norm.size and norm.min() != norm.max():
        raise PluginCheckError(
            f"plugin {name}: uniform_score() is True but the normalized scores differ between nodes "
            f"([{norm.min()}, {norm.max()}], {where}); it may hold only when they are one value on every node"
        )
    return out + [(f"score() for {where}", scores), (f"normalize() for {where}", norm)]


def _empty_like(value: Any) -> Any:
    """An empty value of ``value``'s kind ("" , (), {}, 0, ...; None for None or a kind
    without an empty value)."""
    if value is None:
        return None
    try:
        return type(value)()
    except TypeError:
        return None


def _check_filter_declarations(p: FilterPlugin, name: str, where: str, state: ClusterState, pod: PodInfo,
                               mask: np.ndarray) -> None:
    """``skips_without``: the pod with those fields emptied is skipped by ``pre_filter``.
    ``reads_requests`` False: the pod with other requests gets the same ``pre_filter``
    and ``filter`` answers."""
    if p.skips_without:
        bare = dataclasses.replace(pod, **{f: _empty_like(getattr(pod, f)) for f in p.skips_without})
        if _call(p, name, "pre_filter", where, state, bare, state, bare):
            raise PluginCheckError(
                f"plugin {name} declares skips_without={p.skips_without!r}, but pre_filter() returned True for "
                f"a pod without any of them ({where}); fix the declaration or pre_filter()")
    if not p.reads_requests:
        requests = pod.requests.copy()
        requests[:2] = requests[:2] * 2 + 7  # other cpu and memory (rows 0, 1)
        other = dataclasses.replace(pod, requests=requests, nonzero=pod.nonzero * 2 + 7, nonzero_bound=None)
        same = bool(_call(p, name, "pre_filter", where, state, other, state, other)) == bool(
            _call(p, name, "pre_filter", where, state, pod, state, pod))
        if same:
            got = _call(p, name, "filter", where, state, other, state, other)
            same = np.array_equal(np.asarray(got), mask)
        if not same:
            raise PluginCheckError(
                f"plugin {name} declares reads_requests = False, but a pod that differs in its requests only got "
                f"other pre_filter() or filter() answers ({where}); drop the declaration")


def _check_filter_local(p: FilterPlugin, name: str, where: str, state: ClusterState, pod: PodInfo,
                        mask: np.ndarray, gen: np.random.Generator) -> None:
    n = mask.size
    if n == 0 or not _call(p, name, "pre_filter", where, state, pod, state, pod):
        return
    nodes = np.sort(gen.permutation(n)[: int(gen.integers(1, n + 1))])
    got = _call(p, name, "filter_nodes", where, state, pod, state, pod, nodes)
    got = _check_array(name, "filter_nodes", where, got, (nodes.size,), boolean=True)
    if not np.array_equal(got, mask[nodes]):
        raise PluginCheckError(
            f"plugin {name} declares node_local, but filter_nodes() over nodes {nodes.tolist()[:10]}... differs "
            f"from filter() at those nodes ({where}); override filter_nodes() correctly or drop node_local")
    one = _call(p, name, "filter_one", where, state, pod, state, pod)
    if one is not None:
        got_one = _call_one(one, name, "filter_one", where, state, pod, nodes)
        if got_one != mask[nodes].tolist():
            raise PluginCheckError(
                f"plugin {name}: the function from filter_one() differs from filter() at some of the nodes "
                f"{nodes.tolist()[:10]}... ({where}); it must give exactly filter()'s result for one node")
    row_fn = _call(p, name, "filter_row", where, state, pod, state, pod)
    if row_fn is not None:
        got_row = _call_one(_on_row(row_fn), name, "filter_row", where, state, pod, nodes)
        if got_row != mask[nodes].tolist():
            raise PluginCheckError(
                f"plugin {name}: the function from filter_row() differs from filter() at some of the nodes "
                f"{nodes.tolist()[:10]}... ({where}); it must give exactly filter()'s result for a node's row")


def _check_score_local(p: ScorePlugin, name: str, where: str, state: ClusterState, pod: PodInfo,
                       feasible: np.ndarray, gen: np.random.Generator) -> None:
    nodes = gen.permutation(np.flatnonzero(feasible))
    if nodes.size < 2 or not _call(p, name, "pre_score", where, state, pod, state, pod):
        return
    whole = np.asarray(_call(p, name, "score", where, state, pod, state, pod, nodes.copy()))
    cut = int(gen.integers(1, nodes.size))
    for part, expected in ((nodes[:cut], whole[:cut]), (nodes[cut:], whole[cut:])):
        got = np.asarray(_call(p, name, "score", where, state, pod, state, pod, part.copy()))
        if not np.array_equal(got, expected):
            raise PluginCheckError(
                f"plugin {name} declares node_local, but score() of some candidates depends on which other "
                f"candidates are scored with them ({where}); drop node_local")
    one = _call(p, name, "score_one", where, state, pod, state, pod)
    if one is not None:
        got_one = _call_one(one, name, "score_one", where, state, pod, nodes)
        if got_one != whole.tolist() or not all(type(v) is int for v in got_one):
            raise PluginCheckError(
                f"plugin {name}: the function from score_one() differs from score() at some of the nodes "
                f"{nodes.tolist()[:10]}... or returns other than int ({where}); it must give exactly score()'s "
                "integer for one node")
    row_fn = _call(p, name, "score_row", where, state, pod, state, pod)
    if row_fn is not None:
        got_row = _call_one(_on_row(row_fn), name, "score_row", where, state, pod, nodes)
        if got_row != whole.tolist() or not all(type(v) is int for v in got_row):
            raise PluginCheckError(
                f"plugin {name}: the function from score_row() differs from score() at some of the nodes "
                f"{nodes.tolist()[:10]}... or returns other than int ({where}); it must give exactly score()'s "
                "integer for a node's row")


def _call(p: Plugin, name: str, method: str, where: str, state: ClusterState, pod: PodInfo, *args: Any) -> Any:
    """``p.method(*args)``, re-raising its exceptions with context, and checking that the
    cluster state and the pod are unchanged afterwards."""
    before = _snapshot(state, pod)
    try:
        result = getattr(p, method)(*args)
    except Exception as e:
        raise PluginCheckError(f"plugin {name}: {method}() raised {type(e).__name__}: {e} ({where})") from e
    changed = _diff(before, _snapshot(state, pod))
    if changed:
        raise PluginCheckError(
            f"plugin {name} mutated the cluster state in {method}() ({where}): {', '.join(changed)} "
            "changed. Plugins must only read the state; copy an array before modifying it"
        )
    return result


def _on_row(fn: Callable[[NodeRow], Any]) -> Callable[[Any, int], Any]:
    """A row function as a one-node function ``(nodes, node)``: the node's row read now."""
    return lambda nodes, node: fn(NodeRow.read(nodes, node))


def _call_one(one: Callable[[Any, int], Any], name: str, method: str, where: str, state: ClusterState,
              pod: PodInfo, nodes: np.ndarray) -> list[Any]:
    """The one-node function from ``method`` at each of ``nodes``, checked like :func:`_call`."""
    before = _snapshot(state, pod)
    try:
        result = [one(state.nodes, int(i)) for i in nodes]
    except Exception as e:
        raise PluginCheckError(f"plugin {name}: the function from {method}() raised {type(e).__name__}: {e} "
                               f"({where})") from e
    changed = _diff(before, _snapshot(state, pod))
    if changed:
        raise PluginCheckError(
            f"plugin {name} mutated the cluster state in the function from {method}() ({where}): "
            f"{', '.join(changed)} changed. Plugins must only read the state")
    return result


def _is_int(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _check_array(name: str, method: str, where: str, a: object, shape: tuple[int, ...],
                 boolean: bool = False) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise PluginCheckError(f"plugin {name}: {method}() must return a numpy ndarray, got {type(a).__name__} ({where})")
    if a.shape != shape:
        raise PluginCheckError(
            f"plugin {name}: {method}() returned shape {a.shape}, expected {shape} "
            f"({'one entry per node' if boolean else 'one score per candidate'}; {where})"
        )
    if boolean:
        if a.dtype != np.bool_:
            raise PluginCheckError(f"plugin {name}: {method}() must return a bool array, got dtype {a.dtype} ({where})")
        return a
    if a.dtype == np.bool_ or not np.issubdtype(a.dtype, np.integer):
        raise PluginCheckError(
            f"plugin {name}: {method}() must return integer scores (int64), got dtype {a.dtype} ({where}); "
            "convert with np.floor(x).astype(np.int64) or integer arithmetic"
        )
    if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
        raise PluginCheckError(f"plugin {name}: {method}() returned scores beyond int64 ({where})")
    return a.astype(np.int64)


# ----------------------------------------------------------------------------- state checks


def _snapshot(state: ClusterState, pod: PodInfo) -> dict[str, Any]:
    nt, pt = state.nodes, state.pods
    snap: dict[str, Any] = {
        "nodes.n": nt.n,
        "nodes.version": nt.version,
        "nodes.names": list(nt.names),
        "nodes.taint_specs": list(nt.taint_specs),
        "nodes.label_values": {k: dict(v) for k, v in nt.label_values.items()},
        "shapes": len(state.shapes),
        "groups": len(state.groups),
        "group_counts": state.group_counts.copy(),
        "pod.requests": pod.requests.copy(),
        "pod.nonzero": pod.nonzero.copy(),
        "pod.requested_rows": pod.requested_rows.copy(),
    }
    for attr in ("alloc", "requested", "free", "nonzero_requested", "ready", "unschedulable", "pool", "taints"):
        snap[f"nodes.{attr}"] = getattr(nt, attr).copy()
    for key, codes in nt.labels.items():
        snap[f"nodes.labels[{key!r}]"] = codes.copy()
    for attr in ("requests", "nonzero", "node", "phase", "shape", "priority"):
        snap[f"pods.{attr}"] = getattr(pt, attr)[: pt.n].copy()
    return snap


def _diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    changed = [k for k in a.keys() - b.keys()] + [k for k in b.keys() - a.keys()]
    for k in a.keys() & b.keys():
        x, y = a[k], b[k]
        if isinstance(x, np.ndarray):
            same = isinstance(y, np.ndarray) and x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y)
        else:
            same = x == y
        if not same:
            changed.append(k)
    return sorted(changed)


# ----------------------------------------------------------------------------- random clusters


def _random_cluster(gen: np.random.Generator, n: int, n_pods: int) -> tuple[ClusterState, list[PodInfo]]:
    """A cluster of ``n`` random nodes with some bound pods, and ``n_pods`` pod shapes."""
    state = ClusterState(ResourceIndex.from_names({GPU}))
    for i in range(n):
        gpu = int(gen.choice([0, 0, 4]))
        amounts = {
            "cpu": int(gen.choice([1000, 2000, 4000, 8000])),
            "memory": int(gen.choice([2, 4, 8, 16])) * _GI,
            "ephemeral-storage": 100 * _GI,
            "pods": int(gen.choice([4, 110])),
            GPU: gpu,
        }
        name = f"node-{i}"
        ops.add_node(
            state, name=name, allocatable=state.resources.vector(amounts),
            labels={ZONE_LABEL: _ZONES[i % len(_ZONES)], HOSTNAME_LABEL: name},
            taints=[_TAINT] if gpu and gen.random() < 0.5 else [], pool=-1, now=0.0,
        )
        if n > 1 and gen.random() < 0.15:
            ops.set_unschedulable(state, i, True)
    for j in range(n):
        info = _random_pod(gen, state)
        fit = np.flatnonzero((state.nodes.free[info.requested_rows] >= info.req_col).all(axis=0))
        if fit.size:
            _bind(state, info, int(fit[gen.integers(fit.size)]), f"existing-{j}")
    infos = [_random_pod(gen, state) for _ in range(n_pods)]
    ops.check_invariants(state)
    return state, infos


def _random_pod(gen: np.random.Generator, state: ClusterState) -> PodInfo:
    amounts = {
        "cpu": int(gen.choice([0, 100, 500, 1000, 2000])),
        "memory": int(gen.choice([0, 256 * _MI, _GI, 4 * _GI])),
        "pods": 1,
    }
    if gen.random() < 0.2:
        amounts[GPU] = int(gen.integers(1, 3))
    requests = state.resources.vector(amounts)
    nonzero = np.array([requests[0] or DEFAULT_MILLI_CPU_REQUEST, requests[1] or DEFAULT_MEMORY_REQUEST])
    app = str(gen.choice(["web", "batch", "db"]))
    spec: dict[str, Any] = {}
    if gen.random() < 0.3:
        spec["node_selector"] = {ZONE_LABEL: str(gen.choice(_ZONES))}
    if GPU in amounts or gen.random() < 0.2:
        spec["tolerations"] = (Toleration(key="dedicated", operator="Exists", effect="NoSchedule"),)
    if gen.random() < 0.3:
        spec["affinity"] = Affinity.model_validate({
            "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": int(gen.integers(1, 101)), "preference": {"matchExpressions": [
                    {"key": ZONE_LABEL, "operator": "In", "values": [str(gen.choice(_ZONES))]}]}}]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": app}},
                                                   "topologyKey": HOSTNAME_LABEL}}]},
        })
    if gen.random() < 0.3:
        spec["spread"] = (TopologySpreadConstraint.model_validate({
            "maxSkew": 1, "topologyKey": ZONE_LABEL,
            "whenUnsatisfiable": str(gen.choice(["DoNotSchedule", "ScheduleAnyway"])),
            "labelSelector": {"matchLabels": {"app": app}},
        }),)
    if gen.random() < 0.2:
        spec["ports"] = (ContainerPort.model_validate({"containerPort": 8080, "hostPort": 8080}),)
    info = PodInfo(shape=-1, requests=requests, nonzero=nonzero, priority=int(gen.integers(0, 3)),
                   scheduler_name="default-scheduler", labels={"app": app}, **spec)
    ops.add_shape(state, info)
    return info


def _bind(state: ClusterState, info: PodInfo, node: int, name: str) -> None:
    pod = state.pods.append(name=name, requests=info.requests, workload=-1, index=0, shape=info.shape,
                            priority=info.priority, created=0.0, duration=np.inf, start_latency=0.0)
    ops.bind(state, pod, node, 0.0)
