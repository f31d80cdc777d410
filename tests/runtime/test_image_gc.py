"""Image GC on the node layer store: thresholds, LRU order, in-use images, shared layers,
and a node that loses an image and pulls it again."""

from __future__ import annotations

import numpy as np
from rt_helpers import MB, NO_JITTER, image, pool, row, run, scenario, workload

from k8sim.runtime.catalog import CatalogBuilder
from k8sim.runtime.store import ImageStore, NodeImageConfig, usage_percent


def make_store(images: dict[str, list[tuple[str, int]]], capacity: int, min_age: float = 0.0) -> ImageStore:
    b = CatalogBuilder()
    for name, layers in images.items():
        b.image(name, [b.layer(d, s, "test") for d, s in layers], "catalog", "test")
    cfg = NodeImageConfig(disk_capacity=capacity, gc_high_percent=85, gc_low_percent=80, gc_min_age_s=min_age)
    store = ImageStore(b.build(), [cfg])
    store.sync(np.zeros(1, dtype=np.int32))  # one node, of pool 0
    return store


def test_usage_percent_is_kubelets_integer_formula():
    # 100 - int(available * 100 / capacity): 130 of 1000 free -> 100 - 13 = 87;
    # 131 free -> 100 - int(13.1) = 87; 1 free -> 100 - 0 = 100.
    assert usage_percent(1000, 870) == 87
    assert usage_percent(1000, 869) == 87
    assert usage_percent(1000, 999) == 100
    assert usage_percent(1000, 0) == 0


def test_gc_frees_to_the_low_threshold_in_lru_order():
    # Disk 1000 MB. Present and unused: A 100 MB (last used 10 s), B 50 MB (5 s),
    # C 300 MB (20 s); E 10 MB was used longest ago (1 s) but is in use by a pod.
    # Used = 460 MB. A pull of D (420 MB) would make 880 MB: available 120 MB,
    # usage = 100 - 120*100/1000 = 88 >= 85 -> free 1000 * (100 - 80) / 100 - 120 = 80 MB.
    # LRU order skipping E: B (50 MB, not enough), then A (total 150 >= 80): C stays.
    # Usage afterwards: 880 - 150 = 730 MB <= the low threshold (800 MB).
    store = make_store({"a": [("a", 100 * MB)], "b": [("b", 50 * MB)], "c": [("c", 300 * MB)],
                        "d": [("d", 420 * MB)], "e": [("e", 10 * MB)]}, capacity=1000 * MB)
    ids = {n: store.catalog.id_of(n) for n in "abcde"}
    for name, t in (("a", 10.0), ("b", 5.0), ("c", 20.0), ("e", 1.0)):
        store.add_image(ids[name], 0, t)
    store.use((ids["e"],), 0, 0.5)
    store.image_last_used[ids["e"], 0] = 1.0
    assert store.disk_used[0] == 460 * MB
    fits, gc = store.make_room(0, 420 * MB, now=30.0)
    assert fits
    assert [store.catalog.image_names[i] for i in gc.removed] == ["b:latest", "a:latest"]
    assert gc.freed == 150 * MB
    assert store.disk_used[0] == 310 * MB  # the 420 MB are the caller's to add
    assert store.image_present[ids["c"], 0] and store.image_present[ids["e"], 0]
    assert int(store.present_count[ids["a"]]) == 0


def test_gc_does_not_run_below_the_high_threshold():
    # 840 of 1000 MB after the pull: usage 84 < 85, nothing is deleted.
    store = make_store({"a": [("a", 440 * MB)], "d": [("d", 400 * MB)]}, capacity=1000 * MB)
    store.add_image(store.catalog.id_of("a"), 0, 0.0)
    fits, gc = store.make_room(0, 400 * MB, now=10.0)
    assert fits and gc.removed == []


def test_gc_frees_only_layers_no_other_image_uses():
    # x = [base 200 MB, x 100 MB], y = [base, y 100 MB]: 400 MB on disk. Deleting x (LRU)
    # frees only its own 100 MB: the base is still y's. New 600 MB pull: 1000 MB, usage
    # 100 -> free 200 MB: x frees 100, then y frees 100 + 200 = 300 (base gone too).
    store = make_store({"x": [("base", 200 * MB), ("x", 100 * MB)], "y": [("base", 200 * MB), ("y", 100 * MB)],
                        "z": [("z", 600 * MB)]}, capacity=1000 * MB)
    x, y = store.catalog.id_of("x"), store.catalog.id_of("y")
    store.add_image(x, 0, 1.0)
    store.add_image(y, 0, 2.0)
    assert store.disk_used[0] == 400 * MB
    fits, gc = store.make_room(0, 600 * MB, now=5.0)
    assert fits and gc.removed == [x, y] and gc.freed == 400 * MB
    assert not store.layer_present[:, 0].any()


def test_gc_respects_the_minimum_age():
    # imageMinimumGCAge 120 s: an image pulled at 50 s is kept at 100 s even though
    # the disk is over the threshold; the pull does not fit and fails.
    store = make_store({"a": [("a", 600 * MB)], "d": [("d", 500 * MB)]}, capacity=1000 * MB, min_age=120.0)
    store.add_image(store.catalog.id_of("a"), 0, 50.0)
    fits, gc = store.make_room(0, 500 * MB, now=100.0)
    assert not fits and gc.removed == []
    fits, gc = store.make_room(0, 500 * MB, now=170.0)
    assert fits and gc.removed == [store.catalog.id_of("a")]


def test_a_node_loses_an_image_and_pulls_it_again():
    # One node, 1000 MB disk, minimum GC age 0. a (600 MB) pod runs 0-16 s (pull 6 s +
    # 10 s); b (600 MB) pod arrives at 20 s: 1200 MB would not fit -> GC deletes a
    # (unused since 16 s); b pulls 20-26 s, runs to 36 s. A second a pod at 40 s: a is
    # gone, b is unused -> GC deletes b, a is pulled again: 40-46 s.
    cat = [image("a:1", ("a", 600 * MB)), image("b:1", ("b", 600 * MB))]
    sc = scenario(
        [pool(image_disk=str(1000 * MB), kubelet={"imageMinimumGCAgeSeconds": 0})],
        [workload("a", [0.0, 40.0], duration=10.0, image="a:1"), workload("b", [20.0], duration=10.0, image="b:1")],
        catalog=cat,
    )
    sim, result = run(sc)
    assert row(result, "a-0")["pull_end"] == 6.0
    assert row(result, "b-0")["pull_end"] == 26.0
    assert row(result, "a-1")["pull_start"] == 40.0 and row(result, "a-1")["pull_end"] == 46.0
    gc = result.events[result.events["kind"] == "ImageGC"]
    assert gc["time"].tolist() == [20.0, 40.0]
    assert gc["detail"].tolist() == ["deleted image a:1", "deleted image b:1"]
    assert sim.kubelet.puller.downloads == 3


def test_a_pull_that_cannot_fit_fails_and_retries():
    # Disk 1000 MB; a long-running pod holds a (600 MB, in use). A b pod (600 MB) at
    # 10 s cannot fit even after GC (a is in use): "no space left on device",
    # ImagePullBackOff 10 s, 20 s, ... until a's pod ends at 6 + 100 = 106 s. Retries at
    # 20, 40, 80, 160 s: the one at 160 s finds a unused, deletes it and pulls b (6 s).
    cat = [image("a:1", ("a", 600 * MB)), image("b:1", ("b", 600 * MB))]
    sc = scenario(
        [pool(image_disk=str(1000 * MB), kubelet={"imageMinimumGCAgeSeconds": 0, **NO_JITTER})],
        [workload("a", [0.0], duration=100.0, image="a:1"), workload("b", [10.0], duration=1.0, image="b:1")],
        catalog=cat, duration_s=1000,
    )
    _, result = run(sc)
    b = row(result, "b-0")
    assert b["pull_failures"] == 4
    assert b["pull_end"] == 166.0
    errors = result.events[result.events["kind"] == "ErrImagePull"]
    assert errors["time"].tolist() == [10.0, 20.0, 40.0, 80.0]
    assert errors["detail"].str.contains("no space left on device").all()


def test_without_duration_s_a_pull_waiting_for_room_does_not_keep_the_run_alive():
    # Same as above without duration_s (the run ends when nothing is left to happen).
    # a's pod ends at 106 s; b's pull failed at 10 s with only in-use images on the node,
    # so it waits for a pod to leave, then retries when kubelet would have: the retries
    # at 20, 40 and 80 s would have failed (counted, not logged), the one at 160 s works.
    cat = [image("a:1", ("a", 600 * MB)), image("b:1", ("b", 600 * MB))]
    sc = scenario(
        [pool(image_disk=str(1000 * MB), kubelet={"imageMinimumGCAgeSeconds": 0, **NO_JITTER})],
        [workload("a", [0.0], duration=100.0, image="a:1"), workload("b", [10.0], duration=1.0, image="b:1")],
        catalog=cat,
    )
    _, result = run(sc)
    b = row(result, "b-0")
    assert b["pull_failures"] == 4 and b["pull_end"] == 166.0
    assert result.events[result.events["kind"] == "ErrImagePull"]["time"].tolist() == [10.0]
    # If a's pod never ends, b waits for good and the run still ends (after b's failure).
    sc = scenario(
        [pool(image_disk=str(1000 * MB), kubelet={"imageMinimumGCAgeSeconds": 0})],
        [workload("a", [0.0], duration=None, image="a:1"), workload("b", [10.0], duration=1.0, image="b:1")],
        catalog=cat,
    )
    sim, result = run(sc)
    b = row(result, "b-0")
    assert b["reason"] == "ImagePullBackOff" and b["pull_failures"] == 1 and np.isnan(b["running"])
    assert sim.end_time == 10.0
