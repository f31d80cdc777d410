"""Scenario builders for the runtime tests: tiny clusters, explicit catalogs, pods that
arrive at chosen times on chosen nodes, every latency 0 unless a test sets one."""

from __future__ import annotations

from typing import Any

from k8sim import Simulation, validate_scenario

#: Decimal megabyte: sizes below are exact multiples, so times come out exact.
MB = 10**6


def image(name: str, *layers: tuple[str, int]) -> dict[str, Any]:
    """An explicit catalog image from (digest, size in bytes) pairs."""
    return {"name": name, "layers": [{"digest": d, "size": s} for d, s in layers]}


#: kubelet settings that put pod-worker syncs on an exact 10 s grid (no jitter): every
#: back-off (10, 20, 40, ... 300 s) is a multiple of 10 s, so restarts and pull retries
#: then come exactly when their back-off expires, as derived in the tests that use it.
NO_JITTER = {"podWorkerJitterFactor": 0}


def pool(name: str = "p", count: int = 1, **extra: Any) -> dict[str, Any]:
    return {"name": name, "count": count, "allocatable": {"cpu": "64", "memory": "256Gi"}, **extra}


def workload(name: str, times: list[float], duration: float | None = 1000.0, **template: Any) -> dict[str, Any]:
    w: dict[str, Any] = {"name": name, "arrival": {"kind": "times", "times_s": times}, "template": template}
    if duration is not None:
        w["duration"] = {"kind": "constant", "value": duration}
    return w


def scenario(pools: list[dict], workloads: list[dict], catalog: list[dict] | None = None,
             builtin: bool = False, duration_s: float | None = None, images: dict | None = None,
             **top: Any) -> Any:
    data: dict[str, Any] = {"seed": 1, "cluster": {"node_pools": pools}, "workloads": workloads, **top}
    if catalog is not None or images is not None:
        data["images"] = {"builtin": builtin, "catalog": catalog or [], **(images or {})}
    if duration_s is not None:
        data["duration_s"] = duration_s
    return validate_scenario(data)


def run(sc: Any) -> tuple[Simulation, Any]:
    sim = Simulation(sc)
    return sim, sim.run()


def row(result: Any, pod: str) -> Any:
    pods = result.pods
    return pods[pods["pod"] == pod].iloc[0]
