"""DefaultPreemption with GPU pods: victims are chosen so that the preemptor's GPU
devices become free (k8sim's per-device model; upstream treats GPUs as an extended
resource, so the reprieve loop of ``SelectVictimsOnNode`` in
pkg/scheduler/framework/plugins/defaultpreemption/default_preemption.go is applied with a
per-device fit check instead of a resource sum). Every timeline is derived by hand."""

from __future__ import annotations

from k8sim import run, validate_scenario


def scenario(high_gpu: dict, lows: list[tuple[str, int, dict]], gpus: int = 2, model: str = "V100") -> dict:
    """One node with ``gpus`` devices; low pods (name, priority, gpu) arrive in order at
    t = 0, 1, 2, ... and run 1000 s; the high pod (priority 100) arrives at t = 10."""
    workloads = [
        {"name": name, "arrival": {"kind": "times", "times_s": [float(i)]},
         "template": {"requests": {"cpu": "1"}, "priority": prio, "gpu": gpu, "terminationGracePeriodSeconds": 5},
         "duration": {"kind": "constant", "value": 1000}}
        for i, (name, prio, gpu) in enumerate(lows)
    ]
    workloads.append({"name": "high", "arrival": {"kind": "times", "times_s": [10.0]},
                      "template": {"requests": {"cpu": "1"}, "priority": 100, "gpu": high_gpu},
                      "duration": {"kind": "constant", "value": 50}})
    return {
        "name": "gpu-preempt",
        "cluster": {"nodes": [{"name": "n0", "allocatable": {"cpu": "16", "memory": "64Gi"},
                               "gpus": {"count": gpus, "model": model}}]},
        "workloads": workloads,
    }


def test_whole_gpu_preemptor_evicts_only_what_frees_a_device():
    # t=0: a (priority 1, 500m) -> GpuFit's best device: dev0 (both idle, lowest index).
    # t=1: b (priority 0, whole GPU) -> the only idle device, dev1. The node now has no
    # idle device. t=10: high (whole GPU) fails; removing a and b frees both devices;
    # reprieve in MoreImportantPod order: a first (priority 1): devices (500, 1000) still
    # leave one idle -> a stays; then b: devices (500, 0) -> no idle device -> b is the
    # victim. b keeps its device for its 5 s grace period and ends Failed at 15; high is
    # bound at 15 on dev1 and ends at 65. CPU never mattered (3 of 16 cores).
    res = run(validate_scenario(scenario({"count": 1}, [("a", 1, {"milli": 500}), ("b", 0, {"count": 1})])))
    pods = res.pods.set_index("pod")
    ev = res.events
    assert ev[ev["kind"] == "Preempting"]["detail"].tolist() == ["victims: b-0"]
    assert pods.loc["b-0", "phase"] == "Failed" and pods.loc["b-0", "finished"] == 15
    assert pods.loc["high-0", "scheduled"] == 15 and pods.loc["high-0", "finished"] == 65
    assert pods.loc["a-0", "phase"] == "Succeeded"


def test_sharing_preemptor_needs_one_device_with_room():
    # Two 600m pods at priority 0 on dev0 and dev1 (the second does not fit next to the
    # first: 400 < 600). high asks for 700m of one device: each device has 400 free, so
    # it fails. Removing both frees both; reprieve (equal priority, earlier start
    # first): x (started t=0, dev0) back -> dev1 still has 1000 >= 700 -> x stays; y
    # (dev1) back -> no device has 700 -> y is the victim, evicted at 10, gone at 15.
    res = run(validate_scenario(scenario({"milli": 700}, [("x", 0, {"milli": 600}), ("y", 0, {"milli": 600})])))
    pods = res.pods.set_index("pod")
    ev = res.events
    assert ev[ev["kind"] == "Preempting"]["detail"].tolist() == ["victims: y-0"]
    assert pods.loc["high-0", "scheduled"] == 15
    assert pods.loc["x-0", "phase"] == "Succeeded"


def test_no_preemption_for_a_gpu_model_the_node_lacks():
    # high wants an A100; the node has V100s: evicting cannot help (GpuFit's model check
    # is not resolved by eviction), so nothing is preempted and high never runs.
    res = run(validate_scenario({**scenario({"count": 1, "models": "A100"}, [("b", 0, {"count": 2})]),
                                 "duration_s": 200}))
    assert (res.events["kind"] == "Preempting").sum() == 0
    assert res.pods.set_index("pod").loc["high-0", "phase"] == "Pending"


def test_victims_without_gpus_are_not_evicted_for_a_gpu_pod():
    # A CPU-only low pod cannot free a GPU: with both devices held by higher-priority
    # (200) pods, high (100) finds no candidate and preempts nobody.
    lows = [("g", 200, {"count": 2})]
    data = scenario({"count": 1}, lows)
    data["workloads"].insert(0, {"name": "cpu", "arrival": {"kind": "times", "times_s": [0.5]},
                                 "template": {"requests": {"cpu": "1"}, "priority": 0},
                                 "duration": {"kind": "constant", "value": 1000}})
    data["duration_s"] = 200
    res = run(validate_scenario(data))
    assert (res.events["kind"] == "Preempting").sum() == 0


def test_nominated_preemptor_reserves_its_gpu_devices():
    # Upstream RunFilterPluginsWithNominatedPods (pkg/scheduler/framework/runtime/
    # framework.go) adds nominated pods of equal or higher priority to the node before
    # filtering. Node n0: 2 idle GPUs. X (priority 100, one whole GPU) is nominated to n0
    # and, by the best rule, would take dev0, leaving dev1 idle:
    # - Y (priority 50, two whole GPUs): only dev1 left -> not feasible;
    # - W (priority 50, 500m): fits on dev1 -> feasible;
    # - Z (priority 150, two whole GPUs): X's priority is lower, no reservation -> feasible.
    import numpy as np
    from builders import append_pod, gpu_shape

    from k8sim.cluster import ops
    from k8sim.cluster.nodes import ResourceIndex
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.framework import Profile
    from k8sim.scheduling.plugins.gpu_fit import GpuFit
    from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit

    state = ClusterState(ResourceIndex.from_names())
    alloc = state.resources.vector({"cpu": 64_000, "memory": 256 * 1024**3, "pods": 110})
    ops.add_node(state, name="n0", allocatable=alloc, labels={}, taints=[], pool=-1, now=0.0, gpus=(2, "V100"))
    prof = Profile("default-scheduler", [NodeResourcesFit(), GpuFit()], [], np.random.default_rng(0), 100)

    def shaped(priority: int, count: int, milli: int):
        info = gpu_shape(state, count, milli)
        info.priority = priority
        pod = append_pod(state, info)
        state.pods.priority[pod] = priority
        return info, pod

    x_info, x = shaped(100, 1, 1000)
    ops.nominate(state, x, 0)
    for priority, count, milli, feasible in ((50, 2, 1000, False), (50, 1, 500, True), (150, 2, 1000, True)):
        info, pod = shaped(priority, count, milli)
        mask = prof.nominated_mask(state, info, prof.feasible_mask(state, info), pod)
        assert bool(mask[0]) is feasible, (priority, count, milli)
    # X itself is not held back by its own reservation.
    assert prof.nominated_mask(state, x_info, prof.feasible_mask(state, x_info), x)[0]
