"""Cases and their audit events as plain values, for handovers between partitions.

A handover carries a case as the street had it when it handed the case up, and the events the
district recorded on it; both cross process boundaries (pickled), so they are tuples of plain
values: the engine's enums travel as their values and are looked up again on arrival (an enum
member pickles through Python-level ``__reduce_ex__`` and unpickles through ``EnumType.__call__``,
which made up half the pickling time of an outcome handover).
"""

from __future__ import annotations

from dataclasses import fields
from enum import Enum
from typing import Any

from twin.engine.types import Action, Case, Event, Level, Place, Source, State

_CASE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Case))
_PLACE = _CASE_FIELDS.index("place")


def _members(cls: type[Enum]) -> dict[Any, Any]:
    """Value → member of ``cls`` (a dict lookup, unlike calling the enum)."""
    return {m.value: m for m in cls}


_STATE = _members(State)
_ACTION = _members(Action)
_LEVEL = _members(Level)
#: The case fields that hold an engine enum, with the lookup that restores them.
_CASE_ENUMS: tuple[tuple[int, dict[Any, Any]], ...] = tuple(
    (i, table)
    for i, name in enumerate(_CASE_FIELDS)
    for field_name, table in (("source", _members(Source)), ("state", _STATE), ("level", _LEVEL), ("resolved_level", _LEVEL))
    if name == field_name
)


def case_values(case: Case) -> tuple[Any, ...]:
    """``case`` as a tuple of its fields (its place as a tuple, enums as their values)."""
    values = [getattr(case, name) for name in _CASE_FIELDS]
    for i, _ in _CASE_ENUMS:
        if values[i] is not None:
            values[i] = values[i].value
    p = case.place
    values[_PLACE] = (p.grid, p.community, p.street, p.district)
    return tuple(values)


def case_from_values(values: tuple[Any, ...]) -> Case:
    """The case :func:`case_values` gave (a new object)."""
    vals = list(values)
    for i, table in _CASE_ENUMS:
        if vals[i] is not None:
            vals[i] = table[vals[i]]
    kw = dict(zip(_CASE_FIELDS, vals, strict=True))
    kw["place"] = Place(*kw["place"])
    return Case(**kw)


def event_values(e: Event) -> tuple[Any, ...]:
    """``(action, from_state, to_state, at, actor, mode, data items)`` of an audit event, the
    enums as their values (:func:`event_from_values` restores them)."""
    frm = e.from_state
    return (e.action.value, None if frm is None else frm.value, e.to_state.value, e.at, e.actor, e.mode, tuple(e.data.items()))


def event_from_values(v: tuple[Any, ...]) -> tuple[Any, ...]:
    """The event values :func:`event_values` gave with the engine's enums again — what
    :meth:`twin.model.flow.CaseFlow.take_back` applies."""
    action, frm, to, at, actor, mode, data = v
    return (_ACTION[action], None if frm is None else _STATE[frm], _STATE[to], at, actor, mode, data)
