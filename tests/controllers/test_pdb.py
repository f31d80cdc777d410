"""PodDisruptionBudgets: the Eviction API check and the disruption controller's status.

Upstream: pkg/controller/disruption/disruption.go (getExpectedPodCount,
getExpectedScale, countHealthyPods, updatePdbStatus: disruptionsAllowed =
currentHealthy - desiredHealthy), pkg/registry/core/pod/storage/eviction.go (refuse
at 0), staging/src/k8s.io/kubectl/pkg/drain/drain.go (retry every 5 s).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import deployment, sim, write

from k8sim.config.loader import ScenarioError
from k8sim.faults.drain import drain


def pdb(name="web-pdb", selector=None, **spec):
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
            "spec": {"selector": selector if selector is not None else {"matchLabels": {"app": "web"}}, **spec}}


def test_drain_waits_for_the_replacement_to_be_ready(tmp_path):
    # Two nodes of 2 CPUs, Deployment web of 3 x 1 CPU: one node holds two of its pods.
    # PDB maxUnavailable 1: expectedCount = 3 (the Deployment's replicas), desiredHealthy
    # = 3 - 1 = 2. Drain that node at t = 50 (every pod Ready since 2):
    #   50: evict X: healthy 3, allowed 3 - 2 = 1 -> X deleted (grace 0); its replacement
    #       is created and bound at 50 on the other node, Ready at 50 + 2 (start latency).
    #   50: evict Y: healthy 2 (X terminating, replacement not Ready) -> allowed 0: refused.
    #   55: kubectl retries: healthy 3 again (the replacement Ready at 52) -> Y evicted;
    #       the drain is done at 55.
    m = write(tmp_path, "app.yaml", deployment(replicas=3, cpu="1"), pdb(maxUnavailable=1))
    s = sim(tmp_path, m, nodes=2, cpu="2", duration=200)
    s.env.run(until=50)
    pods = s.state.pods
    nodes = pods.node[:3]
    node = int(np.bincount(nodes).argmax())
    x, y = [p for p in range(3) if nodes[p] == node]
    drain(s.api, node)
    r = s.run()
    assert r.pods["finished"].iloc[x] == 50.0
    assert r.pods["finished"].iloc[y] == 55.0
    ev = r.frames["pdb_evictions"]
    assert ev[["time", "healthy", "desired_healthy", "disruptions_allowed", "allowed"]].values.tolist() == [
        [50.0, 3, 2, 1, True], [50.0, 2, 2, 0, False], [55.0, 3, 2, 1, True]]
    assert r.events.loc[r.events["kind"] == "Drained", "time"].tolist() == [55.0]
    assert r.summary()["evictions_blocked_by_pdb"].iloc[0] == 1


def test_min_available_percent_rounds_up(tmp_path):
    # minAvailable 50% of 3 replicas -> desiredHealthy ceil(1.5) = 2; healthy 3 -> 1 allowed.
    m = write(tmp_path, "app.yaml", deployment(replicas=3, cpu="1"), pdb(minAvailable="50%"))
    s = sim(tmp_path, m, nodes=2, cpu="2", duration=100)
    s.env.run(until=10)
    assert s.controllers.disruption.status(s.controllers.disruption.pdbs[0]) == (3, 3, 2, 1)


def test_unsatisfiable_budget_is_a_warning_and_blocks_the_drain(tmp_path):
    # minAvailable 3 with 3 replicas: nothing can ever be evicted; the drain times out.
    m = write(tmp_path, "app.yaml", deployment(replicas=3, cpu="1"), pdb(minAvailable=3))
    s = sim(tmp_path, m, nodes=2, cpu="2", duration=200)
    s.env.run(until=50)
    drain(s.api, int(s.state.pods.node[0]), timeout_s=20)
    r = s.run()
    assert any("minAvailable 3 >= the 3 replica(s)" in w and "app.yaml: document[1]" in w for w in s.warnings)
    assert r.events.loc[r.events["kind"] == "DrainTimeout", "time"].tolist() == [70.0]
    assert not r.frames["pdb_evictions"]["allowed"].any()


@pytest.mark.parametrize(("spec", "field", "words"), [
    ({}, "spec", "exactly one of minAvailable and maxUnavailable"),
    ({"minAvailable": 1, "maxUnavailable": 1}, "spec", "exactly one"),
    ({"maxUnavailable": "150%"}, "spec.maxUnavailable", "percentage up to 100%"),
    ({"minAvailable": 1, "selector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}},
     "spec.selector", "invalid label selector"),
])
def test_bad_budgets_name_file_document_and_field(tmp_path, spec, field, words):
    doc = pdb(**spec)
    if "selector" in spec:
        doc["spec"]["selector"] = spec["selector"]
    m = write(tmp_path, "app.yaml", deployment(replicas=1), doc)
    with pytest.raises(ScenarioError) as e:
        sim(tmp_path, m, duration=100)
    assert f"app.yaml: document[1].{field}" in str(e.value) and words in str(e.value)
