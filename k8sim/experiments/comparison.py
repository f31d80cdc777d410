"""Compare scheduling policies on one scenario with replications and common random numbers.

``compare(scenario, ["kube-default", "binpack"], replications=10)`` runs the scenario
once per profile and replication. Replication ``r`` uses seed ``base_seed + r`` under
every profile, so the arrival times, run times and start latencies of the pods are
identical across profiles within a replication (every workload draws them from its own
seeded stream): the profiles are compared on the same workload, and the paired
differences to the baseline are far less noisy than differences of independent means.

A *profile* is a preset name from :data:`k8sim.scheduling.profiles.PRESETS`, one of
the scenario's own ``scheduler.profiles`` by its ``schedulerName`` (``preset:NAME`` /
``scenario:NAME`` say which when a name is both), a profile written inline
(``LABEL={preset: kube-default, plugins: [...]}``) or read from a YAML file
(``[LABEL=]@file.yaml``); from Python also a :class:`~k8sim.config.scenario.ProfileSpec`
or a mapping, given in a mapping ``{label: spec}`` (:func:`resolve_profiles`). The
scenario's ``scheduler.profiles`` is replaced by that profile under every
``schedulerName`` its workloads use (``default-scheduler`` when they name none).
"""

from __future__ import annotations

import json
import math
import re
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from k8sim.config.loader import ScenarioError, format_loc, load_scenario, read_yaml
from k8sim.config.scenario import DEFAULT_SCHEDULER, ProfileSpec, Scenario
from k8sim.constants import MAX_RUNS
from k8sim.experiments.executors import open_executor
from k8sim.experiments.stats import numeric_metrics, paired_differences, precision_table, summarize
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
#: Metrics the sequential procedure watches when none are named.
DEFAULT_PRECISION_METRICS = ("scheduling_latency_mean_s", "mean_cpu_utilization")
#: Upper bound on replications of the sequential procedure when none is given.
DEFAULT_MAX_REPLICATIONS = 100
PRECISION_TARGETS = ("mean", "difference")
#: Summary keys renamed since a run or comparison directory was written: old -> new (a
#: resumed sweep or a reloaded comparison reads them under the new names, so one table
#: holds one column per metric).
RENAMED_METRICS = {"pods_unschedulable": "pods_pending_failed_scheduling"}


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
    spec) under each schedulerName its workloads use. A ``scheduler.configFile`` is
    dropped: its profiles are what the given profile replaces (it would otherwise win
    over them silently)."""
    spec = ProfileSpec(preset=profile) if isinstance(profile, str) else profile
    specs = [spec.model_copy(update={"scheduler_name": name}) for name in scheduler_names(scenario)]
    scheduler = scenario.scheduler.model_copy(update={"profiles": specs, "config_file": None})
    return scenario.model_copy(update={"scheduler": scheduler})


#: Prefixes of a profile reference: a preset, or one of the scenario's own profiles.
PRESET_PREFIX = "preset:"
SCENARIO_PREFIX = "scenario:"


def scenario_profiles(scenario: Scenario | None) -> dict[str, ProfileSpec]:
    """The scenario's own profiles by schedulerName (none with a ``configFile``, whose
    profiles are not ProfileSpecs)."""
    if scenario is None or scenario.scheduler.config_file is not None:
        return {}
    return {p.scheduler_name: p for p in scenario.scheduler.profiles}


def _same_as_preset(spec: ProfileSpec, name: str) -> bool:
    return spec.preset == name and not spec.plugins and not spec.disabled and \
        spec.percentage_of_nodes_to_score is None


def _available(scenario: Scenario | None) -> str:
    own = scenario_profiles(scenario)
    text = ", ".join(sorted(PRESETS))
    if own:
        text += f"; the scenario's own profiles (by schedulerName): {', '.join(own)}"
    return text


def _from_text(text: str, where: str, scenario: Scenario | None, base_dir: Path | None,
               problems: list[tuple[str, str]]) -> tuple[str | None, ProfileSpec | dict[str, ProfileSpec] | None]:
    """A profile reference given as text -> ``(label or None, spec)``; problems appended.

    ``NAME``: a preset, or the scenario's profile with that schedulerName (both: an
    error unless they are the same); ``preset:NAME``; ``scenario:NAME``;
    ``LABEL=REF`` (any of these under a label of your choice); ``LABEL={...}`` (a
    profile as an inline YAML mapping); ``[LABEL=]@FILE`` (a YAML file holding one
    profile, or ``profiles:`` mapping labels to profiles).
    """
    label: str | None = None
    ref = text.strip()
    if "=" in ref and not ref.startswith(("{", "@")) and ref.split("=", 1)[0].strip():
        label, ref = (x.strip() for x in ref.split("=", 1))
    if ref.startswith("@"):
        path = Path(ref[1:])
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        try:
            data = read_yaml(path)
        except ScenarioError as e:
            problems += [(where, f"{path}: {m}") for _, m in e.problems]
            return label, None
        if isinstance(data, Mapping) and set(data) == {"profiles"} and isinstance(data["profiles"], Mapping):
            if label is not None:
                problems.append((where, f"{path} holds several profiles (profiles:): give it without a label"))
                return label, None
            many: dict[str, ProfileSpec] = {}
            for k, v in data["profiles"].items():
                spec = _spec_from_data(v, f"{where}: {path}: profiles.{k}", problems)
                if spec is not None:
                    many[str(k)] = spec
            return None, many
        return label or path.stem, _spec_from_data(data, f"{where}: {path}", problems)
    if ref.startswith("{"):
        try:
            data = yaml.safe_load(ref)
        except yaml.YAMLError as e:
            problems.append((where, f"not a YAML mapping: {str(e).splitlines()[0]}"))
            return label, None
        if label is None:
            problems.append((where, "an inline profile needs a label: LABEL={preset: ..., plugins: [...]}"))
            return None, None
        return label, _spec_from_data(data, where, problems)
    own = scenario_profiles(scenario)
    if ref.startswith(SCENARIO_PREFIX):
        name = ref[len(SCENARIO_PREFIX):]
        if scenario is None:
            problems.append((where, f"{ref!r} needs the scenario"))
            return label, None
        if scenario.scheduler.config_file is not None:
            problems.append((where, f"{ref!r}: the scenario's profiles come from scheduler.configFile "
                                    f"({scenario.scheduler.config_file}); compare them as presets or "
                                    "inline profiles, or run the scenario as it is"))
            return label, None
        if name not in own:
            problems.append((where, f"the scenario has no profile with schedulerName {name!r} "
                                    f"(it has: {', '.join(own)})"))
            return label, None
        return label or name, own[name]
    if ref.startswith(PRESET_PREFIX):
        name = ref[len(PRESET_PREFIX):]
        if name not in PRESETS:
            problems.append((where, f"unknown preset {name!r}; available: {', '.join(sorted(PRESETS))}"))
            return label, None
        return label or name, ProfileSpec(preset=name)
    if ref in PRESETS and ref in own and not _same_as_preset(own[ref], ref):
        problems.append((where, f"{ref!r} is both a preset and a profile of the scenario that differs from it: "
                                f"say preset:{ref} or scenario:{ref}"))
        return label, None
    if ref in own:
        return label or ref, own[ref]
    if ref in PRESETS:
        return label or ref, ProfileSpec(preset=ref)
    problems.append((where, f"unknown preset {ref!r}; available: {_available(scenario)}"))
    return label, None


def _spec_from_data(data: Any, where: str, problems: list[tuple[str, str]]) -> ProfileSpec | None:
    """A ProfileSpec from plain data (a mapping as in ``scheduler.profiles[]``)."""
    if not isinstance(data, Mapping):
        problems.append((where, f"expected a profile mapping (preset, plugins, disabled), got {data!r}"))
        return None
    try:
        return ProfileSpec.model_validate(dict(data))
    except ValidationError as err:
        for e in err.errors(include_url=False):
            loc = format_loc(e["loc"], data)
            problems.append((f"{where}.{loc}" if loc else where, e["msg"]))
        return None


def resolve_profiles(
    profiles: Sequence[str] | Mapping[str, str | ProfileSpec | Mapping[str, Any]],
    source: str = "profiles",
    scenario: Scenario | None = None,
    base_dir: Path | None = None,
) -> dict[str, ProfileSpec]:
    """``label -> ProfileSpec`` for a list of references or ``{label: reference or spec}``.

    A reference is text (see :func:`_from_text`: a preset, the scenario's own profile
    by schedulerName, ``preset:``/``scenario:`` to say which, ``LABEL=...``, an inline
    YAML mapping, ``@file``); a spec is a :class:`ProfileSpec` or a mapping validated as
    one. ``scenario`` resolves the scenario's own profiles; ``base_dir`` relative
    ``@file`` paths. Unknown presets and plugins, bad plugin args, ambiguous names and
    repeated labels are reported all at once in one :class:`ScenarioError`.
    """
    if isinstance(profiles, str):
        profiles = [profiles]
    items: list[tuple[str | None, str, Any]] = []  # (label, where, value)
    if isinstance(profiles, Mapping):
        items = [(str(k), f"profiles[{str(k)!r}]", v) for k, v in profiles.items()]
    else:
        items = [(None, f"profiles[{i}]", p) for i, p in enumerate(profiles)]
    problems: list[tuple[str, str]] = []
    if not items:
        problems.append(("profiles", "give at least one profile"))
    resolved: list[tuple[str, str, ProfileSpec]] = []
    for label, where, value in items:
        if isinstance(value, ProfileSpec):
            spec: ProfileSpec | dict[str, ProfileSpec] | None = value
        elif isinstance(value, Mapping):
            spec = _spec_from_data(value, where, problems)
        elif isinstance(value, str):
            text_label, spec = _from_text(value, where, scenario, base_dir, problems)
            label = label or text_label
        else:
            problems.append((where, f"expected a preset name or a profile, got {type(value).__name__}"))
            continue
        if isinstance(spec, dict):
            resolved += [(k, f"{where}.profiles[{k!r}]", v) for k, v in spec.items()]
        elif spec is not None:
            resolved.append((label or str(value), where, spec))
    out: dict[str, ProfileSpec] = {}
    for label, where, spec in resolved:
        if label in out:
            problems.append((where, f"profile {label!r} is listed twice"))
            continue
        if spec.preset not in PRESETS:
            problems.append((f"{where}.preset",
                             f"unknown preset {spec.preset!r}; available: {', '.join(sorted(PRESETS))}"))
            continue
        bad = False
        for j, ref in enumerate(spec.plugins):
            if ref.name == "DefaultPreemption":
                continue
            try:
                cls = registry.get(ref.name)
                cls.parse_args(ref.args)
            except ValueError as e:
                problems.append((f"{where}.plugins[{j}]", str(e)))
                bad = True
        if not bad:
            out[label] = spec
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
    keep: str = "none"  # "none" | "tables" (pods, nodes, events, timeseries) | "full" (the RunResult)


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
        # nodes and events too: the summary's node-hours and lost-pod reasons need them.
        out.tables = {"pods": result.pods, "nodes": result.nodes, "events": result.events,
                      "timeseries": result.timeseries}
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

    With the sequential procedure (``compare(..., precision=...)``): ``precision``,
    ``precision_metrics``, ``precision_target``, ``max_replications``,
    ``initial_replications``, ``precision_reached`` (every watched relative half-width
    at most ``precision`` when it stopped, else it stopped at ``max_replications``) and
    ``precision_history``: after each round, one row per watched profile and metric:
    replications, profile, metric, center, ci, rel_half_width.
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
    precision: float | None = None
    precision_metrics: list[str] = field(default_factory=list)
    precision_target: str = "mean"
    max_replications: int | None = None
    initial_replications: int | None = None
    precision_reached: bool | None = None
    precision_history: pd.DataFrame | None = None

    @property
    def sequential(self) -> bool:
        """Whether the replications were added until a target precision."""
        return self.precision is not None

    def final_precision(self) -> pd.DataFrame:
        """The watched relative half-widths after the last round (empty if not sequential)."""
        h = self.precision_history
        if h is None or h.empty:
            return pd.DataFrame(columns=["replications", "profile", "metric", "center", "ci", "rel_half_width"])
        return h[h["replications"] == h["replications"].max()].reset_index(drop=True)

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
            "precision": self.precision,
            "precision_metrics": self.precision_metrics,
            "precision_target": self.precision_target,
            "max_replications": self.max_replications,
            "initial_replications": self.initial_replications,
            "precision_reached": self.precision_reached,
        }

    def save(self, directory: str | Path, tables: bool = True) -> Path:
        """Write ``runs.parquet``, ``summary.csv``, ``paired.csv``, ``comparison.json``,
        ``precision.csv`` (the sequential procedure's rounds, when it ran) and,
        when RunResults were kept and ``tables``, each run's pods, nodes, events,
        timeseries (and GPU timeline, when the cluster has GPUs) under
        ``runs/<profile>/rep-<r>/`` (what :func:`load_comparison` and the plots need)."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        self.runs.to_parquet(d / "runs.parquet", index=False)
        self.summary.to_csv(d / "summary.csv", index=False)
        self.paired.to_csv(d / "paired.csv", index=False)
        (d / "comparison.json").write_text(json.dumps(self.metadata(), indent=2) + "\n")
        if self.precision_history is not None:
            self.precision_history.to_csv(d / "precision.csv", index=False)
        if tables and self.results:
            seeds = dict(zip(zip(self.runs["profile"], self.runs["replication"], strict=True),
                             self.runs["seed"], strict=True))
            for (profile, r), res in self.results.items():
                rd = d / "runs" / profile_dirname(profile) / f"rep-{r}"
                write_result(res, rd, tables=("pods", "nodes", "events", "timeseries", "gpu"),
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
    runs = pd.read_parquet(d / "runs.parquet").rename(columns=RENAMED_METRICS)
    summary = pd.read_csv(d / "summary.csv", dtype={"profile": str})
    paired = pd.read_csv(d / "paired.csv", dtype={"profile": str, "baseline": str})
    for frame in (summary, paired):
        frame["metric"] = frame["metric"].replace(RENAMED_METRICS)
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
        metrics=[RENAMED_METRICS.get(m, m) for m in meta["metrics"]], runs=runs, summary=summary, paired=paired,
        warmup_s=meta.get("warmup_s", 0.0),
        specs={k: ProfileSpec.model_validate(v) for k, v in meta.get("specs", {}).items()},
        results=results or None,
        precision=meta.get("precision"),
        precision_metrics=list(meta.get("precision_metrics") or []),
        precision_target=meta.get("precision_target", "mean"),
        max_replications=meta.get("max_replications"),
        initial_replications=meta.get("initial_replications"),
        precision_reached=meta.get("precision_reached"),
        precision_history=(pd.read_csv(d / "precision.csv", dtype={"profile": str})
                           if (d / "precision.csv").is_file() else None),
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
    precision: float | None = None,
    precision_metrics: Sequence[str] | None = None,
    precision_target: str = "mean",
    max_replications: int | None = None,
    step: int = 1,
) -> ComparisonResult:
    """Run ``scenario`` under each profile for ``replications`` seeds and compare.

    ``scenario``: a :class:`Scenario` or a scenario file. ``profiles``: preset names, or
    ``{label: preset name or ProfileSpec}``. Replication ``r`` uses seed
    ``base_seed + r`` (default: the scenario's seed) under every profile (common random
    numbers). ``baseline`` (default: the first profile) is what ``paired`` compares
    against. ``jobs > 1`` runs in that many worker processes (``executor="dask"``: on a
    Dask cluster at ``address``, or a local one of ``jobs`` workers). Results do not
    depend on where runs execute.

    Sequential procedure (``precision`` given): ``replications`` is the starting number
    (at least 2); after each round it adds ``step`` paired replications (under every
    profile) until, for every metric of ``precision_metrics`` (default
    :data:`DEFAULT_PRECISION_METRICS`), the relative half-width of the ``confidence``
    interval is at most ``precision``: of each profile's mean (``precision_target=
    "mean"``, ``ci / |mean|``) or of each non-baseline profile's mean paired difference
    to the baseline (``"difference"``, ``ci / |mean_diff|``), or until
    ``max_replications`` (default :data:`DEFAULT_MAX_REPLICATIONS`) per profile. The
    stopping point depends only on the seeds, not on ``jobs`` or the executor. See
    ``docs/statistics.md`` for the procedure and its assumptions.

    Bad input (unknown profiles or plugins, a baseline that is not among the profiles,
    ``replications < 1``, a precision of 0 or below, ``max_replications`` below
    ``replications``, a scenario that cannot be built) raises :class:`ScenarioError`
    before any run; a watched metric that the summary does not have raises it after the
    first run. A run that fails raises ``RuntimeError`` naming the run.
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
    watched: list[str] = []
    sequential = precision is not None
    if sequential:
        if isinstance(precision, bool) or not isinstance(precision, int | float) or not (
            math.isfinite(precision) and precision > 0
        ):
            problems.append(("precision", f"must be a number > 0 (a relative half-width such as 0.05), "
                                          f"got {precision!r}"))
        if isinstance(replications, int) and not isinstance(replications, bool) and replications == 1:
            problems.append(("replications", "the sequential procedure starts from at least 2 replications "
                                             "(an interval needs 2); 10 or more is recommended"))
        watched = list(precision_metrics) if precision_metrics else list(DEFAULT_PRECISION_METRICS)
        if len(set(watched)) != len(watched):
            problems.append(("precision_metrics", f"a metric is named twice: {watched}"))
        if precision_target not in PRECISION_TARGETS:
            problems.append(("precision_target", f"must be one of {', '.join(PRECISION_TARGETS)}, "
                                                 f"got {precision_target!r}"))
        if max_replications is None:
            max_replications = max(DEFAULT_MAX_REPLICATIONS, replications if isinstance(replications, int) else 0)
        elif isinstance(max_replications, bool) or not isinstance(max_replications, int):
            problems.append(("max_replications", f"must be an integer, got {max_replications!r}"))
        elif isinstance(replications, int) and max_replications < replications:
            problems.append(("max_replications", f"must be at least the starting replications ({replications}), "
                                                 f"got {max_replications}"))
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            problems.append(("step", f"must be an integer >= 1, got {step!r}"))
    else:
        if precision_metrics:
            problems.append(("precision_metrics", "only used with a precision (the sequential procedure)"))
        if max_replications is not None:
            problems.append(("max_replications", "only used with a precision (the sequential procedure)"))
    try:
        specs = resolve_profiles(profiles, source="compare", scenario=scenario)
    except ScenarioError as e:
        problems += e.problems
        specs = {}
    labels = list(specs)
    if baseline is None and labels:
        baseline = labels[0]
    if specs and baseline not in specs:
        problems.append(("baseline", f"{baseline!r} is not among the profiles ({', '.join(labels)})"))
    if sequential and precision_target == "difference" and specs and len(specs) < 2:
        problems.append(("precision_target", "'difference' needs at least two profiles"))
    if problems:
        raise ScenarioError("compare", problems)
    assert baseline is not None
    seed0 = scenario.seed if base_seed is None else base_seed

    scenarios = {label: apply_profile(scenario, spec) for label, spec in specs.items()}
    for sc in scenarios.values():
        Simulation(sc, seed=seed0)  # surfaces build-time problems (plugins, names) now

    keep = "full" if keep_results else "none"
    rows: list[dict[str, Any]] = []
    results: dict[tuple[str, int], RunResult] = {}
    history: list[pd.DataFrame] = []
    reached: bool | None = None
    done = 0
    n_done, n_target = 0, replications
    with open_executor(executor, jobs, address) as ex:
        while True:
            tasks = [
                RunTask(scenarios[label], seed0 + r, {"profile": label, "replication": r}, keep)
                for label in labels
                for r in range(n_done, n_target)
            ]
            planned = done + len(tasks)
            for outcome in ex.map_unordered(execute_task, tasks):
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
                if sequential and not rows:
                    _check_watched(out.row, watched)
                rows.append(out.row)
                if out.result is not None:
                    results[(task.info["profile"], task.info["replication"])] = out.result
                done += 1
                if progress is not None:
                    progress(done, planned)
            n_done = n_target
            if not sequential:
                break
            runs = _tidy_runs(rows, labels)
            summary = summarize(runs, watched, by="profile", confidence=confidence)
            paired = paired_differences(runs, watched, baseline, by="profile", confidence=confidence)
            table = precision_table(summary, paired, watched, precision_target)
            history.append(table.assign(replications=n_done)[
                ["replications", "profile", "metric", "center", "ci", "rel_half_width"]])
            assert precision is not None and max_replications is not None
            if bool((table["rel_half_width"] <= precision).all()):
                reached = True
                break
            if n_done >= max_replications:
                reached = False
                break
            n_target = min(n_done + step, max_replications)

    runs = _tidy_runs(rows, labels)
    metrics = numeric_metrics(runs, exclude=(*ID_COLUMNS, WALL_COLUMN))
    return ComparisonResult(
        scenario=scenario.name or scenario.source,
        profiles=labels,
        baseline=baseline,
        replications=n_done,
        base_seed=seed0,
        confidence=confidence,
        metrics=metrics,
        runs=runs,
        summary=summarize(runs, metrics, by="profile", confidence=confidence),
        paired=paired_differences(runs, metrics, baseline, by="profile", confidence=confidence),
        warmup_s=scenario.warmup_s,
        specs=specs,
        results=results if keep_results else None,
        precision=float(precision) if precision is not None else None,
        precision_metrics=watched,
        precision_target=precision_target,
        max_replications=max_replications,
        initial_replications=replications if sequential else None,
        precision_reached=reached,
        precision_history=pd.concat(history, ignore_index=True) if history else None,
    )


def _tidy_runs(rows: list[dict[str, Any]], labels: Sequence[str]) -> pd.DataFrame:
    """The rows of finished runs as the ``runs`` table: sorted by profile and
    replication, ids first, wall time last."""
    runs = _sort_runs(pd.DataFrame(rows), labels)
    front = [c for c in ID_COLUMNS if c in runs]
    rest = [c for c in runs.columns if c not in ID_COLUMNS and c != WALL_COLUMN]
    return runs[front + rest + [WALL_COLUMN]]


def _check_watched(row: dict[str, Any], watched: Sequence[str]) -> None:
    """:class:`ScenarioError` unless every watched metric is a numeric summary metric."""
    available = numeric_metrics(pd.DataFrame([row]), exclude=(*ID_COLUMNS, WALL_COLUMN))
    unknown = [m for m in watched if m not in available]
    if unknown:
        raise ScenarioError("compare", [(
            "precision_metrics",
            f"not a metric of this scenario's summary: {', '.join(unknown)}; available: {', '.join(available)}",
        )])


def finite_or_none(v: Any) -> Any:
    """JSON-friendly: NaN/inf floats become None, numpy scalars plain Python."""
    return json_safe(v)
