"""Base class shared by every scenario model, and where relative file names point.

Every model in the YAML schema forbids unknown keys (a misspelt key is an error, not a
silently ignored field) and is frozen (a validated scenario is a value, never mutated
at run time).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo


class Strict(BaseModel):
    """Pydantic base: ``extra="forbid"``, frozen, validated defaults, finite floats."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)


def base_dir(info: ValidationInfo) -> Path:
    """The directory relative file names are resolved against (the scenario file's)."""
    base = (info.context or {}).get("base_dir") if isinstance(info.context, dict) else None
    return Path(base) if base is not None else Path.cwd()
