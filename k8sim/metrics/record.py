"""The record of one finished run: what the simulation hands to the metrics.

:class:`RunRecord` is frozen and holds only data: the tables, the event log, what the
components contributed (frames, provenance, summary columns) and the few settings the
metrics need. :meth:`k8sim.metrics.result.RunResult.from_record` builds the result from
it and nothing else, so the metrics never read a simulation's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from k8sim.cluster.log import EventLog
    from k8sim.cluster.ops import ClusterState


@dataclass(frozen=True)
class RunRecord:
    """Everything a result is computed from."""

    #: The cluster tables at the end of the run.
    state: ClusterState
    #: The event log.
    log: EventLog
    #: Workload names by workload index (pods of index -1 are initial pods).
    workload_names: tuple[str, ...]
    #: The virtual time the run covers up to (s).
    end_time: float
    #: Pods created before this (s) are left out of summaries.
    warmup_s: float
    #: Timeseries bin width (s).
    sample_interval_s: float
    #: Scenario, seed, version, wall time, counts, components' entries, warnings.
    provenance: dict[str, Any]
    #: Workloads whose pods exceed every node's allocatable: name -> resources.
    never_fit: dict[str, list[str]] = field(default_factory=dict)
    #: Target workload of the GPU fragmentation measure (TargetPod dicts) or None for
    #: the default (the run's submitted pods).
    gpu_target: list[dict[str, Any]] | None = None
    #: Frames contributed by components (``decisions``, ``trace``, ...).
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Summary columns contributed by components.
    summary: dict[str, Any] = field(default_factory=dict)
