"""Target adapters: how an arrival becomes HTTP requests on a given platform.

``reference`` speaks the gridtwin API (JSON, bearer tokens, Idempotency-Key, If-Match);
``open311`` speaks GeoReport v2 (form-encoded POST ``requests.json`` with ``api_key``, GET
``requests/{id}.json``) and so can drive any Open311 endpoint — reporting and following only,
since Open311 has no API for handling. An adapter only builds requests and reads responses;
the Locust users send them.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from twin.loadtest.mobilisation import MemberCall, ModeStep
from twin.loadtest.plan import Arrival, Plan, describe

SOURCE_OF_CHANNEL = {"app": "app", "hotline": "hotline", "rider": "rider", "patrol": "patrol", "device": "device"}


@dataclass(frozen=True, slots=True)
class Req:
    """One HTTP request to send: method, path (with query), headers, body and stats name."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    name: str


def token_for(plan: Plan, key: str) -> str:
    tok = plan.tokens.get(key) or plan.tokens.get("*")
    if tok is None:
        raise KeyError(f"no token for {key!r} in the plan (and no '*' fallback)")
    return tok


def reporter_key(a: Arrival) -> str:
    """Whose token reports the arrival: the device, the grid worker on patrol, or a resident."""
    if a.kind == "device":
        return f"device:{a.grid}"
    if a.kind == "patrol":
        return f"worker:{a.grid}"
    return f"resident:{a.grid}"


def idempotency_key(plan: Plan, a: Arrival) -> str:
    return f"{plan.run_id}-{a.ref}"


class Reference:
    """The gridtwin reference API."""

    name = "reference"

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def auth(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(self.plan, key)}"}

    def report(self, a: Arrival) -> Req:
        body: dict[str, Any] = {
            "category": a.category,
            "tier": a.tier,
            "grid": a.grid,
            "community": a.community,
            "street": a.street,
            "district": a.district,
            "description": describe(a.ref, a.category),
        }
        if a.kind != "device":
            body["source"] = SOURCE_OF_CHANNEL.get(a.channel, "app")
        headers = {**self.auth(reporter_key(a)), "Content-Type": "application/json", "Idempotency-Key": idempotency_key(self.plan, a)}
        return Req("POST", "/cases", headers, json.dumps(body, ensure_ascii=False).encode(), "POST /cases")

    @staticmethod
    def case_id(status: int, text: str) -> str | None:
        if status not in (200, 201):
            return None
        try:
            return str(json.loads(text)["id"])
        except (ValueError, KeyError, TypeError):
            return None

    def follow(self, a: Arrival, case_id: str) -> Req:
        return Req("GET", f"/cases/{case_id}", self.auth(reporter_key(a)), None, "GET /cases/{id}")

    def evaluate(self, a: Arrival, case_id: str, version: int, score: int) -> Req:
        h = {**self.auth(reporter_key(a)), "Content-Type": "application/json", "If-Match": f'"{version}"'}
        return Req("POST", f"/cases/{case_id}/evaluate", h, json.dumps({"satisfaction": score}).encode(), "POST /cases/{id}/evaluate")

    def transition(self, key: str, case_id: str, action: str, version: int, body: dict[str, Any] | None = None) -> Req:
        h = {**self.auth(key), "Content-Type": "application/json", "If-Match": f'"{version}"'}
        data = json.dumps(body or {}, ensure_ascii=False).encode()
        path_action = action.replace("_", "-")
        return Req("POST", f"/cases/{case_id}/{path_action}", h, data, f"POST /cases/{{id}}/{path_action}")

    def work_list(self, key: str, states: tuple[str, ...], level: int | None = None, grid: str | None = None, limit: int = 50) -> Req:
        q: list[tuple[str, str]] = [("state", s) for s in states]
        if level is not None:
            q.append(("level", str(level)))
        if grid is not None:
            q.append(("grid", grid))
        q.append(("limit", str(limit)))
        name = "GET /cases?" + "&".join(f"state={s}" for s in states) + (f"&level={level}" if level is not None else "")
        return Req("GET", "/cases?" + urllib.parse.urlencode(q), self.auth(key), None, name)

    def events(self, key: str, case_id: str) -> Req:
        return Req("GET", f"/cases/{case_id}/events", self.auth(key), None, "GET /cases/{id}/events")

    # ------------------------------------------------------------------ the switchover
    def set_mode(self, step: ModeStep) -> Req:
        """``POST /mode`` by the district centre, with the head count the switch calls up."""
        body: dict[str, Any] = {"mode": step.mode, "reason": step.cause[:2000]}
        if step.mode != "normal":
            body["expected_members"] = step.expected_members
        h = {**self.auth("district"), "Content-Type": "application/json"}
        return Req("POST", "/mode", h, json.dumps(body, ensure_ascii=False).encode(), "POST /mode")

    def checkin(self, call: MemberCall) -> Req:
        """A member's check-in (报到) through the mobilisation app's backend (the ``app`` token);
        the Idempotency-Key is the member's for the whole run, so every resend is the same check-in."""
        h = {**self.auth("app"), "Content-Type": "application/json", "Idempotency-Key": f"{self.plan.run_id}-checkin-{call.member_id}"}
        body = {"member_id": call.member_id, "community": call.community}
        return Req("POST", "/mobilisation/checkins", h, json.dumps(body, ensure_ascii=False).encode(), "POST /mobilisation/checkins")

    @staticmethod
    def member_auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def open_tasks(self, token: str) -> Req:
        return Req("GET", "/mobilisation/tasks?status=open", self.member_auth(token), None, "GET /mobilisation/tasks?status=open")

    def claim(self, token: str, task_id: str, member_id: str) -> Req:
        h = {**self.member_auth(token), "Content-Type": "application/json", "Idempotency-Key": f"{self.plan.run_id}-claim-{member_id}-{task_id}"}
        return Req("POST", f"/mobilisation/tasks/{task_id}/claim", h, b"{}", "POST /mobilisation/tasks/{id}/claim")

    def complete(self, token: str, task_id: str, result: str) -> Req:
        h = {**self.member_auth(token), "Content-Type": "application/json"}
        body = json.dumps({"result": result}, ensure_ascii=False).encode()
        return Req("POST", f"/mobilisation/tasks/{task_id}/complete", h, body, "POST /mobilisation/tasks/{id}/complete")


class Open311:
    """Any Open311 GeoReport v2 endpoint (base path ``/open311/v2`` on the host by default)."""

    name = "open311"

    def __init__(self, plan: Plan, base: str = "/open311/v2") -> None:
        self.plan = plan
        self.base = base.rstrip("/")

    def service_code(self, a: Arrival) -> str:
        if a.tier == "T0":
            return "emergency"
        return self.plan.open311_services.get(a.category, "environment")

    def report(self, a: Arrival) -> Req:
        form = {
            "api_key": token_for(self.plan, reporter_key(a)),
            "service_code": self.service_code(a),
            "description": describe(a.ref, a.category),
            "attribute[grid]": a.grid,
            "attribute[community]": a.community,
            "attribute[street]": a.street,
            "attribute[district]": a.district,
        }
        if a.kind == "device":
            form["device_id"] = f"device:{a.grid}"
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Idempotency-Key": idempotency_key(self.plan, a)}
        path = f"{self.base}/requests.json"
        return Req("POST", path, headers, urllib.parse.urlencode(form).encode(), f"POST {path}")

    @staticmethod
    def case_id(status: int, text: str) -> str | None:
        if status not in (200, 201):
            return None
        try:
            rows = json.loads(text)
            return str(rows[0]["service_request_id"])
        except (ValueError, KeyError, IndexError, TypeError):
            return None

    def follow(self, a: Arrival, case_id: str) -> Req:
        q = urllib.parse.urlencode({"api_key": token_for(self.plan, reporter_key(a))})
        return Req("GET", f"{self.base}/requests/{urllib.parse.quote(case_id)}.json?{q}", {}, None, f"GET {self.base}/requests/{{id}}.json")


def adapter(plan: Plan) -> Reference | Open311:
    return Open311(plan) if plan.target == "open311" else Reference(plan)
