"""RuntimeClass admission: what a pod's ``runtimeClassName`` changes in its spec.

Upstream ``plugin/pkg/admission/runtimeclass/admission.go`` (``Admit``), run on pod
creation after DefaultTolerationSeconds (the order of ``AllOrderedPlugins`` in
``pkg/kubeapiserver/options/plugins.go``):

- ``setOverhead``: ``spec.overhead`` becomes the class's ``overhead.podFixed``;
- ``setScheduling``: the class's ``scheduling.nodeSelector`` is merged into the pod's
  ``nodeSelector`` and its ``scheduling.tolerations`` into the pod's tolerations with
  ``tolerations.MergeTolerations`` (``pkg/util/tolerations/tolerations.go``).

The rejections (class not found, overhead mismatch, nodeSelector conflict) are checked
when the scenario is validated (``Scenario._check_runtime_classes``), so a pod that
reaches :func:`admit` is accepted. k8sim applies it where a pod's shape is made
(:class:`k8sim.sim.build.shapes.ShapeBook`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from k8sim.config.pods import Toleration
from k8sim.config.runtimeclass import RuntimeClass

__all__ = ["Admitted", "admit", "is_superset", "merge_tolerations"]


def _same(a: Toleration, b: Toleration) -> bool:
    # apiequality.Semantic.DeepEqual of two tolerations (an absent operator is Equal
    # in k8sim's schema already).
    return (a.key, a.operator, a.value, a.effect, a.toleration_seconds) == (
        b.key, b.operator, b.value, b.effect, b.toleration_seconds)


def is_superset(ss: Toleration, t: Toleration) -> bool:
    """Upstream ``isSuperset``: ``ss`` tolerates every taint ``t`` tolerates."""
    if _same(ss, t):
        return True
    if t.key != ss.key and (ss.key != "" or ss.operator != "Exists"):
        return False
    if t.effect != ss.effect and ss.effect != "":
        return False
    if ss.effect == "NoExecute" and ss.toleration_seconds is not None:
        if t.toleration_seconds is None or t.toleration_seconds > ss.toleration_seconds:
            return False
    if ss.operator == "Equal":
        return t.operator == "Equal" and t.value == ss.value
    return True  # Exists


def merge_tolerations(first: Sequence[Toleration], second: Sequence[Toleration]) -> tuple[Toleration, ...]:
    """Upstream ``MergeTolerations``: ``first`` then ``second``, without the tolerations
    that another one (already kept, or later and different) covers; of equal ones the
    first is kept."""
    every = list(first) + list(second)
    merged: list[Toleration] = []
    for i, t in enumerate(every):
        if any(is_superset(kept, t) for kept in merged):
            continue
        if any(not _same(t, later) and is_superset(later, t) for later in every[i + 1:]):
            continue
        merged.append(t)
    return tuple(merged)


@dataclass(frozen=True)
class Admitted:
    """A pod spec's scheduling fields after RuntimeClass admission."""

    overhead: Mapping[str, Fraction]
    node_selector: dict[str, str]
    tolerations: tuple[Toleration, ...]


def admit(rc: RuntimeClass | None, overhead: Mapping[str, Fraction], node_selector: Mapping[str, str],
          tolerations: Sequence[Toleration]) -> Admitted:
    """The pod's overhead, nodeSelector and tolerations once ``rc`` (None: the pod names
    no class) has been applied; ``tolerations`` are the pod's after DefaultTolerationSeconds."""
    if rc is None:
        return Admitted(dict(overhead), dict(node_selector), tuple(tolerations))
    if rc.overhead is not None:
        overhead = rc.overhead.pod_fixed  # setOverhead (validation saw any mismatch)
    selector = dict(node_selector)
    tols = tuple(tolerations)
    if rc.scheduling is not None:
        selector.update(rc.scheduling.node_selector)  # setScheduling (no conflict: validated)
        tols = merge_tolerations(tols, rc.scheduling.tolerations)
    return Admitted(dict(overhead), selector, tols)
