"""SQLiteStore specifics: pragmas, schema version, fresh copies, group commit with savepoints,
refusing what it cannot do, notices shared by processes."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from twin.engine import CaseEngine, DuplicateKey, InvalidInput, SQLiteStore, StoreError, VersionConflict
from twin.engine.sqlite import SCHEMA_VERSION
from twin.engine.types import Action, Event, Notice, State

from .helpers import PLACE, FakeClock, ids


def _engine(path: Path, **kw: object) -> tuple[CaseEngine, SQLiteStore, FakeClock]:
    store = SQLiteStore(path, **kw)  # type: ignore[arg-type]
    clock = FakeClock()
    return CaseEngine(store, clock, id_factory=ids()), store, clock


def test_pragmas_and_schema_version(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a.db")
    conn = store._conn()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    assert store.schema_version() == SCHEMA_VERSION
    store.close()
    other = SQLiteStore(tmp_path / "a.db", synchronous="normal", busy_timeout_ms=250)
    assert other._conn().execute("PRAGMA synchronous").fetchone()[0] == 1
    assert other._conn().execute("PRAGMA busy_timeout").fetchone()[0] == 250
    rows = other._conn().execute("SELECT version FROM schema_version").fetchall()
    assert rows == [(v,) for v in range(1, SCHEMA_VERSION + 1)], "one row per migration step; reopening does not migrate twice"
    other.close()


def test_bad_arguments_and_files_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="synchronous"):
        SQLiteStore(tmp_path / "a.db", synchronous="SOMETIMES")
    with pytest.raises(InvalidInput, match="path"):
        SQLiteStore(":memory:")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        SQLiteStore(junk)
    newer = tmp_path / "newer.db"
    SQLiteStore(newer).close()
    with sqlite3.connect(newer) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(newer)
    closed = SQLiteStore(tmp_path / "c.db")
    closed.close()
    with pytest.raises(StoreError, match="closed"):
        closed.count()


def test_get_returns_a_fresh_copy(tmp_path: Path) -> None:
    engine, store, _ = _engine(tmp_path / "a.db")
    c = engine.report(category="c", tier="T1", place=PLACE, source="app")
    a, b = store.get(c.id), store.get(c.id)
    assert a is not None and b is not None and a is not b and a.to_dict() == b.to_dict() == c.to_dict()
    a.state = a.state.__class__("closed")
    assert store.get(c.id).state.value == "reported"  # type: ignore[union-attr]
    store.close()


def test_a_failed_commit_leaves_the_callers_case_untouched(tmp_path: Path) -> None:
    engine, store, _ = _engine(tmp_path / "a.db")
    c = engine.report(category="c", tier="T1", place=PLACE, source="app")
    stale = store.get(c.id)
    assert stale is not None
    engine.accept(c.id, 1, "a")
    with pytest.raises(VersionConflict):
        store.commit(stale, Event(c.id, 2, Action.REJECT, State.REPORTED, State.REJECTED, 1.0, "b"))
    assert (stale.state.value, stale.version) == ("reported", 1)
    with pytest.raises(DuplicateKey, match="case id"):
        store.commit(stale, Event(c.id, 1, Action.REPORT, None, State.REPORTED, 1.0, "b", data={}))
    assert store.event_count() == 2
    store.close()


def test_batch_is_one_transaction_and_a_failing_commit_rolls_back_alone(tmp_path: Path) -> None:
    engine, store, _ = _engine(tmp_path / "a.db")
    path = tmp_path / "a.db"
    with store.batch():
        a = engine.report(category="c", tier="T1", place=PLACE, source="app")
        b = engine.report(category="c", tier="T1", place=PLACE, source="app")
        engine.accept(a.id, 1, "x")
        with pytest.raises(VersionConflict):
            engine.accept(b.id, 7, "x")
        with store.batch():  # nested: still the same transaction
            engine.accept(b.id, 1, "x")
        # another connection does not see the group before it commits
        with sqlite3.connect(path) as peek:
            assert peek.execute("SELECT count(*) FROM cases").fetchone()[0] == 0
    with sqlite3.connect(path) as peek:
        assert peek.execute("SELECT count(*) FROM events").fetchone()[0] == 4
    assert store.event_count() == 4 and store.get(a.id).version == 2  # type: ignore[union-attr]


def test_commits_that_succeeded_in_a_batch_stay_when_the_block_raises(tmp_path: Path) -> None:
    engine, store, _ = _engine(tmp_path / "a.db")
    with pytest.raises(RuntimeError), store.batch():
        engine.report(category="c", tier="T1", place=PLACE, source="app")
        raise RuntimeError("caller failed after the commit")
    assert store.count() == 1 and not store._conn().in_transaction
    store.close()


def test_notices_are_kept_once_across_stores_and_threads(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    stores = [SQLiteStore(path) for _ in range(3)]
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def work(s: SQLiteStore) -> None:
        barrier.wait()
        r = s.record_notice(Notice("reminder", "reminder:x:2025-02-20", "G01", 1.0, {"case_id": "x"}))
        with lock:
            results.append(r)

    threads = [threading.Thread(target=work, args=(stores[i % 3],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 5 + [True]
    assert [n.key for n in stores[0].notices("reminder")] == ["reminder:x:2025-02-20"]
    assert stores[1].notices("bulletin") == []
    for s in stores:
        s.close()


def test_the_audit_log_streams_in_pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import twin.engine.sqlite as mod

    monkeypatch.setattr(mod, "_PAGE", 3)
    engine, store, _ = _engine(tmp_path / "a.db", synchronous="OFF")
    made = [engine.report(category="c", tier="T1", place=PLACE, source="app").id for _ in range(7)]
    assert [c.id for c in store.all_cases()] == sorted(made)
    assert [e.seq for e in store.events()] == list(range(1, 8))
    assert [e.seq for e in store.events(after_seq=5)] == [6, 7]
    store.close()
