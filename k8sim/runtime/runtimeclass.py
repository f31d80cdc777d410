"""Sandboxed runtimes: how long a RuntimeClass's handler takes to create a pod sandbox.

Before any image is pulled or container started, the kubelet asks the CRI runtime for
the pod sandbox (``RunPodSandbox``). With runc that is a network namespace and a pause
process; gVisor (handler ``runsc``) also boots its user-space kernel (Sentry and Gofer);
Kata Containers boots a lightweight VM with its own guest kernel. k8sim adds that time
to a pod of a RuntimeClass, between binding and the rest of its start (the pod's
``start_latency``, or the runtime model's sandbox, pulls and containers).

Defaults by handler (:data:`DEFAULT_SANDBOX_LATENCY`), from published measurements; give
``sandbox_latency`` on the RuntimeClass to use your own:

- ``runc``: 0.02 s. The "five container runtimes" comparison (one 3 MB Go service run
  under runc, gVisor, Kata/QEMU, Kata/Firecracker and WASM; Dev.to 2026, summarised at
  https://stuzhuk.page/blog/the-container-runtime-nobody-told-you-about-and-fo-194aa216/)
  measured a cold start of about 20 ms with runc.
- ``runsc`` (gVisor): uniform on [0.081, 0.280] s: ``runsc create`` plus ``runsc start``
  took from 81 ms to 280 ms across eight hosts (Apoxy, "gVisor cold start: where the time
  goes", https://apoxy.dev/blog/gvisor-cold-start-where-the-time-goes); the spread is the
  host, so k8sim draws uniformly over it.
- ``kata``, ``kata-qemu``, ``kata-clh``: 0.5 s, and ``kata-fc``: 0.125 s (the same
  five-runtime comparison: about 500 ms for Kata with QEMU, 125 ms with Firecracker;
  k8sim uses the QEMU figure for Cloud Hypervisor too, for want of a measurement).

A handler not in the table has no default (0 s, with a warning when the scenario is
built). The draws are per pod, from a stream keyed by the class and the workload, at the
pod's index (common random numbers: two policies on one seed see the same sandbox times).
A pod whose containers are recreated after its node came back creates its sandbox again.

Per-runtime memory and CPU overhead is the RuntimeClass's ``overhead.podFixed`` (as
upstream, none unless given); kata-deploy ships ``kata-qemu`` with ``cpu: 250m``,
``memory: 160Mi`` (``tools/packaging/kata-deploy/runtimeclasses/kata-qemu.yaml`` in
kata-containers/kata-containers). See ``docs/runtimeclass.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from k8sim.component import Contribution
from k8sim.config.distributions import ConstantDistribution, Distribution, UniformDistribution
from k8sim.runtime.spec import IndexedSampler
from k8sim.scheduling.plugins.runtime_class import handler_mask

if TYPE_CHECKING:
    from k8sim.component import Context

__all__ = ["DEFAULT_SANDBOX_LATENCY", "RuntimeClasses", "default_sandbox_latency"]

#: Sandbox creation time by CRI handler (seconds; see the module docstring for sources).
DEFAULT_SANDBOX_LATENCY: dict[str, Distribution] = {
    "runc": ConstantDistribution(value=0.02),
    "runsc": UniformDistribution(low=0.081, high=0.280),
    "kata": ConstantDistribution(value=0.5),
    "kata-qemu": ConstantDistribution(value=0.5),
    "kata-clh": ConstantDistribution(value=0.5),
    "kata-fc": ConstantDistribution(value=0.125),
}


def default_sandbox_latency(handler: str) -> Distribution | None:
    """The published default for ``handler`` (None: no measurement known)."""
    return DEFAULT_SANDBOX_LATENCY.get(handler)


class RuntimeClasses:
    """The run's RuntimeClasses as the kubelet needs them: one sandbox-time sampler per
    (class, workload), and the record of every pod's first sandbox. A component: it
    contributes the frame ``sandboxes`` and summary columns. Built only when the scenario
    has ``runtimeClasses``."""

    name = "runtimeclasses"

    def __init__(self, ctx: Context, used: set[str] | None = None):
        self.ctx = ctx
        #: Classes the pods name (the template workloads' and ``used``: manifests').
        self.used = {w.template.runtime_class_name for w in ctx.scenario.workloads} | (used or set())
        self.classes = list(ctx.scenario.runtime_classes)
        self.dists: list[Distribution | None] = []
        for rc in self.classes:
            dist = rc.sandbox_latency if rc.sandbox_latency is not None else default_sandbox_latency(rc.handler)
            if dist is None:
                ctx.warnings.append(f"runtimeClasses: {rc.name!r}: handler {rc.handler!r} has no default sandbox "
                                    "latency (give sandbox_latency); its sandboxes take 0 s")
            self.dists.append(dist)
        self._warn_unplaceable()
        self._samplers: dict[tuple[int, int], IndexedSampler | None] = {}
        #: First sandbox of each pod of a class: pod row -> seconds.
        self.first: dict[int, float] = {}

    def _warn_unplaceable(self) -> None:
        """Warn once per class that workloads use but no node of the cluster at t = 0
        can run: none has its handler, or none matches its ``scheduling.nodeSelector``."""
        state = self.ctx.state
        nodes = state.nodes
        for rc in self.classes:
            if rc.name not in self.used:
                continue
            mask = handler_mask(state, rc.handler)
            selector = rc.scheduling.node_selector if rc.scheduling is not None else {}
            for key, value in selector.items():
                codes = nodes.labels.get(key)
                mask = mask & (codes == nodes.label_code(key, value)) if codes is not None else mask & False
            if not mask.any():
                why = (f"no node has its handler {rc.handler!r} (runtime_handlers)"
                       if not handler_mask(state, rc.handler).any()
                       else f"no node with its handler {rc.handler!r} matches its scheduling.nodeSelector {selector}")
                self.ctx.warnings.append(f"runtimeClasses: {rc.name!r}: {why}; its pods stay Pending "
                                         "unless such nodes join")

    def start(self) -> None:
        """Nothing runs on its own: the kubelet asks for each pod's sandbox time."""

    def sandbox_time(self, pod: int, rc: int) -> float:
        """Seconds to create pod ``pod``'s sandbox with class ``rc`` (recorded the first
        time)."""
        pods = self.ctx.state.pods
        w = int(pods.workload[pod])
        key = (rc, w)
        sampler = self._samplers.get(key, False)
        if sampler is False:
            dist = self.dists[rc]
            sampler = None if dist is None else IndexedSampler(
                dist, self.ctx.streams.generator("runtimeclass-sandbox", rc, w + 1))
            self._samplers[key] = sampler
        d = 0.0 if sampler is None else float(sampler.get(int(pods.index[pod])))  # type: ignore[union-attr]
        self.first.setdefault(pod, d)
        return d

    def contribute(self) -> Contribution:
        state = self.ctx.state
        pods = state.pods
        rows = np.array(sorted(self.first), dtype=np.int64)
        shapes = state.shapes
        cls = [shapes[int(pods.shape[p])].runtime_class for p in rows.tolist()]
        frame = pd.DataFrame({
            "pod": pd.Series([pods.names[p] for p in rows.tolist()], dtype="string"),
            "runtime_class": pd.Series([self.classes[c].name for c in cls], dtype="string"),
            "handler": pd.Series([self.classes[c].handler for c in cls], dtype="string"),
            "sandbox_s": np.array([self.first[p] for p in rows.tolist()], dtype=np.float64),
        })
        summary: dict[str, Any] = {}
        for rc in self.classes:
            sel = frame["runtime_class"] == rc.name
            summary[f"sandbox_s_mean_{rc.name}"] = float(frame.loc[sel, "sandbox_s"].mean()) if sel.any() else np.nan
        return Contribution(frames={"sandboxes": frame}, summary=summary)
