"""KubeSchedulerConfiguration (v1) -> k8sim profiles and scheduler settings.

The fixture tests/data/kube/kubescheduler.yaml is a hand-written production-like config.
Expected mappings are derived from upstream semantics, cited per case:
apis/config/v1/default_plugins.go (getDefaultPlugins, mergePluginSet),
framework/runtime/framework.go (expandMultiPointPlugins, getScoreWeights),
apis/config/validation/validation.go (ValidateKubeSchedulerConfiguration).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sim import ScenarioError, validate_scenario
from k8sim.rng import Streams
from k8sim.scheduling import registry
from k8sim.scheduling.kubeconfig import UPSTREAM_DEFAULT_PLUGINS, load_kube_scheduler_configuration
from k8sim.scheduling.profiles import PRESETS
from k8sim.sim.simulation import Simulation

DATA = Path(__file__).resolve().parents[1] / "data" / "kube"
FIXTURE = DATA / "kubescheduler.yaml"
HEAD = "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
LEAST = {"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]}
MOST = {"type": "MostAllocated", "resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}]}


def load(tmp_path: Path, body: str):
    path = tmp_path / "config.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return load_kube_scheduler_configuration(path)


def _extra_defaults() -> dict[str, int | None]:
    """Upstream default plugins k8sim has but its kube-default preset lacks: the mapping
    lists them explicitly (with the upstream default weight)."""
    preset = {r.name for r in PRESETS["kube-default"].plugins}
    return {n: w for n, w in UPSTREAM_DEFAULT_PLUGINS if n not in preset and n in registry.available()}


def explicit(spec) -> dict[str, object]:
    """The spec's explicit plugins other than those of _extra_defaults()."""
    extra = _extra_defaults()
    out = {}
    for p in spec.plugins:
        if p.name in extra and not p.args:
            assert p.weight in (extra[p.name], None), p
            continue
        out[p.name] = (p.weight, p.args)
    return out


def test_fixture_settings_and_profiles():
    cfg = load_kube_scheduler_configuration(FIXTURE)
    # Top-level percentageOfNodesToScore 50, backoffs 2 / 20, under SchedulerSettings aliases.
    assert {k: v for k, v in cfg.settings.items() if k != "profiles"} == {
        "percentageOfNodesToScore": 50,
        "podInitialBackoffSeconds": 2,
        "podMaxBackoffSeconds": 20,
    }
    default, binpack = cfg.profiles
    assert default.scheduler_name == "default-scheduler" and binpack.scheduler_name == "bin-packer"
    assert default.preset == binpack.preset == "kube-default"
    # Disabled = preset plugins upstream runs at no point. Score-only plugins disabled at
    # score are gone entirely: ImageLocality (both profiles) and
    # NodeResourcesBalancedAllocation (bin-packer), where the preset has them.
    # PodTopologySpread keeps its Filter, so it is not disabled. GpuFit is k8sim's own
    # (upstream has no such plugin), so an upstream configuration runs it nowhere.
    preset = [r.name for r in PRESETS["kube-default"].plugins]
    # RuntimeClass (k8sim's handler filter) is not an upstream plugin either.
    assert default.disabled == [n for n in preset if n in ("GpuFit", "RuntimeClass", "ImageLocality")]
    assert binpack.disabled == [
        n for n in preset if n in ("GpuFit", "RuntimeClass", "NodeResourcesBalancedAllocation", "ImageLocality")
    ]
    # default-scheduler: NodeResourcesFit gets its pluginConfig args (ignoredResourceGroups
    # dropped: k8sim has no such arg), weight 1 (the MultiPoint default); PodTopologySpread
    # is re-enabled in score.enabled with weight 3, which takes precedence over its MultiPoint
    # weight 2 (getScoreWeights), and carries its args.
    assert explicit(default) == {
        "NodeResourcesFit": (1, {"scoringStrategy": LEAST}),
        "PodTopologySpread": (
            3,
            {
                "defaultingType": "List",
                "defaultConstraints": [
                    {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
                ],
            },
        ),
        # VolumeBinding's pluginConfig args (it is modelled; no weight: filter only).
        "VolumeBinding": (None, {"bindTimeoutSeconds": 600}),
    }
    assert default.percentage_of_nodes_to_score is None  # the global 50 applies
    # bin-packer: NodeResourcesFit weight 5 (score.enabled) with MostAllocated args.
    # PodTopologySpread's Score is disabled but its Filter is not: the spec keeps the
    # preset entry (both points), which is warned about (test_fixture_warnings).
    assert explicit(binpack) == {"NodeResourcesFit": (5, {"scoringStrategy": MOST})}
    assert binpack.percentage_of_nodes_to_score == 100
    assert cfg.percentages == {"default-scheduler": 50, "bin-packer": 100}
    # settings["profiles"] are the same specs as plain data.
    assert [p["schedulerName"] for p in cfg.settings["profiles"]] == ["default-scheduler", "bin-packer"]


def test_fixture_exact_per_point_lists():
    cfg = load_kube_scheduler_configuration(FIXTURE)
    refs = {r.name: r for r in cfg.refs["bin-packer"]}
    # expandMultiPointPlugins: score.disabled PodTopologySpread removes it from Score only.
    assert refs["PodTopologySpread"].filter and not refs["PodTopologySpread"].score
    assert refs["NodeResourcesFit"].filter and refs["NodeResourcesFit"].score
    assert refs["NodeResourcesFit"].weight == 5
    assert refs["TaintToleration"].weight == 3 and refs["NodeAffinity"].weight == 2
    assert refs["InterPodAffinity"].weight == 2
    assert not refs["NodeUnschedulable"].score  # filter-only plugin
    # Profiles built from the exact lists: PodTopologySpread filters but does not score.
    profiles = cfg.build_profiles(Streams(0))
    bp = profiles["bin-packer"]
    assert "PodTopologySpread" in [f.name for f in bp.filters]
    assert "PodTopologySpread" not in [p.name for p, _ in bp.scores]
    assert dict((p.name, w) for p, w in bp.scores)["NodeResourcesFit"] == 5
    assert bp.percentage == 100 and profiles["default-scheduler"].percentage == 50
    fit = next(p for p, _ in bp.scores if p.name == "NodeResourcesFit")
    assert fit.strategy == "MostAllocated"
    # default-scheduler: ImageLocality (score.disabled) is not modelled anyway; every
    # modelled default still runs at both points.
    dref = {r.name: r for r in cfg.refs["default-scheduler"]}
    assert dref["PodTopologySpread"].weight == 3 and dref["PodTopologySpread"].filter


def test_fixture_warnings():
    cfg = load_kube_scheduler_configuration(FIXTURE)
    text = "\n".join(cfg.warnings)
    for expected in [
        "clientConnection: not modelled",
        "leaderElection: not modelled",
        "parallelism: not modelled",
        "profiles[0].pluginConfig[0].args.ignoredResourceGroups: NodeResourcesFit argument not modelled",
        "profiles[0].pluginConfig[2]: plugin DefaultPreemption is not modelled",
        "profiles[1].plugins.postFilter: extension point not modelled",
    ]:
        assert expected in text, expected
    # What k8sim models is not warned about, including PodTopologySpread at Filter only
    # (score.disabled in profiles[1]): it runs there only, as upstream.
    for modelled in ("percentageOfNodesToScore", "podInitialBackoffSeconds", "scoringStrategy", "defaultConstraints",
                     "PodTopologySpread", "VolumeBinding"):
        assert modelled not in text
    assert len(cfg.warnings) == 6, text  # VolumeBinding's args (bindTimeoutSeconds) are accepted


def test_simulation_from_the_mapped_profiles():
    """The specs drop into a scenario's scheduler section and drive a real run."""
    cfg = load_kube_scheduler_configuration(FIXTURE)
    sc = validate_scenario(
        {
            "duration_s": 10,
            "cluster": {"node_pools": [{"name": "pool", "count": 3, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
            "workloads": [
                {
                    "name": "batch",
                    "arrival": {"kind": "times", "times_s": [1, 2, 3, 4]},
                    "template": {"requests": {"cpu": "500m", "memory": "512Mi"}, "schedulerName": "bin-packer"},
                }
            ],
            "scheduler": cfg.settings,
        }
    )
    sim = Simulation(sc)
    assert set(sim.profiles) == {"default-scheduler", "bin-packer"}
    bp = sim.profiles["bin-packer"]
    weights = {p.name: w for p, w in bp.scores}
    assert weights["NodeResourcesFit"] == 5 and weights["TaintToleration"] == 3
    assert next(p for p, _ in bp.scores if p.name == "NodeResourcesFit").strategy == "MostAllocated"
    assert bp.percentage == 100 and sim.profiles["default-scheduler"].percentage == 50
    assert sc.scheduler.pod_initial_backoff_s == 2 and sc.scheduler.pod_max_backoff_s == 20
    sim.run()
    pods = sim.state.pods
    # MostAllocated with weight 5: after the first pod (a 3-way tie on empty nodes), its
    # node scores highest for every later pod (e.g. 2nd pod: cpu 1000*100/4000 = 25 vs
    # 500*100/4000 = 12), so all four pods share one node.
    nodes = {int(pods.node[i]) for i in range(pods.n)}
    assert pods.n == 4 and len(nodes) == 1


# ------------------------------------------------------------------- upstream semantics


@pytest.mark.parametrize(
    "body, name, weight",
    [
        # mergePluginSet: a custom MultiPoint entry replaces the default in place.
        ("profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: TaintToleration, weight: 7}]\n",
         "TaintToleration", 7),
        # getScoreWeights: score.enabled comes first, so its weight wins over MultiPoint's.
        ("profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: NodeAffinity, weight: 7}]\n"
         "    score:\n      enabled: [{name: NodeAffinity, weight: 4}]\n", "NodeAffinity", 4),
        # getScoreWeights: a score.enabled entry without weight is 0 -> 1 (not the default 3).
        ("profiles:\n- plugins:\n    score:\n      enabled: [{name: TaintToleration}]\n", "TaintToleration", 1),
        # weight 0 -> 1 ("a weight of zero is not permitted").
        ("profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: InterPodAffinity, weight: 0}]\n",
         "InterPodAffinity", 1),
    ],
)
def test_score_weights(tmp_path, body, name, weight):
    cfg = load(tmp_path, body)
    ref = next(r for r in cfg.refs["default-scheduler"] if r.name == name)
    assert ref.weight == weight and ref.filter and ref.score
    spec = cfg.profiles[0]
    assert {p.name: p.weight for p in spec.plugins}[name] == weight
    assert cfg.warnings == []


def test_multipoint_disable_all_then_enable_one(tmp_path):
    # mergePluginSet with disabled "*": no default survives; the custom plugin is appended.
    cfg = load(tmp_path, "profiles:\n- plugins:\n    multiPoint:\n      disabled: [{name: '*'}]\n"
                         "      enabled: [{name: NodeResourcesFit, weight: 2}]\n")
    assert [(r.name, r.weight, r.filter, r.score) for r in cfg.refs["default-scheduler"]] == [
        ("NodeResourcesFit", 2, True, True)
    ]
    spec = cfg.profiles[0]
    assert sorted(spec.disabled) == sorted(r.name for r in PRESETS["kube-default"].plugins if r.name != "NodeResourcesFit")
    assert [(p.name, p.weight) for p in spec.plugins] == [("NodeResourcesFit", 2)]


def test_filter_disable_all_keeps_scores(tmp_path):
    # expandMultiPointPlugins: filter.disabled "*" skips MultiPoint expansion at Filter only.
    cfg = load(tmp_path, "profiles:\n- plugins:\n    filter:\n      disabled: [{name: '*'}]\n")
    refs = cfg.refs["default-scheduler"]
    assert not any(r.filter for r in refs)
    assert {r.name for r in refs if r.score} >= {"TaintToleration", "NodeAffinity", "NodeResourcesFit"}
    # Each both-point plugin that lost its Filter runs at Score only, as upstream: nothing
    # to warn about.
    assert cfg.warnings == []
    prof = cfg.build_profiles(Streams(0))["default-scheduler"]
    assert prof.filters == []
    assert {p.name for p, _ in prof.scores} >= {"TaintToleration", "NodeAffinity", "NodeResourcesFit"}
    # NodeUnschedulable is filter-only: disabled at Filter means not run at all.
    assert "NodeUnschedulable" in cfg.profiles[0].disabled


def test_point_specific_enable_orders_overrides_first(tmp_path):
    # expandMultiPointPlugins order: overrides (in the point's order), then MultiPoint plugins,
    # then the point's other enabled plugins. NodeResourcesFit is re-listed at filter -> first.
    cfg = load(tmp_path, "profiles:\n- plugins:\n    filter:\n      enabled: [{name: NodeResourcesFit}]\n")
    filters = [r.name for r in cfg.refs["default-scheduler"] if r.filter]
    assert filters[0] == "NodeResourcesFit"
    assert filters.count("NodeResourcesFit") == 1


def test_unmodelled_plugins_warn(tmp_path):
    cfg = load(tmp_path, "profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: CapacityScheduling}]\n"
                         "    filter:\n      enabled: [{name: DynamicResources}]\n"
                         "    preBind:\n      enabled: [{name: VolumeBinding}]\n")
    text = "\n".join(cfg.warnings)
    assert "profiles[0].plugins.multiPoint.enabled[0]: plugin CapacityScheduling is not modelled" in text
    assert "profiles[0].plugins.filter.enabled[0]: plugin DynamicResources is not modelled" in text
    assert "profiles[0].plugins.preBind: extension point not modelled" in text
    assert [r.name for r in cfg.refs["default-scheduler"]][:1] == ["NodeUnschedulable"]


def test_default_profile_names(tmp_path):
    # v1 defaulting: no profiles -> one; a single profile without a name -> default-scheduler.
    assert [p.scheduler_name for p in load(tmp_path, "").profiles] == ["default-scheduler"]
    assert [p.scheduler_name for p in load(tmp_path, "profiles:\n- {}\n").profiles] == ["default-scheduler"]
    cfg = load(tmp_path, "")
    assert cfg.profiles[0].plugins == [] or set(p.name for p in cfg.profiles[0].plugins) <= set(_extra_defaults())
    assert cfg.settings["profiles"][0]["schedulerName"] == "default-scheduler"


@pytest.mark.parametrize(
    "body, path, fragment",
    [
        ("profiles:\n- plugins:\n    score:\n      enabled: [{name: NodeResourcesFit, weight: -1}]\n",
         "profiles[0].plugins.score.enabled[0].weight", "must be >= 0"),
        ("profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: Fastest}}\n",
         "profiles[0].pluginConfig[0].args.scoringStrategy.type", "LeastAllocated"),
        ("profiles:\n- pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStratgy: {}}\n",
         "profiles[0].pluginConfig[0].args.scoringStratgy", "unknown NodeResourcesFit argument"),
        ("profiles:\n- pluginConfig:\n  - name: InterPodAffinity\n    args: {kind: NodeAffinityArgs}\n",
         "profiles[0].pluginConfig[0].args.kind", "has to match plugin args"),
        ("profiles:\n- pluginConfig:\n  - {name: InterPodAffinity}\n  - {name: InterPodAffinity}\n",
         "profiles[0].pluginConfig[1]", "duplicate pluginConfig"),
        ("profiles:\n- {schedulerName: a}\n- {schedulerName: a}\n", "profiles[1].schedulerName", "duplicate"),
        ("profiles:\n- {schedulerName: a}\n- {}\n", "profiles[1].schedulerName", "required"),
        ("profiles:\n- plugins:\n    filter:\n      enabled: [{name: FirstFit}]\n",
         "profiles[0].plugins.filter.enabled[0]", "does not extend FilterPlugin"),
        ("profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: Tetris}, {name: Tetris}]\n",
         "profiles[0].plugins.multiPoint", "already registered"),
        ("percentageOfNodesToScore: 150\n", "percentageOfNodesToScore", "not in valid range [0, 100]"),
        ("podInitialBackoffSeconds: 0\n", "podInitialBackoffSeconds", "not in valid range"),
        ("podInitialBackoffSeconds: 5\npodMaxBackoffSeconds: 2\n", "podMaxBackoffSeconds", "greater than or equal"),
        ("profiles: {a: 1}\n", "profiles", "expected a list"),
    ],
)
def test_bad_config(tmp_path, body, path, fragment):
    with pytest.raises(ScenarioError) as info:
        load(tmp_path, body)
    problems = info.value.problems
    assert any(p == path and fragment in m for p, m in problems), problems
    assert str(tmp_path / "config.yaml") in str(info.value)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("apiVersion: kubescheduler.config.k8s.io/v1beta3\nkind: KubeSchedulerConfiguration\n",
         "apiVersion: expected 'kubescheduler.config.k8s.io/v1'"),
        ("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeProxyConfiguration\n", "kind: expected"),
        ("profiles: [\n", "YAML syntax error"),
        ("- just\n- a list\n", "expected a KubeSchedulerConfiguration mapping"),
    ],
)
def test_not_a_config(tmp_path, text, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=fragment.replace("[", r"\[").replace("(", r"\(")):
        load_kube_scheduler_configuration(path)


def test_plugin_enabled_at_one_point_runs_there_without_warning(tmp_path):
    # expandMultiPointPlugins: with multiPoint disabled "*", a plugin listed only in
    # filter.enabled runs at Filter only (its Score is never enabled). Every consumer of
    # the file runs the exact per-point lists, so there is nothing to warn about.
    cfg = load(tmp_path, "profiles:\n- plugins:\n    multiPoint:\n      disabled: [{name: '*'}]\n"
                         "    filter:\n      enabled: [{name: NodeResourcesFit}, {name: TaintToleration}]\n"
                         "    score:\n      enabled: [{name: ImageLocality}]\n")
    assert not any("runs" in w and "both" in w for w in cfg.warnings), cfg.warnings
    assert cfg.warnings == []
    prof = cfg.build_profiles(Streams(0))["default-scheduler"]
    assert [f.name for f in prof.filters] == ["NodeResourcesFit", "TaintToleration"]
    assert [(p.name, w) for p, w in prof.scores] == [("ImageLocality", 1)]
