"""The service load model's pure part: request-rate curves, the split over pods, CPU use.

A Deployment serving requests is modelled by rates, not requests (no event per
request): a :class:`RateCurve` gives the offered rate (requests/s) at any time, the
Service spreads it over the ready pods (:func:`split_over_pods`), and each pod's CPU
usage follows from its share and its capacity (:func:`cpu_usage`). Latency per time step
comes from :mod:`k8sim.autoscaling.queueing`.

Curves are vectorised: ``rate(t)`` takes an array of times (seconds) and returns the
rates. Randomness (the diurnal curve's noise) comes only from the curve's seed and is a
function of the time step, so evaluating a curve at the same times, in any order or
chunks, gives the same values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "ConstantRate",
    "DiurnalRate",
    "PiecewiseRate",
    "RampRate",
    "RateCurve",
    "StepRate",
    "cpu_usage",
    "split_over_pods",
]

_DAY_S = 86_400.0
#: Noise steps drawn per generator block (see :class:`DiurnalRate`).
_BLOCK = 4096


class RateCurve:
    """A request-rate curve: ``rate(t)`` in requests per second at times ``t`` (s)."""

    def rate(self, t: np.ndarray | float) -> np.ndarray:
        raise NotImplementedError


def _times(t: np.ndarray | float) -> np.ndarray:
    return np.asarray(t, dtype=np.float64)


@dataclass(frozen=True)
class ConstantRate(RateCurve):
    """The same rate at all times."""

    value: float

    def rate(self, t: np.ndarray | float) -> np.ndarray:
        return np.full(_times(t).shape, float(self.value))


@dataclass(frozen=True)
class StepRate(RateCurve):
    """``before`` until ``at`` (exclusive), ``after`` from ``at`` on (a flash crowd)."""

    before: float
    after: float
    at: float

    def rate(self, t: np.ndarray | float) -> np.ndarray:
        return np.where(_times(t) < self.at, float(self.before), float(self.after))


@dataclass(frozen=True)
class RampRate(RateCurve):
    """``start_rate`` until ``start``, linear to ``end_rate`` at ``end``, then flat."""

    start_rate: float
    end_rate: float
    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError(f"ramp: end ({self.end}) must be after start ({self.start})")

    def rate(self, t: np.ndarray | float) -> np.ndarray:
        return np.interp(_times(t), [self.start, self.end], [self.start_rate, self.end_rate])


@dataclass(frozen=True)
class DiurnalRate(RateCurve):
    """A day's sinusoid with multiplicative noise:

    ``mean * (1 + amplitude * cos(2 pi (t - peak_time) / period)) * N_k``

    peaking at ``peak_time`` (s after midnight, default 14:00). ``amplitude`` in [0, 1]
    keeps the rate non-negative. ``N_k`` is the noise of time step ``k = floor(t /
    noise_step_s)``: lognormal with mean 1 and coefficient of variation ``noise_cv``
    (``exp(s z - s^2/2)``, ``s^2 = ln(1 + cv^2)``), ``z_k`` the k-th standard normal of
    ``numpy.random.default_rng(seed)``, so the noise of a step never depends on which
    other steps were evaluated. Noise is drawn for ``t >= 0`` only."""

    mean: float
    amplitude: float = 0.5
    period: float = _DAY_S
    peak_time: float = 14 * 3600.0
    noise_cv: float = 0.0
    noise_step_s: float = 60.0
    seed: int = 0
    _z: list[dict[int, np.ndarray]] = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.amplitude <= 1.0:
            raise ValueError(f"diurnal: amplitude must be in [0, 1], got {self.amplitude}")
        if self.period <= 0 or self.noise_step_s <= 0:
            raise ValueError("diurnal: period and noise_step_s must be positive")

    def _noise(self, k: np.ndarray) -> np.ndarray:
        # z_k comes from block k // _BLOCK, drawn by default_rng([seed, block]): the same
        # value whichever times were evaluated before, and only the blocks touched are drawn.
        blocks = k // _BLOCK
        z = np.empty(k.shape)
        cache = self._z[0] if self._z else {}
        if not self._z:
            self._z.append(cache)
        for b in np.unique(blocks):
            block = cache.get(int(b))
            if block is None:
                block = cache[int(b)] = np.random.default_rng([self.seed, int(b)]).standard_normal(_BLOCK)
            mask = blocks == b
            z[mask] = block[k[mask] - b * _BLOCK]
        s2 = math.log1p(self.noise_cv ** 2)
        return np.exp(math.sqrt(s2) * z - s2 / 2)

    def rate(self, t: np.ndarray | float) -> np.ndarray:
        tt = _times(t)
        base = self.mean * (1.0 + self.amplitude * np.cos(2 * np.pi * (tt - self.peak_time) / self.period))
        if self.noise_cv <= 0:
            return base
        k = np.floor(np.maximum(tt, 0.0) / self.noise_step_s).astype(np.int64)
        return base * self._noise(k)


@dataclass(frozen=True)
class PiecewiseRate(RateCurve):
    """Rates given at ``times`` (increasing), held (``step``) or interpolated
    (``linear``) between them; before the first time the first rate, after the last
    the last one."""

    times: tuple[float, ...]
    rates: tuple[float, ...]
    interpolation: str = "linear"

    def __post_init__(self) -> None:
        if len(self.times) != len(self.rates) or not self.times:
            raise ValueError("piecewise: times and rates must be non-empty and of equal length")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise ValueError("piecewise: times must be strictly increasing")
        if any(r < 0 or not math.isfinite(r) for r in self.rates):
            raise ValueError("piecewise: rates must be finite and non-negative")
        if self.interpolation not in ("linear", "step"):
            raise ValueError(f"piecewise: interpolation must be 'linear' or 'step', got {self.interpolation!r}")

    @classmethod
    def from_csv(cls, path: str | Path, *, time_column: str = "time_s", rate_column: str = "rate",
                 interpolation: str = "linear") -> PiecewiseRate:
        """Read a two-column CSV (header names given). Errors name the file and row."""
        p = Path(path)
        times, rates = read_series_csv(p, time_column, rate_column, "rate")
        try:
            return cls(times, rates, interpolation)
        except ValueError as exc:
            raise ValueError(f"{p}: {exc}") from exc

    def rate(self, t: np.ndarray | float) -> np.ndarray:
        tt = _times(t)
        xs = np.asarray(self.times)
        ys = np.asarray(self.rates)
        if self.interpolation == "linear":
            return np.interp(tt, xs, ys)
        idx = np.clip(np.searchsorted(xs, tt, side="right") - 1, 0, len(xs) - 1)
        return ys[idx]


def read_series_csv(path: str | Path, time_column: str, value_column: str, kind: str, *,
                    nonnegative: bool = False) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The two named numeric columns of a CSV with a header, as float tuples.

    Errors name the file and the missing column or the first bad row (the header is
    line 1); with ``nonnegative`` a negative value is a bad row too. ``kind`` names the
    series in the messages ("a rate CSV", "a usage CSV")."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read a {kind} CSV ({exc})") from exc
    for col in (time_column, value_column):
        if col not in frame.columns:
            raise ValueError(f"{path}: no column {col!r} (columns: {', '.join(map(str, frame.columns))})")
    t = pd.to_numeric(frame[time_column], errors="coerce")
    v = pd.to_numeric(frame[value_column], errors="coerce")
    bad_mask = t.isna() | v.isna()
    if nonnegative:
        bad_mask |= v < 0
    bad = frame.index[bad_mask]
    if len(bad):
        what = "numbers (a ratio >= 0)" if nonnegative else "numbers"
        raise ValueError(f"{path}: row {int(bad[0]) + 2}: expected {what} in {time_column!r} and {value_column!r}")
    return tuple(t.astype(float)), tuple(v.astype(float))


def split_over_pods(rate: float, ready_pods: int) -> float:
    """Expected rate each ready pod receives behind a Service.

    kube-proxy (iptables and nftables modes) picks a backend uniformly at random per
    connection; IPVS's default round robin gives the same long-run share. A Poisson
    stream thinned at random stays Poisson, so each pod sees a Poisson stream of rate
    ``rate / ready_pods``. With no ready pod the rate is dropped (returns 0; the caller
    counts it as unavailable)."""
    if ready_pods <= 0:
        return 0.0
    return rate / ready_pods


def cpu_usage(rate_per_pod: float | np.ndarray, *, capacity_rps: float, cpu_request_milli: int,
              idle_milli: float = 0.0, cpu_limit_milli: int | None = None) -> np.ndarray:
    """A pod's CPU usage (milli-CPU) at a served rate.

    ``capacity_rps`` is the rate a pod serves at 100 % of its CPU request, so serving
    ``r`` requests/s takes ``request * r / capacity`` plus an ``idle_milli`` floor. A CPU
    limit caps the usage (CFS throttling); the rate the pod can then serve is
    ``capacity * limit / request``, which the queueing model uses as its service rate."""
    usage = idle_milli + cpu_request_milli * np.asarray(rate_per_pod, dtype=np.float64) / capacity_rps
    if cpu_limit_milli is not None:
        usage = np.minimum(usage, cpu_limit_milli)
    return usage
