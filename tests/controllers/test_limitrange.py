"""LimitRange admission: default requests, min/max (upstream
plugin/pkg/admission/limitranger/admission.go: mergeContainerResources,
PodValidateLimitFunc; pkg/apis/core/v1/defaults.go: SetDefaults_LimitRangeItem)."""

from __future__ import annotations

import pytest
from helpers import deployment, sim, write

from k8sim.config.loader import ScenarioError


def limit_range(*items, ns="default"):
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits", "namespace": ns},
            "spec": {"limits": list(items)}}


def no_cpu(d):
    d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"].pop("cpu")
    return d


def test_default_request_is_applied(tmp_path):
    # The container asks for memory only; defaultRequest cpu 250m fills in its cpu:
    # every pod requests 250 milli-CPU.
    m = write(tmp_path, "app.yaml", limit_range({"type": "Container", "defaultRequest": {"cpu": "250m"}}),
              no_cpu(deployment(replicas=2)))
    s = sim(tmp_path, m, duration=50)
    s.env.run(until=10)
    cpu = s.state.resources.names.index("cpu")
    assert s.state.pods.requests[:2, cpu].tolist() == [250, 250]


def test_default_limit_and_max_default_the_request(tmp_path):
    # SetDefaults_LimitRangeItem: default (limit) defaults defaultRequest; max defaults
    # default. Here only max cpu 2 is given: request 2 (2000 m) for a container without one.
    m = write(tmp_path, "app.yaml", limit_range({"type": "Container", "max": {"cpu": "2"}}),
              no_cpu(deployment(replicas=1)))
    s = sim(tmp_path, m, duration=50)
    s.env.run(until=10)
    assert s.state.pods.requests[0, s.state.resources.names.index("cpu")] == 2000


def test_request_above_max_is_forbidden_with_a_warning(tmp_path):
    # 500m requested, max 400m: every pod would be rejected: the Deployment is not run
    # (no pod), the other one (another namespace) runs.
    other = deployment(name="other", replicas=1)
    other["metadata"]["namespace"] = "team-b"
    m = write(tmp_path, "app.yaml", limit_range({"type": "Container", "max": {"cpu": "400m"}}),
              deployment(replicas=2), other)
    s = sim(tmp_path, m, duration=50)
    r = s.run()
    assert r.pods["pod"].str.startswith("team-b/other-").tolist() == [True]
    assert any("app.yaml: document[1]" in w and "maximum cpu usage per Container is 0.4, but request is 0.5" in w
               for w in s.warnings)


def test_min_without_request_and_pod_max(tmp_path):
    m = write(tmp_path, "app.yaml", limit_range({"type": "Container", "min": {"cpu": "100m"}}),
              no_cpu(deployment(replicas=1)))
    s = sim(tmp_path, m, duration=50)
    assert len(s.run().pods) == 0
    assert any("minimum cpu usage per Container is 0.1, but no request is specified" in w for w in s.warnings)
    m = write(tmp_path, "app2.yaml", limit_range({"type": "Pod", "max": {"memory": "32Mi"}}), deployment(replicas=1))
    s = sim(tmp_path, m, duration=50)
    assert len(s.run().pods) == 0
    assert any("maximum memory usage per Pod" in w for w in s.warnings)


@pytest.mark.parametrize(("item", "field", "words"), [
    ({"type": "Node"}, "spec.limits[0].type", "expected Container, Pod"),
    ({"type": "Container", "min": {"cpu": "2"}, "max": {"cpu": "1"}}, "spec.limits[0].min.cpu", "above max"),
    ({"type": "Pod", "default": {"cpu": "1"}}, "spec.limits[0]", "only for type Container"),
    ({"type": "Container", "max": {"cpu": "lots"}}, "spec.limits[0].max.cpu", ""),
])
def test_bad_limit_ranges(tmp_path, item, field, words):
    m = write(tmp_path, "app.yaml", deployment(replicas=1), limit_range(item))
    with pytest.raises(ScenarioError) as e:
        sim(tmp_path, m, duration=50)
    assert f"app.yaml: document[1].{field}" in str(e.value) and words in str(e.value)
