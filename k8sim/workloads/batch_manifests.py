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
from k8sim.config.loader import format_loc
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
    return js


def _selector(doc: Any, spec: dict[str, Any], path: str, labels: dict[str, str]) -> LabelSelector | None:
    if spec.get("selector") is None:
        return None
    try:
        sel = m._SELECTOR.validate_python(spec["selector"])
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
    knobs = m._knobs(doc, meta, tmeta, f"{path}.template.metadata")
    return template, pc, sel, knobs


def _job(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    got = m._meta(doc)
    if got is None:
        return
    meta, name, ns = got
    spec = doc.r.mapping_or_empty(doc.obj.get("spec"), doc.at("spec"))
    n = len(doc.r.problems)
    js = _job_spec(doc, spec, "spec")
    template, pc, sel, knobs = _template(doc, spec, "spec", priorities, ns, meta)
    if template is None or len(doc.r.problems) > n:
        return
    out.objects.append(m.AppObject(kind="Job", name=name, namespace=ns, where=f"{doc.r.source}: {doc.path}",
                                   template=template, selector=sel, priority_class=pc,
                                   duration=knobs.get("duration"), start_latency=knobs.get("start-latency"),
                                   replicas=js.parallelism, batch=js))


def _cronjob(doc: Any, out: m.ManifestSet, priorities: dict[str, int]) -> None:
    r = doc.r
    got = m._meta(doc)
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
    jspec = r.mapping_or_empty(jt.get("spec"), doc.at("spec.jobTemplate.spec"))
    js = _job_spec(doc, jspec, "spec.jobTemplate.spec")
    template, pc, sel, knobs = _template(doc, jspec, "spec.jobTemplate.spec", priorities, ns, meta)
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
                                   replicas=js.parallelism, batch=cs))


_JOB_FIELDS = frozenset({"completions", "parallelism", "completionMode", "backoffLimit", "activeDeadlineSeconds",
                         "ttlSecondsAfterFinished", "suspend", "selector", "manualSelector",
                         "template.metadata.labels"} | {f"template.spec.{f}" for f in m._POD_SPEC_FIELDS})
_COMMON = frozenset({"apiVersion", "kind", "metadata.name", "metadata.namespace", "metadata.labels"})
m._MODELLED["Job"] = _COMMON | {f"spec.{f}" for f in _JOB_FIELDS} | {"spec.template.metadata.annotations"}
m._MODELLED["CronJob"] = _COMMON | {f"spec.jobTemplate.spec.{f}" for f in _JOB_FIELDS} | {
    "spec.schedule", "spec.timeZone", "spec.concurrencyPolicy", "spec.startingDeadlineSeconds", "spec.suspend",
    "spec.successfulJobsHistoryLimit", "spec.failedJobsHistoryLimit", "spec.jobTemplate.metadata.labels",
    "spec.jobTemplate.metadata.annotations", "spec.jobTemplate.spec.template.metadata.annotations"}
m.register_kind("batch/v1", "Job", _job)
m.register_kind("batch/v1", "CronJob", _cronjob)
