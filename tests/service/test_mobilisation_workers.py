"""Check-ins retried across two worker processes (``twin serve --workers 2``, SQLite and
PostgreSQL): one record per member, whichever process each retry reaches, and one claimer per task."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash
from twin.service.storage import open_service_store

from .helpers import Server

MEMBERS = 16


def _app_token(db: str) -> str:
    store = open_service_store(db)
    try:
        tok = new_token()
        store.add_token(token_hash(tok), Principal("app", Role.APP, ScopeKind.DISTRICT, "D"), time.time())
    finally:
        store.close()
    return tok


@pytest.mark.slow  # two worker processes per database
def test_retries_across_workers_make_one_checkin_each_and_one_claimer(multi_server: Server) -> None:
    srv = multi_server
    app = _app_token(srv.db)
    with srv.client(srv.tokens["admin"]) as c:
        assert c.post("/mode", json={"mode": "emergency", "reason": "test", "expected_members": MEMBERS}).status_code == 200
    attempts = [f"W{i:03d}" for i in range(MEMBERS)] * 4

    # eight connections, accepted by either worker process
    with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {app}"}, trust_env=False, timeout=30) as c:

        def send(member: str) -> tuple[str, int, dict[str, object]]:
            r = c.post("/mobilisation/checkins", json={"member_id": member, "community": "C1"})
            return member, r.status_code, r.json()

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(send, attempts))
    assert sorted(s for _, s, _ in results).count(201) == MEMBERS and {s for _, s, _ in results} == {200, 201}
    first = {m: b for m, s, b in results if s == 201}
    assert all(b == first[m] for m, _, b in results), "every retry, on either worker, answered the same record"
    with srv.client(srv.tokens["admin"]) as c:
        assert c.get("/mobilisation").json()["checked_in"] == MEMBERS
    team = first["W000"]["team"]
    mates = [b for b in first.values() if b["team"] == team]
    with srv.client(srv.tokens["community"]) as staff:
        task = staff.post("/mobilisation/tasks", json={"community": "C1", "team": team, "kind": "k"}).json()

    with httpx.Client(base_url=srv.url, trust_env=False, timeout=30) as c:

        def claim(seat: dict[str, object]) -> int:
            return c.post(f"/mobilisation/tasks/{task['task_id']}/claim", headers={"Authorization": f"Bearer {seat['member_token']}"}).status_code

        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(claim, mates))
    assert sorted(codes) == [200] + [409] * (len(mates) - 1), "one claimer, whichever workers the members reached"
