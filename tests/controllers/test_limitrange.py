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
    # The container gets limit 400m (default = max) and keeps its request 500m:
    # maxConstraint passes the limit and refuses the request, in upstream's words.
    assert any("app.yaml: document[1]" in w and "maximum cpu usage per Container is 400m, but request is 500m." in w
               for w in s.warnings)


def test_min_without_request_and_pod_max(tmp_path):
    m = write(tmp_path, "app.yaml", limit_range({"type": "Container", "min": {"cpu": "100m"}}),
              no_cpu(deployment(replicas=1)))
    s = sim(tmp_path, m, duration=50)
    assert len(s.run().pods) == 0
    assert any("minimum cpu usage per Container is 100m.  No request is specified." in w for w in s.warnings)
    m = write(tmp_path, "app2.yaml", limit_range({"type": "Pod", "max": {"memory": "32Mi"}}), deployment(replicas=1))
    s = sim(tmp_path, m, duration=50)
    assert len(s.run().pods) == 0
    # No limits anywhere: the pod has no memory limit, maxConstraint's first check.
    assert any("maximum memory usage per Pod is 32Mi.  No limit is specified." in w for w in s.warnings)


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


def containers(d):
    return d["spec"]["template"]["spec"]["containers"]


def test_default_limits_and_requests_are_merged_per_container(tmp_path):
    # mergeContainerResources: a container without a cpu limit gets default (1), one
    # without a cpu request gets defaultRequest (300m); one with a limit of 2 and no
    # request has request 2 from SetDefaults_Pod before admission. The template's
    # containers then read: c: request 300m / limit 1; d: request 2 / limit 2. The pod
    # requests 300m + 2000m = 2300 milli-CPU.
    d = no_cpu(deployment(replicas=1))
    containers(d).append({"name": "d", "resources": {"limits": {"cpu": "2"}}})
    m = write(tmp_path, "app.yaml", limit_range({"type": "Container", "default": {"cpu": "1"},
                                                 "defaultRequest": {"cpu": "300m"}}), d)
    s = sim(tmp_path, m, duration=50)
    s.env.run(until=10)
    assert s.state.pods.requests[0, s.state.resources.names.index("cpu")] == 2300
    tmpl = s.state.shapes[int(s.state.pods.shape[0])].pod_spec
    got = {c.name: (str(c.requests["cpu"]), str(c.limits["cpu"])) for c in tmpl.containers}
    assert got == {"c": ("3/10", "1"), "d": ("2", "2")}


@pytest.mark.parametrize(("item", "limits", "words"), [
    # limit 2 / request 500m = 4 > 3: limitRequestRatioConstraint.
    ({"type": "Container", "maxLimitRequestRatio": {"cpu": "3"}}, {"cpu": "2"},
     "cpu max limit to request ratio per Container is 3, but provided ratio is 4.000000."),
    # No cpu limit at all: the ratio cannot be checked and is refused.
    ({"type": "Container", "maxLimitRequestRatio": {"cpu": "3"}}, None,
     "cpu max limit to request ratio per Container is 3, but no limit is specified or limit is 0."),
    # max on limits: limit 2 > max 1.
    ({"type": "Container", "max": {"cpu": "1"}}, {"cpu": "2"},
     "maximum cpu usage per Container is 1, but limit is 2."),
    # Pod item on limits: the one container's limit 2 is the pod's, above 1500m.
    ({"type": "Pod", "max": {"cpu": "1500m"}}, {"cpu": "2"},
     "maximum cpu usage per Pod is 1500m, but limit is 2."),
])
def test_limit_checks(tmp_path, item, limits, words):
    d = deployment(replicas=1)  # request cpu 500m, memory 64Mi
    if limits is not None:
        containers(d)[0]["resources"]["limits"] = limits
    m = write(tmp_path, "app.yaml", limit_range(item), d)
    s = sim(tmp_path, m, duration=50)
    assert len(s.run().pods) == 0
    assert any(words in w for w in s.warnings), s.warnings


def test_limit_range_applies_to_synthetic_workloads(tmp_path):
    # A synthetic workload in the LimitRange's namespace: its template (one container,
    # memory only) gets defaultRequest cpu 250m, so each pod requests 250 milli-CPU; a
    # second workload asking for 3 cpu gets the default limit 2 (= max) and its request
    # 3 breaks max 2 (maxConstraint's last check): it is not run.
    m = write(tmp_path, "lr.yaml", limit_range({"type": "Container", "defaultRequest": {"cpu": "250m"},
                                               "max": {"cpu": "2"}}, ns="team"))
    from helpers import scenario

    from k8sim.sim.simulation import Simulation

    def wl(name, req):
        return {"name": name, "template": {"namespace": "team", "requests": req},
                "arrival": {"kind": "interval", "every_s": 10}, "max_pods": 2}

    sc = scenario(tmp_path, m, duration=30, extra={"workloads": [
        {"manifest": str(m)}, wl("small", {"memory": "64Mi"}), wl("big", {"cpu": "3"})]})
    s = Simulation(sc)
    r = s.run()
    assert r.pods["pod"].tolist() == ["small-0", "small-1"]
    cpu = s.state.resources.names.index("cpu")
    assert s.state.pods.requests[:2, cpu].tolist() == [250, 250]
    assert any("workloads[2] (big)" in w and "maximum cpu usage per Container is 2, but request is 3." in w
               for w in s.warnings), s.warnings
