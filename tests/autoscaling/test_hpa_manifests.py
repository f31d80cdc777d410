"""HorizontalPodAutoscaler objects in manifest files (``autoscaling/v2``): the same HPA
given as an object beside its Deployment runs exactly as the scenario's
``autoscaling.horizontal_pod_autoscalers`` entry, and its errors name the file, the
document and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from k8sim.config.loader import ScenarioError, validate_scenario
from k8sim.sim.simulation import Simulation

DEPLOYMENT = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 4, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "resources": {
                              "requests": {"cpu": "500m", "memory": "512Mi"}}}]}}},
}
HPA_SPEC = {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1, "maxReplicas": 20,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}}]}
HPA = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
       "spec": HPA_SPEC, "status": {"currentReplicas": 4}}
SERVICE = {"target": {"kind": "Deployment", "name": "web"}, "capacity_rps": 100,
           "rate": {"kind": "step", "before_rps": 240, "after_rps": 360, "at_s": 300}}


def _scenario(tmp_path: Path, docs: list[dict], autoscaling: dict) -> dict:
    (tmp_path / "app.yaml").write_text(yaml.safe_dump_all(docs))
    return {"name": "t", "seed": 3, "duration_s": 600,
            "cluster": {"node_pools": [{"name": "general", "count": 4,
                                        "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
            "workloads": [{"name": "web", "manifest": "app.yaml"}], "autoscaling": autoscaling}


def test_an_hpa_object_runs_as_the_scenario_entry_does(tmp_path: Path) -> None:
    # The load step of test_pod_autoscaling (240 -> 360 rps at 300 s on 4 pods of 500m,
    # target 60 %) scales 4 -> ceil(4 * 1.5) = 6 at the sync at 315 s, whichever way the
    # HPA is given; every frame of the two runs must be the same.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    in_scenario = _scenario(tmp_path / "a", [DEPLOYMENT], {
        "services": [SERVICE], "horizontal_pod_autoscalers": [{"metadata": {"name": "web"}, "spec": HPA_SPEC}]})
    in_manifest = _scenario(tmp_path / "b", [DEPLOYMENT, HPA], {"services": [SERVICE]})
    a = Simulation(validate_scenario(in_scenario, "t.yaml", base_dir=tmp_path / "a")).run()
    b = Simulation(validate_scenario(in_manifest, "t.yaml", base_dir=tmp_path / "b")).run()
    h = b.frames["hpa"]
    first = h[h["current_replicas"] != h["desired_replicas"]].iloc[0]
    assert (first["time"], first["current_replicas"], first["desired_replicas"]) == (315.0, 4, 6)
    for name in ("hpa", "service_load"):
        pd.testing.assert_frame_equal(a.frames[name], b.frames[name])
    pd.testing.assert_frame_equal(a.pods, b.pods)


def test_a_metric_no_model_provides_names_the_object_field(tmp_path: Path) -> None:
    # A Pods metric needs a load model serving the target: without `services` it is refused.
    spec = {**HPA_SPEC, "metrics": [{"type": "Pods", "pods": {
        "metric": {"name": "requests_per_second"}, "target": {"type": "AverageValue", "averageValue": "50"}}}]}
    sc = _scenario(tmp_path, [DEPLOYMENT, {**HPA, "spec": spec}], {})
    with pytest.raises(ScenarioError) as err:
        Simulation(validate_scenario(sc, "t.yaml", base_dir=tmp_path))
    text = str(err.value)
    assert "workloads[0].manifest" in text and "app.yaml: document[1].spec.metrics[0].pods.metric.name" in text


def test_schema_errors_and_duplicates_name_file_document_and_field(tmp_path: Path) -> None:
    bad = {**HPA, "spec": {**HPA_SPEC, "minReplicas": 5, "maxReplicas": 2}}
    sc = _scenario(tmp_path, [DEPLOYMENT, bad], {})
    with pytest.raises(ScenarioError, match=r"document\[1\]\.spec"):
        Simulation(validate_scenario(sc, "t.yaml", base_dir=tmp_path))
    twice = _scenario(tmp_path, [DEPLOYMENT, HPA], {
        "services": [SERVICE], "horizontal_pod_autoscalers": [{"metadata": {"name": "web"}, "spec": HPA_SPEC}]})
    with pytest.raises(ScenarioError, match=r"document\[1\]\.metadata\.name: HorizontalPodAutoscaler default/web is "
                                            r"defined twice \(also autoscaling\.horizontal_pod_autoscalers\[0\]\)"):
        Simulation(validate_scenario(twice, "t.yaml", base_dir=tmp_path))


def test_cli_exits_2_for_a_bad_hpa_object(tmp_path: Path) -> None:
    bad = {**HPA, "spec": {**HPA_SPEC, "maxReplicas": 0}}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(_scenario(tmp_path, [DEPLOYMENT, bad], {})))
    out = subprocess.run([sys.executable, "-m", "k8sim.cli", "run", str(tmp_path / "t.yaml"), "--out",
                          str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr
    assert "document[1].spec.maxReplicas" in out.stderr and "Traceback" not in out.stderr
