"""StatefulSet ``volumeClaimTemplates``, claim deletion and reclaim, Immediate provisioning.

Upstream: ``pkg/controller/statefulset/stateful_set_utils.go`` (``getPersistentVolumeClaimName``,
``updateStorage``, ``claimOwnerMatchesSetAndPod``), ``stateful_pod_control.go``
(``createPersistentVolumeClaims``), ``pkg/controller/volume/persistentvolume/pv_controller.go``
(``reclaimVolume``, ``provisionClaim``). Every expected time is derived by hand in a comment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from k8sim import Simulation
from k8sim.config.loader import validate_scenario

DRIVER = "ebs.csi.aws.com"


def statefulset(name: str = "db", replicas: int = 3, cls: str = "zonal", policy: str = "Parallel",
                retention: dict | None = None, modes: tuple[str, ...] = ("ReadWriteOnce",),
                size: str = "10Gi") -> dict:
    spec: dict[str, Any] = {
        "replicas": replicas, "serviceName": name, "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": "db:1", "resources": {"requests": {"cpu": "1"}},
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {
            "storageClassName": cls, "accessModes": list(modes), "resources": {"requests": {"storage": size}}}}],
    }
    if retention is not None:
        spec["persistentVolumeClaimRetentionPolicy"] = retention
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec}


def zonal(mode: str = "WaitForFirstConsumer", **extra: Any) -> dict:
    return {"name": "zonal", "provisioner": DRIVER, "volumeBindingMode": mode, **extra}


def const(v: float) -> dict:
    return {"kind": "constant", "value": v}


def build(tmp: Path, *docs: dict, classes: list[dict] = (), zones: list[str] = ("zone-a", "zone-b", "zone-c"),
          count: int = 6, duration: float = 600.0, start: float = 0.0, **top: Any) -> Simulation:
    (tmp / "app.yaml").write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    data = {"duration_s": duration, "seed": 3,
            "cluster": {"node_pools": [{"name": "n", "count": count, "allocatable": {"cpu": "4", "memory": "16Gi"},
                                        "zones": list(zones)}]},
            "defaults": {"start_latency": const(start)},
            "storageClasses": list(classes), "workloads": [{"manifest": "app.yaml"}], **top}
    return Simulation(validate_scenario(data, source="s.yaml", base_dir=tmp))


def pod_rows(r: Any, name: str) -> Any:
    return r.pods[r.pods["pod"] == name]


# ---------------------------------------------------------------- one claim per ordinal


def test_each_ordinal_gets_its_own_claim_named_as_upstream(tmp_path: Path) -> None:
    # getPersistentVolumeClaimName: <template>-<set>-<ordinal>; the pod mounts its own
    # claim (updateStorage), provisioned in the zone of the node it landed on.
    sim = build(tmp_path, statefulset(), classes=[zonal()])
    r = sim.run()
    mounts = r.frames["volume_mounts"].set_index("pod")
    assert {p: mounts.loc[p, "claim"] for p in ("db-0", "db-1", "db-2")} == {
        "db-0": "data-db-0", "db-1": "data-db-1", "db-2": "data-db-2"}
    claims = r.frames["claims"].set_index("claim")
    nodes = dict(zip(r.nodes["node"], r.nodes["zone"], strict=True))
    for o in range(3):
        node = pod_rows(r, f"db-{o}")["node"].iloc[0]
        assert claims.loc[f"data-db-{o}", "zone"] == nodes[node]
    # Three ordinals, three shapes, one per claim; their claims differ.
    shapes = {int(sim.state.pods.shape[p]) for p in range(sim.state.pods.n)}
    assert len(shapes) == 3
    assert sorted(sim.state.shapes[s].claims for s in shapes) == [(0,), (1,), (2,)]


def test_a_set_without_claim_templates_keeps_one_shape(tmp_path: Path) -> None:
    sts = statefulset()
    del sts["spec"]["volumeClaimTemplates"]
    sim = build(tmp_path, sts)
    sim.run()
    assert sim.storage is None  # no storage component: nothing to pay
    assert len({int(sim.state.pods.shape[p]) for p in range(sim.state.pods.n)}) == 1


def test_a_replacement_pod_mounts_its_ordinals_claim_and_goes_to_its_volumes_zone(tmp_path: Path) -> None:
    # db-1 is evicted at t = 50; its replacement mounts data-db-1 again (no new claim, no
    # new volume) and is placed in that volume's zone (VolumeBinding on the bound PV).
    sim = build(tmp_path, statefulset(), classes=[zonal()])
    sim.env.run(until=50)
    pod = sim.state.pods.names.index("db-1")
    sim.api.delete_pod(pod, 0.0, "Evicted")
    r = sim.run()
    rows = pod_rows(r, "db-1")
    assert rows["created"].tolist() == [0.0, 50.0]
    claims = r.frames["claims"]
    assert sorted(claims["claim"]) == ["data-db-0", "data-db-1", "data-db-2"]
    assert len(r.frames["volumes"]) == 3
    zone = claims.set_index("claim").loc["data-db-1", "zone"]
    zones = dict(zip(r.nodes["node"], r.nodes["zone"], strict=True))
    assert [zones[n] for n in rows["node"]] == [zone, zone]


def test_a_pod_moved_after_a_node_failure_starts_after_force_detach_detach_and_attach(tmp_path: Path) -> None:
    # One replica, two nodes, both in zone-a. db-0 lands on one of them at t = 0 (its
    # volume provisioned there, attach 2 s: Running at 2). That node's machine fails at
    # t = 10; the node lifecycle and taint eviction controllers delete db-0 later, at T
    # (its "finished" time). The StatefulSet controller recreates db-0, which mounts
    # data-db-0 again and can only go to the other zone-a node. The old node's kubelet
    # cannot confirm the unmount, so the attach/detach controller force-detaches after
    # maxWaitForUnmountDuration (360 s), then detach takes 3 s; then attach 2 s, start 0:
    # Running = T + 360 + 3 + 2 -- in particular no earlier than T + detach + attach.
    sim = build(tmp_path, statefulset(replicas=1),
                classes=[zonal(attach_latency=const(2.0), detach_latency=const(3.0))],
                zones=["zone-a"], count=2, duration=3000)

    def fail(ctx: Any) -> None:  # the machine under db-0 fails for good
        ctx.components["faults"].outage([int(ctx.state.pods.node[0])], None, "NodeFailure")

    sim.at(10.0, fail)
    r = sim.run()
    rows = pod_rows(r, "db-0")
    assert len(rows) == 2
    old, new = rows.iloc[0], rows.iloc[1]
    assert old["running"] == 2.0
    evicted = old["finished"]
    assert evicted > 10.0
    assert new["node"] != old["node"]
    assert new["running"] == pytest.approx(evicted + 360.0 + 3.0 + 2.0)
    assert new["running"] >= evicted + 3.0 + 2.0
    mounts = r.frames["volume_mounts"]
    assert (mounts["claim"] == "data-db-0").all()


# ---------------------------------------------------------------- retention policy


@pytest.mark.parametrize(("when_scaled", "kept"), [("Retain", True), ("Delete", False)])
def test_scale_down_keeps_or_deletes_the_condemned_ordinals_claims(tmp_path: Path, when_scaled: str,
                                                                   kept: bool) -> None:
    # Scale 3 -> 1 at t = 100 and back to 3 at t = 200 (Parallel, grace 0). Retain: the
    # claims of ordinals 1 and 2 stay and the new pods mount them again (3 claims, 3
    # volumes in all). Delete (claimOwnerMatchesSetAndPod: the condemned pod owns its
    # claims): data-db-1 and data-db-2 are deleted at 100 with their pods, their volumes
    # deleted too (class reclaimPolicy Delete), and the scale-up creates new claims of
    # the same names, provisioned afresh (5 claims, 5 volumes).
    sim = build(tmp_path, statefulset(retention={"whenScaled": when_scaled}), classes=[zonal()])
    sim.env.run(until=100)
    sim.controllers.statefulsets.scale("db", 1)
    sim.env.run(until=200)
    sim.controllers.statefulsets.scale("db", 3)
    r = sim.run()
    claims = r.frames["claims"]
    volumes = r.frames["volumes"]
    if kept:
        assert claims["claim"].tolist() == ["data-db-0", "data-db-1", "data-db-2"]
        assert claims["deleted"].isna().all()
        assert (volumes["phase"] == "Bound").all() and len(volumes) == 3
    else:
        assert claims["claim"].tolist() == ["data-db-0", "data-db-1", "data-db-2", "data-db-1", "data-db-2"]
        assert claims["deleted"].tolist()[:3] == pytest.approx([np.nan, 100.0, 100.0], nan_ok=True)
        assert volumes["phase"].tolist() == ["Bound", "Deleted", "Deleted", "Bound", "Bound"]
    assert sorted(pod_rows(r, "db-2")["created"]) == [0.0, 200.0]


def test_when_deleted_delete_removes_the_claims_once_the_pods_are_gone(tmp_path: Path) -> None:
    # The set is deleted at t = 100 (grace 0): its pods end at 100, and with
    # whenDeleted: Delete its claims go then too. Under the class's Retain reclaim policy
    # the volumes stay, Released.
    sim = build(tmp_path, statefulset(retention={"whenDeleted": "Delete"}),
                classes=[zonal(reclaimPolicy="Retain")])
    sim.env.run(until=100)
    sim.controllers.delete("StatefulSet", "default/db")
    r = sim.run()
    assert r.frames["claims"]["deleted"].tolist() == [100.0, 100.0, 100.0]
    assert r.frames["volumes"]["phase"].tolist() == ["Released"] * 3


def test_a_released_volume_under_retain_is_not_bound_again(tmp_path: Path) -> None:
    # Two pre-created 10Gi volumes in zone-a, Retain (the default of a pre-created PV),
    # a class that cannot provision. One replica: data-db-0 binds the smallest match
    # (pv-1, 10Gi, name order). Scale to 0 at 100 with whenScaled: Delete: the claim is
    # deleted, pv-1 is Released. Scale to 1 at 200: the new data-db-0 binds pv-2, never
    # the released pv-1 (its claimRef still names the deleted claim).
    pvs = [{"name": f"pv-{i}", "capacity": "10Gi", "accessModes": ["ReadWriteOnce"], "storageClassName": "local",
            "zone": "zone-a"} for i in (1, 2)]
    sim = build(tmp_path, statefulset(replicas=1, cls="local", retention={"whenScaled": "Delete"}),
                classes=[{"name": "local", "provisioner": "kubernetes.io/no-provisioner",
                          "volumeBindingMode": "WaitForFirstConsumer"}],
                zones=["zone-a"], count=2, persistentVolumes=pvs)
    sim.env.run(until=100)
    sim.controllers.statefulsets.scale("db", 0)
    sim.env.run(until=200)
    sim.controllers.statefulsets.scale("db", 1)
    r = sim.run()
    assert r.frames["claims"]["volume"].tolist() == ["pv-1", "pv-2"]
    assert r.frames["volumes"].set_index("volume")["phase"].to_dict() == {"pv-1": "Released", "pv-2": "Bound"}
    assert pod_rows(r, "db-0")["running"].notna().all()


# ---------------------------------------------------------------- Immediate provisioning


def test_an_immediate_claim_is_provisioned_after_its_latency_and_its_pod_waits(tmp_path: Path) -> None:
    # Immediate class, provisioning 5 s, attach 2 s, start 1 s, allowedTopologies
    # zone-b only. The claim data-db-0 is created at t = 0 and its volume is ready at 5
    # (provisionClaim), in zone-b. db-0 (created at 0) fails at 0 ("pod has unbound
    # immediate PersistentVolumeClaims"); the binding at 5 sends it back to the queue
    # (its 1 s backoff has expired): scheduled at 5, on a zone-b node, attach 2, start 1:
    # Running at 5 + 2 + 1 = 8.
    topo = [{"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": ["zone-b"]}]}]
    sim = build(tmp_path, statefulset(replicas=1),
                classes=[zonal("Immediate", allowedTopologies=topo, provisioning_latency=const(5.0),
                               attach_latency=const(2.0))], start=1.0)
    r = sim.run()
    pod = pod_rows(r, "db-0").iloc[0]
    assert (pod["created"], pod["scheduled"], pod["running"]) == (0.0, 5.0, 8.0)
    assert r.nodes.set_index("node").loc[pod["node"], "zone"] == "zone-b"
    assert r.frames["claims"]["zone"].tolist() == ["zone-b"]
    failed = r.events[r.events["kind"] == "FailedScheduling"]["detail"]
    assert "pod has unbound immediate PersistentVolumeClaims" in failed.iloc[0]


def test_a_regional_class_provisions_a_volume_reachable_from_two_zones(tmp_path: Path) -> None:
    # replica_zones 2 (a regional disk): the volume spans the node's zone and one more of
    # allowedTopologies (zone-a, zone-b): with the pod in zone-a, the volume is
    # zone-a__zone-b, and its node affinity admits exactly the nodes of both zones.
    topo = [{"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": ["zone-a", "zone-b"]}]}]
    sim = build(tmp_path, statefulset(replicas=1), classes=[zonal(allowedTopologies=topo, replica_zones=2)])
    r = sim.run()
    assert r.frames["claims"]["zone"].tolist() == ["zone-a__zone-b"]
    zones = np.array(r.nodes["zone"])
    mask = sim.state.volumes.volume_mask(0)
    assert mask.tolist() == np.isin(zones, ["zone-a", "zone-b"]).tolist()


# ---------------------------------------------------------------- the zone-outage scenario

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "statefulset-zone-outage.yaml"


def _outage_run(**cls: Any) -> Any:
    from k8sim import load_scenario

    overrides = [f"storageClasses[0].{k}={v}" for k, v in cls.items()]
    return Simulation(load_scenario(SCENARIO, overrides=overrides)).run()


def test_zone_outage_regional_volumes_recover_before_zonal_ones() -> None:
    # scenarios/statefulset-zone-outage.yaml: zone-b is down from 600 to 2400 s; the
    # StatefulSet pod there is evicted at lost_at and recreated at once with its claim.
    # Zonal volume (WaitForFirstConsumer, in zone-b): no node outside zone-b reaches it,
    # so the replacement is scheduled no earlier than 2400, when zone-b returns.
    # Regional volume (replica_zones 2: zone-b and another zone): the replacement is
    # scheduled at lost_at in the other zone, then waits for the force-detach from the
    # dead node (maxWaitForUnmountDuration 360 s) plus the detach (uniform 5..30 s), then
    # attaches (uniform 5..20 s): running in [lost_at + 370, lost_at + 410 + start], well
    # before 2400. So regional recovery < zonal recovery.
    zonal = _outage_run()
    regional = _outage_run(replica_zones=2)
    rz, rr = zonal.frames["recreations"], regional.frames["recreations"]
    assert len(rz) == 1 and len(rr) == 1  # one ordinal had its pod in zone-b
    lost = rz["lost_pod"].iloc[0]
    claim = f"data-{lost}"
    assert zonal.frames["claims"].set_index("claim").loc[claim, "zone"] == "zone-b"
    new_z = zonal.pods[zonal.pods["pod"] == lost].iloc[-1]
    assert new_z["scheduled"] >= 2400.0
    assert "zone-b" in regional.frames["claims"].set_index("claim").loc[claim, "zone"].split("__")
    new_r = regional.pods[regional.pods["pod"] == lost].iloc[-1]
    lost_at = rr["lost_at"].iloc[0]
    assert new_r["scheduled"] == lost_at
    waits = regional.frames["volume_mounts"][regional.frames["volume_mounts"]["pod"] == lost].iloc[-1]
    assert 360.0 + 5.0 <= waits["multi_attach_wait_s"] <= 360.0 + 30.0
    assert 5.0 <= waits["attach_s"] <= 20.0
    assert lost_at + 370.0 <= new_r["running"] < 2400.0
    assert rr["recovery_s"].iloc[0] < rz["recovery_s"].iloc[0]


def test_zone_outage_immediate_volumes_are_placed_before_the_pods_and_pods_follow_them() -> None:
    # Immediate: each claim's volume is provisioned when the claim is created, in a
    # seeded random zone, before its pod is scheduled (its pod waits: scheduled no
    # earlier than the provisioning, which has a positive latency); every pod then runs
    # in its volume's zone, so the outage takes exactly the ordinals whose volume drew
    # zone-b.
    r = _outage_run(volumeBindingMode="Immediate")
    claims = r.frames["claims"].set_index("claim")
    zones = dict(zip(r.nodes["node"], r.nodes["zone"], strict=True))
    first = r.pods.groupby("pod").first()
    for pod, row in first.iterrows():
        assert zones[row["node"]] == claims.loc[f"data-{pod}", "zone"]
        assert row["scheduled"] > 0.0
    in_b = sorted(p for p in first.index if claims.loc[f"data-{p}", "zone"] == "zone-b")
    assert sorted(r.frames["recreations"]["lost_pod"]) == in_b
