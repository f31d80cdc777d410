"""Node failure -> NotReady -> taints -> evictions, with every time derived by hand.

Upstream model (k8sim/controllers/nodelifecycle.py docstring; node_lifecycle_controller.go
``monitorNodeHealth`` / ``tryUpdateNodeHealth`` / ``processTaintBaseEviction``, v1.32+
defaults): lease renewals every R = 10 s from the node's start (t = 0), monitor passes
every P = 5 s from 0, grace 50 s, the node queued for the NoExecute taint one pass after
it is marked NotReady, eviction tolerationSeconds (300 s, DefaultTolerationSeconds) after
the taint. Nodes are in one zone ("z") unless said otherwise; a cluster needs a Ready
node somewhere, or the controller enters "master disruption" mode and taints nothing.
"""

from __future__ import annotations

import math

import pytest

from k8sim import Simulation, validate_scenario
from k8sim.config.faults import DrainAction

ZONE = "z"


def scenario(*, nodes: int = 3, zones: list[str] | None = None, pods: list[dict] | None = None,
             workloads: list[dict] | None = None, failures: list[dict] | None = None,
             actions: list[dict] | None = None, duration: float = 1000.0, lifecycle: dict | None = None,
             seed: int = 0):
    data: dict = {
        "name": "t", "seed": seed, "duration_s": duration,
        "cluster": {"node_pools": [{"name": "a", "count": nodes, "allocatable": {"cpu": "4", "memory": "8Gi"},
                                    "zones": zones or [ZONE]}]},
        "initial_pods": pods or [],
        "workloads": workloads or [],
        "failures": failures or [],
        "actions": actions or [],
    }
    if lifecycle:
        data["node_lifecycle"] = lifecycle
    return validate_scenario(data)


def bare(name: str, node: str) -> dict:
    return {"name": name, "nodeName": node, "requests": {"cpu": "1"}}


def outage(node: str, at: float, duration: float | None = None) -> dict:
    f = {"kind": "outage", "nodes": {"names": [node]}, "at_s": at}
    if duration is not None:
        f["duration_s"] = duration
    return f


def rows(result, kind: str, node: str | None = None):
    ev = result.events
    sel = ev[ev["kind"] == kind]
    if node is not None:
        sel = sel[sel["node"] == node]
    return sel


def taint_times(result, node: str, needle: str) -> list[float]:
    ev = rows(result, "NodeUpdated", node)
    return [t for t, d in zip(ev["time"], ev["detail"], strict=True) if d.startswith("taints") and needle in d]


def finished(result, pod: str) -> float:
    return float(result.pods.set_index("pod").loc[pod, "finished"])


def test_failed_node_is_marked_not_ready_tainted_and_its_pod_evicted_at_the_derived_times() -> None:
    # Failure at 103: last lease renewal at 100 (renewals at 0, 10, ..., 100); the pass
    # at 100 sees it: probe = 100. NotReady at the first pass strictly after 100 + 50:
    # 155 (NoSchedule taint at once). Queued for the NoExecute taint at the next pass,
    # 160; the zone's bucket is full, so tainted at 160. Evicted 300 s later: 460.
    sc = scenario(pods=[bare("p0", "a-0"), bare("p1", "a-1")], failures=[outage("a-0", 103)])
    r = Simulation(sc).run()
    assert rows(r, "NodeDown", "a-0")["time"].tolist() == [103.0]
    not_ready = rows(r, "NodeUpdated", "a-0")
    assert not_ready[not_ready["detail"] == "NotReady"]["time"].tolist() == [155.0]
    assert taint_times(r, "a-0", "unreachable=:NoSchedule")[0] == 155.0
    assert taint_times(r, "a-0", "unreachable=:NoExecute") == [160.0]
    ev = rows(r, "TaintManagerEviction")
    assert ev["pod"].tolist() == ["p0"] and ev["time"].tolist() == [460.0]
    assert finished(r, "p0") == 460.0
    assert math.isnan(finished(r, "p1"))  # the healthy node's pod is untouched
    f = r.frames["failures"].iloc[0]
    assert (f["down_at"], f["not_ready_at"], f["tainted_at"]) == (103.0, 155.0, 160.0)
    assert math.isnan(f["up_at"]) and f["downtime_s"] == 1000.0 - 103.0
    d = r.frames["disruptions"]
    assert d["pod"].tolist() == ["p0"] and d["cause"].tolist() == ["TaintManagerEviction"]
    assert d["lost"].tolist() == [True]  # a bare pod: nothing recreates it
    s = r.summary().iloc[0]
    assert s["pods_lost"] == 1 and s["pods_evicted_taint"] == 1 and s["node_failures"] == 1


def test_heartbeat_and_pass_granularity() -> None:
    # grace 40 s (the pre-1.32 default). Failure at 99.9: last renewal at 90, seen by the
    # pass at 90: probe 90; NotReady at the first pass after 130: 135; tainted at 140;
    # evicted at 440. Failure at 100 (a renewal at 100 is still sent and seen by the pass
    # at 100): probe 100, NotReady at 145, taint at 150, evicted at 450.
    for at, expect in ((99.9, (135.0, 140.0, 440.0)), (100.0, (145.0, 150.0, 450.0))):
        sc = scenario(pods=[bare("p0", "a-0")], failures=[outage("a-0", at)],
                      lifecycle={"node_monitor_grace_period_s": 40})
        r = Simulation(sc).run()
        f = r.frames["failures"].iloc[0]
        assert (f["not_ready_at"], f["tainted_at"], finished(r, "p0")) == expect, at


def test_pods_keep_their_own_tolerations() -> None:
    # Node a-0 fails at 103 -> tainted unreachable:NoExecute at 160 (first test). A pod
    # tolerating it for 60 s is evicted at 220; one tolerating it without
    # tolerationSeconds, or tolerating every taint (key "" + Exists: admission adds
    # nothing), stays for ever; one with the admission default leaves at 460.
    def wl(name: str, tolerations: list[dict]) -> dict:
        return {"name": name, "arrival": {"kind": "times", "times_s": [0]},
                "template": {"requests": {"cpu": "100m"}, "nodeSelector": {"kubernetes.io/hostname": "a-0"},
                             "tolerations": tolerations}}

    sc = scenario(workloads=[
        wl("short", [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                      "tolerationSeconds": 60}]),
        wl("forever", [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]),
        wl("all", [{"operator": "Exists"}]),
        wl("default", []),
    ], failures=[outage("a-0", 103)])
    r = Simulation(sc).run()
    assert finished(r, "short-0") == 220.0
    assert math.isnan(finished(r, "forever-0")) and math.isnan(finished(r, "all-0"))
    assert finished(r, "default-0") == 460.0


def test_owned_pod_is_deleted_for_its_controller_and_recovery_is_measured() -> None:
    # An owned pod (owner set by hand, as a ReplicaSet's) on a-0 is deleted at 460 like a
    # bare one, but it is not lost. A stand-in controller creates its replacement on a-1
    # at 470 (start latency 0: Running at 470). Time to recover: 470 - 103 = 367.
    sc = scenario(failures=[outage("a-0", 103)])
    sim = Simulation(sc)
    state, api = sim.state, sim.api
    shape = sim.shape_book.shape_for(("test", 0), state.resources.vector({"cpu": 1000, "pods": 1}), None)

    def create(name: str, node: str):
        def act(ctx) -> None:
            n = state.nodes.name_index[node]
            pod = api.create_pod(name=name, requests=state.shapes[shape].requests, workload=-1, index=0,
                                 shape=shape, priority=0, duration=math.inf, start_latency=0.0,
                                 owner_kind=1, owner=7, node=n)
            api.bind(pod, n)
        return act

    sim.at(0, create("rs-a", "a-0"))
    sim.at(470, create("rs-b", "a-1"))
    r = sim.run()
    d = r.frames["disruptions"].iloc[0]
    assert (d["pod"], d["time"], d["cause"], bool(d["lost"])) == ("rs-a", 460.0, "TaintManagerEviction", False)
    assert (d["owner_kind"], d["owner"], d["replacement"], d["replacement_running"]) == ("ReplicaSet", 7, "rs-b", 470.0)
    f = r.frames["failures"].iloc[0]
    assert f["time_to_recover_s"] == 367.0 and f["pods_lost"] == 0
    s = r.summary().iloc[0]
    assert s["pods_lost"] == 0 and s["pods_replaced"] == 1 and s["time_to_recover_max_s"] == 367.0


def test_node_back_before_eviction_restarts_its_pods_and_clears_the_taints() -> None:
    # Down 103..303: NotReady 155, NoExecute 160 (first test). At 303 the kubelet
    # reports Ready (and the NoSchedule taint goes); the pass at 305 removes the
    # NoExecute taint, cancelling the eviction due at 460. The pod's containers are
    # recreated at 303 (start latency 0): restarts 1, never evicted; recovered 200 s
    # after the failure.
    sc = scenario(pods=[bare("p0", "a-0")], failures=[outage("a-0", 103, 200)])
    r = Simulation(sc).run()
    ready = rows(r, "NodeUpdated", "a-0")
    assert ready[ready["detail"] == "Ready"]["time"].tolist() == [303.0]
    taints = rows(r, "NodeUpdated", "a-0")
    taints = taints[taints["detail"].str.startswith("taints")]
    assert list(zip(taints["time"], taints["detail"], strict=True)) == [
        (155.0, "taints node.kubernetes.io/unreachable=:NoSchedule"),
        (160.0, "taints node.kubernetes.io/unreachable=:NoSchedule,node.kubernetes.io/unreachable=:NoExecute"),
        (303.0, "taints node.kubernetes.io/unreachable=:NoExecute"),
        (305.0, "taints "),
    ]
    assert rows(r, "TaintManagerEviction").empty
    pod = r.pods.set_index("pod").loc["p0"]
    assert pod["restarts"] == 1 and math.isnan(pod["finished"])
    f = r.frames["failures"].iloc[0]
    assert (f["up_at"], f["downtime_s"], f["pods_restarted"], f["time_to_recover_s"]) == (303.0, 200.0, 1, 200.0)


def test_a_blip_shorter_than_the_grace_period_is_never_noticed() -> None:
    # Down 103..123: heartbeats resume at 123, before the detection pass at 155.
    sc = scenario(pods=[bare("p0", "a-0")], failures=[outage("a-0", 103, 20)])
    r = Simulation(sc).run()
    ups = rows(r, "NodeUpdated", "a-0")
    assert "NotReady" not in ups["detail"].tolist() and taint_times(r, "a-0", "unreachable") == []
    assert r.pods.set_index("pod").loc["p0", "restarts"] == 1


def test_zone_outage_taints_one_node_per_ten_seconds() -> None:
    # Zone x (3 nodes: a-0, a-2, a-4 with zones [x, y] round-robin over 6 nodes) fails at
    # 103. All three NotReady at 155: zone x fully disrupted (no Ready node), zone y
    # normal, so x keeps the normal rate 0.1/s (HealthyQPSFunc), burst 1: taints at 160,
    # 170, 180 in queue order, evictions at 460, 470, 480.
    sc = scenario(nodes=6, zones=["x", "y"], pods=[bare(f"p{i}", f"a-{i}") for i in (0, 2, 4)],
                  failures=[{"kind": "outage", "nodes": {"zone": "x"}, "at_s": 103}])
    r = Simulation(sc).run()
    assert [taint_times(r, f"a-{i}", "unreachable=:NoExecute")[0] for i in (0, 2, 4)] == [160.0, 170.0, 180.0]
    assert [finished(r, f"p{i}") for i in (0, 2, 4)] == [460.0, 470.0, 480.0]


def test_all_zones_down_is_master_disruption_and_a_small_partial_zone_stops_tainting() -> None:
    # Both nodes of the only zone fail: every zone fully disrupted -> upstream assumes
    # the control plane is cut off and taints nothing. 3 of 4 nodes of a zone down:
    # partial disruption (> 2 and 75% >= 55%) in a zone of <= 50 nodes -> rate 0.
    for nodes, down in ((2, ["a-0", "a-1"]), (4, ["a-0", "a-1", "a-2"])):
        sc = scenario(nodes=nodes, pods=[bare(f"p-{n}", n) for n in down],
                      failures=[{"kind": "outage", "nodes": {"names": down}, "at_s": 103}])
        r = Simulation(sc).run()
        assert all(taint_times(r, n, "NoExecute") == [] for n in down), nodes
        assert rows(r, "TaintManagerEviction").empty, nodes
        assert (r.frames["failures"]["not_ready_at"] == 155.0).all()


def test_restart_policy_never_pod_fails_when_its_node_comes_back() -> None:
    # A runtime-modelled pod with restartPolicy Never on a node down 103..203: its
    # container vanished with the machine, so the pod ends Failed at 203 with upstream's
    # ContainerStatusUnknown.
    sc = scenario(workloads=[{"name": "job", "arrival": {"kind": "times", "times_s": [0]},
                              "template": {"requests": {"cpu": "1"}, "restartPolicy": "Never",
                                           "readiness_delay": {"kind": "constant", "value": 1},
                                           "nodeSelector": {"kubernetes.io/hostname": "a-0"}}}],
                  failures=[outage("a-0", 103, 100)])
    r = Simulation(sc).run()
    pod = r.pods.set_index("pod").loc["job-0"]
    assert pod["phase"] == "Failed" and pod["finished"] == 203.0
    assert rows(r, "ContainerStatusUnknown")["pod"].tolist() == ["job-0"]


def test_drain_retries_blocked_evictions_every_five_seconds() -> None:
    # Drain of a-0 at t = 1; an eviction check refuses until t >= 12. kubectl retries
    # every 5 s: attempts at 1 (refused), 6 (refused), 11 (refused), 16 (allowed). The
    # pod then terminates after its 30 s grace period: 46.
    sc = scenario(pods=[bare("p0", "a-0")], duration=100)
    sim = Simulation(sc)
    sim.api.add_eviction_check(lambda pod, reason: sim.env.now >= 12)
    sim.at(1, DrainAction(nodes={"names": ["a-0"]}))
    r = sim.run()
    assert rows(r, "EvictionBlocked")["time"].tolist() == [1.0, 6.0, 11.0]
    assert rows(r, "NodeUpdated", "a-0")["detail"].tolist()[0] == "cordoned"
    assert finished(r, "p0") == 46.0
    assert r.frames["disruptions"]["cause"].tolist() == ["EvictionByEvictionAPI"]
    assert rows(r, "Drained")["time"].tolist() == [16.0]


def test_drain_timeout_and_no_checks() -> None:
    # No check: evicted at 1, gone at 31. A check that never allows with timeout 8:
    # attempts at 1 and 6; 6 + 5 > 1 + 8, so the drain gives up at 6.
    r = Simulation(scenario(pods=[bare("p0", "a-0")], duration=100,
                            actions=[{"at_s": 1, "action": "drain", "nodes": {"names": ["a-0"]}}])).run()
    assert finished(r, "p0") == 31.0
    sim = Simulation(scenario(pods=[bare("p0", "a-0")], duration=100,
                              actions=[{"at_s": 1, "action": "drain", "nodes": {"names": ["a-0"]},
                                        "timeout_s": 8}]))
    sim.api.add_eviction_check(lambda pod, reason: False)
    r = sim.run()
    assert rows(r, "DrainTimeout")["time"].tolist() == [6.0]
    assert math.isnan(finished(r, "p0"))


def test_cordon_uncordon_delete_and_fail_actions() -> None:
    sc = scenario(pods=[bare("p0", "a-0"), bare("p2", "a-2")], actions=[
        {"at_s": 10, "action": "cordon", "nodes": {"names": ["a-1"]}},
        {"at_s": 20, "action": "uncordon", "nodes": {"names": ["a-1"]}},
        {"at_s": 30, "action": "delete_node", "nodes": {"names": ["a-2"]}},
        {"at_s": 103, "action": "fail_node", "nodes": {"names": ["a-0"]}, "duration_s": 500},
    ])
    r = Simulation(sc).run()
    upd = rows(r, "NodeUpdated", "a-1")
    assert list(zip(upd["time"], upd["detail"], strict=True)) == [(10.0, "cordoned"), (20.0, "uncordoned")]
    # a-2 deleted at 30: the pod garbage collector (passes every 20 s) sees it at 40 and
    # deletes its pods after the 40 s quarantine, at 80 (gc_controller.go gcOrphaned).
    assert rows(r, "NodeRemoved")["time"].tolist() == [30.0] and finished(r, "p2") == 80.0
    assert r.frames["disruptions"].set_index("pod").loc["p2", "cause"] == "NodeLost"
    # fail_node 103..603: the pod is evicted at 460 (first test) before the node returns.
    assert finished(r, "p0") == 460.0
    f = r.frames["failures"].iloc[0]
    assert (f["cause"], f["kind"], f["up_at"]) == ("actions[3]", "fail_node", 603.0)


def test_actions_from_python_while_running() -> None:
    sim = Simulation(scenario(pods=[bare("p0", "a-0")], duration=100))
    sim.advance(40)
    with pytest.raises(ValueError, match="already at 40"):
        sim.at(10, lambda ctx: None)
    seen: list[float] = []
    sim.at(50, lambda ctx: seen.append(ctx.env.now))
    sim.at(60, DrainAction(nodes={"names": ["a-0"]}))
    with pytest.raises(ValueError, match="no node named 'nope'"):
        sim.at(70, DrainAction(nodes={"names": ["nope"]}))
    r = sim.run()
    assert seen == [50.0] and finished(r, "p0") == 90.0  # evicted at 60, 30 s grace


def test_leaving_partial_disruption_swaps_in_a_drained_bucket() -> None:
    # Zone of 4 nodes; a-0, a-1, a-2 fail at 103 (a-2 only until 403). Pass 155: three
    # NotReady of four (> 2 and 75% >= 55%): partial disruption in a zone of <= 50 nodes,
    # rate 0 (SwapLimiter to the never-limiter). Pass 160: all three queued, none
    # tainted. a-2 reports Ready at 403; pass 405: 2 NotReady of 4 -> Normal, rate 0.1;
    # the old limiter had no token, so the new bucket starts drained: next token at 415
    # (a-0 tainted), then 425 (a-1). Evictions 300 s later: 715, 725.
    sc = scenario(nodes=4, pods=[bare("p0", "a-0"), bare("p1", "a-1")], duration=1000,
                  failures=[{"kind": "outage", "nodes": {"names": ["a-0", "a-1"]}, "at_s": 103},
                            outage("a-2", 103, 300)])
    r = Simulation(sc).run()
    assert taint_times(r, "a-0", "NoExecute")[0] == 415.0
    assert taint_times(r, "a-1", "NoExecute")[0] == 425.0
    assert taint_times(r, "a-2", "NoExecute") == []
    assert (finished(r, "p0"), finished(r, "p1")) == (715.0, 725.0)


def test_deleting_a_failed_node_loses_its_pods_after_the_gc_quarantine() -> None:
    # Down at 103 (NotReady 155, tainted 160), deleted at 200, before the eviction due at
    # 460: the pod garbage collector's pass at 200 sees the node gone and its pass 40 s
    # later deletes the pod: it ends NodeLost at 240; the failure row ends at the removal.
    sc = scenario(pods=[bare("p0", "a-0")], failures=[outage("a-0", 103)],
                  actions=[{"at_s": 200, "action": "delete_node", "nodes": {"names": ["a-0"]}}])
    r = Simulation(sc).run()
    assert finished(r, "p0") == 240.0
    assert r.frames["disruptions"]["cause"].tolist() == ["NodeLost"]
    f = r.frames["failures"].iloc[0]
    assert f["downtime_s"] == 97.0 and math.isnan(f["up_at"])
    assert (f["not_ready_at"], f["tainted_at"]) == (155.0, 160.0)


def test_a_pod_bound_to_a_failed_node_before_it_is_noticed_never_starts() -> None:
    # a-0 fails at 103 but is Ready until 155; a pod arriving at 120 pinned to it is
    # bound there, never Running, and evicted with the others at 160 + 300 = 460.
    sc = scenario(workloads=[{"name": "late", "arrival": {"kind": "times", "times_s": [120]},
                              "template": {"requests": {"cpu": "1"},
                                           "nodeSelector": {"kubernetes.io/hostname": "a-0"}}}],
                  failures=[outage("a-0", 103)])
    r = Simulation(sc).run()
    pod = r.pods.set_index("pod").loc["late-0"]
    assert pod["scheduled"] == 120.0 and math.isnan(pod["running"]) and pod["finished"] == 460.0


def test_leaving_master_disruption_resumes_tainting_with_a_drained_bucket() -> None:
    # One zone, two nodes, both down at 103, a-1 back at 403. Pass 155: every zone fully
    # disrupted -> master disruption, rate 0. a-1 Ready at 403; pass 405 leaves the mode
    # (zone Normal: 1 of 2 NotReady) and swaps in a 0.1/s bucket, drained because the
    # never-limiter had no token: a-0 tainted at 415, its pod evicted at 715.
    sc = scenario(nodes=2, pods=[bare("p0", "a-0")],
                  failures=[outage("a-0", 103), outage("a-1", 103, 300)])
    r = Simulation(sc).run()
    assert taint_times(r, "a-0", "NoExecute")[0] == 415.0
    assert finished(r, "p0") == 715.0


def test_drain_without_force_refuses_bare_pods_and_skips_daemonset_pods() -> None:
    # kubectl drain without --force refuses a node with pods that declare no controller
    # (the node stays cordoned); DaemonSet-owned pods are ignored (--ignore-daemonsets).
    r = Simulation(scenario(pods=[bare("p0", "a-0")], duration=100, actions=[
        {"at_s": 1, "action": "drain", "nodes": {"names": ["a-0"]}, "force": False}])).run()
    assert rows(r, "DrainRefused")["detail"].tolist() == [
        "cannot delete Pods that declare no controller (use force): p0"]
    assert math.isnan(finished(r, "p0")) and rows(r, "NodeUpdated", "a-0")["detail"].tolist() == ["cordoned"]
    sim = Simulation(scenario(duration=100))
    state, api = sim.state, sim.api
    shape = sim.shape_book.shape_for(("test", 0), state.resources.vector({"cpu": 100, "pods": 1}), None)

    def daemon(ctx) -> None:
        pod = api.create_pod(name="ds", requests=state.shapes[shape].requests, workload=-1, index=0, shape=shape,
                             priority=0, duration=math.inf, start_latency=0.0, owner_kind=3, owner=0, node=0)
        api.bind(pod, 0)

    sim.at(0, daemon)
    sim.at(1, DrainAction(nodes={"names": ["a-0"]}, force=False))
    r = sim.run()
    assert math.isnan(finished(r, "ds")) and rows(r, "Drained")["detail"].tolist() == ["0 pod(s) evicted"]


def test_a_restarted_pod_runs_its_whole_duration_again() -> None:
    # A 500 s pod started at 0 on a-0; the machine is down 103..203 (not long enough for
    # an eviction). Its containers are recreated at 203 and run the full 500 s again (the
    # first run's work is lost): Succeeded at 703, restarts 1, Running since 0.
    sc = scenario(workloads=[{"name": "job", "arrival": {"kind": "times", "times_s": [0]},
                              "duration": {"kind": "constant", "value": 500},
                              "template": {"requests": {"cpu": "1"},
                                           "nodeSelector": {"kubernetes.io/hostname": "a-0"}}}],
                  failures=[outage("a-0", 103, 100)])
    r = Simulation(sc).run()
    pod = r.pods.set_index("pod").loc["job-0"]
    assert (pod["phase"], pod["finished"], pod["restarts"], pod["running"]) == ("Succeeded", 703.0, 1, 0.0)


def test_a_node_back_and_down_again_at_the_same_instant() -> None:
    # Two outages meeting at 200 (103..200 and 200..300): the machine stays down while
    # either holds, 103..300, one NodeDown and one NodeUp (the second outage starts
    # before the first one's end is processed). Then the kubelet's own edge case: NodeUp
    # and NodeDown at one instant (200): the stalled pod keeps waiting and restarts only
    # at 300.
    sc = scenario(pods=[bare("p0", "a-0")], failures=[outage("a-0", 103, 97), outage("a-0", 200, 100)])
    r = Simulation(sc).run()
    ev = r.events[r.events["kind"].isin(["NodeDown", "NodeUp"])]
    assert list(zip(ev["time"], ev["kind"].astype(str), strict=True)) == [(103.0, "NodeDown"), (300.0, "NodeUp")]

    sim = Simulation(scenario(pods=[bare("p0", "a-0")]))
    faults = sim.faults
    sim.at(103, lambda ctx: faults.take_down([0], "first"))
    sim.at(200, lambda ctx: (faults.bring_up([0]), faults.take_down([0], "second")))
    sim.at(300, lambda ctx: faults.bring_up([0]))
    r = sim.run()
    ev = r.events[r.events["kind"].isin(["NodeDown", "NodeUp"])]
    assert list(zip(ev["time"], ev["kind"].astype(str), strict=True)) == [
        (103.0, "NodeDown"), (200.0, "NodeUp"), (200.0, "NodeDown"), (300.0, "NodeUp")]
    pod = r.pods.set_index("pod").loc["p0"]
    assert pod["restarts"] == 1 and math.isnan(pod["finished"])
    started = rows(r, "Started")
    assert started[started["pod"] == "p0"]["time"].tolist() == [0.0, 300.0]


def test_network_partition_pods_run_on_and_evictions_wait_for_the_link() -> None:
    # a-0 is cut off 103..603 (partition): same heartbeat timeline (NotReady 155, taint
    # 160, eviction of p0 at 460), but its containers keep running: the deletion reaches
    # the kubelet when the link returns at 603 (Killing then), and p0 stops after its
    # 30 s grace period: 633, keeping its CPU on a-0 until then. The 300 s job on a-0
    # completes at 300 during the partition, untouched. A replacement started on a-1 at
    # 470 runs beside the old copy for 163 s (split brain).
    sc = scenario(pods=[bare("p0", "a-0")],
                  workloads=[{"name": "job", "arrival": {"kind": "times", "times_s": [0]},
                              "duration": {"kind": "constant", "value": 300},
                              "template": {"requests": {"cpu": "1"},
                                           "nodeSelector": {"kubernetes.io/hostname": "a-0"}}}],
                  failures=[{**outage("a-0", 103, 500), "mode": "partition"}])
    r = Simulation(sc).run()
    assert rows(r, "TaintManagerEviction")["time"].tolist() == [633.0]  # the pod's end
    assert finished(r, "job-0") == 300.0
    assert r.pods.set_index("pod").loc["job-0", "phase"] == "Succeeded"
    killing = rows(r, "Killing")
    assert killing[killing["pod"] == "p0"]["time"].tolist() == [603.0]
    assert finished(r, "p0") == 633.0
    assert r.frames["disruptions"].set_index("pod").loc["p0", "cause"] == "TaintManagerEviction"
    f = r.frames["failures"].iloc[0]
    assert (f["mode"], f["cause"], f["not_ready_at"], f["tainted_at"], f["up_at"]) == (
        "partition", "outage[0]", 155.0, 160.0, 603.0)
    assert (f["pods_disrupted"], f["pods_lost"], f["pods_restarted"]) == (1, 1, 0)
    # Partitioned pods keep serving: available_pods does not drop at 103.
    ts = r.timeseries.set_index("time")
    assert ts.loc[200.0, "available_pods"] == ts.loc[200.0, "running_pods"] == 2.0


def test_partitioned_node_deleted_force_deletes_its_evicted_pods() -> None:
    # Partition from 103 (never healed); p0's eviction at 460 waits for the link; the
    # node is deleted at 500: the pod garbage collector force-deletes its pods after the
    # quarantine (pass at 500 + 40 s), so p0 ends at 540 (reason of its pending deletion)
    # and tol-0, not yet evicted (it tolerates the taint for ever), ends NodeLost at 540.
    sc = scenario(pods=[bare("p0", "a-0")],
                  workloads=[{"name": "tol", "arrival": {"kind": "times", "times_s": [0]},
                              "template": {"requests": {"cpu": "1"},
                                           "nodeSelector": {"kubernetes.io/hostname": "a-0"},
                                           "tolerations": [{"key": "node.kubernetes.io/unreachable",
                                                            "operator": "Exists", "effect": "NoExecute"}]}}],
                  failures=[{**outage("a-0", 103), "mode": "partition"}],
                  actions=[{"at_s": 500, "action": "delete_node", "nodes": {"names": ["a-0"]}}])
    r = Simulation(sc).run()
    d = r.frames["disruptions"].set_index("pod")
    assert (finished(r, "p0"), d.loc["p0", "cause"]) == (540.0, "TaintManagerEviction")
    assert (finished(r, "tol-0"), d.loc["tol-0", "cause"]) == (540.0, "NodeLost")


def test_kubelet_reporting_not_ready_gets_the_not_ready_taints_and_its_pods_run_until_evicted() -> None:
    # mode not_ready at 103: the kubelet runs on and posts Ready=False at its next node
    # status update (every 10 s from the node's start): 110. doNoScheduleTaintingPass adds
    # not-ready:NoSchedule at 110; the monitor pass at 110 reads Ready=False and queues the
    # node; the zone's bucket is full: not-ready:NoExecute at 110 (no grace period: the
    # node is not silent). The pod (tolerationSeconds 300 for not-ready) is evicted at 410;
    # its kubelet hears it and stops it with its 30 s grace: finished at 440, Running
    # until then (a crashed node's pod would have ended at 460, see the first test).
    sc = scenario(pods=[bare("p0", "a-0"), bare("p1", "a-1")],
                  failures=[{**outage("a-0", 103), "mode": "not_ready"}])
    r = Simulation(sc).run()
    upd = rows(r, "NodeUpdated", "a-0")
    assert upd[upd["detail"] == "NotReady"]["time"].tolist() == [110.0]
    assert taint_times(r, "a-0", "not-ready=:NoSchedule")[0] == 110.0
    assert taint_times(r, "a-0", "not-ready=:NoExecute")[0] == 110.0
    assert not taint_times(r, "a-0", "unreachable")
    assert finished(r, "p0") == 440.0
    d = r.frames["disruptions"].set_index("pod")
    assert d.loc["p0", "cause"] == "TaintManagerEviction"
    f = r.frames["failures"].iloc[0]
    assert (f["mode"], f["not_ready_at"], f["tainted_at"]) == ("not_ready", 110.0, 110.0)
    assert math.isnan(finished(r, "p1"))


def test_kubelet_ready_again_clears_the_not_ready_taints_and_cancels_the_eviction() -> None:
    # not_ready from 103 for 100 s: NotReady and both not-ready taints at 110 (above). At
    # 203 the kubelet reports Ready: the NoSchedule taint goes at once, the NoExecute one
    # at the next monitor pass (205); the eviction due at 410 is cancelled. A condition
    # cleared before the status update (103 -> 108) is never reported.
    sc = scenario(pods=[bare("p0", "a-0")],
                  failures=[{**outage("a-0", 103, 100), "mode": "not_ready"},
                            {**outage("a-1", 103, 5), "mode": "not_ready"}])
    r = Simulation(sc).run()
    assert math.isnan(finished(r, "p0"))
    ev = rows(r, "NodeUpdated", "a-0")
    assert [(t, d) for t, d in zip(ev["time"], ev["detail"], strict=True)] == [
        (110.0, "NotReady"),
        (110.0, "taints node.kubernetes.io/not-ready=:NoSchedule"),
        (110.0, "taints node.kubernetes.io/not-ready=:NoSchedule,node.kubernetes.io/not-ready=:NoExecute"),
        (203.0, "Ready"),
        (203.0, "taints node.kubernetes.io/not-ready=:NoExecute"),
        (205.0, "taints "),
    ]
    assert rows(r, "NodeUpdated", "a-1").empty
