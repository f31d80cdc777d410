"""Where independent runs execute: in this process, in local worker processes, or on a
Dask cluster.

An executor maps a picklable top-level function over a list of picklable items and
yields :class:`Outcome` objects as runs finish (in completion order, each tagged with
its item's index). Task functions are expected to catch their own exceptions and return
them as data (so that a traceback formatted on the worker survives); an ``Outcome``
carries an ``error`` only when the infrastructure failed (a worker process died, a
Dask worker was lost).

Problems found before any run (an unknown executor, ``jobs < 1``, Dask not installed,
a scheduler address that does not answer) raise :class:`ExecutorError`, a
:class:`~k8sim.config.loader.ScenarioError`, so the CLI reports them like any other
bad input (exit code 2).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import traceback as _traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from k8sim.config.loader import ScenarioError

EXECUTORS = ("local", "dask")


class ExecutorError(ScenarioError):
    """An executor that cannot be used (bad options, Dask missing or unreachable)."""


@dataclass
class Outcome:
    """One finished item: ``value`` (the function's return value) or ``error``."""

    index: int
    value: Any = None
    error: str | None = None
    traceback: str = ""


class Executor:
    """Base class: a context manager with :meth:`map_unordered`."""

    name = "executor"
    workers = 1

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
        raise NotImplementedError

    def close(self) -> None:
        """Release workers (idempotent)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcess(Executor):
    """Runs items one after the other in this process (``jobs=1``)."""

    name = "in-process"

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
        for i, item in enumerate(items):
            yield Outcome(i, fn(item))


def _worker_init() -> None:
    """In each worker: SIGTERM terminates (the default), whatever handler the parent had
    installed when it forked; SIGINT is left to the parent, which stops the workers."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class LocalProcesses(Executor):
    """A :class:`concurrent.futures.ProcessPoolExecutor` with ``jobs`` workers.

    At most ``2 * jobs`` items are in flight at once, so a long sweep does not pickle
    every task up front and an interrupted one stops soon. Leaving the executor on an
    exception (KeyboardInterrupt from Ctrl-C or SIGTERM, see
    :func:`terminate_on_sigterm`) terminates the workers and reaps them rather than
    waiting for their runs to end.
    """

    name = "local"

    def __init__(self, jobs: int):
        self.workers = jobs
        self._pool: ProcessPoolExecutor | None = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init)

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
        assert self._pool is not None, "executor is closed"
        pool = self._pool
        pending: dict[Future, int] = {}
        queue = iter(enumerate(items))
        window = 2 * self.workers

        def fill() -> None:
            while len(pending) < window:
                nxt = next(queue, None)
                if nxt is None:
                    return
                pending[pool.submit(fn, nxt[1])] = nxt[0]

        try:
            fill()
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        yield Outcome(i, fut.result())
                    else:
                        tb = "".join(_traceback.format_exception(exc))
                        yield Outcome(i, error=f"{type(exc).__name__}: {exc}", traceback=tb)
                fill()
        finally:
            for fut in pending:
                fut.cancel()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def terminate(self) -> None:
        """Stop the workers now (SIGTERM, then SIGKILL after 5 s) and reap them."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        # ProcessPoolExecutor has no public way to stop running workers before Python
        # 3.14 (terminate_workers); its process table is the only handle on them.
        processes = list(getattr(pool, "_processes", {}).values())
        for p in processes:
            if p.is_alive():
                p.terminate()
        for p in processes:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
        pool.shutdown(wait=True, cancel_futures=True)

    def __exit__(self, *exc: object) -> None:
        if exc and exc[0] is not None:
            self.terminate()
        else:
            self.close()


class TerminatedError(KeyboardInterrupt):
    """Raised in the main thread when the process receives SIGTERM (see
    :func:`terminate_on_sigterm`): unwinds like Ctrl-C, so workers are stopped."""


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """While active, SIGTERM raises :class:`TerminatedError` in the main thread (as
    SIGINT raises KeyboardInterrupt), so executors stop and reap their workers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise TerminatedError()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class DaskExecutor(Executor):
    """Runs items on a Dask cluster: the scheduler at ``address``, or a
    ``LocalCluster(n_workers=jobs, threads_per_worker=1)`` started (and stopped) here."""

    name = "dask"

    def __init__(self, address: str | None, jobs: int, connect_timeout_s: float = 10.0):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError(
                "dask executor", [("", "dask.distributed is not installed: pip install 'k8sim[dask]'")]
            ) from None
        self._cluster = None
        self._client = None
        if address is None:
            import dask

            # forkserver (where there is one): workers fork from a server that has
            # already imported numpy, pandas and pyarrow, which starts and stops them
            # about a second faster than spawn on 2 cores, and never re-imports __main__.
            method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
            with dask.config.set({"distributed.worker.multiprocessing-method": method}):
                self._cluster = LocalCluster(
                    n_workers=jobs, threads_per_worker=1, processes=True, host="127.0.0.1",
                    dashboard_address=None, silence_logs=logging.ERROR,
                )
            self._client = Client(self._cluster, set_as_default=False)
            self.workers = jobs
            return
        try:
            self._client = Client(address, timeout=f"{connect_timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as e:
            raise ExecutorError(
                f"dask scheduler {address}", [("", f"cannot connect within {connect_timeout_s:g} s: {e}")]
            ) from None
        try:
            self._client.wait_for_workers(1, timeout=connect_timeout_s)
        except (OSError, TimeoutError) as e:
            self.close()
            raise ExecutorError(
                f"dask scheduler {address}",
                [("", f"the scheduler has no worker (waited {connect_timeout_s:g} s): {e}")],
            ) from None
        self.workers = len(self._client.scheduler_info().get("workers", {})) or 1

    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[Outcome]:
        from dask.distributed import as_completed

        assert self._client is not None, "executor is closed"
        futures = self._client.map(fn, list(items), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures, loop=self._client.loop):
                i = index[fut.key]
                if fut.status == "finished":
                    yield Outcome(i, fut.result())
                else:
                    exc = fut.exception()
                    tb = "".join(_traceback.format_tb(fut.traceback())) if fut.traceback() else ""
                    yield Outcome(i, error=f"{type(exc).__name__}: {exc}", traceback=tb)
                fut.release()
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def check_options(executor: str, jobs: int, address: str | None) -> None:
    """Raise :class:`ExecutorError` for options that cannot work (before anything starts)."""
    problems = []
    if executor not in EXECUTORS:
        problems.append(("executor", f"unknown executor {executor!r}; expected one of {', '.join(EXECUTORS)}"))
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        problems.append(("jobs", f"must be an integer >= 1, got {jobs!r}"))
    if address is not None and executor != "dask":
        problems.append(("address", "a scheduler address applies only to the dask executor"))
    if address is not None and not address.strip():
        problems.append(("address", "empty scheduler address"))
    if problems:
        raise ExecutorError("executor options", problems)


def open_executor(executor: str = "local", jobs: int = 1, address: str | None = None,
                  connect_timeout_s: float = 10.0) -> Executor:
    """The executor for the options (``local`` with ``jobs=1`` runs in this process)."""
    check_options(executor, jobs, address)
    if executor == "dask":
        return DaskExecutor(address, jobs, connect_timeout_s)
    if jobs == 1:
        return InProcess()
    return LocalProcesses(jobs)
