"""Closed form: single-slot nodes + Poisson arrivals + exponential durations = M/M/c.

With c nodes that each fit exactly one pod, arrivals at rate lambda, run times with
mean 1/mu, zero start latency and zero scheduling-cycle latency, the cluster is an
M/M/c queue and a pod's scheduling latency is its waiting time in queue. The mean
waiting time is given by the Erlang C formula (e.g. Kleinrock, Queueing Systems I,
eq. 3.40 / 3.43):

    a = lambda / mu,  rho = a / c
    C(c, a) = (a^c / c! / (1 - rho)) / (sum_{k<c} a^k / k! + a^c / c! / (1 - rho))
    E[Wq]   = C(c, a) / (c * mu - lambda)
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from k8sim import run, validate_scenario


def erlang_c(lam: float, mu: float, c: int) -> float:
    """Probability that an arriving pod has to wait."""
    a = lam / mu
    rho = a / c
    assert rho < 1
    top = a**c / math.factorial(c) / (1 - rho)
    bottom = sum(a**k / math.factorial(k) for k in range(c)) + top
    return top / bottom


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    return erlang_c(lam, mu, c) / (c * mu - lam)


def test_erlang_c_formula_by_hand():
    # c = 4, a = 3: sum_{k<4} 3^k/k! = 1 + 3 + 4.5 + 4.5 = 13; 3^4/4! = 3.375; / (1 - 0.75) = 13.5
    # C = 13.5 / 26.5; E[Wq] = C / (4 - 3) = 0.50943...
    assert erlang_c_wait(3.0, 1.0, 4) == pytest.approx(13.5 / 26.5, rel=1e-12)


def mmc_scenario(lam: float, mean_service: float, c: int, pods: int, seed: int) -> dict:
    return {
        "name": "mmc",
        "seed": seed,
        "cluster": {"node_pools": [{"name": "slot", "count": c,
                                    "allocatable": {"cpu": "1", "memory": "1Gi", "pods": 1}}]},
        "workloads": [{
            "name": "jobs",
            "arrival": {"kind": "poisson", "rate_per_s": lam},
            "max_pods": pods,
            "template": {"requests": {"cpu": "1", "memory": "1Gi"}},
            "duration": {"kind": "exponential", "mean": mean_service},
        }],
    }


@pytest.mark.slow
@pytest.mark.parametrize("lam, mean_service, c", [(3.0, 1.0, 4), (1.6, 1.0, 2)])
def test_mean_wait_matches_erlang_c(lam, mean_service, c):
    n_pods = 60_000
    result = run(validate_scenario(mmc_scenario(lam, mean_service, c, n_pods, seed=11)))
    pods = result.pods.sort_values("created")
    wait = pods["scheduling_latency"].to_numpy()
    assert np.isfinite(wait).all()  # every pod eventually ran
    wait = wait[5_000:]  # drop the transient from an empty system
    expected = erlang_c_wait(lam, 1 / mean_service, c)
    # Waiting times of successive pods are correlated, so the standard error comes from
    # batch means: 50 batches of ~1,100 pods each are long compared with the queue's
    # relaxation time (a few dozen arrivals at these loads), so the batch means are
    # close to independent and their spread / sqrt(50) estimates the standard error of
    # the overall mean. A correct simulator lands within 4 of those 99.99% of the time.
    def batch_se(x: np.ndarray) -> float:
        means = np.array([b.mean() for b in np.array_split(x, 50)])
        return float(means.std(ddof=1) / math.sqrt(len(means)))

    se = batch_se(wait)
    assert abs(wait.mean() - expected) < 4 * se, (wait.mean(), expected, se)
    # The run is long enough for the estimate to mean something: one standard error is
    # under 10% of the mean (waiting times at 75-80% load are heavy-tailed and strongly
    # autocorrelated, which is what makes the interval this wide at 55,000 pods).
    assert se < 0.1 * expected
    # The probability of waiting at all is C(c, a) itself, a lower-variance check.
    waited = (wait > 0).astype(float)
    p_wait = erlang_c(lam, 1 / mean_service, c)
    se_p = batch_se(waited)
    assert abs(waited.mean() - p_wait) < 4 * se_p, (waited.mean(), p_wait, se_p)
    assert se_p < 0.02
