"""Named, entity-keyed random streams from one root seed.

``Streams(seed).generator("duration", w)`` always yields the same numbers for the same
seed, name and keys, whatever else the simulation draws, so two scheduling policies
run on one seed see identical arrivals, durations and latencies (common random
numbers). Nothing in k8sim uses the ``random`` module or numpy's global state.

The module sits at the package root, below every layer, so that the components that
draw from streams (scheduling, runtime) need not import ``sim/``.
"""

from __future__ import annotations

import zlib

import numpy as np


class Streams:
    def __init__(self, seed: int):
        self.seed = int(seed)

    def generator(self, name: str, *keys: int) -> np.random.Generator:
        """An independent generator for stream ``name`` and integer ``keys``."""
        spawn_key = (zlib.crc32(name.encode()), *(int(k) for k in keys))
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=spawn_key)))


class BlockSampler:
    """Draws from a distribution in fixed-size blocks and hands values out one by one.

    The block size is fixed so that the i-th value is the same however many values
    are eventually taken (rejection samplers consume a block-dependent amount of the
    bit stream, so the block size must never depend on demand).
    """

    BLOCK = 1024

    def __init__(self, dist, rng: np.random.Generator):  # noqa: ANN001 - any Distribution
        self._dist = dist
        self._rng = rng
        self._buf: list[float] = []
        self._pos = 0

    def next(self) -> float:
        if self._pos == len(self._buf):
            self._buf = self._dist.sample(self._rng, self.BLOCK).tolist()
            self._pos = 0
        v = self._buf[self._pos]
        self._pos += 1
        return v
