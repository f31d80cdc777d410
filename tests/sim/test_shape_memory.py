"""Shapes of a trace with one shape per pod share what they do not own.

A trace such as Google 2019 gives nearly every pod its own request, so a shape is made
per pod: the fields that come from the workload's template (selectors, labels,
tolerations, images) are one set of objects for all of them, and per-shape arrays are
no more than the requests themselves need. The results are unchanged (checked by
``tests/scheduling/test_incremental.py`` on distinct traces and by the equivalence run).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from k8sim import Simulation, validate_scenario
from k8sim.scheduling.podinfo import PodInfo


def _trace(path: Path, n: int) -> None:
    # Pod i asks for 100 + i milli-CPU and 256 + i MiB: n distinct shapes.
    rows = ["name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,"
            "scheduled_time"]
    rows += [f"p{i},{100 + i},{256 + i},0,0,,BE,Running,{i}.0,{i + 50}.0,{i}.0" for i in range(n)]
    path.write_text("\n".join(rows) + "\n")


def _sim(tmp_path: Path, n: int) -> Simulation:
    trace = tmp_path / "distinct.csv"
    _trace(trace, n)
    return Simulation(validate_scenario({
        "name": "distinct", "cluster": {"node_pools": [{"name": "a", "count": 3, "labels": {"disk": "ssd"},
                                                        "allocatable": {"cpu": "8", "memory": "32Gi"}}]},
        "workloads": [{"name": "t", "template": {"labels": {"app": "x"}, "nodeSelector": {"disk": "ssd"}},
                       "trace": {"format": "openb", "files": [str(trace)]}}]}))


def test_trace_shapes_share_template_fields_and_keep_their_own_requests(tmp_path):
    sim = _sim(tmp_path, 5)
    shapes: list[PodInfo] = [s for s in sim.state.shapes if s.workload == 0]
    assert len(shapes) == 5
    first = shapes[0]
    for s in shapes[1:]:
        # One object for everything the template decides...
        assert s.labels is first.labels and s.labels == {"app": "x"}
        assert s.node_selector is first.node_selector and s.node_selector == {"disk": "ssd"}
        assert s.tolerations is first.tolerations and len(s.tolerations) == 2  # DefaultTolerationSeconds
        assert s.requested_rows is first.requested_rows
        # ... and its own requests (cpu row 0, memory row 1: 100 + i m, (256 + i) MiB).
        assert s.requests is not first.requests
    for i, s in enumerate(shapes):
        assert s.requests[0] == 100 + i and s.requests[1] == (256 + i) * 2**20
        # A trace pod's bound non-zero requests are its scoring ones: one array.
        assert s.nonzero_bound is s.nonzero
        assert s.req_col.base is None and s.req_col[:, 0].tolist() == s.requests[s.requested_rows].tolist()
    # Interned rows are read only (a write would change every shape's).
    assert not first.requested_rows.flags.writeable
    # The trace's shapes are not kept under a key each (asked for once only).
    assert not [k for k in sim.shape_book.ids if k[0][0] == "trace"]


def test_trace_pods_read_their_shape_duration_and_arrival(tmp_path):
    sim = _sim(tmp_path, 4)
    r = sim.run()
    pods = r.pods[r.pods["workload"] == "t"].reset_index(drop=True)
    # Pod i arrives at i s (creation_time) and runs deletion - creation = 50 s; the
    # last deletion marks the trace's end, so the last pod is censored (runs for ever).
    assert pods["created"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert pods["duration"].tolist() == [50.0, 50.0, 50.0, np.inf]
    assert (pods["finished"] - pods["running"]).tolist()[:3] == [50.0] * 3
    shape_ids = sim.state.pods.shape[: sim.state.pods.n]
    assert [int(sim.state.shapes[s].requests[0]) for s in shape_ids] == [100, 101, 102, 103]
    assert pods["phase"].tolist() == ["Succeeded"] * 3 + ["Running"]
