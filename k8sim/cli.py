"""The ``k8sim`` command: run, validate and schema.

Every user error (a bad scenario, a bad ``--set``) ends with a message naming the
file, the field path and what was expected, and exit code 2; never a traceback.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import time
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from k8sim import __version__
from k8sim.config.loader import ScenarioError, load_scenario
from k8sim.config.scenario import Scenario

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
        self.task = None

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
        label = f"t = {now:,.0f} s" + (f" / {self.end:,.0f} s" if self.end else "")
        self.progress.update(self.task, completed=now if self.end else None, now=label)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _summary_table(summary: dict, title: str) -> Table:
    table = Table(title=escape(title), show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        if isinstance(v, float):
            text = "-" if math.isnan(v) else f"{v:,.4g}"
        else:
            text = f"{v:,}" if isinstance(v, int) else str(v)
        table.add_row(k, text)
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
    from k8sim.sim.simulation import Simulation

    try:
        sc = load_scenario(scenario, overrides=set_ or [])
        sim = Simulation(sc, seed=seed)
    except ScenarioError as e:
        raise _fail(e) from None
    for workload, resources in sim.never_fit().items():
        err_console.print(
            f"[yellow]warning:[/] {escape(str(scenario))}: workload {escape(repr(workload))} requests "
            f"more {escape(', '.join(resources))} than any node has: its pods can never be "
            "scheduled (they are counted as unschedulable)",
            highlight=False,
            soft_wrap=True,
        )
    bar = _LazyProgress(sc.duration_s)
    try:
        result = sim.run(progress=bar)
    finally:
        bar.close()
    directory = out or _default_out(sc)
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
    console.print(
        f"simulated {result.end_time:,.0f} s in {sim.wall_s:.2f} s wall; results in [bold]{escape(str(directory))}[/]",
        highlight=False,
    )


@app.command()
def validate(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")],
) -> None:
    """Check scenario files without running them (exit code 2 if any is invalid)."""
    from k8sim.sim.simulation import Simulation

    bad = 0
    for path in scenarios:
        try:
            sc = load_scenario(path)
            Simulation(sc)  # also checks what only the built cluster can tell
        except ScenarioError as e:
            err_console.print(f"[bold red]invalid:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            bad += 1
            continue
        console.print(
            f"[green]ok[/]: {escape(str(path))} ({sc.cluster.node_count()} nodes, {len(sc.workloads)} workloads)",
            highlight=False,
        )
    if bad:
        raise typer.Exit(code=2)


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor completion)."""
    console.print_json(json.dumps(Scenario.model_json_schema(by_alias=True)))


if __name__ == "__main__":  # pragma: no cover
    app()
