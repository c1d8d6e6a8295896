"""``twin serve`` (the case engine over HTTP) and ``twin token create|list|revoke`` (bearer tokens)."""

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
    mode_skip: bool = typer.Option(
        True, "--mode-skip/--no-mode-skip",
        help="POST /mode may skip a rung (normal → 全员下沉); --no-mode-skip: one rung at a time.",
    ),
    categories: str = typer.Option(
        "street", "--categories",
        help="The catalogue of report categories (others: 422): a bundled scenario (street, district, flood …), a scenario .toml file, or a comma-separated list.",
    ),
    any_category: bool = typer.Option(False, "--any-category", help="Accept any report category (no catalogue)."),
    territory: str = typer.Option(
        "street", "--territory",
        help="The grids' geometry, for Open311 reports that give only lat/long: a bundled scenario or .toml (its grids as a lattice over --territory-bbox), or a .geojson of grid polygons.",
    ),
    territory_bbox: str = typer.Option(
        "29.57,106.52,29.59,106.545", "--territory-bbox", help="south,west,north,east (decimal degrees) of the scenario's grid lattice.",
    ),
    mobilisation_teams: str = typer.Option(
        "", "--mobilisation-teams",
        help="The mobilisation's automatic teams: a bundled scenario (flood, epidemic …) or scenario .toml whose [emergency.teams] is read. Default: flood's supply, patrol, transport, checks.",
    ),
    member_token_hours: float = typer.Option(
        72.0, "--member-token-hours", min=0.01, help="Lifetime of a member token from check-in (it is revoked earlier when the mobilisation closes).",
    ),
    log_level: str = typer.Option(
        "warning", "--log-level", help="uvicorn log level: critical, error, warning, info, debug or trace."
    ),
) -> None:
    """Serve the case engine over HTTP (OpenAPI at /docs, Open311 at /open311/v2)."""
    from twin.service.server import serve as run

    if log_level not in LOG_LEVELS:
        raise checks.BadInput(f"--log-level {log_level!r}: expected one of {', '.join(LOG_LEVELS)}")

    if not any_category:
        from twin.service.catalogue import resolve

        try:
            resolve(categories)
        except ValueError as e:
            raise checks.BadInput(f"--categories: {e}") from None
    if (territory, territory_bbox) != ("street", "29.57,106.52,29.59,106.545"):
        from twin.service.geometry import parse_bbox, territory_map

        try:
            parse_bbox(territory_bbox)
        except ValueError as e:
            raise checks.BadInput(f"--territory-bbox: {e}") from None
        try:
            territory_map(territory, territory_bbox)
        except ValueError as e:
            raise checks.BadInput(f"--territory: {e}") from None
    from twin.service.mobilisation import load_teams

    try:
        load_teams(mobilisation_teams)
    except ValueError as e:
        raise checks.BadInput(f"--mobilisation-teams: {e}") from None
    checks.database(db)
    if port:
        checks.port_free(host, port)
    config = ServiceConfig(
        db=db, max_body_bytes=max_body, max_page=max_page, rate_per_second=rate_limit, rate_burst=burst, max_in_flight=max_in_flight,
        group_commit=group_commit, committers=committers, categories=categories, any_category=any_category,
        territory=territory, territory_bbox=territory_bbox, mode_allow_skip=mode_skip,
        mobilisation_teams=mobilisation_teams, member_token_hours=member_token_hours,
    )
    run(config, host=host, port=port, workers=workers, log_level=log_level)


@token_app.command("create")
def token_create(
    role: Role = typer.Option(..., "--role", help="resident, device, grid_worker, community, street_centre, district_centre, department, admin, member (a mobilised member) or app (the mobilisation app's backend)"),
    scope: str = typer.Option(..., "--scope", help="KIND:UNIT with KIND grid, community, street or district, e.g. grid:G001"),
    name: str = typer.Option("", "--name", help="Principal id (a department's id is what cases are dispatched to, e.g. department:城管). Default: generated."),
    db: str = typer.Option("gridtwin.db", "--db", help="The database the service runs on (a SQLite path or postgresql://…)."),
    ttl: str = typer.Option(
        "", "--ttl", "--expires",
        help="Lifetime: N followed by s, m, h, d or w (e.g. 8h, 5d), or 'never'. Default: 5d (a working week) for people, 365d for devices and the mobilisation app.",
    ),
) -> None:
    """Create a bearer token; prints the token (only once: just its hash is stored)."""
    from twin.service.storage import open_service_store

    try:
        kind, unit = parse_scope(scope)
    except ValueError as e:
        raise checks.BadInput(f"--scope: {e}") from None
    try:
        lifetime = parse_ttl(ttl or ("365d" if role in (Role.DEVICE, Role.APP) else "5d"))
    except ValueError as e:
        raise checks.BadInput(f"--ttl: {e}") from None
    checks.database(db, memory_ok=False)
    principal = Principal(name or f"{role.value}-{secrets.token_hex(4)}", role, kind, unit)
    token = new_token()
    now = time.time()
    expires = None if lifetime is None else now + lifetime
    store = open_service_store(db)
    try:
        store.add_token(token_hash(token), principal, now, expires)
    finally:
        store.close()
    until = "never expires" if expires is None else f"expires {_iso(expires)}"
    print(f"principal {principal.id}: role {role.value}, scope {principal.scope}, id {token_hash(token)[:12]}, {until}", file=sys.stderr)
    print(token)


TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_ttl(text: str) -> float | None:
    """``"5d"`` → seconds; ``"never"`` → None; ValueError naming what was expected."""
    t = text.strip().lower()
    if t == "never":
        return None
    num, unit = t[:-1], t[-1:]
    if unit not in TTL_UNITS or not num.isdigit() or int(num) == 0:
        raise ValueError(f"expected N followed by one of {', '.join(TTL_UNITS)} (e.g. 8h, 5d) or 'never', got {text!r}")
    return float(int(num) * TTL_UNITS[unit])


def _iso(seconds: float | None) -> str:
    from datetime import UTC, datetime

    return "-" if seconds is None else datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds")


@token_app.command("list")
def token_list(db: str = typer.Option("gridtwin.db", "--db", help="The database the service runs on.")) -> None:
    """The tokens: id, principal, role, scope, created, expires, revoked (never the secret)."""
    from twin.service.storage import open_service_store

    checks.database(db, memory_ok=False)
    store = open_service_store(db)
    try:
        records = store.tokens()
    finally:
        store.close()
    now = time.time()
    print("id\tprincipal\trole\tscope\tcreated\texpires\trevoked\tstatus")
    for r in records:
        status = "valid" if r.refusal(now) is None else ("revoked" if r.revoked_at is not None else "expired")
        p = r.principal
        print(f"{r.id}\t{p.id}\t{p.role.value}\t{p.scope}\t{_iso(r.created_at)}\t{_iso(r.expires_at)}\t{_iso(r.revoked_at)}\t{status}")


@token_app.command("revoke")
def token_revoke(
    name: str = typer.Option("", "--name", help="Revoke every live token of this principal."),
    token_id: str = typer.Option("", "--id", help="Revoke the token with this id (from `twin token list`; 6 to 12 hex digits)."),
    db: str = typer.Option("gridtwin.db", "--db", help="The database the service runs on."),
) -> None:
    """Revoke tokens; running services refuse them within a second."""
    from twin.service.storage import open_service_store

    checks.database(db, memory_ok=False)
    if bool(name) == bool(token_id):
        raise checks.BadInput(f"--name/--id: expected exactly one of them, got {'both' if name else 'neither'}")
    if token_id and not (6 <= len(token_id) <= 12 and all(c in "0123456789abcdef" for c in token_id)):
        raise checks.BadInput(f"--id: expected 6 to 12 lower-case hex digits, got {token_id!r}")
    store = open_service_store(db)
    try:
        n = store.revoke_tokens(time.time(), name=name or None, token_id=token_id or None)
    finally:
        store.close()
    if n == 0:
        print(f"no live token {'of ' + name if name else 'with id ' + token_id}", file=sys.stderr)
        raise typer.Exit(1)
    print(f"revoked {n} token(s)", file=sys.stderr)


def register(app: typer.Typer) -> None:
    from twin.cli import ENGINEER

    app.command("serve", rich_help_panel=ENGINEER)(serve)
    app.add_typer(token_app, name="token", rich_help_panel=ENGINEER)
