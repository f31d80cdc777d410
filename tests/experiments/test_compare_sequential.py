"""compare(..., precision=...): the sequential procedure, its stopping point, bad input.

The scenario draws pods as a Poisson stream of rate 0.025/s for 1000 s, so the metric
``pods_submitted`` of a replication is Poisson with mean and variance 25 (coefficient of
variation 1/5), whatever the scheduler does (one roomy node: every pod fits).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st
from typer.testing import CliRunner

from k8sim import ScenarioError, validate_scenario
from k8sim.cli import app
from k8sim.experiments import compare, comparison_report
from k8sim.experiments.stats import mean_ci

RATE, HORIZON = 0.025, 1000.0
POISSON = {
    "name": "poisson-count",
    "seed": 1,
    "duration_s": HORIZON,
    "cluster": {"node_pools": [{"name": "n", "count": 1,
                                "allocatable": {"cpu": "64", "memory": "256Gi", "pods": 1000}}]},
    "workloads": [{"name": "w", "arrival": {"kind": "poisson", "rate_per_s": RATE},
                   "template": {"requests": {"cpu": "100m", "memory": "100Mi"}},
                   "duration": {"kind": "constant", "value": 5}}],
}
GAMMA, N0 = 0.1, 5


def _stopping_quantiles(trials: int = 4000) -> tuple[int, int, int]:
    """The 0.5 %, 50 % and 99.5 % points of the stopping replication count of the rule
    "stop at the first n >= N0 with t(0.975, n-1) s_n / (sqrt(n) mean_n) <= GAMMA" for
    i.i.d. Poisson(25) observations, by Monte Carlo (independent of k8sim)."""
    rng = np.random.default_rng(12345)
    lam = RATE * HORIZON
    tq = st.t.ppf(0.975, np.arange(1, 400))
    stops = []
    for _ in range(trials):
        x = rng.poisson(lam, size=399).astype(float)
        n = np.arange(1, 400)
        mean = np.cumsum(x) / n
        var = (np.cumsum(x * x) - n * mean**2) / np.maximum(n - 1, 1)
        half = np.full(399, np.inf)
        half[1:] = tq[:-1] * np.sqrt(var[1:] / n[1:])
        ok = (half / mean <= GAMMA) & (n >= N0)
        stops.append(int(n[np.argmax(ok)]))
    lo, mid, hi = np.percentile(stops, [0.5, 50, 99.5])
    return int(lo), int(mid), int(hi)


@pytest.mark.slow
def test_sequential_stops_where_the_variance_says():
    # Expected stop, by hand: with s/mean at its true value 1/5, the rule asks for
    # sqrt(n) / t(0.975, n-1) >= (1/5) / 0.1 = 2, i.e. n / t^2 >= 4: n = 17 gives
    # 17 / 2.1199^2 = 3.78, n = 18 gives 18 / 2.1098^2 = 4.04, so about 18 replications.
    # The sample s varies (its relative sd is about 1/sqrt(2 (n-1)) = 0.17), hence a range.
    lo, mid, hi = _stopping_quantiles()
    assert 15 <= mid <= 21  # the Monte Carlo agrees with the hand estimate
    sc = validate_scenario(POISSON)
    res = compare(sc, ["kube-default"], replications=N0, base_seed=100, precision=GAMMA,
                  precision_metrics=["pods_submitted"], max_replications=200)
    assert res.precision_reached is True
    assert lo <= res.replications <= hi
    assert res.replications == len(res.runs)
    # Stopped at the first n that meets the target: n meets it, n - 1 does not.
    values = res.runs["pods_submitted"].to_numpy(dtype=float)
    mean, _, n, half = mean_ci(values)
    assert n == res.replications and half / mean <= GAMMA
    mean1, _, _, half1 = mean_ci(values[:-1])
    assert half1 / mean1 > GAMMA
    # The history has one row per round, the last being the final state.
    h = res.precision_history
    assert list(h["replications"]) == list(range(N0, res.replications + 1))
    assert h["rel_half_width"].iloc[-1] == pytest.approx(half / mean)
    report = comparison_report(res)
    assert f"Reached after **{res.replications}** replication(s)" in report


def test_difference_target_and_max(tmp_path):
    sc = validate_scenario(POISSON)
    # Under common random numbers both profiles see the same arrivals: the paired
    # difference of pods_submitted is 0 in every replication, an interval of zero width,
    # so the procedure stops at its starting point.
    res = compare(sc, ["kube-default", "binpack"], replications=3, precision=0.01,
                  precision_metrics=["pods_submitted"], precision_target="difference", max_replications=5)
    assert res.precision_reached is True and res.replications == 3
    # A target no 4 replications can meet stops at the maximum and says so. With
    # relative sd 1/5 the half-width after 4 runs is about t(0.975, 3) * 0.2 / 2 = 0.32.
    res = compare(sc, ["kube-default"], replications=2, precision=0.01, precision_metrics=["pods_submitted"],
                  max_replications=4)
    assert res.precision_reached is False and res.replications == 4
    assert list(res.precision_history["replications"]) == [2, 3, 4]
    assert "**Not reached**" in comparison_report(res)
    res.save(tmp_path / "c")
    from k8sim.experiments import load_comparison

    back = load_comparison(tmp_path / "c")
    assert back.precision == 0.01 and back.precision_reached is False and back.max_replications == 4
    assert list(back.precision_history["replications"]) == [2, 3, 4]


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"precision": 0}, "precision", "must be a number > 0"),
        ({"precision": -0.05}, "precision", "must be a number > 0"),
        ({"precision": math.nan}, "precision", "must be a number > 0"),
        ({"precision": 0.05, "max_replications": 2}, "max_replications", "at least the starting replications"),
        ({"precision": 0.05, "precision_target": "median"}, "precision_target", "must be one of"),
        ({"max_replications": 20}, "max_replications", "only used with a precision"),
        ({"precision_metrics": ["pods_submitted"]}, "precision_metrics", "only used with a precision"),
    ],
)
def test_bad_sequential_input(kwargs, field, words):
    with pytest.raises(ScenarioError) as e:
        compare(validate_scenario(POISSON), ["kube-default"], replications=3, **kwargs)
    assert any(f == field and words in msg for f, msg in e.value.problems)


def test_unknown_metric_is_reported_after_the_first_run():
    with pytest.raises(ScenarioError) as e:
        compare(validate_scenario(POISSON), ["kube-default"], replications=3, precision=0.05,
                precision_metrics=["pods_submitted", "no_such_metric"])
    (f, msg), = e.value.problems
    assert f == "precision_metrics" and "no_such_metric" in msg and "pods_submitted" in msg


@pytest.mark.parametrize(
    "args",
    [["--precision", "0"], ["--precision", "-1"], ["--precision", "0.05", "--max-replications", "2"],
     ["--precision", "0.05", "--metric", "nope"]],
)
def test_cli_bad_sequential_input_exits_2(tmp_path, args):
    path = tmp_path / "s.yaml"
    import yaml

    path.write_text(yaml.safe_dump(POISSON))
    result = CliRunner().invoke(app, ["compare", str(path), "--profile", "kube-default", "--replications", "3",
                                      "--no-plots", "--out", str(tmp_path / "o"), *args])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
