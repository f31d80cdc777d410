"""compare(): common random numbers, tidy tables, paired differences, bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from k8sim import ScenarioError, load_scenario, validate_scenario
from k8sim.config.scheduler import PluginRef, ProfileSpec
from k8sim.experiments import compare, comparison_report, load_comparison
from k8sim.experiments.comparison import apply_profile, scheduler_names
from k8sim.experiments.plots import latency_cdfs

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"
SMALL = ["workloads[0].max_pods=60", "workloads[1].max_pods=40"]

# Two 4-cpu nodes; two 1-cpu pods at t=0, one 4-cpu pod at t=1, none ever finishes.
# spread (LeastAllocated) puts the small pods on different nodes, so the large pod never
# fits; binpack (MostAllocated) stacks them on one node and the large pod takes the other.
FRAGMENT = {
    "name": "fragment",
    "cluster": {"node_pools": [{"name": "n", "count": 2, "allocatable": {"cpu": "4", "memory": "16Gi"}}]},
    "workloads": [
        {"name": "small", "arrival": {"kind": "times", "times_s": [0, 0]},
         "template": {"requests": {"cpu": "1", "memory": "1Gi"}}},
        {"name": "large", "arrival": {"kind": "times", "times_s": [1]},
         "template": {"requests": {"cpu": "4", "memory": "1Gi"}}},
    ],
}


@pytest.fixture(scope="module")
def quick():
    return load_scenario(QUICKSTART, overrides=SMALL)


@pytest.fixture(scope="module")
def crn(quick):
    return compare(quick, ["kube-default", "binpack", "first-fit"], replications=2, base_seed=10,
                   keep_results=True)


def _draws(pods: pd.DataFrame) -> pd.DataFrame:
    cols = ["workload", "index", "created", "duration", "start_latency"]
    return pods[cols].sort_values(["workload", "index"]).reset_index(drop=True)


def test_common_random_numbers_across_profiles(crn):
    for r in range(2):
        base = _draws(crn.results[("kube-default", r)].pods)
        assert len(base) == 100
        for p in ("binpack", "first-fit"):
            pd.testing.assert_frame_equal(_draws(crn.results[(p, r)].pods), base)
    # ... but each replication draws anew.
    a, b = _draws(crn.results[("kube-default", 0)].pods), _draws(crn.results[("kube-default", 1)].pods)
    assert not a["created"].equals(b["created"])
    # ... and the policies did place pods differently.
    nodes = {p: crn.results[(p, 0)].pods["node"].nunique() for p in crn.profiles}
    assert nodes["binpack"] < nodes["kube-default"]


def test_runs_table_is_tidy(crn, quick):
    runs = crn.runs
    assert list(runs.columns[:3]) == ["profile", "replication", "seed"]
    assert runs.columns[-1] == "wall_s"
    assert list(zip(runs["profile"], runs["replication"], runs["seed"], strict=True)) == [
        (p, r, 10 + r) for p in ("kube-default", "binpack", "first-fit") for r in range(2)
    ]
    summary_cols = list(crn.results[("binpack", 1)].summary().columns)
    assert crn.metrics == summary_cols
    row = runs[(runs["profile"] == "binpack") & (runs["replication"] == 1)].iloc[0]
    expected = crn.results[("binpack", 1)].summary().iloc[0]
    for m in summary_cols:
        assert row[m] == pytest.approx(expected[m], nan_ok=True)
    assert (runs["wall_s"] > 0).all()
    assert runs["pods_submitted"].dtype.kind == "i"
    assert crn.seeds == [10, 11]
    assert crn.scenario == "quickstart"


def test_summary_and_paired_are_consistent(crn):
    s = crn.summary.set_index(["profile", "metric"])
    assert len(crn.summary) == 3 * len(crn.metrics)
    assert (crn.summary["n"] == 2).all()
    p = crn.paired.set_index(["profile", "metric"])
    assert set(crn.paired["profile"]) == {"binpack", "first-fit"}
    assert (crn.paired["baseline"] == "kube-default").all()
    for prof in ("binpack", "first-fit"):
        for m in ("mean_cpu_utilization", "makespan_s"):
            # with every replication present, mean of differences = difference of means
            diff = s.loc[(prof, m), "mean"] - s.loc[("kube-default", m), "mean"]
            assert p.loc[(prof, m), "mean_diff"] == pytest.approx(diff)
    # common random numbers: the pods submitted are the same under every profile
    assert p.loc[("binpack", "pods_submitted"), "mean_diff"] == 0
    assert not p.loc[("binpack", "pods_submitted"), "significant"]


def test_known_outcome_is_significant():
    sc = validate_scenario(FRAGMENT)
    res = compare(sc, ["spread", "binpack", "kube-default"], replications=3)
    runs = res.runs.set_index(["profile", "replication"])
    for r in range(3):
        assert runs.loc[("spread", r), "pods_pending_failed_scheduling"] == 1
        assert runs.loc[("binpack", r), "pods_pending_failed_scheduling"] == 0
    p = res.paired.set_index(["profile", "metric"])
    assert res.baseline == "spread"
    assert p.loc[("binpack", "pods_pending_failed_scheduling"), "mean_diff"] == -1
    assert p.loc[("binpack", "pods_pending_failed_scheduling"), "significant"]
    assert p.loc[("binpack", "pods_scheduled"), "significant"]
    assert not p.loc[("kube-default", "pods_pending_failed_scheduling"), "significant"]
    report = comparison_report(res)
    assert "| `pods_pending_failed_scheduling` | 1 ± 0 | 0 ± 0 | 1 ± 0 |" in report
    assert "- **binpack**: `pods_pending_failed_scheduling` is 1 lower than under spread" in report
    assert "kube-default**: `pods_pending_failed_scheduling`" not in report


def test_explicit_baseline_and_profile_specs():
    sc = validate_scenario(FRAGMENT)
    res = compare(sc, {"pack": "binpack", "tetris-cpu": ProfileSpec(
        preset="random", plugins=[PluginRef(name="Tetris", args={"resources": [{"name": "cpu", "weight": 3}]})])},
        replications=2, baseline="tetris-cpu")
    assert res.profiles == ["pack", "tetris-cpu"]
    assert set(res.paired["profile"]) == {"pack"}
    assert res.specs["pack"].preset == "binpack"


def test_parallel_jobs_give_identical_tables(quick):
    a = compare(quick, ["kube-default", "binpack"], replications=2, jobs=1)
    b = compare(quick, ["kube-default", "binpack"], replications=2, jobs=2)
    pd.testing.assert_frame_equal(a.runs.drop(columns="wall_s"), b.runs.drop(columns="wall_s"))
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.paired, b.paired)


def test_apply_profile_covers_every_scheduler_name():
    data = {**FRAGMENT, "workloads": [
        {**FRAGMENT["workloads"][0], "template": {**FRAGMENT["workloads"][0]["template"], "schedulerName": "b"}},
        {**FRAGMENT["workloads"][1], "template": {**FRAGMENT["workloads"][1]["template"], "schedulerName": "a"}},
    ], "scheduler": {"profiles": [{"schedulerName": "a"}, {"schedulerName": "b"}]}}
    sc = validate_scenario(data)
    assert scheduler_names(sc) == ["b", "a"]
    out = apply_profile(sc, "binpack")
    assert [(p.scheduler_name, p.preset) for p in out.scheduler.profiles] == [("b", "binpack"), ("a", "binpack")]
    assert sc.scheduler.profiles[0].preset == "kube-default"  # the input is unchanged
    res = compare(sc, ["binpack", "spread"], replications=1)
    assert res.runs.set_index("profile").loc["binpack", "pods_pending_failed_scheduling"] == 0


def test_bad_input_is_reported_before_any_run(quick):
    calls = []
    with pytest.raises(ScenarioError) as e:
        compare(quick, ["kube-default", "bin-pack", "nope"], replications=0, baseline="binpack",
                progress=lambda d, t: calls.append(d))
    msg = str(e.value)
    assert "profiles[1]: unknown preset 'bin-pack'; available: " in msg
    assert "binpack" in msg and "profiles[2]: unknown preset 'nope'" in msg
    assert "replications: must be an integer >= 1, got 0" in msg
    assert calls == []
    with pytest.raises(ScenarioError, match=r"baseline: 'spread' is not among the profiles \(kube-default\)"):
        compare(quick, ["kube-default"], replications=1, baseline="spread")
    with pytest.raises(ScenarioError, match="listed twice"):
        compare(quick, ["binpack", "binpack"], replications=1)
    with pytest.raises(ScenarioError, match=r"profiles\['x'\]\.plugins\[0\]: unknown plugin 'NoSuchPlugin'"):
        compare(quick, {"x": ProfileSpec(plugins=[PluginRef(name="NoSuchPlugin")])}, replications=1)
    with pytest.raises(ScenarioError, match="jobs: must be an integer >= 1"):
        compare(quick, ["binpack"], replications=1, jobs=0)


def test_save_and_load_round_trip(crn, tmp_path):
    crn.save(tmp_path)
    for name in ("runs.parquet", "summary.csv", "paired.csv", "comparison.json"):
        assert (tmp_path / name).is_file()
    assert (tmp_path / "runs" / "first-fit" / "rep-1" / "pods.parquet").is_file()
    back = load_comparison(tmp_path)
    pd.testing.assert_frame_equal(back.runs, crn.runs)
    pd.testing.assert_frame_equal(back.summary, crn.summary, check_dtype=False)
    pd.testing.assert_frame_equal(back.paired, crn.paired, check_dtype=False)
    assert (back.profiles, back.baseline, back.seeds) == (crn.profiles, crn.baseline, crn.seeds)
    assert back.results is not None and set(back.results) == set(crn.results)
    pd.testing.assert_frame_equal(back.results[("binpack", 0)].pods, crn.results[("binpack", 0)].pods)
    assert back.results[("binpack", 0)].warmup_s == crn.results[("binpack", 0)].warmup_s
    # the reloaded results are enough for the plots
    fig = latency_cdfs(back)
    assert len(fig.axes[0].lines) == 3


def test_scenario_path_is_accepted():
    res = compare(REPO / "scenarios" / "burst-overload.yaml", ["binpack"], replications=1)
    assert res.scenario == "burst-overload" and len(res.runs) == 1 and res.paired.empty
