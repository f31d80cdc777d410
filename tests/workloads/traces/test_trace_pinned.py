"""Every trace reader's output is what it was before the readers moved onto pyarrow.

The expected fingerprints (``tests/data/traces/pinned_outputs.json``) were written by
``tests/trace_pins.py`` with the earlier readers (Python's ``csv`` module and per-row
loops), before any reader changed; they are not derived from the code under test. A case
on a public trace under ``../shared/traces`` is skipped when that file is absent.
Each fingerprint covers the normalised frame (columns, dtypes, every cell) and the whole
report, including the file, line and column of every recorded bad row.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trace_pins import CASES, PINNED, Case, fingerprint

from k8sim.workloads.traces import tables

EXPECTED = json.loads(PINNED.read_text())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pins")


def test_every_case_is_pinned():
    assert sorted(EXPECTED) == sorted(c.name for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_reader_output_unchanged(case: Case, workdir: Path):
    got = fingerprint(case, workdir)
    if got is None:
        pytest.skip(f"public trace not available: {case.files}")
    assert got == EXPECTED[case.name]


@pytest.mark.slow
@pytest.mark.parametrize("block_size", [97, 65536])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_reader_output_unchanged_in_small_blocks(case: Case, workdir: Path, block_size: int,
                                                  monkeypatch: pytest.MonkeyPatch):
    # Files read in many blocks: blocks that switch between the pyarrow and csv paths,
    # quotes first seen mid-file, a header after blank blocks, rows cut at block ends.
    if block_size < 1000 and any(f.startswith(("shared:", "gz:shared:")) or "google:20000" in f
                                 for f in case.files):
        pytest.skip("tiny blocks only on the small files (the large ones would take minutes)")
    monkeypatch.setattr(tables, "DEFAULT_BLOCK_SIZE", block_size)
    got = fingerprint(case, workdir)
    if got is None:
        pytest.skip(f"public trace not available: {case.files}")
    assert got == EXPECTED[case.name]
