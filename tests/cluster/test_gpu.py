"""GPU sharing: per-device milli accounting, the GpuFit filter and the "best" device rule.

Expected values are derived by hand from the resource model of Weng et al. (ATC '23):
1000 milli-GPU per device; a sharing pod takes the fitting device with the least free
milli (lowest index on ties); a whole-GPU pod takes the lowest-index free devices.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from k8sim import Simulation, validate_scenario
from k8sim.cluster import ops
from k8sim.cluster.nodes import ResourceIndex
from k8sim.cluster.ops import ClusterState, InvariantError, check_invariants
from k8sim.config.loader import ScenarioError
from k8sim.constants import GPU_MODEL_LABEL
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.plugins.gpu_fit import GpuFit
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.scheduling.podinfo import PodInfo

GI = 1024**3


def gpu_state(*nodes: tuple[str, int, str | None]) -> ClusterState:
    """Nodes ``(name, gpu count, model)`` with 64 CPUs and 256Gi each (count 0: no GPUs)."""
    state = ClusterState(ResourceIndex.from_names())
    alloc = state.resources.vector({"cpu": 64_000, "memory": 256 * GI, "pods": 110})
    for name, count, model in nodes:
        ops.add_node(state, name=name, allocatable=alloc, labels={}, taints=[], pool=-1, now=0.0,
                     gpus=(count, model) if count else None)
    return state


def gpu_pod(state: ClusterState, count: int = 0, milli: int = 0, models: str | None = None) -> PodInfo:
    req = state.resources.vector({"cpu": 1000, "memory": GI, "pods": 1})
    info = PodInfo(shape=-1, requests=req, nonzero=req[:2].copy(), priority=0,
                   scheduler_name="default-scheduler", gpu_count=count, gpu_milli=milli,
                   gpu_models=None if models is None
                   else frozenset(ops.intern_gpu_model(state, m) for m in models.split("|")))
    ops.add_shape(state, info)
    return info


def profile() -> Profile:
    return Profile("default-scheduler", [NodeResourcesFit(), GpuFit()], [], np.random.default_rng(0), 100)


def submit(state: ClusterState, info: PodInfo, prof: Profile | None = None) -> int:
    """Create a pod of ``info``, schedule it as the Scheduler does (Reserve, then bind);
    returns the pod row (its node is -1 if nothing fits)."""
    prof = prof or profile()
    pods = state.pods
    pod = pods.append(name=f"p{pods.n}", requests=info.requests, workload=-1, index=pods.n, shape=info.shape,
                      priority=0, created=0.0, duration=math.inf, start_latency=0.0,
                      gpu_count=info.gpu_count, gpu_milli=info.gpu_milli)
    decision = prof.schedule(state, info, pod)
    if decision.node >= 0:
        for plugin in prof.reservers:
            plugin.reserve(state, pod, info, decision.node)
        ops.bind(state, pod, decision.node, 0.0)
    check_invariants(state)
    return pod


def test_sharing_pods_pack_by_the_best_rule():
    state = gpu_state(("g", 2, "V100M16"))
    a, b, c = (submit(state, gpu_pod(state, 1, m)) for m in (300, 500, 400))
    # 300 -> dev0 (both free: lowest index); 500 -> dev0 (least free that fits: 700 < 1000);
    # 400 -> dev1 (dev0 has 200 < 400).
    assert [int(state.pods.gpu_devices[p]) for p in (a, b, c)] == [0b01, 0b01, 0b10]
    assert state.nodes.gpu_free.tolist() == [[200, 600]]


def test_sharing_pod_takes_least_free_fitting_device_lowest_index_on_ties():
    state = gpu_state(("g", 4, "V100M16"))
    for m in (600, 200, 600):
        submit(state, gpu_pod(state, 1, m))
    # 600 -> dev0 (400 left); 200 -> dev0 (least free that fits: 400 -> 200);
    # 600 -> dev1 (dev0 200 < 600; dev1..3 tie at 1000: lowest index) -> 400.
    assert state.nodes.gpu_free.tolist() == [[200, 400, 1000, 1000]]
    p = submit(state, gpu_pod(state, 1, 300))  # dev1 (400) is the only partly used fit
    assert int(state.pods.gpu_devices[p]) == 0b0010
    assert state.nodes.gpu_free.tolist() == [[200, 100, 1000, 1000]]
    p = submit(state, gpu_pod(state, 1, 200))  # dev0 has 200, exactly fits, least free
    assert int(state.pods.gpu_devices[p]) == 0b0001


def test_whole_gpu_pods_take_lowest_index_free_devices():
    state = gpu_state(("g", 4, "V100M16"))
    shared = submit(state, gpu_pod(state, 1, 300))
    assert int(state.pods.gpu_devices[shared]) == 0b0001
    two = submit(state, gpu_pod(state, 2, 1000))
    assert int(state.pods.gpu_devices[two]) == 0b0110  # dev0 is partly used: devs 1, 2
    assert state.nodes.gpu_free.tolist() == [[700, 0, 0, 1000]]
    assert state.pods.node[submit(state, gpu_pod(state, 2, 1000))] == -1  # one free device left
    one = submit(state, gpu_pod(state, 1, 1000))
    assert int(state.pods.gpu_devices[one]) == 0b1000


def test_model_constraint_and_label():
    state = gpu_state(("a100", 8, "A100"), ("v100", 2, "V100M16"), ("cpu", 0, None))
    nodes = state.nodes
    assert nodes.node_labels(0)[GPU_MODEL_LABEL] == "A100"
    assert nodes.node_labels(1)[GPU_MODEL_LABEL] == "V100M16"
    assert GPU_MODEL_LABEL not in nodes.node_labels(2)
    assert nodes.gpu_model.tolist() == [0, 1, -1] and nodes.gpu_count.tolist() == [8, 2, 0]
    assert nodes.gpu_free[2].tolist() == [-1] * 8 and nodes.gpu_free[1].tolist() == [1000] * 2 + [-1] * 6
    plugin = GpuFit()
    assert plugin.filter(state, gpu_pod(state, 1, 500, "V100M32|V100M16")).tolist() == [False, True, False]
    assert plugin.filter(state, gpu_pod(state, 1, 500)).tolist() == [True, True, False]
    assert plugin.filter(state, gpu_pod(state, 4, 1000)).tolist() == [True, False, False]
    unknown = gpu_pod(state, 1, 500, "K80")
    assert plugin.filter(state, unknown).tolist() == [False, False, False]
    p = submit(state, unknown)
    assert state.pods.node[p] == -1
    assert "GPU model not allowed" in profile().diagnose(state, unknown)
    p = submit(state, gpu_pod(state, 1, 1000, "V100M16"))
    assert state.pods.node[p] == 1


def test_pod_fitting_no_node_and_prefilter_skip():
    state = gpu_state(("g0", 2, "V100M16"), ("g1", 2, "V100M16"), ("cpu", 0, None))
    three = gpu_pod(state, 3, 1000)
    p = submit(state, three)
    assert state.pods.node[p] == -1 and state.pods.gpu_devices[p] == 0
    assert "3 Insufficient GPU" in profile().diagnose(state, three)
    plain = gpu_pod(state)
    assert not GpuFit().pre_filter(state, plain)
    assert profile().feasible_mask(state, plain).tolist() == [True, True, True]
    p = submit(state, plain)
    assert state.pods.node[p] >= 0 and state.pods.gpu_devices[p] == 0
    assert state.nodes.gpu_free[:2].tolist() == [[1000, 1000]] * 2


def test_release_returns_milli():
    state = gpu_state(("g", 2, "V100M16"))
    a = submit(state, gpu_pod(state, 1, 300))
    b = submit(state, gpu_pod(state, 2, 1000))
    assert state.pods.node[b] == -1  # dev0 is partly used
    ops.release(state, a, 3, 1.0)
    check_invariants(state)
    assert state.nodes.gpu_free.tolist() == [[1000, 1000]]
    assert int(state.pods.gpu_devices[a]) == 0b01  # kept for the record
    c = submit(state, gpu_pod(state, 2, 1000))
    assert int(state.pods.gpu_devices[c]) == 0b11 and state.nodes.gpu_free.tolist() == [[0, 0]]
    ops.release(state, c, 3, 2.0)
    check_invariants(state)
    assert state.nodes.gpu_free.tolist() == [[1000, 1000]]


def test_bind_without_reserve_uses_best_rule_and_refuses_overcommit():
    state = gpu_state(("g", 2, "V100M16"))
    info = gpu_pod(state, 1, 800)
    pods = state.pods
    rows = [pods.append(name=f"x{i}", requests=info.requests, workload=-1, index=i, shape=info.shape,
                        priority=0, created=0.0, duration=math.inf, start_latency=0.0,
                        gpu_count=1, gpu_milli=800) for i in range(3)]
    ops.bind(state, rows[0], 0, 0.0)
    ops.bind(state, rows[1], 0, 0.0)
    assert state.nodes.gpu_free.tolist() == [[200, 200]]
    with pytest.raises(InvariantError, match="cannot host"):
        ops.bind(state, rows[2], 0, 0.0)
    assert pods.phase[rows[2]] == 0
    check_invariants(state)


def test_device_axis_widens_and_invariants_catch_corruption():
    state = gpu_state(("a", 2, "V100M16"))
    ops.add_node(state, name="b", allocatable=state.nodes.alloc[:, 0].copy(), labels={}, taints=[], pool=-1,
                 now=0.0, gpus=(4, "V100M32"))
    assert state.nodes.gpu_free.tolist() == [[1000, 1000, -1, -1], [1000] * 4]
    submit(state, gpu_pod(state, 1, 250))
    state.nodes.gpu_free[0, 1] -= 1
    with pytest.raises(InvariantError, match="GPU 1 of node a"):
        check_invariants(state)
    state.nodes.gpu_free[0, 1] += 1
    state.nodes.gpu_free[0, 3] = 0
    with pytest.raises(InvariantError, match="beyond"):
        check_invariants(state)


def test_invariants_after_seeded_random_runs():
    rng = np.random.default_rng(2023)
    for _ in range(20):
        specs = [(f"n{i}", int(rng.choice([0, 1, 2, 4, 8])), str(rng.choice(["V100M16", "V100M32", "T4"])))
                 for i in range(int(rng.integers(1, 6)))]
        state = gpu_state(*specs)
        kinds = [gpu_pod(state, 1, int(m)) for m in (100, 250, 500, 700)] + [
            gpu_pod(state, k, 1000) for k in (1, 2, 4)] + [
            gpu_pod(state, 1, 500, "V100M32|T4"), gpu_pod(state)]
        prof = profile()
        bound: list[int] = []
        for _ in range(60):
            if bound and rng.random() < 0.3:
                p = bound.pop(int(rng.integers(len(bound))))
                ops.release(state, p, 3, 1.0)
                check_invariants(state)
            else:
                p = submit(state, kinds[int(rng.integers(len(kinds)))], prof)
                if state.pods.node[p] >= 0:
                    bound.append(p)
        # Whatever is bound is exactly what is used, device by device.
        free = state.nodes.gpu_free
        assert np.all((free >= 0) == (np.arange(free.shape[1]) < state.nodes.gpu_count[:, None]))


def _scenario(template_gpu: dict | None = None, pool_gpus: dict | None = None) -> dict:
    pool = {"name": "gpu", "count": 2, "allocatable": {"cpu": "32", "memory": "128Gi"}}
    if pool_gpus is not None:
        pool["gpus"] = pool_gpus
    template: dict = {"requests": {"cpu": "1", "memory": "1Gi"}}
    if template_gpu is not None:
        template["gpu"] = template_gpu
    return {
        "seed": 3,
        "cluster": {"node_pools": [pool], "nodes": [{"name": "plain", "allocatable": {"cpu": "8", "memory": "8Gi"}}]},
        "workloads": [{"name": "w", "arrival": {"kind": "poisson", "rate_per_s": 2.0}, "max_pods": 60,
                       "template": template, "duration": {"kind": "exponential", "mean": 10.0}}],
    }


def test_simulation_end_to_end():
    sim = Simulation(validate_scenario(_scenario({"count": 1, "milli": 300, "models": "V100M16|V100M32"},
                                                 {"count": 4, "model": "V100M16"})))
    steps = 0
    while sim.env.peek() < math.inf:
        sim.env.step()
        check_invariants(sim.state)
        steps += 1
    pods, nodes = sim.state.pods, sim.state.nodes
    assert nodes.gpu_count.tolist() == [4, 4, 0]
    assert nodes.node_labels(0)[GPU_MODEL_LABEL] == "V100M16"
    done = pods.phase[: pods.n] == 3
    assert done.sum() == 60
    assert np.all(pods.node[: pods.n] < 2)  # never the node without GPUs
    assert np.all(pods.gpu_milli[: pods.n] == 300) and np.all(pods.gpu_devices[: pods.n] > 0)
    assert nodes.gpu_free[:2].tolist() == [[1000] * 4] * 2


@pytest.mark.parametrize(
    ("template_gpu", "pool_gpus", "path"),
    [
        ({"count": 2, "milli": 500}, None, "workloads[0].template.gpu"),
        ({"count": 1, "milli": 0}, None, "workloads[0].template.gpu.milli"),
        ({"count": 1, "milli": 1500}, None, "workloads[0].template.gpu.milli"),
        ({"count": 0}, None, "workloads[0].template.gpu.count"),
        ({"count": 1, "mili": 500}, None, "workloads[0].template.gpu.mili"),
        (None, {"count": 0, "model": "V100M16"}, "cluster.node_pools[0].gpus.count"),
        (None, {"count": 2}, "cluster.node_pools[0].gpus.model"),
        (None, {"count": 2, "model": "V100M16|T4"}, "cluster.node_pools[0].gpus.model"),
    ],
)
def test_bad_input_names_the_field(template_gpu, pool_gpus, path):
    with pytest.raises(ScenarioError) as err:
        validate_scenario(_scenario(template_gpu, pool_gpus))
    assert [p for p, _ in err.value.problems] == [path]


def test_multi_gpu_shared_message():
    with pytest.raises(ScenarioError, match="multi-GPU pod"):
        validate_scenario(_scenario({"count": 2, "milli": 500}))


def test_gpu_pods_need_a_gpu_filter():
    # Disabling GpuFit in a profile that schedules GPU pods is reported before the run
    # (it would otherwise bind pods to nodes without free devices).
    from k8sim import ScenarioError, Simulation, validate_scenario

    data = {
        "cluster": {"nodes": [{"name": "g", "allocatable": {"cpu": "8", "memory": "32Gi"},
                               "gpus": {"count": 2, "model": "V100M16"}}]},
        "workloads": [{"name": "w", "arrival": {"kind": "burst", "count": 1, "at_s": 0},
                       "template": {"requests": {"cpu": "1"}, "gpu": {"count": 1, "milli": 500}}}],
        "scheduler": {"profiles": [{"disabled": ["GpuFit"]}]},
    }
    with pytest.raises(ScenarioError, match=r"workloads\[0\]\.template\.gpu.*no GpuFit"):
        Simulation(validate_scenario(data))


def test_initial_pods_take_gpu_devices_by_the_best_rule():
    import k8sim

    def doc(*pods: dict) -> dict:
        return {"cluster": {"nodes": [{"name": "n0", "allocatable": {"cpu": "8", "memory": "8Gi"},
                                       "gpus": {"count": 2, "model": "T4"}}]},
                "initial_pods": [{"name": f"i{k}", "nodeName": "n0", **p} for k, p in enumerate(pods)]}

    # i0 300m: both devices idle -> least free that fits is a tie -> dev0 (700 left);
    # i1 500m: dev0 (700) is the fitting device with least free -> dev0 (200 left).
    sim = k8sim.Simulation(k8sim.validate_scenario(doc({"gpu": {"milli": 300}}, {"gpu": {"milli": 500}})))
    assert sim.state.nodes.gpu_free[0].tolist() == [200, 1000]
    assert sim.state.pods.gpu_devices[:2].tolist() == [1, 1]
    # A whole GPU then 800m: dev0 taken whole, dev1 has 1000 -> 800 fits; a third pod of
    # 800m finds 200 on dev1 only: rejected, naming the pod's field.
    with pytest.raises(k8sim.ScenarioError, match=r"initial_pods\[2\]\.gpu"):
        k8sim.Simulation(k8sim.validate_scenario(doc({"gpu": {"count": 1}}, {"gpu": {"milli": 800}},
                                                     {"gpu": {"milli": 800}})))
    # A model the node lacks is rejected too.
    with pytest.raises(k8sim.ScenarioError, match="allowed model"):
        k8sim.Simulation(k8sim.validate_scenario(doc({"gpu": {"count": 1, "models": "A100"}})))
