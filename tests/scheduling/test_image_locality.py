"""ImageLocality: upstream ``TestImageLocalityPriority`` (image_locality_test.go, newest:
per-container max threshold, init containers counted) with each score derived by hand,
plus k8sim's wiring (one store shared with the kubelet, kube-default weight 1).

Upstream arithmetic (mb = 1024 * 1024, min = 23 mb, max = 1000 mb * containers):
    scaled = int64(float64(size) * float64(numNodes) / float64(totalNumNodes))
    score  = 100 * (clamp(sum of scaled over containers whose image the node has) - min) / (max - min)
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim import ScenarioError, Simulation, validate_scenario
from k8sim.cluster.node_images import NodeImageStatus, attach_status
from k8sim.runtime.catalog import CatalogBuilder, normalize_image_name
from k8sim.runtime.store import ImageStore, attach
from k8sim.scheduling.plugins.image_locality import MAX_CONTAINER_THRESHOLD, MIN_THRESHOLD, ImageLocality
from k8sim.scheduling.profiles import PRESETS

MB = 1024 * 1024
SIZES = (10, 20, 30, 40, 250, 300, 600, 900, 2000, 4000)  # gcr.io/<n>, <n> MB each

# Upstream node image lists.
NODE_40_300_2000 = (40, 300, 2000)
NODE_250_10 = (250, 10)
NODE_600_40_900 = (600, 40, 900)
NODE_300_600_900 = (300, 600, 900)
NODE_4000_30 = (4000, 30)
NODE_20_30_40 = (20, 30, 40)
NODE_NO_IMAGES: tuple[int, ...] = ()


def setup(nodes: list[tuple[int, ...]]):
    state = make_state([node(f"node{i + 1}", cpu="4", memory="8Gi") for i in range(len(nodes))])
    b = CatalogBuilder()
    for s in SIZES:
        b.image(f"gcr.io/{s}", [b.layer(f"sha256:{s}", s * MB, "test")], "catalog", "test")
    store = ImageStore(b.build(), [])
    store.sync(state.nodes.pool)
    for n, images in enumerate(nodes):
        for s in images:
            store.add_image(store.catalog.id_of(f"gcr.io/{s}"), n, 0.0)
    attach(state, store)
    return state, store


def scores(nodes, containers, init=()):
    state, store = setup(nodes)
    ids = tuple(store.catalog.id_of(f"gcr.io/{s}") for s in (*init, *containers))
    pod = make_pod(state, {"cpu": "1"}, container_images=ids)
    plugin = ImageLocality()
    assert plugin.pre_score(state, pod)
    return plugin.score(state, pod, np.arange(state.nodes.n)).tolist()


# (name, pod containers, pod init containers, node image lists, expected scores)
CASES = [
    # Pod 40, 250. node1 has 40 (1 of 2 nodes): int(40 mb * 1/2) = 20 mb < 23 mb -> 0.
    # node2 has 250: 250 mb / 2 = 131,072,000; 100 * (131,072,000 - 24,117,248) /
    # (2,097,152,000 - 24,117,248) = 10,695,475,200 / 2,073,034,752 = 5.16 -> 5.
    ("two images spread on two nodes, prefer the larger image one", (40, 250), (),
     [NODE_40_300_2000, NODE_250_10], [0, 5]),
    # Pod 40, 300. node1 has both (each on 1 of 2 nodes): 20 mb + 150 mb = 170 mb =
    # 178,257,920; 100 * (178,257,920 - 24,117,248) / 2,073,034,752 = 7.43 -> 7. node2: 0.
    ("two images on one node, prefer this node", (40, 300), (),
     [NODE_40_300_2000, NODE_250_10], [7, 0]),
    # Pod 4000, 10. node1 has 4000 on 1 of 2: 2000 mb >= max 2000 mb -> 100.
    # node2 has 10: 5 mb < 23 mb -> 0.
    ("if exceed limit, use limit", (10, 4000), (), [NODE_4000_30, NODE_250_10], [100, 0]),
    # Same pod, three nodes: 4000 mb * 1/3 = 1,398,101,333 (int64 of 4,194,304,000 / 3);
    # 100 * (1,398,101,333 - 24,117,248) / 2,073,034,752 = 66.28 -> 66. 10 mb / 3 -> 0.
    ("if exceed limit, use limit (with node which has no images present)", (10, 4000), (),
     [NODE_4000_30, NODE_250_10, NODE_NO_IMAGES], [66, 0, 0]),
    # Pod 300, 600, 900 (3 containers: max 3000 mb = 3,145,728,000). 600 and 900 are on 2
    # of 3 nodes, 300 on 1 of 3. node1: int(600 mb * 2/3) + int(900 mb * 2/3) =
    # 419,430,400 + 629,145,600 = 1,048,576,000; 100 * (1,048,576,000 - 24,117,248) /
    # (3,145,728,000 - 24,117,248) = 32.82 -> 32. node2 adds int(300 mb / 3) =
    # 104,857,600: 100 * (1,153,433,600 - 24,117,248) / 3,121,610,752 = 36.18 -> 36.
    ("pod with multiple large images, node2 is preferred", (300, 600, 900), (),
     [NODE_600_40_900, NODE_300_600_900, NODE_NO_IMAGES], [32, 36, 0]),
    # Pod 30, 40. 30 is on both nodes (2/2), 40 on 1 of 2. node1: 30 mb + 20 mb = 50 mb =
    # 52,428,800; 100 * (52,428,800 - 24,117,248) / 2,073,034,752 = 1.37 -> 1.
    # node2: 30 mb = 31,457,280: 100 * 7,340,032 / 2,073,034,752 = 0.35 -> 0.
    ("pod with multiple small images", (30, 40), (), [NODE_20_30_40, NODE_4000_30], [1, 0]),
    # Pod 30 with init container 300 (2 containers). node1 has 300 (1 of 2): 150 mb =
    # 157,286,400; 100 * (157,286,400 - 24,117,248) / 2,073,034,752 = 6.42 -> 6.
    # node2 has 30 (1 of 2): 15 mb < 23 mb -> 0.
    ("include InitContainers: two images spread on two nodes, prefer the larger image one", (30,), (300,),
     [NODE_40_300_2000, NODE_20_30_40], [6, 0]),
]


@pytest.mark.parametrize(("name", "containers", "init", "nodes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_image_locality_priority(name, containers, init, nodes, expected):
    assert scores(nodes, containers, init) == expected


def test_thresholds_are_upstreams():
    assert MIN_THRESHOLD == 23 * 1024 * 1024 and MAX_CONTAINER_THRESHOLD == 1000 * 1024 * 1024


def test_skipped_without_images():
    state, _ = setup([NODE_40_300_2000])
    assert not ImageLocality().pre_score(state, make_pod(state, {"cpu": "1"}))
    plain = make_state([node("n1", cpu="4", memory="8Gi")])  # no image store at all
    assert not ImageLocality().pre_score(plain, make_pod(plain, {"cpu": "1"}, container_images=(0,)))


def test_scores_follow_the_store():
    # The score reads the live store: an image arriving on a node changes the next score.
    # Pod 300 on two nodes: none has it -> [0, 0]; node2 gets it (1 of 2): 150 mb -> 6.
    state, store = setup([NODE_NO_IMAGES, NODE_NO_IMAGES])
    img = store.catalog.id_of("gcr.io/300")
    pod = make_pod(state, {"cpu": "1"}, container_images=(img,))
    plugin = ImageLocality()
    cand = np.arange(2)
    assert plugin.score(state, pod, cand).tolist() == [0, 0]
    store.add_image(img, 1, 5.0)
    # One container: max 1000 mb. 100 * (157,286,400 - 24,117,248) / (1,048,576,000 -
    # 24,117,248) = 13.0 -> 12 (13,316,915,200 / 1,024,458,752 = 12.999).
    assert plugin.score(state, pod, cand).tolist() == [0, 12]


def test_kube_default_has_image_locality_weight_1():
    refs = {r.name: r for r in PRESETS["kube-default"].plugins}
    assert refs["ImageLocality"].weight == 1


def test_kubelet_pulls_feed_the_scheduler():
    # Two 8-cpu nodes, a 2000 MiB image, a pod at 0 s and one at 100 s. The first pulls
    # the image onto its node (the store the kubelet fills). For the second pod:
    # ImageLocality: image on 1 of 2 nodes -> 1000 mb -> 100 there, 0 on the other.
    # NodeResourcesFit LeastAllocated (cpu 1 core, memory 200Mi non-zero default):
    # image node cpu (8000 - 2000) * 100 / 8000 = 75, memory 98 -> 86; empty node 87, 99
    # -> 93. Totals 186 vs 93: the second pod joins the first, and (IfNotPresent for a
    # tagged image) does not pull.
    sc = validate_scenario({
        "cluster": {"node_pools": [{"name": "p", "count": 2, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "images": {"builtin": False, "catalog": [{"name": "big:1", "layers": [{"digest": "x", "size": "2000Mi"}]}]},
        "scheduler": {"profiles": [{"disabled": ["*"], "plugins": [{"name": "NodeResourcesFit"},
                                                                  {"name": "ImageLocality", "weight": 1}]}]},
        "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [0, 100]},
                       "template": {"image": "big:1", "requests": {"cpu": "1"}},
                       "duration": {"kind": "constant", "value": 1000}}],
    })
    pods = Simulation(sc).run().pods.set_index("pod")
    assert pods.loc["w-0", "node"] == pods.loc["w-1", "node"]
    assert pods.loc["w-0", "pull_end"] > 0 and np.isnan(pods.loc["w-1", "pull_start"])
    # Without ImageLocality the second pod spreads to the empty node.
    sc2 = sc.model_copy(update={"scheduler": validate_scenario({
        "cluster": {"node_pools": [{"name": "p", "count": 1, "allocatable": {"cpu": "1", "memory": "1Gi"}}]},
        "scheduler": {"profiles": [{"disabled": ["*"], "plugins": [{"name": "NodeResourcesFit"}]}]},
    }).scheduler})
    pods2 = Simulation(sc2).run().pods.set_index("pod")
    assert pods2.loc["w-0", "node"] != pods2.loc["w-1", "node"]


def status_scores(nodes, containers, init=()):
    """The same cases through the nodes' reported images (``status.images``), which is
    what upstream's test builds its nodes from: names ``gcr.io/<n>:latest``."""
    state = make_state([node(f"node{i + 1}", cpu="4", memory="8Gi") for i in range(len(nodes))])
    status = NodeImageStatus()
    for n, images in enumerate(nodes):
        status.add(n, [((f"gcr.io/{s}:latest", f"gcr.io/{s}:v1"), s * MB) for s in images])
    attach_status(state, status)
    pod = make_pod(state, {"cpu": "1"})
    pod.image_names = tuple(normalize_image_name(f"gcr.io/{s}") for s in (*init, *containers))
    plugin = ImageLocality()
    assert plugin.pre_score(state, pod) == any(nodes)
    return plugin.score(state, pod, np.arange(state.nodes.n)).tolist()


@pytest.mark.parametrize(("name", "containers", "init", "nodes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_image_locality_priority_from_node_status(name, containers, init, nodes, expected):
    assert status_scores(nodes, containers, init) == expected


def test_node_images_need_no_catalog():
    """A scenario's explicit nodes may list status images (no images section); with an
    images section the image store is the truth and node images are an error."""
    data = {
        "cluster": {"nodes": [
            {"name": "a", "allocatable": {"cpu": "4", "memory": "8Gi"},
             "images": [{"names": ["gcr.io/300:latest"], "sizeBytes": 300 * MB}]},
            {"name": "b", "allocatable": {"cpu": "4", "memory": "8Gi"}},
        ]},
        "workloads": [{"name": "w", "arrival": {"kind": "times", "times_s": [1]},
                       "template": {"image": "gcr.io/300", "requests": {"cpu": "1"}}}],
    }
    sim = Simulation(validate_scenario(data))
    pod = next(s for s in sim.state.shapes if s.workload == 0)
    # 300 mb on 1 of 2 nodes: 150 mb = 157,286,400; one container (max 1000 mb =
    # 1,048,576,000): 100 * (157,286,400 - 24,117,248) / 1,024,458,752 = 12.99 -> 12.
    assert ImageLocality().score(sim.state, pod, np.arange(2)).tolist() == [12, 0]
    with pytest.raises(ScenarioError, match=r"cluster.nodes\[0\].images: a scenario with an images section"):
        Simulation(validate_scenario({**data, "images": {"builtin": False,
                                                         "catalog": [{"name": "gcr.io/300", "layers": [
                                                             {"digest": "sha256:300", "size": "300Mi"}]}]}}))
