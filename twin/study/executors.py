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
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol

from twin.executors import check_dask_address, dask_client, default_workers, process_context
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
    """The shared process context (:func:`twin.executors.process_context`) preloading the model."""
    return process_context(PRELOAD)


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
        try:
            check_dask_address(address)
        except ValueError as exc:
            raise StudyError(str(exc)) from None
        self.address = address
        self.study_key = study_key
        self.workers = workers

    def describe(self) -> str:
        return "Dask LocalCluster" if self.address == "local" else f"Dask scheduler {self.address}"

    def run(self, model: Model, tasks: Sequence[Task]) -> Iterator[Result]:
        if not tasks:
            return
        from distributed import as_completed

        try:
            with dask_client(self.address, self.workers) as client:
                fn = functools.partial(run_task, model)
                futures = {
                    client.submit(fn, t, key=f"rep-{self.study_key}-{t.unit}-{t.rep}", pure=False): t for t in tasks
                }
                try:
                    for fut, summary in as_completed(futures, with_results=True):
                        yield futures[fut], summary
                finally:
                    client.cancel(list(futures))
        except OSError as exc:
            if "cannot reach the scheduler" in str(exc):
                raise StudyError(str(exc)) from None
            raise


def make_executor(dask: str | None, workers: int | None, study_key: str) -> Executor:
    """The executor the CLI options ask for: ``--dask`` wins; ``--workers 1`` runs inline."""
    if dask:
        return DaskExecutor(dask, study_key=study_key, workers=workers or 2)
    if workers == 1:
        return InlineExecutor()
    return ProcessExecutor(workers)
