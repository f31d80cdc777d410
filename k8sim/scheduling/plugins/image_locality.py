"""ImageLocality (Score): favour nodes that already hold the pod's container images.

Mirrors upstream ``plugins/imagelocality/image_locality.go`` (v1.35):

- ``sumImageScores``: for each container, init containers included, whose image the
  node holds, add ``scaledImageScore = int64(float64(size) * float64(numNodes) /
  float64(totalNumNodes))`` (the spread scaling: an image on few nodes counts little,
  against the "node heating" problem). ``numNodes`` is the number of nodes holding the
  image, ``totalNumNodes`` the number of nodes in the cluster.
- ``calculatePriority(sum, numContainers)``: clamp the sum to ``[minThreshold,
  maxThreshold]`` with ``minThreshold = 23 MiB`` and ``maxThreshold = 1000 MiB *
  numContainers`` (init + main containers), then ``100 * (sum - min) / (max - min)`` in
  int64 arithmetic. No NormalizeScore.

Where the nodes' images come from:

- With an ``images`` section, the node image store (:mod:`k8sim.runtime.store`) is the
  one the kubelet pulls into: a node holds an image once a pull of it has finished there
  (or it was pre-pulled) and until image GC deletes it. The per-node sums are vectorised
  over all nodes and cached until one of the pod's images appears on or leaves a node.
- Without one, the images the nodes report (``cluster.nodes[].images``, read from a
  snapshot's ``status.images``: :mod:`k8sim.cluster.node_images`) are used as upstream's
  cache uses them: one entry per image *name* with the size of the first node listing
  it and ``numNodes`` = the nodes listing it; the pod's containers (init and main) are
  looked up by their normalised image names (``normalizedImageName``: ``:latest`` added
  to an untagged name).

Differences from upstream: image sizes are the catalog's compressed sizes (containerd
reports compressed content size; other runtimes may report unpacked size); the node
status lag and the 50-image cap of ``status.images`` are not modelled; a pod without
catalog images (or a scenario with neither an ``images`` section nor node images)
skips the plugin (PreScore), which is the same as upstream's score of 0 on every node.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster.node_images import NodeImageStatus, status_of
from k8sim.runtime.store import store_of
from k8sim.scheduling.plugins.base import MAX_NODE_SCORE, ScorePlugin

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

_CACHE_KEY = "ImageLocality/priority"
_STATUS_KEY = "ImageLocality/status-priority"

#: Upstream ``mb``.
MB = 1024 * 1024
#: Upstream ``minThreshold``.
MIN_THRESHOLD = 23 * MB
#: Upstream ``maxContainerThreshold`` (per container).
MAX_CONTAINER_THRESHOLD = 1000 * MB


def calculate_priority(sum_scores: np.ndarray, num_containers: int) -> np.ndarray:
    """Upstream ``calculatePriority``, element-wise (int64)."""
    max_threshold = MAX_CONTAINER_THRESHOLD * num_containers
    clamped = np.clip(sum_scores, MIN_THRESHOLD, max_threshold).astype(np.int64)
    return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality(ScorePlugin):
    """Prefer nodes holding the pod's images, scaled by how widely they are spread."""

    name = "ImageLocality"
    summary = "favour nodes that already hold the pod's images (size scaled by spread, upstream thresholds)"

    def pre_score(self, state: ClusterState, pod: PodInfo) -> bool:
        if store_of(state) is not None:
            return max(pod.container_images, default=-1) >= 0
        status = status_of(state)
        return status is not None and any(name in status.index for name in pod.image_names)

    def _status_priority(self, state: ClusterState, pod: PodInfo, status: NodeImageStatus) -> np.ndarray:
        """``calculatePriority(sumImageScores)`` over all nodes from the reported images,
        cached per pod shape until the node count changes."""
        n = state.nodes.n
        hit = pod.cache.get(_STATUS_KEY)
        if hit is not None and hit[0] == n:
            return hit[1]
        present, num_nodes = status.arrays(n)
        sums = np.zeros(n, dtype=np.int64)
        for name in pod.image_names:
            i = status.index.get(name)
            if i is None:
                continue
            spread = float(num_nodes[i]) / float(n)
            sums += present[i] * np.int64(int(float(status.sizes[i]) * spread))  # scaledImageScore
        priority = calculate_priority(sums, len(pod.image_names))
        pod.cache[_STATUS_KEY] = (n, priority)
        return priority

    def score(self, state: ClusterState, pod: PodInfo, candidates: np.ndarray) -> np.ndarray:
        store = store_of(state)
        if store is None:
            status = status_of(state)
            if status is not None and pod.image_names:
                return self._status_priority(state, pod, status)[candidates]
            return np.zeros(candidates.size, dtype=np.int64)
        if not pod.container_images:
            return np.zeros(candidates.size, dtype=np.int64)
        sums = store.locality_sums(pod.container_images, state.nodes.n)
        hit: tuple[np.ndarray, np.ndarray] | None = pod.cache.get(_CACHE_KEY)
        if hit is not None and hit[0] is sums:
            priority = hit[1]
        else:
            priority = calculate_priority(sums, len(pod.container_images))
            pod.cache[_CACHE_KEY] = (sums, priority)
        return priority[candidates]
