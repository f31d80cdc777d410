"""The ``cluster`` section: the nodes at time 0 (pools of identical nodes, explicit
nodes, node lists read from trace files), with their taints and GPUs."""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, NonNegativeInt, ValidationInfo, field_validator, model_validator

from k8sim.config.base import Strict, base_dir
from k8sim.config.images import KubeletConfig
from k8sim.config.k8s_types import K8sModel
from k8sim.config.names import (
    ContainerName,
    DnsSubdomain,
    LabelKey,
    Labels,
    LabelValue,
    check_dns1123_subdomain,
    check_label_value,
)
from k8sim.config.resources import Quantity, ResourceList
from k8sim.config.traces import NODE_FORMAT_SCHEMAS, check_args, resolve_file
from k8sim.constants import DEFAULT_MAX_PODS, MAX_GPUS_PER_NODE, MAX_POOL_NODES


def _pool_name(v: str) -> str:
    # Both a label value (k8sim.io/node-pool) and the start of node names.
    return check_dns1123_subdomain(check_label_value(v))


PoolName = Annotated[str, AfterValidator(_pool_name)]

__all__ = ["Cluster", "NodeGpus", "NodeImage", "NodePool", "NodeSpec", "Taint", "TraceNodes"]


class Taint(K8sModel):
    """A node taint (``spec.taints[]``)."""

    key: LabelKey  # taint key (a qualified name, as label keys)
    value: LabelValue = ""  # taint value (may be empty)
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]  # what it repels


class NodeGpus(Strict):
    """A node's GPUs: ``count`` devices of one ``model``, each with 1000 milli-GPU."""

    count: int = Field(ge=1, le=MAX_GPUS_PER_NODE)  # number of GPU devices
    model: str = Field(min_length=1)  # GPU model, e.g. V100M16 (no "|"); a label value

    @field_validator("model")
    @classmethod
    def _model(cls, v: str) -> str:
        if "|" in v or v != v.strip():
            raise ValueError(f"a GPU model is one name without '|' or spaces, got {v!r}")
        return check_label_value(v)  # it becomes the value of the k8sim.io/gpu-model label


class NodePool(Strict):
    """``count`` identical nodes, spread round-robin over ``zones``."""

    # Pool name; nodes are named <name>-<i> and labelled k8sim.io/node-pool=<name>.
    name: PoolName
    count: int = Field(ge=1, le=MAX_POOL_NODES)  # number of nodes (>= 1)
    allocatable: ResourceList  # e.g. {cpu: "16", memory: 64Gi}; pods defaults to 110
    labels: Labels = {}  # extra node labels
    taints: list[Taint] = []  # node taints
    zones: list[LabelValue] = []  # zone names; sets topology.kubernetes.io/zone
    gpus: NodeGpus | None = None  # GPU devices of each node (absent: none)
    # CRI runtime handlers the nodes have (node.status.runtimeHandlers), e.g. [runc, runsc];
    # absent = not declared (any RuntimeClass may run here). See docs/runtimeclass.md.
    runtime_handlers: list[ContainerName] | None = None
    # Volumes each node can attach per CSI driver (CSINode drivers[].allocatable.count),
    # e.g. {ebs.csi.aws.com: 25}; a driver absent here has no limit (NodeVolumeLimits).
    csi_attach_limits: dict[str, NonNegativeInt] = {}
    # The fields below apply when the scenario has an ``images`` section.
    # Disk for container images (imagefs), e.g. 50Gi; absent = unlimited (no image GC).
    image_disk: Quantity | None = None
    # Bytes per second a node downloads image layers at, shared by concurrent downloads.
    image_pull_bandwidth: Quantity = Fraction(100 * 10**6)
    # Layers of one pull downloaded at once (containerd's CRI max_concurrent_downloads,
    # default 3; the others wait their turn, base first); 0 = all at once.
    max_concurrent_downloads: int = Field(default=3, ge=0)
    # Whose limit that is: each pull's own (containerd up to 2.0) or the node's, shared by
    # all its pulls (containerd 2.1+, dockerd's max-concurrent-downloads).
    download_limit_scope: Literal["pull", "node"] = "pull"
    prepulled_images: list[str] = []  # images present on every node of the pool at t = 0
    kubelet: KubeletConfig = KubeletConfig()  # image pulls and image GC

    @model_validator(mode="after")
    def _check(self) -> NodePool:
        _require_cpu_memory(self.allocatable)
        if self.image_disk is not None and self.image_disk <= 0:
            raise ValueError("image_disk must be > 0 (omit it for an unlimited disk)")
        if self.image_pull_bandwidth <= 0:
            raise ValueError("image_pull_bandwidth must be > 0 (bytes per second)")
        return self


class NodeImage(K8sModel):
    """An image a node holds (a node's ``status.images`` entry): its names and size."""

    names: tuple[str, ...] = Field(min_length=1)  # e.g. [registry/app@sha256:..., registry/app:1.2]
    size_bytes: int = Field(alias="sizeBytes", ge=0)  # as the runtime reports it


class NodeSpec(Strict):
    """One hand-built node."""

    name: DnsSubdomain  # node name (unique in the cluster)
    allocatable: ResourceList  # e.g. {cpu: "4", memory: 16Gi}
    labels: Labels = {}  # extra node labels
    # true: labels are exactly the node's (kubernetes.io/hostname is not added), as for
    # nodes read from real objects.
    exact_labels: bool = False
    taints: list[Taint] = []  # node taints
    zone: LabelValue | None = None  # sets topology.kubernetes.io/zone
    gpus: NodeGpus | None = None  # GPU devices (absent: none)
    runtime_handlers: list[ContainerName] | None = None  # as NodePool.runtime_handlers
    csi_attach_limits: dict[str, NonNegativeInt] = {}  # as NodePool.csi_attach_limits
    # status.images: images already on the node, read by ImageLocality when the scenario
    # has no images section (with one, the image store is the truth: use prepulled_images).
    images: list[NodeImage] = []

    @model_validator(mode="after")
    def _check(self) -> NodeSpec:
        _require_cpu_memory(self.allocatable)
        return self


def _require_cpu_memory(allocatable: dict[str, Fraction]) -> None:
    missing = [r for r in ("cpu", "memory") if r not in allocatable]
    if missing:
        raise ValueError(f"allocatable must declare {' and '.join(missing)}")


class TraceNodes(Strict):
    """Nodes read from a trace's machine list (see README "Trace replay")."""

    format: Literal["openb", "pai2020", "alibaba2018", "google2019", "google2011"]
    file: str  # the node list; relative to the scenario file; "sample" = packaged sample
    args: dict[str, Any] = {}  # format-specific reader options (machine sizes)
    name: PoolName = "trace"  # node pool label of these nodes
    gpu_only: bool = False  # keep only the nodes with GPUs
    pods: int = Field(default=DEFAULT_MAX_PODS, ge=1)  # allocatable pods of each node
    labels: Labels = {}  # extra labels on every node
    taints: list[Taint] = []  # taints on every node

    @field_validator("file")
    @classmethod
    def _file(cls, v: str, info: ValidationInfo) -> str:
        fmt = info.data.get("format")
        if fmt is None:
            return v
        return resolve_file(v, base_dir(info), NODE_FORMAT_SCHEMAS[fmt].sample, fmt)

    @field_validator("args")
    @classmethod
    def _args(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        fmt = info.data.get("format")
        return v if fmt is None else check_args(fmt, v, base_dir(info), nodes=True)


class Cluster(Strict):
    """The nodes at time 0: pools of identical nodes, explicit nodes, trace node lists."""

    node_pools: list[NodePool] = []  # pools of identical nodes
    nodes: list[NodeSpec] = []  # explicit nodes
    trace_nodes: list[TraceNodes] = []  # node lists read from trace files

    @model_validator(mode="after")
    def _check(self) -> Cluster:
        # An empty cluster is valid only with a node autoscaler (checked by the Scenario).
        names = [p.name for p in self.node_pools] + [t.name for t in self.trace_nodes]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"node pool names (node_pools and trace_nodes) must be unique, repeated: {dup}")
        node_names = [f"{p.name}-{i}" for p in self.node_pools for i in range(p.count)]
        node_names += [n.name for n in self.nodes]
        seen: set[str] = set()
        for n in node_names:
            if n in seen:
                raise ValueError(f"node name {n!r} is used twice")
            seen.add(n)
        return self

    def node_count(self) -> int:
        """Number of nodes at time 0 declared in the scenario (trace node lists are
        counted when the simulation reads them)."""
        return sum(p.count for p in self.node_pools) + len(self.nodes)
