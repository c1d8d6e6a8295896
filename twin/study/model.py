"""The district model as a study's model: load a scenario with overrides, simulate, summarise.

Imports of the model are inside the functions so that worker processes (and Dask workers)
import only what they run, and the study machinery stays importable on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twin.study.errors import StudyError
from twin.study.tasks import Model


def run_district(path: str | None, overrides: tuple[str, ...], seed: int, days: float | None) -> Mapping[str, Any]:
    """One replication of the district model: its ``summary.json`` content."""
    from twin.run import simulate
    from twin.scenario import load_scenario

    scenario = load_scenario(path, overrides)
    return dict(simulate(scenario, seed=seed, days=days).summary)


def validate_district(path: str | None, overrides: tuple[str, ...]) -> None:
    """Validate a scenario file with overrides exactly as ``twin run --set`` does."""
    from twin.scenario import ScenarioError, load_scenario

    try:
        load_scenario(path, overrides)
    except ScenarioError as exc:
        raise StudyError(str(exc)) from None


DISTRICT_MODEL = Model(name="twin.run.simulate", run=run_district, validate=validate_district)
