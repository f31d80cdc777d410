"""``batch/v1`` Job and CronJob manifests (registered with
:func:`k8sim.workloads.manifests.register_kind`).

Each becomes an :class:`~k8sim.workloads.manifests.AppObject` of kind ``Job`` or
``CronJob`` whose ``batch`` field holds the kind's settings (:class:`JobSpec`,
:class:`CronJobSpec`), with upstream's defaults (``pkg/apis/batch/v1/defaults.go``,
``SetDefaults_Job`` / ``SetDefaults_CronJob``) and validation
(``pkg/apis/batch/validation/validation.go``) where a run would otherwise be wrong:

- Job: ``completions`` and ``parallelism`` both absent -> 1 and 1; ``parallelism``
  absent -> 1; ``completions`` absent with ``parallelism`` given -> a work queue (the Job
  is complete once one pod has succeeded and none is active); ``backoffLimit`` 6;
  ``completionMode`` NonIndexed (Indexed needs ``completions``); the pod template's
  ``restartPolicy`` must be given as OnFailure or Never; a ``selector``, when given,
  must be valid and match the template's labels.
- Job failure and success policies (:mod:`k8sim.controllers.jobpolicy`):
  ``podFailurePolicy`` (at most 20 rules, each with an action FailJob, FailIndex, Ignore
  or Count and exactly one of ``onExitCodes`` (operator In or NotIn, 1 to 255 ordered,
  distinct values, no 0 with In, an optional ``containerName`` of the template) or
  ``onPodConditions`` (1 to 20 patterns, ``status`` True by default); the template's
  ``restartPolicy`` must be Never); ``podReplacementPolicy`` (Failed when a pod failure
  policy is given, else TerminatingOrFailed); ``backoffLimitPerIndex`` (Indexed Jobs;
  ``backoffLimit`` then defaults to 2^31 - 1) with ``maxFailedIndexes`` (at most
  ``completions``); ``successPolicy`` (Indexed Jobs, 1 to 20 rules, each with
  ``succeededIndexes`` and/or ``succeededCount``).
- CronJob: ``schedule`` in standard cron syntax (5 fields, or a descriptor such as
  ``@hourly``; parsed by ``croniter``), ``timeZone`` an IANA name (``TZ=`` inside the
  schedule is refused as upstream does), ``concurrencyPolicy`` Allow (default), Forbid or
  Replace, ``startingDeadlineSeconds``, ``suspend``, ``successfulJobsHistoryLimit`` 3,
  ``failedJobsHistoryLimit`` 1, and a ``jobTemplate`` read as a Job's spec.

Errors name the file, the document index and the field path, as for every manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from k8sim.config.k8s_types import LabelSelector
from k8sim.config.kueue import QUEUE_NAME_LABEL, WORKLOAD_PRIORITY_CLASS_LABEL
from k8sim.config.loader import format_loc
from k8sim.controllers.jobpolicy import (
    ACTIONS,
    FAIL_INDEX,
    KNOWN_CONDITIONS,
    PodFailureRule,
    SuccessRule,
    parse_indexes,
)
from k8sim.workloads import manifests as m

__all__ = ["CronJobSpec", "JobSpec", "parse_schedule"]

#: The descriptors robfig/cron's standard parser accepts (``@every`` is not modelled).
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


@dataclass
class JobSpec:
    """A Job's spec after defaulting (see the module docstring)."""

    completions: int | None = 1  # None: a work queue
    parallelism: int = 1
    completion_mode: str = "NonIndexed"  # or Indexed
    backoff_limit: int = 6
    active_deadline_s: float | None = None
    ttl_after_finished_s: float | None = None
    suspend: bool = False
    pod_failure_policy: tuple[PodFailureRule, ...] | None = None
    pod_replacement_policy: str = "TerminatingOrFailed"  # or Failed
    backoff_limit_per_index: int | None = None
    max_failed_indexes: int | None = None
    success_policy: tuple[SuccessRule, ...] | None = None
    #: Kueue: the Job's ``kueue.x-k8s.io/queue-name`` label (a LocalQueue of its
    #: namespace; the Job is then created suspended and admitted by the queue) and its
    #: ``kueue.x-k8s.io/priority-class`` label (a WorkloadPriorityClass).
    queue_name: str | None = None
    workload_priority_class: str | None = None

    @property
    def only_replace_failed(self) -> bool:
        """``onlyReplaceFailedPods``: a terminating pod is replaced once it has failed."""
        return self.pod_replacement_policy == "Failed"


@dataclass
class CronJobSpec:
    """A CronJob's spec after defaulting; ``job`` is its job template's spec and the
    owning :class:`AppObject`'s ``template`` its pod template."""

    schedule: str
    time_zone: str | None
    concurrency_policy: str = "Allow"
    starting_deadline_s: float | None = None
    suspend: bool = False
    successful_history: int = 3
    failed_history: int = 1
    job: JobSpec | None = None
    job_labels: dict[str, str] | None = None


def parse_schedule(schedule: Any, time_zone: Any) -> str | None:
    """None if ``schedule`` (with ``time_zone``) is one k8sim runs, else why not."""
    from croniter import croniter

    if not isinstance(schedule, str) or not schedule.strip():
        return "required: a cron schedule such as '*/5 * * * *'"
    s = schedule.strip()
    if "TZ=" in s:
        return "time zones in the schedule (TZ=, CRON_TZ=) are not allowed; use spec.timeZone"
    if s.startswith("@"):
        if s not in _DESCRIPTORS:
            return (f"unsupported descriptor {s.split()[0]!r}; k8sim reads five-field cron expressions and "
                    f"{', '.join(_DESCRIPTORS)}")
    elif len(s.split()) != 5:
        return f"expected five fields (minute hour day-of-month month day-of-week), got {len(s.split())} in {s!r}"
    if not croniter.is_valid(s):
        return f"not a valid cron expression: {s!r}"
    if time_zone is not None:
        if not isinstance(time_zone, str) or not time_zone:
            return f"spec.timeZone: expected an IANA time zone name, got {time_zone!r}"
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return f"spec.timeZone: unknown time zone {time_zone!r} (an IANA name such as Europe/Berlin)"
    return None


def _opt_int(doc: Any, spec: dict[str, Any], key: str, path: str, lo: int = 0) -> int | None:
    v = spec.get(key)
    if v is None:
        return None
    return doc.r.integer(v, doc.at(f"{path}.{key}"), lo, 2**31 - 1)


def _job_spec(doc: Any, spec: dict[str, Any], path: str) -> JobSpec:
    r = doc.r
    js = JobSpec()
    completions = _opt_int(doc, spec, "completions", path)
    parallelism = _opt_int(doc, spec, "parallelism", path)
    if spec.get("completions") is None and spec.get("parallelism") is None:
        js.completions, js.parallelism = 1, 1
    else:
        js.completions = completions
        js.parallelism = parallelism if parallelism is not None else 1
    backoff = _opt_int(doc, spec, "backoffLimit", path)
    js.backoff_limit = 6 if backoff is None else backoff
    js.backoff_limit_per_index = _opt_int(doc, spec, "backoffLimitPerIndex", path)
    if backoff is None and js.backoff_limit_per_index is not None:
        js.backoff_limit = 2**31 - 1  # SetDefaults_Job: MaxInt32 with backoffLimitPerIndex
    mode = spec.get("completionMode", "NonIndexed")
    if mode not in ("NonIndexed", "Indexed"):
        r.problem(doc.at(f"{path}.completionMode"), f"expected NonIndexed or Indexed, got {mode!r}")
    else:
        js.completion_mode = str(mode)
        if mode == "Indexed" and js.completions is None:
            r.problem(doc.at(f"{path}.completions"), "required when completionMode is Indexed")
    deadline = _opt_int(doc, spec, "activeDeadlineSeconds", path, lo=1)
    js.active_deadline_s = float(deadline) if deadline is not None else None
    ttl = _opt_int(doc, spec, "ttlSecondsAfterFinished", path)
    js.ttl_after_finished_s = float(ttl) if ttl is not None else None
    suspend = spec.get("suspend", False)
    if not isinstance(suspend, bool):
        r.problem(doc.at(f"{path}.suspend"), f"expected true or false, got {suspend!r}")
    else:
        js.suspend = suspend
    _policies(doc, spec, path, js)
    return js


def _policies(doc: Any, spec: dict[str, Any], path: str, js: JobSpec) -> None:
    """podFailurePolicy, podReplacementPolicy, backoffLimitPerIndex, maxFailedIndexes and
    successPolicy (upstream ``validateJobSpec`` and ``SetDefaults_Job``)."""
    r = doc.r
    indexed = js.completion_mode == "Indexed"
    if spec.get("podFailurePolicy") is not None:
        js.pod_failure_policy = _pod_failure_policy(doc, spec["podFailurePolicy"], f"{path}.podFailurePolicy")
    policy = spec.get("podReplacementPolicy")
    if policy is None:
        js.pod_replacement_policy = "Failed" if js.pod_failure_policy is not None else "TerminatingOrFailed"
    elif policy not in ("Failed", "TerminatingOrFailed"):
        r.problem(doc.at(f"{path}.podReplacementPolicy"), f"expected Failed or TerminatingOrFailed, got {policy!r}")
    elif policy != "Failed" and js.pod_failure_policy is not None:
        r.problem(doc.at(f"{path}.podReplacementPolicy"), "must be Failed when podFailurePolicy is set")
    else:
        js.pod_replacement_policy = str(policy)
    if js.backoff_limit_per_index is not None and not indexed:
        r.problem(doc.at(f"{path}.backoffLimitPerIndex"), "requires completionMode Indexed")
    max_failed = _opt_int(doc, spec, "maxFailedIndexes", path)
    if max_failed is not None:
        if js.backoff_limit_per_index is None:
            r.problem(doc.at(f"{path}.maxFailedIndexes"), "requires backoffLimitPerIndex")
        elif js.completions is not None and max_failed > js.completions:
            r.problem(doc.at(f"{path}.maxFailedIndexes"),
                      f"must be less than or equal to completions ({js.completions})")
        js.max_failed_indexes = max_failed
    if js.pod_failure_policy and js.backoff_limit_per_index is None:
        for i, rule in enumerate(js.pod_failure_policy):
            if rule.action == FAIL_INDEX:
                r.problem(doc.at(f"{path}.podFailurePolicy.rules[{i}].action"),
                          "FailIndex requires backoffLimitPerIndex")
    if spec.get("successPolicy") is not None:
        if not indexed:
            r.problem(doc.at(f"{path}.successPolicy"), "requires completionMode Indexed")
        else:
            js.success_policy = _success_policy(doc, spec["successPolicy"], f"{path}.successPolicy",
                                                js.completions or 0)


def _pod_failure_policy(doc: Any, value: Any, path: str) -> tuple[PodFailureRule, ...] | None:
    r = doc.r
    pfp = r.mapping(value, doc.at(path))
    if pfp is None:
        return None
    rules = r.sequence(pfp.get("rules"), doc.at(f"{path}.rules"))
    if rules is None:
        return None
    if len(rules) > 20:
        r.problem(doc.at(f"{path}.rules"), f"must have at most 20 items, got {len(rules)}")
        return None
    out = []
    n = len(r.problems)
    for i, raw in enumerate(rules):
        at = f"{path}.rules[{i}]"
        rule = r.mapping(raw, doc.at(at))
        if rule is None:
            continue
        action = rule.get("action")
        if action not in ACTIONS:
            r.problem(doc.at(f"{at}.action"), f"expected one of {', '.join(ACTIONS)}, got {action!r}")
        codes, conds = rule.get("onExitCodes"), rule.get("onPodConditions")
        if (codes is None) == (conds is None):
            r.problem(doc.at(at), "specify exactly one of onExitCodes and onPodConditions")
            continue
        if codes is not None:
            req = r.mapping(codes, doc.at(f"{at}.onExitCodes"))
            if req is None:
                continue
            op = req.get("operator")
            if op not in ("In", "NotIn"):
                r.problem(doc.at(f"{at}.onExitCodes.operator"), f"expected In or NotIn, got {op!r}")
            values = r.sequence(req.get("values"), doc.at(f"{at}.onExitCodes.values")) or []
            if not values:
                r.problem(doc.at(f"{at}.onExitCodes.values"), "at least one value is required")
            elif len(values) > 255:
                r.problem(doc.at(f"{at}.onExitCodes.values"), f"must have at most 255 items, got {len(values)}")
            ints = [r.integer(v, doc.at(f"{at}.onExitCodes.values[{j}]"), -(2**31), 2**31 - 1)
                    for j, v in enumerate(values)]
            good = [v for v in ints if v is not None]
            if op == "In" and 0 in good:
                r.problem(doc.at(f"{at}.onExitCodes.values"), "must not contain 0 for the In operator")
            if len(set(good)) != len(good):
                r.problem(doc.at(f"{at}.onExitCodes.values"), "duplicate values")
            if good != sorted(good):
                r.problem(doc.at(f"{at}.onExitCodes.values"), "must be ordered")
            name = req.get("containerName")
            if name is not None and not isinstance(name, str):
                r.problem(doc.at(f"{at}.onExitCodes.containerName"), f"expected a container name, got {name!r}")
            out.append(PodFailureRule(str(action), operator=str(op), values=tuple(good),
                                      container_name=name if isinstance(name, str) else None))
        else:
            pats = r.sequence(conds, doc.at(f"{at}.onPodConditions"))
            if not pats:
                if pats is not None:
                    r.problem(doc.at(f"{at}.onPodConditions"), "at least one pattern is required")
                continue
            if len(pats) > 20:
                r.problem(doc.at(f"{at}.onPodConditions"), f"must have at most 20 items, got {len(pats)}")
            got = []
            for j, p in enumerate(pats):
                pat = r.mapping(p, doc.at(f"{at}.onPodConditions[{j}]"))
                if pat is None:
                    continue
                ctype, status = pat.get("type"), pat.get("status", "True")
                if not isinstance(ctype, str) or not ctype:
                    r.problem(doc.at(f"{at}.onPodConditions[{j}].type"), "required: a pod condition type")
                    continue
                if status not in ("True", "False", "Unknown"):
                    r.problem(doc.at(f"{at}.onPodConditions[{j}].status"),
                              f"expected True, False or Unknown, got {status!r}")
                    continue
                if ctype not in KNOWN_CONDITIONS:
                    r.warn(doc.at(f"{at}.onPodConditions[{j}].type"),
                           f"k8sim's failed pods carry only the conditions {', '.join(KNOWN_CONDITIONS)}; "
                           f"a pattern of type {ctype!r} never matches")
                got.append((ctype, str(status)))
            out.append(PodFailureRule(str(action), on_pod_conditions=tuple(got)))
    return tuple(out) if len(r.problems) == n else None


def _success_policy(doc: Any, value: Any, path: str, completions: int) -> tuple[SuccessRule, ...] | None:
    r = doc.r
    sp = r.mapping(value, doc.at(path))
    if sp is None:
        return None
    rules = r.sequence(sp.get("rules"), doc.at(f"{path}.rules"))
    if not rules:
        if rules is not None:
            r.problem(doc.at(f"{path}.rules"), "at least one rule must be specified")
        return None
    if len(rules) > 20:
        r.problem(doc.at(f"{path}.rules"), f"must have at most 20 items, got {len(rules)}")
        return None
    out = []
    n = len(r.problems)
    for i, raw in enumerate(rules):
        at = f"{path}.rules[{i}]"
        rule = r.mapping(raw, doc.at(at))
        if rule is None:
            continue
        text, count = rule.get("succeededIndexes"), rule.get("succeededCount")
        if text is None and count is None:
            r.problem(doc.at(at), "at least one of succeededCount or succeededIndexes must be specified")
            continue
        indexes = None
        if text is not None:
            indexes = parse_indexes(text, completions) if isinstance(text, str) else None
            if indexes is None:
                r.problem(doc.at(f"{at}.succeededIndexes"),
                          f"expected increasing, disjoint indexes or ranges below completions ({completions}) "
                          f"such as '0,2-4', got {text!r}")
                continue
        if count is not None:
            total = sum(b - a + 1 for a, b in indexes) if indexes is not None else completions
            count = r.integer(count, doc.at(f"{at}.succeededCount"), 0, total)
            if count is None:
                continue
        out.append(SuccessRule(indexes, count))
    return tuple(out) if len(r.problems) == n else None


def _check_template_policies(doc: Any, js: JobSpec, template: Any, path: str) -> None:
    """What a pod failure policy needs of the pod template (upstream validation)."""
    if js.pod_failure_policy is None or template is None:
        return
    if template.restart_policy != "Never":
        doc.r.problem(doc.at(f"{path}.template.spec.restartPolicy"),
                      "must be Never when podFailurePolicy is set (upstream validation)")
    names = {c.name for c in template.containers} | {c.name for c in template.init_containers}
    for i, rule in enumerate(js.pod_failure_policy):
        if rule.container_name is not None and rule.container_name not in names:
            doc.r.problem(doc.at(f"{path}.podFailurePolicy.rules[{i}].onExitCodes.containerName"),
                          f"no container {rule.container_name!r} in the pod template (containers: {sorted(names)})")


def _selector(doc: Any, spec: dict[str, Any], path: str, labels: dict[str, str]) -> LabelSelector | None:
    if spec.get("selector") is None:
        return None
    try:
        sel = m.LABEL_SELECTOR.validate_python(spec["selector"])
    except ValidationError as e:
        for err in e.errors(include_url=False):
            loc = format_loc(err["loc"])
            doc.r.problem(doc.at(f"{path}.selector.{loc}" if loc else f"{path}.selector"),
                          "invalid label selector: " + err["msg"].removeprefix("Value error, "))
        return None
    if not sel.matches(labels):
        doc.r.problem(doc.at(f"{path}.selector"), f"selector does not match the template's labels {labels}; "
                                                   "upstream rejects this object")
    return sel


def _template(doc: Any, spec: dict[str, Any], path: str, priorities: dict[str, int], ns: str,
              meta: dict[str, Any]) -> tuple[Any, Any, Any, dict[str, Any]]:
    r = doc.r
    tmpl = r.mapping_or_empty(spec.get("template"), doc.at(f"{path}.template"))
    if not tmpl:
        r.problem(doc.at(f"{path}.template"), "required: the pod template")
        return None, None, None, {}
    tmeta = r.mapping_or_empty(tmpl.get("metadata"), doc.at(f"{path}.template.metadata"))
    labels = r.strings(tmeta.get("labels"), doc.at(f"{path}.template.metadata.labels"))
    sel = _selector(doc, spec, path, labels)
    pspec = tmpl.get("spec")
    template, pc = m.pod_template(doc, pspec, labels, f"{path}.template.spec", priorities, ns)
    if template is not None and "restart_policy" not in template.model_fields_set:
        r.problem(doc.at(f"{path}.template.spec.restartPolicy"),
                  "required for a Job's pods: OnFailure or Never (upstream validation)")
        template = None
    elif template is not None and template.restart_policy == "Always":
        r.problem(doc.at(f"{path}.template.spec.restartPolicy"),
                  "a Job's pods must use restartPolicy OnFailure or Never (upstream validation), got Always")
        template = None
    knobs = m.read_knobs(doc, meta, tmeta, f"{path}.template.metadata")
    return template, pc, sel, knobs


def _job(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    got = m.object_meta(doc)
    if got is None:
        return
    meta, name, ns = got
    spec = doc.r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    n = len(doc.r.problems)
    js = _job_spec(doc, spec, "spec")
    labels = doc.r.strings(meta.get("labels"), doc.at("metadata.labels"))
    js.queue_name = labels.get(QUEUE_NAME_LABEL) or None
    js.workload_priority_class = labels.get(WORKLOAD_PRIORITY_CLASS_LABEL) or None
    template, pc, sel, knobs = _template(doc, spec, "spec", priorities, ns, meta)
    _check_template_policies(doc, js, template, "spec")
    if template is None or len(doc.r.problems) > n:
        return
    out.objects.append(m.AppObject(kind="Job", name=name, namespace=ns, where=f"{doc.r.source}: {doc.path}",
                                   template=template, selector=sel, priority_class=pc,
                                   duration=knobs.get("duration"), start_latency=knobs.get("start-latency"),
                                   runtime=m.runtime_knobs(knobs),
                                   replicas=js.parallelism, batch=js))


def _cronjob(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    r = doc.r
    got = m.object_meta(doc)
    if got is None:
        return
    meta, name, ns = got
    n = len(r.problems)
    spec = r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    why = parse_schedule(spec.get("schedule"), spec.get("timeZone"))
    if why is not None:
        r.problem(doc.at("spec.timeZone" if why.startswith("spec.timeZone") else "spec.schedule"),
                  why.removeprefix("spec.timeZone: "))
    policy = spec.get("concurrencyPolicy", "Allow")
    if policy not in ("Allow", "Forbid", "Replace"):
        r.problem(doc.at("spec.concurrencyPolicy"), f"expected Allow, Forbid or Replace, got {policy!r}")
    deadline = _opt_int(doc, spec, "startingDeadlineSeconds", "spec")
    suspend = spec.get("suspend", False)
    if not isinstance(suspend, bool):
        r.problem(doc.at("spec.suspend"), f"expected true or false, got {suspend!r}")
    ok_hist = _opt_int(doc, spec, "successfulJobsHistoryLimit", "spec")
    fail_hist = _opt_int(doc, spec, "failedJobsHistoryLimit", "spec")
    jt = r.mapping_or_empty(spec.get("jobTemplate"), doc.at("spec.jobTemplate"))
    if not jt:
        r.problem(doc.at("spec.jobTemplate"), "required: the job template")
        return
    jmeta = r.mapping_or_empty(jt.get("metadata"), doc.at("spec.jobTemplate.metadata"))
    for key in (QUEUE_NAME_LABEL, WORKLOAD_PRIORITY_CLASS_LABEL):
        if key in r.mapping_or_empty(jmeta.get("labels"), doc.at("spec.jobTemplate.metadata.labels")):
            r.problem(doc.at(f"spec.jobTemplate.metadata.labels.{key}"),
                      "queued CronJobs are not modelled yet (a run without the queue would be wrong); "
                      "queue batch/v1 Jobs, or remove the label")
    jspec = r.mapping_or_empty(jt.get("spec"), doc.at("spec.jobTemplate.spec"))
    js = _job_spec(doc, jspec, "spec.jobTemplate.spec")
    template, pc, sel, knobs = _template(doc, jspec, "spec.jobTemplate.spec", priorities, ns, meta)
    _check_template_policies(doc, js, template, "spec.jobTemplate.spec")
    if template is None or len(r.problems) > n:
        return
    cs = CronJobSpec(schedule=str(spec["schedule"]).strip(), time_zone=spec.get("timeZone"),
                     concurrency_policy=str(policy), starting_deadline_s=None if deadline is None else float(deadline),
                     suspend=bool(suspend), successful_history=3 if ok_hist is None else ok_hist,
                     failed_history=1 if fail_hist is None else fail_hist, job=js,
                     job_labels=r.strings(jmeta.get("labels"), doc.at("spec.jobTemplate.metadata.labels")))
    out.objects.append(m.AppObject(kind="CronJob", name=name, namespace=ns, where=f"{doc.r.source}: {doc.path}",
                                   template=template, selector=sel, priority_class=pc,
                                   duration=knobs.get("duration"), start_latency=knobs.get("start-latency"),
                                   runtime=m.runtime_knobs(knobs),
                                   replicas=js.parallelism, batch=cs))


_JOB_FIELDS = frozenset({"completions", "parallelism", "completionMode", "backoffLimit", "activeDeadlineSeconds",
                         "ttlSecondsAfterFinished", "suspend", "selector", "manualSelector", "podFailurePolicy",
                         "podReplacementPolicy", "backoffLimitPerIndex", "maxFailedIndexes", "successPolicy",
                         "template.metadata.labels"} | {f"template.spec.{f}" for f in m.POD_SPEC_FIELDS})
_COMMON = frozenset({"apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.labels"})
m.MODELLED_FIELDS["Job"] = _COMMON | {f"spec.{f}" for f in _JOB_FIELDS} | {"spec.template.metadata.annotations"}
m.MODELLED_FIELDS["CronJob"] = _COMMON | {f"spec.jobTemplate.spec.{f}" for f in _JOB_FIELDS} | {
    "spec.schedule", "spec.timeZone", "spec.concurrencyPolicy", "spec.startingDeadlineSeconds", "spec.suspend",
    "spec.successfulJobsHistoryLimit", "spec.failedJobsHistoryLimit", "spec.jobTemplate.metadata.labels",
    "spec.jobTemplate.metadata.annotations", "spec.jobTemplate.spec.template.metadata.annotations"}
m.register_kind("batch/v1", "Job", _job)
m.register_kind("batch/v1", "CronJob", _cronjob)
