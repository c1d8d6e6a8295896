"""Service-only data, kept apart from the cases: tokens, idempotent responses and the record
of mode changes — on the same database as the engine's store. (Reporters' contacts live with
their cases in the engine's store, written in the case's own transaction; this store only hands
over the ones earlier versions kept here, see :func:`migrate_contacts`.)

Two implementations of one small interface (SQLite, PostgreSQL). ``open_stores(url)`` opens the
engine's case store and this one for a database URL:

- ``sqlite:///path/to.db`` or a plain path — SQLite (WAL, ``synchronous=FULL``);
- ``postgresql://user:pw@host:port/db`` — PostgreSQL (``synchronous_commit=on``);
- ``memory:`` — the engine's MemoryStore with an in-memory SQLite for service data (tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from twin.engine.sqltables import PostgresTables, SQLiteTables, SqlTables, sqlite_path
from twin.engine.store import Store
from twin.service.auth import Principal, Role, ScopeKind


@dataclass(frozen=True, slots=True)
class ModeRecord:
    """A row of the service's mode log (``POST /mode``): its sequence number, the mode set,
    when (wall-clock minutes since the epoch), by whom and why. The model's own record of a change
    (clock minutes, from → to, source, applied or only advised) is :class:`twin.modes.ModeChange`."""

    seq: int
    mode: str
    at: float
    actor: str
    reason: str


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token (never the token itself): its id (the first 12 hex digits of its hash,
    enough to name it for revocation), principal, and times in seconds since the epoch."""

    id: str
    principal: Principal
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def refusal(self, now: float) -> str | None:
        """Why this token is refused at ``now`` (the 401 text), or None when it is valid."""
        if self.revoked_at is not None:
            return f"token {self.id} was revoked at {_iso(self.revoked_at)}"
        if self.expires_at is not None and now >= self.expires_at:
            return f"token {self.id} expired at {_iso(self.expires_at)}; create a new one with `twin token create`"
        return None


def _iso(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


IdemOutcome = Literal["new", "conflict", "in_flight", "done", "takeover"]


@dataclass(frozen=True, slots=True)
class IdemState:
    """What an idempotency key says about a request (see :meth:`ServiceStore.idem_begin`)."""

    outcome: IdemOutcome
    case_id: str | None = None
    status: int | None = None
    body: bytes | None = None


class ServiceStore(Protocol):
    def add_token(self, token_hash: str, principal: Principal, at: float, expires_at: float | None = None) -> None: ...
    def principal(self, token_hash: str) -> Principal | None: ...
    def token(self, token_hash: str) -> TokenRecord | None: ...
    def tokens(self) -> list[TokenRecord]: ...
    def revoke_tokens(self, at: float, name: str | None = None, token_id: str | None = None) -> int: ...
    def revoke_token_hashes(self, at: float, hashes: list[str]) -> int: ...
    def legacy_contacts(self) -> list[tuple[str, str]]: ...
    def drop_legacy_contacts(self) -> None: ...
    def idem_begin(self, key: str, fingerprint: str, case_id: str, now: float, lease: float) -> IdemState: ...
    def idem_finish(self, key: str, case_id: str, status: int, body: bytes) -> None: ...
    def idem_abort(self, key: str) -> None: ...
    def record_mode(
        self, mode: str, at: float, actor: str, reason: str, check: Callable[[str], None] | None = None
    ) -> ModeRecord: ...
    def modes(self) -> list[ModeRecord]: ...
    def current_mode(self) -> ModeRecord | None: ...
    def close(self) -> None: ...


_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS svc_tokens (
        token_hash TEXT PRIMARY KEY, principal TEXT NOT NULL, role TEXT NOT NULL,
        scope_kind TEXT NOT NULL, scope_unit TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS svc_idempotency (
        key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, state TEXT NOT NULL, case_id TEXT NOT NULL,
        status INTEGER, body BYTEA, updated_at DOUBLE PRECISION NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS svc_modes (
        seq INTEGER PRIMARY KEY, mode TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
        actor TEXT NOT NULL, reason TEXT NOT NULL)""",
)

#: Columns added after the first release (table, column, type): added where missing when a
#: store opens.
_ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("svc_tokens", "expires_at", "DOUBLE PRECISION"),
    ("svc_tokens", "revoked_at", "DOUBLE PRECISION"),
)
#: Where versions before contacts moved to the engine's store kept them.
LEGACY_CONTACTS = "svc_contacts"


class _SqlServiceStore(SqlTables):
    """The shared logic; :class:`~twin.engine.sqltables.SqlTables`' subclasses supply the
    connections, transactions and the placeholder style."""

    def add_token(self, token_hash: str, principal: Principal, at: float, expires_at: float | None = None) -> None:
        with self._tx() as cur:
            cur.execute(
                self._q(
                    "INSERT INTO svc_tokens (token_hash, principal, role, scope_kind, scope_unit, created_at, expires_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                (token_hash, principal.id, principal.role.value, principal.scope_kind.value, principal.scope_unit, at, expires_at),
            )

    _TOKEN_COLUMNS = "token_hash, principal, role, scope_kind, scope_unit, created_at, expires_at, revoked_at"

    @staticmethod
    def _token(row: Any) -> TokenRecord:
        p = Principal(row[1], Role(row[2]), ScopeKind(row[3]), row[4])
        return TokenRecord(
            str(row[0])[:12], p, float(row[5]), None if row[6] is None else float(row[6]), None if row[7] is None else float(row[7])
        )

    def token(self, token_hash: str) -> TokenRecord | None:
        row = self._one(f"SELECT {self._TOKEN_COLUMNS} FROM svc_tokens WHERE token_hash = ?", (token_hash,))
        return None if row is None else self._token(row)

    def principal(self, token_hash: str) -> Principal | None:
        """The principal of a token valid now (not revoked, not expired), else None."""
        rec = self.token(token_hash)
        return None if rec is None or rec.refusal(time.time()) is not None else rec.principal

    def tokens(self) -> list[TokenRecord]:
        with self._read() as cur:
            cur.execute(f"SELECT {self._TOKEN_COLUMNS} FROM svc_tokens ORDER BY created_at, token_hash")
            return [self._token(r) for r in cur.fetchall()]

    def revoke_tokens(self, at: float, name: str | None = None, token_id: str | None = None) -> int:
        """Revoke the live tokens of principal ``name``, or the one whose id is ``token_id``;
        how many were revoked."""
        if (name is None) == (token_id is None):
            raise ValueError("revoke: give exactly one of name and token id")
        where, arg = ("principal = ?", name) if name is not None else ("token_hash LIKE ?", f"{token_id}%")
        with self._tx() as cur:
            cur.execute(self._q(f"UPDATE svc_tokens SET revoked_at = ? WHERE {where} AND revoked_at IS NULL"), (at, arg))
            return max(cur.rowcount, 0)

    def revoke_token_hashes(self, at: float, hashes: list[str]) -> int:
        """Revoke the live tokens whose hashes are given (a closed mobilisation's member
        tokens); how many were revoked."""
        n = 0
        for i in range(0, len(hashes), 1000):
            with self._tx() as cur:
                for h in hashes[i : i + 1000]:
                    cur.execute(self._q("UPDATE svc_tokens SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL"), (at, h))
                    n += max(cur.rowcount, 0)
        return n

    def _has_table(self, name: str) -> bool:  # pragma: no cover - overridden
        raise TypeError("abstract")

    def legacy_contacts(self) -> list[tuple[str, str]]:
        """(case id, contact) rows an earlier version stored here, orphans included; [] when none."""
        if not self._has_table(LEGACY_CONTACTS):
            return []
        with self._read() as cur:
            cur.execute(f"SELECT case_id, contact FROM {LEGACY_CONTACTS}")
            return [(str(r[0]), str(r[1])) for r in cur.fetchall()]

    def drop_legacy_contacts(self) -> None:
        with self._tx() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {LEGACY_CONTACTS}")

    def idem_begin(self, key: str, fingerprint: str, case_id: str, now: float, lease: float) -> IdemState:
        """Claim ``key`` for a new request that will create the case ``case_id``.

        ``new``: go ahead. ``conflict``: the key was used with another body. ``in_flight``:
        another request holds it (younger than ``lease`` seconds). ``done``: replay ``body``.
        ``takeover``: a holder older than the lease (it crashed) — go ahead; the engine's own
        idempotency record tells whether its case was committed.
        """
        with self._tx() as cur:
            cur.execute(
                self._q(
                    "INSERT INTO svc_idempotency (key, fingerprint, state, case_id, updated_at) "
                    "VALUES (?, ?, 'in_flight', ?, ?) ON CONFLICT (key) DO NOTHING"
                ),
                (key, fingerprint, case_id, now),
            )
            if cur.rowcount == 1:
                return IdemState("new")
            cur.execute(self._q("SELECT fingerprint, state, case_id, status, body, updated_at FROM svc_idempotency WHERE key = ?"), (key,))
            row = cur.fetchone()
            if row is None:  # deleted by an aborting holder in between: the caller retries
                return IdemState("in_flight")
            fp, state, old_case, status, body, updated = row
            if fp != fingerprint:
                return IdemState("conflict", old_case)
            if state == "done":
                return IdemState("done", old_case, int(status), bytes(body))
            if now - float(updated) < lease:
                return IdemState("in_flight", old_case)
            cur.execute(
                self._q("UPDATE svc_idempotency SET updated_at = ?, case_id = ? WHERE key = ? AND updated_at = ? AND state = 'in_flight'"),
                (now, case_id, key, updated),
            )
            if cur.rowcount != 1:
                return IdemState("in_flight", old_case)
            return IdemState("takeover", old_case)

    def idem_finish(self, key: str, case_id: str, status: int, body: bytes) -> None:
        with self._tx() as cur:
            cur.execute(
                self._q("UPDATE svc_idempotency SET state = 'done', case_id = ?, status = ?, body = ? WHERE key = ?"),
                (case_id, status, body, key),
            )

    def idem_abort(self, key: str) -> None:
        with self._tx() as cur:
            cur.execute(self._q("DELETE FROM svc_idempotency WHERE key = ? AND state = 'in_flight'"), (key,))

    _mode_lock = ""  # a statement that serialises mode changes (PostgreSQL); SQLite's BEGIN IMMEDIATE does

    def record_mode(
        self, mode: str, at: float, actor: str, reason: str, check: Callable[[str], None] | None = None
    ) -> ModeRecord:
        """Record a change to ``mode``. ``check(current mode)`` runs first in the same transaction,
        with changes serialised, and may raise to refuse the change (nothing is recorded)."""
        with self._tx() as cur:
            if self._mode_lock:
                cur.execute(self._mode_lock)
            cur.execute("SELECT mode FROM svc_modes ORDER BY seq DESC LIMIT 1")
            row = cur.fetchone()
            if check is not None:
                check("normal" if row is None else str(row[0]))
            cur.execute("SELECT coalesce(max(seq), 0) + 1 FROM svc_modes")
            seq = int(cur.fetchone()[0])
            cur.execute(self._q("INSERT INTO svc_modes VALUES (?, ?, ?, ?, ?)"), (seq, mode, at, actor, reason))
        return ModeRecord(seq, mode, at, actor, reason)

    def modes(self) -> list[ModeRecord]:
        with self._read() as cur:
            cur.execute("SELECT seq, mode, at, actor, reason FROM svc_modes ORDER BY seq")
            rows = cur.fetchall()
        return [ModeRecord(int(r[0]), r[1], float(r[2]), r[3], r[4]) for r in rows]

    def current_mode(self) -> ModeRecord | None:
        r = self._one("SELECT seq, mode, at, actor, reason FROM svc_modes ORDER BY seq DESC LIMIT 1")
        return None if r is None else ModeRecord(int(r[0]), r[1], float(r[2]), r[3], r[4])


class SQLiteServiceStore(SQLiteTables, _SqlServiceStore):
    """Service data in a SQLite file (WAL, synchronous=FULL), one connection per thread."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        with self._tx() as cur:
            for stmt in _SCHEMA:
                cur.execute(stmt.replace("BYTEA", "BLOB"))
            for table, column, kind in _ADDED_COLUMNS:
                cur.execute(f"PRAGMA table_info({table})")
                if column not in {r[1] for r in cur.fetchall()}:
                    cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def _has_table(self, name: str) -> bool:
        return self._one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)) is not None


class PostgresServiceStore(PostgresTables, _SqlServiceStore):
    """Service data in PostgreSQL (synchronous_commit=on), through a psycopg pool."""

    _mode_lock = "SELECT pg_advisory_xact_lock(727270003)"

    def __init__(self, url: str, max_size: int = 8) -> None:
        super().__init__(url, max_size)
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(727270002)")
            for stmt in _SCHEMA:
                conn.execute(stmt)
            for table, column, kind in _ADDED_COLUMNS:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")

    def _has_table(self, name: str) -> bool:
        return self._one("SELECT to_regclass(?)", (name,))[0] is not None


def open_stores(url: str, group_commit: bool = False, committers: int = 0) -> tuple[Store, ServiceStore]:
    """The engine's case store and the service store for a database URL (see module doc).

    ``group_commit`` wraps a durable case store in
    :class:`~twin.service.groupcommit.GroupCommitStore` (what the server does) with
    ``committers`` threads (0: one for SQLite, which has one writer at a time; two for
    PostgreSQL, where one batch's round trips and flush overlap the other's work)."""
    store, sstore = _open(url)
    if group_commit and url != "memory:":
        from twin.service.groupcommit import GroupCommitStore

        n = committers or (1 if sqlite_path(url) is not None else 2)
        return GroupCommitStore(store, committers=n), sstore
    return store, sstore


def _open(url: str) -> tuple[Store, ServiceStore]:
    if url == "memory:":
        from twin.engine.memory import MemoryStore

        return MemoryStore(), SQLiteServiceStore(":memory:")
    if url.startswith(("postgresql://", "postgres://")):
        from twin.engine.postgres import PostgresStore

        return PostgresStore(url), PostgresServiceStore(url)
    path = sqlite_path(url)
    assert path is not None
    from twin.engine.sqlite import SQLiteStore

    return SQLiteStore(path), SQLiteServiceStore(path)


def migrate_contacts(store: Store, sstore: ServiceStore) -> int:
    """Hand the contacts earlier versions kept in the service store over to the engine's store
    (beside their cases) and drop the old table: the contacts whose case was never created —
    left by replays, refused requests and crashes before contacts moved — go with it. Safe to
    run again, and from several workers at once (a contact already moved is kept, not doubled).
    How many were moved."""
    rows = sstore.legacy_contacts()
    moved = store.adopt_contacts(rows) if rows else 0
    sstore.drop_legacy_contacts()
    return moved


def now_seconds() -> float:
    return time.time()


def open_service_store(url: str) -> ServiceStore:
    """Only the service store (for ``twin token create``)."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresServiceStore(url, max_size=2)
    path = sqlite_path(url)
    if path is None:
        raise ValueError(f"--db {url!r}: tokens need a durable database (a SQLite path or postgresql://…)")
    return SQLiteServiceStore(path)
