"""Times at the HTTP edge: ISO 8601 with the service's UTC offset (+08:00, China Standard Time).

The engine's clock stays numeric (minutes since the Unix epoch) inside; every body the service
answers with — native API and Open311 — carries times as ISO 8601 date-times with offset,
to the millisecond (``2026-12-03T20:15:07.250+08:00``), so a client needs no epoch arithmetic
and two events a few milliseconds apart stay ordered. Where a client sends a time it may use
either form (:func:`minutes_of`); the native API has no time inputs today, Open311 has
``start_date``/``end_date``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

#: The service's offset: the PRC keeps one time zone, UTC+08:00, with no daylight saving.
SERVICE_TZ = timezone(timedelta(hours=8))

#: The time fields of a case body (the rest of its numbers are counts, minutes or scores).
CASE_TIME_FIELDS: tuple[str, ...] = (
    "reported_at", "due_at", "level_since", "accepted_at", "dispatched_at", "started_at", "resolved_at",
    "verified_at", "closed_at", "evaluated_at", "unit_since", "unit_due_at", "replied_at", "suspended_at",
)


def iso_reference(minutes: float) -> str:
    """Engine time as ISO 8601 with the service's offset, the plain way (what :func:`iso` must
    equal character for character; tests/service/test_iso_fast.py compares them)."""
    return datetime.fromtimestamp(minutes * 60.0, tz=SERVICE_TZ).isoformat(timespec="milliseconds")


#: Formatted times (engine minutes → text) and whole seconds (→ ``YYYY-MM-DDTHH:MM:SS``) seen
#: lately: a case's body repeats its report and due times in every answer, and a second's
#: date and clock are the same for all its milliseconds. Bounded (cleared when full).
_TEXT: dict[float, str] = {}
_SECOND: dict[int, str] = {}
_OFFSET_TEXT = datetime.fromtimestamp(0, tz=SERVICE_TZ).isoformat()[-6:]  # "+08:00"
_MILLIS: tuple[str, ...] = tuple(f".{i:03d}{_OFFSET_TEXT}" for i in range(1000))
_CACHE_MAX = 50_000


def iso(minutes: float | None) -> str | None:
    """Engine time (minutes since the Unix epoch) as ISO 8601 with the service's offset.

    Every case body carries up to 14 times, and formatting them with ``datetime`` was a fifth of
    a transition's CPU on the committer thread. This gives the same text as
    :func:`iso_reference`: the seconds and microseconds split and rounded as
    ``datetime.fromtimestamp`` does (half to even; milliseconds then truncated, as ``isoformat``
    does), the date and clock of the whole second formatted once per second."""
    if minutes is None:
        return None
    hit = _TEXT.get(minutes)
    if hit is not None:
        return hit
    secs = minutes * 60.0
    if not -6e10 < secs < 2.5e11:  # far outside the years 1 to 9999 a service sees: the plain way
        return iso_reference(minutes)
    frac, whole = math.modf(secs)
    micros = round(frac * 1e6)  # float round(): half to even, as datetime rounds a timestamp
    second = int(whole)
    if micros >= 1_000_000:
        micros -= 1_000_000
        second += 1
    elif micros < 0:
        micros += 1_000_000
        second -= 1
    clock = _SECOND.get(second)
    if clock is None:
        if len(_SECOND) >= _CACHE_MAX:
            _SECOND.clear()
        clock = _SECOND[second] = datetime.fromtimestamp(second, tz=SERVICE_TZ).isoformat(timespec="seconds")[:-6]
    text = clock + _MILLIS[micros // 1000]
    if len(_TEXT) >= _CACHE_MAX:
        _TEXT.clear()
    _TEXT[minutes] = text
    return text


def minutes_of(value: str | float | int | None, field: str) -> float | None:
    """A time a client sent, as engine minutes: an ISO 8601 date-time (with offset; without one
    it is taken as the service's +08:00), or a number of minutes since the Unix epoch (older
    clients). ValueError naming ``field`` and what was expected."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        t = value.strip()
        if t.endswith(("Z", "z")):
            t = t[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(t)
        except ValueError:
            pass
        else:
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=SERVICE_TZ)
            return dt.timestamp() / 60.0
    raise ValueError(f"{field}: expected an ISO 8601 date-time with offset (e.g. 2026-12-03T20:15:00+08:00), got {value!r}")


def is_time_key(key: str) -> bool:
    """Whether a field name holds a time (``at``, ``since``, ``…_at``, ``…_since``)."""
    return key in ("at", "since") or key.endswith(("_at", "_since"))


def iso_times(d: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``d`` with every numeric time field (see :func:`is_time_key`) as ISO 8601."""
    return {k: iso(v) if is_time_key(k) and isinstance(v, int | float) and not isinstance(v, bool) else v for k, v in d.items()}


def case_times(d: dict[str, Any]) -> dict[str, Any]:
    """A case body's time fields as ISO 8601, in place (the hot path: a fixed list of fields)."""
    for k in CASE_TIME_FIELDS:
        v = d.get(k)
        if v is not None:
            d[k] = iso(v)
    return d
