"""Pod and node autoscaling over a day: 50 web services with HPAs and the Cluster Autoscaler.

A day (86,400 s) of diurnal traffic for ``--services`` Deployments (500m CPU per pod,
50 req/s per pod at 100 % of the request), each with its own mean rate (100 to 600
req/s), peak hour and 10 % noise per minute, each autoscaled by an HPA at 60 % CPU
(15 s syncs, metrics-server resolution 15 s). The load model steps every ``--step``
seconds (no event per request). The nodes: a Cluster Autoscaler node group of
m5.large (3 such pods each; 40 at t = 0, at most ``--nodes``, 500), which follows the
HPAs up to about 300 nodes at the peaks and back down (scan 10 s, about 60 s to
register), or with ``--fixed`` a fixed cluster of ``--nodes`` nodes of 8 CPUs (the pod
side alone). Goal: under 30 s on a 2-core machine. Prints the build + run + result CPU
time (this process's) and the wall time, pods created, HPA rescales and nodes.

    python bench/bench_autoscaling.py [--services 50 --nodes 500 --step 5 --hours 24 --fixed]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import yaml

from k8sim import Simulation, validate_scenario


def deployment(i: int) -> str:
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"svc-{i}"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": f"svc-{i}"}},
                 "template": {"metadata": {"labels": {"app": f"svc-{i}"}},
                              "spec": {"containers": [{"name": "web", "resources": {
                                  "requests": {"cpu": "500m", "memory": "512Mi"},
                                  "limits": {"cpu": "1", "memory": "1Gi"}}}]}}}})


def scenario(services: int, nodes: int, step: float, hours: float, directory: Path, fixed: bool = False) -> dict:
    (directory / "apps.yaml").write_text("---\n".join(deployment(i) for i in range(services)))
    svcs, hpas = [], []
    for i in range(services):
        svcs.append({"target": {"kind": "Deployment", "name": f"svc-{i}"}, "capacity_rps": 50, "idle_cpu": "20m",
                     "rate": {"kind": "diurnal", "mean_rps": 100 + 500 * i / max(services - 1, 1), "amplitude": 0.6,
                              "peak_s": 3600 * (12 + (i % 6)), "noise_cv": 0.1},
                     "slo": {"latency_s": 0.15, "availability": 0.999}})
        hpas.append({"metadata": {"name": f"svc-{i}"}, "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": f"svc-{i}"}, "minReplicas": 2, "maxReplicas": 100,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                "type": "Utilization", "averageUtilization": 60}}}]}})
    autoscaling: dict = {"metrics": {"load_step_s": step}, "services": svcs, "horizontal_pod_autoscalers": hpas}
    if fixed:
        cluster: dict = {"node_pools": [{"name": "n", "count": nodes, "allocatable": {"cpu": "8", "memory": "32Gi"}}]}
    else:
        cluster = {}
        autoscaling["cluster_autoscaler"] = {
            "expander": ["least-waste"],
            "provisioning_latency": {"kind": "lognormal", "mu": 4.1, "sigma": 0.2},
            "node_groups": [{"name": "m5-large", "min_size": 1, "initial_size": min(40, nodes), "max_size": nodes,
                             "instance_type": "m5.large"}]}
    return {"name": "bench-autoscaling", "seed": 5, "duration_s": hours * 3600, "sample_interval_s": 300,
            "cluster": cluster,
            "workloads": [{"name": "apps", "manifest": "apps.yaml",
                           "template": {"start_latency": {"kind": "lognormal", "mu": 1.5, "sigma": 0.4},
                                        "readiness_delay": {"kind": "uniform", "low": 5, "high": 15}}}],
            "autoscaling": autoscaling}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=50)
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--step", type=float, default=5.0)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--fixed", action="store_true", help="a fixed cluster of --nodes nodes, no Cluster Autoscaler")
    ap.add_argument("--profile", metavar="FILE", help="write a cProfile of the run to FILE")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        data = scenario(args.services, args.nodes, args.step, args.hours, Path(d), args.fixed)
        c0, w0 = time.process_time(), time.perf_counter()
        sc = validate_scenario(data, "bench-autoscaling.yaml", base_dir=Path(d))
        sim = Simulation(sc)
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
            result = prof.runcall(sim.run)
            prof.dump_stats(args.profile)
        else:
            result = sim.run()
        s = result.summary().iloc[0]
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    where = (f"{args.nodes} fixed nodes" if args.fixed else
             f"Cluster Autoscaler (m5.large, at most {args.nodes} nodes)")
    print(f"{args.services} services with HPAs, {where}, {args.hours:g} h, load step {args.step:g} s")
    print(f"  CPU {cpu:.2f} s, wall {wall:.2f} s; pods created {len(result.pods):,}, HPA rescales "
          f"{int(s['hpa_rescales']):,}, availability {s['service_availability']:.5f}, "
          f"SLO violation share {s['slo_violation_share']:.4%}")
    if not args.fixed:
        peak = int(result.frames["node_groups"]["nodes"].max())
        print(f"  nodes: peak {peak}, {int(s['ca_nodes_added'])} added, {int(s['ca_nodes_removed'])} removed, "
              f"{int(s['ca_scale_ups'])} scale-ups, cost {s['node_cost']:.2f} USD, "
              f"pod scale-up to ready (mean) {s['scale_up_to_ready_s_mean']:.1f} s")
    print(f"  goal: < 30 s on 2 cores: {'met' if cpu < 30 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
