"""The service's fast ISO 8601 formatting (twin/service/times.py ``iso``) writes exactly what
``datetime.fromtimestamp(...).isoformat(timespec="milliseconds")`` writes — on random engine
times (fixed seed) across the epoch, on millisecond and microsecond boundaries where the
rounding decides, and on values it has cached."""

from __future__ import annotations

import random

import pytest

from twin.service.times import iso, iso_reference


def _times() -> list[float]:
    rng = random.Random(20261203)
    out = [rng.uniform(-1e7, 6e7) for _ in range(20_000)]  # 1951 … 2084, any fraction
    out += [rng.randrange(0, 10**10) / 60_000 for _ in range(20_000)]  # whole milliseconds
    out += [rng.randrange(-(10**10), 10**10) / 60e6 for _ in range(20_000)]  # whole microseconds around 1970
    out += [(rng.randrange(0, 10**9) + 0.5) / 60e6 for _ in range(5_000)]  # half microseconds: round half to even
    out += [0.0, -0.0, 1 / 60e6, -1 / 60e6, 0.5 / 60e6, -0.5 / 60e6, 1e-12, -1e-12, 29_609_040.0, 29_609_040.0 - 1e-9]
    out += [n / 60.0 - 1e-7 for n in range(1_700_000_000, 1_700_000_050)]  # just below whole seconds
    return out


def test_fast_iso_equals_datetime_isoformat_everywhere() -> None:
    values = _times()
    for v in values:  # first pass computes, second reads the caches
        assert iso(v) == iso_reference(v), v
    assert [iso(v) for v in values] == [iso_reference(v) for v in values]


def test_iso_of_none_ints_and_far_times() -> None:
    assert iso(None) is None
    assert iso(29_609_040) == iso(29_609_040.0) == iso_reference(29_609_040.0) == "2026-04-19T04:00:00.000+08:00"
    assert iso(-5e10 / 60) == iso_reference(-5e10 / 60)  # outside the fast range: the plain way
    with pytest.raises((ValueError, OverflowError)):
        iso(float("nan"))
