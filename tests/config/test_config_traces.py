"""The trace schema (config) and the reader registry (workloads) name the same formats."""

from __future__ import annotations

import typing

from k8sim.config.cluster import TraceNodes
from k8sim.config.traces import NODE_FORMAT_SCHEMAS, POD_FORMAT_SCHEMAS, packaged_sample
from k8sim.config.workloads import TraceWorkload
from k8sim.workloads.traces.formats import NODE_FORMATS, POD_FORMATS


def _literal(model: type, field: str) -> set[str]:
    return set(typing.get_args(model.model_fields[field].annotation))


def test_pod_formats_agree_between_schema_registry_and_literal() -> None:
    assert set(POD_FORMATS) == set(POD_FORMAT_SCHEMAS) == _literal(TraceWorkload, "format")


def test_node_formats_agree_between_schema_registry_and_literal() -> None:
    assert set(NODE_FORMATS) == set(NODE_FORMAT_SCHEMAS) == _literal(TraceNodes, "format")


def test_every_declared_sample_is_shipped() -> None:
    samples = [s.sample for s in (*POD_FORMAT_SCHEMAS.values(), *NODE_FORMAT_SCHEMAS.values()) if s.sample]
    assert samples, "the openb and dlrm formats ship samples"
    for name in samples:
        assert packaged_sample(name).is_file(), name


def test_missing_trace_files_are_reported_at_validation_with_their_field_paths(tmp_path) -> None:
    import pytest

    from k8sim.config.loader import ScenarioError, validate_scenario

    data = {
        "name": "t",
        "duration_s": 10,
        "cluster": {"trace_nodes": [{"format": "pai2020", "file": "nodes.csv"}]},
        "workloads": [{"name": "w", "trace": {"format": "alibaba2018", "files": ["sample"],
                                               "args": {"machine_memory_bytes": "64Gi",
                                                        "batch_instance": "bi.csv"}}}],
    }
    with pytest.raises(ScenarioError) as info:
        validate_scenario(data, source="s.yaml", base_dir=tmp_path)
    problems = dict(info.value.problems)
    assert "trace file not found" in problems["cluster.trace_nodes[0].file"]
    assert str(tmp_path / "nodes.csv") in problems["cluster.trace_nodes[0].file"]
    assert "has no packaged sample" in problems["workloads[0].trace.files"]
    assert "trace file not found" in problems["workloads[0].trace.args"]


def test_sample_entries_stay_portable_and_read_the_packaged_sample(tmp_path) -> None:
    """A validated scenario names ``sample``, not this installation's path, so it runs on a
    Dask worker whose k8sim lives elsewhere; the reader finds the packaged file."""
    import numpy as np

    from k8sim.config.loader import validate_scenario
    from k8sim.workloads.traces.formats import read_nodes, read_pods

    data = {
        "name": "t",
        "duration_s": 10,
        "cluster": {"trace_nodes": [{"format": "openb", "file": "sample"}]},
        "workloads": [{"name": "w", "trace": {"format": "openb", "files": ["sample"]}}],
    }
    sc = validate_scenario(data, source="s.yaml", base_dir=tmp_path)
    assert sc.cluster.trace_nodes[0].file == "sample"
    trace = sc.workloads[0].trace
    assert trace is not None and trace.files == ["sample"]
    nodes, _ = read_nodes("openb", "sample", {})
    pods, _ = read_pods("openb", ["sample"], trace.options(), np.random.default_rng(0), dict(trace.args))
    assert len(nodes) > 0 and len(pods) > 0
