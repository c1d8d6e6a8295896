"""No personal data left behind: a reporter's contact is stored only for a case that is
created — never for an idempotent replay, a request refused for a conflicting body under the
same key, or a report the engine refuses — and contacts whose case never came (a crash between
storing the contact and committing the case, or rows earlier versions left) are swept away.
Over a real ``twin serve`` on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

from twin.service.app import Service, ServiceConfig, build_service
from twin.service.storage import ORPHAN_GRACE_SECONDS, open_stores

from .helpers import Server, report


def _counts(db: str) -> tuple[int, int]:
    """(cases, contact rows) in the database."""
    store, sstore = open_stores(db)
    try:
        return store.count(), sstore.contact_count()
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
        stored = {sstore.contact(c.id) for c in store.all_cases()}
        assert "13999999999" not in stored and {"13800000001", "13800000002"} <= stored
    finally:
        store.close()
        sstore.close()


def _service(db: str) -> Service:
    return build_service(ServiceConfig(db=db, group_commit=False))


def test_sweep_removes_old_orphans_only(tmp_path: Path) -> None:
    """Rows an earlier version left (created_at 0 after the migration) and rows older than the
    grace period without a case go; a contact of an existing case, or a fresh one whose case may
    still be committing, stays."""
    db = str(tmp_path / "sweep.db")
    svc = _service(db)
    try:
        now = time.time()
        svc.sstore.put_contact("legacy-orphan", "13800000009", 0.0)
        svc.sstore.put_contact("old-orphan", "13800000008", now - ORPHAN_GRACE_SECONDS - 5)
        svc.sstore.put_contact("in-flight", "13800000007", now)
        from twin.engine.types import Place

        svc.engine.id_factory = lambda: "kept"  # type: ignore[method-assign]
        case = svc.engine.report(category="environment", tier="T1", place=Place("G1", "C1", "S1", "D"), source="app", reporter="r", actor="r")
        assert case.id == "kept"
        svc.sstore.put_contact("kept", "13800000006", 0.0)
        assert svc.sweep_contacts(now) == 2
        assert svc.sstore.contact("kept") == "13800000006" and svc.sstore.contact("in-flight") == "13800000007"
        assert svc.sstore.contact("legacy-orphan") is None and svc.sstore.contact("old-orphan") is None
        assert svc.sweep_contacts(now) == 0  # nothing new since
        assert svc.sweep_contacts(now + ORPHAN_GRACE_SECONDS + 1) == 1  # the fresh row is now an orphan
    finally:
        svc.engine.store.close()
        svc.sstore.close()


def test_migration_adds_created_at_to_an_old_contacts_table(tmp_path: Path) -> None:
    """A database from before the column: opening it adds ``created_at`` (0: old enough to sweep)."""
    import sqlite3

    db = str(tmp_path / "old.db")
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE svc_contacts (case_id TEXT PRIMARY KEY, contact TEXT NOT NULL)")
        conn.execute("INSERT INTO svc_contacts VALUES ('gone', '13800000005')")
    svc = _service(db)
    try:
        assert svc.sweep_contacts() == 1 and svc.sstore.contact_count() == 0
    finally:
        svc.engine.store.close()
        svc.sstore.close()
