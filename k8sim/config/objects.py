"""Lenient reading of Kubernetes objects written for a real cluster.

``kubectl get -o yaml`` output and kube-scheduler's ``KubeSchedulerConfiguration`` carry
far more than k8sim models. Their readers walk the parsed document with an
:class:`ObjectReader`, which never stops at the first problem: it collects errors as
``(field path, message)`` pairs, raised together as one
:class:`~k8sim.config.loader.ScenarioError` naming the file, and what k8sim ignores as
warnings, one per field or grouped by kind (``3 pod(s) with ...: a, b, c``). Paths are
written as the user would (``items[3].spec.tolerations[0].effect``).
"""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

from pydantic import TypeAdapter, ValidationError

from k8sim.config.loader import ScenarioError, format_loc
from k8sim.config.quantity import parse_quantity

__all__ = ["ObjectReader"]


class ObjectReader:
    """Collects problems (errors) and warnings while walking one file's document."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[tuple[str, str]] = []
        self.warnings: list[str] = []
        self._grouped: dict[str, list[str]] = {}

    # -- reporting ------------------------------------------------------------------

    def problem(self, path: str, msg: str) -> None:
        self.problems.append((path, msg))

    def warn(self, path: str, msg: str) -> None:
        """A warning about one field."""
        self.warnings.append(f"{path}: {msg}")

    def group(self, what: str, example: str) -> None:
        """An aggregated warning: ``what`` applies to ``example`` (and maybe others)."""
        self._grouped.setdefault(what, []).append(example)

    def flush(self) -> None:
        """Turn the grouped warnings into warnings (a count and the first three examples)."""
        for what, examples in self._grouped.items():
            shown = ", ".join(examples[:3]) + (f" and {len(examples) - 3} more" if len(examples) > 3 else "")
            self.warnings.append(f"{len(examples)} {what}: {shown}")

    def raise_problems(self) -> None:
        """Raise every problem so far as one :class:`ScenarioError` naming the file."""
        if self.problems:
            raise ScenarioError(self.source, self.problems)

    # -- values ---------------------------------------------------------------------

    def mapping(self, value: Any, path: str) -> dict[str, Any] | None:
        """``value`` as a mapping: ``{}`` if absent, None (a problem) if not a mapping."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {type(value).__name__}")
            return None
        return value

    def sequence(self, value: Any, path: str) -> list[Any] | None:
        """``value`` as a list: ``[]`` if absent, None (a problem) if not a list."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {type(value).__name__}")
            return None
        return value

    def mapping_or_empty(self, value: Any, path: str) -> dict[str, Any]:
        """As :meth:`mapping`, but ``{}`` after a problem too, to keep walking."""
        m = self.mapping(value, path)
        return {} if m is None else m

    def sequence_or_empty(self, value: Any, path: str) -> list[Any]:
        """As :meth:`sequence`, but ``[]`` after a problem too, to keep walking."""
        s = self.sequence(value, path)
        return [] if s is None else s

    def integer(self, value: Any, path: str, lo: int, hi: int) -> int | None:
        """``value`` as an integer in ``[lo, hi]``; None (a problem) otherwise."""
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(path, f"expected an integer, got {value!r}")
            return None
        if not lo <= value <= hi:
            self.problem(path, f"{value} not in valid range [{lo}, {hi}]")
            return None
        return value

    def string(self, value: Any, path: str, default: str | None = None) -> str | None:
        """``value`` as a string: ``default`` if absent (None or ""), None (a problem) if
        not a string (a list where a name belongs, say)."""
        if value is None or value == "":
            return default
        if not isinstance(value, str):
            self.problem(path, f"expected a string, got {type(value).__name__}")
            return None
        return value

    def boolean(self, value: Any, path: str, default: bool = False) -> bool:
        """``value`` as a boolean: ``default`` if absent, a problem if not a boolean."""
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(path, f"expected true or false, got {type(value).__name__}")
            return default
        return value

    def strings(self, value: Any, path: str) -> dict[str, str]:
        """A string-to-string mapping (labels, a node selector); ``{}`` after a problem."""
        m = self.mapping_or_empty(value, path)
        bad = [k for k, v in m.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            self.problem(f"{path}.{bad[0]}", "expected a string value")
            return {}
        return dict(m)

    def resources(self, value: Any, path: str) -> dict[str, Fraction]:
        """Resource name -> exact quantity; bad or negative quantities are problems."""
        out = {}
        for name, raw in self.mapping_or_empty(value, path).items():
            try:
                q = parse_quantity(raw)
            except (ValueError, TypeError) as e:
                self.problem(f"{path}.{name}", str(e))
                continue
            if q < 0:
                self.problem(f"{path}.{name}", f"must be >= 0, got {raw!r}")
                continue
            out[str(name)] = q
        return out

    def lenient(self, adapter: TypeAdapter, data: Any, path: str) -> Any:
        """Validate ``data`` with ``adapter``, dropping keys the model does not know (each
        warned about); returns the cleaned plain data, or None after a real error."""
        data = copy.deepcopy(data)
        while True:
            try:
                adapter.validate_python(data)
                return data
            except ValidationError as err:
                errors = err.errors(include_url=False)
                extra = [e["loc"] for e in errors if e["type"] == "extra_forbidden"]
                if not extra:
                    for e in errors:
                        self.problem(
                            _join(path, format_loc(e["loc"], data)), e["msg"].removeprefix("Value error, ")
                        )
                    return None
                for loc in extra:
                    parent = _follow(data, loc[:-1])
                    if isinstance(parent, dict) and loc[-1] in parent:
                        del parent[loc[-1]]
                        self.group("field(s) k8sim does not model, ignored", _join(path, format_loc(loc)))


def _join(path: str, loc: str) -> str:
    """``path`` followed by a location inside it (``[0].key`` or ``key``)."""
    if not loc:
        return path
    return f"{path}{loc}" if loc.startswith("[") else f"{path}.{loc}"


def _follow(data: Any, loc: tuple) -> Any:
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        # else: a part pydantic inserted (a validator name): stay
    return node
