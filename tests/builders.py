"""Builders for hand-made cluster states and pods.

``make_state([node("n1", cpu="4", memory="10Gi")], pods=[("n1", {"cpu": "1"})])``
builds the tables through the real ops (add_node, bind), so invariants hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from k8sim.cluster import ops
from k8sim.cluster.nodes import ResourceIndex, TaintSpec
from k8sim.cluster.ops import ClusterState
from k8sim.cluster.pods import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST
from k8sim.config.pods import Toleration
from k8sim.config.quantity import parse_quantity
from k8sim.config.resources import base_units
from k8sim.scheduling.podinfo import PodInfo


@dataclass
class NodeSpec:
    name: str
    allocatable: dict[str, str | int]
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[TaintSpec] = field(default_factory=list)


def node(name: str, labels: dict[str, str] | None = None, taints: list[TaintSpec] | None = None,
         **allocatable: str | int) -> NodeSpec:
    alloc = {k.replace("_", "-") if k != "nvidia_gpu" else "nvidia.com/gpu": v for k, v in allocatable.items()}
    return NodeSpec(name, alloc, labels or {}, taints or [])


def _units(resources: dict[str, str | int]) -> dict[str, int]:
    return base_units({k: parse_quantity(v) for k, v in resources.items()})


def make_state(nodes: list[NodeSpec], pods: list[tuple] = ()) -> ClusterState:
    """Nodes, plus bound pods given as ``(node, requests)`` or ``(node, requests, labels)``."""
    names: set[str] = set()
    for n in nodes:
        names |= set(n.allocatable)
    for p in pods:
        names |= set(p[1])
    state = ClusterState(ResourceIndex.from_names(names))
    for n in nodes:
        amounts = _units(n.allocatable)
        amounts.setdefault("pods", 110)
        ops.add_node(state, name=n.name, allocatable=state.resources.vector(amounts),
                     labels=n.labels, taints=n.taints, pool=-1, now=0.0)
    for i, spec in enumerate(pods):
        node_name, req = spec[0], spec[1]
        labels = spec[2] if len(spec) > 2 else {}
        info = make_pod(state, req, labels=labels)
        p = state.pods.append(name=f"existing-{i}", requests=info.requests, workload=-1, index=i,
                              shape=info.shape, priority=0, created=0.0, duration=np.inf, start_latency=0.0)
        ops.bind(state, p, state.nodes.name_index[node_name], 0.0)
    ops.check_invariants(state)
    return state


def request_vector(state: ClusterState, req: dict[str, str | int]) -> np.ndarray:
    amounts = _units(req)
    amounts["pods"] = 1
    return state.resources.vector(amounts)


def make_pod(state: ClusterState, requests: dict[str, str | int] | None = None, *,
             node_selector: dict[str, str] | None = None,
             tolerations: list[Toleration] | None = None, priority: int = 0,
             labels: dict[str, str] | None = None, **spec: object) -> PodInfo:
    """A registered pod shape. ``spec`` passes PodInfo fields such as ``affinity``,
    ``spread``, ``ports``, ``node_name``."""
    vec = request_vector(state, requests or {})
    nonzero = np.array([vec[0] or DEFAULT_MILLI_CPU_REQUEST, vec[1] or DEFAULT_MEMORY_REQUEST])
    info = PodInfo(shape=-1, requests=vec, nonzero=nonzero, priority=priority,
                   scheduler_name="default-scheduler", node_selector=node_selector or {},
                   tolerations=tuple(tolerations or ()), labels=labels or {}, **spec)  # type: ignore[arg-type]
    ops.add_shape(state, info)
    return info


GI = 1024**3


def gpu_shape(state: ClusterState, count: int = 0, milli: int = 0, cpu: int = 1000,
              models: str | list[str] | None = None) -> PodInfo:
    """Register a pod shape with ``count`` GPUs of ``milli`` each, ``cpu`` milli-CPU, 1Gi
    and an optional model constraint (``"A|B"`` or a list of names)."""
    req = state.resources.vector({"cpu": cpu, "memory": GI, "pods": 1})
    info = PodInfo(shape=-1, requests=req, nonzero=req[:2].copy(), priority=0,
                   scheduler_name="default-scheduler", gpu_count=count, gpu_milli=milli)
    if models is not None:
        names = models.split("|") if isinstance(models, str) else models
        info.gpu_models = frozenset(ops.intern_gpu_model(state, m) for m in names)
    ops.add_shape(state, info)
    return info


def append_pod(state: ClusterState, info: PodInfo) -> int:
    """A Pending pod of shape ``info`` (named ``p<row>``, runs for ever); returns its row."""
    pods = state.pods
    return pods.append(name=f"p{pods.n}", requests=info.requests, workload=-1, index=pods.n, shape=info.shape,
                       priority=0, created=0.0, duration=float("inf"), start_latency=0.0,
                       gpu_count=info.gpu_count, gpu_milli=info.gpu_milli)


def randomise_usage(nodes, seed: int) -> None:
    """Overwrite a node table's usage columns with random values that hit the one-node
    arithmetic's edge cases: nodes without a resource at all, small allocatables (fractions
    near 1), requests above allocatable (non-zero defaults), nodes exactly full, and large
    memory values. Only tests that read these columns (the plugins' Filter and Score) may
    use the result: pods and the other tables no longer agree with it."""
    rng = np.random.default_rng(seed)
    r, n = nodes.alloc.shape
    alloc = rng.integers(0, 1 << 40, size=(r, n))
    alloc[:, rng.random(n) < 0.1] = 0  # some nodes lack a resource entirely
    alloc[0, rng.random(n) < 0.05] = 0
    alloc[1, rng.random(n) < 0.05] = 0
    alloc[:2, :n // 4] = rng.integers(1, 20_000, size=(2, n // 4))  # small: fractions near 1
    requested = (alloc * rng.random((r, n)) * 1.2).astype(np.int64)  # some above allocatable
    full = rng.random(n) < 0.1
    requested[:, full] = alloc[:, full]  # exactly full
    nodes.alloc[:] = alloc
    nodes.requested[:] = requested
    nodes.free[:] = alloc - requested
    nodes.nonzero_requested[:] = requested[:2] + rng.integers(0, 1 << 30, size=(2, n))
