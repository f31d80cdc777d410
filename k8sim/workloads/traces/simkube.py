"""SimKube trace files (``.sktrace``, format version 2) -> pods.

Upstream: ``acrlabs/simkube``, ``docs/trace-files.md`` (MIT). A trace is one msgpack
map, recorded by ``sk-tracer`` on a real cluster::

    {"version": 2,
     "config": {"trackedObjects": {<GVK>: {"podSpecTemplatePaths": [...],
                                            "trackLifecycle": bool}}},
     "events": [{"ts": <unix s>, "applied_objs": [<k8s object>...],
                 "deleted_objs": [<k8s object>...]}, ...],
     "index": {<GVK>: {<ns/name>: <hash>}},
     "pod_lifecycles": {(<owner GVK>, <owner ns/name>):
                        {<pod spec hash>: [{"Finished": [start, end]} | {"Running": start}
                                           | "Empty", ...]}}}

GVKs are written ``apps/v1.Deployment``; objects are full Kubernetes manifests of the
tracked kinds (Deployments, Jobs, CronJobs, ...). The pod-lifecycle keys are 2-tuples,
which JSON cannot hold: the JSON rendering ``msgpack2json`` / python-msgpack give (keys
as ``["<GVK>", "<ns/name>"]`` strings) is read too, from a ``.json`` file.

Mapping to the normalised schema
    Times are counted from the first event's ``ts``; the last event's ``ts`` is the end
    of the trace. For an owner with recorded pod lifecycles, each lifecycle entry is a
    pod: ``Finished [s, e]`` arrives at ``s`` and runs ``e - s``; ``Running s`` is still
    running (``clipped_end``). Other owners are replayed from their manifests: an
    object with ``spec.replicas`` (Deployment, StatefulSet, ReplicaSet; 1 if absent)
    keeps that many pods: more replicas create pods at that event, fewer end the newest
    ones (LIFO), a changed pod template replaces all pods at that event (a simplified
    rollout), deleting the object ends them all. A Job runs ``spec.parallelism`` (1)
    pods and a bare Pod one, until deleted. Pods alive at the end are ``clipped_end``.
    Other kinds without lifecycles (e.g. a CronJob traced without ``trackLifecycle``)
    are filtered (``no_pod_count``).

    Requests come from the pod template (``podSpecTemplatePaths`` of the tracked kind,
    else ``/spec/template``, or ``/spec/jobTemplate/spec/template`` for a CronJob),
    with Kubernetes' rules: a container's requests default to its limits; the pod's
    request is the larger of the containers' sum and the largest init container, plus
    ``spec.overhead``. ``cpu_milli`` / ``memory_bytes`` as Kubernetes rounds them;
    ``gpu_count`` from ``nvidia.com/gpu`` (whole GPUs); ``priority`` = ``spec.priority``
    (0 if unset; priority classes are not resolved); ``qos`` = the pod's Kubernetes QoS
    class (``Guaranteed`` / ``Burstable`` / ``BestEffort``); ``owner`` =
    ``<Kind>/<namespace>/<name>``; ``id`` = ``<namespace>/<name>-<k>``, numbered per
    owner in order of creation.

    Report places (``Where.line``) are 1-based event numbers (the lifecycle map has
    none). Dropped: ``bad_quantity`` (an unparseable resource quantity),
    ``unknown_owner`` (lifecycles of an object never applied in the events).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pandas as pd

from k8sim.config.quantity import resource_base_value
from k8sim.workloads.traces.build import build_pods, raw_frame
from k8sim.workloads.traces.reports import PathLike, TraceError, TraceReport, Where, file_label
from k8sim.workloads.traces.schema import TraceOptions

__all__ = ["load_simkube_trace", "pod_template_requests", "read_simkube"]

_TOP_KEYS = ("version", "config", "events", "index", "pod_lifecycles")
_REPLICATED = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"})
_DEFAULT_TEMPLATE_PATHS = {"CronJob": "/spec/jobTemplate/spec/template"}
_GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")


def load_simkube_trace(path: PathLike) -> dict[str, Any]:
    """Load a trace (msgpack, or its JSON rendering for ``.json``) with tuple lifecycle keys."""
    label = str(path)
    p = Path(path)
    if not p.exists():
        raise TraceError("no such file", file=label)
    data = p.read_bytes()
    try:
        if p.suffix.lower() == ".json":
            trace = json.loads(data)
            if isinstance(trace, dict) and isinstance(trace.get("pod_lifecycles"), dict):
                trace["pod_lifecycles"] = {
                    tuple(json.loads(k)) if isinstance(k, str) and k.startswith("[") else k: v
                    for k, v in trace["pod_lifecycles"].items()
                }
        else:
            trace = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise TraceError(f"not a SimKube trace: {exc}", file=label) from None
    if not isinstance(trace, dict):
        raise TraceError("not a SimKube trace: the top level is not a map", file=label)
    missing = [k for k in _TOP_KEYS if k not in trace]
    if missing:
        raise TraceError(
            f"missing key(s) {', '.join(missing)}; expected keys: {', '.join(_TOP_KEYS)}",
            file=label,
            column=missing[0],
        )
    if trace["version"] != 2:
        raise TraceError(
            f"trace format version {trace['version']!r}; only 2 is read", file=label, column="version"
        )
    return trace


def _pointer(obj: Any, pointer: str) -> Any:
    """Resolve a JSON pointer (``/spec/template``); None if absent."""
    cur = obj
    for part in pointer.strip("/").split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        elif (
            isinstance(cur, Sequence) and not isinstance(cur, str) and part.isdigit() and int(part) < len(cur)
        ):
            cur = cur[int(part)]
        else:
            return None
        if cur is None:
            return None
    return cur


def _resources(container: Mapping) -> tuple[dict, dict]:
    res = container.get("resources") or {}
    limits = dict(res.get("limits") or {})
    requests = dict(limits)
    requests.update(res.get("requests") or {})
    return requests, limits


def pod_template_requests(pod_spec: Mapping) -> dict[str, Any]:
    """Requests of a pod spec as Kubernetes computes them.

    Returns ``cpu_milli``, ``memory_bytes``, ``gpu_count``, ``priority`` and ``qos``.
    Raises ``ValueError`` for an unparseable quantity.
    """
    containers = list(pod_spec.get("containers") or [])
    inits = list(pod_spec.get("initContainers") or [])
    names = ("cpu", "memory", *_GPU_RESOURCES)

    def amount(requests: Mapping, name: str) -> int:
        value = requests.get(name)
        return 0 if value is None else resource_base_value(name, value)

    total = {n: 0 for n in names}
    for c in containers:
        req, _ = _resources(c)
        for n in names:
            total[n] += amount(req, n)
    for c in inits:
        req, _ = _resources(c)
        for n in names:
            total[n] = max(total[n], amount(req, n))
    overhead = pod_spec.get("overhead") or {}
    for n in names:
        total[n] += amount(overhead, n)

    every = containers + inits
    guaranteed = bool(every)
    best_effort = True
    for c in every:
        req, lim = _resources(c)
        if any(k in req or k in lim for k in ("cpu", "memory")):
            best_effort = False
        for k in ("cpu", "memory"):
            if k not in lim or amount(req, k) != amount(lim, k):
                guaranteed = False
    qos = "BestEffort" if best_effort else ("Guaranteed" if guaranteed else "Burstable")
    return {
        "cpu_milli": total["cpu"],
        "memory_bytes": total["memory"],
        "gpu_count": sum(total[g] for g in _GPU_RESOURCES),
        "priority": int(pod_spec.get("priority") or 0),
        "qos": qos,
    }


@dataclass
class _Owner:
    kind: str
    namespace: str
    name: str
    requests: dict[str, Any] | None = None
    template: Any = None
    live: list[tuple[int, float, int]] = field(default_factory=list)  # (pod number, arrival ts, seq)
    created: int = 0
    deleted: bool = False

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}"


def _gvk(obj: Mapping) -> str:
    return f"{obj.get('apiVersion', '')}.{obj.get('kind', '')}"


def _ns_name(obj: Mapping) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


def read_simkube(
    path: PathLike,
    options: TraceOptions | None = None,
    rng: np.random.Generator | None = None,
    replay: str = "pods",
) -> tuple[pd.DataFrame, TraceReport]:
    """Read a SimKube trace into the normalised pod schema (see the module doc).

    ``replay`` is the scenario's choice (``args.replay``); this reader is the ``pods``
    replay (with ``controllers`` the trace is applied to k8sim's controllers instead,
    :mod:`k8sim.controllers.simkube`, and this flattening is not used)."""
    label = str(path)
    trace = load_simkube_trace(path)
    report = TraceReport(source=label)
    events = trace["events"]
    if not isinstance(events, Sequence) or not events:
        raise TraceError("no events", file=label, column="events")
    try:
        stamps = [float(e["ts"]) for e in events]
    except (KeyError, TypeError, ValueError):
        raise TraceError("every event needs a numeric ts", file=label, column="ts") from None
    t0 = min(stamps)
    tracked = (trace.get("config") or {}).get("trackedObjects") or {}
    lifecycles: Mapping = trace.get("pod_lifecycles") or {}
    lifecycle_owners = {
        (str(k[0]), str(k[1])) for k in lifecycles if isinstance(k, tuple | list) and len(k) == 2
    }

    owners: dict[tuple[str, str], _Owner] = {}
    pods: list[dict[str, Any]] = []
    no_count: set[tuple[str, str]] = set()
    seq = 0  # creation order, to keep pods arriving together in the order they were made

    def emit(owner: _Owner, number: int, start: float, end: float | None, order: int) -> None:
        req = owner.requests or {}
        pods.append(
            {
                "seq": order,
                "id": f"{owner.namespace}/{owner.name}-{number}",
                "owner": owner.label,
                "arrival": start - t0,
                "end": np.nan if end is None else end - t0,
                "duration": np.nan if end is None else end - start,
                **req,
            }
        )

    def stop(owner: _Owner, count: int, ts: float) -> None:
        for _ in range(min(count, len(owner.live))):
            number, begin, order = owner.live.pop()
            emit(owner, number, begin, ts, order)

    def start(owner: _Owner, count: int, ts: float) -> None:
        nonlocal seq
        for _ in range(count):
            owner.live.append((owner.created, ts, seq))
            owner.created += 1
            seq += 1

    by_time = sorted(range(len(events)), key=lambda i: (stamps[i], i))
    for i in by_time:
        event = events[i]
        ts = stamps[i]
        where = Where(file_label(path), i + 1)
        for obj in event.get("applied_objs") or ():
            gvk = _gvk(obj)
            ns, name = _ns_name(obj)
            key = (gvk, f"{ns}/{name}")
            kind = str(obj.get("kind", ""))
            owner = owners.get(key)
            if owner is None or owner.deleted:
                owner = owners[key] = _Owner(kind, ns, name, created=owner.created if owner else 0)
            if kind == "Pod":
                template_spec = obj.get("spec") or {}
            else:
                paths = (tracked.get(gvk) or {}).get("podSpecTemplatePaths") or [
                    _DEFAULT_TEMPLATE_PATHS.get(kind, "/spec/template")
                ]
                template = next((t for t in (_pointer(obj, p) for p in paths) if t is not None), None)
                template_spec = (template or {}).get("spec") if isinstance(template, Mapping) else None
            changed = template_spec != owner.template
            if template_spec is not None:
                try:
                    owner.requests = pod_template_requests(template_spec)
                except ValueError as exc:
                    report.drop("bad_quantity", 1, [Where(where.file, where.line, key[1])])
                    report.notes.append(f"event {where.line}, {owner.label}: {exc}")
                    owner.requests = None
                owner.template = template_spec
            if key in lifecycle_owners:
                continue
            spec = obj.get("spec") or {}
            if kind in _REPLICATED or "replicas" in spec:
                desired = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
            elif kind == "Job":
                desired = int(spec.get("parallelism") or 1) if owner.created == 0 else len(owner.live)
            elif kind == "Pod":
                desired = 1
            else:
                if key not in no_count:
                    no_count.add(key)
                    report.filter("no_pod_count", 1)
                continue
            if owner.requests is None:
                continue
            if changed and owner.live:
                n = len(owner.live)
                stop(owner, n, ts)
            if desired > len(owner.live):
                start(owner, desired - len(owner.live), ts)
            elif desired < len(owner.live):
                stop(owner, len(owner.live) - desired, ts)
        for obj in event.get("deleted_objs") or ():
            ns, name = _ns_name(obj)
            owner = owners.get((_gvk(obj), f"{ns}/{name}"))
            if owner is not None:
                stop(owner, len(owner.live), ts)
                owner.deleted = True
    for owner in owners.values():
        while owner.live:
            number, begin, order = owner.live.pop()
            emit(owner, number, begin, None, order)

    for raw_key, by_hash in lifecycles.items():
        gvk, nsname = str(raw_key[0]), str(raw_key[1])
        owner = owners.get((gvk, nsname))
        entries = [e for runs in (by_hash or {}).values() for e in (runs or ())]
        if owner is None or owner.requests is None:
            report.drop("unknown_owner", len(entries), [Where(file_label(path), None, f"{gvk} {nsname}")])
            continue
        spans: list[tuple[float, float | None]] = []
        for entry in entries:
            if isinstance(entry, Mapping) and "Finished" in entry:
                s, e = entry["Finished"]
                spans.append((float(s), float(e)))
            elif isinstance(entry, Mapping) and "Running" in entry:
                spans.append((float(entry["Running"]), None))
        for s, e in sorted(spans, key=lambda se: se[0]):
            emit(owner, owner.created, s, e, seq)
            owner.created += 1
            seq += 1

    report.rows_read = len(events)
    pods.sort(key=lambda pod: int(pod["seq"]))
    frame = pd.DataFrame(pods)
    if frame.empty:
        frame = pd.DataFrame(
            columns=[
                "id",
                "owner",
                "arrival",
                "end",
                "duration",
                "cpu_milli",
                "memory_bytes",
                "gpu_count",
                "priority",
                "qos",
            ]
        )
    gpus = frame["gpu_count"].to_numpy(dtype=float)
    raw = raw_frame(
        len(frame),
        id=frame["id"].to_numpy(dtype=object),
        arrival=frame["arrival"].to_numpy(dtype=float),
        end=frame["end"].to_numpy(dtype=float),
        duration=frame["duration"].to_numpy(dtype=float),
        cpu_milli=frame["cpu_milli"].to_numpy(dtype=float),
        memory_bytes=frame["memory_bytes"].to_numpy(dtype=float),
        gpu_count=gpus,
        gpu_milli=np.where(gpus > 0, 1000.0, 0.0),
        priority=frame["priority"].to_numpy(dtype=float),
        qos=frame["qos"].to_numpy(dtype=object),
        owner=frame["owner"].to_numpy(dtype=object),
    )
    pods_df = build_pods(raw, file=label, options=options, rng=rng, report=report)
    return pods_df, report
