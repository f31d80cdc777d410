"""Plain constants shared by the schema and the runtime: well-known labels, upstream
defaults and GPU units.

This module imports nothing (no schema, no pydantic), so that every layer may use it:
``cluster/`` takes its constants from here rather than from the YAML schema.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_MAX_PODS",
    "DEFAULT_SCHEDULER",
    "GPU_MILLI",
    "GPU_MODEL_LABEL",
    "HOSTNAME_LABEL",
    "MAX_GPUS_PER_NODE",
    "POOL_LABEL",
    "ZONE_LABEL",
]

#: Label that carries a node's zone, as in upstream Kubernetes.
ZONE_LABEL = "topology.kubernetes.io/zone"
#: Label that carries a node's name, as in upstream Kubernetes.
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: Label k8sim puts on every node: the node pool it came from.
POOL_LABEL = "k8sim.io/node-pool"
#: Label k8sim puts on every node with GPUs: its GPU model (e.g. ``V100M16``).
GPU_MODEL_LABEL = "k8sim.io/gpu-model"

#: kubelet's default ``maxPods``, used when a node does not declare ``pods``.
DEFAULT_MAX_PODS = 110
#: The scheduler a pod uses when its template names none (upstream default).
DEFAULT_SCHEDULER = "default-scheduler"

#: Milli-GPU of one device.
GPU_MILLI = 1000
#: Most GPU devices one node may have (a bound pod's devices are an int64 bitmask).
MAX_GPUS_PER_NODE = 63
