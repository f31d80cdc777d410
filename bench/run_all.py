"""Run every benchmark in bench/ and print its table (``make bench``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHES = ["bench_engine.py", "bench_scheduler.py", "bench_runtime.py", "bench_gpu_policies.py", "bench_replay.py",
           "bench_trace_io.py", "bench_failures.py", "bench_gym.py",
           "bench_controllers.py", "bench_autoscaling.py", "bench_node_autoscaling.py", "bench_distinct.py",
           "bench_scaling.py", "bench_queues.py", "bench_job_traces.py"]


def main() -> int:
    here = Path(__file__).parent
    rc = 0
    for name in BENCHES:
        print(f"== {name}")
        rc |= subprocess.call([sys.executable, str(here / name)])
        print()
    return rc


if __name__ == "__main__":
    sys.exit(main())
