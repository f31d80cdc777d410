"""RuntimeClass (``node.k8s.io/v1``): which container runtime handler runs a pod, what
the pod pays for it, and where it may run.

A pod names a class in ``runtimeClassName``; admission then (upstream
``plugin/pkg/admission/runtimeclass/admission.go``, in this order)

- sets ``spec.overhead`` to the class's ``overhead.podFixed`` (``setOverhead``); a pod
  that already gives a different overhead is rejected,
- merges ``scheduling.nodeSelector`` into the pod's ``nodeSelector`` (a key the pod gives
  with another value is a conflict and rejects the pod) and ``scheduling.tolerations``
  into its tolerations (``setScheduling``, ``tolerations.MergeTolerations``).

A pod naming a class that does not exist is rejected (``prepareObjects``: ``pod rejected:
RuntimeClass "x" not found``). k8sim reports all three rejections when the scenario is
validated, with the field path.

``sandbox_latency`` is k8sim's: the time the handler takes to create the pod sandbox
(``RunPodSandbox``), paid after binding before anything else. Absent, the handler's
default from :data:`k8sim.runtime.runtimeclass.DEFAULT_SANDBOX_LATENCY` applies
(published measurements, cited there).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

from pydantic import Field

from k8sim.config.distributions import Distribution
from k8sim.config.k8s_types import K8sModel
from k8sim.config.names import ContainerName, DnsSubdomain, Labels
from k8sim.config.pods import Toleration
from k8sim.config.resources import ResourceList

__all__ = ["RuntimeClass", "RuntimeClassOverhead", "RuntimeClassScheduling", "admission_rejections"]


class RuntimeClassOverhead(K8sModel):
    """``overhead``: resources a pod of this class uses besides its containers' requests."""

    # Added to the pod's requests for scheduling and node accounting (PodOverhead);
    # quantities are non-negative.
    pod_fixed: ResourceList = Field(default={}, alias="podFixed")


class RuntimeClassScheduling(K8sModel):
    """``scheduling``: the nodes that have this runtime."""

    node_selector: Labels = Field(default={}, alias="nodeSelector")  # merged into the pod's nodeSelector
    tolerations: list[Toleration] = []  # merged into the pod's tolerations


class RuntimeClass(K8sModel):
    """A RuntimeClass object (``metadata.name``, ``handler``, ``overhead``, ``scheduling``)."""

    name: DnsSubdomain  # metadata.name, named by pods' runtimeClassName
    # The CRI handler (a DNS-1123 label): runc, runsc (gVisor), kata-qemu, kata-fc, ...
    handler: ContainerName
    overhead: RuntimeClassOverhead | None = None  # absent: no pod overhead
    scheduling: RuntimeClassScheduling | None = None  # absent: every node has the runtime
    # k8sim: sandbox creation time of this handler; absent = the handler's default.
    sandbox_latency: Distribution | None = None


def admission_rejections(overhead: Mapping[str, Fraction], node_selector: Mapping[str, str],
                         class_name: str, classes: Mapping[str, RuntimeClass]) -> list[tuple[str, str]]:
    """Why the RuntimeClass admission plugin rejects a pod naming ``class_name`` with
    ``overhead`` and ``node_selector`` (upstream ``plugin/pkg/admission/runtimeclass/
    admission.go``: ``prepareObjects``, ``setOverhead`` / ``validateOverhead``,
    ``setScheduling``): (the pod spec field, message) pairs, empty if admitted."""
    rc = classes.get(class_name)
    if rc is None:
        return [("runtimeClassName", f"pod rejected: RuntimeClass {class_name!r} not found "
                                     f"(runtimeClasses: {sorted(classes)})")]
    fixed = rc.overhead.pod_fixed if rc.overhead is not None else None
    if overhead and fixed is None:
        return [("overhead", f"pod rejected: Pod Overhead set without corresponding RuntimeClass defined "
                             f"Overhead (RuntimeClass {rc.name!r} has none)")]
    if overhead and fixed is not None and dict(overhead) != dict(fixed):
        return [("overhead", f"pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead "
                             f"(RuntimeClass {rc.name!r}: overhead.podFixed)")]
    selector = rc.scheduling.node_selector if rc.scheduling is not None else {}
    out = []
    for key, value in selector.items():
        pod_value = node_selector.get(key)
        if pod_value is not None and pod_value != value:
            out.append((f"nodeSelector.{key}", f"conflict: runtimeClass.scheduling.nodeSelector[{key}] = {value}; "
                                               f"pod.spec.nodeSelector[{key}] = {pod_value}"))
    return out
