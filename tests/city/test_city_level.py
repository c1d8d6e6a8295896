"""The city level (issue 18): the city's 12345 centre and operations centre, simulated once
above the districts. A tiny city — two districts, one of them in two street partitions — gives
the same tables in this process and in child processes, bit for bit; every work order the
centre hands down is signed for by its district exactly once; the operations centre's 督办 lands
on the case's audit trail; a bad [city.hotline_centre] field on the CLI is one line, exit 2
(more bad fields: tests/city/test_city.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from twin.city import run_city
from twin.cli import _load, app
from twin.scenario.city import load_city

ROOT = Path(__file__).resolve().parents[2]
_load()
CITY = ROOT / "scenarios" / "city.toml"

TINY = f"""
[meta]
name = "tiny"
[run]
days = 3
warmup_days = 1
seed = 5
[city]
name = "Tiny"
template = "{(ROOT / 'scenarios' / 'district.toml').as_posix()}"
residents_per_street = 8000
[city.hotline_centre]
name = "12345"
staff = 6
[city.operations_centre]
name = "ops"
staff = 1
supervise_overdue_hours = 0
[[city.districts]]
name = "North"
residents = 16000
set = {{ "run.partitions" = 2 }}
[[city.districts]]
name = "South"
residents = 9000
"""

#: Summary fields that measure the machine, not the model.
MACHINE = ("wall_seconds", "peak_rss_mb_max_process", "peak_rss_mb_parent", "peak_rss_mb_by_process", "cpu_seconds", "processes", "hosts")
TABLES = ("city/hotline_hourly.parquet", "city/operations.parquet", "city/supervision.parquet",
          "districts/north/cases.parquet", "districts/north/incidents.parquet",
          "districts/south/cases.parquet", "districts/south/incidents.parquet")


def _tiny(tmp: Path, extra: str = "") -> Path:
    f = tmp / "tiny.toml"
    f.write_text(TINY.replace('name = "ops"', 'name = "ops"' + extra), encoding="utf-8")
    return f


def _scrub(s: dict) -> dict:
    return {k: v for k, v in s.items() if k not in MACHINE}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, dict]:
    tmp = tmp_path_factory.mktemp("city")
    city = load_city(_tiny(tmp))
    a, b = tmp / "inline", tmp / "processes"
    sa = run_city(city, a, parallel=False)
    sb = run_city(city, b, parallel=True)
    return a, b, sa, sb


def test_same_tables_inline_and_in_processes(runs: tuple[Path, Path, dict, dict]) -> None:
    a, b, sa, sb = runs
    assert sa["hosts"] == "inline" and sb["hosts"] == "processes"
    assert _scrub(sa) == _scrub(sb)
    for t in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(a / t), pd.read_parquet(b / t))
    assert sa["hotline_centre"]["calls"] > 0 and sa["hotline_centre"]["work_orders"] > 0


def test_every_order_handed_down_is_signed_for_once(runs: tuple[Path, Path, dict, dict]) -> None:
    a, _, s, _ = runs
    by_name = {r["district"]: r for r in s["ranking_12345"]}
    for name in ("North", "South"):
        cases = pd.read_parquet(a / "districts" / name.lower() / "cases.parquet")
        orders = cases["tier"].astype(str).str.startswith("12345-")
        assert cases["case_id"].is_unique
        # every order whose sign-for falls in the run is one case of the caller's district, none twice
        assert int(orders.sum()) == by_name[name]["orders_signed_for_in_run"] > 0
        inc = pd.read_parquet(a / "districts" / name.lower() / "incidents.parquet")
        assert set(cases.loc[orders, "case_id"]) <= set(inc["case_id"])  # and in the incident stream


def test_orders_reach_the_district_a_handover_after_the_centre(runs: tuple[Path, Path, dict, dict]) -> None:
    a = runs[0]
    inc = pd.read_parquet(a / "districts" / "south" / "incidents.parquet")
    cases = pd.read_parquet(a / "districts" / "south" / "cases.parquet")
    orders = inc[inc["case_id"].isin(cases.loc[cases["tier"].astype(str).str.startswith("12345-"), "case_id"])]
    lag = orders["t_min"] - orders["raised_min"]
    assert (lag >= 30.0 - 1e-3).all()  # answer wait + handling + the 30-min sign-for


def test_operations_centre_supervises_overdue_orders_on_the_audit_trail(tmp_path: Path) -> None:
    # order limits shortened to a few minutes so that orders fall overdue within the run
    f = _tiny(tmp_path)
    short = ", ".join(f'"hotline.order_types.{k}.{f}" = {v}' for k, share in (("help", 0.6), ("complaint", 0.4))
                      for f, v in (("share", share), ("working_days", 0.02)))
    f.write_text(f.read_text(encoding="utf-8").replace('set = { "run.partitions" = 2 }', f"set = {{ {short} }}"), encoding="utf-8")
    s = run_city(load_city(f), tmp_path / "run", parallel=False)
    sup = pd.read_parquet(tmp_path / "run" / "city" / "supervision.parquet")
    assert s["operations_centre"]["supervised"] > 0 and len(sup) >= s["operations_centre"]["supervised"]
    north = pd.read_parquet(tmp_path / "run" / "districts" / "north" / "cases.parquet").set_index("case_id")
    warned = north.loc[sup.loc[sup["district"] == "North", "case_id"], "warnings_red"]
    assert (warned >= 1).all()
    ops = pd.read_parquet(tmp_path / "run" / "city" / "operations.parquet")
    assert set(ops["district"]) == {"North", "South"} and ops["supervised"].sum() == len(sup)


def test_bad_hotline_centre_field_on_the_cli_is_exit_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["run", str(CITY), "--set", "city.hotline_centre.on_duty_by_hour=[0.5]", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2, res.output
    line = [x for x in res.output.splitlines() if x.strip()]
    assert len(line) == 1 and "city.hotline_centre.on_duty_by_hour" in line[0] and "expected 24 values" in line[0], res.output
    assert "Traceback" not in res.output


def test_city_run_prints_the_centre_and_ranking(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["run", str(_tiny(tmp_path)), "--days", "2", "--out", str(tmp_path / "r"), "--no-report"])
    assert res.exit_code == 0, res.output
    assert "12345 centre" in res.output and "ranking" in res.output
    s = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    assert {"hotline_centre", "operations_centre", "ranking_12345"} <= set(s)


@pytest.mark.slow
def test_same_tables_on_a_dask_local_cluster(runs: tuple[Path, Path, dict, dict], tmp_path: Path) -> None:
    a, _, sa, _ = runs
    s = run_city(load_city(_tiny(tmp_path)), tmp_path / "dask", dask="local")
    assert s["hosts"] == "dask"
    assert _scrub(s) == _scrub(sa)
    for t in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(a / t), pd.read_parquet(tmp_path / "dask" / t))


def test_a_districts_handovers_stay_in_that_district() -> None:
    # two districts: North in two street partitions and its shared level (sims 0–2), South whole (sim 3);
    # before the city level a street's escalation went to the city's last sim (South), not North's shared level
    from twin.coupling.city import CITY, route_city
    from twin.coupling.protocol import SHARED, Handover

    outs = [[Handover(30.0, SHARED, "escalate", ())], [Handover(30.0, CITY, "call", (1, 0))],
            [Handover(30.0, 1, "outcome", ())], [Handover(30.0, CITY, "city_report", ())]]
    inbox, up = route_city(outs, [(0, 3), (3, 1)])
    assert [len(b) for b in inbox] == [0, 1, 1, 0]  # the escalation to North's shared level, the outcome to street 1
    assert inbox[2][0].kind == "escalate" and [h.kind for h in up] == ["call", "city_report"]


def test_an_emergency_city_in_partitions_runs_with_the_city_level(tmp_path: Path) -> None:
    # emergencies work with partitions (issue 18): a city of flood districts, North in 2 street partitions
    f = _tiny(tmp_path)
    f.write_text(f.read_text(encoding="utf-8").replace("district.toml", "flood.toml"), encoding="utf-8")
    s = run_city(load_city(f), tmp_path / "run", days=3, parallel=False)
    assert s["partitions"] == 4 and s["hotline_centre"]["work_orders"] > 0
    for r in s["ranking_12345"]:
        cases = pd.read_parquet(tmp_path / "run" / "districts" / r["district"].lower() / "cases.parquet")
        assert int(cases["tier"].astype(str).str.startswith("12345-").sum()) == r["orders_signed_for_in_run"]
        assert "modes" in json.loads((tmp_path / "run" / "districts" / r["district"].lower() / "summary.json").read_text(encoding="utf-8"))
