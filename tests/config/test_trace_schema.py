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
