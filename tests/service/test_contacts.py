"""No personal data left behind: a reporter's contact is committed in its case's transaction,
so it is stored only for a case that is created — never for an idempotent replay, a request
refused for a conflicting body under the same key, or a report the engine refuses — and the
orphans earlier versions left are dropped when the service opens the database. Over a real
``twin serve`` on SQLite and on PostgreSQL (the crash run's count is in test_crash)."""

from __future__ import annotations

from pathlib import Path

from twin.engine import CaseEngine
from twin.service.storage import migrate_contacts, open_stores

from .helpers import Server, report


def _counts(db: str) -> tuple[int, int]:
    """(cases, contact rows) in the database."""
    store, sstore = open_stores(db)
    try:
        return store.count(), store.contact_count()
    finally:
        store.close()
        sstore.close()


def test_replays_and_conflicts_store_no_contact(any_server: Server) -> None:
    cases0, contacts0 = _counts(any_server.db)
    with any_server.client(any_server.tokens["resident"]) as res:
        for _ in range(5):
            r = report(res, key="k-contacts-1", contact="13800000001", description="one")
            assert r.status_code == 201, r.text
        conflict = report(res, key="k-contacts-1", contact="13999999999", description="another body")
        assert conflict.status_code == 422 and "Idempotency-Key" in conflict.json()["reason"]
        assert report(res, contact="13800000002", description="no key").status_code == 201
        refused = report(res, contact="13800000003", tier="T9")
        assert refused.status_code == 422
    cases, contacts = _counts(any_server.db)
    assert (cases - cases0, contacts - contacts0) == (2, 2)
    store, sstore = open_stores(any_server.db)
    try:
        stored = {store.contact(c.id) for c in store.all_cases()}
        assert "13999999999" not in stored and {"13800000001", "13800000002"} <= stored
    finally:
        store.close()
        sstore.close()


def test_migration_moves_contacts_beside_their_cases_and_drops_orphans(tmp_path: Path) -> None:
    """A database from before contacts moved into the case's transaction: the contact of an
    existing case moves beside it, the orphans (a replay's, a refused request's, a crash's) go
    with the old table, and opening it again changes nothing."""
    import sqlite3

    from twin.engine.types import Place

    db = str(tmp_path / "old.db")
    store, sstore = open_stores(db)
    case = CaseEngine(store, lambda: 0.0).report(category="environment", tier="T1", place=Place("G1", "C1", "S1", "D"), source="app", case_id="kept")
    store.close()
    sstore.close()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE svc_contacts (case_id TEXT PRIMARY KEY, contact TEXT NOT NULL, created_at REAL NOT NULL DEFAULT 0)")
        conn.executemany("INSERT INTO svc_contacts (case_id, contact) VALUES (?, ?)", [(case.id, "13800000006"), ("orphan", "13800000009")])
    for moved in (1, 0):
        store, sstore = open_stores(db)
        try:
            assert migrate_contacts(store, sstore) == moved
            assert store.contact("kept") == "13800000006" and store.contact("orphan") is None
            assert store.contact_count() == 1 and sstore.legacy_contacts() == []
        finally:
            store.close()
            sstore.close()
