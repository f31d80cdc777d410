"""CronJob controller: schedules (croniter, time zones), concurrencyPolicy Allow /
Forbid / Replace, startingDeadlineSeconds, suspend, history limits.

Upstream: pkg/controller/cronjob/cronjob_controllerv2.go (syncCronJob,
cleanupFinishedJobs) and utils.go (mostRecentScheduleTime, nextScheduleTime,
getJobName). Virtual time 0 is controllers.cronjob.start_time (the Unix epoch by
default), so "*/1 * * * *" fires at 60, 120, ...
"""

from __future__ import annotations

import pytest
from helpers import sim, write

from k8sim.config.loader import ScenarioError


def cronjob(name="cj", schedule="*/1 * * * *", **spec):
    pod = {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
           "containers": [{"name": "c", "image": "x:1", "resources": {"requests": {"cpu": "1"}}}]}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
            "spec": {"schedule": schedule, **spec, "jobTemplate": {"spec": {"template": {"spec": pod}}}}}


def run(tmp_path, doc, run_s, until=400, **kw):
    m = write(tmp_path, "cj.yaml", doc)
    return sim(tmp_path, m, start=0.0, workload={"duration": {"kind": "constant", "value": run_s}},
               duration=until, **kw).run()


def test_allow_runs_every_schedule_time(tmp_path):
    # Every minute, each Job's pod runs 150 s (start latency 0): Jobs at 60, 120, 180,
    # 240, 300, 360 overlap (Allow). Names: <cronjob>-<minutes since the epoch>.
    r = run(tmp_path, cronjob(successfulJobsHistoryLimit=10), 150)
    jobs = r.frames["jobs"]
    assert jobs["created"].tolist() == [60.0, 120.0, 180.0, 240.0, 300.0, 360.0]
    assert jobs["job"].tolist() == ["cj-1", "cj-2", "cj-3", "cj-4", "cj-5", "cj-6"]


def test_forbid_skips_while_active_then_runs_the_missed_time(tmp_path):
    # Forbid, pods run 150 s. 60: Job A (60 -> 210). 120, 180: A active -> skipped, not
    # recorded as run. 210: A completes; the sync it triggers finds 180, the most recent
    # unmet time after lastScheduleTime 60, and starts Job B at 210 (for 180, name cj-3).
    # B runs 210 -> 360. 240, 300: skipped. 360: B completes and 360 is a schedule time:
    # Job C at 360 (for 360, cj-6).
    r = run(tmp_path, cronjob(concurrencyPolicy="Forbid"), 150)
    jobs = r.frames["jobs"]
    assert jobs["created"].tolist() == [60.0, 210.0, 360.0]
    assert jobs["scheduled"].tolist() == [60.0, 180.0, 360.0]
    assert jobs["job"].tolist() == ["cj-1", "cj-3", "cj-6"]
    cj = r.frames["cronjobs"]
    assert cj.loc[cj["action"] == "skipped", "scheduled"].tolist() == [120.0, 180.0, 240.0, 300.0]


def test_forbid_with_starting_deadline_misses_late_times(tmp_path):
    # As above with startingDeadlineSeconds 20: at 210 the unmet time 180 is 30 s old
    # (> 20): the sync looks back only to 210 - 20 = 190, finds no time in (190, 210]
    # and starts nothing; the next Job is at 240 (A is done). B: 240 -> 390.
    r = run(tmp_path, cronjob(concurrencyPolicy="Forbid", startingDeadlineSeconds=20), 150)
    assert r.frames["jobs"]["created"].tolist() == [60.0, 240.0]


def test_replace_deletes_the_active_job(tmp_path):
    # Replace, pods run 150 s: every minute the running Job is deleted (its pod, grace 0,
    # ends at once) and a new one starts: Jobs at 60, 120, ..., 360; each of the first
    # five is deleted one minute after it started, with 60 s of wasted work.
    r = run(tmp_path, cronjob(concurrencyPolicy="Replace"), 150)
    jobs = r.frames["jobs"]
    assert jobs["created"].tolist() == [60.0, 120.0, 180.0, 240.0, 300.0, 360.0]
    assert jobs["deleted_at"].tolist()[:5] == [120.0, 180.0, 240.0, 300.0, 360.0]
    assert jobs["wasted_s"].tolist()[:5] == [60.0] * 5
    assert r.pods["finished"].tolist()[:5] == [120.0, 180.0, 240.0, 300.0, 360.0]


def test_history_limit_deletes_the_oldest_finished_jobs(tmp_path):
    # Pods run 10 s; every minute a Job completes 10 s after its start. With the default
    # successfulJobsHistoryLimit 3, the 4th completion (at 250) deletes the 1st Job, the
    # 5th (310) the 2nd, the 6th (370) the 3rd.
    r = run(tmp_path, cronjob(), 10)
    jobs = r.frames["jobs"]
    assert jobs["finished"].tolist() == [70.0, 130.0, 190.0, 250.0, 310.0, 370.0]
    assert jobs["deleted_at"].tolist()[:3] == [250.0, 310.0, 370.0]


def test_suspend_creates_nothing(tmp_path):
    r = run(tmp_path, cronjob(suspend=True), 10)
    assert "jobs" not in r.frames or len(r.frames["jobs"]) == 0


def test_time_zone_and_start_time(tmp_path):
    # Start 2026-07-01T06:30:00Z; "0 9 * * *" in Europe/Berlin (UTC+2 in summer) is
    # 07:00Z, 1800 s after the start; the next is a day later (88200).
    r = run(tmp_path, cronjob(schedule="0 9 * * *", timeZone="Europe/Berlin"), 10, until=90000,
            controllers={"cronjob": {"start_time": "2026-07-01T06:30:00+00:00"}})
    assert r.frames["jobs"]["created"].tolist() == [1800.0, 88200.0]


@pytest.mark.parametrize(("spec", "field", "words"), [
    ({"schedule": "61 * * * *"}, "spec.schedule", "not a valid cron expression"),
    ({"schedule": "* * * * * *"}, "spec.schedule", "expected five fields"),
    ({"schedule": "TZ=UTC 0 * * * *"}, "spec.schedule", "use spec.timeZone"),
    ({"schedule": "@every 5m"}, "spec.schedule", "unsupported descriptor"),
    ({"timeZone": "Mars/Olympus"}, "spec.timeZone", "unknown time zone"),
    ({"concurrencyPolicy": "Sometimes"}, "spec.concurrencyPolicy", "Allow, Forbid or Replace"),
])
def test_bad_cronjobs_name_file_document_and_field(tmp_path, spec, field, words):
    doc = cronjob()
    doc["spec"].update(spec)
    m = write(tmp_path, "cj.yaml", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}, doc)
    with pytest.raises(ScenarioError) as e:
        sim(tmp_path, m, duration=100)
    text = str(e.value)
    assert "cj.yaml" in text and f"document[1].{field}" in text and words in text
