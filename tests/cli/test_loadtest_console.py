"""The load test's console and report read as numbers a person wrote: no raw floats, no Python
dict, no doubled method in endpoint names."""

from __future__ import annotations

from reports.loadtest_report import endpoint_label
from twin.cli.loadtest import _num, _pct


def test_endpoint_names_are_not_doubled() -> None:
    assert endpoint_label("GET GET /cases/{id}") == "GET /cases/{id}"
    assert endpoint_label("POST POST /cases") == "POST /cases"
    assert endpoint_label("POST /cases") == "POST /cases"


def test_numbers_are_rounded_for_people() -> None:
    assert _pct(0.3939393939393939) == "39.4 %"
    assert _pct(None) == "—"
    assert _num(0.3939393939393939) == "0.3939"
    assert _num(1234.0) == "1,234"
    assert _num(None) == "—"
