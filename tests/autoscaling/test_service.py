"""A Deployment's service per time step, derived by hand from the closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from k8sim.autoscaling.queueing import erlang_c
from k8sim.autoscaling.service import ServiceModel, service_step


def test_processor_sharing_per_pod_by_hand():
    # 4 pods, 50 rps each at 100 % of a 500 m request; 160 rps offered -> 40 rps per pod,
    # rho = 0.8; usage 500 * 40/50 = 400 m (+ 10 m idle); mean response (1/50)/(1 - 0.8)
    # = 0.1 s; p95 = -ln(0.05) / (50 - 40) = 0.2996 s.
    m = ServiceModel(capacity_rps=50, cpu_request_milli=500, idle_milli=10)
    s = service_step(m, np.array([160.0]), np.array([4]))
    assert (s.per_pod_rate[0], s.served[0], s.dropped[0]) == (40.0, 160.0, 0.0)
    assert s.cpu_usage_milli[0] == pytest.approx(410.0)
    assert s.rho[0] == pytest.approx(0.8)
    assert s.latency_mean[0] == pytest.approx(0.1)
    assert s.latency_quantile[0] == pytest.approx(-math.log(0.05) / 10)


def test_saturation_and_no_ready_pods():
    # 4 pods can serve 200 rps; 260 offered: 60 dropped, pods at 100 % of request, inf
    # latency. No ready pod: all dropped, no usage.
    m = ServiceModel(capacity_rps=50, cpu_request_milli=500)
    s = service_step(m, np.array([260.0, 100.0]), np.array([4, 0]))
    assert s.served.tolist() == [200.0, 0.0] and s.dropped.tolist() == [60.0, 100.0]
    assert s.cpu_usage_milli.tolist() == [500.0, 0.0]
    assert math.isinf(s.latency_mean[0]) and math.isinf(s.latency_quantile[1])


def test_a_cpu_limit_above_the_request_lets_the_pod_burst():
    # limit 1000 m on a 500 m request: mu = 100 rps; 260 rps over 4 pods is served
    # (65 per pod, rho 0.65) and each pod uses 500 * 65/50 = 650 m.
    m = ServiceModel(capacity_rps=50, cpu_request_milli=500, cpu_limit_milli=1000)
    s = service_step(m, np.array([260.0]), np.array([4]))
    assert (s.dropped[0], s.rho[0]) == (0.0, pytest.approx(0.65))
    assert s.cpu_usage_milli[0] == pytest.approx(650.0)
    assert s.latency_mean[0] == pytest.approx((1 / 100) / 0.35)


def test_mmc_pool():
    # One queue over 2 pods of mu = 1, lam = 1: Erlang C 1/3, mean 4/3 s.
    m = ServiceModel(capacity_rps=1, cpu_request_milli=1000, queue="mmc")
    s = service_step(m, np.array([1.0]), np.array([2]))
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert s.latency_mean[0] == pytest.approx(4 / 3)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same shape"):
        service_step(ServiceModel(1, 1), np.array([1.0, 2.0]), np.array([1]))


def test_the_vectorised_ps_path_equals_the_scalar_closed_forms():
    from k8sim.autoscaling.queueing import mg1ps_mean_response, mg1ps_response_quantile
    m = ServiceModel(capacity_rps=20, cpu_request_milli=250, service_scv=2.0, latency_quantile=0.99)
    rate = np.linspace(0.0, 150.0, 301)
    ready = np.full(rate.shape, 8)
    s = service_step(m, rate, ready)
    for i in (0, 100, 250):
        lam = rate[i] / 8
        assert s.latency_mean[i] == pytest.approx(mg1ps_mean_response(lam, 20.0), rel=1e-12)
        assert s.latency_quantile[i] == pytest.approx(mg1ps_response_quantile(0.99, lam, 20.0, 2.0), rel=1e-12)
    assert np.isinf(s.latency_mean[rate >= 160]).all()
