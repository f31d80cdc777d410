"""Bad image/runtime input: one clear ScenarioError naming the field, exit code 2 from
the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from k8sim import ScenarioError, Simulation, validate_scenario

BASE = {
    "cluster": {"node_pools": [{"name": "p", "count": 1, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
    "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [0]}, "template": {"image": "nginx"}}],
    "images": {},
}


def with_(path: str, value, base: dict | None = None) -> dict:
    """A deep copy of BASE (or ``base``) with ``value`` at a dotted path."""
    import copy

    from k8sim.config.loader import set_path

    data = copy.deepcopy(base or BASE)
    set_path(data, path, value)
    return data


def problems(data: dict) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as e:
        Simulation(validate_scenario(data))
    return e.value.problems


def test_the_base_scenario_is_valid():
    Simulation(validate_scenario(BASE)).run()


@pytest.mark.parametrize(
    ("path", "value", "where", "message"),
    [
        ("workloads[0].template.image", "ngnix", "workloads[0].template.image",
         "image 'ngnix' is not in the image catalog"),
        ("workloads[0].template.image", "nginx:1.0", "workloads[0].template.image", "did you mean nginx:latest"),
        ("cluster.node_pools[0].prepulled_images", ["redis", "rediss"], "cluster.node_pools[0].prepulled_images[1]",
         "image 'rediss' is not in the image catalog"),
        ("cluster.node_pools[0].image_disk", "20Mi", "cluster.node_pools[0].image_disk",
         "of image 'nginx:latest' is 33,325,076 bytes (31.8 MiB), larger than the pool's image disk"),
        ("cluster.node_pools[0].image_disk", "50Mi", "cluster.node_pools[0].image_disk",
         "image 'nginx:latest' is 63,110,572 bytes (60.2 MiB), larger than the pool's image disk"),
        ("images.builtin", False, "workloads[0].template.image", "image 'nginx' is not in the image catalog"),
    ],
)
def test_catalog_reference_errors(path, value, where, message):
    found = problems(with_(path, value))
    assert any(p == where and message in m for p, m in found), found


def test_image_absent_from_a_scenario_catalog():
    data = with_("images", {"builtin": False, "catalog": [{"name": "app:1", "layers": [{"digest": "a", "size": 10}]}]})
    data = with_("workloads[0].template.containers", [{"name": "c", "image": "app:2"}], data)
    del data["workloads"][0]["template"]["image"]
    assert problems(data) == [("workloads[0].template.containers[0].image",
                               "image 'app:2' is not in the image catalog (app:1); did you mean app:1?")]


def test_prepulled_images_that_do_not_fit():
    found = problems(with_("cluster.node_pools[0]", {**BASE["cluster"]["node_pools"][0], "image_disk": "70Mi",
                                                    "prepulled_images": ["nginx", "python:slim"]}))
    # nginx + python:slim share the 29,780,905-byte base: nginx's 63,110,572 bytes plus
    # python:slim's own 1,293,282 + 12,363,513 + 249 = 76,767,616 bytes > 70 MiB
    # (73,400,320); each image alone fits.
    assert found == [("cluster.node_pools[0].prepulled_images",
                      "the pre-pulled images take 76,767,616 bytes (73.2 MiB), more than the pool's image disk "
                      "73,400,320 bytes (70.0 MiB)")]


def test_prepulled_images_without_an_images_section():
    data = with_("cluster.node_pools[0].prepulled_images", ["nginx"])
    del data["images"]
    assert problems(data) == [("cluster.node_pools[0].prepulled_images",
                               "pre-pulled images need an images: section (the image catalog)")]


@pytest.mark.parametrize(
    ("path", "value", "where", "message"),
    [
        ("images.catalog", [{"name": "x", "layers": [{"digest": "d", "size": -5}]}], "images.catalog[0].layers[0].size",
         "must be >= 0"),
        ("cluster.node_pools[0].image_pull_bandwidth", 0, "cluster.node_pools[0]", "image_pull_bandwidth must be > 0"),
        ("cluster.node_pools[0].image_pull_bandwidth", "-10M", "cluster.node_pools[0].image_pull_bandwidth",
         "must be >= 0"),
        ("images.registry_bandwidth", 0, "images", "registry_bandwidth must be > 0"),
        ("cluster.node_pools[0].image_disk", 0, "cluster.node_pools[0]", "image_disk must be > 0"),
        ("images.synthetic", {"count": 2, "base_layers": 1, "base_layers_per_image": 2,
                              "layer_size": {"kind": "constant", "value": 1}}, "images.synthetic",
         "base_layers_per_image (2) exceeds base_layers (1)"),
        ("cluster.node_pools[0].kubelet", {"maxParallelImagePulls": 3}, "cluster.node_pools[0].kubelet",
         "maxParallelImagePulls must be 1 or unset when serializeImagePulls is true"),
        ("cluster.node_pools[0].kubelet", {"imageGCLowThresholdPercent": 90}, "cluster.node_pools[0].kubelet",
         "imageGCLowThresholdPercent must be less than imageGCHighThresholdPercent"),
        ("workloads[0].template.imagePullPolicy", "Sometimes", "workloads[0].template.imagePullPolicy", "Input should be"),
        ("workloads[0].template.crash", {"probability": 0.5, "rate_per_s": 1}, "workloads[0].template.crash",
         "give exactly one of probability or rate_per_s"),
        ("workloads[0].template.containers", [{"name": "c"}], "workloads[0].template",
         "give image (one main container) or containers, not both"),
        ("cluster.node_pools[0].kubelet", {"registryBurst": 0}, "cluster.node_pools[0].kubelet",
         "registryBurst 0 with registryPullQPS > 0 would fail every pull"),
        # Without duration_s, pods that restart or retry for ever would never let the run end.
        ("workloads[0].template.image_pull_failure_probability", 1.0, "workloads[0]",
         "the pods of workload 'w' never end (every image pull fails): set duration_s"),
        ("workloads[0].template.crash", {"probability": 1.0}, "workloads[0]",
         "the pods of workload 'w' never end (they crash in every run and are restarted): set duration_s"),
        ("workloads[0].template.crash", {"rate_per_s": 0.01}, "workloads[0]",
         "they run for ever, so a crash rate makes them crash and restart for ever"),
    ],
)
def test_schema_errors(path, value, where, message):
    with pytest.raises(ScenarioError) as e:
        validate_scenario(with_(path, value))
    assert any(p == where and message in m for p, m in e.value.problems), e.value.problems


def test_restart_policy_always_with_a_duration_needs_duration_s():
    data = with_("workloads[0].duration", {"kind": "constant", "value": 10})
    data = with_("workloads[0].template.restartPolicy", "Always", data)
    with pytest.raises(ScenarioError, match="restartPolicy Always restarts them after they complete"):
        validate_scenario(data)
    validate_scenario(with_("duration_s", 100, data))  # fine with a horizon


def test_catalog_consistency_errors():
    data = with_("images.catalog", [
        {"name": "a:1", "layers": [{"digest": "d", "size": 10}]},
        {"name": "b:1", "layers": [{"digest": "d", "size": 11}]},
        {"name": "a:1", "layers": [{"digest": "e", "size": 1}]},
        {"name": "nginx", "layers": [{"digest": "f", "size": 1}]},
    ])
    found = problems(data)
    assert ("images.catalog[1].layers[0].size",
            "layer d has size 11 here but 10 elsewhere (one digest is one content: its size cannot differ)") in found
    assert any(p == "images.catalog[2].name" and "defined twice" in m for p, m in found)
    assert any(p == "images.catalog[3].name" and "is a built-in image" in m for p, m in found)


@pytest.mark.slow
def test_cli_exit_code_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(with_("workloads[0].template.image", "nginx:9.9")))
    out = subprocess.run([sys.executable, "-m", "k8sim.cli", "run", str(bad), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert "workloads[0].template.image: image 'nginx:9.9' is not in the image catalog" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("cluster.node_pools[0].download_limit_scope", "cluster", "cluster.node_pools[0].download_limit_scope"),
        ("cluster.node_pools[0].max_concurrent_downloads", -1, "cluster.node_pools[0].max_concurrent_downloads"),
        ("cluster.node_pools[0].kubelet.imageGCPeriodSeconds", -5, "cluster.node_pools[0].kubelet.imageGCPeriodSeconds"),
        ("cluster.node_pools[0].kubelet.podWorkerJitterFactor", -0.5,
         "cluster.node_pools[0].kubelet.podWorkerJitterFactor"),
        ("cluster.node_pools[0].kubelet.podWorkerBackOffPeriodSeconds", "10s",
         "cluster.node_pools[0].kubelet.podWorkerBackOffPeriodSeconds"),
        ("cluster.node_pools[0].kubelet.syncFrequencySeconds", 0, "cluster.node_pools[0].kubelet.syncFrequencySeconds"),
        ("cluster.node_pools[0].kubelet.podWorkerRequeueAtBackOffExpiry", "sometimes",
         "cluster.node_pools[0].kubelet.podWorkerRequeueAtBackOffExpiry"),
    ],
)
def test_runtime_timing_settings_are_checked(path, value, where):
    # The pod-worker, image GC period and download-slot settings: a bad value names its
    # field.
    found = problems(with_(path, value))
    assert any(p == where for p, _ in found), found
