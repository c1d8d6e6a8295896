"""GroupCommitStore on real stores: jobs acknowledged only after their batch is durable, one
case's requests kept in order across several committers, the case cache never deciding an
answer on a stale case, and a job that wrote never run twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twin.engine import CaseEngine
from twin.engine.errors import VersionConflict
from twin.engine.types import Case, Place, Source, State
from twin.service.groupcommit import GroupCommitStore
from twin.service.storage import _open

PLACE = Place("G1", "C1", "S1", "D")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "gc.db")
    else:
        yield request.getfixturevalue("pg_url")


def _engine(url: str, committers: int = 1) -> tuple[CaseEngine, GroupCommitStore]:
    inner, sstore = _open(url)
    sstore.close()
    store = GroupCommitStore(inner, committers=committers)
    return CaseEngine(store, clock=lambda: 0.0, auto_escalate=False), store


def _report(engine: CaseEngine) -> Case:
    return engine.report(category="x", tier="T1", place=PLACE, source=Source.APP, reporter="r", actor="a")


def test_jobs_about_one_case_keep_their_order_across_committers(db_url: str) -> None:
    committers = 1 if not db_url.startswith("postgresql") else 3
    engine, store = _engine(db_url, committers)
    try:
        cases = [_report(engine) for _ in range(12)]
        steps = ("accept", "dispatch", "resolve", "verify", "close")

        def step(case_id: str, i: int) -> int:
            c = store.get(case_id)
            assert c is not None and c.version == i + 1, f"{case_id}: step {i} saw version {c.version if c else None}"
            kw: dict[str, Any] = {"assignees": ["board:民生服务"]} if steps[i] == "dispatch" else {}
            return getattr(engine, steps[i])(case_id, c.version, "a", **kw).version

        async def drive() -> list[list[int]]:
            async def one(case_id: str) -> list[int]:
                # all five jobs queued at once: only their order on one committer makes them pass
                futs = [asyncio.ensure_future(store.run(lambda i=i: step(case_id, i), case_id)) for i in range(len(steps))]
                return list(await asyncio.gather(*futs))

            return list(await asyncio.gather(*(one(c.id) for c in cases)))

        versions = asyncio.run(drive())
        assert versions == [[2, 3, 4, 5, 6]] * len(cases)
        for c in cases:
            got = store.inner.get(c.id)
            assert got is not None and got.state is State.CLOSED and got.version == 6
            assert [e.version for e in store.events(c.id)] == [1, 2, 3, 4, 5, 6]
        assert store.commits >= len(cases) * len(steps)
    finally:
        store.close()


def test_a_stale_cached_case_is_read_afresh_not_answered_from(db_url: str) -> None:
    """Another writer (another process in production) moves a case on behind this store's cache."""
    engine, store = _engine(db_url)
    other_inner, sstore = _open(db_url)
    sstore.close()
    other = CaseEngine(other_inner, clock=lambda: 0.0, auto_escalate=False)
    calls = 0
    try:
        case = _report(engine)

        def accept() -> int:
            return engine.accept(case.id, 1, "a").version

        assert asyncio.run(store.run(accept, case.id)) == 2  # cached at version 2 now
        other.dispatch(case.id, 2, "b", assignees=["board:民生服务"])  # version 3, behind the cache

        def resolve_v3() -> int:
            nonlocal calls
            calls += 1
            c = store.get(case.id)
            assert c is not None
            if c.version != 3:
                raise VersionConflict(case.id, 3, c.version)
            return engine.resolve(case.id, 3, "a", note="done").version

        assert asyncio.run(store.run(resolve_v3, case.id)) == 4
        assert calls == 2, "first on the cached case (refused), then once on a fresh read"
    finally:
        other_inner.close()
        store.close()


def test_a_job_that_wrote_and_then_failed_is_not_run_again(db_url: str) -> None:
    engine, store = _engine(db_url)
    calls = 0
    try:
        case = _report(engine)

        def accept_then_fail() -> None:
            nonlocal calls
            calls += 1
            engine.accept(case.id, 1, "a")
            raise RuntimeError("after the write")

        with pytest.raises(RuntimeError, match="after the write"):
            asyncio.run(store.run(accept_then_fail, case.id))
        assert calls == 1
        got = store.inner.get(case.id)
        assert got is not None and got.version == 2  # its write stands, like any commit before an error
    finally:
        store.close()


def test_commits_from_other_threads_are_grouped_and_durable(db_url: str) -> None:
    """The engine-timer path: plain commits from threads, each acknowledged after its batch."""
    from concurrent.futures import ThreadPoolExecutor

    engine, store = _engine(db_url)
    try:
        with ThreadPoolExecutor(16) as pool:
            cases = list(pool.map(lambda _: _report(engine), range(64)))
        assert len({c.id for c in cases}) == 64
        fresh, sstore = _open(db_url)
        sstore.close()
        try:
            assert all(fresh.get(c.id) is not None for c in cases)
        finally:
            fresh.close()
        assert store.batches <= 64
    finally:
        store.close()


def test_committers_must_be_positive(tmp_path: Path) -> None:
    inner, sstore = _open(str(tmp_path / f"{uuid.uuid4().hex}.db"))
    sstore.close()
    with pytest.raises(ValueError, match="committers"):
        GroupCommitStore(inner, committers=0)
    inner.close()


def test_a_database_error_in_one_job_never_acknowledges_the_others_unstored(db_url: str) -> None:
    """A job that breaks the batch's transaction (a database error with no savepoint around it:
    PostgreSQL then refuses everything until the end of the transaction and turns COMMIT into a
    rollback) must not leave the other jobs of its batch acknowledged but unstored: they are
    run again in a batch of their own and stored; the breaking job alone fails."""
    engine, store = _engine(db_url)
    try:

        def poison() -> None:
            conn = store.inner._local.conn if hasattr(store.inner, "_pool") else store.inner._conn()
            conn.execute("SELECT 1/0" if hasattr(store.inner, "_pool") else "SELECT no_such_function()")

        async def drive() -> list[Any]:
            futs = [asyncio.ensure_future(store.run(lambda: _report(engine).id)) for _ in range(6)]
            futs.insert(3, asyncio.ensure_future(store.run(poison)))
            futs += [asyncio.ensure_future(store.run(lambda: _report(engine).id)) for _ in range(6)]
            return list(await asyncio.gather(*futs, return_exceptions=True))

        outcomes = asyncio.run(drive())
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        ids = [o for o in outcomes if isinstance(o, str)]
        assert len(errors) == 1 and len(ids) == 12, outcomes
        fresh, sstore = _open(db_url)
        sstore.close()
        try:
            missing = [i for i in ids if fresh.get(i) is None]
        finally:
            fresh.close()
        assert missing == [], f"{len(missing)} acknowledged cases are not stored"
    finally:
        store.close()
