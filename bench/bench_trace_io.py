"""Trace reading at full size: rows per second and peak memory of the readers.

Generates (once, into ``--dir``) an openb-format pod list of ``--rows`` rows (default
5 million, :func:`~k8sim.workloads.traces.alibaba_gpu_2023.generate_openb_sample`) and a
Google-2019-format instance-event log of ``--events`` events (default 5 million,
:func:`~k8sim.workloads.traces.google_2019.generate_google_2019_instance_events`), then
reads each in a fresh process, whole and through a time window of a tenth of the trace,
and prints rows (events) per second of wall time and of CPU time (user + system, all
threads: less sensitive to other load on the machine), and the peak memory the read
added to the process (peak resident set size minus the resident size before the read).

Issue goals on a 2-core machine: >= 2 million rows/s for openb, >= 1 million events/s for
the Google event log, and memory bounded by the batch size plus the output table when a
window is set.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
GIB = 1 << 30
SHAPE = {"machine_cpu_milli": 100_000, "machine_memory_bytes": 100 * GIB}


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def generate(directory: Path, rows: int, events: int) -> tuple[Path, Path]:
    """The two input files (kept and reused when already there with the same size)."""
    from k8sim.workloads.traces.alibaba_gpu_2023 import generate_openb_sample
    from k8sim.workloads.traces.google_2019 import generate_google_2019_instance_events

    directory.mkdir(parents=True, exist_ok=True)
    openb = directory / f"openb_pod_list_{rows}.csv"
    google = directory / f"google_2019_instance_events_{events}.csv"
    if rows and not openb.exists():
        pods, _ = generate_openb_sample(np.random.default_rng(1), rows, 1)
        pods.to_csv(openb, index=False, lineterminator="\n")
    if events and not google.exists():
        # About 2.75 events per instance on average; generate a little more, keep the first.
        frame = generate_google_2019_instance_events(np.random.default_rng(2), int(events / 2.5) + 10)
        frame.head(events).to_csv(google, index=False, lineterminator="\n")
    return openb, google


def child(kind: str, path: str, start: float | None, end: float | None) -> None:
    """Runs in its own process: one read, then a JSON line with the figures."""
    from k8sim.workloads.traces.alibaba_gpu_2023 import read_openb_pods
    from k8sim.workloads.traces.google_2019 import read_google_2019
    from k8sim.workloads.traces.schema import TraceOptions

    options = TraceOptions(start_s=start, end_s=end) if start is not None else None
    before = _rss_kib()
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    if kind == "openb":
        pods, report = read_openb_pods(path, options)
    else:
        pods, report = read_google_2019(path, options, **SHAPE)
    wall = time.perf_counter() - t0
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
    peak = u1.ru_maxrss  # KiB on Linux
    out = {"rows": report.rows_read, "pods": len(pods), "wall": wall, "cpu": cpu, "peak_mib": (peak - before) / 1024,
           "output_mib": pods.memory_usage(deep=True).sum() / 2**20}
    print(json.dumps(out))


def measure(kind: str, path: Path, window: tuple[float, float] | None) -> dict:
    args = [sys.executable, __file__, "--child", kind, str(path)]
    if window is not None:
        args += [str(window[0]), str(window[1])]
    res = subprocess.run(args, capture_output=True, text=True, check=False, cwd=ROOT)
    if res.returncode != 0:
        raise SystemExit(f"{kind} read failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--generate":
        generate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, path = sys.argv[2], sys.argv[3]
        start = float(sys.argv[4]) if len(sys.argv) > 4 else None
        end = float(sys.argv[5]) if len(sys.argv) > 5 else None
        child(kind, path, start, end)
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=5_000_000, help="openb pod-list rows")
    ap.add_argument("--events", type=int, default=5_000_000, help="Google 2019 instance events")
    ap.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "k8sim-bench-traces",
                    help="where the generated inputs are kept between runs")
    ap.add_argument("--only", choices=("openb", "google2019"), action="append",
                    help="read only this format (repeatable; default: both)")
    a = ap.parse_args()
    kinds = a.only or ["openb", "google2019"]
    rows = a.rows if "openb" in kinds else 0
    events = a.events if "google2019" in kinds else 0
    t0 = time.perf_counter()
    # Generated in a process of its own: Linux keeps a process's peak RSS across fork and
    # exec, so a parent grown by generating would show its peak in every reader's figure.
    subprocess.run([sys.executable, __file__, "--generate", str(a.dir), str(rows), str(events)],
                   check=True, cwd=ROOT)
    openb = a.dir / f"openb_pod_list_{a.rows}.csv"
    google = a.dir / f"google_2019_instance_events_{a.events}.csv"
    ready = [f"{f.name} ({f.stat().st_size / 2**20:.0f} MiB)" for f, n in ((openb, rows), (google, events)) if n]
    print(f"inputs ready in {time.perf_counter() - t0:.1f} s: {', '.join(ready)}")
    # openb arrivals: one per 90 s on average; Google: one instance per 0.05 s from 600 s.
    openb_span = a.rows * 90.0
    google_span = a.events / 2.75 * 0.05
    cases = [
        ("openb", openb, None),
        ("openb", openb, (0.45 * openb_span, 0.55 * openb_span)),
        ("google2019", google, None),
        ("google2019", google, (0.45 * google_span, 0.55 * google_span)),
    ]
    print(f"{'format':<11} {'window':<22} {'rows':>10} {'pods':>10} {'seconds':>8} {'rows/s':>12} "
          f"{'CPU s':>7} {'rows/CPU s':>11} {'peak MiB':>9} {'output MiB':>10}")
    for kind, path, window in cases:
        if kind not in kinds:
            continue
        r = measure(kind, path, window)
        w = "whole file" if window is None else f"[{window[0]:.3g}, {window[1]:.3g}) s"
        print(f"{kind:<11} {w:<22} {r['rows']:>10,} {r['pods']:>10,} {r['wall']:>8.2f} "
              f"{r['rows'] / r['wall']:>12,.0f} {r['cpu']:>7.1f} {r['rows'] / r['cpu']:>11,.0f} "
              f"{r['peak_mib']:>9.0f} {r['output_mib']:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
