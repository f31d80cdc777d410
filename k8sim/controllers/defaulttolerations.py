"""DefaultTolerationSeconds: the admission plugin that bounds how long a pod stays on a
NotReady or unreachable node.

Upstream ``plugin/pkg/admission/defaulttolerationseconds/admission.go`` (``Admit``, on
pod creation, enabled by default): a pod that does not already tolerate the NoExecute
taint ``node.kubernetes.io/not-ready`` gets the toleration ``{key: not-ready, operator:
Exists, effect: NoExecute, tolerationSeconds: 300}``, and likewise for
``node.kubernetes.io/unreachable``. A toleration "already tolerates" when its key is that
taint's key or empty and its effect is NoExecute or empty; such a toleration is kept as
it is (with its own ``tolerationSeconds``, or none: tolerated for ever). The 300 s are
the defaults of ``--default-not-ready-toleration-seconds`` and
``--default-unreachable-toleration-seconds``.

k8sim applies it where a pod's spec is made (:class:`k8sim.sim.build.shapes.ShapeBook`),
so every pod carries these tolerations, as it would upstream; the taint eviction
controller (:mod:`k8sim.controllers.tainteviction`) reads them.
"""

from __future__ import annotations

from k8sim.config.pods import Toleration

#: Taint keys the node lifecycle controller uses (upstream ``v1.TaintNodeNotReady``,
#: ``v1.TaintNodeUnreachable``).
NOT_READY_KEY = "node.kubernetes.io/not-ready"
UNREACHABLE_KEY = "node.kubernetes.io/unreachable"
#: ``--default-not-ready-toleration-seconds`` / ``--default-unreachable-toleration-seconds``.
DEFAULT_TOLERATION_SECONDS = 300.0


def _default(key: str, seconds: float) -> Toleration:
    return Toleration.model_validate(
        {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds})


_NOT_READY = _default(NOT_READY_KEY, DEFAULT_TOLERATION_SECONDS)
_UNREACHABLE = _default(UNREACHABLE_KEY, DEFAULT_TOLERATION_SECONDS)


def _tolerates(tolerations: tuple[Toleration, ...], key: str) -> bool:
    return any((t.key == key or not t.key) and (t.effect == "NoExecute" or not t.effect) for t in tolerations)


def with_default_toleration_seconds(tolerations: tuple[Toleration, ...]) -> tuple[Toleration, ...]:
    """``tolerations`` plus the not-ready and unreachable defaults the pod lacks (in
    that order, after the pod's own), as upstream's ``Admit``."""
    out = tuple(tolerations)
    if not _tolerates(out, NOT_READY_KEY):
        out += (_NOT_READY,)
    if not _tolerates(out, UNREACHABLE_KEY):
        out += (_UNREACHABLE,)
    return out
