"""Conservation invariants hold after every event of randomised scenarios."""

from __future__ import annotations

import math

import numpy as np
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


def test_count_groups_stay_few_and_grow_by_doubling():
    # A trace replay registers one shape per distinct request; the count table is kept
    # per count group (labels, affinity terms, host ports, GPU kind), so 1,000 shapes
    # with the same labels are one group. Shapes with their own labels (every 50th
    # here: 20 groups + the common one) add groups; the table is a view of a buffer that
    # doubles, so it moves at most ~log2(21) + a few times (also across node additions,
    # which rebuild it once each).
    from builders import make_pod, make_state, node

    from k8sim.cluster import ops

    state = make_state([node("n1", cpu="64"), node("n2", cpu="64")])
    moves, where = 0, None
    for i in range(1000):
        labels = {"app": f"own-{i}"} if i % 50 == 0 else {"app": "trace"}
        info = make_pod(state, {"cpu": f"{i + 1}m"}, labels=labels)
        data = state.group_counts.__array_interface__["data"][0]  # where row 0 lives
        moves += data != where
        where = data
        if i in (300, 700):
            ops.add_node(state, name=f"extra-{i}", allocatable=state.nodes.alloc[:, 0].copy(), labels={},
                         taints=[], pool=-1, now=0.0)
        if i % 97 == 0 or i % 50 == 0:
            p = state.pods.append(name=f"p{i}", requests=info.requests, workload=-1, index=i, shape=info.shape,
                                  priority=0, created=0.0, duration=float("inf"), start_latency=0.0)
            ops.bind(state, p, i % state.nodes.n, 0.0)
    assert len(state.shapes) == 1000 and len(state.groups) == 21
    assert state.group_counts.shape == (21, 4)
    assert moves <= 12
    ops.check_invariants(state)
    # Bound: i = 0, 50, ..., 950 (20 pods, each in its own group) and i = 97, 194, ...,
    # 970 not divisible by 50 (all ten are not) in the common "trace" group.
    assert int(state.group_counts.sum()) == 30
    common = state.shapes[1].group
    assert int(state.group_counts[common].sum()) == 10


def test_runtime_columns_are_allocated_when_first_used_and_grow_with_the_table():
    """The image-pull and restart columns exist only once used (a run without the
    runtime model keeps none); unused they read as their initial values, used they grow
    with the table like the others."""
    from k8sim.cluster.pods import PodTable

    t = PodTable(3, capacity=2)
    for i in range(3):  # grows 2 -> 4
        t.append(name=f"p{i}", requests=np.array([100, 1, 1]), workload=0, index=i, shape=0, priority=0,
                 created=0.0, duration=1.0, start_latency=0.0)
    assert "pull_start" not in vars(t) and "restarts" not in vars(t)
    assert np.isnan(t.column("pull_start")).all() and t.column("restarts").tolist() == [0, 0, 0]
    t.restarts[1] += 2
    for i in range(3, 5):  # grows 4 -> 8: the used column keeps its values
        t.append(name=f"p{i}", requests=np.array([100, 1, 1]), workload=0, index=i, shape=0, priority=0,
                 created=0.0, duration=1.0, start_latency=0.0)
    assert t.column("restarts").tolist() == [0, 2, 0, 0, 0] and len(t.restarts) == 8
    assert t.restarts.dtype == np.int32 and t.pull_bytes.dtype == np.int64


def test_reserve_makes_room_once_and_new_rows_hold_initial_values():
    """``reserve`` sizes the table to the rows asked for (a trace's pod count); rows
    past it grow the table by doubling again. Rows added after a growth start from the
    initial values (NaN times, zero counts, no GPU), and the old rows keep theirs."""
    from k8sim.cluster.pods import PENDING, PodTable

    t = PodTable(3, capacity=2)
    t.append(name="p0", requests=np.array([100, 1, 1]), workload=0, index=0, shape=0, priority=5,
             created=1.5, duration=2.0, start_latency=0.0, owner_kind=1, owner=7)
    t.scheduled[0] = 3.0
    t.reserve(1)  # less than there is room for: nothing changes
    assert len(t.created) == 2
    t.reserve(5)
    assert len(t.created) == 5 and len(t.requests) == 5 and len(t.gpu_count) == 5
    for i in range(1, 7):  # 5 rows fit; the 6th doubles to 10
        t.append(name=f"p{i}", requests=np.array([200, 2, 1]), workload=0, index=i, shape=0, priority=0,
                 created=float(i), duration=1.0, start_latency=0.0)
    assert len(t.created) == 10 and t.n == 7
    assert t.column("scheduled")[0] == 3.0 and np.isnan(t.column("scheduled")[1:]).all()
    assert t.column("priority").tolist() == [5, 0, 0, 0, 0, 0, 0]
    assert t.column("owner").tolist() == [7, 0, 0, 0, 0, 0, 0] and t.column("owner_kind")[0] == 1
    assert (t.column("phase") == PENDING).all() and (t.column("node") == -1).all()
    assert t.requests[:7, 0].tolist() == [100, 200, 200, 200, 200, 200, 200]
    assert np.isnan(t.finished[7:]).all() and not t.workload[7:].any() and not t.requests[7:].any()
    assert not t.gpu_count[:7].any() and not t.has_gpu_columns


def test_binds_and_releases_stay_exact_when_the_node_arrays_are_replaced():
    """A bind or a release writes the node's usage through views of the usage arrays;
    adding nodes and adding a count group replace those arrays, and later binds must
    change the new ones (checked against the bound pods' sums by check_invariants and
    by hand: 1 + 2 CPUs on n0, then 1 CPU on the added n2)."""
    import simpy
    from builders import make_pod, make_state, node

    from k8sim.cluster.api import ClusterAPI
    from k8sim.cluster.pods import SUCCEEDED

    state = make_state([node(f"n{i}", cpu="4", memory="8Gi") for i in range(2)])
    api = ClusterAPI(simpy.Environment(), state)

    def pod(cpu: str, labels: dict[str, str] | None = None) -> int:
        info = make_pod(state, {"cpu": cpu, "memory": "1Gi"}, labels=labels)
        return api.create_pod(name=f"p{state.pods.n}", requests=info.requests, workload=0, index=0,
                              shape=info.shape, priority=0, duration=math.inf, start_latency=0.0)

    a, b = pod("1"), pod("2")
    api.bind(a, 0)
    before = state.nodes.requested
    api.add_node(name="n2", allocatable=state.nodes.alloc[:, 0].copy(), labels={}, taints=[])
    assert state.nodes.requested is not before  # the arrays were replaced
    api.bind(b, 0)
    c = pod("1", labels={"app": "other"})  # a new count group replaces group_counts
    api.bind(c, 2)
    check_invariants(state)
    assert state.nodes.requested[0].tolist() == [3000, 0, 1000]
    assert state.nodes.free[0].tolist() == [1000, 4000, 3000]
    assert int(state.group_counts[:, 2].sum()) == 1
    api.terminate(b, SUCCEEDED)
    api.terminate(c, SUCCEEDED)
    check_invariants(state)
    assert state.nodes.requested[0].tolist() == [1000, 0, 0]
    assert int(state.group_counts.sum()) == 1


def test_a_result_leaves_unused_runtime_columns_unallocated():
    """Building the pods frame reads every column; a runtime column never used reads as
    its initial value without being allocated in the table (a million pods' run kept
    eight such columns only for its result)."""
    sim = Simulation(validate_scenario({
        "name": "lazy", "seed": 1,
        "cluster": {"node_pools": [{"name": "a", "count": 1, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
        "workloads": [{"name": "w", "arrival": {"kind": "burst", "count": 3, "at_s": 1},
                       "template": {"requests": {"cpu": "1", "memory": "1Gi"}},
                       "duration": {"kind": "constant", "value": 5}}]}))
    pods = sim.run().pods
    table = vars(sim.state.pods)
    assert "pull_start" not in table and "restarts" not in table and "pull_bytes" not in table
    assert pods["pull_start"].isna().all() and pods["restarts"].tolist() == [0, 0, 0]
    assert str(pods["restarts"].dtype) == "int32" and str(pods["pull_bytes"].dtype) == "int64"


def test_gpu_columns_are_allocated_by_the_first_gpu_pod():
    """A table whose pods ask for no GPU keeps no GPU columns (they read as zeros and
    cannot be written); the first GPU pod allocates them, earlier rows reading 0, and
    they grow with the table like the others."""
    from k8sim.cluster.pods import PodTable

    def add(t: PodTable, i: int, gpus: int = 0) -> None:
        t.append(name=f"p{i}", requests=np.array([100, 1, 1]), workload=0, index=i, shape=0, priority=0,
                 created=0.0, duration=1.0, start_latency=0.0, gpu_count=gpus, gpu_milli=500 if gpus else 0)

    t = PodTable(3, capacity=2)
    for i in range(3):  # grows 2 -> 4 without GPU columns
        add(t, i)
    assert not t.has_gpu_columns and not t.gpu_count.flags.writeable and len(t.gpu_count) == 4
    assert t.column("gpu_count").tolist() == [0, 0, 0] and t.gpu_devices[:3].tolist() == [0, 0, 0]
    add(t, 3, gpus=1)
    add(t, 4)  # grows 4 -> 8 with the allocated columns
    assert t.has_gpu_columns and t.gpu_count.flags.writeable and len(t.gpu_milli) == 8
    assert t.column("gpu_count").tolist() == [0, 0, 0, 1, 0] and t.column("gpu_milli").tolist() == [0, 0, 0, 500, 0]
    assert t.gpu_count.dtype == np.int32 and t.gpu_milli.dtype == np.int64 and t.gpu_devices.dtype == np.int64
