"""Street runs shared by the issue-13 tests: one simulation per (seed, days, overrides)."""

from __future__ import annotations

from functools import cache

from twin.run import RunResult, simulate
from twin.scenario import load_scenario


@cache
def street_run(seed: int, days: float, *overrides: str) -> RunResult:
    """The default street scenario with ``overrides`` (``dotted.path=value``), run once per process."""
    return simulate(load_scenario(None, list(overrides)), seed=seed, days=days)
