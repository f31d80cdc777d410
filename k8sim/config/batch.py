"""Batch and AI workloads in the schema: gangs (PodGroups) and the training-job model.

- ``workloads[].gang``: each arrival of the workload is one *job* of ``workers`` pods in
  a PodGroup of its own (``<workload>-<job>``), created at the arrival.
- ``pod_groups``: PodGroups (``scheduling.x-k8s.io/v1alpha1``) that exist from time 0;
  pods join one with the label ``scheduling.x-k8s.io/pod-group: <name>`` (in the
  group's namespace).
- ``training`` (on either): the job's run time depends on where its workers run (see
  ``docs/batch.md``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from k8sim.config.base import located
from k8sim.config.distributions import Distribution
from k8sim.config.k8s_types import K8sModel
from k8sim.config.names import DnsSubdomain, Seconds
from k8sim.config.resources import ResourceList
from k8sim.constants import MAX_TIME_S

__all__ = ["GangSpec", "PodGroupSpec", "TrainingModel", "check_slowdowns"]

#: Most workers one gang job may have.
MAX_WORKERS = 100_000


def check_slowdowns(m: TrainingModel | Any) -> None:
    """The placement slowdowns of a training model (``crossNodeSlowdown``,
    ``crossRackSlowdown``, ``rackLabel``): a rack slowdown needs the rack label, and
    spanning racks slows at least as much as spanning nodes."""
    cross_node, cross_rack = m.cross_node_slowdown, m.cross_rack_slowdown
    if m.rack_label is None and "cross_rack_slowdown" in m.model_fields_set:
        raise ValueError(located("crossRackSlowdown", "needs rackLabel (which node label names the rack)"))
    if cross_rack < cross_node:
        raise ValueError(located("crossRackSlowdown", f"must be >= crossNodeSlowdown "
                                 f"({cross_node:g}): spanning racks spans nodes"))


class TrainingModel(K8sModel):
    """A distributed training job: its workers wait for each other, the job runs once all
    of them run, and its run time grows when they are spread out.

    Run time = ``duration`` (drawn per job: the time on one node) x (1 +
    ``crossNodeSlowdown``) when the workers span two or more nodes of one rack, x (1 +
    ``crossRackSlowdown``) when they span two or more racks (nodes' ``rackLabel``
    values). All workers end together. The defaults are illustrative: placement
    sensitivity differs by model by an order of magnitude (docs/batch.md cites the
    studies); set them from your own measurements.
    """

    duration: Distribution  # the job's run time with every worker on one node, seconds
    cross_node_slowdown: float = Field(default=0.25, ge=0, le=100, alias="crossNodeSlowdown")
    cross_rack_slowdown: float = Field(default=0.5, ge=0, le=100, alias="crossRackSlowdown")
    # Node label whose value names a node's rack; None: racks are not modelled.
    rack_label: str | None = Field(default=None, alias="rackLabel", min_length=1)

    @model_validator(mode="after")
    def _check(self) -> TrainingModel:
        check_slowdowns(self)
        return self


class GangSpec(K8sModel):
    """Each arrival of a workload is a job of ``workers`` pods in one PodGroup."""

    workers: int = Field(ge=1, le=MAX_WORKERS)  # pods per job
    # PodGroup minMember; default: workers.
    min_member: int | None = Field(default=None, ge=1, alias="minMember")
    # PodGroup scheduleTimeoutSeconds; default: the Coscheduling plugin's permitWaitingTimeSeconds.
    schedule_timeout_s: int | None = Field(default=None, ge=1, le=int(MAX_TIME_S), alias="scheduleTimeoutSeconds")
    # PodGroup minResources (total of the gang).
    min_resources: ResourceList | None = Field(default=None, alias="minResources")
    # Worker k of a job is created k x this after the job's arrival (0: all at once).
    worker_interval_s: Seconds = Field(default=0.0, alias="workerIntervalSeconds")
    # A placement-sensitive run time for the whole job (the workload then has no duration).
    training: TrainingModel | None = None

    @model_validator(mode="after")
    def _check(self) -> GangSpec:
        if self.min_member is not None and self.min_member > self.workers:
            raise ValueError(located("minMember", f"{self.min_member} exceeds the job's {self.workers} "
                                     "worker pod(s): the group could never be scheduled"))
        return self


class PodGroupSpec(K8sModel):
    """A PodGroup (``scheduling.x-k8s.io/v1alpha1``) that exists from time 0."""

    name: DnsSubdomain
    namespace: DnsSubdomain = "default"
    min_member: int = Field(ge=1, le=MAX_WORKERS, alias="minMember")
    schedule_timeout_s: int | None = Field(default=None, ge=1, le=int(MAX_TIME_S), alias="scheduleTimeoutSeconds")
    min_resources: ResourceList | None = Field(default=None, alias="minResources")
    training: TrainingModel | None = None
