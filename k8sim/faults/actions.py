"""Operator actions: the registry of action kinds and their handlers.

An action kind is a schema model (a subclass of
:class:`~k8sim.config.faults.ActionSpec` listed in ``ACTION_SPECS``, so that YAML
``actions:`` accept it) plus a handler registered here::

    @register_action("scale")
    def _scale(ctx: Context, spec: ScaleAction, cause: str) -> None:
        ctx.components["deployment"].scale(spec.deployment, spec.replicas)

A handler runs at the action's time with the run's :class:`~k8sim.component.Context`
(``ctx.api`` to act, ``ctx.components`` to reach a component by name), the validated
spec and a ``cause`` naming it (``actions[2]``, or ``at 600s`` from Python) for event
rows. :meth:`k8sim.sim.simulation.Simulation.at` schedules an action spec or any
``callable(ctx)`` at a virtual time, before or while the simulation runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from k8sim.config.faults import (
    ActionSpec,
    CordonAction,
    DeleteNodeAction,
    DrainAction,
    FailNodeAction,
    RolloutAction,
    ScaleAction,
    UncordonAction,
)
from k8sim.faults.drain import drain
from k8sim.faults.selection import select_nodes

if TYPE_CHECKING:
    from k8sim.component import Context

#: ``handler(ctx, spec, cause)``.
ActionHandler = Callable[["Context", Any, str], None]

_HANDLERS: dict[str, ActionHandler] = {}


def register_action(kind: str) -> Callable[[ActionHandler], ActionHandler]:
    """Register the handler of action kind ``kind`` (a decorator); a kind has one."""

    def deco(fn: ActionHandler) -> ActionHandler:
        if kind in _HANDLERS:
            raise ValueError(f"action kind {kind!r} already has a handler")
        _HANDLERS[kind] = fn
        return fn

    return deco


def handler_for(kind: str) -> ActionHandler:
    """The handler of ``kind``; a kind without one is a programming error."""
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise KeyError(f"action kind {kind!r} has no registered handler; known: {sorted(_HANDLERS)}") from None


def registered_kinds() -> tuple[str, ...]:
    return tuple(sorted(_HANDLERS))


def run_action(ctx: Context, spec: ActionSpec, cause: str) -> None:
    """Carry out ``spec`` now."""
    handler_for(spec.kind)(ctx, spec, cause)


@register_action("cordon")
def _cordon(ctx: Context, spec: CordonAction, cause: str) -> None:
    for node in select_nodes(ctx.state, spec.nodes).tolist():
        if not ctx.state.nodes.unschedulable[node]:
            ctx.api.update_node(node, unschedulable=True)


@register_action("uncordon")
def _uncordon(ctx: Context, spec: UncordonAction, cause: str) -> None:
    for node in select_nodes(ctx.state, spec.nodes).tolist():
        if ctx.state.nodes.unschedulable[node]:
            ctx.api.update_node(node, unschedulable=False)


@register_action("drain")
def _drain(ctx: Context, spec: DrainAction, cause: str) -> None:
    for node in select_nodes(ctx.state, spec.nodes).tolist():
        drain(ctx.api, node, timeout_s=spec.timeout_s, grace_s=spec.grace_period_s,
              ignore_daemonsets=spec.ignore_daemonsets, force=spec.force)


@register_action("delete_node")
def _delete_node(ctx: Context, spec: DeleteNodeAction, cause: str) -> None:
    for node in select_nodes(ctx.state, spec.nodes).tolist():
        ctx.api.remove_node(node)


@register_action("fail_node")
def _fail_node(ctx: Context, spec: FailNodeAction, cause: str) -> None:
    ctx.components["faults"].outage(select_nodes(ctx.state, spec.nodes).tolist(), spec.duration_s, cause,
                                    spec.mode == "partition", spec.mode == "not_ready")


#: The workload controllers by kind (component names, see :mod:`k8sim.controllers`).
_CONTROLLERS = {"Deployment": "deployment-controller", "StatefulSet": "statefulset-controller",
                "DaemonSet": "daemonset-controller"}


def workload_controller(ctx: Context, kind: str, name: str) -> Any:
    """The controller of ``kind`` that has an object ``name``; ValueError (naming what
    exists) when the run has no such controller or object."""
    ctl = ctx.components.get(_CONTROLLERS.get(kind, ""))
    if ctl is None:
        raise ValueError(f"the run has no {kind} controller (workloads: [{{manifest: ...}}] start the controllers)")
    try:
        ctl.find(name)
    except KeyError as e:
        raise ValueError(str(e.args[0])) from None
    return ctl


def check_workload_action(ctx: Context, spec: ActionSpec) -> str:
    """Why a scale / rollout action cannot run in this simulation ("" if it can)."""
    kind = getattr(spec, "workload_kind", None)
    if kind is None:
        return ""
    try:
        workload_controller(ctx, kind, spec.name)  # type: ignore[attr-defined]
    except ValueError as e:
        return str(e)
    return ""


def check_action_image(ctx: Context, spec: ActionSpec) -> str:
    """Why a rollout action's ``image`` cannot be pulled in this simulation ("" if it
    can): with an image catalog, the image must be in it."""
    image = getattr(spec, "image", None)
    kubelet = ctx.components.get("kubelet")
    model = getattr(kubelet, "runtime", None)
    if image is None or model is None or model.catalog is None or model.catalog.id_of(image) is not None:
        return ""
    return f"image {image!r} is not in the image catalog (images: section)"


@register_action("scale")
def _scale(ctx: Context, spec: ScaleAction, cause: str) -> None:
    workload_controller(ctx, spec.workload_kind, spec.name).scale(spec.name, spec.replicas)


@register_action("rollout")
def _rollout(ctx: Context, spec: RolloutAction, cause: str) -> None:
    ctl = workload_controller(ctx, spec.workload_kind, spec.name)
    if spec.undo:
        ctl.rollback(spec.name, spec.to_revision)
    else:
        assert spec.image is not None
        ctl.set_image(spec.name, spec.image, spec.container)
