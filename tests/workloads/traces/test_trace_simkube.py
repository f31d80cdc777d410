"""SimKube ``.sktrace`` files.

Real files: ``../shared/traces/simkube-dsb-scaling`` (skipped when absent). Expected
values are worked out by hand from the decoded ``*.json`` renderings shipped beside the
traces: ``dsb-scaling`` applies 27 Deployments (1 replica each, every container
requesting cpu "1" and memory "1Gi", no limits) at ts 1710892138 and then changes
replica counts 19 times; ``cronjob`` has one CronJob with three finished pod lifecycles.
"""

from __future__ import annotations

from pathlib import Path

import msgpack
import pytest

from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import TraceOptions, validate_pods
from k8sim.workloads.traces.simkube import pod_template_requests, read_simkube

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "traces" / "simkube-dsb-scaling"
GIB = 1 << 30


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"public trace not available: {name}")
    return path


# Replica changes after the start (seconds after 1710892138, deployment, new count):
# 423 social-graph 3 | 548 url-shorten 2, compose-post 4, home-timeline 2 | 551
# user-timeline 2 | 553 text 3 | 556 nginx-thrift 2 | 563 compose-post 6 | 583 text 5 |
# 768 social-graph 1 | 789 post-storage 3 | 797 nginx 4 | 812 nginx 8 | 819 post-storage 5
# | 827 nginx 10 | 953 url-shorten 1 | 986 user-timeline 1 | 988 text 1 | 1134 compose 2.
# Increases: 2+1+3+1+1+2+1+2+2+2+2+4+2+2 = 27 new pods; decreases end the newest:
# social-graph 2 (423 -> 768: 345 s), url-shorten 1 (548 -> 953: 405 s), user-timeline 1
# (551 -> 986: 435 s), text 4 (2 from 583 and 2 from 553 -> 988: 405, 405, 435, 435),
# compose-post 4 (2 from 563 and 2 from 548 -> 1134: 571, 571, 586, 586).
ENDED = sorted([345, 345, 405, 435, 405, 405, 435, 435, 571, 571, 586, 586])


@pytest.mark.parametrize("name", ["dsb-scaling.sktrace", "dsb-scaling.json"])
def test_dsb_scaling(name):
    pods, report = read_simkube(shared(name))
    validate_pods(pods)
    assert report.rows_read == 19  # events
    assert report.kept == len(pods) == 27 + 27
    assert sorted(pods["duration_s"].dropna().tolist()) == ENDED
    assert report.clipped_end == 54 - 12
    assert (pods["cpu_milli"] == 1000).all() and (pods["memory_bytes"] == GIB).all()
    assert set(pods["qos"]) == {"Burstable"}  # requests without limits
    assert int((pods["arrival_s"] == 0).sum()) == 27
    nginx = pods[pods["owner"] == "Deployment/dsb/nginx-thrift"]
    assert sorted(nginx["arrival_s"]) == [0, 556, 797, 797, 812, 812, 812, 812, 827, 827]
    got = pods.set_index("id")
    assert got.loc["dsb/social-graph-service-1", "arrival_s"] == 423.0
    assert got.loc["dsb/social-graph-service-1", "duration_s"] == 345.0


def test_dsb_window():
    # [500, 900): the 27 first pods (still running) and the two social-graph pods (423 ->
    # 768: 268 s left) were there before; arrivals in the window: 548 (3+1+1 = 5 pods,
    # url-shorten 1, compose 3, home-timeline 1), 551 (1), 553 (2), 556 (1), 563 (2),
    # 583 (2), 789 (2), 797 (2), 812 (4), 819 (2), 827 (2) = 25.
    pods, report = read_simkube(shared("dsb-scaling.sktrace"), TraceOptions(start_s=500, end_s=900))
    assert len(pods) == 27 + 2 + 25
    assert report.clipped_start == 29
    sg = pods[pods["id"].isin(["dsb/social-graph-service-1", "dsb/social-graph-service-2"])]
    assert sg["duration_s"].tolist() == [268.0, 268.0]
    # everything else ends after 900 or never
    assert report.clipped_end == len(pods) - 2


@pytest.mark.parametrize("name", ["cronjob.sktrace", "cronjob.json"])
def test_cronjob_lifecycles(name):
    # pod_lifecycles: Finished [1743286861, 1743286891], [..921, ..951], [..981, ..7011];
    # first event ts 1743286823; the container has no resources -> BestEffort.
    pods, report = read_simkube(shared(name))
    assert list(pods["arrival_s"]) == [38.0, 98.0, 158.0]
    assert list(pods["duration_s"]) == [30.0, 30.0, 30.0]
    assert list(pods["id"]) == [
        "default/hello-simkube-0",
        "default/hello-simkube-1",
        "default/hello-simkube-2",
    ]
    assert set(pods["owner"]) == {"CronJob/default/hello-simkube"}
    assert set(pods["qos"]) == {"BestEffort"} and (pods["cpu_milli"] == 0).all()
    assert report.rows_read == 3


def _write(path: Path, trace: dict) -> Path:
    path.write_bytes(msgpack.packb(trace, use_bin_type=True))
    return path


def test_hand_written_trace(tmp_path):
    # A hand-written trace: a Job of 2 pods (limits only -> Guaranteed, 1 GPU each), a
    # bare Pod deleted after 50 s, and a Deployment whose template changes at 100 s.
    def deployment(cpu: str, replicas: int) -> dict:
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns"},
            "spec": {
                "replicas": replicas,
                "template": {
                    "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]}
                },
            },
        }

    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "train", "namespace": "ns"},
        "spec": {
            "parallelism": 2,
            "template": {
                "spec": {
                    "priority": 1000,
                    "containers": [
                        {
                            "name": "t",
                            "resources": {"limits": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}},
                        }
                    ],
                }
            },
        },
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "solo"},
        "spec": {"containers": [{"name": "s", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}]},
    }
    trace = {
        "version": 2,
        "config": {"trackedObjects": {}},
        "events": [
            {"ts": 1000, "applied_objs": [deployment("500m", 2), job, pod], "deleted_objs": []},
            {"ts": 1050, "applied_objs": [], "deleted_objs": [pod]},
            {"ts": 1100, "applied_objs": [deployment("1", 2)], "deleted_objs": []},
            {"ts": 1200, "applied_objs": [], "deleted_objs": [job]},
        ],
        "index": {},
        "pod_lifecycles": {},
    }
    pods, report = read_simkube(_write(tmp_path / "t.sktrace", trace))
    got = pods.set_index("id")
    assert sorted(got.index) == [
        "default/solo-0",
        "ns/train-0",
        "ns/train-1",
        "ns/web-0",
        "ns/web-1",
        "ns/web-2",
        "ns/web-3",
    ]
    assert (got.loc["default/solo-0", "duration_s"], got.loc["default/solo-0", "cpu_milli"]) == (50.0, 250)
    assert got.loc["default/solo-0", "memory_bytes"] == 64 << 20
    t = got.loc["ns/train-0"]
    assert (t["cpu_milli"], t["memory_bytes"], t["gpu_count"], t["gpu_milli"]) == (2000, 4 * GIB, 1, 1000)
    assert (t["qos"], t["priority"], t["duration_s"]) == ("Guaranteed", 1000, 200.0)
    # the template change at 100 s replaces both web pods
    assert list(got.loc[["ns/web-0", "ns/web-1"], "duration_s"]) == [100.0, 100.0]
    assert list(got.loc[["ns/web-2", "ns/web-3"], "cpu_milli"]) == [1000, 1000]
    assert got.loc["ns/web-2", "arrival_s"] == 100.0 and got.loc["ns/web-2", "clipped_end"]
    assert report.kept == 7


def test_pod_requests_follow_kubernetes_rules():
    spec = {
        "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "3", "memory": "1Gi"}}}],
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
        ],
        "overhead": {"cpu": "100m"},
    }
    # cpu: max(1 + 0.5, 3) + 0.1 = 3.1; memory: max(2 + 1, 1) = 3 Gi
    got = pod_template_requests(spec)
    assert (got["cpu_milli"], got["memory_bytes"], got["qos"]) == (3100, 3 * GIB, "Burstable")


def test_bad_traces(tmp_path):
    with pytest.raises(TraceError, match="missing key\\(s\\) index, pod_lifecycles"):
        read_simkube(_write(tmp_path / "a.sktrace", {"version": 2, "config": {}, "events": []}))
    with pytest.raises(TraceError, match="only 2 is read") as info:
        read_simkube(
            _write(
                tmp_path / "b.sktrace",
                {"version": 1, "config": {}, "events": [], "index": {}, "pod_lifecycles": {}},
            )
        )
    assert info.value.column == "version" and "b.sktrace" in str(info.value)
    junk = tmp_path / "c.sktrace"
    junk.write_bytes(b"\xc1\xc1")
    with pytest.raises(TraceError, match="not a SimKube trace"):
        read_simkube(junk)
    bad_qty = {
        "version": 2,
        "config": {},
        "events": [
            {
                "ts": 5,
                "applied_objs": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "metadata": {"name": "x", "namespace": "n"},
                        "spec": {
                            "template": {
                                "spec": {"containers": [{"resources": {"requests": {"cpu": "lots"}}}]}
                            }
                        },
                    }
                ],
                "deleted_objs": [],
            }
        ],
        "index": {},
        "pod_lifecycles": {},
    }
    with pytest.raises(TraceError, match="every row is bad: bad_quantity"):
        read_simkube(_write(tmp_path / "d.sktrace", bad_qty))
