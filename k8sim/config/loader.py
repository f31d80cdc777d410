"""Loading scenarios from YAML, with errors that name the file and the field path.

Every way a scenario can be wrong (YAML syntax, unknown key, wrong type, bad quantity,
missing CSV, an ``--set`` override on a path that does not exist) ends in one
:class:`ScenarioError` whose message lists ``file: path: what was expected``.
"""

from __future__ import annotations

import difflib
import math
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from k8sim.config.base import BOOL_FOR_NUMBER, split_located
from k8sim.config.faults import ACTION_KINDS, FAILURE_KINDS
from k8sim.config.scenario import Scenario
from k8sim.constants import MAX_PODS, MAX_POOL_NODES, MAX_RATE_PER_S, MAX_TIME_S

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


_LIMIT_NOTES = {
    MAX_TIME_S: f" (k8sim's time limit, about {MAX_TIME_S / 3.15576e7:.1f} years; see docs/limits.md)",
    MAX_PODS: " (pods per workload; see docs/limits.md)",
    MAX_RATE_PER_S: " (arrivals per second; see docs/limits.md)",
    MAX_POOL_NODES: " (nodes per pool; see docs/limits.md)",
}


def _pydantic_problems(err: ValidationError, data: Any = _NO_DATA) -> list[tuple[str, str]]:
    problems = []
    for e in err.errors(include_url=False):
        msg = e["msg"]
        loc = e["loc"]
        if e["type"] == "extra_forbidden":
            where = format_loc(loc, data)
            msg = "unknown key" + (_suggest(where) or " (check the spelling; see `k8sim schema`)")
        elif e["type"] == BOOL_FOR_NUMBER:
            loc = (*loc, e["ctx"]["field"])
            msg = "expected a number, got a boolean"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
            below, msg = split_located(msg)
            if below is not None:
                prefix = format_loc(loc, data)
                problems.append((f"{prefix}.{below}" if prefix and not below.startswith("[") else prefix + below,
                                 msg))
                continue
        elif e["type"] == "less_than_equal":
            msg += _LIMIT_NOTES.get((e.get("ctx") or {}).get("le", math.nan), "")
        problems.append((format_loc(loc, data), msg))
    return problems


def _models(annotation: Any) -> list[Any]:
    """The schema types an annotation may hold, unwrapped (Annotated, Optional, unions)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(annotation) for m in _models(a)]
    return [annotation]


def _keys(model: Any) -> dict[str, Any]:
    """Input keys of a model (field names and aliases) -> annotation."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        out[name] = field.annotation
        if field.alias:
            out[field.alias] = field.annotation
    return out


def schema_keys(parts: Sequence[str | int], root: Any = None) -> tuple[list[str], str] | None:
    """Walk a parsed path through the schema (default: :class:`Scenario`).

    Returns None if every key is known (or the walk reaches free-form data such as
    labels or plugin args), else ``(valid keys, key)`` at the first unknown key.
    """
    types_ = [root if root is not None else Scenario]
    for part in parts:
        options = [m for t in types_ for m in _models(t)]
        if isinstance(part, int):
            items = [typing.get_args(m)[0] for m in options if typing.get_origin(m) in (list, tuple)]
            if not items:
                return None
            types_ = items
            continue
        models = [m for m in options if isinstance(m, type) and issubclass(m, BaseModel)]
        if not models:
            return None  # a mapping of free keys (labels, args) or a scalar: not ours to judge
        keys: dict[str, Any] = {}
        for m in models:
            for k, v in _keys(m).items():
                keys.setdefault(k, v)
        if part not in keys:
            return sorted(keys), part
        types_ = [keys[part]]
    return None


def _suggest(path: str, root: Any = None) -> str:
    """``" (did you mean 'x'?)"`` for the unknown last key of ``path``, or ""."""
    try:
        found = schema_keys(parse_path(path), root)
    except ValueError:
        return ""
    if found is None:
        return ""
    valid, key = found
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (expected one of: {', '.join(valid)})" if len(valid) <= 12 else " (see `k8sim schema`)"


def validate_scenario(data: Any, source: str = "<scenario>", base_dir: Path | None = None,
                      system_priorities: bool = False) -> Scenario:
    """Validate a plain-data scenario (as parsed from YAML) into a :class:`Scenario`.

    ``system_priorities`` admits pod priorities above the user maximum (1e9), as the
    system pods of a real cluster's snapshot have.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError(source, [("", "expected a mapping at the top of the file")])
    context = {"base_dir": base_dir if base_dir is not None else Path.cwd(), "system_priorities": system_priorities}
    try:
        return Scenario.model_validate(data, context=context).with_source(source)
    except ValidationError as err:
        raise ScenarioError(source, _pydantic_problems(err, data)) from None


#: Most nodes (scalars, sequences, mappings) that aliases may add to a YAML document once
#: expanded. Anchors that reuse a block a few times stay far below it; an "alias bomb"
#: (aliases of aliases, 369 bytes expanding to millions of nodes) is refused at once.
MAX_ALIAS_EXPANSION = 10_000
#: Deepest nesting of mappings and lists in a YAML document (scenarios and kubectl
#: objects stay under 20 levels; deeper documents would exhaust Python's stack).
MAX_YAML_DEPTH = 100


class YAMLLimitError(yaml.YAMLError):
    """A YAML document beyond what k8sim reads: aliases expanding beyond
    :data:`MAX_ALIAS_EXPANSION`, recursive aliases, nesting too deep to build."""


class YAMLAliasError(YAMLLimitError):
    """A YAML document whose aliases expand beyond :data:`MAX_ALIAS_EXPANSION` or recur."""


_BaseSafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _BoundedLoader(_BaseSafeLoader):
    """A safe loader that refuses aliases expanding beyond a bound, and recursive ones."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_depth(node)
        _check_aliases(node)
        return super().construct_document(node)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [c for kv in node.value for c in kv]
    return []


def _check_depth(root: yaml.Node) -> None:
    """Raise :class:`YAMLLimitError` if mappings and lists nest deeper than
    :data:`MAX_YAML_DEPTH` (iterative; each node is visited once)."""
    seen: set[int] = set()
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_YAML_DEPTH:
            line = f" (line {node.start_mark.line + 1})" if node.start_mark else ""
            raise YAMLLimitError(f"the document nests more than {MAX_YAML_DEPTH} levels deep{line}")
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack += [(c, depth + 1) for c in _children(node)]


def _check_aliases(root: yaml.Node) -> None:
    """Raise :class:`YAMLAliasError` if ``root``, expanded, has more than
    :data:`MAX_ALIAS_EXPANSION` nodes beyond those written, or a cycle."""
    written: set[int] = set()
    expanded: dict[int, int] = {}
    on_path: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in expanded:
            return expanded[key]
        if key in on_path:
            raise YAMLAliasError(f"recursive alias at line {node.start_mark.line + 1}" if node.start_mark
                                 else "recursive alias")
        written.add(key)
        total = 1
        if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
            on_path.add(key)
            for child in _children(node):
                total += size(child)
                if total - len(written) > MAX_ALIAS_EXPANSION:
                    raise YAMLAliasError(
                        f"aliases expand the document by more than {MAX_ALIAS_EXPANSION:,} nodes "
                        f"(line {node.start_mark.line + 1}); refusing an alias bomb"
                        if node.start_mark else f"aliases expand the document by more than {MAX_ALIAS_EXPANSION:,} nodes"
                    )
            on_path.discard(key)
        expanded[key] = total
        return total

    size(root)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` refusing alias bombs, recursive aliases and nesting too deep
    to build (every YAML input of k8sim goes through here: scenarios, experiments,
    objects, configs, ``--set``)."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise YAMLLimitError("the document is nested too deeply (hundreds of levels)") from None


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
        return safe_load(text)
    except YAMLLimitError as e:
        raise ScenarioError(str(path), [("", f"YAML error: {e}")]) from None
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
    if isinstance(data, dict) and "scenario" in data and "cluster" not in data:
        raise ScenarioError(str(p), [("", "this is an experiment file, not a scenario (it has scenario: and no "
                                          "cluster:): run it with `k8sim sweep`")])
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
    allowed). A list index must exist, or be the list's length: that appends a new
    element (a missing list counts as empty), so ``scheduler.profiles[0].preset=binpack``
    works on a scenario that lists no profiles (the new element has every default).
    """
    parts = parse_path(path)
    node = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = format_loc(parts[: i + 1])
        if isinstance(part, int):
            if not isinstance(node, list):
                raise ValueError(f"{where}: not a list")
            if part == len(node):  # append a new element
                node.append(value if last else ([] if isinstance(parts[i + 1], int) else {}))
                if last:
                    return
            if not -len(node) <= part < len(node):
                raise ValueError(
                    f"{where}: index out of range (the list has {len(node)} items; index {len(node)} "
                    "appends a new one)"
                )
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


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], source: str = "<scenario>",
                    check_keys: bool = True) -> dict[str, Any]:
    """Apply ``path=value`` strings (value parsed as YAML) to a copy of ``data``.

    With ``check_keys`` (a scenario), a key the schema does not have is reported as
    ``unknown key`` with the nearest valid name, before anything is set.
    """
    import copy

    out = copy.deepcopy(data)
    problems = []
    for ov in overrides:
        if "=" not in ov:
            problems.append(("--set", f"expected path=value, got {ov!r}"))
            continue
        path, raw = ov.split("=", 1)
        if not path.strip():
            problems.append(("--set", f"expected path=value, got {ov!r} (no path before '=')"))
            continue
        try:
            value = safe_load(raw) if raw != "" else ""
        except YAMLLimitError as e:
            problems.append((f"--set {path.strip()}", f"YAML error: {e}"))
            continue
        except yaml.YAMLError:
            value = raw
        try:
            parts = parse_path(path.strip())
            unknown = schema_keys(parts) if check_keys else None
            if unknown is not None:
                valid, key = unknown
                at = format_loc(parts[: parts.index(key) + 1])
                problems.append((f"--set {path.strip()}", f"{at}: unknown key{_suggest(at)}"))
                continue
            set_path(out, path.strip(), value)
        except ValueError as e:
            problems.append((f"--set {path.strip()}", str(e)))
    if problems:
        raise ScenarioError(source, problems)
    return out
