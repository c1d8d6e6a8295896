"""Each engine transition is counted once in a coupled run: a street partition applies the
district's recorded steps to its own cases (``take_back``), and those replays are the shared
level's transitions, not new ones (the summary's ``engine_transitions`` once counted them twice)."""

from __future__ import annotations

from tests.coupling.small import small
from twin.coupling.lockstep import run_lockstep
from twin.coupling.sims import partition_sims
from twin.model import DistrictModel


def test_coupled_run_counts_the_whole_models_transitions() -> None:
    days = 6.0
    whole = DistrictModel(small(1), days=days, keep_events=False)
    whole.run_model()
    street, shared = run_lockstep([make() for make in partition_sims(small(1), days=days, keep_events=False)], days * 1440.0)
    assert street.flow.replayed > 0  # the district took part and its steps came back
    counted = street.store.transitions - street.flow.replayed + shared.store.transitions
    assert counted == whole.store.transitions
    assert street.store.transitions + shared.store.transitions > whole.store.transitions  # the old double count
