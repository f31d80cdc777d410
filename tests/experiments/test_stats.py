"""Student t quantiles and intervals, checked against table values and hand arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from k8sim.experiments.stats import betainc, mean_ci, paired_differences, summarize, t_cdf, t_quantile


@pytest.mark.parametrize(
    ("df", "expected"),
    # Two-sided 95% critical values from any t table (3 decimals).
    [(1, 12.706), (2, 4.303), (5, 2.571), (10, 2.228), (30, 2.042)],
)
def test_t_quantile_matches_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize(("p", "df", "expected"), [(0.995, 3, 5.841), (0.9, 4, 1.533), (0.95, 20, 1.725)])
def test_t_quantile_other_levels(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize("p", [0.51, 0.6, 0.75, 0.9, 0.975, 0.999])
def test_t_quantile_closed_forms(p):
    # df = 1 is the Cauchy distribution: t = tan(pi (p - 1/2)).
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
    # df = 2: t = (2p - 1) / sqrt(2 p (1 - p)).
    assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)


def test_t_quantile_symmetry_limits_and_errors():
    assert t_quantile(0.5, 7) == 0.0
    assert t_quantile(0.025, 5) == pytest.approx(-t_quantile(0.975, 5), rel=1e-12)
    assert t_quantile(0.975, math.inf) == pytest.approx(1.959964, abs=1e-6)  # the normal quantile
    assert t_quantile(0.975, 100_000) == pytest.approx(1.95999, abs=1e-4)
    assert t_cdf(t_quantile(0.8, 9), 9) == pytest.approx(0.8, abs=1e-12)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError):
            t_quantile(bad, 3)
    with pytest.raises(ValueError):
        t_quantile(0.9, 0)


def test_betainc_identities():
    for x in (0.0, 0.1, 0.5, 0.93, 1.0):
        assert betainc(1, 1, x) == pytest.approx(x, abs=1e-14)  # uniform CDF
        assert betainc(3, 1, x) == pytest.approx(x**3, abs=1e-14)
        assert betainc(1, 4, x) == pytest.approx(1 - (1 - x) ** 4, abs=1e-14)
    assert betainc(2.5, 0.5, 0.3) + betainc(0.5, 2.5, 0.7) == pytest.approx(1.0, abs=1e-13)


def test_mean_ci_by_hand():
    # x = 1..5: mean 3; squared deviations 4+1+0+1+4 = 10; s^2 = 10/4 = 2.5;
    # s = 1.5811388; s/sqrt(5) = sqrt(0.5) = 0.7071068; t(0.975, 4) = 2.7764451;
    # half-width = 2.7764451 * 0.7071068 = 1.9632432 -> [1.0367568, 4.9632432].
    mean, std, n, half = mean_ci([1, 2, 3, 4, 5])
    assert (mean, n) == (3.0, 5)
    assert std == pytest.approx(1.5811388, abs=1e-7)
    assert half == pytest.approx(1.9632432, abs=1e-6)
    # 90%: t(0.95, 4) = 2.1318468; 2.1318468 * 0.7071068 = 1.5074436.
    assert mean_ci([1, 2, 3, 4, 5], confidence=0.90)[3] == pytest.approx(1.5074436, abs=1e-6)


def test_mean_ci_small_and_missing():
    assert mean_ci([])[2] == 0
    m, s, n, h = mean_ci([4.0])
    assert (m, n) == (4.0, 1) and math.isnan(s) and math.isnan(h)
    m, s, n, h = mean_ci([1.0, float("nan"), 3.0])  # NaN left out: n = 2
    assert (m, n) == (2.0, 2)
    # s = sqrt(2); se = 1; t(0.975, 1) = 12.7062047
    assert h == pytest.approx(12.7062047, abs=1e-6)


def _runs() -> pd.DataFrame:
    base = [10.0, 12.0, 11.0]
    rows = []
    for r, b in enumerate(base):
        rows.append({"profile": "base", "replication": r, "x": b})
        rows.append({"profile": "noisy", "replication": r, "x": b + [2, 3, 1][r]})
        rows.append({"profile": "steady", "replication": r, "x": b + [2.0, 2.1, 1.9][r]})
    return pd.DataFrame(rows)


def test_summarize_by_hand():
    s = summarize(_runs(), ["x"]).set_index("profile")
    # base: 10, 12, 11 -> mean 11, s = 1, se = 1/sqrt(3), t(0.975, 2) = 4.3026527 -> 2.4841377
    assert s.loc["base", "mean"] == pytest.approx(11.0)
    assert s.loc["base", "ci"] == pytest.approx(2.4841377, abs=1e-6)
    assert list(s.index) == ["base", "noisy", "steady"]


def test_paired_differences_by_hand():
    p = paired_differences(_runs(), ["x"], baseline="base").set_index("profile")
    # noisy - base = 2, 3, 1: mean 2, s = 1, half = 4.3026527 / sqrt(3) = 2.4841377 -> [-0.484, 4.484]
    assert p.loc["noisy", "mean_diff"] == pytest.approx(2.0)
    assert p.loc["noisy", "ci"] == pytest.approx(2.4841377, abs=1e-6)
    assert not p.loc["noisy", "significant"]
    # steady - base = 2.0, 2.1, 1.9: mean 2, s = 0.1, half = 0.24841377 -> [1.7516, 2.2484]: excludes 0.
    assert p.loc["steady", "ci"] == pytest.approx(0.24841377, abs=1e-6)
    assert p.loc["steady", "significant"]
    assert p.loc["steady", "rel_diff"] == pytest.approx(2.0 / 11.0)
    # The independent-means intervals of base (11 ± 2.48) and steady (13 ± 2.48) overlap:
    # pairing is what makes the difference visible.
    s = summarize(_runs(), ["x"]).set_index("profile")
    assert s.loc["base", "ci_high"] > s.loc["steady", "ci_low"]


def test_paired_pairs_on_replication_not_row_order():
    runs = _runs().sample(frac=1.0, random_state=np.random.default_rng(0))
    p = paired_differences(runs, ["x"], baseline="base").set_index("profile")
    assert p.loc["steady", "std"] == pytest.approx(0.1)
