"""Student t quantiles and intervals, paired tests and Holm's correction, checked against
table values, closed forms, scipy's own interval API and hand arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from k8sim.experiments.stats import (
    holm,
    mean_ci,
    paired_differences,
    precision_table,
    relative_half_width,
    summarize,
    t_quantile,
    t_test_p,
    wilcoxon_p,
)


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
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError):
            t_quantile(bad, 3)
    with pytest.raises(ValueError):
        t_quantile(0.9, 0)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
@pytest.mark.parametrize("values", [[1, 2, 3, 4, 5], [0.3, -1.2], [10.0, 12.5, 11.0, 9.0, 14.0, 13.0, 10.5],
                                    list(np.linspace(-3, 40, 31) ** 2 % 7)])
def test_mean_ci_equals_scipy_interval(values, confidence):
    # scipy.stats.t.interval(confidence, n - 1, loc=mean, scale=s / sqrt(n)) is the same
    # interval through scipy's own API.
    mean, std, n, half = mean_ci(values, confidence)
    low, high = st.t.interval(confidence, n - 1, loc=np.mean(values), scale=st.sem(values))
    assert (mean - half, mean + half) == pytest.approx((low, high), rel=1e-12, abs=1e-12)


def test_t_test_p_by_hand():
    # x = 1..5: t = 3 / sqrt(0.5) = 4.2426, df = 4. The t(4) CDF has the closed form
    # F(t) = 1/2 + 3/8 * t/sqrt(1 + t^2/4) * (1 - t^2 / (12 (1 + t^2/4))); p = 2 (1 - F(t)).
    t = 3 / math.sqrt(0.5)
    f = 0.5 + 3 / 8 * (t / math.sqrt(1 + t * t / 4)) * (1 - t * t / (12 * (1 + t * t / 4)))
    assert t_test_p([1, 2, 3, 4, 5]) == pytest.approx(2 * (1 - f), rel=1e-9)
    assert t_test_p([0.0, 0.0, 0.0]) == 1.0  # no difference at all
    assert t_test_p([2.0, 2.0, 2.0]) == 0.0  # the same non-zero difference every time
    assert math.isnan(t_test_p([1.0]))


def test_wilcoxon_by_hand():
    # All 5 differences positive: W- = 0; of the 2^5 = 32 equally likely sign patterns
    # one gives W- <= 0, so the two-sided exact p = 2/32 = 0.0625.
    assert wilcoxon_p([1, 2, 3, 4, 5]) == pytest.approx(2 / 32)
    # [1, -2, 3, 4, 5]: W- = 2 (the rank of |-2|); subsets of ranks {1..5} with sum <= 2
    # are {}, {1}, {2}: P(W- <= 2) = 3/32, two-sided 6/32.
    assert wilcoxon_p([1, -2, 3, 4, 5]) == pytest.approx(6 / 32)
    # Zero differences are dropped (Wilcoxon's procedure): same as [1, 2, 3] -> 2/8.
    assert wilcoxon_p([0, 0, 1, 2, 3]) == pytest.approx(2 / 8)
    assert wilcoxon_p([0, 0, 0]) == 1.0


def test_holm_by_hand():
    # p = .01 .04 .03 .005 (m = 4). Sorted: .005 * 4 = .02; .01 * 3 = .03; .03 * 2 = .06;
    # .04 * 1 = .04 -> raised to the running maximum .06. NaN stays out of the family.
    got = holm([0.01, 0.04, 0.03, 0.005, math.nan])
    assert got[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(got[4])
    # Capped at 1; a single p-value is unchanged.
    assert holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])
    assert holm([0.2]) == pytest.approx([0.2])
    # At alpha = .05, Holm rejects .005 (<= .05/4) and .01 (<= .05/3), then stops at
    # .03 > .05/2, so .04 is not rejected either.
    assert list(holm([0.01, 0.04, 0.03, 0.005]) < 0.05) == [True, False, False, True]


def test_relative_half_width():
    assert relative_half_width(1.0, -4.0) == 0.25
    assert relative_half_width(0.0, 0.0) == 0.0  # every value the same
    assert relative_half_width(1.0, 0.0) == math.inf
    assert relative_half_width(math.nan, 3.0) == math.inf


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

def test_paired_tests_and_holm_columns():
    p = paired_differences(_runs(), ["x"], baseline="base").set_index("profile")
    # noisy - base = 2, 3, 1: t = 2 / (1 / sqrt 3) = 3.4641, df = 2; the t(2) CDF is
    # 1/2 + t / (2 sqrt(2 + t^2)), so p = 1 - t / sqrt(2 + t^2) = 1 - 3.4641 / 3.7417 = 0.07418.
    t = 2 * math.sqrt(3)
    assert p.loc["noisy", "p_value"] == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-9)
    # steady - base = 2.0, 2.1, 1.9: t = 2 / (0.1 / sqrt 3) = 34.641; p = 1 - t / sqrt(2 + t^2).
    t = 20 * math.sqrt(3)
    assert p.loc["steady", "p_value"] == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-6)
    # Three positive differences each: exact Wilcoxon p = 2 / 2^3 = 0.25.
    assert list(p["wilcoxon_p"]) == pytest.approx([0.25, 0.25])
    # Holm over the two rows: the smaller p (steady) times 2, the larger times 1, then the
    # running maximum.
    small, large = p.loc["steady", "p_value"], p.loc["noisy", "p_value"]
    assert p.loc["steady", "p_holm"] == pytest.approx(2 * small)
    assert p.loc["noisy", "p_holm"] == pytest.approx(max(large, 2 * small))
    assert bool(p.loc["steady", "significant_holm"]) and not bool(p.loc["noisy", "significant_holm"])
    # The interval and the t test agree on significance.
    assert all((p["p_value"] < 0.05) == p["significant"])


def test_precision_table():
    runs = _runs()
    s, p = summarize(runs, ["x"]), paired_differences(runs, ["x"], baseline="base")
    means = precision_table(s, p, ["x"], "mean").set_index("profile")
    # base: 11 +- 2.4841377 -> 0.2258307
    assert means.loc["base", "rel_half_width"] == pytest.approx(2.4841377 / 11, abs=1e-7)
    diffs = precision_table(s, p, ["x"], "difference").set_index("profile")
    # steady - base: 2 +- 0.24841377 -> 0.1242069
    assert diffs.loc["steady", "rel_half_width"] == pytest.approx(0.24841377 / 2, abs=1e-7)
    assert list(diffs.index) == ["noisy", "steady"]
    with pytest.raises(ValueError):
        precision_table(s, p, ["x"], "median")
