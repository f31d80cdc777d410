"""Confidence intervals for replicated simulation runs, without scipy.

The Student t quantile is computed here: the t CDF is written with the regularized
incomplete beta function (continued fraction, modified Lentz method, as in Numerical
Recipes section 6.4) and inverted by bisection, to about 1e-12 absolute.

``summarize`` gives per group and metric the mean, standard deviation, n and the
half-width of the two-sided t interval; ``paired_differences`` does the same for the
per-replication differences to a baseline (common random numbers make those
differences much less noisy than the difference of two independent means).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

_EPS = 1e-15
_TINY = 1e-300


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    # Convergence takes O(sqrt(max(a, b))) terms: large df needs many.
    for m in range(1, 100_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta continued fraction did not converge (a={a}, b={b}, x={x})")


def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta function ``I_x(a, b)`` for ``a, b > 0``, ``0 <= x <= 1``."""
    if a <= 0 or b <= 0:
        raise ValueError("a and b must be > 0")
    if not 0.0 <= x <= 1.0:
        raise ValueError("x must be in [0, 1]")
    if x == 0.0 or x == 1.0:
        return x
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """CDF of Student's t distribution with ``df > 0`` degrees of freedom."""
    if df <= 0:
        raise ValueError("df must be > 0")
    if math.isinf(df):
        return 0.5 * math.erfc(-t / math.sqrt(2.0))
    if t == 0:
        return 0.5
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t > 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (``0 < p < 1``).

    ``t_quantile(0.975, 10)`` = 2.228...; ``df=math.inf`` gives the normal quantile.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"df must be > 0, got {df}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    hi = 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
        if hi > 1e300:  # pragma: no cover - p indistinguishable from 1
            return math.inf
    lo = 0.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * max(1.0, hi):
            break
    return 0.5 * (lo + hi)


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, int, float]:
    """``(mean, std, n, half_width)`` of the two-sided Student t interval for the mean.

    NaN values are left out (``n`` counts the others). ``std`` uses ``ddof=1``; with
    fewer than two values ``std`` and ``half_width`` are NaN.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return math.nan, math.nan, 0, math.nan
    mean = float(v.mean())
    if n < 2:
        return mean, math.nan, n, math.nan
    std = float(v.std(ddof=1))
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * std / math.sqrt(n)
    return mean, std, n, half


def numeric_metrics(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Numeric columns of ``frame`` (bools excluded), in order, minus ``exclude``."""
    out = []
    for col in frame.columns:
        if col in exclude:
            continue
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out.append(str(col))
    return out


def summarize(
    runs: pd.DataFrame, metrics: Sequence[str], by: str = "profile", confidence: float = 0.95
) -> pd.DataFrame:
    """One row per (``by`` value, metric): mean, std, n, ci (half-width), ci_low, ci_high.

    Groups keep their order of first appearance in ``runs``.
    """
    rows = []
    for key in pd.unique(runs[by]):
        group = runs[runs[by] == key]
        for m in metrics:
            mean, std, n, half = mean_ci(group[m].to_numpy(dtype=float), confidence)
            rows.append({by: key, "metric": m, "mean": mean, "std": std, "n": n, "ci": half,
                         "ci_low": mean - half, "ci_high": mean + half})
    return pd.DataFrame(rows, columns=[by, "metric", "mean", "std", "n", "ci", "ci_low", "ci_high"])


def paired_differences(
    runs: pd.DataFrame,
    metrics: Sequence[str],
    baseline: str,
    by: str = "profile",
    pair_on: str = "replication",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Per non-baseline group and metric: the mean of ``x[group, r] - x[baseline, r]`` over
    the replications ``r`` present in both, with its t interval.

    Columns: ``by``, baseline, metric, baseline_mean, mean_diff, std, n, ci, ci_low,
    ci_high, rel_diff (mean_diff / baseline_mean; NaN when that mean is 0) and
    significant (the interval excludes 0).
    """
    cols = [by, "baseline", "metric", "baseline_mean", "mean_diff", "std", "n", "ci", "ci_low", "ci_high",
            "rel_diff", "significant"]
    base = runs[runs[by] == baseline].set_index(pair_on)
    rows = []
    for key in pd.unique(runs[by]):
        if key == baseline:
            continue
        other = runs[runs[by] == key].set_index(pair_on)
        common = base.index.intersection(other.index)
        for m in metrics:
            b = base.loc[common, m].to_numpy(dtype=float)
            d = other.loc[common, m].to_numpy(dtype=float) - b
            mean, std, n, half = mean_ci(d, confidence)
            b_mean = float(np.nanmean(b)) if np.isfinite(b).any() else math.nan
            low, high = mean - half, mean + half
            rel = mean / b_mean if math.isfinite(b_mean) and b_mean != 0 else math.nan
            rows.append({by: key, "baseline": baseline, "metric": m, "baseline_mean": b_mean, "mean_diff": mean,
                         "std": std, "n": n, "ci": half, "ci_low": low, "ci_high": high, "rel_diff": rel,
                         "significant": bool(n >= 2 and math.isfinite(half) and (low > 0 or high < 0))})
    return pd.DataFrame(rows, columns=cols)
