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
