"""The working-time calendar: PRC holidays with 调休, lunch breaks, natural and duty clocks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from twin.engine.worktime import ClockKind, WorkTime, china_midnight_epoch_minute

WINDOWS = ((8.5, 12.0), (13.5, 17.5))
HOUR = 60.0


def at(day: dt.date, hh: int, mm: int = 0) -> float:
    """Unix-epoch minute of a China-time wall clock reading."""
    return float(china_midnight_epoch_minute(day) + hh * 60 + mm)


@pytest.fixture(scope="module")
def official() -> WorkTime:
    """The service's frame: clock minutes are Unix-epoch minutes."""
    return WorkTime(WINDOWS, ClockKind.WORKING, start=dt.date(2025, 1, 1), days=3 * 365)


def test_two_working_hours_set_before_national_day_fall_due_after_it(official: WorkTime) -> None:
    # 2026: 30 Sep (Wed) is the last working day, 1-7 Oct are off, 8 Oct (Thu) is the first one back.
    due = official.finish(at(dt.date(2026, 9, 30), 16, 30), 2 * HOUR)
    assert due == at(dt.date(2026, 10, 8), 9, 30)
    # 2025: 1-8 Oct off; 9 Oct (Thu) is the first working day.
    assert official.finish(at(dt.date(2025, 9, 30), 16, 30), 2 * HOUR) == at(dt.date(2025, 10, 9), 9, 30)


def test_make_up_saturday_counts_and_an_ordinary_saturday_does_not(official: WorkTime) -> None:
    # 10 Oct 2026 is a Saturday worked in exchange for the National Day break (调休).
    assert official.is_working_day(dt.date(2026, 10, 10))
    assert official.finish(at(dt.date(2026, 10, 9), 16, 30), 2 * HOUR) == at(dt.date(2026, 10, 10), 9, 30)
    # 17 Oct 2026 is an ordinary Saturday: the limit runs on to Monday.
    assert not official.is_working_day(dt.date(2026, 10, 17))
    assert official.finish(at(dt.date(2026, 10, 16), 16, 30), 2 * HOUR) == at(dt.date(2026, 10, 19), 9, 30)
    # The Sunday worked before the break (20 Sep 2026) counts as well.
    assert official.is_working(at(dt.date(2026, 9, 20), 10, 0))


def test_lunch_is_skipped(official: WorkTime) -> None:
    day = dt.date(2026, 11, 3)
    assert official.finish(at(day, 11, 30), HOUR) == at(day, 14, 0)
    assert official.worked_between(at(day, 11, 0), at(day, 14, 0)) == 90.0
    assert not official.is_working(at(day, 12, 30))
    assert official.is_working(at(day, 13, 30))
    # work that ends exactly at noon is done at noon, not when the afternoon opens
    assert official.finish(at(day, 11, 0), HOUR) == at(day, 12, 0)


def test_natural_clock_counts_every_minute() -> None:
    cal = WorkTime(WINDOWS, ClockKind.NATURAL, start=dt.date(2026, 1, 1), days=365)
    t = at(dt.date(2026, 9, 30), 16, 30)
    assert cal.finish(t, 2 * HOUR) == t + 120.0
    assert cal.worked_between(t, t + 1440.0) == 1440.0
    assert cal.is_working(at(dt.date(2026, 10, 1), 3, 0))


def test_duty_roster_works_weekends_and_holidays_and_weekdays_clock_ignores_holidays() -> None:
    duty = WorkTime(WINDOWS, ClockKind.EVERY_DAY, start=dt.date(2026, 1, 1), days=365)
    assert duty.finish(at(dt.date(2026, 9, 30), 16, 30), 2 * HOUR) == at(dt.date(2026, 10, 1), 9, 30)
    plain = WorkTime(WINDOWS, ClockKind.WEEKDAYS, start=dt.date(2026, 1, 1), days=365)
    assert plain.finish(at(dt.date(2026, 9, 30), 16, 30), 2 * HOUR) == at(dt.date(2026, 10, 1), 9, 30)
    assert not plain.is_working_day(dt.date(2026, 10, 10))


def test_year_without_a_notice_falls_back_to_weekdays_minus_statutory_days() -> None:
    cal = WorkTime(WINDOWS, ClockKind.WORKING, start=dt.date(2026, 6, 1), days=365)
    assert 2027 in cal.provisional_years
    assert 2026 not in cal.provisional_years
    assert not cal.is_working_day(dt.date(2027, 2, 8))  # Monday, statutory Spring Festival day
    assert cal.is_working_day(dt.date(2027, 2, 9))  # Tuesday: no notice, so no guessed extra days off
    assert not cal.is_working_day(dt.date(2027, 2, 13))  # Saturday, no make-up days known


def test_simulation_frame_starts_at_china_midnight() -> None:
    cal = WorkTime.for_run(WINDOWS, ClockKind.WORKING, dt.date(2026, 9, 28), days=30)
    assert cal.base == 0.0
    # minute 0 is Mon 28 Sep 00:00; 30 Sep 16:30 is day 2
    assert cal.finish(2 * 1440 + 16 * 60 + 30, 2 * HOUR) == 10 * 1440 + 9 * 60 + 30
    times = cal.sample_in_windows(np.random.default_rng(7), 2, 500)
    assert times.size == 500
    assert all(cal.is_working(float(t)) for t in times)
    assert ((times >= 2 * 1440 + 510) & (times < 2 * 1440 + 1050)).all()
    assert cal.sample_in_windows(np.random.default_rng(7), 4, 10).size == 0  # 2 Oct, a holiday


def test_next_open(official: WorkTime) -> None:
    day = dt.date(2026, 9, 30)
    times = np.array([at(day, 9, 0), at(day, 12, 0), at(day, 17, 30), at(day, 20, 0), at(day, 8, 30)])
    opened = official.next_open(times)
    expected = [
        at(day, 9, 0),
        at(day, 13, 30),
        at(dt.date(2026, 10, 8), 8, 30),
        at(dt.date(2026, 10, 8), 8, 30),
        at(day, 8, 30),
    ]
    assert opened.tolist() == expected


def test_matches_a_minute_by_minute_count(official: WorkTime) -> None:
    """finish and worked_between agree with walking the calendar one minute at a time."""
    rng = np.random.default_rng(12)
    first = at(dt.date(2026, 9, 15), 0, 0)
    for _ in range(40):
        start = first + float(rng.integers(0, 20 * 1440))
        work = float(rng.integers(1, 3000))
        t, left = start, work
        while left > 0:
            if official.is_working(t):
                left -= 1
            t += 1
        assert official.finish(start, work) == t
        assert official.worked_between(start, t) == work


def test_outside_the_span_is_an_error_not_a_guess(official: WorkTime) -> None:
    with pytest.raises(ValueError, match="outside the calendar's span"):
        official.finish(at(dt.date(2020, 1, 1), 9), 60.0)
    with pytest.raises(ValueError, match="windows"):
        WorkTime(((13.0, 12.0),), start=dt.date(2026, 1, 1), days=10)
