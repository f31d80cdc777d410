"""Plots of queue backlog and share over time (``k8sim.metrics.queue_plots``): the
curves drawn are the frame's columns, the series hold hand-derived values, and ``run``
writes the plots for the shipped queue scenarios."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from typer.testing import CliRunner

from k8sim import Simulation, validate_scenario
from k8sim.cli import app
from k8sim.metrics import queue_plots as qp
from k8sim.metrics.plots import time_axis

sys.path.insert(0, str(Path(__file__).parent))
from test_kueue import two_teams  # noqa: E402

GPU = "nvidia.com/gpu"
ROOT = Path(__file__).resolve().parents[2]
QUEUE_SCENARIOS = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml") if "\nkueue:" in p.read_text())


@pytest.fixture(scope="module")
def result():  # noqa: ANN201
    return Simulation(validate_scenario(two_teams())).run()


def test_the_series_hold_the_hand_derived_backlog_and_shares(result) -> None:  # noqa: ANN001
    """The two-teams case of test_kueue (32 GPUs, team-a and team-b 16 each, 8-GPU
    jobs of 8 pods, 0.1 CPU each; see its derivation): at 0 s team-a admits three jobs
    (24 GPUs: 8 borrowed) and one (8 pods) waits; at 100 s team-b reclaims: ja-2 is
    evicted, so two (16 pods) wait and team-a holds 16; at 1000 s ja-0 and ja-1 end and
    both waiting jobs are admitted. Shares: team-a's dominant share of all quota is
    24/32 = 0.75 then 16/32 = 0.5 (GPUs dominate: 2.4 of 2,000 cores); its Kueue share
    is 8 borrowed x 1000 / 32 lendable / weight 1 = 250, then 0."""
    s = qp.queue_series(result)
    a = {k: s[k]["team-a"] for k in ("pending", "pending_pods", f"usage:{GPU}", f"borrowed:{GPU}", "quota_share",
                                     "weighted_share")}
    assert [a["pending"][t] for t in (0.0, 100.0, 1000.0)] == [1, 2, 0]
    assert [a["pending_pods"][t] for t in (0.0, 100.0, 1000.0)] == [8, 16, 0]
    assert [a[f"usage:{GPU}"][t] for t in (0.0, 100.0, 1000.0)] == [24.0, 16.0, 16.0]
    assert [a[f"borrowed:{GPU}"][t] for t in (0.0, 100.0)] == [8.0, 0.0]
    assert a["quota_share"][0.0] == pytest.approx(0.75) and a["quota_share"][100.0] == pytest.approx(0.5)
    assert a["weighted_share"][0.0] == pytest.approx(250.0) and a["weighted_share"][100.0] == 0.0
    assert s[f"nominal:{GPU}"].loc[0.0].to_dict() == {"team-a": 16.0, "team-b": 16.0}


def lines(fig: Figure, title_part: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    ax = next(a for a in fig.axes if title_part in a.get_title() or title_part in a.get_ylabel())
    return {ln.get_label(): (np.asarray(ln.get_xdata(), dtype=float), np.asarray(ln.get_ydata(), dtype=float))
            for ln in ax.get_lines()}


def frame_columns(result, queue: str, col: str, resource: str | None = None) -> pd.Series:  # noqa: ANN001
    """``col`` of ``queue_usage`` for one ClusterQueue, one value per time (summed over
    flavors for a resource's amounts)."""
    u = result.frames["queue_usage"]
    u = u[u["cluster_queue"] == queue]
    if resource is None:
        return u.drop_duplicates("time").set_index("time")[col]
    return u[u["resource"] == resource].groupby("time")[col].sum()


def assert_drawn(xy: tuple[np.ndarray, np.ndarray], expected: pd.Series, div: float, end: float,
                 scale: float = 1.0) -> None:
    """A step curve: the frame's points, then the last value held to the end."""
    x, y = xy
    np.testing.assert_array_equal(x[:-1] * div, expected.index.to_numpy(dtype=float))
    np.testing.assert_array_equal(y[:-1], expected.to_numpy(dtype=float) / scale)
    assert x[-1] * div == pytest.approx(end) and y[-1] == y[-2]


def test_the_plotted_curves_are_the_frame_columns(result) -> None:  # noqa: ANN001
    div, _ = time_axis(result.end_time)
    end = result.end_time
    backlog = qp.queue_backlog(result)
    usage = qp.queue_usage(result)
    share = qp.queue_share(result)
    for q in ("team-a", "team-b"):
        assert_drawn(lines(backlog, "pending workloads")[q], frame_columns(result, q, "pending"), div, end)
        assert_drawn(lines(backlog, "pods of pending")[q], frame_columns(result, q, "pending_pods"), div, end)
        assert_drawn(lines(share, "weighted share")[q], frame_columns(result, q, "weighted_share"), div, end)
        for r in ("nvidia.com/gpu", "cpu"):  # the resources with a quota, GPUs first
            _unit, scale = qp.plotted_unit(r)
            drawn = lines(usage, f"Admitted {r} per")
            assert_drawn(drawn[f"{q} usage"], frame_columns(result, q, "usage", r), div, end, scale)
            assert_drawn(drawn[f"{q} nominal"], frame_columns(result, q, "nominal", r), div, end, scale)
            assert_drawn(lines(usage, f"{r} borrowed")[q], frame_columns(result, q, "borrowed", r), div, end, scale)
    # Titles, axis units and legends.
    for fig in (backlog, usage, share):
        assert "(seed" in fig.axes[0].get_title()
        for ax in fig.axes:
            assert ax.get_ylabel() and ax.get_legend() is not None
        assert "virtual time" in fig.axes[-1].get_xlabel()
    assert [a.get_ylabel() for a in usage.axes[::2]] == ["admitted nvidia.com/gpu (GPUs)", "admitted cpu (CPU cores)"]


@pytest.mark.slow
@pytest.mark.parametrize("name", QUEUE_SCENARIOS)
def test_run_writes_the_queue_plots_for_the_shipped_queue_scenarios(tmp_path: Path, name: str) -> None:
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["run", str(ROOT / "scenarios" / name), "--out", str(out)])
    assert r.exit_code == 0, r.output
    for f in ("queue_backlog.png", "queue_usage.png", "queue_share.png"):
        assert (out / f).stat().st_size > 10_000
    # The written frame is what the plots draw.
    u = pd.read_parquet(out / "queue_usage.parquet")
    assert {"pending_pods", "weighted_share"} <= set(u.columns)


def test_shipped_queue_scenarios_exist() -> None:
    assert {"two-teams-borrowing.yaml", "drf-mixed-jobs.yaml"} <= set(QUEUE_SCENARIOS)
