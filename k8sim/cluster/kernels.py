"""Compiled kernels of the two table updates every bound pod makes: bind and release.

:func:`k8sim.cluster.ops.bind` and :func:`~k8sim.cluster.ops.release` change a node's
``requested``, ``free`` and ``nonzero_requested`` columns, its count-group count and
three of the pod's own fields. Written with numpy, that is a column view and a ufunc
call per node column plus a scalar access per field, each of which costs far more than
the arithmetic (a few integers). These kernels do the same checks and the same integer
additions and subtractions (int64 and int32, wrapping as numpy's do) in one compiled
call (numba), so the tables end exactly as the numpy path leaves them.

Importing numba costs a process about half a second and 60-100 MB, more than these
kernels save in most runs, so they never import it: :mod:`k8sim.cluster.ops` uses them
only once numba is loaded anyway (a run of one-off shapes, whose scheduling cycles
take the kernels of :mod:`k8sim.scheduling.kernels`), when numba is installed and
``K8SIM_KERNELS`` is not ``0`` (read at import, the switch the scheduling kernels read
too). :data:`enabled` can be set at run time (the tests compare both paths). A pod with
GPUs takes the numpy path (its devices are chosen and freed in Python). Each kernel is
compiled on first use and its machine code cached on disk next to this module (numba's
``cache=True``).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from k8sim import jit

#: Whether numba can be imported (it is a dependency; the numpy path runs without it).
available: bool = jit.available
#: Whether :mod:`k8sim.cluster.ops` may use the kernels (numba available and not
#: switched off with ``K8SIM_KERNELS=0``); they are used once numba is loaded
#: (:func:`loaded`). False runs the numpy reference path.
enabled: bool = jit.allowed

# The pod phases of k8sim.cluster.pods (not imported: the kernels see plain ints).
_PENDING, _BOUND, _RUNNING = 0, 1, 2

_lazy = jit.LazyKernels(globals())
_jit = _lazy.kernel


def loaded() -> bool:
    """Whether numba is imported in this process (by any module): the kernels then cost
    no import."""
    return "numba" in sys.modules


def __getattr__(name: str) -> Any:
    return _lazy.resolve(name)


@_jit
def _bind(requested: np.ndarray, free: np.ndarray, nonzero_requested: np.ndarray, group_counts: np.ndarray,
         requests: np.ndarray, nonzero: np.ndarray, pod_node: np.ndarray, phase: np.ndarray,
         scheduled: np.ndarray, pod: int, node: int, group: int, now: float) -> bool:  # pragma: no cover
    """Bind Pending ``pod`` to ``node`` at ``now``: the node's ``requested`` grows and its
    ``free`` shrinks by the pod's ``requests`` row, ``nonzero_requested`` grows by its
    ``nonzero`` row, count ``group_counts[group, node]`` by one; the pod's node, phase
    (Bound) and scheduled time are set. False, with nothing changed, if the pod is not
    Pending."""
    if phase[pod] != _PENDING:
        return False
    for r in range(requested.shape[0]):
        v = requests[pod, r]
        requested[r, node] += v
        free[r, node] -= v
    for r in range(nonzero_requested.shape[0]):
        nonzero_requested[r, node] += nonzero[pod, r]
    group_counts[group, node] += 1
    pod_node[pod] = node
    phase[pod] = _BOUND
    scheduled[pod] = now
    return True


@_jit
def _release(requested: np.ndarray, free: np.ndarray, nonzero_requested: np.ndarray, group_counts: np.ndarray,
            requests: np.ndarray, nonzero: np.ndarray, pod_node: np.ndarray, phase: np.ndarray,
            finished: np.ndarray, pod: int, group: int, new_phase: int, now: float) -> int:  # pragma: no cover
    """Release bound (Bound or Running) ``pod``: its node's columns and group count go
    back by what ``bind`` added; the pod's phase becomes ``new_phase`` and its
    finished time ``now``. Returns the node, or -1, with nothing changed, if the pod is
    not bound."""
    node = pod_node[pod]
    was = phase[pod]
    if node < 0 or (was != _BOUND and was != _RUNNING):
        return -1
    for r in range(requested.shape[0]):
        v = requests[pod, r]
        requested[r, node] -= v
        free[r, node] += v
    for r in range(nonzero_requested.shape[0]):
        nonzero_requested[r, node] -= nonzero[pod, r]
    group_counts[group, node] -= 1
    phase[pod] = new_phase
    finished[pod] = now
    return node
