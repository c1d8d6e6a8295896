"""Concurrency over several worker processes on one database (SQLite and PostgreSQL):
no lost updates, and idempotent device resends create exactly one case per event."""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from .helpers import Server, act, make_tokens, report, start_server


def test_lost_updates_exactly_one_of_fifty_wins(multi_server: Server) -> None:
    t = multi_server.tokens
    with multi_server.client(t["resident"]) as res:
        case = report(res).json()
    clients = [multi_server.client(t["grid_worker"]) for _ in range(50)]
    try:
        # warm the connections so the 50 requests really race
        for c in clients:
            assert c.get("/me").status_code == 200
        with ThreadPoolExecutor(50) as pool:
            codes = list(pool.map(lambda c: act(c, case, "accept").status_code, clients))
    finally:
        for c in clients:
            c.close()
    assert codes.count(200) == 1, codes
    assert codes.count(412) == 49, codes
    with multi_server.client(t["grid_worker"]) as gw:
        final = gw.get(f"/cases/{case['id']}").json()
        events = gw.get(f"/cases/{case['id']}/events").json()
    assert final["version"] == 2 and final["state"] == "accepted"
    assert [e["action"] for e in events] == ["report", "accept"]


def _resend_until_acknowledged(client: httpx.Client, key: str, body: dict[str, Any]) -> tuple[bytes, list[int]]:
    codes: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = report(client, key=key, **body)
        codes.append(r.status_code)
        if r.status_code == 201:
            return r.content, codes
        assert r.status_code == 409, r.text  # only "still in flight" may delay it
        time.sleep(0.01)
    raise AssertionError(f"{key}: not acknowledged within 30 s: {codes}")


def test_concurrent_device_resends_create_one_case_per_event(multi_server: Server) -> None:
    t = multi_server.tokens
    events = [(f"meter-{i}", {"category": "livelihood", "description": f"no water use, meter {i}"}) for i in range(25)]
    sends = [e for e in events for _ in range(4)]
    random.Random(7).shuffle(sends)
    clients = [multi_server.client(t["device"]) for _ in range(16)]
    try:
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(lambda i: (sends[i][0], *_resend_until_acknowledged(clients[i % 16], *sends[i])), range(len(sends))))
    finally:
        for c in clients:
            c.close()
    bodies: dict[str, set[bytes]] = {}
    for key, body, codes in results:
        assert all(c in (201, 409) for c in codes)
        bodies.setdefault(key, set()).add(body)
    assert all(len(b) == 1 for b in bodies.values()), "every resend replays the same bytes"
    ids = {k: __import__("json").loads(next(iter(b)))["id"] for k, b in bodies.items()}
    assert len(set(ids.values())) == len(events)
    with multi_server.client(t["grid_worker"]) as gw:
        listed = gw.get("/cases", params={"category": "livelihood", "limit": 200}).json()["items"]
    mine = [c for c in listed if c["reporter"] == "device" or c["id"] in ids.values()]
    assert sorted(c["id"] for c in mine) == sorted(ids.values())


@pytest.mark.parametrize("db_kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_server_whose_cached_case_is_stale_still_answers_right(db_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Two servers on one database. Server A keeps the cases it handled in memory; server B moves
    one of them on. A must neither refuse the newer version (412) nor accept the older one."""
    db = str(tmp_path / "gridtwin.db") if db_kind == "sqlite" else request.getfixturevalue("pg_url")
    tokens = make_tokens(db)
    a = start_server(db, tmp_path / "a.log")
    b = start_server(db, tmp_path / "b.log")
    try:
        with a.client(tokens["resident"]) as res:
            case = report(res).json()
        with a.client(tokens["grid_worker"]) as ca, b.client(tokens["grid_worker"]) as cb:
            v2 = act(ca, case, "accept")  # A now holds the case at version 2
            assert v2.status_code == 200, v2.text
            v3 = act(cb, v2.json(), "dispatch", {"assignees": ["board:民生服务"]})  # B moves it to 3
            assert v3.status_code == 200, v3.text
            stale = act(ca, v2.json(), "resolve", {"note": "fixed"})  # a client that missed B's change
            assert stale.status_code == 412, stale.text
            assert "version 3" in stale.json()["reason"]
            fresh = act(ca, v3.json(), "resolve", {"note": "fixed"})  # the newer version, through A
            assert fresh.status_code == 200, fresh.text
            assert fresh.json()["version"] == 4 and fresh.json()["state"] == "resolved"
            events = cb.get(f"/cases/{case['id']}/events").json()
        assert [e["action"] for e in events] == ["report", "accept", "dispatch", "resolve"]
    finally:
        a.stop()
        b.stop()
