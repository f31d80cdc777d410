"""Alibaba PAI (cluster-trace-gpu-v2020) machine specifications -> nodes.

Real file: ``../shared/traces/alibaba-gpu-v2020-machine-spec/pai_machine_spec.csv``
(no header; skipped when absent). Expected values are read off the file by hand or
counted with the ``awk`` one-liners quoted. The broken file is written by hand below.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from k8sim.workloads.traces.alibaba_pai_2020 import read_pai_machine_spec
from k8sim.workloads.traces.reports import TraceError
from k8sim.workloads.traces.schema import validate_nodes

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "traces" / "alibaba-gpu-v2020-machine-spec"
GIB = 1 << 30


def real_file() -> Path:
    path = SHARED / "pai_machine_spec.csv"
    if not path.exists():
        pytest.skip("public trace not available: pai_machine_spec.csv")
    return path


def test_real_machine_specs():
    nodes, report = read_pai_machine_spec(real_file())
    validate_nodes(nodes)
    assert report.rows_read == report.kept == 1897
    # line 1: 7399a758eb02bae1a3621236,CPU,96,512,0
    first = nodes.iloc[0]
    assert (first["name"], first["cpu_milli"], first["memory_bytes"]) == (
        "7399a758eb02bae1a3621236",
        96000,
        512 * GIB,
    )
    assert (first["gpu_count"], first["gpu_model"]) == (0, "")
    # line 1763: 6ee748f4180d0192e3740e11,V100M32,96,384,8
    row = nodes.set_index("name").loc["6ee748f4180d0192e3740e11"]
    assert (row["gpu_model"], row["gpu_count"], row["memory_bytes"]) == ("V100M32", 8, 384 * GIB)
    # awk -F, '{print $2","$3","$4","$5}' | sort | uniq -c (the README's shape table)
    shapes = nodes.groupby(["gpu_model", "cpu_milli", "memory_bytes", "gpu_count"]).size().to_dict()
    assert shapes == {
        ("P100", 64000, 512 * GIB, 2): 798,
        ("T4", 96000, 512 * GIB, 2): 497,
        ("MISC", 96000, 512 * GIB, 8): 280,
        ("V100M32", 96000, 384 * GIB, 8): 135,
        ("", 96000, 512 * GIB, 0): 83,
        ("V100", 96000, 512 * GIB, 8): 59,
        ("V100", 96000, 384 * GIB, 8): 45,
    }
    assert int(nodes["gpu_count"].sum()) == 6742  # awk '{g+=$5}'


def test_hand_written_broken_spec(tmp_path):
    path = tmp_path / "pai_machine_spec.csv"
    path.write_text(
        "machine,gpu_type,cap_cpu,cap_mem,cap_gpu\n"  # line 1: header row, skipped
        "m1,T4,96,512,2\n"  # line 2
        "m2,P100,64,5l2,2\n"  # line 3: bad number
        "m3,CPU,96,512\n"  # line 4: four fields
        "m4,V100,96,384,8\n"  # line 5
    )
    nodes, report = read_pai_machine_spec(path)
    assert list(nodes["name"]) == ["m1", "m4"]
    assert report.rows_read == 4
    assert report.lines("bad_number") == [3]
    assert report.dropped_at["bad_number"][0].column == "cap_mem"
    assert report.lines("wrong_field_count") == [4]


def test_wrong_shape_is_an_error(tmp_path):
    path = tmp_path / "spec.csv"
    path.write_text("m1,T4,96\n")
    with pytest.raises(
        TraceError, match="3 fields where 5 were expected; expected columns: machine, gpu_type"
    ):
        read_pai_machine_spec(path)
