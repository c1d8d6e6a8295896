"""CPU per request of the service application itself: the lifecycle mix against ``GET /health``.

The ASGI application ``twin serve`` runs (limits, fast lane, FastAPI, group commit on a SQLite
file) is called in this process, with no HTTP server and no load generator: ``--clients``
coroutines each run whole lifecycles (report, accept, dispatch, resolve, verify, close,
evaluate; If-Match from the ETag), then as many ``/health`` requests. The figure is this
process's CPU seconds (all threads: the event loop and the group committer) per request, the
minimum and the median over ``--rounds`` rounds.

Why: on a machine shared with others, requests per second and even a server's CPU under
Locust swing by a third from run to run; CPU per request of the application alone, minimum of
several rounds, moves by a few per cent, so a change to the hot path can be judged here
(run it on two checkouts one after the other). What it leaves out — uvicorn's HTTP parsing
and socket writes, about 0.1–0.15 ms per request for either kind — is the same for both.
``benchmarks/service_throughput.py`` measures the whole server.

Example: ``python benchmarks/service_app_cpu.py --clients 32 --cases 320 --rounds 5``; prints
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REPORT = json.dumps({"category": "environment", "tier": "T1", "grid": "G1", "community": "C1", "street": "S1", "district": "D"}).encode()
STEPS = tuple(
    (action, json.dumps(body).encode())
    for action, body in (
        ("accept", {}),
        ("dispatch", {"assignees": ["board:民生服务"]}),
        ("resolve", {"note": "done"}),
        ("verify", {}),
        ("close", {}),
        ("evaluate", {"satisfaction": 5}),
    )
)


async def call(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes = b"") -> tuple[int, dict[bytes, bytes]]:
    """One request through the ASGI application: (status, response headers)."""
    out: dict[str, Any] = {}
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"], out["headers"] = message["status"], dict(message["headers"])

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [*headers, (b"content-length", str(len(body)).encode())] if body else headers,
             "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
             "root_path": "", "asgi": {"version": "3.0"}}
    await app(scope, receive, send)
    return out["status"], out["headers"]


async def measure(clients: int, cases: int, rounds: int, db: str) -> dict[str, Any]:
    from twin.service.app import ServiceConfig, create_app
    from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash

    app = create_app(ServiceConfig(db=db, rate_per_second=0))
    svc = app.state.service
    token = new_token()
    svc.sstore.add_token(token_hash(token), Principal("bench-admin", Role.ADMIN, ScopeKind.DISTRICT, "D"), time.time())
    auth = [(b"authorization", b"Bearer " + token.encode()), (b"content-type", b"application/json")]

    async def lifecycles(n: int) -> None:
        for _ in range(n):
            status, h = await call(app, "POST", "/cases", auth, REPORT)
            assert status == 201, status
            where, etag = h[b"location"].decode(), h[b"etag"]
            for action, body in STEPS:
                status, h = await call(app, "POST", f"{where}/{action}", [*auth, (b"if-match", etag)], body)
                assert status == 200, (action, status)
                etag = h[b"etag"]

    async def healths(n: int) -> None:
        for _ in range(n):
            assert (await call(app, "GET", "/health", [(b"host", b"bench")]))[0] == 200

    per = max(1, cases // clients)
    life: list[float] = []
    health: list[float] = []
    try:
        await lifecycles(5)  # warm up
        await healths(50)
        for _ in range(rounds):
            c0 = time.process_time()
            await asyncio.gather(*(lifecycles(per) for _ in range(clients)))
            c1 = time.process_time()
            await asyncio.gather(*(healths(per * 7) for _ in range(clients)))
            c2 = time.process_time()
            n = per * clients * 7
            life.append((c1 - c0) * 1e3 / n)
            health.append((c2 - c1) * 1e3 / n)
    finally:
        svc.engine.store.close()
        svc.sstore.close()
    return {
        "lifecycle_cpu_ms_min": round(min(life), 4),
        "lifecycle_cpu_ms_median": round(statistics.median(life), 4),
        "health_cpu_ms_min": round(min(health), 4),
        "health_cpu_ms_median": round(statistics.median(health), 4),
        "clients": clients,
        "requests_per_round": per * clients * 7,
        "rounds": rounds,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients (coroutines)")
    ap.add_argument("--cases", type=int, default=320, help="lifecycles per round (7 requests each), shared by the clients")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (the minimum and median are reported)")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="gt-appcpu-") as tmp:
        print(json.dumps(asyncio.run(measure(a.clients, a.cases, a.rounds, str(Path(tmp) / "bench.db")))))


if __name__ == "__main__":
    main()
