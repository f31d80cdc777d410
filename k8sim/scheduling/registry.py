"""Plugin registry: name -> plugin class (with its pydantic ``Args`` model).

Three ways in:

1. Built-in plugins, listed below by module and resolved lazily on first use.
2. Third-party packages, through the ``k8sim.plugins`` entry-point group
   (``[project.entry-points."k8sim.plugins"] MyPolicy = "mypkg.policy:MyPolicy"``),
   also resolved lazily by name.
3. A ``"package.module:Class"`` string used directly as a plugin name in a scenario,
   for notebook experiments. Importing the module runs its code. A module that is not
   importable from ``sys.path`` is looked for in the directories of
   :func:`plugin_search_path` (the scenario file's directory, set while a scenario's
   profiles are built), so a plugin file beside the scenario works without PYTHONPATH.

Registering a name twice is an error.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import sys
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path

from k8sim.scheduling.plugins.base import FilterPlugin, Plugin, ScorePlugin

ENTRY_POINT_GROUP = "k8sim.plugins"

_P = "k8sim.scheduling.plugins."

#: Built-in plugins: name -> "module:Class".
BUILTIN: dict[str, str] = {
    "NodeUnschedulable": _P + "node_unschedulable:NodeUnschedulable",
    "NodeResourcesFit": _P + "node_resources_fit:NodeResourcesFit",
    "NodeAffinity": _P + "node_affinity:NodeAffinity",
    "TaintToleration": _P + "taint_toleration:TaintToleration",
    "NodeName": _P + "node_name:NodeName",
    "NodePorts": _P + "node_ports:NodePorts",
    "NodeResourcesBalancedAllocation": _P + "balanced_allocation:NodeResourcesBalancedAllocation",
    "PodTopologySpread": _P + "pod_topology_spread:PodTopologySpread",
    "InterPodAffinity": _P + "inter_pod_affinity:InterPodAffinity",
    "ImageLocality": _P + "image_locality:ImageLocality",
    "GpuFit": _P + "gpu_fit:GpuFit",
    "RuntimeClass": _P + "runtime_class:RuntimeClass",
    "VolumeRestrictions": _P + "volume_restrictions:VolumeRestrictions",
    "NodeVolumeLimits": _P + "node_volume_limits:NodeVolumeLimits",
    "VolumeBinding": _P + "volume_binding:VolumeBinding",
    "VolumeZone": _P + "volume_zone:VolumeZone",
    # gang scheduling (kubernetes-sigs/scheduler-plugins)
    "Coscheduling": _P + "coscheduling:Coscheduling",
    # research policies
    "FirstFit": _P + "first_fit:FirstFit",
    "BestFit": _P + "best_fit:BestFit",
    "WorstFit": _P + "worst_fit:WorstFit",
    "Tetris": _P + "tetris:Tetris",
    "DRF": _P + "drf:DominantResourceFairness",
    "Random": _P + "random_score:RandomScore",
    # GPU-sharing policies of Weng et al., USENIX ATC '23
    "GpuBestFit": _P + "gpu_best_fit:GpuBestFit",
    "GpuDotProd": _P + "gpu_dot_prod:GpuDotProd",
    "GpuPacking": _P + "gpu_packing:GpuPacking",
    "GpuClustering": _P + "gpu_clustering:GpuClustering",
    "GpuRandomFit": _P + "gpu_random_fit:GpuRandomFit",
    "FGD": _P + "fgd:FGD",
}

_registered: dict[str, type[Plugin]] = {}


class PluginError(ValueError):
    """An unknown plugin, a duplicate name, or a class that is not a plugin.

    Raised by :func:`register` (duplicate or missing name, not a Filter/Score subclass)
    and :func:`get` (unknown name, failed import). The message names the plugin and,
    for an unknown name, lists the available ones; being a ``ValueError``, it reaches
    the user as a configuration error, like a bad plugin argument.
    """


def register(cls: type[Plugin], name: str | None = None) -> type[Plugin]:
    """Register a plugin class under ``name`` (default: ``cls.name``). Usable as a decorator."""
    key = name or cls.name
    if not key:
        raise PluginError(f"{cls.__qualname__} has no name")
    if not (isinstance(cls, type) and issubclass(cls, (FilterPlugin, ScorePlugin))):
        raise PluginError(f"{key}: {cls!r} is not a FilterPlugin or ScorePlugin subclass")
    if key in _registered or key in BUILTIN:
        raise PluginError(f"a plugin named {key!r} is already registered")
    _registered[key] = cls
    return cls


_search_dirs: contextvars.ContextVar[tuple[Path, ...]] = contextvars.ContextVar("plugin_search_dirs", default=())


@contextlib.contextmanager
def plugin_search_path(*directories: str | Path) -> Iterator[None]:
    """While active, a ``module:Class`` whose top-level module is not on ``sys.path`` is
    imported from these directories (a ``module.py`` or ``module/`` package there)."""
    token = _search_dirs.set(tuple(Path(d) for d in directories) + _search_dirs.get())
    try:
        yield
    finally:
        _search_dirs.reset(token)


def _import_module(module: str) -> object:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = module.split(".")[0]
        if e.name != top:
            raise
        for d in _search_dirs.get():
            if (d / f"{top}.py").is_file() or (d / top / "__init__.py").is_file():
                entry = str(d.resolve())
                added = entry not in sys.path
                if added:
                    sys.path.insert(0, entry)
                try:
                    return importlib.import_module(module)
                finally:
                    if added:
                        sys.path.remove(entry)
        raise


def _import(target: str, what: str) -> type[Plugin]:
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise PluginError(f"{what}: expected 'package.module:Class', got {target!r}")
    try:
        obj = getattr(_import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise PluginError(f"{what}: cannot import {target!r} ({e})") from None
    if not (isinstance(obj, type) and issubclass(obj, (FilterPlugin, ScorePlugin))):
        raise PluginError(f"{what}: {target!r} is not a FilterPlugin or ScorePlugin subclass")
    return obj


def _entry_points() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def get(name: str) -> type[Plugin]:
    """The plugin class for ``name`` (registry name, entry point, or ``module:Class``)."""
    if name in _registered:
        return _registered[name]
    if name in BUILTIN:
        cls = _import(BUILTIN[name], name)
        return cls
    eps = _entry_points()
    if name in eps:
        return _import(eps[name], f"entry point {name}")
    if ":" in name:
        return _import(name, name)
    raise PluginError(f"unknown plugin {name!r}; available: {', '.join(available())}")


def available() -> list[str]:
    """Every plugin name that :func:`get` resolves without a ``module:Class`` string."""
    return sorted(set(BUILTIN) | set(_registered) | set(_entry_points()))


def describe() -> list[tuple[str, str, str]]:
    """(name, extension points, one-line summary) for each available plugin."""
    rows = []
    for name in available():
        try:
            cls = get(name)
        except PluginError as e:
            rows.append((name, "?", f"cannot load: {e}"))
            continue
        points = [p for p, base in (("Filter", FilterPlugin), ("Score", ScorePlugin)) if issubclass(cls, base)]
        doc = cls.summary or (cls.__doc__ or "").strip().splitlines()[0] if (cls.summary or cls.__doc__) else ""
        rows.append((name, "+".join(points), doc))
    return rows
