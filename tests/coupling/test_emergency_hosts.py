"""Emergency runs go on the same executors as ordinary runs (issue 18): each partition builds its
``[emergency]`` record where it ran (twin.emergency.record) and the modes block is merged from
the records, so inline, child processes and a Dask LocalCluster give the same run bit for bit."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.coupling.flood import flood2
from twin.run import RunResult, simulate


def _same(a: RunResult, b: RunResult) -> None:
    def strip(s: Any) -> dict[str, Any]:
        return {k: v for k, v in dict(s).items() if k != "wall_seconds"}

    assert strip(a.summary) == strip(b.summary)
    for name in ("cases", "kpi", "stations", "incidents", "modes", "call_ups"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def _tiny() -> Any:
    return flood2(2, days=4.0, specialists=True, crews=1)  # the storm's first day, calls queueing


def test_an_emergency_run_in_processes_equals_inline() -> None:
    inline = simulate(_tiny(), seed=5, parallel=False)
    procs = simulate(_tiny(), seed=5, parallel=True)
    assert inline.summary["modes"]["emergency_cases"]["n"] > 50
    assert len(procs.processes) >= 2  # the street partitions ran elsewhere
    _same(inline, procs)


@pytest.mark.slow
def test_an_emergency_run_on_a_dask_local_cluster_equals_inline() -> None:
    inline = simulate(_tiny(), seed=5, parallel=False)
    _same(inline, simulate(_tiny(), seed=5, dask="local"))
