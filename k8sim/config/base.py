"""Base class shared by every scenario model.

Every model in the YAML schema forbids unknown keys (a misspelt key is an error, not a
silently ignored field) and is frozen (a validated scenario is a value, never mutated
at run time).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Pydantic base: ``extra="forbid"``, frozen, validated defaults, finite floats."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, allow_inf_nan=False)
