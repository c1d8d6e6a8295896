"""The console summary of `twin run` shows the switchover when the scenario has one."""

from __future__ import annotations

import io

from rich.console import Console

from twin.cli.run import summary_table
from twin.run import simulate
from twin.scenario import load_scenario


def _render(summary: dict) -> str:  # type: ignore[type-arg]
    buf = io.StringIO()
    Console(file=buf, width=200).print(summary_table(summary))
    return buf.getvalue()


def test_flood_summary_shows_the_switch() -> None:
    s = simulate(load_scenario(str(__import__("pathlib").Path(__file__).resolve().parents[1] / "scenarios" / "flood.toml")), days=5).summary
    text = _render(s)
    assert "mode changes" in text and "emergency @ h" in text
    assert f"{s['modes']['mobilised_peak']:,}" in text


def test_street_summary_has_no_mode_rows() -> None:
    s = simulate(load_scenario(None), days=4).summary
    assert "mode changes" not in _render(s)


def test_closed_says_what_its_percentage_is_of() -> None:
    """3,087 cases and "closed 2,927 (99.2 %)" read as wrong unless the denominator is named."""
    s = simulate(load_scenario(None), days=5).summary
    text = _render(s)
    assert "closed (share of cases neither rejected nor merged)" in text
    real = s["cases_total"] - s["cases_rejected"] - s["cases_merged"]
    assert f"{s['cases_closed']:,}  ({100 * s['cases_closed'] / real:.1f} %)" in text
    if s["cases_rejected"] or s["cases_merged"]:
        assert f"{s['cases_rejected']:,} / {s['cases_merged']:,}" in text
