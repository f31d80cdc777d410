"""Trace replay from a scenario: timed and inflation modes, trace node lists, bad input.

The small traces are written inline in openb's published layout (pod list
``name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,
deletion_time,scheduled_time``; node list ``sn,cpu_milli,memory_mib,gpu,model``) so the
hand derivations can refer to them. The real openb files (``../shared/traces``) are used
where present and the tests skip cleanly otherwise.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from k8sim import ScenarioError, Simulation, load_scenario, validate_scenario
from k8sim.cluster.ops import check_invariants
from k8sim.workloads.replay import inflation_order

HERE = Path(__file__).resolve()
SHARED = HERE.parents[2] / ".." / "shared" / "traces" / "alibaba-gpu-v2023-openb"
FIXTURES = HERE.parents[1] / "data" / "traces"

POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model\n"


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def scenario(tmp: Path, pods: str, nodes: str, trace: dict | None = None, **extra) -> dict:
    write(tmp, "pods.csv", POD_HEADER + pods)
    write(tmp, "nodes.csv", NODE_HEADER + nodes)
    doc = {
        "name": "replay",
        "cluster": {"trace_nodes": [{"format": "openb", "file": "nodes.csv"}]},
        "workloads": [{"name": "trace", "trace": {"format": "openb", "files": ["pods.csv"], **(trace or {})}}],
    }
    doc.update(extra)
    return doc


def build(tmp: Path, doc: dict) -> Simulation:
    return Simulation(validate_scenario(doc, base_dir=tmp))


# ------------------------------------------------------------------------------ timed


TIMED_PODS = (
    "p0,8000,16384,1,500,,LS,Running,100,700,105\n"
    "p1,4000,8192,0,0,,BE,Succeeded,200,260,210\n"
    "p2,8000,8192,2,1000,V100M16|V100M32,LS,Running,300,900,300\n"
    "p3,1000,1024,1,1000,T4,BE,Pending,400,1000,\n"
)
TIMED_NODES = "node-a,32000,131072,2,V100M16\nnode-b,16000,65536,0,\n"


def test_timed_replay_follows_the_trace(tmp_path):
    sim = build(tmp_path, scenario(tmp_path, TIMED_PODS, TIMED_NODES))
    result = sim.run()
    check_invariants(sim.state)
    pods = result.pods.set_index("pod")
    # Arrivals are creation_time; run times deletion_time - scheduled_time; start
    # latency 0 (the scenario default).
    # p0: one 500m share; only node-a has GPUs -> bound at 100, runs 700 - 105 = 595 s.
    assert pods.loc["p0", "node"] == "node-a"
    assert (pods.loc["p0", "created"], pods.loc["p0", "scheduled"], pods.loc["p0", "finished"]) == (100, 100, 695)
    # p1: CPU-only, runs 260 - 210 = 50 s from 200.
    assert (pods.loc["p1", "scheduled"], pods.loc["p1", "finished"]) == (200, 250)
    # p2: two whole GPUs at 300, but p0 holds 500m of one of node-a's two devices until
    # 695: unschedulable until p0's deletion moves it back; then 900 - 300 = 600 s.
    assert pods.loc["p2", "attempts"] >= 2
    assert (pods.loc["p2", "scheduled"], pods.loc["p2", "finished"]) == (695, 1295)
    # p3 wants a T4, which no node has: never placed (and it was never scheduled in the
    # trace: no scheduled_time, so its run time is unknown).
    assert pods.loc["p3", "phase"] == "Pending" and math.isnan(pods.loc["p3", "scheduled"])
    assert any("T4 (1 pods)" in w for w in sim.warnings)
    # Nodes come from the node list, in file order, with their GPUs.
    assert list(result.nodes["node"]) == ["node-a", "node-b"]
    assert sim.state.nodes.gpu_count.tolist() == [2, 0]
    assert result.end_time == 1295


def test_trace_options_window_scale_and_sampling(tmp_path):
    # Window [150, 350): p0 (100..700) was there at 150 -> arrival 0, clipped_start, and
    # still there at 350 -> clipped_end (NaN run time: it runs for ever in the replay);
    # p1 arrives 200 -> 50 and runs 260 - 210 = 50 s; p2 300 -> 150, also past 350;
    # p3 arrives 400 >= 350 -> out. time_scale 2 doubles times; resource_scale 0.5
    # halves CPU and memory requests.
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES,
                   trace={"start_s": 150, "end_s": 350, "time_scale": 2, "resource_scale": 0.5})
    sim = build(tmp_path, doc)
    frame = sim.replays["trace"].pods.set_index("name")
    assert list(frame.index) == ["p0", "p1", "p2"]
    assert frame.loc["p0", "arrival_s"] == 0 and math.isnan(frame.loc["p0", "duration_s"])
    assert frame.loc["p0", "clipped_start"] and frame.loc["p0", "clipped_end"]
    assert frame.loc["p1", "arrival_s"] == 100 and frame.loc["p1", "duration_s"] == 100
    assert frame.loc["p2", "arrival_s"] == 300 and frame.loc["p2", "clipped_end"]
    assert frame.loc["p0", "cpu_milli"] == 4000 and frame.loc["p1", "memory_bytes"] == 4096 * 2**20
    # Sampling keeps round(0.5 * 4) = 2 pods; a fixed sample_seed keeps the same two under
    # every run seed, without it the sample follows the run seed.
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES, trace={"sample_fraction": 0.5, "sample_seed": 7})
    picks = {tuple(Simulation(validate_scenario(doc, base_dir=tmp_path), seed=s).replays["trace"].pods["name"])
             for s in range(6)}
    assert len(picks) == 1 and len(next(iter(picks))) == 2
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES, trace={"sample_fraction": 0.5})
    picks = {tuple(Simulation(validate_scenario(doc, base_dir=tmp_path), seed=s).replays["trace"].pods["name"])
             for s in range(12)}
    assert len(picks) > 1


def test_max_pods_keeps_the_first_arrivals(tmp_path):
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES)
    doc["workloads"][0]["max_pods"] = 2
    assert list(build(tmp_path, doc).replays["trace"].pods["name"]) == ["p0", "p1"]


def test_trace_nodes_gpu_only_pods_labels_and_mixing_with_pools(tmp_path):
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES)
    doc["cluster"]["trace_nodes"][0].update({"gpu_only": True, "pods": 7, "labels": {"tier": "gpu"}})
    doc["cluster"]["node_pools"] = [{"name": "extra", "count": 1, "allocatable": {"cpu": "4", "memory": "8Gi"}}]
    sim = build(tmp_path, doc)
    nodes = sim.state.nodes
    assert nodes.names == ["extra-0", "node-a"]  # pools first, then trace lists
    a = nodes.name_index["node-a"]
    assert nodes.alloc[sim.resources.index["pods"], a] == 7
    assert nodes.alloc[sim.resources.index["cpu"], a] == 32000
    assert nodes.alloc[sim.resources.index["memory"], a] == 131072 * 2**20
    assert nodes.node_labels(a)["tier"] == "gpu"
    assert nodes.node_labels(a)["k8sim.io/node-pool"] == "trace"


# --------------------------------------------------------------------------- inflation


def test_inflation_order_properties():
    rng = np.random.default_rng(3)
    req = np.array([1000, 500, 0, 250, 1000, 0])  # 2750 milli in all
    # Target 1.3 x 4000 = 5200 > 2750: all six once (a permutation), then copies; the
    # sequence stops at the first pod where the cumulative request reaches 5200.
    seq = inflation_order(req, 4000, 1.3, rng)
    assert sorted(seq[:6].tolist()) == list(range(6))
    cum = np.cumsum(req[seq])
    assert cum[-1] >= 5200 and cum[-2] < 5200 and req[seq[-1]] > 0
    # Target 0.5 x 4000 = 2000 < 2750: a prefix of the shuffled pods, no copies.
    seq = inflation_order(req, 4000, 0.5, np.random.default_rng(3))
    assert len(set(seq.tolist())) == len(seq) <= 6
    cum = np.cumsum(req[seq])
    assert cum[-1] >= 2000 and (len(seq) == 1 or cum[-2] < 2000)
    # Copies are uniform over the rows: 4 rows of equal request, many copies; each row's
    # share of the copies is 1/4 within 5 standard errors (n ~ 40,000).
    seq = inflation_order(np.full(4, 10), 1000, 400.0, np.random.default_rng(0))
    copies = np.bincount(seq[4:], minlength=4) / (len(seq) - 4)
    se = math.sqrt(0.25 * 0.75 / (len(seq) - 4))
    assert np.all(np.abs(copies - 0.25) < 5 * se)
    with pytest.raises(ValueError, match="request GPUs"):
        inflation_order(np.zeros(3, dtype=np.int64), 1000, 1.3, rng)
    with pytest.raises(ValueError, match="GPUs in the cluster"):
        inflation_order(req, 0, 1.3, rng)


INFLATION_PODS = (
    "a,1000,1024,1,600,,LS,Running,0,10,0\n"
    "b,1000,1024,1,600,,LS,Running,5,10,5\n"
    "c,1000,1024,0,0,,BE,Running,7,10,7\n"
)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_inflation_drops_what_does_not_fit_and_never_retries(tmp_path, seed):
    # One node with one GPU: capacity 1000 milli, target 1.3 -> 1300. The originals ask
    # for 600 + 600 + 0 = 1200 < 1300, so copies follow until one GPU pod is added:
    # 1800 >= 1300. Whatever the order, the first GPU pod takes 600m of the device and
    # every later one (600m > the 400m left) is dropped after one attempt; CPU-only pods
    # all fit (64 cores).
    doc = scenario(tmp_path, INFLATION_PODS, "n,64000,262144,1,G1\n",
                   trace={"mode": "inflation", "target_gpu_share": 1.3, "interval_s": 2})
    sim = Simulation(validate_scenario(doc, base_dir=tmp_path), seed=seed)
    result = sim.run()
    check_invariants(sim.state)
    pods = result.pods
    gpu = pods["pod"].str.match(r"^[ab](~\d+)?$")
    assert gpu.sum() == 3  # a, b and one GPU copy
    assert (pods["attempts"] == 1).all()
    placed = pods[gpu & (pods["phase"] == "Running")]
    dropped = pods[gpu & (pods["phase"] == "Failed")]
    assert len(placed) == 1 and len(dropped) == 2
    assert (dropped["reason"] == "Unschedulable").all()
    assert (dropped["finished"] == dropped["created"]).all()
    assert (pods.loc[~gpu, "phase"] == "Running").all()
    # One pod every interval_s = 2 s from 0; pods never leave.
    assert pods["created"].tolist() == [2.0 * i for i in range(len(pods))]
    assert pods["finished"][pods["phase"] == "Running"].isna().all()
    # Copies are named <id>~k.
    assert sum(name.endswith("~1") for name in pods["pod"]) == len(pods) - 3
    assert sim.scheduler.dropped == 2
    assert (result.events["kind"] == "Dropped").sum() == 2
    # RunResult.trace: the trace columns of every submitted pod, joinable on "pod"; a
    # copy keeps its original id and QoS (a and b are LS, c is BE in the file above).
    trace = result.trace.set_index("pod")
    assert list(trace.index) == list(pods["pod"])
    for name in pods["pod"]:
        assert trace.loc[name, "id"] == name.split("~")[0]
        assert trace.loc[name, "qos"] == ("BE" if name.startswith("c") else "LS")
    result.to_parquet(tmp_path / "out")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out" / "trace.parquet"), result.trace)


def test_inflation_must_be_the_only_workload(tmp_path):
    doc = scenario(tmp_path, INFLATION_PODS, "n,64000,262144,1,G1\n", trace={"mode": "inflation"})
    doc["workloads"].append({"name": "more", "arrival": {"kind": "burst", "count": 1}})
    with pytest.raises(ScenarioError, match="only workload"):
        validate_scenario(doc, base_dir=tmp_path)


def test_inflation_needs_gpus(tmp_path):
    doc = scenario(tmp_path, INFLATION_PODS, "n,64000,262144,0,\n", trace={"mode": "inflation"})
    with pytest.raises(ScenarioError) as e:
        build(tmp_path, doc)
    assert "workloads[0].trace.mode" in str(e.value) and "GPUs in the cluster" in str(e.value)


def test_node_priority_tie_break_prefers_one_node_per_seed(tmp_path):
    # Five identical nodes and CPU-only pods under the "random" preset (no score: every
    # feasible node ties). With tieBreak nodePriority the same node wins every tie, so
    # every pod lands on one node (it has room for all 10); which node it is depends on
    # the seed only.
    pods = "".join(f"q{i},1000,1024,0,0,,BE,Running,{i},100000,{i}\n" for i in range(10))
    nodes = "".join(f"n{i},64000,262144,0,\n" for i in range(5))
    doc = scenario(tmp_path, pods, nodes, scheduler={"tieBreak": "nodePriority", "profiles": [{"preset": "random"}]})
    first = set()
    for seed in range(8):
        result = Simulation(validate_scenario(doc, base_dir=tmp_path), seed=seed).run()
        assert result.pods["node"].nunique() == 1
        again = Simulation(validate_scenario(doc, base_dir=tmp_path), seed=seed).run()
        assert again.pods["node"].iloc[0] == result.pods["node"].iloc[0]
        first.add(result.pods["node"].iloc[0])
    assert len(first) > 1
    # Random tie-break (upstream) spreads the same pods over several nodes.
    doc["scheduler"]["tieBreak"] = "random"
    assert Simulation(validate_scenario(doc, base_dir=tmp_path), seed=0).run().pods["node"].nunique() > 1


# ---------------------------------------------------------------------------- bad input


def problems(exc: pytest.ExceptionInfo) -> str:
    return str(exc.value)


def test_missing_trace_file_names_the_field(tmp_path):
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES)
    doc["workloads"][0]["trace"]["files"] = ["nope.csv"]
    with pytest.raises(ScenarioError) as e:
        validate_scenario(doc, base_dir=tmp_path)
    assert "workloads[0].trace.files" in problems(e) and "nope.csv" in problems(e)


@pytest.mark.parametrize(("trace", "where", "what"), [
    ({"args": {"censor": True}}, "workloads[0].trace.args", "censor"),
    ({"format": "alibaba2018"}, "workloads[0].trace.args", "machine_memory_bytes"),
    ({"format": "google2019", "args": {"machine_cpu_milli": 1000, "machine_memory_bytes": "lots"}},
     "workloads[0].trace.args", "quantity"),
    ({"start_s": 500, "end_s": 100}, "workloads[0].trace", "must be after"),
    ({"target_gpu_share": 2}, "workloads[0].trace", "inflation only"),
    ({"mode": "replay"}, "workloads[0].trace.mode", "timed"),
    ({"format": "swf", "files": ["sample"]}, "workloads[0].trace.files", "no packaged sample"),
])
def test_bad_trace_options(tmp_path, trace, where, what):
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES)
    doc["workloads"][0]["trace"].update(trace)
    with pytest.raises(ScenarioError) as e:
        validate_scenario(doc, base_dir=tmp_path)
    assert where in problems(e) and what in problems(e)


def test_trace_workload_takes_requests_from_the_trace(tmp_path):
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES)
    doc["workloads"][0]["template"] = {"requests": {"cpu": "1"}}
    with pytest.raises(ScenarioError, match="template.requests"):
        validate_scenario(doc, base_dir=tmp_path)
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES)
    doc["workloads"][0]["arrival"] = {"kind": "burst", "count": 1}
    with pytest.raises(ScenarioError, match="exactly one of arrival"):
        validate_scenario(doc, base_dir=tmp_path)


def test_unusable_trace_file_names_file_line_and_column(tmp_path):
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES)
    doc["workloads"][0]["trace"]["files"] = [str(FIXTURES / "openb_pod_list_missing_column.csv")]
    with pytest.raises(ScenarioError) as e:
        build(tmp_path, doc)
    assert "workloads[0].trace.files" in problems(e) and "openb_pod_list_missing_column.csv" in problems(e)
    # A window with no pods: the file and the window are named.
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES, trace={"end_s": 50})
    with pytest.raises(ScenarioError) as e:
        build(tmp_path, doc)
    assert "pods.csv" in problems(e) and "no pods in the time window" in problems(e)
    # A node list that is not one.
    write(tmp_path, "bad_nodes.csv", "host,cores\nx,4\n")
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES)
    doc["cluster"]["trace_nodes"][0]["file"] = "bad_nodes.csv"
    with pytest.raises(ScenarioError) as e:
        build(tmp_path, doc)
    assert "cluster.trace_nodes[0].file" in problems(e) and "bad_nodes.csv" in problems(e)


def test_bad_rows_are_counted_and_reported_with_lines(tmp_path):
    # openb_pod_list_broken.csv (hand-written, see tests/workloads/traces): line 4 has
    # cpu "4x00" (bad_number), line 5 an empty cpu, ... 6 of 10 rows are dropped.
    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES)
    doc["workloads"][0]["trace"]["files"] = [str(FIXTURES / "openb_pod_list_broken.csv")]
    sim = build(tmp_path, doc)
    [warning] = [w for w in sim.warnings if "rows dropped" in w]
    assert warning.startswith("workloads[0].trace: ")
    assert "6 of 10 rows dropped" in warning
    assert "bad_number: 1 (first at line 4 (cpu_milli))" in warning
    assert len(sim.replays["trace"].pods) == 4
    # The warning stays with the results (summary.json's provenance).
    assert warning in sim.run().provenance["warnings"]


def test_cli_reports_trace_errors_without_traceback(tmp_path):
    import yaml
    from typer.testing import CliRunner

    from k8sim.cli import app

    doc = scenario(tmp_path, TIMED_PODS, TIMED_NODES, trace={"end_s": 50})
    path = write(tmp_path, "s.yaml", yaml.safe_dump(doc))
    out = CliRunner().invoke(app, ["validate", str(path)])
    assert out.exit_code == 2
    text = out.output + (out.stderr if out.stderr_bytes is not None else "")
    assert "no pods in the time window" in text and "Traceback" not in text


# ---------------------------------------------------------------------- real openb trace


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"public trace not available: {name}")
    return path


def openb(mode: str, nodes_file: str = "openb_node_list_all_node.csv", **trace) -> dict:
    return {
        "name": "openb",
        "sample_interval_s": 3600,
        "cluster": {"trace_nodes": [{"format": "openb", "file": str(shared(nodes_file))}]},
        "workloads": [{"name": "openb", "trace": {"format": "openb", "mode": mode,
                                                  "files": [str(shared("openb_pod_list_default.csv"))], **trace}}],
        "scheduler": {"profiles": [{"preset": "gpu-best-fit"}]},
    }


@pytest.mark.slow
def test_real_openb_timed_replay():
    sim = Simulation(validate_scenario(openb("timed")))
    result = sim.run()
    check_invariants(sim.state)
    # 8152 pods in openb_pod_list_default.csv (wc -l minus the header), on its 1,523 nodes
    # holding 6,212 GPUs (sum of the gpu column).
    assert len(result.pods) == 8152 and sim.state.nodes.n == 1523
    assert int(sim.state.nodes.gpu_count.sum()) == 6212
    # Pods arrive at their creation_time: the first at 0, the last at 12,901,761 s
    # (the creation_time of the file's last row).
    assert result.pods["created"].min() == 0 and result.pods["created"].max() == 12_901_761


@pytest.mark.slow
def test_real_openb_inflation_reaches_the_target_and_is_reproducible():
    doc = openb("inflation", "openb_node_list_gpu_node.csv")
    doc["cluster"]["trace_nodes"][0]["gpu_only"] = True
    a = Simulation(validate_scenario(doc), seed=4).run()
    # 1,213 GPU nodes with 6,212 GPUs: capacity 6,212,000 milli; the submitted request
    # stops at the first pod reaching 130% of it.
    gpu = a.gpu
    assert gpu is not None
    arrived = gpu.loc[gpu["event"] == "arrived", "arrived_gpu_milli"].to_numpy()
    assert arrived[-1] >= 1.3 * 6_212_000 > arrived[-2]
    assert (a.pods["attempts"] == 1).all()
    b = Simulation(validate_scenario(doc), seed=4).run()
    pd.testing.assert_frame_equal(a.pods, b.pods)
    pd.testing.assert_frame_equal(a.gpu, b.gpu)
    c = Simulation(validate_scenario(doc), seed=5).run()
    assert list(c.pods["pod"][:100]) != list(a.pods["pod"][:100])


def test_scenario_openb_fgd_ships_runnable():
    path = HERE.parents[2] / "scenarios" / "openb-fgd.yaml"
    sc = load_scenario(path)
    sim = Simulation(sc)
    result = sim.run()
    s = result.summary().iloc[0]
    assert s["gpu_arrived_share_end"] >= 1.3
    assert 0 < s["gpu_allocated_share_end"] <= 1


# ------------------------------------------------------------------ every format in a run


FORMAT_CASES = {
    # format: (files, args, node list or None); fixtures are the hand-written ones of
    # tests/workloads/traces (their schemas are documented there).
    "dlrm": (["dlrm_small.csv"], {}, None),
    "alibaba2018": (["alibaba_2018_batch_task.csv"],
                    {"machine_memory_bytes": "64Gi", "batch_instance": "alibaba_2018_batch_instance.csv"},
                    ("alibaba2018", "alibaba_2018_machine_meta.csv", {"machine_memory_bytes": "64Gi"})),
    "google2019": (["google_2019_instance_events.csv"],
                   {"machine_cpu_milli": 32000, "machine_memory_bytes": "128Gi",
                    "collection_events": ["google_2019_collection_events.csv"]},
                   ("google2019", "google_2019_machine_events.csv",
                    {"machine_cpu_milli": 32000, "machine_memory_bytes": "128Gi"})),
    "google2011": (["google_2011_task_events_part0.csv", "google_2011_task_events_part1.csv"],
                   {"machine_cpu_milli": 32000, "machine_memory_bytes": "128Gi"},
                   ("google2011", "google_2011_machine_events.csv",
                    {"machine_cpu_milli": 32000, "machine_memory_bytes": "128Gi"})),
    "azure-vm": (["azure_vmtable.csv"], {"trace_end_s": 2_592_000}, None),
    "swf": (["sample.swf"], {}, None),
}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(FORMAT_CASES))
def test_every_pod_format_replays_in_a_scenario(fmt):
    from k8sim.workloads.traces.formats import POD_FORMATS, check_args

    files, args, nodes = FORMAT_CASES[fmt]
    doc = {
        "name": fmt,
        "duration_s": 10_000_000,
        "cluster": {"node_pools": [{"name": "big", "count": 4, "allocatable": {"cpu": "256", "memory": "2Ti"},
                                    "gpus": {"count": 8, "model": "V100"}}]},
        "workloads": [{"name": "t", "trace": {"format": fmt, "files": files, "args": args}}],
    }
    if nodes is not None:
        doc["cluster"]["trace_nodes"] = [{"format": nodes[0], "file": nodes[1], "args": nodes[2]}]
    sim = Simulation(validate_scenario(doc, base_dir=FIXTURES))
    # The run submits exactly the pods the format's reader returns for these files.
    reader_args = check_args(fmt, args, FIXTURES)
    frame = POD_FORMATS[fmt].read([FIXTURES / f for f in files], validate_scenario(doc, base_dir=FIXTURES)
                                  .workloads[0].trace.options(), np.random.default_rng(0), reader_args)
    expected = sum(len(df) for df, _ in frame)
    result = sim.run()
    check_invariants(sim.state)
    assert len(result.pods) == expected > 0
    assert sim.state.nodes.n > 4 if nodes is not None else sim.state.nodes.n == 4


def test_simkube_trace_replays_in_a_scenario():
    path = SHARED.parent / "simkube-dsb-scaling" / "dsb-scaling.sktrace"
    if not path.exists():
        pytest.skip("public trace not available: dsb-scaling.sktrace")
    doc = {"name": "sk", "duration_s": 100_000,
           "cluster": {"node_pools": [{"name": "n", "count": 10, "allocatable": {"cpu": "64", "memory": "256Gi"}}]},
           "workloads": [{"name": "sk", "trace": {"format": "simkube", "files": [str(path)]}}]}
    result = Simulation(validate_scenario(doc)).run()
    # 54 pods in dsb-scaling.sktrace (see tests/workloads/traces/test_trace_simkube.py).
    assert len(result.pods) == 54


def test_priority_by_qos_lets_latency_sensitive_pods_preempt(tmp_path):
    # One node of 8 cores. Two BE pods (4 cores each) fill it at t=0 and 1; an LS pod
    # (4 cores) arrives at t=10. With priority_by_qos {LS: 1000, BE: 0} it preempts one
    # BE pod: removing both frees 8 cores, reprieve in MoreImportantPod order (equal
    # priority, earlier start first) keeps be0, so be1 is the victim; be1 keeps its cores
    # for the default 30 s grace period and ends Failed at 40, and ls is bound at 40.
    # Without the mapping every pod has the template's priority 0 and ls waits for a BE
    # pod to end (be0 at 0 + 1000). The tiny "end" pod holds the file's last deletion time,
    # so it (not be1) is the one censored at the trace end.
    pods = ("be0,4000,1024,0,0,,BE,Running,0,1000,0\n"
            "be1,4000,1024,0,0,,BE,Running,1,1001,1\n"
            "ls,4000,1024,0,0,,LS,Running,10,60,10\n"
            "end,1,1,0,0,,BE,Running,20,5000,20\n")
    nodes = "n0,8000,65536,0,\n"
    doc = scenario(tmp_path, pods, nodes, trace={"priority_by_qos": {"LS": 1000, "BE": 0, "XX": 5}})
    sim = build(tmp_path, doc)
    assert any("priority_by_qos: no pod of the trace has QoS ['XX']" in w for w in sim.warnings)
    result = sim.run().pods.set_index("pod")
    assert result.loc["ls", "priority"] == 1000 and result.loc["be0", "priority"] == 0
    assert result.loc["be1", "phase"] == "Failed" and result.loc["be1", "finished"] == 40
    assert result.loc["ls", "scheduled"] == 40
    plain = build(tmp_path, scenario(tmp_path, pods, nodes)).run().pods.set_index("pod")
    assert plain.loc["ls", "scheduled"] == 1000 and (plain["phase"] != "Failed").all()


def test_explain_names_trace_arrivals_and_dropped_pods(tmp_path):
    from k8sim.scheduling.explain import ExplainError
    from k8sim.sim.explain import find_pending_pod

    doc = scenario(tmp_path, INFLATION_PODS, "n,64000,262144,1,G1\n", trace={"mode": "inflation"})
    sim = Simulation(validate_scenario(doc, base_dir=tmp_path), seed=1)
    order = sim.replays["trace"].pods["name"].tolist()
    # Before anything ran: the first pod arrives at 0 s, the second at 1 s (interval 1 s).
    with pytest.raises(ExplainError, match=rf"{order[1]!r} of trace workload 'trace' has not been created by "
                                           r"t=0 s \(it arrives at t=1 s\)"):
        find_pending_pod(sim, order[1])
    sim.run()
    dropped = [n for n in order if sim.state.pods.reason[sim.state.pods.names.index(n)] != 0]
    # The dropped pod's message carries its FailedScheduling diagnosis (one node, GPU full).
    with pytest.raises(ExplainError, match=r"dropped as unschedulable at t=\d+ s .*0/1 nodes are available"):
        find_pending_pod(sim, dropped[0])
