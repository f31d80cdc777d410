"""find_pending_pod: the Pending pod of a simulation run to some virtual time, or why a
pod is not one (bound, not created yet, unknown)."""

from __future__ import annotations

import pytest

from k8sim import validate_scenario
from k8sim.scheduling.explain import ExplainError, explain_pod
from k8sim.sim.explain import find_pending_pod
from k8sim.sim.simulation import Simulation


def test_find_pending_pod_in_a_running_simulation():
    # Two 2-cpu nodes; three 1500m pods at t=0: two bind, the third stays Pending.
    sc = validate_scenario(
        {
            "cluster": {"node_pools": [{"name": "pool", "count": 2, "allocatable": {"cpu": "2", "memory": "4Gi"}}]},
            "workloads": [
                {"name": "big", "arrival": {"kind": "burst", "count": 3, "at_s": 0},
                 "template": {"requests": {"cpu": "1500m", "memory": "1Gi"}}},
                {"name": "late", "arrival": {"kind": "times", "times_s": [100]}},
            ],
        }
    )
    sim = Simulation(sc)
    sim.env.run(until=1)
    pods = sim.state.pods
    pending = [pods.names[i] for i in range(pods.n) if pods.phase[i] == 0]
    assert pending == ["big-2"]
    row, info = find_pending_pod(sim, "big-2")
    assert pods.names[row] == "big-2" and info.requests[0] == 1500
    exp = explain_pod(sim.state, sim.profiles[info.scheduler_name], info, "big-2")
    assert exp.message == "0/2 nodes are available: 2 Insufficient cpu."

    with pytest.raises(ExplainError, match=r"'big-0' is not Pending at t=1 s: it is \w+ on node 'pool-\d'"):
        find_pending_pod(sim, "big-0")
    with pytest.raises(ExplainError, match=r"'late-0' has not been created by t=1 s \(workload 'late' has created 0"):
        find_pending_pod(sim, "late-0")
    with pytest.raises(ExplainError, match=r"no pod named 'nope'"):
        find_pending_pod(sim, "nope")


def test_gang_pods_are_named_per_job_and_worker():
    # A gang workload names worker k of job j "train-<j>-<k>" (k8sim.sim.sources,
    # _prepare_gang). Jobs arrive at 0 and 50 s with 2 workers each, all at once: at
    # t=10 s train-0-0 and train-0-1 exist (2 pods), job 1's pods do not yet, and no job
    # has a worker 2.
    sc = validate_scenario({
        "cluster": {"node_pools": [{"name": "pool", "count": 2, "allocatable": {"cpu": "2", "memory": "4Gi"}}]},
        "workloads": [{"name": "train", "arrival": {"kind": "times", "times_s": [0, 50]},
                       "gang": {"workers": 2}, "template": {"requests": {"cpu": "1", "memory": "1Gi"}}},
                      {"name": "web", "arrival": {"kind": "times", "times_s": [100]}}],
    })
    sim = Simulation(sc)
    sim.env.run(until=10)
    assert sorted(sim.state.pods.names) == ["train-0-0", "train-0-1"]
    with pytest.raises(ExplainError, match=r"'train-1-0' \(worker 0 of job 1 of gang workload 'train'\) has not been "
                                           r"created by t=10 s \(the workload has created 2 pod\(s\)"):
        find_pending_pod(sim, "train-1-0")
    with pytest.raises(ExplainError, match=r"gang workload 'train' have 2 worker pod\(s\), train-0-0 to train-0-1"):
        find_pending_pod(sim, "train-0-2")
    # The hint for an unknown name gives each workload's naming: not train-<i>.
    with pytest.raises(ExplainError, match=r"named train-<job>-<k> \(k < 2\), web-<i>\)"):
        find_pending_pod(sim, "train-0")
