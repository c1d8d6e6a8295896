"""The city's 12345 centre as a queue: one pool of call-takers on a 7×24 roster, simulated once
for the whole city (issue 18).

Calls come from two places. A district's hotline contacts that become work orders arrive as
messages (the caller's time is the contact's time in the district's incident stream); the
centre hands the order down (派单) once the operator has handled the call. The calls the centre
answers itself without a work order (咨询/直接解答: about 70 % of a 12345 centre's calls, 观察者网
2025, 刘成良/冯淇, "咨询类事项占比高达70%") are drawn here, from the centre's own random stream, per
hour of the day. Every call waits for a free call-taker (first come, first served); the roster
says how many take calls in each hour (a call-taker whose shift ends finishes the call in hand).
A caller who waits longer than their patience hangs up; a share of them call again later, the
others give up for good (an order call given up for good never reaches the district: the need
goes unreported — counted as ``orders_lost``).

The queue is a plain event list (no SimPy): it is advanced window by window by the city level
(:class:`twin.coupling.city.CitySim`) and is deterministic — events at the same minute in the
order they were scheduled, every draw from the centre's own streams in that order.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twin.dists import Dist
from twin.rng import stream_rng

# event kinds (the heap holds (minute, seq, kind, call))
_ARRIVE, _DONE, _ABANDON, _HOUR = range(4)


WAITING, ANSWERED, HUNG_UP = range(3)


@dataclass(slots=True)
class Call:
    """One attempt of a caller (an order's caller, or one the centre answers itself)."""

    arrived: float  # this attempt's start (minutes)
    order: tuple[int, int] | None  # (sender, key) of a work order, None: answered directly
    first: float  # when the caller first rang (the warm-up counts from it)
    attempt: int = 1
    state: int = WAITING


class Draws:
    """Draws from ``dist`` on a stream of its own, taken one at a time from blocks of
    :attr:`BLOCK` (a NumPy call per draw would cost more than the queue's bookkeeping)."""

    BLOCK = 4096

    def __init__(self, dist: Dist, rng: np.random.Generator) -> None:
        self.dist, self.rng = dist, rng
        self.buf: list[float] = []
        self.i = 0

    def __call__(self) -> float:
        if self.i == len(self.buf):
            self.buf = self.dist.sample(self.rng, self.BLOCK).tolist()
            self.i = 0
        self.i += 1
        return self.buf[self.i - 1]


@dataclass(frozen=True)
class HotlineConfig:
    """What the queue needs from the city file: staff, roster, the call mix and the callers."""

    staff: int
    on_duty_by_hour: Sequence[float]
    direct_per_day: float  # calls answered directly, per day, whole city
    direct_by_hour: Sequence[float]
    direct_minutes: Dist
    order_minutes: Dist
    patience_minutes: Dist | None
    redial_share: float
    redial_minutes: Dist
    answer_targets_seconds: Sequence[float] = (15.0, 20.0)

    def seats(self, hour: int) -> int:
        """Call-takers on duty in ``hour`` of the day (0–23): at least one in an hour the roster
        staffs at all (a 7×24 line is never unmanned, 国办发〔2020〕53号 — a small centre's share
        would otherwise round to nobody at night)."""
        share = self.on_duty_by_hour[hour % 24]
        return max(1, int(round(self.staff * share))) if share > 0 else 0


class HotlineCentre:
    """The queue and its tallies; :meth:`run` advances it to a minute and returns the work
    orders handed down meanwhile as ``(minute handled, sender, key)``."""

    def __init__(self, cfg: HotlineConfig, seed: int, warm_minutes: float = 0.0, horizon: float = math.inf) -> None:
        self.cfg = cfg
        self.rng_direct = stream_rng(seed, "city.hotline.direct")
        self.handle_direct = Draws(cfg.direct_minutes, stream_rng(seed, "city.hotline.direct_minutes"))
        self.handle_order = Draws(cfg.order_minutes, stream_rng(seed, "city.hotline.order_minutes"))
        p = cfg.patience_minutes
        self.patience = None if p is None else Draws(p, stream_rng(seed, "city.hotline.patience"))
        self.redial_after = Draws(cfg.redial_minutes, stream_rng(seed, "city.hotline.redial_minutes"))
        self.rng_redial = stream_rng(seed, "city.hotline.redial")
        self.warm = warm_minutes
        self.horizon = horizon
        self.now = 0.0
        self.heap: list[tuple[float, int, int, Call | None]] = []
        self.seq = 0
        self.queue: deque[Call] = deque()
        self.busy = 0
        self.seats = cfg.seats(0)
        self.next_day = 0  # the next day whose direct calls are still to be drawn
        w = np.asarray(cfg.direct_by_hour, dtype=float)
        self.direct_share_by_hour = w / w.sum()
        self._push(60.0, _HOUR, None)
        # tallies after the warm-up (calls that first rang after it)
        self.calls = 0  # distinct callers
        self.order_calls = 0
        self.attempts = 0
        self.answered_direct = 0
        self.orders_dispatched = 0
        self.abandoned = 0  # attempts that hung up
        self.gave_up = 0  # callers who hung up and did not call again
        self.orders_lost = 0
        self.waits = array("d")  # seconds, every answered attempt
        self.busy_minutes = 0.0  # call-taker minutes spent handling calls, after the warm-up
        self.seat_minutes = 0.0  # call-taker minutes on duty, after the warm-up (a shift's last call may run over)
        # hourly series (whole run): calls rung, answered, abandoned, orders handed down, seats
        self.hourly: dict[str, list[float]] = {k: [] for k in ("calls", "answered", "abandoned", "orders", "seats", "wait_s_sum", "within")}
        self._hour = dict.fromkeys(self.hourly, 0.0)

    # ------------------------------------------------------------------ input
    def _push(self, at: float, kind: int, call: Call | None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, call))

    def order_call(self, at: float, sender: int, key: int) -> None:
        """A district's hotline contact that becomes a work order rings at minute ``at`` (≥ now)."""
        if at < self.now - 1e-9:
            raise ValueError(f"a call at minute {at:g} reached the 12345 centre at minute {self.now:g} (its past)")
        self._push(at, _ARRIVE, Call(at, (sender, key), at))

    def _draw_direct_day(self, day: int) -> None:
        """The day's calls answered directly: a Poisson number per hour, uniform within it."""
        n = self.rng_direct.poisson(self.cfg.direct_per_day * self.direct_share_by_hour)
        for h in range(24):
            t = day * 1440.0 + h * 60.0 + np.sort(self.rng_direct.random(int(n[h]))) * 60.0
            for x in t.tolist():
                self._push(x, _ARRIVE, Call(x, None, x))

    # ------------------------------------------------------------------ the queue
    def run(self, until: float) -> list[tuple[float, int, int]]:
        """Process every event before minute ``until``; the work orders handed down meanwhile."""
        out: list[tuple[float, int, int]] = []
        while self.next_day * 1440.0 < min(until, self.horizon):
            self._draw_direct_day(self.next_day)
            self.next_day += 1
        heap = self.heap
        while heap and heap[0][0] < until:
            at, _, kind, call = heapq.heappop(heap)
            self._clock(at)
            if kind == _ARRIVE:
                assert call is not None
                self._arrive(call)
            elif kind == _DONE:
                assert call is not None
                self.busy -= 1
                if call.order is not None:
                    out.append((at, *call.order))
                    self.orders_dispatched += call.first >= self.warm
                    self._hour["orders"] += 1
                self._serve()
            elif kind == _ABANDON:
                assert call is not None
                if call.state == WAITING:  # else answered before their patience ran out
                    self._abandon(call)
            else:
                self._close_hour()
                self._push(at + 60.0, _HOUR, None)
                self._serve()
        self._clock(until)
        return out

    def _clock(self, t: float) -> None:
        """Move the clock to ``t``, counting on-duty and busy call-taker minutes after the warm-up."""
        if t > self.warm:
            span = t - max(self.now, self.warm)
            if span > 0:
                self.seat_minutes += self.seats * span
                self.busy_minutes += self.busy * span
        self.now = t

    def _arrive(self, call: Call) -> None:
        counted = call.first >= self.warm
        self._hour["calls"] += 1
        if call.attempt == 1 and counted:
            self.calls += 1
            self.order_calls += call.order is not None
        if counted:
            self.attempts += 1
        self.queue.append(call)
        if self.patience is not None:
            self._push(self.now + self.patience(), _ABANDON, call)
        self._serve()

    def _serve(self) -> None:
        """Call-takers free and on duty take the longest-waiting callers still on the line."""
        q = self.queue
        while q and self.busy < self.seats:
            call = q.popleft()
            if call.state != WAITING:
                continue  # hung up while waiting
            call.state = ANSWERED
            self.busy += 1
            wait_s = (self.now - call.arrived) * 60.0
            if call.first >= self.warm:
                self.waits.append(wait_s)
                self.answered_direct += call.order is None
            self._hour["answered"] += 1
            self._hour["wait_s_sum"] += wait_s
            self._hour["within"] += wait_s <= self.cfg.answer_targets_seconds[0]
            self._push(self.now + (self.handle_direct() if call.order is None else self.handle_order()), _DONE, call)

    def _abandon(self, call: Call) -> None:
        """The caller hangs up (left in the queue, skipped when reached); a share call again later."""
        call.state = HUNG_UP
        counted = call.first >= self.warm
        self._hour["abandoned"] += 1
        if counted:
            self.abandoned += 1
        if self.rng_redial.random() < self.cfg.redial_share:
            again = self.now + self.redial_after()
            self._push(again, _ARRIVE, Call(again, call.order, call.first, call.attempt + 1))
            return
        if counted:
            self.gave_up += 1
            self.orders_lost += call.order is not None

    def _close_hour(self) -> None:
        """The hour's figures join the series; the next hour's roster takes over."""
        self._hour["seats"] = self.seats
        for k, v in self._hour.items():
            self.hourly[k].append(v)
        self._hour = dict.fromkeys(self.hourly, 0.0)
        self.seats = self.cfg.seats(len(self.hourly["calls"]))
