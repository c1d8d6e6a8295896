"""The engine's own rule tests (tests/engine) run again on PostgresStore: the same contract as
MemoryStore and SQLiteStore — transitions, escalation, evaluation, queries and KPIs, SLA and
supervision (notices stored once, across a reopen of the store)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine.helpers import FakeClock, Rig, ids
from tests.engine.test_escalation import *  # noqa: F403 - re-collected here with the PostgreSQL rig
from tests.engine.test_evaluation import *  # noqa: F403
from tests.engine.test_queries_kpis import *  # noqa: F403
from tests.engine.test_sla_supervision import *  # noqa: F403
from tests.engine.test_time_rules import *  # noqa: F403
from tests.engine.test_transitions import *  # noqa: F403
from twin.engine import CaseEngine, Store
from twin.engine.postgres import PostgresStore

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def _pg_db(pg_url: str) -> str:
    PostgresStore(pg_url).close()  # create the schema once
    return pg_url


@pytest.fixture
def rig(_pg_db: str) -> Iterator[Rig]:
    import psycopg

    with psycopg.connect(_pg_db, autocommit=True) as conn:
        conn.execute("TRUNCATE engine_cases, engine_events, engine_idempotency, engine_notices RESTART IDENTITY")
    clock = FakeClock()
    opened: list[Store] = []

    def reopen() -> Store:
        s = PostgresStore(_pg_db, max_size=4)
        opened.append(s)
        return s

    store = reopen()
    r = Rig(CaseEngine(store, clock, id_factory=ids()), store, clock, "postgres", reopen, opened)
    yield r
    for s in opened:
        s.close()


def test_a_version_1_database_is_migrated_once_and_keeps_its_cases(pg_url: str) -> None:
    """A database made by schema version 1 (before the fillfactor step) opens at the current
    version with its cases intact, and opening it again migrates nothing."""
    import uuid

    import psycopg

    from twin.engine.postgres import MIGRATIONS, SCHEMA_VERSION
    from twin.engine.types import Place, Source

    base, _, _ = pg_url.rpartition("/")
    name = f"gt_mig_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = f"{base}/{name}"
    try:
        with psycopg.connect(url) as conn, conn.transaction():  # what version 1 left behind
            conn.execute("CREATE TABLE engine_schema (version INTEGER NOT NULL)")
            for stmt in MIGRATIONS[1]:
                conn.execute(stmt)
            conn.execute("INSERT INTO engine_schema (version) VALUES (1)")
        old = PostgresStore(url)
        assert SCHEMA_VERSION >= 2
        eng = CaseEngine(old, clock=lambda: 0.0)
        case = eng.report(category="x", tier="T1", place=Place("G", "C", "S", "D"), source=Source.APP, reporter="r", actor="a")
        old.close()
        again = PostgresStore(url)
        try:
            got = again.get(case.id)
            assert got is not None and got.to_dict() == case.to_dict()
        finally:
            again.close()
        with psycopg.connect(url) as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM engine_schema ORDER BY version")]
            options = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'engine_cases'").fetchone()[0]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        assert "fillfactor=70" in options
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
