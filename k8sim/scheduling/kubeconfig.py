"""Reading a real ``KubeSchedulerConfiguration`` (``kubescheduler.config.k8s.io/v1``).

:func:`load_kube_scheduler_configuration` maps the file kube-scheduler is started with
(``--config``) onto k8sim: one :class:`~k8sim.config.scenario.ProfileSpec` per profile
and the ``scheduler:`` settings of a scenario (:class:`KubeConfigResult`).

Upstream semantics followed:

- Defaults: every profile starts from upstream ``getDefaultPlugins``
  (``pkg/scheduler/apis/config/v1/default_plugins.go``), all MultiPoint, with their
  weights; the user's sets are merged into them per extension point with
  ``mergePluginSet`` (same name replaces in place, ``disabled`` removes, ``"*"`` removes
  every default, custom plugins are appended, an enabled entry wins over a disabled one).
- Expansion (``frameworkImpl.expandMultiPointPlugins``, ``pkg/scheduler/framework/runtime``):
  a MultiPoint plugin runs at every point it implements unless that point's
  ``disabled`` names it (or ``"*"``); plugins also listed in that point's ``enabled`` are
  overrides. Per point the order is overrides (in the point's order), then MultiPoint
  plugins, then the rest of the point's ``enabled``.
- Weights (``getScoreWeights``): ``score.enabled`` takes precedence over MultiPoint;
  a missing or zero weight is 1.
- ``pluginConfig[].args`` in upstream field names, defaulted and validated by the
  plugin's k8sim ``Args`` model as upstream's v1 defaulting and ``validation_pluginargs.go``
  do (NodeResourcesFit: ``SetDefaults_NodeResourcesFitArgs`` then
  ``ValidateNodeResourcesFitArgs``, see
  :class:`~k8sim.scheduling.plugins.node_resources_fit.ScoringStrategy`); ``apiVersion``/``kind`` inside ``args`` are accepted (``kind`` must be
  ``<plugin>Args``, as upstream requires the args type to match the plugin). Duplicate
  ``pluginConfig`` names and duplicate ``schedulerName`` are errors, as upstream. A single
  profile without ``schedulerName`` is ``default-scheduler`` (upstream defaulting); with
  several profiles the name is required. No ``profiles`` at all means one default profile.
- ``percentageOfNodesToScore`` (global and per profile) in [0, 100];
  ``podInitialBackoffSeconds`` > 0 and ``podMaxBackoffSeconds`` >= it (upstream
  validation; k8sim itself also accepts 0 there, upstream does not).

What k8sim does not model becomes a warning, never an error, because production
configs name such things: top-level settings (``leaderElection``, ``clientConnection``,
``parallelism``, ``extenders``, ...), extension points other than Filter, Score and
MultiPoint (``profiles[i].plugins.preBind``, ``queueSort``, ``postFilter`` ...; k8sim's
plugins do their PreFilter/PreScore work inside Filter/Score), plugins the k8sim registry
does not have (``DynamicResources``, ``DefaultPreemption``, out-of-tree plugins) when the
config enables or configures them, args fields upstream has but k8sim's ``Args`` does
not (``NodeResourcesFit.ignoredResources``), and keys k8sim does not know at all.

Errors (:class:`~k8sim.config.loader.ScenarioError` naming the file and the field path):
not YAML, not a mapping, wrong ``apiVersion``/``kind``, wrong types, a negative weight
(upstream does not validate the sign; k8sim refuses it), args a k8sim plugin rejects,
a plugin enabled at a point it does not implement, a plugin enabled twice at a point.

A plugin that upstream runs at one point only (``score.disabled: [PodTopologySpread]``
keeps its Filter; ``filter.enabled`` alone enables a plugin at Filter only) runs at that
point only: the exact per-point lists are :attr:`KubeConfigResult.refs`, and
:meth:`KubeConfigResult.build_profiles` builds the profiles from them, which is what
``scheduler.configFile`` and ``k8sim explain --config`` run. Nothing is warned about.

Approximations in :attr:`KubeConfigResult.profiles` (the ProfileSpec form, for copying
into a scenario's ``scheduler.profiles``), which a ProfileSpec cannot express:

- :class:`~k8sim.config.scenario.ProfileSpec` enables a plugin at every point it
  implements, so a plugin upstream runs at one point only is kept at both there.
- Filter order only decides which plugin a rejected node is charged to; ``profiles``
  keep the preset's order, ``refs`` upstream's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from k8sim.config.loader import ScenarioError, format_loc, read_yaml
from k8sim.config.objects import ObjectReader
from k8sim.config.scenario import PluginRef, ProfileSpec
from k8sim.constants import DEFAULT_SCHEDULER
from k8sim.scheduling import registry
from k8sim.scheduling.plugins.base import FilterPlugin, Plugin, ScorePlugin
from k8sim.scheduling.profiles import PRESETS, Ref, build_profile

if TYPE_CHECKING:
    from k8sim.rng import Streams
    from k8sim.scheduling.framework import Profile

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
PRESET = "kube-default"

#: Upstream ``getDefaultPlugins`` (v1, newest): MultiPoint, in order, (name, weight).
#: ``DynamicResources`` is there since DynamicResourceAllocation went GA (on by default).
UPSTREAM_DEFAULT_PLUGINS: tuple[tuple[str, int | None], ...] = (
    ("SchedulingGates", None),
    ("PrioritySort", None),
    ("NodeUnschedulable", None),
    ("NodeName", None),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodePorts", None),
    ("NodeResourcesFit", 1),
    ("VolumeRestrictions", None),
    ("NodeVolumeLimits", None),
    ("VolumeBinding", None),
    ("VolumeZone", None),
    ("PodTopologySpread", 2),
    ("InterPodAffinity", 2),
    ("DynamicResources", None),
    ("DefaultPreemption", None),
    ("NodeResourcesBalancedAllocation", 1),
    ("ImageLocality", 1),
    ("DefaultBinder", None),
)

#: Upstream args fields (``pkg/scheduler/apis/config/types_pluginargs.go``, v1 spelling)
#: of plugins k8sim has; fields listed here but absent from k8sim's ``Args`` are warned
#: about and dropped, any other unknown field is an error (a typo).
UPSTREAM_ARGS_FIELDS: dict[str, frozenset[str]] = {
    "NodeResourcesFit": frozenset({"ignoredResources", "ignoredResourceGroups", "scoringStrategy"}),
    "NodeResourcesBalancedAllocation": frozenset({"resources"}),
    "InterPodAffinity": frozenset({"hardPodAffinityWeight", "ignorePreferredTermsOfExistingPods"}),
    "NodeAffinity": frozenset({"addedAffinity"}),
    "PodTopologySpread": frozenset({"defaultConstraints", "defaultingType"}),
}

#: Top-level fields k8sim reads.
_TOP_MODELLED = frozenset(
    {"apiVersion", "kind", "profiles", "percentageOfNodesToScore", "podInitialBackoffSeconds", "podMaxBackoffSeconds"}
)
#: Top-level fields of the upstream type that k8sim does not model (warned about).
_TOP_UNMODELLED = frozenset(
    {
        "parallelism",
        "leaderElection",
        "clientConnection",
        "enableProfiling",
        "enableContentionProfiling",
        "healthzBindAddress",
        "metricsBindAddress",
        "percentageOfPlacementsToScore",
        "extenders",
        "delayCacheUntilActive",
    }
)
_PROFILE_FIELDS = frozenset({"schedulerName", "percentageOfNodesToScore", "plugins", "pluginConfig"})
_PROFILE_UNMODELLED = frozenset({"percentageOfPlacementsToScore"})
#: Extension points k8sim models; every other upstream point is warned about.
_MODELLED_POINTS = ("multiPoint", "filter", "score")
_UNMODELLED_POINTS = (
    "preEnqueue",
    "queueSort",
    "preFilter",
    "postFilter",
    "preScore",
    "reserve",
    "permit",
    "preBind",
    "bind",
    "postBind",
    "placementGenerate",
    "placementScore",
    "placementFeasible",
    "podGroupPostFilter",
)
_INT32_MAX = 2**31 - 1


@dataclass
class KubeConfigResult:
    """A ``KubeSchedulerConfiguration`` mapped onto k8sim.

    Attributes:
        source: the file.
        profiles: one :class:`ProfileSpec` per upstream profile (preset ``kube-default``
            plus the changes), in file order.
        settings: a scenario's ``scheduler:`` mapping (``SchedulerSettings`` aliases:
            ``profiles`` as plain dicts, and the global ``percentageOfNodesToScore``,
            ``podInitialBackoffSeconds``, ``podMaxBackoffSeconds`` when the file sets them).
        refs: schedulerName -> the exact upstream plugin list of that profile (the
            plugins k8sim has), with per-point ``filter``/``score`` flags and weights.
        percentages: schedulerName -> effective ``percentageOfNodesToScore``.
        warnings: every field, setting or plugin k8sim does not model, by path.
    """

    source: str
    profiles: list[ProfileSpec]
    settings: dict[str, Any]
    refs: dict[str, list[Ref]]
    percentages: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def build_profiles(self, streams: Streams) -> dict[str, Profile]:
        """Profiles from the exact per-point plugin lists (:attr:`refs`), seeded from
        ``streams`` as a :class:`~k8sim.sim.Simulation` seeds its own."""
        out = {}
        for i, (name, refs) in enumerate(self.refs.items()):
            try:
                out[name] = build_profile(name, refs, streams, i, self.percentages[name]).profile
            except ValueError as e:  # args are validated on load; kept for safety
                raise ScenarioError(self.source, [(f"profiles[{i}]", str(e))]) from None
        return out


@dataclass
class _Entry:
    name: str
    weight: int | None
    path: str


@dataclass
class _Set:
    enabled: list[_Entry] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)


class _Reader(ObjectReader):
    """An :class:`ObjectReader` that also looks plugins up in the k8sim registry."""

    def __init__(self, source: str):
        super().__init__(source)
        self._plugins: dict[str, type[Plugin] | None] = {}

    def lookup(self, name: str) -> type[Plugin] | None:
        return _lookup(name, self._plugins)


def _lookup(name: str, cache: dict[str, type[Plugin] | None]) -> type[Plugin] | None:
    """The k8sim plugin class for an upstream plugin name, or None if k8sim has none
    (memoised per file: a miss scans the installed entry points)."""
    if name not in cache:
        if ":" in name:
            cache[name] = None  # a kube-scheduler config never names Python classes
        else:
            try:
                cache[name] = registry.get(name)
            except registry.PluginError:
                cache[name] = None
    return cache[name]


def _plugin_set(r: _Reader, value: Any, path: str) -> _Set:
    out = _Set()
    m = r.mapping(value, path)
    if m is None:
        return out
    for key in m:
        if key not in ("enabled", "disabled"):
            r.warn(f"{path}.{key}", "unknown field (PluginSet has enabled and disabled); ignored")
    for kind in ("enabled", "disabled"):
        items = r.sequence(m.get(kind), f"{path}.{kind}")
        for j, item in enumerate(items or []):
            where = f"{path}.{kind}[{j}]"
            p = r.mapping(item, where)
            if p is None:
                continue
            name = p.get("name")
            if not isinstance(name, str) or not name:
                r.problem(f"{where}.name", "required: a plugin name")
                continue
            for key in p:
                if key not in ("name", "weight"):
                    r.warn(f"{where}.{key}", "unknown field (Plugin has name and weight); ignored")
            weight = None
            if p.get("weight") is not None:
                w = p["weight"]
                if isinstance(w, int) and not isinstance(w, bool) and w < 0:
                    r.problem(f"{where}.weight", f"must be >= 0, got {w}")
                    continue
                weight = r.integer(w, f"{where}.weight", 0, _INT32_MAX)
                if weight is None:
                    continue
            if kind == "enabled":
                out.enabled.append(_Entry(name, weight, where))
            else:
                out.disabled.append(name)
    return out


def _merge_set(default: list[_Entry], custom: _Set) -> list[_Entry]:
    """Upstream ``mergePluginSet`` (enabled part) for a default set without disables."""
    disabled = set(custom.disabled)
    by_name = {e.name: i for i, e in enumerate(custom.enabled)}
    replaced: set[int] = set()
    out: list[_Entry] = []
    if "*" not in disabled:
        for e in default:
            if e.name in disabled:
                continue
            if e.name in by_name:
                replaced.add(by_name[e.name])
                e = custom.enabled[by_name[e.name]]
            out.append(e)
    out += [e for i, e in enumerate(custom.enabled) if i not in replaced]
    return out


def _expand(
    r: _Reader, point: str, base: type[Plugin], specific: _Set, multipoint: list[_Entry], where: str
) -> list[str]:
    """Upstream ``updatePluginList`` + ``expandMultiPointPlugins`` for one point,
    restricted to the plugins k8sim has."""
    enabled: list[str] = []
    for e in specific.enabled:
        cls = r.lookup(e.name)
        if cls is None:
            continue  # warned about once, by the caller
        if not issubclass(cls, base):
            r.problem(e.path, f"plugin {e.name} does not extend {base.__name__} (it is not a {point} plugin)")
            continue
        if e.name in enabled:
            r.problem(e.path, f"plugin {e.name} already registered at {point}")
            continue
        enabled.append(e.name)
    if "*" in specific.disabled:
        return enabled
    overrides: list[str] = []
    multi: list[str] = []
    for e in multipoint:
        cls = r.lookup(e.name)
        if cls is None or not issubclass(cls, base) or e.name in specific.disabled:
            continue
        if e.name in enabled:
            overrides.append(e.name)
            continue
        if e.name in multi:
            r.problem(f"{where}.multiPoint", f"plugin {e.name} already registered at {point}")
            continue
        multi.append(e.name)
    return [n for n in enabled if n in overrides] + multi + [n for n in enabled if n not in overrides]


def _plugin_args(r: _Reader, items: list[Any], where: str) -> dict[str, dict[str, Any]]:
    """``pluginConfig``: plugin name -> raw args (k8sim-modelled fields only), validated."""
    out: dict[str, dict[str, Any]] = {}
    for j, item in enumerate(items):
        path = f"{where}.pluginConfig[{j}]"
        m = r.mapping(item, path)
        if m is None:
            continue
        name = m.get("name")
        if not isinstance(name, str) or not name:
            r.problem(f"{path}.name", "required: a plugin name")
            continue
        for key in m:
            if key not in ("name", "args"):
                r.warn(f"{path}.{key}", "unknown field (PluginConfig has name and args); ignored")
        if name in out:
            r.problem(path, f"duplicate pluginConfig for plugin {name}")
            continue
        args = r.mapping(m.get("args"), f"{path}.args")
        if args is None:
            continue
        args = copy.deepcopy(args)
        args.pop("apiVersion", None)
        kind = args.pop("kind", None)
        if kind is not None and kind != f"{name}Args":
            r.problem(f"{path}.args.kind", f"has to match plugin args: expected {name}Args, got {kind!r}")
            continue
        cls = r.lookup(name)
        if cls is None:
            r.warn(path, f"plugin {name} is not modelled by k8sim; its args are ignored")
            continue
        accepted: set[str] = set()
        if cls.Args is not None:
            for fname, finfo in cls.Args.model_fields.items():
                accepted |= {fname, finfo.alias or fname}
        for key in list(args):
            if key not in accepted and key in UPSTREAM_ARGS_FIELDS.get(name, ()):
                r.warn(f"{path}.args.{key}", f"{name} argument not modelled by k8sim; ignored")
                del args[key]
        try:
            cls.parse_args(args)
        except ValidationError as err:
            for e in err.errors(include_url=False):
                msg = e["msg"].removeprefix("Value error, ")
                if e["type"] == "extra_forbidden":
                    msg = f"unknown {name} argument"
                loc = format_loc(e["loc"], args)
                r.problem(f"{path}.args" + (f".{loc}" if loc else ""), msg)
            continue
        except ValueError as e:
            r.problem(f"{path}.args", str(e))
            continue
        out[name] = args
    return out


def _profile(
    r: _Reader, raw: dict[str, Any], where: str, global_pct: int
) -> tuple[str, ProfileSpec, list[Ref], int] | None:
    n_problems = len(r.problems)
    for key in raw:
        if key in _PROFILE_UNMODELLED:
            r.warn(f"{where}.{key}", "not modelled by k8sim; ignored")
        elif key not in _PROFILE_FIELDS:
            r.warn(f"{where}.{key}", "unknown field (not in KubeSchedulerProfile v1); ignored")
    name = raw.get("schedulerName")
    if not isinstance(name, str) or not name:
        r.problem(f"{where}.schedulerName", "required: a non-empty scheduler name")
        name = ""
    pct = None
    if raw.get("percentageOfNodesToScore") is not None:
        pct = r.integer(raw["percentageOfNodesToScore"], f"{where}.percentageOfNodesToScore", 0, 100)

    plugins = r.mapping(raw.get("plugins"), f"{where}.plugins") or {}
    sets: dict[str, _Set] = {}
    for key, value in plugins.items():
        path = f"{where}.plugins.{key}"
        if key in _MODELLED_POINTS:
            sets[key] = _plugin_set(r, value, path)
        elif key in _UNMODELLED_POINTS:
            s = _plugin_set(r, value, path)
            if s.enabled or s.disabled:
                r.warn(
                    path,
                    "extension point not modelled by k8sim (it runs Filter and Score only; "
                    "PreFilter/PreScore work happens inside them); ignored",
                )
        else:
            r.warn(path, "unknown extension point; ignored")
    custom_mp = sets.get("multiPoint", _Set())
    filt = sets.get("filter", _Set())
    score = sets.get("score", _Set())
    for s in (custom_mp, filt, score):
        for e in s.enabled:
            if r.lookup(e.name) is None:
                r.warn(e.path, f"plugin {e.name} is not modelled by k8sim; ignored")
    args = _plugin_args(r, r.sequence(raw.get("pluginConfig"), f"{where}.pluginConfig") or [], where)
    defaults = [_Entry(n, w, "") for n, w in UPSTREAM_DEFAULT_PLUGINS]
    multipoint = _merge_set(defaults, custom_mp)
    filters = _expand(r, "filter", FilterPlugin, filt, multipoint, f"{where}.plugins")
    scores = _expand(r, "score", ScorePlugin, score, multipoint, f"{where}.plugins")
    weights: dict[str, int] = {}
    for e in score.enabled + multipoint:  # getScoreWeights: score.enabled first
        if e.name in scores and e.name not in weights:
            weights[e.name] = e.weight or 1
    if len(r.problems) > n_problems:
        return None

    order = filters + [n for n in scores if n not in filters]
    refs = [
        Ref(n, weights.get(n), dict(args.get(n, {})), filter=n in filters, score=n in scores) for n in order
    ]
    # Express the exact list as preset + changes.
    preset = {p.name: p for p in PRESETS[PRESET].plugins}
    enabled: list[PluginRef] = []
    for ref in refs:
        cls = r.lookup(ref.name)
        assert cls is not None
        is_score = issubclass(cls, ScorePlugin)
        # A plugin upstream runs at one point only is run there only by every consumer
        # of the file (``scheduler.configFile`` and ``k8sim explain --config`` build from
        # ``refs``); only the ProfileSpec approximation below runs it at both.
        p = preset.get(ref.name)
        # A plugin upstream does not score has no upstream weight: keep the preset's.
        weight = ref.weight if is_score and ref.score else (p.weight if p is not None and is_score else None)
        same = (
            p is not None
            and p.filter
            and p.score
            and not ref.args
            and (not is_score or (p.weight or 1) == (weight or 1))
        )
        if not same:
            enabled.append(PluginRef(name=ref.name, weight=weight, args=ref.args))
    disabled = [n for n in preset if n not in order]
    spec = ProfileSpec(
        scheduler_name=name,
        preset=PRESET,
        plugins=enabled,
        disabled=disabled,
        percentage_of_nodes_to_score=pct,
    )
    return name, spec, refs, global_pct if pct is None else pct


def load_kube_scheduler_configuration(path: str | Path) -> KubeConfigResult:
    """Read a ``KubeSchedulerConfiguration`` v1 file; see the module docstring."""
    p = Path(path)
    source = str(p)
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", "expected a KubeSchedulerConfiguration mapping")])
    r = _Reader(source)
    if data.get("apiVersion") != API_VERSION:
        r.problem("apiVersion", f"expected {API_VERSION!r}, got {data.get('apiVersion')!r}")
    if data.get("kind") != KIND:
        r.problem("kind", f"expected {KIND!r}, got {data.get('kind')!r}")
    r.raise_problems()
    for key in data:
        if key in _TOP_UNMODELLED:
            r.warn(key, "not modelled by k8sim; ignored")
        elif key not in _TOP_MODELLED:
            r.warn(key, "unknown field (not in KubeSchedulerConfiguration v1); ignored")

    settings: dict[str, Any] = {}
    global_pct = 0
    if data.get("percentageOfNodesToScore") is not None:
        v = r.integer(data["percentageOfNodesToScore"], "percentageOfNodesToScore", 0, 100)
        if v is not None:
            settings["percentageOfNodesToScore"] = global_pct = v
    initial, maximum = 1, 10  # upstream defaults
    if data.get("podInitialBackoffSeconds") is not None:
        v = r.integer(data["podInitialBackoffSeconds"], "podInitialBackoffSeconds", 1, 2**63 - 1)
        if v is not None:
            settings["podInitialBackoffSeconds"] = initial = v
    if data.get("podMaxBackoffSeconds") is not None:
        v = r.integer(data["podMaxBackoffSeconds"], "podMaxBackoffSeconds", 0, 2**63 - 1)
        if v is not None:
            settings["podMaxBackoffSeconds"] = maximum = v
    if maximum < initial:
        r.problem("podMaxBackoffSeconds", f"must be greater than or equal to podInitialBackoffSeconds ({initial})")

    raw_profiles = r.sequence(data.get("profiles"), "profiles")
    if raw_profiles is not None and not raw_profiles:
        raw_profiles = [{}]
    if raw_profiles is not None and len(raw_profiles) == 1 and isinstance(raw_profiles[0], dict):
        if raw_profiles[0].get("schedulerName") is None:
            raw_profiles = [{**raw_profiles[0], "schedulerName": DEFAULT_SCHEDULER}]
    specs: list[ProfileSpec] = []
    refs: dict[str, list[Ref]] = {}
    percentages: dict[str, int] = {}
    seen: dict[str, int] = {}
    for i, raw in enumerate(raw_profiles or []):
        where = f"profiles[{i}]"
        m = r.mapping(raw, where)
        if m is None:
            continue
        got = _profile(r, m, where, global_pct)
        if got is None:
            continue
        name, spec, prefs, pct = got
        if name in seen:
            r.problem(f"{where}.schedulerName", f"duplicate: {name!r} is also profiles[{seen[name]}].schedulerName")
            continue
        seen[name] = i
        specs.append(spec)
        refs[name] = prefs
        percentages[name] = pct
    r.raise_problems()
    settings["profiles"] = [s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in specs]
    return KubeConfigResult(source, specs, settings, refs, percentages, r.warnings)
