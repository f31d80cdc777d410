"""Fixtures shared by the scheduling tests."""

from __future__ import annotations

import pytest

from k8sim.scheduling import kernels


@pytest.fixture(params=[True, False], ids=["kernels", "numpy"])
def kernels_both_ways(request, monkeypatch):
    """The test twice: with the compiled kernels (k8sim.scheduling.kernels) from a
    profile's first cycle on, and with the numpy path they replace."""
    if request.param and not kernels.available:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(kernels, "enabled", request.param)
    monkeypatch.setattr(kernels, "AFTER", 0)
