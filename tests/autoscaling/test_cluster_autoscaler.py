"""Cluster Autoscaler rules against kubernetes/autoscaler's tests and hand derivations.

Mirrored (cluster-autoscaler/...): simulator/utilization/info_test.go (TestCalculate),
estimator/binpacking_estimator_test.go (TestBinpackingEstimate, by case name),
expander/mostpods/mostpods_test.go (TestMostPods), expander/waste/waste_test.go
(TestLeastWaste), expander/priority/priority_test.go (by test name).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from k8sim.autoscaling.binpacking import EstimatedNode, estimate, fits_resources
from k8sim.autoscaling.ca_rules import (
    MAX_NODE_PROVISION_TIME_S,
    SCALE_DOWN_DELAY_AFTER_ADD_S,
    SCALE_DOWN_UNNEEDED_TIME_S,
    SCALE_DOWN_UTILIZATION_THRESHOLD,
    SCAN_INTERVAL_S,
    NodeResources,
    PodRequests,
    UnneededNodes,
    calculate_utilization,
    scale_down_in_cooldown,
    unremovable_reason,
)
from k8sim.autoscaling.expanders import (
    ExpansionOption,
    choose,
    least_waste,
    linear_pod_price,
    most_pods,
    preferred_node_cpu,
    price,
    priority,
    simple_node_unfitness,
)

# --- utilisation: info_test.go TestCalculate -------------------------------------------------
NODE = NodeResources(cpu=2000, memory=2_000_000)
POD = PodRequests(cpu=100, memory=200_000)
POD2 = PodRequests()  # BuildTestPod("p2", -1, -1): no requests
DS = PodRequests(cpu=100, memory=200_000, daemonset=True)
MIRROR = PodRequests(cpu=100, memory=200_000, mirror=True)


def test_calculate_mirrors_upstream():
    now = 10_000.0
    u = calculate_utilization(NODE, [POD, POD, POD2], now=now)
    assert u.utilization == pytest.approx(2.0 / 10) and u.cpu == 0.1 and u.resource == "memory"
    # DaemonSet pods skipped: their requests leave numerator and allocatable.
    u = calculate_utilization(NODE, [POD, POD, POD2, DS, DS], skip_daemonset_pods=True, now=now)
    assert u.utilization == pytest.approx(2.5 / 10)
    assert calculate_utilization(NODE, [POD, POD2, DS], now=now).utilization == pytest.approx(2.0 / 10)
    # A pod deleted 10 minutes ago (past its 30 s grace + 30 s) no longer counts.
    gone = PodRequests(cpu=100, memory=200_000, deletion_time=now - 600)
    assert calculate_utilization(NODE, [POD, POD, POD2, gone], now=now).utilization == pytest.approx(2.0 / 10)
    assert calculate_utilization(NODE, [POD, POD, POD2, MIRROR], skip_mirror_pods=True,
                                 now=now).utilization == pytest.approx(2.0 / 9.0)
    assert calculate_utilization(NODE, [POD, POD2, MIRROR], now=now).utilization == pytest.approx(2.0 / 10)
    assert calculate_utilization(NODE, [POD, MIRROR, DS], skip_daemonset_pods=True, skip_mirror_pods=True,
                                 now=now).utilization == pytest.approx(1.0 / 8.0)
    # GPU node: utilisation is the GPU ratio (1 of 1); an unready GPU counts as 0.
    gpu_node = NodeResources(cpu=2000, memory=2_000_000, gpu=1)
    assert calculate_utilization(gpu_node, [POD, POD, PodRequests(100, 200_000, gpu=1)],
                                 now=now).utilization == 1.0
    assert calculate_utilization(NODE, [POD, POD], gpu_node=True, now=now).utilization == 0.0
    # No memory allocatable: an error, as upstream.
    with pytest.raises(ValueError):
        calculate_utilization(NodeResources(cpu=2000, memory=0), [POD], now=now)


def test_a_deleting_pod_counts_until_its_grace_period_plus_30s():
    # Deleted at t=0 with a 30 s grace period: still counted at t = 60 (0 + 30 + 30 is
    # not before 60), gone at t = 60.001.
    p = PodRequests(cpu=1000, memory=0, deletion_time=0.0, grace_period_s=30.0)
    node = NodeResources(cpu=2000, memory=1)
    assert calculate_utilization(node, [p], now=60.0).cpu == 0.5
    assert calculate_utilization(node, [p], now=60.001).cpu == 0.0


def test_eligibility_threshold_and_reasons():
    below = calculate_utilization(NodeResources(1000, 1000), [PodRequests(499, 499)])
    at = calculate_utilization(NodeResources(1000, 1000), [PodRequests(500, 100)])
    assert SCALE_DOWN_UTILIZATION_THRESHOLD == 0.5
    assert unremovable_reason(below, has_gpu=False) is None
    assert unremovable_reason(at, has_gpu=False) == "NotUnderutilized"  # 0.5 is not < 0.5
    assert unremovable_reason(below, has_gpu=False, scale_down_disabled=True) == "ScaleDownDisabledAnnotation"
    assert unremovable_reason(below, has_gpu=False, being_deleted=True) == "CurrentlyBeingDeleted"
    assert unremovable_reason(below, has_gpu=False, ready=False,
                              scale_down_unready_enabled=False) == "ScaleDownUnreadyDisabled"
    gpu = calculate_utilization(NodeResources(1000, 1000, gpu=4), [PodRequests(900, 900, gpu=1)])
    assert unremovable_reason(gpu, has_gpu=True) is None                   # 0.25 GPU
    assert unremovable_reason(gpu, has_gpu=True, gpu_threshold=0.2) == "NotUnderutilized"


def test_defaults_are_upstreams():
    assert (SCAN_INTERVAL_S, SCALE_DOWN_UNNEEDED_TIME_S, SCALE_DOWN_DELAY_AFTER_ADD_S,
            MAX_NODE_PROVISION_TIME_S) == (10.0, 600.0, 600.0, 900.0)


def test_unneeded_node_is_removable_only_after_the_unneeded_time():
    # Scans every 10 s; node "a" is unneeded from t = 0 on, "b" from t = 0 but needed at
    # t = 300, so its clock restarts at t = 310. "a" becomes removable at the first scan
    # strictly after 0 + 600: t = 610; "b" at 310 + 600 < t: t = 920.
    u = UnneededNodes()
    removable_at: dict[str, float] = {}
    for t in np.arange(0.0, 1000.0, 10.0):
        names = ["a"] + ([] if t == 300.0 else ["b"])
        u.update(names, t)
        for n in names:
            if n not in removable_at and u.removable(n, t):
                removable_at[n] = t
    assert removable_at == {"a": 610.0, "b": 920.0}
    assert u.since("b") == 310.0


def test_scale_down_cooldown_after_add():
    assert scale_down_in_cooldown(599.0, last_scale_up=0.0)
    assert scale_down_in_cooldown(600.0, last_scale_up=0.0) is False  # 0 + 600 is not after 600
    assert scale_down_in_cooldown(5.0, last_scale_down_delete=0.0)     # delay after delete = scan interval
    assert scale_down_in_cooldown(100.0, last_scale_down_failure=0.0)  # 3 min after a failure
    assert not scale_down_in_cooldown(100.0)


# --- binpacking: binpacking_estimator_test.go TestBinpackingEstimate -------------------------
MIB = 2**20


def _group(cpu, mem, n, **extra):
    return [dict(cpu=cpu, mem=mem, i=i, group=(cpu, mem), **extra) for i in range(n)]


def _req(p):
    return (p["cpu"], p["mem"], 1)  # the third resource is the pod count


def _template(cpu, mem_mib, pods=10):
    return (cpu, mem_mib * MIB, pods)


def test_simple_resource_based_binpacking():
    # node 350*3 - 50 = 1000 m: two 350 m pods per node -> 10 pods on 5 nodes.
    e = estimate([_group(350, 1000, 10)], _template(350 * 3 - 50, 2 * 1000), requests_of=_req)
    assert (e.node_count, len(e.scheduled)) == (5, 10)


def test_pods_per_node_bound_binpacking():
    e = estimate([_group(10, 100, 20)], _template(10000, 20000), requests_of=_req)
    assert (e.node_count, len(e.scheduled)) == (2, 20)


def test_hostport_conflict_forces_pod_per_node():
    def fits(pod, node):
        return fits_resources(_req(pod), node) and all(p.get("port") != pod["port"] for p in node.pods)
    e = estimate([_group(200, 1000, 8, port=5555)], _template(1000, 5000), requests_of=_req, fits=fits)
    assert (e.node_count, len(e.scheduled)) == (8, 8)


def test_limiter_cuts_binpacking():
    e = estimate([_group(500, 1000, 20)], _template(1000, 5000), requests_of=_req, max_nodes=5)
    assert (e.node_count, len(e.scheduled)) == (5, 10)


def test_decreasing_ordered_pods_are_processed_first():
    small, high = _group(50, 1000, 10), _group(500, 1000, 10)
    e = estimate([small, high], _template(1000, 5000), requests_of=_req, max_nodes=5)
    assert (e.node_count, len(e.scheduled)) == (5, 10)
    assert list(e.scheduled) == high


def test_hostname_topology_spreading_with_max_skew_2_forces_2_pods_per_node():
    # maxSkew 2 over hostnames, an empty old node in the cluster: at most 2 per node.
    def fits(pod, node):
        return fits_resources(_req(pod), node) and len(node.pods) < 2
    e = estimate([_group(20, 100, 8)], _template(1000, 5000), requests_of=_req, fits=fits)
    assert (e.node_count, len(e.scheduled)) == (4, 8)


def test_zonal_topology_spreading_with_max_skew_2_only_allows_2_pods_to_schedule():
    # Every new node is in the template's zone; the old node's zone has 0 pods, so the
    # template zone may hold at most 2.
    seen: dict[int, EstimatedNode] = {}

    def fits(pod, node):
        seen[id(node)] = node
        return fits_resources(_req(pod), node) and sum(len(n.pods) for n in seen.values()) < 2
    e = estimate([_group(20, 100, 8)], _template(1000, 5000), requests_of=_req, fits=fits)
    assert (e.node_count, len(e.scheduled)) == (1, 2)


def test_hand_computed_mixed_binpacking():
    # Template 4000 m / 8 GiB. Groups: 3 pods of 3000 m (score 0.75 + small mem), 5 of
    # 1000 m, 2 of 500 m. First-fit decreasing: the three 3000 m pods take 3 nodes with
    # 1000 m left each; the 1000 m pods fill those three (one each), the 4th and 5th go
    # on a new node (2000 m used), the 500 m pods join it (3000 m). Total 4 nodes.
    groups = [_group(500, 256 * MIB, 2), _group(3000, 256 * MIB, 3), _group(1000, 256 * MIB, 5)]
    e = estimate(groups, (4000, 8 * 1024 * MIB, 110), requests_of=_req)
    assert (e.node_count, len(e.scheduled)) == (4, 10)


def test_a_pod_that_fits_no_template_adds_no_node():
    e = estimate([_group(5000, 1, 3)], _template(1000, 5000), requests_of=_req)
    assert (e.node_count, e.scheduled) == (0, ())


# --- expanders ---------------------------------------------------------------------------------
def _opt(gid, pods=(), count=1, cpu=4000, mem=16 * 2**30, price_=0.0, exists=True, gpu=False):
    return ExpansionOption(gid, count, tuple(pods), cpu, mem, price_, exists, gpu)


def test_most_pods_mirrors_upstream():
    eo0, eo1, eo1b = _opt("EO0"), _opt("EO1", [(0, 0)]), _opt("EO1b", [(0, 0)])
    assert most_pods([eo0]) == [eo0]
    assert most_pods([eo0, eo1]) == [eo1]
    assert most_pods([eo0, eo1, eo1b]) == [eo1, eo1b]


def test_least_waste_mirrors_upstream():
    cpu, mem = 500, 1000 * 1024 * 1024
    pod = (cpu, mem)
    balanced = _opt("balanced", [pod], cpu=16 * cpu, mem=16 * mem)
    highmem = _opt("highmem", [pod], cpu=16 * cpu, mem=32 * mem)
    lowcpu = _opt("lowcpu", [pod], cpu=8 * cpu, mem=16 * mem)
    assert least_waste([balanced]) == [balanced]
    assert least_waste([balanced, highmem]) == [balanced]
    assert least_waste([balanced, highmem, lowcpu]) == [lowcpu]


PRIORITIES = {5: [r".*t2\.micro.*"], 10: [r".*t2\.large.*", r".*t3\.large.*"], 50: [r".*m4\.4xlarge.*"]}
T2MICRO, T2LARGE, T3LARGE, M4 = (_opt(g) for g in ("my-asg.t2.micro", "my-asg.t2.large", "my-asg.t3.large",
                                                   "my-asg.m4.4xlarge"))


def test_priority_mirrors_upstream():
    # TestPriorityExpanderCorrecltySelectsSingleMatchingOptionOutOfOne / OutOfMany
    assert priority([T2LARGE], PRIORITIES) == [T2LARGE]
    assert priority([T2LARGE, M4], PRIORITIES) == [M4]
    # ...DoesNotFallBackToRandomWhenHigherPriorityMatches
    assert priority([T2LARGE, T2MICRO], {5: [".*"], 10: [r".t2\.large.*"]}) == [T2LARGE]
    # ...SelectsOneOfTwoMatchingOptionsOutOfMany
    assert priority([T2LARGE, T3LARGE, T2MICRO], PRIORITIES) == [T2LARGE, T3LARGE]
    # ...FallsBackToRandomWhenNoMatches (notMatchingConfig)
    assert priority([T2LARGE, T3LARGE], {5: [r".*t\.micro.*"], 10: [r".*t\.large.*"]}) == [T2LARGE, T3LARGE]
    # ...HandlesConfigUpdate (oneEntryConfig): unmatched groups are not used
    assert priority([T2LARGE, T3LARGE, M4], {10: [r".*t2\.large.*"]}) == [T2LARGE]


def test_price_expander_hand_derived():
    # Preferred node for a 10-node cluster: 4 CPU. Pod price (GCE linear model) of a
    # 1 CPU / 1 GiB pod: 0.033174 + 0.004446 = 0.03762; stabilization pod (0.5 CPU,
    # 500 MiB): 0.016587 + 0.004446 * 500/1024.
    pod = (1000, 2**30)
    stab = 0.5 * 0.033174 + 500 / 1024 * 0.004446
    p = linear_pod_price(*pod)
    assert p == pytest.approx(0.03762)
    assert preferred_node_cpu(10) == 4000 and preferred_node_cpu(2) == 1000 and preferred_node_cpu(500) == 32000
    # A: 1 node of 4 CPU at 0.20/h for 3 pods: unfitness 1; score (0.2 + s)/(3p + s).
    # B: 2 nodes of 2 CPU at 0.09/h: unfitness 2 suppressed by (1 - tanh(1/15)):
    #    (2 - 1)(1 - tanh(1/15)) + 1; score that * (0.18 + s)/(3p + s).
    a = _opt("a", [pod] * 3, count=1, cpu=4000, price_=0.20)
    b = _opt("b", [pod] * 3, count=2, cpu=2000, price_=0.09)
    score_a = (0.20 + stab) / (3 * p + stab)
    score_b = (1 * (1 - math.tanh(1 / 15)) + 1) * (0.18 + stab) / (3 * p + stab)
    assert score_a < score_b
    assert price([a, b], cluster_size=10) == a
    # Make A not exist yet (doubled score): then B wins if 2 * score_a > score_b.
    assert 2 * score_a > score_b
    assert price([_opt("a", [pod] * 3, count=1, cpu=4000, price_=0.20, exists=False), b], cluster_size=10) == b
    # A GPU template is unattractive (unfitness 1000).
    assert price([_opt("g", [pod] * 3, cpu=4000, price_=0.01, gpu=True), b], cluster_size=10) == b
    assert simple_node_unfitness(4000, 1000) == 4.0


def test_choose_chains_filters_then_draws_with_the_seeded_generator():
    opts = [T2LARGE, T3LARGE, T2MICRO]
    picks = {choose(opts, ["priority"], np.random.default_rng(s), priorities=PRIORITIES).group_id
             for s in range(40)}
    assert picks == {"my-asg.t2.large", "my-asg.t3.large"}
    a = choose(opts, ["random"], np.random.default_rng(7))
    b = choose(opts, ["random"], np.random.default_rng(7))
    assert a == b
    with pytest.raises(ValueError, match="unknown expander 'cheapest'"):
        choose(opts, ["cheapest"], np.random.default_rng(0))
    assert choose([], ["random"], np.random.default_rng(0)) is None


REGULAR = NodeResources(cpu=1000, memory=10)
BIG, SMALL = PodRequests(cpu=600), PodRequests(cpu=100)
DS_POD = PodRequests(cpu=500, daemonset=True)


@pytest.mark.parametrize(("desc", "pods", "kw", "ignore_ds", "removable"), [
    ("regular node stays", [], {}, False, True),
    ("recently deleted node is filtered out", [], {"being_deleted": True}, False, False),
    ("marked no scale down is filtered out", [], {"scale_down_disabled": True}, False, False),
    ("highly utilized node is filtered out", [BIG], {}, False, False),
    ("underutilized node stays", [SMALL], {}, False, True),
    ("unready node stays", [], {"ready": False}, False, True),
    ("unready node is filtered oud when scale-down of unready is disabled", [],
     {"ready": False, "scale_down_unready_enabled": False}, False, False),
    ("high utilization daemonsets node is filtered out", [SMALL, DS_POD], {}, False, False),   # 600/1000
    ("high utilization daemonsets node stays", [SMALL, DS_POD], {}, True, True),               # 100/500
])
def test_filter_out_unremovable_mirrors_upstream(desc, pods, kw, ignore_ds, removable):
    # eligibility_test.go TestFilterOutUnremovable: a 1000 m node, default thresholds.
    info = calculate_utilization(REGULAR, pods, skip_daemonset_pods=ignore_ds)
    assert (unremovable_reason(info, has_gpu=False, **kw) is None) == removable


def test_price_expander_mirrors_upstream():
    # price_test.go TestPriceExpander: node n1 1000 m, n2 and n3 4000 m; pods p1
    # (1000 m) priced 20, p2 (500 m) 10, the stabilization pod (500 m, 500 MiB) 10.
    prices = {(1000, 0): 20.0, (500, 0): 10.0, (500, 500 * 2**20): 10.0}

    def pod_price(cpu, mem):
        return prices[(cpu, mem)]

    p1, p2 = (1000, 0), (500, 0)

    def opts(n1, n2, c1=2, c2=1, pods1=(p1, p2), n3=None):
        o = [_opt("ng1", pods1, count=c1, cpu=1000, price_=n1), _opt("ng2", (p1, p2), count=c2, cpu=4000, price_=n2)]
        if n3 is not None:
            o.append(_opt("ng3", (p1, p2), count=1, cpu=4000, price_=n3, exists=False))
        return o

    def best(options, preferred):
        chosen = price(options, preferred_cpu=preferred, pod_price=pod_price)
        return None if chosen is None else chosen.group_id

    assert best(opts(20.0, 200.0), 2000) == "ng1"                   # first node group is cheaper
    assert best(opts(50.0, 200.0), 4000) == "ng2"                   # ... however the second is preferred
    assert best(opts(20.0, 200.0, c1=80, c2=40), 4000) == "ng1"     # ... but lots of nodes to create
    assert best(opts(200.0, 100.0), 2000) == "ng2"                  # second node group is cheaper
    assert best(opts(200.0, 200.0, pods1=(p1,)), 2000) == "ng2"     # equally expensive, 2 accepts two pods
    prices.clear()                                                   # errors are expected
    assert best(opts(None, None, pods1=(p1,)), 2000) is None
    prices.update({(1000, 0): 20.0, (500, 0): 10.0, (500, 500 * 2**20): 10.0})
    assert best(opts(200.0, 200.0, pods1=(p1,), n3=200.0), 2000) == "ng2"  # existing wins at the same price
    assert best(opts(200.0, 200.0, pods1=(p1,), n3=90.0), 2000) == "ng3"   # non-existing when cheaper


def test_daemonsets_using_all_allocatable_divide_as_go_does():
    # Skipped DaemonSet pods take the whole 1000 m: Go's float division gives +Inf for a
    # non-zero numerator (needed) and NaN for 0/0, which is not >= the threshold.
    node = NodeResources(cpu=1000, memory=1000)
    ds = PodRequests(cpu=1000, memory=1000, daemonset=True)
    u = calculate_utilization(node, [ds, PodRequests(cpu=100, memory=100)], skip_daemonset_pods=True)
    assert math.isinf(u.utilization) and unremovable_reason(u, has_gpu=False) == "NotUnderutilized"
    u = calculate_utilization(node, [ds], skip_daemonset_pods=True)
    assert math.isnan(u.utilization) and unremovable_reason(u, has_gpu=False) is None


def test_benchmark_binpacking_estimate_numbers():
    # BenchmarkBinpackingEstimate's expectations: 50 000 pods of 50 m and 1 000 of 95 m on
    # 1000 m templates (100 pods each), at most 3000 nodes -> 2595 nodes, 51 000 pods.
    # By hand: the 95 m pods go first, 10 per node on 100 nodes (950 m); the 50 m pods
    # fill those (one each), then 20 per new node: 100 + 49 900 / 20 = 2595.
    groups = [_group(50, 100, 50_000), _group(95, 190, 1_000)]
    e = estimate(groups, (1000, 5000 * MIB, 100), requests_of=_req, max_nodes=3000)
    assert (e.node_count, len(e.scheduled)) == (2595, 51_000)


def test_node_group_backoff_doubles_after_each_ended_backoff():
    from k8sim.autoscaling.ca_rules import NodeGroupBackoff, min_size_reached
    b = NodeGroupBackoff()                       # 5 min initial, 30 min max, 3 h reset
    assert b.backoff("g", 0.0) == 300.0          # first failure: 5 min
    assert b.backoff("g", 100.0) == 400.0        # during the back-off: not lengthened
    assert b.is_backed_off("g", 399.0) and not b.is_backed_off("g", 400.0)
    assert b.backoff("g", 500.0) == 1100.0       # after it ended: doubled to 10 min
    assert b.backoff("g", 1200.0) == 2400.0      # 20 min
    assert b.backoff("g", 2500.0) == 4300.0      # 40 min capped at 30
    b.remove_stale(2500.0 + 3 * 3600.0)          # exactly 3 h later: kept (not before)
    assert b.backoff("g", 6000.0) == 7800.0      # still doubling from 30 min: capped
    b.remove_stale(6000.0 + 3 * 3600.0 + 1)      # more than 3 h after the last failure
    assert b.backoff("g", 20_000.0) == 20_300.0  # starts over at 5 min
    assert min_size_reached(3, 0, 3) and min_size_reached(4, 1, 3) and not min_size_reached(4, 0, 3)
