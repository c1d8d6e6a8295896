"""Crash safety: the real ``twin serve`` process is SIGKILLed at random moments under load, ≥ 10
times (and on PostgreSQL the database server is also stopped with ``-m immediate``): 0
acknowledged cases lost, 0 duplicates, integrity clean after every restart, the audit log folds
into every stored case, and supervision notices are not emitted twice."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import pytest

from twin.engine.audit import verify_case
from twin.service.storage import open_stores

from .helpers import Server, make_tokens, report, restart, start_server
from .load import Writer

CYCLES = 10


def _integrity(db: str) -> None:
    """SQLite's own check, or (PostgreSQL) the constraints' view: no case without its events."""
    store, sstore = open_stores(db)
    try:
        if hasattr(store, "integrity_check"):
            assert store.integrity_check() == "ok"
        else:
            import psycopg

            with psycopg.connect(db) as conn:
                orphans = conn.execute(
                    "SELECT count(*) FROM engine_cases c WHERE NOT EXISTS "
                    "(SELECT 1 FROM engine_events e WHERE e.case_id = c.id AND e.version = c.version)"
                ).fetchone()
            assert orphans is not None and orphans[0] == 0
    finally:
        store.close()
        sstore.close()


def _stop_postgres_immediately() -> None:
    clusters = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout.split()
    version, name = clusters[0], clusters[1]
    subprocess.run(["su", "postgres", "-c", f"pg_ctlcluster {version} {name} stop -m immediate"], check=True, timeout=60)
    time.sleep(1.0)
    subprocess.run(["service", "postgresql", "start"], check=True, timeout=120, capture_output=True)
    for _ in range(60):
        if subprocess.run(["su", "postgres", "-c", "pg_isready -q"]).returncode == 0:
            return
        time.sleep(0.5)
    raise AssertionError("PostgreSQL did not come back")


def _crash_cycles(srv: Server, db: str, stop_db: bool) -> None:
    rng = random.Random(20261125)
    holder = {"srv": srv}
    writer = Writer(lambda: holder["srv"].url, srv.tokens["grid_worker"], threads=4)
    with srv.client(srv.tokens["grid_worker"]) as gw:
        assert report(gw, category="environment").status_code == 201
    with srv.client(srv.tokens["admin"]) as adm:
        assert adm.post("/supervision/run").status_code == 200
        first_notices = adm.get("/supervision/bulletins").json()["items"]
    assert [n["key"].split(":")[1] for n in first_notices] == ["S1"]
    writer.start()
    try:
        for cycle in range(CYCLES):
            time.sleep(rng.uniform(0.3, 1.2))
            if stop_db and cycle == CYCLES // 2:
                _stop_postgres_immediately()
                time.sleep(rng.uniform(0.2, 0.8))
            holder["srv"].kill()
            _integrity(db)
            holder["srv"] = restart(holder["srv"])
        time.sleep(1.0)
    finally:
        writer.stop()
        holder["srv"].kill()
    srv = holder["srv"] = restart(holder["srv"])
    try:
        ledger = writer.ledger
        assert len(ledger.acked) > 20, ledger
        assert set(ledger.statuses) <= {200, 201, 409, 412, 429, 503}, ledger.statuses
        store, sstore = open_stores(db)
        try:
            stored = {c.id: c for c in store.all_cases() if c.category == "facility"}
            lost = [k for k, cid in ledger.acked.items() if cid not in stored]
            assert lost == [], f"acknowledged but lost: {lost[:5]}"
            by_key: dict[str, list[str]] = {}
            for c in stored.values():
                by_key.setdefault(c.description, []).append(c.id)
            dups = {k: v for k, v in by_key.items() if len(v) > 1}
            assert dups == {}, f"duplicates: {list(dups.items())[:3]}"
            for cid in ledger.accepted:
                assert stored[cid].state.value == "accepted" and stored[cid].version == 2
            for c in stored.values():
                verify_case(c, store.events(c.id))
                assert store.contact(c.id) == f"tel-{c.description}"
            notices = store.notices()
            assert len({n.key for n in notices}) == len(notices)
            # Personal data: a contact commits with its case or not at all, so however the
            # kills fell there is exactly one contact row per case that has one (no orphans).
            assert store.contact_count() == len(stored), f"{store.contact_count()} contacts beside {len(stored)} cases"
        finally:
            store.close()
            sstore.close()
        with srv.client(srv.tokens["admin"]) as adm:
            adm.post("/supervision/run")
            again = adm.get("/supervision/bulletins").json()["items"]
        assert again == first_notices, "supervision emitted a bulletin twice across restarts"
    finally:
        srv.stop()


@pytest.mark.slow
def test_sigkill_under_load_sqlite(tmp_path: Path) -> None:
    db = str(tmp_path / "crash.db")
    tokens = make_tokens(db)
    srv = start_server(db, tmp_path / "serve.log")
    srv.tokens = tokens
    _crash_cycles(srv, db, stop_db=False)


@pytest.mark.slow
@pytest.mark.postgres
def test_sigkill_and_immediate_db_stop_postgres(pg_url: str, tmp_path: Path) -> None:
    tokens = make_tokens(pg_url)
    srv = start_server(pg_url, tmp_path / "serve.log")
    srv.tokens = tokens
    _crash_cycles(srv, pg_url, stop_db=True)


