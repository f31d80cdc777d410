"""Printed numbers are readable: separators, no exponent for ordinary magnitudes, long
durations in hours or days, shares in percent."""

from __future__ import annotations

import math

import pytest

from k8sim.experiments.report import fmt, fmt_ci
from k8sim.metrics.format import fmt_duration, fmt_metric, fmt_metric_ci, fmt_number


@pytest.mark.parametrize(("value", "text"), [
    (40000.0, "40,000"),          # was '4e+04' with {:.4g}
    (40000, "40,000"),
    (1234567.8, "1,234,568"),
    (2417.39, "2,417"),
    (999.94, "999.9"),
    (0.18231, "0.1823"),
    (0.00012, "0.00012"),
    (2e-6, "2.000e-06"),           # tiny numbers keep an exponent
    (0.0, "0"),
    (-12.345, "-12.35"),
    (math.nan, "-"),
    (None, "-"),
])
def test_fmt_number(value, text):
    assert fmt_number(value) == text


@pytest.mark.parametrize(("seconds", "text"), [
    (59.5, "59.5 s"),
    (7199.0, "7,199 s"),          # under 2 h: seconds
    (7200.0, "2 h"),              # 7200 / 3600
    (95400.0, "26.5 h"),          # 95,400 / 3,600 = 26.5
    (172800.0, "2 d"),            # 2 x 86,400
    (2592000.0, "30 d"),          # a 30-day trace window
])
def test_fmt_duration(seconds, text):
    assert fmt_duration(seconds) == text


def test_fmt_metric_by_name():
    assert fmt_metric("makespan_s", 2592000.0) == "30 d"
    assert fmt_metric("mean_cpu_utilization", 0.18231) == "18.23%"
    assert fmt_metric("gpu_allocated_share_end", 0.95) == "95%"
    assert fmt_metric("pods_submitted", 40000) == "40,000"
    assert fmt_metric("pods_submitted", 40000.0) == "40,000"
    assert fmt_metric("work_lost_share", 0.25, diff=True) == "25 pp"
    # mean ± half in the mean's unit: 10,800 s = 3 h, 360 s = 0.1 h
    assert fmt_metric_ci("makespan_s", 10800.0, 360.0) == "3 h ± 0.1 h"
    assert fmt_metric_ci("mean_cpu_utilization", 0.5, 0.012) == "50% ± 1.2%"
    assert fmt_metric_ci("pods_scheduled", 40000.0, 12.0) == "40,000 ± 12"


def test_report_helpers_use_the_readable_format():
    assert fmt(40000.0) == "40,000"
    assert fmt_ci(40000.0, 1500.0) == "40,000 ± 1,500"
    assert fmt_ci(2592000.0, 86400.0, "makespan_s") == "30 d ± 1 d"
