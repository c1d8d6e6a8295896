"""Connections and transactions for the small tables that sit beside the case store.

The mobilisation's tables (:mod:`twin.engine.mobilisation`) and the service's own tables
(tokens, idempotent responses, the mode log: ``twin.service.storage``) live in the database of
the engine's case store but are not the case store: they need only plain write transactions
and plain reads. This module is that one piece of plumbing, kept here at the bottom so the
service (which sits on the engine) and the engine share it:

- :class:`SqlTables` — the shared logic: ``?`` placeholders (rewritten to ``%s`` for
  PostgreSQL), :meth:`~SqlTables._all` and :meth:`~SqlTables._one` over the subclass's
  transaction and read contexts;
- :class:`SQLiteTables` — one connection per thread to a SQLite file (WAL,
  ``synchronous=FULL``, a 30 s busy timeout), writes in ``BEGIN IMMEDIATE`` transactions; or,
  for ``:memory:``, one shared in-memory database behind a lock (the service's ``memory:``
  mode, for tests);
- :class:`PostgresTables` — a small psycopg pool with ``synchronous_commit=on``; a write may
  name a key to serialise on (a transaction-scoped advisory lock).

The case store itself (:mod:`twin.engine.sqlite`, :mod:`twin.engine.postgres`) keeps its own
connections: it needs savepoints, group commit and fork safety that these tables do not.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: Seconds a SQLite writer waits for the file's write lock; a pool waits to open.
TIMEOUT_S = 30.0
#: The first key of PostgreSQL advisory locks taken by :meth:`PostgresTables._tx` (the second
#: is a hash of the key the caller names).
LOCK_SPACE = 727270100


def sqlite_path(url: str) -> str | None:
    """The file path of a SQLite URL (``sqlite:///x.db`` or a plain path), else None
    (``postgresql://…``, ``memory:``). ValueError for another scheme."""
    if url.startswith(("postgresql://", "postgres://")) or url == "memory:":
        return None
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if url.startswith("sqlite://"):
        return url[len("sqlite://") :]
    if "://" in url:
        raise ValueError(f"--db {url!r}: expected a SQLite path, sqlite:///path, postgresql://… or memory:")
    return url


class SqlTables:
    """Queries over a subclass's transactions and reads, in ``?`` placeholder style."""

    ph = "?"

    @contextmanager
    def _tx(self, lock: str | None = None) -> Iterator[Any]:  # pragma: no cover - overridden
        """A write transaction's cursor; ``lock`` names what it must serialise on (PostgreSQL:
        an advisory lock; SQLite's BEGIN IMMEDIATE serialises every writer anyway)."""
        raise TypeError("abstract")
        yield

    @contextmanager
    def _read(self) -> Iterator[Any]:  # pragma: no cover - overridden
        """A cursor for plain reads (autocommit: never waits for, nor blocks, writers)."""
        raise TypeError("abstract")
        yield

    def _q(self, sql: str) -> str:
        return sql if self.ph == "?" else sql.replace("?", "%s")

    def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._read() as cur:
            cur.execute(self._q(sql), args)
            return list(cur.fetchall())

    def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        """The first row, or None."""
        with self._read() as cur:
            cur.execute(self._q(sql), args)
            return cur.fetchone()

    def close(self) -> None:  # pragma: no cover - overridden
        raise TypeError("abstract")


class SQLiteTables(SqlTables):
    """The tables in a SQLite file, one connection per thread; ``:memory:``: one shared
    in-memory database, every use of it behind one lock."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._memory: sqlite3.Connection | None = None
        self._memory_lock = threading.Lock()
        if path == ":memory:":
            self._memory = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)

    def _conn(self) -> sqlite3.Connection:
        if self._memory is not None:
            return self._memory
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={int(TIMEOUT_S * 1000)}")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """The in-memory database's lock (a file's connections are each one thread's own)."""
        if self._memory is None:
            yield
            return
        with self._memory_lock:
            yield

    @contextmanager
    def _tx(self, lock: str | None = None) -> Iterator[sqlite3.Cursor]:
        with self._guard():
            conn = self._conn()
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Cursor]:
        with self._guard():
            yield self._conn().cursor()

    def close(self) -> None:
        with self._lock:
            for c in self._conns:
                c.close()
            self._conns.clear()
            if self._memory is not None:
                self._memory.close()


class PostgresTables(SqlTables):
    """The tables in PostgreSQL through a small psycopg pool (``synchronous_commit=on``)."""

    ph = "%s"

    def __init__(self, url: str, max_size: int = 8) -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        def configure(conn: psycopg.Connection[Any]) -> None:
            conn.execute("SET synchronous_commit = on")
            conn.commit()

        self._pool = ConnectionPool(url, min_size=1, max_size=max_size, configure=configure, open=False)
        self._pool.open(wait=True, timeout=TIMEOUT_S)

    @contextmanager
    def _tx(self, lock: str | None = None) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if lock is not None:
                cur.execute(f"SELECT pg_advisory_xact_lock({LOCK_SPACE}, hashtext(%s))", (lock,))
            yield cur

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    def close(self) -> None:
        self._pool.close()
