"""The controllers' work queue (client-go workqueue semantics on the virtual clock)."""

from __future__ import annotations

import numpy as np
import simpy

from k8sim.config.distributions import ConstantDistribution
from k8sim.controllers.queue import WorkQueue
from k8sim.rng import BlockSampler


def test_dedup_and_order_at_one_instant():
    env = simpy.Environment()
    seen: list[tuple[float, str]] = []
    q = WorkQueue(env, lambda k: seen.append((env.now, k)))
    for k in ("a", "b", "a", "c", "b"):
        q.add(k)
    env.run()
    # One sync per key (the dirty set), in the order the keys were first added.
    assert seen == [(0.0, "a"), (0.0, "b"), (0.0, "c")]
    assert q.syncs == 3


def test_latency_and_re_add_after_sync():
    env = simpy.Environment()
    seen: list[tuple[float, str]] = []
    lat = BlockSampler(ConstantDistribution(kind="constant", value=1.5), np.random.default_rng(0))
    q = WorkQueue(env, lambda k: seen.append((env.now, k)), lambda key: lat.next())

    def events():
        q.add("x")  # t=0 -> synced at 1.5
        yield env.timeout(1.0)
        q.add("x")  # still waiting: no second sync
        yield env.timeout(1.0)
        q.add("x")  # t=2, after the sync: synced again at 3.5
        q.add_after("y", 4.0)  # enters the queue at 6, synced at 7.5

    env.process(events())
    env.run()
    assert seen == [(1.5, "x"), (3.5, "x"), (7.5, "y")]
