"""Case.to_dict / from_dict / copy are written out field by field for speed: they must cover
every field, keep field order, reverse each other exactly, and reject unknown enum values."""

from __future__ import annotations

import dataclasses

import pytest

from twin.engine import jsoncodec
from twin.engine.types import CASE_FIELDS, Case, Level, Place, Source, State


def _every_field_set() -> Case:
    """A case whose every field differs from its default and from every other field."""
    c = Case("id-1", "noise", "T2", Place("G7", "C3", "S2", "D1"), Source.RIDER, "r-9", 10.5, 130.25)
    values = {
        "description": "loud music 夜间噪音",
        "lat": 35.4,
        "lon": 116.9,
        "state": State.REOPENED,
        "level": Level.STREET,
        "level_since": 11.75,
        "assignees": ("board:民生服务", "dept:环保"),
        "version": 9,
        "accepted_at": 12.0,
        "dispatched_at": 13.0,
        "started_at": 14.0,
        "resolved_at": 15.0,
        "verified_at": 16.0,
        "closed_at": 17.0,
        "evaluated_at": 18.0,
        "resolved_level": Level.COMMUNITY,
        "resolved_by": "w-3",
        "satisfaction": 2,
        "reopen_count": 1,
        "reopened_by_evaluation": True,
        "escalations": 3,
        "merged_into": "id-0",
        "volunteer": "pm-4",
        "service_hours": 2.5,
        "points": 7.5,
        "mode": "emergency",
        "unit_since": 13.5,
        "unit_due_at": 140.0,
        "done_by": "reply",
        "replied_at": 15.5,
        "suspended_at": 14.5,
        "suspended_minutes": 30.0,
        "suspensions": 2,
        "extension_pending": 90.0,
        "extensions_requested": 3,
        "extensions_approved": 1,
        "reassignments": 4,
        "returns": 5,
        "stints": 6,
        "late_stints": 7,
        "warning": 1,
        "warnings_yellow": 8,
        "warnings_red": 9,
    }
    for k, v in values.items():
        setattr(c, k, v)
    defaults = Case("x", "x", "T1", Place("g", "c", "s", "d"), Source.APP, None, 0.0, 0.0)
    for f in CASE_FIELDS:  # guard the guard: a field added later must be added above too
        assert getattr(c, f) != getattr(defaults, f), f"set {f} in _every_field_set"
    return c


def test_to_dict_has_every_field_in_order() -> None:
    c = _every_field_set()
    d = c.to_dict()
    expected: list[str] = []
    for f in CASE_FIELDS:
        expected += ["grid", "community", "street", "district"] if f == "place" else [f]
    assert list(d) == expected
    assert d["state"] == "reopened" and type(d["state"]) is str
    assert d["level"] == 2 and type(d["level"]) is int
    assert d["resolved_level"] == 1 and type(d["resolved_level"]) is int
    assert d["source"] == "rider" and type(d["source"]) is str
    assert d["assignees"] == ["board:民生服务", "dept:环保"]


def test_from_dict_reverses_to_dict_through_json() -> None:
    c = _every_field_set()
    back = Case.from_dict(jsoncodec.loads(jsoncodec.dumps(c.to_dict())))
    assert dataclasses.astuple(back) == dataclasses.astuple(c)
    assert type(back.state) is State and type(back.level) is Level and type(back.resolved_level) is Level
    assert type(back.source) is Source and back.assignees == c.assignees


def test_from_dict_of_a_partial_document_takes_defaults() -> None:
    d = _every_field_set().to_dict()
    for k in ("points", "mode", "volunteer"):
        del d[k]
    back = Case.from_dict(d)
    assert back.points is None and back.mode == "normal" and back.volunteer is None and back.version == 9


def test_from_dict_rejects_an_unknown_state() -> None:
    d = _every_field_set().to_dict()
    d["state"] = "lost"
    with pytest.raises(ValueError, match="lost"):
        Case.from_dict(d)


def test_copy_is_equal_and_independent() -> None:
    c = _every_field_set()
    k = c.copy()
    assert k is not c and dataclasses.astuple(k) == dataclasses.astuple(c)
    k.state = State.CLOSED
    k.version += 1
    assert c.state is State.REOPENED and c.version == 9


def test_codec_falls_back_for_what_orjson_refuses() -> None:
    assert jsoncodec.dumps({1: "a"}) == b'{"1":"a"}'  # non-string key: the standard library's answer
    assert jsoncodec.dumps({"a": [1, 2.5, None, "网格"]}) == '{"a":[1,2.5,null,"网格"]}'.encode()
