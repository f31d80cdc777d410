"""The kubelet's runtime lifecycle: startup breakdown, ErrImageNeverPull, image pull
back-off, CrashLoopBackOff, restart policies, eviction."""

from __future__ import annotations

import math

from rt_helpers import MB, NO_JITTER, image, pool, row, run, scenario, workload

from k8sim.runtime.backoff import Backoff


def const(v: float) -> dict:
    return {"kind": "constant", "value": v}


CAT = [image("app:1", ("a", 100 * MB)), image("init:1", ("i", 50 * MB))]


def test_startup_breakdown_timestamps():
    # Bound at 5 s (arrival). Sandbox 1 s -> 6. Init container: pull init:1 (50 MB:
    # 0.5 s) -> 6.5, start 0.5 + run 2 -> 9. Main container: pull app:1 (100 MB: 1 s) ->
    # 10, its start latency 0.25 -> 10.25, pod start_latency 0.75 -> Running at 11.
    # Ready 3 s later: 14. Pull time = 0.5 + 1 = 1.5 s; pull_start 6, pull_end 10.
    sc = scenario(
        [pool()],
        [workload("w", [5.0], image=None, sandbox_latency=const(1), readiness_delay=const(3),
                  start_latency=const(0.75),
                  initContainers=[{"name": "setup", "image": "init:1", "start_latency": const(0.5),
                                   "duration": const(2)}],
                  containers=[{"name": "app", "image": "app:1", "start_latency": const(0.25)}])],
        catalog=CAT,
    )
    _, result = run(sc)
    r = row(result, "w-0")
    assert (r["scheduled"], r["pull_start"], r["pull_end"], r["running"], r["ready"]) == (5.0, 6.0, 10.0, 11.0, 14.0)
    assert r["image_pull_time"] == 1.5
    assert r["startup_latency"] == 6.0


def test_err_image_never_pull_stays_waiting_and_is_counted():
    # imagePullPolicy Never: a pre-pulled image starts at once; an absent one never
    # starts (ContainerCreating to the end, reason ErrImageNeverPull, one event).
    sc = scenario(
        [pool("warm", prepulled_images=["app:1"]), pool("cold")],
        [workload("ok", [0.0], image="app:1", imagePullPolicy="Never", nodeName="warm-0"),
         workload("stuck", [0.0], image="app:1", imagePullPolicy="Never", nodeName="cold-0")],
        catalog=CAT, duration_s=500,
    )
    _, result = run(sc)
    assert row(result, "ok-0")["running"] == 0.0
    stuck = row(result, "stuck-0")
    assert stuck["phase"] == "ContainerCreating" and stuck["reason"] == "ErrImageNeverPull"
    assert math.isnan(stuck["running"]) and math.isnan(stuck["pull_start"])
    assert (result.events["kind"] == "ErrImageNeverPull").sum() == 1
    assert result.summary()["pods_err_image_never_pull"].item() == 1


def test_image_pull_backoff_sequence():
    # Every pull fails (probability 1): attempts at 0, then after 10, 20, 40, 80, 160,
    # 300 (cap), 300 s: 0, 10, 30, 70, 150, 310, 610, 910. Run ends at 1000 s.
    sc = scenario(
        [pool(kubelet=NO_JITTER)],
        [workload("w", [0.0], image="app:1", image_pull_failure_probability=1.0)],
        catalog=CAT, duration_s=1000,
    )
    _, result = run(sc)
    errors = result.events[result.events["kind"] == "ErrImagePull"]
    assert errors["time"].tolist() == [0.0, 10.0, 30.0, 70.0, 150.0, 310.0, 610.0, 910.0]
    assert errors["detail"].str.endswith(("back-off 10s", "back-off 20s", "back-off 40s", "back-off 80s",
                                          "back-off 160s", "back-off 300s")).all()
    r = row(result, "w-0")
    assert r["reason"] == "ImagePullBackOff" and r["pull_failures"] == 8 and math.isnan(r["running"])


def test_pull_failures_are_common_random_numbers():
    # With probability 0.5 the i-th pod's first pull outcome is a fixed draw: the same
    # under two scheduling profiles (and the failure count differs from 0 and from 20).
    wl = [workload("w", [0.0] * 20, image="app:1", image_pull_failure_probability=0.5)]
    out = []
    for preset in ("kube-default", "binpack"):
        sc = scenario([pool(count=4)], wl, catalog=CAT, duration_s=2000,
                      scheduler={"profiles": [{"preset": preset}]})
        _, result = run(sc)
        out.append(result.pods.set_index("pod")["pull_failures"])
    assert (out[0] > 0).equals(out[1] > 0)
    assert 0 < int((out[0] > 0).sum()) < 20


def crash_times(result, kind="ContainerTerminated"):
    return result.events[result.events["kind"] == kind]["time"].tolist()


def test_crash_loop_backoff_delays():
    # The container crashes 1 s after each start. kubelet: the first restart is
    # immediate (no back-off entry yet); then 10, 20, 40, 80, 160, 300, 300 s after each
    # exit (a 1 s run never reaches the 10-minute reset).
    # Exits: 1; restart 1 -> exit 2; +10 -> restart 12, exit 13; +20 -> 33/34; +40 -> 74/75;
    # +80 -> 155/156; +160 -> 316/317; +300 -> 617/618; +300 -> 918/919.
    sc = scenario(
        [pool(kubelet=NO_JITTER)],
        [workload("w", [0.0], duration=10**6, crash={"probability": 1.0, "after": const(1)})],
        catalog=CAT, duration_s=1000,
    )
    _, result = run(sc)
    assert crash_times(result) == [1.0, 2.0, 13.0, 34.0, 75.0, 156.0, 317.0, 618.0, 919.0]
    # Each exit after the first is followed by a back-off (the last, at 919 s, lasts past
    # the end of the run): 8 of them.
    waits = result.events[result.events["kind"] == "BackOff"]["detail"].str.extract(r"back-off (\d+)s")[0]
    assert waits.astype(int).tolist() == [10, 20, 40, 80, 160, 300, 300, 300]
    r = row(result, "w-0")
    assert r["restarts"] == 8 and r["phase"] == "Running" and r["reason"] == "CrashLoopBackOff"
    assert r["running"] == 0.0  # first start


def test_crash_loop_backoff_resets_after_ten_minutes_of_running():
    # Runs of 700 s: each exit comes 700 s > 600 s after the previous restart decision,
    # so the back-off entry has expired and every restart is immediate.
    sc = scenario([pool(kubelet=NO_JITTER)], [workload("w", [0.0], duration=10**6, crash={"probability": 1.0, "after": const(700)})],
                  catalog=CAT, duration_s=2500)
    _, result = run(sc)
    assert crash_times(result) == [700.0, 1400.0, 2100.0]
    assert (result.events["kind"] == "BackOff").sum() == 0
    # Runs of 500 s do not expire it: immediate, then 10 s, then 20 s.
    sc = scenario([pool(kubelet=NO_JITTER)], [workload("w", [0.0], duration=10**6, crash={"probability": 1.0, "after": const(500)})],
                  catalog=CAT, duration_s=2100)
    _, result = run(sc)
    # Exits: 500; restart 500 -> 1000; +10 -> 1010 -> 1510; +20 -> 1530 -> 2030.
    assert crash_times(result) == [500.0, 1000.0, 1510.0, 2030.0]


def test_backoff_tracker_is_flowcontrol():
    b = Backoff()
    # Pull-style use: next() at each failure -> 10, 20, 40, ..., capped at 300.
    assert [b.next("k", t, t) for t in (0, 10, 30, 70, 150, 310, 610)] == [10, 20, 40, 80, 160, 300, 300]
    assert b.in_backoff_since_update("k", 909.9) and not b.in_backoff_since_update("k", 910)
    # hasExpired: an event more than 2 * 300 s after the last update starts over at 10.
    assert b.next("k", 1211, 1211) == 10


def test_restart_policy_never_fails_the_pod_at_its_crash():
    # The container crashes 30 s into its first run: Never -> the pod ends Failed at 30 s.
    sc = scenario([pool()], [workload("w", [0.0], duration=100.0, restartPolicy="Never",
                                      crash={"probability": 1.0, "after": const(30)})], catalog=CAT)
    _, result = run(sc)
    r = row(result, "w-0")
    assert (r["phase"], r["finished"], r["restarts"]) == ("Failed", 30.0, 0)


def test_restart_policy_on_failure_restarts_crashes_but_ends_on_success():
    # OnFailure (the default): without crashes the pod ends Succeeded after 100 s; with a
    # crash 30 s into every run it restarts: exit 30 -> restart at once; exit 60 -> 10 s
    # -> 70; exit 100 -> 20 s back-off, so at 119 s it is Running (its phase while
    # restarting) with 2 restarts.
    _, ok = run(scenario([pool(kubelet=NO_JITTER)], [workload("w", [0.0], duration=100.0)], catalog=CAT,
                         images={}))
    assert row(ok, "w-0")["phase"] == "Succeeded" and row(ok, "w-0")["finished"] == 100.0
    sc = scenario([pool(kubelet=NO_JITTER)], [workload("w", [0.0], duration=100.0, crash={"probability": 1.0, "after": const(30)})],
                  catalog=CAT, duration_s=119)
    _, result = run(sc)
    assert crash_times(result) == [30.0, 60.0, 100.0]
    r = row(result, "w-0")
    assert (r["phase"], r["restarts"]) == ("Running", 2)


def test_restart_policy_always_restarts_after_success():
    # Always: the container completing (after 100 s) is restarted too, with the same
    # back-off: exit 100 -> restart at once; exit 200 -> 10 s -> 210; exit 310 -> 20 s ->
    # 330; at 400 s the fourth run is going: 3 restarts, Running, never Succeeded.
    sc = scenario([pool(kubelet=NO_JITTER)], [workload("w", [0.0], duration=100.0, restartPolicy="Always")],
                  catalog=CAT, duration_s=400)
    _, result = run(sc)
    assert crash_times(result) == [100.0, 200.0, 310.0]
    r = row(result, "w-0")
    assert (r["phase"], r["restarts"]) == ("Running", 3)
    assert result.events[result.events["kind"] == "ContainerTerminated"]["detail"].str.endswith("Completed").all()
