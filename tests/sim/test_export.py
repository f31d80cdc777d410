"""``k8sim export``: the manifests read back through k8sim's own kubectl-objects reader
(k8sim.workloads.kube_objects) give the same cluster and pods, and the scheduler
configuration read back through k8sim's KubeSchedulerConfiguration reader gives the
same profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from k8sim import Simulation, load_scenario, validate_scenario
from k8sim.rng import Streams
from k8sim.scheduling.kubeconfig import load_kube_scheduler_configuration
from k8sim.sim.export import IMPLIED_PLUGINS, export_cluster
from k8sim.sim.snapshot import build_snapshot
from k8sim.workloads.kube_objects import load_kube_objects

ROOT = Path(__file__).resolve().parents[2]


def _rich() -> dict:
    """Taints, labels, namespaces with labels, priority classes, initial pods, sidecars,
    containers without a cpu request, affinity, tolerations, spread, host ports."""
    return {
        "name": "rich", "seed": 3, "duration_s": 500,
        "namespaces": [{"name": "team-a", "labels": {"tier": "backend"}}],
        "priorityClasses": [{"name": "high", "value": 1000}],
        "cluster": {"nodes": [
            {"name": f"n-{i}", "allocatable": {"cpu": "4", "memory": "8Gi", "pods": 20},
             "labels": {"zone": "a" if i % 2 else "b", "disk": "ssd" if i < 2 else "hdd"},
             **({"taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]} if i == 3 else {})}
            for i in range(5)]},
        "initial_pods": [{"name": "kube-system/agent", "nodeName": "n-0", "namespace": "kube-system",
                          "requests": {"cpu": "250m", "memory": "128Mi"}, "labels": {"app": "agent"}}],
        "actions": [{"action": "cordon", "at_s": 1, "nodes": {"names": ["n-4"]}}],
        "workloads": [
            {"name": "web", "arrival": {"kind": "times", "times_s": [0, 0, 0, 0, 0, 0, 0, 0]},
             "duration": {"kind": "constant", "value": 1000},
             "template": {
                 "namespace": "team-a", "labels": {"app": "web"}, "priorityClassName": "high",
                 "containers": [{"name": "app", "requests": {"cpu": "1500m", "memory": "1Gi"}},
                                {"name": "log", "requests": {"memory": "64Mi"}}],
                 "initContainers": [{"name": "mesh", "restartPolicy": "Always", "requests": {"cpu": "100m"}}],
                 "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                 "nodeSelector": {"disk": "ssd"},
                 "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                     {"weight": 10, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": "web"}},
                                                        "topologyKey": "zone"}}]}},
                 "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                                "whenUnsatisfiable": "ScheduleAnyway",
                                                "labelSelector": {"matchLabels": {"app": "web"}}}],
                 "ports": [{"containerPort": 80, "hostPort": 8080}],
             }},
        ],
    }


def _roundtrip(sim: Simulation, tmp_path: Path):
    ex = export_cluster(sim)
    paths = ex.write(tmp_path)
    back = build_snapshot(load_kube_objects(paths[0]))
    return ex, paths, back


def _assert_same_cluster(sim: Simulation, back) -> None:
    a, b = sim.state.nodes, back.state.nodes
    assert b.names == a.names
    names_a, names_b = sim.state.resources.names, back.state.resources.names
    for r, res in enumerate(names_a):
        if res in names_b:
            np.testing.assert_array_equal(b.alloc[names_b.index(res)], a.alloc[r], err_msg=res)
        else:  # a resource no node has is not exported
            assert not a.alloc[r].any(), res
    for n in range(a.n):
        assert b.node_labels(n) == a.node_labels(n)
        assert b.node_taints(n) == a.node_taints(n)
    np.testing.assert_array_equal(b.unschedulable, a.unschedulable)


def _key(state, pod: int) -> str:
    name = state.pods.names[pod]
    return name if "/" in name else f"{state.shapes[int(state.pods.shape[pod])].namespace}/{name}"


def _assert_same_pods(sim: Simulation, back) -> None:
    a, b = sim.state, back.state
    ra, rb = a.resources.names, b.resources.names

    def req(state, names, pod_or_info):
        v = pod_or_info if isinstance(pod_or_info, np.ndarray) else state.pods.requests[pod_or_info]
        return {res: int(v[i]) for i, res in enumerate(names) if v[i]}

    bound_b = {_key(b, p): p for p in range(b.pods.n)}
    pending = 0
    for p in range(a.pods.n):
        phase = int(a.pods.phase[p])
        if phase > 2 or np.isnan(a.pods.created[p]):
            continue
        info = a.shapes[int(a.pods.shape[p])]
        key = _key(a, p)
        if phase == 0:  # pending: a workload of the snapshot, compared by its shape
            pending += 1
            other = back.shapes[key]
            assert req(b, rb, other.requests) == req(a, ra, info.requests), key
            np.testing.assert_array_equal(other.nonzero, info.nonzero)
            for attr in ("priority", "node_selector", "tolerations", "affinity", "spread", "ports",
                         "scheduler_name", "labels", "namespace", "preemption_policy"):
                assert getattr(other, attr) == getattr(info, attr), (key, attr)
            continue
        q = bound_b[key]
        other = b.shapes[int(b.pods.shape[q])]
        assert b.nodes.names[b.pods.node[q]] == a.nodes.names[a.pods.node[p]], key
        assert req(b, rb, q) == req(a, ra, p), key
        np.testing.assert_array_equal(b.pods.nonzero[q], a.pods.nonzero[p])
        for attr in ("priority", "labels", "namespace", "affinity", "ports"):
            assert getattr(other, attr) == getattr(info, attr), (key, attr)
    assert len(back.shapes) == pending


def test_rich_scenario_round_trips_at_time_t(tmp_path):
    sim = Simulation(validate_scenario(_rich()))
    sim.run_until(2)  # the profile placed what fits; the cordon at 1 s is in the tables
    ex, paths, back = _roundtrip(sim, tmp_path)
    pods = sim.state.pods
    bound = int(((pods.phase[: pods.n] == 1) | (pods.phase[: pods.n] == 2)).sum())
    # Only n-0 and n-1 have disk=ssd, and a web pod's hostPort 8080 allows one web pod
    # per node (NodePorts): two bound + the agent, six of the eight pending.
    assert bound == 3 and int((pods.phase[: pods.n] == 0).sum()) == 6
    _assert_same_cluster(sim, back)
    _assert_same_pods(sim, back)
    doc = yaml.safe_load(paths[0].read_text())
    kinds = [o["kind"] for o in doc["items"]]
    assert kinds.count("PriorityClass") == 1 and kinds.count("Namespace") == 2  # team-a, kube-system
    web = next(o for o in doc["items"] if o["kind"] == "Pod" and o["metadata"]["namespace"] == "team-a")
    assert web["spec"]["priority"] == 1000 and web["spec"]["priorityClassName"] == "k8sim-priority-1000"


def test_burst_overload_mid_run_round_trips(tmp_path):
    sim = Simulation(load_scenario(ROOT / "scenarios/burst-overload.yaml"))
    sim.run_until(61)  # one second into the burst of 600: many pending
    ex, paths, back = _roundtrip(sim, tmp_path)
    assert int((sim.state.pods.phase[: sim.state.pods.n] == 0).sum()) > 100
    _assert_same_cluster(sim, back)
    _assert_same_pods(sim, back)


@pytest.mark.parametrize("profile", [
    {"preset": "kube-default"},
    {"preset": "binpack"},
    {"preset": "spread", "percentageOfNodesToScore": 30},
    {"preset": "kube-default", "disabled": ["ImageLocality", "NodePorts"],
     "plugins": [{"name": "NodeResourcesFit", "weight": 3, "args": {"scoringStrategy": {
         "type": "RequestedToCapacityRatio", "resources": [{"name": "cpu", "weight": 1}],
         "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0},
                                                {"utilization": 100, "score": 10}]}}}}]},
], ids=["kube-default", "binpack", "spread-30", "custom"])
def test_scheduler_configuration_round_trips(tmp_path, profile):
    doc = _rich()
    doc["scheduler"] = {"profiles": [profile]}
    sim = Simulation(validate_scenario(doc))
    ex = export_cluster(sim)
    path = ex.write(tmp_path)[1]
    result = load_kube_scheduler_configuration(path)
    assert result.warnings == []
    got = result.build_profiles(Streams(0))["default-scheduler"]
    want = sim.profiles["default-scheduler"]
    # GpuFit and RuntimeClass are k8sim's own filters; upstream checks nvidia.com/gpu in
    # NodeResourcesFit and gets RuntimeClass placement from the admission plugin's nodeSelector.
    assert sorted(f.name for f in got.filters) == sorted(f.name for f in want.filters
                                                         if f.name not in IMPLIED_PLUGINS)
    assert sorted((p.name, w) for p, w in got.scores) == sorted((p.name, w) for p, w in want.scores)
    assert got.percentage == want.percentage
    for (p, _), (q, _) in zip(sorted(got.scores, key=lambda s: s[0].name),
                              sorted(want.scores, key=lambda s: s[0].name), strict=True):
        assert p.args == q.args, p.name


def test_no_configuration_for_research_policies(tmp_path):
    doc = _rich()
    doc["scheduler"] = {"profiles": [{"preset": "tetris"}]}
    ex = export_cluster(Simulation(validate_scenario(doc)))
    assert ex.scheduler_config is None
    assert any("Tetris" in w for w in ex.warnings)
    assert [p.name for p in ex.write(tmp_path)] == ["cluster.yaml"]


def _gpu_sharing() -> dict:
    """Two GPU models, GPU-sharing and whole-GPU pods, a model constraint, pods bound
    before the run (one on explicit devices) and pods pending at export time."""
    return {
        "name": "gpu-share", "seed": 5,
        "scheduler": {"profiles": [{"preset": "fgd"}]},
        "cluster": {"nodes": [
            {"name": "a-0", "allocatable": {"cpu": "32", "memory": "128Gi"}, "gpus": {"count": 4, "model": "V100M16"}},
            {"name": "b-0", "allocatable": {"cpu": "32", "memory": "128Gi"}, "gpus": {"count": 2, "model": "T4"}},
            {"name": "c-0", "allocatable": {"cpu": "8", "memory": "32Gi"}},
        ]},
        "initial_pods": [
            {"name": "share-on-3", "nodeName": "a-0", "requests": {"cpu": "1"},
             "gpu": {"count": 1, "milli": 300}, "gpuDevices": [3]},
            {"name": "whole-2", "nodeName": "b-0", "requests": {"cpu": "2"}, "gpu": {"count": 1}},
        ],
        "workloads": [
            {"name": "share", "arrival": {"kind": "times", "times_s": [0, 0, 0, 0, 5]},
             "duration": {"kind": "constant", "value": 100},
             "template": {"requests": {"cpu": "1", "memory": "1Gi"}, "gpu": {"count": 1, "milli": 450}}},
            {"name": "pair", "arrival": {"kind": "times", "times_s": [0, 5]},
             "duration": {"kind": "constant", "value": 100},
             "template": {"requests": {"cpu": "4", "memory": "8Gi"}, "gpu": {"count": 2, "models": "V100M16"}}},
        ],
    }


def test_gpu_sharing_cluster_round_trips_with_devices(tmp_path):
    sim = Simulation(validate_scenario(_gpu_sharing()))
    sim.run_until(2)  # the pods created at 0 are bound; those at 5 do not exist yet
    ex, paths, back = _roundtrip(sim, tmp_path)
    a, b = sim.state, back.state
    # The explicit device of the initial pod: 1 << 3.
    assert int(a.pods.gpu_devices[0]) == 8
    _assert_same_cluster(sim, back)
    np.testing.assert_array_equal(b.nodes.gpu_count, a.nodes.gpu_count)
    np.testing.assert_array_equal(b.nodes.gpu_free, a.nodes.gpu_free)
    assert [b.nodes.gpu_models[m] if m >= 0 else None for m in b.nodes.gpu_model] == \
        [a.nodes.gpu_models[m] if m >= 0 else None for m in a.nodes.gpu_model]
    _assert_same_pods(sim, back)
    key_b = {_key(b, q): q for q in range(b.pods.n)}
    kinds = set()
    for p in range(a.pods.n):
        if int(a.pods.phase[p]) not in (1, 2):
            continue
        q = key_b[_key(a, p)]
        kinds.add((int(a.pods.gpu_count[p]), int(a.pods.gpu_milli[p])))
        assert (int(b.pods.gpu_count[q]), int(b.pods.gpu_milli[q]), int(b.pods.gpu_devices[q])) == \
            (int(a.pods.gpu_count[p]), int(a.pods.gpu_milli[p]), int(a.pods.gpu_devices[p])), _key(a, p)
        sa, sb = a.shapes[int(a.pods.shape[p])], b.shapes[int(b.pods.shape[q])]
        models = [{a.nodes.gpu_models[m] for m in s.gpu_models} if s.gpu_models is not None else None
                  for s in (sa,)] + [{b.nodes.gpu_models[m] for m in sb.gpu_models} if sb.gpu_models is not None
                                     else None]
        assert models[0] == models[1]
    # The comparison covered every kind of GPU request: the two initial pods (300m on
    # device 3, a whole T4) and, placed by the scheduler, a 450m share and the pair.
    assert kinds == {(1, 300), (1, 1000), (1, 450), (2, 1000)}
    doc = yaml.safe_load(paths[0].read_text())
    pair = next(o for o in doc["items"] if o["kind"] == "Pod" and o["metadata"]["name"].startswith("pair"))
    assert pair["spec"]["containers"][0]["resources"]["requests"]["nvidia.com/gpu"] == "2"
    assert pair["metadata"]["annotations"]["k8sim.io/gpu-models"] == "V100M16"


def test_gpu_annotations_that_do_not_parse_name_their_field(tmp_path):
    sim = Simulation(validate_scenario(_gpu_sharing()))
    sim.run_until(2)
    ex = export_cluster(sim)
    for o in ex.objects:
        if o["kind"] == "Pod" and o["metadata"]["name"] == "share-on-3":
            o["metadata"]["annotations"]["k8sim.io/gpu-milli"] = "1500"
    path = ex.write(tmp_path)[0]
    with pytest.raises(Exception) as err:
        load_kube_objects(path)
    assert "annotations.k8sim.io/gpu-milli" in str(err.value) and "[1, 1000]" in str(err.value)


@pytest.mark.parametrize("devices, message", [
    ([3, 3], "expected 1 distinct device indices"),
    ([4], "device(s) [4] missing"),  # a-0 has devices 0-3
])
def test_initial_pod_gpu_devices_are_checked(devices, message):
    from k8sim.config.loader import ScenarioError

    spec = _gpu_sharing()
    spec["initial_pods"][0]["gpuDevices"] = devices
    with pytest.raises((ScenarioError, ValueError)) as err:
        Simulation(validate_scenario(spec))
    assert message in str(err.value) and "initial_pods" in str(err.value)
