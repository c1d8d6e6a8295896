"""Fixtures for the engine tests: every rule runs on MemoryStore and on SQLiteStore."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from twin.engine import CaseEngine, MemoryStore, SQLiteStore, Store

from .helpers import FakeClock, Rig, ids


@pytest.fixture(params=["memory", "sqlite"])
def rig(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Rig]:
    clock = FakeClock()
    opened: list[Store] = []
    if request.param == "memory":
        mem = MemoryStore()

        def reopen() -> Store:
            return mem  # memory has no restart; the same object stands in for it
    else:
        path = tmp_path / "cases.db"

        def reopen() -> Store:
            s = SQLiteStore(path)
            opened.append(s)
            return s

    store = mem if request.param == "memory" else reopen()
    engine = CaseEngine(store, clock, id_factory=ids())
    r = Rig(engine, store, clock, request.param, reopen, opened)
    yield r
    for s in opened:
        s.close()
