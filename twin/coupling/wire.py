"""Cases and their audit events as plain values, for handovers between partitions.

A handover carries a case as the street had it when it handed the case up, and the events the
district recorded on it; both cross process boundaries (pickled), so they are tuples of plain
values and the engine's own enums.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from twin.engine.types import Case, Event, Place

_CASE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Case))
_PLACE = _CASE_FIELDS.index("place")


def case_values(case: Case) -> tuple[Any, ...]:
    """``case`` as a tuple of its fields (its place as a tuple)."""
    values = [getattr(case, name) for name in _CASE_FIELDS]
    p = case.place
    values[_PLACE] = (p.grid, p.community, p.street, p.district)
    return tuple(values)


def case_from_values(values: tuple[Any, ...]) -> Case:
    """The case :func:`case_values` gave (a new object)."""
    kw = dict(zip(_CASE_FIELDS, values, strict=True))
    kw["place"] = Place(*kw["place"])
    return Case(**kw)


def event_values(e: Event) -> tuple[Any, ...]:
    """``(action, from_state, to_state, at, actor, mode, data items)`` of an audit event —
    what :meth:`twin.model.flow.CaseFlow.take_back` applies."""
    return (e.action, e.from_state, e.to_state, e.at, e.actor, e.mode, tuple(e.data.items()))
