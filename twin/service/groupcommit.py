"""Group commit for the service: many requests' writes in one durable transaction.

With ``synchronous=FULL`` (SQLite) or ``synchronous_commit=on`` (PostgreSQL) every commit
waits for the disk, so one commit per request caps the service at the disk's flush rate.
:class:`GroupCommitStore` wraps the engine's store: ``commit`` hands the change to one
committer thread and waits; the committer takes everything queued, applies it inside the
store's ``batch()`` (each change in its own savepoint, so a stale version or a duplicate key
fails alone) and wakes the callers only after the batch's COMMIT returned. A request is thus
acknowledged only once its change is durable — the same promise as before, one flush per
batch instead of one per request. Nothing else of the store changes.

:meth:`GroupCommitStore.run` goes one step further for the service's hot paths: it hands a
whole request (read the case, check, transition, build the response) to the committer thread,
which runs it *inside* the open batch — its commit is a savepoint there, with no hop to another
thread and back — and resolves the request's future on its event loop after the batch's COMMIT
returned. A request thus costs the event loop → committer → event loop hops only (no thread
pool), and still is acknowledged only once durable.

Jobs read cases through a cache of the cases this process last read or wrote (the committer
thread is the only writer of this process, so it sees every change made here). Other processes
may write the same database, so a cached case may be stale; that is safe because every write is
conditional on the version it was computed from (a stale one fails as a version conflict, and
equal versions mean equal cases: one event makes each version). A job that fails after reading
from the cache without writing anything is run once more on fresh reads, so a stale cache never
decides an answer (a 412 for a version another process made, say). A failed batch clears the
cache. For PostgreSQL this saves a round trip per request; for SQLite a read and a decode.

With ``committers > 1`` (PostgreSQL, where transactions run side by side) several committer
threads each run their own batches on their own connection, so one batch's round trips and
flush overlap another's work. A request about a case always goes to the same committer (by the
case id), so the changes to one case keep their order and each committer's cache sees every
change this process makes to its cases. SQLite has one writer at a time: one committer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import queue
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from twin.engine.store import CaseQuery, IdempotencyRecord, Store
from twin.engine.types import Case, Event, Notice


@dataclass
class _Pending:
    case: Case
    event: Event
    idempotency: IdempotencyRecord | None
    contact: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None
    queued_at: float = field(default_factory=time.perf_counter)


@dataclass
class _Job:
    """A request to run on a committer thread inside the batch (see :meth:`GroupCommitStore.run`)."""

    fn: Callable[[], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    result: Any = None
    error: BaseException | None = None
    queued_at: float = field(default_factory=time.perf_counter)


def _deliver(jobs: list[_Job]) -> None:
    """On the event loop: hand each job's outcome to its (still waiting) request."""
    for j in jobs:
        if j.future.cancelled():
            continue
        if j.error is not None:
            j.future.set_exception(j.error)
        else:
            j.future.set_result(j.result)


class CommitStats:
    """What the committers did, for ``GET /metrics``: counters, and the recent batches' COMMIT
    durations and requests' waits in the queue (the last :data:`WINDOW` of each, so percentiles
    describe now rather than since start). Appends are single deque operations (atomic under
    the GIL); the counters are updated under the owner's lock."""

    WINDOW = 2048

    def __init__(self) -> None:
        self.batches = 0
        self.statements = 0  # units of work run in batches: each a savepoint (statements / batches: mean batch size)
        self.queue_depth_max = 0  # the most requests that were waiting when a batch began
        self.commit_s: collections.deque[float] = collections.deque(maxlen=self.WINDOW)
        self.wait_s: collections.deque[float] = collections.deque(maxlen=self.WINDOW)

    def began(self, group: list[_Pending | _Job], left: int) -> None:
        """A batch of ``group`` began with ``left`` more still queued."""
        depth = len(group) + left
        if depth > self.queue_depth_max:
            self.queue_depth_max = depth
        now = time.perf_counter()
        self.wait_s.extend(now - p.queued_at for p in group)

    def committed(self, seconds: float) -> None:
        """A batch's COMMIT took ``seconds`` (the flush to disk or the database's round trip)."""
        self.commit_s.append(seconds)


def percentile_ms(samples: collections.deque[float], q: float) -> float | None:
    """The ``q`` quantile (0–1, nearest rank) of ``samples`` (seconds) in milliseconds, or None
    without samples."""
    data = sorted(samples)  # one C call: no other thread runs while the deque is copied
    if not data:
        return None
    return round(data[min(len(data) - 1, int(q * len(data)))] * 1e3, 3)


class _Committer:
    """One committer thread: its queue, its batches and its cache of cases."""

    def __init__(self, owner: GroupCommitStore, index: int) -> None:
        self.owner = owner
        self.inner = owner.inner
        self.queue: queue.SimpleQueue[_Pending | _Job | None] = queue.SimpleQueue()
        self.in_batch = False  # inside a batch (a job's commits go straight in)
        self.memo: dict[str, Case] | None = None  # cases read by the running job
        self.cache: dict[str, Case] = {}
        self.from_cache: set[str] = set()  # ids the running job took from the cache
        self.job_wrote = False  # the running job committed a change
        self.thread = threading.Thread(target=self._run, name=f"group-commit-{index}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.owner._local.committer = self
        max_batch = self.owner.max_batch
        while True:
            first = self.queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < max_batch:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            self.owner.stats.began(group, self.queue.qsize())
            self._commit_group(group)
            if stop:
                return

    def _commit_group(self, group: list[_Pending | _Job], retry: bool = True) -> None:
        culprit: _Pending | _Job | None = None
        broken = getattr(self.inner, "batch_broken", None)  # PostgreSQL: an error ended the transaction
        ended = 0.0
        try:
            with self.inner.batch():
                self.in_batch = True
                try:
                    for p in group:
                        if isinstance(p, _Job):
                            self._run_job(p)
                        else:
                            try:
                                self.inner.commit(p.case, p.event, p.idempotency, p.contact)
                            except Exception as exc:  # this change alone failed (savepoint rolled back)
                                p.error = exc
                            self.cache.pop(p.case.id, None)  # another thread's case object: read afresh
                        if broken is not None and broken():
                            culprit = p  # nothing after it can run in this transaction
                            break
                finally:
                    self.in_batch = False
                    ended = time.perf_counter()
            self.owner.stats.committed(time.perf_counter() - ended)
        except BaseException as exc:  # the batch is not committed: nothing of the group is durable
            self.cache.clear()
            if culprit is not None and retry:
                # One request broke the transaction. The others did nothing wrong: requests run
                # again in a batch of their own (their writes were rolled back, nothing was
                # acknowledged); commits handed over by other threads are refused, not redone
                # (their callers' case objects already took the change).
                if culprit.error is None:
                    culprit.error = exc
                again: list[_Pending | _Job] = []
                for p in group:
                    if p is culprit:
                        continue
                    if isinstance(p, _Job):
                        p.error, p.result = None, None
                        again.append(p)
                    elif p.error is None:
                        p.error = exc
                self._finish([p for p in group if p not in again])
                if again:
                    self._commit_group(again, retry=False)
                return
            for p in group:
                if p.error is None:
                    p.error = exc
        self._finish(group)

    def _finish(self, group: list[_Pending | _Job]) -> None:
        """Count a group and tell each of its requests the outcome."""
        self.owner._count(len(group))
        jobs: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        for p in group:
            if isinstance(p, _Job):
                jobs.setdefault(p.loop, []).append(p)
            else:
                p.done.set()
        for loop, js in jobs.items():  # one wake-up per event loop and batch
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
                loop.call_soon_threadsafe(_deliver, js)

    def _run_job(self, job: _Job) -> None:
        """Run one job inside the batch; once more on fresh reads if it failed on cached ones."""
        for attempt in (0, 1):
            self.memo = {}
            self.from_cache = set()
            self.job_wrote = False
            try:
                job.result = job.fn()
                return
            except Exception as exc:  # the request failed; its commit (if any) rolled back alone
                job.error = exc
                if attempt or self.job_wrote or not self.from_cache:
                    return
                for cid in self.from_cache:  # perhaps stale (another process wrote): read afresh
                    self.cache.pop(cid, None)
                job.error = None
            finally:
                self.memo = None

    def commit_in_job(self, case: Case, event: Event, idempotency: IdempotencyRecord | None, contact: str | None) -> None:
        try:
            self.inner.commit(case, event, idempotency, contact)  # a savepoint in the batch
        except Exception:
            self.cache.pop(case.id, None)
            raise
        self.job_wrote = True
        self.remember(case)

    def get_in_job(self, case_id: str, memo: dict[str, Case]) -> Case | None:
        hit = memo.get(case_id)
        if hit is None:
            hit = self.cache.get(case_id)
            if hit is not None:
                self.from_cache.add(case_id)
            else:
                hit = self.inner.get(case_id)
                if hit is not None:
                    self.remember(hit)
            if hit is not None:
                memo[case_id] = hit
        return hit

    def remember(self, case: Case) -> None:
        if len(self.cache) >= self.owner.cache_size:  # bounded: start again rather than track ages
            self.cache.clear()
        self.cache[case.id] = case


class GroupCommitStore:
    """A :class:`~twin.engine.store.Store` whose commits are grouped (see module doc)."""

    def __init__(self, inner: Store, max_batch: int = 256, cache_size: int = 50_000, committers: int = 1) -> None:
        if committers < 1:
            raise ValueError(f"committers: expected at least 1, got {committers}")
        self.inner = inner
        self.max_batch = max_batch
        self.cache_size = cache_size
        self.stats = CommitStats()
        self._closed = False
        self._local = threading.local()  # .committer on committer threads
        self._counter_lock = threading.Lock()
        self._next = itertools.count()
        self._committers = [_Committer(self, i) for i in range(committers)]

    def _count(self, n: int) -> None:
        with self._counter_lock:
            self.stats.batches += 1
            self.stats.statements += n

    @property
    def batches(self) -> int:
        """Batches (transactions) committed or rolled back so far."""
        return self.stats.batches

    @property
    def commits(self) -> int:
        """Units of work (requests run in a batch, commits handed over) so far."""
        return self.stats.statements

    def queue_depth(self) -> int:
        """Requests and commits waiting for a committer right now (all committers)."""
        return sum(c.queue.qsize() for c in self._committers)

    def _for(self, key: str | None) -> _Committer:
        cs = self._committers
        if len(cs) == 1:
            return cs[0]
        i = zlib.crc32(key.encode()) if key is not None else next(self._next)
        return cs[i % len(cs)]

    def _here(self) -> _Committer | None:
        """The committer running on this thread, when it is inside a batch."""
        c: _Committer | None = getattr(self._local, "committer", None)
        return c if c is not None and c.in_batch else None

    # ----------------------------------------------------------------- writes
    def commit(
        self, case: Case, event: Event, idempotency: IdempotencyRecord | None = None, contact: str | None = None
    ) -> None:
        here = self._here()
        if here is not None:
            here.commit_in_job(case, event, idempotency, contact)
            return
        if self._closed:
            raise RuntimeError("the store is closed")
        p = _Pending(case, event, idempotency, contact)
        self._for(case.id).queue.put(p)
        p.done.wait()
        if p.error is not None:
            raise p.error

    async def run(self, fn: Callable[[], Any], key: str | None = None) -> Any:
        """Run ``fn`` on a committer thread inside its next batch; its result (or exception)
        once that batch is durable. ``key`` (a case id) picks the committer, so that requests
        about one case keep their order; without it any committer will do."""
        if self._closed:
            raise RuntimeError("the store is closed")
        loop = asyncio.get_running_loop()
        job = _Job(fn, loop, loop.create_future())
        self._for(key).queue.put(job)
        return await job.future

    def record_notice(self, notice: Notice) -> bool:
        return self.inner.record_notice(notice)

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()  # commits are grouped already

    # ------------------------------------------------------------------ reads
    def get(self, case_id: str) -> Case | None:
        here = self._here()
        if here is not None and here.memo is not None:
            return here.get_in_job(case_id, here.memo)
        return self.inner.get(case_id)

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        return self.inner.find_idempotency(key)

    def query(self, q: CaseQuery) -> list[Case]:
        return self.inner.query(q)

    def active_cases(self) -> list[Case]:
        return self.inner.active_cases()

    def events(self, case_id: str | None = None, after_seq: int = 0) -> Iterator[Event]:
        return self.inner.events(case_id, after_seq)

    def count(self) -> int:
        return self.inner.count()

    def contact(self, case_id: str) -> str | None:
        return self.inner.contact(case_id)

    def contact_count(self) -> int:
        return self.inner.contact_count()

    def adopt_contacts(self, rows: Sequence[tuple[str, str]]) -> int:
        return self.inner.adopt_contacts(rows)

    def all_cases(self) -> Iterator[Case]:
        return self.inner.all_cases()

    def notices(self, kind: str | None = None) -> list[Notice]:
        return self.inner.notices(kind)

    def __getattr__(self, name: str) -> Any:  # integrity_check and other extras of the inner store
        if name == "lock":  # no in-process lock: the database's version check decides
            raise AttributeError(name)
        return getattr(self.inner, name)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            for c in self._committers:
                c.queue.put(None)
            for c in self._committers:
                c.thread.join(timeout=30)
        self.inner.close()
