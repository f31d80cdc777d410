"""Statistics of replicated simulation runs, on :mod:`scipy.stats`.

``summarize`` gives per group and metric the mean, standard deviation, n and the
half-width of the two-sided Student t interval; ``paired_differences`` does the same for
the per-replication differences to a baseline (common random numbers make those
differences much less noisy than the difference of two independent means), with the
paired t test's p-value, a Wilcoxon signed-rank test beside it (no normality assumed)
and Holm's step-down correction across all the differences compared.
``relative_half_width`` and ``precision_reached`` are the stopping rule of the
sequential procedure of :func:`~k8sim.experiments.comparison.compare` (see
``docs/statistics.md``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from types import ModuleType

import numpy as np
import pandas as pd


def _stats() -> ModuleType:
    """:mod:`scipy.stats`, imported at the first statistic: importing it costs about
    60 MB and a second, which a single run (``import k8sim``) does not need."""
    from scipy import stats

    return stats


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (``0 < p < 1``),
    ``scipy.stats.t.ppf``; ``df=math.inf`` gives the normal quantile.

    ``t_quantile(0.975, 10)`` = 2.228...
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"df must be > 0, got {df}")
    if math.isinf(df):
        return float(_stats().norm.ppf(p))
    return float(_stats().t.ppf(p, df))


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


def t_test_p(values: Iterable[float]) -> float:
    """Two-sided p-value of the one-sample t test of mean 0 (``scipy.stats.ttest_1samp``).

    NaN values are left out; NaN with fewer than two values; 1.0 when every value is 0
    (no difference at all), 0.0 when the values are all the same non-zero number.
    """
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return math.nan
    if np.all(v == v[0]):
        return 1.0 if v[0] == 0 else 0.0
    return float(_stats().ttest_1samp(v, 0.0).pvalue)


def wilcoxon_p(values: Iterable[float]) -> float:
    """Two-sided p-value of the Wilcoxon signed-rank test of a median difference of 0
    (``scipy.stats.wilcoxon``, zero differences dropped as in Wilcoxon's original
    procedure; scipy's ``method="auto"``: exact for small samples without ties).

    NaN values are left out; 1.0 when every difference is 0; NaN with no values.
    """
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return math.nan
    if not np.any(v != 0):
        return 1.0
    return float(_stats().wilcoxon(v, zero_method="wilcox", alternative="two-sided").pvalue)


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979), NaN entries left out of the family.

    With the ``m`` p-values sorted ascending ``p_(1) <= ... <= p_(m)``, the adjusted
    ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``; rejecting where ``p~ <= alpha``
    keeps the family-wise error rate at ``alpha`` under any dependence between the tests.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def relative_half_width(half: float, center: float) -> float:
    """``half / |center|``: the relative precision of an interval. 0 for an interval of
    zero width (every value the same: more replications cannot change it, whatever the
    center); inf when undefined (no interval yet, a NaN, or a center of 0 with a
    non-zero width)."""
    if not (math.isfinite(half) and math.isfinite(center)):
        return math.inf
    if half == 0:
        return 0.0
    if center == 0:
        return math.inf
    return abs(half) / abs(center)


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
    the replications ``r`` present in both, with its t interval and tests.

    Columns: ``by``, baseline, metric, baseline_mean, mean_diff, std, n, ci, ci_low,
    ci_high, rel_diff (mean_diff / baseline_mean; NaN when that mean is 0), significant
    (the interval excludes 0), p_value (the paired t test, two-sided: below
    ``1 - confidence`` exactly when the interval excludes 0), wilcoxon_p (the Wilcoxon
    signed-rank test on the same differences), p_holm and wilcoxon_p_holm (Holm-adjusted
    over every row of the table: all groups and metrics form one family) and
    significant_holm (``p_holm < 1 - confidence``).
    """
    cols = [by, "baseline", "metric", "baseline_mean", "mean_diff", "std", "n", "ci", "ci_low", "ci_high",
            "rel_diff", "significant", "p_value", "wilcoxon_p", "p_holm", "wilcoxon_p_holm", "significant_holm"]
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
                         "significant": bool(n >= 2 and math.isfinite(half) and (low > 0 or high < 0)),
                         "p_value": t_test_p(d), "wilcoxon_p": wilcoxon_p(d)})
    out = pd.DataFrame(rows, columns=cols)
    alpha = 1.0 - confidence
    out["p_holm"] = holm(out["p_value"].to_numpy(dtype=float))
    out["wilcoxon_p_holm"] = holm(out["wilcoxon_p"].to_numpy(dtype=float))
    out["significant_holm"] = (out["p_holm"] < alpha).astype(bool)
    return out


def precision_table(
    summary: pd.DataFrame,
    paired: pd.DataFrame,
    metrics: Sequence[str],
    target: str,
    by: str = "profile",
) -> pd.DataFrame:
    """The relative half-widths the sequential procedure watches, one row per group and
    metric: ``target="mean"``: each group's interval for the mean of each metric,
    ``ci / |mean|``; ``target="difference"``: each non-baseline group's interval for the
    mean paired difference, ``ci / |mean_diff|``. Columns: ``by``, metric, center, ci,
    rel_half_width (inf where undefined)."""
    if target == "mean":
        rows = summary[summary["metric"].isin(metrics)]
        center, half = rows["mean"], rows["ci"]
    elif target == "difference":
        rows = paired[paired["metric"].isin(metrics)]
        center, half = rows["mean_diff"], rows["ci"]
    else:
        raise ValueError(f"target must be 'mean' or 'difference', got {target!r}")
    rel = [relative_half_width(float(h), float(c)) for h, c in zip(half, center, strict=True)]
    return pd.DataFrame({by: rows[by].to_numpy(), "metric": rows["metric"].to_numpy(),
                         "center": center.to_numpy(dtype=float), "ci": half.to_numpy(dtype=float),
                         "rel_half_width": np.asarray(rel, dtype=float)})

