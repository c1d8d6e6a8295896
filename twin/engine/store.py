"""The one narrow interface between the engine and storage.

Implementations: :class:`~twin.engine.memory.MemoryStore` (fast, for simulation) and
:class:`~twin.engine.sqlite.SQLiteStore` (durable). A PostgreSQL store implements the same
protocol. The contract that matters: :meth:`Store.commit` applies an event to its case and
persists both in one transaction, or raises and persists nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from twin.engine.types import Case, Event, Level, Notice, State


@dataclass(frozen=True, slots=True)
class CaseQuery:
    """A filter over cases; every field narrows the result (None: any)."""

    states: frozenset[State] | None = None
    level: Level | None = None
    assignee: str | None = None
    grid: str | None = None
    community: str | None = None
    street: str | None = None
    district: str | None = None
    category: str | None = None
    reporter: str | None = None
    overdue_at: float | None = None  # only cases overdue at this time
    after_id: str | None = None  # keyset pagination: ids strictly greater
    limit: int | None = None

    def matches(self, c: Case) -> bool:
        if self.states is not None and c.state not in self.states:
            return False
        if self.level is not None and c.level != self.level:
            return False
        if self.assignee is not None and self.assignee not in c.assignees:
            return False
        p = c.place
        if self.grid is not None and p.grid != self.grid:
            return False
        if self.community is not None and p.community != self.community:
            return False
        if self.street is not None and p.street != self.street:
            return False
        if self.district is not None and p.district != self.district:
            return False
        if self.category is not None and c.category != self.category:
            return False
        if self.reporter is not None and c.reporter != self.reporter:
            return False
        if self.overdue_at is not None and not c.overdue(self.overdue_at):
            return False
        return self.after_id is None or c.id > self.after_id


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    key: str
    fingerprint: str
    case_id: str


class Store(Protocol):
    """Where cases, their audit events, idempotency keys and supervision notices live."""

    def get(self, case_id: str) -> Case | None:
        """The current case, or None. Durable stores return a fresh copy."""

    def commit(
        self, case: Case, event: Event, idempotency: IdempotencyRecord | None = None, contact: str | None = None
    ) -> None:
        """Apply ``event`` to ``case`` and persist both atomically.

        For a REPORT event ``case`` is the new case (already built from the event) and the
        store inserts it; an ``idempotency`` record is inserted in the same transaction.
        Raises VersionConflict if the stored case is not at ``event.version - 1`` (checked
        by the write itself, so concurrent writers in other threads or processes are safe),
        DuplicateKey("idempotency key", key) if the key is already stored (the engine then
        replays the stored record) and DuplicateKey("case id", id) for a reused case id.
        On any error nothing is persisted and ``case`` is unchanged; on success
        ``event.seq`` is set.

        ``contact`` (a REPORT only): the reporter's contact, personal data kept apart from the
        case's document and audit log, stored in the same transaction as the case — so a case
        never lacks its contact and no contact outlives a refused or replayed report.
        """

    def contact(self, case_id: str) -> str | None:
        """The reporter's contact stored with a case, or None."""

    def contact_count(self) -> int:
        """Number of contacts stored (one per case at most)."""

    def adopt_contacts(self, rows: Sequence[tuple[str, str]]) -> int:
        """Store (case id, contact) pairs for cases that exist and have no contact yet (a
        migration from where earlier versions kept them); others are dropped. How many stored."""

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        """The record stored for an idempotency key, or None."""

    def query(self, q: CaseQuery) -> list[Case]:
        """Cases matching ``q``, ordered by id."""

    def active_cases(self) -> list[Case]:
        """Cases in an active state (for timers and supervision)."""

    def events(self, case_id: str | None = None, after_seq: int = 0) -> Iterator[Event]:
        """The audit log in order, for one case or all."""

    def count(self) -> int:
        """Number of cases stored."""

    def all_cases(self) -> Iterator[Case]:
        """Every case (for KPIs and checks)."""

    def record_notice(self, notice: Notice) -> bool:
        """Store a supervision notice once; False if its key was already stored."""

    def notices(self, kind: str | None = None) -> list[Notice]:
        """Stored notices in the order they were recorded."""

    def batch(self) -> AbstractContextManager[None]:
        """Group the commits inside the block into one transaction (group commit).

        Each commit inside stays atomic on its own: one that raises leaves the others
        standing. The group is durable when the block exits; nested blocks join the outer one.
        """

    def close(self) -> None:
        """Release resources; committed data stays."""


def commit_many(store: Store, items: Sequence[tuple[Case, Event]]) -> None:
    """Commit several independent changes in one storage transaction."""
    with store.batch():
        for case, event in items:
            store.commit(case, event)


#: The audit log's columns, in the order the durable stores select them.
EVENT_COLUMNS: tuple[str, ...] = ("seq", "case_id", "version", "action", "from_state", "to_state", "at", "actor", "mode", "data")


def event_from_row(row: Sequence[Any]) -> Event:
    """An audit event from a row of :data:`EVENT_COLUMNS` (its ``data`` already decoded)."""
    return Event.from_dict(dict(zip(EVENT_COLUMNS, row, strict=True)))


def case_page_sql(select: str, where: list[str], args: list[Any], after_id: str | None, limit: int | None, ph: str) -> str:
    """``select`` (a SELECT of cases) narrowed by ``where``, as a keyset page in id order: only
    ids after ``after_id``, at most ``limit`` rows. ``ph`` is the store's placeholder; the
    page's arguments are appended to ``args``."""
    if after_id is not None:
        where.append(f"id > {ph}")
        args.append(after_id)
    sql = select
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {ph}"
        args.append(int(limit))
    return sql
