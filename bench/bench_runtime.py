"""What modelling images costs: the foundation benchmark with and without image pulls.

The engine benchmark's cluster and load (``bench_engine.py``: 100,000 pods on 1,000
nodes, Poisson arrivals at 70% of CPU, exponential run times, lognormal start latency),
with the pods split into 50 workloads of one image each. Variants:

- ``engine``: bench_engine's scenario as is (one workload, no images), for reference;
- ``no images``: the 50 workloads, no ``images`` section (the plain kubelet);
- ``images``: a synthetic catalog of 50 images over 200 layers (a pool of 50 shared base
  layers, one per image, plus 3 layers of its own), caches cold at t = 0, default pull
  policy (Always, the images are untagged), serialized pulls, 100 MB/s per node,
  ImageLocality on (kube-default);
- ``images, IfNotPresent``: the same with ``imagePullPolicy: IfNotPresent``;
- ``images, small disk``: the same with a 3Gi image disk, so image GC keeps evicting.

Bar: ``images`` at most 30% below ``no images`` in pods/s. Throughput is pods per CPU
second of the process (best of ``--repeat`` interleaved runs), which other processes on
a shared machine disturb less than wall time; wall time is shown too. Run with
``make bench`` or ``python bench/bench_runtime.py [--pods N --nodes N --repeat R --only NAME ...]``.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time

from bench_engine import scenario as engine_scenario

from k8sim import Simulation, validate_scenario

N_IMAGES = 50


def variants(pods: int, nodes: int) -> dict[str, dict]:
    base = engine_scenario(pods, nodes)
    wl = base["workloads"][0]
    split = copy.deepcopy(base)
    split["workloads"] = []
    for i in range(N_IMAGES):
        w = copy.deepcopy(wl)
        w["name"] = f"w{i}"
        w["arrival"]["rate_per_s"] = wl["arrival"]["rate_per_s"] / N_IMAGES
        w["max_pods"] = pods // N_IMAGES + (1 if i < pods % N_IMAGES else 0)
        split["workloads"].append(w)
    images = copy.deepcopy(split)
    images["images"] = {
        "builtin": False,
        "synthetic": {
            "count": N_IMAGES,
            "base_layers": 50,
            "base_layers_per_image": 1,
            "layers_per_image": 3,
            "base_layer_size": {"kind": "uniform", "low": 30, "high": 120},  # MB
            "layer_size": {"kind": "lognormal", "mu": 2.5, "sigma": 1.0},  # MB, mean ~20
        },
    }
    for i, w in enumerate(images["workloads"]):
        w["template"]["image"] = f"synthetic-{i}"
    if_not_present = copy.deepcopy(images)
    for w in if_not_present["workloads"]:
        w["template"]["imagePullPolicy"] = "IfNotPresent"
    small = copy.deepcopy(images)
    small["cluster"]["node_pools"][0]["image_disk"] = "3Gi"
    small["cluster"]["node_pools"][0]["kubelet"] = {"imageMinimumGCAgeSeconds": 0}
    return {
        "engine": base,
        "no images": split,
        "images": images,
        "images, IfNotPresent": if_not_present,
        "images, small disk": small,
    }


def measure(data: dict) -> dict:
    sc = validate_scenario(data)
    t0, c0 = time.perf_counter(), time.process_time()
    sim = Simulation(sc)
    result = sim.run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    s = result.summary().iloc[0]
    puller = sim.kubelet.puller
    return {
        "wall": wall,
        "cpu": cpu,
        "events": result.provenance["events"],
        "pods": int(s["pods_submitted"]),
        "completed": int(s["pods_completed"]),
        "pulled": int(s.get("pods_pulled", 0)),
        "downloads": puller.downloads if puller is not None else 0,
        "gb": puller.bytes_downloaded / 1e9 if puller is not None else 0.0,
        "gc": int((result.events["kind"] == "ImageGC").sum()),
        "share": float(s.get("image_pull_share", float("nan"))),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pods", type=int, default=100_000)
    ap.add_argument("--nodes", type=int, default=1_000)
    ap.add_argument("--repeat", type=int, default=1, help="interleaved runs per variant; the best counts")
    ap.add_argument("--only", action="append", help="run only these variants (repeatable)")
    args = ap.parse_args(argv)
    chosen = {k: v for k, v in variants(args.pods, args.nodes).items() if not args.only or k in args.only}
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for name, data in chosen.items():
            m = measure(data)
            if name not in best or m["cpu"] < best[name]["cpu"]:
                best[name] = m
    ref = best.get("no images")
    print(f"{args.pods:,} pods on {args.nodes:,} nodes, best of {args.repeat}")
    print(f"{'variant':<22} {'cpu s':>7} {'wall s':>7} {'pods/s':>8} {'vs no images':>12} {'events':>9} "
          f"{'pods pulled':>11} {'layer downloads':>15} {'GB':>7} {'image GC':>8} {'pull share':>10}")
    for name, m in best.items():
        rel = f"{ref['cpu'] / m['cpu'] - 1:+.1%}" if ref else "-"
        print(f"{name:<22} {m['cpu']:>7.2f} {m['wall']:>7.2f} {m['pods'] / m['cpu']:>8,.0f} {rel:>12} "
              f"{m['events']:>9,} {m['pulled']:>11,} {m['downloads']:>15,} {m['gb']:>7.1f} {m['gc']:>8,} "
              f"{m['share']:>10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
