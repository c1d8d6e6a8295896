"""``summary.json`` is typed once (:class:`twin.summary_types.RunSummary`): a run writes exactly
its required keys (plus ``modes`` with an ``[emergency]`` section), and the study's KPI names
are keys of it."""

from __future__ import annotations

import json
from pathlib import Path

from twin.run import simulate, write_run_dir
from twin.scenario import load_scenario
from twin.study.kpi import SUMMARY_KPIS
from twin.summary_types import RunSummary


def test_a_run_writes_the_typed_keys(tmp_path: Path) -> None:
    r = simulate(load_scenario(None, ["run.warmup_days=0"]), days=2)
    written = json.loads((write_run_dir(r, tmp_path) / "summary.json").read_text(encoding="utf-8"))
    assert set(written) == set(RunSummary.__required_keys__)
    assert set(RunSummary.__optional_keys__) == {"modes", "derived", "bulletins", "bulletin_units_named"}
    assert set(SUMMARY_KPIS) <= set(RunSummary.__annotations__)
