"""GpuFit: per-device GPU fit filter and the "best" device choice at Reserve.

Resource model of Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing
Workloads with Fragmentation Gradient Descent", USENIX ATC '23 (artifact
``hkust-adsl/kubernetes-scheduler-simulator``): a node has G GPUs of one model with
1000 milli-GPU each; a sharing pod takes ``gpu_milli < 1000`` on one device, a
whole-GPU pod needs ``gpu_count`` completely free devices.

- Filter: the node's GPU model is allowed by the pod (any model when it names none) and
  at least ``gpu_count`` of its devices have ``gpu_free >= gpu_milli``. One array
  expression over ``gpu_free[N, G]`` (devices a node lacks hold -1 and never fit).
- Reserve: the devices are chosen by the paper's "best" rule
  (:func:`k8sim.cluster.ops.choose_gpus`): a sharing pod takes the fitting device with
  the least free milli, lowest index on ties; a whole-GPU pod the lowest-index free
  devices. ``ops.bind`` then subtracts the milli on them.

Pods without GPUs are skipped at PreFilter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster import ops
from k8sim.scheduling.plugins.base import FilterPlugin
from k8sim.scheduling.plugins.gpu_common import count_true

if TYPE_CHECKING:
    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.podinfo import PodInfo

_MODEL_KEY = "GpuFit"


class GpuFit(FilterPlugin):
    """GPU fit filter (model, per-device milli); picks devices with the "best" rule."""

    name = "GpuFit"
    node_local = True  # the node's own column only (incremental caches)
    skips_without = ("gpu_count",)  # PreFilter Skip without GPUs
    events = frozenset({"PodDelete", "NodeAdd"})
    summary = "GPU filter: allowed model and gpu_count devices with >= gpu_milli free; best-fit device choice"
    reason = "Insufficient GPU"
    # k8sim's own plugin: a GPU model the pod does not allow cannot be fixed by preemption.
    unresolvable_reasons = frozenset({"GPU model not allowed"})
    checks_resources = True

    def pre_filter(self, state: ClusterState, pod: PodInfo) -> bool:
        return pod.gpu_count > 0

    def _model_mask(self, state: ClusterState, pod: PodInfo) -> np.ndarray | None:
        """Nodes whose GPU model the pod allows (None: any model); cached per node version."""
        if pod.gpu_models is None:
            return None
        nodes = state.nodes
        cached = pod.mask_cache.get(_MODEL_KEY)
        if cached is not None and cached[0] == nodes.version:
            return cached[1]
        mask = np.isin(nodes.gpu_model, np.fromiter(pod.gpu_models, dtype=np.int32))
        pod.mask_cache[_MODEL_KEY] = (nodes.version, mask)
        return mask

    def filter(self, state: ClusterState, pod: PodInfo) -> np.ndarray:
        fit = count_true(state.nodes.gpu_free >= pod.gpu_milli) >= pod.gpu_count
        models = self._model_mask(state, pod)
        return fit if models is None else fit & models

    def filter_nodes(self, state: ClusterState, pod: PodInfo, nodes: np.ndarray) -> np.ndarray:
        fit = count_true(state.nodes.gpu_free[nodes] >= pod.gpu_milli) >= pod.gpu_count
        models = self._model_mask(state, pod)
        return fit if models is None else fit & models[nodes]

    def reasons(self, state: ClusterState, pod: PodInfo, rejected: np.ndarray) -> dict[str, int]:
        if not rejected.size:
            return {}
        models = self._model_mask(state, pod)
        wrong = 0 if models is None else int((~models[rejected]).sum())
        out = {}
        if wrong:
            out["GPU model not allowed"] = wrong
        if rejected.size - wrong:
            out[self.reason] = int(rejected.size - wrong)
        return out

    def reserve(self, state: ClusterState, pod: int, info: PodInfo, node: int) -> None:
        if info.gpu_count == 0:
            return
        devices = ops.choose_gpus(state, node, info.gpu_count, info.gpu_milli)
        if devices == 0:
            raise ops.InvariantError(f"GpuFit reserve: node {state.nodes.names[node]} cannot host pod {pod}")
        ops.assign_gpus(state, pod, devices)
