"""Times at the HTTP edge: ISO 8601 with the service's UTC offset (+08:00, China Standard Time).

The engine's clock stays numeric (minutes since the Unix epoch) inside; every body the service
answers with — native API and Open311 — carries times as ISO 8601 date-times with offset,
to the millisecond (``2026-12-03T20:15:07.250+08:00``), so a client needs no epoch arithmetic
and two events a few milliseconds apart stay ordered. Where a client sends a time it may use
either form (:func:`minutes_of`); the native API has no time inputs today, Open311 has
``start_date``/``end_date``.
"""

from __future__ import annotations

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


def iso(minutes: float | None) -> str | None:
    """Engine time (minutes since the Unix epoch) as ISO 8601 with the service's offset."""
    if minutes is None:
        return None
    return datetime.fromtimestamp(minutes * 60.0, tz=SERVICE_TZ).isoformat(timespec="milliseconds")


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
