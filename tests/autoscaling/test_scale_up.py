"""One Cluster Autoscaler scale-up decision, derived by hand."""

from __future__ import annotations

import numpy as np

from k8sim.autoscaling.binpacking import fits_resources
from k8sim.autoscaling.scale_up import GroupState, plan_scale_up

GIB = 2**30


def _pods(cpu, mem, n, tag):
    return [{"cpu": cpu, "mem": mem, "tag": tag, "i": i} for i in range(n)]


def _req(p):
    return (p["cpu"], p["mem"])


SMALL = GroupState("small", target_size=1, max_size=10, allocatable=(2000, 8 * GIB), price_per_hour=0.1)
LARGE = GroupState("large", target_size=0, max_size=10, allocatable=(8000, 32 * GIB), price_per_hour=0.4)


def _plan(groups, pending, expanders, **kw):
    return plan_scale_up(pending, groups, requests_of=_req, expanders=expanders, rng=np.random.default_rng(0),
                         current_node_count=sum(g.target_size for g in groups), **kw)


def test_least_waste_picks_the_group_that_packs_exactly():
    # 10 pods of 1 CPU / 1 GiB. small (2 CPU) needs 5 nodes, no CPU waste:
    # 0 + (40 - 10)/40 = 0.75; large (8 CPU) needs 2: (16 - 10)/16 + (64 - 10)/64 = 1.22.
    plan = _plan([SMALL, LARGE], [_pods(1000, GIB, 10, "a")], ["least-waste"])
    assert {o.group_id: o.node_count for o in plan.options} == {"small": 5, "large": 2}
    assert (plan.group, plan.new_nodes, len(plan.pods)) == ("small", 5, 10)


def test_group_capacity_limits_the_estimate_and_changes_the_choice():
    # small may grow by 2 only (max 3, target 1): its estimate stops at 2 nodes, 4 pods;
    # most-pods then prefers large (10 pods on 2 nodes).
    small = GroupState("small", target_size=1, max_size=3, allocatable=(2000, 8 * GIB))
    plan = _plan([small, LARGE], [_pods(1000, GIB, 10, "a")], ["most-pods"])
    assert {o.group_id: (o.node_count, len(o.pods)) for o in plan.options} == {"small": (2, 4), "large": (2, 10)}
    assert (plan.group, plan.new_nodes) == ("large", 2)


def test_max_nodes_total_caps_the_scale_up():
    # 1 node exists; --max-nodes-total 4 leaves 3: small's estimate is cut at 3 nodes.
    plan = _plan([SMALL, LARGE], [_pods(1000, GIB, 10, "a")], ["least-waste"], max_nodes_total=4)
    assert (plan.group, plan.new_nodes) == ("small", 3)
    plan = _plan([SMALL], [_pods(1000, GIB, 2, "a")], ["random"], max_nodes_total=1)
    assert (plan.group, plan.new_nodes, plan.skipped) == (None, 0, {"small": "max node total count reached"})


def test_skipped_groups_and_pods_that_fit_no_template():
    full = GroupState("full", target_size=3, max_size=3, allocatable=(64000, 256 * GIB))
    huge = _pods(16000, GIB, 1, "huge")           # fits no template of small or large
    plan = _plan([full, SMALL, LARGE], [huge, _pods(500, GIB, 2, "ok")], ["least-waste"])
    assert plan.skipped == {"full": "max size reached"}
    assert plan.unschedulable == (huge,)
    assert plan.group == "small" and plan.new_nodes == 1


def test_custom_filter_plugs_in():
    # A taint on the large group's template that the pods do not tolerate.
    def fits_for(group):
        return lambda pod, node: group.name != "large" and fits_resources(_req(pod), node)
    plan = _plan([SMALL, LARGE], [_pods(1000, GIB, 4, "a")], ["most-pods"], fits_for=fits_for)
    assert [o.group_id for o in plan.options] == ["small"] and plan.new_nodes == 2


def test_nothing_pending_or_nothing_fits_gives_no_plan():
    plan = _plan([SMALL], [_pods(64000, GIB, 1, "x")], ["random"])
    assert (plan.group, plan.new_nodes, plan.options) == (None, 0, ())
