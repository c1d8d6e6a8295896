"""One definition of the on-time rate: the engine's rule (:func:`twin.engine.kpi.on_time`,
:func:`twin.engine.kpi.by_due`) applied to a run's case table gives the number the engine's own
KPIs give over the same run's cases."""

from __future__ import annotations

import numpy as np

from twin.engine.kpi import by_due, on_time
from twin.model import DistrictModel
from twin.run import _cases
from twin.scenario import load_scenario


def test_run_table_and_engine_agree_on_the_on_time_rates() -> None:
    m = DistrictModel(load_scenario(None, ["run.warmup_days=0"]), seed=6, days=4)  # a seed with late cases
    m.run_model()
    engine = m.engine.kpis()
    c = _cases(m)
    state = c["state"].to_numpy()
    real = ~np.isin(state, ["rejected", "merged"])
    done_at = c["done_at"].to_numpy(dtype=float)
    done = real & ~np.isnan(done_at)
    n = int(done.sum())
    assert n > 100  # a run with something to judge
    assert engine["on_time_rate"] == on_time(done, c["late_stints"].to_numpy()).sum() / n
    assert engine["on_time_rate_end_to_end"] == (done & by_due(done_at, c["due_at"].to_numpy(dtype=float))).sum() / n
    assert 0.0 < engine["on_time_rate"] < 1.0  # both outcomes occur, so the rule is exercised


def test_the_rule_on_hand_made_cases() -> None:
    done = np.array([True, True, False, True])
    late = np.array([0, 2, 0, 0])
    assert on_time(done, late).tolist() == [True, False, False, True]
    assert by_due([10.0, 20.0 + 1e-12, np.nan, 31.0], [10.0, 20.0, 5.0, 30.0]).tolist() == [True, True, False, False]
