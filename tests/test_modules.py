"""Every module of the package imports by its name and is what its package holds.

A package that binds a name over one of its submodules (a function ``compare`` over the
module ``compare``) makes ``import k8sim.x.compare as m`` give the function, which is
why each submodule must also be its package's attribute of that name.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

import k8sim

ROOT = Path(k8sim.__file__).resolve().parent


def _module_names() -> list[str]:
    names = []
    for path in sorted(ROOT.rglob("*.py")):
        parts = [ROOT.name, *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


MODULES = _module_names()


def test_the_walk_finds_the_package_and_its_submodules():
    assert "k8sim" in MODULES and "k8sim.experiments.comparison" in MODULES
    assert len(MODULES) == len(set(MODULES))


@pytest.mark.parametrize("name", MODULES)
def test_module_imports_by_name_and_is_not_shadowed(name):
    module = importlib.import_module(name)
    assert isinstance(module, ModuleType) and module.__name__ == name
    assert (module.__doc__ or "").strip(), f"{name} has no docstring saying what it is for"
    parent, _, leaf = name.rpartition(".")
    if parent:
        held = getattr(importlib.import_module(parent), leaf)
        assert held is module, f"{parent}.{leaf} is {held!r}, not the module {name}"
