"""The bearer tokens a load test needs, one principal per actor and unit.

Keys (what the Locust users look up; ``"*"`` is a fallback for every key, e.g. the one
``api_key`` of a foreign Open311 endpoint):

- ``resident:<grid>``, ``device:<grid>``, ``worker:<grid>`` — reporters and the grid team;
- ``community:<community>``, ``street:<street>``, ``board:<street>:<board>``;
- ``district``, ``department:<department>``, ``kpi`` (a district-centre reader of /kpis and
  /mobilisation), ``app`` (the mobilisation app's backend: members' check-ins, 报到).

For the reference service started by ``twin loadtest`` they are written straight into its
fresh database (what ``twin token create`` does, without a process per token).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from twin.service.auth import Principal, Role, ScopeKind, new_token, token_hash


def principals(territory: dict[str, Any], units: dict[str, list[dict[str, Any]]]) -> dict[str, Principal]:
    """Every principal of the load test, by token key."""
    d = territory["district"]
    out: dict[str, Principal] = {}
    for g in territory["grids"]:
        out[f"resident:{g}"] = Principal(f"resident:{g}", Role.RESIDENT, ScopeKind.GRID, g)
        out[f"device:{g}"] = Principal(f"device:{g}", Role.DEVICE, ScopeKind.GRID, g)
        out[f"worker:{g}"] = Principal(f"worker:{g}", Role.GRID_WORKER, ScopeKind.GRID, g)
    for c in territory["communities"]:
        out[f"community:{c}"] = Principal(f"community:{c}", Role.COMMUNITY, ScopeKind.COMMUNITY, c)
    for s in territory["streets"]:
        out[f"street:{s}"] = Principal(f"street:{s}", Role.STREET_CENTRE, ScopeKind.STREET, s)
    for u in units.get("board", []):
        key = f"board:{u['street']}:{u['assignee'].split(':', 1)[1]}"
        out[key] = Principal(u["assignee"], Role.DEPARTMENT, ScopeKind.STREET, u["street"])
    for u in units.get("department", []):
        out[f"department:{u['department']}"] = Principal(u["assignee"], Role.DEPARTMENT, ScopeKind.DISTRICT, d)
    out["district"] = Principal("district-centre", Role.DISTRICT_CENTRE, ScopeKind.DISTRICT, d)
    out["kpi"] = Principal("kpi-reader", Role.DISTRICT_CENTRE, ScopeKind.DISTRICT, d)
    app = getattr(Role, "APP", None)  # the mobilisation app's backend (check-ins for its members)
    if app is not None:
        out["app"] = Principal("mobilisation-app", app, ScopeKind.DISTRICT, d)
    return out


def create_tokens(db: str, territory: dict[str, Any], units: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """Create one token per principal in the service database ``db``; return key → token."""
    return create_principal_tokens(db, principals(territory, units))


def create_principal_tokens(db: str, who: dict[str, Principal]) -> dict[str, str]:
    """One token per principal of ``who`` in the service database ``db``; key → token."""
    from twin.service.storage import open_service_store

    store = open_service_store(db)
    tokens: dict[str, str] = {}
    try:
        now = time.time()
        for key, p in who.items():
            tok = new_token()
            store.add_token(token_hash(tok), p, now)
            tokens[key] = tok
    finally:
        store.close()
    return tokens


def read_tokens(path: Path) -> dict[str, str]:
    """A ``--tokens`` file: a JSON object of key → token (see the module docstring)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"--tokens {path}: expected a readable JSON object of key → token ({e})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"--tokens {path}: expected a JSON object of key → token string")
    return {str(k): v for k, v in data.items()}
