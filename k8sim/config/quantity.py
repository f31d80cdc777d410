"""Kubernetes resource quantities (``500m``, ``2``, ``1.5Gi``, ``64G``, ``1e3``).

Parsing follows upstream ``k8s.io/apimachinery/pkg/api/resource/quantity.go``
(``ParseQuantity``) and the conversions follow ``Quantity.MilliValue`` and
``Quantity.Value``. The grammar (from the upstream doc comment)::

    <quantity>        ::= <signedNumber><suffix>
    <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
    <sign>            ::= "+" | "-"
    <signedNumber>    ::= <number> | <sign><number>
    <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI>
    <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei
    <decimalSI>       ::= n | u | m | "" | k | M | G | T | P | E
    <decimalExponent> ::= "e" <signedNumber> | "E" <signedNumber>

Note ``m`` is milli, ``M`` is mega and ``Mi`` is mebi. As upstream, the value is held
exactly, except that a non-zero value finer than one nano is rounded away from zero to
the next nano (``"0.9n"`` is ``1n``) and a binary-suffixed value is capped, keeping its
sign, at ``2**63 - 1`` (``"9Ei"``). Leading or trailing whitespace is an error, as
upstream.

Deliberate differences from upstream, all of them rejecting input upstream accepts:

- A number needs at least one digit. Upstream's scanner accepts digit-less strings such
  as ``"."``, ``"-"``, ``"Ki"`` or ``"M"`` as zero, which in a scenario file is much more
  likely a typo than a wish for nothing.
- A decimal exponent must fit an int32 (upstream silently wraps it), and a value of
  ``10**1000`` or more is refused rather than built.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from fractions import Fraction
from types import MappingProxyType
from typing import Any

__all__ = [
    "BYTES",
    "CANONICAL_RESOURCES",
    "COUNT",
    "MAX_BASE_VALUE",
    "MILLI",
    "format_quantity",
    "parse_quantity",
    "resource_base_value",
    "resource_unit",
    "to_milli",
    "to_units",
]

_EXPECTED = 'expected a Kubernetes quantity such as "500m", "2", "1.5Gi" or "64G"'

_DIGITS = frozenset("0123456789")
#: Characters upstream's scanner lets into the suffix before an optional sign and digits.
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")

#: suffix -> power of ten
_DECIMAL_SI: dict[str, int] = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
#: suffix -> power of two
_BINARY_SI: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}

_EXPONENT = re.compile(r"[+-]?[0-9]+")
_INT32_MAX = 2**31 - 1
_NANO = 10**9
#: Upstream's cap for binary-suffixed quantities (``maxAllowed``): the int64 maximum.
_BINARY_CAP = 2**63 - 1
#: A quantity whose decimal magnitude reaches 10**_MAX_POWER is refused.
_MAX_POWER = 1000

#: Largest base value :func:`resource_base_value` returns (the int64 maximum, as the
#: upstream ``int64`` accessors; larger values overflow there).
MAX_BASE_VALUE = 2**63 - 1

#: Base units of a resource.
MILLI = "milli"  # thousandths of the quantity (``MilliValue()``): milli-CPU
BYTES = "bytes"  # the quantity itself (``Value()``), printed with byte suffixes
COUNT = "count"  # the quantity itself (``Value()``), printed as a plain number

#: Canonical resources and their base unit. Other names are counts (``Value()``), except
#: ``hugepages-<size>`` which, like memory, is a number of bytes.
CANONICAL_RESOURCES: Mapping[str, str] = MappingProxyType(
    {
        "cpu": MILLI,
        "memory": BYTES,
        "ephemeral-storage": BYTES,
        "pods": COUNT,
        "nvidia.com/gpu": COUNT,
    }
)


def _bad(value: Any, why: str = "") -> ValueError:
    return ValueError(f"{_EXPECTED}, got {value!r}" + (f" ({why})" if why else ""))


def _as_text(value: Any) -> str:
    """The quantity string of ``value``; numbers are written as Python writes them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # YAML ``yes``/``true``: not a quantity
        raise _bad(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _bad(value)
        # float.__repr__ is the shortest string that reads back as the same float, i.e.
        # the number as written ("0.1", "1e-05"); it also ignores subclasses' reprs.
        return float.__repr__(value)
    raise _bad(value, f"a {type(value).__name__} is neither a string nor a number")


def _scan(text: str) -> tuple[bool, str, str, str]:
    """Split ``text`` into (positive, integer digits, fraction digits, suffix).

    Mirrors upstream ``parseQuantityString``: a sign, digits, an optional ``.`` and
    digits, then a run of suffix characters, an optional sign and digits.
    """
    end = len(text)
    pos = 0
    positive = True
    if pos < end and text[pos] in "+-":
        positive = text[pos] == "+"
        pos += 1
    start = pos
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    num = text[start:pos]
    denom = ""
    if pos < end and text[pos] == ".":
        pos += 1
        start = pos
        while pos < end and text[pos] in _DIGITS:
            pos += 1
        denom = text[start:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos < end and text[pos] in "+-":
        pos += 1
    while pos < end and text[pos] in _DIGITS:
        pos += 1
    if pos != end:
        raise _bad(text, f"unexpected {text[pos]!r} at position {pos + 1}")
    if not num and not denom:
        suffix = text[suffix_start:]
        raise _bad(text, f"no number before {suffix!r}" if suffix else "no digits")
    return positive, num, denom, text[suffix_start:]


def _interpret(text: str, suffix: str) -> tuple[int, int]:
    """(base, exponent) of a suffix, as upstream ``suffixer.interpret``."""
    if suffix in _DECIMAL_SI:
        return 10, _DECIMAL_SI[suffix]
    if suffix in _BINARY_SI:
        return 2, _BINARY_SI[suffix]
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT.fullmatch(suffix[1:]):
        exponent = int(suffix[1:])
        if abs(exponent) > _INT32_MAX:
            raise _bad(text, "exponent out of range")
        return 10, exponent
    raise _bad(text, f"unknown suffix {suffix!r}")


def parse_quantity(value: str | int | float) -> Fraction:
    """The exact value of a Kubernetes quantity, as upstream ``ParseQuantity``.

    Accepts a string, an integer or a float (a float as Python writes it: ``0.1`` is
    exactly 1/10). Raises :class:`ValueError` naming what was expected otherwise.
    """
    text = _as_text(value)
    if not text:
        raise _bad(value, "empty string")
    positive, num, denom, suffix = _scan(text)
    base, exponent = _interpret(text, suffix)
    digits = num + denom
    try:
        mantissa = int(digits) if digits else 0
    except ValueError:  # more digits than Python converts (int_max_str_digits)
        raise _bad(value, "too many digits") from None
    if mantissa == 0:
        return Fraction(0)

    if base == 2:
        amount = Fraction(mantissa << exponent, 10 ** len(denom))
    else:
        power = exponent - len(denom)
        ndigits = len(digits.lstrip("0"))
        if power + ndigits > _MAX_POWER:
            raise _bad(value, f"too large: at least 1e{_MAX_POWER}")
        if power + ndigits < -9:
            # Below one nano, which upstream rounds up to: skip building 10**-power.
            amount = Fraction(1, _NANO)
        elif power >= 0:
            amount = Fraction(mantissa * 10**power)
        else:
            amount = Fraction(mantissa, 10**-power)

    # Upstream: non-zero values are rounded up (away from zero) to a whole nano...
    if (amount * _NANO).denominator != 1:
        amount = Fraction(math.ceil(amount * _NANO), _NANO)
    # ...and binary quantities are capped at the int64 maximum.
    if base == 2 and amount > _BINARY_CAP:
        amount = Fraction(_BINARY_CAP)
    return amount if positive else -amount


def to_milli(q: Fraction) -> int:
    """Thousandths of ``q`` rounded up, as upstream ``MilliValue()``: ``ceil(q * 1000)``."""
    return math.ceil(Fraction(q) * 1000)


def to_units(q: Fraction) -> int:
    """``q`` rounded up to an integer, as upstream ``Value()``: ``ceil(q)``.

    (Upstream documents ``Value()`` as rounding away from zero; the two agree for the
    non-negative quantities resources are.)
    """
    return math.ceil(Fraction(q))


def resource_unit(resource: str) -> str:
    """Base unit of a resource: :data:`MILLI`, :data:`BYTES` or :data:`COUNT`."""
    unit = CANONICAL_RESOURCES.get(resource)
    if unit is not None:
        return unit
    if resource.startswith("hugepages-"):
        return BYTES
    return COUNT


def resource_base_value(resource: str, value: str | int | float) -> int:
    """Parse ``value`` and convert it to ``resource``'s integer base unit.

    ``cpu`` gives milli-CPU (``MilliValue()``); every other resource gives
    ``Value()``: bytes for ``memory``/``ephemeral-storage``/``hugepages-*``, a count for
    ``pods``, ``nvidia.com/gpu`` and extended resources.
    """
    q = parse_quantity(value)
    if q < 0:
        raise ValueError(f"{resource}: must be >= 0, got {value!r}")
    base = to_milli(q) if resource_unit(resource) == MILLI else to_units(q)
    if base > MAX_BASE_VALUE:
        raise ValueError(f"{resource}: {value!r} is too large (more than 2**63 - 1 base units)")
    return base


def _suffixed(n: int, step: int, suffixes: tuple[str, ...]) -> str | None:
    """``n`` with the largest suffix in ``suffixes`` (powers of ``step``) dividing it."""
    best = None
    div = 1
    for suffix in suffixes:
        div *= step
        if n % div:
            break
        best = f"{n // div}{suffix}"
    return best


def format_quantity(resource: str, base_value: int) -> str:
    """A short exact quantity string for ``base_value`` base units of ``resource``.

    ``cpu``: ``"1500m"``, ``"2"``. Bytes: the shortest of the plain number and the
    number with the largest binary (``Ki`` ... ``Ei``) or decimal (``k`` ... ``E``)
    suffix that divides it exactly, binary first on a tie: ``"2Gi"``, ``"1G"``,
    ``"1025"``. Counts: the plain number. ``parse_quantity`` of the result gives back
    ``base_value`` exactly.
    """
    n = int(base_value)
    sign, n = ("-", -n) if n < 0 else ("", n)
    unit = resource_unit(resource)
    if unit == MILLI:
        text = str(n // 1000) if n % 1000 == 0 else f"{n}m"
    elif unit == BYTES and n:
        candidates = [
            c
            for c in (
                _suffixed(n, 1024, ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")),
                _suffixed(n, 1000, ("k", "M", "G", "T", "P", "E")),
            )
            if c is not None
        ]
        text = min([*candidates, str(n)], key=len)  # min keeps the first on a tie
    else:
        text = str(n)
    return sign + text
