"""Incident processes: each day's arrivals at the platform, generated in vectorised batches.

Sources, in one batch per day: needs reported by residents (app / 12345 hotline), latent
needs found by patrols and household visits or reported by riders, and device alerts.
Rates can be changed over time per category and grid through *rate modifiers* (surges in
the scenario; the mode controller adds its own), which is the hook emergencies use.
Every incident also carries its pre-drawn handling attributes (level able to resolve it,
tier, efforts per level …) so that handling draws no random numbers of its own and the
stream is identical whatever happens downstream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields

import numpy as np

from agents.devices import DeviceGroups
from agents.grid_workers import GridWorkers
from agents.residents import Residents
from agents.riders import RiderFleet
from twin.scenario import LEVELS, Scenario
from twin.sim.calendar import WorkCalendar
from twin.sim.territory import Territory

#: Channel codes in the stream (names match twin.engine.Source values).
CHANNELS: tuple[str, ...] = ("app", "hotline", "patrol", "device", "rider")
APP, HOTLINE, PATROL, DEVICE, RIDER = range(5)
TIER_NAMES: tuple[str, ...] = ("T0", "T1", "T2", "T3")

RateModifier = Callable[[int], np.ndarray]
"""day → (grids × categories) multiplier on the needs' arrival rates."""


@dataclass
class DayBatch:
    """Incidents reaching the platform, as parallel arrays sorted by time."""

    time: np.ndarray  # taken in by the platform (the engine's report time)
    raised: np.ndarray  # raised by the resident / found / alerted
    grid: np.ndarray
    category: np.ndarray
    tier: np.ndarray
    channel: np.ndarray
    need: np.ndarray  # lowest level able to resolve it
    false_alarm: np.ndarray
    reporter: np.ndarray  # household, rider or -1
    # pre-drawn handling attributes
    effort: np.ndarray  # (n, 4) minutes per level
    lead: np.ndarray  # (n, 4) elapsed minutes after the effort, per level
    travel: np.ndarray
    assess: np.ndarray
    triage: np.ndarray  # (n, 2) street, district
    verify: np.ndarray
    u_spot: np.ndarray
    u_claim: np.ndarray
    u_eval: np.ndarray
    u_sat: np.ndarray
    u_routine: np.ndarray  # where in a stretch of routine work the case finds its grid worker
    u_rule: np.ndarray  # extension approved, wrong dispatch (time rules)
    service_hours: np.ndarray
    order: np.ndarray  # 12345 work order kind (index into hotline.order_types), -1: not an order
    prop: np.ndarray  # a property matter in a managed compound: the property company hears of it first
    u_prop: np.ndarray  # the property company settles it (below property.settle_share)

    def __len__(self) -> int:
        return int(self.time.size)

    def take(self, idx: np.ndarray) -> DayBatch:
        return DayBatch(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    @staticmethod
    def concat(a: DayBatch, b: DayBatch) -> DayBatch:
        return DayBatch(**{f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(a)})


class IncidentSource:
    """Generates each day's batch; keeps the pool of latent (unreported) needs."""

    def __init__(
        self,
        sc: Scenario,
        terr: Territory,
        residents: Residents,
        workers: GridWorkers,
        riders: RiderFleet,
        devices: DeviceGroups,
        rngs: dict[str, np.random.Generator],
        start_weekday: int,
        rider_calendar: WorkCalendar,
        intake_calendar: WorkCalendar,
    ) -> None:
        self.intake = intake_calendar
        self.sc = sc
        self.terr = terr
        self.residents = residents
        self.workers = workers
        self.riders = riders
        self.devices = devices
        self.rng_needs = rngs["patrol"]
        self.rng_attr = rngs["handling"]
        self.rng_riders = rngs["riders"]
        self.start_weekday = start_weekday
        self.rider_calendar = rider_calendar
        self.names = list(sc.categories)
        cats = list(sc.categories.values())
        self.level_mix = np.array([c.level_mix.array() for c in cats])  # (C, 4)
        self.level_cdf = np.cumsum(self.level_mix, axis=1)
        # the matter list: a matter's tier follows from its category and the level able to settle it
        self.matter_tier = np.array(
            [[TIER_NAMES.index(t) for t in (c.tiers or sc.policy.matter_tiers).names()] for c in cats], dtype=np.int64
        )  # (C, 4)
        self.emergency = np.array([c.emergency_share for c in cats])
        self.effort_scale = np.array([c.effort_scale for c in cats])
        self.handling = [
            [getattr(c.handling, lv) or getattr(sc.policy.handling, lv) for lv in LEVELS] for c in cats
        ]
        self.lead = [getattr(sc.policy.lead_hours, lv) for lv in LEVELS]
        self.decay = sc.channels.latent_decay_per_day
        self.latent = np.zeros((terr.n_grids, len(cats)), dtype=np.int64)
        self.modifiers: list[RateModifier] = []
        self.own: np.ndarray | None = None  # grids this partition simulates (None: all)
        hl = sc.hotline
        self.order_cdf = np.cumsum([t.share for t in hl.order_types.values()]) if hl.work_orders else None
        self.managed: np.ndarray | None = None  # grids that are compounds with a property company (set by the model)
        self.prop_share = np.array([sc.property_management.matters.get(n, 0.0) for n in self.names])
        self.elder_cat = self.names.index(sc.devices.elder_category) if sc.devices.elder_category in self.names else 0
        self.facility_cat = self.names.index(sc.devices.facility_category) if sc.devices.facility_category in self.names else 0
        self.unreported_lost = 0
        self.needs_total = 0
        if sc.surges:
            self.modifiers.append(self._surges)

    # ------------------------------------------------------------------ rates
    def add_rate_modifier(self, fn: RateModifier) -> None:
        """Multiply the needs' rates by ``fn(day)`` (grids × categories) from now on."""
        self.modifiers.append(fn)

    def _surges(self, day: int) -> np.ndarray:
        m = np.ones((self.terr.n_grids, len(self.names)))
        for s in self.sc.surges:
            overlap = max(0.0, min(day + 1.0, s.end_day) - max(float(day), s.start_day))
            if overlap <= 0:
                continue
            factor = 1.0 + (s.multiplier - 1.0) * overlap
            rows = np.ones(self.terr.n_grids, dtype=bool) if s.streets is None else np.isin(self.terr.grid_street, s.streets)
            m[rows, self.names.index(s.category)] *= factor
        return m

    def multiplier(self, day: int) -> np.ndarray:
        m = np.ones((self.terr.n_grids, len(self.names)))
        for fn in self.modifiers:
            m = m * fn(day)
        return m

    # ------------------------------------------------------------------ the day
    def day(self, day: int) -> DayBatch:
        weekday = (self.start_weekday + day) % 7
        month = (np.datetime64(self.sc.run.start_date) + np.timedelta64(day, "D")).astype("datetime64[M]").astype(int) % 12
        needs = self.residents.needs(day, weekday, int(month), self.terr.residents, self.multiplier(day))
        self.needs_total += int(needs.time.size)
        choice = self.residents.report_choice(needs)
        rep = choice > 0
        delay = self.sc.channels.report_delay_minutes.sample(self.rng_needs, int(rep.sum()))
        parts = [
            dict(
                time=needs.time[rep] + delay,
                grid=needs.grid[rep],
                category=needs.category[rep],
                channel=np.where(choice[rep] == 1, APP, HOTLINE),
                reporter=needs.household[rep],
                kind=np.full(int(rep.sum()), -1),
            )
        ]
        # latent needs: riders and patrols find some of yesterday's pool; the rest decays
        rng = self.rng_needs
        lat = self.latent
        decayed = rng.binomial(lat, self.decay)
        lat -= decayed
        self.unreported_lost += int(decayed.sum())
        found_r = rng.binomial(lat, self.riders.report_prob())
        lat -= found_r
        found_p = rng.binomial(lat, self.workers.discovery_prob(day))
        lat -= found_p
        for found, channel, cal in ((found_p, PATROL, self.workers.calendar), (found_r, RIDER, self.rider_calendar)):
            flat = found.ravel()
            idx = np.repeat(np.arange(flat.size), flat)
            g, c = np.divmod(idx, lat.shape[1])
            t = cal.sample_in_windows(rng, day, idx.size)
            if t.size != idx.size:  # nobody on duty today: found tomorrow
                np.add.at(lat, (g, c), 1)
                continue
            who = self.riders.credit(self.rng_riders, g, c) if channel == RIDER else np.full(idx.size, -1)
            parts.append(dict(time=t, grid=g, category=c, channel=np.full(idx.size, channel), reporter=who, kind=np.full(idx.size, -1)))
        # today's unreported needs join the pool
        unrep = ~rep
        np.add.at(lat, (needs.grid[unrep], needs.category[unrep]), 1)
        # device alerts
        al = self.devices.alerts(day)
        if self.own is not None:
            keep = self.own[al.grid]
            al = type(al)(al.time[keep], al.grid[keep], al.kind[keep])
        cat = np.where(al.kind >= 4, self.facility_cat, self.elder_cat)
        parts.append(dict(time=al.time, grid=al.grid, category=cat, channel=np.full(al.time.size, DEVICE), reporter=np.full(al.time.size, -1), kind=al.kind))
        cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return self._attributes(cols)

    def _attributes(self, cols: dict[str, np.ndarray]) -> DayBatch:
        rng = self.rng_attr
        n = cols["time"].size
        cat = cols["category"].astype(np.int64)
        kind = cols["kind"]
        need = (rng.random(n)[:, None] > self.level_cdf[cat]).sum(axis=1)
        need = np.minimum(need, 3)
        tier = self.matter_tier[cat, need]
        tier = np.where(rng.random(n) < self.emergency[cat], 0, tier)
        # devices: elders' alerts are emergencies handled on site; sensor faults are time-consuming matters
        tier = np.where((kind >= 0) & (kind <= 3), 0, np.where(kind >= 4, 2, tier))
        need = np.where((kind >= 0) & (kind <= 3), 0, need)
        effort = np.empty((n, 4))
        for lv in range(4):
            col = np.empty(n)
            for ci in range(len(self.names)):
                sel = cat == ci
                k = int(sel.sum())
                if k:
                    col[sel] = self.handling[ci][lv].sample(rng, k) * self.effort_scale[ci]
            effort[:, lv] = col
        lead = np.zeros((n, 4))
        for lv, d in enumerate(self.lead):
            if d is not None:
                lead[:, lv] = d.sample(rng, n) * 60.0
        p = self.sc.policy
        raised = cols["time"]  # for 12345 work orders, replaced by the centre's dispatch (see _work_orders)
        intake = np.where(kind < 0, self.intake.next_open(raised), raised)
        batch = DayBatch(
            time=intake,
            raised=raised,
            grid=cols["grid"].astype(np.int64),
            category=cat,
            tier=tier.astype(np.int64),
            channel=cols["channel"].astype(np.int64),
            need=need.astype(np.int64),
            false_alarm=(kind == 1) | (kind == 3) | (kind == 5),
            reporter=cols["reporter"].astype(np.int64),
            effort=effort,
            lead=lead,
            travel=self.sc.staffing.travel_minutes.sample(rng, n),
            assess=p.assess_minutes.sample(rng, n),
            triage=np.stack([p.triage_minutes.sample(rng, n), p.triage_minutes.sample(rng, n)], axis=1),
            verify=p.verification_delay_hours.sample(rng, n) * 60.0,
            u_spot=rng.random(n),
            u_claim=rng.random(n),
            u_eval=rng.random(n),
            u_sat=rng.random(n),
            u_routine=rng.random(n),
            u_rule=rng.random(n),
            service_hours=self.sc.party_members.service_hours.sample(rng, n),
            order=np.full(n, -1, dtype=np.int64),
            prop=np.zeros(n, dtype=bool),
            u_prop=np.ones(n),
        )
        self._property(batch, rng)
        self._work_orders(batch, rng)
        return batch.take(np.argsort(batch.time, kind="stable"))

    def _work_orders(self, b: DayBatch, rng: np.random.Generator) -> None:
        """Make today's hotline contacts 12345 work orders: the centre answers round
        the clock, an operator triages the call and the order goes down to the street (natural
        time), so the platform receives it then — not in the grid's intake windows. Emergencies
        go to the on-call worker as before (12345 hands them to 110/120). Draws come after every
        other attribute, so turning orders off leaves the rest of the stream as it was."""
        if self.order_cdf is None:
            return
        sel = np.flatnonzero((b.channel == HOTLINE) & (b.tier > 0) & ~b.prop)
        k = sel.size
        hl = self.sc.hotline
        u = rng.random(k)
        delay = hl.operator_minutes.sample(rng, k) + hl.forward_hours.sample(rng, k) * 60.0
        b.order[sel] = np.minimum(np.searchsorted(self.order_cdf, u, side="right"), self.order_cdf.size - 1)
        b.time[sel] = b.raised[sel] + delay

    def _property(self, b: DayBatch, rng: np.random.Generator) -> None:
        """Mark the property matters of managed compounds: residents' reports (app, or
        a phone call — to the property desk rather than 12345) and the compound's facility
        sensors about its common parts reach the property company first; patrol finds stay
        with the grid worker; emergencies go to the on-call worker. No draws without a
        property actor."""
        if self.managed is None or not self.managed.any():
            return
        n = len(b)
        u = rng.random(n)
        b.u_prop[:] = rng.random(n)
        ch = b.channel
        b.prop[:] = self.managed[b.grid] & (b.tier > 0) & (ch != PATROL) & (ch != RIDER) & (u < self.prop_share[b.category])
