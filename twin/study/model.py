"""The district model as a study's model: load a scenario with overrides, simulate, summarise.

Imports of the model are inside the functions so that worker processes (and Dask workers)
import only what they run, and the study machinery stays importable on its own.

Besides the model's own ``summary.json`` content, a replication records one figure derived
from the case events (when the scenario keeps them, ``outputs.case_events``), under
``derived``: the mean minutes from a ticket's arrival at the street command centre to its
dispatch to a board (``street_centre_minutes`` — queue wait plus triage), the simulated
counterpart of the Erlang C sojourn time for the street dispatchers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.study.errors import StudyError
from twin.study.tasks import Model, SingleQueue
from twin.summary_types import RunSummary

#: Station-name prefix of the street command centres (agents.command_centres.StreetCentre).
STREET_CENTRE_PREFIX = "SC-"


def street_centre_minutes(events: pd.DataFrame | None, prefix: str = STREET_CENTRE_PREFIX) -> float | None:
    """Mean minutes from entering a street centre's queue to its dispatch, from the audit log.

    A street centre's dispatch event ends triage; the case's previous event (the escalation that
    sent it to the street) starts the wait. Tickets that leave the queue by allowance lapse
    never get a street dispatch and are not counted (the figure is then a lower bound).
    """
    if events is None or events.empty:
        return None
    ev = events.sort_values(["case_id", "seq"])
    prev_t = ev.groupby("case_id", sort=False)["t_min"].shift(1)
    sel = (ev["action"] == "dispatch") & ev["actor"].astype(str).str.startswith(prefix) & prev_t.notna()
    if not sel.any():
        return None
    return round(float(np.mean(ev.loc[sel, "t_min"].to_numpy() - prev_t[sel].to_numpy())), 6)


def run_district(path: str | None, overrides: tuple[str, ...], seed: int, days: float | None) -> RunSummary:
    """One replication of the district model: its ``summary.json`` content plus ``derived``."""
    from twin.run import simulate
    from twin.scenario import load_scenario

    scenario = load_scenario(path, overrides)
    result = simulate(scenario, seed=seed, days=days)
    summary = result.summary.copy()
    sojourn = street_centre_minutes(result.events)
    if sojourn is not None:
        summary["derived"] = {"street_centre_minutes": sojourn}
    return summary


def validate_district(path: str | None, overrides: tuple[str, ...], days: float | None = None) -> None:
    """Validate a scenario file with overrides exactly as ``twin run --set`` does, and the run length.

    KPIs count only cases reported after the warm-up, so a run no longer than it measures nothing.
    """
    from twin.scenario import ScenarioError, load_scenario

    try:
        sc = load_scenario(path, overrides)
    except ScenarioError as exc:
        raise StudyError(str(exc)) from None
    length = sc.run.days if days is None else days
    if length <= sc.run.warmup_days:
        what = f"--days {days:g}" if days is not None else f"run.days = {sc.run.days:g}"
        raise StudyError(
            f"{what}: expected more than run.warmup_days = {sc.run.warmup_days:g} (KPIs count only cases reported "
            "after the warm-up); give more --days or --set run.warmup_days=…"
        )


def district_single_queues(path: str | None, overrides: tuple[str, ...]) -> list[SingleQueue]:
    """The street command centre's dispatchers: triage (``policy.triage_minutes``) round the clock."""
    from twin.scenario import load_scenario

    sc = load_scenario(path, overrides)
    return [
        SingleQueue(
            label="street command centre dispatchers (triage and 派单)",
            field="staffing.street_dispatchers",
            utilisation_kpi="utilisation.street_dispatcher",
            service_minutes=float(sc.policy.triage_minutes.expected),
            wait_kpi="derived.street_centre_minutes",
            wait_includes_service=True,
        )
    ]


#: The code a district replication's results depend on (see :func:`twin.study.tasks.code_fingerprint`).
DISTRICT_SOURCES: tuple[str, ...] = (
    "agents",
    "twin.dists",
    "twin.emergency",
    "twin.engine",
    "twin.model",
    "twin.modes",
    "twin.rng",
    "twin.run",
    "twin.scenario",
    "twin.sim",
    "twin.study.model",
)

DISTRICT_MODEL = Model(
    name="twin.run.simulate",
    run=run_district,
    validate=validate_district,
    single_queues=district_single_queues,
    sources=DISTRICT_SOURCES,
)
