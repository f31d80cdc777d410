"""Usage of Alibaba 2018 online containers in a run: ``container_meta`` pods
(``trace.args.table: container``) with ``autoscaling.usage[].from_trace`` reading
``container_usage`` (docs/autoscaling.md "Usage from traces").

The files are written here so every number can be derived by hand:
``machine_memory_bytes`` 16Gi, so ``mem_size`` 12.5 is 2 GiB; ``cpu_request`` 100 is
one core. A usage row gives, from its ``time_stamp`` on, ``cpu_util_percent`` % of the
container's CPU request and ``mem_util_percent`` % of its memory request.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from k8sim.config.loader import ScenarioError, validate_scenario
from k8sim.sim.simulation import Simulation

GIB = 1 << 30
# a_1: running at the trace start: 1000 m, 2 GiB, never stops. a_2: starts at 60 with
# 2000 m, 2 GiB (it was allocated at 30), stops at 600 (runs 540 s).
META = """a_1,m_1,0,app_a,started,100,200,12.5
a_2,m_1,30,app_a,allocated,200,400,12.5
a_2,m_1,60,app_a,started,200,400,12.5
a_2,m_1,600,app_a,stopped,200,400,12.5
"""
# a_1: from 0 50 % CPU (500 m), 50 % memory (1 GiB); from 300 80 % (800 m), 75 %
# (1.5 GiB); from 900 125 % memory (2.5 GiB). a_2 (start 60): from 60 25 % (500 m,
# 0.5 GiB); from 240 (age 180) 50 % (1000 m, 1 GiB).
USAGE = """a_1,m_1,0,50,50,1.1,2.0,1,3.0,3.0,1
a_2,m_1,60,25,25,1.1,2.0,1,3.0,3.0,1
a_2,m_1,240,50,50,1.1,2.0,1,3.0,3.0,1
a_1,m_1,300,80,75,1.1,2.0,1,3.0,3.0,1
a_1,m_1,900,80,125,1.1,2.0,1,3.0,3.0,1
"""


def _scenario(tmp_path: Path, from_trace: dict | bool | None = None, usage: str = USAGE,
              duration: float = 700, **args: object) -> object:
    (tmp_path / "container_meta.csv").write_text(META)
    (tmp_path / "container_usage.csv").write_text(usage)
    ft = {"files": ["container_usage.csv"]} if from_trace is None else from_trace
    data = {
        "name": "t", "seed": 1, "duration_s": duration, "sample_interval_s": 60,
        "cluster": {"node_pools": [{"name": "general", "count": 1, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "workloads": [{"name": "online", "trace": {
            "format": "alibaba2018", "files": ["container_meta.csv"],
            "args": {"machine_memory_bytes": "16Gi", "table": "container", **args}},
            "template": {"start_latency": {"kind": "constant", "value": 0}}}],
        "autoscaling": {"usage": [{"workload": "online", "from_trace": ft}]},
    }
    return validate_scenario(data, "t.yaml", base_dir=tmp_path)


def test_node_usage_follows_the_container_usage_rows(tmp_path: Path) -> None:
    # Pods run from their arrival (start latency 0): a_1 from 0, a_2 from 60 to 600.
    # t = 120: a_1 (age 120) 500 m, 1 GiB; a_2 (age 60) 500 m, 0.5 GiB -> 1000 m,
    #   1.5 GiB used; 3000 m, 4 GiB requested.
    # t = 300: a_1 (age 300) 800 m, 1.5 GiB; a_2 (age 240 >= 180) 1000 m, 1 GiB ->
    #   1800 m, 2.5 GiB.
    # t = 660: a_2 has stopped: a_1 alone, 800 m, 1.5 GiB used; 1000 m, 2 GiB requested.
    sim = Simulation(_scenario(tmp_path))
    r = sim.run()
    nu = r.frames["node_usage"].set_index("time")
    assert (nu.loc[120.0, "cpu_usage"], nu.loc[120.0, "memory_usage"]) == (1000.0, 1.5 * GIB)
    assert (nu.loc[120.0, "cpu_requested"], nu.loc[120.0, "memory_requested"]) == (3000.0, 4.0 * GIB)
    assert (nu.loc[300.0, "cpu_usage"], nu.loc[300.0, "memory_usage"]) == (1800.0, 2.5 * GIB)
    assert nu.loc[300.0, "cpu_usage_utilization"] == pytest.approx(1800.0 / 8000.0)
    assert (nu.loc[660.0, "cpu_usage"], nu.loc[660.0, "memory_usage"]) == (800.0, 1.5 * GIB)
    assert (nu.loc[660.0, "cpu_requested"], nu.loc[660.0, "memory_requested"]) == (1000.0, 2.0 * GIB)
    s = r.summary()
    assert (s["trace_usage_pods"].iloc[0], s["trace_usage_missing_pods"].iloc[0]) == (2, 0)
    assert r.trace.set_index("pod")["qos"].unique().tolist() == ["online"]


def test_memory_above_the_limit_is_an_oom_kill_at_the_computed_time(tmp_path: Path) -> None:
    # limit_ratio memory 1.2: limit 1.2 x 2 GiB = 2.4 GiB. a_1 uses 1 GiB, 1.5 GiB from
    # age 300, 2.5 GiB >= 2.4 GiB from age 900: its container (started at 0) is killed
    # at 900. The first restart is immediate; the new container's age starts at 0, so
    # the next kill would be at 1800, after the run's end (1000). a_2 never exceeds
    # 1 GiB.
    sim = Simulation(_scenario(tmp_path, {"files": ["container_usage.csv"], "limit_ratio": {"memory": 1.2}},
                               duration=1000))
    r = sim.run()
    names = sim.state.pods.names
    assert [(t, names[p]) for t, p in sim.kubelet.oom_kills] == [(900.0, "a_1")]
    assert r.summary()["oom_kills"].iloc[0] == 1
    # Limit 1.3 x 2 GiB = 2.6 GiB > 2.5 GiB: no kill.
    sim = Simulation(_scenario(tmp_path, {"files": ["container_usage.csv"], "limit_ratio": {"memory": 1.3}},
                               duration=1000))
    sim.run()
    assert sim.kubelet.oom_kills == []


def test_bad_container_configurations_name_the_field(tmp_path: Path) -> None:
    bad = USAGE.replace("a_2,m_1,240,50,50", "a_2,m_1,240,fifty,50")
    with pytest.raises(ScenarioError) as e:
        Simulation(_scenario(tmp_path, usage=bad))
    msg = str(e.value)
    assert "autoscaling.usage[0].from_trace.files" in msg and "container_usage.csv, line 3" in msg
    assert "cpu_util_percent" in msg and "not a number" in msg
    with pytest.raises(ScenarioError, match=r"from_trace.files.*container_usage"):
        Simulation(_scenario(tmp_path, True))
    with pytest.raises(ScenarioError, match=r"from_trace.statistic.*average"):
        Simulation(_scenario(tmp_path, {"files": ["container_usage.csv"], "statistic": "maximum"}))
    (tmp_path / "batch_instance.csv").write_text("")
    with pytest.raises(Exception, match="batch_instance belongs to table: batch"):
        _scenario(tmp_path, batch_instance="batch_instance.csv")


def test_shipped_container_scenario_kills_exactly_its_leaking_container() -> None:
    # scenarios/data/alibaba2018-containers: c_15 (running from the trace start)
    # reports mem_util_percent 60 + 2 per minute, 150 % at time stamp 2700 = 1.5 x its
    # request, the limit (limit_ratio 1.5); every other sample is at most 93 %. c_20
    # has no usage rows; c_21 never started (19 + 1 pods of 21 containers).
    from k8sim.config.loader import load_scenario

    root = Path(__file__).resolve().parents[2]
    sim = Simulation(load_scenario(root / "scenarios" / "alibaba2018-containers.yaml"))
    r = sim.run()
    names = sim.state.pods.names
    assert [(t, names[p]) for t, p in sim.kubelet.oom_kills] == [(2700.0, "c_15")]
    s = r.summary().iloc[0]
    assert (s["trace_usage_pods"], s["trace_usage_missing_pods"]) == (19, 1)
    assert sorted(set(r.trace["owner"])) == ["app_api", "app_cache", "app_job", "app_web"]


@pytest.mark.slow
def test_cli_exit_code_2_for_a_bad_container_usage_cell(tmp_path: Path) -> None:
    (tmp_path / "container_meta.csv").write_text(META)
    (tmp_path / "container_usage.csv").write_text(USAGE.replace("a_1,m_1,300,80,75", "a_1,m_1,300,80,-75"))
    data = {
        "name": "t", "seed": 1, "duration_s": 100,
        "cluster": {"node_pools": [{"name": "general", "count": 1, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "workloads": [{"name": "online", "trace": {"format": "alibaba2018", "files": ["container_meta.csv"],
                                                   "args": {"machine_memory_bytes": "16Gi", "table": "container"}}}],
        "autoscaling": {"usage": [{"workload": "online", "from_trace": {"files": ["container_usage.csv"]}}]},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    out = subprocess.run([sys.executable, "-m", "k8sim.cli", "run", str(tmp_path / "s.yaml"), "--out",
                          str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert "autoscaling.usage[0].from_trace.files" in out.stderr
    assert "line 4" in out.stderr and "mem_util_percent" in out.stderr
