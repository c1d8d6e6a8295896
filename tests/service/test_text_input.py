"""Text no database can store: the NUL character (U+0000). PostgreSQL refuses it in text, and
once failed a whole group commit with a 500; now every way in refuses it with a 4xx naming
the field, on both databases, and the requests around it are untouched."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from .helpers import PLACE, Server, act, report


@pytest.mark.parametrize(
    "body, field",
    [
        ({"description": "pipe\u0000burst"}, "description"),
        ({"category": "water\u0000"}, "category"),
        ({"contact": "138\u00000000"}, "contact"),
    ],
)
def test_a_report_with_nul_is_refused_with_the_field_named(any_server: Server, body: dict[str, str], field: str) -> None:
    with any_server.client(any_server.tokens["resident"]) as res:
        for key in (None, "nul-key-" + field):  # the fast lane and the idempotent path
            r = report(res, key=key, **body)
            assert r.status_code == 422, r.text
            assert field in r.json()["reason"] and "U+0000" in r.json()["reason"]


def test_transitions_queries_and_open311_refuse_nul(any_server: Server) -> None:
    t = any_server.tokens
    with any_server.client(t["resident"]) as res, any_server.client(t["grid_worker"]) as gw:
        case = report(res).json()
        r = act(gw, case, "reject", {"reason": "dup\u0000licate"})
        assert r.status_code == 422 and "reason" in r.json()["reason"], r.text
        r = gw.get("/cases", params={"grid": "G\u00001"})
        assert r.status_code == 422 and "query" in r.json()["reason"], r.text
        r = gw.get(f"/cases/{case['id']}%00")
        assert r.status_code in (404, 422), r.text
        form = {"api_key": t["resident"], "service_code": "environment", "description": "x\u0000y",
                **{f"attribute[{k}]": v for k, v in PLACE.items()}}
        r = res.post("/open311/v2/requests.json", data=form)
        assert r.status_code == 400 and "U+0000" in r.json()[0]["description"], r.text
        r = res.get("/open311/v2/requests.json", params={"api_key": t["resident"], "service_code": "a\u0000"})
        assert r.status_code == 400, r.text
        # the case is untouched and still moves on
        r = act(gw, case, "accept")
        assert r.status_code == 200 and r.json()["version"] == 2


def test_a_bad_request_does_not_fail_the_requests_committed_with_it(any_server: Server) -> None:
    """Good and bad reports at once: the good ones are all acknowledged and stored."""
    with any_server.client(any_server.tokens["resident"]) as res:

        def send(i: int) -> httpx.Response:
            return report(res, description=f"ok {i}" if i % 3 else f"bad\u0000{i}")

        with ThreadPoolExecutor(8) as pool:
            rs = list(pool.map(send, range(60)))
        good = [r for i, r in enumerate(rs) if i % 3]
        bad = [r for i, r in enumerate(rs) if not i % 3]
        assert all(r.status_code == 201 for r in good), [r.text for r in good if r.status_code != 201][:2]
        assert all(r.status_code == 422 for r in bad)
        for r in good:
            got = res.get(f"/cases/{r.json()['id']}")
            assert got.status_code == 200 and got.json()["description"] == r.json()["description"]
