"""Working-time calendars: which clock minutes count towards a time limit.

Platforms count a handling unit's limit in *working* time (数字城管 standards such as
Shenzhen SZDB/Z 300.4-2018, annex on 工作时限; 12345 hotline rules in working days), so a
2-working-hour limit set at 16:30 on the eve of National Day falls due the morning after
the holiday. The engine never reads a clock: it is handed a :class:`WorkTime` and asks it
when a limit lapses.

Clock minutes are Unix-epoch minutes shifted by ``origin`` (the epoch minute that clock
minute 0 stands for). The service uses plain epoch minutes (``origin=0``); the simulation's
minute 0 is its start date's 00:00 China time (UTC+8, no daylight saving since 1991), which
:meth:`WorkTime.for_run` sets up.

Kinds of calendar (:class:`ClockKind`):

- ``working``: the PRC official calendar. Public holidays and their make-up working days
  (调休) come from the maintained ``holidays`` package (its ``China`` calendar transcribes
  the State Council's yearly 部分节假日安排 notices, 2001 to 2026 in holidays 0.109).
  For a year the package has no notice for (:attr:`WorkTime.provisional_years`), the rule
  is: Monday to Friday are working days except the statutory holidays themselves (the dates
  of 《全国年节及纪念日放假办法》 as the package computes them), with no 调休 — the
  make-up days cannot be known before the notice. Callers that must not rely on a guess
  read ``provisional_years``.
- ``weekdays``: Monday to Friday, no holidays (the simulation's old calendar).
- ``every_day``: the windows on every day, holidays included (duty rosters, 值班).
- ``natural``: every minute counts (emergencies; natural-day limits).

All queries are O(1) or O(log n): per-day prefix sums of working minutes are precomputed
over the calendar's span, and the working day's minute profile is one 1441-entry table.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache

import numpy as np

DAY = 1440
CHINA_UTC_OFFSET_MINUTES = 480
_EPOCH = dt.date(1970, 1, 1)


class ClockKind(StrEnum):
    """Which days and minutes a calendar counts (see the module docstring)."""

    WORKING = "working"
    WEEKDAYS = "weekdays"
    EVERY_DAY = "every_day"
    NATURAL = "natural"


def china_midnight_epoch_minute(day: dt.date) -> int:
    """The Unix-epoch minute of ``day``'s 00:00 China time (UTC+8)."""
    return (day - _EPOCH).days * DAY - CHINA_UTC_OFFSET_MINUTES


@lru_cache(maxsize=8)
def _official_days(first: int, last: int) -> tuple[frozenset[int], frozenset[dt.date], frozenset[dt.date]]:
    """(years with a State Council notice, holiday dates, weekend days worked as 调休) for [first, last]."""
    from holidays.countries.china import China, ChinaStaticHolidays

    noticed = frozenset(y for y in ChinaStaticHolidays.special_public_holidays if first <= y <= last)
    official = China(years=[y for y in range(first, last + 1) if y in noticed])  # type: ignore[no-untyped-call]
    statutory = China(years=[y for y in range(first, last + 1) if y not in noticed], observed=False)  # type: ignore[no-untyped-call]
    off = frozenset(d for d in (*official, *statutory) if first <= d.year <= last)
    workdays = frozenset(d for d in getattr(official, "weekend_workdays", set()) if first <= d.year <= last)
    return noticed, off, workdays


def _profile(windows: Sequence[tuple[float, float]]) -> list[float]:
    """Cumulative working minutes at each whole minute 0..1440 of a working day."""
    minute = np.zeros(DAY, dtype=np.int64)
    last_end = 0.0
    for a, b in windows:
        if not (0.0 <= a < b <= 24.0) or a < last_end:
            raise ValueError(
                f"working windows must be ordered, non-overlapping (start, end) hours within 0..24; got {list(windows)}"
            )
        last_end = b
        minute[int(round(a * 60)) : int(round(b * 60))] = 1
    if minute.sum() == 0:
        raise ValueError("a working calendar needs some working time in its day")
    return [0.0, *np.cumsum(minute).astype(float).tolist()]


class WorkTime:
    """A working-time calendar over a span of days (see the module docstring).

    ``windows``: the working day's windows in hours, e.g. ``((8.5, 12.0), (13.5, 17.5))``.
    ``start``: the calendar's first day (day index 0 of :meth:`sample_in_windows`).
    ``days``: how many days from ``start`` must be answerable; ``margin_days`` more are added
    so limits set near the end still fall due inside the span. Asking about a clock minute
    outside the span raises ``ValueError`` (never a silent wrong answer).
    """

    def __init__(
        self,
        windows: Sequence[tuple[float, float]],
        kind: ClockKind | str = ClockKind.WORKING,
        *,
        start: dt.date,
        days: int,
        origin: float = 0.0,
        margin_days: int = 400,
    ) -> None:
        self.kind = ClockKind(kind)
        self.windows = tuple((float(a), float(b)) for a, b in windows)
        self.start = start
        self.origin = float(origin)
        self.n_days = int(days) + int(margin_days)
        if self.n_days <= 0:
            raise ValueError(f"a calendar needs at least one day; got days={days}, margin_days={margin_days}")
        # clock minute of the span's first 00:00 China time
        self.base = float(china_midnight_epoch_minute(start)) - self.origin
        # a round-the-clock unit on a duty rota counts every minute: the natural clock's shortcuts apply
        full_day = len(self.windows) == 1 and self.windows[0] == (0.0, 24.0)
        self.always = self.kind is ClockKind.NATURAL or (self.kind is ClockKind.EVERY_DAY and full_day)
        prof = [float(m) for m in range(DAY + 1)] if self.always else _profile(self.windows)
        self.prof = prof
        self._prof_np = np.asarray(prof)
        self.per_day = prof[-1]
        dates = [start + dt.timedelta(days=d) for d in range(self.n_days)]
        self.provisional_years: frozenset[int] = frozenset()
        if self.kind is ClockKind.WORKING:
            noticed, off, workdays = _official_days(dates[0].year, dates[-1].year)
            self.provisional_years = frozenset({d.year for d in dates} - noticed)
            is_open = [(d in workdays) or (d.weekday() < 5 and d not in off) for d in dates]
        elif self.kind is ClockKind.WEEKDAYS:
            is_open = [d.weekday() < 5 for d in dates]
        else:
            is_open = [True] * self.n_days
        self.open = np.asarray(is_open, dtype=bool)
        cum_day = np.concatenate([[0.0], np.cumsum(self.open * self.per_day)])
        self._cum_day_np = cum_day
        self.cum_day: list[float] = cum_day.tolist()
        self._open_list: list[bool] = self.open.tolist()
        self._in_window: list[bool] = [prof[i + 1] > prof[i] for i in range(DAY)]
        if self.cum_day[-1] <= 0:
            raise ValueError("a calendar needs some working time in its span")

    @classmethod
    def for_run(
        cls,
        windows: Sequence[tuple[float, float]],
        kind: ClockKind | str,
        start: dt.date,
        days: int,
        margin_days: int = 400,
    ) -> WorkTime:
        """A calendar whose clock minute 0 is ``start``'s 00:00 China time (the simulation's clock)."""
        return cls(
            windows, kind, start=start, days=days, origin=china_midnight_epoch_minute(start), margin_days=margin_days
        )

    # --- days -------------------------------------------------------------------------------

    def is_working_day(self, day: dt.date) -> bool:
        """Whether ``day`` has working windows under this calendar."""
        return bool(self._open_list[self._day_of_date(day)])

    def day_start(self, day_index: int) -> float:
        """The clock minute of 00:00 (China time) of the day ``day_index`` days after ``start``."""
        return self.base + day_index * DAY

    def _day_of_date(self, day: dt.date) -> int:
        d = (day - self.start).days
        if not 0 <= d < self.n_days:
            raise ValueError(
                f"{day} is outside the calendar's span {self.start}..{self.start + dt.timedelta(self.n_days - 1)}"
            )
        return d

    def _span_error(self, t: float) -> ValueError:
        return ValueError(
            f"clock minute {t} is outside the calendar's span "
            f"[{self.base}, {self.base + self.n_days * DAY}) ({self.start} plus {self.n_days} days)"
        )

    # --- scalar queries (hot loops: plain Python floats and bisect) -------------------------

    def _cum_at(self, t: float) -> float:
        """Working minutes from the span's start to clock minute ``t``."""
        u = t - self.base
        d = int(u // DAY)
        if not 0 <= d < self.n_days:
            if d == self.n_days and u == d * DAY:
                return self.cum_day[d]
            raise self._span_error(t)
        if not self._open_list[d]:
            return self.cum_day[d]
        m = u - d * DAY
        i = int(m)
        # the profile rises by 0 or 1 a minute: adding (m - i) inside a window is adding (m - i) × 1
        return self.cum_day[d] + self.prof[i] + (m - i if self._in_window[i] else 0.0)

    def _at_cum(self, target: float) -> float:
        """The earliest clock minute at which the working minutes since the span's start reach ``target``."""
        if target <= 0.0:
            return self.base
        d = bisect.bisect_left(self.cum_day, target) - 1
        if d >= self.n_days:
            raise ValueError(
                f"the calendar's span ({self.start} plus {self.n_days} days) ends before this much working time"
            )
        rem = target - self.cum_day[d]
        p = self.prof
        j = bisect.bisect_left(p, rem)
        return self.base + d * DAY + (j - 1) + (rem - p[j - 1])

    def finish(self, start: float, work: float) -> float:
        """The clock minute at which ``work`` working minutes begun at ``start`` are done."""
        if self.always:
            return start + work
        if work <= 0.0:
            return start
        return self._finish_from(start, self._cum_at(start), work)

    def _finish_from(self, start: float, cum: float, work: float) -> float:
        """:meth:`finish` given ``cum`` = ``_cum_at(start)`` and ``work`` > 0.

        The hot path of every time limit (several per case): :meth:`_at_cum` written out in
        the same float operations, to save a call per limit.
        """
        target = cum + work
        cum_day = self.cum_day
        d = bisect.bisect_left(cum_day, target) - 1
        if d >= self.n_days:
            raise ValueError(
                f"the calendar's span ({self.start} plus {self.n_days} days) ends before this much working time"
            )
        rem = target - cum_day[d]
        p = self.prof
        j = bisect.bisect_left(p, rem)
        t = self.base + d * DAY + (j - 1) + (rem - p[j - 1])
        return t if t > start else start

    def share_point(self, since: float, due: float, share: float) -> float:
        """``finish(since, share * worked_between(since, due))``: when ``share`` of the working
        time from ``since`` to ``due`` is used (a yellow warning's time), with one calendar
        look-up of ``since`` instead of two."""
        if self.always:
            return since + share * (due - since)
        cs = self._cum_at(since)
        work = share * (self._cum_at(due) - cs)
        if work <= 0.0:
            return since
        return self._finish_from(since, cs, work)

    def allowance_deadline(self, start: float, work: float) -> float:
        """When ``work`` working minutes from ``start`` have passed (limits count working time)."""
        return self.finish(start, work)

    def worked_between(self, a: float, b: float) -> float:
        """Working minutes in the clock interval [a, b]."""
        if self.always:
            return b - a
        return self._cum_at(b) - self._cum_at(a)

    def is_working(self, t: float) -> bool:
        """Whether clock minute ``t`` lies inside a working window of a working day."""
        if self.always:
            return True
        u = t - self.base
        d = int(u // DAY)
        if not 0 <= d < self.n_days:
            raise self._span_error(t)
        return self._open_list[d] and self._in_window[int(u - d * DAY)]

    def open_at(self, t: float) -> float:
        """``t`` if it is working time, else the next moment work begins (scalar :meth:`next_open`)."""
        if self.always:
            return t
        u = t - self.base
        d = int(u // DAY)
        if 0 <= d < self.n_days and self._open_list[d] and self._in_window[int(u - d * DAY)]:
            return t
        return max(t, self._at_cum(self._cum_at(t) + 1e-7) - 1e-7)

    # --- vector queries ---------------------------------------------------------------------

    def _cum_vec(self, times: np.ndarray) -> np.ndarray:
        u = np.asarray(times, dtype=float) - self.base
        d = np.floor_divide(u, DAY).astype(np.int64)
        if d.size and (d.min() < 0 or d.max() >= self.n_days):
            bad = times[(d < 0) | (d >= self.n_days)][0]
            raise self._span_error(float(bad))
        m = u - d * DAY
        i = m.astype(np.int64)
        p = self._prof_np
        within = p[i] + (m - i) * (p[i + 1] - p[i])
        out: np.ndarray = self._cum_day_np[d] + np.where(self.open[d], within, 0.0)
        return out

    def _next_rise_vec(self, targets: np.ndarray) -> np.ndarray:
        """For each cumulative amount, the earliest clock minute after which working time accrues past it."""
        d = np.searchsorted(self._cum_day_np, targets, side="right") - 1
        if d.size and d.max() >= self.n_days:
            raise ValueError(
                f"the calendar's span ({self.start} plus {self.n_days} days) has no working time after these"
            )
        rem = targets - self._cum_day_np[d]
        p = self._prof_np
        j = np.searchsorted(p, rem, side="right")
        out: np.ndarray = self.base + d * DAY + (j - 1) + (rem - p[j - 1])
        return out

    def _at_cum_vec(self, targets: np.ndarray) -> np.ndarray:
        d = np.searchsorted(self._cum_day_np, targets, side="left") - 1
        d = np.maximum(d, 0)
        rem = targets - self._cum_day_np[d]
        p = self._prof_np
        j = np.maximum(np.searchsorted(p, rem, side="left"), 1)
        out: np.ndarray = self.base + d * DAY + (j - 1) + (rem - p[j - 1])
        return out

    def next_open(self, times: np.ndarray) -> np.ndarray:
        """For each clock minute, itself if working then, else the next moment work begins."""
        times = np.asarray(times, dtype=float)
        if self.always or times.size == 0:
            return times.copy()
        out: np.ndarray = np.maximum(times, self._next_rise_vec(self._cum_vec(times)))
        return out

    def sample_in_windows(self, rng: np.random.Generator, day_index: int, n: int) -> np.ndarray:
        """``n`` clock minutes uniform over the working minutes of day ``day_index`` (empty if none).

        Draws ``rng.random(n)`` exactly once, as the simulation's old calendar did.
        """
        if not 0 <= day_index < self.n_days:
            raise ValueError(f"day {day_index} is outside the calendar's span of {self.n_days} days")
        lo, hi = self.cum_day[day_index], self.cum_day[day_index + 1]
        if hi <= lo or n == 0:
            return np.empty(0)
        return self._at_cum_vec(lo + rng.random(n) * (hi - lo))
