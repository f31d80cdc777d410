"""Resource amounts in the schema: the :data:`Quantity` field type, resource lists and
their integer base units.

Resource amounts are Kubernetes quantity strings (``500m``, ``64Gi``) or numbers. They
are held exactly (:class:`fractions.Fraction`) and converted to integer base units
(milli-CPU, bytes, counts) by :func:`base_units`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Annotated, Any

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

from k8sim.config.quantity import parse_quantity, to_milli, to_units

__all__ = ["Quantity", "ResourceList", "base_units"]

_MAX_INT64 = 2**63 - 1


def _parse_nonnegative_quantity(value: Any) -> Fraction:
    if isinstance(value, Fraction):
        q = value
    else:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValueError(
                "expected a Kubernetes quantity such as \"500m\", \"2\" or \"64Gi\", "
                f"got {value!r}"
            )
        q = parse_quantity(value)
    if q < 0:
        raise ValueError(f"must be >= 0, got {value!r}")
    if q * 1000 > _MAX_INT64:
        # Base units are int64 (milli-CPU for cpu): larger amounts cannot be represented.
        raise ValueError(f"too large: {value!r} exceeds what an int64 of milli-units holds")
    return q


def _format_quantity(q: Fraction) -> str | int:
    if q.denominator == 1:
        return int(q)
    milli = q * 1000
    if milli.denominator == 1:
        return f"{int(milli)}m"
    return str(float(q))


#: A non-negative Kubernetes quantity, held exactly.
Quantity = Annotated[
    Fraction,
    PlainValidator(_parse_nonnegative_quantity),
    PlainSerializer(_format_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
            "description": "Kubernetes quantity, e.g. 500m, 2, 1.5Gi, 64G",
        }
    ),
]


#: Resource name -> quantity, as in a pod's ``resources.requests``.
ResourceList = dict[str, Quantity]


def base_units(resources: dict[str, Fraction]) -> dict[str, int]:
    """Integer base units of a resource list: milli-CPU for ``cpu``, else ``Value()``.

    Upstream rounds up in both cases (``Quantity.MilliValue`` / ``Quantity.Value``).
    """
    return {
        name: (to_milli(q) if name == "cpu" else to_units(q)) for name, q in resources.items()
    }
