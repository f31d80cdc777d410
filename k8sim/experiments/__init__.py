"""Policy comparisons and parameter sweeps over many runs.

Public API::

    from k8sim.experiments import compare, sweep
    result = compare(scenario, ["kube-default", "binpack"], replications=10, jobs=2)
    result.summary, result.paired            # tidy DataFrames (mean, std, n, 95% t CI, tests)
    compare(scenario, profiles, replications=10, precision=0.05)   # until +-5% (docs/statistics.md)
    table = sweep("experiments/cluster-size.yaml", executor="local", jobs=2)

``compare`` and ``sweep`` here are the functions; they live in the modules
:mod:`~k8sim.experiments.comparison` and :mod:`~k8sim.experiments.sweeps`, named apart
so that no function hides a module of the package.
"""

from __future__ import annotations

from k8sim.experiments.comparison import ComparisonResult, apply_profile, load_comparison
from k8sim.experiments.comparison import compare as compare
from k8sim.experiments.executors import ExecutorError
from k8sim.experiments.report import comparison_report
from k8sim.experiments.stats import (
    holm,
    mean_ci,
    paired_differences,
    summarize,
    t_quantile,
    t_test_p,
    wilcoxon_p,
)
from k8sim.experiments.sweeps import Experiment, experiment_from_data, load_experiment
from k8sim.experiments.sweeps import sweep as sweep

__all__ = [
    "ComparisonResult",
    "Experiment",
    "ExecutorError",
    "apply_profile",
    "compare",
    "comparison_report",
    "experiment_from_data",
    "holm",
    "load_comparison",
    "load_experiment",
    "mean_ci",
    "paired_differences",
    "summarize",
    "sweep",
    "t_quantile",
    "t_test_p",
    "wilcoxon_p",
]
