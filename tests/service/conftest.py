"""Fixtures for the service tests (see helpers.py): a real ``twin serve`` on SQLite or on a
fresh PostgreSQL database per module, with tokens for every role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import Server, fresh_pg_database, make_tokens, start_server


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server of GRIDTWIN_PG_URL, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("svc")
    db = str(d / "gridtwin.db")
    tokens = make_tokens(db)
    srv = start_server(db, d / "serve.log")
    srv.tokens = tokens
    yield srv
    srv.stop()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def multi_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``twin serve --workers 2`` on SQLite, and on PostgreSQL (several processes, one database)."""
    d = tmp_path_factory.mktemp(f"multi-{request.param}")
    db = str(d / "gridtwin.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    tokens = make_tokens(db)
    srv = start_server(db, d / "serve.log", workers=2)
    srv.tokens = tokens
    yield srv
    srv.stop()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``twin serve`` (one worker) on SQLite, and on PostgreSQL."""
    d = tmp_path_factory.mktemp(f"any-{request.param}")
    db = str(d / "gridtwin.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    tokens = make_tokens(db)
    srv = start_server(db, d / "serve.log")
    srv.tokens = tokens
    yield srv
    srv.stop()
