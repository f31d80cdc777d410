"""Scale-down drain rules and relocation, after kubernetes/autoscaler's drainability rules.

Cases follow the rules' own tests (cluster-autoscaler/simulator/drainability/rules/*/
rule_test.go and simulator/drain_test.go) in spirit, with hand-made pods.
"""

from __future__ import annotations

import pytest

from k8sim.autoscaling.binpacking import EstimatedNode, fits_resources
from k8sim.autoscaling.ca_drain import DrainPod, drainable, find_place_for, pods_to_move


@pytest.mark.parametrize(("pod", "kw", "expected"), [
    (DrainPod("rs"), {}, ("undefined", "")),
    (DrainPod("bare", owner_kind=None), {}, ("block", "NotReplicated")),
    (DrainPod("custom", owner_kind="MyController"), {}, ("block", "NotReplicated")),
    (DrainPod("custom", owner_kind="MyController"), {"skip_nodes_with_custom_controller_pods": False},
     ("undefined", "")),
    (DrainPod("mirror", owner_kind=None, mirror=True), {}, ("skip", "MirrorPod")),
    (DrainPod("ds", owner_kind="DaemonSet", daemonset=True), {}, ("ok", "DaemonSet")),
    (DrainPod("bare-safe", owner_kind=None, safe_to_evict=True), {}, ("ok", "SafeToEvictAnnotation")),
    (DrainPod("done", owner_kind=None, phase="Succeeded"), {}, ("ok", "Terminal")),
    (DrainPod("sys", namespace="kube-system"), {}, ("block", "UnmovableKubeSystemPod")),
    (DrainPod("sys-pdb", namespace="kube-system", pdb_disruptions_allowed=1), {}, ("undefined", "")),
    (DrainPod("sys", namespace="kube-system"), {"skip_nodes_with_system_pods": False}, ("undefined", "")),
    (DrainPod("no", safe_to_evict=False), {}, ("block", "NotSafeToEvictAnnotation")),
    (DrainPod("vol", local_storage=True), {}, ("block", "LocalStorageRequested")),
    (DrainPod("vol", local_storage=True), {"skip_nodes_with_local_storage": False}, ("undefined", "")),
    (DrainPod("vol-safe", local_storage=True, safe_to_evict=True), {}, ("ok", "SafeToEvictAnnotation")),
    (DrainPod("pdb0", pdb_disruptions_allowed=0), {}, ("block", "NotEnoughPdb")),
    (DrainPod("pdb1", pdb_disruptions_allowed=1), {}, ("undefined", "")),
    # Deleted at t = 0 with a 30 s grace period: past 0 + 30 + 30 it is skipped even if bare.
    (DrainPod("gone", owner_kind=None, deletion_time=0.0), {"now": 61.0}, ("skip", "LongTerminating")),
    (DrainPod("going", owner_kind=None, deletion_time=0.0), {"now": 60.0}, ("block", "NotReplicated")),
])
def test_drainability_rules_in_upstream_order(pod, kw, expected):
    assert drainable(pod, **kw) == expected


def test_pods_to_move_splits_daemonsets_and_stops_at_the_first_blocker():
    pods = [DrainPod("a"), DrainPod("ds", owner_kind="DaemonSet", daemonset=True), DrainPod("m", mirror=True)]
    move, ds, blocking = pods_to_move(pods)
    assert ([p.name for p in move], [p.name for p in ds], blocking) == (["a"], ["ds"], None)
    move, ds, blocking = pods_to_move(pods + [DrainPod("b", pdb_disruptions_allowed=0)])
    assert (move, ds) == ([], []) and blocking[1] == "NotEnoughPdb"


def test_find_place_for_first_fit_over_the_other_nodes():
    # Two 1000 m nodes with 600 m and 300 m used; pods of 300 m, 400 m, 400 m: the first
    # goes to node 0 (900), the second to node 1 (700), the third fits neither -> None.
    nodes = [EstimatedNode((1000,), requested=[600]), EstimatedNode((1000,), requested=[300])]

    def fits(p, n):
        return fits_resources((p,), n)

    def place(p, n):
        n.add(p, (p,))

    assert find_place_for([300, 400, 400], nodes, fits, place) is None
    nodes = [EstimatedNode((1000,), requested=[600]), EstimatedNode((1000,), requested=[300])]
    placed = find_place_for([300, 400], nodes, fits, place)
    assert [(p, nodes.index(n)) for p, n in placed] == [(300, 0), (400, 1)]
