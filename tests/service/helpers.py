"""Helpers for the service tests: a real ``twin serve`` process on a free port, over SQLite or
PostgreSQL, and tokens for every role.

PostgreSQL tests read ``GRIDTWIN_PG_URL``; each test module gets its own fresh database on
that server (created and dropped here), so tests never see each other's cases.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator  # noqa: F401
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash
from twin.service.storage import open_service_store

PLACE = {"grid": "G1", "community": "C1", "street": "S1", "district": "D"}
OTHER_PLACE = {"grid": "G2", "community": "C2", "street": "S2", "district": "D"}
PG_ENV = "GRIDTWIN_PG_URL"


def pg_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set (CI sets it; locally: see .ci/run)")
    return url


def _swap_db(url: str, name: str) -> str:
    """The same server URL with another database name (``…/gridtwin?x`` → ``…/NAME?x``)."""
    base, _, rest = url.rpartition("/")
    query = rest.partition("?")[2]
    return f"{base}/{name}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def fresh_pg_database() -> Iterator[str]:
    """The URL of a new, empty database on the server of GRIDTWIN_PG_URL, dropped afterwards."""
    import uuid

    import psycopg

    base = pg_base_url()
    name = f"gt_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _swap_db(base, name)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    """A running ``twin serve`` process."""

    db: str
    proc: subprocess.Popen[bytes]
    port: int
    args: list[str]
    log: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, token: str | None = None, **kw: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=kw.pop("timeout", 30.0), trust_env=False, **kw)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_server(db: str, log: Path, *extra: str, workers: int = 1, port: int = 0, timeout: float = 30.0) -> Server:
    """Start ``twin serve --db DB --port PORT`` and wait until /health answers."""
    args = [sys.executable, "-c", "from twin.cli import main; main()", "serve", "--db", db, "--port", str(port), "--workers", str(workers), *extra]
    fh = open(log, "ab")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=fh, start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    m = re.search(r"serving on http://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise AssertionError(f"twin serve did not start: {line!r}; log: {log.read_text()[-2000:]}")
    srv = Server(db, proc, int(m.group(1)), args, log)
    deadline = time.monotonic() + timeout
    with httpx.Client(trust_env=False, timeout=2.0) as c:
        while True:
            try:
                if c.get(f"{srv.url}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                srv.kill()
                raise AssertionError(f"twin serve did not answer /health; log: {log.read_text()[-3000:]}")
            time.sleep(0.1)
    return srv


def restart(srv: Server) -> Server:
    """Start the same server again on the same port (after a kill)."""
    extra = srv.args[srv.args.index("--workers") + 2 :]
    workers = int(srv.args[srv.args.index("--workers") + 1])
    for _ in range(50):
        try:
            new = start_server(srv.db, srv.log, *extra, workers=workers, port=srv.port)
            new.tokens = srv.tokens
            return new
        except AssertionError:
            time.sleep(0.2)
    raise AssertionError("could not restart the server")


#: One principal per role, inside PLACE's units; "foreign" twins sit in OTHER_PLACE.
ROLE_SCOPES: dict[str, tuple[Role, ScopeKind, str]] = {
    "resident": (Role.RESIDENT, ScopeKind.GRID, "G1"),
    "resident2": (Role.RESIDENT, ScopeKind.GRID, "G1"),
    "device": (Role.DEVICE, ScopeKind.GRID, "G1"),
    "grid_worker": (Role.GRID_WORKER, ScopeKind.GRID, "G1"),
    "grid_worker_g2": (Role.GRID_WORKER, ScopeKind.GRID, "G2"),
    "community": (Role.COMMUNITY, ScopeKind.COMMUNITY, "C1"),
    "street_centre": (Role.STREET_CENTRE, ScopeKind.STREET, "S1"),
    "street_centre_s2": (Role.STREET_CENTRE, ScopeKind.STREET, "S2"),
    "district_centre": (Role.DISTRICT_CENTRE, ScopeKind.DISTRICT, "D"),
    "department": (Role.DEPARTMENT, ScopeKind.DISTRICT, "D"),
    "admin": (Role.ADMIN, ScopeKind.DISTRICT, "D"),
}
DEPARTMENT_ID = "department:urban-management"


def make_tokens(db: str) -> dict[str, str]:
    """A token per entry of ROLE_SCOPES, stored in ``db``; principal ids are the names."""
    store = open_service_store(db)
    out: dict[str, str] = {}
    try:
        for name, (role, kind, unit) in ROLE_SCOPES.items():
            tok = new_token()
            pid = DEPARTMENT_ID if name == "department" else name
            store.add_token(token_hash(tok), Principal(pid, role, kind, unit), time.time())
            out[name] = tok
    finally:
        store.close()
    return out


def report(client: httpx.Client, place: dict[str, str] | None = None, key: str | None = None, **body: Any) -> httpx.Response:
    payload = {"category": "environment", "tier": "T1", **(place or PLACE), **body}
    headers = {"Idempotency-Key": key} if key else {}
    return client.post("/cases", json=payload, headers=headers)


def act(client: httpx.Client, case: dict[str, Any], action: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return client.post(f"/cases/{case['id']}/{action}", json=body or {}, headers={"If-Match": f'"{case["version"]}"'})
