"""Tests of k8sim.config.distributions.

Every expected number is a closed form worked out by hand in the comments (means,
variances, CDFs); none is copied from the code's output.

Statistical checks use fixed seeds, so they are deterministic; the tolerances are chosen
so that they would also pass for almost every other seed:

- Sample means: |mean_n - mu| <= 5 * sigma / sqrt(n), with sigma^2 the closed-form
  variance. By the central limit theorem a correct sampler exceeds this with
  probability about 5.7e-7.
- Whole distributions: the Kolmogorov distance between the empirical CDF of n draws and
  the exact CDF is at most eps = sqrt(ln(2 / 1e-6) / (2 n)); by the
  Dvoretzky-Kiefer-Wolfowitz inequality a correct sampler exceeds it with probability
  at most 1e-6.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from k8sim.config.distributions import (
    BaseDistribution,
    Distribution,
    EmpiricalDistribution,
    NormalDistribution,
)

ADAPTER: TypeAdapter[BaseDistribution] = TypeAdapter(Distribution)
N = 200_000
N_CDF = 20_000


def dist(spec: dict, **context: object) -> BaseDistribution:
    return ADAPTER.validate_python(spec, context=context or None)


def phi(x: float) -> float:
    """Standard normal density."""
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def upper_tail(x: float) -> float:
    """1 - Phi(x) for the standard normal: erfc(x / sqrt 2) / 2."""
    return math.erfc(x / math.sqrt(2)) / 2


def truncated_normal_moments(mu: float, sigma: float) -> tuple[float, float]:
    """Mean and variance of N(mu, sigma^2) conditioned on X >= 0.

    With a = -mu / sigma and lam = phi(a) / (1 - Phi(a)) (the inverse Mills ratio),
    E[X] = mu + sigma * lam and Var[X] = sigma^2 * (1 + a * lam - lam^2) (textbook
    lower-truncated normal, e.g. Johnson, Kotz & Balakrishnan vol. 1, ch. 13).
    """
    a = -mu / sigma
    lam = phi(a) / upper_tail(a)
    return mu + sigma * lam, sigma**2 * (1 + a * lam - lam**2)


# (spec, hand-derived mean, hand-derived variance)
MOMENT_CASES = [
    # constant: every draw is 3
    ({"kind": "constant", "value": 3}, 3.0, 0.0),
    # uniform on [1, 3]: mean (1 + 3) / 2 = 2, variance (3 - 1)^2 / 12 = 1/3
    ({"kind": "uniform", "low": 1, "high": 3}, 2.0, 1 / 3),
    # exponential: mean m, variance m^2; rate r -> mean 1/r = 0.25, variance 1/16
    ({"kind": "exponential", "mean": 2}, 2.0, 4.0),
    ({"kind": "exponential", "rate": 4}, 0.25, 1 / 16),
    # normal(0, 1) truncated at 0 is the half-normal: mean sqrt(2/pi), variance 1 - 2/pi
    ({"kind": "normal", "mean": 0, "std": 1}, math.sqrt(2 / math.pi), 1 - 2 / math.pi),
    # mildly truncated (rejection branch), strongly truncated (tail branch), boundary
    ({"kind": "normal", "mean": 1, "std": 2}, *truncated_normal_moments(1, 2)),
    ({"kind": "normal", "mean": -3, "std": 1}, *truncated_normal_moments(-3, 1)),
    ({"kind": "normal", "mean": -3, "std": 0.5}, *truncated_normal_moments(-3, 0.5)),
    # normal far from 0: the truncation removes ~1e-23 of the mass, mean 10, variance 1
    ({"kind": "normal", "mean": 10, "std": 1}, 10.0, 1.0),
    # lognormal(mu=0, sigma=1): mean e^(mu + sigma^2/2) = sqrt(e),
    # variance (e^(sigma^2) - 1) e^(2 mu + sigma^2) = (e - 1) e
    ({"kind": "lognormal", "mu": 0, "sigma": 1}, math.sqrt(math.e), (math.e - 1) * math.e),
    # weibull(k=2, lambda=2): mean lambda Gamma(1 + 1/2) = 2 * sqrt(pi)/2 = sqrt(pi),
    # variance lambda^2 (Gamma(2) - Gamma(3/2)^2) = 4 (1 - pi/4) = 4 - pi
    ({"kind": "weibull", "shape": 2, "scale": 2}, math.sqrt(math.pi), 4 - math.pi),
    # weibull(k=1, lambda=3) is exponential with mean 3, variance 9
    ({"kind": "weibull", "shape": 1, "scale": 3}, 3.0, 9.0),
    # pareto I (alpha=4, x_m=1.5): mean alpha x_m / (alpha - 1) = 6 / 3 = 2,
    # variance x_m^2 alpha / ((alpha - 1)^2 (alpha - 2)) = 2.25 * 4 / (9 * 2) = 0.5
    ({"kind": "pareto", "shape": 4, "scale": 1.5}, 2.0, 0.5),
    # empirical [1, 2, 3, 10]: mean 16/4 = 4, variance (1 + 4 + 9 + 100)/4 - 16 = 12.5
    ({"kind": "empirical", "values": [1, 2, 3, 10]}, 4.0, 12.5),
]


def _ids(cases: list) -> list[str]:
    return [f"{c[0]['kind']}-{i}" for i, c in enumerate(cases)]


@pytest.mark.parametrize(("spec", "mean", "var"), MOMENT_CASES, ids=_ids(MOMENT_CASES))
def test_analytic_mean(spec: dict, mean: float, var: float) -> None:
    assert dist(spec).mean() == pytest.approx(mean, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize(("spec", "mean", "var"), MOMENT_CASES, ids=_ids(MOMENT_CASES))
def test_sample_mean_matches_closed_form(spec: dict, mean: float, var: float) -> None:
    x = dist(spec).sample(np.random.default_rng(20240611), N)
    assert x.shape == (N,)
    assert x.dtype == np.float64
    assert np.all(x >= 0)
    # 5 standard errors, see the module docstring (exact equality when var = 0)
    assert abs(x.mean() - mean) <= 5 * math.sqrt(var / N) + 1e-12


def test_pareto_mean_is_infinite_for_shape_at_most_one() -> None:
    # E[X] = integral of x * alpha x_m^alpha / x^(alpha+1) diverges for alpha <= 1
    assert dist({"kind": "pareto", "shape": 1, "scale": 2}).mean() == math.inf
    assert dist({"kind": "pareto", "shape": 0.5, "scale": 2}).mean() == math.inf


def _normal_cdf(mu: float, sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    # P(X <= x | X >= 0) = 1 - (1 - Phi((x - mu)/sigma)) / (1 - Phi(-mu/sigma)), x >= 0
    tail = np.vectorize(upper_tail)
    return lambda x: 1 - tail((x - mu) / sigma) / upper_tail(-mu / sigma)


def _lognormal_cdf(x: np.ndarray) -> np.ndarray:
    # lognormal(mu=0.5, sigma=0.8): P(X <= x) = Phi((ln x - 0.5) / 0.8)
    return 1 - np.vectorize(upper_tail)((np.log(x) - 0.5) / 0.8)


CDF_CASES = [
    # uniform [1, 3]: (x - 1) / 2
    ({"kind": "uniform", "low": 1, "high": 3}, lambda x: (x - 1) / 2),
    # exponential mean 2: 1 - exp(-x / 2)
    ({"kind": "exponential", "mean": 2}, lambda x: 1 - np.exp(-x / 2)),
    ({"kind": "normal", "mean": 1, "std": 2}, _normal_cdf(1, 2)),
    ({"kind": "normal", "mean": -1, "std": 1}, _normal_cdf(-1, 1)),
    ({"kind": "normal", "mean": -4, "std": 1}, _normal_cdf(-4, 1)),
    ({"kind": "lognormal", "mu": 0.5, "sigma": 0.8}, _lognormal_cdf),
    # weibull k=1.5, lambda=2: 1 - exp(-(x / 2)^1.5)
    ({"kind": "weibull", "shape": 1.5, "scale": 2}, lambda x: 1 - np.exp(-((x / 2) ** 1.5))),
    # pareto I alpha=2.5, x_m=3: 1 - (3 / x)^2.5 for x >= 3 (NOT numpy's Lomax form,
    # whose support starts at 0)
    ({"kind": "pareto", "shape": 2.5, "scale": 3}, lambda x: 1 - (3 / x) ** 2.5),
]


@pytest.mark.parametrize(
    ("spec", "cdf"), CDF_CASES, ids=[f"{c[0]['kind']}-{i}" for i, c in enumerate(CDF_CASES)]
)
def test_sample_follows_exact_cdf(spec: dict, cdf: Callable[[np.ndarray], np.ndarray]) -> None:
    x = np.sort(dist(spec).sample(np.random.default_rng(7), N_CDF))
    f = cdf(x)
    assert np.all((f >= -1e-12) & (f <= 1 + 1e-12)), "a draw lies outside the support"
    i = np.arange(1, N_CDF + 1)
    distance = max(np.max(i / N_CDF - f), np.max(f - (i - 1) / N_CDF))
    # DKW bound, see the module docstring
    assert distance <= math.sqrt(math.log(2 / 1e-6) / (2 * N_CDF))


@pytest.mark.parametrize(("mu", "sigma"), [(0.0, 1.0), (1.0, 2.0), (-3.0, 1.0), (-6.0, 1.0), (-1e-9, 1.0)])
def test_truncated_normal_never_negative(mu: float, sigma: float) -> None:
    d = dist({"kind": "normal", "mean": mu, "std": sigma})
    x = d.sample(np.random.default_rng(3), N)
    assert x.min() >= 0
    # and it is a real truncation, not a clamp: no atom at 0
    assert np.count_nonzero(x == 0) <= 1


def test_normal_with_zero_std_is_constant() -> None:
    d = dist({"kind": "normal", "mean": 2.5, "std": 0})
    assert np.array_equal(d.sample(np.random.default_rng(0), 4), np.full(4, 2.5))
    assert d.mean() == 2.5


def test_empirical_draws_only_given_values() -> None:
    d = dist({"kind": "empirical", "values": [1, 2, 3, 10]})
    x = d.sample(np.random.default_rng(5), 40_000)
    assert set(np.unique(x).tolist()) == {1.0, 2.0, 3.0, 10.0}
    # each value is drawn with probability 1/4: count ~ Binomial(40000, 1/4), sd
    # sqrt(40000 * 1/4 * 3/4) ~ 86.6; allow 5 sd
    counts = np.array([np.count_nonzero(x == v) for v in (1, 2, 3, 10)])
    assert np.all(np.abs(counts - 10_000) <= 5 * math.sqrt(40_000 * 0.25 * 0.75))


ALL_KINDS = [spec for spec, _, _ in MOMENT_CASES]


@pytest.mark.parametrize("spec", ALL_KINDS, ids=_ids(MOMENT_CASES))
def test_same_seed_same_draws(spec: dict) -> None:
    d = dist(spec)
    a = d.sample(np.random.default_rng(42), 1000)
    b = d.sample(np.random.default_rng(42), 1000)
    assert np.array_equal(a, b)
    if spec["kind"] != "constant":
        assert not np.array_equal(a, d.sample(np.random.default_rng(43), 1000))


@pytest.mark.parametrize("spec", ALL_KINDS, ids=_ids(MOMENT_CASES))
def test_global_numpy_random_state_untouched(spec: dict) -> None:
    # Reading the legacy global state is the point here: sampling must leave it alone.
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    dist(spec).sample(np.random.default_rng(1), 100)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002


@pytest.mark.parametrize("spec", ALL_KINDS, ids=_ids(MOMENT_CASES))
def test_sample_sizes(spec: dict) -> None:
    d = dist(spec)
    assert d.sample(np.random.default_rng(0), 0).shape == (0,)
    assert d.sample(np.random.default_rng(0), 1).shape == (1,)
    with pytest.raises(ValueError):
        d.sample(np.random.default_rng(0), -1)


@pytest.mark.parametrize("spec", ALL_KINDS, ids=_ids(MOMENT_CASES))
def test_dump_round_trip(spec: dict) -> None:
    d = dist(spec)
    dumped = ADAPTER.dump_python(d, exclude_none=True)
    # the YAML spelling comes back out (``mean``, not the Python field name)
    assert set(dumped) == set(spec)
    assert dist(dumped) == d


# ---------------------------------------------------------------- validation errors


def _errors(spec: object) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        ADAPTER.validate_python(spec)
    return info.value.errors()


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"kind": "exponential", "mean": 2, "rate": 0.5}, "exactly one of mean or rate"),
        ({"kind": "exponential"}, "exactly one of mean or rate"),
        ({"kind": "uniform", "low": 3, "high": 1}, "low (3.0) must be <= high (1.0)"),
        ({"kind": "normal", "mean": -6.5, "std": 1}, "must be >= -6 * std"),
        ({"kind": "normal", "mean": -1, "std": 0}, "must be >= -6 * std"),
        ({"kind": "empirical", "values": [1], "path": "x.csv"}, "exactly one of values"),
        ({"kind": "empirical"}, "exactly one of values"),
        ({"kind": "empirical", "values": [1], "column": "t"}, "column applies only with path"),
    ],
)
def test_model_level_errors(spec: dict, needle: str) -> None:
    errors = _errors(spec)
    assert len(errors) == 1
    assert errors[0]["type"] == "value_error"
    assert needle in errors[0]["msg"]


@pytest.mark.parametrize(
    ("spec", "loc_tail", "error_type"),
    [
        ({"kind": "constant", "value": -1}, ("value",), "greater_than_equal"),
        ({"kind": "uniform", "low": -1, "high": 1}, ("low",), "greater_than_equal"),
        ({"kind": "exponential", "mean": 0}, ("mean",), "greater_than"),
        ({"kind": "exponential", "rate": -2}, ("rate",), "greater_than"),
        ({"kind": "normal", "mean": 1, "std": -1}, ("std",), "greater_than_equal"),
        ({"kind": "lognormal", "mu": 0, "sigma": 0}, ("sigma",), "greater_than"),
        ({"kind": "weibull", "shape": 0, "scale": 1}, ("shape",), "greater_than"),
        ({"kind": "pareto", "shape": 1, "scale": 0}, ("scale",), "greater_than"),
        ({"kind": "empirical", "values": []}, ("values",), "too_short"),
        ({"kind": "empirical", "values": [1, -2]}, ("values", 1), "greater_than_equal"),
        ({"kind": "constant", "value": float("nan")}, ("value",), "finite_number"),
        ({"kind": "uniform", "low": 0, "high": float("inf")}, ("high",), "finite_number"),
        # an extra key (here the Python name of the ``mean`` field) is refused
        ({"kind": "constant", "value": 1, "mean": 1}, ("mean",), "extra_forbidden"),
        ({"kind": "weibull", "shape": 1}, ("scale",), "missing"),
    ],
)
def test_field_errors_name_the_field(spec: dict, loc_tail: tuple, error_type: str) -> None:
    errors = _errors(spec)
    assert [(e["type"], e["loc"][-len(loc_tail) :]) for e in errors] == [(error_type, loc_tail)]
    # the tagged-union location starts with the kind
    assert errors[0]["loc"][0] == spec["kind"]


def test_python_field_name_is_not_a_yaml_key() -> None:
    # ``loc`` is the Python name of the normal's ``mean``; in YAML it is an unknown key
    errors = _errors({"kind": "normal", "loc": 1, "std": 1})
    assert sorted((e["type"], e["loc"][-1]) for e in errors) == [
        ("extra_forbidden", "loc"),
        ("missing", "mean"),
    ]


def test_unknown_kind() -> None:
    errors = _errors({"kind": "gaussian", "mean": 1, "std": 1})
    assert [e["type"] for e in errors] == ["union_tag_invalid"]
    assert "gaussian" in errors[0]["msg"]


def test_missing_kind() -> None:
    assert [e["type"] for e in _errors({"value": 1})] == ["union_tag_not_found"]


def test_normal_accepts_the_six_sigma_boundary() -> None:
    # mean = -6 std exactly is allowed; draws come back quickly and are >= 0
    d = dist({"kind": "normal", "mean": -6, "std": 1})
    assert isinstance(d, NormalDistribution)
    assert d.sample(np.random.default_rng(0), 10_000).min() >= 0


def test_errors_are_value_errors() -> None:
    # the loader relies on pydantic reporting them (a ValidationError is a ValueError)
    with pytest.raises(ValueError):
        ADAPTER.validate_python({"kind": "uniform", "low": 2, "high": 1})


# ---------------------------------------------------------------------- empirical CSV


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_first_column_by_default(tmp_path: Path) -> None:
    _write(tmp_path / "d.csv", "duration,other\n1.5,100\n2.5,200\n\n5,300\n")
    d = dist({"kind": "empirical", "path": "d.csv"}, base_dir=tmp_path)
    assert isinstance(d, EmpiricalDistribution)
    assert d.data.tolist() == [1.5, 2.5, 5.0]
    assert d.mean() == pytest.approx(3.0)  # (1.5 + 2.5 + 5) / 3
    assert set(d.sample(np.random.default_rng(0), 1000).tolist()) <= {1.5, 2.5, 5.0}


def test_csv_named_column(tmp_path: Path) -> None:
    _write(tmp_path / "d.csv", "duration, other\n1.5,100\n2.5,200\n")
    d = dist({"kind": "empirical", "path": "d.csv", "column": "other"}, base_dir=tmp_path)
    assert d.data.tolist() == [100.0, 200.0]
    assert d.mean() == 150.0


def test_csv_without_header(tmp_path: Path) -> None:
    _write(tmp_path / "d.csv", "4\n6\n")
    assert dist({"kind": "empirical", "path": "d.csv"}, base_dir=tmp_path).data.tolist() == [4.0, 6.0]


def test_csv_path_relative_to_base_dir(tmp_path: Path) -> None:
    (tmp_path / "traces").mkdir()
    _write(tmp_path / "traces" / "d.csv", "t\n7\n")
    d = dist({"kind": "empirical", "path": "traces/d.csv"}, base_dir=tmp_path)
    assert d.data.tolist() == [7.0]


def test_csv_path_without_context_is_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "d.csv", "t\n8\n")
    monkeypatch.chdir(tmp_path)
    assert dist({"kind": "empirical", "path": "d.csv"}).data.tolist() == [8.0]


def test_csv_missing_file_names_resolved_path(tmp_path: Path) -> None:
    errors = _errors_with_context({"kind": "empirical", "path": "nope/d.csv"}, tmp_path)
    assert len(errors) == 1
    assert "not found" in errors[0]["msg"]
    assert str((tmp_path / "nope" / "d.csv").resolve()) in errors[0]["msg"]


def test_csv_bad_cell_names_file_line_and_column(tmp_path: Path) -> None:
    # line 1 header, line 2 data, line 3 blank, line 4 the bad cell
    _write(tmp_path / "bad.csv", "t,u\n1,2\n\n3,x\n")
    errors = _errors_with_context({"kind": "empirical", "path": "bad.csv", "column": "u"}, tmp_path)
    assert len(errors) == 1
    msg = errors[0]["msg"]
    assert "bad.csv" in msg
    assert "line 4" in msg
    assert "'u'" in msg
    assert "not a number" in msg
    assert "'x'" not in msg  # the file's content is never echoed (the path may name any file)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("t\n1\n-2\n", "line 3"),  # negative value
        ("t\n1\nnan\n", "line 3"),  # not a finite number
        ("t,u\n1,2\n3\n", "line 3"),  # row too short for the column
        ("t\n", "no values"),
        ("", "no rows"),
    ],
)
def test_csv_other_bad_contents(tmp_path: Path, text: str, needle: str) -> None:
    _write(tmp_path / "d.csv", text)
    column = "u" if text.startswith("t,u") else None
    spec = {"kind": "empirical", "path": "d.csv"} | ({"column": column} if column else {})
    errors = _errors_with_context(spec, tmp_path)
    assert len(errors) == 1
    assert needle in errors[0]["msg"]


def test_csv_unknown_column(tmp_path: Path) -> None:
    _write(tmp_path / "d.csv", "t,u\n1,2\n")
    errors = _errors_with_context({"kind": "empirical", "path": "d.csv", "column": "v"}, tmp_path)
    assert "'v'" in errors[0]["msg"]
    assert "2 column(s)" in errors[0]["msg"]
    assert "'t'" not in errors[0]["msg"]  # the header line is not echoed


def test_csv_error_does_not_echo_the_file(tmp_path: Path) -> None:
    # A path naming a file that is not a CSV of numbers (say a system file): the error
    # says where and why, without a byte of the file's content.
    _write(tmp_path / "f.txt", "s3cret:x:0:0:s3cret:/bin/sh\nd4emon:x:1:1::/usr/sbin\n")
    for spec in ({"kind": "empirical", "path": "f.txt"}, {"kind": "empirical", "path": "f.txt", "column": "c"}):
        msg = _errors_with_context(spec, tmp_path)[0]["msg"]
        assert "f.txt" in msg
        assert "s3cret" not in msg and "d4emon" not in msg


def test_csv_values_beyond_the_time_bound(tmp_path: Path) -> None:
    _write(tmp_path / "d.csv", "t\n1\n2e9\n")  # 2e9 > MAX_TIME_S = 1e9
    msg = _errors_with_context({"kind": "empirical", "path": "d.csv"}, tmp_path)[0]["msg"]
    assert "line 3" in msg and "out of range" in msg


def test_csv_distributions_compare_and_pickle(tmp_path: Path) -> None:
    _write(tmp_path / "d.csv", "t\n1\n2\n")
    a = dist({"kind": "empirical", "path": "d.csv"}, base_dir=tmp_path)
    b = dist({"kind": "empirical", "path": "d.csv"}, base_dir=tmp_path)
    assert a == b
    c = pickle.loads(pickle.dumps(a))
    assert c == a
    assert c.data.tolist() == [1.0, 2.0]
    with pytest.raises(ValueError):
        a.data[0] = 5.0  # the loaded values are read-only


def _errors_with_context(spec: dict, base_dir: Path) -> list[dict]:
    with pytest.raises(ValidationError) as info:
        ADAPTER.validate_python(spec, context={"base_dir": base_dir})
    return info.value.errors()
