"""What a switch buys and costs in flood.toml: with the same seeds (common random numbers: the
storm, the ordinary incidents and their efforts are identical with and without the switch),
the switch lowers emergency response times and raises the normal-work backlog. Judged by a
95 % t-interval of the paired differences over replications, not by one lucky seed."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from twin.run import simulate
from twin.scenario import load_scenario
from twin.study.stats import paired_difference

from .conftest import SCENARIOS


def _modes(seed: int, switching: bool, days: float) -> dict[str, Any]:
    sc = load_scenario(SCENARIOS / "flood.toml", [f"emergency.switching={str(switching).lower()}", f"run.days={days}"])
    return simulate(sc, seed=seed, tables=False).summary["modes"]


def _compare(seeds: list[int], days: float) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    on = [_modes(s, True, days) for s in seeds]
    off = [_modes(s, False, days) for s in seeds]

    def col(runs: list[dict[str, Any]], *path: str) -> np.ndarray:
        out = []
        for r in runs:
            for p in path:
                r = r[p]
            out.append(np.nan if r is None else float(r))  # type: ignore[arg-type]
        return np.array(out)

    resp = paired_difference(
        col(off, "emergency_cases", "response_min_mean"), col(on, "emergency_cases", "response_min_mean")
    )
    backlog = paired_difference(col(off, "normal_backlog", "mean"), col(on, "normal_backlog", "mean"))
    home = paired_difference(col(off, "home_unit_backlog", "mean"), col(on, "home_unit_backlog", "mean"))
    return resp, backlog, home


def _assert_bought_and_cost(resp: dict[str, float], backlog: dict[str, float], home: dict[str, float]) -> None:
    # bought: emergency cases reached sooner (the whole 95 % CI of on − off below zero)
    assert resp["ci_high"] < 0.0, resp
    # cost: more normal work open, and more of it at the units whose staff went down
    assert backlog["ci_low"] > 0.0, backlog
    assert home["ci_low"] > 0.0, home


def test_switch_lowers_emergency_response_and_raises_normal_backlog() -> None:
    resp, backlog, home = _compare([101, 202, 303, 404, 505], days=6.0)
    _assert_bought_and_cost(resp, backlog, home)


@pytest.mark.slow
def test_switch_effect_holds_over_twenty_full_length_replications() -> None:
    resp, backlog, home = _compare(list(range(1, 21)), days=10.0)
    _assert_bought_and_cost(resp, backlog, home)
