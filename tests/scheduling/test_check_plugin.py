"""check_plugin: passes for the built-in plugins, names the broken rule for broken ones."""

from __future__ import annotations

import numpy as np
import pytest

from k8sim.scheduling.check import PluginCheckError, check_plugin
from k8sim.scheduling.plugins.base import FilterPlugin, ScorePlugin
from k8sim.scheduling.plugins.best_fit import BestFit
from k8sim.scheduling.plugins.drf import DominantResourceFairness
from k8sim.scheduling.plugins.first_fit import FirstFit
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.scheduling.plugins.random_score import RandomScore
from k8sim.scheduling.plugins.tetris import Tetris
from k8sim.scheduling.plugins.worst_fit import WorstFit


@pytest.mark.parametrize(
    "plugin",
    [FirstFit, BestFit, WorstFit, Tetris, DominantResourceFairness, RandomScore, NodeResourcesFit,
     NodeResourcesFit.with_strategy("MostAllocated", (("cpu", 2), ("example.com/gpu", 1)))],
    ids=lambda p: getattr(p, "name", type(p).__name__),
)
def test_builtin_plugins_pass(plugin):
    check_plugin(plugin)


def test_args_are_parsed():
    check_plugin(BestFit, args={"resources": [{"name": "cpu", "weight": 3}, {"name": "example.com/gpu"}]})
    with pytest.raises(PluginCheckError, match="bad args"):
        check_plugin(BestFit, args={"resources": [{"name": "cpu", "weight": 0}]})


def test_error_is_a_value_error():
    assert issubclass(PluginCheckError, ValueError)


# ----------------------------------------------------------------------------- broken plugins


class FloatScore(ScorePlugin):
    name = "FloatScore"

    def score(self, state, pod, candidates):
        return np.full(candidates.size, 50.0)  # float64: not allowed


class BoolScore(ScorePlugin):
    name = "BoolScore"

    def score(self, state, pod, candidates):
        return candidates == candidates.min()  # bool, not integer scores


class ListScore(ScorePlugin):
    name = "ListScore"

    def score(self, state, pod, candidates):
        return [0] * candidates.size


class ExtraScore(ScorePlugin):
    name = "ExtraScore"

    def score(self, state, pod, candidates):
        return np.zeros(candidates.size + 1, dtype=np.int64)  # one too many


class AllNodesScore(ScorePlugin):
    name = "AllNodesScore"

    def score(self, state, pod, candidates):
        return state.nodes.free[0] // 1000  # over all N nodes instead of the K candidates


class TooHigh(ScorePlugin):
    name = "TooHigh"

    def score(self, state, pod, candidates):
        return state.nodes.free[0, candidates] // 10  # milli-CPU / 10: well above 100


class Negative(ScorePlugin):
    name = "Negative"

    def score(self, state, pod, candidates):
        return np.zeros(candidates.size, dtype=np.int64)

    def normalize(self, pod, scores):
        return scores - 1


class IntFilter(FilterPlugin):
    name = "IntFilter"

    def filter(self, state, pod):
        return np.ones(state.nodes.n, dtype=np.int64)


class ShortFilter(FilterPlugin):
    name = "ShortFilter"

    def filter(self, state, pod):
        return np.ones(state.nodes.n - 1, dtype=bool)


class BadReasons(FilterPlugin):
    name = "BadReasons"

    def filter(self, state, pod):
        return state.nodes.free[0] > 2000

    def reasons(self, state, pod, rejected):
        return {"too small": -1}


class UnseededScore(ScorePlugin):
    name = "UnseededScore"

    def score(self, state, pod, candidates):
        return np.random.default_rng().integers(0, 101, size=candidates.size)  # not self.rng


class UnseededAtInit(ScorePlugin):
    name = "UnseededAtInit"

    def __init__(self, args=None):
        super().__init__(args)
        self.gen = np.random.default_rng()  # unseeded, made once per instance

    def score(self, state, pod, candidates):
        return self.gen.integers(0, 101, size=candidates.size)


class UnseededPreScore(ScorePlugin):
    name = "UnseededPreScore"

    def pre_score(self, state, pod):
        return bool(np.random.default_rng().random() < 0.5)  # skips at random

    def score(self, state, pod, candidates):
        return np.zeros(candidates.size, dtype=np.int64)


class MutatesInScore(ScorePlugin):
    name = "MutatesInScore"

    def score(self, state, pod, candidates):
        free = state.nodes.free
        free[0, candidates] -= 1  # writes into the cluster's table
        return np.zeros(candidates.size, dtype=np.int64)


class MutatesInFilter(FilterPlugin):
    name = "MutatesInFilter"

    def filter(self, state, pod):
        state.nodes.unschedulable[:] = False
        return np.ones(state.nodes.n, dtype=bool)


class MutatesPod(ScorePlugin):
    name = "MutatesPod"

    def score(self, state, pod, candidates):
        pod.requests[0] += 1
        return np.zeros(candidates.size, dtype=np.int64)


class SortsCandidates(ScorePlugin):
    name = "SortsCandidates"

    def score(self, state, pod, candidates):
        candidates.sort()
        return np.zeros(candidates.size, dtype=np.int64)


class Raises(ScorePlugin):
    name = "Raises"

    def score(self, state, pod, candidates):
        return state.nodes.labels["no-such-label"][candidates]


class NoName(ScorePlugin):
    def score(self, state, pod, candidates):
        return np.zeros(candidates.size, dtype=np.int64)


class NotAPlugin:
    name = "NotAPlugin"


class FalselyUniform(ScorePlugin):
    name = "FalselyUniform"

    def score(self, state, pod, candidates):
        return (candidates % 2 * 50).astype(np.int64)

    def uniform_score(self, state, pod):
        return True  # wrong: odd nodes score 50, even ones 0


class SharedColumnsDiffer(ScorePlugin):
    name = "SharedColumnsDiffer"

    def score(self, state, pod, candidates):
        return np.zeros(candidates.size, dtype=np.int64)

    def score_with(self, state, pod, candidates, columns):
        return columns.alloc()[0] % 7  # not what score() gives


BROKEN = [
    (FloatScore, r"score\(\) must return integer scores \(int64\), got dtype float64"),
    (BoolScore, r"score\(\) must return integer scores \(int64\), got dtype bool"),
    (ListScore, r"score\(\) must return a numpy ndarray, got list"),
    (ExtraScore, r"score\(\) returned shape \(\d+,\), expected \(\d+,\) \(one score per candidate"),
    (AllNodesScore, r"score\(\) returned shape \(3,\), expected \(\d+,\)"),
    (TooHigh, r"normalized scores must lie in \[0, 100\], got \[\d+, \d+\]"),
    (Negative, r"normalized scores must lie in \[0, 100\], got \[-1, -1\]"),
    (IntFilter, r"filter\(\) must return a bool array, got dtype int64"),
    (ShortFilter, r"filter\(\) returned shape \(2,\), expected \(3,\) \(one entry per node"),
    (BadReasons, r"reasons\(\) must return a dict of reason \(str\) -> node count"),
    (UnseededScore, r"plugin UnseededScore is not deterministic: .*self\.rng"),
    (UnseededAtInit, r"plugin UnseededAtInit is not deterministic"),
    (UnseededAtInit(), r"plugin UnseededAtInit is not deterministic"),  # an instance is rebuilt too
    (UnseededPreScore, r"plugin UnseededPreScore is not deterministic: .*pre_score\(\)"),
    (MutatesInScore, r"mutated the cluster state in score\(\) .*nodes\.free"),
    (MutatesInFilter, r"mutated the cluster state in filter\(\) .*nodes\.unschedulable"),
    (MutatesPod, r"mutated the cluster state in score\(\) .*pod\.requests"),
    (SortsCandidates, r"score\(\) modified the candidates array"),
    (Raises, r"score\(\) raised KeyError: 'no-such-label' \(cluster 0 \(3 nodes\), pod \d+\)"),
    (NoName, r"NoName has no name"),
    (NotAPlugin, r"not a FilterPlugin or ScorePlugin"),
    (FalselyUniform, r"uniform_score\(\) is True but the normalized scores differ between nodes"),
    (SharedColumnsDiffer, r"score_with\(\) differs from score\(\)"),
]


@pytest.mark.parametrize(
    "plugin, message", BROKEN,
    ids=[p.__name__ if isinstance(p, type) else f"{type(p).__name__}()" for p, _ in BROKEN],
)
def test_broken_plugins_fail(plugin, message):
    with pytest.raises(PluginCheckError, match=message):
        check_plugin(plugin)


def test_normal_filter_is_not_flagged_by_mutation_check_of_pod_cache():
    # Per-shape caches (pod.mask_cache / pod.cache) are the plugin's to write.
    class Cached(FilterPlugin):
        name = "Cached"

        def filter(self, state, pod):
            hit = pod.mask_cache.get(self.name)
            if hit is not None and hit[0] == state.nodes.version:
                return hit[1]
            mask = ~state.nodes.unschedulable
            pod.mask_cache[self.name] = (state.nodes.version, mask)
            return mask

    check_plugin(Cached)


# ---------------------------------------------------------------------- node-local declarations


def _node_local_builtins():
    from k8sim.scheduling import registry

    out = []
    for name in registry.available():
        cls = registry.get(name)
        if cls.node_local:
            out.append(cls)
    return out


@pytest.mark.parametrize("plugin", _node_local_builtins(), ids=lambda p: p.name)
def test_builtin_node_local_plugins_pass(plugin):
    # Every built-in that declares node_local passes the node-locality checks too.
    check_plugin(plugin)


class CandidateRelative(ScorePlugin):
    """FirstFit's rule (relative to the candidates) wrongly declared node-local."""

    name = "CandidateRelative"
    node_local = True

    def score(self, state, pod, candidates):
        return np.where(candidates == candidates.min(), 100, 0).astype(np.int64)


class WrongFilterNodes(FilterPlugin):
    name = "WrongFilterNodes"
    node_local = True

    def filter(self, state, pod):
        return ~state.nodes.unschedulable

    def filter_nodes(self, state, pod, nodes):
        return np.ones(nodes.size, dtype=bool)  # forgets the cordoned nodes


class WrongFilterOne(FilterPlugin):
    name = "WrongFilterOne"
    node_local = True

    def filter(self, state, pod):
        return ~state.nodes.unschedulable

    def filter_one(self, state, pod):
        return lambda nodes, node: True  # forgets the cordoned nodes


class WrongScoreOne(ScorePlugin):
    """Free CPU in cores; its one-node function rounds instead of truncating."""

    name = "WrongScoreOne"
    node_local = True

    def score(self, state, pod, candidates):
        return state.nodes.free[0, candidates] // 1000

    def score_one(self, state, pod):
        return lambda nodes, node: int(round(nodes.free.item(0, node) / 1000))


class FloatScoreOne(WrongScoreOne):
    name = "FloatScoreOne"

    def score_one(self, state, pod):
        return lambda nodes, node: float(nodes.free.item(0, node) // 1000)  # right value, wrong type


@pytest.mark.parametrize("plugin, message", [
    (CandidateRelative, r"declares node_local, but score\(\) of some candidates depends on"),
    (WrongFilterNodes, r"declares node_local, but filter_nodes\(\) over nodes"),
    (WrongFilterOne, r"the function from filter_one\(\) differs from filter\(\)"),
    (WrongScoreOne, r"the function from score_one\(\) differs from score\(\)"),
    (FloatScoreOne, r"the function from score_one\(\) differs from score\(\)"),
])
def test_wrong_node_local_declarations_fail(plugin, message):
    with pytest.raises(PluginCheckError, match=message):
        check_plugin(plugin)



# ------------------------------------------------- skips_without / reads_requests declarations


def _declaring_builtins():
    from k8sim.scheduling import registry

    out = []
    for name in registry.available():
        cls = registry.get(name)
        if issubclass(cls, FilterPlugin) and (cls.skips_without or not cls.reads_requests):
            out.append(cls)
    return out


def test_the_declaring_builtins_are_the_expected_ones():
    # The filters whose PreFilter upstream skips without a field of the pod (NodeName,
    # NodePorts, the volume plugins, PodTopologySpread, k8sim's RuntimeClass and GpuFit)
    # and the request-blind ones (NodeUnschedulable, TaintToleration, NodeAffinity, ...).
    names = {c.name for c in _declaring_builtins()}
    assert {"NodeName", "NodePorts", "PodTopologySpread", "VolumeBinding", "VolumeZone", "NodeVolumeLimits",
            "VolumeRestrictions", "RuntimeClass", "GpuFit", "NodeUnschedulable", "TaintToleration",
            "NodeAffinity"} <= names


@pytest.mark.parametrize("plugin", [c for c in _declaring_builtins() if c.name != "VolumeBinding"],
                         ids=lambda p: p.name)
def test_builtin_declarations_pass(plugin):
    # VolumeBinding's Filter needs the run's volumes, which check_plugin's clusters do
    # not have; tests/storage/test_volumes.py checks its declaration in a run with them.
    check_plugin(plugin)


class SkipsWrongly(FilterPlugin):
    """Declares a Skip without host ports but filters every pod."""

    name = "SkipsWrongly"
    skips_without = ("ports",)

    def filter(self, state, pod):
        return ~state.nodes.unschedulable


class ReadsRequests(FilterPlugin):
    """Nodes whose allocatable cpu is at least twice the request: reads the requests
    (and no usage), so reads_requests = False is wrong."""

    name = "ReadsRequests"
    node_local = True
    reads_usage = False
    reads_requests = False

    def filter(self, state, pod):
        return state.nodes.alloc[0] >= 2 * pod.requests[0]


@pytest.mark.parametrize("plugin, message", [
    (SkipsWrongly, r"declares skips_without=\('ports',\), but pre_filter\(\) returned True"),
    (ReadsRequests, r"declares reads_requests = False, but a pod that differs in its requests only"),
])
def test_wrong_skip_and_request_declarations_fail(plugin, message):
    with pytest.raises(PluginCheckError, match=message):
        check_plugin(plugin)
