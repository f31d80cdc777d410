"""A scenario's scheduler.configFile: a real KubeSchedulerConfiguration drives the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from k8sim import ScenarioError, Simulation, load_scenario, run

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "kube" / "kubescheduler.yaml"


def write_scenario(tmp_path: Path, config: str | None = "kubescheduler.yaml", extra: str = "") -> Path:
    shutil.copy(FIXTURE, tmp_path / "kubescheduler.yaml")
    scheduler = f"scheduler:\n  configFile: {config}\n" if config else ""
    text = f"""
cluster:
  node_pools:
    - {{name: n, count: 2, allocatable: {{cpu: "4", memory: 8Gi}}}}
workloads:
  - name: packed
    arrival: {{kind: burst, count: 4, at_s: 0}}
    template: {{requests: {{cpu: 500m, memory: 512Mi}}, schedulerName: bin-packer}}
    duration: {{kind: constant, value: 10}}
{scheduler}{extra}"""
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_config_file_profiles_and_queue_settings(tmp_path):
    sim = Simulation(load_scenario(write_scenario(tmp_path)))
    # Both profiles of the file exist; the queue settings come from the file
    # (podInitialBackoffSeconds 2, podMaxBackoffSeconds 20).
    assert {"default-scheduler", "bin-packer"} <= set(sim.profiles)
    assert sim.scheduler.queue.initial_backoff_s == 2
    assert sim.scheduler.queue.max_backoff_s == 20
    # Unmodelled settings are warnings naming the file, not errors.
    assert any("leaderElection" in w for w in sim.warnings)


def test_bin_packer_profile_packs(tmp_path):
    # The file's bin-packer profile scores NodeResourcesFit MostAllocated: 4 pods of
    # 500m on two empty 4-cpu nodes all land on one node (the first pick is a tie,
    # after that the fuller node scores higher).
    pods = run(load_scenario(write_scenario(tmp_path))).pods
    assert pods["node"].nunique() == 1


def test_missing_config_file_is_reported(tmp_path):
    with pytest.raises(ScenarioError, match="scheduler.configFile"):
        load_scenario(write_scenario(tmp_path, config="nope.yaml"))


def test_config_file_and_profiles_are_exclusive(tmp_path):
    path = write_scenario(tmp_path, extra="  profiles: [{preset: binpack}]\n")
    with pytest.raises(ScenarioError, match="either profiles or configFile"):
        load_scenario(path)


def test_postfilter_disabled_in_file_disables_preemption(tmp_path):
    # The fixture's bin-packer profile disables DefaultPreemption at postFilter;
    # default-scheduler keeps it.
    sim = Simulation(load_scenario(write_scenario(tmp_path)))
    assert sim.profiles["bin-packer"].post_filter is None
    assert sim.profiles["default-scheduler"].post_filter is not None
