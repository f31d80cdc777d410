"""Workload controllers as components: ReplicaSet, Deployment, StatefulSet, DaemonSet.

Each follows its upstream controller in ``kubernetes/pkg/controller/`` (the module
docstrings name the files and functions), acts only through the Cluster API and reacts
to watch events after a reaction latency (:mod:`k8sim.controllers.queue`). The apps
objects live in :mod:`k8sim.controllers.store`; :mod:`k8sim.controllers.manager` builds
them for a scenario's manifest workloads and :mod:`k8sim.controllers.simkube` for SimKube
traces replayed through them. See ``docs/controllers.md``.
"""
