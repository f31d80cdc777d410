"""The notebooks in notebooks/ run top to bottom and are stored without outputs.

Each is executed with nbclient on the ``python3`` kernel (ipykernel from the dev
extra; jupyter_client starts a kernel spec whose argv is ``python`` with this very
interpreter), reduced by ``K8SIM_NOTEBOOK_SMALL=1``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

try:
    import nbformat
    from nbclient import NotebookClient
except ImportError:  # pragma: no cover - the dev extra is not installed
    nbformat = None
    NotebookClient = None

pytestmark = pytest.mark.skipif(
    NotebookClient is None, reason="nbclient/nbformat not importable: pip install -e '.[dev]'"
)

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = [
    "01-quickstart.ipynb",
    "02-compare-policies.ipynb",
    "03-custom-plugin.ipynb",
    "04-trace-replay.ipynb",
]


def test_the_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs: clear them before committing"
            assert cell.execution_count is None, f"cell {i} has an execution count"
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_runs_top_to_bottom(path, monkeypatch):
    monkeypatch.setenv("K8SIM_NOTEBOOK_SMALL", "1")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiets a debugger warning in the kernel
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails
    assert time.perf_counter() - t0 < 60
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure was drawn"
