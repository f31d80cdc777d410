"""Loading scenarios from YAML, with errors that name the file and the field path.

Every way a scenario can be wrong (YAML syntax, unknown key, wrong type, bad quantity,
missing CSV, an ``--set`` override on a path that does not exist) ends in one
:class:`ScenarioError` whose message lists ``file: path: what was expected``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from k8sim.config.faults import ACTION_KINDS, FAILURE_KINDS
from k8sim.config.scenario import Scenario

_NO_DATA: Any = object()


class ScenarioError(ValueError):
    """A scenario that cannot be loaded or run, with one line per problem."""

    def __init__(self, source: str, problems: Sequence[tuple[str, str]]):
        self.source = source
        self.problems = list(problems)
        lines = [f"{source}: {path}: {msg}" if path else f"{source}: {msg}" for path, msg in problems]
        super().__init__("\n".join(lines))


def format_loc(loc: Iterable[Any], data: Any = _NO_DATA) -> str:
    """``("workloads", 2, "template", "requests", "cpu")`` -> ``workloads[2].template.requests.cpu``.

    Pydantic inserts the discriminator tag of a tagged union (``poisson``) and the
    validator of a plain type into the location; those are dropped so that the path is
    the one the user typed. Given the validated input ``data``, a part is kept exactly
    when it is a key (or index) of the input at that point, so a user's own key that
    happens to be spelled like a tag (a label ``burst``) stays in the path.
    """
    out = ""
    node = data
    for part in loc:
        if node is not _NO_DATA:
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
                node = node[part]
            elif isinstance(node, (Mapping, list)) and isinstance(part, str) and (
                part.startswith("function-") or part in _UNION_TAGS
            ):
                continue  # inserted by pydantic
            else:
                node = _NO_DATA  # past the input (e.g. a missing key): keep the rest as is
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            s = str(part)
            if node is _NO_DATA and data is _NO_DATA and (s.startswith("function-") or s in _UNION_TAGS):
                continue
            out += f".{s}" if out else s
    return out


_UNION_TAGS = {
    # distribution kinds
    "constant", "uniform", "exponential", "normal", "lognormal", "weibull", "pareto",
    "empirical",
    # arrival kinds
    "poisson", "interval", "times", "burst",
    # failure and action kinds
    *FAILURE_KINDS, *ACTION_KINDS,
}


def _pydantic_problems(err: ValidationError, data: Any = _NO_DATA) -> list[tuple[str, str]]:
    problems = []
    for e in err.errors(include_url=False):
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see `k8sim schema`)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        problems.append((format_loc(e["loc"], data), msg))
    return problems


def validate_scenario(data: Any, source: str = "<scenario>", base_dir: Path | None = None) -> Scenario:
    """Validate a plain-data scenario (as parsed from YAML) into a :class:`Scenario`."""
    if not isinstance(data, Mapping):
        raise ScenarioError(source, [("", "expected a mapping at the top of the file")])
    context = {"base_dir": base_dir if base_dir is not None else Path.cwd()}
    try:
        return Scenario.model_validate(data, context=context).with_source(source)
    except ValidationError as err:
        raise ScenarioError(source, _pydantic_problems(err, data)) from None


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; syntax errors become a :class:`ScenarioError` with line/column."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(str(path), [("", "file not found")]) from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), [("", "not a UTF-8 text file")]) from None
    except OSError as e:
        raise ScenarioError(str(path), [("", f"cannot read file: {e.strerror}")]) from None
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ScenarioError(str(path), [("", f"YAML syntax error at {where}: {e.problem}")]) from None
    except yaml.YAMLError as e:
        raise ScenarioError(str(path), [("", f"YAML error: {e}")]) from None


def load_scenario(path: str | Path, overrides: Sequence[str] = ()) -> Scenario:
    """Load and validate a scenario file, applying ``path=value`` overrides first.

    The scenario's ``name`` defaults to the file name without its extension.
    """
    p = Path(path)
    data = read_yaml(p)
    if isinstance(data, dict):
        data = apply_overrides(data, overrides, source=str(p))
        data.setdefault("name", p.stem)
    return validate_scenario(data, source=str(p), base_dir=p.parent)


_TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    """``cluster.node_pools[0].count`` -> ``["cluster", "node_pools", 0, "count"]``."""
    parts: list[str | int] = []
    pos = 0
    while pos < len(path):
        if path[pos] == ".":
            pos += 1
            continue
        m = _TOKEN.match(path, pos)
        if not m:
            raise ValueError(f"cannot parse path {path!r} at position {pos}")
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not parts:
        raise ValueError("empty path")
    return parts


def set_path(data: Any, path: str, value: Any) -> None:
    """Set ``value`` at a dotted path inside nested dicts/lists (in place).

    A missing key is created in a mapping (schema validation then decides whether it is
    allowed); a list index must already exist.
    """
    parts = parse_path(path)
    node = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = format_loc(parts[: i + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ValueError(f"{where}: not a list")
            if not -len(node) <= part < len(node):
                raise ValueError(f"{where}: index out of range (the list has {len(node)} items)")
            if last:
                node[part] = value
            else:
                node = node[part]
        else:
            if not isinstance(node, dict):
                raise ValueError(f"{where}: not a mapping")
            if last:
                node[part] = value
            else:
                if part not in node or node[part] is None:
                    node[part] = [] if isinstance(parts[i + 1], int) else {}
                node = node[part]


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], source: str = "<scenario>") -> dict[str, Any]:
    """Apply ``path=value`` strings (value parsed as YAML) to a copy of ``data``."""
    import copy

    out = copy.deepcopy(data)
    problems = []
    for ov in overrides:
        if "=" not in ov:
            problems.append(("--set", f"expected path=value, got {ov!r}"))
            continue
        path, raw = ov.split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        try:
            set_path(out, path.strip(), value)
        except ValueError as e:
            problems.append((f"--set {path.strip()}", str(e)))
    if problems:
        raise ScenarioError(source, problems)
    return out
