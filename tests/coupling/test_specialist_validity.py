"""Validity of specialist responders with partitions (issue 18): the two-street flood with its
fire-and-rescue, 120 and 110 pools, P = 1 against P = 2 over seeds 1–5. Every KPI of the
switchover and each pool's cases taken and median minutes to the scene must agree within a 95 %
Welch interval of the difference (the pools replay exactly, so theirs are equal seed by seed)."""

from __future__ import annotations

import pytest

from tests.coupling.test_emergency_validity import REPS, disagreeing, kpis

pytestmark = pytest.mark.slow


def test_two_partitions_agree_with_one_with_specialists() -> None:
    runs = {p: [kpis(p, seed, specialists=True) for seed in range(1, REPS + 1)] for p in (1, 2)}
    off, report = disagreeing(runs)
    print(report)
    assert not off, f"differ at 95 %: {off}\n" + report
    one, two = runs
    assert all(r["fire_rescue_cases"] > 0 and r["medical_cases"] > 0 for r in runs[one])
    for a, b in zip(runs[one], runs[two], strict=True):  # one pool, replayed exactly
        assert {k: v for k, v in a.items() if k.startswith(("fire", "medical", "police"))} == {
            k: v for k, v in b.items() if k.startswith(("fire", "medical", "police"))
        }
