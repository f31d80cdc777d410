"""The framework handle: run-level context that plugins may read.

Upstream plugins get a ``framework.Handle`` at construction and ask it for shared state
(the snapshot, informers, the event recorder). A k8sim plugin that needs something only
the assembled run knows, such as the target workload FGD measures fragmentation against
when its args give none, reads it here instead of being patched from outside. The
simulation fills the handle once the workloads are loaded, before the first cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class FrameworkHandle:
    """Shared by every plugin of every profile of one run."""

    #: The run's default GPU target workload (FGD ``targetWorkload`` format: a list of
    #: TargetPod dicts), from the trace workloads' pods; None when the run has none.
    gpu_target: list[dict[str, Any]] | None = None
    #: The run's PodGroups (:class:`~k8sim.batch.podgroups.PodGroups`), read by the
    #: Coscheduling plugin; None when the run has none.
    pod_groups: Any = None
