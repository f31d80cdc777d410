"""Kueue's fair-sharing preemption, hand-derived, and the loop it must not fall into.

The rules are upstream's ``pkg/scheduler/preemption/preemption.go``
(``fairPreemptions``, ``runFirstFsStrategy``, ``runSecondFsStrategy``),
``fairsharing/ordering.go`` (the target queue with the highest share first),
``fairsharing/strategy.go`` (``LessThanOrEqualToFinalShare``: the preemptor's share
with its workload <= the target's without the candidate; ``LessThanInitialShare``: <
the target's share now) and the sticky, preferred preemptor of
``pkg/cache/queue/cluster_queue.go`` (``preemptorWorkload``). A share is
``pkg/cache/scheduler/fair_sharing.go`` ``dominantResourceShare``: the queue's usage
above its nominal quota x 1000 / the cohort's lendable quota of the resource, divided
by the queue's weight.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

from k8sim import Simulation, validate_scenario
from k8sim.batch.kueue import Kueue

sys.path.insert(0, str(Path(__file__).parent))
from test_kueue_shortcuts import scenario as mixed_scenario  # noqa: E402


def cohort(quotas: dict[str, int], workloads: list[tuple[str, str, float, int, float]]) -> dict:
    """ClusterQueues ``quotas`` (name -> nominal CPUs) in cohort ``all``, each with
    weight 1, ``withinClusterQueue: LowerPriority`` and ``reclaimWithinCohort: Any``
    (upstream's ``baseCQs`` of ``TestFairPreemptions``); fair sharing on. Workloads
    ``(name, queue, cpus, priority, created_s)``, one pod each, running 10,000 s.
    One 64-CPU node, so nodes never limit anything."""
    def cq(name: str, cpus: int) -> dict:
        return {"name": name, "cohort": "all", "fairSharing": {"weight": 1},
                "preemption": {"withinClusterQueue": "LowerPriority", "reclaimWithinCohort": "Any"},
                "resourceGroups": [{"coveredResources": ["cpu"], "flavors": [
                    {"name": "default", "resources": [{"name": "cpu", "nominalQuota": cpus}]}]}]}

    return {
        "name": "fair", "duration_s": 1000,
        "cluster": {"node_pools": [{"name": "n", "count": 1, "allocatable": {"cpu": "64", "memory": "256Gi"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": 0}},
        "kueue": {
            "resourceFlavors": [{"name": "default"}], "cohorts": [{"name": "all"}],
            "fairSharing": {"enable": True},
            "clusterQueues": [cq(n, c) for n, c in quotas.items()],
            "localQueues": [{"name": n, "clusterQueue": n} for n in quotas],
        },
        "workloads": [{"name": name, "queue": q, "arrival": {"kind": "burst", "count": 1, "at_s": at},
                       "duration": {"kind": "constant", "value": 10000},
                       "template": {"requests": {"cpu": f"{int(cpus * 1000)}m"}, "priority": prio}}
                      for name, q, cpus, prio, at in workloads],
    }


BASE = {"a": 3, "b": 3, "c": 3, "preemptible": 0}  # the cohort lends 9 CPUs


def outcome(sc: dict) -> tuple[set[str], set[str]]:
    """(workloads evicted, workloads admitted at the end)."""
    f = Simulation(validate_scenario(sc)).run().frames["queue_workloads"]
    evicted = {str(w)[: -len("-0")] for w in f.loc[f["evictions"] > 0, "workload"]}
    admitted = {str(w)[: -len("-0")] for w in f.loc[f["status"] == "Admitted", "workload"]}
    return evicted, admitted


@pytest.mark.parametrize(("case", "workloads", "victims"), [
    # "can preempt a combination of same CQ and highest user": a holds a-low (priority
    # -1), a2, a3 (3 = nominal), b holds six (borrows 3): the cohort's 9 are used.
    # a-incoming (2) makes a 5: share 2 x 1000 / 9 = 222.2; b's is 333.3, the highest:
    # its latest workload b1 goes (b: 5, 222.2 >= 222.2, rule S2-a); 1 CPU free. Now a
    # and b tie at 222.2; b's next candidate comes first (other queues first): 222.2 <=
    # 111.1 fails for each of b's, which wait for S2-b; then a's own a-low goes
    # (priority preemption): 2 free, it fits. Adding b1 back leaves 1: both stay
    # victims. (Upstream's workloads are admitted together and tie by UID; here b1 is
    # admitted last, so it is the "most recently admitted" of CandidatesOrdering.)
    ("combination", [("a-low", "a", 1, -1, 0), ("a2", "a", 1, 0, 0), ("a3", "a", 1, 0, 0)]
     + [(f"b{i}", "b", 1, 0, 0) for i in range(2, 7)] + [("b1", "b", 1, 0, 1), ("a-incoming", "a", 2, 0, 10)],
     {"a-low", "b1"}),
    # "can't preempt when it would switch the imbalance": a 3, b 5 (borrows 2); 1 free.
    # a-incoming (2) makes a's share 222.2 = b's: without one of b's, b is at 111.1 <
    # 222.2 (S2-a fails) and 222.2 < 222.2 is false (S2-b fails): nothing.
    ("switch", [(f"a{i}", "a", 1, 0, 0) for i in range(1, 4)] + [(f"b{i}", "b", 1, 0, 0) for i in range(1, 6)]
     + [("a-incoming", "a", 2, 0, 10)], set()),
    # "preempt from different cluster queues if the end result has a smaller max
    # share": b and c each hold 2.5 then 2 (4.5, share 166.7); a-incoming (3.5) makes
    # a's 55.6. S2-a: removing any of them leaves its queue within nominal (share 0 <
    # 55.6): all wait for S2-b, one per queue: c (tied with b, its latest workload c1
    # is later) loses c1 (55.6 < 166.7; 2 free of 3.5), then b loses b1 (4 free): fits.
    # Adding c1 back leaves 2: both stay.
    ("smaller max share", [("b2", "b", 2.5, 0, 0), ("c2", "c", 2.5, 0, 0), ("b1", "b", 2, 0, 1),
                           ("c1", "c", 2, 0, 1), ("a-incoming", "a", 3.5, 0, 10)], {"b1", "c1"}),
    # "scenario above does not flap": a 3.5 (share 55.6), b 2.5, c 2.5; b-incoming (2)
    # makes b's share 166.7; only a borrows: 166.7 <= 0 and 166.7 < 55.6 both fail.
    ("does not flap", [("a1", "a", 3.5, 0, 0), ("b2", "b", 2.5, 0, 0), ("c2", "c", 2.5, 0, 0),
                       ("b-incoming", "b", 2, 0, 10)], set()),
])
def test_fair_preemptions_as_upstreams_test_fair_preemptions(case: str, workloads: list, victims: set[str]) -> None:
    """Cases of upstream's ``TestFairPreemptions``
    (``pkg/scheduler/preemption/preemption_fair_test.go``), derived by hand here."""
    evicted, admitted = outcome(cohort(BASE, workloads))
    assert evicted == victims, case
    incoming = workloads[-1][0]
    assert (incoming in admitted) == bool(victims), case


@pytest.fixture
def evictions_once(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[float, int]]:
    """A guard on the real component: a workload evicted twice at one instant raises
    (the preemption loop would otherwise never return). Returns the evictions seen."""
    seen: Counter[tuple[float, int]] = Counter()
    evict = Kueue._evict

    def guarded(self: Kueue, wl, why: str, **kw: bool) -> None:  # noqa: ANN001
        key = (float(self.env.now), wl.index)
        seen[key] += 1
        if seen[key] > 1:
            raise AssertionError(f"{wl.name} evicted twice at {key[0]} s: {why}")
        evict(self, wl, why, **kw)

    monkeypatch.setattr(Kueue, "_evict", guarded)
    return seen


def test_a_preemptor_behind_ineligible_heads_keeps_the_quota_it_freed(
        evictions_once: Counter[tuple[float, int]]) -> None:
    """Upstream's integration case "workload admits when several higher priority
    blocking workloads in front" (kueue#7101,
    ``test/integration/singlecluster/scheduler/fairsharing/fair_sharing_test.go``), with
    the cohort's 9 CPUs on a lender queue (k8sim's cohorts hold no quota).

    t = 0: p1 admits four 2-CPU workloads (8 of 9; share 8 x 1000 / 9 = 888.9).
    t = 10: h7 (7 CPUs, priority 999) in p2 would make p2's share 777.8: without one of
    p1's, p1 is at 666.7 (S2-a fails); S2-b (777.8 < 888.9) removes one, 3 free < 7:
    no preemption; set aside. t = 11: h6 (6): 666.7 <= 666.7 removes one (3 free), then
    p1 is at 666.7 and 666.7 <= 444.4, 666.7 < 666.7 both fail: set aside.
    t = 20: p (5 CPUs, priority 0): 555.6 <= 666.7 removes p1's latest, then S2-b
    555.6 < 666.7 removes the next: 5 free, p fits; two of p1's are evicted. Their
    release requeues h7 and h6 above p (priority 999), and p1's evicted workloads would
    make p1's share 666.7, above nothing p2 offers... except that h7 and h6 cannot be
    admitted, and on being set aside again p would find the quota taken by p1's
    (share 666.7 < h7's 1333): without upstream's sticky, preferred preemptor p evicts
    them again, for ever. With it p is admitted at 20 s (p2's share 555.6, upstream's
    556 after rounding up), p1 keeps two (444.4, upstream's 445); h7, h6 and p1's
    evicted ones cannot preempt anyone (their shares would exceed the targets'); each
    eviction happens once (without the preemptor rule, w2 is evicted again and again at
    20 s: the guard fails the test instead of letting it hang)."""
    sc = cohort({"lender": 9, "p1": 0, "p2": 0},
                [(f"w{i}", "p1", 2, 0, 0) for i in range(4)]
                + [("h7", "p2", 7, 999, 10), ("h6", "p2", 6, 999, 11), ("p", "p2", 5, 0, 20)])
    f = Simulation(validate_scenario(sc)).run().frames["queue_workloads"].set_index("workload")
    assert f.loc["p-0", "admitted"] == 20.0 and f.loc["p-0", "status"] == "Admitted"
    assert f["evictions"].to_dict() == {"w0-0": 0, "w1-0": 0, "w2-0": 1, "w3-0": 1, "h7-0": 0, "h6-0": 0, "p-0": 0}
    assert list(f.index[f["status"] == "Admitted"]) == ["w0-0", "w1-0", "p-0"]
    assert sorted(evictions_once.values()) == [1, 1]


@pytest.mark.slow
def test_fair_sharing_preemption_does_not_evict_a_workload_twice_at_one_instant(
        evictions_once: Counter[tuple[float, int]]) -> None:
    """Weights 1/2/1, 2- and 6-GPU jobs at half load (the shortcuts test's mix): at
    8739 s a small job of queue a preempted a 6-GPU job of b; the release requeued a's
    set-aside 8-GPU head, b's evicted job (lower share) took the freed GPUs back, a's
    head failed again and the small job preempted again, for ever at that instant."""
    r = Simulation(validate_scenario(mixed_scenario(True, "BestEffortFIFO", 2, 6, 0.5))).run()
    wf = r.frames["queue_workloads"]
    assert wf["evictions"].sum() == len(evictions_once) > 0
