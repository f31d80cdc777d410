"""Failures and operator actions: node failure and repair processes, zone and rack
outages, spot interruptions (:mod:`k8sim.faults.injector`), scheduled and interactive
operator actions with their registry (:mod:`k8sim.faults.actions`), ``kubectl drain``
(:mod:`k8sim.faults.drain`) and node selections (:mod:`k8sim.faults.selection`).
See ``docs/failures.md``."""
