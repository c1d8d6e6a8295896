"""The city level above the districts (issue 18): the city's 12345 centre and its operations
centre (城运中心), simulated once, exchanging :class:`~twin.coupling.protocol.Handover` messages
with the districts' sims in the same conservative windows as a district's partitions.

- A district sim in a city (:class:`CityLink`, around a whole district or a street partition)
  holds each day's hotline contacts that become 12345 work orders back from its own arrivals
  and sends them up as ``"call"`` messages, due at the caller's time. The city level
  (:class:`CitySim`) queues them with the calls its centre answers itself
  (:mod:`twin.coupling.hotline`); when an operator has handled an order call the order goes
  down (派单) as an ``"order"`` message due ``handover_minutes`` later, when the district signs
  for it (签收) and it enters the district's flow exactly as a work order does in a district run
  alone (which instead delays it by ``hotline.operator_minutes + hotline.forward_hours``).
- Every ``report_minutes`` (and at a window's end) each district sim sends its figures up
  (``"city_report"``): open cases, overdue, 12345 orders open and overdue, escalations, the
  engine's mode. The operations centre keeps the city's dashboard series and issues 督办
  (``"supervise"``, due one handover later) on every 12345 order the district reports more
  than ``supervise_overdue_hours`` past its deadline. A whole district records it on the
  case's audit trail as a red warning (``warn``, actor: the operations centre) — it counts in
  the district's ``warnings_red``; it changes no handling in the model (the unit already works
  the overdue order first-come-first-served; a 督办's effect on handling is not sourced). A
  street partition only counts it (its case may be with the shared district level, whose
  copy the audit trail follows).

Ordering (see :mod:`twin.coupling.protocol`): the city level advances AFTER the districts in
every window, so it receives the calls a district drew at the day's start within the same
window (each due at or after the window's start, never in the city's past); everything it
sends down is due a handover after it happened, so at or after the window's end.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from operator import attrgetter
from typing import Any

import numpy as np

from twin.coupling.hotline import HotlineCentre, HotlineConfig
from twin.coupling.protocol import SHARED, Handover
from twin.coupling.sims import lookahead
from twin.engine.types import State
from twin.model import DistrictModel
from twin.model.flow import Rows
from twin.model.incidents import DayBatch

#: ``Handover.to`` of a message for the city level (the city's 12345 centre and operations centre).
CITY = -2
CALL = "call"  # district → city: a hotline contact that becomes a work order rings at ``at``
ORDER = "order"  # city → district: the work order, signed for at ``at``
REPORT = "city_report"  # district → city: the district sim's figures at ``at``
SUPERVISE = "supervise"  # city → district: 督办 on one 12345 order
DOWN = frozenset({ORDER, SUPERVISE})
_AT = attrgetter("at")
#: States in which a case takes a warning (the engine's transition table for ``warn``).
_WARNABLE = frozenset({State.ACCEPTED, State.DISPATCHED, State.IN_PROGRESS, State.REOPENED})


class CityLink:
    """A district's sim (the whole district, or one street partition) inside a city."""

    def __init__(self, make_sim: Callable[[], Any], me: int, report_minutes: float, supervise_after: float,
                 supervisor: str) -> None:
        self.sim = make_sim()
        m: DistrictModel = self.sim.model
        self.model = m
        self.me = me  # this sim's index among all the city's district sims (the city's reply address)
        self.lookahead = min(float(self.sim.lookahead), lookahead(m.scenario))
        self.every = report_minutes
        self.next_report = report_minutes
        self.supervise_after = supervise_after
        self.supervisor = supervisor
        self.out: list[Handover] = []
        self.held: dict[int, tuple[DayBatch, Rows, int]] = {}  # key → the order's row, until it comes down
        self.next_key = 0
        self.arrived: list[tuple[DayBatch, int, int]] = []  # (batch, row, case serial) of orders signed for
        self.received: list[int] = []  # keys signed for, in order
        self.open_orders: dict[str, float] = {}  # case id → deadline (engine minutes)
        self.reported: set[str] = set()  # orders already reported for 督办
        self.supervised = 0
        self.escalations_seen = 0
        m.hold_orders = self._hold

    @property
    def windows(self) -> int:
        return int(getattr(self.sim, "windows", 1))

    # ------------------------------------------------------------------ up
    def _hold(self, b: DayBatch) -> DayBatch:
        """Keep the day's work-order calls back and send them to the city's centre."""
        orders = b.order >= 0
        if not orders.any():
            return b
        held = b.take(np.flatnonzero(orders))
        rows = Rows(held)
        for i, at in enumerate(held.raised.tolist()):
            key = self.next_key
            self.next_key += 1
            self.held[key] = (held, rows, i)
            self.out.append(Handover(at, CITY, CALL, (self.me, key)))
        return b.take(np.flatnonzero(~orders))

    def _report(self, until: float) -> None:
        """The sim's figures for the operations centre, and the orders overdue long enough for 督办."""
        m = self.model
        flow = m.flow
        now = m.epoch + until
        bl = flow.backlog(now)
        active = flow.active
        overdue_orders = 0
        late: list[str] = []
        for cid, due in list(self.open_orders.items()):
            job = active.get(cid)
            if job is None or job.case.done_at is not None:
                del self.open_orders[cid]
                continue
            if due < now:
                overdue_orders += 1
                # a suspended order (挂账) has its clock stopped: no 督办 until it runs again
                if now - due > self.supervise_after and cid not in self.reported and job.case.suspended_at is None:
                    self.reported.add(cid)
                    late.append(cid)
        esc = int(flow.escalations)
        payload = (self.me, until, bl.open, bl.overdue, len(self.open_orders), overdue_orders, esc - self.escalations_seen,
                   str(m.engine.mode), tuple(late))
        self.escalations_seen = esc
        self.out.append(Handover(until, CITY, REPORT, payload))

    # ------------------------------------------------------------------ down
    def _receive(self, h: Handover, _event: object = None) -> None:
        if h.kind == ORDER:
            self._sign_for(h.payload[0])
        else:
            self._supervise(h.payload[0])

    def _sign_for(self, key: int) -> None:
        """The district signs for a work order the centre sent down: it enters the flow now."""
        m = self.model
        held, rows, i = self.held.pop(key)
        now = m.env.now
        rows.time[i] = now  # type: ignore[attr-defined]  # Rows' columns are set from its slots
        held.time[i] = now
        case = m.flow.arrive(rows, i)
        self.received.append(key)
        self.arrived.append((held, i, m.cases_reported))
        if case.due_at is not None:
            self.open_orders[case.id] = case.due_at

    def _supervise(self, case_id: str) -> None:
        """督办 from the operations centre: a red warning on the case's audit trail (whole district)."""
        self.supervised += 1
        m = self.model
        job = m.flow.active.get(case_id)
        if m.role != "whole" or job is None or job.case.state not in _WARNABLE or job.case.suspended_at is not None:
            return  # settled or suspended (挂账) meanwhile: counted, not recorded
        job.case = m.engine.warn(case_id, job.case.version, self.supervisor, "red")

    # ------------------------------------------------------------------ the window
    def advance(self, until: float, inbox: Sequence[Handover]) -> list[Handover]:
        env = self.model.env
        now = env.now
        rest = []
        for h in sorted(inbox, key=_AT):  # stable: ties keep the routing order
            if h.kind in DOWN:
                env.timeout(h.at - now).callbacks.append(partial(self._receive, h))
            else:
                rest.append(h)
        out = list(self.sim.advance(until, rest))
        if until >= self.next_report - 1e-9:
            self._report(until)
            self.next_report = (math.floor(until / self.every + 1e-9) + 1.0) * self.every
        out += self.out
        self.out = []
        return out

    def finish(self) -> DistrictModel:
        """The orders signed for join the incident stream (in case-id order, as the stream is)."""
        m: DistrictModel = self.sim.finish()
        if m.record_stream and self.arrived:
            by_batch: dict[int, list[tuple[DayBatch, int, int]]] = {}
            for item in self.arrived:
                by_batch.setdefault(id(item[0]), []).append(item)
            for items in by_batch.values():
                b = items[0][0]
                m.stream_days.append(b.take(np.array([i for _, i, _ in items], dtype=np.int64)))
                m.stream_serials.append(np.array([s for _, _, s in items], dtype=np.int64))
        self.arrived = []
        return m


def route_city(outboxes: Sequence[Sequence[Handover]], spans: Sequence[tuple[int, int]]) -> tuple[list[list[Handover]], list[Handover]]:
    """Next window's inboxes of the city's district sims and the city level's inbox, from every
    district sim's outbox of this window. ``spans``: per district, (first sim, sims) — a
    district's own messages (``to`` = its partition, :data:`SHARED` its shared level) stay in
    it; :data:`CITY` goes to the city level. Order: sender index, then order sent."""
    n = sum(k for _, k in spans)
    inbox: list[list[Handover]] = [[] for _ in range(n)]
    city: list[Handover] = []
    owner = [d for d, (_, k) in enumerate(spans) for _ in range(k)]
    for sender, out in enumerate(outboxes):
        first, k = spans[owner[sender]]
        for h in out:
            if h.to == CITY:
                city.append(h)
            else:
                inbox[first + (k - 1 if h.to == SHARED else h.to)].append(h)
    return inbox, city


class CitySim:
    """The city level: the 12345 centre's queue and the operations centre's dashboard and 督办.

    ``district_of``: the district index of every district sim (by its index among all)."""

    def __init__(self, cfg: HotlineConfig, seed: int, warm_minutes: float, horizon: float, handover: float,
                 district_of: Sequence[int], n_districts: int) -> None:
        self.lookahead = handover
        self.hotline = HotlineCentre(cfg, seed, warm_minutes, horizon)
        self.district_of = list(district_of)
        self.n = n_districts
        self.warm = warm_minutes
        self.horizon = horizon
        self.orders_by_district = [0] * n_districts  # handed down after the warm-up, by district
        self.signed_for_by_district = [0] * n_districts  # handed down in time to be signed for within the run
        self.supervised_by_district = [0] * n_districts
        self.supervision: list[tuple[float, int, str]] = []  # (minute, district, case id)
        self._rows: dict[tuple[float, int], list[Any]] = {}  # (minute, district) → the dashboard row

    def advance(self, until: float, inbox: Sequence[Handover]) -> list[Handover]:
        out: list[Handover] = []
        for h in sorted(inbox, key=_AT):
            if h.kind == CALL:
                sender, key = h.payload
                self.hotline.order_call(h.at, sender, key)
            elif h.kind == REPORT:
                self._report(h, out)
        for t, sender, key in self.hotline.run(until):
            d = self.district_of[sender]
            if t >= self.warm:
                self.orders_by_district[d] += 1
            if t + self.lookahead < self.horizon:
                self.signed_for_by_district[d] += 1
            out.append(Handover(t + self.lookahead, sender, ORDER, (key,)))
        return out

    def _report(self, h: Handover, out: list[Handover]) -> None:
        sender, t, open_, overdue, o_open, o_overdue, esc, mode, late = h.payload
        d = self.district_of[sender]
        row = self._rows.get((t, d))
        if row is None:
            row = self._rows[(t, d)] = [t, d, 0, 0, 0, 0, 0, "normal", 0]
        row[2] += open_
        row[3] += overdue
        row[4] += o_open
        row[5] += o_overdue
        row[6] += esc
        if mode != "normal":
            row[7] = mode
        for cid in late:
            row[8] += 1
            self.supervision.append((t, d, cid))
            if t >= self.warm:
                self.supervised_by_district[d] += 1
            out.append(Handover(t + self.lookahead, sender, SUPERVISE, (cid,)))

    def finish(self) -> CitySim:
        return self

    def dashboard(self, names: Sequence[str]) -> dict[str, list[Any]]:
        """The operations centre's series: one row per report time and district."""
        rows = [self._rows[k] for k in sorted(self._rows)]
        return {
            "t_min": [r[0] for r in rows],
            "district": [names[r[1]] for r in rows],
            "open_cases": [r[2] for r in rows],
            "overdue_cases": [r[3] for r in rows],
            "orders_open": [r[4] for r in rows],
            "orders_overdue": [r[5] for r in rows],
            "escalations": [r[6] for r in rows],
            "mode": [r[7] for r in rows],
            "supervised": [r[8] for r in rows],
        }
