"""RuntimeClass admission: toleration merging and the pod's admitted spec.

Cases of ``TestIsSuperset`` and ``TestMergeTolerations`` in upstream
``pkg/util/tolerations/tolerations_test.go``, with the same named tolerations.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from k8sim.config.pods import Toleration
from k8sim.config.runtimeclass import RuntimeClass
from k8sim.controllers.runtimeclass import admit, is_superset, merge_tolerations


def _t(key: str = "", op: str = "Equal", value: str = "", effect: str = "", seconds: float | None = None) -> Toleration:
    data: dict = {"key": key, "operator": op, "value": value, "effect": effect}
    if seconds is not None:
        data["tolerationSeconds"] = seconds
    return Toleration.model_validate(data)


TOL = {
    "all": _t(op="Exists"),
    "all-nosched": _t(op="Exists", effect="NoSchedule"),
    "all-noexec": _t(op="Exists", effect="NoExecute"),
    "foo": _t("foo", "Exists"),
    "foo-bar": _t("foo", "Equal", "bar"),
    "foo-nosched": _t("foo", "Exists", effect="NoSchedule"),
    "foo-bar-nosched": _t("foo", "Equal", "bar", "NoSchedule"),
    "foo-baz-nosched": _t("foo", "Equal", "baz", "NoSchedule"),
    "faz-nosched": _t("faz", "Exists", effect="NoSchedule"),
    "faz-baz-nosched": _t("faz", "Equal", "baz", "NoSchedule"),
    "foo-prefnosched": _t("foo", "Exists", effect="PreferNoSchedule"),
    "foo-noexec": _t("foo", "Exists", effect="NoExecute"),
    "foo-bar-noexec": _t("foo", "Equal", "bar", "NoExecute"),
    "foo-noexec-10": _t("foo", "Exists", effect="NoExecute", seconds=10),
    "foo-noexec-0": _t("foo", "Exists", effect="NoExecute", seconds=0),
    "foo-bar-noexec-10": _t("foo", "Equal", "bar", "NoExecute", seconds=10),
}

# TestIsSuperset: each toleration is a superset of itself and of exactly these others.
SUPERSETS = {
    "all": [n for n in TOL if n != "all"],
    "all-nosched": ["foo-nosched", "foo-bar-nosched", "foo-baz-nosched", "faz-nosched", "faz-baz-nosched"],
    "all-noexec": ["foo-noexec", "foo-bar-noexec", "foo-noexec-10", "foo-noexec-0", "foo-bar-noexec-10"],
    "foo": ["foo-bar", "foo-nosched", "foo-bar-nosched", "foo-baz-nosched", "foo-prefnosched", "foo-noexec",
            "foo-bar-noexec", "foo-noexec-10", "foo-noexec-0", "foo-bar-noexec-10"],
    "foo-bar": ["foo-bar-nosched", "foo-bar-noexec", "foo-bar-noexec-10"],
    "foo-nosched": ["foo-bar-nosched", "foo-baz-nosched"],
    "foo-bar-nosched": [],
    "faz-nosched": ["faz-baz-nosched"],
    "faz-baz-nosched": [],
    "foo-noexec": ["foo-bar-noexec", "foo-noexec-10", "foo-noexec-0", "foo-bar-noexec-10"],
    "foo-bar-noexec": ["foo-bar-noexec-10"],
    "foo-noexec-10": ["foo-noexec-0", "foo-bar-noexec-10"],
    "foo-noexec-0": [],
    "foo-bar-noexec-10": [],
}


@pytest.mark.parametrize("name", sorted(SUPERSETS))
def test_is_superset_as_upstream(name: str) -> None:
    for other in TOL:
        expected = other == name or other in SUPERSETS[name]
        assert is_superset(TOL[name], TOL[other]) is expected, (name, other)


@pytest.mark.parametrize(("a", "b", "expected"), [
    # "disjoint"
    (["foo-bar-nosched", "faz-baz-nosched", "foo-noexec-10"], ["foo-prefnosched", "foo-baz-nosched"],
     ["foo-bar-nosched", "faz-baz-nosched", "foo-noexec-10", "foo-prefnosched", "foo-baz-nosched"]),
    # "duplicate"
    (["foo-bar-nosched", "faz-baz-nosched", "foo-noexec-10"], ["foo-bar-nosched", "faz-baz-nosched", "foo-noexec-10"],
     ["foo-bar-nosched", "faz-baz-nosched", "foo-noexec-10"]),
    # "merge redundant"
    (["foo-bar-nosched", "foo-baz-nosched"], ["foo-nosched", "faz-baz-nosched"], ["foo-nosched", "faz-baz-nosched"]),
    # "merge all"
    (["foo-bar-nosched", "foo-baz-nosched", "foo-noexec-10"], ["all"], ["all"]),
    # "merge into all"
    (["all"], ["foo-bar-nosched", "foo-baz-nosched", "foo-noexec-10"], ["all"]),
], ids=["disjoint", "duplicate", "merge redundant", "merge all", "merge into all"])
def test_merge_tolerations_as_upstream(a: list[str], b: list[str], expected: list[str]) -> None:
    got = merge_tolerations([TOL[n] for n in a], [TOL[n] for n in b])
    assert list(got) == [TOL[n] for n in expected]


def _rc(**extra: object) -> RuntimeClass:
    return RuntimeClass.model_validate({"name": "gvisor", "handler": "runsc", **extra})


def test_admit_sets_overhead_and_merges_scheduling() -> None:
    # setOverhead: the class's podFixed becomes the pod's overhead; setScheduling: the
    # class's nodeSelector joins the pod's, its tolerations are merged after the pod's.
    rc = _rc(overhead={"podFixed": {"cpu": "250m", "memory": "160Mi"}},
             scheduling={"nodeSelector": {"sandbox": "gvisor"},
                         "tolerations": [{"key": "sandbox", "operator": "Exists", "effect": "NoSchedule"}]})
    own = (_t("team", "Equal", "a", "NoSchedule"),)
    out = admit(rc, {}, {"disk": "ssd"}, own)
    assert out.overhead == {"cpu": Fraction(1, 4), "memory": Fraction(160 * 2**20)}
    assert out.node_selector == {"disk": "ssd", "sandbox": "gvisor"}
    assert out.tolerations == (own[0], _t("sandbox", "Exists", effect="NoSchedule"))


def test_admit_without_a_class_changes_nothing() -> None:
    own = (_t("team", "Equal", "a", "NoSchedule"),)
    out = admit(None, {"cpu": Fraction(1)}, {"disk": "ssd"}, own)
    assert (out.overhead, out.node_selector, out.tolerations) == ({"cpu": Fraction(1)}, {"disk": "ssd"}, own)
