"""Handovers carry cases and audit events as plain values and give back the engine's own
enum members after a trip through pickle (what a pipe between processes does)."""

from __future__ import annotations

import pickle

from twin.coupling.protocol import SHARED, Handover
from twin.coupling.wire import case_from_values, case_values, event_from_values, event_values
from twin.engine.types import Action, Case, Event, Level, Place, Source, State


def _trip(x: object) -> object:
    return pickle.loads(pickle.dumps(x, protocol=pickle.HIGHEST_PROTOCOL))


def test_case_keeps_its_enum_members_across_a_pipe() -> None:
    case = Case(id="c-1", category="road", tier="T2", place=Place("g1", "c1", "s1", "d"), source=Source.APP,
                reporter=None, reported_at=10.0, due_at=500.0, state=State.DISPATCHED, level=Level.STREET,
                resolved_level=Level.DISTRICT)
    h = _trip(Handover(40.0, SHARED, "escalate", (0, case_values(case), 3, False)))
    assert isinstance(h, Handover) and h.at == 40.0 and h.to == SHARED
    back = case_from_values(h.payload[1])
    assert back == case
    assert back.state is State.DISPATCHED and back.level is Level.STREET and back.resolved_level is Level.DISTRICT
    assert back.source is Source.APP and back.place == case.place


def test_event_values_travel_as_plain_values() -> None:
    e = Event("c-1", 4, Action.ESCALATE, None, State.DISPATCHED, 70.5, "district", "normal", {"level": 3})
    wire = event_values(e)
    assert all(not isinstance(v, (Action, State)) for v in wire[:3])
    action, frm, to, at, actor, mode, data = event_from_values(_trip(wire))  # type: ignore[arg-type]
    assert action is Action.ESCALATE and frm is None and to is State.DISPATCHED
    assert (at, actor, mode, dict(data)) == (70.5, "district", "normal", {"level": 3})
