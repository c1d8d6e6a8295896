"""Scenario files: the defaults load, overrides are validated like the file, errors name
file, field and expectation, and unknown keys are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from twin.scenario import Dist, Scenario, ScenarioError, default_scenario_path, load_scenario

ROOT = Path(__file__).resolve().parents[2]


def test_default_is_the_embedded_street_scenario() -> None:
    sc = load_scenario()
    assert isinstance(sc, Scenario)
    assert default_scenario_path().name == "street.toml"
    assert sc.meta.name == "street"
    assert sc.territory.streets == 1
    assert sc.run.seed == 20240314


def test_district_scenario_is_jiangbei_scale() -> None:
    sc = load_scenario(ROOT / "scenarios" / "district.toml")
    t = sc.territory
    assert t.streets == 12
    assert t.grids == 1379
    assert t.max_households_per_grid <= 500


def test_scenario_is_frozen() -> None:
    sc = load_scenario()
    with pytest.raises(ValidationError, match="frozen"):
        sc.run.days = 3  # type: ignore[misc]


def test_override_changes_the_field() -> None:
    sc = load_scenario(None, ["staffing.households_per_worker=800", "run.days=2.5", "policy.on_the_spot_share=0.5"])
    assert sc.staffing.households_per_worker == 800
    assert sc.run.days == 2.5
    assert sc.policy.on_the_spot_share == 0.5


@pytest.mark.parametrize(
    ("override", "field", "expected"),
    [
        ('staffing.households_per_worker="two"', "staffing.households_per_worker", 'expected a number > 0, got "two"'),
        ("staffing.households_per_worker=-3", "staffing.households_per_worker", "expected a number > 0, got -3"),
        ("territory.streets=1.5", "territory.streets", "expected an integer ≥ 1"),
        ("staffing.bogus=1", "staffing.bogus", "unknown key"),
        ("policy.on_the_spot_share=1.5", "policy.on_the_spot_share", "≤ 1"),
        ('policy.handling.grid.dist="weibull"', "policy.handling.grid.dist", "expected one of"),
        ('run.start_date="yesterday"', "run.start_date", "expected a date"),
        ("categories.environment.level_mix.grid=0.9", "categories.environment.level_mix", "summing to 1"),
        ('categories.environment.board="nope"', "categories.environment.board", "expected one of"),
        ("hotline.order_types.help.share=0.9", "hotline.order_types", "summing to 1"),
        ("hotline.contact_working_days=0", "hotline.contact_working_days", "expected a number > 0"),
    ],
)
def test_errors_name_file_field_and_expectation(override: str, field: str, expected: str) -> None:
    with pytest.raises(ScenarioError) as exc:
        load_scenario(None, [override])
    msg = str(exc.value)
    assert msg.startswith("scenarios/street.toml: "), msg
    assert f": {field}: " in msg, msg
    assert expected in msg, msg


def test_unknown_key_in_a_file_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.toml"
    text = (ROOT / "scenarios" / "street.toml").read_text(encoding="utf-8")
    bad.write_text(text.replace("[territory]\n", "[territory]\ngrids_per_comunity = 4\n"), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"x\.toml: territory\.grids_per_comunity: expected no such field"):
        load_scenario(bad)


def test_bad_file_and_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="expected an existing scenario file"):
        load_scenario(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[run\ndays = 3\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.toml: \(syntax\): expected valid TOML"):
        load_scenario(broken)


def test_set_without_equals_is_refused() -> None:
    with pytest.raises(ScenarioError, match="expected dotted.path=value"):
        load_scenario(None, ["run.days"])


def test_start_epoch_is_china_midnight() -> None:
    sc = load_scenario()
    # 2024-03-04 00:00 +08:00 = 2024-03-03 16:00 UTC
    assert sc.start_epoch_minutes == pytest.approx(1709481600 / 60)


@pytest.mark.parametrize(
    "spec",
    [
        {"dist": "exponential", "mean": 30.0},
        {"dist": "lognormal", "mean": 30.0, "cv": 0.8},
        {"dist": "gamma", "mean": 30.0, "cv": 0.5},
        {"dist": "empirical", "quantiles": [0.0, 0.25, 0.5, 0.75, 1.0], "values": [0.1, 2.0, 2.9, 10.0, 40.0]},
    ],
)
def test_distributions_have_their_stated_mean(spec: dict) -> None:
    d = Dist.model_validate(spec)
    x = d.sample(np.random.default_rng(7), 200_000)
    assert (x >= 0).all()
    # standard error of the mean is below 1 % of the mean for these cvs at n = 200k; 5 SE
    se = x.std() / np.sqrt(x.size)
    assert abs(x.mean() - d.expected) < 5 * se


def test_incomplete_distribution_is_refused() -> None:
    with pytest.raises(ScenarioError, match="lognormal: expected a cv"):
        load_scenario(None, ['policy.handling.grid={ dist = "lognormal", mean = 3.0 }'])
