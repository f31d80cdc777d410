"""Simulation: assembles one run's components on one control plane and runs it.

``Simulation(scenario, seed=None)`` builds, from a validated
:class:`~k8sim.config.scenario.Scenario`, the SimPy environment, the tables and the
Cluster API with its watch bus (:mod:`k8sim.cluster.api`), the nodes
(:mod:`k8sim.sim.build.nodes`), the scheduler profiles (:mod:`k8sim.sim.build.profiles`)
and the container-runtime model, then the components, each built and started in this
order: the kubelet, the scheduler, the workload sources (initial pods are bound, trace
files read, arrival processes started), the node lifecycle and taint eviction
controllers, and the faults (failure processes, scheduled actions). :meth:`Simulation.run` advances virtual time to
``duration_s`` (or until no event is left) and returns a
:class:`~k8sim.metrics.result.RunResult` computed from the run's
:class:`~k8sim.metrics.record.RunRecord`.
"""

from __future__ import annotations

import math
import time as _time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from k8sim.autoscaling import assembly as autoscaling_assembly
from k8sim.batch.kueue import Kueue
from k8sim.batch.podgroups import PodGroups
from k8sim.batch.training import TrainingJobs
from k8sim.cluster.api import ClusterAPI
from k8sim.cluster.ops import ClusterState
from k8sim.component import Component, Context
from k8sim.config.faults import ActionSpec
from k8sim.config.loader import ScenarioError
from k8sim.config.scenario import PodTemplate, Scenario
from k8sim.constants import MAX_TIME_S, MAX_TIMESERIES_BINS
from k8sim.controllers import limitranger, quota
from k8sim.controllers import manager as controllers
from k8sim.controllers.nodelifecycle import NodeLifecycleController
from k8sim.controllers.podgc import PodGC
from k8sim.controllers.tainteviction import TaintEvictionController
from k8sim.faults.injector import Faults
from k8sim.metrics.record import RunRecord
from k8sim.metrics.result import RunResult
from k8sim.rng import Streams
from k8sim.runtime.kubelet import Kubelet
from k8sim.runtime.runtimeclass import RuntimeClasses
from k8sim.runtime.spec import build_runtime
from k8sim.runtime.timers import Environment, run_before, run_until
from k8sim.scheduling.handle import FrameworkHandle
from k8sim.scheduling.observation import ObservationLayout
from k8sim.scheduling.scheduler import PendingDecision, Scheduler
from k8sim.sim.build.nodes import build_nodes, resource_index
from k8sim.sim.build.profiles import build_profiles
from k8sim.sim.build.shapes import ShapeBook, spec_resources
from k8sim.sim.sources import WorkloadSources, min_resources_vector
from k8sim.storage.component import Storage
from k8sim.workloads.hpa_manifests import with_manifest_hpas
from k8sim.workloads.kueue_manifests import with_manifest_batch
from k8sim.workloads.runtimeclass_manifests import with_manifest_runtime_classes
from k8sim.workloads.storage_manifests import storage_objects

ProgressFn = Callable[[float], None]
C = TypeVar("C", bound=Component)
#: Builds a user component from the run's shared context (see ``docs/components.md``).
ComponentFactory = Callable[[Context], Any]


class Simulation:
    """One run of one scenario with one seed.

    Attributes for step-by-step work: ``env`` (SimPy), ``api`` (the Cluster API: ``api.bus``
    to watch, ``api.log`` the event log), ``state`` (the tables), ``components`` (in
    assembly order), and the components by name: ``kubelet``, ``scheduler``, ``workloads``,
    ``node_lifecycle``, ``taint_eviction``, ``faults``. :meth:`at` schedules an operator
    action (or any ``callable(ctx)``) at a virtual time; :meth:`advance` runs up to one.

    ``components``: factories of further components (``factory(ctx) -> component``),
    built and started after the built-in ones, in the order given.

    ``allow_overcommit``: initial pods may exceed their node's allocatable (a warning
    instead of an error), as in a real cluster's snapshot.
    """

    def __init__(self, scenario: Scenario, seed: int | None = None,
                 components: Sequence[ComponentFactory] = (), allow_overcommit: bool = False):
        self.seed = scenario.seed if seed is None else int(seed)
        self.streams = Streams(self.seed)
        self.env = Environment()  # SimPy's, with a second queue for pods' run ends
        # Manifest workloads are read first: their pods and nodes may name resources, and
        # their RuntimeClass objects join the scenario's (the scenario as run).
        app_inputs = controllers.read_inputs(scenario) if scenario.has_controllers() else {}
        if app_inputs:
            scenario = with_manifest_runtime_classes(scenario, app_inputs)
            scenario = with_manifest_hpas(scenario, app_inputs)
        batch_warnings: list[str] = []
        if app_inputs:
            scenario = with_manifest_batch(scenario, app_inputs, batch_warnings)
        #: The scenario as run (with the manifests' RuntimeClass objects in ``runtimeClasses``).
        self.scenario = scenario
        self.state = ClusterState(resource_index(scenario, controllers.input_resources(app_inputs)))
        self.resources = self.state.resources
        self.api = ClusterAPI(self.env, self.state)
        self.ctx = Context(self.env, self.api, self.streams, scenario, self.seed)
        #: What the build found questionable but runnable (kept in the provenance).
        self.warnings = self.ctx.warnings
        self.warnings.extend(batch_warnings)
        self.trace_node_counts = build_nodes(self.ctx)
        # Node groups / NodePools of the node autoscalers (None without them).
        self.node_autoscaling = autoscaling_assembly.add_initial_nodes(self.ctx)
        inflation = any(w.trace is not None and w.trace.mode == "inflation" for w in scenario.workloads)
        self.profiles, self.scheduler_settings = build_profiles(scenario, self.streams, self.warnings, inflation)
        # Image catalog, node image store and per-workload kubelet model (None: plain pods).
        object_knobs = any(getattr(o, "runtime", None) for inp in app_inputs.values() for m in inp.sets()
                           for o in m.objects)
        self.runtime = build_runtime(scenario, self.state, self.streams, objects=object_knobs,
                                     manifest_pods=controllers.pod_templates(scenario, app_inputs))
        self.shape_book = ShapeBook(self.state, scenario, self.runtime)
        self.state.allow_overcommit = allow_overcommit  # read when initial pods are bound
        self.components: list[Component] = []
        # RuntimeClass sandbox times (a component of its own; None without runtimeClasses).
        self.runtime_classes = (RuntimeClasses(self.ctx, controllers.runtime_class_names(app_inputs))
                                if scenario.runtime_classes else None)
        # Claims, volumes and their attachment (None without storage objects).
        storage = storage_objects(scenario, app_inputs)
        self.storage = Storage(self.ctx, storage) if storage is not None else None
        #: PodGroups (gangs) and the training-job model (None when the scenario has no
        #: PodGroup, gang workload or Coscheduling profile). The PodGroups component is
        #: the first to watch PodAdded, so a new pod's group is known to the scheduler.
        self.pod_groups: PodGroups | None = None
        self.training: TrainingJobs | None = None
        if (scenario.pod_groups or any(w.gang is not None for w in scenario.workloads)
                or any(w.jobs is not None and w.jobs.gang is not None for w in scenario.workloads)
                or any(p.permit_plugins for p in self.profiles.values())):
            self.pod_groups = self._add(PodGroups(self.api))
            self.pod_groups.workload_names = tuple(w.name for w in scenario.workloads)
            self._add_pod_groups()
        # ResourceQuota admission (before any pod is created; None without quotas).
        self.quota = quota.build(self.ctx, app_inputs)
        self.kubelet = self._add(Kubelet(self.api, self.runtime, self.runtime_classes, self.storage))
        if self.pod_groups is not None and (
                any(g.training is not None for g in scenario.pod_groups)
                or any(w.gang is not None and w.gang.training is not None for w in scenario.workloads)
                or any(w.jobs is not None and w.jobs.training is not None for w in scenario.workloads)):
            self.training = self._add(TrainingJobs(self.api, self.pod_groups, self.kubelet))
        self.scheduler = self._add(Scheduler(self.api, self.profiles, self.scheduler_settings,
                                             drop_unschedulable=inflation))
        #: Kueue-style queues (None without a ``kueue`` section): built before the
        #: workload sources, which submit queued workloads to it.
        self.kueue: Kueue | None = self._add(Kueue(self.ctx)) if scenario.kueue is not None else None
        self.workloads = self._add(WorkloadSources(
            self.ctx, self.shape_book, self.profiles,
            limitranger.workload_templates(scenario, app_inputs, self.warnings) if app_inputs else None))
        #: The workload controllers (ReplicaSet, Deployment, StatefulSet, DaemonSet) and
        #: the manifest source, when the scenario has manifest workloads; else None.
        self.controllers: controllers.Controllers | None = None
        if scenario.has_controllers():
            self.controllers, built = controllers.build(self.ctx, self._template_shape, app_inputs, self.quota)
            for c in built:
                self._add(c)
        self.node_lifecycle = self._add(NodeLifecycleController(self.api, scenario.node_lifecycle))
        self.taint_eviction = self._add(TaintEvictionController(self.api))
        self.pod_gc = self._add(PodGC(self.api, scenario.pod_gc, self.kubelet))
        self.faults = self._add(Faults(self.ctx))
        if self.quota is not None:
            self._add(self.quota)
        if self.runtime_classes is not None:
            self._add(self.runtime_classes)
        if self.storage is not None:
            self._add(self.storage)
        #: Load and usage models, the metrics pipeline and the HPAs (None without them).
        self.pod_autoscaling = None
        if scenario.autoscaling is not None and scenario.autoscaling.runs_pods():
            from k8sim.autoscaling.pod_autoscaling import PodAutoscaling

            self.pod_autoscaling = self._add(PodAutoscaling(self.ctx))
        if self.node_autoscaling is not None:
            for c in autoscaling_assembly.components(self.ctx, self.node_autoscaling, self.profiles):
                self._add(c)
        for factory in components:
            self._add(factory(self.ctx))
        # The target workload of the GPU fragmentation measure, and of FGD profiles given
        # no targetWorkload (through the framework handle): the trace workloads' pods.
        self.gpu_target: list[dict[str, Any]] | None = self.workloads.gpu_target
        handle = FrameworkHandle(gpu_target=self.gpu_target, pod_groups=self.pod_groups)
        for prof in self.profiles.values():
            prof.set_handle(handle)
        self.wall_s = 0.0
        self._until_now = False  # result(): tables up to now rather than duration_s
        #: The observation layout of profiles' policies (None when no profile has one).
        self.observation_layout: ObservationLayout | None = None
        with_policy = [(i, p) for i, p in enumerate(self.profiles.values()) if p.policy is not None]
        if with_policy:
            layout = self.observation_layout = self.make_observation_layout()
            self.scheduler.observer = layout.observe
            problems = []
            for i, prof in with_policy:
                if hasattr(prof.policy, "setup"):
                    try:
                        prof.policy.setup(layout, self.streams.generator("policy", i))
                    except ValueError as e:
                        problems.append((f"scheduler.profiles[{i}].policy.args", str(e)))
            if problems:
                raise ScenarioError(scenario.source, problems)

    def make_observation_layout(self, max_nodes: int | None = None,
                                label_features: Sequence[str] | None = None) -> ObservationLayout:
        """The observation layout of this run (:mod:`k8sim.scheduling.observation`); the
        arguments override ``scheduler.observation`` of the scenario."""
        spec = self.scenario.scheduler.observation
        return ObservationLayout(
            self.state, max_nodes=max_nodes if max_nodes is not None else spec.max_nodes,
            label_features=spec.label_features if label_features is None else label_features,
            workloads=[w.name for w in self.scenario.workloads], horizon_s=self.scenario.duration_s)

    def _add_pod_groups(self) -> None:
        """The scenario's ``podGroups``, created at time 0 in order."""
        assert self.pod_groups is not None
        for i, spec in enumerate(self.scenario.pod_groups):
            base = math.nan
            if spec.training is not None:
                base = float(spec.training.duration.sample(self.streams.generator("training-duration-group", i), 1)[0])
            self.pod_groups.add(spec.namespace, spec.name, spec.min_member, spec.schedule_timeout_s,
                                min_resources_vector(self.state, spec.min_resources, f"podGroups[{i}].minResources",
                                                     self.scenario.source),
                                training=spec.training, base_duration=base)

    def _template_shape(self, key: tuple, template: PodTemplate, workload: int) -> int:
        """Intern the shape of pods made from ``template`` (the controllers' pods)."""
        res = spec_resources(template, self.scenario.runtime_class(template))
        amounts = dict(res.requests)
        amounts["pods"] = 1
        return self.shape_book.shape_for(key, self.state.resources.vector(amounts), template, workload=workload,
                                         nonzero=res.nonzero, nonzero_bound=res.nonzero_bound)

    def _add(self, component: C) -> C:
        """Start a built component and keep it (components start in assembly order)."""
        self.ctx.components[component.name] = component
        component.start()
        self.components.append(component)
        return component

    # -- convenience views ---------------------------------------------------------------

    @property
    def recorder(self) -> Any:
        """The event log (:class:`~k8sim.cluster.log.EventLog`)."""
        return self.api.log

    @property
    def shapes(self) -> list[Any]:
        """The run's pod shapes (:class:`~k8sim.scheduling.podinfo.PodInfo`) by id."""
        return self.state.shapes

    @property
    def replays(self) -> dict[str, Any]:
        """The trace workloads' replays by workload name."""
        return self.workloads.replays

    def never_fit(self) -> dict[str, list[str]]:
        """Workloads whose pods exceed every node's allocatable: name -> resources."""
        return self.shape_book.never_fit()

    # -- running --------------------------------------------------------------------

    def at(self, t: float, action: ActionSpec | Callable[[Context], Any]) -> None:
        """Run ``action`` at virtual time ``t`` (not in the past): an operator action
        spec (``DrainAction(nodes={"names": ["n-3"]})``, any kind of
        :mod:`k8sim.config.faults`) or any ``callable(ctx)`` acting through ``ctx.api``.
        Works before :meth:`run` and between :meth:`advance` calls."""
        self.faults.at(t, action)

    def advance(self, until: float) -> None:
        """Run the simulation up to virtual time ``until`` (then inspect ``state``,
        schedule actions with :meth:`at`, and go on with :meth:`advance` or :meth:`run`)."""
        if until < self.env.now:
            raise ValueError(f"cannot advance to {until:g} s: the simulation is already at {self.env.now:g} s")
        self._profiles_decide()
        run_until(self.env, until)  # self.env.run(until=until)

    # -- the step API --------------------------------------------------------------------

    @property
    def horizon(self) -> float:
        """The virtual time the run stops at: ``duration_s``, or the time limit."""
        end = self.scenario.duration_s
        return MAX_TIME_S if end is None else float(end)

    @property
    def done(self) -> bool:
        """Nothing is left to simulate before the horizon (no decision is pending)."""
        return self.scheduler.pending_decision is None and self.env.peek() >= self.horizon

    def run_until(self, t: float) -> None:
        """Advance to virtual time ``t`` (at most the horizon), the profiles deciding
        every scheduling cycle; then read the tables, schedule actions with :meth:`at`,
        or go on with :meth:`next_decision`, :meth:`run_until` or :meth:`run`."""
        self._profiles_decide()
        t = min(t, self.horizon)
        if t == self.env.now:
            return
        t0 = _time.perf_counter()
        self.advance(t)
        self.wall_s += _time.perf_counter() - t0

    def _profiles_decide(self) -> None:
        """Leave external deciding (the profiles decide from now on); refused while a
        decision is pending, which nothing but :meth:`decide` would ever resolve."""
        if self.scheduler.pending_decision is not None:
            raise RuntimeError("a scheduling decision is pending: call decide(node) first")
        self.scheduler.external = False

    def next_decision(self, suggest: bool | None = None) -> PendingDecision | None:
        """Run until a scheduling cycle has found feasible nodes and waits for
        :meth:`decide`; return it (the same one until it is decided), or None when the
        run is over (the horizon is reached or no event is left). From the first call
        on, every such cycle waits for :meth:`decide` (until :meth:`run_until`).

        ``suggest=False`` (kept for later calls) skips the profile's scores: the mask comes
        from the Filter phase alone and ``suggested`` is the first feasible node. Faster
        when the caller decides anyway, but following it is no longer the profile's run."""
        sched = self.scheduler
        if suggest is not None:
            sched.suggest = bool(suggest)
        if sched.pending_decision is not None:
            return sched.pending_decision
        sched.external = True
        env = self.env
        peek, step = env.peek, env.step
        end = self.horizon
        t0 = _time.perf_counter()
        # Event by event, exactly the events run() processes (those before the horizon).
        while sched.pending_decision is None:
            if peek() >= end:
                if self.scenario.duration_s is not None and env.now < end:
                    run_until(env, end)  # env.run(until=end)
                break
            step()
        self.wall_s += _time.perf_counter() - t0
        return sched.pending_decision

    def decide(self, node: int) -> None:
        """Bind the pending decision's pod to ``node`` (a node row with ``mask[node]``);
        the cluster tables show the binding at once."""
        self.scheduler.decide(node)

    def result(self) -> RunResult:
        """The result so far: once the run is over (:attr:`done`), the same as
        :meth:`run` returns; before, the tables and summary cover time 0 to now."""
        self._until_now = not self.done
        try:
            return RunResult.from_record(self.record())
        finally:
            self._until_now = False

    def run(self, progress: ProgressFn | None = None, chunk_s: float | None = None) -> RunResult:
        """Advance to ``duration_s`` (or until no event is left) and collect results.

        ``progress(now)`` is called after each chunk of ``chunk_s`` virtual seconds.
        A run never goes past :data:`~k8sim.constants.MAX_TIME_S`: a run to drain stops
        there, with a warning, if events are still scheduled after it (a heavy-tailed
        draw far in the future), rather than simulate a time float64 cannot resolve.
        """
        self._profiles_decide()
        t0 = _time.perf_counter()
        end = self.scenario.duration_s
        env = self.env
        horizon = MAX_TIME_S if end is None else end
        if progress is None:
            if end is not None:
                run_until(env, end)  # env.run(until=end)
            else:
                run_before(env, horizon)  # while env.peek() < horizon: env.step()
        else:
            step = max(chunk_s or (end / 200 if end else 60.0), 0.0)
            while True:
                nxt = env.peek()
                if nxt >= horizon:
                    break
                # Step event by event (not run(until=...)): a finished run(until=T)
                # leaves its stop event queued at T, which would look like more work.
                # At least one event per chunk, so the loop always advances.
                chunk_end = min(nxt + step, horizon)
                env.step()
                run_before(env, chunk_end)  # while env.peek() < chunk_end: env.step()
                progress(env.now)
            if end is not None:
                run_until(env, end)  # env.run(until=end)
            progress(env.now)
        if end is None and env.peek() < math.inf:
            self.warnings.append(
                f"the run stopped at the time limit of {MAX_TIME_S:g} s (about {MAX_TIME_S / 3.15576e7:.1f} years) "
                f"with events still scheduled after it (the next at {env.peek():.4g} s): a drawn duration or "
                "latency beyond the limit (a heavy-tailed distribution?); pods still running then are "
                "reported as running"
            )
        self.wall_s = _time.perf_counter() - t0
        return RunResult.from_record(self.record())

    @property
    def end_time(self) -> float:
        """The virtual time the run covers up to."""
        if self._until_now:
            return float(self.env.now)
        if self.scenario.duration_s is not None:
            return float(self.scenario.duration_s)
        # Until drained: the last thing that happened (chunked progress runs may have
        # advanced the clock past it).
        log = self.api.log
        return float(log.time[-1]) if len(log) else 0.0

    def _sample_interval(self) -> float:
        """The scenario's sample interval, widened (with a warning, once) so that the
        timeseries has at most :data:`~k8sim.constants.MAX_TIMESERIES_BINS` bins."""
        interval = self.scenario.sample_interval_s
        end = self.end_time
        if end / interval <= MAX_TIMESERIES_BINS:
            return interval
        wide = end / MAX_TIMESERIES_BINS
        message = (f"sample_interval_s {interval:g} s over {end:,.6g} s would make {end / interval:,.3g} "
                   f"timeseries bins; using {wide:.6g} s ({MAX_TIMESERIES_BINS:,} bins)")
        if message not in self.warnings:
            self.warnings.append(message)
        return wide

    def record(self) -> RunRecord:
        """The frozen record of the run so far: tables, log, components' contributions."""
        from k8sim import __version__

        interval = self._sample_interval()  # first: its warning goes into the provenance
        contributions = [c.contribute() for c in self.components]
        provenance: dict[str, Any] = {
            "scenario": self.scenario.name,
            "seed": self.seed,
            "k8sim_version": __version__,
            "end_time_s": self.end_time,
            "wall_time_s": self.wall_s,
            "events": len(self.api.log),
        }
        frames: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        for c in contributions:
            provenance.update(c.provenance)
            frames.update(c.frames)
            summary.update(c.summary)
        # What the build reported (dropped trace rows with their lines, pods that fit no
        # node, unmodelled configuration), kept with the results.
        provenance["warnings"] = list(self.warnings)
        return RunRecord(
            state=self.state, log=self.api.log, workload_names=tuple(w.name for w in self.scenario.workloads),
            end_time=self.end_time, warmup_s=self.scenario.warmup_s,
            sample_interval_s=interval, provenance=provenance,
            never_fit=self.never_fit(), gpu_target=self.gpu_target, frames=frames, summary=summary,
        )


def run(scenario: Scenario, seed: int | None = None, progress: ProgressFn | None = None,
        components: Sequence[ComponentFactory] = ()) -> RunResult:
    """Build and run a simulation of ``scenario`` (with further ``components``);
    returns its :class:`RunResult`."""
    return Simulation(scenario, seed=seed, components=components).run(progress=progress)
