"""Tests of k8sim.config.loader: paths, overrides and error reporting.

The pure helpers (``parse_path``, ``format_loc``, ``set_path``, ``apply_overrides``)
are checked on hand-written inputs; ``load_scenario`` on small files in ``tmp_path``.
Expected error paths are the ones a user would type in the YAML file.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from k8sim.config.loader import (
    ScenarioError,
    apply_overrides,
    format_loc,
    load_scenario,
    parse_path,
    set_path,
    validate_scenario,
)

SCENARIO = """\
cluster:
  node_pools:
    - name: pool
      count: 2
      allocatable: {cpu: "4", memory: 8Gi}
workloads:
  - name: web
    arrival: {kind: burst, count: 3, at_s: 0}
    template:
      requests: {cpu: 500m, memory: 1Gi}
    duration: {kind: constant, value: 10}
"""


def data() -> dict:
    """The plain data of SCENARIO, as yaml.safe_load would give it."""
    return {
        "cluster": {"node_pools": [{"name": "pool", "count": 2, "allocatable": {"cpu": "4", "memory": "8Gi"}}]},
        "workloads": [
            {
                "name": "web",
                "arrival": {"kind": "burst", "count": 3, "at_s": 0},
                "template": {"requests": {"cpu": "500m", "memory": "1Gi"}},
                "duration": {"kind": "constant", "value": 10},
            }
        ],
    }


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- parse_path


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("cluster.node_pools[0].count", ["cluster", "node_pools", 0, "count"]),
        ("seed", ["seed"]),
        ("workloads[12].template.requests.cpu", ["workloads", 12, "template", "requests", "cpu"]),
        ("a[0][3]", ["a", 0, 3]),
        ("template.labels.app-name", ["template", "labels", "app-name"]),
    ],
)
def test_parse_path(path: str, expected: list) -> None:
    assert parse_path(path) == expected


@pytest.mark.parametrize("path", ["", ".", "a[x]", "a[-1]", "a[0", "a]"])
def test_parse_path_rejects(path: str) -> None:
    with pytest.raises(ValueError):
        parse_path(path)


# --------------------------------------------------------------------------- format_loc


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("workloads", 2, "template", "requests", "cpu"), "workloads[2].template.requests.cpu"),
        # the discriminator tag pydantic inserts for a tagged union is dropped
        (("workloads", 0, "arrival", "poisson", "rate_per_s"), "workloads[0].arrival.rate_per_s"),
        (("workloads", 1, "duration", "empirical"), "workloads[1].duration"),
        (("initial_pods", 0, "duration", "lognormal", "sigma"), "initial_pods[0].duration.sigma"),
        # and so is the validator name of a plain type
        (
            ("cluster", "node_pools", 0, "allocatable", "cpu", "function-plain[_parse_nonnegative_quantity()]"),
            "cluster.node_pools[0].allocatable.cpu",
        ),
        (("seed",), "seed"),
        ((), ""),
    ],
)
def test_format_loc(loc: tuple, expected: str) -> None:
    assert format_loc(loc) == expected


def test_union_tag_dropped_from_a_real_error() -> None:
    d = data()
    d["workloads"][0]["arrival"] = {"kind": "poisson", "rate_per_s": -1}
    d["duration_s"] = 100
    with pytest.raises(ScenarioError) as info:
        validate_scenario(d, source="s.yaml")
    assert [p for p, _ in info.value.problems] == ["workloads[0].arrival.rate_per_s"]
    assert "greater than 0" in info.value.problems[0][1]


def test_user_key_named_like_a_union_tag_is_kept() -> None:
    d = data()
    d["cluster"]["node_pools"][0]["labels"] = {"burst": 5}
    with pytest.raises(ScenarioError) as info:
        validate_scenario(d, source="s.yaml")
    assert [p for p, _ in info.value.problems] == ["cluster.node_pools[0].labels.burst"]


# --------------------------------------------------------------------------- set_path


def test_set_path() -> None:
    d = data()
    set_path(d, "cluster.node_pools[0].count", 7)
    set_path(d, "workloads[0].template.labels.app", "web")  # creates the missing mapping
    set_path(d, "defaults.start_latency", {"kind": "constant", "value": 1})
    assert d["cluster"]["node_pools"][0]["count"] == 7
    assert d["workloads"][0]["template"]["labels"] == {"app": "web"}
    assert d["defaults"] == {"start_latency": {"kind": "constant", "value": 1}}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("cluster.node_pools[2].count",
         "cluster.node_pools[2]: index out of range (the list has 1 items; index 1 appends a new one)"),
        ("cluster.node_pools.count", "cluster.node_pools.count: not a mapping"),
        ("cluster[0]", "cluster[0]: not a list"),
    ],
)
def test_set_path_errors(path: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        set_path(data(), path, 1)
    assert str(info.value) == message


# --------------------------------------------------------------------------- apply_overrides


def test_apply_overrides_does_not_mutate_input() -> None:
    original = data()
    snapshot = copy.deepcopy(original)
    out = apply_overrides(
        original,
        ["cluster.node_pools[0].count=7", "cluster.node_pools[0].zones=[a, b]", "seed=3", "description="],
    )
    assert original == snapshot
    assert out["cluster"]["node_pools"][0]["count"] == 7  # parsed as YAML: an int
    assert out["cluster"]["node_pools"][0]["zones"] == ["a", "b"]
    assert out["seed"] == 3
    assert out["description"] == ""
    # a deep copy: changing the result leaves the input alone
    out["workloads"][0]["template"]["requests"]["cpu"] = "1"
    assert original["workloads"][0]["template"]["requests"]["cpu"] == "500m"


def test_apply_overrides_reports_every_problem() -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(data(), ["seed", "cluster.node_pools[5].count=1", "seed=1"], source="s.yaml")
    err = info.value
    assert err.source == "s.yaml"
    assert err.problems == [
        ("--set", "expected path=value, got 'seed'"),
        ("--set cluster.node_pools[5].count",
         "cluster.node_pools[5]: index out of range (the list has 1 items; index 1 appends a new one)"),
    ]


# --------------------------------------------------------------------------- ScenarioError


def test_scenario_error_lists_problems() -> None:
    err = ScenarioError("a.yaml", [("seed", "must be >= 0"), ("", "file not found")])
    assert isinstance(err, ValueError)
    assert err.problems == [("seed", "must be >= 0"), ("", "file not found")]
    assert str(err).splitlines() == ["a.yaml: seed: must be >= 0", "a.yaml: file not found"]


def test_load_reports_each_problem_with_its_path(tmp_path: Path) -> None:
    text = SCENARIO.replace("count: 2", "count: 0").replace("memory: 1Gi", "memory: -1Gi") + "bogus: 1\n"
    p = write(tmp_path, "multi.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    err = info.value
    assert err.source == str(p)
    assert all(isinstance(pm, tuple) and len(pm) == 2 for pm in err.problems)
    paths = {path: msg for path, msg in err.problems}
    assert set(paths) == {"cluster.node_pools[0].count", "workloads[0].template.requests.memory", "bogus"}
    assert "greater than or equal to 1" in paths["cluster.node_pools[0].count"]
    assert "must be >= 0" in paths["workloads[0].template.requests.memory"]
    assert paths["bogus"].startswith("unknown key")
    assert len(str(err).splitlines()) == 3
    assert all(line.startswith(f"{p}: ") for line in str(err).splitlines())


# --------------------------------------------------------------------------- load_scenario


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, "my-experiment.yaml", SCENARIO)).name == "my-experiment"


def test_explicit_name_and_overrides(tmp_path: Path) -> None:
    p = write(tmp_path, "x.yaml", "name: chosen\n" + SCENARIO)
    assert load_scenario(p).name == "chosen"
    sc = load_scenario(p, overrides=["name=other", "seed=9", "cluster.node_pools[0].count=5"])
    assert (sc.name, sc.seed, sc.cluster.node_count()) == ("other", 9, 5)


def test_bad_override_names_the_file(tmp_path: Path) -> None:
    p = write(tmp_path, "x.yaml", SCENARIO)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p, overrides=["cluster.node_pools[0].count=many"])
    assert info.value.source == str(p)
    assert [path for path, _ in info.value.problems] == ["cluster.node_pools[0].count"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "expected a mapping at the top of the file"),
        ("- a\n- b\n", "expected a mapping at the top of the file"),
        ("a: [1,\n", "YAML syntax error at line 2"),
    ],
)
def test_not_a_scenario(tmp_path: Path, text: str, fragment: str) -> None:
    p = write(tmp_path, "odd.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"{p}: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(tmp_path / "nowhere.yaml")
    assert info.value.problems == [("", "file not found")]
    assert "nowhere.yaml" in str(info.value)


def test_csv_path_is_relative_to_the_scenario(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path, "durations.csv", "seconds\n5\n10\n")
    write(
        tmp_path,
        "emp.yaml",
        SCENARIO.replace("{kind: constant, value: 10}", "{kind: empirical, path: durations.csv}"),
    )
    monkeypatch.chdir(tmp_path / "elsewhere")
    sc = load_scenario(Path("..") / "emp.yaml")
    assert sorted(sc.workloads[0].duration.data.tolist()) == [5.0, 10.0]


def test_non_utf8_file_is_a_scenario_error(tmp_path: Path) -> None:
    p = tmp_path / "binary.yaml"
    p.write_bytes(b"\xff\xfe\x00cluster: {}\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(p)
    assert "binary.yaml" in str(info.value)
