"""The import layers of the package (DESIGN, "The control plane"): an import only goes down.

Every module under ``k8sim/`` is parsed with :mod:`ast` and every ``import`` statement
counts, wherever it is: at the top, inside a function (a lazy import is still a
dependency) or under ``if TYPE_CHECKING:`` (so is a type-only one). Only static
imports are seen, not ``importlib.import_module`` of a computed name.

Rules checked here:
- ``cluster/`` (the tables) does not import the YAML schema, ``k8sim.config``, nor
  pydantic; the constants it shares with the schema live in ``k8sim.constants``.
- ``k8sim.constants`` imports nothing from k8sim and not pydantic, so every layer may
  use it.
- ``config/`` (the schema, data only) does not import the layers above it:
  ``workloads``, ``sim``, ``scheduling``, ``metrics``.
- ``scheduling/``, ``workloads/``, ``runtime/`` and ``metrics/`` do not import ``sim/``
  (the assembly layer above them).

:data:`KNOWN_VIOLATIONS` lists the breaches that exist today; the test fails on any other
breach, and also on an entry that no longer occurs, so that the list only shrinks.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "k8sim"


@dataclass(frozen=True)
class Rule:
    """Modules in ``importers`` (packages or modules, by dotted prefix) must not import
    any module under ``forbidden``, except those under ``allowed``."""

    importers: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    why: str = ""


RULES = (
    # k8sim.config.quantity (plain parsing, no pydantic) would be the one acceptable
    # exception if the tables ever need it; today they do not, so none is allowed.
    Rule(("k8sim.cluster",), ("k8sim.config", "pydantic"),
         why="the tables import neither the YAML schema nor pydantic (constants: k8sim.constants)"),
    Rule(("k8sim.constants",), ("k8sim", "pydantic"),
         why="the constants module sits below every layer"),
    Rule(("k8sim.config",), ("k8sim.workloads", "k8sim.sim", "k8sim.scheduling", "k8sim.metrics"),
         why="the schema is data only and does not import the layers above it"),
    Rule(("k8sim.scheduling", "k8sim.workloads", "k8sim.runtime", "k8sim.metrics"), ("k8sim.sim",),
         why="components and metrics do not import the assembly layer"),
)

#: (importing module, imported module) pairs that break a rule today. Each entry is a
#: debt: remove it in the change that removes the import (the test fails while a
#: listed pair no longer occurs). Never add one to make a new import pass.
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


def module_name(path: Path) -> str:
    """Dotted name of a source file under the package directory."""
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, module: str, is_package: bool = False,
               known_modules: frozenset[str] = frozenset()) -> list[tuple[str, int]]:
    """(imported module, line) of the import statements in ``source``, at any depth,
    each pair once, in line order.

    ``from a import b`` counts as importing ``a.b`` when that is a module of
    ``known_modules``, else ``a``. Relative imports are resolved against ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in known_modules else target, node.lineno))
    return sorted(dict.fromkeys(found), key=lambda f: f[1])


def under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def package_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def violations() -> dict[tuple[str, str], list[str]]:
    """Every breach of :data:`RULES`: (importer, imported) -> where and why."""
    modules = package_modules()
    known = frozenset(modules)
    out: dict[tuple[str, str], list[str]] = {}
    for name, path in modules.items():
        found = imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py", known)
        for rule in RULES:
            if not under(name, rule.importers):
                continue
            for imported, line in found:
                if under(imported, rule.forbidden) and not under(imported, rule.allowed):
                    where = f"{path.relative_to(PACKAGE_DIR.parent)}:{line}"
                    out.setdefault((name, imported), []).append(f"{where} ({rule.why})")
    return out


def test_scanner_sees_every_kind_of_import() -> None:
    source = (
        "from __future__ import annotations\n"
        "import k8sim.sim.simulation\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from k8sim.sim.simulation import Simulation\n"
        "def f():\n"
        "    from k8sim import sim\n"
        "    from ..sim import bus\n"
        "    class C:\n"
        "        def g(self):\n"
        "            import k8sim.metrics as m\n"
    )
    known = frozenset({"k8sim", "k8sim.sim", "k8sim.sim.simulation", "k8sim.metrics"})
    found = imports_of(source, "k8sim.scheduling.explain", known_modules=known)
    assert found == [
        ("__future__", 1), ("k8sim.sim.simulation", 2), ("typing", 3),
        ("k8sim.sim.simulation", 5), ("k8sim.sim", 7), ("k8sim.sim", 8), ("k8sim.metrics", 11),
    ]


def test_package_is_found() -> None:
    modules = package_modules()
    assert "k8sim.cluster.ops" in modules and "k8sim.config.scenario" in modules
    assert all(under(m, ("k8sim",)) for m in modules)


def test_imports_only_go_down() -> None:
    found = violations()
    new = {pair: where for pair, where in found.items() if pair not in KNOWN_VIOLATIONS}
    assert not new, "imports against the layering rules:\n" + "\n".join(
        f"  {importer} imports {imported}: {'; '.join(where)}" for (importer, imported), where in sorted(new.items())
    )


def test_known_violations_still_occur() -> None:
    gone = sorted(KNOWN_VIOLATIONS - set(violations()))
    assert not gone, "fixed, so remove from KNOWN_VIOLATIONS in tests/test_layers.py:\n" + "\n".join(
        f"  ({importer!r}, {imported!r})" for importer, imported in gone
    )
