"""Autoscaling: the pure rules of the HPA and the Cluster Autoscaler, and the load model.

Every module here is a set of pure, documented functions mirroring upstream code, with
no SimPy and no cluster tables, so that they can be tested against upstream's own unit
tests and hand derivations:

- :mod:`~k8sim.autoscaling.hpa_replicas`: the HPA replica calculator
  (``replica_calculator.go``);
- :mod:`~k8sim.autoscaling.hpa_behavior`: stabilization and ``behavior`` policies
  (``horizontal.go``, ``autoscaling/v2/defaults.go``);
- :mod:`~k8sim.autoscaling.hpa_sync`: one HPA sync (``reconcileAutoscaler``);
- :mod:`~k8sim.autoscaling.ca_rules`: Cluster Autoscaler defaults, node utilisation,
  scale-down eligibility and unneeded-time bookkeeping;
- :mod:`~k8sim.autoscaling.ca_drain`: which pods block a scale-down, where the others go;
- :mod:`~k8sim.autoscaling.expanders`: random, most-pods, least-waste, price, priority;
- :mod:`~k8sim.autoscaling.binpacking`: the binpacking node estimate;
- :mod:`~k8sim.autoscaling.scale_up`: one scale-up decision (the orchestrator);
- :mod:`~k8sim.autoscaling.load`: request-rate curves, the split over pods, CPU usage;
- :mod:`~k8sim.autoscaling.queueing`: M/M/c and M/G/1-PS latency;
- :mod:`~k8sim.autoscaling.service`: a Deployment's service per time step.

The components that run these in the event loop (an HPA per scaled object every sync
period, the Cluster Autoscaler every scan interval) are built on top of them; see
docs/autoscaling.md.
"""

from k8sim.autoscaling import (
    binpacking,
    ca_drain,
    ca_rules,
    expanders,
    hpa_behavior,
    hpa_replicas,
    hpa_sync,
    load,
    queueing,
    scale_up,
    service,
)

__all__ = ["binpacking", "ca_drain", "ca_rules", "expanders", "hpa_behavior", "hpa_replicas", "hpa_sync", "load", "queueing",
           "scale_up", "service"]
