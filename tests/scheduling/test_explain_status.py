"""explain: each rejected node's Filter status as upstream's ``fwk.Status`` carries it.

Upstream sources, per plugin (pkg/scheduler/framework/plugins/...):

- noderesources/fit.go ``Filter`` / ``fitsRequest``: one ``InsufficientResource`` per
  resource that does not fit (pods first, then cpu, memory, ephemeral-storage, extended),
  with ``Requested``, ``Used`` (the node's requested), ``Capacity`` (allocatable) and
  ``Unresolvable = requested > capacity``; the status is ``UnschedulableAndUnresolvable``
  if any is unresolvable, else ``Unschedulable``.
- tainttoleration/taint_toleration.go ``Filter``: ``UnschedulableAndUnresolvable``,
  "node(s) had untolerated taint(s)" (current wording; the taint goes to the V(4) log).
- nodeunschedulable ``ErrReasonUnschedulable`` "node(s) were unschedulable" and nodename
  ``ErrReason`` "node(s) didn't match the requested node name": UnschedulableAndUnresolvable.
- nodeaffinity ``ErrReasonPod``: UnschedulableAndUnresolvable.
- nodeports ``ErrReason`` "node(s) didn't have free ports for the requested pod ports":
  Unschedulable.
- podtopologyspread ``ErrReasonNodeLabelNotMatch``: UnschedulableAndUnresolvable;
  ``ErrReasonConstraintsNotMatch``: Unschedulable.
- interpodaffinity ``ErrReasonAffinityRulesNotMatch``: UnschedulableAndUnresolvable;
  ``ErrReasonAntiAffinityRulesNotMatch`` and
  ``ErrReasonExistingAntiAffinityRulesNotMatch``: Unschedulable.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from builders import make_pod, make_state, node

from k8sim.cluster import ops
from k8sim.cluster.nodes import TaintSpec
from k8sim.rng import Streams
from k8sim.scheduling.explain import explain_pod
from k8sim.scheduling.framework import Profile
from k8sim.scheduling.plugins import inter_pod_affinity as ipa
from k8sim.scheduling.plugins import pod_topology_spread as pts
from k8sim.scheduling.plugins.base import UNSCHEDULABLE, UNSCHEDULABLE_AND_UNRESOLVABLE
from k8sim.scheduling.plugins.node_affinity import ERR_REASON_POD, NodeAffinity
from k8sim.scheduling.plugins.node_name import NodeName
from k8sim.scheduling.plugins.node_ports import NodePorts
from k8sim.scheduling.plugins.node_resources_fit import NodeResourcesFit
from k8sim.scheduling.plugins.node_unschedulable import NodeUnschedulable
from k8sim.scheduling.plugins.taint_toleration import TaintToleration

GI = 1024**3


def explain(state, pod, filters):
    streams = Streams(0)
    fit = next((f for f in filters if isinstance(f, NodeResourcesFit)), None)
    scores = [(fit, 1)] if fit is not None else []
    prof = Profile("test", filters, scores, streams.generator("tie-break", 0))
    return explain_pod(state, prof, pod, "p")


def test_resources_fit_status_and_insufficient_resources():
    # big: 4 cpu, 8Gi, holding 3 cpu / 1Gi; small: 1 cpu, 8Gi, empty; full: pods 1, holding one pod.
    state = make_state(
        [node("big", cpu="4", memory="8Gi"), node("small", cpu="1", memory="8Gi"),
         node("full", cpu="8", memory="8Gi", pods=1)],
        pods=[("big", {"cpu": "3", "memory": "1Gi"}), ("full", {"cpu": "1", "memory": "1Gi"})],
    )
    pod = make_pod(state, {"cpu": "2", "memory": "1Gi"})
    exp = explain(state, pod, [NodeResourcesFit()])
    doc = json.loads(json.dumps(exp.to_dict()))
    nodes = {n["name"]: n for n in doc["nodes"]}
    # big: cpu 2000m > free 4000-3000 = 1000m, but 2000 <= capacity 4000: resolvable
    # (preemption could free it) -> Unschedulable.
    assert nodes["big"]["status"] == UNSCHEDULABLE
    assert nodes["big"]["reasons"] == ["Insufficient cpu"]
    assert nodes["big"]["insufficient_resources"] == [
        {"resource": "cpu", "reason": "Insufficient cpu", "requested": 2000, "used": 3000, "capacity": 4000,
         "unresolvable": False}]
    # small: 2000m > capacity 1000m -> unresolvable -> UnschedulableAndUnresolvable.
    assert nodes["small"]["status"] == UNSCHEDULABLE_AND_UNRESOLVABLE
    assert nodes["small"]["insufficient_resources"] == [
        {"resource": "cpu", "reason": "Insufficient cpu", "requested": 2000, "used": 0, "capacity": 1000,
         "unresolvable": True}]
    # full: 1 pod of 1 allowed: "Too many pods" (requested 1, used 1, capacity 1), never
    # unresolvable (fitsRequest sets no Unresolvable for pods) -> Unschedulable.
    assert nodes["full"]["status"] == UNSCHEDULABLE
    assert nodes["full"]["insufficient_resources"] == [
        {"resource": "pods", "reason": "Too many pods", "requested": 1, "used": 1, "capacity": 1,
         "unresolvable": False}]
    assert doc["statuses"] == {UNSCHEDULABLE: 2, UNSCHEDULABLE_AND_UNRESOLVABLE: 1}


def test_pods_reason_comes_first():
    # fitsRequest checks the pod count before cpu and memory, so "Too many pods" leads.
    # n: pods 1 (one bound pod of 1 cpu / 1Gi), cpu 2; pod 2 cpu: cpu 2000 > free 1000.
    state = make_state([node("n", cpu="2", memory="8Gi", pods=1)], pods=[("n", {"cpu": "1", "memory": "1Gi"})])
    pod = make_pod(state, {"cpu": "2", "memory": "1Gi"})
    st = explain(state, pod, [NodeResourcesFit()]).statuses[0]
    assert st.reasons == ("Too many pods", "Insufficient cpu")
    assert [i["resource"] for i in st.details["insufficient_resources"]] == ["pods", "cpu"]


def test_taint_toleration_status_names_the_taint():
    taint = TaintSpec("dedicated", "gpu", "NoSchedule")
    soft = TaintSpec("spot", "true", "PreferNoSchedule")
    state = make_state([node("t", cpu="4", memory="8Gi", taints=[taint, soft]), node("ok", cpu="4", memory="8Gi")])
    pod = make_pod(state, {"cpu": "1", "memory": "1Gi"})
    exp = explain(state, pod, [TaintToleration(), NodeResourcesFit()])
    row = {n["name"]: n for n in exp.to_dict()["nodes"]}["t"]
    assert row["status"] == UNSCHEDULABLE_AND_UNRESOLVABLE
    assert row["reasons"] == ["node(s) had untolerated taint(s)"]
    # Only the NoSchedule/NoExecute taint is untolerated for the filter.
    assert row["untolerated_taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    assert exp.message == "1/2 nodes are available: 1 node(s) had untolerated taint(s)."


def test_cordoned_and_node_name_are_unresolvable():
    state = make_state([node("a", cpu="4", memory="8Gi"), node("b", cpu="4", memory="8Gi")])
    ops.set_unschedulable(state, 0, True)
    pod = make_pod(state, {"cpu": "1"}, node_name="a")
    exp = explain(state, pod, [NodeUnschedulable(), NodeName(), NodeResourcesFit()])
    assert [(st.code, st.reasons) for st in exp.statuses] == [
        (UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) were unschedulable",)),
        (UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) didn't match the requested node name",)),
    ]
    frame = exp.to_frame()
    assert frame["status"].tolist() == [UNSCHEDULABLE_AND_UNRESOLVABLE] * 2


@pytest.mark.parametrize(
    "plugin, reason, code",
    [
        (NodePorts(), "node(s) didn't have free ports for the requested pod ports", UNSCHEDULABLE),
        (NodeAffinity(), ERR_REASON_POD, UNSCHEDULABLE_AND_UNRESOLVABLE),
        (pts.PodTopologySpread(), pts.REASON_MISSING_LABEL, UNSCHEDULABLE_AND_UNRESOLVABLE),
        (pts.PodTopologySpread(), pts.REASON_CONSTRAINTS, UNSCHEDULABLE),
        (ipa.InterPodAffinity(), ipa.REASON_AFFINITY, UNSCHEDULABLE_AND_UNRESOLVABLE),
        (ipa.InterPodAffinity(), ipa.REASON_ANTI_AFFINITY, UNSCHEDULABLE),
        (ipa.InterPodAffinity(), ipa.REASON_EXISTING_ANTI_AFFINITY, UNSCHEDULABLE),
    ],
)
def test_status_code_per_reason(plugin, reason, code):
    state = make_state([node("a", cpu="1", memory="1Gi")])
    pod = make_pod(state, {"cpu": "1"})
    st = plugin.node_status(state, pod, 0, (reason,))
    assert (st.code, st.reasons) == (code, (reason,))


@pytest.mark.parametrize(
    "text",
    [
        # Current upstream constants, verbatim.
        "node(s) had untolerated taint(s)",  # tainttoleration Filter
        "node(s) were unschedulable",  # nodeunschedulable ErrReasonUnschedulable
        "node(s) didn't match the requested node name",  # nodename ErrReason
        "node(s) didn't match Pod's node affinity/selector",  # nodeaffinity ErrReasonPod
        "node(s) didn't have free ports for the requested pod ports",  # nodeports ErrReason
        "node(s) didn't match pod topology spread constraints",  # ErrReasonConstraintsNotMatch
        "node(s) didn't match pod topology spread constraints (missing required label)",
        "node(s) didn't match pod affinity rules",  # ErrReasonAffinityRulesNotMatch
        "node(s) didn't match pod anti-affinity rules",  # ErrReasonAntiAffinityRulesNotMatch
        "node(s) didn't satisfy existing pods anti-affinity rules",  # ErrReasonExistingAntiAffinityRulesNotMatch
    ],
)
def test_messages_use_upstream_wording(text):
    reasons = {
        TaintToleration.reason, NodeUnschedulable.reason, NodeName.reason, NodePorts.reason, ERR_REASON_POD,
        pts.REASON_CONSTRAINTS, pts.REASON_MISSING_LABEL, ipa.REASON_AFFINITY, ipa.REASON_ANTI_AFFINITY,
        ipa.REASON_EXISTING_ANTI_AFFINITY,
    }
    assert text in reasons


def test_statuses_align_with_rejected_by():
    taint = TaintSpec("dedicated", "gpu", "NoExecute")
    state = make_state([node("a", cpu="4", memory="8Gi", taints=[taint]), node("b", cpu="1", memory="8Gi"),
                        node("c", cpu="4", memory="8Gi")])
    pod = make_pod(state, {"cpu": "2"})
    exp = explain(state, pod, [TaintToleration(), NodeResourcesFit()])
    assert [st is None for st in exp.statuses] == [r is None for r in exp.rejected_by] == [False, False, True]
    assert exp.feasible.tolist() == [2]
    assert np.array_equal(exp.totals.shape, (1,))


def test_failed_scheduling_message_sorts_count_and_reason_strings():
    # FitError.Error (pkg/scheduler/framework/types.go) formats "<count> <reason>" per
    # reason and sort.Strings them: "12 ..." < "3 ..." because '1' < '3', whatever the
    # reasons say. 15 nodes: 12 cordoned, 3 too small for a 2-cpu pod.
    state = make_state([node(f"c{i}", cpu="4", memory="8Gi") for i in range(12)]
                       + [node(f"s{i}", cpu="1", memory="8Gi") for i in range(3)])
    for i in range(12):
        ops.set_unschedulable(state, i, True)
    pod = make_pod(state, {"cpu": "2"})
    exp = explain(state, pod, [NodeUnschedulable(), NodeResourcesFit()])
    # (Sorted by reason it would read "3 Insufficient cpu, 12 node(s) were unschedulable.")
    assert exp.message == "0/15 nodes are available: 12 node(s) were unschedulable, 3 Insufficient cpu."
