"""SQLite storage: the durable store, embedded (stdlib ``sqlite3``), safe across threads and processes.

Design:

* WAL journal, ``synchronous=FULL`` by default (a commit survives a process crash in any
  mode and a power loss with FULL), a busy timeout so writers queue instead of failing.
* One connection per thread (and per process: a forked child opens its own).
* ``commit`` is one transaction: a conditional ``UPDATE … WHERE id = ? AND version = ?``
  (no row → :class:`VersionConflict`), the audit ``INSERT`` and, for a report, the
  idempotency row. Several processes may share one file; the version check and the unique
  keys make concurrent writers safe without any in-process lock.
* ``batch`` is group commit: the commits inside share one transaction (one fsync), each
  inside its own ``SAVEPOINT`` so a failing commit rolls back alone.
* The schema is created or migrated when the store opens, under a write lock, and its
  version is kept in ``schema_version``.

The SQL is deliberately plain (``INSERT … ON CONFLICT DO NOTHING`` rather than
``INSERT OR IGNORE``) so that the PostgreSQL store can follow it closely.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from twin.engine.errors import DuplicateKey, InvalidInput, StoreError, VersionConflict
from twin.engine.jsoncodec import dumps_text, loads
from twin.engine.mobilisation import MOBILISATION_DDL
from twin.engine.store import EVENT_COLUMNS, CaseQuery, IdempotencyRecord, case_page_sql, event_from_row
from twin.engine.transitions import apply
from twin.engine.types import ACTIVE_STATES, Action, Case, Event, Notice

#: The schema version this code writes; a file with a newer version is refused.
SCHEMA_VERSION = 3

#: Statements that bring a file from version ``v - 1`` to version ``v``.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE cases (
            id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            state TEXT NOT NULL,
            level INTEGER NOT NULL,
            category TEXT NOT NULL,
            tier TEXT NOT NULL,
            grid TEXT NOT NULL,
            community TEXT NOT NULL,
            street TEXT NOT NULL,
            district TEXT NOT NULL,
            reporter TEXT,
            reported_at REAL NOT NULL,
            due_at REAL NOT NULL,
            doc TEXT NOT NULL
        )""",
        "CREATE INDEX cases_state_due ON cases (state, due_at)",
        "CREATE INDEX cases_level ON cases (level)",
        "CREATE INDEX cases_grid ON cases (grid)",
        "CREATE INDEX cases_community ON cases (community)",
        "CREATE INDEX cases_street ON cases (street)",
        "CREATE INDEX cases_district ON cases (district)",
        "CREATE INDEX cases_category ON cases (category)",
        "CREATE INDEX cases_reporter ON cases (reporter)",
        """CREATE TABLE case_assignees (
            case_id TEXT NOT NULL,
            assignee TEXT NOT NULL,
            PRIMARY KEY (case_id, assignee)
        )""",
        "CREATE INDEX case_assignees_assignee ON case_assignees (assignee)",
        """CREATE TABLE events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            case_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            mode TEXT NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (case_id, version)
        )""",
        """CREATE TABLE idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            case_id TEXT NOT NULL
        )""",
        """CREATE TABLE notices (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            unit TEXT NOT NULL,
            at REAL NOT NULL,
            payload TEXT NOT NULL
        )""",
    ),
    # The reporter's contact, written in the same transaction as its case (personal data kept
    # out of the case document and the audit log; one row per case at most).
    2: ("CREATE TABLE contacts (case_id TEXT PRIMARY KEY, contact TEXT NOT NULL)",),
    # Mobilisation: check-ins (unique per mobilisation and member), teams' tasks (twin/engine/mobilisation.py).
    3: MOBILISATION_DDL,
}

SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")

#: This process's id, kept current across fork: every statement asks whether its thread's
#: connection was opened in this process, and os.getpid() is a system call each time.
_pid = [os.getpid()]
os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))
_ACTIVE = tuple(s.value for s in ACTIVE_STATES)
_PAGE = 5000  # rows per round trip when streaming the log or all cases

_INSERT_CASE = (
    "INSERT INTO cases (id, version, state, level, category, tier, grid, community, street, district,"
    " reporter, reported_at, due_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_CASE = "UPDATE cases SET version = ?, state = ?, level = ?, doc = ? WHERE id = ? AND version = ?"
_INSERT_EVENT = (
    "INSERT INTO events (case_id, version, action, from_state, to_state, at, actor, mode, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_EVENT_COLS = ", ".join(EVENT_COLUMNS)


_dumps = dumps_text




def _case(doc: str) -> Case:
    return Case.from_dict(loads(doc))


def _event(row: tuple[Any, ...]) -> Event:
    return event_from_row((*row[:9], loads(row[9])))


class _ThreadState(threading.local):
    conn: sqlite3.Connection | None = None
    pid: int = -1
    depth: int = 0  # nesting of batch() blocks on this thread


class SQLiteStore:
    """The Store protocol on one SQLite file (see the module docstring)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        synchronous: str = "FULL",
        busy_timeout_ms: int = 10_000,
    ) -> None:
        p = os.fspath(path)
        if p == ":memory:" or p.startswith("file::memory:") or not p:
            raise InvalidInput(
                "path", "SQLiteStore needs a file (each thread opens its own connection); use MemoryStore"
            )
        sync = synchronous.upper()
        if sync not in SYNCHRONOUS_MODES:
            raise InvalidInput("synchronous", f"expected one of {list(SYNCHRONOUS_MODES)}, got {synchronous!r}")
        if busy_timeout_ms < 0:
            raise InvalidInput("busy_timeout_ms", f"expected ≥ 0, got {busy_timeout_ms!r}")
        self.path = Path(p)
        self.synchronous = sync
        self.busy_timeout_ms = int(busy_timeout_ms)
        self._tls = _ThreadState()
        self._all: list[tuple[int, sqlite3.Connection]] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._migrate(self._conn())

    # ----------------------------------------------------------- connections
    def _conn(self) -> sqlite3.Connection:
        tls = self._tls
        conn = tls.conn
        if conn is not None and tls.pid == _pid[0]:
            return conn
        if self._closed:
            raise StoreError(f"{self.path}: the store is closed")
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout_ms / 1000.0,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # used by its own thread only; close() may come from another
            )
            conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"{self.path}: could not switch to WAL journal mode (got {mode!r})")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open as an SQLite database: {exc}") from exc
        tls.conn, tls.pid, tls.depth = conn, os.getpid(), 0
        with self._all_lock:
            self._all.append((os.getpid(), conn))
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0
            if current > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path}: schema version {current} is newer than this code's {SCHEMA_VERSION}; upgrade gridtwin"
                )
            for v in range(current + 1, SCHEMA_VERSION + 1):
                for stmt in MIGRATIONS[v]:
                    conn.execute(stmt)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (v,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def schema_version(self) -> int:
        """The schema version recorded in the file."""
        return int(self._conn().execute("SELECT max(version) FROM schema_version").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, or a savepoint when inside :meth:`batch`."""
        conn = self._conn()
        if self._tls.depth:
            conn.execute("SAVEPOINT commit_one")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK TO commit_one")
                conn.execute("RELEASE commit_one")
                raise
            conn.execute("RELEASE commit_one")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    # ----------------------------------------------------------------- writes
    def commit(
        self, case: Case, event: Event, idempotency: IdempotencyRecord | None = None, contact: str | None = None
    ) -> None:
        """Apply ``event`` to ``case`` and persist both in one transaction (see Store.commit).

        ``case`` is changed only after the write succeeded. A second row for an idempotency
        key or a case id raises DuplicateKey; a stale version raises VersionConflict.
        """
        report = event.action is Action.REPORT
        if report:
            new = case
        else:
            new = case.copy()
            apply(new, event)
        doc = _dumps(new.to_dict())
        with self._tx() as conn:
            if report:
                if idempotency is not None:
                    try:
                        conn.execute(
                            "INSERT INTO idempotency (key, fingerprint, case_id) VALUES (?, ?, ?)",
                            (idempotency.key, idempotency.fingerprint, idempotency.case_id),
                        )
                    except sqlite3.IntegrityError:
                        raise DuplicateKey("idempotency key", idempotency.key) from None
                p = new.place
                try:
                    conn.execute(
                        _INSERT_CASE,
                        (
                            new.id,
                            new.version,
                            new.state.value,
                            int(new.level),
                            new.category,
                            new.tier,
                            p.grid,
                            p.community,
                            p.street,
                            p.district,
                            new.reporter,
                            new.reported_at,
                            new.due_at,
                            doc,
                        ),
                    )
                except sqlite3.IntegrityError:
                    raise DuplicateKey("case id", new.id) from None
                if contact is not None:
                    conn.execute("INSERT INTO contacts (case_id, contact) VALUES (?, ?)", (new.id, contact))
            else:
                cur = conn.execute(
                    _UPDATE_CASE, (new.version, new.state.value, int(new.level), doc, new.id, event.version - 1)
                )
                if cur.rowcount != 1:
                    row = conn.execute("SELECT version FROM cases WHERE id = ?", (new.id,)).fetchone()
                    raise VersionConflict(new.id, event.version - 1, -1 if row is None else int(row[0]))
            if new.assignees != (() if report else case.assignees):
                conn.execute("DELETE FROM case_assignees WHERE case_id = ?", (new.id,))
                conn.executemany(
                    "INSERT INTO case_assignees (case_id, assignee) VALUES (?, ?)",
                    [(new.id, a) for a in new.assignees],
                )
            cur = conn.execute(
                _INSERT_EVENT,
                (
                    event.case_id,
                    event.version,
                    event.action.value,
                    None if event.from_state is None else event.from_state.value,
                    event.to_state.value,
                    event.at,
                    event.actor,
                    event.mode,
                    _dumps(event.data),
                ),
            )
            seq = cur.lastrowid
        event.seq = seq
        if not report:
            apply(case, event)

    def record_notice(self, notice: Notice) -> bool:
        """Store a notice once; False if its key is already stored (by any process)."""
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO notices (key, kind, unit, at, payload) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (key) DO NOTHING",
                (notice.key, notice.kind, notice.unit, notice.at, _dumps(notice.payload)),
            )
            return cur.rowcount == 1

    @contextmanager
    def _batch(self) -> Iterator[None]:
        conn = self._conn()
        tls = self._tls
        if tls.depth:  # nested: the outer block owns the transaction
            tls.depth += 1
            try:
                yield
            finally:
                tls.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        tls.depth = 1
        try:
            yield
        finally:
            tls.depth = 0
            # Commits that succeeded stay committed even if the block raised: their callers
            # were told so. A failed COMMIT rolls back the whole group.
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def batch(self) -> AbstractContextManager[None]:
        """Group commit: the commits this thread makes inside the block share one transaction.

        Each commit runs in its own savepoint, so one that fails (a version conflict, a
        duplicate key) rolls back alone and the others stand. Everything is durable once the
        block exits; a caller that acknowledges commits to others should do so only then.
        The block holds the file's write lock throughout (other writers wait up to the busy
        timeout), so keep it short.
        """
        return self._batch()

    # ------------------------------------------------------------------ reads
    def get(self, case_id: str) -> Case | None:
        """A fresh copy of the stored case, or None."""
        row = self._conn().execute("SELECT doc FROM cases WHERE id = ?", (case_id,)).fetchone()
        return None if row is None else _case(row[0])

    def contact(self, case_id: str) -> str | None:
        row = self._conn().execute("SELECT contact FROM contacts WHERE case_id = ?", (case_id,)).fetchone()
        return None if row is None else str(row[0])

    def contact_count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM contacts").fetchone()[0])

    def adopt_contacts(self, rows: Sequence[tuple[str, str]]) -> int:
        with self._tx() as conn:
            cur = conn.executemany(
                "INSERT INTO contacts (case_id, contact) SELECT id, ? FROM cases WHERE id = ? ON CONFLICT (case_id) DO NOTHING",
                [(c, cid) for cid, c in rows],
            )
            return max(cur.rowcount, 0)

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        row = self._conn().execute("SELECT key, fingerprint, case_id FROM idempotency WHERE key = ?", (key,)).fetchone()
        return None if row is None else IdempotencyRecord(row[0], row[1], row[2])

    def query(self, q: CaseQuery) -> list[Case]:
        """Cases matching ``q`` in id order, filtered by the indexed columns."""
        where: list[str] = []
        args: list[Any] = []
        if q.states is not None:
            if not q.states:
                return []
            states = sorted(s.value for s in q.states)
            where.append(f"state IN ({', '.join('?' * len(states))})")
            args.extend(states)
        if q.overdue_at is not None:
            where.append(f"state IN ({', '.join('?' * len(_ACTIVE))}) AND due_at < ?")
            args.extend(_ACTIVE)
            args.append(q.overdue_at)
        for column, value in (
            ("level", None if q.level is None else int(q.level)),
            ("grid", q.grid),
            ("community", q.community),
            ("street", q.street),
            ("district", q.district),
            ("category", q.category),
            ("reporter", q.reporter),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if q.assignee is not None:
            where.append("id IN (SELECT case_id FROM case_assignees WHERE assignee = ?)")
            args.append(q.assignee)
        limit = None if q.limit is None else max(0, int(q.limit))
        sql = case_page_sql("SELECT doc FROM cases", where, args, q.after_id, limit, "?")
        return [_case(r[0]) for r in self._conn().execute(sql, args)]

    def active_cases(self) -> list[Case]:
        sql = f"SELECT doc FROM cases WHERE state IN ({', '.join('?' * len(_ACTIVE))}) ORDER BY id"
        return [_case(r[0]) for r in self._conn().execute(sql, _ACTIVE)]

    def events(self, case_id: str | None = None, after_seq: int = 0) -> Iterator[Event]:
        """The audit log in seq order (streamed in pages, so a long log needs little memory)."""
        conn = self._conn()
        if case_id is not None:
            rows = conn.execute(
                f"SELECT {_EVENT_COLS} FROM events WHERE case_id = ? AND seq > ? ORDER BY seq", (case_id, after_seq)
            ).fetchall()
            return iter([_event(r) for r in rows])
        return self._all_events(after_seq)

    def _all_events(self, after_seq: int) -> Iterator[Event]:
        last = after_seq
        while True:
            rows = (
                self._conn()
                .execute(f"SELECT {_EVENT_COLS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (last, _PAGE))
                .fetchall()
            )
            for r in rows:
                yield _event(r)
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM cases").fetchone()[0])

    def event_count(self) -> int:
        """Rows in the audit log (for checks: one per accepted transition)."""
        return int(self._conn().execute("SELECT count(*) FROM events").fetchone()[0])

    def all_cases(self) -> Iterator[Case]:
        """Every case in id order (streamed in pages)."""
        last = ""
        while True:
            rows = (
                self._conn()
                .execute("SELECT id, doc FROM cases WHERE id > ? ORDER BY id LIMIT ?", (last, _PAGE))
                .fetchall()
            )
            for r in rows:
                yield _case(r[1])
            if len(rows) < _PAGE:
                return
            last = rows[-1][0]

    def notices(self, kind: str | None = None) -> list[Notice]:
        sql = "SELECT kind, key, unit, at, payload FROM notices"
        args: tuple[Any, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            args = (kind,)
        rows = self._conn().execute(sql + " ORDER BY seq", args).fetchall()
        return [Notice(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]

    def integrity_check(self) -> str:
        """SQLite's own consistency check of the file ("ok" when sound)."""
        return str(self._conn().execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        """Close every connection this store opened in this process; committed data stays."""
        self._closed = True
        pid = os.getpid()
        with self._all_lock:
            conns, self._all = self._all, []
        self._tls.conn = None
        for owner, conn in conns:
            if owner != pid:  # inherited through fork: the parent's, not ours to close
                continue
            with contextlib.suppress(sqlite3.Error):  # a connection busy in another thread
                conn.close()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
