"""Plain constants shared by the schema and the runtime: well-known labels, upstream
defaults and GPU units.

This module imports nothing (no schema, no pydantic), so that every layer may use it:
``cluster/`` takes its constants from here rather than from the YAML schema.
"""

from __future__ import annotations

__all__ = [
    "HIGHEST_USER_PRIORITY",
    "MAX_PODS",
    "MAX_POOL_NODES",
    "MAX_RUNS",
    "MAX_RATE_PER_S",
    "MAX_TIMESERIES_BINS",
    "MAX_TIME_S",
    "MIN_PRIORITY",
    "DEFAULT_MAX_PODS",
    "DEFAULT_SCHEDULER",
    "GPU_MILLI",
    "GPU_DEVICES_ANNOTATION",
    "GPU_MILLI_ANNOTATION",
    "GPU_MODELS_ANNOTATION",
    "GPU_MODEL_LABEL",
    "GPU_RESOURCE",
    "HOSTNAME_LABEL",
    "MAX_GPUS_PER_NODE",
    "POOL_LABEL",
    "RUNTIME_HANDLER_LABEL_PREFIX",
    "ZONE_LABEL",
]

#: Label that carries a node's zone, as in upstream Kubernetes.
ZONE_LABEL = "topology.kubernetes.io/zone"
#: Label that carries a node's name, as in upstream Kubernetes.
HOSTNAME_LABEL = "kubernetes.io/hostname"
#: Label k8sim puts on every node: the node pool it came from.
POOL_LABEL = "k8sim.io/node-pool"
#: Prefix of the label ``runtime-handler.k8sim.io/<handler>: "true"`` that k8sim puts on
#: the nodes of a pool (or an explicit node) declaring ``runtime_handlers``.
RUNTIME_HANDLER_LABEL_PREFIX = "runtime-handler.k8sim.io/"
#: Label k8sim puts on every node with GPUs: its GPU model (e.g. ``V100M16``).
GPU_MODEL_LABEL = "k8sim.io/gpu-model"
#: The extended resource of whole GPU devices on a real cluster (NVIDIA's device plugin).
GPU_RESOURCE = "nvidia.com/gpu"
#: Pod annotations that carry what ``nvidia.com/gpu`` cannot (``k8sim export`` writes
#: them; the kubectl-objects reader reads them): the milli-GPU on each device, the
#: allowed models ("|"-separated) and the devices a bound pod holds ("0,2").
GPU_MILLI_ANNOTATION = "k8sim.io/gpu-milli"
GPU_MODELS_ANNOTATION = "k8sim.io/gpu-models"
GPU_DEVICES_ANNOTATION = "k8sim.io/gpu-devices"

#: kubelet's default ``maxPods``, used when a node does not declare ``pods``.
DEFAULT_MAX_PODS = 110
#: The scheduler a pod uses when its template names none (upstream default).
DEFAULT_SCHEDULER = "default-scheduler"

#: Milli-GPU of one device.
GPU_MILLI = 1000
#: Most GPU devices one node may have (a bound pod's devices are an int64 bitmask).
MAX_GPUS_PER_NODE = 63

# -- bounds of the input (see docs/limits.md) ---------------------------------------

#: Largest virtual time (seconds, about 31.7 years) any time field may take and a run
#: may reach. Float64 time still resolves 0.12 microseconds there, finer than the
#: shortest interval between arrivals (1 / MAX_RATE_PER_S), so the clock always moves.
MAX_TIME_S = 1e9
#: Most arrivals per second of a generated workload (``rate_per_s``); the shortest
#: ``every_s`` is its inverse.
MAX_RATE_PER_S = 1e6
#: Most pods one workload may create (``max_pods``, ``burst.count``, the expected
#: count of a Poisson or interval stream).
MAX_PODS = 10_000_000
#: Most nodes of one node pool.
MAX_POOL_NODES = 100_000
#: Most runs one sweep or comparison may plan (points x profiles x replications).
MAX_RUNS = 100_000
#: Most timeseries bins of a run: beyond it the sample interval widens (with a warning).
MAX_TIMESERIES_BINS = 500_000
#: Pod priorities are int32 (``spec.priority``); user-defined values stop at 1e9,
#: above which upstream reserves priorities for system classes.
MIN_PRIORITY = -(2**31)
HIGHEST_USER_PRIORITY = 1_000_000_000

#: The label that puts a pod in a PodGroup (scheduler-plugins ``v1alpha1.PodGroupLabel``).
POD_GROUP_LABEL = "scheduling.x-k8s.io/pod-group"
