"""Manifest workloads pull their own containers' images (init containers first) with
their ``imagePullPolicy``, as template workloads do, when the scenario has an ``images``
section; without one nothing changes. Times are derived by hand from layer sizes and the
node's pull bandwidth (decimal megabytes over bytes per second)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import deployment, write

from k8sim.config.loader import ScenarioError, validate_scenario
from k8sim.sim.simulation import Simulation

MB = 10**6
CATALOG = [
    {"name": "app:1", "layers": [{"digest": "sha256:base", "size": 50 * MB}, {"digest": "sha256:app1", "size": 30 * MB}]},
    {"name": "app:2", "layers": [{"digest": "sha256:base", "size": 50 * MB}, {"digest": "sha256:app2", "size": 20 * MB}]},
    {"name": "tools:1", "layers": [{"digest": "sha256:base", "size": 50 * MB},
                                   {"digest": "sha256:tools", "size": 10 * MB}]},
]


def web(replicas: int = 2, image: str = "app:1", **container: object) -> dict:
    """A Deployment whose pods run one per node (required anti-affinity on the hostname),
    with an init container of tools:1."""
    d = deployment(name="web", replicas=replicas, image=image)
    spec = d["spec"]["template"]["spec"]
    spec["containers"][0].update(container)
    spec["initContainers"] = [{"name": "setup", "image": "tools:1"}]
    spec["affinity"] = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    return d


def scenario(tmp: Path, manifest: Path, images: bool = True, workload: dict | None = None, **more: object):
    # Two one-node pools with a 10 MB/s pull bandwidth: "cold" holds no image, "warm"
    # has app:1 and tools:1 pre-pulled. Pod start latency 2 s.
    pools = [{"name": "cold", "count": 1, "allocatable": {"cpu": "16", "memory": "64Gi"},
              "image_pull_bandwidth": "10M"},
             {"name": "warm", "count": 1, "allocatable": {"cpu": "16", "memory": "64Gi"},
              "image_pull_bandwidth": "10M"}]
    if images:
        pools[1]["prepulled_images"] = ["app:1", "tools:1"]
    data: dict = {
        "name": "pulls", "seed": 1, "duration_s": 300,
        "cluster": {"node_pools": pools},
        "defaults": {"start_latency": {"kind": "constant", "value": 2}},
        "workloads": [{"manifest": str(manifest), **(workload or {})}],
        **more,
    }
    if images:
        data["images"] = {"builtin": False, "catalog": CATALOG}
    return validate_scenario(data, source="test.yaml", base_dir=tmp)


def by_pool(result) -> dict:  # noqa: ANN001
    """The pods by their node's pool (nodes are named <pool>-<i>)."""
    pods = result.pods
    return {str(r["node"]).rsplit("-", 1)[0]: r for _, r in pods.iterrows()}


def test_replicas_on_a_cold_node_pay_the_pull_and_on_a_warm_node_do_not(tmp_path):
    # Cold node: the init container's tools:1 first: base (50 MB) and tools (10 MB) are
    # missing, 60 MB at 10 MB/s (downloads share the bandwidth, so the two layers take
    # 60 / 10 = 6 s together) -> 0..6; then app:1, whose base is there now: app1, 30 MB
    # -> 3 s, 6..9; then the pod's start latency 2 s: Running at 11. Pulled 90 MB, 9 s
    # pulling. Warm node: both images present (IfNotPresent, the default for a tagged
    # image): no pull, Running at 0 + 2 = 2.
    m = write(tmp_path, "web.yaml", web())
    r = Simulation(scenario(tmp_path, m)).run()
    pods = by_pool(r)
    cold, warm = pods["cold"], pods["warm"]
    assert (cold["pull_start"], cold["pull_end"], cold["running"]) == (0.0, 9.0, 11.0)
    assert (cold["image_pull_time"], cold["pull_bytes"]) == (9.0, 90 * MB)
    assert warm["running"] == 2.0 and warm["image_pull_time"] == 0.0 and warm["pull_bytes"] == 0
    # Without an images section the same manifest pulls nothing: Running at 2 on both.
    r0 = Simulation(scenario(tmp_path, m, images=False)).run()
    assert r0.pods["running"].tolist() == [2.0, 2.0]


def test_image_pull_policy_of_the_manifest(tmp_path):
    # imagePullPolicy Always on the warm node: app:1 is present, so the pull downloads
    # nothing and ends at once (pull_start = pull_end = 0, a pull all the same), Running
    # at 2. On the cold node the pulls are those of the first test (Running at 11).
    m = write(tmp_path, "web.yaml", web(imagePullPolicy="Always"))
    pods = by_pool(Simulation(scenario(tmp_path, m)).run())
    assert (pods["warm"]["pull_start"], pods["warm"]["pull_end"], pods["warm"]["running"]) == (0.0, 0.0, 2.0)
    assert pods["cold"]["running"] == 11.0
    # Never: the cold node lacks app:1 (tools:1 is pulled for the init container, then
    # ErrImageNeverPull); the warm node has it: Running at 2.
    m = write(tmp_path, "web.yaml", web(imagePullPolicy="Never"))
    pods = by_pool(Simulation(scenario(tmp_path, m)).run())
    assert pods["warm"]["running"] == 2.0
    assert pods["cold"]["reason"] == "ErrImageNeverPull" and pods["cold"]["phase"] == "ContainerCreating"


def test_a_rollout_pulls_the_new_image_and_annotations_still_apply(tmp_path):
    # One replica pinned to the cold node, Ready 4 s after Running (k8sim.io/readiness-delay
    # composed with the images). At 100 a rollout to app:2 (kubectl set image): the new
    # ReplicaSet's pod is created at once (maxSurge 25% of 1 rounds up to 1) and pulls
    # app:2 on the same node.
    d = web()
    d["spec"]["template"]["metadata"]["annotations"] = {"k8sim.io/readiness-delay": "4"}
    del d["spec"]["template"]["spec"]["affinity"]
    d["spec"]["replicas"] = 1
    d["spec"]["template"]["spec"]["nodeSelector"] = {"kubernetes.io/hostname": "cold-0"}
    m = write(tmp_path, "web.yaml", d)
    sc = scenario(tmp_path, m, actions=[{"at_s": 100, "action": "rollout", "kind": "Deployment", "name": "web",
                                         "image": "app:2"}])
    r = Simulation(sc).run()
    pods = r.pods.sort_values("created")
    first, second = pods.iloc[0], pods.iloc[1]
    # The first pod on the cold node: Running at 11 (as above), Ready at 15.
    assert (first["running"], first["ready"]) == (11.0, 15.0)
    # The new pod (created at 100): tools:1 present (pulled for the first pod, in use),
    # app:2 lacks only its own 20 MB layer: 2 s, 100..102; Running at 104, Ready at 108.
    assert (second["created"], second["pull_start"], second["pull_end"]) == (100.0, 100.0, 102.0)
    assert (second["pull_bytes"], second["running"], second["ready"]) == (20 * MB, 104.0, 108.0)


def test_unknown_manifest_image_names_file_document_and_field(tmp_path):
    m = write(tmp_path, "web.yaml", deployment(name="ok", image="app:1"), web(image="nope:1"))
    with pytest.raises(ScenarioError) as e:
        Simulation(scenario(tmp_path, m))
    problems = e.value.problems
    assert problems[0][0] == "workloads[0].manifest"
    assert problems[0][1].startswith(f"{m}: document[1].spec.template.spec.containers[0].image: "
                                     "image 'nope:1' is not in the image catalog (app:1, app:2, tools:1)")
    # A rollout to an image the catalog lacks is refused when the run is built.
    m = write(tmp_path, "web.yaml", web())
    sc = scenario(tmp_path, m, actions=[{"at_s": 10, "action": "rollout", "kind": "Deployment", "name": "web",
                                         "image": "nope:2"}])
    with pytest.raises(ScenarioError) as e:
        Simulation(sc)
    assert e.value.problems[0][0] == "actions[0].image" and "'nope:2' is not in the image catalog" in str(e.value)


def test_bad_pull_policy_is_an_error(tmp_path):
    m = write(tmp_path, "web.yaml", web(imagePullPolicy="Sometimes"))
    with pytest.raises(ScenarioError) as e:
        Simulation(scenario(tmp_path, m))
    path, msg = e.value.problems[0]
    assert path == "document[0].spec.template.spec.containers[0].imagePullPolicy"
    assert "'Always', 'IfNotPresent' or 'Never'" in msg


def test_cli_exit_code_2_for_an_unknown_manifest_image(tmp_path):
    m = write(tmp_path, "web.yaml", web(image="nope:1"))
    sc = {"name": "pulls", "duration_s": 10, "images": {"builtin": False, "catalog": CATALOG},
          "cluster": {"node_pools": [{"name": "p", "count": 1, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
          "workloads": [{"manifest": m.name}]}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sc))
    res = subprocess.run([sys.executable, "-m", "k8sim.cli", "run", str(path), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True)
    assert res.returncode == 2, res.stderr
    assert "web.yaml: document[0].spec.template.spec.containers[0].image: image 'nope:1'" in res.stderr
    assert "Traceback" not in res.stderr
