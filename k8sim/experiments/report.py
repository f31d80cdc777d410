"""A short Markdown report of a comparison: means with intervals per profile, paired
differences to the baseline with their t and Wilcoxon signed-rank tests, which of them
are significant on their own and which survive Holm's correction across all the
differences compared, and how the sequential procedure stopped when it ran."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from k8sim.metrics.format import fmt_metric, fmt_metric_ci, fmt_number

if TYPE_CHECKING:
    from k8sim.experiments.comparison import ComparisonResult


def fmt(v: float | None, digits: int = 4, metric: str | None = None, *, diff: bool = False) -> str:
    """A number for a table (:func:`k8sim.metrics.format.fmt_number`: 4 significant
    digits, separators, no exponent, '-' for NaN); in the metric's unit (durations in
    s / h / d, shares in %) when ``metric`` names it."""
    if v is not None and isinstance(v, float) and math.isinf(v):
        return "-"
    return fmt_metric(metric, v, digits, diff=diff) if metric is not None else fmt_number(v, digits)


def fmt_ci(mean: float, half: float | None, metric: str | None = None, *, diff: bool = False) -> str:
    """``mean ± half`` (just the mean when the interval is undefined), in the metric's
    unit when ``metric`` names it."""
    if metric is not None:
        return fmt_metric_ci(metric, mean, half, diff=diff)
    if half is None or not math.isfinite(half):
        return fmt(mean)
    return f"{fmt(mean)} ± {fmt(half, 2)}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> list[str]:
    align = ["---" if i < right_from else "---:" for i in range(len(header))]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


@dataclass(frozen=True)
class Difference:
    """One row of ``ComparisonResult.paired`` (a profile's paired difference to the
    baseline on one metric), typed."""

    profile: str
    baseline: str
    metric: str
    mean_diff: float
    ci: float
    ci_low: float
    ci_high: float
    rel_diff: float
    n: int
    significant: bool
    p_value: float = math.nan
    wilcoxon_p: float = math.nan
    p_holm: float = math.nan
    significant_holm: bool = False

    @classmethod
    def from_record(cls, r: Mapping[Hashable, Any]) -> Difference:
        # Comparisons saved before the tests were added lack their columns.
        return cls(profile=str(r["profile"]), baseline=str(r["baseline"]), metric=str(r["metric"]),
                   mean_diff=float(r["mean_diff"]), ci=float(r["ci"]), ci_low=float(r["ci_low"]),
                   ci_high=float(r["ci_high"]), rel_diff=float(r["rel_diff"]), n=int(r["n"]),
                   significant=bool(r["significant"]), p_value=float(r.get("p_value", math.nan)),
                   wilcoxon_p=float(r.get("wilcoxon_p", math.nan)), p_holm=float(r.get("p_holm", math.nan)),
                   significant_holm=bool(r.get("significant_holm", False)))


def differences(paired: pd.DataFrame) -> list[Difference]:
    """The rows of a ``paired`` table, in order."""
    return [Difference.from_record(r) for r in paired.to_dict(orient="records")]


def summary_means(summary: pd.DataFrame) -> dict[tuple[str, str], tuple[float, float]]:
    """``(profile, metric) -> (mean, CI half-width)`` of a ``summary`` table."""
    return {(str(r["profile"]), str(r["metric"])): (float(r["mean"]), float(r["ci"]))
            for r in summary.to_dict(orient="records")}


def fmt_p(p: float) -> str:
    """A p-value for a table: 2 significant digits, '<0.0001' below that, '-' for NaN."""
    if not math.isfinite(p):
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.2g}"


def significant_sentences(comparison: ComparisonResult) -> list[str]:
    """One sentence per significant paired difference, saying whether it survives Holm's
    correction."""
    lines = []
    pct = f"{comparison.confidence:.0%}"
    for row in differences(comparison.significant()):
        direction = "higher" if row.mean_diff > 0 else "lower"
        rel = f", {row.rel_diff:+.1%}" if math.isfinite(row.rel_diff) else ""
        holm = ("survives Holm's correction" if row.significant_holm
                else "does not survive Holm's correction")
        lines.append(
            f"- **{row.profile}**: `{row.metric}` is {fmt(abs(row.mean_diff), metric=row.metric, diff=True)} "
            f"{direction} than under {row.baseline}{rel} ({pct} CI of the difference "
            f"{fmt(row.ci_low, metric=row.metric, diff=True)} to {fmt(row.ci_high, metric=row.metric, diff=True)}, "
            f"n={int(row.n)}; t test p={fmt_p(row.p_value)}, Wilcoxon p={fmt_p(row.wilcoxon_p)}; "
            f"{holm}, adjusted p={fmt_p(row.p_holm)})"
        )
    return lines


def precision_lines(comparison: ComparisonResult) -> list[str]:
    """The report's section on the sequential procedure (empty when it did not run)."""
    c = comparison
    if not c.sequential:
        return []
    what = ("each profile's mean" if c.precision_target == "mean"
            else f"each profile's mean paired difference to {c.baseline}")
    if c.precision_reached:
        outcome = (f"Reached after **{c.replications}** replication(s) per profile (started from "
                   f"{c.initial_replications}, at most {c.max_replications}).")
    else:
        outcome = (f"**Not reached**: stopped at the maximum of {c.max_replications} replication(s) per "
                   f"profile (started from {c.initial_replications}); the intervals are wider than asked.")
    lines = [
        "## Replications to a target precision",
        "",
        f"Sequential procedure: paired replications were added until the relative half-width "
        f"(CI half-width / |estimate|) of the {c.confidence:.0%} interval of {what} was at most "
        f"{c.precision:g} for every watched metric ({', '.join(f'`{m}`' for m in c.precision_metrics)}). "
        + outcome,
        "",
    ]
    final = c.final_precision()
    rows = [[f"`{r['metric']}`", str(r["profile"]), fmt(float(r["center"])), fmt(float(r["ci"]), 2),
             fmt(float(r["rel_half_width"]), 3), "yes" if float(r["rel_half_width"]) <= (c.precision or 0) else "**no**"]
            for r in final.to_dict(orient="records")]
    lines += _table(["metric", "profile", "estimate", "half-width", "relative", "at most target"], rows,
                    right_from=2)
    return lines + [""]
def loss_sentences(comparison: ComparisonResult) -> list[str]:
    """One sentence per profile whose runs lost pods (ended Failed or were preempted;
    inflation drops are not losses), so that a smaller makespan or utilisation bought
    by killing pods does not go unnoticed."""
    means = summary_means(comparison.summary)
    out = []
    for p in comparison.profiles:
        failed = means.get((p, "pods_failed"), (math.nan, math.nan))[0]
        dropped = means.get((p, "pods_failed_unschedulable"), (0.0, math.nan))[0]
        preempted = means.get((p, "pods_preempted"), (math.nan, math.nan))[0]
        work = means.get((p, "work_lost_share"), (math.nan, math.nan))[0]
        lost = failed - (dropped if math.isfinite(dropped) else 0.0)
        if not (lost > 0 or preempted > 0):
            continue
        text = (f"- **{p}**: {fmt(lost)} pods lost per run on average ({fmt(preempted)} preempted)"
                + (f", {fmt(work, metric='work_lost_share')} of the work done thrown away" if math.isfinite(work)
                   else "")
                + ": its completions, makespan and utilisation count only the pods that survived.")
        out.append(text)
    return out


def comparison_report(comparison: ComparisonResult, metrics: Sequence[str] | None = None) -> str:
    """The Markdown report of ``comparison`` (all metrics unless ``metrics`` is given)."""
    c = comparison
    metrics = list(metrics) if metrics is not None else list(c.metrics)
    pct = f"{c.confidence:.0%}"
    seeds = c.seeds
    seed_text = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}..{seeds[-1]}"
    lines = [
        f"# Policy comparison: {c.scenario}",
        "",
        f"Profiles: {', '.join(c.profiles)} (baseline: {c.baseline}). {c.replications} replication(s) per "
        f"profile, seeds {seed_text}: replication r uses seed {c.base_seed} + r under every profile (common "
        "random numbers: same arrivals, run times and start latencies).",
        f"Intervals are two-sided {pct} Student t intervals over replications; a difference is significant "
        "when the interval of the paired differences excludes 0 (the paired t test). Each is judged on its "
        "own: with many metrics some are significant by chance, so Holm's step-down correction is applied "
        f"across all {len(c.paired)} differences compared (all profiles and metrics); 'Holm' marks those that "
        f"remain significant at {1 - c.confidence:.2g} family-wise. The Wilcoxon signed-rank test checks the "
        "same differences without assuming normality.",
        "",
        *precision_lines(c),
        f"## Means (± {pct} CI half-width)",
        "",
    ]
    means = summary_means(c.summary)
    rows = []
    for m in metrics:
        cells = [f"`{m}`"]
        for p in c.profiles:
            cells.append(fmt_ci(*means[(p, m)], metric=m) if (p, m) in means else "-")
        rows.append(cells)
    lines += _table(["metric", *c.profiles], rows)
    lost = loss_sentences(c)
    if lost:
        lines += ["", "## Lost pods", "", *lost]
    lines += ["", f"## Paired differences to {c.baseline} (profile - baseline)", ""]
    paired = c.paired[c.paired["metric"].isin(metrics)]
    if paired.empty:
        lines.append("Only one profile: nothing to compare.")
    else:
        rows = []
        order = {m: i for i, m in enumerate(metrics)}
        paired = paired.assign(_o=paired["metric"].map(order)).sort_values(["_o", "profile"], kind="stable")
        for d in differences(paired):
            rel = f"{d.rel_diff:+.1%}" if math.isfinite(d.rel_diff) else "-"
            sig = ("**yes**, Holm" if d.significant_holm else "**yes**") if d.significant else "no"
            rows.append([f"`{d.metric}`", d.profile, fmt_ci(d.mean_diff, d.ci, d.metric, diff=True),
                         f"[{fmt(d.ci_low, metric=d.metric, diff=True)}, {fmt(d.ci_high, metric=d.metric, diff=True)}]",
                         rel, fmt_p(d.p_value), fmt_p(d.wilcoxon_p), fmt_p(d.p_holm), sig])
        lines += _table(["metric", "profile", "difference", f"{pct} CI", "relative", "t test p", "Wilcoxon p",
                         "Holm p", "significant"], rows, right_from=2)
    lines += ["", "## Significant differences", ""]
    sig_lines = [ln for ln in significant_sentences(c) if any(f"`{m}`" in ln for m in metrics)]
    lines += sig_lines or [f"None: no paired difference excludes 0 at {pct}."]
    if sig_lines:
        survive = int(c.paired["significant_holm"].sum()) if "significant_holm" in c.paired else 0
        lines += ["", f"{survive} of {int(c.paired['significant'].sum())} significant difference(s) survive "
                      f"Holm's correction over the {len(c.paired)} compared."]
    return "\n".join(lines) + "\n"


def wide_means(comparison: ComparisonResult) -> pd.DataFrame:
    """metric x profile table of means (for notebooks)."""
    return comparison.summary.pivot(index="metric", columns="profile", values="mean").reindex(
        index=comparison.metrics, columns=comparison.profiles
    )
