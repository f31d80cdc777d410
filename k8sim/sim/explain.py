"""Finding the pod to explain in a simulation run to some virtual time.

``k8sim explain SCENARIO --pod NAME --at T`` runs the scenario to ``T`` and explains the
pod there with :func:`k8sim.scheduling.explain.explain_pod`, which needs only the
cluster tables and a profile. What needs the running :class:`Simulation` (its pods,
its trace replays, its event record) is here: :func:`find_pending_pod` names the
Pending pod, or says why the pod is not one yet (not created by then) or any more
(bound, finished, dropped as unschedulable).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from k8sim.cluster.pods import BOUND, FAILED, PENDING, PHASE_NAMES, RUNNING, UNSCHEDULABLE
from k8sim.scheduling.explain import ExplainError

if TYPE_CHECKING:
    from k8sim.scheduling.podinfo import PodInfo
    from k8sim.sim.simulation import Simulation

__all__ = ["find_pending_pod"]


def _failed_scheduling_message(sim: Simulation, row: int) -> str:
    """The detail of the pod's FailedScheduling event, "" if none was recorded."""
    rec = sim.recorder
    for i in range(len(rec) - 1, -1, -1):
        if rec.pod[i] == row and rec.kind[i] == "FailedScheduling":
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
        workloads = {w.name: wi for wi, w in enumerate(sim.scenario.workloads)}
        base, _, index = name.rpartition("-")
        if base in workloads and index.isdigit():
            created = int(np.count_nonzero(pods.workload[: pods.n] == workloads[base]))
            raise ExplainError(
                f"pod {name!r} has not been created by t={now:g} s "
                f"(workload {base!r} has created {created} pod(s) by then)"
            )
        known = ", ".join(f"{w.name}-<i>" if w.trace is None else f"{w.name}: trace ids"
                          for w in sim.scenario.workloads) or "none"
        raise ExplainError(f"no pod named {name!r} (workload pods are named {known})")
    row = rows[0]
    phase = int(pods.phase[row])
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
