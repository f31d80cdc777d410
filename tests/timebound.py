"""A CPU-time bound for tests of inputs that used to hang."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class TimeBoundExceeded(Exception):
    pass


@contextlib.contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging) when the block uses more than ``seconds`` of CPU time.

    CPU time (``ITIMER_PROF``), not wall time: the hangs this guards against spin at
    100% CPU, and a loaded test machine must not turn a slow but finite run into a
    failure.
    """

    def alarm(signum: int, frame: object) -> None:
        raise TimeBoundExceeded(f"used more than {seconds} s of CPU time")

    previous = signal.signal(signal.SIGPROF, alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
