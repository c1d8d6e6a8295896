"""Token lookups from the event loop (``Service.principal``): the requests that miss the cache on
one token together share one store read (a busy token's cache entry lapses every second with
dozens of requests in flight), a revoked or expired token is refused once its cache entry lapsed,
and a failed read reaches every waiter."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from twin.service.app import Service, ServiceConfig, build_service
from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash

WHO = Principal("gw", Role.GRID_WORKER, ScopeKind.GRID, "G1")


def _service(tmp_path: Path) -> tuple[Service, list[str]]:
    svc = build_service(ServiceConfig(db=str(tmp_path / "t.db"), group_commit=False, token_cache_seconds=60.0))
    reads: list[str] = []
    real = svc.sstore.token

    def counted(h: str) -> Any:
        reads.append(h)
        return real(h)

    svc.sstore.token = counted  # type: ignore[method-assign]
    return svc, reads


def test_requests_missing_together_share_one_read(tmp_path: Path) -> None:
    svc, reads = _service(tmp_path)
    token = new_token()
    svc.sstore.add_token(token_hash(token), WHO, time.time())

    async def many() -> list[tuple[Principal | None, str]]:
        return list(await asyncio.gather(*(svc.principal(token) for _ in range(20))))

    try:
        assert asyncio.run(many()) == [(WHO, "")] * 20
        assert reads == [token_hash(token)]
        assert asyncio.run(svc.principal(token)) == (WHO, "")  # cached now: no read
        assert len(reads) == 1 and not svc._lookups
    finally:
        svc.sstore.close()
        svc.engine.store.close()


def test_revoked_and_expired_tokens_are_refused_and_unknown_ones_read_each_time(tmp_path: Path) -> None:
    svc, reads = _service(tmp_path)
    revoked, expired = new_token(), new_token()
    now = time.time()
    svc.sstore.add_token(token_hash(revoked), Principal("r", Role.GRID_WORKER, ScopeKind.GRID, "G1"), now)
    svc.sstore.add_token(token_hash(expired), WHO, now, now - 1.0)
    try:
        assert svc.sstore.revoke_tokens(now, name="r") == 1
        assert asyncio.run(svc.principal(revoked))[0] is None
        assert asyncio.run(svc.principal(expired))[0] is None
        for _ in range(2):  # no negative cache
            assert asyncio.run(svc.principal("nope")) == (None, "unknown token")
        assert reads.count(token_hash("nope")) == 2
    finally:
        svc.sstore.close()
        svc.engine.store.close()


def test_a_failed_read_reaches_every_waiter(tmp_path: Path) -> None:
    svc, _ = _service(tmp_path)

    def down(h: str) -> Any:
        raise OSError("database away")

    svc.sstore.token = down  # type: ignore[method-assign]

    async def many() -> list[Any]:
        return list(await asyncio.gather(*(svc.principal("t") for _ in range(5)), return_exceptions=True))

    try:
        got = asyncio.run(many())
        assert len(got) == 5 and all(isinstance(e, OSError) for e in got)
        assert not svc._lookups
    finally:
        svc.sstore.close()
        svc.engine.store.close()


@pytest.mark.parametrize("seconds", [0.0])
def test_cache_off_reads_every_time(tmp_path: Path, seconds: float) -> None:
    svc, reads = _service(tmp_path)
    svc.config.token_cache_seconds = seconds
    token = new_token()
    svc.sstore.add_token(token_hash(token), WHO, time.time())
    try:
        for _ in range(3):
            assert asyncio.run(svc.principal(token)) == (WHO, "")
        assert len(reads) == 3
    finally:
        svc.sstore.close()
        svc.engine.store.close()
