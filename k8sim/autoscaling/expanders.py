"""Cluster Autoscaler expanders: which node group to grow when several could help.

Pure functions mirroring kubernetes/autoscaler ``cluster-autoscaler/expander/``:
``random/random.go``, ``mostpods/mostpods.go``, ``waste/waste.go``, ``price/price.go``
with ``price/preferred.go``, and ``priority/priority.go``. Upstream chains expanders as
filters (``factory/chain.go``): each keeps the best options, ties go to the next one, and
``random`` picks the last survivor; :func:`choose` does that with a seeded generator.

An :class:`ExpansionOption` is what the scale-up simulation produced for one group: how
many template nodes it needs and which pending pods they would hold (the binpacking
estimate of :mod:`k8sim.autoscaling.binpacking`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GCE_CPU_PRICE_PER_HOUR",
    "GCE_MEMORY_PRICE_PER_GB_HOUR",
    "GPU_UNFITNESS_OVERRIDE",
    "NOT_EXIST_COEFFICIENT",
    "ExpansionOption",
    "choose",
    "least_waste",
    "linear_pod_price",
    "most_pods",
    "preferred_node_cpu",
    "price",
    "priority",
    "random_option",
    "simple_node_unfitness",
]

#: The GCE price model's linear rates (``cloudprovider/gce/gce_price_model.go``,
#: ``cpuPricePerHour``, ``memoryPricePerHourPerGb``), the default pod price here.
GCE_CPU_PRICE_PER_HOUR = 0.033174
GCE_MEMORY_PRICE_PER_GB_HOUR = 0.004446
#: ``gpuUnfitnessOverride`` and ``notExistCoeficient`` of ``price.go``.
GPU_UNFITNESS_OVERRIDE = 1000.0
NOT_EXIST_COEFFICIENT = 2.0
#: ``priceStabilizationPod``: 0.5 CPU and 500 MiB.
_STABILIZATION_POD = (500, 500 * 2**20)
_GIB = 2**30


@dataclass(frozen=True)
class ExpansionOption:
    """One way to scale up: ``node_count`` nodes of group ``group_id`` whose template
    has ``node_cpu`` milli-CPU and ``node_memory`` bytes (capacity), costs
    ``node_price`` per hour (``None``: unknown), and would hold ``pods`` (each
    ``(milli-CPU, bytes)``).
    ``exists`` is false for a group that would first be created (auto-provisioning);
    ``has_gpu`` marks a GPU template."""

    group_id: str
    node_count: int
    pods: tuple[tuple[int, int], ...]
    node_cpu: int
    node_memory: int
    node_price: float | None = 0.0
    exists: bool = True
    has_gpu: bool = False


def random_option(options: Sequence[ExpansionOption], rng: np.random.Generator) -> ExpansionOption | None:
    """``random``: a uniformly drawn option."""
    if not options:
        return None
    return options[int(rng.integers(len(options)))]


def most_pods(options: Sequence[ExpansionOption]) -> list[ExpansionOption]:
    """``mostpods``: the options that would schedule the most pods."""
    best: list[ExpansionOption] = []
    top = 0
    for o in options:
        if len(o.pods) == top:
            best.append(o)
        if len(o.pods) > top:
            top = len(o.pods)
            best = [o]
    return best


def least_waste(options: Sequence[ExpansionOption]) -> list[ExpansionOption]:
    """``leastwaste``: the options leaving the smallest idle fraction, scored
    ``(avail_cpu - req_cpu)/avail_cpu + (avail_mem - req_mem)/avail_mem`` over the new
    nodes' capacity (exact ties are all kept)."""
    best: list[ExpansionOption] = []
    best_score = 0.0
    for o in options:
        req_cpu = sum(p[0] for p in o.pods)
        req_mem = sum(p[1] for p in o.pods)
        avail_cpu = o.node_cpu * o.node_count
        avail_mem = o.node_memory * o.node_count
        score = (avail_cpu - req_cpu) / avail_cpu + (avail_mem - req_mem) / avail_mem
        if score == best_score:
            best.append(o)
        if not best or score < best_score:
            best_score = score
            best = [o]
    return best


def priority(options: Sequence[ExpansionOption], priorities: Mapping[int, Sequence[str]]) -> list[ExpansionOption]:
    """``priority``: the options whose group id matches (``re.search``, as Go's
    ``FindStringIndex``) a pattern of the highest priority that matches any option;
    groups matching no pattern are not used. If no option matches at all, all options
    are kept (upstream falls back to random over every option)."""
    compiled = {p: [re.compile(r) for r in pats] for p, pats in priorities.items()}
    best: list[ExpansionOption] = []
    top = -1
    for o in options:
        matched = [p for p, regs in compiled.items() if any(r.search(o.group_id) for r in regs)]
        if not matched:
            continue
        p = max(matched)
        if p > top:
            top, best = p, [o]
        elif p == top:
            best.append(o)
    return best if best else list(options)


def linear_pod_price(cpu_milli: int, memory_bytes: int, *, cpu_per_hour: float = GCE_CPU_PRICE_PER_HOUR,
                     memory_per_gb_hour: float = GCE_MEMORY_PRICE_PER_GB_HOUR, hours: float = 1.0) -> float:
    """A pod's price over ``hours`` from its requests, as GCE's ``PodPrice``."""
    return (cpu_milli / 1000 * cpu_per_hour + memory_bytes / _GIB * memory_per_gb_hour) * hours


def preferred_node_cpu(cluster_size: int) -> int:
    """``SimplePreferredNodeProvider.Node``: the preferred node's milli-CPU doubles each
    time the cluster triples (1 CPU up to 2 nodes, 2 up to 6, 4 up to 20, 8 up to 60,
    16 up to 200, else 32)."""
    for limit, cpu in ((2, 1), (6, 2), (20, 4), (60, 8), (200, 16)):
        if cluster_size <= limit:
            return cpu * 1000
    return 32 * 1000


def simple_node_unfitness(preferred_cpu: int, node_cpu: int) -> float:
    """``SimpleNodeUnfitness``: ``max(preferred/node, node/preferred)`` of the CPU."""
    return max(preferred_cpu / node_cpu, node_cpu / preferred_cpu)


def price(options: Sequence[ExpansionOption], *, cluster_size: int = 0, preferred_cpu: int | None = None,
          pod_price: Callable[[int, int], float] = linear_pod_price) -> ExpansionOption | None:
    """``priceBased.BestOption``: the option with the lowest score

    ``unfit' * (nodes_price + stab) / (pods_price + stab)``

    where ``stab`` is the price of a 0.5 CPU / 500 MiB pod, ``unfit'`` the node's
    unfitness against the preferred node (``preferred_cpu``, by default the one for
    ``cluster_size``) suppressed as the node count grows (``(u - 1) * (1 - tanh((count
    - 1) / 15)) + 1``), 1000 for GPU nodes, and the score doubled for a group that does
    not exist yet. Prices are per hour; the first option wins a tie. As upstream, an
    option whose node price is unknown (``node_price`` ``None``) or whose pod price
    fails (``pod_price`` raises ``KeyError``/``ValueError``) is skipped, and a failing
    stabilization price counts as 0."""
    try:
        stab = pod_price(*_STABILIZATION_POD)
    except (KeyError, ValueError):
        stab = 0.0
    preferred = preferred_cpu if preferred_cpu is not None else preferred_node_cpu(cluster_size)
    best: ExpansionOption | None = None
    best_score = 0.0
    for o in options:
        if o.node_price is None:
            continue
        try:
            pods_price = sum(pod_price(c, m) for c, m in o.pods)
        except (KeyError, ValueError):
            continue
        nodes_price = o.node_price * o.node_count
        sub = (nodes_price + stab) / (pods_price + stab)
        unfit = simple_node_unfitness(preferred, o.node_cpu)
        suppressed = (unfit - 1.0) * (1.0 - math.tanh((o.node_count - 1) / 15.0)) + 1.0
        if o.has_gpu:
            suppressed = GPU_UNFITNESS_OVERRIDE
        score = suppressed * sub
        if not o.exists:
            score *= NOT_EXIST_COEFFICIENT
        if best is None or best_score > score:
            best, best_score = o, score
    return best


def choose(options: Sequence[ExpansionOption], expanders: Sequence[str], rng: np.random.Generator, *,
           priorities: Mapping[int, Sequence[str]] | None = None, cluster_size: int = 0,
           pod_price: Callable[[int, int], float] = linear_pod_price) -> ExpansionOption | None:
    """Apply the ``--expander`` chain (e.g. ``["priority", "least-waste"]``) as
    upstream's chain: each filter narrows the options; ``price`` picks one; ``random``
    (also the implicit last step) draws among the survivors with ``rng``."""
    current = list(options)
    for name in expanders:
        if not current:
            return None
        if name == "most-pods":
            current = most_pods(current)
        elif name == "least-waste":
            current = least_waste(current)
        elif name == "priority":
            current = priority(current, priorities or {})
        elif name == "price":
            best = price(current, cluster_size=cluster_size, pod_price=pod_price)
            current = [best] if best is not None else []
        elif name == "random":
            break
        else:
            raise ValueError(f"unknown expander {name!r}: expected random, most-pods, least-waste, price or priority")
    if len(current) == 1:
        return current[0]
    return random_option(current, rng)
