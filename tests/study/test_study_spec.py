"""--vary and --target parsing: inclusive decimal ranges, lists, and errors that name the field."""

from __future__ import annotations

import pytest

from twin.study.errors import StudyError
from twin.study.spec import Target, grid_points, parse_target, parse_vary


def test_range_is_inclusive_and_integral() -> None:
    v = parse_vary("staffing.households_per_worker=300:1700:200")
    assert v.field == "staffing.households_per_worker"
    assert v.values == (300, 500, 700, 900, 1100, 1300, 1500, 1700)
    assert all(type(x) is int for x in v.values)
    assert v.override(500) == "staffing.households_per_worker=500"


def test_decimal_range_has_no_float_drift() -> None:
    assert parse_vary("policy.on_the_spot_share=0.1:0.3:0.1").values == (0.1, 0.2, 0.3)
    assert parse_vary("x=1:0:-0.25").values == (1.0, 0.75, 0.5, 0.25, 0.0)
    assert parse_vary("x=300:1000:300").values == (300, 600, 900)  # stop not on the step: left out


def test_lists_keep_natural_types() -> None:
    assert parse_vary("staffing.street_dispatchers=2,3,5").values == (2, 3, 5)
    assert parse_vary("a.b=0.5, 1").values == (0.5, 1)
    assert parse_vary("a.flag=true,false").values == (True, False)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("staffing.households_per_worker", "missing '='"),
        ("staffing.households_per_worker=300:1700", "START:STOP:STEP"),
        ("staffing.households_per_worker=300:1700:0", "step must not be 0"),
        ("staffing.households_per_worker=300:1700:-100", "runs away"),
        ("staffing.households_per_worker=300:x:100", "'x' is not a number"),
        ("staffing.households_per_worker=", "no values"),
        ("staffing.households_per_worker=1,,2", "empty element"),
        ("staffing.households_per_worker=1,1", "repeat"),
        ("9bad=1,2", "not a dotted field path"),
    ],
)
def test_bad_vary_names_field_and_form(spec: str, needle: str) -> None:
    with pytest.raises(StudyError) as e:
        parse_vary(spec)
    msg = str(e.value)
    assert needle in msg
    assert "--vary" in msg
    assert "FIELD=START:STOP:STEP" in msg or "distinct" in msg


def test_grid_is_cartesian_first_field_slowest() -> None:
    pts = grid_points([parse_vary("a=1,2"), parse_vary("b=10,20,30")])
    assert [p.as_dict() for p in pts][:4] == [{"a": 1, "b": 10}, {"a": 1, "b": 20}, {"a": 1, "b": 30}, {"a": 2, "b": 10}]
    assert pts[4].id == "p0004" and pts[4].overrides() == ("a=2", "b=20")
    with pytest.raises(StudyError, match="varied twice"):
        grid_points([parse_vary("a=1,2"), parse_vary("a=3")])


def test_target_parses_and_checks() -> None:
    t = parse_target("on_time_rate>=0.99", ["on_time_rate"])
    assert t == Target("on_time_rate", ">=", 0.99)
    assert t.higher_is_better and t.met_by(0.99) and not t.met_by(0.9899) and not t.met_by(float("nan"))
    lo = parse_target("hours_to_close.T1.p90 <= 2", ["hours_to_close"])
    assert not lo.higher_is_better and lo.met_by(2.0) and not lo.met_by(2.1)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [("on_time_rate=0.99", "expected KPI>=VALUE"), ("on_time_rate>=high", "'high' is not a number"),
     ("ontime>=0.9", "unknown KPI"), ("on_time_rate>=nan", "finite")],
)
def test_bad_target(spec: str, needle: str) -> None:
    with pytest.raises(StudyError, match=needle):
        parse_target(spec, ["on_time_rate"])
