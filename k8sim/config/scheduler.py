"""The ``scheduler`` section: scheduling profiles (a preset plus plugin changes, under a
schedulerName), an optional KubeSchedulerConfiguration file, and the queue's timing."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from k8sim.config.k8s_types import K8sModel
from k8sim.config.names import DnsSubdomain, Seconds
from k8sim.constants import DEFAULT_SCHEDULER, MAX_TIME_S

__all__ = ["CostModelSpec", "ObservationSpec", "PluginRef", "PolicyRef", "ProfileSpec", "SchedulerSettings"]

#: Longest virtual time one scheduling cycle or one binding may be given (a day).
_MAX_COST_S = 86_400.0


class PluginRef(K8sModel):
    """A plugin enabled in a profile (upstream ``Plugin`` + its ``pluginConfig`` args)."""

    name: str = Field(min_length=1)  # registry name, entry point, or "package.module:Class"
    # Score weight (default 1); an int32 as upstream's Plugin.Weight.
    weight: int | None = Field(default=None, ge=1, le=2**31 - 1)
    args: dict[str, Any] = {}  # plugin args in upstream spelling (e.g. scoringStrategy)


class PolicyRef(K8sModel):
    """A Python policy that chooses the node of every decision of a profile, from the
    observation of ``k8sim.scheduling.observation`` (``k8sim.scheduling.policy``)."""

    # "linear" (built in), a name registered with k8sim.scheduling.policy.register_policy,
    # or "package.module:attr" (a class, called with args, or a policy object).
    name: str = Field(min_length=1)
    args: dict[str, Any] = {}  # keyword arguments of the policy class


class ObservationSpec(K8sModel):
    """What policies and the Gymnasium environment observe (besides the fixed features)."""

    # Node label keys encoded one-hot in the node features (e.g. topology.kubernetes.io/zone).
    label_features: list[str] = Field(default=[], alias="labelFeatures")
    # Node rows of the observation (the cluster may not outgrow it); None: the nodes at start.
    max_nodes: int | None = Field(default=None, alias="maxNodes", ge=1, le=10_000_000)


class ProfileSpec(K8sModel):
    """A scheduling profile: a preset plus MultiPoint-style changes, under a schedulerName."""

    scheduler_name: DnsSubdomain = Field(default=DEFAULT_SCHEDULER, alias="schedulerName")
    preset: str = "kube-default"  # kube-default | binpack | spread | random (k8sim plugins list)
    plugins: list[PluginRef] = []  # enabled on top of the preset; same name replaces in place
    disabled: list[str] = []  # preset plugins to drop; "*" drops them all
    # Overrides the scheduler-wide percentageOfNodesToScore for this profile.
    percentage_of_nodes_to_score: int | None = Field(default=None, alias="percentageOfNodesToScore", ge=0, le=100)
    # A Python policy that picks the node among those that pass the filters, instead of
    # the scores (None: the scores decide).
    policy: PolicyRef | None = None


class CostModelSpec(K8sModel):
    """How long scheduling cycles and bindings take (``k8sim.scheduling.cost``).

    ``preset: scheduler-perf`` gives ``cycle_base_s`` and ``per_node_plugin_s`` values
    calibrated to kube-scheduler's benchmark thresholds; fields given here override the
    preset's. Without a preset both are required.
    """

    preset: Literal["scheduler-perf"] | None = None
    # Fixed virtual seconds of every scheduling cycle.
    cycle_base_s: float | None = Field(default=None, ge=0, le=_MAX_COST_S)
    # Virtual seconds per (node x plugin) evaluated in the Filter and Score phases.
    per_node_plugin_s: float | None = Field(default=None, ge=0, le=_MAX_COST_S)
    # API server latency of the Binding call (asynchronous: it does not hold the scheduler).
    bind_latency_s: float = Field(default=0.0, ge=0, le=_MAX_COST_S)
    # Client-side rate limit of Binding calls (upstream clientConnection.qps / burst,
    # defaults 50 / 100); None: unthrottled.
    client_qps: float | None = Field(default=None, gt=0, le=1e9)
    client_burst: int = Field(default=1, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _check(self) -> CostModelSpec:
        if self.preset is None and (self.cycle_base_s is None or self.per_node_plugin_s is None):
            raise ValueError("give a preset (scheduler-perf) or both cycle_base_s and per_node_plugin_s")
        return self


class SchedulerSettings(K8sModel):
    """The scheduler: profiles and the queue's timing (upstream defaults)."""

    profiles: list[ProfileSpec] = Field(default_factory=lambda: [ProfileSpec()], min_length=1)
    # A real kubescheduler.config.k8s.io/v1 KubeSchedulerConfiguration file (relative to
    # the scenario file). Its profiles replace ``profiles``; its percentageOfNodesToScore
    # and backoff settings apply; what k8sim does not model is reported as warnings.
    config_file: str | None = Field(default=None, alias="configFile")
    # Share of nodes to search for feasible ones; 0 = upstream's adaptive default.
    percentage_of_nodes_to_score: int = Field(default=0, alias="percentageOfNodesToScore", ge=0, le=100)
    # Virtual seconds one scheduling cycle takes (0 = instantaneous).
    cycle_latency_s: Seconds = 0.0
    # Cycle and bind latencies from the work each cycle does (off when absent; see
    # k8sim.scheduling.cost). Excludes cycle_latency_s.
    cost_model: CostModelSpec | None = Field(default=None, alias="costModel")
    # Backoff of a pod that failed: initial * 2^(attempts-1), capped at max (upstream
    # podInitialBackoffSeconds / podMaxBackoffSeconds). 0 disables backoff (k8sim only).
    pod_initial_backoff_s: Seconds = Field(default=1.0, alias="podInitialBackoffSeconds")
    pod_max_backoff_s: Seconds = Field(default=10.0, alias="podMaxBackoffSeconds")
    # Pods waiting longer than this are retried on the next 30 s flush (upstream default).
    pod_max_in_unschedulable_s: float = Field(default=300.0, alias="podMaxInUnschedulablePodsDuration", gt=0,
                                              le=MAX_TIME_S)
    # Keep one row per scheduling decision in RunResult.decisions (off: it costs time).
    record_decisions: bool = Field(default=False, alias="recordDecisions")
    # Equal best scores: "random" (upstream selectHost) or "nodePriority" (a random
    # priority per node drawn once per seed; Weng et al. ATC '23). Absent: random,
    # except nodePriority for trace replay in inflation mode.
    tie_break: Literal["random", "nodePriority"] | None = Field(default=None, alias="tieBreak")
    # What profile policies and the Gymnasium environment observe.
    observation: ObservationSpec = ObservationSpec()
    # Incremental scheduling (k8sim): keep the node-local plugins' masks and raw scores
    # per recent pod shape and recompute only the nodes changed since. Off runs every
    # plugin over every node each cycle; the results are the same, only slower.
    incremental: bool = True

    @field_validator("config_file")
    @classmethod
    def _resolve(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is None:
            return v
        base = (info.context or {}).get("base_dir") if isinstance(info.context, dict) else None
        path = Path(v) if base is None or Path(v).is_absolute() else Path(base) / v
        if not path.is_file():
            raise ValueError(f"KubeSchedulerConfiguration file not found: {path}")
        return str(path)

    @model_validator(mode="after")
    def _check(self) -> SchedulerSettings:
        if self.config_file is not None and "profiles" in self.model_fields_set:
            raise ValueError("give either profiles or configFile, not both")
        if self.cost_model is not None and self.cycle_latency_s > 0:
            raise ValueError("give either cycle_latency_s or costModel, not both")
        if self.pod_max_backoff_s < self.pod_initial_backoff_s:
            raise ValueError("podMaxBackoffSeconds must be >= podInitialBackoffSeconds")
        names = [p.scheduler_name for p in self.profiles]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"profiles must have distinct schedulerName, repeated: {dup}")
        return self
