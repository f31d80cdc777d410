"""Usage from traces' usage columns in a run (``autoscaling.usage[].from_trace``).

Small Google 2019 exports are written here, so every number can be derived by hand
(docs/autoscaling.md "Usage from traces"): a usage window of the instance_usage table
gives the pod's usage from its age ``window start - first window start`` on, in request
units (normalised CPU x ``machine_cpu_milli``, memory x ``machine_memory_bytes``).
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
EVENTS = """time,type,collection_id,scheduling_class,missing_type,collection_type,priority,alloc_collection_id,\
instance_index,machine_id,alloc_instance_index,resource_request.cpus,resource_request.memory
610000000,0,1,0,0,0,0,0,0,0,-1,0.1,0.125
610000000,3,1,0,0,0,0,0,0,7,-1,0.1,0.125
1210000000,6,1,0,0,0,0,0,0,7,-1,0.1,0.125
620000000,0,2,0,0,0,0,0,0,0,-1,0.1,0.125
620000000,3,2,0,0,0,0,0,0,7,-1,0.1,0.125
1220000000,6,2,0,0,0,0,0,0,7,-1,0.1,0.125
630000000,0,3,0,0,0,0,0,0,0,-1,0.1,0.125
630000000,3,3,0,0,0,0,0,0,7,-1,0.1,0.125
660000000,6,3,0,0,0,0,0,0,7,-1,0.1,0.125
"""
# Pod 1/0 (arrives at 10 s, runs 600 s): 0.05 CPU, 0.0625 memory for 300 s, then
# 0.08 / 0.09375. Pod 2/0 (arrives at 20 s, runs 600 s): 0.02 / 0.03125 throughout.
# Pod 3/0 has no usage row.
USAGE = """start_time,end_time,collection_id,instance_index,average_usage.cpus,average_usage.memory
610000000,910000000,1,0,0.05,0.0625
910000000,1210000000,1,0,0.08,0.09375
620000000,1220000000,2,0,0.02,0.03125
"""


def _scenario(tmp_path: Path, from_trace: dict | bool = True, usage: str = USAGE, duration: float = 700,
              **trace: object) -> object:
    (tmp_path / "events.csv").write_text(EVENTS)
    (tmp_path / "usage.csv").write_text(usage)
    ft = {"files": ["usage.csv"], **from_trace} if isinstance(from_trace, dict) else from_trace
    data = {
        "name": "t", "seed": 1, "duration_s": duration, "sample_interval_s": 60,
        "cluster": {"node_pools": [{"name": "general", "count": 1, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "workloads": [{"name": "g", "trace": {
            "format": "google2019", "files": ["events.csv"],
            "args": {"machine_cpu_milli": 10000, "machine_memory_bytes": "16Gi"}, **trace},
            "template": {"start_latency": {"kind": "constant", "value": 0}}}],
        "autoscaling": {"usage": [{"workload": "g", "from_trace": ft}]},
    }
    return validate_scenario(data, "t.yaml", base_dir=tmp_path)


def test_node_usage_follows_the_trace_usage_rows(tmp_path: Path) -> None:
    # Requests: 0.1 x 10000 m = 1000 m, 0.125 x 16 GiB = 2 GiB per pod. Pods run from
    # their arrival (start latency 0): 1/0 at 10, 2/0 at 20, 3/0 from 30 to 60.
    # t = 60: 1/0 (age 50) 500 m, 1 GiB; 2/0 (age 40) 200 m, 0.5 GiB; 3/0 has just
    #   ended. Used 700 m, 1.5 GiB; requested 2000 m, 4 GiB.
    # t = 360: 1/0 (age 350 >= 300) 800 m, 1.5 GiB; 2/0 200 m, 0.5 GiB -> 1000 m, 2 GiB.
    # t = 660: both have ended (610, 620) -> 0 used, 0 requested.
    sc = _scenario(tmp_path, {"files": ["usage.csv"]})
    sim = Simulation(sc)
    r = sim.run()
    nu = r.frames["node_usage"].set_index("time")
    assert (nu.loc[60.0, "cpu_usage"], nu.loc[60.0, "memory_usage"]) == (700.0, 1.5 * GIB)
    assert (nu.loc[60.0, "cpu_requested"], nu.loc[60.0, "memory_requested"]) == (2000.0, 4.0 * GIB)
    assert (nu.loc[360.0, "cpu_usage"], nu.loc[360.0, "memory_usage"]) == (1000.0, 2.0 * GIB)
    assert nu.loc[360.0, "cpu_usage_utilization"] == pytest.approx(1000.0 / 8000.0)
    assert nu.loc[360.0, "cpu_request_utilization"] == pytest.approx(2000.0 / 8000.0)
    assert (nu.loc[660.0, "cpu_usage"], nu.loc[660.0, "cpu_requested"]) == (0.0, 0.0)
    s = r.summary()
    assert (s["trace_usage_pods"].iloc[0], s["trace_usage_missing_pods"].iloc[0]) == (2, 1)
    assert any("1 of 3 pods of workload 'g' have no usage row" in w for w in sim.warnings)


def test_pods_without_usage_use_the_fallback_ratio(tmp_path: Path) -> None:
    # Pod 3/0 runs from 30 to 60 without a usage row; fallback 0.5 x its request:
    # 500 m, 1 GiB. With 15 s samples, at t = 45: 1/0 (age 35) 500 m, 1 GiB; 2/0 (age
    # 25) 200 m, 0.5 GiB; 3/0 500 m, 1 GiB -> 1200 m, 2.5 GiB.
    sc = _scenario(tmp_path, {"files": ["usage.csv"], "fallback_ratio": 0.5})
    sc = sc.model_copy(update={"sample_interval_s": 15})
    r = Simulation(sc).run()
    nu = r.frames["node_usage"].set_index("time")
    assert nu.loc[45.0, "cpu_usage"] == 1200.0
    assert nu.loc[45.0, "memory_usage"] == 2.5 * GIB


def test_memory_above_the_limit_is_an_oom_kill_at_the_window_start(tmp_path: Path) -> None:
    # limit_ratio memory 0.7: limit 0.7 x 2 GiB = 1.4 GiB. Pod 1/0 uses 1 GiB, then from
    # age 300 1.5 GiB >= 1.4 GiB: its container started at 10 is OOM-killed at 310. The
    # first restart is immediate (CrashLoopBackOff starts at the second; start latency
    # 0): the new container's age starts at 0 again, so it is killed at 310 + 300 = 610.
    # Pods 2/0 (0.5 GiB) and 3/0 (no row: 2 GiB request x fallback 0.5 = 1 GiB) stay
    # under 1.4 GiB.
    sc = _scenario(tmp_path, {"files": ["usage.csv"], "fallback_ratio": 0.5, "limit_ratio": {"memory": 0.7}},
                   duration=615)
    sim = Simulation(sc)
    r = sim.run()
    assert [t for t, _ in sim.kubelet.oom_kills] == [310.0, 610.0]
    assert r.summary()["oom_kills"].iloc[0] == 2
    assert r.events.query("kind == 'ContainerTerminated'")["detail"].str.contains("OOMKilled").all()


def test_bad_configurations_name_the_field(tmp_path: Path) -> None:
    bad = USAGE.replace("0.02,0.03125", "0.02,-0.03125")
    with pytest.raises(ScenarioError) as e:
        Simulation(_scenario(tmp_path, {"files": ["usage.csv"]}, usage=bad))
    msg = str(e.value)
    assert "autoscaling.usage[0].from_trace.files" in msg and "usage.csv, line 4" in msg
    assert "average_usage.memory" in msg
    nomatch = USAGE.replace(",1,0,", ",5,0,").replace(",2,0,", ",6,0,")
    with pytest.raises(ScenarioError, match="no usage row names a pod"):
        Simulation(_scenario(tmp_path, {"files": ["usage.csv"]}, usage=nomatch))
    with pytest.raises(ScenarioError, match=r"from_trace.files.*instance_usage"):
        Simulation(_scenario(tmp_path, True))
    with pytest.raises(Exception, match="from_trace or cpu / memory"):
        validate_scenario({"name": "t", "duration_s": 10, "autoscaling": {"usage": [
            {"workload": "g", "from_trace": True, "cpu": {"ratio": 1}}]}}, "t.yaml", base_dir=tmp_path)


@pytest.mark.slow
def test_cli_exit_code_2_for_a_negative_usage(tmp_path: Path) -> None:
    bad = USAGE.replace("0.02,0.03125", "0.02,-0.03125")
    (tmp_path / "events.csv").write_text(EVENTS)
    (tmp_path / "usage.csv").write_text(bad)
    data = {
        "name": "t", "seed": 1, "duration_s": 100,
        "cluster": {"node_pools": [{"name": "general", "count": 1, "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "workloads": [{"name": "g", "trace": {"format": "google2019", "files": ["events.csv"],
                                              "args": {"machine_cpu_milli": 10000, "machine_memory_bytes": "16Gi"}}}],
        "autoscaling": {"usage": [{"workload": "g", "from_trace": {"files": ["usage.csv"]}}]},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(data))
    out = subprocess.run([sys.executable, "-m", "k8sim.cli", "run", str(tmp_path / "s.yaml"), "--out",
                          str(tmp_path / "out")], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert "autoscaling.usage[0].from_trace.files" in out.stderr and "line 4" in out.stderr


def test_shipped_alibaba_scenario_kills_exactly_its_memory_hogs() -> None:
    # scenarios/data/alibaba2018-usage: ins_7_1_1, ins_17_1_1 and ins_27_1_1 have
    # mem_avg 1.8 x their task's plan_mem, above the 1.5 x limit from their first
    # second; every other instance's mem_avg is at most 1.3 x (docs in
    # scenarios/data/README.md). Three instances have empty usage cells.
    from k8sim.config.loader import load_scenario

    root = Path(__file__).resolve().parents[2]
    sim = Simulation(load_scenario(root / "scenarios" / "alibaba2018-usage.yaml"))
    r = sim.run()
    names = sim.state.pods.names
    assert {names[p] for _, p in sim.kubelet.oom_kills} == {"ins_7_1_1", "ins_17_1_1", "ins_27_1_1"}
    s = r.summary().iloc[0]
    assert s["trace_usage_missing_pods"] == 3
    assert s["trace_usage_pods"] == 179
    nu = r.frames["node_usage"]
    assert (nu["cpu_usage"] <= nu["cpu_requested"]).all()  # cpu_avg <= 0.9 x plan_cpu everywhere
