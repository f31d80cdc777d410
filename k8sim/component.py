"""Components: the parts a simulation is assembled from, and what they share.

A k8sim run is a list of components on one control plane, as a Kubernetes cluster is a
set of controllers around one API server: workload sources, the scheduler, the kubelet,
and (as they land) controllers, fault sources, autoscalers and storage. Each one

1. is built from the validated scenario and a shared :class:`Context` (the SimPy
   environment, the Cluster API, the random streams, the scenario), and subscribes to
   the watch events it needs (:mod:`k8sim.cluster.watch`) in its constructor;
2. starts its SimPy processes in :meth:`Component.start` (the simulation starts the
   components in assembly order, so runs are deterministic);
3. changes the cluster only through ``ctx.api`` (never by calling another component);
4. hands what it measured to the result in :meth:`Component.contribute`: extra frames,
   provenance entries and summary columns.

``k8sim.sim.simulation.Simulation`` only assembles the components the scenario asks for,
so a scenario without (say) controllers pays nothing for them. See ``docs/components.md``
for a worked example.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd
    import simpy

    from k8sim.cluster.api import ClusterAPI
    from k8sim.cluster.ops import ClusterState
    from k8sim.config.scenario import Scenario
    from k8sim.rng import Streams


@dataclass
class Context:
    """What every component of one run shares.

    ``warnings`` collects what the build found questionable but runnable (kept in the
    result's provenance); ``source`` names the scenario file for error messages.
    """

    env: simpy.Environment
    api: ClusterAPI
    streams: Streams
    scenario: Scenario
    seed: int
    warnings: list[str] = field(default_factory=list)
    #: The run's components by name, in assembly order (filled as they are built), for
    #: the few things that must reach one (operator actions such as scaling).
    components: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> ClusterState:
        """The tables (read freely; change only through :attr:`api`)."""
        return self.api.state

    @property
    def source(self) -> str:
        return self.scenario.source


@dataclass
class Contribution:
    """What a component adds to the run's result.

    ``frames``: extra tables by name (they become attributes of the result where it
    has one of that name, such as ``decisions`` or ``trace``, else entries of
    ``RunResult.frames``); ``provenance``: entries of the result's provenance;
    ``summary``: extra columns of ``RunResult.summary()``.
    """

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


class Component(Protocol):
    """The interface of a simulation component (see the module docstring)."""

    #: Short name, unique in a run (``"scheduler"``, ``"kubelet"``, ...).
    name: str

    def start(self) -> None:
        """Start the component's SimPy processes (called once, in assembly order)."""

    def contribute(self) -> Contribution:
        """Frames, provenance and summary columns for the result (called once, after
        the run)."""
