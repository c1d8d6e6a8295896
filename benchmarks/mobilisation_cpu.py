"""Server CPU per mobilisation request (check-in, repeat check-in, task claim and complete),
beside ``GET /health`` and a case report, on SQLite and PostgreSQL.

Starts the real ``twin serve`` (one worker, no rate limit), switches it to emergency with
``POST /mode`` and sends the requests one at a time on one keep-alive connection, so the
figure — the server's CPU milliseconds per request, from /proc — does not depend on how busy
the rest of the machine is (throughput on this shared machine would). Prints one line per
database and, last, one JSON object. Measured, not asserted.

    python benchmarks/mobilisation_cpu.py --members 300 [--pg-url postgresql://…]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_throughput import server_cpu_seconds, start_server, stop  # noqa: E402

from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash  # noqa: E402
from twin.service.storage import open_service_store  # noqa: E402


def _tokens(db: str) -> dict[str, str]:
    store = open_service_store(db)
    out = {}
    try:
        for name, role, kind, unit in (
            ("admin", Role.ADMIN, ScopeKind.DISTRICT, "D"), ("app", Role.APP, ScopeKind.DISTRICT, "D"),
            ("staff", Role.COMMUNITY, ScopeKind.COMMUNITY, "C1"), ("resident", Role.RESIDENT, ScopeKind.GRID, "G1"),
        ):
            tok = new_token()
            store.add_token(token_hash(tok), Principal(name, role, kind, unit), time.time())
            out[name] = tok
    finally:
        store.close()
    return out


def measure(db: str, members: int, log: Path) -> dict[str, float]:
    tokens = _tokens(db)
    proc, url = start_server(db, 1, log)
    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)

    def call(method: str, path: str, who: str, body: Any = None) -> dict[str, Any]:
        headers = {"Authorization": "Bearer " + tokens.get(who, who), "Content-Type": "application/json"}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        r = conn.getresponse()
        data = r.read()
        assert r.status < 300, (path, r.status, data)
        return dict(json.loads(data)) if data.startswith(b"{") else {}

    def cpu_ms(n: int, fn: Any) -> float:
        c0 = server_cpu_seconds(proc)
        for i in range(n):
            fn(i)
        return round((server_cpu_seconds(proc) - c0) * 1e3 / n, 3)

    try:
        for _ in range(200):
            call("GET", "/health", "admin")  # warm up
        out = {"health_cpu_ms": cpu_ms(members, lambda i: call("GET", "/health", "admin"))}
        place = {"grid": "G1", "community": "C1", "street": "S1", "district": "D"}
        out["report_cpu_ms"] = cpu_ms(members, lambda i: call("POST", "/cases", "resident", {"category": "environment", "tier": "T1", **place}))
        call("POST", "/mode", "admin", {"mode": "emergency", "reason": "benchmark", "expected_members": members})
        seats: list[dict[str, Any]] = []
        out["checkin_new_cpu_ms"] = cpu_ms(members, lambda i: seats.append(call("POST", "/mobilisation/checkins", "app", {"member_id": f"M{i:06d}", "community": "C1"})))
        out["checkin_repeat_cpu_ms"] = cpu_ms(members, lambda i: call("POST", "/mobilisation/checkins", "app", {"member_id": f"M{i:06d}", "community": "C1"}))
        tasks = [call("POST", "/mobilisation/tasks", "staff", {"community": "C1", "team": s["team"], "kind": "k"})["task_id"] for s in seats]
        out["claim_cpu_ms"] = cpu_ms(members, lambda i: call("POST", f"/mobilisation/tasks/{tasks[i]}/claim", seats[i]["member_token"]))
        out["complete_cpu_ms"] = cpu_ms(members, lambda i: call("POST", f"/mobilisation/tasks/{tasks[i]}/complete", seats[i]["member_token"], {"result": "done"}))
        out["tasks_list_cpu_ms"] = cpu_ms(members, lambda i: call("GET", "/mobilisation/tasks?status=open", seats[i]["member_token"]))
    finally:
        conn.close()
        stop(proc)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=300)
    ap.add_argument("--pg-url", default=os.environ.get("GRIDTWIN_PG_URL"), help="an EMPTY PostgreSQL database (default: GRIDTWIN_PG_URL; none: SQLite only)")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mob-cpu-"))
    results = {"sqlite": measure(str(work / "m.db"), a.members, work / "sqlite.log")}
    if a.pg_url:
        results["postgresql"] = measure(a.pg_url, a.members, work / "pg.log")
    for name, r in results.items():
        print(name, " ".join(f"{k}={v}" for k, v in r.items()))
    print(json.dumps(results))


if __name__ == "__main__":
    main()
