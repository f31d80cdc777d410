"""Cold-start plots: startup breakdown and latency CDFs per pool or workload, and the
image disk-use plot. Each is checked for what it draws (panels, lines and their pod
counts, titles, units), not only that it returns a figure."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "runtime"))
from rt_helpers import MB, image, pool, run, scenario, workload  # noqa: E402

from k8sim.metrics import plots  # noqa: E402


@pytest.fixture(scope="module")
def result():
    # Two pools: warm (app:1 pre-pulled) gets 3 pods, cold gets 2 pods that pull 100 MB.
    sc = scenario(
        [pool("warm", prepulled_images=["app:1"], image_disk="1Gi"), pool("cold", image_disk="1Gi")],
        [workload("w", [0.0, 1.0, 2.0], image="app:1", nodeSelector={"k8sim.io/node-pool": "warm"}),
         workload("c", [0.0, 1.0], image="app:1", nodeSelector={"k8sim.io/node-pool": "cold"})],
        catalog=[image("app:1", ("a", 100 * MB))], duration_s=100,
    )
    _, r = run(sc)
    return r


def labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_startup_breakdown_by_pool_has_one_panel_per_pool(result):
    fig = plots.startup_breakdown(result, by="pool")
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["pool cold", "pool warm"]
    # Four CDFs per panel, each over that pool's pods (2 cold, 3 warm).
    assert all(lbl.endswith("(n=2)") for lbl in labels(axes[0])) and len(labels(axes[0])) == 4
    assert all(lbl.endswith("(n=3)") for lbl in labels(axes[1]))
    assert "Startup breakdown by pool" in fig._suptitle.get_text()
    assert axes[0].get_xlabel() == "seconds"
    plt.close(fig)


def test_latency_cdf_by_workload_has_one_line_per_workload(result):
    fig = plots.latency_cdf(result, by="workload")
    left, right = fig.axes
    assert labels(left) == ["workload c (n=2)", "workload w (n=3)"] == labels(right)
    assert "(s)" in left.get_xlabel() and "Scheduling latency by workload" in left.get_title()
    plt.close(fig)


def test_image_disk_plot_shows_each_pool_and_the_thresholds(result):
    fig = plots.image_disk(result)
    top, bottom = fig.axes
    assert {"pool cold", "pool warm", "GC high threshold", "GC low threshold"} <= set(labels(top))
    assert "%" in top.get_ylabel() and "GB" in bottom.get_ylabel()
    assert "Image disk use" in top.get_title()
    plt.close(fig)


def test_by_rejects_an_unknown_grouping(result):
    with pytest.raises(ValueError, match="pool' or 'workload"):
        plots.startup_breakdown(result, by="zone")


def test_standard_plots_of_a_multi_pool_image_run(result, tmp_path):
    names = {p.name for p in plots.save_standard_plots(result, tmp_path)}
    assert {"startup_breakdown_by_pool.png", "latency_cdf_by_pool.png", "image_disk.png"} <= names
