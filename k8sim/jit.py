"""Numba kernels compiled on first use, for the modules that have them
(:mod:`k8sim.scheduling.kernels`, :mod:`k8sim.cluster.kernels`).

A module registers its kernels (functions named ``_name``, plain Python) with
:meth:`LazyKernels.kernel`, and the functions they call with :meth:`LazyKernels.helper`,
and routes its module ``__getattr__`` to :meth:`LazyKernels.resolve`. The first lookup
of ``module.name`` imports numba and wraps every helper and kernel of the module with
``numba.njit(cache=True)`` (each compiles, or loads from the disk cache beside the
module, on its first call); they are then ordinary module attributes. Nothing imports
numba before that, which costs a process about half a second and 60-100 MB.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

#: Whether numba can be imported (it is a dependency; the numpy paths run without it).
available: bool = importlib.util.find_spec("numba") is not None
#: Whether kernels may be used at all: numba available and ``K8SIM_KERNELS`` not ``0``
#: in the environment (read at import).
allowed: bool = available and os.environ.get("K8SIM_KERNELS", "1") != "0"

_F = Callable[..., Any]


class LazyKernels:
    """The kernels of one module (its ``globals()``), wrapped with numba on first use."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.namespace = namespace
        self.kernels: dict[str, _F] = {}
        self.helpers: list[str] = []

    def kernel(self, fn: _F) -> _F:
        """Register ``fn`` (named ``_name``) as the kernel ``name``."""
        self.kernels[fn.__name__.lstrip("_")] = fn
        return fn

    def helper(self, fn: _F) -> _F:
        """Register ``fn``, which kernels call: wrapped under its own name first, and
        inlined into them (``inline="always"``: measured 30 % faster than a call in the
        scoring kernels)."""
        self.helpers.append(fn.__name__)
        return fn

    def resolve(self, name: str) -> Any:
        """The module's ``__getattr__``: the kernel ``name``, every kernel wrapped."""
        if name not in self.kernels:
            raise AttributeError(f"module {self.namespace['__name__']!r} has no attribute {name!r}")
        import numba

        ns = self.namespace
        for helper in self.helpers:
            ns[helper] = numba.njit(cache=True, nogil=True, inline="always")(ns[helper])
        self.helpers = []
        for kernel, fn in self.kernels.items():
            ns[kernel] = numba.njit(cache=True, nogil=True)(fn)
        return ns[name]
