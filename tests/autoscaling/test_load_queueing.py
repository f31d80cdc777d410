"""Load model curves and queueing latency against closed forms."""

from __future__ import annotations

import heapq
import math

import numpy as np
import pytest

from k8sim.autoscaling.load import (
    ConstantRate,
    DiurnalRate,
    PiecewiseRate,
    RampRate,
    StepRate,
    cpu_usage,
    split_over_pods,
)
from k8sim.autoscaling.queueing import (
    erlang_c,
    mg1ps_mean_response,
    mg1ps_response_quantile,
    mmc_mean_response,
    mmc_response_quantile,
    mmc_response_survival,
    served_and_dropped,
)


def test_simple_curves():
    t = np.array([0.0, 99.9, 100.0, 150.0, 200.0, 300.0])
    assert ConstantRate(7).rate(t).tolist() == [7.0] * 6
    assert StepRate(10, 100, at=100).rate(t).tolist() == [10, 10, 100, 100, 100, 100]
    # Ramp 10 -> 110 between 100 and 200 s: at 150 s halfway, 60.
    assert RampRate(10, 110, 100, 200).rate(t).tolist() == pytest.approx([10, 10, 10, 60, 110, 110])
    with pytest.raises(ValueError, match="end"):
        RampRate(1, 2, 5, 5)


def test_diurnal_peak_trough_and_daily_mean():
    d = DiurnalRate(mean=100, amplitude=0.6, peak_time=14 * 3600)
    assert d.rate(14 * 3600.0) == pytest.approx(160)       # 100 * (1 + 0.6)
    assert d.rate(2 * 3600.0) == pytest.approx(40)         # 12 h later: 100 * (1 - 0.6)
    grid = np.arange(0, 86_400, 60.0)                      # a cosine averages to 0 over a day
    assert d.rate(grid).mean() == pytest.approx(100, rel=1e-12)
    with pytest.raises(ValueError, match="amplitude"):
        DiurnalRate(mean=1, amplitude=1.5)


def test_diurnal_noise_is_seeded_per_step_and_order_independent():
    a = DiurnalRate(mean=100, amplitude=0.0, noise_cv=0.2, noise_step_s=60, seed=42)
    b = DiurnalRate(mean=100, amplitude=0.0, noise_cv=0.2, noise_step_s=60, seed=42)
    t = np.arange(0, 86_400, 15.0)
    late_first = np.concatenate([b.rate(t[3000:]), b.rate(t[:3000])])
    assert np.array_equal(a.rate(t), np.concatenate([late_first[-3000:], late_first[:-3000]]))
    c = DiurnalRate(mean=100, amplitude=0.0, noise_cv=0.2, noise_step_s=60, seed=42)
    c.rate(t[-10:])                       # a far block first, then everything
    assert np.array_equal(c.rate(t), a.rate(t))
    # Constant within a noise step, different across seeds.
    r = a.rate(np.array([60.0, 75.0, 119.0, 120.0]))
    assert r[0] == r[1] == r[2] != r[3]
    assert not np.array_equal(a.rate(t), DiurnalRate(100, 0.0, noise_cv=0.2, seed=43).rate(t))
    # The lognormal noise has mean 1 and CV 0.2: over 200 000 steps the sample mean and
    # CV are within 4 standard errors (0.2 / sqrt(n) ~ 4.5e-4 for the mean).
    many = DiurnalRate(mean=1.0, amplitude=0.0, noise_cv=0.2, noise_step_s=1.0, seed=1).rate(
        np.arange(200_000, dtype=float))
    assert abs(many.mean() - 1) < 4 * 0.2 / math.sqrt(200_000)
    assert many.std() / many.mean() == pytest.approx(0.2, rel=0.02)


def test_piecewise_from_csv(tmp_path):
    f = tmp_path / "rate.csv"
    f.write_text("time_s,rate\n0,10\n100,30\n200,0\n")
    lin = PiecewiseRate.from_csv(f)
    assert lin.rate(np.array([-5.0, 50.0, 150.0, 500.0])).tolist() == [10, 20, 15, 0]
    step = PiecewiseRate.from_csv(f, interpolation="step")
    assert step.rate(np.array([-5.0, 50.0, 100.0, 199.0, 500.0])).tolist() == [10, 10, 30, 30, 0]
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,rate\n0,10\n100,x\n")
    with pytest.raises(ValueError, match=r"bad\.csv: row 3"):
        PiecewiseRate.from_csv(bad)
    with pytest.raises(ValueError, match="no column 'rps'"):
        PiecewiseRate.from_csv(f, rate_column="rps")
    unsorted = tmp_path / "unsorted.csv"
    unsorted.write_text("time_s,rate\n10,1\n5,1\n")
    with pytest.raises(ValueError, match="unsorted.csv: piecewise: times must be strictly increasing"):
        PiecewiseRate.from_csv(unsorted)


def test_split_and_cpu_usage():
    assert split_over_pods(100.0, 4) == 25.0
    assert split_over_pods(100.0, 0) == 0.0
    # 500 m request serves 50 rps at 100 %: 25 rps -> 250 m, plus a 20 m idle floor.
    assert cpu_usage(25.0, capacity_rps=50, cpu_request_milli=500, idle_milli=20) == pytest.approx(270)
    # A 400 m limit caps (throttles) a demand of 1000 m.
    assert cpu_usage(100.0, capacity_rps=50, cpu_request_milli=500, cpu_limit_milli=400) == pytest.approx(400)


# --- queueing ---------------------------------------------------------------------------------
def _erlang_c_textbook(c, a):
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize(("c", "a"), [(1, 0.5), (2, 1.0), (5, 3.5), (20, 17.0)])
def test_erlang_c_matches_the_textbook_formula(c, a):
    assert erlang_c(c, a) == pytest.approx(_erlang_c_textbook(c, a), rel=1e-12)


def test_mm1_is_exponential_with_rate_mu_minus_lambda():
    lam, mu = 3.0, 5.0
    assert mmc_mean_response(lam, mu, 1) == pytest.approx(1 / (mu - lam))
    for t in (0.0, 0.1, 1.0, 3.0):
        assert mmc_response_survival(t, lam, mu, 1) == pytest.approx(math.exp(-(mu - lam) * t), rel=1e-12)
    for p in (0.5, 0.95, 0.99):
        assert mmc_response_quantile(p, lam, mu, 1) == pytest.approx(-math.log(1 - p) / (mu - lam), rel=1e-9)


def test_mm2_mean_by_hand():
    # c = 2, lam = mu = 1: a = 1, C = (1/2 * 2/1) / (1 + 1 + 1) = 1/3; W = C/(2 - 1) = 1/3;
    # T = 1/3 + 1 = 4/3.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert mmc_mean_response(1.0, 1.0, 2) == pytest.approx(4 / 3)


def test_mmc_quantile_matches_a_simulation():
    # FCFS M/M/3 at rho = 0.8, 200 000 customers (seeded): the simulated p95 and mean
    # lie within 3 % of the exact values.
    rng = np.random.default_rng(3)
    lam, mu, c, n = 2.4, 1.0, 3, 200_000
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    service = rng.exponential(1 / mu, n)
    free = [0.0] * c
    resp = np.empty(n)
    for i in range(n):
        start = max(arrivals[i], heapq.heappop(free))
        heapq.heappush(free, start + service[i])
        resp[i] = start + service[i] - arrivals[i]
    resp = resp[10_000:]
    assert resp.mean() == pytest.approx(mmc_mean_response(lam, mu, c), rel=0.03)
    assert np.quantile(resp, 0.95) == pytest.approx(mmc_response_quantile(0.95, lam, mu, c), rel=0.03)


def test_mg1ps_mean_and_quantile():
    lam, mu = 8.0, 10.0
    assert mg1ps_mean_response(lam, mu) == pytest.approx(0.1 / 0.2)
    assert mg1ps_response_quantile(0.95, lam, mu) == pytest.approx(-math.log(0.05) / (mu - lam))
    # scv = 0.5: Erlang-2 service of mean 1/mu; its CDF 1 - e^{-x/s}(1 + x/s), s = 1/(2 mu),
    # at q * (1 - rho) equals p.
    q = mg1ps_response_quantile(0.9, lam, mu, scv=0.5)
    x = q * (1 - lam / mu) * 2 * mu
    assert 1 - math.exp(-x) * (1 + x) == pytest.approx(0.9, rel=1e-9)
    assert mg1ps_mean_response(10.0, 10.0) == math.inf
    assert mmc_response_quantile(0.5, 10.0, 5.0, 2) == math.inf


def test_served_and_dropped():
    assert served_and_dropped(80.0, 100.0) == (80.0, 0.0)
    assert served_and_dropped(130.0, 100.0) == (100.0, 30.0)
    assert served_and_dropped(50.0, 0.0) == (0.0, 50.0)


def test_bad_queue_inputs():
    with pytest.raises(ValueError, match="service rate"):
        mmc_mean_response(1.0, 0.0, 1)
    with pytest.raises(ValueError, match="p must be"):
        mg1ps_response_quantile(1.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="c must be"):
        erlang_c(0, 0.5)
