"""In-memory storage: the fast store the simulation runs on.

Keeps the whole audit log by default (so a run can be checked and exported); a district-year
may switch it off with ``keep_events=False`` to bound memory.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext

from twin.engine.errors import DuplicateKey, VersionConflict
from twin.engine.store import CaseQuery, IdempotencyRecord
from twin.engine.transitions import apply
from twin.engine.types import ACTIVE_STATES, Action, Case, Event, Notice

_REPORT = Action.REPORT
_ACTIVE = ACTIVE_STATES


class MemoryStore:
    """Dicts and lists; thread-safe through one lock around each commit."""

    def __init__(self, keep_events: bool = True) -> None:
        self.keep_events = keep_events
        self._cases: dict[str, Case] = {}
        self._active: dict[str, Case] = {}
        self._events: list[Event] = []
        self._by_case: dict[str, list[Event]] = {}
        self._idem: dict[str, IdempotencyRecord] = {}
        self._notices: dict[str, Notice] = {}
        self._seq = 0
        self.lock = threading.RLock()

    def get(self, case_id: str) -> Case | None:
        return self._cases.get(case_id)

    def commit(self, case: Case, event: Event, idempotency: IdempotencyRecord | None = None) -> None:
        with self.lock:
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

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        return self._idem.get(key)

    def query(self, q: CaseQuery) -> list[Case]:
        pool = self._active.values() if q.states is not None and q.states <= ACTIVE_STATES else self._cases.values()
        with self.lock:
            out = sorted((c for c in pool if q.matches(c)), key=lambda c: c.id)
        return out if q.limit is None else out[: q.limit]

    def active_cases(self) -> list[Case]:
        with self.lock:
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

    def record_notice(self, notice: Notice) -> bool:
        with self.lock:
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
