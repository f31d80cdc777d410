"""Probability distributions of the scenario schema (durations, latencies, sizes).

A distribution is a mapping tagged by ``kind``::

    {kind: constant, value: 5}
    {kind: uniform, low: 1, high: 3}
    {kind: exponential, mean: 30}          # or {kind: exponential, rate: 0.5}
    {kind: normal, mean: 10, std: 2}       # truncated at 0
    {kind: lognormal, mu: 1, sigma: 0.5}   # parameters of the underlying normal
    {kind: weibull, shape: 1.5, scale: 60}
    {kind: pareto, shape: 2.5, scale: 10}  # Pareto type I, support [scale, inf)
    {kind: empirical, values: [1, 2, 5]}   # or {kind: empirical, path: x.csv, column: t}

Parameters are bounded by :data:`~k8sim.constants.MAX_TIME_S` (1e9: seconds, or MB for
layer sizes): a location, scale, bound or value above it is an error. Heavy tails may
still draw beyond it; a run stops at ``MAX_TIME_S`` (see docs/limits.md).

Every distribution draws non-negative values only (they are durations and sizes) with
:meth:`BaseDistribution.sample`, whose randomness comes only from the
:class:`numpy.random.Generator` passed in, and reports its analytic mean with
:meth:`BaseDistribution.mean`.

``exponential`` and ``normal`` spell their parameter ``mean`` in YAML; in Python it is
the field ``scale`` (exponential) or ``loc`` (normal), since ``mean`` is the method.
"""

from __future__ import annotations

import csv
import itertools
import math
import operator
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    model_serializer,
    model_validator,
)

from k8sim.config.base import Strict
from k8sim.constants import MAX_TIME_S

__all__ = [
    "BaseDistribution",
    "ConstantDistribution",
    "Distribution",
    "EmpiricalDistribution",
    "ExponentialDistribution",
    "LognormalDistribution",
    "NormalDistribution",
    "ParetoDistribution",
    "UniformDistribution",
    "WeibullDistribution",
]

#: The normal distribution must keep at least this many standard deviations of its mass
#: above 0 (``mean >= -6 * std``) to be truncated there.
MAX_TRUNCATION_SIGMAS = 6.0

_SQRT2 = math.sqrt(2.0)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


def _size(size: int) -> int:
    n = operator.index(size)
    if n < 0:
        raise ValueError(f"size must be >= 0, got {n}")
    return n


def _normal_pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / _SQRT_2PI


def _normal_sf(x: float) -> float:
    """``1 - Phi(x)`` for the standard normal, via ``erfc`` (no cancellation in the tail)."""
    return 0.5 * math.erfc(x / _SQRT2)


class BaseDistribution(Strict):
    """Common interface of every distribution kind."""

    # Parameters are finite numbers; aliased fields (``mean``) dump under their alias.
    model_config = ConfigDict(allow_inf_nan=False, serialize_by_alias=True)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws: float64 array of shape ``(size,)``, all >= 0."""
        raise NotImplementedError

    def mean(self) -> float:
        """The analytic mean of the distribution as sampled (may be ``inf``)."""
        raise NotImplementedError


class ConstantDistribution(BaseDistribution):
    """Always ``value``."""

    kind: Literal["constant"] = "constant"
    value: float = Field(ge=0, le=MAX_TIME_S)  # the value every draw takes

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return np.full(_size(size), self.value, dtype=np.float64)

    def mean(self) -> float:
        return self.value


class UniformDistribution(BaseDistribution):
    """Uniform on ``[low, high)``; ``low == high`` is a constant."""

    kind: Literal["uniform"] = "uniform"
    low: float = Field(ge=0, le=MAX_TIME_S)  # lower bound
    high: float = Field(ge=0, le=MAX_TIME_S)  # upper bound, >= low

    @model_validator(mode="after")
    def _check(self) -> UniformDistribution:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must be <= high ({self.high})")
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.uniform(self.low, self.high, _size(size))

    def mean(self) -> float:
        return 0.5 * (self.low + self.high)


class ExponentialDistribution(BaseDistribution):
    """Exponential with the given ``mean`` or ``rate`` (exactly one of them)."""

    kind: Literal["exponential"] = "exponential"
    # The mean (YAML key ``mean``), = 1 / rate.
    scale: float | None = Field(default=None, alias="mean", gt=0, le=MAX_TIME_S)
    rate: float | None = Field(default=None, gt=0)  # events per unit, = 1 / mean

    @model_validator(mode="after")
    def _check(self) -> ExponentialDistribution:
        if (self.scale is None) == (self.rate is None):
            raise ValueError("give exactly one of mean or rate")
        if self.rate is not None and self.rate < 1 / MAX_TIME_S:
            raise ValueError(f"rate ({self.rate:g}) must be >= 1 / {MAX_TIME_S:g}: the mean 1 / rate is a time")
        return self

    def _mean(self) -> float:
        return self.scale if self.scale is not None else 1.0 / self.rate  # type: ignore[operator]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.exponential(self._mean(), _size(size))

    def mean(self) -> float:
        return self._mean()


class NormalDistribution(BaseDistribution):
    """Normal(``mean``, ``std``) conditioned on being >= 0 (truncated at 0).

    Draws are exactly the normal's draws that are >= 0. For ``mean >= 0`` (at least
    half the mass above 0) they are obtained by rejecting negative draws and redrawing;
    for ``mean < 0``, where that would waste most draws, by Robert's (1995) exponential
    proposal for the tail beyond 0, which samples the same conditional distribution.
    """

    kind: Literal["normal"] = "normal"
    loc: float = Field(alias="mean", le=MAX_TIME_S)  # mean of the normal before truncation
    std: float = Field(ge=0, le=MAX_TIME_S)  # standard deviation of the normal before truncation

    @model_validator(mode="after")
    def _check(self) -> NormalDistribution:
        if self.loc < -MAX_TRUNCATION_SIGMAS * self.std:
            raise ValueError(
                f"mean ({self.loc}) must be >= -{MAX_TRUNCATION_SIGMAS:g} * std "
                f"({-MAX_TRUNCATION_SIGMAS * self.std:g}): the distribution is truncated "
                "at 0 and almost none of its mass is left above 0"
            )
        return self

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        n = _size(size)
        if self.std == 0:
            return np.full(n, self.loc, dtype=np.float64)
        if self.loc >= 0:
            out = rng.normal(self.loc, self.std, n)
            redo = np.flatnonzero(out < 0)
            while redo.size:
                out[redo] = rng.normal(self.loc, self.std, redo.size)
                redo = redo[out[redo] < 0]
            return out
        # Standard normal conditioned on z >= a, a > 0: propose a + Exp(alpha), accept
        # with probability exp(-(z - alpha)^2 / 2) (Robert 1995, optimal alpha).
        a = -self.loc / self.std
        alpha = 0.5 * (a + math.sqrt(a * a + 4.0))
        z = np.empty(n, dtype=np.float64)
        todo = np.arange(n)
        while todo.size:
            cand = a + rng.exponential(1.0 / alpha, todo.size)
            accept = rng.random(todo.size) <= np.exp(-0.5 * (cand - alpha) ** 2)
            z[todo[accept]] = cand[accept]
            todo = todo[~accept]
        # loc + std * a is 0 up to rounding; clip that rounding, never a real draw.
        return np.maximum(self.loc + self.std * z, 0.0)

    def mean(self) -> float:
        if self.std == 0:
            return self.loc
        a = -self.loc / self.std
        return self.loc + self.std * _normal_pdf(a) / _normal_sf(a)


class LognormalDistribution(BaseDistribution):
    """``exp(N(mu, sigma))``: ``mu`` and ``sigma`` are those of the underlying normal."""

    kind: Literal["lognormal"] = "lognormal"
    mu: float = Field(le=math.log(MAX_TIME_S))  # mean of log(X); the median exp(mu) <= MAX_TIME_S
    sigma: float = Field(gt=0)  # standard deviation of log(X)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.lognormal(self.mu, self.sigma, _size(size))

    def mean(self) -> float:
        try:
            return math.exp(self.mu + 0.5 * self.sigma**2)
        except OverflowError:
            return math.inf


class WeibullDistribution(BaseDistribution):
    """Weibull with shape ``k`` and scale ``lambda``: ``P(X > x) = exp(-(x/lambda)^k)``."""

    kind: Literal["weibull"] = "weibull"
    shape: float = Field(gt=0)  # k
    scale: float = Field(gt=0, le=MAX_TIME_S)  # lambda

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.scale * rng.weibull(self.shape, _size(size))

    def mean(self) -> float:
        try:
            return self.scale * math.gamma(1.0 + 1.0 / self.shape)
        except OverflowError:
            return math.inf


class ParetoDistribution(BaseDistribution):
    """Pareto type I: ``P(X > x) = (x_m / x)^alpha`` for ``x >= x_m``."""

    kind: Literal["pareto"] = "pareto"
    shape: float = Field(gt=0)  # alpha
    scale: float = Field(gt=0, le=MAX_TIME_S)  # x_m, the minimum value

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        # numpy's Generator.pareto is the Lomax (Pareto II) form, supported on [0, inf).
        return (rng.pareto(self.shape, _size(size)) + 1.0) * self.scale

    def mean(self) -> float:
        if self.shape <= 1:
            return math.inf
        return self.shape * self.scale / (self.shape - 1.0)


_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _number(cell: str) -> float | None:
    """The finite number a CSV cell holds, or None."""
    if not _NUMBER.fullmatch(cell):
        return None
    x = float(cell)
    return x if math.isfinite(x) else None


def _read_csv_column(path: Path, column: str | None) -> tuple[float, ...]:
    """The values of one column of a CSV file.

    With ``column``, the first non-blank row is the header and names the column. Without,
    the first column is read, and the first row is a header unless its first cell is a
    number. Blank lines are skipped; every other cell of the column must be a number >= 0.
    """
    try:
        f = path.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueError(f"CSV file not found: {path}") from None
    except OSError as e:
        raise ValueError(f"cannot read CSV file {path}: {e.strerror or e}") from None
    values: list[float] = []
    with f:
        reader = csv.reader(f)
        try:
            rows = ((reader.line_num, row) for row in reader if any(c.strip() for c in row))
            first = next(rows, None)
            if first is None:
                raise ValueError(f"CSV file {path} has no rows")
            header = [c.strip() for c in first[1]]
            if column is not None:
                if column not in header:
                    raise ValueError(
                        f"CSV file {path} has no column {column!r} in its header line "
                        f"(line {first[0]}, {len(header)} column(s))"
                    )
                index, name = header.index(column), repr(column)
                data = rows
            else:
                index = 0
                if _number(header[0]) is None:
                    name, data = "1", rows
                else:  # no header line: the first row is data
                    name, data = "1", (r for r in itertools.chain([first], rows))
            for line, row in data:
                cell = row[index].strip() if index < len(row) else None
                x = _number(cell) if cell is not None else None
                if x is None or not 0 <= x <= MAX_TIME_S:
                    got = ("no such column in this row" if cell is None else "an empty cell" if not cell
                           else "not a number" if x is None else "a number out of range")
                    raise ValueError(
                        f"CSV file {path}, line {line}, column {name}: expected a number in "
                        f"[0, {MAX_TIME_S:g}], got {got}"
                    )
                values.append(x)
        except csv.Error as e:
            raise ValueError(f"CSV file {path}, line {reader.line_num}: {e}") from None
        except UnicodeDecodeError as e:
            raise ValueError(f"CSV file {path} is not UTF-8 text: {e.reason}") from None
    if not values:
        raise ValueError(f"CSV file {path} has no values in column {name}")
    return tuple(values)


class _Values:
    """A read-only float64 array compared by value (kept in a private attribute)."""

    __slots__ = ("array",)

    def __init__(self, values: tuple[float, ...]) -> None:
        self.array = np.array(values, dtype=np.float64)
        self.array.flags.writeable = False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Values) and np.array_equal(self.array, other.array)

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> np.ndarray:
        return self.array

    def __setstate__(self, array: np.ndarray) -> None:
        self.array = array
        self.array.flags.writeable = False


class EmpiricalDistribution(BaseDistribution):
    """Resampling (bootstrap) of observed values: each draw is one of them, uniformly.

    The values are inline (``values``) or one column of a CSV file (``path``, relative to
    the scenario file's directory, and ``column``, by default the first). The file is
    read once, when the scenario is validated.
    """

    kind: Literal["empirical"] = "empirical"
    values: tuple[Annotated[float, Field(ge=0, le=MAX_TIME_S)], ...] | None = Field(default=None, min_length=1)
    path: str | None = Field(default=None, min_length=1)  # CSV file with the values
    column: str | None = None  # CSV column (header name); default: the first column
    _data: _Values = PrivateAttr()

    @model_validator(mode="after")
    def _load(self, info: ValidationInfo) -> EmpiricalDistribution:
        if (self.values is None) == (self.path is None):
            raise ValueError("give exactly one of values (inline) or path (a CSV file)")
        if self.values is not None:
            if self.column is not None:
                raise ValueError("column applies only with path")
            data = self.values
        else:
            context = info.context if isinstance(info.context, Mapping) else {}
            base_dir = context.get("base_dir")
            path = Path(self.path)  # type: ignore[arg-type]
            if base_dir is not None:
                path = Path(base_dir) / path
            data = _read_csv_column(path.resolve(), self.column)
        self._data = _Values(tuple(data))
        return self

    @model_serializer(mode="wrap")
    def _dump_inline(self, handler: SerializerFunctionWrapHandler) -> dict[str, object]:
        # A dumped (resolved) scenario must load again from anywhere: values read from
        # a CSV file are written inline instead of the file's relative path.
        out = handler(self)
        if self.path is not None:
            out = {"kind": "empirical", "values": self._data.array.tolist()}
        return out

    @property
    def data(self) -> np.ndarray:
        """The values draws are taken from (read-only float64 array)."""
        return self._data.array

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        data = self._data.array
        return data[rng.integers(0, data.size, _size(size))]

    def mean(self) -> float:
        return math.fsum(self._data.array.tolist()) / self._data.array.size


#: Any distribution, chosen by its ``kind`` key.
Distribution = Annotated[
    ConstantDistribution
    | UniformDistribution
    | ExponentialDistribution
    | NormalDistribution
    | LognormalDistribution
    | WeibullDistribution
    | ParetoDistribution
    | EmpiricalDistribution,
    Field(discriminator="kind"),
]
