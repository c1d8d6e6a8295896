"""Partitions give the same results wherever they run: in this process, in child processes
over pipes, or on Dask actors — bit for bit (wall time aside)."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.city.small import small_district
from twin.executors import InlineHosts, ProcessHosts, run_lockstep
from twin.run import simulate


def _without_wall(s: Any) -> dict[str, Any]:
    return {k: v for k, v in dict(s).items() if k != "wall_seconds"}


def test_processes_equal_inline() -> None:
    sc = small_district()
    inline = simulate(sc, parallel=False)
    procs = simulate(sc, parallel=True)
    assert inline.summary["cases_total"] > 100
    assert _without_wall(inline.summary) == _without_wall(procs.summary)
    pd.testing.assert_frame_equal(inline.cases, procs.cases)
    pd.testing.assert_frame_equal(inline.stations, procs.stations)
    pd.testing.assert_frame_equal(inline.kpi, procs.kpi)
    pd.testing.assert_frame_equal(inline.incidents, procs.incidents)


@pytest.mark.slow
def test_dask_local_cluster_equals_inline() -> None:
    sc = small_district("run.days=3")  # an actor call per window: keep the windows few
    inline = simulate(sc, parallel=False)
    dask = simulate(sc, dask="local")
    assert _without_wall(inline.summary) == _without_wall(dask.summary)
    pd.testing.assert_frame_equal(inline.cases, dask.cases)


class Echo:
    """A toy partition: sends one handover a window to the next partition (the last to SHARED)
    and records what arrived, so routing and windows can be checked on every host."""

    lookahead = 60.0

    def __init__(self, k: int, n: int) -> None:
        self.k, self.n, self.seen = k, n, []

    def advance(self, until: float, inbox: Any) -> list[Any]:
        from twin.coupling.protocol import SHARED, Handover

        self.seen += [(until, h.payload) for h in inbox]
        to = SHARED if self.k == self.n - 2 else (self.k + 1) % self.n
        return [Handover(until, to, "report", (self.k, until))]

    def finish(self) -> list[Any]:
        return self.seen


def _echo(k: int, n: int) -> Echo:
    return Echo(k, n)


def test_lockstep_routes_handovers_alike_inline_and_in_processes() -> None:
    from functools import partial

    n = 3
    factories = [partial(_echo, k, n) for k in range(n)]
    inline = run_lockstep(InlineHosts(factories), 300.0)
    hosts = ProcessHosts(factories)
    try:
        procs = run_lockstep(hosts, 300.0)
    finally:
        hosts.close()
    assert inline == procs
    # partition 1 hears from 0 in the window after each send; the shared level (2) from 1
    assert inline[1][0] == (120.0, (0, 60.0))
    assert inline[2][-1] == (300.0, (1, 240.0))
    assert len(inline[0]) == 4  # 5 windows of 60 minutes; the last window's messages are dropped
