"""Profiles from scenario settings: presets, MultiPoint merging, instantiation.

A profile is a preset (an ordered plugin list with weights and args) plus the user's
``plugins`` (enabled on top, replacing a preset entry of the same name in place) and
``disabled`` names (``"*"`` disables the whole preset), exactly as upstream merges a
``KubeSchedulerConfiguration``'s MultiPoint set into the default plugins
(``apis/config/v1/default_plugins.go``, ``mergePluginSet``). Each plugin is
instantiated once per profile and serves every extension point it implements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from k8sim.rng import Streams
from k8sim.scheduling import registry
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.plugins.base import FilterPlugin, ScorePlugin


@dataclass(frozen=True)
class Ref:
    """A plugin in a profile: name, score weight (None = 1), raw args, and whether it
    serves as a filter and/or a score here (presets use filter-only entries)."""

    name: str
    weight: int | None = None
    args: dict[str, Any] = field(default_factory=dict)
    filter: bool = True
    score: bool = True


#: Upstream default plugins (getDefaultPlugins), in upstream order, those k8sim models.
_DEFAULT = [
    Ref("NodeUnschedulable"),
    Ref("NodeName"),
    Ref("TaintToleration", 3),
    Ref("NodeAffinity", 2),
    Ref("RuntimeClass"),  # k8sim: a RuntimeClass's handler (skipped for pods without one)
    Ref("NodePorts"),
    Ref("NodeResourcesFit", 1),
    Ref("GpuFit"),
    # Filters only: VolumeBinding's Score needs StorageCapacityScoring (off by default).
    Ref("VolumeRestrictions"),
    Ref("NodeVolumeLimits"),
    Ref("VolumeBinding"),
    Ref("VolumeZone"),
    Ref("PodTopologySpread", 2),
    Ref("InterPodAffinity", 2),
    Ref("NodeResourcesBalancedAllocation", 1),
    Ref("ImageLocality", 1),
]
#: The default plugins that filter (used as filter-only entries by other presets).
_SCORE_ONLY = {"NodeResourcesBalancedAllocation", "ImageLocality"}
_FILTERS = [r for r in _DEFAULT if r.name not in _SCORE_ONLY]


def _fit(strategy: str) -> Ref:
    return Ref("NodeResourcesFit", 1, {"scoringStrategy": {"type": strategy}})


def _only_fit_scores(strategy: str) -> tuple[Ref, ...]:
    """The default filters, with NodeResourcesFit(strategy) as the only score."""
    return tuple(_fit(strategy) if r.name == "NodeResourcesFit" else Ref(r.name, score=False) for r in _FILTERS)


@dataclass(frozen=True)
class Preset:
    description: str
    plugins: tuple[Ref, ...]
    percentage_of_nodes_to_score: int | None = None


PRESETS: dict[str, Preset] = {
    "kube-default": Preset(
        "upstream default plugins and weights (getDefaultPlugins), those k8sim models",
        tuple(_DEFAULT),
    ),
    "binpack": Preset(
        "default filters; NodeResourcesFit MostAllocated as the only score (bin packing)",
        _only_fit_scores("MostAllocated"),
    ),
    "spread": Preset(
        "default filters; NodeResourcesFit LeastAllocated as the only score (spreading)",
        _only_fit_scores("LeastAllocated"),
    ),
    **{
        preset: Preset(
            f"default filters; the {plugin} research policy as the only score, all nodes searched",
            tuple(Ref(r.name, score=False) for r in _FILTERS) + (Ref(plugin),),
            100,
        )
        for preset, plugin in (
            ("first-fit", "FirstFit"),
            ("best-fit", "BestFit"),
            ("worst-fit", "WorstFit"),
            ("tetris", "Tetris"),
            ("drf", "DRF"),
            # The GPU-sharing policies of Weng et al., ATC '23.
            ("fgd", "FGD"),
            ("gpu-best-fit", "GpuBestFit"),
            ("gpu-dot-prod", "GpuDotProd"),
            ("gpu-packing", "GpuPacking"),
            ("gpu-clustering", "GpuClustering"),
            ("gpu-random-fit", "GpuRandomFit"),
        )
    },
    "random": Preset(
        "default filters, no score: a uniformly random feasible node (all nodes searched)",
        tuple(Ref(r.name, score=False) for r in _FILTERS),
        100,
    ),
}


def merge(preset: tuple[Ref, ...], enabled: list[Ref], disabled: list[str]) -> list[Ref]:
    """Upstream ``mergePluginSet`` for MultiPoint."""
    custom = {r.name: i for i, r in enumerate(enabled)}
    replaced: set[int] = set()
    out: list[Ref] = []
    if "*" not in disabled:
        for r in preset:
            if r.name in disabled:
                continue
            if r.name in custom:
                replaced.add(custom[r.name])
                r = enabled[custom[r.name]]
            out.append(r)
    out += [r for i, r in enumerate(enabled) if i not in replaced]
    names = [r.name for r in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"plugin listed twice: {dup}")
    return out


@dataclass
class BuiltProfile:
    profile: Profile
    warnings: list[str]


def build_profile(
    name: str,
    refs: list[Ref],
    streams: Streams,
    index: int,
    percentage_of_nodes_to_score: int = 0,
) -> BuiltProfile:
    """Instantiate plugins and assemble a :class:`Profile`.

    Raises ``ValueError`` (naming the plugin) for unknown plugins or bad args.
    """
    filters: list[FilterPlugin] = []
    scores: list[tuple[ScorePlugin, int]] = []
    for r in refs:
        cls = registry.get(r.name)
        try:
            args = cls.parse_args(r.args)
        except ValueError as e:
            raise ValueError(f"plugin {r.name}: bad args: {e}") from None
        plugin = cls(args)
        plugin.setup(streams.generator(f"plugin:{r.name}", index))
        if isinstance(plugin, FilterPlugin) and r.filter:
            filters.append(plugin)
        if isinstance(plugin, ScorePlugin) and r.score:
            weight = 1 if r.weight is None else r.weight
            if weight < 1:
                raise ValueError(f"plugin {r.name}: weight must be >= 1, got {weight}")
            scores.append((plugin, weight))
    warnings = []
    if not any(getattr(f, "checks_resources", False) for f in filters):
        warnings.append(
            f"profile {name!r} has no filter that checks resources (e.g. NodeResourcesFit): "
            "pods may be bound to nodes without room for them"
        )
    rng = streams.generator("tie-break", index)
    return BuiltProfile(Profile(name, filters, scores, rng, percentage_of_nodes_to_score), warnings)
