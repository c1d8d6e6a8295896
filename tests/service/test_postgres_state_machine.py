"""The engine's hypothesis state machine (tests/engine/test_state_machine.py) on PostgresStore:
the same invariants — legal graph, nothing changed by a refused action, audit fold equals the
stored case, no case lost — with the time-rule actions of issue 12, across store reopens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest
from hypothesis import settings

from tests.engine.test_state_machine import _SETTINGS, EngineMachine
from twin.engine import Store
from twin.engine.postgres import PostgresStore

pytestmark = pytest.mark.postgres


class PostgresEngineMachine(EngineMachine):
    kind = "postgres"
    url: ClassVar[str] = ""

    def __init__(self) -> None:
        self._fresh = True
        super().__init__()

    def _open(self) -> Store:
        if self._fresh:  # every example starts from empty tables
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute("TRUNCATE engine_cases, engine_events, engine_idempotency, engine_notices RESTART IDENTITY")
            self._fresh = False
        return PostgresStore(self.url, max_size=2)


@pytest.fixture(scope="module", autouse=True)
def _database(pg_url: str) -> Iterator[None]:
    PostgresStore(pg_url).close()  # create the schema once
    PostgresEngineMachine.url = pg_url
    yield


TestEngineOnPostgres = PostgresEngineMachine.TestCase
TestEngineOnPostgres.settings = settings(_SETTINGS, max_examples=15)
