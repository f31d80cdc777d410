"""Why a pod goes where it goes: every node, every filter and score plugin, side by side.

:func:`explain_pod` replays one scheduling cycle of a profile (:mod:`k8sim.scheduling.framework`,
upstream ``schedulePod`` in ``pkg/scheduler/schedule_one.go``) for one pod without
binding anything:

- Filter: for every node, the first filter plugin (in profile order) that rejects it
  and that plugin's status for that node, as upstream stops at a node's first
  failing Filter plugin (``findNodesThatPassFilters``); None if the node is feasible.
  The status (:class:`~k8sim.scheduling.plugins.base.NodeStatus`, from the plugin's
  ``node_status``) is upstream's ``fwk.Status``: the code (``Unschedulable``, or
  ``UnschedulableAndUnresolvable`` where removing pods cannot help), the reasons as a
  list, and details such as NodeResourcesFit's insufficient resources (requested,
  used, capacity, as upstream's ``InsufficientResource``) or the taints a node has that
  the pod does not tolerate.
  The summary is the upstream-style ``FailedScheduling`` message of
  :meth:`Profile.diagnose <k8sim.scheduling.framework.Profile.diagnose>`.
- Score: for **all** feasible nodes, each score plugin's raw score (``Score``), its
  normalised score (``NormalizeScore``), its weight, and the weighted total
  (``RunScorePlugins``); a plugin whose PreScore returns Skip for the pod is listed as
  skipped and adds nothing.
- The node(s) with the highest total. With several the scheduler picks one uniformly at
  random (``selectHost``); all are listed.

Differences from the real cycle, by design:

- Upstream (and :meth:`Profile.find_feasible`) stops searching once
  ``numFeasibleNodesToFind`` nodes are feasible (``percentageOfNodesToScore``) and scores
  only those; normalisation (e.g. ``DefaultNormalizeScore``, which divides by the
  maximum) is then over that subset. Here every feasible node is scored and normalised
  together, so in clusters of 100+ nodes a score, and the best node, may differ from what
  the next cycle computes. :attr:`Explanation.sample` lists the nodes the next cycle would
  score (computed without moving the profile's rotating start index).
- Upstream skips scoring when exactly one node is feasible; the explanation still shows
  that node's scores.
- A plugin that draws random numbers while scoring (``Random``) draws here from its own
  stream, whose state is restored afterwards: the next real cycle draws the same
  numbers only if it scores the same candidates.

Nothing is mutated: no pod is bound, the profile's ``next_start_node_index`` and the
random states of its tie-break stream and of every plugin's stream are restored, and
:meth:`Profile.schedule` is never called.

This module needs only the cluster tables and a profile; finding the pod in a running
simulation is :mod:`k8sim.sim.explain`, and building the cluster of a ``kubectl``
snapshot is :mod:`k8sim.sim.snapshot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from k8sim.scheduling.framework import check_score_range, num_feasible_nodes_to_find

if TYPE_CHECKING:
    import pandas as pd
    from pandas.api.extensions import ExtensionArray

    from k8sim.cluster.ops import ClusterState
    from k8sim.scheduling.framework import Profile
    from k8sim.scheduling.plugins.base import FilterPlugin, NodeStatus
    from k8sim.scheduling.podinfo import PodInfo


class ExplainError(ValueError):
    """The pod to explain cannot be found, or is not Pending."""


@dataclass
class PluginScores:
    """One score plugin over the feasible nodes (aligned with ``Explanation.feasible``)."""

    name: str
    weight: int
    skipped: bool  # PreScore returned Skip: the plugin adds nothing for this pod
    raw: np.ndarray | None  # int64[K] Score output (None if skipped; empty if K = 0)
    normalized: np.ndarray | None  # int64[K] after NormalizeScore, in [0, 100]

    @property
    def weighted(self) -> np.ndarray | None:
        return None if self.normalized is None else self.normalized * self.weight


@dataclass
class Explanation:
    """One pod under one profile, node by node (node ``i`` is ``nodes[i]``)."""

    pod: str
    profile: str
    nodes: list[str]
    rejected_by: list[str | None]  # first rejecting filter plugin per node; None = feasible
    reasons: list[str | None]  # that plugin's reason(s) for the node, ", "-joined
    feasible: np.ndarray  # int[K]: feasible node indices, ascending
    scores: list[PluginScores]
    totals: np.ndarray  # int64[K]: weighted totals of the feasible nodes
    best: list[str]  # node(s) with the highest total (ties: the scheduler picks at random)
    message: str  # upstream-style summary (Profile.diagnose)
    sample_size: int  # numFeasibleNodesToFind for this cluster and profile
    sample: np.ndarray  # int[<=K]: the nodes the next real cycle would score
    filters: list[str] = field(default_factory=list)  # filter plugins, in order
    #: The rejecting plugin's status per node (code, reasons, details); None = feasible.
    statuses: list[NodeStatus | None] = field(default_factory=list)

    @property
    def chosen(self) -> str | None:
        """The node the scheduler would bind to, if unique (None on ties or none feasible)."""
        return self.best[0] if len(self.best) == 1 else None

    def rejections(self) -> dict[str, int]:
        """Filter plugin -> number of nodes it rejected first (profile order)."""
        out = {f: 0 for f in self.filters}
        for r in self.rejected_by:
            if r is not None:
                out[r] = out.get(r, 0) + 1
        return {k: v for k, v in out.items() if v}

    def reason_counts(self) -> dict[str, int]:
        """Reason -> number of nodes (a node may count under several reasons)."""
        out: dict[str, int] = {}
        for st in self.statuses:
            if st is None:
                continue
            for part in st.reasons:
                out[part] = out.get(part, 0) + 1
        return dict(sorted(out.items()))

    def status_counts(self) -> dict[str, int]:
        """Status code -> number of rejected nodes (upstream: preemption only considers
        the ``Unschedulable`` ones)."""
        out: dict[str, int] = {}
        for st in self.statuses:
            if st is not None:
                out[st.code] = out.get(st.code, 0) + 1
        return dict(sorted(out.items()))

    def to_frame(self) -> pd.DataFrame:
        """One row per node: feasibility, rejection, per-plugin raw/normalised/weighted
        scores (``<plugin>.raw``, ``<plugin>.normalized``, ``<plugin>.weighted``; empty
        for infeasible nodes and skipped plugins), ``total`` and ``best``. Plugin weights
        are in ``frame.attrs["weights"]``."""
        import pandas as pd

        n = len(self.nodes)
        pos = self._positions()
        data: dict[str, Any] = {
            "node": self.nodes,
            "feasible": [p >= 0 for p in pos],
            "rejected_by": self.rejected_by,
            "reason": self.reasons,
            "status": [None if st is None else st.code for st in self.statuses],
            "sampled": np.isin(np.arange(n), self.sample),
        }

        def spread(values: np.ndarray | None) -> ExtensionArray:
            col = pd.array([pd.NA] * n, dtype="Int64")
            if values is not None and len(self.feasible):
                col[self.feasible] = values
            return col

        for ps in self.scores:
            data[f"{ps.name}.raw"] = spread(ps.raw)
            data[f"{ps.name}.normalized"] = spread(ps.normalized)
            data[f"{ps.name}.weighted"] = spread(ps.weighted)
        data["total"] = spread(self.totals)
        best = set(self.best)
        data["best"] = [name in best for name in self.nodes]
        frame = pd.DataFrame(data)
        frame.attrs["weights"] = {ps.name: ps.weight for ps in self.scores}
        frame.attrs["message"] = self.message
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: summary plus every node."""
        pos = self._positions()
        sampled = set(int(i) for i in self.sample)
        nodes = []
        for i, name in enumerate(self.nodes):
            row: dict[str, Any] = {
                "name": name,
                "feasible": pos[i] >= 0,
                "rejected_by": self.rejected_by[i],
                "reason": self.reasons[i],
            }
            st = self.statuses[i]
            if st is not None:
                row.update(st.to_dict())
            if pos[i] >= 0:
                k = pos[i]
                row["sampled"] = i in sampled
                row["scores"] = {
                    ps.name: None
                    if ps.skipped
                    else {
                        "raw": int(ps.raw[k]),  # type: ignore[index]
                        "normalized": int(ps.normalized[k]),  # type: ignore[index]
                        "weighted": int(ps.normalized[k]) * ps.weight,  # type: ignore[index]
                    }
                    for ps in self.scores
                }
                row["total"] = int(self.totals[k])
            nodes.append(row)
        return {
            "pod": self.pod,
            "profile": self.profile,
            "message": self.message,
            "nodes_total": len(self.nodes),
            "nodes_feasible": int(self.feasible.size),
            "best": list(self.best),
            "chosen": self.chosen,
            "sample_size": int(self.sample_size),
            "sampled": [self.nodes[int(i)] for i in self.sample],
            "plugins": {
                "filter": list(self.filters),
                "score": [{"name": ps.name, "weight": ps.weight, "skipped": ps.skipped} for ps in self.scores],
            },
            "rejections": self.rejections(),
            "reasons": self.reason_counts(),
            "statuses": self.status_counts(),
            "nodes": nodes,
            "note": (
                "scores cover every feasible node; the scheduler stops after sample_size feasible nodes "
                "and scores (and normalises over) only those ('sampled'); ties are broken at random"
            ),
        }

    def _positions(self) -> list[int]:
        pos = [-1] * len(self.nodes)
        for k, i in enumerate(self.feasible):
            pos[int(i)] = k
        return pos


def _node_reasons(
    f: FilterPlugin, state: ClusterState, pod: PodInfo, group: np.ndarray, out: list[tuple[str, ...] | None]
) -> None:
    """Per-node reasons from the plugin's counting ``reasons``: a group in which every
    reason counts every node gets them all; otherwise it is split in halves (a group of
    one node always resolves). Most groups resolve at once."""
    counts = f.reasons(state, pod, group)
    if not counts:
        text = (f.reason or f"rejected by {f.name}",)
        for i in group:
            out[int(i)] = text
        return
    if group.size == 1 or all(c == group.size for c in counts.values()):
        found = tuple(sorted(counts))
        for i in group:
            out[int(i)] = found
        return
    half = group.size // 2
    _node_reasons(f, state, pod, group[:half], out)
    _node_reasons(f, state, pod, group[half:], out)


def _generators(profile: Profile) -> list[np.random.Generator]:
    gens = [profile.rng]
    for plugin in [*profile.filters, *(p for p, _ in profile.scores)]:
        if plugin.rng is not None:
            gens.append(plugin.rng)
    return gens


def explain_pod(state: ClusterState, profile: Profile, pod_info: PodInfo, pod_name: str = "") -> Explanation:
    """Explain where ``profile`` would put ``pod_info`` in ``state`` (see module doc)."""
    saved_start = profile.next_start_node_index
    gens = _generators(profile)
    saved_rng = [g.bit_generator.state for g in gens]
    try:
        return _explain(state, profile, pod_info, pod_name)
    finally:
        profile.next_start_node_index = saved_start
        for g, s in zip(gens, saved_rng, strict=True):
            g.bit_generator.state = s


def _explain(state: ClusterState, profile: Profile, pod: PodInfo, pod_name: str) -> Explanation:
    n = state.nodes.n
    alive = np.ones(n, dtype=bool)
    rejected_by: list[str | None] = [None] * n
    found: list[tuple[str, ...] | None] = [None] * n
    statuses: list[NodeStatus | None] = [None] * n
    for f in profile.filters:
        if not f.pre_filter(state, pod):
            continue  # Skip: every node passes this plugin
        ok = f.filter(state, pod)
        first = np.flatnonzero(alive & ~ok)
        if first.size:
            for i in first:
                rejected_by[int(i)] = f.name
            _node_reasons(f, state, pod, first, found)
            for j in first.tolist():
                statuses[j] = f.node_status(state, pod, j, found[j] or ())
        alive = alive & ok
    reasons = [None if st is None else ", ".join(st.reasons) for st in statuses]
    feasible = np.flatnonzero(alive)
    k = feasible.size
    totals = np.zeros(k, dtype=np.int64)
    scores: list[PluginScores] = []
    for plugin, weight in profile.scores:
        if k == 0:  # nothing to score (upstream does not reach PreScore)
            empty = np.zeros(0, dtype=np.int64)
            scores.append(PluginScores(plugin.name, weight, False, empty, empty))
            continue
        if not plugin.pre_score(state, pod):
            scores.append(PluginScores(plugin.name, weight, True, None, None))
            continue
        raw = np.asarray(plugin.score(state, pod, feasible), dtype=np.int64)
        norm = np.asarray(plugin.normalize(pod, raw.copy()), dtype=np.int64)
        check_score_range(norm, plugin.name)
        totals += norm * weight
        scores.append(PluginScores(plugin.name, weight, False, raw, norm))
    names = state.nodes.names
    best = [names[int(i)] for i in feasible[totals == totals.max()]] if k else []
    # The nodes the next cycle would score; find_feasible moves the start index, which
    # explain_pod restores.
    sample = profile.find_feasible(state, pod)
    return Explanation(
        pod=pod_name,
        profile=profile.name,
        nodes=list(names),
        rejected_by=rejected_by,
        reasons=reasons,
        feasible=feasible,
        scores=scores,
        totals=totals,
        best=best,
        message=profile.diagnose(state, pod),
        sample_size=num_feasible_nodes_to_find(n, profile.percentage),
        sample=np.sort(sample),
        filters=[f.name for f in profile.filters],
        statuses=statuses,
    )
