"""Base class shared by every scenario model, and where relative file names point.

Every model in the YAML schema forbids unknown keys (a misspelt key is an error, not a
silently ignored field) and is frozen (a validated scenario is a value, never mutated
at run time). A boolean is never taken for a number (``count: true`` is an error, where
pydantic's lax mode would read 1).
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError


def _numeric(annotation: Any) -> str:
    """What a field annotation needs a bool check for: "number" (int/float, not bool),
    "items" (a container whose items may be numbers) or "" (nothing)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _numeric(typing.get_args(annotation)[0])
    if annotation in (int, float):
        return "number"
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        if bool in args:
            return ""
        kinds = {_numeric(a) for a in args}
        return "number" if "number" in kinds else ("items" if "items" in kinds else "")
    if origin in (list, tuple, dict, set, frozenset):
        return "items" if any(_numeric(a) for a in typing.get_args(annotation) if a is not Ellipsis) else ""
    return ""


def _bool_inside(annotation: Any, value: Any) -> bool:
    """Whether ``value`` holds a bool where ``annotation`` expects a number."""
    kind = _numeric(annotation)
    if not kind:
        return False
    if isinstance(value, bool):
        return kind == "number" or typing.get_origin(annotation) not in (list, tuple, dict, set, frozenset)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _bool_inside(args[0], value)
    if origin in (typing.Union, types.UnionType):
        return any(_bool_inside(a, value) for a in args if typing.get_origin(a) in (list, tuple, dict))
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return any(_bool_inside(args[1], v) for v in value.values())
    if origin in (list, tuple, set, frozenset) and isinstance(value, (list, tuple)):
        item = args[0] if args else Any
        return any(_bool_inside(item, v) for v in value)
    return False


class Strict(BaseModel):
    """Pydantic base: ``extra="forbid"``, frozen, validated defaults, finite floats,
    no booleans for numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_number(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, annotation in _numeric_fields(cls).items():
                if key in data and _bool_inside(annotation, data[key]):
                    raise PydanticCustomError(BOOL_FOR_NUMBER, "{field}: expected a number, got a boolean",
                                              {"field": key})
        return data


#: Error type of a boolean given for a number (the loader moves ``field`` into the path).
BOOL_FOR_NUMBER = "bool_for_number"

#: A model validator's message that names the field at fault, below the model:
#: ``"@workloads[1].arrival@ message"`` (the loader moves the path into the location).
_LOCATED = "@"


def located(path: str, message: str) -> str:
    """A model validator's error message about the field ``path`` (relative to the
    model): the loader reports it at that path, as a field's own error."""
    return f"{_LOCATED}{path}{_LOCATED} {message}"


def split_located(message: str) -> tuple[str | None, str]:
    """``(path, message)`` of a :func:`located` message, ``(None, message)`` otherwise."""
    if message.startswith(_LOCATED):
        path, sep, rest = message[1:].partition(_LOCATED)
        if sep:
            return path, rest.lstrip()
    return None, message


def _numeric_fields(cls: type[BaseModel]) -> dict[str, Any]:
    """Input keys (name and alias) of the fields that take numbers -> annotation."""
    cached = cls.__dict__.get("_k8sim_numeric_fields")
    if cached is None:
        cached = {}
        for name, field in cls.model_fields.items():
            if field.annotation is not None and _numeric(field.annotation):
                cached[name] = field.annotation
                if field.alias:
                    cached[field.alias] = field.annotation
        type.__setattr__(cls, "_k8sim_numeric_fields", cached)
    return cached


def base_dir(info: ValidationInfo) -> Path:
    """The directory relative file names are resolved against (the scenario file's)."""
    base = (info.context or {}).get("base_dir") if isinstance(info.context, dict) else None
    return Path(base) if base is not None else Path.cwd()


def existing_path(v: str, info: ValidationInfo, what: str = "file") -> str:
    """``v`` resolved against the scenario's directory (:func:`base_dir`) when relative;
    ``ValueError`` naming both spellings when nothing is there."""
    p = Path(v)
    if not p.is_absolute():
        p = base_dir(info) / p
    if not p.exists():
        raise ValueError(f"{what} {v!r} not found (looked for {p})")
    return str(p)
