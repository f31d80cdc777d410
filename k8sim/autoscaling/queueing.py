"""Queueing latency of a service at steady load: M/M/c and M/G/1-PS, closed forms.

The load model works per time step: within a step the arrival rate and the number of
ready pods are constant, and the latency reported for the step is the *steady-state*
latency of the queue at those values (a quasi-static approximation: it ignores the
transient while a queue fills or drains, which is accurate when a step is long against
the mean response time).

Two models, both with Poisson arrivals (many independent clients):

- **M/G/1-PS per pod** (default): kube-proxy splits a Poisson stream at random, so each
  of ``n`` pods sees Poisson arrivals of rate ``lam/n`` (:func:`k8sim.autoscaling.load.
  split_over_pods`) and serves its requests concurrently, sharing its CPU (processor
  sharing, a good model of a threaded server). Service demand has mean ``1/mu`` and any
  distribution; the mean response time is ``(1/mu) / (1 - rho)``, ``rho = lam_pod /
  mu`` (insensitive to the distribution, Kleinrock 1976). A job of size ``x`` takes
  ``x / (1 - rho)`` on average, so the p-quantile is *approximated* by
  ``q_S(p) / (1 - rho)`` with ``q_S`` the quantile of a gamma service distribution of
  the given squared coefficient of variation (exponential for ``scv = 1``). That is
  exact for the mean and for M/M/1-FCFS-like tails; the exact PS quantile has no closed
  form.
- **M/M/c** (one queue shared by ``c`` pods, e.g. a least-request balancer): Erlang C,
  FCFS, exponential service of rate ``mu``. The response-time distribution is exact:
  ``P(T > t) = (1 - C) e^{-mu t} + C P(W' + S > t)`` with ``W' ~ Exp(c mu - lam)``;
  percentiles are found by root finding (:func:`scipy.optimize.brentq`).

At ``rho >= 1`` the queue is unstable: the pods serve their capacity and the excess is
dropped (:func:`served_and_dropped`); the latency functions return ``inf`` there.
"""

from __future__ import annotations

import math

__all__ = [
    "erlang_c",
    "mg1ps_mean_response",
    "mg1ps_response_quantile",
    "mmc_mean_response",
    "mmc_response_quantile",
    "mmc_response_survival",
    "served_and_dropped",
]


def _check(lam: float, mu: float) -> None:
    if lam < 0 or not math.isfinite(lam):
        raise ValueError(f"arrival rate must be finite and >= 0, got {lam}")
    if mu <= 0 or not math.isfinite(mu):
        raise ValueError(f"service rate must be finite and > 0, got {mu}")


def erlang_c(c: int, offered_load: float) -> float:
    """Erlang C: probability an arrival waits in M/M/c with offered load ``a = lam/mu``
    (needs ``a < c``). Computed through the Erlang B recursion, stable for large c."""
    if c < 1:
        raise ValueError(f"c must be >= 1, got {c}")
    if not 0 <= offered_load < c:
        raise ValueError(f"offered load must be in [0, c), got {offered_load} with c={c}")
    b = 1.0
    for k in range(1, c + 1):
        b = offered_load * b / (k + offered_load * b)
    rho = offered_load / c
    return b / (1 - rho + rho * b)


def mmc_mean_response(lam: float, mu: float, c: int) -> float:
    """Mean response time (wait + service) of M/M/c: ``C/(c mu - lam) + 1/mu``."""
    _check(lam, mu)
    if lam >= c * mu:
        return math.inf
    return erlang_c(c, lam / mu) / (c * mu - lam) + 1 / mu


def mmc_response_survival(t: float, lam: float, mu: float, c: int) -> float:
    """``P(T > t)`` of the M/M/c FCFS response time (exact)."""
    _check(lam, mu)
    if lam >= c * mu:
        return 1.0
    cw = erlang_c(c, lam / mu)
    theta = c * mu - lam
    if math.isclose(theta, mu, rel_tol=1e-12):
        both = (1 + mu * t) * math.exp(-mu * t)
    else:
        both = (theta * math.exp(-mu * t) - mu * math.exp(-theta * t)) / (theta - mu)
    return (1 - cw) * math.exp(-mu * t) + cw * both


def mmc_response_quantile(p: float, lam: float, mu: float, c: int) -> float:
    """The p-quantile of the M/M/c response time (``brentq`` on the exact CDF)."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    _check(lam, mu)
    if lam >= c * mu:
        return math.inf
    from scipy import optimize  # here: scipy costs about 60 MB to import, most runs need none of it

    hi = 1 / mu
    while mmc_response_survival(hi, lam, mu, c) > 1 - p:
        hi *= 2
    return float(optimize.brentq(lambda t: mmc_response_survival(t, lam, mu, c) - (1 - p), 0.0, hi,
                                 xtol=1e-12, rtol=1e-12))


def mg1ps_mean_response(lam: float, mu: float) -> float:
    """Mean response time of M/G/1-PS: ``(1/mu) / (1 - lam/mu)``."""
    _check(lam, mu)
    if lam >= mu:
        return math.inf
    return (1 / mu) / (1 - lam / mu)


def mg1ps_response_quantile(p: float, lam: float, mu: float, scv: float = 1.0) -> float:
    """Approximate p-quantile of the M/G/1-PS response time: ``q_S(p) / (1 - rho)``
    with gamma service of mean ``1/mu`` and squared coefficient of variation ``scv``
    (see the module docstring). For ``scv = 1`` it is ``-ln(1-p) / (mu - lam)``."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if scv <= 0:
        raise ValueError(f"scv must be > 0, got {scv}")
    _check(lam, mu)
    if lam >= mu:
        return math.inf
    from scipy import special, stats  # here: scipy costs about 60 MB to import

    shape = 1 / scv
    q = float(stats.gamma.ppf(p, shape, scale=scv / mu)) if scv != 1.0 else -special.log1p(-p) / mu
    return q / (1 - lam / mu)


def served_and_dropped(lam: float, capacity: float) -> tuple[float, float]:
    """Rates served and dropped at offered rate ``lam`` and total capacity (requests/s
    the ready pods serve at full CPU): everything is served below capacity; above it
    the excess is dropped (clients time out). No capacity (no ready pod) drops all."""
    if capacity <= 0:
        return 0.0, lam
    served = min(lam, capacity)
    return served, lam - served
