"""Builders for controller tests: a scenario around manifests written to a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from k8sim.config.loader import validate_scenario
from k8sim.sim.simulation import Simulation


def deployment(name: str = "web", replicas: int = 10, image: str = "app:1", cpu: str = "500m",
               min_ready: int = 0, grace: int = 0, strategy: dict | None = None, **spec: Any) -> dict:
    out = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {
            "replicas": replicas, "minReadySeconds": min_ready,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {
                "terminationGracePeriodSeconds": grace,
                "containers": [{"name": "c", "image": image, "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}}}],
            }},
            **spec,
        },
    }
    if strategy is not None:
        out["spec"]["strategy"] = strategy
    return out


def write(tmp: Path, name: str, *docs: dict) -> Path:
    p = tmp / name
    p.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return p


def scenario(tmp: Path, manifest: Path, *, nodes: int = 4, cpu: str = "16", start: float = 2.0, duration: float = 300,
             extra: dict | None = None, workload: dict | None = None, **more: Any):
    data = {
        "name": "ctl", "duration_s": duration,
        "cluster": {"node_pools": [{"name": "n", "count": nodes, "allocatable": {"cpu": cpu, "memory": "64Gi"}}]},
        "defaults": {"start_latency": {"kind": "constant", "value": start}},
        "workloads": [{"manifest": str(manifest), **(workload or {})}],
        **more,
    }
    if extra:
        data.update(extra)
    return validate_scenario(data, source="test.yaml", base_dir=tmp)


def sim(tmp: Path, manifest: Path, **kw: Any) -> Simulation:
    return Simulation(scenario(tmp, manifest, **kw))
