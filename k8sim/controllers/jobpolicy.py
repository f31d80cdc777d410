"""A Job's pod failure policy and success policy, and what k8sim knows of a failed pod.

Upstream ``pkg/controller/job/pod_failure_policy.go`` (``matchPodFailurePolicy``,
``matchOnExitCodes``, ``matchOnPodConditions``), ``success_policy.go``
(``matchSuccessPolicy``, ``matchSucceededIndexesRule``) and ``indexed_job_utils.go``
(``parseIndexesFromString``, ``orderedIntervals``).

A failed pod, as the Job controller reads it (:class:`FailedPod`):

- its main container's terminated state, when the kubelet reported one: the container
  name and exit code (a crash: the exit code the crash model drew; a container stopped
  because its pod was deleted, or that never started: 137, the kubelet's
  ``ContainerStatusUnknown`` / SIGKILL); none when no kubelet reported the end (the pod
  was never bound, its node was lost, or deleted while its node was down);
- its conditions: ``DisruptionTarget=True`` when the pod was disrupted by the control
  plane (preemption ``PreemptionByScheduler``, taint eviction ``DeletionByTaintManager``,
  the Eviction API ``EvictionByEvictionAPI`` (drain, spot notice), the pod garbage
  collector ``DeletionByPodGC``); ``PodScheduled=True`` when it was bound; ``Ready`` and
  ``ContainersReady`` False (a failed pod is not ready). Other condition types never match.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Pod failure policy actions (``batch.PodFailurePolicyAction``).
FAIL_JOB, FAIL_INDEX, IGNORE, COUNT = "FailJob", "FailIndex", "Ignore", "Count"
ACTIONS = (FAIL_JOB, FAIL_INDEX, IGNORE, COUNT)
#: Condition types a failed pod of k8sim can carry (see the module docstring).
KNOWN_CONDITIONS = ("DisruptionTarget", "PodScheduled", "Ready", "ContainersReady")


@dataclass(frozen=True)
class PodFailureRule:
    """One rule of ``spec.podFailurePolicy.rules``: ``on_exit_codes`` (operator, values,
    container name or None) or ``on_pod_conditions`` ((type, status) patterns)."""

    action: str
    operator: str | None = None  # In / NotIn (onExitCodes)
    values: tuple[int, ...] = ()
    container_name: str | None = None
    on_pod_conditions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SuccessRule:
    """One rule of ``spec.successPolicy.rules``: ``succeeded_indexes`` (ordered, merged
    intervals) and/or ``succeeded_count``."""

    succeeded_indexes: tuple[tuple[int, int], ...] | None = None
    succeeded_count: int | None = None


@dataclass(frozen=True)
class FailedPod:
    """What the Job controller can read of a failed pod (see the module docstring)."""

    container: str | None  # name of the terminated container (None: no terminated state)
    exit_code: int | None
    conditions: frozenset[tuple[str, str]]  # (type, status)


def match_pod_failure_policy(rules: tuple[PodFailureRule, ...] | None,
                             pod: FailedPod) -> tuple[str | None, bool, str | None]:
    """``matchPodFailurePolicy``: (FailJob message or None, count the failure toward
    ``backoffLimit``?, the matched action or None). The first matching rule wins."""
    if rules is None:
        return None, True, None
    for index, rule in enumerate(rules):
        if rule.operator is not None:
            if _match_exit_code(rule, pod):
                if rule.action == IGNORE:
                    return None, False, IGNORE
                if rule.action == FAIL_INDEX:
                    return None, True, FAIL_INDEX
                if rule.action == COUNT:
                    return None, True, COUNT
                return (f"Container {pod.container} failed with exit code {pod.exit_code} matching FailJob rule "
                        f"at index {index}"), True, FAIL_JOB
        elif rule.on_pod_conditions:
            cond = next((c for c in rule.on_pod_conditions if c in pod.conditions), None)
            if cond is not None:
                if rule.action == IGNORE:
                    return None, False, IGNORE
                if rule.action == FAIL_INDEX:
                    return None, True, FAIL_INDEX
                if rule.action == COUNT:
                    return None, True, COUNT
                return f"Pod has condition {cond[0]} matching FailJob rule at index {index}", True, FAIL_JOB
    return None, True, None


def _match_exit_code(rule: PodFailureRule, pod: FailedPod) -> bool:
    """``getMatchingContainerFromList``: a terminated container (of the rule's name, if
    any) with a non-zero exit code that the operator accepts."""
    if pod.exit_code is None or pod.exit_code == 0:
        return False
    if rule.container_name is not None and rule.container_name != pod.container:
        return False
    inside = pod.exit_code in rule.values
    return inside if rule.operator == "In" else not inside


def parse_indexes(text: str, completions: int) -> tuple[tuple[int, int], ...] | None:
    """``parseIndexesFromString`` with validation: ``"0,2-4,7"`` as ordered intervals
    below ``completions``; None when the text is not increasing, disjoint intervals of
    non-negative integers (upstream validation refuses such a ``succeededIndexes``)."""
    out: list[tuple[int, int]] = []
    last = -2
    for part in text.split(","):
        bounds = part.split("-")
        if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            return None
        first, end = int(bounds[0]), int(bounds[-1])
        if end < first or first <= last or first >= completions or end >= completions:
            return None
        if out and first == last + 1:
            out[-1] = (out[-1][0], end)
        else:
            out.append((first, end))
        last = end
    return tuple(out)


def intervals_total(iv: tuple[tuple[int, int], ...]) -> int:
    return sum(b - a + 1 for a, b in iv)


def match_success_policy(rules: tuple[SuccessRule, ...] | None, succeeded: set[int]) -> str | None:
    """``matchSuccessPolicy``: "Matched rules at index i" for the first rule the
    succeeded indexes satisfy, else None. A ``succeededIndexes`` rule holds when every
    index in it succeeded, or (with ``succeededCount``) at least that many of them; a
    ``succeededCount``-only rule when that many indexes succeeded."""
    if rules is None or not succeeded:
        return None
    for index, rule in enumerate(rules):
        if rule.succeeded_indexes is not None:
            contains = sum(1 for a, b in rule.succeeded_indexes for i in succeeded if a <= i <= b)
            if contains == intervals_total(rule.succeeded_indexes) or (
                    rule.succeeded_count is not None and contains >= rule.succeeded_count):
                return f"Matched rules at index {index}"
        elif rule.succeeded_count is not None and len(succeeded) >= rule.succeeded_count:
            return f"Matched rules at index {index}"
    return None
