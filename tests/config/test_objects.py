"""Tests of k8sim.config.objects: the lenient reader both Kubernetes object readers share."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pydantic import TypeAdapter

from k8sim.config.k8s_types import ContainerPort
from k8sim.config.loader import ScenarioError
from k8sim.config.objects import ObjectReader


def test_absent_values_are_empty_and_wrong_types_are_problems():
    r = ObjectReader("f.yaml")
    assert r.mapping(None, "a") == {} and r.sequence(None, "b") == []
    assert r.mapping([1], "a") is None and r.sequence({"x": 1}, "b") is None
    assert r.mapping_or_empty("text", "c") == {} and r.sequence_or_empty(3, "d") == []
    assert r.problems == [
        ("a", "expected a mapping, got list"),
        ("b", "expected a list, got dict"),
        ("c", "expected a mapping, got str"),
        ("d", "expected a list, got int"),
    ]
    with pytest.raises(ScenarioError) as err:
        r.raise_problems()
    assert err.value.problems == r.problems


def test_no_problem_raises_nothing():
    ObjectReader("f.yaml").raise_problems()


def test_integers_strings_and_resources():
    r = ObjectReader("f.yaml")
    assert r.integer(5, "i", 0, 10) == 5
    assert r.integer(True, "j", 0, 10) is None  # a YAML boolean is not an integer
    assert r.integer(11, "k", 0, 10) is None
    assert r.strings({"a": "b"}, "s") == {"a": "b"}
    assert r.strings({"a": 1}, "t") == {}
    assert r.resources({"cpu": "250m", "memory": "1Gi"}, "res") == {
        "cpu": Fraction(1, 4),
        "memory": Fraction(2**30),
    }
    assert r.resources({"cpu": "-1"}, "neg") == {}
    assert [p for p, _ in r.problems] == ["j", "k", "t.a", "neg.cpu"]


def test_grouped_warnings_count_and_show_three_examples():
    r = ObjectReader("f.yaml")
    for name in "abcde":
        r.group("pod(s) with something", name)
    r.warn("x.y", "ignored")
    r.flush()
    assert r.warnings == ["x.y: ignored", "5 pod(s) with something: a, b, c and 2 more"]


def test_lenient_drops_unknown_keys_with_a_warning_and_reports_real_errors():
    ports = TypeAdapter(list[ContainerPort])
    r = ObjectReader("f.yaml")
    data = [{"containerPort": 80, "hostPort": 8080, "fancy": True}]
    assert r.lenient(ports, data, "p") == [{"containerPort": 80, "hostPort": 8080}]
    assert data[0]["fancy"] is True  # the input is not changed
    r.flush()
    assert r.warnings == ["1 field(s) k8sim does not model, ignored: p[0].fancy"]
    assert r.lenient(ports, [{"containerPort": "eighty"}], "q") is None
    assert r.problems and r.problems[0][0] == "q[0].containerPort"
