"""The CSV series of the load model (rate curves) and of the usage model (usage ratios):
what they read and how bad files are reported (file, column, row)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from k8sim.autoscaling.load import PiecewiseRate
from k8sim.autoscaling.usage import UsageSeries


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "series.csv"
    p.write_text(text)
    return p


def test_rate_and_usage_series_read_their_columns(tmp_path: Path) -> None:
    p = write(tmp_path, "time_s,rate,ratio\n0,10,0.5\n60,30,1.5\n")
    rate = PiecewiseRate.from_csv(p)
    # linear between (0, 10) and (60, 30): at 30 s, 10 + 20 * 30 / 60 = 20
    assert rate.rate(30.0) == pytest.approx(20.0)
    usage = UsageSeries.from_csv(str(p), "time_s", "ratio")
    assert usage.times == (0.0, 60.0) and usage.ratios == (0.5, 1.5)
    assert np.allclose(usage.at(np.array([15.0])), [0.75])  # 0.5 + 1.0 * 15 / 60


def test_a_missing_column_is_named_with_the_columns_there_are(tmp_path: Path) -> None:
    p = write(tmp_path, "time_s,rps\n0,1\n")
    with pytest.raises(ValueError, match=r"series\.csv: no column 'rate' \(columns: time_s, rps\)"):
        PiecewiseRate.from_csv(p)
    with pytest.raises(ValueError, match=r"no column 'ratio'"):
        UsageSeries.from_csv(str(p), "time_s", "ratio")


def test_the_first_bad_row_is_named_by_its_line(tmp_path: Path) -> None:
    # line 1 is the header; the third data row (line 4) has a word for a number
    p = write(tmp_path, "time_s,rate\n0,1\n10,2\n20,many\n30,x\n")
    with pytest.raises(ValueError, match=r"series\.csv: row 4: expected numbers in 'time_s' and 'rate'"):
        PiecewiseRate.from_csv(p)


def test_a_negative_usage_ratio_is_a_bad_row_but_the_rate_check_is_its_own(tmp_path: Path) -> None:
    p = write(tmp_path, "time_s,rate\n0,1\n10,-2\n")
    # usage: line 3 (second data row) holds a negative ratio
    with pytest.raises(ValueError, match=r"row 3: expected numbers \(a ratio >= 0\)"):
        UsageSeries.from_csv(str(p), "time_s", "rate")
    # rate curves reject negative rates in their own check, after reading
    with pytest.raises(ValueError, match=r"series\.csv: piecewise: rates must be finite and non-negative"):
        PiecewiseRate.from_csv(p)


def test_times_must_increase(tmp_path: Path) -> None:
    p = write(tmp_path, "time_s,rate\n0,1\n0,2\n")
    with pytest.raises(ValueError, match=r"'time_s' must be non-empty and strictly increasing"):
        UsageSeries.from_csv(str(p), "time_s", "rate")
    with pytest.raises(ValueError, match=r"times must be strictly increasing"):
        PiecewiseRate.from_csv(p)


def test_an_unreadable_file_says_which_series(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read a rate CSV"):
        PiecewiseRate.from_csv(tmp_path / "absent.csv")
    with pytest.raises(ValueError, match=r"cannot read a usage CSV"):
        UsageSeries.from_csv(str(tmp_path / "absent.csv"), "t", "v")
