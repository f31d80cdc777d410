"""The failures / actions schema, bad input with field paths and exit code 2, the
DefaultTolerationSeconds admission, getMinTolerationTime and the action registry."""

from __future__ import annotations

import pytest

from k8sim import Simulation, validate_scenario
from k8sim.config.faults import ACTION_KINDS, FAILURE_KINDS
from k8sim.config.loader import ScenarioError
from k8sim.config.pods import Toleration
from k8sim.controllers.defaulttolerations import with_default_toleration_seconds
from k8sim.controllers.tainteviction import min_toleration_time
from k8sim.faults import actions

BASE = {
    "name": "bad", "duration_s": 100,
    "cluster": {"node_pools": [{"name": "a", "count": 2, "allocatable": {"cpu": "4", "memory": "8Gi"},
                                "zones": ["x", "y"], "labels": {"rack": "r1"}}]},
}


def problems(extra: dict, build: bool = False) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as e:
        sc = validate_scenario({**BASE, **extra})
        if build:
            Simulation(sc)
    return e.value.problems


EXP = {"kind": "exponential", "mean": 10}


@pytest.mark.parametrize(("extra", "path", "fragment"), [
    ({"failures": [{"kind": "node", "time_to_failure": {"kind": "constant", "value": 0}, "time_to_repair": EXP}]},
     "failures[0]", "time_to_failure must have a positive mean (got constant with mean 0)"),
    ({"failures": [{"kind": "node", "time_to_failure": EXP, "time_to_repair": {"kind": "uniform", "low": 0, "high": 0}}]},
     "failures[0]", "time_to_repair must have a positive mean"),
    ({"failures": [{"kind": "node", "time_to_failure": {"kind": "exponential", "mean": -5}, "time_to_repair": EXP}]},
     "failures[0].time_to_failure.mean", "greater than 0"),
    ({"failures": [{"kind": "outage", "nodes": {"zone": "x"}}]}, "failures[0].at_s", "required field is missing"),
    ({"failures": [{"kind": "meteor", "at_s": 1}]}, "failures[0]", "'node', 'outage', 'zone_outages', 'spot'"),
    ({"actions": [{"action": "drain", "nodes": {"names": ["a-0"]}}]}, "", "actions[0] (drain) needs at_s"),
    ({"actions": [{"at_s": 1, "action": "reboot", "nodes": {}}]}, "actions[0]", "'cordon'"),
    ({"duration_s": None, "failures": [{"kind": "node", "time_to_failure": EXP, "time_to_repair": EXP}]},
     "", "failures[0] (node) goes on for ever: set duration_s, or give it stop_s"),
])
def test_schema_errors_name_the_field(extra: dict, path: str, fragment: str) -> None:
    found = problems(extra)
    assert any(p == path and fragment in m for p, m in found), found


@pytest.mark.parametrize(("extra", "path", "fragment"), [
    ({"failures": [{"kind": "outage", "nodes": {"zone": "z9"}, "at_s": 5}]},
     "failures[0].nodes.zone", "no node is in zone 'z9'; zones: ['x', 'y']"),
    ({"failures": [{"kind": "outage", "nodes": {"labels": {"rack": "r7"}}, "at_s": 5}]},
     "failures[0].nodes.labels.rack", "no node has rack=r7; values of rack: ['r1']"),
    ({"failures": [{"kind": "outage", "nodes": {"labels": {"row": "1"}}, "at_s": 5}]},
     "failures[0].nodes.labels.row", "no node has the label 'row'"),
    ({"failures": [{"kind": "spot", "nodes": {"pool": "spot"}, "time_to_interruption": EXP}]},
     "failures[0].nodes.pool", "no node pool named 'spot'; pools: ['a']"),
    ({"failures": [{"kind": "zone_outages", "zones": ["x", "q"], "time_between": EXP, "duration": EXP}]},
     "failures[0].zones[1]", "no node has topology.kubernetes.io/zone=q"),
    ({"actions": [{"at_s": 3, "action": "cordon", "nodes": {"names": ["a-0", "b-1"]}}]},
     "actions[0].nodes.names[1]", "no node named 'b-1'"),
    ({"actions": [{"at_s": 3, "action": "cordon", "nodes": {"zone": "x", "labels": {"rack": "r1"},
                                                              "names": ["a-1"]}}]},
     "actions[0].nodes", "no node matches (names ['a-1'], zone 'x', rack=r1)"),
])
def test_selections_are_checked_against_the_cluster(extra: dict, path: str, fragment: str) -> None:
    found = problems(extra, build=True)
    assert any(p == path and fragment in m for p, m in found), found


def test_cli_exits_2_with_the_path(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from k8sim.cli import app

    (tmp_path / "s.yaml").write_text(
        "duration_s: 100\n"
        "cluster: {node_pools: [{name: a, count: 1, allocatable: {cpu: '1', memory: 1Gi}, zones: [x]}]}\n"
        "failures: [{kind: outage, nodes: {zone: y}, at_s: 5}]\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "s.yaml", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "s.yaml: failures[0].nodes.zone: no node is in zone 'y'" in result.output + result.stderr
    assert "Traceback" not in result.output + result.stderr


def tol(**kw) -> Toleration:
    return Toleration.model_validate(kw)


def test_default_toleration_seconds_admission() -> None:
    # plugin/pkg/admission/defaulttolerationseconds/admission.go Admit: append
    # {not-ready, Exists, NoExecute, 300} and {unreachable, ...} unless tolerated already
    # (same key or empty key, effect NoExecute or empty).
    added = with_default_toleration_seconds(())
    assert [(t.key, t.operator, t.effect, t.toleration_seconds) for t in added] == [
        ("node.kubernetes.io/not-ready", "Exists", "NoExecute", 300.0),
        ("node.kubernetes.io/unreachable", "Exists", "NoExecute", 300.0)]
    assert with_default_toleration_seconds((tol(operator="Exists"),)) == (tol(operator="Exists"),)
    own = tol(key="node.kubernetes.io/not-ready", operator="Exists", effect="NoExecute", tolerationSeconds=60)
    out = with_default_toleration_seconds((own,))
    assert out[0] == own and [t.key for t in out[1:]] == ["node.kubernetes.io/unreachable"]
    # A NoSchedule toleration of the key does not count: the NoExecute default is added.
    ns = tol(key="node.kubernetes.io/unreachable", operator="Exists", effect="NoSchedule")
    assert [t.key for t in with_default_toleration_seconds((ns,))[1:]] == [
        "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]
    # Any key, effect empty: tolerates both.
    assert len(with_default_toleration_seconds((tol(key="", operator="Exists", effect=""),))) == 1


def test_min_toleration_time() -> None:
    # taint_eviction.go getMinTolerationTime: none used -> 0; all without seconds -> -1
    # (for ever); any <= 0 -> 0; else the minimum.
    forever = tol(key="k", operator="Exists", effect="NoExecute")
    assert min_toleration_time([]) == 0.0
    assert min_toleration_time([forever]) == -1.0
    assert min_toleration_time([forever, tol(key="k", operator="Exists", tolerationSeconds=40),
                                tol(key="j", operator="Exists", tolerationSeconds=20)]) == 20.0
    assert min_toleration_time([tol(key="k", operator="Exists", tolerationSeconds=-3),
                                tol(key="j", operator="Exists", tolerationSeconds=20)]) == 0.0


def test_every_action_kind_has_a_handler_and_kinds_register_once() -> None:
    import k8sim.sim.simulation  # noqa: F401 - the assembly imports every handler

    assert set(ACTION_KINDS) <= set(actions.registered_kinds())
    with pytest.raises(ValueError, match="already has a handler"):
        actions.register_action("drain")(lambda ctx, spec, cause: None)
    assert FAILURE_KINDS == ("node", "outage", "zone_outages", "spot")
