"""Where long-lived simulation parts run: this process, local worker processes, or Dask.

Two users share this module, which is why it sits below runs (and so below studies) in the
layer contract, just above the coupling protocol it drives:

- ``twin sweep`` / ``twin compare`` (:mod:`twin.study.executors`) submit independent
  replications; they take the process context, the worker count and the Dask client from here.
- A partitioned run (:mod:`twin.run`) keeps each partition alive in one worker for the whole run
  and drives all of them in lockstep (:func:`run_lockstep`): per window the driver sends every
  partition ``(until, inbox)``, gathers the handovers each one sends out and routes them by their
  ``to`` field into the next window's inboxes — the contract of :mod:`twin.coupling.protocol`.
  A partition is anything with ``lookahead``, ``advance(until, inbox) -> outbox`` and ``finish()``.

Hosts (where a partition lives): :class:`InlineHosts` (this process), :class:`ProcessHosts`
(one child process per partition, talking over a pipe), :class:`DaskHosts` (one Dask Actor per
partition on a ``LocalCluster`` or an existing scheduler). The driver's messages and routing
are the same for all three, so results do not depend on the host (tests check this bit for bit).
Process hosts whose partition here is a hub (the others send to it and only to it: a coupled
district's shared level) let a child run a window ahead of the others (:func:`_run_around_hub`).
"""

from __future__ import annotations

import math
import multiprocessing
import os
import resource
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.reduction import ForkingPickler
from typing import Any, Protocol

from twin.coupling.protocol import route, windows


class Partition(Protocol):
    """One part of a run that advances in windows and exchanges handovers with the others."""

    lookahead: float

    def advance(self, until: float, inbox: Sequence[Any]) -> list[Any]: ...

    def finish(self) -> Any: ...


PartitionFactory = Callable[[], Partition]


class PartitionFailed(RuntimeError):
    """A partition raised in its worker; the message carries the worker's traceback."""


# --------------------------------------------------------------------------- shared helpers
def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def process_context(preload: Sequence[str] = ()) -> multiprocessing.context.BaseContext:
    """``forkserver`` where available (a clean single-threaded parent, so forking is safe even
    though this process runs threads, e.g. a progress bar), with ``preload`` imported once in
    the server so workers start in milliseconds; else ``spawn``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(preload))
        return ctx
    return multiprocessing.get_context("spawn")


def check_dask_address(address: str) -> None:
    """Raise ValueError unless ``address`` is ``local`` or a scheduler address."""
    if address != "local" and not address.startswith(("tcp://", "tls://", "inproc://")):
        raise ValueError(f"--dask {address!r}: expected 'local' or a scheduler address like tcp://HOST:8786")


@contextmanager
def dask_client(address: str, workers: int = 2) -> Iterator[Any]:
    """A Dask client: ``local`` starts a ``LocalCluster`` (worker processes, one thread each) and
    closes it afterwards; a scheduler address connects to a running cluster and leaves it
    running. An unreachable scheduler raises ``OSError`` naming the address."""
    from distributed import Client, LocalCluster

    check_dask_address(address)
    cluster = None
    if address == "local":
        cluster = LocalCluster(processes=True, n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
    else:
        try:
            client = Client(address, timeout="30s")
        except OSError as exc:
            raise OSError(f"--dask {address}: cannot reach the scheduler ({exc})") from exc
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def cpu_seconds() -> float:
    """CPU seconds (user + system) this process has used so far."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    return me.ru_utime + me.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------- the lockstep driver
def run_lockstep(
    hosts: Hosts, horizon: float, window: float | None = None, on_window: Callable[[float], None] | None = None
) -> list[Any]:
    """Advance every partition window by window to ``horizon`` and return their ``finish()``
    results in partition order. Windows are the partitions' common lookahead (conservative:
    nothing a partition sends within a window is due before the window ends), capped at
    ``window``; handovers are routed as :func:`twin.coupling.protocol.route` says."""
    look = min(hosts.lookaheads(), default=math.inf)
    step = min(look, math.inf if window is None else window)
    if not math.isfinite(step):
        step = horizon
    if isinstance(hosts, ProcessHosts) and hosts.hub:
        return _run_around_hub(hosts, list(windows(horizon, step)), on_window)
    inboxes: list[list[Any]] = [[] for _ in range(hosts.n)]
    for until in windows(horizon, step):
        outboxes = hosts.advance(until, inboxes)
        inboxes = route(outboxes, hosts.n)
        if on_window is not None:
            on_window(until)
    return hosts.finish()


def _run_around_hub(hosts: ProcessHosts, ends: Sequence[float], on_window: Callable[[float], None] | None) -> list[Any]:
    """:func:`run_lockstep` for a hub here (the last partition, in this process) that the
    partitions in child processes talk to and only to: a child's inbox for the next window is
    then the hub's outbox alone, so it is sent as soon as the hub has done its window, while
    the children may still be busy with theirs. A child thus starts window ``i + 1`` once the
    hub has done ``i`` — without waiting for the other children to finish ``i`` — and a slow
    window in one child (its share of the work, or the machine's scheduler) no longer holds
    up the others at every window's end. Every partition gets the inboxes :func:`route` gives
    in lockstep, so results are the same bit for bit; a child's message to anyone but the hub
    raises :class:`PartitionFailed` (such a run needs ``hub=False``)."""
    n = hosts.n
    m = n - 1
    hub_inbox: list[Any] = []
    for k in range(m):
        hosts.submit(k, ends[0], [])
    for i, until in enumerate(ends):
        hub_out = hosts.advance_here(until, [hub_inbox])[0]
        if i + 1 < len(ends):  # the children's next inboxes: what the hub sent them
            boxes = route([*([] for _ in range(m)), hub_out], n)
            for k in range(m):
                hosts.submit(k, ends[i + 1], boxes[k])
        outs = [hosts.collect(k) for k in range(m)]
        for k, out in enumerate(outs):
            for h in out:
                if 0 <= h.to < m:
                    raise PartitionFailed(
                        f"partition {k} sent a handover to partition {h.to}: with a hub, partitions send only to the hub"
                    )
        hub_inbox = route([*outs, hub_out], n)[m]
        if on_window is not None:
            on_window(until)
    return hosts.finish()


class Hosts(Protocol):
    """A set of live partitions somewhere (this process, child processes, Dask actors)."""

    n: int

    def lookaheads(self) -> list[float]: ...

    def advance(self, until: float, inboxes: Sequence[Sequence[Any]]) -> list[list[Any]]: ...

    def finish(self) -> list[Any]: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- hosts
class InlineHosts:
    """Every partition in this process, advanced one after another."""

    def __init__(self, factories: Sequence[PartitionFactory]) -> None:
        self.parts = [f() for f in factories]
        self.n = len(self.parts)

    def describe(self) -> str:
        return "this process"

    def lookaheads(self) -> list[float]:
        return [float(p.lookahead) for p in self.parts]

    def advance(self, until: float, inboxes: Sequence[Sequence[Any]]) -> list[list[Any]]:
        return [list(p.advance(until, box)) for p, box in zip(self.parts, inboxes, strict=True)]

    def finish(self) -> list[Any]:
        return [p.finish() for p in self.parts]

    def close(self) -> None:
        self.parts = []


def _pickle(msg: Any) -> bytes:
    """``msg`` as :meth:`multiprocessing.connection.Connection.send` pickles it."""
    return bytes(ForkingPickler.dumps(msg))


def _serve(conn: Any, factory: PartitionFactory) -> None:
    """A child process: build one partition, then answer the driver's calls until ``finish``."""
    try:
        part = factory()
        conn.send(("ok", float(part.lookahead)))
        while True:
            msg = conn.recv()
            if msg[0] == "advance":
                conn.send(("ok", list(part.advance(msg[1], msg[2]))))
            else:
                conn.send(("ok", part.finish()))
                return
    except BaseException:  # reported to the driver, which raises PartitionFailed
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


class ProcessHosts:
    """One local child process per partition, for the whole run, each behind a pipe — except
    the last ``here`` partitions, which live in this process (it would otherwise only wait):
    a coupled run keeps its shared level here, so each window its messages cross no pipe
    and one process fewer is woken (measured: see README, "Partitions")."""

    #: A message to a child larger than this (pickled bytes) waits until the child's previous
    #: answer is read: with a hub, a child may be sending its answer while the next window's
    #: message goes out, and a socket buffer (≈ 200 KiB on Linux) holds only so much each way.
    BIG_MESSAGE = 64 * 1024

    def __init__(self, factories: Sequence[PartitionFactory], preload: Sequence[str] = (), here: int = 0,
                 hub: bool = False) -> None:
        """``here``: the last partitions stay in this process; ``hub`` (with ``here`` = 1): the
        partition here is a hub the others send to and only to, so :func:`run_lockstep` lets a
        child run a window ahead of the others (:func:`_run_around_hub`)."""
        if hub and (here != 1 or len(factories) < 2):
            raise ValueError(f"hub: expected the last of two or more partitions here (here=1), got here={here} of {len(factories)}")
        ctx = process_context(preload)
        self.n = len(factories)
        self.hub = hub
        remote = factories[: self.n - max(0, min(here, self.n))]
        self.conns: list[Any] = []
        self.procs: list[Any] = []
        for f in remote:
            ours, theirs = ctx.Pipe()
            p = ctx.Process(target=_serve, args=(theirs, f), daemon=True)
            p.start()
            theirs.close()
            self.conns.append(ours)
            self.procs.append(p)
        self.local = InlineHosts(factories[len(remote):])
        self._early: dict[int, Any] = {}  # answers read before their turn (see submit)
        self._owed = [0] * len(remote)  # windows submitted to each child and not yet answered
        self._look = [self._reply(k) for k in range(len(remote))] + self.local.lookaheads()

    def describe(self) -> str:
        if not self.local.n:
            return f"{self.n} local processes"
        return f"{len(self.conns)} local processes and this process"

    def _reply(self, k: int) -> Any:
        try:
            kind, payload = self.conns[k].recv()
        except EOFError:
            raise PartitionFailed(f"partition {k}: its process ended without an answer (exit code {self.procs[k].exitcode})") from None
        if kind == "error":
            raise PartitionFailed(f"partition {k} failed:\n{payload}")
        return payload

    def lookaheads(self) -> list[float]:
        return list(self._look)

    def submit(self, k: int, until: float, inbox: Sequence[Any]) -> None:
        """Ask child ``k`` to advance to ``until`` with ``inbox``; :meth:`collect` gets the answer.
        At most one answer may be outstanding when the next window is submitted."""
        data = _pickle(("advance", until, list(inbox)))
        if len(data) > self.BIG_MESSAGE and self._owed[k] and k not in self._early:
            self._early[k] = self._reply(k)  # read its answer first: the child is then free to read a long message
        try:
            self.conns[k].send_bytes(data)
        except OSError:  # the child has ended (a failure): its last word says why
            while True:
                self._reply(k)
        self._owed[k] += 1

    def collect(self, k: int) -> list[Any]:
        """Child ``k``'s outbox for the oldest window submitted and not yet collected."""
        self._owed[k] -= 1
        if k in self._early:
            return list(self._early.pop(k))
        return list(self._reply(k))

    def advance_here(self, until: float, inboxes: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """Advance the partitions that live in this process."""
        return self.local.advance(until, inboxes)

    def advance(self, until: float, inboxes: Sequence[Sequence[Any]]) -> list[list[Any]]:
        m = len(self.conns)
        for k in range(m):
            self.submit(k, until, inboxes[k])
        here = self.advance_here(until, inboxes[m:])  # while the children work
        return [self.collect(k) for k in range(m)] + here

    def finish(self) -> list[Any]:
        for c in self.conns:
            c.send(("finish",))
        here = self.local.finish()
        return [self._reply(k) for k in range(len(self.conns))] + here

    def close(self) -> None:
        self.local.close()
        for c in self.conns:
            c.close()
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)


class PartitionActor:
    """A Dask Actor holding one partition on a worker for the whole run."""

    def __init__(self, factory: PartitionFactory) -> None:
        self.part = factory()

    def lookahead(self) -> float:
        return float(self.part.lookahead)

    def advance(self, until: float, inbox: Sequence[Any]) -> list[Any]:
        return list(self.part.advance(until, inbox))

    def finish(self) -> Any:
        return self.part.finish()


class DaskHosts:
    """One Dask Actor per partition, on a ``LocalCluster`` (``"local"``) or a running scheduler.

    A window's calls go out to every actor before any answer is awaited, so partitions on
    different workers advance at the same time."""

    def __init__(self, factories: Sequence[PartitionFactory], address: str, workers: int = 2) -> None:
        self.address = address
        self._client_cm = dask_client(address, workers)
        client = self._client_cm.__enter__()
        self.n = len(factories)
        try:
            futures = [client.submit(PartitionActor, f, actor=True, key=f"partition-{k}-{os.getpid()}") for k, f in enumerate(factories)]
            self.actors = [self._wait(k, f) for k, f in enumerate(futures)]
            self._look = [self._wait(k, a.lookahead()) for k, a in enumerate(self.actors)]
        except BaseException:
            self.close()
            raise

    def describe(self) -> str:
        return "Dask LocalCluster" if self.address == "local" else f"Dask scheduler {self.address}"

    @staticmethod
    def _wait(k: int, fut: Any) -> Any:
        try:
            return fut.result()
        except Exception as exc:
            raise PartitionFailed(f"partition {k} failed on its Dask worker: {type(exc).__name__}: {exc}") from exc

    def lookaheads(self) -> list[float]:
        return list(self._look)

    def advance(self, until: float, inboxes: Sequence[Sequence[Any]]) -> list[list[Any]]:
        futs = [a.advance(until, list(box)) for a, box in zip(self.actors, inboxes, strict=True)]
        return [self._wait(k, f) for k, f in enumerate(futs)]

    def finish(self) -> list[Any]:
        futs = [a.finish() for a in self.actors]
        return [self._wait(k, f) for k, f in enumerate(futs)]

    def close(self) -> None:
        self.actors = []
        self._client_cm.__exit__(None, None, None)


def make_hosts(
    factories: Sequence[PartitionFactory], where: str, dask: str | None = None, preload: Sequence[str] = (), here: int = 0,
    hub: bool = False,
) -> Hosts:
    """Hosts for ``where`` = ``inline`` | ``processes`` | ``dask`` (then ``dask`` is ``local`` or
    a scheduler address); with ``processes`` the last ``here`` partitions stay in this process,
    and ``hub`` says the one here is the others' only correspondent (:class:`ProcessHosts`)."""
    if where == "inline":
        return InlineHosts(factories)
    if where == "processes":
        return ProcessHosts(factories, preload, here, hub=hub and here == 1 and len(factories) > 1)
    if where == "dask":
        return DaskHosts(factories, dask or "local", workers=min(default_workers(), len(factories)) or 1)
    raise ValueError(f"partition hosts: expected inline, processes or dask, got {where!r}")
