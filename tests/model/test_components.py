"""Components: working calendars, surges (the rate-modifier hook), territory and staffing derivation."""

from __future__ import annotations

import numpy as np
import pytest

from twin.model import DistrictModel
from twin.scenario import load_scenario
from twin.sim.calendar import WorkCalendar

SHIFTS = [(8.5, 12.0), (14.0, 17.5)]


def test_calendar_finish_skips_breaks_nights_and_weekends() -> None:
    cal = WorkCalendar(SHIFTS, weekend=False, start_weekday=0)  # minute 0 = Monday 00:00
    assert cal.finish(17 * 60 + 20, 30) == pytest.approx(1440 + 8.5 * 60 + 20)  # Tue 08:50
    assert cal.finish(11 * 60 + 50, 20) == pytest.approx(14 * 60 + 10)  # over lunch
    assert cal.finish(4 * 1440 + 17 * 60, 60) == pytest.approx(7 * 1440 + 9 * 60)  # Fri 17:00 → Mon 09:00
    assert cal.worked_between(0, 1440) == pytest.approx(420)
    assert cal.worked_between(0, 7 * 1440) == pytest.approx(5 * 420)


def test_calendar_next_open_and_sampling() -> None:
    cal = WorkCalendar(SHIFTS, weekend=True, start_weekday=0)
    t = np.array([0.0, 9 * 60.0, 12.5 * 60, 20 * 60.0])
    assert cal.next_open(t) == pytest.approx([8.5 * 60, 9 * 60, 14 * 60, 1440 + 8.5 * 60])
    x = cal.sample_in_windows(np.random.default_rng(3), 2, 500)
    h = (x - 2 * 1440) / 60
    assert ((h >= 8.5) & (h < 12) | (h >= 14) & (h < 17.5)).all()


def test_round_the_clock_calendar_is_plain_addition() -> None:
    cal = WorkCalendar([(0.0, 24.0)], weekend=True, start_weekday=3)
    assert cal.always
    assert cal.finish(123.4, 56.7) == pytest.approx(180.1)


def test_workers_follow_households_per_worker() -> None:
    few = DistrictModel(load_scenario(None, ["staffing.households_per_worker=1200"]), days=1)
    many = DistrictModel(load_scenario(None, ["staffing.households_per_worker=200"]), days=1)
    hh = few.terr.households.sum()
    assert few.workers.full_time_workers == pytest.approx(hh / 1200, rel=0.25)
    assert many.workers.full_time_workers == pytest.approx(hh / 200, rel=0.1)
    assert (few.workers.team_of_grid >= 0).all()


def test_a_surge_multiplies_its_category_in_its_window() -> None:
    base = load_scenario(None, ["run.warmup_days=0"])
    surge = load_scenario(None, ["run.warmup_days=0", 'surges=[{category = "environment", start_day = 2, end_day = 4, multiplier = 3.0}]'])
    a = DistrictModel(base, days=6)
    b = DistrictModel(surge, days=6)
    m = b.incidents.multiplier(2)
    env = list(base.categories).index("environment")
    assert np.allclose(m[:, env], 3.0) and np.allclose(np.delete(m, env, axis=1), 1.0)
    assert np.allclose(b.incidents.multiplier(5), 1.0)
    a.run_model()
    b.run_model()
    r = a.residents
    month = base.run.start_date.month - 1
    daily = [a.terr.residents.sum() * r.rate[env] * r.weekly[env, (a.start_weekday + d) % 7] * r.monthly[env, month] for d in (2, 3)]
    extra = 2.0 * sum(daily)  # ×3 means two more days' worth on each surge day
    sd = np.sqrt(a.incidents.needs_total + b.incidents.needs_total)  # Poisson counts
    assert abs((b.incidents.needs_total - a.incidents.needs_total) - extra) < 4 * sd, (extra, sd)


def test_rate_modifier_hook_and_station_capacity() -> None:
    m = DistrictModel(load_scenario(None, ["run.warmup_days=0"]), days=3)
    m.incidents.add_rate_modifier(lambda day: np.zeros((m.terr.n_grids, len(m.scenario.categories))))
    office = m.offices[0]
    office.set_capacity(5)
    assert office.capacity == 5
    m.run_model()
    assert m.incidents.needs_total == 0
