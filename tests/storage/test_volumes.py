"""Volumes: the four upstream volume filters, claim binding, provisioning, attach and
detach, bad input.

Plugin cases mirror upstream's unit tests (named in each test):
``pkg/scheduler/framework/plugins/volumezone/volume_zone_test.go``,
``volumerestrictions/volume_restrictions_test.go``, ``volumebinding/volume_binding_test.go``
and ``nodevolumelimits/csi_test.go``. Times are derived by hand in the comments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from k8sim import Simulation, validate_scenario
from k8sim.cli import app
from k8sim.config.loader import ScenarioError
from k8sim.scheduling.plugins.node_volume_limits import MAX_VOLUMES, NodeVolumeLimits
from k8sim.scheduling.plugins.volume_binding import (
    BIND_CONFLICT,
    NODE_CONFLICT,
    UNBOUND_IMMEDIATE,
    VolumeBinding,
)
from k8sim.scheduling.plugins.volume_restrictions import VolumeRestrictions
from k8sim.scheduling.plugins.volume_zone import VolumeZone

DRIVER = "ebs.csi.aws.com"


def node(name: str, zone: str | None = None, **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "allocatable": {"cpu": "8", "memory": "32Gi"}, **extra}
    if zone is not None:
        d["zone"] = zone
    return d


def sc(name: str = "ssd", mode: str = "WaitForFirstConsumer", **extra: Any) -> dict[str, Any]:
    return {"name": name, "provisioner": DRIVER, "volumeBindingMode": mode, **extra}


def pv(name: str, size: str = "10Gi", cls: str = "ssd", modes: tuple[str, ...] = ("ReadWriteOnce",),
       **extra: Any) -> dict[str, Any]:
    return {"name": name, "capacity": size, "accessModes": list(modes), "storageClassName": cls, **extra}


def pvc(name: str, size: str = "5Gi", cls: str | None = "ssd", modes: tuple[str, ...] = ("ReadWriteOnce",),
        **extra: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"name": name, "accessModes": list(modes), "resources": {"requests": {"storage": size}},
                         **extra}
    if cls is not None:
        d["storageClassName"] = cls
    return d


def workload(name: str, claims: list[str], times: tuple[float, ...] = (0.0,), duration: float = 100.0,
             **template: Any) -> dict[str, Any]:
    return {"name": name, "arrival": {"kind": "times", "times_s": list(times)},
            "duration": {"kind": "constant", "value": duration},
            "template": {"requests": {"cpu": "1"}, **template,
                         "volumes": [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}}
                                     for i, c in enumerate(claims)]}}


def scenario(nodes: list[dict], workloads: list[dict], classes: list[dict] = (), pvs: list[dict] = (),
             pvcs: list[dict] = (), **top: Any) -> dict[str, Any]:
    return {"seed": 1, "cluster": {"nodes": nodes}, "workloads": workloads, "storageClasses": list(classes),
            "persistentVolumes": list(pvs), "persistentVolumeClaims": list(pvcs), **top}


def build(d: dict) -> Simulation:
    return Simulation(validate_scenario(d))


def shape_of(sim: Simulation, workload: int) -> Any:
    return next(s for s in sim.state.shapes if s.workload == workload)


def by_node(sim: Simulation, mask: np.ndarray) -> dict[str, bool]:
    return {name: bool(mask[i]) for i, name in enumerate(sim.state.nodes.names)}


# ---------------------------------------------------------------- VolumeZone


def test_volume_zone_single_zone_cases() -> None:
    # TestSingleZone: "node without labels" passes, "zone label matched" passes, "zone
    # label doesn't match" fails (ErrReasonConflict); "pod without volume" is skipped.
    d = scenario([node("host-a", "us-west1-a"), node("host-b", "us-west1-b"), node("host-none")],
                 [workload("w", ["pvc-1"]), {"name": "plain", "arrival": {"kind": "times", "times_s": [0.0]},
                                             "template": {"requests": {"cpu": "1"}}}],
                 [sc()], [pv("vol-1", zone="us-west1-a")], [pvc("pvc-1", volumeName="vol-1")])
    sim = build(d)
    plugin = VolumeZone()
    assert plugin.pre_filter(sim.state, shape_of(sim, 1)) is False
    info = shape_of(sim, 0)
    assert plugin.pre_filter(sim.state, info) is True
    assert by_node(sim, plugin.filter(sim.state, info)) == {"host-a": True, "host-b": False, "host-none": True}


# ---------------------------------------------------------------- VolumeRestrictions


def test_volume_restrictions_access_mode_conflicts() -> None:
    # TestAccessModeConflicts: "nothing" (no claims: skipped), "no access mode conflict"
    # (a ReadWriteOncePod claim nobody else uses: every node passes), "access mode
    # conflict, unschedulable" and "two conflicts, unschedulable" (another pod uses the
    # claim: every node fails).
    rwop = ("ReadWriteOncePod",)
    d = scenario([node("node-1"), node("node-2")],
                 [workload("one", ["rwop-1"]), workload("two", ["rwop-1", "rwop-2"], times=(5.0,)),
                  workload("rwx", ["rwx"])],
                 [sc(mode="Immediate")], [], [pvc("rwop-1", modes=rwop), pvc("rwop-2", modes=rwop),
                                              pvc("rwx", modes=("ReadWriteMany",))])
    sim = build(d)
    plugin = VolumeRestrictions()
    assert plugin.pre_filter(sim.state, shape_of(sim, 2)) is False  # RWX only
    assert plugin.filter(sim.state, shape_of(sim, 1)).all()  # nobody uses them yet
    result = sim.run()
    # "one" holds rwop-1 from t = 0 to 100: "two" (rwop-1 and rwop-2) waits, Pending,
    # with upstream's reason, and is bound when "one" has ended.
    pods = result.pods.set_index("workload")
    assert pods.loc["one", "scheduled"] == 0.0
    assert pods.loc["two", "scheduled"] == pytest.approx(100.0)
    failed = result.events[(result.events["kind"] == "FailedScheduling")]["detail"].iloc[0]
    assert "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode" in failed


# ---------------------------------------------------------------- VolumeBinding


def test_volume_binding_cases() -> None:
    # TestVolumeBinding: "pod has not pvcs" (skipped), "all bound" (bound PVs whose node
    # affinity matches pass), "immediate claims not bound" (every node fails, "pod has
    # unbound immediate PersistentVolumeClaims"), "unbound claims no matches" ("node(s)
    # didn't find available persistent volumes to bind"), "bound and unbound unsatisfied"
    # (both reasons).
    local = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": ["node-a"]}]}]}}
    d = scenario([node("node-a"), node("node-b")],
                 [workload("bound", ["bound"]), workload("immediate", ["never"]),
                  workload("nomatch", ["local-wait"]), workload("both", ["bound", "local-wait"])],
                 [sc("local", mode="WaitForFirstConsumer", provisioner="kubernetes.io/no-provisioner"),
                  sc("slow", mode="Immediate", provisioner="kubernetes.io/no-provisioner")],
                 [pv("pv-a", cls="local", nodeAffinity=local),
                  pv("pv-small", size="1Gi", cls="local")],
                 [pvc("bound", cls="local", volumeName="pv-a"), pvc("never", cls="slow"),
                  pvc("local-wait", size="5Gi", cls="local")])
    sim = build(d)
    plugin = VolumeBinding()
    st = sim.state
    assert by_node(sim, plugin.filter(st, shape_of(sim, 0))) == {"node-a": True, "node-b": False}
    assert plugin.reasons(st, shape_of(sim, 0), np.array([1])) == {NODE_CONFLICT: 1}
    assert not plugin.filter(st, shape_of(sim, 1)).any()
    assert plugin.reasons(st, shape_of(sim, 1), np.array([0, 1])) == {UNBOUND_IMMEDIATE: 2}
    # pv-small (1Gi) is too small for the 5Gi claim, and the class cannot provision.
    assert not plugin.filter(st, shape_of(sim, 2)).any()
    assert plugin.reasons(st, shape_of(sim, 2), np.array([0, 1])) == {BIND_CONFLICT: 2}
    assert plugin.reasons(st, shape_of(sim, 3), np.array([0, 1])) == {NODE_CONFLICT: 1, BIND_CONFLICT: 2}
    # The never-binding Immediate claim is reported once, with its reason.
    claims = sim.run().frames["claims"].set_index("claim")
    assert "no PersistentVolume matches claim default/never" in claims.loc["never", "pending_reason"]
    assert claims.loc["bound", "pending_reason"] == ""
    assert sum("default/never" in w for w in sim.warnings) == 1


def test_volume_filters_skip_a_pod_without_claims_as_they_declare() -> None:
    # skips_without = ("claims",): upstream's PreFilters return Skip for a pod without
    # claims (volumebinding.go, volumezone.go, nodevolumelimits/csi.go,
    # volumerestrictions.go PreFilter), in a run with volumes too; the compiled Filter
    # phase then leaves them out for such pods.
    d = scenario([node("node-a")], [workload("with", ["c"]), {**workload("without", []), "name": "without"}],
                 [sc("ssd")], [], [pvc("c", modes=("ReadWriteOncePod",))])
    sim = build(d)
    st = sim.state
    with_claims, without = shape_of(sim, 0), shape_of(sim, 1)
    assert not without.claims and with_claims.claims
    for plugin in (VolumeBinding(), VolumeZone(), NodeVolumeLimits(), VolumeRestrictions()):
        assert plugin.skips_without == ("claims",)
        assert plugin.pre_filter(st, without) is False
        assert plugin.pre_filter(st, with_claims) is True


def test_wait_for_first_consumer_binds_a_reachable_volume_or_provisions_in_the_nodes_zone() -> None:
    # The only node is in zone-b; pv-a is in zone-a, so it cannot serve; the class
    # provisions in the node's zone instead. allowedTopologies admits only zone-b.
    d = scenario([node("n-b", "zone-b")], [workload("w", ["data"])],
                 [sc(allowedTopologies=[{"matchLabelExpressions": [
                     {"key": "topology.kubernetes.io/zone", "values": ["zone-b"]}]}])],
                 [pv("pv-a", zone="zone-a")], [pvc("data")])
    r = build(d).run()
    claims = r.frames["claims"].set_index("claim")
    assert claims.loc["data", "volume"] == "pvc-default-data"
    assert claims.loc["data", "zone"] == "zone-b"
    # A node outside allowedTopologies cannot get a provisioned volume.
    d2 = scenario([node("n-c", "zone-c")], [workload("w", ["data"])],
                  [sc(allowedTopologies=[{"matchLabelExpressions": [
                      {"key": "topology.kubernetes.io/zone", "values": ["zone-b"]}]}])], [], [pvc("data")],
                  duration_s=50)
    r2 = build(d2).run()
    assert bool(r2.pods.iloc[0]["unschedulable"])
    assert BIND_CONFLICT in r2.events[r2.events["kind"] == "FailedScheduling"]["detail"].iloc[0]


# ---------------------------------------------------------------- NodeVolumeLimits


def test_node_volume_limits() -> None:
    # TestCSILimits (csi_test.go): the node's attached volumes of a driver plus the pod's
    # new ones must not exceed the driver's limit. node-1 attaches at most 1 volume of
    # the driver: with vol-1 attached by "first", "second" (another claim) must go to
    # node-2; "third" (the same claim as "first", RWX) may join node-1: its volume is
    # already attached there and counts once.
    d = scenario([node("node-1", csi_attach_limits={DRIVER: 1}), node("node-2", csi_attach_limits={DRIVER: 0})],
                 [workload("first", ["c1"], nodeName="node-1"), workload("second", ["c2"], times=(1.0,)),
                  workload("third", ["c1"], times=(2.0,))],
                 [sc(mode="Immediate")],
                 [pv("vol-1", modes=("ReadWriteMany",)), pv("vol-2")],
                 [pvc("c1", modes=("ReadWriteMany",), volumeName="vol-1"), pvc("c2", volumeName="vol-2")],
                 duration_s=50)
    sim = build(d)
    result = sim.run()
    pods = result.pods.set_index("workload")
    assert pods.loc["first", "node"] == "node-1"
    assert bool(pods.loc["second", "unschedulable"])  # node-1 full (1/1), node-2 limit 0
    assert MAX_VOLUMES in result.events[result.events["kind"] == "FailedScheduling"]["detail"].iloc[0]
    assert pods.loc["third", "node"] == "node-1"
    plugin = NodeVolumeLimits()
    assert by_node(sim, plugin.filter(sim.state, shape_of(sim, 1))) == {"node-1": False, "node-2": False}
    assert by_node(sim, plugin.filter(sim.state, shape_of(sim, 2))) == {"node-1": True, "node-2": False}


# ---------------------------------------------------------------- lifecycle


def test_start_of_a_pod_whose_claim_is_provisioned_under_wait_for_first_consumer() -> None:
    # Bound at t = 0; provisioning 5 s, attach 2 s, then the pod's start latency 1 s:
    # running at 0 + 5 + 2 + 1 = 8 s.
    d = scenario([node("n", "zone-a")],
                 [workload("db", ["data"], start_latency={"kind": "constant", "value": 1.0})],
                 [sc(provisioning_latency={"kind": "constant", "value": 5.0},
                     attach_latency={"kind": "constant", "value": 2.0})], [], [pvc("data")])
    r = build(d).run()
    pod = r.pods.iloc[0]
    assert pod["scheduled"] == 0.0
    assert pod["running"] == pytest.approx(8.0)
    mount = r.frames["volume_mounts"].iloc[0]
    assert (mount["provisioning_wait_s"], mount["multi_attach_wait_s"], mount["attach_s"]) == (5.0, 0.0, 2.0)
    assert pod["volume_wait_s"] == pytest.approx(7.0)  # the pod table's startup breakdown: 5 + 2


def test_a_read_write_once_volume_waits_for_detach_from_the_other_node() -> None:
    # "a" runs on node-1 from t = 2 (attach 2 s) to 12 (duration 10 s); its volume is
    # detached from node-1 3 s later, at 15. "b" (same RWO claim, pinned to node-2) is
    # bound at t = 1 but cannot attach before the detach: Multi-Attach wait 1 -> 15,
    # then attach 2 s: running at 17.
    d = scenario([node("node-1"), node("node-2")],
                 [workload("a", ["data"], duration=10.0, nodeName="node-1"),
                  workload("b", ["data"], times=(1.0,), nodeName="node-2")],
                 [sc(mode="Immediate", attach_latency={"kind": "constant", "value": 2.0},
                     detach_latency={"kind": "constant", "value": 3.0})],
                 [pv("vol")], [pvc("data", volumeName="vol")])
    r = build(d).run()
    pods = r.pods.set_index("workload")
    assert (pods.loc["a", "running"], pods.loc["a", "finished"]) == (2.0, 12.0)
    assert pods.loc["b", "scheduled"] == 1.0
    assert pods.loc["b", "running"] == pytest.approx(17.0)
    mounts = r.frames["volume_mounts"].set_index("pod")
    assert mounts.loc["b-0", "multi_attach_wait_s"] == pytest.approx(14.0)
    assert r.summary().iloc[0]["multi_attach_wait_max_s"] == pytest.approx(14.0)


def test_same_seed_same_tables() -> None:
    d = scenario([node("n1", "zone-a"), node("n2", "zone-b")],
                 [workload("w", ["data"], times=(0.0, 1.0, 2.0), duration=5.0)],
                 [sc(provisioning_latency={"kind": "uniform", "low": 1, "high": 9},
                     attach_latency={"kind": "exponential", "mean": 3})], [], [pvc("data")])
    a, b = build(d).run(), build(d).run()
    assert a.pods.equals(b.pods)
    assert a.frames["volume_mounts"].equals(b.frames["volume_mounts"])


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(("change", "expected"), [
    ({"pvcs": [pvc("data", cls="nope")]},
     "persistentVolumeClaims[0].storageClassName: StorageClass 'nope' not found"),
    ({"pvs": [pv("small", size="1Gi")], "pvcs": [pvc("data", size="5Gi", volumeName="small")]},
     "persistentVolumeClaims[0].volumeName: PersistentVolume 'small' (1073741824 bytes) is smaller than the "
     "claim's resources.requests.storage (5368709120 bytes)"),
    ({"classes": [sc(access_modes=["ReadWriteOnce"])], "pvcs": [pvc("data", modes=("ReadWriteMany",))]},
     "persistentVolumeClaims[0].accessModes[0]: StorageClass 'ssd' cannot provide ReadWriteMany"),
    ({"pvcs": [pvc("other")]},
     "workloads[0].template.volumes[0].persistentVolumeClaim.claimName: PersistentVolumeClaim default/data not found"),
    ({"pvcs": [pvc("data", size="-5Gi")]}, "persistentVolumeClaims[0].resources.requests.storage"),
    ({"pvs": [pv("v", cls="nope")], "pvcs": [pvc("data")]},
     "persistentVolumes[0].storageClassName: StorageClass 'nope' not found"),
])
def test_bad_storage_input_names_the_field(change: dict, expected: str) -> None:
    args = {"classes": [sc()], "pvs": [], "pvcs": [pvc("data")], **change}
    d = scenario([node("n")], [workload("w", ["data"])], args["classes"], args["pvs"], args["pvcs"])
    with pytest.raises(ScenarioError) as info:
        validate_scenario(d, source="s.yaml")
    assert expected in str(info.value)


def test_cli_exits_2_on_a_claim_naming_a_missing_class(tmp_path: Path) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(scenario([node("n")], [workload("w", ["data"])], [sc()], [],
                                         [pvc("data", cls="nope")])))
    result = CliRunner().invoke(app, ["validate", str(f)])
    assert result.exit_code == 2
    assert "persistentVolumeClaims[0].storageClassName: StorageClass 'nope' not found" in result.output


def test_a_pod_needing_the_volume_of_a_failed_node_starts_after_force_detach_and_attach() -> None:
    # "a" holds a ReadWriteOnce volume on node-1 (attached at t = 2). node-1's machine
    # fails at t = 10; the node lifecycle and taint eviction controllers delete "a" later
    # (its "finished" time, T). Its kubelet is gone, so nothing confirms the unmount: the
    # attach/detach controller force-detaches after maxWaitForUnmountDuration (360 s),
    # then the detach takes 3 s. "b" (same claim, pinned to node-2, bound at t = 20)
    # waits for that (Multi-Attach), then attaches in 2 s: running = T + 360 + 3 + 2.
    d = scenario([node("node-1"), node("node-2")],
                 [workload("a", ["data"], duration=10_000.0, nodeName="node-1"),
                  workload("b", ["data"], times=(20.0,), duration=10.0, nodeName="node-2")],
                 [sc(mode="Immediate", attach_latency={"kind": "constant", "value": 2.0},
                     detach_latency={"kind": "constant", "value": 3.0})],
                 [pv("vol")], [pvc("data", volumeName="vol")],
                 actions=[{"at_s": 10, "action": "fail_node", "nodes": {"names": ["node-1"]}}], duration_s=3000)
    r = build(d).run()
    pods = r.pods.set_index("workload")
    evicted = pods.loc["a", "finished"]
    assert evicted > 10.0  # deleted by taint eviction after the failure
    assert pods.loc["b", "scheduled"] == 20.0
    assert pods.loc["b", "running"] == pytest.approx(evicted + 360.0 + 3.0 + 2.0)
    mounts = r.frames["volume_mounts"].set_index("pod")
    assert mounts.loc["b-0", "multi_attach_wait_s"] == pytest.approx(evicted + 363.0 - 20.0)
