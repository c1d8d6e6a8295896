"""Supervision: 一天一提醒、一周一通报、一月一点评 (Daiwei, Pizhou — 新华日报/交汇点 2023).

A reminder per overdue case per calendar day, a bulletin per street per week and a review per
street per month. Each notice has a unique key that storage keeps once, so running the
supervisor again — after a restart, or twice in a day — never emits a notice twice.
Engine time is minutes since the Unix epoch; the calendar is local time (China, UTC+8, by
default).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from twin.engine.store import Store
from twin.engine.types import Case, Notice

DAY_MINUTES = 1440.0


def local_datetime(minutes: float, tz_offset_minutes: float = 480.0) -> datetime:
    """The local calendar time of an engine time (minutes since the Unix epoch)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes + tz_offset_minutes)


def responsible_unit(case: Case) -> str:
    """Who a reminder is addressed to: the assignees, or the unit at the case's level."""
    return ",".join(case.assignees) if case.assignees else case.place.unit_at(case.level)


class Supervisor:
    """Emits supervision notices from the store's active cases as of ``clock()``."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        tz_offset_minutes: float = 480.0,
        units: Iterable[str] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.tz_offset_minutes = tz_offset_minutes
        self.units = tuple(units) if units is not None else None

    def run(self) -> list[Notice]:
        """Emit every notice due now that was not emitted before; return the new ones."""
        now = self.clock()
        local = local_datetime(now, self.tz_offset_minutes)
        day = local.date().isoformat()
        iso = local.isocalendar()
        week = f"{iso.year}-W{iso.week:02d}"
        month = f"{local.year}-{local.month:02d}"
        active = self.store.active_cases()
        overdue = [c for c in active if c.overdue(now)]
        out: list[Notice] = []
        for c in sorted(overdue, key=lambda c: c.id):
            n = Notice(
                "reminder",
                f"reminder:{c.id}:{day}",
                responsible_unit(c),
                now,
                {
                    "case_id": c.id,
                    "day": day,
                    "street": c.place.street,
                    "minutes_overdue": round(now - c.due_at, 3),
                    "tier": c.tier,
                    "level": int(c.level),
                },
            )
            if self.store.record_notice(n):
                out.append(n)
        streets = sorted(self.units if self.units is not None else {c.place.street for c in active})
        open_by_street = Counter(c.place.street for c in active)
        overdue_by_street = Counter(c.place.street for c in overdue)
        slow: dict[str, Counter[str]] = {}
        for c in overdue:
            slow.setdefault(c.place.street, Counter())[responsible_unit(c)] += 1
        for kind, period in (("bulletin", week), ("review", month)):
            for street in streets:
                payload = {
                    "period": period,
                    "street": street,
                    "open": open_by_street.get(street, 0),
                    "overdue": overdue_by_street.get(street, 0),
                    "slowest_units": slow.get(street, Counter()).most_common(5),
                }
                n = Notice(kind, f"{kind}:{street}:{period}", street, now, payload)
                if self.store.record_notice(n):
                    out.append(n)
        return out
