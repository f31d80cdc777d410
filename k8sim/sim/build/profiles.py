"""Scheduler profiles from the scenario: presets with the scenario's plugin changes, or a
KubeSchedulerConfiguration file; DefaultPreemption as PostFilter; the checks that need
built profiles (every workload's ``schedulerName`` exists, GPU pods meet GpuFit)."""

from __future__ import annotations

from pathlib import Path

from k8sim.config.loader import ScenarioError, read_yaml
from k8sim.config.scenario import DEFAULT_SCHEDULER, Scenario, SchedulerSettings
from k8sim.rng import Streams
from k8sim.scheduling.framework import NodePriority, Profile
from k8sim.scheduling.plugins.base import FilterPlugin
from k8sim.scheduling.policy import PolicyError, build_policy
from k8sim.scheduling.preemption import DefaultPreemption
from k8sim.scheduling.profiles import PRESETS, Ref, build_profile, merge
from k8sim.scheduling.registry import PluginError, plugin_search_path
from k8sim.scheduling.registry import get as get_plugin


def preemption_args(raw: dict) -> dict[str, int]:
    """DefaultPreemptionArgs (upstream names and validation ranges)."""
    known = {"minCandidateNodesPercentage": "min_candidate_nodes_percentage",
             "minCandidateNodesAbsolute": "min_candidate_nodes_absolute"}
    out = {}
    for k, v in raw.items():
        if k not in known:
            raise ValueError(f"unknown field {k!r} (expected one of {sorted(known)})")
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"{k} must be an integer")
        out[known[k]] = v
    pct = out.get("min_candidate_nodes_percentage", 10)
    absolute = out.get("min_candidate_nodes_absolute", 100)
    if not 0 <= pct <= 100:
        raise ValueError("minCandidateNodesPercentage must be in [0, 100]")
    if absolute < 0 or (pct == 0 and absolute == 0):
        raise ValueError("minCandidateNodesAbsolute must be >= 0, and not both 0")
    return out


def module_plugins(scenario: Scenario) -> list[str]:
    """The ``module:Class`` plugin names of a scenario's profiles (importing one runs
    its module's code)."""
    return sorted({p.name for prof in scenario.scheduler.profiles for p in prof.plugins if ":" in p.name})


def without_module_plugins(scenario: Scenario) -> Scenario:
    """``scenario`` with its ``module:Class`` plugins left out of the profiles, so that
    building it imports nothing (``k8sim validate`` without ``--check-plugins``)."""
    profiles = [prof.model_copy(update={"plugins": [p for p in prof.plugins if ":" not in p.name]})
                for prof in scenario.scheduler.profiles]
    scheduler = scenario.scheduler.model_copy(update={"profiles": profiles})
    return scenario.model_copy(update={"scheduler": scheduler}).with_source(scenario.source)


def build_profiles(scenario: Scenario, streams: Streams, warnings: list[str],
                   inflation: bool = False) -> tuple[dict[str, Profile], SchedulerSettings]:
    """The run's profiles by ``schedulerName`` and its scheduler settings (a
    configuration file's queue settings replace the scenario's). With ``tieBreak:
    nodePriority`` (the default of inflation replays) every profile breaks ties by one
    per-run random node priority."""
    settings = scenario.scheduler
    source = Path(scenario.source)
    # A "module:Class" plugin beside the scenario file imports without PYTHONPATH.
    search = [source.parent] if source.suffix and source.is_file() else []
    with plugin_search_path(*search):
        if settings.config_file is not None:
            profiles, settings = _profiles_from_config(scenario, settings.config_file, streams, warnings)
        else:
            profiles = _profiles_from_scenario(scenario, streams, warnings)
    _check_scheduler_names(scenario, profiles)
    _check_gpu_filters(scenario, profiles)
    tie_break = settings.tie_break or ("nodePriority" if inflation else "random")
    if tie_break == "nodePriority":
        priority = NodePriority(streams.generator("node-priority"))
        for prof in profiles.values():
            prof.node_priority = priority
    for prof in profiles.values():
        prof.incremental = settings.incremental
    return profiles, settings


def _profiles_from_scenario(scenario: Scenario, streams: Streams, warnings: list[str]) -> dict[str, Profile]:
    settings = scenario.scheduler
    profiles: dict[str, Profile] = {}
    problems = []
    for i, spec in enumerate(settings.profiles):
        where = f"scheduler.profiles[{i}]"
        preset = PRESETS.get(spec.preset)
        if preset is None:
            problems.append((f"{where}.preset", f"unknown preset {spec.preset!r}; available: {sorted(PRESETS)}"))
            continue
        raw_preemption: dict = {}
        for p in spec.plugins:
            if p.name == "DefaultPreemption":
                raw_preemption = dict(p.args)
        enabled = [Ref(p.name, p.weight, dict(p.args)) for p in spec.plugins if p.name != "DefaultPreemption"]
        try:
            refs = merge(preset.plugins, enabled, list(spec.disabled))
        except ValueError as e:
            problems.append((f"{where}.plugins", str(e)))
            continue
        percentage = spec.percentage_of_nodes_to_score
        if percentage is None:
            percentage = preset.percentage_of_nodes_to_score
        if percentage is None:
            percentage = settings.percentage_of_nodes_to_score
        try:
            built = build_profile(spec.scheduler_name, refs, streams, i, percentage)
        except (PluginError, ValueError) as e:
            problems.append((f"{where}.plugins", str(e)))
            continue
        warnings.extend(built.warnings)
        if spec.policy is not None:
            try:
                built.profile.policy = build_policy(spec.policy.name, spec.policy.args)
            except PolicyError as e:
                problems.append((f"{where}.policy", str(e)))
        if "DefaultPreemption" not in spec.disabled and "*" not in spec.disabled:
            try:
                built.profile.post_filter = DefaultPreemption(
                    streams.generator("preemption", i), **preemption_args(raw_preemption)
                )
            except ValueError as e:
                problems.append((f"{where}.plugins", f"plugin DefaultPreemption: bad args: {e}"))
        profiles[spec.scheduler_name] = built.profile
    if problems:
        raise ScenarioError(scenario.source, problems)
    return profiles


def _profiles_from_config(scenario: Scenario, path: str, streams: Streams,
                          warnings: list[str]) -> tuple[dict[str, Profile], SchedulerSettings]:
    """Profiles from a KubeSchedulerConfiguration file (exact per-point plugin lists).

    Its global percentageOfNodesToScore and backoff settings replace the scenario's;
    every profile gets DefaultPreemption unless the file disables it.
    """
    from k8sim.scheduling.kubeconfig import load_kube_scheduler_configuration

    result = load_kube_scheduler_configuration(path)
    warnings.extend(f"{path}: {w}" for w in result.warnings)
    profiles = result.build_profiles(streams)
    settings = scenario.scheduler
    queue = {k: v for k, v in result.settings.items() if k in ("podInitialBackoffSeconds", "podMaxBackoffSeconds")}
    if queue:
        merged = settings.model_dump(by_alias=True, exclude={"profiles", "config_file"})
        merged.update(queue)
        settings = SchedulerSettings.model_validate(merged)
    raw = read_yaml(Path(path))
    postfilter_off: dict[str, bool] = {}
    for p in (raw.get("profiles") or []) if isinstance(raw, dict) else []:
        plugins = (p or {}).get("plugins") or {}
        names = set()
        for point in ("postFilter", "multiPoint"):
            for d in ((plugins.get(point) or {}).get("disabled") or []):
                names.add((d or {}).get("name"))
        postfilter_off[(p or {}).get("schedulerName", DEFAULT_SCHEDULER)] = bool(names & {"DefaultPreemption", "*"})
    for i, (name, prof) in enumerate(profiles.items()):
        if not postfilter_off.get(name, False):
            prof.post_filter = DefaultPreemption(streams.generator("preemption", i))
        if not any(f.name == "GpuFit" for f in prof.filters):
            # Upstream has no GpuFit (GPUs are an extended resource there); k8sim's
            # per-device model needs it, so every profile from a file gets it.
            gpu_fit = get_plugin("GpuFit")()
            assert isinstance(gpu_fit, FilterPlugin)
            prof.add_filter(gpu_fit)
    return profiles, settings


def _check_gpu_filters(scenario: Scenario, profiles: dict[str, Profile]) -> None:
    """A profile that schedules GPU pods must run the GpuFit filter, or it could bind
    a pod to a node without free devices: reject that before the run starts."""
    problems = []
    for i, w in enumerate(scenario.workloads):
        if w.template.gpu is None:
            continue
        prof = profiles.get(w.template.scheduler_name)
        if prof is not None and not any(f.name == "GpuFit" for f in prof.filters):
            problems.append((
                f"workloads[{i}].template.gpu",
                f"profile {w.template.scheduler_name!r} has no GpuFit filter (it is disabled), "
                "so it cannot place GPU pods",
            ))
    if problems:
        raise ScenarioError(scenario.source, problems)


def _check_scheduler_names(scenario: Scenario, profiles: dict[str, Profile]) -> None:
    problems = []
    for i, w in enumerate(scenario.workloads):
        if w.template.scheduler_name not in profiles:
            problems.append((
                f"workloads[{i}].template.schedulerName",
                f"no scheduler profile named {w.template.scheduler_name!r} (available: {sorted(profiles)})",
            ))
    if problems:
        raise ScenarioError(scenario.source, problems)
