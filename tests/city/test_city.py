"""The city scenario validates (sourced residents, 15 units, one-line errors naming the field)
and a scaled city — two tiny districts, a few days — runs from the CLI, writing one district
run directory each and the city's summary with peak memory."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from twin.cli import _load, app
from twin.scenario import ScenarioError
from twin.scenario.city import is_city_file, load_city

ROOT = Path(__file__).resolve().parents[2]
_load()  # the CLI's commands
CITY = ROOT / "scenarios" / "city.toml"

TINY = f"""
[meta]
name = "tiny"
[run]
days = 4
warmup_days = 1
[city]
name = "Tiny"
template = "{(ROOT / 'scenarios' / 'district.toml').as_posix()}"
residents_per_street = 8000
[city.hotline_centre]
name = "12345"
staff = 2
[city.operations_centre]
name = "ops"
staff = 1
[[city.districts]]
name = "North"
residents = 16000
[[city.districts]]
name = "South"
residents = 9000
"""


def test_city_file_validates_at_wuhan_scale() -> None:
    city = load_city(CITY)
    assert is_city_file(CITY)
    assert len(city.districts) == 15
    assert 13_700_000 < city.residents < 13_850_000
    hongshan = city.districts[[d.name for d in city.spec.city.districts].index("Hongshan")]
    built = hongshan.territory.grids * hongshan.territory.households_per_grid * hongshan.territory.people_per_household
    assert abs(built - 1_931_822) / 1_931_822 < 0.01  # the grids carry the district's residents
    assert len({sc.run.seed for sc in city.districts}) == 15  # every district its own streams


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("city.districts.1.residents=-5", "city.districts.1.residents"),
        ("city.districts.1.name=\"Jiang'an\"", "city.districts.1.name"),
        ("city.partitions_per_district=0", "city.partitions_per_district"),
        ("city.colour=1", "city.colour"),
        # the city level's 12345 centre (twin.coupling.hotline)
        ("city.hotline_centre.staff=0", "city.hotline_centre.staff"),
        ("city.hotline_centre.on_duty_by_hour=[0.5]", "city.hotline_centre.on_duty_by_hour"),
        ("city.hotline_centre.redial_share=2", "city.hotline_centre.redial_share"),
        ("city.hotline_centre.direct_per_1000_per_day=-1", "city.hotline_centre.direct_per_1000_per_day"),
        ("city.hotline_centre.queue=1", "city.hotline_centre.queue"),
        ("city.operations_centre.report_minutes=0", "city.operations_centre.report_minutes"),
    ],
)
def test_bad_city_field_is_one_line_naming_it(override: str, field: str) -> None:
    with pytest.raises(ScenarioError) as err:
        load_city(CITY, [override])
    msg = str(err.value)
    assert "\n" not in msg and f": {field}: expected" in msg, msg


def test_scaled_city_runs_from_the_cli(tmp_path: Path) -> None:
    f = tmp_path / "tiny.toml"
    f.write_text(TINY, encoding="utf-8")
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["run", str(f), "--partitions", "2", "--out", str(out), "--no-report"])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(s["districts"]) == {"North", "South"}
    assert s["partitions"] == 4  # North: 2 streets, 2 partitions and its shared district level; South: 1 street, 1 partition
    assert s["cases_total"] == sum(d["cases_total"] for d in s["districts"].values()) > 0
    assert s["peak_rss_mb_max_process"] > 0 and s["peak_rss_mb_parent"] > 0
    assert "督办" in s["not_coupled"]  # what the city level leaves out
    assert s["hotline_centre"]["calls"] > 0 and len(s["ranking_12345"]) == 2
    for d in ("north", "south"):
        cases = pd.read_parquet(out / "districts" / d / "cases.parquet")
        assert cases["case_id"].is_monotonic_increasing and isinstance(cases["state"].dtype, pd.CategoricalDtype)
        assert not (out / "districts" / d / "spool").exists()
    assert "peak RSS" in res.output


def test_bad_dask_address_is_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["run", str(CITY), "--dask", "nowhere", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "--dask 'nowhere': expected 'local' or a scheduler address" in res.output
