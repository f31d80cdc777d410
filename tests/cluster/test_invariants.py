"""Conservation invariants hold after every event of randomised scenarios."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from k8sim import Simulation, validate_scenario
from k8sim.cluster.ops import check_invariants

cpu = st.sampled_from(["100m", "250m", "500m", "1", "2", "4"])
mem = st.sampled_from(["64Mi", "256Mi", "1Gi", "4Gi"])

arrival = st.one_of(
    st.builds(lambda r: {"kind": "poisson", "rate_per_s": r}, st.floats(0.05, 5.0)),
    st.builds(lambda e: {"kind": "interval", "every_s": e}, st.floats(0.1, 20.0)),
    st.builds(lambda c, t: {"kind": "burst", "count": c, "at_s": t}, st.integers(1, 30), st.floats(0, 50)),
)
duration = st.one_of(
    st.none(),
    st.builds(lambda m: {"kind": "exponential", "mean": m}, st.floats(1.0, 200.0)),
    st.builds(lambda v: {"kind": "constant", "value": v}, st.floats(0.0, 100.0)),
)
workload = st.fixed_dictionaries({
    "arrival": arrival,
    "max_pods": st.integers(1, 40),
    "template": st.fixed_dictionaries({
        "requests": st.fixed_dictionaries({"cpu": cpu, "memory": mem}),
        "priority": st.integers(0, 3),
        "start_latency": st.builds(lambda h: {"kind": "uniform", "low": 0, "high": h}, st.floats(0, 10)),
    }),
    "duration": duration,
})
pool = st.fixed_dictionaries({
    "count": st.integers(1, 4),
    "allocatable": st.fixed_dictionaries({"cpu": st.sampled_from(["1", "2", "8"]),
                                          "memory": st.sampled_from(["1Gi", "8Gi"]),
                                          "pods": st.integers(1, 20)}),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pools=st.lists(pool, min_size=1, max_size=3), workloads=st.lists(workload, min_size=1, max_size=3),
       seed=st.integers(0, 2**32 - 1), horizon=st.one_of(st.none(), st.floats(10, 500)))
def test_invariants_after_every_event(pools, workloads, seed, horizon):
    data = {
        "seed": seed,
        "cluster": {"node_pools": [{"name": f"p{i}", **p} for i, p in enumerate(pools)]},
        "workloads": [{"name": f"w{i}", **w} for i, w in enumerate(workloads)],
    }
    if horizon is not None:
        data["duration_s"] = horizon
    sim = Simulation(validate_scenario(data))
    end = math.inf if horizon is None else horizon
    steps = 0
    while sim.env.peek() < end:
        sim.env.step()
        check_invariants(sim.state)
        steps += 1
        assert steps < 100_000
    pods = sim.state.pods
    # Every pod is in exactly one lifecycle state, consistent with its timestamps.
    for p in range(pods.n):
        if pods.phase[p] == 0:
            assert pods.node[p] == -1 and math.isnan(pods.scheduled[p])
        else:
            assert pods.node[p] >= 0 and pods.scheduled[p] >= pods.created[p]
