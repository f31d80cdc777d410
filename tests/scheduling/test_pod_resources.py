"""Per-container requests and upstream's non-zero scoring defaults.

Upstream computes three things from a pod spec with ``resource.PodRequests``
(k8s.io/component-helpers/resource/helpers.go): the requests (no options), the incoming
pod's non-zero requests for NodeResourcesFit's score
(plugins/noderesources/resource_allocation.go, ``calculatePodResourceRequest`` with
``NonMissingContainerRequests`` = 100m / 200Mi, pkg/scheduler/util DefaultMilliCPURequest
and DefaultMemoryRequest) and a bound pod's contribution to ``NonZeroRequested``
(pkg/scheduler/framework/types.go, ``calculateResource`` with
``getNonMissingContainerRequests``). ``applyNonMissing`` adds a default to *each
container* that does not name the resource; a named ``0`` stays 0.

Every case below goes through both inputs: a scenario (``containers[].requests``) and
``k8sim explain --objects`` on the equivalent ``kubectl get -o yaml`` objects; both must
give the hand-derived numbers. Nodes: ``empty`` and ``busy``, each 4 cpu (4000m) and 8Gi
(8589934592 bytes); ``busy`` holds one bound pod of containers ``a`` (1 cpu, 1Gi) and
``b`` (no requests). Scores: LeastAllocated ``(alloc - requested) * 100 // alloc`` per
resource, mean of cpu and memory (``least_allocated.go``); BalancedAllocation
``int((1 - |f_cpu - f_mem| / 2) * 100)`` on the *actual* requests
(``balanced_allocation.go``, ``useRequested``).
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from k8sim import validate_scenario
from k8sim.cli import app
from k8sim.scheduling.explain import explain_pod
from k8sim.scheduling.pod_resources import ContainerRequests, pod_resources
from k8sim.sim.simulation import Simulation

Mi, Gi = 2**20, 2**30


def c(cpu: str | None = None, memory: str | None = None) -> dict:
    out = {}
    if cpu is not None:
        out["cpu"] = cpu
    if memory is not None:
        out["memory"] = memory
    return out


#: name -> (containers' requests, init containers' requests) of each pending pod.
PODS: dict[str, tuple[list[dict], list[dict]]] = {
    "two": ([c("1", "1Gi"), c()], []),
    "init": ([c("500m", "512Mi"), c()], [c("2")]),
    "bare": ([c(), c()], []),
    "zero": ([c("0", "1Gi")], []),
    "absent": ([c(None, "1Gi")], []),
}


def scenario() -> dict:
    nodes = [{"name": n, "allocatable": {"cpu": "4", "memory": "8Gi"}} for n in ("empty", "busy")]
    workloads = []
    for name, (main, init) in PODS.items():
        template: dict = {"containers": [{"name": f"m{i}", "requests": r} for i, r in enumerate(main)]}
        if init:
            template["initContainers"] = [{"name": f"i{i}", "requests": r} for i, r in enumerate(init)]
        workloads.append({"name": name, "arrival": {"kind": "times", "times_s": [1]}, "template": template})
    busy = {"name": "held", "nodeName": "busy",
            "containers": [{"name": "a", "requests": {"cpu": "1", "memory": "1Gi"}}, {"name": "b", "requests": {}}]}
    return {"cluster": {"nodes": nodes}, "initial_pods": [busy], "workloads": workloads}


def _container_yaml(name: str, req: dict) -> str:
    res = f", resources: {{requests: {json.dumps(req)}}}" if req else ""
    return f"{{name: {name}{res}}}"


def objects_yaml() -> str:
    lines = ["apiVersion: v1", "kind: List", "items:"]
    for n in ("empty", "busy"):
        lines += ["- apiVersion: v1", "  kind: Node", f"  metadata: {{name: {n}, labels: {{kubernetes.io/hostname: {n}}}}}",
                  "  status: {allocatable: {cpu: \"4\", memory: 8Gi, pods: \"110\"}}"]
    lines += ["- apiVersion: v1", "  kind: Pod", "  metadata: {name: held, namespace: default}",
              "  spec: {nodeName: busy, containers: [{name: a, resources: {requests: {cpu: \"1\", memory: 1Gi}}}, "
              "{name: b}]}", "  status: {phase: Running}"]
    for name, (main, init) in PODS.items():
        spec = "containers: [" + ", ".join(_container_yaml(f"m{i}", r) for i, r in enumerate(main)) + "]"
        if init:
            spec += ", initContainers: [" + ", ".join(_container_yaml(f"i{i}", r) for i, r in enumerate(init)) + "]"
        lines += ["- apiVersion: v1", "  kind: Pod", f"  metadata: {{name: {name}, namespace: default}}",
                  f"  spec: {{{spec}}}", "  status: {phase: Pending}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def via_scenario() -> dict[str, dict[str, dict[str, int | None]]]:
    """pod -> node -> {plugin: raw score} through a scenario."""
    sim = Simulation(validate_scenario(scenario()))
    profile = sim.profiles["default-scheduler"]
    out = {}
    for wi, name in enumerate(PODS):
        shape = next(s for s in sim.state.shapes if s.workload == wi)
        exp = explain_pod(sim.state, profile, shape, name)
        out[name] = {
            exp.nodes[int(n)]: {ps.name: (None if ps.skipped else int(ps.raw[k])) for ps in exp.scores}
            for k, n in enumerate(exp.feasible)
        }
    return out


@pytest.fixture(scope="module")
def via_objects(tmp_path_factory) -> dict[str, dict[str, dict[str, int | None]]]:
    """The same through ``k8sim explain --objects ... --format json`` (in-process)."""
    path = tmp_path_factory.mktemp("objects") / "cluster.yaml"
    path.write_text(objects_yaml(), encoding="utf-8")
    out = {}
    for name in PODS:
        result = CliRunner().invoke(app, ["explain", "--objects", str(path), "--pod", name, "--format", "json"])
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        out[name] = {n["name"]: {p: (None if v is None else v["raw"]) for p, v in n["scores"].items()}
                     for n in doc["nodes"] if n["feasible"]}
    return out


def scores(via, request) -> dict[str, dict[str, dict[str, int | None]]]:
    return request.getfixturevalue(via)


VIAS = pytest.mark.parametrize("via", ["via_scenario", "via_objects"])


@VIAS
def test_two_containers_one_without_requests(via, request):
    s = scores(via, request)["two"]
    # Non-zero requests, per container: a (1000m, 1Gi) + b (defaults 100m, 200Mi)
    # = 1100m, 1Gi + 200Mi = 1283457024 bytes. (A whole-pod rule would see 1000m, 1Gi.)
    # empty: cpu (4000 - 1100) * 100 // 4000 = 72; memory (8589934592 - 1283457024) * 100
    #        // 8589934592 = 85 (85.06); (72 + 85) // 2 = 78   (whole-pod rule: (75+87)//2 = 81)
    # busy: the bound pod added 1100m / 1283457024 to NonZeroRequested as well, so
    #        cpu (4000 - 2200) * 100 // 4000 = 45; memory (8589934592 - 2566914048) * 100
    #        // 8589934592 = 70 (70.12); (45 + 70) // 2 = 57
    assert s["empty"]["NodeResourcesFit"] == 78
    assert s["busy"]["NodeResourcesFit"] == 57
    # BalancedAllocation reads actual requests (no defaults): empty cpu 1000/4000 = 0.25,
    # memory 1Gi/8Gi = 0.125, std 0.0625 -> int(93.75) = 93; busy 2000/4000 = 0.5 and
    # 2Gi/8Gi = 0.25, std 0.125 -> int(87.5) = 87.
    assert s["empty"]["NodeResourcesBalancedAllocation"] == 93
    assert s["busy"]["NodeResourcesBalancedAllocation"] == 87


@VIAS
def test_init_container_larger_than_the_main_containers(via, request):
    s = scores(via, request)["init"]
    # Non-zero: main 500m + 100m = 600m and 512Mi + 200Mi = 712Mi; the init container
    # names cpu only: 2000m, memory default 200Mi. Max per resource: 2000m, 712Mi
    # (746586112 bytes). cpu (4000 - 2000) * 100 // 4000 = 50; memory (8589934592 -
    # 746586112) * 100 // 8589934592 = 91 (91.31); (50 + 91) // 2 = 70.
    # (Without per-container defaults: 2000m, 512Mi -> (50 + 93) // 2 = 71.)
    assert s["empty"]["NodeResourcesFit"] == 70
    # Actual requests: cpu max(500m, 2000m) = 2000m, memory 512Mi (the init container names
    # none): 0.5 and 0.0625, std 0.21875 -> int(78.125) = 78.
    assert s["empty"]["NodeResourcesBalancedAllocation"] == 78


@VIAS
def test_every_container_without_requests(via, request):
    s = scores(via, request)["bare"]
    # Two containers, both defaulted: 200m, 400Mi (419430400 bytes). cpu 3800 * 100 // 4000
    # = 95; memory (8589934592 - 419430400) * 100 // 8589934592 = 95 (95.12) -> 95.
    # (A whole-pod default would be 100m / 200Mi -> 97.)
    assert s["empty"]["NodeResourcesFit"] == 95
    # A pod that requests nothing is skipped by BalancedAllocation's PreScore (v1.33+).
    assert s["empty"]["NodeResourcesBalancedAllocation"] is None


@VIAS
def test_explicit_zero_is_not_absent(via, request):
    s = scores(via, request)
    # zero: cpu named as 0 keeps 0 (applyNonMissing only fills resources not named):
    # cpu (4000 - 0) * 100 // 4000 = 100; memory (8Gi - 1Gi) * 100 // 8Gi = 87 (87.5);
    # (100 + 87) // 2 = 93.
    assert s["zero"]["empty"]["NodeResourcesFit"] == 93
    # absent: cpu gets the 100m default: 3900 * 100 // 4000 = 97; (97 + 87) // 2 = 92.
    assert s["absent"]["empty"]["NodeResourcesFit"] == 92


def test_pod_resources_function():
    """The three vectors for a pod with pod-level requests, where the bound pod's
    contribution differs from the scorer's (getNonMissingContainerRequests)."""
    gi = Fraction(Gi)
    main = [ContainerRequests({"cpu": Fraction(1, 2)}), ContainerRequests({"memory": gi})]
    res = pod_resources(main, pod_level={"cpu": Fraction(2)}, overhead={"memory": Fraction(32 * Mi)})
    # requests: cpu replaced by the pod level 2 (2000m); memory 1Gi + 32Mi overhead.
    assert res.requests == {"cpu": 2000, "memory": Gi + 32 * Mi}
    # scorer: each container defaulted: cpu 500m + 100m (then replaced by 2000m); memory
    # 200Mi + 1Gi, + 32Mi overhead.
    assert res.nonzero == (2000, Gi + 232 * Mi)
    # bound: pod-level requests set and memory is present in the pod's requests, so no
    # per-container default for it: 1Gi + 32Mi; cpu from the pod level.
    assert res.nonzero_bound == (2000, Gi + 32 * Mi)
    # Sidecar (restartable init container) adds to the sum; a regular init container after
    # it needs its own + the sidecar's: main 100m, sidecar 200m -> sum 300m; init 250m +
    # 200m = 450m; pod max(300m, 450m) = 450m.
    res = pod_resources([ContainerRequests({"cpu": Fraction(1, 10)})],
                        [ContainerRequests({"cpu": Fraction(1, 5)}, sidecar=True),
                         ContainerRequests({"cpu": Fraction(1, 4)})])
    assert res.requests == {"cpu": 450}
    # Non-zero memory: 200Mi for each of the three containers in the sum (main + sidecar
    # = 400Mi) against the init container's 200Mi + sidecar's 200Mi = 400Mi -> 400Mi.
    assert res.nonzero == (450, 400 * Mi)


def test_bad_requests_name_the_field():
    from k8sim import ScenarioError

    base = scenario()
    both = {**base, "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [1]},
                                   "template": {"requests": {"cpu": "1"},
                                                "containers": [{"name": "a", "requests": {"cpu": "1"}}]}}]}
    with pytest.raises(ScenarioError, match=r"workloads\[0\]\.template: .*give requests per container"):
        validate_scenario(both)
    bad = {**base, "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [1]},
                                  "template": {"containers": [{"name": "a", "requests": {"cpu": "lots"}}]}}]}
    with pytest.raises(ScenarioError, match=r"workloads\[0\]\.template\.containers\[0\]\.requests\.cpu"):
        validate_scenario(bad)
