"""Erlang C beside the simulated curve, for a single-queue part of the system.

A street command centre's dispatchers triage every ticket escalated to the street (mean
``service_minutes`` each, round the clock): on paper an M/M/c queue. From a sweep over the
number of dispatchers, the offered load is estimated from the simulation itself
(``a = ρ · c`` at the best-staffed point, where the fewest tickets are lost to escalation by
allowance lapse), and Erlang C (:mod:`twin.queueing`) then predicts utilisation, the chance a
ticket waits, and the mean wait at every staffing. Drawn beside the simulated values, the gap
shows where the model's escalations, shifts and surges depart from the textbook queue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from twin.queueing import MMc


@dataclass(frozen=True, slots=True)
class ErlangCurve:
    """Erlang C and simulated figures per staffing level."""

    field: str
    service_minutes: float
    offered_load: float  # Erlangs, estimated from the simulation
    table: pd.DataFrame  # c, sim_util (+ CI), erlang_util, erlang_p_wait, erlang_wait, sim_wait (+ CI) when known
    wait_kpi: str | None
    wait_includes_service: bool = False

    @property
    def arrivals_per_hour(self) -> float:
        return self.offered_load / self.service_minutes * 60.0

    def least_stable(self) -> int:
        """The fewest servers for which Erlang C has a steady state (a < c)."""
        return math.floor(self.offered_load) + 1


def erlang_curve(
    stats: pd.DataFrame,
    field: str,
    utilisation_kpi: str,
    service_minutes: float,
    wait_kpi: str | None = None,
    wait_includes_service: bool = False,
) -> ErlangCurve | None:
    """Build the comparison from a sweep's statistics (None if the needed KPIs are missing).

    ``stats`` has one row per point and KPI (``mean``, ``ci_low``, ``ci_high``) and a column for
    ``field``. Points that differ in other varied fields are pooled by their mean.
    """
    util = stats[stats["kpi"] == utilisation_kpi].groupby(field)[["mean", "ci_low", "ci_high"]].mean()
    if util.empty or service_minutes <= 0:
        return None
    util = util.sort_index()
    cs = [int(c) for c in util.index]
    c_best = max(cs)
    load = float(util.loc[c_best, "mean"]) * c_best
    if not load > 0:
        return None
    lam = load / service_minutes
    mu = 1.0 / service_minutes
    rows = []
    wait = None
    if wait_kpi is not None:
        wait = stats[stats["kpi"] == wait_kpi].groupby(field)[["mean", "ci_low", "ci_high"]].mean()
        if wait.empty:
            wait = None
    for c in range(max(1, min(cs)), max(cs) + 1):
        q = MMc(lam, mu, c)
        row = {
            "c": c,
            "erlang_util": min(1.0, q.utilisation),
            "erlang_p_wait": q.p_wait,
            "erlang_wait": q.mean_sojourn if wait_includes_service else q.mean_wait,
        }
        if c in util.index:
            row |= {"sim_util": util.loc[c, "mean"], "sim_util_low": util.loc[c, "ci_low"],
                    "sim_util_high": util.loc[c, "ci_high"]}
        if wait is not None and c in wait.index:
            row |= {"sim_wait": wait.loc[c, "mean"], "sim_wait_low": wait.loc[c, "ci_low"],
                    "sim_wait_high": wait.loc[c, "ci_high"]}
        rows.append(row)
    return ErlangCurve(field, service_minutes, load, pd.DataFrame(rows), wait_kpi if wait is not None else None,
                       wait_includes_service)
