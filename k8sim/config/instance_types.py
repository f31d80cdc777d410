"""The instance-type catalogue shipped with k8sim: real node shapes and list prices.

``k8sim/data/instance_types/aws_us_east_1.csv`` (its README gives the source, the
AWS Karpenter provider's generated pricing and instance-type reference, Apache-2.0) holds
187 AWS EC2 types with their us-east-1 on-demand price and Karpenter's allocatable
estimate. :func:`catalogue` reads it once; the node autoscalers (node groups with an
``instance_type``, Karpenter-style NodePools) look types up by name, and scenarios may add
types of their own (``autoscaling.karpenter.instance_types``).

Each type carries the well-known labels Karpenter puts on its nodes
(``node.kubernetes.io/instance-type``, ``kubernetes.io/arch``, the
``karpenter.k8s.aws/instance-*`` labels), which NodePool requirements select on.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass, field
from importlib import resources

__all__ = ["CATALOGUES", "INSTANCE_TYPE_LABEL", "ARCH_LABEL", "CAPACITY_TYPE_LABEL", "InstanceType", "catalogue"]

INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
ARCH_LABEL = "kubernetes.io/arch"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
FAMILY_LABEL = "karpenter.k8s.aws/instance-family"
CPU_LABEL = "karpenter.k8s.aws/instance-cpu"
MEMORY_LABEL = "karpenter.k8s.aws/instance-memory"
GPU_COUNT_LABEL = "karpenter.k8s.aws/instance-gpu-count"
GPU_NAME_LABEL = "karpenter.k8s.aws/instance-gpu-name"

#: Catalogue name -> package data file.
CATALOGUES = {"aws-us-east-1": "aws_us_east_1.csv"}
_MIB = 2**20
_GIB = 2**30


@dataclass(frozen=True)
class InstanceType:
    """One instance type: allocatable in base units (milli-CPU, bytes, pods), GPUs,
    the on-demand price per hour and its labels."""

    name: str
    cpu_milli: int
    memory_bytes: int
    pods: int
    price_per_hour: float
    ephemeral_bytes: int = 0
    gpu_count: int = 0
    gpu_model: str = ""
    labels: dict[str, str] = field(default_factory=dict)


def _row(r: dict[str, str]) -> InstanceType:
    name = r["instance_type"]
    gpus = int(r["gpu_count"] or 0)
    labels = {INSTANCE_TYPE_LABEL: name, ARCH_LABEL: r["arch"], FAMILY_LABEL: r["family"], CPU_LABEL: r["vcpu"],
              MEMORY_LABEL: r["memory_mib"], GPU_COUNT_LABEL: str(gpus)}
    if gpus:
        labels[GPU_NAME_LABEL] = r["gpu_model"]
    return InstanceType(name=name, cpu_milli=int(r["alloc_cpu_millicores"]),
                        memory_bytes=int(r["alloc_memory_mib"]) * _MIB, pods=int(r["max_pods"]),
                        price_per_hour=float(r["on_demand_usd_per_hour"]),
                        ephemeral_bytes=int(r["alloc_ephemeral_storage_gib"]) * _GIB, gpu_count=gpus,
                        gpu_model=r["gpu_model"], labels=labels)


@functools.cache
def catalogue(name: str = "aws-us-east-1") -> dict[str, InstanceType]:
    """The named catalogue's types by name, in file order (family, then size)."""
    text = resources.files("k8sim").joinpath("data", "instance_types", CATALOGUES[name]).read_text("utf-8")
    return {t.name: t for t in map(_row, csv.DictReader(io.StringIO(text)))}
