"""Numbers for people: the formatting of every printed summary, comparison and report.

- :func:`fmt_number`: thousands separators, 4 significant digits, never an exponent
  between 1e-4 and 1e15 (``40,000``, not ``4e+04``); ``-`` for NaN or a missing value.
- :func:`fmt_duration`: seconds up to 2 hours (``5,400 s``), then hours up to 2 days
  (``26.5 h``), then days (``3.25 d``).
- :func:`fmt_metric`: by the summary key's name: ``*_s`` a duration, ``*utilization*``
  and ``*_share*`` a percentage (``18.23%``; a difference of two in percentage points,
  ``pp``), anything else a number.

The data (summary tables, CSV, JSON) keep SI seconds and ratios; only the text changes.
"""

from __future__ import annotations

import math
from typing import Any

_HOUR = 3600.0
_DAY = 86400.0


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def fmt_number(v: Any, digits: int = 4) -> str:
    """A number as text: integers in full with separators, floats to ``digits``
    significant digits (whole numbers of ``digits`` or more digits in full)."""
    if _missing(v):
        return "-"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if not isinstance(v, float):
        try:
            v = float(v)
        except (TypeError, ValueError):
            return str(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    a = abs(v)
    if a == 0:
        return "0"
    if a >= 10 ** (digits - 1):
        return f"{v:,.0f}"
    if a >= 1e-4:
        return f"{v:,.{digits}g}"
    return f"{v:.{digits - 1}e}"


def duration_unit(seconds: float) -> tuple[float, str]:
    """``(divisor, unit)`` to show a duration of this size: seconds up to 2 hours,
    hours up to 2 days, then days."""
    a = abs(seconds) if not _missing(seconds) and math.isfinite(seconds) else 0.0
    if a >= 2 * _DAY:
        return _DAY, "d"
    if a >= 2 * _HOUR:
        return _HOUR, "h"
    return 1.0, "s"


def fmt_duration(seconds: Any, digits: int = 4, unit: tuple[float, str] | None = None) -> str:
    """A duration in seconds as text in s, h or d (:func:`duration_unit`, or ``unit``)."""
    if _missing(seconds):
        return "-"
    div, name = unit or duration_unit(float(seconds))
    return f"{fmt_number(float(seconds) / div, digits)} {name}"


def is_duration(name: str) -> bool:
    return name.endswith("_s")


def is_share(name: str) -> bool:
    """Ratios in [0, 1] by name: utilisation and share metrics."""
    return "utilization" in name or "_share" in name


def fmt_metric(name: str, v: Any, digits: int = 4, *, diff: bool = False) -> str:
    """A summary value as text according to its key (module docstring). ``diff``: the
    value is a difference of two values of the metric (shares in percentage points)."""
    if _missing(v):
        return "-"
    if isinstance(v, bool) or isinstance(v, int) and not is_share(name):
        return fmt_number(v, digits)
    if is_duration(name):
        return fmt_duration(v, digits)
    if is_share(name):
        return f"{fmt_number(100 * float(v), digits)}{' pp' if diff else '%'}"
    return fmt_number(v, digits)


def fmt_metric_ci(name: str, mean: Any, half: Any, digits: int = 4, *, diff: bool = False) -> str:
    """``mean ± half`` in the metric's unit (just the mean when ``half`` is undefined)."""
    if _missing(half) or not math.isfinite(float(half)):
        return fmt_metric(name, mean, digits, diff=diff)
    if is_duration(name) and not _missing(mean):
        unit = duration_unit(float(mean))
        return f"{fmt_duration(mean, digits, unit)} ± {fmt_duration(half, 2, unit)}"
    if is_share(name):
        return f"{fmt_metric(name, mean, digits, diff=diff)} ± {fmt_number(100 * float(half), 2)}" + (
            " pp" if diff else "%")
    return f"{fmt_number(mean, digits)} ± {fmt_number(half, 2)}"
