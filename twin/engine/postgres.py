"""PostgresStore: the case store on PostgreSQL through psycopg 3 and a connection pool.

Implements :class:`~twin.engine.store.Store`. Every commit writes the case row and its audit
event in one transaction with ``synchronous_commit=on`` (an acknowledged change survives a crash
of the server or of the machine). Optimistic concurrency lives in the database: a transition
updates the case row only ``WHERE version = expected``, so several processes can share one
database and a stale writer gets :class:`~twin.engine.errors.VersionConflict`. The schema is
created (or migrated, by its version number) when the store opens.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.pq import DiagnosticField, ExecStatus, TransactionStatus
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb, set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool

from twin.engine.errors import DuplicateKey, StoreError, VersionConflict
from twin.engine.jsoncodec import dumps, loads
from twin.engine.mobilisation import MOBILISATION_DDL
from twin.engine.store import EVENT_COLUMNS, CaseQuery, IdempotencyRecord, case_page_sql, event_from_row
from twin.engine.transitions import apply
from twin.engine.types import ACTIVE_STATES, Action, Case, Event, Notice

#: Bump when the schema changes, and add the step to :data:`MIGRATIONS`.
SCHEMA_VERSION = 4

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS engine_cases (
            id TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            state TEXT NOT NULL,
            active BOOLEAN NOT NULL,
            level SMALLINT NOT NULL,
            grid TEXT NOT NULL,
            community TEXT NOT NULL,
            street TEXT NOT NULL,
            district TEXT NOT NULL,
            category TEXT NOT NULL,
            reporter TEXT,
            due_at DOUBLE PRECISION NOT NULL,
            doc JSONB NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS engine_cases_active ON engine_cases (id) WHERE active",
        "CREATE INDEX IF NOT EXISTS engine_cases_grid ON engine_cases (grid, id)",
        "CREATE INDEX IF NOT EXISTS engine_cases_street ON engine_cases (street, id)",
        "CREATE INDEX IF NOT EXISTS engine_cases_reporter ON engine_cases (reporter, id)",
        """CREATE TABLE IF NOT EXISTS engine_events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            case_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            action TEXT NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            actor TEXT NOT NULL,
            mode TEXT NOT NULL,
            data JSONB NOT NULL,
            UNIQUE (case_id, version)
        )""",
        """CREATE TABLE IF NOT EXISTS engine_idempotency (
            key TEXT PRIMARY KEY,
            fingerprint TEXT NOT NULL,
            case_id TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS engine_notices (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            unit TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            payload JSONB NOT NULL
        )""",
    ),
    # Every transition rewrites its case row. Room on each page lets PostgreSQL keep the new row
    # version on the same page (a HOT update) when no indexed column changes, instead of adding
    # an entry to every index: 0.16 -> 0.13 ms of database CPU per transition (measured with one
    # prepared transition statement, 30 per commit). Applies to pages written from now on.
    2: ("ALTER TABLE engine_cases SET (fillfactor = 70)",),
    # The reporter's contact, written in the same transaction as its case (personal data kept
    # out of the case document and the audit log; one row per case at most).
    3: ("CREATE TABLE IF NOT EXISTS engine_contacts (case_id TEXT PRIMARY KEY, contact TEXT NOT NULL)",),
    # Mobilisation: check-ins (unique per mobilisation and member), teams' tasks (twin/engine/mobilisation.py).
    4: MOBILISATION_DDL,
}

_CASE_COLS = "id, version, state, active, level, grid, community, street, district, category, reporter, due_at, doc"


def _configure(conn: psycopg.Connection[Any]) -> None:
    set_json_dumps(dumps, conn)  # the fast codec for jsonb documents, both ways
    set_json_loads(loads, conn)
    conn.execute("SET synchronous_commit = on")
    conn.commit()


def migrate(conn: psycopg.Connection[Any]) -> int:
    """Create or upgrade the schema; returns the schema version now in place.

    Serialised across processes by an advisory lock, so several workers starting at once
    do not race each other.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(727270001)")
        conn.execute("CREATE TABLE IF NOT EXISTS engine_schema (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM engine_schema").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        for v in range(current + 1, SCHEMA_VERSION + 1):
            for stmt in MIGRATIONS[v]:
                conn.execute(stmt)
            conn.execute("INSERT INTO engine_schema (version) VALUES (%s)", (v,))
    return SCHEMA_VERSION




_EVENT_VALUES = "%s::integer, %s::text, %s::text, %s::text, %s::double precision, %s::text, %s::text, %s::jsonb"
#: A transition in one statement: the conditional update and, only if it matched, the event.
#: The event's (case_id, version) is unique, and only a matched update at version - 1 writes it.
_TRANSITION = (
    "WITH u AS (UPDATE engine_cases SET version=%s, state=%s, active=%s, level=%s, doc=%s "
    "WHERE id=%s AND version=%s RETURNING id) "
    "INSERT INTO engine_events (case_id, version, action, from_state, to_state, at, actor, mode, data) "
    f"SELECT u.id, {_EVENT_VALUES} FROM u RETURNING seq"
)
#: A report (without idempotency record) in one statement: the case unless its id is taken, then its event.
_REPORT = (
    f"WITH c AS (INSERT INTO engine_cases ({_CASE_COLS}) VALUES ({', '.join(['%s'] * 13)}) "
    "ON CONFLICT (id) DO NOTHING RETURNING id) "
    "INSERT INTO engine_events (case_id, version, action, from_state, to_state, at, actor, mode, data) "
    f"SELECT c.id, {_EVENT_VALUES} FROM c RETURNING seq"
)


def _event_params(e: Event) -> tuple[Any, ...]:
    return (
        e.case_id,
        e.version,
        str(e.action),
        None if e.from_state is None else str(e.from_state),
        str(e.to_state),
        e.at,
        e.actor,
        e.mode,
        Jsonb(e.data),
    )


def _case_params(case: Case) -> tuple[Any, ...]:
    d = case.to_dict()
    p = case.place
    return (
        case.id,
        case.version,
        str(case.state),
        case.state in ACTIVE_STATES,
        int(case.level),
        p.grid,
        p.community,
        p.street,
        p.district,
        case.category,
        case.reporter,
        case.due_at,
        Jsonb(d),
    )


def _text(v: Any) -> bytes | None:
    """A parameter in PostgreSQL's text format (what :func:`_exec_hot` sends)."""
    if v is None:
        return None
    if isinstance(v, str):
        return v.encode()
    if isinstance(v, bool):
        return b"t" if v else b"f"
    if isinstance(v, int):
        return str(v).encode()
    if isinstance(v, float):
        return repr(v).encode()
    if isinstance(v, Jsonb):
        return dumps(v.obj)
    raise TypeError(f"no text form for {type(v).__name__}")


def _numbered(sql: str) -> bytes:
    """``%s`` placeholders as libpq's ``$1, $2, …``."""
    parts = sql.split("%s")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts)).encode()


_HOT: dict[bytes, bytes] = {b"gt_transition": _numbered(_TRANSITION), b"gt_report": _numbered(_REPORT)}
_prepared: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[bytes]] = weakref.WeakKeyDictionary()


def _exec_hot(conn: psycopg.Connection[Any], name: bytes, params: tuple[Any, ...]) -> int | None:
    """Run one of the hot single-row statements (:data:`_HOT`) straight through libpq; the
    integer of its one returned row, or None when it returned none.

    Measured on this machine, psycopg's ``execute`` costs ~140 µs of CPU per statement against
    ~45 µs for libpq's own prepared call (which also releases the GIL while it waits): on the
    service's hot path that difference was a sixth of a request's CPU. The statement is
    prepared once per connection; parameters go as text. An error raises (the transaction is
    then aborted, and the caller's transaction block rolls it back).
    """
    pg = conn.pgconn
    done = _prepared.setdefault(conn, set())
    if name not in done:
        res = pg.prepare(name, _HOT[name])
        if res.status != ExecStatus.COMMAND_OK:
            _raise(res)
        done.add(name)
    res = pg.exec_prepared(name, [_text(v) for v in params])  # type: ignore[misc]  # libpq takes NULLs; the stub omits None
    if res.status != ExecStatus.TUPLES_OK:
        _raise(res)
    if res.ntuples == 0:
        return None
    v = res.get_value(0, 0)
    return None if v is None else int(v)


def _raise(res: Any) -> None:
    state = res.error_field(DiagnosticField.SQLSTATE)
    message = (res.error_message or b"").decode(errors="replace").strip() or "statement failed"
    cls = psycopg.errors.lookup(state.decode()) if state else psycopg.DatabaseError
    raise cls(message)


class PostgresStore:
    """Cases, audit events, idempotency keys and notices in PostgreSQL.

    ``url`` is a libpq connection string (``postgresql://user:pw@host:port/db``). The pool
    holds ``min_size``..``max_size`` connections; each thread takes one per call, or keeps
    one for the whole of a :meth:`batch` block.
    """

    def __init__(self, url: str, min_size: int = 1, max_size: int = 16, timeout: float = 30.0) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            configure=_configure,
            kwargs={"row_factory": tuple_row},
            open=False,
        )
        self._pool.open(wait=True, timeout=timeout)
        self._local = threading.local()
        with self._pool.connection() as conn:
            migrate(conn)

    # ----------------------------------------------------------- connections
    @contextmanager
    def _tx(self) -> Iterator[psycopg.Connection[Any]]:
        """A transaction: the batch's (as a savepoint) when inside :meth:`batch`, else a new one."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None:
            with conn.transaction():
                yield conn
            return
        with self._pool.connection() as c, c.transaction():
            yield c

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self._pool.connection() as c:
            yield c

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the commits inside the block into one transaction (group commit).

        Each commit inside is a savepoint: one that fails (a stale version, a duplicate key)
        is undone alone and raises to its caller, while the others stay in the batch.
        """
        if getattr(self._local, "conn", None) is not None:  # nested: join the outer batch
            yield
            return
        with self._pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield
                    if conn.info.transaction_status == TransactionStatus.INERROR:
                        # A statement failed with no savepoint around it. Leaving the block now
                        # would send COMMIT, which PostgreSQL turns into a silent rollback: the
                        # block's commits would look durable and not be. Fail the batch instead.
                        raise StoreError("a statement failed inside the batch; its transaction is rolled back, nothing in it committed")
            finally:
                self._local.conn = None

    def batch_broken(self) -> bool:
        """Inside :meth:`batch`: whether a failed statement has ended its transaction (every
        further statement would fail, and the batch cannot commit)."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        return conn is not None and conn.info.transaction_status == TransactionStatus.INERROR

    # --------------------------------------------------------------- writes
    def commit(
        self, case: Case, event: Event, idempotency: IdempotencyRecord | None = None, contact: str | None = None
    ) -> None:
        if event.action is Action.REPORT:
            self._insert(case, event, idempotency, contact)
            return
        after = case.copy()
        apply(after, event)
        params = _case_params(after)
        with self._statement() as conn:
            seq = _exec_hot(
                conn,
                b"gt_transition",
                (after.version, params[2], params[3], params[4], params[12], case.id, event.version - 1, *_event_params(event)[1:]),
            )
            if seq is None:  # the conditional update matched nothing: nothing was written
                cur = conn.execute("SELECT version FROM engine_cases WHERE id=%s", (case.id,)).fetchone()
                raise VersionConflict(case.id, event.version - 1, -1 if cur is None else int(cur[0]))
        event.seq = seq
        apply(case, event)

    @contextmanager
    def _statement(self) -> Iterator[psycopg.Connection[Any]]:
        """For one write that is a single statement and cannot half-succeed: inside a batch it
        runs straight in the batch's transaction (no savepoint: two round trips fewer per change,
        and a conflict is a matched-nothing, not an error); outside, in its own transaction."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        with self._pool.connection() as c, c.transaction():
            yield c

    def _insert(self, case: Case, event: Event, idem: IdempotencyRecord | None, contact: str | None) -> None:
        if idem is None and contact is None:  # one statement: the case (unless its id is taken) and its first event
            with self._statement() as conn:
                seq = _exec_hot(conn, b"gt_report", (*_case_params(case), *_event_params(event)[1:]))
            if seq is None:
                raise DuplicateKey("case id", case.id)
            event.seq = seq
            return
        try:
            with self._tx() as conn:
                if idem is not None:
                    cur = conn.execute(
                        "INSERT INTO engine_idempotency (key, fingerprint, case_id) VALUES (%s, %s, %s) "
                        "ON CONFLICT (key) DO NOTHING",
                        (idem.key, idem.fingerprint, idem.case_id),
                    )
                    if cur.rowcount != 1:
                        raise DuplicateKey("idempotency key", idem.key)
                conn.execute(f"INSERT INTO engine_cases ({_CASE_COLS}) VALUES ({', '.join(['%s'] * 13)})", _case_params(case))
                if contact is not None:
                    conn.execute("INSERT INTO engine_contacts (case_id, contact) VALUES (%s, %s)", (case.id, contact))
                event.seq = self._insert_event(conn, event)
        except psycopg.errors.UniqueViolation:
            raise DuplicateKey("case id", case.id) from None

    @staticmethod
    def _insert_event(conn: psycopg.Connection[Any], e: Event) -> int:
        """Insert one audit event; its ``seq``."""
        row = conn.execute(
            "INSERT INTO engine_events (case_id, version, action, from_state, to_state, at, actor, mode, data) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING seq",
            _event_params(e),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def record_notice(self, notice: Notice) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT INTO engine_notices (key, kind, unit, at, payload) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (key) DO NOTHING",
                (notice.key, notice.kind, notice.unit, notice.at, Jsonb(_jsonable(notice.payload))),
            )
            return cur.rowcount == 1

    # ---------------------------------------------------------------- reads
    def get(self, case_id: str) -> Case | None:
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM engine_cases WHERE id=%s", (case_id,)).fetchone()
        return None if row is None else Case.from_dict(row[0])

    def contact(self, case_id: str) -> str | None:
        with self._read() as conn:
            row = conn.execute("SELECT contact FROM engine_contacts WHERE case_id=%s", (case_id,)).fetchone()
        return None if row is None else str(row[0])

    def contact_count(self) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT count(*) FROM engine_contacts").fetchone()
        return 0 if row is None else int(row[0])

    def adopt_contacts(self, rows: Sequence[tuple[str, str]]) -> int:
        with self._tx() as conn, conn.cursor() as cur:
            n = 0
            for cid, c in rows:
                cur.execute(
                    "INSERT INTO engine_contacts (case_id, contact) SELECT id, %s FROM engine_cases WHERE id=%s "
                    "ON CONFLICT (case_id) DO NOTHING",
                    (c, cid),
                )
                n += max(cur.rowcount, 0)
            return n

    def find_idempotency(self, key: str) -> IdempotencyRecord | None:
        with self._read() as conn:
            row = conn.execute("SELECT key, fingerprint, case_id FROM engine_idempotency WHERE key=%s", (key,)).fetchone()
        return None if row is None else IdempotencyRecord(row[0], row[1], row[2])

    def query(self, q: CaseQuery) -> list[Case]:
        where: list[str] = []
        args: list[Any] = []
        if q.states is not None:
            where.append("state = ANY(%s)")
            args.append([str(s) for s in q.states])
        for col in ("grid", "community", "street", "district", "category", "reporter"):
            v = getattr(q, col)
            if v is not None:
                where.append(f"{col} = %s")
                args.append(v)
        if q.level is not None:
            where.append("level = %s")
            args.append(int(q.level))
        if q.assignee is not None:
            where.append("(doc->'assignees') ? %s")
            args.append(q.assignee)
        if q.overdue_at is not None:
            where.append("active AND due_at < %s")
            args.append(q.overdue_at)
        sql = case_page_sql("SELECT doc FROM engine_cases", where, args, q.after_id, q.limit, "%s")
        with self._read() as conn:
            rows = conn.execute(sql, args).fetchall()
        return [Case.from_dict(r[0]) for r in rows]

    def active_cases(self) -> list[Case]:
        with self._read() as conn:
            rows = conn.execute("SELECT doc FROM engine_cases WHERE active ORDER BY id").fetchall()
        return [Case.from_dict(r[0]) for r in rows]

    def events(self, case_id: str | None = None, after_seq: int = 0) -> Iterator[Event]:
        cols = ", ".join(EVENT_COLUMNS)
        with self._read() as conn:
            if case_id is None:
                rows = conn.execute(f"SELECT {cols} FROM engine_events WHERE seq > %s ORDER BY seq", (after_seq,)).fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {cols} FROM engine_events WHERE case_id = %s AND seq > %s ORDER BY seq", (case_id, after_seq)
                ).fetchall()
        return iter([event_from_row(r) for r in rows])

    def count(self) -> int:
        with self._read() as conn:
            row = conn.execute("SELECT count(*) FROM engine_cases").fetchone()
        return int(row[0]) if row else 0

    def all_cases(self) -> Iterator[Case]:
        with self._read() as conn:
            rows = conn.execute("SELECT doc FROM engine_cases ORDER BY id").fetchall()
        return iter([Case.from_dict(r[0]) for r in rows])

    def notices(self, kind: str | None = None) -> list[Notice]:
        with self._read() as conn:
            if kind is None:
                rows = conn.execute("SELECT kind, key, unit, at, payload FROM engine_notices ORDER BY seq").fetchall()
            else:
                rows = conn.execute(
                    "SELECT kind, key, unit, at, payload FROM engine_notices WHERE kind=%s ORDER BY seq", (kind,)
                ).fetchall()
        return [Notice(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def close(self) -> None:
        self._pool.close()


def _jsonable(payload: dict[str, Any]) -> Any:
    """Notices carry tuples (e.g. most_common pairs); store them as JSON lists."""
    return json.loads(json.dumps(payload, default=str))
