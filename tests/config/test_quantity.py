"""Tests of k8sim.config.quantity against upstream apimachinery behaviour.

Expected values come from upstream ``pkg/api/resource/quantity_test.go`` (test names
cited per case) or are worked out by hand in the comments; none is taken from the code.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from k8sim.config.quantity import (
    CANONICAL_RESOURCES,
    format_quantity,
    parse_quantity,
    resource_base_value,
    to_milli,
    to_units,
)

KI, MI, GI, TI, PI, EI = (1024**k for k in range(1, 7))
INT64_MAX = 2**63 - 1  # upstream maxAllowed / mostPositive


def dec(mantissa: int, exponent: int) -> Fraction:
    """Upstream's ``decQuantity(mantissa, exponent, _)``: mantissa * 10**exponent."""
    return Fraction(mantissa) * Fraction(10) ** exponent


# (input, expected value): the table of upstream TestQuantityParse, expected values
# transcribed from its decQuantity(...) entries.
UPSTREAM_PARSE_TABLE = [
    ("0", dec(0, 0)),
    ("0n", dec(0, 0)),
    ("0u", dec(0, 0)),
    ("0m", dec(0, 0)),
    ("0Ki", dec(0, 0)),
    ("0k", dec(0, 0)),
    ("0Mi", dec(0, 0)),
    ("0M", dec(0, 0)),
    ("0Gi", dec(0, 0)),
    ("0G", dec(0, 0)),
    ("0Ti", dec(0, 0)),
    ("0T", dec(0, 0)),
    # Quantity less numbers are allowed
    ("1", dec(1, 0)),
    # Binary suffixes
    ("1Ki", dec(1024, 0)),
    ("8Ki", dec(8 * 1024, 0)),
    ("7Mi", dec(7 * 1024 * 1024, 0)),
    ("6Gi", dec(6 * 1024 * 1024 * 1024, 0)),
    ("5Ti", dec(5 * 1024 * 1024 * 1024 * 1024, 0)),
    ("4Pi", dec(4 * 1024 * 1024 * 1024 * 1024 * 1024, 0)),
    ("3Ei", dec(3 * 1024 * 1024 * 1024 * 1024 * 1024 * 1024, 0)),
    ("10Ti", dec(10 * 1024 * 1024 * 1024 * 1024, 0)),
    ("100Ti", dec(100 * 1024 * 1024 * 1024 * 1024, 0)),
    # Decimal suffixes
    ("5n", dec(5, -9)),
    ("4u", dec(4, -6)),
    ("3m", dec(3, -3)),
    ("9", dec(9, 0)),
    ("8k", dec(8, 3)),
    ("50k", dec(5, 4)),
    ("7M", dec(7, 6)),
    ("6G", dec(6, 9)),
    ("5T", dec(5, 12)),
    ("40T", dec(4, 13)),
    ("300T", dec(3, 14)),
    ("2P", dec(2, 15)),
    ("1E", dec(1, 18)),
    # Decimal exponents
    ("1E-3", dec(1, -3)),
    ("1e3", dec(1, 3)),
    ("1E6", dec(1, 6)),
    ("1e9", dec(1, 9)),
    ("1E12", dec(1, 12)),
    ("1e15", dec(1, 15)),
    ("1E18", dec(1, 18)),
    # Nonstandard but still parsable
    ("1e14", dec(1, 14)),
    ("1e13", dec(1, 13)),
    ("100.035k", dec(100035, 0)),
    # Things that look like floating point
    ("0.001", dec(1, -3)),
    ("0.0005k", dec(5, -1)),
    ("0.005", dec(5, -3)),
    ("0.05", dec(5, -2)),
    ("0.5", dec(5, -1)),
    ("0.00050k", dec(5, -1)),
    ("0.00500", dec(5, -3)),
    ("0.05000", dec(5, -2)),
    ("0.50000", dec(5, -1)),
    ("0.5e0", dec(5, -1)),
    ("0.5e-1", dec(5, -2)),
    ("0.5e-2", dec(5, -3)),
    ("10.035M", dec(10035, 3)),
    ("1.2e3", dec(12, 2)),
    ("1.3E+6", dec(13, 5)),
    ("1.40e9", dec(14, 8)),
    ("1.53E12", dec(153, 10)),
    ("1.6e15", dec(16, 14)),
    ("1.7E18", dec(17, 17)),
    ("9.01", dec(901, -2)),
    ("8.1k", dec(81, 2)),
    ("7.123456M", dec(7123456, 0)),
    ("6.987654321G", dec(6987654321, 0)),
    ("5.444T", dec(5444, 9)),
    ("40.1T", dec(401, 11)),
    ("300.2T", dec(3002, 11)),
    ("2.5P", dec(25, 14)),
    ("1.01E", dec(101, 16)),
    # Things that saturate/round (up, away from zero, to a whole nano)
    ("3.001n", dec(4, -9)),
    ("1.1E-9", dec(2, -9)),
    ("0.0000000001", dec(1, -9)),
    ("0.0000000005", dec(1, -9)),
    ("0.00000000050", dec(1, -9)),
    ("0.5e-9", dec(1, -9)),
    ("0.9n", dec(1, -9)),
    ("0.00000012345", dec(124, -9)),
    ("0.00000012354", dec(124, -9)),
    ("9Ei", Fraction(INT64_MAX)),  # capped at maxAllowed
    ("9223372036854775807Ki", Fraction(INT64_MAX)),  # capped at maxAllowed
    ("12E", dec(12, 18)),
    # We'll accept fractional binary stuff, too.
    ("100.035Ki", dec(10243584, -2)),
    ("0.5Mi", dec(512 * 1024, 0)),
    ("0.05Gi", dec(536870912, -1)),
    ("0.025Ti", dec(274877906944, -1)),
    # Things written by trolls
    ("0.000000000001Ki", dec(2, -9)),  # 1.024e-12 rounds up to 2n
    (".001", dec(1, -3)),
    (".0001k", dec(100, -3)),
    ("1.", dec(1, 0)),
    ("1.G", dec(1, 9)),
]


@pytest.mark.parametrize(("text", "expected"), UPSTREAM_PARSE_TABLE)
def test_parse_upstream_table(text: str, expected: Fraction) -> None:
    # upstream TestQuantityParse
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(("text", "expected"), UPSTREAM_PARSE_TABLE)
def test_parse_upstream_table_signed(text: str, expected: Fraction) -> None:
    # upstream TestQuantityParse: "Try the negative version of everything" and "Try
    # everything with an explicit +"; the cap and the rounding keep their magnitude.
    assert parse_quantity("-" + text) == -expected
    assert parse_quantity("+" + text) == expected


def test_parse_zero() -> None:
    # upstream TestQuantityParseZero
    assert parse_quantity("0") == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # upstream TestParseQuantityString (the scanner's own table, as values)
        ("0.025Ti", Fraction(25, 1000) * TI),
        ("1.025Ti", Fraction(1025, 1000) * TI),
        ("-1.025Ti", -Fraction(1025, 1000) * TI),
        ("1E-3", Fraction(1, 1000)),
        # upstream TestQuantityParseEmit: parse then canonical string; the values are
        # ".001Ki" = 1.024 -> "1024m", ".000001Ki" = 1.024e-3 -> "1024u",
        # ".000000001Ki" = 1.024e-6 -> "1024n", ".000000000001Ki" -> "2n".
        (".001Ki", Fraction(1024, 1000)),
        (".000001Ki", Fraction(1024, 10**6)),
        (".000000001Ki", Fraction(1024, 10**9)),
        (".000000000001Ki", Fraction(2, 10**9)),
        ("1024Mi", Fraction(GI)),
        ("1000M", Fraction(10**9)),
    ],
)
def test_parse_more_upstream_cases(text: str, expected: Fraction) -> None:
    assert parse_quantity(text) == expected


def test_milli_mega_and_mebi_are_different() -> None:
    # "m" = 10**-3, "M" = 10**6, "Mi" = 2**20 = 1048576 (upstream suffix.go tables).
    assert parse_quantity("1m") == Fraction(1, 1000)
    assert parse_quantity("1M") == 1_000_000
    assert parse_quantity("1Mi") == 1_048_576


def test_exponent_with_sign_and_leading_zeros() -> None:
    # upstream interpret() reads the exponent with strconv.ParseInt, which accepts a sign
    # and leading zeros: 2e+03 = 2000, 25e-02 = 0.25.
    assert parse_quantity("2e+03") == 2000
    assert parse_quantity("25e-02") == Fraction(1, 4)


def test_very_small_values_round_up_to_one_nano() -> None:
    # upstream rounds every non-zero value up to the next nano: 1e-2000 -> 1n.
    assert parse_quantity("1e-2000") == Fraction(1, 10**9)
    assert parse_quantity("-1e-2000") == -Fraction(1, 10**9)
    assert parse_quantity("0e-2000") == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, Fraction(7)),
        (0, Fraction(0)),
        (0.1, Fraction(1, 10)),  # as written, not the binary float 0.1000000000000000055...
        (1.5, Fraction(3, 2)),
        (1e-05, Fraction(1, 100_000)),
        (2.5e9, Fraction(2_500_000_000)),
        (-0.25, Fraction(-1, 4)),
    ],
)
def test_parse_numbers(value: int | float, expected: Fraction) -> None:
    assert parse_quantity(value) == expected


@pytest.mark.parametrize(
    "text",
    [
        # upstream TestQuantityParse: "invalid" list and the empty string
        "",
        "1.1.M",
        "1+1.0M",
        "0.1mi",
        "0.1am",
        "aoeu",
        ".5i",
        "1i",
        "-3.01i",
        "-3.01e-",
        " 1",  # trailing whitespace is forbidden
        "1 ",
        # upstream TestQuantityParseNonNumericPanic
        "Non-Numeric",
        # more bad inputs
        "lots",
        "1.2.3",
        "5Q",
        "--1",
        "1K",  # kilo is a lower-case k
        "1e",
        "1e3k",
        "1kM",
        "1m5",
        "1_000",
        "１",  # a full-width digit is not an ASCII digit
    ],
)
def test_parse_rejects_bad_strings(text: str) -> None:
    with pytest.raises(ValueError, match="expected a Kubernetes quantity"):
        parse_quantity(text)


@pytest.mark.parametrize("text", [".", "-", "+", "-.", "Ki", "M", "e5"])
def test_parse_rejects_digitless_strings(text: str) -> None:
    # Deliberately stricter than upstream, whose scanner reads these as 0 (see the
    # module docstring): a number needs a digit.
    with pytest.raises(ValueError, match="expected a Kubernetes quantity"):
        parse_quantity(text)


@pytest.mark.parametrize("value", [True, False, None, [1], {"cpu": 1}, float("nan"), float("inf")])
def test_parse_rejects_non_quantities(value: object) -> None:
    with pytest.raises(ValueError, match="expected a Kubernetes quantity"):
        parse_quantity(value)  # type: ignore[arg-type]


def test_parse_error_message() -> None:
    with pytest.raises(ValueError) as info:
        parse_quantity("lots")
    assert str(info.value).startswith(
        'expected a Kubernetes quantity such as "500m", "2", "1.5Gi" or "64G", got \'lots\''
    )


def test_parse_rejects_out_of_range_exponents() -> None:
    # Upstream would wrap an exponent beyond int32; here it is an error, and so is a
    # value of 10**1000 or more, which is refused rather than built.
    with pytest.raises(ValueError, match="exponent out of range"):
        parse_quantity("1e2147483648")
    with pytest.raises(ValueError, match="too large"):
        parse_quantity("1e1000")
    assert parse_quantity("1e999") == 10**999


@pytest.mark.parametrize(
    ("scale", "to_scale_milli", "to_scale_units"),
    [
        # upstream TestScaledValue: NewScaledQuantity(1, from).ScaledValue(to)
        (-9, 1, 1),  # {Nano, Milli, 1}, {Nano, 0, 1}: rounded up
        (-6, 1, 1),  # {Micro, Milli, 1}, {Micro, 0, 1}
        (-3, 1, 1),  # {Milli, Milli, 1}, {Milli, 0, 1}
        (0, 1000, 1),  # {0, Milli, 1000}, {0, 0, 1}
        (2, 100_000, 100),  # 1e2 = 100 -> 100000 milli
    ],
)
def test_milli_and_units_follow_scaled_value(scale: int, to_scale_milli: int, to_scale_units: int) -> None:
    q = Fraction(10) ** scale
    assert to_milli(q) == to_scale_milli
    assert to_units(q) == to_scale_units


def test_milli_and_units_round_up() -> None:
    # MilliValue() = ceil(q * 1000), Value() = ceil(q) (upstream quantity.go docs).
    # 1.0001 * 1000 = 1000.1 -> 1001; ceil(1.0001) = 2; exact values are not moved.
    assert to_milli(Fraction(10001, 10000)) == 1001
    assert to_units(Fraction(10001, 10000)) == 2
    assert to_milli(Fraction(3, 2)) == 1500
    assert to_units(Fraction(4)) == 4
    # upstream TestMilliNewSet round trip: "1m" -> MilliValue 1, "1234" -> 1234000
    assert to_milli(parse_quantity("1m")) == 1
    assert to_milli(parse_quantity("1234")) == 1_234_000


@pytest.mark.parametrize(
    ("resource", "value", "expected"),
    [
        ("cpu", "500m", 500),
        ("cpu", "1.5", 1500),
        ("cpu", "2", 2000),
        ("cpu", 2, 2000),
        ("cpu", 0.25, 250),
        ("cpu", "0.1m", 1),  # 0.1 milli-CPU rounds up to 1 (MilliValue)
        ("cpu", "-0", 0),
        # The Kubernetes docs' "roughly the same value" list: 128974848 = 123 * 2**20.
        ("memory", "128974848", 128974848),
        ("memory", "123Mi", 128974848),
        ("memory", "128974848000m", 128974848),
        ("memory", "129e6", 129_000_000),
        ("memory", "129M", 129_000_000),
        ("memory", "1Gi", 2**30),
        ("memory", "1.5Gi", 3 * 2**29),  # 1.5 * 2**30
        ("memory", "64G", 64 * 10**9),
        ("memory", "400m", 1),  # 0.4 bytes, rounded up by Value()
        ("ephemeral-storage", "10Gi", 10 * 2**30),
        ("pods", "110", 110),
        ("pods", 110, 110),
        ("nvidia.com/gpu", "2", 2),
        ("example.com/foo", "3", 3),
        ("example.com/foo", "1k", 1000),
        ("hugepages-2Mi", "1Gi", 2**30),
        ("memory", "9Ei", INT64_MAX),  # capped by the parser (upstream maxAllowed)
    ],
)
def test_resource_base_value(resource: str, value: str | int | float, expected: int) -> None:
    assert resource_base_value(resource, value) == expected


def test_canonical_resource_units() -> None:
    # A quantity of 1 is 1000 milli-CPU but 1 byte / 1 pod / 1 GPU / 1 of anything else.
    assert resource_base_value("cpu", "1") == 1000
    for name in ["memory", "ephemeral-storage", "pods", "nvidia.com/gpu", "example.com/foo"]:
        assert resource_base_value(name, "1") == 1
    assert set(CANONICAL_RESOURCES) >= {"cpu", "memory", "ephemeral-storage", "pods", "nvidia.com/gpu"}


@pytest.mark.parametrize(
    ("resource", "value"), [("cpu", "-1"), ("memory", "-1Gi"), ("pods", -3), ("cpu", "-1n")]
)
def test_resource_base_value_rejects_negative(resource: str, value: str | int) -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        resource_base_value(resource, value)


def test_resource_base_value_rejects_bad_and_huge() -> None:
    with pytest.raises(ValueError, match="expected a Kubernetes quantity"):
        resource_base_value("cpu", "lots")
    # 10E = 1e19 CPUs = 1e22 milli-CPU, beyond an int64 (upstream would overflow).
    with pytest.raises(ValueError, match="too large"):
        resource_base_value("cpu", "10E")


@pytest.mark.parametrize(
    ("resource", "base", "expected"),
    [
        # upstream TestQuantityString, BinarySI and DecimalSI rows (in bytes):
        ("memory", 1024 * 1024 * 1024, "1Gi"),
        ("memory", 300 * 1024 * 1024, "300Mi"),
        ("memory", 6 * 1024, "6Ki"),
        ("memory", 1001 * 1024 * 1024 * 1024, "1001Gi"),
        ("memory", 1024 * 1024 * 1024 * 1024, "1Ti"),
        ("memory", 1025, "1025"),
        ("memory", 10**9, "1G"),
        ("memory", 300 * 10**6, "300M"),
        ("memory", 10**12, "1T"),  # 10**12 = 976562500Ki too; the shorter one wins
        ("memory", 3000, "3k"),
        ("memory", 1234567 * 10**6, "1234567M"),
        ("memory", 0, "0"),
        ("memory", 2 * GI, "2Gi"),
        ("memory", 1, "1"),
        ("hugepages-2Mi", 4 * MI, "4Mi"),
        # upstream TestQuantityString DecimalSI rows in milli-CPU; whole CPUs are
        # printed plainly ("2", not upstream's "2000m" alternate)
        ("cpu", 1, "1m"),
        ("cpu", 80, "80m"),
        ("cpu", 1080, "1080m"),
        ("cpu", 1500, "1500m"),
        ("cpu", 2000, "2"),
        ("cpu", 0, "0"),
        # counts are plain numbers
        ("pods", 110, "110"),
        ("nvidia.com/gpu", 1024, "1024"),
        ("example.com/foo", 3000, "3000"),
    ],
)
def test_format_quantity(resource: str, base: int, expected: str) -> None:
    assert format_quantity(resource, base) == expected


@pytest.mark.parametrize(("resource", "text"), [("cpu", "100m"), ("memory", "1Gi")])
def test_format_preserves_suffix_after_adding_zero(resource: str, text: str) -> None:
    # upstream TestQuantityAddZeroPreservesSuffix: x + 0 and 0 + x print as x.
    zero = parse_quantity("0")
    value = parse_quantity(text)
    convert = to_milli if resource == "cpu" else to_units
    for q in (value + zero, zero + value):
        assert format_quantity(resource, convert(q)) == text


@settings(max_examples=300, deadline=None)
@given(
    resource=st.sampled_from(["cpu", "memory", "pods", "example.com/foo", "hugepages-1Gi"]),
    base=st.one_of(
        st.integers(min_value=0, max_value=2**63 - 1),
        st.builds(lambda m, k: m * 1024**k, st.integers(0, 10**6), st.integers(0, 4)),
        st.builds(lambda m, k: m * 1000**k, st.integers(0, 10**6), st.integers(0, 4)),
    ),
)
def test_format_round_trips(resource: str, base: int) -> None:
    # format_quantity is exact: parsing its output gives the same base value back, and
    # it is never longer than the plain number.
    text = format_quantity(resource, base)
    assert resource_base_value(resource, text) == base
    if resource != "cpu":
        assert len(text) <= len(str(base))
