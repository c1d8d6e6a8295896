"""Analytic queueing formulas against textbook values and limiting cases."""

from __future__ import annotations

import math

import pytest

from twin.queueing import (
    MMc,
    erlang_b,
    erlang_c,
    jackson_tandem_sojourn,
    staffing_for_mean_wait,
    staffing_for_service_level,
)


def test_mm1_matches_closed_form() -> None:
    q = MMc(lam=0.5, mu=1.0, c=1)
    assert q.p_wait == pytest.approx(0.5)
    assert q.mean_wait == pytest.approx(0.5 / (1.0 - 0.5))  # ρ/(μ-λ)
    assert q.mean_sojourn == pytest.approx(1 / (1.0 - 0.5))


def test_erlang_c_textbook_value() -> None:
    # 10 agents, 8 Erlangs offered: P(wait) ≈ 0.409 (standard call-centre table).
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=5e-4)
    assert erlang_b(10, 8.0) == pytest.approx(0.1217, abs=5e-4)


def test_unstable_queue_waits_forever() -> None:
    q = MMc(lam=2.0, mu=1.0, c=2)
    assert not q.stable and math.isinf(q.mean_wait) and q.service_level(10) == 0.0


def test_staffing_is_minimal() -> None:
    lam, mu = 8.0, 1.0
    c = staffing_for_service_level(lam, mu, t=0.2, target=0.8)
    assert MMc(lam, mu, c).service_level(0.2) >= 0.8
    assert MMc(lam, mu, c - 1).service_level(0.2) < 0.8 or c - 1 <= lam
    c2 = staffing_for_mean_wait(lam, mu, 0.1)
    assert MMc(lam, mu, c2).mean_wait <= 0.1 < MMc(lam, mu, c2 - 1).mean_wait


def test_tandem_is_sum_of_stations() -> None:
    assert jackson_tandem_sojourn(0.5, [(1.0, 1), (2.0, 1)]) == pytest.approx(1 / 0.5 + 1 / 1.5)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="server"):
        erlang_c(0, 1.0)
    with pytest.raises(ValueError, match="μ > 0"):
        MMc(1.0, 0.0, 1)
