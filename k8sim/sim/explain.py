"""Finding the pod to explain in a simulation, and the cycle that placed it.

``k8sim explain SCENARIO --pod NAME [--at T]`` explains a pod with
:func:`k8sim.scheduling.explain.explain_pod`, which needs only the cluster tables and a
profile. What needs the running :class:`Simulation` (its pods, its trace replays, its
event record) is here:

- :func:`explain_in_run` replays the scenario and watches the pod's scheduling cycles
  (the scheduler's ``cycle_hook``): if a cycle binds the pod by ``T`` (without ``T``:
  at all, stopping there), the explanation is of that cycle, made from the state the
  cycle saw, before its decision (:class:`Placement`); if the pod is still Pending at
  ``T`` (without ``T``: at the end of the run), it is explained there.
- :func:`find_pending_pod` names the Pending pod, or says why the pod is not one yet
  (not created by then) or any more (finished without a cycle of its own, dropped as
  unschedulable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.cluster.pods import BOUND, FAILED, PENDING, PHASE_NAMES, RUNNING, UNSCHEDULABLE
from k8sim.cluster.watch import PodAdded, PodBound
from k8sim.scheduling.explain import ExplainError, Explanation, explain_pod

if TYPE_CHECKING:
    from k8sim.scheduling.podinfo import PodInfo
    from k8sim.sim.simulation import Simulation

__all__ = ["Placement", "RunExplanation", "explain_in_run", "find_pending_pod"]


@dataclass
class Placement:
    """The scheduling cycle that bound a pod."""

    node: str  # the node the pod was bound to
    time: float  # virtual time of the cycle (the bind, unless a cost model delays it)
    attempt: int  # which scheduling attempt of the pod it was (1 = the first)
    nominated: str | None  # the node the pod was nominated to by an earlier preemption

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "time": self.time, "attempt": self.attempt, "nominated": self.nominated}


@dataclass
class RunExplanation:
    """What :func:`explain_in_run` found: the explanation, the virtual time it is of, and
    the :class:`Placement` when it is of the cycle that bound the pod (None: Pending)."""

    explanation: Explanation
    at: float
    placement: Placement | None


class _Watch:
    """Explains every scheduling cycle of one pod (by name), keeping the latest; notes
    when the pod is bound."""

    def __init__(self, sim: Simulation, name: str, profile: str | None):
        self.sim, self.name, self.profile = sim, name, profile
        self.row = -1
        self.last: tuple[float, int, Explanation, str | None] | None = None
        self.bound: Placement | None = None
        self.bound_without_cycle = False
        sim.scheduler.cycle_hook = self._cycle
        sim.api.bus.subscribe(PodAdded, self._added)
        sim.api.bus.subscribe(PodBound, self._bound)

    def _added(self, event: PodAdded) -> None:
        # A pod created with its node (an initial pod, ``spec.nodeName``) never has a cycle.
        if event.node >= 0 and self.row < 0 and self.sim.state.pods.names[event.pod] == self.name:
            self.row = event.pod
            self.bound_without_cycle = True

    def _cycle(self, pod: int) -> None:
        state = self.sim.state
        if self.row < 0:
            if state.pods.names[pod] != self.name:
                return
            self.row = pod
        elif pod != self.row:
            return
        info = state.shapes[int(state.pods.shape[pod])]
        prof = self.sim.profiles.get(self.profile or info.scheduler_name)
        if prof is None:
            raise ExplainError(
                f"no scheduler profile named {self.profile or info.scheduler_name!r} (available: {sorted(self.sim.profiles)})"
            )
        nominated = state.nominated.get(pod) if state.nominated else None
        where = state.nodes.names[nominated] if nominated is not None else None
        self.last = (self.sim.env.now, int(state.pods.attempts[pod]) + 1, explain_pod(state, prof, info, self.name), where)

    def _bound(self, event: PodBound) -> None:
        if self.bound is not None or self.bound_without_cycle:
            return
        state = self.sim.state
        if state.pods.names[event.pod] != self.name or (self.row >= 0 and event.pod != self.row):
            return
        if self.last is None or self.row != event.pod:
            return
        t, attempt, _, nominated = self.last
        self.bound = Placement(state.nodes.names[event.node], t, attempt, nominated)


def explain_in_run(sim: Simulation, name: str, at: float | None = None, profile: str | None = None) -> RunExplanation:
    """Run ``sim`` (built, not yet run) and explain pod ``name`` (see the module doc).

    With ``at``, the run goes to ``at`` (``env.run(until=at)``); without, it stops as soon
    as the pod is bound, or at the scenario's end (``duration_s``, or when no event is
    left). ``profile`` explains under another ``schedulerName`` than the pod's (the
    placement is still the one the pod's own scheduler made). Raises
    :class:`ExplainError` for a pod that does not exist by then, was bound without a
    scheduling cycle (an initial pod), or was dropped.
    """
    watch = _Watch(sim, name, profile)
    env = sim.env
    pods = sim.state.pods
    if name in pods.names[: pods.n] and pods.node[pods.names.index(name)] >= 0:
        watch.row, watch.bound_without_cycle = pods.names.index(name), True  # created bound at build time
    try:
        if at is not None:
            env.run(until=at)
        else:
            end = sim.scenario.duration_s
            horizon = math.inf if end is None else float(end)
            while watch.bound is None and not watch.bound_without_cycle and env.peek() < horizon:
                env.step()
    finally:
        sim.scheduler.cycle_hook = None
    if watch.bound is not None:
        assert watch.last is not None  # a placement is made from a watched cycle
        return RunExplanation(watch.last[2], watch.bound.time, watch.bound)
    if watch.bound_without_cycle:
        node = int(sim.state.pods.node[watch.row])
        where = f" to node {sim.state.nodes.names[node]!r}" if node >= 0 else ""
        raise ExplainError(
            f"pod {name!r} was bound{where} as it was created (an initial pod, placed without a scheduling "
            "cycle); there is no cycle to explain"
        )
    row, info = find_pending_pod(sim, name)
    prof = sim.profiles.get(profile or info.scheduler_name)
    if prof is None:
        raise ExplainError(f"no scheduler profile named {profile or info.scheduler_name!r} "
                           f"(available: {sorted(sim.profiles)})")
    explanation = explain_pod(sim.state, prof, info, name)
    gang = sim.scheduler.why_waiting(row)
    if gang:
        explanation.message = f"{explanation.message} Gang: {gang}."
    return RunExplanation(explanation, env.now, None)


def _failed_scheduling_message(sim: Simulation, row: int) -> str:
    """The detail of the pod's FailedScheduling event, "" if none was recorded."""
    rec = sim.recorder
    if "FailedScheduling" not in rec.kind:
        return ""
    pods, kinds = rec.pod, rec.kind
    for i in range(len(rec) - 1, -1, -1):
        if pods[i] == row and kinds[i] == "FailedScheduling":
            return rec.detail[i]
    return ""


def find_pending_pod(sim: Simulation, name: str) -> tuple[int, PodInfo]:
    """The pod row and shape of the Pending pod ``name`` in a running simulation.

    Raises :class:`ExplainError` saying whether the pod does not exist yet (its
    workload has not created it by now), is bound or finished, or is unknown.
    """
    pods = sim.state.pods
    now = sim.env.now
    rows = [i for i, pod_name in enumerate(pods.names) if pod_name == name]
    if len(rows) > 1:
        raise ExplainError(f"{len(rows)} pods are named {name!r}; cannot tell which to explain")
    if not rows:
        for wname, replay in getattr(sim, "replays", {}).items():
            hit = np.flatnonzero(replay.pods["name"].to_numpy(dtype=object) == name)
            if hit.size:
                t = float(replay.pods["submit_s"].iloc[int(hit[0])])
                raise ExplainError(
                    f"pod {name!r} of trace workload {wname!r} has not been created by t={now:g} s "
                    f"(it arrives at t={t:g} s); explain it at a later --at"
                )
        _not_created_yet(sim, name, now)
        raise ExplainError(f"no pod named {name!r} (workload pods are named {_pod_names_hint(sim)})")
    row = rows[0]
    phase = int(pods.phase[row])
    waiting = sim.scheduler.waiting(row)
    if waiting is not None:
        why = sim.scheduler.why_waiting(row)
        raise ExplainError(
            f"pod {name!r} is waiting at Permit at t={now:g} s: assumed on node "
            f"{sim.state.nodes.names[waiting.node]!r} since t={waiting.since:g} s, holding its resources, "
            f"not bound{'; ' + why if why else ''}"
        )
    if phase != PENDING:
        where = ""
        if phase in (BOUND, RUNNING):
            where = f" on node {sim.state.nodes.names[int(pods.node[row])]!r} (bound at t={pods.scheduled[row]:g} s)"
        if phase == FAILED and int(pods.reason[row]) == UNSCHEDULABLE:
            why = _failed_scheduling_message(sim, row)
            raise ExplainError(
                f"pod {name!r} was dropped as unschedulable at t={pods.finished[row]:g} s after its one "
                f"attempt (trace inflation mode){': ' + why if why else ''}"
            )
        raise ExplainError(
            f"pod {name!r} is not Pending at t={now:g} s: it is {PHASE_NAMES[phase]}{where}; "
            "only a Pending pod can be explained"
        )
    return row, sim.state.shapes[int(pods.shape[row])]


def _pod_names_hint(sim: Simulation) -> str:
    """How each workload names its pods: ``web-<i>`` (arrivals), ``train-<job>-<k>``
    (gang workloads: worker ``k`` of job ``job``, :mod:`k8sim.sim.sources`), trace ids,
    or after the manifest's objects (controllers name them)."""
    out = []
    for w in sim.scenario.workloads:
        if w.manifest is not None or (w.trace is not None and w.trace.args.get("replay") == "controllers"):
            out.append(f"{w.name}: after its objects (a Deployment's web-<hash>-<suffix>, a StatefulSet's "
                       "db-<ordinal>, a bare Pod's own name)")
        elif w.trace is not None:
            out.append(f"{w.name}: trace ids")
        elif w.jobs is not None:
            out.append(f"{w.name}: <trace job>/<task>/<k> (or <trace job>/<k> by task)")
        elif w.gang is not None:
            out.append(f"{w.name}-<job>-<k> (k < {w.gang.workers})")
        else:
            out.append(f"{w.name}-<i>")
    return ", ".join(out) or "none"


def _not_created_yet(sim: Simulation, name: str, now: float) -> None:
    """Raise :class:`ExplainError` if ``name`` is the name a workload gives a pod it has
    not created yet (``web-<i>``; ``train-<job>-<k>`` of a gang workload)."""
    pods = sim.state.pods
    index = {w.name: wi for wi, w in enumerate(sim.scenario.workloads)}
    head, _, last = name.rpartition("-")
    if not last.isdigit():
        return
    wi = index.get(head)
    if wi is not None and sim.scenario.workloads[wi].arrival is not None and sim.scenario.workloads[wi].gang is None:
        created = int(np.count_nonzero(pods.workload[: pods.n] == wi))
        raise ExplainError(f"pod {name!r} has not been created by t={now:g} s "
                           f"(workload {head!r} has created {created} pod(s) by then)")
    base, _, job = head.rpartition("-")
    wi = index.get(base)
    if wi is None or not job.isdigit() or sim.scenario.workloads[wi].gang is None:
        return
    gang = sim.scenario.workloads[wi].gang
    assert gang is not None
    if int(last) >= gang.workers:
        raise ExplainError(f"no pod named {name!r}: the jobs of gang workload {base!r} have {gang.workers} "
                           f"worker pod(s), {base}-{job}-0 to {base}-{job}-{gang.workers - 1}")
    created = int(np.count_nonzero(pods.workload[: pods.n] == wi))
    raise ExplainError(f"pod {name!r} (worker {last} of job {job} of gang workload {base!r}) has not been created "
                       f"by t={now:g} s (the workload has created {created} pod(s) by then)")
