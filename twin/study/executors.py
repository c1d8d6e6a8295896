"""Where replications run: this process, local worker processes, or a Dask cluster.

Every executor has one method, :meth:`Executor.run`, which yields ``(task, summary)`` pairs as
replications finish, in any order. The study writes each summary as it arrives, so what has
finished survives an interruption. Results do not depend on the executor: a task's outcome is
fixed by its scenario, overrides and seed (the test suite checks this across all three).

- :class:`InlineExecutor` — in this process, one after another (``--workers 1``).
- :class:`ProcessExecutor` — a pool of local worker processes (the default), forked from a
  ``forkserver`` that has the model imported already (so workers start in milliseconds and never
  inherit the parent's threads or open files).
- :class:`DaskExecutor` — ``--dask local`` starts a ``LocalCluster`` (worker processes, one
  thread each) and shuts it down afterwards; ``--dask tcp://HOST:8786`` submits to an existing
  scheduler and leaves that cluster running.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from twin.study.errors import StudyError
from twin.study.tasks import Model, Task, run_task

Result = tuple[Task, dict[str, Any]]


class Executor(Protocol):
    """Runs replications and yields each one's summary as it finishes."""

    def run(self, model: Model, tasks: Sequence[Task]) -> Iterator[Result]: ...

    def describe(self) -> str: ...


class InlineExecutor:
    """Runs every replication in this process, in order."""

    def run(self, model: Model, tasks: Sequence[Task]) -> Iterator[Result]:
        for t in tasks:
            yield t, run_task(model, t)

    def describe(self) -> str:
        return "this process"


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class ProcessExecutor:
    """A pool of ``workers`` local processes; at most ``2 × workers`` tasks in flight at once.

    Keeping the queue short means an interruption (Ctrl-C, a failing replication) cancels the
    rest quickly, and nothing finished is lost because the caller stores results as they come.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or default_workers()
        if self.workers < 1:
            raise StudyError(f"--workers must be ≥ 1, got {self.workers}")

    def describe(self) -> str:
        return f"{self.workers} local worker processes"

    def run(self, model: Model, tasks: Sequence[Task]) -> Iterator[Result]:
        if not tasks:
            return
        ctx = _context()
        fn = functools.partial(run_task, model)
        pending = iter(tasks)
        in_flight: dict[Future[dict[str, Any]], Task] = {}
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(tasks)), mp_context=ctx)
        finished = False
        try:
            for t in pending:
                in_flight[pool.submit(fn, t)] = t
                if len(in_flight) >= 2 * self.workers:
                    break
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for fut in done:
                    t = in_flight.pop(fut)
                    yield t, fut.result()
                    nxt = next(pending, None)
                    if nxt is not None:
                        in_flight[pool.submit(fn, nxt)] = nxt
            finished = True
        finally:
            if finished:
                pool.shutdown(wait=True)
            else:  # Ctrl-C, a failed replication, or the caller stopped: do not wait for running ones
                _stop(pool)


#: Modules a local worker needs; the fork server imports them once, and every worker forked from
#: it starts with them loaded instead of importing NumPy, pandas, Mesa and the model afresh.
PRELOAD = ["twin.study.tasks", "twin.study.model", "twin.run"]


def _context() -> multiprocessing.context.BaseContext:
    """``forkserver`` where available (a clean single-threaded parent, so forking is safe even
    though this process runs threads, e.g. the progress bar), else ``spawn``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (finished results are already stored)."""
    processes = list(getattr(pool, "_processes", {}).values())  # CPython keeps its workers here
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(timeout=10)


class DaskExecutor:
    """Replications as Dask futures on a LocalCluster (``"local"``) or an existing scheduler.

    Task keys are ``rep-<study>-<unit>-<rep>`` so they are unique per study and readable on the
    Dask dashboard. Results come back to this process, which writes them into the study
    directory, so remote workers need no shared disk.
    """

    def __init__(self, address: str, study_key: str = "study", workers: int = 2) -> None:
        if address != "local" and not address.startswith(("tcp://", "tls://", "inproc://")):
            raise StudyError(f"--dask {address!r}: expected 'local' or a scheduler address like tcp://HOST:8786")
        self.address = address
        self.study_key = study_key
        self.workers = workers

    def describe(self) -> str:
        return "Dask LocalCluster" if self.address == "local" else f"Dask scheduler {self.address}"

    def run(self, model: Model, tasks: Sequence[Task]) -> Iterator[Result]:
        if not tasks:
            return
        from distributed import Client, LocalCluster, as_completed

        cluster = None
        if self.address == "local":
            cluster = LocalCluster(
                processes=True,
                n_workers=self.workers,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
            )
            client = Client(cluster)
        else:
            try:
                client = Client(self.address, timeout="30s")
            except OSError as exc:
                raise StudyError(f"--dask {self.address}: cannot reach the scheduler ({exc})") from exc
        try:
            fn = functools.partial(run_task, model)
            futures = {
                client.submit(fn, t, key=f"rep-{self.study_key}-{t.unit}-{t.rep}", pure=False): t for t in tasks
            }
            try:
                for fut, summary in as_completed(futures, with_results=True):
                    yield futures[fut], summary
            finally:
                client.cancel(list(futures))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(dask: str | None, workers: int | None, study_key: str) -> Executor:
    """The executor the CLI options ask for: ``--dask`` wins; ``--workers 1`` runs inline."""
    if dask:
        return DaskExecutor(dask, study_key=study_key, workers=workers or 2)
    if workers == 1:
        return InlineExecutor()
    return ProcessExecutor(workers)
