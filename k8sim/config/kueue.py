"""The ``kueue`` section: queues and quotas as Kueue models them (docs/batch.md).

Kueue (``kubernetes-sigs/kueue``, API ``apis/kueue/v1beta1``) admits whole *workloads*
(a Job, a gang) against the quota of a ClusterQueue; only an admitted workload's pods
are created and go to the scheduler. The models mirror the API objects:

- ``resourceFlavors``: ``ResourceFlavor`` (``resourceflavor_types.go``): node labels
  and taints; a workload assigned the flavor gets its ``nodeLabels`` as nodeSelector
  and its ``tolerations`` (Kueue's ``podset.FromAssignment`` / ``Merge``).
- ``clusterQueues``: ``ClusterQueue`` (``clusterqueue_types.go``): ``resourceGroups``
  (covered resources x flavors in fungibility order, each a nominal quota with an
  optional ``borrowingLimit`` / ``lendingLimit``), ``cohort``, ``queueingStrategy``,
  ``preemption`` and ``fairSharing.weight``.
- ``localQueues``: ``LocalQueue`` (``localqueue_types.go``): a namespaced queue
  pointing at a ClusterQueue; workloads name it (``workloads[].queue``, or the
  ``kueue.x-k8s.io/queue-name`` label of a Job).
- ``cohorts``: the cohorts ClusterQueues may join (Kueue creates cohorts implicitly
  from a name; k8sim asks for them to be listed so that a misspelt cohort is an error).
- ``workloadPriorityClasses``: ``WorkloadPriorityClass``
  (``workloadpriorityclass_types.go``): the priority of queued Jobs labelled
  ``kueue.x-k8s.io/priority-class`` (:mod:`k8sim.batch.kueue_jobs`).
- ``fairSharing``: Kueue's ``Configuration.fairSharing`` (``apis/config/v1beta1``).

The same objects can be given as Kubernetes manifests
(:mod:`k8sim.workloads.kueue_manifests`): they are converted to these models and
appended to the section.
- ``policy``: the job-level admission order: ``kueue`` (Kueue's own), or the batch
  baselines ``fifo``, ``sjf``, ``drf``, ``proportion`` (docs/batch.md).

Validation follows Kueue's webhooks where they check the same thing
(``pkg/webhooks/clusterqueue_webhook.go``: a borrowing or lending limit needs a
cohort; a lending limit must not exceed the nominal quota; a flavor's resources are the
group's covered resources, in order) and adds the references k8sim can check at load:
a flavor, cohort or ClusterQueue that does not exist is an error with its field path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from k8sim.config.base import located
from k8sim.config.cluster import Taint
from k8sim.config.k8s_types import K8sModel
from k8sim.config.names import DnsSubdomain, Labels
from k8sim.config.pods import Toleration
from k8sim.config.resources import Quantity

__all__ = ["ClusterQueueSpec", "FlavorQuotas", "KueueSettings", "LocalQueueSpec", "ResourceFlavorSpec",
           "ResourceGroup", "ResourceQuotaEntry", "WorkloadPriorityClassSpec", "QUEUE_NAME_LABEL",
           "WORKLOAD_PRIORITY_CLASS_LABEL"]

#: The label that puts a Job in a LocalQueue (``pkg/controller/constants/constants.go``
#: ``QueueLabel``).
QUEUE_NAME_LABEL = "kueue.x-k8s.io/queue-name"
#: The label naming a Job's WorkloadPriorityClass (same file, ``WorkloadPriorityClassLabel``).
WORKLOAD_PRIORITY_CLASS_LABEL = "kueue.x-k8s.io/priority-class"
#: The admission orders k8sim offers (docs/batch.md).
POLICIES = ("kueue", "fifo", "sjf", "drf", "proportion")


class ResourceFlavorSpec(K8sModel):
    """A ResourceFlavor: which nodes a flavor's quota stands for."""

    name: DnsSubdomain
    node_labels: Labels = Field(default={}, alias="nodeLabels")  # added to the pods' nodeSelector
    node_taints: list[Taint] = Field(default=[], alias="nodeTaints")  # informational (Kueue: admission check)
    tolerations: list[Toleration] = []  # added to the pods' tolerations


class ResourceQuotaEntry(K8sModel):
    """One resource's quota in one flavor (``ResourceQuota``): negative amounts are
    refused by the quantity type."""

    name: str = Field(min_length=1)  # cpu, memory, nvidia.com/gpu (or gpu), pods, ...
    nominal_quota: Quantity = Field(alias="nominalQuota")
    borrowing_limit: Quantity | None = Field(default=None, alias="borrowingLimit")
    lending_limit: Quantity | None = Field(default=None, alias="lendingLimit")

    @model_validator(mode="after")
    def _check(self) -> ResourceQuotaEntry:
        if self.lending_limit is not None and self.lending_limit > self.nominal_quota:
            raise ValueError(located("lendingLimit", f"must be less than or equal to the nominalQuota "
                                     f"({self.nominal_quota}), got {self.lending_limit}"))
        return self


class FlavorQuotas(K8sModel):
    name: DnsSubdomain  # a resourceFlavors[].name
    resources: list[ResourceQuotaEntry] = Field(min_length=1)


class ResourceGroup(K8sModel):
    covered_resources: list[str] = Field(alias="coveredResources", min_length=1)
    flavors: list[FlavorQuotas] = Field(min_length=1)  # tried in this order (flavor fungibility)

    @model_validator(mode="after")
    def _check(self) -> ResourceGroup:
        for i, f in enumerate(self.flavors):
            names = [r.name for r in f.resources]
            if names != list(self.covered_resources):
                raise ValueError(located(f"flavors[{i}].resources", (
                    f"must list the group's coveredResources {list(self.covered_resources)} in order, "
                    f"got {names}")))
        return self


class QueuePreemption(K8sModel):
    """``ClusterQueuePreemption`` (defaults Never)."""

    within_cluster_queue: Literal["Never", "LowerPriority", "LowerOrNewerEqualPriority"] = Field(
        default="Never", alias="withinClusterQueue")
    reclaim_within_cohort: Literal["Never", "LowerPriority", "Any"] = Field(default="Never",
                                                                           alias="reclaimWithinCohort")


class FairSharingWeight(K8sModel):
    weight: float = Field(default=1.0, ge=0, le=1e6)


class ClusterQueueSpec(K8sModel):
    name: DnsSubdomain
    cohort: DnsSubdomain | None = None
    queueing_strategy: Literal["StrictFIFO", "BestEffortFIFO"] = Field(default="BestEffortFIFO",
                                                                      alias="queueingStrategy")
    resource_groups: list[ResourceGroup] = Field(default=[], alias="resourceGroups")
    preemption: QueuePreemption = QueuePreemption()
    fair_sharing: FairSharingWeight = Field(default=FairSharingWeight(), alias="fairSharing")

    @model_validator(mode="after")
    def _check(self) -> ClusterQueueSpec:
        seen: dict[str, int] = {}
        for gi, g in enumerate(self.resource_groups):
            for r in g.covered_resources:
                if r in seen:
                    raise ValueError(located(f"resourceGroups[{gi}].coveredResources",
                                             f"resource {r!r} is covered by resourceGroups[{seen[r]}] already"))
                seen[r] = gi
            if self.cohort is None:
                for fi, f in enumerate(g.flavors):
                    for ri, entry in enumerate(f.resources):
                        for fld, v in (("borrowingLimit", entry.borrowing_limit),
                                       ("lendingLimit", entry.lending_limit)):
                            if v is not None:
                                raise ValueError(located(
                                    f"resourceGroups[{gi}].flavors[{fi}].resources[{ri}].{fld}",
                                    "must be nil when cohort is empty (a queue without a cohort has no one "
                                    "to borrow from or lend to)"))
        return self


class LocalQueueFairSharing(K8sModel):
    weight: float = Field(default=1.0, gt=0, le=1e6)


class LocalQueueSpec(K8sModel):
    name: DnsSubdomain
    namespace: DnsSubdomain = "default"
    cluster_queue: DnsSubdomain = Field(alias="clusterQueue")
    # The tenant's weight under the drf and proportion policies (Volcano's queue weight).
    fair_sharing: LocalQueueFairSharing = Field(default=LocalQueueFairSharing(), alias="fairSharing")


class CohortSpec(K8sModel):
    name: DnsSubdomain


class FairSharingConfig(K8sModel):
    """Kueue's ``Configuration.fairSharing``: order admissions across ClusterQueues by
    their weighted dominant resource share, and preempt by the strategies."""

    enable: bool = False
    preemption_strategies: list[Literal["LessThanOrEqualToFinalShare", "LessThanInitialShare"]] = Field(
        default=["LessThanOrEqualToFinalShare", "LessThanInitialShare"], alias="preemptionStrategies",
        min_length=1, max_length=2)


class WorkloadPriorityClassSpec(K8sModel):
    """A WorkloadPriorityClass (``workloadpriorityclass_types.go``): the priority of the
    Kueue workloads of Jobs labelled ``kueue.x-k8s.io/priority-class: <name>`` (their
    pods keep their own PriorityClass for kube-scheduler)."""

    name: DnsSubdomain
    value: int = Field(ge=-(2**31), le=2**31 - 1)  # int32
    description: str = ""


class KueueSettings(K8sModel):
    resource_flavors: list[ResourceFlavorSpec] = Field(default=[], alias="resourceFlavors")
    cohorts: list[CohortSpec] = []
    # At least one of each, here or as objects of a manifest workload (Scenario checks).
    cluster_queues: list[ClusterQueueSpec] = Field(default=[], alias="clusterQueues")
    local_queues: list[LocalQueueSpec] = Field(default=[], alias="localQueues")
    workload_priority_classes: list[WorkloadPriorityClassSpec] = Field(default=[], alias="workloadPriorityClasses")
    fair_sharing: FairSharingConfig = Field(default=FairSharingConfig(), alias="fairSharing")
    # Job-level admission order: Kueue's, or a batch baseline (docs/batch.md).
    policy: Literal["kueue", "fifo", "sjf", "drf", "proportion"] = "kueue"

    @model_validator(mode="after")
    def _check(self) -> KueueSettings:
        def unique(items: list, what: str, key: Any = lambda x: x.name) -> None:
            keys = [key(x) for x in items]
            dup = sorted({k for k in keys if keys.count(k) > 1})
            if dup:
                raise ValueError(located(what, f"names must be unique, repeated: {dup}"))

        unique(self.resource_flavors, "resourceFlavors")
        unique(self.cohorts, "cohorts")
        unique(self.cluster_queues, "clusterQueues")
        unique(self.local_queues, "localQueues", key=lambda q: f"{q.namespace}/{q.name}")
        unique(self.workload_priority_classes, "workloadPriorityClasses")
        flavors = {f.name for f in self.resource_flavors}
        cohorts = {c.name for c in self.cohorts}
        for qi, q in enumerate(self.cluster_queues):
            if q.cohort is not None and q.cohort not in cohorts:
                raise ValueError(located(f"clusterQueues[{qi}].cohort", (
                    f"cohort {q.cohort!r} is not among cohorts {sorted(cohorts) or '(none listed)'}")))
            for gi, g in enumerate(q.resource_groups):
                for fi, f in enumerate(g.flavors):
                    if f.name not in flavors:
                        raise ValueError(located(f"clusterQueues[{qi}].resourceGroups[{gi}].flavors[{fi}].name", (
                            f"ResourceFlavor {f.name!r} is not among resourceFlavors {sorted(flavors) or '(none)'}")))
        cqs = {q.name for q in self.cluster_queues}
        for li, lq in enumerate(self.local_queues):
            if lq.cluster_queue not in cqs:
                raise ValueError(located(f"localQueues[{li}].clusterQueue",
                                         f"ClusterQueue {lq.cluster_queue!r} is not among clusterQueues {sorted(cqs)}"))
        return self

    def local_queue(self, namespace: str, name: str) -> LocalQueueSpec | None:
        for q in self.local_queues:
            if q.namespace == namespace and q.name == name:
                return q
        return None
