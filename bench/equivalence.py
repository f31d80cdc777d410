"""Result fingerprints of every shipped scenario and experiment run, for refactors.

A refactor or an optimisation must change no result. This script runs every scenario in
``scenarios/`` (with its own seed) and every run that the experiments in
``experiments/`` plan (every point x profile x seed), and hashes each table of each
result: pods, nodes, events, timeseries, summary, decisions / gpu / trace where
present, and every frame of the run's components (``result.frames``: queues, pod
groups, autoscalers, controllers...) as ``frame:<name>``. Wall-clock fields are left
out (they differ from run to run).

    python bench/equivalence.py --record before.json     # at the starting commit
    python bench/equivalence.py --check before.json      # after the change

``--check`` prints one line per run and table that differs and exits 1 if any does;
for a table that differs it also says which columns were added or removed and which
columns present in both differ (each column is fingerprinted too), so that a change
that only adds output columns is told apart from one that changes results. Summary
tables are compared key by key the same way.
Floating-point results can differ across machines and library versions, so record and
check on the same machine; this is a tool for a change, not a unit test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from k8sim import load_scenario  # noqa: E402
from k8sim.experiments.sweeps import load_experiment, plan  # noqa: E402
from k8sim.sim.simulation import Simulation  # noqa: E402

TABLES = ("pods", "nodes", "events", "timeseries", "decisions", "gpu", "trace")


def frame_hash(frame: pd.DataFrame) -> str:
    """sha256 over column names, dtypes and every cell (index excluded)."""
    h = hashlib.sha256()
    h.update(json.dumps([str(c) for c in frame.columns]).encode())
    h.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    if len(frame):
        h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return h.hexdigest()[:20]


def column_hashes(frame: pd.DataFrame) -> dict[str, str]:
    """One fingerprint per column (name, dtype and values)."""
    return {str(c): frame_hash(frame[[c]]) for c in frame.columns}


def fingerprint(scenario, seed: int) -> dict[str, object]:
    result = Simulation(scenario, seed=seed).run()
    out: dict[str, object] = {}
    frames = {name: getattr(result, name) for name in TABLES}
    frames["summary"] = result.summary()
    for name, frame in sorted((result.frames or {}).items()):
        if isinstance(frame, pd.DataFrame):
            frames[f"frame:{name}"] = frame
    for name, frame in frames.items():
        if frame is not None:
            out[name] = frame_hash(frame)
            out[f"{name}.columns"] = column_hashes(frame)
    return out


def describe(name: str, old: dict[str, str] | None, new: dict[str, str] | None) -> str:
    """Which columns of a differing table were added, removed or changed."""
    if old is None or new is None:
        return ""
    parts = []
    added = [c for c in new if c not in old]
    removed = [c for c in old if c not in new]
    changed = [c for c in new if c in old and old[c] != new[c]]
    if added:
        parts.append(f"added {added}")
    if removed:
        parts.append(f"removed {removed}")
    parts.append(f"changed {changed}" if changed else "no common column changed")
    return " (" + "; ".join(parts) + ")"


def runs() -> list[tuple[str, object, int]]:
    """(label, scenario, seed) of every shipped scenario and experiment run."""
    out = []
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        sc = load_scenario(path)
        out.append((f"scenario {path.name} seed {sc.seed}", sc, sc.seed))
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        for r in plan(load_experiment(path)):
            out.append((f"experiment {path.name} {r.run_id} ({r.profile}, seed {r.seed})", r.scenario, r.seed))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--record", type=Path, help="write the fingerprints to this JSON file")
    g.add_argument("--check", type=Path, help="compare with the fingerprints in this JSON file")
    args = ap.parse_args()
    t0 = time.perf_counter()
    got = {label: fingerprint(sc, seed) for label, sc, seed in runs()}
    wall = time.perf_counter() - t0
    if args.record:
        args.record.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(got)} runs x tables in {wall:.1f} s -> {args.record}")
        return 0
    want = json.loads(args.check.read_text())
    bad = 0
    for label in sorted(set(want) | set(got)):
        a, b = want.get(label), got.get(label)
        if a is None or b is None:
            print(f"{'missing now' if b is None else 'new'}: {label}")
            bad += 1
            continue
        for table in sorted(t for t in set(a) | set(b) if not t.endswith(".columns")):
            if a.get(table) != b.get(table):
                print(f"differs: {label}: {table}{describe(table, a.get(f'{table}.columns'), b.get(f'{table}.columns'))}")
                bad += 1
    tables = sum(1 for v in got.values() for t in v if not t.endswith(".columns"))
    print(f"{len(got)} runs, {tables} tables: {'identical' if not bad else f'{bad} differences'} ({wall:.1f} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
