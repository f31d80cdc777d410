"""Runtime fidelity: startup statistics of the first start only, periodic image GC,
the small pull-accounting errors, kubelet pod-worker timing, containerd's download
slots, and what a restart pays. Every expected number is derived in a comment.

Upstream sources: ``pkg/kubelet/images/image_gc_manager.go`` (GarbageCollect, freeSpace,
Start's initial detectImages with the zero time), ``pkg/kubelet/kubelet.go``
(StartGarbageCollection, ImageGCPeriod = 5 min, backOffPeriod = 10 s),
``pkg/kubelet/pod_workers.go`` (completeWork: requeue after
wait.Jitter(backOffPeriod, workerBackOffPeriodJitterFactor = 0.5) when a sync fails),
``pkg/kubelet/apis/config/v1beta1/defaults.go`` (imageGCHighThresholdPercent 85, low 80,
imageMinimumGCAge 2 min), containerd ``internal/cri/config/config_unix.go``
(max_concurrent_downloads 3) and ``client/pull.go`` (one download semaphore per pull up to
containerd 2.0).
"""

from __future__ import annotations

import math

import numpy as np
from rt_helpers import MB, NO_JITTER, image, pool, row, run, scenario, workload


def const(v: float) -> dict:
    return {"kind": "constant", "value": v}


# -- 1. restart-time pulls are not startup ---------------------------------------------


def test_restart_pulls_stay_out_of_the_startup_statistics():
    # One node, 100 MB/s, serialized pulls (kubelet's default).
    # Pod a (imagePullPolicy Always, app:1 = 100 MB) arrives at 0: pulls 0 -> 1 s,
    # Running at 1 s, crashes 2 s into every run -> exits at 3 s.
    # Pod b arrives at 2 s and pulls big:1 (1000 MB): 2 -> 12 s (the puller is busy).
    # a's first restart is immediate (no back-off entry): at 3 s, Always -> a pull
    # request, which waits in the serialized queue behind b's until 12 s, finds the image
    # present (nothing to download) and ends at 12 s. a runs again 12 -> 14 s; the run ends
    # at 13 s.
    # First start of a: pull_start 0, pull_end 1, image_pull_time 1, pull_bytes 100 MB;
    # its restart: restart_pull_time 12 - 3 = 9 s, restart_pulls 1.
    # b: image_pull_time 10, startup 10. Share = (1 + 10) / (1 + 10) = 1.
    # (Before the fix a's restart pull was added to image_pull_time (10) and overwrote
    # pull_end with 12 > running 1, and the share was (10 + 10) / 11 = 1.82.)
    cat = [image("app:1", ("app", 100 * MB)), image("big:1", ("big", 1000 * MB))]
    sc = scenario(
        [pool()],
        [workload("a", [0.0], duration=10**6, image="app:1", imagePullPolicy="Always",
                  crash={"probability": 1.0, "after": const(2)}),
         workload("b", [2.0], image="big:1")],
        catalog=cat, duration_s=13,
    )
    _, result = run(sc)
    a = row(result, "a-0")
    assert (a["pull_start"], a["pull_end"], a["running"]) == (0.0, 1.0, 1.0)
    assert a["image_pull_time"] == 1.0 and a["pull_bytes"] == 100 * MB
    assert a["restarts"] == 1 and a["restart_pull_time"] == 9.0 and a["restart_pulls"] == 1
    assert a["pull_end"] <= a["running"]
    b = row(result, "b-0")
    assert (b["image_pull_time"], b["startup_latency"]) == (10.0, 10.0)
    s = result.summary()
    assert s["image_pull_share"].item() == 1.0
    assert s["restart_pull_time_s"].item() == 9.0 and s["restart_pulls"].item() == 1
    # The breakdown's "sandbox + containers" part (bound -> running without pulls) is
    # never negative: a: 1 - 0 - 1 = 0, b: 12 - 2 - 10 = 0.
    rest = result.pods["running"] - result.pods["scheduled"] - result.pods["image_pull_time"]
    assert (rest >= 0).all()


def test_restart_pull_failures_back_off_into_restart_pull_time():
    # app:1 is pre-pulled; the container's policy is Always; registryPullQPS 0.01 with
    # burst 1: the bucket starts with 1 token. First start: the pull at 0 s takes it and
    # finds the image present: Running at 0, image_pull_time 0. Crash 5 s into every run;
    # the first restart is immediate at 5 s and pulls again: tokens 5 * 0.01 = 0.05 < 1
    # -> "pull QPS exceeded", back-off 10 s -> retry at 15 s (no jitter): 0.15, fails,
    # back-off 20 s -> 35 s: 0.35, fails, back-off 40 s -> 75 s. The run ends at 60 s with
    # the restart pull going on since 5 s: restart_pull_time 55 s; the startup columns
    # keep the first start (pull_end 0 <= running 0, image_pull_time 0).
    sc = scenario(
        [pool(prepulled_images=["app:1"], kubelet={"registryPullQPS": 0.01, "registryBurst": 1, **NO_JITTER})],
        [workload("w", [0.0], duration=10**6, crash={"probability": 1.0, "after": const(5)},
                  containers=[{"name": "c", "image": "app:1", "imagePullPolicy": "Always"}])],
        catalog=[image("app:1", ("app", 100 * MB))], duration_s=60,
    )
    _, result = run(sc)
    r = row(result, "w-0")
    assert (r["running"], r["pull_end"], r["image_pull_time"], r["pull_bytes"]) == (0.0, 0.0, 0.0, 0)
    assert r["restarts"] == 1 and r["restart_pulls"] == 0  # the restart's pull has not ended
    assert r["restart_pull_time"] == 55.0 and r["pull_failures"] == 3
    assert r["reason"] == "ImagePullBackOff"
    errors = result.events[result.events["kind"] == "ErrImagePull"]
    assert errors["time"].tolist() == [5.0, 15.0, 35.0]


# -- 3. small errors -------------------------------------------------------------------


def test_a_pod_still_in_image_pull_back_off_counts_its_pull_time_to_the_end():
    # Every pull fails; attempts at 0, 10, 30, ..., 910 s; the run ends at 1000 s with
    # the pod still in ImagePullBackOff: it has spent 1000 - 0 = 1000 s pulling
    # (back-off included), whatever the pod-worker jitter. Before: 0.
    sc = scenario([pool()], [workload("w", [0.0], image="app:1", image_pull_failure_probability=1.0)],
                  catalog=[image("app:1", ("app", 100 * MB))], duration_s=1000)
    _, result = run(sc)
    r = row(result, "w-0")
    assert r["reason"] == "ImagePullBackOff" and math.isnan(r["pull_end"])
    assert r["image_pull_time"] == 1000.0
    # It needs the image's 100 MB: a pod that pulls, whose pull has not ended (so it is
    # not in the pull-time percentiles).
    assert r["pull_bytes"] == 100 * MB
    s = result.summary()
    assert s["pods_pulled"].item() == 1 and math.isnan(s["image_pull_time_p50_s"].item())


def test_an_always_pull_of_a_present_image_is_not_a_pull():
    # app (untagged -> :latest -> imagePullPolicy Always by default) is pre-pulled on
    # warm-0, absent on cold-0. Two pods on warm-0 send pulls that download nothing;
    # the pod on cold-0 downloads 100 MB at 100 MB/s: 1 s. pods_pulled = 1 and the pull
    # time median is 1 s. (Before: 3 pods "pulled", median 0.)
    sc = scenario(
        [pool("warm", prepulled_images=["app"]), pool("cold")],
        [workload("w", [0.0, 0.0], image="app", nodeName="warm-0"),
         workload("c", [0.0], image="app", nodeName="cold-0")],
        catalog=[image("app:latest", ("a", 100 * MB))],
    )
    _, result = run(sc)
    pods = result.pods.set_index("pod")
    assert pods["pull_bytes"].tolist() == [0, 0, 100 * MB]
    s = result.summary()
    assert s["pods_pulled"].item() == 1
    assert s["image_pull_time_p50_s"].item() == 1.0 and s["image_pull_time_p95_s"].item() == 1.0


def test_err_image_never_pull_starts_at_the_first_sync_after_the_image_arrives():
    # n (imagePullPolicy Never) is bound to cold-0 at 0 s: the image is absent ->
    # ErrImageNeverPull, the sync fails. p (IfNotPresent) arrives at 5 s on the same node
    # and pulls app:1 (100 MB at 100 MB/s): present at 6 s. n's pod worker syncs again
    # every 10 s (no jitter): 10 s is the first sync that finds the image -> Running at
    # 10 s (latencies 0). Before: n waited for good.
    cat = [image("app:1", ("app", 100 * MB))]
    wl = [workload("n", [0.0], image="app:1", imagePullPolicy="Never", nodeName="p-0"),
          workload("p", [5.0], image="app:1", nodeName="p-0")]
    _, result = run(scenario([pool(kubelet=NO_JITTER)], wl, catalog=cat, duration_s=100))
    n = row(result, "n-0")
    assert n["running"] == 10.0 and n["reason"] == ""
    assert math.isnan(n["pull_start"]) and n["image_pull_time"] == 0.0
    # With upstream's jitter the syncs are 10 * (1 + 0.5 u) apart, u in [0, 1): the first
    # one is in [10, 15) s, which is after 6 s.
    _, result = run(scenario([pool()], wl, catalog=cat, duration_s=100))
    assert 10.0 <= row(result, "n-0")["running"] < 15.0
    # The image never arrives: n waits for good (reason kept) and the run still ends
    # without duration_s.
    sim, result = run(scenario([pool()], wl[:1], catalog=cat))
    assert row(result, "n-0")["reason"] == "ErrImageNeverPull" and sim.end_time == 0.0


# -- 2. periodic image GC --------------------------------------------------------------


GC_CAT = [image("c:1", ("c", 100 * MB)), image("b:1", ("b", 200 * MB)), image("a:1", ("a", 300 * MB)),
          image("d:1", ("d", 350 * MB))]


def gc_scenario(**kubelet):
    # 1000 MB image disk holding c 100 + b 200 + a 300 + d 350 = 950 MB, all pre-pulled.
    # Pods use b (10 -> 20 s), a (30 -> 40 s), d (50 -> 60 s); c is never used.
    return scenario(
        [pool(image_disk=str(1000 * MB), prepulled_images=["c:1", "b:1", "a:1", "d:1"], kubelet=kubelet)],
        [workload("b", [10.0], duration=10.0, image="b:1"), workload("a", [30.0], duration=10.0, image="a:1"),
         workload("d", [50.0], duration=10.0, image="d:1")],
        catalog=GC_CAT, duration_s=700, sample_interval_s=60,
    )


def test_periodic_gc_collects_a_prepulled_pool_to_the_low_threshold_in_lru_order():
    # Usage 950 / 1000: usagePercent = 100 - int(50 * 100 / 1000) = 95 >= 85. Nothing
    # pulls, so before the fix GC never ran. The first pass is one ImageGCPeriod (300 s)
    # after the node starts: amountToFree = 1000 * (100 - 80) / 100 - 50 = 150 MB.
    # Pre-pulled images count as detected in the past (no minimum-age protection).
    # Order of last use: c (never used: 0), b (20 s), a (40 s), d (60 s). c frees 100 MB
    # (< 150), b 200 MB more (300 >= 150): stop. Left: a + d = 650 MB = 65% <= 80%.
    # The pass at 600 s finds 65% < 85%: nothing.
    _, result = run(gc_scenario())
    gc = result.events[result.events["kind"] == "ImageGC"]
    assert gc["time"].tolist() == [300.0, 300.0]
    assert gc["detail"].tolist() == ["deleted image c:1", "deleted image b:1"]
    passes = result.frames["image_gc"]
    assert len(passes) == 1
    p = passes.iloc[0]
    assert (p["time"], p["trigger"], p["used_before_bytes"], p["wanted_bytes"], p["images_deleted"],
            p["bytes_freed"]) == (300.0, "periodic", 950 * MB, 150 * MB, 2, 300 * MB)
    s = result.summary()
    assert (s["image_gc_passes"].item(), s["image_gc_images_deleted"].item()) == (1, 2)
    # The disk-use series (60 s bins): 950 MB up to 300 s, 650 MB after.
    disk = result.frames["image_disk"]
    assert disk["pool"].unique().tolist() == ["p"]
    assert disk["disk_used_bytes"].tolist() == [950 * MB] * 5 + [650 * MB] * 7
    assert np.allclose(disk["disk_use"], [0.95] * 5 + [0.65] * 7)
    assert disk["disk_capacity_bytes"].eq(1000 * MB).all()
    assert disk["gc_passes"].tolist() == [0] * 5 + [1] + [0] * 6
    assert disk["gc_bytes_freed"].sum() == 300 * MB
    assert (disk["gc_high_percent"].unique().tolist(), disk["gc_low_percent"].unique().tolist()) == ([85], [80])


def test_gc_high_threshold_100_disables_image_gc():
    # imageGCHighThresholdPercent 100: kubelet stubs the image GC manager out
    # (StartGarbageCollection), so the disk stays at 95% for the whole run.
    _, result = run(gc_scenario(imageGCHighThresholdPercent=100))
    assert (result.events["kind"] == "ImageGC").sum() == 0 and len(result.frames["image_gc"]) == 0
    assert result.frames["image_disk"]["disk_use"].eq(0.95).all()


def test_gc_period_is_configurable():
    # imageGCPeriodSeconds 120: passes at 120, 240, ...; the first frees c and b as above.
    _, result = run(gc_scenario(imageGCPeriodSeconds=120))
    assert result.frames["image_gc"]["time"].tolist() == [120.0]


def test_periodic_gc_does_not_keep_a_run_without_duration_alive():
    # Without duration_s the run ends with the last pod (d ends at 60 s): the GC timer
    # alone does not keep it going, and no pass ran before 60 s.
    sc = scenario(
        [pool(image_disk=str(1000 * MB), prepulled_images=["c:1", "b:1", "a:1", "d:1"])],
        [workload("d", [50.0], duration=10.0, image="d:1")], catalog=GC_CAT,
    )
    sim, result = run(sc)
    assert sim.end_time == 60.0 and len(result.frames["image_gc"]) == 0
    # Such a run has no GC timer: the pass due at 300 s runs at the node's next kubelet
    # activity, here a pod bound at 400 s (before it marks d in use). Nothing was used
    # before, so the order is by image id: c (100 MB) + b (200 MB) >= 150 MB.
    sc = scenario(
        [pool(image_disk=str(1000 * MB), prepulled_images=["c:1", "b:1", "a:1", "d:1"])],
        [workload("d", [400.0], duration=10.0, image="d:1")], catalog=GC_CAT,
    )
    sim, result = run(sc)
    gc = result.frames["image_gc"]
    assert gc["time"].tolist() == [400.0] and gc["images_deleted"].tolist() == [2]
    assert result.events[result.events["kind"] == "ImageGC"]["detail"].tolist() == ["deleted image c:1",
                                                                                  "deleted image b:1"]
    assert sim.end_time == 410.0


def test_a_run_without_duration_with_an_unschedulable_pod_and_image_gc_ends():
    # The scheduler re-arms its unschedulable flush only while other events are
    # scheduled; a GC timer would be one, and the flush timer one for the GC: the run
    # would never end. It ends when the schedulable pod does: its pull of c:1 (100 MB at
    # 100 MB/s) 0 -> 1 s, then 10 s Running: 11 s.
    sc = scenario([pool(image_disk=str(1000 * MB))],
                  [workload("ok", [0.0], duration=10.0, image="c:1"),
                   workload("big", [0.0], duration=10.0, image="c:1", requests={"cpu": "1000"})],
                  catalog=GC_CAT)
    sim, result = run(sc)
    assert sim.end_time == 11.0 and row(result, "big-0")["phase"] == "Pending"


# -- 4. kubelet timing -----------------------------------------------------------------


def test_crash_loop_restarts_come_at_the_first_sync_after_the_back_off():
    # 200 pods crash 1 s into every run. The first restart is immediate (no back-off
    # entry: the exit's own sync restarts it) -> second exit 2 s after arrival. Then the
    # back-off is 10 s; the pod worker requeues the pod after wait.Jitter(10 s, 0.5) =
    # 10 * (1 + 0.5 u), u ~ U[0, 1) (the back-off's remaining 10 s since 1.35, the fixed
    # backOffPeriod before: the same here): the second restart comes 10 + 5u after the
    # second exit, in [10, 15) s, mean 12.5 s (sd 5 / sqrt(12) = 1.44 s; the mean of 200
    # has sd 0.10 s).
    # Before: exactly 10 s for every pod.
    sc = scenario([pool()], [workload("w", [0.0] * 200, duration=10**6, crash={"probability": 1.0,
                                                                                "after": const(1)})],
                  catalog=[image("app:1", ("app", MB))], duration_s=25)
    _, result = run(sc)
    ev = result.events[result.events["kind"] == "ContainerTerminated"]
    exits = ev.groupby("pod")["time"].apply(list)
    assert (exits.str[0] == 1.0).all() and (exits.str[1] == 2.0).all()
    delay = exits.str[2] - exits.str[1] - 1.0  # third exit = restart + 1 s run
    assert (delay >= 10.0).all() and (delay < 15.0).all()
    assert abs(delay.mean() - 12.5) < 0.5
    assert delay.nunique() > 100  # jittered, pod by pod


def test_pull_retries_come_at_the_first_sync_after_the_back_off():
    # Every pull fails; the first retry is after a 10 s back-off, at the first sync:
    # 10 * (1 + 0.5 u) s after the failure, in [10, 15), mean 12.5. The second back-off is
    # 20 s: two syncs, each in [10, 15), sum in [20, 30) >= 20, so the next retry is 20 to
    # 30 s later. Before: exactly 10 and 20 s.
    sc = scenario([pool()], [workload("w", [0.0] * 200, image="app:1", image_pull_failure_probability=1.0)],
                  catalog=[image("app:1", ("app", MB))], duration_s=40)
    _, result = run(sc)
    ev = result.events[result.events["kind"] == "ErrImagePull"]
    times = ev.groupby("pod")["time"].apply(list)
    first = times.str[1] - times.str[0]
    assert (first >= 10.0).all() and (first < 15.0).all() and abs(first.mean() - 12.5) < 0.5
    second = (times[times.str.len() > 2].str[2] - times[times.str.len() > 2].str[1])
    assert len(second) > 0 and (second >= 20.0).all() and (second < 30.0).all()


def test_pod_worker_timing_is_configurable():
    # podWorkerBackOffPeriodSeconds 0: retries exactly at back-off expiry (0, 10, 30 s).
    sc = scenario([pool(kubelet={"podWorkerBackOffPeriodSeconds": 0})],
                  [workload("w", [0.0], image="app:1", image_pull_failure_probability=1.0)],
                  catalog=[image("app:1", ("app", MB))], duration_s=40)
    _, result = run(sc)
    assert result.events[result.events["kind"] == "ErrImagePull"]["time"].tolist() == [0.0, 10.0, 30.0]


def test_a_restart_pays_the_containers_start_latency_not_the_pods():
    # app:1 is pre-pulled (IfNotPresent: no pull). Explicit container app (start 0.25 s), pod start_latency 0.75 s, crash 1 s into
    # every run. First start: 0.25 + 0.75 -> Running at 1.0, exit at 2.0. A restart
    # creates and starts the container in the running sandbox (computePodActions: no new
    # sandbox): immediate first restart + 0.25 -> 2.25, exit 3.25. (Before: + 1.0 -> exit
    # 4.0.) With the image: shorthand the pod's start_latency is the container's: 0.75 s
    # at the start and at each restart: exits 1.75, 3.5.
    cat = [image("app:1", ("app", MB))]
    crash = {"probability": 1.0, "after": const(1)}
    sc = scenario([pool(prepulled_images=["app:1"])], [workload("w", [0.0], duration=10**6, crash=crash, start_latency=const(0.75),
                                      containers=[{"name": "app", "image": "app:1", "start_latency": const(0.25)}])],
                  catalog=cat, duration_s=5)
    _, result = run(sc)
    assert result.events[result.events["kind"] == "ContainerTerminated"]["time"].tolist() == [2.0, 3.25]
    sc = scenario([pool(prepulled_images=["app:1"])], [workload("w", [0.0], duration=10**6, crash=crash, start_latency=const(0.75),
                                      image="app:1")], catalog=cat, duration_s=5)
    _, result = run(sc)
    assert result.events[result.events["kind"] == "ContainerTerminated"]["time"].tolist() == [1.75, 3.5]


# -- 4. containerd's download slots -------------------------------------------------------


def test_max_concurrent_downloads_per_pull_and_per_node():
    # Parallel pulls on one node at 100 MB/s. x:1 = one 100 MB layer (requested first),
    # y:1 = four 100 MB layers. Bandwidth is shared equally by the active layer downloads.
    # - no limit (0): 5 streams at 20 MB/s: x's layer ends at 100 / 20 = 5 s; y at 5 s.
    # - 3 per pull (containerd <= 2.0, the default): x 1 stream + y 3 = 4 at 25 MB/s: x
    #   ends at 4 s (y's first three too); y's last layer alone at 100 MB/s: 5 s.
    # - 3 per node (containerd 2.1+, dockerd): x's layer and y's first two at 33.3 MB/s:
    #   all end at 3 s (x done); y's last two at 50 MB/s each: 3 + 2 = 5 s.
    # y ends at 5 s in every case (processor sharing is work-conserving: 500 MB / 100).
    cat = [image("x:1", ("x", 100 * MB)), image("y:1", *[(f"y{k}", 100 * MB) for k in range(4)])]
    ends = {}
    for label, extra in (("none", {"max_concurrent_downloads": 0}), ("pull", {}),
                         ("node", {"download_limit_scope": "node"})):
        sc = scenario([pool(kubelet={"serializeImagePulls": False}, **extra)],
                      [workload("x", [0.0], image="x:1"), workload("y", [0.0], image="y:1")], catalog=cat)
        _, result = run(sc)
        ends[label] = (row(result, "x-0")["pull_end"], row(result, "y-0")["pull_end"])
    assert ends["none"] == (5.0, 5.0)
    assert ends["pull"] == (4.0, 5.0)
    assert ends["node"][1] == 5.0 and math.isclose(ends["node"][0], 3.0)


def test_a_pull_queued_behind_one_of_the_same_image_is_still_a_pull():
    # Serialized pulls: two pods need app:1 (100 MB at 100 MB/s) on one node at 0 s. Both
    # requests are made at 0 s while the image is missing (pull_bytes 100 MB each); the
    # first downloads it 0 -> 1 s, the second comes out of the queue at 1 s and finds it
    # present. Both pods pulled: pull times 1 and 1 s (the second waited in the queue),
    # median 1 s. A third pod at 5 s finds the image present (IfNotPresent: no pull).
    sc = scenario([pool()], [workload("w", [0.0, 0.0, 5.0], image="app:1")],
                  catalog=[image("app:1", ("app", 100 * MB))])
    _, result = run(sc)
    pods = result.pods.set_index("pod")
    assert pods["pull_bytes"].tolist() == [100 * MB, 100 * MB, 0]
    assert pods["image_pull_time"].tolist() == [1.0, 1.0, 0.0]
    s = result.summary()
    assert s["pods_pulled"].item() == 2 and s["image_pull_time_p50_s"].item() == 1.0


def test_a_node_added_later_gets_its_own_gc_timeline_and_a_removed_one_none():
    # p-0 starts at 0 s: passes at 300, 600 s. At 100 s a node of the same pool joins
    # (its pool pre-pulls the four images: 95% again): its passes are at 400, 700 s. The
    # first pass of each frees c and b (as derived above). p-0 is removed at 500 s: no
    # pass on it at 600 s (p-1's at 700 s finds 65%: nothing). The timeline that starts
    # earlier (p-1's at 400 s) wakes the GC process, which slept until 600 s.
    from k8sim import Simulation

    sc = scenario(
        [pool(image_disk=str(1000 * MB), prepulled_images=["c:1", "b:1", "a:1", "d:1"])],
        [workload("d", [50.0], duration=10.0, image="d:1")], catalog=GC_CAT, duration_s=800,
    )
    sim = Simulation(sc)
    sim.env.run(until=100)
    nodes = sim.state.nodes
    sim.api.add_node(name="p-1", allocatable=nodes.alloc[:, 0].copy(), labels={}, taints=[], pool=0)
    sim.env.run(until=500)
    sim.api.remove_node(0)
    result = sim.run()
    gc = result.frames["image_gc"]
    assert list(zip(gc["time"], gc["node"], gc["images_deleted"], strict=True)) == [(300.0, "p-0", 2),
                                                                                   (400.0, "p-1", 2)]


def _fourth_backoff_delays(**kubelet):
    # 200 pods crash 1 s into every run: exits at 1 and 2 s (the first restart is
    # immediate), then back-offs of 10, 20 and 40 s. The delay of the 40 s one is the
    # time from the fourth exit to the restart (the fifth exit minus the 1 s run).
    sc = scenario([pool(kubelet=kubelet)], [workload("w", [0.0] * 200, duration=10**6,
                                                     crash={"probability": 1.0, "after": const(1)})],
                  catalog=[image("app:1", ("app", MB))], duration_s=120)
    _, result = run(sc)
    ev = result.events
    waits = ev[ev["kind"] == "BackOff"].groupby("pod")["detail"].apply(list)
    assert (waits.str[2] == "back-off 40s restarting failed container main").all()
    exits = ev[ev["kind"] == "ContainerTerminated"].groupby("pod")["time"].apply(list)
    return exits.str[4] - exits.str[3] - 1.0


def test_crash_loop_requeue_at_the_back_off_expiry_since_kubernetes_1_35():
    # Kubernetes 1.35+ (the default): the sync in back-off fails with the back-off's
    # expiry, and the pod worker requeues the pod after wait.Jitter(min(remaining, 60 s),
    # 0.5): the fourth exit's sync requeues it 40 * (1 + 0.5 u) s later, uniform in
    # [40, 60), mean 50 (sd 5.77; the mean of 200 has sd 0.41). With 200 pods some delays
    # exceed 55 s (P(none) = 0.75^200).
    delay = _fourth_backoff_delays()
    assert (delay >= 40.0).all() and (delay < 60.0).all()
    assert abs(delay.mean() - 50.0) < 1.5 and (delay > 55.0).any()


def test_crash_loop_requeue_on_the_10_s_grid_up_to_kubernetes_1_34():
    # podWorkerRequeueAtBackOffExpiry false: syncs every 10 * (1 + 0.5 u) s after the
    # fourth exit; the restart is the first with a total >= 40 s: three draws sum to
    # [30, 45), so it comes after the third or fourth, in [40, 55) (never 55 or more).
    delay = _fourth_backoff_delays(podWorkerRequeueAtBackOffExpiry=False)
    assert (delay >= 40.0).all() and (delay < 55.0).all()


def test_pod_worker_sync_functions():
    # Pure functions of k8sim.runtime.podworker. Without jitter the syncs after a failed
    # sync at 5 s are at 15, 25, 35, 45 s: the first at least 40 s later is 45 s, and so is
    # the first at least 35 s later (30 < 35 <= 40). Period 0: exactly at expiry.
    from k8sim.runtime.podworker import PodWorkerTiming, next_sync, restart_sync

    grid = PodWorkerTiming(jitter=0.0)
    assert next_sync(grid, None, 5.0, 40.0) == 45.0 and next_sync(grid, None, 5.0, 35.0) == 45.0
    assert next_sync(PodWorkerTiming(backoff_period_s=0.0), None, 5.0, 35.0) == 40.0
    # Requeue at expiry without jitter: 300 s in steps of at most 60 s -> exactly 300 s;
    # 25 s -> exactly 25 s (the grid would give 30 s).
    at_expiry = PodWorkerTiming(jitter=0.0)
    assert restart_sync(at_expiry, None, 100.0, 300.0) == 400.0
    assert restart_sync(at_expiry, None, 100.0, 25.0) == 125.0
    assert restart_sync(PodWorkerTiming(jitter=0.0, requeue_at_expiry=False), None, 100.0, 25.0) == 130.0
    # With jitter 0.5: a 300 s back-off ends in [300, 330): the last step is at most the
    # 60 s cap, stretched by at most 1.5 -> at most 30 s past the expiry.
    rng = np.random.default_rng(0)
    ends = [restart_sync(PodWorkerTiming(), rng, 0.0, 300.0) for _ in range(2000)]
    assert min(ends) >= 300.0 and max(ends) < 330.0
