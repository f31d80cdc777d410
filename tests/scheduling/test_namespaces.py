"""Namespaces of pod (anti-)affinity terms, as upstream.

Upstream: pkg/scheduler/framework/types.go ``getNamespacesFromPodAffinityTerm`` (a term
with neither ``namespaces`` nor ``namespaceSelector`` covers its own pod's namespace) and
``AffinityTerm.Matches`` (namespace in ``Namespaces`` or ``NamespaceSelector`` matches
the namespace's labels, and the label selector matches); ``LabelSelectorAsSelector``
turns a nil selector into Nothing and an empty one into Everything.
"""

from __future__ import annotations

import pytest

from k8sim import validate_scenario
from k8sim.config.k8s_types import PodAffinityTerm
from k8sim.scheduling.explain import explain_pod
from k8sim.scheduling.plugins.inter_pod_affinity import term_matches
from k8sim.sim.simulation import Simulation

HOST = "kubernetes.io/hostname"


def t(**extra) -> PodAffinityTerm:
    return PodAffinityTerm.model_validate({"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": HOST,
                                           **extra})


CACHE = {"app": "cache"}


@pytest.mark.parametrize(
    "term, owner, target, target_labels, expected",
    [
        # Neither field: the owner's namespace only.
        (t(), "a", "a", {}, True),
        (t(), "a", "b", {}, False),
        # namespaces lists the namespaces (the owner's is not added).
        (t(namespaces=["b"]), "a", "b", {}, True),
        (t(namespaces=["b"]), "a", "a", {}, False),
        # An empty namespaceSelector selects every namespace.
        (t(namespaceSelector={}), "a", "z", {}, True),
        # A selector matches namespace labels; namespaces and selector are ORed.
        (t(namespaceSelector={"matchLabels": {"tier": "db"}}), "a", "b", {"tier": "db"}, True),
        (t(namespaceSelector={"matchLabels": {"tier": "db"}}), "a", "a", {"tier": "web"}, False),
        (t(namespaces=["a"], namespaceSelector={"matchLabels": {"tier": "db"}}), "a", "a", {}, True),
    ],
)
def test_term_namespaces(term, owner, target, target_labels, expected):
    assert term_matches(term, CACHE, owner, target, target_labels) is expected


def test_nil_label_selector_matches_nothing_in_any_namespace():
    term = PodAffinityTerm.model_validate({"topologyKey": HOST, "namespaceSelector": {}})
    assert term_matches(term, CACHE, "a", "b", {}) is False


def scenario(template_affinity: dict, namespace: str = "team-b", namespaces: list | None = None) -> dict:
    return {
        "cluster": {"nodes": [{"name": n, "allocatable": {"cpu": "4", "memory": "8Gi"}} for n in ("n1", "n2")]},
        "namespaces": namespaces or [],
        "initial_pods": [
            {"name": "cache-a", "nodeName": "n1", "namespace": "team-a", "labels": CACHE},
            {"name": "cache-b", "nodeName": "n2", "namespace": "team-b", "labels": CACHE},
        ],
        "workloads": [{"name": "api", "arrival": {"kind": "times", "times_s": [1]},
                       "template": {"namespace": namespace, "requests": {"cpu": "100m"},
                                    "affinity": {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                                        {"labelSelector": {"matchLabels": CACHE}, "topologyKey": HOST,
                                         **template_affinity}]}}}}],
    }


def feasible(data: dict) -> list[str]:
    sim = Simulation(validate_scenario(data))
    shape = next(s for s in sim.state.shapes if s.workload == 0)
    exp = explain_pod(sim.state, sim.profiles["default-scheduler"], shape, "api-0")
    return [exp.nodes[int(i)] for i in exp.feasible]


def test_scenario_pods_in_namespaces():
    # api (team-b) with a plain term: only team-b's cache (n2) counts.
    assert feasible(scenario({})) == ["n2"]
    # The same pod in team-a: only team-a's cache (n1).
    assert feasible(scenario({}, namespace="team-a")) == ["n1"]
    # namespaceSelector over the scenario's namespace labels: team-a is tier=backend.
    labels = [{"name": "team-a", "labels": {"tier": "backend"}}]
    assert feasible(scenario({"namespaceSelector": {"matchLabels": {"tier": "backend"}}}, namespaces=labels)) == ["n1"]
    # Both namespaces listed: either cache counts.
    assert feasible(scenario({"namespaces": ["team-a", "team-b"]})) == ["n1", "n2"]
