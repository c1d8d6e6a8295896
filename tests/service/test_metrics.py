"""``GET /metrics``: the figures a load test reads to say what saturated first — exact field
names (another engineer's load test codes against them), no authentication, no personal data,
counters that move with the work done, an answer even at the in-flight limit, and the schema
in OpenAPI."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from twin.engine import CaseEngine
from twin.engine.types import Place, Source
from twin.service.groupcommit import CommitStats, GroupCommitStore, percentile_ms
from twin.service.limits import ConcurrencyLimitMiddleware
from twin.service.metrics import committer_metrics, db_kind
from twin.service.storage import _open

from .helpers import PLACE, Server

TOP = {"pid", "cpu_s", "rss_mb", "committer", "requests", "db"}
COMMITTER = {"queue_depth", "queue_depth_max", "batches", "statements", "commit_ms_p50", "commit_ms_p99", "wait_ms_p99"}
PHONE = "13912345678"


def _lifecycle(c: httpx.Client) -> None:
    r = c.post("/cases", json={"category": "environment", "tier": "T1", "contact": PHONE, **PLACE})
    assert r.status_code == 201, r.text
    etag = r.headers["ETag"]
    for action, body in (("accept", {}), ("dispatch", {"assignees": ["board:民生服务"]})):
        r = c.post(f"/cases/{r.json()['id']}/{action}", json=body, headers={"If-Match": etag})
        assert r.status_code == 200, r.text
        etag = r.headers["ETag"]


def test_metrics_fields_move_with_the_work_and_hold_no_personal_data(any_server: Server) -> None:
    with any_server.client() as anon:
        before = anon.get("/metrics")  # no token: public
        assert before.status_code == 200, before.text
        m0 = before.json()
    assert set(m0) == TOP and set(m0["committer"]) == COMMITTER and {"served", "in_flight"} <= set(m0["requests"])
    assert m0["db"] == ("postgresql" if any_server.db.startswith("postgresql") else "sqlite")
    assert isinstance(m0["pid"], int) and m0["cpu_s"] > 0 and m0["rss_mb"] > 10
    with any_server.client(any_server.tokens["grid_worker"]) as c:
        for _ in range(5):
            _lifecycle(c)
        m1 = c.get("/metrics").json()
        text = c.get("/metrics").text
    assert PHONE not in text and "grid_worker" not in text  # counters only
    assert m1["pid"] == m0["pid"]  # one worker
    assert m1["requests"]["served"] >= m0["requests"]["served"] + 16  # 15 case requests and this read
    assert m1["requests"]["in_flight"] == 1  # this very request
    cm0, cm1 = m0["committer"], m1["committer"]
    assert cm1["statements"] >= cm0["statements"] + 15  # each request's work is one unit in a batch
    assert cm0["batches"] < cm1["batches"] <= cm1["statements"]
    assert cm1["queue_depth"] == 0 and cm1["queue_depth_max"] >= 1
    assert cm1["commit_ms_p50"] is not None and 0 <= cm1["commit_ms_p50"] <= cm1["commit_ms_p99"]
    assert cm1["wait_ms_p99"] is not None and cm1["wait_ms_p99"] >= 0
    assert m1["cpu_s"] >= m0["cpu_s"]


def test_metrics_schema_is_in_openapi(any_server: Server) -> None:
    with any_server.client() as c:
        spec = c.get("/openapi.json").json()
    op = spec["paths"]["/metrics"]["get"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/MetricsOut")
    schemas = spec["components"]["schemas"]
    assert set(schemas["MetricsOut"]["properties"]) == TOP
    assert set(schemas["CommitterMetricsOut"]["properties"]) == COMMITTER
    assert "security" not in op  # no authentication


def test_metrics_is_answered_at_the_in_flight_limit_and_refusals_are_counted() -> None:
    gate = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["path"] != "/metrics":
            await gate.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    mw = ConcurrencyLimitMiddleware(app, max_in_flight=1)

    async def main() -> tuple[int, int]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=mw), base_url="http://t") as c:
            held = asyncio.create_task(c.get("/cases"))
            while mw.in_flight < 1:
                await asyncio.sleep(0)
            over, metrics = await c.get("/cases"), await c.get("/metrics")
            gate.set()
            assert (await held).status_code == 200
            return over.status_code, metrics.status_code

    assert asyncio.run(main()) == (503, 200)
    assert (mw.served, mw.refused, mw.in_flight) == (3, 1, 0)


def test_committer_figures_from_a_real_group_commit(tmp_path: Path) -> None:
    inner, sstore = _open(str(tmp_path / "m.db"))
    sstore.close()
    store = GroupCommitStore(inner)
    try:
        empty = committer_metrics(store)
        assert empty["batches"] == 0 and empty["commit_ms_p99"] is None and empty["wait_ms_p99"] is None
        engine = CaseEngine(store, clock=lambda: 0.0, auto_escalate=False)
        for _ in range(4):  # handed-over commits: one batch each (the caller waits for each)
            engine.report(category="x", tier="T1", place=Place("G1", "C1", "S1", "D"), source=Source.APP, reporter="r", actor="a")
        got = committer_metrics(store)
        assert (got["batches"], got["statements"], got["queue_depth"], got["queue_depth_max"]) == (4, 4, 0, 1)
        assert got["commit_ms_p50"] is not None and got["commit_ms_p99"] is not None and got["commit_ms_p50"] <= got["commit_ms_p99"]
    finally:
        store.close()
    assert committer_metrics(inner)["batches"] == 0  # a store committing alone: zeros and nulls


def test_percentiles_and_db_kinds() -> None:
    s = CommitStats()
    assert percentile_ms(s.commit_s, 0.99) is None
    s.commit_s.extend(i / 1000 for i in range(1, 101))  # 1..100 ms
    assert (percentile_ms(s.commit_s, 0.5), percentile_ms(s.commit_s, 0.99)) == (51.0, 100.0)
    s.commit_s.extend([0.5] * CommitStats.WINDOW)  # only the recent window counts
    assert percentile_ms(s.commit_s, 0.5) == 500.0
    assert [db_kind(u) for u in ("postgresql://u@h/db", "postgres://h/db", "x.db", "sqlite:///x.db", "memory:")] == [
        "postgresql", "postgresql", "sqlite", "sqlite", "memory"]
