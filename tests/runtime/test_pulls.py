"""Image pulls: missing layers only, shared downloads, processor-sharing bandwidth,
serialized and parallel pullers, the registry QPS limit, registry-wide bandwidth.

Every expected time is derived by hand in a comment. Sizes are decimal MB and node
bandwidth is 100 MB/s (the default), so a layer of s MB downloading alone takes s/100 s.
"""

from __future__ import annotations

import pytest
from rt_helpers import MB, NO_JITTER, image, pool, row, run, scenario, workload

PARALLEL = {"serializeImagePulls": False}


def test_only_missing_layers_are_downloaded():
    # app:1 = [a 100 MB, b 50 MB, c 200 MB]; base:1 = [b] is pre-pulled, so b is cached.
    # a and c download together, sharing 100 MB/s: 50 MB/s each until a ends at
    # 100/50 = 2 s; c then has 200 - 100 = 100 MB left at 100 MB/s: 1 s more.
    # Pull time = 3 s = (a + c) / bandwidth = 300 MB / 100 MB/s.
    sc = scenario(
        [pool(prepulled_images=["base:1"])],
        [workload("w", [0.0], image="app:1", imagePullPolicy="IfNotPresent")],
        catalog=[image("app:1", ("a", 100 * MB), ("b", 50 * MB), ("c", 200 * MB)), image("base:1", ("b", 50 * MB))],
    )
    sim, result = run(sc)
    r = row(result, "w-0")
    assert r["pull_start"] == 0.0
    assert r["pull_end"] == 3.0
    assert r["image_pull_time"] == 3.0
    assert r["running"] == 3.0  # start latencies are 0
    assert sim.kubelet.puller.downloads == 2
    assert sim.kubelet.puller.bytes_downloaded == 300 * MB


def test_without_the_cached_layer_the_pull_takes_longer():
    # Same image, nothing cached: a, b, c start together at 100/3 MB/s each.
    # b (50) ends at 50 * 3 / 100 = 1.5 s; a, c have 50 and 150 MB left at 50 MB/s:
    # a ends 1 s later (2.5 s); c has 100 MB left at 100 MB/s: 3.5 s = 350 MB / 100 MB/s.
    sc = scenario(
        [pool()],
        [workload("w", [0.0], image="app:1")],
        catalog=[image("app:1", ("a", 100 * MB), ("b", 50 * MB), ("c", 200 * MB))],
    )
    _, result = run(sc)
    assert row(result, "w-0")["pull_end"] == pytest.approx(3.5, rel=1e-12)


@pytest.mark.parametrize("kubelet", [{}, PARALLEL], ids=["serialized", "parallel"])
def test_two_pods_pulling_one_image_share_the_download(kubelet):
    # Two pods of one 200 MB single-layer image bound together on one node. Parallel
    # pullers: the second pull finds the layer downloading and waits for it; serialized:
    # the second pull runs after the first and finds the layer present. Either way one
    # download of 200 MB at 100 MB/s: both pods have the image at 2 s.
    sc = scenario(
        [pool(kubelet=kubelet)],
        [workload("w", [0.0, 0.0], image="big:1")],
        catalog=[image("big:1", ("L", 200 * MB))],
    )
    sim, result = run(sc)
    assert sim.kubelet.puller.downloads == 1
    assert row(result, "w-0")["pull_end"] == 2.0
    assert row(result, "w-1")["pull_end"] == 2.0
    assert row(result, "w-1")["image_pull_time"] == 2.0


def test_processor_sharing_completion_times():
    # Images of 100 MB and 300 MB pulled at once on a 100 MB/s node (parallel pulls):
    # 50 MB/s each; the first ends at 100/50 = 2 s, when the second has 300 - 100 = 200 MB
    # left, now alone at 100 MB/s: it ends 2 s later, at 4 s.
    sc = scenario(
        [pool(kubelet=PARALLEL)],
        [workload("small", [0.0], image="s:1"), workload("large", [0.0], image="l:1")],
        catalog=[image("s:1", ("s", 100 * MB)), image("l:1", ("l", 300 * MB))],
    )
    _, result = run(sc)
    assert row(result, "small-0")["pull_end"] == 2.0
    assert row(result, "large-0")["pull_end"] == 4.0


def test_a_download_joining_later_slows_the_first():
    # 300 MB starts at 0 alone (100 MB/s); at 1 s (200 MB left) a 100 MB pull joins:
    # 50 MB/s each. The 100 MB one ends at 1 + 100/50 = 3 s, when the first has
    # 200 - 100 = 100 MB left, alone again: 1 s more, 4 s. Total bytes / bandwidth = 4 s.
    sc = scenario(
        [pool(kubelet=PARALLEL)],
        [workload("large", [0.0], image="l:1"), workload("small", [1.0], image="s:1")],
        catalog=[image("s:1", ("s", 100 * MB)), image("l:1", ("l", 300 * MB))],
    )
    _, result = run(sc)
    assert row(result, "small-0")["pull_end"] == 3.0
    assert row(result, "large-0")["pull_end"] == 4.0


def test_serialized_pulls_wait_in_line():
    # Default serializeImagePulls: the 300 MB pull waits for the 100 MB one (1 s), then
    # takes 3 s alone: it ends at 4 s and its pod spent 4 s pulling (waiting included).
    sc = scenario(
        [pool()],
        [workload("small", [0.0], image="s:1"), workload("large", [0.0], image="l:1")],
        catalog=[image("s:1", ("s", 100 * MB)), image("l:1", ("l", 300 * MB))],
    )
    _, result = run(sc)
    assert row(result, "small-0")["pull_end"] == 1.0
    assert row(result, "large-0")["pull_end"] == 4.0
    assert row(result, "large-0")["image_pull_time"] == 4.0


def test_max_parallel_image_pulls_limits_concurrency():
    # Three 100 MB pulls, at most two at once: the first two share the link and end at
    # 2 s; the third then runs alone for 1 s: 3 s.
    sc = scenario(
        [pool(kubelet={"serializeImagePulls": False, "maxParallelImagePulls": 2})],
        [workload("a", [0.0], image="a:1"), workload("b", [0.0], image="b:1"), workload("c", [0.0], image="c:1")],
        catalog=[image("a:1", ("a", 100 * MB)), image("b:1", ("b", 100 * MB)), image("c:1", ("c", 100 * MB))],
    )
    _, result = run(sc)
    assert [row(result, f"{w}-0")["pull_end"] for w in "abc"] == [2.0, 2.0, 3.0]


def test_if_not_present_skips_a_present_image_and_always_pulls_it_again():
    # The image is pre-pulled. IfNotPresent: no pull at all (pull_start stays NaN).
    # Always (the default for a :latest tag): a pull request that downloads nothing and
    # ends at once (0 s), but is a pull (pull_start set, a registry token spent).
    cat = [image("app:latest", ("a", 100 * MB))]
    base = dict(prepulled_images=["app"])
    _, r1 = run(scenario([pool(**base)], [workload("w", [0.0], image="app", imagePullPolicy="IfNotPresent")],
                         catalog=cat))
    assert r1.pods["pull_start"].isna().all()
    assert row(r1, "w-0")["image_pull_time"] == 0.0
    sim, r2 = run(scenario([pool(**base)], [workload("w", [0.0], image="app")], catalog=cat))
    r = row(r2, "w-0")
    assert r["pull_start"] == 0.0 and r["pull_end"] == 0.0
    assert sim.kubelet.puller.downloads == 0


def test_registry_qps_limit_fails_pulls_beyond_the_burst():
    # registryPullQPS 1, registryBurst 2, four Always pulls of a present image at t = 0
    # with parallel pullers: the bucket starts full (2 tokens), so pulls 1-2 pass and
    # pulls 3-4 fail with "pull QPS exceeded" and back off 10 s. At 10 s the bucket has
    # min(2, 0 + 10 * 1) = 2 tokens: both retries pass.
    sc = scenario(
        [pool(prepulled_images=["app"], kubelet={"serializeImagePulls": False, "registryPullQPS": 1,
                                                 "registryBurst": 2, **NO_JITTER})],
        [workload("w", [0.0, 0.0, 0.0, 0.0], image="app")],
        catalog=[image("app:latest", ("a", 100 * MB))],
    )
    _, result = run(sc)
    pods = result.pods.set_index("pod")
    assert pods["pull_failures"].tolist() == [0, 0, 1, 1]
    assert pods["pull_end"].tolist() == [0.0, 0.0, 10.0, 10.0]
    errors = result.events[result.events["kind"] == "ErrImagePull"]
    assert len(errors) == 2 and errors["detail"].str.contains("pull QPS exceeded").all()


def test_registry_bandwidth_is_shared_across_nodes():
    # Two nodes at 100 MB/s each behind a 100 MB/s registry, each pulling its own 100 MB
    # image at t = 0: max-min fair shares are 50 MB/s each, so both end at 2 s (without
    # the registry limit: 1 s).
    cat = [image("x:1", ("x", 100 * MB)), image("y:1", ("y", 100 * MB))]
    wl = [workload("x", [0.0], image="x:1", nodeName="p-0"), workload("y", [0.0], image="y:1", nodeName="p-1")]
    _, limited = run(scenario([pool(count=2)], wl, catalog=cat, images={"registry_bandwidth": "100M"}))
    assert row(limited, "x-0")["pull_end"] == 2.0 and row(limited, "y-0")["pull_end"] == 2.0
    _, free = run(scenario([pool(count=2)], wl, catalog=cat))
    assert row(free, "x-0")["pull_end"] == 1.0


def test_registry_bandwidth_water_filling():
    # Node a at 20 MB/s pulls 100 MB; node b at 100 MB/s pulls 480 MB; registry 100 MB/s.
    # Water-filling: a's cap 20 is below the fair level 100/2, so a gets 20 and b the
    # remaining 80. a ends at 100/20 = 5 s, when b has 480 - 5 * 80 = 80 MB left; b then
    # gets min(100, 100) = 100 MB/s: 0.8 s more, 5.8 s.
    cat = [image("x:1", ("x", 100 * MB)), image("y:1", ("y", 480 * MB))]
    sc = scenario(
        [pool("a", image_pull_bandwidth="20M"), pool("b")],
        [workload("x", [0.0], image="x:1", nodeName="a-0"), workload("y", [0.0], image="y:1", nodeName="b-0")],
        catalog=cat, images={"registry_bandwidth": "100M"},
    )
    _, result = run(sc)
    assert row(result, "x-0")["pull_end"] == pytest.approx(5.0, rel=1e-12)
    assert row(result, "y-0")["pull_end"] == pytest.approx(5.8, rel=1e-12)


def test_layers_shared_between_images_download_once_per_node():
    # nginx, redis and python:slim share the Debian base layer in the built-in catalog:
    # after nginx, redis downloads only its own layers (published sizes from
    # official_images_amd64.csv: 1101 + 824 + 25639861 + 97 + 32 + 2109 bytes).
    sc = scenario(
        [pool()],
        [workload("nginx", [0.0], image="nginx"), workload("redis", [100.0], image="redis")],
        images={}, builtin=True,
    )
    sim, result = run(sc)
    nginx_bytes = 29780905 + 33325076 + 626 + 955 + 403 + 1210 + 1397
    redis_own = 1101 + 824 + 25639861 + 97 + 32 + 2109
    assert sim.kubelet.puller.bytes_downloaded == nginx_bytes + redis_own
    # redis alone on the link: its own bytes at 100 MB/s, six layers sharing it; the
    # last to finish is the biggest, so the pull ends after redis_own / 1e8 s.
    assert row(result, "redis-0")["image_pull_time"] == pytest.approx(redis_own / 1e8, rel=1e-9)
