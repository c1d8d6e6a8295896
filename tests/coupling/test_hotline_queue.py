"""The city's 12345 centre as a queue (twin.coupling.hotline) against Erlang C: with a fixed
staff, Poisson calls, exponential handling and patient callers it is an M/M/c queue, so its mean
answer wait and the share of callers who wait agree with the formula within a 99 % confidence
interval (batch means over simulated days; fixed seed). Its bookkeeping: a caller who hangs up
is counted, redials or gives up, and an order call given up for good is an order lost."""

from __future__ import annotations

import math

import numpy as np

from twin.coupling.hotline import HotlineCentre, HotlineConfig
from twin.queueing import MMc
from twin.scenario import exp_dist

LAM, MEAN, SEATS, DAYS = 1.6, 5.0, 10, 40  # calls per minute, handling minutes, call-takers, days


def _config(patience: float | None = None, redial: float = 0.0, seats_share: float = 1.0) -> HotlineConfig:
    return HotlineConfig(
        staff=SEATS, on_duty_by_hour=[seats_share] * 24, direct_per_day=LAM * 1440.0, direct_by_hour=[1.0] * 24,
        direct_minutes=exp_dist(MEAN), order_minutes=exp_dist(MEAN),
        patience_minutes=None if patience is None else exp_dist(patience), redial_share=redial, redial_minutes=exp_dist(10.0),
    )


def _by_day(centre: HotlineCentre, days: int) -> list[tuple[float, float]]:
    """(mean wait min, share waiting) of the calls answered each day after the first."""
    out = []
    seen = 0
    for day in range(1, days + 1):
        for k in range(1, 49):
            centre.run((day - 1) * 1440.0 + k * 30.0)
        w = np.frombuffer(centre.waits, dtype=float)[seen:] / 60.0
        seen = len(centre.waits)
        if day > 1 and w.size:
            out.append((float(w.mean()), float((w > 0).mean())))
    return out


def test_fixed_staff_queue_agrees_with_erlang_c() -> None:
    q = MMc(LAM, 1.0 / MEAN, SEATS)
    days = _by_day(HotlineCentre(_config(), seed=11, warm_minutes=1440.0), DAYS)
    for k, formula in ((0, q.mean_wait), (1, q.p_wait)):
        x = np.array([d[k] for d in days])
        half = 2.576 * x.std(ddof=1) / math.sqrt(x.size)  # 99 % CI of the mean of daily batch means
        assert abs(x.mean() - formula) <= half, (k, x.mean(), formula, half)


def test_occupancy_is_the_offered_load_per_call_taker() -> None:
    c = HotlineCentre(_config(), seed=12, warm_minutes=1440.0)
    c.run(20 * 1440.0)
    assert abs(c.busy_minutes / c.seat_minutes - LAM * MEAN / SEATS) < 0.03


def test_same_seed_same_queue_and_orders_come_down_once() -> None:
    def run(seed: int) -> tuple[list[tuple[float, int, int]], bytes]:
        c = HotlineCentre(_config(patience=2.0, redial=0.5, seats_share=0.7), seed=seed)
        for k in range(200):
            c.order_call(k * 7.0 + 0.5, k % 3, k)
        out = [o for w in range(1, 2 * 48 + 1) for o in c.run(w * 30.0)]
        return out, c.waits.tobytes()

    a, b = run(3), run(3)
    assert a == b
    keys = [k for _, _, k in a[0]]
    assert len(keys) == len(set(keys))  # no order handed down twice


def test_impatient_callers_hang_up_redial_or_are_lost() -> None:
    c = HotlineCentre(_config(patience=1.0, redial=0.5, seats_share=0.7), seed=4, horizon=2 * 1440.0)
    for k in range(300):
        c.order_call(k * 2.0, 0, k)
    handed = [k for w in range(1, 3 * 48 + 1) for _, _, k in c.run(w * 30.0)]  # a day past the last call: every redial is in
    assert c.abandoned > 0 and 0 < c.gave_up <= c.abandoned
    assert c.orders_lost > 0 and len(handed) + c.orders_lost == 300  # every order call comes down or is lost
    assert c.attempts == c.calls + (c.abandoned - c.gave_up)  # every redial is one more attempt
