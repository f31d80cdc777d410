"""Parameter sweeps: a scenario x a grid (or list) of overrides x profiles x replications.

An experiment file (YAML, validated, unknown keys are errors)::

    scenario: ../scenarios/quickstart.yaml     # relative to this file
    grid:                                      # cartesian product of the lists
      cluster.node_pools[0].count: [10, 15, 20]
      workloads[0].arrival.rate_per_s: [0.5, 1.0]
    # or  list: [{cluster.node_pools[0].count: 10}, {...}]   (explicit points)
    profiles: [kube-default, binpack]          # presets; omitted = the scenario's own
    replications: 3                            # seeds base_seed .. base_seed + 2
    base_seed: 1                               # default: the scenario's seed
    out: results/cluster-size                  # relative to the current directory

Every point is applied to the scenario (``--set``-style overrides) and validated
before any run, and every problem (a path not in the schema, a value of the wrong
type, an unknown profile) is reported at once. Each run has a stable id (a hash of its
overrides, profile and seed) and writes ``out/runs/<id>/`` atomically (a temporary
directory, then ``os.replace``): ``summary.json`` and ``pods.parquet`` /
``timeseries.parquet``, or ``error.json`` with the error and its traceback when the
run failed. Rerunning a sweep skips the runs whose directory exists, so an interrupted
sweep resumes where it stopped. At the end, every run of the experiment is one row of
``out/sweep.parquet`` (also returned as a DataFrame).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from k8sim.config.base import BOOL_FOR_NUMBER, Strict
from k8sim.config.loader import (
    ScenarioError,
    apply_overrides,
    format_loc,
    parse_path,
    read_yaml,
    validate_scenario,
)
from k8sim.config.names import PlainName
from k8sim.config.scenario import ProfileSpec, Scenario
from k8sim.constants import MAX_RUNS
from k8sim.experiments.comparison import (
    RENAMED_METRICS,
    WALL_COLUMN,
    RunOutput,
    RunTask,
    apply_profile,
    execute_task,
    resolve_profiles,
)
from k8sim.experiments.executors import check_options, open_executor
from k8sim.metrics.rundir import check_output_dir, json_safe, write_run_dir
from k8sim.sim.build.profiles import without_module_plugins
from k8sim.sim.simulation import Simulation

#: Label of the runs of an experiment that lists no profiles (the scenario's own scheduler).
SCENARIO_PROFILE = "scenario"
#: Columns of the sweep table before the override columns.
ID_COLUMNS = ("run_id", "status", "profile", "replication", "seed")

#: ``progress(done, total, row)`` after each run: ``row`` is its row of the sweep table
#: (``status`` ok or error; ``skipped`` when an earlier sweep had written it).
SweepProgress = Callable[[int, int, dict[str, Any]], None]


class Experiment(Strict):
    """A sweep: which scenario, which overrides, which profiles, how many seeds, where to."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, validate_default=True)

    # Defaults to the file name without extension; a plain name (it names the default
    # output directory results/<name>): no path separator.
    name: PlainName | None = None
    description: str = ""  # free text
    scenario: str = Field(min_length=1)  # scenario file, relative to the experiment file
    # dotted override path -> values; every combination is a point (cartesian product)
    grid: dict[str, list[Any]] = {}
    # explicit points, each a mapping of dotted override paths -> value
    list_: list[dict[str, Any]] = Field(default=[], alias="list")
    # Profiles to compare: a list of references (a preset; the scenario's own profile by
    # schedulerName; preset:NAME / scenario:NAME; LABEL={...}; [LABEL=]@file.yaml relative
    # to this file) or a mapping label -> reference or profile mapping (preset, plugins,
    # disabled, ...). Empty = the scenario's own scheduler settings as they are.
    profiles: list[str] | dict[str, str | dict[str, Any]] = []
    replications: int = Field(default=1, ge=1, le=MAX_RUNS)  # seeds base_seed .. base_seed + replications - 1
    base_seed: int | None = Field(default=None, ge=0)  # default: the scenario's seed
    out: str | None = None  # output directory (relative to the current directory)
    _base_dir: Path = PrivateAttr(default=Path("."))
    _source: str = PrivateAttr(default="<experiment>")

    @field_validator("grid")
    @classmethod
    def _grid(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, values in v.items():
            if not values:
                raise ValueError(f"grid[{path!r}] has no values")
        return v

    @model_validator(mode="after")
    def _check(self) -> Experiment:
        if self.grid and self.list_:
            raise ValueError("give either grid or list, not both")
        points = math.prod(len(v) for v in self.grid.values()) if self.grid else max(1, len(self.list_))
        runs = points * max(1, len(self.profiles)) * self.replications
        if runs > MAX_RUNS:
            raise ValueError(f"the experiment plans {runs:,} runs (points x profiles x replications); "
                             f"at most {MAX_RUNS:,} (see docs/limits.md)")
        return self

    @property
    def source(self) -> str:
        return self._source

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    def located(self, source: str, base_dir: Path) -> Experiment:
        """Record where the experiment came from (relative paths resolve against ``base_dir``)."""
        self._source = source
        self._base_dir = base_dir
        return self

    @property
    def scenario_path(self) -> Path:
        return self._base_dir / self.scenario

    def points(self) -> list[dict[str, Any]]:
        """The override mappings, in grid order (last key varies fastest) or list order."""
        if self.grid:
            keys = list(self.grid)
            return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.grid.values())]
        if self.list_:
            return [dict(p) for p in self.list_]
        return [{}]

    def override_paths(self) -> list[str]:
        """Every override path, in order of first appearance."""
        seen: list[str] = []
        for p in self.points():
            seen += [k for k in p if k not in seen]
        return seen


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment file (problems as one :class:`ScenarioError`)."""
    p = Path(path)
    data = read_yaml(p)
    return experiment_from_data(data, source=str(p), base_dir=p.parent)


def experiment_from_data(data: Any, source: str = "<experiment>", base_dir: Path | None = None) -> Experiment:
    """Validate a plain-data experiment (as parsed from YAML)."""
    if not isinstance(data, Mapping):
        raise ScenarioError(source, [("", "expected a mapping at the top of the file")])
    if looks_like_scenario(data):
        raise ScenarioError(source, [("", "this is a scenario file, not an experiment file (it has "
                                          f"{' and '.join(k for k in ('cluster', 'workloads') if k in data)} "
                                          "and no scenario:): run it with `k8sim run`, or write an experiment file "
                                          "whose scenario: names it (see `k8sim sweep --help`)")])
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors(include_url=False):
            msg, loc = e["msg"], e["loc"]
            if e["type"] == BOOL_FOR_NUMBER:
                loc, msg = (*loc, e["ctx"]["field"]), "expected a number, got a boolean"
            elif e["type"] == "extra_forbidden":
                msg = "unknown key (expected: name, description, scenario, grid, list, profiles, " \
                      "replications, base_seed, out)"
            elif e["type"] == "missing":
                msg = "required field is missing"
            elif msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            problems.append((format_loc(loc, data), msg))
        raise ScenarioError(source, problems) from None
    exp = exp.located(source, base_dir if base_dir is not None else Path.cwd())
    if exp.name is None and source and not source.startswith("<"):
        exp = exp.model_copy(update={"name": Path(source).stem}).located(source, exp.base_dir)
    return exp


def looks_like_scenario(data: Mapping[str, Any]) -> bool:
    """A scenario file's top level (``cluster`` or ``workloads``, no ``scenario``)."""
    return "scenario" not in data and ("cluster" in data or "workloads" in data)


def looks_like_experiment(data: Mapping[str, Any]) -> bool:
    """An experiment file's top level (``scenario``, no ``cluster``)."""
    return "scenario" in data and "cluster" not in data


# ----------------------------------------------------------------------------- planning


def override_strings(overrides: Mapping[str, Any]) -> list[str]:
    """``{path: value}`` -> ``["path=<value as JSON>"]`` (JSON is YAML: the ``--set`` form)."""
    return [f"{k}={json.dumps(v, default=str)}" for k, v in overrides.items()]


def run_id(overrides: Mapping[str, Any], profile: str, seed: int) -> str:
    """Stable id of a run: a hash of its overrides, profile and seed (16 hex digits)."""
    key = json.dumps({"overrides": dict(overrides), "profile": profile, "seed": seed},
                     sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


@dataclass
class PlannedRun:
    run_id: str
    point: int
    overrides: dict[str, Any]
    profile: str
    replication: int
    seed: int
    scenario: Scenario


def _where(exp: Experiment, point: int, key: str | None = None) -> str:
    if exp.grid:
        return f"grid[{key!r}]" if key is not None else "grid"
    if exp.list_:
        return f"list[{point}][{key!r}]" if key is not None else f"list[{point}]"
    return "scenario"


def _owner(overrides: Mapping[str, Any], loc: str) -> str | None:
    """The override whose path is ``loc`` or a prefix of it."""
    best = None
    for k in overrides:
        try:
            norm = format_loc(parse_path(k))
        except ValueError:
            continue
        if loc == norm or loc.startswith(norm + ".") or loc.startswith(norm + "["):
            if best is None or len(norm) > len(format_loc(parse_path(best))):
                best = k
    return best


def _with_values(path: str, msg: str, bad_values: dict[tuple[str, str], list[str]]) -> tuple[str, str]:
    values = bad_values.get((path, msg))
    if not values or msg.startswith("unknown key"):
        return path, msg
    return path, f"{'value' if len(values) == 1 else 'values'} {', '.join(values)}: {msg}"


def _profile_refs(exp: Experiment) -> list[Any]:
    return list(exp.profiles.values()) if isinstance(exp.profiles, dict) else list(exp.profiles)


def plan(exp: Experiment, import_plugins: bool = True) -> list[PlannedRun]:
    """Validate every point x profile and list the runs (no run starts here).

    ``import_plugins=False`` builds the simulations without their ``module:Class``
    plugins (nothing is imported; the planned runs keep them).

    Raises one :class:`ScenarioError` naming the experiment file with every problem:
    bad override paths or values (with the offending point), unknown profiles, and
    problems only a built simulation reveals.
    """
    scenario_path = exp.scenario_path
    problems: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()

    def problem(path: str, msg: str) -> None:
        if (path, msg) not in seen:
            seen.add((path, msg))
            problems.append((path, msg))

    def specs_for(sc: Scenario | None) -> dict[str, ProfileSpec | None]:
        """The profiles at one point (the scenario's own profiles can differ by point)."""
        if not exp.profiles:
            return {SCENARIO_PROFILE: None}
        try:
            return dict(resolve_profiles(exp.profiles, source=exp.source, scenario=sc, base_dir=exp.base_dir))
        except ScenarioError as e:
            for p, m in e.problems:
                problem(p, m)
            return {}

    try:
        data = read_yaml(scenario_path)
        if not isinstance(data, dict):
            problem("scenario", f"{exp.scenario}: expected a mapping at the top of the file")
    except ScenarioError as e:
        for _, m in e.problems:
            problem("scenario", f"{exp.scenario}: {m}")
    if any(p == "scenario" for p, _ in problems):  # nothing to apply overrides to
        specs_for(None)  # the problems the profiles have on their own
        raise ScenarioError(exp.source, problems)
    data.setdefault("name", scenario_path.stem)

    scenarios: list[Scenario | None] = []
    bad_values: dict[tuple[str, str], list[str]] = {}
    points = exp.points()
    for i, point in enumerate(points):
        for k in point:
            if not isinstance(k, str):
                problem(_where(exp, i), f"override paths must be strings, got {k!r}")
        # One override at a time, so that a path that cannot be set does not hide the
        # problems of the others.
        patched = data
        unset = False
        for key, ov in zip(point, override_strings(point), strict=True):
            try:
                patched = apply_overrides(patched, [ov], source=str(scenario_path))
            except ScenarioError as e:
                unset = True
                for _, msg in e.problems:
                    problem(_where(exp, i, key), msg.split(": ", 1)[-1] if ": " in msg else msg)
        try:
            built = validate_scenario(patched, source=str(scenario_path), base_dir=scenario_path.parent)
            scenarios.append(None if unset else built)
        except ScenarioError as e:
            scenarios.append(None)
            for path, msg in e.problems:
                owner = _owner(point, path)
                if owner is not None:
                    tail = msg if path == format_loc(parse_path(owner)) else f"{path}: {msg}"
                    bad = (_where(exp, i, owner), tail)
                    if bad not in bad_values:
                        bad_values[bad] = []
                        problem(*bad)  # placeholder, formatted below with the values
                    value = json.dumps(point[owner], default=str)
                    if value not in bad_values[bad]:
                        bad_values[bad].append(value)
                else:
                    label = ", ".join(override_strings(point)) or "no overrides"
                    problem(_where(exp, i), f"with {label}: {exp.scenario}: {path}: {msg}" if path
                            else f"with {label}: {exp.scenario}: {msg}")
    if problems:
        # The profiles' own problems too, against a scenario that validated (the first
        # valid point, else the scenario without overrides).
        base = next((x for x in scenarios if x is not None), None)
        if base is None:
            try:
                base = validate_scenario(data, source=str(scenario_path), base_dir=scenario_path.parent)
            except ScenarioError:
                base = None
        if base is not None or not any(isinstance(p, str) and "scenario:" in p for p in _profile_refs(exp)):
            specs_for(base)
        raise ScenarioError(exp.source, [_with_values(p, m, bad_values) for p, m in problems])

    runs: list[PlannedRun] = []
    for i, (point, sc) in enumerate(zip(points, scenarios, strict=True)):
        assert sc is not None
        seed0 = sc.seed if exp.base_seed is None else exp.base_seed
        for label, spec in specs_for(sc).items():
            final = sc if spec is None else apply_profile(sc, spec)
            try:
                # What only a built simulation can tell.
                Simulation(final if import_plugins else without_module_plugins(final), seed=seed0)
            except ScenarioError as e:
                label_ov = ", ".join(override_strings(point)) or "no overrides"
                for path, msg in e.problems:
                    problem(_where(exp, i), f"with {label_ov}, profile {label}: {path}: {msg}")
                continue
            for r in range(exp.replications):
                seed = seed0 + r
                runs.append(PlannedRun(run_id(point, label, seed), i, point, label, r, seed, final))
    ids: dict[str, PlannedRun] = {}
    for run in runs:
        first = ids.setdefault(run.run_id, run)
        if first is not run:
            problem(_where(exp, run.point), f"repeats point {first.point} (same overrides): runs would collide")
    if problems:
        raise ScenarioError(exp.source, problems)
    return runs


# ----------------------------------------------------------------------------- storage


def _write_atomically(runs_dir: Path, rid: str, files: Callable[[Path], None]) -> bool:
    """Fill a temporary directory with ``files(tmp)`` and move it to ``runs_dir/rid``.

    Returns False (and discards the temporary directory) when the run directory appeared
    meanwhile (another sweep on the same output wrote it first).
    """
    final = runs_dir / rid
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{rid}-", dir=runs_dir))
    try:
        files(tmp)
        try:
            os.replace(tmp, final)
        except OSError:
            if final.is_dir():
                return False
            raise
        return True
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _record(run: PlannedRun) -> dict[str, Any]:
    return {"run_id": run.run_id, "overrides": run.overrides, "profile": run.profile,
            "replication": run.replication, "seed": run.seed}


def write_run(runs_dir: Path, run: PlannedRun, out: RunOutput, error: str | None = None, tb: str = "") -> dict:
    """Write a run's directory; returns the JSON payload written."""
    if error is None and out.error is None:
        metrics = {k: v for k, v in out.row.items() if k not in ("profile", "replication", "seed", WALL_COLUMN)}
        extra = {**_record(run), "status": "ok", "wall_s": out.row.get(WALL_COLUMN)}

        def files(tmp: Path) -> None:
            write_run_dir(tmp, tables=out.tables or {}, summary=metrics, provenance=out.provenance,
                          warmup_s=out.warmup_s, end_time_s=out.provenance.get("end_time_s"), extra=extra)

        payload = {**extra, "summary": json_safe(metrics), "warmup_s": out.warmup_s,
                   "provenance": json_safe(out.provenance)}
    else:
        payload = {**_record(run), "status": "error", "error": error or out.error,
                   "traceback": tb or out.traceback}

        def files(tmp: Path) -> None:
            (tmp / "error.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")

    _write_atomically(runs_dir, run.run_id, files)
    return payload


def read_run(run_dir: Path) -> dict | None:
    """The payload of a run directory (summary.json or error.json), or None."""
    for name in ("summary.json", "error.json"):
        f = run_dir / name
        if f.is_file():
            return json.loads(f.read_text())
    return None


def _cell(v: Any) -> Any:
    """Override values in a table: scalars as they are, lists and mappings as JSON."""
    return json.dumps(v, default=str) if isinstance(v, (list, dict)) else v


def _row(payload: dict, paths: Sequence[str], skipped: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": payload["run_id"],
        "status": payload["status"],
        "profile": payload["profile"],
        "replication": payload["replication"],
        "seed": payload["seed"],
    }
    for p in paths:
        row[p] = _cell(payload["overrides"].get(p))
    # "metrics": run directories of earlier versions.
    for k, v in (payload.get("summary") or payload.get("metrics") or {}).items():
        row[RENAMED_METRICS.get(k, k)] = float("nan") if v is None else v
    row[WALL_COLUMN] = payload.get("wall_s")
    row["skipped"] = skipped
    row["error"] = payload.get("error") or ""
    return row


def sweep_table(rows: list[dict[str, Any]], paths: Sequence[str]) -> pd.DataFrame:
    """Rows -> the tidy sweep table (ids, overrides, metrics, wall_s, skipped, error)."""
    frame = pd.DataFrame(rows)
    tail = [WALL_COLUMN, "skipped", "error"]
    front = [*ID_COLUMNS, *paths]
    metrics = [c for c in frame.columns if c not in front and c not in tail]
    frame = frame[[c for c in front + metrics + tail if c in frame.columns]]
    for c in ("run_id", "status", "profile", "error"):
        if c in frame:
            frame[c] = frame[c].astype("string")
    for p in paths:
        col = frame[p]
        if col.map(lambda v: isinstance(v, str)).any() and not col.map(lambda v: isinstance(v, str)).all():
            frame[p] = col.map(lambda v: json.dumps(v) if not isinstance(v, str) else v).astype("string")
    if WALL_COLUMN in frame:
        frame[WALL_COLUMN] = frame[WALL_COLUMN].astype(float)
    return frame


# ----------------------------------------------------------------------------- sweep


def output_dir(exp: Experiment, out_dir: str | Path | None = None) -> Path:
    """Where a sweep writes: ``out_dir``, else the experiment's ``out``, else
    ``results/<experiment name>`` (relative paths: to the current directory)."""
    if out_dir is not None:
        return Path(out_dir)
    if exp.out is not None:
        return Path(exp.out)
    return Path("results") / (exp.name or "sweep")


def sweep(
    experiment: Experiment | str | Path,
    executor: str = "local",
    jobs: int = 1,
    address: str | None = None,
    out_dir: str | Path | None = None,
    *,
    progress: SweepProgress | None = None,
    retry_failed: bool = False,
    connect_timeout_s: float = 10.0,
) -> pd.DataFrame:
    """Run (or resume) a sweep; returns the sweep table, also written to ``out/sweep.parquet``.

    ``executor``: ``"local"`` (``jobs`` worker processes; ``jobs=1`` runs in this
    process) or ``"dask"`` (the scheduler at ``address``, else a ``LocalCluster`` of
    ``jobs`` single-threaded workers). ``out_dir`` overrides the experiment's ``out``
    (default ``results/<experiment name>``). Runs whose directory exists are skipped
    (``retry_failed=True`` reruns the failed ones). Every problem with the experiment,
    the executor options or the Dask address raises :class:`ScenarioError` before any
    run; a run that fails is recorded (``status == "error"``) and the others go on.
    """
    exp = experiment if isinstance(experiment, Experiment) else load_experiment(experiment)
    check_options(executor, jobs, address)
    runs = plan(exp)
    out = output_dir(exp, out_dir)
    check_output_dir(out, "out" if out_dir is None else "--out")
    runs_dir = out / "runs"
    paths = exp.override_paths()
    total = len(runs)

    rows: dict[str, dict[str, Any]] = {}
    todo: list[PlannedRun] = []
    retry: list[Path] = []
    for run in runs:
        payload = read_run(runs_dir / run.run_id) if (runs_dir / run.run_id).is_dir() else None
        if payload is not None and not (retry_failed and payload.get("status") == "error"):
            rows[run.run_id] = _row(payload, paths, skipped=True)
        else:
            if payload is not None:  # a failed run to retry
                retry.append(runs_dir / run.run_id)
            todo.append(run)
    done = 0
    for run in runs:
        if run.run_id in rows and progress is not None:
            done += 1
            progress(done, total, rows[run.run_id])
    done = len(rows)

    if todo:
        tasks = [RunTask(r.scenario, r.seed, {"profile": r.profile, "replication": r.replication}, "tables")
                 for r in todo]
        # Connect (or start the local cluster) before touching the output directory.
        with open_executor(executor, jobs, address, connect_timeout_s) as ex:
            runs_dir.mkdir(parents=True, exist_ok=True)
            for stale in retry:
                shutil.rmtree(stale)
            for outcome in ex.map_unordered(execute_task, tasks):
                run = todo[outcome.index]
                result: RunOutput = outcome.value if outcome.value is not None else RunOutput(row={})
                payload = write_run(runs_dir, run, result, error=outcome.error, tb=outcome.traceback)
                rows[run.run_id] = _row(payload, paths)
                done += 1
                if progress is not None:
                    progress(done, total, rows[run.run_id])

    out.mkdir(parents=True, exist_ok=True)
    table = sweep_table([rows[r.run_id] for r in runs], paths)
    meta = {"experiment": exp.model_dump(mode="json", by_alias=True), "runs": [r.run_id for r in runs]}
    (out / "experiment.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    tmp = out / ".sweep.parquet.tmp"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, out / "sweep.parquet")
    return table
