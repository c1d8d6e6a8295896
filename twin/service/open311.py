"""Open311 GeoReport v2 facade at ``/open311/v2`` — so existing Open311 clients can report into
the engine and follow their requests.

Services are the engine's categories with their SLA tier; each declares the attributes
``grid``, ``community``, ``street`` and ``district`` (where the case belongs), which a POST
passes as ``attribute[grid]`` etc. ``api_key`` is a bearer token from ``twin token create``
(the ``Authorization: Bearer`` header works too); POST needs one, reads of requests do not
(GeoReport v2: they are public and carry no personal data) unless the deployment turns
``open311_public_reads`` off. Engine states map to ``open``/``closed``;
``status_notes`` says which engine state and why, ``agency_responsible`` who holds the case,
``expected_datetime`` its due time. Formats: ``.json`` and ``.xml``.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from xml.etree import ElementTree as ET

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from twin.engine.store import CaseQuery
from twin.engine.types import Case, State
from twin.service import models as m
from twin.service.auth import Principal
from twin.service.edge import bearer_token, scope_filter
from twin.service.geometry import TerritoryMap
from twin.service.times import iso, minutes_of

Fmt = Literal["json", "xml"]


@dataclass(frozen=True, slots=True)
class Service311:
    code: str
    name: str
    category: str
    tier: str
    group: str
    description: str


#: The services offered to Open311 clients: each files cases of one catalogue category (the
#: street scenario's) at one SLA tier. A deployment whose catalogue lacks a service's category
#: does not offer it (see :func:`offered`).
SERVICES: tuple[Service311, ...] = (
    Service311("emergency", "Emergency (SOS, fall, gas smell)", "safety", "T0", "safety", "On site within 30 minutes."),
    Service311("environment", "Litter, sanitation, greenery", "environment", "T1", "environment", "小事: done within 2 hours."),
    Service311("street_order", "Parking, street vending, blocked pavement", "street_order", "T1", "environment", "小事: 占道经营, 乱停车."),
    Service311("facility", "Broken public facility", "facility", "T2", "infrastructure", "费时事: solved within 2 days."),
    Service311("safety_hazard", "Safety hazard", "safety", "T1", "safety", "Fire exits, wires, falling objects."),
    Service311("elderly_care", "Help for an elder living alone", "livelihood", "T1", "livelihood", "Visit and help."),
    Service311("dispute", "Neighbourhood dispute", "disputes", "T3", "rule_of_law", "复杂事: an answer within 7 days."),
)
SERVICE_BY_CODE = {s.code: s for s in SERVICES}
_SERVICE_BY_KIND = {(s.category, s.tier): s for s in SERVICES}
_SERVICE_BY_CATEGORY: dict[str, Service311] = {}
for _s in SERVICES:
    _SERVICE_BY_CATEGORY.setdefault(_s.category, _s)


def offered(catalogue: frozenset[str]) -> tuple[Service311, ...]:
    """The services whose category the service's catalogue holds (all of them with no catalogue)."""
    return tuple(s for s in SERVICES if not catalogue or s.category in catalogue)


def service_of(c: Case) -> Service311 | None:
    """The service a case files under: the one of its category and tier, else of its category."""
    return _SERVICE_BY_KIND.get((c.category, c.tier)) or _SERVICE_BY_CATEGORY.get(c.category)


PLACE_ATTRIBUTES = ("grid", "community", "street", "district")
CLOSED_STATES = frozenset({State.RESOLVED, State.VERIFIED, State.CLOSED, State.EVALUATED, State.REJECTED, State.MERGED})
STATUS_NOTES = {
    State.REPORTED: "received, awaiting acceptance",
    State.ACCEPTED: "accepted, awaiting dispatch",
    State.DISPATCHED: "dispatched to the responsible unit",
    State.IN_PROGRESS: "being handled on site",
    State.REOPENED: "reopened for rework",
    State.RESOLVED: "resolved, awaiting verification",
    State.VERIFIED: "resolved and verified",
    State.CLOSED: "closed",
    State.EVALUATED: "closed and evaluated",
    State.REJECTED: "rejected",
    State.MERGED: "merged into another request",
}
LEVEL_UNITS = ("grid", "community", "street centre", "district centre")


def _parse_iso(text: str, field: str) -> float:
    """An RFC 3339 / ISO 8601 date-time (without offset: the service's +08:00) as engine time;
    Open311 error 400 if not one."""
    t = re.sub(r"(T\d\d:\d\d):60", r"\1:59", text.strip().upper())  # a leap second: the second before it
    try:
        minutes = minutes_of(t, field)
    except ValueError as e:
        raise Open311Error(400, str(e)) from None
    assert minutes is not None
    return minutes


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _xml(root: str, item: str, rows: list[dict[str, Any]]) -> bytes:
    top = ET.Element(root)
    for r in rows:
        el = ET.SubElement(top, item)
        for k, v in r.items():
            child = ET.SubElement(el, k)
            if isinstance(v, list):
                for x in v:
                    ET.SubElement(child, "value" if not isinstance(x, dict) else "attribute").text = str(x)
            elif isinstance(v, bool):
                child.text = "true" if v else "false"
            elif v is not None:
                child.text = str(v)
    return b'<?xml version="1.0" encoding="utf-8"?>' + bytes(ET.tostring(top, encoding="utf-8", xml_declaration=False))


def _render(fmt: str, root: str, item: str, rows: list[dict[str, Any]], status: int = 200) -> Response:
    if fmt == "xml":
        return Response(_xml(root, item, rows), status_code=status, media_type="application/xml")
    return Response(json.dumps(rows, ensure_ascii=False).encode(), status_code=status, media_type="application/json")


def _errors(fmt: str, status: int, description: str, headers: dict[str, str] | None = None) -> Response:
    r = _render(fmt, "errors", "error", [{"code": status, "description": description}], status)
    if headers:
        r.headers.update(headers)
    return r


def open311_error(path: str, status: int, description: str) -> Response:
    """An Open311 error list in the format the path asks for (``….xml`` or JSON)."""
    return _errors("xml" if path.endswith(".xml") else "json", status, description)


#: Report fields and the Open311 form fields they come from (for error messages).
FORM_NAMES = {"lon": "long", "contact": "email/phone/first_name/last_name", **{a: f"attribute[{a}]" for a in PLACE_ATTRIBUTES}}


def _field_errors(e: ValidationError) -> str:
    """A pydantic error as Open311 form fields and what was wrong with them."""
    parts = []
    for err in e.errors()[:5]:
        loc = [str(x) for x in err.get("loc", ())]
        name = FORM_NAMES.get(loc[0], loc[0]) if loc else "body"
        parts.append(f"{name}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


#: ``address_string`` as the requests' ``address`` writes a place: four unit ids, no spaces.
ADDRESS_PATTERN = r"^[^/\s]{1,64}(/[^/\s]{1,64}){3}$"


def place_of(form: dict[str, str], fmt: str, s: Service311, territory: TerritoryMap) -> dict[str, str]:
    """Where a request belongs: ``attribute[grid]`` … ``attribute[district]`` when all four are
    given, else ``address_string`` written as the requests' own ``address``
    (``district/street/community/grid``), else the grid holding the point ``lat``/``long`` in
    the territory's geometry. Open311 error 400 naming the fields otherwise."""
    attrs = {a: form.get(f"attribute[{a}]", "").strip() for a in PLACE_ATTRIBUTES}
    if all(attrs.values()):
        return attrs
    address = form.get("address_string", "")
    if address:
        if re.fullmatch(ADDRESS_PATTERN, address):
            district, street, community, grid = address.split("/")
            return {"grid": grid, "community": community, "street": street, "district": district}
        raise Open311Error(400, f"address_string: expected district/street/community/grid, got {address!r}")
    if form.get("lat") or form.get("long"):
        lat, lon = _point(form)
        p = territory.locate(lat, lon)
        if p is None:
            raise Open311Error(400, f"lat/long: the point {lat:g},{lon:g} lies outside the territory ({territory.describe()})")
        return {"grid": p.grid, "community": p.community, "street": p.street, "district": p.district}
    missing = next(a for a in PLACE_ATTRIBUTES if not attrs[a])
    raise Open311Error(
        400, f"attribute[{missing}]: required, or address_string as district/street/community/grid, or lat/long (see services/{s.code}.{fmt})"
    )


def _point(form: dict[str, str]) -> tuple[float, float]:
    """The request's ``lat``/``long`` in decimal degrees; Open311 error 400 naming them if not."""
    try:
        lat, lon = float(form.get("lat", "")), float(form.get("long", ""))
    except ValueError:
        raise Open311Error(400, f"lat/long: expected decimal degrees, got {form.get('lat')!r}/{form.get('long')!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Open311Error(400, f"lat/long: expected lat within ±90 and long within ±180, got {lat:g}/{lon:g}")
    return lat, lon


def service_json(s: Service311) -> dict[str, Any]:
    return {
        "service_code": s.code,
        "service_name": s.name,
        "description": s.description,
        "metadata": True,
        "type": "realtime",
        "keywords": s.category,
        "group": s.group,
    }


def definition_json(s: Service311) -> dict[str, Any]:
    attrs = [
        {
            "variable": True,
            "code": a,
            "datatype": "string",
            "required": True,
            "datatype_description": f"the {a} the request belongs to",
            "order": i + 1,
            "description": f"{a} (网格化管理 unit)",
        }
        for i, a in enumerate(PLACE_ATTRIBUTES)
    ]
    return {"service_code": s.code, "attributes": attrs}


def request_json(c: Case) -> dict[str, Any]:
    """One engine case as an Open311 service request."""
    svc = service_of(c)
    notes = STATUS_NOTES[c.state]
    if c.state is State.MERGED and c.merged_into:
        notes = f"merged into request {c.merged_into}"
    agency = ", ".join(c.assignees) if c.assignees else f"{LEVEL_UNITS[c.level]} {c.place.unit_at(c.level)}"
    times = [t for t in (c.reported_at, c.accepted_at, c.dispatched_at, c.started_at, c.resolved_at, c.verified_at, c.closed_at, c.evaluated_at) if t is not None]
    return {
        "service_request_id": c.id,
        "status": "closed" if c.state in CLOSED_STATES else "open",
        "status_notes": f"{c.state.value}: {notes}",
        "service_name": svc.name if svc else c.category,
        "service_code": svc.code if svc else c.category,
        "description": c.description,
        "agency_responsible": agency,
        "service_notice": f"tier {c.tier}",
        "requested_datetime": iso(c.reported_at),
        "updated_datetime": iso(max(times)),
        "expected_datetime": iso(c.due_at),
        "address": f"{c.place.district}/{c.place.street}/{c.place.community}/{c.place.grid}",
        "address_id": c.place.grid,
        "zipcode": None,
        "lat": c.lat,
        "long": c.lon,
        "media_url": None,
    }


JSON_OR_XML = {"application/json": {}, "application/xml": {"schema": {"type": "string"}}}
ERR = {
    "description": "Open311 error list",
    "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object", "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}}}, "application/xml": {"schema": {"type": "string"}}},
}
ERRORS311: dict[int | str, dict[str, Any]] = {c: ERR for c in (400, 401, 403, 404, 409, 413, 422, 429, 503)}


def mount_open311(app: FastAPI, svc: Any, config: Any) -> None:
    """Add the /open311/v2 routes to ``app`` over the running service ``svc``."""
    from twin.service.app import ApiError, do_report

    def who_from(request: Request, api_key: str | None) -> Principal:
        token = api_key if api_key is not None else bearer_token(request.headers.get("authorization"))
        if not token:
            raise Open311Error(401, "api_key is required (a token from `twin token create`)")
        p, why = svc.check_token(token)
        if p is None:
            raise Open311Error(401, f"api_key: {why}")
        limited = svc.over_rate(p)
        if limited is not None:
            raise limited
        return p

    def reader(request: Request, api_key: str | None) -> Principal | None:
        """Who reads requests: the key's principal (its scope) when a key is sent; None — the
        public, every request — when none is and reads are public (GeoReport v2's default; a
        deployment may require a key: ``open311_public_reads`` off). Request bodies carry no
        reporter and no contact, so the public view and a key's view differ only in scope."""
        has_key = api_key is not None or bearer_token(request.headers.get("authorization")) is not None
        if not has_key and config.open311_public_reads:
            return None
        return who_from(request, api_key)

    def guarded(fmt: str, fn: Any) -> Response:
        try:
            return fn()  # type: ignore[no-any-return]
        except Open311Error as e:
            return _errors(fmt, e.status, e.description)
        except ApiError as e:
            return _errors(fmt, e.status, e.reason, e.headers)

    @app.get("/open311/v2/services.{fmt}", tags=["open311"], responses={200: {"description": "service list", "content": JSON_OR_XML}, **ERRORS311})
    def services(fmt: Fmt = Path(), jurisdiction_id: str | None = Query(default=None, max_length=64)) -> Response:
        """GeoReport v2 service discovery: the categories that can be reported."""
        return _render(fmt, "services", "service", [service_json(s) for s in offered(svc.catalogue)])

    @app.get("/open311/v2/services/{service_code}.{fmt}", tags=["open311"], responses={200: {"description": "service definition", "content": JSON_OR_XML}, **ERRORS311})
    def service_definition(service_code: str = Path(max_length=64), fmt: Fmt = Path(), jurisdiction_id: str | None = Query(default=None, max_length=64)) -> Response:
        """GeoReport v2 service definition: the attributes a request of this service carries."""
        s = SERVICE_BY_CODE.get(service_code)
        if s is None or s not in offered(svc.catalogue):
            return _errors(fmt, 404, f"no service {service_code!r}; see services.{fmt}")
        d = definition_json(s)
        if fmt == "xml":
            top = ET.Element("service_definition")
            ET.SubElement(top, "service_code").text = s.code
            attrs = ET.SubElement(top, "attributes")
            for a in d["attributes"]:
                el = ET.SubElement(attrs, "attribute")
                for k, v in a.items():
                    ET.SubElement(el, k).text = str(v).lower() if isinstance(v, bool) else str(v)
            return Response(b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8"), media_type="application/xml")
        return Response(json.dumps(d, ensure_ascii=False).encode(), media_type="application/json")

    form_schema = {
        "type": "object",
        "required": ["service_code"],
        "anyOf": [{"required": [f"attribute[{a}]" for a in PLACE_ATTRIBUTES]}, {"required": ["address_string"]}],
        "properties": {
            "api_key": {"type": "string", "maxLength": 200},
            "jurisdiction_id": {"type": "string", "maxLength": 64},
            "service_code": {"type": "string", "enum": [s.code for s in offered(svc.catalogue)]},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "long": {"type": "number", "minimum": -180, "maximum": 180},
            "address_string": {"type": "string", "maxLength": 200, "pattern": ADDRESS_PATTERN, "description": "district/street/community/grid"},
            "email": {"type": "string", "maxLength": 30},
            "device_id": {"type": "string", "maxLength": 64},
            "account_id": {"type": "string", "maxLength": 64},
            "first_name": {"type": "string", "maxLength": 30},
            "last_name": {"type": "string", "maxLength": 30},
            "phone": {"type": "string", "maxLength": 30},
            "description": {"type": "string", "maxLength": 4000},
            "media_url": {"type": "string", "maxLength": 400},
            **{f"attribute[{a}]": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^\\S+$"} for a in PLACE_ATTRIBUTES},
        },
    }

    @app.post(
        "/open311/v2/requests.{fmt}",
        tags=["open311"],
        status_code=201,
        responses={
            201: {
                "description": "the created request's id",
                "content": JSON_OR_XML,
                "links": {
                    "GetRequest": {
                        "operationId": "open311_get_request",
                        "parameters": {"service_request_id": "$response.body#/0/service_request_id", "fmt": "json"},
                    }
                },
            },
            **ERRORS311,
        },
        openapi_extra={"requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": form_schema}}, "required": True}},
    )
    async def post_request(request: Request, fmt: Fmt = Path()) -> Response:
        """GeoReport v2 POST Service Request (form-encoded; ``api_key`` required)."""
        raw = await request.body()
        try:
            if request.headers.get("content-type", "").startswith("application/json"):
                parsed = json.loads(raw or b"{}")
                if not isinstance(parsed, dict):
                    raise ValueError("expected a JSON object")
                form = {str(k): str(v) for k, v in parsed.items()}
            else:
                form = {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
        except (ValueError, UnicodeDecodeError) as e:
            return _errors(fmt, 400, f"body: could not read the form ({e})")
        bad = sorted(k for k, v in form.items() if "\x00" in k or "\x00" in v)
        if bad:
            return _errors(fmt, 400, f"{bad[0]}: the NUL character (U+0000) is not allowed in text")
        idem = request.headers.get("idempotency-key")
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(lambda: guarded(fmt, lambda: _post(request, fmt, form, idem)))

    def _post(request: Request, fmt: str, form: dict[str, str], idem: str | None) -> Response:
        who = who_from(request, form.get("api_key"))
        code = form.get("service_code")
        services = offered(svc.catalogue)
        s = SERVICE_BY_CODE.get(code or "")
        if s is None or s not in services:
            raise Open311Error(400, f"service_code: expected one of {[x.code for x in services]}, got {code!r}")
        place = place_of(form, fmt, s, svc.territory)
        contact = "; ".join(
            f"{k}={form[k]}" for k in ("first_name", "last_name", "email", "phone") if form.get(k)
        ) or None
        try:
            lat = float(form["lat"]) if form.get("lat") else None
            lon = float(form["long"]) if form.get("long") else None
            body = m.ReportIn(
                category=s.category,
                tier=s.tier,  # type: ignore[arg-type]
                **place,
                description=form.get("description", "") or "",
                lat=lat,
                lon=lon,
                contact=contact,
            )
        except ValidationError as e:
            raise Open311Error(400, _field_errors(e)) from None
        except ValueError:
            raise Open311Error(400, f"lat/long: expected decimal degrees, got {form.get('lat')!r}/{form.get('long')!r}") from None
        _, _, case_id, _ = do_report(svc, who, body, idem)
        return _render(fmt, "service_requests", "request", [{"service_request_id": case_id, "service_notice": f"tier {s.tier}", "account_id": None}], 201)

    @app.get("/open311/v2/requests.{fmt}", tags=["open311"], responses={200: {"description": "service requests", "content": JSON_OR_XML}, **ERRORS311})
    def get_requests(
        request: Request,
        fmt: Fmt = Path(),
        api_key: str | None = Query(default=None, max_length=200),
        service_request_id: str | None = Query(default=None, max_length=4000, description="comma-separated ids"),
        service_code: str | None = Query(default=None, max_length=64),
        start_date: str | None = Query(default=None, max_length=40, description="ISO 8601; default 90 days before end_date", json_schema_extra={"format": "date-time"}),
        end_date: str | None = Query(default=None, max_length=40, description="ISO 8601", json_schema_extra={"format": "date-time"}),
        status: str | None = Query(default=None, max_length=20, pattern="^(open|closed)(,(open|closed))?$", description="open, closed or open,closed"),
        jurisdiction_id: str | None = Query(default=None, max_length=64),
    ) -> Response:
        """GeoReport v2 GET Service Requests with the standard filters: public (no key; no
        personal data in a request), or in your scope with ``api_key``."""

        def run() -> Response:
            who = reader(request, api_key)
            if service_request_id:
                found = []
                for cid in service_request_id.split(",")[: config.max_page]:
                    c = svc.engine.store.get(cid.strip())
                    if c is not None and (who is None or who.can_see(c)):
                        found.append(c)
                return _render(fmt, "service_requests", "request", [request_json(c) for c in found])
            statuses = {x.strip() for x in status.split(",")} if status else {"open", "closed"}
            if not statuses <= {"open", "closed"}:
                raise Open311Error(400, f"status: expected open, closed or both, got {status!r}")
            end = _parse_iso(end_date, "end_date") if end_date is not None else None
            start = _parse_iso(start_date, "start_date") if start_date is not None else None
            if start is None:  # the standard's default window: 90 days before the end date
                start = (end if end is not None else datetime.now(tz=UTC).timestamp() / 60.0) - timedelta(days=90).total_seconds() / 60.0
            category = wanted = None
            if service_code:
                wanted = SERVICE_BY_CODE.get(service_code)
                if wanted is None:
                    return _render(fmt, "service_requests", "request", [])
                category = wanted.category
            filt = {} if who is None else scope_filter(who)
            out = []
            for c in svc.engine.query(CaseQuery(category=category, **filt)):
                if (who is not None and not who.can_see(c)) or c.reported_at < start or (end is not None and c.reported_at > end):
                    continue
                if ("closed" if c.state in CLOSED_STATES else "open") not in statuses:
                    continue
                if wanted is not None and service_of(c) is not wanted:  # two services share a category
                    continue
                out.append(request_json(c))
            out.sort(key=lambda r: r["requested_datetime"], reverse=True)
            return _render(fmt, "service_requests", "request", out[: config.max_page])

        return guarded(fmt, run)

    @app.get("/open311/v2/requests/{service_request_id}.{fmt}", tags=["open311"], operation_id="open311_get_request", responses={200: {"description": "one service request", "content": JSON_OR_XML}, **ERRORS311})
    def get_request(
        request: Request,
        service_request_id: str = Path(max_length=64),
        fmt: Fmt = Path(),
        api_key: str | None = Query(default=None, max_length=200),
        jurisdiction_id: str | None = Query(default=None, max_length=64),
    ) -> Response:
        """GeoReport v2 GET Service Request: one request (public without a key; with one, 404
        outside your scope)."""

        def run() -> Response:
            who = reader(request, api_key)
            c = svc.engine.store.get(service_request_id)
            if c is None or (who is not None and not who.can_see(c)):
                raise Open311Error(404, f"no request {service_request_id!r} in your scope")
            return _render(fmt, "service_requests", "request", [request_json(c)])

        return guarded(fmt, run)
