"""The ``k8sim`` command: run, validate and schema.

Every user error (a bad scenario, a bad ``--set``) ends with a message naming the
file, the field path and what was expected, and exit code 2; never a traceback.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from k8sim import __version__
from k8sim.config.loader import ScenarioError, load_scenario
from k8sim.config.scenario import Scenario
from k8sim.constants import MAX_TIME_S
from k8sim.metrics.format import fmt_duration, fmt_metric

if TYPE_CHECKING:
    from k8sim.scheduling.explain import Explanation
    from k8sim.scheduling.plugins.base import NodeStatus

app = typer.Typer(
    name="k8sim",
    help="Discrete-event simulator of Kubernetes-style clusters for scheduling research.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _fail(err: Exception) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _version(value: bool) -> None:
    if value:
        console.print(f"k8sim {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """k8sim: Kubernetes semantics on a virtual clock, seeded and reproducible."""


class _LazyProgress:
    """A progress bar that only appears once a run has taken more than ``after_s``."""

    def __init__(self, end: float | None, after_s: float = 2.0):
        self.end = end
        self.after_s = after_s
        self.t0 = time.perf_counter()
        self.progress: Progress | None = None
        self.task: TaskID | None = None

    def __call__(self, now: float) -> None:
        if self.progress is None:
            if time.perf_counter() - self.t0 < self.after_s:
                return
            self.progress = Progress(
                TextColumn("simulating"),
                BarColumn(),
                TextColumn("{task.fields[now]}"),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("sim", total=self.end, now="")
        assert self.task is not None  # added with the bar
        label = f"t = {fmt_duration(now)}" + (f" / {fmt_duration(self.end)}" if self.end else "")
        self.progress.update(self.task, completed=now if self.end else None, now=label)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _summary_table(summary: dict, title: str) -> Table:
    table = Table(title=escape(title), show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        if k.startswith("pods_failed_") and v == 0:
            continue  # the breakdown of pods_failed matters only where some failed
        table.add_row(k, fmt_metric(k, v))
    return table


def _default_out(scenario: Scenario) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{scenario.name or 'scenario'}-{stamp}"


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a field: path=value, e.g. cluster.node_pools[0].count=40."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default results/<scenario>-<time>).")] = None,
    csv: Annotated[bool, typer.Option(help="Also write CSV copies of the tables.")] = False,
    plots: Annotated[bool, typer.Option(help="Write PNG plots.")] = True,
) -> None:
    """Run a scenario; write tables, summary, resolved scenario and plots."""
    from k8sim.metrics.rundir import check_output_dir
    from k8sim.sim.simulation import Simulation

    try:
        sc = load_scenario(scenario, overrides=set_ or [])
        directory = out or _default_out(sc)
        check_output_dir(directory)  # before the run: a bad location must not lose it
        sim = Simulation(sc, seed=seed)
    except ScenarioError as e:
        raise _fail(e) from None
    for warning in sim.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    shown = len(sim.warnings)
    for workload, resources in sim.never_fit().items():
        err_console.print(
            f"[yellow]warning:[/] {escape(str(scenario))}: workload {escape(repr(workload))} requests "
            f"more {escape(', '.join(resources))} than any node has: its pods can never be "
            "scheduled (they are counted in pods_never_fit and pods_pending_failed_scheduling)",
            highlight=False,
            soft_wrap=True,
        )
    bar = _LazyProgress(sc.duration_s)
    try:
        result = sim.run(progress=bar)
    finally:
        bar.close()
    for warning in sim.warnings[shown:]:  # what the run itself found (time limit, bins)
        _warn(warning)
    result.to_parquet(directory)
    if csv:
        result.to_csv(directory)
    resolved = sc.model_dump(mode="json", by_alias=True)
    resolved["seed"] = sim.seed
    (directory / "scenario.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    if plots:
        from k8sim.metrics.plots import save_standard_plots  # matplotlib only when needed

        save_standard_plots(result, directory)
    summary = result.summary().iloc[0].to_dict()
    console.print(_summary_table(summary, f"{sc.name} (seed {sim.seed})"))
    for note in result.notes():
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    console.print(
        f"simulated {fmt_duration(result.end_time)} in {sim.wall_s:.2f} s wall; "
        f"results in [bold]{escape(str(directory))}[/]",
        highlight=False,
    )


def _validate_one(path: Path, check_plugins: bool) -> str:
    """Check one scenario or experiment file; returns the "ok" detail or raises."""
    from k8sim.config.loader import read_yaml
    from k8sim.experiments.sweeps import experiment_from_data, looks_like_experiment, plan
    from k8sim.sim.build.profiles import module_plugins, without_module_plugins
    from k8sim.sim.simulation import Simulation

    data = read_yaml(path)
    if isinstance(data, dict) and looks_like_experiment(data):
        exp = experiment_from_data(data, source=str(path), base_dir=path.parent)
        runs = plan(exp, import_plugins=check_plugins)  # every point x profile, validated and built
        skipped = sorted({m for r in runs for m in module_plugins(r.scenario)}) if not check_plugins else []
        detail = f"experiment, {len(runs)} runs of {exp.scenario}"
        if skipped:
            detail += f"; plugin module(s) not imported: {', '.join(skipped)} (--check-plugins imports them)"
        return detail
    sc = load_scenario(path)
    skipped = [] if check_plugins else module_plugins(sc)
    sim = Simulation(without_module_plugins(sc) if skipped else sc)  # what only the built cluster tells
    detail = f"{sim.state.nodes.n} nodes, {len(sc.workloads)} workloads"
    if skipped:
        detail += (f"; plugin module(s) not imported: {', '.join(skipped)} (--check-plugins imports and "
                   "checks them, which runs their code)")
    return detail


@app.command()
def validate(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario or experiment YAML files.")],
    check_plugins: Annotated[
        bool, typer.Option("--check-plugins", help="Import the scenario's 'module:Class' plugins (runs their code).")
    ] = False,
) -> None:
    """Check scenario and experiment files without running them (exit code 2 if any is invalid).

    A plugin named "module:Class" is not imported unless --check-plugins is given.
    """
    bad = 0
    for path in scenarios:
        try:
            detail = _validate_one(path, check_plugins)
        except ScenarioError as e:
            err_console.print(f"[bold red]invalid:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            bad += 1
            continue
        console.print(f"[green]ok[/]: {escape(str(path))} ({escape(detail)})", highlight=False)
    if bad:
        raise typer.Exit(code=2)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor completion)."""
    console.print_json(json.dumps(Scenario.model_json_schema(by_alias=True)))


@app.command()
def compare(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    profile: Annotated[
        list[str],
        typer.Option("--profile", help=(
            "A profile to compare (repeat: --profile A --profile B): a preset; the scenario's own profile by "
            "schedulerName (preset:NAME / scenario:NAME when a name is both); LABEL={preset: ..., plugins: "
            "[...]} inline; [LABEL=]@file.yaml.")),
    ],
    replications: Annotated[int, typer.Option(help="Seeds per profile (the same seeds for every profile).")] = 10,
    jobs: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    out: Annotated[Path | None, typer.Option(help="Output directory (default results/compare-<scenario>-<time>).")] = None,
    baseline: Annotated[str | None, typer.Option(help="Profile the others are compared to (default: the first).")] = None,
    seed: Annotated[int | None, typer.Option(help="First seed (default: the scenario's).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a field: path=value.")] = None,
    executor: Annotated[str, typer.Option(help="local or dask.")] = "local",
    address: Annotated[str | None, typer.Option(help="Dask scheduler address (tcp://host:port).")] = None,
    plots: Annotated[bool, typer.Option(help="Write PNG plots.")] = True,
    precision: Annotated[float | None, typer.Option(
        help="Add replications until each watched metric's CI half-width / |estimate| is at most this "
             "(e.g. 0.05); --replications is then the starting number.")] = None,
    metric: Annotated[list[str] | None, typer.Option(
        "--metric", help="A summary metric the precision applies to (repeat; default: "
                         "scheduling_latency_mean_s and mean_cpu_utilization).")] = None,
    max_replications: Annotated[int | None, typer.Option(
        help="Stop adding replications here (default 100).")] = None,
    precision_on: Annotated[str, typer.Option(
        help="mean: each profile's mean; difference: each profile's paired difference to the baseline.")] = "mean",
) -> None:
    """Compare scheduler profiles on the same seeds: means, 95% CIs, paired differences with t and
    Wilcoxon tests and Holm's correction; optionally enough replications for a stated precision."""
    from k8sim.experiments.commands import compare_command
    from k8sim.experiments.executors import TerminatedError, terminate_on_sigterm

    try:
        with terminate_on_sigterm():
            compare_command(scenario, profile, replications, jobs, out, baseline, console, seed=seed,
                            overrides=set_ or [], plots=plots, executor=executor, address=address,
                            precision=precision, metrics=metric or [], max_replications=max_replications,
                            precision_target=precision_on)
    except ScenarioError as e:
        raise _fail(e) from None
    except TerminatedError:
        err_console.print("terminated (SIGTERM); workers stopped", highlight=False)
        raise typer.Exit(code=143) from None


@app.command()
def sweep(
    experiment: Annotated[Path, typer.Argument(help="Experiment YAML file (scenario, grid, profiles, replications).")],
    executor: Annotated[str, typer.Option(help="local (processes) or dask.")] = "local",
    jobs: Annotated[int, typer.Option(help="Worker processes / Dask workers.")] = 1,
    address: Annotated[str | None, typer.Option(help="Dask scheduler address; default: a LocalCluster.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output directory (default: the experiment's out).")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Rerun runs recorded as failed.")] = False,
    plots: Annotated[bool, typer.Option(help="Write PNG plots.")] = True,
) -> None:
    """Run a parameter sweep; completed runs are skipped when rerun (resume)."""
    from k8sim.experiments.commands import sweep_command
    from k8sim.experiments.executors import TerminatedError, terminate_on_sigterm

    try:
        with terminate_on_sigterm():
            table = sweep_command(experiment, executor, jobs, address, out, console, retry_failed=retry_failed,
                                  plots=plots)
    except ScenarioError as e:
        raise _fail(e) from None
    except TerminatedError:
        err_console.print("terminated (SIGTERM); workers stopped, finished runs kept (rerun to resume)",
                          highlight=False)
        raise typer.Exit(code=143) from None
    if "status" in table and (table["status"] == "error").any():
        raise typer.Exit(code=1)  # the others finished; failed runs are in the sweep table


@app.command()
def plot(
    results: Annotated[Path, typer.Argument(help="A run or comparison results directory.")],
    out: Annotated[Path | None, typer.Option(help="Where to write the PNGs (default: the directory).")] = None,
) -> None:
    """(Re)draw the standard plots of a run or a comparison."""
    from k8sim.experiments.commands import plot_command

    try:
        plot_command(results, console, out=out)
    except ScenarioError as e:
        raise _fail(e) from None


@app.command()
def export(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.")],
    out: Annotated[Path, typer.Option(help="Directory for cluster.yaml and kube-scheduler-config.yaml.")],
    at: Annotated[float, typer.Option(help="Virtual time (s) to run to first; 0: the scenario's cluster.")] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Override the scenario's seed.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a field: path=value, e.g. cluster.node_pools[0].count=40."),
    ] = None,
) -> None:
    """Write the cluster and pods (of the scenario, or of its run at --at) as Kubernetes
    manifests for KWOK, and an equivalent KubeSchedulerConfiguration where one exists."""
    from k8sim.sim.export import export_cluster
    from k8sim.sim.simulation import Simulation

    if not math.isfinite(at) or at < 0:
        raise _fail(ValueError(f"--at must be a finite time >= 0 (seconds), got {at:g}"))
    try:
        sc = load_scenario(scenario, overrides=set_ or [])
        sim = Simulation(sc, seed=seed)
    except ScenarioError as e:
        raise _fail(e) from None
    if sc.duration_s is not None and at > sc.duration_s:
        raise _fail(ValueError(f"--at {at:g} s is after the scenario's duration_s ({sc.duration_s:g} s)"))
    sim.run_until(at)
    result = export_cluster(sim)
    try:
        paths = result.write(out)
    except OSError as e:
        raise _fail(ValueError(f"cannot write into {out}: {e}")) from None
    for warning in result.warnings:
        _warn(warning)
    kinds: dict[str, int] = {}
    for o in result.objects:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    pending = sum(1 for o in result.objects if o["kind"] == "Pod" and "nodeName" not in o["spec"])
    counts = ", ".join(f"{v} {k}" for k, v in kinds.items())
    console.print(f"t = {fmt_duration(sim.env.now)}: {counts} ({pending} pod(s) pending)", highlight=False)
    for path in paths:
        console.print(f"wrote [bold]{escape(str(path))}[/]", highlight=False)


@app.command()
def plugins() -> None:
    """List the scheduling plugins and the profile presets."""
    from k8sim.scheduling import registry
    from k8sim.scheduling.plugins.base import ScorePlugin
    from k8sim.scheduling.profiles import PRESETS

    table = Table(title="plugins", show_header=True, header_style="bold")
    table.add_column("name")
    table.add_column("extension points")
    table.add_column("summary")
    for name, points, summary in registry.describe():
        table.add_row(escape(name), escape(points), escape(summary))
    console.print(table)
    presets = Table(title="presets (scheduler.profiles[].preset)", show_header=True, header_style="bold")
    presets.add_column("name")
    presets.add_column("description")
    presets.add_column("plugins (score weight; F = filter only)")
    for name, preset in PRESETS.items():
        parts = []
        for r in preset.plugins:
            try:
                scores = r.score and issubclass(registry.get(r.name), ScorePlugin)
            except registry.PluginError:
                scores = r.score
            parts.append(f"{r.name}({1 if r.weight is None else r.weight})" if scores else f"{r.name} F")
        presets.add_row(escape(name), escape(preset.description), escape(", ".join(parts)))
    console.print(presets)


def _warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _explanation_tables(exp: Explanation, top: int) -> list[Table]:
    tables = []
    feasible = exp.feasible
    if feasible.size:
        order = sorted(range(feasible.size), key=lambda k: (-int(exp.totals[k]), int(feasible[k])))[:top]
        shown = f"top {len(order)} of {feasible.size} feasible nodes" if feasible.size > len(order) else (
            f"{feasible.size} feasible node(s)"
        )
        table = Table(
            title=escape(f"{exp.pod} under profile {exp.profile}: {shown}"), header_style="bold", box=box.SIMPLE_HEAD
        )
        # Whole node names on wide terminals; on narrow ones they fold (rich would
        # otherwise overflow the width to keep a minimum).
        longest = max(len(exp.nodes[int(feasible[k])]) for k in order)
        table.add_column("node", overflow="fold", min_width=longest if console.width >= 120 else None)
        scored = [ps for ps in exp.scores if not ps.skipped]
        for ps in scored:
            # "Node Resources Fit x1": lets narrow terminals wrap long plugin names.
            words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", ps.name)
            table.add_column(escape(f"{words} x{ps.weight}"), justify="right", overflow="fold")
        table.add_column("total", justify="right")
        table.add_column("")
        best = set(exp.best)
        for k in order:
            i = int(feasible[k])
            name = exp.nodes[i]
            cells = [escape(name)]
            for ps in scored:
                assert ps.normalized is not None and ps.raw is not None  # scored: not skipped
                norm, raw = int(ps.normalized[k]), int(ps.raw[k])
                cells.append(str(norm) if norm == raw else f"{norm} ({raw})")
            mark = ("chosen" if len(exp.best) == 1 else "tie") if name in best else ""
            cells += [str(int(exp.totals[k])), mark]
            table.add_row(*cells)
        caption = "cells: normalised score (raw score where it differs); total = sum of weight x normalised"
        skipped = [ps.name for ps in exp.scores if ps.skipped]
        if skipped:
            caption += f"; skipped for this pod (PreScore): {', '.join(skipped)}"
        table.caption = escape(caption)
        tables.append(table)
    rejections = exp.rejections()
    if rejections:
        rej = Table(title="nodes rejected, by the first filter that rejected them", header_style="bold")
        rej.add_column("filter plugin")
        rej.add_column("nodes", justify="right")
        rej.add_column("status")
        rej.add_column("reasons")
        reasons: dict[str, dict[str, int]] = {}
        codes: dict[str, dict[str, int]] = {}
        for plugin, st in zip(exp.rejected_by, exp.statuses, strict=True):
            if plugin is not None:
                assert st is not None  # a rejected node always has its status
                d = reasons.setdefault(plugin, {})
                reason = ", ".join(st.reasons)
                d[reason] = d.get(reason, 0) + 1
                c = codes.setdefault(plugin, {})
                c[st.code] = c.get(st.code, 0) + 1
        for plugin, count in rejections.items():
            text = "; ".join(f"{c} {r}" for r, c in sorted(reasons[plugin].items()))
            status = "; ".join(code if c == count else f"{c} {code}" for code, c in sorted(codes[plugin].items()))
            rej.add_row(escape(plugin), str(count), escape(status), escape(text))
        tables.append(rej)
    short: list[tuple[str, NodeStatus]] = [
        (exp.nodes[i], s) for i, s in enumerate(exp.statuses) if s is not None and s.details.get("insufficient_resources")
    ]
    if short:
        ins = Table(title="insufficient resources (NodeResourcesFit; base units: milli-CPU, bytes)",
                    header_style="bold")
        for col in ("node", "resource", "requested", "used", "capacity", "status"):
            ins.add_column(col, justify="right" if col in ("requested", "used", "capacity") else "left")
        first = short[:top]
        for node_name, node_status in first:
            for item in node_status.details["insufficient_resources"]:
                ins.add_row(escape(node_name), escape(item["resource"]), f"{item['requested']:,}", f"{item['used']:,}",
                            f"{item['capacity']:,}", escape(node_status.code))
        if len(short) > len(first):
            ins.caption = f"first {len(first)} of {len(short)} nodes (--top); every node in --format json"
        tables.append(ins)
    return tables


@app.command()
def explain(
    scenario: Annotated[Path | None, typer.Argument(help="Scenario YAML file (mode 1).")] = None,
    pod: Annotated[str, typer.Option("--pod", help="The pod: <workload>-<i>, or [namespace/]name.")] = "",
    at: Annotated[
        float | None,
        typer.Option("--at", help="Mode 1: virtual time (s) to run the scenario to (default: until the pod is bound)."),
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="Explain under this schedulerName (default: the pod's).")
    ] = None,
    objects: Annotated[
        Path | None, typer.Option("--objects", help="Mode 2: `kubectl get nodes,pods,namespaces -A -o yaml` output (Namespace objects optional).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Mode 2: a KubeSchedulerConfiguration (v1) file.")
    ] = None,
    format_: Annotated[str, typer.Option("--format", help="table (top nodes) or json (every node).")] = "table",
    top: Annotated[int, typer.Option("--top", help="Table: how many feasible nodes to show.")] = 10,
    out: Annotated[Path | None, typer.Option("--out", help="Write the JSON explanation to this file.")] = None,
) -> None:
    """Explain where the scheduler puts a pod, node by node.

    Mode 1: k8sim explain SCENARIO --pod NAME [--at T]. A pod bound by T (without --at:
    once it is bound) is explained at the cycle that placed it; a pod still Pending at T
    (without --at: at the end of the run) is explained there.
    Mode 2: k8sim explain --objects cluster.yaml --pod NAME [--config kubescheduler.yaml].
    """
    from k8sim.scheduling.explain import ExplainError, explain_pod

    try:
        if format_ not in ("table", "json"):
            raise ExplainError(f"--format must be table or json, got {format_!r}")
        if top < 1:
            raise ExplainError(f"--top must be >= 1, got {top}")
        if not pod:
            raise ExplainError("--pod NAME is required")
        if out is not None and (out.is_dir() or not out.absolute().parent.is_dir()):
            raise ExplainError(f"--out {out}: expected a file in an existing directory")
        if (scenario is None) == (objects is None):
            raise ExplainError("give either a SCENARIO (with --at) or --objects FILE, not both or neither")
        warnings: list[str] = []
        context: dict[str, object] = {}
        placement = None
        if scenario is not None:
            from k8sim.sim.explain import explain_in_run
            from k8sim.sim.simulation import Simulation

            if config is not None:
                raise ExplainError("--config goes with --objects; a scenario has its own scheduler.profiles")
            if at is not None and (not math.isfinite(at) or at <= 0):
                raise ExplainError(f"--at T must be a virtual time > 0 (seconds), got {at}")
            sc = load_scenario(scenario)
            limit = sc.duration_s if sc.duration_s is not None else MAX_TIME_S
            if at is not None and at > limit:
                raise ExplainError(f"--at {at:g} is beyond the scenario's end ({limit:g} s, "
                                   f"{'duration_s' if sc.duration_s is not None else 'the time limit'})")
            sim = Simulation(sc)
            warnings += sim.warnings
            found = explain_in_run(sim, pod, at, profile)
            exp, placement = found.explanation, found.placement
            context = {"scenario": str(scenario), "at": found.at,
                       "placement": placement.to_dict() if placement is not None else None}
        else:
            from k8sim.scheduling.kubeconfig import load_kube_scheduler_configuration
            from k8sim.sim.snapshot import build_snapshot
            from k8sim.workloads.kube_objects import load_kube_objects

            if at is not None:
                raise ExplainError("--at goes with a SCENARIO; --objects is a snapshot")
            assert objects is not None  # checked above: a SCENARIO or --objects
            objs = load_kube_objects(objects)
            warnings += objs.warnings
            cfg = None
            if config is not None:
                cfg = load_kube_scheduler_configuration(config)
                warnings += [f"{config}: {w}" for w in cfg.warnings]
            cluster = build_snapshot(objs, cfg.settings if cfg is not None else None)
            warnings += cluster.simulation.warnings
            name, info = cluster.pending_pod(pod)
            state = cluster.state
            profiles = cfg.build_profiles(cluster.simulation.streams) if cfg is not None else cluster.simulation.profiles
            context = {"objects": str(objects), "config": str(config) if config is not None else None}
            chosen_profile = profile or info.scheduler_name
            prof = profiles.get(chosen_profile)
            if prof is None:
                raise ExplainError(f"no scheduler profile named {chosen_profile!r} (available: {sorted(profiles)})")
            exp = explain_pod(state, prof, info, name)
        for w in warnings:
            _warn(w)
    except ValueError as e:  # ScenarioError, ExplainError, a plugin failing on this pod
        raise _fail(e) from None
    doc = {**context, **exp.to_dict(), "warnings": warnings}
    if out is not None:
        try:
            out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        except OSError as e:
            raise _fail(ValueError(f"{out}: cannot write: {e.strerror}")) from None
    if format_ == "json":
        if out is None:
            typer.echo(json.dumps(doc, indent=2))
        else:
            console.print(f"wrote {escape(str(out))}", highlight=False)
        return
    if placement is not None:
        nominated = ", nominated there by a preemption" if placement.nominated else ""
        console.print(
            f"[bold]{escape(exp.pod)}[/] was bound to [bold]{escape(placement.node)}[/] at t={placement.time:g} s "
            f"(scheduling attempt {placement.attempt}{escape(nominated)}); the cycle that placed it:",
            highlight=False,
        )
    elif scenario is not None:
        console.print(f"[bold]{escape(exp.pod)}[/] is Pending at t={context['at']:g} s", highlight=False)
    console.print(f"[bold]{escape(exp.pod)}[/] ({escape(exp.profile)}): {escape(exp.message)}", highlight=False)
    for table in _explanation_tables(exp, top):
        console.print(table)
    if placement is not None and exp.best:
        tie = " (one of the tied best nodes, picked at random)" if exp.chosen is None and placement.node in exp.best else ""
        console.print(f"the scheduler chose [bold]{escape(placement.node)}[/]{escape(tie)}", highlight=False)
    elif exp.best:
        if exp.chosen is not None:
            console.print(f"the scheduler would choose [bold]{escape(exp.chosen)}[/]", highlight=False)
        else:
            console.print(
                f"{len(exp.best)} nodes tie for the best total; the scheduler picks one at random: "
                f"{escape(', '.join(exp.best))}",
                highlight=False,
            )
    if exp.sample_size < exp.feasible.size:
        console.print(
            f"note: the scheduler stops after {exp.sample_size} feasible nodes (percentageOfNodesToScore) and "
            "scores only those; the scores above cover every feasible node",
            highlight=False,
        )


if __name__ == "__main__":  # pragma: no cover
    app()
