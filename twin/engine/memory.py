"""In-memory storage: the fast store the simulation runs on.

Keeps the whole audit log by default (so a run can be checked and exported); a district-year
may switch it off with ``keep_events=False`` to bound memory.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from twin.engine.errors import DuplicateKey, VersionConflict
from twin.engine.store import CaseQuery, IdempotencyRecord
from twin.engine.transitions import apply, apply_change
from twin.engine.types import ACTIVE_STATES, Action, Case, Event, Notice, State

_REPORT = Action.REPORT
_ACTIVE = ACTIVE_STATES


class MemoryStore:
    """Dicts and lists; thread-safe through one lock around each commit.

    ``threadsafe=False`` (a single-threaded simulation) drops the lock: ``lock`` is then None,
    which tells the engine not to take it either. Two lock round trips per transition were a
    measurable share of a district-year's CPU time.
    """

    def __init__(self, keep_events: bool = True, threadsafe: bool = True) -> None:
        self.keep_events = keep_events
        self._cases: dict[str, Case] = {}
        self._active: dict[str, Case] = {}
        self._events: list[Event] = []
        self._by_case: dict[str, list[Event]] = {}
        self._idem: dict[str, IdempotencyRecord] = {}
        self._notices: dict[str, Notice] = {}
        self._contacts: dict[str, str] = {}
        self._seq = 0
        self.threadsafe = threadsafe
        self._guard: AbstractContextManager[object] = threading.RLock() if threadsafe else nullcontext()
        self.lock: AbstractContextManager[object] | None = self._guard if threadsafe else None
        # the engine looks a case up on every transition: the dict's own ``get``, not a method around it
        self.get: Callable[[str], Case | None] = self._cases.get
        self.commit: Callable[..., None] = self._commit_locked if threadsafe else self._commit

    def _commit_locked(
        self, case: Case, event: Event, idempotency: IdempotencyRecord | None = None, contact: str | None = None
    ) -> None:
        with self._guard:
            self._commit(case, event, idempotency, contact)

    def _commit(
        self, case: Case, event: Event, idempotency: IdempotencyRecord | None = None, contact: str | None = None
    ) -> None:
        """Store ``event`` and apply it to the stored case (and to ``case`` if that is a copy)."""
        case_id = case.id
        if event.action is _REPORT:
            if idempotency is not None and idempotency.key in self._idem:
                raise DuplicateKey("idempotency key", idempotency.key)
            if case_id in self._cases:
                raise DuplicateKey("case id", case_id)
            self._cases[case_id] = case
            if idempotency is not None:
                self._idem[idempotency.key] = idempotency
            self._active[case_id] = case
            if contact is not None:
                self._contacts[case_id] = contact
        else:
            stored = self._cases.get(case_id)
            if stored is None or stored.version != event.version - 1:
                raise VersionConflict(case_id, event.version - 1, -1 if stored is None else stored.version)
            if stored is not case:  # a caller's copy: keep both pictures equal
                apply(case, event)
            apply(stored, event)
            was_active = event.from_state in _ACTIVE
            if was_active != (event.to_state in _ACTIVE):
                if was_active:
                    del self._active[case_id]
                else:
                    self._active[case_id] = stored
        self._seq += 1
        event.seq = self._seq
        if self.keep_events:
            self._events.append(event)
            lst = self._by_case.get(case_id)
            if lst is None:
                self._by_case[case_id] = [event]
            else:
                lst.append(event)

    def commit_change(
        self, case: Case, action: Action, from_state: State, to_state: State, at: float, actor: str, mode: str,
        data: dict[str, Any],
    ) -> None:
        """``commit(case, Event(case.id, case.version + 1, action, from_state, to_state, at, actor,
        mode, data))`` for a change (not a report) to the stored case itself.

        Why: without an audit log (``keep_events=False``, a district-year) the Event would be
        built only to be read once; building it was a few per cent of a run's CPU time. With
        the log, or for a caller's copy of a case, this is exactly :meth:`commit`.
        """
        case_id = case.id
        if self.keep_events or self._cases.get(case_id) is not case:
            self.commit(case, Event(case_id, case.version + 1, action, from_state, to_state, at, actor, mode, data))
            return
        if self.lock is None:
            self._change(case, action, from_state, to_state, at, mode, data)
        else:
            with self.lock:
                self._change(case, action, from_state, to_state, at, mode, data)

    def _change(
        self, case: Case, action: Action, from_state: State, to_state: State, at: float, mode: str,
        data: dict[str, Any],
    ) -> None:
        apply_change(case, action, to_state, at, mode, data)
        if (from_state in _ACTIVE) != (to_state in _ACTIVE):
            if from_state in _ACTIVE:
                del self._active[case.id]
            else:
                self._active[case.id] = case
        self._seq += 1

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        return self._idem.get(key)

    def query(self, q: CaseQuery) -> list[Case]:
        pool = self._active.values() if q.states is not None and q.states <= ACTIVE_STATES else self._cases.values()
        with self._guard:
            out = sorted((c for c in pool if q.matches(c)), key=lambda c: c.id)
        return out if q.limit is None else out[: q.limit]

    def active_cases(self) -> list[Case]:
        with self._guard:
            return list(self._active.values())

    def events(self, case_id: str | None = None, after_seq: int = 0) -> Iterator[Event]:
        src = self._events if case_id is None else self._by_case.get(case_id, [])
        return iter([e for e in src if e.seq is not None and e.seq > after_seq])

    def event_count(self) -> int:
        """Rows in the audit log (0 when events are not kept)."""
        return len(self._events)

    @property
    def transitions(self) -> int:
        """Transitions committed so far (counted whether or not events are kept)."""
        return self._seq

    def count(self) -> int:
        return len(self._cases)

    def all_cases(self) -> Iterator[Case]:
        return iter(list(self._cases.values()))

    def release(self, case_ids: Iterable[str]) -> int:
        """Forget settled cases that a long simulation has already written out, so that its
        memory holds only open and recently closed cases. The caller promises never to touch
        them again (a simulation releases cases past their call-back and reopen window).
        Returns how many were stored."""
        n = 0
        with self._guard:
            for cid in case_ids:
                if self._cases.pop(cid, None) is not None:
                    n += 1
                self._active.pop(cid, None)
                self._contacts.pop(cid, None)
                self._by_case.pop(cid, None)
        return n

    def contact(self, case_id: str) -> str | None:
        return self._contacts.get(case_id)

    def contact_count(self) -> int:
        return len(self._contacts)

    def adopt_contacts(self, rows: Sequence[tuple[str, str]]) -> int:
        with self._guard:
            new = [(cid, c) for cid, c in rows if cid in self._cases and cid not in self._contacts]
            self._contacts.update(new)
        return len(new)

    def record_notice(self, notice: Notice) -> bool:
        with self._guard:
            if notice.key in self._notices:
                return False
            self._notices[notice.key] = notice
            return True

    def notices(self, kind: str | None = None) -> list[Notice]:
        return [n for n in self._notices.values() if kind is None or n.kind == kind]

    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()

    def close(self) -> None:
        pass
