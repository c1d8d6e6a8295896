"""``twin serve`` (the case engine over HTTP) and ``twin token create`` (bearer tokens)."""

from __future__ import annotations

import secrets
import sys
import time

import typer

from twin.cli import checks
from twin.service.app import ServiceConfig
from twin.service.auth import Principal, Role, new_token, parse_scope, token_hash

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

token_app = typer.Typer(help="Bearer tokens for the HTTP service.", no_args_is_help=True)


def serve(
    db: str = typer.Option("gridtwin.db", "--db", help="SQLite path (WAL, synchronous=FULL), sqlite:///path or postgresql://user:pw@host:port/db"),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port (0: any free port, printed at start)."),
    workers: int = typer.Option(1, "--workers", min=1, max=64, help="Worker processes sharing the database."),
    max_body: int = typer.Option(64 * 1024, "--max-body", min=1024, help="Largest request body in bytes (413 above)."),
    max_page: int = typer.Option(200, "--max-page", min=1, help="Largest page of a query."),
    rate_limit: float = typer.Option(2000.0, "--rate-limit", min=0, help="Requests a second per principal and worker (429 above; 0: off)."),
    burst: float = typer.Option(4000.0, "--burst", min=1, help="Burst allowance of the rate limit."),
    max_in_flight: int = typer.Option(64, "--max-in-flight", min=1, help="Requests served at once per worker (503 above)."),
    group_commit: bool = typer.Option(True, "--group-commit/--no-group-commit", help="Commit concurrent requests' writes together (one durable flush per batch)."),
    committers: int = typer.Option(
        0, "--committers", min=0, max=16,
        help="Group-commit threads per worker (0: 1 for SQLite, which has one writer at a time; 2 for PostgreSQL).",
    ),
    log_level: str = typer.Option(
        "warning", "--log-level", help="uvicorn log level: critical, error, warning, info, debug or trace."
    ),
) -> None:
    """Serve the case engine over HTTP (OpenAPI at /docs, Open311 at /open311/v2)."""
    from twin.service.server import serve as run

    if log_level not in LOG_LEVELS:
        raise checks.BadInput(f"--log-level {log_level!r}: expected one of {', '.join(LOG_LEVELS)}")

    checks.database(db)
    if port:
        checks.port_free(host, port)
    config = ServiceConfig(
        db=db, max_body_bytes=max_body, max_page=max_page, rate_per_second=rate_limit, rate_burst=burst, max_in_flight=max_in_flight,
        group_commit=group_commit, committers=committers,
    )
    run(config, host=host, port=port, workers=workers, log_level=log_level)


@token_app.command("create")
def token_create(
    role: Role = typer.Option(..., "--role", help="resident, device, grid_worker, community, street_centre, district_centre, department or admin"),
    scope: str = typer.Option(..., "--scope", help="KIND:UNIT with KIND grid, community, street or district, e.g. grid:G001"),
    name: str = typer.Option("", "--name", help="Principal id (a department's id is what cases are dispatched to, e.g. department:城管). Default: generated."),
    db: str = typer.Option("gridtwin.db", "--db", help="The database the service runs on (a SQLite path or postgresql://…)."),
) -> None:
    """Create a bearer token; prints the token (only once: just its hash is stored)."""
    from twin.service.storage import open_service_store

    try:
        kind, unit = parse_scope(scope)
    except ValueError as e:
        raise checks.BadInput(f"--scope: {e}") from None
    checks.database(db, memory_ok=False)
    principal = Principal(name or f"{role.value}-{secrets.token_hex(4)}", role, kind, unit)
    token = new_token()
    store = open_service_store(db)
    try:
        store.add_token(token_hash(token), principal, time.time())
    finally:
        store.close()
    print(f"principal {principal.id}: role {role.value}, scope {principal.scope}", file=sys.stderr)
    print(token)


def register(app: typer.Typer) -> None:
    from twin.cli import ENGINEER

    app.command("serve", rich_help_panel=ENGINEER)(serve)
    app.add_typer(token_app, name="token", rich_help_panel=ENGINEER)
