"""Group commit for the service: many requests' writes in one durable transaction.

With ``synchronous=FULL`` (SQLite) or ``synchronous_commit=on`` (PostgreSQL) every commit
waits for the disk, so one commit per request caps the service at the disk's flush rate.
:class:`GroupCommitStore` wraps the engine's store: ``commit`` hands the change to one
committer thread and waits; the committer takes everything queued, applies it inside the
store's ``batch()`` (each change in its own savepoint, so a stale version or a duplicate key
fails alone) and wakes the callers only after the batch's COMMIT returned. A request is thus
acknowledged only once its change is durable — the same promise as before, one flush per
batch instead of one per request. Nothing else of the store changes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
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
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupCommitStore:
    """A :class:`~twin.engine.store.Store` whose commits are grouped (see module doc)."""

    def __init__(self, inner: Store, max_batch: int = 256) -> None:
        self.inner = inner
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._closed = False
        self.batches = 0
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    # ----------------------------------------------------------------- writes
    def commit(self, case: Case, event: Event, idempotency: IdempotencyRecord | None = None) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")
        p = _Pending(case, event, idempotency)
        self._queue.put(p)
        p.done.wait()
        if p.error is not None:
            raise p.error

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            stop = False
            while len(group) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            self._commit_group(group)
            if stop:
                return

    def _commit_group(self, group: list[_Pending]) -> None:
        try:
            with self.inner.batch():
                for p in group:
                    try:
                        self.inner.commit(p.case, p.event, p.idempotency)
                    except Exception as exc:  # this change alone failed (savepoint rolled back)
                        p.error = exc
        except BaseException as exc:  # the COMMIT itself failed: nothing of the group is durable
            for p in group:
                if p.error is None:
                    p.error = exc
        self.batches += 1
        self.commits += len(group)
        for p in group:
            p.done.set()

    def record_notice(self, notice: Notice) -> bool:
        return self.inner.record_notice(notice)

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()  # commits are grouped already

    # ------------------------------------------------------------------ reads
    def get(self, case_id: str) -> Case | None:
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
            self._queue.put(None)
            self._thread.join(timeout=30)
        self.inner.close()
