"""Compare scheduling policies on one scenario with replications and common random numbers.

``compare(scenario, ["kube-default", "binpack"], replications=10)`` runs the scenario
once per profile and replication. Replication ``r`` uses seed ``base_seed + r`` under
every profile, so the arrival times, run times and start latencies of the pods are
identical across profiles within a replication (every workload draws them from its own
seeded stream): the profiles are compared on the same workload, and the paired
differences to the baseline are far less noisy than differences of independent means.

A *profile* is a preset name from :data:`k8sim.scheduling.profiles.PRESETS`. From
Python it may also be a :class:`~k8sim.config.scenario.ProfileSpec` (a preset plus
plugins, e.g. a custom plugin), given in a mapping ``{label: spec}``. The scenario's
``scheduler.profiles`` is replaced by that profile under every ``schedulerName`` its
workloads use (``default-scheduler`` when they name none).
"""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from k8sim.config.loader import ScenarioError, load_scenario
from k8sim.config.scenario import DEFAULT_SCHEDULER, ProfileSpec, Scenario
from k8sim.constants import MAX_RUNS
from k8sim.experiments.executors import open_executor
from k8sim.experiments.stats import numeric_metrics, paired_differences, summarize
from k8sim.metrics.result import RunResult
from k8sim.metrics.rundir import json_safe, load_run, write_result
from k8sim.scheduling import registry
from k8sim.scheduling.profiles import PRESETS
from k8sim.sim.simulation import Simulation

#: ``progress(done, total)`` after each finished run.
ProgressFn = Callable[[int, int], None]

#: Columns of ``ComparisonResult.runs`` that are not metrics.
ID_COLUMNS = ("profile", "replication", "seed")
#: Measured, not simulated: kept in ``runs`` but left out of summaries and differences.
WALL_COLUMN = "wall_s"


# ----------------------------------------------------------------------------- profiles


def scheduler_names(scenario: Scenario) -> list[str]:
    """The schedulerNames the scenario's workloads use, in order of first use."""
    names: list[str] = []
    for w in scenario.workloads:
        if w.template.scheduler_name not in names:
            names.append(w.template.scheduler_name)
    return names or [DEFAULT_SCHEDULER]


def apply_profile(scenario: Scenario, profile: str | ProfileSpec) -> Scenario:
    """``scenario`` with ``scheduler.profiles`` replaced by ``profile`` (a preset name or a
    spec) under each schedulerName its workloads use."""
    spec = ProfileSpec(preset=profile) if isinstance(profile, str) else profile
    specs = [spec.model_copy(update={"scheduler_name": name}) for name in scheduler_names(scenario)]
    scheduler = scenario.scheduler.model_copy(update={"profiles": specs})
    return scenario.model_copy(update={"scheduler": scheduler})


def resolve_profiles(
    profiles: Sequence[str] | Mapping[str, str | ProfileSpec], source: str = "profiles"
) -> dict[str, ProfileSpec]:
    """``label -> ProfileSpec`` for preset names (a list) or ``{label: preset or spec}``.

    Unknown presets and plugins, bad plugin args and repeated labels are reported all at
    once in one :class:`ScenarioError`.
    """
    if isinstance(profiles, str):
        profiles = [profiles]
    items: list[tuple[str, str | ProfileSpec]]
    if isinstance(profiles, Mapping):
        items = [(str(k), v) for k, v in profiles.items()]
    else:
        items = [(str(p), p) for p in profiles]
    problems: list[tuple[str, str]] = []
    if not items:
        problems.append(("profiles", "give at least one profile"))
    out: dict[str, ProfileSpec] = {}
    for i, (label, value) in enumerate(items):
        where = f"profiles[{i}]" if not isinstance(profiles, Mapping) else f"profiles[{label!r}]"
        if label in out:
            problems.append((where, f"profile {label!r} is listed twice"))
            continue
        if isinstance(value, str):
            if value not in PRESETS:
                problems.append((where, f"unknown preset {value!r}; available: {', '.join(sorted(PRESETS))}"))
                continue
            out[label] = ProfileSpec(preset=value)
        elif isinstance(value, ProfileSpec):
            if value.preset not in PRESETS:
                problems.append(
                    (f"{where}.preset", f"unknown preset {value.preset!r}; available: {', '.join(sorted(PRESETS))}")
                )
                continue
            bad = False
            for j, ref in enumerate(value.plugins):
                if ref.name == "DefaultPreemption":
                    continue
                try:
                    cls = registry.get(ref.name)
                    cls.parse_args(ref.args)
                except ValueError as e:
                    problems.append((f"{where}.plugins[{j}]", str(e)))
                    bad = True
            if not bad:
                out[label] = value
        else:
            problems.append((where, f"expected a preset name or a ProfileSpec, got {type(value).__name__}"))
    if problems:
        raise ScenarioError(source, problems)
    return out


# ----------------------------------------------------------------------------- one run


@dataclass
class RunTask:
    """One simulation to run (picklable: it travels to worker processes)."""

    scenario: Scenario
    seed: int
    info: dict[str, Any] = field(default_factory=dict)  # copied into the output row
    keep: str = "none"  # "none" | "tables" (pods + timeseries) | "full" (the RunResult)


@dataclass
class RunOutput:
    """What a worker sends back: a row (ids + summary metrics + wall time) and, on
    request, tables; or the error and its traceback."""

    row: dict[str, Any]
    result: RunResult | None = None
    tables: dict[str, pd.DataFrame] | None = None
    error: str | None = None
    traceback: str = ""
    warmup_s: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def summary_row(result: RunResult) -> dict[str, Any]:
    """The one-row summary as a dict of plain Python numbers."""
    return {str(k): _plain(v) for k, v in result.summary().to_dict(orient="records")[0].items()}


def execute_task(task: RunTask) -> RunOutput:
    """Build and run one simulation; exceptions come back as data (with the traceback
    formatted where they happened). A top-level function, so it pickles by reference."""
    row: dict[str, Any] = dict(task.info)
    row["seed"] = task.seed
    t0 = time.perf_counter()
    try:
        result = Simulation(task.scenario, seed=task.seed).run()
        metrics = summary_row(result)
    except Exception as e:  # noqa: BLE001 - reported per run, the others go on
        return RunOutput(row=row, error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
    row.update(metrics)
    row[WALL_COLUMN] = time.perf_counter() - t0
    out = RunOutput(row=row, warmup_s=result.warmup_s, provenance=dict(result.provenance))
    if task.keep == "full":
        out.result = result
    elif task.keep == "tables":
        out.tables = {"pods": result.pods, "timeseries": result.timeseries}
    return out


# ----------------------------------------------------------------------------- compare


@dataclass
class ComparisonResult:
    """Everything :func:`compare` measured.

    - ``runs``: one row per profile x replication: profile, replication, seed, every
      summary metric, ``wall_s``.
    - ``summary``: one row per profile and metric: mean, std, n, ci (half-width of the
      ``confidence`` Student t interval), ci_low, ci_high.
    - ``paired``: one row per non-baseline profile and metric: the mean paired
      difference to the baseline over replications with its own t interval, the
      relative difference and whether the interval excludes 0.
    - ``results``: ``{(profile, replication): RunResult}`` when ``keep_results=True``.
    """

    scenario: str
    profiles: list[str]
    baseline: str
    replications: int
    base_seed: int
    confidence: float
    metrics: list[str]
    runs: pd.DataFrame
    summary: pd.DataFrame
    paired: pd.DataFrame
    warmup_s: float = 0.0
    specs: dict[str, ProfileSpec] = field(default_factory=dict)
    results: dict[tuple[str, int], RunResult] | None = None

    @property
    def seeds(self) -> list[int]:
        return [self.base_seed + r for r in range(self.replications)]

    def significant(self) -> pd.DataFrame:
        """The rows of ``paired`` whose interval excludes 0."""
        return self.paired[self.paired["significant"]].reset_index(drop=True)

    def results_for(self, profile: str) -> list[RunResult]:
        """The kept RunResults of ``profile`` in replication order (empty if none kept)."""
        if not self.results:
            return []
        return [self.results[(profile, r)] for r in range(self.replications) if (profile, r) in self.results]

    def metadata(self) -> dict[str, Any]:
        """What ``comparison.json`` holds: everything but the tables."""
        return {
            "scenario": self.scenario,
            "profiles": self.profiles,
            "baseline": self.baseline,
            "replications": self.replications,
            "base_seed": self.base_seed,
            "seeds": self.seeds,
            "confidence": self.confidence,
            "metrics": self.metrics,
            "warmup_s": self.warmup_s,
            "specs": {k: v.model_dump(mode="json", by_alias=True) for k, v in self.specs.items()},
            "run_dirs": {p: profile_dirname(p) for p in self.profiles},
        }

    def save(self, directory: str | Path, tables: bool = True) -> Path:
        """Write ``runs.parquet``, ``summary.csv``, ``paired.csv``, ``comparison.json`` and,
        when RunResults were kept and ``tables``, each run's pods, timeseries (and GPU
        timeline, when the cluster has GPUs) under
        ``runs/<profile>/rep-<r>/`` (what :func:`load_comparison` and the plots need)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.runs.to_parquet(d / "runs.parquet", index=False)
        self.summary.to_csv(d / "summary.csv", index=False)
        self.paired.to_csv(d / "paired.csv", index=False)
        (d / "comparison.json").write_text(json.dumps(self.metadata(), indent=2) + "\n")
        if tables and self.results:
            seeds = dict(zip(zip(self.runs["profile"], self.runs["replication"], strict=True),
                             self.runs["seed"], strict=True))
            for (profile, r), res in self.results.items():
                rd = d / "runs" / profile_dirname(profile) / f"rep-{r}"
                write_result(res, rd, tables=("pods", "timeseries", "gpu"),
                             extra={"profile": profile, "replication": r, "seed": seeds.get((profile, r))})
        return d


def profile_dirname(label: str) -> str:
    """A file-system-safe directory name for a profile label."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label) or "_"


def load_comparison(directory: str | Path) -> ComparisonResult:
    """Read a directory written by :meth:`ComparisonResult.save` (RunResults rebuilt from
    the saved pods and timeseries tables, when present)."""
    d = Path(directory)
    meta = json.loads((d / "comparison.json").read_text())
    runs = pd.read_parquet(d / "runs.parquet")
    summary = pd.read_csv(d / "summary.csv", dtype={"profile": str})
    paired = pd.read_csv(d / "paired.csv", dtype={"profile": str, "baseline": str})
    results: dict[tuple[str, int], RunResult] = {}
    dirs = meta.get("run_dirs", {})
    for p in meta["profiles"]:
        for r in range(meta["replications"]):
            rd = d / "runs" / dirs.get(p, profile_dirname(p)) / f"rep-{r}"
            if (rd / "pods.parquet").is_file() and (rd / "timeseries.parquet").is_file():
                results[(p, r)] = load_run(rd)
    return ComparisonResult(
        scenario=meta["scenario"], profiles=list(meta["profiles"]), baseline=meta["baseline"],
        replications=meta["replications"], base_seed=meta["base_seed"], confidence=meta["confidence"],
        metrics=list(meta["metrics"]), runs=runs, summary=summary, paired=paired,
        warmup_s=meta.get("warmup_s", 0.0),
        specs={k: ProfileSpec.model_validate(v) for k, v in meta.get("specs", {}).items()},
        results=results or None,
    )


def _sort_runs(runs: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    rank = {p: i for i, p in enumerate(order)}
    key = runs["profile"].map(rank) * 1_000_000 + runs["replication"]
    return runs.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def compare(
    scenario: Scenario | str | Path,
    profiles: Sequence[str] | Mapping[str, str | ProfileSpec],
    replications: int,
    jobs: int = 1,
    base_seed: int | None = None,
    baseline: str | None = None,
    *,
    keep_results: bool = False,
    confidence: float = 0.95,
    executor: str = "local",
    address: str | None = None,
    progress: ProgressFn | None = None,
) -> ComparisonResult:
    """Run ``scenario`` under each profile for ``replications`` seeds and compare.

    ``scenario``: a :class:`Scenario` or a scenario file. ``profiles``: preset names, or
    ``{label: preset name or ProfileSpec}``. Replication ``r`` uses seed
    ``base_seed + r`` (default: the scenario's seed) under every profile (common random
    numbers). ``baseline`` (default: the first profile) is what ``paired`` compares
    against. ``jobs > 1`` runs in that many worker processes (``executor="dask"``: on a
    Dask cluster at ``address``, or a local one of ``jobs`` workers). Results do not
    depend on where runs execute.

    Bad input (unknown profiles or plugins, a baseline that is not among the profiles,
    ``replications < 1``, a scenario that cannot be built) raises :class:`ScenarioError`
    before any run; a run that fails raises ``RuntimeError`` naming the run.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    problems: list[tuple[str, str]] = []
    if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
        problems.append(("replications", f"must be an integer >= 1, got {replications!r}"))
    elif replications * max(1, len(profiles)) > MAX_RUNS:
        problems.append(("replications", f"{replications:,} replications x {len(profiles)} profile(s) exceed "
                                         f"{MAX_RUNS:,} runs (see docs/limits.md)"))
    if base_seed is not None and (not isinstance(base_seed, int) or base_seed < 0):
        problems.append(("base_seed", f"must be an integer >= 0, got {base_seed!r}"))
    if not 0 < confidence < 1:
        problems.append(("confidence", f"must be in (0, 1), got {confidence!r}"))
    try:
        specs = resolve_profiles(profiles, source="compare")
    except ScenarioError as e:
        problems += e.problems
        specs = {}
    labels = list(specs)
    if baseline is None and labels:
        baseline = labels[0]
    if specs and baseline not in specs:
        problems.append(("baseline", f"{baseline!r} is not among the profiles ({', '.join(labels)})"))
    if problems:
        raise ScenarioError("compare", problems)
    assert baseline is not None
    seed0 = scenario.seed if base_seed is None else base_seed

    scenarios = {label: apply_profile(scenario, spec) for label, spec in specs.items()}
    for sc in scenarios.values():
        Simulation(sc, seed=seed0)  # surfaces build-time problems (plugins, names) now

    keep = "full" if keep_results else "none"
    tasks = [
        RunTask(scenarios[label], seed0 + r, {"profile": label, "replication": r}, keep)
        for label in labels
        for r in range(replications)
    ]
    rows: list[dict[str, Any]] = []
    results: dict[tuple[str, int], RunResult] = {}
    with open_executor(executor, jobs, address) as ex:
        for done, outcome in enumerate(ex.map_unordered(execute_task, tasks), start=1):
            task = tasks[outcome.index]
            out: RunOutput | None = outcome.value
            error = outcome.error or (out.error if out is not None else None)
            if error is not None:
                tb = outcome.traceback or (out.traceback if out is not None else "")
                raise RuntimeError(
                    f"run profile={task.info['profile']!r} replication={task.info['replication']} "
                    f"seed={task.seed} failed: {error}\n{tb}"
                )
            assert out is not None
            rows.append(out.row)
            if out.result is not None:
                results[(task.info["profile"], task.info["replication"])] = out.result
            if progress is not None:
                progress(done, len(tasks))

    runs = _sort_runs(pd.DataFrame(rows), labels)
    front = [c for c in ID_COLUMNS if c in runs]
    rest = [c for c in runs.columns if c not in ID_COLUMNS and c != WALL_COLUMN]
    runs = runs[front + rest + [WALL_COLUMN]]
    metrics = numeric_metrics(runs, exclude=(*ID_COLUMNS, WALL_COLUMN))
    return ComparisonResult(
        scenario=scenario.name or scenario.source,
        profiles=labels,
        baseline=baseline,
        replications=replications,
        base_seed=seed0,
        confidence=confidence,
        metrics=metrics,
        runs=runs,
        summary=summarize(runs, metrics, by="profile", confidence=confidence),
        paired=paired_differences(runs, metrics, baseline, by="profile", confidence=confidence),
        warmup_s=scenario.warmup_s,
        specs=specs,
        results=results if keep_results else None,
    )


def finite_or_none(v: Any) -> Any:
    """JSON-friendly: NaN/inf floats become None, numpy scalars plain Python."""
    return json_safe(v)
