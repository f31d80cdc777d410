"""The synthetic samples shipped in ``k8sim/data/traces`` (see its README).

They must follow the upstream layouts exactly (same header as the real files), load
with the readers, and be reproducible from the generator with the documented seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from k8sim.workloads.traces.alibaba_gpu_2023 import (
    OPENB_NODE_COLUMNS,
    OPENB_POD_COLUMNS,
    generate_openb_sample,
    openb_sample_paths,
    read_openb_nodes,
    read_openb_pods,
    write_openb_sample,
)
from k8sim.workloads.traces.alibaba_gpu_2025_dlrm import (
    DLRM_COLUMNS,
    dlrm_sample_path,
    generate_dlrm_sample,
    read_dlrm,
    write_dlrm_sample,
)
from k8sim.workloads.traces.schema import validate_nodes, validate_pods

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "traces"


def header(path: Path) -> str:
    return path.read_text().splitlines()[0]


def test_shipped_samples_load():
    pod_path, node_path = openb_sample_paths()
    pods, report = read_openb_pods(pod_path)
    validate_pods(pods)
    assert report.kept == 300 and report.dropped == {}
    assert pods["qos"].isin(["LS", "BE", "Burstable", "Guaranteed"]).all()
    nodes, report = read_openb_nodes(node_path)
    validate_nodes(nodes)
    assert report.kept == 40
    dlrm, report = read_dlrm(dlrm_sample_path())
    validate_pods(dlrm)
    assert report.kept == 300 and report.dropped == {}
    assert report.clipped_start > 0 and report.clipped_end > 0


def test_samples_have_the_upstream_headers():
    pod_path, node_path = openb_sample_paths()
    assert header(pod_path) == ",".join(OPENB_POD_COLUMNS)
    assert header(node_path) == ",".join(OPENB_NODE_COLUMNS)
    assert header(dlrm_sample_path()) == ",".join(DLRM_COLUMNS)
    real = SHARED / "alibaba-gpu-v2023-openb" / "openb_pod_list_default.csv"
    if real.exists():
        assert header(real) == header(pod_path)
        assert header(real.with_name("openb_node_list_all_node.csv")) == header(node_path)
    real = SHARED / "alibaba-gpu-v2025-dlrm" / "disaggregated_DLRM_trace.csv"
    if real.exists():
        assert header(real) == header(dlrm_sample_path())


def test_samples_regenerate_from_documented_seeds(tmp_path):
    pod_path, node_path = write_openb_sample(tmp_path, np.random.default_rng(2023), n_pods=300, n_nodes=40)
    shipped_pods, shipped_nodes = openb_sample_paths()
    assert pod_path.read_text() == shipped_pods.read_text()
    assert node_path.read_text() == shipped_nodes.read_text()
    dlrm = write_dlrm_sample(tmp_path, np.random.default_rng(2025), n_instances=300)
    assert dlrm.read_text() == dlrm_sample_path().read_text()


def test_generators_follow_the_conventions():
    pods, nodes = generate_openb_sample(np.random.default_rng(0), 500, 20)
    assert list(pods.columns) == list(OPENB_POD_COLUMNS) and list(nodes.columns) == list(OPENB_NODE_COLUMNS)
    gpus, milli = pods["num_gpu"], pods["gpu_milli"]
    assert ((gpus == 0) == (milli == 0)).all()
    assert (milli[gpus > 1] == 1000).all()
    assert (pods["scheduled_time"].isna() == (pods["pod_phase"] == "Pending")).all()
    assert pods["creation_time"].is_monotonic_increasing
    assert not pods["name"].str.startswith("openb-").any()  # never mistaken for real rows
    frame = generate_dlrm_sample(np.random.default_rng(0), 200)
    assert list(frame.columns) == list(DLRM_COLUMNS)
    assert (frame["creation_time"].isna() == frame["scheduled_time"].isna()).all()
    with pytest.raises(ValueError):
        generate_openb_sample(np.random.default_rng(0), 0, 1)
