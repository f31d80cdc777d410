"""Kubernetes API shapes used in pod templates, spelled as in the Kubernetes API.

Selectors, node and pod affinity, topology spread constraints, container ports and
priority classes. Field names keep their Kubernetes camelCase spelling (aliases), so a
``spec.affinity`` block copied from a manifest validates as is. Only what scheduling
reads is modelled; unknown keys are errors like everywhere else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from k8sim.config.base import Strict
from k8sim.config.names import DnsSubdomain, LabelKey, Labels, LabelValue, Priority, check_qualified_name


class K8sModel(Strict):
    """Base for models with Kubernetes-spelled fields: accept the alias or the name."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, populate_by_name=True, allow_inf_nan=False
    )


# ----------------------------------------------------------------------- label selectors


class LabelSelectorRequirement(K8sModel):
    """``metav1.LabelSelectorRequirement`` (key and values checked as upstream's
    ``ValidateLabelSelectorRequirement``: a qualified name, label values)."""

    key: LabelKey
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: tuple[LabelValue, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(K8sModel):
    """``metav1.LabelSelector``: all ``matchLabels`` and all ``matchExpressions`` must hold.

    An empty selector matches everything (upstream ``LabelSelectorAsSelector``).
    """

    match_labels: Labels = Field(default={}, alias="matchLabels")
    match_expressions: tuple[LabelSelectorRequirement, ...] = Field(default=(), alias="matchExpressions")

    def matches(self, labels: dict[str, str]) -> bool:
        """Upstream selector semantics on one label set."""
        for k, v in self.match_labels.items():
            if labels.get(k) != v:
                return False
        for req in self.match_expressions:
            has = req.key in labels
            if req.operator == "In" and not (has and labels[req.key] in req.values):
                return False
            if req.operator == "NotIn" and has and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not has:
                return False
            if req.operator == "DoesNotExist" and has:
                return False
        return True


# ----------------------------------------------------------------------- node affinity


class NodeSelectorRequirement(K8sModel):
    """``v1.NodeSelectorRequirement`` (operators include Gt/Lt on integer label values).

    The key is a qualified name (upstream ``ValidateNodeSelectorRequirement`` checks it
    with ``ValidateLabelName``; values are not checked upstream, so not here either)."""

    key: str = Field(min_length=1)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"]
    values: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> NodeSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        if self.key != "metadata.name":  # a matchFields key (checked by NodeSelectorTerm)
            check_qualified_name(self.key)
        if self.operator in ("Gt", "Lt"):
            if len(self.values) != 1:
                raise ValueError(f"operator {self.operator} takes exactly one value")
            try:
                int(self.values[0])
            except ValueError:
                raise ValueError(f"operator {self.operator} needs an integer value, got {self.values[0]!r}") from None
        return self


class NodeSelectorTerm(K8sModel):
    """``v1.NodeSelectorTerm``: requirements ANDed. ``matchFields`` supports ``metadata.name``."""

    match_expressions: tuple[NodeSelectorRequirement, ...] = Field(default=(), alias="matchExpressions")
    match_fields: tuple[NodeSelectorRequirement, ...] = Field(default=(), alias="matchFields")

    @model_validator(mode="after")
    def _check(self) -> NodeSelectorTerm:
        for f in self.match_fields:
            if f.key != "metadata.name":
                raise ValueError(f"matchFields supports only metadata.name, got {f.key!r}")
            if f.operator not in ("In", "NotIn"):
                raise ValueError("matchFields supports only the In and NotIn operators")
        return self


class NodeSelector(K8sModel):
    """``v1.NodeSelector``: terms ORed."""

    node_selector_terms: tuple[NodeSelectorTerm, ...] = Field(alias="nodeSelectorTerms", min_length=1)


class PreferredSchedulingTerm(K8sModel):
    weight: int = Field(ge=1, le=100)
    preference: NodeSelectorTerm


class NodeAffinity(K8sModel):
    required: NodeSelector | None = Field(default=None, alias="requiredDuringSchedulingIgnoredDuringExecution")
    preferred: tuple[PreferredSchedulingTerm, ...] = Field(
        default=(), alias="preferredDuringSchedulingIgnoredDuringExecution"
    )


# ----------------------------------------------------------------------- pod affinity


class PodAffinityTerm(K8sModel):
    """``v1.PodAffinityTerm``. The term selects pods of the namespaces listed in
    ``namespaces`` and of those whose labels ``namespaceSelector`` matches; with neither,
    pods of the namespace of the pod that has the term (upstream
    ``getNamespacesFromPodAffinityTerm``). An empty ``namespaceSelector`` (``{}``)
    matches every namespace."""

    label_selector: LabelSelector | None = Field(default=None, alias="labelSelector")
    topology_key: LabelKey = Field(alias="topologyKey")
    namespaces: tuple[str, ...] = ()
    namespace_selector: LabelSelector | None = Field(default=None, alias="namespaceSelector")


class WeightedPodAffinityTerm(K8sModel):
    weight: int = Field(ge=1, le=100)
    pod_affinity_term: PodAffinityTerm = Field(alias="podAffinityTerm")


class PodAffinity(K8sModel):
    """``v1.PodAffinity`` and ``v1.PodAntiAffinity`` (same shape)."""

    required: tuple[PodAffinityTerm, ...] = Field(default=(), alias="requiredDuringSchedulingIgnoredDuringExecution")
    preferred: tuple[WeightedPodAffinityTerm, ...] = Field(
        default=(), alias="preferredDuringSchedulingIgnoredDuringExecution"
    )


class Affinity(K8sModel):
    node_affinity: NodeAffinity | None = Field(default=None, alias="nodeAffinity")
    pod_affinity: PodAffinity | None = Field(default=None, alias="podAffinity")
    pod_anti_affinity: PodAffinity | None = Field(default=None, alias="podAntiAffinity")


# ----------------------------------------------------------------------- topology spread


class TopologySpreadConstraint(K8sModel):
    """``v1.TopologySpreadConstraint``."""

    max_skew: int = Field(alias="maxSkew", ge=1)
    topology_key: LabelKey = Field(alias="topologyKey")
    when_unsatisfiable: Literal["DoNotSchedule", "ScheduleAnyway"] = Field(alias="whenUnsatisfiable")
    label_selector: LabelSelector | None = Field(default=None, alias="labelSelector")
    min_domains: int | None = Field(default=None, alias="minDomains", ge=1)
    node_affinity_policy: Literal["Honor", "Ignore"] = Field(default="Honor", alias="nodeAffinityPolicy")
    node_taints_policy: Literal["Honor", "Ignore"] = Field(default="Ignore", alias="nodeTaintsPolicy")
    match_label_keys: tuple[LabelKey, ...] = Field(default=(), alias="matchLabelKeys")

    @model_validator(mode="after")
    def _check(self) -> TopologySpreadConstraint:
        if self.min_domains is not None and self.when_unsatisfiable != "DoNotSchedule":
            raise ValueError("minDomains can only be set with whenUnsatisfiable: DoNotSchedule")
        return self


# ----------------------------------------------------------------------- ports, priority


class ContainerPort(K8sModel):
    """``v1.ContainerPort``: only ``hostPort`` matters to scheduling (NodePorts)."""

    container_port: int = Field(alias="containerPort", ge=1, le=65535)
    host_port: int | None = Field(default=None, alias="hostPort", ge=1, le=65535)
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    host_ip: str = Field(default="", alias="hostIP")


class PriorityClass(K8sModel):
    """``scheduling.k8s.io/v1 PriorityClass``."""

    name: DnsSubdomain
    # Upstream ValidatePriorityClass (pkg/apis/scheduling/validation/validation.go):
    # a user-defined value is at most HighestUserDefinablePriority (1e9); int32 below.
    value: Priority
    global_default: bool = Field(default=False, alias="globalDefault")
    preemption_policy: Literal["PreemptLowerPriority", "Never"] = Field(
        default="PreemptLowerPriority", alias="preemptionPolicy"
    )
    description: str = ""
