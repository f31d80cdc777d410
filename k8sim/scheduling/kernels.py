"""Compiled kernels of a scheduling cycle that has no incremental entry.

A shape scheduled once (a trace whose every pod asks its own amount) has no cached
mask or scores: its cycle runs the Filter phase from upstream's start index until it
has found enough nodes, and scores a few hundred candidates. Written with numpy, each
step is a dozen array calls on a few hundred elements, where the fixed cost of a call
is most of the time. These kernels do the same steps node by node in one compiled call
(numba), with the same integer and IEEE double operations in the same order, so they
give exactly the numpy path's nodes and scores.

- :func:`scan`: the nodes that pass a resource comparison (``table[r, i] >= need[r]``
  over the rows ``rows``) and a precomputed mask, from ``start`` on, wrapping around,
  until ``limit`` are found (upstream ``findNodesThatPassFilters``, which stops at
  ``numFeasibleNodesToFind``).
- :func:`first_fit`: the lowest such node, skipping the blocks of nodes whose largest
  free amounts already rule them out.
- :func:`refresh_blocks`, :func:`refresh_two`: those blocks' maxima brought up to
  date after binds, releases and node updates.
- :func:`least_or_most_allocated`, :func:`balanced_cpu_memory`: NodeResourcesFit's and
  NodeResourcesBalancedAllocation's (cpu, memory) scores over candidates, and
  :func:`fit_and_balanced`, their weighted sum in one pass (the default profile).
- :func:`best_of`: the candidates with the top total (``selectHost``'s ties).

The numpy path stays the reference. A profile takes the kernels once it has run
:data:`AFTER` cycles without an entry (a run of one-off shapes; a run whose shapes come
back keeps to the numpy path and never imports numba, which costs about half a
second and 60-100 MB), when numba is installed and ``K8SIM_KERNELS`` is not ``0``
(read at import); :data:`enabled` can be set at run time (the tests compare both
paths). The kernels are compiled on first use and the machine code is cached on disk
next to this module (numba's ``cache=True``), so only the first run on a machine pays
for compiling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from k8sim import jit

#: Whether numba can be imported (it is a dependency; the numpy path runs without it).
available: bool = jit.available
#: Whether the scheduling framework may use the kernels (numba available and not
#: switched off with ``K8SIM_KERNELS=0``). False runs the numpy reference path.
enabled: bool = jit.allowed
#: Cycles without an entry a profile runs on the numpy path before it takes the kernels.
AFTER = 256

_lazy = jit.LazyKernels(globals())
_jit = _lazy.kernel


def __getattr__(name: str) -> Any:
    return _lazy.resolve(name)


@_lazy.helper
def _fit_one(a_cpu: int, a_mem: int, r_cpu: int, r_mem: int, w_cpu: int, w_mem: int,
             most: bool) -> int:  # pragma: no cover - compiled
    """NodeResourcesFit's score of one node with allocatable cpu and memory ``> 0``:
    upstream ``least_allocated.go`` (``most`` False) / ``most_allocated.go`` per
    resource, ``(capacity - requested) * 100 / capacity`` (0 if requested > capacity)
    or ``min(requested, capacity) * 100 / capacity``, then ``(s_cpu * w_cpu + s_mem *
    w_mem) / (w_cpu + w_mem)``, all int64 with non-negative operands where it divides;
    equal weights sum with a shift, as the numpy path does (``(s * w + t * w) // 2w ==
    (s + t) >> 1``)."""
    if most:
        s_cpu = min(r_cpu, a_cpu) * 100 // a_cpu
        s_mem = min(r_mem, a_mem) * 100 // a_mem
    else:
        s_cpu = (a_cpu - r_cpu) * 100 // a_cpu if r_cpu <= a_cpu else 0
        s_mem = (a_mem - r_mem) * 100 // a_mem if r_mem <= a_mem else 0
    if w_cpu == w_mem:
        return (s_cpu + s_mem) >> 1
    return (s_cpu * w_cpu + s_mem * w_mem) // (w_cpu + w_mem)


@_lazy.helper
def _balanced_one(a_cpu: int, a_mem: int, r_cpu: int, r_mem: int) -> np.int64:  # pragma: no cover - compiled
    """NodeResourcesBalancedAllocation's score of one node with allocatable cpu and
    memory ``> 0``, given its requested cpu and memory with the pod's: upstream
    ``balanced_allocation.go`` for two resources, the fractions as doubles capped at 1,
    ``std = |f_cpu - f_mem| / 2``, ``int64((1 - std) * 100)``."""
    f_cpu = float(r_cpu) / float(a_cpu)
    f_mem = float(r_mem) / float(a_mem)
    if f_cpu > 1.0:
        f_cpu = 1.0
    if f_mem > 1.0:
        f_mem = 1.0
    std = abs((f_cpu - f_mem) / 2.0)
    return np.int64((1.0 - std) * 100.0)  # truncated toward zero, as Go int64()


@_jit
def _scan(table: np.ndarray, rows: np.ndarray, need: np.ndarray, static: np.ndarray, start: int, limit: int,
         out: np.ndarray) -> tuple[int, int]:  # pragma: no cover - compiled
    """Visit the nodes ``start, start + 1, ..., N - 1, 0, ..., start - 1`` and write to
    ``out`` those where ``static`` is True and ``table[r, i] >= need[r]`` for every ``r``
    in ``rows``, stopping once ``limit`` are written. Returns ``(count, before)``:
    how many were written, and how many of them lie at or after ``start`` (the rest
    follow, from node 0 on)."""
    n = static.shape[0]
    count = 0
    before = 0
    i = start
    for _ in range(n):
        if static[i]:
            ok = True
            for r in rows:
                if table[r, i] < need[r]:
                    ok = False
                    break
            if ok:
                out[count] = i
                count += 1
                if i >= start:
                    before = count
                if count == limit:
                    return count, before
        i += 1
        if i == n:
            i = 0
    return count, before


@_jit
def _first_fit(table: np.ndarray, rows: np.ndarray, need: np.ndarray, static: np.ndarray, top: np.ndarray,
              block: int) -> int:  # pragma: no cover - compiled
    """The lowest node where ``static`` is True and ``table[r, i] >= need[r]`` for every
    ``r`` in ``rows``, or -1. ``top[r, b]`` is the largest ``table[r, i]`` over block
    ``b`` (nodes ``b * block`` up to the next block): a block where it is below the
    need on some row holds no such node and is skipped."""
    n = static.shape[0]
    for b in range(top.shape[1]):
        ok = True
        for r in rows:
            if top[r, b] < need[r]:
                ok = False
                break
        if not ok:
            continue
        hi = min((b + 1) * block, n)
        for i in range(b * block, hi):
            if static[i]:
                fits = True
                for r in rows:
                    if table[r, i] < need[r]:
                        fits = False
                        break
                if fits:
                    return i
    return -1


@_lazy.helper
def _refresh_block(table: np.ndarray, top: np.ndarray, node: int, block: int) -> None:  # pragma: no cover
    """Recompute ``top[:, b]``, the largest ``table[r, i]`` over the nodes of ``node``'s
    block ``b``."""
    k = node // block
    lo = k * block
    hi = min(lo + block, table.shape[1])
    for r in range(table.shape[0]):
        m = table[r, lo]
        for i in range(lo + 1, hi):
            if table[r, i] > m:
                m = table[r, i]
        top[r, k] = m


@_jit
def _refresh_blocks(table: np.ndarray, top: np.ndarray, nodes: np.ndarray, block: int) -> None:  # pragma: no cover
    """Recompute ``top[:, b]`` (the largest ``table[r, i]`` over the nodes of block ``b``)
    for the block of each node in ``nodes`` (a node may repeat)."""
    for k in range(nodes.shape[0]):
        _refresh_block(table, top, nodes[k], block)


@_jit
def _refresh_two(table: np.ndarray, top: np.ndarray, a: int, b: int, block: int) -> None:  # pragma: no cover
    """:func:`refresh_blocks` for the blocks of nodes ``a`` and ``b`` (``b`` -1: ``a``'s
    only), given as ints: what a bind and a release leave between two cycles, without
    an array of them."""
    _refresh_block(table, top, a, block)
    if b >= 0:
        _refresh_block(table, top, b, block)


@_jit
def _least_or_most_allocated(alloc: np.ndarray, nonzero_requested: np.ndarray, candidates: np.ndarray,
                             pod_nonzero: np.ndarray, w_cpu: int, w_mem: int, most: bool,
                             out: np.ndarray) -> bool:  # pragma: no cover - compiled
    """NodeResourcesFit's LeastAllocated (``most`` False) or MostAllocated score over
    cpu and memory (:func:`_fit_one`) for each candidate into ``out``, from the node's
    non-zero requests plus the pod's (``pod_nonzero``, cpu in row 0 and memory in row
    1); False (``out`` not complete) as soon as a candidate has no allocatable cpu or
    memory (the general path scores those)."""
    p_cpu = pod_nonzero[0]
    p_mem = pod_nonzero[1]
    for j in range(candidates.shape[0]):
        c = candidates[j]
        a_cpu = alloc[0, c]
        a_mem = alloc[1, c]
        if a_cpu <= 0 or a_mem <= 0:
            return False
        out[j] = _fit_one(a_cpu, a_mem, nonzero_requested[0, c] + p_cpu, nonzero_requested[1, c] + p_mem,
                          w_cpu, w_mem, most)
    return True


@_jit
def _balanced_cpu_memory(alloc: np.ndarray, requested: np.ndarray, candidates: np.ndarray, pod_requests: np.ndarray,
                         out: np.ndarray) -> bool:  # pragma: no cover - compiled
    """NodeResourcesBalancedAllocation over cpu and memory (:func:`_balanced_one`) for
    each candidate into ``out``, from the node's requests plus the pod's
    (``pod_requests``, cpu in row 0 and memory in row 1); False as soon as a candidate
    has no allocatable cpu or memory (the general path scores those)."""
    q_cpu = pod_requests[0]
    q_mem = pod_requests[1]
    for j in range(candidates.shape[0]):
        c = candidates[j]
        a_cpu = alloc[0, c]
        a_mem = alloc[1, c]
        if a_cpu <= 0 or a_mem <= 0:
            return False
        out[j] = _balanced_one(a_cpu, a_mem, requested[0, c] + q_cpu, requested[1, c] + q_mem)
    return True


@_jit
def _fit_and_balanced(alloc: np.ndarray, nonzero_requested: np.ndarray, requested: np.ndarray,
                      candidates: np.ndarray, pod_nonzero: np.ndarray, pod_requests: np.ndarray, w_cpu: int,
                      w_mem: int, most: bool, fit_weight: int, balanced_weight: int,
                      out: np.ndarray) -> bool:  # pragma: no cover - compiled
    """``fit_weight * fit + balanced_weight * balanced`` for each candidate into
    ``out``: :func:`_least_or_most_allocated` and :func:`_balanced_cpu_memory` (the
    same per-node steps) summed in int64 in one pass; False as soon as a candidate has
    no allocatable cpu or memory."""
    p_cpu = pod_nonzero[0]
    p_mem = pod_nonzero[1]
    q_cpu = pod_requests[0]
    q_mem = pod_requests[1]
    for j in range(candidates.shape[0]):
        c = candidates[j]
        a_cpu = alloc[0, c]
        a_mem = alloc[1, c]
        if a_cpu <= 0 or a_mem <= 0:
            return False
        fit = _fit_one(a_cpu, a_mem, nonzero_requested[0, c] + p_cpu, nonzero_requested[1, c] + p_mem,
                       w_cpu, w_mem, most)
        balanced = _balanced_one(a_cpu, a_mem, requested[0, c] + q_cpu, requested[1, c] + q_mem)
        out[j] = fit * fit_weight + balanced * balanced_weight
    return True


@_jit
def _best_of(totals: np.ndarray, out: np.ndarray) -> int:  # pragma: no cover - compiled
    """The positions of the largest value of ``totals`` (not empty), ascending, into
    ``out``; returns how many."""
    top = totals[0]
    for j in range(1, totals.shape[0]):
        if totals[j] > top:
            top = totals[j]
    count = 0
    for j in range(totals.shape[0]):
        if totals[j] == top:
            out[count] = j
            count += 1
    return count
