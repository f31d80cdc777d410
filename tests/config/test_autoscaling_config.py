"""The autoscaling schema: Kubernetes spelling, upstream defaults, errors naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from k8sim.autoscaling.hpa_behavior import behavior_from_spec, tolerances_for
from k8sim.config.autoscaling import Autoscaling, ClusterAutoscaler, HorizontalPodAutoscaler
from k8sim.config.loader import format_loc


def _hpa(**spec):
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                     "maxReplicas": 10, **spec}}


def _problems(model, data):
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return [(format_loc(e["loc"], data), e["msg"]) for e in info.value.errors(include_url=False)]


def _group(**kw):
    g = {"name": "general", "max_size": 10, "template": {"allocatable": {"cpu": "4", "memory": "16Gi"}}}
    g.update(kw)
    return g


def test_hpa_manifest_defaults_are_upstreams():
    h = HorizontalPodAutoscaler.model_validate(_hpa())
    assert h.spec.min_replicas == 1
    (m,) = h.spec.metrics
    assert (m.type, m.resource.name, m.resource.target.type, m.resource.target.average_utilization) == (
        "Resource", "cpu", "Utilization", 80)
    assert behavior_from_spec(h.spec.behavior) is None
    with pytest.raises(ValidationError):
        h.spec.max_replicas = 3  # frozen


def test_behavior_fields_fill_from_defaults():
    h = HorizontalPodAutoscaler.model_validate(_hpa(behavior={
        "scaleDown": {"stabilizationWindowSeconds": 60, "tolerance": 0.05},
        "scaleUp": {"selectPolicy": "Disabled"}}))
    b = behavior_from_spec(h.spec.behavior)
    assert b is not None
    assert b.scale_down.stabilization_window_seconds == 60
    assert [(p.type, p.value, p.period_seconds) for p in b.scale_down.policies] == [("Percent", 100, 15)]
    assert b.scale_up.select_policy == "Disabled" and b.scale_up.stabilization_window_seconds == 0
    t = tolerances_for(b)
    assert (t.scale_down, t.scale_up) == (0.05, 0.1)
    # An empty behavior is upstream's default behavior, scale-down window left to the flag.
    empty = behavior_from_spec(HorizontalPodAutoscaler.model_validate(_hpa(behavior={})).spec.behavior)
    assert empty is not None and empty.scale_down.stabilization_window_seconds is None


def test_all_metric_kinds_validate():
    metrics = [
        {"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue",
                                                                       "averageValue": "500Mi"}}},
        {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                        "averageValue": "20"}}},
        {"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "main"},
                                      "metric": {"name": "rps"}, "target": {"type": "Value", "value": "2k"}}},
        {"type": "External", "external": {"metric": {"name": "queue", "selector": {"matchLabels": {"q": "a"}}},
                                          "target": {"type": "AverageValue", "averageValue": "30"}}},
    ]
    h = HorizontalPodAutoscaler.model_validate(_hpa(metrics=metrics, minReplicas=0))
    assert [m.type for m in h.spec.metrics] == ["Resource", "Pods", "Object", "External"]
    assert h.spec.metrics[2].object.target.milli() == 2_000_000
    assert h.spec.metrics[0].resource.target.milli() == 500 * 2**20 * 1000


@pytest.mark.parametrize(("spec", "where", "message"), [
    ({"minReplicas": 5, "maxReplicas": 2}, "spec", "maxReplicas: must be greater than or equal to minReplicas (5)"),
    ({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 0}}}]},
     "spec.metrics[0].resource.target", "averageUtilization: must be positive"),
    ({"metrics": [{"type": "Object", "object": {"describedObject": {"kind": "Ingress", "name": "x"},
                                                "metric": {"name": "rps"}, "target": {"type": "Value",
                                                                                      "value": "0"}}}]},
     "spec.metrics[0].object.target", "value: must be positive"),
    ({"metrics": [{"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
        "type": "Utilization", "averageUtilization": 50}}}]},
     "spec.metrics[0]", "pods.target.type: must be AverageValue for a Pods metric"),
    ({"metrics": [{"type": "Pods", "resource": {"name": "cpu", "target": {
        "type": "Utilization", "averageUtilization": 50}}}]}, "spec.metrics[0]", "pods: required when type is Pods"),
    ({"minReplicas": 0}, "spec", "minReplicas: 0 needs at least one Object or External metric"),
    ({"behavior": {"scaleUp": {"stabilizationWindowSeconds": 4000}}},
     "spec.behavior.scaleUp.stabilizationWindowSeconds", "less than or equal to 3600"),
    ({"behavior": {"scaleDown": {"policies": [{"type": "Pods", "value": 0, "periodSeconds": 15}]}}},
     "spec.behavior.scaleDown.policies[0].value", "greater than 0"),
    ({"behavior": {"scaleDown": {"policies": []}}}, "spec.behavior.scaleDown.policies", "at least one policy"),
    ({"behavior": {"scaleUp": {"tolerance": -0.1}}}, "spec.behavior.scaleUp.tolerance", "greater than or equal to 0"),
    ({"maxReplica": 3}, "spec.maxReplica", "Extra inputs are not permitted"),
])
def test_hpa_errors_name_the_field(spec, where, message):
    problems = _problems(HorizontalPodAutoscaler, _hpa(**spec))
    assert any(path == where and message in msg for path, msg in problems), problems


def test_cluster_autoscaler_defaults_are_upstreams():
    ca = ClusterAutoscaler.model_validate({"node_groups": [_group()]})
    assert (ca.scan_interval_s, ca.scale_down_unneeded_time_s, ca.scale_down_delay_after_add_s,
            ca.max_node_provision_time_s, ca.scale_down_utilization_threshold, ca.expander) == (
        10.0, 600.0, 600.0, 900.0, 0.5, ["random"])
    assert (ca.skip_nodes_with_system_pods, ca.skip_nodes_with_local_storage, ca.initial_node_group_backoff_s,
            ca.max_node_group_backoff_s) == (True, True, 300.0, 1800.0)
    g = ca.node_groups[0]
    assert (g.min_size, g.capacity_type, g.price_per_hour) == (0, "on-demand", 0.0)


@pytest.mark.parametrize(("data", "where", "message"), [
    ({"node_groups": [_group(price_per_hour=-0.5)]}, "node_groups[0].price_per_hour", "greater than or equal to 0"),
    ({"node_groups": [_group(min_size=5, max_size=2)]}, "node_groups[0]",
     "max_size: must be greater than or equal to min_size (5)"),
    ({"node_groups": [_group(initial_size=20)]}, "node_groups[0]", "initial_size: must be within"),
    ({"node_groups": [_group(), _group()]}, "", "duplicate group name(s) general"),
    ({"node_groups": [_group()], "expander": ["priority"]}, "", "priorities: required by the priority expander"),
    ({"node_groups": [_group()], "expander": ["priority"], "priorities": {10: ["(unclosed"]}}, "",
     "priorities.10[0]: not a regular expression"),
    ({"node_groups": [_group()], "expander": ["cheapest"]}, "expander[0]", "Input should be"),
    ({"node_groups": [_group(template={"allocatable": {"cpu": "4"}})]}, "node_groups[0].template.allocatable",
     "memory: a node template needs a positive memory allocatable"),
    ({"node_groups": []}, "node_groups", "at least 1 item"),
])
def test_cluster_autoscaler_errors_name_the_field(data, where, message):
    problems = _problems(ClusterAutoscaler, data)
    assert any(path == where and message in msg for path, msg in problems), problems


def test_autoscaling_section_rejects_duplicate_hpas():
    problems = _problems(Autoscaling, {"horizontal_pod_autoscalers": [_hpa(), _hpa()]})
    assert problems == [("", "Value error, horizontal_pod_autoscalers: duplicate HPA(s) default/web")]


def test_the_example_in_the_docs_validates():
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[2] / "docs" / "autoscaling.md").read_text()
    block = re.search(r"```yaml\n(autoscaling:.*?)```", text, re.S).group(1)
    section = Autoscaling.model_validate(yaml.safe_load(block)["autoscaling"])
    assert section.cluster_autoscaler.node_groups[0].capacity_type == "spot"
    assert section.horizontal_pod_autoscalers[0].spec.behavior.scale_down.tolerance == 0.05


def test_json_schema_and_round_trip():
    # `k8sim schema` and the saved resolved scenario need both once the section is wired.
    schema = Autoscaling.model_json_schema(by_alias=True)
    assert "HorizontalPodAutoscalerSpec" in schema["$defs"]
    assert "maxReplicas" in schema["$defs"]["HorizontalPodAutoscalerSpec"]["properties"]
    data = {"horizontal_pod_autoscalers": [_hpa(behavior={"scaleUp": {"tolerance": 0.05}})],
            "cluster_autoscaler": {"node_groups": [_group(price_per_hour=0.2, capacity_type="spot")]}}
    a = Autoscaling.model_validate(data)
    again = Autoscaling.model_validate(a.model_dump(by_alias=True, mode="json"))
    assert again == a
