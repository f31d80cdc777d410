"""k8sim: a discrete-event simulator of Kubernetes-style clusters for scheduling research.

Public API::

    from k8sim import load_scenario, run, Simulation, RunResult
    scenario = load_scenario("scenarios/quickstart.yaml")
    result = run(scenario, seed=1)
    result.summary()
    k8sim.compare(scenario, ["kube-default", "binpack"], replications=10)
"""

from __future__ import annotations

__version__ = "0.1.0"

from k8sim.config.loader import ScenarioError, load_scenario, validate_scenario
from k8sim.config.scenario import Scenario
from k8sim.experiments import ComparisonResult, compare, sweep
from k8sim.metrics.result import RunResult
from k8sim.sim.simulation import Simulation, run

__all__ = [
    "ComparisonResult",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "__version__",
    "compare",
    "load_scenario",
    "run",
    "sweep",
    "validate_scenario",
]
