"""SimKube traces replayed through the controllers (filled in below)."""

from __future__ import annotations

from typing import Any


def simkube_sources(ctx: Any, controllers: Any) -> list[Any]:
    return []
