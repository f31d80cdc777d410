"""The cluster's nodes from the scenario: node pools, trace node lists, explicit nodes.

Nodes join through the Cluster API at time 0 (one ``NodeAdded`` row each), pools first
(in order), then trace node lists, then explicit nodes. Pool ``i`` has pool code ``i``;
trace list ``j`` has code ``len(node_pools) + j``; explicit nodes have -1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster.node_images import NodeImageStatus, attach_status
from k8sim.cluster.nodes import ResourceIndex, TaintSpec
from k8sim.config.loader import ScenarioError
from k8sim.config.scenario import (
    DEFAULT_MAX_PODS,
    HOSTNAME_LABEL,
    MAX_GPUS_PER_NODE,
    POOL_LABEL,
    ZONE_LABEL,
    InitialPod,
    NodeGpus,
    PodTemplate,
    Scenario,
    Taint,
    TraceNodes,
    base_units,
)
from k8sim.constants import RUNTIME_HANDLER_LABEL_PREFIX
from k8sim.workloads.replay import report_warnings
from k8sim.workloads.traces.formats import read_nodes
from k8sim.workloads.traces.schema import TraceError

if TYPE_CHECKING:
    from k8sim.component import Context

#: GPU model of trace nodes whose list gives GPUs but no model.
UNNAMED_GPU_MODEL = "unnamed"


def resource_index(scenario: Scenario, more: set[str] | frozenset[str] = frozenset()) -> ResourceIndex:
    """The resource axis of a run: the core resources plus every resource a node or a
    pod of the scenario names (and ``more``: those of manifest objects)."""
    extra: set[str] = set(more)
    for pool in scenario.cluster.node_pools:
        extra |= set(pool.allocatable)
    for node in scenario.cluster.nodes:
        extra |= set(node.allocatable)
    specs: list[PodTemplate | InitialPod] = [w.template for w in scenario.workloads]
    specs += scenario.initial_pods
    for spec in specs:
        extra |= set(spec.requests) | set(spec.overhead)
        extra |= set(spec.resources.requests) if spec.resources is not None else set()
        for c in spec.containers:
            extra |= set(c.requests or {})
        for ic in spec.init_containers:
            extra |= set(ic.requests or {})
    for rc in scenario.runtime_classes:
        extra |= set(rc.overhead.pod_fixed) if rc.overhead is not None else set()
    a = scenario.autoscaling
    if a is not None and a.cluster_autoscaler is not None:
        for g in a.cluster_autoscaler.node_groups:
            extra |= set(g.template.allocatable)
            if g.instance_type is not None:
                extra.add("ephemeral-storage")
    if a is not None and a.karpenter is not None:
        for t in a.karpenter.instance_types:
            extra |= set(t.allocatable)
    return ResourceIndex.from_names(extra)


def handler_labels(handlers: list[str] | None) -> dict[str, str]:
    """The labels that say which runtime handlers a node has (none when undeclared)."""
    return {RUNTIME_HANDLER_LABEL_PREFIX + h: "true" for h in handlers or ()}


def taints(specs: list[Taint]) -> list[TaintSpec]:
    return [TaintSpec(t.key, t.value, t.effect) for t in specs]


def gpus(spec: NodeGpus | None) -> tuple[int, str] | None:
    return None if spec is None else (spec.count, spec.model)


def allocatable(resources: ResourceIndex, amounts: dict) -> np.ndarray:
    """A node's allocatable vector (``pods`` defaults to 110, as kubelet's maxPods)."""
    units = base_units(amounts)
    units.setdefault("pods", DEFAULT_MAX_PODS)
    return resources.vector(units)


def build_nodes(ctx: Context) -> list[int]:
    """Add every node of the scenario (and record its namespaces' labels); returns the node
    count of each trace node list."""
    c = ctx.scenario.cluster
    api, resources = ctx.api, ctx.state.resources
    # Namespace labels (namespaceSelector of pod affinity terms), cluster metadata.
    ctx.state.namespaces = {ns.name: dict(ns.labels) for ns in ctx.scenario.namespaces}
    for pi, pool in enumerate(c.node_pools):
        names = [f"{pool.name}-{i}" for i in range(pool.count)]
        labels = []
        for i, name in enumerate(names):
            node_labels = {**pool.labels, HOSTNAME_LABEL: name, POOL_LABEL: pool.name}
            if pool.zones:
                node_labels[ZONE_LABEL] = pool.zones[i % len(pool.zones)]
            node_labels.update(handler_labels(pool.runtime_handlers))
            labels.append(node_labels)
        api.add_nodes(names=names, allocatable=allocatable(resources, pool.allocatable), labels=labels,
                      taints=taints(pool.taints), pool=pi, gpus=gpus(pool.gpus))
    ctx.state.nodes.pool_names = [p.name for p in c.node_pools] + [t.name for t in c.trace_nodes]
    counts = [_add_trace_nodes(ctx, j, spec, len(c.node_pools) + j) for j, spec in enumerate(c.trace_nodes)]
    status = NodeImageStatus()
    for i, spec in enumerate(c.nodes):
        node_labels = dict(spec.labels) if spec.exact_labels else {**spec.labels, HOSTNAME_LABEL: spec.name}
        if spec.zone is not None:
            node_labels[ZONE_LABEL] = spec.zone
        node_labels.update(handler_labels(spec.runtime_handlers))
        node = api.add_node(name=spec.name, allocatable=allocatable(resources, spec.allocatable), labels=node_labels,
                            taints=taints(spec.taints), pool=-1, gpus=gpus(spec.gpus))
        if spec.images:
            if ctx.scenario.images is not None:
                raise ScenarioError(ctx.source, [(
                    f"cluster.nodes[{i}].images",
                    "a scenario with an images section models the node image stores; give the images a node "
                    "starts with as a pool's prepulled_images",
                )])
            status.add(node, [(im.names, im.size_bytes) for im in spec.images])
    if status.sizes:
        attach_status(ctx.state, status)
    return counts


def _add_trace_nodes(ctx: Context, j: int, spec: TraceNodes, pool: int) -> int:
    """The nodes of one trace node list, in file order (one bulk add per run of
    consecutive nodes of the same shape); returns how many."""
    where = f"cluster.trace_nodes[{j}]"
    source = ctx.source
    try:
        frame, report = read_nodes(spec.format, spec.file, dict(spec.args))
    except TraceError as e:
        raise ScenarioError(source, [(f"{where}.file", str(e))]) from None
    ctx.warnings.extend(report_warnings(where, [report]))
    if spec.gpu_only:
        frame = frame[frame["gpu_count"] > 0].reset_index(drop=True)
        if len(frame) == 0:
            raise ScenarioError(source, [(f"{where}.gpu_only", f"{spec.file} lists no GPU node")])
    too_many = frame["gpu_count"] > MAX_GPUS_PER_NODE
    if too_many.any():
        row = frame[too_many].iloc[0]
        raise ScenarioError(source, [(
            f"{where}.file",
            f"{spec.file}: node {row['name']!r} has {row['gpu_count']} GPUs; at most {MAX_GPUS_PER_NODE} are modelled",
        )])
    cpu = frame["cpu_milli"].to_numpy()
    mem = frame["memory_bytes"].to_numpy()
    counts = frame["gpu_count"].to_numpy()
    models = frame["gpu_model"].to_numpy(dtype=object)
    names = frame["name"].astype(str).tolist()
    key = list(zip(cpu.tolist(), mem.tolist(), counts.tolist(), models.tolist(), strict=True))
    node_taints = taints(spec.taints)
    start = 0
    while start < len(key):
        stop = start + 1
        while stop < len(key) and key[stop] == key[start]:
            stop += 1
        c, m, g, model = key[start]
        alloc = ctx.state.resources.vector({"cpu": c, "memory": m, "pods": spec.pods})
        run_names = names[start:stop]
        labels = [{**spec.labels, HOSTNAME_LABEL: n, POOL_LABEL: spec.name} for n in run_names]
        try:
            ctx.api.add_nodes(names=run_names, allocatable=alloc, labels=labels, taints=node_taints, pool=pool,
                              gpus=(g, model or UNNAMED_GPU_MODEL) if g else None)
        except ValueError as e:
            raise ScenarioError(source, [(f"{where}.file", f"{spec.file}: {e}")]) from None
        start = stop
    return len(frame)
