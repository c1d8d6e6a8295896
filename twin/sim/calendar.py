"""Working calendars: when a unit works, and how working minutes map onto clock minutes.

A handler's effort is measured in working minutes; a case picked up at 17:20 with 30
minutes of work left finishes the next working morning. Weeks are real calendar weeks:
minute 0 of the run is midnight (China time) of the scenario's start date.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np

WEEK = 10080.0
DAY = 1440.0


class WorkCalendar:
    """Working windows (hours of the day) on weekdays, and optionally at weekends."""

    def __init__(self, windows: Sequence[tuple[float, float]], weekend: bool, start_weekday: int) -> None:
        minute = np.zeros(int(WEEK), dtype=np.int64)
        for d in range(7):
            weekday = (start_weekday + d) % 7
            if weekday >= 5 and not weekend:
                continue
            for a, b in windows:
                minute[int(d * DAY + round(a * 60)) : int(d * DAY + round(b * 60))] = 1
        self.work = minute
        self.cum: list[float] = [0.0, *np.cumsum(minute).astype(float).tolist()]
        self.per_week = self.cum[-1]
        self.always = self.per_week == WEEK
        if self.per_week <= 0:
            raise ValueError("a calendar needs some working time in the week")

    def _cum_at(self, t: float) -> float:
        w, m = divmod(t, WEEK)
        i = int(m)
        return w * self.per_week + self.cum[i] + (m - i) * (self.cum[i + 1] - self.cum[i])

    def finish(self, start: float, work: float) -> float:
        """The clock minute at which ``work`` working minutes begun at ``start`` are done."""
        if self.always:
            return start + work
        target = self._cum_at(start) + work
        w, rem = divmod(target, self.per_week)
        if rem == 0.0 and w > 0:
            w -= 1
            rem = self.per_week
        j = bisect.bisect_left(self.cum, rem)
        t = w * WEEK + (0.0 if j == 0 else (j - 1) + (rem - self.cum[j - 1]))
        return t if t > start else start

    def worked_between(self, a: float, b: float) -> float:
        """Working minutes in the clock interval [a, b]."""
        return self._cum_at(b) - self._cum_at(a)

    def sample_in_windows(self, rng: np.random.Generator, day: int, n: int) -> np.ndarray:
        """``n`` clock minutes uniform over the working minutes of one day (empty if none)."""
        lo, hi = self._cum_at(day * DAY), self._cum_at((day + 1) * DAY)
        if hi <= lo or n == 0:
            return np.empty(0)
        targets = lo + rng.random(n) * (hi - lo)
        return np.array([self._inverse(x) for x in targets]) if n < 64 else self._inverse_vec(targets)

    def next_open(self, times: np.ndarray) -> np.ndarray:
        """For each clock minute, itself if working then, else the next moment work begins."""
        if self.always or times.size == 0:
            return times.copy()
        cum = np.asarray(self.cum)
        w, m = np.divmod(times, WEEK)
        i = m.astype(np.int64)
        at = w * self.per_week + cum[i] + (m - i) * (cum[i + 1] - cum[i])
        opened = self._inverse_vec(at + 1e-7) - 1e-7
        return np.maximum(times, opened)

    def allowance_deadline(self, start: float, work: float) -> float:
        """When ``work`` working minutes from ``start`` have passed (allowances count working time)."""
        return self.finish(start, work)

    def _inverse(self, target: float) -> float:
        w, rem = divmod(target, self.per_week)
        j = bisect.bisect_left(self.cum, rem)
        return w * WEEK + (0.0 if j == 0 else (j - 1) + (rem - self.cum[j - 1]))

    def _inverse_vec(self, targets: np.ndarray) -> np.ndarray:
        cum = np.asarray(self.cum)
        w, rem = np.divmod(targets, self.per_week)
        j = np.searchsorted(cum, rem, side="left")
        jm = np.maximum(j - 1, 0)
        return np.where(j == 0, w * WEEK, w * WEEK + jm + (rem - cum[jm]))
