"""The kubelet side: container images and the pod lifecycle on a node.

- :mod:`~k8sim.runtime.catalog`: images as stacks of shared layers (built-in official
  images, explicit and synthetic catalogs);
- :mod:`~k8sim.runtime.store`: the per-node layer/image store and image GC (arrays shared
  with the scheduler's ImageLocality);
- :mod:`~k8sim.runtime.pulls`: pull queues, registry limits, bandwidth-sharing downloads;
- :mod:`~k8sim.runtime.imagegc`: periodic image GC and the record of every GC pass;
- :mod:`~k8sim.runtime.backoff`: kubelet's back-off (CrashLoopBackOff, ImagePullBackOff);
- :mod:`~k8sim.runtime.podworker`: when a pod worker syncs again after a failed sync;
- :mod:`~k8sim.runtime.spec`: the runtime model compiled from a scenario;
- :mod:`~k8sim.runtime.kubelet`: one process per bound pod.
"""
