"""The work behind ``k8sim compare``, ``k8sim sweep`` and ``k8sim plot``.

Plain functions: they take the parsed options and a rich ``Console``, do the work,
print tables and a progress bar on that console, and raise
:class:`~k8sim.config.loader.ScenarioError` for bad input (before any run), which the
CLI turns into a one-line message and exit code 2.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from k8sim.config.loader import ScenarioError, load_scenario
from k8sim.experiments.comparison import ComparisonResult, compare, load_comparison
from k8sim.experiments.report import (
    comparison_report,
    differences,
    fmt,
    fmt_ci,
    loss_sentences,
    summary_means,
)
from k8sim.experiments.sweeps import load_experiment, output_dir, sweep
from k8sim.metrics.rundir import check_output_dir

#: Metrics shown in the printed tables (those present).
HEADLINE = (
    "pods_scheduled",
    "pods_pending_at_end",
    "scheduling_latency_p95_s",
    "scheduling_latency_mean_s",
    "startup_latency_p95_s",
    "mean_cpu_utilization",
    "mean_memory_utilization",
    "mean_pending_pods",
    "makespan_s",
    # Runs with controllers: replicas available vs desired, pods replaced.
    "availability",
    "pods_recreated",
    # Pods lost, nodes used.
    "pods_preempted",
    "pods_failed",
    "work_lost_share",
    "nodes_in_use_mean",
    "nodes_in_use_peak",
    "node_hours_in_use",
    # GPU clusters (trace replay): allocation and fragmentation at the end of the run.
    "pods_dropped",
    "gpu_allocated_share_at_arrived_100",
    "gpu_unallocated_share_at_arrived_100",
    "mean_gpu_utilization",
    "gpu_allocated_share_end",
    "gpu_fragmentation_share_end",
    "gpu_fragmentation_idle_share_end",
    # Runs with failures or operator actions.
    "node_availability",
    "pods_evicted",
    "pods_lost",
    "time_to_recover_p50_s",
)


def _progress(console: Console, what: str) -> Progress:
    return Progress(
        TextColumn(what),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _split(profiles: Sequence[str]) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]`` (the CLI may repeat or comma-join); an
    inline profile (``LABEL={...}``) or a file (``@file``) is kept whole."""
    out = []
    for p in profiles:
        text = str(p)
        if any(c in text for c in "{=@"):
            out.append(text.strip())
        else:
            out += [x.strip() for x in text.split(",") if x.strip()]
    return out


def comparison_table(result: ComparisonResult, metrics: Sequence[str] | None = None) -> Table:
    """Rich table: metric rows, one column per profile with mean ± CI; a significant
    difference to the baseline is marked (▲ higher / ▼ lower)."""
    metrics = [m for m in (metrics or HEADLINE) if m in result.metrics] or result.metrics
    pct = f"{result.confidence:.0%}"
    table = Table(
        title=escape(f"{result.scenario}: {result.replications} replication(s), mean ± {pct} CI"),
        header_style="bold",
        caption=f"▲/▼: significantly higher/lower than {escape(result.baseline)} (paired {pct} t interval); "
                "▲▲/▼▼: also after Holm's correction across all differences",
    )
    table.add_column("metric")
    for p in result.profiles:
        table.add_column(escape(p) + (" (baseline)" if p == result.baseline else ""), justify="right")
    means = summary_means(result.summary)
    paired = {(d.profile, d.metric): d for d in differences(result.paired)}
    for m in metrics:
        cells = [m]
        for p in result.profiles:
            text = fmt_ci(*means[(p, m)], metric=m)
            d = paired.get((p, m))
            if d is not None and d.significant:
                mark = "▲" if d.mean_diff > 0 else "▼"
                text += " " + (mark * 2 if d.significant_holm else mark)
            cells.append(escape(text))
        table.add_row(*cells)
    return table


def _default_out(kind: str, name: str) -> Path:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{name}-{kind}-{stamp}"


def compare_command(
    scenario_path: str | Path,
    profiles: Sequence[str],
    replications: int,
    jobs: int,
    out: str | Path | None,
    baseline: str | None,
    console: Console,
    *,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    plots: bool = True,
    executor: str = "local",
    address: str | None = None,
    precision: float | None = None,
    metrics: Sequence[str] = (),
    max_replications: int | None = None,
    precision_target: str = "mean",
) -> ComparisonResult:
    """``k8sim compare SCENARIO --profile kube-default --profile binpack --replications 10``.

    With ``precision`` (``--precision 0.05 [--metric M ...] [--max-replications N]``),
    ``replications`` is the starting number and replications are added until the
    watched relative half-widths are at most ``precision`` (see :func:`compare`).

    Writes into ``out`` (default ``results/<scenario>-compare-<time>``): ``runs.parquet``,
    ``summary.csv``, ``paired.csv``, ``comparison.json``, ``report.md``, the PNG plots
    (``metrics.png``, ``differences.png``, ``latency_cdf.png``, ``utilization.png``, with
    GPUs ``gpu_allocation.png``) and each run's pods, nodes, events and timeseries under
    ``runs/<profile>/rep-<r>/``; prints the comparison table and, when a profile lost
    pods, which one and how many. ``profiles`` are references as
    :func:`k8sim.experiments.comparison.resolve_profiles` reads them.
    ``seed`` is the base seed (replication r uses seed + r; default: the scenario's).
    """
    scenario = load_scenario(scenario_path, overrides=list(overrides))
    names = _split(profiles)
    directory = Path(out) if out is not None else _default_out("compare", scenario.name or "scenario")
    check_output_dir(directory)  # before the runs: a bad location must not lose them
    bar = _progress(console, "comparing")
    with bar:
        task = bar.add_task("compare", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = compare(scenario, names, replications, jobs=jobs, base_seed=seed, baseline=baseline,
                         keep_results=True, executor=executor, address=address, progress=progress,
                         precision=precision, precision_metrics=list(metrics) or None,
                         max_replications=max_replications, precision_target=precision_target)
    result.save(directory)
    (directory / "report.md").write_text(comparison_report(result))
    if plots:
        from k8sim.experiments.plots import save_comparison_plots

        save_comparison_plots(result, directory)
    console.print(comparison_table(result))
    if result.sequential:
        final = result.final_precision()
        worst = float(final["rel_half_width"].max()) if len(final) else float("nan")
        if result.precision_reached:
            console.print(f"precision {result.precision:g} reached after {result.replications} replication(s) per "
                          f"profile (largest relative half-width {worst:.3g})", highlight=False)
        else:
            console.print(f"[bold yellow]precision {result.precision:g} not reached[/]: stopped at the maximum of "
                          f"{result.replications} replication(s) per profile (largest relative half-width "
                          f"{worst:.3g})", highlight=False)
    for sentence in loss_sentences(result):
        console.print(f"[yellow]note:[/] {escape(sentence.removeprefix('- ').replace('**', ''))}", highlight=False,
                      soft_wrap=True)
    console.print(f"results in [bold]{escape(str(directory))}[/] (report.md, summary.csv, paired.csv)",
                  highlight=False)
    return result


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return str(v)


def _sweep_summary(table: pd.DataFrame, paths: Sequence[str]) -> Table:
    ok = table[table["status"] == "ok"]
    metrics = [m for m in ("scheduling_latency_p95_s", "startup_latency_p95_s", "mean_cpu_utilization",
                           "mean_pending_pods", "nodes_in_use_mean", "pods_failed",
                           "gpu_allocated_share_at_arrived_100", "gpu_allocated_share_end",
                           "gpu_fragmentation_share_end")
               if m in ok.columns]
    keys = [*paths, "profile"]
    t = Table(title="sweep: mean over replications", header_style="bold")
    for k in keys:
        t.add_column(escape(k))
    t.add_column("runs", justify="right")
    for m in metrics:
        t.add_column(escape(m), justify="right")
    if ok.empty:
        return t
    grouped = ok.groupby(keys, sort=False, dropna=False)
    for key, part in grouped:
        key = key if isinstance(key, tuple) else (key,)
        cells = [escape(_cell(k)) for k in key] + [str(len(part))]
        cells += [fmt(float(part[m].mean()), metric=m) for m in metrics]
        t.add_row(*cells)
    return t


def sweep_command(
    experiment_path: str | Path,
    executor: str,
    jobs: int,
    address: str | None,
    out: str | Path | None,
    console: Console,
    *,
    retry_failed: bool = False,
    plots: bool = True,
) -> pd.DataFrame:
    """``k8sim sweep EXPERIMENT [--executor local|dask] [--jobs N] [--address tcp://...]``.

    Validates the experiment (all problems at once), runs or resumes it, writes
    ``out/sweep.parquet`` (default ``out``: the experiment's, else
    ``results/<experiment>``) and ``sweep-<i>.png`` per swept parameter (a list
    sweep: ``sweep-points.png``, point by point), prints a
    summary table and the failed runs. Returns the sweep table; the CLI should exit
    with 1 when ``(table.status == "error").any()``.
    """
    exp = load_experiment(experiment_path)
    bar = _progress(console, "sweeping")
    with bar:
        task = bar.add_task("sweep", total=None)

        def progress(done: int, total: int, row: dict[str, Any]) -> None:
            bar.update(task, completed=done, total=total)

        table = sweep(exp, executor=executor, jobs=jobs, address=address, out_dir=out, progress=progress,
                      retry_failed=retry_failed)
    directory = output_dir(exp, out)
    paths = exp.override_paths()
    if plots and (table["status"] == "ok").any():
        from k8sim.experiments.plots import save_sweep_plots

        save_sweep_plots(table, paths, directory, mode="list" if exp.list_ else "grid")
    console.print(_sweep_summary(table, paths))
    n_ok = int((table["status"] == "ok").sum())
    n_err = int((table["status"] == "error").sum())
    n_skip = int(table["skipped"].sum())
    console.print(
        f"{len(table)} runs: {n_ok} ok, {n_err} failed, {n_skip} reused from an earlier sweep; "
        f"table in [bold]{escape(str(directory / 'sweep.parquet'))}[/]",
        highlight=False,
    )
    for row in table[table["status"] == "error"].itertuples(index=False):
        first = str(row.error).splitlines()[0] if row.error else "error"
        console.print(
            f"[bold red]failed:[/] run {row.run_id} (profile {escape(str(row.profile))}, seed {row.seed}): "
            f"{escape(first)}; traceback in {escape(str(directory / 'runs' / str(row.run_id) / 'error.json'))}",
            highlight=False,
            soft_wrap=True,
        )
    return table


def plot_command(results_dir: str | Path, console: Console, out: str | Path | None = None) -> list[Path]:
    """``k8sim plot DIR``: (re)draw the standard plots of a results directory into ``out``
    (default: the directory itself).

    - a run directory (``pods.parquet`` + ``timeseries.parquet``, from ``k8sim run`` or
      a sweep's ``runs/<id>/``): ``utilization.png``, ``pods.png``, ``latency_cdf.png``;
    - a comparison directory (``comparison.json``): ``metrics.png``, ``latency_cdf.png``,
      ``utilization.png``;
    - a sweep directory (``sweep.parquet``): ``sweep-<i>.png`` per swept parameter.
    """
    d = Path(results_dir)
    if not d.is_dir():
        raise ScenarioError(str(d), [("", "not a directory")])
    target = Path(out) if out is not None else d
    if (d / "comparison.json").is_file():
        from k8sim.experiments.plots import save_comparison_plots

        try:
            comparison = load_comparison(d)
        except (OSError, KeyError, ValueError) as e:
            raise ScenarioError(str(d), [("", f"cannot read the comparison: {e}")]) from None
        written = save_comparison_plots(comparison, target)
    elif (d / "sweep.parquet").is_file():
        from k8sim.experiments.plots import save_sweep_plots

        table = pd.read_parquet(d / "sweep.parquet")
        paths: list[str] = []
        mode: Literal["grid", "list"] = "grid"
        meta = d / "experiment.json"
        if meta.is_file():
            exp = json.loads(meta.read_text()).get("experiment", {})
            if exp.get("grid"):
                paths = list(exp["grid"])
            else:
                for point in exp.get("list") or []:
                    paths += [k for k in point if k not in paths]
                mode = "list" if exp.get("list") else "grid"
        written = save_sweep_plots(table, paths, target, mode=mode)
    elif (d / "pods.parquet").is_file() and (d / "timeseries.parquet").is_file():
        from k8sim.experiments.plots import run_from_directory
        from k8sim.metrics.plots import save_standard_plots

        try:
            result = run_from_directory(d)
        except (OSError, KeyError, ValueError) as e:
            raise ScenarioError(str(d), [("", f"cannot read the run: {e}")]) from None
        written = save_standard_plots(result, target)
    else:
        raise ScenarioError(
            str(d),
            [("", "no results here: expected pods.parquet and timeseries.parquet (a run), "
                  "comparison.json (k8sim compare) or sweep.parquet (k8sim sweep)")],
        )
    for p in written:
        console.print(f"wrote {escape(str(p))}", highlight=False)
    return written
