"""The tie-break draw (``framework.tie_break``) gives exactly ``rng.integers(k)``: the
same values and the same stream position, for the PCG64 streams k8sim uses, so
selectHost picks the same node as with numpy's own call. The reference is numpy's
``Generator.integers`` itself, interleaved with other draws from the same stream."""

from __future__ import annotations

import numpy as np

from k8sim.rng import Streams
from k8sim.scheduling import framework
from k8sim.scheduling.framework import tie_break


def test_tie_break_equals_numpy_integers_value_by_value():
    ks = np.random.default_rng(99)
    for seed in range(3):
        ours = np.random.default_rng(seed)
        numpy_ = np.random.default_rng(seed)
        for i in range(20_000):
            k = int(ks.integers(1, 5_000)) if i % 4 else int(ks.integers(1, 2**34))  # some above 2**32
            assert tie_break(ours, k) == int(numpy_.integers(k)), (seed, i, k)
            if i % 7 == 0:  # other draws between, as other users of a stream would make
                assert ours.random() == numpy_.random()
        assert ours.bit_generator.state == numpy_.bit_generator.state


def test_tie_break_uses_the_fast_draw_for_k8sims_streams():
    rng = Streams(7).generator("profile:default")
    tie_break(rng, 3)
    kept = framework._DRAWS[id(rng.bit_generator)]
    assert kept[0] is rng.bit_generator and kept[1] is not None


def test_tie_break_falls_back_to_integers_when_the_self_check_fails():
    # MT19937's state holds an array, which the self-check does not compare: it
    # declines, and the draw is numpy's integers().
    ours = np.random.Generator(np.random.MT19937(3))
    numpy_ = np.random.Generator(np.random.MT19937(3))
    assert [tie_break(ours, 10) for _ in range(50)] == [int(numpy_.integers(10)) for _ in range(50)]
    assert framework._DRAWS[id(ours.bit_generator)][1] is None
