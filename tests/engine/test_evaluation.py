"""Evaluation: satisfaction 1–5; an unsatisfied evaluation reopens the case once; volunteers'
service points = service hours × the rating's coefficient."""

from __future__ import annotations

import pytest

from twin.engine import CaseEngine, IllegalTransition, InvalidInput, State
from twin.engine.engine import DEFAULT_RATING_COEFFICIENTS

from .helpers import Rig, ids, snapshot

CLOSE_STEPS = ("accept", "dispatch", "start", "resolve", "verify", "close")


@pytest.mark.parametrize("bad", [0, 6, -1, 2.5, True, "5", None])
def test_satisfaction_must_be_an_integer_one_to_five(rig: Rig, bad: object) -> None:
    c = rig.walk(rig.report(), *CLOSE_STEPS)
    before = snapshot(rig, c.id)
    with pytest.raises(InvalidInput) as err:
        rig.engine.evaluate(c.id, c.version, "resident", bad)  # type: ignore[arg-type]
    assert err.value.field == "satisfaction"
    assert snapshot(rig, c.id) == before


@pytest.mark.parametrize("score", [3, 4, 5])
def test_a_satisfied_evaluation_ends_the_loop(rig: Rig, score: int) -> None:
    c = rig.walk(rig.report(), *CLOSE_STEPS)
    c = rig.engine.evaluate(c.id, c.version, "resident", score)
    assert (c.state, c.satisfaction, c.reopen_count) == (State.EVALUATED, score, 0)
    with pytest.raises(IllegalTransition):
        rig.engine.evaluate(c.id, c.version, "resident", 1)


@pytest.mark.parametrize("score", [1, 2])
def test_an_unsatisfied_evaluation_reopens_once(rig: Rig, score: int) -> None:
    c = rig.walk(rig.report(), *CLOSE_STEPS)
    c = rig.engine.evaluate(c.id, c.version, "resident", score)
    assert (c.state, c.reopened_by_evaluation, c.reopen_count) == (State.REOPENED, True, 1)
    assert c.closed_at is None and c.evaluated_at is None
    assert rig.engine.history(c.id)[-1].action.value == "reopen"
    c = rig.walk(c, "dispatch", "start", "resolve", "verify", "close")
    c = rig.engine.evaluate(c.id, c.version, "resident", 1)
    assert (c.state, c.satisfaction, c.reopen_count) == (State.EVALUATED, 1, 1), "the second time it stands"
    rig.check_audit()


def test_service_points_are_hours_times_the_rating_coefficient(rig: Rig) -> None:
    for score in (1, 3, 4, 5):
        c = rig.walk(rig.report(), "accept", "dispatch", "start")
        c = rig.engine.resolve(c.id, c.version, "volunteer-7", volunteer="volunteer-7", service_hours=2.5)
        c = rig.walk(c, "verify", "close")
        if score <= 2:  # unsatisfied: reopens first, then the second evaluation counts
            c = rig.engine.evaluate(c.id, c.version, "resident", score)
            c = rig.walk(c, "dispatch", "resolve", "verify", "close")
        c = rig.engine.evaluate(c.id, c.version, "resident", score)
        assert c.points == pytest.approx(2.5 * DEFAULT_RATING_COEFFICIENTS[score])
        assert (c.volunteer, c.service_hours) == ("volunteer-7", 2.5)
    plain = rig.walk(rig.report(), *CLOSE_STEPS, "evaluate")
    assert plain.points is None


def test_rating_coefficients_are_configurable(rig: Rig) -> None:
    engine = CaseEngine(rig.store, rig.clock, id_factory=ids("coef"), rating_coefficients={5: 2.0})
    c = engine.report(category="c", tier="T1", place=rig.report().place, source="app")
    for step in ("accept", "dispatch"):
        c = getattr(engine, step)(c.id, c.version, "x", *((["w"],) if step == "dispatch" else ()))
    c = engine.resolve(c.id, c.version, "v", volunteer="v", service_hours=3)
    c = engine.close(c.id, engine.verify(c.id, c.version, "x").version, "x")
    assert engine.evaluate(c.id, c.version, "r", 5).points == 6.0


def test_a_volunteer_resolution_needs_hours(rig: Rig) -> None:
    c = rig.walk(rig.report(), "accept", "dispatch")
    for hours in (None, -1.0, float("nan")):
        with pytest.raises(InvalidInput, match="service_hours"):
            rig.engine.resolve(c.id, c.version, "v", volunteer="v", service_hours=hours)
    assert rig.engine.get(c.id).state is State.DISPATCHED
