"""The notebooks in notebooks/ run top to bottom, and are stored with the outputs of a
full-size run so that they can be read without running them.

Each is executed with nbclient on the ``python3`` kernel (ipykernel from the dev
extra; jupyter_client starts a kernel spec whose argv is ``python`` with this very
interpreter), reduced by ``K8SIM_NOTEBOOK_SMALL=1``. ``python tests/test_notebooks.py``
(``make notebooks``) re-executes them at full size and stores them with their outputs,
without per-cell timing metadata.
"""

from __future__ import annotations

import re
import sys
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
    "05-learned-policy.ipynb",
]


def test_the_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == EXPECTED


#: Signs of a path of the machine a notebook was executed on, which a stored output must
#: not carry (besides the repository's own location, checked as well).
MACHINE_PATH = re.compile(r"(/home/|/Users/|/root/|/tmp/|site-packages)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_with_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    # executed top to bottom in one kernel session
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), "run `make notebooks`"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure stored"
    for i, cell in enumerate(code):
        assert "execution" not in cell.metadata, f"code cell {i} keeps timing metadata"
        for o in cell.outputs:
            text = o.get("text", "") + "".join(v for k, v in o.get("data", {}).items() if k.startswith("text/"))
            assert not MACHINE_PATH.search(text), f"code cell {i} shows a machine path: {MACHINE_PATH.search(text)}"
            assert str(NOTEBOOK_DIR.parent) not in text, f"code cell {i} shows where the repository is"
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


def store_executed(paths: list[Path]) -> None:
    """Execute each notebook at full size and store it with its outputs (no timing)."""
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        NotebookClient(nb, timeout=600, kernel_name="python3", record_timing=False,
                       resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
        for cell in nb.cells:
            cell.metadata.pop("execution", None)
        nbformat.write(nb, path)
        sys.stdout.write(f"stored {path.name}\n")


if __name__ == "__main__":  # python tests/test_notebooks.py [NOTEBOOK...]
    store_executed([Path(a).resolve() for a in sys.argv[1:]] or NOTEBOOKS)
