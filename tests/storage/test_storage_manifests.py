"""StorageClass, PersistentVolume and PersistentVolumeClaim manifests, pod-template claim
volumes, StatefulSet claim templates: what is read, what is warned, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from k8sim import Simulation
from k8sim.cli import app
from k8sim.config.loader import ScenarioError, validate_scenario
from k8sim.workloads.manifests import load_manifests

SC = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
      "metadata": {"name": "gp3", "annotations": {"k8sim.io/attach-latency": "2",
                                                  "k8sim.io/access-modes": "ReadWriteOnce"}},
      "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Retain",
      "parameters": {"type": "gp3"}, "allowVolumeExpansion": True}
PV = {"apiVersion": "v1", "kind": "PersistentVolume",
      "metadata": {"name": "pv-a", "labels": {"topology.kubernetes.io/zone": "zone-a"}},
      "spec": {"capacity": {"storage": "20Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "gp3",
               "volumeMode": "Filesystem", "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}}
PVC = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
       "spec": {"storageClassName": "gp3", "accessModes": ["ReadWriteOnce"], "volumeMode": "Filesystem",
                "resources": {"requests": {"storage": "10Gi"}}}}
DEPLOY = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                   "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                       "containers": [{"name": "c", "image": "web:1", "resources": {"requests": {"cpu": "1"}},
                                       "volumeMounts": [{"name": "d", "mountPath": "/d"}]}],
                       "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                                   {"name": "tmp", "emptyDir": {}}]}}}}


def write(tmp: Path, *docs: dict) -> Path:
    p = tmp / "app.yaml"
    p.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return p


def scenario(tmp: Path, **top: Any) -> dict:
    return {"duration_s": 300, "seed": 1,
            "cluster": {"node_pools": [{"name": "n", "count": 3, "allocatable": {"cpu": "4", "memory": "16Gi"},
                                        "zones": ["zone-a", "zone-b", "zone-c"]}]},
            "defaults": {"start_latency": {"kind": "constant", "value": 0.0}},
            "workloads": [{"manifest": "app.yaml"}], **top}


def run(tmp: Path, *docs: dict) -> Any:
    write(tmp, *docs)
    return Simulation(validate_scenario(scenario(tmp), source="s.yaml", base_dir=tmp))


def test_storage_objects_from_a_manifest_are_read_and_used(tmp_path: Path) -> None:
    # The claim (10Gi, gp3, WaitForFirstConsumer, a class that cannot provision) binds
    # the pre-created 20Gi volume in zone-a (the only match), so the Deployment's pod goes
    # to the zone-a node, and attaches it in the class's 2 s (k8sim.io/attach-latency):
    # Running at 0 + 2 = 2.
    sim = run(tmp_path, dict(SC, provisioner="kubernetes.io/no-provisioner"), PV, PVC, DEPLOY)
    r = sim.run()
    assert r.frames["claims"][["claim", "volume", "zone"]].values.tolist() == [["data", "pv-a", "zone-a"]]
    pod = r.pods.iloc[0]
    assert r.nodes.set_index("node").loc[pod["node"], "zone"] == "zone-a"
    assert pod["running"] == 2.0
    vs = sim.state.volumes
    assert vs.classes["gp3"].reclaim_policy == "Retain"
    assert vs.classes["gp3"].access_modes == ["ReadWriteOnce"]
    assert vs.volumes[0].driver == "ebs.csi.aws.com"
    assert vs.volumes[0].reclaim == "Retain"  # a pre-created volume's default


def test_unmodelled_storage_fields_are_warned_once_by_name(tmp_path: Path) -> None:
    m = load_manifests(write(tmp_path, SC, PV, PVC, dict(PVC, metadata={"name": "other"}), DEPLOY))
    text = "\n".join(m.warnings)
    for field in ("StorageClass field parameters.type", "StorageClass field allowVolumeExpansion",
                  "PersistentVolume field spec.volumeMode", "PersistentVolumeClaim field spec.volumeMode",
                  "Deployment field spec.template.spec.volumes[*].emptyDir"):
        assert text.count(field) == 1, field
    assert "volumeHandle" not in text and "volumeMounts" not in text


def test_regional_pd_parameter_means_two_zones(tmp_path: Path) -> None:
    sc = dict(SC, parameters={"replication-type": "regional-pd"})
    m = load_manifests(write(tmp_path, sc))
    assert m.storage[0][1].replica_zones == 2


@pytest.mark.parametrize(("docs", "expected"), [
    # A claim naming a missing StorageClass.
    ([dict(PVC, spec=dict(PVC["spec"], storageClassName="nope"))],
     "app.yaml: document[0].spec.storageClassName: StorageClass 'nope' not found"),
    # A PV smaller than the claim pre-bound to it.
    ([SC, dict(PV, spec=dict(PV["spec"], capacity={"storage": "1Gi"})),
      dict(PVC, spec=dict(PVC["spec"], volumeName="pv-a"))],
     "app.yaml: document[2].spec.volumeName: PersistentVolume 'pv-a' (1073741824 bytes) is smaller than the "
     "claim's resources.requests.storage (10737418240 bytes)"),
    # An access mode the class cannot provide (k8sim.io/access-modes: ReadWriteOnce).
    ([SC, dict(PVC, spec=dict(PVC["spec"], accessModes=["ReadWriteMany"]))],
     "app.yaml: document[1].spec.accessModes[0]: StorageClass 'gp3' cannot provide ReadWriteMany"),
    # A pod volume naming a claim that exists nowhere.
    ([SC, DEPLOY], "app.yaml: document[1].spec.template.spec.volumes[0].persistentVolumeClaim.claimName: "
                   "PersistentVolumeClaim default/data not found"),
])
def test_bad_storage_manifests_name_file_document_and_field(tmp_path: Path, docs: list, expected: str) -> None:
    write(tmp_path, *docs)
    with pytest.raises(ScenarioError) as info:
        Simulation(validate_scenario(scenario(tmp_path), source="s.yaml", base_dir=tmp_path))
    assert expected in str(info.value)


@pytest.mark.parametrize(("doc", "expected"), [
    (dict(PVC, spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "-1Gi"}}}),
     "document[0].spec.resources.requests.storage"),
    (dict(PVC, spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {}}}),
     "document[0].spec.resources.requests.storage: required"),
    (dict(PVC, spec={"accessModes": ["ReadWriteTwice"], "resources": {"requests": {"storage": "1Gi"}}}),
     "document[0].spec.accessModes[0]"),
    (dict(SC, volumeBindingMode="Later"), "document[0].volumeBindingMode"),
    (dict(SC, metadata={"name": "x", "annotations": {"k8sim.io/attach-latency": "{kind: nope}"}}),
     "document[0].metadata.annotations.k8sim.io/attach-latency"),
    (dict(PV, spec=dict(PV["spec"], capacity={})), "document[0].spec.capacity.storage: required"),
    (dict(PV, spec=dict(PV["spec"], persistentVolumeReclaimPolicy="Recycle")),
     "document[0].spec.persistentVolumeReclaimPolicy"),
])
def test_bad_storage_fields_are_located(tmp_path: Path, doc: dict, expected: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_manifests(write(tmp_path, doc))
    assert expected in str(info.value)


def test_bad_claim_templates_and_retention_policy(tmp_path: Path) -> None:
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                    "persistentVolumeClaimRetentionPolicy": {"whenScaled": "Keep"},
                    "template": {"metadata": {"labels": {"app": "db"}},
                                 "spec": {"containers": [{"name": "c", "image": "db"}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
                        "storageClassName": "missing", "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}}}}]}}
    with pytest.raises(ScenarioError) as info:
        load_manifests(write(tmp_path, sts))
    assert "document[0].spec.persistentVolumeClaimRetentionPolicy.whenScaled: expected Retain or Delete" in str(
        info.value)
    del sts["spec"]["persistentVolumeClaimRetentionPolicy"]
    write(tmp_path, sts)
    with pytest.raises(ScenarioError) as info:
        Simulation(validate_scenario(scenario(tmp_path), source="s.yaml", base_dir=tmp_path))
    assert ("app.yaml: document[0].spec.volumeClaimTemplates[0].spec.storageClassName: StorageClass 'missing' "
            "not found") in str(info.value)


def test_cli_exits_2_on_a_claim_naming_a_missing_class(tmp_path: Path) -> None:
    write(tmp_path, dict(PVC, spec=dict(PVC["spec"], storageClassName="nope")))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(scenario(tmp_path)))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "document[0].spec.storageClassName: StorageClass 'nope' not found" in result.output
    assert "Traceback" not in result.output
